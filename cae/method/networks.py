"""The network bundle and the training state: what the two phases train and a checkpoint
restores, built fresh from a config, placed on a device, frozen for phase 2."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cae.config import RunConfig
from cae.errors import CaeError
from cae.method.clustering import ElbowResult
from cae.method.models import ConditionalDecoder, Decoder, Encoder, Projector

HISTORY_KEYS = ("lr", "total", "nt_xent", "mse", "phase2_mse")


@dataclass
class Networks:
    """Every trained part; `cond_decoder` and `prototypes` exist once phase 1 is over."""

    encoder: Encoder
    projector: Projector
    decoder: Decoder
    cond_decoder: ConditionalDecoder | None = None
    prototypes: torch.Tensor | None = None  # (k, d) in the L2-normalised clustered space (h or z)

    def require_prototypes(self) -> torch.Tensor:
        """The prototypes, or CaeError when phase 1 has not produced them yet."""
        if self.prototypes is None:
            raise CaeError("these networks have no prototypes yet: finish phase 1 first")
        return self.prototypes

    def require_cond_decoder(self) -> ConditionalDecoder:
        """The conditional decoder, or CaeError when phase 1 has not produced it yet."""
        if self.cond_decoder is None:
            raise CaeError("these networks have no conditional decoder yet: finish phase 1 first")
        return self.cond_decoder


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


def build_networks(cfg: RunConfig, n_channels: int) -> Networks:
    """Fresh networks, initialised from the config's seed."""
    torch.manual_seed(cfg.seed)
    return Networks(Encoder(n_channels, cfg.channels, cfg.latent_dim, cfg.variational,
                            cfg.encoder_batch_norm),
                    Projector(cfg.latent_dim, cfg.projector_dims, cfg.projector_batch_norm,
                              cfg.projector_activation),
                    Decoder(n_channels, cfg.channels, cfg.latent_dim))


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


def place(nets: Networks, cfg: RunConfig, device: torch.device) -> Networks:
    """Move every network to the device, in channels_last when the config asks for it."""
    memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for module in _modules(nets):
        # torch's stubs lack Module.to(device, memory_format=...), which Module.to accepts
        module.to(device, memory_format=memory)  # type: ignore[call-overload]
        if cfg.compile:
            module.compile()  # in place: state_dict keys stay those of the eager module
    return nets


def _modules(nets: Networks) -> list[torch.nn.Module]:
    return [m for m in (nets.encoder, nets.projector, nets.decoder, nets.cond_decoder) if m]
