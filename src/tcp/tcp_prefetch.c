/* Prefetching a receive batch's connections before their segments are
 * processed, as the stacks that run at a line rate do (DPDK's examples and
 * VPP process a vector of packets in passes; Linux's GRO lists and
 * ip_list_rcv batch the same way).
 *
 * With many connections a random segment's connection is not in the cache:
 * the established hash's bucket, then the tcpcb it points to, each a miss
 * that the next cannot start before (the tcpcb's address is in the bucket).
 * One segment after another, those misses queue; for a whole batch, in
 * passes, they overlap: first every frame's bucket is prefetched, then
 * every bucket's first connection, then the chain's next one where the
 * first is not the segment's. By the time tcp_input looks the segment up,
 * its chain and the tcpcb lines an ACK touches are in the cache.
 *
 * Only hints: nothing here changes what any segment does. Frames this
 * cannot read as IPv4/TCP are left alone; the full checks come later. */
#include "tcp/tcp.h"

#include "wire/be.h"

#include <stddef.h>

/* Below this many connections the table and its tcpcbs stay in the cache
 * and the passes would only cost their instructions. */
#define PREFETCH_MIN_CONNS  1024
#define US_TCP_PREFETCH_MAX 64 /* frames looked at per call */

struct flow {
    us_ip4 laddr, faddr;
    uint16_t lport, fport;
    struct us_tcpcb **chain; /* the bucket */
    struct us_tcpcb *tp;     /* the candidate: the chain's first, then its next */
};

/* The 4-tuple of an Ethernet frame holding an IPv4 TCP segment, as
 * tcp_input will look it up (ours = the destination). */
static bool frame_tuple(const struct us_pkt *p, struct flow *f)
{
    const uint8_t *d = p->data;
    if (p->len < 14 + 20 + 20 || d[12] != 0x08 || d[13] != 0x00 || (d[14] >> 4) != 4 ||
        d[14 + 9] != US_IPPROTO_TCP)
        return false;
    if ((be16_load(d + 14 + 6) & 0x1fff) != 0)
        return false; /* a later fragment: no TCP header here */
    size_t ihl = (size_t)(d[14] & 15) * 4;
    if (ihl < 20 || p->len < 14 + ihl + 20)
        return false;
    const uint8_t *t = d + 14 + ihl;
    f->faddr = be32_load(d + 14 + 12);
    f->laddr = be32_load(d + 14 + 16);
    f->fport = be16_load(t);
    f->lport = be16_load(t + 2);
    return true;
}

/* The bucket tcp_table.c's lookup reads: the old array's while its
 * buckets are being moved to the doubled one. */
static struct us_tcpcb **chain_of(const struct us_tcp_ehash *e, uint64_t h)
{
    if (e->old && (uint32_t)(h & e->old_mask) >= e->old_pos)
        return &e->old[h & e->old_mask];
    return &e->bucket[h & e->mask];
}

/* The lines of a tcpcb that the lookup and an arriving ACK read, by the
 * fields on them (so that a change of the layout moves them too), in the
 * order tcp_input reads them: the chain link and the 4-tuple; the state;
 * the timestamp, sequence and window checks (RFC 9293 §3.10.7.4, RFC 7323);
 * what us_tcp_ack reads of RACK, the retransmission queue, undo and the
 * loss probe; keepalive; the per-segment counters and the flags tested on
 * the way out. Fields that share a line cost one more prefetch
 * instruction, which merges with the line's miss already in flight. */
static void prefetch_tcpcb(const struct us_tcpcb *tp)
{
    __builtin_prefetch(&tp->ehash_next);
    __builtin_prefetch(&tp->laddr);
    __builtin_prefetch(&tp->state);
    __builtin_prefetch(&tp->flags);
    __builtin_prefetch(&tp->ts_recent);
    __builtin_prefetch(&tp->ts_recent_age);
    __builtin_prefetch(&tp->rcv_nxt);
    __builtin_prefetch(&tp->rcv_adv);
    __builtin_prefetch(&tp->last_ack_sent);
    __builtin_prefetch(&tp->snd_una);
    __builtin_prefetch(&tp->snd_max);
    __builtin_prefetch(&tp->snd_wnd);
    __builtin_prefetch(&tp->snd_wscale);
    __builtin_prefetch(&tp->snd_len);
    __builtin_prefetch(&tp->rack.fack);
    __builtin_prefetch(&tp->soft_err);
    __builtin_prefetch(&tp->dupacks);
    __builtin_prefetch(&tp->rtx.sacked);
    __builtin_prefetch(&tp->rtx.lost);
    __builtin_prefetch(&tp->tlp_active);
    __builtin_prefetch(&tp->undo_active);
    __builtin_prefetch(&tp->urg_data);
    __builtin_prefetch(&tp->keep_probes);
    __builtin_prefetch(&tp->keep_at);
    __builtin_prefetch(&tp->segs_in);
    __builtin_prefetch(&tp->dead);
    /* GCC counts a prefetch as no effect and deletes a loop of nothing
     * else (passes 2 and 3 below vanished at -O2); an empty asm that takes
     * tp is an effect it must keep. */
    __asm__ volatile("" : : "r"(tp));
}

static bool is_flow(const struct us_tcpcb *tp, const struct flow *f)
{
    return tp->lport == f->lport && tp->fport == f->fport && tp->laddr == f->laddr &&
           tp->faddr == f->faddr;
}

void us_tcp_prefetch_batch(struct us_stack *s, struct us_pkt *const *frames, int n)
{
    if (!s->tcp || s->tcp->ehash.count < PREFETCH_MIN_CONNS)
        return;
    struct flow f[US_TCP_PREFETCH_MAX];
    const struct us_tcp_ehash *e = &s->tcp->ehash;
    int m = 0;
    if (n > US_TCP_PREFETCH_MAX)
        n = US_TCP_PREFETCH_MAX;
    /* Pass 1: each segment's bucket. */
    for (int i = 0; i < n; i++) {
        if (!frame_tuple(frames[i], &f[m]))
            continue;
        f[m].chain = chain_of(
            e, us_tcp_tuple_hash(s->hash_key, f[m].laddr, f[m].lport, f[m].faddr, f[m].fport));
        __builtin_prefetch(f[m].chain);
        m++;
    }
    /* Pass 2: the chain's first connection, most often the segment's. */
    for (int i = 0; i < m; i++) {
        f[i].tp = *f[i].chain;
        if (f[i].tp)
            prefetch_tcpcb(f[i].tp);
    }
    /* Pass 3: where the first was another connection, the next one. */
    for (int i = 0; i < m; i++) {
        struct us_tcpcb *tp = f[i].tp;
        if (tp && !is_flow(tp, &f[i]) && tp->ehash_next)
            prefetch_tcpcb(tp->ehash_next);
    }
}
