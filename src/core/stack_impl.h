/* The inside of a stack instance, shared by the files of src/. Applications
 * see only include/ustack. */
#ifndef USTACK_CORE_STACK_IMPL_H
#define USTACK_CORE_STACK_IMPL_H

#include "ustack/stack.h"
#include "core/random.h"
#include "net/arp.h"
#include "net/igmp.h"

#define US_MAX_IFACES 8
#define US_MAX_ROUTES 32
#define US_TX_BATCH   64

struct us_frag_table;
struct us_sock_table;
struct us_tcp_table;

struct us_iface {
    struct us_dev *dev;
    int index;
    us_ip4 addr, mask, bcast;
    int prefix_len;
    /* Frames waiting for the end of the round, sent as one burst. */
    struct us_pkt *txq[US_TX_BATCH];
    int txn;
    /* Multicast groups joined by sockets (Linux's in_device mc_list). */
    struct us_mc_group mc[US_IFACE_MAX_GROUPS];
};

struct us_route {
    us_ip4 dst, mask;
    int prefix_len;
    us_ip4 gw; /* 0: on-link */
    int ifindex;
};

struct us_stack {
    char name[32];
    uint64_t hash_key; /* per-stack random key for every hash table */
    struct us_rng rng;
    struct us_sysctl sysctl;
    struct us_mib mib;
    us_time_ns now; /* the `now` of the round in progress */

    struct us_pkt_pool *pool;       /* frames */
    struct us_pkt_pool *large_pool; /* whole datagrams up to 64 KiB */

    struct us_iface ifaces[US_MAX_IFACES];
    int n_ifaces;
    struct us_route routes[US_MAX_ROUTES];
    int n_routes;

    /* The receive path: the top half fills the backlog from the devices,
     * the bottom half empties it through the protocols. */
    struct us_pkt_queue backlog;

    struct us_arp_table arp;
    /* The earliest IGMP report timer of any interface's groups (or later
     * than it, never earlier), so a poll with nothing due skips the walk. */
    us_time_ns igmp_next_timer;
    struct us_frag_table *frag;
    uint16_t ip_id_next;

    /* ICMP error rate limit (token bucket, as Linux's icmp_global_allow). */
    uint32_t icmp_tokens;
    us_time_ns icmp_tokens_at;

    struct us_sock_table *socks; /* descriptors and the UDP port table (src/sock) */
    struct us_tcp_table *tcp;    /* connections, listeners, TCP ports (src/tcp) */

    us_icmp_rx_fn icmp_rx;
    void *icmp_rx_ctx;
};

/* One round of every stack at now (stacks that may share a wire); the
 * earliest next deadline of any stack or device. The drivers' round. */
us_time_ns us_stacks_poll(struct us_stack **stacks, int n, us_time_ns now);

/* Queues a finished frame (data at the Ethernet header) for the interface's
 * next burst. */
void us_iface_xmit(struct us_stack *s, struct us_iface *ifc, struct us_pkt *frame);
/* Sends every interface's queued frames. */
void us_iface_flush(struct us_stack *s);
/* The interface that owns addr, or NULL. */
struct us_iface *us_iface_by_addr(struct us_stack *s, us_ip4 addr);
/* A packet from the frame pool if len fits it, else from the large pool. */
struct us_pkt *us_stack_pkt_alloc(struct us_stack *s, size_t len);
/* A packet of len bytes for dst: from the tx_pool of the device the route
 * to dst leaves by, if it has one (no copy on the way), else as above. */
struct us_pkt *us_stack_pkt_alloc_to(struct us_stack *s, size_t len, us_ip4 dst);

#endif
