"""The paper's Table 1 beside ours: aggregation over seeds and the comparison with the paper.

Every number comes from finished run directories (see `cae.infra.runs`): `collect_runs`
reads their metrics, `summarise` gives a mean and a 95% t-interval over seeds, and
`compare_with_paper` lines them up with `cae.report.paper.PAPER_TABLE1`, the only place the
paper's numbers are typed (`summarise` and the intervals live in `cae.report.stats`). The
paper does not say how it averaged precision and recall; we
compare them with our support-weighted averages (weighted recall equals accuracy) and
show the macro and positive-class values beside them.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd

from cae import names
from cae.config import planned_train_size, steps_per_epoch
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts, finished_under
from cae.report.paired import PROTOCOL_NAMES
from cae.report.paper import (
    COMPARED_AS,
    PAPER_DATASETS,
    PAPER_METRICS,
    PAPER_MODELS,
    PAPER_TABLE1,
    SHOWN_BESIDE,
)
from cae.report.readouts import (
    VIEW_COLUMNS,
    format_seconds,
    markdown_code,
    markdown_text,
    plain,
    profile_warning,
)
from cae.report.stats import AVERAGING, GROUP_KEYS, interval_of

FLOORS = (names.MAJORITY, names.RAW_PIXELS, names.UNTRAINED)
# the clustering head beside the paper's protocol (a) cells: told k = number of classes,
# which protocol (a) is not, so its row says it uses that label knowledge
HEAD_ROW = "Ours (stat), clustering head (k = classes given)"


# ---------------------------------------------------------------- all runs of a profile

def finished_runs(runs_root: str | Path, profile: str,
                  skipped: list[str] | None = None) -> list[RunArtifacts]:
    """Every finished run (one with provenance.json) of `profile` under runs_root, sorted.

    A run whose files fail their checks or disagree with each other is left out and named
    (`finished_under`; in `skipped` when given). Runs of one dataset must share one
    configuration apart from the seed; otherwise their mean would mix different experiments.
    """
    root = Path(runs_root)
    if not root.is_dir():
        raise CaeError(f"runs folder {root} not found; pass runs_root pointing at the run "
                       f"artifacts (e.g. artifacts/) or create runs with `cae reproduce`")
    runs = [r for r in finished_under(root, skipped) if r.config.profile == profile]
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
    skipped: list[str] = []
    for run in finished_runs(runs_root, profile, skipped):
        seeds.setdefault(run.config.dataset, []).append(run.config.seed)
        for name, digest in run.provenance["data_md5"].items():
            md5.setdefault(name, set()).add(digest)
    listed = "; ".join(f"{markdown_code(d)}: {len(s)} seed{'s' if len(s) > 1 else ''} "
                       f"({', '.join(map(str, sorted(s)))})" for d, s in sorted(seeds.items()))
    files = "\n".join(f"- {markdown_code(name)}: {', '.join(f'`{d}`' for d in sorted(digests))}"
                       + (" (**differs between runs**)" if len(digests) > 1 else "")
                       for name, digests in md5.items())
    left_out = "".join(f"\n- {markdown_text(note)}" for note in skipped)
    return (f"Finished **{profile}**-profile runs: {listed}.\n\nData files (MD5):\n\n{files}"
            + (f"\n\nLeft out (their files fail their checks):\n{left_out}" if skipped else "")
            + profile_warning(profile))


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


def estimate_text(mean: float, lo: float, hi: float) -> str:
    """A mean over seeds as 'mean ± half-width of its 95% interval', 3 decimals.

    The mean alone where there is no interval (one seed) or where it is narrower than
    the last printed digit (seeds that agree, such as a floor computed once): never
    '± 0.000'.
    """
    half = (hi - lo) / 2
    if pd.isna(half) or f"{half:.3f}" == "0.000":
        return plain(mean)
    return f"{mean:.3f} ± {half:.3f}"


def metric_label(metric: str) -> str:
    """A metric's display name: 'precision weighted', 'AUC'."""
    return " ".join(VIEW_COLUMNS.get(metric, (metric, ""))).strip()


def _with_text(summary: pd.DataFrame, models, metrics) -> pd.DataFrame:
    """`summary`'s lines of the chosen models and metrics, each with its cell text."""
    rows = summary[summary["model"].isin(models) & summary["metric"].isin(metrics)]
    return rows.assign(text=[estimate_text(m, lo, hi)
                             for m, lo, hi in zip(rows["mean"], rows["lo"], rows["hi"])])


def estimates_table(summary: pd.DataFrame, models: tuple[str, ...] | list[str],
                    metrics: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Chosen models and metrics, one line per dataset/split/model/protocol.

    Cells read as `estimate_text`; column n is the number of seeds. Metrics a protocol
    does not define are empty.
    """
    rows = _with_text(summary, models, metrics)
    keys = ["dataset", "split", "model", "protocol"]
    wide = rows.pivot(index=keys, columns="metric", values="text")
    wide = wide[[m for m in metrics if m in wide.columns]].fillna("")
    wide.columns = [metric_label(m) for m in wide.columns]
    wide["n"] = rows.groupby(keys)["n"].max()
    return wide


# display names of the protocols in the pivoted tables; the majority class reads no features
PROTOCOL_COLUMNS = {**PROTOCOL_NAMES, names.NO_PROTOCOL: "any protocol"}


def _seeds(n: pd.Series) -> str:
    """The seeds behind a line's cells: '5', or '3-5' where the cells differ."""
    low, high = int(n.min()), int(n.max())
    return str(low) if low == high else f"{low}-{high}"


def protocol_grid(summary: pd.DataFrame, models: tuple[str, ...] | list[str],
                  metrics: tuple[str, ...] | list[str], index: list[str],
                  columns: list[str]) -> pd.DataFrame:
    """Chosen models and metrics with the protocols across: `index` levels down, `columns`
    levels across, cells as `estimate_text`, and column n (the seeds behind each line).

    `index` and `columns` together name dataset, split, metric, model and protocol. Lines
    and columns follow the order of `models`, `metrics` and `names.PROTOCOLS`; metrics and
    protocols carry their display names; a protocol that does not define a metric leaves
    its cell empty.
    """
    rows = _with_text(summary, models, metrics)
    order = {"model": list(models), "metric": list(metrics), "protocol": list(names.PROTOCOLS)}

    def by_order(level: pd.Index) -> pd.Index:
        wanted = order.get(level.name)
        return level.map(wanted.index) if wanted else level

    wide = (rows.set_index(index + columns)["text"].unstack(columns)
            .sort_index(key=by_order).sort_index(axis=1, key=by_order).fillna(""))
    n_column = ("n", *[""] * (len(columns) - 1)) if len(columns) > 1 else "n"
    wide[n_column] = rows.groupby(index)["n"].agg(_seeds)
    labels = {"metric": metric_label, "protocol": lambda p: PROTOCOL_COLUMNS.get(p, p)}
    for axis, levels in ((0, index), (1, columns)):
        for level in levels:
            if level in labels:
                wide = wide.rename(labels[level], axis=axis, level=level)
    return wide


def beyond_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """What the paper does not report for its rows: AUC, and NMI/ARI of the cluster mappings."""
    return estimates_table(summary, list(dict.fromkeys(m for m, _ in PAPER_MODELS.values())),
                           ["auc", "nmi", "ari"])


def hungarian_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Hungarian accuracy (one cluster per class, one-to-one match) of every model that has
    it, and the clustering head's protocol (a), with NMI and ARI."""
    rows = summary[(summary["protocol"] == names.HUNGARIAN) | (summary["model"] == names.HEAD_MODEL)]
    models = list(dict.fromkeys([names.OURS, names.HEAD_MODEL, *FLOORS]))
    return estimates_table(rows, [m for m in models if m in set(rows["model"])],
                           ["accuracy", "nmi", "ari"])


def profile_change(before: pd.DataFrame, after: pd.DataFrame,
                   models: tuple[str, ...] = (names.OURS, names.HEAD_MODEL)) -> pd.DataFrame:
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
    """The floors the paper lacks (majority class, raw pixels, untrained encoder) on every
    split: one line per dataset, split and metric, each floor's protocols across."""
    return protocol_grid(summary, FLOORS, ["accuracy", "precision_weighted", "precision_macro",
                                           "recall_macro", "auc", "nmi", "ari"],
                         index=["dataset", "split", "metric"], columns=["model", "protocol"])


def _head_comparison(comparison: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The clustering head's protocol (a) rows, compared with the paper's "Ours (stat)" cells."""
    cells = comparison[(comparison["metric"] == "accuracy")
                       & (comparison["paper_model"] == "Ours (stat)")].copy()
    for index, c in cells.iterrows():
        hit = _lookup(summary, c["dataset"], names.HEAD_MODEL, c["split"], names.STAT, "accuracy")
        cells.loc[index, ["mean", "n"]] = (math.nan, 0) if hit is None else (hit["mean"], hit["n"])
    cells["paper_model"] = HEAD_ROW
    cells["model"] = names.HEAD_MODEL
    return cells[cells["n"] > 0]


def accuracy_verdicts(comparison: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Our accuracy rows against the paper's and against raw pixels under the same protocol.

    `comparison` is `compare_with_paper`'s frame, `summary` is `summarise`'s. A paper value
    is 'met' when our mean reaches it; the pixel floor is 'beaten' when our mean exceeds
    the raw-pixel mean of the same dataset, split and protocol. Where runs have a
    clustering head, its protocol (a) rows are compared with the paper's (a) cells too.
    """
    ours = comparison[(comparison["metric"] == "accuracy") & (comparison["model"] == names.OURS)
                      & (comparison["n"] > 0)]
    ours = pd.concat([ours, _head_comparison(comparison, summary)], ignore_index=True)
    lines = []
    for _, c in ours.iterrows():
        pixels = _lookup(summary, c["dataset"], names.RAW_PIXELS, c["split"], c["protocol"], "accuracy")
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
