/* UDP input (RFC 768, RFC 1122 §4.1). Sockets and their demultiplexing
 * come with the socket layer; until a socket is bound to a port, every
 * datagram is answered as Linux answers one for a closed port. */
#include "net/ip.h"

void us_udp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip,
                  bool to_broadcast)
{
    struct us_udp_view udp;
    int err = us_udp_parse(ip->payload, ip->payload_len, ip->src, ip->dst,
                           pkt->offload & US_PKT_CSUM_VALID ? US_WIRE_CSUM_VALID : 0, &udp);
    if (err) {
        if (err == US_WIRE_BAD_CSUM)
            s->mib.udp.InCsumErrors++;
        s->mib.udp.InErrors++;
        us_pkt_free(pkt);
        return;
    }
    if (to_broadcast || us_ip4_is_multicast(ip->dst)) {
        /* No socket wants it; Linux drops these silently. */
        us_pkt_free(pkt);
        return;
    }
    /* RFC 1122 §4.1.3.1: port unreachable for a port nobody listens on. */
    s->mib.udp.NoPorts++;
    us_icmp_send_error(s, pkt, US_ICMP_DEST_UNREACH, US_ICMP_PORT_UNREACH, 0);
    us_pkt_free(pkt);
}
