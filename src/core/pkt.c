/* The packet buffer pool: every buffer allocated once at start, handed out
 * and returned through a free list, so the hot path never calls malloc. */
#include "ustack/pkt.h"

#include <stdlib.h>
#include <string.h>

struct us_pkt_pool {
    struct us_pkt *free_list;
    unsigned count, available, buf_size;
    uint64_t alloc_failures;
    struct us_pkt *descs; /* count descriptors */
    uint8_t *bufs;        /* count * buf_size bytes */
};

struct us_pkt_pool *us_pkt_pool_new(unsigned count, unsigned buf_size)
{
    if (count == 0 || buf_size <= US_PKT_HEADROOM)
        return NULL;
    struct us_pkt_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->descs = calloc(count, sizeof(struct us_pkt));
    pool->bufs = malloc((size_t)count * buf_size);
    if (!pool->descs || !pool->bufs) {
        us_pkt_pool_free(pool);
        return NULL;
    }
    pool->count = pool->available = count;
    pool->buf_size = buf_size;
    for (unsigned i = count; i-- > 0;) {
        struct us_pkt *p = &pool->descs[i];
        p->head = pool->bufs + (size_t)i * buf_size;
        p->cap = buf_size;
        p->pool = pool;
        p->next = pool->free_list;
        pool->free_list = p;
    }
    return pool;
}

void us_pkt_pool_free(struct us_pkt_pool *pool)
{
    if (!pool)
        return;
    free(pool->descs);
    free(pool->bufs);
    free(pool);
}

unsigned us_pkt_pool_buf_size(const struct us_pkt_pool *pool)
{
    return pool->buf_size;
}

unsigned us_pkt_pool_available(const struct us_pkt_pool *pool)
{
    return pool->available;
}

unsigned us_pkt_pool_count(const struct us_pkt_pool *pool)
{
    return pool->count;
}

uint64_t us_pkt_pool_alloc_failures(const struct us_pkt_pool *pool)
{
    return pool->alloc_failures;
}

struct us_pkt *us_pkt_alloc(struct us_pkt_pool *pool)
{
    struct us_pkt *p = pool->free_list;
    if (!p) {
        pool->alloc_failures++;
        return NULL;
    }
    pool->free_list = p->next;
    pool->available--;
    us_pkt_reset(p, US_PKT_HEADROOM);
    p->l3_off = p->l4_off = 0;
    p->cb = 0;
    p->ifindex = -1;
    p->tstamp = 0;
    p->destructor = NULL;
    p->owner = NULL;
    return p;
}

void us_pkt_free(struct us_pkt *p)
{
    if (!p)
        return;
    if (p->destructor) {
        void (*destructor)(struct us_pkt *) = p->destructor;
        p->destructor = NULL;
        destructor(p);
    }
    struct us_pkt_pool *pool = p->pool;
    p->next = pool->free_list;
    pool->free_list = p;
    pool->available++;
}

void us_pkt_free_chain(struct us_pkt *p)
{
    while (p) {
        struct us_pkt *next = p->next;
        us_pkt_free(p);
        p = next;
    }
}

struct us_pkt *us_pkt_clone(const struct us_pkt *p)
{
    struct us_pkt *c = us_pkt_alloc(p->pool);
    if (!c)
        return NULL;
    c->data = c->head + us_pkt_headroom(p);
    c->len = p->len;
    memcpy(c->data, p->data, p->len);
    c->offload = p->offload;
    c->gso_size = p->gso_size;
    c->l3_off = p->l3_off;
    c->l4_off = p->l4_off;
    c->tstamp = p->tstamp;
    c->pkt_type = p->pkt_type;
    c->ifindex = p->ifindex;
    return c;
}
