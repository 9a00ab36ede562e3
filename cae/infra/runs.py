"""A run directory, read and written: what a finished run left, and where the files go.

A run directory holds `config.json`, `checkpoint.pt`, `history.json`, `elbow.json`,
`metrics.json` / `metrics.csv` (one row per model, split and protocol),
`mapping_vs_k.json` (protocol (a) for every k of the elbow's range),
`provenance.json` (data MD5s, package versions, device, precision, C allocator setting,
processes and their backend, wall times, peak resident memory overall and after each
phase), `figures/`, and once exported (`cae.evaluation.export`,
at the end of `cae reproduce`) `decoder.onnx` with `decoder.json`. The data-only floors are
shared by the runs beside it, in `../floors/` (`cae.evaluation.floor_cache`). Reading runs needs
none of the training code, nor torch; `cae.infra.provenance` writes provenance.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import pandas as pd

from cae.config import RunConfig, load_config, steps_per_epoch
from cae.errors import CaeError

if TYPE_CHECKING:  # reading runs imports no torch
    from cae.data.datasets import Dataset


class KCurves(TypedDict):
    """Protocol (a) on one eval split at every k of the elbow's range (`mapping_vs_k.json`)."""

    accuracy: list[float]
    nmi: list[float]
    ari: list[float]
    composition: list[list[list[int]]]  # per k, the cluster-by-class counts


# `mapping_vs_k.json`: "ks", the k range (list[int]), and one KCurves per eval split. A
# TypedDict cannot mix that fixed key with keys named by the splits, hence Any.
AgainstK = dict[str, Any]


@dataclass
class RunArtifacts:
    """What a finished run left in its directory, read back for notebooks and the book."""

    run_dir: Path
    config: RunConfig
    history: dict[str, list[float]]
    elbow: dict
    metrics: pd.DataFrame
    provenance: dict

    @classmethod
    def read(cls, run_dir: Path) -> RunArtifacts:
        run_dir = Path(run_dir)
        try:
            return cls(run_dir, load_config(run_dir / "config.json"),
                       read_json(run_dir / "history.json"), read_json(run_dir / "elbow.json"),
                       pd.DataFrame(read_json(run_dir / "metrics.json")),
                       read_json(run_dir / "provenance.json"))
        except FileNotFoundError as exc:
            raise CaeError(f"run {run_dir} is incomplete ({Path(exc.filename).name} missing); "
                           f"run `cae reproduce` for it") from None


def finished_under(root: str | Path) -> list[RunArtifacts]:
    """Every finished run (a directory with provenance.json) directly under root, sorted."""
    return [RunArtifacts.read(d) for d in sorted(Path(root).iterdir())
            if (d / "provenance.json").is_file()]


def run_dir_for(cfg: RunConfig, root: str | Path = "runs") -> Path:
    """The default run directory: runs/<dataset>-<profile>-seed<seed>."""
    return Path(root) / f"{cfg.dataset}-{cfg.profile}-seed{cfg.seed}"


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def class_count_k(ks: list[int], n_classes: int) -> int:
    """The k of the range nearest the number of classes."""
    return min(max(n_classes, ks[0]), ks[-1])


def composition_ks(elbow: dict, n_classes: int) -> list[int]:
    """The k values whose cluster composition is drawn: the elbow's and the class count's."""
    return sorted({elbow["k"], class_count_k(elbow["ks"], n_classes)})


def read_against_k(run_dir: Path) -> AgainstK:
    """The run's protocol (a) at every k and cluster composition (`mapping_vs_k.json`)."""
    path = Path(run_dir) / "mapping_vs_k.json"
    against_k = read_json(path) if path.is_file() else {}
    splits = [scores for name, scores in against_k.items() if name != "ks"]
    if not splits or any("composition" not in scores for scores in splits):
        raise CaeError(f"{path} is missing or older than the cluster composition; score the run "
                       f"again with `cae evaluate --run-dir {run_dir} --no-floors`")
    return against_k


def steps_of(cfg: RunConfig, data: Dataset) -> dict[str, int]:
    """The optimizer steps a run took on its training data: per epoch, in each phase, in all
    (and the budget it was given, `min_steps`; 0 for none)."""
    per_epoch = steps_per_epoch(cfg.batch_size, len(data.splits["train"]))
    return {"per_epoch": per_epoch, "phase1": per_epoch * cfg.warmup_epochs,
            "phase2": per_epoch * cfg.phase2_epochs, "total": per_epoch * cfg.epochs,
            "min_steps": cfg.min_steps}


def writable_run_dir(run_dir: Path) -> None:
    """Create run_dir, or raise CaeError when it is a file or cannot be written."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise CaeError(f"run directory {run_dir} is an existing file; pass another --run-dir")
    probe = run_dir / ".write-test"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CaeError(f"cannot write to run directory {run_dir} ({exc.strerror}); pass a "
                       f"writable --run-dir") from None


def prepare_run_dir(cfg: RunConfig, run_dir: Path, resume: bool) -> None:
    """Create run_dir and save the config; refuse to mix a different config into it."""
    writable_run_dir(run_dir)
    saved = run_dir / "config.json"
    if resume and saved.is_file() and (load_config(saved).fingerprint(training_only=True)
                                       != cfg.fingerprint(training_only=True)):
        raise CaeError(f"{run_dir} holds a run with another configuration; pass a fresh "
                       f"--run-dir or drop --resume")
    cfg.save(saved)
