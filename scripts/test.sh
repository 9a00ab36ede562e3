#!/usr/bin/env bash
# Every check of the project, as CI runs it: ruff and mypy on cae/, unit and end-to-end tests
# (with the quality test on real data when $CAE_DATA_DIR has it), the notebooks under
# papermill + nbval, the offline book build with -W, and the headless-Chromium check of the
# built pages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh

echo "== ruff (rules in pyproject.toml)"
.venv/bin/ruff check cae

echo "== mypy (settings in pyproject.toml)"
.venv/bin/mypy cae

echo "== pytest"
.venv/bin/python -m pytest -q tests

echo "== notebooks: jupytext sync, papermill (smoke profile), nbval"
bash scripts/check_notebooks.sh

echo "== book"
bash scripts/build_book.sh
if ! command -v chromium >/dev/null; then
    echo "== installing Debian's chromium for the browser check"
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/python scripts/check_book.py
