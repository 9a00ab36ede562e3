"""The loss ablation: autoencoder alone, contrastive alone, and the paper's combination.

Ablation runs are ordinary `cae reproduce` runs with `contrastive_weight = 0` (the
autoencoder alone) or `alpha = 0` (NT-Xent alone), kept in their own folder. The
combination is the paper-profile runs of the same dataset and seeds, so every variant
is scored on the same seeds with the same three protocols.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from cae.config import RunConfig
from cae.errors import CaeError
from cae.pipeline import RunArtifacts, finished_under
from cae.table1 import estimates_table, finished_runs, summarise

VARIANTS = ("autoencoder alone", "contrastive alone", "both (paper)")
ABLATION_METRICS = ("accuracy", "auc", "nmi", "ari")


def variant_of(cfg: RunConfig) -> str:
    """Which loss a config trains phase 1 with."""
    if cfg.contrastive_weight == 0:
        return VARIANTS[0]
    if cfg.alpha == 0:
        return VARIANTS[1]
    return VARIANTS[2]


def _neutral(cfg: RunConfig) -> str:
    """Fingerprint of a config with the seed and both loss weights set to the paper's."""
    return dataclasses.replace(cfg, seed=0, alpha=0.1, contrastive_weight=1.0).fingerprint()


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
        ours = run.metrics[run.metrics["model"] == "CAE (ours)"]
        frames.append(ours.assign(dataset=run.config.dataset, model=variant_of(run.config),
                                  run=run.run_dir.name))
    return pd.concat(frames, ignore_index=True)


def ablation_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± 95% half-interval over seeds per variant, split and protocol (n = seeds)."""
    table = estimates_table(summarise(rows), VARIANTS, ABLATION_METRICS)
    order = {name: i for i, name in enumerate(VARIANTS)}
    return table.sort_index(level=["dataset", "split", "protocol", "model"],
                            key=lambda c: c.map(order) if c.name == "model" else c)


def seeds_note(rows: pd.DataFrame) -> str:
    """Markdown naming the seeds each variant was run with."""
    seeds = {name: sorted(rows.loc[rows["model"] == name, "seed"].unique().tolist())
             for name in VARIANTS if (rows["model"] == name).any()}
    return "Seeds: " + "; ".join(f"{name} {', '.join(map(str, s))}" for name, s in seeds.items()) + "."
