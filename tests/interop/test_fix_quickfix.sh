#!/usr/bin/env bash
# QuickFIX against QuickFIX over kernel TCP, the baseline the FIX engine's
# tests compare with: tests/fix/qf_peer as acceptor and as initiator in a
# private network namespace (on lo, at 192.0.2.1), FIX 4.4 then FIX 4.2, with
# the repo's data dictionaries validating every message (UseDataDictionary=Y).
# Checks, for each version: both sides log on and out and exit 0; the
# initiator sent N NewOrderSingle and got N ExecutionReports, each order
# exactly one; the acceptor counted the same N each way; no Reject(3) in
# either side's message log; and tshark's `fix` dissector, reading a capture
# of the run, decodes every message both logs hold (as many as the acceptor's
# log), with no malformed packet and every CheckSum(10) good.
#
# Usage: test_fix_quickfix.sh USTACK_BINARY (as every interop test; qf_peer is
# found beside it in tests/fix/, or set QF_PEER=path). Exit 77: skipped (not
# root, qf_peer not built, no tshark). QF_ORDERS=N changes the order count.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/lib.sh
source "$here/lib.sh"

QF_PEER=${QF_PEER:-$(dirname "${1:-.}")/tests/fix/qf_peer}
FIXDIR=$(cd "$here/../fix" && pwd)
ORDERS=${QF_ORDERS:-3000}
ADDR=192.0.2.1
PORT=9878

if [ ! -x "$QF_PEER" ]; then
  echo "SKIP: $QF_PEER not built (needs g++ and libquickfix-dev)"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (network namespace)"
  exit 77
fi
for tool in tshark dumpcap; do
  command -v "$tool" >/dev/null || {
    echo "SKIP: $tool not installed"
    exit 77
  }
done
if [ -z "${USTACK_IN_NETNS:-}" ]; then
  unshare -n true 2>/dev/null || {
    echo "SKIP: unshare -n failed"
    exit 77
  }
  USTACK_IN_NETNS=1 exec unshare -n -- bash "$0" "$@"
fi

ip link set lo up
ip addr add "$ADDR/32" dev lo
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -n "${USTACK_INTEROP_KEEP:-}" ]; then
    mkdir -p "$USTACK_INTEROP_KEEP" && cp -r "$WORK"/. "$USTACK_INTEROP_KEEP"/ || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# config TEMPLATE OUT BEGIN DICT DIR
config() {
  sed -e "s/@PORT@/$PORT/" -e "s/@HOST@/$ADDR/" -e "s,@DIR@,$5," -e "s,@FIXDIR@,$FIXDIR," \
    -e "s/@BEGIN@/$3/" -e "s/@DICT@/$4/" "$FIXDIR/$1" >"$2"
}

# num LOG WORDS: the number in the summary line before WORDS (e.g. "D,") or
# after it (e.g. "rejects-received"); fails if the summary is missing.
num() {
  local line v
  line=$(grep '^qf_peer: \(sent\|received\) [0-9]* ' "$1" | tail -1) ||
    fail "no summary line in $1: $(cat "$1")"
  v=$(sed -n "s/.* \([0-9][0-9]*\) $2.*/\1/p; t; s/.*[ ,]$2 \([0-9][0-9]*\).*/\1/p" <<<"$line")
  [ -n "$v" ] || fail "no '$2' in the summary of $1: $line"
  echo "$v"
}

captured() { grep -q "Capturing on" "$1"; }
listening() { ss -ltn "sport = :$PORT" | grep -q LISTEN; }

# run_version BEGIN DICT
run_version() {
  local begin=$1 dict=$2 dir="$WORK/$2" v
  mkdir -p "$dir"
  config acceptor.cfg.in "$dir/acceptor.cfg" "$begin" "$dict" "$dir"
  config initiator.cfg.in "$dir/initiator.cfg" "$begin" "$dict" "$dir"

  step "$begin: capture, acceptor, $ORDERS orders from the initiator"
  # Bounded: at most 120 s or 200000 packets even if the kill below is missed.
  # A 64 MiB capture buffer: a burst of orders on a loaded machine must not
  # overflow it (a dropped packet would be a message tshark cannot decode).
  dumpcap -q -B 64 -i lo -f "tcp port $PORT" -a duration:120 -c 200000 -w "$dir/fix.pcap" \
    2>"$dir/dumpcap.log" &
  local cap=$!
  PIDS+=("$cap")
  wait_until 10 "dumpcap to start" captured "$dir/dumpcap.log" || fail "$(cat "$dir/dumpcap.log")"

  "$QF_PEER" acceptor --config "$dir/acceptor.cfg" --once --log file >"$dir/acceptor.log" 2>&1 &
  local acc=$!
  PIDS+=("$acc")
  wait_until 10 "the acceptor to listen on $PORT" listening || fail "$(cat "$dir/acceptor.log")"

  local rc=0
  timeout 60 "$QF_PEER" initiator --config "$dir/initiator.cfg" --count "$ORDERS" --log file \
    --timeout 30 >"$dir/initiator.log" 2>&1 || rc=$?
  cat "$dir/initiator.log"
  [ "$rc" -eq 0 ] || fail "$begin: the initiator exited with $rc"

  wait_until 30 "the acceptor to exit after the logout" gone "$acc" ||
    fail "$begin: the acceptor is still running"
  rc=0
  wait "$acc" || rc=$?
  cat "$dir/acceptor.log"
  [ "$rc" -eq 0 ] || fail "$begin: the acceptor exited with $rc"
  kill -TERM "$cap" 2>/dev/null || true
  wait "$cap" 2>/dev/null || true

  step "$begin: counts on both sides"
  for v in "D," "8,"; do
    [ "$(num "$dir/initiator.log" "$v")" -eq "$ORDERS" ] ||
      fail "$begin: initiator counted $(num "$dir/initiator.log" "$v") ${v%,}, expected $ORDERS"
    [ "$(num "$dir/acceptor.log" "$v")" -eq "$ORDERS" ] ||
      fail "$begin: acceptor counted $(num "$dir/acceptor.log" "$v") ${v%,}, expected $ORDERS"
  done
  for log in initiator acceptor; do
    for v in rejects-received rejects-sent duplicates possdup-duplicates resend-requests-received; do
      [ "$(num "$dir/$log.log" "$v")" -eq 0 ] || fail "$begin: $log: $v is not 0"
    done
    [ "$(num "$dir/$log.log" logons)" -eq 1 ] || fail "$begin: $log did not log on once"
    [ "$(num "$dir/$log.log" logouts)" -eq 1 ] || fail "$begin: $log did not log out once"
  done

  step "$begin: no Reject(3) in QuickFIX's message logs"
  local mlog
  for mlog in "$dir"/log-*/"$begin"-*.messages.current.log; do
    [ -s "$mlog" ] || fail "$begin: message log $mlog missing or empty"
    ! grep -q $'\x0135=3\x01' "$mlog" || fail "$begin: a Reject in $mlog: $(grep -a $'\x0135=3\x01' "$mlog" | head -3 | tr '\001' '|')"
  done

  step "$begin: tshark's fix dissector reads the capture"
  local logged types nmsg nd n8 good bad malformed
  logged=$(wc -l <"$dir/log-acceptor/$begin-EXEC-CLIENT.messages.current.log")
  types=$(tshark -2 -r "$dir/fix.pcap" -d "tcp.port==$PORT,fix" -Y fix -T fields -E occurrence=a \
    -E aggregator=' ' -e fix.MsgType 2>"$dir/tshark.err" | tr ' ' '\n' | sed '/^$/d')
  nmsg=$(wc -l <<<"$types")
  nd=$(grep -c '^D$' <<<"$types" || true)
  n8=$(grep -c '^8$' <<<"$types" || true)
  good=$(tshark -2 -r "$dir/fix.pcap" -d "tcp.port==$PORT,fix" -Y fix -T fields -E occurrence=a \
    -E aggregator=' ' -e fix.checksum_good 2>>"$dir/tshark.err" | tr ' ' '\n' | grep -c -E '^(1|True)$' || true)
  bad=$(tshark -2 -r "$dir/fix.pcap" -d "tcp.port==$PORT,fix" -Y 'fix.checksum_bad == 1 || fix.checksum_bad.expert' \
    2>>"$dir/tshark.err" | wc -l)
  malformed=$(tshark -2 -r "$dir/fix.pcap" -d "tcp.port==$PORT,fix" -Y '_ws.malformed' 2>>"$dir/tshark.err" | wc -l)
  echo "tshark: $nmsg FIX messages ($nd D, $n8 8), $good checksums good, $bad bad, $malformed malformed; acceptor logged $logged"
  [ "$nmsg" -eq "$logged" ] || fail "$begin: tshark decoded $nmsg messages, the acceptor logged $logged"
  if [ "$nd" -ne "$ORDERS" ] || [ "$n8" -ne "$ORDERS" ]; then
    fail "$begin: tshark saw $nd NewOrderSingle and $n8 ExecutionReport, expected $ORDERS each"
  fi
  [ "$good" -eq "$nmsg" ] || fail "$begin: $good of $nmsg checksums good"
  [ "$bad" -eq 0 ] || fail "$begin: $bad frames with a bad checksum"
  [ "$malformed" -eq 0 ] || fail "$begin: $malformed malformed frames"
}

run_version FIX.4.4 FIX44
run_version FIX.4.2 FIX42
step "PASS"
