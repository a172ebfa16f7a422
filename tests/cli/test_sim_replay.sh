#!/usr/bin/env bash
# `ustack sim` replays bit for bit from a seed: run twice with the same
# --seed (and --loss, --count), it prints the same report and writes the
# same pcap capture, byte for byte; another seed gives another run (the
# lossy part's figures and the capture differ). Needs no root.
# Usage: test_sim_replay.sh path/to/ustack
set -euo pipefail
ustack=${1:?usage: $0 path/to/ustack}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

sim() { # name, then ustack sim's options
    local name=$1
    shift
    timeout 60 "$ustack" sim "$@" --pcap "$dir/$name.pcap" >"$dir/$name.out" 2>&1 ||
        fail "ustack sim $* failed: $(tail -3 "$dir/$name.out")"
}

for args in "--seed 7" "--seed 12345 --loss 0.3 --count 60"; do
    # shellcheck disable=SC2086
    sim one $args
    # shellcheck disable=SC2086
    sim two $args
    grep -q '^fault injector at c: [0-9]* of the frames dropped' "$dir/one.out" ||
        fail "ustack sim $args: no fault injector line in its report"
    [ "$(head -c 4 "$dir/one.pcap" | od -An -tx1 | tr -d ' ')" = d4c3b2a1 ] ||
        fail "ustack sim $args: the capture is not a pcap file"
    [ "$(stat -c %s "$dir/one.pcap")" -gt 10000 ] || fail "ustack sim $args: capture too small"
    cmp "$dir/one.out" "$dir/two.out" >/dev/null || {
        diff "$dir/one.out" "$dir/two.out" >&2 || true
        fail "ustack sim $args: the same seed printed different reports"
    }
    cmp "$dir/one.pcap" "$dir/two.pcap" >&2 || fail "ustack sim $args: the same seed wrote different captures"
    echo "ok: ustack sim $args twice: same report, same $(stat -c %s "$dir/one.pcap")-byte capture"
done

sim seed7 --seed 7
sim seed8 --seed 8
! cmp -s "$dir/seed7.out" "$dir/seed8.out" || fail "seeds 7 and 8 printed the same report"
! cmp -s "$dir/seed7.pcap" "$dir/seed8.pcap" || fail "seeds 7 and 8 wrote the same capture"
echo "ok: seeds 7 and 8 give different runs"
