/* A neighbour whose cached hardware address is wrong (it moved to another
 * NIC without announcing it, or a corrupted ARP reply was learned: ARP has
 * no checksum) is found out and resolved again: once the entry is stale, its
 * next use sends three unicast requests to the cached address, retrans_time
 * apart; unanswered, the entry fails (ArpResolveFailures) and the next
 * packet asks by broadcast (Linux's NUD PROBE to FAILED, RFC 1122 §2.3.2.1's
 * unicast poll). Two raw ports on one wire play the neighbour's old NIC
 * (silent) and its new one (answers ARP for the address). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <stdlib.h>

#include "sim/rawhost.h"

#define STACK_IP US_IP4(192, 0, 2, 2)
#define PEER_IP  US_IP4(192, 0, 2, 9)
#define MS       US_NS_PER_MS
#define SEC      US_NS_PER_SEC

static const struct us_mac mac_bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

struct net {
    struct us_wire *wire;
    struct rawhost old_nic, new_nic;
    struct us_stack *s;
    us_time_ns now;
};

/* Runs the stack in 10 ms steps, draining both raw ports after each. */
static void run_until(struct net *n, us_time_ns until)
{
    while (n->now < until) {
        us_time_ns t = n->now + 10 * MS < until ? n->now + 10 * MS : until;
        us_sim_run(&n->s, 1, &n->now, t);
        rh_drain(&n->old_nic, n->now);
        rh_drain(&n->new_nic, n->now);
    }
}

/* An echo request from the peer's address, sent from its new NIC. */
static void ping_from_new_nic(struct net *n, uint16_t seq)
{
    uint8_t msg[64];
    size_t len = rh_build_echo(msg, US_ICMP_ECHO, 7, seq, "where?", 6);
    rh_send_ip(&n->new_nic, STACK_IP, US_IPPROTO_ICMP, msg, len, NULL, n->now);
}

static unsigned unicast_requests_at(const struct rawhost *rh)
{
    unsigned k = 0;
    for (unsigned i = 0; i < rh->narps; i++)
        k += rh->arps[i].arp.op == US_ARP_OP_REQUEST && rh_mac_eq(&rh->arps[i].eth_dst, &rh->mac);
    return k;
}

static void test_wrong_cached_address_fails_and_is_resolved_again(void **state)
{
    (void)state;
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    struct us_wire_config wc = {.latency = 10 * 1000};
    n->wire = us_wire_new(&wc);
    assert_non_null(n->wire);
    rh_init(&n->old_nic, n->wire, PEER_IP);
    rh_init(&n->new_nic, n->wire, PEER_IP);
    n->old_nic.answer_arp = false; /* gone: it answers nothing */
    n->s = sim_stack_new("host", 0x5eed2);
    assert_int_equal(us_iface_add(n->s, us_wire_port_new(n->wire, "host0"), STACK_IP, 24, 0), 0);
    struct us_mac smac = us_iface_dev(n->s, 0)->mac;
    n->old_nic.peer_mac = n->new_nic.peer_mac = smac;
    /* Reachable for a random time in [5 s, 15 s). */
    set_knob(n->s, "net.ipv4.neigh.default.base_reachable_time_ms", "10000");
    run_until(n, MS);

    /* The stack learns PEER_IP at the old NIC (from its request). */
    rh_arp_request(&n->old_nic, STACK_IP, n->now);
    run_until(n, n->now + 10 * MS);
    rh_clear(&n->old_nic);
    rh_clear(&n->new_nic);
    uint64_t failures = ctr(n->s, "ArpResolveFailures");

    /* While the entry is reachable the replies go to the old NIC, unasked. */
    ping_from_new_nic(n, 1);
    run_until(n, n->now + 10 * MS);
    assert_int_equal(rh_count_icmp(&n->old_nic, US_ICMP_ECHOREPLY, 0), 1);
    assert_int_equal(n->new_nic.ndgrams, 0);
    assert_int_equal(n->old_nic.narps + n->new_nic.narps, 0);

    /* Stale past 15 s: the peer pings every 100 ms until a reply reaches
     * its new NIC. */
    run_until(n, n->now + 16 * SEC);
    rh_clear(&n->old_nic);
    rh_clear(&n->new_nic);
    us_time_ns t0 = n->now;
    uint16_t seq = 2;
    while (rh_count_icmp(&n->new_nic, US_ICMP_ECHOREPLY, 0) == 0) {
        if (n->now - t0 > 10 * SEC)
            fail_msg("no reply reached the new NIC in 10 s; %u unicast requests to the old one",
                     unicast_requests_at(&n->old_nic));
        ping_from_new_nic(n, seq++);
        run_until(n, n->now + 100 * MS);
    }
    /* Three unicast requests for PEER_IP went to the old address, one
     * retrans_time (1 s) apart, the first with the first reply. */
    assert_int_equal(unicast_requests_at(&n->old_nic), 3);
    for (unsigned i = 0; i < 3; i++) {
        const struct rh_arp *a = &n->old_nic.arps[i];
        assert_int_equal(a->arp.spa, STACK_IP);
        assert_int_equal(a->arp.tpa, PEER_IP);
        assert_true(rh_mac_eq(&a->arp.sha, &smac));
        if (i > 0)
            assert_int_equal(a->at - n->old_nic.arps[i - 1].at, 1 * SEC);
    }
    assert_int_equal(ctr(n->s, "ArpResolveFailures"), failures + 1);
    /* Then one broadcast request, answered by the new NIC, and the reply
     * to the ping that asked came to it: after the 3 s of probing. */
    assert_int_equal(n->new_nic.arp_answered, 1);
    unsigned bcast = 0;
    for (unsigned i = 0; i < n->new_nic.narps; i++)
        bcast += n->new_nic.arps[i].arp.op == US_ARP_OP_REQUEST &&
                 rh_mac_eq(&n->new_nic.arps[i].eth_dst, &mac_bcast);
    assert_int_equal(bcast, 1);
    us_time_ns took = n->now - t0;
    assert_true(took >= 3 * SEC && took <= 3 * SEC + 200 * MS);
    /* Every reply before that went to the old NIC. */
    assert_int_equal(rh_count_icmp(&n->old_nic, US_ICMP_ECHOREPLY, 0) + 1, (unsigned)(seq - 2));
    assert_int_equal(rh_count_icmp(&n->new_nic, US_ICMP_ECHOREPLY, 0), 1);

    us_stack_free(n->s);
    rh_fini(&n->old_nic);
    rh_fini(&n->new_nic);
    us_wire_free(n->wire);
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_cached_address_fails_and_is_resolved_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
