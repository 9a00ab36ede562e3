"""A run directory, read and written: what a finished run left, and where the files go.

A run directory holds `config.json`, `checkpoint.pt`, `history.json`, `elbow.json`,
`metrics.json` / `metrics.csv` (one row per model, split and protocol),
`mapping_vs_k.json` (protocol (a) for every k of the elbow's range),
`provenance.json` (data MD5s, package versions, device, precision, C allocator setting,
processes and their backend, wall times, peak resident memory overall and after each
phase), `figures/`, and once exported (`cae.evaluation.export`,
at the end of `cae reproduce`) `decoder.onnx` with `decoder.json`. The data-only floors are
shared by the runs beside it, in `../floors/` (`cae.evaluation.floor_cache`). Reading runs needs
none of the training code.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd
import torch

from cae.config import RunConfig, load_config, steps_per_epoch
from cae.data.datasets import Dataset
from cae.errors import CaeError
from cae.evaluation.protocols import metrics_table
from cae.infra.distributed import backend, world_size
from cae.infra.files import atomic_write_text, write_json
from cae.infra.runtime import Runtime, cpu_name, peak_rss_mb

HEAD_MODEL = "CAE + clustering head"


PACKAGES = ("cae", "torch", "torchvision", "numpy", "scikit-learn", "medmnist", "timm", "yellowbrick", "umap-learn")


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


def read_against_k(run_dir: Path) -> dict:
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


def provenance(cfg: RunConfig, data: Dataset, seconds: dict[str, float],
               runtime: Runtime | None = None, peaks: dict[str, int] | None = None) -> dict:
    """Where the numbers came from: data hashes, package versions, hardware, precision,
    allocator, processes (torchrun's world size and backend), times, peak memory (and,
    given `peaks`, the peak so far after each phase)."""
    runtime = runtime or Runtime.resolve(cfg.device, cfg.precision)
    device = runtime.device
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return dict(dataset=data.name, data_md5=data.md5, val_holdout=data.holdout,
                selection=data.selection, steps=steps_of(cfg, data), packages=versions,
                python=platform.python_version(),
                device=str(device), device_name=(torch.cuda.get_device_name(device)
                                                 if device.type == "cuda" else cpu_name()),
                cpu_threads=torch.get_num_threads(), world_size=world_size(), backend=backend(),
                precision=runtime.precision, allocator=runtime.allocator, wall_time_s=seconds,
                peak_rss_mb=round(peak_rss_mb()), **({"peak_rss_mb_after": peaks} if peaks else {}))


def write_metrics(table: pd.DataFrame, run_dir: Path) -> None:
    """metrics.json (records, NaN as null) and metrics.csv."""
    records = json.loads(table.to_json(orient="records"))
    write_json(run_dir / "metrics.json", records)
    atomic_write_text(run_dir / "metrics.csv", table.to_csv(index=False))


def merge_metrics(table: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    """Write table into the run's metrics, replacing rows of its models and keeping the others."""
    path = Path(run_dir) / "metrics.json"
    if path.is_file():
        kept = [r for r in read_json(path) if r["model"] not in set(table["model"])]
        table = metrics_table(kept + table.to_dict("records"))
    write_metrics(table, run_dir)
    return table
