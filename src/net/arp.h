/* ARP (RFC 826) and the neighbour cache: entries with Linux's states
 * (INCOMPLETE while a request is out, REACHABLE once confirmed, STALE after
 * base_reachable_time; its next use sends up to three unicast requests, and
 * unanswered it fails), a bounded queue of packets awaiting resolution per
 * entry, retries every retrans_time_ms up to mcast_solicit requests. */
#ifndef USTACK_NET_ARP_H
#define USTACK_NET_ARP_H

#include "ustack/pkt.h"
#include "ustack/wire.h"

#define US_NEIGH_MAX     256
#define US_NEIGH_BUCKETS 64

enum us_neigh_state {
    US_NEIGH_FREE = 0,
    US_NEIGH_INCOMPLETE,
    US_NEIGH_REACHABLE,
    US_NEIGH_STALE,
};

struct us_neigh {
    us_ip4 ip;
    struct us_mac mac;
    uint8_t state;
    uint8_t probes; /* requests sent while INCOMPLETE, or refreshes while STALE */
    int16_t next;   /* bucket chain or free list, -1 ends */
    int ifindex;
    us_time_ns updated; /* last confirmation, or creation while INCOMPLETE */
    us_time_ns used;    /* last time a packet went out through it */
    us_time_ns timer;   /* next retry (INCOMPLETE, refreshing STALE) or state change */
    us_time_ns reachable_until;
    struct us_pkt_queue pending; /* IP packets (data at the IP header) awaiting the address */
};

struct us_arp_table {
    struct us_neigh entries[US_NEIGH_MAX];
    int16_t buckets[US_NEIGH_BUCKETS];
    int16_t free_list;
    uint64_t hash_key;
    unsigned used;
    us_time_ns next_timer; /* earliest timer of any entry */
};

struct us_stack;
struct us_iface;

void us_arp_init(struct us_arp_table *t, uint64_t hash_key);
/* Frees every pending packet. */
void us_arp_purge(struct us_arp_table *t);
/* Handles a received ARP packet (eth: the frame's parsed Ethernet header). */
void us_arp_input(struct us_stack *s, struct us_iface *ifc, const struct us_eth_view *eth);
/* Sends pkt (data at its IPv4 header) to nexthop on ifc: at once if the
 * address is known, else after resolution (or dropped and counted). */
void us_arp_output(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt, us_ip4 nexthop);
/* Gratuitous ARP announcing ifc's address (RFC 5227 §3). */
void us_arp_announce(struct us_stack *s, struct us_iface *ifc);
/* Retries, expiry and garbage collection; returns the next timer. */
us_time_ns us_arp_timers(struct us_stack *s, us_time_ns now);
/* The entry for ip, or NULL (for tests and the neighbour table printout). */
const struct us_neigh *us_arp_lookup(const struct us_arp_table *t, us_ip4 ip);

#endif
