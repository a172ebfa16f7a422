/* The advertised window, on the wire:
 *  - receiver SWS avoidance (RFC 9293 §3.8.6.2.2, Linux's
 *    __tcp_select_window): a raw peer fills the stack's 8 KB window; as the
 *    application reads 100 bytes at a time, the answers to the peer's
 *    zero-window probes keep offering nothing until a whole segment (here
 *    1,000 bytes) is free, and then the stack says so by itself; no
 *    segment ever moves the right edge to offer less than a segment;
 *  - the advertised window never shrinks (RFC 9293 §3.8.6.2.2, RFC 7323
 *    §2.4): over whole transfers to a slow reader (a fixed SO_RCVBUF, and
 *    autotuning), every right edge ack + (window << scale) the receiver
 *    sends is at or beyond the last one;
 *  - the sender stays within both windows: on every segment it sends, its
 *    highest sequence number is within the right edge the peer last
 *    advertised to it, and what is in flight is within its cwnd (read
 *    from tcp_info at that moment); each window was the limit at times. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"
#include "sim/seglog.h"
#include "sim/tcp_util.h"

/* The windows in the segments the stack sent since the last call. */
struct windows {
    unsigned n;
    uint16_t last;
    uint32_t last_right; /* ack + window of the last one */
};

static void read_windows(struct rtcp *t, struct windows *w, uint32_t *right, uint32_t mss)
{
    memset(w, 0, sizeof(*w));
    struct us_tcp_view v;
    while (rt_next(t, &v, NULL)) {
        if (!(v.flags & US_TCP_ACK))
            continue;
        uint32_t r = v.ack + v.window;
        if ((int32_t)(r - *right) > 0 && v.window < mss)
            fail_msg("the right edge moved by %u to offer a %u-byte window (< one segment)",
                     r - *right, v.window);
        if ((int32_t)(r - *right) < 0)
            fail_msg("the right edge moved back by %u", *right - r);
        *right = r;
        w->n++;
        w->last = v.window;
        w->last_right = r;
    }
}

static void test_receiver_sws_avoidance(void **state)
{
    (void)state;
    struct rtcp *t = rt_new(0x5e5);
    /* 8 KB asked, 16 KB given (doubled as Linux): an 8 KB window. */
    struct rt_syn_opts o = {.mss = 1000, .window = 65535, .wscale = -1, .rcvbuf = 8192};
    rt_connect(t, &o);
    const uint32_t mss = 1000, space = 8192;
    assert_int_equal(rt_info(t).rcv_wnd, space);
    uint32_t right = t->snd_nxt + space; /* the edge the handshake offered */
    struct windows w;

    /* The peer fills the window: 8 segments of 1,000 and one of 192. */
    static uint8_t data[1000];
    memset(data, 'd', sizeof(data));
    for (int i = 0; i < 8; i++)
        rt_send_data(t, data, 1000, 65535);
    rt_run(t, 5 * MS);
    rt_send_data(t, data, 192, 65535);
    rt_run(t, 50 * MS);
    read_windows(t, &w, &right, mss);
    assert_true(w.n >= 1);
    assert_int_equal(w.last, 0);
    assert_int_equal(rt_info(t).rcv_wnd, 0);

    /* The application reads 100 bytes at a time. A zero-window probe (one
     * byte at the edge) after each read is answered with no window while
     * less than a segment is free, and nothing else is sent. */
    uint8_t buf[100];
    uint32_t done = 0;
    while (done + 100 < mss) {
        assert_int_equal(us_recv(t->s, t->fd, buf, sizeof(buf), 0), 100);
        done += 100;
        rt_run(t, 3 * MS); /* 1 ms each way */
        read_windows(t, &w, &right, mss);
        assert_int_equal(w.n, 0); /* no window update for 100 bytes */
        rt_send_at(t, t->snd_nxt, US_TCP_ACK, 65535, data, 1, NULL);
        rt_run(t, 3 * MS);
        read_windows(t, &w, &right, mss);
        assert_int_equal(w.n, 1);
        assert_int_equal(w.last, 0);
    }
    /* The read that frees a whole segment: the stack offers it by itself
     * (a window update), a full segment or more. */
    assert_int_equal(us_recv(t->s, t->fd, buf, sizeof(buf), 0), 100);
    done += 100;
    assert_int_equal(done, mss);
    rt_run(t, 3 * MS);
    read_windows(t, &w, &right, mss);
    assert_int_equal(w.n, 1);
    assert_true(w.last >= mss);
    assert_int_equal(w.last_right, t->snd_nxt + w.last);
    rt_free(t);
}

/* The checks on every segment a (the sender) sends, in the order a's
 * device saw everything: its sequence numbers within the right edge it
 * was last told, in flight within cwnd. */
struct sender_check {
    struct us_stack *a;
    int fd;
    bool have_edge;
    uint8_t wscale; /* b's, from its SYN-ACK */
    uint32_t right; /* the right edge b last advertised */
    uint32_t una;   /* the highest ACK a received */
    uint32_t high;  /* the highest sequence number a sent + 1 */
    bool have_high;
    unsigned segs, window_limited, cwnd_limited;
    /* The receiver's side: right edges b sent never move back. */
    unsigned edges, small_windows; /* windows below 1,500 bytes b offered */
    uint32_t worst_flight_over_cwnd;
};

static bool check_sender(struct seglog *l, const struct sl_seg *g, void *ctx)
{
    (void)l;
    struct sender_check *c = ctx;
    if (!g->tx) {
        if (g->flags & US_TCP_SYN) {
            c->wscale = g->has_wscale ? g->wscale : 0;
            c->una = g->ack;
            return false;
        }
        if (!(g->flags & US_TCP_ACK))
            return false;
        uint32_t r = g->ack + ((uint32_t)g->window << c->wscale);
        if (c->have_edge && (int32_t)(r - c->right) < 0)
            fail_msg("b's right edge moved back by %u bytes (ack %u window %u)", c->right - r,
                     g->ack, g->window);
        c->right = r;
        c->have_edge = true;
        c->edges++;
        c->small_windows += ((uint32_t)g->window << c->wscale) < 1500;
        if ((int32_t)(g->ack - c->una) > 0)
            c->una = g->ack;
        return false;
    }
    if ((g->flags & US_TCP_SYN) || (!g->len && !(g->flags & US_TCP_FIN)))
        return false;
    uint32_t end = g->seq + g->len;
    if (!c->have_high || (int32_t)(end - c->high) > 0)
        c->high = end;
    c->have_high = true;
    c->segs++;
    if (c->have_edge && (int32_t)(end - c->right) > 0)
        fail_msg("a sent up to %u bytes past b's right edge", end - c->right);
    if (c->have_edge && c->right - end < 1500)
        c->window_limited++;
    /* In flight: the highest sent less the highest ACKed (no loss here,
     * so the pipe). tcp_info is read now, after the round that sent it. */
    struct us_tcp_info ti;
    size_t len = sizeof(ti);
    if (us_getsockopt(c->a, c->fd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &len) == 0) {
        uint32_t flight = c->high - c->una;
        if (flight > ti.snd_cwnd)
            fail_msg("%u bytes in flight with a cwnd of %u", flight, ti.snd_cwnd);
        if (ti.snd_cwnd - flight < 1500)
            c->cwnd_limited++;
    }
    return false;
}

/* a sends total bytes to b, whose application reads `chunk` bytes every
 * `every`; rcvbuf 0 leaves autotuning on. */
static void slow_reader_run(int rcvbuf, uint32_t chunk, us_time_ns every, uint64_t total,
                            struct sender_check *c)
{
    static struct seglog log;
    memset(&log, 0, sizeof(log));
    memset(c, 0, sizeof(*c));
    log.drop = check_sender;
    log.drop_ctx = c;
    struct tnet_cfg tc = {.latency = 5 * MS, .wrap_a = seglog_wrap, .wrap_ctx = &log};
    struct tnet *n = tnet_new(&tc);
    int lfd = tcp_listen_on(n->b, 80, 4);
    if (rcvbuf)
        set_sock_int(n->b, lfd, US_SOL_SOCKET, US_SO_RCVBUF, rcvbuf);
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    c->a = n->a;
    c->fd = cfd;
    run(n, 20 * MS);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    static uint8_t out[65536], in[65536];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)i;
    uint64_t sent = 0, got = 0;
    us_time_ns end = n->now + 600 * SEC, next_read = n->now;
    while (got < total) {
        if (n->now >= end)
            fail_msg("stuck at %llu of %llu bytes", (unsigned long long)got,
                     (unsigned long long)total);
        if (sent < total) {
            size_t want = total - sent < sizeof(out) ? (size_t)(total - sent) : sizeof(out);
            int r = us_send(n->a, cfd, out, want, 0, n->now);
            if (r > 0)
                sent += (uint64_t)r;
        }
        if (n->now >= next_read) {
            int r = us_recv(n->b, sfd, in, chunk, 0);
            if (r > 0)
                got += (uint64_t)r;
            next_read = n->now + every;
        }
        run(n, 1 * MS);
    }
    tnet_free(n);
    seglog_free(&log);
}

static void test_window_never_shrinks_fixed_rcvbuf(void **state)
{
    (void)state;
    struct sender_check c;
    /* A 32 KB window, read 20,000 bytes every 100 ms: the window fills
     * (to a piece smaller than a segment, which must stay offered) and
     * reopens in steps that are not segment-sized. */
    slow_reader_run(32768, 20000, 100 * MS, 2u << 20, &c);
    assert_true(c.edges > 200);
    assert_true(c.small_windows > 50);
    assert_true(c.window_limited > 100);
    assert_true(c.cwnd_limited > 0);
}

static void test_window_never_shrinks_autotuned(void **state)
{
    (void)state;
    struct sender_check c;
    /* Autotuning on; the reader takes 50,000 bytes every 50 ms. */
    slow_reader_run(0, 50000, 50 * MS, 4u << 20, &c);
    assert_true(c.edges > 100); /* segments arriving together get one ACK */
    assert_true(c.small_windows > 10);
    assert_true(c.window_limited > 50);
    assert_true(c.cwnd_limited > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receiver_sws_avoidance),
        cmocka_unit_test(test_window_never_shrinks_fixed_rcvbuf),
        cmocka_unit_test(test_window_never_shrinks_autotuned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
