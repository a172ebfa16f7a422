/* Fault injector: wraps any device and loses, corrupts, duplicates, reorders
 * and delays frames, from a seeded PRNG so a run reproduces exactly.
 *
 * Per frame, in a fixed order (so the same seed and the same frames give the
 * same faults): loss, corruption, duplication, then holding back (delay for
 * every frame, plus reorder_delay for a reordered one; a duplicate shares its
 * original's fate). Held frames sit in a queue sorted by due time (kept in
 * tstamp) and go out on the first rx_burst/tx_burst at or after it. */
#include "ustack/dev.h"

#include "core/random.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN_FAULT 14
#define TX_BATCH       32

struct fault_dev {
    struct us_dev dev; /* first, so a struct us_dev * is a struct fault_dev * */
    struct us_fault_config cfg;
    bool on_rx, on_tx;
    struct us_rng rng;
    struct us_fault_stats fstats;
    struct us_pkt_queue rx_ready;         /* due rx frames that did not fit the caller's burst */
    struct us_pkt_queue rx_held, tx_held; /* held frames, sorted by due time */
};

static struct fault_dev *fault_of(struct us_dev *d)
{
    return (struct fault_dev *)d;
}

/* True with probability p; draws nothing when the outcome is certain. */
static bool chance(struct fault_dev *f, double p)
{
    if (p <= 0)
        return false;
    if (p >= 1)
        return true;
    return (double)(us_rng_next(&f->rng) >> 11) * 0x1.0p-53 < p;
}

static double clamp_prob(double p)
{
    return isnan(p) || p < 0 ? 0 : (p > 1 ? 1 : p);
}

/* ---- the faults ---- */

static void corrupt_frame(struct fault_dev *f, struct us_pkt *p)
{
    if (p->len == 0)
        return;
    /* Past the Ethernet header, so the frame still reaches its receiver and
     * the damage is for IP/TCP checksums to find. */
    uint32_t from = p->len > ETH_HLEN_FAULT ? ETH_HLEN_FAULT : 0;
    uint64_t r = us_rng_next(&f->rng);
    uint32_t at = from + (uint32_t)(r % (p->len - from));
    p->data[at] ^= (uint8_t)(1 + (r >> 32) % 255); /* never 0, so it really changes */
}

static void held_insert(struct us_pkt_queue *q, struct us_pkt *p)
{
    if (!q->tail || q->tail->tstamp <= p->tstamp) {
        us_pkt_queue_push(q, p);
        return;
    }
    struct us_pkt **link = &q->head;
    while ((*link)->tstamp <= p->tstamp)
        link = &(*link)->next;
    p->next = *link;
    *link = p;
    q->count++;
}

/* Applies the faults to p. Frames to pass on now go to out (up to 2);
 * held ones to held. Returns how many went to out. */
static int apply_faults(struct fault_dev *f, struct us_pkt *p, us_time_ns now,
                        struct us_pkt *out[2], struct us_pkt_queue *held, uint64_t *lost)
{
    const struct us_fault_config *c = &f->cfg;
    if (chance(f, c->loss)) {
        f->fstats.dropped++;
        (*lost)++;
        us_pkt_free(p);
        return 0;
    }
    if (chance(f, c->corrupt)) {
        corrupt_frame(f, p);
        f->fstats.corrupted++;
    }
    int k = 0;
    out[k++] = p;
    if (chance(f, c->dup)) {
        struct us_pkt *copy = us_pkt_clone(p);
        if (copy) { /* an empty pool just means no duplicate this time */
            out[k++] = copy;
            f->fstats.duplicated++;
        }
    }
    us_time_ns hold = c->delay;
    if (c->delay)
        f->fstats.delayed += (uint64_t)k;
    if (chance(f, c->reorder)) {
        hold += c->reorder_delay;
        f->fstats.reordered += (uint64_t)k;
    }
    if (hold == 0)
        return k;
    for (int i = 0; i < k; i++) {
        out[i]->tstamp = now + hold;
        held_insert(held, out[i]);
    }
    return 0;
}

/* ---- transmit ---- */

/* Hands a batch to the lower device; returns how many it refused. */
static int tx_flush(struct fault_dev *f, struct us_pkt **batch, int k, us_time_ns now)
{
    if (k == 0)
        return 0;
    for (int i = 0; i < k; i++) {
        f->dev.stats.tx_packets++;
        f->dev.stats.tx_bytes += batch[i]->len;
    }
    return k - us_dev_tx_burst(f->dev.lower, batch, k, now);
}

static void release_tx(struct fault_dev *f, us_time_ns now)
{
    struct us_pkt *batch[TX_BATCH];
    int k = 0;
    while (f->tx_held.head && f->tx_held.head->tstamp <= now) {
        batch[k++] = us_pkt_queue_pop(&f->tx_held);
        if (k == TX_BATCH) {
            tx_flush(f, batch, k, now);
            k = 0;
        }
    }
    tx_flush(f, batch, k, now);
}

static int fault_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct fault_dev *f = fault_of(d);
    release_tx(f, now); /* frames held earlier go before these */
    if (!f->on_tx)
        return n - tx_flush(f, pkts, n, now);
    /* Lost and held frames count as accepted: the sender cannot tell. */
    struct us_pkt *batch[TX_BATCH];
    int k = 0, refused = 0;
    uint64_t lost = 0;
    for (int i = 0; i < n; i++) {
        k += apply_faults(f, pkts[i], now, &batch[k], &f->tx_held, &lost);
        if (k >= TX_BATCH - 1) {
            refused += tx_flush(f, batch, k, now);
            k = 0;
        }
    }
    refused += tx_flush(f, batch, k, now);
    d->stats.tx_dropped += lost;
    return refused > n ? 0 : n - refused; /* a refused duplicate can push it past n */
}

/* ---- receive ---- */

static int fault_rx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct fault_dev *f = fault_of(d);
    release_tx(f, now);
    while (f->rx_held.head && f->rx_held.head->tstamp <= now)
        us_pkt_queue_push(&f->rx_ready, us_pkt_queue_pop(&f->rx_held));
    if (!f->on_rx) {
        int got = us_dev_rx_burst(d->lower, pkts, n, now);
        for (int i = 0; i < got; i++) {
            d->stats.rx_packets++;
            d->stats.rx_bytes += pkts[i]->len;
        }
        return got;
    }
    /* Ask the lower device only for what the caller has room for; pkts is
     * scratch until the ready queue is popped into it below. */
    if (n > 0 && f->rx_ready.count < (uint32_t)n) {
        int want = n - (int)f->rx_ready.count;
        int m = us_dev_rx_burst(d->lower, pkts, want, now);
        uint64_t lost = 0;
        for (int i = 0; i < m; i++) {
            struct us_pkt *out[2];
            int k = apply_faults(f, pkts[i], now, out, &f->rx_held, &lost);
            for (int j = 0; j < k; j++)
                us_pkt_queue_push(&f->rx_ready, out[j]);
        }
        d->stats.rx_dropped += lost;
    }
    int got = 0;
    while (got < n && f->rx_ready.head) {
        struct us_pkt *p = us_pkt_queue_pop(&f->rx_ready);
        d->stats.rx_packets++;
        d->stats.rx_bytes += p->len;
        pkts[got++] = p;
    }
    return got;
}

/* ---- the rest of the device ---- */

static us_time_ns fault_next_deadline(struct us_dev *d, us_time_ns now)
{
    struct fault_dev *f = fault_of(d);
    if (f->rx_ready.head)
        return now;
    us_time_ns t = us_dev_next_deadline(d->lower, now);
    if (f->rx_held.head)
        t = us_time_min(t, f->rx_held.head->tstamp);
    if (f->tx_held.head)
        t = us_time_min(t, f->tx_held.head->tstamp);
    return t;
}

static int fault_pollfd(struct us_dev *d)
{
    return us_dev_pollfd(d->lower);
}

static void fault_destroy(struct us_dev *d)
{
    struct fault_dev *f = fault_of(d);
    us_pkt_queue_purge(&f->rx_ready);
    us_pkt_queue_purge(&f->rx_held);
    us_pkt_queue_purge(&f->tx_held);
    us_dev_destroy(d->lower);
    free(f);
}

static const struct us_dev_ops fault_ops = {
    .rx_burst = fault_rx_burst,
    .tx_burst = fault_tx_burst,
    .next_deadline = fault_next_deadline,
    .pollfd = fault_pollfd,
    .destroy = fault_destroy,
};

/* Takes ownership of lower only on success. */
struct us_dev *us_fault_dev_new(struct us_dev *lower, const struct us_fault_config *cfg)
{
    if (!lower || !cfg)
        return NULL;
    struct fault_dev *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->cfg = *cfg;
    f->cfg.loss = clamp_prob(cfg->loss);
    f->cfg.dup = clamp_prob(cfg->dup);
    f->cfg.reorder = clamp_prob(cfg->reorder);
    f->cfg.corrupt = clamp_prob(cfg->corrupt);
    if (f->cfg.reorder_delay == 0)
        f->cfg.reorder_delay = US_NS_PER_MS;
    f->on_rx = cfg->rx || !cfg->tx;
    f->on_tx = cfg->tx || !cfg->rx;
    us_rng_seed(&f->rng, cfg->seed);
    f->dev.ops = &fault_ops;
    memcpy(f->dev.name, lower->name, sizeof(f->dev.name));
    f->dev.mtu = lower->mtu;
    f->dev.mac = lower->mac;
    f->dev.rx_pool = lower->rx_pool;
    f->dev.lower = lower;
    return &f->dev;
}

const struct us_fault_stats *us_fault_dev_stats(const struct us_dev *fault_dev)
{
    return &((const struct fault_dev *)fault_dev)->fstats;
}
