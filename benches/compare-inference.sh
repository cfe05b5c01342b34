#!/usr/bin/env bash
# Inference speed, side by side in one run: picocnn's `classify` (the criterion bench
# benches/classify.rs) and TFLite's int8 interpreter (benches/peers/tflite_infer.py, with
# its default XNNPACK delegate and with builtin kernels only), one image at a time on one
# thread, for both variants; prints microseconds per image and the ratios.
#
#   benches/compare-inference.sh [--rounds N] [--runs N] [--keras-models DIR]
#                                [--dataset mnist|fashion] [--data DIR] [--keep DIR]
#
# The two sides alternate for --rounds rounds (default 3) and each side's best round is
# kept, so a burst of load on a shared machine does not land on one side only.
# --keras-models DIR: convert DIR/keras-{A,B}.keras (from keras_train.py --save) for TFLite
# instead of training each variant for one epoch here. The weights' values change neither
# engine's time, only the accuracies TFLite reports.
# picocnn's figure is the time criterion prints (its slope estimate); TFLite's is the
# median of --runs invokes and includes Python's call overhead (measured, printed, ~3 us).
# The bench reads $PICOCNN_BENCH_WEIGHTS_DIR/{nopool,pool}.bin when set, else synthetic
# weights (see benches/classify.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

rounds=3 runs=5000 models='' dataset=mnist data=${PICOCNN_DATA:-data} keep=''
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keras-models) models=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

py=$(scripts/peers-venv.sh | tail -n1)
target=${CARGO_TARGET_DIR:-target}
use_out_dir "$keep"

echo "building the classify bench..." >&2
run_logged "$out/build.log" "$out/build.err" cargo bench --locked --bench classify --no-run

# Converts each variant once (round 1 also reports TFLite's accuracy and size).
for variant in A B; do
  flag=()
  [ "$variant" = B ] && flag=(--pooling)
  model=() source="after one epoch of Keras"
  if [ -n "$models" ]; then
    model=(--model "$models/keras-$variant.keras") source="from $models/keras-$variant.keras"
  fi
  echo "variant $variant: converting to TFLite int8 ($source)..." >&2
  run_logged "$out/tflite-$variant-r1.jsonl" "$out/tflite-$variant-r1.err" "$py" benches/peers/tflite_infer.py \
    "${flag[@]}" "${model[@]}" --dataset "$dataset" --data "$data" --runs "$runs" \
    --save-tflite "$out/$variant.tflite"
done

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; a busy machine skews both sides)" >&2
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: picocnn (criterion)..." >&2
  stamp=$out/.round-$round
  touch "$stamp"
  run_logged "$out/criterion-r$round.log" "$out/criterion-r$round.err" \
    cargo bench --locked --bench classify -- --noplot --warm-up-time 1 --measurement-time 3
  # Criterion leaves <target>/criterion/classify/<variant>/new/{benchmark,estimates}.json.
  "$py" - "$target/criterion" "$stamp" "$out" "$round" <<'EOF'
import json, os, sys
root, stamp, out, rnd = sys.argv[1], os.path.getmtime(sys.argv[2]), sys.argv[3], sys.argv[4]
names = {"nopool": "A", "pool": "B"}  # Variant::name() in picocnn
found = 0
for bench, v in names.items():
    new = os.path.join(root, "classify", bench, "new")
    est = os.path.join(new, "estimates.json")
    if not os.path.exists(est) or os.path.getmtime(est) < stamp:
        continue
    e = json.load(open(est))
    # The figure criterion prints: the slope of its linear sampling, else the mean.
    headline = (e.get("slope") or e["mean"])["point_estimate"]
    record = {"id": f"classify/{bench}", "ns": headline, "median_ns": e["median"]["point_estimate"]}
    # The least-disturbed sample (each is the mean of a batch of calls), to set beside
    # TFLite's fastest single call when the machine is busy.
    sample = json.load(open(os.path.join(new, "sample.json")))
    record["best_sample_ns"] = min(t / i for t, i in zip(sample["times"], sample["iters"]))
    json.dump(record, open(os.path.join(out, f"criterion-{v}-r{rnd}.json"), "w"))
    found += 1
if found == 0:
    sys.exit(f"error: no fresh classify/{{nopool,pool}} results under {root}")
EOF
  if [ "$round" -gt 1 ]; then
    for variant in A B; do
      flag=()
      [ "$variant" = B ] && flag=(--pooling)
      echo "round $round/$rounds: TFLite variant $variant..." >&2
      run_logged "$out/tflite-$variant-r$round.jsonl" "$out/tflite-$variant-r$round.err" "$py" \
        benches/peers/tflite_infer.py "${flag[@]}" --tflite "$out/$variant.tflite" --dataset "$dataset" \
        --data "$data" --runs "$runs"
    done
  fi
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
"$py" benches/peers/tables.py inference "$out"
