/* ICMP errors about segments a connection sent (Linux's tcp_v4_err).
 *
 * "Fragmentation needed" is path MTU discovery (RFC 1191): TCP sets DF on
 * every segment, so a router with a smaller next-hop MTU drops them and
 * says how large they may be; the connection's MSS comes down to fit and
 * what was in flight at the old size is sent again, smaller, without a
 * congestion response (Linux's tcp_simple_retransmit). Other destination
 * unreachable errors end a connection still in SYN_SENT (connect() fails
 * with EHOSTUNREACH, ECONNREFUSED... at once instead of after its SYN
 * retries); an established connection only remembers them as its soft
 * error, reported if it then times out (RFC 1122 §4.2.3.9).
 *
 * An error is believed only if the sequence number it quotes is one in
 * flight (RFC 5927 §4.1), so a blind attacker cannot shrink or reset a
 * connection with forged ICMP. */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "wire/be.h"

/* Linux's net.ipv4.route.min_pmtu: a smaller MTU is not believed. */
#define TCP_MIN_PMTU 552

static void pmtu_update(struct us_stack *s, struct us_tcpcb *tp, uint32_t mtu)
{
    /* RFC 1191 §4: the next-hop MTU in the low 16 bits; a router too old
     * to say (0) gets the RFC's smallest common plateau. */
    if (mtu == 0)
        mtu = 576;
    if (mtu < TCP_MIN_PMTU)
        mtu = TCP_MIN_PMTU;
    uint32_t mss = mtu - US_IPV4_HLEN - US_TCP_HLEN;
    if (tp->flags & TF_TSTAMP)
        mss -= 12;
    if (mss >= tp->mss)
        return; /* no news, or an error about a size we no longer send */
    tp->mss = (uint16_t)mss;
    tp->cc.mss = mss;
    /* tcp_simple_retransmit: whatever is in flight at the old size was
     * dropped on the way; send it again at the new one, after a loss that
     * is not congestion: cwnd stays, RTO recovery until snd_max. */
    for (uint32_t i = 0; i < tp->rtx.n; i++) {
        struct us_tcp_seg *g = us_tcp_rtx_at(&tp->rtx, i);
        uint32_t data = us_tcp_seg_len(g) - ((g->flags & US_TCP_SEG_FIN) ? 1u : 0u);
        if (data > mss && !(g->flags & US_TCP_SEG_SACKED))
            us_tcp_rtx_mark_lost(&tp->rtx, g);
    }
    if (tp->rtx.lost > tp->rtx.retrans) {
        if (!(tp->flags & TF_LOSS)) {
            tp->flags &= ~(uint32_t)TF_IN_RECOVERY;
            tp->flags |= TF_LOSS;
            tp->recover = tp->snd_max;
        }
        us_tcp_output(s, tp);
    }
}

void us_tcp_err(struct us_stack *s, const struct us_icmp_view *icmp,
                const struct us_ipv4_view *quoted)
{
    /* RFC 792: the quote holds at least the first 8 bytes: ports and seq. */
    uint16_t sport, dport;
    if (quoted->payload_len < 8 ||
        us_l4_ports(quoted->payload, quoted->payload_len, &sport, &dport) != US_WIRE_OK)
        return;
    uint32_t seq = be32_load(quoted->payload + 4);
    /* The connection that sent it, looked up as its answer would be. */
    struct us_tcpcb *tp = us_tcp_lookup_established(s, quoted->src, sport, quoted->dst, dport);
    if (!tp || tp->state == US_TCP_TIME_WAIT || tp->state == US_TCP_SYN_RECV)
        return;
    if (!us_seq_in_window(seq, tp->snd_una, tp->snd_max + 1)) {
        s->mib.tcpext.OutOfWindowIcmps++;
        return;
    }
    if (icmp->code == US_ICMP_FRAG_NEEDED) {
        pmtu_update(s, tp, icmp->rest & 0xffff);
        return;
    }
    bool fatal;
    int err = us_icmp_unreach_errno(icmp->code, &fatal);
    if (!err)
        return;
    if (tp->state == US_TCP_SYN_SENT) {
        us_tcp_drop(s, tp, err);
        return;
    }
    tp->soft_err = err;
}
