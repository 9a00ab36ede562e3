"""Cluster prototypes: KMeans over a k range, the elbow pick, and soft assignment."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kneed import KneeLocator
from sklearn.cluster import KMeans


@dataclass
class ElbowResult:
    """KMeans fits over a k range and the elbow's choice among them."""

    k: int
    ks: list[int]
    inertias: list[float]
    centroids: np.ndarray  # (k, d) of the chosen fit
    labels: np.ndarray  # (n,) cluster of each fitted sample under the chosen k


def elbow_k(ks: list[int], inertias: list[float]) -> int:
    """The elbow of a decreasing, convex inertia curve (kneedle); the smallest k if none."""
    if len(ks) < 3:
        return ks[0]
    knee = KneeLocator(ks, inertias, curve="convex", direction="decreasing").knee
    return int(knee) if knee is not None else ks[0]


def kmeans_fits(features: np.ndarray, k_min: int, k_max: int, seed: int,
                n_init: int = 10) -> dict[int, KMeans]:
    """A seeded KMeans fit for every k in [k_min, k_max] (k capped below the sample count)."""
    features = np.asarray(features, dtype=np.float64)
    return {k: KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(features)
            for k in range(k_min, min(k_max, len(features) - 1) + 1)}


def kmeans_elbow(features: np.ndarray, k_min: int, k_max: int, seed: int,
                 n_init: int = 10) -> ElbowResult:
    """Fit KMeans for every k in [k_min, k_max] and keep the fit the elbow picks."""
    fits = kmeans_fits(features, k_min, k_max, seed, n_init)
    ks = list(fits)
    inertias = [float(fits[k].inertia_) for k in ks]
    k = elbow_k(ks, inertias)
    return ElbowResult(k=k, ks=ks, inertias=inertias,
                       centroids=fits[k].cluster_centers_.astype(np.float32),
                       labels=fits[k].labels_.astype(np.int64))


def cosine_similarity(h: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each row of h (n, d) to each prototype (k, d): (n, k)."""
    return F.normalize(h, dim=1) @ F.normalize(prototypes, dim=1).T


def soft_assign(h: torch.Tensor, prototypes: torch.Tensor, temperature: float) -> torch.Tensor:
    """The paper's soft assignment s = softmax(cos(h, prototypes) / T), one column per prototype."""
    return torch.softmax(cosine_similarity(h, prototypes) / temperature, dim=1)


def nearest_prototype(h: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Index of the prototype with the highest cosine similarity to each row of h."""
    return cosine_similarity(h, prototypes).argmax(dim=1)
