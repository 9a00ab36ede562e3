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

Finished results are never relabelled: `results_config.json`, written before the first
result, records the config (and its fingerprint) they are computed under (runs written
before it had none: theirs is their `config.json`), and a command that would give a folder
holding results another config refuses (`prepare_run_dir`, `check_results_config`) unless
asked to delete them first (`clear_results`). `.lock` is the folder's lock
(`cae.infra.run_lock`) while a command works in it.

Every file is checked as it is read (`cae.infra.run_files`), and a finished run's files
against each other (`RunArtifacts.check_agreement`); `finished_under` leaves out, and
names, a run that fails either.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import pandas as pd

from cae import names
from cae.config import (
    EVALUATION_FIELDS,
    RunConfig,
    config_from_dict,
    differences,
    load_config,
    steps_per_epoch,
)
from cae.errors import CaeError
from cae.infra.files import write_json
from cae.infra.run_files import read_run_json
from cae.infra.run_lock import LOCK_FILE

if TYPE_CHECKING:  # reading runs imports no torch
    from cae.data.datasets import Dataset

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
RESULTS_CONFIG = "results_config.json"
DECODER_ONNX = "decoder.onnx"
DECODER_JSON = "decoder.json"
# what finished training leaves beside the checkpoint (which is written every epoch)
FINISHED_TRAINING = ("history.json", "elbow.json")
# what scoring a trained run leaves: computed under every field, evaluation fields included
EVALUATION_RESULTS = ("metrics.json", "metrics.csv", "mapping_vs_k.json", "provenance.json",
                      "figures", DECODER_ONNX, DECODER_JSON, "clustering_screen.json",
                      RESULTS_CONFIG)
_SET_ASIDE = ".overwritten-"  # prefix of the folder old results are moved into, then deleted

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
        """Read and check a finished run: each file against its shape (`read_run_json`,
        `load_config`), and the files against each other (`check_agreement`)."""
        run_dir = Path(run_dir)
        try:
            run = cls(run_dir, load_config(run_dir / "config.json"),
                      read_run_json(run_dir / "history.json"), read_run_json(run_dir / "elbow.json"),
                      pd.DataFrame(read_run_json(run_dir / "metrics.json")),
                      read_run_json(run_dir / "provenance.json"))
        except FileNotFoundError as exc:
            raise CaeError(f"run {run_dir} is incomplete ({Path(exc.filename).name} missing); "
                           f"run `cae reproduce` for it") from None
        run.check_agreement()
        return run

    def check_agreement(self) -> None:
        """Raise CaeError when the run's files disagree: results recorded under another
        config than config.json, provenance of another dataset, our metrics rows of
        another seed (the data-only floors are shared, computed under the first seed)."""
        there = results_config(self.run_dir)
        if there is not None and there.fingerprint() != self.config.fingerprint():
            raise CaeError(f"run {self.run_dir}: its results were computed under another "
                           f"config than its config.json ({changes(there, self.config)})")
        if self.provenance["dataset"].lower() != self.config.dataset.lower():  # "MNIST" is mnist
            raise CaeError(f"run {self.run_dir}: provenance.json is of dataset "
                           f"{self.provenance['dataset']!r}, config.json of {self.config.dataset!r}")
        own = self.metrics[self.metrics["model"].isin((names.OURS, names.HEAD_MODEL))]
        seeds = set(own["seed"].dropna().astype(int))
        if seeds - {self.config.seed}:
            raise CaeError(f"run {self.run_dir}: metrics.json holds seed(s) "
                           f"{sorted(seeds - {self.config.seed})}, config.json seed {self.config.seed}")


def finished_under(root: str | Path, skipped: list[str] | None = None) -> list[RunArtifacts]:
    """Every finished run (a directory with provenance.json) directly under root, sorted.

    A run whose files fail their checks or disagree with each other is left out, so a
    page of many runs still shows the others; it is named, with the reason, in a line
    printed once per process and appended to `skipped` when given."""
    runs = []
    for run_dir in sorted(Path(root).iterdir()):
        if not (run_dir / "provenance.json").is_file():
            continue
        try:
            runs.append(RunArtifacts.read(run_dir))
        except CaeError as exc:
            note = f"skipped run {run_dir.name}: {exc}"
            if note not in _ANNOUNCED:
                print(note)
                _ANNOUNCED.add(note)
            if skipped is not None:
                skipped.append(note)
    return runs


_ANNOUNCED: set[str] = set()  # skipped-run notes already printed by this process


def run_dir_for(cfg: RunConfig, root: str | Path = "runs") -> Path:
    """The default run directory: runs/<dataset>-<profile>-seed<seed>."""
    return Path(root) / f"{cfg.dataset}-{cfg.profile}-seed{cfg.seed}"


def class_count_k(ks: list[int], n_classes: int) -> int:
    """The k of the range nearest the number of classes."""
    return min(max(n_classes, ks[0]), ks[-1])


def composition_ks(elbow: dict, n_classes: int) -> list[int]:
    """The k values whose cluster composition is drawn: the elbow's and the class count's."""
    return sorted({elbow["k"], class_count_k(elbow["ks"], n_classes)})


def read_against_k(run_dir: Path) -> AgainstK:
    """The run's protocol (a) at every k and cluster composition (`mapping_vs_k.json`)."""
    path = Path(run_dir) / "mapping_vs_k.json"
    against_k = read_run_json(path) if path.is_file() else {}
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


def prepare_run_dir(cfg: RunConfig, run_dir: Path, resume: bool, overwrite: bool = False) -> None:
    """Create run_dir, check it (`check_run_dir`), delete its old results with `overwrite`
    (`clear_results`, keeping a checkpoint of the same training settings that `resume`
    continues) and save the config."""
    run_dir = Path(run_dir)
    writable_run_dir(run_dir)
    check_run_dir(cfg, run_dir, resume, overwrite)
    if overwrite:
        clear_results(run_dir, keep_training=resume and trained_alike(cfg, run_dir))
    cfg.save(run_dir / CONFIG)


def check_run_dir(cfg: RunConfig, run_dir: Path, resume: bool, overwrite: bool = False) -> None:
    """Refuse (one line) to give a folder holding results another config. Without
    `resume`: any finished training or results (a new training would leave them beside a
    checkpoint that did not make them); with `resume`: a run of other training settings,
    or results of any other setting. `overwrite` (delete them first) passes."""
    run_dir = Path(run_dir)
    if overwrite:
        return
    if not resume:
        check_results_config(cfg, run_dir, "pass a new --run-dir, or --overwrite to delete them "
                                           "first", with_training=True)
        if finished_results(run_dir):
            raise CaeError(f"{run_dir} already holds a finished run "
                           f"({', '.join(finished_results(run_dir)[:3])}); pass --resume to "
                           f"keep it, --overwrite to delete it and train again, or a new --run-dir")
        return
    saved = run_dir / CONFIG
    there = load_config(saved) if saved.is_file() else None
    if there is not None and (there.fingerprint(training_only=True)
                              != cfg.fingerprint(training_only=True)):
        raise CaeError(f"{run_dir} holds a run of another configuration "
                       f"({changes(there, cfg, training_only=True)}); pass a new --run-dir, "
                       f"or --overwrite to delete it first")
    check_results_config(cfg, run_dir, "pass a new --run-dir, or --overwrite to delete them "
                                       "first (the training is kept)")


def finished_results(run_dir: Path) -> list[str]:
    """The finished training files and results run_dir holds (names)."""
    return [name for name in FINISHED_TRAINING + EVALUATION_RESULTS
            if (Path(run_dir) / name).exists()]


def results_config(run_dir: Path) -> RunConfig | None:
    """The config run_dir's results were computed under: the one `record_results_config`
    wrote; for runs written before that record, their config.json (never rewritten under
    results since); None when the folder holds no results."""
    run_dir = Path(run_dir)
    record = run_dir / RESULTS_CONFIG
    if record.is_file():
        try:
            return config_from_dict(read_run_json(record)["config"])
        except CaeError as exc:
            raise CaeError(f"cannot read {record} ({exc}); delete the run's results with "
                           f"--overwrite, or pass a new --run-dir") from None
    if any((run_dir / name).exists() for name in EVALUATION_RESULTS) and (run_dir / CONFIG).is_file():
        return load_config(run_dir / CONFIG)
    return None


def trained_alike(cfg: RunConfig, run_dir: Path) -> bool:
    """True when run_dir holds a checkpoint trained under cfg's training settings (its
    config.json differs from cfg in evaluation fields at most)."""
    saved = Path(run_dir) / CONFIG
    return ((Path(run_dir) / CHECKPOINT).is_file() and saved.is_file()
            and load_config(saved).fingerprint(training_only=True) == cfg.fingerprint(training_only=True))


def record_results_config(cfg: RunConfig, run_dir: Path) -> None:
    """Write `results_config.json`, the config of the results about to be written (and its
    fingerprint), before the first of them."""
    write_json(Path(run_dir) / RESULTS_CONFIG, {"fingerprint": cfg.fingerprint(),
                                                "config": cfg.to_dict()})


def check_results_config(cfg: RunConfig, run_dir: Path, how: str,
                         with_training: bool = False) -> None:
    """Raise CaeError when run_dir holds results computed under a config other than cfg
    (any field but the volatile ones), naming the fields and saying `how` to proceed. With
    `with_training`, a finished training counts too (its config is config.json)."""
    saved = Path(run_dir) / CONFIG
    there = results_config(run_dir)
    if there is None and with_training and finished_results(run_dir) and saved.is_file():
        there = load_config(saved)
    if there is not None and there.fingerprint() != cfg.fingerprint():
        raise CaeError(f"{run_dir} holds results of another configuration "
                       f"({changes(there, cfg)}); {how}")


def changes(there: RunConfig, asked: RunConfig, training_only: bool = False) -> str:
    """The fields on which two configs differ, as a refusal names them (three at most)."""
    found = [f"{name} {a!r} there, {b!r} asked"
             for name, (a, b) in differences(there, asked).items()
             if not (training_only and name in EVALUATION_FIELDS)]
    return ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")


def clear_results(run_dir: Path, keep_training: bool = False) -> None:
    """Delete everything in run_dir but its config and lock (and, with `keep_training`, the
    checkpoint and what finished training wrote) before a run writes new results there.

    Each entry is first moved into a hidden folder inside run_dir, the results record
    last, and that folder is then deleted (with any an earlier crash left): a crash part-way
    leaves only older results, still labelled with the config that made them, and never
    a mixture of old and new ones."""
    run_dir = Path(run_dir)
    kept = {CONFIG, LOCK_FILE} | ({CHECKPOINT, *FINISHED_TRAINING} if keep_training else set())
    aside = run_dir / f"{_SET_ASIDE}{os.getpid()}"
    try:
        aside.mkdir(exist_ok=True)
        entries = [p for p in run_dir.iterdir()
                   if p.name not in kept and not p.name.startswith(_SET_ASIDE)]
        for entry in sorted(entries, key=lambda p: p.name == RESULTS_CONFIG):
            entry.rename(aside / entry.name)
        for old in run_dir.glob(f"{_SET_ASIDE}*"):
            shutil.rmtree(old)
    except OSError as exc:
        raise CaeError(f"cannot delete the old results in {run_dir} ({exc.strerror or exc}); "
                       f"pass a new --run-dir") from None
