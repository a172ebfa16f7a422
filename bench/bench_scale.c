/* Scale: what many connections cost ustack, in one process on the
 * simulated wire, driven on a virtual clock (no timer fires: the whole run
 * stays within the first second of it).
 *
 *   bench_scale ustack COUNT [--rows | --demux [SEGS]]
 *
 * Two stacks on a us_wire: a (192.0.2.1) opens connections to 16 listening
 * ports of b (192.0.2.2), each client socket bound with SO_REUSEADDR to a
 * port of its own in 1024..65535, so COUNT up to 1,032,192 4-tuples fit one
 * client address. b's device is the wire port wrapped by an injector that
 * can keep a copy of every pure ACK a sends (each connection's handshake
 * ACK), drop what b sends, or feed b copies of the kept ACKs instead of the
 * wire's frames.
 *
 * Figures:
 *   - demultiplexing: ns per segment for b's whole receive path (Ethernet,
 *     IPv4, the TCP lookup, the ACK's processing) of a duplicate of a
 *     random established connection's handshake ACK, with 10, 10,000 and
 *     COUNT connections, and the ratio COUNT/10 (flat = 1.0); and with
 *     COUNT connections but the segments to 10 of them, whose memory stays
 *     in the cache: the lookup's own cost at that table size. The injector
 *     hands b bursts of 64 frames (a poll takes dev_weight = 64 from a
 *     device, as a NIC's ring), and fetches the next burst's kept frames
 *     while b works on this one, as a NIC's DMA would have them in memory;
 *     b's bottom half prefetches a burst's connections before processing
 *     it (src/tcp/tcp_prefetch.c);
 *   - memory, measured as the change of the allocator's bytes in use
 *     (mallinfo2 uordblks + hblkhd): per idle established connection end
 *     (socket, tcpcb, hash) and the same after a byte each way, per
 *     SYN-queue entry (b holds SYN_RECV while
 *     its SYN-ACKs are dropped), per TIME_WAIT entry (a closed first);
 *   - COUNT connections held at once: the time to establish them all
 *     (socket, bind, connect, handshake, accept) and the process's bytes.
 *
 * --demux measures the demultiplexing figures only (no memory figures,
 * quicker), with SEGS segments per figure (default as below): for
 * iterating and for a profile of the receive path. In the environment,
 * BENCH_CPU_CLOCK times the demultiplexing in the thread's CPU time instead
 * of wall time (steadier on a loaded machine), and BENCH_PERF_CTL=FIFO
 * turns perf on for the COUNT-connection figure's timed part only:
 *
 *   mkfifo ctl; BENCH_PERF_CTL=ctl perf record --control fifo:ctl \
 *       --delay=-1 -g bench_scale ustack 300000 --demux
 *
 * Prints one JSON object; with --rows one row line per figure in the
 * format of bench/run_bench.py (peer null: the kernel's demultiplexing
 * cannot be timed this way; see bench/scale_bench.sh for its memory). */
#include "bench_util.h"

#include "ustack/dev.h"
#include "ustack/mib.h"
#include "ustack/sysctl.h"

#include <malloc.h>

#define NPORTS     16
#define PORT0      5000
#define FRAME_MAX  96
#define BATCH      2048
#define SYNQ_COUNT 10000
#define MID_COUNT  10000
#define STEP_NS    1000 /* virtual time per round */
#define INJ_BURST  64   /* frames per injected burst (a poll takes dev_weight = 64) */

/* ---- b's device: the wire port, or frames the benchmark injects ---- */

struct inj_dev {
    struct us_dev dev;
    bool capture; /* keep each pure ACK from the wire */
    bool drop_tx; /* b's frames go nowhere */
    uint8_t (*frames)[FRAME_MAX];
    uint8_t *lens;
    size_t nframes, capframes;
    uint64_t inject_left;     /* frames still to feed b, each a random kept one */
    size_t picked[INJ_BURST]; /* the next burst's kept frames, fetched ahead */
    int npicked;
    size_t hot; /* of the first `hot` kept ones (0: of all) */
    uint64_t rng;
};

static struct inj_dev *inj_of(struct us_dev *d)
{
    return (struct inj_dev *)d;
}

/* An IPv4 TCP segment with only ACK set and no payload. */
static bool pure_ack(const uint8_t *f, size_t len)
{
    if (len < 14 + 20 + 20 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 6)
        return false;
    size_t ihl = (size_t)(f[14] & 15) * 4;
    size_t tot = (size_t)f[16] << 8 | f[17];
    const uint8_t *t = f + 14 + ihl;
    size_t doff = (size_t)(t[12] >> 4) * 4;
    return t[13] == 0x10 && tot == ihl + doff;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The next burst's frames, picked and prefetched. */
static void inj_pick(struct inj_dev *j)
{
    j->npicked = j->inject_left < INJ_BURST ? (int)j->inject_left : INJ_BURST;
    for (int i = 0; i < j->npicked; i++) {
        size_t f = xorshift(&j->rng) % (j->hot ? j->hot : j->nframes);
        j->picked[i] = f;
        __builtin_prefetch(j->frames[f]);
        __builtin_prefetch(j->frames[f] + FRAME_MAX - 1);
        __builtin_prefetch(&j->lens[f]);
    }
}

static int inj_rx(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct inj_dev *j = inj_of(d);
    if (j->inject_left) {
        /* A burst, as a NIC's ring hands it over. The kept frames are a
         * random pick among COUNT (96 MB of them at a million): the next
         * burst's are picked now and fetched while the stack works on this
         * one, as a NIC's DMA would have put them in memory before the
         * next poll, so that the copy is not a cache miss of its own per
         * frame, one that no NIC costs the CPU. */
        if (!j->npicked)
            inj_pick(j);
        int k = 0;
        for (; k < n && k < j->npicked && j->inject_left; k++, j->inject_left--) {
            size_t i = j->picked[k];
            struct us_pkt *p = us_pkt_alloc(d->rx_pool);
            if (!p)
                break;
            memcpy(us_pkt_put(p, j->lens[i]), j->frames[i], j->lens[i]);
            pkts[k] = p;
        }
        /* A burst cut short keeps its last picks for the next. */
        memmove(j->picked, j->picked + k, (size_t)(j->npicked - k) * sizeof(j->picked[0]));
        j->npicked -= k;
        if (!j->npicked && j->inject_left)
            inj_pick(j);
        return k;
    }
    int got = us_dev_rx_burst(d->lower, pkts, n, now);
    if (j->capture) {
        for (int i = 0; i < got; i++) {
            if (!pure_ack(pkts[i]->data, pkts[i]->len) || pkts[i]->len > FRAME_MAX ||
                j->nframes == j->capframes)
                continue;
            memcpy(j->frames[j->nframes], pkts[i]->data, pkts[i]->len);
            j->lens[j->nframes++] = (uint8_t)pkts[i]->len;
        }
    }
    return got;
}

static int inj_tx(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    if (inj_of(d)->drop_tx) {
        for (int i = 0; i < n; i++)
            us_pkt_free(pkts[i]);
        return n;
    }
    return us_dev_tx_burst(d->lower, pkts, n, now);
}

static void inj_destroy(struct us_dev *d)
{
    us_dev_destroy(d->lower);
    struct inj_dev *j = inj_of(d);
    free(j->frames);
    free(j->lens);
    free(j);
}

static const struct us_dev_ops inj_ops = {
    .rx_burst = inj_rx, .tx_burst = inj_tx, .destroy = inj_destroy};

/* ---- the allocator's count ---- */

static int64_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
}

static double rss_mb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (double)rss * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

/* ---- a and b ---- */

struct spair {
    struct us_wire *wire;
    struct us_stack *a, *b;
    struct inj_dev *inj;
    us_time_ns now;
    int lfd[NPORTS];
    int *cfd, *sfd; /* a's sockets, b's accepted ones (any order) */
    long n, accepted;
};

static void set_sysctls(struct us_stack *s)
{
    struct us_sysctl *c = us_stack_sysctl(s);
    c->somaxconn = 65535;
    c->tcp_max_syn_backlog = 65535;
}

static void spair_init(struct spair *p, long count, bool capture)
{
    memset(p, 0, sizeof(*p));
    struct us_wire_config wc = {.mtu = 1500, .queue_limit = 65536};
    p->wire = us_wire_new(&wc);
    struct us_stack_config ca = {.name = "a", .seed = 1, .pkt_count = 16384};
    struct us_stack_config cb = {.name = "b", .seed = 2, .pkt_count = 16384};
    p->a = us_stack_new(&ca);
    p->b = us_stack_new(&cb);
    p->inj = calloc(1, sizeof(*p->inj));
    p->cfd = malloc((size_t)count * sizeof(int));
    p->sfd = malloc((size_t)count * sizeof(int));
    if (!p->wire || !p->a || !p->b || !p->inj || !p->cfd || !p->sfd)
        die("out of memory for %ld connections", count);
    struct us_dev *lower = us_wire_port_new(p->wire, "b0");
    struct inj_dev *j = p->inj;
    j->dev.ops = &inj_ops;
    memcpy(j->dev.name, lower->name, sizeof(j->dev.name));
    j->dev.mtu = lower->mtu;
    j->dev.mac = lower->mac;
    j->dev.lower = lower;
    j->rng = 0x9e3779b97f4a7c15ull;
    if (capture) {
        j->capture = true;
        j->capframes = (size_t)count;
        j->frames = malloc((size_t)count * FRAME_MAX);
        j->lens = malloc((size_t)count);
        if (!j->frames || !j->lens)
            die("out of memory for the kept ACKs");
    }
    set_sysctls(p->a);
    set_sysctls(p->b);
    p->now = US_NS_PER_SEC; /* the clock starts at 1 s; nothing runs past 2 s */
    if (us_iface_add(p->a, us_wire_port_new(p->wire, "a0"), BENCH_A_IP, 24, p->now) < 0 ||
        us_iface_add(p->b, &j->dev, BENCH_B_IP, 24, p->now) < 0)
        die("cannot add the interfaces");
    for (int i = 0; i < NPORTS; i++) {
        p->lfd[i] = us_socket(p->b, US_SOCK_STREAM);
        struct us_sockaddr_in sa = {US_IP4_ANY, (uint16_t)(PORT0 + i)};
        if (p->lfd[i] < 0 || us_bind(p->b, p->lfd[i], &sa) < 0 ||
            us_listen(p->b, p->lfd[i], 65535) < 0)
            die("listen on %d", PORT0 + i);
    }
}

static void spair_free(struct spair *p)
{
    us_stack_free(p->a);
    us_stack_free(p->b);
    us_wire_free(p->wire);
    free(p->cfd);
    free(p->sfd);
}

static void round_both(struct spair *p)
{
    p->now += STEP_NS;
    us_stack_poll(p->a, p->now);
    us_stack_poll(p->b, p->now);
}

/* Rounds until neither stack has received anything for 10 rounds. */
static void run_quiet(struct spair *p)
{
    const struct us_mib *ma = us_stack_mib(p->a), *mb = us_stack_mib(p->b);
    uint64_t last = 0;
    for (int quiet = 0, k = 0; quiet < 10; k++) {
        if (k > 1000000)
            die("the stacks never went quiet");
        round_both(p);
        uint64_t in = ma->tcp.InSegs + mb->tcp.InSegs;
        quiet = in == last ? quiet + 1 : 0;
        last = in;
    }
}

/* a's socket for connection i: bound to its own port, connecting. */
static void client_open(struct spair *p, long i)
{
    int fd = us_socket(p->a, US_SOCK_STREAM);
    if (fd < 0)
        die("us_socket %ld: %s", i, strerror(-fd));
    us_set_int(p->a, fd, US_SOL_SOCKET, US_SO_REUSEADDR, 1);
    struct us_sockaddr_in me = {BENCH_A_IP, (uint16_t)(1024 + i / NPORTS)};
    struct us_sockaddr_in to = {BENCH_B_IP, (uint16_t)(PORT0 + i % NPORTS)};
    int r = us_bind(p->a, fd, &me);
    if (r < 0)
        die("bind %ld: %s", i, strerror(-r));
    r = us_connect(p->a, fd, &to);
    if (r != -EINPROGRESS)
        die("connect %ld: %s", i, strerror(r < 0 ? -r : EINVAL));
    p->cfd[i] = fd;
}

static void accept_all(struct spair *p)
{
    for (int l = 0; l < NPORTS; l++) {
        int fd;
        while ((fd = us_accept(p->b, p->lfd[l], NULL)) >= 0)
            p->sfd[p->accepted++] = fd;
    }
}

/* count connections, BATCH at a time, each accepted by b. */
static void establish(struct spair *p, long count)
{
    if (count > (long)NPORTS * 64512)
        die("at most %ld connections", (long)NPORTS * 64512);
    while (p->n < count) {
        /* One first, so both ends have resolved each other's address
         * (the ARP queue holds only a few frames per neighbour). */
        long batch = p->n ? BATCH : 1;
        long to = p->n + batch < count ? p->n + batch : count;
        for (long i = p->n; i < to; i++)
            client_open(p, i);
        for (int r = 0; p->accepted < to; r++) {
            if (r > 100000)
                die("%ld of %ld connections accepted", p->accepted, to);
            round_both(p);
            accept_all(p);
        }
        p->n = to;
    }
}

/* perf record --control fifo:CTL --delay=-1 with BENCH_PERF_CTL=CTL in the
 * environment profiles only the timed part of the COUNT-connection
 * demultiplexing (not the set-up, nor the other sizes); with
 * BENCH_PERF_HOT also set, that of the segments to 10 of the COUNT. */
static void perf_ctl(const char *cmd)
{
    const char *path = getenv("BENCH_PERF_CTL");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fputs(cmd, f);
        fclose(f);
    }
}

/* The demultiplexing figures' clock: wall time; with BENCH_CPU_CLOCK set in
 * the environment the thread's CPU time, which leaves out the time another
 * process had the core (the figures of a loaded machine). */
static uint64_t demux_clock(void)
{
    static int cpu = -1;
    if (cpu < 0)
        cpu = getenv("BENCH_CPU_CLOCK") != NULL;
    if (!cpu)
        return now_ns();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ns per segment over `segs` duplicates of random connections' ACKs (of
 * the first `hot` connections only, if not 0). */
static double demux_ns(struct spair *p, long segs, size_t hot, bool profile)
{
    struct inj_dev *j = p->inj;
    j->hot = hot;
    if (j->nframes != (size_t)p->n)
        die("kept %zu handshake ACKs for %ld connections", j->nframes, p->n);
    const struct us_mib *m = us_stack_mib(p->b);
    uint64_t in0 = m->tcp.InSegs, out0 = m->tcp.OutSegs;
    /* Warm up, then time. */
    j->inject_left = (uint64_t)(segs / 10 + 1);
    while (j->inject_left)
        us_stack_poll(p->b, p->now += STEP_NS);
    j->inject_left = (uint64_t)segs;
    if (profile)
        perf_ctl("enable\n");
    uint64_t t0 = demux_clock();
    while (j->inject_left)
        us_stack_poll(p->b, p->now += STEP_NS);
    uint64_t t1 = demux_clock();
    if (profile)
        perf_ctl("disable\n");
    /* Every one went to its connection: nothing answered (no reset, no ACK). */
    uint64_t in = m->tcp.InSegs - in0, out = m->tcp.OutSegs - out0;
    if (in != (uint64_t)(segs + segs / 10 + 1) || out != 0)
        die("demux: %llu segments in, %llu out (expected %ld in, 0 out)", (unsigned long long)in,
            (unsigned long long)out, segs + segs / 10 + 1);
    return (double)(t1 - t0) / (double)segs;
}

/* ---- the measurements ---- */

struct results {
    long count;
    double demux10, demux_mid, demux_count, demux_count_hot;
    double est_bytes, used_bytes, synq_bytes, tw_bytes;
    double establish_s, held_heap_mb, held_rss_mb, held_bytes_per_conn;
};

static void measure_synq(struct results *r)
{
    struct spair p;
    spair_init(&p, SYNQ_COUNT + 1, false);
    /* Each end learns the other's address first (a SYN then a reset). */
    client_open(&p, 0);
    for (int k = 0; k < 10; k++)
        round_both(&p);
    p.inj->drop_tx = true; /* the SYN-ACKs never reach a */
    for (long i = 1; i <= SYNQ_COUNT; i++)
        client_open(&p, i); /* the SYNs wait on the wire */
    int64_t m1 = heap_bytes();
    const struct us_mib *mb = us_stack_mib(p.b);
    uint64_t in0 = mb->tcp.InSegs;
    for (int k = 0; mb->tcp.InSegs - in0 < SYNQ_COUNT; k++) {
        if (k > 100000)
            die("b received %llu of %d SYNs", (unsigned long long)mb->tcp.InSegs, SYNQ_COUNT);
        us_stack_poll(p.b, p.now += STEP_NS);
    }
    int64_t m2 = heap_bytes();
    if (mb->tcpext.ListenDrops || mb->tcpext.SyncookiesSent)
        die("SYN queue: %llu dropped, %llu cookies", (unsigned long long)mb->tcpext.ListenDrops,
            (unsigned long long)mb->tcpext.SyncookiesSent);
    r->synq_bytes = (double)(m2 - m1) / SYNQ_COUNT;
    spair_free(&p);
}

static int count_table(struct us_stack *s, const char *what)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    us_sock_print_table(s, f);
    fclose(f);
    int n = 0;
    for (const char *q = text; (q = strstr(q, what)) != NULL; q++)
        n++;
    free(text);
    return n;
}

static void measure_mid(struct results *r, long segs)
{
    struct spair p;
    spair_init(&p, MID_COUNT, true);
    int64_t m0 = heap_bytes();
    establish(&p, MID_COUNT);
    int64_t m1 = heap_bytes();
    r->est_bytes = (double)(m1 - m0) / (2.0 * MID_COUNT);
    r->demux_mid = demux_ns(&p, segs, 0, false);
    p.inj->capture = false;
    /* A byte each way, read: idle again, with what sending left behind. */
    uint8_t byte = 'x';
    for (long i = 0; i < p.n; i++)
        if (us_send(p.a, p.cfd[i], &byte, 1, 0, p.now) != 1)
            die("send on connection %ld", i);
    run_quiet(&p);
    for (long i = 0; i < p.accepted; i++)
        if (us_recv(p.b, p.sfd[i], &byte, 1, 0) != 1 ||
            us_send(p.b, p.sfd[i], &byte, 1, 0, p.now) != 1)
            die("echo on accepted connection %ld", i);
    run_quiet(&p);
    for (long i = 0; i < p.n; i++)
        if (us_recv(p.a, p.cfd[i], &byte, 1, 0) != 1)
            die("the echo on connection %ld", i);
    run_quiet(&p);
    r->used_bytes = (double)(heap_bytes() - m0) / (2.0 * MID_COUNT);
    /* TIME_WAIT: a closes first, then b; a keeps every pair in TIME_WAIT. */
    for (long i = 0; i < p.n; i++)
        us_close(p.a, p.cfd[i]);
    run_quiet(&p);
    for (long i = 0; i < p.accepted; i++)
        us_close(p.b, p.sfd[i]);
    run_quiet(&p);
    const struct us_mib *ma = us_stack_mib(p.a);
    int shown = count_table(p.a, "TIME-WAIT");
    if (ma->tcpext.TW != MID_COUNT || shown != MID_COUNT)
        die("TIME_WAIT: %llu entered, %d shown, expected %d", (unsigned long long)ma->tcpext.TW,
            shown, MID_COUNT);
    int64_t m2 = heap_bytes();
    p.now += 61 * US_NS_PER_SEC;
    round_both(&p);
    round_both(&p);
    if (count_table(p.a, "TIME-WAIT") != 0)
        die("TIME_WAIT entries left after 61 s");
    int64_t m3 = heap_bytes();
    r->tw_bytes = (double)(m2 - m3) / MID_COUNT;
    spair_free(&p);
}

static void measure_small(struct results *r, long segs)
{
    struct spair p;
    spair_init(&p, 10, true);
    establish(&p, 10);
    r->demux10 = demux_ns(&p, segs, 0, false);
    spair_free(&p);
}

static void measure_held(struct results *r, long count, long segs)
{
    struct spair p;
    spair_init(&p, count, true);
    int64_t m0 = heap_bytes();
    double rss0 = rss_mb();
    uint64_t t0 = now_ns();
    establish(&p, count);
    r->establish_s = (double)(now_ns() - t0) / 1e9;
    int64_t m1 = heap_bytes();
    r->held_heap_mb = (double)(m1 - m0) / 1e6;
    r->held_rss_mb = rss_mb() - rss0;
    r->held_bytes_per_conn = (double)(m1 - m0) / (double)count;
    r->demux_count = demux_ns(&p, segs, 0, !getenv("BENCH_PERF_HOT"));
    r->demux_count_hot = demux_ns(&p, segs, 10, getenv("BENCH_PERF_HOT") != NULL);
    spair_free(&p);
}

static void row(const char *figure, const char *unit, const char *better, double v,
                const char *note)
{
    printf("{\"figure\": \"%s\", \"unit\": \"%s\", \"better\": \"%s\", \"ustack\": %.4g, "
           "\"peer_name\": null, \"peer\": null, \"note\": \"%s\"}\n",
           figure, unit, better, v, note);
}

static void measure_mid_demux(struct results *r, long segs)
{
    struct spair p;
    spair_init(&p, MID_COUNT, true);
    establish(&p, MID_COUNT);
    r->demux_mid = demux_ns(&p, segs, 0, false);
    spair_free(&p);
}

int main(int argc, char **argv)
{
    long count;
    bool rows = argc > 3 && strcmp(argv[3], "--rows") == 0;
    bool demux_only = argc > 3 && strcmp(argv[3], "--demux") == 0;
    if (parse_args(argc, argv, &count, 1000000))
        die("bench_scale measures ustack only (the kernel's demultiplexing is not timed this "
            "way)");
    long segs = count >= 1000000 ? 2000000 : 500000;
    if (demux_only && argc > 4 && (segs = atol(argv[4])) <= 0)
        die("bad segment count %s", argv[4]);
    struct results r = {.count = count};
    if (demux_only) {
        measure_small(&r, segs);
        measure_mid_demux(&r, segs);
        measure_held(&r, count, segs);
        printf("{\"count\": %ld, \"segs\": %ld, \"demux_ns_10\": %.1f, \"demux_ns_10000\": "
               "%.1f, \"demux_ns_count\": %.1f, \"demux_ns_count_hot10\": %.1f, "
               "\"demux_flatness\": %.3f, \"establish_s\": %.3f}\n",
               count, segs, r.demux10, r.demux_mid, r.demux_count, r.demux_count_hot,
               r.demux_count / r.demux10, r.establish_s);
        return 0;
    }
    measure_small(&r, segs);
    measure_mid(&r, segs);
    measure_synq(&r);
    measure_held(&r, count, segs);
    double flat = r.demux_count / r.demux10;
    if (!rows) {
        printf("{\"count\": %ld, \"demux_ns_10\": %.1f, \"demux_ns_10000\": %.1f, "
               "\"demux_ns_count\": %.1f, \"demux_ns_count_hot10\": %.1f, \"demux_flatness\": "
               "%.3f, \"bytes_established\": %.0f, \"bytes_after_exchange\": %.0f, "
               "\"bytes_synq\": %.0f, \"bytes_time_wait\": %.0f, \"establish_s\": %.3f, "
               "\"held_heap_mb\": %.1f, \"held_rss_mb\": %.1f, \"held_bytes_per_conn\": %.0f}\n",
               count, r.demux10, r.demux_mid, r.demux_count, r.demux_count_hot, flat, r.est_bytes,
               r.used_bytes, r.synq_bytes, r.tw_bytes, r.establish_s, r.held_heap_mb, r.held_rss_mb,
               r.held_bytes_per_conn);
        return 0;
    }
    char fig[128], note[256];
    const char *nopeer = "ustack only: the figure is compared with its own 10-connection value";
    row("demux, 10 connections", "ns/segment", "lower", r.demux10, nopeer);
    row("demux, 10,000 connections", "ns/segment", "lower", r.demux_mid, nopeer);
    snprintf(fig, sizeof(fig), "demux, %ld connections", count);
    row(fig, "ns/segment", "lower", r.demux_count, nopeer);
    snprintf(fig, sizeof(fig), "demux, %ld connections, segments to 10 of them", count);
    row(fig, "ns/segment", "lower", r.demux_count_hot,
        "the lookup's own cost at that size: the same 10 connections' memory stays cached");
    snprintf(fig, sizeof(fig), "demux flatness, %ld / 10 connections", count);
    snprintf(note, sizeof(note),
             "target 1.0 +- 0.2; with the segments to 10 of the %ld: %.2f (the rest: a random "
             "connection's bucket and tcpcb lines, a burst's fetched together)",
             count, r.demux_count_hot / r.demux10);
    row(fig, "ratio", "lower", flat, note);
    row("bytes per idle established connection end", "bytes", "lower", r.est_bytes,
        "socket + tcpcb + hash, allocator bytes in use / 2N, N = 10,000; target 256");
    row("bytes per idle connection end after a byte each way", "bytes", "lower", r.used_bytes,
        "the send ring (512 bytes, doubled as far as the queued bytes need), the retransmission "
        "records (8, doubled as the segments in flight need) and the 72-byte loss-recovery "
        "block stay after the data is acknowledged");
    row("bytes per SYN-queue entry", "bytes", "lower", r.synq_bytes,
        "b's SYN_RECV children, allocator delta / N, N = 10,000; target 64");
    row("bytes per TIME_WAIT entry", "bytes", "lower", r.tw_bytes,
        "allocator delta / N when N = 10,000 TIME_WAIT entries expire; target 64");
    snprintf(fig, sizeof(fig), "%ld connections: time to establish", count);
    snprintf(note, sizeof(note),
             "two stacks on the in-memory wire, socket+bind+connect+handshake+accept, one core");
    row(fig, "s", "lower", r.establish_s, note);
    snprintf(fig, sizeof(fig), "%ld connections held: memory", count);
    snprintf(note, sizeof(note), "both ends; RSS grew %.0f MB; %.0f bytes per connection (2 ends)",
             r.held_rss_mb, r.held_bytes_per_conn);
    row(fig, "MB", "lower", r.held_heap_mb, note);
    return 0;
}
