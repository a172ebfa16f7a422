/* The receiver's ACK policy on the wire (RFC 9293 §3.8.6.3, RFC 5681 §4.2,
 * Linux's __tcp_ack_snd_check): once out of quick-ACK mode, a lone small
 * segment is acknowledged by the delayed-ACK timer 40 ms after it arrived
 * (Linux's TCP_DELACK_MIN), never sooner and never later; two full-sized
 * segments are acknowledged at once, without the timer; in a stream of
 * full segments no ACK leaves more than two of them unacknowledged, and a
 * third, odd segment waits for the timer. Seen from the sender's side by a
 * segment log on a 100 Mbit/s wire (segments arrive apart), 1 ms each way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/seglog.h"
#include "sim/tcp_util.h"

#define LAT    (1 * MS)
#define DELACK (40 * MS)
/* Serialization of a few frames at 100 Mbit/s, on top of the latency. */
#define SERIAL (500 * 1000)

struct acknet {
    struct seglog log; /* on a, the sender */
    struct tnet *n;
    int cfd, sfd;
    uint32_t mss;
    uint32_t isn; /* a's */
};

/* Reads whatever b has, so its window stays open. */
static void drain_b(struct acknet *k)
{
    static uint8_t buf[65536];
    while (us_recv(k->n->b, k->sfd, buf, sizeof(buf), 0) > 0)
        ;
}

static void setup_net(struct acknet *k)
{
    memset(k, 0, sizeof(*k));
    struct tnet_cfg c = {
        .latency = LAT, .bandwidth_bps = 100000000, .wrap_a = seglog_wrap, .wrap_ctx = &k->log};
    k->n = tnet_new(&c);
    int lfd = tcp_listen_on(k->n->b, 80, 4);
    k->cfd = tcp_connect_to(k->n->a, B_IP, 80);
    run(k->n, 20 * MS);
    k->sfd = us_accept(k->n->b, lfd, NULL);
    assert_true(k->sfd >= 0);
    us_close(k->n->b, lfd);
    assert_true(k->log.n > 0 && (k->log.segs[0].flags & US_TCP_SYN));
    k->isn = k->log.segs[0].seq;
    k->mss = tcp_info_of(k->n->a, k->cfd).snd_mss;
    /* 200 KB first: b leaves quick-ACK mode (its first 16 segments are
     * ACKed at once, as Linux's TCP_MAX_QUICKACKS). */
    static uint8_t junk[200000];
    size_t sent = 0;
    for (int i = 0; i < 2000 && sent < sizeof(junk); i++) {
        int r = us_send(k->n->a, k->cfd, junk + sent, sizeof(junk) - sent, 0, k->n->now);
        if (r > 0)
            sent += (size_t)r;
        run(k->n, 1 * MS);
        drain_b(k);
    }
    assert_int_equal(sent, sizeof(junk));
    run(k->n, 500 * MS);
    drain_b(k);
    assert_int_equal(tcp_info_of(k->n->a, k->cfd).unacked, 0);
}

static void teardown_net(struct acknet *k)
{
    tnet_free(k->n);
    seglog_free(&k->log);
}

/* a writes len bytes now; returns the index in the log where its
 * segments start. */
static size_t write_now(struct acknet *k, uint32_t len)
{
    static uint8_t buf[65536];
    run(k->n, 0); /* the stacks' clocks at now */
    size_t from = k->log.n;
    assert_int_equal(us_send(k->n->a, k->cfd, buf, len, 0, k->n->now), (int)len);
    return from;
}

/* The ACKs a received from index `from` on that moved the left edge. */
struct ack_seen {
    us_time_ns at;
    uint32_t ack;
};
static unsigned acks_from(const struct acknet *k, size_t from, struct ack_seen *out, unsigned max)
{
    unsigned n = 0;
    uint32_t high = 0;
    bool have = false;
    for (size_t i = 0; i < k->log.n; i++) {
        const struct sl_seg *g = &k->log.segs[i];
        if (g->tx || !(g->flags & US_TCP_ACK) || (g->flags & US_TCP_SYN))
            continue;
        if (have && (int32_t)(g->ack - high) <= 0)
            continue;
        high = g->ack;
        have = true;
        if (i >= from && n < max)
            out[n++] = (struct ack_seen){g->at, g->ack};
    }
    return n;
}

/* When a sent the data segment ending at end (from index from on). */
static us_time_ns sent_at(const struct acknet *k, size_t from, uint32_t end)
{
    for (size_t i = from; i < k->log.n; i++) {
        const struct sl_seg *g = &k->log.segs[i];
        if (g->tx && g->len && g->seq + g->len == end)
            return g->at;
    }
    fail_msg("no segment ending at %u", end);
    return 0;
}

static void test_lone_segment_acked_by_the_40ms_timer(void **state)
{
    (void)state;
    static struct acknet k;
    setup_net(&k);
    for (int round = 0; round < 5; round++) {
        size_t from = write_now(&k, 100);
        const struct sl_seg *d = &k.log.segs[from];
        assert_true(d->tx && d->len == 100);
        us_time_ns t_data = d->at;
        uint32_t end = d->seq + 100;
        /* No ACK for 40 ms after it reached b... */
        run(k.n, 2 * LAT + DELACK - 100 * 1000);
        struct ack_seen a[8];
        assert_int_equal(acks_from(&k, from, a, 8), 0);
        /* ...and then one, sent by b exactly 40 ms after the data arrived. */
        run(k.n, 100 * 1000 + SERIAL);
        assert_int_equal(acks_from(&k, from, a, 8), 1);
        assert_int_equal(a[0].ack, end);
        assert_in_range(a[0].at - t_data, 2 * LAT + DELACK, 2 * LAT + DELACK + SERIAL);
        run(k.n, 100 * MS);
        drain_b(&k);
    }
    teardown_net(&k);
}

static void test_every_second_full_segment_acked_at_once(void **state)
{
    (void)state;
    static struct acknet k;
    setup_net(&k);
    uint32_t mss = k.mss;
    struct ack_seen a[64];

    /* Two full segments: ACKed together as soon as the second arrives. */
    size_t from = write_now(&k, 2 * mss);
    uint32_t start = k.log.segs[from].seq;
    run(k.n, 10 * MS);
    assert_int_equal(acks_from(&k, from, a, 64), 1);
    assert_int_equal(a[0].ack, start + 2 * mss);
    assert_true(a[0].at - sent_at(&k, from, start + 2 * mss) < 2 * LAT + SERIAL);
    run(k.n, 100 * MS);
    drain_b(&k);

    /* Three: the first two at once, the third by the timer. */
    from = write_now(&k, 3 * mss);
    start = k.log.segs[from].seq;
    run(k.n, 100 * MS);
    assert_int_equal(acks_from(&k, from, a, 64), 2);
    assert_int_equal(a[0].ack, start + 2 * mss);
    assert_true(a[0].at - sent_at(&k, from, start + 2 * mss) < 2 * LAT + SERIAL);
    assert_int_equal(a[1].ack, start + 3 * mss);
    assert_in_range(a[1].at - sent_at(&k, from, start + 3 * mss), 2 * LAT + DELACK,
                    2 * LAT + DELACK + SERIAL);
    drain_b(&k);

    /* Twenty in a row: an ACK per two, none waiting for the timer. */
    from = write_now(&k, 20 * mss);
    start = k.log.segs[from].seq;
    for (int i = 0; i < 20; i++) {
        run(k.n, 1 * MS);
        drain_b(&k);
    }
    run(k.n, 10 * MS);
    unsigned na = acks_from(&k, from, a, 64);
    assert_true(na >= 10);
    uint32_t prev = start;
    for (unsigned i = 0; i < na; i++) {
        uint32_t covered = a[i].ack - prev;
        if (covered > 2 * mss)
            fail_msg("ACK %u acknowledged %u bytes (%.1f segments) at once", i, covered,
                     (double)covered / mss);
        /* Queued behind up to 20 frames of 120 us each, but no timer. */
        assert_true(a[i].at - sent_at(&k, from, a[i].ack) < 2 * LAT + 5 * MS);
        prev = a[i].ack;
    }
    assert_int_equal(prev, start + 20 * mss);
    teardown_net(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lone_segment_acked_by_the_40ms_timer),
        cmocka_unit_test(test_every_second_full_segment_acked_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
