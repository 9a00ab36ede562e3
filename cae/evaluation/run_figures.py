"""The figures of one evaluated run, one helper per figure, drawn from its networks and
latents into `figures/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cae.config import RunConfig
from cae.data.datasets import Dataset
from cae.evaluation.protocols import Prediction, mapping_protocol
from cae.infra.run_files import read_run_json
from cae.infra.runs import AgainstK, composition_ks
from cae.infra.runtime import to_float
from cae.method.clustering import soft_assign
from cae.method.networks import Networks, clustered
from cae.method.sampling import cluster_samples, decode_prototypes
from cae.report import figures


@dataclass
class RunResults:
    """What `evaluate_run` computed, for the figures: networks, latents h and clustered
    vectors c of every split, protocol (a)'s predictions per eval split, protocol (a)
    against k."""

    cfg: RunConfig
    data: Dataset
    nets: Networks
    h: dict[str, torch.Tensor]
    c: dict[str, torch.Tensor]
    mapping: dict[str, Prediction]
    against_k: AgainstK


def draw_figures(results: RunResults, run_dir: Path, device: torch.device) -> None:
    """Write the run's figures: montage, curves, elbow, protocol (a) against k, cluster
    composition, t-SNE of the clustered space, reconstructions, prototypes, and for a
    variational run images sampled from each cluster."""
    out = run_dir / "figures"
    history, elbow = read_run_json(run_dir / "history.json"), read_run_json(run_dir / "elbow.json")
    draw_montage(results, out)
    figures.save_figure(figures.training_curves(history, results.cfg.warmup_epochs),
                        out / "training.png")
    draw_elbow(elbow, out)
    draw_against_k(results, elbow, out)
    draw_tsne(results, out)
    draw_reconstructions(results, out, device)
    titles = prototype_titles(results)
    latents = decode_prototypes(results.nets, results.h["train"], results.c["train"], results.cfg,
                                device)
    figures.save_figure(figures.decoded_prototypes(latents, titles), out / "prototypes.png")
    if results.cfg.variational:
        draw_samples(results, titles, out, device)


def _shown_split(results: RunResults) -> str:
    """The split whose images the montage and the reconstructions show: the last eval split."""
    return results.data.eval_splits[-1]


def draw_montage(results: RunResults, out: Path) -> None:
    """figures/montage.png: images of the shown split with their classes."""
    data = results.data
    split = data.splits[_shown_split(results)]
    figures.save_figure(figures.dataset_montage(split.images, split.labels, data.class_names),
                        out / "montage.png")


def draw_elbow(elbow: dict, out: Path) -> None:
    """figures/elbow.png: the elbow's score against k and the k it chose."""
    figures.save_figure(figures.elbow_curve(elbow["ks"], elbow.get("scores") or elbow["inertias"],
                                            elbow["k"], elbow.get("metric", "distortion")),
                        out / "elbow.png")


def draw_against_k(results: RunResults, elbow: dict, out: Path) -> None:
    """figures/mapping_vs_k_<split>.png and composition_<split>_k<k>.png, per eval split."""
    data, against_k = results.data, results.against_k
    for name in data.eval_splits:
        scores = against_k[name]
        figures.save_figure(figures.accuracy_vs_k(against_k["ks"], scores["accuracy"],
                                                  scores["nmi"], scores["ari"], elbow["k"]),
                            out / f"mapping_vs_k_{name}.png")
        for k in composition_ks(elbow, data.n_classes):
            counts = np.array(scores["composition"][against_k["ks"].index(k)])
            figures.save_figure(figures.composition_heatmap(counts, data.class_names),
                                out / f"composition_{name}_k{k}.png")


def draw_tsne(results: RunResults, out: Path) -> None:
    """figures/tsne_<split>.png: t-SNE of the clustered space with the prototypes, per eval split."""
    cfg, data = results.cfg, results.data
    prototypes = results.nets.require_prototypes().cpu()
    for name in data.eval_splits:
        mapping = results.mapping[name]
        assert mapping.clusters is not None  # protocol (a) maps from clusters
        points, proto_points, index = figures.tsne_embedding(results.c[name], prototypes, cfg.seed,
                                                             cfg.tsne_samples)
        panels = figures.tsne_panels(points, proto_points, data.splits[name].labels.numpy()[index],
                                     mapping.clusters[index], mapping.y_pred[index],
                                     data.class_names)
        figures.save_figure(panels, out / f"tsne_{name}.png")


def draw_reconstructions(results: RunResults, out: Path, device: torch.device) -> None:
    """figures/reconstructions.png: eight images of the shown split and the conditional
    decoder's reconstructions of them."""
    cfg, nets = results.cfg, results.nets
    images = results.data.splits[_shown_split(results)].images
    x = images[:8].to(device)
    with torch.no_grad():
        hx = nets.encoder(to_float(x, False))
        s = soft_assign(clustered(nets, hx, cfg), nets.require_prototypes(),
                        cfg.assign_temperature)
        recon = nets.require_cond_decoder()(hx, s)
    figures.save_figure(figures.reconstruction_grid(images[:8], recon.float().cpu()),
                        out / "reconstructions.png")


def prototype_titles(results: RunResults) -> list[str]:
    """One title per prototype: the class protocol (a) maps its cluster to."""
    data, prototypes = results.data, results.nets.require_prototypes().cpu()
    cluster_labels = mapping_protocol(results.c["train"], data.splits["train"].labels, prototypes,
                                      prototypes, data.n_classes).y_pred
    return [f"cluster {i} -> {data.class_names[c]}" for i, c in enumerate(cluster_labels)]


def draw_samples(results: RunResults, titles: list[str], out: Path, device: torch.device) -> None:
    """figures/samples.png: images drawn from each cluster of a variational run."""
    cfg = results.cfg
    samples = cluster_samples(results.nets, results.data.splits["train"].images, cfg, device,
                              seed=cfg.seed)
    figures.save_figure(figures.sample_grid(samples, titles), out / "samples.png")
