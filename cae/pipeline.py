"""One run end to end: train, evaluate (with floors), baselines, figures, provenance.

What a run writes is described in `cae.runs`. `reproduce` reuses the artifacts of a
finished run with the same config unless asked to retrain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from cae import figures
from cae.allocator import release_freed_memory
from cae.baselines import kmeans_baseline, load_resnet18, resnet_features, transfer_baseline
from cae.cluster_head import HeadSettings, head_clusters
from cae.clustering import (kmeans_clusters, kmeans_fits, nearest_prototype, prototype_elbow,
                            soft_assign)
from cae.config import RunConfig, load_config
from cae.data import Dataset, load_dataset
from cae.distributed import from_main, is_main
from cae.errors import CaeError
from cae.evaluate import (Prediction, classification_metrics, cluster_composition, cluster_metrics,
                          hungarian_protocol, knn_protocol, labelled_pool, linear_probe,
                          majority_mapping,
                          mapping_protocol, metrics_table)
from cae.files import write_json
from cae.floor_cache import CACHE_DIR, FLOOR_SEED, cached_floor_rows, floor_settings
from cae.runs import HEAD_MODEL, RunArtifacts, composition_ks, provenance, read_json, write_metrics
from cae.runtime import Runtime, encode, peak_rss_mb, to_float
from cae.sampling import cluster_samples
from cae.train import (Networks, build_networks, clustered, read_checkpoint, restore_networks,
                       train)


def load(cfg: RunConfig) -> Dataset:
    """The config's dataset: its val hold-out, selection split, scored splits, train subset."""
    return load_dataset(cfg.dataset, cfg.data_dir, cfg.train_subset, cfg.seed, cfg.val_holdout,
                        cfg.selection_fraction, cfg.score_on)


def writable_run_dir(run_dir: Path) -> None:
    """Create run_dir, or raise CaeError when it is a file or cannot be written."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise CaeError(f"run directory {run_dir} is an existing file; pass another --run-dir")
    probe = run_dir / ".write-test"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CaeError(f"cannot write to run directory {run_dir} ({exc.strerror}); pass a "
                       f"writable --run-dir") from None


def check_before_work(cfg: RunConfig, run_dir: Path, baselines: bool) -> None:
    """What a run needs that can fail, checked before the first epoch: a writable run
    directory and, when the baselines will run, the ResNet-18 weights (or the explicit
    permission to use untrained ones). The data is checked when it is loaded."""
    writable_run_dir(run_dir)
    if baselines:
        load_resnet18(cfg.weights_path, cfg.allow_untrained_weights, cfg.seed)


def prepare_run_dir(cfg: RunConfig, run_dir: Path, resume: bool) -> None:
    """Create run_dir and save the config; refuse to mix a different config into it."""
    writable_run_dir(run_dir)
    saved = run_dir / "config.json"
    if resume and saved.is_file() and (load_config(saved).fingerprint(training_only=True)
                                       != cfg.fingerprint(training_only=True)):
        raise CaeError(f"{run_dir} holds a run with another configuration; pass a fresh "
                       f"--run-dir or drop --resume")
    cfg.save(saved)


def train_run(cfg: RunConfig, data: Dataset, run_dir: Path, resume: bool = False,
              runtime: Runtime | None = None) -> float:
    """Train and write history.json and elbow.json; returns the training wall time.
    Under torchrun every process trains and process 0 writes."""
    from_main(prepare_run_dir, cfg, run_dir, resume)
    state = train(cfg, data, run_dir, resume, runtime)
    if is_main():
        write_json(run_dir / "history.json", state.history)
        elbow = state.elbow
        write_json(run_dir / "elbow.json", {"k": elbow.k, "ks": elbow.ks,
                                             "inertias": elbow.inertias, "metric": elbow.metric,
                                             "scores": elbow.scores})
    return state.seconds


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
        "stat": {s: mapping_protocol(c["train"][pool], pool_y, v, prototypes, data.n_classes)
                 for s, v in eval_cs.items()},
        "knn": {s: knn_protocol(train_h[pool], pool_y, h, data.n_classes, cfg.knn_k, cfg.knn_metric)
                for s, h in eval_hs.items()},
        "lin": linear_probe(train_h[pool], pool_y, eval_hs, data.n_classes, cfg.probe_fraction,
                            cfg.probe_epochs, cfg.probe_lr, cfg.probe_batch_size, cfg.seed,
                            cfg.probe_standardize),
        "hungarian": {s: hungarian_protocol(train_clusters, train_y, v, data.n_classes)
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
        "stat": {s: majority_mapping(train_clusters, train_y, c, data.n_classes, data.n_classes)
                 for s, c in eval_clusters.items()},
        "hungarian": {s: hungarian_protocol(train_clusters, train_y, c, data.n_classes)
                      for s, c in eval_clusters.items()},
    }
    return score_rows(model, predictions, data, cfg.seed)


def _elbow_prototypes(h: torch.Tensor, cfg: RunConfig) -> torch.Tensor:
    return torch.from_numpy(prototype_elbow(h, cfg).centroids)


def majority_rows(data: Dataset, seed: int) -> list[dict]:
    """The majority-class floor: predict the most frequent train label everywhere."""
    counts = torch.bincount(data.splits["train"].labels, minlength=data.n_classes)
    shares = (counts / counts.sum()).numpy()
    predictions = {split: Prediction(np.full(len(data.splits[split]), int(counts.argmax())),
                                     np.tile(shares, (len(data.splits[split]), 1)))
                   for split in data.eval_splits}
    return score_rows("majority class", {"-": predictions}, data, seed)


def data_floor_rows(data: Dataset, cfg: RunConfig) -> list[dict]:
    """The floors that depend on the data alone: majority class and raw pixels, at FLOOR_SEED."""
    cfg = replace(cfg, seed=FLOOR_SEED)
    release_freed_memory()  # the run's memory peak follows
    # both KMeans searches read the uint8 images as pixels (`unit_rows`) before the float
    # pixels exist: on MNIST that keeps their float64 rows from meeting 220 MB more
    images = {s: data.splits[s].images for s in data.splits}
    prototypes = _elbow_prototypes(images["train"], cfg)
    clusters = kmeans_clusters(images["train"], {s: images[s] for s in data.eval_splits},
                               data.n_classes, cfg.seed, cfg.kmeans_n_init)
    pixels = {s: to_float(images[s], False).flatten(1) for s in data.splits}
    eval_pixels = {s: pixels[s] for s in data.eval_splits}
    return majority_rows(data, cfg.seed) + protocol_rows(
        "raw pixels", pixels["train"], data, eval_pixels, prototypes, cfg, clusters)


def floor_rows(data: Dataset, cfg: RunConfig, device: torch.device, precision: str,
               cache_dir: Path) -> list[dict]:
    """Floors the paper lacks: majority class and raw pixels (computed once per data and
    settings, see `cae.floor_cache`) and an untrained encoder (the run's seed)."""
    rows = cached_floor_rows(cache_dir, floor_settings(cfg, data),
                             lambda: data_floor_rows(data, cfg))
    untrained = build_networks(cfg, data.n_channels).encoder.to(device)
    h = {s: encode(untrained, data.splits[s].images, device, precision) for s in data.splits}
    rows += protocol_rows("untrained encoder", h["train"], data,
                          {s: h[s] for s in data.eval_splits}, _elbow_prototypes(h["train"], cfg), cfg)
    return rows


def mapping_against_k(h: dict[str, torch.Tensor], data: Dataset, cfg: RunConfig) -> dict:
    """Protocol (a) for every k of the elbow's range: mapped accuracy, NMI and ARI per eval
    split, on the clustered vectors h (h or z, every split).

    More clusters make each cluster purer, so the mapped accuracy rises with k whether or
    not the clusters mean anything; NMI and ARI do not reward that. `composition` holds,
    for every k, the cluster-by-class counts: which classes share each cluster.
    """
    fits = kmeans_fits(F.normalize(h["train"], dim=1).numpy(), cfg.k_min, cfg.k_max, cfg.seed,
                       cfg.kmeans_n_init)
    result = {"ks": list(fits)}
    for split in data.eval_splits:
        y = data.splits[split].labels
        scores = []
        for k, fit in fits.items():
            pred = mapping_protocol(h["train"], data.splits["train"].labels, h[split],
                                    torch.from_numpy(fit.cluster_centers_).float(), data.n_classes)
            scores.append({"accuracy": classification_metrics(y, pred, data.n_classes)["accuracy"],
                           **cluster_metrics(y, pred.clusters),
                           "composition": cluster_composition(pred.clusters, y, k,
                                                              data.n_classes).tolist()})
        result[split] = {name: [row[name] for row in scores]
                         for name in ("accuracy", "nmi", "ari", "composition")}
    return result


def load_networks(cfg: RunConfig, run_dir: Path, n_channels: int,
                  device: torch.device) -> Networks:
    """The trained networks of a finished run."""
    payload = read_checkpoint(run_dir, cfg)
    if payload["epoch"] < cfg.epochs or payload["prototypes"] is None:
        raise CaeError(f"run {run_dir} stopped at epoch {payload['epoch']} of {cfg.epochs}; "
                       f"finish it with `cae train --resume --run-dir {run_dir}`")
    return restore_networks(payload, cfg, n_channels, device)


def evaluate_run(cfg: RunConfig, data: Dataset, run_dir: Path, floors: bool = True,
                 runtime: Runtime | None = None) -> pd.DataFrame:
    """Score the trained encoder (and the floors) and draw the run's figures, on the run's
    device and precision (resolved from cfg when not given)."""
    runtime = runtime or Runtime.resolve(cfg.device, cfg.precision)
    device, precision = runtime.device, runtime.precision
    nets = load_networks(cfg, run_dir, data.n_channels, device)
    h = {s: encode(nets.encoder, data.splits[s].images, device, precision) for s in data.splits}
    c = {s: clustered(nets, v, cfg) for s, v in h.items()}
    eval_hs = {s: h[s] for s in data.eval_splits}
    predictions = protocol_predictions(h["train"], data, eval_hs, nets.prototypes.cpu(), cfg, c)
    rows = score_rows("CAE (ours)", predictions, data, cfg.seed)
    rows += head_rows(HEAD_MODEL, h["train"], data, eval_hs, cfg)
    if floors:
        rows += floor_rows(data, cfg, device, precision, Path(run_dir).parent / CACHE_DIR)
    table = metrics_table(rows)
    against_k = mapping_against_k(c, data, cfg)
    write_json(run_dir / "mapping_vs_k.json", against_k)
    draw_figures(RunResults(cfg, data, nets, h, c, predictions["stat"], against_k), run_dir, device)
    return table


def baseline_rows(cfg: RunConfig, data: Dataset, runtime: Runtime | None = None) -> list[dict]:
    """The paper's two ResNet-18 baselines, each row labelled with the weights used."""
    device = (runtime or Runtime.resolve(cfg.device, cfg.precision)).device
    model, weights = load_resnet18(cfg.weights_path, cfg.allow_untrained_weights, cfg.seed)
    feats = {s: resnet_features(model, data.splits[s].images, cfg.resnet_image_size, 256, device)
             for s in data.splits}
    eval_feats = {s: feats[s] for s in data.eval_splits}
    train_y = data.splits["train"].labels
    transfer = transfer_baseline(feats["train"], train_y, eval_feats, data.n_classes,
                                 cfg.resnet_epochs, cfg.resnet_lr, cfg.probe_batch_size, cfg.seed)
    release_freed_memory()  # Feature+KM's KMeans search is this phase's memory peak
    elbow, mapped = kmeans_baseline(feats["train"], train_y, eval_feats, data.n_classes,
                                    cfg.k_min, cfg.k_max, cfg.seed, cfg.kmeans_n_init,
                                    cfg.elbow_metric)
    return (score_rows("ResNet18", {"transfer": transfer}, data, cfg.seed, weights=weights)
            + score_rows("Feature+KM", {"stat": mapped}, data, cfg.seed, weights=weights))


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
    against_k: dict


def prototype_latents(nets: Networks, h_train: torch.Tensor, c_train: torch.Tensor,
                      cluster_on: str) -> torch.Tensor:
    """One latent h per prototype, for the decoder: the prototype's direction at the median
    latent norm when h is clustered; the mean h of its nearest train members when z is."""
    prototypes = nets.prototypes.float().cpu()
    if cluster_on == "h":
        return F.normalize(prototypes, dim=1) * h_train.norm(dim=1).median()
    members = nearest_prototype(c_train.float(), prototypes)
    return torch.stack([h_train[members == i].mean(0) if (members == i).any()
                        else torch.zeros(h_train.shape[1]) for i in range(len(prototypes))])


def decode_prototypes(nets: Networks, h_train: torch.Tensor, c_train: torch.Tensor, cfg: RunConfig,
                      device: torch.device) -> torch.Tensor:
    """Images of the prototypes: each prototype's latent (`prototype_latents`) decoded with
    the prototype's own soft assignment s."""
    latents = prototype_latents(nets, h_train, c_train, cfg.cluster_on).to(device)
    with torch.no_grad():
        nets.cond_decoder.eval()
        return nets.cond_decoder(latents, soft_assign(nets.prototypes, nets.prototypes,
                                                      cfg.assign_temperature)).float().cpu()


def draw_figures(results: RunResults, run_dir: Path, device: torch.device) -> None:
    """Write the run's figures: montage, curves, elbow, protocol (a) against k, cluster
    composition, t-SNE of the clustered space, reconstructions, prototypes, and for a
    variational run images sampled from each cluster."""
    cfg, data, nets = results.cfg, results.data, results.nets
    out = run_dir / "figures"
    history, elbow = read_json(run_dir / "history.json"), read_json(run_dir / "elbow.json")
    split = data.eval_splits[-1]
    images, labels = data.splits[split].images, data.splits[split].labels
    figures.save_figure(figures.dataset_montage(images, labels, data.class_names),
                        out / "montage.png")
    figures.save_figure(figures.training_curves(history, cfg.warmup_epochs), out / "training.png")
    figures.save_figure(figures.elbow_curve(elbow["ks"], elbow.get("scores") or elbow["inertias"],
                                            elbow["k"], elbow.get("metric", "distortion")),
                        out / "elbow.png")
    against_k = results.against_k
    for name in data.eval_splits:
        scores = against_k[name]
        figures.save_figure(figures.accuracy_vs_k(against_k["ks"], scores["accuracy"],
                                                  scores["nmi"], scores["ari"], elbow["k"]),
                            out / f"mapping_vs_k_{name}.png")
        for k in composition_ks(elbow, data.n_classes):
            counts = np.array(scores["composition"][against_k["ks"].index(k)])
            figures.save_figure(figures.composition_heatmap(counts, data.class_names),
                                out / f"composition_{name}_k{k}.png")
    prototypes = nets.prototypes.cpu()
    for name in data.eval_splits:
        mapping = results.mapping[name]
        points, proto_points, index = figures.tsne_embedding(results.c[name], prototypes, cfg.seed,
                                                             cfg.tsne_samples)
        panels = figures.tsne_panels(points, proto_points, data.splits[name].labels.numpy()[index],
                                     mapping.clusters[index], mapping.y_pred[index],
                                     data.class_names)
        figures.save_figure(panels, out / f"tsne_{name}.png")
    x = images[:8].to(device)
    with torch.no_grad():
        hx = nets.encoder(to_float(x, False))
        s = soft_assign(clustered(nets, hx, cfg), nets.prototypes, cfg.assign_temperature)
        recon = nets.cond_decoder(hx, s)
    figures.save_figure(figures.reconstruction_grid(images[:8], recon.float().cpu()),
                        out / "reconstructions.png")
    c_train = results.c["train"]
    cluster_labels = mapping_protocol(c_train, data.splits["train"].labels, prototypes,
                                      prototypes, data.n_classes).y_pred
    titles = [f"cluster {i} -> {data.class_names[c]}" for i, c in enumerate(cluster_labels)]
    latents = decode_prototypes(nets, results.h["train"], c_train, cfg, device)
    figures.save_figure(figures.decoded_prototypes(latents, titles), out / "prototypes.png")
    if cfg.variational:
        samples = cluster_samples(nets, data.splits["train"].images, cfg, device, seed=cfg.seed)
        figures.save_figure(figures.sample_grid(samples, titles), out / "samples.png")


def reproduce(cfg: RunConfig, run_dir: Path, retrain: bool = False, baselines: bool = True,
              resume: bool = False, floors: bool = True) -> RunArtifacts | None:
    """Train, evaluate and run the baselines for one config, or reuse a finished identical run.

    Under torchrun every process trains; process 0 alone then evaluates, runs the
    baselines and writes, and the others return None once training is done."""
    run_dir = Path(run_dir)
    if not retrain and not resume and from_main((run_dir / "provenance.json").is_file):
        done = from_main(RunArtifacts.read, run_dir)
        if done.config.fingerprint() != cfg.fingerprint():
            raise CaeError(f"{run_dir} holds a finished run with another configuration; pass "
                           f"--retrain (retrain=True) to replace it, or use another run dir")
        return done
    from_main(check_before_work, cfg, run_dir, baselines)
    runtime = Runtime.resolve(cfg.device, cfg.precision)  # once: training, scoring, provenance
    data = load(cfg)
    seconds = {"train": train_run(cfg, data, run_dir, resume, runtime)}
    peaks = {"train": round(peak_rss_mb())}  # the process's peak so far, after each phase
    if not is_main():
        return None
    started = time.perf_counter()
    table = evaluate_run(cfg, data, run_dir, floors, runtime)
    seconds["evaluate"] = time.perf_counter() - started
    peaks["evaluate"] = round(peak_rss_mb())
    if baselines:
        started = time.perf_counter()
        table = metrics_table(table.to_dict("records") + baseline_rows(cfg, data, runtime))
        seconds["baselines"] = time.perf_counter() - started
        peaks["baselines"] = round(peak_rss_mb())
    seconds["total"] = sum(seconds.values())
    write_metrics(table, run_dir)
    write_json(run_dir / "provenance.json", provenance(cfg, data, seconds, runtime, peaks))
    return RunArtifacts.read(run_dir)


