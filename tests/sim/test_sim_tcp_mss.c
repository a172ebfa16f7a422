/* TCP's MSS is clamped to the route's MTU - 40 (RFC 9293 §3.7.1, RFC 879):
 * one ustack host with two interfaces, one on a wire of MTU 1500 and one on
 * a wire of MTU 1000, each with a raw TCP peer that offers MSS 1460 and
 * reads every segment the stack sends.
 *
 *   192.0.2.9 (raw a) -- MTU 1500 -- 192.0.2.1 [stack] 198.51.100.1 -- MTU 1000 -- 198.51.100.9
 * (raw b)
 *
 * Through the 1500 interface the stack offers 1460 and sends 1460-byte
 * segments; through the 1000 one it offers 960 in its SYN (or SYN-ACK) and
 * never sends more than 960 bytes in a segment, though the peer offered 1460
 * -- as the connecting side, as the listening side, and through a SYN
 * cookie. No timestamps, so the
 * MSS is the payload. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rawhost.h"
#include "ustack/socket.h"

#define MS        US_NS_PER_MS
#define NIF       2
#define PEER_PORT 5001
#define PEER_MSS  1460
#define TOTAL     20000 /* bytes the stack sends on each connection */

static const us_ip4 stack_ip[NIF] = {US_IP4(192, 0, 2, 1), US_IP4(198, 51, 100, 1)};
static const us_ip4 raw_ip[NIF] = {US_IP4(192, 0, 2, 9), US_IP4(198, 51, 100, 9)};
static const uint32_t mtu[NIF] = {1500, 1000};

/* A raw TCP peer on one interface's wire. */
struct peer {
    struct rawhost rh;
    uint16_t my_port;   /* the peer's end */
    uint16_t port;      /* the stack's end */
    uint32_t snd_nxt;   /* the peer's next sequence number */
    uint32_t rcv_nxt;   /* the next byte the peer expects from the stack */
    uint32_t isn;       /* the stack's */
    unsigned scan;      /* the next collected datagram to look at */
    size_t max_payload; /* the largest segment the stack sent */
    unsigned full;      /* data segments of exactly the expected MSS */
    uint16_t syn_mss;   /* the MSS option in the stack's SYN or SYN-ACK */
    bool syn_mss_seen;
};

struct net {
    struct us_wire *wire[NIF];
    struct peer p[NIF];
    struct us_stack *s;
    us_time_ns now;
};

static void run_for(struct net *n, us_time_ns dt)
{
    us_time_ns until = n->now + dt;
    do {
        us_time_ns t = n->now + 100 * 1000 < until ? n->now + 100 * 1000 : until;
        us_sim_run(&n->s, 1, &n->now, t);
        for (int i = 0; i < NIF; i++)
            rh_drain(&n->p[i].rh, n->now);
    } while (n->now < until);
}

static struct net *net_new(void)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->s = sim_stack_new("s", 0x3553);
    for (int i = 0; i < NIF; i++) {
        struct us_wire_config wc = {.mtu = mtu[i], .latency = 100 * 1000};
        n->wire[i] = us_wire_new(&wc);
        assert_non_null(n->wire[i]);
        rh_init(&n->p[i].rh, n->wire[i], raw_ip[i]);
        struct us_dev *port = us_wire_port_new(n->wire[i], i ? "b0" : "a0");
        assert_non_null(port);
        assert_int_equal(port->mtu, mtu[i]);
        assert_int_equal(us_iface_add(n->s, port, stack_ip[i], 24, n->now), i);
        n->p[i].rh.peer_mac = us_iface_dev(n->s, i)->mac;
        n->p[i].snd_nxt = 0x20000000u + (uint32_t)i;
        n->p[i].my_port = PEER_PORT;
    }
    run_for(n, MS);
    return n;
}

static void net_free(struct net *n)
{
    us_stack_free(n->s);
    for (int i = 0; i < NIF; i++) {
        rh_fini(&n->p[i].rh);
        us_wire_free(n->wire[i]);
    }
    free(n);
}

static void peer_send(struct net *n, int i, uint8_t flags, const struct us_tcp_opts *opts)
{
    struct peer *p = &n->p[i];
    struct us_tcp_repr r = {.sport = p->my_port,
                            .dport = p->port,
                            .seq = p->snd_nxt,
                            .ack = (flags & US_TCP_ACK) ? p->rcv_nxt : 0,
                            .flags = flags,
                            .window = 65535};
    if (opts)
        r.opts = *opts;
    rh_send_tcp(&p->rh, stack_ip[i], &r, NULL, 0, NULL, n->now);
}

/* Reads what the stack sent to peer i: notes the MSS of a SYN, takes
 * in-order data (checking its size against `mss`) and ACKs it. */
static void peer_take(struct net *n, int i, uint32_t mss)
{
    struct peer *p = &n->p[i];
    bool ack = false;
    while (p->scan < p->rh.ndgrams) {
        struct rh_dgram *d = &p->rh.dgrams[p->scan++];
        struct us_ipv4_view ip;
        rh_ip(d, &ip);
        if (ip.proto != US_IPPROTO_TCP)
            continue;
        if (ip.frag_off || ip.mf)
            fail_msg("interface %d: the stack fragmented a TCP segment", i);
        if (ip.total_len > mtu[i])
            fail_msg("interface %d: a %u-byte datagram on a link of MTU %u", i, ip.total_len,
                     mtu[i]);
        struct us_tcp_view v;
        assert_int_equal(us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &v), 0);
        if (v.flags & US_TCP_SYN) {
            p->port = v.sport;
            p->isn = v.seq;
            p->rcv_nxt = v.seq + 1;
            p->syn_mss_seen = v.opts.mss_present;
            p->syn_mss = v.opts.mss;
            continue;
        }
        if (v.payload_len > p->max_payload)
            p->max_payload = v.payload_len;
        if (mss && v.payload_len > mss)
            fail_msg("interface %d: a %zu-byte segment, more than the MSS of %u", i, v.payload_len,
                     mss);
        if (v.payload_len == mss)
            p->full++;
        if (v.payload_len && v.seq == p->rcv_nxt) {
            p->rcv_nxt += (uint32_t)v.payload_len;
            ack = true;
        }
    }
    if (ack)
        peer_send(n, i, US_TCP_ACK, NULL);
}

/* Sends TOTAL bytes on fd and lets peer i take them all. */
static void send_all(struct net *n, int i, int fd, uint32_t mss)
{
    static uint8_t buf[TOTAL];
    for (size_t k = 0; k < sizeof(buf); k++)
        buf[k] = (uint8_t)(k * 7);
    size_t sent = 0;
    for (int round = 0; round < 2000 && n->p[i].rcv_nxt != n->p[i].isn + 1 + TOTAL; round++) {
        if (sent < TOTAL) {
            int w = us_send(n->s, fd, buf + sent, TOTAL - sent, 0, n->now);
            if (w > 0)
                sent += (size_t)w;
            else
                assert_int_equal(w, -EAGAIN);
        }
        run_for(n, 100 * 1000);
        peer_take(n, i, mss);
    }
    if (n->p[i].rcv_nxt != n->p[i].isn + 1 + TOTAL)
        fail_msg("interface %d: %u of %u bytes arrived (IpFragFails %llu: segments too big "
                 "for the link)",
                 i, n->p[i].rcv_nxt - n->p[i].isn - 1, TOTAL,
                 (unsigned long long)ctr(n->s, "IpFragFails"));
}

/* The MSS option of the stack's SYN or SYN-ACK: the route's MTU - 40. */
static void expect_offer(struct net *n, int i)
{
    struct peer *p = &n->p[i];
    uint32_t want = mtu[i] - 40;
    if (!p->syn_mss_seen || p->syn_mss != want)
        fail_msg("interface %d (MTU %u): the stack offered MSS %u, expected %u", i, mtu[i],
                 p->syn_mss_seen ? p->syn_mss : 0, want);
}

/* The segments sent: none above the MTU - 40, and full ones of that size. */
static void expect_clamped(struct net *n, int i)
{
    struct peer *p = &n->p[i];
    uint32_t want = mtu[i] - 40;
    if (p->max_payload != want)
        fail_msg("interface %d (MTU %u): largest segment %zu bytes, expected %u", i, mtu[i],
                 p->max_payload, want);
    assert_true(p->full >= TOTAL / want - 1);
}

/* The stack connects out of each interface; each peer answers with MSS 1460. */
static void test_mss_clamped_connecting(void **state)
{
    (void)state;
    struct net *n = net_new();
    for (int i = 0; i < NIF; i++) {
        int fd = us_socket(n->s, US_SOCK_STREAM);
        assert_true(fd >= 0);
        struct us_sockaddr_in sa = {raw_ip[i], PEER_PORT};
        assert_int_equal(us_connect(n->s, fd, &sa), -EINPROGRESS);
        run_for(n, 5 * MS);
        peer_take(n, i, 0);
        if (!n->p[i].port)
            fail_msg("interface %d: no SYN", i);
        expect_offer(n, i);
        struct us_tcp_opts so = {.mss_present = true, .mss = PEER_MSS};
        peer_send(n, i, US_TCP_SYN | US_TCP_ACK, &so);
        n->p[i].snd_nxt++;
        run_for(n, 5 * MS);
        assert_true(us_sock_poll_events(n->s, fd) & US_POLLOUT);
        send_all(n, i, fd, mtu[i] - 40);
        expect_clamped(n, i);
    }
    net_free(n);
}

/* The stack's listener on port 80 (any address) with this backlog. */
static int listen_80(struct net *n, int backlog)
{
    int lfd = us_socket(n->s, US_SOCK_STREAM);
    assert_true(lfd >= 0);
    struct us_sockaddr_in any = {0, 80};
    assert_int_equal(us_bind(n->s, lfd, &any), 0);
    assert_int_equal(us_listen(n->s, lfd, backlog), 0);
    return lfd;
}

/* Each peer connects to the stack's listener offering MSS 1460. */
static void test_mss_clamped_listening(void **state)
{
    (void)state;
    struct net *n = net_new();
    int lfd = listen_80(n, 8);
    for (int i = 0; i < NIF; i++) {
        struct peer *p = &n->p[i];
        p->port = 80;
        struct us_tcp_opts so = {.mss_present = true, .mss = PEER_MSS};
        peer_send(n, i, US_TCP_SYN, &so);
        p->snd_nxt++;
        run_for(n, 5 * MS);
        peer_take(n, i, 0); /* the SYN-ACK */
        expect_offer(n, i);
        peer_send(n, i, US_TCP_ACK, NULL);
        run_for(n, 5 * MS);
        struct us_sockaddr_in peer;
        int fd = us_accept(n->s, lfd, &peer);
        assert_true(fd >= 0);
        assert_int_equal(peer.addr, raw_ip[i]);
        send_all(n, i, fd, mtu[i] - 40);
        expect_clamped(n, i);
    }
    net_free(n);
}

/* The same through a SYN cookie (backlog 1, one half-open connection
 * already queued): the cookie keeps the peer's 1460, and the connection
 * the ACK makes still sends at most 960. */
static void test_mss_clamped_syncookie(void **state)
{
    (void)state;
    struct net *n = net_new();
    int lfd = listen_80(n, 1);
    /* A half-open connection from peer a fills the SYN queue. */
    struct us_tcp_opts so = {.mss_present = true, .mss = PEER_MSS};
    n->p[0].port = 80;
    n->p[0].my_port = 4999;
    peer_send(n, 0, US_TCP_SYN, &so);
    run_for(n, 5 * MS);
    uint64_t cookies = ctr(n->s, "TcpExtSyncookiesSent");
    const int i = 1;
    struct peer *p = &n->p[i];
    p->port = 80;
    peer_send(n, i, US_TCP_SYN, &so);
    p->snd_nxt++;
    run_for(n, 5 * MS);
    assert_int_equal(ctr(n->s, "TcpExtSyncookiesSent"), cookies + 1);
    peer_take(n, i, 0);
    expect_offer(n, i);
    peer_send(n, i, US_TCP_ACK, NULL);
    run_for(n, 5 * MS);
    assert_int_equal(ctr(n->s, "TcpExtSyncookiesRecv"), 1);
    struct us_sockaddr_in peer;
    int fd = us_accept(n->s, lfd, &peer);
    assert_true(fd >= 0);
    assert_int_equal(peer.addr, raw_ip[i]);
    send_all(n, i, fd, mtu[i] - 40);
    expect_clamped(n, i);
    net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mss_clamped_connecting),
        cmocka_unit_test(test_mss_clamped_listening),
        cmocka_unit_test(test_mss_clamped_syncookie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
