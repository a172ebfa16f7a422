/* IPv4 output: route, header, fragmentation, hand-off to the neighbour layer. */
#include "net/frag.h"
#include "net/ip.h"

#include <errno.h>

static void link_output(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt, us_ip4 dst,
                        us_ip4 nexthop)
{
    s->mib.ipext.OutOctets += pkt->len;
    if (us_ipv4_is_broadcast(ifc, dst) || us_ip4_is_multicast(dst)) {
        struct us_mac mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
        if (us_ip4_is_multicast(dst)) {
            us_mac_from_ip4_multicast(dst, &mac);
            s->mib.ipext.OutMcastPkts++;
        } else {
            s->mib.ipext.OutBcastPkts++;
        }
        uint8_t *h = us_pkt_push(pkt, US_ETH_HLEN);
        us_eth_emit(h, &mac, &ifc->dev->mac, US_ETH_TYPE_IPV4);
        us_iface_xmit(s, ifc, pkt);
        return;
    }
    us_arp_output(s, ifc, pkt, nexthop);
}

int us_ipv4_send_on(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt, us_ip4 dst,
                    bool df, us_ip4 nexthop)
{
    /* A super-frame goes whole: the device, or us_iface_xmit for it, cuts
     * it into segments that fit. */
    if (pkt->len <= ifc->dev->mtu || pkt->gso_size) {
        link_output(s, ifc, pkt, dst, nexthop);
        return 0;
    }
    if (df) {
        /* The caller reports it: -EMSGSIZE to a local sender, ICMP
         * fragmentation needed when forwarding (RFC 1191). */
        s->mib.ip.FragFails++;
        us_pkt_free(pkt);
        return -EMSGSIZE;
    }
    struct us_pkt_queue frags = {0};
    int err = us_ip_fragment(pkt, ifc->dev->mtu, s->pool, &frags, &s->mib);
    if (err)
        return err;
    struct us_pkt *f;
    while ((f = us_pkt_queue_pop(&frags)))
        link_output(s, ifc, f, dst, nexthop);
    return 0;
}

/* ip_mc_output: a datagram to a group this host joined on the outgoing
 * interface is also delivered locally (dev_loopback_xmit), unless the
 * socket turned IP_MULTICAST_LOOP off. The copy enters the receive path
 * through the backlog, whole (before fragmentation), as Linux's does. */
static void mc_loopback(struct us_stack *s, struct us_iface *ifc, const struct us_pkt *pkt,
                        us_ip4 dst)
{
    struct us_pkt *c = us_pkt_clone(pkt);
    uint8_t *h = c ? us_pkt_push(c, US_ETH_HLEN) : NULL;
    if (!h) {
        us_pkt_free(c);
        return;
    }
    struct us_mac mac;
    us_mac_from_ip4_multicast(dst, &mac);
    us_eth_emit(h, &mac, &ifc->dev->mac, US_ETH_TYPE_IPV4);
    c->ifindex = (int16_t)ifc->index;
    c->tstamp = s->now;
    us_pkt_queue_push(&s->backlog, c);
}

/* The interface and next hop for dst: limited broadcast and multicast leave
 * by the first interface unless a route says otherwise. */
static struct us_iface *route_output(struct us_stack *s, us_ip4 dst, us_ip4 *nexthop)
{
    const struct us_route *r = us_route_lookup(s, dst);
    if (!r) {
        if ((dst == US_IP4_BROADCAST || us_ip4_is_multicast(dst)) && s->n_ifaces > 0) {
            *nexthop = dst;
            return &s->ifaces[0];
        }
        return NULL;
    }
    *nexthop = r->gw ? r->gw : dst;
    return &s->ifaces[r->ifindex];
}

int us_ipv4_output(struct us_stack *s, struct us_pkt *pkt, us_ip4 src, us_ip4 dst, uint8_t proto,
                   const struct us_ip_send_opts *opts)
{
    us_ip4 nexthop;
    struct us_iface *ifc = route_output(s, dst, &nexthop);
    s->mib.ip.OutRequests++;
    if (!ifc) {
        s->mib.ip.OutNoRoutes++;
        us_pkt_free(pkt);
        return -ENETUNREACH;
    }
    size_t total = pkt->len + US_IPV4_HLEN;
    uint8_t *h = total <= 65535 ? us_pkt_push(pkt, US_IPV4_HLEN) : NULL;
    if (!h) {
        s->mib.ip.OutDiscards++;
        us_pkt_free(pkt);
        return -EMSGSIZE;
    }
    struct us_ipv4_repr r = {
        .tos = opts ? opts->tos : 0,
        .total_len = (uint16_t)total,
        .id = s->ip_id_next++,
        .df = opts && opts->df,
        .ttl = opts && opts->ttl ? opts->ttl : (uint8_t)s->sysctl.ip_default_ttl,
        .proto = proto,
        .src = src ? src : ifc->addr,
        .dst = dst,
    };
    us_ipv4_emit(h, &r);
    if (us_ip4_is_multicast(dst) && !(opts && opts->mc_noloop) && us_igmp_is_member(ifc, dst))
        mc_loopback(s, ifc, pkt, dst);
    return us_ipv4_send_on(s, ifc, pkt, r.dst, r.df, nexthop);
}
