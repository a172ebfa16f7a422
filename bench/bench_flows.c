/* Many flows through one simulated bottleneck, on the virtual clock: N TCP
 * connections (default 64) from one stack to another share a 200 Mbit/s
 * link with 100 ms of round-trip propagation and a 64 KiB tail-drop queue.
 * For each congestion control ("reno", "cubic") it measures, over a stated
 * stretch after a warm-up: per-flow goodput, utilisation, Jain's fairness
 * index, retransmissions and queue drops.
 *
 *   bench_flows [--quick] [--cc reno|cubic|both] [--flows N] [--warmup S]
 *               [--seconds S] [--seed N] [--out FILE] [--trace PREFIX]
 *
 * Defaults: 64 flows, 10 s of warm-up, 60 s measured, seed 1, both
 * algorithms (about 1-2 s of wall time each). --quick: 5 s + 10 s (too
 * short to judge fairness: Jain's index over 10 s is ~0.90 where 60 s
 * gives 0.98). --trace PREFIX writes PREFIX.reno / PREFIX.cubic, one line
 * per flow every 100 ms (cwnd, ssthresh, srtt, rto, bytes received,
 * retransmissions, peer window, unacked, sndbuf).
 *
 * The bottleneck is the sender's port on a us_wire: every data segment of
 * every flow is serialised there at 200 Mbit/s behind a queue of at most
 * 65,536 bytes of frames (queue_limit_bytes; a frame counts until its last
 * bit has left, tail drop), then travels 50 ms. The receiver's port is the
 * other direction of the same duplex link (200 Mbit/s, its own 64 KiB
 * queue, 50 ms): it carries only ACKs, about 2% of its capacity, so the ACK
 * path is never the bottleneck. A separate router would add nothing: the
 * sender's stack hands frames to its port as a host with a fast NIC hands
 * them to a router, and the stack ignores a port's drops as it would a
 * router's (it learns of them only from the ACKs).
 *
 * Flows start at seeded random times in the first second (as flows that
 * arrive independently, not in lockstep), send from an endless buffer and
 * the receiver reads everything at once; socket buffers are the stacks'
 * defaults with autotuning, as a Linux host's. Everything is deterministic
 * (seeded), so the full run's JSON (--out) is kept in the repo
 * (bench/flows/results.json) and a change that moves a figure shows in its
 * diff. One JSON line per algorithm goes to stdout.
 *
 * Utilisation is goodput over the link's payload capacity: the wire
 * clocks whole Ethernet frames (no preamble or gap), and a full segment of
 * MSS bytes travels in a frame of MSS + 66 bytes (Ethernet 14, IPv4 20, TCP
 * 20 + 12 of timestamps), so the capacity is 200 Mbit/s * MSS / (MSS + 66)
 * = 191.3 Mbit/s at MSS 1448. The link's raw busy fraction (frame bytes
 * sent, headers and retransmissions included) is reported next to
 * it. Jain's index is (sum x)^2 / (n * sum x^2) over the flows' goodputs.
 * Drops and retransmissions count the measured stretch; ack_queue_drops
 * (the receiver's port) shows the ACK path never overflowed;
 * reordering_flows (TcpExtTCPSACKReorder, whole run) counts the connections
 * whose RACK decided the path reorders, which on this FIFO path it never
 * does: such a flow waits min_RTT/4 before deeming a segment lost. */
#include "bench_util.h"

#include <math.h>

#define MAX_FLOWS   1024
#define LINK_BPS    200000000ull
#define ONE_WAY     (50 * US_NS_PER_MS)
#define QUEUE_BYTES 65536u
#define HDR_BYTES   66u /* Ethernet 14 + IPv4 20 + TCP 20 + timestamps 12 */
#define PORT        5001
#define CHUNK       (64 * 1024)

static uint8_t txbuf[CHUNK];
static uint8_t rxbuf[CHUNK];

struct flow {
    int cfd, sfd;      /* sender's and receiver's descriptors */
    uint16_t port;     /* the sender's port, to match the accepted socket */
    us_time_ns start;  /* when it connects */
    uint64_t received; /* bytes the receiving application read */
    uint64_t rx_at_warm, rx_at_end;
    uint32_t retrans_at_warm, retrans_at_end;
};

struct sim {
    struct us_wire *wire;
    struct us_stack *snd, *rcv;
    struct us_stack *both[2];
    struct us_dev *snd_port, *rcv_port;
    us_time_ns now;
    int lfd;
    unsigned nflows;
    struct flow flows[MAX_FLOWS];
    int by_port[65536]; /* sender port -> flow index, -1 */
};

struct opts {
    const char *cc;
    unsigned flows;
    double warmup, seconds;
    uint64_t seed;
    const char *out, *trace;
    bool quick;
};

/* splitmix64: the start times, reproducible from the seed. */
static uint64_t next_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void sender_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    (void)ctx;
    if (!(events & US_POLLOUT))
        return;
    for (;;) {
        int n = us_send(s, fd, txbuf, sizeof(txbuf), 0, us_stack_now(s));
        if (n == -EAGAIN)
            return;
        if (n <= 0)
            die("us_send: %s", strerror(n ? -n : EPIPE));
    }
}

static void receiver_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    struct flow *f = ctx;
    if (!(events & US_POLLIN))
        return;
    for (;;) {
        int n = us_recv(s, fd, rxbuf, sizeof(rxbuf), 0);
        if (n == -EAGAIN)
            return;
        if (n <= 0)
            die("us_recv: %s", n ? strerror(-n) : "end of stream");
        f->received += (uint64_t)n;
    }
}

static void listener_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    struct sim *m = ctx;
    if (!(events & US_POLLIN))
        return;
    for (;;) {
        struct us_sockaddr_in peer;
        int afd = us_accept(s, fd, &peer);
        if (afd == -EAGAIN)
            return;
        if (afd < 0)
            die("us_accept: %s", strerror(-afd));
        int i = m->by_port[peer.port];
        if (i < 0)
            die("accepted a connection from unknown port %u", peer.port);
        m->flows[i].sfd = afd;
        us_sock_set_callback(s, afd, receiver_ready, &m->flows[i]);
        receiver_ready(&m->flows[i], s, afd, us_sock_poll_events(s, afd));
    }
}

static void sim_init(struct sim *m, const struct opts *o)
{
    memset(m, 0, sizeof(*m));
    for (unsigned i = 0; i < 65536; i++)
        m->by_port[i] = -1;
    /* 4096 frames never binds before 64 KiB does (64 KiB / 60-byte frames
     * is 1,092): the byte limit is the queue. */
    struct us_wire_config wc = {.bandwidth_bps = LINK_BPS,
                                .latency = ONE_WAY,
                                .queue_limit = 4096,
                                .queue_limit_bytes = QUEUE_BYTES};
    m->wire = us_wire_new(&wc);
    /* The frames in flight (a bandwidth-delay product is ~1,700 of them)
     * are charged to the receiving stack's pool, as in a NIC's ring. */
    struct us_stack_config cs = {.name = "snd", .seed = o->seed * 2 + 1, .pkt_count = 32768};
    struct us_stack_config cr = {.name = "rcv", .seed = o->seed * 2 + 2, .pkt_count = 32768};
    m->snd = us_stack_new(&cs);
    m->rcv = us_stack_new(&cr);
    if (!m->wire || !m->snd || !m->rcv)
        die("cannot create the stacks");
    m->both[0] = m->snd;
    m->both[1] = m->rcv;
    char err[160];
    if (us_sysctl_set(m->snd, "net.ipv4.tcp_congestion_control", o->cc, err, sizeof(err)) != 0)
        die("%s", err);
    m->snd_port = us_wire_port_new(m->wire, "snd0");
    m->rcv_port = us_wire_port_new(m->wire, "rcv0");
    if (us_iface_add(m->snd, m->snd_port, BENCH_A_IP, 24, 0) < 0 ||
        us_iface_add(m->rcv, m->rcv_port, BENCH_B_IP, 24, 0) < 0)
        die("cannot add the interfaces");
    m->lfd = us_socket(m->rcv, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, PORT};
    if (m->lfd < 0 || us_bind(m->rcv, m->lfd, &sa) < 0 || us_listen(m->rcv, m->lfd, 1024) < 0)
        die("listen failed");
    us_sock_set_callback(m->rcv, m->lfd, listener_ready, m);

    m->nflows = o->flows;
    uint64_t x = o->seed;
    for (unsigned i = 0; i < m->nflows; i++) {
        m->flows[i].cfd = m->flows[i].sfd = -1;
        m->flows[i].start = (us_time_ns)(next_rand(&x) % US_NS_PER_SEC);
    }
}

static void sim_free(struct sim *m)
{
    us_stack_free(m->snd);
    us_stack_free(m->rcv);
    us_wire_free(m->wire);
}

/* Runs the simulation to `until`, ending with both stacks polled at it. */
static void run_to(struct sim *m, us_time_ns until)
{
    us_sim_run(m->both, 2, &m->now, until);
    us_sim_run(m->both, 2, &m->now, until);
}

static void start_flow(struct sim *m, unsigned i)
{
    struct flow *f = &m->flows[i];
    f->cfd = us_socket(m->snd, US_SOCK_STREAM);
    if (f->cfd < 0)
        die("us_socket: %s", strerror(-f->cfd));
    us_sock_set_callback(m->snd, f->cfd, sender_ready, NULL);
    struct us_sockaddr_in sa = {BENCH_B_IP, PORT};
    int r = us_connect(m->snd, f->cfd, &sa);
    if (r != -EINPROGRESS)
        die("us_connect: %s", strerror(r < 0 ? -r : EINVAL));
    struct us_sockaddr_in me;
    if (us_getsockname(m->snd, f->cfd, &me) < 0 || m->by_port[me.port] >= 0)
        die("no distinct local port for flow %u", i);
    f->port = me.port;
    m->by_port[me.port] = (int)i;
}

static struct us_tcp_info info_of(struct sim *m, unsigned i)
{
    struct us_tcp_info ti;
    size_t len = sizeof(ti);
    if (us_getsockopt(m->snd, m->flows[i].cfd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &len) < 0)
        die("TCP_INFO of flow %u", i);
    return ti;
}

static uint64_t mib(struct sim *m, const char *name)
{
    int64_t v = us_mib_get(us_stack_mib(m->snd), name);
    if (v < 0)
        die("no counter %s", name);
    return (uint64_t)v;
}

/* Counters at the start and the end of the measured stretch. */
struct snap {
    uint64_t tx_bytes, tx_packets, tx_dropped, ack_dropped;
    uint64_t retrans_segs, timeouts, fast_retrans, recoveries, loss_probes, spurious_rtos;
};

static struct snap take_snap(struct sim *m, bool end)
{
    struct snap s = {
        .tx_bytes = m->snd_port->stats.tx_bytes,
        .tx_packets = m->snd_port->stats.tx_packets,
        .tx_dropped = m->snd_port->stats.tx_dropped,
        .ack_dropped = m->rcv_port->stats.tx_dropped,
        .retrans_segs = mib(m, "TcpRetransSegs"),
        .timeouts = mib(m, "TcpExtTCPTimeouts"),
        .fast_retrans = mib(m, "TcpExtTCPFastRetrans"),
        .recoveries = mib(m, "TcpExtTCPSackRecovery") + mib(m, "TcpExtTCPRenoRecovery"),
        .loss_probes = mib(m, "TcpExtTCPLossProbes"),
        .spurious_rtos = mib(m, "TcpExtTCPSpuriousRTOs"),
    };
    for (unsigned i = 0; i < m->nflows; i++) {
        struct flow *f = &m->flows[i];
        if (f->sfd < 0)
            die("flow %u was never accepted", i);
        uint32_t rt = info_of(m, i).total_retrans;
        if (end) {
            f->rx_at_end = f->received;
            f->retrans_at_end = rt;
        } else {
            f->rx_at_warm = f->received;
            f->retrans_at_warm = rt;
        }
    }
    return s;
}

/* One trace line per flow every 100 ms (the header line names the
 * fields). */
static void trace_line(struct sim *m, FILE *tr)
{
    for (unsigned i = 0; i < m->nflows; i++) {
        if (m->flows[i].cfd < 0)
            continue;
        struct us_tcp_info ti = info_of(m, i);
        fprintf(tr, "%.3f %u %u %u %u %u %llu %u %u %u %d\n", (double)m->now / 1e9, i, ti.snd_cwnd,
                ti.snd_ssthresh, ti.rtt, ti.rto, (unsigned long long)m->flows[i].received,
                ti.total_retrans, ti.snd_wnd, ti.unacked, ti.sndbuf);
    }
}

struct result {
    const char *cc;
    unsigned flows;
    uint32_t mss;
    double seconds;
    double goodput_bps, capacity_bps, utilisation, link_busy, jain;
    double min_bps, max_bps;
    uint64_t reordering_flows;
    uint64_t drops, ack_drops, retrans_segs, timeouts, fast_retrans, recoveries, loss_probes,
        spurious_rtos;
    double per_flow_mbps[MAX_FLOWS];
    uint32_t per_flow_retrans[MAX_FLOWS];
    double wall_s;
};

static void run_one(const struct opts *o, const char *cc, struct result *r)
{
    static struct sim m;
    struct opts oc = *o;
    oc.cc = cc;
    uint64_t wall0 = now_ns();
    sim_init(&m, &oc);
    FILE *tr = NULL;
    if (o->trace) {
        char path[512];
        snprintf(path, sizeof(path), "%s.%s", o->trace, cc);
        tr = fopen(path, "w");
        if (!tr)
            die("cannot write %s", path);
        fprintf(tr, "# t_s flow cwnd ssthresh srtt_us rto_us received total_retrans "
                    "snd_wnd unacked sndbuf\n");
    }
    /* Connect in start order. */
    unsigned order[MAX_FLOWS];
    for (unsigned i = 0; i < m.nflows; i++)
        order[i] = i;
    for (unsigned i = 1; i < m.nflows; i++)
        for (unsigned j = i; j > 0 && m.flows[order[j]].start < m.flows[order[j - 1]].start; j--) {
            unsigned t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (unsigned k = 0; k < m.nflows; k++) {
        run_to(&m, m.flows[order[k]].start);
        start_flow(&m, order[k]);
    }
    us_time_ns warm = (us_time_ns)(o->warmup * 1e9), end = warm + (us_time_ns)(o->seconds * 1e9);
    us_time_ns step = tr ? 100 * US_NS_PER_MS : warm;
    while (m.now + step <= warm) {
        run_to(&m, m.now + step);
        if (tr)
            trace_line(&m, tr);
    }
    run_to(&m, warm);
    struct snap a = take_snap(&m, false);
    step = tr ? 100 * US_NS_PER_MS : end - warm;
    while (m.now + step <= end) {
        run_to(&m, m.now + step);
        if (tr)
            trace_line(&m, tr);
    }
    run_to(&m, end);
    struct snap b = take_snap(&m, true);

    memset(r, 0, sizeof(*r));
    r->cc = cc;
    r->flows = m.nflows;
    r->seconds = o->seconds;
    r->mss = info_of(&m, 0).snd_mss;
    double sum = 0, sum2 = 0;
    r->min_bps = INFINITY;
    for (unsigned i = 0; i < m.nflows; i++) {
        struct flow *f = &m.flows[i];
        double bps = (double)(f->rx_at_end - f->rx_at_warm) * 8.0 / o->seconds;
        r->per_flow_mbps[i] = bps / 1e6;
        r->per_flow_retrans[i] = f->retrans_at_end - f->retrans_at_warm;
        sum += bps;
        sum2 += bps * bps;
        r->min_bps = bps < r->min_bps ? bps : r->min_bps;
        r->max_bps = bps > r->max_bps ? bps : r->max_bps;
    }
    r->goodput_bps = sum;
    r->capacity_bps = (double)LINK_BPS * r->mss / (r->mss + HDR_BYTES);
    r->utilisation = sum / r->capacity_bps;
    r->link_busy = (double)(b.tx_bytes - a.tx_bytes) * 8.0 / ((double)LINK_BPS * o->seconds);
    r->jain = sum2 > 0 ? sum * sum / (m.nflows * sum2) : 0;
    r->drops = b.tx_dropped - a.tx_dropped;
    r->ack_drops = b.ack_dropped - a.ack_dropped;
    r->reordering_flows = mib(&m, "TcpExtTCPSACKReorder");
    r->retrans_segs = b.retrans_segs - a.retrans_segs;
    r->timeouts = b.timeouts - a.timeouts;
    r->fast_retrans = b.fast_retrans - a.fast_retrans;
    r->recoveries = b.recoveries - a.recoveries;
    r->loss_probes = b.loss_probes - a.loss_probes;
    r->spurious_rtos = b.spurious_rtos - a.spurious_rtos;
    if (tr)
        fclose(tr);
    if (getenv("BENCH_FLOWS_MIB")) {
        fprintf(stderr, "--- %s: the sender's counters\n", cc);
        us_mib_print_nstat(us_stack_mib(m.snd), stderr, 0);
        fprintf(stderr, "--- %s: the receiver's counters\n", cc);
        us_mib_print_nstat(us_stack_mib(m.rcv), stderr, 0);
    }
    sim_free(&m);
    r->wall_s = (double)(now_ns() - wall0) / 1e9;
}

/* The figures of one algorithm as one JSON object (no wall time: the
 * results file must change only when the simulation does). */
static void print_result(FILE *out, const struct result *r, bool per_flow)
{
    fprintf(out,
            "{\"cc\":\"%s\",\"flows\":%u,\"mss\":%u,\"seconds\":%g,"
            "\"goodput_mbps\":%.3f,\"capacity_mbps\":%.3f,\"utilisation\":%.4f,"
            "\"link_busy\":%.4f,\"jain\":%.4f,\"min_flow_mbps\":%.3f,\"max_flow_mbps\":%.3f,"
            "\"queue_drops\":%llu,\"ack_queue_drops\":%llu,\"retrans_segs\":%llu,\"timeouts\":%llu,"
            "\"fast_retrans\":%llu,\"recoveries\":%llu,\"loss_probes\":%llu,"
            "\"spurious_rtos\":%llu,\"reordering_flows\":%llu",
            r->cc, r->flows, r->mss, r->seconds, r->goodput_bps / 1e6, r->capacity_bps / 1e6,
            r->utilisation, r->link_busy, r->jain, r->min_bps / 1e6, r->max_bps / 1e6,
            (unsigned long long)r->drops, (unsigned long long)r->ack_drops,
            (unsigned long long)r->retrans_segs, (unsigned long long)r->timeouts,
            (unsigned long long)r->fast_retrans, (unsigned long long)r->recoveries,
            (unsigned long long)r->loss_probes, (unsigned long long)r->spurious_rtos,
            (unsigned long long)r->reordering_flows);
    if (per_flow) {
        fprintf(out, ",\n   \"per_flow_mbps\":[");
        for (unsigned i = 0; i < r->flows; i++)
            fprintf(out, "%s%.3f", i ? (i % 8 ? "," : ",\n    ") : "", r->per_flow_mbps[i]);
        fprintf(out, "],\n   \"per_flow_retrans\":[");
        for (unsigned i = 0; i < r->flows; i++)
            fprintf(out, "%s%u", i ? (i % 16 ? "," : ",\n    ") : "", r->per_flow_retrans[i]);
        fprintf(out, "]");
    }
    fprintf(out, "}");
}

static void usage(void)
{
    die("usage: bench_flows [--quick] [--cc reno|cubic|both] [--flows N] [--warmup S] "
        "[--seconds S] [--seed N] [--out FILE] [--trace PREFIX]");
}

int main(int argc, char **argv)
{
    struct opts o = {.cc = "both", .flows = 64, .warmup = 10, .seconds = 60, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            o.quick = true;
            o.warmup = 5;
            o.seconds = 10;
            continue;
        }
        if (!v)
            usage();
        if (!strcmp(a, "--cc"))
            o.cc = v;
        else if (!strcmp(a, "--flows"))
            o.flows = (unsigned)atoi(v);
        else if (!strcmp(a, "--warmup"))
            o.warmup = atof(v);
        else if (!strcmp(a, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(a, "--seed"))
            o.seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--out"))
            o.out = v;
        else if (!strcmp(a, "--trace"))
            o.trace = v;
        else
            usage();
        i++;
    }
    if (o.flows < 1 || o.flows > MAX_FLOWS || o.seconds <= 0 || o.warmup < 1)
        usage();
    const char *ccs[2];
    int ncc = 0;
    if (!strcmp(o.cc, "both") || !strcmp(o.cc, "reno"))
        ccs[ncc++] = "reno";
    if (!strcmp(o.cc, "both") || !strcmp(o.cc, "cubic"))
        ccs[ncc++] = "cubic";
    if (!ncc)
        usage();
    pattern_fill(txbuf, sizeof(txbuf));

    static struct result res[2];
    for (int k = 0; k < ncc; k++) {
        run_one(&o, ccs[k], &res[k]);
        print_result(stdout, &res[k], false);
        fputc('\n', stdout);
        fflush(stdout);
        fprintf(stderr, "bench_flows: %s: %.1f s simulated in %.1f s of wall time\n", ccs[k],
                o.warmup + o.seconds, res[k].wall_s);
    }
    if (o.out) {
        FILE *f = fopen(o.out, "w");
        if (!f)
            die("cannot write %s", o.out);
        fprintf(f,
                "{\"scenario\":{\"flows\":%u,\"link_mbps\":%.0f,\"rtt_ms\":%.0f,"
                "\"queue_bytes\":%u,\"queue\":\"tail drop, bytes of whole frames\","
                "\"warmup_s\":%g,\"measured_s\":%g,\"seed\":%llu,"
                "\"starts\":\"seeded random in the first second\","
                "\"capacity\":\"200 Mbit/s * MSS / (MSS + 66): Ethernet 14, IPv4 20, "
                "TCP 20 + 12 timestamps\"},\n \"results\":[\n  ",
                o.flows, LINK_BPS / 1e6, 2.0 * ONE_WAY / 1e6, QUEUE_BYTES, o.warmup, o.seconds,
                (unsigned long long)o.seed);
        for (int k = 0; k < ncc; k++) {
            if (k)
                fprintf(f, ",\n  ");
            print_result(f, &res[k], true);
        }
        fprintf(f, "\n ]\n}\n");
        fclose(f);
    }
    return 0;
}
