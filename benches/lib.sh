# shellcheck shell=bash
# Helpers shared by benches/compare-training.sh and benches/compare-inference.sh; sourced,
# not run.

# use_out_dir KEEP: sets $out to the folder KEEP (created) when it is given, else to a
# temporary folder removed when the script exits.
use_out_dir() {
  if [ -n "$1" ]; then
    mkdir -p "$1"
    out=$1
  else
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
  fi
}

# run_logged STDOUT STDERR CMD...: runs CMD with its output in the two files; on failure
# shows the tail of both and stops the script.
run_logged() {
  local stdout=$1 stderr=$2
  shift 2
  if ! "$@" >"$stdout" 2>"$stderr"; then
    echo "error: '$*' failed; last lines of its output:" >&2
    tail -n 15 "$stdout" "$stderr" >&2
    exit 1
  fi
}
