#!/usr/bin/env bash
# examples/ built as a user builds them: ustack's build installed into a
# private prefix, the examples compiled and linked with only
# `pkg-config --cflags --libs ustack` from that prefix. Then, with the kernel
# as the peer over a TAP in a private network namespace: inproc_echo checks
# its own echo; the kernel's TCP client gets back exactly the 300 KB it sent
# to tap_echo; mcast_recv (joined to 239.1.2.3) prints each of 50 datagrams
# the kernel sends to the group and exits once it has them all.
set -euo pipefail
USTACK=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
interop_enter_netns "$@"
BUILD=$(dirname "$USTACK")
GROUP=239.1.2.3

step "install $BUILD into a private prefix; build examples/ with pkg-config"
cmake --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.log" ||
  fail "cmake --install failed: $(cat "$WORK/install.log")"
# A sanitizer build's library needs its runtime in the program too.
san=
if grep -q '^USTACK_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  san=-fsanitize=address,undefined
fi
export PKG_CONFIG_PATH=$WORK/prefix/lib/pkgconfig
pc=$(pkg-config --cflags --libs ustack) || fail "pkg-config does not know ustack"
for ex in inproc_echo tap_echo mcast_recv; do
  # shellcheck disable=SC2086 # pkg-config's output is a list of words
  cc -std=c11 -Wall -Wextra -Werror $san "$ROOT/examples/$ex.c" $pc -o "$WORK/$ex" ||
    fail "examples/$ex.c does not build against the installed ustack"
done

step "inproc_echo: two stacks in one process"
"$WORK/inproc_echo" >"$WORK/inproc.log" 2>&1 || fail "inproc_echo failed: $(cat "$WORK/inproc.log")"
grep -q "echoed 33 bytes: match" "$WORK/inproc.log" || fail "inproc_echo: $(cat "$WORK/inproc.log")"
echo "ok: $(cat "$WORK/inproc.log")"

# start_example LOG READY-PATTERN PROGRAM ARGS...: starts an example on the
# tap, waits (bounded) until it prints READY-PATTERN; sets EX_PID.
start_example() {
  local log=$1 ready=$2
  shift 2
  "$@" >"$log" 2>&1 &
  EX_PID=$!
  wait_until "$USTACK_START_SECONDS" "$(basename "$1") to start" grep -q "$ready" "$log" ||
    fail "$(basename "$1") did not start: $(cat "$log")"
}
# stop_example: SIGTERM, then it must exit 0 within 30 s.
stop_example() {
  local rc=0
  kill -TERM "$EX_PID" 2>/dev/null || true
  wait_until 30 "example (pid $EX_PID) to exit" gone "$EX_PID" || {
    kill -KILL "$EX_PID"
    fail "example did not exit on SIGTERM"
  }
  wait "$EX_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "example exited with status $rc"
}

step "tap_echo: the kernel's TCP client sends 300 KB and reads them back"
start_example "$WORK/tap_echo.log" "listening" "$WORK/tap_echo" "$TAP" "$USTACK_IP/24" 7
/usr/bin/python3 - "$USTACK_IP" <<'PY' || fail "echo through tap_echo: $(cat "$WORK/tap_echo.log")"
import socket, sys
data = bytes((i * 7) % 251 for i in range(300 * 1000))
s = socket.create_connection((sys.argv[1], 7), timeout=20)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
if bytes(got) != data:
    sys.exit("echoed %d bytes, not the %d sent (or different bytes)" % (len(got), len(data)))
print("ok: 300000 bytes echoed and the connection closed by tap_echo")
PY
stop_example
grep -q "connection from $KERNEL_IP:" "$WORK/tap_echo.log" || fail "tap_echo log: $(cat "$WORK/tap_echo.log")"

step "mcast_recv: joined $GROUP; the kernel sends 50 datagrams to $GROUP:5000"
ip route add 239.0.0.0/8 dev "$TAP"
"$WORK/mcast_recv" "$TAP" "$USTACK_IP/24" "$GROUP" 5000 50 >"$WORK/mcast.log" 2>&1 &
EX_PID=$!
wait_until "$USTACK_START_SECONDS" "mcast_recv to join" grep -q joined "$WORK/mcast.log" ||
  fail "mcast_recv did not start: $(cat "$WORK/mcast.log")"
/usr/bin/python3 - "$KERNEL_IP" "$GROUP" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[1]))
for i in range(50):
    s.sendto(b"datagram %d" % i, (sys.argv[2], 5000))
    time.sleep(0.002)
PY
# mcast_recv exits by itself (status 0) once it has printed 50 datagrams.
wait_until 20 "mcast_recv to receive 50 datagrams and exit" gone "$EX_PID" || {
  kill -KILL "$EX_PID"
  fail "mcast_recv did not get 50 datagrams: $(cat "$WORK/mcast.log")"
}
rc=0
wait "$EX_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "mcast_recv exited with status $rc: $(cat "$WORK/mcast.log")"
n=$(grep -c "^$KERNEL_IP:[0-9]*: datagram [0-9]*$" "$WORK/mcast.log" || true)
[ "$n" -eq 50 ] || fail "mcast_recv printed $n datagrams of 50: $(cat "$WORK/mcast.log")"
grep -q "^mcast_recv: 50 datagrams$" "$WORK/mcast.log" || fail "mcast_recv: $(cat "$WORK/mcast.log")"
echo "ok: mcast_recv printed all 50 datagrams and exited"
echo PASS
