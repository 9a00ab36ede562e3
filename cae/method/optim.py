"""LARS (timm's implementation) and the paper's per-iteration learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from cae.config import RunConfig


def learning_rate(epoch: float, cfg: RunConfig) -> float:
    """The lr at a (fractional) epoch: linear lr_start -> lr_peak, then cosine to lr_final."""
    if epoch < cfg.lr_warmup_epochs:
        return cfg.lr_start + (cfg.lr_peak - cfg.lr_start) * epoch / cfg.lr_warmup_epochs
    span = max(cfg.epochs - cfg.lr_warmup_epochs, 1)
    progress = min((epoch - cfg.lr_warmup_epochs) / span, 1.0)
    return cfg.lr_final + 0.5 * (cfg.lr_peak - cfg.lr_final) * (1 + math.cos(math.pi * progress))


def make_lars(modules: Iterable[nn.Module], cfg: RunConfig,
              foreach: bool = False) -> torch.optim.Optimizer:
    """LARS over the modules' weights; biases and norm parameters get plain momentum SGD,
    unless `cfg.lars_adapt_all` (the authors' code), where every parameter is adapted and
    decayed. `foreach` (the `fast` kernels): timm's multi-tensor form of the same update,
    one kernel per operation over all parameters instead of a loop over them.

    timm's Lars applies the trust ratio only with `always_adapt=True` when weight decay
    could be zero, so it is set explicitly for the weight group (as in SimCLR, 1-D
    parameters are excluded from adaptation and decay).
    """
    from timm.optim import (
        Lars,  # imported here: timm pulls in tqdm.auto, noisy in notebooks
    )

    params = [p for m in modules for p in m.parameters()]
    adapted = params if cfg.lars_adapt_all else [p for p in params if p.ndim > 1]
    groups = [dict(params=adapted, weight_decay=cfg.weight_decay, always_adapt=True)]
    if not cfg.lars_adapt_all:
        groups.append(dict(params=[p for p in params if p.ndim <= 1], weight_decay=0.0,
                           always_adapt=False))
    return Lars(groups, lr=learning_rate(0, cfg), momentum=cfg.momentum,
                trust_coeff=cfg.lars_trust_coefficient, foreach=foreach)


def use_foreach(optimizer: torch.optim.Optimizer, foreach: bool) -> None:
    """Set the multi-tensor form on every group: a restored optimizer state brings back the
    groups' options as they were saved, and a run may resume under other kernels."""
    for group in optimizer.param_groups:
        group["foreach"] = foreach


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
