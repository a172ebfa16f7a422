/* NewReno's loss detection without SACK, seen from a raw TCP peer that
 * negotiates no SACK and chooses every ACK it sends: early retransmit
 * (RFC 5827) resends a lost segment after the duplicate ACKs a small
 * flight can still produce (flight − 1 of them), not after the RTO; and in
 * fast recovery a partial ACK resends the next hole at once (RFC 6582
 * §3.2 step 4), so two losses in one window cost one recovery and no
 * timeout. The wire has 1 ms latency each way, the RTO is at least 200 ms. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"
#include "sim/tcp_util.h"

#define SEG 1000 /* the MSS the raw peer offers */

/* The stack connects to the raw peer: MSS 1000, no SACK, no timestamps, no
 * window scaling. */
static struct rtcp *connect_plain(void)
{
    struct rtcp *t = rt_new(0x2e70);
    struct rt_syn_opts o = {.mss = SEG, .window = 65535, .wscale = -1};
    rt_connect(t, &o);
    assert_int_equal(rt_info(t).options & US_TCPI_OPT_SACK, 0);
    return t;
}

static void app_send(struct rtcp *t, uint32_t len)
{
    static uint8_t buf[65536];
    assert_true(len <= sizeof(buf));
    memset(buf, 'n', len);
    assert_int_equal(us_send(t->s, t->fd, buf, len, 0, t->now), (int)len);
}

/* The next data segment the stack sends within limit, with its arrival
 * time; false if none comes. */
static bool next_data(struct rtcp *t, us_time_ns limit, struct us_tcp_view *v, us_time_ns *at)
{
    us_time_ns end = t->now + limit;
    for (;;) {
        while (rt_next(t, v, at))
            if (v->payload_len)
                return true;
        if (t->now >= end)
            return false;
        rt_run(t, 100 * 1000);
    }
}

/* The n data segments of a flight, in order: their sequence numbers. */
static void take_flight(struct rtcp *t, unsigned n, uint32_t *seq)
{
    struct us_tcp_view v;
    for (unsigned i = 0; i < n; i++) {
        if (!next_data(t, 10 * MS, &v, NULL))
            fail_msg("segment %u of the flight of %u never came", i + 1, n);
        assert_int_equal(v.payload_len, SEG);
        assert_int_equal(v.seq, t->rcv_nxt + i * SEG);
        seq[i] = v.seq;
    }
}

/* The raw peer ACKs up to ack (its window unchanged, so a repeat is a
 * duplicate ACK, RFC 5681 §2). */
static void ack_to(struct rtcp *t, uint32_t ack)
{
    t->rcv_nxt = ack;
    rt_ack(t, 65535);
}

/* Expects the retransmission of seq within limit of now; returns when it
 * arrived. */
static us_time_ns expect_rexmit(struct rtcp *t, uint32_t seq, us_time_ns limit, const char *what)
{
    struct us_tcp_view v;
    us_time_ns at = 0; /* set by next_data when it returns true */
    if (!next_data(t, limit, &v, &at))
        fail_msg("%s: no retransmission of %u within %.0f ms (at %.3f s)", what, seq - t->stack_isn,
                 (double)limit / 1e6, (double)t->now / 1e9);
    if (v.seq != seq)
        fail_msg("%s: sent %u, not the hole at %u", what, v.seq - t->stack_isn, seq - t->stack_isn);
    return at;
}

/* Three segments in flight, the middle one lost: after the ACK of the
 * first, two are outstanding and only one duplicate ACK (for the third)
 * can come. RFC 5827 §3.1: with nothing new to send, ER's threshold is
 * outstanding − 1 = 1, so that one duplicate ACK resends the hole, about
 * one round trip after the loss, not a 200 ms timeout later. */
static void test_early_retransmit_last_but_one_lost(void **state)
{
    (void)state;
    struct rtcp *t = connect_plain();
    app_send(t, 3 * SEG);
    uint32_t seq[3];
    take_flight(t, 3, seq);
    ack_to(t, seq[1]); /* the first arrived */
    rt_run(t, 3 * MS);
    ack_to(t, seq[1]); /* the third arrived: a duplicate ACK */
    us_time_ns dup_at = t->now;
    us_time_ns at = expect_rexmit(t, seq[1], 100 * MS, "one duplicate ACK, two outstanding");
    /* 1 ms to the stack, 1 ms back. */
    assert_true(at - dup_at <= 3 * MS);
    ack_to(t, seq[2] + SEG);
    rt_run(t, 5 * MS);
    struct us_tcp_info ti = rt_info(t);
    assert_int_equal(ti.unacked, 0);
    assert_int_equal(ti.total_retrans, 1);
    assert_int_equal(ctr(t->s, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(ctr(t->s, "TcpExtTCPRenoRecovery"), 1);
    rt_free(t);
}

/* Three in flight, the first lost: two duplicate ACKs are all the flight
 * can give, and ER's threshold is 3 − 1 = 2: the first duplicate ACK
 * resends nothing, the second resends the hole at once. */
static void test_early_retransmit_threshold_is_flight_minus_one(void **state)
{
    (void)state;
    struct rtcp *t = connect_plain();
    app_send(t, 3 * SEG);
    uint32_t seq[3];
    take_flight(t, 3, seq);
    ack_to(t, seq[0]); /* the second arrived */
    struct us_tcp_view v;
    if (next_data(t, 20 * MS, &v, NULL))
        fail_msg("one duplicate ACK with three outstanding resent %u", v.seq - t->stack_isn);
    ack_to(t, seq[0]); /* the third arrived */
    us_time_ns dup_at = t->now;
    us_time_ns at = expect_rexmit(t, seq[0], 100 * MS, "two duplicate ACKs, three outstanding");
    assert_true(at - dup_at <= 3 * MS);
    ack_to(t, seq[2] + SEG);
    rt_run(t, 5 * MS);
    assert_int_equal(rt_info(t).unacked, 0);
    assert_int_equal(rt_info(t).total_retrans, 1);
    assert_int_equal(ctr(t->s, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(ctr(t->s, "TcpExtTCPRenoRecovery"), 1);
    rt_free(t);
}

/* Ten segments in flight, the 3rd and the 7th lost. Two ACKs, then a
 * duplicate ACK for each of the six that arrived after the first hole: the
 * third resends segment 3 (fast retransmit). Its ACK covers up to the
 * second hole: a partial ACK, below the RecoveryPoint, which resends
 * segment 7 at once (RFC 6582 §3.2 step 4). Its ACK ends the recovery:
 * one recovery, two retransmissions, no timeout. */
static void test_partial_ack_resends_the_next_hole(void **state)
{
    (void)state;
    struct rtcp *t = connect_plain();
    app_send(t, 10 * SEG);
    uint32_t seq[10];
    take_flight(t, 10, seq);
    ack_to(t, seq[1]);
    ack_to(t, seq[2]);
    for (int i = 0; i < 6; i++) /* segments 4, 5, 6, 8, 9, 10 */
        ack_to(t, seq[2]);
    us_time_ns at = expect_rexmit(t, seq[2], 100 * MS, "three duplicate ACKs");
    struct us_tcp_view v;
    if (next_data(t, 5 * MS, &v, NULL))
        fail_msg("sent %u with only the first hole known", v.seq - t->stack_isn);
    /* Segment 3 arrives: the ACK moves up to the second hole. */
    ack_to(t, seq[6]);
    us_time_ns partial_at = t->now;
    at = expect_rexmit(t, seq[6], 100 * MS, "a partial ACK");
    if (at - partial_at > 3 * MS)
        fail_msg("the second hole went %.1f ms after the partial ACK",
                 (double)(at - partial_at) / 1e6);
    ack_to(t, seq[9] + SEG);
    rt_run(t, 5 * MS);
    struct us_tcp_info ti = rt_info(t);
    assert_int_equal(ti.unacked, 0);
    assert_int_equal(ti.total_retrans, 2);
    assert_int_equal(ctr(t->s, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(ctr(t->s, "TcpExtTCPRenoRecovery"), 1);
    assert_int_equal(ctr(t->s, "TcpRetransSegs"), 2);
    rt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_retransmit_last_but_one_lost),
        cmocka_unit_test(test_early_retransmit_threshold_is_flight_minus_one),
        cmocka_unit_test(test_partial_ack_resends_the_next_hole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
