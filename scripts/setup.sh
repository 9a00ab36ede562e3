#!/usr/bin/env bash
# Create .venv with the package and its book/dev extras, once; later calls return at once.
# Usage: scripts/setup.sh   (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

stamp=".venv/.cae-setup"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import cae, torch" 2>/dev/null; then
    exit 0
fi

echo "== setting up .venv (torch, the cae package, book and test tools)"
"${PYTHON:-python3}" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# Any torch >= 2.6 works; where pip is capped (these offline machines) the cap picks the local 2.14.1.
.venv/bin/pip install --quiet -e ".[dev]"
.venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cae)" >/dev/null
echo "$want" > "$stamp"
.venv/bin/python -c "import torch, cae; print('== torch', torch.__version__, '| cae', cae.__version__)"
