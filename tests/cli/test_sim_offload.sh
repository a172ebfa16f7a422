#!/usr/bin/env bash
# `ustack sim --offload`: the demo's TCP stream crosses the wire in
# super-frames, arrives byte-exact, and the report counts super-frames and
# segments each way; without --offload there are none. --mtu sets the
# wire's MTU (the MSS follows it). The capture of an offload run is what
# tcpdump on a veth shows: tshark reads it without a malformed packet, with
# frames past 1514 bytes, IPv4 header checksums valid, and the TCP payload
# a sent adding up to the stream's length. Needs no root; the tshark part
# is skipped (exit 77 at the end) without tshark.
# Usage: test_sim_offload.sh path/to/ustack
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
    timeout 60 "$ustack" sim "$@" >"$dir/$name.out" 2>&1 ||
        fail "ustack sim $* failed: $(tail -5 "$dir/$name.out")"
}

# counts NAME DIR: "FRAMES SUPER SEGS" from the report's "a -> b:" or "b -> a:" line.
counts() {
    sed -n "s/^$2: \([0-9]*\) frames, \([0-9]*\) of them super-frames, standing for \([0-9]*\) segments; [0-9]* dropped by the full queue$/\1 \2 \3/p" \
        "$dir/$1.out"
}

bytes=4194304
sim off --offload --pcap "$dir/off.pcap"
grep -q "^$bytes bytes received intact in .*, MSS 1448," "$dir/off.out" ||
    fail "--offload: the stream did not arrive intact: $(grep -A3 'over TCP' "$dir/off.out")"
grep -q "MTU 1500, offloads" "$dir/off.out" || fail "--offload: the header does not say so"
read -r frames super segs <<<"$(counts off 'a -> b')"
[ -n "${segs:-}" ] || fail "--offload: no 'a -> b:' counts in the report"
[ "$super" -gt 0 ] || fail "--offload: a sent no super-frames ($frames frames)"
[ "$segs" -gt $((2 * frames)) ] ||
    fail "--offload: $frames frames ($super super-frames) stood for only $segs segments"
[ "$segs" -ge $((bytes / 1448)) ] || fail "--offload: $segs segments for $bytes bytes"
read -r bframes bsuper bsegs <<<"$(counts off 'b -> a')"
[ -n "${bsegs:-}" ] || fail "--offload: no 'b -> a:' counts in the report"
echo "ok: --offload: $bytes bytes intact; a -> b $frames frames, $super super-frames, $segs segments;" \
    "b -> a $bframes frames, $bsuper super-frames, $bsegs segments"

sim plain
grep -q "^$bytes bytes received intact" "$dir/plain.out" || fail "plain: the stream did not arrive intact"
read -r frames super segs <<<"$(counts plain 'a -> b')"
[ "$super" = 0 ] && [ "$segs" = "$frames" ] ||
    fail "plain: $super super-frames, $segs segments in $frames frames"
echo "ok: without --offload: $bytes bytes intact in $frames frames, no super-frames"

sim jumbo --mtu 9000 --bytes 1000000
grep -q "^1000000 bytes received intact in .*, MSS 8948," "$dir/jumbo.out" ||
    fail "--mtu 9000: $(grep -A1 'over TCP' "$dir/jumbo.out")"
grep -q "MTU 9000$" "$dir/jumbo.out" || fail "--mtu 9000: the header does not say so"
echo "ok: --mtu 9000: intact, MSS 8948"

rc=0
"$ustack" sim --mtu 65536 >"$dir/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--mtu must be between 68 and 65535" "$dir/bad.out" ||
    fail "--mtu 65536: exit $rc, $(cat "$dir/bad.out")"
grep -q -- "--offload" <<<"$("$ustack" sim --help)" || fail "sim --help does not list --offload"
echo "ok: --mtu 65536 refused; --help lists --offload"

if ! command -v tshark >/dev/null; then
    echo "SKIP: no tshark to read the capture (Debian: tshark)"
    exit 77
fi
ts() { tshark -r "$dir/off.pcap" -o ip.check_checksum:TRUE "$@" 2>"$dir/tshark.err"; }
total=$(ts | wc -l)
[ "$total" -gt 100 ] || fail "tshark read $total packets: $(head -3 "$dir/tshark.err")"
bad=$(ts -Y '_ws.malformed || _ws.expert.severity >= "Error" || ip.checksum.status == "Bad"' | wc -l)
if [ "$bad" -ne 0 ]; then
    ts -Y '_ws.malformed || _ws.expert.severity >= "Error" || ip.checksum.status == "Bad"' -V | head -60 >&2 || true
    fail "tshark: $bad of $total packets malformed or in error"
fi
big=$(ts -Y 'frame.len > 1514' | wc -l)
[ "$big" -gt 0 ] || fail "tshark: no frame past 1514 bytes in the capture"
cut=$(ts -Y 'frame.cap_len != frame.len' | wc -l)
[ "$cut" -eq 0 ] || fail "tshark: $cut frames recorded shorter than they were"
largest=$(ts -T fields -e frame.len | sort -n | tail -1)
# The payload a sent to port 5001, super-frames whole: the stream exactly
# (no loss in this run, so no retransmission).
sent=$(ts -Y 'ip.src == 192.0.2.1 && tcp.dstport == 5001' -T fields -e tcp.len |
    awk '{s += $1} END {print s + 0}')
[ "$sent" = "$bytes" ] || fail "tshark: a's TCP payload adds up to $sent bytes, not $bytes"
echo "ok: tshark reads the capture: $total packets, none malformed, $big past 1514 bytes" \
    "(largest $largest), a's payload $sent bytes"
