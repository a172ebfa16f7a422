/* The sender's side of an arriving ACK (RFC 9293 §3.10.7.4 fifth step,
 * after the range checks; Linux's tcp_ack): what was delivered, cumulatively
 * (the retransmission queue's head goes) and selectively (RFC 2018 SACK
 * blocks mark records), an RTT sample (from the records' transmission times,
 * or the echoed timestamp when Karn's rule forbids that), what is now deemed
 * lost, and the
 * congestion response.
 *
 * Loss detection is RACK (RFC 8985, tcp_rack.c) when SACK was negotiated,
 * and NewReno's duplicate ACK count and partial ACKs (RFC 5681 §3.2, RFC 6582)
 * when not. Either way the records deemed lost are retransmitted by
 * tcp_output.c, lowest first, while the pipe (RFC 6675 §4) stays below cwnd;
 * during fast recovery cwnd follows Proportional Rate Reduction (RFC 6937),
 * so the reduction to ssthresh is spread over the round trip instead of
 * stopping the sender. A retransmission timeout marks everything
 * unSACKed lost and starts again from one segment (RFC 5681 §3.1, RFC 6298
 * §5.4), keeping what the peer SACKed (RFC 6675 §5.1). */
#include "tcp/tcp.h"

#include "sock/sock.h"

#include <string.h>

uint32_t us_tcp_pipe(const struct us_tcpcb *tp)
{
    /* RFC 6675 §4's pipe as Linux's tcp_packets_in_flight, in bytes: sent,
     * less what left the network (SACKed, or lost), plus the
     * retransmissions of it that are in flight again. Without SACK each
     * duplicate ACK stands for one segment that left (tcp_add_reno_sack). */
    int64_t pipe = (int64_t)us_tcp_flight(tp) - tp->rtx.sacked - tp->rtx.lost + tp->rtx.retrans -
                   tp->reno_sacked;
    return pipe > 0 ? (uint32_t)pipe : 0;
}

/* What one ACK tells the sender. */
struct ack_sample {
    uint32_t delivered;    /* bytes newly ACKed or SACKed (PRR's DeliveredData) */
    us_time_ns first_ackt; /* oldest cumulatively ACKed record sent once */
    us_time_ns first_sackt;
    bool retrans_acked; /* a retransmitted record was ACKed: no RTT (Karn) */
    bool dsack;         /* a D-SACK (RFC 2883) */
    uint32_t fack;      /* the highest SACKed sequence number after it */
};

static void note_first(us_time_ns *first, us_time_ns t)
{
    if (!*first || t < *first)
        *first = t;
}

/* Marks the records in [l, r) SACKed, splitting one the range covers only
 * in part so that exactly the covered part is marked. false if a split
 * failed (out of memory): the range is then not wholly marked. */
static bool tag_range(struct us_stack *s, struct us_tcpcb *tp, uint32_t l, uint32_t r,
                      struct ack_sample *a)
{
    for (uint32_t i = us_tcp_rtx_find(&tp->rtx, l); i < tp->rtx.n; i++) {
        struct us_tcp_seg *g = us_tcp_rtx_at(&tp->rtx, i);
        if (!us_seq_lt(g->seq, r))
            break;
        if (g->flags & US_TCP_SEG_SACKED)
            continue;
        if (us_seq_lt(g->seq, l)) {
            if (us_tcp_rtx_split(&tp->rtx, i, l) < 0)
                return false;
            continue; /* the covered half is record i + 1 */
        }
        if (us_seq_gt(g->end, r)) {
            if (us_tcp_rtx_split(&tp->rtx, i, r) < 0)
                return false;
            g = us_tcp_rtx_at(&tp->rtx, i);
        }
        a->delivered += us_tcp_seg_len(g);
        if (!(g->flags & US_TCP_SEG_EVER_RETRANS))
            note_first(&a->first_sackt, g->xmit_time);
        us_tcp_rack_delivered(s, tp, g);
        us_tcp_rtx_mark_sacked(&tp->rtx, g);
        if (us_seq_gt(g->end, a->fack))
            a->fack = g->end;
    }
    return true;
}

/* Tags [l, r) less what the previous ACK's blocks covered: those records
 * are SACKed already, and a block that grows by a segment per ACK would
 * otherwise be walked whole on every ACK. */
static bool tag_new_part(struct us_stack *s, struct us_tcpcb *tp, uint32_t l, uint32_t r,
                         struct ack_sample *a)
{
    const struct us_tcp_rtx *q = &tp->rtx;
    bool done[US_TCP_MAX_SACK] = {false};
    uint32_t cur = l;
    /* The cached blocks are disjoint: take them lowest first. */
    for (;;) {
        int low = -1;
        for (int k = 0; k < q->sack_cache_n; k++) {
            const struct us_tcp_sack_block *c = &q->sack_cache[k];
            if (done[k] || !us_seq_gt(c->right, cur) || !us_seq_lt(c->left, r))
                continue;
            if (low < 0 || us_seq_lt(c->left, q->sack_cache[low].left))
                low = k;
        }
        if (low < 0)
            break;
        done[low] = true;
        const struct us_tcp_sack_block *c = &q->sack_cache[low];
        if (us_seq_lt(cur, c->left) && !tag_range(s, tp, cur, c->left, a))
            return false;
        if (us_seq_gt(c->right, cur))
            cur = c->right;
    }
    return !us_seq_lt(cur, r) || tag_range(s, tp, cur, r, a);
}

/* RFC 2018 §4: the blocks mark records SACKed. */
static void sack_tag(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_view *th,
                     struct ack_sample *a)
{
    const struct us_tcp_opts *o = &th->opts;
    struct us_tcp_sack_block cache[US_TCP_MAX_SACK];
    uint8_t ncache = 0;
    bool ok = true;
    for (unsigned k = 0; k < o->sack_count; k++) {
        uint32_t l = o->sack[k].left, r = o->sack[k].right;
        /* RFC 2883 §4: a first block below the cumulative ACK, or inside
         * the second block, reports data that arrived twice. */
        if (k == 0 &&
            (us_seq_leq(r, th->ack) || (o->sack_count > 1 && us_seq_geq(l, o->sack[1].left) &&
                                        us_seq_leq(r, o->sack[1].right)))) {
            a->dsack = true;
            s->mib.tcpext.TCPDSACKRecv++;
            us_tcp_undo_dsack(tp, l, r);
            us_tcp_rack_dsack(tp);
            continue;
        }
        /* Blocks lie above the cumulative ACK and within what was sent;
         * anything else is ignored. */
        if (!us_seq_lt(l, r) || us_seq_gt(r, tp->snd_max) || us_seq_leq(r, tp->snd_una))
            continue;
        if (us_seq_lt(l, tp->snd_una))
            l = tp->snd_una;
        if (ok && !tag_new_part(s, tp, l, r, a))
            ok = false;
        if (!ok)
            tag_range(s, tp, l, r, a); /* no cache to trust: the whole block */
        /* Kept if disjoint from those kept so far (a misbehaving peer's
         * overlapping blocks are simply not cached). */
        bool disjoint = true;
        for (unsigned j = 0; j < ncache; j++)
            if (us_seq_lt(cache[j].left, r) && us_seq_gt(cache[j].right, l))
                disjoint = false;
        if (disjoint)
            cache[ncache++] = (struct us_tcp_sack_block){l, r};
    }
    tp->rtx.sack_cache_n = ok ? ncache : 0;
    memcpy(tp->rtx.sack_cache, cache, ncache * sizeof(cache[0]));
}

/* The cumulative ACK: records up to ack leave the queue (Linux's
 * tcp_clean_rtx_queue). */
static void clean_rtx(struct us_stack *s, struct us_tcpcb *tp, uint32_t ack, struct ack_sample *a)
{
    while (tp->rtx.n) {
        struct us_tcp_seg *g = us_tcp_rtx_at(&tp->rtx, 0);
        if (!us_seq_lt(g->seq, ack))
            break;
        bool whole = us_seq_leq(g->end, ack);
        if (!(g->flags & US_TCP_SEG_SACKED)) {
            a->delivered += (whole ? g->end : ack) - g->seq;
            if (g->flags & US_TCP_SEG_EVER_RETRANS)
                a->retrans_acked = true;
            else
                note_first(&a->first_ackt, g->xmit_time);
            us_tcp_rack_delivered(s, tp, g);
        }
        if (!whole) {
            us_tcp_rtx_trim_head(&tp->rtx, ack);
            break;
        }
        us_tcp_rtx_pop(&tp->rtx);
    }
}

void us_tcp_enter_recovery(struct us_stack *s, struct us_tcpcb *tp)
{
    /* RFC 6675 §5 step 4 / RFC 6582 §3.2 step 2: one congestion response
     * per window, until the ACK passes the RecoveryPoint. Segments in
     * flight have the loss block behind them (tcp_loss.c); this is only
     * for a connection that lost something sent without a record. */
    if (us_tcp_loss_reserve(s, tp) < 0)
        return; /* no recovery without memory for it: the RTO repairs */
    uint32_t flight = us_tcp_flight(tp);
    us_tcp_undo_init(tp); /* before the flags say recovery */
    us_tcp_rack_recovery(tp);
    tp->flags |= TF_IN_RECOVERY;
    tp->recover = tp->snd_max;
    tp->loss->prr_delivered = tp->loss->prr_out = 0;
    tp->loss->recover_fs = flight ? flight : 1;
    us_tcp_cc_recovery_enter(&tp->cc, flight, s->now);
    /* RFC 6937: the first retransmission goes at once. */
    uint32_t pipe = us_tcp_pipe(tp);
    if (tp->cc.cwnd < pipe + tp->mss)
        tp->cc.cwnd = pipe + tp->mss;
    if (tp->flags & TF_SACK)
        s->mib.tcpext.TCPSackRecovery++;
    else
        s->mib.tcpext.TCPRenoRecovery++;
}

/* RFC 6937 PRR with the slow-start reduction bound, in Linux's form
 * (tcp_cwnd_reduction): during recovery cwnd is what the pipe holds plus
 * what this ACK lets out, so sending continues at the rate of delivery
 * scaled down to ssthresh instead of stopping while the pipe drains. */
static void prr_update(struct us_tcpcb *tp, uint32_t delivered, bool advanced, bool newly_lost)
{
    uint32_t pipe = us_tcp_pipe(tp), ssthresh = tp->cc.ssthresh;
    int64_t sndcnt;
    tp->loss->prr_delivered += delivered;
    if (pipe > ssthresh) {
        /* sndcnt = ceil(prr_delivered * ssthresh / RecoverFS) - prr_out */
        uint64_t share = ((uint64_t)tp->loss->prr_delivered * ssthresh + tp->loss->recover_fs - 1) /
                         tp->loss->recover_fs;
        sndcnt = (int64_t)share - tp->loss->prr_out;
    } else {
        /* Below ssthresh: at most what was delivered (more while the
         * left edge moves and nothing new is lost), up to ssthresh. */
        int64_t out = (int64_t)tp->loss->prr_delivered - tp->loss->prr_out;
        sndcnt = out > delivered ? out : delivered;
        if (advanced && !newly_lost)
            sndcnt += tp->mss;
        if (sndcnt > (int64_t)ssthresh - pipe)
            sndcnt = (int64_t)ssthresh - pipe;
    }
    if (sndcnt < 0)
        sndcnt = 0;
    if (!tp->loss->prr_out && sndcnt < tp->mss)
        sndcnt = tp->mss; /* the fast retransmit goes at once */
    uint64_t cwnd = (uint64_t)pipe + (uint64_t)sndcnt;
    tp->cc.cwnd = cwnd > US_TCP_CC_CWND_MAX ? US_TCP_CC_CWND_MAX : (uint32_t)cwnd;
}

/* NewReno's loss detection without SACK: the DupThresh-th duplicate ACK
 * marks the first segment lost (RFC 5681 §3.2), so does each partial ACK
 * in recovery (RFC 6582 §3.2 step 4). The bytes newly marked. */
static uint32_t reno_detect_loss(struct us_stack *s, struct us_tcpcb *tp, bool advanced, bool dup)
{
    if (!tp->rtx.n)
        return 0;
    struct us_tcp_seg *head = us_tcp_rtx_at(&tp->rtx, 0);
    if (head->flags & US_TCP_SEG_LOST)
        return 0;
    if (tp->flags & TF_IN_RECOVERY) {
        /* Only a partial ACK: one that reaches the RecoveryPoint ends the
         * recovery instead (RFC 6582 §3.2 steps 3 and 4). */
        if (!advanced || us_seq_geq(tp->snd_una, tp->recover))
            return 0;
    } else if (tp->flags & TF_LOSS) {
        return 0;
    } else {
        if (!dup)
            return 0;
        /* Early retransmit (RFC 5827 §3.1): with fewer than four segments
         * outstanding and nothing new to send, one fewer than the segments
         * outstanding is enough. */
        uint32_t outstanding = (us_tcp_flight(tp) + tp->mss - 1) / tp->mss;
        uint32_t sent = us_tcp_flight(tp) < tp->snd_len ? us_tcp_flight(tp) : tp->snd_len;
        uint32_t thresh = 3;
        if (outstanding < 4 && tp->snd_len == sent && s->sysctl.tcp_early_retrans >= 1 &&
            s->sysctl.tcp_early_retrans <= 3)
            thresh = outstanding > 1 ? outstanding - 1 : 1;
        if (tp->dupacks < thresh)
            return 0;
    }
    us_tcp_rtx_mark_lost(&tp->rtx, head);
    return us_tcp_seg_len(head);
}

/* Send buffer autotuning, as tcp_sndbuf_expand: room for twice the
 * congestion window and never less than twice the initial window's ten
 * segments (so that under heavy loss, with SACKed data held behind a hole,
 * there is still new data to send and reveal a lost retransmission), up to
 * tcp_wmem[2]. Linux counts buffer overhead too; this counts payload. */
void us_tcp_sndbuf_expand(struct us_stack *s, struct us_tcpcb *tp)
{
    if (tp->flags & TF_SNDBUF_LOCK)
        return;
    uint64_t segs = 10ull * tp->mss;
    uint64_t want = 2ull * (tp->cc.cwnd > segs ? tp->cc.cwnd : segs);
    if (want > (uint64_t)s->sysctl.tcp_wmem[2])
        want = (uint64_t)s->sysctl.tcp_wmem[2];
    if (want <= (uint64_t)tp->sndbuf)
        return;
    /* Only the limit grows: the ring itself grows as far as sends fill it
     * (us_tcp_sbuf_reserve). */
    tp->sndbuf = (int)want;
    if (tp->sk)
        tp->sk->sndbuf = tp->sndbuf;
}

void us_tcp_ack(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_view *th,
                uint32_t seg_len, bool fin, uint32_t wnd)
{
    uint32_t ack = th->ack;
    /* RACK.fack, the highest sequence number SACKed, is snd_una until
     * something above it is SACKed (Linux's tcp_highest_sack_seq); it
     * starts outside [snd_una, snd_max] (0, not the ISN) and falls behind
     * snd_una when cumulative ACKs pass it. Left there, half of all
     * connections (ISN in the other half of the sequence space from 0)
     * took their first cumulative ACK for reordering. */
    if (us_seq_lt(tp->rack.fack, tp->snd_una) || us_seq_gt(tp->rack.fack, tp->snd_max))
        tp->rack.fack = tp->snd_una;
    struct ack_sample a = {.fack = tp->rack.fack};
    bool advanced = us_seq_gt(ack, tp->snd_una);
    bool sack_info = (tp->flags & TF_SACK) && th->opts.sack_count;
    /* RFC 5681 §2's duplicate ACK; with SACK, one that reports SACKed
     * data counts whatever its window (RFC 6675 §2). */
    bool dup = ack == tp->snd_una && seg_len == 0 && !fin && tp->snd_una != tp->snd_max &&
               (wnd == tp->snd_wnd || sack_info);
    if (sack_info)
        sack_tag(s, tp, th, &a);
    /* The peer answered: an ICMP error kept for a timeout is stale now
     * (tcp_ack clears sk_err_soft: "something worked"). */
    if (!us_seq_lt(ack, tp->snd_una))
        tp->soft_err = 0;
    uint32_t flight_before = us_tcp_flight(tp);
    uint32_t acked = 0;
    if (advanced) {
        acked = ack - tp->snd_una;
        clean_rtx(s, tp, ack, &a);
        uint32_t data = acked < tp->snd_len ? acked : tp->snd_len;
        tp->sbuf_head = tp->sbuf_cap ? (tp->sbuf_head + data) % tp->sbuf_cap : 0;
        tp->snd_len -= data;
        tp->snd_una = ack;
        if (us_seq_lt(tp->snd_nxt, tp->snd_una))
            tp->snd_nxt = tp->snd_una;
        tp->bytes_acked += acked;
        tp->retransmits = 0;
        tp->backoff = 0;
        tp->persist_backoff = 0;
        tp->dupacks = 0;
        if (tp->reno_sacked) {
            /* One ACK filled the hole; the rest of it covers segments
             * the duplicate ACKs already counted (tcp_remove_reno_sacks). */
            uint32_t eaten = acked > tp->mss ? acked - tp->mss : 0;
            if (eaten > tp->reno_sacked)
                eaten = tp->reno_sacked;
            tp->reno_sacked -= eaten;
            a.delivered = a.delivered > eaten ? a.delivered - eaten : 0;
        }
        if (us_tcp_flight(tp) < tp->reno_sacked)
            tp->reno_sacked = us_tcp_flight(tp);
    } else if (dup) {
        tp->dupacks++;
        if (!(tp->flags & TF_SACK) && tp->reno_sacked + tp->mss <= us_tcp_flight(tp)) {
            tp->reno_sacked += tp->mss;
            a.delivered += tp->mss;
        }
    } else if (seg_len == 0) {
        s->mib.tcpext.TCPPureAcks++;
    }
    if (us_seq_gt(a.fack, tp->rack.fack))
        tp->rack.fack = a.fack;

    /* RTT (RFC 6298 §3 with Karn's rule): from the oldest record this ACK
     * delivered that was sent once, as Linux's tcp_ack_update_rtt. */
    us_time_ns rtt = 0;
    if (a.first_ackt && !a.retrans_acked) {
        rtt = s->now - a.first_ackt;
    } else if (a.first_sackt) {
        rtt = s->now - a.first_sackt;
    } else if (advanced && (tp->flags & TF_TSTAMP) && th->opts.ts_present && th->opts.tsecr) {
        /* Karn's rule leaves no sample: the echoed timestamp gives one
         * (RFC 7323 §4, RTTM; only from an ACK that moves the left edge,
         * §4.1), on the 1 ms timestamp clock. */
        uint32_t ms = us_tcp_ts_now(tp, s->now) - th->opts.tsecr;
        if (ms < 120000)
            rtt = (us_time_ns)(ms ? ms : 1) * US_NS_PER_MS;
    }
    if (rtt) {
        us_tcp_rtt_sample(tp, rtt);
        if (!tp->rack.min_rtt || rtt < tp->rack.min_rtt)
            tp->rack.min_rtt = rtt;
    }

    us_tcp_tlp_ack(s, tp, ack, a.dsack, dup && !sack_info);

    uint32_t newly_lost;
    if (tp->flags & TF_SACK)
        newly_lost =
            tp->rtx.sacked || tp->rtx.retrans || tp->rtx.lost ? us_tcp_rack_detect_loss(s, tp) : 0;
    else
        newly_lost = reno_detect_loss(s, tp, advanced, dup);

    bool may_undo = us_tcp_undo_possible(tp, th);
    if ((tp->flags & TF_LOSS) && advanced && may_undo) {
        /* tcp_try_undo_loss: the timeout was spurious (RFC 3522); what it
         * marked lost is in flight after all. */
        s->mib.tcpext.TCPLossUndo++;
        s->mib.tcpext.TCPSpuriousRTOs++;
        us_tcp_undo(tp, true);
        tp->flags &= ~(uint32_t)TF_LOSS;
        may_undo = false;
    } else if (!(tp->flags & TF_LOSS) && a.dsack && tp->undo_active && !tp->loss->undo_retrans &&
               tp->loss->retrans_stamp) {
        /* tcp_try_undo_dsack: every retransmission of the episode came
         * back twice; in recovery or after it (the last D-SACK often
         * arrives after the ACK that ended it). */
        s->mib.tcpext.TCPDSACKUndo++;
        us_tcp_undo(tp, false);
        may_undo = false;
    }
    if ((tp->flags & (TF_IN_RECOVERY | TF_LOSS)) && us_seq_geq(tp->snd_una, tp->recover)) {
        /* The RecoveryPoint is passed: recovery ends, cwnd deflates to
         * ssthresh (RFC 6582 §3.2 step 3, RFC 6937 §3), or comes back if
         * the episode turned out needless; after a timeout slow start
         * simply carries on. */
        if (may_undo) {
            if (tp->flags & TF_IN_RECOVERY)
                s->mib.tcpext.TCPFullUndo++;
            else
                s->mib.tcpext.TCPLossUndo++;
            us_tcp_undo(tp, false);
        } else if (tp->flags & TF_IN_RECOVERY) {
            us_tcp_cc_recovery_exit(&tp->cc, s->now);
        }
        /* Without an undo now, the episode's record stays for D-SACKs still
         * on their way, until the next episode starts its own. */
        tp->flags &= ~(uint32_t)(TF_IN_RECOVERY | TF_LOSS);
        tp->reno_sacked = 0;
    }
    if (newly_lost && !(tp->flags & (TF_IN_RECOVERY | TF_LOSS))) {
        us_tcp_enter_recovery(s, tp);
    } else if (tp->flags & TF_IN_RECOVERY) {
        if (a.delivered)
            prr_update(tp, a.delivered, advanced, newly_lost != 0);
    } else if (advanced) {
        us_tcp_cc_on_ack(&tp->cc, acked, flight_before, rtt, s->now);
    }

    if (advanced) {
        if (tp->snd_una == tp->snd_max) {
            tp->rto_at = US_TIME_NEVER;
            tp->reo_at = US_TIME_NEVER;
        } else {
            us_tcp_rearm_rto(s, tp);
        }
        us_tcp_sndbuf_expand(s, tp);
        tp->wake = true; /* sk_write_space */
    }
    /* The loss probe counts its two RTTs from the last ACK that told
     * something (RFC 8985 §7.2); such an ACK answers the probes sent, and
     * in fast recovery ends the probe's episode. */
    if (advanced || a.delivered) {
        tp->tlp_probes = 0;
        if (tp->flags & TF_IN_RECOVERY)
            tp->tlp_active = false;
        us_tcp_tlp_schedule(s, tp);
    }
    if (tp->rtx.lost > tp->rtx.retrans || a.delivered)
        us_tcp_schedule_output(s, tp);
}
