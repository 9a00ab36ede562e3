"""The data-only floors (majority class, raw pixels), computed once and reused.

These rows depend on the images and labels and on a few scoring settings, never on the
trained model, so every run with the same data and the same settings reads them from
one JSON file instead of recomputing them (on MNIST the pixel KMeans is most of an
evaluation). They are computed with the fixed seed `FLOOR_SEED`, whatever the run's
seed, so which run computes them first does not change them.

The files live in `floors/` beside the run directories (e.g. `artifacts/floors/`), one
per dataset and key: `<dataset>-<key>.json` holding the settings the key was made from
and the rows. The key is a SHA-256 of those settings, which include a SHA-256 of every
split's images and labels (so a train subset or a held-out val split gets its own file)
and the data files' MD5s. Deleting the folder only costs the time to recompute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from cae.config import RunConfig
from cae.data.datasets import Dataset
from cae.errors import CaeError
from cae.infra.files import write_json

FLOOR_SEED = 0
CACHE_DIR = "floors"
# the RunConfig fields the data-only floors read
FLOOR_FIELDS = ("k_min", "k_max", "elbow_metric", "kmeans_n_init", "knn_k", "probe_fraction",
                "probe_epochs", "probe_lr", "probe_batch_size")
# read too, but added later: in the settings only away from these values (keeps earlier keys)
LATER_FLOOR_FIELDS = {"elbow_fallback": 0, "elbow_normalised": True, "eval_train_images": 0,
                      "knn_metric": "cosine", "probe_standardize": True}


def content_sha256(data: Dataset) -> str:
    """SHA-256 of every split's name, images and labels, in split order."""
    digest = hashlib.sha256()
    for name, split in data.splits.items():
        digest.update(name.encode())
        digest.update(split.images.contiguous().numpy().tobytes())
        digest.update(split.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def floor_settings(cfg: RunConfig, data: Dataset) -> dict:
    """Everything the data-only floors depend on."""
    return {"dataset": data.name, "data_md5": data.md5, "content_sha256": content_sha256(data),
            "seed": FLOOR_SEED, **{name: getattr(cfg, name) for name in FLOOR_FIELDS},
            **{name: getattr(cfg, name) for name, default in LATER_FLOOR_FIELDS.items()
               if getattr(cfg, name) != default}}


def cache_path(cache_dir: Path, settings: dict) -> Path:
    """The cache file of these settings: `<dataset>-<first 16 hex digits of their SHA-256>.json`."""
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{settings['dataset']}-{key}.json"


def cached_floor_rows(cache_dir: Path, settings: dict,
                      compute: Callable[[], list[dict]]) -> list[dict]:
    """The rows stored for `settings` under cache_dir, or compute() written there first.

    Each row names its file in `floors_cache`. A file whose stored settings differ from
    these (a hash collision or a hand edit) is refused rather than trusted.
    """
    path = cache_path(cache_dir, settings)
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
            matches = stored["settings"] == json.loads(json.dumps(settings))
            rows = stored["rows"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise CaeError(f"floor cache {path} is unreadable; delete it to recompute") from None
        if not matches:
            raise CaeError(f"floor cache {path} was made from other settings; delete it to "
                           f"recompute")
        return rows
    rows = [dict(row, floors_cache=path.name) for row in compute()]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"settings": settings, "rows": rows})
    return rows
