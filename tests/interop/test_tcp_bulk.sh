#!/usr/bin/env bash
# TCP bulk transfers with the Linux kernel as the peer, over a TAP in a
# private network namespace: 100 MiB each way (kernel client -> `ustack nc
# -l`, and `ustack nc` -> kernel listener) with equal sha256, then the same
# under loss, reordering and duplication injected on ustack's device, so
# both stacks must recover. All of it twice: with the TAP's offloads (the
# default: 64 KiB TCP super-frames and partial checksums each way, checked
# in ustack's device counters) and with --no-offload (plain frames, no
# super-frame either way).
set -euo pipefail
USTACK=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
interop_enter_netns "$@"

# rate T0 MIB: "in S s (R MB/s)" since T0 (date +%s.%N), whole runs
# including connection set-up and ustack's start.
rate() {
  awk -v t0="$1" -v t1="$(date +%s.%N)" -v mib="$2" \
    'BEGIN { d = t1 - t0; printf "in %.2f s (%.0f MB/s)", d, mib * 1.048576 / d }'
}

listening_5002() { ss -ltn | grep -q ":5002 "; }

# super_frames LOG DIR: the super-frames ustack's device counted in
# direction DIR (rx or tx) in the device line of its report at exit.
super_frames() {
  local v
  v=$(sed -n "s/^Device .*super-frames rx \([0-9]*\) ([0-9]* segments), tx \([0-9]*\) .*/\1 \2/p" "$1" | tail -1)
  [ -n "$v" ] || fail "no device line with super-frame counters in $1"
  set -- $v "$2"
  if [ "$3" = rx ]; then echo "$1"; else echo "$2"; fi
}

# check_mode NAME LOG DIR: ustack ran in $MODE, as its offloads line and
# the super-frames it counted in direction DIR (the data's) say: with
# offloads, all four granted and super-frames the data's way; without,
# "off" and not one super-frame either way.
check_mode() {
  local name=$1 log=$2 dir=$3 n
  if [ "$MODE" = offload ]; then
    grep -q "^ustack: $TAP offloads: tx-csum tso rx-csum gro$" "$log" ||
      fail "$name: offloads not all on: $(grep offloads "$log")"
    n=$(super_frames "$log" "$dir")
    [ "$n" -gt 0 ] || fail "$name: offloads on, yet no $dir super-frame: $(grep '^Device' "$log")"
  else
    grep -q "^ustack: $TAP offloads: off$" "$log" || fail "$name: --no-offload, yet: $(grep offloads "$log")"
    [ "$(super_frames "$log" rx)" -eq 0 ] && [ "$(super_frames "$log" tx)" -eq 0 ] ||
      fail "$name: --no-offload, yet super-frames: $(grep '^Device' "$log")"
  fi
  echo "$name ($MODE): $(sed -n 's/^Device [^:]*: .*; \(super-frames.*\)/\1/p' "$log" | tail -1)"
}

# transfer NAME SIZE_MIB [fault options...]: both directions, byte-exact,
# in $MODE (offload, or no-offload: ustack with --no-offload).
transfer() {
  local name=$1-$MODE mib=$2
  shift 2
  [ "$MODE" = offload ] || set -- --no-offload "$@"
  head -c "$((mib * 1024 * 1024))" /dev/urandom >"$WORK/in.bin"
  local want
  want=$(sha256sum <"$WORK/in.bin" | cut -d' ' -f1)

  # kernel -> ustack
  "$USTACK" nc --dev "$TAP" --addr "$USTACK_IP/24" --nstat "$@" -l 5001 \
    </dev/null >"$WORK/got1.bin" 2>"$WORK/$name.rx.log" &
  local pid=$!
  wait_until 20 "ustack nc -l to listen" grep -qs "listening on" "$WORK/$name.rx.log" || {
    kill "$pid" 2>/dev/null
    fail "$name: ustack nc -l not listening: $(cat "$WORK/$name.rx.log")"
  }
  local t0
  t0=$(date +%s.%N)
  timeout 300 socat -u "FILE:$WORK/in.bin" "TCP:$USTACK_IP:5001" || fail "$name: kernel sender failed"
  timeout 60 tail --pid="$pid" -f /dev/null || fail "$name: ustack nc -l did not finish"
  wait "$pid" || fail "$name: ustack nc -l exited $?: $(tail -5 "$WORK/$name.rx.log")"
  [ "$(sha256sum <"$WORK/got1.bin" | cut -d' ' -f1)" = "$want" ] || fail "$name: kernel->ustack differs"
  echo "ok: $name kernel -> ustack, $mib MiB $(rate "$t0" "$mib"), sha256 equal"
  check_mode "$name kernel -> ustack" "$WORK/$name.rx.log" rx

  # ustack -> kernel
  timeout 300 socat -u TCP-LISTEN:5002,reuseaddr "OPEN:$WORK/got2.bin,creat,trunc" &
  local spid=$!
  wait_until 10 "the kernel's listener on 5002" listening_5002 || {
    kill "$spid" 2>/dev/null
    fail "$name: kernel listener on 5002 not up"
  }
  t0=$(date +%s.%N)
  timeout 300 "$USTACK" nc --dev "$TAP" --addr "$USTACK_IP/24" --nstat "$@" "$KERNEL_IP" 5002 \
    <"$WORK/in.bin" 2>"$WORK/$name.tx.log" || fail "$name: ustack nc exited $?: $(tail -5 "$WORK/$name.tx.log")"
  wait "$spid" || fail "$name: kernel receiver failed"
  [ "$(sha256sum <"$WORK/got2.bin" | cut -d' ' -f1)" = "$want" ] || fail "$name: ustack->kernel differs"
  echo "ok: $name ustack -> kernel, $mib MiB $(rate "$t0" "$mib"), sha256 equal"
  check_mode "$name ustack -> kernel" "$WORK/$name.tx.log" tx
  grep -E "^(TcpRetransSegs|TcpExtTCPFastRetrans|TcpExtTCPTimeouts|TcpExtTCPSackRecovery|TcpExtTCPLossProbes|TcpExtTCPLostRetransmit) " \
    "$WORK/$name.tx.log" | tr '\n' ' '
  echo
}

# MiB per run: clean, then 1%, 5% and 10% loss; 100 MiB each, as the issue
# asks. The ASan pass of scripts/test.sh moves less (USTACK_TCP_BULK_MIB).
# The faults hit frames both ways; with offloads a lost super-frame is every
# segment in it lost.
# Then 2% of frames corrupted (a fifth figure, 20 MiB unless given): with
# offloads the injector cuts a super-frame and damages one of its segments,
# whose checksum the receiver must then find wrong.
read -r clean l1 l5 l10 corrupt <<<"${USTACK_TCP_BULK_MIB:-100 100 100 100 20}"
for MODE in offload no-offload; do
  step "$MODE"
  transfer clean "$clean"
  transfer loss1 "$l1" --loss 0.01 --reorder 0.01 --dup 0.01 --seed 11
  transfer loss5 "$l5" --loss 0.05 --reorder 0.02 --dup 0.02 --seed 12
  transfer loss10 "$l10" --loss 0.10 --reorder 0.02 --dup 0.02 --seed 13
  transfer corrupt2 "${corrupt:-$l1}" --corrupt 0.02 --seed 14
done
echo PASS
