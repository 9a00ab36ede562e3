#!/usr/bin/env bash
# Execute the book's notebooks with papermill into an output folder (default
# _build/executed/), never over the committed notebooks/*.ipynb.
#
# The book renders the outputs stored in notebooks/*.ipynb, executed against the
# committed paper-profile runs in artifacts/ (scripts/publish_notebooks.py copies executed
# notebooks there). This script therefore does nothing unless PROFILE is set, so the call
# from scripts/build_book.sh neither executes nor trains anything.
#
# Usage: PROFILE=smoke|quick|paper [SEED=0] [DATA_DIR=DIR] [RUNS_ROOT=artifacts]
#        [DEVICE=auto] [RETRAIN=false] [OUT_DIR=_build/executed] [ALLOW_TRAINING=0]
#        scripts/execute_notebooks.sh [NOTEBOOK ...]
#   PROFILE     run profile passed to every notebook (required)
#   SEED        seed of the runs of notebooks 01-03 (04 collects every seed; 05, every run)
#   DATA_DIR    folder holding MNIST/raw/ and medmnist/ (default: $CAE_DATA_DIR, else caches)
#   RUNS_ROOT   folder of run directories <dataset>-<profile>-seed<seed> (default artifacts/)
#   DEVICE      auto, cpu, cuda
#   RETRAIN     true: train again even where a finished run exists
#   OUT_DIR     where the executed copies go (must not be notebooks/)
#   ALLOW_TRAINING  1: let a non-smoke profile train missing runs inside the notebooks
#                   (hours for paper; better run `cae reproduce` first)
#   NOTEBOOK    names such as 01_mnist (default: all five, in reading order)
# Example (CI): PROFILE=smoke DATA_DIR=/data RUNS_ROOT=$(mktemp -d) scripts/execute_notebooks.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ -z "${PROFILE:-}" ]; then
    echo "execute_notebooks.sh: PROFILE not set, nothing executed: the book shows the outputs" \
         "stored in notebooks/*.ipynb (set PROFILE=smoke|quick|paper to execute into _build/executed/)"
    exit 0
fi

python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || { echo "execute_notebooks.sh: $python not found; run scripts/setup.sh (or set PYTHON)" >&2; exit 1; }

seed="${SEED:-0}"
runs_root="$(realpath -m "${RUNS_ROOT:-artifacts}")"
out_dir="$(realpath -m "${OUT_DIR:-_build/executed}")"
retrain="${RETRAIN:-false}"
case "$retrain" in true|True|1) retrain=True ;; false|False|0) retrain=False ;;
    *) echo "execute_notebooks.sh: RETRAIN must be true or false, got $retrain" >&2; exit 2 ;; esac
if [ "$out_dir" = "$root/notebooks" ]; then
    echo "execute_notebooks.sh: OUT_DIR must not be notebooks/ (scripts/publish_notebooks.py copies executed notebooks there)" >&2
    exit 2
fi

notebooks=("$@")
[ ${#notebooks[@]} -gt 0 ] || notebooks=(01_mnist 02_pneumoniamnist 03_baselines 04_table1 05_gallery)

# the dataset each run notebook trains or reads (their `dataset` parameter's default)
declare -A dataset_of=([01_mnist]=mnist [02_pneumoniamnist]=pneumoniamnist [03_baselines]=pneumoniamnist)

if [ "$PROFILE" != smoke ] && [ "${ALLOW_TRAINING:-0}" != 1 ]; then
    [ "$retrain" = False ] || { echo "execute_notebooks.sh: RETRAIN=true with profile $PROFILE" \
        "trains for a long time; set ALLOW_TRAINING=1 to do it anyway" >&2; exit 2; }
    for nb in "${notebooks[@]}"; do
        dataset="${dataset_of[$nb]:-}"
        [ -n "$dataset" ] || continue
        run="$runs_root/$dataset-$PROFILE-seed$seed"
        [ -f "$run/provenance.json" ] || { echo "execute_notebooks.sh: $nb needs the finished run" \
            "$run, which is missing; create it with \`cae reproduce --dataset $dataset --profile" \
            "$PROFILE --seed $seed --run-dir $run\` or set ALLOW_TRAINING=1" >&2; exit 1; }
    done
fi

# papermill runs the kernel named python3: make it this environment's interpreter
"$python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cae)" >/dev/null

run_params=(-p profile "$PROFILE" -p seed "$seed" -p runs_root "$runs_root" -p retrain "$retrain")
[ -z "${DATA_DIR:-}" ] || run_params+=(-p data_dir "$(realpath -m "$DATA_DIR")")
[ -z "${DEVICE:-}" ] || run_params+=(-p device "$DEVICE")
table_params=(-p profile "$PROFILE" -p runs_root "$runs_root")
gallery_params=(-p runs_root "$runs_root")  # the gallery shows every profile's runs

mkdir -p "$out_dir"
for nb in "${notebooks[@]}"; do
    source="notebooks/$nb.ipynb"
    [ -f "$source" ] || { echo "execute_notebooks.sh: $source not found" >&2; exit 1; }
    if [ -n "${dataset_of[$nb]:-}" ]; then params=("${run_params[@]}")
    elif [ "$nb" = 05_gallery ]; then params=("${gallery_params[@]}")
    else params=("${table_params[@]}"); fi
    echo "== $nb (profile $PROFILE) -> ${out_dir#$root/}/$nb.ipynb"
    start=$(date +%s)
    "$python" -m papermill "$source" "$out_dir/$nb.ipynb" --kernel python3 --language python \
        --cwd notebooks --no-progress-bar "${params[@]}"
    echo "   done in $(( $(date +%s) - start )) s"
done
