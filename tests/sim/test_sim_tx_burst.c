/* Frames go out in one burst per interface per round: a stack with two
 * interfaces, each on its own wire with a raw test host, each device
 * wrapped in a counter of tx_burst calls. Many echo requests arrive on both
 * interfaces at one instant; one round (one us_stack_poll) answers them
 * all, and each interface's device is handed all its replies in a single
 * tx_burst call, up to the interface's transmit queue of 64 frames.
 *
 *   192.0.2.9 (raw a) ---- wire a ---- 192.0.2.2 [stack] 198.51.100.2 ---- wire b ---- 198.51.100.9
 * (raw b)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <stdlib.h>
#include <string.h>

#include "sim/devwrap.h"
#include "sim/rawhost.h"

#define MS      US_NS_PER_MS
#define LATENCY (10 * 1000) /* 10 us one way */
#define NIF     2
#define MAX_LOG 256

/* ---------------- a device that counts tx_burst calls ---------------- */

struct burst_counter {
    struct devwrap w; /* first, so a struct us_dev * is a struct burst_counter * */
    unsigned calls;
    unsigned frames;
    int sizes[MAX_LOG]; /* frames handed over by each call */
};

static int bc_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct burst_counter *bc = (struct burst_counter *)d;
    if (bc->calls < MAX_LOG)
        bc->sizes[bc->calls] = n;
    bc->calls++;
    bc->frames += (unsigned)n;
    return us_dev_tx_burst(d->lower, pkts, n, now);
}

static const struct devwrap_hooks bc_hooks = {0};

static const struct us_dev_ops bc_ops = {
    .rx_burst = devwrap_rx_burst,
    .tx_burst = bc_tx_burst,
    .next_deadline = devwrap_next_deadline,
    .pollfd = devwrap_pollfd,
    .destroy = devwrap_destroy,
};

static struct burst_counter *bc_new(struct us_dev *lower)
{
    struct burst_counter *bc = devwrap_new(sizeof(*bc), lower, NULL, &bc_hooks);
    bc->w.dev.ops = &bc_ops;
    return bc;
}

static void bc_reset(struct burst_counter *bc)
{
    bc->calls = 0;
    bc->frames = 0;
}

/* ---------------- the topology ---------------- */

struct net {
    struct us_wire *wire[NIF];
    struct rawhost rh[NIF];
    struct burst_counter *bc[NIF];
    struct us_stack *s;
    us_time_ns now;
};

static const us_ip4 stack_ip[NIF] = {US_IP4(192, 0, 2, 2), US_IP4(198, 51, 100, 2)};
static const us_ip4 raw_ip[NIF] = {US_IP4(192, 0, 2, 9), US_IP4(198, 51, 100, 9)};

/* Runs the stack (us_sim_run, many rounds) for dt, draining both raw hosts
 * every millisecond. */
static void run_for(struct net *n, us_time_ns dt)
{
    us_time_ns until = n->now + dt;
    do {
        us_time_ns t = n->now + MS < until ? n->now + MS : until;
        us_sim_run(&n->s, 1, &n->now, t);
        for (int i = 0; i < NIF; i++)
            rh_drain(&n->rh[i], n->now);
    } while (n->now < until);
}

static struct net *net_new(void)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->s = sim_stack_new("router", 0xb0b5);
    for (int i = 0; i < NIF; i++) {
        struct us_wire_config wc = {.latency = LATENCY, .queue_limit = 4096};
        n->wire[i] = us_wire_new(&wc);
        assert_non_null(n->wire[i]);
        rh_init(&n->rh[i], n->wire[i], raw_ip[i]);
        n->bc[i] = bc_new(us_wire_port_new(n->wire[i], i ? "b0" : "a0"));
        assert_int_equal(us_iface_add(n->s, &n->bc[i]->w.dev, stack_ip[i], 24, n->now), i);
        n->rh[i].peer_mac = us_iface_dev(n->s, i)->mac;
    }
    /* The stack learns both raw hosts from their ARP requests. */
    run_for(n, MS);
    for (int i = 0; i < NIF; i++)
        rh_arp_request(&n->rh[i], stack_ip[i], n->now);
    run_for(n, 10 * MS);
    for (int i = 0; i < NIF; i++) {
        rh_clear(&n->rh[i]);
        bc_reset(n->bc[i]);
    }
    return n;
}

static void net_free(struct net *n)
{
    us_stack_free(n->s);
    for (int i = 0; i < NIF; i++) {
        rh_fini(&n->rh[i]);
        us_wire_free(n->wire[i]);
    }
    free(n);
}

/* Each raw host sends `count` echo requests at one instant; the stack polls
 * once (one round) when they have all arrived. Returns with the counters
 * as that round left them; the replies are checked by the caller. */
static void one_round_of_pings(struct net *n, unsigned count)
{
    uint8_t msg[64];
    for (int i = 0; i < NIF; i++) {
        rh_clear(&n->rh[i]);
        bc_reset(n->bc[i]);
        for (unsigned seq = 0; seq < count; seq++) {
            size_t len = rh_build_echo(msg, US_ICMP_ECHO, 0x7b, (uint16_t)seq, "burst", 5);
            rh_send_ip(&n->rh[i], stack_ip[i], US_IPPROTO_ICMP, msg, len, NULL, n->now);
        }
    }
    n->now += LATENCY;
    us_stack_poll(n->s, n->now);
}

/* Every reply reached its raw host, once per request. */
static void expect_replies(struct net *n, unsigned count)
{
    run_for(n, 10 * MS);
    for (int i = 0; i < NIF; i++) {
        if (rh_count_icmp(&n->rh[i], US_ICMP_ECHOREPLY, 0) != count)
            fail_msg("interface %d: %u echo replies, expected %u", i,
                     rh_count_icmp(&n->rh[i], US_ICMP_ECHOREPLY, 0), count);
        assert_int_equal(n->bc[i]->frames, count);
    }
}

/* 40 requests on each interface (within dev_weight, netdev_budget and the
 * transmit queue): the round that took them in hands each device its 40
 * replies in one tx_burst call. */
static void test_one_burst_per_interface_per_round(void **state)
{
    (void)state;
    struct net *n = net_new();
    const unsigned count = 40;
    uint64_t rounds = ctr(n->s, "LinkRxRounds");
    one_round_of_pings(n, count);
    assert_int_equal(ctr(n->s, "LinkRxRounds") - rounds, 1);
    assert_int_equal(ctr(n->s, "IcmpInEchos"), NIF * count);
    for (int i = 0; i < NIF; i++) {
        if (n->bc[i]->calls != 1)
            fail_msg("interface %d: %u tx_burst calls in one round, expected 1", i,
                     n->bc[i]->calls);
        assert_int_equal(n->bc[i]->sizes[0], count);
    }
    expect_replies(n, count);
    /* The replies are all there was to send: no further bursts. */
    assert_int_equal(n->bc[0]->calls, 1);
    assert_int_equal(n->bc[1]->calls, 1);
    net_free(n);
}

/* A round that answers more than the transmit queue holds (dev_weight
 * raised to 300 so all 100 requests per interface are taken in one round)
 * hands them over in full bursts of 64 and one of the rest: 64 + 36. */
static void test_bursts_of_the_transmit_queue(void **state)
{
    (void)state;
    struct net *n = net_new();
    set_knob(n->s, "net.core.dev_weight", "300");
    const unsigned count = 100;
    one_round_of_pings(n, count);
    assert_int_equal(ctr(n->s, "IcmpInEchos"), NIF * count);
    for (int i = 0; i < NIF; i++) {
        if (n->bc[i]->calls != 2)
            fail_msg("interface %d: %u tx_burst calls for %u replies in one round, expected 2", i,
                     n->bc[i]->calls, count);
        assert_int_equal(n->bc[i]->sizes[0], 64);
        assert_int_equal(n->bc[i]->sizes[1], count - 64);
    }
    expect_replies(n, count);
    net_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_burst_per_interface_per_round),
        cmocka_unit_test(test_bursts_of_the_transmit_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
