"""The paper's three evaluation protocols on a frozen representation, and their metrics.

(a) statistical mapping through the cluster prototypes, (b) kNN on a memory bank,
(c) a linear probe, and the clustering literature's Hungarian accuracy at k = number of
classes; each returns a `Prediction` that `classification_metrics` scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import (
    accuracy_score,
    adjusted_rand_score,
    normalized_mutual_info_score,
    precision_score,
    recall_score,
    roc_auc_score,
)
from torch import nn

from cae.method.clustering import nearest_prototype

KEY_COLUMNS = ["model", "split", "protocol"]


@dataclass
class Prediction:
    """Predicted labels, per-class scores (rows sum to 1) and, for mappings, each sample's cluster."""

    y_pred: np.ndarray  # (n,) int64
    scores: np.ndarray  # (n, n_classes) float64
    clusters: np.ndarray | None = None  # (n,) int64
    n_clusters: int | None = None  # clusters the prediction was mapped from


def _labels(y: torch.Tensor | np.ndarray) -> np.ndarray:
    """Labels as a flat int64 numpy array."""
    return torch.as_tensor(y).cpu().numpy().astype(np.int64).ravel()


def cluster_composition(clusters: np.ndarray, y_true: torch.Tensor | np.ndarray, n_clusters: int,
                        n_classes: int) -> np.ndarray:
    """Counts (n_clusters, n_classes): how many images of each class fall in each cluster."""
    counts = np.zeros((n_clusters, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(clusters, dtype=np.int64), _labels(y_true)), 1)
    return counts


def mapping_ceiling(class_counts: np.ndarray | list[int], n_clusters: int) -> float:
    """The highest accuracy any labelling of `n_clusters` clusters can reach: each cluster
    names one class, so at best the `n_clusters` most frequent classes are right."""
    counts = np.sort(np.asarray(class_counts, dtype=np.int64))[::-1]
    if counts.sum() <= 0 or n_clusters < 1:
        raise ValueError("mapping_ceiling needs at least one image and one cluster")
    return float(counts[:n_clusters].sum() / counts.sum())


def majority_mapping(train_clusters: np.ndarray, train_y: torch.Tensor | np.ndarray,
                     eval_clusters: np.ndarray, n_clusters: int, n_classes: int) -> Prediction:
    """Label each cluster by its train members' majority and predict eval samples through their cluster.

    An empty cluster takes the overall train label distribution (so it maps to the most
    frequent train label); label ties go to the smaller label. Scores are the class
    fractions among the cluster's train members.
    """
    train_y = _labels(train_y)
    counts = cluster_composition(train_clusters, train_y, n_clusters, n_classes).astype(float)
    counts[counts.sum(1) == 0] = np.bincount(train_y, minlength=n_classes)
    fractions = counts / counts.sum(1, keepdims=True)
    eval_clusters = np.asarray(eval_clusters, dtype=np.int64)
    return Prediction(y_pred=fractions.argmax(1)[eval_clusters], scores=fractions[eval_clusters],
                      clusters=eval_clusters, n_clusters=n_clusters)


def mapping_protocol(train_h: torch.Tensor, train_y: torch.Tensor | np.ndarray,
                     eval_h: torch.Tensor, prototypes: torch.Tensor, n_classes: int) -> Prediction:
    """Protocol (a): each sample goes to its nearest prototype (cosine); clusters are labelled
    by their train members' majority (`majority_mapping`)."""
    train_clusters = nearest_prototype(train_h.float(), prototypes.float()).cpu().numpy()
    eval_clusters = nearest_prototype(eval_h.float(), prototypes.float()).cpu().numpy()
    return majority_mapping(train_clusters, train_y, eval_clusters, len(prototypes), n_classes)


def hungarian_protocol(train_clusters: np.ndarray, train_y: torch.Tensor | np.ndarray,
                       eval_clusters: np.ndarray, n_classes: int) -> Prediction:
    """Hungarian accuracy's prediction: the one-to-one cluster-to-class match that agrees with
    the most train labels (scipy's linear_sum_assignment), applied to the eval clusters.

    Clusters are numbered 0..n_classes-1. Unlike the majority mapping, two clusters can
    never take the same class, so adding clusters cannot raise the score. The match is
    fitted on train labels, never on the scored split. Scores are one-hot.
    """
    counts = cluster_composition(train_clusters, train_y, n_classes, n_classes)
    clusters, classes = linear_sum_assignment(counts, maximize=True)
    to_class = np.empty(n_classes, dtype=np.int64)
    to_class[clusters] = classes
    eval_clusters = np.asarray(eval_clusters, dtype=np.int64)
    y_pred = to_class[eval_clusters]
    return Prediction(y_pred=y_pred, scores=np.eye(n_classes)[y_pred], clusters=eval_clusters,
                      n_clusters=n_classes)


def labelled_pool(n_train: int, size: int, seed: int) -> torch.Tensor:
    """Indices of the training images the protocols may read labels of: all n_train when
    size is 0 or covers them, else a seeded random `size` of them, in index order (the
    authors' code reads its first 49 shuffled training batches)."""
    if size <= 0 or size >= n_train:
        return torch.arange(n_train)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_train, generator=generator)[:size].sort().values


def knn_protocol(bank_h: torch.Tensor, bank_y: torch.Tensor | np.ndarray, query_h: torch.Tensor,
                 n_classes: int, k: int = 5, metric: str = "cosine", chunk_size: int = 1024
                 ) -> Prediction:
    """Protocol (b): majority vote of the k nearest bank samples, by cosine similarity or
    Euclidean distance (`metric`); scores are vote fractions.

    A tie between labels goes to the label of the nearest neighbour among the tied ones.
    Queries run in chunks so that a 10,000 x 60,000 similarity never sits in memory.
    """
    cosine = metric == "cosine"
    bank = F.normalize(bank_h.float(), dim=1) if cosine else bank_h.float()
    bank_y = torch.as_tensor(_labels(bank_y), device=bank.device)
    k = min(k, len(bank))
    rank_bonus = torch.arange(k, 0, -1, device=bank.device).view(1, k, 1)  # nearest gets k
    winners, counts = [], []
    queries = F.normalize(query_h.float(), dim=1) if cosine else query_h.float()
    for chunk in queries.split(chunk_size):
        chunk = chunk.to(bank.device)
        closeness = chunk @ bank.T if cosine else -torch.cdist(chunk, bank)
        neighbours = closeness.topk(k, dim=1).indices  # nearest first
        one_hot = F.one_hot(bank_y[neighbours], n_classes)  # (c, k, n_classes)
        count = one_hot.sum(1)
        # the count dominates; among equal counts the label seen at the nearest rank wins
        winners.append((count * (k + 1) + (one_hot * rank_bonus).amax(1)).argmax(1).cpu())
        counts.append(count.cpu())
    return Prediction(y_pred=torch.cat(winners).numpy(),
                      scores=torch.cat(counts).double().numpy() / k)


def train_linear_head(x: torch.Tensor, y: torch.Tensor | np.ndarray, n_classes: int, epochs: int,
                      lr: float, batch_size: int, seed: int, standardize: bool) -> nn.Linear:
    """Train one nn.Linear with Adam and cross-entropy on shuffled mini-batches, deterministic from seed.

    With `standardize`, the features are scaled by the training set's mean and std, and
    that scaling is folded into the returned layer, which therefore takes raw features.
    """
    generator = torch.Generator().manual_seed(seed)
    x = x.float()
    y = torch.as_tensor(_labels(y), device=x.device)
    mean = x.mean(0) if standardize else torch.zeros(x.shape[1], device=x.device)
    std = x.std(0, correction=0).clamp_min(1e-6) if standardize else torch.ones_like(mean)
    x = (x - mean) / std
    head = nn.Linear(x.shape[1], n_classes)
    bound = 1 / math.sqrt(x.shape[1])  # PyTorch's default Linear init, drawn from the seeded generator
    with torch.no_grad():
        for param in head.parameters():
            nn.init.uniform_(param, -bound, bound, generator=generator)
    head.to(x.device)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).to(x.device).split(batch_size):
            loss = F.cross_entropy(head(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        head.bias.sub_(head.weight @ (mean / std))
        head.weight.div_(std)
    return head


def head_prediction(head: nn.Linear, h: torch.Tensor) -> Prediction:
    """Argmax and softmax probabilities of a trained linear head."""
    with torch.no_grad():
        probabilities = torch.softmax(head(h.float().to(head.weight.device)), dim=1).cpu().double()
    return Prediction(y_pred=probabilities.argmax(1).numpy(), scores=probabilities.numpy())


def linear_probe(train_h: torch.Tensor, train_y: torch.Tensor | np.ndarray,
                 eval_hs: dict[str, torch.Tensor], n_classes: int, fraction: float, epochs: int,
                 lr: float, batch_size: int, seed: int, standardize: bool = True
                 ) -> dict[str, Prediction]:
    """Protocol (c): a linear layer on standardized (or, without `standardize`, raw)
    features, trained on a seeded random subset."""
    n = max(1, round(fraction * len(train_h)))
    subset = torch.randperm(len(train_h), generator=torch.Generator().manual_seed(seed))[:n]
    head = train_linear_head(train_h[subset.to(train_h.device)], _labels(train_y)[subset.numpy()],
                             n_classes, epochs, lr, batch_size, seed, standardize=standardize)
    return {name: head_prediction(head, h) for name, h in eval_hs.items()}


def classification_metrics(y_true: torch.Tensor | np.ndarray, pred: Prediction,
                           n_classes: int) -> dict[str, float]:
    """Accuracy, macro and weighted precision/recall, positive-class ones when binary, AUC,
    and bootstrap bounds of accuracy and weighted precision (`bootstrap_bounds`).

    Weighted recall always equals accuracy. AUC is one-vs-rest macro for more than two
    classes, and NaN unless every class occurs in y_true. Undefined ratios count as 0.
    """
    y_true = _labels(y_true)
    y_pred = pred.y_pred
    metrics = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        metrics[f"precision_{average}"] = float(precision_score(y_true, y_pred, average=average,
                                                                zero_division=0))
        metrics[f"recall_{average}"] = float(recall_score(y_true, y_pred, average=average,
                                                          zero_division=0))
    if n_classes == 2:
        metrics["precision_pos"] = float(precision_score(y_true, y_pred, labels=[0, 1], pos_label=1,
                                                         average="binary", zero_division=0))
        metrics["recall_pos"] = float(recall_score(y_true, y_pred, labels=[0, 1], pos_label=1,
                                                   average="binary", zero_division=0))
    if len(np.unique(y_true)) < n_classes:
        metrics["auc"] = math.nan
    elif n_classes == 2:
        metrics["auc"] = float(roc_auc_score(y_true, pred.scores[:, 1]))
    else:
        metrics["auc"] = float(roc_auc_score(y_true, pred.scores, multi_class="ovr", average="macro",
                                             labels=np.arange(n_classes)))
    return metrics | bootstrap_bounds(y_true, y_pred, n_classes)


def cluster_metrics(y_true: torch.Tensor | np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """Agreement of clusters with the true labels: normalized mutual information and adjusted Rand index."""
    y_true = _labels(y_true)
    return {"nmi": float(normalized_mutual_info_score(y_true, clusters)),
            "ari": float(adjusted_rand_score(y_true, clusters))}


BOOTSTRAPPED = ("accuracy", "precision_weighted")


def bootstrap_bounds(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, n: int = 1000,
                     seed: int = 0) -> dict[str, float]:
    """95% percentile bootstrap bounds, over the scored images, of accuracy and weighted precision.

    Returns `{metric}_lo` and `{metric}_hi` for each metric in BOOTSTRAPPED (weighted
    recall equals accuracy). All n resamples are scored at once from their confusion
    matrices; a class never predicted in a resample adds 0 to the weighted precision, as
    in `classification_metrics`.
    """
    y_true, y_pred = _labels(y_true), np.asarray(y_pred, dtype=np.int64)
    size = len(y_true)
    index = np.random.default_rng(seed).integers(0, size, size=(n, size))
    cells = (np.arange(n)[:, None] * n_classes + y_true[index]) * n_classes + y_pred[index]
    confusion = np.bincount(cells.ravel(), minlength=n * n_classes ** 2).reshape(
        n, n_classes, n_classes).astype(np.float64)  # [resample, true, predicted]
    hits = np.einsum("bkk->bk", confusion)
    support, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    values = {"accuracy": hits.sum(axis=1) / size,
              "precision_weighted": (support * precision).sum(axis=1) / size}
    bounds = {}
    for name in BOOTSTRAPPED:
        lo, hi = np.percentile(values[name], [2.5, 97.5])
        bounds[f"{name}_lo"], bounds[f"{name}_hi"] = float(lo), float(hi)
    return bounds


def metrics_table(rows: list[dict]) -> pd.DataFrame:
    """Tidy table, one row per (model, split, protocol): key columns, other labels, then metrics."""
    table = pd.DataFrame(rows)
    labels = [c for c in table.columns
              if c not in KEY_COLUMNS and not pd.api.types.is_float_dtype(table[c])]
    metrics = [c for c in table.columns if c not in KEY_COLUMNS and c not in labels]
    return (table[KEY_COLUMNS + labels + metrics]
            .sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True))
