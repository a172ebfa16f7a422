#!/usr/bin/env bash
# Quick start, command 2: install what is needed, then build and run every
# test: unit, simulation and interop tests (interop needs root: it makes its
# own network namespaces), all of them again under AddressSanitizer + UBSan,
# the threaded-mode tests under ThreadSanitizer, and each fuzz target for a
# short fixed time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_seconds=${FUZZ_SECONDS:-15}
jobs=$(nproc)

"$root/scripts/install-deps.sh"

echo "== build and test (RelWithDebInfo)"
"$root/scripts/build.sh" "$root/build"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

echo "== every test again under AddressSanitizer + UBSan (interop runs the ASan ustack)"
"$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DUSTACK_SANITIZE=ON
# Smaller bulk transfers here: the sanitizers make the long lossy ones slow.
USTACK_TCP_BULK_MIB="20 20 20 20" ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs"

echo "== threaded mode under ThreadSanitizer (stack thread, wait queues, blocked readers)"
"$root/scripts/build.sh" "$root/build-tsan" -DCMAKE_BUILD_TYPE=Debug -DUSTACK_TSAN=ON
ctest --test-dir "$root/build-tsan" --output-on-failure -R threads

echo "== fuzz targets, ${fuzz_seconds}s each, under ASan + UBSan"
"$root/scripts/build.sh" "$root/build-fuzz" -DCMAKE_C_COMPILER=clang -DUSTACK_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=Debug
"$root/scripts/fuzz.sh" "$root/build-fuzz" "$fuzz_seconds"
