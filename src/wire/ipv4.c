/* IPv4 header parse and emit (RFC 791). */
#include "ustack/checksum.h"
#include "ustack/wire.h"
#include "wire/be.h"

#include <string.h>

#define IP_FLAG_DF      0x4000
#define IP_FLAG_MF      0x2000
#define IP_OFFSET_MASK  0x1fff
#define IPOPT_END       0
#define IPOPT_NOOP      1
#define IP_MAX_DATAGRAM 65535

/* RFC 791 §3.1 "Options": kind 0 ends the list, kind 1 is one byte, every
 * other option carries a length octet that counts kind and length too. We
 * only check that each option stays inside the area; what they mean is the
 * IP layer's business. */
static int walk_options(const uint8_t *opt, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t kind = opt[i];
        if (kind == IPOPT_END)
            break;
        if (kind == IPOPT_NOOP) {
            i++;
            continue;
        }
        if (len - i < 2 || opt[i + 1] < 2 || opt[i + 1] > len - i)
            return US_WIRE_BAD_OPTION;
        i += opt[i + 1];
    }
    return US_WIRE_OK;
}

/* quoted: the header an ICMP error carries back (RFC 792): the datagram
 * may be cut short after its first bytes, and its checksum is not ours to
 * judge (Linux's icmp_unreach does not check it either). */
static int parse(const uint8_t *buf, size_t len, bool quoted, struct us_ipv4_view *v)
{
    if (len < US_IPV4_HLEN)
        return US_WIRE_TRUNCATED;
    if ((buf[0] >> 4) != 4)
        return US_WIRE_BAD_VERSION;

    size_t hdr_len = (size_t)(buf[0] & 0x0f) * 4;
    if (hdr_len < US_IPV4_HLEN)
        return US_WIRE_BAD_HDRLEN;
    if (hdr_len > len)
        return US_WIRE_TRUNCATED;

    size_t total_len = be16_load(buf + 2);
    if (total_len < hdr_len)
        return US_WIRE_BAD_LENGTH;
    if (total_len > len && !quoted)
        return US_WIRE_TRUNCATED;

    /* RFC 791 §3.1: the checksum covers the header only; summed with its
     * own field it folds to all ones. */
    if (!quoted && us_inet_csum(buf, hdr_len) != 0)
        return US_WIRE_BAD_CSUM;

    uint16_t frag = be16_load(buf + 6);
    size_t frag_off = (size_t)(frag & IP_OFFSET_MASK) * 8;
    size_t payload_len = total_len - hdr_len;
    /* A fragment reaching past 65535 bytes would overflow the reassembled
     * datagram (the "ping of death"). */
    if (frag_off + payload_len > IP_MAX_DATAGRAM)
        return US_WIRE_BAD_LENGTH;

    int err = walk_options(buf + US_IPV4_HLEN, hdr_len - US_IPV4_HLEN);
    if (err != US_WIRE_OK)
        return err;

    v->hdr_len = (uint8_t)hdr_len;
    v->tos = buf[1];
    v->total_len = (uint16_t)total_len;
    v->id = be16_load(buf + 4);
    v->df = (frag & IP_FLAG_DF) != 0;
    v->mf = (frag & IP_FLAG_MF) != 0;
    v->frag_off = (uint16_t)frag_off;
    v->ttl = buf[8];
    v->proto = buf[9];
    v->checksum = be16_load(buf + 10);
    v->src = be32_load(buf + 12);
    v->dst = be32_load(buf + 16);
    v->options = buf + US_IPV4_HLEN;
    v->options_len = hdr_len - US_IPV4_HLEN;
    /* Bytes after total_len are link padding (a 60-byte minimum Ethernet
     * frame), not payload. */
    v->payload = buf + hdr_len;
    v->payload_len = quoted && total_len > len ? len - hdr_len : payload_len;
    return US_WIRE_OK;
}

int us_ipv4_parse(const uint8_t *buf, size_t len, struct us_ipv4_view *v)
{
    return parse(buf, len, false, v);
}

int us_ipv4_parse_quoted(const uint8_t *buf, size_t len, struct us_ipv4_view *v)
{
    return parse(buf, len, true, v);
}

int us_l4_ports(const uint8_t *buf, size_t len, uint16_t *sport, uint16_t *dport)
{
    if (len < 4)
        return US_WIRE_TRUNCATED;
    *sport = be16_load(buf);
    *dport = be16_load(buf + 2);
    return US_WIRE_OK;
}

void us_ipv4_emit(uint8_t *buf, const struct us_ipv4_repr *r)
{
    uint16_t frag = (uint16_t)((r->frag_off / 8) & IP_OFFSET_MASK);
    if (r->df)
        frag |= IP_FLAG_DF;
    if (r->mf)
        frag |= IP_FLAG_MF;

    buf[0] = 0x45; /* version 4, IHL 5 */
    buf[1] = r->tos;
    be16_store(buf + 2, r->total_len);
    be16_store(buf + 4, r->id);
    be16_store(buf + 6, frag);
    buf[8] = r->ttl;
    buf[9] = r->proto;
    be16_store(buf + 10, 0);
    be32_store(buf + 12, r->src);
    be32_store(buf + 16, r->dst);
    be16_store(buf + 10, us_inet_csum(buf, US_IPV4_HLEN));
}

const uint8_t us_ipopt_router_alert[US_IPOPT_RA_LEN] = {0x94, 0x04, 0x00, 0x00};

void us_ipv4_emit_opts(uint8_t *buf, const struct us_ipv4_repr *r, const uint8_t *opts,
                       size_t opts_len)
{
    size_t hlen = US_IPV4_HLEN + opts_len;
    us_ipv4_emit(buf, r);
    buf[0] = (uint8_t)(0x40 | (hlen / 4));
    if (opts_len)
        memcpy(buf + US_IPV4_HLEN, opts, opts_len);
    be16_store(buf + 10, 0);
    be16_store(buf + 10, us_inet_csum(buf, hlen));
}
