/* IPv4 input (RFC 791, RFC 1122 §3.2.1): validate, decide whether the
 * datagram is ours, reassemble, deliver to the transport. */
#include "net/frag.h"
#include "net/ip.h"

static void count_parse_error(struct us_stack *s, int err)
{
    switch (err) {
    case US_WIRE_TRUNCATED:
        s->mib.ipext.InTruncatedPkts++;
        break;
    case US_WIRE_BAD_CSUM:
        s->mib.ipext.InCsumErrors++;
        s->mib.ip.InHdrErrors++;
        break;
    default:
        s->mib.ip.InHdrErrors++;
    }
}

bool us_ipv4_is_broadcast(const struct us_iface *ifc, us_ip4 dst)
{
    return dst == US_IP4_BROADCAST || (ifc->prefix_len < 31 && dst == ifc->bcast);
}

static bool is_local(struct us_stack *s, us_ip4 dst)
{
    /* The weak host model (RFC 1122 §3.3.4.2), as Linux: any of our
     * addresses is accepted on any interface. */
    return us_iface_by_addr(s, dst) != NULL;
}

static void deliver(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip,
                    bool to_broadcast)
{
    pkt->l4_off = ip->hdr_len;
    switch (ip->proto) {
    case US_IPPROTO_ICMP:
        s->mib.ip.InDelivers++;
        us_icmp_input(s, pkt, ip);
        return;
    case US_IPPROTO_IGMP:
        s->mib.ip.InDelivers++;
        us_igmp_input(s, pkt, ip);
        return;
    case US_IPPROTO_UDP:
        s->mib.ip.InDelivers++;
        us_udp_input(s, pkt, ip, to_broadcast);
        return;
    case US_IPPROTO_TCP:
        s->mib.ip.InDelivers++;
        if (to_broadcast || us_ip4_is_multicast(ip->dst)) {
            us_pkt_free(pkt); /* RFC 9293 §3.9.1: TCP is unicast only */
            return;
        }
        us_tcp_input(s, pkt, ip);
        return;
    default:
        s->mib.ip.InUnknownProtos++;
        if (!to_broadcast)
            us_icmp_send_error(s, pkt, US_ICMP_DEST_UNREACH, US_ICMP_PROT_UNREACH, 0);
        us_pkt_free(pkt);
    }
}

void us_ipv4_input(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt)
{
    struct us_ipv4_view ip;
    s->mib.ip.InReceives++;
    int err = us_ipv4_parse(pkt->data, pkt->len, &ip);
    if (err) {
        count_parse_error(s, err);
        us_pkt_free(pkt);
        return;
    }
    s->mib.ipext.InOctets += ip.total_len;
    us_pkt_trim(pkt, ip.total_len); /* drop Ethernet padding */
    pkt->l3_off = 0;

    /* Martian sources are never answered or delivered (RFC 1122 §3.2.1.3). */
    if (us_ip4_is_multicast(ip.src) || ip.src == US_IP4_BROADCAST || (ip.src >> 24) == 127 ||
        (ip.src != 0 && us_ipv4_is_broadcast(ifc, ip.src))) {
        s->mib.ip.InAddrErrors++;
        us_pkt_free(pkt);
        return;
    }

    bool to_broadcast = false;
    if (us_ip4_is_multicast(ip.dst)) {
        s->mib.ipext.InMcastPkts++;
        /* ip_check_mc_rcu: only groups joined on this interface (and
         * all-hosts) are ours. */
        if (!us_igmp_is_member(ifc, ip.dst)) {
            s->mib.ip.InDiscards++;
            us_pkt_free(pkt);
            return;
        }
    } else if (us_ipv4_is_broadcast(ifc, ip.dst)) {
        s->mib.ipext.InBcastPkts++;
        to_broadcast = true;
    } else if (!is_local(s, ip.dst)) {
        if (s->sysctl.ip_forward) {
            us_ipv4_forward(s, ifc, pkt, &ip);
        } else {
            s->mib.ip.InAddrErrors++;
            us_pkt_free(pkt);
        }
        return;
    }

    if (ip.mf || ip.frag_off) {
        struct us_frag_params fp = {
            .timeout = (us_time_ns)s->sysctl.ipfrag_time * US_NS_PER_SEC,
            .high_thresh = (size_t)s->sysctl.ipfrag_high_thresh,
            .low_thresh = (size_t)s->sysctl.ipfrag_low_thresh,
        };
        struct us_pkt *whole = NULL;
        if (us_frag_input(s->frag, &fp, pkt, &ip, s->large_pool, s->now, &whole, &s->mib) !=
            US_FRAG_COMPLETE)
            return;
        pkt = whole;
        pkt->ifindex = (int16_t)ifc->index;
        if (us_ipv4_parse(pkt->data, pkt->len, &ip) != US_WIRE_OK) {
            s->mib.ip.ReasmFails++; /* cannot happen: frag.c builds a valid header */
            us_pkt_free(pkt);
            return;
        }
    }
    deliver(s, pkt, &ip, to_broadcast);
}
