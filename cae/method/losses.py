"""The paper's losses: NT-Xent over both views, MSE reconstruction, and their sum."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cae.infra import distributed


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float,
            batch: tuple[torch.Tensor, torch.Tensor] | None = None, offset: int = 0
            ) -> torch.Tensor:
    """SimCLR's NT-Xent: -log softmax of the positive pair's cosine / T over all 2N-1 others.

    Rows i of z1 and z2 are the two views of image i; the loss is averaged over both
    views of every image. With `batch`, the (z1, z2) of a larger batch whose rows
    offset..offset+n are these, each of these 2n views is contrasted with all of that
    batch's views instead (one process's share of a global batch, `global_nt_xent`).
    """
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    keys = z if batch is None else F.normalize(torch.cat(batch).float(), dim=1)
    n, total = z1.shape[0], keys.shape[0] // 2
    logits = z @ keys.T / temperature
    own = torch.cat([torch.arange(n), torch.arange(total, total + n)]).to(z.device) + offset
    logits[torch.arange(2 * n, device=z.device), own] = float("-inf")  # a view is not its own negative
    positives = torch.cat([own[n:], own[:n]])
    return F.cross_entropy(logits, positives)


def global_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent of this process's views against the global batch of every process
    (`cae.infra.distributed`): positives and self-mask offset by rank x n, and the gathered views'
    gradients summed back to the process that owns them, so the mean of this loss over
    processes, and its gradient, are those of `nt_xent` on the global batch. In one
    process it is `nt_xent`."""
    if distributed.world_size() == 1:
        return nt_xent(z1, z2, temperature)
    return nt_xent(z1, z2, temperature, (distributed.gather(z1), distributed.gather(z2)),
                   distributed.rank() * z1.shape[0])


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)), summed over latent dimensions, averaged over rows."""
    mean, logvar = mean.float(), logvar.float()
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1).mean()


def reparameterise(mean: torch.Tensor, logvar: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A draw h = mean + exp(logvar / 2) * eps, eps ~ N(0, I) from g; differentiable in both."""
    eps = torch.randn(mean.shape, generator=g, device=mean.device)
    return mean.float() + (0.5 * logvar.float()).exp() * eps


def reconstruction(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error between images and their reconstructions."""
    return F.mse_loss(y.float(), x.float())


def warmup_loss(z1: torch.Tensor, z2: torch.Tensor, x1: torch.Tensor, y1: torch.Tensor,
                x2: torch.Tensor, y2: torch.Tensor, temperature: float,
                alpha: float, contrastive_weight: float = 1.0
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Phase-1 total L = w * NT-Xent + alpha * (MSE(x1, y1) + MSE(x2, y2)); returns (L, NT-Xent, MSE sum).

    The paper uses w = 1; w = 0 (autoencoder alone) and alpha = 0 (contrastive alone)
    are the ablation's two halves. Under torchrun the NT-Xent spans the global batch.
    """
    contrastive = global_nt_xent(z1, z2, temperature)
    mse = reconstruction(x1, y1) + reconstruction(x2, y2)
    return contrastive_weight * contrastive + alpha * mse, contrastive, mse
