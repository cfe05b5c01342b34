#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes for a fixed number of executions: the IDX reader
# (raw and gzip), Model::from_bytes on arbitrary bytes, from_bytes + classify on mutations
# of a valid exported model (CRC fixed, so edits reach the value checks), the f32
# checkpoint reader, the resume-file reader (--resume), and firmware-sim's image reader
# (IDX, PNG, PGM).
#
#   scripts/fuzz.sh            # the CI budget: about a minute of fuzzing in all
#   FUZZ_SCALE=20 scripts/fuzz.sh   # 20x as many executions
#   FUZZ_SECONDS=600 scripts/fuzz.sh  # instead, run each target for 600 s
#
# Any crash stops the script (non-zero exit) and leaves the input under
# fuzz/artifacts/<target>/; make it a regression test before fixing it.
#
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them. No sanitizer: the code is safe Rust, so a sanitizer adds no checks
# worth its 3x slowdown; overflow checks and debug assertions are on (-a). Allocation
# limits are enforced instead by capping the address space (ulimit -v): the IDX reader
# must never allocate more than its input can hold, and a 4 KB input cannot justify 1 GB.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC_BOOTSTRAP=1
unset CARGO_TARGET_DIR # cargo-fuzz builds into fuzz/target
scale=${FUZZ_SCALE:-1}
seconds=${FUZZ_SECONDS:-0}

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cd fuzz
cargo fuzz build -a -s none
# The starting corpus (a real exported model and small IDX files) is regenerated each time.
# A debug build: it compiles in half the time of a release one, and seeding is quick.
cargo run --quiet --example make_seeds -- corpus

# target, executions at scale 1, libFuzzer options
run() {
  local target=$1 runs=$(($2 * scale))
  shift 2
  local budget=(-runs="$runs")
  if [ "$seconds" -gt 0 ]; then budget=(-max_total_time="$seconds"); fi
  echo "--- fuzz $target: ${budget[*]}"
  local start=$SECONDS log
  log=$(mktemp)
  if ! (ulimit -v 2000000 && cargo fuzz run -a -s none "$target" "corpus/$target" -- \
    "${budget[@]}" -print_final_stats=1 "$@" >"$log" 2>&1); then
    # The panic message comes before the long backtrace that the tail shows.
    grep -m1 -A3 'panicked at' "$log" || true
    tail -n 40 "$log"
    rm -f "$log"
    echo "fuzz $target: FAILED; the input is under fuzz/artifacts/$target/" >&2
    return 1
  fi
  local execs
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rm -f "$log"
  echo "fuzz $target: $execs executions, no crash ($((SECONDS - start)) s)"
}

run idx 200000 -max_len=4096
run model_bytes 20000
run model_mutate 3000 -max_len=1200
run checkpoint 20000
run resume 500
run image_file 5000 -max_len=8192
