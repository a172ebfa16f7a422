#!/usr/bin/python3
"""The benchmark suite's driver (scripts/bench.sh runs it after building).

Runs every in-process benchmark program (build/bench/bench_*) for ustack and
for its peer, alternating ustack, peer, ustack, peer... so that machine
noise hits both alike; reports the median [min-max] of the runs and the ratio
of the medians, oriented so that > 1 means ustack is ahead (its throughput
over the peer's, or the peer's latency over its own). Then runs every
bench/*_bench.sh (with --quick when given) and merges the JSON lines they
print. Prints a table and writes bench/results/<date>-<sha>[-quick].json.

A benchmark never fails for being slow; this script exits 1 only when a
program fails (wrong bytes, crash, a bounded wait that gave up).

Kernel runs go in a fresh network namespace each (unshare -n, lo up) when
root, so no TIME_WAIT or socket state of an earlier run lingers; otherwise on
the host's lo (and the raw-socket reassembly peer is skipped).

Lines from bench/*_bench.sh: each a JSON object. One with "figure" and
"ustack" is a table row: {"figure", "unit", "better": "higher"|"lower",
"ustack": number or {"median","min","max","runs"}, "peer_name", "peer": the
same, "ratio" (optional, computed otherwise), "note"}. Anything else is
kept under "extra" in the JSON file.
"""
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def usage():
    sys.exit("usage: bench.sh [--quick] [--runs N] [--build DIR]\n"
             "       run_bench.py --markdown RESULTS.json   (the table in Markdown, as in README.md)")


def parse_args(argv):
    opts = {"quick": False, "runs": None, "build": os.path.join(ROOT, "build")}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--quick":
            opts["quick"] = True
        elif a == "--runs" and i + 1 < len(argv):
            i += 1
            opts["runs"] = int(argv[i])
        elif a == "--build" and i + 1 < len(argv):
            i += 1
            opts["build"] = argv[i]
        else:
            usage()
        i += 1
    if opts["runs"] is None:
        opts["runs"] = 3 if opts["quick"] else 5
    return opts


def can_unshare():
    if os.geteuid() != 0:
        return False
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return r.returncode == 0


# Each benchmark: the program, its count in a full and a quick run, extra
# arguments, the peer, and the figures it yields (JSON key, label, unit,
# whether higher is better).
BENCHES = [
    {
        "name": "tcp_bulk",
        "prog": "bench_tcp_bulk", "full": 1024, "quick": 256, "args": [],
        "peer": "kernel lo (MTU 65536)",
        "figures": [("gbit_s", "TCP bulk, 1 core, ustack MTU 1500", "Gbit/s", "higher")],
    },
    {
        "name": "tcp_bulk_lo1500",
        "prog": "bench_tcp_bulk", "full": 1024, "quick": 256, "args": [],
        "peer": "kernel lo (MTU 1500, no GSO)", "lo_mtu": 1500,
        "figures": [("gbit_s", "TCP bulk, 1 core, both MTU 1500", "Gbit/s", "higher")],
    },
    {
        # Issue 11: the wire with veth's offloads, 64 KiB TCP super-frames
        # moved between the stacks, checksums left undone, against lo's own
        # 64 KiB GSO packets.
        "name": "tcp_bulk_offload",
        "prog": "bench_tcp_bulk", "full": 1024, "quick": 256, "args": ["offload"],
        "peer": "kernel lo (MTU 65536)",
        "figures": [("gbit_s", "TCP bulk, 1 core, ustack 64 KiB super-frames (offload wire)",
                     "Gbit/s", "higher")],
    },
    {
        "name": "tcp_bulk_jumbo",
        "prog": "bench_tcp_bulk", "full": 1024, "quick": 256, "args": ["mtu=9000"],
        "peer": "kernel lo (MTU 9000, no GSO)", "lo_mtu": 9000,
        "figures": [("gbit_s", "TCP bulk, 1 core, both MTU 9000", "Gbit/s", "higher")],
    },
    {
        "name": "tcp_rr",
        "prog": "bench_tcp_rr", "full": 200000, "quick": 50000, "args": [],
        "peer": "kernel lo",
        "figures": [
            ("p50_us", "TCP 1-byte RR p50", "us", "lower"),
            ("p99_us", "TCP 1-byte RR p99", "us", "lower"),
            ("p999_us", "TCP 1-byte RR p99.9", "us", "lower"),
        ],
    },
    {
        "name": "tcp_crr",
        "prog": "bench_tcp_crr", "full": 20000, "quick": 5000, "args": [],
        "peer": "kernel lo",
        "figures": [("conn_per_s", "TCP connect+accept+close", "conn/s", "higher")],
    },
    {
        "name": "udp",
        "prog": "bench_udp", "full": 2000000, "quick": 200000, "args": [],
        "peer": "kernel lo",
        "figures": [("datagrams_per_s", "UDP 64-byte datagrams", "dgram/s", "higher")],
    },
    {
        "name": "frag_inorder",
        "prog": "bench_frag", "full": 300000, "quick": 50000, "args": ["inorder"],
        "peer": "kernel lo, raw-socket fragments", "peer_needs_root": True,
        "figures": [("datagrams_per_s", "Reassembly, 3 frags, in order", "dgram/s", "higher")],
    },
    {
        "name": "frag_shuffled",
        "prog": "bench_frag", "full": 300000, "quick": 50000, "args": ["shuffled"],
        "peer": "kernel lo, raw-socket fragments", "peer_needs_root": True,
        "figures": [("datagrams_per_s", "Reassembly, 3 frags, shuffled", "dgram/s", "higher")],
    },
]

# Bulk through loss on the simulated wire (bench_tcp_loss): 1 Gbit/s, 10 ms
# RTT, a's frames dropped (or held back) at random, on the virtual clock, so
# the goodput is the protocol's and the CPU time per MB is what ustack spent
# on it. No peer: the kernel cannot run on that clock (the over-TAP rows
# compare ustack and the kernel as senders through the same loss).
for _pct, _full, _quick in (("1", 128, 32), ("5", 64, 16), ("10", 64, 16)):
    BENCHES.append({
        "name": "tcp_loss_%s" % _pct,
        "prog": "bench_tcp_loss", "full": _full, "quick": _quick, "args": [_pct],
        "peer": None, "note": "ustack only (virtual clock)",
        "figures": [
            ("cpu_ms_per_mb", "TCP bulk, %s%% loss, 1 Gbit/s 10 ms: CPU" % _pct, "ms/MB", "lower"),
            ("goodput_mbit_s", "TCP bulk, %s%% loss, 1 Gbit/s 10 ms: goodput" % _pct,
             "Mbit/s (virtual)", "higher"),
        ],
    })
BENCHES.append({
    "name": "tcp_reorder_1",
    "prog": "bench_tcp_loss", "full": 256, "quick": 64, "args": ["0", "1"],
    "peer": None, "note": "ustack only (virtual clock)",
    "figures": [
        ("cpu_ms_per_mb", "TCP bulk, 1% reordered, 3 MiB window: CPU", "ms/MB", "lower"),
        ("goodput_mbit_s", "TCP bulk, 1% reordered, 3 MiB window: goodput",
         "Mbit/s (virtual)", "higher"),
    ],
})


class ProgramFailed(Exception):
    pass


def run_one(cmd, label):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise ProgramFailed("%s: exit %d: %s" % (label, r.returncode, " ".join(cmd)))
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise ProgramFailed("%s: printed no JSON line" % label)
    return json.loads(lines[-1])


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def ratio(better, u, p):
    if u is None or p is None or u["median"] == 0 or p["median"] == 0:
        return None
    if better == "higher":
        return u["median"] / p["median"]
    return p["median"] / u["median"]


def prog_dir(opts):
    """Where the bench_* programs are: scripts/bench.sh builds them against
    the installed library (BENCH_PROG_DIR); else the tree's build."""
    return os.environ.get("BENCH_PROG_DIR") or os.path.join(opts["build"], "bench")


def run_benches(opts, netns):
    rows, failures = [], []
    for b in BENCHES:
        prog = os.path.join(prog_dir(opts), b["prog"])
        count = str(b["quick"] if opts["quick"] else b["full"])
        ucmd = [prog, "ustack", count] + b["args"]
        kcmd = [prog, "kernel", count] + b["args"]
        if netns:
            setup = "ip link set lo up"
            if b.get("lo_mtu"):
                # lo would still pass 64 KiB GSO packets at MTU 1500: cap them
                # at one segment, as a 1500-byte NIC without TSO sends.
                setup += (" && ip link set lo mtu {0} && ip link set lo gso_max_size {0}"
                          " && sysctl -qw net.ipv4.tcp_min_tso_segs=1").format(b["lo_mtu"])
            kcmd = ["unshare", "-n", "sh", "-c", setup + ' && exec "$0" "$@"'] + kcmd
        skip_peer = None
        if b["peer"] is None:
            skip_peer = b.get("note", "no peer")
        elif b.get("peer_needs_root") and not netns:
            skip_peer = "needs root (raw socket)"
        if b.get("lo_mtu") and not netns:
            skip_peer = "needs root (lo MTU in a private netns)"
        ures, kres = [], []
        sys.stderr.write("bench: %s (%s runs)\n" % (b["name"], opts["runs"]))
        try:
            for _ in range(opts["runs"]):
                ures.append(run_one(ucmd, b["name"] + " ustack"))
                if not skip_peer:
                    kres.append(run_one(kcmd, b["name"] + " kernel"))
        except (ProgramFailed, subprocess.TimeoutExpired) as e:
            failures.append(str(e))
            sys.stderr.write("bench: FAILED %s\n" % e)
            continue
        for key, label, unit, better in b["figures"]:
            u = summary([r[key] for r in ures])
            p = summary([r[key] for r in kres]) if kres else None
            rows.append({"figure": label, "unit": unit, "better": better, "bench": b["name"],
                         "count": int(count), "ustack": u, "peer_name": b["peer"], "peer": p,
                         "ratio": ratio(better, u, p), "note": skip_peer})
    return rows, failures


def as_summary(v):
    if v is None or isinstance(v, dict):
        return v
    return summary([v])


def run_scripts(opts):
    rows, extra, failures = [], [], []
    env = dict(os.environ, BENCH_RUNS=str(opts["runs"]), BENCH_BUILD=opts["build"])
    for script in sorted(glob.glob(os.path.join(ROOT, "bench", "*_bench.sh"))):
        cmd = ["bash", script] + (["--quick"] if opts["quick"] else [])
        sys.stderr.write("bench: %s\n" % " ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        sys.stderr.write(r.stderr)
        if r.returncode == 77:
            sys.stderr.write("bench: %s skipped (exit 77)\n" % script)
            continue
        if r.returncode != 0:
            failures.append("%s: exit %d" % (script, r.returncode))
        for line in r.stdout.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                failures.append("%s: bad JSON line: %s" % (script, line))
                continue
            if "figure" in obj and "ustack" in obj:
                obj["ustack"] = as_summary(obj["ustack"])
                obj["peer"] = as_summary(obj.get("peer"))
                obj.setdefault("better", "higher")
                if obj.get("ratio") is None:
                    obj["ratio"] = ratio(obj["better"], obj["ustack"], obj["peer"])
                obj["source"] = os.path.basename(script)
                rows.append(obj)
            else:
                obj["source"] = os.path.basename(script)
                extra.append(obj)
    return rows, extra, failures


def fmt_num(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def fmt_cell(s):
    if s is None:
        return "-"
    return "%s [%s-%s]" % (fmt_num(s["median"]), fmt_num(s["min"]), fmt_num(s["max"]))


def print_table(rows, runs):
    head = ("figure", "unit", "ustack", "peer", "peer figure", "ratio")
    table = [head]
    for r in rows:
        rt = "%.2fx" % r["ratio"] if r.get("ratio") else (r.get("note") or "-")
        table.append((r["figure"], r.get("unit", ""), fmt_cell(r["ustack"]),
                      r.get("peer_name") or "-", fmt_cell(r.get("peer")), rt))
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    print("median [min-max] of %d runs each, ustack and peer alternated; "
          "ratio > 1: ustack ahead" % runs)
    for i, t in enumerate(table):
        print("  ".join(c.ljust(widths[j]) for j, c in enumerate(t)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def git_sha():
    try:
        sha = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "-uno"],
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "nogit"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def md_num(x):
    """A figure as the README prints it: 3 significant digits, thousands
    separated, k/M for large counts."""
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1e6:
        return "%.3g M" % (x / 1e6)
    if a >= 1e4:
        return "{:,.0f}".format(x)
    if a >= 100:
        return "%.0f" % x
    if a >= 10:
        return "%.1f" % x
    return "%.3g" % x


def md_cell(s):
    if s is None:
        return "-"
    if s.get("min") == s.get("max"):
        return md_num(s["median"])
    return "%s [%s–%s]" % (md_num(s["median"]), md_num(s["min"]), md_num(s["max"]))


def markdown(path):
    """Prints a results file's rows as the Markdown table README.md shows."""
    with open(path) as f:
        res = json.load(f)
    print("| figure | unit | ustack | peer | peer figure | ratio |")
    print("|---|---|---|---|---|---|")
    for r in res["rows"]:
        rt = r.get("ratio")
        cell = "%.2f×" % rt if rt else (r.get("note") or "-")
        print("| %s | %s | %s | %s | %s | %s |" % (
            r["figure"].replace("|", "/"), r.get("unit", ""), md_cell(r.get("ustack")),
            r.get("peer_name") or "-", md_cell(r.get("peer")), cell.replace("|", "/")))


def main():
    sys.stdout.reconfigure(line_buffering=True)
    if len(sys.argv) == 3 and sys.argv[1] == "--markdown":
        markdown(sys.argv[2])
        return
    opts = parse_args(sys.argv[1:])
    netns = can_unshare()
    if not netns:
        sys.stderr.write("bench: not root (or no unshare): the kernel runs on the host's lo\n")
    rows, failures = run_benches(opts, netns)
    srows, extra, sfail = run_scripts(opts)
    rows += srows
    failures += sfail
    print_table(rows, opts["runs"])
    for e in extra:
        print("extra:", json.dumps(e))
    now = datetime.datetime.now(datetime.timezone.utc)
    sha = git_sha()
    result = {
        "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "git": sha, "quick": opts["quick"],
        "runs": opts["runs"], "cpu": cpu_model(), "nproc": os.cpu_count(),
        "kernel": platform.release(), "kernel_in_private_netns": netns,
        "command": "scripts/bench.sh" + (" --quick" if opts["quick"] else ""),
        "rows": rows, "extra": extra, "failures": failures,
    }
    outdir = os.path.join(ROOT, "bench", "results")
    os.makedirs(outdir, exist_ok=True)
    name = "%s-%s%s.json" % (now.strftime("%Y%m%d-%H%M%S"), sha, "-quick" if opts["quick"] else "")
    path = os.path.join(outdir, name)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("results: %s" % os.path.relpath(path, os.getcwd()))
    if failures:
        print("bench: %d benchmark program(s) FAILED: %s" % (len(failures), "; ".join(failures)))
        sys.exit(1)


if __name__ == "__main__":
    main()
