#!/usr/bin/env bash
# Many connections at once: N concurrent kernel TCP connections (default
# 10,000), each writing 16 KiB and reading the echo back (bench/conns/
# conn_load.c, one epoll loop, every byte checked), against
#   - ustack: `ustack tap --serve echo` on a TAP, and
#   - the kernel: an asyncio echo server (bench/conns/echo_asyncio.py, Python
#     3 on the kernel's TCP) in a second network namespace behind a veth
#     pair with TSO, GSO and GRO off,
# alternating ustack, kernel, ustack, kernel... in the same run.
#
#   bench/conns_bench.sh [--quick] [--runs N] [--conns N] [--after S]
#
# In a private network namespace it creates itself (unshare -n): the TAP's
# kernel side is 192.0.2.1/24 and ustack 192.0.2.2/24; the veth's client end
# is 198.51.100.1/24, the kernel server 198.51.100.2/24. The client
# namespace has local ports 1024-65535 and tcp_tw_reuse=1 (so runs do not
# run out of ports), and a descriptor limit above N.
#
# Prints one JSON row per figure on stdout (the row format of
# scripts/bench.sh, see bench/run_bench.py): the load's total time; the
# segments the server retransmitted, its RTO timeouts and the timeouts it
# later undid as spurious (ustack's counters from `ustack tap --nstat` at
# SIGTERM; the kernel server's from nstat in its namespace); ustack's
# resident memory before the load, at its peak and S seconds (--after,
# default 5) after the last connection closed (against the asyncio
# process's, which is a different program: the row is there for the
# figure, not the ratio); and the connections that did not complete (reset
# or timed out: the time of such a run is left out, so the time row's runs
# may be fewer). A table on stderr. --quick: 2 runs of 2,000 connections,
# RSS read 2 s after (under a minute unless the stack stalls on timeouts);
# default 3 runs of 10,000. USTACK=path overrides build/ustack;
# USTACK_BASELINE=path adds a third server in the alternation, an older
# ustack, whose figures go to stderr and to one JSON line without "figure"
# (kept as "extra" by scripts/bench.sh). Exits 77
# (skipped) when not root or without unshare, /dev/net/tun or veth; 1 when
# a byte came back wrong (never for slowness or lost connections, which
# the rows show).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=3
CONNS=10000
BYTES=16384
AFTER=5 # seconds after the last close that the resident size is read
while [ $# -gt 0 ]; do
  case $1 in
  --quick) RUNS=2 CONNS=2000 AFTER=2 ;;
  --after) AFTER=$2 && shift ;;
  --runs) RUNS=$2 && shift ;;
  --conns) CONNS=$2 && shift ;;
  *) echo "usage: $0 [--quick] [--runs N] [--conns N] [--after S]" >&2 && exit 2 ;;
  esac
  shift
done

USTACK=${USTACK:-$ROOT/build/ustack}
OUT=${CONNS_BENCH_BUILD:-$ROOT/build/bench-conns}
TAP=cb0
KERNEL_IP=192.0.2.1
STACK_IP=192.0.2.2
VETH_CLIENT_IP=198.51.100.1
VETH_SERVER_IP=198.51.100.2
LIMIT=$((60 + CONNS / 100)) # seconds one load may take before it gives up

if [ -z "${CONNS_BENCH_IN_NETNS:-}" ]; then
  if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null || [ ! -c /dev/net/tun ]; then
    echo "conns_bench: skipped: needs root, unshare -n and /dev/net/tun" >&2
    exit 77
  fi
  [ -x "$USTACK" ] || {
    echo "conns_bench: $USTACK not built (bash scripts/build.sh build)" >&2
    exit 1
  }
  command -v ethtool >/dev/null || {
    echo "conns_bench: ethtool missing (bash scripts/install-deps.sh)" >&2
    exit 1
  }
  mkdir -p "$OUT"
  cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -o "$OUT/conn_load" "$ROOT/bench/conns/conn_load.c"
  CONNS_BENCH_IN_NETNS=1 exec unshare -n -- bash "$0" --runs "$RUNS" --conns "$CONNS" --after "$AFTER"
fi

WORK=$(mktemp -d)
PEER_PID=
cleanup() {
  stop_peer
  rm -rf "$WORK"
}
trap cleanup EXIT

ulimit -n $((CONNS + 1024)) 2>/dev/null || {
  echo "conns_bench: cannot raise the descriptor limit to $((CONNS + 1024)) (hard limit $(ulimit -Hn))" >&2
  exit 1
}
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
ip tuntap add dev "$TAP" mode tap
ip addr add "$KERNEL_IP/24" dev "$TAP"
ip link set "$TAP" up
if ! ip link add cv0 type veth peer name cv1 2>/dev/null; then
  echo "conns_bench: skipped: no veth" >&2
  exit 77
fi
ip link del cv0

RESULTS=$WORK/results # lines: METRIC PEER VALUE

# rss_kb PID [VmRSS|VmHWM]
rss_kb() {
  awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# nstat_val FILE NAME: the counter NAME from `nstat -a` output in FILE.
nstat_val() {
  awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"
}

client_retrans() {
  nstat -asz TcpRetransSegs 2>/dev/null | awk '$1 == "TcpRetransSegs" { print $2 }'
}

# start_ustack BINARY: ustack on the TAP serving echo; waits (at most 20 s)
# for it.
start_ustack() {
  local log=$WORK/ustack.log i
  ip neigh flush dev "$TAP" 2>/dev/null || true
  # The TAP's queue as each ustack would find it on a fresh TAP (the TAP
  # is kept between runs; a stack may change its queue length at open).
  ip link set "$TAP" txqueuelen 1000
  "$1" tap --dev "$TAP" --addr "$STACK_IP/24" --serve echo --nstat >"$log" 2>&1 &
  PEER_PID=$!
  for i in $(seq 200); do
    grep -q " up, " "$log" 2>/dev/null && return 0
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "conns_bench: ustack did not come up: $(cat "$log")" >&2
  stop_peer
  return 1
}

# start_kernel: a namespace of its own with one end of a veth pair, the
# asyncio echo server in it; waits (at most 20 s) for it.
start_kernel() {
  local log=$WORK/kernel.log i
  unshare -n -- bash -c '
    for i in $(seq 100); do ip link show cv1 >/dev/null 2>&1 && break; sleep 0.1; done
    ip link set lo up
    ip addr add '"$VETH_SERVER_IP"'/24 dev cv1
    ethtool -K cv1 tso off gso off gro off >/dev/null 2>&1
    ip link set cv1 up
    exec /usr/bin/python3 '"$ROOT"'/bench/conns/echo_asyncio.py '"$VETH_SERVER_IP"' 7' >"$log" 2>&1 &
  PEER_PID=$!
  ip link add cv0 type veth peer name cv1
  ip link set cv1 netns "$PEER_PID"
  ip addr add "$VETH_CLIENT_IP/24" dev cv0
  ethtool -K cv0 tso off gso off gro off >/dev/null
  ip link set cv0 up
  for i in $(seq 200); do
    grep -q "up" "$log" 2>/dev/null && return 0
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "conns_bench: the kernel's echo server did not come up: $(cat "$log")" >&2
  stop_peer
  return 1
}

# stop_peer: SIGTERM to the server we started, SIGKILL after 10 s.
stop_peer() {
  local pid=${PEER_PID:-} i
  [ -n "$pid" ] || return 0
  PEER_PID=
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  ip link del cv0 2>/dev/null || true
}

FAILED=0

# load PEER ADDR: runs the load, records its time (only when every
# connection completed), the connections lost and the client's
# retransmissions.
load() {
  local peer=$1 addr=$2 line secs done r0 r1
  r0=$(client_retrans)
  line=$(timeout $((LIMIT + 30)) "$OUT/conn_load" "$addr" 7 "$CONNS" "$BYTES" "$LIMIT" 2>"$WORK/load.err") || true
  r1=$(client_retrans)
  echo "conns_bench: $peer: $line" >&2
  head -5 "$WORK/load.err" >&2
  secs=$(printf '%s' "$line" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
  done=$(printf '%s' "$line" | sed -n 's/.*"completed":\([0-9]*\).*/\1/p')
  echo "client_retrans $peer $((r1 - r0))" >>"$RESULTS"
  echo "lost $peer $((CONNS - ${done:-0}))" >>"$RESULTS"
  if [ -n "$secs" ] && [ "${done:-0}" -eq "$CONNS" ]; then
    echo "seconds $peer $secs" >>"$RESULTS"
  else
    echo "conns_bench: $peer: $((CONNS - ${done:-0})) of $CONNS connections did not complete" >&2
  fi
  if grep -q "wrong byte\|more than were sent" "$WORK/load.err"; then
    echo "conns_bench: $peer: bytes came back wrong" >&2
    FAILED=1
  fi
}

# measure_ustack NAME BINARY
measure_ustack() {
  local name=$1
  start_ustack "$2" || {
    FAILED=1
    return 0
  }
  local pid=$PEER_PID
  echo "rss_before $name $(rss_kb "$pid" VmRSS)" >>"$RESULTS"
  load "$name" "$STACK_IP"
  sleep "$AFTER"
  echo "rss_after $name $(rss_kb "$pid" VmRSS)" >>"$RESULTS"
  echo "rss_peak $name $(rss_kb "$pid" VmHWM)" >>"$RESULTS"
  stop_peer
  local log=$WORK/ustack.log
  echo "retrans $name $(nstat_val "$log" TcpRetransSegs)" >>"$RESULTS"
  echo "timeouts $name $(nstat_val "$log" TcpExtTCPTimeouts)" >>"$RESULTS"
  echo "spurious $name $(nstat_val "$log" TcpExtTCPLossUndo)" >>"$RESULTS"
  echo "conns_bench: $name: $(grep -E '^(TcpRetransSegs|TcpExtTCPTimeouts|TcpExtTCPLossUndo|TcpExtTCPSpuriousRTOs|TcpExtTCPDSACKRecv|TcpExtListenOverflows|TcpExtListenDrops|TcpExtTCPReqQFullDrop|TcpExtSyncookiesSent|LinkPoolExhausted|LinkRxBudgetExhausted) ' "$log" | awk '{ printf "%s=%s ", $1, $2 }')$(grep '^Device' "$log")" >&2
}

measure_kernel() {
  start_kernel || {
    FAILED=1
    return 0
  }
  local pid=$PEER_PID
  echo "rss_before kernel $(rss_kb "$pid" VmRSS)" >>"$RESULTS"
  load kernel "$VETH_SERVER_IP"
  sleep "$AFTER"
  echo "rss_after kernel $(rss_kb "$pid" VmRSS)" >>"$RESULTS"
  echo "rss_peak kernel $(rss_kb "$pid" VmHWM)" >>"$RESULTS"
  nsenter --net="/proc/$pid/ns/net" nstat -asz >"$WORK/kernel.nstat" 2>/dev/null || true
  stop_peer
  echo "retrans kernel $(nstat_val "$WORK/kernel.nstat" TcpRetransSegs)" >>"$RESULTS"
  echo "timeouts kernel $(nstat_val "$WORK/kernel.nstat" TcpExtTCPTimeouts)" >>"$RESULTS"
  echo "spurious kernel $(nstat_val "$WORK/kernel.nstat" TcpExtTCPLossUndo)" >>"$RESULTS"
}

echo "conns_bench: $RUNS runs of $CONNS connections x $BYTES bytes echoed, ustack and kernel alternating" >&2
for r in $(seq "$RUNS"); do
  echo "conns_bench: run $r/$RUNS" >&2
  measure_ustack ustack "$USTACK"
  [ -z "${USTACK_BASELINE:-}" ] || measure_ustack baseline "$USTACK_BASELINE"
  measure_kernel
done

/usr/bin/python3 - "$RESULTS" "$CONNS" "$BYTES" "$AFTER" <<'EOF'
import json, statistics, sys

vals = {}
for line in open(sys.argv[1]):
    m, p, v = line.split()
    vals.setdefault((m, p), []).append(float(v))
conns, size, after = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def stats(m, p, scale=1.0):
    xs = [x * scale for x in vals.get((m, p), [])]
    if not xs:
        return None
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3),
            "max": round(max(xs), 3), "runs": len(xs)}

load = "%d conns x %d KiB echo" % (conns, size // 1024)
peer = "kernel (asyncio echo, veth, offloads off)"
rows = [
    ("conns_echo_seconds", "Conns: " + load + ", total time", "s", "lower", "seconds", 1.0, None),
    ("conns_echo_lost", "Conns: " + load + ", connections not completed", "conns", "lower",
     "lost", 1.0, "reset or timed out; a run with any is left out of the time row"),
    ("conns_echo_retrans", "Conns: " + load + ", server segments retransmitted", "segments",
     "lower", "retrans", 1.0, None),
    ("conns_echo_rto", "Conns: " + load + ", server RTO timeouts", "timeouts", "lower",
     "timeouts", 1.0, None),
    ("conns_echo_rto_spurious", "Conns: " + load + ", server RTOs undone as spurious", "timeouts",
     "lower", "spurious", 1.0, "TcpExtTCPLossUndo"),
    ("conns_echo_client_retrans", "Conns: " + load + ", client (kernel) segments retransmitted",
     "segments", "lower", "client_retrans", 1.0, "the kernel client's TcpRetransSegs"),
    ("conns_echo_rss_before", "Conns: " + load + ", server RSS before", "MB", "lower",
     "rss_before", 1 / 1024, "peer: the python3 process"),
    ("conns_echo_rss_peak", "Conns: " + load + ", server RSS at peak", "MB", "lower", "rss_peak",
     1 / 1024, "peer: the python3 process; the kernel's own socket memory is not in it"),
    ("conns_echo_rss_after", "Conns: " + load + ", server RSS %s s after the last close" % after, "MB",
     "lower", "rss_after", 1 / 1024, "peer: the python3 process"),
]
table = []
baseline = {}
for name, label, unit, better, m, scale, note in rows:
    b = stats(m, "baseline", scale)
    if b:
        baseline[name] = b
    u, p = stats(m, "ustack", scale), stats(m, "kernel", scale)
    ratio = None
    if u and p and u["median"] and p["median"]:
        ratio = round(u["median"] / p["median"] if better == "higher"
                      else p["median"] / u["median"], 3)
    row = {"figure": label, "name": name, "unit": unit, "better": better, "ustack": u,
           "peer_name": peer, "peer": p, "ratio": ratio}
    if note:
        row["note"] = note
    print(json.dumps(row), flush=True)
    table.append((name, unit, u, p, ratio))

def fmt(s):
    return "-" if not s else "%.1f [%.1f-%.1f]" % (s["median"], s["min"], s["max"])

err = sys.stderr
if baseline:
    print(json.dumps({"conns_baseline": baseline}), flush=True)
err.write("\n%-28s %-9s %-24s %-24s %s\n" % ("figure", "unit", "ustack median [min-max]",
                                              "kernel median [min-max]", "ratio"))
for name, unit, u, p, ratio in table:
    err.write("%-28s %-9s %-24s %-24s %s\n" % (name, unit, fmt(u), fmt(p),
                                               "-" if ratio is None else "%.2f" % ratio))
    if name in baseline:
        err.write("%-28s %-9s %-24s\n" % ("  baseline ustack", unit, fmt(baseline[name])))
EOF
exit "$FAILED"
