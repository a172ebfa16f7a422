#!/usr/bin/env bash
# `ustack` on bad input: clear errors and non-zero exits, never a crash.
set -euo pipefail
USTACK=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
interop_enter_netns "$@"

# expect_error EXIT_CODE PATTERN ARGS...: ustack exits with EXIT_CODE and
# says something matching PATTERN on stderr.
expect_error() {
  local code=$1 pattern=$2 rc=0
  shift 2
  "$USTACK" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
  [ "$rc" -eq "$code" ] || fail "ustack $*: exit $rc, expected $code; stderr: $(cat "$WORK/err")"
  grep -qE -e "$pattern" "$WORK/err" || fail "ustack $*: stderr '$(cat "$WORK/err")' lacks /$pattern/"
  echo "ok: ustack $* -> $(head -1 "$WORK/err")"
}

grep -q "usage: ustack" <<<"$("$USTACK" --help)" || fail "--help"
grep -q -- "--sysctl KEY=VAL" <<<"$("$USTACK" tap --help)" || fail "tap --help"
grep -q -- "--send-udp A.B.C.D:PORT:COUNT" <<<"$("$USTACK" tap --help)" || fail "tap --help: --send-udp"
grep -q -- "--loss P" <<<"$("$USTACK" sim --help)" || fail "sim --help"

# tap --help lists every service --serve knows (the names its "unknown
# service" error gives), each with its port, and says the SIGUSR1 table has
# TCP sockets too.
tap_help=$("$USTACK" tap --help)
"$USTACK" tap --dev "$TAP" --addr 192.0.2.2/24 --serve nosuch >/dev/null 2>"$WORK/err" </dev/null || true
known=$(sed -n 's/.*(known: \(.*\)).*/\1/p' "$WORK/err")
[ -n "$known" ] || fail "no list of known services in: $(cat "$WORK/err")"
IFS=', ' read -r -a services <<<"$known"
[ "${#services[@]}" -ge 6 ] || fail "known services: '$known'"
for svc in "${services[@]}"; do
  grep -qE -- "^ +$svc\[:PORT\] +(TCP|UDP|HTTP).*\(port [0-9]+\)$" <<<"$tap_help" ||
    fail "tap --help does not list --serve $svc with its port"
done
grep -q "socket table, TCP and UDP" <<<"$tap_help" || fail "tap --help: SIGUSR1 table not TCP and UDP"
echo "ok: tap --help lists ${services[*]}"

expect_error 2 "unknown command 'bogus'" bogus
expect_error 2 "needs --dev and --addr" tap --dev "$TAP"
expect_error 2 "--addr expects A.B.C.D/N, got '192.0.2.300/24'" tap --dev "$TAP" --addr 192.0.2.300/24
expect_error 2 "--addr expects A.B.C.D/N, got '192.0.2.2'" tap --dev "$TAP" --addr 192.0.2.2
expect_error 2 "--addr expects A.B.C.D/N, got '192.0.2.2/33'" tap --dev "$TAP" --addr 192.0.2.2/33
expect_error 2 "--gw expects A.B.C.D" tap --dev "$TAP" --addr 192.0.2.2/24 --gw nonsense
expect_error 2 "probability between 0 and 1, got '1.5'" tap --dev "$TAP" --addr 192.0.2.2/24 --loss 1.5
expect_error 2 "--mtu must be between 68 and 9000" tap --dev "$TAP" --addr 192.0.2.2/24 --mtu 20
expect_error 2 "unknown sysctl key 'net.ipv4.nope'" tap --dev "$TAP" --addr 192.0.2.2/24 --sysctl net.ipv4.nope=1
expect_error 2 "invalid value 'x' for net.ipv4.ipfrag_time" tap --dev "$TAP" --addr 192.0.2.2/24 --sysctl net.ipv4.ipfrag_time=x
expect_error 2 "--sysctl expects KEY=VALUE" tap --dev "$TAP" --addr 192.0.2.2/24 --sysctl foo
expect_error 2 "unknown service 'tcp-magic'" tap --dev "$TAP" --addr 192.0.2.2/24 --serve udp-echo,tcp-magic
expect_error 2 "bad port in 'udp-echo:70000'" tap --dev "$TAP" --addr 192.0.2.2/24 --serve udp-echo:70000
expect_error 2 "http needs a directory" tap --dev "$TAP" --addr 192.0.2.2/24 --serve http
expect_error 2 "echo takes no directory" tap --dev "$TAP" --addr 192.0.2.2/24 --serve echo=/tmp
expect_error 2 "cannot start http on port 80: No such file or directory /nonexistent" tap --dev "$TAP" --addr 192.0.2.2/24 --serve http=/nonexistent
expect_error 2 "--join expects a multicast group" tap --dev "$TAP" --addr 192.0.2.2/24 --join 192.0.2.7
expect_error 2 "--send-udp expects A.B.C.D:PORT:COUNT" tap --dev "$TAP" --addr 192.0.2.2/24 --send-udp 192.0.2.1:0:5
expect_error 2 "--send-udp expects A.B.C.D:PORT:COUNT" tap --dev "$TAP" --addr 192.0.2.2/24 --send-udp 192.0.2.1:9:5:x
expect_error 1 "name too long|too long" tap --dev averyveryverylongtapname0 --addr 192.0.2.2/24
expect_error 2 "gateway is not on the interface's subnet" tap --dev "$TAP" --addr 192.0.2.2/24 --gw 198.51.100.1
expect_error 1 "cannot open.*pcap|No such file" tap --dev "$TAP" --addr 192.0.2.2/24 --pcap /nonexistent/dir/x.pcap

# The tap is busy while another ustack holds it.
interop_start_ustack "$WORK/first.log"
expect_error 1 "busy" tap --dev "$TAP" --addr 192.0.2.3/24
interop_stop_ustack

# No TUN/TAP driver: hide /dev/net/tun in a private mount namespace.
rc=0
unshare -m -- bash -c 'mount -t tmpfs none /dev/net && exec "$0" tap --dev ustap0 --addr 192.0.2.2/24' \
  "$USTACK" >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "no /dev/net/tun: exit $rc: $(cat "$WORK/err")"
grep -q "cannot open /dev/net/tun: No such file or directory" "$WORK/err" || fail "no tun: $(cat "$WORK/err")"
echo "ok: no /dev/net/tun -> $(head -1 "$WORK/err")"

# Without CAP_NET_ADMIN the tap cannot be attached: a clear error, no crash.
if command -v setpriv >/dev/null; then
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    "$USTACK" tap --dev "$TAP" --addr 192.0.2.2/24 >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
  [ "$rc" -eq 1 ] || fail "unprivileged: exit $rc: $(cat "$WORK/err")"
  grep -qE "Operation not permitted|Permission denied" "$WORK/err" || fail "unprivileged: $(cat "$WORK/err")"
  echo "ok: unprivileged -> $(head -1 "$WORK/err")"
fi
echo PASS
