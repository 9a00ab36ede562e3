"""Where a phase-1 step's time goes on the CPU: oneDNN's own timing of every convolution,
transposed convolution, eltwise and reorder primitive, summed per primitive and shape,
and PyTorch's profiler's self time of every operator.

Runs warm-up steps, `--steps` steps under `torch.profiler` (self CPU time per operator,
so GELU, the linear layers, the loss, LARS and the augmentations show beside the
convolutions), then `--steps` timed steps of `cae.method.train.phase1_step` as a run resolves
it (precision, allocator) in a child process with ONEDNN_VERBOSE=1, and reports
milliseconds per step for each primitive and operator beside the step's wall time.

Usage: python benchmarks/step_kernels.py --data-dir DIR [--dataset pneumoniamnist]
       [--precision auto] [--kernels exact|fast] [--steps 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

MARK = "== timed steps"
OP = "== op ms"


def run_steps(args: argparse.Namespace) -> None:
    """The child: warm-up steps, a marker line, the timed steps, their wall time per step."""
    import torch

    from cae.config import make_config
    from cae.data.datasets import load_dataset
    from cae.infra.runtime import Runtime, to_float
    from cae.method.optim import make_lars
    from cae.method.train import build_networks, phase1_step, place

    cfg = make_config("paper", dataset=args.dataset, data_dir=args.data_dir,
                      precision=args.precision, device="cpu", kernels=args.kernels)
    runtime = Runtime.resolve("cpu", cfg.precision, cfg.kernels)
    images = load_dataset(cfg.dataset, cfg.data_dir).splits["train"].images
    nets = place(build_networks(cfg, images.shape[1]), cfg, runtime.device)
    optimizer = make_lars([nets.encoder, nets.projector, nets.decoder], cfg, runtime.fast)
    g = torch.Generator().manual_seed(0)

    def step() -> None:
        idx = torch.randint(len(images), (cfg.batch_size,), generator=g)
        optimizer.zero_grad(set_to_none=True)
        phase1_step(nets, to_float(images[idx], cfg.channels_last), cfg, g, runtime.device,
                    runtime.precision, runtime.fast)
        optimizer.step()

    for _ in range(3):
        step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    for event in prof.key_averages():
        print(f"{OP} {event.self_cpu_time_total / 1e3 / args.steps:.4f} {event.key}")
    print(MARK, runtime.precision, flush=True)
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    print(f"== step ms {(time.perf_counter() - started) / args.steps * 1e3:.3f}", flush=True)


def primitive_times(lines: list[str], steps: int) -> tuple[dict[str, float], float, str]:
    """(milliseconds per step of each 'kind propagation shape', step ms, precision) from the
    child's output after the marker."""
    after = lines[lines.index(next(l for l in lines if l.startswith(MARK))):]
    precision = after[0].split()[-1]
    per_step: dict[str, float] = defaultdict(float)
    step_ms = 0.0
    for line in after:
        if line.startswith("== step ms"):
            step_ms = float(line.split()[-1])
        fields = line.split(",")
        if line.startswith("onednn_verbose") and len(fields) > 6 and fields[2] == "primitive" \
                and fields[3] == "exec":
            kind, propagation, shape = fields[5], fields[7], fields[-2]
            per_step[f"{kind} {propagation} {shape}"] += float(fields[-1]) / steps
    return dict(per_step), step_ms, precision


def operator_times(lines: list[str]) -> dict[str, float]:
    """Milliseconds per step of each PyTorch operator's self time (the profiled steps)."""
    ops = {}
    for line in lines:
        if line.startswith(OP):
            ms, name = line[len(OP):].split(maxsplit=1)
            ops[name] = float(ms)
    return ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--dataset", default="pneumoniamnist")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--kernels", choices=["exact", "fast"], default="exact")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_steps(args)
        return
    cmd = [sys.executable, __file__, "--child", "--dataset", args.dataset, "--precision",
           args.precision, "--kernels", args.kernels, "--steps", str(args.steps)]
    cmd += ["--data-dir", args.data_dir] if args.data_dir else []
    done = subprocess.run(cmd, check=True, capture_output=True, text=True,
                          env={**os.environ, "ONEDNN_VERBOSE": "1"})
    lines = done.stdout.splitlines()
    per_step, step_ms, precision = primitive_times(lines, args.steps)
    onednn_ms = sum(per_step.values())
    ranked = sorted(per_step.items(), key=lambda item: -item[1])
    ops = sorted(operator_times(lines).items(), key=lambda item: -item[1])
    print(f"precision {precision}; step {step_ms:.1f} ms, of which oneDNN {onednn_ms:.1f} ms")
    for name, ms in ranked:
        if ms >= 0.05:
            print(f"{ms:7.2f} ms  {name}")
    print("PyTorch operators, self time per profiled step (the profiler adds its own overhead):")
    for name, ms in ops:
        if ms >= 0.2:
            print(f"{ms:7.2f} ms  {name}")
    if args.json:
        from cae.infra.runtime import cpu_flags, cpu_name

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "cpu": cpu_name(), "cpu_flags": cpu_flags(), "dataset": args.dataset,
            "precision": precision, "kernels": args.kernels, "steps": args.steps, "step_ms": step_ms,
            "onednn_ms": onednn_ms, "primitives_ms_per_step": dict(ranked),
            "operators_self_ms_per_step": dict(ops)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
