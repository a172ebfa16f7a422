#!/usr/bin/env bash
# build.sh DIR [cmake options...]: configures (once) and builds into DIR, with
# warnings as errors (USTACK_WERROR, off in a user's plain cmake build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cmake -S "$root" -B "$dir" -G Ninja -DUSTACK_WERROR=ON "$@" >/dev/null
# Quiet when it works; the compiler's messages when it does not (ninja
# prints them on stdout, which a plain >/dev/null would swallow).
log=$(mktemp)
if ! ninja -C "$dir" >"$log" 2>&1; then
  grep -v '^\[[0-9]*/[0-9]*\] ' "$log" >&2 || true
  rm -f "$log"
  echo "build.sh: the build in $dir failed" >&2
  exit 1
fi
rm -f "$log"
