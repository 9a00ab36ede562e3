"""Cluster prototypes: KMeans over a k range, the elbow pick (yellowbrick, as the paper
cites), and soft assignment."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from sklearn.cluster import KMeans

with matplotlib.rc_context():  # yellowbrick restyles matplotlib globally on import; undo that
    from yellowbrick.cluster import KElbowVisualizer
    from yellowbrick.cluster.elbow import distortion_score
    from yellowbrick.utils import KneeLocator

from cae.config import ELBOW_METRICS, RunConfig
from cae.errors import CaeError
from cae.infra.runtime import to_float

# the knee-locator shape yellowbrick's KElbowVisualizer uses for each score
_CURVES = {"distortion": ("convex", "decreasing"), "calinski_harabasz": ("concave", "increasing"),
           "silhouette": ("concave", "increasing")}


@dataclass
class ElbowResult:
    """KMeans fits over a k range, their elbow scores, and the elbow's choice among them."""

    k: int
    ks: list[int]
    inertias: list[float]
    centroids: np.ndarray  # (k, d) of the chosen fit
    labels: np.ndarray  # (n,) cluster of each fitted sample under the chosen k
    metric: str = "distortion"
    scores: list[float] | None = None  # the elbow score per k (yellowbrick's `k_scores_`)


class _RecordingKMeans(KMeans):
    """KMeans that keeps every fit the elbow search makes, so no k is fitted twice.

    With `refill` (a function that writes the exact rows into the array it is given),
    each fit centres the rows in place (copy_x=False) instead of on a copy, and then
    refills them, since scikit-learn's own un-centring is not exact: the same fits and
    scores as with a copy, without a second full-size array."""

    refill: Callable[[np.ndarray], object] | None = None

    def fit(self, X, y=None, sample_weight=None):  # noqa: N803 (scikit-learn's name)
        super().fit(X, y, sample_weight)
        if self.refill is not None:
            self.refill(X)
        self.__dict__.setdefault("fits_", {})[self.n_clusters] = (
            self.cluster_centers_.copy(), self.labels_.copy(), float(self.inertia_))
        return self


def elbow_visualizer(metric: str, ks: list[int], seed: int = 0, n_init: int = 10,
                     ax=None, refill: Callable[[np.ndarray], object] | None = None
                     ) -> KElbowVisualizer:
    """yellowbrick's KElbowVisualizer around a seeded KMeans, usable with today's scikit-learn
    (with `refill`, the KMeans fits in place and refills its rows: `_RecordingKMeans`).

    yellowbrick 1.5 recognises a clusterer by the `_estimator_type` attribute, which
    scikit-learn >= 1.6 no longer sets, so the KMeans is passed with `force_model=True`.
    """
    if metric not in ELBOW_METRICS:
        raise CaeError(f"elbow_metric must be one of {ELBOW_METRICS}, got {metric!r}")
    fig = ax.figure if ax is not None else None
    kmeans = _RecordingKMeans(n_init=n_init, random_state=seed, copy_x=refill is None)
    kmeans.refill = refill
    return KElbowVisualizer(kmeans, ax=ax, fig=fig,
                            k=list(ks), metric=metric, timings=False, locate_elbow=True,
                            force_model=True)


def elbow_k(ks: list[int], scores: list[float], metric: str = "distortion",
            fallback: int = 0) -> int:
    """yellowbrick's elbow pick (its knee locator and curve shape for the metric).

    With fewer than 3 points or no knee: `fallback` when > 0 (capped to the range), else
    the smallest k for distortion, the best-scoring k for calinski_harabasz and silhouette
    (higher is better for both).
    """
    if fallback > 0:
        fallback = min(max(fallback, ks[0]), ks[-1])
    else:
        fallback = ks[0] if metric == "distortion" else ks[int(np.argmax(scores))]
    if len(ks) < 3:
        return fallback
    nature, direction = _CURVES[metric]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        knee = KneeLocator(list(ks), list(scores), curve_nature=nature,
                           curve_direction=direction).knee
    return int(knee) if knee is not None else fallback


def distortion(x: np.ndarray, labels: np.ndarray) -> float:
    """yellowbrick's distortion score: squared distances of the rows to their cluster's mean."""
    return float(distortion_score(x, labels))


def k_range(k_min: int, k_max: int, n_samples: int) -> list[int]:
    """The k values searched: k_min..k_max, capped below the sample count."""
    return list(range(k_min, min(k_max, n_samples - 1) + 1))


def kmeans_fits(features: np.ndarray, k_min: int, k_max: int, seed: int,
                n_init: int = 10) -> dict[int, KMeans]:
    """A seeded KMeans fit for every k in [k_min, k_max] (k capped below the sample count)."""
    features = np.asarray(features, dtype=np.float64)
    return {k: KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(features)
            for k in k_range(k_min, k_max, len(features))}


def kmeans_elbow(features: np.ndarray, k_min: int, k_max: int, seed: int,
                 n_init: int = 10, metric: str = "distortion",
                 refill: Callable[[np.ndarray], object] | None = None,
                 fallback: int = 0) -> ElbowResult:
    """Fit KMeans for every k in [k_min, k_max] with yellowbrick's KElbowVisualizer, score
    each fit by `metric`, and keep the fit the elbow picks (`elbow_k`, with `fallback`).

    With `refill` (writes the float64 features into the array it is given), the fits
    centre `features` in place and refill it after each (`_RecordingKMeans`): the same
    result with one full-size array instead of two."""
    features = np.asarray(features, dtype=np.float64)
    ks = k_range(k_min, k_max, len(features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # yellowbrick warns when it finds no knee
        visualizer = elbow_visualizer(metric, ks, seed, n_init, Figure().subplots(), refill)
        visualizer.fit(features)
    fits = visualizer.estimator.fits_
    scores = [float(v) for v in visualizer.k_scores_]
    k = elbow_k(ks, scores, metric, fallback)
    centroids, labels, _ = fits[k]
    return ElbowResult(k=k, ks=ks, inertias=[fits[j][2] for j in ks],
                       centroids=centroids.astype(np.float32), labels=labels.astype(np.int64),
                       metric=metric, scores=scores)


def rows(vectors: torch.Tensor) -> torch.Tensor:
    """vectors as float rows: uint8 images (n, c, h, w) as their pixels in [0, 1], one row
    per image (`to_float(images).flatten(1)`); anything else as `vectors.float()`."""
    return to_float(vectors, False).flatten(1) if vectors.dtype == torch.uint8 else vectors.float()


def unit_rows(vectors: torch.Tensor, chunk: int = 4096, out: np.ndarray | None = None
              ) -> np.ndarray:
    """The L2-normalised `rows` of vectors in float64: `F.normalize(rows(vectors), dim=1)`
    cast to float64, built chunk by chunk so that no full-size float copy exists beside
    the result (for uint8 images, no float copy of all of them); written into `out` when
    given."""
    if out is None:
        out = np.empty((len(vectors), int(np.prod(vectors.shape[1:]))), dtype=np.float64)
    for start in range(0, len(vectors), chunk):
        out[start:start + chunk] = F.normalize(rows(vectors[start:start + chunk]),
                                               dim=1).double().numpy()
    return out


def normalised_elbow(vectors: torch.Tensor, k_min: int, k_max: int, seed: int, n_init: int = 10,
                     metric: str = "distortion", fallback: int = 0) -> ElbowResult:
    """`kmeans_elbow` on the L2-normalised rows of vectors (`unit_rows`: uint8 images are
    read as pixels): how every model's prototypes are found (ours, the floors, the
    Feature+KM baseline), so that KMeans' Euclidean clusters agree with the cosine
    nearest-prototype assignment the protocols use. The fits centre the rows in place and
    `unit_rows` rewrites them after each, so only one float64 copy of them exists."""
    return kmeans_elbow(unit_rows(vectors), k_min, k_max, seed, n_init, metric,
                        refill=lambda out: unit_rows(vectors, out=out), fallback=fallback)


def prototype_elbow(h: torch.Tensor, cfg: RunConfig) -> ElbowResult:
    """How prototypes are found from h (ours, and the floors beside them): KMeans + elbow
    over cfg's k range on its L2-normalised rows (`normalised_elbow`), or on its raw `rows`
    when `cfg.elbow_normalised` is off (the authors' code); `cfg.elbow_fallback` when no knee."""
    if cfg.elbow_normalised:
        return normalised_elbow(h, cfg.k_min, cfg.k_max, cfg.seed, cfg.kmeans_n_init,
                                cfg.elbow_metric, cfg.elbow_fallback)
    return kmeans_elbow(rows(h).double().numpy(), cfg.k_min, cfg.k_max, cfg.seed, cfg.kmeans_n_init,
                        cfg.elbow_metric, fallback=cfg.elbow_fallback)


def kmeans_clusters(train_h: torch.Tensor, eval_hs: dict[str, torch.Tensor], k: int, seed: int,
                    n_init: int = 10) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Seeded KMeans with k clusters on the L2-normalised train rows; every row of train and
    of each eval split goes to its nearest centroid by cosine similarity. KMeans centres the
    rows in place (copy_x=False) rather than on a copy: the same fit, and the rows are
    built for it alone. uint8 images are read as their pixels (`rows`), made only once
    the fit's rows are gone."""
    fit = KMeans(n_clusters=k, n_init=n_init, random_state=seed, copy_x=False).fit(
        unit_rows(train_h))
    centroids = torch.from_numpy(fit.cluster_centers_).float()
    return (nearest_prototype(rows(train_h), centroids).numpy(),
            {name: nearest_prototype(rows(h), centroids).numpy() for name, h in eval_hs.items()})


def cosine_similarity(h: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each row of h (n, d) to each prototype (k, d): (n, k)."""
    return F.normalize(h, dim=1) @ F.normalize(prototypes, dim=1).T


def soft_assign(h: torch.Tensor, prototypes: torch.Tensor,
                temperature: float | torch.Tensor) -> torch.Tensor:
    """The paper's soft assignment s = softmax(cos(h, prototypes) / T), one column per prototype."""
    return torch.softmax(cosine_similarity(h, prototypes) / temperature, dim=1)


def nearest_prototype(h: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Index of the prototype with the highest cosine similarity to each row of h."""
    return cosine_similarity(h, prototypes).argmax(dim=1)


def elbow_prototypes(h: torch.Tensor, cfg: RunConfig) -> torch.Tensor:
    """The centroids `prototype_elbow` finds in h."""
    return torch.from_numpy(prototype_elbow(h, cfg).centroids)
