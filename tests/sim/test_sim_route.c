/* The routing table picks the longest matching prefix, whatever the order
 * the routes were added in. One ustack host (192.0.2.2/24) shares a wire
 * with four raw hosts: three gateways and one host reached on-link through
 * a route of its own. A ping to each destination must leave in a frame to
 * the MAC of the next hop that route names, with the destination unchanged
 * in its IPv4 header.
 *
 *   192.0.2.0/24         on-link (the interface's own subnet)
 *   198.51.100.0/24      via gw2 192.0.2.3
 *   198.51.100.129/32    via gw1 192.0.2.1
 *   0.0.0.0/0            via gw1 192.0.2.1
 *   198.51.100.128/25    via gw3 192.0.2.4
 *   198.51.100.192/26    on-link (host 198.51.100.200 answers ARP itself)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <stdlib.h>
#include <string.h>

#include "sim/rawhost.h"

#define STACK_IP US_IP4(192, 0, 2, 2)
#define MS       US_NS_PER_MS

enum { GW1, GW2, GW3, ONLINK, NHOSTS };

static const us_ip4 host_ip[NHOSTS] = {
    [GW1] = US_IP4(192, 0, 2, 1),
    [GW2] = US_IP4(192, 0, 2, 3),
    [GW3] = US_IP4(192, 0, 2, 4),
    [ONLINK] = US_IP4(198, 51, 100, 200),
};
static const char *const host_name[NHOSTS] = {"gw1", "gw2", "gw3", "198.51.100.200"};

struct net {
    struct us_wire *wire;
    struct rawhost rh[NHOSTS];
    struct us_stack *s;
    us_time_ns now;
};

static void run_for(struct net *n, us_time_ns dt)
{
    us_time_ns until = n->now + dt;
    do {
        us_time_ns t = n->now + MS < until ? n->now + MS : until;
        us_sim_run(&n->s, 1, &n->now, t);
        for (int i = 0; i < NHOSTS; i++)
            rh_drain(&n->rh[i], n->now);
    } while (n->now < until);
}

/* Pings dst and returns the raw host whose MAC the echo request was sent
 * to; fails unless exactly one raw host got exactly it. */
static int next_hop_of(struct net *n, us_ip4 dst, uint16_t seq)
{
    for (int i = 0; i < NHOSTS; i++)
        rh_clear(&n->rh[i]);
    uint8_t data[8] = {0};
    assert_int_equal(us_icmp_echo_send(n->s, dst, 0x42, seq, data, sizeof(data), NULL, n->now), 0);
    run_for(n, 10 * MS);
    int hop = -1;
    for (int i = 0; i < NHOSTS; i++) {
        if (n->rh[i].ndgrams == 0)
            continue;
        if (hop >= 0 || n->rh[i].ndgrams != 1)
            fail_msg("ping to %u.%u.%u.%u: sent to more than one next hop", dst >> 24,
                     (dst >> 16) & 0xff, (dst >> 8) & 0xff, dst & 0xff);
        struct us_ipv4_view ip;
        struct us_icmp_view icmp;
        assert_true(rh_icmp(&n->rh[i], 0, &ip, &icmp));
        assert_int_equal(icmp.type, US_ICMP_ECHO);
        assert_int_equal(us_icmp_echo_seq(&icmp), seq);
        assert_int_equal(ip.src, STACK_IP);
        assert_int_equal(ip.dst, dst);
        hop = i;
    }
    if (hop < 0)
        fail_msg("ping to %u.%u.%u.%u: not sent to any next hop", dst >> 24, (dst >> 16) & 0xff,
                 (dst >> 8) & 0xff, dst & 0xff);
    return hop;
}

static void expect_hop(struct net *n, us_ip4 dst, int want, uint16_t seq)
{
    int got = next_hop_of(n, dst, seq);
    if (got != want)
        fail_msg("ping to %u.%u.%u.%u went to %s, expected %s", dst >> 24, (dst >> 16) & 0xff,
                 (dst >> 8) & 0xff, dst & 0xff, host_name[got], host_name[want]);
}

static void test_longest_prefix_wins(void **state)
{
    (void)state;
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    struct us_wire_config wc = {.latency = 10 * 1000};
    n->wire = us_wire_new(&wc);
    assert_non_null(n->wire);
    for (int i = 0; i < NHOSTS; i++)
        rh_init(&n->rh[i], n->wire, host_ip[i]);
    n->s = sim_stack_new("host", 0x7007e);
    assert_int_equal(us_iface_add(n->s, us_wire_port_new(n->wire, "host0"), STACK_IP, 24, 0), 0);
    /* Added in an order where neither the first nor the last match is the
     * longest one. */
    assert_int_equal(us_route_add(n->s, US_IP4(198, 51, 100, 0), 24, host_ip[GW2], 0), 0);
    assert_int_equal(us_route_add(n->s, US_IP4(198, 51, 100, 129), 32, host_ip[GW1], 0), 0);
    assert_int_equal(us_route_add(n->s, 0, 0, host_ip[GW1], 0), 0);
    assert_int_equal(us_route_add(n->s, US_IP4(198, 51, 100, 128), 25, host_ip[GW3], 0), 0);
    assert_int_equal(us_route_add(n->s, US_IP4(198, 51, 100, 192), 26, 0, 0), 0);
    run_for(n, MS);

    uint16_t seq = 1;
    expect_hop(n, US_IP4(203, 0, 113, 5), GW1, seq++);       /* only the default */
    expect_hop(n, US_IP4(198, 51, 100, 5), GW2, seq++);      /* /24 over /0 */
    expect_hop(n, US_IP4(198, 51, 100, 127), GW2, seq++);    /* last address before the /25 */
    expect_hop(n, US_IP4(198, 51, 100, 128), GW3, seq++);    /* /25 over /24 */
    expect_hop(n, US_IP4(198, 51, 100, 130), GW3, seq++);    /* /25 over /24 */
    expect_hop(n, US_IP4(198, 51, 100, 191), GW3, seq++);    /* last address before the /26 */
    expect_hop(n, US_IP4(198, 51, 100, 129), GW1, seq++);    /* /32 over /25 */
    expect_hop(n, US_IP4(198, 51, 100, 200), ONLINK, seq++); /* /26 on-link over /25 */
    expect_hop(n, US_IP4(192, 0, 2, 3), GW2, seq++);         /* the connected /24, to gw2 itself */
    /* The on-link /26 resolved the destination itself: the stack asked
     * for 198.51.100.200, and that host answered. */
    assert_int_equal(n->rh[ONLINK].arp_answered, 1);

    us_stack_free(n->s);
    for (int i = 0; i < NHOSTS; i++)
        rh_fini(&n->rh[i]);
    us_wire_free(n->wire);
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_longest_prefix_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
