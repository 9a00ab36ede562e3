"""The selection screen: does a change to the validated profile help on a medical set?

Each screened run (`scripts/run_selection_screen.sh`) trains on train less the selection
split and is scored on that split alone, beside the floors of the same seed: raw pixels,
the untrained encoder (same architecture, same seed) and the majority class. The official
val and test splits are never read. This module lines the runs up: one row per run,
model and protocol (`screen_rows`), our latent minus each floor paired by seed with its
95% interval (`cae.report.paired`), and the figure of each protocol's accuracy against
the change beside the floors (`screen_figure`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cae import config, names
from cae.data.datasets import SELECTION
from cae.errors import CaeError
from cae.infra.files import atomic_write_text
from cae.infra.runs import RunArtifacts, finished_under
from cae.report.figures import save_figure
from cae.report.paired import FLOORS, OURS, PROTOCOL_NAMES, paired_differences

RUN_NAME = re.compile(r"^(?P<dataset>[a-z0-9]+)-(?P<profile>[a-z]+)-(?P<variant>.+)-seed(?P<seed>\d+)$")
REFERENCE = "base"
# the order of scripts/run_selection_screen.sh; other variants follow, by name
FLOOR_WORDS = {names.RAW_PIXELS: "raw pixels", names.UNTRAINED: "the untrained encoder",
               names.MAJORITY: "the majority class"}
VARIANT_ORDER = ("base", "steps7500", "batch1024", "crop0.2", "jitter0.4", "authors_encoder", "best2")


def _variant(run: RunArtifacts) -> tuple[str, int]:
    match = RUN_NAME.match(run.run_dir.name)
    if match is None:
        raise CaeError(f"{run.run_dir} is not named <dataset>-<profile>-<variant>-seed<seed>")
    return match["variant"], int(match["seed"])


def screen_rows(root: str | Path) -> pd.DataFrame:
    """Selection-split accuracy of every finished run under root: one row per run, model
    and protocol, with the run's variant, seed, optimizer steps and what it changed
    against the `base` run of the same dataset and seed (or seed 0)."""
    if not Path(root).is_dir():
        raise CaeError(f"{root} is not a folder of screen runs")
    runs = [r for r in finished_under(root) if r.config.score_on == "selection"]
    if not runs:
        raise CaeError(f"no finished selection-screen runs under {root}; run "
                       f"scripts/run_selection_screen.sh first")
    named = {(r.config.dataset, *_variant(r)): r for r in runs}
    rows = []
    for (dataset, variant, seed), run in named.items():
        base = named.get((dataset, REFERENCE, seed)) or named.get((dataset, REFERENCE, 0))
        changed = config.differences(base.config, run.config) if base else {}
        changed.pop("seed", None)
        metrics = run.metrics[(run.metrics["split"] == SELECTION)
                              & run.metrics["model"].isin((OURS, *FLOORS))]
        for record in metrics.to_dict("records"):
            rows.append(dict(dataset=dataset, variant=variant, seed=seed,
                             steps=run.provenance.get("steps", {}).get("total"),
                             changed=", ".join(f"{k}={_shown(v[1])}" for k, v in changed.items())
                             or "-",
                             model=record["model"], protocol=record["protocol"],
                             accuracy=record["accuracy"]))
    table = pd.DataFrame(rows)
    rank = {v: i for i, v in enumerate(VARIANT_ORDER)}
    order = sorted(dict.fromkeys(table["variant"]), key=lambda v: (rank.get(v, len(rank)), v))
    table["variant"] = pd.Categorical(table["variant"], categories=order, ordered=True)
    return table.sort_values(["dataset", "variant", "seed"], kind="stable").reset_index(drop=True)


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def screen_figure(rows: pd.DataFrame, dataset: str) -> Figure:
    """Selection-split accuracy per protocol (one panel each) against the change: our
    latent (filled circles, one per seed, the mean as a bar), the untrained encoder of the
    same architecture and seed (grey crosses), raw pixels and the majority class (lines:
    they do not depend on the change). Sized for the book's column."""
    data = rows[rows["dataset"] == dataset]
    variants = list(dict.fromkeys(data["variant"]))
    fig = Figure(figsize=(7.2, 6.4), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    x = np.arange(len(variants))
    majority = data[(data["model"] == names.MAJORITY)]["accuracy"].mean()
    for ax, (protocol, title) in zip(axes.flat, PROTOCOL_NAMES.items()):
        cell = data[data["protocol"] == protocol]
        for model, style in ((OURS, dict(color="#0072B2", marker="o", s=28, zorder=3)),
                             ("untrained encoder", dict(color="#777777", marker="x", s=28))):
            part = cell[cell["model"] == model]
            ax.scatter([variants.index(v) for v in part["variant"]], part["accuracy"],
                       label=f"{model} (each seed)" if model == OURS else model, **style)
        means = cell[cell["model"] == OURS].groupby("variant")["accuracy"].mean()
        ax.hlines([means.get(v, np.nan) for v in variants], x - 0.3, x + 0.3, color="#0072B2",
                  linewidth=2, label="ours, mean over seeds")
        pixels = cell[cell["model"] == names.RAW_PIXELS]["accuracy"].mean()
        ax.axhline(pixels, color="#D55E00", linestyle="--", linewidth=1.2, label="raw pixels")
        ax.axhline(majority, color="#333333", linestyle=":", linewidth=1.2, label="majority class")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(x, variants, rotation=35, ha="right", fontsize=9)
        ax.tick_params(axis="y", labelsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("selection-split accuracy", fontsize=9)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle(f"{dataset}: one change at a time from the validated profile", fontsize=11)
    return fig


def _against(row: pd.Series) -> str:
    """`loses to raw pixels by 0.013 [..]`, or with one seed `0.013 below raw pixels`."""
    gap = abs(row["difference"])
    if row["verdict"] == "one seed":
        side = "above" if row["difference"] > 0 else "below"
        return f"{gap:.3f} {side} {row['floor']}"
    interval = f" (95% interval of the difference [{row['lo']:+.3f}, {row['hi']:+.3f}])"
    floor = FLOOR_WORDS.get(row["floor"], row["floor"])
    if row["verdict"] == "ties":
        return f"ties with {floor}, {row['difference']:+.3f}{interval}"
    verb = "loses to" if row["verdict"] == "loses" else row["verdict"]
    return f"{verb} {floor} by {gap:.3f}{interval}"


def findings(paired: pd.DataFrame, dataset: str) -> str:
    """Markdown, generated from the paired table: per protocol, how the base run and the
    best-scoring change compare with raw pixels and the untrained encoder, and whether
    any change beats both floors."""
    data = paired[(paired["dataset"] == dataset) & (paired["floor"] != names.MAJORITY)]
    lines = []
    winners = []
    for protocol, name in PROTOCOL_NAMES.items():
        cell = data[data["protocol"] == protocol]
        if cell.empty:
            continue
        means = cell.groupby("variant", observed=True)["ours"].first()
        best = str(means.idxmax())
        parts = []
        for variant in dict.fromkeys([REFERENCE, best]):
            if variant not in means.index:
                continue
            rows = cell[cell["variant"] == variant]
            seeds = int(rows["seeds"].iloc[0])
            parts.append(f"{'the base run' if variant == REFERENCE else f'`{variant}`, the best,'} "
                         f"scores {means[variant]:.3f} ({seeds} seed{'s' * (seeds > 1)}): "
                         + "; ".join(_against(r) for _, r in rows.iterrows()))
            if (rows["difference"] > 0).all():
                winners.append(f"`{variant}` in {name}")
        lines.append(f"- **{name}**: " + ". ".join(parts) + ".")
    verdict = (f"Above both floors: {', '.join(dict.fromkeys(winners))}." if winners else
               "No screened change puts our latent above both raw pixels and the untrained "
               "encoder under any protocol.")
    return "\n".join(lines) + "\n\n" + verdict


def runs_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per screened variant: what it changed, its optimizer steps, its seeds."""
    ours = rows[(rows["model"] == OURS) & (rows["protocol"] == names.KNN)]
    return ours.groupby(["dataset", "variant"], observed=True, sort=False).agg(
        changed=("changed", "first"), steps=("steps", "first"),
        seeds=("seed", lambda s: ", ".join(map(str, sorted(s)))))


def write_summary(root: str | Path, out: str | Path | None = None) -> pd.DataFrame:
    """Write `selection_screen.csv` (every row), `selection_paired.csv` (paired differences)
    and `selection_screen_<dataset>.png` to out (default root); returns the paired table."""
    root = Path(root)
    out = Path(out or root)
    rows = screen_rows(root)
    paired = paired_differences(rows, by=("dataset", "variant"))
    atomic_write_text(out / "selection_screen.csv", rows.to_csv(index=False, float_format="%.4f"))
    atomic_write_text(out / "selection_paired.csv", paired.to_csv(index=False, float_format="%.4f"))
    for dataset in dict.fromkeys(rows["dataset"]):
        save_figure(screen_figure(rows, dataset), out / f"selection_screen_{dataset}.png")
    return paired


def main(argv: list[str] | None = None) -> int:
    """`python -m cae.report.selection_screen ROOT`: summarise the selection screen's runs under ROOT."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cae.report.selection_screen", description=main.__doc__)
    parser.add_argument("root", type=Path, help="folder of screen runs, e.g. artifacts/selection-screen")
    args = parser.parse_args(argv)
    try:
        paired = write_summary(args.root)
    except CaeError as exc:
        print(f"cae.report.selection_screen: error: {exc}", file=sys.stderr)
        return 2
    print(paired.to_string(index=False, float_format=lambda v: f"{v:+.3f}"))
    print(f"written to {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
