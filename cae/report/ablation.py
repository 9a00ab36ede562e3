"""Ablations: the loss terms over seeds, and one setting changed on one seed.

Loss-ablation runs are ordinary `cae reproduce` runs with `contrastive_weight = 0` (the
autoencoder alone) or `alpha = 0` (NT-Xent alone), kept in their own folder. The
combination is the paper-profile runs of the same dataset and seeds, so every variant
is scored on the same seeds with the same three protocols.

A single-change comparison sets one run beside another of the same seed that differs
in exactly one setting (such as `hflip`), protocol by protocol and at every k.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from cae import names
from cae.config import RunConfig, differences
from cae.errors import CaeError
from cae.infra.runs import RunArtifacts, class_count_k, finished_under, read_against_k
from cae.report import figures
from cae.report.stats import summarise
from cae.report.table1 import finished_runs, protocol_grid

VARIANTS = ("autoencoder alone", "contrastive alone", "both (paper)", "variational (both + KL)")
ABLATION_METRICS = ("accuracy", "auc", "nmi", "ari")


def variant_of(cfg: RunConfig) -> str:
    """Which loss a config trains phase 1 with."""
    if cfg.variational:
        return VARIANTS[3]
    if cfg.contrastive_weight == 0:
        return VARIANTS[0]
    if cfg.alpha == 0:
        return VARIANTS[1]
    return VARIANTS[2]


def _neutral(cfg: RunConfig) -> str:
    """Fingerprint of a config with the seed and both loss weights set to the paper's."""
    return dataclasses.replace(cfg, seed=0, alpha=0.1, contrastive_weight=1.0, variational=False,
                               kl_weight=2.5e-6).fingerprint()


def ablation_runs(ablation_root: str | Path) -> list[RunArtifacts]:
    """The finished runs under ablation_root (none when the folder is absent)."""
    root = Path(ablation_root)
    return finished_under(root) if root.is_dir() else []


def missing_note(ablation_root: str | Path) -> str:
    """Markdown for a page whose ablation runs do not exist (yet)."""
    return (f"No ablation runs under `{ablation_root}`: this execution shows none. The book's "
            "ablation comes from `bash scripts/run_ablation.sh` (paper profile).")


def ablation_rows(ablation_root: str | Path, runs_root: str | Path,
                  profile: str = "paper") -> pd.DataFrame:
    """Metrics of the encoder ('CAE (ours)' rows) of every ablation run and of the matching runs.

    The combination is taken from runs_root: the `profile` runs of the same dataset and
    seeds. Every run must share one configuration apart from seed and loss weights.
    """
    root = Path(ablation_root)
    ablation = ablation_runs(root)
    if not ablation:
        raise CaeError(f"no finished ablation runs under {root}; create them with "
                       "`bash scripts/run_ablation.sh`")
    seeds = {run.config.seed for run in ablation}
    datasets = {run.config.dataset for run in ablation}
    combined = [run for run in finished_runs(runs_root, profile)
                if run.config.dataset in datasets and run.config.seed in seeds]
    runs = ablation + combined
    prints = {_neutral(run.config) for run in runs}
    if len(prints) > 1:
        raise CaeError(f"the ablation runs under {root} and the {profile!r} runs under "
                       f"{runs_root} differ in more than the seed and the loss weights")
    frames = []
    for run in runs:
        ours = run.metrics[run.metrics["model"] == names.OURS]
        frames.append(ours.assign(dataset=run.config.dataset, model=variant_of(run.config),
                                  run=run.run_dir.name))
    return pd.concat(frames, ignore_index=True)


def ablation_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The loss variants under each protocol: one line per dataset, split, metric and
    variant, the protocols across, cells as `estimate_text` over the seeds (column n)."""
    return protocol_grid(summarise(rows), VARIANTS, ABLATION_METRICS,
                         index=["dataset", "split", "metric", "model"], columns=["protocol"])


def seeds_note(rows: pd.DataFrame) -> str:
    """Markdown naming the seeds each variant was run with."""
    seeds = {name: sorted(rows.loc[rows["model"] == name, "seed"].unique().tolist())
             for name in VARIANTS if (rows["model"] == name).any()}
    return "Seeds: " + "; ".join(f"{name} {', '.join(map(str, s))}" for name, s in seeds.items()) + "."


def single_change(reference: RunArtifacts, variant: RunArtifacts) -> tuple[str, object, object]:
    """The one setting two runs differ in: (name, reference value, variant value)."""
    changed = differences(reference.config, variant.config)
    if len(changed) != 1:
        raise CaeError(f"{variant.run_dir} must differ from {reference.run_dir} in exactly one "
                       f"setting; they differ in {', '.join(sorted(changed)) or 'none'}")
    name, (before, after) = next(iter(changed.items()))
    return name, before, after


def single_change_table(reference: RunArtifacts, variant: RunArtifacts, split: str) -> pd.DataFrame:
    """Our encoder's scores on one split for two runs that differ in one setting, and the change.

    Rows: the three protocols' accuracy (protocol (a) at the elbow's k), the elbow's k,
    and protocol (a)'s accuracy, NMI and ARI at the k of the range nearest the number of
    classes, where the two runs are compared at the same k.
    """
    name, before, after = single_change(reference, variant)
    columns = {}
    for label, run in ((f"{name} = {before}", reference), (f"{name} = {after}", variant)):
        ours = run.metrics[(run.metrics["model"] == names.OURS) & (run.metrics["split"] == split)]
        accuracy = ours.set_index("protocol")["accuracy"]
        against_k = read_against_k(run.run_dir)
        n_classes = len(against_k[split]["composition"][0][0])
        k = class_count_k(against_k["ks"], n_classes)
        at_k = {metric: against_k[split][metric][against_k["ks"].index(k)]
                for metric in ("accuracy", "nmi", "ari")}
        columns[label] = {
            "(a) mapping, elbow's k": accuracy["stat"],
            "(b) kNN": accuracy["knn"],
            "(c) linear": accuracy["lin"],
            "elbow's k": run.elbow["k"],
            f"(a) mapping at k = {k}": at_k["accuracy"],
            f"NMI at k = {k}": at_k["nmi"],
            f"ARI at k = {k}": at_k["ari"],
        }
    table = pd.DataFrame(columns)
    table["change"] = table.iloc[:, 1] - table.iloc[:, 0]
    table = table.round(3).astype(object)
    table.loc["elbow's k"] = table.loc["elbow's k"].astype(int)
    return table


def single_change_curves(reference: RunArtifacts, variant: RunArtifacts, split: str) -> Figure:
    """Protocol (a)'s mapped accuracy and NMI against k for two runs that differ in one setting."""
    name, before, after = single_change(reference, variant)
    against_k = {f"{name} = {value}": read_against_k(run.run_dir)
                 for value, run in ((before, reference), (after, variant))}
    ks = against_k[f"{name} = {before}"]["ks"]  # one k range: the runs differ only in `name`
    return figures.against_k_comparison(ks, {label: a[split] for label, a in against_k.items()})
