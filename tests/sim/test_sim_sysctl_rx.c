/* The receive path's knobs, seen round by round: a raw host puts a burst of
 * UDP datagrams on the wire at one instant, and the test runs the stack's
 * rounds (us_stack_poll) one at a time at that instant, reading what each
 * round did in LinkInFrames (frames through Ethernet input, the bottom
 * half), LinkRxRounds, LinkRxBudgetExhausted and the device's rx_dropped.
 *
 *   net.core.dev_weight         frames the top half takes from a device a round
 *   net.core.netdev_budget      frames the bottom half processes a round
 *   net.core.netdev_max_backlog frames the backlog holds; the rest are dropped
 *
 * Each is run at two values, so a stack that ignored the knob fails. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rawhost.h"
#include "ustack/socket.h"

#define STACK_IP   US_IP4(192, 0, 2, 2)
#define RAW_IP     US_IP4(192, 0, 2, 9)
#define PORT       7000
#define LATENCY    (10 * 1000) /* 10 us one way */
#define MAX_ROUNDS 200

struct rxnet {
    struct us_wire *wire;
    struct rawhost rh;
    struct us_stack *s;
    int fd;
    us_time_ns now;
};

static struct rxnet *rxnet_new(void)
{
    struct rxnet *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    struct us_wire_config wc = {.latency = LATENCY, .queue_limit = 4096};
    n->wire = us_wire_new(&wc);
    assert_non_null(n->wire);
    rh_init(&n->rh, n->wire, RAW_IP);
    n->s = sim_stack_new("rx", 0x5eed2);
    assert_int_equal(us_iface_add(n->s, us_wire_port_new(n->wire, "rx0"), STACK_IP, 24, 0), 0);
    n->rh.peer_mac = us_iface_dev(n->s, 0)->mac;
    /* A socket with room for every datagram of the bursts. */
    set_knob(n->s, "net.core.rmem_max", "16777216");
    n->fd = us_socket(n->s, US_SOCK_DGRAM);
    assert_true(n->fd >= 0);
    struct us_sockaddr_in sa = {STACK_IP, PORT};
    assert_int_equal(us_bind(n->s, n->fd, &sa), 0);
    int rcvbuf = 4 << 20;
    assert_int_equal(
        us_setsockopt(n->s, n->fd, US_SOL_SOCKET, US_SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    /* The gratuitous ARP and anything else at start-up, done. */
    rh_run(&n->rh, &n->s, 1, &n->now, 10 * US_NS_PER_MS);
    return n;
}

static void rxnet_free(struct rxnet *n)
{
    us_stack_free(n->s);
    rh_fini(&n->rh);
    us_wire_free(n->wire);
    free(n);
}

/* The raw host sends count datagrams at once; returns when they arrive. */
static us_time_ns burst(struct rxnet *n, unsigned count)
{
    uint8_t seg[64];
    size_t len = rh_build_udp(seg, 5000, PORT, RAW_IP, STACK_IP, "burst", 5);
    for (unsigned i = 0; i < count; i++)
        rh_send_ip(&n->rh, STACK_IP, US_IPPROTO_UDP, seg, len, NULL, n->now);
    return n->now + LATENCY;
}

/* Reads every datagram queued on the socket; returns how many. */
static unsigned drain_socket(struct rxnet *n)
{
    uint8_t buf[64];
    unsigned read = 0;
    while (us_recvfrom(n->s, n->fd, buf, sizeof(buf), 0, NULL) > 0)
        read++;
    return read;
}

/* Runs the stack's rounds at `at` until it asks for no more at that
 * instant; frames[i] is what round i put through Ethernet input. Returns
 * the number of rounds. */
static int rounds_at(struct rxnet *n, us_time_ns at, uint64_t *frames)
{
    n->now = at;
    for (int r = 0; r < MAX_ROUNDS; r++) {
        uint64_t before = ctr(n->s, "LinkInFrames");
        us_time_ns next = us_stack_poll(n->s, at);
        frames[r] = ctr(n->s, "LinkInFrames") - before;
        if (next > at)
            return r + 1;
    }
    fail_msg("the stack still asked to be polled after %d rounds", MAX_ROUNDS);
    return -1;
}

/* dev_weight w: each round takes w frames from the device while it has
 * them; a round that used its whole weight counts LinkRxBudgetExhausted and
 * asks for another round, as a NAPI poll that used its weight. */
static void weight_run(int weight, unsigned count)
{
    struct rxnet *n = rxnet_new();
    char v[16];
    snprintf(v, sizeof(v), "%d", weight);
    set_knob(n->s, "net.core.dev_weight", v);
    uint64_t rounds0 = ctr(n->s, "LinkRxRounds"), exh0 = ctr(n->s, "LinkRxBudgetExhausted");
    uint64_t frames[MAX_ROUNDS];
    int rounds = rounds_at(n, burst(n, count), frames);
    /* count / w full rounds, then one that finds the rest (maybe none). */
    int full = (int)(count / (unsigned)weight);
    assert_int_equal(rounds, full + 1);
    unsigned left = count;
    for (int r = 0; r < rounds; r++) {
        unsigned want = left < (unsigned)weight ? left : (unsigned)weight;
        if (frames[r] != want)
            fail_msg("dev_weight %d: round %d took %llu frames, expected %u", weight, r,
                     (unsigned long long)frames[r], want);
        left -= want;
    }
    assert_int_equal(ctr(n->s, "LinkRxRounds") - rounds0, (uint64_t)rounds);
    assert_int_equal(ctr(n->s, "LinkRxBudgetExhausted") - exh0, (uint64_t)full);
    assert_int_equal(drain_socket(n), count);
    rxnet_free(n);
}

static void test_dev_weight_frames_per_round(void **state)
{
    (void)state;
    weight_run(64, 100); /* Linux's default: 64, then 36 */
    weight_run(10, 100); /* ten rounds of 10, and one that finds none left */
    weight_run(7, 100);  /* 14 rounds of 7, then 2 */
}

/* netdev_budget b: the top half fills the backlog with the whole burst (it
 * is within dev_weight), and each round's bottom half processes b of it. */
static void budget_run(int budget, unsigned count)
{
    struct rxnet *n = rxnet_new();
    char v[16];
    snprintf(v, sizeof(v), "%d", budget);
    set_knob(n->s, "net.core.netdev_budget", v);
    uint64_t frames[MAX_ROUNDS];
    int rounds = rounds_at(n, burst(n, count), frames);
    int expect = (int)((count + (unsigned)budget - 1) / (unsigned)budget);
    if (rounds != expect)
        fail_msg("netdev_budget %d: %d rounds for %u frames, expected %d", budget, rounds, count,
                 expect);
    unsigned left = count;
    for (int r = 0; r < rounds; r++) {
        unsigned want = left < (unsigned)budget ? left : (unsigned)budget;
        if (frames[r] != want)
            fail_msg("netdev_budget %d: round %d processed %llu frames, expected %u", budget, r,
                     (unsigned long long)frames[r], want);
        left -= want;
    }
    /* The device gave everything in the first round: never exhausted. */
    assert_int_equal(ctr(n->s, "LinkRxBudgetExhausted"), 0);
    assert_int_equal(drain_socket(n), count);
    rxnet_free(n);
}

static void test_netdev_budget_frames_per_round(void **state)
{
    (void)state;
    budget_run(300, 50); /* Linux's default: all 50 in one round */
    budget_run(8, 50);   /* 8 a round: 7 rounds */
}

/* netdev_max_backlog m: the top half queues at most m frames; the rest of
 * the device's burst is dropped and counted in the device's rx_dropped (as
 * Linux's enqueue_to_backlog counts softnet "dropped" and the device's
 * rx_dropped); the socket gets exactly the m that fit. */
static void backlog_run(int max_backlog, unsigned count, int budget)
{
    struct rxnet *n = rxnet_new();
    char v[16];
    snprintf(v, sizeof(v), "%d", max_backlog);
    set_knob(n->s, "net.core.netdev_max_backlog", v);
    snprintf(v, sizeof(v), "%d", budget);
    set_knob(n->s, "net.core.netdev_budget", v);
    uint64_t frames[MAX_ROUNDS];
    rounds_at(n, burst(n, count), frames);
    unsigned kept = count < (unsigned)max_backlog ? count : (unsigned)max_backlog;
    struct us_dev *dev = us_iface_dev(n->s, 0);
    if (dev->stats.rx_dropped != count - kept)
        fail_msg("netdev_max_backlog %d: %llu frames dropped, expected %u", max_backlog,
                 (unsigned long long)dev->stats.rx_dropped, count - kept);
    /* Every datagram kept is readable, and no more. */
    assert_int_equal(drain_socket(n), kept);
    rxnet_free(n);
}

static void test_netdev_max_backlog_drops_the_rest(void **state)
{
    (void)state;
    backlog_run(1000, 60, 300); /* Linux's default: nothing dropped */
    backlog_run(16, 60, 300);   /* 16 kept, 44 dropped */
    backlog_run(16, 60, 4);     /* the same when the bottom half takes 4 a round */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dev_weight_frames_per_round),
        cmocka_unit_test(test_netdev_budget_frames_per_round),
        cmocka_unit_test(test_netdev_max_backlog_drops_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
