"""The two training phases, with per-epoch atomic checkpoints and exact resume.

Phase 1 (warm-up) updates encoder, projector and decoder with NT-Xent + alpha * MSE.
Then the encoder is frozen, KMeans + elbow on its latents gives the prototypes, and
phase 2 trains only the conditional decoder on softmax(cos(h, prototypes) / T). With
`cluster_on = "z"` the clustering and s see the projections z = projector(h) instead.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cae.config import RunConfig
from cae.data.datasets import Dataset
from cae.errors import CaeError
from cae.infra.allocator import release_freed_memory
from cae.infra.distributed import (
    augmentation_generator,
    average,
    check_global_batch,
    ddp,
    from_main,
    is_main,
    shard,
    world_size,
)
from cae.infra.runtime import Runtime, autocast, encode, to_float
from cae.method.augment import AugmentParams, two_views
from cae.method.checkpoints import (
    CHECKPOINT,
    CheckpointPayload,
    read_checkpoint,
    restore_networks,
    save_checkpoint,
)
from cae.method.clustering import ElbowResult, prototype_elbow, soft_assign
from cae.method.losses import kl_divergence, reconstruction, reparameterise, warmup_loss
from cae.method.models import ConditionalDecoder
from cae.method.networks import (
    Networks,
    TrainState,
    build_networks,
    clustered,
    freeze,
    place,
)
from cae.method.optim import learning_rate, make_lars, set_learning_rate, use_foreach

NAN_CHECK_EVERY = 10  # steps between checks of the running loss (each check syncs the device)


class NonFiniteLoss(CaeError):
    """The loss became NaN or infinite; which epoch and which steps (1-based)."""

    def __init__(self, epoch: int, first_step: int, last_step: int, steps: int):
        super().__init__(f"the loss became NaN or infinite in epoch {epoch}, between steps "
                         f"{first_step} and {last_step} of {steps}")


def augment_params(cfg: RunConfig) -> AugmentParams:
    return AugmentParams(cfg.aug_prob, cfg.rotation_degrees, cfg.hflip, cfg.blur_sigma,
                         cfg.noise_std, cfg.crop_scale, cfg.intensity_jitter)


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


def trainable(nets: Networks, phase2: bool) -> Networks:
    """The networks as a training step calls them: the ones this phase trains (encoder,
    projector and decoder; in phase 2 the conditional decoder) through `distributed.ddp`,
    so under torchrun their gradients are averaged over processes. In one process, nets."""
    if phase2:
        return replace(nets, cond_decoder=ddp(nets.require_cond_decoder()))
    return replace(nets, encoder=ddp(nets.encoder), projector=ddp(nets.projector),
                   decoder=ddp(nets.decoder))


def phase1_step(nets: Networks, x: torch.Tensor, cfg: RunConfig, g: torch.Generator,
                 device: torch.device, precision: str, fast: bool = False) -> torch.Tensor:
    """One phase-1 step's gradients: two augmented views of the batch, one encoder pass
    over both, NT-Xent on their projections plus alpha * MSE of their reconstructions
    (variational: h drawn around the encoder's mean, plus kl_weight * KL; the total holds
    it). `fast`: the augmentations' `fast` kernels. Returns the detached (total, NT-Xent,
    MSE); the caller steps the optimizer."""
    x1, x2 = two_views(x, augment_params(cfg), g, fast)
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
                 device: torch.device, precision: str, fast: bool = False) -> torch.Tensor:
    """One phase-2 step's gradients: the frozen encoder's latents of two views, their soft
    assignment s to the prototypes (from h or z, see `clustered`), and the MSE of the
    conditional decoder's reconstructions from (h, s); variational: h is a draw around the
    encoder's mean. `fast` as in `phase1_step`. Returns the detached MSE as a 1-element
    tensor."""
    x1, x2 = two_views(x, augment_params(cfg), g, fast)
    n = len(x)
    with autocast(device, precision):
        with torch.no_grad():
            if cfg.variational:  # the decoder learns to decode draws, as the sampler makes
                mean, logvar = nets.encoder(torch.cat([x1, x2]), with_logvar=True)
                h = reparameterise(mean, logvar, g)
            else:
                h = nets.encoder(torch.cat([x1, x2])).float()
            s = soft_assign(clustered(nets, h, cfg), nets.require_prototypes(),
                            cfg.assign_temperature)
        y = nets.require_cond_decoder()(h, s)
    mse = reconstruction(x1, y[:n]) + reconstruction(x2, y[n:])
    mse.backward()
    return mse.detach()[None]


def _progress(total: int, desc: str, cfg: RunConfig) -> tqdm:
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True,
                disable=not cfg.progress or not sys.stderr.isatty() or not is_main())


def _run_epoch(state: TrainState, images: torch.Tensor, cfg: RunConfig,
               runtime: Runtime) -> torch.Tensor:
    """One pass over shuffled full batches; returns the mean of the step's loss terms.

    Under torchrun every process draws the same order and trains on its shard of each
    global batch, with augmentations from its own stream; the losses are averaged over
    processes."""
    phase2 = state.epoch >= cfg.warmup_epochs
    nets, g = trainable(state.nets, phase2), state.generator
    device, precision = runtime.device, runtime.precision
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
            sums += step_fn(nets, x, cfg, views, device, precision, runtime.fast)
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


def _make_optimizer(nets: Networks, cfg: RunConfig, fast: bool) -> torch.optim.Optimizer:
    if nets.cond_decoder is not None:
        return make_lars([nets.cond_decoder], cfg, fast)
    return make_lars([nets.encoder, nets.projector, nets.decoder], cfg, fast)


def _resume_payload(run_dir: Path, cfg: RunConfig) -> CheckpointPayload | None:
    """The checkpoint to continue from, or None when run_dir has none."""
    return read_checkpoint(run_dir, cfg) if (run_dir / CHECKPOINT).is_file() else None


def _start_state(cfg: RunConfig, data: Dataset, run_dir: Path, resume: bool,
                 runtime: Runtime) -> TrainState:
    device = runtime.device
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    payload = from_main(_resume_payload, run_dir, cfg) if resume else None
    if payload is not None:
        written_by = payload.get("world_size", 1)
        if written_by != world_size():
            raise CaeError(f"the checkpoint in {run_dir} was written by {written_by} process(es) "
                           f"and this run has {world_size()}; resume it with the same number "
                           f"(torchrun --nproc_per_node x nodes, or no torchrun for 1), or "
                           f"train afresh in another --run-dir")
        trained_in = payload.get("runtime", {}).get("precision")
        if trained_in and trained_in != runtime.precision:
            raise CaeError(f"the checkpoint in {run_dir} trained in {trained_in} and this run "
                           f"would continue in {runtime.precision} (precision={cfg.precision} on "
                           f"this {device.type}); resume it where precision resolves to "
                           f"{trained_in}, or train afresh in another --run-dir")
        nets = restore_networks(payload, cfg, data.n_channels, device)
        optimizer = _make_optimizer(nets, cfg, runtime.fast)
        optimizer.load_state_dict(payload["optimizer"])
        use_foreach(optimizer, runtime.fast)
        generator.set_state(payload["generator"])
        elbow = None
        if payload["elbow"]:
            fields: dict[str, Any] = {k: np.asarray(v) if k in ("centroids", "labels") else v
                                      for k, v in payload["elbow"].items()}
            elbow = ElbowResult(**fields)
        return TrainState(nets, optimizer, generator, payload["epoch"], payload["history"],
                          elbow, payload["seconds"])
    nets = place(build_networks(cfg, data.n_channels), cfg, device)
    return TrainState(nets, _make_optimizer(nets, cfg, runtime.fast), generator)


def train(cfg: RunConfig, data: Dataset, run_dir: Path, resume: bool = False,
          runtime: Runtime | None = None) -> TrainState:
    """Train both phases, checkpointing each epoch into run_dir; `resume` continues the last one.
    `runtime` is the run's device and precision (resolved from cfg when not given); each
    checkpoint records it."""
    runtime = runtime or Runtime.resolve(cfg.device, cfg.precision, cfg.kernels)
    device, precision = runtime.device, runtime.precision
    check_global_batch(cfg.batch_size)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = _start_state(cfg, data, run_dir, resume, runtime)
    state.runtime = runtime.describe()
    images = data.splits["train"].images.to(device)
    outer = tqdm(total=cfg.epochs, initial=state.epoch, desc="epochs", dynamic_ncols=True,
                 disable=not cfg.progress or not sys.stderr.isatty() or not is_main())
    with outer:
        while state.epoch < cfg.epochs or state.elbow is None:
            started = time.perf_counter()
            if state.epoch == cfg.warmup_epochs and state.elbow is None:
                state.elbow = fit_prototypes(state.nets, images, cfg, device, precision)
                state.optimizer = _make_optimizer(state.nets, cfg, runtime.fast)
            if state.epoch < cfg.epochs:
                try:
                    losses = _run_epoch(state, images, cfg, runtime)
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
