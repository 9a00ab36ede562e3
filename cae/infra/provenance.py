"""Writing provenance.json: data hashes, package versions, hardware, precision, processes,
times and memory; the one part of a run folder that needs torch to write."""

from __future__ import annotations

import platform
from importlib import metadata

import torch

from cae.config import RunConfig, clamped_settings
from cae.data.datasets import Dataset
from cae.infra.distributed import backend, world_size
from cae.infra.runs import steps_of
from cae.infra.runtime import Runtime, cpu_name, peak_rss_mb

PACKAGES = ("cae", "torch", "torchvision", "numpy", "scikit-learn", "medmnist", "timm", "yellowbrick",
            "umap-learn")


def provenance(cfg: RunConfig, data: Dataset, seconds: dict[str, float],
               runtime: Runtime | None = None, peaks: dict[str, int] | None = None,
               trained_by: tuple[int, str | None] | None = None) -> dict:
    """Where the numbers came from: data hashes, package versions, hardware, precision,
    allocator, processes (torchrun's world size and backend; `trained_by` gives those of
    a training run by another command, as its checkpoint records them), times, peak memory
    (and, given `peaks`, the peak so far after each phase), and the settings the training
    set clamped (`clamped`, only when any)."""
    processes, group = trained_by or (world_size(), backend())
    runtime = runtime or Runtime.resolve(cfg.device, cfg.precision, cfg.kernels)
    device = runtime.device
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    clamped = clamped_settings(cfg, len(data.splits["train"]), processes)
    return dict(dataset=data.name, data_md5=data.md5, val_holdout=data.holdout,
                selection=data.selection, steps=steps_of(cfg, data), packages=versions,
                python=platform.python_version(),
                device=str(device), device_name=(torch.cuda.get_device_name(device)
                                                 if device.type == "cuda" else cpu_name()),
                cpu_threads=torch.get_num_threads(), world_size=processes, backend=group,
                precision=runtime.precision, kernels=runtime.kernels,
                allocator=runtime.allocator, wall_time_s=seconds,
                peak_rss_mb=round(peak_rss_mb()), **({"peak_rss_mb_after": peaks} if peaks else {}),
                **({"clamped": clamped} if clamped else {}))
