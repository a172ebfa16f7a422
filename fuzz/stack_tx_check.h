/* The check fuzz_stack_rx runs on every frame the stack sends: each must be
 * well-formed, parsed with the stack's own wire parsers, down to the
 * transport checksum. abort() on anything that is not.
 *
 * - Ethernet from the stack's MAC; IPv4 or ARP, nothing else.
 * - ARP: parses, sender is the stack (MAC and address).
 * - IPv4: parses (header checksum), fits the MTU, a multicast destination
 *   goes to its RFC 1112 §6.4 MAC.
 * - What the stack originated (source = its address): the TCP, UDP, ICMP
 *   or IGMP message parses with its checksum. The checksum covers the whole
 *   datagram, so fragments are reassembled here (by the 8-byte units they
 *   cover) and the datagram is checked once complete; only that verifies
 *   the checksum of a fragmented echo reply or UDP datagram. A fragment that
 *   overlaps one already seen, or a non-last fragment that is not a
 *   multiple of 8 bytes, is malformed. Fragments may go missing legitimately
 *   (ARP's queue of unresolved packets drops its oldest), so a datagram
 *   never completed is not checked, and not an error.
 * - Forwarded datagrams (ip_forward=1) carry the fuzzer's transport bytes,
 *   bad checksums included: they are not checked past IPv4. They are told
 *   apart by their source address, which is not the stack's, unless the
 *   input spoofed it: such inputs are recorded (tx_check_note_input) and an
 *   output with their destination and id is not checked either.
 *
 * Header-only (static functions): each fuzz target is one source file. */
#ifndef FUZZ_STACK_TX_CHECK_H
#define FUZZ_STACK_TX_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "ustack/wire.h"

#define TX_REASM_SLOTS 4
#define TX_REASM_UNITS (65536 / 8)
/* IP ids come from one counter per stack, one per datagram: an entry younger
 * than this many frames cannot meet its id again after a wrap. */
#define TX_REASM_MAX_AGE 16384
#define TX_SPOOFED_MAX   16384

struct tx_reasm {
    bool used;
    us_ip4 src, dst;
    uint16_t id;
    uint8_t proto;
    size_t end;         /* datagram payload length, once the last fragment came; else 0 */
    size_t units;       /* 8-byte units received */
    unsigned long born; /* frames sent when the first fragment came */
    uint8_t have[TX_REASM_UNITS / 8];
    uint8_t data[65536];
};

struct tx_counts {
    unsigned long arp, tcp, udp, icmp, igmp, forwarded, fragments, reassembled;
};

struct tx_check {
    struct us_mac mac;
    us_ip4 addr;
    uint32_t mtu;
    unsigned long frames;
    struct tx_counts n;
    size_t n_spoofed;
    bool spoofed_overflow;
    struct {
        us_ip4 dst;
        uint16_t id;
    } spoofed[TX_SPOOFED_MAX];
    struct tx_reasm reasm[TX_REASM_SLOTS];
};

static void tx_check_init(struct tx_check *c, const struct us_mac *mac, us_ip4 addr, uint32_t mtu)
{
    c->mac = *mac;
    c->addr = addr;
    c->mtu = mtu;
    c->frames = 0;
    memset(&c->n, 0, sizeof(c->n));
    c->n_spoofed = 0;
    c->spoofed_overflow = false;
    for (int i = 0; i < TX_REASM_SLOTS; i++)
        c->reasm[i].used = false;
}

/* Called with every frame fed to the stack: one that claims the stack's own
 * address as its source may come back out forwarded. */
static void tx_check_note_input(struct tx_check *c, const uint8_t *frame, size_t len)
{
    struct us_eth_view eth;
    struct us_ipv4_view ip;
    if (us_eth_parse(frame, len, &eth) != US_WIRE_OK || eth.ethertype != US_ETH_TYPE_IPV4 ||
        us_ipv4_parse(eth.payload, eth.payload_len, &ip) != US_WIRE_OK || ip.src != c->addr)
        return;
    if (c->n_spoofed == TX_SPOOFED_MAX) {
        c->spoofed_overflow = true;
        return;
    }
    c->spoofed[c->n_spoofed].dst = ip.dst;
    c->spoofed[c->n_spoofed].id = ip.id;
    c->n_spoofed++;
}

static bool tx_maybe_forwarded(const struct tx_check *c, const struct us_ipv4_view *ip)
{
    if (ip->src != c->addr)
        return true;
    if (c->spoofed_overflow)
        return true;
    for (size_t i = 0; i < c->n_spoofed; i++)
        if (c->spoofed[i].dst == ip->dst && c->spoofed[i].id == ip->id)
            return true;
    return false;
}

static bool tx_is_icmp_error(uint8_t type)
{
    return type == US_ICMP_DEST_UNREACH || type == US_ICMP_SOURCE_QUENCH ||
           type == US_ICMP_REDIRECT || type == US_ICMP_TIME_EXCEEDED ||
           type == US_ICMP_PARAMETERPROB;
}

/* The transport message of a whole datagram the stack originated. */
static void tx_check_l4(struct tx_check *c, const struct us_ipv4_view *ip, const uint8_t *l4,
                        size_t len)
{
    switch (ip->proto) {
    case US_IPPROTO_TCP: {
        struct us_tcp_view t;
        if (us_tcp_parse(l4, len, ip->src, ip->dst, 0, &t) != US_WIRE_OK)
            abort();
        c->n.tcp++;
        return;
    }
    case US_IPPROTO_UDP: {
        struct us_udp_view u;
        if (us_udp_parse(l4, len, ip->src, ip->dst, 0, &u) != US_WIRE_OK)
            abort();
        /* The stack always computes the checksum, and its length is the
         * datagram's. */
        if (u.checksum == 0 || u.length != len)
            abort();
        c->n.udp++;
        return;
    }
    case US_IPPROTO_ICMP: {
        struct us_icmp_view m;
        struct us_ipv4_view quoted;
        if (us_icmp_parse(l4, len, &m) != US_WIRE_OK)
            abort();
        /* RFC 792: an error quotes the offending datagram's header. */
        if (tx_is_icmp_error(m.type) &&
            us_ipv4_parse_quoted(m.payload, m.payload_len, &quoted) != US_WIRE_OK)
            abort();
        c->n.icmp++;
        return;
    }
    case US_IPPROTO_IGMP: {
        struct us_igmp_view g;
        if (us_igmp_parse(l4, len, &g) != US_WIRE_OK || len != US_IGMP_LEN)
            abort();
        /* A host sends IGMPv2 reports to the group and leaves to
         * all-routers, with TTL 1 (RFC 2236 §2, §3). */
        if (!us_ip4_is_multicast(g.group) || ip->ttl != 1)
            abort();
        if (g.type == US_IGMPV2_REPORT ? ip->dst != g.group
                                       : g.type != US_IGMP_LEAVE || ip->dst != US_IGMP_ALL_ROUTERS)
            abort();
        c->n.igmp++;
        return;
    }
    default:
        abort(); /* the stack originates nothing else */
    }
}

static struct tx_reasm *tx_reasm_find(struct tx_check *c, const struct us_ipv4_view *ip)
{
    struct tx_reasm *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < TX_REASM_SLOTS; i++) {
        struct tx_reasm *r = &c->reasm[i];
        if (r->used && c->frames - r->born > TX_REASM_MAX_AGE)
            r->used = false; /* never completed: a fragment was dropped */
        if (!r->used) {
            free_slot = free_slot ? free_slot : r;
            continue;
        }
        if (r->src == ip->src && r->dst == ip->dst && r->id == ip->id && r->proto == ip->proto)
            return r;
        if (!oldest || r->born < oldest->born)
            oldest = r;
    }
    struct tx_reasm *r = free_slot ? free_slot : oldest;
    r->used = true;
    r->src = ip->src;
    r->dst = ip->dst;
    r->id = ip->id;
    r->proto = ip->proto;
    r->end = 0;
    r->units = 0;
    r->born = c->frames;
    memset(r->have, 0, sizeof(r->have));
    return r;
}

static void tx_check_fragment(struct tx_check *c, const struct us_ipv4_view *ip)
{
    size_t off = ip->frag_off, len = ip->payload_len;
    c->n.fragments++;
    /* RFC 791 §3.2: every fragment but the last carries a multiple of 8
     * bytes, and the datagram ends within 65535 - 20. */
    if ((ip->mf && (len == 0 || len % 8 != 0)) || off + len > 65535 - US_IPV4_HLEN)
        abort();
    struct tx_reasm *r = tx_reasm_find(c, ip);
    if (!ip->mf) {
        if (r->end != 0 || off + len == 0)
            abort(); /* two last fragments, or an empty datagram in fragments */
        r->end = off + len;
        for (size_t u = (r->end + 7) / 8; u < TX_REASM_UNITS; u++)
            if (r->have[u / 8] & (1u << (u % 8)))
                abort(); /* an earlier fragment lies past the end */
    }
    for (size_t u = off / 8; u < (off + len + 7) / 8; u++) {
        if (r->have[u / 8] & (1u << (u % 8)))
            abort(); /* overlaps a fragment of the same datagram */
        r->have[u / 8] |= (uint8_t)(1u << (u % 8));
        r->units++;
    }
    if (r->end && (off + len + 7) / 8 > (r->end + 7) / 8)
        abort(); /* beyond the last fragment's end */
    memcpy(r->data + off, ip->payload, len);
    if (r->end == 0 || r->units != (r->end + 7) / 8)
        return;
    r->used = false;
    c->n.reassembled++;
    tx_check_l4(c, ip, r->data, r->end);
}

static void tx_check_frame(struct tx_check *c, const uint8_t *frame, size_t len)
{
    struct us_eth_view eth;
    c->frames++;
    if (us_eth_parse(frame, len, &eth) != US_WIRE_OK || memcmp(eth.src.b, c->mac.b, 6) != 0)
        abort();
    if (eth.ethertype == US_ETH_TYPE_ARP) {
        struct us_arp_view a;
        if (us_arp_parse(eth.payload, eth.payload_len, &a) != US_WIRE_OK)
            abort();
        if ((a.op != US_ARP_OP_REQUEST && a.op != US_ARP_OP_REPLY) || a.spa != c->addr ||
            memcmp(a.sha.b, c->mac.b, 6) != 0)
            abort();
        c->n.arp++;
        return;
    }
    if (eth.ethertype != US_ETH_TYPE_IPV4)
        abort();
    struct us_ipv4_view ip;
    if (us_ipv4_parse(eth.payload, eth.payload_len, &ip) != US_WIRE_OK)
        abort();
    if (ip.total_len > c->mtu)
        abort(); /* fragmentation must have happened */
    if (us_ip4_is_multicast(ip.dst)) {
        struct us_mac m;
        us_mac_from_ip4_multicast(ip.dst, &m);
        if (memcmp(eth.dst.b, m.b, 6) != 0)
            abort();
    }
    if (tx_maybe_forwarded(c, &ip)) {
        c->n.forwarded++;
        return;
    }
    if (ip.mf || ip.frag_off)
        tx_check_fragment(c, &ip);
    else
        tx_check_l4(c, &ip, ip.payload, ip.payload_len);
}

#endif
