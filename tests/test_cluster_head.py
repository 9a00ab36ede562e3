"""The clustering head: SCAN's loss by hand, exact neighbours, and both methods on separated blobs."""

import math

import numpy as np
import pytest
import torch

from cae.config import make_config
from cae.evaluation.protocols import hungarian_protocol
from cae.method.cluster_head import (
    HeadSettings,
    fit_mixture,
    head_clusters,
    nearest_neighbours,
    scan_loss,
)


def test_scan_loss_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    neighbour_logits = torch.log(torch.tensor([[1.0, 1e-12], [0.2, 0.8]]))
    total, consistency, entropy = scan_loss(logits, neighbour_logits, entropy_weight=2.0)
    # <p, q> = 0.5 and 0.9*0.2 + 0.1*0.8 = 0.26; mean p = (0.7, 0.3)
    expected_consistency = -(math.log(0.5) + math.log(0.26)) / 2
    expected_entropy = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))
    assert consistency.item() == pytest.approx(expected_consistency, rel=1e-5)
    assert entropy.item() == pytest.approx(expected_entropy, rel=1e-5)
    assert total.item() == pytest.approx(expected_consistency - 2 * expected_entropy, rel=1e-5)


def test_scan_loss_is_lowest_for_confident_agreeing_balanced_clusters():
    confident = torch.tensor([[20.0, 0.0], [0.0, 20.0]])
    total, consistency, entropy = scan_loss(confident, confident, entropy_weight=1.0)
    assert consistency.item() == pytest.approx(0.0, abs=1e-6)
    assert entropy.item() == pytest.approx(math.log(2), rel=1e-6)
    assert scan_loss(confident, confident.flip(0), 1.0)[0] > total


def test_nearest_neighbours_by_cosine_without_self():
    angles = torch.deg2rad(torch.tensor([0.0, 10.0, 25.0, 90.0, 100.0]))
    x = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1) * torch.tensor([[1.0], [5.0], [0.2], [1.0], [3.0]])
    np.testing.assert_array_equal(nearest_neighbours(x, k=2, chunk_size=2).numpy(),
                                  [[1, 2], [0, 2], [1, 0], [4, 2], [3, 2]])


def blobs(n_per: int = 100, k: int = 4, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = 5 * rng.standard_normal((k, dim))
    labels = np.repeat(np.arange(k), n_per)
    x = centres[labels] + 0.3 * rng.standard_normal((len(labels), dim))
    return torch.from_numpy(x).float(), labels


@pytest.mark.parametrize("method", ["scan", "n2d"])
def test_head_recovers_separated_blobs_exactly(method):
    x, y = blobs()
    settings = HeadSettings(method=method, neighbours=10, epochs=30, restarts=2, self_label_epochs=2)
    train, evals = head_clusters(x[::2], {"val": x[1::2]}, n_clusters=4, seed=0, settings=settings)
    pred = hungarian_protocol(train, y[::2], evals["val"], n_classes=4)
    np.testing.assert_array_equal(pred.y_pred, y[1::2])
    again = head_clusters(x[::2], {"val": x[1::2]}, n_clusters=4, seed=0, settings=settings)
    np.testing.assert_array_equal(again[1]["val"], evals["val"])


def test_head_settings_come_from_the_config():
    cfg = make_config("smoke", head_method="n2d", head_neighbours="7", head_restarts=3)
    assert HeadSettings.of(cfg) == HeadSettings("n2d", 7, cfg.head_epochs, cfg.head_entropy_weight,
                                                3, cfg.head_self_label_epochs)


def test_mixture_fit_survives_a_cluster_stacked_on_a_line():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(2)
    far = rng.normal(0, 1, (1, 10)).astype(np.float32) * 1e4
    line = far + rng.normal(0, 1, (80, 1)).astype(np.float32) * np.ones((1, 10), np.float32)
    points = np.concatenate([line, rng.normal(0, 1, (80, 10)).astype(np.float32)])
    with pytest.raises(ValueError):  # sklearn's own fit refuses these points
        GaussianMixture(4, covariance_type="full", random_state=0).fit(points)
    labels = fit_mixture(points, 4, seed=0, restarts=1).predict(points)
    assert len(set(labels[:80]) & set(labels[80:])) == 0  # the line and the blob stay apart
