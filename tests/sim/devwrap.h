/* A pass-through device wrapper for tests: a struct us_dev around another
 * (a wire port) that forwards every call to it, except where the test
 * gives a hook. A test puts struct devwrap first in its own struct (so a
 * struct us_dev * is a struct devwrap * is the test's), and supplies only
 * what it needs: a verdict on each frame sent or received (pass it on,
 * drop it, or keep it to send later), frames held back and released when
 * due, and that release time as its deadline.
 *
 * A wrapper that needs a whole burst (to count tx_burst calls, say) sets
 * dev.ops to its own table, using the devwrap_* functions for the rest.
 *
 * Header-only (each test program is built alone). Include after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_DEVWRAP_H
#define USTACK_TESTS_SIM_DEVWRAP_H

#include "ustack/dev.h"
#include "ustack/pkt.h"
#include "ustack/wire.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum dw_verdict {
    DW_PASS, /* hand the frame on */
    DW_DROP, /* free it */
    DW_KEEP, /* the hook has taken it (to send later, or to free) */
};

struct devwrap;

struct devwrap_hooks {
    /* Each frame the stack sends, in order; next is the frame after it in
     * the same burst, or NULL. The frames passed go down as one burst. */
    enum dw_verdict (*tx)(struct devwrap *w, struct us_pkt *f, struct us_pkt *next, us_time_ns now);
    /* Each frame received from below, in order. */
    enum dw_verdict (*rx)(struct devwrap *w, struct us_pkt *f, us_time_ns now);
    /* Called first in every rx and tx burst: sends held frames now due. */
    void (*release)(struct devwrap *w, us_time_ns now);
    /* When the next held frame is due, or US_TIME_NEVER. */
    us_time_ns (*deadline)(struct devwrap *w);
    /* Frees what the wrapper holds; the wrapped device is destroyed after. */
    void (*fini)(struct devwrap *w);
};

struct devwrap {
    struct us_dev dev;
    const struct devwrap_hooks *hooks;
    bool heap; /* from devwrap_new: freed with the device */
};

/* Whether frame f is an IPv4 TCP segment; if so, its header in t. */
static inline bool devwrap_tcp(const struct us_pkt *f, struct us_tcp_view *t)
{
    struct us_eth_view eth;
    struct us_ipv4_view ip;
    return us_eth_parse(f->data, f->len, &eth) == 0 && eth.ethertype == US_ETH_TYPE_IPV4 &&
           us_ipv4_parse(eth.payload, eth.payload_len, &ip) == 0 && ip.proto == US_IPPROTO_TCP &&
           us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, t) == 0;
}

static inline struct devwrap *devwrap_of(struct us_dev *d)
{
    return (struct devwrap *)d;
}

static inline int devwrap_rx_burst(struct us_dev *d, struct us_pkt **p, int n, us_time_ns now)
{
    const struct devwrap_hooks *h = devwrap_of(d)->hooks;
    if (h->release)
        h->release(devwrap_of(d), now);
    int got = us_dev_rx_burst(d->lower, p, n, now);
    if (!h->rx)
        return got;
    int k = 0;
    for (int i = 0; i < got; i++) {
        enum dw_verdict v = h->rx(devwrap_of(d), p[i], now);
        if (v == DW_PASS)
            p[k++] = p[i];
        else if (v == DW_DROP)
            us_pkt_free(p[i]);
    }
    return k;
}

static inline int devwrap_tx_burst(struct us_dev *d, struct us_pkt **p, int n, us_time_ns now)
{
    const struct devwrap_hooks *h = devwrap_of(d)->hooks;
    if (h->release)
        h->release(devwrap_of(d), now);
    if (!h->tx)
        return us_dev_tx_burst(d->lower, p, n, now);
    /* The frames passed on are gathered at the front of p (k <= i, so
     * p[i + 1] is still the next frame when the hook sees p[i]). */
    int k = 0, taken = 0;
    for (int i = 0; i < n; i++) {
        enum dw_verdict v = h->tx(devwrap_of(d), p[i], i + 1 < n ? p[i + 1] : NULL, now);
        if (v == DW_PASS) {
            p[k++] = p[i];
            continue;
        }
        if (v == DW_DROP)
            us_pkt_free(p[i]);
        taken++;
    }
    if (k)
        taken += us_dev_tx_burst(d->lower, p, k, now);
    return taken;
}

static inline us_time_ns devwrap_next_deadline(struct us_dev *d, us_time_ns now)
{
    const struct devwrap_hooks *h = devwrap_of(d)->hooks;
    us_time_ns t = us_dev_next_deadline(d->lower, now);
    return h->deadline ? us_time_min(t, h->deadline(devwrap_of(d))) : t;
}

static inline int devwrap_pollfd(struct us_dev *d)
{
    return us_dev_pollfd(d->lower);
}

static inline void devwrap_destroy(struct us_dev *d)
{
    struct devwrap *w = devwrap_of(d);
    if (w->hooks->fini)
        w->hooks->fini(w);
    us_dev_destroy(d->lower);
    if (w->heap)
        free(w);
}

static const struct us_dev_ops devwrap_ops = {
    .rx_burst = devwrap_rx_burst,
    .tx_burst = devwrap_tx_burst,
    .next_deadline = devwrap_next_deadline,
    .pollfd = devwrap_pollfd,
    .destroy = devwrap_destroy,
};

/* Wraps lower in w (the caller's storage, e.g. a tnet_cfg.wrap_ctx), with
 * lower's MTU and MAC, named name (NULL: lower's name). Returns &w->dev. */
static inline struct us_dev *devwrap_init(struct devwrap *w, struct us_dev *lower, const char *name,
                                          const struct devwrap_hooks *hooks)
{
    w->dev.ops = &devwrap_ops;
    w->dev.lower = lower;
    w->dev.mtu = lower->mtu;
    w->dev.mac = lower->mac;
    w->dev.rx_pool = lower->rx_pool;
    w->dev.rx_pool_large = lower->rx_pool_large;
    w->dev.features = lower->features; /* a wrapper has its lower device's offloads */
    w->dev.gso_max_size = lower->gso_max_size;
    snprintf(w->dev.name, sizeof(w->dev.name), "%s", name ? name : lower->name);
    w->hooks = hooks;
    return &w->dev;
}

/* The same, in a zeroed allocation of size bytes (the test's struct, which
 * starts with struct devwrap), freed when the device is destroyed. */
static inline void *devwrap_new(size_t size, struct us_dev *lower, const char *name,
                                const struct devwrap_hooks *hooks)
{
    struct devwrap *w = calloc(1, size);
    assert_non_null(w);
    devwrap_init(w, lower, name, hooks);
    w->heap = true;
    return w;
}

#endif
