/* PAWS (RFC 7323 §5, Linux's tcp_paws_discard) against a raw peer that
 * chooses its timestamps: on an established connection a segment whose
 * timestamp is older than the last one accepted is dropped, its data
 * never reaches the application, PAWSEstab counts it, and it is answered
 * with a duplicate ACK (a D-SACK for data already received, RFC 2883)
 * that still echoes the newer timestamp; the same data with a current
 * timestamp is accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"

#define MS US_NS_PER_MS

/* The segments the stack sent since the last call; the last one in *v. */
static unsigned sent_since(struct rtcp *t, struct us_tcp_view *last)
{
    unsigned n = 0;
    struct us_tcp_view v;
    while (rt_next(t, &v, NULL)) {
        n++;
        *last = v;
    }
    return n;
}

static void test_old_timestamp_is_dropped(void **state)
{
    (void)state;
    struct rtcp *t = rt_new(0xa115);
    struct rt_syn_opts o = {.mss = 1000, .window = 65535, .ts = true, .sack = true, .wscale = -1};
    rt_connect(t, &o);
    assert_true(rt_info(t).options & US_TCPI_OPT_TIMESTAMPS);
    assert_true(rt_info(t).options & US_TCPI_OPT_SACK);
    uint8_t seg1[1000], seg2[1000], got[4000];
    memset(seg1, '1', sizeof(seg1));
    memset(seg2, '2', sizeof(seg2));
    struct us_tcp_view v;

    /* Segment 1, timestamp 6000: accepted. */
    uint32_t seq1 = t->snd_nxt;
    t->tsval = 6000;
    rt_send_data(t, seg1, sizeof(seg1), 65535);
    rt_run(t, 100 * MS);
    assert_int_equal(us_recv(t->s, t->fd, got, sizeof(got), 0), 1000);
    assert_true(sent_since(t, &v) >= 1);
    assert_int_equal(v.ack, seq1 + 1000);
    assert_int_equal(v.opts.tsecr, 6000);
    assert_int_equal(ctr(t->s, "TcpExtPAWSEstab"), 0);

    /* Segment 2, new data but timestamp 5000, older: dropped unread, and
     * answered at once with an ACK that still asks for it and echoes
     * 6000. */
    t->tsval = 5000;
    us_time_ns sent_at = t->now;
    rt_send_at(t, seq1 + 1000, US_TCP_ACK | US_TCP_PSH, 65535, seg2, sizeof(seg2), NULL);
    rt_run(t, 100 * MS);
    assert_int_equal(us_recv(t->s, t->fd, got, sizeof(got), 0), -EAGAIN);
    assert_int_equal(ctr(t->s, "TcpExtPAWSEstab"), 1);
    us_time_ns at;
    unsigned n = 0;
    while (rt_next(t, &v, &at)) {
        n++;
        assert_int_equal(v.ack, seq1 + 1000);
        assert_int_equal(v.opts.tsecr, 6000);
        assert_int_equal(v.payload_len, 0);
        assert_true(at - sent_at <= 2 * MS + 200 * 1000); /* at once: 1 ms each way */
    }
    assert_int_equal(n, 1);

    /* Segment 1 again, timestamp 5500 (older than 6000): dropped, answered
     * with a D-SACK for it (past tcp_invalid_ratelimit's 500 ms). */
    rt_run(t, 600 * MS);
    t->tsval = 5500;
    rt_send_at(t, seq1, US_TCP_ACK | US_TCP_PSH, 65535, seg1, sizeof(seg1), NULL);
    rt_run(t, 100 * MS);
    assert_int_equal(ctr(t->s, "TcpExtPAWSEstab"), 2);
    assert_int_equal(sent_since(t, &v), 1);
    assert_int_equal(v.ack, seq1 + 1000);
    assert_int_equal(v.opts.tsecr, 6000);
    assert_int_equal(v.opts.sack_count, 1);
    assert_int_equal(v.opts.sack[0].left, seq1);
    assert_int_equal(v.opts.sack[0].right, seq1 + 1000);
    assert_int_equal(us_recv(t->s, t->fd, got, sizeof(got), 0), -EAGAIN);

    /* Segment 2 with a current timestamp: accepted, and its timestamp is
     * the one echoed from now on. */
    t->tsval = 6100;
    rt_send_at(t, seq1 + 1000, US_TCP_ACK | US_TCP_PSH, 65535, seg2, sizeof(seg2), NULL);
    t->snd_nxt = seq1 + 2000;
    rt_run(t, 100 * MS);
    assert_int_equal(us_recv(t->s, t->fd, got, sizeof(got), 0), 1000);
    assert_memory_equal(got, seg2, sizeof(seg2));
    assert_true(sent_since(t, &v) >= 1);
    assert_int_equal(v.ack, seq1 + 2000);
    assert_int_equal(v.opts.tsecr, 6100);
    assert_int_equal(ctr(t->s, "TcpExtPAWSEstab"), 2);
    assert_int_equal(rt_info(t).state, US_TCP_ESTABLISHED);
    rt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_timestamp_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
