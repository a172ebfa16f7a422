/* RACK-TLP loss detection (RFC 8985), as Linux's tcp_recovery.c and the
 * loss probe of tcp_output.c do it.
 *
 * RACK: a segment is lost when a segment sent after it has been delivered
 * and more than an RTT plus a reordering window has passed since it was
 * sent. Time, not counting duplicate ACKs, so a retransmission that is lost
 * again is found the same way as an original (no waiting for the RTO), and
 * any number of holes in one window is repaired within about one round trip.
 *
 * TLP: when the tail of a flight is lost no later segment can be delivered
 * to reveal it; a probe after about two RTTs of silence (new data, or the
 * last segment again) draws the SACK that lets RACK repair the tail without
 * a retransmission timeout. (ustack also probes in fast recovery; see
 * us_tcp_tlp_schedule.) */
#include "tcp/tcp.h"

/* RFC 8985 §7.2's WCDelAckT: the peer may delay the ACK of a lone segment. */
#define TLP_DELACK_ALLOWANCE (200 * US_NS_PER_MS)
/* Linux's TCP_TIMEOUT_MIN: slack for timer granularity. */
#define TLP_SLACK (2 * US_NS_PER_MS)
/* Probes in a row without an answer: one in the open state (RFC 8985
 * §7.2), more in fast recovery, each after twice the wait (ustack's). */
#define TLP_MAX_PROBES_RECOVERY 3

/* RFC 8985 §6.2 RACK_sent_after: t1/seq1 was sent after t2/seq2. */
static bool sent_after(us_time_ns t1, uint32_t seq1, us_time_ns t2, uint32_t seq2)
{
    return t1 > t2 || (t1 == t2 && us_seq_gt(seq1, seq2));
}

void us_tcp_rack_delivered(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_seg *g)
{
    if (!tp->loss) /* never: a record is sent with the block behind it */
        return;
    us_time_ns rtt = s->now - g->xmit_time;
    if (g->flags & US_TCP_SEG_EVER_RETRANS) {
        /* RFC 8985 §6.2 step 2: this may be the ACK of the original, not
         * of the retransmission, if it came back quicker than the path's
         * minimum RTT. (The RFC's other test, an echoed timestamp older
         * than the retransmission, misleads for SACKed segments: RFC 7323
         * §4.3 echoes the last in-order segment's, so Linux does without.) */
        if (rtt < tp->rack.min_rtt)
            return;
    } else if (us_seq_lt(g->end, tp->rack.fack)) {
        /* Sent once and delivered below data SACKed earlier: the network
         * reorders (Linux's tcp_check_sack_reordering). */
        if (!tp->loss->rack.reord)
            s->mib.tcpext.TCPSACKReorder++;
        tp->loss->rack.reord = true;
    }
    if (sent_after(g->xmit_time, g->end, tp->loss->rack.xmit_time, tp->loss->rack.end_seq)) {
        tp->loss->rack.xmit_time = g->xmit_time;
        tp->loss->rack.end_seq = g->end;
        tp->loss->rack.rtt = rtt;
    }
}

/* RFC 8985 §6.2 step 4's RACK.reo_wnd_mult, as Linux's
 * tcp_rack_update_reo_wnd: a D-SACK (a retransmission was not needed)
 * widens the window by a quarter of min_rtt, at most once a round trip; it
 * stays wide for 16 recoveries, then starts again at one quarter. */
#define RACK_RECOVERY_THRESH 16

void us_tcp_rack_dsack(struct us_tcpcb *tp)
{
    if (!tp->loss) /* a D-SACK before anything was sent: nothing to learn */
        return;
    tp->loss->rack.reord = true; /* a needless retransmission: delayed, not lost */
    if (tp->loss->rack.reo_steps && us_seq_lt(tp->snd_una, tp->loss->rack.dsack_round))
        return;
    if (tp->loss->rack.reo_steps < 255)
        tp->loss->rack.reo_steps =
            (uint8_t)(tp->loss->rack.reo_steps ? tp->loss->rack.reo_steps + 1 : 2);
    tp->loss->rack.dsack_round = tp->snd_max;
    tp->loss->rack.reo_persist = RACK_RECOVERY_THRESH;
}

void us_tcp_rack_recovery(struct us_tcpcb *tp)
{
    if (tp->loss->rack.reo_persist && !--tp->loss->rack.reo_persist)
        tp->loss->rack.reo_steps = 1;
}

/* RFC 8985 §6.2 step 4: how much reordering to tolerate. None once
 * recovery is under way or DupThresh segments are SACKed, unless the path
 * was seen to reorder; then a quarter of the minimum RTT per step, at most
 * SRTT. */
static us_time_ns reo_wnd(const struct us_tcpcb *tp)
{
    if (!tp->loss->rack.reord) {
        if (tp->flags & (TF_IN_RECOVERY | TF_LOSS))
            return 0;
        if (tp->rtx.sacked >= 3u * tp->mss)
            return 0;
    }
    uint32_t steps = tp->loss->rack.reo_steps ? tp->loss->rack.reo_steps : 1;
    us_time_ns w = tp->rack.min_rtt / 4 * steps;
    return w < tp->srtt ? w : tp->srtt;
}

uint32_t us_tcp_rack_detect_loss(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->reo_at = US_TIME_NEVER;
    if (!tp->loss || !tp->loss->rack.xmit_time)
        return 0;
    us_time_ns wnd = reo_wnd(tp), wait = 0;
    uint32_t newly = 0;
    /* Only the records still unaccounted for, in the order they were sent
     * (Linux's tsorted_sent_queue, ordered as RACK_sent_after): SACKed
     * ones and those waiting for a retransmission are not on the list, and
     * the walk ends at the first sent after the most recently delivered. */
    struct us_tcp_rtx *q = &tp->rtx;
    for (uint32_t link = q->thead; link;) {
        struct us_tcp_seg *g = &q->seg[link - 1];
        link = g->tnext;
        s->mib.tcpext.TCPRackSegsExamined++;
        if (!sent_after(tp->loss->rack.xmit_time, tp->loss->rack.end_seq, g->xmit_time, g->end))
            break;
        us_time_ns deadline = g->xmit_time + tp->loss->rack.rtt + wnd;
        if (deadline <= s->now) {
            if (g->flags & US_TCP_SEG_RETRANS)
                s->mib.tcpext.TCPLostRetransmit++;
            newly += us_tcp_seg_len(g);
            us_tcp_rtx_mark_lost(q, g); /* off the list */
        } else if (deadline - s->now > wait) {
            wait = deadline - s->now;
        }
    }
    /* Segments that may yet be reordered, not lost: look again when
     * their reordering window has passed (RFC 8985 §6.3). */
    if (wait)
        us_tcp_timer_arm(s, tp, &tp->reo_at, s->now + wait);
    return newly;
}

void us_tcp_rack_reo_timeout(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->reo_at = US_TIME_NEVER;
    if (!us_tcp_rack_detect_loss(s, tp))
        return;
    if (!(tp->flags & (TF_IN_RECOVERY | TF_LOSS)))
        us_tcp_enter_recovery(s, tp);
    us_tcp_output(s, tp);
}

void us_tcp_tlp_schedule(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->tlp_at = US_TIME_NEVER;
    /* RFC 8985 §7.2: with SACK (RACK needs it), not after a timeout, one
     * probe until an ACK answers; in the open state not while segments
     * are SACKed (RACK's reordering timer has what it needs).
     *
     * Unlike the RFC's SHOULD and Linux, a probe may also go during fast
     * recovery. When the few segments a reduced window keeps in flight,
     * or all their ACKs, are lost, nothing else would arrive to reveal it
     * and the connection would wait for the RTO (at least 200 ms); on a
     * short lossy path that wait is hundreds of round trips, and it was
     * most of the time a 10% loss transfer took. For the same reason up
     * to three probes go there, each after twice the wait. */
    bool recovery = (tp->flags & TF_IN_RECOVERY) != 0;
    if (s->sysctl.tcp_early_retrans < 3 || !(tp->flags & TF_SACK) || (tp->flags & TF_LOSS) ||
        !tp->srtt || tp->snd_una == tp->snd_max)
        return;
    if (tp->tlp_probes >= (recovery ? TLP_MAX_PROBES_RECOVERY : 1u))
        return;
    if (!recovery && tp->rtx.sacked)
        return;
    /* RFC 8985 §7.2: PTO = 2 SRTT, more when a lone segment's ACK may be
     * delayed; doubled for each unanswered probe. */
    us_time_ns pto = 2 * tp->srtt;
    pto += us_tcp_flight(tp) <= tp->mss ? TLP_DELACK_ALLOWANCE : TLP_SLACK;
    pto <<= tp->tlp_probes;
    /* No later than the RTO would fire: then the probe goes instead,
     * which costs no cwnd (Linux's tcp_schedule_loss_probe). */
    us_time_ns at = s->now + pto;
    if (tp->rto_at != US_TIME_NEVER && at > tp->rto_at)
        at = tp->rto_at;
    us_tcp_timer_arm(s, tp, &tp->tlp_at, at);
}

void us_tcp_tlp_fire(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->tlp_at = US_TIME_NEVER;
    if (tp->snd_una == tp->snd_max || (tp->flags & TF_LOSS) || !tp->rtx.n)
        return;
    /* RFC 8985 §7.3: new data if the peer's window allows it (one segment
     * past cwnd; in recovery a segment already deemed lost goes first),
     * else the last segment not SACKed again. */
    uint32_t before = tp->snd_max, segs = tp->segs_out;
    tp->cwnd_extra = tp->mss;
    us_tcp_output(s, tp);
    tp->cwnd_extra = 0;
    bool probed = tp->segs_out != segs;
    tp->loss->tlp_retrans = probed && tp->snd_max == before;
    if (!probed) {
        /* The last segment not SACKed: the tail in the open state; in
         * recovery, where the tail may be SACKed, the highest hole. */
        uint32_t i = tp->rtx.n;
        while (i > 0 && (us_tcp_rtx_at(&tp->rtx, i - 1)->flags & US_TCP_SEG_SACKED))
            i--;
        if (i > 0) {
            struct us_tcp_seg *g = us_tcp_rtx_at(&tp->rtx, i - 1);
            /* The probe is the last segment's worth of it. */
            uint32_t mss = tp->mss;
            if (us_tcp_seg_len(g) > mss + 1 && us_tcp_rtx_split(&tp->rtx, i - 1, g->end - mss) == 0)
                i++;
            probed = us_tcp_retransmit_seg(s, tp, i - 1) == 0;
            tp->loss->tlp_retrans = probed;
        }
    }
    if (probed) {
        s->mib.tcpext.TCPLossProbes++;
        tp->tlp_active = true;
        tp->loss->tlp_end = tp->snd_max;
        tp->tlp_probes++;
        us_tcp_rearm_rto(s, tp);
        us_tcp_tlp_schedule(s, tp); /* the next, if one more may go */
    }
}

void us_tcp_tlp_ack(struct us_stack *s, struct us_tcpcb *tp, uint32_t ack, bool dsack,
                    bool pure_dup)
{
    /* RFC 8985 §7.4 (Linux's tcp_process_tlp_ack): did the probe repair a
     * loss? Then the congestion window must still come down once. */
    if (!tp->tlp_active || us_seq_lt(ack, tp->loss->tlp_end))
        return;
    if (!tp->loss->tlp_retrans || dsack) {
        tp->tlp_active = false; /* new data, or both copies arrived: no loss */
    } else if (us_seq_gt(ack, tp->loss->tlp_end)) {
        tp->tlp_active = false;
        s->mib.tcpext.TCPLossProbeRecovery++;
        /* In fast recovery the window is coming down already. */
        if (!(tp->flags & (TF_IN_RECOVERY | TF_LOSS))) {
            us_tcp_cc_recovery_enter(&tp->cc, us_tcp_flight(tp), s->now);
            us_tcp_cc_recovery_exit(&tp->cc, s->now);
        }
    } else if (pure_dup) {
        tp->tlp_active = false;
    }
}
