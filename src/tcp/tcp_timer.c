/* TCP timers (FreeBSD's tcp_timer.c, Linux's tcp_timer.c): retransmission
 * (RFC 6298), RACK's reordering timer and the loss probe (RFC 8985, run by
 * tcp_rack.c), delayed ACK, persist (RFC 9293 §3.8.6.1), keepalive (RFC 9293
 * §3.8.4, Linux's knobs), orphaned FIN_WAIT2 (tcp_fin_timeout) and
 * TIME_WAIT (2MSL = 60 s, Linux's TCP_TIMEWAIT_LEN).
 *
 * Each connection keeps absolute deadlines, and the stack a pairing heap
 * of connections keyed on a time no later than each one's earliest
 * deadline (a min-heap like Linux's timer wheel is a hash: per expiry the
 * cost is that of the connections with something due, not of all of them).
 * Re-arming is lazy, as Linux's mod_timer of a pending timer: a deadline
 * that moves later (the RTO and the loss probe, on every ACK) only writes
 * the field; the heap entry fires at the old time, finds nothing due and is
 * filed again under the new earliest. Only a deadline that moves earlier
 * touches the heap. us_stack_poll returns the heap's first key as the
 * stack's next deadline. */
#include "tcp/tcp.h"

#include "sock/sock.h"

#include <errno.h>

/* ---- the pairing heap (Fredman, Sedgewick, Sleator, Tarjan 1986) ---- */

/* Two detached roots, either NULL: the later becomes the earlier's first
 * child. */
static struct us_tcpcb *meld(struct us_tcpcb *a, struct us_tcpcb *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (b->timer_key < a->timer_key) {
        struct us_tcpcb *t = a;
        a = b;
        b = t;
    }
    b->th_prev = a;
    b->th_next = a->th_child;
    if (a->th_child)
        a->th_child->th_prev = b;
    a->th_child = b;
    a->th_prev = a->th_next = NULL;
    return a;
}

/* The two-pass pairing of a list of siblings into one heap. */
static struct us_tcpcb *merge_pairs(struct us_tcpcb *first)
{
    struct us_tcpcb *pairs = NULL; /* melded pairs, last first, via th_next */
    while (first) {
        struct us_tcpcb *a = first, *b = a->th_next;
        first = b ? b->th_next : NULL;
        a->th_prev = a->th_next = NULL;
        if (b)
            b->th_prev = b->th_next = NULL;
        struct us_tcpcb *m = meld(a, b);
        m->th_next = pairs;
        pairs = m;
    }
    struct us_tcpcb *root = NULL;
    while (pairs) {
        struct us_tcpcb *m = pairs;
        pairs = m->th_next;
        m->th_next = NULL;
        root = meld(root, m);
    }
    return root;
}

/* Detaches tp (not the root) and its subtree from the heap. */
static void cut(struct us_tcpcb *tp)
{
    struct us_tcpcb *p = tp->th_prev;
    if (p->th_child == tp)
        p->th_child = tp->th_next; /* p is the parent */
    else
        p->th_next = tp->th_next; /* p is the sibling before */
    if (tp->th_next)
        tp->th_next->th_prev = p;
    tp->th_prev = tp->th_next = NULL;
}

static void heap_file(struct us_tcp_table *t, struct us_tcpcb *tp, us_time_ns key)
{
    tp->timer_key = key;
    if (tp->th_filed) {
        /* Only ever earlier: a decrease-key. */
        if (tp != t->timer_heap) {
            cut(tp);
            t->timer_heap = meld(t->timer_heap, tp);
        }
        return;
    }
    tp->th_child = tp->th_prev = tp->th_next = NULL;
    tp->th_filed = true;
    t->timer_heap = meld(t->timer_heap, tp);
}

static struct us_tcpcb *heap_pop(struct us_tcp_table *t)
{
    struct us_tcpcb *tp = t->timer_heap;
    t->timer_heap = merge_pairs(tp->th_child);
    tp->th_child = NULL;
    tp->th_filed = false;
    return tp;
}

static void heap_remove(struct us_tcp_table *t, struct us_tcpcb *tp)
{
    if (tp == t->timer_heap) {
        heap_pop(t);
        return;
    }
    cut(tp);
    struct us_tcpcb *sub = merge_pairs(tp->th_child);
    tp->th_child = NULL;
    tp->th_filed = false;
    t->timer_heap = meld(t->timer_heap, sub);
}

/* Files tp so that it comes due no later than when. */
static void heap_need(struct us_tcp_table *t, struct us_tcpcb *tp, us_time_ns when)
{
    /* One on the poll's due list is filed when the poll comes to it. */
    if (when == US_TIME_NEVER || tp->dead || tp->th_in_due)
        return;
    if (!tp->th_filed || when < tp->timer_key)
        heap_file(t, tp, when);
}

void us_tcp_timer_arm(struct us_stack *s, struct us_tcpcb *tp, us_time_ns *slot, us_time_ns when)
{
    *slot = when;
    heap_need(s->tcp, tp, when);
}

void us_tcp_rearm_rto(struct us_stack *s, struct us_tcpcb *tp)
{
    us_tcp_timer_arm(s, tp, &tp->rto_at, s->now + tp->rto);
}

void us_tcp_rtt_sample(struct us_tcpcb *tp, us_time_ns rtt)
{
    /* Linux's tcp_rtt_estimator. SRTT and RTTVAR as RFC 6298 §2.2-2.3
     * (alpha = 1/8, beta = 1/4), except that a falling RTT moves RTTVAR
     * eight times slower; in mdev = 4 RTTVAR: */
    int64_t m = (int64_t)rtt;
    if (!tp->srtt) {
        tp->srtt = rtt;
        tp->rttvar = rtt / 2; /* mdev = 2 RTT: the first RTO is 3 RTT */
        tp->rto_var = 4 * tp->rttvar > US_TCP_RTO_MIN ? 4 * tp->rttvar : US_TCP_RTO_MIN;
        tp->mdev_max = tp->rto_var;
        tp->rtt_seq = tp->snd_nxt;
    } else {
        int64_t err = m - (int64_t)tp->srtt, mdev = 4 * (int64_t)tp->rttvar;
        tp->srtt = (us_time_ns)((int64_t)tp->srtt + err / 8);
        if (err < 0) {
            err = -err - mdev / 4;
            if (err > 0)
                err /= 8;
        } else {
            err -= mdev / 4;
        }
        mdev += err;
        tp->rttvar = (us_time_ns)(mdev / 4);
        /* The timeout's variance term: the largest mdev of this round
         * trip, never below tcp_rto_min, and once a round ends it decays
         * by a quarter towards that round's largest. */
        if ((us_time_ns)mdev > tp->mdev_max) {
            tp->mdev_max = (us_time_ns)mdev;
            if (tp->mdev_max > tp->rto_var)
                tp->rto_var = tp->mdev_max;
        }
        if (us_seq_gt(tp->snd_una, tp->rtt_seq)) {
            if (tp->mdev_max < tp->rto_var)
                tp->rto_var -= (tp->rto_var - tp->mdev_max) / 4;
            tp->rtt_seq = tp->snd_nxt;
            tp->mdev_max = US_TCP_RTO_MIN;
        }
    }
    if (!tp->srtt)
        tp->srtt = 1;
    /* __tcp_set_rto and tcp_bound_rto: RTO = SRTT + the variance term, so
     * at least SRTT + 200 ms (on a steady 150 ms path 350 ms, where RFC
     * 6298's max(SRTT + 4 RTTVAR, 200 ms) would fire at 200 ms, close
     * behind the ACKs), at most 120 s. */
    us_time_ns rto = tp->srtt + tp->rto_var;
    tp->rto = rto > US_TCP_RTO_MAX ? US_TCP_RTO_MAX : rto;
}

void us_tcp_reset_keepalive(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->keep_probes = 0;
    if (!(tp->flags & TF_KEEPALIVE) || tp->state != US_TCP_ESTABLISHED) {
        tp->keep_at = US_TIME_NEVER;
        return;
    }
    int idle = tp->keepidle ? tp->keepidle : s->sysctl.tcp_keepalive_time;
    us_tcp_timer_arm(s, tp, &tp->keep_at, s->now + (us_time_ns)idle * US_NS_PER_SEC);
}

static us_time_ns backed_off(us_time_ns rto, uint32_t backoff)
{
    us_time_ns t = rto << (backoff < 12 ? backoff : 12);
    return t > US_TCP_RTO_MAX ? US_TCP_RTO_MAX : t;
}

void us_tcp_syn_retransmitting(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->syn_retries++;
    tp->backoff++;
    tp->rtt_timing = false; /* Karn: a resent SYN's answer times nothing */
    s->mib.tcpext.TCPSynRetrans++;
    s->mib.tcp.RetransSegs++;
    tp->total_retrans++;
}

/* The retransmission timer (tcp_retransmit_timer). */
static void rto_fire(struct us_stack *s, struct us_tcpcb *tp)
{
    if (tp->state == US_TCP_SYN_SENT || tp->state == US_TCP_SYN_RECV) {
        int limit =
            tp->state == US_TCP_SYN_SENT ? s->sysctl.tcp_syn_retries : s->sysctl.tcp_synack_retries;
        if ((int)tp->syn_retries >= limit) {
            if (tp->state == US_TCP_SYN_RECV && tp->listener)
                us_tcp_done(s, tp);
            else
                us_tcp_drop(s, tp, ETIMEDOUT);
            return;
        }
        us_tcp_syn_retransmitting(s, tp);
        tp->rto_at = US_TIME_NEVER;
        /* Linux's initial RTO of 1 s, doubled per retry (RFC 6298 §5.5). */
        us_time_ns t = backed_off(US_TCP_TIMEOUT_INIT, tp->backoff);
        us_tcp_send_syn(s, tp);
        us_tcp_timer_arm(s, tp, &tp->rto_at, s->now + t);
        return;
    }
    if (tp->snd_una == tp->snd_max) {
        tp->rto_at = US_TIME_NEVER;
        return;
    }
    if ((int)tp->retransmits >= s->sysctl.tcp_retries2) {
        s->mib.tcpext.TCPAbortOnTimeout++;
        us_tcp_drop(s, tp, ETIMEDOUT);
        return;
    }
    s->mib.tcpext.TCPTimeouts++;
    /* RFC 5681 §3.1: cwnd to one segment; ssthresh halves unless this is
     * a repeated timeout of the same data. Linux's tcp_enter_loss: every
     * segment not SACKed is lost now, retransmissions in flight too; what
     * the peer SACKed stays SACKed (RFC 6675 §5.1), unless the segment at
     * snd_una is among it: then the receiver reneged (RFC 2018 §8). Until
     * snd_max as it is now is ACKed, no fast recovery starts (RFC 6582 §4). */
    us_tcp_undo_init(tp);
    us_tcp_cc_rto(&tp->cc, us_tcp_flight(tp), tp->retransmits > 0, s->now);
    if (tp->rtx.n && (us_tcp_rtx_at(&tp->rtx, 0)->flags & US_TCP_SEG_SACKED)) {
        s->mib.tcpext.TCPSACKReneging++;
        us_tcp_rtx_clear_sacks(&tp->rtx);
    }
    for (uint32_t i = 0; i < tp->rtx.n; i++)
        us_tcp_rtx_mark_lost(&tp->rtx, us_tcp_rtx_at(&tp->rtx, i));
    tp->flags &= ~(uint32_t)TF_IN_RECOVERY;
    tp->flags |= TF_LOSS;
    tp->recover = tp->snd_max;
    tp->dupacks = 0;
    tp->reno_sacked = 0;
    tp->retransmits++;
    tp->backoff++;
    tp->tlp_active = false;
    tp->tlp_probes = 0;
    tp->tlp_at = tp->reo_at = US_TIME_NEVER;
    tp->rto_at = US_TIME_NEVER;
    if (tp->snd_wnd == 0) {
        /* A zero window: the persist timer's job; probe instead. */
        s->mib.tcpext.TCPWinProbe++;
        us_tcp_send_probe(s, tp);
    } else {
        us_tcp_output(s, tp);
    }
    us_tcp_timer_arm(s, tp, &tp->rto_at, s->now + backed_off(tp->rto, tp->backoff));
}

static void persist_fire(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->persist_at = US_TIME_NEVER;
    if (tp->snd_wnd != 0) {
        us_tcp_output(s, tp);
        return;
    }
    /* tcp_probe_timer: unanswered probes count like retransmissions. */
    if ((int)tp->persist_backoff >= s->sysctl.tcp_retries2 && !tp->sk) {
        us_tcp_drop(s, tp, ETIMEDOUT);
        return;
    }
    s->mib.tcpext.TCPWinProbe++;
    us_tcp_send_probe(s, tp);
    tp->persist_backoff++;
    us_tcp_timer_arm(s, tp, &tp->persist_at, s->now + backed_off(tp->rto, tp->persist_backoff));
}

static void keepalive_fire(struct us_stack *s, struct us_tcpcb *tp)
{
    tp->keep_at = US_TIME_NEVER;
    if (!(tp->flags & TF_KEEPALIVE) || tp->state != US_TCP_ESTABLISHED)
        return;
    int cnt = tp->keepcnt ? tp->keepcnt : s->sysctl.tcp_keepalive_probes;
    int intvl = tp->keepintvl ? tp->keepintvl : s->sysctl.tcp_keepalive_intvl;
    if ((int)tp->keep_probes >= cnt) {
        /* Linux's tcp_keepalive_timer: a reset in case the peer is there
         * after all, then the error. */
        us_tcp_send_rst(s, tp);
        us_tcp_drop(s, tp, ETIMEDOUT);
        return;
    }
    /* Only when nothing is in flight: data has its own timer. */
    if (tp->snd_una == tp->snd_max) {
        s->mib.tcpext.TCPKeepAlive++;
        us_tcp_send_probe(s, tp);
        tp->keep_probes++;
    }
    us_tcp_timer_arm(s, tp, &tp->keep_at, s->now + (us_time_ns)intvl * US_NS_PER_SEC);
}

static void fire(struct us_stack *s, struct us_tcpcb *tp, us_time_ns now)
{
    if (tp->tw_at <= now) {
        tp->tw_at = US_TIME_NEVER;
        if (tp->state == US_TCP_TIME_WAIT || (tp->state == US_TCP_CLOSE && !tp->sk)) {
            us_tcp_done(s, tp);
            return;
        }
    }
    if (tp->fin2_at <= now) {
        tp->fin2_at = US_TIME_NEVER;
        if (tp->state == US_TCP_FIN_WAIT2 && !tp->sk) {
            us_tcp_done(s, tp);
            return;
        }
    }
    if (tp->delack_at <= now) {
        tp->delack_at = US_TIME_NEVER;
        if (tp->flags & TF_DELACK) {
            s->mib.tcpext.DelayedACKs++;
            tp->flags |= TF_ACKNOW;
            us_tcp_output(s, tp);
        }
    }
    if (tp->dead)
        return;
    /* The loss probe first: due with the RTO, it goes instead (it re-arms
     * the RTO). */
    if (tp->tlp_at <= now)
        us_tcp_tlp_fire(s, tp);
    if (tp->reo_at <= now)
        us_tcp_rack_reo_timeout(s, tp);
    if (tp->rto_at <= now) {
        rto_fire(s, tp);
        if (tp->dead)
            return;
    }
    if (tp->persist_at <= now) {
        persist_fire(s, tp);
        if (tp->dead)
            return;
    }
    if (tp->keep_at <= now)
        keepalive_fire(s, tp);
}

static us_time_ns earliest(const struct us_tcpcb *tp)
{
    us_time_ns t = tp->rto_at;
    t = us_time_min(t, tp->reo_at);
    t = us_time_min(t, tp->tlp_at);
    t = us_time_min(t, tp->delack_at);
    t = us_time_min(t, tp->persist_at);
    t = us_time_min(t, tp->keep_at);
    t = us_time_min(t, tp->tw_at);
    return us_time_min(t, tp->fin2_at);
}

us_time_ns us_tcp_timers(struct us_stack *s, us_time_ns now)
{
    struct us_tcp_table *t = s->tcp;
    if (t->timer_heap && t->timer_heap->timer_key <= now) {
        /* Every connection filed as due, each fired once, in the order of
         * their keys. */
        struct us_tcpcb *due = NULL, **tail = &due;
        while (t->timer_heap && t->timer_heap->timer_key <= now) {
            struct us_tcpcb *tp = heap_pop(t); /* its th_next is free now */
            tp->th_in_due = true;
            *tail = tp;
            tail = &tp->th_next;
        }
        /* A freed tcpcb stays readable until the reap below, so the list
         * survives callbacks that close sockets. */
        for (struct us_tcpcb *tp = due, *next; tp; tp = next) {
            next = tp->th_next;
            tp->th_next = NULL;
            tp->th_in_due = false;
            s->mib.tcpext.TCPTimerConnsExamined++;
            if (tp->dead)
                continue;
            if (earliest(tp) <= now)
                fire(s, tp, now);
            heap_need(t, tp, earliest(tp)); /* a lazy entry, or the next deadline */
        }
        us_tcp_flush_output(s);
    }
    /* Freed connections leave the heap before their memory goes. */
    for (struct us_tcpcb *tp = t->graveyard; tp; tp = tp->out_next)
        if (tp->th_filed)
            heap_remove(t, tp);
    us_tcp_reap(s);
    us_time_ns next = t->timer_heap ? t->timer_heap->timer_key : US_TIME_NEVER;
    return us_time_min(next, us_tcp_minisock_timers(s, now)); /* TIME_WAIT, SYN_RECV */
}
