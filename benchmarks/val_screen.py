"""Screen open choices on the val split only: phase 1 with config overrides, then (a)-(c) on val.

Usage: python benchmarks/val_screen.py '{"temperature": 0.2}' [--data-dir DIR] [--epochs 30]
Prints one line: the overrides, training seconds, val accuracy of each protocol, last NT-Xent.
The test split is never touched, so choices made from this screen do not leak it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from cae.config import make_config
from cae.data.datasets import load
from cae.evaluation.scoring import protocol_rows
from cae.infra.runtime import encode, resolve_device
from cae.method.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", help="JSON object of RunConfig fields")
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    overrides = json.loads(args.overrides)
    cfg = make_config("quick", data_dir=args.data_dir, progress=False, epochs=args.epochs,
                      warmup_epochs=args.epochs, lr_warmup_epochs=max(1, args.epochs // 10),
                      **overrides)
    data = load(cfg)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        state = train(cfg, data, run_dir)
    seconds = time.perf_counter() - started
    device = resolve_device(cfg.device)
    h = {s: encode(state.nets.encoder, data.splits[s].images, device) for s in ("train", "val")}
    rows = protocol_rows("screen", h["train"], data, {"val": h["val"]},
                         state.nets.prototypes.cpu(), cfg)
    print(json.dumps({"overrides": overrides, "train_s": round(seconds),
                      "val_accuracy": {r["protocol"]: round(r["accuracy"], 3) for r in rows},
                      "last_nt_xent": round(state.history["nt_xent"][-1], 3)}))


if __name__ == "__main__":
    main()
