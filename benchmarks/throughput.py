"""Phase-1 training throughput: the usual PyTorch pipeline against this project's step.

Both run on the same machine in one process, on the same images, with the same
networks, loss and LARS optimizer, so their ratio is meaningful. The usual pipeline
is what a user would write: torchvision transforms per sample in a Dataset, a
DataLoader with 2 workers, fp32, eager. Ours is `cae.train.phase1_step` with the
config defaults (batched augmentation on the device, channels_last, no DataLoader).

Usage: python benchmarks/throughput.py [--data-dir DIR] [--steps 20] [--device auto]
       [--compile] [--reproduce [DATASET ...]] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision.transforms import v2

from cae.config import make_config
from cae.data import load_dataset
from cae.losses import warmup_loss
from cae.optim import make_lars
from cae.runtime import (cpu_flags, cpu_name, peak_rss_mb, resolve_device, resolve_precision,
                         to_float)
from cae.train import Networks, build_networks, fit_prototypes, phase1_step, phase2_step, place


class UsualPairs(torch.utils.data.Dataset):
    """Two independently augmented views of each image, one sample at a time."""

    def __init__(self, images: torch.Tensor, cfg):
        p = cfg.aug_prob
        self.images = images
        self.transform = v2.Compose([
            v2.ToDtype(torch.float32, scale=True),
            v2.RandomApply([v2.RandomRotation(cfg.rotation_degrees)], p=p),
            v2.RandomApply([v2.GaussianBlur(7, cfg.blur_sigma)], p=p),
            v2.RandomApply([v2.GaussianNoise(sigma=cfg.noise_std)], p=p),
            v2.RandomHorizontalFlip(p if cfg.hflip else 0.0),
            v2.RandomApply([v2.RandomResizedCrop(28, scale=cfg.crop_scale)], p=p),
        ])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        x = self.images[i]
        return self.transform(x), self.transform(x)


def usual_throughput(images: torch.Tensor, cfg, device: torch.device, steps: int) -> float:
    """Pairs per second of the per-sample DataLoader pipeline, fp32, eager."""
    nets = build_networks(cfg, images.shape[1])
    modules = [m.to(device) for m in (nets.encoder, nets.projector, nets.decoder)]
    optimizer = make_lars(modules, cfg)
    loader = DataLoader(UsualPairs(images, cfg), batch_size=cfg.batch_size, shuffle=True,
                        num_workers=2, drop_last=True, persistent_workers=True)
    done, started = 0, None
    while done < steps + 2:
        for x1, x2 in loader:
            if done == 2:
                started = time.perf_counter()
            x1, x2 = x1.to(device), x2.to(device)
            h = nets.encoder(torch.cat([x1, x2]))
            z, y = nets.projector(h), nets.decoder(h)
            n = len(x1)
            loss = warmup_loss(z[:n], z[n:], x1, y[:n], x2, y[n:], cfg.temperature, cfg.alpha)[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps + 2:
                break
    _sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - started)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours_throughput(images: torch.Tensor, cfg, device: torch.device, steps: int,
                    phase: int) -> float:
    """Pairs per second of this project's training step (phase 1 or phase 2)."""
    precision = resolve_precision(cfg.precision, device)
    nets = _networks(images, cfg, device, precision, phase)
    train_modules = [nets.cond_decoder] if phase == 2 else [nets.encoder, nets.projector, nets.decoder]
    optimizer = make_lars(train_modules, cfg)
    step_fn = phase2_step if phase == 2 else phase1_step
    g = torch.Generator(device=device).manual_seed(0)
    data = images.to(device)
    for i in range(steps + 2):
        if i == 2:
            _sync(device)
            started = time.perf_counter()
        idx = torch.randint(len(data), (cfg.batch_size,), generator=g, device=device)
        optimizer.zero_grad(set_to_none=True)
        step_fn(nets, to_float(data[idx], cfg.channels_last), cfg, g, device, precision)
        optimizer.step()
    _sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - started)


def _networks(images, cfg, device, precision, phase) -> Networks:
    nets = place(build_networks(cfg, images.shape[1]), cfg, device)
    if phase == 2:
        fit_prototypes(nets, images[:2048].to(device), cfg, device, precision)
    return nets


def flops_per_pair(images: torch.Tensor, cfg) -> float:
    """FLOPs of one phase-1 step per image pair (both views, forward and backward)."""
    nets = build_networks(cfg, images.shape[1])
    x = to_float(images[:64], False)
    g = torch.Generator().manual_seed(0)
    with FlopCounterMode(display=False) as counter:
        phase1_step(nets, x, cfg, g, torch.device("cpu"), "fp32")
    return counter.get_total_flops() / len(x)


def reproduce_wall_time(dataset: str, data_dir: str | None, device: str) -> dict:
    """`cae reproduce --dataset DATASET --profile paper` end to end in a fresh process: its
    wall time as this script sees it, and the run's own provenance (phase times, peak
    memory). The run directory is runs/benchmark-paper-<dataset>; the floors cache beside
    it is reused when present, as in any run."""
    run_dir = Path(f"runs/benchmark-paper-{dataset}")
    cmd = [sys.executable, "-m", "cae.cli", "reproduce", "--dataset", dataset,
           "--profile", "paper", "--retrain", "--quiet", "--allow-untrained-weights",
           "--run-dir", str(run_dir), "--device", device]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    provenance = json.loads((run_dir / "provenance.json").read_text())
    return {f"reproduce_paper_{dataset}_s": seconds,
            f"reproduce_paper_{dataset}_phases_s": provenance["wall_time_s"],
            f"reproduce_paper_{dataset}_peak_rss_mb": provenance["peak_rss_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--dataset", default="pneumoniamnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--compile", action="store_true",
                        help="also time our step under torch.compile (auto precision and fp32)")
    parser.add_argument("--reproduce", nargs="*", metavar="DATASET",
                        help="also time `cae reproduce --profile paper` end to end on these "
                             "datasets (default, with no name: pneumoniamnist and mnist)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    cfg = make_config("paper", dataset=args.dataset, data_dir=args.data_dir, device=args.device)
    device = resolve_device(cfg.device)
    images = load_dataset(cfg.dataset, cfg.data_dir).splits["train"].images
    flops = flops_per_pair(images, cfg)
    usual = usual_throughput(images, cfg, device, args.steps)
    ours = ours_throughput(images, cfg, device, args.steps, phase=1)
    fp32 = dataclasses.replace(cfg, precision="fp32")
    ours_fp32 = ours_throughput(images, fp32, device, args.steps, phase=1)
    phase2 = ours_throughput(images, cfg, device, args.steps, phase=2)
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else cpu_name(),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "precision": resolve_precision(cfg.precision, device), "batch_size": cfg.batch_size,
        "usual_pairs_per_s": usual, "ours_pairs_per_s": ours, "ours_fp32_pairs_per_s": ours_fp32,
        "speedup": ours / usual, "phase2_pairs_per_s": phase2,
        "mflop_per_pair": flops / 1e6, "ours_gflop_per_s": ours * flops / 1e9,
        "peak_rss_mb": peak_rss_mb(), "cpu_flags": cpu_flags(),
    }
    if args.compile:
        for name, variant in (("ours_compiled_pairs_per_s", cfg), ("ours_fp32_compiled_pairs_per_s", fp32)):
            result[name] = ours_throughput(images, dataclasses.replace(variant, compile=True),
                                           device, args.steps, phase=1)
    if args.reproduce is not None:
        for dataset in args.reproduce or ("pneumoniamnist", "mnist"):
            result.update(reproduce_wall_time(dataset, args.data_dir, args.device))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value:.3g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
