"""Statistics over seeds: the mean with a 95% t-interval (or the recorded test-set bootstrap
with fewer than three seeds), per dataset, model, split and protocol."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from cae.evaluation.protocols import BOOTSTRAPPED

# every metric a run reports, in display order, with the averaging it uses
AVERAGING = {
    "accuracy": "none (fraction correct)",
    "precision_weighted": "weighted by class support",
    "recall_weighted": "weighted by class support (equals accuracy)",
    "precision_macro": "macro (unweighted mean over classes)",
    "recall_macro": "macro (unweighted mean over classes)",
    "precision_pos": "positive class only (binary datasets: pneumonia)",
    "recall_pos": "positive class only (binary datasets: pneumonia)",
    "auc": "ROC AUC (one-vs-rest macro for more than two classes)",
    "nmi": "normalized mutual information, clusters vs labels",
    "ari": "adjusted Rand index, clusters vs labels",
}
METRICS = tuple(AVERAGING)
GROUP_KEYS = ["dataset", "model", "split", "protocol"]
# fewer seeds than this: the interval is the test-set bootstrap where a run recorded one
MIN_SEEDS_FOR_T = 3
# metrics whose bootstrap bounds a run records, and the one standing in for weighted recall
BOOTSTRAP_OF = {m: m for m in BOOTSTRAPPED} | {"recall_weighted": "accuracy"}


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean; (nan, nan) with fewer than two values."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean = values.mean()
    half = stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return float(mean - half), float(mean + half)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, 95% t-interval (lo, hi) and n over seeds per dataset/model/split/protocol/metric.

    Missing values (a metric a protocol does not define) are left out; lo and hi are NaN
    when n = 1. boot_lo and boot_hi are the runs' bootstrap bounds over the scored images
    (see `cae.evaluation.protocols.bootstrap_bounds`) averaged over seeds, NaN where no run recorded
    them. The baselines' `weights` labels are carried along.
    """
    metrics = [m for m in METRICS if m in rows.columns]
    weights = (rows["weights"].astype(object) if "weights" in rows.columns
               else pd.Series(None, index=rows.index, dtype=object))
    long = (rows.assign(weights=weights.where(weights.notna(), ""))
            .melt(id_vars=GROUP_KEYS + ["seed", "weights"], value_vars=metrics,
                  var_name="metric", ignore_index=False).dropna(subset=["value"]))
    summary = []
    for (dataset, model, split, protocol, metric), group in long.groupby(
            GROUP_KEYS + ["metric"], sort=False):
        lo, hi = t_interval(group["value"].to_numpy())
        boot = _bootstrap_mean(rows.loc[group.index], metric)
        summary.append(dict(dataset=dataset, model=model, split=split, protocol=protocol,
                            metric=metric, n=len(group), mean=float(group["value"].mean()),
                            lo=lo, hi=hi, boot_lo=boot[0], boot_hi=boot[1],
                            seeds=",".join(map(str, sorted(group["seed"]))),
                            weights=",".join(sorted(set(group["weights"]) - {""}))))
    table = pd.DataFrame(summary)
    order = {m: i for i, m in enumerate(METRICS)}
    return (table.sort_values(GROUP_KEYS + ["metric"], key=lambda c: c.map(order)
                              if c.name == "metric" else c, kind="stable")
            .reset_index(drop=True))


def _bootstrap_mean(runs: pd.DataFrame, metric: str) -> tuple[float, float]:
    """The runs' bootstrap bounds of metric averaged over seeds; NaN unless every run has them."""
    source = BOOTSTRAP_OF.get(metric)
    columns = [f"{source}_lo", f"{source}_hi"]
    if source is None or not set(columns) <= set(runs.columns) or runs[columns].isna().any().any():
        return math.nan, math.nan
    return float(runs[columns[0]].mean()), float(runs[columns[1]].mean())


def interval_of(cell: pd.Series) -> tuple[float, float, str]:
    """The interval a summary line is reported with: (lo, hi, what it is over).

    MIN_SEEDS_FOR_T or more seeds: the t-interval over seeds. Fewer: the runs' bootstrap
    over the scored images when recorded, else the t-interval (none for one seed).
    """
    if cell["n"] < MIN_SEEDS_FOR_T and not pd.isna(cell.get("boot_lo", math.nan)):
        return cell["boot_lo"], cell["boot_hi"], "images (bootstrap)"
    if cell["n"] >= 2:
        return cell["lo"], cell["hi"], "seeds (t)"
    return math.nan, math.nan, ""
