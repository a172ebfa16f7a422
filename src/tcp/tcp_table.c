/* TCP demultiplexing and connection lifetime, in the shape of Linux's
 * inet_hashtables.c: established connections in a hash of the 4-tuple
 * (keyed with the stack's random hash_key, as inet_ehashfn mixes in
 * net_hash_mix and a secret, so a peer cannot aim its segments at one
 * chain); listeners found through the bound-port table, a socket bound to
 * the segment's destination address before one bound to INADDR_ANY
 * (__inet_lookup_listener's scoring); no match → RST (tcp_input.c).
 *
 * Accepted connections are never in the bound-port table: they share the
 * listener's local address and port, and only the 4-tuple tells them apart,
 * so any number of them share port 80. */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "sock/sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int us_tcp_table_init(struct us_stack *s)
{
    s->tcp = calloc(1, sizeof(*s->tcp));
    if (!s->tcp)
        return -ENOMEM;
    /* One bucket per port: untouched pages of it cost nothing. */
    s->tcp->bhash = calloc(US_TCP_BHASH_SIZE, sizeof(*s->tcp->bhash));
    s->tcp->ehash.bucket = calloc(US_TCP_EHASH_MIN, sizeof(*s->tcp->ehash.bucket));
    if (!s->tcp->bhash || !s->tcp->ehash.bucket) {
        free(s->tcp->bhash);
        free(s->tcp->ehash.bucket);
        free(s->tcp);
        s->tcp = NULL;
        return -ENOMEM;
    }
    s->tcp->ehash.mask = US_TCP_EHASH_MIN - 1;
    s->tcp->isn_secret[0] = us_rng_next(&s->rng);
    s->tcp->isn_secret[1] = us_rng_next(&s->rng);
    s->tcp->cookie_secret = (uint32_t)us_rng_next(&s->rng);
    return 0;
}

void us_tcp_table_free(struct us_stack *s)
{
    if (!s->tcp)
        return;
    while (s->tcp->all)
        us_tcpcb_free(s, s->tcp->all);
    us_tcp_reap(s);
    us_tcp_minisocks_free(s);
    free(s->tcp->ehash.bucket);
    free(s->tcp->ehash.old);
    free(s->tcp->bhash);
    free(s->tcp);
    s->tcp = NULL;
}

void us_tcp_set_isn_hook(struct us_stack *s, us_tcp_isn_fn fn, void *ctx)
{
    s->tcp->isn_hook = fn;
    s->tcp->isn_ctx = ctx;
}

/* A keyed 64-bit mix (SipHash-like rounds of multiply and xor-shift), good
 * enough that the chains and ISNs are unpredictable without the key. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

uint64_t us_tcp_tuple_hash(uint64_t key, us_ip4 laddr, uint16_t lport, us_ip4 faddr, uint16_t fport)
{
    uint64_t a = ((uint64_t)laddr << 32) | faddr;
    uint64_t b = ((uint64_t)lport << 16) | fport;
    return mix64(mix64(a ^ key) ^ b ^ (key >> 7));
}

static uint64_t ehashfn(const struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                        uint16_t fport)
{
    return us_tcp_tuple_hash(s->hash_key, laddr, lport, faddr, fport);
}

static unsigned bhashfn(const struct us_stack *s, uint16_t port)
{
    (void)s;
    return port; /* only local sockets bind: no peer can aim at a chain */
}

uint32_t us_tcp_new_isn(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                        uint16_t fport)
{
    if (s->tcp->isn_hook)
        return s->tcp->isn_hook(s->tcp->isn_ctx, laddr, lport, faddr, fport);
    /* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
     * secretkey), M a 4 µs timer (Linux's secure_tcp_seq + ktime/64 ns). */
    uint32_t f = (uint32_t)us_tcp_tuple_hash(s->tcp->isn_secret[0] ^ s->tcp->isn_secret[1], laddr,
                                             lport, faddr, fport);
    return f + (uint32_t)(s->now / 4000);
}

uint32_t us_tcp_ts_offset(struct us_stack *s, us_ip4 laddr, us_ip4 faddr)
{
    /* secure_tcp_ts_off: keyed on the address pair only, so a new
     * connection between the same hosts continues the old timestamps
     * (what lets a SYN reopen a TIME_WAIT pair, and PAWS work). */
    return (uint32_t)us_tcp_tuple_hash(s->tcp->isn_secret[1], laddr, 0, faddr, 0);
}

/* The chain a connection of hash h is on: a bucket of the old array not
 * yet moved, else the current one. */
static struct us_tcpcb **ehash_chain(const struct us_tcp_ehash *e, uint64_t h)
{
    if (e->old && (uint32_t)(h & e->old_mask) >= e->old_pos)
        return &e->old[h & e->old_mask];
    return &e->bucket[h & e->mask];
}

struct us_tcpcb *us_tcp_lookup_established(struct us_stack *s, us_ip4 laddr, uint16_t lport,
                                           us_ip4 faddr, uint16_t fport)
{
    uint64_t h = ehashfn(s, laddr, lport, faddr, fport);
    for (struct us_tcpcb *tp = *ehash_chain(&s->tcp->ehash, h); tp; tp = tp->ehash_next)
        if (tp->lport == lport && tp->fport == fport && tp->laddr == laddr && tp->faddr == faddr)
            return tp;
    return NULL;
}

bool us_tcp_tuple_in_use(struct us_stack *s, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                         uint16_t fport)
{
    return us_tcp_lookup_established(s, laddr, lport, faddr, fport) ||
           us_tcp_tw_lookup(s, laddr, lport, faddr, fport) ||
           us_tcp_req_lookup(s, laddr, lport, faddr, fport);
}

/* Moves the old array's next bucket to the new one; frees the old array
 * after its last. */
static void ehash_move_one(struct us_stack *s)
{
    struct us_tcp_ehash *e = &s->tcp->ehash;
    struct us_tcpcb *tp = e->old[e->old_pos];
    e->old[e->old_pos++] = NULL;
    while (tp) {
        struct us_tcpcb *next = tp->ehash_next;
        struct us_tcpcb **head =
            &e->bucket[ehashfn(s, tp->laddr, tp->lport, tp->faddr, tp->fport) & e->mask];
        tp->ehash_next = *head;
        *head = tp;
        tp = next;
    }
    if (e->old_pos > e->old_mask) {
        free(e->old);
        e->old = NULL;
    }
}

/* Load above 1: twice the buckets. Rehashing all at once would stall the
 * segment that tips the load for as long as a million connections take to
 * move (tens of milliseconds); instead every addition moves two of the old
 * buckets, which finishes the move before the load can reach 1 again. */
static void ehash_grow(struct us_stack *s)
{
    struct us_tcp_ehash *e = &s->tcp->ehash;
    while (e->old)
        ehash_move_one(s);
    uint32_t n = 2 * (e->mask + 1);
    struct us_tcpcb **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* stay at this size: longer chains, nothing lost */
    e->old = e->bucket;
    e->old_mask = e->mask;
    e->old_pos = 0;
    e->bucket = b;
    e->mask = n - 1;
}

void us_tcp_ehash_add(struct us_stack *s, struct us_tcpcb *tp)
{
    if (tp->in_ehash)
        return;
    struct us_tcp_ehash *e = &s->tcp->ehash;
    for (int i = 0; i < 2 && e->old; i++)
        ehash_move_one(s);
    if (e->count >= e->mask + 1 && e->mask < UINT32_MAX / 4)
        ehash_grow(s);
    struct us_tcpcb **head = ehash_chain(e, ehashfn(s, tp->laddr, tp->lport, tp->faddr, tp->fport));
    tp->ehash_next = *head;
    *head = tp;
    tp->in_ehash = true;
    e->count++;
}

void us_tcp_ehash_del(struct us_stack *s, struct us_tcpcb *tp)
{
    if (!tp->in_ehash)
        return;
    struct us_tcp_ehash *e = &s->tcp->ehash;
    for (struct us_tcpcb **pp =
             ehash_chain(e, ehashfn(s, tp->laddr, tp->lport, tp->faddr, tp->fport));
         *pp; pp = &(*pp)->ehash_next) {
        if (*pp == tp) {
            *pp = tp->ehash_next;
            break;
        }
    }
    tp->ehash_next = NULL;
    tp->in_ehash = false;
    e->count--;
}

struct us_tcpcb *us_tcp_lookup_listener(struct us_stack *s, us_ip4 laddr, uint16_t lport)
{
    struct us_tcpcb *any = NULL;
    for (struct us_sock *sk = s->tcp->bhash[bhashfn(s, lport)]; sk; sk = sk->hash_next) {
        if (sk->num != lport || !sk->tp || sk->tp->state != US_TCP_LISTEN)
            continue;
        if (sk->rcv_saddr == laddr)
            return sk->tp; /* the exact address scores higher */
        if (sk->rcv_saddr == US_IP4_ANY && !any)
            any = sk->tp;
    }
    return any;
}

/* inet_csk_bind_conflict: two sockets on one port conflict unless both set
 * SO_REUSEADDR (and neither listens) or their addresses differ. */
static bool bind_conflict(const struct us_sock *sk, us_ip4 addr, const struct us_sock *sk2)
{
    if (sk2 == sk)
        return false;
    if (sk->reuseaddr && sk2->reuseaddr && !(sk2->tp && sk2->tp->state == US_TCP_LISTEN))
        return false;
    return !sk2->rcv_saddr || !addr || sk2->rcv_saddr == addr;
}

static bool port_in_use(struct us_stack *s, const struct us_sock *sk, us_ip4 addr, uint16_t port)
{
    for (struct us_sock *sk2 = s->tcp->bhash[bhashfn(s, port)]; sk2; sk2 = sk2->hash_next)
        if (sk2->num == port && bind_conflict(sk, addr, sk2))
            return true;
    return false;
}

static void bhash_add(struct us_stack *s, struct us_sock *sk, us_ip4 addr, uint16_t port)
{
    sk->rcv_saddr = addr;
    sk->num = port;
    struct us_sock **head = &s->tcp->bhash[bhashfn(s, port)];
    sk->hash_next = *head;
    *head = sk;
    sk->hashed = true;
}

int us_tcp_bind_port(struct us_stack *s, struct us_sock *sk, us_ip4 addr, uint16_t port)
{
    if (port == 0) {
        int low = s->sysctl.ip_local_port_range[0], high = s->sysctl.ip_local_port_range[1];
        uint32_t remaining = (uint32_t)(high - low + 1);
        uint32_t off = (uint32_t)us_rng_below(&s->rng, remaining);
        for (uint32_t i = 0; i < remaining && !port; i++) {
            uint16_t p = (uint16_t)(low + (off + i) % remaining);
            if (!port_in_use(s, sk, addr, p))
                port = p;
        }
        if (!port)
            return -EAGAIN;
    } else if (port_in_use(s, sk, addr, port)) {
        return -EADDRINUSE;
    }
    bhash_add(s, sk, addr, port);
    return 0;
}

int us_tcp_connect_port(struct us_stack *s, struct us_sock *sk, us_ip4 faddr, uint16_t fport)
{
    /* __inet_hash_connect: an ephemeral port whose 4-tuple is free (a
     * TIME_WAIT connection to the same peer keeps its port). */
    int low = s->sysctl.ip_local_port_range[0], high = s->sysctl.ip_local_port_range[1];
    uint32_t remaining = (uint32_t)(high - low + 1);
    uint32_t off = (uint32_t)us_rng_below(&s->rng, remaining);
    for (uint32_t i = 0; i < remaining; i++) {
        uint16_t p = (uint16_t)(low + (off + i) % remaining);
        if (port_in_use(s, sk, sk->rcv_saddr, p) ||
            us_tcp_tuple_in_use(s, sk->rcv_saddr, p, faddr, fport))
            continue;
        bhash_add(s, sk, sk->rcv_saddr, p);
        return 0;
    }
    return -EADDRNOTAVAIL; /* Linux's connect() error when the range is exhausted */
}

void us_tcp_unbind(struct us_stack *s, struct us_sock *sk)
{
    if (!sk->hashed)
        return;
    for (struct us_sock **pp = &s->tcp->bhash[bhashfn(s, sk->num)]; *pp; pp = &(*pp)->hash_next) {
        if (*pp == sk) {
            *pp = sk->hash_next;
            break;
        }
    }
    sk->hash_next = NULL;
    sk->hashed = false;
}

struct us_tcpcb *us_tcpcb_new(struct us_stack *s)
{
    struct us_tcpcb *tp = calloc(1, sizeof(*tp));
    if (!tp)
        return NULL;
    tp->state = US_TCP_CLOSE;
    tp->rto = US_TCP_TIMEOUT_INIT;
    tp->mss = US_TCP_MSS_DEFAULT;
    tp->rcv_mss = US_TCP_MSS_DEFAULT;
    tp->rto_at = tp->delack_at = tp->persist_at = tp->keep_at = tp->tw_at = tp->fin2_at =
        US_TIME_NEVER;
    tp->reo_at = tp->tlp_at = US_TIME_NEVER;
    tp->all_next = s->tcp->all;
    if (tp->all_next)
        tp->all_next->all_prev = tp;
    s->tcp->all = tp;
    return tp;
}

static void remove_from_outq(struct us_stack *s, struct us_tcpcb *tp)
{
    if (!(tp->flags & TF_QUEUED))
        return;
    for (struct us_tcpcb **pp = &s->tcp->outq; *pp; pp = &(*pp)->out_next) {
        if (*pp == tp) {
            *pp = tp->out_next;
            break;
        }
    }
    tp->flags &= ~(uint32_t)TF_QUEUED;
}

/* Removes a child from its listener's accept queue. */
static void unlink_child(struct us_tcpcb *tp)
{
    struct us_tcpcb *l = tp->listener;
    if (!l)
        return;
    if (tp->state == US_TCP_SYN_RECV)
        l->lq->synq_len--;
    struct us_tcpcb *prev = NULL;
    for (struct us_tcpcb *c = l->lq->acceptq_head; c; prev = c, c = c->lnext) {
        if (c != tp)
            continue;
        if (prev)
            prev->lnext = c->lnext;
        else
            l->lq->acceptq_head = c->lnext;
        if (l->lq->acceptq_tail == c)
            l->lq->acceptq_tail = prev;
        l->lq->acceptq_len--;
        break;
    }
    tp->listener = NULL;
    tp->lnext = NULL;
}

/* Frees the connection's memory; everything else is already undone. */
static void tcpcb_release(struct us_tcpcb *tp)
{
    us_pkt_queue_purge(&tp->rcvq);
    us_tcp_ofo_drop_all(tp);
    free(tp->sbuf);
    us_tcp_rtx_free(&tp->rtx);
    free(tp->loss);
    free(tp->lq);
    free(tp);
}

void us_tcp_reap(struct us_stack *s)
{
    while (s->tcp->graveyard) {
        struct us_tcpcb *tp = s->tcp->graveyard;
        s->tcp->graveyard = tp->out_next;
        tcpcb_release(tp);
    }
}

void us_tcpcb_free(struct us_stack *s, struct us_tcpcb *tp)
{
    us_tcp_unorphan(s, tp);
    if (tp->dead)
        return;
    us_tcp_ehash_del(s, tp);
    remove_from_outq(s, tp);
    unlink_child(tp);
    if (tp->state == US_TCP_LISTEN) {
        /* inet_csk_listen_stop: its children go with it, accepted or not. */
        for (struct us_tcpcb *c = s->tcp->all; c; c = c->all_next)
            if (!c->dead && c->listener == tp)
                us_tcpcb_free(s, c);
        us_tcp_req_purge(s, tp);
    }
    if (tp->state == US_TCP_ESTABLISHED || tp->state == US_TCP_CLOSE_WAIT)
        s->mib.tcp.CurrEstab--;
    if (tp->state == US_TCP_TIME_WAIT)
        s->tcp->n_tw--;
    if (tp->sk)
        tp->sk->tp = NULL;
    tp->sk = NULL;
    if (tp->all_prev)
        tp->all_prev->all_next = tp->all_next;
    else
        s->tcp->all = tp->all_next;
    if (tp->all_next)
        tp->all_next->all_prev = tp->all_prev;
    /* The memory waits for the end of the round: a caller up the stack (a
     * timer walk, the input path around a readiness callback) may still
     * hold tp, and tp->all_next still leads on through the list. */
    us_pkt_queue_purge(&tp->rcvq);
    us_tcp_ofo_drop_all(tp);
    tp->rcv_queued = 0;
    tp->snd_len = 0;
    tp->state = US_TCP_CLOSE;
    tp->dead = true;
    tp->out_next = s->tcp->graveyard;
    s->tcp->graveyard = tp;
}

void us_tcp_set_state(struct us_stack *s, struct us_tcpcb *tp, int state)
{
    int old = tp->state;
    bool was = old == US_TCP_ESTABLISHED || old == US_TCP_CLOSE_WAIT;
    bool is = state == US_TCP_ESTABLISHED || state == US_TCP_CLOSE_WAIT;
    if (was && !is)
        s->mib.tcp.CurrEstab--;
    if (!was && is)
        s->mib.tcp.CurrEstab++;
    /* RFC 1213 tcpEstabResets counts ESTABLISHED/CLOSE_WAIT → CLOSED;
     * us_tcp_drop does that on a reset. */
    if (old == US_TCP_SYN_RECV && tp->listener && state != US_TCP_SYN_RECV)
        tp->listener->lq->synq_len--;
    if (old == US_TCP_TIME_WAIT && state != US_TCP_TIME_WAIT)
        s->tcp->n_tw--; /* us_tcp_done of a TIME_WAIT tcpcb: not counted any more */
    tp->state = state;
}

void us_tcp_wake(struct us_stack *s, struct us_tcpcb *tp)
{
    if (tp->sk)
        us_sock_state_change(s, tp->sk);
    else if (tp->listener && tp->listener->sk && tp->state == US_TCP_ESTABLISHED)
        us_sock_state_change(s, tp->listener->sk);
}

void us_tcp_done(struct us_stack *s, struct us_tcpcb *tp)
{
    us_tcp_set_state(s, tp, US_TCP_CLOSE);
    us_tcp_ehash_del(s, tp);
    tp->rto_at = tp->delack_at = tp->persist_at = tp->keep_at = tp->fin2_at = US_TIME_NEVER;
    tp->reo_at = tp->tlp_at = US_TIME_NEVER;
    if (!tp->sk) {
        /* Orphaned or never accepted: nobody will look at it again. */
        us_tcpcb_free(s, tp);
        return;
    }
    struct us_sock *sk = tp->sk;
    sk->shutdown = US_RCV_SHUTDOWN | US_SEND_SHUTDOWN;
    us_sock_state_change(s, sk);
}

void us_tcp_unorphan(struct us_stack *s, struct us_tcpcb *tp)
{
    if (tp->flags & TF_ORPHAN) {
        tp->flags &= ~(uint32_t)TF_ORPHAN;
        s->tcp->n_orphans--;
    }
}

void us_tcp_drop(struct us_stack *s, struct us_tcpcb *tp, int err)
{
    /* tcp_write_err: a timeout after ICMP errors reports the error. */
    if (err == ETIMEDOUT && tp->soft_err)
        err = tp->soft_err;
    if (tp->state == US_TCP_ESTABLISHED || tp->state == US_TCP_CLOSE_WAIT)
        s->mib.tcp.EstabResets++;
    if (tp->state == US_TCP_SYN_SENT || tp->state == US_TCP_SYN_RECV)
        s->mib.tcp.AttemptFails++;
    if (tp->sk) {
        tp->sk->err = err;
        us_tcp_done(s, tp); /* wakes: sk_error_report */
        return;
    }
    us_tcp_done(s, tp);
}

uint16_t us_tcp_route_mss(struct us_stack *s, us_ip4 faddr)
{
    const struct us_route *r = us_route_lookup(s, faddr);
    uint32_t mtu = r ? s->ifaces[r->ifindex].dev->mtu : 576;
    /* Segments carry at most the pool buffer's payload too. */
    uint32_t mss = mtu > 40 ? mtu - 40 : 536;
    return (uint16_t)(mss > 65495 ? 65495 : mss);
}

void us_tcp_route_caps(struct us_stack *s, struct us_tcpcb *tp)
{
    const struct us_route *r = us_route_lookup(s, tp->faddr);
    uint32_t f = r ? s->ifaces[r->ifindex].dev->features : 0;
    tp->flags &= ~(uint32_t)TF_CSUM_OFFLOAD;
    tp->gso_max = 0;
    if (f & US_DEV_F_TX_CSUM) {
        tp->flags |= TF_CSUM_OFFLOAD;
        /* Linux's sk_can_gso: TSO needs the device to do checksums too. */
        if (f & US_DEV_F_TSO) {
            uint32_t max = s->ifaces[r->ifindex].dev->gso_max_size;
            tp->gso_max = (uint16_t)(max > 65535 ? 65535 : max);
        }
    }
}

void us_tcp_enter_time_wait(struct us_stack *s, struct us_tcpcb *tp)
{
    /* tcp_time_wait: a bounded table; past tcp_max_tw_buckets the
     * connection is simply closed (TCPTimeWaitOverflow). */
    if (s->tcp->n_tw >= (uint32_t)s->sysctl.tcp_max_tw_buckets) {
        s->mib.tcpext.TCPTimeWaitOverflow++;
        us_tcp_done(s, tp);
        return;
    }
    us_tcp_set_state(s, tp, US_TCP_TIME_WAIT);
    us_tcp_unorphan(s, tp); /* Linux's TIME_WAIT minisocks are no orphans */
    s->tcp->n_tw++;
    s->mib.tcpext.TW++;
    tp->rto_at = tp->persist_at = tp->keep_at = tp->fin2_at = tp->delack_at = US_TIME_NEVER;
    tp->reo_at = tp->tlp_at = US_TIME_NEVER;
    /* Armed below unless a record takes over: the records' own FIFO
     * (tcp_minisocks.c) keeps their deadline, not the tcpcb walk. */
    tp->tw_at = s->now + US_TCP_TIMEWAIT_LEN;
    /* Like Linux's inet_timewait_sock, a TIME_WAIT connection keeps only
     * what it needs to answer segments: the byte queues go now. */
    free(tp->sbuf);
    tp->sbuf = NULL;
    tp->sbuf_cap = tp->snd_len = tp->sbuf_head = 0;
    us_tcp_rtx_free(&tp->rtx);
    us_tcp_ofo_drop_all(tp);
    if (tp->sk) {
        /* The socket still reads what was received before the FIN (Linux
         * keeps it on the closed socket); us_close orphans the tcpcb, and
         * then it becomes a TIME_WAIT record (us_tcp_sock_close). */
        tp->sk->shutdown = US_RCV_SHUTDOWN | US_SEND_SHUTDOWN;
        us_sock_state_change(s, tp->sk);
        us_tcp_timer_arm(s, tp, &tp->tw_at, tp->tw_at);
        return;
    }
    /* An orphan: nothing but the pair's numbers is needed any more. */
    us_tcp_tw_from_tcpcb(s, tp);
    if (!tp->dead) /* no record to be had: the tcpcb waits as before */
        us_tcp_timer_arm(s, tp, &tp->tw_at, tp->tw_at);
}

/* The send ring's first size, in bytes. */
#define SBUF_MIN_CAP 512

/* Moves the ring's bytes into a new one of cap bytes. */
static int sbuf_resize(struct us_tcpcb *tp, uint32_t cap)
{
    uint8_t *nb = malloc(cap);
    if (!nb)
        return -ENOMEM;
    /* Unroll the ring into the new buffer. */
    uint32_t first = tp->sbuf_cap - tp->sbuf_head;
    if (first > tp->snd_len)
        first = tp->snd_len;
    if (tp->sbuf) {
        memcpy(nb, tp->sbuf + tp->sbuf_head, first);
        memcpy(nb + first, tp->sbuf, tp->snd_len - first);
    }
    free(tp->sbuf);
    tp->sbuf = nb;
    tp->sbuf_cap = cap;
    tp->sbuf_head = 0;
    return 0;
}

int us_tcp_sbuf_reserve(struct us_tcpcb *tp, uint32_t len)
{
    /* Room for len more bytes, within sndbuf: the ring doubles from
     * SBUF_MIN_CAP as far as the queued bytes need, so a connection that
     * sends little keeps a small ring (while idle, too) whatever its send
     * buffer has grown to, and one that fills it reallocates only a
     * logarithmic number of times. */
    uint64_t need = (uint64_t)tp->snd_len + len;
    if (need > (uint64_t)tp->sndbuf)
        need = (uint64_t)tp->sndbuf;
    if (need <= tp->sbuf_cap)
        return 0;
    uint64_t cap = tp->sbuf_cap ? tp->sbuf_cap : SBUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX / 2)
        return -ENOMEM;
    return sbuf_resize(tp, (uint32_t)cap);
}

int us_tcp_alloc_buffers(struct us_stack *s, struct us_tcpcb *tp)
{
    /* Nothing yet: the send ring comes with the first send
     * (us_tcp_sbuf_reserve), so an idle connection holds no ring. */
    (void)s;
    (void)tp;
    return 0;
}
