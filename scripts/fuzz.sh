#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS: runs every fuzz target for SECONDS on its corpus
# in fuzz/corpus/<target>/ (new inputs go to a scratch copy, not the repo).
# What a failing target leaves (crash-*, leak-*, timeout-*, oom-*) and its
# log are kept in $FUZZ_ARTIFACTS/<target>/ (default BUILD_DIR/artifacts),
# and their paths printed with the command that reproduces each.
# A target with fuzz/corpus/<target>.expect is first run on the seeds named
# there, each of which must print its expected summary (see that file).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
seconds=$2
artifacts=${FUZZ_ARTIFACTS:-$build/artifacts}
artifacts=$(mkdir -p "$artifacts" && cd "$artifacts" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
passed=0

# check_seeds NAME: each "seed<TAB>text" line of fuzz/corpus/NAME.expect: the
# seed, run once with FUZZ_SUMMARY=1, must print text (a seed that no longer
# reaches what it was made for would quietly cost the fuzzer that ground).
check_seeds() {
  local name=$1 expect="$root/fuzz/corpus/$1.expect" seed text out rc ok=0
  [ -f "$expect" ] || return 0
  while IFS=$'\t' read -r seed text; do
    case $seed in '' | '#'*) continue ;; esac
    rc=0
    out=$(FUZZ_SUMMARY=1 "$build/$name" "$root/fuzz/corpus/$name/$seed" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "fuzz $name: seed $seed FAILED (exit $rc):"
      grep -E "ERROR|SUMMARY|^ +#[0-9]+ .* in (us_|tx_|LLVMFuzzer)" <<<"$out" | head -20
      echo "  reproduce: $build/$name $root/fuzz/corpus/$name/$seed"
      ok=1
    elif ! grep -qF -- "$text" <<<"$out"; then
      echo "fuzz $name: seed $seed does not reach \"$text\"; it printed:"
      grep "^$name:" <<<"$out" || tail -20 <<<"$out"
      echo "  reproduce: FUZZ_SUMMARY=1 $build/$name $root/fuzz/corpus/$name/$seed"
      ok=1
    fi
  done <"$expect"
  return $ok
}

for src in "$root"/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  mkdir -p "$scratch/$name" "$artifacts/$name"
  if [ -d "$root/fuzz/corpus/$name" ]; then
    cp -r "$root/fuzz/corpus/$name/." "$scratch/$name/"
  fi
  if ! check_seeds "$name"; then
    failed=$((failed + 1))
    continue
  fi
  touch "$scratch/$name.start"
  log="$artifacts/$name/fuzz.log"
  if "$build/$name" -max_total_time="$seconds" -print_final_stats=0 \
      -artifact_prefix="$artifacts/$name/" "$scratch/$name" >"$log" 2>&1; then
    echo "fuzz $name: ok ($(find "$scratch/$name" -type f | wc -l) inputs in corpus)"
    passed=$((passed + 1))
  else
    echo "fuzz $name: FAILED"
    tail -40 "$log"
    echo "fuzz $name: log kept in $log"
    found=0
    while IFS= read -r f; do
      echo "fuzz $name: kept $f"
      echo "  reproduce: $build/$name $f"
      found=1
    done < <(find "$artifacts/$name" -maxdepth 1 -type f \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
      -newer "$scratch/$name.start" | sort)
    [ "$found" -eq 1 ] || echo "fuzz $name: no input kept (see the log)"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
