#!/usr/bin/env bash
# The selection screen (issue 22): does training help on medical images? The validated
# profile on one dataset, one change at a time, each run trained on train less a stratified
# 10% selection split and scored on that split only, beside its floors (raw pixels and the
# untrained encoder of the same seed); the official val and test splits are never read.
# Runs go to artifacts/selection-screen/<dataset>-validated-<name>-seed<seed>/; finished
# runs are reused, so the script can be stopped and rerun.
#
# Usage: [DATASET=pneumoniamnist] [SEEDS="0"] [VARIANTS="base steps7500"] [BEST2="..."] [DATA_DIR=DIR]
#        scripts/run_selection_screen.sh
#   PneumoniaMNIST on a 2-core CPU: about 4 min for base, 13 min for steps7500 and batch1024
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dataset=${DATASET:-pneumoniamnist}
data=()
if [ -n "${DATA_DIR:-}" ]; then
    data=(--data-dir "$DATA_DIR")
fi
# base: the validated profile at its 100 epochs (1,600 steps at batch 256 on PneumoniaMNIST);
# batch1024 keeps base's step budget (4x the images a step, so 4x the compute)
declare -A settings=(
    [base]=""
    [steps7500]="min_steps=7500"
    [batch1024]="batch_size=1024 min_steps=1600"
    [crop0.2]="crop_scale=0.2,1.0"
    [jitter0.4]="intensity_jitter=0.4"
    [authors_encoder]="channels=32,64,128 encoder_batch_norm=true"
    [best2]="${BEST2:-}"  # the two best changes together, e.g. BEST2="min_steps=7500 crop_scale=0.2,1.0"
)
variants=${VARIANTS:-"base steps7500 batch1024 crop0.2 jitter0.4 authors_encoder"}

for seed in ${SEEDS:-0}; do
    for name in $variants; do
        set_args=(--set selection_fraction=0.1 --set score_on=selection)
        if [ -z "${settings[$name]+set}" ] || { [ "$name" = best2 ] && [ -z "${BEST2:-}" ]; }; then
            echo "unknown variant $name (or best2 without BEST2)" >&2
            exit 2
        fi
        for pair in ${settings[$name]}; do
            set_args+=(--set "$pair")
        done
        .venv/bin/cae reproduce --dataset "$dataset" --profile validated --seed "$seed" \
            "${set_args[@]}" --no-baselines --resume --quiet "${data[@]}" \
            --run-dir "artifacts/selection-screen/$dataset-validated-$name-seed$seed"
    done
done
