/* Software offloads: what a device without checksum or segmentation offload
 * does to a packet that relies on them (Linux's skb_checksum_help and
 * skb_gso_segment). The stack calls them before handing a packet to such a
 * device; the fault injector, before it corrupts an offloaded frame.
 *
 * Every function takes l3_off, the offset of the IPv4 header from data
 * (US_ETH_HLEN for a frame, 0 for a bare datagram). */
#ifndef USTACK_GSO_H
#define USTACK_GSO_H

#include "ustack/pkt.h"

/* How many TCP segments p stands for: 1 for an ordinary packet, the number
 * of gso_size pieces of its payload for a super-frame. */
uint32_t us_gso_segs(const struct us_pkt *p, uint32_t l3_off);

/* Counts p in a device's statistics if it is a super-frame: one more of
 * *frames, and its segments in *segs. */
static inline void us_gso_count(const struct us_pkt *p, uint32_t l3_off, uint64_t *frames,
                                uint64_t *segs)
{
    if (p->gso_size) {
        (*frames)++;
        *segs += us_gso_segs(p, l3_off);
    }
}

/* The IP length of p's largest segment (p's own length for an ordinary
 * packet): what must fit a link's MTU (Linux's skb_gso_validate_network_len). */
uint32_t us_gso_network_seglen(const struct us_pkt *p, uint32_t l3_off);

/* Completes the L4 checksum of a US_PKT_CSUM_PARTIAL packet (TCP or UDP
 * over IPv4) and clears the mark. 0, or -EINVAL if p is not such a packet
 * or is a super-frame (segment it first). */
int us_pkt_csum_finish(struct us_pkt *p, uint32_t l3_off);

/* Cuts the TCP/IPv4 super-frame p into ordinary packets of gso_size payload
 * bytes (the last may be shorter), appended to out, each with p's headers
 * adjusted as a TSO device does (RFC 9293 §3.1 fields; Linux's
 * tcp_gso_segment): IPv4 total length, identification (+1 per segment) and
 * header checksum; TCP sequence number; CWR on the first segment only, FIN
 * and PSH on the last only; the TCP checksum computed in full. Buffers come
 * from pool, or from large for pieces that do not fit it (may be NULL).
 * Frees p and returns the number of packets, or -errno (-EINVAL: not a
 * TCP/IPv4 super-frame; -ENOMEM: out of buffers) leaving p and out as they
 * were. */
int us_gso_segment(struct us_pkt *p, uint32_t l3_off, struct us_pkt_pool *pool,
                   struct us_pkt_pool *large, struct us_pkt_queue *out);

#endif
