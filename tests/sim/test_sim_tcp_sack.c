/* The receiver's answer to out-of-order data, seen from a raw TCP peer
 * that negotiated SACK: an immediate duplicate ACK (RFC 5681 §4.2), not
 * one held for the 40 ms delayed-ACK timer, whose SACK block covers
 * exactly the segment that arrived (RFC 2018 §3); with a second block
 * held, both are reported, the most recently received first (RFC 2018
 * §4). The wire has 1 ms latency each way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"
#include "sim/tcp_util.h"

/* The next segment from the stack within limit, with its arrival time. */
static bool next_seg(struct rtcp *t, us_time_ns limit, struct us_tcp_view *v, us_time_ns *at)
{
    us_time_ns end = t->now + limit;
    for (;;) {
        if (rt_next(t, v, at))
            return true;
        if (t->now >= end)
            return false;
        rt_run(t, 100 * 1000);
    }
}

/* The raw peer sends len bytes at seq (rcv_nxt of the raw peer's ACK
 * field unchanged); returns the stack's answer and how long it took to
 * come back (one round trip is 2 ms). */
static us_time_ns send_and_answer(struct rtcp *t, uint32_t seq, uint32_t len, struct us_tcp_view *v,
                                  const char *what)
{
    static const uint8_t data[1000];
    rt_send_at(t, seq, US_TCP_ACK, 65535, data, len, NULL);
    us_time_ns sent = t->now, at = 0;
    if (!next_seg(t, 200 * MS, v, &at))
        fail_msg("%s: no ACK within 200 ms", what);
    return at - sent;
}

static void test_out_of_order_data_is_sacked_at_once(void **state)
{
    (void)state;
    struct rtcp *t = rt_new(0x5ac);
    struct rt_syn_opts o = {.mss = 1000, .window = 65535, .wscale = -1, .sack = true};
    rt_connect(t, &o);
    assert_true(rt_info(t).options & US_TCPI_OPT_SACK);
    struct us_tcp_view v;
    rt_run(t, 5 * MS); /* the handshake's last ACK */
    while (rt_next(t, &v, NULL))
        ;

    /* In-order data until the stack has left its quick-ACK start and a
     * lone small segment waits for the delayed-ACK timer: what follows is
     * immediate because it is out of order, not because every ACK is. */
    bool delayed = false;
    for (int i = 0; i < 40 && !delayed; i++) {
        us_time_ns took = send_and_answer(t, t->snd_nxt, 100, &v, "in-order data");
        t->snd_nxt += 100;
        assert_int_equal(v.ack, t->snd_nxt);
        assert_int_equal(v.opts.sack_count, 0);
        delayed = took >= 40 * MS;
        rt_run(t, 10 * MS);
    }
    if (!delayed)
        fail_msg("no in-order segment's ACK waited for the delayed-ACK timer");

    /* A hole of 1000 bytes, then 1000 bytes after it. */
    uint32_t hole = t->snd_nxt;
    uint32_t a_left = hole + 1000, a_right = a_left + 1000;
    us_time_ns took = send_and_answer(t, a_left, 1000, &v, "the first out-of-order segment");
    if (took > 3 * MS)
        fail_msg("the duplicate ACK took %.1f ms", (double)took / 1e6);
    assert_int_equal(v.payload_len, 0);
    assert_int_equal(v.ack, hole);
    assert_int_equal(v.opts.sack_count, 1);
    assert_int_equal(v.opts.sack[0].left, a_left);
    assert_int_equal(v.opts.sack[0].right, a_right);
    assert_false(rt_next(t, &v, NULL)); /* one ACK for one segment */

    /* A second block, 2000 bytes further on: two blocks, the newest first. */
    uint32_t b_left = a_right + 2000, b_right = b_left + 500;
    took = send_and_answer(t, b_left, 500, &v, "the second out-of-order segment");
    if (took > 3 * MS)
        fail_msg("the second duplicate ACK took %.1f ms", (double)took / 1e6);
    assert_int_equal(v.ack, hole);
    assert_int_equal(v.opts.sack_count, 2);
    assert_int_equal(v.opts.sack[0].left, b_left);
    assert_int_equal(v.opts.sack[0].right, b_right);
    assert_int_equal(v.opts.sack[1].left, a_left);
    assert_int_equal(v.opts.sack[1].right, a_right);

    /* More of the first block: it becomes the most recent again. */
    took = send_and_answer(t, a_right, 1000, &v, "data extending the first block");
    assert_true(took <= 3 * MS);
    assert_int_equal(v.opts.sack_count, 2);
    assert_int_equal(v.opts.sack[0].left, a_left);
    assert_int_equal(v.opts.sack[0].right, a_right + 1000);
    assert_int_equal(v.opts.sack[1].left, b_left);
    assert_int_equal(v.opts.sack[1].right, b_right);

    /* The hole filled: the ACK jumps over the first block, and the
     * second remains SACKed. */
    took = send_and_answer(t, hole, 1000, &v, "the hole");
    assert_true(took <= 3 * MS);
    assert_int_equal(v.ack, a_right + 1000);
    assert_int_equal(v.opts.sack_count, 1);
    assert_int_equal(v.opts.sack[0].left, b_left);
    assert_int_equal(v.opts.sack[0].right, b_right);
    rt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order_data_is_sacked_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
