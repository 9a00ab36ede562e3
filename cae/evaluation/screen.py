"""The val screen: which open choice helps, read from the val split only.

Two kinds of choice. Those that change training (flip, rotation, temperature, widths)
are separate runs that differ from the paper-faithful run in one setting
(`scripts/run_screen.sh`); `encoder_screen` lines up their val scores. Those that only
change how a frozen encoder's latents are clustered (k range, elbow score, KMeans
restarts, h or z, the clustering head) are screened on one run's latents by
`clustering_screen`, which refits nothing but the clustering. The rules that pick a
winner are `RULES`, fixed before any test score of a screened run was read; every rule
keeps the paper-faithful value unless another beats it on val by more than `MARGIN`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from sklearn.metrics import calinski_harabasz_score, silhouette_score

from cae import config, names
from cae.data.datasets import Dataset, load
from cae.errors import CaeError
from cae.evaluation.protocols import (
    Prediction,
    classification_metrics,
    cluster_metrics,
    hungarian_protocol,
    mapping_protocol,
)
from cae.infra.files import atomic_write_text, write_json
from cae.infra.runs import RunArtifacts, finished_under
from cae.infra.runtime import encode, resolve_device, resolve_precision
from cae.method.checkpoints import load_networks
from cae.method.cluster_head import HeadSettings, head_clusters
from cae.method.clustering import distortion, elbow_k, kmeans_clusters, kmeans_fits
from cae.report.figures import save_figure

SCREEN_FILE = "clustering_screen.json"
SILHOUETTE_SAMPLE = 10_000  # silhouette costs n^2 per k: scored on a seeded sample
K_MAX_CHOICES = (10, 30)
N_INIT_CHOICES = (1, 10, 50)
MARGIN = 0.005  # a change must beat the paper-faithful value by more than this on val
RULES = {
    "encoder": "highest mean of val kNN and val linear accuracy",
    "k range and elbow score": "highest val accuracy of protocol (a)",
    "KMeans restarts": ("highest val Hungarian accuracy at k = number of classes; 1 restart "
                        "unless more restarts beat it by the margin (each costs a full fit)"),
    "h or z": "highest val Hungarian accuracy at k = number of classes",
    "clustering head": "highest val Hungarian accuracy (the paper has no head: no default)",
}
# the option each clustering choice keeps unless another beats it by MARGIN: the
# paper-faithful one (the config's default), except restarts, where the cheapest is kept
DEFAULT_OPTIONS = {"k range and elbow score": "distortion, k <= 10",
                   "KMeans restarts": "1 restarts", "h or z": "KMeans on h"}


def _val_scores(data: Dataset, pred: Prediction) -> dict[str, float]:
    """Accuracy, NMI and ARI of a prediction mapped from clusters, on the val split."""
    y = data.splits["val"].labels
    assert pred.clusters is not None  # mapping_protocol and hungarian_protocol set it
    return {"accuracy": classification_metrics(y, pred, data.n_classes)["accuracy"],
            **cluster_metrics(y, pred.clusters)}


def elbow_scores(x: np.ndarray, fits: dict, seed: int) -> dict[str, list[float]]:
    """Each elbow score of every fit, as yellowbrick's KElbowVisualizer computes it
    (silhouette on a seeded sample of at most SILHOUETTE_SAMPLE rows)."""
    labels = {k: fit.labels_ for k, fit in fits.items()}
    return {"distortion": [distortion(x, labels[k]) for k in fits],
            "calinski_harabasz": [float(calinski_harabasz_score(x, labels[k])) for k in fits],
            "silhouette": [float(silhouette_score(x, labels[k],
                                                  sample_size=min(SILHOUETTE_SAMPLE, len(x)),
                                                  random_state=seed)) for k in fits]}


def clustering_screen(h: dict[str, torch.Tensor], z: dict[str, torch.Tensor], data: Dataset,
                      cfg: config.RunConfig) -> list[dict]:
    """Every clustering choice on one frozen encoder, scored on val: one row per option."""
    train_y, n_classes = data.splits["train"].labels, data.n_classes
    rows = []
    x = F.normalize(h["train"], dim=1).double().numpy()
    fits = kmeans_fits(x, cfg.k_min, max(K_MAX_CHOICES), cfg.seed, cfg.kmeans_n_init)
    ks, scores = list(fits), elbow_scores(x, fits, cfg.seed)
    for metric, curve in scores.items():
        for k_max in K_MAX_CHOICES:
            upto = [k for k in ks if k <= k_max]
            k = elbow_k(upto, curve[:len(upto)], metric)
            pred = mapping_protocol(h["train"], train_y, h["val"],
                                    torch.from_numpy(fits[k].cluster_centers_).float(), n_classes)
            rows.append(dict(choice="k range and elbow score", option=f"{metric}, k <= {k_max}",
                             protocol="stat", k=k, **_val_scores(data, pred)))
    for name, rep, n_inits in (("h", h, N_INIT_CHOICES), ("z", z, (cfg.kmeans_n_init,))):
        for n_init in n_inits:
            train_c, eval_c = kmeans_clusters(rep["train"], {"val": rep["val"]}, n_classes,
                                              cfg.seed, n_init)
            pred = hungarian_protocol(train_c, train_y, eval_c["val"], n_classes)
            row = dict(protocol="hungarian", k=n_classes, **_val_scores(data, pred))
            if name == "h":
                rows.append(dict(choice="KMeans restarts", option=f"{n_init} restarts", **row))
            if n_init == cfg.kmeans_n_init:
                rows.append(dict(choice="h or z", option=f"KMeans on {name}", **row))
    for method in config.HEAD_METHODS:
        settings = dataclasses.replace(HeadSettings.of(cfg), method=method)
        train_c, eval_c = head_clusters(h["train"], {"val": h["val"]}, n_classes, cfg.seed,
                                        settings)
        pred = hungarian_protocol(train_c, train_y, eval_c["val"], n_classes)
        rows.append(dict(choice="clustering head", option=method, protocol="hungarian",
                         k=n_classes, **_val_scores(data, pred)))
    return rows


def screen_run(run_dir: Path, data_dir: str | None = None) -> pd.DataFrame:
    """Run `clustering_screen` on a finished run's encoder and store it in the run directory."""
    run = RunArtifacts.read(run_dir)
    cfg = run.config if data_dir is None else dataclasses.replace(run.config, data_dir=data_dir)
    data = load(cfg)
    if "val" not in data.splits:
        raise CaeError(f"{run_dir} has no val split; screen runs need one (val_holdout)")
    device = resolve_device(cfg.device)
    nets = load_networks(cfg, run_dir, data.n_channels, device)
    precision = resolve_precision(cfg.precision, device)
    h = {s: encode(nets.encoder, data.splits[s].images, device, precision) for s in ("train", "val")}
    with torch.no_grad():
        z = {s: nets.projector.eval()(v.to(device)).float().cpu() for s, v in h.items()}
    rows = clustering_screen(h, z, data, cfg)
    write_json(Path(run_dir, SCREEN_FILE), rows)
    return pd.DataFrame(rows)


def pick(options: pd.Series, accuracy: pd.Series, default: str | None) -> pd.Series:
    """Which option wins: the best, unless the default is within MARGIN of it (ties: first)."""
    best = options[accuracy.idxmax()]
    if default is not None and default in set(options):
        if accuracy.max() - accuracy[options == default].iloc[0] <= MARGIN:
            best = default
    return options == best


def read_clustering_screen(run_dir: Path) -> pd.DataFrame:
    """The clustering screen stored with a run, with the winner of each choice marked."""
    table = pd.DataFrame(json.loads(Path(run_dir, SCREEN_FILE).read_text()))
    chosen = [pick(group["option"], group["accuracy"], DEFAULT_OPTIONS.get(choice))
              for choice, group in table.groupby("choice", sort=False)]
    return table.assign(chosen=pd.concat(chosen))


def encoder_screen(root: Path, reference: str = "base") -> pd.DataFrame:
    """Val accuracy of every screened run under root, one row per run, with what it changed.

    Runs are named `<dataset>-quick-<variant>-seed<s>`; `changed` lists the settings that
    differ from the `reference` variant's run of the same dataset.
    """
    runs = finished_under(root)
    by_name = {r.run_dir.name: r for r in runs}
    rows = []
    for run in runs:
        variant = run.run_dir.name.split("-quick-")[1].rsplit("-seed", 1)[0]
        base = by_name.get(run.run_dir.name.replace(f"-quick-{variant}-", f"-quick-{reference}-"))
        changed = config.differences(base.config, run.config) if base else {}
        val = run.metrics[(run.metrics["split"] == "val")]
        accuracy = {(m, p): a for m, p, a in zip(val["model"], val["protocol"], val["accuracy"])}
        ours = {p: accuracy.get((names.OURS, p), np.nan)
                for p in (names.STAT, names.KNN, names.LIN, names.HUNGARIAN)}
        rows.append(dict(dataset=run.config.dataset, variant=variant,
                         changed=", ".join(f"{k}={v[1]}" for k, v in changed.items()) or "-",
                         **{f"val {p}": a for p, a in ours.items()},
                         **{"val head hungarian": accuracy.get((names.HEAD_MODEL,
                                                                 "hungarian"), np.nan)},
                         elbow_k=run.elbow["k"], train_s=run.provenance["wall_time_s"]["train"]))
    table = pd.DataFrame(rows)
    table["val kNN+lin"] = (table["val knn"] + table["val lin"]) / 2
    chosen = [pick(group["variant"], group["val kNN+lin"], reference)
              for _, group in table.groupby("dataset", sort=False)]
    return table.assign(chosen=pd.concat(chosen))


ENCODER_COLUMNS = {"val knn": "(b) kNN", "val lin": "(c) linear", "val stat": "(a) mapping",
                   "val hungarian": "Hungarian, KMeans", "val head hungarian": "Hungarian, head"}


# the clustering choices as the figure's labels name them (the CSV keeps the full names)
SHORT_CHOICES = {"k range and elbow score": "elbow", "KMeans restarts": "restarts",
                 "h or z": "space", "clustering head": "head"}


def screen_figure(encoders: pd.DataFrame, clustering: pd.DataFrame) -> Figure:
    """Val accuracy, drawn for the book's column (7 inches wide), two panels per dataset, one
    above the other: each encoder variant under each protocol, then each clustering option
    on the paper-faithful encoder, green where the screen's rule picked it on val (a pick
    the paper schedule later overruled, such as clustering z on PneumoniaMNIST, is still
    green here: the method chapter says which picks were confirmed)."""
    import seaborn as sns

    datasets = list(dict.fromkeys(encoders["dataset"]))
    fig = Figure(figsize=(7.0, 8.6 * len(datasets)), layout="constrained")
    axes = fig.subplots(2 * len(datasets), 1, height_ratios=[1, 1.25] * len(datasets))
    order = {choice: i for i, choice in enumerate(RULES)}
    for i, dataset in enumerate(datasets):
        top, bottom = axes[2 * i], axes[2 * i + 1]
        long = encoders[encoders["dataset"] == dataset].melt(
            id_vars="variant", value_vars=list(ENCODER_COLUMNS), var_name="protocol",
            value_name="val accuracy")
        long["protocol"] = long["protocol"].map(ENCODER_COLUMNS)
        sns.pointplot(long, x="variant", y="val accuracy", hue="protocol", ax=top,
                      linestyles="none", markers="o", dodge=0.4)
        top.set_title(f"{dataset}: encoder variants (quick schedule)", fontsize="medium")
        top.set_xlabel("")
        top.tick_params(axis="x", labelrotation=30)
        top.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
        top.grid(alpha=0.3)
        options = clustering[clustering["dataset"] == dataset]
        options = options.assign(label=options["choice"].map(lambda c: SHORT_CHOICES.get(c, c))
                                 + ": " + options["option"],
                                 order=options["choice"].map(order),
                                 picked=options["chosen"].map({True: "picked by the val rule",
                                                               False: "not picked"}))
        options = options.sort_values("order", kind="stable")
        sns.barplot(options, y="label", x="accuracy", hue="picked", dodge=False, ax=bottom,
                    palette={"picked by the val rule": "#117733", "not picked": "#BBBBBB"})
        bottom.set_xlabel("val accuracy")
        bottom.set_ylabel("")
        bottom.set_xlim(0, 1)
        bottom.set_title(f"{dataset}: clustering choices, paper-faithful encoder",
                         fontsize="medium")
        bottom.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return fig


def write_summary(root: Path, out: Path | None = None, reference: str = "base") -> None:
    """The screen as the method chapter shows it, written to out (default root):
    `encoder_screen.csv`, `clustering_screen.csv` (every `reference` run's clustering
    screen, with its dataset) and `screen.png`."""
    root = Path(root)
    out = Path(out or root)
    encoders = encoder_screen(root, reference)
    screened = sorted(root.glob(f"*-quick-{reference}-seed*/{SCREEN_FILE}"))
    clustering = pd.concat([read_clustering_screen(path.parent).assign(
        dataset=RunArtifacts.read(path.parent).config.dataset) for path in screened],
        ignore_index=True)
    clustering = clustering[["dataset", *[c for c in clustering.columns if c != "dataset"]]]
    shown = encoders[["dataset", "variant", "changed", *ENCODER_COLUMNS, "val kNN+lin", "elbow_k",
                      "chosen"]]
    atomic_write_text(out / "encoder_screen.csv", shown.to_csv(index=False, float_format="%.4f"))
    atomic_write_text(out / "clustering_screen.csv",
                      clustering.to_csv(index=False, float_format="%.4f"))
    save_figure(screen_figure(encoders, clustering), out / "screen.png")


def main(argv: list[str] | None = None) -> int:
    """`python -m cae.evaluation.screen RUN_DIR [--data-dir DIR]`: screen the clustering choices
    of one run."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m cae.evaluation.screen", description=main.__doc__)
    parser.add_argument("run_dir", type=Path, help="a finished run with a val split")
    parser.add_argument("--data-dir", help="folder with local data copies")
    args = parser.parse_args(argv)
    try:
        table = screen_run(args.run_dir, args.data_dir)
    except CaeError as exc:
        print(f"cae.evaluation.screen: error: {exc}", file=sys.stderr)
        return 2
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"written to {args.run_dir / SCREEN_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
