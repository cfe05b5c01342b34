#!/usr/bin/env bash
# The picocnn core on microcontrollers under QEMU, checked against the host.
#
# For each model variant (pool, nopool) and platform this builds the bare-metal firmware
# (firmware-sim/cortex-m) with the model and N test images linked in, runs it under QEMU
# with a timeout and an instruction-counting TCG plugin, and checks that every image's
# class and integer logits are identical to the host's (`firmware-sim classify --lines`,
# the same core on the host). Platforms:
#   m4f      mps2-an386 (Cortex-M4F), thumbv7em-none-eabihf, safe kernels
#   m4f-dsp  the same with the core's `dsp` feature (inline-assembly kernels)
#   m3       mps2-an385 (Cortex-M3), thumbv7m-none-eabi
#   m0       thumbv6m-none-eabi (Cortex-M0/M0+ code) run on mps2-an385
#   rv32     QEMU virt, riscv32imc-unknown-none-elf
# It prints flash (code, weights, test images) and RAM (static, deepest stack while
# loading and during inference, peak), and instructions executed per inference, per MAC
# and per MAC for each layer (conv with ReLU and pooling, hidden, output), and for
# `Model::from_bytes` with and without its CRC, counted exactly (the same on every run).
#
# Every build also links `panic-free`, a firmware whose panic handler calls a function
# defined nowhere and which feeds the weights and image through `black_box` to
# `from_bytes`, `from_trusted_bytes`, `infer` and `classify`: it links only if no panic
# is reachable from them. A model too large for a board's flash must fail the build with
# one line stating both sizes.
#
# Usage: scripts/firmware-check.sh [--pool FILE] [--nopool FILE] [--images N]
#                                  [--platforms LIST] [--data DIR]
#   --pool, --nopool  exported weights.bin of each variant (default: $PICOCNN_FW_POOL and
#                     $PICOCNN_FW_NOPOOL; if unset, a quick model is trained with the
#                     trainer CLI into target/firmware-check/, and retrained when the
#                     core no longer reads the one kept there)
#   --images N        test images linked in for m4f, m4f-dsp and m3 (default 100, the
#                     first N of the test set of the model's dataset); m0 and rv32 run
#                     the first min(N, 20)
#   --platforms LIST  comma-separated subset of m4f,m4f-dsp,m3,m0,rv32 (default: all)
#   --data DIR        dataset directory (default: $PICOCNN_DATA, else data)
# Exits non-zero on any difference, a failed build or link, a QEMU error or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start_time=$SECONDS

pool=${PICOCNN_FW_POOL:-}
nopool=${PICOCNN_FW_NOPOOL:-}
count=100
platforms=m4f,m4f-dsp,m3,m0,rv32
data=${PICOCNN_DATA:-data}
while [ $# -gt 0 ]; do
  case $1 in
    --pool) pool=$2; shift 2 ;;
    --nopool) nopool=$2; shift 2 ;;
    --images) count=$2; shift 2 ;;
    --platforms) platforms=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

work=$root/target/firmware-check
mkdir -p "$work"
qemu_timeout=${PICOCNN_FW_QEMU_TIMEOUT:-600}
for tool in qemu-system-arm qemu-system-riscv32 arm-none-eabi-size arm-none-eabi-nm \
  riscv64-unknown-elf-size riscv64-unknown-elf-nm gcc; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (run scripts/setup.sh)" >&2; exit 2; }
done

host_target=${CARGO_TARGET_DIR:-$root/target}
echo "firmware-check: building the host tools"
cargo build --release --locked -p firmware-sim -p trainer --bins --quiet
fwsim=$host_target/release/firmware-sim
trainer=$host_target/release/trainer

# A quick model when none is given: one epoch (about 20 s for pool, 75 s for nopool on
# two cores); the check is about identical arithmetic, not accuracy. Kept between runs,
# retrained when this core rejects it (e.g. an older format version).
quick_model() {
  local variant=$1 out=$work/quick-$1.bin
  if [ -f "$out" ] && ! "$fwsim" info --weights "$out" >/dev/null 2>&1; then
    echo "firmware-check: $out is not readable by this core; retraining" >&2
    rm -f "$out"
  fi
  if [ ! -f "$out" ]; then
    echo "firmware-check: training a quick $variant model ($out)" >&2
    local flags=()
    [ "$variant" = pool ] && flags+=(--pooling)
    "$trainer" --dataset mnist --data "$data" "${flags[@]}" --epochs 1 --out "$out" >&2
  fi
  echo "$out"
}
[ -n "$pool" ] || pool=$(quick_model pool)
[ -n "$nopool" ] || nopool=$(quick_model nopool)

gcc -O2 -Wall -Wextra -Wno-unused-parameter -shared -fPIC \
  -o "$work/insn_count.so" firmware-sim/cortex-m/plugin/insn_count.c

fw_dir=$root/firmware-sim/cortex-m
build_firmware() { # target features weights images labels [extra env...]
  local target=$1 features=$2 weights=$3 images=$4 labels=$5
  shift 5
  local flags=()
  [ -n "$features" ] && flags+=(--features "$features")
  env "$@" PICOCNN_FW_WEIGHTS="$weights" PICOCNN_FW_IMAGES="$images" \
    PICOCNN_FW_LABELS="$labels" CARGO_TARGET_DIR="$fw_dir/target" \
    cargo build --release --locked --quiet --manifest-path "$fw_dir/Cargo.toml" \
    --target "$target" --bins "${flags[@]}"
}

# Per platform: target, QEMU binary and board, cargo features, binutils prefix.
platform_target() {
  case $1 in
    m4f | m4f-dsp) echo thumbv7em-none-eabihf ;;
    m3) echo thumbv7m-none-eabi ;;
    m0) echo thumbv6m-none-eabi ;;
    rv32) echo riscv32imc-unknown-none-elf ;;
    *) echo "error: unknown platform $1" >&2; exit 2 ;;
  esac
}
platform_qemu() {
  case $1 in
    m4f | m4f-dsp) echo "qemu-system-arm -M mps2-an386" ;;
    m3 | m0) echo "qemu-system-arm -M mps2-an385" ;;
    rv32) echo "qemu-system-riscv32 -M virt -bios none" ;;
  esac
}
platform_features() { [ "$1" = m4f-dsp ] && echo dsp || true; }
binutils() { [ "$1" = rv32 ] && echo riscv64-unknown-elf || echo arm-none-eabi; }
platform_images() { case $1 in m0 | rv32) echo $((count < 20 ? count : 20)) ;; *) echo "$count" ;; esac; }

# The functions of each layer, as demangled symbol patterns; the plugin counts the
# instructions executed inside them (whatever they inline), group by group.
layer_names=(conv hidden output)
layer_patterns=(
  '^picocnn::(conv|pool)::'
  '^picocnn::(dense::hidden|dsp::hidden)'
  '^picocnn::(dense::output|dsp::output)'
)

# The firmware crate is outside the workspace, so the workspace's fmt and clippy runs miss it.
rustfmt --edition 2024 --check "$fw_dir/src/main.rs" "$fw_dir/src/bin/panic_free.rs" \
  "$fw_dir/src/board/arm.rs" "$fw_dir/src/board/riscv.rs" "$fw_dir/build.rs" \
  "$fw_dir/examples/minimal.rs"
first_images=$work/lint-images.idx
"$fwsim" cut --dataset "$("$fwsim" info --weights "$pool" | awk '$1 == "dataset:" { print $2 }')" \
  --data "$data" --index 0 --count 1 --out "$first_images" --labels "${first_images%.idx}-labels.idx" >/dev/null
for target in thumbv7em-none-eabihf riscv32imc-unknown-none-elf; do
  env PICOCNN_FW_WEIGHTS="$(realpath "$pool")" PICOCNN_FW_IMAGES="$first_images" \
    PICOCNN_FW_LABELS="${first_images%.idx}-labels.idx" CARGO_TARGET_DIR="$fw_dir/target" \
    cargo clippy --release --locked --quiet --manifest-path "$fw_dir/Cargo.toml" \
    --target "$target" --bins $([ "$target" = thumbv7em-none-eabihf ] && echo --examples) \
    -- -D warnings
done

failures=0
sizes=()
counts=()
links=()
run_one() { # variant weights platform
  local variant=$1 weights=$2 platform=$3
  local target features bu n
  target=$(platform_target "$platform")
  features=$(platform_features "$platform")
  bu=$(binutils "$platform")
  n=$(platform_images "$platform")
  local name=$variant-$platform
  local info dataset macs flat
  info=$("$fwsim" info --weights "$weights")
  dataset=$(awk '$1 == "dataset:" { print $2 }' <<<"$info")
  macs=$(awk '$1 == "macs:" { print $2 }' <<<"$info")
  if [ "$(awk '$1 == "variant:" { print $2 }' <<<"$info")" != "$variant" ]; then
    echo "error: $weights is not the $variant variant" >&2
    exit 2
  fi
  # MACs per layer: conv 26x26 positions x 32 filters x 9 taps, output 128 x 10.
  local conv_macs=$((26 * 26 * 32 * 9)) out_macs=$((128 * 10))
  local layer_macs=("$conv_macs" $((macs - conv_macs - out_macs)) "$out_macs")
  local images=$work/$dataset-$n.idx labels=$work/$dataset-$n-labels.idx
  [ -f "$images" ] && [ -f "$labels" ] ||
    "$fwsim" cut --dataset "$dataset" --data "$data" --index 0 --count "$n" \
      --out "$images" --labels "$labels" >/dev/null

  local build_log=$work/$name.build
  if ! build_firmware "$target" "$features" "$(realpath "$weights")" "$images" "$labels" \
    >"$build_log" 2>&1; then
    echo "FAIL $name: build or link failed$(grep -q picocnn_panic_is_reachable "$build_log" &&
      echo ": a panic is reachable from the core (panic-free did not link)"):" >&2
    grep -E 'error|undefined' "$build_log" | head -n 8 >&2
    failures=$((failures + 1))
    return
  fi
  local out_dir=$fw_dir/target/$target/release
  links+=("$(printf '%-7s %-8s %-28s panic-free linked (%d bytes of code with the core)' \
    "$variant" "$platform" "$target" \
    "$(($(${bu}-size -A "$out_dir/panic-free" | awk '$1 ~ /^\.(text|vector_table|init|rodata|data)/ { s += $2 } END { print s }') - $(stat -c %s "$weights") - 784 * n))")")
  local elf=$work/$name.elf
  cp "$out_dir/picocnn-firmware" "$elf"

  local symbols mark lo hi
  symbols=$(${bu}-nm -C -S --defined-only "$elf")
  mark=$(awk '/ picocnn_firmware::mark$/ { print "0x" $1 }' <<<"$symbols")
  lo=$(awk '$NF == "__sheap" { print "0x" $1 }' <<<"$symbols")
  hi=$(awk '$NF == "_stack_start" { print "0x" $1 }' <<<"$symbols")
  local plugin="$work/insn_count.so,mark=$mark,stack_lo=$lo,stack_hi=$hi,out=$work/$name.count"
  local g addr size
  for g in "${!layer_patterns[@]}"; do
    # nm -S lines: address size type name...; a layer is every function matching.
    while read -r addr size; do
      plugin+=$(printf ',range=%d:0x%s:0x%x' "$g" "$addr" $((0x$addr + 0x$size)))
    done < <(awk -v pat="${layer_patterns[$g]}" '
      NF >= 4 && ($3 == "t" || $3 == "T") {
        name = $4; for (i = 5; i <= NF; i++) name = name " " $i
        if (name ~ pat) print $1, $2
      }' <<<"$symbols")
  done

  local status=0
  # shellcheck disable=SC2046
  timeout "$qemu_timeout" $(platform_qemu "$platform") -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 \
    -plugin "$plugin" -kernel "$elf" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL $name: QEMU exited with status $status$([ "$status" -eq 124 ] && echo " (timeout after ${qemu_timeout}s)")" >&2
    tail -n 3 "$work/$name.out" "$work/$name.err" >&2
    failures=$((failures + 1))
    return
  fi

  # Identical results: the firmware's lines against the host core's, image by image.
  "$fwsim" classify "$images" --weights "$weights" --lines >"$work/$variant-$n.host"
  grep '^image ' "$work/$name.out" >"$work/$name.lines" || true
  local same total
  total=$(wc -l <"$work/$variant-$n.host")
  same=$(paste -d '\n' "$work/$variant-$n.host" "$work/$name.lines" | awk 'NR % 2 { a = $0; next } a == $0 { n++ } END { print n + 0 }')
  if [ "$same" -ne "$total" ] || [ "$(wc -l <"$work/$name.lines")" -ne "$total" ]; then
    echo "FAIL $name: $same/$total results identical to the host; first difference:" >&2
    diff "$work/$variant-$n.host" "$work/$name.lines" | head -n 4 >&2 || true
    failures=$((failures + 1))
  fi

  # Sizes: flash is everything loaded from flash; the test images are there only for
  # the check.
  local flash static wbytes ibytes code
  flash=$(${bu}-size -A "$elf" | awk '$1 ~ /^\.(vector_table|text|init|rodata|data)/ { s += $2 } END { print s }')
  static=$(${bu}-size -A "$elf" | awk '$1 ~ /^\.(data|bss|uninit)$/ { s += $2 } END { print s }')
  wbytes=$(stat -c %s "$weights")
  ibytes=$((n * 785))
  code=$((flash - wbytes - ibytes))

  # Marks: 0-1 an empty region (the marks' own cost), 2-3 Model::from_bytes, 4-5
  # Model::from_trusted_bytes, then one pair around each inference. A line reports the
  # count at its mark, the lowest stack address stored to since the previous mark, and
  # the count of each layer group.
  local stats
  stats=$(awk -v hi=$((hi)) -v n="$n" -v m0="${layer_macs[0]}" -v m1="${layer_macs[1]}" \
    -v m2="${layer_macs[2]}" -v macs="$macs" '
    $1 == "mark" { c[m] = $2; low[m] = $3; for (g = 0; g < 3; g++) l[m, g] = $(4 + g); m++ }
    END {
      if (m != 6 + 2 * n) { print "bad"; exit }
      empty = c[1] - c[0]; load = c[3] - c[2] - empty; trusted = c[5] - c[4] - empty
      load_stack = hi - low[3]; if (hi - low[5] > load_stack) load_stack = hi - low[5]
      min = -1; max = 0; sum = 0; deep = hi
      for (i = 0; i < n; i++) {
        k = 6 + 2 * i; x = c[k + 1] - c[k] - empty; sum += x
        if (min < 0 || x < min) min = x; if (x > max) max = x
        if (low[k + 1] < deep) deep = low[k + 1]
        for (g = 0; g < 3; g++) lay[g] += l[k + 1, g] - l[k, g]
      }
      mean = sum / n
      printf "%d %d %.0f %d %d %d %d %.3f %.3f %.3f %.3f\n", min, max, mean, load, trusted,
        load_stack, hi - deep, mean / macs, lay[0] / n / m0, lay[1] / n / m1, lay[2] / n / m2
    }' "$work/$name.count")
  if [ "$stats" = bad ]; then
    echo "FAIL $name: unexpected number of marks in $work/$name.count" >&2
    failures=$((failures + 1))
    return
  fi
  local min max mean load trusted load_stack stack per_mac conv hidden output
  read -r min max mean load trusted load_stack stack per_mac conv hidden output <<<"$stats"
  sizes+=("$(printf '%-7s %-8s %-11s %6s/%-4s %7d %8d %7d %6d %6d %6d %6d %8d' \
    "$variant" "$platform" "$(platform_qemu "$platform" | awk '{ print $3 }')" "$same" "$total" \
    "$code" "$wbytes" "$ibytes" "$static" "$load_stack" "$stack" \
    $((static + (stack > load_stack ? stack : load_stack))) "$flash")")
  counts+=("$(printf '%-7s %-8s %10d %17s %7s %7s %7s %7s %10d %10d' \
    "$variant" "$platform" "$mean" "($min..$max)" "$per_mac" "$conv" "$hidden" "$output" \
    "$load" "$trusted")")
}

IFS=, read -r -a selected <<<"$platforms"
for variant in pool nopool; do
  weights=$pool
  [ "$variant" = nopool ] && weights=$nopool
  for platform in "${selected[@]}"; do
    run_one "$variant" "$weights" "$platform"
  done
done

# A model larger than the flash must fail the build with one line naming both sizes.
fit_log=$work/fit.log
fit_images=$(ls "$work"/*-"$count".idx | head -n 1)
if build_firmware thumbv7em-none-eabihf "" "$(realpath "$nopool")" "$fit_images" \
  "${fit_images%.idx}-labels.idx" PICOCNN_FW_FLASH_KIB=1024 >"$fit_log" 2>&1; then
  echo "FAIL fit: the nopool model built for a 1 MiB flash" >&2
  failures=$((failures + 1))
elif [ "$(grep -c 'do not fit' "$fit_log")" -ne 1 ]; then
  echo "FAIL fit: no one-line size error:" >&2
  cat "$fit_log" >&2
  failures=$((failures + 1))
else
  echo "fit check: $(grep 'do not fit' "$fit_log" | sed 's/^error: picocnn-firmware@[^:]*: //')"
fi

# The example of docs/firmware.md (firmware-sim/cortex-m/examples/minimal.rs) builds, runs
# under QEMU and names the host's class for the first image.
example_log=$work/example.out
ex_images=$work/example.idx
"$fwsim" cut --dataset mnist --data "$data" --index 0 --count 1 --out "$ex_images" \
  --labels "${ex_images%.idx}-labels.idx" >/dev/null
if ! env PICOCNN_FW_WEIGHTS="$(realpath "$pool")" PICOCNN_FW_IMAGES="$ex_images" \
  PICOCNN_FW_LABELS="${ex_images%.idx}-labels.idx" CARGO_TARGET_DIR="$fw_dir/target" \
  cargo build --release --locked --quiet --manifest-path "$fw_dir/Cargo.toml" \
  --target thumbv7em-none-eabihf --example minimal >"$example_log" 2>&1; then
  echo "FAIL example: the minimal example does not build:" >&2
  grep -E 'error' "$example_log" | head -n 8 >&2
  failures=$((failures + 1))
elif ! timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native \
  -kernel "$fw_dir/target/thumbv7em-none-eabihf/release/examples/minimal" >"$example_log" 2>&1; then
  echo "FAIL example: the minimal example failed under QEMU: $(tail -n 1 "$example_log")" >&2
  failures=$((failures + 1))
else
  host_class=$("$fwsim" classify "$ex_images" --weights "$pool" --lines | awk '{ print $4 }')
  if ! grep -q "^class $host_class," "$example_log"; then
    echo "FAIL example: printed '$(head -n 1 "$example_log")', the host says class $host_class" >&2
    failures=$((failures + 1))
  else
    echo "example (minimal.rs, Cortex-M4F): $(head -n 1 "$example_log")"
  fi
fi

# The core on its own, as a user who vendors it gets it: copied out of the workspace with
# the workspace's lock file (offline, so only what the lock names), built for the host and
# for thumbv7em (its tests are the workspace's). Outside the repository, where no
# workspace can adopt it.
standalone=$(mktemp -d)
trap 'rm -rf "$standalone"' EXIT
cp -r core "$standalone/core"
rm -rf "$standalone/core/target"
cp Cargo.lock "$standalone/core/"
if (cd "$standalone/core" &&
  CARGO_TARGET_DIR="$standalone/target" cargo build --offline --quiet --target thumbv7em-none-eabihf &&
  CARGO_TARGET_DIR="$standalone/target" cargo build --offline --quiet) >"$work/standalone.log" 2>&1; then
  echo "standalone core: builds outside the workspace, for thumbv7em-none-eabihf and the host"
else
  echo "FAIL standalone: core/ does not build or test on its own:" >&2
  grep -E 'error|FAILED|panicked' "$work/standalone.log" | head -n 8 >&2
  failures=$((failures + 1))
fi

echo
echo "Panic-free at link time (the panic handler calls an undefined symbol):"
for row in "${links[@]}"; do echo "$row"; done
echo
echo "Bytes; RAM = static + the deepest stack while loading (from_bytes) or inferring"
printf '%-7s %-8s %-11s %11s %7s %8s %7s %6s %6s %6s %6s %8s\n' \
  variant platform board identical code weights images static load infer peak flash
for row in "${sizes[@]}"; do echo "$row"; done
echo
echo "Executed instructions (QEMU TCG plugin, exact): per inference, per MAC overall and per"
echo "layer (conv includes ReLU and pooling, output includes the hidden layer's requantization),"
echo "and to load the model with Model::from_bytes (CRC) and Model::from_trusted_bytes (no CRC)"
printf '%-7s %-8s %10s %17s %7s %7s %7s %7s %10s %10s\n' \
  variant platform insns/inf "(min..max)" /MAC conv hidden output from_bytes trusted
for row in "${counts[@]}"; do echo "$row"; done
if [ "$failures" -ne 0 ]; then
  echo "firmware-check: $failures failure(s)" >&2
  exit 1
fi
echo "firmware-check: all results identical to the host ($((SECONDS - start_time)) s)"
