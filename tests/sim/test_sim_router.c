/* Three ustack stacks on the virtual clock: host A on wire 1, router R
 * joining wire 1 and wire 2 (MTU 576), host B on wire 2:
 *
 *   A 192.0.2.1 ── wire 1 (1500) ── 192.0.2.254 R 198.51.100.254 ── wire 2 (576) ── B 198.51.100.2
 *
 * A sees replies and ICMP errors through its ICMP handler; R's counters show
 * what a router did with each datagram (forwarded, fragmented, refused). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/stack.h"

#define A_IP    US_IP4(192, 0, 2, 1)
#define R1_IP   US_IP4(192, 0, 2, 254)
#define R2_IP   US_IP4(198, 51, 100, 254)
#define B_IP    US_IP4(198, 51, 100, 2)
#define FAR_IP  US_IP4(203, 0, 113, 5)
#define MTU2    576
#define MS      US_NS_PER_MS
#define SEC     US_NS_PER_SEC
#define PING_ID 0x0a0b

#define MAX_SEEN 32

/* One ICMP message A received. */
struct seen {
    us_ip4 src;
    uint8_t ttl;
    uint8_t type, code;
    uint32_t rest;
    size_t payload_len;
    uint8_t payload[2048];
};

struct net {
    struct us_wire *w1, *w2;
    struct us_stack *a, *r, *b;
    struct us_stack *all[3];
    us_time_ns now;
    struct seen seen[MAX_SEEN];
    unsigned nseen;
    uint8_t pattern[2000];
};

static void on_icmp(void *ctx, const struct us_ipv4_view *ip, const struct us_icmp_view *icmp,
                    us_time_ns now)
{
    struct net *n = ctx;
    if (n->nseen >= MAX_SEEN)
        return;
    struct seen *s = &n->seen[n->nseen++];
    s->src = ip->src;
    s->ttl = ip->ttl;
    s->type = icmp->type;
    s->code = icmp->code;
    s->rest = icmp->rest;
    s->payload_len = icmp->payload_len;
    memcpy(s->payload, icmp->payload,
           icmp->payload_len < sizeof(s->payload) ? icmp->payload_len : sizeof(s->payload));
}

static void run_for(struct net *n, us_time_ns dt)
{
    us_sim_run(n->all, 3, &n->now, n->now + dt);
}

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    for (size_t i = 0; i < sizeof(n->pattern); i++)
        n->pattern[i] = (uint8_t)(i * 31 + (i >> 7));
    struct us_wire_config c1 = {.mtu = 1500, .bandwidth_bps = 1000000000ull, .latency = 20000};
    struct us_wire_config c2 = {.mtu = MTU2, .bandwidth_bps = 100000000ull, .latency = 50000};
    n->w1 = us_wire_new(&c1);
    n->w2 = us_wire_new(&c2);
    assert_non_null(n->w1);
    assert_non_null(n->w2);
    n->a = sim_stack_new("a", 101);
    n->r = sim_stack_new("r", 202);
    n->b = sim_stack_new("b", 303);
    n->all[0] = n->a;
    n->all[1] = n->r;
    n->all[2] = n->b;

    assert_int_equal(us_iface_add(n->a, us_wire_port_new(n->w1, "a0"), A_IP, 24, n->now), 0);
    assert_int_equal(us_iface_add(n->r, us_wire_port_new(n->w1, "r0"), R1_IP, 24, n->now), 0);
    assert_int_equal(us_iface_add(n->r, us_wire_port_new(n->w2, "r1"), R2_IP, 24, n->now), 1);
    assert_int_equal(us_iface_add(n->b, us_wire_port_new(n->w2, "b0"), B_IP, 24, n->now), 0);
    assert_int_equal(us_route_add(n->a, 0, 0, R1_IP, 0), 0);
    assert_int_equal(us_route_add(n->b, 0, 0, R2_IP, 0), 0);
    set_knob(n->r, "net.ipv4.ip_forward", "1");
    us_icmp_set_rx_handler(n->a, on_icmp, n);
    run_for(n, 10 * MS); /* the gratuitous ARPs */
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    us_stack_free(n->a);
    us_stack_free(n->r);
    us_stack_free(n->b);
    us_wire_free(n->w1);
    us_wire_free(n->w2);
    free(n);
    return 0;
}

static int ping(struct net *n, us_ip4 dst, uint16_t seq, size_t len,
                const struct us_ip_send_opts *opts)
{
    return us_icmp_echo_send(n->a, dst, PING_ID, seq, n->pattern, len, opts, n->now);
}

/* The echo reply to seq is the only message A got, intact, TTL 63. */
static void assert_one_reply(struct net *n, uint16_t seq, size_t len)
{
    assert_int_equal(n->nseen, 1);
    const struct seen *s = &n->seen[0];
    assert_int_equal(s->type, US_ICMP_ECHOREPLY);
    assert_int_equal(s->src, B_IP);
    assert_int_equal(s->rest, (uint32_t)PING_ID << 16 | seq);
    assert_int_equal(s->ttl, 63); /* B's 64, less R's hop */
    assert_int_equal(s->payload_len, len);
    assert_memory_equal(s->payload, n->pattern, len);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The one ICMP error A got came from R and quotes A's datagram to dst. */
static const struct seen *assert_one_error(struct net *n, uint8_t type, uint8_t code, us_ip4 dst)
{
    assert_int_equal(n->nseen, 1);
    const struct seen *s = &n->seen[0];
    assert_int_equal(s->type, type);
    assert_int_equal(s->code, code);
    assert_int_equal(s->src, R1_IP);
    /* The quote starts with A's IPv4 header... */
    assert_true(s->payload_len >= US_IPV4_HLEN + 8);
    assert_int_equal(s->payload[0], 0x45);
    assert_int_equal(be32(s->payload + 12), A_IP);
    assert_int_equal(be32(s->payload + 16), dst);
    assert_int_equal(s->payload[9], US_IPPROTO_ICMP);
    /* ...then 8 bytes of A's echo request: type 8, its id and seq. */
    assert_int_equal(s->payload[US_IPV4_HLEN], US_ICMP_ECHO);
    assert_int_equal(s->payload[US_IPV4_HLEN + 4] << 8 | s->payload[US_IPV4_HLEN + 5], PING_ID);
    return s;
}

static void test_ping_through_router(void **state)
{
    struct net *n = *state;
    assert_int_equal(ping(n, B_IP, 1, 56, NULL), 0);
    run_for(n, 100 * MS);
    assert_one_reply(n, 1, 56);
    assert_int_equal(ctr(n->r, "IpForwDatagrams"), 2); /* request and reply */
    assert_int_equal(ctr(n->r, "IpFragCreates"), 0);

    /* 1428 bytes do not fit wire 2: R cuts the request into 552+552+304
     * bytes of payload; B's 1428-byte reply is cut by B itself. */
    n->nseen = 0;
    assert_int_equal(ping(n, B_IP, 2, 1400, NULL), 0);
    run_for(n, 100 * MS);
    assert_one_reply(n, 2, 1400);
    assert_int_equal(ctr(n->r, "IpFragOKs"), 1);
    assert_int_equal(ctr(n->r, "IpFragCreates"), 3);
    assert_int_equal(ctr(n->r, "IpForwDatagrams"), 2 + 1 + 3); /* + request + 3 reply fragments */
    assert_int_equal(ctr(n->b, "IpReasmOKs"), 1);
    assert_int_equal(ctr(n->b, "IpFragCreates"), 3);
    assert_int_equal(ctr(n->a, "IpReasmReqds"), 3);
    assert_int_equal(ctr(n->a, "IpReasmOKs"), 1);
}

static void test_df_gets_frag_needed_with_mtu(void **state)
{
    struct net *n = *state;
    struct us_ip_send_opts df = {.df = true};
    assert_int_equal(ping(n, B_IP, 3, 1400, &df), 0);
    run_for(n, 100 * MS);
    const struct seen *s = assert_one_error(n, US_ICMP_DEST_UNREACH, US_ICMP_FRAG_NEEDED, B_IP);
    assert_int_equal(s->rest & 0xffff, MTU2); /* RFC 1191 next-hop MTU */
    assert_int_equal(ctr(n->r, "IpFragFails"), 1);
    assert_int_equal(ctr(n->r, "IpForwDatagrams"), 0);
    assert_int_equal(ctr(n->a, "IcmpInDestUnreachs"), 1);
    assert_int_equal(ctr(n->b, "IpInReceives"), 0);
}

static void test_ttl_1_time_exceeded(void **state)
{
    struct net *n = *state;
    struct us_ip_send_opts o = {.ttl = 1};
    assert_int_equal(ping(n, B_IP, 4, 56, &o), 0);
    run_for(n, 100 * MS);
    assert_one_error(n, US_ICMP_TIME_EXCEEDED, US_ICMP_EXC_TTL, B_IP);
    assert_int_equal(ctr(n->r, "IcmpOutTimeExcds"), 1);
    assert_int_equal(ctr(n->r, "IpForwDatagrams"), 0);
    assert_int_equal(ctr(n->a, "IcmpInTimeExcds"), 1);
    assert_int_equal(ctr(n->b, "IpInReceives"), 0);
}

static void test_no_route_net_unreachable(void **state)
{
    struct net *n = *state;
    assert_int_equal(ping(n, FAR_IP, 5, 56, NULL), 0); /* A's default goes to R */
    run_for(n, 100 * MS);
    assert_one_error(n, US_ICMP_DEST_UNREACH, US_ICMP_NET_UNREACH, FAR_IP);
    assert_int_equal(ctr(n->r, "IpExtInNoRoutes"), 1);
    assert_int_equal(ctr(n->r, "IpForwDatagrams"), 0);
}

static void test_unresolvable_next_hop(void **state)
{
    struct net *n = *state;
    const us_ip4 ghost = US_IP4(198, 51, 100, 77); /* on wire 2, but nobody has it */
    assert_int_equal(ping(n, ghost, 9, 56, NULL), 0);
    run_for(n, 5 * SEC);
    assert_int_equal(ctr(n->r, "IpForwDatagrams"), 1);
    assert_int_equal(ctr(n->r, "ArpResolveFailures"), 1);
    assert_int_equal(ctr(n->r, "ArpUnresolvedDiscards"), 1);
    /* RFC 1812 §5.2.7.1: R tells A the host is unreachable. */
    assert_one_error(n, US_ICMP_DEST_UNREACH, US_ICMP_HOST_UNREACH, ghost);
}

static void test_forwarding_off(void **state)
{
    struct net *n = *state;
    set_knob(n->r, "net.ipv4.ip_forward", "0");
    assert_int_equal(ping(n, B_IP, 6, 56, NULL), 0);
    run_for(n, 2 * SEC);
    assert_int_equal(n->nseen, 0);
    assert_int_equal(ctr(n->r, "IpInAddrErrors"), 1);
    assert_int_equal(ctr(n->r, "IpForwDatagrams"), 0);
    assert_int_equal(ctr(n->r, "IcmpOutMsgs"), 0);
    assert_int_equal(ctr(n->b, "IpInReceives"), 0);
}

static void test_df_above_own_mtu_is_emsgsize(void **state)
{
    struct net *n = *state;
    struct us_ip_send_opts df = {.df = true};
    const size_t fits = 1500 - US_IPV4_HLEN - US_ICMP_HLEN; /* 1472 */
    assert_int_equal(ping(n, B_IP, 7, fits + 1, &df), -EMSGSIZE);
    assert_int_equal(ctr(n->a, "IpFragFails"), 1);
    assert_int_equal(ctr(n->a, "IpFragCreates"), 0);
    run_for(n, 100 * MS);
    assert_int_equal(n->nseen, 0);
    assert_int_equal(ctr(n->r, "IpInReceives"), 0);

    /* Without DF the same ping is fragmented by A and answered. */
    assert_int_equal(ping(n, B_IP, 8, fits + 1, NULL), 0);
    run_for(n, 100 * MS);
    assert_one_reply(n, 8, fits + 1);
    assert_int_equal(ctr(n->a, "IpFragCreates"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ping_through_router, setup, teardown),
        cmocka_unit_test_setup_teardown(test_df_gets_frag_needed_with_mtu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_1_time_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_route_net_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unresolvable_next_hop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarding_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_df_above_own_mtu_is_emsgsize, setup, teardown),
    };
    return cmocka_run_group_tests_name("sim_router", tests, NULL, NULL);
}
