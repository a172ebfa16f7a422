#!/usr/bin/env bash
# TCP over a plain TAP with the Linux kernel as the peer: ustack against
# lwIP (bench/lwip/lwip_tap.c, Debian's liblwip), against the TAP's own
# read/write ceiling (bench/tap/tap_ceiling.c), against the kernel's own TCP
# over a veth pair, and ustack's loss recovery against the kernel's.
#
#   bench/tap_bench.sh [--quick] [--runs N] [--seconds S] [--loss-seconds S]
#
# In a private network namespace it creates itself (unshare -n), on a TAP
# whose kernel side is 192.0.2.1/24 and whose stack is 192.0.2.2/24, each run
# measures, for ustack (`ustack tap --serve echo,discard,chargen`) and then
# lwIP and then the kernel over veth (alternating, so a noisy machine hits
# all alike):
#   - kernel -> stack TCP bulk to discard (port 9),
#   - stack -> kernel TCP bulk from chargen (port 19),
#   - 1-byte echo (port 7) round trips, blocking and busy-polling client
#     (and the busy-polling client against ustack busy-polling its TAP
#     too, `--sysctl net.core.busy_poll=50`),
# all with C clients timed by clock_gettime (bench/tap/), and the TAP's
# ceilings: reading, writing one write() per frame and 64 per io_uring_enter()
# (bench/tap/tap_ceiling.c, frames the kernel drops at once), and a bare TCP
# sender writing in-window data into a real kernel socket, 32 frames per
# io_uring_enter() (bench/tap/tap_tcp_ceiling.c). ustack sends through
# io_uring (src/dev/uring_tx.c); its stack -> kernel bulk is also measured
# with one write() per frame (USTACK_TAP_IO_URING=0), the way it sent
# before. The veth peer: a second private namespace (a process
# started with unshare -n, killed at the end) holds one end of a veth pair,
# 192.0.2.130/25, where bench/tap/kernel_serve.c serves the same three
# services with the kernel's TCP; the clients use the other end,
# 192.0.2.129/25 (more specific than the TAP's /24). Offloads (TSO, GSO, GRO)
# are off on both ends so the kernel moves 1514-byte frames as the TAP does;
# every kernel socket uses cubic (TCP_CONGESTION). Those rows are ustack on a
# plain TAP (--no-offload). With offloads (virtio-net headers: 64 KiB TCP
# super-frames and partial checksums each way, ustack's default), the two
# bulk figures again, next to the same ustack with --no-offload and to the
# kernel over the veth pair with TSO, GSO and GRO on.
# Loss: for 1%, 5% and 10% loss injected by ustack's fault injector on its
# TAP device (ustack tap --loss P --fault-dir), on the data's direction
# only, ustack sending (chargen, loss on what it sends) against the kernel
# sending (to discard, loss on what ustack receives); the clients check every
# byte (bulk_client ... check) and a transfer that lost or damaged any makes
# the script exit 1 after printing its rows.
# Prints one JSON object per figure on stdout:
#   {"figure","name","unit","better","ustack":{median,min,max,runs},
#    "peer_name","peer":{median,min,max,runs},"peer_config","ratio","note"}
# (the row format of scripts/bench.sh) where ratio > 1 means ustack is ahead
# (ustack/peer for throughput, peer/ustack for latency), and a table on stderr.
# --quick: 2 runs of 1 s per figure and per loss point (under a
# minute); default 5 runs (BENCH_RUNS, as scripts/bench.sh sets it) of
# 3 s (about 4 minutes). USTACK=path overrides build/ustack.
# Exits 77 (skipped) when not root or without unshare or /dev/net/tun.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_RUNS:-5}
SECS=3
LOSS_SECS=
while [ $# -gt 0 ]; do
  case $1 in
  --quick) RUNS=2 SECS=1 LOSS_SECS=1 ;;
  --runs) RUNS=$2 && shift ;;
  --seconds) SECS=$2 && shift ;;
  --loss-seconds) LOSS_SECS=$2 && shift ;;
  *) echo "usage: $0 [--quick] [--runs N] [--seconds S] [--loss-seconds S]" >&2 && exit 2 ;;
  esac
  shift
done

USTACK=${USTACK:-$ROOT/build/ustack}
OUT=${TAP_BENCH_BUILD:-$ROOT/build/bench-tap}
TAP=bt0
KERNEL_IP=192.0.2.1
STACK_IP=192.0.2.2

if [ -z "${TAP_BENCH_IN_NETNS:-}" ]; then
  if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null || [ ! -c /dev/net/tun ]; then
    echo "tap_bench: skipped: needs root, unshare -n and /dev/net/tun" >&2
    exit 77
  fi
  [ -x "$USTACK" ] || {
    echo "tap_bench: $USTACK not built (bash scripts/build.sh build)" >&2
    exit 1
  }
  pkg-config --exists lwip || {
    echo "tap_bench: liblwip-dev missing (bash scripts/install-deps.sh)" >&2
    exit 1
  }
  make -s -C "$ROOT/bench/lwip" O="$OUT" >&2
  TAP_BENCH_IN_NETNS=1 exec unshare -n -- bash "$0" --runs "$RUNS" --seconds "$SECS" \
    --loss-seconds "${LOSS_SECS:-$SECS}"
fi
LOSS_SECS=${LOSS_SECS:-$SECS}

WORK=$(mktemp -d)
PEER_PID=
VETH_NS_PID=
cleanup() {
  stop_peer
  if [ -n "$VETH_NS_PID" ]; then
    kill -KILL "$VETH_NS_PID" 2>/dev/null || true
    wait "$VETH_NS_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ip link set lo up
ip tuntap add dev "$TAP" mode tap
ip addr add "$KERNEL_IP/24" dev "$TAP"
ip link set "$TAP" up

RESULTS=$WORK/results # lines: METRIC PEER VALUE
FAILED=$WORK/failed   # lines: the transfers that lost or damaged bytes
# Seconds any one client may take.
LIMIT=$(awk -v s="$SECS" -v l="$LOSS_SECS" 'BEGIN { printf "%d", (s > l ? s : l) + 20 }')
VETH_LOCAL=192.0.2.129
VETH_PEER=192.0.2.130

# The veth peer's namespace: a process in a namespace of its own (it sleeps
# at most as long as the whole run could take), one end of the pair in it.
unshare -n -- sleep $((RUNS * (LIMIT * 25 + 60))) &
VETH_NS_PID=$!
in_peer() { nsenter -t "$VETH_NS_PID" -n -- "$@"; }
for _ in $(seq 50); do # until unshare has made the namespace
  [ "$(readlink "/proc/$VETH_NS_PID/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
  sleep 0.1
done
ip link add vb0 type veth peer name vb1
ip link set vb1 netns "$VETH_NS_PID"
ip addr add "$VETH_LOCAL/25" dev vb0
ip link set vb0 up
in_peer ip link set lo up
in_peer ip addr add "$VETH_PEER/25" dev vb1
in_peer ip link set vb1 up
VETH_OFFLOADS="tso gso gro off"
if command -v ethtool >/dev/null; then
  ethtool -K vb0 tso off gso off gro off >/dev/null 2>&1 || true
  in_peer ethtool -K vb1 tso off gso off gro off >/dev/null 2>&1 || true
else
  VETH_OFFLOADS="default (no ethtool)"
fi

# start_peer ustack|lwip: starts the stack on the tap and waits (at most
# 20 s) until it says it is up.
start_peer() {
  local log=$WORK/$1.log
  ip neigh flush dev "$TAP" 2>/dev/null || true
  if [ "$1" = ustack ]; then
    # Plain frames unless USTACK_OFFLOAD=1.
    local mode=--no-offload
    [ "${USTACK_OFFLOAD:-0}" = 1 ] && mode=
    # shellcheck disable=SC2086 # USTACK_EXTRA, mode: options, split on purpose
    "$USTACK" tap --dev "$TAP" --addr "$STACK_IP/24" --serve echo,discard,chargen \
      $mode ${USTACK_EXTRA:-} >"$log" 2>&1 &
  else
    "$OUT/lwip_tap" "$TAP" "$STACK_IP" >"$WORK/lwip.json" 2>"$log" &
  fi
  PEER_PID=$!
  for _ in $(seq 200); do
    grep -q " up, " "$log" 2>/dev/null && return 0
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "tap_bench: $1 did not come up: $(cat "$log")" >&2
  stop_peer
  return 1
}

# stop_peer: SIGTERM to the stack we started, SIGKILL after 10 s.
stop_peer() {
  local pid=${PEER_PID:-}
  [ -n "$pid" ] || return 0
  PEER_PID=
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# record METRIC PEER JSON_FIELD SCALE: the client's JSON on stdin; the field
# times SCALE goes into the results. A failed client records nothing.
record() {
  local line v
  line=$(cat)
  v=$(printf '%s' "$line" | sed -n "s/.*\"$3\":\([0-9.]*\).*/\1/p")
  if [ -z "$v" ]; then
    echo "tap_bench: $1 on $2: no result" >&2
    return 0
  fi
  awk -v v="$v" -v k="$4" -v m="$1" -v p="$2" 'BEGIN { printf "%s %s %.4f\n", m, p, v * k }' >>"$RESULTS"
}

measure_peer() {
  local peer=$1
  start_peer "$peer" || return 0
  timeout "$LIMIT" "$OUT/bulk_client" send "$STACK_IP" 9 "$SECS" | record rx_bulk "$peer" bytes_per_s 1e-6 || true
  timeout "$LIMIT" "$OUT/bulk_client" recv "$STACK_IP" 19 "$SECS" | record tx_bulk "$peer" bytes_per_s 1e-6 || true
  timeout "$LIMIT" "$OUT/rr_client" "$STACK_IP" 7 "$SECS" block | record rr_block "$peer" p50_us 1 || true
  timeout "$LIMIT" "$OUT/rr_client" "$STACK_IP" 7 "$SECS" busy | record rr_busy "$peer" p50_us 1 || true
  stop_peer
}

# The kernel over veth: kernel_serve in the peer namespace, the same clients.
# ustack's stack -> kernel bulk with one write() per frame.
measure_ustack_write() {
  USTACK_TAP_IO_URING=0 start_peer ustack || return 0
  grep -q "sending with write" "$WORK/ustack.log" || echo "tap_bench: ustack did not fall back to write()" >&2
  timeout "$LIMIT" "$OUT/bulk_client" recv "$STACK_IP" 19 "$SECS" | record tx_bulk ustack-write bytes_per_s 1e-6 || true
  stop_peer
}

# ustack busy-polling its TAP (net.core.busy_poll: the loop reads again at
# once for 50 µs after a frame instead of sleeping in ppoll), with the
# busy-polling client: two spinning processes on this machine's two cores.
measure_ustack_busypoll() {
  USTACK_EXTRA="--sysctl net.core.busy_poll=50" start_peer ustack || return 0
  timeout "$LIMIT" "$OUT/rr_client" "$STACK_IP" 7 "$SECS" busy | record rr_busy_bp ustack p50_us 1 || true
  stop_peer
}

# ustack with the TAP's offloads: the two bulk figures.
measure_ustack_offload() {
  USTACK_OFFLOAD=1 start_peer ustack || return 0
  grep -q "offloads: tx-csum tso rx-csum gro" "$WORK/ustack.log" ||
    echo "tap_bench: ustack's offloads not all on: $(grep offloads "$WORK/ustack.log")" >&2
  timeout "$LIMIT" "$OUT/bulk_client" send "$STACK_IP" 9 "$SECS" | record rx_bulk ustack-offload bytes_per_s 1e-6 || true
  timeout "$LIMIT" "$OUT/bulk_client" recv "$STACK_IP" 19 "$SECS" | record tx_bulk ustack-offload bytes_per_s 1e-6 || true
  stop_peer
}

# veth_offloads on|off: TSO, GSO and GRO at both ends of the pair.
veth_offloads() {
  command -v ethtool >/dev/null || return 0
  ethtool -K vb0 tso "$1" gso "$1" gro "$1" >/dev/null 2>&1 || true
  in_peer ethtool -K vb1 tso "$1" gso "$1" gro "$1" >/dev/null 2>&1 || true
}

# kserve_start / kserve_stop: the kernel's server in the veth peer's
# namespace (bench/tap/kernel_serve.c), its pid in KSERVE_PID.
kserve_start() {
  : >"$WORK/kserve.log" # not the last server's " up", before this one has redirected
  # nsenter itself (it execs the server), not in_peer: a function run in the
  # background is a subshell, and the TERM below would stop only that while
  # the server kept its ports until its time ran out.
  nsenter -t "$VETH_NS_PID" -n -- "$OUT/kernel_serve" "$VETH_PEER" "$LIMIT" 2>"$WORK/kserve.log" &
  KSERVE_PID=$!
  for _ in $(seq 100); do
    grep -q " up" "$WORK/kserve.log" 2>/dev/null && break
    sleep 0.05
  done
}

kserve_stop() {
  kill -TERM "$KSERVE_PID" 2>/dev/null || true
  wait "$KSERVE_PID" 2>/dev/null || true
}

# The kernel over veth with its offloads on: the two bulk figures.
measure_veth_offload() {
  veth_offloads on
  kserve_start
  timeout "$LIMIT" "$OUT/bulk_client" send "$VETH_PEER" 9 "$SECS" | record rx_bulk veth-offload bytes_per_s 1e-6 || true
  timeout "$LIMIT" "$OUT/bulk_client" recv "$VETH_PEER" 19 "$SECS" | record tx_bulk veth-offload bytes_per_s 1e-6 || true
  kserve_stop
  veth_offloads off
}

measure_veth() {
  kserve_start
  timeout "$LIMIT" "$OUT/bulk_client" send "$VETH_PEER" 9 "$SECS" | record rx_bulk veth bytes_per_s 1e-6 || true
  timeout "$LIMIT" "$OUT/bulk_client" recv "$VETH_PEER" 19 "$SECS" | record tx_bulk veth bytes_per_s 1e-6 || true
  timeout "$LIMIT" "$OUT/rr_client" "$VETH_PEER" 7 "$SECS" block | record rr_block veth p50_us 1 || true
  timeout "$LIMIT" "$OUT/rr_client" "$VETH_PEER" 7 "$SECS" busy | record rr_busy veth p50_us 1 || true
  kserve_stop
}

# checked_client METRIC PEER ARGS...: bulk_client with `check`; a client that
# exits 1 (bytes lost or damaged, or the end never acknowledged) is a
# failure, one killed by timeout only a missing result.
checked_client() {
  local m=$1 peer=$2 rc=0
  shift 2
  timeout "$LIMIT" "$OUT/bulk_client" "$@" check >"$WORK/loss.json" 2>"$WORK/loss.err" || rc=$?
  if [ "$rc" = 1 ]; then
    echo "$m $peer: $(cat "$WORK/loss.err")" >>"$FAILED"
    echo "tap_bench: FAILED: $m $peer: $(cat "$WORK/loss.err")" >&2
  fi
  record "$m" "$peer" bytes_per_s 1e-6 <"$WORK/loss.json"
}

# measure_loss P SEED: ustack sends through loss P on its transmit side, then
# the kernel sends through loss P on ustack's receive side.
measure_loss() {
  local p=$1 seed=$2 pct
  pct=$(awk -v p="$p" 'BEGIN { printf "%d", p * 100 + 0.5 }')
  USTACK_EXTRA="--loss $p --fault-dir tx --seed $seed" start_peer ustack || return 0
  checked_client "loss$pct" ustack recv "$STACK_IP" 19 "$LOSS_SECS"
  stop_peer
  USTACK_EXTRA="--loss $p --fault-dir rx --seed $seed" start_peer ustack || return 0
  checked_client "loss$pct" kernel send "$STACK_IP" 9 "$LOSS_SECS"
  stop_peer
}

measure_ceiling() {
  timeout "$LIMIT" "$OUT/tap_ceiling" write "$TAP" "$SECS" >"$WORK/cw.json" || true
  record tap_write ceiling tcp_payload_bytes_per_s 1e-6 <"$WORK/cw.json"
  record tap_write_fps ceiling frames_per_s 1 <"$WORK/cw.json"
  timeout "$LIMIT" "$OUT/tap_ceiling" write-uring "$TAP" "$SECS" >"$WORK/cwu.json" || true
  record tap_write_uring ceiling tcp_payload_bytes_per_s 1e-6 <"$WORK/cwu.json"
  # The kernel's UDP to the stack's address needs a neighbour: a fixed one.
  ip neigh replace "$STACK_IP" lladdr 02:00:00:00:1e:02 dev "$TAP" nud permanent
  timeout "$LIMIT" "$OUT/tap_ceiling" read "$TAP" "$SECS" >"$WORK/cr.json" || true
  timeout "$LIMIT" "$OUT/tap_tcp_ceiling" "$TAP" "$SECS" uring >"$WORK/ct.json" || true
  record tap_tcp_sender ceiling tcp_payload_bytes_per_s 1e-6 <"$WORK/ct.json"
  ip neigh del "$STACK_IP" dev "$TAP" 2>/dev/null || true
  record tap_read ceiling tcp_payload_bytes_per_s 1e-6 <"$WORK/cr.json"
  record tap_read_fps ceiling frames_per_s 1 <"$WORK/cr.json"
}

echo "tap_bench: $RUNS runs of ${SECS} s per figure (${LOSS_SECS} s per loss point)," \
  "ustack, lwIP and the kernel over veth alternating" >&2
for r in $(seq "$RUNS"); do
  echo "tap_bench: run $r/$RUNS" >&2
  measure_peer ustack
  measure_peer lwip
  measure_ustack_write
  measure_ustack_busypoll
  measure_veth
  measure_ustack_offload
  measure_veth_offload
  measure_ceiling
  for p in 0.01 0.05 0.10; do
    measure_loss "$p" "$r"
  done
done

LWIP_CONFIG=$(head -1 "$WORK/lwip.json" 2>/dev/null || echo '{}')
VETH_CONFIG="{\"peer\": \"kernel over veth\", \"kernel\": \"$(uname -r)\", \"congestion\": \"cubic (TCP_CONGESTION per socket)\", \"offloads\": \"$VETH_OFFLOADS\", \"mtu\": 1500, \"server\": \"bench/tap/kernel_serve.c, a thread per connection\"}"
VETH_OFFLOAD_CONFIG=${VETH_CONFIG/\"$VETH_OFFLOADS\"/\"tso gso gro on\"}
/usr/bin/python3 - "$RESULTS" "$LWIP_CONFIG" "$VETH_CONFIG" "$LOSS_SECS" "$VETH_OFFLOAD_CONFIG" <<'EOF'
import json, statistics, sys

vals = {}
for line in open(sys.argv[1]):
    m, p, v = line.split()
    vals.setdefault((m, p), []).append(float(v))
lwip_config = json.loads(sys.argv[2])
veth_config = json.loads(sys.argv[3])
loss_secs = sys.argv[4]
veth_offload_config = json.loads(sys.argv[5])

def stats(m, p):
    xs = vals.get((m, p), [])
    if not xs:
        return None
    return {"median": round(statistics.median(xs), 2), "min": round(min(xs), 2),
            "max": round(max(xs), 2), "runs": len(xs)}

# name, label, unit, better, ustack metric, peer name, peer metric[, ustack's
# key: "ustack" (plain TAP) unless given]
rows = [
    ("tap_tcp_bulk_kernel_to_stack", "TAP: kernel -> stack TCP bulk", "MB/s", "higher",
     "rx_bulk", "lwip", "rx_bulk"),
    ("tap_tcp_bulk_stack_to_kernel", "TAP: stack -> kernel TCP bulk", "MB/s", "higher",
     "tx_bulk", "lwip", "tx_bulk"),
    ("tap_tcp_rr_1byte_blocking_p50", "TAP: 1-byte echo, blocking p50", "us", "lower",
     "rr_block", "lwip", "rr_block"),
    ("tap_tcp_rr_1byte_busypoll_p50", "TAP: 1-byte echo, busy-poll p50", "us", "lower",
     "rr_busy", "lwip", "rr_busy"),
    ("tap_tcp_rr_1byte_busypoll_ustack_busy_poll_p50", "TAP: 1-byte echo, busy-poll p50, "
     "ustack with net.core.busy_poll=50", "us", "lower", "rr_busy_bp", "lwip", "rr_busy"),
    ("tap_tcp_bulk_stack_to_kernel_vs_write_ceiling", "TAP: stack -> kernel TCP bulk",
     "MB/s", "higher", "tx_bulk", "tap-write-ceiling", "tap_write"),
    ("tap_tcp_bulk_kernel_to_stack_vs_read_ceiling", "TAP: kernel -> stack TCP bulk",
     "MB/s", "higher", "rx_bulk", "tap-read-ceiling", "tap_read"),
    ("tap_tcp_bulk_stack_to_kernel_vs_write_uring_ceiling", "TAP: stack -> kernel TCP bulk",
     "MB/s", "higher", "tx_bulk", "tap-write-ceiling-io_uring", "tap_write_uring"),
    ("tap_tcp_bulk_stack_to_kernel_vs_bare_tcp_sender", "TAP: stack -> kernel TCP bulk",
     "MB/s", "higher", "tx_bulk", "bare-tcp-sender", "tap_tcp_sender"),
    ("tap_tcp_bulk_stack_to_kernel_io_uring_vs_write", "TAP: stack -> kernel TCP bulk, ustack "
     "sending through io_uring vs one write() per frame", "MB/s", "higher", "tx_bulk",
     "ustack with write()", "tx_bulk"),
    ("tap_vs_veth_tcp_bulk_kernel_to_stack", "kernel -> stack TCP bulk: ustack over TAP vs kernel over veth",
     "MB/s", "higher", "rx_bulk", "kernel over veth", "rx_bulk"),
    ("tap_vs_veth_tcp_bulk_stack_to_kernel", "stack -> kernel TCP bulk: ustack over TAP vs kernel over veth",
     "MB/s", "higher", "tx_bulk", "kernel over veth", "tx_bulk"),
    ("tap_vs_veth_tcp_rr_1byte_blocking_p50", "1-byte echo, blocking p50: ustack over TAP vs kernel over veth",
     "us", "lower", "rr_block", "kernel over veth", "rr_block"),
    ("tap_vs_veth_tcp_rr_1byte_busypoll_p50", "1-byte echo, busy-poll p50: ustack over TAP vs kernel over veth",
     "us", "lower", "rr_busy", "kernel over veth", "rr_busy"),
]
# With offloads: ustack over the TAP with virtio-net headers.
for m, way in (("rx_bulk", "kernel_to_stack"), ("tx_bulk", "stack_to_kernel")):
    arrow = "kernel -> stack" if m == "rx_bulk" else "stack -> kernel"
    rows.append(("tap_offload_vs_veth_tcp_bulk_" + way, "%s TCP bulk with offloads: ustack over "
                 "TAP (TSO/GRO, checksum offload) vs kernel over veth (TSO/GSO/GRO)" % arrow,
                 "MB/s", "higher", m, "kernel over veth, offloads on", m, "ustack-offload"))
    rows.append(("tap_offload_vs_plain_tcp_bulk_" + way, "TAP: %s TCP bulk, ustack with offloads "
                 "vs --no-offload" % arrow, "MB/s", "higher", m, "ustack --no-offload", m,
                 "ustack-offload"))
# Loss rows: ustack as the sender against the kernel as the sender, through
# the same loss on the data's direction.
for pct in (1, 5, 10):
    rows.append(("tap_tcp_bulk_loss%d_sender" % pct,
                 "TAP: TCP bulk at %d%% loss, ustack sends vs kernel sends" % pct,
                 "MB/s", "higher", "loss%d" % pct, "kernel sender", "loss%d" % pct))
peer_key = {"lwip": "lwip", "kernel over veth": "veth", "kernel sender": "kernel",
            "ustack with write()": "ustack-write", "kernel over veth, offloads on": "veth-offload",
            "ustack --no-offload": "ustack"}
notes = {
    "tap-write-ceiling": "the same full-size frame written one write() each, RST|ACK to a "
                         "closed port: the kernel drops it without TCP receive work or a wake-up",
    "tap-write-ceiling-io_uring": "as tap-write-ceiling, 64 frames per io_uring_enter()",
    "bare-tcp-sender": "bench/tap/tap_tcp_ceiling.c: in-window 1460-byte segments into a real "
                       "kernel socket that a thread reads, 32 per io_uring_enter(), no stack",
    "ustack with write()": "the same ustack with USTACK_TAP_IO_URING=0: one write() per frame, "
                           "as before io_uring",
    "kernel over veth": "the kernel's TCP at both ends of a veth pair between two namespaces, "
                        "offloads off, cubic; ustack's figure is over the TAP",
    "kernel over veth, offloads on": "the kernel's TCP at both ends of a veth pair between two "
                                     "namespaces, TSO, GSO and GRO on, cubic; ustack's figure is "
                                     "over the TAP with its offloads (64 KiB super-frames each "
                                     "way); the target is >= 1250 MB/s (10 Gbit/s) each way",
    "ustack --no-offload": "the same ustack on a plain TAP (--no-offload), one frame per "
                           "read() and write()",
    "kernel sender": "loss injected by ustack's fault injector on the data's direction only "
                     "(ustack tap --loss P --fault-dir tx when ustack sends chargen, rx when the "
                     "kernel sends to discard), ACKs not lost; %s s per point; every byte checked "
                     "(bulk_client check)" % loss_secs,
}
table = []
for name, label, unit, better, um, peer, pm, *ukey in rows:
    u = stats(um, ukey[0] if ukey else "ustack")
    p = stats(pm, peer_key.get(peer, "ceiling"))
    ratio = None
    if u and p and u["median"] and p["median"]:
        ratio = round(u["median"] / p["median"] if better == "higher"
                      else p["median"] / u["median"], 2)
    row = {"figure": label, "name": name, "unit": unit, "better": better, "ustack": u,
           "peer_name": peer, "peer": p, "ratio": ratio}
    if peer == "lwip":
        row["peer_config"] = lwip_config
    if peer == "kernel over veth":
        row["peer_config"] = veth_config
    if peer == "kernel over veth, offloads on":
        row["peer_config"] = veth_offload_config
    if peer in notes:
        row["note"] = notes[peer]
    print(json.dumps(row), flush=True)
    table.append((name, unit, u, peer, p, ratio))

def fmt(s):
    return "-" if not s else "%.1f [%.1f-%.1f]" % (s["median"], s["min"], s["max"])

err = sys.stderr
err.write("\n%-52s %-5s %-24s %-27s %-24s %s\n" % ("figure", "unit", "ustack median [min-max]",
                                                   "peer", "peer median [min-max]", "ratio"))
for name, unit, u, peer, p, ratio in table:
    err.write("%-52s %-5s %-24s %-27s %-24s %s\n" % (name, unit, fmt(u), peer, fmt(p),
                                                     "-" if ratio is None else "%.2f" % ratio))
for m, label in (("tap_write_fps", "TAP write ceiling"), ("tap_read_fps", "TAP read ceiling")):
    s = stats(m, "ceiling")
    if s:
        err.write("%s: %.0f frames/s median [%.0f-%.0f] of 1514 bytes\n" % (label, s["median"], s["min"], s["max"]))
err.write("lwIP %s\n" % json.dumps(lwip_config))
err.write("veth %s\n" % json.dumps(veth_config))
EOF
if [ -s "$FAILED" ]; then
  echo "tap_bench: FAILED: a transfer through loss lost or damaged bytes:" >&2
  cat "$FAILED" >&2
  exit 1
fi
