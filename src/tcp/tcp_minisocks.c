/* TIME_WAIT without a connection block, as Linux's inet_timewait_sock
 * (tcp_minisocks.c): once an orphaned connection reaches TIME_WAIT, all it
 * still does for 2MSL is answer segments of the old pair (RFC 9293
 * §3.10.7.4, TIME-WAIT STATE) and keep the 4-tuple from being reused too
 * soon. For that it needs the pair, the two sequence numbers, the window
 * and timestamp of its ACKs, and when it ends: a 48-byte record instead of
 * a ~1 KiB tcpcb.
 *
 * The records sit in chunks of US_TCP_TW_CHUNK, linked by index (4 bytes
 * instead of a pointer's 8), in their own hash of the 4-tuple, looked up
 * only when the established hash has no match, and in a FIFO ordered by
 * expiry: every TIME_WAIT lasts the same US_TCP_TIMEWAIT_LEN, so a new
 * record, and one whose wait a retransmitted FIN restarts, goes to the
 * tail, and expiry only ever looks at the head. (A socket closed while
 * already in TIME_WAIT brings a shorter remaining wait; it is placed by a
 * walk back from the tail, past only the records added since it entered
 * TIME_WAIT.) */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "sock/sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define US_TCP_TW_CHUNK 1024 /* records per chunk, a power of two */
#define TW_MIN_BUCKETS  64

enum { TW_TSTAMP = 1 };

struct us_tcp_tw {
    us_ip4 laddr, faddr;
    uint16_t lport, fport;
    uint32_t snd_nxt;    /* the sequence number of its ACKs (the tcpcb's snd_max) */
    uint32_t rcv_nxt;    /* after the peer's FIN */
    uint32_t ts_recent;  /* RFC 7323: echoed, and what a new SYN must beat */
    uint32_t hash_next;  /* index + 1 in the hash chain, or the free list */
    uint32_t prev, next; /* index + 1 in the FIFO */
    uint16_t window;     /* the window field of its ACKs, already scaled */
    uint8_t flags;       /* TW_TSTAMP */
    uint8_t unused;
    us_time_ns expires;
};
_Static_assert(sizeof(struct us_tcp_tw) == 48, "a TIME_WAIT record stays 48 bytes");

static struct us_tcp_tw *tw_at(const struct us_tcp_tw_table *t, uint32_t ref)
{
    uint32_t i = ref - 1;
    return &t->chunk[i / US_TCP_TW_CHUNK][i % US_TCP_TW_CHUNK];
}

static uint32_t tw_bucket(const struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                          uint16_t fport)
{
    return (uint32_t)us_tcp_tuple_hash(s->hash_key, laddr, lport, faddr, fport) & s->tcp->tw.mask;
}

/* A free record (index + 1), or 0 without memory. */
static uint32_t tw_alloc(struct us_tcp_tw_table *t)
{
    if (!t->free) {
        struct us_tcp_tw **chunks = realloc(t->chunk, (t->n_chunks + 1) * sizeof(*chunks));
        if (!chunks)
            return 0;
        t->chunk = chunks;
        struct us_tcp_tw *c = malloc(US_TCP_TW_CHUNK * sizeof(*c));
        if (!c)
            return 0;
        t->chunk[t->n_chunks++] = c;
        for (uint32_t i = US_TCP_TW_CHUNK; i-- > 0;) {
            c[i].hash_next = t->free;
            t->free = t->cap + i + 1;
        }
        t->cap += US_TCP_TW_CHUNK;
    }
    uint32_t ref = t->free;
    t->free = tw_at(t, ref)->hash_next;
    return ref;
}

/* More records than buckets: twice the buckets, rehashed at once. Unlike
 * the established hash this one is bounded by tcp_max_tw_buckets (262,144
 * by default), so the longest rehash is a few milliseconds, once. */
static int tw_hash_grow(struct us_stack *s)
{
    struct us_tcp_tw_table *t = &s->tcp->tw;
    uint32_t n = t->bucket ? 2 * (t->mask + 1) : TW_MIN_BUCKETS;
    uint32_t *b = calloc(n, sizeof(*b));
    if (!b)
        return t->bucket ? 0 : -ENOMEM; /* a full table only chains longer */
    uint32_t *old = t->bucket, old_n = t->bucket ? t->mask + 1 : 0;
    t->bucket = b;
    t->mask = n - 1;
    for (uint32_t i = 0; i < old_n; i++) {
        for (uint32_t ref = old[i]; ref;) {
            struct us_tcp_tw *tw = tw_at(t, ref);
            uint32_t next = tw->hash_next;
            uint32_t *head = &b[tw_bucket(s, tw->laddr, tw->lport, tw->faddr, tw->fport)];
            tw->hash_next = *head;
            *head = ref;
            ref = next;
        }
    }
    free(old);
    return 0;
}

/* Links record ref into the FIFO by its expiry, from the tail. */
static void fifo_insert(struct us_tcp_tw_table *t, uint32_t ref)
{
    struct us_tcp_tw *tw = tw_at(t, ref);
    uint32_t after = t->tail;
    while (after && tw_at(t, after)->expires > tw->expires)
        after = tw_at(t, after)->prev;
    tw->prev = after;
    tw->next = after ? tw_at(t, after)->next : t->head;
    if (tw->next)
        tw_at(t, tw->next)->prev = ref;
    else
        t->tail = ref;
    if (after)
        tw_at(t, after)->next = ref;
    else
        t->head = ref;
}

static void fifo_unlink(struct us_tcp_tw_table *t, uint32_t ref)
{
    struct us_tcp_tw *tw = tw_at(t, ref);
    if (tw->prev)
        tw_at(t, tw->prev)->next = tw->next;
    else
        t->head = tw->next;
    if (tw->next)
        tw_at(t, tw->next)->prev = tw->prev;
    else
        t->tail = tw->prev;
    tw->prev = tw->next = 0;
}

/* Forgets the records' memory once none is left, so that a burst of
 * closes gives it back (a later record allocates afresh). */
static void tw_release_if_empty(struct us_tcp_tw_table *t)
{
    if (t->count)
        return;
    for (uint32_t c = 0; c < t->n_chunks; c++)
        free(t->chunk[c]);
    free(t->chunk);
    free(t->bucket);
    memset(t, 0, sizeof(*t));
}

/* The record goes: the pair is free again (inet_twsk_kill). */
static void tw_kill(struct us_stack *s, uint32_t ref)
{
    struct us_tcp_tw_table *t = &s->tcp->tw;
    struct us_tcp_tw *tw = tw_at(t, ref);
    for (uint32_t *pp = &t->bucket[tw_bucket(s, tw->laddr, tw->lport, tw->faddr, tw->fport)]; *pp;
         pp = &tw_at(t, *pp)->hash_next) {
        if (*pp == ref) {
            *pp = tw->hash_next;
            break;
        }
    }
    fifo_unlink(t, ref);
    tw->hash_next = t->free;
    t->free = ref;
    t->count--;
    s->tcp->n_tw--;
}

void us_tcp_tw_from_tcpcb(struct us_stack *s, struct us_tcpcb *tp)
{
    struct us_tcp_tw_table *t = &s->tcp->tw;
    if (tp->sk || tp->state != US_TCP_TIME_WAIT)
        return;
    if (t->count >= (t->bucket ? t->mask + 1 : 0) && tw_hash_grow(s) < 0)
        return;
    uint32_t ref = tw_alloc(t);
    if (!ref)
        return; /* the tcpcb stays in TIME_WAIT as before */
    /* An ACK the connection still owes goes now, before the tcpcb does. */
    if (tp->flags & TF_ACKNOW)
        us_tcp_send_ack(s, tp);
    struct us_tcp_tw *tw = tw_at(t, ref);
    memset(tw, 0, sizeof(*tw));
    tw->laddr = tp->laddr;
    tw->faddr = tp->faddr;
    tw->lport = tp->lport;
    tw->fport = tp->fport;
    tw->snd_nxt = tp->snd_max;
    tw->rcv_nxt = tp->rcv_nxt;
    /* The tcpcb's ACKs would carry this window every time: nothing is
     * queued, and the first such ACK fixes the advertised edge. */
    tw->window = (uint16_t)(us_tcp_select_window(s, tp) >> tp->rcv_wscale);
    if (tp->flags & TF_TSTAMP) {
        tw->flags |= TW_TSTAMP;
        tw->ts_recent = tp->ts_recent;
    }
    tw->expires = tp->tw_at;
    uint32_t *head = &t->bucket[tw_bucket(s, tw->laddr, tw->lport, tw->faddr, tw->fport)];
    tw->hash_next = *head;
    *head = ref;
    fifo_insert(t, ref);
    t->count++;
    s->tcp->n_tw++;
    us_tcpcb_free(s, tp); /* takes its TIME_WAIT out of n_tw */
}

uint32_t us_tcp_tw_lookup(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                          uint16_t fport)
{
    const struct us_tcp_tw_table *t = &s->tcp->tw;
    if (!t->count)
        return 0;
    for (uint32_t ref = t->bucket[tw_bucket(s, laddr, lport, faddr, fport)]; ref;) {
        const struct us_tcp_tw *tw = tw_at(t, ref);
        if (tw->lport == lport && tw->fport == fport && tw->laddr == laddr && tw->faddr == faddr)
            return ref;
        ref = tw->hash_next;
    }
    return 0;
}

/* The ACK a TIME_WAIT connection sends (tcp_v4_timewait_ack): its
 * snd_nxt and rcv_nxt, its window, and timestamps if it had them. */
static void tw_send_ack(struct us_stack *s, const struct us_tcp_tw *tw)
{
    struct us_pkt *p = us_pkt_alloc(s->pool);
    if (!p) {
        s->mib.link.PoolExhausted++;
        return;
    }
    struct us_tcp_repr r;
    memset(&r, 0, sizeof(r));
    r.sport = tw->lport;
    r.dport = tw->fport;
    r.seq = tw->snd_nxt;
    r.ack = tw->rcv_nxt;
    r.flags = US_TCP_ACK;
    r.window = tw->window;
    if (tw->flags & TW_TSTAMP) {
        /* The tcpcb's clock (us_tcp_ts_now): its offset is a function of
         * the address pair, so it need not be kept. */
        r.opts.ts_present = true;
        r.opts.tsval =
            (uint32_t)(s->now / US_NS_PER_MS) + us_tcp_ts_offset(s, tw->laddr, tw->faddr);
        r.opts.tsecr = tw->ts_recent;
    }
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r.opts);
    uint8_t *seg = us_pkt_put(p, (uint32_t)hlen);
    if (!seg) {
        us_pkt_free(p);
        return;
    }
    us_tcp_emit(seg, hlen, &r, tw->laddr, tw->faddr);
    s->mib.tcp.OutSegs++;
    struct us_ip_send_opts io = {.df = true};
    us_ipv4_output(s, p, tw->laddr, tw->faddr, US_IPPROTO_TCP, &io);
}

bool us_tcp_tw_input(struct us_stack *s, uint32_t ref, const struct us_tcp_view *th)
{
    struct us_tcp_tw_table *t = &s->tcp->tw;
    struct us_tcp_tw *tw = tw_at(t, ref);
    if (th->flags & US_TCP_RST) {
        /* RFC 1337 says ignore; Linux (tcp_rfc1337 = 0) kills the bucket. */
        tw_kill(s, ref);
        return false;
    }
    if ((th->flags & US_TCP_SYN) && !(th->flags & US_TCP_ACK)) {
        /* RFC 6191 / RFC 9293 §3.6.1: a SYN whose sequence number (or
         * timestamp) is above what the old connection used may start a new
         * incarnation at once. */
        bool newer = us_seq_gt(th->seq, tw->rcv_nxt);
        if ((tw->flags & TW_TSTAMP) && th->opts.ts_present)
            newer = us_seq_gt(th->opts.tsval, tw->ts_recent);
        if (newer) {
            s->mib.tcpext.TWRecycled++;
            tw_kill(s, ref);
            return true;
        }
    }
    /* A retransmitted FIN: ACK it again and restart the 2MSL wait. */
    if (th->flags & US_TCP_FIN) {
        fifo_unlink(t, ref);
        tw->expires = s->now + US_TCP_TIMEWAIT_LEN;
        fifo_insert(t, ref);
    }
    tw_send_ack(s, tw);
    return false;
}

us_time_ns us_tcp_tw_timers(struct us_stack *s, us_time_ns now)
{
    struct us_tcp_tw_table *t = &s->tcp->tw;
    if (!t->head)
        return US_TIME_NEVER;
    while (t->head && tw_at(t, t->head)->expires <= now)
        tw_kill(s, t->head);
    if (!t->head) {
        tw_release_if_empty(t);
        return US_TIME_NEVER;
    }
    return tw_at(t, t->head)->expires;
}

void us_tcp_tw_free_all(struct us_stack *s)
{
    struct us_tcp_tw_table *t = &s->tcp->tw;
    while (t->head)
        tw_kill(s, t->head);
    tw_release_if_empty(t);
}

void us_tcp_tw_print(struct us_stack *s, FILE *out)
{
    const struct us_tcp_tw_table *t = &s->tcp->tw;
    char local[32], peer[32];
    for (uint32_t ref = t->head; ref; ref = tw_at(t, ref)->next) {
        const struct us_tcp_tw *tw = tw_at(t, ref);
        fprintf(out, "%-10s %-6u %-6u %-21s %-21s timer:(timewait)\n",
                us_tcp_state_name(US_TCP_TIME_WAIT), 0u, 0u,
                us_sock_fmt_endpoint(tw->laddr, tw->lport, local, sizeof(local)),
                us_sock_fmt_endpoint(tw->faddr, tw->fport, peer, sizeof(peer)));
    }
}
