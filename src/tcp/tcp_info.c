/* Seeing a connection: struct us_tcp_info (Linux's tcp_get_info) and the
 * lines `ss -tim` prints for it. */
#include "tcp/tcp.h"

#include "sock/sock.h"

#include <string.h>

const char *us_tcp_state_name(int state)
{
    /* ss's sstate_name[] */
    static const char *const names[] = {
        "UNKNOWN",   "ESTAB",  "SYN-SENT",   "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
        "TIME-WAIT", "UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN",     "CLOSING",
    };
    if (state < 0 || state >= (int)(sizeof(names) / sizeof(names[0])))
        return "UNKNOWN";
    return names[state];
}

void us_tcp_get_info(const struct us_stack *s, const struct us_tcpcb *tp, struct us_tcp_info *ti)
{
    (void)s;
    memset(ti, 0, sizeof(*ti));
    ti->state = (uint8_t)tp->state;
    if (tp->flags & TF_WSCALE) {
        ti->options |= US_TCPI_OPT_WSCALE;
        ti->snd_wscale = tp->snd_wscale;
        ti->rcv_wscale = tp->rcv_wscale;
    }
    if (tp->flags & TF_TSTAMP)
        ti->options |= US_TCPI_OPT_TIMESTAMPS;
    if (tp->flags & TF_SACK)
        ti->options |= US_TCPI_OPT_SACK;
    ti->rto = (uint32_t)(tp->rto / 1000);
    ti->rtt = (uint32_t)(tp->srtt / 1000);
    ti->rttvar = (uint32_t)(tp->rttvar / 1000);
    ti->snd_mss = tp->mss;
    ti->rcv_mss = tp->rcv_mss;
    ti->snd_cwnd = tp->cc.cwnd;
    ti->snd_ssthresh = tp->cc.ssthresh;
    ti->snd_wnd = tp->snd_wnd;
    ti->rcv_wnd = tp->rcv_wnd;
    ti->unacked = tp->snd_max - tp->snd_una;
    /* The retransmission queue's counts, in bytes (Linux: segments). */
    ti->retrans = tp->rtx.retrans;
    ti->lost = tp->rtx.lost;
    ti->sacked = tp->rtx.sacked;
    ti->total_retrans = tp->total_retrans;
    ti->backoff = tp->backoff;
    ti->bytes_acked = tp->bytes_acked;
    ti->bytes_received = tp->bytes_received;
    ti->bytes_sent = tp->bytes_sent;
    ti->bytes_retrans = tp->bytes_retrans;
    ti->segs_out = tp->segs_out;
    ti->segs_in = tp->segs_in;
    ti->rcv_space = tp->rcvq_space;
    ti->rcvbuf = tp->rcvbuf;
    ti->sndbuf = tp->sndbuf;
    snprintf(ti->ca_name, sizeof(ti->ca_name), "%s", tp->cc.ops ? tp->cc.ops->name : "");
}

void us_tcp_print_sock(struct us_stack *s, const struct us_tcpcb *tp, int fd, FILE *out)
{
    char local[32], peer[32];
    /* ss: for a listener Recv-Q is the accept queue and Send-Q the backlog. */
    uint32_t rq = tp->state == US_TCP_LISTEN ? (uint32_t)tp->lq->acceptq_len : tp->rcv_queued;
    uint32_t sq = tp->state == US_TCP_LISTEN ? (uint32_t)tp->lq->backlog : tp->snd_len;
    fprintf(out, "%-10s %-6u %-6u %-21s %-21s", us_tcp_state_name(tp->state), rq, sq,
            us_sock_fmt_endpoint(tp->laddr, tp->lport, local, sizeof(local)),
            us_sock_fmt_endpoint(tp->faddr, tp->fport, peer, sizeof(peer)));
    if (fd >= 0)
        fprintf(out, " fd=%d\n", fd);
    else
        fprintf(out, " %s\n", tp->state == US_TCP_TIME_WAIT ? "timer:(timewait)" : "orphan");
    if (tp->state == US_TCP_LISTEN || tp->state == US_TCP_TIME_WAIT)
        return;
    struct us_tcp_info ti;
    us_tcp_get_info(s, tp, &ti);
    fprintf(out, "\t skmem:(r%u,rb%d,t%u,tb%d)", tp->rcv_queued, ti.rcvbuf, tp->snd_len, ti.sndbuf);
    fprintf(out, " %s", ti.ca_name);
    if (ti.options & US_TCPI_OPT_TIMESTAMPS)
        fprintf(out, " ts");
    if (ti.options & US_TCPI_OPT_SACK)
        fprintf(out, " sack");
    if (ti.options & US_TCPI_OPT_WSCALE)
        fprintf(out, " wscale:%u,%u", ti.snd_wscale, ti.rcv_wscale);
    fprintf(out, " rto:%u rtt:%.3f/%.3f mss:%u cwnd:%u", ti.rto / 1000, ti.rtt / 1000.0,
            ti.rttvar / 1000.0, ti.snd_mss, tp->mss ? ti.snd_cwnd / tp->mss : 0);
    if (ti.snd_ssthresh < US_TCP_INFINITE_SSTHRESH)
        fprintf(out, " ssthresh:%u", tp->mss ? ti.snd_ssthresh / tp->mss : 0);
    fprintf(out,
            " bytes_sent:%llu bytes_retrans:%llu bytes_acked:%llu bytes_received:%llu"
            " segs_out:%u segs_in:%u snd_wnd:%u rcv_wnd:%u",
            (unsigned long long)ti.bytes_sent, (unsigned long long)ti.bytes_retrans,
            (unsigned long long)ti.bytes_acked, (unsigned long long)ti.bytes_received, ti.segs_out,
            ti.segs_in, ti.snd_wnd, ti.rcv_wnd);
    /* ss prints these in segments: in flight now / ever, and the lost and
     * SACKed ones while there are any. */
    uint32_t mss = tp->mss ? tp->mss : 1;
    fprintf(out, " retrans:%u/%u", (ti.retrans + mss - 1) / mss, ti.total_retrans);
    if (ti.lost)
        fprintf(out, " lost:%u", (ti.lost + mss - 1) / mss);
    if (ti.sacked)
        fprintf(out, " sacked:%u", (ti.sacked + mss - 1) / mss);
    fprintf(out, " rcv_space:%u\n", ti.rcv_space);
}

void us_tcp_print_orphans(struct us_stack *s, FILE *out)
{
    for (struct us_tcpcb *tp = s->tcp->all; tp; tp = tp->all_next)
        if (!tp->dead && !tp->sk && tp->state != US_TCP_SYN_RECV && !tp->listener)
            us_tcp_print_sock(s, tp, -1, out);
    us_tcp_tw_print(s, out); /* the TIME_WAIT records */
}
