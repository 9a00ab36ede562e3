#!/usr/bin/env bash
# Build the book into _build/html with warnings as errors, offline.
# Sets up .venv on first use. The book shows the outputs stored in notebooks/*.ipynb
# (executed against the committed artifacts/); jupyter-book itself executes nothing.
# scripts/execute_notebooks.sh runs first but executes only when PROFILE is set.
# Usage: scripts/build_book.sh        (no arguments; uses .venv)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh
jb=".venv/bin/jupyter-book"
if [ ! -f book/_static/mathjax/tex-mml-chtml.js ]; then
    echo "== vendored MathJax missing: fetching it from npm (scripts/fetch_mathjax.sh)"
    bash scripts/fetch_mathjax.sh
fi
# onnxruntime-web for the prototype explorer: pinned, hash-checked, not committed
bash scripts/fetch_onnxruntime.sh

if [ -f scripts/execute_notebooks.sh ]; then
    echo "== executing notebooks (scripts/execute_notebooks.sh)"
    bash scripts/execute_notebooks.sh
fi

echo "== generated fragments of the prose chapters (python -m cae.report.fragments artifacts)"
.venv/bin/python -m cae.report.fragments artifacts

echo "== building the book"
start=$(date +%s)
# --all: a build made earlier (the rendered-page test builds one) would otherwise be
# reused as up to date, without the static files fetched since (onnxruntime-web)
"$jb" build . --all --warningiserror --keep-going
echo "== built in $(( $(date +%s) - start )) s; open $root/_build/html/index.html"
