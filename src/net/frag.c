/* IPv4 reassembly (RFC 791 §3.2) with Linux's semantics (net/ipv4/ip_fragment.c,
 * net/ipv4/inet_fragment.c); the contract is in frag.h.
 *
 * Shape: a fixed pool of queues, found through a hash table keyed by the
 * stack's random key (so remote hosts cannot aim fragments at one bucket),
 * and linked in creation order. Because every queue lives for the same
 * ipfrag_time, creation order is also expiry order: the oldest queue is both
 * the next to time out and the first to evict, so expiry and eviction are
 * O(1) per queue. Fragments are kept as the packets that carried them, in
 * offset order, without overlap. */
#include "net/frag.h"

#include <stdlib.h>
#include <string.h>

/* Largest payload a datagram may carry once rebuilt with a 20-byte header. */
#define FRAG_MAX_PAYLOAD (65535u - US_IPV4_HLEN)

enum {
    FQ_FIRST_IN = 1 << 0, /* fragment 0 is held */
    FQ_LAST_IN = 1 << 1,  /* the fragment with MF=0 is held: len is the real end */
};

struct frag_queue {
    /* Key: RFC 791 §3.2 identifies a datagram by (src, dst, protocol, id). */
    us_ip4 src, dst;
    uint16_t id;
    uint8_t proto;
    uint8_t flags;
    /* Fragment 0's header fields, for the rebuilt header. */
    uint8_t tos, ttl;
    bool df;
    uint32_t len;    /* payload end if FQ_LAST_IN, else the highest end seen */
    uint32_t meat;   /* payload bytes held; no overlaps, so complete when == len */
    size_t truesize; /* what this queue charges to the table */
    us_time_ns expires;
    struct us_pkt *frags, *frags_tail; /* ascending offset, disjoint */
    struct frag_queue *hnext, **hpprev;
    struct frag_queue *older, *newer; /* creation order */
};

struct us_frag_table {
    uint64_t k0, k1; /* SipHash key */
    struct frag_queue **buckets;
    uint32_t bucket_mask;
    struct frag_queue *queues; /* the preallocated pool */
    struct frag_queue *free_list;
    unsigned max_queues, nqueues;
    struct frag_queue *oldest, *newest;
    size_t mem;
};

/* While a fragment waits, data stays at its IPv4 header, l4_off says where
 * its payload starts, and its byte offset in the datagram is kept in cb. */
static inline uint32_t frag_off(const struct us_pkt *p)
{
    return p->cb;
}
static inline uint32_t frag_len(const struct us_pkt *p)
{
    return p->len - p->l4_off;
}
static inline uint32_t frag_end(const struct us_pkt *p)
{
    return frag_off(p) + frag_len(p);
}
static inline const uint8_t *frag_payload(const struct us_pkt *p)
{
    return p->data + p->l4_off;
}

/* ---------------- keyed hash ---------------- */

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = rotl64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = rotl64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = rotl64(v2, 32);                                                                       \
    } while (0)

/* SipHash-2-4 of the 16-byte key message (src, dst, id, proto). A keyed PRF,
 * as Linux hashes its fragment queues with its per-boot random key. */
static uint32_t frag_hash(const struct us_frag_table *t, us_ip4 src, us_ip4 dst, uint16_t id,
                          uint8_t proto)
{
    uint64_t m[2] = {((uint64_t)src << 32) | dst, ((uint64_t)id << 16) | proto};
    uint64_t v0 = t->k0 ^ 0x736f6d6570736575ull, v1 = t->k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = t->k0 ^ 0x6c7967656e657261ull, v3 = t->k1 ^ 0x7465646279746573ull;
    for (int i = 0; i < 2; i++) {
        v3 ^= m[i];
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m[i];
    }
    uint64_t b = 16ull << 56; /* message length in the last block */
    v3 ^= b;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    uint64_t h = v0 ^ v1 ^ v2 ^ v3;
    return (uint32_t)(h ^ (h >> 32));
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---------------- table and queues ---------------- */

struct us_frag_table *us_frag_table_new(uint64_t hash_key, unsigned max_queues)
{
    if (max_queues == 0 || max_queues > (1u << 24))
        return NULL;
    struct us_frag_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    uint32_t nb = 16;
    while (nb < max_queues)
        nb <<= 1;
    t->buckets = calloc(nb, sizeof(*t->buckets));
    t->queues = calloc(max_queues, sizeof(*t->queues));
    if (!t->buckets || !t->queues) {
        free(t->buckets);
        free(t->queues);
        free(t);
        return NULL;
    }
    t->bucket_mask = nb - 1;
    t->k0 = hash_key;
    t->k1 = mix64(hash_key ^ 0x9e3779b97f4a7c15ull);
    t->max_queues = max_queues;
    for (unsigned i = max_queues; i-- > 0;) {
        t->queues[i].hnext = t->free_list;
        t->free_list = &t->queues[i];
    }
    return t;
}

/* Unlinks q from hash and age list, frees its fragments, returns it to the pool. */
static void fq_destroy(struct us_frag_table *t, struct frag_queue *q)
{
    struct us_pkt *f = q->frags;
    while (f) {
        struct us_pkt *next = f->next;
        f->cb = 0;
        us_pkt_free(f);
        f = next;
    }
    if (q->hnext)
        q->hnext->hpprev = q->hpprev;
    *q->hpprev = q->hnext;
    if (q->older)
        q->older->newer = q->newer;
    else
        t->oldest = q->newer;
    if (q->newer)
        q->newer->older = q->older;
    else
        t->newest = q->older;
    t->mem -= q->truesize;
    t->nqueues--;
    memset(q, 0, sizeof(*q));
    q->hnext = t->free_list;
    t->free_list = q;
}

void us_frag_table_free(struct us_frag_table *t)
{
    if (!t)
        return;
    while (t->oldest)
        fq_destroy(t, t->oldest);
    free(t->buckets);
    free(t->queues);
    free(t);
}

/* A datagram that will never be rebuilt: RFC 4293 ipSystemStatsReasmFails. */
static void fq_kill(struct us_frag_table *t, struct frag_queue *q, struct us_mib *mib)
{
    mib->ip.ReasmFails++;
    fq_destroy(t, q);
}

static struct frag_queue *fq_find(struct us_frag_table *t, uint32_t h, us_ip4 src, us_ip4 dst,
                                  uint16_t id, uint8_t proto)
{
    for (struct frag_queue *q = t->buckets[h & t->bucket_mask]; q; q = q->hnext)
        if (q->src == src && q->dst == dst && q->id == id && q->proto == proto)
            return q;
    return NULL;
}

/* A fresh queue; the oldest is evicted when the pool is used up. */
static struct frag_queue *fq_create(struct us_frag_table *t, uint32_t h,
                                    const struct us_ipv4_view *v, us_time_ns expires,
                                    struct us_mib *mib)
{
    if (!t->free_list)
        fq_kill(t, t->oldest, mib);
    struct frag_queue *q = t->free_list;
    t->free_list = q->hnext;
    memset(q, 0, sizeof(*q));
    q->src = v->src;
    q->dst = v->dst;
    q->id = v->id;
    q->proto = v->proto;
    q->expires = expires;
    q->truesize = sizeof(*q);
    struct frag_queue **b = &t->buckets[h & t->bucket_mask];
    q->hnext = *b;
    if (*b)
        (*b)->hpprev = &q->hnext;
    q->hpprev = b;
    *b = q;
    q->older = t->newest;
    if (t->newest)
        t->newest->newer = q;
    else
        t->oldest = q;
    t->newest = q;
    t->mem += q->truesize;
    t->nqueues++;
    return q;
}

enum fq_insert {
    FQ_INSERTED,
    FQ_DUPLICATE, /* exact repeat of a held fragment */
    FQ_OVERLAP,   /* RFC 5722 §4 (applied to IPv4 as Linux does): drop the datagram */
    FQ_BAD,       /* inconsistent with what the queue knows */
};

/* Places a fragment [off, end) in q, checking it against the rest first. */
static enum fq_insert fq_insert(struct frag_queue *q, struct us_pkt *pkt, uint32_t off,
                                uint32_t end, bool mf)
{
    if (!mf) {
        /* A last fragment must not end before data we hold, nor disagree
         * with an earlier last fragment. */
        if (end < q->len || ((q->flags & FQ_LAST_IN) && end != q->len))
            return FQ_BAD;
    } else if (end > q->len && (q->flags & FQ_LAST_IN)) {
        return FQ_BAD; /* data beyond the known end */
    }

    /* Fast path: in-order arrival appends at the tail. */
    struct us_pkt *prev = NULL, *cur = NULL;
    if (q->frags_tail && off < frag_end(q->frags_tail)) {
        /* cur: the first fragment that ends after off; prev: the one before. */
        for (cur = q->frags; cur && frag_end(cur) <= off; cur = cur->next)
            prev = cur;
        if (cur && frag_off(cur) < end) {
            if (frag_off(cur) == off && frag_end(cur) == end)
                return FQ_DUPLICATE;
            return FQ_OVERLAP;
        }
    } else {
        prev = q->frags_tail;
    }

    if (!mf) {
        q->flags |= FQ_LAST_IN;
        q->len = end;
    } else if (end > q->len) {
        q->len = end;
    }
    pkt->cb = off;
    pkt->next = cur;
    if (prev)
        prev->next = pkt;
    else
        q->frags = pkt;
    if (!cur)
        q->frags_tail = pkt;
    q->meat += end - off;
    return FQ_INSERTED;
}

/* Builds the whole datagram from a complete queue, or NULL when reasm_pool
 * is empty or its buffers are too small. */
static struct us_pkt *fq_reasm(struct frag_queue *q, struct us_pkt_pool *reasm_pool)
{
    size_t total = US_IPV4_HLEN + (size_t)q->len;
    if ((size_t)us_pkt_pool_buf_size(reasm_pool) < US_PKT_HEADROOM + total)
        return NULL;
    struct us_pkt *d = us_pkt_alloc(reasm_pool);
    if (!d)
        return NULL;
    uint8_t *hdr = us_pkt_put(d, (uint32_t)total);
    struct us_ipv4_repr r = {
        .tos = q->tos,
        .total_len = (uint16_t)total,
        .id = q->id,
        .df = q->df,
        .mf = false,
        .frag_off = 0,
        .ttl = q->ttl,
        .proto = q->proto,
        .src = q->src,
        .dst = q->dst,
    };
    us_ipv4_emit(hdr, &r);
    for (const struct us_pkt *f = q->frags; f; f = f->next)
        memcpy(hdr + US_IPV4_HLEN + frag_off(f), frag_payload(f), frag_len(f));
    d->l3_off = 0;
    d->l4_off = US_IPV4_HLEN;
    d->tstamp = q->frags->tstamp;
    return d;
}

/* Makes room for `need` more bytes: past high_thresh, evict the oldest
 * queues until usage is back under low_thresh (the pre-4.17 Linux evictor;
 * the table never holds more than high_thresh). *q is cleared if it was
 * evicted. Returns false if the fragment cannot fit even in an empty table. */
static bool frag_make_room(struct us_frag_table *t, const struct us_frag_params *p,
                           struct frag_queue **q, size_t truesize, struct us_mib *mib)
{
    size_t need = truesize + (*q ? 0 : sizeof(struct frag_queue));
    if (t->mem + need <= p->high_thresh)
        return true;
    while (t->oldest && (t->mem > p->low_thresh || t->mem + need > p->high_thresh)) {
        if (t->oldest == *q) {
            *q = NULL;
            need += sizeof(struct frag_queue);
        }
        fq_kill(t, t->oldest, mib);
    }
    return t->mem + need <= p->high_thresh;
}

/* Duplicates are freed silently and report US_FRAG_QUEUED: nothing failed,
 * the datagram is still pending (Linux neither counts nor kills for them).
 * Every US_FRAG_DROPPED counts one ReasmFails. */
enum us_frag_result us_frag_input(struct us_frag_table *t, const struct us_frag_params *p,
                                  struct us_pkt *pkt, const struct us_ipv4_view *v,
                                  struct us_pkt_pool *reasm_pool, us_time_ns now,
                                  struct us_pkt **out, struct us_mib *mib)
{
    *out = NULL;
    mib->ip.ReasmReqds++;

    uint32_t off = v->frag_off;
    uint32_t plen = (uint32_t)v->payload_len;
    uint32_t end = off + plen;
    /* Link-layer padding is not part of the fragment. */
    us_pkt_trim(pkt, (uint32_t)v->hdr_len + plen);
    pkt->l4_off = v->hdr_len;

    uint32_t h = frag_hash(t, v->src, v->dst, v->id, v->proto);
    struct frag_queue *q = fq_find(t, h, v->src, v->dst, v->id, v->proto);

    /* RFC 791 §3.2: all but the last fragment carry a multiple of 8 bytes.
     * A malformed fragment is dropped alone. */
    if (v->mf && (plen & 7))
        goto drop;
    /* A datagram that would exceed 65535 bytes can never be valid, and an
     * empty fragment carries nothing and can only be forged (Linux drops
     * the queue for both). */
    if (end > FRAG_MAX_PAYLOAD || plen == 0) {
        if (q)
            goto kill;
        goto drop;
    }

    if (!frag_make_room(t, p, &q, us_pkt_truesize(pkt), mib))
        goto drop;
    if (!q)
        q = fq_create(t, h, v, now + p->timeout, mib);

    switch (fq_insert(q, pkt, off, end, v->mf)) {
    case FQ_DUPLICATE:
        us_pkt_free(pkt);
        return US_FRAG_QUEUED;
    case FQ_OVERLAP:
        mib->ipext.ReasmOverlaps++;
        goto kill;
    case FQ_BAD:
        goto kill;
    case FQ_INSERTED:
        break;
    }
    q->truesize += us_pkt_truesize(pkt);
    t->mem += us_pkt_truesize(pkt);
    if (off == 0) {
        q->flags |= FQ_FIRST_IN;
        q->tos = v->tos;
        q->ttl = v->ttl;
        q->df = v->df;
    }
    if (!(q->flags & FQ_FIRST_IN) || !(q->flags & FQ_LAST_IN) || q->meat != q->len)
        return US_FRAG_QUEUED;

    struct us_pkt *d = fq_reasm(q, reasm_pool);
    if (!d) {
        fq_kill(t, q, mib);
        return US_FRAG_DROPPED;
    }
    fq_destroy(t, q);
    mib->ip.ReasmOKs++;
    *out = d;
    return US_FRAG_COMPLETE;

kill:
    fq_kill(t, q, mib);
    us_pkt_free(pkt);
    return US_FRAG_DROPPED;
drop:
    mib->ip.ReasmFails++;
    us_pkt_free(pkt);
    return US_FRAG_DROPPED;
}

us_time_ns us_frag_expire(struct us_frag_table *t, us_time_ns now, us_frag_timeout_fn on_timeout,
                          void *ctx, struct us_mib *mib)
{
    struct frag_queue *q;
    while ((q = t->oldest) && q->expires <= now) {
        mib->ip.ReasmTimeout++;
        mib->ip.ReasmFails++;
        /* RFC 792 time exceeded (code 1) only if fragment 0 came: it holds
         * the header and the first 64 bits the ICMP message quotes. */
        if (on_timeout && (q->flags & FQ_FIRST_IN)) {
            q->frags->cb = 0;
            on_timeout(ctx, q->frags);
        }
        fq_destroy(t, q);
    }
    return us_frag_next_expiry(t);
}

us_time_ns us_frag_next_expiry(const struct us_frag_table *t)
{
    return t->oldest ? t->oldest->expires : US_TIME_NEVER;
}

size_t us_frag_mem(const struct us_frag_table *t)
{
    return t->mem;
}

unsigned us_frag_queue_count(const struct us_frag_table *t)
{
    return t->nqueues;
}
