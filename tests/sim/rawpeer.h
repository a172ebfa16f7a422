/* A raw TCP client of a stack's listeners: one stack with two interfaces
 * on one simulated wire (192.0.2.1/24 and 198.51.100.1/24) and a raw host
 * (192.0.2.9, rawhost.h) that opens connections by hand, so the test
 * chooses every field of the SYN (ports, ISN, MSS offered) and reads every
 * segment the stack answers with, and its time on the virtual clock.
 * The wire has 1 ms latency each way; rp_run drains the raw host every
 * 100 µs.
 *
 * Header-only (each test program is built alone). Include after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_RAWPEER_H
#define USTACK_TESTS_SIM_RAWPEER_H

#include "sim/rawhost.h"
#include "sim/sim_util.h"

#include "ustack/socket.h"
#include "ustack/wire.h"

#include <errno.h>

#define RP_IP0 US_IP4(192, 0, 2, 1)    /* the stack's first interface */
#define RP_IP1 US_IP4(198, 51, 100, 1) /* its second, on the same wire */
#define RP_RAW US_IP4(192, 0, 2, 9)

struct rpeer {
    struct us_wire *wire;
    struct rawhost rh;
    struct us_stack *s;
    us_time_ns now;
    unsigned scan; /* rp_next: the next collected datagram to look at */
};

static inline void rp_run(struct rpeer *p, us_time_ns dt)
{
    rh_run(&p->rh, &p->s, 1, &p->now, p->now + dt);
}

static inline struct rpeer *rp_new(uint64_t seed)
{
    struct rpeer *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    struct us_wire_config wc = {.latency = 1 * US_NS_PER_MS};
    p->wire = us_wire_new(&wc);
    assert_non_null(p->wire);
    rh_init(&p->rh, p->wire, RP_RAW);
    p->rh.step = 100 * 1000;
    p->s = sim_stack_new("s", seed);
    struct us_dev *d0 = us_wire_port_new(p->wire, "s0");
    struct us_dev *d1 = us_wire_port_new(p->wire, "s1");
    assert_non_null(d0);
    assert_non_null(d1);
    assert_int_equal(us_iface_add(p->s, d0, RP_IP0, 24, p->now), 0);
    assert_int_equal(us_iface_add(p->s, d1, RP_IP1, 24, p->now), 1);
    p->rh.peer_mac = us_iface_dev(p->s, 0)->mac;
    /* The stack learns the raw host's address first, so its answers go
     * out when sent, not after an ARP round. */
    rh_arp_request(&p->rh, RP_IP0, p->now);
    rp_run(p, 5 * US_NS_PER_MS);
    rh_clear(&p->rh);
    return p;
}

static inline void rp_free(struct rpeer *p)
{
    us_stack_free(p->s);
    rh_fini(&p->rh);
    us_wire_free(p->wire);
    free(p);
}

/* Sends a segment from RP_RAW:sport to dst:dport, to the interface that
 * owns dst (Ethernet destination its MAC). */
static inline void rp_send(struct rpeer *p, us_ip4 dst, uint16_t sport, uint16_t dport,
                           uint8_t flags, uint32_t seq, uint32_t ack, const struct us_tcp_opts *o,
                           const void *data, size_t len)
{
    struct us_tcp_repr r = {
        .sport = sport, .dport = dport, .seq = seq, .ack = ack, .flags = flags, .window = 65535};
    if (o)
        r.opts = *o;
    rh_send_tcp(&p->rh, dst, &r, data, len, &us_iface_dev(p->s, dst == RP_IP1)->mac, p->now);
}

/* A SYN offering MSS mss (0: no MSS option) and nothing else. */
static inline void rp_syn(struct rpeer *p, us_ip4 dst, uint16_t sport, uint16_t dport, uint32_t seq,
                          uint16_t mss)
{
    struct us_tcp_opts o = {.mss_present = mss != 0, .mss = mss};
    rp_send(p, dst, sport, dport, US_TCP_SYN, seq, 0, &o, NULL, 0);
}

/* A segment the stack sent the raw host. */
struct rp_seg {
    us_time_ns at;
    us_ip4 src; /* the stack's address it came from */
    struct us_tcp_view t;
};

/* The next TCP segment the stack sent the raw host (from the collected
 * datagrams), or false when there is none yet. */
static inline bool rp_next(struct rpeer *p, struct rp_seg *g)
{
    struct us_ipv4_view ip;
    if (!rh_next_tcp(&p->rh, &p->scan, 0, &ip, &g->t, &g->at))
        return false;
    g->src = ip.src;
    return true;
}

/* Forgets everything collected (the datagram store holds RH_MAX_DGRAMS). */
static inline void rp_clear(struct rpeer *p)
{
    rh_clear(&p->rh);
    p->scan = 0;
}

/* The next segment to sport within 20 ms, or a failure naming what. */
static inline struct rp_seg rp_expect(struct rpeer *p, uint16_t sport, const char *what)
{
    struct rp_seg g;
    for (int i = 0; i < 200; i++) {
        while (rp_next(p, &g))
            if (g.t.dport == sport)
                return g;
        rp_run(p, 100 * 1000);
    }
    fail_msg("no answer to port %u: %s", sport, what);
    return g;
}

/* A handshake from RP_RAW:sport (ISN seq, MSS mss offered) to dst:dport;
 * returns the stack's SYN-ACK after the raw host has ACKed it. */
static inline struct rp_seg rp_open(struct rpeer *p, us_ip4 dst, uint16_t sport, uint16_t dport,
                                    uint32_t seq, uint16_t mss)
{
    rp_syn(p, dst, sport, dport, seq, mss);
    struct rp_seg sa = rp_expect(p, sport, "SYN-ACK");
    if (sa.t.flags != (US_TCP_SYN | US_TCP_ACK) || sa.t.ack != seq + 1)
        fail_msg("port %u: flags %02x ack %u to a SYN, not a SYN-ACK of %u", sport, sa.t.flags,
                 sa.t.ack, seq + 1);
    rp_send(p, dst, sport, dport, US_TCP_ACK, seq + 1, sa.t.seq + 1, NULL, NULL, 0);
    rp_run(p, 3 * US_NS_PER_MS);
    return sa;
}

#endif
