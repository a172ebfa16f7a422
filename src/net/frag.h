/* IPv4 reassembly with Linux's semantics (net/ipv4/ip_fragment.c):
 * queues keyed by (source, destination, protocol, identification); fragments
 * accepted in any order; exact duplicates tolerated; any overlap drops the
 * whole datagram (RFC 5722-style hardening, as Linux does for IPv4 since 5.x);
 * a timeout (net.ipv4.ipfrag_time) that frees the queue; memory bounded by
 * ipfrag_high_thresh: past it the oldest queues are evicted until usage falls
 * below ipfrag_low_thresh. */
#ifndef USTACK_NET_FRAG_H
#define USTACK_NET_FRAG_H

#include "ustack/mib.h"
#include "ustack/pkt.h"
#include "ustack/wire.h"

struct us_frag_params {
    us_time_ns timeout; /* ipfrag_time */
    size_t high_thresh; /* bytes */
    size_t low_thresh;  /* bytes */
};

struct us_frag_table;

/* hash_key: the stack's random key, so queue placement cannot be predicted.
 * max_queues: size of the preallocated queue pool (no allocation per packet). */
struct us_frag_table *us_frag_table_new(uint64_t hash_key, unsigned max_queues);
void us_frag_table_free(struct us_frag_table *t);

enum us_frag_result {
    US_FRAG_QUEUED = 0,   /* kept, datagram not complete yet */
    US_FRAG_COMPLETE = 1, /* *out is the whole datagram */
    US_FRAG_DROPPED = 2,  /* freed (overlap, bad length, no memory); counted */
};

/* Takes ownership of pkt: pkt->data points at the IPv4 header that v was
 * parsed from. On US_FRAG_COMPLETE, *out is a fresh packet from reasm_pool
 * holding the whole datagram: a 20-byte header (first fragment's fields, its
 * options dropped, MF=0, offset 0, total_len and checksum recomputed)
 * followed by the payload, with data at the header and us_pkt_headroom() >=
 * US_PKT_HEADROOM. Counts ReasmReqds, ReasmOKs, ReasmFails, ReasmOverlaps in mib. */
enum us_frag_result us_frag_input(struct us_frag_table *t, const struct us_frag_params *p,
                                  struct us_pkt *pkt, const struct us_ipv4_view *v,
                                  struct us_pkt_pool *reasm_pool, us_time_ns now,
                                  struct us_pkt **out, struct us_mib *mib);

/* Called for each queue that timed out while holding fragment 0, with that
 * fragment (data at its IPv4 header) so the caller can send ICMP time
 * exceeded (fragment reassembly time exceeded, RFC 792). The packet is freed
 * after the call. */
typedef void (*us_frag_timeout_fn)(void *ctx, const struct us_pkt *first_fragment);

/* Frees queues whose time is up (ReasmTimeout and ReasmFails each); returns
 * the next expiry or US_TIME_NEVER. */
us_time_ns us_frag_expire(struct us_frag_table *t, us_time_ns now, us_frag_timeout_fn on_timeout,
                          void *ctx, struct us_mib *mib);

/* Bytes currently charged: the truesize of held fragments plus queue overhead. */
size_t us_frag_mem(const struct us_frag_table *t);
unsigned us_frag_queue_count(const struct us_frag_table *t);

/* The time of the next expiry (what us_frag_expire would return now), or
 * US_TIME_NEVER; us_frag_input may create a queue with a new deadline. */
us_time_ns us_frag_next_expiry(const struct us_frag_table *t);

/* ---------------- outgoing fragmentation (src/net/ip_fragment.c) ---------------- */

/* Splits dgram (data at its IPv4 header, length > mtu, DF clear) into
 * fragments of at most mtu bytes, each fragment's payload a multiple of 8
 * except the last (RFC 791 §3.2). Options: the first fragment keeps them all;
 * the others carry only those with the copied flag (RFC 791 §3.1). Each
 * fragment is a new us_pkt from pool with headroom >= US_PKT_HEADROOM and its
 * header checksum computed; if pool buffers are smaller than mtu plus
 * headroom, fragments are cut to fit them. dgram may itself be a fragment
 * (forwarding): offsets are added to its own and the last piece keeps its MF.
 * On success frees dgram, appends the fragments to out in order and counts
 * FragOKs++ and FragCreates += n; on failure (pool empty) frees what it made
 * and dgram, counts FragFails++, returns -ENOBUFS.
 *
 * The caller handles DF: it counts FragFails and sends ICMP fragmentation
 * needed (RFC 792, RFC 1191) itself. If DF is set anyway, returns -EMSGSIZE
 * and leaves dgram with the caller, counting nothing. A dgram of at most mtu
 * bytes is appended to out unchanged (return 0, nothing counted). A malformed
 * header, an mtu too small for 8 bytes of payload, or a dgram still waiting
 * for its L4 checksum (US_PKT_CSUM_PARTIAL) is dropped: FragFails++,
 * -EINVAL. */
int us_ip_fragment(struct us_pkt *dgram, uint32_t mtu, struct us_pkt_pool *pool,
                   struct us_pkt_queue *out, struct us_mib *mib);

#endif
