/* The receive side of a connection: in-order data onto the receive queue,
 * the rest into the out-of-order queue (tcp_ofo.c), the ACK policy (quick
 * ACKs at the start and after reordering, otherwise one ACK per two full
 * segments or the delayed-ACK timer), the advertised window (Linux's
 * tcp_select_window), receive buffer autotuning (tcp_rcv_space_adjust) and
 * urgent data (tcp_urg: the byte the urgent pointer marks, out of the
 * stream unless SO_OOBINLINE).
 *
 * Received segments are kept as they arrived (data/len = payload), no copy
 * until the application reads. */
#include "tcp/tcp.h"

#include "sock/sock.h"

#include <errno.h>
#include <string.h>

uint32_t us_tcp_rcv_space(const struct us_tcpcb *tp)
{
    /* tcp_win_from_space with tcp_adv_win_scale = 1: half the buffer is
     * for payload, half for the overhead of the buffers that hold it (the
     * reason SO_RCVBUF is doubled). */
    return (uint32_t)tp->rcvbuf / 2;
}

uint32_t us_tcp_select_window(struct us_stack *s, struct us_tcpcb *tp)
{
    (void)s;
    uint32_t space = us_tcp_rcv_space(tp);
    uint32_t used = tp->rcv_queued + us_tcp_ofo_bytes(tp);
    uint32_t free_space = space > used ? space - used : 0;
    uint32_t mss = tp->rcv_mss ? tp->rcv_mss : US_TCP_MSS_DEFAULT;
    /* Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, __tcp_select_window):
     * offer less than one segment only when more than half the buffer is
     * free, so the window reopens in useful steps. */
    if (free_space < space / 2 && free_space < mss)
        free_space = 0;
    uint32_t unit = 1u << tp->rcv_wscale;
    free_space &= ~(unit - 1);
    /* Never move the right edge we advertised back (RFC 9293 §3.8.6.2.2,
     * RFC 7323 §2.4). */
    uint32_t cur = us_seq_gt(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
    /* While a hole is open, hold the window still: the sender counts
     * duplicate ACKs only if the window is unchanged (RFC 5681 §2), and a
     * window that grows with every read would hide them from NewReno. */
    if (us_tcp_has_ofo(tp) && cur)
        return cur;
    if (free_space < cur)
        free_space = (cur + unit - 1) & ~(unit - 1);
    uint32_t max = 65535u << tp->rcv_wscale;
    return free_space > max ? max : free_space;
}

void us_tcp_rcv_rtt_sample(struct us_tcpcb *tp, us_time_ns rtt)
{
    /* tcp_rcv_rtt_update: follow decreases at once, smooth increases. */
    if (!rtt)
        rtt = 1000; /* 1 µs: a sample, however small */
    if (!tp->rcv_rtt || rtt < tp->rcv_rtt)
        tp->rcv_rtt = rtt;
    else
        tp->rcv_rtt = (7 * tp->rcv_rtt + rtt) / 8;
}

/* The receiver's RTT without timestamps (tcp_rcv_rtt_measure): the time
 * for rcv_nxt to advance past the window advertised when it started. */
static void rcv_rtt_measure(struct us_stack *s, struct us_tcpcb *tp)
{
    if (tp->flags & TF_TSTAMP)
        return;
    if (tp->rcv_rtt_at && us_seq_geq(tp->rcv_nxt, tp->rcv_rtt_seq)) {
        us_tcp_rcv_rtt_sample(tp, s->now - tp->rcv_rtt_at);
        tp->rcv_rtt_at = 0;
    }
    if (!tp->rcv_rtt_at) {
        tp->rcv_rtt_at = s->now;
        tp->rcv_rtt_seq = tp->rcv_nxt + (tp->rcv_wnd ? tp->rcv_wnd : 1);
    }
}

/* The ACK policy after new in-order data (__tcp_ack_snd_check). A
 * super-frame counts as the full segments it stands for (gso_size: Linux's
 * tcp_measure_rcv_mss reads the same), so it is ACKed at once. */
static void ack_policy(struct us_stack *s, struct us_tcpcb *tp, uint32_t len, uint32_t gso_size)
{
    if (gso_size && len > gso_size)
        tp->unacked_segs += len / gso_size;
    else if (len >= tp->rcv_mss || len >= 536)
        tp->unacked_segs++;
    if (tp->unacked_segs >= 2 || tp->quickack || us_tcp_has_ofo(tp)) {
        if (tp->quickack)
            tp->quickack--;
        tp->flags |= TF_ACKNOW;
        us_tcp_schedule_output(s, tp);
        return;
    }
    if (!(tp->flags & TF_DELACK)) {
        tp->flags |= TF_DELACK;
        us_tcp_timer_arm(s, tp, &tp->delack_at, s->now + US_TCP_DELACK_MIN);
    }
}

/* Data that arrived again, to report as the first SACK block of the next
 * ACK (RFC 2883 §4, Linux's tcp_dsack_set): the sender learns that a
 * retransmission was not needed. old: below rcv_nxt, else held out of order. */
static void dsack_set(struct us_stack *s, struct us_tcpcb *tp, uint32_t left, uint32_t right,
                      bool old)
{
    if (!(tp->flags & TF_SACK) || !s->sysctl.tcp_dsack || !us_seq_lt(left, right))
        return;
    if (old)
        s->mib.tcpext.TCPDSACKOldSent++;
    else
        s->mib.tcpext.TCPDSACKOfoSent++;
    tp->dsack.left = left;
    tp->dsack.right = right;
    tp->dsack_pending = true;
}

void us_tcp_dsack_old(struct us_stack *s, struct us_tcpcb *tp, uint32_t seq, uint32_t len)
{
    if (len && us_seq_lt(seq, tp->rcv_nxt))
        dsack_set(s, tp, seq, us_seq_min(seq + len, tp->rcv_nxt), true);
}

/* Linux's tcp_try_coalesce: the bytes of a segment that fit behind the
 * last queued buffer's are copied there and its own buffer freed at once,
 * so a queue of small segments, or of small super-frames each in a 64 KiB
 * buffer, holds a few full buffers rather than many nearly empty ones.
 * Full-sized segments never fit and cost no copy. */
static void rcvq_append(struct us_tcpcb *tp, struct us_pkt *pkt)
{
    struct us_pkt *tail = tp->rcvq.tail;
    if (tail && pkt->len <= us_pkt_tailroom(tail)) {
        memcpy(us_pkt_put(tail, pkt->len), pkt->data, pkt->len);
        us_pkt_free(pkt);
        return;
    }
    us_pkt_queue_push(&tp->rcvq, pkt);
}

void us_tcp_data_queue(struct us_stack *s, struct us_tcpcb *tp, struct us_pkt *pkt, uint32_t seq)
{
    /* Trim what lies beyond the window we offered (RFC 9293 §3.10.7.4
     * "segments ... beyond the window are trimmed"). */
    uint32_t right = us_seq_gt(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv : tp->rcv_nxt;
    if (us_seq_gt(seq + pkt->len, right)) {
        uint32_t keep = us_seq_gt(right, seq) ? right - seq : 0;
        us_pkt_trim(pkt, keep);
    }
    if (pkt->len == 0) {
        us_pkt_free(pkt);
        tp->flags |= TF_ACKNOW;
        us_tcp_schedule_output(s, tp);
        return;
    }
    if (us_seq_leq(seq, tp->rcv_nxt)) {
        uint32_t end = seq + pkt->len;
        if (us_seq_lt(seq, tp->rcv_nxt))
            dsack_set(s, tp, seq, us_seq_min(end, tp->rcv_nxt), true);
        if (us_seq_leq(end, tp->rcv_nxt)) {
            /* All old: the peer missed our ACK; tell it again at once. */
            us_pkt_free(pkt);
            tp->flags |= TF_ACKNOW;
            tp->quickack = US_TCP_QUICKACKS / 2;
            us_tcp_schedule_output(s, tp);
            return;
        }
        us_pkt_pull(pkt, tp->rcv_nxt - seq);
        uint32_t len = pkt->len, gso_size = pkt->gso_size;
        bool had_ofo = us_tcp_has_ofo(tp);
        rcvq_append(tp, pkt);
        tp->rcv_queued += len;
        tp->rcv_nxt += len;
        tp->bytes_received += len;
        /* The hole before held segments may be filled now (tcp_ofo_queue). */
        struct us_pkt *p;
        while ((p = us_tcp_ofo_next(tp))) {
            p->cb = 0;
            uint32_t plen = p->len;
            rcvq_append(tp, p);
            tp->rcv_queued += plen;
            tp->rcv_nxt += plen;
            tp->bytes_received += plen;
        }
        rcv_rtt_measure(s, tp);
        if (had_ofo) {
            /* RFC 5681 §4.2: ACK at once when a segment fills a hole. */
            tp->flags |= TF_ACKNOW;
            us_tcp_schedule_output(s, tp);
        } else {
            ack_policy(s, tp, len, gso_size);
        }
        if ((tp->flags & TF_RCVD_FIN) && tp->rcv_nxt == tp->fin_seq)
            us_tcp_fin(s, tp);
        return;
    }
    /* Out of order: hold it, and send a duplicate ACK (with SACK blocks)
     * at once (RFC 5681 §4.2, RFC 2018 §4), entering quick-ACK mode so the
     * repair is acknowledged promptly (tcp_data_queue_ofo). */
    uint32_t len = pkt->len;
    enum us_tcp_ofo_result r = us_tcp_ofo_hold(s, tp, pkt, seq);
    if (r == US_TCP_OFO_DUPLICATE)
        dsack_set(s, tp, seq, seq + len, false);
    if (r == US_TCP_OFO_QUEUED)
        s->mib.tcpext.TCPOFOQueue++;
    else if (r == US_TCP_OFO_DROPPED_LIMIT)
        s->mib.tcpext.TCPOFODrop++;
    tp->quickack = US_TCP_QUICKACKS / 2;
    /* One duplicate ACK per out-of-order segment, at once, not one per
     * burst: the sender counts them (RFC 5681 §4.2, §3.2). */
    us_tcp_send_ack(s, tp);
}

void us_tcp_maybe_window_update(struct us_stack *s, struct us_tcpcb *tp)
{
    /* tcp_cleanup_rbuf: after the application read, tell the peer if the
     * window we can offer has at least doubled what it knows of. */
    if (tp->state != US_TCP_ESTABLISHED && tp->state != US_TCP_FIN_WAIT1 &&
        tp->state != US_TCP_FIN_WAIT2)
        return;
    uint32_t cur = us_seq_gt(tp->rcv_adv, tp->rcv_nxt) ? tp->rcv_adv - tp->rcv_nxt : 0;
    uint32_t space = us_tcp_rcv_space(tp);
    uint32_t used = tp->rcv_queued + us_tcp_ofo_bytes(tp);
    uint32_t now_free = space > used ? space - used : 0;
    uint32_t mss = tp->rcv_mss ? tp->rcv_mss : US_TCP_MSS_DEFAULT;
    if (now_free >= 2 * cur && now_free - cur >= mss) {
        tp->flags |= TF_ACKNOW;
        us_tcp_output(s, tp);
    }
}

void us_tcp_rcv_space_adjust(struct us_stack *s, struct us_tcpcb *tp)
{
    /* tcp_rcv_space_adjust: once per receiver RTT, if the application read
     * more than last time, grow the buffer to twice what one RTT carries
     * (so the sender is never window-limited while slow start doubles),
     * up to tcp_rmem[2]; not when SO_RCVBUF was set (SOCK_RCVBUF_LOCK). */
    us_time_ns rtt = tp->rcv_rtt ? tp->rcv_rtt : tp->srtt;
    if (!rtt)
        return;
    if (tp->rcvq_time == 0) {
        tp->rcvq_time = s->now;
        tp->rcvq_copied_at_start = (uint32_t)tp->copied;
        return;
    }
    if (s->now - tp->rcvq_time < rtt)
        return;
    uint32_t copied = (uint32_t)tp->copied - tp->rcvq_copied_at_start;
    if (copied > tp->rcvq_space) {
        if (s->sysctl.tcp_moderate_rcvbuf && !(tp->flags & TF_RCVBUF_LOCK)) {
            uint64_t rcvwin = 2ull * copied + 16ull * tp->advmss;
            /* Growing fast (slow start): allow for another doubling. */
            if (copied >= tp->rcvq_space + tp->rcvq_space / 4)
                rcvwin += (rcvwin * (copied - tp->rcvq_space)) / tp->rcvq_space;
            uint64_t rcvbuf = 2 * rcvwin; /* the inverse of us_tcp_rcv_space */
            if (rcvbuf > (uint64_t)s->sysctl.tcp_rmem[2])
                rcvbuf = (uint64_t)s->sysctl.tcp_rmem[2];
            if (rcvbuf > (uint64_t)tp->rcvbuf) {
                tp->rcvbuf = (int)rcvbuf;
                if (tp->sk)
                    tp->sk->rcvbuf = tp->rcvbuf;
            }
        }
        tp->rcvq_space = copied;
    }
    tp->rcvq_copied_at_start = (uint32_t)tp->copied;
    tp->rcvq_time = s->now;
}

/* The byte at the read position leaves the stream unread: the urgent byte
 * skipped (Linux's urg_hole). */
static void skip_byte(struct us_tcpcb *tp)
{
    struct us_pkt *p = tp->rcvq.head;
    us_pkt_pull(p, 1);
    if (p->len == 0)
        us_pkt_free(us_pkt_queue_pop(&tp->rcvq));
    tp->rcv_queued--;
    tp->copied_seq++;
}

size_t us_tcp_read(struct us_stack *s, struct us_tcpcb *tp, void *buf, size_t len, bool peek)
{
    size_t done = 0;
    uint32_t skipped = 0;
    uint8_t *out = buf;
    uint32_t seq = tp->copied_seq; /* of the next byte looked at */
    struct us_pkt *p = tp->rcvq.head;
    uint32_t off = 0; /* into p: a peek leaves the queue as it is */
    while (p && done < len) {
        uint32_t n = p->len - off;
        if (n > len - done)
            n = (uint32_t)(len - done);
        bool skip = false;
        if (tp->urg_data) {
            /* tcp_recvmsg: a read stops at the urgent mark, and without
             * SO_OOBINLINE the urgent byte is not part of the stream. */
            uint32_t to_mark = tp->urg_seq - seq;
            if (to_mark == 0) {
                if (done)
                    break;
                skip = !(tp->flags & TF_URGINLINE);
                if (skip)
                    n = 1;
            } else if (to_mark < n) {
                n = to_mark;
            }
        }
        if (skip) {
            skipped++;
        } else {
            memcpy(out + done, p->data + off, n);
            done += n;
        }
        seq += n;
        if (peek) {
            off += n;
            if (off == p->len) {
                p = p->next;
                off = 0;
            }
            continue;
        }
        us_pkt_pull(p, n);
        if (p->len == 0) {
            us_pkt_free(us_pkt_queue_pop(&tp->rcvq));
            p = tp->rcvq.head;
        }
        tp->copied_seq = seq;
        /* Read past the mark: the urgent byte is gone, for MSG_OOB too. */
        if (tp->urg_data && us_seq_gt(seq, tp->urg_seq))
            tp->urg_data = 0;
    }
    if (peek || (!done && !skipped))
        return done;
    tp->rcv_queued -= (uint32_t)done + skipped;
    tp->copied += done;
    us_tcp_rcv_space_adjust(s, tp);
    us_tcp_maybe_window_update(s, tp);
    return done;
}

/* Linux's tcp_check_urg: a segment with URG set. */
static void check_urg(struct us_tcpcb *tp, const struct us_tcp_view *th)
{
    /* The pointer points to the byte after the urgent one (RFC 6093 §3,
     * Linux with tcp_stdurg = 0). */
    uint32_t ptr = th->urg_ptr;
    if (ptr)
        ptr--;
    ptr += th->seq;
    /* A byte already received can no longer be taken out of the stream. */
    if (us_seq_lt(ptr, tp->rcv_nxt))
        return;
    /* This mark, or a newer one, is known already. */
    if (tp->urg_data && !us_seq_gt(ptr, tp->urg_seq))
        return;
    /* A newer mark replaces the old one, whose byte becomes ordinary data
     * again, unread by MSG_OOB. Only if the reader stands at the old mark
     * is that byte dropped instead (it would be read as data otherwise,
     * after a SIOCATMARK said it was urgent). */
    if (tp->urg_data && tp->urg_seq == tp->copied_seq && !(tp->flags & TF_URGINLINE) &&
        tp->copied_seq != tp->rcv_nxt)
        skip_byte(tp);
    tp->urg_data = US_TCP_URG_NOTYET;
    tp->urg_seq = ptr;
}

void us_tcp_urg(struct us_tcpcb *tp, const struct us_tcp_view *th, const struct us_pkt *pkt)
{
    if (th->flags & US_TCP_URG)
        check_urg(tp, th);
    if (tp->urg_data != US_TCP_URG_NOTYET)
        return;
    /* The urgent byte in this segment: kept aside for MSG_OOB (it stays in
     * the queue too, where reads skip it). */
    uint32_t off = tp->urg_seq - th->seq;
    if (off < pkt->len) {
        tp->urg_data = (uint16_t)(US_TCP_URG_VALID | pkt->data[off]);
        tp->wake = true;
    }
}

int us_tcp_recv_urg(struct us_tcpcb *tp, const struct us_sock *sk, void *buf, size_t len, bool peek)
{
    if ((tp->flags & TF_URGINLINE) || !tp->urg_data || tp->urg_data == US_TCP_URG_READ)
        return -EINVAL; /* "Yes this is right !" (tcp_recv_urg) */
    if (tp->urg_data & US_TCP_URG_VALID) {
        uint8_t c = (uint8_t)tp->urg_data;
        if (!peek)
            tp->urg_data = US_TCP_URG_READ;
        if (!len)
            return 0;
        memcpy(buf, &c, 1);
        return 1;
    }
    if (tp->state == US_TCP_CLOSE || (sk->shutdown & US_RCV_SHUTDOWN))
        return 0;
    return -EAGAIN; /* the mark is known, the byte not yet here: never blocks */
}

bool us_tcp_at_mark(const struct us_tcpcb *tp)
{
    return tp->urg_data && tp->urg_seq == tp->copied_seq;
}
