"""The numbers the prose chapters quote inside their sentences, each computed here.

`python -m cae.report.fragments` writes them to `book/generated/numbers.json`; the book's
Sphinx extension (`book/_ext/generated_numbers.py`) makes each a MyST substitution, so
`{{ screen_mnist_noflip_knn_gain }}` in a chapter shows the value computed from the
committed runs, the config or the package, in an element of class `cae-generated`.
Names say where a number comes from: `config_*` the `paper` profile and the package's
constants, `screen_*` the val screen (`artifacts/screen/`), `validated_*` the validated runs
and the check of clustering z (`artifacts/confirmation/`), `reproduction_*` the `paper`
runs, `variational_*` and `combined_*` the loss ablation, `timing_*` a run's provenance.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cae import names
from cae.config import make_config
from cae.errors import CaeError
from cae.evaluation.screen import MARGIN
from cae.infra.runs import RunArtifacts
from cae.method.cluster_head import CONFIDENCE
from cae.report import ablation, stats, table1, timings
from cae.report.open_choices import short

SCREEN = "screen"
Z_CHECK = "confirmation/pneumoniamnist-validated-z-seed0"
VARIATIONAL, COMBINED = ablation.VARIANTS[3], ablation.VARIANTS[2]


def f3(value: float) -> str:
    """A score or a difference of scores, to 3 decimals."""
    return f"{value:.3f}"


def config_numbers() -> dict[str, str]:
    """Constants of the `paper` profile and of the package that the method prose names."""
    cfg = make_config("paper")
    values = {f"config_{name}": short(getattr(cfg, name))
              for name in ("aug_prob", "kl_weight", "lr_start", "lr_peak", "lr_final")}
    return values | {"config_screen_margin": short(MARGIN), "config_scan_confidence": short(CONFIDENCE)}


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CaeError(f"{path} not found; the val screen writes it "
                       "(cae.evaluation.screen.write_summary, see the method chapter)")
    return pd.read_csv(path)


def screen_numbers(screen_dir: str | Path) -> dict[str, str]:
    """The val screen's findings (method chapter): each variant's gain over `base`, from
    encoder_screen.csv, and the clustering choices' val accuracies, from clustering_screen.csv."""
    screen_dir = Path(screen_dir)
    encoder = _read_csv(screen_dir / "encoder_screen.csv").set_index(["dataset", "variant"])
    clustering = _read_csv(screen_dir / "clustering_screen.csv")

    def gain(dataset: str, variant: str, column: str) -> float:
        return encoder.loc[(dataset, variant), column] - encoder.loc[(dataset, "base"), column]

    def option(dataset: str, choice: str) -> pd.Series:
        rows = clustering[(clustering["dataset"] == dataset) & (clustering["choice"] == choice)]
        return rows.set_index("option")["accuracy"]

    values = {
        "screen_mnist_noflip_knn_gain": gain("mnist", "noflip", "val knn"),
        "screen_mnist_noflip_lin_gain": gain("mnist", "noflip", "val lin"),
        "screen_mnist_noflip_head_gain": gain("mnist", "noflip", "val head hungarian"),
        "screen_mnist_noflip_knnlin_gain": gain("mnist", "noflip", "val kNN+lin"),
        "screen_mnist_t01_knnlin": encoder.loc[("mnist", "t0.1"), "val kNN+lin"],
        "screen_mnist_base_knnlin": encoder.loc[("mnist", "base"), "val kNN+lin"],
        "screen_mnist_rot15_knnlin_gain": gain("mnist", "rot15", "val kNN+lin"),
        "screen_mnist_rot15_head_loss": -gain("mnist", "rot15", "val head hungarian"),
        "screen_mnist_wide_knnlin_gain": gain("mnist", "wide", "val kNN+lin"),
        "screen_pneumoniamnist_noflip_knnlin_gain": gain("pneumoniamnist", "noflip", "val kNN+lin"),
        "screen_pneumoniamnist_hungarian_z": option("pneumoniamnist", "h or z")["KMeans on z"],
        "screen_pneumoniamnist_hungarian_h": option("pneumoniamnist", "h or z")["KMeans on h"],
        "screen_restarts_spread": max(option(d, "KMeans restarts").pipe(lambda s: s.max() - s.min())
                                      for d in clustering["dataset"].unique()),
    }
    for dataset, column, name in (("mnist", "val knn", "knn"), ("mnist", "val lin", "lin"),
                                  ("mnist", "val head hungarian", "head")):
        values[f"screen_{dataset}_noflip_{name}"] = encoder.loc[(dataset, "noflip"), column]
    return {name: f3(value) for name, value in values.items()}


def _accuracy(rows: pd.DataFrame, dataset: str, split: str, protocol: str,
              model: str = names.OURS) -> pd.Series:
    """Per-seed accuracy of one model, split and protocol (indexed by seed)."""
    hit = rows[(rows["dataset"] == dataset) & (rows["model"] == model)
               & (rows["split"] == split) & (rows["protocol"] == protocol)]
    if hit.empty:
        raise CaeError(f"no {model} {split} {protocol} row of {dataset} in the runs read")
    return hit.set_index("seed")["accuracy"]


def validated_numbers(runs_root: str | Path) -> dict[str, str]:
    """How the `validated` runs confirm the screen on val (method chapter): their means beside
    the screen's no-flip run and the `paper` runs, and the paper-schedule check of clustering z."""
    runs_root = Path(runs_root)
    validated = table1.collect_runs(runs_root, "validated")
    paper = table1.collect_runs(runs_root, "paper")
    values = {}
    for protocol in (names.KNN, names.LIN):
        values[f"validated_mnist_{protocol}"] = _accuracy(validated, "mnist", "val", protocol).mean()
        for key, rows in (("validated", validated), ("reproduction", paper)):
            values[f"{key}_pneumoniamnist_{protocol}"] = _accuracy(
                rows, "pneumoniamnist", "val", protocol).mean()
    values["validated_mnist_head"] = _accuracy(validated, "mnist", "val", names.HUNGARIAN,
                                               names.HEAD_MODEL).mean()
    check = RunArtifacts.read(runs_root / Z_CHECK).metrics.assign(dataset="pneumoniamnist")
    values["validated_z_stat"] = _accuracy(check, "pneumoniamnist", "val", names.STAT).iloc[0]
    values["validated_z_majority"] = _accuracy(check, "pneumoniamnist", "val", names.NO_PROTOCOL,
                                               names.MAJORITY).iloc[0]
    values["validated_z_hungarian"] = _accuracy(check, "pneumoniamnist", "val", names.HUNGARIAN).iloc[0]
    for protocol in (names.STAT, names.HUNGARIAN):
        per_seed = _accuracy(validated, "pneumoniamnist", "val", protocol)
        values[f"validated_h_{protocol}_min"] = per_seed.min()
        values[f"validated_h_{protocol}_max"] = per_seed.max()
    return {name: f3(value) for name, value in values.items()}


def variational_numbers(runs_root: str | Path) -> dict[str, str]:
    """The variational encoder's cost in the loss ablation (method chapter): its means
    against the combination's on the same seeds, per split and protocol, and the seeds."""
    rows = ablation.ablation_rows(Path(runs_root) / "ablation", runs_root)
    summary = stats.summarise(rows[rows["dataset"] == "pneumoniamnist"])
    values = {}
    for variant, key in ((VARIATIONAL, "variational"), (COMBINED, "combined")):
        for split in ("test", "val"):
            for protocol in (names.KNN, names.LIN, names.STAT):
                values[f"{key}_{split}_{protocol}"] = f3(_mean(summary, variant, split, protocol))
        values[f"{key}_test_nmi"] = f3(_mean(summary, variant, "test", names.STAT, "nmi"))
    values["variational_seeds"] = str(rows.loc[rows["model"] == VARIATIONAL, "seed"].nunique())
    return values


def _mean(summary: pd.DataFrame, model: str, split: str, protocol: str,
          metric: str = "accuracy") -> float:
    hit = summary[(summary["model"] == model) & (summary["split"] == split)
                  & (summary["protocol"] == protocol) & (summary["metric"] == metric)]
    if hit.empty:
        raise CaeError(f"the loss ablation has no {model} {split} {protocol} {metric}")
    return float(hit["mean"].iloc[0])


def timing_numbers(runs_root: str | Path) -> dict[str, str]:
    """The latest `paper` MNIST run (seed 0, fast kernels; reproducibility chapter): time and
    peak memory."""
    time, memory = timings.time_and_peak(runs_root, "mnist-paper-seed0")
    return {"timing_mnist_paper_time": time, "timing_mnist_paper_peak": memory}


def prose_numbers(runs_root: str | Path) -> dict[str, str]:
    """Every number the prose chapters quote, by substitution name."""
    runs_root = Path(runs_root)
    return (config_numbers() | screen_numbers(runs_root / SCREEN) | validated_numbers(runs_root)
            | variational_numbers(runs_root) | timing_numbers(runs_root))
