/* The sender's SACK scoreboard and loss recovery with it, a compact form of
 * RFC 6675: the blocks the receiver reported (RFC 2018) are merged into a
 * small sorted list of SACKed ranges above snd_una; during fast recovery
 * every hole below the highest SACKed byte is presumed lost (RFC 6675's
 * IsLost with DupThresh segments SACKed above it, simplified to "a SACKed
 * byte above it") and retransmitted once, while the estimated pipe
 * (bytes in flight minus those SACKed, RFC 6675 §4) stays below cwnd. So a
 * window with many losses is repaired in about one round trip instead of
 * one hole per round trip as NewReno's partial ACKs do. */
#include "tcp/tcp.h"

#include <string.h>

void us_tcp_sack_reset(struct us_tcpcb *tp)
{
    tp->nsb = 0;
}

/* Drops what snd_una passed. */
static void sack_trim(struct us_tcpcb *tp)
{
    unsigned j = 0;
    for (unsigned i = 0; i < tp->nsb; i++) {
        struct us_tcp_sack_block b = tp->sb[i];
        if (us_seq_leq(b.right, tp->snd_una))
            continue;
        if (us_seq_lt(b.left, tp->snd_una))
            b.left = tp->snd_una;
        tp->sb[j++] = b;
    }
    tp->nsb = (uint8_t)j;
}

/* Inserts [l, r) keeping the list sorted and merged; the lowest ranges are
 * kept when it is full (they are the ones recovery needs first). */
static void sack_insert(struct us_tcpcb *tp, uint32_t l, uint32_t r)
{
    struct us_tcp_sack_block out[US_TCP_SACK_SLOTS + 1];
    unsigned n = 0;
    bool placed = false;
    for (unsigned i = 0; i <= tp->nsb; i++) {
        struct us_tcp_sack_block b;
        if (i < tp->nsb && (placed || us_seq_lt(tp->sb[i].left, l))) {
            b = tp->sb[i];
        } else if (!placed) {
            b.left = l;
            b.right = r;
            placed = true;
            i--; /* look at sb[i] again next */
        } else {
            break;
        }
        if (n && us_seq_leq(b.left, out[n - 1].right)) {
            if (us_seq_gt(b.right, out[n - 1].right))
                out[n - 1].right = b.right;
        } else {
            out[n++] = b;
        }
    }
    if (n > US_TCP_SACK_SLOTS)
        n = US_TCP_SACK_SLOTS;
    memcpy(tp->sb, out, n * sizeof(out[0]));
    tp->nsb = (uint8_t)n;
}

void us_tcp_sack_update(struct us_tcpcb *tp, const struct us_tcp_view *th)
{
    sack_trim(tp);
    if (!(tp->flags & TF_SACK))
        return;
    for (unsigned i = 0; i < th->opts.sack_count; i++) {
        uint32_t l = th->opts.sack[i].left, r = th->opts.sack[i].right;
        /* RFC 2018 §4 blocks lie above the cumulative ACK and within what
         * was sent; anything else (a D-SACK, garbage) is ignored. */
        if (!us_seq_lt(l, r) || !us_seq_gt(l, tp->snd_una) || us_seq_gt(r, tp->snd_max))
            continue;
        sack_insert(tp, l, r);
    }
}

uint32_t us_tcp_sacked_bytes(const struct us_tcpcb *tp)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < tp->nsb; i++)
        n += tp->sb[i].right - tp->sb[i].left;
    return n;
}

void us_tcp_sack_recover(struct us_stack *s, struct us_tcpcb *tp, bool first)
{
    sack_trim(tp);
    if (!tp->nsb) {
        if (first)
            us_tcp_retransmit_head(s, tp);
        return;
    }
    uint32_t high = tp->sb[tp->nsb - 1].right;
    uint32_t flight = us_tcp_flight(tp), sacked = us_tcp_sacked_bytes(tp);
    /* RFC 6675 §4 pipe, counting every hole below the highest SACK as
     * lost and the retransmissions of this recovery as in flight again. */
    if (us_seq_lt(tp->rexmit_nxt, tp->snd_una))
        tp->rexmit_nxt = tp->snd_una;
    uint32_t lost = 0, resent = 0, seq = tp->snd_una;
    for (unsigned i = 0; i < tp->nsb; i++) {
        uint32_t hole_end = tp->sb[i].left;
        lost += hole_end - seq;
        /* The part of this hole already resent in this recovery. */
        uint32_t r_end = us_seq_lt(tp->rexmit_nxt, hole_end) ? tp->rexmit_nxt : hole_end;
        if (us_seq_gt(r_end, seq))
            resent += r_end - seq;
        seq = tp->sb[i].right;
    }
    uint32_t pipe = flight - sacked - lost + resent;
    unsigned guard = 0;
    while ((first || pipe + tp->mss <= tp->cc.cwnd) && guard++ < 64) {
        uint32_t at = tp->rexmit_nxt;
        uint32_t hole_end = high;
        bool in_hole = false;
        for (unsigned i = 0; i < tp->nsb; i++) {
            if (us_seq_geq(at, tp->sb[i].left) && us_seq_lt(at, tp->sb[i].right)) {
                at = tp->sb[i].right; /* SACKed: skip the range */
                continue;
            }
            if (us_seq_lt(at, tp->sb[i].left)) {
                hole_end = tp->sb[i].left;
                in_hole = true;
                break;
            }
        }
        if (!in_hole || us_seq_geq(at, high))
            break;
        uint32_t len = hole_end - at;
        if (len > tp->mss)
            len = tp->mss;
        if (us_tcp_retransmit_range(s, tp, at, len) < 0)
            break;
        tp->rexmit_nxt = at + len;
        pipe += len;
        first = false;
    }
}
