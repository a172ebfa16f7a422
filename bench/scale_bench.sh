#!/usr/bin/env bash
# Scale (bench/bench_scale.c): ustack's demultiplexing cost per segment with
# 10, 10,000 and 1,000,000 established connections, its bytes per idle
# connection, SYN-queue entry and TIME_WAIT entry (allocator bytes in use,
# measured), and a million connections held by two stacks on the simulated
# wire (time to establish, memory).
#
#   bench/scale_bench.sh [--quick]
#
# --quick holds 100,000 connections instead of 1,000,000 (about 10 s instead
# of about a minute, and 0.3 GB instead of 3 GB).
#
# Peers: the demultiplexing rows are ustack's alone (the kernel's lookup
# cannot be timed apart from its system calls this way); each is compared
# with ustack's own 10-connection figure in the flatness row. The memory
# rows for an idle established connection and a TIME_WAIT entry have the
# Linux kernel as the peer when this runs as root with unshare: in a private
# network namespace, 10,000 loopback connections (fewer if RLIMIT_NOFILE's hard limit is lower), the growth of the slab
# caches a TCP socket uses (TCP, sock_inode_cache, filp, dentry,
# tcp_bind_bucket...) per connection end, then per TIME_WAIT entry
# (tw_sock_TCP) once the clients have closed first. Prints one JSON row per
# figure (bench/run_bench.py's format) on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
COUNT=1000000
while [ $# -gt 0 ]; do
  case $1 in
  --quick) COUNT=100000 ;;
  --runs) shift ;; # one run: the figures are counts and a 1M-connection run is long
  *) echo "usage: $0 [--quick]" >&2 && exit 2 ;;
  esac
  shift
done

PROG=$BUILD/bench/bench_scale
if [ ! -x "$PROG" ]; then
  echo "scale_bench: $PROG is not built" >&2
  exit 77
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PROG" ustack "$COUNT" --rows >"$TMP/ustack.json"

# The kernel's bytes per connection end and per TIME_WAIT entry (slab growth).
KERNEL_PY='
import os, resource, socket, sys, time
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
N = 10000 if hard == resource.RLIM_INFINITY else min(10000, (hard - 100) // 2)
resource.setrlimit(resource.RLIMIT_NOFILE, (2 * N + 100, hard))
CACHES = ("TCP", "tw_sock_TCP", "request_sock_TCP", "sock_inode_cache", "filp", "dentry",
          "tcp_bind_bucket", "inet_peer_cache", "skbuff_head_cache", "kmalloc-")
def slab():
    total = {}
    with open("/proc/slabinfo") as f:
        for line in f.readlines()[2:]:
            p = line.split()
            name, active, size = p[0], int(p[1]), int(p[3])
            if name.startswith(CACHES):
                total[name] = active * size
    return total
def delta(a, b, names=None):
    return sum(b[k] - a.get(k, 0) for k in b if names is None or k in names)
os.system("ip link set lo up")
l = socket.socket(); l.bind(("127.0.0.1", 5000)); l.listen(N)
s0 = slab()
cs, ss = [], []
for i in range(N):
    c = socket.socket(); c.connect(("127.0.0.1", 5000)); cs.append(c); ss.append(l.accept()[0])
s1 = slab()
est = delta(s0, s1) / (2 * N)
for c in cs: c.close()
time.sleep(0.2)
for x in ss: x.close()
time.sleep(0.5)
s2 = slab()
tw_objs = delta(s1, s2, ("tw_sock_TCP",))
print("%.0f %.0f %d" % (est, tw_objs / N, N))
'
KERNEL=""
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null && [ -r /proc/slabinfo ]; then
  KERNEL=$(unshare -n /usr/bin/python3 -c "$KERNEL_PY" 2>"$TMP/kernel.err" || true)
  [ -n "$KERNEL" ] || echo "scale_bench: kernel memory not measured: $(cat "$TMP/kernel.err")" >&2
fi

/usr/bin/python3 - "$TMP/ustack.json" "$KERNEL" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
kernel = sys.argv[2].split()
peer = {}
if len(kernel) == 3:
    peer["bytes per idle established connection end"] = float(kernel[0])
    peer["bytes per TIME_WAIT entry"] = float(kernel[1])
for r in rows:
    if r["figure"] in peer:
        r["peer_name"] = "Linux TCP socket (slab growth, %s on lo in a netns)" % kernel[2]
        r["peer"] = peer[r["figure"]]
        r["ratio"] = round(r["peer"] / r["ustack"], 3) if r["ustack"] else None
    print(json.dumps(r))
EOF
