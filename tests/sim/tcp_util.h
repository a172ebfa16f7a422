/* Helpers for the TCP simulation tests: two stacks (a = 192.0.2.1,
 * b = 192.0.2.2) on a us_wire, optionally behind fault injectors and with a
 * sniffer port, and a byte-exact bidirectional transfer driver. Include
 * after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_TCP_UTIL_H
#define USTACK_TESTS_SIM_TCP_UTIL_H

#include "sim/sim_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

#define A_IP US_IP4(192, 0, 2, 1)
#define B_IP US_IP4(192, 0, 2, 2)
#define MS   US_NS_PER_MS
#define SEC  US_NS_PER_SEC

struct tnet_cfg {
    us_time_ns latency;         /* 0: 10 µs */
    uint64_t bandwidth_bps;     /* 0: infinite */
    uint32_t queue_limit;       /* 0: 4096 */
    uint32_t queue_limit_bytes; /* 0: no byte limit */
    unsigned pkt_count;         /* per stack, 0: 8192 */
    const struct us_fault_config *fault_a, *fault_b;
    /* Wraps a's device (outermost), e.g. with a test's own dropper. */
    struct us_dev *(*wrap_a)(struct us_dev *lower, void *ctx);
    void *wrap_ctx;
    bool sniff;
    uint64_t seed;
    uint32_t mtu; /* 0: 1500 */
    bool offload; /* the wire's ports have a veth's offloads (us_wire_config.offload) */
};

/* A frame the sniffer saw, as TCP. */
struct seen_seg {
    us_ip4 src;
    uint8_t flags;
    uint16_t window;
    bool has_wscale;
    uint32_t seq, ack;
    uint32_t len;
    us_time_ns at;
};

struct tnet {
    struct us_wire *wire;
    struct us_stack *a, *b;
    struct us_stack *both[2];
    us_time_ns now;
    struct us_dev *sniff;
    struct us_pkt_pool *sniff_pool;
    struct seen_seg *seen;
    size_t nseen, capseen;
};

static inline struct tnet *tnet_new(const struct tnet_cfg *c)
{
    struct tnet *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    struct us_wire_config wc = {.latency = c->latency ? c->latency : 10 * 1000,
                                .bandwidth_bps = c->bandwidth_bps,
                                .queue_limit = c->queue_limit ? c->queue_limit : 4096,
                                .queue_limit_bytes = c->queue_limit_bytes,
                                .mtu = c->mtu,
                                .offload = c->offload};
    n->wire = us_wire_new(&wc);
    unsigned pkts = c->pkt_count ? c->pkt_count : 8192;
    struct us_stack_config ca = {
        .name = "a", .seed = c->seed ? c->seed : 0xa11ce, .pkt_count = pkts};
    struct us_stack_config cb = {
        .name = "b", .seed = c->seed ? c->seed * 3 + 1 : 0xb0b, .pkt_count = pkts};
    n->a = us_stack_new(&ca);
    n->b = us_stack_new(&cb);
    assert_non_null(n->a);
    assert_non_null(n->b);
    struct us_dev *da = us_wire_port_new(n->wire, "a0");
    struct us_dev *db = us_wire_port_new(n->wire, "b0");
    if (c->fault_a)
        da = us_fault_dev_new(da, c->fault_a);
    if (c->fault_b)
        db = us_fault_dev_new(db, c->fault_b);
    if (c->wrap_a)
        da = c->wrap_a(da, c->wrap_ctx);
    assert_int_equal(us_iface_add(n->a, da, A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->b, db, B_IP, 24, 0), 0);
    n->both[0] = n->a;
    n->both[1] = n->b;
    if (c->sniff) {
        n->sniff = us_wire_port_new(n->wire, "sniff");
        n->sniff_pool = us_pkt_pool_new(8192, 2048 + US_PKT_HEADROOM);
        us_dev_set_rx_pool(n->sniff, n->sniff_pool);
    }
    return n;
}

static inline void tnet_free(struct tnet *n)
{
    us_stack_free(n->a);
    us_stack_free(n->b);
    if (n->sniff) {
        us_dev_destroy(n->sniff);
        us_pkt_pool_free(n->sniff_pool);
    }
    us_wire_free(n->wire);
    free(n->seen);
    free(n);
}

/* Records every TCP segment the sniffer port received. */
static inline void sniff_drain(struct tnet *n)
{
    if (!n->sniff)
        return;
    struct us_pkt *burst[64];
    int got;
    while ((got = us_dev_rx_burst(n->sniff, burst, 64, n->now)) > 0) {
        for (int i = 0; i < got; i++) {
            struct us_eth_view eth;
            struct us_ipv4_view ip;
            struct us_tcp_view tcp;
            if (us_eth_parse(burst[i]->data, burst[i]->len, &eth) == 0 &&
                eth.ethertype == US_ETH_TYPE_IPV4 &&
                us_ipv4_parse(eth.payload, eth.payload_len, &ip) == 0 &&
                ip.proto == US_IPPROTO_TCP &&
                us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &tcp) == 0) {
                if (n->nseen == n->capseen) {
                    n->capseen = n->capseen ? 2 * n->capseen : 1024;
                    n->seen = realloc(n->seen, n->capseen * sizeof(*n->seen));
                    assert_non_null(n->seen);
                }
                n->seen[n->nseen++] = (struct seen_seg){
                    .src = ip.src,
                    .flags = tcp.flags,
                    .window = tcp.window,
                    .has_wscale = tcp.opts.wscale_present,
                    .seq = tcp.seq,
                    .ack = tcp.ack,
                    .len = (uint32_t)tcp.payload_len,
                    .at = n->now,
                };
            }
            us_pkt_free(burst[i]);
        }
    }
}

static inline void run(struct tnet *n, us_time_ns dt)
{
    us_sim_run(n->both, 2, &n->now, n->now + dt);
    sniff_drain(n);
}

static inline int tcp_listen_on(struct us_stack *s, uint16_t port, int backlog)
{
    int fd = us_socket(s, US_SOCK_STREAM);
    assert_true(fd >= 0);
    struct us_sockaddr_in sa = {US_IP4_ANY, port};
    assert_int_equal(us_bind(s, fd, &sa), 0);
    assert_int_equal(us_listen(s, fd, backlog), 0);
    return fd;
}

static inline int tcp_connect_to(struct us_stack *s, us_ip4 addr, uint16_t port)
{
    int fd = us_socket(s, US_SOCK_STREAM);
    assert_true(fd >= 0);
    struct us_sockaddr_in sa = {addr, port};
    assert_int_equal(us_connect(s, fd, &sa), -EINPROGRESS);
    return fd;
}

static inline int sock_int(struct us_stack *s, int fd, int level, int opt)
{
    int v = -1;
    size_t len = sizeof(v);
    assert_int_equal(us_getsockopt(s, fd, level, opt, &v, &len), 0);
    return v;
}

static inline void set_sock_int(struct us_stack *s, int fd, int level, int opt, int v)
{
    assert_int_equal(us_setsockopt(s, fd, level, opt, &v, sizeof(v)), 0);
}

static inline struct us_tcp_info tcp_info_of(struct us_stack *s, int fd)
{
    struct us_tcp_info ti;
    size_t len = sizeof(ti);
    assert_int_equal(us_getsockopt(s, fd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &len), 0);
    return ti;
}

/* a connects to a listener on b; returns the accepted descriptor on b. */
static inline int tcp_pair(struct tnet *n, uint16_t port, int *cfd, int *lfd_out)
{
    int lfd = tcp_listen_on(n->b, port, 128);
    *cfd = tcp_connect_to(n->a, B_IP, port);
    for (int i = 0; i < 100; i++) {
        run(n, 10 * MS);
        if (us_sock_poll_events(n->a, *cfd) & US_POLLOUT)
            break;
    }
    assert_true(us_sock_poll_events(n->a, *cfd) & US_POLLOUT);
    struct us_sockaddr_in peer;
    int sfd = us_accept(n->b, lfd, &peer);
    assert_true(sfd >= 0);
    assert_int_equal(peer.addr, A_IP);
    if (lfd_out)
        *lfd_out = lfd;
    else
        us_close(n->b, lfd);
    return sfd;
}

/* The byte at offset i of stream `salt`. */
static inline uint8_t pattern(uint64_t salt, uint64_t i)
{
    uint64_t x = (i / 8 + 1) * 0x9e3779b97f4a7c15ull ^ salt;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (uint8_t)(x >> ((i % 8) * 8));
}

/* One direction of a transfer. */
struct flow {
    struct us_stack *tx_s, *rx_s;
    int tx_fd, rx_fd;
    uint64_t total, sent, received, salt;
    bool shut, eof;
    uint64_t gen_at; /* stream offset of gen[0] */
    uint32_t gen_len;
    uint8_t gen[65536];
};

static inline void dump_tables(struct tnet *n)
{
    fprintf(stderr, "--- a at %.3f s\n", (double)n->now / 1e9);
    us_sock_print_table(n->a, stderr);
    fprintf(stderr, "--- b\n");
    us_sock_print_table(n->b, stderr);
    if (getenv("TCP_DUMP_SEGS")) {
        size_t from = 0;
        for (size_t i = from; i < n->nseen; i++)
            fprintf(stderr, "%10.3f %s fl=%02x seq=%u ack=%u len=%u win=%u\n",
                    (double)n->seen[i].at / 1e9, n->seen[i].src == A_IP ? "a>b" : "b>a",
                    n->seen[i].flags, n->seen[i].seq, n->seen[i].ack, n->seen[i].len,
                    n->seen[i].window);
    }
    if (getenv("TCP_DUMP_MIB")) {
        us_mib_print_nstat(us_stack_mib(n->a), stderr, 0);
        fprintf(stderr, "--- b mib\n");
        us_mib_print_nstat(us_stack_mib(n->b), stderr, 0);
    }
}

static inline void flow_step(struct tnet *n, struct flow *f)
{
    static uint8_t buf[65536];
    while (f->sent < f->total) {
        if (f->sent >= f->gen_at + f->gen_len) {
            /* Generate the next stretch once, not at every attempt. */
            f->gen_at = f->sent;
            uint64_t left = f->total - f->sent;
            f->gen_len = left < sizeof(f->gen) ? (uint32_t)left : (uint32_t)sizeof(f->gen);
            for (uint32_t i = 0; i < f->gen_len; i++)
                f->gen[i] = pattern(f->salt, f->gen_at + i);
        }
        size_t off = (size_t)(f->sent - f->gen_at);
        size_t want = f->gen_len - off;
        int r = us_send(f->tx_s, f->tx_fd, f->gen + off, want, 0, n->now);
        if (r == -EAGAIN)
            break;
        if (r <= 0)
            dump_tables(n);
        if (r <= 0)
            fail_msg("send: %d after %llu bytes", r, (unsigned long long)f->sent);
        f->sent += (uint64_t)r;
    }
    if (f->sent == f->total && !f->shut) {
        assert_int_equal(us_shutdown(f->tx_s, f->tx_fd, US_SHUT_WR), 0);
        f->shut = true;
    }
    for (;;) {
        int r = us_recv(f->rx_s, f->rx_fd, buf, sizeof(buf), 0);
        if (r == -EAGAIN)
            break;
        if (r < 0)
            dump_tables(n);
        if (r < 0)
            fail_msg("recv: %d after %llu bytes", r, (unsigned long long)f->received);
        if (r == 0) {
            f->eof = true;
            break;
        }
        for (int i = 0; i < r; i++)
            if (buf[i] != pattern(f->salt, f->received + (uint64_t)i))
                fail_msg("byte %llu differs", (unsigned long long)(f->received + (uint64_t)i));
        f->received += (uint64_t)r;
    }
}

/* Moves total bytes each way (either may be 0) until both sides saw EOF,
 * stepping the clock by step; fails after limit of virtual time. */
static inline void transfer(struct tnet *n, int afd, int bfd, uint64_t ab, uint64_t ba,
                            us_time_ns step, us_time_ns limit)
{
    static struct flow f1, f2;
    f1 = (struct flow){n->a, n->b, afd, bfd, ab, 0, 0, 0x1234, false, false, 0, 0, {0}};
    f2 = (struct flow){n->b, n->a, bfd, afd, ba, 0, 0, 0x5678, false, false, 0, 0, {0}};
    us_time_ns end = n->now + limit;
    while (!(f1.eof && f2.eof)) {
        flow_step(n, &f1);
        flow_step(n, &f2);
        if (f1.eof && f2.eof)
            break;
        if (n->now >= end)
            dump_tables(n);
        if (n->now >= end)
            fail_msg("transfer stuck: a->b %llu/%llu, b->a %llu/%llu",
                     (unsigned long long)f1.received, (unsigned long long)ab,
                     (unsigned long long)f2.received, (unsigned long long)ba);
        run(n, step);
    }
    assert_int_equal(f1.received, ab);
    assert_int_equal(f2.received, ba);
}

#endif
