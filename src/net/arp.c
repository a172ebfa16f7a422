/* ARP (RFC 826) and the neighbour cache, with Linux's timers and limits
 * (net.ipv4.neigh.default.*). */
#include "net/arp.h"

#include "core/stack_impl.h"
#include "net/ip.h"

#include <string.h>

static const struct us_mac mac_broadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
static const struct us_mac mac_zero = {{0}};

/* Unicast requests that refresh a stale entry before it fails (Linux's
 * neigh.default.ucast_solicit). */
#define NEIGH_UCAST_SOLICIT 3

static unsigned neigh_bucket(const struct us_arp_table *t, us_ip4 ip)
{
    uint64_t h = ((uint64_t)ip ^ t->hash_key) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    return (unsigned)(h % US_NEIGH_BUCKETS);
}

void us_arp_init(struct us_arp_table *t, uint64_t hash_key)
{
    memset(t, 0, sizeof(*t));
    t->hash_key = hash_key;
    for (int i = 0; i < US_NEIGH_BUCKETS; i++)
        t->buckets[i] = -1;
    t->free_list = -1;
    t->next_timer = US_TIME_NEVER;
    for (int i = US_NEIGH_MAX - 1; i >= 0; i--) {
        t->entries[i].next = t->free_list;
        t->free_list = (int16_t)i;
    }
}

void us_arp_purge(struct us_arp_table *t)
{
    for (int i = 0; i < US_NEIGH_MAX; i++)
        us_pkt_queue_purge(&t->entries[i].pending);
}

static struct us_neigh *neigh_find(struct us_arp_table *t, us_ip4 ip)
{
    for (int i = t->buckets[neigh_bucket(t, ip)]; i >= 0; i = t->entries[i].next)
        if (t->entries[i].ip == ip)
            return &t->entries[i];
    return NULL;
}

const struct us_neigh *us_arp_lookup(const struct us_arp_table *t, us_ip4 ip)
{
    return neigh_find((struct us_arp_table *)t, ip);
}

static void neigh_free(struct us_stack *s, struct us_neigh *n)
{
    struct us_arp_table *t = &s->arp;
    int idx = (int)(n - t->entries);
    int16_t *link = &t->buckets[neigh_bucket(t, n->ip)];
    while (*link != idx)
        link = &t->entries[*link].next;
    *link = n->next;
    s->mib.arp.UnresolvedDiscards += n->pending.count;
    us_pkt_queue_purge(&n->pending);
    memset(n, 0, sizeof(*n));
    n->next = t->free_list;
    t->free_list = (int16_t)idx;
    t->used--;
}

/* A free entry, evicting the least recently used resolved one when the table
 * is full (Linux's neighbour GC does the same past gc_thresh3). */
static struct us_neigh *neigh_create(struct us_stack *s, us_ip4 ip, int ifindex, us_time_ns now)
{
    struct us_arp_table *t = &s->arp;
    if (t->free_list < 0) {
        struct us_neigh *victim = NULL;
        for (int i = 0; i < US_NEIGH_MAX; i++) {
            struct us_neigh *n = &t->entries[i];
            if (n->state != US_NEIGH_INCOMPLETE && (!victim || n->used < victim->used))
                victim = n;
        }
        if (!victim) {
            s->mib.arp.CacheFull++;
            return NULL;
        }
        neigh_free(s, victim);
    }
    int idx = t->free_list;
    struct us_neigh *n = &t->entries[idx];
    t->free_list = n->next;
    memset(n, 0, sizeof(*n));
    n->ip = ip;
    n->ifindex = ifindex;
    n->updated = n->used = now;
    unsigned b = neigh_bucket(t, ip);
    n->next = t->buckets[b];
    t->buckets[b] = (int16_t)idx;
    t->used++;
    return n;
}

/* Sets n's timer and keeps the table's earliest timer current. */
static void neigh_arm(struct us_arp_table *t, struct us_neigh *n, us_time_ns when)
{
    n->timer = when;
    t->next_timer = us_time_min(t->next_timer, when);
}

static void arp_send(struct us_stack *s, struct us_iface *ifc, uint16_t op,
                     const struct us_mac *eth_dst, const struct us_mac *tha, us_ip4 spa, us_ip4 tpa)
{
    struct us_pkt *p = us_pkt_alloc(s->pool);
    if (!p) {
        s->mib.link.PoolExhausted++;
        return;
    }
    struct us_arp_view a = {.op = op, .sha = ifc->dev->mac, .tha = *tha, .spa = spa, .tpa = tpa};
    uint8_t *body = us_pkt_put(p, US_ARP_LEN);
    us_arp_emit(body, &a);
    us_eth_emit(us_pkt_push(p, US_ETH_HLEN), eth_dst, &ifc->dev->mac, US_ETH_TYPE_ARP);
    if (op == US_ARP_OP_REQUEST)
        s->mib.arp.OutRequests++;
    else
        s->mib.arp.OutReplies++;
    us_iface_xmit(s, ifc, p);
}

static void send_request(struct us_stack *s, struct us_iface *ifc, struct us_neigh *n,
                         const struct us_mac *eth_dst)
{
    arp_send(s, ifc, US_ARP_OP_REQUEST, eth_dst, &mac_zero, ifc->addr, n->ip);
    n->probes++;
}

void us_arp_announce(struct us_stack *s, struct us_iface *ifc)
{
    /* RFC 5227 §3: an ARP request with sender and target both our address. */
    arp_send(s, ifc, US_ARP_OP_REQUEST, &mac_broadcast, &mac_zero, ifc->addr, ifc->addr);
    s->mib.arp.OutGratuitous++;
}

static void neigh_xmit(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt,
                       const struct us_mac *dst)
{
    uint8_t *h = us_pkt_push(pkt, US_ETH_HLEN);
    if (!h) {
        s->mib.link.OutDrops++;
        us_pkt_free(pkt);
        return;
    }
    us_eth_emit(h, dst, &ifc->dev->mac, US_ETH_TYPE_IPV4);
    us_iface_xmit(s, ifc, pkt);
}

/* base_reachable_time randomised to [1/2, 3/2] of itself, as Linux does. */
static us_time_ns reachable_time(struct us_stack *s)
{
    uint64_t base = (uint64_t)s->sysctl.neigh_base_reachable_time_ms * US_NS_PER_MS;
    return base / 2 + (base ? us_rng_below(&s->rng, base) : 0);
}

static void neigh_confirm(struct us_stack *s, struct us_neigh *n, const struct us_mac *mac,
                          us_time_ns now)
{
    n->mac = *mac;
    n->state = US_NEIGH_REACHABLE;
    n->probes = 0;
    n->updated = now;
    n->reachable_until = now + reachable_time(s);
    neigh_arm(&s->arp, n, n->reachable_until);
    struct us_iface *ifc = &s->ifaces[n->ifindex];
    struct us_pkt *p;
    while ((p = us_pkt_queue_pop(&n->pending)))
        neigh_xmit(s, ifc, p, &n->mac);
}

void us_arp_input(struct us_stack *s, struct us_iface *ifc, const struct us_eth_view *eth)
{
    struct us_arp_view a;
    int err = us_arp_parse(eth->payload, eth->payload_len, &a);
    if (err) {
        s->mib.arp.InErrors++;
        return;
    }
    if (a.op == US_ARP_OP_REQUEST)
        s->mib.arp.InRequests++;
    else if (a.op == US_ARP_OP_REPLY)
        s->mib.arp.InReplies++;
    else {
        s->mib.arp.InErrors++;
        return;
    }
    /* Nonsense senders are not learned from (Linux arp_process). */
    if (us_ip4_is_multicast(a.spa) || a.spa == US_IP4_BROADCAST || us_mac_is_multicast(&a.sha))
        return;
    bool for_us = a.tpa == ifc->addr;
    us_time_ns now = s->now;

    if (a.spa == 0) {
        /* RFC 5227 probe: answer if it asks for our address, learn nothing. */
        if (for_us && a.op == US_ARP_OP_REQUEST)
            arp_send(s, ifc, US_ARP_OP_REPLY, &a.sha, &a.sha, ifc->addr, a.spa);
        return;
    }
    if (a.spa == ifc->addr)
        return; /* someone else claims our address; a real host would log it */

    /* RFC 826 "merge": update a sender we know; add it if the packet is for us. */
    struct us_neigh *n = neigh_find(&s->arp, a.spa);
    if (n) {
        neigh_confirm(s, n, &a.sha, now);
    } else if (for_us) {
        n = neigh_create(s, a.spa, ifc->index, now);
        if (n)
            neigh_confirm(s, n, &a.sha, now);
    }
    if (for_us && a.op == US_ARP_OP_REQUEST)
        arp_send(s, ifc, US_ARP_OP_REPLY, &a.sha, &a.sha, ifc->addr, a.spa);
}

void us_arp_output(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt, us_ip4 nexthop)
{
    us_time_ns now = s->now;
    struct us_neigh *n = neigh_find(&s->arp, nexthop);
    if (!n) {
        n = neigh_create(s, nexthop, ifc->index, now);
        if (!n) {
            s->mib.arp.UnresolvedDiscards++;
            us_pkt_free(pkt);
            return;
        }
        n->state = US_NEIGH_INCOMPLETE;
        us_pkt_queue_push(&n->pending, pkt);
        send_request(s, ifc, n, &mac_broadcast);
        neigh_arm(&s->arp, n, now + (us_time_ns)s->sysctl.neigh_retrans_time_ms * US_NS_PER_MS);
        return;
    }
    n->used = now;
    if (n->state == US_NEIGH_INCOMPLETE) {
        /* Linux drops the oldest queued packet when the queue is full. */
        if (n->pending.count >= (uint32_t)s->sysctl.neigh_unres_qlen) {
            us_pkt_free(us_pkt_queue_pop(&n->pending));
            s->mib.arp.UnresolvedDiscards++;
        }
        us_pkt_queue_push(&n->pending, pkt);
        return;
    }
    if (n->state == US_NEIGH_STALE && n->probes == 0) {
        /* Still usable; ask the neighbour directly to confirm it (unicast
         * probe, like Linux's PROBE state). */
        send_request(s, ifc, n, &n->mac);
        neigh_arm(&s->arp, n, now + (us_time_ns)s->sysctl.neigh_retrans_time_ms * US_NS_PER_MS);
    }
    neigh_xmit(s, ifc, pkt, &n->mac);
}

/* RFC 1812 §5.2.7.1: a router tells the sender of each datagram it could
 * not deliver to an unresolvable next hop (Linux: arp_error_report). Our
 * own datagrams are dropped silently; their senders see no reply. */
static void report_unreachable(struct us_stack *s, struct us_neigh *n)
{
    for (struct us_pkt *p = n->pending.head; p; p = p->next) {
        struct us_ipv4_view ip;
        if (us_ipv4_parse(p->data, p->len, &ip) == US_WIRE_OK && !us_iface_by_addr(s, ip.src))
            us_icmp_send_error(s, p, US_ICMP_DEST_UNREACH, US_ICMP_HOST_UNREACH, 0);
    }
}

us_time_ns us_arp_timers(struct us_stack *s, us_time_ns now)
{
    us_time_ns next = US_TIME_NEVER;
    us_time_ns retrans = (us_time_ns)s->sysctl.neigh_retrans_time_ms * US_NS_PER_MS;
    us_time_ns gc_stale = (us_time_ns)s->sysctl.neigh_gc_stale_time * US_NS_PER_SEC;
    if (s->arp.used == 0 || now < s->arp.next_timer)
        return s->arp.used ? s->arp.next_timer : next;
    /* What the walk sends can make an entry (an ICMP error to a sender no
     * longer cached) in a slot already passed: neigh_arm records its timer
     * here, and the walk's own minimum joins it at the end. */
    s->arp.next_timer = US_TIME_NEVER;
    for (int i = 0; i < US_NEIGH_MAX; i++) {
        struct us_neigh *n = &s->arp.entries[i];
        switch (n->state) {
        case US_NEIGH_INCOMPLETE:
            if (n->timer <= now) {
                if (n->probes >= s->sysctl.neigh_mcast_solicit) {
                    /* RFC 1122 §2.3.2.1: give up and drop what waited. */
                    s->mib.arp.ResolveFailures++;
                    report_unreachable(s, n);
                    neigh_free(s, n);
                    continue;
                }
                send_request(s, &s->ifaces[n->ifindex], n, &mac_broadcast);
                n->timer = now + retrans;
            }
            break;
        case US_NEIGH_REACHABLE:
            if (n->reachable_until <= now) {
                n->state = US_NEIGH_STALE;
                n->probes = 0;
                n->timer = n->used + gc_stale;
            }
            break;
        case US_NEIGH_STALE:
            if (n->probes) {
                /* Refreshing (Linux's PROBE state, RFC 1122 §2.3.2.1's
                 * unicast poll): up to ucast_solicit requests to the cached
                 * address, retrans_time apart; if none is answered the entry
                 * fails, and the next use resolves the address afresh by
                 * broadcast (the cached address was wrong, or changed). */
                if (n->timer > now)
                    break;
                if (n->probes >= NEIGH_UCAST_SOLICIT) {
                    s->mib.arp.ResolveFailures++;
                    neigh_free(s, n);
                    continue;
                }
                send_request(s, &s->ifaces[n->ifindex], n, &n->mac);
                n->timer = now + retrans;
                break;
            }
            /* Unused stale entries are collected. */
            if (n->used + gc_stale <= now) {
                neigh_free(s, n);
                continue;
            }
            n->timer = n->used + gc_stale;
            break;
        default:
            continue;
        }
        next = us_time_min(next, n->timer);
    }
    s->arp.next_timer = us_time_min(s->arp.next_timer, next);
    return s->arp.next_timer;
}
