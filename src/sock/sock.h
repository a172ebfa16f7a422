/* The socket layer's inside: the socket, the per-stack descriptor table, the
 * UDP port table (demux.c) and the buffer accounting (buffer.c). */
#ifndef USTACK_SOCK_SOCK_H
#define USTACK_SOCK_SOCK_H

#include "ustack/socket.h"
#include "core/stack_impl.h"
#include "sock/waitq.h"

/* Linux's SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF (include/net/sock.h):
 * TCP_SKB_MIN_TRUESIZE = 2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff)) = 2304,
 * the receive floor; twice that for send. */
#define US_SOCK_MIN_RCVBUF 2304
#define US_SOCK_MIN_SNDBUF (2 * US_SOCK_MIN_RCVBUF)

/* sk_shutdown bits: shutdown(2)'s how + 1. */
#define US_RCV_SHUTDOWN  1
#define US_SEND_SHUTDOWN 2

/* Hash chains of the UDP port table (a power of two). */
#define US_UDP_HTABLE_SIZE 256

/* A socket's multicast memberships (Linux's inet_sock mc_list): allocated
 * by the first IP_ADD_MEMBERSHIP, freed when the socket closes. */
struct us_sock_mc {
    int count;
    struct {
        us_ip4 group;
        int ifindex;
    } list[US_IGMP_MAX_MEMBERSHIPS];
};

/* Every connection has one of these: fields are ordered to leave no holes
 * (ustack aims at a few hundred bytes per idle connection, issue 10). */
struct us_sock {
    int fd;
    int type;
    struct us_sock *hash_next; /* chain of the port table bucket */

    /* Linux's inet_sock names: the bound local address (0 = any) and port,
     * the connected peer (daddr 0 = none). */
    us_ip4 rcv_saddr;
    us_ip4 daddr;
    uint16_t num;
    uint16_t dport;
    bool hashed;            /* in the port table (bound) */
    bool addr_from_connect; /* rcv_saddr was set by connect, undone on disconnect */

    bool reuseaddr;   /* SO_REUSEADDR */
    bool broadcast;   /* SO_BROADCAST */
    bool urginline;   /* SO_OOBINLINE (TCP's urgent data) */
    uint8_t shutdown; /* Linux's sk_shutdown: US_RCV_SHUTDOWN | US_SEND_SHUTDOWN */
    /* Multicast, Linux's inet_sock mc_ttl, mc_loop, mc_all and mc_list. */
    uint8_t mc_ttl;
    bool mc_loop, mc_all;
    /* Threaded mode: dead (Linux's SOCK_DEAD) marks a socket closed while
     * some still slept on it, which the last of them frees. */
    bool dead;
    bool rcvbuf_locked, sndbuf_locked; /* SO_RCVBUF / SO_SNDBUF set (SOCK_*BUF_LOCK) */
    int rcvbuf, sndbuf;

    /* The receive queue: the received packets themselves, data at their
     * IPv4 header, cb = UDP payload length; rmem_alloc sums their truesize. */
    struct us_pkt_queue receive_queue;
    uint32_t rmem_alloc;
    /* The send side (UDP): the truesize of the datagrams sent and not yet
     * taken by the device (held for ARP, in the round's burst, or in a
     * device that queues), as Linux's sk_wmem_alloc. */
    uint32_t wmem_alloc;
    uint64_t drops;
    int err; /* Linux's sk_err: a positive errno reported once */
    bool keepalive, nodelay, cork;
    int keepidle, keepintvl, keepcnt, user_mss;

    struct us_sock_mc *mc; /* NULL until the first IP_ADD_MEMBERSHIP */

    us_sock_ready_fn ready;
    void *ready_ctx;

    /* Threaded mode (waitq.c): application threads blocked in a receive
     * sleep on wq. */
    struct us_wait_queue_head wq;
    us_time_ns rcvtimeo; /* SO_RCVTIMEO in ns: US_TIME_NEVER = forever, 0 = don't wait */

    /* US_SOCK_STREAM: the connection (src/tcp/tcp.h); NULL until listen or
     * connect, and again after a reset or close. */
    struct us_tcpcb *tp;
};

struct us_sock_table {
    struct us_sock **fds; /* indexed by descriptor; NULL = free */
    int nfds;
    int free_hint; /* no descriptor below it is free: the search starts here */
    struct us_sock *udp_hash[US_UDP_HTABLE_SIZE];
};

int us_sock_table_init(struct us_stack *s);
/* A new socket in the lowest free descriptor (us_socket, and us_accept for
 * its connections); NULL when out of memory. */
struct us_sock *us_sock_alloc(struct us_stack *s, int type);
void us_sock_table_free(struct us_stack *s);
struct us_sock *us_sock_get(struct us_stack *s, int fd);

/* "a.b.c.d:port" (or "a.b.c.d:*" for port 0) into buf, as ss prints an
 * endpoint; returns buf. */
const char *us_sock_fmt_endpoint(us_ip4 addr, uint16_t port, char *buf, size_t len);

/* ---- demux.c: the UDP port table ---- */

/* Binds sk to addr:port (port 0: ephemeral). 0 or -EADDRINUSE / -EAGAIN. */
int us_udp_hash_bind(struct us_stack *s, struct us_sock *sk, us_ip4 addr, uint16_t port);
void us_udp_unhash(struct us_stack *s, struct us_sock *sk);
/* The best socket for a datagram saddr:sport -> daddr:dport, Linux's
 * __udp4_lib_lookup with compute_score; NULL if none. */
struct us_sock *us_udp_lookup(struct us_stack *s, us_ip4 saddr, uint16_t sport, us_ip4 daddr,
                              uint16_t dport);
/* Calls fn (if not NULL) for every socket that takes a broadcast or multicast datagram
 * to daddr:dport from saddr:sport arrived on ifindex (Linux's __udp_is_mcast_sock), at
 * most 64; returns how many. */
int us_udp_lookup_all(struct us_stack *s, us_ip4 saddr, uint16_t sport, us_ip4 daddr,
                      uint16_t dport, int ifindex, void (*fn)(void *ctx, struct us_sock *sk),
                      void *ctx);
/* ip_mc_sf_allow: whether sk takes a datagram to group that arrived on ifindex. */
bool us_sock_mc_allow(const struct us_sock *sk, us_ip4 group, int ifindex);

/* ---- buffer.c: receive queue and buffer sizes ---- */

/* SO_RCVBUF / SO_SNDBUF as Linux's sock_setsockopt sets them. */
int us_sock_rcvbuf_value(const struct us_stack *s, int val);
int us_sock_sndbuf_value(const struct us_stack *s, int val);
/* Queues pkt (UDP payload length in pkt->cb) if the receive buffer allows;
 * consumes pkt either way. false: dropped for a full buffer. */
bool us_sock_queue_rcv(struct us_stack *s, struct us_sock *sk, struct us_pkt *pkt);
/* skb_set_owner_w: charges pkt's truesize to sk's send buffer until the
 * packet is freed (sock_wfree). */
void us_sock_set_owner_w(struct us_sock *sk, struct us_pkt *pkt);
/* sock_alloc_send_pskb's test: a datagram may be sent while the charged
 * memory is below sndbuf (so the last may overshoot it). */
bool us_sock_wmem_room(const struct us_sock *sk);
/* Removes the head of the receive queue and uncharges it; the caller frees it. */
struct us_pkt *us_sock_dequeue(struct us_sock *sk);
void us_sock_purge(struct us_sock *sk);
/* sk_state_change: wakes the socket's sleepers and tells the event loop. */
void us_sock_state_change(struct us_stack *s, struct us_sock *sk);
/* Sets sk->err and tells the application (sk_error_report). */
void us_sock_set_error(struct us_stack *s, struct us_sock *sk, int err);
int us_sock_events(const struct us_sock *sk);

/* ---- waitq.c: threads sleeping on a socket ---- */

/* The wake half of sock_def_readable / sk_error_report: wakes every thread
 * sleeping on sk and counts it in LinkWakeups. Call only when
 * us_wq_has_sleeper(&sk->wq), so event-loop mode pays a branch and no more. */
void us_sock_wake_sleepers(struct us_stack *s, struct us_sock *sk);
/* sk_wait_data: with *lock (the stack lock) held, sleeps on sk's wait queue
 * until woken or deadline (absolute CLOCK_MONOTONIC, US_TIME_NEVER: none).
 * 0 when woken (the caller re-checks), -ETIMEDOUT, or -EBADF when sk was
 * closed while it slept; sk is then gone and must not be touched. */
int us_sock_wait_data(struct us_sock *sk, pthread_mutex_t *lock, us_time_ns deadline);
/* sock_put for the descriptor table's reference, from us_close and the
 * stack's teardown: frees sk at once, or, if threads sleep on it, marks it
 * dead and wakes them; the last one out frees it. */
void us_sock_put(struct us_sock *sk);
/* Frees a socket the descriptor table let go of (dead) once nothing holds
 * it any more: no thread asleep on it and no sent datagram still charged
 * to it (Linux keeps the sock while sk_wmem_alloc holds a reference). */
void us_sock_release_if_unused(struct us_sock *sk);

/* ---- udp.c: output ---- */

int us_udp_sendmsg(struct us_stack *s, struct us_sock *sk, const void *buf, size_t len,
                   us_ip4 daddr, uint16_t dport);

#endif
