/* The retransmission queue's time-ordered list and retransmission hint
 * (tcp_rtx.h), under random pushes, retransmissions, SACKs, losses, splits
 * on either side, pops, trims, reneging and undone losses, across the 2^32
 * wrap and the ring's growth:
 *
 * - the list holds exactly the records RACK may yet deem lost (not SACKed,
 *   not lost without a retransmission in flight), linked both ways, in
 *   RACK's order: by transmission time, ties by end sequence number;
 * - no record before the hint's index waits for its retransmission;
 * - the ring stays contiguous and its byte counts exact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/random.h"
#include "tcp/tcp_rtx.h"
#include "tcp/tcp_seq.h"

static bool belongs(const struct us_tcp_seg *g)
{
    if (g->flags & US_TCP_SEG_SACKED)
        return false;
    return (g->flags & (US_TCP_SEG_LOST | US_TCP_SEG_RETRANS)) != US_TCP_SEG_LOST;
}

static bool waits(const struct us_tcp_seg *g)
{
    return (g->flags & (US_TCP_SEG_SACKED | US_TCP_SEG_LOST | US_TCP_SEG_RETRANS)) ==
           US_TCP_SEG_LOST;
}

static void check(const struct us_tcp_rtx *q)
{
    uint32_t members = 0, sacked = 0, lost = 0, retrans = 0;
    for (uint32_t i = 0; i < q->n; i++) {
        const struct us_tcp_seg *g = us_tcp_rtx_at(q, i);
        assert_true(us_seq_lt(g->seq, g->end));
        if (i + 1 < q->n)
            assert_int_equal(g->end, us_tcp_rtx_at(q, i + 1)->seq);
        assert_int_equal(g->tlisted, belongs(g));
        members += g->tlisted;
        sacked += g->flags & US_TCP_SEG_SACKED ? us_tcp_seg_len(g) : 0;
        lost += g->flags & US_TCP_SEG_LOST ? us_tcp_seg_len(g) : 0;
        retrans += g->flags & US_TCP_SEG_RETRANS ? us_tcp_seg_len(g) : 0;
    }
    assert_int_equal(q->sacked, sacked);
    assert_int_equal(q->lost, lost);
    assert_int_equal(q->retrans, retrans);
    /* Forward: sorted, back links right, every one a member of the ring. */
    uint32_t count = 0, prev = US_TCP_RTX_NONE;
    for (uint32_t link = q->thead; link; link = q->seg[link - 1].tnext) {
        const struct us_tcp_seg *g = &q->seg[link - 1];
        assert_true(us_tcp_rtx_index(q, link - 1) < q->n);
        assert_true(g->tlisted);
        assert_int_equal(g->tprev, prev);
        if (prev) {
            const struct us_tcp_seg *p = &q->seg[prev - 1];
            assert_true(p->xmit_time < g->xmit_time ||
                        (p->xmit_time == g->xmit_time && us_seq_lt(p->end, g->end)));
        }
        prev = link;
        assert_true(++count <= members);
    }
    assert_int_equal(q->ttail, prev);
    assert_int_equal(count, members);
    uint32_t start = us_tcp_rtx_retrans_start(q);
    for (uint32_t i = 0; i < start && i < q->n; i++)
        assert_false(waits(us_tcp_rtx_at(q, i)));
}

static void random_ops(void **state)
{
    (void)state;
    struct us_rng rng;
    us_rng_seed(&rng, 0x71157);
    for (int round = 0; round < 20; round++) {
        struct us_tcp_rtx q = {0};
        uint32_t next = 0xffff0000u + (uint32_t)us_rng_below(&rng, 0x20000);
        us_time_ns now = 1;
        for (int op = 0; op < 3000; op++) {
            /* Often several transmissions in one instant, as on the
             * virtual clock. */
            if (us_rng_below(&rng, 3) == 0)
                now += 1 + us_rng_below(&rng, 1000);
            uint32_t r = (uint32_t)us_rng_below(&rng, 100);
            uint32_t i = q.n ? (uint32_t)us_rng_below(&rng, q.n) : 0;
            struct us_tcp_seg *g = q.n ? us_tcp_rtx_at(&q, i) : NULL;
            if (r < 30 || !q.n) {
                uint32_t len = 1 + (uint32_t)us_rng_below(&rng, 3000);
                assert_int_equal(us_tcp_rtx_push(&q, next, next + len, false, now), 0);
                next += len;
            } else if (r < 42) {
                us_tcp_rtx_mark_sacked(&q, g);
            } else if (r < 54) {
                us_tcp_rtx_mark_lost(&q, g);
            } else if (r < 62) {
                /* What the retransmission walk does: resend from the hint. */
                uint32_t k = us_tcp_rtx_retrans_start(&q);
                uint32_t budget = (uint32_t)us_rng_below(&rng, 4);
                for (; k < q.n; k++) {
                    struct us_tcp_seg *h = us_tcp_rtx_at(&q, k);
                    if (!waits(h))
                        continue;
                    if (!budget--)
                        break;
                    us_tcp_rtx_mark_retrans(&q, h, now);
                }
                us_tcp_rtx_retrans_stop(&q, k);
            } else if (r < 66) {
                if (!(g->flags & US_TCP_SEG_SACKED))
                    us_tcp_rtx_mark_retrans(&q, g, now); /* a loss probe */
            } else if (r < 76) {
                if (us_tcp_seg_len(g) > 1)
                    assert_int_equal(
                        us_tcp_rtx_split(&q, i,
                                         g->seq + 1 +
                                             (uint32_t)us_rng_below(&rng, us_tcp_seg_len(g) - 1)),
                        0);
            } else if (r < 88) {
                us_tcp_rtx_pop(&q);
            } else if (r < 92) {
                g = us_tcp_rtx_at(&q, 0);
                if (us_tcp_seg_len(g) > 1)
                    us_tcp_rtx_trim_head(&q, g->seq + 1);
            } else if (r < 94) {
                us_tcp_rtx_clear_sacks(&q);
            } else {
                /* An undone timeout: what waits is in flight after all. */
                for (uint32_t k = 0; k < q.n; k++)
                    if (waits(us_tcp_rtx_at(&q, k)))
                        us_tcp_rtx_unmark_lost(&q, us_tcp_rtx_at(&q, k));
                us_tcp_rtx_rebuild_tlist(&q);
            }
            check(&q);
        }
        us_tcp_rtx_free(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
