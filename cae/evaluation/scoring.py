"""Scoring a representation: the protocols run on every eval split, as metrics rows, and
protocol (a) against k; writing and merging a run's metrics tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from cae import names
from cae.config import RunConfig
from cae.data.datasets import Dataset
from cae.evaluation.protocols import (
    Prediction,
    classification_metrics,
    cluster_composition,
    cluster_metrics,
    hungarian_protocol,
    knn_protocol,
    labelled_pool,
    linear_probe,
    majority_mapping,
    mapping_protocol,
    metrics_table,
)
from cae.infra.files import atomic_write_text, write_json
from cae.infra.run_files import read_run_json
from cae.infra.runs import AgainstK, KCurves
from cae.method.cluster_head import HeadSettings, head_clusters
from cae.method.clustering import kmeans_clusters, kmeans_fits


def protocol_predictions(train_h: torch.Tensor, data: Dataset, eval_hs: dict[str, torch.Tensor],
                         prototypes: torch.Tensor, cfg: RunConfig,
                         clustered_hs: dict[str, torch.Tensor] | None = None,
                         clusters: tuple[np.ndarray, dict[str, np.ndarray]] | None = None
                         ) -> dict[str, dict[str, Prediction]]:
    """The three protocols and Hungarian accuracy on one representation, on every eval split:
    protocol -> split -> prediction. kNN and the linear probe read h; protocol (a) and
    Hungarian accuracy cluster `clustered_hs` (every split, train included; default h),
    the space the prototypes live in, Hungarian accuracy with `kmeans_clusters` at one
    cluster per class (`clusters` when computed already). The mapping set, the kNN bank
    and the probe's pool are the training images `labelled_pool` picks (all, by default).
    """
    train_y = data.splits["train"].labels
    c = clustered_hs or {"train": train_h, **eval_hs}
    eval_cs = {s: c[s] for s in eval_hs}
    train_clusters, eval_clusters = clusters or kmeans_clusters(
        c["train"], eval_cs, data.n_classes, cfg.seed, cfg.kmeans_n_init)
    pool = labelled_pool(len(train_h), cfg.eval_train_images, cfg.seed)
    pool_y = train_y[pool]
    return {
        names.STAT: {s: mapping_protocol(c["train"][pool], pool_y, v, prototypes, data.n_classes)
                     for s, v in eval_cs.items()},
        names.KNN: {s: knn_protocol(train_h[pool], pool_y, h, data.n_classes, cfg.knn_k,
                                    cfg.knn_metric)
                    for s, h in eval_hs.items()},
        names.LIN: linear_probe(train_h[pool], pool_y, eval_hs, data.n_classes, cfg.probe_fraction,
                                cfg.probe_epochs, cfg.probe_lr, cfg.probe_batch_size, cfg.seed,
                                cfg.probe_standardize),
        names.HUNGARIAN: {s: hungarian_protocol(train_clusters, train_y, v, data.n_classes)
                      for s, v in eval_clusters.items()},
    }


def protocol_rows(model: str, train_h: torch.Tensor, data: Dataset, eval_hs: dict[str, torch.Tensor],
                  prototypes: torch.Tensor, cfg: RunConfig,
                  clusters: tuple[np.ndarray, dict[str, np.ndarray]] | None = None) -> list[dict]:
    """`protocol_predictions` on h alone, as metrics rows."""
    return score_rows(model, protocol_predictions(train_h, data, eval_hs, prototypes, cfg,
                                                  clusters=clusters), data, cfg.seed)


def score_rows(model: str, predictions: dict[str, dict[str, Prediction]], data: Dataset,
               seed: int, **labels: str) -> list[dict]:
    """One metrics row per protocol and eval split (with `labels`, e.g. the baselines'
    weights, on each); clustering rows add NMI, ARI and k."""
    rows = []
    for protocol, by_split in predictions.items():
        for split, pred in by_split.items():
            y = data.splits[split].labels
            row = dict(model=model, split=split, protocol=protocol, seed=seed, **labels,
                       **classification_metrics(y, pred, data.n_classes))
            if pred.clusters is not None:
                row.update(cluster_metrics(y, pred.clusters), k=pred.n_clusters)
            rows.append(row)
    return rows


def head_rows(model: str, train_h: torch.Tensor, data: Dataset, eval_hs: dict[str, torch.Tensor],
              cfg: RunConfig) -> list[dict]:
    """A clustering head with one cluster per class on the frozen representation, scored by
    the majority mapping (`stat`) and by Hungarian accuracy."""
    train_y = data.splits["train"].labels
    train_clusters, eval_clusters = head_clusters(train_h, eval_hs, data.n_classes, cfg.seed,
                                                  HeadSettings.of(cfg))
    predictions = {
        names.STAT: {s: majority_mapping(train_clusters, train_y, c, data.n_classes, data.n_classes)
                 for s, c in eval_clusters.items()},
        names.HUNGARIAN: {s: hungarian_protocol(train_clusters, train_y, c, data.n_classes)
                      for s, c in eval_clusters.items()},
    }
    return score_rows(model, predictions, data, cfg.seed)


def mapping_against_k(h: dict[str, torch.Tensor], data: Dataset, cfg: RunConfig) -> AgainstK:
    """Protocol (a) for every k of the elbow's range: mapped accuracy, NMI and ARI per eval
    split, on the clustered vectors h (h or z, every split).

    More clusters make each cluster purer, so the mapped accuracy rises with k whether or
    not the clusters mean anything; NMI and ARI do not reward that. `composition` holds,
    for every k, the cluster-by-class counts: which classes share each cluster.
    """
    fits = kmeans_fits(F.normalize(h["train"], dim=1).numpy(), cfg.k_min, cfg.k_max, cfg.seed,
                       cfg.kmeans_n_init)
    result: AgainstK = {"ks": list(fits)}
    for split in data.eval_splits:
        y = data.splits[split].labels
        curves = KCurves(accuracy=[], nmi=[], ari=[], composition=[])
        for k, fit in fits.items():
            pred = mapping_protocol(h["train"], data.splits["train"].labels, h[split],
                                    torch.from_numpy(fit.cluster_centers_).float(), data.n_classes)
            assert pred.clusters is not None  # protocol (a) maps from clusters
            curves["accuracy"].append(classification_metrics(y, pred, data.n_classes)["accuracy"])
            agreement = cluster_metrics(y, pred.clusters)
            curves["nmi"].append(agreement["nmi"])
            curves["ari"].append(agreement["ari"])
            curves["composition"].append(cluster_composition(pred.clusters, y, k,
                                                             data.n_classes).tolist())
        result[split] = curves
    return result


def write_metrics(table: pd.DataFrame, run_dir: Path) -> None:
    """metrics.json (records, NaN as null) and metrics.csv."""
    records = json.loads(table.to_json(orient="records"))
    write_json(run_dir / "metrics.json", records)
    atomic_write_text(run_dir / "metrics.csv", table.to_csv(index=False))


def merge_metrics(table: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    """Write table into the run's metrics, replacing rows of its models and keeping the others."""
    path = Path(run_dir) / "metrics.json"
    if path.is_file():
        kept = [r for r in read_run_json(path) if r["model"] not in set(table["model"])]
        table = metrics_table(kept + table.to_dict("records"))
    write_metrics(table, run_dir)
    return table
