/* Software checksum completion and TCP segmentation for devices that lack
 * the offloads (see ustack/gso.h). Only the slow path uses it: TCP builds
 * super-frames for devices with TSO, so a super-frame meets this code only
 * when it leaves by another device (forwarding) or the fault injector is
 * to corrupt one. */
#include "ustack/gso.h"

#include "ustack/checksum.h"
#include "ustack/wire.h"
#include "wire/be.h"

#include <errno.h>
#include <string.h>

/* The offsets of an IPv4 packet at l3_off in p: header length, total
 * length, and the L4 protocol. false if p does not hold one. */
struct l3_view {
    uint32_t ihl, tot_len;
    uint8_t proto;
};

static bool l3_parse(const struct us_pkt *p, uint32_t l3_off, struct l3_view *v)
{
    if (p->len < l3_off + 20)
        return false;
    const uint8_t *ip = p->data + l3_off;
    if (ip[0] >> 4 != 4)
        return false;
    v->ihl = (ip[0] & 15u) * 4u;
    v->tot_len = be16_load(ip + 2);
    v->proto = ip[9];
    return v->ihl >= 20 && v->tot_len >= v->ihl && l3_off + v->tot_len <= p->len;
}

/* The TCP header length of the packet, or 0 if it is not TCP/IPv4 whole. */
static uint32_t tcp_hlen(const struct us_pkt *p, uint32_t l3_off, const struct l3_view *v)
{
    if (v->proto != US_IPPROTO_TCP || v->tot_len < v->ihl + US_TCP_HLEN)
        return 0;
    uint32_t thl = (uint32_t)(p->data[l3_off + v->ihl + 12] >> 4) * 4u;
    return thl >= US_TCP_HLEN && v->ihl + thl <= v->tot_len ? thl : 0;
}

uint32_t us_gso_segs(const struct us_pkt *p, uint32_t l3_off)
{
    struct l3_view v;
    uint32_t thl;
    if (!p->gso_size || !l3_parse(p, l3_off, &v) || !(thl = tcp_hlen(p, l3_off, &v)))
        return 1;
    uint32_t payload = v.tot_len - v.ihl - thl;
    return payload ? (payload + p->gso_size - 1) / p->gso_size : 1;
}

uint32_t us_gso_network_seglen(const struct us_pkt *p, uint32_t l3_off)
{
    struct l3_view v;
    uint32_t thl;
    if (!p->gso_size || !l3_parse(p, l3_off, &v) || !(thl = tcp_hlen(p, l3_off, &v)))
        return p->len - l3_off;
    uint32_t payload = v.tot_len - v.ihl - thl;
    return v.ihl + thl + (payload < p->gso_size ? payload : p->gso_size);
}

int us_pkt_csum_finish(struct us_pkt *p, uint32_t l3_off)
{
    struct l3_view v;
    if (!(p->offload & US_PKT_CSUM_PARTIAL) || p->gso_size || !l3_parse(p, l3_off, &v))
        return -EINVAL;
    uint32_t field;
    if (v.proto == US_IPPROTO_TCP)
        field = 16;
    else if (v.proto == US_IPPROTO_UDP)
        field = 6;
    else
        return -EINVAL;
    uint8_t *l4 = p->data + l3_off + v.ihl;
    uint32_t l4_len = v.tot_len - v.ihl;
    if (l4_len < field + 2)
        return -EINVAL;
    /* The field holds the pseudo-header sum: summing over it adds it in. */
    uint16_t csum = (uint16_t)~us_csum_fold(us_csum_partial(l4, l4_len, 0));
    if (v.proto == US_IPPROTO_UDP && csum == 0)
        csum = 0xFFFF; /* RFC 768: 0 means "no checksum" */
    be16_store(l4 + field, csum);
    p->offload = (uint16_t)(p->offload & ~US_PKT_CSUM_PARTIAL);
    return 0;
}

/* One segment: p's headers (hlen bytes from data, the IPv4 header at
 * l3_off) then len payload bytes from offset off of the payload. */
static struct us_pkt *make_segment(const struct us_pkt *p, uint32_t l3_off, const struct l3_view *v,
                                   uint32_t thl, uint32_t off, uint32_t len, uint32_t index,
                                   bool last, struct us_pkt_pool *pool, struct us_pkt_pool *large)
{
    uint32_t hlen = l3_off + v->ihl + thl;
    struct us_pkt_pool *from = pool;
    if (hlen + len + US_PKT_HEADROOM > us_pkt_pool_buf_size(from))
        from = large;
    if (!from || hlen + len + US_PKT_HEADROOM > us_pkt_pool_buf_size(from))
        return NULL;
    struct us_pkt *s = us_pkt_alloc(from);
    uint8_t *d = s ? us_pkt_put(s, hlen + len) : NULL;
    if (!d) {
        us_pkt_free(s);
        return NULL;
    }
    memcpy(d, p->data, hlen);
    memcpy(d + hlen, p->data + hlen + off, len);
    s->tstamp = p->tstamp;
    s->ifindex = p->ifindex;
    s->pkt_type = p->pkt_type;

    uint8_t *ip = d + l3_off;
    be16_store(ip + 2, (uint16_t)(v->ihl + thl + len));
    be16_store(ip + 4, (uint16_t)(be16_load(ip + 4) + index));
    be16_store(ip + 10, 0);
    be16_store(ip + 10, us_inet_csum(ip, v->ihl));

    uint8_t *th = ip + v->ihl;
    be32_store(th + 4, be32_load(th + 4) + off);
    if (index > 0)
        th[13] &= (uint8_t)~US_TCP_CWR;
    if (!last)
        th[13] &= (uint8_t) ~(US_TCP_FIN | US_TCP_PSH);
    us_ip4 src = be32_load(ip + 12), dst = be32_load(ip + 16);
    be16_store(th + 16, 0);
    uint32_t sum = us_csum_pseudo(src, dst, US_IPPROTO_TCP, (uint16_t)(thl + len));
    be16_store(th + 16, (uint16_t)~us_csum_fold(us_csum_partial(th, thl + len, sum)));
    return s;
}

int us_gso_segment(struct us_pkt *p, uint32_t l3_off, struct us_pkt_pool *pool,
                   struct us_pkt_pool *large, struct us_pkt_queue *out)
{
    struct l3_view v;
    uint32_t thl;
    if (!p->gso_size || !l3_parse(p, l3_off, &v) || !(thl = tcp_hlen(p, l3_off, &v)))
        return -EINVAL;
    uint32_t payload = v.tot_len - v.ihl - thl;
    struct us_pkt_queue made = {0};
    uint32_t index = 0, off = 0;
    do {
        uint32_t len = payload - off < p->gso_size ? payload - off : p->gso_size;
        struct us_pkt *s =
            make_segment(p, l3_off, &v, thl, off, len, index, off + len == payload, pool, large);
        if (!s) {
            us_pkt_queue_purge(&made);
            return -ENOMEM;
        }
        us_pkt_queue_push(&made, s);
        off += len;
        index++;
    } while (off < payload);
    int n = (int)made.count;
    struct us_pkt *s;
    while ((s = us_pkt_queue_pop(&made)))
        us_pkt_queue_push(out, s);
    us_pkt_free(p);
    return n;
}
