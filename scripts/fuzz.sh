#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS: runs every fuzz target for SECONDS on its corpus
# in fuzz/corpus/<target>/ (new inputs go to a scratch copy, not the repo).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
seconds=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
passed=0
for src in "$root"/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  mkdir -p "$scratch/$name"
  if [ -d "$root/fuzz/corpus/$name" ]; then
    cp -r "$root/fuzz/corpus/$name/." "$scratch/$name/"
  fi
  if "$build/$name" -max_total_time="$seconds" -print_final_stats=0 \
      -artifact_prefix="$scratch/" "$scratch/$name" >"$scratch/$name.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -c . <(ls "$scratch/$name")) inputs in corpus)"
    passed=$((passed + 1))
  else
    echo "fuzz $name: FAILED"
    tail -40 "$scratch/$name.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
