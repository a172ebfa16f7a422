/* SYN cookies (RFC 4987 §3.6), Linux's cookie_v4_init_sequence and
 * cookie_v4_check: used by tcp_input.c's LISTEN state when the SYN queue
 * is full and net.ipv4.tcp_syncookies is set. */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "sock/sock.h"

#include <string.h>

/* ---- SYN cookies (RFC 4987 §3.6, Linux's cookie_v4_init_sequence) ----
 * When the SYN queue is full the SYN-ACK's ISN carries the connection:
 *   ISN = H1(4-tuple) + peer ISN + (minute << 24)
 *         + ((H2(4-tuple, minute) + MSS index) mod 2^24)
 * and the final ACK (ack - 1 = ISN) recreates it if the minute is at most
 * two old and the MSS index is valid. The other options ride in the
 * SYN-ACK's timestamp, as Linux's cookie_init_timestamp puts them: its low
 * six bits are the peer's window scale (15 = none) and SACK-permitted, and
 * the peer echoes them back in the ACK. Without timestamps the connection
 * goes without window scaling and SACK, as in Linux. */
static const uint16_t msstab[] = {536, 1300, 1440, 1460};
#define COOKIE_MAX_AGE 2
#define TS_OPT_BITS    6    /* Linux's TSBITS */
#define TS_OPT_WSCALE  0xfu /* the scale; 15: no window scaling */
#define TS_OPT_SACK    0x10u

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

/* The timestamp clock as a connection to ip->src would run it. */
static uint32_t cookie_ts_now(struct us_stack *s, const struct us_ipv4_view *ip)
{
    return (uint32_t)(s->now / US_NS_PER_MS) + us_tcp_ts_offset(s, ip->dst, ip->src);
}

/* cookie_init_timestamp: the clock with its low bits replaced by the
 * options, never ahead of the clock. */
static uint32_t cookie_ts(struct us_stack *s, const struct us_ipv4_view *ip,
                          const struct us_tcp_view *th)
{
    uint32_t opts = TS_OPT_WSCALE;
    if (th->opts.wscale_present && s->sysctl.tcp_window_scaling)
        opts = th->opts.wscale > US_TCP_MAX_WSCALE ? US_TCP_MAX_WSCALE : th->opts.wscale;
    if (th->opts.sack_permitted && s->sysctl.tcp_sack)
        opts |= TS_OPT_SACK;
    uint32_t now = cookie_ts_now(s, ip);
    uint32_t ts = ((now >> TS_OPT_BITS) << TS_OPT_BITS) | opts;
    if ((int32_t)(ts - now) > 0)
        ts -= 1u << TS_OPT_BITS;
    return ts;
}

uint16_t us_tcp_cookie_check(struct us_stack *s, const struct us_ipv4_view *ip,
                             const struct us_tcp_view *th, struct us_tcp_cookie_opts *o)
{
    memset(o, 0, sizeof(*o));
    uint32_t cookie = th->ack - 1, sseq = th->seq - 1;
    uint32_t tmp = cookie - cookie_hash(s, ip, th, 0, 0) - sseq;
    uint32_t count = tmp >> 24, now = cookie_minute(s);
    if (((now - count) & 0xff) > COOKIE_MAX_AGE)
        return 0;
    uint32_t full = now - ((now - count) & 0xff); /* the minute, unwrapped */
    uint32_t idx = (tmp - cookie_hash(s, ip, th, full, 1)) & 0xffffff;
    if (idx >= sizeof(msstab) / sizeof(msstab[0]))
        return 0;
    /* cookie_timestamp_decode: the echo must be one of our cookie
     * timestamps (not from the future); its low bits are the options. */
    if (th->opts.ts_present && th->opts.tsecr && s->sysctl.tcp_timestamps &&
        (int32_t)(th->opts.tsecr - cookie_ts_now(s, ip)) <= 0) {
        uint32_t opts = th->opts.tsecr & ((1u << TS_OPT_BITS) - 1);
        o->tstamp = true;
        if ((opts & TS_OPT_WSCALE) != TS_OPT_WSCALE && s->sysctl.tcp_window_scaling) {
            o->wscale_ok = true;
            o->snd_wscale = (uint8_t)(opts & TS_OPT_WSCALE);
            if (o->snd_wscale > US_TCP_MAX_WSCALE)
                return 0; /* not a scale we would have encoded */
        }
        o->sack_ok = (opts & TS_OPT_SACK) && s->sysctl.tcp_sack;
    }
    return msstab[idx];
}

void us_tcp_send_cookie_synack(struct us_stack *s, const struct us_tcpcb *l,
                               const struct us_ipv4_view *ip, const struct us_tcp_view *th)
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
    if (th->opts.ts_present && s->sysctl.tcp_timestamps) {
        /* Only with timestamps can the other options be remembered
         * (RFC 7323 §2.2, RFC 2018 §2: offered only if the SYN did). */
        r.opts.ts_present = true;
        r.opts.tsval = cookie_ts(s, ip, th);
        r.opts.tsecr = th->opts.tsval;
        if (th->opts.wscale_present && s->sysctl.tcp_window_scaling) {
            r.opts.wscale_present = true;
            r.opts.wscale =
                us_tcp_wscale_for(s, (l->flags & TF_RCVBUF_LOCK) != 0, l->sk ? l->sk->rcvbuf : 0);
        }
        r.opts.sack_permitted = th->opts.sack_permitted && s->sysctl.tcp_sack;
    }
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r.opts);
    uint8_t *seg = us_pkt_put(p, (uint32_t)hlen);
    us_tcp_emit(seg, hlen, &r, ip->dst, ip->src);
    s->mib.tcp.OutSegs++;
    s->mib.tcpext.SyncookiesSent++;
    us_ipv4_output(s, p, ip->dst, ip->src, US_IPPROTO_TCP, NULL);
}
