#!/usr/bin/env bash
# Training speed, side by side in one run: picocnn's trainer and Keras/TensorFlow train
# the same two CNNs (A: no pooling, B: --pooling) at batch 32 on the same IDX files, one
# after the other (never concurrently: the machine has 2 cores), and the script prints
# seconds per epoch and the ratio ours/Keras per variant.
#
#   benches/compare-training.sh [--epochs N] [--rounds N] [--dataset mnist|fashion]
#                               [--seed N] [--threads N] [--data DIR] [--keep DIR]
#                               [--augment PRESET[,PRESET...]]
#
# --augment times picocnn's trainer with each preset named (none, light, strong; Keras
# stays without augmentation), one after the other within every round, so the table shows
# the ratio to Keras per preset and what the on-the-fly transforms add to our epoch
# (the "vs none" column, when none is among them).
# Epoch time is the training pass alone (the trainer's history `seconds`; for Keras the
# time from the epoch's start to the start of its validation pass), the median over the
# epochs run. Keras's first epoch includes tracing its training step (about a second).
# With --rounds N (default 1) the whole sequence repeats and each side's best round counts,
# so a burst of load from other work on the machine does not land on one side only.
# Needs the data (scripts/fetch-data.sh) and the peers venv (scripts/peers-venv.sh,
# called here; it installs on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

epochs=1 rounds=1 dataset=mnist seed=0 threads=2 data=${PICOCNN_DATA:-data} keep='' augment=none
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --augment) augment=$2; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for preset in ${augment//,/ }; do
  case $preset in
    none | light | strong) ;;
    *) echo "error: --augment takes none, light or strong, comma-separated; not '$preset'" >&2; exit 2 ;;
  esac
done

py=$(scripts/peers-venv.sh | tail -n1)
echo "building the trainer (release)..." >&2
cargo build --release --locked -p trainer --quiet
trainer=${CARGO_TARGET_DIR:-target}/release/trainer

use_out_dir "$keep"

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; a busy machine skews both sides)" >&2
for round in $(seq 1 "$rounds"); do
  for variant in A B; do
    flag=()
    [ "$variant" = B ] && flag=(--pooling)
    tag=$variant-r$round
    for preset in ${augment//,/ }; do
      echo "round $round/$rounds, variant $variant: picocnn trainer --augment $preset, $epochs epoch(s)..." >&2
      run_logged "$out/ours-$tag-$preset.log" "$out/ours-$tag-$preset.err" "$trainer" "${flag[@]}" \
        --dataset "$dataset" --data "$data" --epochs "$epochs" --seed "$seed" --threads "$threads" \
        --augment "$preset" --out "$out/ours-$tag-$preset.bin"
    done
    echo "round $round/$rounds, variant $variant: Keras, $epochs epoch(s)..." >&2
    run_logged "$out/keras-$tag.jsonl" "$out/keras-$tag.err" "$py" benches/peers/keras_train.py \
      "${flag[@]}" --dataset "$dataset" --data "$data" --epochs "$epochs" --seed "$seed" --threads "$threads"
  done
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
echo "dataset $dataset, seed $seed, $threads threads, $epochs epoch(s) per variant, picocnn --augment ${augment//,/ | }"
"$py" benches/peers/tables.py training "$out"
