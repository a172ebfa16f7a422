#!/usr/bin/env bash
# build.sh DIR [cmake options...]: configures (once) and builds into DIR, with
# warnings as errors (USTACK_WERROR, off in a user's plain cmake build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cmake -S "$root" -B "$dir" -G Ninja -DUSTACK_WERROR=ON "$@" >/dev/null
ninja -C "$dir" >/dev/null
