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

#include "sim/devwrap.h"

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
    struct devwrap w; /* first: the device is the log */
    struct sl_seg *segs;
    size_t n, cap;
    bool *dropped; /* per recorded segment */
    sl_drop_fn drop;
    void *drop_ctx;
};

static inline bool sl_parse(const struct us_pkt *f, struct sl_seg *g, us_time_ns now, bool tx)
{
    struct us_tcp_view t;
    if (!devwrap_tcp(f, &t))
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

static inline enum dw_verdict sl_rx(struct devwrap *w, struct us_pkt *f, us_time_ns now)
{
    return sl_take((struct seglog *)w, f, now, false) ? DW_DROP : DW_PASS;
}

static inline enum dw_verdict sl_tx(struct devwrap *w, struct us_pkt *f, struct us_pkt *next,
                                    us_time_ns now)
{
    return sl_take((struct seglog *)w, f, now, true) ? DW_DROP : DW_PASS;
}

static const struct devwrap_hooks seglog_hooks = {.tx = sl_tx, .rx = sl_rx};

/* tnet_cfg.wrap_a with wrap_ctx = a zeroed struct seglog. */
static inline struct us_dev *seglog_wrap(struct us_dev *lower, void *ctx)
{
    struct seglog *l = ctx;
    return devwrap_init(&l->w, lower, "seglog", &seglog_hooks);
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
