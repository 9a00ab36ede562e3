"""Does bf16 change quality? PneumoniaMNIST `quick` runs in bf16 and in fp32, same seeds.

Trains (unless the runs exist) `cae reproduce --profile quick --no-floors --no-baselines`
for each seed and precision into RUNS/pneumoniamnist-quick-{bf16,fp32}-seed<s>/, then
compares val and test kNN and linear accuracy: the mean of each precision with its 95%
t-interval over seeds, and whether the bf16 mean lies inside the fp32 interval (and the
other way round). Writes the result, with the CPU and its bf16 flags, as JSON.

Usage: python benchmarks/bf16_quality.py --data-dir DIR [--seeds 0 1 2]
       [--runs artifacts/bf16] [--json benchmarks/results/bf16-quality.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from cae.infra.runs import finished_under
from cae.infra.runtime import cpu_flags, cpu_name, cpu_supports_bf16
from cae.report.stats import t_interval

PROTOCOLS = ("knn", "lin")


def run(data_dir: str, seed: int, precision: str, run_dir: Path) -> None:
    """One quick-profile run of our encoder alone, unless it is already finished."""
    if (run_dir / "provenance.json").is_file():
        return
    subprocess.run([sys.executable, "-m", "cae.cli", "reproduce", "--dataset", "pneumoniamnist",
                    "--profile", "quick", "--seed", str(seed), "--precision", precision,
                    "--data-dir", data_dir, "--no-floors", "--no-baselines", "--quiet",
                    "--run-dir", str(run_dir)], check=True)


def compare(runs_root: Path) -> list[dict]:
    """Per split and protocol: each precision's mean and interval, and whether they overlap."""
    rows = []
    for artifacts in finished_under(runs_root):
        m = artifacts.metrics
        ours = m[(m["model"] == "CAE (ours)") & m["protocol"].isin(PROTOCOLS)]
        for r in ours.itertuples():
            rows.append(dict(precision=artifacts.provenance["precision"], seed=r.seed,
                             split=r.split, protocol=r.protocol, accuracy=r.accuracy))
    table = pd.DataFrame(rows)
    result = []
    for (split, protocol), group in table.groupby(["split", "protocol"]):
        cell = {"split": split, "protocol": protocol}
        for precision, part in group.groupby("precision"):
            values = part.sort_values("seed")["accuracy"].to_numpy()
            lo, hi = t_interval(values)
            cell[precision] = {"mean": float(values.mean()), "lo": lo, "hi": hi,
                               "seeds": part.sort_values("seed")["seed"].tolist(),
                               "values": values.tolist()}
        if {"bf16", "fp32"} <= set(cell):
            b, f = cell["bf16"], cell["fp32"]
            cell["bf16_mean_in_fp32_interval"] = bool(f["lo"] <= b["mean"] <= f["hi"])
            cell["fp32_mean_in_bf16_interval"] = bool(b["lo"] <= f["mean"] <= b["hi"])
        result.append(cell)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=Path("artifacts/bf16"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bf16-quality.json"))
    args = parser.parse_args()
    if not cpu_supports_bf16():
        sys.exit("this CPU has no bf16 units (AVX512-BF16 or AMX): bf16 would be emulated, "
                 "hundreds of times slower; run this on a bf16-capable CPU")
    for seed in args.seeds:
        for precision in ("bf16", "fp32"):
            run(args.data_dir, seed, precision,
                args.runs / f"pneumoniamnist-quick-{precision}-seed{seed}")
    result = {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "profile": "quick",
              "dataset": "pneumoniamnist", "cells": compare(args.runs)}
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
