#!/usr/bin/env bash
# One GPU session's measurements, in one run of under ten minutes:
#   1. phase-1 throughput on CUDA: the usual pipeline against this project's step in
#      bf16 (auto) and fp32, each eager and under torch.compile (benchmarks/throughput.py);
#   2. an MNIST paper-profile training run, both phases, with its wall time
#      (benchmarks/train_time.py).
# Each writes JSON under $OUT_DIR (default benchmarks/results/), named after the device.
#
# Usage: DATA_DIR=DIR bash benchmarks/gpu.sh             on a machine with a CUDA GPU
#        DATA_DIR=DIR bash benchmarks/gpu.sh --dry-run   anywhere: the same steps on the
#            CPU with 2 timed steps, one round, the smoke profile and no compile (checks the script)
# DATA_DIR holds medmnist/pneumoniamnist.npz and MNIST/raw/ (as ../shared/data does).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT_DIR=${OUT_DIR:-benchmarks/results}
: "${DATA_DIR:?set DATA_DIR to the folder holding medmnist/ and MNIST/}"

if [[ "${1:-}" == "--dry-run" ]]; then
  device=cpu steps=2 repeats=1 profile=smoke compile=() name=dry-run
  bench_dataset=${BENCH_DATASET:-pneumoniamnist}
else
  device=cuda steps=50 repeats=1 profile=paper compile=(--compile) bench_dataset=pneumoniamnist
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr -c 'A-Za-z0-9\n' - | tr A-Z a-z)
fi
mkdir -p "$OUT_DIR"
echo "== throughput, $device ($name)"
"$PY" benchmarks/throughput.py --data-dir "$DATA_DIR" --dataset "$bench_dataset" --device "$device" \
  --steps "$steps" --repeats "$repeats" "${compile[@]}" --json "$OUT_DIR/$name-throughput.json"
echo "== MNIST $profile-profile training, $device"
run_dir=$(mktemp -d)
"$PY" benchmarks/train_time.py --dataset mnist --profile "$profile" --device "$device" \
  --data-dir "$DATA_DIR" --run-dir "$run_dir" --json "$OUT_DIR/$name-mnist-$profile-train.json"
rm -rf "$run_dir"
