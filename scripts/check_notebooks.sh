#!/usr/bin/env bash
# CI check of the notebooks, in three steps:
#   1. drift: every notebooks/*.ipynb has the same cells as its paired .py (jupytext);
#   2. papermill executes all five with the smoke profile on the real data, training
#      fresh runs in a temporary runs folder (scripts/execute_notebooks.sh);
#   3. nbval re-executes the executed copies and compares every output with the stored
#      one (the runs are read back, not retrained, so the numbers must match exactly;
#      nbval_sanitize.cfg masks only memory addresses and wall times).
# Usage: DATA_DIR=/path/to/data scripts/check_notebooks.sh   (or set CAE_DATA_DIR; with
#        neither, the data come from the libraries' default caches)
#   OUT_DIR   executed copies (default _build/nbval); RUNS_ROOT a runs folder to reuse
#             (default: a fresh temporary one, deleted at the end)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || { echo "check_notebooks.sh: $python not found; run scripts/setup.sh (or set PYTHON)" >&2; exit 1; }
data_dir="${DATA_DIR:-${CAE_DATA_DIR:-}}"
[ -n "$data_dir" ] || echo "check_notebooks.sh: neither DATA_DIR nor CAE_DATA_DIR set; the" \
    "notebooks read the data from the libraries' default caches" >&2
start=$(date +%s)

echo "== 1. notebooks/*.ipynb in sync with their .py sources"
drift=0
for source in notebooks/*.py; do
    notebook="${source%.py}.ipynb"
    if [ ! -f "$notebook" ]; then
        echo "   $notebook missing: run jupytext --sync $source" >&2; drift=1; continue
    fi
    if ! "$python" -m jupytext --quiet --to py:percent --output - "$notebook" | diff -u "$source" - >&2; then
        echo "   $notebook and $source differ (diff above: - .py, + .ipynb); edit one and run" \
             "jupytext --sync $source" >&2
        drift=1
    fi
done
[ "$drift" = 0 ] || exit 1
echo "   in sync"

echo "== 2. papermill, smoke profile"
runs_root="${RUNS_ROOT:-}"
if [ -z "$runs_root" ]; then
    runs_root="$(mktemp -d -t cae-nbval-runs.XXXXXX)"
    trap 'rm -rf "$runs_root"' EXIT
fi
out_dir="${OUT_DIR:-_build/nbval}"
rm -rf "$out_dir"
PROFILE=smoke SEED=0 RUNS_ROOT="$runs_root" OUT_DIR="$out_dir" DATA_DIR="$data_dir" \
    bash scripts/execute_notebooks.sh

echo "== 3. nbval: re-execute and compare outputs"
"$python" -m pytest --nbval "$out_dir"/*.ipynb --nbval-sanitize-with nbval_sanitize.cfg \
    --nbval-kernel-name python3 --nbval-cell-timeout 600 -p no:cacheprovider -q
echo "== notebooks checked in $(( $(date +%s) - start )) s"
