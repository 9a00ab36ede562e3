"""Where a fresh evaluation spends its time and memory.

Copies a trained run (its config.json and checkpoint.pt only) into a new folder whose
parent holds no floors cache, so the data-only floors are computed as on a new user's
first run, then runs `cae evaluate` there in a fresh process under cProfile and reports
its wall time, peak resident memory (the process's own high-water mark) and the
cumulative time of each part: encoding, the three protocols, the floors (data-only and
untrained encoder), the clustering head (SCAN or N2D, with UMAP's nearest-neighbour
search and numba's compilation inside it), the against-k scoring, the figures (t-SNE)
and the decoder export. With `--compare`, also says whether the new metrics.json is
byte-equal to the one in the run folder given.

Usage: python benchmarks/evaluation.py RUN_DIR --data-dir DIR [--compare]
       [--json benchmarks/results/NAME.json]
"""

from __future__ import annotations

import argparse
import json
import pstats
import resource
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--compare", action="store_true",
                        help="say whether the new metrics.json is byte-equal to RUN_DIR's")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (args.run_dir / "checkpoint.pt").is_file():
        sys.exit(f"{args.run_dir} has no checkpoint.pt: train the run first")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "fresh" / args.run_dir.name
        run.mkdir(parents=True)
        for name in ("config.json", "checkpoint.pt"):
            shutil.copy2(args.run_dir / name, run / name)
        profile = Path(tmp) / "evaluate.prof"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "cae",
                        "evaluate", "--run-dir", str(run), "--data-dir", args.data_dir],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        parts = cumulative_seconds(profile)
        equal = ((run / "metrics.json").read_bytes() == (args.run_dir / "metrics.json").read_bytes()
                 if args.compare else None)
        config = json.loads((run / "config.json").read_text())

    from cae.infra.runtime import cpu_flags, cpu_name

    result = {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "run": str(args.run_dir),
              "dataset": config["dataset"], "profile": config["profile"],
              "head_method": config.get("head_method", "scan"),
              "wall_s": round(wall, 1), "peak_rss_mb": round(peak_mb),
              "profiled": "under cProfile, which adds its own overhead to the wall time",
              "parts_s": {k: round(v, 1) for k, v in parts.items()},
              "metrics_byte_equal": equal}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
