#!/usr/bin/env bash
# The loss ablation of the method chapter: the paper profile on one dataset with the
# autoencoder alone (contrastive_weight = 0), with NT-Xent alone (alpha = 0) and with
# the variational encoder (variational = true: both losses plus a KL term), one run per
# seed, into artifacts/ablation/. The combination is the paper-profile runs in
# artifacts/ (same seeds); notebooks/04_table1 reads both. Finished runs are reused.
#
# Usage: [SEEDS="0 1 2"] [DATASET=pneumoniamnist] [DATA_DIR=DIR] scripts/run_ablation.sh
#   SEEDS     seeds to run (default 0 1 2; about 5 min per run on a 2-core CPU)
#   DATASET   dataset (default pneumoniamnist)
#   DATA_DIR  folder holding medmnist/ and MNIST/raw/ (default: $CAE_DATA_DIR, else caches)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seeds=${SEEDS:-"0 1 2"}
dataset=${DATASET:-pneumoniamnist}
data=()
if [ -n "${DATA_DIR:-}" ]; then
    data=(--data-dir "$DATA_DIR")
fi

for seed in $seeds; do
    for variant in "autoencoder contrastive_weight=0" "contrastive alpha=0" \
                   "variational variational=true"; do
        read -r name setting <<< "$variant"
        .venv/bin/cae reproduce --dataset "$dataset" --profile paper --seed "$seed" \
            --set "$setting" --no-baselines --no-floors --quiet "${data[@]}" \
            --run-dir "artifacts/ablation/$dataset-paper-$name-seed$seed"
    done
done
