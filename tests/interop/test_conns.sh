#!/usr/bin/env bash
# Many connections at once, the kernel as the client: 1,000 concurrent
# connections to `ustack tap --serve echo`, opened together, each writing
# 16 KiB and reading the echo back (bench/conns/conn_load.c, every byte
# checked). Every connection must complete with every byte right; the burst
# of SYNs must fit the echo service's listen backlog (no SYN cookies: a
# cookie handshake whose final ACK is lost ends in a reset); and ustack must
# give its memory back once the connections have closed (resident size back
# to within a quarter of what the load added, within 10 s). No timing asserts.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"

CONNS=1000
BYTES=16384
ulimit -n $((CONNS + 1024))
cc -O2 -std=gnu11 -Wall -Wextra -Werror -o "$WORK/conn_load" "$HERE/../../bench/conns/conn_load.c" ||
  fail "cannot build bench/conns/conn_load.c"

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

interop_start_ustack "$WORK/echo.log" --serve echo --nstat
before=$(rss_kb "$USTACK_PID" VmRSS)

step "$CONNS connections at once, $BYTES bytes echoed on each"
out=$("$WORK/conn_load" "$USTACK_IP" 7 "$CONNS" "$BYTES" 120) || {
  echo "$out"
  fail "the load did not complete"
}
echo "$out"
echo "$out" | grep -q "\"completed\":$CONNS," || fail "not every connection completed"
echo "$out" | grep -q "\"bytes_verified\":$((CONNS * BYTES))," || fail "not every byte came back"

# ASan's allocator keeps freed memory in quarantine: the check means
# nothing there.
# (grep -c, not -q: an early exit would fail the pipe under pipefail.)
if [ "$( (nm "$USTACK" 2>/dev/null; ldd "$USTACK" 2>/dev/null) | grep -c "__asan_init\|libasan")" -gt 0 ]; then
  echo "skip: the memory check (sanitizer build)"
else
  step "memory given back after the last close"
  peak=$(rss_kb "$USTACK_PID" VmHWM)
  limit=$((before + (peak - before) / 4))
  given_back() { [ "$(rss_kb "$USTACK_PID" VmRSS)" -le "$limit" ]; }
  wait_until 10 "ustack's RSS to fall to ${limit} kB (before ${before} kB, peak ${peak} kB)" given_back ||
    fail "RSS still $(rss_kb "$USTACK_PID" VmRSS) kB 10 s after the load"
  echo "ok: RSS ${before} kB before, ${peak} kB at peak, $(rss_kb "$USTACK_PID" VmRSS) kB after"
fi

interop_stop_ustack
step "counters"
grep -E "^(TcpRetransSegs|TcpExtTCPTimeouts|TcpExtTCPLossUndo|TcpExtTCPLossProbes|TcpExtSyncookiesSent|TcpOutRsts) " "$WORK/echo.log" || true
[ "$(counter "$WORK/echo.log" TcpPassiveOpens)" -eq "$CONNS" ] || fail "not $CONNS passive opens"
[ "$(counter "$WORK/echo.log" TcpExtSyncookiesSent)" -eq 0 ] || fail "SYN cookies sent: the burst overflowed the SYN queue"
[ "$(counter "$WORK/echo.log" TcpOutRsts)" -eq 0 ] || fail "ustack reset connections"
echo "PASS"
