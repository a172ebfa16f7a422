/* The device layer's shared entry points; each device lives in its own file. */
#include "ustack/dev.h"

void us_dev_destroy(struct us_dev *d)
{
    if (d && d->ops->destroy)
        d->ops->destroy(d);
}

void us_dev_set_rx_pool(struct us_dev *d, struct us_pkt_pool *pool)
{
    /* Wrappers pass received frames through unchanged, so the whole chain
     * must allocate from the pool the stack will free them to. */
    for (; d; d = d->lower)
        d->rx_pool = pool;
}

void us_dev_set_rx_pool_large(struct us_dev *d, struct us_pkt_pool *pool)
{
    for (; d; d = d->lower)
        d->rx_pool_large = pool;
}

struct us_pkt_pool *us_dev_rx_pool_for(const struct us_dev *d, uint32_t len)
{
    if (d->rx_pool && len + US_PKT_HEADROOM <= us_pkt_pool_buf_size(d->rx_pool))
        return d->rx_pool;
    if (d->rx_pool_large && len + US_PKT_HEADROOM <= us_pkt_pool_buf_size(d->rx_pool_large))
        return d->rx_pool_large;
    return NULL;
}

struct us_pkt *us_dev_rx_alloc(struct us_dev *d, uint32_t len)
{
    struct us_pkt_pool *pool = us_dev_rx_pool_for(d, len);
    return pool ? us_pkt_alloc(pool) : NULL;
}
