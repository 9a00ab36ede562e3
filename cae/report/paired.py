"""Our latent against each floor, paired by seed: the numbers a verdict sentence reads.

For every group (dataset and split, or dataset and screened variant) and protocol, our
accuracy minus a floor's, seed by seed, its mean and 95% t-interval over seeds, and a
verdict: `beats` when the whole interval is above zero, `loses` when it is below, `ties`
when it holds zero (the seeds cannot tell the two apart), `one seed` when there is no
interval. The untrained encoder is paired with the run of the same seed; the data-only
floors (majority class, raw pixels) are computed once for every seed (`cae.evaluation.floor_cache`),
so their one value is paired with each seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cae import names
from cae.report.stats import t_interval

OURS = names.OURS
FLOORS = (names.RAW_PIXELS, names.UNTRAINED, names.MAJORITY)
PROTOCOL_NAMES = {"stat": "(a) mapping", "knn": "(b) kNN", "lin": "(c) linear",
                  "hungarian": "Hungarian, k = classes"}


def verdict(lo: float, hi: float) -> str:
    """beats / loses / ties from the interval of our accuracy minus a floor's."""
    if np.isnan(lo) or np.isnan(hi):
        return "one seed"
    return "beats" if lo > 0 else "loses" if hi < 0 else "ties"


def _floor_by_seed(rows: pd.DataFrame, seeds: list[int]) -> pd.Series:
    """A floor's accuracy for each of `seeds`: its own row per seed, or its one value (a
    data-only floor, computed once) for all of them."""
    by_seed = rows.groupby("seed")["accuracy"].mean()
    if set(seeds) <= set(by_seed.index):
        return by_seed[seeds]
    values = rows["accuracy"].unique()
    return pd.Series(values[0], index=seeds) if len(values) == 1 else by_seed[
        [s for s in seeds if s in by_seed.index]]


def paired_differences(rows: pd.DataFrame, by: Sequence[str] = ("dataset", "split")) -> pd.DataFrame:
    """Our accuracy minus each floor's, paired by seed, per `by` group and protocol: our
    mean, the floor's, the mean difference, its 95% interval (lo, hi), the seeds paired
    and the verdict. The majority class has one prediction for every protocol."""
    by = list(by)
    out = []
    for keys, group in rows[rows["model"] == OURS].groupby([*by, "protocol"], sort=False,
                                                           observed=True):
        *where, protocol = keys
        mine = group.groupby("seed")["accuracy"].mean()
        same = np.logical_and.reduce([rows[k] == v for k, v in zip(by, where)])
        for floor in FLOORS:
            wanted = names.NO_PROTOCOL if floor == names.MAJORITY else protocol
            theirs = rows[same & (rows["model"] == floor) & (rows["protocol"] == wanted)]
            if theirs.empty:
                continue
            floor_acc = _floor_by_seed(theirs, list(mine.index))
            seeds = list(floor_acc.index)
            diff = (mine[seeds] - floor_acc[seeds]).to_numpy()
            lo, hi = t_interval(diff)
            out.append(dict(zip(by, where), protocol=protocol, floor=floor,
                            ours=float(mine[seeds].mean()), floor_accuracy=float(floor_acc.mean()),
                            difference=float(diff.mean()), lo=lo, hi=hi, seeds=len(seeds),
                            verdict=verdict(lo, hi)))
    return pd.DataFrame(out)


def verdict_table(paired: pd.DataFrame, floors: Sequence[str] = FLOORS[:2]) -> pd.DataFrame:
    """The paired differences of one group as a reader scans them: one row per protocol,
    one column per floor reading `+0.012 [-0.004, +0.028] beats` (the majority class is
    left out by default: every protocol beats or loses to it by the margins the floors
    table shows)."""
    def cell(row: pd.Series) -> str:
        interval = "" if np.isnan(row["lo"]) else f" [{row['lo']:+.3f}, {row['hi']:+.3f}]"
        return f"{row['difference']:+.3f}{interval} {row['verdict']}"

    shown = paired[paired["floor"].isin(floors)]
    shown = shown.assign(protocol=shown["protocol"].map(PROTOCOL_NAMES).fillna(shown["protocol"]),
                         cell=shown.apply(cell, axis=1))
    table = shown.pivot_table(index=["protocol", "seeds"], columns="floor", values="cell",
                              aggfunc="first", sort=False)
    table.columns.name = "ours minus"
    return table[[f for f in floors if f in table.columns]]


def verdict_tables(paired: pd.DataFrame, by: Sequence[str] = ("dataset", "split")
                   ) -> dict[str, pd.DataFrame]:
    """`verdict_table` for each group, titled by its keys (e.g. "pneumoniamnist, test")."""
    return {", ".join(map(str, keys if isinstance(keys, tuple) else (keys,))): verdict_table(group)
            for keys, group in paired.groupby(list(by), sort=False, observed=True)}
