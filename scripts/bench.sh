#!/usr/bin/env bash
# The benchmark suite: builds (release build in build/, as scripts/build.sh),
# then runs every benchmark against its peer, ustack and peer alternated,
# prints a table of median [min-max] with ratios, and writes the JSON under
# bench/results/. --quick: fewer and shorter runs (CI runs it so the suite
# cannot rot). Fails only if a benchmark program fails, never for slowness.
#   scripts/bench.sh [--quick] [--runs N] [--build DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
args=("$@")
for ((i = 0; i < $#; i++)); do
  [ "${args[$i]}" = --build ] && build=${args[$((i + 1))]}
done
"$root/scripts/build.sh" "$build"
exec /usr/bin/python3 "$root/bench/run_bench.py" "$@"
