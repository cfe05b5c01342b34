#!/usr/bin/env bash
# Installs what building and testing picocnn needs on a fresh Debian machine with rustup.
# Idempotent: each step checks first and does nothing when its tool is already there.
set -euo pipefail

need_apt=()
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
# qemu-system-riscv32 (the `virt` board) and binutils for the RISC-V firmware check.
command -v qemu-system-riscv32 >/dev/null || need_apt+=(qemu-system-misc)
command -v riscv64-unknown-elf-size >/dev/null || need_apt+=(binutils-riscv64-unknown-elf)
command -v qemu-x86_64 >/dev/null || need_apt+=(qemu-user)
command -v arm-none-eabi-size >/dev/null || need_apt+=(binutils-arm-none-eabi)
command -v npm >/dev/null || need_apt+=(npm)
command -v curl >/dev/null || need_apt+=(curl)
command -v gcc >/dev/null || need_apt+=(gcc)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
installed=$(rustup target list --installed)
for t in thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi riscv32imc-unknown-none-elf; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
