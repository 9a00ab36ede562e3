"""Table 1 at a glance on a hand-made summary: cell text, met/missed colouring, forest plot."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from cae.report import glance, table1


def _line(dataset, model, split, protocol, mean, n=3, lo=math.nan, hi=math.nan, weights=""):
    return dict(dataset=dataset, model=model, split=split, protocol=protocol, metric="accuracy",
                n=n, mean=mean, lo=lo, hi=hi, boot_lo=math.nan, boot_hi=math.nan,
                seeds=",".join(map(str, range(n))), weights=weights)


@pytest.fixture
def summary() -> pd.DataFrame:
    """Four runs' accuracies (kNN on MNIST meets 0.98, linear on Pneumonia test misses 0.84,
    stat on Pneumonia val equals 0.80 exactly, the ResNet-18 on MNIST has one untrained seed)
    and raw pixels under kNN on MNIST."""
    return pd.DataFrame([
        _line("mnist", "CAE (ours)", "test", "knn", 0.99, lo=0.98, hi=1.0),
        _line("pneumoniamnist", "CAE (ours)", "test", "lin", 0.8, lo=0.78, hi=0.82),
        _line("pneumoniamnist", "CAE (ours)", "val", "stat", 0.8, lo=0.75, hi=0.85),
        _line("mnist", "ResNet18", "test", "transfer", 0.5, n=1, weights="untrained"),
        _line("mnist", "raw pixels", "test", "knn", 0.95, lo=0.94, hi=0.96),
    ])


@pytest.fixture
def comparison(summary) -> pd.DataFrame:
    return table1.compare_with_paper(summary)


def test_grid_has_the_papers_shape(comparison):
    grid = glance.paper_grid(comparison)
    assert list(grid.index) == ["ResNet18 [UNTRAINED]", "Feature+KM", "Ours (stat)",
                                "Ours (kNN)", "Ours (lin)"]
    assert list(grid.columns) == [(d, m) for d in ("MNIST", "Pneumonia val", "Pneumonia test")
                                  for m in ("accuracy", "precision", "recall")]


def test_grid_cells_read_ours_interval_paper(comparison):
    grid = glance.paper_grid(comparison)
    assert grid.loc["Ours (kNN)", ("MNIST", "accuracy")] == "0.990 [0.980, 1.000] (0.98)"
    assert grid.loc["Ours (lin)", ("Pneumonia test", "accuracy")] == "0.800 [0.780, 0.820] (0.84)"
    assert grid.loc["ResNet18 [UNTRAINED]", ("MNIST", "accuracy")] == "0.500 n=1 (0.995)"
    assert grid.loc["Ours (kNN)", ("MNIST", "precision")] == "not run (0.98)"
    assert grid.loc["Feature+KM", ("Pneumonia val", "recall")] == "not run (0.78)"


def test_grid_status_uses_the_met_rule(comparison):
    status = glance.grid_status(comparison)
    assert status.loc["Ours (kNN)", ("MNIST", "accuracy")] == "met"  # 0.99 >= 0.98
    assert status.loc["Ours (lin)", ("Pneumonia test", "accuracy")] == "missed"  # 0.80 < 0.84
    assert status.loc["Ours (stat)", ("Pneumonia val", "accuracy")] == "met"  # 0.80 == 0.80
    # untrained ResNet-18 weights are not the paper's baseline: grey, neither met nor missed
    assert status.loc["ResNet18 [UNTRAINED]", ("MNIST", "accuracy")] == "untrained"
    assert (status == "not run").to_numpy().sum() == 45 - 4


def test_styled_grid_colours_each_cell_by_its_status(comparison):
    html = glance.styled_grid(comparison, uuid="g").to_html()
    classes = dict(re.findall(r'<td id="T_g_(row\d+_col\d+)" class="data row\d+ col\d+ ([\w-]+)"',
                              html))
    assert len(classes) == 45
    assert classes["row3_col0"] == "met"  # Ours (kNN), MNIST accuracy
    assert classes["row4_col6"] == "missed"  # Ours (lin), Pneumonia test accuracy
    assert classes["row2_col3"] == "met"  # Ours (stat), Pneumonia val accuracy
    assert classes["row0_col0"] == "untrained"  # ResNet18 on untrained weights, MNIST accuracy
    assert classes["row1_col1"] == "not-run"
    assert f"#T_g td.met {{\n  background-color: {glance.CELL_COLOURS['met']};" in html
    assert f"#T_g td.missed {{\n  background-color: {glance.CELL_COLOURS['missed']};" in html
    assert f"#T_g td.untrained {{\n  background-color: {glance.CELL_COLOURS['untrained']};" in html


def test_accuracy_cells_carry_the_pixel_floor_of_the_same_protocol(comparison, summary):
    cells = glance.accuracy_cells(comparison, summary)
    assert list(cells["paper_dataset"]) == ["MNIST"] * 5 + ["Pneumonia val"] * 5 + [
        "Pneumonia test"] * 5
    assert list(cells["paper_model"][:5]) == list(glance.GRID_MODELS)
    knn = cells.iloc[3]
    assert (knn["paper_model"], knn["mean"], knn["pixels"], knn["status"]) == (
        "Ours (kNN)", 0.99, 0.95, "met")
    assert cells["pixels"].notna().sum() == 1  # raw pixels only under kNN on MNIST


def _collection(ax, label):
    return next(c for c in ax.collections if c.get_label() == label)


def test_forest_plot_one_line_per_cell_with_its_marks(comparison, summary):
    fig = glance.accuracy_forest(glance.accuracy_cells(comparison, summary))
    mnist, val, test = fig.axes[:3]
    assert [ax.get_title() for ax in (mnist, val, test)] == list(glance.GRID_DATASETS)
    assert [t.get_text() for t in mnist.get_yticklabels()] == [
        "ResNet18\n[UNTRAINED]", "Feature+KM", "Ours (stat)", "Ours (kNN)", "Ours (lin)"]
    # MNIST: ResNet18 (row 0, one seed: no interval) and Ours (kNN) (row 3)
    segments = _collection(mnist, "interval").get_segments()
    assert len(segments) == 2
    assert segments[0].size == 0  # one seed, no interval: nothing drawn
    np.testing.assert_allclose(segments[1], [[0.98, 3], [1.0, 3]])
    np.testing.assert_allclose(_collection(mnist, "ours").get_offsets(), [[0.5, 0], [0.99, 3]])
    np.testing.assert_allclose(_collection(mnist, "paper").get_offsets(),
                               [[0.995, 0], [0.69, 1], [0.9, 2], [0.98, 3], [0.98, 4]])
    pixels = np.ma.filled(_collection(mnist, "raw pixels").get_offsets(), np.nan)
    np.testing.assert_allclose(pixels[1], [0.95, 3])
    # colours: untrained ResNet-18 in grey, met in blue (missed in red)
    colours = _collection(mnist, "ours").get_facecolors()
    np.testing.assert_allclose(colours, [to_rgba(glance.MARK_COLOURS["untrained"]),
                                         to_rgba(glance.MARK_COLOURS["met"])])
    np.testing.assert_allclose(_collection(test, "interval").get_segments()[0],
                               [[0.78, 4], [0.82, 4]])
    np.testing.assert_allclose(_collection(val, "ours").get_offsets(), [[0.8, 2]])
