"""Wall time of one training run (both phases, elbow included) of `cae`, as JSON.

Usage: python benchmarks/train_time.py --dataset mnist --profile paper --device cuda
       --data-dir DIR --run-dir runs/gpu-mnist-paper --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cae import pipeline
from cae.config import make_config
from cae.data.datasets import load
from cae.infra.files import report_json
from cae.infra.runtime import cpu_name, peak_rss_mb, resolve_device, resolve_precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()

    cfg = make_config(args.profile, dataset=args.dataset, data_dir=args.data_dir,
                      device=args.device, progress=False)
    device = resolve_device(cfg.device)
    started = time.perf_counter()
    data = load(cfg)
    loaded = time.perf_counter()
    pipeline.train_run(cfg, data, args.run_dir)
    done = time.perf_counter()
    result = {
        "dataset": cfg.dataset, "profile": cfg.profile, "epochs": cfg.epochs,
        "train_images": len(data.splits["train"]), "batch_size": cfg.batch_size,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "precision": resolve_precision(cfg.precision, device), "torch": torch.__version__,
        "load_s": loaded - started, "train_s": done - loaded,
        "elbow_k": json.loads((args.run_dir / "elbow.json").read_text())["k"],
        "peak_rss_mb": peak_rss_mb(),
    }
    report_json(result, args.json)


if __name__ == "__main__":
    main()
