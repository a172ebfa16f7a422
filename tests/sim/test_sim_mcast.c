/* IPv4 multicast between three stacks on a simulated wire, on the virtual
 * clock, with a sniffer port that sees every frame: IGMPv2 reports on a
 * join (TTL 1, Router Alert, to the group's MAC), the unsolicited repeat, a
 * Leave Group to 224.0.0.2 from the last leaver, reports in answer to
 * general and group-specific queries within Max Resp Time; delivery of a
 * datagram to every socket of the port that joined the group (each its own
 * copy), none to one that did not, none after the drop; IP_MULTICAST_TTL
 * and IP_MULTICAST_LOOP as Linux. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

#define A_IP     US_IP4(192, 0, 2, 1)
#define B_IP     US_IP4(192, 0, 2, 2)
#define C_IP     US_IP4(192, 0, 2, 3)
#define GRP      US_IP4(239, 1, 2, 3)
#define GRP2     US_IP4(239, 9, 9, 9)
#define MS       US_NS_PER_MS
#define SEC      US_NS_PER_SEC
#define MAX_SEEN 256

/* An IPv4 datagram the sniffer saw. */
struct seen {
    us_time_ns at;
    struct us_mac eth_dst;
    size_t len;
    uint8_t data[256];
};

struct net {
    struct us_wire *wire;
    struct us_stack *a, *b, *c;
    struct us_stack *all[3];
    struct us_dev *sniff;
    struct us_pkt_pool *sniff_pool;
    struct seen *seen;
    unsigned nseen;
    us_time_ns now;
};

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    struct us_wire_config wc = {.latency = 10 * 1000, .queue_limit = 4096};
    n->wire = us_wire_new(&wc);
    struct us_stack_config ca = {.name = "a", .seed = 0xa}, cb = {.name = "b", .seed = 0xb},
                           cc = {.name = "c", .seed = 0xc};
    n->a = us_stack_new(&ca);
    n->b = us_stack_new(&cb);
    n->c = us_stack_new(&cc);
    assert_int_equal(us_iface_add(n->a, us_wire_port_new(n->wire, "a0"), A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->b, us_wire_port_new(n->wire, "b0"), B_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->c, us_wire_port_new(n->wire, "c0"), C_IP, 24, 0), 0);
    n->all[0] = n->a;
    n->all[1] = n->b;
    n->all[2] = n->c;
    n->sniff = us_wire_port_new(n->wire, "sniff");
    n->sniff_pool = us_pkt_pool_new(1024, 2048 + US_PKT_HEADROOM);
    us_dev_set_rx_pool(n->sniff, n->sniff_pool);
    n->seen = calloc(MAX_SEEN, sizeof(*n->seen));
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    us_stack_free(n->a);
    us_stack_free(n->b);
    us_stack_free(n->c);
    us_dev_destroy(n->sniff);
    us_pkt_pool_free(n->sniff_pool);
    us_wire_free(n->wire);
    free(n->seen);
    free(n);
    return 0;
}

/* Keeps every IPv4 datagram on the wire, whatever its Ethernet destination. */
static void sniff_drain(struct net *n)
{
    struct us_pkt *burst[64];
    int got;
    while ((got = us_dev_rx_burst(n->sniff, burst, 64, n->now)) > 0) {
        for (int i = 0; i < got; i++) {
            struct us_eth_view eth;
            struct us_ipv4_view ip;
            if (us_eth_parse(burst[i]->data, burst[i]->len, &eth) == US_WIRE_OK &&
                eth.ethertype == US_ETH_TYPE_IPV4 &&
                us_ipv4_parse(eth.payload, eth.payload_len, &ip) == US_WIRE_OK &&
                ip.total_len <= sizeof(n->seen[0].data) && n->nseen < MAX_SEEN) {
                struct seen *s = &n->seen[n->nseen++];
                s->at = burst[i]->tstamp;
                s->eth_dst = eth.dst;
                s->len = ip.total_len;
                memcpy(s->data, eth.payload, ip.total_len);
            }
            us_pkt_free(burst[i]);
        }
    }
}

static void run(struct net *n, us_time_ns dt)
{
    us_time_ns until = n->now + dt;
    do {
        us_time_ns t = n->now + MS < until ? n->now + MS : until;
        us_sim_run(n->all, 3, &n->now, t);
        sniff_drain(n);
    } while (n->now < until);
}

/* The i-th IGMP message seen (from index *from on), parsed; false if none. */
static bool next_igmp(struct net *n, unsigned *from, struct us_ipv4_view *ip,
                      struct us_igmp_view *igmp)
{
    for (; *from < n->nseen; (*from)++) {
        assert_int_equal(us_ipv4_parse(n->seen[*from].data, n->seen[*from].len, ip), US_WIRE_OK);
        if (ip->proto == US_IPPROTO_IGMP) {
            assert_int_equal(us_igmp_parse(ip->payload, ip->payload_len, igmp), US_WIRE_OK);
            (*from)++;
            return true;
        }
    }
    return false;
}

static unsigned count_igmp(struct net *n, uint8_t type, us_ip4 src, us_ip4 group)
{
    unsigned c = 0, i = 0;
    struct us_ipv4_view ip;
    struct us_igmp_view g;
    while (next_igmp(n, &i, &ip, &g))
        c += g.type == type && ip.src == src && g.group == group;
    return c;
}

static int udp_bound(struct us_stack *s, us_ip4 addr, uint16_t port)
{
    int fd = us_socket(s, US_SOCK_DGRAM);
    assert_true(fd >= 0);
    int one = 1;
    assert_int_equal(us_setsockopt(s, fd, US_SOL_SOCKET, US_SO_REUSEADDR, &one, sizeof(one)), 0);
    struct us_sockaddr_in sa = {addr, port};
    assert_int_equal(us_bind(s, fd, &sa), 0);
    return fd;
}

static int mreq_op(struct us_stack *s, int fd, int opt, us_ip4 group)
{
    struct us_ip_mreq m = {.multiaddr = group, .interface = 0};
    return us_setsockopt(s, fd, US_IPPROTO_IP, opt, &m, sizeof(m));
}

static void join(struct us_stack *s, int fd, us_ip4 group)
{
    assert_int_equal(mreq_op(s, fd, US_IP_ADD_MEMBERSHIP, group), 0);
}

static int set_ip_int(struct us_stack *s, int fd, int opt, int v)
{
    return us_setsockopt(s, fd, US_IPPROTO_IP, opt, &v, sizeof(v));
}

static void send_to(struct net *n, struct us_stack *s, int fd, uint32_t seq, us_ip4 addr,
                    uint16_t port)
{
    struct us_sockaddr_in to = {addr, port};
    assert_int_equal(us_sendto(s, fd, &seq, sizeof(seq), 0, &to, n->now), (int)sizeof(seq));
}

/* Receives every queued datagram, checking they are 0, 1, ... in order from
 * `first` on; returns how many. */
static unsigned drain_seq(struct us_stack *s, int fd, uint32_t first)
{
    uint32_t v;
    unsigned got = 0;
    while (us_recv(s, fd, &v, sizeof(v), 0) == (int)sizeof(v)) {
        assert_int_equal(v, first + got);
        got++;
    }
    return got;
}

/* ---------------- IGMP on the wire ---------------- */

static void test_join_sends_report_and_last_leave_sends_leave(void **state)
{
    struct net *n = *state;
    int s1 = udp_bound(n->b, US_IP4_ANY, 5000), s2 = udp_bound(n->b, US_IP4_ANY, 5000);
    assert_int_equal(mreq_op(n->b, s1, US_IP_ADD_MEMBERSHIP, B_IP), -EINVAL);
    assert_int_equal(mreq_op(n->b, s1, US_IP_DROP_MEMBERSHIP, GRP), -EADDRNOTAVAIL);
    join(n->b, s1, GRP);
    assert_int_equal(mreq_op(n->b, s1, US_IP_ADD_MEMBERSHIP, GRP), -EADDRINUSE);
    run(n, 5 * MS);

    /* The unsolicited report: to the group and its MAC, TTL 1, with Router
     * Alert (IHL 6), as Linux's igmp_send_report. */
    unsigned i = 0;
    struct us_ipv4_view ip;
    struct us_igmp_view g;
    assert_true(next_igmp(n, &i, &ip, &g));
    assert_int_equal(g.type, US_IGMPV2_REPORT);
    assert_int_equal(g.group, GRP);
    assert_int_equal(g.max_resp, 0);
    assert_int_equal(ip.src, B_IP);
    assert_int_equal(ip.dst, GRP);
    assert_int_equal(ip.ttl, 1);
    assert_int_equal(ip.hdr_len, 24);
    assert_int_equal(ip.options_len, 4);
    assert_int_equal(ip.options[0], 0x94); /* RFC 2113 Router Alert */
    assert_int_equal(ip.options[1], 4);
    static const uint8_t mac[6] = {0x01, 0x00, 0x5e, 0x01, 0x02, 0x03};
    assert_memory_equal(n->seen[i - 1].eth_dst.b, mac, 6);
    assert_false(next_igmp(n, &i, &ip, &g));

    /* A second socket joining the same group sends nothing; the report is
     * repeated once within the Unsolicited Report Interval (10 s). */
    join(n->b, s2, GRP);
    run(n, 11 * SEC);
    assert_int_equal(count_igmp(n, US_IGMPV2_REPORT, B_IP, GRP), 2);
    assert_int_equal(count_igmp(n, US_IGMP_LEAVE, B_IP, GRP), 0);

    /* The first leaver sends nothing; the last one (by close) a Leave Group
     * to all-routers. */
    n->nseen = 0;
    assert_int_equal(mreq_op(n->b, s1, US_IP_DROP_MEMBERSHIP, GRP), 0);
    run(n, 5 * MS);
    assert_int_equal(n->nseen, 0);
    assert_int_equal(us_close(n->b, s2), 0);
    run(n, 5 * MS);
    i = 0;
    assert_true(next_igmp(n, &i, &ip, &g));
    assert_int_equal(g.type, US_IGMP_LEAVE);
    assert_int_equal(g.group, GRP);
    assert_int_equal(ip.dst, US_IGMP_ALL_ROUTERS);
    assert_int_equal(ip.ttl, 1);
    assert_false(next_igmp(n, &i, &ip, &g));
    us_close(n->b, s1);
}

/* Sends an IGMP query from the sniffer port, as a router would. */
static void send_query(struct net *n, us_ip4 dst, us_ip4 group, uint8_t max_resp)
{
    struct us_pkt *p = us_pkt_alloc(n->sniff_pool);
    assert_non_null(p);
    uint8_t *f = us_pkt_put(p, US_ETH_HLEN + US_IPV4_HLEN + US_IGMP_LEN + 18);
    memset(f, 0, US_ETH_HLEN + US_IPV4_HLEN + US_IGMP_LEN + 18);
    struct us_mac mac;
    us_mac_from_ip4_multicast(dst, &mac);
    us_eth_emit(f, &mac, &n->sniff->mac, US_ETH_TYPE_IPV4);
    struct us_ipv4_repr r = {.total_len = US_IPV4_HLEN + US_IGMP_LEN,
                             .id = 1,
                             .ttl = 1,
                             .proto = US_IPPROTO_IGMP,
                             .src = US_IP4(192, 0, 2, 254),
                             .dst = dst};
    us_ipv4_emit(f + US_ETH_HLEN, &r);
    us_igmp_emit(f + US_ETH_HLEN + US_IPV4_HLEN, US_IGMP_QUERY, max_resp, group);
    us_dev_tx_burst(n->sniff, &p, 1, n->now);
}

static void test_query_is_answered_within_max_resp_time(void **state)
{
    struct net *n = *state;
    int fb = udp_bound(n->b, US_IP4_ANY, 5000);
    join(n->b, fb, GRP);
    join(n->b, fb, GRP2);
    run(n, 11 * SEC); /* past the unsolicited reports */
    assert_int_equal(count_igmp(n, US_IGMPV2_REPORT, B_IP, GRP), 2);

    /* A general query (Max Resp Time 10 s): one report per group, each
     * within 10 s and not all at once. */
    n->nseen = 0;
    us_time_ns t0 = n->now;
    send_query(n, US_IGMP_ALL_HOSTS, 0, 100);
    run(n, 10 * SEC + 20 * MS);
    assert_int_equal(count_igmp(n, US_IGMPV2_REPORT, B_IP, GRP), 1);
    assert_int_equal(count_igmp(n, US_IGMPV2_REPORT, B_IP, GRP2), 1);
    for (unsigned i = 0; i < n->nseen; i++)
        assert_true(n->seen[i].at - t0 <= 10 * SEC + 20 * MS);
    run(n, 20 * SEC);
    assert_int_equal(n->nseen, 2); /* two reports, no more (the sniffer does not see its query) */

    /* A group-specific query for GRP2 (1 s): only GRP2 is reported. */
    n->nseen = 0;
    t0 = n->now;
    send_query(n, GRP2, GRP2, 10);
    run(n, 1 * SEC + 20 * MS);
    assert_int_equal(count_igmp(n, US_IGMPV2_REPORT, B_IP, GRP2), 1);
    assert_int_equal(count_igmp(n, US_IGMPV2_REPORT, B_IP, GRP), 0);

    /* Another member's report suppresses ours (RFC 2236 §3): B and C both
     * joined; a query gets one report for the group between them. */
    int fc = udp_bound(n->c, US_IP4_ANY, 5000);
    join(n->c, fc, GRP);
    run(n, 11 * SEC);
    n->nseen = 0;
    send_query(n, US_IGMP_ALL_HOSTS, GRP, 100);
    run(n, 11 * SEC);
    assert_int_equal(
        count_igmp(n, US_IGMPV2_REPORT, B_IP, GRP) + count_igmp(n, US_IGMPV2_REPORT, C_IP, GRP), 1);
}

/* ---------------- delivery ---------------- */

static void test_datagram_reaches_every_joined_socket(void **state)
{
    struct net *n = *state;
    /* B: two joined sockets on INADDR_ANY and one bound to the group; one
     * that did not join, with IP_MULTICAST_ALL off; one that did not join
     * with the Linux default (IP_MULTICAST_ALL 1). C: one joined socket. A:
     * the sender, and a socket of the port on a stack that joined nothing. */
    int b1 = udp_bound(n->b, US_IP4_ANY, 5000), b2 = udp_bound(n->b, US_IP4_ANY, 5000);
    int b3 = udp_bound(n->b, GRP, 5000), b4 = udp_bound(n->b, US_IP4_ANY, 5000);
    int b5 = udp_bound(n->b, US_IP4_ANY, 5000);
    int b6 = udp_bound(n->b, US_IP4_ANY, 5001); /* joined, another port */
    int c1 = udp_bound(n->c, US_IP4_ANY, 5000);
    int a1 = udp_bound(n->a, US_IP4_ANY, 5000);
    int tx = us_socket(n->a, US_SOCK_DGRAM);
    join(n->b, b1, GRP);
    join(n->b, b2, GRP);
    join(n->b, b3, GRP);
    join(n->b, b6, GRP);
    join(n->c, c1, GRP);
    assert_int_equal(set_ip_int(n->b, b4, US_IP_MULTICAST_ALL, 0), 0);
    run(n, 5 * MS);
    uint64_t no_ports = ctr(n->b, "UdpNoPorts");

    for (uint32_t k = 0; k < 50; k++)
        send_to(n, n->a, tx, k, GRP, 5000);
    send_to(n, n->a, tx, 999, GRP, 5002); /* nobody's port: dropped silently */
    run(n, 10 * MS);
    assert_int_equal(drain_seq(n->b, b1, 0), 50);
    assert_int_equal(drain_seq(n->b, b2, 0), 50);
    assert_int_equal(drain_seq(n->b, b3, 0), 50);
    assert_int_equal(drain_seq(n->b, b4, 0), 0);
    assert_int_equal(drain_seq(n->b, b5, 0), 50); /* mc_all: as Linux by default */
    assert_int_equal(drain_seq(n->b, b6, 0), 0);
    assert_int_equal(drain_seq(n->c, c1, 0), 50);
    assert_int_equal(drain_seq(n->a, a1, 0), 0); /* A joined nothing */
    assert_int_equal(ctr(n->b, "UdpNoPorts"), no_ports);
    for (unsigned i = 0; i < n->nseen; i++) {
        struct us_ipv4_view ip;
        assert_int_equal(us_ipv4_parse(n->seen[i].data, n->seen[i].len, &ip), US_WIRE_OK);
        assert_int_not_equal(ip.proto, US_IPPROTO_ICMP);
    }

    /* After the drop: b1 gets nothing more, b2 and C still everything. */
    assert_int_equal(mreq_op(n->b, b1, US_IP_DROP_MEMBERSHIP, GRP), 0);
    assert_int_equal(set_ip_int(n->b, b1, US_IP_MULTICAST_ALL, 0), 0);
    for (uint32_t k = 50; k < 60; k++)
        send_to(n, n->a, tx, k, GRP, 5000);
    run(n, 10 * MS);
    assert_int_equal(drain_seq(n->b, b1, 50), 0);
    assert_int_equal(drain_seq(n->b, b2, 50), 10);
    assert_int_equal(drain_seq(n->c, c1, 50), 10);

    /* Once every socket of B left, B drops the group at the IP layer. */
    us_close(n->b, b2);
    us_close(n->b, b3);
    us_close(n->b, b6);
    uint64_t disc = ctr(n->b, "IpInDiscards");
    send_to(n, n->a, tx, 60, GRP, 5000);
    run(n, 10 * MS);
    assert_int_equal(drain_seq(n->b, b5, 50), 10);
    assert_int_equal(drain_seq(n->b, b5, 60), 0);
    assert_int_equal(ctr(n->b, "IpInDiscards"), disc + 1);
    assert_int_equal(drain_seq(n->c, c1, 60), 1);
}

static void test_multicast_ttl(void **state)
{
    struct net *n = *state;
    int tx = us_socket(n->a, US_SOCK_DGRAM);
    int v = -1;
    size_t len = sizeof(v);
    assert_int_equal(us_getsockopt(n->a, tx, US_IPPROTO_IP, US_IP_MULTICAST_TTL, &v, &len), 0);
    assert_int_equal(v, 1);
    send_to(n, n->a, tx, 1, GRP, 5000);
    assert_int_equal(set_ip_int(n->a, tx, US_IP_MULTICAST_TTL, 7), 0);
    assert_int_equal(set_ip_int(n->a, tx, US_IP_MULTICAST_TTL, 256), -EINVAL);
    send_to(n, n->a, tx, 2, GRP, 5000);
    send_to(n, n->a, tx, 3, B_IP, 5000); /* unicast keeps ip_default_ttl */
    run(n, 10 * MS);
    uint8_t ttls[3];
    unsigned k = 0;
    for (unsigned i = 0; i < n->nseen && k < 3; i++) {
        struct us_ipv4_view ip;
        assert_int_equal(us_ipv4_parse(n->seen[i].data, n->seen[i].len, &ip), US_WIRE_OK);
        if (ip.proto == US_IPPROTO_UDP && ip.src == A_IP)
            ttls[k++] = ip.ttl;
    }
    assert_int_equal(k, 3);
    assert_int_equal(ttls[0], 1);
    assert_int_equal(ttls[1], 7);
    assert_int_equal(ttls[2], 64);
}

static void test_multicast_loop(void **state)
{
    struct net *n = *state;
    int ra = udp_bound(n->a, US_IP4_ANY, 6000), rb = udp_bound(n->b, US_IP4_ANY, 6000);
    int tx = udp_bound(n->a, US_IP4_ANY, 6001);
    join(n->a, ra, GRP);
    join(n->b, rb, GRP);
    run(n, 5 * MS);
    /* IP_MULTICAST_LOOP 1 (default): the sending stack's own joined socket
     * gets a copy too, from the sender's address. */
    send_to(n, n->a, tx, 0, GRP, 6000);
    run(n, 5 * MS);
    struct us_sockaddr_in from;
    uint32_t v;
    assert_int_equal(us_recvfrom(n->a, ra, &v, sizeof(v), 0, &from), 4);
    assert_int_equal(from.addr, A_IP);
    assert_int_equal(from.port, 6001);
    assert_int_equal(drain_seq(n->b, rb, 0), 1);
    /* Loop off: only the wire. */
    assert_int_equal(set_ip_int(n->a, tx, US_IP_MULTICAST_LOOP, 0), 0);
    size_t len = sizeof(v);
    int lv = -1;
    assert_int_equal(us_getsockopt(n->a, tx, US_IPPROTO_IP, US_IP_MULTICAST_LOOP, &lv, &len), 0);
    assert_int_equal(lv, 0);
    send_to(n, n->a, tx, 1, GRP, 6000);
    run(n, 5 * MS);
    assert_int_equal(drain_seq(n->a, ra, 1), 0);
    assert_int_equal(drain_seq(n->b, rb, 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_sends_report_and_last_leave_sends_leave, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_is_answered_within_max_resp_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_datagram_reaches_every_joined_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multicast_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multicast_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
