"""The `cae` command line: train, evaluate, baselines, reproduce, export-decoder.

Every command builds one `RunConfig` (profile + options + `--set name=value`) and
writes into a run directory, which holds the results of one config (`--overwrite` deletes
them to make room for another) and one command at a time (`cae.infra.run_lock`). Bad input
gets one line on stderr and exit status 2.
`reproduce` and `evaluate` end by exporting the run's decoder to ONNX (`cae.evaluation.export`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from cae.config import (
    MAX_BATCH,
    MAX_EPOCHS,
    PROFILES,
    RunConfig,
    coerce_field,
    make_config,
    with_scaled_schedule,
)
from cae.errors import CaeError
from cae.evaluation.protocols import metrics_table

SUMMARY_COLUMNS = ["model", "split", "protocol", "accuracy", "precision_macro", "recall_macro", "auc"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset",
                        help="mnist or any single-label 2D MedMNIST name, e.g. pneumoniamnist (default)")
    parser.add_argument("--profile", default="quick", choices=list(PROFILES),
                        help="smoke: seconds; quick (default): minutes on a CPU; "
                             "paper: the paper's 100 epochs, 50 of warm-up; validated: the "
                             "paper's schedule with the open choices set on val; beyond: "
                             "validated + intensity jitter + batch 1024 (not in the paper); "
                             "authors: every setting the first author's code fixes")
    parser.add_argument("--seed", type=int, help="seed of everything random (default 0)")
    _data_dir_and_device(parser)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                        help="auto (default): bf16 on CUDA and on CPUs with AMX, else fp32")
    parser.add_argument("--kernels", choices=["auto", "exact", "fast"],
                        help="auto (default): fast on the CPU, exact on CUDA; exact: the kernels "
                             "of every committed run (bit-for-bit reruns); fast: the same maths, "
                             "the blur as matrix products and LARS multi-tensor, other rounding")
    parser.add_argument("--epochs", type=int,
                        help=f"total epochs (phase 1 + phase 2, at most {MAX_EPOCHS:,}); the "
                             "profile's phase-1 and "
                             "lr warm-up shares scale with it unless set with --set")
    parser.add_argument("--batch-size", type=int,
                        help=f"images per batch (two views each; at most {MAX_BATCH:,}, and at "
                             "most the training set, a cut the run reports)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="set any RunConfig field, e.g. --set temperature=0.2 "
                             "(repeatable; tuples as 32,64,128; sizes and counts have "
                             "ceilings, listed in the README)")
    _run_dir(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="folder with local data copies (default: "
                                           "$CAE_DATA_DIR, else each library's cache)")


def _data_dir_and_device(parser: argparse.ArgumentParser) -> None:
    _data_dir(parser)
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")


def _run_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path,
                        help="where config, checkpoint, metrics and figures go "
                             "(default runs/<dataset>-<profile>-seed<seed>); one command "
                             "at a time works in it")


def _overwrite(parser: argparse.ArgumentParser, kept: str) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the run directory's old results first (a folder holding "
                             f"results of another configuration is refused without it); {kept}")


def _weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights-path", help="ImageNet ResNet-18 weights file "
                                               "(default: torch hub cache)")
    parser.add_argument("--allow-untrained-weights", action="store_true",
                        help="run the ResNet-18 baselines on an untrained network when no "
                             "ImageNet weights are available (rows are labelled untrained)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cae", description="Contrastive autoencoder for unsupervised medical image "
                                "clustering and reconstruction (Ferrante et al.).")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train both phases (checkpoint every epoch)")
    _common(train)
    train.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    _overwrite(train, "with --resume a checkpoint of the same training settings is kept")

    evaluate = commands.add_parser("evaluate", help="score a trained run: 3 protocols + floors, "
                                                    "figures, the decoder as ONNX")
    _run_dir(evaluate)
    _data_dir_and_device(evaluate)
    evaluate.add_argument("--no-floors", action="store_true",
                          help="skip majority-class, raw-pixel and untrained-encoder rows")
    _overwrite(evaluate, "the training is kept")

    baselines = commands.add_parser("baselines", help="ResNet-18 transfer and ResNet-18 features + KMeans")
    _common(baselines)
    _weights(baselines)
    _overwrite(baselines, "a checkpoint of the same training settings is kept")

    reproduce = commands.add_parser("reproduce", help="train + evaluate + baselines for one dataset "
                                                      "and profile, then export the decoder")
    _common(reproduce)
    _weights(reproduce)
    reproduce.add_argument("--retrain", action="store_true",
                           help="train this configuration again even if the run is complete, "
                                "deleting its old results first")
    _overwrite(reproduce, "a checkpoint of the same training settings is kept and scored "
                          "again (a change of evaluation settings only)")
    reproduce.add_argument("--resume", action="store_true", help="continue an interrupted run")
    reproduce.add_argument("--no-baselines", action="store_true", help="skip the ResNet-18 baselines")
    reproduce.add_argument("--no-floors", action="store_true",
                           help="skip majority-class, raw-pixel and untrained-encoder rows")

    export = commands.add_parser("export-decoder",
                                 help="write a finished run's conditional decoder as decoder.onnx "
                                      "(mixing weights over the prototypes and a temperature in, "
                                      "image and soft assignment out) with decoder.json, for the "
                                      "book's prototype explorer")
    _run_dir(export)
    _data_dir(export)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of the options: profile, explicit flags, then --set pairs."""
    overrides = {}
    for pair in args.set:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CaeError(f"--set expects NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value.strip()
    for name in ("dataset", "seed", "data_dir", "device", "precision", "kernels", "epochs",
                 "batch_size", "weights_path"):
        flag = getattr(args, name, None)
        if flag is None:
            continue
        if name in overrides and coerce_field(name, overrides[name]) != coerce_field(name, flag):
            raise CaeError(f"--{name.replace('_', '-')} {flag} and --set {name}={overrides[name]} "
                           f"disagree; give the value once")
        overrides[name] = flag
    if getattr(args, "allow_untrained_weights", False):
        overrides["allow_untrained_weights"] = True
    if args.quiet:
        overrides["progress"] = False
    return make_config(args.profile, **with_scaled_schedule(args.profile, overrides))


def _summary(table: pd.DataFrame) -> str:
    columns = [c for c in SUMMARY_COLUMNS + ["weights"] if c in table.columns]
    return table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def _export(run_dir: Path, data_dir: str | None = None) -> None:
    from cae.evaluation.export import export_decoder

    print(f"decoder for the prototype explorer in {export_decoder(run_dir, data_dir)}")


def _run(args: argparse.Namespace) -> None:
    from cae import pipeline
    from cae.data.datasets import load
    from cae.evaluation.baselines import baseline_rows
    from cae.evaluation.scoring import merge_metrics
    from cae.infra import distributed, runs
    from cae.infra.runtime import resolve_device

    if distributed.launched() and args.command not in ("train", "reproduce"):
        raise CaeError(f"`cae {args.command}` runs in one process; run it without torchrun "
                       f"(torchrun launches `cae train` and `cae reproduce`)")
    if args.command == "export-decoder":
        if args.run_dir is None:
            raise CaeError("export-decoder needs --run-dir (a run finished by `cae train`)")
        with pipeline.run_dir_lock(args.run_dir):
            _export(args.run_dir, args.data_dir)
        return
    if args.command == "evaluate":
        if args.run_dir is None:
            raise CaeError("evaluate needs --run-dir (a folder written by `cae train`)")
        volatile = {k: getattr(args, k) for k in ("data_dir", "device") if getattr(args, k)}
        with pipeline.run_dir_lock(args.run_dir):
            table = pipeline.evaluate(args.run_dir, not args.no_floors, args.overwrite, **volatile)
            print(_summary(table))
            print(f"metrics and figures in {args.run_dir}")
            _export(args.run_dir, args.data_dir)
        return

    cfg = config_from_args(args)
    run_dir = args.run_dir or runs.run_dir_for(cfg)
    started = time.perf_counter()
    if args.command == "train":
        with distributed.process_group(resolve_device(cfg.device)), \
                pipeline.run_dir_lock(run_dir, create=True):
            distributed.from_main(runs.check_run_dir, cfg, run_dir, args.resume, args.overwrite)
            pipeline.train_run(cfg, load(cfg), run_dir, args.resume, overwrite=args.overwrite)
            if distributed.is_main():
                print(f"trained in {time.perf_counter() - started:.0f} s; checkpoint in {run_dir}")
    elif args.command == "baselines":
        with pipeline.run_dir_lock(run_dir, create=True):
            runs.prepare_run_dir(cfg, run_dir, resume=True, overwrite=args.overwrite)
            table = metrics_table(baseline_rows(cfg, load(cfg)))
            runs.record_results_config(cfg, run_dir)
            merge_metrics(table, run_dir)
        print(_summary(table))
        print(f"baseline rows merged into {run_dir / 'metrics.json'}")
    else:
        with distributed.process_group(resolve_device(cfg.device)), \
                pipeline.run_dir_lock(run_dir, create=True):
            artifacts = pipeline.reproduce(cfg, run_dir, retrain=args.retrain,
                                           baselines=not args.no_baselines, resume=args.resume,
                                           floors=not args.no_floors, overwrite=args.overwrite)
            if artifacts is None:  # a torchrun process other than 0: it trained, 0 writes
                return
            print(_summary(artifacts.metrics))
            seconds = artifacts.provenance["wall_time_s"]["total"]
            print(f"run complete ({seconds:.0f} s of compute); artifacts in {run_dir}")
            if (run_dir / runs.CHECKPOINT).is_file():  # a finished run reused from a clone has none
                _export(run_dir, cfg.data_dir)


_AFTER_INTERRUPT = {"train": "continue with --resume", "reproduce": "continue with --resume",
                    "evaluate": "its results may be incomplete; run `cae evaluate` again",
                    "baselines": "run `cae baselines` again",
                    "export-decoder": "run `cae export-decoder` again"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _run(args)
    except CaeError as exc:
        print(f"cae: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cae: interrupted; {_AFTER_INTERRUPT[args.command]}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
