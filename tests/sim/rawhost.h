/* A raw test host: a port on a simulated wire whose frames the test builds
 * and reads itself with the wire-format emitters and parsers, so a test can
 * say exactly what went onto the wire (hand-made fragments, bad checksums,
 * truncated datagrams, frames for other hosts) and check exactly what came
 * back, byte for byte and with its arrival time on the virtual clock.
 *
 * The raw host is not a stack: it answers ARP requests for its own address
 * when it drains its port and collects every IPv4 datagram addressed to its
 * MAC (or broadcast), unreassembled. rh_run drives the stacks with us_sim_run
 * in small steps and drains the port after each, so a stack that must
 * resolve the raw host's address gets its reply within one step.
 *
 * Header-only (each test program is built alone); everything is static.
 * Include after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_RAWHOST_H
#define USTACK_TESTS_SIM_RAWHOST_H

#include "ustack/stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RH_MAX_DGRAMS 512
#define RH_MAX_ARPS   128
#define RH_DGRAM_MAX  2048 /* bytes kept per received datagram */
#define RH_BUF_SIZE   (2048 + US_PKT_HEADROOM)
#define RH_ETH_MIN    60 /* minimum Ethernet frame without FCS; shorter ones are padded */

/* An IPv4 datagram as it arrived (from its IPv4 header, link padding removed). */
struct rh_dgram {
    us_time_ns at; /* arrival time on the virtual clock */
    struct us_mac eth_src, eth_dst;
    size_t len;
    uint8_t data[RH_DGRAM_MAX];
};

/* An ARP packet seen on the wire. */
struct rh_arp {
    us_time_ns at;
    struct us_mac eth_src, eth_dst;
    struct us_arp_view arp;
};

struct rawhost {
    struct us_dev *port;
    struct us_pkt_pool *pool;
    struct us_mac mac;
    us_ip4 ip;
    struct us_mac peer_mac; /* default Ethernet destination of rh_send_ip */
    bool answer_arp;        /* answer requests for ip while draining (default true) */
    us_time_ns step;        /* rh_run's drain interval (default 1 ms) */
    uint16_t next_id;

    struct rh_dgram *dgrams; /* RH_MAX_DGRAMS of them */
    unsigned ndgrams;
    struct rh_arp arps[RH_MAX_ARPS];
    unsigned narps;
    unsigned other_host;   /* frames for another MAC, ignored */
    unsigned arp_answered; /* replies the raw host sent */

    /* The last datagram sent (from its IPv4 header), to compare quotes with. */
    uint8_t last_sent[RH_DGRAM_MAX];
    size_t last_sent_len;
};

static inline void rh_die(const char *what)
{
    fprintf(stderr, "rawhost: %s\n", what);
    abort();
}

/* Attaches a raw host with address ip to wire w. peer_mac (the stack's MAC,
 * where rh_send_ip sends by default) may be set later. */
static inline void rh_init(struct rawhost *rh, struct us_wire *w, us_ip4 ip)
{
    memset(rh, 0, sizeof(*rh));
    rh->port = us_wire_port_new(w, "raw");
    rh->pool = us_pkt_pool_new(2048, RH_BUF_SIZE);
    rh->dgrams = calloc(RH_MAX_DGRAMS, sizeof(*rh->dgrams));
    if (!rh->port || !rh->pool || !rh->dgrams)
        rh_die("out of memory");
    us_dev_set_rx_pool(rh->port, rh->pool);
    rh->mac = rh->port->mac;
    rh->ip = ip;
    rh->answer_arp = true;
    rh->step = US_NS_PER_MS;
    rh->next_id = 0x1000;
}

/* Call before us_wire_free. */
static inline void rh_fini(struct rawhost *rh)
{
    us_dev_destroy(rh->port);
    us_pkt_pool_free(rh->pool);
    free(rh->dgrams);
    memset(rh, 0, sizeof(*rh));
}

/* Forgets every datagram and ARP packet collected so far. */
static inline void rh_clear(struct rawhost *rh)
{
    rh->ndgrams = 0;
    rh->narps = 0;
    rh->other_host = 0;
}

static inline bool rh_mac_eq(const struct us_mac *a, const struct us_mac *b)
{
    return memcmp(a->b, b->b, 6) == 0;
}

/* ---------------- sending ---------------- */

/* Sends one Ethernet frame of len bytes (padded to 60), truncated to
 * keep bytes if keep != 0 (a link that cut the frame short). */
static inline void rh_send_frame(struct rawhost *rh, const uint8_t *frame, size_t len, size_t keep,
                                 us_time_ns now)
{
    struct us_pkt *p = us_pkt_alloc(rh->pool);
    if (!p)
        rh_die("pool empty");
    size_t wire_len = len < RH_ETH_MIN ? RH_ETH_MIN : len;
    if (keep)
        wire_len = keep;
    uint8_t *d = us_pkt_put(p, (uint32_t)wire_len);
    if (!d)
        rh_die("frame too long");
    memset(d, 0, wire_len);
    memcpy(d, frame, len < wire_len ? len : wire_len);
    us_dev_tx_burst(rh->port, &p, 1, now);
}

static inline void rh_send_arp(struct rawhost *rh, uint16_t op, const struct us_mac *eth_dst,
                               const struct us_mac *tha, us_ip4 spa, us_ip4 tpa, us_time_ns now)
{
    static const struct us_mac zero = {{0}};
    uint8_t f[US_ETH_HLEN + US_ARP_LEN];
    struct us_arp_view a = {
        .op = op, .sha = rh->mac, .tha = tha ? *tha : zero, .spa = spa, .tpa = tpa};
    us_eth_emit(f, eth_dst, &rh->mac, US_ETH_TYPE_ARP);
    us_arp_emit(f + US_ETH_HLEN, &a);
    rh_send_frame(rh, f, sizeof(f), 0, now);
}

/* Asks who has tpa, from the raw host's address, as a broadcast. */
static inline void rh_arp_request(struct rawhost *rh, us_ip4 tpa, us_time_ns now)
{
    static const struct us_mac bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    rh_send_arp(rh, US_ARP_OP_REQUEST, &bcast, NULL, rh->ip, tpa, now);
}

/* How to build the IPv4 header of rh_send_ip. Zero means the default. */
struct rh_ip_opts {
    us_ip4 src;  /* 0: the raw host's address */
    uint8_t ttl; /* 0: 64 */
    uint8_t tos;
    bool set_id; /* use id, else the next of the raw host's own */
    uint16_t id;
    bool df, mf;
    uint16_t frag_off;            /* bytes, a multiple of 8 */
    bool bad_csum;                /* corrupt the header checksum */
    size_t truncate;              /* cut this many bytes off the end of the frame */
    const struct us_mac *eth_dst; /* NULL: peer_mac */
};

/* Sends an IPv4 datagram (or one fragment of one: payload is then the piece
 * at opts->frag_off) carrying len bytes of payload. Returns the IP id. */
static inline uint16_t rh_send_ip(struct rawhost *rh, us_ip4 dst, uint8_t proto,
                                  const void *payload, size_t len, const struct rh_ip_opts *opts,
                                  us_time_ns now)
{
    struct rh_ip_opts o = {0};
    if (opts)
        o = *opts;
    if (US_IPV4_HLEN + len > RH_DGRAM_MAX)
        rh_die("datagram too long for one frame");
    uint8_t f[US_ETH_HLEN + RH_DGRAM_MAX];
    us_eth_emit(f, o.eth_dst ? o.eth_dst : &rh->peer_mac, &rh->mac, US_ETH_TYPE_IPV4);
    uint8_t *ip = f + US_ETH_HLEN;
    struct us_ipv4_repr r = {
        .tos = o.tos,
        .total_len = (uint16_t)(US_IPV4_HLEN + len),
        .id = o.set_id ? o.id : rh->next_id++,
        .df = o.df,
        .mf = o.mf,
        .frag_off = o.frag_off,
        .ttl = o.ttl ? o.ttl : 64,
        .proto = proto,
        .src = o.src ? o.src : rh->ip,
        .dst = dst,
    };
    us_ipv4_emit(ip, &r);
    if (o.bad_csum)
        ip[11] ^= 0x5a;
    if (len)
        memcpy(ip + US_IPV4_HLEN, payload, len);
    size_t total = US_IPV4_HLEN + len;
    memcpy(rh->last_sent, ip, total);
    rh->last_sent_len = total;
    size_t frame_len = US_ETH_HLEN + total;
    size_t keep = 0;
    if (o.truncate) {
        if (o.truncate >= total)
            rh_die("truncating the whole datagram");
        keep = frame_len - o.truncate;
    }
    rh_send_frame(rh, f, frame_len, keep, now);
    return r.id;
}

/* Sends the piece [off, off+n) of the transport message msg (total bytes)
 * as a fragment of datagram id; MF is set unless the piece ends the message. */
static inline void rh_send_fragment(struct rawhost *rh, us_ip4 dst, uint8_t proto,
                                    const uint8_t *msg, size_t total, size_t off, size_t n,
                                    uint16_t id, us_time_ns now)
{
    struct rh_ip_opts o = {
        .set_id = true, .id = id, .frag_off = (uint16_t)off, .mf = off + n < total};
    rh_send_ip(rh, dst, proto, msg + off, n, &o, now);
}

/* ---------------- building transport messages ---------------- */

/* An ICMP echo (type 8) or echo reply (type 0) with len bytes of payload
 * into buf; returns the message length. */
static inline size_t rh_build_echo(uint8_t *buf, uint8_t type, uint16_t id, uint16_t seq,
                                   const void *payload, size_t len)
{
    if (len)
        memcpy(buf + US_ICMP_HLEN, payload, len);
    us_icmp_emit(buf, US_ICMP_HLEN + len, type, 0, (uint32_t)id << 16 | seq);
    return US_ICMP_HLEN + len;
}

static inline size_t rh_build_udp(uint8_t *buf, uint16_t sport, uint16_t dport, us_ip4 src,
                                  us_ip4 dst, const void *payload, size_t len)
{
    if (len)
        memcpy(buf + US_UDP_HLEN, payload, len);
    us_udp_emit(buf, US_UDP_HLEN + len, sport, dport, src, dst);
    return US_UDP_HLEN + len;
}

static inline size_t rh_build_tcp(uint8_t *buf, const struct us_tcp_repr *r, us_ip4 src, us_ip4 dst)
{
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r->opts);
    return us_tcp_emit(buf, hlen, r, src, dst);
}

/* Sends a TCP segment from the raw host to dst with DF set: header r (its
 * options too) and len bytes of data, to eth_dst (NULL: peer_mac). */
static inline void rh_send_tcp(struct rawhost *rh, us_ip4 dst, const struct us_tcp_repr *r,
                               const void *data, size_t len, const struct us_mac *eth_dst,
                               us_time_ns now)
{
    uint8_t seg[RH_DGRAM_MAX];
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r->opts);
    assert_true(hlen + len + US_IPV4_HLEN <= sizeof(seg));
    if (len)
        memcpy(seg + hlen, data, len);
    us_tcp_emit(seg, hlen + len, r, rh->ip, dst);
    struct rh_ip_opts io = {.df = true, .eth_dst = eth_dst};
    rh_send_ip(rh, dst, US_IPPROTO_TCP, seg, hlen + len, &io, now);
}

/* ---------------- receiving ---------------- */

static inline void rh_take_arp(struct rawhost *rh, const struct us_eth_view *eth, us_time_ns at,
                               us_time_ns now)
{
    struct us_arp_view a;
    if (us_arp_parse(eth->payload, eth->payload_len, &a) != US_WIRE_OK)
        return;
    if (rh->narps < RH_MAX_ARPS)
        rh->arps[rh->narps++] =
            (struct rh_arp){.at = at, .eth_src = eth->src, .eth_dst = eth->dst, .arp = a};
    if (rh->answer_arp && a.op == US_ARP_OP_REQUEST && a.tpa == rh->ip && a.spa != rh->ip) {
        rh_send_arp(rh, US_ARP_OP_REPLY, &a.sha, &a.sha, rh->ip, a.spa, now);
        rh->arp_answered++;
    }
}

static inline void rh_take_ipv4(struct rawhost *rh, const struct us_eth_view *eth, us_time_ns at)
{
    struct us_ipv4_view v;
    if (us_ipv4_parse(eth->payload, eth->payload_len, &v) != US_WIRE_OK)
        return;
    if (rh->ndgrams >= RH_MAX_DGRAMS || v.total_len > RH_DGRAM_MAX)
        return;
    struct rh_dgram *d = &rh->dgrams[rh->ndgrams++];
    d->at = at;
    d->eth_src = eth->src;
    d->eth_dst = eth->dst;
    d->len = v.total_len;
    memcpy(d->data, eth->payload, v.total_len);
}

/* Takes every frame that has arrived by now: answers ARP requests for the
 * raw host's address (replying at `now`) and keeps IPv4 datagrams. */
static inline void rh_drain(struct rawhost *rh, us_time_ns now)
{
    struct us_pkt *burst[64];
    int got;
    while ((got = us_dev_rx_burst(rh->port, burst, 64, now)) > 0) {
        for (int i = 0; i < got; i++) {
            struct us_pkt *p = burst[i];
            struct us_eth_view eth;
            if (us_eth_parse(p->data, p->len, &eth) == US_WIRE_OK) {
                if (!rh_mac_eq(&eth.dst, &rh->mac) && !us_mac_is_broadcast(&eth.dst))
                    rh->other_host++;
                else if (eth.ethertype == US_ETH_TYPE_ARP)
                    rh_take_arp(rh, &eth, p->tstamp, now);
                else if (eth.ethertype == US_ETH_TYPE_IPV4)
                    rh_take_ipv4(rh, &eth, p->tstamp);
            }
            us_pkt_free(p);
        }
    }
}

/* Runs the stacks on the virtual clock from *now to until, draining the raw
 * host every rh->step (and once at the end). */
static inline void rh_run(struct rawhost *rh, struct us_stack **stacks, int n, us_time_ns *now,
                          us_time_ns until)
{
    do {
        us_time_ns t = *now + rh->step < until ? *now + rh->step : until;
        us_sim_run(stacks, n, now, t);
        rh_drain(rh, *now);
    } while (*now < until);
}

/* ---------------- looking at what came back ---------------- */

static inline void rh_ip(const struct rh_dgram *d, struct us_ipv4_view *v)
{
    if (us_ipv4_parse(d->data, d->len, v) != US_WIRE_OK)
        rh_die("stored datagram does not parse");
}

/* Parses datagram i as ICMP; false if it is not a valid ICMP message. */
static inline bool rh_icmp(const struct rawhost *rh, unsigned i, struct us_ipv4_view *ip,
                           struct us_icmp_view *icmp)
{
    struct us_ipv4_view v;
    rh_ip(&rh->dgrams[i], &v);
    if (ip)
        *ip = v;
    if (v.proto != US_IPPROTO_ICMP || v.frag_off || v.mf)
        return false;
    return us_icmp_parse(v.payload, v.payload_len, icmp) == US_WIRE_OK;
}

/* Index of the first ICMP message of this type and code from index `from`
 * on, or -1. */
static inline int rh_find_icmp(const struct rawhost *rh, unsigned from, uint8_t type, uint8_t code)
{
    for (unsigned i = from; i < rh->ndgrams; i++) {
        struct us_icmp_view icmp;
        if (rh_icmp(rh, i, NULL, &icmp) && icmp.type == type && icmp.code == code)
            return (int)i;
    }
    return -1;
}

/* The next TCP segment among the collected datagrams from index *scan on
 * (*scan moves past it), from address `from` (0: any): its IPv4 header in
 * ip, its TCP header in t; false when there is none yet. A segment that
 * does not parse fails the test. */
static inline bool rh_next_tcp(const struct rawhost *rh, unsigned *scan, us_ip4 from,
                               struct us_ipv4_view *ip, struct us_tcp_view *t, us_time_ns *at)
{
    while (*scan < rh->ndgrams) {
        const struct rh_dgram *d = &rh->dgrams[(*scan)++];
        rh_ip(d, ip);
        if (ip->proto != US_IPPROTO_TCP || (from && ip->src != from))
            continue;
        if (us_tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst, 0, t) != 0)
            fail_msg("the stack sent a TCP segment that does not parse");
        *at = d->at;
        return true;
    }
    return false;
}

/* How many ICMP messages of this type were collected (any code if code < 0). */
static inline unsigned rh_count_icmp(const struct rawhost *rh, uint8_t type, int code)
{
    unsigned n = 0;
    for (unsigned i = 0; i < rh->ndgrams; i++) {
        struct us_icmp_view icmp;
        if (rh_icmp(rh, i, NULL, &icmp) && icmp.type == type && (code < 0 || icmp.code == code))
            n++;
    }
    return n;
}

/* How many collected ICMP messages are errors (unreachable, time exceeded,
 * parameter problem, source quench, redirect). */
static inline unsigned rh_count_icmp_errors(const struct rawhost *rh)
{
    return rh_count_icmp(rh, US_ICMP_DEST_UNREACH, -1) +
           rh_count_icmp(rh, US_ICMP_TIME_EXCEEDED, -1) +
           rh_count_icmp(rh, US_ICMP_PARAMETERPROB, -1) +
           rh_count_icmp(rh, US_ICMP_SOURCE_QUENCH, -1) + rh_count_icmp(rh, US_ICMP_REDIRECT, -1);
}

/* How many ARP packets with this op were seen (from anyone). */
static inline unsigned rh_count_arp(const struct rawhost *rh, uint16_t op)
{
    unsigned n = 0;
    for (unsigned i = 0; i < rh->narps; i++)
        n += rh->arps[i].arp.op == op;
    return n;
}

/* ---------------- a stack and a raw host on one wire ---------------- */

/* The usual raw-host test network: a new wire with the raw host on it and
 * one stack, whose first interface is a port on the same wire. */
struct rh_net {
    struct us_wire *wire;
    struct rawhost rh;
    struct us_stack *s; /* the test makes it, then calls rh_net_iface */
    us_time_ns now;
};

/* The wire (config wc) and the raw host (raw_ip) on it, whose port comes
 * first, so it hears the gratuitous ARP of every port added after. */
static inline struct rh_net *rh_net_new(const struct us_wire_config *wc, us_ip4 raw_ip)
{
    struct rh_net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->wire = us_wire_new(wc);
    assert_non_null(n->wire);
    rh_init(&n->rh, n->wire, raw_ip);
    return n;
}

/* Adds dev (a port of n->wire, or a wrapper of one) to n->s as its first
 * interface, ip/24 at time n->now; the raw host sends to its MAC. */
static inline void rh_net_iface(struct rh_net *n, struct us_dev *dev, us_ip4 ip)
{
    assert_int_equal(us_iface_add(n->s, dev, ip, 24, n->now), 0);
    n->rh.peer_mac = us_iface_dev(n->s, 0)->mac;
}

static inline void rh_net_free(struct rh_net *n)
{
    us_stack_free(n->s);
    rh_fini(&n->rh);
    us_wire_free(n->wire);
    free(n);
}

/* Runs the stack for dt, draining the raw host every rh.step. */
static inline void rh_net_run(struct rh_net *n, us_time_ns dt)
{
    rh_run(&n->rh, &n->s, 1, &n->now, n->now + dt);
}

/* The stack learns the raw host from its ARP request for stack_ip (after
 * 1 ms, answered within 10 ms); then the log starts empty. */
static inline void rh_net_prime(struct rh_net *n, us_ip4 stack_ip)
{
    rh_net_run(n, US_NS_PER_MS);
    rh_arp_request(&n->rh, stack_ip, n->now);
    rh_net_run(n, 10 * US_NS_PER_MS);
    rh_clear(&n->rh);
}

#endif
