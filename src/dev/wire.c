/* The in-memory wire: a hub joining ports on the virtual clock, so stacks in
 * one process talk with exact, reproducible timing.
 *
 * Design: at transmit time the wire computes the frame's arrival and copies
 * it straight into a buffer from each other port's rx_pool, queued on that
 * port sorted by arrival (kept in the copy's tstamp); the sender's buffer is
 * freed at once. This needs no side tables or refcounts, never allocates per
 * frame, and the in-flight frames are charged to the receiver's pool, as if
 * they sat in its NIC ring. A receiver whose pool is empty when the frame is
 * sent drops it (rx_dropped), which is where a real NIC would drop it too.
 *
 * A wire with offloads has a pool of its own for super-frames (every
 * port's tx_pool): between two ports such a frame is not copied but moved
 * to the receiver, as veth hands an skb to the other namespace, and the
 * receiver frees it back to the wire's pool. The pool outlives the wire
 * until its last buffer comes home (us_pkt_pool_release).
 *
 * Per sending port the link serialises frames at bandwidth_bps: a frame
 * departs (its last bit leaves) at max(now, busy_until) + len*8/bps and
 * arrives latency later. A ring of departure times and lengths counts the
 * frames not yet departed and their bytes, for the tail drops at
 * queue_limit frames and at queue_limit_bytes bytes: a frame counts from
 * when the port accepts it until its last bit leaves (the one being
 * serialised included), as a router's output queue with its line. */
#include "ustack/dev.h"
#include "ustack/gso.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN_WIRE 14
/* A GSO super-frame carries at most one maximal IPv4 datagram. */
#define WIRE_GSO_MAX_FRAME (65535u + ETH_HLEN_WIRE)
/* The wire's own buffers: a whole super-frame with a stack's headroom. */
#define WIRE_POOL_BUF_SIZE (WIRE_GSO_MAX_FRAME + US_PKT_HEADROOM + 64)

/* A frame on the link: when its last bit leaves, and its length. */
struct wire_departure {
    us_time_ns at;
    uint32_t len;
};

struct wire_port {
    struct us_dev dev; /* first, so a struct us_dev * is a struct wire_port * */
    struct us_wire *wire;
    struct us_pkt_queue inbound;    /* copies for this port, sorted by arrival */
    us_time_ns busy_until;          /* when the link finishes the last frame sent */
    struct wire_departure *departs; /* ring of the frames not yet departed, queue_limit slots */
    uint32_t dep_head, dep_count;
    uint64_t dep_bytes; /* bytes of those frames */
};

struct us_wire {
    struct us_wire_config cfg;
    struct us_pkt_pool *pool; /* super-frames moved between ports (offload), or NULL */
    struct wire_port **ports;
    unsigned nports, cap;
    unsigned next_id; /* numbers ports for deterministic MACs and names */
};

static struct wire_port *port_of(struct us_dev *d)
{
    return (struct wire_port *)d;
}

/* Time to clock len bytes onto the link, rounded up so the rate is never
 * exceeded. len is bounded by WIRE_GSO_MAX_FRAME, so len*8e9 cannot overflow. */
static us_time_ns serialisation_ns(uint64_t bps, uint32_t len)
{
    if (bps == 0)
        return 0;
    uint64_t bit_ns = (uint64_t)len * 8u * US_NS_PER_SEC;
    return bit_ns / bps + (bit_ns % bps != 0);
}

/* Inserts after every frame arriving at or before it: FIFO per link, and
 * stable between senders. Usually the new frame is last, so O(1). */
static void inbound_insert(struct us_pkt_queue *q, struct us_pkt *c)
{
    if (!q->tail || q->tail->tstamp <= c->tstamp) {
        us_pkt_queue_push(q, c);
        return;
    }
    struct us_pkt **link = &q->head;
    while ((*link)->tstamp <= c->tstamp)
        link = &(*link)->next;
    c->next = *link;
    *link = c;
    q->count++;
}

static void deliver_copy(struct wire_port *to, const struct us_pkt *p, us_time_ns arrival)
{
    struct us_pkt_pool *pool = us_dev_rx_pool_for(&to->dev, p->len);
    if (!pool && to->dev.rx_pool) {
        to->dev.stats.rx_errors++; /* the receiver's buffers are all smaller than the frame */
        return;
    }
    struct us_pkt *c = pool ? us_pkt_alloc(pool) : NULL;
    if (!c) {
        to->dev.stats.rx_dropped++;
        return;
    }
    uint8_t *dst = us_pkt_put(c, p->len);
    memcpy(dst, p->data, p->len);
    c->offload = p->offload;
    c->gso_size = p->gso_size;
    c->tstamp = arrival;
    us_gso_count(c, ETH_HLEN_WIRE, &to->dev.stats.rx_gso_frames, &to->dev.stats.rx_gso_segs);
    inbound_insert(&to->inbound, c);
}

/* Hands p itself to the one other port: a frame from the wire's pool. */
static void deliver_move(struct wire_port *to, struct us_pkt *p, us_time_ns arrival)
{
    us_pkt_orphan(p); /* the device has taken the frame */
    p->tstamp = arrival;
    p->cb = 0;
    p->ifindex = -1;
    p->pkt_type = US_PKT_HOST;
    p->l3_off = p->l4_off = 0;
    us_gso_count(p, ETH_HLEN_WIRE, &to->dev.stats.rx_gso_frames, &to->dev.stats.rx_gso_segs);
    inbound_insert(&to->inbound, p);
}

/* Accepts p onto the link or counts why not. Frees p, or moves it to the
 * receiver. */
static bool port_send(struct wire_port *port, struct us_pkt *p, us_time_ns now)
{
    struct us_dev *d = &port->dev;
    struct us_wire *w = port->wire;
    bool gso = p->gso_size && (d->features & US_DEV_F_TSO);
    uint32_t limit = gso ? WIRE_GSO_MAX_FRAME : d->mtu + ETH_HLEN_WIRE;
    if (!w || p->len > limit) {
        d->stats.tx_errors++; /* oversized, or the wire is gone (no carrier) */
        us_pkt_free(p);
        return false;
    }
    uint32_t qlim = w->cfg.queue_limit;
    while (port->dep_count && port->departs[port->dep_head].at <= now) {
        port->dep_bytes -= port->departs[port->dep_head].len;
        port->dep_head = (port->dep_head + 1) % qlim;
        port->dep_count--;
    }
    uint64_t qbytes = w->cfg.queue_limit_bytes;
    if (port->dep_count >= qlim || (qbytes && port->dep_bytes + p->len > qbytes)) {
        d->stats.tx_dropped++;
        us_pkt_free(p);
        return false;
    }
    us_time_ns start = port->busy_until > now ? port->busy_until : now;
    us_time_ns depart = start + serialisation_ns(w->cfg.bandwidth_bps, p->len);
    port->busy_until = depart;
    port->departs[(port->dep_head + port->dep_count) % qlim] =
        (struct wire_departure){.at = depart, .len = p->len};
    port->dep_count++;
    port->dep_bytes += p->len;
    us_time_ns arrival = depart + w->cfg.latency;
    d->stats.tx_packets++;
    d->stats.tx_bytes += p->len;
    us_gso_count(p, ETH_HLEN_WIRE, &d->stats.tx_gso_frames, &d->stats.tx_gso_segs);
    if (p->pool == w->pool && w->nports == 2) {
        deliver_move(w->ports[w->ports[0] == port], p, arrival);
        return true;
    }
    for (unsigned i = 0; i < w->nports; i++)
        if (w->ports[i] != port)
            deliver_copy(w->ports[i], p, arrival);
    us_pkt_free(p);
    return true;
}

static int wire_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    int accepted = 0;
    for (int i = 0; i < n; i++)
        accepted += port_send(port_of(d), pkts[i], now);
    return accepted;
}

static int wire_rx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct wire_port *port = port_of(d);
    int got = 0;
    while (got < n && port->inbound.head && port->inbound.head->tstamp <= now) {
        struct us_pkt *p = us_pkt_queue_pop(&port->inbound);
        d->stats.rx_packets++;
        d->stats.rx_bytes += p->len;
        pkts[got++] = p;
    }
    return got;
}

static us_time_ns wire_next_deadline(struct us_dev *d, us_time_ns now)
{
    struct us_pkt *head = port_of(d)->inbound.head;
    return head ? head->tstamp : US_TIME_NEVER;
}

static int wire_pollfd(struct us_dev *d)
{
    return -1;
}

static void wire_port_destroy(struct us_dev *d)
{
    struct wire_port *port = port_of(d);
    struct us_wire *w = port->wire;
    if (w) {
        unsigned i = 0;
        while (i < w->nports && w->ports[i] != port)
            i++;
        /* Keep the others' order: delivery order decides who gets scarce buffers. */
        if (i < w->nports) {
            memmove(&w->ports[i], &w->ports[i + 1], (w->nports - i - 1) * sizeof(w->ports[0]));
            w->nports--;
        }
    }
    us_pkt_queue_purge(&port->inbound);
    free(port->departs);
    free(port);
}

static const struct us_dev_ops wire_ops = {
    .rx_burst = wire_rx_burst,
    .tx_burst = wire_tx_burst,
    .next_deadline = wire_next_deadline,
    .pollfd = wire_pollfd,
    .destroy = wire_port_destroy,
};

struct us_wire *us_wire_new(const struct us_wire_config *cfg)
{
    struct us_wire *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    if (cfg)
        w->cfg = *cfg;
    if (w->cfg.mtu == 0)
        w->cfg.mtu = 1500;
    if (w->cfg.mtu > 65535)
        w->cfg.mtu = 65535;
    if (w->cfg.offload) {
        w->pool = us_pkt_pool_new_growable(64, 1024, WIRE_POOL_BUF_SIZE);
        if (!w->pool) {
            free(w);
            return NULL;
        }
    }
    if (w->cfg.queue_limit == 0)
        w->cfg.queue_limit = 1000;
    return w;
}

struct us_dev *us_wire_port_new(struct us_wire *w, const char *name)
{
    if (w->nports == w->cap) {
        unsigned cap = w->cap ? w->cap * 2 : 4;
        struct wire_port **ports = realloc(w->ports, cap * sizeof(*ports));
        if (!ports)
            return NULL;
        w->ports = ports;
        w->cap = cap;
    }
    struct wire_port *port = calloc(1, sizeof(*port));
    if (!port)
        return NULL;
    port->departs = calloc(w->cfg.queue_limit, sizeof(*port->departs));
    if (!port->departs) {
        free(port);
        return NULL;
    }
    unsigned id = ++w->next_id;
    port->wire = w;
    port->dev.ops = &wire_ops;
    port->dev.mtu = w->cfg.mtu;
    if (w->cfg.offload) {
        port->dev.features = US_DEV_F_TX_CSUM | US_DEV_F_TSO | US_DEV_F_RX_CSUM | US_DEV_F_GRO;
        port->dev.gso_max_size = 65535;
        port->dev.tx_pool = w->pool;
    }
    if (name)
        snprintf(port->dev.name, sizeof(port->dev.name), "%s", name);
    else
        snprintf(port->dev.name, sizeof(port->dev.name), "wire%u", id);
    /* Deterministic, so simulations reproduce: 02:00:00:00:hi:lo. */
    port->dev.mac = (struct us_mac){{0x02, 0, 0, 0, (uint8_t)(id >> 8), (uint8_t)id}};
    w->ports[w->nports++] = port;
    return &port->dev;
}

void us_wire_free(struct us_wire *w)
{
    if (!w)
        return;
    /* Ports outliving the wire just lose their carrier; no dangling pointer. */
    for (unsigned i = 0; i < w->nports; i++) {
        w->ports[i]->wire = NULL;
        w->ports[i]->dev.tx_pool = NULL;
    }
    us_pkt_pool_release(w->pool);
    free(w->ports);
    free(w);
}
