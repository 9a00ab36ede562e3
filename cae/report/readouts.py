"""Read-outs of one run for the book's pages: its provenance, its metrics, its classes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cae.config import RunConfig, changed_from_profile
from cae.data.datasets import Dataset
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts, finished_under


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|<>])")


def markdown_text(text: object) -> str:
    """Text read from a run's files, escaped for Markdown: backslash, backticks, asterisks,
    underscores, brackets, pipes and angle brackets lose their meaning; newlines become spaces."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def markdown_code(text: object) -> str:
    """Text read from a run's files as an inline code span, where it can be one (no backtick,
    pipe or newline in it, which would end or break the span); else as `markdown_text`."""
    text = str(text)
    return f"`{text}`" if not re.search(r"[`|\n\r]", text) else markdown_text(text)


def provenance_note(artifacts: RunArtifacts) -> str:
    """Markdown naming the run behind a page: profile, seed, data MD5s, hardware, wall times."""
    cfg, prov = artifacts.config, artifacts.provenance
    md5 = ", ".join(f"{markdown_code(name)} `{digest}`" for name, digest in prov["data_md5"].items())
    times = prov["wall_time_s"]
    parts = ", ".join(f"{markdown_text(name)} {format_seconds(seconds)}"
                      for name, seconds in times.items() if name != "total")
    return (f"**Run {markdown_code(artifacts.run_dir.name)}**: dataset {markdown_code(cfg.dataset)}, "
            f"profile **{cfg.profile}**, seed {cfg.seed}; cae "
            f"{markdown_text(prov.get('packages', {}).get('cae'))} on {markdown_text(prov['device'])} "
            f"({markdown_text(prov['device_name'])}, {markdown_text(prov['precision'])}). "
            f"Data MD5: {md5 or 'not recorded'}. "
            f"Wall time: {format_seconds(times['total'])} ({parts})."
            + (f" Peak memory: {prov['peak_rss_mb'] / 1024:.1f} GiB." if "peak_rss_mb" in prov
               else "")
            + profile_warning(cfg.profile) + config_note(cfg))


def config_note(cfg: RunConfig) -> str:
    """Markdown saying which settings the page's run changed from its profile (empty when none)."""
    changed = changed_from_profile(cfg)
    if not changed:
        return ""
    listed = ", ".join(markdown_code(f"{name}={value}") for name, value in sorted(changed.items()))
    return (f"\n\n> **Settings changed from the `{cfg.profile}` profile:** {listed}. The numbers "
            f"on this page are this config's, not the profile's.")


def profile_warning(profile: str) -> str:
    """A warning, for any profile but paper, that the numbers are not the paper's setting."""
    if profile == "paper":
        return ""
    if profile == "validated":
        return ("\n\n> **Note:** these are `validated`-profile results: the paper's schedule, with "
                "the choices the paper leaves open set on validation data (see the method "
                "chapter's val screen), so they show what the method can do rather than a "
                "reproduction of the paper's run.")
    if profile == "beyond":
        return ("\n\n> **Note:** these are `beyond`-profile results: the validated profile with "
                "two changes that are not in the paper (an intensity jitter and batch 1024), "
                "chosen on PneumoniaMNIST's selection split (the method chapter's selection "
                "screen), so they go beyond the paper rather than reproduce it.")
    if profile == "authors":
        return ("\n\n> **Note:** these are `authors`-profile results: the paper's schedule with "
                "every choice the first author's public code fixes (encoder, projector, LARS, "
                "elbow and evaluation; see the method chapter's settings table), so they show "
                "what that code's settings give rather than the paper's text.")
    return (f"\n\n> **Note:** these are `{profile}`-profile results (a shortened schedule "
            "for tests and CI); only `paper`-profile runs follow the paper's settings and can "
            "be compared with its numbers.")


def format_seconds(seconds: float) -> str:
    """A wall time as '42 s', '3.5 min' or '1.2 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# display headers of a run's metrics: (group, averaging); weighted recall (= accuracy) is left out
VIEW_COLUMNS = {
    "weights": ("weights", ""), "k": ("k", ""), "accuracy": ("accuracy", ""),
    "precision_weighted": ("precision", "weighted"), "precision_macro": ("precision", "macro"),
    "precision_pos": ("precision", "positive"), "recall_macro": ("recall", "macro"),
    "recall_pos": ("recall", "positive"), "auc": ("AUC", ""), "nmi": ("NMI", ""),
    "ari": ("ARI", ""),
}


def plain(value: float) -> str:
    """A metric with 3 decimals, or '' when missing."""
    return "" if pd.isna(value) else f"{value:.3f}"


def metrics_view(metrics: pd.DataFrame, models: list[str] | None = None,
                 positive_class: str | None = None) -> pd.DataFrame:
    """A run's metrics for display: chosen models, one line per model/split/protocol, 3 decimals.

    Columns empty for every shown line are dropped. Weighted recall is left out (it
    equals accuracy); `weights` (the baselines' ResNet-18 weights) and `k` (clusters) are
    kept when present. `positive_class` names the positive class in the headers of a
    binary task's positive-class columns.
    """
    rows = metrics if models is None else metrics[metrics["model"].isin(models)]
    if rows.empty:
        raise CaeError(f"no metrics rows for model(s) {models}; the run may predate them, "
                       "rerun it with retrain=True")
    columns = [c for c in VIEW_COLUMNS if c in rows.columns and rows[c].notna().any()]
    view = rows.set_index(["model", "split", "protocol"])[columns].copy()
    for column in columns:
        if column == "k":
            view[column] = ["" if pd.isna(k) else f"{k:.0f}" for k in view[column]]
        elif column != "weights":
            view[column] = [plain(v) for v in view[column]]
    view = view.fillna("")
    headers = [VIEW_COLUMNS[c] for c in columns]
    if positive_class:
        headers = [(group, f"positive: {positive_class}" if avg == "positive" else avg)
                   for group, avg in headers]
    view.columns = pd.MultiIndex.from_tuples(headers)
    return view


def weights_warning(metrics: pd.DataFrame) -> str:
    """Markdown saying which ResNet-18 weights the baselines used, loudly when untrained."""
    if "weights" not in metrics.columns or metrics["weights"].isna().all():
        return "This run has no ResNet-18 baseline rows."
    labels = sorted(metrics["weights"].dropna().unique())
    if "untrained" in labels:
        return ("> **WARNING: the ResNet-18 baselines below use UNTRAINED, randomly initialised "
                "weights** (`weights = untrained`), because no ImageNet weights were available "
                "to this run (an offline machine cannot download them). They are *not* the "
                "paper's ImageNet baselines and say nothing about how those perform; see "
                "*ImageNet weights for the baselines* in the Reproducibility chapter to run "
                "them with the real weights.")
    return f"The ResNet-18 baselines use `{', '.join(labels)}` weights."


def class_proportions(data: Dataset) -> pd.DataFrame:
    """Images per class in every split, with each class's share of its split."""
    table = {}
    for split, part in data.splits.items():
        counts = np.bincount(part.labels.numpy(), minlength=data.n_classes)
        row = {"images": int(counts.sum())}
        for name, count in zip(data.class_names, counts):
            row[name] = int(count)
        for name, count in zip(data.class_names, counts):
            row[f"{name} share"] = round(count / counts.sum(), 3)
        table[split] = row
    return pd.DataFrame.from_dict(table, orient="index").rename_axis("split")


VARIATIONAL_FOLDERS = ("variational", "ablation")  # under the runs root, where the book keeps them


def variational_samples(runs_root: str | Path, dataset: str) -> tuple[str, Path | None]:
    """Markdown about sampling from a cluster, and the samples figure of the first finished
    variational run of dataset under runs_root's VARIATIONAL_FOLDERS (None when there is none)."""
    for folder in VARIATIONAL_FOLDERS:
        root = Path(runs_root, folder)
        runs = finished_under(root) if root.is_dir() else []
        for run in runs:
            figure = run.run_dir / "figures" / "samples.png"
            if run.config.dataset == dataset and run.config.variational and figure.is_file():
                shown = markdown_code(f"{folder}/{run.run_dir.name}")
                return (f"Run {shown} (profile **{run.config.profile}**, "
                        f"seed {run.config.seed}, KL weight {run.config.kl_weight}): each row "
                        f"is one cluster, titled with the label it maps to; each column a new "
                        f"image drawn from that cluster's region.", figure)
    return (f"No variational run of `{dataset}` is committed under `{runs_root}`; make one "
            f"with `cae reproduce --dataset {dataset} --set variational=true` and its "
            f"`figures/samples.png` shows here.", None)


def reproduce_command(artifacts: RunArtifacts) -> str:
    """The one command that makes a run folder again: `cae reproduce` with its dataset,
    profile, seed and folder, and a --set for each setting changed from the profile."""
    cfg = artifacts.config
    changed = " ".join(f"--set {name}={','.join(map(str, value)) if isinstance(value, tuple) else value}"
                       for name, value in changed_from_profile(cfg).items())
    return (f"cae reproduce --dataset {cfg.dataset} --profile {cfg.profile} --seed {cfg.seed} "
            + (f"{changed} " if changed else "") + f"--run-dir {artifacts.run_dir.name}")


def source_line(artifacts: RunArtifacts, shown: str) -> str:
    """Markdown, in small print, under a figure or table read from a run: the file it came
    from and the command that makes it again (showyourwork's provenance, per figure)."""
    return (f"<small>From `{artifacts.run_dir.name}/{shown}`; made by "
            f"`{reproduce_command(artifacts)}`.</small>")


def figure(artifacts: RunArtifacts, name: str) -> tuple[Any, Any]:
    """A run's figure (figures/<name>) and its source line, for `display(*figure(...))` in
    a notebook (IPython's display objects: imported here, as only notebooks call this)."""
    from IPython.display import Image, Markdown

    return (Image(filename=artifacts.run_dir / "figures" / name),
            Markdown(source_line(artifacts, f"figures/{name}")))
