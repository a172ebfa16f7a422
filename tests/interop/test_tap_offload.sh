#!/usr/bin/env bash
# The TAP's offloads against the Linux kernel, over a TAP in a private
# network namespace, and tshark's reading of ustack's capture. With
# offloads (the default): the kernel's side of the TAP shows TSO and
# checksum offload on (ethtool -k); two kernel connections each send 8 MiB
# through ustack's echo service and read them back intact, so 64 KiB TCP
# super-frames go both ways; ustack's pcap (--pcap) holds them as they
# crossed the TAP (frames over 1514 bytes both ways), tshark finds nothing
# malformed or in error in it and decodes the whole stream from them; ustack's device
# counted super-frames both ways. With --no-offload: TSO off on the
# kernel's side, no frame over 1514 bytes in the capture, no super-frame
# counted, the echo intact too.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"

EACH=$((8 * 1024 * 1024)) # bytes per connection, each way

# tc PCAP FILTER: how many frames of the capture match; tshark must succeed
# (a filter it cannot parse, or a capture cut short, is a failure, not a
# count of 0). Use as n=$(tc ...) so that set -e stops the test.
tc() {
  local out
  out=$(tshark -r "$1" -Y "$2" 2>"$WORK/tshark.err") || {
    echo "FAIL: tshark -r $1 -Y '$2' exited $?: $(grep -v '^Running as user' "$WORK/tshark.err")" >&2
    exit 1
  }
  [ -z "$out" ] && echo 0 || echo "$out" | wc -l
}

# tso_on: the kernel's side of the TAP has TCP segmentation offload on
# ("on", or "on [fixed]").
tso_on() { ethtool -k "$TAP" | grep -q "^tcp-segmentation-offload: on"; }

# super_frames LOG: "RX TX", the super-frames ustack's device counted, from
# the device line of its report at exit.
super_frames() {
  local v
  v=$(sed -n "s/^Device .*super-frames rx \([0-9]*\) ([0-9]* segments), tx \([0-9]*\) .*/\1 \2/p" "$1" | tail -1)
  [ -n "$v" ] || fail "no device line with super-frame counters in $1"
  echo "$v"
}

# echo_run NAME [ustack options...]: ustack's echo service with a capture;
# two kernel connections send EACH bytes each and read them back intact.
echo_run() {
  local name=$1
  shift
  interop_start_ustack "$WORK/$name.log" --serve echo --pcap "$WORK/$name.pcap" --nstat "$@"
  /usr/bin/python3 "$HERE/tcp_clients.py" "$USTACK_IP" 7 2 "$EACH" || fail "$name: echo"
  # ethtool while ustack still holds the TAP: it turns them off on exit.
  if tso_on; then TSO=on; else TSO=off; fi
  interop_stop_ustack
}

step "offloads (the default): 2 x 8 MiB through echo"
echo_run offload
grep -q "^ustack: $TAP offloads: tx-csum tso rx-csum gro$" "$WORK/offload.log" ||
  fail "offloads not all on: $(grep offloads "$WORK/offload.log")"
[ "$TSO" = on ] || fail "ustack has offloads, yet the kernel's side of $TAP shows TSO off"
read -r rx tx <<<"$(super_frames "$WORK/offload.log")"
[ "$rx" -gt 0 ] && [ "$tx" -gt 0 ] || fail "super-frames counted: rx $rx, tx $tx (both must be > 0)"
echo "ok: echo intact; TSO on for the kernel; ustack counted $rx super-frames in, $tx out"

step "tshark: nothing malformed, super-frames both ways, the whole stream decoded"
P=$WORK/offload.pcap
# Malformed, or an error tshark's experts see (a super-frame cut short:
# "IPv4 total length exceeds packet length"). TCP checksums are left
# unverified (tshark's default): ustack's are partial, left to the TAP.
bad="_ws.malformed || _ws.expert.severity >= \"Error\""
malformed=$(tc "$P" "$bad")
[ "$malformed" -eq 0 ] || {
  tshark -r "$P" -Y "$bad" 2>/dev/null | head -5 || true
  fail "$malformed malformed frames, or with errors, in the capture"
}
big_out=$(tc "$P" "ip.src==$USTACK_IP && tcp && frame.len > 1514")
big_in=$(tc "$P" "ip.src==$KERNEL_IP && tcp && frame.len > 1514")
[ "$big_out" -gt 0 ] && [ "$big_in" -gt 0 ] ||
  fail "frames over 1514 bytes in the capture: $big_out from ustack, $big_in from the kernel"
# The super-frames decode as TCP with all their payload: from each side, the
# highest sequence number reached (relative, past the FIN) covers EACH
# bytes on both connections.
tshark -r "$P" -Y "tcp.len > 0" -T fields -e ip.src -e tcp.stream -e tcp.nxtseq -e frame.len \
  >"$WORK/seqs" 2>"$WORK/tshark.err" || fail "tshark -T fields: $(cat "$WORK/tshark.err")"
read -r streams short maxlen <<<"$(awk -v each="$EACH" '
  { k = $1 " " $2; if ($3 > top[k]) top[k] = $3; if ($4 > ml) ml = $4 }
  END { for (k in top) { n++; if (top[k] < each + 1) s++ } print n + 0, s + 0, ml + 0 }' "$WORK/seqs")"
[ "$streams" -eq 4 ] && [ "$short" -eq 0 ] ||
  fail "the capture's data covers $((streams - short)) of 4 directions of $EACH bytes ($streams seen)"
echo "ok: nothing malformed; $big_out super-frames from ustack, $big_in from the kernel (largest $maxlen bytes); both streams whole"

step "--no-offload: 2 x 8 MiB through echo, plain frames"
echo_run plain --no-offload
grep -q "^ustack: $TAP offloads: off$" "$WORK/plain.log" || fail "--no-offload, yet: $(grep offloads "$WORK/plain.log")"
[ "$TSO" = off ] || fail "--no-offload, yet the kernel's side of $TAP shows TSO on"
read -r rx tx <<<"$(super_frames "$WORK/plain.log")"
[ "$rx" -eq 0 ] && [ "$tx" -eq 0 ] || fail "--no-offload, yet super-frames: rx $rx, tx $tx"
over=$(tc "$WORK/plain.pcap" "frame.len > 1514 || $bad")
[ "$over" -eq 0 ] || fail "--no-offload: $over frames over 1514 bytes or malformed in the capture"
echo "ok: echo intact; TSO off for the kernel; no super-frame, no frame over 1514 bytes"
echo PASS
