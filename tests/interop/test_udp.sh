#!/usr/bin/env bash
# UDP against the Linux kernel over a TAP in a private network namespace:
# the kernel's sockets and socat talk to ustack's udp-echo and udp-discard;
# then the kernel fills a ustack socket that never reads, and the SIGUSR1
# socket table shows exactly what it queued and dropped.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"

interop_start_ustack "$WORK/udp.log" --serve udp-echo,udp-discard --pcap "$WORK/udp.pcap" --nstat
grep -q "serving udp-echo on UDP port 7" "$WORK/udp.log" || fail "echo service not started"

reply=$(echo "hello ustack" | timeout 5 socat -t 1 - "UDP:$USTACK_IP:7")
[ "$reply" = "hello ustack" ] || fail "socat got '$reply'"
echo "ok: socat round trip"

/usr/bin/python3 "$(dirname "$0")/udp_client.py" "$USTACK_IP" || fail "kernel UDP client"

# SIGUSR1: counters and the socket table (as ss -uanm) while it keeps running.
kill -USR1 "$USTACK_PID"
wait_until 10 "the SIGUSR1 report" grep -q "skmem" "$WORK/udp.log" || fail "no SIGUSR1 report"
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
# ustack's checksums must all be good. The kernel's UDP checksums come
# partial (the TAP's tx-checksumming, on with ustack's offloads): the
# capture shows them as received, as tcpdump on the TAP would, and so does
# an ICMP error of ustack's quoting one.
kernel_partial="ip.src == $KERNEL_IP && udp.checksum.status == \"Bad\""
badf="_ws.malformed || (_ws.expert.severity >= \"Error\" && !($kernel_partial)) || (ip.src == $USTACK_IP && udp && !icmp && udp.checksum.status != \"Good\")"
bad=$(tshark -r "$WORK/udp.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
  -Y "$badf" 2>/dev/null | wc -l)
if [ "$bad" -ne 0 ]; then
  # Show what tshark objects to, for the log.
  tshark -r "$WORK/udp.pcap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -Y "$badf" \
    -V 2>/dev/null | head -80
  fail "$bad bad packets in ustack's capture"
fi

# sock_row LOG PORT: the last table's row and skmem line for the socket on
# PORT, as "RECVQ R RB D QUEUED".
sock_row() {
  awk -v p="0.0.0.0:$2" '$1 == "State" { row = "" }
    ($1 == "UNCONN" || $1 == "ESTAB") && $4 == p { take = 1; recvq = $2; next }
    take { take = 0; if (match($0, /skmem:\(r[0-9]+,/)) r = substr($0, RSTART + 8, RLENGTH - 9)
           match($0, /,rb[0-9]+,/); rb = substr($0, RSTART + 3, RLENGTH - 4)
           match($0, /,d[0-9]+\)/); d = substr($0, RSTART + 2, RLENGTH - 3)
           match($0, /queued [0-9]+ datagrams/); q = substr($0, RSTART + 7, RLENGTH - 17)
           row = recvq " " r " " rb " " d " " q }
    END { print row }' "$1"
}
# row_complete LOG PORT: the last table's row for PORT is all there.
row_complete() { [ "$(sock_row "$1" "$2" | wc -w)" -eq 5 ]; }

step "a socket that never reads: the table counts what it queued and dropped"
# ustack's --send-udp socket sends one datagram (so the kernel learns its
# port) and never reads; the kernel then sends it 5 datagrams, then 2000.
/usr/bin/python3 "$HERE/udp_fill.py" listen 5555 10 >"$WORK/fill.port" 2>&1 &
fillpid=$!
wait_until 10 "the kernel's UDP socket on 5555" grep -q ready "$WORK/fill.port" ||
  fail "kernel listener not ready"
interop_start_ustack "$WORK/fill.log" --send-udp "$KERNEL_IP:5555:1" --nstat
wait "$fillpid" || fail "$(cat "$WORK/fill.port")"
port=$(tail -1 "$WORK/fill.port")
/usr/bin/python3 "$HERE/udp_fill.py" send "$USTACK_IP" "$port" 5 100
usr1_report "$WORK/fill.log"
wait_until 10 "the socket's row" row_complete "$WORK/fill.log" "$port" || fail "no row for $port"
read -r recvq r rb d q <<<"$(sock_row "$WORK/fill.log" "$port")"
echo "socket 0.0.0.0:$port after 5 datagrams: Recv-Q $recvq, r$r, d$d, queued $q"
[ "${q:-}" = 5 ] || fail "queued '${q:-}' datagrams, sent 5: $(tail -5 "$WORK/fill.log")"
[ "$d" = 0 ] || fail "$d drops with room to spare"
[ "$recvq" -gt 0 ] && [ "$r" = "$recvq" ] || fail "Recv-Q $recvq, skmem r$r: nothing charged"
per=$((r / 5)) # each datagram's charge against the receive buffer
[ $((per * 5)) -eq "$r" ] || fail "5 equal datagrams charged $r in all"
/usr/bin/python3 "$HERE/udp_fill.py" send "$USTACK_IP" "$port" 2000 100
usr1_report "$WORK/fill.log"
wait_until 10 "the socket's row" row_complete "$WORK/fill.log" "$port" || fail "no row for $port"
read -r recvq r rb d q <<<"$(sock_row "$WORK/fill.log" "$port")"
echo "after 2005 datagrams: Recv-Q $recvq, queued $q, dropped $d (each charged $per)"
[ $((q + d)) -eq 2005 ] || fail "queued $q + dropped $d != 2005 sent"
[ "$d" -gt 0 ] || fail "2005 datagrams of $per each fit a $((q * per))-byte buffer?"
[ "$r" -eq $((q * per)) ] && [ "$recvq" -eq "$r" ] || fail "queued $q of $per each, yet r$r"
# Linux's __udp_enqueue_schedule_skb takes a datagram while what is queued
# is no more than the receive buffer, so one more than fit in it.
[ "$q" -eq $((rb / per + 1)) ] || fail "queued $q datagrams of $per in rb$rb, not $((rb / per + 1))"
interop_stop_ustack
# As Linux, UdpInDatagrams counts datagrams the application read: none.
[ "$(counter "$WORK/fill.log" UdpInDatagrams)" -eq 0 ] || fail "UdpInDatagrams != 0, nothing read"
[ "$(counter "$WORK/fill.log" UdpRcvbufErrors)" -eq "$d" ] || fail "UdpRcvbufErrors != $d dropped"
[ "$(counter "$WORK/fill.log" UdpInErrors)" -eq "$d" ] || fail "UdpInErrors != $d dropped"
echo "ok: queued $q, dropped $d, as the counters say"
echo PASS
