"""One run end to end: train, evaluate (with floors), baselines, figures, provenance.

What a run writes is described in `cae.infra.runs`. `reproduce` reuses the artifacts of a
finished run with the same config unless asked to retrain.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from cae import names
from cae.config import RunConfig
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
    protocol_predictions,
    score_rows,
    write_metrics,
)
from cae.infra.distributed import from_main, is_main
from cae.infra.files import write_json
from cae.infra.provenance import provenance
from cae.infra.runs import RunArtifacts, prepare_run_dir, writable_run_dir
from cae.infra.runtime import Runtime, encode, peak_rss_mb
from cae.method.checkpoints import load_networks
from cae.method.train import (
    clustered,
    train,
)


def check_before_work(cfg: RunConfig, run_dir: Path, baselines: bool) -> None:
    """What a run needs that can fail, checked before the first epoch: a writable run
    directory and, when the baselines will run, the ResNet-18 weights (or the explicit
    permission to use untrained ones). The data is checked when it is loaded."""
    writable_run_dir(run_dir)
    if baselines:
        load_resnet18(cfg.weights_path, cfg.allow_untrained_weights, cfg.seed)


def train_run(cfg: RunConfig, data: Dataset, run_dir: Path, resume: bool = False,
              runtime: Runtime | None = None) -> float:
    """Train and write history.json and elbow.json; returns the training wall time.
    Under torchrun every process trains and process 0 writes."""
    from_main(prepare_run_dir, cfg, run_dir, resume)
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
    device and precision (resolved from cfg when not given)."""
    runtime = runtime or Runtime.resolve(cfg.device, cfg.precision)
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


def reproduce(cfg: RunConfig, run_dir: Path, retrain: bool = False, baselines: bool = True,
              resume: bool = False, floors: bool = True) -> RunArtifacts | None:
    """Train, evaluate and run the baselines for one config, or reuse a finished identical run.

    Under torchrun every process trains; process 0 alone then evaluates, runs the
    baselines and writes, and the others return None once training is done."""
    run_dir = Path(run_dir)
    if not retrain and not resume and from_main((run_dir / "provenance.json").is_file):
        done = from_main(RunArtifacts.read, run_dir)
        if done.config.fingerprint() != cfg.fingerprint():
            raise CaeError(f"{run_dir} holds a finished run with another configuration; pass "
                           f"--retrain (retrain=True) to replace it, or use another run dir")
        return done
    from_main(check_before_work, cfg, run_dir, baselines)
    runtime = Runtime.resolve(cfg.device, cfg.precision)  # once: training, scoring, provenance
    data = load(cfg)
    seconds = {"train": train_run(cfg, data, run_dir, resume, runtime)}
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


