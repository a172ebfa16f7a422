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
  local pid=$USTACK_PID
  wait_until "$USTACK_START_SECONDS" "ustack to come up" up_or_gone "$log" "$pid" || true
  grep -q " up, " "$log" && return 0
  USTACK_PID=
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: ustack did not report it was up within ${USTACK_START_SECONDS}s:"
    kill -TERM "$pid" 2>/dev/null || true
  else
    echo "FAIL: ustack exited before it was up:"
  fi
  cat "$log"
  exit 1
}

# up_or_gone LOG PID: ustack said it is up, or it is no longer running.
up_or_gone() {
  grep -q " up, " "$1" || ! kill -0 "$2"
}

# Seconds ustack may take to come up (an ASan build on a busy machine is slow).
USTACK_START_SECONDS=${USTACK_START_SECONDS:-20}

# wait_until SECONDS WHAT COMMAND...: runs COMMAND every 50 ms until it
# succeeds (returns 0) or SECONDS of real time pass (prints "timed out
# after SECONDS s waiting for WHAT" and returns 1).
wait_until() {
  local secs=$1 what=$2
  shift 2
  local end=$((${EPOCHREALTIME/./} + secs * 1000000)) # microseconds
  while ! "$@" 2>/dev/null; do
    if [ "${EPOCHREALTIME/./}" -ge "$end" ]; then
      echo "timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.05
  done
}

# Stops the ustack we started (by pid) and waits for its counters; ustack
# must exit cleanly (0) on SIGTERM, so a crash or sanitizer report fails.
interop_stop_ustack() {
  local rc=0 pid=${USTACK_PID:-}
  [ -n "$pid" ] || return 0
  USTACK_PID=
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until 60 "ustack (pid $pid) to exit on SIGTERM" gone "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    fail "ustack did not exit within 60 s of SIGTERM"
  fi
  wait "$pid" 2>/dev/null || rc=$?
  [ "$rc" -eq 0 ] || fail "ustack exited with status $rc"
}

# gone PID: the process has exited (or is a zombie waiting for wait).
gone() {
  ! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
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

# reports LOG: how many reports (socket tables) ustack has printed to LOG.
reports() { grep -c "^State " "$1" || true; }
# usr1_report LOG: SIGUSR1, then waits (bounded) for one more table. The
# counters, printed before the table, are then complete; the table's rows
# may still be on their way.
usr1_report() {
  local before
  before=$(reports "$1")
  kill -USR1 "$USTACK_PID"
  wait_until 10 "SIGUSR1 report $((before + 1))" more_reports "$1" "$before" ||
    fail "no SIGUSR1 report"
}
more_reports() { [ "$(reports "$1")" -gt "$2" ]; }

# step TEXT: a heading with the seconds since the test began, so slow steps
# show in the log.
step() {
  echo "== [${SECONDS}s] $*"
}

# On stderr, so it shows even from inside $(...).
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
