/* SYN cookies (RFC 4987 §3.6), Linux's cookie_v4_init_sequence and
 * cookie_v4_check: used by tcp_input.c's LISTEN state when the SYN queue
 * is full and net.ipv4.tcp_syncookies is set. */
#include "tcp/tcp.h"

#include "net/ip.h"

#include <string.h>

/* ---- SYN cookies (RFC 4987 §3.6, Linux's cookie_v4_init_sequence) ----
 * When the SYN queue is full the SYN-ACK's ISN carries the connection:
 *   ISN = H1(4-tuple) + peer ISN + (minute << 24)
 *         + ((H2(4-tuple, minute) + MSS index) mod 2^24)
 * and the final ACK (ack - 1 = ISN) recreates it if the minute is at most
 * two old and the MSS index is valid. Options other than the MSS are lost
 * (Linux keeps them in the timestamp; here the connection goes without). */
static const uint16_t msstab[] = {536, 1300, 1440, 1460};
#define COOKIE_MAX_AGE 2

static uint32_t cookie_hash(struct us_stack *s, const struct us_ipv4_view *ip,
                            const struct us_tcp_view *th, uint32_t count, int c)
{
    uint64_t k = s->tcp->isn_secret[c] ^ ((uint64_t)count << 40) ^ s->tcp->cookie_secret;
    return (uint32_t)us_tcp_tuple_hash(k, ip->dst, th->dport, ip->src, th->sport);
}

static uint32_t cookie_minute(const struct us_stack *s)
{
    return (uint32_t)(s->now / (60 * US_NS_PER_SEC));
}

static uint32_t cookie_make(struct us_stack *s, const struct us_ipv4_view *ip,
                            const struct us_tcp_view *th, uint16_t *mss)
{
    uint32_t want = th->opts.mss_present ? th->opts.mss : US_TCP_MSS_DEFAULT;
    uint32_t idx = 0;
    for (uint32_t i = 0; i < sizeof(msstab) / sizeof(msstab[0]); i++)
        if (msstab[i] <= want)
            idx = i;
    *mss = msstab[idx];
    uint32_t count = cookie_minute(s);
    return cookie_hash(s, ip, th, 0, 0) + th->seq + (count << 24) +
           ((cookie_hash(s, ip, th, count, 1) + idx) & 0xffffff);
}

/* The MSS a valid cookie in this ACK encodes, or 0. */
uint16_t us_tcp_cookie_check(struct us_stack *s, const struct us_ipv4_view *ip,
                             const struct us_tcp_view *th)
{
    uint32_t cookie = th->ack - 1, sseq = th->seq - 1;
    uint32_t tmp = cookie - cookie_hash(s, ip, th, 0, 0) - sseq;
    uint32_t count = tmp >> 24, now = cookie_minute(s);
    if (((now - count) & 0xff) > COOKIE_MAX_AGE)
        return 0;
    uint32_t full = now - ((now - count) & 0xff); /* the minute, unwrapped */
    uint32_t idx = (tmp - cookie_hash(s, ip, th, full, 1)) & 0xffffff;
    return idx < sizeof(msstab) / sizeof(msstab[0]) ? msstab[idx] : 0;
}

void us_tcp_send_cookie_synack(struct us_stack *s, const struct us_ipv4_view *ip,
                               const struct us_tcp_view *th)
{
    struct us_pkt *p = us_pkt_alloc(s->pool);
    if (!p) {
        s->mib.link.PoolExhausted++;
        return;
    }
    uint16_t mss;
    struct us_tcp_repr r;
    memset(&r, 0, sizeof(r));
    r.sport = th->dport;
    r.dport = th->sport;
    r.seq = cookie_make(s, ip, th, &mss);
    r.ack = th->seq + 1;
    r.flags = US_TCP_SYN | US_TCP_ACK;
    r.window = 65535;
    r.opts.mss_present = true;
    r.opts.mss = us_tcp_route_mss(s, ip->src);
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r.opts);
    uint8_t *seg = us_pkt_put(p, (uint32_t)hlen);
    us_tcp_emit(seg, hlen, &r, ip->dst, ip->src);
    s->mib.tcp.OutSegs++;
    s->mib.tcpext.SyncookiesSent++;
    us_ipv4_output(s, p, ip->dst, ip->src, US_IPPROTO_TCP, NULL);
}
