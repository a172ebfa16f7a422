/* The retransmission queue's ring of records and its byte counts (see
 * tcp_rtx.h). What the records mean for recovery is tcp_ack.c's and
 * tcp_rack.c's business; here they are only kept sorted, contiguous and
 * counted. */
#include "tcp/tcp_rtx.h"

#include "tcp/tcp_seq.h"

#include <errno.h>
#include <stdlib.h>

#define RTX_MIN_CAP 64

static int rtx_grow(struct us_tcp_rtx *q)
{
    uint32_t cap = q->cap ? 2 * q->cap : RTX_MIN_CAP;
    struct us_tcp_seg *seg = malloc((size_t)cap * sizeof(*seg));
    if (!seg)
        return -ENOMEM;
    for (uint32_t i = 0; i < q->n; i++)
        seg[i] = *us_tcp_rtx_at(q, i);
    free(q->seg);
    q->seg = seg;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int us_tcp_rtx_reserve(struct us_tcp_rtx *q)
{
    return q->n == q->cap ? rtx_grow(q) : 0;
}

int us_tcp_rtx_push(struct us_tcp_rtx *q, uint32_t seq, uint32_t end, bool fin, us_time_ns now)
{
    if (us_tcp_rtx_reserve(q) < 0)
        return -ENOMEM;
    struct us_tcp_seg *g = &q->seg[(q->head + q->n) & (q->cap - 1)];
    g->seq = seq;
    g->end = end;
    g->xmit_time = now;
    g->flags = fin ? US_TCP_SEG_FIN : 0;
    q->n++;
    return 0;
}

/* The byte counts a record's flags contribute, added (sign 1) or taken
 * away (sign -1) around a change of its length. */
static void account(struct us_tcp_rtx *q, const struct us_tcp_seg *g, int sign)
{
    uint32_t len = us_tcp_seg_len(g);
    uint32_t d = sign > 0 ? len : (uint32_t)-len;
    if (g->flags & US_TCP_SEG_SACKED)
        q->sacked += d;
    if (g->flags & US_TCP_SEG_LOST)
        q->lost += d;
    if (g->flags & US_TCP_SEG_RETRANS)
        q->retrans += d;
}

int us_tcp_rtx_split(struct us_tcp_rtx *q, uint32_t i, uint32_t at)
{
    if (q->n == q->cap && rtx_grow(q) < 0)
        return -ENOMEM;
    /* Open a slot at i + 1 by moving the later records up by one. */
    for (uint32_t j = q->n; j > i + 1; j--)
        *us_tcp_rtx_at(q, j) = *us_tcp_rtx_at(q, j - 1);
    q->n++;
    struct us_tcp_seg *g = us_tcp_rtx_at(q, i), *h = us_tcp_rtx_at(q, i + 1);
    *h = *g;
    g->end = at;
    g->flags &= (uint8_t)~US_TCP_SEG_FIN; /* the FIN is the tail's */
    h->seq = at;
    /* Both halves have the same flags, so the byte counts are unchanged. */
    return 0;
}

uint32_t us_tcp_rtx_find(const struct us_tcp_rtx *q, uint32_t seq)
{
    /* Records are contiguous and sorted: binary search on their ends. */
    uint32_t lo = 0, hi = q->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (us_seq_leq(us_tcp_rtx_at(q, mid)->end, seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < q->n && us_seq_lt(seq, us_tcp_rtx_at(q, lo)->seq))
        return q->n;
    return lo;
}

void us_tcp_rtx_mark_lost(struct us_tcp_rtx *q, struct us_tcp_seg *g)
{
    uint32_t len = us_tcp_seg_len(g);
    if (g->flags & US_TCP_SEG_SACKED)
        return;
    if (g->flags & US_TCP_SEG_RETRANS) {
        g->flags &= (uint8_t)~US_TCP_SEG_RETRANS;
        q->retrans -= len;
    }
    if (!(g->flags & US_TCP_SEG_LOST)) {
        g->flags |= US_TCP_SEG_LOST;
        q->lost += len;
    }
}

void us_tcp_rtx_unmark_lost(struct us_tcp_rtx *q, struct us_tcp_seg *g)
{
    if (g->flags & US_TCP_SEG_LOST) {
        g->flags &= (uint8_t)~US_TCP_SEG_LOST;
        q->lost -= us_tcp_seg_len(g);
    }
}

void us_tcp_rtx_mark_sacked(struct us_tcp_rtx *q, struct us_tcp_seg *g)
{
    if (g->flags & US_TCP_SEG_SACKED)
        return;
    account(q, g, -1);
    g->flags &= (uint8_t) ~(US_TCP_SEG_LOST | US_TCP_SEG_RETRANS);
    g->flags |= US_TCP_SEG_SACKED;
    account(q, g, 1);
}

void us_tcp_rtx_mark_retrans(struct us_tcp_rtx *q, struct us_tcp_seg *g, us_time_ns now)
{
    if (!(g->flags & US_TCP_SEG_RETRANS)) {
        g->flags |= US_TCP_SEG_RETRANS;
        q->retrans += us_tcp_seg_len(g);
    }
    g->flags |= US_TCP_SEG_EVER_RETRANS;
    g->xmit_time = now;
}

void us_tcp_rtx_pop(struct us_tcp_rtx *q)
{
    account(q, us_tcp_rtx_at(q, 0), -1);
    q->head = (q->head + 1) & (q->cap - 1);
    q->n--;
}

void us_tcp_rtx_trim_head(struct us_tcp_rtx *q, uint32_t seq)
{
    struct us_tcp_seg *g = us_tcp_rtx_at(q, 0);
    account(q, g, -1);
    g->seq = seq;
    account(q, g, 1);
}

void us_tcp_rtx_clear_sacks(struct us_tcp_rtx *q)
{
    for (uint32_t i = 0; i < q->n; i++)
        us_tcp_rtx_at(q, i)->flags &= (uint8_t)~US_TCP_SEG_SACKED;
    q->sacked = 0;
}

void us_tcp_rtx_free(struct us_tcp_rtx *q)
{
    free(q->seg);
    q->seg = NULL;
    q->cap = q->head = q->n = 0;
    q->sacked = q->lost = q->retrans = 0;
}
