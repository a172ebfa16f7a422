/* IPv4, ICMP and ARP knobs changed and seen on the wire: one ustack host
 * (192.0.2.2/24) and a raw test host (192.0.2.9) that writes and reads the
 * frames itself.
 *
 *   net.ipv4.icmp_msgs_per_sec             the refill rate of the ICMP error bucket
 *   net.ipv4.icmp_msgs_burst               the depth of that bucket
 *   net.ipv4.icmp_echo_ignore_broadcasts   echo requests to a broadcast answered or not
 *   net.ipv4.neigh.default.gc_stale_time   how long an unused stale entry is kept
 *   net.ipv4.neigh.default.mcast_solicit   broadcast requests before resolution fails
 *   net.ipv4.neigh.default.retrans_time_ms the time between those requests
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

#define STACK_IP US_IP4(192, 0, 2, 2)
#define RAW_IP   US_IP4(192, 0, 2, 9)
#define BCAST_IP US_IP4(192, 0, 2, 255)
#define MS       US_NS_PER_MS
#define SEC      US_NS_PER_SEC

static struct rh_net *host_new(void)
{
    struct us_wire_config wc = {.latency = 10 * 1000, .queue_limit = 4096};
    struct rh_net *h = rh_net_new(&wc, RAW_IP);
    h->s = sim_stack_new("host", 0x5eed3);
    rh_net_iface(h, us_wire_port_new(h->wire, "host0"), STACK_IP);
    return h;
}

/* ---------------- icmp_msgs_per_sec ---------------- */

/* n datagrams to a closed port at one instant; returns how many port
 * unreachables came back. */
static unsigned closed_port_burst(struct rh_net *h, unsigned n)
{
    uint8_t seg[64];
    size_t len = rh_build_udp(seg, 40000, 9, RAW_IP, STACK_IP, "x", 1);
    rh_clear(&h->rh);
    for (unsigned i = 0; i < n; i++)
        rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, NULL, h->now);
    rh_net_run(h, MS);
    return rh_count_icmp(&h->rh, US_ICMP_DEST_UNREACH, US_ICMP_PORT_UNREACH);
}

/* The bucket (icmp_msgs_burst deep) empties on a burst, then refills at
 * icmp_msgs_per_sec: after 20 ms a burst gets rate * 20 ms errors, at most
 * the bucket's depth, and the rest are counted in IcmpOutRateLimited. */
static void refill_run(int per_sec, unsigned expect_after_20ms)
{
    struct rh_net *h = host_new();
    char v[16];
    snprintf(v, sizeof(v), "%d", per_sec);
    set_knob(h->s, "net.ipv4.icmp_msgs_per_sec", v);
    rh_net_prime(h, STACK_IP);
    const unsigned n = 100;
    /* The bucket starts full: the first burst gets icmp_msgs_burst (50). */
    assert_int_equal(closed_port_burst(h, n), 50);
    /* 1 ms of the first burst's run plus 19 ms here: 20 ms since the
     * bucket emptied. */
    us_time_ns emptied = h->now - MS;
    rh_net_run(h, emptied + 20 * MS - h->now);
    uint64_t limited = ctr(h->s, "IcmpOutRateLimited");
    unsigned got = closed_port_burst(h, n);
    if (got != expect_after_20ms)
        fail_msg("icmp_msgs_per_sec %d: %u errors 20 ms after the bucket emptied, expected %u",
                 per_sec, got, expect_after_20ms);
    assert_int_equal(ctr(h->s, "IcmpOutRateLimited") - limited, n - expect_after_20ms);
    /* A full second refills the bucket to its depth whatever the rate. */
    rh_net_run(h, SEC);
    assert_int_equal(closed_port_burst(h, n), 50);
    rh_net_free(h);
}

static void test_icmp_msgs_per_sec_refill(void **state)
{
    (void)state;
    refill_run(1000, 20); /* Linux's default: 20 tokens in 20 ms */
    refill_run(100, 2);   /* 2 tokens in 20 ms */
    refill_run(5000, 50); /* 100 tokens in 20 ms, capped at the burst of 50 */
}

/* ---------------- icmp_msgs_burst ---------------- */

/* After a quiet second the bucket is full: a burst of 100 gets exactly
 * icmp_msgs_burst errors, the rest are rate limited. */
static void burst_run(int depth)
{
    struct rh_net *h = host_new();
    char v[16];
    snprintf(v, sizeof(v), "%d", depth);
    set_knob(h->s, "net.ipv4.icmp_msgs_burst", v);
    rh_net_prime(h, STACK_IP);
    rh_net_run(h, SEC);
    const unsigned n = 100;
    uint64_t limited = ctr(h->s, "IcmpOutRateLimited");
    unsigned got = closed_port_burst(h, n);
    if (got != (unsigned)depth)
        fail_msg("icmp_msgs_burst %d: %u errors for a burst of %u, expected %d", depth, got, n,
                 depth);
    assert_int_equal(ctr(h->s, "IcmpOutRateLimited") - limited, n - (unsigned)depth);
    rh_net_free(h);
}

static void test_icmp_msgs_burst_sets_bucket_depth(void **state)
{
    (void)state;
    burst_run(10);
    burst_run(80);
}

/* ---------------- icmp_echo_ignore_broadcasts ---------------- */

/* Sends an echo request to dst in an Ethernet broadcast; returns how many
 * echo replies came back. */
static unsigned ping_broadcast(struct rh_net *h, us_ip4 dst, uint16_t seq)
{
    static const struct us_mac bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    uint8_t msg[64];
    size_t len = rh_build_echo(msg, US_ICMP_ECHO, 0x77, seq, "bcast?", 6);
    struct rh_ip_opts o = {.eth_dst = &bcast};
    rh_clear(&h->rh);
    rh_send_ip(&h->rh, dst, US_IPPROTO_ICMP, msg, len, &o, h->now);
    rh_net_run(h, 10 * MS);
    return rh_count_icmp(&h->rh, US_ICMP_ECHOREPLY, 0);
}

static void test_icmp_echo_ignore_broadcasts(void **state)
{
    (void)state;
    struct rh_net *h = host_new();
    rh_net_prime(h, STACK_IP);
    /* Linux's default 1: echo requests to the subnet's broadcast or to
     * 255.255.255.255 are counted and not answered (a smurf amplifier
     * otherwise). */
    assert_int_equal(ping_broadcast(h, BCAST_IP, 1), 0);
    assert_int_equal(ping_broadcast(h, US_IP4_BROADCAST, 2), 0);
    assert_int_equal(ctr(h->s, "IcmpInEchos"), 2);
    assert_int_equal(ctr(h->s, "IcmpOutEchoReps"), 0);
    /* 0: both answered, from the host's own address to the sender. */
    set_knob(h->s, "net.ipv4.icmp_echo_ignore_broadcasts", "0");
    assert_int_equal(ping_broadcast(h, BCAST_IP, 3), 1);
    struct us_ipv4_view ip;
    struct us_icmp_view icmp;
    assert_true(rh_icmp(&h->rh, 0, &ip, &icmp));
    assert_int_equal(ip.src, STACK_IP);
    assert_int_equal(ip.dst, RAW_IP);
    assert_int_equal(us_icmp_echo_seq(&icmp), 3);
    assert_int_equal(ping_broadcast(h, US_IP4_BROADCAST, 4), 1);
    assert_int_equal(ctr(h->s, "IcmpInEchos"), 4);
    assert_int_equal(ctr(h->s, "IcmpOutEchoReps"), 2);
    /* And 1 again: ignored again. */
    set_knob(h->s, "net.ipv4.icmp_echo_ignore_broadcasts", "1");
    assert_int_equal(ping_broadcast(h, BCAST_IP, 5), 0);
    rh_net_free(h);
}

/* ---------------- gc_stale_time ---------------- */

/* The raw host's entry is learned, goes stale after its reachable time,
 * and then sits unused for `idle`. A ping from the raw host then needs an
 * answer: if the entry is still there (idle < gc_stale_time) it is used
 * at once and confirmed by a unicast probe to the old address; if it was
 * collected, the stack must resolve the address again with a broadcast
 * request before it can answer. */
static void stale_run(const char *gc_stale_time, us_time_ns idle, bool expect_kept)
{
    struct rh_net *h = host_new();
    /* Reachable for at most 1.5 s (base 1 s, randomised as Linux does). */
    set_knob(h->s, "net.ipv4.neigh.default.base_reachable_time_ms", "1000");
    set_knob(h->s, "net.ipv4.neigh.default.gc_stale_time", gc_stale_time);
    h->rh.step = 10 * MS;
    rh_net_prime(h, STACK_IP);
    rh_net_run(h, idle);
    assert_int_equal(h->rh.narps, 0); /* going stale or being collected sends nothing */
    uint8_t msg[64];
    size_t len = rh_build_echo(msg, US_ICMP_ECHO, 0x55, 1, "stale?", 6);
    h->rh.step = MS; /* answer the stack's ARP request within a millisecond */
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, NULL, h->now);
    rh_net_run(h, 10 * MS);
    assert_int_equal(rh_count_icmp(&h->rh, US_ICMP_ECHOREPLY, 0), 1);
    if (h->rh.narps != 1)
        fail_msg("gc_stale_time %s after %.1f s idle: %u ARP packets, expected 1", gc_stale_time,
                 (double)idle / 1e9, h->rh.narps);
    const struct rh_arp *a = &h->rh.arps[0];
    assert_int_equal(a->arp.op, US_ARP_OP_REQUEST);
    assert_int_equal(a->arp.tpa, RAW_IP);
    bool unicast = rh_mac_eq(&a->eth_dst, &h->rh.mac);
    if (unicast != expect_kept)
        fail_msg("gc_stale_time %s after %.1f s idle: a %s request, expected a %s one",
                 gc_stale_time, (double)idle / 1e9, unicast ? "unicast" : "broadcast",
                 expect_kept ? "unicast (entry kept)" : "broadcast (entry collected)");
    if (expect_kept) {
        /* Sent with the stale address at once, before any answer. */
        assert_true(h->rh.dgrams[0].at < a->at + 1000);
    } else {
        /* Sent only after the raw host's reply resolved the address. */
        assert_true(h->rh.dgrams[0].at > a->at);
    }
    rh_net_free(h);
}

static void test_gc_stale_time_collects_unused_entries(void **state)
{
    (void)state;
    stale_run("60", 20 * SEC, true);  /* Linux's default: 20 s idle is kept */
    stale_run("10", 20 * SEC, false); /* 10 s: collected by then */
    stale_run("10", 8 * SEC, true);   /* ... but not before */
}

/* ---------------- mcast_solicit, retrans_time_ms ---------------- */

/* A ping to an address nobody answers: the stack broadcasts mcast_solicit
 * ARP requests, retrans_time_ms apart, and gives up (ArpResolveFailures,
 * the ping dropped) retrans_time_ms after the last one. */
static void solicit_run(int solicit, int retrans_ms)
{
    static const struct us_mac bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    const us_ip4 ghost = US_IP4(192, 0, 2, 77);
    struct rh_net *h = host_new();
    char v[16];
    snprintf(v, sizeof(v), "%d", solicit);
    set_knob(h->s, "net.ipv4.neigh.default.mcast_solicit", v);
    snprintf(v, sizeof(v), "%d", retrans_ms);
    set_knob(h->s, "net.ipv4.neigh.default.retrans_time_ms", v);
    rh_net_run(h, MS);
    rh_clear(&h->rh);
    us_time_ns t0 = h->now;
    us_time_ns retrans = (us_time_ns)retrans_ms * MS;
    uint8_t data[16] = {0};
    assert_int_equal(us_icmp_echo_send(h->s, ghost, 7, 1, data, sizeof(data), NULL, h->now), 0);
    /* Not given up 1 ms before the last request's retrans_time runs out. */
    rh_net_run(h, t0 + (us_time_ns)solicit * retrans - MS - h->now);
    assert_int_equal(ctr(h->s, "ArpResolveFailures"), 0);
    rh_net_run(h, 2 * MS);
    assert_int_equal(ctr(h->s, "ArpResolveFailures"), 1);
    assert_int_equal(ctr(h->s, "ArpUnresolvedDiscards"), 1);
    /* And nothing more afterwards. */
    rh_net_run(h, 10 * SEC);
    if (h->rh.narps != (unsigned)solicit)
        fail_msg("mcast_solicit %d: %u ARP requests before giving up", solicit, h->rh.narps);
    for (unsigned i = 0; i < h->rh.narps; i++) {
        const struct rh_arp *a = &h->rh.arps[i];
        assert_int_equal(a->arp.op, US_ARP_OP_REQUEST);
        assert_true(rh_mac_eq(&a->eth_dst, &bcast));
        assert_int_equal(a->arp.tpa, ghost);
        us_time_ns gap = a->at - (i ? h->rh.arps[i - 1].at : t0);
        us_time_ns want = i ? retrans : 10 * 1000; /* the first at once (10 us of wire) */
        if (gap != want)
            fail_msg("retrans_time_ms %d: request %u came %lld ns after the %s, expected %lld",
                     retrans_ms, i, (long long)gap, i ? "one before" : "ping", (long long)want);
    }
    assert_int_equal(h->rh.ndgrams, 0);
    rh_net_free(h);
}

static void test_arp_mcast_solicit_and_retrans_time(void **state)
{
    (void)state;
    solicit_run(3, 1000); /* Linux's defaults */
    solicit_run(5, 200);
    solicit_run(1, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icmp_msgs_per_sec_refill),
        cmocka_unit_test(test_icmp_msgs_burst_sets_bucket_depth),
        cmocka_unit_test(test_icmp_echo_ignore_broadcasts),
        cmocka_unit_test(test_gc_stale_time_collects_unused_entries),
        cmocka_unit_test(test_arp_mcast_solicit_and_retrans_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
