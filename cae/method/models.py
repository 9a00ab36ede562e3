"""The paper's networks: encoder, projector, decoder and conditional decoder."""

from __future__ import annotations

from typing import Literal, overload

import torch
from torch import nn

from cae.errors import CaeError


class Encoder(nn.Module):
    """Three Conv2d(k=4, s=2) + GELU (28 -> 14 -> 7 -> 3), AvgPool2d(2), Linear to the latent h.

    `batch_norm` adds BatchNorm2d after each GELU, as the authors' public code does.

    Variational: a second Linear gives the log-variance of a Gaussian around h (the mean),
    read by phase 1's reparameterisation and by the cluster sampler; h stays the mean.
    """

    def __init__(self, in_channels: int, channels: tuple[int, int, int], latent_dim: int = 128,
                 variational: bool = False, batch_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in zip((in_channels, *channels[:2]), channels):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.GELU()]
            layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
        c3 = channels[2]
        self.features = nn.Sequential(*layers, nn.AvgPool2d(2), nn.Flatten())
        self.to_latent = nn.Linear(c3, latent_dim)
        self.to_logvar = nn.Linear(c3, latent_dim) if variational else None

    @overload
    def forward(self, x: torch.Tensor, with_logvar: Literal[False] = ...) -> torch.Tensor: ...

    @overload
    def forward(self, x: torch.Tensor, with_logvar: Literal[True]
                ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def forward(self, x: torch.Tensor, with_logvar: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The latent h; with `with_logvar` (variational encoders), (h, log-variance)."""
        features = self.features(x)
        if with_logvar:
            if self.to_logvar is None:
                raise CaeError("only a variational encoder has a log-variance; train with "
                               "--set variational=true")
            return self.to_latent(features), self.to_logvar(features)
        return self.to_latent(features)


class Projector(nn.Module):
    """A 3-layer MLP z = p(h) on which the contrastive similarity is computed: Linear,
    BatchNorm1d (with `batch_norm`), activation (GELU or ReLU), twice, then Linear."""

    def __init__(self, latent_dim: int, dims: tuple[int, int, int], batch_norm: bool = True,
                 activation: str = "gelu"):
        super().__init__()
        d1, d2, d3 = dims
        act = {"gelu": nn.GELU, "relu": nn.ReLU}[activation]
        layers: list[nn.Module] = []
        for d_in, d_out in ((latent_dim, d1), (d1, d2)):
            layers += [nn.Linear(d_in, d_out), *([nn.BatchNorm1d(d_out)] if batch_norm else []), act()]
        self.net = nn.Sequential(*layers, nn.Linear(d2, d3))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class Decoder(nn.Module):
    """Mirror of the encoder: Linear to (c3, 3, 3), three ConvTranspose2d(k=4, s=2) back to 28x28."""

    def __init__(self, out_channels: int, channels: tuple[int, int, int], latent_dim: int = 128):
        super().__init__()
        c1, c2, c3 = channels
        self.c3 = c3
        self.from_latent = nn.Sequential(nn.Linear(latent_dim, c3 * 9), nn.GELU())
        self.features = nn.Sequential(
            nn.ConvTranspose2d(c3, c2, 4, 2, 1, output_padding=1), nn.GELU(),  # 3 -> 7
            nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.GELU(),  # 7 -> 14
            nn.ConvTranspose2d(c1, out_channels, 4, 2, 1), nn.Sigmoid(),  # 14 -> 28
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.features(self.from_latent(h).reshape(-1, self.c3, 3, 3))


class ConditionalDecoder(nn.Module):
    """The phase-2 decoder: embeds the soft assignment s, fuses it with h, then decodes.

    The fusion starts as the identity on h (and ignores s), so phase 2 begins from the
    phase-1 reconstructions and learns how much the cluster evidence should change them.
    """

    def __init__(self, decoder: Decoder, n_prototypes: int, latent_dim: int = 128):
        super().__init__()
        self.condition = nn.Sequential(nn.Linear(n_prototypes, latent_dim), nn.GELU())
        self.fuse = nn.Linear(2 * latent_dim, latent_dim)
        with torch.no_grad():
            self.fuse.weight.zero_()
            self.fuse.weight[:, :latent_dim].copy_(torch.eye(latent_dim))
            self.fuse.bias.zero_()
        self.decoder = decoder

    def forward(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.fuse(torch.cat([h, self.condition(s)], dim=1)))
