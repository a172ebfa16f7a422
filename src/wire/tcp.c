/* TCP header and option parse and emit (RFC 9293 §3.1, options from RFC
 * 9293 §3.2, RFC 7323 and RFC 2018). */
#include <string.h>

#include "ustack/checksum.h"
#include "ustack/wire.h"
#include "wire/be.h"

#define TCPOPT_EOL            0
#define TCPOPT_NOP            1
#define TCPOPT_MSS            2
#define TCPOPT_WS             3
#define TCPOPT_SACK_PERM      4
#define TCPOPT_SACK           5
#define TCPOPT_TS             8
#define TCPOLEN_MSS           4
#define TCPOLEN_WS            3
#define TCPOLEN_SACK_PERM     2
#define TCPOLEN_SACK_BASE     2
#define TCPOLEN_SACK_PERBLOCK 8
#define TCPOLEN_TS            10
#define TCP_MAX_OPT_SPACE     (US_TCP_MAX_HLEN - US_TCP_HLEN)

/* Parses the options area into o. Unknown kinds are skipped by their
 * length (RFC 9293 §3.1: "must be prepared to handle an illegal option
 * length"), but a known kind with the wrong length, or any length that is
 * < 2 or runs past the header, is malformed. */
static int parse_options(const uint8_t *p, size_t len, struct us_tcp_opts *o)
{
    size_t i = 0;

    memset(o, 0, sizeof *o);
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == TCPOPT_EOL)
            break;
        if (kind == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (len - i < 2)
            return US_WIRE_BAD_OPTION;
        uint8_t olen = p[i + 1];
        if (olen < 2 || olen > len - i)
            return US_WIRE_BAD_OPTION;
        const uint8_t *d = p + i + 2;
        switch (kind) {
        case TCPOPT_MSS:
            if (olen != TCPOLEN_MSS)
                return US_WIRE_BAD_OPTION;
            o->mss_present = true;
            o->mss = be16_load(d);
            break;
        case TCPOPT_WS:
            if (olen != TCPOLEN_WS)
                return US_WIRE_BAD_OPTION;
            o->wscale_present = true;
            o->wscale = d[0];
            break;
        case TCPOPT_SACK_PERM:
            if (olen != TCPOLEN_SACK_PERM)
                return US_WIRE_BAD_OPTION;
            o->sack_permitted = true;
            break;
        case TCPOPT_SACK: {
            size_t n = (size_t)(olen - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_PERBLOCK;
            if ((olen - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_PERBLOCK != 0 || n < 1 ||
                n > US_TCP_MAX_SACK)
                return US_WIRE_BAD_OPTION;
            o->sack_count = (uint8_t)n;
            for (size_t b = 0; b < n; b++) {
                o->sack[b].left = be32_load(d + 8 * b);
                o->sack[b].right = be32_load(d + 8 * b + 4);
            }
            break;
        }
        case TCPOPT_TS:
            if (olen != TCPOLEN_TS)
                return US_WIRE_BAD_OPTION;
            o->ts_present = true;
            o->tsval = be32_load(d);
            o->tsecr = be32_load(d + 4);
            break;
        default:
            break;
        }
        i += olen;
    }
    return US_WIRE_OK;
}

int us_tcp_parse(const uint8_t *buf, size_t len, us_ip4 src, us_ip4 dst, unsigned flags,
                 struct us_tcp_view *v)
{
    if (len < US_TCP_HLEN)
        return US_WIRE_TRUNCATED;
    size_t hdr_len = (size_t)(buf[12] >> 4) * 4;
    if (hdr_len < US_TCP_HLEN)
        return US_WIRE_BAD_HDRLEN;
    if (hdr_len > len)
        return US_WIRE_TRUNCATED;

    if (!(flags & US_WIRE_CSUM_VALID)) {
        /* The pseudo header's length field is 16 bits (RFC 9293 §3.1). */
        if (len > 0xffff)
            return US_WIRE_BAD_LENGTH;
        uint32_t sum = us_csum_pseudo(src, dst, US_IPPROTO_TCP, (uint16_t)len);
        if (us_csum_fold(us_csum_partial(buf, len, sum)) != 0xffff)
            return US_WIRE_BAD_CSUM;
    }

    struct us_tcp_opts opts;
    int err = parse_options(buf + US_TCP_HLEN, hdr_len - US_TCP_HLEN, &opts);
    if (err != US_WIRE_OK)
        return err;

    v->sport = be16_load(buf);
    v->dport = be16_load(buf + 2);
    v->seq = be32_load(buf + 4);
    v->ack = be32_load(buf + 8);
    v->hdr_len = (uint8_t)hdr_len;
    v->flags = buf[13];
    v->window = be16_load(buf + 14);
    v->checksum = be16_load(buf + 16);
    v->urg_ptr = be16_load(buf + 18);
    v->opts = opts;
    v->payload = buf + hdr_len;
    v->payload_len = len - hdr_len;
    return US_WIRE_OK;
}

/* Bytes of the fixed options (all but SACK blocks) in Linux's layout. */
static size_t fixed_opts_len(const struct us_tcp_opts *o)
{
    size_t n = 0;
    if (o->mss_present)
        n += 4;
    if (o->ts_present)
        n += 12; /* SACKPERM TS, or NOP NOP TS */
    else if (o->sack_permitted)
        n += 4; /* NOP NOP SACKPERM */
    if (o->wscale_present)
        n += 4; /* NOP WS */
    return n;
}

/* SACK blocks that fit beside the fixed options; the rest are dropped, as
 * Linux does when timestamps leave room for only three. */
static size_t sack_blocks_fitting(const struct us_tcp_opts *o)
{
    size_t fixed = fixed_opts_len(o);
    size_t n = o->sack_count > US_TCP_MAX_SACK ? US_TCP_MAX_SACK : o->sack_count;
    while (n > 0 && fixed + 4 + TCPOLEN_SACK_PERBLOCK * n > TCP_MAX_OPT_SPACE)
        n--;
    return n;
}

size_t us_tcp_opts_len(const struct us_tcp_opts *o)
{
    size_t n = fixed_opts_len(o);
    size_t blocks = sack_blocks_fitting(o);
    if (blocks > 0)
        n += 4 + TCPOLEN_SACK_PERBLOCK * blocks; /* NOP NOP SACK */
    return (n + 3) & ~(size_t)3;
}

/* Writes the options in Linux's order (tcp_options_write): MSS, timestamps
 * (with SACK-permitted in the NOP slots), window scale, SACK blocks. Every
 * group is a multiple of 4 bytes with NOPs, so 32-bit fields stay aligned
 * for receivers that fast-path that layout (RFC 7323 Appendix A). */
static size_t write_options(uint8_t *p, const struct us_tcp_opts *o)
{
    size_t i = 0;

    if (o->mss_present) {
        p[i++] = TCPOPT_MSS;
        p[i++] = TCPOLEN_MSS;
        be16_store(p + i, o->mss);
        i += 2;
    }
    if (o->ts_present) {
        if (o->sack_permitted) {
            p[i++] = TCPOPT_SACK_PERM;
            p[i++] = TCPOLEN_SACK_PERM;
        } else {
            p[i++] = TCPOPT_NOP;
            p[i++] = TCPOPT_NOP;
        }
        p[i++] = TCPOPT_TS;
        p[i++] = TCPOLEN_TS;
        be32_store(p + i, o->tsval);
        be32_store(p + i + 4, o->tsecr);
        i += 8;
    } else if (o->sack_permitted) {
        p[i++] = TCPOPT_NOP;
        p[i++] = TCPOPT_NOP;
        p[i++] = TCPOPT_SACK_PERM;
        p[i++] = TCPOLEN_SACK_PERM;
    }
    if (o->wscale_present) {
        p[i++] = TCPOPT_NOP;
        p[i++] = TCPOPT_WS;
        p[i++] = TCPOLEN_WS;
        p[i++] = o->wscale;
    }
    size_t blocks = sack_blocks_fitting(o);
    if (blocks > 0) {
        p[i++] = TCPOPT_NOP;
        p[i++] = TCPOPT_NOP;
        p[i++] = TCPOPT_SACK;
        p[i++] = (uint8_t)(TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK * blocks);
        for (size_t b = 0; b < blocks; b++) {
            be32_store(p + i, o->sack[b].left);
            be32_store(p + i + 4, o->sack[b].right);
            i += 8;
        }
    }
    /* Pad to a 32-bit boundary with end-of-list (RFC 9293 §3.1). */
    while (i % 4 != 0)
        p[i++] = TCPOPT_EOL;
    return i;
}

size_t us_tcp_emit(uint8_t *seg, size_t seg_len, const struct us_tcp_repr *r, us_ip4 src,
                   us_ip4 dst)
{
    size_t hdr_len = US_TCP_HLEN + write_options(seg + US_TCP_HLEN, &r->opts);

    be16_store(seg, r->sport);
    be16_store(seg + 2, r->dport);
    be32_store(seg + 4, r->seq);
    be32_store(seg + 8, r->ack);
    seg[12] = (uint8_t)((hdr_len / 4) << 4);
    seg[13] = r->flags;
    be16_store(seg + 14, r->window);
    be16_store(seg + 16, 0);
    be16_store(seg + 18, r->urg_ptr);
    uint32_t sum = us_csum_pseudo(src, dst, US_IPPROTO_TCP, (uint16_t)seg_len);
    if (r->csum_partial)
        be16_store(seg + 16, us_csum_fold(sum));
    else
        be16_store(seg + 16, (uint16_t)~us_csum_fold(us_csum_partial(seg, seg_len, sum)));
    return hdr_len;
}
