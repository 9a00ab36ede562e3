"""The checkpoint: what it holds, written atomically each epoch and read back safely."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import torch

from cae.config import RunConfig
from cae.errors import CaeError
from cae.infra.distributed import backend, is_main, world_size
from cae.infra.files import atomic_write
from cae.infra.runs import CHECKPOINT
from cae.method.clustering import ElbowResult
from cae.method.models import ConditionalDecoder
from cae.method.networks import Networks, TrainState, build_networks, freeze, place


class ElbowPayload(TypedDict):
    """An `ElbowResult` as the checkpoint holds it: its arrays as tensors."""

    k: int
    ks: list[int]
    inertias: list[float]
    centroids: torch.Tensor
    labels: torch.Tensor
    metric: NotRequired[str]  # these two are absent from older checkpoints: ElbowResult's defaults
    scores: NotRequired[list[float] | None]


class CheckpointPayload(TypedDict):
    """What `checkpoint.pt` holds: tensors and plain values only (it loads with weights_only)."""

    fingerprint: str  # RunConfig.fingerprint(training_only=True)
    epoch: int
    seconds: float
    runtime: NotRequired[dict[str, str]]  # absent from checkpoints older than Runtime
    world_size: NotRequired[int]  # absent from checkpoints older than torchrun support: 1
    backend: NotRequired[str | None]  # the process group's backend; absent from older checkpoints
    encoder: dict[str, Any]
    projector: dict[str, Any]
    decoder: dict[str, Any]
    cond_decoder: dict[str, Any] | None
    prototypes: torch.Tensor | None
    optimizer: dict[str, Any]
    generator: torch.Tensor
    history: dict[str, list[float]]
    elbow: ElbowPayload | None


def _checkpoint_payload(state: TrainState, cfg: RunConfig) -> CheckpointPayload:
    nets = state.nets
    return CheckpointPayload(
        fingerprint=cfg.fingerprint(training_only=True), epoch=state.epoch, seconds=state.seconds,
        runtime=state.runtime,
        world_size=world_size(), backend=backend(),
        encoder=nets.encoder.state_dict(), projector=nets.projector.state_dict(),
        decoder=nets.decoder.state_dict(),
        cond_decoder=nets.cond_decoder.state_dict() if nets.cond_decoder else None,
        prototypes=nets.prototypes, optimizer=state.optimizer.state_dict(),
        generator=state.generator.get_state(), history=state.history,
        elbow=_elbow_payload(state.elbow) if state.elbow else None,
    )


def _elbow_payload(elbow: ElbowResult) -> ElbowPayload:
    """The elbow with its arrays as tensors, so the checkpoint loads with weights_only."""
    return ElbowPayload(k=elbow.k, ks=elbow.ks, inertias=elbow.inertias,
                        centroids=torch.from_numpy(elbow.centroids),
                        labels=torch.from_numpy(elbow.labels), metric=elbow.metric,
                        scores=elbow.scores)


def save_checkpoint(state: TrainState, cfg: RunConfig, run_dir: Path) -> None:
    """Write the checkpoint atomically (`files.atomic_write`): a temporary file, flushed to
    disk, then renamed, so a crash, a full disk or a failed rename leaves the previous
    checkpoint whole and no temporary file. Under torchrun only process 0 writes."""
    if not is_main():
        return
    atomic_write(Path(run_dir) / CHECKPOINT,
                 lambda handle: torch.save(_checkpoint_payload(state, cfg), handle), binary=True)


def read_checkpoint(run_dir: Path, cfg: RunConfig) -> CheckpointPayload:
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


def restore_networks(payload: CheckpointPayload, cfg: RunConfig, n_channels: int,
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


def load_networks(cfg: RunConfig, run_dir: Path, n_channels: int,
                  device: torch.device) -> Networks:
    """The trained networks of a finished run."""
    payload = read_checkpoint(run_dir, cfg)
    if payload["epoch"] < cfg.epochs or payload["prototypes"] is None:
        raise CaeError(f"run {run_dir} stopped at epoch {payload['epoch']} of {cfg.epochs}; "
                       f"finish it with `cae train --resume --run-dir {run_dir}`")
    return restore_networks(payload, cfg, n_channels, device)
