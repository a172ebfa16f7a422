/* Shared parts of the in-process benchmarks: pinning to one core, the real
 * clock, two ustack stacks joined by the in-memory wire and driven on real
 * time by one thread, the kernel's loopback sockets, percentiles, and the
 * one JSON line each program prints. Each program takes the implementation
 * to measure ("ustack" or "kernel") and a count; bench.sh alternates them. */
#ifndef USTACK_BENCH_UTIL_H
#define USTACK_BENCH_UTIL_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

#define BENCH_A_IP US_IP4(192, 0, 2, 1)
#define BENCH_B_IP US_IP4(192, 0, 2, 2)

static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One core for the whole program (both ends, and for the kernel its softirq
 * work, which runs on the sending core over loopback): BENCH_CPU, else the
 * last CPU. */
static inline void pin_one_core(void)
{
    const char *env = getenv("BENCH_CPU");
    long cpu = env ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN) - 1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        fprintf(stderr, "bench: sched_setaffinity(%ld): %s (running unpinned)\n", cpu,
                strerror(errno));
}

/* argv: IMPL [COUNT]. Returns true for "kernel"; *count defaults to def. */
static inline bool parse_args(int argc, char **argv, long *count, long def)
{
    if (argc < 2 || (strcmp(argv[1], "ustack") && strcmp(argv[1], "kernel")))
        die("usage: %s ustack|kernel [COUNT]", argv[0]);
    *count = argc > 2 ? atol(argv[2]) : def;
    if (*count <= 0)
        die("bad count %s", argv[2]);
    pin_one_core();
    return strcmp(argv[1], "kernel") == 0;
}

/* ---- ustack: stacks a (192.0.2.1) and b (192.0.2.2) on one wire ---- */

struct upair {
    struct us_wire *wire;
    struct us_stack *a, *b;
};

/* MTU 1500, no latency, infinite bandwidth: a frame sent at `now` can be
 * received at once. The real clock drives the stacks' timers. */
static inline void upair_init_offload(struct upair *p, uint32_t mtu, bool offload)
{
    struct us_wire_config wc = {.mtu = mtu, .queue_limit = 8192, .offload = offload};
    p->wire = us_wire_new(&wc);
    struct us_stack_config ca = {.name = "a", .seed = 1, .pkt_count = 16384};
    struct us_stack_config cb = {.name = "b", .seed = 2, .pkt_count = 16384};
    p->a = us_stack_new(&ca);
    p->b = us_stack_new(&cb);
    if (!p->wire || !p->a || !p->b)
        die("cannot create the stacks");
    us_time_ns now = us_clock_now();
    if (us_iface_add(p->a, us_wire_port_new(p->wire, "a0"), BENCH_A_IP, 24, now) < 0 ||
        us_iface_add(p->b, us_wire_port_new(p->wire, "b0"), BENCH_B_IP, 24, now) < 0)
        die("cannot add the interfaces");
}

static inline void upair_init(struct upair *p, uint32_t mtu)
{
    upair_init_offload(p, mtu, false);
}

static inline void upair_free(struct upair *p)
{
    us_stack_free(p->a);
    us_stack_free(p->b);
    us_wire_free(p->wire);
}

/* One round of both stacks at the time now (a reading of the real clock). */
static inline void upair_poll_at(struct upair *p, us_time_ns now)
{
    us_stack_poll(p->a, now);
    us_stack_poll(p->b, now);
}

/* One round of both stacks at the real time now. */
static inline void upair_poll(struct upair *p)
{
    upair_poll_at(p, us_clock_now());
}

static inline void us_set_int(struct us_stack *s, int fd, int level, int opt, int v)
{
    int r = us_setsockopt(s, fd, level, opt, &v, sizeof(v));
    if (r < 0)
        die("us_setsockopt(%d, %d): %s", level, opt, strerror(-r));
}

/* A TCP listener on b's port. */
static inline int upair_listen(struct upair *p, uint16_t port)
{
    int lfd = us_socket(p->b, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, port};
    if (lfd < 0 || us_bind(p->b, lfd, &sa) < 0 || us_listen(p->b, lfd, 1024) < 0)
        die("ustack listen on %u failed", port);
    return lfd;
}

/* Connects a to b's listener lfd on port; returns the accepted descriptor
 * and the connected one in *cfd. Bounded: dies after 2 s without success. */
static inline int upair_connect(struct upair *p, int lfd, uint16_t port, int *cfd)
{
    *cfd = us_socket(p->a, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {BENCH_B_IP, port};
    int r = us_connect(p->a, *cfd, &sa);
    if (*cfd < 0 || r != -EINPROGRESS)
        die("us_connect: %s", strerror(r < 0 ? -r : EINVAL));
    uint64_t give_up = now_ns() + 2000000000ull;
    for (;;) {
        upair_poll(p);
        int afd = us_accept(p->b, lfd, NULL);
        if (afd >= 0 && (us_sock_poll_events(p->a, *cfd) & US_POLLOUT))
            return afd;
        if (afd >= 0) {
            /* Accepted before the client saw the SYN-ACK's ACK go out. */
            while (!(us_sock_poll_events(p->a, *cfd) & US_POLLOUT)) {
                upair_poll(p);
                if (now_ns() > give_up)
                    die("ustack connect: no POLLOUT after 2 s");
            }
            return afd;
        }
        if (afd != -EAGAIN)
            die("us_accept: %s", strerror(-afd));
        if (now_ns() > give_up)
            die("ustack connect: not accepted after 2 s");
    }
}

/* ---- the kernel over loopback ---- */

static inline void k_set_int(int fd, int level, int opt, int v)
{
    if (setsockopt(fd, level, opt, &v, sizeof(v)) != 0)
        die("setsockopt(%d, %d): %s", level, opt, strerror(errno));
}

/* A TCP socket with CUBIC set on it (TCP_CONGESTION, per socket). */
static inline int k_tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5) != 0)
        die("TCP_CONGESTION cubic: %s", strerror(errno));
    return fd;
}

static inline struct sockaddr_in k_loopback(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

static inline int k_listen(uint16_t port)
{
    int lfd = k_tcp_socket();
    k_set_int(lfd, SOL_SOCKET, SO_REUSEADDR, 1);
    struct sockaddr_in sa = k_loopback(port);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1024) != 0)
        die("kernel listen on %u: %s", port, strerror(errno));
    return lfd;
}

/* A blocking connect to the listener on port (loopback completes the
 * handshake without the accepting side running), then accept. */
static inline int k_connect(int lfd, uint16_t port, int *cfd)
{
    *cfd = k_tcp_socket();
    struct sockaddr_in sa = k_loopback(port);
    if (connect(*cfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("kernel connect: %s", strerror(errno));
    int afd = accept(lfd, NULL, NULL);
    if (afd < 0)
        die("kernel accept: %s", strerror(errno));
    return afd;
}

/* ---- figures ---- */

static inline int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The q-quantile (0..1) of v[0..n), sorting v. */
static inline uint64_t quantile(uint64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* The bytes sent at stream offset off: a 251-byte cycle (prime, so it never
 * lines up with segment sizes), checked byte for byte by the receiver. */
#define PATTERN_CYCLE 251
static inline void pattern_fill(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i % PATTERN_CYCLE * 7 + 1);
}

#endif
