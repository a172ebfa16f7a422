/* A stack instance: its pools, interfaces, routes and the round that
 * us_stack_poll runs. */
#include "core/stack_impl.h"

#include "net/frag.h"
#include "net/ip.h"
#include "net/rx.h"
#include "sock/sock.h"
#include "tcp/tcp.h"
#include "ustack/gso.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define US_FRAG_MAX_QUEUES 4096
#define US_LARGE_BUF_SIZE  (65536 + US_PKT_HEADROOM + 64)

struct us_stack *us_stack_new(const struct us_stack_config *cfg)
{
    struct us_stack_config c = {0};
    if (cfg)
        c = *cfg;
    struct us_stack *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->name, sizeof(s->name), "%s", c.name ? c.name : "ustack");
    uint64_t seed = c.seed ? c.seed : us_random_seed();
    us_rng_seed(&s->rng, seed);
    s->hash_key = us_rng_next(&s->rng);
    s->ip_id_next = (uint16_t)us_rng_next(&s->rng);
    us_sysctl_defaults(&s->sysctl);

    unsigned count = c.pkt_count ? c.pkt_count : 4096;
    unsigned buf = c.pkt_buf_size ? c.pkt_buf_size : 2048 + US_PKT_HEADROOM;
    unsigned large = c.large_pkt_count ? c.large_pkt_count : 64;
    unsigned max = c.pkt_max_count ? c.pkt_max_count : c.pkt_count ? count : 16 * count;
    s->pool = us_pkt_pool_new_growable(count, max, buf);
    /* Super-frames in flight and in reorder queues: grown as the pool is. */
    unsigned large_max = c.large_pkt_count ? large : 16 * large;
    s->large_pool = us_pkt_pool_new_growable(large, large_max, US_LARGE_BUF_SIZE);
    s->frag = us_frag_table_new(us_rng_next(&s->rng), US_FRAG_MAX_QUEUES);
    us_arp_init(&s->arp, us_rng_next(&s->rng));
    s->igmp_next_timer = US_TIME_NEVER;
    s->icmp_tokens = (uint32_t)s->sysctl.icmp_msgs_burst;
    if (!s->pool || !s->large_pool || !s->frag || us_sock_table_init(s) != 0 ||
        us_tcp_table_init(s) != 0) {
        us_stack_free(s);
        return NULL;
    }
    return s;
}

void us_stack_free(struct us_stack *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_ifaces; i++) {
        struct us_iface *ifc = &s->ifaces[i];
        for (int j = 0; j < ifc->txn; j++)
            us_pkt_free(ifc->txq[j]);
        us_dev_destroy(ifc->dev);
    }
    us_sock_table_free(s); /* before the pools: queued datagrams go back to them */
    us_tcp_table_free(s);  /* orphaned connections, TIME_WAIT */
    us_pkt_queue_purge(&s->backlog);
    us_arp_purge(&s->arp);
    if (s->frag)
        us_frag_table_free(s->frag);
    us_pkt_pool_free(s->pool);
    us_pkt_pool_free(s->large_pool);
    free(s);
}

const char *us_stack_name(const struct us_stack *s)
{
    return s->name;
}

us_time_ns us_stack_now(const struct us_stack *s)
{
    return s->now;
}

const struct us_mib *us_stack_mib(const struct us_stack *s)
{
    return &s->mib;
}

unsigned us_stack_pkts_in_use(const struct us_stack *s)
{
    return us_pkt_pool_count(s->pool) - us_pkt_pool_available(s->pool) +
           us_pkt_pool_count(s->large_pool) - us_pkt_pool_available(s->large_pool);
}

struct us_sysctl *us_stack_sysctl(struct us_stack *s)
{
    return &s->sysctl;
}

struct us_pkt *us_stack_pkt_alloc(struct us_stack *s, size_t len)
{
    struct us_pkt_pool *pool = s->pool;
    if (len + US_PKT_HEADROOM > us_pkt_pool_buf_size(pool))
        pool = s->large_pool;
    if (len + US_PKT_HEADROOM > us_pkt_pool_buf_size(pool))
        return NULL;
    struct us_pkt *p = us_pkt_alloc(pool);
    if (!p)
        s->mib.link.PoolExhausted++;
    return p;
}

struct us_pkt *us_stack_pkt_alloc_to(struct us_stack *s, size_t len, us_ip4 dst)
{
    const struct us_route *r = us_route_lookup(s, dst);
    struct us_pkt_pool *pool = r ? us_dev_tx_pool(s->ifaces[r->ifindex].dev) : NULL;
    if (pool && len + US_PKT_HEADROOM <= us_pkt_pool_buf_size(pool)) {
        struct us_pkt *p = us_pkt_alloc(pool);
        if (p)
            return p;
    }
    return us_stack_pkt_alloc(s, len);
}

int us_iface_add(struct us_stack *s, struct us_dev *dev, us_ip4 addr, int prefix_len,
                 us_time_ns now)
{
    if (s->n_ifaces >= US_MAX_IFACES)
        return -ENOSPC;
    if (prefix_len < 0 || prefix_len > 32 || addr == 0 || us_ip4_is_multicast(addr))
        return -EINVAL;
    if (dev->mtu > 65535 || dev->mtu + US_ETH_HLEN + US_PKT_HEADROOM > US_LARGE_BUF_SIZE)
        return -EINVAL; /* frames of this MTU fit no buffer */
    struct us_iface *ifc = &s->ifaces[s->n_ifaces];
    memset(ifc, 0, sizeof(*ifc));
    ifc->dev = dev;
    ifc->index = s->n_ifaces++;
    ifc->addr = addr;
    ifc->prefix_len = prefix_len;
    ifc->mask = us_ip4_mask(prefix_len);
    ifc->bcast = prefix_len >= 31 ? US_IP4_BROADCAST : (addr | ~ifc->mask);
    us_dev_set_rx_pool(dev, s->pool);
    us_dev_set_rx_pool_large(dev, s->large_pool);
    us_route_add(s, addr & ifc->mask, prefix_len, 0, ifc->index);
    s->now = now;
    us_arp_announce(s, ifc);
    us_iface_flush(s);
    return ifc->index;
}

struct us_dev *us_iface_dev(struct us_stack *s, int ifindex)
{
    return ifindex >= 0 && ifindex < s->n_ifaces ? s->ifaces[ifindex].dev : NULL;
}

us_ip4 us_iface_addr(const struct us_stack *s, int ifindex)
{
    return ifindex >= 0 && ifindex < s->n_ifaces ? s->ifaces[ifindex].addr : 0;
}

struct us_iface *us_iface_by_addr(struct us_stack *s, us_ip4 addr)
{
    for (int i = 0; i < s->n_ifaces; i++)
        if (s->ifaces[i].addr == addr)
            return &s->ifaces[i];
    return NULL;
}

/* Hands the interface's queued frames to its device as one burst. */
static void iface_tx_burst(struct us_stack *s, struct us_iface *ifc)
{
    int n = ifc->txn;
    ifc->txn = 0;
    us_dev_tx_burst(ifc->dev, ifc->txq, n, s->now);
    s->mib.link.OutFrames += (uint64_t)n;
}

static void iface_queue(struct us_stack *s, struct us_iface *ifc, struct us_pkt *frame)
{
    if (ifc->txn == US_TX_BATCH)
        iface_tx_burst(s, ifc);
    ifc->txq[ifc->txn++] = frame;
}

void us_iface_xmit(struct us_stack *s, struct us_iface *ifc, struct us_pkt *frame)
{
    /* What the device cannot do, done in software first (Linux's
     * validate_xmit_skb): a super-frame cut into segments, a partial
     * checksum completed. */
    uint32_t features = ifc->dev->features;
    if (frame->gso_size && !(features & US_DEV_F_TSO)) {
        struct us_pkt_queue segs = {0};
        if (us_gso_segment(frame, US_ETH_HLEN, s->pool, s->large_pool, &segs) < 0) {
            s->mib.link.PoolExhausted++;
            us_pkt_free(frame);
            return;
        }
        struct us_pkt *p;
        while ((p = us_pkt_queue_pop(&segs)))
            iface_queue(s, ifc, p);
        return;
    }
    if ((frame->offload & US_PKT_CSUM_PARTIAL) && !(features & US_DEV_F_TX_CSUM))
        (void)us_pkt_csum_finish(frame, US_ETH_HLEN);
    iface_queue(s, ifc, frame);
}

void us_iface_flush(struct us_stack *s)
{
    for (int i = 0; i < s->n_ifaces; i++) {
        if (s->ifaces[i].txn)
            iface_tx_burst(s, &s->ifaces[i]);
    }
}

static void frag_timeout(void *ctx, const struct us_pkt *first_fragment)
{
    /* RFC 792: time exceeded, code 1, when fragment 0 was received. */
    us_icmp_send_error(ctx, first_fragment, US_ICMP_TIME_EXCEEDED, US_ICMP_EXC_FRAGTIME, 0);
}

us_time_ns us_stack_poll(struct us_stack *s, us_time_ns now)
{
    s->now = now;
    bool more = us_rx_top_half(s, now);
    more |= us_rx_bottom_half(s, now);
    us_time_ns next = US_TIME_NEVER;
    next = us_time_min(next, us_frag_expire(s->frag, now, frag_timeout, s, &s->mib));
    next = us_time_min(next, us_arp_timers(s, now));
    next = us_time_min(next, us_igmp_timers(s, now));
    /* TCP: the ACKs and data this round's segments called for, one per
     * connection (one ACK per burst), then its timers. */
    us_tcp_flush_output(s);
    next = us_time_min(next, us_tcp_timers(s, now));
    us_iface_flush(s);
    for (int i = 0; i < s->n_ifaces; i++)
        next = us_time_min(next, us_dev_next_deadline(s->ifaces[i].dev, now));
    /* Work left in the backlog or a device that filled its budget: poll again. */
    if (more || s->backlog.count)
        next = now;
    return next;
}
