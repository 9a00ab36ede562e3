"""The paper's augmentations as batched tensor operations on the training device.

Each transform is applied per image with probability p: rotation up to 30 degrees,
horizontal flip and random resized crop (composed into one affine resampling),
Gaussian blur (a per-image separable kernel), Gaussian noise; and, beyond the paper and
off by default, a brightness/contrast jitter. All randomness comes
from one `torch.Generator`, so two views are reproducible from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

BLUR_KERNEL = 7
CROP_RATIO = (3 / 4, 4 / 3)


@dataclass(frozen=True)
class AugmentParams:
    """Strengths of the five augmentations; each fires with probability `prob` (the flip only if `hflip`)."""

    prob: float = 0.5
    rotation_degrees: float = 30.0
    hflip: bool = True
    blur_sigma: tuple[float, float] = (0.1, 1.0)
    noise_std: float = 0.05
    crop_scale: tuple[float, float] = (0.6, 1.0)
    intensity_jitter: float = 0.0  # brightness and contrast factors in 1 +- this; 0: none


def _uniform(n: int, lo: float, hi: float, g: torch.Generator, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, device=device)


def _coin(n: int, p: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) < p


def affine_matrices(n: int, params: AugmentParams, g: torch.Generator, device) -> torch.Tensor:
    """Per-image (n, 2, 3) maps from output to input coordinates: crop after rotate after flip."""
    angle = torch.deg2rad(_uniform(n, -params.rotation_degrees, params.rotation_degrees, g, device))
    angle = torch.where(_coin(n, params.prob, g, device), angle, torch.zeros_like(angle))
    # the coin is drawn even without flips, so the other transforms keep their random draws
    flip = torch.where(_coin(n, params.prob if params.hflip else 0.0, g, device), -1.0, 1.0)

    crop = _coin(n, params.prob, g, device)
    area = _uniform(n, *params.crop_scale, g, device)
    log_ratio = _uniform(n, math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]), g, device)
    # narrow the aspect ratio so both sides fit: the crop keeps exactly the sampled area
    bound = -torch.log(area)
    log_ratio = torch.clamp(log_ratio, min=-bound, max=bound)
    width = torch.sqrt(area * log_ratio.exp()).clamp(max=1.0)
    height = torch.sqrt(area / log_ratio.exp()).clamp(max=1.0)
    width, height = torch.where(crop, width, 1.0), torch.where(crop, height, 1.0)
    shift_x = (1 - width) * (2 * torch.rand(n, generator=g, device=device) - 1)
    shift_y = (1 - height) * (2 * torch.rand(n, generator=g, device=device) - 1)

    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = width * cos * flip
    theta[:, 0, 1] = -width * sin
    theta[:, 1, 0] = height * sin * flip
    theta[:, 1, 1] = height * cos
    theta[:, 0, 2] = shift_x
    theta[:, 1, 2] = shift_y
    return theta


def gaussian_kernels(sigma: torch.Tensor, size: int = BLUR_KERNEL) -> torch.Tensor:
    """Normalised 1D Gaussian kernels (n, size); sigma 0 gives the identity kernel."""
    offsets = torch.arange(size, device=sigma.device, dtype=torch.float32) - size // 2
    safe = sigma.clamp(min=1e-6)[:, None]
    kernels = torch.exp(-0.5 * (offsets[None] / safe) ** 2)
    return kernels / kernels.sum(dim=1, keepdim=True)


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image of x (n, c, h, w) with its own separable Gaussian of std sigma[i]."""
    n, c, h, w = x.shape
    k = gaussian_kernels(sigma).to(x.dtype).repeat_interleave(c, dim=0)
    flat = F.pad(x.reshape(1, n * c, h, w), [BLUR_KERNEL // 2] * 4, mode="reflect")
    flat = F.conv2d(flat, k[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, k[:, None, :, None], groups=n * c)
    return flat.reshape(n, c, h, w)


def _reflect_shifts(size: int, device) -> torch.Tensor:
    """(BLUR_KERNEL, size, size) 0/1 matrices: row i of shift t picks the pixel that sits at
    i + t in the reflect-padded signal, so sum_t k[t] * shift[t] is the padded convolution."""
    half = BLUR_KERNEL // 2
    source = (torch.arange(size + 2 * half, device=device) - half).abs()
    source = torch.where(source > size - 1, 2 * (size - 1) - source, source)
    padded = F.one_hot(source, size).float()  # (size + 2 half, size)
    return torch.stack([padded[t:t + size] for t in range(BLUR_KERNEL)])


def blur_by_matmul(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """`blur` as two batched matrix products (the `fast` kernels): each image's separable,
    reflect-padded Gaussian is a banded (h, h) matrix on the left and a (w, w) one on the
    right, so out = V @ x @ H^T equals `blur` up to float rounding."""
    n, c, h, w = x.shape
    k = gaussian_kernels(sigma)
    rows = torch.einsum("nt,tij->nij", k, _reflect_shifts(h, x.device)).to(x.dtype)
    cols = torch.einsum("nt,tij->nij", k, _reflect_shifts(w, x.device)).to(x.dtype)
    return rows[:, None] @ x @ cols[:, None].transpose(-1, -2)


def intensity_jitter(x: torch.Tensor, strength: float, prob: float,
                     g: torch.Generator) -> torch.Tensor:
    """Brightness then contrast, each image with probability `prob`: x times a factor in
    1 +- strength, then its deviation from its own mean times another (the grey-level part
    of SimCLR's colour jitter; not in the paper)."""
    n, device = x.shape[0], x.device
    fires = _coin(n, prob, g, device)
    brightness = torch.where(fires, _uniform(n, 1 - strength, 1 + strength, g, device), 1.0)
    contrast = torch.where(fires, _uniform(n, 1 - strength, 1 + strength, g, device), 1.0)
    x = (x * brightness[:, None, None, None].to(x.dtype)).clamp(0.0, 1.0)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return mean + (x - mean) * contrast[:, None, None, None].to(x.dtype)


def augment(x: torch.Tensor, params: AugmentParams, g: torch.Generator,
            fast: bool = False) -> torch.Tensor:
    """One random view of a float batch in [0, 1]: affine resampling, intensity jitter (when
    asked for; without it no random number is drawn for it), blur (`fast`: as matrix
    products, the same random draws), noise."""
    n, device = x.shape[0], x.device
    grid = F.affine_grid(affine_matrices(n, params, g, device), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if params.intensity_jitter > 0:
        x = intensity_jitter(x, params.intensity_jitter, params.prob, g)

    sigma = _uniform(n, *params.blur_sigma, g, device)
    sigma = torch.where(_coin(n, params.prob, g, device), sigma, torch.zeros_like(sigma))
    x = blur_by_matmul(x, sigma) if fast else blur(x, sigma)

    noisy = _coin(n, params.prob, g, device).to(x.dtype)[:, None, None, None]
    x = x + noisy * params.noise_std * torch.randn(x.shape, generator=g, device=device)
    return x.clamp(0.0, 1.0)


def two_views(x: torch.Tensor, params: AugmentParams, g: torch.Generator,
              fast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent random views of the same batch (the positive pairs)."""
    return augment(x, params, g, fast), augment(x, params, g, fast)
