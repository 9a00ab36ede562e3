"""The gallery: every dataset with finished runs in a folder, one row per dataset and profile.

A row is the mean over the runs' seeds, on one split, of what the book reports for a
run: accuracy under the three protocols ((a) cluster-to-label mapping `stat`, (b) kNN,
(c) linear probe) and Hungarian accuracy where the runs have it; the floors, the majority
class and raw pixels under the same protocol; and the decoded prototypes of the lowest
seed's run (its `figures/prototypes.png`) as a thumbnail. It reads only the run folders,
so a new dataset's finished run put there gets a row.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cae import names
from cae.config import PROFILES
from cae.data.dataset_info import DatasetInfo, describe
from cae.errors import CaeError
from cae.infra.runs import finished_under
from cae.report.readouts import plain
from cae.report.stats import summarise
from cae.report.table1 import collect_runs

OURS, PIXELS, MAJORITY = names.OURS, names.RAW_PIXELS, names.MAJORITY
PROTOCOLS = {"stat": "(a) mapping", "knn": "(b) kNN", "lin": "(c) linear", "hungarian": "Hungarian"}


@dataclass
class GalleryRow:
    """One dataset under one profile: mean accuracies over its seeds, and its prototypes."""

    info: DatasetInfo
    profile: str
    seeds: list[int]
    ours: dict[str, float]  # protocol -> mean accuracy; NaN where the runs lack the protocol
    pixels: dict[str, float]  # protocol -> raw pixels' mean accuracy
    majority: float
    prototypes: Path | None  # the lowest seed's decoded prototypes, when drawn


def _mean(summary: pd.DataFrame, model: str, protocol: str) -> float:
    hit = summary[(summary["model"] == model) & (summary["protocol"] == protocol)]
    return float(hit["mean"].iloc[0]) if len(hit) else math.nan


def gallery_rows(runs_root: str | Path, split: str = "test") -> list[GalleryRow]:
    """A row per dataset and profile with finished runs directly under runs_root, sorted by
    dataset, then profile in the order of `cae.config.PROFILES`."""
    root = Path(runs_root)
    runs = finished_under(root) if root.is_dir() else []
    if not runs:
        raise CaeError(f"no finished runs under {root}; create one with `cae reproduce --dataset "
                       f"NAME --run-dir {root}/<dataset>-<profile>-seed<seed>`")
    order = list(PROFILES)
    rows = []
    for profile in sorted({r.config.profile for r in runs}, key=order.index):
        summary = summarise(collect_runs(root, profile))
        summary = summary[(summary["split"] == split) & (summary["metric"] == "accuracy")]
        for dataset in sorted({r.config.dataset for r in runs if r.config.profile == profile}):
            own = sorted((r for r in runs if (r.config.dataset, r.config.profile) == (dataset, profile)),
                         key=lambda r: r.config.seed)
            part = summary[summary["dataset"] == dataset]
            figure = own[0].run_dir / "figures" / "prototypes.png"
            rows.append(GalleryRow(
                info=describe(dataset), profile=profile, seeds=[r.config.seed for r in own],
                ours={p: _mean(part, OURS, p) for p in PROTOCOLS},
                pixels={p: _mean(part, PIXELS, p) for p in PROTOCOLS},
                majority=_mean(part, MAJORITY, names.NO_PROTOCOL),
                prototypes=figure if figure.is_file() else None))
    return sorted(rows, key=lambda r: r.info.name)


ROW_START = 'style="border-top:1px solid #999;white-space:nowrap"'  # first line of a row


def _cell(ours: float, pixels: float) -> str:
    if math.isnan(ours):
        return f"<td {ROW_START}>&ndash;</td>"
    floor = "" if math.isnan(pixels) else f"<br><small>pixels {plain(pixels)}</small>"
    return f"<td {ROW_START}>{plain(ours)}{floor}</td>"


def _thumbnail(row: GalleryRow, columns: int) -> str:
    if row.prototypes is None:
        return f'<tr><td colspan="{columns}"><small>no decoded prototypes drawn</small></td></tr>'
    data = base64.b64encode(row.prototypes.read_bytes()).decode()
    alt = f"decoded prototypes of {row.info.title}, {row.profile} profile, seed {row.seeds[0]}"
    return (f'<tr><td colspan="{columns}"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(alt)}" style="max-width:100%;max-height:7em"><br><small>'
            f'{html.escape(alt)}: cluster &rarr; the label it maps to</small></td></tr>')


def gallery_html(rows: list[GalleryRow]) -> str:
    """The rows as an HTML table: accuracies with the raw-pixel floor of the same protocol
    beneath, then a line with the prototypes, embedded so the page needs no other file."""
    head = ["dataset", *PROTOCOLS.values(), "majority class"]
    lines = ["<table>", "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>",
             "<tbody>"]
    for row in rows:
        seeds = ", ".join(map(str, row.seeds))
        label = (f'<td style="border-top:1px solid #999"><b>{html.escape(row.info.title)}</b><br>'
                 f"<small>{html.escape(row.info.kind)}; {html.escape(row.profile)}; "
                 f"seed{'s' if len(row.seeds) > 1 else ''} {seeds}</small></td>")
        cells = "".join(_cell(row.ours[p], row.pixels[p]) for p in PROTOCOLS)
        lines += [f"<tr>{label}{cells}<td {ROW_START}>{plain(row.majority)}</td></tr>",
                  _thumbnail(row, len(head))]
    return "\n".join(lines + ["</tbody>", "</table>"])
