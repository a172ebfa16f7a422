# Shared set-up for interop tests against the Linux kernel. Every test runs
# in a private network namespace it creates itself (unshare -n), with a TAP
# device whose kernel side is 192.0.2.1/24 and ustack at 192.0.2.2/24. No
# other address is ever used. Sourced by tests/interop/test_*.sh.

KERNEL_IP=192.0.2.1
USTACK_IP=192.0.2.2
TAP=ustap0

# Skips (exit 77) unless root; re-executes the calling script in a new
# network namespace so nothing touches the host's interfaces.
interop_enter_netns() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: interop tests need root (network namespace and TAP device)"
    exit 77
  fi
  if [ -z "${USTACK_IN_NETNS:-}" ]; then
    if ! unshare -n true 2>/dev/null; then
      echo "SKIP: interop tests need a network namespace (unshare -n failed)"
      exit 77
    fi
    if [ ! -c /dev/net/tun ]; then
      echo "SKIP: interop tests need /dev/net/tun (the TUN/TAP driver)"
      exit 77
    fi
    USTACK_IN_NETNS=1 exec unshare -n -- bash "$0" "$@"
  fi
  ip link set lo up
  ip tuntap add dev "$TAP" mode tap
  ip addr add "$KERNEL_IP/24" dev "$TAP"
  ip link set "$TAP" up
  WORK=$(mktemp -d)
  USTACK_PID=
  trap interop_cleanup EXIT
}

# USTACK_INTEROP_KEEP=DIR keeps the run's logs and captures there, for debugging.
interop_cleanup() {
  interop_stop_ustack
  if [ -n "${USTACK_INTEROP_KEEP:-}" ]; then
    mkdir -p "$USTACK_INTEROP_KEEP" && cp "$WORK"/*.log "$WORK"/*.pcap "$USTACK_INTEROP_KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$WORK"
}

# interop_start_ustack LOG [ustack tap options...]: starts ustack on the tap
# and waits (bounded) until it reports it is up.
interop_start_ustack() {
  local log=$1
  shift
  "$USTACK" tap --dev "$TAP" --addr "$USTACK_IP/24" "$@" >"$log" 2>&1 &
  USTACK_PID=$!
  for _ in $(seq 100); do
    grep -q " up, " "$log" 2>/dev/null && return 0
    kill -0 "$USTACK_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: ustack did not start:"
  cat "$log"
  exit 1
}

# Stops the ustack we started (by pid) and waits for its counters; ustack
# must exit cleanly (0) on SIGTERM, so a crash or sanitizer report fails.
interop_stop_ustack() {
  local rc=0 pid=${USTACK_PID:-}
  [ -n "$pid" ] || return 0
  USTACK_PID=
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  [ "$rc" -eq 0 ] || fail "ustack exited with status $rc"
}

# counter LOG NAME: a counter from ustack's last report printed with --nstat
# ("IpReasmOKs   3"; SIGUSR1 reports come before the one at exit); fails the
# test if it is missing.
counter() {
  local v
  v=$(awk -v n="$2" '$1 == n { v = $2 } END { print v }' "$1")
  [ -n "$v" ] || fail "counter $2 not in $1"
  echo "$v"
}

# step TEXT: a heading with the seconds since the test began, so slow steps
# show in the log.
step() {
  echo "== [${SECONDS}s] $*"
}

fail() {
  echo "FAIL: $*"
  exit 1
}
