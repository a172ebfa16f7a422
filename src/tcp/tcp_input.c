/* TCP input. Connections come with the TCP layer; until a socket listens,
 * every segment meets the CLOSED state of RFC 9293 §3.10.7.1 and is
 * answered with a reset, so a peer's connect() fails at once with
 * ECONNREFUSED instead of timing out. */
#include "net/ip.h"

#include <string.h>

static void send_reset(struct us_stack *s, const struct us_ipv4_view *ip,
                       const struct us_tcp_view *in)
{
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

void us_tcp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip)
{
    struct us_tcp_view tcp;
    int err = us_tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst,
                           pkt->offload & US_PKT_CSUM_VALID ? US_WIRE_CSUM_VALID : 0, &tcp);
    if (err) {
        if (err == US_WIRE_BAD_CSUM)
            s->mib.tcp.InCsumErrors++;
        s->mib.tcp.InErrs++;
        us_pkt_free(pkt);
        return;
    }
    s->mib.tcp.InSegs++;
    if (!(tcp.flags & US_TCP_RST))
        send_reset(s, ip, &tcp);
    us_pkt_free(pkt);
}
