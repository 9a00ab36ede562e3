"""Which precision/recall averaging did the paper print? Each averaging we can compute,
compared with the paper's precision and recall, by value and by shape.

The paper does not say how it averaged over classes. Each candidate pairs one of our
precision columns with one of our recall columns; the *exchanged* candidates swap them, which
is what a caller unpacking `(labels, predictions)` as `(predictions, labels)` prints (the first
author's code does this in its linear-probe evaluation, see the method chapter). A candidate is
judged two ways:

- **by value**: the largest absolute difference between its (precision, recall) and the paper's;
- **by shape**: the same on precision and recall *minus accuracy*, so that a run whose
  accuracy differs from the paper's can still show the paper's pattern (say, recall above
  accuracy and precision below it).
"""

from __future__ import annotations

import math

import pandas as pd

from cae.report.paper import PAPER_DATASETS, PAPER_MODELS, PAPER_TABLE1

# candidate -> (our column read as the paper's precision, our column read as its recall)
CANDIDATES: dict[str, tuple[str, str]] = {
    "weighted": ("precision_weighted", "recall_weighted"),
    "macro": ("precision_macro", "recall_macro"),
    "positive class": ("precision_pos", "recall_pos"),
    "macro, exchanged": ("recall_macro", "precision_macro"),
    "positive class, exchanged": ("recall_pos", "precision_pos"),
}
# two candidates closer than this to the paper (in the same sense) are a tie
TIE = 0.002


def _means(summary: pd.DataFrame) -> pd.DataFrame:
    keys = ["dataset", "model", "split", "protocol"]
    return summary.pivot_table(index=keys, columns="metric", values="mean", aggfunc="first")


def averaging_candidates(summary: pd.DataFrame) -> pd.DataFrame:
    """One line per paper row with runs and per candidate averaging: our precision and recall
    read that way, `distance` (by value) and `offset_distance` (by shape) to the paper's.

    `summary` is `cae.report.stats.summarise` output. Candidates whose columns a run lacks (the
    positive class on a multi-class dataset) are left out.
    """
    means = _means(summary)
    lines = []
    for paper_model, paper_dataset, acc, prec, rec in PAPER_TABLE1:
        model, protocol = PAPER_MODELS[paper_model]
        dataset, split = PAPER_DATASETS[paper_dataset]
        key = (dataset, model, split, protocol)
        if key not in means.index:
            continue
        ours = means.loc[key]
        for name, (p_col, r_col) in CANDIDATES.items():
            p, r = ours.get(p_col, math.nan), ours.get(r_col, math.nan)
            if pd.isna(p) or pd.isna(r):
                continue
            a = ours["accuracy"]
            lines.append(dict(
                paper_model=paper_model, paper_dataset=paper_dataset, averaging=name,
                paper_precision=prec, paper_recall=rec, accuracy=a, precision=p, recall=r,
                distance=max(abs(p - prec), abs(r - rec)),
                offset_distance=max(abs((p - a) - (prec - acc)), abs((r - a) - (rec - acc)))))
    return pd.DataFrame(lines)


def _nearest(group: pd.DataFrame, column: str) -> tuple[str, float, bool]:
    ranked = group.sort_values(column, kind="stable")
    best = ranked.iloc[0]
    tied = len(ranked) > 1 and ranked.iloc[1][column] - best[column] < TIE
    return str(best["averaging"]), float(best[column]), bool(tied)


def closest_averaging(candidates: pd.DataFrame) -> pd.DataFrame:
    """Per paper row: the candidate nearest the paper by value and by shape, their distances,
    and whether the runner-up is within `TIE` (then the data cannot tell them apart)."""
    lines = []
    for (paper_model, paper_dataset), group in candidates.groupby(
            ["paper_model", "paper_dataset"], sort=False):
        by_value, value_distance, value_tie = _nearest(group, "distance")
        by_shape, shape_distance, shape_tie = _nearest(group, "offset_distance")
        lines.append(dict(paper_model=paper_model, paper_dataset=paper_dataset,
                          by_value=by_value, value_distance=value_distance, value_tie=value_tie,
                          by_shape=by_shape, shape_distance=shape_distance, shape_tie=shape_tie))
    return pd.DataFrame(lines)


def candidates_table(candidates: pd.DataFrame, paper_model: str = "Ours (lin)") -> pd.DataFrame:
    """The candidates of one paper row for reading: each averaging's precision and recall and
    its two distances, 3-decimal text, per dataset."""
    rows = candidates[candidates["paper_model"] == paper_model]
    table = rows.assign(**{c: rows[c].map(lambda v: f"{v:.3f}") for c in
                           ("precision", "recall", "distance", "offset_distance")})
    return (table.rename(columns={"paper_dataset": "dataset", "offset_distance": "distance (shape)",
                                  "distance": "distance (value)"})
            .set_index(["dataset", "averaging"])
            [["precision", "recall", "distance (value)", "distance (shape)"]])


def findings(closest: pd.DataFrame, paper_model: str = "Ours (lin)") -> list[str]:
    """One sentence per dataset of `paper_model`: which averaging fits the paper best by value
    and by shape, or that two fit equally well."""
    return [f"{paper_model}, {c['paper_dataset']}: by value, "
            f"{_fit(c['by_value'], c['value_distance'], c['value_tie'])}; by shape, "
            f"{_fit(c['by_shape'], c['shape_distance'], c['shape_tie'])}."
            for _, c in closest[closest["paper_model"] == paper_model].iterrows()]


def _fit(name: str, distance: float, tied: bool) -> str:
    return (f"no averaging stands out (the best two lie within {TIE})" if tied
            else f"**{name}** fits best ({distance:.3f} at most from the paper)")
