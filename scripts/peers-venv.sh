#!/usr/bin/env bash
# Creates (or reuses) the Python venv with the peers the benches compare picocnn with:
# TensorFlow/Keras (CPU build) for training and LiteRT's interpreter for int8 inference.
# The venv lives outside the repository: default /opt/picocnn-peers, or $PICOCNN_PEERS_VENV.
# These are benchmark peers only; nothing in picocnn itself needs Python.
#
# Idempotent and quiet: when the pinned versions are already there it changes nothing.
# Prints one status line; the last line of stdout is the venv's python, for scripts:
#   py=$(scripts/peers-venv.sh | tail -n1)
#
# PyTorch is not installed: the registry serves only its CUDA build for Linux x86_64
# (torch plus several GB of nvidia-* wheels); the small CPU-only wheels are not on it.
set -euo pipefail

venv=${PICOCNN_PEERS_VENV:-/opt/picocnn-peers}
# Versions tried together on this machine (Python 3.11, x86_64).
pins=(tensorflow-cpu==2.21.0 keras==3.15.1 ai-edge-litert==2.3.0)

have_pins() {
  "$venv/bin/python" - "${pins[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = all(version(n) == v for n, v in (p.split("==") for p in sys.argv[1:]))
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

if [ -x "$venv/bin/python" ] && have_pins; then
  echo "peers venv: $venv ready (${pins[*]})" >&2
  echo "$venv/bin/python"
  exit 0
fi

python=${PYTHON:-python3}
command -v "$python" >/dev/null || { echo "error: $python not found (Python >= 3.10 with venv needed)" >&2; exit 2; }
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || { echo "error: '$python -m venv $venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 2; }
fi
log=$(mktemp)
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >"$log" 2>&1; then
  echo "error: installing ${pins[*]} into $venv failed; pip said:" >&2
  tail -n 20 "$log" >&2
  rm -f "$log"
  exit 2
fi
rm -f "$log"
have_pins || { echo "error: $venv: pinned versions still missing after install" >&2; exit 2; }
echo "peers venv: $venv installed (${pins[*]})" >&2
echo "$venv/bin/python"
