"""Copy executed notebooks over notebooks/*.ipynb, whose stored outputs the book renders.

Takes the copies that scripts/execute_notebooks.sh wrote (default _build/executed/) and
drops what execution added but the sources do not hold: papermill's injected-parameters
cell and metadata, and per-cell timings. The committed cells therefore stay those of the
paired .py file and only the outputs change; the script checks that pairing at the end.

It refuses copies executed with another profile than `paper` or against another runs
folder than artifacts/, since the book must show the committed paper-profile runs;
--allow-other-runs lifts that (e.g. smoke outputs while no paper artifacts exist; each
page then says which profile its numbers come from).

Usage: .venv/bin/python scripts/publish_notebooks.py [--from DIR] [--allow-other-runs] [NOTEBOOK ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PAPER_RUNS = ROOT / "artifacts"


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without papermill's injected cell, papermill metadata and cell timings.

    It gets the python3 kernelspec, so Jupyter and Binder open it with the right kernel.
    """
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    return nb


def provenance_problem(nb: nbformat.NotebookNode) -> str | None:
    """Why an executed notebook does not show the committed paper runs, or None."""
    parameters = nb.metadata.get("papermill", {}).get("parameters", {})
    profile, runs_root = parameters.get("profile"), parameters.get("runs_root")
    if profile is not None and profile != "paper":
        return f"executed with profile={profile!r}, not 'paper'"
    if runs_root is not None and Path(runs_root).resolve() != PAPER_RUNS:
        return f"executed against runs_root={runs_root!r}, not {PAPER_RUNS}"
    return None


def paired_source_differs(ipynb: Path) -> bool:
    """True when the notebook's cells differ from its paired percent-format .py file."""
    expected = jupytext.writes(jupytext.read(ipynb), fmt="py:percent")
    return expected != ipynb.with_suffix(".py").read_text(encoding="utf8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=ROOT / "_build" / "executed",
                        help="folder of executed notebooks (default _build/executed)")
    parser.add_argument("--allow-other-runs", action="store_true",
                        help="publish outputs of another profile or runs folder than artifacts/")
    parser.add_argument("notebooks", nargs="*", help="names such as 01_mnist (default: all)")
    args = parser.parse_args()

    names = args.notebooks or sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    failures = []
    for name in names:
        executed = args.source / f"{name}.ipynb"
        if not executed.is_file():
            failures.append(f"{executed} not found; run scripts/execute_notebooks.sh first")
            continue
        nb = nbformat.read(executed, as_version=4)
        problem = provenance_problem(nb)
        if problem and not args.allow_other_runs:
            failures.append(f"{name}: {problem}; pass --allow-other-runs to publish it anyway")
            continue
        target = NOTEBOOKS / f"{name}.ipynb"
        nbformat.write(clean(nb), target)
        if paired_source_differs(target):
            failures.append(f"{name}: the executed cells differ from notebooks/{name}.py "
                            "(edited after execution?); run jupytext --sync and execute again")
        else:
            print(f"published {executed} -> {target.relative_to(ROOT)}")
    for failure in failures:
        print(f"publish_notebooks.py: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
