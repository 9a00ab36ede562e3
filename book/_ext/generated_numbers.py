"""Sphinx extension: the numbers of book/generated/numbers.json as MyST substitutions.

`python -m cae.report.fragments artifacts` computes them (`cae.report.prose_numbers`) from
the committed runs, benchmarks and config; a chapter writes `{{ name }}` where the number
stands. Each is rendered inside `<span class="cae-generated">`, the mark by which
scripts/check_book.py tells a generated number from a typed one.
"""

from __future__ import annotations

import json
from pathlib import Path

NUMBERS = Path("book/generated/numbers.json")


def _substitutions(app, config) -> None:
    path = Path(app.srcdir) / NUMBERS
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m cae.report.fragments artifacts` "
                                "before building the book (scripts/build_book.sh does)")
    numbers = json.loads(path.read_text(encoding="utf8"))["numbers"]
    config.myst_substitutions = {**config.myst_substitutions,
                                 **{name: f'<span class="cae-generated">{value}</span>'
                                    for name, value in numbers.items()}}


def setup(app):
    app.connect("config-inited", _substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
