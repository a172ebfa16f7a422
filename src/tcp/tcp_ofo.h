/* The TCP receiver's out-of-order queue: segments that arrived beyond
 * rcv_nxt, held by reference (no copy) in sequence order until the hole
 * before them is filled, and the SACK blocks that describe them.
 *
 * The receive side of RFC 9293 §3.10.7.4 ("segments with higher beginning
 * sequence numbers SHOULD be held for later processing") and of RFC 2018 §4
 * (generating SACK options), in the shape of Linux's tcp_data_queue_ofo() /
 * tcp_ofo_queue() / tcp_sack_new_ofo_skb(), with one difference: held bytes
 * never overlap. Linux keeps partial overlaps and trims them when it moves
 * data to the receive queue; here overlaps are trimmed on insert, so the
 * queue's byte count is exactly the distinct data it holds (like smoltcp's
 * Assembler, but over the segments themselves).
 *
 * A segment is a us_pkt whose data/len are its payload only; its sequence
 * number is kept in pkt->cb while the queue holds it. SYN and FIN occupy no
 * bytes here: the caller remembers an out-of-order FIN's sequence number. */
#ifndef USTACK_TCP_OFO_H
#define USTACK_TCP_OFO_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/pkt.h"
#include "ustack/wire.h"

enum us_tcp_ofo_result {
    US_TCP_OFO_QUEUED,       /* held (possibly trimmed); the queue owns it */
    US_TCP_OFO_DUPLICATE,    /* nothing new: every byte is held or before rcv_nxt; freed */
    US_TCP_OFO_DROPPED_LIMIT /* would exceed limit_truesize; freed (Linux's TCPOFODrop) */
};

struct us_tcp_ofo {
    struct us_pkt *head, *tail; /* sorted by sequence number, no two overlapping */
    uint32_t bytes;             /* payload bytes held */
    uint32_t truesize;          /* sum of us_pkt_truesize() of held segments */
    uint32_t count;             /* segments held */
    uint32_t tail_run_left;     /* left edge of the contiguous run that ends at tail */
    /* The segment queued last and its run's left edge: retransmissions
     * fill holes lowest first, so the next insert's place is usually after
     * it, and the walk starts there instead of at the head. NULL when it
     * has left the queue. */
    struct us_pkt *hint;
    uint32_t hint_run_left;
    /* The blocks most recently reported, most recent first (RFC 2018 §4):
     * each is exactly one contiguous run of held data, all disjoint, all
     * above rcv_nxt. Like Linux's tp->selective_acks[]. */
    uint8_t sack_count;
    struct us_tcp_sack_block sack[US_TCP_MAX_SACK];
};

void us_tcp_ofo_init(struct us_tcp_ofo *ofo);

/* Takes ownership of pkt (payload only) whose first byte is sequence number
 * seq. Data before rcv_nxt is trimmed off; data already held is trimmed from
 * the new segment, and held segments wholly covered by it are freed (a held
 * segment it covers partially is trimmed), so held bytes never overlap. The
 * queue's truesize after the insert must stay within limit_truesize, or the
 * segment is refused (Linux checks the socket's rmem before queueing, in
 * tcp_try_rmem_schedule()). */
enum us_tcp_ofo_result us_tcp_ofo_insert(struct us_tcp_ofo *ofo, struct us_pkt *pkt, uint32_t seq,
                                         uint32_t rcv_nxt, uint32_t limit_truesize);

/* The held segment that starts at or before rcv_nxt, trimmed to start exactly
 * at rcv_nxt (its cb is rcv_nxt), or NULL if the first held byte is beyond
 * rcv_nxt. Segments wholly before rcv_nxt are freed on the way. The caller
 * appends the segment to the receive queue, advances rcv_nxt by its len and
 * calls again until NULL (Linux's tcp_ofo_queue()). */
struct us_pkt *us_tcp_ofo_pop(struct us_tcp_ofo *ofo, uint32_t rcv_nxt);

/* Fills up to max (<= US_TCP_MAX_SACK; 3 when timestamps take option space)
 * SACK blocks, the first one containing the most recently queued segment,
 * then the other most recently reported ones (RFC 2018 §4); slots freed by
 * delivered blocks are refilled with unreported runs, lowest first. Every
 * block is a whole contiguous run above rcv_nxt. Returns how many. */
unsigned us_tcp_ofo_sack(const struct us_tcp_ofo *ofo, struct us_tcp_sack_block *blocks,
                         unsigned max);

/* Frees every held segment and forgets the SACK state. */
void us_tcp_ofo_purge(struct us_tcp_ofo *ofo);

static inline bool us_tcp_ofo_empty(const struct us_tcp_ofo *ofo)
{
    return ofo->head == NULL;
}
/* Sequence number of a held (or just popped) segment. */
static inline uint32_t us_tcp_ofo_seq(const struct us_pkt *p)
{
    return p->cb;
}
/* One past the highest held sequence number; only when not empty. */
static inline uint32_t us_tcp_ofo_right_edge(const struct us_tcp_ofo *ofo)
{
    return ofo->tail->cb + ofo->tail->len;
}

#endif
