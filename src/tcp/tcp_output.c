/* TCP output (FreeBSD's tcp_output.c, Linux's tcp_write_xmit and
 * tcp_xmit_retransmit_queue): decides what a connection sends now — first
 * the segments the retransmission queue holds as lost, then new data, both
 * while the pipe stays below cwnd and within the peer's window, the FIN, or a
 * bare ACK carrying the window — and builds the segments. Every data
 * segment sent gets a record in the retransmission queue (tcp_rtx.h).
 *
 * Payload is copied once, from the send ring into the frame buffer; the
 * headers are written in place in front of it. */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "sock/sock.h"

#include <string.h>

uint32_t us_tcp_ts_now(const struct us_tcpcb *tp, us_time_ns now)
{
    /* RFC 7323 §5.4: a clock between 1 ms and 1 s per tick; Linux's is 1 ms. */
    return (uint32_t)(now / US_NS_PER_MS) + tp->ts_offset;
}

uint32_t us_tcp_flight(const struct us_tcpcb *tp)
{
    return tp->snd_max - tp->snd_una;
}

void us_tcp_schedule_output(struct us_stack *s, struct us_tcpcb *tp)
{
    /* A freed tcpcb waits in the graveyard, linked through out_next: a
     * caller up the stack that still holds it must not queue it again. */
    if ((tp->flags & TF_QUEUED) || tp->dead)
        return;
    tp->flags |= TF_QUEUED;
    tp->out_next = s->tcp->outq;
    s->tcp->outq = tp;
}

void us_tcp_flush_output(struct us_stack *s)
{
    while (s->tcp->outq) {
        struct us_tcpcb *tp = s->tcp->outq;
        s->tcp->outq = tp->out_next;
        tp->out_next = NULL;
        tp->flags &= ~(uint32_t)TF_QUEUED;
        us_tcp_output(s, tp);
    }
}

/* The SACK blocks a segment carries now (RFC 2018 §4): a D-SACK first if
 * a duplicate arrived (RFC 2883 §4), then the out-of-order queue's runs,
 * most recent first. */
static unsigned sack_blocks(const struct us_tcpcb *tp, struct us_tcp_sack_block *out, unsigned max)
{
    if (!(tp->flags & TF_SACK))
        return 0;
    unsigned n = 0;
    if (tp->dsack_pending && max) {
        out[n++] = tp->dsack;
        max--;
    }
    if (us_tcp_has_ofo(tp))
        n += us_tcp_ofo_sack(tp->ofo, out + n, max);
    return n;
}

/* The options every non-SYN segment carries: timestamps (RFC 7323 §3.2:
 * on every segment once negotiated) and SACK blocks. */
static void fill_opts(struct us_stack *s, struct us_tcpcb *tp, struct us_tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    if (tp->flags & TF_TSTAMP) {
        o->ts_present = true;
        o->tsval = us_tcp_ts_now(tp, s->now);
        o->tsecr = tp->ts_recent;
    }
    o->sack_count = (uint8_t)sack_blocks(tp, o->sack, o->ts_present ? 3 : US_TCP_MAX_SACK);
}

/* The payload that fits one segment now: the MSS (already net of the
 * timestamp option) less the SACK blocks the segment will carry, as
 * Linux's tcp_current_mss. */
static uint32_t cur_mss(const struct us_tcpcb *tp)
{
    struct us_tcp_opts o;
    memset(&o, 0, sizeof(o));
    o.ts_present = (tp->flags & TF_TSTAMP) != 0;
    o.sack_count = (uint8_t)sack_blocks(tp, o.sack, o.ts_present ? 3 : US_TCP_MAX_SACK);
    if (!o.sack_count)
        return tp->mss;
    uint32_t extra = (uint32_t)us_tcp_opts_len(&o) - (o.ts_present ? 12u : 0u);
    return tp->mss > extra + 64 ? tp->mss - extra : 64;
}

/* Copies len bytes at offset off of the send ring to dst. */
static void ring_copy(const struct us_tcpcb *tp, uint32_t off, uint8_t *dst, uint32_t len)
{
    uint32_t pos = (tp->sbuf_head + off) % tp->sbuf_cap;
    uint32_t first = tp->sbuf_cap - pos;
    if (first > len)
        first = len;
    memcpy(dst, tp->sbuf + pos, first);
    memcpy(dst + first, tp->sbuf, len - first);
}

/* The urgent pointer (Linux's __tcp_transmit_skb): on every segment that
 * starts before snd_up, pointing to the byte after the urgent one (RFC
 * 6093 §3); one more than 16 bits away is sent as 0xFFFF, the farthest it
 * can point. Urgent mode ends once the urgent byte is acknowledged. */
static void urg_fields(struct us_tcpcb *tp, struct us_tcp_repr *r)
{
    if (!(tp->flags & TF_URG_MODE))
        return;
    if (!us_tcp_urg_mode(tp)) {
        tp->flags &= ~(uint32_t)TF_URG_MODE;
        return;
    }
    if (!us_seq_lt(r->seq, tp->snd_up))
        return;
    if (us_seq_lt(tp->snd_up, r->seq + 0x10000)) {
        r->urg_ptr = (uint16_t)(tp->snd_up - r->seq);
        r->flags |= US_TCP_URG;
    } else if (us_seq_gt(r->seq + 0xFFFF, tp->snd_nxt)) {
        r->urg_ptr = 0xFFFF;
        r->flags |= US_TCP_URG;
    }
}

/* Builds and sends one segment: seq, flags, len payload bytes from the ring
 * at offset off. The window and ACK fields are current. With gso_size, a
 * super-frame standing for segments of gso_size bytes each (TSO), the
 * device cutting it; its headers are the first segment's. */
static int xmit_gso(struct us_stack *s, struct us_tcpcb *tp, uint32_t seq, uint8_t flags,
                    uint32_t off, uint32_t len, const struct us_tcp_opts *syn_opts,
                    uint32_t gso_size)
{
    size_t need = US_TCP_HLEN + 40 + len;
    struct us_pkt *p =
        gso_size ? us_stack_pkt_alloc_to(s, need, tp->faddr) : us_stack_pkt_alloc(s, need);
    if (!p)
        return -1;
    struct us_tcp_repr r;
    memset(&r, 0, sizeof(r));
    r.sport = tp->lport;
    r.dport = tp->fport;
    r.seq = seq;
    r.flags = flags;
    if (syn_opts)
        r.opts = *syn_opts;
    else
        fill_opts(s, tp, &r.opts);
    if (!(flags & US_TCP_SYN))
        urg_fields(tp, &r);
    if (flags & US_TCP_ACK) {
        r.ack = tp->rcv_nxt;
        uint32_t win = us_tcp_select_window(s, tp);
        if (flags & US_TCP_SYN) {
            /* RFC 7323 §2.2: the window of a SYN is never scaled. */
            r.window = (uint16_t)(win > 65535 ? 65535 : win);
        } else {
            r.window = (uint16_t)(win >> tp->rcv_wscale);
            win = (uint32_t)r.window << tp->rcv_wscale;
        }
        tp->rcv_wnd = win;
        if (us_seq_gt(tp->rcv_nxt + win, tp->rcv_adv))
            tp->rcv_adv = tp->rcv_nxt + win;
        tp->last_ack_sent = tp->rcv_nxt;
        tp->flags &= ~(uint32_t)(TF_ACKNOW | TF_DELACK);
        tp->delack_at = US_TIME_NEVER;
        tp->unacked_segs = 0;
        tp->dsack_pending = false; /* reported once (RFC 2883 §4) */
    } else if (flags & US_TCP_SYN) {
        uint32_t win = us_tcp_select_window(s, tp);
        r.window = (uint16_t)(win > 65535 ? 65535 : win);
    }
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r.opts);
    uint8_t *seg = us_pkt_put(p, (uint32_t)(hlen + len));
    if (!seg) {
        us_pkt_free(p);
        return -1;
    }
    if (len)
        ring_copy(tp, off, seg + hlen, len);
    if (tp->flags & TF_CSUM_OFFLOAD) {
        r.csum_partial = true;
        p->offload = US_PKT_CSUM_PARTIAL;
    }
    us_tcp_emit(seg, hlen + len, &r, tp->laddr, tp->faddr);
    /* Counted as the segments on the wire (Linux's tcp_skb_pcount). */
    uint32_t segs = 1;
    if (gso_size && len > gso_size) {
        p->gso_size = (uint16_t)gso_size;
        segs = (len + gso_size - 1) / gso_size;
    }
    s->mib.tcp.OutSegs += segs;
    tp->segs_out += segs;
    if (len)
        tp->lsndtime = s->now; /* data only: pure ACKs are not sending */
    /* Linux sets DF on TCP (path MTU discovery, RFC 1191). */
    struct us_ip_send_opts io = {.df = true};
    us_ipv4_output(s, p, tp->laddr, tp->faddr, US_IPPROTO_TCP, &io);
    return 0;
}

static int xmit(struct us_stack *s, struct us_tcpcb *tp, uint32_t seq, uint8_t flags, uint32_t off,
                uint32_t len, const struct us_tcp_opts *syn_opts)
{
    return xmit_gso(s, tp, seq, flags, off, len, syn_opts, 0);
}

void us_tcp_send_syn(struct us_stack *s, struct us_tcpcb *tp)
{
    struct us_tcp_opts o;
    memset(&o, 0, sizeof(o));
    o.mss_present = true;
    o.mss = tp->advmss;
    bool synack = tp->state == US_TCP_SYN_RECV;
    /* On a SYN we offer what the sysctls allow; on a SYN-ACK only what the
     * peer offered (RFC 7323 §2.2, §3.2; RFC 2018 §2). */
    if (synack ? (tp->flags & TF_WSCALE) != 0 : s->sysctl.tcp_window_scaling != 0) {
        o.wscale_present = true;
        o.wscale = tp->rcv_wscale;
    }
    if (synack ? (tp->flags & TF_SACK) != 0 : s->sysctl.tcp_sack != 0)
        o.sack_permitted = true;
    if (synack ? (tp->flags & TF_TSTAMP) != 0 : s->sysctl.tcp_timestamps != 0) {
        o.ts_present = true;
        o.tsval = us_tcp_ts_now(tp, s->now);
        o.tsecr = synack ? tp->ts_recent : 0;
    }
    uint8_t flags = US_TCP_SYN | (synack ? US_TCP_ACK : 0);
    tp->rtt_time = s->now; /* timed unless retransmitted (Karn) */
    xmit(s, tp, tp->iss, flags, 0, 0, &o);
    tp->snd_nxt = tp->iss + 1;
    if (us_seq_gt(tp->snd_nxt, tp->snd_max))
        tp->snd_max = tp->snd_nxt;
    if (tp->rto_at == US_TIME_NEVER)
        us_tcp_timer_arm(s, tp, &tp->rto_at, s->now + tp->rto);
}

/* A bare ACK or RST carries snd_max, the highest sequence number sent (a
 * sequence number below the peer's last ACK would make the peer drop the
 * segment unread; Linux's tcp_acceptable_seq). */
void us_tcp_send_ack(struct us_stack *s, struct us_tcpcb *tp)
{
    xmit(s, tp, tp->snd_max, US_TCP_ACK, 0, 0, NULL);
}

void us_tcp_send_rst(struct us_stack *s, struct us_tcpcb *tp)
{
    s->mib.tcp.OutRsts++;
    xmit(s, tp, tp->snd_max, US_TCP_RST | US_TCP_ACK, 0, 0, NULL);
}

void us_tcp_send_probe(struct us_stack *s, struct us_tcpcb *tp)
{
    /* Linux's tcp_xmit_probe_skb: an old sequence number (snd_una - 1) and
     * no data, which the peer must answer with an ACK carrying its window
     * (RFC 9293 §3.8.6.1 allows probing with or without data). */
    xmit(s, tp, tp->snd_una - 1, US_TCP_ACK, 0, 0, NULL);
}

/* Whether a data segment of len bytes (avail queued beyond snd_nxt, usable
 * allowed by the windows) should go now: RFC 9293 §3.8.6.2.1's sender SWS
 * avoidance with Nagle's rule (§3.7.4) as Linux applies it. */
static bool should_send(const struct us_tcpcb *tp, uint32_t len, uint32_t avail, uint32_t mss)
{
    if (len == 0)
        return false;
    if (len >= mss)
        return true;
    if (len < avail) {
        /* Window-limited: at least half the largest window the peer ever
         * offered, or nothing in flight (else the persist timer takes over). */
        return len >= tp->max_sndwnd / 2 || tp->snd_una == tp->snd_max;
    }
    /* All the queued data fits: Nagle holds a small segment while data is
     * in flight, unless TCP_NODELAY; TCP_CORK holds it regardless. Neither
     * holds urgent data (tcp_nagle_test). */
    if (us_tcp_urg_mode(tp))
        return true;
    if (tp->flags & TF_CORK)
        return (tp->flags & TF_FIN_QUEUED) != 0;
    return (tp->flags & TF_NODELAY) || tp->snd_una == tp->snd_max || (tp->flags & TF_FIN_QUEUED);
}

/* How many full segments of mss go as one super-frame, of the len bytes
 * the windows allow now: at most what the device takes (tp->gso_max, IP
 * and TCP headers with options included), and 1 without TSO. A tail
 * shorter than mss is left to the next round, where Nagle and SWS
 * avoidance judge it alone.
 *
 * And at most a quarter of cwnd (but 2 segments at least, Linux's
 * tcp_min_tso_segs): a super-frame is lost whole, so a flight sent as one
 * or two of them is lost whole as often, with nothing left to draw the
 * SACKs that start fast recovery, only the loss probe and then the
 * retransmission timer. Linux keeps super-frames small at low rates the
 * same way, sizing them to 1 ms of its pacing rate (tcp_tso_autosize). At
 * 10% frame loss, sending 100 MiB to the kernel over a TAP took 26 s with
 * 66 timeouts without this cap, 1.2 s without offloads. */
static uint32_t tso_segs(const struct us_tcpcb *tp, uint32_t len, uint32_t mss)
{
    if (!tp->gso_max || len < 2 * mss)
        return 1;
    uint32_t hdrs = US_IPV4_HLEN + US_TCP_HLEN + 40;
    uint32_t max = tp->gso_max > hdrs ? (tp->gso_max - hdrs) / mss : 1;
    uint32_t quarter = (tp->cc.cwnd + tp->cwnd_extra) / mss / 4;
    if (max > quarter)
        max = quarter > 2 ? quarter : 2;
    uint32_t segs = len / mss;
    if (segs > max)
        segs = max;
    return segs ? segs : 1;
}

/* Counts a retransmission of len bytes. */
static void count_retrans(struct us_stack *s, struct us_tcpcb *tp, uint32_t len)
{
    s->mib.tcp.RetransSegs++;
    if (tp->flags & TF_LOSS)
        s->mib.tcpext.TCPSlowStartRetrans++;
    else
        s->mib.tcpext.TCPFastRetrans++;
    tp->total_retrans++;
    tp->bytes_retrans += len;
    tp->bytes_sent += len; /* tcpi_bytes_sent counts retransmissions too */
}

int us_tcp_retransmit_seg(struct us_stack *s, struct us_tcpcb *tp, uint32_t i)
{
    struct us_tcp_seg *g = us_tcp_rtx_at(&tp->rtx, i);
    uint32_t mss = cur_mss(tp);
    bool fin = (g->flags & US_TCP_SEG_FIN) != 0;
    uint32_t len = us_tcp_seg_len(g) - (fin ? 1 : 0);
    if (len > mss) {
        /* Segments shrank since (SACK blocks now ride along, or the MSS
         * changed): retransmit one segment's worth (Linux's tcp_fragment). */
        if (us_tcp_rtx_split(&tp->rtx, i, g->seq + mss) < 0)
            return -1;
        g = us_tcp_rtx_at(&tp->rtx, i);
        fin = false;
        len = mss;
    }
    uint8_t flags = US_TCP_ACK;
    if (fin)
        flags |= US_TCP_FIN;
    if (xmit(s, tp, g->seq, flags, g->seq - tp->snd_una, len, NULL) < 0)
        return -1;
    count_retrans(s, tp, len);
    us_tcp_undo_retransmitted(s, tp);
    us_tcp_rtx_mark_retrans(&tp->rtx, g, s->now);
    if (tp->flags & TF_IN_RECOVERY)
        tp->loss->prr_out += us_tcp_seg_len(g);
    return 0;
}

/* RFC 6675 §5 NextSeg() rule 1, as Linux's tcp_xmit_retransmit_queue: the
 * lowest records deemed lost and not yet resent, while the pipe allows;
 * from where the last walk stopped (retransmit_skb_hint), not the head. */
static void retransmit_lost(struct us_stack *s, struct us_tcpcb *tp)
{
    uint32_t wnd_end = tp->snd_una + tp->snd_wnd;
    uint32_t i = us_tcp_rtx_retrans_start(&tp->rtx);
    for (; i < tp->rtx.n && tp->rtx.lost > tp->rtx.retrans; i++) {
        struct us_tcp_seg *g = us_tcp_rtx_at(&tp->rtx, i);
        if ((g->flags & (US_TCP_SEG_SACKED | US_TCP_SEG_LOST | US_TCP_SEG_RETRANS)) !=
            US_TCP_SEG_LOST)
            continue;
        if (!us_seq_lt(g->seq, wnd_end))
            break;
        uint32_t len = us_tcp_seg_len(g);
        uint32_t mss = cur_mss(tp);
        if (len > mss)
            len = mss;
        if (us_tcp_pipe(tp) + len > tp->cc.cwnd + tp->cwnd_extra)
            break;
        if (us_tcp_retransmit_seg(s, tp, i) < 0)
            break;
    }
    us_tcp_rtx_retrans_stop(&tp->rtx, i);
}

void us_tcp_output(struct us_stack *s, struct us_tcpcb *tp)
{
    switch (tp->state) {
    case US_TCP_ESTABLISHED:
    case US_TCP_CLOSE_WAIT:
    case US_TCP_FIN_WAIT1:
    case US_TCP_FIN_WAIT2:
    case US_TCP_CLOSING:
    case US_TCP_LAST_ACK:
        break;
    case US_TCP_TIME_WAIT:
        if (tp->flags & TF_ACKNOW)
            us_tcp_send_ack(s, tp);
        return;
    default:
        return;
    }
    uint32_t segs_before = tp->segs_out;
    if (tp->rtx.lost > tp->rtx.retrans)
        retransmit_lost(s, tp);
    bool sent_new = false;
    for (;;) {
        uint32_t off = tp->snd_nxt - tp->snd_una;
        uint32_t avail = tp->snd_len > off ? tp->snd_len - off : 0;
        /* What the pipe leaves of cwnd, and what the peer's window leaves. */
        uint32_t cwnd = tp->cc.cwnd + tp->cwnd_extra, pipe = us_tcp_pipe(tp);
        uint32_t cw_room = cwnd > pipe ? cwnd - pipe : 0;
        uint32_t right = tp->snd_una + tp->snd_wnd;
        uint32_t usable = us_seq_gt(right, tp->snd_nxt) ? right - tp->snd_nxt : 0;
        if (usable > cw_room)
            usable = cw_room;
        uint32_t len = avail < usable ? avail : usable;
        uint32_t mss = cur_mss(tp);
        uint32_t segs = tso_segs(tp, len, mss);
        if (len > mss)
            len = segs * mss;
        bool data = should_send(tp, len, avail, mss);
        if (!data)
            len = 0;
        /* The FIN follows the last data byte, once. Its sequence number
         * takes a byte of the peer's window (Linux's tcp_snd_wnd_test: into
         * a zero window only probes go); not of cwnd (tcp_cwnd_test spares
         * the final FIN). */
        uint32_t data_end = tp->snd_una + tp->snd_len;
        bool fin = (tp->flags & TF_FIN_QUEUED) && !(tp->flags & TF_FIN_SENT) &&
                   tp->snd_nxt + len == data_end && us_seq_lt(tp->snd_nxt + len, right);
        if (!data && !fin) {
            if ((tp->flags & TF_ACKNOW) && tp->segs_out == segs_before)
                us_tcp_send_ack(s, tp);
            break;
        }
        /* Data goes out with nothing in flight (Linux's CA_EVENT_TX_START);
         * after more than an RTO with no data sent, ACKs or not, cwnd
         * restarts (RFC 5681 §4.1; Linux's lsndtime). */
        if (len && tp->snd_una == tp->snd_max && tp->cc.ops)
            us_tcp_cc_tx_start(&tp->cc, s->now - tp->lsndtime, tp->rto,
                               s->sysctl.tcp_slow_start_after_idle != 0, s->now);
        uint8_t flags = US_TCP_ACK;
        if (len && tp->snd_nxt + len == data_end)
            flags |= US_TCP_PSH;
        if (fin)
            flags |= US_TCP_FIN;
        uint32_t seq = tp->snd_nxt, end = seq + len + (fin ? 1 : 0);
        /* The records first, so a segment is never in flight unrecorded. A
         * super-frame (segs > 1) gets a record per segment, the FIN in
         * the last, as Linux's rtx queue holds skbs of gso_size: loss,
         * SACK and retransmission stay per segment. */
        if (us_tcp_rtx_reserve_n(&tp->rtx, segs) < 0 || us_tcp_loss_reserve(s, tp) < 0 ||
            xmit_gso(s, tp, seq, flags, off, len, NULL, segs > 1 ? mss : 0) < 0)
            break;
        for (uint32_t i = 1; i < segs; i++)
            us_tcp_rtx_push(&tp->rtx, seq + (i - 1) * mss, seq + i * mss, false, s->now);
        us_tcp_rtx_push(&tp->rtx, seq + (segs - 1) * mss, end, fin, s->now);
        sent_new = true;
        tp->bytes_sent += len;
        if (tp->flags & TF_IN_RECOVERY)
            tp->loss->prr_out += end - seq;
        tp->snd_nxt = end;
        if (fin)
            tp->flags |= TF_FIN_SENT;
        if (us_seq_gt(tp->snd_nxt, tp->snd_max))
            tp->snd_max = tp->snd_nxt;
        if (tp->rto_at == US_TIME_NEVER)
            us_tcp_timer_arm(s, tp, &tp->rto_at, s->now + tp->rto);
        tp->persist_at = US_TIME_NEVER;
        if (fin)
            break;
    }
    /* RFC 8985 §7.2: the probe timer runs from the last new segment; in
     * fast recovery from the last retransmission too (us_tcp_tlp_schedule). */
    if (sent_new || ((tp->flags & TF_IN_RECOVERY) && tp->segs_out != segs_before))
        us_tcp_tlp_schedule(s, tp);
    /* Zero window with data waiting and nothing in flight: only the persist
     * timer will learn when the window opens (RFC 9293 §3.8.6.1). */
    uint32_t off = tp->snd_nxt - tp->snd_una;
    bool pending = tp->snd_len > off || ((tp->flags & TF_FIN_QUEUED) && !(tp->flags & TF_FIN_SENT));
    if (pending && tp->snd_wnd == 0 && tp->snd_una == tp->snd_max &&
        tp->persist_at == US_TIME_NEVER) {
        tp->rto_at = US_TIME_NEVER;
        us_time_ns t = tp->rto << (tp->persist_backoff < 10 ? tp->persist_backoff : 10);
        if (t > US_TCP_RTO_MAX)
            t = US_TCP_RTO_MAX;
        us_tcp_timer_arm(s, tp, &tp->persist_at, s->now + t);
    }
}
