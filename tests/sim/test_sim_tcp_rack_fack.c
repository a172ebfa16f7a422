/* RACK decides that a path reorders only when it does: on the simulated
 * wire (first in, first out) no connection counts TcpExtTCPSACKReorder,
 * whatever half of the sequence space its ISN lies in, with or without
 * losses. A connection that wrongly thinks its path reorders waits a
 * quarter of the minimum RTT before deeming a segment lost, for the rest
 * of its life (RFC 8985 §6.2 step 4): with RACK.fack starting at 0 instead
 * of the ISN, half of all connections did, at their first cumulative ACK,
 * and in bench_flows they took twice the others' share of a bottleneck. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

static uint32_t fixed_isn(void *ctx, us_ip4 laddr, uint16_t lport, us_ip4 faddr, uint16_t fport)
{
    (void)laddr;
    (void)lport;
    (void)faddr;
    (void)fport;
    return *(const uint32_t *)ctx;
}

/* 2 MiB from a to b through 10 Mbit/s with 5 ms each way, a's ISN (and
 * b's) fixed at isn; loss: the probability a frame a sends is dropped. */
static void bulk_with_isn(uint32_t isn, double loss)
{
    struct us_fault_config fc = {.loss = loss, .seed = 7, .tx = true};
    struct tnet_cfg cfg = {
        .latency = 5 * MS, .bandwidth_bps = 10000000ull, .fault_a = loss > 0 ? &fc : NULL};
    struct tnet *n = tnet_new(&cfg);
    us_tcp_set_isn_hook(n->a, fixed_isn, &isn);
    us_tcp_set_isn_hook(n->b, fixed_isn, &isn);
    int lfd = tcp_listen_on(n->b, 5001, 4);
    int cfd = tcp_connect_to(n->a, B_IP, 5001);
    run(n, 100 * MS); /* the handshake takes 10 ms */
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    transfer(n, cfd, sfd, 2u << 20, 0, 1 * MS, 120 * SEC);
    if (loss > 0)
        assert_true(tcp_info_of(n->a, cfd).total_retrans > 0);
    if (ctr(n->a, "TcpExtTCPSACKReorder") != 0)
        fail_msg("ISN %#x, loss %.2f: RACK took the FIFO path for one that reorders", isn, loss);
    tnet_free(n);
}

static void test_isn_low_half(void **state)
{
    (void)state;
    bulk_with_isn(0x10000000u, 0);
    bulk_with_isn(0x10000000u, 0.02);
}

static void test_isn_high_half(void **state)
{
    (void)state;
    bulk_with_isn(0x90000000u, 0);
    bulk_with_isn(0x90000000u, 0.02);
}

/* The sequence space wraps during the transfer. */
static void test_isn_wraps(void **state)
{
    (void)state;
    bulk_with_isn(0xffff0000u, 0);
    bulk_with_isn(0xffff0000u, 0.02);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isn_low_half),
        cmocka_unit_test(test_isn_high_half),
        cmocka_unit_test(test_isn_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
