"""Phase-1 training throughput of N processes (DDP, gloo on the CPU) against one process.

All train the same global batch (the paper's 256 pairs) on the same machine with the
training code's own step (`cae.method.train.trainable` + `phase1_step` + LARS): one process with
all the machine's cores as threads, one process with one thread, and N processes spawned
with torchrun's environment variables, joined through `cae.infra.distributed.process_group`,
each with cores / N threads (torchrun's default for N > 1 is 1 thread per process), each
training its shard of every global batch, gathering the projections for the global
NT-Xent and averaging gradients. Repeats alternate the configurations, so load from
other work falls on all alike; the median is reported.

Usage: python benchmarks/distributed_throughput.py --data-dir DIR [--dataset pneumoniamnist]
       [--processes 2] [--steps 20] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cae.config import make_config
from cae.data.datasets import load_dataset
from cae.infra.distributed import augmentation_generator, backend, process_group, shard
from cae.infra.files import report_json
from cae.infra.runtime import cpu_flags, cpu_name, resolve_precision, to_float
from cae.method.optim import make_lars
from cae.method.train import build_networks, phase1_step, place, trainable

CPU = torch.device("cpu")


def timed_steps(images: torch.Tensor, cfg, steps: int) -> float:
    """Seconds of `steps` phase-1 steps after 2 untimed ones, each on this process's shard
    of a global batch drawn alike in every process."""
    nets = place(build_networks(cfg, images.shape[1]), cfg, CPU)
    optimizer = make_lars([nets.encoder, nets.projector, nets.decoder], cfg)
    view, precision = trainable(nets, False), resolve_precision(cfg.precision, CPU)
    g = torch.Generator().manual_seed(cfg.seed)
    views = augmentation_generator(g, cfg.seed, 0)
    for i in range(steps + 2):
        if i == 2:
            _barrier()
            started = time.perf_counter()
        batch = torch.randint(len(images), (cfg.batch_size,), generator=g)
        optimizer.zero_grad(set_to_none=True)
        phase1_step(view, to_float(images[shard(batch)], cfg.channels_last), cfg, views, CPU,
                    precision)
        optimizer.step()
    _barrier()
    return time.perf_counter() - started


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _worker(rank: int, world: int, port: int, threads: int, cfg, steps: int, out: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(threads)
    images = load_dataset(cfg.dataset, cfg.data_dir).splits["train"].images
    with process_group(CPU):
        seconds, name = timed_steps(images, cfg, steps), backend()
    if rank == 0:
        out.write_text(json.dumps({"seconds": seconds, "backend": name}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(processes: int, threads: int, cfg, steps: int) -> dict:
    """Pairs per second of the global batch with `processes` processes of `threads` threads."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rank0.json"
        mp.spawn(_worker, args=(processes, _free_port(), threads, cfg, steps, out),
                 nprocs=processes)
        result = json.loads(out.read_text())
    return {"processes": processes, "threads_per_process": threads, "backend": result["backend"],
            "pairs_per_s": steps * cfg.batch_size / result["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--dataset", default="pneumoniamnist")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    cfg = make_config("paper", dataset=args.dataset, data_dir=args.data_dir, device="cpu",
                      progress=False)
    settings = list(dict.fromkeys([(1, cores), (1, 1),
                                   (args.processes, max(1, cores // args.processes))]))
    runs = {s: [] for s in settings}
    load_before = os.getloadavg()
    for _ in range(args.repeats):
        for processes, threads in settings:
            runs[(processes, threads)].append(measure(processes, threads, cfg, args.steps))
    rows = [{**found[0], "pairs_per_s": statistics.median(r["pairs_per_s"] for r in found),
             "pairs_per_s_repeats": [r["pairs_per_s"] for r in found]}
            for found in runs.values()]
    for row in rows:
        row["relative_to_one_process"] = row["pairs_per_s"] / rows[0]["pairs_per_s"]
    result = {
        "device": "cpu", "device_name": cpu_name(), "cpu_flags": cpu_flags(), "cores": cores,
        "torch": torch.__version__, "precision": resolve_precision(cfg.precision, CPU),
        "dataset": cfg.dataset, "global_batch_size": cfg.batch_size, "timed_steps": args.steps,
        "repeats": args.repeats, "load_average_before": load_before,
        "load_average_after": os.getloadavg(), "configurations": rows,
    }
    report_json(result, args.json)


if __name__ == "__main__":
    main()
