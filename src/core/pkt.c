/* The packet buffer pool: buffers allocated in chunks, handed out and
 * returned through a free list, so the hot path never calls malloc. */
#include "ustack/pkt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* A pool is one or more chunks of buffers. The first is allocated at
 * creation and kept; a growable pool adds a chunk of as many buffers again
 * when they are all in use (a burst across thousands of connections), up
 * to its maximum, and us_pkt_pool_trim gives those back once every buffer
 * has come home. A grown chunk is its own anonymous mapping, so giving it
 * back returns the memory to the system at once. */
#define POOL_MAX_CHUNKS 64

struct pool_chunk {
    struct us_pkt *descs; /* the chunk's descriptors */
    uint8_t *bufs;        /* and their buffers, buf_size bytes each */
    size_t map_len;       /* grown chunks: the mapping holding both; 0 for the first */
};

struct us_pkt_pool {
    struct us_pkt *free_list;
    unsigned count, available, buf_size;
    unsigned chunk_count, max_count; /* buffers per chunk; the most there may be */
    unsigned n_chunks;
    bool released; /* us_pkt_pool_release: freed when the last buffer comes home */
    uint64_t alloc_failures;
    struct pool_chunk chunks[POOL_MAX_CHUNKS];
};

/* Puts the chunk's buffers on the free list, the first one on top. */
static void chunk_link(struct us_pkt_pool *pool, const struct pool_chunk *c)
{
    for (unsigned i = pool->chunk_count; i-- > 0;) {
        struct us_pkt *p = &c->descs[i];
        p->head = c->bufs + (size_t)i * pool->buf_size;
        p->cap = pool->buf_size;
        p->pool = pool;
        p->next = pool->free_list;
        pool->free_list = p;
    }
}

struct us_pkt_pool *us_pkt_pool_new_growable(unsigned count, unsigned max_count, unsigned buf_size)
{
    if (count == 0 || buf_size <= US_PKT_HEADROOM)
        return NULL;
    struct us_pkt_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    struct pool_chunk *c = &pool->chunks[0];
    c->descs = calloc(count, sizeof(struct us_pkt));
    c->bufs = malloc((size_t)count * buf_size);
    if (!c->descs || !c->bufs) {
        free(c->descs);
        free(c->bufs);
        free(pool);
        return NULL;
    }
    pool->n_chunks = 1;
    pool->count = pool->available = pool->chunk_count = count;
    pool->buf_size = buf_size;
    if (max_count / count > POOL_MAX_CHUNKS)
        max_count = count * POOL_MAX_CHUNKS;
    pool->max_count = max_count > count ? max_count : count;
    chunk_link(pool, c);
    return pool;
}

struct us_pkt_pool *us_pkt_pool_new(unsigned count, unsigned buf_size)
{
    return us_pkt_pool_new_growable(count, count, buf_size);
}

/* Adds a chunk: false at the maximum or when the system has no memory. */
static bool pool_grow(struct us_pkt_pool *pool)
{
    if (pool->count + pool->chunk_count > pool->max_count)
        return false;
    size_t descs = (size_t)pool->chunk_count * sizeof(struct us_pkt);
    descs = (descs + 63) & ~(size_t)63;
    size_t len = descs + (size_t)pool->chunk_count * pool->buf_size;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    struct pool_chunk *c = &pool->chunks[pool->n_chunks++];
    c->descs = m;
    c->bufs = (uint8_t *)m + descs;
    c->map_len = len;
    chunk_link(pool, c);
    pool->count += pool->chunk_count;
    pool->available += pool->chunk_count;
    return true;
}

unsigned us_pkt_pool_trim(struct us_pkt_pool *pool)
{
    if (pool->n_chunks == 1 || pool->available != pool->count)
        return 0;
    unsigned freed = pool->count - pool->chunk_count;
    while (pool->n_chunks > 1) {
        struct pool_chunk *c = &pool->chunks[--pool->n_chunks];
        munmap(c->descs, c->map_len);
        memset(c, 0, sizeof(*c));
    }
    /* Every buffer is free: the list is the first chunk's alone now. */
    pool->free_list = NULL;
    chunk_link(pool, &pool->chunks[0]);
    pool->count = pool->available = pool->chunk_count;
    return freed;
}

void us_pkt_pool_free(struct us_pkt_pool *pool)
{
    if (!pool)
        return;
    for (unsigned i = 1; i < pool->n_chunks; i++)
        munmap(pool->chunks[i].descs, pool->chunks[i].map_len);
    free(pool->chunks[0].descs);
    free(pool->chunks[0].bufs);
    free(pool);
}

void us_pkt_pool_release(struct us_pkt_pool *pool)
{
    if (!pool)
        return;
    if (pool->available == pool->count)
        us_pkt_pool_free(pool);
    else
        pool->released = true;
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
    if (!pool->free_list && !pool_grow(pool)) {
        pool->alloc_failures++;
        return NULL;
    }
    struct us_pkt *p = pool->free_list;
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

void us_pkt_orphan(struct us_pkt *p)
{
    if (p->destructor) {
        void (*destructor)(struct us_pkt *) = p->destructor;
        p->destructor = NULL;
        destructor(p);
    }
    p->owner = NULL;
}

void us_pkt_free(struct us_pkt *p)
{
    if (!p)
        return;
    us_pkt_orphan(p);
    struct us_pkt_pool *pool = p->pool;
    p->next = pool->free_list;
    pool->free_list = p;
    pool->available++;
    if (pool->released && pool->available == pool->count)
        us_pkt_pool_free(pool);
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
