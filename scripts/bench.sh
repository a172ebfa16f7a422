#!/usr/bin/env bash
# The benchmark suite: builds (release build in build/, as scripts/build.sh),
# installs it into DIR/prefix and builds bench/ against that, as a user's
# program is built, then runs every benchmark against its peer, ustack and peer alternated,
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
# The benchmark programs are built as a user's program is: against the
# library installed into a prefix, found with find_package(ustack).
cmake --install "$build" --prefix "$build/prefix" >/dev/null
cmake -S "$root/bench" -B "$build/bench-installed" -G Ninja -DCMAKE_PREFIX_PATH="$build/prefix" \
  -DUSTACK_WERROR=ON >/dev/null
ninja -C "$build/bench-installed" >/dev/null
export BENCH_PROG_DIR=$build/bench-installed
exec /usr/bin/python3 "$root/bench/run_bench.py" "$@"
