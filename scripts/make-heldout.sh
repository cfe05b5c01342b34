#!/usr/bin/env bash
# Builds the held-out digit set (assets/heldout/fonts-*-ubyte.gz): digits 0-9 rendered from
# the fonts of Debian packages, with varied slant, stroke weight and rendering size,
# centred the MNIST way (trainer/examples/render_digits.rs). It is not MNIST, so a model
# that merely fits MNIST's writers and scanner shows it here. The result is checked in
# (scripts/fetch-data.sh copies it to DATA/heldout/, where the trainer reads it); run this
# to rebuild it (root for apt-get, once) and compare with the pinned SHA-256.
#
#   scripts/make-heldout.sh [OUT_DIR]      # default: assets/heldout
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-assets/heldout}

# Handwriting-like fonts, then typefaces (serif, sans, mono, OCR-B). Excluded: symbol fonts,
# and those whose digits are drawn in boxes, inverted or hollow (keyboard keys, OCR-B's
# E/F/X, femkeklaver's outlined letters).
hand_pkgs=(fonts-dkg-handwriting fonts-breip fonts-bwht fonts-humor-sans
  fonts-rufscript fonts-sjfonts fonts-dancingscript fonts-comic-neue)
type_pkgs=(fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-urw-base35 fonts-ocr-b
  fonts-cantarell fonts-crosextra-caladea fonts-inconsolata fonts-linuxlibertine)

missing=()
for p in "${hand_pkgs[@]}" "${type_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

fonts_of() { # GROUP PACKAGE...: GROUP:file for each font file, sorted by file name
  local group=$1; shift
  for p in "$@"; do dpkg -L "$p"; done | grep -E '\.(ttf|otf)$' \
    | grep -vE '/(D050000L|StandardSymbolsPS|LinBiolinum_K|OCRBE|OCRBF|OCRBX)\.otf$' \
    | grep -v '/femkeklaver\.ttf$' \
    | awk -F/ '{print $NF "\t" $0}' | sort | cut -f2 | sed "s|^|$group:|"
}
mapfile -t fonts < <(fonts_of hand "${hand_pkgs[@]}"; fonts_of type "${type_pkgs[@]}")

cargo run --quiet --release -p trainer --example render_digits -- "$out" "${fonts[@]}"

# Pinned SHA-256 of the uncompressed IDX files (what the trainer reads).
declare -A want=(
  [fonts-images-idx3-ubyte]=cd635e679d08d244e614d9bc84b71aa188d4e4e2c949177be9e2591a54cba912
  [fonts-labels-idx1-ubyte]=765d748376d78aad794cbf57fadb416f9a8a685b2bac9c6d8cf86e906528fb54
)
status=0
for f in "${!want[@]}"; do
  got=$(gzip -dc "$out/$f.gz" | sha256sum | cut -d' ' -f1)
  if [[ $got == "${want[$f]}" ]]; then
    echo "$f: SHA-256 ok"
  else
    echo "$f: SHA-256 $got, expected ${want[$f]} (other font package versions?)" >&2
    status=1
  fi
done
exit $status
