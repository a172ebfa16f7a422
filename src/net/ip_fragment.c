/* Outgoing IPv4 fragmentation (RFC 791 §3.2, "An Example Fragmentation
 * Procedure"); the contract is in frag.h. Payload is copied once into fresh
 * frame-sized packets, so the large datagram buffer goes back to its pool. */
#include "net/frag.h"

#include <errno.h>
#include <string.h>

#include "ustack/checksum.h"

#define IPOPT_EOL    0
#define IPOPT_NOP    1
#define IPOPT_COPIED 0x80 /* RFC 791 §3.1: copy this option into every fragment */

/* The options that go into every fragment after the first, padded with EOL
 * to a multiple of 4 bytes. The view's options were validated by
 * us_ipv4_parse; the bounds are checked again all the same. Returns length. */
static size_t copied_options(const uint8_t *opt, size_t len, uint8_t out[40])
{
    size_t n = 0, i = 0;
    while (i < len && opt[i] != IPOPT_EOL) {
        if (opt[i] == IPOPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
            break;
        size_t olen = opt[i + 1];
        if (opt[i] & IPOPT_COPIED) {
            memcpy(out + n, opt + i, olen);
            n += olen;
        }
        i += olen;
    }
    while (n & 3)
        out[n++] = IPOPT_EOL;
    return n;
}

/* us_ipv4_emit writes a 20-byte header; with options, extend IHL and redo the
 * header checksum (RFC 791 §3.1) over the longer header. */
static void emit_header(uint8_t *hdr, const struct us_ipv4_repr *r, const uint8_t *opt,
                        size_t optlen)
{
    us_ipv4_emit(hdr, r);
    if (optlen == 0)
        return;
    size_t hlen = US_IPV4_HLEN + optlen;
    memcpy(hdr + US_IPV4_HLEN, opt, optlen);
    hdr[0] = (uint8_t)(0x40 | (hlen / 4));
    hdr[10] = hdr[11] = 0;
    uint16_t csum = us_inet_csum(hdr, hlen);
    hdr[10] = (uint8_t)(csum >> 8);
    hdr[11] = (uint8_t)csum;
}

int us_ip_fragment(struct us_pkt *dgram, uint32_t mtu, struct us_pkt_pool *pool,
                   struct us_pkt_queue *out, struct us_mib *mib)
{
    struct us_ipv4_view v;
    if (us_ipv4_parse(dgram->data, dgram->len, &v) != US_WIRE_OK)
        goto invalid;
    if (v.total_len <= mtu) {
        us_pkt_queue_push(out, dgram);
        return 0;
    }
    if (v.df)
        return -EMSGSIZE;
    /* A forwarded fragment whose end lies past 65535 is already broken. */
    if ((size_t)v.frag_off + v.payload_len > 65535 - US_IPV4_HLEN)
        goto invalid;
    /* The L4 checksum covers the whole datagram: it must be final before the
     * payload is split. */
    if (dgram->offload & US_PKT_CSUM_PARTIAL)
        goto invalid;

    uint8_t rest_opts[40];
    size_t rest_optlen = copied_options(v.options, v.options_len, rest_opts);
    size_t room = mtu;
    if (us_pkt_pool_buf_size(pool) - US_PKT_HEADROOM < room)
        room = us_pkt_pool_buf_size(pool) - US_PKT_HEADROOM;
    /* Every fragment but the last needs at least 8 bytes of payload; the
     * first has the longest header (RFC 791 §3.2: 68-byte minimum MTU). */
    if (room < (size_t)v.hdr_len + 8)
        goto invalid;

    struct us_pkt_queue frags = {0};
    size_t done = 0;
    do {
        const uint8_t *opt = done == 0 ? v.options : rest_opts;
        size_t optlen = done == 0 ? v.options_len : rest_optlen;
        size_t hlen = US_IPV4_HLEN + optlen;
        size_t chunk = v.payload_len - done;
        size_t max_chunk = (room - hlen) & ~(size_t)7;
        bool last = chunk <= max_chunk;
        if (!last)
            chunk = max_chunk;

        struct us_pkt *f = us_pkt_alloc(pool);
        if (!f) {
            us_pkt_queue_purge(&frags);
            us_pkt_free(dgram);
            mib->ip.FragFails++;
            return -ENOBUFS;
        }
        uint8_t *hdr = us_pkt_put(f, (uint32_t)(hlen + chunk));
        struct us_ipv4_repr r = {
            .tos = v.tos,
            .total_len = (uint16_t)(hlen + chunk),
            .id = v.id,
            .df = false,
            .mf = !last || v.mf,
            .frag_off = (uint16_t)(v.frag_off + done),
            .ttl = v.ttl,
            .proto = v.proto,
            .src = v.src,
            .dst = v.dst,
        };
        emit_header(hdr, &r, opt, optlen);
        memcpy(hdr + hlen, v.payload + done, chunk);
        f->l3_off = 0;
        f->l4_off = (uint16_t)hlen;
        f->tstamp = dgram->tstamp;
        us_pkt_queue_push(&frags, f);
        done += chunk;
    } while (done < v.payload_len);

    mib->ip.FragOKs++;
    mib->ip.FragCreates += frags.count;
    us_pkt_free(dgram);
    if (out->tail)
        out->tail->next = frags.head;
    else
        out->head = frags.head;
    out->tail = frags.tail;
    out->count += frags.count;
    return 0;

invalid:
    us_pkt_free(dgram);
    mib->ip.FragFails++;
    return -EINVAL;
}
