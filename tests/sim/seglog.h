/* A segment log: a device wrapper (tnet_cfg.wrap_a) that records every TCP
 * segment its stack sends and receives, in the order the stack sent or was
 * given them, with the virtual time, and may drop chosen ones. What it
 * records is what the wire carries, so a test asserts on the wire: the
 * ACKs a receiver sends and when, the windows it advertises, whether a
 * sender stayed within the window it had been told of when it sent.
 *
 * Header-only (each test program is built alone). Include after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_SEGLOG_H
#define USTACK_TESTS_SIM_SEGLOG_H

#include "ustack/dev.h"
#include "ustack/pkt.h"
#include "ustack/wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One segment as seen at the wrapped device. */
struct sl_seg {
    us_time_ns at;
    bool tx; /* sent by the wrapped stack (else received by it) */
    uint8_t flags;
    uint32_t seq, ack, len;
    uint16_t window; /* as on the wire, unscaled */
    bool has_wscale;
    uint8_t wscale;
    bool ts;
    uint32_t tsval, tsecr;
    uint8_t nsack;
    struct us_tcp_sack_block sack[US_TCP_MAX_SACK];
};

struct seglog;
/* Whether to drop segment g (already recorded, with dropped set after). */
typedef bool (*sl_drop_fn)(struct seglog *l, const struct sl_seg *g, void *ctx);

struct seglog {
    struct us_dev dev;
    struct sl_seg *segs;
    size_t n, cap;
    bool *dropped; /* per recorded segment */
    sl_drop_fn drop;
    void *drop_ctx;
};

static inline bool sl_parse(const struct us_pkt *f, struct sl_seg *g, us_time_ns now, bool tx)
{
    struct us_eth_view eth;
    struct us_ipv4_view ip;
    struct us_tcp_view t;
    if (us_eth_parse(f->data, f->len, &eth) != 0 || eth.ethertype != US_ETH_TYPE_IPV4 ||
        us_ipv4_parse(eth.payload, eth.payload_len, &ip) != 0 || ip.proto != US_IPPROTO_TCP ||
        us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &t) != 0)
        return false;
    memset(g, 0, sizeof(*g));
    g->at = now;
    g->tx = tx;
    g->flags = t.flags;
    g->seq = t.seq;
    g->ack = t.ack;
    g->len = (uint32_t)t.payload_len;
    g->window = t.window;
    g->has_wscale = t.opts.wscale_present;
    g->wscale = t.opts.wscale;
    g->ts = t.opts.ts_present;
    g->tsval = t.opts.tsval;
    g->tsecr = t.opts.tsecr;
    g->nsack = t.opts.sack_count;
    memcpy(g->sack, t.opts.sack, sizeof(g->sack));
    return true;
}

/* Records frame f if it is TCP; true if it should be dropped. */
static inline bool sl_take(struct seglog *l, const struct us_pkt *f, us_time_ns now, bool tx)
{
    struct sl_seg g;
    if (!sl_parse(f, &g, now, tx))
        return false;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        l->segs = realloc(l->segs, l->cap * sizeof(*l->segs));
        l->dropped = realloc(l->dropped, l->cap * sizeof(*l->dropped));
        if (!l->segs || !l->dropped)
            abort();
    }
    l->segs[l->n] = g;
    bool drop = l->drop && l->drop(l, &l->segs[l->n], l->drop_ctx);
    l->dropped[l->n++] = drop;
    return drop;
}

static inline int sl_rx(struct us_dev *d, struct us_pkt **p, int n, us_time_ns now)
{
    struct seglog *l = (struct seglog *)d;
    int got = us_dev_rx_burst(d->lower, p, n, now), k = 0;
    for (int i = 0; i < got; i++) {
        if (sl_take(l, p[i], now, false))
            us_pkt_free(p[i]);
        else
            p[k++] = p[i];
    }
    return k;
}

static inline int sl_tx(struct us_dev *d, struct us_pkt **p, int n, us_time_ns now)
{
    struct seglog *l = (struct seglog *)d;
    int taken = 0;
    for (int i = 0; i < n; i++) {
        if (sl_take(l, p[i], now, true)) {
            us_pkt_free(p[i]);
            taken++;
        } else {
            /* One at a time keeps the log in the order of the wire. */
            int t = us_dev_tx_burst(d->lower, &p[i], 1, now);
            if (t != 1) {
                us_pkt_free(p[i]); /* the wire's queue was full: lost */
            }
            taken++;
        }
    }
    return taken;
}

static inline us_time_ns sl_deadline(struct us_dev *d, us_time_ns now)
{
    return us_dev_next_deadline(d->lower, now);
}

static inline void sl_destroy(struct us_dev *d)
{
    us_dev_destroy(d->lower);
}

static const struct us_dev_ops seglog_ops = {
    .rx_burst = sl_rx,
    .tx_burst = sl_tx,
    .next_deadline = sl_deadline,
    .destroy = sl_destroy,
};

/* tnet_cfg.wrap_a with wrap_ctx = a zeroed struct seglog. */
static inline struct us_dev *seglog_wrap(struct us_dev *lower, void *ctx)
{
    struct seglog *l = ctx;
    l->dev.ops = &seglog_ops;
    l->dev.lower = lower;
    l->dev.mtu = lower->mtu;
    l->dev.mac = lower->mac;
    memcpy(l->dev.name, "seglog", sizeof("seglog"));
    return &l->dev;
}

/* Call after the stack (which destroys the device) is freed. */
static inline void seglog_free(struct seglog *l)
{
    free(l->segs);
    free(l->dropped);
    l->segs = NULL;
    l->dropped = NULL;
    l->n = l->cap = 0;
}

#endif
