"""The paper's Table 1 beside ours: aggregation over seeds and the comparison with the paper.

Every number comes from finished run directories (see `cae.infra.runs`): `collect_runs`
reads their metrics, `summarise` gives a mean and a 95% t-interval over seeds, and
`compare_with_paper` lines them up with `PAPER_TABLE1`, the only place the paper's
numbers are typed. The paper does not say how it averaged precision and recall; we
compare them with our support-weighted averages (weighted recall equals accuracy) and
show the macro and positive-class values beside them.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from cae.config import planned_train_size, steps_per_epoch
from cae.errors import CaeError
from cae.evaluation.protocols import BOOTSTRAPPED
from cae.infra.runs import HEAD_MODEL, RunArtifacts, finished_under
from cae.report.readouts import VIEW_COLUMNS, format_seconds, plain, profile_warning

# Table 1 of Ferrante et al. (2022): (model, dataset, accuracy, precision, recall).
PAPER_TABLE1: tuple[tuple[str, str, float, float, float], ...] = (
    ("ResNet18", "Pneumonia test", 0.74, 0.77, 0.74),
    ("Feature+KM", "Pneumonia test", 0.69, 0.74, 0.69),
    ("Ours (stat)", "Pneumonia test", 0.73, 0.73, 0.73),
    ("Ours (kNN)", "Pneumonia test", 0.84, 0.85, 0.83),
    ("Ours (lin)", "Pneumonia test", 0.84, 0.80, 0.88),
    ("ResNet18", "Pneumonia val", 0.86, 0.86, 0.86),
    ("Feature+KM", "Pneumonia val", 0.78, 0.77, 0.78),
    ("Ours (stat)", "Pneumonia val", 0.80, 0.79, 0.80),
    ("Ours (kNN)", "Pneumonia val", 0.84, 0.86, 0.81),
    ("Ours (lin)", "Pneumonia val", 0.84, 0.80, 0.87),
    ("ResNet18", "MNIST", 0.995, 0.995, 0.995),
    ("Feature+KM", "MNIST", 0.69, 0.68, 0.69),
    ("Ours (stat)", "MNIST", 0.90, 0.91, 0.90),
    ("Ours (kNN)", "MNIST", 0.98, 0.98, 0.97),
    ("Ours (lin)", "MNIST", 0.98, 0.97, 0.98),
)
PAPER_METRICS = ("accuracy", "precision", "recall")

# paper row label -> (our model, protocol); paper dataset label -> (our dataset, split)
PAPER_MODELS = {
    "ResNet18": ("ResNet18", "transfer"),
    "Feature+KM": ("Feature+KM", "stat"),
    "Ours (stat)": ("CAE (ours)", "stat"),
    "Ours (kNN)": ("CAE (ours)", "knn"),
    "Ours (lin)": ("CAE (ours)", "lin"),
}
PAPER_DATASETS = {
    "Pneumonia test": ("pneumoniamnist", "test"),
    "Pneumonia val": ("pneumoniamnist", "val"),
    "MNIST": ("mnist", "test"),
}
# paper metric -> our column compared with it, and the columns shown beside it
COMPARED_AS = {"accuracy": "accuracy", "precision": "precision_weighted",
               "recall": "recall_weighted"}
SHOWN_BESIDE = {"precision": ("precision_macro", "precision_pos"),
                "recall": ("recall_macro", "recall_pos")}

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
FLOORS = ("majority class", "raw pixels", "untrained encoder")
GROUP_KEYS = ["dataset", "model", "split", "protocol"]
# fewer seeds than this: the interval is the test-set bootstrap where a run recorded one
MIN_SEEDS_FOR_T = 3
# metrics whose bootstrap bounds a run records, and the one standing in for weighted recall
BOOTSTRAP_OF = {m: m for m in BOOTSTRAPPED} | {"recall_weighted": "accuracy"}


# ---------------------------------------------------------------- all runs of a profile

def finished_runs(runs_root: str | Path, profile: str) -> list[RunArtifacts]:
    """Every finished run (one with provenance.json) of `profile` under runs_root, sorted.

    Runs of one dataset must share one configuration apart from the seed; otherwise
    their mean would mix different experiments.
    """
    root = Path(runs_root)
    if not root.is_dir():
        raise CaeError(f"runs folder {root} not found; pass runs_root pointing at the run "
                       f"artifacts (e.g. artifacts/) or create runs with `cae reproduce`")
    runs = [r for r in finished_under(root) if r.config.profile == profile]
    if not runs:
        raise CaeError(f"no finished {profile!r} runs under {root}; create them with "
                       f"`cae reproduce --profile {profile} --seed N --run-dir "
                       f"{root}/<dataset>-{profile}-seed<N>`")
    by_dataset: dict[str, dict[str, str]] = {}
    for run in runs:
        same_but_seed = dataclasses.replace(run.config, seed=0).fingerprint()
        by_dataset.setdefault(run.config.dataset, {})[run.run_dir.name] = same_but_seed
    for dataset, prints in by_dataset.items():
        if len(set(prints.values())) > 1:
            raise CaeError(f"the {profile!r} runs of {dataset} under {root} differ in more than "
                           f"the seed ({', '.join(sorted(prints))}); move the odd ones elsewhere")
    return runs


def has_runs(runs_root: str | Path, profile: str) -> bool:
    """Whether runs_root holds any finished run of `profile`."""
    root = Path(runs_root)
    return root.is_dir() and any(r.config.profile == profile for r in finished_under(root))


def collect_runs(runs_root: str | Path, profile: str) -> pd.DataFrame:
    """All metrics rows of every finished `profile` run under runs_root, with its dataset."""
    frames = [run.metrics.assign(dataset=run.config.dataset, run=run.run_dir.name)
              for run in finished_runs(runs_root, profile)]
    rows = pd.concat(frames, ignore_index=True)
    # the data-only floors are shared by runs (cae.evaluation.floor_cache): count each computation once
    rows = rows[~rows.drop(columns="run").duplicated()].reset_index(drop=True)
    duplicated = rows.duplicated(GROUP_KEYS + ["seed"])
    if duplicated.any():
        first = rows[duplicated].iloc[0]
        raise CaeError(f"two runs under {runs_root} hold seed {first['seed']} of "
                       f"{first['dataset']}; keep one run directory per seed")
    front = ["dataset", "seed", "run", "model", "split", "protocol"]
    return rows[front + [c for c in rows.columns if c not in front]]


def runs_overview(runs_root: str | Path, profile: str) -> pd.DataFrame:
    """One line per finished run: dataset, seed, device, precision, optimizer steps, wall time."""
    lines = [{"run": r.run_dir.name, "dataset": r.config.dataset, "seed": r.config.seed,
              "device": f"{r.provenance['device']} ({r.provenance['device_name']})",
              "precision": r.provenance["precision"], "steps": run_steps(r),
              "wall time": format_seconds(r.provenance["wall_time_s"]["total"])}
             for r in finished_runs(runs_root, profile)]
    return pd.DataFrame(lines).set_index("run")


def run_steps(run: RunArtifacts) -> int:
    """The optimizer steps a run took: from its provenance, or, for runs recorded before
    provenance counted them, from its config and the dataset's official split sizes."""
    if "steps" in run.provenance:
        return int(run.provenance["steps"]["total"])
    cfg = run.config
    return steps_per_epoch(cfg.batch_size, planned_train_size(cfg)) * cfg.epochs


def runs_note(runs_root: str | Path, profile: str) -> str:
    """Markdown: the seeds found per dataset and the MD5 of every data file they read."""
    seeds: dict[str, list[int]] = {}
    md5: dict[str, set[str]] = {}
    for run in finished_runs(runs_root, profile):
        seeds.setdefault(run.config.dataset, []).append(run.config.seed)
        for name, digest in run.provenance["data_md5"].items():
            md5.setdefault(name, set()).add(digest)
    listed = "; ".join(f"`{d}`: {len(s)} seed{'s' if len(s) > 1 else ''} "
                       f"({', '.join(map(str, sorted(s)))})" for d, s in sorted(seeds.items()))
    files = "\n".join(f"- `{name}`: {', '.join(f'`{d}`' for d in sorted(digests))}"
                       + (" (**differs between runs**)" if len(digests) > 1 else "")
                       for name, digests in md5.items())
    return (f"Finished **{profile}**-profile runs: {listed}.\n\nData files (MD5):\n\n{files}"
            + profile_warning(profile))


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


def _lookup(summary: pd.DataFrame, dataset: str, model: str, split: str, protocol: str,
            metric: str) -> pd.Series | None:
    hit = summary[(summary["dataset"] == dataset) & (summary["model"] == model)
                  & (summary["split"] == split) & (summary["protocol"] == protocol)
                  & (summary["metric"] == metric)]
    return hit.iloc[0] if len(hit) else None


def compare_with_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Each cell of the paper's Table 1 beside our mean, interval and n, and the difference.

    A cell we have no run for keeps the paper value with n = 0 and empty estimates. The
    interval is chosen by `interval_of`; column `interval` says what it is over.
    """
    lines = []
    for paper_model, paper_dataset, *values in PAPER_TABLE1:
        model, protocol = PAPER_MODELS[paper_model]
        dataset, split = PAPER_DATASETS[paper_dataset]
        for paper_metric, paper_value in zip(PAPER_METRICS, values):
            ours = COMPARED_AS[paper_metric]
            hit = _lookup(summary, dataset, model, split, protocol, ours)
            line = dict(paper_model=paper_model, paper_dataset=paper_dataset,
                        metric=paper_metric, model=model, protocol=protocol, dataset=dataset,
                        split=split, ours_as=ours, averaging=AVERAGING[ours], paper=paper_value,
                        mean=math.nan, lo=math.nan, hi=math.nan, interval="", n=0,
                        difference=math.nan, weights="")
            if hit is not None:
                lo, hi, over = interval_of(hit)
                line.update(mean=hit["mean"], lo=lo, hi=hi, interval=over, n=int(hit["n"]),
                            difference=hit["mean"] - paper_value, weights=hit["weights"])
            for beside in SHOWN_BESIDE.get(paper_metric, ()):
                other = _lookup(summary, dataset, model, split, protocol, beside)
                line[beside.rsplit("_", 1)[1]] = math.nan if other is None else other["mean"]
            lines.append(line)
    return pd.DataFrame(lines)


def meets_paper(mean: float, paper: float) -> bool:
    """The met rule of every verdict in the book: our mean reaches the paper's value."""
    return mean >= paper


def untrained_mark(weights: str) -> str:
    """' [UNTRAINED]' for a baseline run on untrained ResNet-18 weights, else ''."""
    return " [UNTRAINED]" if "untrained" in weights else ""


def format_interval(lo: float, hi: float, n: int) -> str:
    """'[0.790, 0.834]', 'n=1' for one seed without an interval, '' for none."""
    if n == 0:
        return ""
    return "n=1" if pd.isna(lo) else f"[{lo:.3f}, {hi:.3f}]"


def comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """`compare_with_paper` for reading: one line per paper cell, values as 3-decimal text."""
    lines = []
    for _, c in comparison.iterrows():
        averaging = c["ours_as"].rsplit("_", 1)[1] if "_" in c["ours_as"] else ""
        lines.append({
            "model (paper)": c["paper_model"] + untrained_mark(c["weights"]),
            "dataset": c["paper_dataset"],
            "metric": c["metric"] + (f" ({averaging})" if averaging else ""),
            "paper": f"{c['paper']:g}",
            "ours": plain(c["mean"]) if c["n"] else "not run",
            "95% CI": format_interval(c["lo"], c["hi"], c["n"]),
            "CI over": c["interval"],
            "n": c["n"],
            "ours - paper": "" if pd.isna(c["difference"]) else f"{c['difference']:+.3f}",
            "macro": plain(c.get("macro", math.nan)),
            "positive": plain(c.get("pos", math.nan)),
        })
    return pd.DataFrame(lines).set_index(["model (paper)", "dataset", "metric"])


def averaging_legend() -> pd.DataFrame:
    """Which averaging each reported metric uses."""
    return pd.DataFrame({"averaging": AVERAGING}).rename_axis("metric")


def estimates_table(summary: pd.DataFrame, models: tuple[str, ...] | list[str],
                    metrics: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Chosen models and metrics, one line per dataset/split/model/protocol.

    Cells read 'mean ± half-width of the 95% t-interval', or the mean alone for one
    seed; column n is the number of seeds. Metrics a protocol does not define are empty.
    """
    rows = summary[summary["model"].isin(models) & summary["metric"].isin(metrics)]
    half = (rows["hi"] - rows["lo"]) / 2
    text = [plain(m) if pd.isna(h) else f"{m:.3f} ± {h:.3f}" for m, h in zip(rows["mean"], half)]
    keys = ["dataset", "split", "model", "protocol"]
    wide = rows.assign(text=text).pivot(index=keys, columns="metric", values="text")
    wide = wide[[m for m in metrics if m in wide.columns]].fillna("")
    wide.columns = [" ".join(VIEW_COLUMNS.get(m, (m, ""))).strip() for m in wide.columns]
    wide["n"] = rows.groupby(keys)["n"].max()
    return wide


def beyond_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """What the paper does not report for its rows: AUC, and NMI/ARI of the cluster mappings."""
    return estimates_table(summary, list(dict.fromkeys(m for m, _ in PAPER_MODELS.values())),
                           ["auc", "nmi", "ari"])


def hungarian_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Hungarian accuracy (one cluster per class, one-to-one match) of every model that has
    it, and the clustering head's protocol (a), with NMI and ARI."""
    rows = summary[(summary["protocol"] == "hungarian") | (summary["model"] == HEAD_MODEL)]
    models = list(dict.fromkeys(["CAE (ours)", HEAD_MODEL, *FLOORS]))
    return estimates_table(rows, [m for m in models if m in set(rows["model"])],
                           ["accuracy", "nmi", "ari"])


def profile_change(before: pd.DataFrame, after: pd.DataFrame,
                   models: tuple[str, ...] = ("CAE (ours)", HEAD_MODEL)) -> pd.DataFrame:
    """Mean accuracy of two profiles' summaries side by side, per dataset, split, model and
    protocol, with the change; lines only one profile has show one value."""
    keys = ["dataset", "split", "model", "protocol"]

    def means(summary: pd.DataFrame) -> pd.Series:
        rows = summary[(summary["metric"] == "accuracy") & summary["model"].isin(models)]
        return rows.set_index(keys)["mean"]

    table = pd.concat({"before": means(before), "after": means(after)}, axis=1)
    table["change"] = table["after"] - table["before"]
    return table.map(plain).sort_index()


def floors_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The floors the paper lacks (majority class, raw pixels, untrained encoder) on every split."""
    return estimates_table(summary, FLOORS, ["accuracy", "precision_weighted", "precision_macro",
                                             "recall_macro", "auc", "nmi", "ari"])


def _head_comparison(comparison: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The clustering head's protocol (a) rows, compared with the paper's "Ours (stat)" cells."""
    cells = comparison[(comparison["metric"] == "accuracy")
                       & (comparison["paper_model"] == "Ours (stat)")].copy()
    for index, c in cells.iterrows():
        hit = _lookup(summary, c["dataset"], HEAD_MODEL, c["split"], "stat", "accuracy")
        cells.loc[index, ["mean", "n"]] = (math.nan, 0) if hit is None else (hit["mean"], hit["n"])
    cells["paper_model"] = "Ours (stat), clustering head"
    cells["model"] = HEAD_MODEL
    return cells[cells["n"] > 0]


def accuracy_verdicts(comparison: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Our accuracy rows against the paper's and against raw pixels under the same protocol.

    `comparison` is `compare_with_paper`'s frame, `summary` is `summarise`'s. A paper value
    is 'met' when our mean reaches it; the pixel floor is 'beaten' when our mean exceeds
    the raw-pixel mean of the same dataset, split and protocol. Where runs have a
    clustering head, its protocol (a) rows are compared with the paper's (a) cells too.
    """
    ours = comparison[(comparison["metric"] == "accuracy") & (comparison["model"] == "CAE (ours)")
                      & (comparison["n"] > 0)]
    ours = pd.concat([ours, _head_comparison(comparison, summary)], ignore_index=True)
    lines = []
    for _, c in ours.iterrows():
        pixels = _lookup(summary, c["dataset"], "raw pixels", c["split"], c["protocol"], "accuracy")
        pixel_mean = math.nan if pixels is None else pixels["mean"]
        lines.append({
            "row (paper)": c["paper_model"], "dataset": c["paper_dataset"],
            "paper": f"{c['paper']:g}", "ours": plain(c["mean"]), "n": int(c["n"]),
            "paper target": ("met" if meets_paper(c["mean"], c["paper"])
                             else f"missed by {c['paper'] - c['mean']:.3f}"),
            "raw pixels": plain(pixel_mean),
            "pixel floor": ("" if pd.isna(pixel_mean) else
                            f"beaten by {c['mean'] - pixel_mean:.3f}" if c["mean"] > pixel_mean
                            else f"not beaten ({c['mean'] - pixel_mean:+.3f})"),
        })
    return pd.DataFrame(lines).set_index(["row (paper)", "dataset"])
