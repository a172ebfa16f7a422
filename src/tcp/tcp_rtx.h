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
 * no allocation per segment once it has reached the window's size. */
#ifndef USTACK_TCP_RTX_H
#define USTACK_TCP_RTX_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/types.h"

/* A record's state, Linux's TCPCB_* "sacked" bits. */
enum {
    US_TCP_SEG_SACKED = 1,       /* the peer SACKed it (TCPCB_SACKED_ACKED) */
    US_TCP_SEG_LOST = 2,         /* deemed lost, to be retransmitted (TCPCB_LOST) */
    US_TCP_SEG_RETRANS = 4,      /* a retransmission of it is in flight (TCPCB_SACKED_RETRANS) */
    US_TCP_SEG_EVER_RETRANS = 8, /* sent more than once: no RTT sample (Karn, TCPCB_RETRANS) */
    US_TCP_SEG_FIN = 16,         /* its last sequence number is the FIN */
};

struct us_tcp_seg {
    uint32_t seq, end;    /* [seq, end) in sequence space, the FIN included */
    us_time_ns xmit_time; /* the last transmission */
    uint8_t flags;        /* US_TCP_SEG_* */
};

struct us_tcp_rtx {
    struct us_tcp_seg *seg; /* a ring of cap records, cap a power of two */
    uint32_t cap, head, n;
    uint32_t sacked;  /* bytes in SACKED records */
    uint32_t lost;    /* bytes in LOST records */
    uint32_t retrans; /* bytes in RETRANS records */
};

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
void us_tcp_rtx_free(struct us_tcp_rtx *q);

#endif
