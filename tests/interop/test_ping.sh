#!/usr/bin/env bash
# The Linux kernel pings ustack over a TAP device in a private network
# namespace: payloads of 56, 1472, 1473, 8000 and 65000 bytes (the large ones
# fragmented both ways), every reply's size and bytes, ARP, 20% injected
# loss with every frame accounted for, and tshark's verdict on ustack's
# capture.
set -euo pipefail
USTACK=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
interop_enter_netns "$@"

step "clean link: every size answered intact"
interop_start_ustack "$WORK/clean.log" --pcap "$WORK/clean.pcap" --nstat
# replies_ok OUT SIZE COUNT: ping's output OUT holds COUNT reply lines, each
# of SIZE + 8 bytes (the ICMP header and the whole payload), none truncated,
# duplicated or with a wrong data byte (ping compares each reply's payload
# with its request's).
replies_ok() {
  local out=$1 size=$2 count=$3 lines
  lines=$(echo "$out" | grep " bytes from $USTACK_IP: icmp_seq=" || true)
  [ "$(echo "$lines" | grep -c .)" -eq "$count" ] || fail "size $size: not $count reply lines: $out"
  echo "$lines" | grep -v "^$((size + 8)) bytes from $USTACK_IP: icmp_seq=[0-9]* ttl=64 time=[0-9.]* ms$" |
    grep . && fail "size $size: a reply not of $((size + 8)) bytes, or truncated, or duplicated"
  grep -qiE "wrong data|truncated|DUP!" <<<"$out" && fail "size $size: bad reply: $out"
  return 0
}

for size in 56 1472 1473 8000 65000; do
  out=$(ping -n -c 3 -i 0.2 -W 2 -s "$size" "$USTACK_IP" 2>&1) || true
  echo "$out" | tail -2
  grep -q "3 packets transmitted, 3 received" <<<"$out" || fail "size $size: $out"
  replies_ok "$out" "$size" 3
  echo "ok: 3 replies of $((size + 8)) bytes, payload intact"
done

step "ARP: the kernel resolved ustack's address to ustack's MAC"
mac=$(sed -n 's/.* mac \([0-9a-f:]*\) .*/\1/p' "$WORK/clean.log")
grep -q "lladdr $mac" <<<"$(ip neigh show "$USTACK_IP" dev "$TAP")" ||
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

step "20% loss injected on ustack's device: every frame accounted for"
# Two captures: ustack's (--pcap: what the stack sent and what reached it,
# above the injector) and the kernel's on the tap (below it). Which frames
# the injector drops depends on how the kernel's frames interleave with
# ustack's, so nothing here is a threshold on how many got through: each
# count must equal what the other side's counters and captures say.
# No IPv6 on the tap: the kernel sends nothing of its own accord (router
# solicitations, MLD reports), which ustack would miss after it stops.
sysctl -qw "net.ipv6.conf.$TAP.disable_ipv6=1" 2>/dev/null || true
dumpcap -q -i "$TAP" -P -w "$WORK/kern.pcap" >"$WORK/dumpcap.log" 2>&1 &
cap=$!
wait_until 10 "dumpcap on $TAP" test -s "$WORK/kern.pcap" || fail "dumpcap: $(cat "$WORK/dumpcap.log")"
interop_start_ustack "$WORK/lossy.log" --loss 0.2 --seed 7 --nstat --pcap "$WORK/lossy.pcap"
mac=$(sed -n 's/.* mac \([0-9a-f:]*\) .*/\1/p' "$WORK/lossy.log")
# The kernel knows ustack's MAC, so all 60 requests go out (none waits on
# an ARP exchange the injector might break three times running).
ip neigh replace "$USTACK_IP" lladdr "$mac" dev "$TAP" nud permanent
out=$(ping -n -c 60 -i 0.05 -W 1 "$USTACK_IP" 2>&1) || true
echo "$out" | tail -2
interop_stop_ustack
sleep 0.2 # the last replies' frames reach dumpcap's file
kill -INT "$cap"
wait_until 10 "dumpcap to finish" gone "$cap" || fail "dumpcap did not stop"
wait "$cap" || true
transmitted=$(echo "$out" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
received=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
[ "$transmitted" = 60 ] || fail "ping sent ${transmitted:-no} requests, not 60: $out"
replies_ok "$out" 56 "$received"

in_echos=$(counter "$WORK/lossy.log" IcmpInEchos)
out_reps=$(counter "$WORK/lossy.log" IcmpOutEchoReps)
unresolved=$(counter "$WORK/lossy.log" ArpUnresolvedDiscards)
dropped=$(sed -n 's/^Faults injected: \([0-9]*\) dropped.*/\1/p' "$WORK/lossy.log")
# pc PCAP FILTER: how many frames of the capture match.
pc() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l; }
req="icmp.type == 8 && ip.src == $KERNEL_IP" rep="icmp.type == 0 && ip.src == $USTACK_IP"
k_req=$(pc "$WORK/kern.pcap" "$req") u_req=$(pc "$WORK/lossy.pcap" "$req")
u_rep=$(pc "$WORK/lossy.pcap" "$rep") k_rep=$(pc "$WORK/kern.pcap" "$rep")
k_from_us=$(pc "$WORK/kern.pcap" "eth.src == $mac") k_to_us=$(pc "$WORK/kern.pcap" "eth.src != $mac")
u_from_us=$(pc "$WORK/lossy.pcap" "eth.src == $mac") u_to_us=$(pc "$WORK/lossy.pcap" "eth.src != $mac")
echo "requests: kernel sent $k_req, ustack got $u_req (IcmpInEchos $in_echos); replies: ustack" \
  "sent $u_rep (IcmpOutEchoReps $out_reps, $unresolved awaiting ARP dropped), kernel got $k_rep" \
  "(ping: $received); frames: kernel->ustack $k_to_us -> $u_to_us, ustack->kernel $u_from_us ->" \
  "$k_from_us; injector dropped $dropped"
[ "$k_req" -eq 60 ] || fail "the kernel's capture holds $k_req requests, ping sent 60"
[ "$u_req" -eq "$in_echos" ] || fail "ustack's capture holds $u_req requests, IcmpInEchos $in_echos"
[ "$in_echos" -eq "$out_reps" ] || fail "requests received ($in_echos) != replies sent ($out_reps)"
[ "$u_rep" -eq $((out_reps - unresolved)) ] ||
  fail "ustack's capture holds $u_rep replies; it made $out_reps, $unresolved dropped awaiting ARP"
[ "$k_rep" -eq "$received" ] || fail "the kernel's capture holds $k_rep replies, ping counted $received"
# Below the injector only frames it passed; above it every frame: the
# difference each way is exactly what it says it dropped.
[ "$u_to_us" -le "$k_to_us" ] && [ "$k_from_us" -le "$u_from_us" ] ||
  fail "a capture holds frames the other never saw"
[ $((k_to_us - u_to_us + u_from_us - k_from_us)) -eq "$dropped" ] ||
  fail "$((k_to_us - u_to_us)) frames lost inbound + $((u_from_us - k_from_us)) outbound != $dropped dropped"
[ "$((k_req - u_req))" -gt 0 ] && [ "$((u_rep - k_rep))" -gt 0 ] ||
  fail "no request or no reply was lost: the injector did nothing to the pings"
[ "$received" -gt 0 ] || fail "no reply at all came back"
step "loss in one direction only (--fault-dir): the other direction loses nothing"
# 50% loss on what ustack receives (rx) or sends (tx), 30 pings each; the
# kernel knows ustack's MAC, so no ARP exchange is at stake.
for dir in rx tx; do
  interop_start_ustack "$WORK/dir-$dir.log" --loss 0.5 --fault-dir "$dir" --seed 3 --nstat
  mac=$(sed -n 's/.* mac \([0-9a-f:]*\) .*/\1/p' "$WORK/dir-$dir.log")
  ip neigh replace "$USTACK_IP" lladdr "$mac" dev "$TAP" nud permanent
  out=$(ping -n -c 30 -i 0.02 -W 1 "$USTACK_IP" 2>&1) || true
  interop_stop_ustack
  received=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
  in_echos=$(counter "$WORK/dir-$dir.log" IcmpInEchos)
  out_reps=$(counter "$WORK/dir-$dir.log" IcmpOutEchoReps)
  echo "$dir: ustack got $in_echos of 30 requests and sent $out_reps replies; the kernel got $received"
  [ "$out_reps" -eq "$in_echos" ] || fail "$dir: $in_echos requests but $out_reps replies"
  if [ "$dir" = rx ]; then
    [ "$in_echos" -lt 30 ] && [ "$in_echos" -gt 0 ] || fail "rx: $in_echos of 30 requests arrived"
    [ "$received" -eq "$out_reps" ] || fail "rx: a reply was lost on the way out ($received of $out_reps)"
  else
    [ "$in_echos" -eq 30 ] || fail "tx: a request was lost on the way in ($in_echos of 30)"
    [ "$received" -lt 30 ] && [ "$received" -gt 0 ] || fail "tx: the kernel got $received of 30 replies"
  fi
done
echo "PASS"
