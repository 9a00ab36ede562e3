"""Phase-1 training throughput: the usual PyTorch pipeline against this project's step.

Both run on the same machine, on the same images, with the same networks, loss and LARS
optimizer, so their ratio is meaningful. The usual pipeline is what a user would write:
torchvision transforms per sample in a Dataset, a DataLoader with 2 workers, fp32,
eager, the C allocator as the system sets it. Ours is `cae.method.train.phase1_step` as a run
resolves it (`cae.infra.runtime.Runtime`: precision auto, kernels auto, freed buffers kept by
the allocator, batched augmentation on the device, channels_last, no DataLoader), and the
same with the `exact` and the `fast` kernels named.

Each measurement runs in a fresh process (so one configuration's allocator setting or
warm caches cannot help another), the configurations alternate for `--repeats` rounds,
and the median of each is reported with every sample. The matmul peak of this device
(square fp32 and bf16 matmuls) is measured in the same run, so the achieved FLOP/s of
our step can be read as a fraction of what the hardware does at its best.

Usage: python benchmarks/throughput.py [--data-dir DIR] [--steps 20] [--repeats 3]
       [--device auto] [--compile] [--reproduce [DATASET ...]] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision.transforms import v2

from cae.config import make_config
from cae.data.datasets import load_dataset
from cae.infra.runtime import (
    Runtime,
    cpu_flags,
    cpu_name,
    cpu_supports_bf16,
    peak_rss_mb,
    resolve_device,
    to_float,
)
from cae.method.losses import warmup_loss
from cae.method.optim import make_lars
from cae.method.train import (
    Networks,
    build_networks,
    fit_prototypes,
    phase1_step,
    phase2_step,
    place,
)

MATMUL_SIZE = 2048


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
    """Pairs per second of this project's training step (phase 1 or phase 2), with the
    precision, kernels and allocator setting a run resolves from cfg."""
    runtime = Runtime.resolve(str(device), cfg.precision, cfg.kernels)
    precision = runtime.precision
    nets = _networks(images, cfg, device, precision, phase)
    train_modules = [nets.cond_decoder] if phase == 2 else [nets.encoder, nets.projector, nets.decoder]
    optimizer = make_lars(train_modules, cfg, runtime.fast)
    step_fn = phase2_step if phase == 2 else phase1_step
    g = torch.Generator(device=device).manual_seed(0)
    data = images.to(device)
    for i in range(steps + 2):
        if i == 2:
            _sync(device)
            started = time.perf_counter()
        idx = torch.randint(len(data), (cfg.batch_size,), generator=g, device=device)
        optimizer.zero_grad(set_to_none=True)
        step_fn(nets, to_float(data[idx], cfg.channels_last), cfg, g, device, precision,
                runtime.fast)
        optimizer.step()
    _sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - started)


def _networks(images, cfg, device, precision, phase) -> Networks:
    nets = place(build_networks(cfg, images.shape[1]), cfg, device)
    if phase == 2:
        fit_prototypes(nets, images[:2048].to(device), cfg, device, precision)
    return nets


def matmul_peak(device: torch.device, dtype: torch.dtype, repeats: int = 5) -> float:
    """GFLOP/s of the fastest of `repeats` rounds of square matmuls of MATMUL_SIZE."""
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE, device=device, dtype=dtype) for _ in range(2))
    a @ b
    best = 0.0
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        for _ in range(5):
            a @ b
        _sync(device)
        best = max(best, 5 * 2 * MATMUL_SIZE**3 / (time.perf_counter() - started) / 1e9)
    return best


def configurations(cfg, device: torch.device, compiled: bool) -> dict[str, tuple]:
    """Name -> (config, phase, pipeline) of every timed measurement: the usual pipeline, ours
    as a run resolves it, ours with the `exact` and with the `fast` kernels, ours forced to
    fp32 and, where the hardware has bf16 units, to bf16; phase 2; with `compiled`, ours
    under torch.compile (auto and fp32)."""
    fp32 = dataclasses.replace(cfg, precision="fp32")
    runs = {"usual": (cfg, 1, "usual"), "ours": (cfg, 1, "ours"),
            "ours_exact": (dataclasses.replace(cfg, kernels="exact"), 1, "ours"),
            "ours_fast": (dataclasses.replace(cfg, kernels="fast"), 1, "ours"),
            "ours_fp32": (fp32, 1, "ours")}
    if device.type == "cuda" or cpu_supports_bf16():
        runs["ours_bf16"] = (dataclasses.replace(cfg, precision="bf16"), 1, "ours")
    runs["phase2"] = (cfg, 2, "ours")
    if compiled:
        runs["ours_compiled"] = (dataclasses.replace(cfg, compile=True), 1, "ours")
        runs["ours_fp32_compiled"] = (dataclasses.replace(fp32, compile=True), 1, "ours")
    return runs


def measure_one(name: str, args: argparse.Namespace) -> float:
    """One measurement, in this (fresh) process: pairs per second of configuration `name`."""
    cfg = make_config("paper", dataset=args.dataset, data_dir=args.data_dir, device=args.device)
    device = resolve_device(cfg.device)
    images = load_dataset(cfg.dataset, cfg.data_dir).splits["train"].images
    run_cfg, phase, pipeline = configurations(cfg, device, args.compile)[name]
    if pipeline == "usual":
        return usual_throughput(images, run_cfg, device, args.steps)
    return ours_throughput(images, run_cfg, device, args.steps, phase)


def measure_in_fresh_process(name: str, args: argparse.Namespace) -> float:
    cmd = [sys.executable, __file__, "--measure", name, "--dataset", args.dataset,
           "--device", args.device, "--steps", str(args.steps)]
    cmd += ["--data-dir", args.data_dir] if args.data_dir else []
    cmd += ["--compile"] if args.compile else []
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


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
    memory overall and after each phase). The run directory is runs/benchmark-paper-<dataset>; the floors cache beside
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
            f"reproduce_paper_{dataset}_peak_rss_mb": provenance["peak_rss_mb"],
            f"reproduce_paper_{dataset}_peak_rss_mb_after": provenance["peak_rss_mb_after"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--dataset", default="pneumoniamnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds over all configurations, each in a fresh process; the "
                             "median is reported")
    parser.add_argument("--compile", action="store_true",
                        help="also time our step under torch.compile (auto precision and fp32)")
    parser.add_argument("--reproduce", nargs="*", metavar="DATASET",
                        help="also time `cae reproduce --profile paper` end to end on these "
                             "datasets (default, with no name: pneumoniamnist and mnist)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one measurement, internal
    args = parser.parse_args()
    if args.measure:
        print(measure_one(args.measure, args))
        return

    cfg = make_config("paper", dataset=args.dataset, data_dir=args.data_dir, device=args.device)
    device = resolve_device(cfg.device)
    images = load_dataset(cfg.dataset, cfg.data_dir).splits["train"].images
    flops = flops_per_pair(images, cfg)
    load_before = os.getloadavg()
    names = list(configurations(cfg, device, args.compile))
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            samples[name].append(measure_in_fresh_process(name, args))
    median = {name: statistics.median(values) for name, values in samples.items()}
    runtime = Runtime.resolve(str(device), cfg.precision, cfg.kernels)
    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if "ours_bf16" in median:
        peaks["bf16"] = matmul_peak(device, torch.bfloat16)
    achieved = median["ours"] * flops / 1e9
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else cpu_name(),
        "cpu_flags": cpu_flags(), "threads": torch.get_num_threads(), "torch": torch.__version__,
        "dataset": cfg.dataset, "batch_size": cfg.batch_size, "steps": args.steps,
        "repeats": args.repeats, "precision": runtime.precision, "kernels": runtime.kernels,
        "allocator": runtime.allocator,
        **{f"{name}_pairs_per_s": value for name, value in median.items()},
        "speedup": median["ours"] / median["usual"],
        "speedup_exact": median["ours_exact"] / median["usual"],
        "speedup_fast": median["ours_fast"] / median["usual"],
        "mflop_per_pair": flops / 1e6, "ours_gflop_per_s": achieved,
        "matmul_peak_gflop_per_s": peaks,
        "ours_fraction_of_matmul_peak": achieved / peaks.get(runtime.precision, peaks["fp32"]),
        "samples_pairs_per_s": samples,
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
    }
    if args.reproduce is not None:
        for dataset in args.reproduce or ("pneumoniamnist", "mnist"):
            result.update(reproduce_wall_time(dataset, args.data_dir, args.device))
    result["peak_rss_mb"] = peak_rss_mb()
    for key, value in result.items():
        if key != "samples_pairs_per_s":
            print(f"{key:<32}  {value:.4g}" if isinstance(value, float) else f"{key:<32}  {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
