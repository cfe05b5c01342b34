#!/usr/bin/env bash
# Accuracy over seeds, as issue 16 asks its figures: trains one setting with each seed,
# checks every model with `firmware-sim verify` (the core's integer logits against the host
# on the whole test set, and on the held-out font digits for MNIST), and prints a Markdown
# row per seed and one with the medians.
#
#   benches/accuracy-seeds.sh NAME SEEDS [--keep DIR] [--data DIR] -- TRAINER-OPTIONS...
#
#   benches/accuracy-seeds.sh bl15 0,1,2,3,4 -- --pooling --epochs 15 --augment light \
#       --lr-schedule cosine
#
# Models go to DIR/NAME-sSEED.bin (default DIR: out/seeds) and are reused when present, so
# an interrupted sweep continues where it stopped. Training uses 2 threads; a model's
# bytes depend on the seed and the thread count only.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh

if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
name=$1 seeds=$2
shift 2
keep=out/seeds data=${PICOCNN_DATA:-data}
while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "error: unknown option $1 (trainer options go after --)" >&2; exit 2 ;;
  esac
done
use_out_dir "$keep"
cargo build --release --locked -q --workspace --bins

echo "| run | f32 % | core int8 % | held-out int8 % | logits identical |"
echo "|---|---|---|---|---|"
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for seed in ${seeds//,/ }; do
  model="$out/$name-s$seed.bin"
  if [ ! -f "$model" ]; then
    run_logged "$out/$name-s$seed.train.log" "$out/$name-s$seed.train.err" \
      target/release/trainer "$@" --seed "$seed" --threads 2 --data "$data" --out "$model"
  fi
  log="$out/$name-s$seed.verify.log"
  run_logged "$log" "$log.err" target/release/firmware-sim verify --weights "$model" --data "$data"
  # "accuracy: core int8 99.21 %, host int8 reference 99.21 %, host f32 99.21 %"
  int8=$(sed -n 's/^accuracy: core int8 \([0-9.]*\) %.*/\1/p' "$log")
  f32=$(sed -n 's/^accuracy: .*host f32 \([0-9.]*\) %.*/\1/p' "$log")
  heldout=$(sed -n 's/^held-out .*: core int8 \([0-9.]*\) %.*/\1/p' "$log")
  identical=$(grep -o 'integer logits identical: [0-9]*/[0-9]*' "$log" | cut -d' ' -f4 | paste -sd' ')
  echo "| $name-s$seed | $f32 | $int8 | ${heldout:--} | $identical |"
  echo "$f32 $int8 ${heldout:-nan}" >>"$rows"
done
# Medians (the middle value, or the mean of the two middle ones).
median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) printf "%.2f", v[(NR+1)/2]; else printf "%.2f", (v[NR/2]+v[NR/2+1])/2}'; }
n=$(wc -l <"$rows")
m_f32=$(cut -d' ' -f1 "$rows" | median)
m_int8=$(cut -d' ' -f2 "$rows" | median)
m_held=-
if grep -qv ' nan$' "$rows"; then
  m_held=$(cut -d' ' -f3 "$rows" | median)
fi
drop=$(awk '{d=$1-$2; if (d>m) m=d} END {printf "%.2f", m+0}' "$rows")
echo "| **$name median of $n** | **$m_f32** | **$m_int8** | $m_held | largest int8 drop $drop pp |"
