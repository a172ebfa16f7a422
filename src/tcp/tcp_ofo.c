/* The TCP out-of-order queue: a sorted singly linked list of segments with
 * no overlapping bytes, and the RFC 2018 SACK blocks kept in step with it.
 *
 * Inserts at or after the tail (the common case: a hole, then segments
 * arriving in order behind it) take constant time. An insert into the middle
 * (a retransmission filling a hole other than the first) walks from the
 * segment queued last when it lies before the new one — retransmissions come
 * lowest hole first, so that walk passes only the data between two holes —
 * and from the head otherwise; the run it joins takes its right edge from
 * the SACK block that reports it instead of a walk. (Linux uses an rbtree
 * here; a list with these two shortcuts keeps the hot path simple.) */
#include "tcp/tcp_ofo.h"

#include <string.h>

#include "tcp/tcp_seq.h"

static inline uint32_t seg_seq(const struct us_pkt *p)
{
    return p->cb;
}
static inline uint32_t seg_end(const struct us_pkt *p)
{
    return p->cb + p->len;
}

/* Drops n bytes from the front of a segment. */
static void seg_trim_front(struct us_pkt *p, uint32_t n)
{
    us_pkt_pull(p, n);
    p->cb += n;
}

void us_tcp_ofo_init(struct us_tcp_ofo *ofo)
{
    memset(ofo, 0, sizeof(*ofo));
}

void us_tcp_ofo_purge(struct us_tcp_ofo *ofo)
{
    us_pkt_free_chain(ofo->head);
    us_tcp_ofo_init(ofo);
}

static void sack_remove(struct us_tcp_ofo *ofo, unsigned i)
{
    memmove(&ofo->sack[i], &ofo->sack[i + 1], (ofo->sack_count - i - 1) * sizeof(ofo->sack[0]));
    ofo->sack_count--;
}

static bool sack_reported(const struct us_tcp_ofo *ofo, uint32_t left)
{
    for (unsigned i = 0; i < ofo->sack_count; i++)
        if (ofo->sack[i].left == left)
            return true;
    return false;
}

/* Fills free block slots with held runs not reported yet, lowest first, so
 * the sender hears of every island while there is room (older ones may have
 * been pushed out of the list by newer ones that have since been delivered).
 * RFC 2018 §4 only asks that recent blocks be repeated; more is allowed. */
static void sack_refill(struct us_tcp_ofo *ofo)
{
    struct us_pkt *p = ofo->head;
    while (p && ofo->sack_count < US_TCP_MAX_SACK) {
        uint32_t left = seg_seq(p);
        while (p->next && seg_seq(p->next) == seg_end(p))
            p = p->next;
        if (!sack_reported(ofo, left)) {
            ofo->sack[ofo->sack_count].left = left;
            ofo->sack[ofo->sack_count].right = seg_end(p);
            ofo->sack_count++;
        }
        p = p->next;
    }
}

/* Held data now starts at or after low: reported blocks wholly below it go,
 * a block straddling it keeps its part above (Linux's tcp_sack_remove()). */
static void sack_advance(struct us_tcp_ofo *ofo, uint32_t low)
{
    bool removed = false;
    for (unsigned i = 0; i < ofo->sack_count;) {
        struct us_tcp_sack_block *b = &ofo->sack[i];
        if (us_seq_leq(b->right, low)) {
            sack_remove(ofo, i);
            removed = true;
            continue;
        }
        if (us_seq_lt(b->left, low))
            b->left = low;
        i++;
    }
    if (removed)
        sack_refill(ofo);
}

/* The run [left, right) now holds the newest segment: blocks it swallowed
 * go, and it becomes the first block, pushing the oldest out when all are
 * used (Linux's tcp_sack_new_ofo_skb(); RFC 2018 §4: the first block "MUST
 * specify the contiguous block of data containing the segment which
 * triggered this ACK"). Every reported block is a whole run, so a block
 * either lies inside [left, right) or is disjoint from it. */
static void sack_new_run(struct us_tcp_ofo *ofo, uint32_t left, uint32_t right)
{
    for (unsigned i = 0; i < ofo->sack_count;) {
        const struct us_tcp_sack_block *b = &ofo->sack[i];
        if (us_seq_lt(b->left, right) && us_seq_gt(b->right, left))
            sack_remove(ofo, i);
        else
            i++;
    }
    if (ofo->sack_count == US_TCP_MAX_SACK)
        ofo->sack_count--;
    memmove(&ofo->sack[1], &ofo->sack[0], ofo->sack_count * sizeof(ofo->sack[0]));
    ofo->sack[0].left = left;
    ofo->sack[0].right = right;
    ofo->sack_count++;
}

static void unlink_head(struct us_tcp_ofo *ofo, struct us_pkt *p)
{
    if (ofo->hint == p)
        ofo->hint = NULL;
    ofo->head = p->next;
    if (!ofo->head)
        ofo->tail = NULL;
    p->next = NULL;
    ofo->bytes -= p->len;
    ofo->truesize -= us_pkt_truesize(p);
    ofo->count--;
}

/* rcv_nxt has moved (in-order data arrived, possibly covering held data):
 * frees held segments wholly before it and trims the one straddling it. */
static void ofo_advance(struct us_tcp_ofo *ofo, uint32_t rcv_nxt)
{
    struct us_pkt *p;
    while ((p = ofo->head) && us_seq_leq(seg_end(p), rcv_nxt)) {
        unlink_head(ofo, p);
        us_pkt_free(p);
    }
    if (p && us_seq_lt(seg_seq(p), rcv_nxt)) {
        uint32_t n = rcv_nxt - seg_seq(p);
        seg_trim_front(p, n);
        ofo->bytes -= n;
    }
    if (p && us_seq_lt(ofo->tail_run_left, seg_seq(p)))
        ofo->tail_run_left = seg_seq(p);
    if (p && ofo->hint && us_seq_lt(ofo->hint_run_left, seg_seq(p)))
        ofo->hint_run_left = seg_seq(p); /* the hint is in the first run */
    sack_advance(ofo, rcv_nxt);
}

enum us_tcp_ofo_result us_tcp_ofo_insert(struct us_tcp_ofo *ofo, struct us_pkt *pkt, uint32_t seq,
                                         uint32_t rcv_nxt, uint32_t limit_truesize)
{
    pkt->cb = seq;
    pkt->next = NULL;
    ofo_advance(ofo, rcv_nxt);

    /* RFC 9293 §3.10.7.4: only the part beyond rcv_nxt is new. */
    uint32_t s = seq, e = seq + pkt->len;
    if (pkt->len == 0 || us_seq_leq(e, rcv_nxt))
        goto duplicate;
    if (us_seq_lt(s, rcv_nxt)) {
        seg_trim_front(pkt, rcv_nxt - s);
        s = rcv_nxt;
    }

    /* prev: the last held segment starting before s; prev_left: the left
     * edge of its run. */
    struct us_pkt *prev = NULL;
    uint32_t prev_left = 0;
    if (ofo->tail && us_seq_lt(seg_seq(ofo->tail), s)) {
        prev = ofo->tail;
        prev_left = ofo->tail_run_left;
    } else {
        struct us_pkt *p = ofo->head;
        if (ofo->hint && us_seq_lt(seg_seq(ofo->hint), s)) {
            prev = ofo->hint;
            prev_left = ofo->hint_run_left;
            p = prev->next;
        }
        for (; p && us_seq_lt(seg_seq(p), s); p = p->next) {
            if (!prev || seg_end(prev) != seg_seq(p))
                prev_left = seg_seq(p);
            prev = p;
        }
    }

    /* The front overlaps prev: those bytes are held already. */
    if (prev && us_seq_gt(seg_end(prev), s)) {
        if (us_seq_geq(seg_end(prev), e))
            goto duplicate;
        seg_trim_front(pkt, seg_end(prev) - s);
        s = seg_end(prev);
    }
    /* Nothing new if held segments cover [s, e) without a hole. */
    struct us_pkt *next = prev ? prev->next : ofo->head;
    uint32_t covered_to = s;
    for (struct us_pkt *p = next; p && seg_seq(p) == covered_to && us_seq_lt(covered_to, e);
         p = p->next)
        covered_to = seg_end(p);
    if (us_seq_geq(covered_to, e))
        goto duplicate;

    /* Held segments wholly inside [s, e) are replaced by the new one. The
     * limit is checked on the queue as it would be after the insert. */
    uint32_t freed = 0;
    for (struct us_pkt *p = next; p && us_seq_leq(seg_end(p), e); p = p->next)
        freed += us_pkt_truesize(p);
    if (ofo->truesize - freed + us_pkt_truesize(pkt) > limit_truesize) {
        us_pkt_free(pkt);
        return US_TCP_OFO_DROPPED_LIMIT;
    }
    while (next && us_seq_leq(seg_end(next), e)) {
        struct us_pkt *covered = next;
        next = next->next;
        if (ofo->hint == covered)
            ofo->hint = NULL;
        ofo->bytes -= covered->len;
        ofo->truesize -= us_pkt_truesize(covered);
        ofo->count--;
        us_pkt_free(covered);
    }
    /* A held segment that starts inside [s, e) and ends beyond: trim its
     * front, so the two meet without overlapping. */
    if (next && us_seq_lt(seg_seq(next), e)) {
        uint32_t n = e - seg_seq(next);
        seg_trim_front(next, n);
        ofo->bytes -= n;
    }

    pkt->next = next;
    if (prev)
        prev->next = pkt;
    else
        ofo->head = pkt;
    if (!next)
        ofo->tail = pkt;
    ofo->bytes += pkt->len;
    ofo->truesize += us_pkt_truesize(pkt);
    ofo->count++;

    /* The run now containing the segment, for the SACK blocks: a run it
     * joins on the right is a reported block (every run is, while there
     * are at most US_TCP_MAX_SACK of them), else it is walked. */
    uint32_t left = prev && seg_end(prev) == s ? prev_left : s;
    uint32_t right = seg_end(pkt);
    if (next && seg_seq(next) == right) {
        unsigned k = 0;
        while (k < ofo->sack_count && ofo->sack[k].left != right)
            k++;
        if (k < ofo->sack_count) {
            right = ofo->sack[k].right;
        } else {
            struct us_pkt *last = next;
            while (last->next && seg_seq(last->next) == seg_end(last))
                last = last->next;
            right = seg_end(last);
        }
    }
    if (right == seg_end(ofo->tail))
        ofo->tail_run_left = left;
    ofo->hint = pkt;
    ofo->hint_run_left = left;
    sack_new_run(ofo, left, right);
    return US_TCP_OFO_QUEUED;

duplicate:
    us_pkt_free(pkt);
    return US_TCP_OFO_DUPLICATE;
}

struct us_pkt *us_tcp_ofo_pop(struct us_tcp_ofo *ofo, uint32_t rcv_nxt)
{
    ofo_advance(ofo, rcv_nxt);
    struct us_pkt *p = ofo->head;
    if (!p || seg_seq(p) != rcv_nxt)
        return NULL;
    unlink_head(ofo, p);
    if (ofo->head && us_seq_lt(ofo->tail_run_left, seg_seq(ofo->head)))
        ofo->tail_run_left = seg_seq(ofo->head);
    sack_advance(ofo, seg_end(p));
    return p;
}

unsigned us_tcp_ofo_sack(const struct us_tcp_ofo *ofo, struct us_tcp_sack_block *blocks,
                         unsigned max)
{
    unsigned n = ofo->sack_count;
    if (n > max)
        n = max;
    if (n > US_TCP_MAX_SACK)
        n = US_TCP_MAX_SACK;
    memcpy(blocks, ofo->sack, n * sizeof(blocks[0]));
    return n;
}
