/* Wire formats: parse a byte range into a validated view, and emit headers.
 * Parsers check every length and checksum before they fill the view, never
 * read outside [buf, buf+len), and return a negative us_wire_err on malformed
 * input so the caller can count it. Views hold host-order values and point
 * into the parsed buffer. No code above this layer touches raw offsets. */
#ifndef USTACK_WIRE_H
#define USTACK_WIRE_H

#include "ustack/types.h"

enum us_wire_err {
    US_WIRE_OK = 0,
    US_WIRE_TRUNCATED = -1, /* shorter than its headers or its length field */
    US_WIRE_BAD_VERSION = -2,
    US_WIRE_BAD_HDRLEN = -3, /* header length field impossible */
    US_WIRE_BAD_LENGTH = -4, /* a length field disagrees with the rest */
    US_WIRE_BAD_CSUM = -5,
    US_WIRE_BAD_OPTION = -6,  /* an option runs past its space or has an impossible length */
    US_WIRE_UNSUPPORTED = -7, /* well-formed but not something we speak (ARP for non-IPv4) */
};
const char *us_wire_strerror(int err);

/* Parse flags. */
enum {
    US_WIRE_CSUM_VALID = 1 << 0, /* skip the L4 checksum check: the device verified it */
};

/* ---------------- Ethernet II ---------------- */

#define US_ETH_HLEN        14
#define US_ETH_TYPE_IPV4   0x0800
#define US_ETH_TYPE_ARP    0x0806
#define US_ETH_MIN_PAYLOAD 46

struct us_eth_view {
    struct us_mac dst, src;
    uint16_t ethertype;
    const uint8_t *payload;
    size_t payload_len;
};
int us_eth_parse(const uint8_t *buf, size_t len, struct us_eth_view *v);
/* Writes the 14-byte header at buf. */
void us_eth_emit(uint8_t *buf, const struct us_mac *dst, const struct us_mac *src,
                 uint16_t ethertype);
static inline bool us_mac_is_broadcast(const struct us_mac *m)
{
    return (m->b[0] & m->b[1] & m->b[2] & m->b[3] & m->b[4] & m->b[5]) == 0xff;
}
static inline bool us_mac_is_multicast(const struct us_mac *m)
{
    return m->b[0] & 1;
}
/* The Ethernet multicast address of an IPv4 group (RFC 1112 §6.4). */
void us_mac_from_ip4_multicast(us_ip4 group, struct us_mac *out);

/* ---------------- ARP (RFC 826), Ethernet/IPv4 only ---------------- */

#define US_ARP_LEN        28
#define US_ARP_OP_REQUEST 1
#define US_ARP_OP_REPLY   2

struct us_arp_view {
    uint16_t op;
    struct us_mac sha, tha; /* sender / target hardware address */
    us_ip4 spa, tpa;        /* sender / target protocol address */
};
/* US_WIRE_UNSUPPORTED for hardware or protocol types other than Ethernet/IPv4. */
int us_arp_parse(const uint8_t *buf, size_t len, struct us_arp_view *v);
/* Writes the 28-byte packet at buf. */
void us_arp_emit(uint8_t *buf, const struct us_arp_view *v);

/* ---------------- IPv4 (RFC 791) ---------------- */

#define US_IPV4_HLEN     20
#define US_IPV4_MAX_HLEN 60
#define US_IPPROTO_ICMP  1
#define US_IPPROTO_IGMP  2
#define US_IPPROTO_TCP   6
#define US_IPPROTO_UDP   17

struct us_ipv4_view {
    uint8_t hdr_len; /* bytes, 20..60 */
    uint8_t tos;
    uint16_t total_len; /* header + payload, from the header */
    uint16_t id;
    bool df, mf;
    uint16_t frag_off; /* in bytes (the field times 8) */
    uint8_t ttl;
    uint8_t proto;
    uint16_t checksum;
    us_ip4 src, dst;
    const uint8_t *options; /* options area, skipped safely; may be empty */
    size_t options_len;
    const uint8_t *payload; /* total_len - hdr_len bytes; link-layer padding excluded */
    size_t payload_len;
};
/* Checks version 4, 20 <= IHL*4 <= total_len <= len, the header checksum and
 * that every option's length stays inside the options area. */
int us_ipv4_parse(const uint8_t *buf, size_t len, struct us_ipv4_view *v);

/* The datagram header quoted in an ICMP error: as us_ipv4_parse, but the
 * datagram may be cut short (payload_len is what is there) and the header
 * checksum is not checked. */
int us_ipv4_parse_quoted(const uint8_t *buf, size_t len, struct us_ipv4_view *v);
/* Source and destination port, the first four bytes of a UDP or TCP header
 * (an ICMP error quotes at least eight, RFC 792). */
int us_l4_ports(const uint8_t *buf, size_t len, uint16_t *sport, uint16_t *dport);

struct us_ipv4_repr {
    uint8_t tos;
    uint16_t total_len;
    uint16_t id;
    bool df, mf;
    uint16_t frag_off; /* bytes, a multiple of 8 */
    uint8_t ttl;
    uint8_t proto;
    us_ip4 src, dst;
};
/* Writes a 20-byte header (no options) with its checksum at buf. */
void us_ipv4_emit(uint8_t *buf, const struct us_ipv4_repr *r);
/* The same with opts_len bytes of options (a multiple of 4, at most 40)
 * after the fixed header; IHL covers them. */
void us_ipv4_emit_opts(uint8_t *buf, const struct us_ipv4_repr *r, const uint8_t *opts,
                       size_t opts_len);
/* The Router Alert option (RFC 2113): type 148, length 4, value 0. */
#define US_IPOPT_RA_LEN 4
extern const uint8_t us_ipopt_router_alert[US_IPOPT_RA_LEN];
/* Decrements the TTL of the (already validated) header at buf, updating the
 * checksum incrementally (RFC 1624) as a forwarding router does. */
void us_ipv4_decrement_ttl(uint8_t *buf);

/* ---------------- ICMP (RFC 792) ---------------- */

#define US_ICMP_HLEN           8
#define US_ICMP_ECHOREPLY      0
#define US_ICMP_DEST_UNREACH   3
#define US_ICMP_SOURCE_QUENCH  4
#define US_ICMP_REDIRECT       5
#define US_ICMP_ECHO           8
#define US_ICMP_TIME_EXCEEDED  11
#define US_ICMP_PARAMETERPROB  12
#define US_ICMP_TIMESTAMP      13
#define US_ICMP_TIMESTAMPREPLY 14
/* Destination unreachable codes */
#define US_ICMP_NET_UNREACH  0
#define US_ICMP_HOST_UNREACH 1
#define US_ICMP_PROT_UNREACH 2
#define US_ICMP_PORT_UNREACH 3
#define US_ICMP_FRAG_NEEDED  4
/* Time exceeded codes */
#define US_ICMP_EXC_TTL      0
#define US_ICMP_EXC_FRAGTIME 1

struct us_icmp_view {
    uint8_t type, code;
    uint16_t checksum;
    uint32_t rest; /* the 4 bytes after the checksum: id/seq, next-hop MTU, pointer... */
    const uint8_t *payload;
    size_t payload_len;
};
/* Checks length >= 8 and the checksum over the whole message. */
int us_icmp_parse(const uint8_t *buf, size_t len, struct us_icmp_view *v);
static inline uint16_t us_icmp_echo_id(const struct us_icmp_view *v)
{
    return (uint16_t)(v->rest >> 16);
}
static inline uint16_t us_icmp_echo_seq(const struct us_icmp_view *v)
{
    return (uint16_t)v->rest;
}
/* Writes the 8-byte header at msg, where the payload already follows it in
 * place, and the checksum over all msg_len bytes. */
void us_icmp_emit(uint8_t *msg, size_t msg_len, uint8_t type, uint8_t code, uint32_t rest);

/* ---------------- IGMPv2 (RFC 2236) ---------------- */

#define US_IGMP_LEN         8
#define US_IGMP_QUERY       0x11 /* Membership Query (general or group-specific) */
#define US_IGMPV1_REPORT    0x12
#define US_IGMPV2_REPORT    0x16
#define US_IGMP_LEAVE       0x17
#define US_IGMP_ALL_HOSTS   US_IP4(224, 0, 0, 1)
#define US_IGMP_ALL_ROUTERS US_IP4(224, 0, 0, 2)

struct us_igmp_view {
    uint8_t type;
    uint8_t max_resp; /* Max Resp Time in tenths of a second (queries; 0 = IGMPv1 query) */
    uint16_t checksum;
    us_ip4 group; /* 0 in a general query */
};
/* Checks len >= 8 and the checksum over the whole message (RFC 2236 §2.3);
 * bytes beyond 8 (an IGMPv3 query's) are covered by the checksum and ignored. */
int us_igmp_parse(const uint8_t *buf, size_t len, struct us_igmp_view *v);
/* Writes the 8-byte message with its checksum at buf. */
void us_igmp_emit(uint8_t *buf, uint8_t type, uint8_t max_resp, us_ip4 group);

/* ---------------- UDP (RFC 768) ---------------- */

#define US_UDP_HLEN 8

struct us_udp_view {
    uint16_t sport, dport;
    uint16_t length;   /* header + payload */
    uint16_t checksum; /* 0: the sender computed none */
    const uint8_t *payload;
    size_t payload_len;
};
/* Checks 8 <= length <= len and, unless flags has US_WIRE_CSUM_VALID or the
 * checksum field is 0, the checksum with the pseudo header of src/dst. */
int us_udp_parse(const uint8_t *buf, size_t len, us_ip4 src, us_ip4 dst, unsigned flags,
                 struct us_udp_view *v);
/* Writes the 8-byte header at seg, where seg_len bytes (header + payload)
 * are in place, with the checksum (0 is sent as 0xffff). */
void us_udp_emit(uint8_t *seg, size_t seg_len, uint16_t sport, uint16_t dport, us_ip4 src,
                 us_ip4 dst);

/* ---------------- TCP (RFC 9293) and its options ---------------- */

#define US_TCP_HLEN     20
#define US_TCP_MAX_HLEN 60
enum {
    US_TCP_FIN = 0x01,
    US_TCP_SYN = 0x02,
    US_TCP_RST = 0x04,
    US_TCP_PSH = 0x08,
    US_TCP_ACK = 0x10,
    US_TCP_URG = 0x20,
    US_TCP_ECE = 0x40,
    US_TCP_CWR = 0x80,
};
#define US_TCP_MAX_SACK 4

struct us_tcp_sack_block {
    uint32_t left, right;
};
struct us_tcp_opts {
    bool mss_present; /* kind 2, RFC 9293 §3.7.1 */
    uint16_t mss;
    bool wscale_present; /* kind 3, RFC 7323 §2 */
    uint8_t wscale;      /* as sent; the receiver clamps to 14 */
    bool sack_permitted; /* kind 4, RFC 2018 */
    uint8_t sack_count;  /* kind 5 blocks, at most US_TCP_MAX_SACK */
    struct us_tcp_sack_block sack[US_TCP_MAX_SACK];
    bool ts_present; /* kind 8, RFC 7323 §3 */
    uint32_t tsval, tsecr;
};
struct us_tcp_view {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t hdr_len; /* bytes, 20..60 */
    uint8_t flags;   /* US_TCP_* */
    uint16_t window; /* unscaled, as on the wire */
    uint16_t checksum;
    uint16_t urg_ptr;
    struct us_tcp_opts opts; /* unknown options skipped */
    const uint8_t *payload;
    size_t payload_len;
};
int us_tcp_parse(const uint8_t *buf, size_t len, us_ip4 src, us_ip4 dst, unsigned flags,
                 struct us_tcp_view *v);
/* Bytes the options in o take on the wire, padded to a multiple of 4. */
size_t us_tcp_opts_len(const struct us_tcp_opts *o);

struct us_tcp_repr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window;
    uint16_t urg_ptr;
    struct us_tcp_opts opts;
    /* Leave the checksum to the device (US_PKT_CSUM_PARTIAL): the field gets
     * the pseudo-header sum only, and the payload is not read. */
    bool csum_partial;
};
/* Writes header and options at seg, where the payload already follows them in
 * place; seg_len = header + options + payload. Computes the checksum (unless
 * r->csum_partial). Returns the header length written. */
size_t us_tcp_emit(uint8_t *seg, size_t seg_len, const struct us_tcp_repr *r, us_ip4 src,
                   us_ip4 dst);

#endif
