/* TCP bulk through random loss: COUNT MiB from stack a to stack b on the
 * in-memory wire at 1 Gbit/s with a 10 ms RTT, every frame a sends dropped
 * with probability LOSS percent (the fault injector, a fixed seed), every
 * byte checked. The stacks run on the virtual clock (us_sim_run), so the
 * protocol's behaviour is the same on every machine and every run: the
 * goodput is virtual-time (what the path and the recovery allow), and the
 * CPU time the two stacks spent to get it is the figure that shows whether
 * loss recovery costs grow with the window (the receive buffer lets the
 * window reach about 3 MiB, Linux's tcp_rmem[2] / 2).
 *
 * There is no kernel run: the kernel cannot be put on this virtual clock;
 * the over-TAP rows compare the two as senders through the same loss. */
#include "bench_util.h"

#include "ustack/dev.h"

#define CHUNK (64 * 1024)

static uint8_t pattern[CHUNK + PATTERN_CYCLE];
static uint8_t rxbuf[CHUNK];

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct result {
    uint64_t wall, cpu; /* ns of real and CPU time for the transfer */
    us_time_ns vtime;   /* virtual time it took */
    uint64_t retrans, timeouts, examined;
};

static void run_ustack(uint64_t total, double loss, double reorder, uint32_t qlimit,
                       struct result *res)
{
    struct us_wire_config wc = {.mtu = 1500,
                                .bandwidth_bps = 1000000000ull,
                                .latency = 5 * US_NS_PER_MS,
                                .queue_limit = qlimit};
    struct us_wire *wire = us_wire_new(&wc);
    struct us_stack_config ca = {.name = "a", .seed = 1, .pkt_count = 16384};
    struct us_stack_config cb = {.name = "b", .seed = 2, .pkt_count = 16384};
    struct us_stack *a = us_stack_new(&ca), *b = us_stack_new(&cb);
    if (!wire || !a || !b)
        die("cannot create the stacks");
    struct us_fault_config fc = {.loss = loss, .reorder = reorder, .seed = 7, .tx = true};
    struct us_dev *da = us_fault_dev_new(us_wire_port_new(wire, "a0"), &fc);
    if (us_iface_add(a, da, BENCH_A_IP, 24, 0) < 0 ||
        us_iface_add(b, us_wire_port_new(wire, "b0"), BENCH_B_IP, 24, 0) < 0)
        die("cannot add the interfaces");
    struct us_stack *both[2] = {a, b};
    us_time_ns now = 0;

    int lfd = us_socket(b, US_SOCK_STREAM);
    struct us_sockaddr_in la = {US_IP4_ANY, 5001};
    if (lfd < 0 || us_bind(b, lfd, &la) < 0 || us_listen(b, lfd, 16) < 0)
        die("listen failed");
    int cfd = us_socket(a, US_SOCK_STREAM);
    struct us_sockaddr_in ra = {BENCH_B_IP, 5001};
    if (cfd < 0 || us_connect(a, cfd, &ra) != -EINPROGRESS)
        die("connect failed");
    int sfd = -1;
    for (int i = 0; i < 3000 && sfd < 0; i++) {
        us_sim_run(both, 2, &now, now + US_NS_PER_MS);
        sfd = us_accept(b, lfd, NULL);
    }
    if (sfd < 0)
        die("no connection after 3 s of virtual time");

    uint64_t sent = 0, got = 0;
    us_time_ns v0 = now, give_up = now + 3600 * US_NS_PER_SEC;
    uint64_t w0 = now_ns(), c0 = cpu_ns();
    while (got < total) {
        while (sent < total) {
            size_t want = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
            int n = us_send(a, cfd, pattern + sent % PATTERN_CYCLE, want, 0, now);
            if (n == -EAGAIN)
                break;
            if (n <= 0)
                die("us_send: %s", strerror(-n));
            sent += (uint64_t)n;
        }
        for (;;) {
            int n = us_recv(b, sfd, rxbuf, CHUNK, 0);
            if (n == -EAGAIN)
                break;
            if (n <= 0)
                die("us_recv: %s", n ? strerror(-n) : "end of stream");
            if (memcmp(rxbuf, pattern + got % PATTERN_CYCLE, (size_t)n) != 0)
                die("wrong bytes received near stream offset %llu", (unsigned long long)got);
            got += (uint64_t)n;
        }
        if (got >= total)
            break;
        if (now > give_up)
            die("transfer not done after an hour of virtual time (%llu of %llu bytes)",
                (unsigned long long)got, (unsigned long long)total);
        us_sim_run(both, 2, &now, now + US_NS_PER_MS);
    }
    res->wall = now_ns() - w0;
    res->cpu = cpu_ns() - c0;
    res->vtime = now - v0;
    const struct us_mib *m = us_stack_mib(a);
    res->retrans = (uint64_t)us_mib_get(m, "TcpRetransSegs");
    res->timeouts = (uint64_t)us_mib_get(m, "TcpExtTCPTimeouts");
    int64_t ex = us_mib_get(m, "TcpExtTCPRackSegsExamined");
    res->examined = ex > 0 ? (uint64_t)ex : 0;
    us_close(a, cfd);
    us_close(b, sfd);
    us_close(b, lfd);
    us_stack_free(a);
    us_stack_free(b);
    us_wire_free(wire);
}

int main(int argc, char **argv)
{
    long mib;
    if (parse_args(argc, argv, &mib, 64))
        die("no kernel run: the kernel cannot run on the simulator's virtual clock");
    double loss = argc > 3 ? atof(argv[3]) / 100.0 : 0.01;
    if (loss < 0 || loss >= 1)
        die("bad loss percentage %s", argv[3]);
    double reorder = argc > 4 ? atof(argv[4]) / 100.0 : 0;
    uint32_t qlimit = argc > 5 ? (uint32_t)atol(argv[5]) : 4096;
    pattern_fill(pattern, sizeof(pattern));
    uint64_t total = (uint64_t)mib << 20;
    struct result r;
    run_ustack(total, loss, reorder, qlimit, &r);
    double mb = total / 1e6;
    printf("{\"bench\":\"tcp_loss\",\"impl\":\"ustack\",\"loss_pct\":%.2f,\"bytes\":%llu,"
           "\"wall_s\":%.6f,\"cpu_s\":%.6f,\"cpu_ms_per_mb\":%.4f,\"virtual_s\":%.6f,"
           "\"goodput_mbit_s\":%.3f,\"retrans_segs\":%llu,\"timeouts\":%llu,"
           "\"rack_examined\":%llu}\n",
           loss * 100, (unsigned long long)total, r.wall / 1e9, r.cpu / 1e9, r.cpu / 1e6 / mb,
           r.vtime / 1e9, total * 8.0 / r.vtime * 1e3, (unsigned long long)r.retrans,
           (unsigned long long)r.timeouts, (unsigned long long)r.examined);
    return 0;
}
