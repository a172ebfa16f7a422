#!/usr/bin/env bash
# The Linux kernel pings ustack over a TAP device in a private network
# namespace: payloads of 56, 1472, 1473, 8000 and 65000 bytes (the large ones
# fragmented both ways), ARP, 20% injected loss, and tshark's verdict on
# ustack's capture.
set -euo pipefail
USTACK=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
interop_enter_netns "$@"

step "clean link: every size answered intact"
interop_start_ustack "$WORK/clean.log" --pcap "$WORK/clean.pcap" --nstat
for size in 56 1472 1473 8000 65000; do
  # ping checks each reply's payload against what it sent ("wrong data byte").
  out=$(ping -n -c 3 -i 0.2 -W 2 -s "$size" "$USTACK_IP" 2>&1) || true
  echo "$out" | tail -2
  echo "$out" | grep -q "3 packets transmitted, 3 received" || fail "size $size: $out"
  echo "$out" | grep -qi "wrong data" && fail "size $size: corrupted reply"
  echo "$out" | grep -q "bytes from $USTACK_IP: icmp_seq=1 ttl=64" || fail "size $size: no reply line"
done

step "ARP: the kernel resolved ustack's address to ustack's MAC"
mac=$(sed -n 's/.* mac \([0-9a-f:]*\) .*/\1/p' "$WORK/clean.log")
ip neigh show "$USTACK_IP" dev "$TAP" | grep -q "lladdr $mac" ||
  fail "kernel neighbour entry: $(ip neigh show "$USTACK_IP") (ustack mac $mac)"
# A fresh resolution: flush the kernel's entry and ping once more.
ip neigh flush dev "$TAP"
ping -n -c 1 -W 2 "$USTACK_IP" >/dev/null || fail "no reply after ARP flush"
interop_stop_ustack
cat "$WORK/clean.log" | grep -E "^(Ip|Icmp|Arp)" | awk '$2 != 0'

# 3 pings of each size; 1473, 8000, 65000 arrive fragmented and are answered fragmented.
[ "$(counter "$WORK/clean.log" IcmpInEchos)" -eq 16 ] || fail "IcmpInEchos != 16"
[ "$(counter "$WORK/clean.log" IcmpOutEchoReps)" -eq 16 ] || fail "IcmpOutEchoReps != 16"
[ "$(counter "$WORK/clean.log" IpReasmOKs)" -eq 9 ] || fail "IpReasmOKs != 9"
[ "$(counter "$WORK/clean.log" IpFragOKs)" -eq 9 ] || fail "IpFragOKs != 9"
[ "$(counter "$WORK/clean.log" IpReasmFails)" -eq 0 ] || fail "IpReasmFails != 0"
[ "$(counter "$WORK/clean.log" ArpInRequests)" -ge 1 ] || fail "no ARP request seen"
[ "$(counter "$WORK/clean.log" ArpOutReplies)" -ge 1 ] || fail "no ARP reply sent"

step "tshark reads ustack's capture: fragments both ways, nothing malformed"
tshark_count() { tshark -r "$WORK/clean.pcap" -o ip.check_checksum:TRUE -Y "$1" 2>/dev/null | wc -l; }
[ "$(tshark_count "ip.src==$USTACK_IP && ip.flags.mf==1")" -gt 0 ] || fail "ustack sent no fragments"
[ "$(tshark_count "ip.src==$KERNEL_IP && ip.flags.mf==1")" -gt 0 ] || fail "kernel sent no fragments"
[ "$(tshark_count "icmp.type==0 && icmp.resp_to")" -eq 16 ] || fail "tshark did not match 16 replies"
bad=$(tshark_count '_ws.malformed || _ws.expert.severity >= "Error" || ip.checksum.status == "Bad" || icmp.checksum.status == "Bad"')
[ "$bad" -eq 0 ] || { tshark -r "$WORK/clean.pcap" -o ip.check_checksum:TRUE -Y '_ws.malformed || _ws.expert.severity >= "Error"' | head; fail "$bad bad packets in the capture"; }
[ "$(tshark_count "arp.opcode==2 && arp.src.proto_ipv4==$USTACK_IP")" -ge 1 ] || fail "no ARP reply in the capture"
[ "$(tshark_count "arp.isgratuitous")" -ge 1 ] || fail "no gratuitous ARP in the capture"

step "20% loss injected on ustack's device"
interop_start_ustack "$WORK/lossy.log" --loss 0.2 --seed 7 --nstat
out=$(ping -n -c 60 -i 0.05 -W 1 "$USTACK_IP" 2>&1) || true
echo "$out" | tail -2
received=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
interop_stop_ustack
in_echos=$(counter "$WORK/lossy.log" IcmpInEchos)
out_reps=$(counter "$WORK/lossy.log" IcmpOutEchoReps)
dropped=$(sed -n 's/^Faults injected: \([0-9]*\) dropped.*/\1/p' "$WORK/lossy.log")
echo "kernel received $received of 60; ustack got $in_echos requests, sent $out_reps replies; injector dropped $dropped frames"
# With 20% loss each way about 64% of pings come back; 25 is far below that.
[ "$received" -ge 25 ] || fail "too few replies: $received"
[ "$received" -lt 60 ] || fail "no loss at all was seen"
[ "$in_echos" -eq "$out_reps" ] || fail "requests received ($in_echos) != replies sent ($out_reps)"
[ "$received" -le "$out_reps" ] || fail "kernel got more replies than ustack sent"
# Every request that did not arrive and every reply that did not return was
# dropped by the injector (which may also have dropped ARP frames).
lost=$(( (60 - in_echos) + (out_reps - received) ))
[ "$dropped" -ge "$lost" ] || fail "counters do not add up: $lost lost but only $dropped dropped"
echo "PASS"
