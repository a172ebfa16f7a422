/* Undoing a congestion response that was not needed (Linux's
 * tcp_try_undo_recovery, tcp_try_undo_dsack and tcp_try_undo_loss).
 *
 * A segment that was only delayed or reordered, not lost, still gets
 * retransmitted and still costs the window its cut. Two signs say so
 * afterwards: every retransmission of the episode came back as a D-SACK
 * (RFC 2883: the receiver got both copies), or an ACK echoes a timestamp
 * older than the episode's first retransmission (RFC 3522, Eifel: it was
 * the original that arrived). Then cwnd and ssthresh go back to what they
 * were before the episode; after a spurious timeout, the segments it marked
 * lost are no longer resent. */
#include "tcp/tcp.h"

void us_tcp_undo_init(struct us_tcpcb *tp)
{
    /* A timeout within recovery keeps the first record. Without the loss
     * block nothing was sent with a record (tcp_loss.c): nothing to undo. */
    if (!tp->loss || (tp->undo_active && (tp->flags & (TF_IN_RECOVERY | TF_LOSS))))
        return;
    tp->undo_active = true;
    tp->loss->undo_marker = tp->snd_una;
    tp->loss->undo_retrans = 0;
    tp->loss->undo_cwnd = tp->cc.cwnd;
    tp->loss->undo_ssthresh = tp->cc.ssthresh;
    tp->loss->retrans_stamp = 0;
}

void us_tcp_undo_retransmitted(struct us_stack *s, struct us_tcpcb *tp)
{
    if (!tp->undo_active)
        return;
    tp->loss->undo_retrans++;
    if (!tp->loss->retrans_stamp) {
        tp->loss->retrans_stamp = us_tcp_ts_now(tp, s->now);
        if (!tp->loss->retrans_stamp)
            tp->loss->retrans_stamp = 1;
    }
}

void us_tcp_undo_dsack(struct us_tcpcb *tp, uint32_t left, uint32_t right)
{
    /* Only duplicates of what this episode retransmitted count. */
    if (!tp->undo_active || !us_seq_gt(right, tp->loss->undo_marker) || !tp->loss->undo_retrans)
        return;
    uint32_t segs = (right - left + tp->mss - 1) / tp->mss;
    tp->loss->undo_retrans = segs >= tp->loss->undo_retrans ? 0 : tp->loss->undo_retrans - segs;
}

bool us_tcp_undo_possible(const struct us_tcpcb *tp, const struct us_tcp_view *th)
{
    if (!tp->undo_active || !tp->loss->retrans_stamp)
        return false;
    if (!tp->loss->undo_retrans)
        return true;
    /* tcp_packet_delayed: the echo is from before the first retransmission. */
    return (tp->flags & TF_TSTAMP) && th->opts.ts_present && th->opts.tsecr &&
           (int32_t)(th->opts.tsecr - tp->loss->retrans_stamp) < 0;
}

void us_tcp_undo(struct us_tcpcb *tp, bool unmark_loss)
{
    /* tcp_undo_cwnd_reduction. */
    if (tp->cc.cwnd < tp->loss->undo_cwnd)
        tp->cc.cwnd = tp->loss->undo_cwnd;
    if (tp->cc.ssthresh < tp->loss->undo_ssthresh)
        tp->cc.ssthresh = tp->loss->undo_ssthresh;
    if (unmark_loss) {
        /* What the spurious timeout marked lost and has not resent yet is
         * in flight after all. */
        for (uint32_t i = 0; i < tp->rtx.n; i++) {
            struct us_tcp_seg *g = us_tcp_rtx_at(&tp->rtx, i);
            if ((g->flags & (US_TCP_SEG_LOST | US_TCP_SEG_RETRANS)) == US_TCP_SEG_LOST)
                us_tcp_rtx_unmark_lost(&tp->rtx, g);
        }
        us_tcp_rtx_rebuild_tlist(&tp->rtx);
    }
    tp->undo_active = false;
}
