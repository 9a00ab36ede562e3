"""The paper's losses: NT-Xent over both views, MSE reconstruction, and their sum."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent: -log softmax of the positive pair's cosine / T over all 2N-1 others.

    Rows i of z1 and z2 are the two views of image i; the loss is averaged over both
    views of every image.
    """
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n = z1.shape[0]
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, positives)


def reconstruction(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error between images and their reconstructions."""
    return F.mse_loss(y.float(), x.float())


def warmup_loss(z1: torch.Tensor, z2: torch.Tensor, x1: torch.Tensor, y1: torch.Tensor,
                x2: torch.Tensor, y2: torch.Tensor, temperature: float,
                alpha: float, contrastive_weight: float = 1.0
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Phase-1 total L = w * NT-Xent + alpha * (MSE(x1, y1) + MSE(x2, y2)); returns (L, NT-Xent, MSE sum).

    The paper uses w = 1; w = 0 (autoencoder alone) and alpha = 0 (contrastive alone)
    are the ablation's two halves.
    """
    contrastive = nt_xent(z1, z2, temperature)
    mse = reconstruction(x1, y1) + reconstruction(x2, y2)
    return contrastive_weight * contrastive + alpha * mse, contrastive, mse
