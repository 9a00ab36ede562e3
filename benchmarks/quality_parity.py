"""Does a speed setting change quality? PneumoniaMNIST `quick` runs under two values of
`precision` (bf16, fp32) or of `kernels` (fast, exact), same seeds.

Trains (unless the runs exist) `cae reproduce --profile quick --no-floors --no-baselines`
for each seed and value into RUNS/pneumoniamnist-quick-<value>-seed<s>/, then compares
val and test kNN and linear accuracy: the mean of each value with its 95% t-interval
over seeds, and whether each value's mean lies inside the other's interval. Writes the
result, with the CPU and its flags, as JSON. Which value a run used is read from its
provenance (as resolved, e.g. `auto` precision made concrete).

Usage: python benchmarks/quality_parity.py --data-dir DIR [--setting precision|kernels]
       [--seeds 0 1 2] [--runs artifacts/bf16] [--json benchmarks/results/NAME.json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from cae.infra.files import report_json
from cae.infra.runs import finished_under
from cae.infra.runtime import cpu_flags, cpu_name, cpu_supports_bf16
from cae.report.stats import t_interval

PROTOCOLS = ("knn", "lin")
VALUES = {"precision": ("bf16", "fp32"), "kernels": ("fast", "exact")}


def run(data_dir: str, seed: int, setting: str, value: str, run_dir: Path) -> None:
    """One quick-profile run of our encoder alone, unless it is already finished."""
    if (run_dir / "provenance.json").is_file():
        return
    subprocess.run([sys.executable, "-m", "cae.cli", "reproduce", "--dataset", "pneumoniamnist",
                    "--profile", "quick", "--seed", str(seed), f"--{setting}", value,
                    "--data-dir", data_dir, "--no-floors", "--no-baselines", "--quiet",
                    "--run-dir", str(run_dir)], check=True)


def compare(runs_root: Path, setting: str) -> list[dict]:
    """Per split and protocol: each value's mean and interval, and whether they overlap."""
    rows = []
    for artifacts in finished_under(runs_root):
        m = artifacts.metrics
        ours = m[(m["model"] == "CAE (ours)") & m["protocol"].isin(PROTOCOLS)]
        for r in ours.itertuples():
            rows.append(dict(value=artifacts.provenance.get(setting, "exact"), seed=r.seed,
                             split=r.split, protocol=r.protocol, accuracy=r.accuracy))
    table = pd.DataFrame(rows)
    a, b = VALUES[setting]
    result = []
    for (split, protocol), group in table.groupby(["split", "protocol"]):
        cell = {"split": split, "protocol": protocol}
        for value, part in group.groupby("value"):
            values = part.sort_values("seed")["accuracy"].to_numpy()
            lo, hi = t_interval(values)
            cell[value] = {"mean": float(values.mean()), "lo": lo, "hi": hi,
                           "seeds": part.sort_values("seed")["seed"].tolist(),
                           "values": values.tolist()}
        if {a, b} <= set(cell):
            cell[f"{a}_mean_in_{b}_interval"] = bool(cell[b]["lo"] <= cell[a]["mean"] <= cell[b]["hi"])
            cell[f"{b}_mean_in_{a}_interval"] = bool(cell[a]["lo"] <= cell[b]["mean"] <= cell[a]["hi"])
        result.append(cell)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--setting", choices=list(VALUES), default="precision")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, help="default: artifacts/bf16 for precision, "
                                                  "artifacts/kernels for kernels")
    parser.add_argument("--json", type=Path, help="default: benchmarks/results/<setting>-quality.json")
    args = parser.parse_args()
    runs = args.runs or Path("artifacts") / ("bf16" if args.setting == "precision" else "kernels")
    out = args.json or Path(f"benchmarks/results/{args.setting}-quality.json")
    if args.setting == "precision" and not cpu_supports_bf16():
        sys.exit("this CPU has no bf16 units (AVX512-BF16 or AMX): bf16 would be emulated, "
                 "hundreds of times slower; run this on a bf16-capable CPU")
    for seed in args.seeds:
        for value in VALUES[args.setting]:
            run(args.data_dir, seed, args.setting, value,
                runs / f"pneumoniamnist-quick-{value}-seed{seed}")
    result = {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "profile": "quick",
              "dataset": "pneumoniamnist", "setting": args.setting,
              "cells": compare(runs, args.setting)}
    report_json(result, out)


if __name__ == "__main__":
    main()
