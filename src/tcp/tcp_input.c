/* TCP input: RFC 9293 §3.10.7 SEGMENT ARRIVES, state by state, with the
 * hardening of RFC 5961 (challenge ACKs for in-window RSTs and for SYNs in
 * synchronized states, ACK range checks) and PAWS (RFC 7323 §5); what an
 * ACK means for the sender is tcp_ack.c's. A segment that matches no
 * connection and no listener meets the CLOSED state (§3.10.7.1) and is
 * answered with a reset, so a peer's connect() fails at once. */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "sock/sock.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* Linux's PAWS window: a ts_recent older than 24 days is not trusted. */
#define PAWS_24DAYS (24ull * 24 * 3600 * US_NS_PER_SEC)

void us_tcp_send_reset_reply(struct us_stack *s, const struct us_ipv4_view *ip,
                             const struct us_tcp_view *in)
{
    if (in->flags & US_TCP_RST)
        return; /* never answer a reset with a reset */
    struct us_pkt *p = us_pkt_alloc(s->pool);
    if (!p) {
        s->mib.link.PoolExhausted++;
        return;
    }
    struct us_tcp_repr r;
    memset(&r, 0, sizeof(r));
    r.sport = in->dport;
    r.dport = in->sport;
    if (in->flags & US_TCP_ACK) {
        /* <SEQ=SEG.ACK><CTL=RST> */
        r.seq = in->ack;
        r.flags = US_TCP_RST;
    } else {
        /* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN and FIN count in SEG.LEN. */
        uint32_t seg_len =
            (uint32_t)in->payload_len + !!(in->flags & US_TCP_SYN) + !!(in->flags & US_TCP_FIN);
        r.ack = in->seq + seg_len;
        r.flags = US_TCP_RST | US_TCP_ACK;
    }
    uint8_t *seg = us_pkt_put(p, US_TCP_HLEN);
    us_tcp_emit(seg, US_TCP_HLEN, &r, ip->dst, ip->src);
    s->mib.tcp.OutSegs++;
    s->mib.tcp.OutRsts++;
    us_ipv4_output(s, p, ip->dst, ip->src, US_IPPROTO_TCP, NULL);
}

uint8_t us_tcp_wscale_for(struct us_stack *s, bool rcvbuf_locked, int rcvbuf)
{
    if (!s->sysctl.tcp_window_scaling)
        return 0;
    /* tcp_select_initial_window: scale for the largest window this
     * connection may ever offer: ilog2(space) - 15, space the larger of
     * tcp_rmem[2] and rmem_max, or the locked buffer's window. */
    uint64_t space;
    if (rcvbuf_locked) {
        space = (uint64_t)rcvbuf / 2; /* us_tcp_rcv_space */
    } else {
        space = (uint64_t)s->sysctl.tcp_rmem[2];
        if ((uint64_t)s->sysctl.rmem_max > space)
            space = (uint64_t)s->sysctl.rmem_max;
    }
    int ws = -15;
    while (space > 1) {
        space >>= 1;
        ws++;
    }
    return (uint8_t)(ws < 0 ? 0 : ws > US_TCP_MAX_WSCALE ? US_TCP_MAX_WSCALE : ws);
}

uint8_t us_tcp_choose_wscale(struct us_stack *s, const struct us_tcpcb *tp)
{
    return us_tcp_wscale_for(s, (tp->flags & TF_RCVBUF_LOCK) != 0, tp->rcvbuf);
}

void us_tcp_init_cc(struct us_stack *s, struct us_tcpcb *tp)
{
    const struct us_tcp_cc_ops *ops = us_tcp_cc_find(s->sysctl.tcp_congestion_control);
    us_tcp_cc_init(&tp->cc, ops ? ops : &us_tcp_cc_cubic, tp->mss, s->now);
}

void us_tcp_syn_options(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_view *th)
{
    const struct us_tcp_opts *o = &th->opts;
    /* RFC 7323 §2.2: scaling only if both sides sent the option. */
    if (o->wscale_present && s->sysctl.tcp_window_scaling) {
        tp->flags |= TF_WSCALE;
        tp->snd_wscale = o->wscale > US_TCP_MAX_WSCALE ? US_TCP_MAX_WSCALE : o->wscale;
    } else {
        tp->snd_wscale = 0;
        tp->rcv_wscale = 0;
    }
    if (o->ts_present && s->sysctl.tcp_timestamps) {
        tp->flags |= TF_TSTAMP;
        tp->ts_recent = o->tsval;
        tp->ts_recent_age = s->now;
    }
    if (o->sack_permitted && s->sysctl.tcp_sack)
        tp->flags |= TF_SACK;
    /* RFC 9293 §3.7.1: the peer's MSS (536 without the option), clamped to
     * our route's MTU - 40 and TCP_MAXSEG; timestamps take 12 bytes of
     * every segment (Linux's mss_cache). */
    uint32_t mss = o->mss_present ? o->mss : US_TCP_MSS_DEFAULT;
    if (mss > tp->advmss)
        mss = tp->advmss;
    if (tp->user_mss && mss > tp->user_mss)
        mss = tp->user_mss;
    if (tp->flags & TF_TSTAMP)
        mss -= 12;
    if (mss < 64)
        mss = 64;
    tp->mss = (uint16_t)mss;
    tp->rcv_mss = (uint16_t)mss;
    tp->snd_wnd = th->window; /* never scaled in a SYN */
    tp->max_sndwnd = tp->snd_wnd;
}

/* The connection is synchronized: windows, cc, receive autotuning start. */
static void established(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_view *th)
{
    us_tcp_set_state(s, tp, US_TCP_ESTABLISHED);
    us_tcp_init_cc(s, tp);
    us_tcp_sndbuf_expand(s, tp); /* tcp_init_buffer_space */
    /* RFC 7323 §2.2: the window of a SYN (the client's SYN-ACK here) is
     * never scaled; that of the ACK completing a passive open is. */
    tp->snd_wnd = th->flags & US_TCP_SYN ? th->window : (uint32_t)th->window << tp->snd_wscale;
    tp->max_sndwnd = tp->snd_wnd;
    tp->snd_wl1 = th->seq;
    tp->snd_wl2 = th->ack;
    tp->rcvq_space = 10u * tp->advmss;
    if (tp->rcvq_space > us_tcp_rcv_space(tp))
        tp->rcvq_space = us_tcp_rcv_space(tp);
    tp->quickack = US_TCP_QUICKACKS;
    tp->rto_at = US_TIME_NEVER;
    tp->syn_retries = 0;
    tp->backoff = 0;
    tp->lsndtime = s->now; /* tcp_init_transfer */
    us_tcp_reset_keepalive(s, tp);
}

/* RFC 5961 §3.2, §4.2: answer with an ACK of what we expect, so a genuine
 * peer resynchronizes and a blind attacker learns nothing. */
/* __tcp_oow_rate_limited: at most one ACK per tcp_invalid_ratelimit ms
 * for segments that only provoke one, so that two hosts that disagree
 * about a connection cannot ping-pong ACKs forever (an ACK storm) and a
 * flood of forged segments draws few answers. Segments with data (and no
 * SYN) are never limited: they are not an ACK loop. */
static bool oow_rate_limited(struct us_stack *s, struct us_tcpcb *tp, uint32_t len, uint8_t fl,
                             uint64_t *skipped)
{
    if (len && !(fl & US_TCP_SYN))
        return false;
    us_time_ns gap = (us_time_ns)s->sysctl.tcp_invalid_ratelimit * US_NS_PER_MS;
    if (tp->last_oow_ack && s->now - tp->last_oow_ack < gap) {
        (*skipped)++;
        return true;
    }
    tp->last_oow_ack = s->now;
    return false;
}

/* tcp_send_challenge_ack: per connection as above, then the stack-wide
 * tcp_challenge_ack_limit per second (RFC 5961 §7; off at Linux's default
 * INT_MAX), randomised around the limit so that the count cannot be used
 * to infer a connection's sequence numbers (CVE-2016-5696). */
static void challenge_ack(struct us_stack *s, struct us_tcpcb *tp, uint32_t len, uint8_t fl)
{
    if (oow_rate_limited(s, tp, len, fl, &s->mib.tcpext.TCPACKSkippedChallenge))
        return;
    int limit = s->sysctl.tcp_challenge_ack_limit;
    if (limit != INT_MAX) {
        uint64_t sec = s->now / US_NS_PER_SEC;
        if (sec != s->tcp->challenge_sec) {
            uint32_t half = ((uint32_t)limit + 1) / 2;
            s->tcp->challenge_sec = sec;
            s->tcp->challenge_left = half + (uint32_t)us_rng_below(&s->rng, (uint64_t)limit);
        }
        if (!s->tcp->challenge_left)
            return;
        s->tcp->challenge_left--;
    }
    s->mib.tcpext.TCPChallengeACK++;
    us_tcp_send_ack(s, tp);
}

static struct us_tcpcb *child_new(struct us_stack *s, struct us_tcpcb *l,
                                  const struct us_ipv4_view *ip, const struct us_tcp_view *th)
{
    struct us_tcpcb *tp = us_tcpcb_new(s);
    if (!tp)
        return NULL;
    struct us_sock *lsk = l->sk;
    tp->laddr = ip->dst;
    tp->lport = th->dport;
    tp->faddr = ip->src;
    tp->fport = th->sport;
    tp->listener = l;
    tp->rcvbuf = lsk->rcvbuf;
    tp->sndbuf = lsk->sndbuf;
    tp->flags |=
        l->flags & (TF_RCVBUF_LOCK | TF_SNDBUF_LOCK | TF_NODELAY | TF_KEEPALIVE | TF_URGINLINE);
    tp->user_mss = l->user_mss;
    tp->keepidle = l->keepidle;
    tp->keepintvl = l->keepintvl;
    tp->keepcnt = l->keepcnt;
    if (us_tcp_alloc_buffers(s, tp) != 0) {
        us_tcpcb_free(s, tp);
        return NULL;
    }
    tp->advmss = us_tcp_route_mss(s, tp->faddr);
    us_tcp_route_caps(s, tp);
    if (tp->user_mss && tp->advmss > tp->user_mss)
        tp->advmss = tp->user_mss;
    tp->ts_offset = us_tcp_ts_offset(s, tp->laddr, tp->faddr);
    return tp;
}

static void accept_enqueue(struct us_stack *s, struct us_tcpcb *l, struct us_tcpcb *tp)
{
    s->mib.tcp.PassiveOpens++;
    tp->lnext = NULL;
    if (l->lq->acceptq_tail)
        l->lq->acceptq_tail->lnext = tp;
    else
        l->lq->acceptq_head = tp;
    l->lq->acceptq_tail = tp;
    l->lq->acceptq_len++;
}

/* An ACK to a listener: the end of a cookie handshake (cookie_v4_check),
 * else a reset. */
static void listen_ack(struct us_stack *s, struct us_tcpcb *l, const struct us_ipv4_view *ip,
                       const struct us_tcp_view *th)
{
    uint16_t mss = 0;
    struct us_tcp_cookie_opts co = {0};
    if (s->sysctl.tcp_syncookies && !(th->flags & (US_TCP_SYN | US_TCP_FIN)))
        mss = us_tcp_cookie_check(s, ip, th, &co);
    if (mss && l->lq->acceptq_len >= l->lq->backlog) {
        /* tcp_v4_syn_recv_sock's exit_overflow: drop the ACK quietly
         * (net.ipv4.tcp_abort_on_overflow = 0). */
        s->mib.tcpext.ListenOverflows++;
        s->mib.tcpext.ListenDrops++;
        return;
    }
    if (!mss) {
        if (s->sysctl.tcp_syncookies)
            s->mib.tcpext.SyncookiesFailed++;
        us_tcp_send_reset_reply(s, ip, th);
        return;
    }
    struct us_tcpcb *tp = child_new(s, l, ip, th);
    if (!tp)
        return;
    s->mib.tcpext.SyncookiesRecv++;
    tp->flags |= TF_SYNCOOKIE;
    /* What the SYN offered, as the cookie's timestamp kept it (none
     * without timestamps). */
    tp->rcv_wscale = 0;
    if (co.tstamp) {
        tp->flags |= TF_TSTAMP;
        tp->ts_recent = th->opts.tsval;
        tp->ts_recent_age = s->now;
        if (co.wscale_ok) {
            tp->flags |= TF_WSCALE;
            tp->snd_wscale = co.snd_wscale;
            tp->rcv_wscale = us_tcp_choose_wscale(s, tp);
        }
        if (co.sack_ok)
            tp->flags |= TF_SACK;
    }
    tp->irs = th->seq - 1;
    tp->rcv_nxt = tp->rcv_adv = tp->last_ack_sent = th->seq;
    tp->copied_seq = tp->rcv_nxt;
    tp->iss = th->ack - 1;
    tp->snd_una = tp->snd_nxt = tp->snd_max = th->ack;
    tp->mss = tp->rcv_mss = mss < tp->advmss ? mss : tp->advmss;
    if (co.tstamp) {
        tp->mss -= 12; /* the option on every segment */
        tp->rcv_mss = tp->mss;
    }
    us_tcp_ehash_add(s, tp);
    established(s, tp, th); /* never in the SYN queue: CLOSED to ESTABLISHED */
    accept_enqueue(s, l, tp);
    us_tcp_wake(s, tp);
}

/* ---- LISTEN (§3.10.7.2) ---- */

static void listen_input(struct us_stack *s, struct us_tcpcb *l, const struct us_ipv4_view *ip,
                         const struct us_tcp_view *th)
{
    if (th->flags & US_TCP_RST)
        return;
    if (th->flags & US_TCP_ACK) {
        listen_ack(s, l, ip, th);
        return;
    }
    if (!(th->flags & US_TCP_SYN))
        return;
    /* The accept queue full: Linux drops the SYN (tcp_conn_request's
     * sk_acceptq_is_full), counting both ListenOverflows and ListenDrops. */
    if (l->lq->acceptq_len >= l->lq->backlog) {
        s->mib.tcpext.ListenOverflows++;
        s->mib.tcpext.ListenDrops++;
        return;
    }
    /* Linux's tcp_conn_request: the SYN queue (half-open children) is
     * bounded by the backlog (inet_csk_reqsk_queue_is_full); past it, a
     * SYN cookie if net.ipv4.tcp_syncookies, else the SYN is dropped. */
    if (l->lq->synq_len >= l->lq->backlog) {
        if (s->sysctl.tcp_syncookies) {
            us_tcp_send_cookie_synack(s, l, ip, th);
            return;
        }
        s->mib.tcpext.TCPReqQFullDrop++;
        s->mib.tcpext.ListenDrops++;
        return;
    }
    /* Without cookies, tcp_max_syn_backlog also caps it: a SYN is dropped
     * once fewer than a quarter of tcp_max_syn_backlog's slots are free
     * (Linux spares peers its TCP metrics know; ustack keeps none). With
     * cookies on this does not apply, so a listener's backlog alone (4096
     * for `ustack tap --serve`) decides when cookies begin. */
    int max_syn = s->sysctl.tcp_max_syn_backlog;
    if (!s->sysctl.tcp_syncookies && max_syn - l->lq->synq_len < (max_syn >> 2)) {
        s->mib.tcpext.ListenDrops++;
        return;
    }
    struct us_tcpcb *tp = child_new(s, l, ip, th);
    if (!tp) {
        s->mib.tcpext.ListenDrops++;
        return;
    }
    tp->rcv_wscale = us_tcp_choose_wscale(s, tp);
    us_tcp_syn_options(s, tp, th);
    tp->irs = th->seq;
    tp->rcv_nxt = tp->rcv_adv = tp->last_ack_sent = th->seq + 1;
    tp->copied_seq = tp->rcv_nxt;
    tp->iss = us_tcp_new_isn(s, tp->laddr, tp->lport, tp->faddr, tp->fport);
    tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
    tp->state = US_TCP_SYN_RECV;
    l->lq->synq_len++;
    us_tcp_ehash_add(s, tp);
    us_tcp_send_syn(s, tp);
    us_tcp_req_from_tcpcb(s, tp); /* waits for the ACK as a small record */
}

/* ---- SYN-SENT (§3.10.7.3) ---- */

static void syn_sent_input(struct us_stack *s, struct us_tcpcb *tp, const struct us_ipv4_view *ip,
                           const struct us_tcp_view *th)
{
    bool ack_ok = false;
    if (th->flags & US_TCP_ACK) {
        if (us_seq_leq(th->ack, tp->iss) || us_seq_gt(th->ack, tp->snd_max)) {
            us_tcp_send_reset_reply(s, ip, th);
            return;
        }
        ack_ok = true;
    }
    if (th->flags & US_TCP_RST) {
        if (ack_ok)
            us_tcp_drop(s, tp, ECONNREFUSED);
        return;
    }
    if (!(th->flags & US_TCP_SYN))
        return;
    tp->irs = th->seq;
    tp->rcv_nxt = tp->rcv_adv = tp->last_ack_sent = th->seq + 1;
    tp->copied_seq = tp->rcv_nxt;
    us_tcp_syn_options(s, tp, th);
    if (ack_ok) {
        tp->snd_una = th->ack;
        if (tp->rtt_timing && !tp->syn_retries)
            us_tcp_rtt_sample(tp, s->now - tp->rtt_time);
        tp->rtt_timing = false;
        established(s, tp, th);
        tp->flags |= TF_ACKNOW;
        us_tcp_output(s, tp);
        tp->wake = true;
        return;
    }
    /* Simultaneous open (§3.10.7.3, figure 8): SYN-RECEIVED, SYN-ACK with
     * our original ISN. */
    us_tcp_set_state(s, tp, US_TCP_SYN_RECV);
    tp->snd_nxt = tp->iss;
    us_tcp_send_syn(s, tp);
}

/* ---- TIME-WAIT (Linux's tcp_timewait_state_process) ---- */

/* true: the segment is a new SYN that may reopen the pair, tp is gone. */
static bool time_wait_input(struct us_stack *s, struct us_tcpcb *tp, const struct us_tcp_view *th)
{
    if (th->flags & US_TCP_RST) {
        /* RFC 1337 says ignore; Linux (tcp_rfc1337 = 0) kills the bucket. */
        us_tcp_done(s, tp);
        return false;
    }
    if ((th->flags & US_TCP_SYN) && !(th->flags & US_TCP_ACK)) {
        if (us_tcp_tw_syn_is_newer(th, tp->rcv_nxt, tp->flags & TF_TSTAMP, tp->ts_recent)) {
            s->mib.tcpext.TWRecycled++;
            us_tcp_done(s, tp);
            return true;
        }
    }
    /* A retransmitted FIN: ACK it again and restart the 2MSL wait. */
    if (th->flags & US_TCP_FIN)
        us_tcp_timer_arm(s, tp, &tp->tw_at, s->now + US_TCP_TIMEWAIT_LEN);
    us_tcp_send_ack(s, tp);
    return false;
}

/* The sequence test of §3.10.7.4 (first step) in Linux's form
 * (tcp_sequence): the segment must not end before the ACK we last sent and
 * must start within the window we offered. A segment at rcv_nxt is thus
 * acceptable even into a zero window (its data is trimmed to nothing and
 * answered with an ACK, which is what a zero-window probe asks for). */
static bool seq_acceptable(const struct us_tcpcb *tp, uint32_t seq, uint32_t end_seq)
{
    uint32_t wnd = us_seq_gt(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
    return !us_seq_lt(end_seq, tp->last_ack_sent) && !us_seq_gt(seq, tp->rcv_nxt + wnd);
}

void us_tcp_fin(struct us_stack *s, struct us_tcpcb *tp)
{
    /* §3.10.7.4 eighth step: the FIN is in order now. */
    tp->flags &= ~(uint32_t)TF_RCVD_FIN;
    tp->rcv_nxt++;
    tp->flags |= TF_ACKNOW;
    us_tcp_schedule_output(s, tp);
    if (tp->sk)
        tp->sk->shutdown |= US_RCV_SHUTDOWN;
    tp->wake = true;
    switch (tp->state) {
    case US_TCP_SYN_RECV:
    case US_TCP_ESTABLISHED:
        us_tcp_set_state(s, tp, US_TCP_CLOSE_WAIT);
        break;
    case US_TCP_FIN_WAIT1:
        /* Our FIN not yet acknowledged: simultaneous close (figure 13). */
        us_tcp_set_state(s, tp, US_TCP_CLOSING);
        break;
    case US_TCP_FIN_WAIT2:
        us_tcp_send_ack(s, tp);
        us_tcp_enter_time_wait(s, tp);
        break;
    default:
        break;
    }
}

/* The segment's FIN (§3.10.7.4 eighth step): processed when all the data
 * before it is in, else remembered for when the hole is filled. */
static void fin_arrived(struct us_stack *s, struct us_tcpcb *tp, uint32_t fin_seq)
{
    if (tp->state == US_TCP_CLOSE_WAIT || tp->state == US_TCP_CLOSING ||
        tp->state == US_TCP_LAST_ACK)
        return;
    if (fin_seq == tp->rcv_nxt) {
        us_tcp_fin(s, tp);
    } else if (us_seq_gt(fin_seq, tp->rcv_nxt)) {
        tp->flags |= TF_RCVD_FIN;
        tp->fin_seq = fin_seq;
    }
}

/* Synchronized states and SYN-RECEIVED (§3.10.7.4). pkt: data at payload. */
static void established_input(struct us_stack *s, struct us_tcpcb *tp, struct us_pkt *pkt,
                              const struct us_ipv4_view *ip, const struct us_tcp_view *th)
{
    uint32_t seq = th->seq;
    uint32_t len = (uint32_t)th->payload_len;
    uint8_t fl = th->flags;

    /* A retransmitted SYN in SYN-RECEIVED: send the SYN-ACK again. */
    if (tp->state == US_TCP_SYN_RECV && (fl & US_TCP_SYN) && !(fl & US_TCP_ACK) && seq == tp->irs) {
        us_tcp_send_syn(s, tp);
        goto drop;
    }
    /* PAWS (RFC 7323 §5.3): a timestamp older than ts_recent marks an old
     * duplicate. */
    if ((tp->flags & TF_TSTAMP) && th->opts.ts_present && !(fl & US_TCP_RST) &&
        us_seq_lt(th->opts.tsval, tp->ts_recent) && s->now - tp->ts_recent_age < PAWS_24DAYS) {
        s->mib.tcpext.PAWSEstab++;
        if (!oow_rate_limited(s, tp, len, fl, &s->mib.tcpext.TCPACKSkippedPAWS)) {
            us_tcp_dsack_old(s, tp, seq, len); /* tcp_send_dupack */
            us_tcp_send_ack(s, tp);
        }
        goto drop;
    }
    /* First: the sequence number. */
    if (!seq_acceptable(tp, seq, seq + len + ((fl & US_TCP_FIN) ? 1 : 0))) {
        if ((fl & US_TCP_SYN) && !(fl & US_TCP_RST)) {
            challenge_ack(s, tp, len, fl); /* RFC 5961 §4.2: whatever its sequence number */
            goto drop;
        }
        if (!(fl & US_TCP_RST)) {
            if (len && tp->rcv_adv == tp->rcv_nxt)
                s->mib.tcpext.TCPZeroWindowDrop++;
            if (!oow_rate_limited(s, tp, len, fl, &s->mib.tcpext.TCPACKSkippedSeq)) {
                us_tcp_dsack_old(s, tp, seq, len); /* tcp_send_dupack */
                tp->flags |= TF_ACKNOW;
                us_tcp_send_ack(s, tp);
            }
        }
        goto drop;
    }
    /* RFC 7323 §4.3: remember the timestamp of the segment that covers
     * the left edge of our window. */
    if ((tp->flags & TF_TSTAMP) && th->opts.ts_present && us_seq_leq(seq, tp->last_ack_sent) &&
        us_seq_geq(th->opts.tsval, tp->ts_recent)) {
        tp->ts_recent = th->opts.tsval;
        tp->ts_recent_age = s->now;
    }
    /* Second: RST (RFC 5961 §3.2). */
    if (fl & US_TCP_RST) {
        if (seq != tp->rcv_nxt) {
            challenge_ack(s, tp, len, fl);
            goto drop;
        }
        if (tp->state == US_TCP_SYN_RECV && tp->listener) {
            us_tcp_done(s, tp); /* back to LISTEN: the child just goes */
        } else {
            int err = tp->state == US_TCP_SYN_RECV     ? ECONNREFUSED
                      : tp->state == US_TCP_CLOSE_WAIT ? EPIPE
                                                       : ECONNRESET;
            if (tp->state == US_TCP_CLOSING || tp->state == US_TCP_LAST_ACK)
                us_tcp_done(s, tp);
            else
                us_tcp_drop(s, tp, err);
        }
        goto drop;
    }
    /* Fourth: a SYN in a synchronized state (RFC 5961 §4.2). */
    if (fl & US_TCP_SYN) {
        challenge_ack(s, tp, len, fl);
        goto drop;
    }
    /* Fifth: the ACK field. */
    if (!(fl & US_TCP_ACK))
        goto drop;
    if (tp->state == US_TCP_SYN_RECV) {
        if (!us_seq_gt(th->ack, tp->snd_una) || us_seq_gt(th->ack, tp->snd_max)) {
            us_tcp_send_reset_reply(s, ip, th);
            goto drop;
        }
        struct us_tcpcb *l = tp->listener;
        if (l && l->lq->acceptq_len >= l->lq->backlog) {
            /* tcp_check_req with a full accept queue: drop the ACK, keep
             * the child half-open; the SYN-ACK timer will try again. */
            s->mib.tcpext.ListenOverflows++;
            s->mib.tcpext.ListenDrops++;
            goto drop;
        }
        tp->snd_una = th->ack;
        if (!tp->syn_retries) /* from the SYN-ACK (Linux's snt_synack) */
            us_tcp_rtt_sample(tp, s->now - tp->rtt_time);
        established(s, tp, th);
        if (l)
            accept_enqueue(s, l, tp);
        tp->wake = true; /* the listener's accept, or a simultaneous open's connect */
    }
    if (us_seq_gt(th->ack, tp->snd_max)) {
        /* RFC 9293 §3.10.7.4: an ACK for something not yet sent. */
        tp->flags |= TF_ACKNOW;
        us_tcp_send_ack(s, tp);
        goto drop;
    }
    /* RFC 5961 §5.2: acceptable is SND.UNA - MAX.SND.WND <= SEG.ACK; one
     * further below is suspect (Linux's tcp_ack). */
    if (us_seq_lt(th->ack, tp->snd_una - tp->max_sndwnd)) {
        challenge_ack(s, tp, len, fl);
        goto drop;
    }
    uint32_t wnd = (uint32_t)th->window << tp->snd_wscale;
    us_tcp_ack(s, tp, th, len, (fl & US_TCP_FIN) != 0, wnd);
    /* The send window (SND.WL1/WL2 rule). */
    if (us_seq_lt(tp->snd_wl1, seq) || (tp->snd_wl1 == seq && us_seq_leq(tp->snd_wl2, th->ack))) {
        bool opened = tp->snd_wnd == 0 && wnd > 0;
        tp->snd_wnd = wnd;
        tp->snd_wl1 = seq;
        tp->snd_wl2 = th->ack;
        if (wnd > tp->max_sndwnd)
            tp->max_sndwnd = wnd;
        if (opened) {
            tp->persist_at = US_TIME_NEVER;
            tp->persist_backoff = 0;
        }
    }
    bool fin_acked = (tp->flags & TF_FIN_SENT) && tp->snd_una == tp->snd_max;
    switch (tp->state) {
    case US_TCP_FIN_WAIT1:
        if (fin_acked) {
            us_tcp_set_state(s, tp, US_TCP_FIN_WAIT2);
            if (!tp->sk) /* tcp_fin_timeout for an orphan */
                us_tcp_timer_arm(s, tp, &tp->fin2_at,
                                 s->now + (us_time_ns)s->sysctl.tcp_fin_timeout * US_NS_PER_SEC);
            tp->wake = true;
        }
        break;
    case US_TCP_CLOSING:
        if (fin_acked) {
            us_tcp_enter_time_wait(s, tp);
            goto drop;
        }
        break;
    case US_TCP_LAST_ACK:
        if (fin_acked) {
            us_tcp_done(s, tp);
            goto drop;
        }
        break;
    default:
        break;
    }
    /* Sixth: the URG bit, in the states that take data. */
    if (tp->state == US_TCP_ESTABLISHED || tp->state == US_TCP_FIN_WAIT1 ||
        tp->state == US_TCP_FIN_WAIT2)
        us_tcp_urg(tp, th, pkt);
    /* Seventh: the segment text. */
    if (len) {
        if (tp->state == US_TCP_ESTABLISHED || tp->state == US_TCP_FIN_WAIT1 ||
            tp->state == US_TCP_FIN_WAIT2) {
            if (!tp->sk && tp->listener == NULL) {
                /* Data for a closed socket (tcp_rcv_state_process,
                 * TCPAbortOnData): nobody will read it, reset. */
                s->mib.tcpext.TCPAbortOnData++;
                tp->rcv_nxt = seq + len;
                us_tcp_send_rst(s, tp);
                us_tcp_done(s, tp);
                goto drop;
            }
            if ((tp->flags & TF_TSTAMP) && th->opts.ts_present && th->opts.tsecr) {
                uint32_t ms = us_tcp_ts_now(tp, s->now) - th->opts.tsecr;
                if (ms < 120000)
                    us_tcp_rcv_rtt_sample(tp, (us_time_ns)(ms ? ms : 1) * US_NS_PER_MS);
            }
            us_tcp_data_queue(s, tp, pkt, seq);
            pkt = NULL;
            tp->wake = true;
        }
    }
    /* Eighth: FIN. */
    if (fl & US_TCP_FIN)
        fin_arrived(s, tp, seq + len);
    if (tp->snd_len > (tp->snd_nxt - tp->snd_una) || (tp->flags & TF_FIN_QUEUED) ||
        tp->rtx.lost > tp->rtx.retrans)
        us_tcp_schedule_output(s, tp);
    us_tcp_reset_keepalive(s, tp);
drop:
    if (pkt)
        us_pkt_free(pkt);
}

void us_tcp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip)
{
    struct us_tcp_view th;
    int err = us_tcp_parse(
        ip->payload, ip->payload_len, ip->src, ip->dst,
        pkt->offload & (US_PKT_CSUM_VALID | US_PKT_CSUM_PARTIAL) ? US_WIRE_CSUM_VALID : 0, &th);
    if (err) {
        if (err == US_WIRE_BAD_CSUM)
            s->mib.tcp.InCsumErrors++;
        s->mib.tcp.InErrs++;
        us_pkt_free(pkt);
        return;
    }
    s->mib.tcp.InSegs++;
    /* From here on the packet holds just the payload. */
    us_pkt_pull(pkt, (uint32_t)(th.payload - pkt->data));
    us_pkt_trim(pkt, (uint32_t)th.payload_len);

    struct us_tcpcb *tp = us_tcp_lookup_established(s, ip->dst, th.dport, ip->src, th.sport);
    if (!tp) {
        /* A half-open child or a pair in TIME_WAIT without its tcpcb
         * (tcp_minisocks.c): the child becomes a tcpcb again. */
        uint32_t req = us_tcp_req_lookup(s, ip->dst, th.dport, ip->src, th.sport);
        uint32_t tw = req ? 0 : us_tcp_tw_lookup(s, ip->dst, th.dport, ip->src, th.sport);
        if (req && !(tp = us_tcp_req_inflate(s, req))) {
            us_pkt_free(pkt); /* no memory: as if lost */
            return;
        }
        if (tw && !us_tcp_tw_input(s, tw, &th)) {
            us_pkt_free(pkt);
            return;
        }
    } else if (tp->state == US_TCP_TIME_WAIT) {
        if (!time_wait_input(s, tp, &th)) {
            us_pkt_free(pkt);
            return;
        }
        tp = NULL; /* a SYN that reopens the pair goes to the listener */
    }
    if (!tp) {
        struct us_tcpcb *l = us_tcp_lookup_listener(s, ip->dst, th.dport);
        if (l)
            listen_input(s, l, ip, &th);
        else
            us_tcp_send_reset_reply(s, ip, &th);
        us_pkt_free(pkt);
        return;
    }
    /* A super-frame counts as the segments it stands for (Linux's
     * tcp_segs_in; TcpInSegs counts it once, as Linux's tcp_v4_rcv does). */
    tp->segs_in += pkt->gso_size && pkt->len > pkt->gso_size
                       ? (pkt->len + pkt->gso_size - 1u) / pkt->gso_size
                       : 1u;
    if (tp->state == US_TCP_SYN_SENT) {
        syn_sent_input(s, tp, ip, &th);
        us_pkt_free(pkt);
    } else {
        established_input(s, tp, pkt, ip, &th);
    }
    /* Wake-ups last: the readiness callback may close or reuse anything. */
    if (!tp->dead && tp->wake) {
        tp->wake = false;
        us_tcp_wake(s, tp);
    }
}
