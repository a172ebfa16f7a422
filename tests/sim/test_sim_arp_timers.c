/* ARP's timers when the neighbour table changes while they run: a router
 * (192.0.2.2, ip_forward=1) that gives up resolving a next hop owes the
 * sender a host unreachable (RFC 1812 §5.2.7.1), and sending it may need a
 * new ARP entry for the sender, made in the middle of the timer walk. That
 * entry's retries must run like any other's. Found by fuzz_stack_rx: the
 * walk overwrote the table's next deadline when it finished, so an entry
 * made in a slot it had already passed never timed out, and the error it
 * held was never sent nor freed. */
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
#define RAW_IP   US_IP4(192, 0, 2, 9)
#define GHOST_IP US_IP4(192, 0, 2, 77) /* on-link, but nobody has it */
#define MS       US_NS_PER_MS
#define SEC      US_NS_PER_SEC

static int setup(void **state)
{
    struct us_wire_config wc = {.latency = 10 * 1000};
    struct rh_net *n = rh_net_new(&wc, RAW_IP);
    n->s = sim_stack_new("router", 0xa12);
    rh_net_iface(n, us_wire_port_new(n->wire, "r0"), STACK_IP);
    set_knob(n->s, "net.ipv4.ip_forward", "1");
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    rh_net_free(*state);
    return 0;
}

/* ARP requests the stack sent for tpa. */
static unsigned requests_for(const struct rh_net *n, us_ip4 tpa)
{
    unsigned c = 0;
    for (unsigned i = 0; i < n->rh.narps; i++)
        c += n->rh.arps[i].arp.op == US_ARP_OP_REQUEST && n->rh.arps[i].arp.tpa == tpa;
    return c;
}

static void test_error_to_a_sender_whose_entry_was_collected(void **state)
{
    struct rh_net *n = *state;
    /* Entries go stale within 1.5 s and are collected 1 s after last use. */
    set_knob(n->s, "net.ipv4.neigh.default.base_reachable_time_ms", "1000");
    set_knob(n->s, "net.ipv4.neigh.default.gc_stale_time", "1");
    n->rh.answer_arp = false;
    rh_net_run(n, MS);

    /* The router learns the raw host (its first entry) from its request... */
    rh_arp_request(&n->rh, STACK_IP, n->now);
    rh_net_run(n, 10 * MS);
    /* ...and makes the next entry for the ghost, which never answers. */
    uint8_t udp[64];
    size_t len = rh_build_udp(udp, 4000, 9, RAW_IP, GHOST_IP, "to nobody", 9);
    rh_send_ip(&n->rh, GHOST_IP, US_IPPROTO_UDP, udp, len, NULL, n->now);
    rh_net_run(n, 10 * MS);
    assert_int_equal(ctr(n->s, "IpForwDatagrams"), 1);
    assert_int_equal(requests_for(n, GHOST_IP), 1);

    /* The raw host's entry is collected long before the router gives up on
     * the ghost (3 requests, 1 s apart); the error then needs a new entry
     * for the raw host, in the slot the walk has passed. The raw host
     * misses the first request for it and answers the next. */
    for (us_time_ns waited = 0; requests_for(n, RAW_IP) == 0; waited += 10 * MS) {
        if (waited > 10 * SEC)
            fail_msg("no ARP request for the raw host in 10 s (ghost requests: %u, "
                     "ArpResolveFailures %llu)",
                     requests_for(n, GHOST_IP),
                     (unsigned long long)ctr(n->s, "ArpResolveFailures"));
        rh_net_run(n, 10 * MS);
    }
    assert_int_equal(requests_for(n, GHOST_IP), 3);
    assert_int_equal(ctr(n->s, "ArpResolveFailures"), 1);
    assert_int_equal(rh_count_icmp(&n->rh, US_ICMP_DEST_UNREACH, -1), 0);
    n->rh.answer_arp = true;
    rh_net_run(n, 5 * SEC);

    if (requests_for(n, RAW_IP) < 2)
        fail_msg("the router asked for the raw host once and never again");
    assert_int_equal(rh_count_icmp(&n->rh, US_ICMP_DEST_UNREACH, US_ICMP_HOST_UNREACH), 1);
    assert_int_equal(ctr(n->s, "ArpResolveFailures"), 1);
    assert_int_equal(us_stack_pkts_in_use(n->s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_error_to_a_sender_whose_entry_was_collected, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
