#!/usr/bin/env bash
# TCP urgent data with the Linux kernel as the peer, over a TAP in a private
# network namespace. Kernel -> ustack: a kernel client sends "ab", "c" with
# MSG_OOB, "de" to ustack's echo service, which reads normally, and gets
# "abde" back (the urgent byte is out of the stream, as on Linux), also with
# the mark in the middle of 200 KB; the capture shows the kernel did send
# URG. ustack -> kernel: `ustack nc --oob-byte c` after "ab"; the kernel
# reads "ab" and the urgent byte "c" with MSG_OOB, and the capture shows
# ustack's URG pointing just past it. Both with the TAP's offloads (the
# default) and with --no-offload, where the capture's TCP checksums (all
# ustack's own then, and the kernel's) are verified too; with offloads both
# sides leave them partial to the TAP.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"

# urg PCAP FILTER: frames of the capture that match, and whose TCP checksum
# is good without offloads.
urg() {
  local good="tcp.checksum.status==\"Good\""
  [ "$MODE" = offload ] && good="tcp"
  tshark -r "$1" -o tcp.check_checksum:TRUE -Y "($2) && $good" 2>/dev/null | wc -l
}

for MODE in offload no-offload; do
  OPTS=()
  [ "$MODE" = offload ] || OPTS=(--no-offload)
  step "$MODE"
  interop_start_ustack "$WORK/echo.log" --serve echo --pcap "$WORK/echo.pcap" --nstat "${OPTS[@]}"
  step "kernel client -> ustack echo: the urgent byte is not echoed"
  timeout 120 /usr/bin/python3 "$HERE/tcp_urgent.py" echo "$USTACK_IP" 7 || fail "urgent data to the echo service"
  want="tx-csum tso rx-csum gro"
  [ "$MODE" = offload ] || want=off
  grep -q "offloads: $want\$" "$WORK/echo.log" || fail "$MODE: $(grep offloads "$WORK/echo.log")"
  interop_stop_ustack
  n=$(urg "$WORK/echo.pcap" "ip.src==$KERNEL_IP && tcp.flags.urg==1")
  [ "$n" -gt 0 ] || fail "the capture holds no segment with URG from the kernel"
  echo "ok: $n segments from the kernel with URG in the capture"

  step "ustack nc --oob-byte -> kernel: read with MSG_OOB"
  timeout 60 /usr/bin/python3 "$HERE/tcp_urgent.py" server "$KERNEL_IP" 5003 ab c >"$WORK/srv.log" 2>&1 &
  spid=$!
  for _ in $(seq 100); do grep -qs listening "$WORK/srv.log" && break; sleep 0.05; done
  grep -qs listening "$WORK/srv.log" || fail "the kernel server did not start: $(cat "$WORK/srv.log")"
  printf ab | timeout 30 "$USTACK" nc --dev "$TAP" --addr "$USTACK_IP/24" --pcap "$WORK/nc.pcap" \
    "${OPTS[@]}" --oob-byte c "$KERNEL_IP" 5003 2>"$WORK/nc.log" || fail "ustack nc exited $?: $(tail -5 "$WORK/nc.log")"
  wait "$spid" || fail "kernel receiver: $(cat "$WORK/srv.log")"
  cat "$WORK/srv.log"
  # "ab" is relative sequence 1-2, "c" 3: the pointer points to 4 (RFC 6093).
  n=$(urg "$WORK/nc.pcap" "ip.src==$USTACK_IP && tcp.flags.urg==1 && tcp.seq + tcp.urgent_pointer == 4")
  [ "$n" -gt 0 ] || {
    tshark -r "$WORK/nc.pcap" -T fields -e ip.src -e tcp.seq -e tcp.len -e tcp.flags.urg -e tcp.urgent_pointer 2>/dev/null | head -20
    fail "no segment from ustack with URG pointing past the urgent byte"
  }
  echo "ok: $n segments from ustack with URG and the pointer past the urgent byte"
done
echo PASS
