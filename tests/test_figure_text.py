"""Every figure the book shows reads at the column's width: no text below
`figures.MIN_TEXT_PX` once the PNG is scaled to `figures.COLUMN_PX` (issue 21, item 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cae.evaluation import screen
from cae.report import figures, glance, selection_screen, stats, table1

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
RNG = np.random.default_rng(0)


def _tsne() -> Figure:
    labels = RNG.integers(0, 10, 300)
    return figures.tsne_panels(RNG.normal(size=(300, 2)), RNG.normal(size=(11, 2)), labels,
                               RNG.integers(0, 11, 300), labels, [str(i) for i in range(10)])


def _forest() -> Figure:
    summary = stats.summarise(table1.collect_runs(ARTIFACTS, "validated"))
    comparison = table1.compare_with_paper(summary)
    return glance.accuracy_forest(glance.accuracy_cells(comparison, summary))


FIGURES = {
    "composition, two classes": lambda: figures.composition_heatmap(
        np.array([[70, 30], [4, 96], [15, 85], [50, 50]]), ["normal", "pneumonia"]),
    "composition, ten classes": lambda: figures.composition_heatmap(
        RNG.integers(0, 90, (11, 10)), [str(i) for i in range(10)]),
    "composition, long names": lambda: figures.composition_heatmap(
        RNG.integers(0, 90, (9, 9)), ["adipose", "background", "debris", "lymphocytes", "mucus",
                                      "smooth muscle", "normal colon mucosa",
                                      "cancer-associated stroma", "colorectal adenocarcinoma epithelium"]),
    "training curves": lambda: figures.training_curves(
        {"nt_xent": [3.0, 2.0, 1.5], "mse": [0.1, 0.05, 0.04], "total": [3.1, 2.1, 1.5],
         "phase2_mse": [0.03, 0.02], "lr": [0.01, 0.2, 0.1, 0.05, 0.05]}, 3),
    "accuracy against k": lambda: figures.accuracy_vs_k(
        range(2, 11), np.linspace(0.6, 0.8, 9), np.linspace(0.1, 0.3, 9), np.linspace(0.1, 0.2, 9), 4),
    "t-SNE panels": _tsne,
    "val screen": lambda: screen.screen_figure(pd.read_csv(ARTIFACTS / "screen" / "encoder_screen.csv"),
                                               pd.read_csv(ARTIFACTS / "screen" / "clustering_screen.csv")),
    "selection screen": lambda: selection_screen.screen_figure(
        selection_screen.screen_rows(ARTIFACTS / "selection-screen"), "pneumoniamnist"),
    "Table 1 forest plot": _forest,
}


@pytest.mark.parametrize("name", FIGURES)
def test_figure_text_reads_at_the_column_width(name):
    px = figures.smallest_text_px(FIGURES[name]())
    assert px >= figures.MIN_TEXT_PX, (
        f"{name}: its smallest text is {px:.1f} px at {figures.COLUMN_PX} px wide "
        f"(at least {figures.MIN_TEXT_PX} px wanted)")


def test_the_check_fails_on_a_wide_figure_with_small_text():
    fig = Figure(figsize=(14, 3))
    fig.subplots().set_title("tiny", fontsize=8)  # 8 pt scaled by 700 / (14 * 120)
    assert figures.smallest_text_px(fig) < figures.MIN_TEXT_PX
