/* The sender's small-segment rules on the wire:
 *  - Nagle (RFC 9293 §3.7.4, RFC 896): ten 100-byte writes 1 ms apart on a
 *    10 ms RTT path: the first goes at once, the rest are held while it is
 *    unacknowledged and leave together, in one segment, the moment its ACK
 *    arrives;
 *  - TCP_NODELAY: the same writes each leave at once, ten segments in the
 *    first round trip;
 *  - sender SWS avoidance (RFC 9293 §3.8.6.2.1, Linux's tcp_nagle_check /
 *    tcp_snd_wnd_test): against a raw peer that chooses its windows, a
 *    window that opens by less than a segment (and less than half the
 *    largest window offered) while data is in flight gets no small segment;
 *    full segments go as soon as they fit, and the piece that does not fit
 *    waits (no retransmission timeout or loss probe in between). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"
#include "sim/seglog.h"
#include "sim/tcp_util.h"

#define LAT (5 * MS)

struct small_writes {
    unsigned segs_first_rtt; /* data segments a sent before the first ACK came */
    uint32_t first_len;
    uint32_t next_len; /* the first data segment after that ACK */
    us_time_ns next_at, ack_at;
    unsigned total_segs;
};

static void ten_small_writes(bool nodelay, struct small_writes *w)
{
    static struct seglog log;
    memset(&log, 0, sizeof(log));
    memset(w, 0, sizeof(*w));
    struct tnet_cfg c = {.latency = LAT, .wrap_a = seglog_wrap, .wrap_ctx = &log};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    if (nodelay)
        set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_NODELAY, 1);
    run(n, 100 * MS);
    size_t from = log.n;
    uint8_t buf[100];
    memset(buf, 'x', sizeof(buf));
    run(n, 0);
    us_time_ns t0 = n->now;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(us_send(n->a, cfd, buf, sizeof(buf), 0, n->now), (int)sizeof(buf));
        run(n, 1 * MS);
    }
    run(n, 200 * MS);
    /* Every byte arrived, in order. */
    uint8_t got[2000];
    assert_int_equal(us_recv(n->b, sfd, got, sizeof(got), 0), 1000);
    bool acked = false;
    for (size_t i = from; i < log.n; i++) {
        const struct sl_seg *g = &log.segs[i];
        if (!g->tx && (g->flags & US_TCP_ACK) && !acked && g->at > t0) {
            acked = true;
            w->ack_at = g->at;
            continue;
        }
        if (!g->tx || !g->len)
            continue;
        w->total_segs++;
        if (!acked) {
            if (!w->segs_first_rtt)
                w->first_len = g->len;
            w->segs_first_rtt++;
        } else if (!w->next_len) {
            w->next_len = g->len;
            w->next_at = g->at;
        }
    }
    assert_true(acked);
    assert_true(w->ack_at >= t0 + 2 * LAT);
    tnet_free(n);
    seglog_free(&log);
}

static void test_nagle_holds_small_writes_while_data_is_unacked(void **state)
{
    (void)state;
    struct small_writes w;
    ten_small_writes(false, &w);
    assert_int_equal(w.segs_first_rtt, 1);
    assert_int_equal(w.first_len, 100);
    /* The other nine writes, together, the moment the ACK arrived. */
    assert_int_equal(w.next_len, 900);
    assert_int_equal(w.next_at, w.ack_at);
    assert_int_equal(w.total_segs, 2);
}

static void test_nodelay_sends_each_write_at_once(void **state)
{
    (void)state;
    struct small_writes w;
    ten_small_writes(true, &w);
    assert_int_equal(w.segs_first_rtt, 10);
    assert_int_equal(w.first_len, 100);
    assert_int_equal(w.total_segs, 10);
}

/* The data segments the stack sent since the last call: their count, the
 * highest end, and the smallest new (not retransmitted) one. */
struct sent_since {
    unsigned segs, new_segs;
    uint32_t high; /* stream offset past the highest byte sent */
    uint32_t min_new_len;
};

static void scan_sent(struct rtcp *t, uint32_t *high, struct sent_since *s)
{
    memset(s, 0, sizeof(*s));
    s->min_new_len = UINT32_MAX;
    struct us_tcp_view v;
    while (rt_next(t, &v, NULL)) {
        if (!v.payload_len)
            continue;
        s->segs++;
        uint32_t off = v.seq - t->stack_isn - 1, end = off + (uint32_t)v.payload_len;
        if ((int32_t)(end - *high) > 0) {
            s->new_segs++;
            if (v.payload_len < s->min_new_len)
                s->min_new_len = (uint32_t)v.payload_len;
            *high = end;
        }
    }
    s->high = *high;
}

/* The raw host acknowledges stream offset `acked` with this window. */
static void ack_with(struct rtcp *t, uint32_t acked, uint16_t window)
{
    t->rcv_nxt = t->stack_isn + 1 + acked;
    rt_ack(t, window);
}

static void test_sender_sws_avoidance(void **state)
{
    (void)state;
    struct rtcp *t = rt_new(0x5175);
    /* No loss probes: the raw host answers none, and a probe's retransmission
     * would cut cwnd and mix cwnd into what the window alone decides. */
    set_knob(t->s, "net.ipv4.tcp_early_retrans", "0");
    struct rt_syn_opts o = {.mss = 1000, .window = 10000, .sack = true, .wscale = -1};
    rt_connect(t, &o);
    static uint8_t data[20000];
    assert_int_equal(us_send(t->s, t->fd, data, sizeof(data), 0, t->now), (int)sizeof(data));
    rt_run(t, 5 * MS);
    uint32_t high = 0;
    struct sent_since s;
    scan_sent(t, &high, &s);
    /* The window's worth, in full segments. */
    assert_int_equal(s.high, 10000);
    assert_int_equal(s.min_new_len, 1000);

    /* Half acknowledged, the right edge moved by 300 bytes: a 300-byte
     * segment would fit, and must not go while 5,000 bytes are in flight
     * (300 < one segment and < half the largest window, 10,000). */
    ack_with(t, 5000, 5300);
    rt_run(t, 50 * MS);
    scan_sent(t, &high, &s);
    if (s.new_segs)
        fail_msg("%u new segment(s) into a 300-byte opening, the smallest %u bytes", s.new_segs,
                 s.min_new_len);
    assert_int_equal(s.segs, 0); /* nor anything else */
    assert_int_equal(s.high, 10000);

    /* The edge moves by 2,600: two full segments go, the 600 left over
     * waits. */
    ack_with(t, 5000, 7600);
    rt_run(t, 50 * MS);
    scan_sent(t, &high, &s);
    assert_int_equal(s.new_segs, 2);
    assert_int_equal(s.min_new_len, 1000);
    assert_int_equal(s.high, 12000);

    /* All acknowledged and 5,000 offered: five full segments at once. */
    ack_with(t, 12000, 5000);
    rt_run(t, 50 * MS);
    scan_sent(t, &high, &s);
    assert_int_equal(s.high, 17000);
    assert_int_equal(us_sock_poll_events(t->s, t->fd) & US_POLLERR, 0);
    rt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nagle_holds_small_writes_while_data_is_unacked),
        cmocka_unit_test(test_nodelay_sends_each_write_at_once),
        cmocka_unit_test(test_sender_sws_avoidance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
