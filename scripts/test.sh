#!/usr/bin/env bash
# Runs every check picocnn has, on a fresh machine too: installs what is missing, fetches
# the datasets if absent, then formatting, lints, unit/property/integration tests on real
# MNIST and Fashion-MNIST, the portable (scalar) build, the no-AVX2 CPU check, the bare-metal
# builds and the QEMU firmware check, bench compilation and rustdoc. Exits non-zero on the
# first failure; the last line counts the steps.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
# CI must not skip the AVX2 kernel comparisons silently.
export PICOCNN_REQUIRE_AVX2=1
passed=0
step() {
  local name=$1
  shift
  echo
  echo "=== $name"
  local start=$SECONDS
  "$@"
  passed=$((passed + 1))
  echo "=== $name: ok ($((SECONDS - start)) s)"
}

step "setup" scripts/setup.sh
step "datasets" scripts/fetch-data.sh data
step "rustfmt" cargo fmt --all --check
step "clippy (host)" cargo clippy --workspace --all-targets --locked -- -D warnings
step "clippy (core, thumbv7em)" cargo clippy -p picocnn --target thumbv7em-none-eabihf --locked -- -D warnings
step "release binaries" cargo build --release --workspace --bins --locked
step "tests" cargo test --workspace --locked

# The portable build: no AVX2 compiled in, the scalar kernels only. Its tests run the same
# training code paths; the binary must run on a CPU without AVX (emulated by QEMU user mode).
# Both in release, so the binary reuses the tests' compiled crates (one build, not two).
portable() {
  RUSTFLAGS="-C target-cpu=x86-64" cargo test --release -p trainer --locked --target-dir target/portable
  RUSTFLAGS="-C target-cpu=x86-64" cargo build --release -p trainer --locked --target-dir target/portable
}
step "portable (scalar) build and tests" env PICOCNN_REQUIRE_AVX2=0 bash -c "$(declare -f portable); portable"

# On a CPU without AVX2 the AVX2 build must refuse with one line and exit 2, never SIGILL;
# the portable build must run.
no_avx2_cpu() {
  local rc=0 err
  err=$(qemu-x86_64 -cpu Nehalem target/release/trainer --help 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
    echo "AVX2 build on a Nehalem CPU: expected exit 2 and one line, got $rc: $err" >&2
    return 1
  fi
  echo "AVX2 build on Nehalem: exit 2, '$err'"
  qemu-x86_64 -cpu Nehalem target/portable/release/trainer --help >/dev/null
  echo "portable build on Nehalem: runs"
}
step "no-AVX2 CPU (QEMU Nehalem)" no_avx2_cpu

thumb() {
  for t in thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi; do
    cargo build -p picocnn --release --target "$t" --locked
  done
}
step "core on thumbv7em, thumbv7m, thumbv6m" thumb
step "firmware under QEMU vs host" scripts/firmware-check.sh
step "fuzzing (bounded)" scripts/fuzz.sh
step "benches compile" cargo bench --workspace --no-run --locked
step "rustdoc" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

echo
echo "checks: $passed passed, 0 failed"
