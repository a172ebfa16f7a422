/* The sender's retransmission queue: one record per segment sent and not yet
 * cumulatively acknowledged, in sequence order and contiguous from snd_una
 * to snd_max (Linux's rtx queue of skbs, RFC 6675's scoreboard). The bytes
 * themselves stay in the send ring; a record keeps where a segment begins
 * and ends, when it was last transmitted, and what is known of it: SACKed,
 * deemed lost, a retransmission in flight.
 *
 * From the records come the three numbers recovery needs, in sequence-space
 * bytes: sacked, lost and retrans (Linux's sacked_out, lost_out, retrans_out,
 * there in segments), and so the pipe of RFC 6675 §4 — what is still in the
 * network. RACK (tcp_rack.c) reads the transmission times to decide what is
 * lost.
 *
 * The ring grows by doubling and never shrinks while the connection lives:
 * no allocation per segment once it has reached the window's size.
 *
 * Through the same records runs a second order, by transmission time
 * (Linux's tsorted_sent_queue): a doubly linked list, by ring slot, of the
 * records RACK may yet deem lost — in flight, neither SACKed nor waiting
 * for their retransmission. A record joins its tail when it is sent or
 * resent and leaves when it is SACKed, ACKed or marked lost, so RACK looks
 * only at what was sent before the last delivery and is still unaccounted
 * for, not at the whole window. And retrans_hint (Linux's
 * retransmit_skb_hint) says where the lowest record waiting for its
 * retransmission may be, so the retransmission walk resumes there.
 *
 * A split (a SACK edge or a smaller MSS inside a record) opens a slot by
 * moving the records on its shorter side by one: the common splits are at
 * the tail (the loss probe) or near the head (the lowest lost record
 * resent), and a record is split at most a few times in its life, so this
 * stays far from the old cost of shifting the whole tail on every split. */
#ifndef USTACK_TCP_RTX_H
#define USTACK_TCP_RTX_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/types.h"
#include "ustack/wire.h"

/* A record's state, Linux's TCPCB_* "sacked" bits. */
enum {
    US_TCP_SEG_SACKED = 1,       /* the peer SACKed it (TCPCB_SACKED_ACKED) */
    US_TCP_SEG_LOST = 2,         /* deemed lost, to be retransmitted (TCPCB_LOST) */
    US_TCP_SEG_RETRANS = 4,      /* a retransmission of it is in flight (TCPCB_SACKED_RETRANS) */
    US_TCP_SEG_EVER_RETRANS = 8, /* sent more than once: no RTT sample (Karn, TCPCB_RETRANS) */
    US_TCP_SEG_FIN = 16,         /* its last sequence number is the FIN */
};

#define US_TCP_RTX_NONE 0 /* no slot: links hold a ring slot + 1, so zeroed is empty */

struct us_tcp_seg {
    uint32_t seq, end;     /* [seq, end) in sequence space, the FIN included */
    us_time_ns xmit_time;  /* the last transmission */
    uint8_t flags;         /* US_TCP_SEG_* */
    bool tlisted;          /* on the time-ordered list */
    uint32_t tprev, tnext; /* time-ordered list neighbours: slot + 1, or US_TCP_RTX_NONE */
};

struct us_tcp_rtx {
    struct us_tcp_seg *seg; /* a ring of cap records, cap a power of two */
    uint32_t cap, head, n;
    uint32_t sacked;       /* bytes in SACKED records */
    uint32_t lost;         /* bytes in LOST records */
    uint32_t retrans;      /* bytes in RETRANS records */
    uint32_t thead, ttail; /* the time-ordered list: oldest and newest, slot + 1 */
    /* No record below this sequence number is LOST without RETRANS. */
    uint32_t retrans_hint;
    /* The previous ACK's SACK blocks, every record inside them SACKed:
     * a block that repeats or extends one is tagged only where it is new
     * (Linux's recv_sack_cache). */
    uint8_t sack_cache_n;
    struct us_tcp_sack_block sack_cache[US_TCP_MAX_SACK];
};

/* The ring slot of record i, and back. */
static inline uint32_t us_tcp_rtx_slot(const struct us_tcp_rtx *q, uint32_t i)
{
    return (q->head + i) & (q->cap - 1);
}
static inline uint32_t us_tcp_rtx_index(const struct us_tcp_rtx *q, uint32_t slot)
{
    return (slot - q->head) & (q->cap - 1);
}

static inline struct us_tcp_seg *us_tcp_rtx_at(const struct us_tcp_rtx *q, uint32_t i)
{
    return &q->seg[(q->head + i) & (q->cap - 1)];
}

static inline uint32_t us_tcp_seg_len(const struct us_tcp_seg *g)
{
    return g->end - g->seq;
}

/* Room for one more record. 0 or -ENOMEM. */
int us_tcp_rtx_reserve(struct us_tcp_rtx *q);
/* Room for k more records. 0 or -ENOMEM. */
int us_tcp_rtx_reserve_n(struct us_tcp_rtx *q, uint32_t k);
/* Appends a record [seq, end) sent now. 0 or -ENOMEM. */
int us_tcp_rtx_push(struct us_tcp_rtx *q, uint32_t seq, uint32_t end, bool fin, us_time_ns now);
/* Splits record i at sequence number at (inside it): i keeps [seq, at), a
 * new record i + 1 gets [at, end) with the same state. 0 or -ENOMEM. */
int us_tcp_rtx_split(struct us_tcp_rtx *q, uint32_t i, uint32_t at);
/* The index of the record holding sequence number seq, or q->n. */
uint32_t us_tcp_rtx_find(const struct us_tcp_rtx *q, uint32_t seq);
/* State changes that keep the byte counts right. */
void us_tcp_rtx_mark_lost(struct us_tcp_rtx *q, struct us_tcp_seg *g);
void us_tcp_rtx_mark_sacked(struct us_tcp_rtx *q, struct us_tcp_seg *g);
void us_tcp_rtx_mark_retrans(struct us_tcp_rtx *q, struct us_tcp_seg *g, us_time_ns now);
/* Not lost after all (a spurious timeout undone). */
void us_tcp_rtx_unmark_lost(struct us_tcp_rtx *q, struct us_tcp_seg *g);
/* Drops the first record. */
void us_tcp_rtx_pop(struct us_tcp_rtx *q);
/* The first record starts at seq now (a partial cumulative ACK). */
void us_tcp_rtx_trim_head(struct us_tcp_rtx *q, uint32_t seq);
/* Forgets every SACK mark (the receiver reneged, RFC 2018 §8). */
void us_tcp_rtx_clear_sacks(struct us_tcp_rtx *q);
/* Puts back on the time-ordered list every record that belongs there
 * (after marks were taken away wholesale: an undone timeout). */
void us_tcp_rtx_rebuild_tlist(struct us_tcp_rtx *q);
/* The index where the walk for records waiting for their retransmission
 * starts (retrans_hint); us_tcp_rtx_retrans_stop says where it stopped:
 * no such record below index i. */
uint32_t us_tcp_rtx_retrans_start(const struct us_tcp_rtx *q);
void us_tcp_rtx_retrans_stop(struct us_tcp_rtx *q, uint32_t i);
void us_tcp_rtx_free(struct us_tcp_rtx *q);

#endif
