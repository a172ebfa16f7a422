/* Minisocks, as Linux's tcp_minisocks.c: two states in which a connection
 * needs far less than its tcpcb.
 *
 * TIME_WAIT (inet_timewait_sock): once an orphaned connection reaches
 * TIME_WAIT, all it still does for 2MSL is answer segments of the old pair
 * (RFC 9293 §3.10.7.4, TIME-WAIT STATE) and keep the 4-tuple from being
 * reused too soon. For that it needs the pair, the two sequence numbers,
 * the window and timestamp of its ACKs, and when it ends: a 48-byte record.
 *
 * SYN_RECV (request_sock): a listener's half-open child only waits for the
 * handshake's ACK and retransmits its SYN-ACK. The child is built and its
 * SYN-ACK sent as before (tcp_input.c), then it becomes a 56-byte record of
 * the pair, the ISN both ways, what the SYN negotiated and its retransmission
 * state; the first segment of the pair turns it back into the tcpcb it was
 * (us_tcp_req_inflate), and SYN_RECV goes on exactly as with the tcpcb.
 *
 * The records sit in chunks of US_TCP_MINI_CHUNK, linked by index (4 bytes
 * instead of a pointer's 8), each kind in its own hash of the 4-tuple,
 * looked up only when the established hash has no match, and in FIFOs
 * ordered by expiry: every TIME_WAIT lasts the same US_TCP_TIMEWAIT_LEN,
 * and every request at the same backoff waits the same time, so a record
 * whose timer starts goes to the tail of its FIFO and expiry only ever
 * looks at the heads. (A socket closed while already in TIME_WAIT brings a
 * shorter remaining wait; it is placed by a walk back from the tail, past
 * only the records added since it entered TIME_WAIT.) */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "sock/sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define US_TCP_MINI_CHUNK 1024 /* records per chunk */
#define MINI_MIN_BUCKETS  64

/* What both kinds begin with: the links and the 4-tuple. */
struct us_tcp_mini {
    uint32_t hash_next;  /* index + 1 in the hash chain, or the free list */
    uint32_t prev, next; /* index + 1 in the FIFO */
    us_ip4 laddr, faddr;
    uint16_t lport, fport;
};

enum { TW_TSTAMP = 1 };

struct us_tcp_tw {
    struct us_tcp_mini m;
    uint32_t snd_nxt;   /* the sequence number of its ACKs (the tcpcb's snd_max) */
    uint32_t rcv_nxt;   /* after the peer's FIN */
    uint32_t ts_recent; /* RFC 7323: echoed, and what a new SYN must beat */
    uint16_t window;    /* the window field of its ACKs, already scaled */
    uint8_t flags;      /* TW_TSTAMP */
    uint8_t unused;
    us_time_ns expires;
};
_Static_assert(sizeof(struct us_tcp_tw) == 48, "a TIME_WAIT record stays 48 bytes");

/* req->flags: the options the SYN negotiated (the tcpcb's TF_WSCALE,
 * TF_TSTAMP, TF_SACK) in the low bits, SYN-ACK retransmissions above. */
enum { REQ_WSCALE = 1, REQ_TSTAMP = 2, REQ_SACK = 4, REQ_RETRY_SHIFT = 3 };

struct us_tcp_req {
    struct us_tcp_mini m;
    uint32_t iss, irs;
    uint32_t ts_recent; /* the SYN's timestamp */
    uint16_t mss;       /* the send MSS the SYN settled */
    uint8_t wscale;     /* snd_wscale << 4 | rcv_wscale */
    uint8_t flags;      /* REQ_* and the retransmission count */
    struct us_tcpcb *listener;
    us_time_ns expires; /* the SYN-ACK timer (the tcpcb's rto_at) */
};
_Static_assert(sizeof(struct us_tcp_req) == 56, "a request record stays 56 bytes");

/* ---- the pool, the hash, the FIFOs ---- */

static struct us_tcp_mini *mini_at(const struct us_tcp_mini_table *t, uint32_t ref)
{
    uint32_t i = ref - 1;
    return (struct us_tcp_mini *)(t->chunk[i / US_TCP_MINI_CHUNK] +
                                  (size_t)(i % US_TCP_MINI_CHUNK) * t->size);
}

static uint32_t mini_bucket(const struct us_stack *s, const struct us_tcp_mini_table *t,
                            us_ip4 laddr, uint16_t lport, us_ip4 faddr, uint16_t fport)
{
    return (uint32_t)us_tcp_tuple_hash(s->hash_key, laddr, lport, faddr, fport) & t->mask;
}

/* More records than buckets: twice the buckets, rehashed at once. Unlike
 * the established hash these are bounded (tcp_max_tw_buckets, 262,144 by
 * default; the listeners' backlogs), so the longest rehash is a few
 * milliseconds, once. */
static int mini_hash_grow(struct us_stack *s, struct us_tcp_mini_table *t)
{
    uint32_t n = t->bucket ? 2 * (t->mask + 1) : MINI_MIN_BUCKETS;
    uint32_t *b = calloc(n, sizeof(*b));
    if (!b)
        return t->bucket ? 0 : -ENOMEM; /* a full table only chains longer */
    uint32_t *old = t->bucket, old_n = t->bucket ? t->mask + 1 : 0;
    t->bucket = b;
    t->mask = n - 1;
    for (uint32_t i = 0; i < old_n; i++) {
        for (uint32_t ref = old[i]; ref;) {
            struct us_tcp_mini *m = mini_at(t, ref);
            uint32_t next = m->hash_next;
            uint32_t *head = &b[mini_bucket(s, t, m->laddr, m->lport, m->faddr, m->fport)];
            m->hash_next = *head;
            *head = ref;
            ref = next;
        }
    }
    free(old);
    return 0;
}

/* A record of size bytes for tp's pair, hashed (not yet in a FIFO); 0
 * without memory. */
static uint32_t mini_new(struct us_stack *s, struct us_tcp_mini_table *t, uint32_t size,
                         const struct us_tcpcb *tp)
{
    t->size = size;
    if (t->count >= (t->bucket ? t->mask + 1 : 0) && mini_hash_grow(s, t) < 0)
        return 0;
    if (!t->free) {
        uint8_t **chunks = realloc(t->chunk, (t->n_chunks + 1) * sizeof(*chunks));
        if (!chunks)
            return 0;
        t->chunk = chunks;
        uint8_t *c = malloc((size_t)US_TCP_MINI_CHUNK * size);
        if (!c)
            return 0;
        t->chunk[t->n_chunks++] = c;
        for (uint32_t i = US_TCP_MINI_CHUNK; i-- > 0;) {
            ((struct us_tcp_mini *)(c + (size_t)i * size))->hash_next = t->free;
            t->free = t->cap + i + 1;
        }
        t->cap += US_TCP_MINI_CHUNK;
    }
    uint32_t ref = t->free;
    struct us_tcp_mini *m = mini_at(t, ref);
    t->free = m->hash_next;
    memset(m, 0, size);
    m->laddr = tp->laddr;
    m->faddr = tp->faddr;
    m->lport = tp->lport;
    m->fport = tp->fport;
    uint32_t *head = &t->bucket[mini_bucket(s, t, m->laddr, m->lport, m->faddr, m->fport)];
    m->hash_next = *head;
    *head = ref;
    t->count++;
    return ref;
}

static uint32_t mini_lookup(struct us_stack *s, const struct us_tcp_mini_table *t, us_ip4 laddr,
                            uint16_t lport, us_ip4 faddr, uint16_t fport)
{
    if (!t->count)
        return 0;
    for (uint32_t ref = t->bucket[mini_bucket(s, t, laddr, lport, faddr, fport)]; ref;) {
        const struct us_tcp_mini *m = mini_at(t, ref);
        if (m->lport == lport && m->fport == fport && m->laddr == laddr && m->faddr == faddr)
            return ref;
        ref = m->hash_next;
    }
    return 0;
}

/* Links record ref into FIFO q by its expiry (at its offset in the
 * record), from the tail. */
static void fifo_insert(struct us_tcp_mini_table *t, int q, uint32_t ref, size_t expires_off)
{
#define EXPIRES(r) (*(const us_time_ns *)((const uint8_t *)mini_at(t, r) + expires_off))
    struct us_tcp_mini *m = mini_at(t, ref);
    uint32_t after = t->tail[q];
    while (after && EXPIRES(after) > EXPIRES(ref))
        after = mini_at(t, after)->prev;
#undef EXPIRES
    m->prev = after;
    m->next = after ? mini_at(t, after)->next : t->head[q];
    if (m->next)
        mini_at(t, m->next)->prev = ref;
    else
        t->tail[q] = ref;
    if (after)
        mini_at(t, after)->next = ref;
    else
        t->head[q] = ref;
}

static void fifo_unlink(struct us_tcp_mini_table *t, int q, uint32_t ref)
{
    struct us_tcp_mini *m = mini_at(t, ref);
    if (m->prev)
        mini_at(t, m->prev)->next = m->next;
    else
        t->head[q] = m->next;
    if (m->next)
        mini_at(t, m->next)->prev = m->prev;
    else
        t->tail[q] = m->prev;
    m->prev = m->next = 0;
}

/* The record leaves the hash and FIFO q and is free again. */
static void mini_kill(struct us_stack *s, struct us_tcp_mini_table *t, int q, uint32_t ref)
{
    struct us_tcp_mini *m = mini_at(t, ref);
    for (uint32_t *pp = &t->bucket[mini_bucket(s, t, m->laddr, m->lport, m->faddr, m->fport)]; *pp;
         pp = &mini_at(t, *pp)->hash_next) {
        if (*pp == ref) {
            *pp = m->hash_next;
            break;
        }
    }
    fifo_unlink(t, q, ref);
    m->hash_next = t->free;
    t->free = ref;
    t->count--;
}

/* Forgets the records' memory once none is left, so that a burst of
 * closes gives it back (a later record allocates afresh). */
static void mini_release_if_empty(struct us_tcp_mini_table *t)
{
    if (t->count)
        return;
    for (uint32_t c = 0; c < t->n_chunks; c++)
        free(t->chunk[c]);
    free(t->chunk);
    free(t->bucket);
    memset(t, 0, sizeof(*t));
}

/* ---- TIME_WAIT ---- */

static struct us_tcp_tw *tw_at(const struct us_tcp_mini_table *t, uint32_t ref)
{
    return (struct us_tcp_tw *)mini_at(t, ref);
}

/* The record goes: the pair is free again (inet_twsk_kill). */
static void tw_kill(struct us_stack *s, uint32_t ref)
{
    mini_kill(s, &s->tcp->tw, 0, ref);
    s->tcp->n_tw--;
}

void us_tcp_tw_from_tcpcb(struct us_stack *s, struct us_tcpcb *tp)
{
    struct us_tcp_mini_table *t = &s->tcp->tw;
    if (tp->sk || tp->state != US_TCP_TIME_WAIT)
        return;
    uint32_t ref = mini_new(s, t, sizeof(struct us_tcp_tw), tp);
    if (!ref)
        return; /* the tcpcb stays in TIME_WAIT as before */
    /* An ACK the connection still owes goes now, before the tcpcb does. */
    if (tp->flags & TF_ACKNOW)
        us_tcp_send_ack(s, tp);
    struct us_tcp_tw *tw = tw_at(t, ref);
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
    fifo_insert(t, 0, ref, offsetof(struct us_tcp_tw, expires));
    s->tcp->n_tw++;
    us_tcpcb_free(s, tp); /* takes its TIME_WAIT out of n_tw */
}

uint32_t us_tcp_tw_lookup(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                          uint16_t fport)
{
    return mini_lookup(s, &s->tcp->tw, laddr, lport, faddr, fport);
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
    r.sport = tw->m.lport;
    r.dport = tw->m.fport;
    r.seq = tw->snd_nxt;
    r.ack = tw->rcv_nxt;
    r.flags = US_TCP_ACK;
    r.window = tw->window;
    if (tw->flags & TW_TSTAMP) {
        /* The tcpcb's clock (us_tcp_ts_now): its offset is a function of
         * the address pair, so it need not be kept. */
        r.opts.ts_present = true;
        r.opts.tsval =
            (uint32_t)(s->now / US_NS_PER_MS) + us_tcp_ts_offset(s, tw->m.laddr, tw->m.faddr);
        r.opts.tsecr = tw->ts_recent;
    }
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r.opts);
    uint8_t *seg = us_pkt_put(p, (uint32_t)hlen);
    if (!seg) {
        us_pkt_free(p);
        return;
    }
    us_tcp_emit(seg, hlen, &r, tw->m.laddr, tw->m.faddr);
    s->mib.tcp.OutSegs++;
    struct us_ip_send_opts io = {.df = true};
    us_ipv4_output(s, p, tw->m.laddr, tw->m.faddr, US_IPPROTO_TCP, &io);
}

bool us_tcp_tw_syn_is_newer(const struct us_tcp_view *th, uint32_t rcv_nxt, bool tstamp,
                            uint32_t ts_recent)
{
    /* RFC 6191 / RFC 9293 §3.6.1: a SYN whose sequence number (or
     * timestamp) is above what the old connection used may start a new
     * incarnation at once. */
    if (tstamp && th->opts.ts_present)
        return us_seq_gt(th->opts.tsval, ts_recent);
    return us_seq_gt(th->seq, rcv_nxt);
}

bool us_tcp_tw_input(struct us_stack *s, uint32_t ref, const struct us_tcp_view *th)
{
    struct us_tcp_mini_table *t = &s->tcp->tw;
    struct us_tcp_tw *tw = tw_at(t, ref);
    if (th->flags & US_TCP_RST) {
        /* RFC 1337 says ignore; Linux (tcp_rfc1337 = 0) kills the bucket. */
        tw_kill(s, ref);
        return false;
    }
    if ((th->flags & US_TCP_SYN) && !(th->flags & US_TCP_ACK)) {
        if (us_tcp_tw_syn_is_newer(th, tw->rcv_nxt, tw->flags & TW_TSTAMP, tw->ts_recent)) {
            s->mib.tcpext.TWRecycled++;
            tw_kill(s, ref);
            return true;
        }
    }
    /* A retransmitted FIN: ACK it again and restart the 2MSL wait. */
    if (th->flags & US_TCP_FIN) {
        fifo_unlink(t, 0, ref);
        tw->expires = s->now + US_TCP_TIMEWAIT_LEN;
        fifo_insert(t, 0, ref, offsetof(struct us_tcp_tw, expires));
    }
    tw_send_ack(s, tw);
    return false;
}

void us_tcp_tw_print(struct us_stack *s, FILE *out)
{
    const struct us_tcp_mini_table *t = &s->tcp->tw;
    char local[32], peer[32];
    for (uint32_t ref = t->head[0]; ref; ref = mini_at(t, ref)->next) {
        const struct us_tcp_mini *m = mini_at(t, ref);
        fprintf(out, "%-10s %-6u %-6u %-21s %-21s timer:(timewait)\n",
                us_tcp_state_name(US_TCP_TIME_WAIT), 0u, 0u,
                us_sock_fmt_endpoint(m->laddr, m->lport, local, sizeof(local)),
                us_sock_fmt_endpoint(m->faddr, m->fport, peer, sizeof(peer)));
    }
}

/* ---- SYN_RECV ---- */

static struct us_tcp_req *req_at(const struct us_tcp_mini_table *t, uint32_t ref)
{
    return (struct us_tcp_req *)mini_at(t, ref);
}

static unsigned req_retries(const struct us_tcp_req *r)
{
    return r->flags >> REQ_RETRY_SHIFT;
}

/* The FIFO of a request: its backoff (the timeout doubles up to
 * US_TCP_RTO_MAX, reached by the last FIFO). */
static int req_fifo(const struct us_tcp_req *r)
{
    unsigned n = req_retries(r);
    return n < US_TCP_MINI_FIFOS - 1 ? (int)n : US_TCP_MINI_FIFOS - 1;
}

static us_time_ns synack_timeout(unsigned backoff)
{
    us_time_ns t = US_TCP_TIMEOUT_INIT << (backoff < 12 ? backoff : 12);
    return t > US_TCP_RTO_MAX ? US_TCP_RTO_MAX : t;
}

/* The request goes; the listener's SYN queue has room for one more. */
static void req_kill(struct us_stack *s, uint32_t ref)
{
    struct us_tcp_mini_table *t = &s->tcp->req;
    struct us_tcp_req *r = req_at(t, ref);
    r->listener->lq->synq_len--;
    mini_kill(s, t, req_fifo(r), ref);
}

void us_tcp_req_from_tcpcb(struct us_stack *s, struct us_tcpcb *tp)
{
    struct us_tcp_mini_table *t = &s->tcp->req;
    /* Only what us_tcp_req_inflate rebuilds: a child as listen_input and
     * the SYN-ACK timer leave it, nothing received since. */
    if (tp->state != US_TCP_SYN_RECV || !tp->listener || tp->sk || tp->segs_in || tp->dead ||
        tp->syn_retries != tp->backoff || tp->syn_retries >= 32 ||
        (tp->flags & (TF_ACKNOW | TF_QUEUED)))
        return;
    uint32_t ref = mini_new(s, t, sizeof(struct us_tcp_req), tp);
    if (!ref)
        return;
    struct us_tcp_req *r = req_at(t, ref);
    r->iss = tp->iss;
    r->irs = tp->irs;
    r->ts_recent = tp->ts_recent;
    r->mss = tp->mss;
    r->wscale = (uint8_t)(tp->snd_wscale << 4 | tp->rcv_wscale);
    r->flags =
        (uint8_t)(((tp->flags & TF_WSCALE) ? REQ_WSCALE : 0) |
                  ((tp->flags & TF_TSTAMP) ? REQ_TSTAMP : 0) |
                  ((tp->flags & TF_SACK) ? REQ_SACK : 0) | tp->syn_retries << REQ_RETRY_SHIFT);
    r->listener = tp->listener;
    r->expires = tp->rto_at;
    fifo_insert(t, req_fifo(r), ref, offsetof(struct us_tcp_req, expires));
    /* The listener's SYN queue keeps counting it (the record's now). */
    tp->listener = NULL;
    tp->state = US_TCP_CLOSE;
    us_tcpcb_free(s, tp);
}

uint32_t us_tcp_req_lookup(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                           uint16_t fport)
{
    return mini_lookup(s, &s->tcp->req, laddr, lport, faddr, fport);
}

/* The child tcpcb the record stands for, as child_new, listen_input, the
 * SYN-ACK (us_tcp_send_syn) and the SYN-ACK timer made it; the record goes. */
struct us_tcpcb *us_tcp_req_inflate(struct us_stack *s, uint32_t ref)
{
    struct us_tcp_mini_table *t = &s->tcp->req;
    struct us_tcp_req *r = req_at(t, ref);
    struct us_tcpcb *l = r->listener;
    struct us_tcpcb *tp = us_tcpcb_new(s);
    if (!tp)
        return NULL;
    unsigned retries = req_retries(r);
    /* child_new: the pair, and what the listener passes on. */
    tp->laddr = r->m.laddr;
    tp->lport = r->m.lport;
    tp->faddr = r->m.faddr;
    tp->fport = r->m.fport;
    tp->listener = l;
    tp->rcvbuf = l->sk ? l->sk->rcvbuf : s->sysctl.rmem_default;
    tp->sndbuf = l->sk ? l->sk->sndbuf : s->sysctl.wmem_default;
    tp->flags |=
        l->flags & (TF_RCVBUF_LOCK | TF_SNDBUF_LOCK | TF_NODELAY | TF_KEEPALIVE | TF_URGINLINE);
    tp->user_mss = l->user_mss;
    tp->keepidle = l->keepidle;
    tp->keepintvl = l->keepintvl;
    tp->keepcnt = l->keepcnt;
    tp->advmss = us_tcp_route_mss(s, tp->faddr);
    us_tcp_route_caps(s, tp);
    if (tp->user_mss && tp->advmss > tp->user_mss)
        tp->advmss = tp->user_mss;
    tp->ts_offset = us_tcp_ts_offset(s, tp->laddr, tp->faddr);
    /* listen_input and us_tcp_syn_options: what the SYN negotiated. */
    tp->rcv_wscale = r->wscale & 15;
    tp->snd_wscale = r->wscale >> 4;
    if (r->flags & REQ_WSCALE)
        tp->flags |= TF_WSCALE;
    if (r->flags & REQ_SACK)
        tp->flags |= TF_SACK;
    /* The SYN's time: the first SYN-ACK went with it, one initial RTO
     * before the timer's first expiry, and each retry doubled the wait. */
    us_time_ns syn_at = r->expires;
    for (unsigned i = 0; i <= retries; i++)
        syn_at -= synack_timeout(i);
    if (r->flags & REQ_TSTAMP) {
        tp->flags |= TF_TSTAMP;
        tp->ts_recent = r->ts_recent;
        tp->ts_recent_age = syn_at;
    }
    tp->mss = tp->rcv_mss = r->mss;
    tp->irs = r->irs;
    tp->rcv_nxt = tp->rcv_adv = tp->last_ack_sent = r->irs + 1;
    tp->copied_seq = tp->rcv_nxt;
    tp->iss = r->iss;
    tp->snd_una = tp->iss;
    tp->snd_nxt = tp->snd_max = tp->iss + 1;
    tp->state = US_TCP_SYN_RECV; /* still counted in l->lq->synq_len */
    /* The SYN-ACKs sent (xmit): the window offered and its right edge. */
    uint32_t win = us_tcp_select_window(s, tp);
    tp->rcv_wnd = win;
    tp->rcv_adv = tp->rcv_nxt + win;
    tp->segs_out = 1 + retries;
    tp->total_retrans = retries;
    tp->syn_retries = tp->backoff = retries;
    tp->rtt_time = retries ? r->expires - synack_timeout(retries) : syn_at;
    us_tcp_timer_arm(s, tp, &tp->rto_at, r->expires);
    mini_kill(s, t, req_fifo(r), ref);
    us_tcp_ehash_add(s, tp);
    return tp;
}

void us_tcp_req_purge(struct us_stack *s, const struct us_tcpcb *l)
{
    struct us_tcp_mini_table *t = &s->tcp->req;
    for (int q = 0; q < US_TCP_MINI_FIFOS; q++) {
        for (uint32_t ref = t->head[q]; ref;) {
            uint32_t next = mini_at(t, ref)->next;
            if (req_at(t, ref)->listener == l)
                req_kill(s, ref);
            ref = next;
        }
    }
    mini_release_if_empty(t);
}

/* The SYN-ACK timer of a request (tcp_timer.c's rto_fire for SYN_RECV,
 * Linux's reqsk_timer_handler): past tcp_synack_retries the request goes,
 * else the SYN-ACK again, the wait doubled. */
static void req_timeout(struct us_stack *s, uint32_t ref)
{
    struct us_tcp_req *r = req_at(&s->tcp->req, ref);
    if ((int)req_retries(r) >= s->sysctl.tcp_synack_retries) {
        req_kill(s, ref);
        return;
    }
    struct us_tcpcb *tp = us_tcp_req_inflate(s, ref);
    if (!tp)
        return; /* no memory now: the record stays due and is tried again */
    us_tcp_syn_retransmitting(s, tp);
    tp->rto_at = US_TIME_NEVER;
    us_time_ns next = s->now + synack_timeout(tp->backoff);
    us_tcp_send_syn(s, tp);
    tp->rto_at = next;
    us_tcp_req_from_tcpcb(s, tp);
}

us_time_ns us_tcp_minisock_timers(struct us_stack *s, us_time_ns now)
{
    us_time_ns next = US_TIME_NEVER;
    struct us_tcp_mini_table *t = &s->tcp->tw;
    if (t->head[0]) {
        while (t->head[0] && tw_at(t, t->head[0])->expires <= now)
            tw_kill(s, t->head[0]);
        if (t->head[0])
            next = tw_at(t, t->head[0])->expires;
        else
            mini_release_if_empty(t);
    }
    t = &s->tcp->req;
    if (!t->count)
        return next;
    for (int q = 0; q < US_TCP_MINI_FIFOS; q++) {
        /* A retransmission moves the record to a later FIFO (or, if it
         * could not become a record again, leaves it a tcpcb). */
        for (uint32_t ref; (ref = t->head[q]) && req_at(t, ref)->expires <= now;) {
            req_timeout(s, ref);
            if (t->head[q] == ref)
                break; /* out of memory: next round */
        }
        if (t->head[q])
            next = us_time_min(next, req_at(t, t->head[q])->expires);
    }
    mini_release_if_empty(t);
    return next;
}

void us_tcp_minisocks_free(struct us_stack *s)
{
    struct us_tcp_mini_table *t = &s->tcp->tw;
    while (t->head[0])
        tw_kill(s, t->head[0]);
    mini_release_if_empty(t);
    t = &s->tcp->req;
    for (int q = 0; q < US_TCP_MINI_FIFOS; q++)
        while (t->head[q])
            mini_kill(s, t, q, t->head[q]);
    mini_release_if_empty(t);
}
