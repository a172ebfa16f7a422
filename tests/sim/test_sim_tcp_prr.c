/* Sending during fast recovery, on the wire (a segment log on the sender,
 * 100 Mbit/s, 5 ms each way):
 *  - PRR (RFC 6937 §3): after one segment is lost from a large window, what
 *    the sender sends during the recovery follows the data delivered:
 *    after each ACK, prr_out stays within ceil(prr_delivered * ssthresh /
 *    RecoverFS) (plus the first retransmission's segment) and does not fall
 *    behind it, so the reduction is spread over the round trip, never a
 *    burst and never a silence; prr_delivered counts the bytes each ACK
 *    newly acknowledged or SACKed, RecoverFS what was in flight when the
 *    retransmission went, ssthresh is tcp_info's;
 *  - loss probes during recovery (ustack's extension of RFC 8985 §7, see
 *    tcp_rack.c): when everything the sender sends in recovery is lost, it
 *    sends up to three probes in a row, each after a longer wait, then
 *    nothing until the retransmission timeout; the transfer then completes
 *    byte-exact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/seglog.h"
#include "sim/tcp_util.h"

#define TOTAL (3u << 20)

struct watch {
    struct us_stack *a;
    int fd;
    bool have_isn;
    uint32_t isn;
    uint32_t mss;
    /* The segment to lose (the first one sent holding this stream offset). */
    uint32_t drop_off;
    bool dropped;
    /* Everything a sends is lost from the first retransmission until the
     * first retransmission timeout (the probes test). */
    bool blackhole;
    bool hole_open;
    /* The wire's view: stream offsets delivered (ACKed or SACKed). */
    uint8_t *delivered;
    uint32_t una, high;
    /* The recovery episode. */
    bool in_rec, rec_done;
    uint32_t rec_point, recover_fs, ssthresh;
    uint64_t prr_delivered, prr_out;
    unsigned sent_since_ack, max_per_ack, acks_in_rec, lower_checks;
    /* The probes test: what a sent after the last ACK it received. */
    us_time_ns last_ack_at;
    unsigned after_last_ack, probes_before_rto;
    uint64_t probes_at_last_ack;
    us_time_ns probe_at[8];
    us_time_ns rto_at;
};

static uint32_t mark(struct watch *w, uint32_t from, uint32_t to)
{
    uint32_t n = 0;
    for (uint32_t i = from; i < to && i < TOTAL + 1; i++)
        if (!w->delivered[i]) {
            w->delivered[i] = 1;
            n++;
        }
    return n;
}

static void on_ack(struct watch *w, const struct sl_seg *g)
{
    uint32_t ack = g->ack - w->isn - 1;
    uint32_t newly = 0;
    if ((int32_t)(ack - w->una) > 0) {
        newly += mark(w, w->una, ack);
        w->una = ack;
    }
    for (unsigned i = 0; i < g->nsack; i++) {
        uint32_t l = g->sack[i].left - w->isn - 1, r = g->sack[i].right - w->isn - 1;
        if ((int32_t)(l - w->una) >= 0 && (int32_t)(r - l) > 0)
            newly += mark(w, l, r);
    }
    if (newly && !w->rto_at) {
        w->last_ack_at = g->at;
        w->after_last_ack = 0;
        w->probes_before_rto = 0;
        w->probes_at_last_ack = ctr(w->a, "TcpExtTCPLossProbes");
    }
    if (!w->in_rec)
        return;
    /* PRR's lower bound: before this ACK's own share goes out, what was
     * sent keeps up with what the earlier ACKs delivered. */
    if (w->prr_delivered > w->recover_fs / 8 && w->prr_delivered < w->recover_fs * 3 / 4) {
        uint64_t due = w->prr_delivered * w->ssthresh / w->recover_fs;
        if (w->prr_out + 3 * w->mss < due)
            fail_msg("PRR fell behind: %llu bytes sent for %llu delivered, %llu due",
                     (unsigned long long)w->prr_out, (unsigned long long)w->prr_delivered,
                     (unsigned long long)due);
        w->lower_checks++;
    }
    w->prr_delivered += newly;
    w->acks_in_rec++;
    w->sent_since_ack = 0;
    if ((int32_t)(w->una - w->rec_point) >= 0) {
        w->in_rec = false;
        w->rec_done = true;
    }
}

static void on_data(struct watch *w, const struct sl_seg *g)
{
    uint32_t off = g->seq - w->isn - 1, end = off + g->len;
    bool rexmit = (int32_t)(off - w->high) < 0;
    if ((int32_t)(end - w->high) > 0)
        w->high = end;
    if (rexmit && !w->in_rec && !w->rec_done) {
        /* The first retransmission: recovery began with this flight. */
        w->in_rec = true;
        w->rec_point = w->high;
        w->recover_fs = w->high - w->una;
        struct us_tcp_info ti;
        size_t len = sizeof(ti);
        assert_int_equal(us_getsockopt(w->a, w->fd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &len), 0);
        w->ssthresh = ti.snd_ssthresh;
        if (w->blackhole)
            w->hole_open = true;
    }
    if (!w->in_rec)
        return;
    w->prr_out += g->len;
    if (++w->sent_since_ack > w->max_per_ack)
        w->max_per_ack = w->sent_since_ack;
    /* PRR's upper bound, in the proportional phase (pipe > ssthresh). */
    if (!w->blackhole && w->prr_delivered < w->recover_fs * 3 / 4) {
        uint64_t allowed =
            (w->prr_delivered * w->ssthresh + w->recover_fs - 1) / w->recover_fs + w->mss;
        if (w->prr_out > allowed)
            fail_msg("PRR exceeded: %llu bytes sent for %llu delivered, %llu allowed",
                     (unsigned long long)w->prr_out, (unsigned long long)w->prr_delivered,
                     (unsigned long long)allowed);
    }
}

static bool watch_seg(struct seglog *l, const struct sl_seg *g, void *ctx)
{
    (void)l;
    struct watch *w = ctx;
    if (g->flags & US_TCP_SYN) {
        if (g->tx) {
            w->isn = g->seq;
            w->have_isn = true;
        }
        return false;
    }
    if (!w->have_isn)
        return false;
    if (!g->tx) {
        if (g->flags & US_TCP_ACK)
            on_ack(w, g);
        return false;
    }
    if (!g->len)
        return false;
    uint64_t timeouts = ctr(w->a, "TcpExtTCPTimeouts");
    if (w->hole_open && w->last_ack_at && g->at > w->last_ack_at && timeouts == 0) {
        /* Sent after the last ACK that told a anything (not in the same
         * round, as its answer), before the RTO. */
        uint64_t probes = ctr(w->a, "TcpExtTCPLossProbes") - w->probes_at_last_ack;
        if (probes > w->probes_before_rto && probes <= 8)
            w->probe_at[probes - 1] = g->at;
        w->probes_before_rto = (unsigned)probes;
        w->after_last_ack++;
    }
    on_data(w, g);
    uint32_t off = g->seq - w->isn - 1;
    if (w->hole_open) {
        if (timeouts == 0)
            return true;
        if (!w->rto_at)
            w->rto_at = g->at;
        w->hole_open = false;
        return false;
    }
    if (!w->dropped && (int32_t)(w->drop_off - off) >= 0 && w->drop_off - off < g->len) {
        w->dropped = true;
        return true;
    }
    return false;
}

/* a sends TOTAL bytes to b, byte-exact, with the watch on a's device. */
static void run_transfer(struct watch *w, uint32_t drop_off, bool blackhole)
{
    static struct seglog log;
    memset(&log, 0, sizeof(log));
    memset(w, 0, sizeof(*w));
    w->delivered = calloc(TOTAL + 1, 1);
    assert_non_null(w->delivered);
    w->drop_off = drop_off;
    w->blackhole = blackhole;
    log.drop = watch_seg;
    log.drop_ctx = w;
    struct tnet_cfg c = {
        .latency = 5 * MS, .bandwidth_bps = 100000000, .wrap_a = seglog_wrap, .wrap_ctx = &log};
    struct tnet *n = tnet_new(&c);
    /* A receive window far larger than any cwnd here: only cwnd limits. */
    set_knob(n->b, "net.core.rmem_max", "16777216");
    int lfd = tcp_listen_on(n->b, 80, 4);
    set_sock_int(n->b, lfd, US_SOL_SOCKET, US_SO_RCVBUF, 8 << 20);
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    w->a = n->a;
    w->fd = cfd;
    run(n, 50 * MS);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    w->mss = tcp_info_of(n->a, cfd).snd_mss;
    transfer(n, cfd, sfd, TOTAL, 0, 1 * MS, 60 * SEC);
    tnet_free(n);
    seglog_free(&log);
    free(w->delivered);
}

static void test_prr_spreads_the_reduction_over_the_round_trip(void **state)
{
    (void)state;
    struct watch w;
    /* Lost at 1 MB: the window is hundreds of segments by then. */
    run_transfer(&w, 1u << 20, false);
    assert_true(w.dropped);
    assert_true(w.rec_done);
    assert_true(w.recover_fs > 100 * w.mss);
    assert_true(w.ssthresh < w.recover_fs);
    assert_true(w.acks_in_rec > 50);
    assert_true(w.lower_checks > 20);
    /* Sending went on throughout, an ACK's share at a time. */
    assert_true(w.max_per_ack <= 3);
}

static void test_three_probes_in_a_row_then_the_timeout(void **state)
{
    (void)state;
    struct watch w;
    run_transfer(&w, 1u << 20, true);
    assert_true(w.rto_at > 0);
    /* Three probes after the last ACK, and nothing else; then the
     * timeout's retransmission, a whole RTO (at least 200 ms) after the
     * third probe rearmed it. */
    if (w.probes_before_rto != 3)
        fail_msg("%u loss probes in a row before the RTO", w.probes_before_rto);
    assert_int_equal(w.after_last_ack, 3);
    assert_true(w.probe_at[0] > w.last_ack_at);
    assert_true(w.probe_at[1] > w.probe_at[0] && w.probe_at[2] > w.probe_at[1]);
    assert_true(w.rto_at >= w.probe_at[2] + 200 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prr_spreads_the_reduction_over_the_round_trip),
        cmocka_unit_test(test_three_probes_in_a_row_then_the_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
