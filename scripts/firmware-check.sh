#!/usr/bin/env bash
# The picocnn core on Cortex-M under QEMU, checked against the host.
#
# For each model variant (pool, nopool) and board (mps2-an386: Cortex-M4F, mps2-an385:
# Cortex-M3) this builds the bare-metal firmware (firmware-sim/cortex-m) with the model and
# N test images linked in, runs it under QEMU with a timeout and an instruction-counting
# TCG plugin, and checks that every image's class and integer logits are identical to the
# host's (`firmware-sim classify --lines`, the same core on the host). It prints flash
# (code, weights, test images) and RAM (static, stack depth during inference, peak), and
# the instructions executed per inference and per MAC, counted exactly (the same on every
# run). It also checks that a model too large for a board's flash fails the build with
# one line stating both sizes.
#
# Usage: scripts/firmware-check.sh [--pool FILE] [--nopool FILE] [--images N] [--data DIR]
#   --pool, --nopool  exported weights.bin of each variant (default: $PICOCNN_FW_POOL and
#                     $PICOCNN_FW_NOPOOL; if unset, a quick model is trained with the
#                     trainer CLI into target/firmware-check/)
#   --images N        test images linked in (default 100, the first N of the test set of
#                     the model's dataset)
#   --data DIR        dataset directory (default: $PICOCNN_DATA, else data)
# Exits non-zero on any difference, a failed build, a QEMU error or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

pool=${PICOCNN_FW_POOL:-}
nopool=${PICOCNN_FW_NOPOOL:-}
count=100
data=${PICOCNN_DATA:-data}
while [ $# -gt 0 ]; do
  case $1 in
    --pool) pool=$2; shift 2 ;;
    --nopool) nopool=$2; shift 2 ;;
    --images) count=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

work=$root/target/firmware-check
mkdir -p "$work"
qemu_timeout=${PICOCNN_FW_QEMU_TIMEOUT:-600}
for tool in qemu-system-arm arm-none-eabi-size arm-none-eabi-nm gcc; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (run scripts/setup.sh)" >&2; exit 2; }
done

host_target=${CARGO_TARGET_DIR:-$root/target}
echo "firmware-check: building the host tools"
cargo build --release --locked -p firmware-sim -p trainer --bins --quiet
fwsim=$host_target/release/firmware-sim
trainer=$host_target/release/trainer

# A quick model when none is given: one epoch (about 20 s for pool, 75 s for nopool on
# two cores); the check is about identical arithmetic, not accuracy. Kept between runs.
quick_model() {
  local variant=$1 out=$work/quick-$1.bin
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
build_firmware() { # target weights images labels [extra env...]
  local target=$1 weights=$2 images=$3 labels=$4
  shift 4
  env "$@" PICOCNN_FW_WEIGHTS="$weights" PICOCNN_FW_IMAGES="$images" \
    PICOCNN_FW_LABELS="$labels" CARGO_TARGET_DIR="$fw_dir/target" \
    cargo build --release --locked --quiet --manifest-path "$fw_dir/Cargo.toml" --target "$target"
}

section() { # elf name -> size in bytes (0 if absent)
  arm-none-eabi-size -A "$1" | awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }'
}
symbol() { # elf name -> address
  arm-none-eabi-nm "$1" | awk -v s="$2" '$3 == s { print "0x" $1 }'
}

# The firmware crate is outside the workspace, so the workspace's fmt and clippy runs miss it.
rustfmt --edition 2024 --check "$fw_dir/src/main.rs" "$fw_dir/build.rs"
first_images=$work/lint-images.idx
"$fwsim" cut --dataset "$("$fwsim" info --weights "$pool" | awk '$1 == "dataset:" { print $2 }')" \
  --data "$data" --index 0 --count 1 --out "$first_images" --labels "${first_images%.idx}-labels.idx" >/dev/null
for target in thumbv7em-none-eabihf thumbv7m-none-eabi; do
  env PICOCNN_FW_WEIGHTS="$(realpath "$pool")" PICOCNN_FW_IMAGES="$first_images" \
    PICOCNN_FW_LABELS="${first_images%.idx}-labels.idx" CARGO_TARGET_DIR="$fw_dir/target" \
    cargo clippy --release --locked --quiet --manifest-path "$fw_dir/Cargo.toml" \
    --target "$target" -- -D warnings
done

failures=0
table=()
run_one() { # variant weights board target
  local variant=$1 weights=$2 board=$3 target=$4
  local name=$variant-$board
  local info dataset macs
  info=$("$fwsim" info --weights "$weights")
  dataset=$(awk '$1 == "dataset:" { print $2 }' <<<"$info")
  macs=$(awk '$1 == "macs:" { print $2 }' <<<"$info")
  if [ "$(awk '$1 == "variant:" { print $2 }' <<<"$info")" != "$variant" ]; then
    echo "error: $weights is not the $variant variant" >&2
    exit 2
  fi
  local images=$work/$dataset-$count.idx labels=$work/$dataset-$count-labels.idx
  [ -f "$images" ] && [ -f "$labels" ] ||
    "$fwsim" cut --dataset "$dataset" --data "$data" --index 0 --count "$count" \
      --out "$images" --labels "$labels" >/dev/null

  build_firmware "$target" "$(realpath "$weights")" "$images" "$labels"
  local elf=$work/$name.elf
  cp "$fw_dir/target/$target/release/picocnn-firmware" "$elf"

  local mark lo hi
  mark=$(arm-none-eabi-nm -C "$elf" | awk '/ picocnn_firmware::mark$/ { print "0x" $1 }')
  lo=$(symbol "$elf" __sheap)
  hi=$(symbol "$elf" _stack_start)
  local status=0
  timeout "$qemu_timeout" qemu-system-arm -M "$board" -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -icount shift=0 \
    -plugin "$work/insn_count.so,mark=$mark,stack_lo=$lo,stack_hi=$hi,out=$work/$name.count" \
    -kernel "$elf" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL $name: QEMU exited with status $status$([ "$status" -eq 124 ] && echo " (timeout after ${qemu_timeout}s)")" >&2
    tail -n 3 "$work/$name.out" "$work/$name.err" >&2
    failures=$((failures + 1))
    return
  fi

  # Identical results: the firmware's lines against the host core's, image by image.
  "$fwsim" classify "$images" --weights "$weights" --lines >"$work/$variant.host"
  grep '^image ' "$work/$name.out" >"$work/$name.lines" || true
  local same total
  total=$(wc -l <"$work/$variant.host")
  same=$(paste -d '\n' "$work/$variant.host" "$work/$name.lines" | awk 'NR % 2 { a = $0; next } a == $0 { n++ } END { print n + 0 }')
  if [ "$same" -ne "$total" ] || [ "$(wc -l <"$work/$name.lines")" -ne "$total" ]; then
    echo "FAIL $name: $same/$total results identical to the host; first difference:" >&2
    diff "$work/$variant.host" "$work/$name.lines" | head -n 4 >&2 || true
    failures=$((failures + 1))
  fi

  # Sizes: flash is everything loaded at 0x0; the test images are there only for the check.
  local vt text rodata data bss uninit wbytes ibytes
  vt=$(section "$elf" .vector_table)
  text=$(section "$elf" .text)
  rodata=$(section "$elf" .rodata)
  data=$(section "$elf" .data)
  bss=$(section "$elf" .bss)
  uninit=$(section "$elf" .uninit)
  wbytes=$(stat -c %s "$weights")
  ibytes=$((count * 785))
  local flash=$((vt + text + rodata + data))
  local code=$((flash - wbytes - ibytes))
  local static=$((data + bss + uninit))

  # Marks: 0-1 an empty region (the marks' own cost), 2-3 Model::from_bytes, then one
  # pair around each classify. A line reports the count at its mark and the lowest stack
  # address stored to since the previous mark.
  local stats
  stats=$(awk -v hi=$((hi)) -v n="$count" '
    $1 == "mark" { c[m] = $2; low[m] = $3; m++ }
    END {
      if (m != 4 + 2 * n) { print "bad"; exit }
      empty = c[1] - c[0]; load = c[3] - c[2] - empty
      min = -1; max = 0; sum = 0; deep = hi
      for (i = 0; i < n; i++) {
        k = 4 + 2 * i; x = c[k + 1] - c[k] - empty; sum += x
        if (min < 0 || x < min) min = x; if (x > max) max = x
        if (low[k + 1] < deep) deep = low[k + 1]
      }
      printf "%d %d %.0f %d %d\n", min, max, sum / n, load, hi - deep
    }' "$work/$name.count")
  if [ "$stats" = bad ]; then
    echo "FAIL $name: unexpected number of marks in $work/$name.count" >&2
    failures=$((failures + 1))
    return
  fi
  local min max mean load stack
  read -r min max mean load stack <<<"$stats"
  local per_mac
  per_mac=$(awk -v a="$mean" -v b="$macs" 'BEGIN { printf "%.3f", a / b }')
  table+=("$(printf '%-7s %-11s %6s/%-6s %8d %8d %8d %7d %6d %6d %8d %9s %8s %9d %8d %8d' \
    "$variant" "$board" "$same" "$total" "$code" "$wbytes" "$ibytes" "$static" "$stack" \
    $((static + stack)) "$mean" "($min..$max)" "$per_mac" "$macs" "$load" "$flash")")
}

run_one pool "$pool" mps2-an386 thumbv7em-none-eabihf
run_one pool "$pool" mps2-an385 thumbv7m-none-eabi
run_one nopool "$nopool" mps2-an386 thumbv7em-none-eabihf
run_one nopool "$nopool" mps2-an385 thumbv7m-none-eabi

# A model larger than the flash must fail the build with one line naming both sizes.
fit_log=$work/fit.log
nopool_images=$(ls "$work"/*-"$count".idx | head -n 1)
if build_firmware thumbv7em-none-eabihf "$(realpath "$nopool")" "$nopool_images" \
  "${nopool_images%.idx}-labels.idx" PICOCNN_FW_FLASH_KIB=1024 >"$fit_log" 2>&1; then
  echo "FAIL fit: the nopool model built for a 1 MiB flash" >&2
  failures=$((failures + 1))
elif [ "$(grep -c 'do not fit' "$fit_log")" -ne 1 ]; then
  echo "FAIL fit: no one-line size error:" >&2
  cat "$fit_log" >&2
  failures=$((failures + 1))
else
  echo "fit check: $(grep 'do not fit' "$fit_log" | sed 's/^error: picocnn-firmware@[^:]*: //')"
fi

echo
echo "Bytes and executed instructions (QEMU TCG plugin, exact); RAM = static + deepest stack during inference"
printf '%-7s %-11s %13s %8s %8s %8s %7s %6s %6s %8s %9s %8s %9s %8s %8s\n' \
  variant board identical code weights images static stack peak insns/inf "(min..max)" insns/MAC MACs load flash
for row in "${table[@]}"; do echo "$row"; done
if [ "$failures" -ne 0 ]; then
  echo "firmware-check: $failures failure(s)" >&2
  exit 1
fi
echo "firmware-check: all results identical to the host"
