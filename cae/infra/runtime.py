"""Where and how tensors compute: device, precision, memory format, batched encoding."""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import torch
from torch import nn

from cae.errors import CaeError
from cae.infra.allocator import keep_freed_memory


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when available; an unavailable device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise CaeError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CaeError("device cuda requested but no CUDA GPU is visible; use --device cpu")
    return device


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux and macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 2**10  # bytes / KiB


def _flags(cpuinfo: Path) -> set[str]:
    try:
        return set(cpuinfo.read_text().split())
    except OSError:
        return set()


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The CPU features that decide training speed (AVX2, AVX-512, bf16 units), as cpuinfo lists them."""
    flags = _flags(cpuinfo)
    return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16") if f in flags]


def cpu_supports_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True on CPUs with native bf16 units (AMX-BF16 or AVX512-BF16), read from cpuinfo
    (elsewhere than Linux this conservatively answers False). Without them bf16 matmuls
    run hundreds of times slower than fp32."""
    return bool(_flags(cpuinfo) & {"amx_bf16", "avx512_bf16"})


def cpu_trains_faster_in_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True on CPUs with AMX-BF16 tiles. AVX512-BF16 alone does not pay for these small
    convolutions: on a 2-core AMD EPYC with it, phase 1 ran about 6% slower in bf16 than in
    fp32 (medians in both benchmarks/results/cpu-2core-epyc-avx512bf16*.json)."""
    return "amx_bf16" in _flags(cpuinfo)


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name from cpuinfo, else the platform's machine type."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def resolve_precision(precision: str, device: torch.device,
                      cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """'auto' gives bf16 on CUDA GPUs that support it and on CPUs with AMX-BF16, fp32
    elsewhere (`cpu_trains_faster_in_bf16`)."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_trains_faster_in_bf16(cpuinfo) else "fp32"


def resolve_kernels(kernels: str, device: torch.device) -> str:
    """'auto' gives `fast` on the CPU and `exact` on CUDA, where `fast` has not been measured.
    On a 2-core Xeon with AMX a whole phase-1 step ran no slower with `fast`, the difference
    within the noise (benchmarks/results/cpu-2core-xeon-amx.json), with the same quality
    (kernels-quality-xeon-amx.json)."""
    if kernels != "auto":
        return kernels
    return "fast" if device.type == "cpu" else "exact"


@dataclass(frozen=True)
class Runtime:
    """Where and how one run computes: its device, precision and C allocator setting,
    resolved once per run."""

    device: torch.device
    precision: str
    allocator: str = "system default"
    kernels: str = "exact"

    @classmethod
    def resolve(cls, device: str, precision: str, kernels: str = "exact") -> Runtime:
        """The config's `device`, `precision` and `kernels` ('auto' or named) made concrete;
        keeps freed training buffers in the process (`cae.infra.allocator`)."""
        resolved = resolve_device(device)
        return cls(resolved, resolve_precision(precision, resolved), keep_freed_memory(),
                   resolve_kernels(kernels, resolved))

    @property
    def fast(self) -> bool:
        """Whether training uses the `fast` kernels."""
        return self.kernels == "fast"

    def describe(self) -> dict[str, str]:
        """Plain values for checkpoints and provenance."""
        return {"device": str(self.device), "precision": self.precision,
                "allocator": self.allocator, "kernels": self.kernels}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast for forward passes, or a no-op in fp32."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_float(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 images to float in [0, 1], optionally in channels_last memory format."""
    x = images.float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


@overload
def encode(encoder: nn.Module, images: torch.Tensor, device: torch.device,
           precision: str = ..., batch_size: int = ..., with_logvar: Literal[False] = ...
           ) -> torch.Tensor: ...


@overload
def encode(encoder: nn.Module, images: torch.Tensor, device: torch.device,
           precision: str = ..., batch_size: int = ..., *, with_logvar: Literal[True]
           ) -> tuple[torch.Tensor, torch.Tensor]: ...


@torch.no_grad()
def encode(encoder: nn.Module, images: torch.Tensor, device: torch.device,
           precision: str = "fp32", batch_size: int = 2048, with_logvar: bool = False
           ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Latents h of uint8 images (N, C, 28, 28), in fp32 on the CPU; with `with_logvar`
    (variational encoders) the posterior (h, log-variance)."""
    was_training = encoder.training
    encoder.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = to_float(images[start:start + batch_size].to(device), channels_last=False)
        with autocast(device, precision):
            parts = encoder(x, with_logvar=True) if with_logvar else (encoder(x),)
            out.append([part.float().cpu() for part in parts])
    encoder.train(was_training)
    if not out:
        return (torch.empty(0), torch.empty(0)) if with_logvar else torch.empty(0)
    columns = [torch.cat(column) for column in zip(*out)]
    if with_logvar:
        mean, logvar = columns
        return mean, logvar
    return columns[0]
