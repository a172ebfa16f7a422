#!/usr/bin/env bash
# Multicast with the Linux kernel over a TAP in a private network namespace,
# group 239.1.2.3: ustack sends and two kernel receivers get every datagram;
# the kernel sends and ustack (joined with IGMPv2) gets every datagram; the
# IGMP reports and leave are in ustack's capture.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"
GROUP=239.1.2.3
ip route add 239.0.0.0/8 dev "$TAP"

step "ustack sends 200 datagrams to $GROUP:5000; two kernel receivers"
pids=()
for r in 1 2; do
  /usr/bin/python3 "$HERE/mcast_kernel.py" receive "$GROUP" 5000 200 15 "$WORK/recv$r" \
    >"$WORK/recv$r.log" 2>&1 &
  pids+=($!)
done
for r in 1 2; do
  wait_until 10 "kernel receiver $r" grep -q ready "$WORK/recv$r.log" ||
    fail "kernel receiver $r not ready: $(cat "$WORK/recv$r.log")"
done
interop_start_ustack "$WORK/send.log" --send-udp "$GROUP:5000:200:5" --nstat
for p in "${pids[@]}"; do wait "$p" || fail "a kernel receiver failed: $(cat "$WORK"/recv?.log)"; done
interop_stop_ustack
for r in 1 2; do
  n=$(sort -u "$WORK/recv$r" | wc -l)
  [ "$n" -eq 200 ] || fail "receiver $r got $n distinct datagrams of 200"
  [ "$(wc -l <"$WORK/recv$r")" -eq 200 ] || fail "receiver $r got duplicates"
  [ "$(sort -u "$WORK/recv$r" | head -1)" = "ustack 0" ] || fail "receiver $r: unexpected payload"
  echo "ok: kernel receiver $r got all 200"
done
[ "$(counter "$WORK/send.log" UdpOutDatagrams)" -eq 200 ] || fail "UdpOutDatagrams != 200"
[ "$(counter "$WORK/send.log" IpExtOutMcastPkts)" -eq 200 ] || fail "IpExtOutMcastPkts != 200"

step "the kernel sends 100 datagrams to $GROUP:7; ustack's echo joined the group"
interop_start_ustack "$WORK/recv.log" --serve udp-echo --join "$GROUP" --pcap "$WORK/igmp.pcap" --nstat
/usr/bin/python3 "$HERE/mcast_kernel.py" send "$GROUP" 7 100 || fail "not every datagram was echoed"
interop_stop_ustack
[ "$(counter "$WORK/recv.log" UdpInDatagrams)" -eq 100 ] || fail "UdpInDatagrams != 100"
[ "$(counter "$WORK/recv.log" IpExtInMcastPkts)" -ge 100 ] || fail "IpExtInMcastPkts < 100"

step "IGMPv2 in ustack's capture"
tcount() { tshark -r "$WORK/igmp.pcap" -Y "$1" 2>/dev/null | wc -l; }
[ "$(tcount "ip.src==$USTACK_IP && igmp.type==0x16 && igmp.maddr==$GROUP && ip.dst==$GROUP && ip.ttl==1")" -ge 1 ] ||
  fail "no IGMPv2 membership report for $GROUP"
[ "$(tcount "ip.src==$USTACK_IP && igmp.type==0x17 && igmp.maddr==$GROUP && ip.dst==224.0.0.2")" -eq 1 ] ||
  fail "no IGMPv2 leave for $GROUP"
bad=$(tcount '_ws.malformed || _ws.expert.severity >= "Error"')
[ "$bad" -eq 0 ] || {
  tshark -r "$WORK/igmp.pcap" -Y '_ws.malformed || _ws.expert.severity >= "Error"' -V 2>/dev/null | head -80
  fail "$bad bad packets in the capture"
}
echo PASS
