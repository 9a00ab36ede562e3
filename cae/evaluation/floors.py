"""The floors the paper lacks: majority class and raw pixels (data only, cached per data and
settings), and an untrained encoder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from cae import names
from cae.config import RunConfig
from cae.data.datasets import Dataset
from cae.evaluation.floor_cache import FLOOR_SEED, cached_floor_rows, floor_settings
from cae.evaluation.protocols import Prediction
from cae.evaluation.scoring import protocol_rows, score_rows
from cae.infra.allocator import release_freed_memory
from cae.infra.runtime import encode, to_float
from cae.method.clustering import elbow_prototypes, kmeans_clusters
from cae.method.networks import build_networks


def majority_rows(data: Dataset, seed: int) -> list[dict]:
    """The majority-class floor: predict the most frequent train label everywhere."""
    counts = torch.bincount(data.splits["train"].labels, minlength=data.n_classes)
    shares = (counts / counts.sum()).numpy()
    predictions = {split: Prediction(np.full(len(data.splits[split]), int(counts.argmax())),
                                     np.tile(shares, (len(data.splits[split]), 1)))
                   for split in data.eval_splits}
    return score_rows(names.MAJORITY, {names.NO_PROTOCOL: predictions}, data, seed)


def data_floor_rows(data: Dataset, cfg: RunConfig) -> list[dict]:
    """The floors that depend on the data alone: majority class and raw pixels, at FLOOR_SEED."""
    cfg = replace(cfg, seed=FLOOR_SEED)
    release_freed_memory()  # the run's memory peak follows
    # both KMeans searches read the uint8 images as pixels (`unit_rows`) before the float
    # pixels exist: on MNIST that keeps their float64 rows from meeting 220 MB more
    images = {s: data.splits[s].images for s in data.splits}
    prototypes = elbow_prototypes(images["train"], cfg)
    clusters = kmeans_clusters(images["train"], {s: images[s] for s in data.eval_splits},
                               data.n_classes, cfg.seed, cfg.kmeans_n_init)
    pixels = {s: to_float(images[s], False).flatten(1) for s in data.splits}
    eval_pixels = {s: pixels[s] for s in data.eval_splits}
    return majority_rows(data, cfg.seed) + protocol_rows(
        names.RAW_PIXELS, pixels["train"], data, eval_pixels, prototypes, cfg, clusters)


def floor_rows(data: Dataset, cfg: RunConfig, device: torch.device, precision: str,
               cache_dir: Path) -> list[dict]:
    """Floors the paper lacks: majority class and raw pixels (computed once per data and
    settings, see `cae.evaluation.floor_cache`) and an untrained encoder (the run's seed)."""
    rows = cached_floor_rows(cache_dir, floor_settings(cfg, data),
                             lambda: data_floor_rows(data, cfg))
    untrained = build_networks(cfg, data.n_channels).encoder.to(device)
    h = {s: encode(untrained, data.splits[s].images, device, precision) for s in data.splits}
    rows += protocol_rows(names.UNTRAINED, h["train"], data,
                          {s: h[s] for s in data.eval_splits}, elbow_prototypes(h["train"], cfg), cfg)
    return rows
