/* Packet buffers: fixed-size buffers from a per-stack pool, moved between
 * layers by reference. Like a small sk_buff: headroom for headers that are
 * pushed in place, offload metadata for devices that carry it. */
#ifndef USTACK_PKT_H
#define USTACK_PKT_H

#include "ustack/types.h"

#define US_PKT_HEADROOM 192 /* eth + max IPv4 header + max TCP header, rounded up */

/* Offload metadata a device may carry with a frame (virtio-net header
 * style, Linux's ip_summed and gso_size). */
enum {
    /* The L4 checksum is still to be computed (CHECKSUM_PARTIAL): its field
     * holds the folded pseudo-header sum, not complemented, with the length
     * of the whole L4 segment; whoever completes it sums from the L4 header
     * to the end. A receiver takes such a frame as valid: it never left
     * memory (a TAP's kernel, a veth or in-memory peer). */
    US_PKT_CSUM_PARTIAL = 1 << 0,
    US_PKT_CSUM_VALID = 1 << 1, /* L4 checksum already verified by the device */
};

/* How a received frame was addressed at the link layer (Linux's pkt_type). */
enum {
    US_PKT_HOST = 0,  /* to our MAC address */
    US_PKT_BROADCAST, /* to the broadcast address */
    US_PKT_MULTICAST, /* to a multicast address */
};

struct us_pkt_pool;

struct us_pkt {
    struct us_pkt *next; /* link in whatever queue holds the packet */
    uint8_t *head;       /* start of the buffer */
    uint8_t *data;       /* start of the valid bytes */
    uint32_t len;        /* valid bytes from data */
    uint32_t cap;        /* bytes in the buffer from head */
    uint16_t offload;    /* US_PKT_CSUM_* */
    /* 0, or the frame is a TCP/IPv4 super-frame (GSO/TSO/GRO): one IP
     * datagram of up to 64 KiB standing for segments of gso_size payload
     * bytes each (the last may be shorter), with one set of headers that
     * every segment repeats; always with US_PKT_CSUM_PARTIAL or _VALID. */
    uint16_t gso_size;
    uint16_t l3_off;   /* offset of the network header from data, set by input */
    uint16_t l4_off;   /* offset of the transport header from data, set by input */
    int16_t ifindex;   /* interface it arrived on, -1 if none */
    uint8_t pkt_type;  /* US_PKT_HOST, _BROADCAST or _MULTICAST */
    uint32_t cb;       /* scratch for the layer holding the packet (like skb->cb) */
    us_time_ns tstamp; /* when the device received it (or when it was queued) */
    struct us_pkt_pool *pool;
    /* Called once when the packet is freed, with owner at hand (Linux's
     * skb->destructor and skb->sk): a UDP socket's send buffer charge is
     * given back this way when the device has taken the frame. NULL: none. */
    void (*destructor)(struct us_pkt *p);
    void *owner;
};

/* A pool of `count` buffers of `buf_size` bytes each, allocated once. */
struct us_pkt_pool *us_pkt_pool_new(unsigned count, unsigned buf_size);
/* A pool that starts with `count` buffers and, each time they are all in
 * use, grows by `count` more, up to `max_count` (at most 64 times count). */
struct us_pkt_pool *us_pkt_pool_new_growable(unsigned count, unsigned max_count, unsigned buf_size);
/* Gives back the buffers a growable pool added, if every buffer is free:
 * the number given back (0 when none were added or some are in use). */
unsigned us_pkt_pool_trim(struct us_pkt_pool *pool);
void us_pkt_pool_free(struct us_pkt_pool *pool);
/* Frees the pool now if every buffer is home, else when the last one is
 * freed: for a pool whose buffers travel to owners that may outlive its
 * creator (a wire's buffers queued in a stack). */
void us_pkt_pool_release(struct us_pkt_pool *pool);
unsigned us_pkt_pool_buf_size(const struct us_pkt_pool *pool);
unsigned us_pkt_pool_available(const struct us_pkt_pool *pool);
unsigned us_pkt_pool_count(const struct us_pkt_pool *pool);
/* Number of allocations that failed because the pool was empty. */
uint64_t us_pkt_pool_alloc_failures(const struct us_pkt_pool *pool);

/* A buffer with US_PKT_HEADROOM reserved and len 0, or NULL when the pool is empty. */
struct us_pkt *us_pkt_alloc(struct us_pkt_pool *pool);
/* Runs the packet's destructor, if any, and forgets its owner (Linux's
 * skb_orphan): whoever charged the buffer is paid back now. */
void us_pkt_orphan(struct us_pkt *p);
/* Runs the packet's destructor, if any, and returns it to its pool. */
void us_pkt_free(struct us_pkt *p);
/* Frees a whole chain linked through next. */
void us_pkt_free_chain(struct us_pkt *p);
/* A copy of p (data, length and metadata) from the same pool, or NULL. */
struct us_pkt *us_pkt_clone(const struct us_pkt *p);

/* Memory the buffer really occupies, charged to queues that hold it. */
static inline uint32_t us_pkt_truesize(const struct us_pkt *p)
{
    return p->cap + (uint32_t)sizeof(struct us_pkt);
}
static inline uint32_t us_pkt_headroom(const struct us_pkt *p)
{
    return (uint32_t)(p->data - p->head);
}
static inline uint32_t us_pkt_tailroom(const struct us_pkt *p)
{
    return p->cap - us_pkt_headroom(p) - p->len;
}
/* Prepend n bytes of header; returns the new start, or NULL without headroom. */
static inline uint8_t *us_pkt_push(struct us_pkt *p, uint32_t n)
{
    if (us_pkt_headroom(p) < n)
        return NULL;
    p->data -= n;
    p->len += n;
    return p->data;
}
/* Strip n bytes from the front; returns the new start, or NULL if too short. */
static inline uint8_t *us_pkt_pull(struct us_pkt *p, uint32_t n)
{
    if (p->len < n)
        return NULL;
    p->data += n;
    p->len -= n;
    return p->data;
}
/* Append n bytes at the tail; returns where they go, or NULL without tailroom. */
static inline uint8_t *us_pkt_put(struct us_pkt *p, uint32_t n)
{
    if (us_pkt_tailroom(p) < n)
        return NULL;
    uint8_t *t = p->data + p->len;
    p->len += n;
    return t;
}
static inline void us_pkt_trim(struct us_pkt *p, uint32_t len)
{
    if (len < p->len)
        p->len = len;
}
/* Sets data to head + headroom and len 0, for reuse. */
static inline void us_pkt_reset(struct us_pkt *p, uint32_t headroom)
{
    p->data = p->head + headroom;
    p->len = 0;
    p->offload = 0;
    p->gso_size = 0;
    p->pkt_type = US_PKT_HOST;
    p->next = NULL;
}

/* A singly linked FIFO of packets. */
struct us_pkt_queue {
    struct us_pkt *head, *tail;
    uint32_t count;
};
static inline void us_pkt_queue_push(struct us_pkt_queue *q, struct us_pkt *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->count++;
}
static inline struct us_pkt *us_pkt_queue_pop(struct us_pkt_queue *q)
{
    struct us_pkt *p = q->head;
    if (p) {
        q->head = p->next;
        if (!q->head)
            q->tail = NULL;
        p->next = NULL;
        q->count--;
    }
    return p;
}
static inline void us_pkt_queue_purge(struct us_pkt_queue *q)
{
    us_pkt_free_chain(q->head);
    q->head = q->tail = NULL;
    q->count = 0;
}

#endif
