"""What a reader on Binder meets: the PneumoniaMNIST chapter rerun on one core, measured.

Runs `notebooks/02_pneumoniamnist.ipynb` with papermill on the `quick` profile into a fresh
runs folder (so it trains, evaluates and computes the floors, as a new user's first run
does), pinned to one core (`taskset -c 0`, one thread for torch, OpenMP and BLAS), and
records its wall time and the peak memory of the largest process (the notebook's kernel),
beside what `import torch` and `import cae.pipeline` alone cost. Binder gives about 2 GB of
memory and one core; the targets are under 2 GB and under 10 minutes.

Usage: .venv/bin/python benchmarks/binder.py --data-dir DIR [--profile quick]
       [--json benchmarks/results/binder-1core-NAME.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_pneumoniamnist.ipynb"
TARGETS = {"peak_rss_mb": 2048, "wall_s": 600}
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")}


def pinned(command: list[str]) -> list[str]:
    """The command on core 0 alone, where taskset exists."""
    return ["taskset", "-c", "0", *command] if shutil.which("taskset") else command


def import_cost(module: str) -> dict[str, float]:
    """Seconds and peak MB of a fresh one-core interpreter that imports `module` alone."""
    code = ("import resource, time; t = time.perf_counter(); import " + module +
            "; print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run(pinned([sys.executable, "-c", code]), capture_output=True, text=True,
                         check=True, env={**os.environ, **ONE_THREAD}).stdout.split()
    return {"seconds": round(float(out[0]), 2), "peak_rss_mb": round(int(out[1]) / 1024)}


def run_chapter(profile: str, data_dir: str | None) -> dict[str, float]:
    """Wall time and the largest descendant's peak RSS of one papermill run of the chapter."""
    with tempfile.TemporaryDirectory(prefix="cae-binder-") as tmp:
        command = [sys.executable, "-m", "papermill", str(NOTEBOOK), str(Path(tmp) / "out.ipynb"),
                   "--cwd", str(NOTEBOOK.parent), "--kernel", "python3", "--no-progress-bar",
                   "-p", "profile", profile, "-p", "runs_root", str(Path(tmp) / "runs")]
        if data_dir:
            command += ["-p", "data_dir", str(Path(data_dir).resolve())]
        started = time.perf_counter()
        subprocess.run(pinned(command), check=True, env={**os.environ, **ONE_THREAD})
        wall = time.perf_counter() - started
        # what the chapter's run did: its optimizer steps, precision and phase times
        trained = [json.loads(p.read_text()) for p in (Path(tmp) / "runs").glob("*/provenance.json")]
    # the largest waited-for descendant (papermill's kernel) in MB (ru_maxrss is in KB)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    runs = [{"steps": p.get("steps", {}).get("total"), "precision": p["precision"],
             "cpu_threads": p.get("cpu_threads"), "wall_time_s": p["wall_time_s"]} for p in trained]
    return {"wall_s": round(wall, 1), "peak_rss_mb": round(peak), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CAE_DATA_DIR"))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from cae.infra.files import report_json
    from cae.infra.runtime import cpu_flags, cpu_name

    imports = {module: import_cost(module) for module in ("torch", "cae.pipeline")}
    chapter = run_chapter(args.profile, args.data_dir)
    result = {"notebook": NOTEBOOK.name, "profile": args.profile, "cores": 1,
              "cpu": cpu_name(), "cpu_flags": cpu_flags(), **chapter, "imports": imports,
              "targets": TARGETS,
              "met": {name: chapter[name] < limit for name, limit in TARGETS.items()}}
    report_json(result, args.json)


if __name__ == "__main__":
    main()
