#!/usr/bin/env bash
# The val screen of the method chapter: the quick profile on one dataset, one setting
# changed at a time from the paper-faithful config, each run trained and scored into
# artifacts/screen/<dataset>-quick-<name>-seed0/. MNIST holds out 10,000 training images
# as its val split (val_holdout); choices are read from val only. Finished runs are reused.
#
# Usage: [DATASET=mnist] [DATA_DIR=DIR] [VARIANTS="base noflip"] scripts/run_screen.sh
#   about 9 min per MNIST run (training) + scoring on a 2-core CPU
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dataset=${DATASET:-mnist}
data=()
if [ -n "${DATA_DIR:-}" ]; then
    data=(--data-dir "$DATA_DIR")
fi
declare -A settings=(
    [base]=""
    [noflip]="hflip=false"
    [t0.2]="temperature=0.2"
    [t0.1]="temperature=0.1"
    [rot15]="rotation_degrees=15"
    [wide]="channels=32,64,128"
)
variants=${VARIANTS:-"base noflip t0.2 t0.1 rot15 wide"}

for name in $variants; do
    set_args=(--set val_holdout=10000)
    if [ -n "${settings[$name]}" ]; then
        set_args+=(--set "${settings[$name]}")
    fi
    .venv/bin/cae reproduce --dataset "$dataset" --profile quick --seed 0 "${set_args[@]}" \
        --no-baselines --no-floors --resume --quiet "${data[@]}" \
        --run-dir "artifacts/screen/$dataset-quick-$name-seed0"
done
