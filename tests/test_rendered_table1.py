"""The rendered Table 1 chapter shows exactly the numbers of the committed run artifacts.

The page is `_build/html/notebooks/04_table1.html`; it is built (offline, about 10 s)
when missing or older than the notebook. Every table the chapter computes from the
artifacts is recomputed here with `cae` and compared cell by cell with the page, so a
stale notebook output, a hand-edited number or a missing run fails this test.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from cae.report import ablation, glance, stats, table1

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
NOTEBOOK = ROOT / "notebooks" / "04_table1.ipynb"
PAGE = ROOT / "_build" / "html" / "notebooks" / "04_table1.html"


class _TableCells(HTMLParser):
    """The text of the <td> cells of every <tr>, one list per table (header rows give [])."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def rendered_page() -> str:
    """The built Table 1 page's HTML (building the book if needed)."""
    if not PAGE.is_file() or PAGE.stat().st_mtime < NOTEBOOK.stat().st_mtime:
        jupyter_book = Path(sys.executable).parent / "jupyter-book"
        built = subprocess.run([str(jupyter_book), "build", str(ROOT), "--warningiserror"],
                               cwd=ROOT, capture_output=True, text=True)
        if built.returncode:
            pytest.fail(f"the book does not build:\n{built.stdout[-3000:]}{built.stderr[-3000:]}")
    return PAGE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered_tables(rendered_page) -> list[list[list[str]]]:
    """Data cells of every table on the built Table 1 page."""
    parser = _TableCells()
    parser.feed(rendered_page)
    return [[row for row in table if row] for table in parser.tables]


def _cells(frame: pd.DataFrame) -> list[list[str]]:
    return [["" if pd.isna(v) else str(v) for v in row] for row in frame.itertuples(index=False)]


@functools.cache
def _summary() -> pd.DataFrame:
    return stats.summarise(table1.collect_runs(ARTIFACTS, "paper"))


@functools.cache
def _validated() -> pd.DataFrame:
    return stats.summarise(table1.collect_runs(ARTIFACTS, "validated"))


# every table the chapter computes from the artifacts, recomputed the same way
EXPECTED = {
    "Table 1 at a glance": lambda: glance.paper_grid(table1.compare_with_paper(_summary())),
    "Table 1 beside the paper":
        lambda: table1.comparison_table(table1.compare_with_paper(_summary())),
    "targets": lambda: table1.accuracy_verdicts(table1.compare_with_paper(_summary()), _summary()),
    "runs": lambda: table1.runs_overview(ARTIFACTS, "paper"),
    "beyond the paper": lambda: table1.beyond_paper(_summary()),
    "floors": lambda: table1.floors_table(_summary()),
    "ablation": lambda: ablation.ablation_table(
        ablation.ablation_rows(ARTIFACTS / "ablation", ARTIFACTS, "paper")),
    "validated targets": lambda: table1.accuracy_verdicts(table1.compare_with_paper(_validated()),
                                                          _validated()),
    "validated at a glance": lambda: glance.paper_grid(table1.compare_with_paper(_validated())),
    "validated Hungarian and clustering head": lambda: table1.hungarian_table(_validated()),
    "validated against paper-faithful": lambda: table1.profile_change(_summary(), _validated()),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_rendered_chapter_shows_the_artifacts_numbers(name, rendered_tables):
    if name.startswith("validated") and not table1.has_runs(ARTIFACTS, "validated"):
        pytest.skip("no validated-profile runs committed")
    expected = _cells(EXPECTED[name]())
    assert expected, f"the artifacts give an empty {name} table"
    assert expected in rendered_tables, (
        f"the rendered Table 1 chapter has no table equal to the {name} table computed from "
        f"artifacts/; re-execute and publish notebooks/04_table1 (scripts/publish_notebooks.py)")


@pytest.mark.parametrize("uuid, profile", [("table1-grid", "paper"),
                                           ("validated-grid", "validated")])
def test_rendered_grid_colours_each_cell_met_or_missed(uuid, profile, rendered_page):
    """Every cell of the at-a-glance grid carries the met/missed class of `glance.grid_status`."""
    if not table1.has_runs(ARTIFACTS, profile):
        pytest.skip(f"no {profile}-profile runs committed")
    summary = _summary() if profile == "paper" else _validated()
    status = glance.grid_status(table1.compare_with_paper(summary)).to_numpy()
    cells = re.findall(rf'<td id="T_{uuid}_row(\d+)_col(\d+)" class="data row\d+ col\d+ '
                       r'([\w-]+)"', rendered_page)
    assert len(cells) == status.size == 45
    assert {(int(r), int(c)): css for r, c, css in cells} == {
        (r, c): status[r, c].replace(" ", "-") for r in range(5) for c in range(9)}


def test_table1_covers_both_datasets_over_enough_seeds():
    """The chapter's runs: at least 5 PneumoniaMNIST and 2 MNIST paper-profile seeds."""
    seeds = table1.collect_runs(ARTIFACTS, "paper").groupby("dataset")["seed"].nunique()
    assert seeds.get("pneumoniamnist", 0) >= 5
    assert seeds.get("mnist", 0) >= 2
