/* A raw TCP peer: one stack (192.0.2.1) and a raw host (192.0.2.9,
 * rawhost.h) on a simulated wire, where the raw host plays the far end of a
 * connection by hand. The test chooses every field it sends (the window
 * a sender must respect, a timestamp older than the last one, an ICMP error
 * quoting a given sequence number) and reads every segment the stack sends.
 * The wire has 1 ms latency each way; rt_run drains the raw host every
 * 100 us.
 *
 * Header-only (each test program is built alone). Include after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_RAWTCP_H
#define USTACK_TESTS_SIM_RAWTCP_H

#include "sim/rawhost.h"
#include "sim/sim_util.h"

#include "ustack/socket.h"
#include "ustack/wire.h"

#include <errno.h>

#define RT_STACK_IP US_IP4(192, 0, 2, 1)
#define RT_RAW_IP   US_IP4(192, 0, 2, 9)
#define RT_PORT     5001

struct rtcp {
    struct us_wire *wire;
    struct rawhost rh;
    struct us_stack *s;
    us_time_ns now;
    int fd;             /* the stack's connected socket */
    uint16_t sport;     /* the stack's port */
    uint32_t iss;       /* the raw host's initial sequence number */
    uint32_t snd_nxt;   /* the raw host's next sequence number */
    uint32_t stack_isn; /* the stack's */
    uint32_t rcv_nxt;   /* the next byte the raw host expects from the stack */
    uint32_t tsval;     /* the raw host's timestamp clock (when use_ts) */
    uint32_t ts_recent; /* the stack's last tsval */
    bool use_ts;
    unsigned scan; /* rt_next: the next collected datagram to look at */
};

/* What the raw host offers in its SYN-ACK. */
struct rt_syn_opts {
    uint16_t mss;    /* 0: 1000 */
    uint16_t window; /* 0: 65535 */
    bool ts, sack;
    int wscale; /* -1: no option */
    int rcvbuf; /* SO_RCVBUF on the stack's socket before it connects (0: none) */
};

static inline void rt_run(struct rtcp *t, us_time_ns dt)
{
    rh_run(&t->rh, &t->s, 1, &t->now, t->now + dt);
}

static inline struct rtcp *rt_new(uint64_t seed)
{
    struct rtcp *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    struct us_wire_config wc = {.latency = 1 * US_NS_PER_MS};
    t->wire = us_wire_new(&wc);
    assert_non_null(t->wire);
    rh_init(&t->rh, t->wire, RT_RAW_IP);
    t->rh.step = 100 * 1000; /* drain every 100 µs */
    t->s = sim_stack_new("s", seed);
    struct us_dev *port = us_wire_port_new(t->wire, "s0");
    assert_non_null(port);
    assert_int_equal(us_iface_add(t->s, port, RT_STACK_IP, 24, t->now), 0);
    t->rh.peer_mac = us_iface_dev(t->s, 0)->mac;
    t->iss = 0x10000000u;
    t->tsval = 5000;
    t->fd = -1;
    return t;
}

static inline void rt_free(struct rtcp *t)
{
    us_stack_free(t->s);
    rh_fini(&t->rh);
    us_wire_free(t->wire);
    free(t);
}

/* The next TCP segment the stack sent (from the collected datagrams), or
 * false when there is none yet. Remembers the stack's timestamp. */
static inline bool rt_next(struct rtcp *t, struct us_tcp_view *v, us_time_ns *at)
{
    struct us_ipv4_view ip;
    us_time_ns when;
    if (!rh_next_tcp(&t->rh, &t->scan, RT_STACK_IP, &ip, v, &when))
        return false;
    if (v->opts.ts_present)
        t->ts_recent = v->opts.tsval;
    if (at)
        *at = when;
    return true;
}

/* Forgets everything collected (the datagram store holds RH_MAX_DGRAMS). */
static inline void rt_clear(struct rtcp *t)
{
    rh_clear(&t->rh);
    t->scan = 0;
}

/* Sends one segment at seq: the ACK field is rcv_nxt when flags has ACK;
 * opts NULL means timestamps (tsval, ts_recent) if they were negotiated. */
static inline void rt_send_at(struct rtcp *t, uint32_t seq, uint8_t flags, uint16_t window,
                              const void *data, size_t len, const struct us_tcp_opts *opts)
{
    struct us_tcp_repr r = {.sport = RT_PORT,
                            .dport = t->sport,
                            .seq = seq,
                            .ack = (flags & US_TCP_ACK) ? t->rcv_nxt : 0,
                            .flags = flags,
                            .window = window};
    if (opts) {
        r.opts = *opts;
    } else if (t->use_ts) {
        r.opts.ts_present = true;
        r.opts.tsval = t->tsval;
        r.opts.tsecr = t->ts_recent;
    }
    rh_send_tcp(&t->rh, RT_STACK_IP, &r, data, len, NULL, t->now);
}

/* An ACK of everything the stack sent so far (rcv_nxt) with this window. */
static inline void rt_ack(struct rtcp *t, uint16_t window)
{
    rt_send_at(t, t->snd_nxt, US_TCP_ACK, window, NULL, 0, NULL);
}

/* len bytes of data at the raw host's snd_nxt, which moves past them. */
static inline void rt_send_data(struct rtcp *t, const void *data, size_t len, uint16_t window)
{
    rt_send_at(t, t->snd_nxt, US_TCP_ACK | US_TCP_PSH, window, data, len, NULL);
    t->snd_nxt += (uint32_t)len;
}

/* The stack connects to the raw host, which answers as opts say. Leaves
 * the connection ESTABLISHED with t->fd the stack's socket. */
static inline void rt_connect(struct rtcp *t, const struct rt_syn_opts *o)
{
    t->fd = us_socket(t->s, US_SOCK_STREAM);
    assert_true(t->fd >= 0);
    if (o->rcvbuf)
        assert_int_equal(
            us_setsockopt(t->s, t->fd, US_SOL_SOCKET, US_SO_RCVBUF, &o->rcvbuf, sizeof(o->rcvbuf)),
            0);
    struct us_sockaddr_in sa = {RT_RAW_IP, RT_PORT};
    assert_int_equal(us_connect(t->s, t->fd, &sa), -EINPROGRESS);
    struct us_tcp_view v;
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        rt_run(t, 1 * US_NS_PER_MS);
        while (!got && rt_next(t, &v, NULL))
            got = (v.flags & US_TCP_SYN) != 0;
    }
    if (!got)
        fail_msg("the stack sent no SYN");
    t->sport = v.sport;
    t->stack_isn = v.seq;
    t->rcv_nxt = v.seq + 1;
    t->use_ts = o->ts && v.opts.ts_present;
    struct us_tcp_opts so = {.mss_present = true, .mss = o->mss ? o->mss : 1000};
    if (o->wscale >= 0 && v.opts.wscale_present) {
        so.wscale_present = true;
        so.wscale = (uint8_t)o->wscale;
    }
    so.sack_permitted = o->sack && v.opts.sack_permitted;
    if (t->use_ts) {
        so.ts_present = true;
        so.tsval = t->tsval;
        so.tsecr = t->ts_recent;
    }
    rt_send_at(t, t->iss, US_TCP_SYN | US_TCP_ACK, o->window ? o->window : 65535, NULL, 0, &so);
    t->snd_nxt = t->iss + 1;
    for (int i = 0; i < 100; i++) {
        rt_run(t, 1 * US_NS_PER_MS);
        if (us_sock_poll_events(t->s, t->fd) & US_POLLOUT)
            break;
    }
    assert_true(us_sock_poll_events(t->s, t->fd) & US_POLLOUT);
    /* The handshake's last ACK. */
    while (rt_next(t, &v, NULL))
        ;
}

static inline struct us_tcp_info rt_info(struct rtcp *t)
{
    struct us_tcp_info ti;
    size_t len = sizeof(ti);
    assert_int_equal(us_getsockopt(t->s, t->fd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &len), 0);
    return ti;
}

#endif
