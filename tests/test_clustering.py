"""Soft assignment by hand, cosine (not Euclidean) nearest prototypes, and the elbow pick."""

import math

import numpy as np
import pytest
import torch

from cae.clustering import elbow_k, kmeans_elbow, nearest_prototype, soft_assign

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
