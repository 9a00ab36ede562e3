"""The method chapter's table of the choices the paper leaves open, with our values.

Each row names a choice, the `RunConfig` fields that hold it and how their values read;
the values come from `make_config("paper")` (the defaults of `RunConfig`), so the table
cannot drift from the config.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cae.config import RunConfig, make_config


def short(value: float) -> str:
    """A config number as the prose writes it: 0.5, 1, 2.5e-6 (no exponent padding)."""
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m.group(1).replace('+', '')}{m.group(2)}",
                  f"{value:g}")


@dataclass(frozen=True)
class OpenChoice:
    """One row: the choice, the fields holding it, and our value in words."""

    name: str
    fields: tuple[str, ...]
    value: Callable[[RunConfig], str]


def _projector(c: RunConfig) -> str:
    after = ("BatchNorm + " if c.projector_batch_norm else "") + c.projector_activation.upper()
    return f"{', '.join(map(str, c.projector_dims))}; {after} after the first two layers"


def _decay(c: RunConfig) -> str:
    excluded = "" if c.lars_adapt_all else "; biases and norms excluded from adaptation and decay"
    return f"{short(c.weight_decay)}{excluded}"


def _kmeans(c: RunConfig) -> str:
    latents = "L2-normalised latents" if c.elbow_normalised else "latents as they are"
    return (f"on {latents}, $k \\in \\{{{c.k_min}, \\dots, {c.k_max}\\}}$, "
            f"{c.kmeans_n_init} initialisations")


OPEN_CHOICES: tuple[OpenChoice, ...] = (
    OpenChoice("Encoder channel widths", ("channels",), lambda c: ", ".join(map(str, c.channels))),
    OpenChoice("Projector widths", ("projector_dims",), _projector),
    OpenChoice("NT-Xent temperature $\\tau$", ("temperature",), lambda c: short(c.temperature)),
    OpenChoice("Batch size", ("batch_size",), lambda c: str(c.batch_size)),
    OpenChoice("LARS trust coefficient $c$", ("lars_trust_coefficient",),
               lambda c: short(c.lars_trust_coefficient)),
    OpenChoice("Momentum $\\mu$", ("momentum",), lambda c: short(c.momentum)),
    OpenChoice("Weight decay $\\lambda$", ("weight_decay",), _decay),
    OpenChoice("Soft-assignment temperature $T$", ("assign_temperature",),
               lambda c: short(c.assign_temperature)),
    OpenChoice("Weight of the NT-Xent term", ("contrastive_weight",),
               lambda c: f"{short(c.contrastive_weight)}, as in the paper (0 only in the ablation below)"),
    OpenChoice("Rotation", ("rotation_degrees", "aug_prob"),
               lambda c: f"up to ±{short(c.rotation_degrees)}°, *p* = {short(c.aug_prob)}"),
    OpenChoice("Gaussian blur", ("blur_sigma",),
               lambda c: f"σ in [{short(c.blur_sigma[0])}, {short(c.blur_sigma[1])}], "
                         f"*p* = {short(c.aug_prob)}"),
    OpenChoice("Gaussian noise", ("noise_std",),
               lambda c: f"standard deviation {short(c.noise_std)}, *p* = {short(c.aug_prob)}"),
    OpenChoice("Random rescaled crop", ("crop_scale",),
               lambda c: f"area scale {short(c.crop_scale[0])} to {short(c.crop_scale[1])}, "
                         f"*p* = {short(c.aug_prob)}"),
    OpenChoice("Horizontal flip", ("aug_prob", "hflip"),
               lambda c: f"*p* = {short(c.aug_prob)}; "
                         + ("on by default as in the paper, off in the MNIST flip test and the "
                            "`validated` and `beyond` profiles" if c.hflip else "off")),
    OpenChoice("KMeans", ("k_min", "k_max", "kmeans_n_init"), _kmeans),
    OpenChoice("Linear probe", ("probe_batch_size",),
               lambda c: ("standardised features" if c.probe_standardize else "raw features")
               + f", mini-batches of {c.probe_batch_size}"),
    OpenChoice("ResNet-18 input", ("resnet_image_size",),
               lambda c: f"{c.resnet_image_size} × {c.resnet_image_size} "
                         "(grey replicated to three channels)"),
)


def open_choices_table() -> str:
    """The table in Markdown: choice, our value (the `paper` profile's), the fields."""
    cfg = make_config("paper")
    lines = ["| Choice | Our value | `RunConfig` field |", "|---|---|---|"]
    lines += [f"| {row.name} | {row.value(cfg)} | {', '.join(f'`{f}`' for f in row.fields)} |"
              for row in OPEN_CHOICES]
    return "\n".join(lines)
