/* Forwarding (net.ipv4.ip_forward=1), RFC 1812 §5.3: TTL, next-hop MTU and
 * the ICMP errors a router owes the sender. */
#include "net/ip.h"
#include "ustack/gso.h"

void us_ipv4_forward(struct us_stack *s, struct us_iface *in, struct us_pkt *pkt,
                     const struct us_ipv4_view *ip)
{
    (void)in;
    if (ip->ttl <= 1) {
        /* Linux counts an expired TTL as a header error. */
        s->mib.ip.InHdrErrors++;
        us_icmp_send_error(s, pkt, US_ICMP_TIME_EXCEEDED, US_ICMP_EXC_TTL, 0);
        us_pkt_free(pkt);
        return;
    }
    const struct us_route *r = us_route_lookup(s, ip->dst);
    if (!r) {
        s->mib.ipext.InNoRoutes++;
        us_icmp_send_error(s, pkt, US_ICMP_DEST_UNREACH, US_ICMP_NET_UNREACH, 0);
        us_pkt_free(pkt);
        return;
    }
    struct us_iface *out = &s->ifaces[r->ifindex];
    /* A super-frame fits if each of its segments does. */
    if (ip->df && us_gso_network_seglen(pkt, 0) > out->dev->mtu) {
        /* RFC 1191 §4: the next-hop MTU goes in the low 16 bits. */
        s->mib.ip.FragFails++;
        us_icmp_send_error(s, pkt, US_ICMP_DEST_UNREACH, US_ICMP_FRAG_NEEDED,
                           out->dev->mtu & 0xffff);
        us_pkt_free(pkt);
        return;
    }
    us_ipv4_decrement_ttl(pkt->data);
    s->mib.ip.ForwDatagrams++;
    us_ipv4_send_on(s, out, pkt, ip->dst, ip->df, r->gw ? r->gw : ip->dst);
}
