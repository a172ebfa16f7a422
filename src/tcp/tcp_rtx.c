/* The retransmission queue's ring of records and its byte counts (see
 * tcp_rtx.h). What the records mean for recovery is tcp_ack.c's and
 * tcp_rack.c's business; here they are only kept sorted, contiguous and
 * counted. */
#include "tcp/tcp_rtx.h"

#include "tcp/tcp_seq.h"

#include <errno.h>
#include <stdlib.h>

/* Records of the first allocation: one per segment in flight. Small,
 * because a connection that sends little keeps it while idle; one that
 * sends much doubles it a few times, once. */
#define RTX_MIN_CAP 8
#define NONE        US_TCP_RTX_NONE

/* ---- the time-ordered list (links are slot + 1) ---- */

static struct us_tcp_seg *link_seg(const struct us_tcp_rtx *q, uint32_t link)
{
    return &q->seg[link - 1];
}

/* Whether RACK may yet deem g lost: in flight, not SACKed, not waiting for
 * its retransmission (what tcp_rack_detect_loss skips). */
static bool belongs(const struct us_tcp_seg *g)
{
    if (g->flags & US_TCP_SEG_SACKED)
        return false;
    return (g->flags & (US_TCP_SEG_LOST | US_TCP_SEG_RETRANS)) != US_TCP_SEG_LOST;
}

static void tl_unlink(struct us_tcp_rtx *q, struct us_tcp_seg *g)
{
    if (!g->tlisted)
        return;
    if (g->tprev)
        link_seg(q, g->tprev)->tnext = g->tnext;
    else
        q->thead = g->tnext;
    if (g->tnext)
        link_seg(q, g->tnext)->tprev = g->tprev;
    else
        q->ttail = g->tprev;
    g->tprev = g->tnext = NONE;
    g->tlisted = false;
}

/* Links the record at slot after the one at link after (NONE: first). */
static void tl_insert_after(struct us_tcp_rtx *q, uint32_t after, uint32_t slot)
{
    struct us_tcp_seg *g = &q->seg[slot];
    uint32_t me = slot + 1;
    g->tprev = after;
    g->tnext = after ? link_seg(q, after)->tnext : q->thead;
    if (g->tprev)
        link_seg(q, g->tprev)->tnext = me;
    else
        q->thead = me;
    if (g->tnext)
        link_seg(q, g->tnext)->tprev = me;
    else
        q->ttail = me;
    g->tlisted = true;
}

/* (xmit_time, end) of a before b: the time order, ties by sequence. */
static bool sent_before(const struct us_tcp_seg *a, const struct us_tcp_seg *b)
{
    return a->xmit_time < b->xmit_time ||
           (a->xmit_time == b->xmit_time && us_seq_lt(a->end, b->end));
}

/* Links the record at slot in its place by (xmit_time, end): at the tail,
 * unless records sent in the same instant end beyond it (a retransmission
 * after new data in one round of the virtual clock). */
static void tl_append(struct us_tcp_rtx *q, uint32_t slot)
{
    const struct us_tcp_seg *g = &q->seg[slot];
    uint32_t after = q->ttail;
    while (after && sent_before(g, link_seg(q, after)))
        after = link_seg(q, after)->tprev;
    tl_insert_after(q, after, slot);
}

/* Moves the record at slot from to the free slot to, keeping the list's
 * links to it. */
static void move_rec(struct us_tcp_rtx *q, uint32_t from, uint32_t to)
{
    struct us_tcp_seg *g = &q->seg[to];
    *g = q->seg[from];
    if (!g->tlisted)
        return;
    if (g->tprev)
        link_seg(q, g->tprev)->tnext = to + 1;
    else
        q->thead = to + 1;
    if (g->tnext)
        link_seg(q, g->tnext)->tprev = to + 1;
    else
        q->ttail = to + 1;
}

static int rtx_grow(struct us_tcp_rtx *q)
{
    uint32_t cap = q->cap ? 2 * q->cap : RTX_MIN_CAP;
    struct us_tcp_seg *seg = malloc((size_t)cap * sizeof(*seg));
    if (!seg)
        return -ENOMEM;
    /* Record i goes to slot i; a link to old slot k becomes one to the
     * slot of k's index. */
    for (uint32_t i = 0; i < q->n; i++) {
        struct us_tcp_seg *g = &seg[i];
        *g = *us_tcp_rtx_at(q, i);
        if (g->tprev)
            g->tprev = us_tcp_rtx_index(q, g->tprev - 1) + 1;
        if (g->tnext)
            g->tnext = us_tcp_rtx_index(q, g->tnext - 1) + 1;
    }
    if (q->thead)
        q->thead = us_tcp_rtx_index(q, q->thead - 1) + 1;
    if (q->ttail)
        q->ttail = us_tcp_rtx_index(q, q->ttail - 1) + 1;
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

int us_tcp_rtx_reserve_n(struct us_tcp_rtx *q, uint32_t k)
{
    while (q->cap - q->n < k)
        if (rtx_grow(q) < 0)
            return -ENOMEM;
    return 0;
}

int us_tcp_rtx_push(struct us_tcp_rtx *q, uint32_t seq, uint32_t end, bool fin, us_time_ns now)
{
    if (us_tcp_rtx_reserve(q) < 0)
        return -ENOMEM;
    uint32_t slot = us_tcp_rtx_slot(q, q->n);
    struct us_tcp_seg *g = &q->seg[slot];
    g->seq = seq;
    g->end = end;
    g->xmit_time = now;
    g->flags = fin ? US_TCP_SEG_FIN : 0;
    g->tlisted = false;
    q->n++;
    tl_append(q, slot);
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
    /* Open a slot at index i + 1 by moving the records on the shorter
     * side by one: the later ones up, or the earlier ones (i included)
     * down, the head with them. */
    if (q->n - (i + 1) <= i + 1) {
        for (uint32_t j = q->n; j > i + 1; j--)
            move_rec(q, us_tcp_rtx_slot(q, j - 1), us_tcp_rtx_slot(q, j));
    } else {
        uint32_t old_head = q->head;
        q->head = (q->head - 1) & (q->cap - 1);
        for (uint32_t j = 0; j <= i; j++)
            move_rec(q, (old_head + j) & (q->cap - 1), us_tcp_rtx_slot(q, j));
    }
    q->n++;
    uint32_t gslot = us_tcp_rtx_slot(q, i), hslot = us_tcp_rtx_slot(q, i + 1);
    struct us_tcp_seg *g = &q->seg[gslot], *h = &q->seg[hslot];
    *h = *g;
    g->end = at;
    g->flags &= (uint8_t)~US_TCP_SEG_FIN; /* the FIN is the tail's */
    h->seq = at;
    /* Sent at the same time, h just after g in the time order. */
    h->tlisted = false;
    h->tprev = h->tnext = NONE;
    if (g->tlisted)
        tl_insert_after(q, gslot + 1, hslot);
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

/* A record at seq now waits for its retransmission: the hint may have to
 * come down to it. A hint outside the queue (its records ACKed since)
 * stands for the first record. */
static void hint_lower(struct us_tcp_rtx *q, uint32_t seq)
{
    uint32_t first = us_tcp_rtx_at(q, 0)->seq, last = us_tcp_rtx_at(q, q->n - 1)->end;
    if (!(us_seq_leq(first, q->retrans_hint) && us_seq_leq(q->retrans_hint, last)))
        q->retrans_hint = first;
    if (us_seq_lt(seq, q->retrans_hint))
        q->retrans_hint = seq;
}

uint32_t us_tcp_rtx_retrans_start(const struct us_tcp_rtx *q)
{
    if (!q->n)
        return 0;
    uint32_t first = us_tcp_rtx_at(q, 0)->seq, last = us_tcp_rtx_at(q, q->n - 1)->end;
    if (!(us_seq_leq(first, q->retrans_hint) && us_seq_leq(q->retrans_hint, last)))
        return 0;
    return q->retrans_hint == last ? q->n : us_tcp_rtx_find(q, q->retrans_hint);
}

void us_tcp_rtx_retrans_stop(struct us_tcp_rtx *q, uint32_t i)
{
    if (q->n)
        q->retrans_hint = i < q->n ? us_tcp_rtx_at(q, i)->seq : us_tcp_rtx_at(q, q->n - 1)->end;
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
    tl_unlink(q, g);
    hint_lower(q, g->seq);
}

void us_tcp_rtx_unmark_lost(struct us_tcp_rtx *q, struct us_tcp_seg *g)
{
    /* Back on the time-ordered list with us_tcp_rtx_rebuild_tlist. */
    if (g->flags & US_TCP_SEG_LOST) {
        g->flags &= (uint8_t)~US_TCP_SEG_LOST;
        q->lost -= us_tcp_seg_len(g);
    }
}

void us_tcp_rtx_mark_sacked(struct us_tcp_rtx *q, struct us_tcp_seg *g)
{
    if (g->flags & US_TCP_SEG_SACKED)
        return;
    tl_unlink(q, g);
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
    /* Sent now: the newest on the time-ordered list. */
    tl_unlink(q, g);
    tl_append(q, (uint32_t)(g - q->seg));
}

void us_tcp_rtx_pop(struct us_tcp_rtx *q)
{
    struct us_tcp_seg *g = us_tcp_rtx_at(q, 0);
    tl_unlink(q, g);
    account(q, g, -1);
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
    q->sack_cache_n = 0;
    us_tcp_rtx_rebuild_tlist(q);
}

void us_tcp_rtx_rebuild_tlist(struct us_tcp_rtx *q)
{
    /* In sequence order: records sent once are in time order that way
     * already, so each insertion walks back only past retransmitted ones.
     * Rare (a reneging peer, an undone timeout). */
    for (uint32_t i = 0; i < q->n; i++) {
        uint32_t slot = us_tcp_rtx_slot(q, i);
        struct us_tcp_seg *g = &q->seg[slot];
        if (!g->tlisted && belongs(g))
            tl_append(q, slot);
    }
}

void us_tcp_rtx_free(struct us_tcp_rtx *q)
{
    free(q->seg);
    q->seg = NULL;
    q->cap = q->head = q->n = 0;
    q->sacked = q->lost = q->retrans = 0;
    q->thead = q->ttail = NONE;
    q->retrans_hint = 0;
    q->sack_cache_n = 0;
}
