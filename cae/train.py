"""The two training phases, with per-epoch atomic checkpoints and exact resume.

Phase 1 (warm-up) updates encoder, projector and decoder with NT-Xent + alpha * MSE.
Then the encoder is frozen, KMeans + elbow on its latents gives the prototypes, and
phase 2 trains only the conditional decoder on softmax(cos(h, prototypes) / T). With
`cluster_on = "z"` the clustering and s see the projections z = projector(h) instead.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from cae.allocator import release_freed_memory
from cae.augment import AugmentParams, two_views
from cae.clustering import ElbowResult, prototype_elbow, soft_assign
from cae.config import RunConfig
from cae.data import Dataset
from cae.distributed import (augmentation_generator, average, ddp, from_main, is_main, shard,
                             world_size)
from cae.errors import CaeError
from cae.losses import kl_divergence, reconstruction, reparameterise, warmup_loss
from cae.models import ConditionalDecoder, Decoder, Encoder, Projector
from cae.optim import learning_rate, make_lars, set_learning_rate
from cae.runtime import Runtime, autocast, encode, to_float

CHECKPOINT = "checkpoint.pt"
NAN_CHECK_EVERY = 10  # steps between checks of the running loss (each check syncs the device)
HISTORY_KEYS = ("lr", "total", "nt_xent", "mse", "phase2_mse")


@dataclass
class Networks:
    """Every trained part; `cond_decoder` and `prototypes` exist once phase 1 is over."""

    encoder: Encoder
    projector: Projector
    decoder: Decoder
    cond_decoder: ConditionalDecoder | None = None
    prototypes: torch.Tensor | None = None  # (k, d) in the L2-normalised clustered space (h or z)


@dataclass
class TrainState:
    """What a checkpoint restores: networks, optimizer, RNG, history, progress."""

    nets: Networks
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    elbow: ElbowResult | None = None
    seconds: float = 0.0
    runtime: dict[str, str] = field(default_factory=dict)  # device and precision trained with


class NonFiniteLoss(CaeError):
    """The loss became NaN or infinite; which epoch and which steps (1-based)."""

    def __init__(self, epoch: int, first_step: int, last_step: int, steps: int):
        super().__init__(f"the loss became NaN or infinite in epoch {epoch}, between steps "
                         f"{first_step} and {last_step} of {steps}")


def build_networks(cfg: RunConfig, n_channels: int) -> Networks:
    """Fresh networks, initialised from the config's seed."""
    torch.manual_seed(cfg.seed)
    return Networks(Encoder(n_channels, cfg.channels, cfg.latent_dim, cfg.variational,
                            cfg.encoder_batch_norm),
                    Projector(cfg.latent_dim, cfg.projector_dims, cfg.projector_batch_norm,
                              cfg.projector_activation),
                    Decoder(n_channels, cfg.channels, cfg.latent_dim))


def augment_params(cfg: RunConfig) -> AugmentParams:
    return AugmentParams(cfg.aug_prob, cfg.rotation_degrees, cfg.hflip, cfg.blur_sigma,
                         cfg.noise_std, cfg.crop_scale, cfg.intensity_jitter)


def clustered(nets: Networks, h: torch.Tensor, cfg: RunConfig) -> torch.Tensor:
    """What KMeans, the prototypes and the soft assignment see: the latents h, or their
    projections z (projector in eval mode, no gradient) when `cfg.cluster_on == "z"`.
    The result lies on h's device."""
    if cfg.cluster_on == "h":
        return h
    projector, was_training = nets.projector, nets.projector.training
    projector.eval()
    with torch.no_grad():
        z = projector(h.to(next(projector.parameters()).device)).float().to(h.device)
    projector.train(was_training)
    return z


def freeze(encoder: Encoder) -> None:
    """Freeze the encoder for phase 2: no gradients, and eval mode, so BatchNorm's running
    statistics (`encoder_batch_norm`) stay as phase 1 left them."""
    for p in encoder.parameters():
        p.requires_grad_(False)
    encoder.eval()


def fit_prototypes(nets: Networks, images: torch.Tensor, cfg: RunConfig, device: torch.device,
                   precision: str) -> ElbowResult:
    """Freeze the encoder, run KMeans + elbow on the clustered vectors (h or z), L2-normalised
    unless `cfg.elbow_normalised` is off (the authors' code), store the centroids."""
    freeze(nets.encoder)
    h = clustered(nets, encode(nets.encoder, images, device, precision), cfg)
    elbow = from_main(prototype_elbow, h, cfg)  # in process 0 only
    nets.prototypes = torch.from_numpy(elbow.centroids).to(device)
    with torch.random.fork_rng(devices=[]):  # same init whether or not the run was resumed
        torch.manual_seed(cfg.seed)
        nets.cond_decoder = ConditionalDecoder(copy.deepcopy(nets.decoder), elbow.k,
                                               cfg.latent_dim)
    place(nets, cfg, device)
    return elbow


def _checkpoint_payload(state: TrainState, cfg: RunConfig) -> dict:
    nets = state.nets
    return dict(
        fingerprint=cfg.fingerprint(training_only=True), epoch=state.epoch, seconds=state.seconds,
        runtime=state.runtime,
        world_size=world_size(),
        encoder=nets.encoder.state_dict(), projector=nets.projector.state_dict(),
        decoder=nets.decoder.state_dict(),
        cond_decoder=nets.cond_decoder.state_dict() if nets.cond_decoder else None,
        prototypes=nets.prototypes, optimizer=state.optimizer.state_dict(),
        generator=state.generator.get_state(), history=state.history,
        elbow=_elbow_payload(state.elbow) if state.elbow else None,
    )


def _elbow_payload(elbow: ElbowResult) -> dict:
    """The elbow with its arrays as tensors, so the checkpoint loads with weights_only."""
    return {**asdict(elbow), "centroids": torch.from_numpy(elbow.centroids),
            "labels": torch.from_numpy(elbow.labels)}


def save_checkpoint(state: TrainState, cfg: RunConfig, run_dir: Path) -> None:
    """Write the checkpoint atomically: a temporary file, flushed to disk, then renamed, so
    a crash or a full disk during the write leaves the previous checkpoint whole. Under
    torchrun only process 0 writes."""
    if not is_main():
        return
    tmp = run_dir / (CHECKPOINT + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(_checkpoint_payload(state, cfg), handle)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CaeError(f"cannot write checkpoint {tmp} ({exc.strerror}); the previous "
                       f"checkpoint is kept") from None
    os.replace(tmp, run_dir / CHECKPOINT)


def read_checkpoint(run_dir: Path, cfg: RunConfig) -> dict:
    """Load a checkpoint, refusing one written under a different configuration.

    Loaded with `weights_only=True`: tensors and plain Python values only, so a checkpoint
    from someone else cannot run code when it is read.
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise CaeError(f"no checkpoint at {path}; train first with `cae train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CaeError(f"cannot read checkpoint {path} ({type(exc).__name__}): it is truncated, "
                       f"corrupt, from an older cae, or holds more than weights; delete it and "
                       f"retrain") from None
    # checkpoints written before evaluation fields were left out hold the whole fingerprint
    if payload.get("fingerprint") not in (cfg.fingerprint(training_only=True), cfg.fingerprint()):
        raise CaeError(f"checkpoint {path} was written under another configuration; use the "
                       f"run's own config.json, or a fresh --run-dir")
    return payload


def restore_networks(payload: dict, cfg: RunConfig, n_channels: int,
                     device: torch.device) -> Networks:
    """Rebuild the networks of a checkpoint on a device."""
    nets = build_networks(cfg, n_channels)
    nets.encoder.load_state_dict(payload["encoder"])
    nets.projector.load_state_dict(payload["projector"])
    nets.decoder.load_state_dict(payload["decoder"])
    if payload["prototypes"] is not None:
        nets.prototypes = payload["prototypes"].to(device)
        nets.cond_decoder = ConditionalDecoder(copy.deepcopy(nets.decoder),
                                               len(nets.prototypes), cfg.latent_dim)
        if payload["cond_decoder"] is not None:
            nets.cond_decoder.load_state_dict(payload["cond_decoder"])
        freeze(nets.encoder)
    return place(nets, cfg, device)


def place(nets: Networks, cfg: RunConfig, device: torch.device) -> Networks:
    """Move every network to the device, in channels_last when the config asks for it."""
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for module in _modules(nets):
        module.to(device, memory_format=memory)
        if cfg.compile:
            module.compile()  # in place: state_dict keys stay those of the eager module
    return nets


def _modules(nets: Networks) -> list[torch.nn.Module]:
    return [m for m in (nets.encoder, nets.projector, nets.decoder, nets.cond_decoder) if m]


def trainable(nets: Networks, phase2: bool) -> Networks:
    """The networks as a training step calls them: the ones this phase trains (encoder,
    projector and decoder; in phase 2 the conditional decoder) through `distributed.ddp`,
    so under torchrun their gradients are averaged over processes. In one process, nets."""
    if phase2:
        return replace(nets, cond_decoder=ddp(nets.cond_decoder))
    return replace(nets, encoder=ddp(nets.encoder), projector=ddp(nets.projector),
                   decoder=ddp(nets.decoder))


def phase1_step(nets: Networks, x: torch.Tensor, cfg: RunConfig, g: torch.Generator,
                 device: torch.device, precision: str) -> torch.Tensor:
    """One phase-1 step's gradients: two augmented views of the batch, one encoder pass
    over both, NT-Xent on their projections plus alpha * MSE of their reconstructions
    (variational: h drawn around the encoder's mean, plus kl_weight * KL; the total holds
    it). Returns the detached (total, NT-Xent, MSE); the caller steps the optimizer."""
    x1, x2 = two_views(x, augment_params(cfg), g)
    n = len(x)
    with autocast(device, precision):
        if cfg.variational:
            mean, logvar = nets.encoder(torch.cat([x1, x2]), with_logvar=True)
            h = reparameterise(mean, logvar, g)
        else:
            h = nets.encoder(torch.cat([x1, x2]))
        z, y = nets.projector(h), nets.decoder(h)
    total, contrastive, mse = warmup_loss(z[:n], z[n:], x1, y[:n], x2, y[n:],
                                          cfg.temperature, cfg.alpha,
                                          cfg.contrastive_weight)
    if cfg.variational:
        total = total + cfg.kl_weight * kl_divergence(mean, logvar)
    total.backward()
    return torch.stack([total.detach(), contrastive.detach(), mse.detach()])


def phase2_step(nets: Networks, x: torch.Tensor, cfg: RunConfig, g: torch.Generator,
                 device: torch.device, precision: str) -> torch.Tensor:
    """One phase-2 step's gradients: the frozen encoder's latents of two views, their soft
    assignment s to the prototypes (from h or z, see `clustered`), and the MSE of the
    conditional decoder's reconstructions from (h, s); variational: h is a draw around the
    encoder's mean. Returns the detached MSE as a 1-element tensor."""
    x1, x2 = two_views(x, augment_params(cfg), g)
    n = len(x)
    with autocast(device, precision):
        with torch.no_grad():
            if cfg.variational:  # the decoder learns to decode draws, as the sampler makes
                h = reparameterise(*nets.encoder(torch.cat([x1, x2]), with_logvar=True), g)
            else:
                h = nets.encoder(torch.cat([x1, x2])).float()
            s = soft_assign(clustered(nets, h, cfg), nets.prototypes, cfg.assign_temperature)
        y = nets.cond_decoder(h, s)
    mse = reconstruction(x1, y[:n]) + reconstruction(x2, y[n:])
    mse.backward()
    return mse.detach()[None]


def _progress(total: int, desc: str, cfg: RunConfig) -> tqdm:
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True,
                disable=not cfg.progress or not sys.stderr.isatty() or not is_main())


def _run_epoch(state: TrainState, images: torch.Tensor, cfg: RunConfig, device: torch.device,
               precision: str) -> torch.Tensor:
    """One pass over shuffled full batches; returns the mean of the step's loss terms.

    Under torchrun every process draws the same order and trains on its shard of each
    global batch, with augmentations from its own stream; the losses are averaged over
    processes."""
    phase2 = state.epoch >= cfg.warmup_epochs
    nets, g = trainable(state.nets, phase2), state.generator
    batch = min(cfg.batch_size, len(images) - len(images) % world_size())
    steps = len(images) // batch
    order = torch.randperm(len(images), generator=g, device=device)
    views = augmentation_generator(g, cfg.seed, state.epoch)
    step_fn = phase2_step if phase2 else phase1_step
    names = ("mse",) if phase2 else ("total", "nt_xent", "mse")
    sums = torch.zeros(len(names), device=device)
    desc = f"{'phase 2' if phase2 else 'phase 1'} epoch {state.epoch + 1}/{cfg.epochs}"
    with _progress(steps, desc, cfg) as bar:
        for step in range(steps):
            set_learning_rate(state.optimizer, learning_rate(state.epoch + step / steps, cfg))
            x = to_float(images[shard(order[step * batch:(step + 1) * batch])], cfg.channels_last)
            state.optimizer.zero_grad(set_to_none=True)
            sums += step_fn(nets, x, cfg, views, device, precision)
            state.optimizer.step()
            bar.update()
            if step % NAN_CHECK_EVERY == NAN_CHECK_EVERY - 1 or step == steps - 1:
                means = (average(sums) / (step + 1)).tolist()
                if not all(map(math.isfinite, means)):
                    raise NonFiniteLoss(state.epoch + 1, step + 1 - step % NAN_CHECK_EVERY,
                                        step + 1, steps)
                if not bar.disable:
                    bar.set_postfix({k: f"{v:.4f}" for k, v in zip(names, means)})
    return average(sums) / steps


def _record(state: TrainState, losses: torch.Tensor, cfg: RunConfig) -> None:
    """Append one epoch: lr always, phase-1 terms in phase 1, `phase2_mse` in phase 2."""
    state.history["lr"].append(learning_rate(state.epoch, cfg))
    names = ("phase2_mse",) if state.epoch >= cfg.warmup_epochs else ("total", "nt_xent", "mse")
    for name, value in zip(names, losses.tolist()):
        state.history[name].append(value)


def _make_optimizer(nets: Networks, cfg: RunConfig) -> torch.optim.Optimizer:
    if nets.cond_decoder is not None:
        return make_lars([nets.cond_decoder], cfg)
    return make_lars([nets.encoder, nets.projector, nets.decoder], cfg)


def _resume_payload(run_dir: Path, cfg: RunConfig) -> dict | None:
    """The checkpoint to continue from, or None when run_dir has none."""
    return read_checkpoint(run_dir, cfg) if (run_dir / CHECKPOINT).is_file() else None


def _start_state(cfg: RunConfig, data: Dataset, run_dir: Path, resume: bool,
                 device: torch.device) -> TrainState:
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    payload = from_main(_resume_payload, run_dir, cfg) if resume else None
    if payload is not None:
        written_by = payload.get("world_size", 1)
        if written_by != world_size():
            raise CaeError(f"the checkpoint in {run_dir} was written by {written_by} process(es) "
                           f"and this run has {world_size()}; resume it with the same number "
                           f"(torchrun --nproc_per_node x nodes, or no torchrun for 1), or "
                           f"train afresh in another --run-dir")
        nets = restore_networks(payload, cfg, data.n_channels, device)
        optimizer = _make_optimizer(nets, cfg)
        optimizer.load_state_dict(payload["optimizer"])
        generator.set_state(payload["generator"])
        elbow = None
        if payload["elbow"]:
            elbow = ElbowResult(**{k: np.asarray(v) if k in ("centroids", "labels") else v
                                   for k, v in payload["elbow"].items()})
        return TrainState(nets, optimizer, generator, payload["epoch"], payload["history"],
                          elbow, payload["seconds"])
    nets = place(build_networks(cfg, data.n_channels), cfg, device)
    return TrainState(nets, _make_optimizer(nets, cfg), generator)


def train(cfg: RunConfig, data: Dataset, run_dir: Path, resume: bool = False,
          runtime: Runtime | None = None) -> TrainState:
    """Train both phases, checkpointing each epoch into run_dir; `resume` continues the last one.
    `runtime` is the run's device and precision (resolved from cfg when not given); each
    checkpoint records it."""
    runtime = runtime or Runtime.resolve(cfg.device, cfg.precision)
    device, precision = runtime.device, runtime.precision
    if cfg.batch_size % world_size():
        raise CaeError(f"batch_size {cfg.batch_size} is the global batch, split over "
                       f"{world_size()} processes; make it a multiple of {world_size()}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = _start_state(cfg, data, run_dir, resume, device)
    state.runtime = runtime.describe()
    images = data.splits["train"].images.to(device)
    outer = tqdm(total=cfg.epochs, initial=state.epoch, desc="epochs", dynamic_ncols=True,
                 disable=not cfg.progress or not sys.stderr.isatty() or not is_main())
    with outer:
        while state.epoch < cfg.epochs or state.elbow is None:
            started = time.perf_counter()
            if state.epoch == cfg.warmup_epochs and state.elbow is None:
                state.elbow = fit_prototypes(state.nets, images, cfg, device, precision)
                state.optimizer = _make_optimizer(state.nets, cfg)
            if state.epoch < cfg.epochs:
                try:
                    losses = _run_epoch(state, images, cfg, device, precision)
                except NonFiniteLoss as exc:
                    kept = (f"the checkpoint of epoch {state.epoch}, {run_dir / CHECKPOINT}, is "
                            f"kept" if (run_dir / CHECKPOINT).is_file() else "no checkpoint written")
                    raise CaeError(f"{exc}; training stopped and {kept}. Try a lower lr_peak "
                                   f"or precision=fp32") from None
                _record(state, losses, cfg)
                state.epoch += 1
                outer.update()
            state.seconds += time.perf_counter() - started
            save_checkpoint(state, cfg, run_dir)
    release_freed_memory()
    return state
