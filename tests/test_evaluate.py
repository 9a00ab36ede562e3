"""The evaluation protocols and metrics on hand-made latent spaces with known answers."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, precision_score

from cae.evaluation.protocols import (
    Prediction,
    bootstrap_bounds,
    classification_metrics,
    cluster_composition,
    cluster_metrics,
    hungarian_protocol,
    knn_protocol,
    linear_probe,
    majority_mapping,
    mapping_ceiling,
    mapping_protocol,
    metrics_table,
    train_linear_head,
)


def test_mapping_majority_label_empty_cluster_and_cosine():
    prototypes = torch.tensor([[10.0, 0.0], [0.0, 0.1], [-1.0, -1.0]])
    train_h = torch.tensor([[1.0, 0.1]] * 5 + [[0.1, 2.0]] * 2)
    train_y = torch.tensor([0, 0, 0, 0, 1, 1, 1])  # cluster 0: 4x0 + 1x1; cluster 1: 2x1; cluster 2 empty
    # (1, 0.5) is nearer (0, 0.1) in Euclidean distance but nearer (10, 0) in cosine
    eval_h = torch.tensor([[1.0, 0.5], [0.0, 3.0], [-2.0, -1.0]])
    pred = mapping_protocol(train_h, train_y, eval_h, prototypes, n_classes=2)
    np.testing.assert_array_equal(pred.clusters, [0, 1, 2])
    np.testing.assert_array_equal(pred.y_pred, [0, 1, 0])  # the empty cluster takes the overall majority
    np.testing.assert_allclose(pred.scores, [[0.8, 0.2], [0.0, 1.0], [4 / 7, 3 / 7]])


def test_mapping_ceiling_is_the_share_of_the_k_most_frequent_classes():
    assert mapping_ceiling([2, 5, 3], 1) == 0.5
    assert mapping_ceiling([2, 5, 3], 2) == 0.8
    assert mapping_ceiling(np.array([2, 5, 3]), 7) == 1.0
    with pytest.raises(ValueError):
        mapping_ceiling([0, 0], 2)


def test_majority_mapping_never_beats_the_ceiling_of_its_cluster_count():
    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 6):
        train_y, eval_y = rng.integers(0, 6, 400), rng.integers(0, 6, 300)
        # clusters as pure as k allows (classes k-1.. share the last), so (a) comes near its cap
        train_clusters, eval_clusters = np.minimum(train_y, k - 1), np.minimum(eval_y, k - 1)
        pred = majority_mapping(train_clusters, train_y, eval_clusters, k, 6)
        accuracy = float((pred.y_pred == eval_y).mean())
        assert accuracy <= mapping_ceiling(np.bincount(eval_y, minlength=6), k) + 1e-12


def test_hungarian_is_one_to_one_where_majority_mapping_is_not():
    # train: cluster 0 holds 3x class 0; cluster 1 holds 2x class 0 + 1x class 1; cluster 2 holds 2x class 2
    train_clusters = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    train_y = torch.tensor([0, 0, 0, 0, 0, 1, 2, 2])
    eval_clusters = np.array([0, 1, 2, 1])
    # majority: clusters 0 and 1 both map to class 0; Hungarian must give cluster 1 class 1
    np.testing.assert_array_equal(
        majority_mapping(train_clusters, train_y, eval_clusters, 3, 3).y_pred, [0, 0, 2, 0])
    pred = hungarian_protocol(train_clusters, train_y, eval_clusters, n_classes=3)
    np.testing.assert_array_equal(pred.y_pred, [0, 1, 2, 1])
    np.testing.assert_array_equal(pred.scores, np.eye(3)[[0, 1, 2, 1]])
    assert pred.n_clusters == 3 and pred.clusters.tolist() == [0, 1, 2, 1]
    # agreement with train labels of this match: 3 + 1 + 2 = 6 of 8; any other match agrees less
    assert (hungarian_protocol(train_clusters, train_y, train_clusters, 3).y_pred
            == train_y.numpy()).sum() == 6


def test_hungarian_recovers_permuted_labels_exactly():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    permutation = np.array([3, 0, 4, 1, 2])
    pred = hungarian_protocol(permutation[y], y, permutation[y], n_classes=5)
    np.testing.assert_array_equal(pred.y_pred, y)


def test_cluster_composition_counts_classes_per_cluster():
    counts = cluster_composition(np.array([0, 0, 2, 2, 2]), torch.tensor([1, 1, 0, 1, 1]),
                                 n_clusters=3, n_classes=2)
    np.testing.assert_array_equal(counts, [[0, 2], [0, 0], [1, 2]])


def _on_circle(degrees, radius=1.0):
    angles = torch.deg2rad(torch.tensor(degrees, dtype=torch.float32))
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def test_knn_votes_and_tie_goes_to_nearest_label():
    # neighbours of the query at 0 degrees, nearest first: labels 1, 0, 0, 1, 2 -> 0 and 1 tie
    norms = torch.tensor([[3.0], [0.5], [2.0], [1], [7], [1], [1], [1]])  # only directions matter
    bank = _on_circle([4, 2, 1, 3, 5, 90, 100, 180]) * norms
    bank_y = torch.tensor([1, 0, 1, 0, 2, 0, 0, 0])
    query = _on_circle([0, 93])
    pred = knn_protocol(bank, bank_y, query, n_classes=3, k=5)
    np.testing.assert_array_equal(pred.y_pred, [1, 0])
    np.testing.assert_allclose(pred.scores, [[0.4, 0.4, 0.2], [0.6, 0.2, 0.2]])
    chunked = knn_protocol(bank, bank_y, query, n_classes=3, k=5, chunk_size=1)
    np.testing.assert_array_equal(chunked.y_pred, pred.y_pred)
    np.testing.assert_array_equal(knn_protocol(bank, bank_y, query, 3, k=1).y_pred, [1, 0])


def _separable(n, seed):
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 4, generator=generator) * 0.3
    x[:, 0] += 2.0 * (2 * y - 1)
    return x * 50 + 100, y  # far from standardized, to exercise the probe's scaling


def test_linear_probe_separates_and_is_deterministic():
    x, y = _separable(200, seed=0)
    x_test, y_test = _separable(100, seed=1)
    args = dict(n_classes=2, fraction=0.5, epochs=10, lr=0.1, batch_size=25)
    preds = linear_probe(x, y, {"train": x, "test": x_test}, seed=0, **args)
    assert (preds["test"].y_pred == y_test.numpy()).all()
    assert (preds["train"].y_pred == y.numpy()).all()
    np.testing.assert_allclose(preds["test"].scores.sum(1), 1.0)
    again = linear_probe(x, y, {"test": x_test}, seed=0, **args)
    np.testing.assert_array_equal(again["test"].scores, preds["test"].scores)
    other = linear_probe(x, y, {"test": x_test}, seed=1, **args)
    assert not np.array_equal(other["test"].scores, preds["test"].scores)


def test_standardisation_is_folded_into_the_head():
    x, y = _separable(64, seed=0)
    args = dict(n_classes=2, epochs=3, lr=0.01, batch_size=16, seed=3)
    folded = train_linear_head(x, y, standardize=True, **args)
    x_std = (x - x.mean(0)) / x.std(0, correction=0)
    plain = train_linear_head(x_std, y, standardize=False, **args)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), plain(x_std), rtol=1e-4, atol=1e-4)


def _binary_prediction():
    y_true = np.array([0, 0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 1, 1, 0])
    p1 = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.4])
    return y_true, Prediction(y_pred=y_pred, scores=np.stack([1 - p1, p1], axis=1))


def test_binary_metrics_by_hand():
    y_true, pred = _binary_prediction()
    metrics = classification_metrics(y_true, pred, n_classes=2)
    expected = {
        "accuracy": 4 / 6,
        "precision_macro": (3 / 4 + 1 / 2) / 2, "recall_macro": (3 / 4 + 1 / 2) / 2,
        "precision_weighted": (4 * 3 / 4 + 2 * 1 / 2) / 6, "recall_weighted": 4 / 6,
        "precision_pos": 1 / 2, "recall_pos": 1 / 2,
        "auc": 7 / 8,  # positive 0.9 beats all 4 negatives, 0.4 beats 3 of them
    }
    assert {k: metrics[k] for k in expected} == pytest.approx(expected)
    assert {k: metrics[k] for k in metrics if k not in expected} == bootstrap_bounds(
        y_true, pred.y_pred, 2)
    assert metrics["precision_macro"] != pytest.approx(metrics["precision_weighted"])


def test_auc_is_nan_when_a_class_is_absent():
    pred = Prediction(y_pred=np.array([0, 1]), scores=np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert math.isnan(classification_metrics(np.array([0, 0]), pred, n_classes=2)["auc"])
    three = Prediction(y_pred=np.array([0, 1]), scores=np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]]))
    metrics = classification_metrics(np.array([0, 1]), three, n_classes=3)
    assert math.isnan(metrics["auc"]) and "precision_pos" not in metrics


def test_multiclass_auc_is_one_vs_rest():
    y_true = np.array([0, 1, 2, 2])
    scores = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    metrics = classification_metrics(y_true, Prediction(scores.argmax(1), scores), n_classes=3)
    # class 0 vs rest: 0.7 beats 0.2, 0.5, 0.1 -> 1; class 1: 0.7 beats all -> 1;
    # class 2: positives 0.4, 0.8 against negatives 0.1, 0.1 -> 1
    assert metrics["auc"] == pytest.approx(1.0)
    assert metrics["accuracy"] == pytest.approx(3 / 4)


def test_cluster_metrics():
    assert cluster_metrics(np.array([0, 0, 1, 1]), np.array([5, 5, 2, 2])) == pytest.approx(
        {"nmi": 1.0, "ari": 1.0})
    # independent split: contingency all ones, ARI = (0 - 2/3) / (2 - 2/3)
    assert cluster_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) == pytest.approx(
        {"nmi": 0.0, "ari": -0.5})


def test_bootstrap_bounds_match_a_loop_over_the_same_resamples():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
    y_pred[:30] = y_true[:30]
    bounds = bootstrap_bounds(y_true, y_pred, 3, n=200, seed=4)
    index = np.random.default_rng(4).integers(0, 60, size=(200, 60))
    acc = [accuracy_score(y_true[i], y_pred[i]) for i in index]
    prec = [precision_score(y_true[i], y_pred[i], labels=[0, 1, 2], average="weighted",
                            zero_division=0) for i in index]
    assert bounds == pytest.approx({
        "accuracy_lo": np.percentile(acc, 2.5), "accuracy_hi": np.percentile(acc, 97.5),
        "precision_weighted_lo": np.percentile(prec, 2.5),
        "precision_weighted_hi": np.percentile(prec, 97.5)}, abs=1e-12)
    assert bounds["accuracy_lo"] < accuracy_score(y_true, y_pred) < bounds["accuracy_hi"]
    perfect = bootstrap_bounds(y_true, y_true, 3, n=50)
    assert perfect == {"accuracy_lo": 1.0, "accuracy_hi": 1.0,
                       "precision_weighted_lo": 1.0, "precision_weighted_hi": 1.0}


def test_metrics_table_orders_rows_and_columns():
    rows = [
        {"accuracy": 0.5, "model": "ours", "split": "val", "protocol": "knn", "seed": 0},
        {"model": "ResNet18", "split": "test", "protocol": "fc", "weights": "imagenet",
         "accuracy": 0.7, "auc": 0.8, "seed": 0},
        {"model": "ours", "split": "test", "protocol": "knn", "accuracy": 0.6, "seed": 0},
    ]
    table = metrics_table(rows)
    assert list(table.columns) == ["model", "split", "protocol", "seed", "weights", "accuracy", "auc"]
    assert list(zip(table.model, table.split)) == [("ResNet18", "test"), ("ours", "test"), ("ours", "val")]
    assert table.accuracy.tolist() == [0.7, 0.6, 0.5]
