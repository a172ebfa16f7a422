#!/usr/bin/env bash
# Quick start, command 1: install what is needed, build, run the demo
# (two stacks in one process over the simulated wire; no root, TAP or network
# needed once the packages are there).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build"
exec "$root/build/ustack" sim "$@"
