"""One run end to end: train, evaluate (with floors), baselines, figures, provenance.

What a run writes is described in `cae.infra.runs`. `reproduce` reuses the artifacts of a
finished run with the same config unless asked to retrain; no command gives a folder
holding results another config unless asked to delete them (`overwrite`), and each holds
the folder's lock while it works (`run_dir_lock`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from cae import names
from cae.config import RunConfig, clamp_warnings, clamped_settings, load_config
from cae.data.datasets import Dataset, load
from cae.errors import CaeError
from cae.evaluation.baselines import (
    baseline_rows,
    load_resnet18,
)
from cae.evaluation.floor_cache import (
    CACHE_DIR,
)
from cae.evaluation.floors import floor_rows
from cae.evaluation.protocols import (
    metrics_table,
)
from cae.evaluation.run_figures import RunResults, draw_figures
from cae.evaluation.scoring import (
    head_rows,
    mapping_against_k,
    merge_metrics,
    protocol_predictions,
    score_rows,
    write_metrics,
)
from cae.infra import run_lock
from cae.infra.distributed import check_global_batch, from_main, is_main, world_size
from cae.infra.files import write_json
from cae.infra.provenance import provenance
from cae.infra.run_files import read_run_json
from cae.infra.runs import (
    CONFIG,
    RunArtifacts,
    changes,
    check_results_config,
    check_run_dir,
    clear_results,
    prepare_run_dir,
    record_results_config,
    trained_alike,
    writable_run_dir,
)
from cae.infra.runtime import Runtime, encode, peak_rss_mb
from cae.method.checkpoints import load_networks, read_checkpoint
from cae.method.train import (
    clustered,
    train,
)


@contextlib.contextmanager
def run_dir_lock(run_dir: Path, create: bool = False) -> Iterator[None]:
    """Hold run_dir's lock (`cae.infra.run_lock`) for the block, in process 0 under torchrun;
    with `create`, make the folder first (refusing one that cannot be written), so that a
    new run is locked from its start."""
    if create and not from_main(Path(run_dir).is_dir):
        from_main(writable_run_dir, run_dir)
    from_main(run_lock.acquire, run_dir)
    try:
        yield
    finally:
        if is_main():
            run_lock.release(run_dir)


def check_before_work(cfg: RunConfig, run_dir: Path, baselines: bool, resume: bool = False,
                      overwrite: bool = False) -> None:
    """What a run needs that can fail, checked before the data is loaded: a writable run
    directory that holds no results of another config (`check_run_dir`) and, when the
    baselines will run, the ResNet-18 weights (or the explicit permission to use
    untrained ones). The data is checked when it is loaded."""
    check_global_batch(cfg.batch_size)
    writable_run_dir(run_dir)
    check_run_dir(cfg, run_dir, resume, overwrite)
    if baselines:
        load_resnet18(cfg.weights_path, cfg.allow_untrained_weights, cfg.seed)


def announce_clamps(cfg: RunConfig, data: Dataset) -> None:
    """Print a warning line (process 0) for each setting the training set clamps
    (`clamped_settings`; provenance.json records them), or refuse a k range it cannot hold."""
    clamped = clamped_settings(cfg, len(data.splits["train"]), world_size())
    if is_main():
        for line in clamp_warnings(clamped):
            print(line, file=sys.stderr)


def train_run(cfg: RunConfig, data: Dataset, run_dir: Path, resume: bool = False,
              runtime: Runtime | None = None, overwrite: bool = False) -> float:
    """Train and write history.json and elbow.json; returns the training wall time.
    Under torchrun every process trains and process 0 writes. The folder is checked (and,
    with `overwrite`, its old results deleted) by `prepare_run_dir`, after the global batch
    (`check_global_batch`) and the settings the data clamps (`announce_clamps`)."""
    check_global_batch(cfg.batch_size)
    announce_clamps(cfg, data)
    from_main(prepare_run_dir, cfg, run_dir, resume, overwrite)
    state = train(cfg, data, run_dir, resume, runtime)
    if is_main():
        write_json(run_dir / "history.json", state.history)
        elbow = state.elbow
        assert elbow is not None  # train returns once the prototypes are fitted
        write_json(run_dir / "elbow.json", {"k": elbow.k, "ks": elbow.ks,
                                             "inertias": elbow.inertias, "metric": elbow.metric,
                                             "scores": elbow.scores})
    return state.seconds


def evaluate_run(cfg: RunConfig, data: Dataset, run_dir: Path, floors: bool = True,
                 runtime: Runtime | None = None) -> pd.DataFrame:
    """Score the trained encoder (and the floors) and draw the run's figures, on the run's
    device and precision (resolved from cfg when not given). The config is recorded beside
    the results (`record_results_config`) before the first of them is written."""
    runtime = runtime or Runtime.resolve(cfg.device, cfg.precision, cfg.kernels)
    record_results_config(cfg, run_dir)
    device, precision = runtime.device, runtime.precision
    nets = load_networks(cfg, run_dir, data.n_channels, device)
    h = {s: encode(nets.encoder, data.splits[s].images, device, precision) for s in data.splits}
    c = {s: clustered(nets, v, cfg) for s, v in h.items()}
    eval_hs = {s: h[s] for s in data.eval_splits}
    predictions = protocol_predictions(h["train"], data, eval_hs, nets.require_prototypes().cpu(),
                                       cfg, c)
    rows = score_rows(names.OURS, predictions, data, cfg.seed)
    rows += head_rows(names.HEAD_MODEL, h["train"], data, eval_hs, cfg)
    if floors:
        rows += floor_rows(data, cfg, device, precision, Path(run_dir).parent / CACHE_DIR)
    table = metrics_table(rows)
    against_k = mapping_against_k(c, data, cfg)
    write_json(run_dir / "mapping_vs_k.json", against_k)
    draw_figures(RunResults(cfg, data, nets, h, c, predictions[names.STAT], against_k), run_dir, device)
    return table


def evaluate(run_dir: Path, floors: bool = True, overwrite: bool = False,
             **volatile: Any) -> pd.DataFrame:
    """Score a trained run under its config.json (`cae evaluate`; `volatile`: data_dir or
    device for this machine), merge the rows into its metrics and write or update its
    provenance.json. Results computed under another config are refused unless
    `overwrite`, which deletes every result first and keeps the training."""
    run_dir = Path(run_dir)
    cfg = dataclasses.replace(load_config(run_dir / CONFIG), **volatile).validate()
    if not overwrite:
        check_results_config(cfg, run_dir, "config.json was changed after them; pass "
                                           "--overwrite to delete them and score the run again")
        if (run_dir / "metrics.json").is_file():  # the rows kept beside the new ones: checked first
            read_run_json(run_dir / "metrics.json")
    trained = read_checkpoint(run_dir, cfg)
    for name in TRAINING_FILES:
        if not (run_dir / name).is_file():
            raise CaeError(f"{run_dir / name} is missing: training writes it beside the "
                           f"checkpoint; train the run again (`cae train --run-dir {run_dir} "
                           f"--overwrite`)")
    data = load(cfg)
    announce_clamps(cfg, data)
    if overwrite:
        clear_results(run_dir, keep_training=True)
    runtime = Runtime.resolve(cfg.device, cfg.precision, cfg.kernels)
    started = time.perf_counter()
    table = evaluate_run(cfg, data, run_dir, floors, runtime)
    elapsed = time.perf_counter() - started
    merge_metrics(table, run_dir)
    path = run_dir / "provenance.json"
    try:
        before = read_run_json(path) if path.is_file() else {}
    except CaeError:  # damaged: written again whole
        before = {}
    seconds = {name: t for name, t in before.get("wall_time_s", {"train": trained["seconds"]}).items()
               if name != "total"} | {"evaluate": elapsed}
    seconds["total"] = sum(seconds.values())
    peaks = before.get("peak_rss_mb_after", {}) | {"evaluate": round(peak_rss_mb())}
    write_json(path, provenance(cfg, data, seconds, runtime, peaks,
                                trained_by=(int(trained.get("world_size", 1)), trained.get("backend"))))
    return table


def reproduce(cfg: RunConfig, run_dir: Path, retrain: bool = False, baselines: bool = True,
              resume: bool = False, floors: bool = True, overwrite: bool = False
              ) -> RunArtifacts | None:
    """Train, evaluate and run the baselines for one config, or reuse a finished identical run.

    A folder holding results of another config is refused, unless `overwrite`, which
    deletes them first: a checkpoint of the same training settings is kept and scored
    again (an evaluation-only change), any other is trained again. `retrain` trains again
    a run of this config. Under torchrun every process trains; process 0 alone then
    evaluates, runs the baselines and writes, and the others return None once training
    is done."""
    run_dir = Path(run_dir)
    with run_dir_lock(run_dir, create=True):
        if not (retrain or resume or overwrite) and from_main((run_dir / "provenance.json").is_file):
            return from_main(_finished, cfg, run_dir)
        if retrain and not overwrite:
            from_main(check_results_config, cfg, run_dir, _ANOTHER_RUN, True)
        resume = resume or (overwrite and not retrain and from_main(trained_alike, cfg, run_dir))
        overwrite = overwrite or retrain
        from_main(check_before_work, cfg, run_dir, baselines, resume, overwrite)
        # once: training, scoring, provenance
        runtime = Runtime.resolve(cfg.device, cfg.precision, cfg.kernels)
        data = load(cfg)
        seconds = {"train": train_run(cfg, data, run_dir, resume, runtime, overwrite)}
        peaks = {"train": round(peak_rss_mb())}  # the process's peak so far, after each phase
        if not is_main():
            return None
        started = time.perf_counter()
        table = evaluate_run(cfg, data, run_dir, floors, runtime)
        seconds["evaluate"] = time.perf_counter() - started
        peaks["evaluate"] = round(peak_rss_mb())
        if baselines:
            started = time.perf_counter()
            table = metrics_table(table.to_dict("records") + baseline_rows(cfg, data, runtime))
            seconds["baselines"] = time.perf_counter() - started
            peaks["baselines"] = round(peak_rss_mb())
        seconds["total"] = sum(seconds.values())
        write_metrics(table, run_dir)
        write_json(run_dir / "provenance.json", provenance(cfg, data, seconds, runtime, peaks))
        return RunArtifacts.read(run_dir)


TRAINING_FILES = ("history.json", "elbow.json")  # written by training; read by the figures

_ANOTHER_RUN = "pass a new --run-dir, or --overwrite (overwrite=True) to delete them first"


def _finished(cfg: RunConfig, run_dir: Path) -> RunArtifacts:
    """The finished run in run_dir, refused unless its results and its config.json are
    both of cfg."""
    check_results_config(cfg, run_dir, _ANOTHER_RUN)
    done = RunArtifacts.read(run_dir)
    if done.config.fingerprint() != cfg.fingerprint():
        raise CaeError(f"{run_dir / CONFIG} was changed after the run's results were computed "
                       f"({changes(done.config, cfg)}); {_ANOTHER_RUN}")
    return done

