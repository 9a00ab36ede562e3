"""Where a fresh evaluation spends its time and memory.

Copies a trained run (its config, checkpoint, history and elbow only) into a new folder whose
parent holds no floors cache, so the data-only floors are computed as on a new user's
first run, then runs `cae evaluate` there in a fresh process and reports its wall time
and peak resident memory (the process's own high-water mark); then does it all again,
from another fresh folder, under cProfile, for the cumulative time of each part:
encoding, the three protocols, the floors (data-only and
untrained encoder), the clustering head (SCAN or N2D, with UMAP's nearest-neighbour
search and numba's compilation inside it), the against-k scoring, the figures (t-SNE)
and the decoder export. With `--compare`, also says whether every row of the new
metrics.json equals, to the last digit, the row of the same model, split and protocol in
the run folder given (a run made by `cae reproduce` also holds the baselines' rows, which
`cae evaluate` does not write).

Usage: python benchmarks/evaluation.py RUN_DIR --data-dir DIR [--compare]
       [--json benchmarks/results/NAME.json]
"""

from __future__ import annotations

import argparse
import json
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# (label, file suffix, function name) of the parts reported, by cumulative time
PARTS = (
    ("evaluation in all", "cae/pipeline.py", "evaluate_run"),
    ("encoding every split", "cae/infra/runtime.py", "encode"),
    ("our protocols (a), (b), (c)", "cae/evaluation/scoring.py", "protocol_predictions"),
    ("clustering head", "cae/method/cluster_head.py", "head_clusters"),
    ("  of which UMAP's fit", "umap/umap_.py", "fit"),
    ("  of which numba compiling", "numba/core/dispatcher.py", "_compile_for_args"),
    ("floors (majority, raw pixels, untrained encoder)", "cae/evaluation/floors.py", "floor_rows"),
    ("  of which the data-only floors", "cae/evaluation/floors.py", "data_floor_rows"),
    ("protocol (a) against k", "cae/evaluation/scoring.py", "mapping_against_k"),
    ("figures", "cae/evaluation/run_figures.py", "draw_figures"),
    ("  of which t-SNE", "cae/evaluation/run_figures.py", "draw_tsne"),
    ("decoder export (ONNX)", "cae/evaluation/export.py", "export_decoder"),
)


def cumulative_seconds(profile: Path) -> dict[str, float]:
    """Seconds of each PARTS entry (summed over its calls) in a cProfile file."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    seconds = {}
    for label, suffix, name in PARTS:
        seconds[label] = sum(ct for (path, _line, func), (_cc, _nc, _tt, ct, _callers)
                             in stats.items() if path.endswith(suffix) and func == name)
    return seconds


def same_rows(new: Path, old: Path) -> bool:
    """Whether every row of metrics file `new` is in `old`, every value equal."""
    def key(row: dict) -> tuple:
        return row["model"], row["split"], row["protocol"], row.get("seed")

    def same(a: object, b: object) -> bool:  # NaN (a metric that does not apply) equals NaN
        return a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)

    kept = {key(row): row for row in json.loads(old.read_text())}
    return all(key(row) in kept and all(same(v, kept[key(row)].get(k)) for k, v in row.items())
               for row in json.loads(new.read_text()))


def fresh_copy(trained: Path, parent: Path) -> Path:
    """The training files of a run in parent/<its name>, with no floors cache beside it."""
    run = parent / trained.name
    run.mkdir(parents=True)
    for name in ("config.json", "checkpoint.pt", "history.json", "elbow.json"):
        shutil.copy2(trained / name, run / name)
    return run


def evaluate(run: Path, data_dir: str, python_args: list[str]) -> tuple[float, float]:
    """`cae evaluate` of run in a fresh process (with `python_args` before `-m cae`): its
    wall time and its peak resident memory in MB."""
    cmd = [sys.executable, *python_args, "-m", "cae", "evaluate", "--run-dir", str(run),
           "--data-dir", data_dir]
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True,
                          text=True)
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--compare", action="store_true",
                        help="say whether every new metrics row equals RUN_DIR's to the last digit")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (args.run_dir / "checkpoint.pt").is_file():
        sys.exit(f"{args.run_dir} has no checkpoint.pt: train the run first")
    with tempfile.TemporaryDirectory() as tmp:
        run = fresh_copy(args.run_dir, Path(tmp) / "plain")
        wall, peak_mb = evaluate(run, args.data_dir, [])
        equal = (same_rows(run / "metrics.json", args.run_dir / "metrics.json")
                 if args.compare else None)
        profile = Path(tmp) / "evaluate.prof"
        profiled_wall, _ = evaluate(fresh_copy(args.run_dir, Path(tmp) / "profiled"),
                                    args.data_dir, ["-m", "cProfile", "-o", str(profile)])
        parts = cumulative_seconds(profile)
        config = json.loads((run / "config.json").read_text())

    from cae.infra.files import report_json
    from cae.infra.runtime import cpu_flags, cpu_name

    result = {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "run": str(args.run_dir),
              "dataset": config["dataset"], "profile": config["profile"],
              "head_method": config.get("head_method", "scan"),
              "wall_s": round(wall, 1), "peak_rss_mb": round(peak_mb),
              "profiled_wall_s": round(profiled_wall, 1),
              "parts_s": {k: round(v, 1) for k, v in parts.items()},
              "metrics_rows_equal": equal}
    report_json(result, args.json)


if __name__ == "__main__":
    main()
