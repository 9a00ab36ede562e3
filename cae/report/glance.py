"""Table 1 at a glance: the paper's own layout with our numbers in it, and a forest plot.

Both read `cae.report.table1.compare_with_paper`'s frame (one line per paper cell), so they show
the same means, intervals and met rule (`cae.report.table1.meets_paper`) as the long table.
The grid has the paper's models as rows and (dataset, metric) as columns, each cell
"ours [95% interval] (paper)"; the forest plot draws every accuracy cell with the paper's
value and the raw-pixel floor of the same protocol beside it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from pandas.io.formats.style import Styler

from cae import names
from cae.report.figures import BookFigure
from cae.report.stats import summarise
from cae.report.table1 import (
    PAPER_METRICS,
    PAPER_TABLE1,
    accuracy_verdicts,
    collect_runs,
    compare_with_paper,
    format_interval,
    has_runs,
    runs_note,
    untrained_mark,
)
from cae.report.verdicts import cell_status

# the grid's columns, left to right, by the paper's dataset labels
GRID_DATASETS = ("MNIST", "Pneumonia val", "Pneumonia test")
GRID_MODELS = tuple(dict.fromkeys(model for model, *_ in PAPER_TABLE1))
# Paul Tol's pale (cell backgrounds) and bright (plot marks) blue and red: colourblind-safe;
# grey for cells that ran on untrained ResNet-18 weights (not the paper's baseline)
CELL_COLOURS = {"met": "#BBCCEE", "missed": "#FFCCCC", "untrained": "#DDDDDD"}
MARK_COLOURS = {"met": "#4477AA", "missed": "#EE6677", "untrained": "#999999"}
PIXEL_MODEL = names.RAW_PIXELS


def cell_text(line: pd.Series) -> str:
    """One paper cell as 'ours [lo, hi] (paper)', e.g. '0.850 [0.845, 0.855] (0.84)'."""
    paper = f"({line['paper']:g})"
    if not line["n"]:
        return f"not run {paper}"
    return f"{line['mean']:.3f} {format_interval(line['lo'], line['hi'], line['n'])} {paper}"


def _grid(comparison: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """values (one per comparison line) in the paper's shape: models x (dataset, metric).

    A model's row label carries [UNTRAINED] when any of its cells comes from untrained
    ResNet-18 weights.
    """
    lines = comparison.assign(value=values)
    grid = lines.pivot(index="paper_model", columns=["paper_dataset", "metric"], values="value")
    grid = grid.reindex(index=list(GRID_MODELS),
                        columns=pd.MultiIndex.from_product([GRID_DATASETS, PAPER_METRICS]))
    weights = lines.groupby("paper_model")["weights"].agg(",".join)
    return grid.rename(index=lambda model: model + untrained_mark(weights[model])).rename_axis(
        index=None, columns=[None, None])


def paper_grid(comparison: pd.DataFrame) -> pd.DataFrame:
    """Table 1 in the paper's shape, each cell 'ours [95% interval] (paper)'."""
    return _grid(comparison, comparison.apply(cell_text, axis=1))


def grid_status(comparison: pd.DataFrame) -> pd.DataFrame:
    """`paper_grid`'s shape, each cell 'met', 'missed', 'untrained' or 'not run'."""
    return _grid(comparison, comparison.apply(cell_status, axis=1))


def styled_grid(comparison: pd.DataFrame, uuid: str = "table1-grid") -> Styler:
    """`paper_grid` with each cell coloured by `grid_status` (as CSS class met or missed).

    uuid fixes the HTML ids, so re-executing the notebook gives the same output.
    """
    classes = grid_status(comparison).map(lambda status: status.replace(" ", "-"))
    return (paper_grid(comparison).style.set_uuid(uuid).set_td_classes(classes)
            .set_caption("Each cell: our mean [95% interval] (the paper's value). Blue: our "
                         "mean reaches the paper's value; red: it falls short; grey: run on "
                         "untrained ResNet-18 weights, not the paper's baseline, not judged.")
            .set_table_styles(
                [{"selector": "td", "props": "text-align: center; color: #222; "
                                             "border: 2px solid var(--pst-color-background, #fff)"}]
                + [{"selector": f"td.{status}", "props": f"background-color: {colour}"}
                   for status, colour in CELL_COLOURS.items()]))


def accuracy_cells(comparison: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The accuracy cells of `comparison`, in grid order, with the raw-pixel floor.

    `pixels` is the mean accuracy of raw pixels read out by the same protocol on the same
    split (from `summary`, `cae.report.stats.summarise`'s frame); NaN where there is none, as
    for the transfer baseline.
    """
    cells = comparison[comparison["metric"] == "accuracy"]
    floor = summary[(summary["model"] == PIXEL_MODEL) & (summary["metric"] == "accuracy")]
    floor = floor[["dataset", "split", "protocol", "mean"]].rename(columns={"mean": "pixels"})
    cells = cells.merge(floor, on=["dataset", "split", "protocol"], how="left")
    cells["status"] = cells.apply(cell_status, axis=1)
    order = {name: i for i, name in enumerate(GRID_DATASETS + GRID_MODELS)}
    return (cells.sort_values(["paper_dataset", "paper_model"], key=lambda c: c.map(order))
            [["paper_dataset", "paper_model", "mean", "lo", "hi", "n", "paper", "pixels",
              "status", "weights"]].reset_index(drop=True))


def accuracy_forest(cells: pd.DataFrame) -> Figure:
    """A forest plot of `accuracy_cells`: one panel per dataset, one line per model.

    Our mean is a dot on its 95% interval, blue where it meets the paper's value and red
    where it misses it; the paper's value is a black bar, the raw-pixel floor a grey cross.
    A model is marked [UNTRAINED] when any of its cells ran on untrained ResNet-18 weights.
    """
    fig = BookFigure(figsize=(7.5, 3.6), layout="constrained")
    axes = fig.subplots(1, len(GRID_DATASETS), sharey=True)
    models = list(GRID_MODELS)
    for ax, dataset in zip(axes, GRID_DATASETS):
        rows = cells[(cells["paper_dataset"] == dataset) & (cells["n"] > 0)]
        y = rows["paper_model"].map(models.index)
        colours = rows["status"].map(MARK_COLOURS)
        ax.hlines(y, rows["lo"], rows["hi"], colors=colours, linewidth=2.5, label="interval")
        ax.scatter(rows["mean"], y, c=colours, s=30, zorder=3, label="ours")
        paper = cells[cells["paper_dataset"] == dataset]
        ax.scatter(paper["paper"], paper["paper_model"].map(models.index), marker="|", s=220,
                   color="black", zorder=4, label="paper")
        ax.scatter(rows["pixels"], y, marker="x", s=30, color="#777777", zorder=2,
                   label="raw pixels")
        ax.set_title(dataset)
        ax.set_xlabel("accuracy")
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.08)
    marks = [untrained_mark(",".join(cells.loc[cells["paper_model"] == model, "weights"]))
             for model in models]
    labels = [model + mark.replace(" ", "\n") for model, mark in zip(models, marks)]
    axes[0].set_yticks(range(len(models)), labels)
    axes[0].set_ylim(len(models) - 0.5, -0.5)
    handles = [Line2D([], [], color=MARK_COLOURS["met"], marker="o", linewidth=2.5,
                      label="ours: mean, 95% interval (paper met)"),
               Line2D([], [], color=MARK_COLOURS["missed"], marker="o", linewidth=2.5,
                      label="ours (paper missed)"),
               Line2D([], [], color=MARK_COLOURS["untrained"], marker="o", linewidth=2.5,
                      label="untrained ResNet-18 (not judged)"),
               Line2D([], [], color="black", marker="|", markersize=12, linestyle="",
                      label="paper"),
               Line2D([], [], color="#777777", marker="x", linestyle="",
                      label="raw pixels, same protocol")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig


def profile_section(runs_root: str | Path, profile: str) -> list[str | Styler | pd.DataFrame]:
    """What the Table 1 chapter shows for one more profile: its runs (Markdown text), its
    grid (HTML ids from the profile's name) and its accuracy verdicts; a one-line note
    when it has no runs."""
    if not has_runs(runs_root, profile):
        return [f"No finished `{profile}`-profile run is under `{runs_root}`."]
    summary = summarise(collect_runs(runs_root, profile))
    comparison = compare_with_paper(summary)
    return [runs_note(runs_root, profile),
            styled_grid(comparison, uuid=f"{profile}-grid"),
            accuracy_verdicts(comparison, summary)]
