"""The data-only floors: computed once per data and settings, shared by seeds, never mixed up."""

from __future__ import annotations

import json

import pytest
import torch

from cae.config import make_config
from cae.data.datasets import Dataset, Split
from cae.errors import CaeError
from cae.evaluation import floor_cache
from cae.evaluation.floors import floor_rows


def _blobs(seed: int = 0) -> Dataset:
    """Three classes of 28x28 images, each a bright square in its own corner, plus noise."""
    g = torch.Generator().manual_seed(seed)

    def split(n: int) -> Split:
        labels = torch.arange(n) % 3
        images = torch.randint(0, 40, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
        for c in range(3):
            images[labels == c, :, 9 * c:9 * c + 9, 9 * c:9 * c + 9] = 220
        return Split(images, labels)

    return Dataset("blobs", {"train": split(60), "val": split(30), "test": split(30)},
                   ["a", "b", "c"], {"blobs.npz": "0" * 32})


def _counting(rows: list[dict]):
    calls = []

    def compute() -> list[dict]:
        calls.append(1)
        return rows
    return compute, calls


def test_rows_are_computed_once_then_read_back(tmp_path):
    settings = floor_cache.floor_settings(make_config("smoke"), _blobs())
    compute, calls = _counting([{"model": "raw pixels", "accuracy": 0.5}])
    first = floor_cache.cached_floor_rows(tmp_path, settings, compute)
    second = floor_cache.cached_floor_rows(tmp_path, settings, compute)
    assert calls == [1]
    path = floor_cache.cache_path(tmp_path, settings)
    assert first == second == [{"model": "raw pixels", "accuracy": 0.5, "floors_cache": path.name}]
    assert json.loads(path.read_text())["settings"]["seed"] == floor_cache.FLOOR_SEED


def test_key_follows_data_and_scoring_settings_but_not_the_run_seed(tmp_path):
    data = _blobs()
    base = floor_cache.floor_settings(make_config("smoke", seed=0), data)
    path = floor_cache.cache_path(tmp_path, base)
    assert path.name.startswith("blobs-")
    assert floor_cache.cache_path(tmp_path, floor_cache.floor_settings(
        make_config("smoke", seed=7, temperature=0.2), data)) == path
    assert floor_cache.cache_path(tmp_path, floor_cache.floor_settings(
        make_config("smoke", k_max=5), data)) != path
    data.splits["train"].images[0, 0, 0, 0] += 1  # one pixel of one image
    assert floor_cache.cache_path(tmp_path, floor_cache.floor_settings(
        make_config("smoke"), data)) != path


def test_foreign_or_broken_cache_files_are_refused(tmp_path):
    settings = floor_cache.floor_settings(make_config("smoke"), _blobs())
    path = floor_cache.cache_path(tmp_path, settings)
    path.write_text(json.dumps({"settings": {**settings, "k_max": 99}, "rows": []}))
    with pytest.raises(CaeError, match="other settings"):
        floor_cache.cached_floor_rows(tmp_path, settings, _counting([])[0])
    path.write_text("{not json")
    with pytest.raises(CaeError, match="unreadable"):
        floor_cache.cached_floor_rows(tmp_path, settings, _counting([])[0])


def test_seeds_share_the_pixel_floors_and_keep_their_own_untrained_encoder(tmp_path):
    data = _blobs()
    cpu = torch.device("cpu")
    runs = {seed: floor_rows(data, make_config("smoke", seed=seed), cpu, "fp32", tmp_path)
            for seed in (0, 1)}
    assert len(list(tmp_path.iterdir())) == 1  # one cache file for both seeds

    def of(rows, model):
        return [r for r in rows if r["model"] == model]
    for model in ("majority class", "raw pixels"):
        assert of(runs[0], model) == of(runs[1], model)
        assert {r["seed"] for r in of(runs[1], model)} == {floor_cache.FLOOR_SEED}
    assert {r["protocol"] for r in of(runs[0], "raw pixels")} == {"stat", "knn", "lin", "hungarian"}
    assert max(r["accuracy"] for r in of(runs[0], "raw pixels")) > 0.9  # the corners separate
    untrained = [of(runs[s], "untrained encoder") for s in (0, 1)]
    assert [r["seed"] for r in untrained[1]] == [1] * len(untrained[1])
    assert "floors_cache" not in untrained[0][0]
