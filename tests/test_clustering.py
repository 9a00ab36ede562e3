"""Soft assignment by hand, cosine (not Euclidean) nearest prototypes, and the elbow pick."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from sklearn.cluster import KMeans

from cae.errors import CaeError
from cae.infra.runtime import to_float
from cae.method.clustering import (
    elbow_k,
    elbow_visualizer,
    kmeans_clusters,
    kmeans_elbow,
    nearest_prototype,
    normalised_elbow,
    soft_assign,
    unit_rows,
)

PROTOTYPES = torch.tensor([[1.0, 0.0], [0.0, 1.0]])


def test_soft_assign_by_hand():
    s = soft_assign(torch.tensor([[1.0, 0.0]]), PROTOTYPES, temperature=0.5)
    # cosines [1, 0] / 0.5 = [2, 0]; softmax = [e^2, 1] / (e^2 + 1)
    e2 = math.exp(2)
    torch.testing.assert_close(s, torch.tensor([[e2 / (e2 + 1), 1 / (e2 + 1)]]))


def test_soft_assign_rows_sum_to_one_and_ignore_scale():
    g = torch.Generator().manual_seed(0)
    h, prototypes = torch.randn(6, 4, generator=g), torch.randn(3, 4, generator=g)
    s = soft_assign(h, prototypes, 0.1)
    assert s.shape == (6, 3)
    torch.testing.assert_close(s.sum(dim=1), torch.ones(6))
    row_scales = torch.tensor([[2.0], [0.1], [5.0], [1.0], [30.0], [0.5]])
    torch.testing.assert_close(soft_assign(row_scales * h, 4.0 * prototypes, 0.1), s)


def test_soft_assign_sharpens_as_temperature_falls():
    h = torch.tensor([[1.0, 0.5]])
    assert soft_assign(h, PROTOTYPES, 0.05)[0, 0] > soft_assign(h, PROTOTYPES, 1.0)[0, 0] > 0.5


def test_nearest_prototype_is_by_cosine_not_euclidean():
    prototypes = torch.tensor([[10.0, 0.0], [0.0, 0.1]])
    h = torch.tensor([[1.0, 0.5], [0.0, 3.0]])
    # (1, 0.5) is 1.0 from (0, 0.1) but 9.0 from (10, 0); its angle is nearer (10, 0)
    assert torch.cdist(h, prototypes)[0].argmin() == 1
    assert nearest_prototype(h, prototypes).tolist() == [0, 1]


def test_elbow_k_picks_the_knee():
    assert elbow_k([2, 3, 4, 5, 6, 7], [100, 20, 15, 12, 10, 9]) == 3
    assert elbow_k([1, 2, 3, 4, 5, 6], [100, 20, 15, 12, 10, 9]) == 2
    assert elbow_k([4, 5], [10.0, 5.0]) == 4  # too few points for a knee: smallest k


def test_elbow_k_on_rising_scores_and_without_a_knee():
    # calinski_harabasz and silhouette rise to a knee (yellowbrick: concave, increasing)
    assert elbow_k([2, 3, 4, 5, 6, 7], [10, 80, 90, 94, 96, 97], "calinski_harabasz") == 3
    assert elbow_k([2, 3, 4, 5, 6, 7], [0.2, 0.3, 0.7, 0.72, 0.73, 0.735], "silhouette") == 4
    # a straight line has no knee: distortion falls back to the smallest k, scores to the best
    assert elbow_k([2, 3, 4, 5], [4.0, 3.0, 2.0, 1.0], "distortion") == 2
    assert elbow_k([2, 3, 4, 5], [1.0, 2.0, 3.0, 4.0], "silhouette") == 5
    assert elbow_k([2, 3], [0.5, 0.4], "silhouette") == 2


@pytest.mark.parametrize("metric", ["distortion", "calinski_harabasz", "silhouette"])
def test_yellowbrick_visualizer_runs_with_this_scikit_learn_and_agrees_with_elbow_k(metric):
    x, _ = three_blobs()
    result = kmeans_elbow(x, k_min=2, k_max=7, seed=0, n_init=2, metric=metric)
    assert result.k == 3 and result.metric == metric and len(result.scores) == 6
    visualizer = elbow_visualizer(metric, result.ks, seed=0, n_init=2, ax=Figure().subplots())
    visualizer.fit(x)  # on its own axes: without one, yellowbrick opens a pyplot figure
    assert visualizer.elbow_value_ == result.k
    np.testing.assert_allclose(visualizer.k_scores_, result.scores)


def test_elbow_visualizer_refuses_unknown_metric():
    with pytest.raises(CaeError, match="elbow_metric"):
        elbow_visualizer("inertia", [2, 3, 4])


def test_kmeans_clusters_assigns_eval_rows_by_cosine():
    x, truth = three_blobs()
    x = x + np.array([20.0, 20.0])  # blobs at distinct angles from the origin
    train, evals = kmeans_clusters(torch.from_numpy(x), {"val": torch.from_numpy(3 * x[:10])}, k=3,
                                   seed=0, n_init=2)
    assert all(len(set(train[truth == c])) == 1 for c in range(3))
    np.testing.assert_array_equal(evals["val"], train[:10])  # scale does not move a cosine


def three_blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = np.repeat(np.arange(3), 30)
    return centres[labels] + 0.3 * rng.standard_normal((90, 2)), labels


def test_kmeans_elbow_finds_three_blobs_deterministically():
    x, truth = three_blobs()
    result = kmeans_elbow(x, k_min=2, k_max=6, seed=0, n_init=2)
    assert result.k == 3 and result.ks == [2, 3, 4, 5, 6]
    assert all(a > b for a, b in zip(result.inertias, result.inertias[1:]))
    assert result.centroids.shape == (3, 2) and result.centroids.dtype == np.float32
    # each blob is one cluster and each centroid sits on a blob centre
    assert all(len(set(result.labels[truth == c])) == 1 for c in range(3))
    assert len(set(result.labels.tolist())) == 3
    nearest = np.round(result.centroids / 10).astype(int)
    assert sorted(map(tuple, nearest)) == [(0, 0), (0, 1), (1, 0)]

    again = kmeans_elbow(x, k_min=2, k_max=6, seed=0, n_init=2)
    np.testing.assert_array_equal(again.labels, result.labels)
    np.testing.assert_array_equal(again.centroids, result.centroids)
    assert again.inertias == result.inertias


def test_kmeans_elbow_caps_k_at_samples_minus_one():
    x, _ = three_blobs()
    result = kmeans_elbow(x[:5], k_min=2, k_max=10, seed=0, n_init=1)
    assert result.ks == [2, 3, 4]


@pytest.mark.parametrize("k", [2, 3])
def test_kmeans_elbow_single_k(k):
    x, _ = three_blobs()
    result = kmeans_elbow(x, k_min=k, k_max=k, seed=0, n_init=1)
    assert result.k == k and result.ks == [k] and result.centroids.shape == (k, 2)


def test_normalised_elbow_ignores_row_scale():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(np.concatenate([rng.normal(c, 0.1, (30, 3)) for c in np.eye(3)])).float()
    scaled = normalised_elbow(x * torch.linspace(1, 9, 90)[:, None], 2, 5, seed=0, n_init=2)
    plain = normalised_elbow(x, 2, 5, seed=0, n_init=2)
    assert scaled.k == plain.k == 3
    np.testing.assert_allclose(scaled.centroids, plain.centroids, atol=1e-6)


def test_unit_rows_equal_the_full_size_normalisation_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    vectors = torch.randn(1000, 7, generator=g)
    expected = F.normalize(vectors, dim=1).double().numpy()
    assert np.array_equal(unit_rows(vectors, chunk=64), expected)
    images = torch.randint(0, 256, (300, 1, 4, 4), generator=g, dtype=torch.uint8)
    pixels = F.normalize(to_float(images, False).flatten(1), dim=1).double().numpy()
    assert np.array_equal(unit_rows(images, chunk=64), pixels)


def test_kmeans_clusters_centring_in_place_gives_the_copying_fit():
    h = torch.randn(500, 5, generator=torch.Generator().manual_seed(1))
    fits = [KMeans(n_clusters=4, n_init=3, random_state=0, copy_x=copy).fit(unit_rows(h))
            for copy in (True, False)]
    assert np.array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    train, _ = kmeans_clusters(h, {}, 4, seed=0, n_init=3)
    centroids = torch.from_numpy(fits[0].cluster_centers_).float()
    assert np.array_equal(train, nearest_prototype(h, centroids).numpy())


@pytest.mark.parametrize("metric", ["distortion", "calinski_harabasz", "silhouette"])
def test_normalised_elbow_fitting_in_place_equals_the_copying_elbow(metric):
    # scikit-learn's un-centring does not restore these rows exactly (the test below):
    # the refill must, or each later k would fit other rows
    vectors = skewed_vectors()
    copying = kmeans_elbow(unit_rows(vectors), 2, 6, seed=0, n_init=2, metric=metric)
    in_place = normalised_elbow(vectors, 2, 6, seed=0, n_init=2, metric=metric)
    assert in_place.scores == copying.scores and in_place.inertias == copying.inertias
    assert in_place.k == copying.k
    assert np.array_equal(in_place.labels, copying.labels)
    assert np.array_equal(in_place.centroids, copying.centroids)


def skewed_vectors() -> torch.Tensor:
    """Rows with many small entries: subtracting and adding back a column mean of a much
    larger size does not give all of them back exactly."""
    return torch.rand(400, 6, generator=torch.Generator().manual_seed(0)) ** 6


def test_the_in_place_elbow_scores_and_fits_every_k_on_the_exact_rows():
    vectors = skewed_vectors()
    rows, calls = unit_rows(vectors), []
    exact = rows.copy()
    fitted = rows.copy()
    KMeans(n_clusters=3, n_init=1, random_state=0, copy_x=False).fit(fitted)
    assert not np.array_equal(fitted, exact)  # centring in place alone is inexact

    def refill(out):
        calls.append(out is rows)
        unit_rows(vectors, out=out)

    kmeans_elbow(rows, 2, 6, seed=0, n_init=2, refill=refill)
    assert calls == [True] * 5  # after each k's fit, before its score and the next fit
    assert np.array_equal(rows, exact)


def test_kmeans_clusters_reads_uint8_images_as_their_pixels():
    images = torch.randint(0, 256, (300, 1, 4, 4), generator=torch.Generator().manual_seed(3),
                           dtype=torch.uint8)
    pixels = to_float(images, False).flatten(1)
    from_images = kmeans_clusters(images, {"val": images[:50]}, 3, seed=0, n_init=2)
    from_pixels = kmeans_clusters(pixels, {"val": pixels[:50]}, 3, seed=0, n_init=2)
    assert np.array_equal(from_images[0], from_pixels[0])
    assert np.array_equal(from_images[1]["val"], from_pixels[1]["val"])
