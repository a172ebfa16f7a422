/* The window a receiver advertises is its free receive space: half the
 * receive buffer (tcp_adv_win_scale = 1: the other half is for the
 * overhead of the buffers that hold the payload, as Linux's
 * tcp_win_from_space) less the bytes it holds and the application has not
 * read. Seen from a raw TCP peer that sends 1000-byte segments to a
 * ustack socket with SO_RCVBUF 10000 (so rcvbuf 20000 and 10000 bytes of
 * window, no autotuning, no window scaling): at every fill level the ACKs
 * carry exactly 10000 − held, as the buffer fills to a zero window and as
 * the reader drains it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"
#include "sim/tcp_util.h"

#define SPACE 10000u

struct rx {
    struct rtcp *t;
    uint32_t held; /* bytes the stack received and the application did not read */
};

/* Takes every segment the stack sent within 50 ms: how many, the last. */
static unsigned answers(struct rx *x, struct us_tcp_view *last)
{
    struct us_tcp_view v;
    unsigned n = 0;
    rt_run(x->t, 50 * MS);
    while (rt_next(x->t, &v, NULL)) {
        assert_int_equal(v.payload_len, 0);
        *last = v;
        n++;
    }
    return n;
}

/* The raw peer sends len bytes; the stack's last ACK must cover them and
 * advertise the free space. */
static void send_check(struct rx *x, uint32_t len)
{
    static const uint8_t data[1000];
    for (uint32_t off = 0; off < len; off += 1000)
        rt_send_data(x->t, data, len - off < 1000 ? len - off : 1000, 65535);
    x->held += len;
    struct us_tcp_view v;
    if (!answers(x, &v))
        fail_msg("no ACK for %u bytes", len);
    assert_int_equal(v.ack, x->t->snd_nxt);
    if (v.window != SPACE - x->held)
        fail_msg("holding %u bytes the window is %u, not %u", x->held, v.window, SPACE - x->held);
    assert_int_equal(rt_info(x->t).rcv_wnd, SPACE - x->held);
}

/* The application reads len bytes; if want_update, the stack tells the
 * peer of the space that opened (tcp_cleanup_rbuf: the window at least
 * doubled), else it stays silent. */
static void read_check(struct rx *x, uint32_t len, bool want_update)
{
    static uint8_t buf[SPACE];
    assert_int_equal(us_recv(x->t->s, x->t->fd, buf, len, 0), (int)len);
    x->held -= len;
    struct us_tcp_view v;
    unsigned n = answers(x, &v);
    if (!want_update) {
        assert_int_equal(n, 0);
        return;
    }
    if (n != 1)
        fail_msg("reading %u bytes (%u left) gave %u window updates", len, x->held, n);
    assert_int_equal(v.ack, x->t->snd_nxt);
    if (v.window != SPACE - x->held)
        fail_msg("after a read, holding %u bytes, the window is %u, not %u", x->held, v.window,
                 SPACE - x->held);
}

static void test_window_is_the_free_space(void **state)
{
    (void)state;
    struct rx x = {.t = rt_new(0xad7)};
    struct rt_syn_opts o = {.mss = 1000, .window = 65535, .wscale = -1, .rcvbuf = (int)SPACE};
    rt_connect(x.t, &o);
    assert_int_equal(rt_info(x.t).rcvbuf, 2 * SPACE); /* SO_RCVBUF is doubled, as Linux */
    struct us_tcp_view v;
    answers(&x, &v); /* the handshake's last ACK */
    assert_int_equal(v.window, SPACE);

    /* Filling, a segment at a time, to nothing free. */
    for (int i = 0; i < 10; i++)
        send_check(&x, 1000);
    assert_int_equal(x.held, SPACE);

    /* The reader takes 3000: the window reopens to 3000 at once. */
    read_check(&x, 3000, true);
    /* 500 more is less than double what the peer knows: no update, but the
     * next ACK carries the whole free space (less what arrived). */
    read_check(&x, 500, false);
    send_check(&x, 1000);
    send_check(&x, 500);
    /* All read: the whole 10000 again. */
    read_check(&x, x.held, true);
    /* Partly full, partly read, several levels. */
    send_check(&x, 4000);
    read_check(&x, 1000, false);
    send_check(&x, 2000);
    read_check(&x, 2500, false);
    send_check(&x, 1000);
    send_check(&x, 3000);
    read_check(&x, x.held, true);
    rt_free(x.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_is_the_free_space),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
