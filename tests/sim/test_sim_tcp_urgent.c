/* TCP urgent data between two stacks, as Linux does it (SO_OOBINLINE off):
 * the byte the urgent pointer marks leaves the stream (a read stops at the
 * mark, the next one skips the byte) and us_recv(US_MSG_OOB) returns it
 * once; -EINVAL when there is none, after it was read or after a normal
 * read passed the mark, -EAGAIN while the pointer has arrived but the byte
 * not yet; US_POLLPRI while it waits; a newer urgent byte replaces an
 * unread one; SO_OOBINLINE (inherited from the listener) keeps the byte in
 * the stream. On the sending side a device on a's link records every
 * segment a sends: us_send(US_MSG_OOB) sets URG with a pointer to the byte
 * after the urgent one on each segment before it (retransmissions too;
 * 0xFFFF when farther than 16 bits reach) and on none after, and Nagle
 * does not hold the urgent byte back. In threaded mode a blocking
 * receive with US_MSG_OOB does not wait. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/devwrap.h"
#include "sim/tcp_util.h"

#include "ustack/thread.h"
#include "ustack/wire.h"

#include <pthread.h>
#include <time.h>

/* A segment a sent, as the device on its link saw it. */
struct sent_seg {
    uint32_t off; /* stream offset of the first payload byte */
    uint32_t len;
    uint8_t flags;
    uint16_t urg_ptr;
};

/* The device wrapped around a's port: records a's TCP segments and, while
 * `hold` is set, drops those whose payload covers stream offset hold_off. */
struct tap {
    struct devwrap w;
    bool have_isn;
    uint32_t isn;
    struct sent_seg segs[512];
    int n;
    bool hold;
    uint32_t hold_off;
    int held; /* transmissions dropped */
};

/* Records each TCP segment a sends; whether it is to be dropped. */
static enum dw_verdict tap_tx(struct devwrap *w, struct us_pkt *f, struct us_pkt *next,
                              us_time_ns now)
{
    struct tap *t = (struct tap *)w;
    struct us_tcp_view tcp;
    if (!devwrap_tcp(f, &tcp))
        return DW_PASS;
    if (tcp.flags & US_TCP_SYN) {
        t->isn = tcp.seq;
        t->have_isn = true;
    }
    if (!t->have_isn)
        return DW_PASS;
    uint32_t off = tcp.seq - t->isn - 1;
    if (t->n == (int)(sizeof(t->segs) / sizeof(t->segs[0])))
        fail_msg("more segments than the tap records");
    t->segs[t->n++] = (struct sent_seg){
        .off = off, .len = (uint32_t)tcp.payload_len, .flags = tcp.flags, .urg_ptr = tcp.urg_ptr};
    bool drop = t->hold && tcp.payload_len && off <= t->hold_off &&
                t->hold_off - off < (uint32_t)tcp.payload_len;
    if (drop)
        t->held++;
    return drop ? DW_DROP : DW_PASS;
}

static const struct devwrap_hooks tap_hooks = {.tx = tap_tx};

static struct us_dev *wrap_tap(struct us_dev *lower, void *ctx)
{
    struct tap *t = ctx;
    return devwrap_init(&t->w, lower, "tap", &tap_hooks);
}

/* a connected to b (port 80), a's device the tap. With inline, b's
 * listener has SO_OOBINLINE, which the accepted socket inherits. */
static struct tnet *net_pair(struct tap *t, us_time_ns latency, bool inl, int *cfd, int *sfd)
{
    memset(t, 0, sizeof(*t));
    struct tnet_cfg c = {.latency = latency, .wrap_a = wrap_tap, .wrap_ctx = t};
    struct tnet *n = tnet_new(&c);
    int lfd = tcp_listen_on(n->b, 80, 8);
    if (inl)
        set_sock_int(n->b, lfd, US_SOL_SOCKET, US_SO_OOBINLINE, 1);
    *cfd = tcp_connect_to(n->a, B_IP, 80);
    for (int i = 0; i < 200 && (*sfd = us_accept(n->b, lfd, NULL)) == -EAGAIN; i++)
        run(n, 1 * MS);
    if (*sfd < 0)
        fail_msg("no connection to accept: %d", *sfd);
    us_close(n->b, lfd);
    for (int i = 0; i < 200 && !(us_sock_poll_events(n->a, *cfd) & US_POLLOUT); i++)
        run(n, 1 * MS);
    assert_true(us_sock_poll_events(n->a, *cfd) & US_POLLOUT);
    return n;
}

static void send_str(struct tnet *n, int fd, const char *str, int flags)
{
    int len = (int)strlen(str);
    assert_int_equal(us_send(n->a, fd, str, (size_t)len, flags, n->now), len);
}

/* One us_recv on b into a string: the count (or -errno), the bytes in out. */
static int recv_str(struct tnet *n, int fd, int flags, char *out, size_t cap)
{
    int r = us_recv(n->b, fd, out, cap - 1, flags);
    out[r > 0 ? r : 0] = '\0';
    return r;
}

/* Runs until b's socket shows all of `events` (bounded). */
static void run_until_events(struct tnet *n, int sfd, int events, us_time_ns limit)
{
    us_time_ns end = n->now + limit;
    while ((us_sock_poll_events(n->b, sfd) & events) != events) {
        if (n->now >= end)
            fail_msg("b's socket never showed events %#x (has %#x)", events,
                     us_sock_poll_events(n->b, sfd));
        run(n, 1 * MS);
    }
}

/* Runs until a has nothing unacknowledged (bounded). */
static void run_until_acked(struct tnet *n, int cfd)
{
    for (int i = 0; i < 3000 && tcp_info_of(n->a, cfd).unacked; i++)
        run(n, 1 * MS);
    assert_int_equal(tcp_info_of(n->a, cfd).unacked, 0);
}

static int last_events;
static int ready_calls;
static void on_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    (void)ctx;
    (void)s;
    (void)fd;
    last_events = events;
    ready_calls++;
}

static void test_urgent_byte_out_of_stream_read_once(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 0, false, &cfd, &sfd);
    char buf[64];
    assert_int_equal(sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_OOBINLINE), 0);
    last_events = ready_calls = 0;
    assert_int_equal(us_sock_set_callback(n->b, sfd, on_ready, NULL), 0);
    send_str(n, cfd, "ab", 0);
    send_str(n, cfd, "c", US_MSG_OOB);
    send_str(n, cfd, "de", 0);
    run_until_events(n, sfd, US_POLLIN | US_POLLPRI, 1 * SEC);
    assert_true(ready_calls > 0);
    assert_true(last_events & US_POLLPRI); /* the readiness callback hears of it */
    assert_int_equal(us_sockatmark(n->b, sfd), 0);
    /* A peek, like a read, stops at the mark. */
    assert_int_equal(recv_str(n, sfd, US_MSG_PEEK, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "ab");
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "ab");
    assert_int_equal(us_sockatmark(n->b, sfd), 1);
    /* The urgent byte: peeked, then read, then gone. */
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB | US_MSG_PEEK, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "c");
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "c");
    assert_false(us_sock_poll_events(n->b, sfd) & US_POLLPRI);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), -EINVAL);
    /* It is not in the stream either. */
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "de");
    assert_int_equal(us_sockatmark(n->b, sfd), 0);
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), -EAGAIN);
    /* No urgent data at all: -EINVAL, and no POLLPRI. */
    send_str(n, cfd, "fg", 0);
    run_until_events(n, sfd, US_POLLIN, 1 * SEC);
    assert_false(us_sock_poll_events(n->b, sfd) & US_POLLPRI);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "fg");
    tnet_free(n);
}

/* An application that only reads normally (an echo server) sees the stream
 * without the urgent byte, which is then lost for MSG_OOB as well. */
static void test_normal_reads_skip_urgent_byte(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 0, false, &cfd, &sfd);
    char buf[64], all[64] = "";
    send_str(n, cfd, "ab", 0);
    send_str(n, cfd, "c", US_MSG_OOB);
    send_str(n, cfd, "de", 0);
    assert_int_equal(us_shutdown(n->a, cfd, US_SHUT_WR), 0);
    run_until_events(n, sfd, US_POLLRDHUP, 1 * SEC);
    int r, reads = 0;
    while ((r = recv_str(n, sfd, 0, buf, sizeof(buf))) > 0 && reads++ < 10)
        strcat(all, buf);
    assert_int_equal(r, 0); /* end of stream */
    assert_string_equal(all, "abde");
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), -EINVAL);
    tnet_free(n);
}

/* Only the urgent byte waits: POLLPRI without POLLIN, and a read skips it
 * (Linux's tcp_poll and tcp_recvmsg). */
static void test_urgent_byte_alone(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 0, false, &cfd, &sfd);
    char buf[64];
    send_str(n, cfd, "c", US_MSG_OOB);
    run_until_events(n, sfd, US_POLLPRI, 1 * SEC);
    assert_false(us_sock_poll_events(n->b, sfd) & US_POLLIN);
    assert_int_equal(us_sockatmark(n->b, sfd), 1);
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), -EAGAIN);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), -EINVAL);
    assert_false(us_sock_poll_events(n->b, sfd) & (US_POLLPRI | US_POLLIN));
    /* The stream goes on without it. */
    send_str(n, cfd, "d", 0);
    run_until_events(n, sfd, US_POLLIN, 1 * SEC);
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "d");
    tnet_free(n);
}

/* A second urgent byte replaces the first: the first stays in the stream,
 * unless the reader stood at its mark, in which case it is dropped (Linux's
 * tcp_check_urg; both checked against Linux 6.x on loopback). */
static void test_newer_urgent_byte_replaces_unread_one(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 0, false, &cfd, &sfd);
    char buf[64];
    send_str(n, cfd, "ab", 0);
    send_str(n, cfd, "X", US_MSG_OOB);
    send_str(n, cfd, "cd", 0);
    send_str(n, cfd, "Y", US_MSG_OOB);
    send_str(n, cfd, "ef", 0);
    run_until_acked(n, cfd);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "Y");
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 5);
    assert_string_equal(buf, "abXcd");
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "ef");
    tnet_free(n);

    n = net_pair(&t, 0, false, &cfd, &sfd);
    send_str(n, cfd, "ab", 0);
    send_str(n, cfd, "X", US_MSG_OOB);
    run_until_acked(n, cfd);
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_int_equal(us_sockatmark(n->b, sfd), 1);
    send_str(n, cfd, "cd", 0);
    send_str(n, cfd, "Y", US_MSG_OOB);
    send_str(n, cfd, "ef", 0);
    run_until_acked(n, cfd);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "Y");
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "cd");
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "ef");
    tnet_free(n);
}

static void test_oobinline_keeps_byte_in_stream(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 0, true, &cfd, &sfd);
    char buf[64];
    assert_int_equal(sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_OOBINLINE), 1); /* inherited */
    send_str(n, cfd, "ab", 0);
    send_str(n, cfd, "c", US_MSG_OOB);
    send_str(n, cfd, "de", 0);
    run_until_acked(n, cfd);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), -EINVAL);
    /* The read still stops at the mark, then the urgent byte is data. */
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "ab");
    assert_int_equal(us_sockatmark(n->b, sfd), 1);
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 3);
    assert_string_equal(buf, "cde");
    /* Switched off on the connection, the next urgent byte leaves the stream. */
    set_sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_OOBINLINE, 0);
    send_str(n, cfd, "f", 0);
    send_str(n, cfd, "g", US_MSG_OOB);
    run_until_acked(n, cfd);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "g");
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "f");
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), -EAGAIN);
    tnet_free(n);
}

/* The segment a sent that carries stream offset off first (or -1). */
static int seg_with(const struct tap *t, uint32_t off, int from)
{
    for (int i = from; i < t->n; i++)
        if (t->segs[i].len && t->segs[i].off == off)
            return i;
    return -1;
}

static void test_sender_sets_urg_and_pointer(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 0, false, &cfd, &sfd);
    /* Back to back, no time passing: "ab" is in flight when the urgent byte
     * is sent, and Nagle would hold a small segment until its ACK. */
    int before = t.n;
    send_str(n, cfd, "ab", 0);
    send_str(n, cfd, "c", US_MSG_OOB);
    int i = seg_with(&t, 0, before), j = seg_with(&t, 2, before);
    assert_true(i >= 0);
    if (j < 0)
        fail_msg("the urgent byte was held back (Nagle) instead of sent at once");
    assert_false(t.segs[i].flags & US_TCP_URG);
    assert_int_equal(t.segs[j].len, 1);
    assert_true(t.segs[j].flags & US_TCP_URG);
    /* RFC 6093: the pointer points to the byte after the urgent one. */
    assert_int_equal(t.segs[j].off + t.segs[j].urg_ptr, 3);
    /* Data after the urgent byte carries no URG. */
    send_str(n, cfd, "de", 0);
    int k = seg_with(&t, 3, before);
    assert_true(k >= 0);
    assert_false(t.segs[k].flags & US_TCP_URG);
    run_until_acked(n, cfd);
    char buf[64];
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "c");
    /* Once acknowledged, urgent mode is over: nothing more has URG. */
    int after = t.n;
    send_str(n, cfd, "fg", 0);
    run_until_acked(n, cfd);
    for (int m = after; m < t.n; m++)
        assert_false(t.segs[m].flags & US_TCP_URG);
    tnet_free(n);
}

/* A 3000-byte send with US_MSG_OOB: its last byte is urgent, every segment
 * before it (and a retransmission) points there. While the segment with
 * the urgent byte is lost, the receiver knows the mark but not the byte:
 * -EAGAIN, and reads return what comes before the mark. */
static void test_mark_before_byte_eagain(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 5 * MS, false, &cfd, &sfd);
    static char big[3000], buf[4096];
    memset(big, 'x', sizeof(big));
    big[2999] = 'U';
    t.hold = true;
    t.hold_off = 2999;
    int first = t.n;
    assert_int_equal(us_send(n->a, cfd, big, sizeof(big), US_MSG_OOB, n->now), 3000);
    run(n, 50 * MS);
    assert_true(t.held >= 1);
    int events = us_sock_poll_events(n->b, sfd);
    assert_true(events & US_POLLIN);
    assert_false(events & US_POLLPRI);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), -EAGAIN);
    int got = recv_str(n, sfd, 0, buf, sizeof(buf));
    assert_true(got > 0 && got < 2999);
    for (int i = 0; i < got; i++)
        assert_int_equal(buf[i], 'x');
    assert_int_equal(us_sockatmark(n->b, sfd), 0);
    t.hold = false;
    run_until_events(n, sfd, US_POLLPRI, 5 * SEC);
    /* The rest up to the mark, then the urgent byte by itself. */
    int rest = recv_str(n, sfd, 0, buf, sizeof(buf));
    assert_int_equal(got + rest, 2999);
    for (int i = 0; i < rest; i++)
        assert_int_equal(buf[i], 'x');
    assert_int_equal(us_sockatmark(n->b, sfd), 1);
    assert_int_equal(recv_str(n, sfd, US_MSG_OOB, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'U');
    assert_int_equal(recv_str(n, sfd, 0, buf, sizeof(buf)), -EAGAIN);
    /* On the wire: every data segment a sent before the ACK of the urgent
     * byte, the lost one and its retransmissions included, had URG and
     * pointed just past the urgent byte. */
    run_until_acked(n, cfd);
    int data_segs = 0;
    for (int i = first; i < t.n; i++) {
        if (!t.segs[i].len)
            continue;
        data_segs++;
        if (!(t.segs[i].flags & US_TCP_URG))
            fail_msg("segment at offset %u without URG", t.segs[i].off);
        assert_int_equal(t.segs[i].off + t.segs[i].urg_ptr, 3000);
    }
    assert_true(data_segs >= 3 + t.held);
    tnet_free(n);
}

/* An urgent byte 100,000 bytes into one send: segments more than 65,535
 * bytes before it carry the farthest pointer a 16-bit field holds
 * (0xFFFF), the later ones the exact one; the receiver, reading as data
 * comes, still finds the right byte and a stream without it. */
static void test_far_urgent_pointer(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 0, false, &cfd, &sfd);
    enum { LEN = 100000 };
    static uint8_t out[LEN], in[LEN];
    for (uint32_t i = 0; i < LEN; i++)
        out[i] = pattern(7, i);
    set_sock_int(n->a, cfd, US_SOL_SOCKET, US_SO_SNDBUF, 1 << 20); /* one send, one mark */
    int first = t.n;
    assert_int_equal(us_send(n->a, cfd, out, LEN, US_MSG_OOB, n->now), LEN);
    uint32_t got = 0;
    int oob = -1;
    for (int i = 0; i < 5000 && (got < LEN - 1 || oob < 0); i++) {
        run(n, 1 * MS);
        uint8_t c;
        if (us_recv(n->b, sfd, &c, 1, US_MSG_OOB) == 1)
            oob = c;
        int r;
        while ((r = us_recv(n->b, sfd, in + got, LEN - got, 0)) > 0)
            got += (uint32_t)r;
    }
    assert_int_equal(oob, out[LEN - 1]);
    assert_int_equal(got, LEN - 1);
    assert_memory_equal(in, out, LEN - 1);
    int far = 0, near = 0;
    for (int i = first; i < t.n; i++) {
        const struct sent_seg *g = &t.segs[i];
        if (!g->len)
            continue;
        if (!(g->flags & US_TCP_URG))
            fail_msg("segment at offset %u without URG", g->off);
        if (LEN - g->off > 0xFFFF) {
            assert_int_equal(g->urg_ptr, 0xFFFF);
            far++;
        } else {
            assert_int_equal(g->off + g->urg_ptr, LEN);
            near++;
        }
    }
    assert_true(far > 0);
    assert_true(near > 0);
    tnet_free(n);
}

struct oob_call {
    struct us_thread *t;
    struct tnet *n;
    int fd, rc;
};

static void *oob_call_main(void *arg)
{
    struct oob_call *c = arg;
    char b;
    c->rc = us_thread_recvfrom(c->t, c->n->b, c->fd, &b, 1, US_MSG_OOB, NULL);
    return NULL;
}

/* The mark known, the byte lost in flight: us_thread_recvfrom(MSG_OOB)
 * returns -EAGAIN at once instead of sleeping until it comes (Linux:
 * "this call should never block, independent of the blocking state of the
 * socket"). */
static void test_oob_never_blocks_in_threaded_mode(void **state)
{
    (void)state;
    struct tap t;
    int cfd, sfd;
    struct tnet *n = net_pair(&t, 5 * MS, false, &cfd, &sfd);
    static char big[3000];
    memset(big, 'x', sizeof(big));
    t.hold = true;
    t.hold_off = 2999;
    assert_int_equal(us_send(n->a, cfd, big, sizeof(big), US_MSG_OOB, n->now), 3000);
    run(n, 50 * MS);
    assert_int_equal(us_recv(n->b, sfd, big, 1, US_MSG_OOB), -EAGAIN);
    struct oob_call c = {.n = n, .fd = sfd, .rc = 1};
    c.t = us_thread_start(n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(c.t);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, oob_call_main, &c), 0);
    /* Real time, generous: the call must not sleep at all. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    int joined = pthread_timedjoin_np(th, NULL, &until);
    n->now = us_thread_stop(c.t); /* releases a sleeper with -ESHUTDOWN */
    if (joined != 0) {
        pthread_join(th, NULL);
        fail_msg("us_thread_recvfrom(US_MSG_OOB) slept (no return in 10 s; then %d)", c.rc);
    }
    assert_int_equal(c.rc, -EAGAIN);
    tnet_free(n);
}

/* UDP has no urgent data: a send with MSG_OOB fails as Linux's
 * udp_sendmsg, and there is no mark; the option itself is accepted. */
static void test_udp_has_no_urgent_data(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    int fd = us_socket(n->a, US_SOCK_DGRAM);
    assert_true(fd >= 0);
    struct us_sockaddr_in to = {B_IP, 9};
    assert_int_equal(us_sendto(n->a, fd, "x", 1, US_MSG_OOB, &to, n->now), -EOPNOTSUPP);
    assert_int_equal(us_sockatmark(n->a, fd), -ENOTTY);
    set_sock_int(n->a, fd, US_SOL_SOCKET, US_SO_OOBINLINE, 1);
    assert_int_equal(sock_int(n->a, fd, US_SOL_SOCKET, US_SO_OOBINLINE), 1);
    int tfd = us_socket(n->a, US_SOCK_STREAM);
    char b;
    assert_int_equal(us_recv(n->a, tfd, &b, 1, US_MSG_OOB), -EINVAL); /* never connected */
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urgent_byte_out_of_stream_read_once),
        cmocka_unit_test(test_normal_reads_skip_urgent_byte),
        cmocka_unit_test(test_urgent_byte_alone),
        cmocka_unit_test(test_newer_urgent_byte_replaces_unread_one),
        cmocka_unit_test(test_oobinline_keeps_byte_in_stream),
        cmocka_unit_test(test_sender_sets_urg_and_pointer),
        cmocka_unit_test(test_mark_before_byte_eagain),
        cmocka_unit_test(test_far_urgent_pointer),
        cmocka_unit_test(test_oob_never_blocks_in_threaded_mode),
        cmocka_unit_test(test_udp_has_no_urgent_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
