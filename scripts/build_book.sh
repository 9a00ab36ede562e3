#!/usr/bin/env bash
# Build the book into _build/html with warnings as errors, offline.
# If scripts/execute_notebooks.sh exists it runs first (papermill executes the
# notebooks and stores their outputs; jupyter-book itself executes nothing).
# Usage: scripts/build_book.sh        (no arguments; uses .venv)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

jb=".venv/bin/jupyter-book"
[ -x "$jb" ] || { echo "build_book.sh: $jb not found; create the environment first (python -m venv .venv && .venv/bin/pip install -e '.[book]')" >&2; exit 1; }
if [ ! -f book/_static/mathjax/tex-mml-chtml.js ]; then
    echo "== vendored MathJax missing: fetching it from npm (scripts/fetch_mathjax.sh)"
    bash scripts/fetch_mathjax.sh
fi

if [ -f scripts/execute_notebooks.sh ]; then
    echo "== executing notebooks (scripts/execute_notebooks.sh)"
    bash scripts/execute_notebooks.sh
fi

echo "== building the book"
start=$(date +%s)
"$jb" build . --warningiserror --keep-going
echo "== built in $(( $(date +%s) - start )) s; open $root/_build/html/index.html"
