/* UDP (RFC 768, RFC 1122 §4.1): input through the port table to a socket's
 * receive queue, ICMP errors to the socket they concern, and output. */
#include "net/ip.h"
#include "sock/sock.h"

#include <errno.h>
#include <string.h>

struct bcast_deliver {
    struct us_stack *s;
    struct us_pkt *pkt;
    uint32_t payload_len;
    int left; /* matching sockets still to serve; the last one gets pkt itself */
};

static void bcast_one(void *ctx, struct us_sock *sk)
{
    struct bcast_deliver *d = ctx;
    struct us_pkt *p;
    if (--d->left == 0) {
        p = d->pkt;
        d->pkt = NULL;
    } else {
        p = us_pkt_clone(d->pkt);
    }
    if (!p) {
        /* __udp4_lib_mcast_deliver: a failed clone counts as a receive
         * buffer error and an input error. */
        d->s->mib.udp.RcvbufErrors++;
        d->s->mib.udp.InErrors++;
        return;
    }
    p->cb = d->payload_len;
    us_sock_queue_rcv(d->s, sk, p);
}

/* __udp4_lib_mcast_deliver: a broadcast or multicast datagram goes to every
 * socket of its port that would take it, each its own copy; a multicast one
 * only to sockets that joined the group on the arrival interface (or take
 * every joined group, IP_MULTICAST_ALL). */
static void deliver_broadcast(struct us_stack *s, struct us_pkt *pkt, us_ip4 saddr, uint16_t sport,
                              us_ip4 daddr, uint16_t dport)
{
    struct bcast_deliver d = {.s = s, .pkt = pkt, .payload_len = pkt->cb};
    int ifindex = pkt->ifindex;
    d.left = us_udp_lookup_all(s, saddr, sport, daddr, dport, ifindex, NULL, NULL);
    if (d.left > 0)
        us_udp_lookup_all(s, saddr, sport, daddr, dport, ifindex, bcast_one, &d);
    /* No socket (Linux drops these silently, without NoPorts), or one that
     * a callback closed on the way left the original unused. */
    us_pkt_free(d.pkt);
}

void us_udp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip,
                  bool to_broadcast)
{
    struct us_udp_view udp;
    int err = us_udp_parse(
        ip->payload, ip->payload_len, ip->src, ip->dst,
        pkt->offload & (US_PKT_CSUM_VALID | US_PKT_CSUM_PARTIAL) ? US_WIRE_CSUM_VALID : 0, &udp);
    if (err) {
        if (err == US_WIRE_BAD_CSUM)
            s->mib.udp.InCsumErrors++;
        s->mib.udp.InErrors++;
        us_pkt_free(pkt);
        return;
    }
    /* The packet is queued as it is, data at its IPv4 header; recv finds
     * the UDP header at l4_off and the payload length in cb. */
    pkt->cb = (uint32_t)udp.payload_len;
    if (to_broadcast || us_ip4_is_multicast(ip->dst)) {
        deliver_broadcast(s, pkt, ip->src, udp.sport, ip->dst, udp.dport);
        return;
    }
    struct us_sock *sk = us_udp_lookup(s, ip->src, udp.sport, ip->dst, udp.dport);
    if (sk) {
        us_sock_queue_rcv(s, sk, pkt);
        return;
    }
    /* RFC 1122 §4.1.3.1: port unreachable for a port nobody listens on. */
    s->mib.udp.NoPorts++;
    us_icmp_send_error(s, pkt, US_ICMP_DEST_UNREACH, US_ICMP_PORT_UNREACH, 0);
    us_pkt_free(pkt);
}

void us_udp_err(struct us_stack *s, const struct us_icmp_view *icmp,
                const struct us_ipv4_view *quoted)
{
    uint16_t sport, dport;
    if (us_l4_ports(quoted->payload, quoted->payload_len, &sport, &dport) != US_WIRE_OK)
        return;
    us_ip4 saddr = quoted->src, daddr = quoted->dst;
    /* __udp4_lib_err: the socket that sent it, looked up as if the quoted
     * datagram's answer were arriving. */
    struct us_sock *sk = us_udp_lookup(s, daddr, dport, saddr, sport);
    bool harderr;
    int err = us_icmp_unreach_errno(icmp->code, &harderr);
    if (!sk || !err)
        return;
    if (icmp->code == US_ICMP_FRAG_NEEDED)
        harderr = true; /* IP_PMTUDISC_DONT is not offered: as Linux's default */
    /* Without IP_RECVERR only a hard error on a connected socket is
     * reported (sk->sk_state == TCP_ESTABLISHED in __udp4_lib_err). */
    if (!harderr || !sk->daddr)
        return;
    us_sock_set_error(s, sk, err);
}

int us_udp_sendmsg(struct us_stack *s, struct us_sock *sk, const void *buf, size_t len,
                   us_ip4 daddr, uint16_t dport)
{
    us_ip4 saddr = sk->rcv_saddr;
    if (!saddr || us_ip4_is_multicast(saddr) || !us_iface_by_addr(s, saddr)) {
        /* The source is the outgoing interface's address (ip_route_output). */
        const struct us_route *r = us_route_lookup(s, daddr);
        if (r)
            saddr = s->ifaces[r->ifindex].addr;
        else if ((daddr == US_IP4_BROADCAST || us_ip4_is_multicast(daddr)) && s->n_ifaces)
            saddr = s->ifaces[0].addr;
        else
            return -ENETUNREACH;
    }
    /* sock_alloc_send_pskb: no room in the send buffer is EAGAIN for a
     * non-blocking sender (every us_sendto is one), counted by udp_sendmsg
     * in SndbufErrors (SOCK_NOSPACE). */
    if (!us_sock_wmem_room(sk)) {
        s->mib.udp.SndbufErrors++;
        return -EAGAIN;
    }
    size_t seg_len = US_UDP_HLEN + len;
    struct us_pkt *pkt = us_stack_pkt_alloc(s, seg_len + US_IPV4_HLEN + US_ETH_HLEN);
    if (!pkt) {
        /* udp_sendmsg counts ENOBUFS from ip_make_skb as SndbufErrors. */
        s->mib.udp.SndbufErrors++;
        return -ENOBUFS;
    }
    /* Charged to the socket until the device takes it (skb_set_owner_w). */
    us_sock_set_owner_w(sk, pkt);
    uint8_t *seg = us_pkt_put(pkt, (uint32_t)seg_len);
    if (len)
        memcpy(seg + US_UDP_HLEN, buf, len);
    us_udp_emit(seg, seg_len, sk->num, dport, saddr, daddr);
    /* ip_make_skb: a multicast datagram leaves with the socket's
     * IP_MULTICAST_TTL and loops back unless IP_MULTICAST_LOOP is off. */
    struct us_ip_send_opts mc = {.ttl = sk->mc_ttl, .mc_noloop = !sk->mc_loop};
    int err = us_ipv4_output(s, pkt, saddr, daddr, US_IPPROTO_UDP,
                             us_ip4_is_multicast(daddr) ? &mc : NULL);
    if (err) {
        if (err == -ENOBUFS)
            s->mib.udp.SndbufErrors++;
        return err;
    }
    s->mib.udp.OutDatagrams++;
    return 0;
}
