#!/usr/bin/env bash
# Inference speed, side by side in one run: picocnn's `classify` (the criterion bench
# benches/classify.rs) and TFLite's int8 interpreter (benches/peers/tflite_infer.py, with
# its default XNNPACK delegate and with builtin kernels only), one image at a time on one
# thread, for both variants; prints microseconds per image and the ratios.
#
#   benches/compare-inference.sh [--runs N] [--keras-models DIR] [--dataset mnist|fashion]
#                                [--data DIR] [--keep DIR]
#
# --keras-models DIR: use DIR/keras-{A,B}.keras (from keras_train.py --save) for TFLite
# instead of training each variant for one epoch here. The weights' values do not change
# the timing of either engine; they only change the accuracies TFLite reports.
# picocnn's figure is the time criterion prints (its slope estimate); TFLite's is the
# median of --runs invokes and includes Python's call overhead (measured, printed, ~3 us).
# The bench reads $PICOCNN_BENCH_WEIGHTS_DIR/{nopool,pool}.bin when set, else synthetic
# weights (see benches/classify.rs); the time does not depend on the weights' values.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5000 models= dataset=mnist data=${PICOCNN_DATA:-data} keep=
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --keras-models) models=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

py=$(scripts/peers-venv.sh | tail -n1)
target=${CARGO_TARGET_DIR:-target}
if [ -n "$keep" ]; then
  mkdir -p "$keep"
  out=$keep
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; a busy machine skews both sides)" >&2
echo "picocnn: cargo bench --bench classify ..." >&2
stamp=$out/.bench-start
touch "$stamp"
if ! cargo bench --locked --bench classify -- --noplot >"$out/criterion.log" 2>&1; then
  echo "error: cargo bench --bench classify failed; last lines:" >&2
  tail -n 15 "$out/criterion.log" >&2
  exit 1
fi
# Criterion leaves <target>/criterion/<group>/<bench>/new/{benchmark,estimates}.json;
# take this run's ones and file them under the variant their id names.
"$py" - "$target/criterion" "$stamp" "$out" <<'EOF'
import json, os, re, sys
root, stamp, out = sys.argv[1], os.path.getmtime(sys.argv[2]), sys.argv[3]
def variant(full_id):
    words = re.split(r"[/_\- ]+", full_id.lower())
    if "a" in words or "nopool" in words or "no" in words and "pool" in words:
        return "A"
    if "b" in words or "pool" in words or "pooling" in words:
        return "B"
    return None
found = {}
for dirpath, _, files in os.walk(root):
    if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
        continue
    est = os.path.join(dirpath, "estimates.json")
    if os.path.getmtime(est) < stamp:
        continue
    full_id = json.load(open(os.path.join(dirpath, "benchmark.json")))["full_id"]
    v = variant(full_id)
    if v is None or not full_id.lower().startswith("classify"):
        print(f"note: criterion bench {full_id!r} is not a classify/<variant> bench, ignored", file=sys.stderr)
        continue
    if v in found:
        print(f"note: {full_id!r} and {found[v]['id']!r} both look like variant {v}; keeping the first", file=sys.stderr)
        continue
    e = json.load(open(est))
    # The figure criterion prints: the slope of its linear sampling, else the mean.
    headline = (e.get("slope") or e["mean"])["point_estimate"]
    found[v] = {"id": full_id, "ns": headline, "median_ns": e["median"]["point_estimate"]}
    json.dump(found[v], open(os.path.join(out, f"criterion-{v}.json"), "w"))
if not found:
    sys.exit("error: no classify bench results found under " + root)
EOF

for variant in A B; do
  flag=()
  [ "$variant" = B ] && flag=(--pooling)
  model=()
  if [ -n "$models" ]; then
    model=(--model "$models/keras-$variant.keras")
  fi
  echo "variant $variant: TFLite int8 (XNNPACK and builtin)..." >&2
  if ! "$py" benches/peers/tflite_infer.py "${flag[@]}" "${model[@]}" --dataset "$dataset" --data "$data" \
    --runs "$runs" >"$out/tflite-$variant.jsonl" 2>"$out/tflite-$variant.err"; then
    echo "error: tflite_infer.py failed for variant $variant; last lines:" >&2
    tail -n 15 "$out/tflite-$variant.err" >&2
    exit 1
  fi
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo
"$py" benches/peers/tables.py inference "$out"
