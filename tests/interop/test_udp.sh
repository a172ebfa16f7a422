#!/usr/bin/env bash
# UDP against the Linux kernel over a TAP in a private network namespace:
# the kernel's sockets and socat talk to ustack's udp-echo and udp-discard.
set -euo pipefail
USTACK=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
interop_enter_netns "$@"

interop_start_ustack "$WORK/udp.log" --serve udp-echo,udp-discard --pcap "$WORK/udp.pcap" --nstat
grep -q "serving udp-echo on UDP port 7" "$WORK/udp.log" || fail "echo service not started"

reply=$(echo "hello ustack" | timeout 5 socat -t 1 - "UDP:$USTACK_IP:7")
[ "$reply" = "hello ustack" ] || fail "socat got '$reply'"
echo "ok: socat round trip"

/usr/bin/python3 "$(dirname "$0")/udp_client.py" "$USTACK_IP" || fail "kernel UDP client"

# SIGUSR1: counters and the socket table (as ss -uanm) while it keeps running.
kill -USR1 "$USTACK_PID"
for _ in $(seq 50); do grep -q "skmem" "$WORK/udp.log" && break; sleep 0.05; done
grep -qE "^UNCONN +0 +0 +0\.0\.0\.0:7 +0\.0\.0\.0:\*" "$WORK/udp.log" || fail "no echo socket in the table"
grep -qE "^UNCONN .*0\.0\.0\.0:9 " "$WORK/udp.log" || fail "no discard socket in the table"
grep -qE "skmem:\(r0,rb212992,t0,tb212992,.*,d0\)" "$WORK/udp.log" || fail "no skmem line"
kill -0 "$USTACK_PID" || fail "ustack stopped on SIGUSR1"
echo "ok: SIGUSR1 report"
interop_stop_ustack

# 1 (socat) + 10 (two clients) + 3 (boundaries) + 1 (60000) to echo, 1 to discard.
[ "$(counter "$WORK/udp.log" UdpInDatagrams)" -eq 16 ] || fail "UdpInDatagrams != 16"
[ "$(counter "$WORK/udp.log" UdpOutDatagrams)" -eq 15 ] || fail "UdpOutDatagrams != 15"
[ "$(counter "$WORK/udp.log" UdpNoPorts)" -eq 1 ] || fail "UdpNoPorts != 1"
[ "$(counter "$WORK/udp.log" UdpRcvbufErrors)" -eq 0 ] || fail "UdpRcvbufErrors != 0"
[ "$(counter "$WORK/udp.log" IpReasmOKs)" -ge 1 ] || fail "no reassembly"
[ "$(counter "$WORK/udp.log" IpFragOKs)" -ge 1 ] || fail "no fragmentation"
badf='_ws.malformed || _ws.expert.severity >= "Error" || udp.checksum.status == "Bad"'
bad=$(tshark -r "$WORK/udp.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
  -Y "$badf" 2>/dev/null | wc -l)
if [ "$bad" -ne 0 ]; then
  # Show what tshark objects to, for the log.
  tshark -r "$WORK/udp.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -Y "$badf" \
    -V 2>/dev/null | head -80
  fail "$bad bad packets in ustack's capture"
fi
echo PASS
