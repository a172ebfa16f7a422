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
#include "ustack/gso.h"

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

static void flip_byte(struct fault_dev *f, struct us_pkt *p)
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

/* Damages p as a wire would, appending what goes on to out. An offloaded
 * frame first becomes what the wire would carry, so the receiver's checksum
 * check finds the damage: a partial checksum is completed, a "valid" mark
 * dropped, and a super-frame cut into its segments (us_gso_segment), of
 * which one, drawn at random, is damaged. Where that is impossible (no
 * buffers), the frame is damaged as it is and its marks dropped: the
 * receiver then finds its checksum wrong and loses all of it. */
static void corrupt_frame(struct fault_dev *f, struct us_pkt *p, struct us_pkt_queue *out)
{
    if (p->gso_size) {
        struct us_pkt_queue segs = {0};
        int n = us_gso_segment(p, ETH_HLEN_FAULT, f->dev.rx_pool, f->dev.rx_pool_large, &segs);
        if (n > 0) {
            uint32_t hit = (uint32_t)(us_rng_next(&f->rng) % (uint64_t)n);
            struct us_pkt *q;
            for (uint32_t i = 0; (q = us_pkt_queue_pop(&segs)); i++) {
                if (i == hit)
                    flip_byte(f, q);
                us_pkt_queue_push(out, q);
            }
            return;
        }
    } else if (p->offload & US_PKT_CSUM_PARTIAL) {
        (void)us_pkt_csum_finish(p, ETH_HLEN_FAULT);
    }
    p->offload = 0;
    p->gso_size = 0;
    flip_byte(f, p);
    us_pkt_queue_push(out, p);
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

/* Applies the faults to p. Frames to pass on now are appended to out
 * (up to 2, or a corrupted super-frame's segments and a duplicate); held
 * ones go to held. A super-frame meets its fate whole: lost, it is every
 * segment in it lost. */
static void apply_faults(struct fault_dev *f, struct us_pkt *p, us_time_ns now,
                         struct us_pkt_queue *out, struct us_pkt_queue *held, uint64_t *lost)
{
    const struct us_fault_config *c = &f->cfg;
    if (chance(f, c->loss)) {
        f->fstats.dropped++;
        (*lost)++;
        us_pkt_free(p);
        return;
    }
    struct us_pkt_queue mine = {0};
    if (chance(f, c->corrupt)) {
        corrupt_frame(f, p, &mine);
        f->fstats.corrupted++;
    } else {
        us_pkt_queue_push(&mine, p);
    }
    if (chance(f, c->dup)) {
        /* The first frame's copy (a corrupted super-frame's first segment). */
        struct us_pkt *copy = us_pkt_clone(mine.head);
        if (copy) { /* an empty pool just means no duplicate this time */
            us_pkt_queue_push(&mine, copy);
            f->fstats.duplicated++;
        }
    }
    uint32_t k = mine.count;
    us_time_ns hold = c->delay;
    if (c->delay)
        f->fstats.delayed += k;
    if (chance(f, c->reorder)) {
        hold += c->reorder_delay;
        f->fstats.reordered += k;
    }
    struct us_pkt *q;
    while ((q = us_pkt_queue_pop(&mine))) {
        if (hold == 0) {
            us_pkt_queue_push(out, q);
        } else {
            q->tstamp = now + hold;
            held_insert(held, q);
        }
    }
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
    struct us_pkt_queue out = {0};
    int refused = 0;
    uint64_t lost = 0;
    for (int i = 0; i < n; i++) {
        apply_faults(f, pkts[i], now, &out, &f->tx_held, &lost);
        while (out.count) {
            int k = 0;
            while (k < TX_BATCH && out.head)
                batch[k++] = us_pkt_queue_pop(&out);
            refused += tx_flush(f, batch, k, now);
        }
    }
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
        for (int i = 0; i < m; i++)
            apply_faults(f, pkts[i], now, &f->rx_ready, &f->rx_held, &lost);
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
    f->dev.rx_pool_large = lower->rx_pool_large;
    f->dev.features = lower->features;
    f->dev.gso_max_size = lower->gso_max_size;
    f->dev.lower = lower;
    return &f->dev;
}

const struct us_fault_stats *us_fault_dev_stats(const struct us_dev *fault_dev)
{
    return &((const struct fault_dev *)fault_dev)->fstats;
}
