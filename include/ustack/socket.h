/* BSD-style sockets on a stack, for a single-threaded event loop.
 *
 * A socket is a small int descriptor in its stack's own table (no global
 * state): descriptors of two stacks are unrelated. Every call returns >= 0 on
 * success or a negative POSIX errno (-EBADF, -EAGAIN, -EADDRINUSE ...), so
 * `if (n < 0) strerror(-n)` works.
 *
 * Addresses are struct us_sockaddr_in in HOST byte order (address and port),
 * like everything above the wire layer; there is no sockaddr family juggling.
 *
 * Calls never block. us_recv* returns -EAGAIN when nothing is queued; an
 * event loop learns when to read from us_sock_poll_events or from the
 * readiness callback, which the stack calls from its bottom half (inside
 * us_stack_poll) whenever a datagram is queued or an error is set on the
 * socket. Calls that send take `now` (time is an argument) and put their
 * frames on the wire before returning. Application threads that want to
 * block use ustack/thread.h, whose stack thread drives the stack.
 *
 * UDP (US_SOCK_DGRAM) follows Linux: datagram boundaries are kept; a
 * connected socket sends to its peer by default and receives only from it;
 * an ICMP port unreachable for a connected socket's datagram is reported as
 * -ECONNREFUSED by its next send or receive (once); SO_RCVBUF/SO_SNDBUF are
 * doubled and capped by net.core.rmem_max/wmem_max; a datagram that arrives
 * at a full receive buffer is dropped and counted (UdpRcvbufErrors). */
#ifndef USTACK_SOCKET_H
#define USTACK_SOCKET_H

#include "ustack/types.h"

#include <stdio.h>

struct us_stack;

enum {
    US_SOCK_STREAM = 1, /* TCP */
    US_SOCK_DGRAM = 2,  /* UDP */
};

/* An IPv4 socket address, both fields in host byte order. */
struct us_sockaddr_in {
    us_ip4 addr;
    uint16_t port;
};

/* Largest UDP payload in one IPv4 datagram: 65535 - 20 - 8. */
#define US_UDP_MAX_PAYLOAD 65507

/* Flags of us_recv / us_recvfrom / us_send / us_sendto. */
enum {
    US_MSG_PEEK = 1 << 0,     /* return the next datagram without removing it */
    US_MSG_TRUNC = 1 << 1,    /* return the datagram's real length even if longer than len */
    US_MSG_DONTWAIT = 1 << 2, /* us_* calls never block; us_thread_* ones: do not wait */
    US_MSG_OOB = 1 << 3,      /* TCP urgent data (see the TCP section); UDP: send -EOPNOTSUPP */
};

/* Readiness bits, the values of poll(2). */
enum {
    US_POLLIN = 0x001,     /* a datagram (or an error) waits to be received */
    US_POLLPRI = 0x002,    /* TCP: an urgent byte waits for us_recv(US_MSG_OOB) */
    US_POLLOUT = 0x004,    /* a send would not block (UDP: under half of SO_SNDBUF in use) */
    US_POLLERR = 0x008,    /* an error is pending (e.g. ECONNREFUSED) */
    US_POLLHUP = 0x010,    /* shut down both ways */
    US_POLLRDHUP = 0x2000, /* shut down for reading */
};

/* Socket options: our own constants, Linux's meanings. */
#define US_SOL_SOCKET 1
enum {
    US_SO_REUSEADDR = 2, /* int: share a port with other SO_REUSEADDR sockets */
    US_SO_BROADCAST = 6, /* int: allow sending to a broadcast address */
    US_SO_SNDBUF = 7,    /* int bytes: set val -> min(val, wmem_max) * 2, at least 4608 */
    US_SO_RCVBUF = 8,    /* int bytes: set val -> min(val, rmem_max) * 2, at least 2304 */
    US_SO_ERROR = 4,     /* int, read only: the pending error as a positive errno, cleared */
    /* struct timeval (Linux's SO_RCVTIMEO_OLD): how long us_thread_recvfrom
     * blocks before -EAGAIN; {0, 0} (the default) = forever, a negative
     * tv_sec = not at all, tv_usec outside 0..999999 = -EDOM. Real time
     * (CLOCK_MONOTONIC) even when the stack runs on a virtual clock: it
     * bounds how long a thread waits, not network time. */
    US_SO_RCVTIMEO = 20,
};

/* IPv4-level options (level US_IPPROTO_IP), Linux's values and meanings. */
#define US_IPPROTO_IP 0
enum {
    US_IP_MULTICAST_TTL = 33,   /* int 0..255 (-1: 1): TTL of multicast datagrams, default 1 */
    US_IP_MULTICAST_LOOP = 34,  /* int: deliver own multicast datagrams locally, default 1 */
    US_IP_ADD_MEMBERSHIP = 35,  /* struct us_ip_mreq: join a group (set only) */
    US_IP_DROP_MEMBERSHIP = 36, /* struct us_ip_mreq: leave a group (set only) */
    US_IP_MULTICAST_ALL = 49,   /* int: receive groups joined by other sockets, default 1 */
};
/* Linux's struct ip_mreq, in host byte order. interface: the address of the
 * interface to join on, 0 = the interface of the route to the group (the
 * first one without a route). */
struct us_ip_mreq {
    us_ip4 multiaddr;
    us_ip4 interface;
};
/* Groups one socket may join (Linux's net.ipv4.igmp_max_memberships). */
#define US_IGMP_MAX_MEMBERSHIPS 20

/* A new socket of `type` (US_SOCK_DGRAM or US_SOCK_STREAM): its descriptor
 * (>= 0), or -EINVAL for an unknown type, -ENOMEM. */
int us_socket(struct us_stack *s, int type);
/* Frees the socket; datagrams still queued are dropped. 0 or -EBADF. */
int us_close(struct us_stack *s, int fd);

/* shutdown(2)'s how. */
enum {
    US_SHUT_RD = 0,
    US_SHUT_WR = 1,
    US_SHUT_RDWR = 2,
};
/* Linux's inet_shutdown on a datagram socket: marks the socket shut for
 * reading (receives then return 0 once its queue is empty), for writing
 * (sends fail with -EPIPE) or both, and wakes its sleepers and readiness
 * callback. An unconnected socket is marked too but the call returns
 * -ENOTCONN, as Linux does (its "hack to wake up other listeners").
 * -EINVAL for another how, -EBADF. */
int us_shutdown(struct us_stack *s, int fd, int how);
/* Connection calls (stream sockets, see the TCP section below); on a
 * datagram socket -EOPNOTSUPP (Linux's sock_no_listen / sock_no_accept);
 * -EBADF. */
int us_listen(struct us_stack *s, int fd, int backlog);
int us_accept(struct us_stack *s, int fd, struct us_sockaddr_in *peer);

/* Binds to addr (US_IP4_ANY or one of the stack's addresses) and port (0: an
 * ephemeral port from net.ipv4.ip_local_port_range). -EINVAL if already
 * bound, -EADDRNOTAVAIL for an address not ours, -EADDRINUSE if another
 * socket holds the port on an overlapping address (unless both set
 * SO_REUSEADDR), -EAGAIN if no ephemeral port is free. */
int us_bind(struct us_stack *s, int fd, const struct us_sockaddr_in *addr);
/* Sets the default peer and from then on accepts datagrams only from it.
 * Binds an unbound socket first (ephemeral port, and the local address of
 * the route to the peer, as Linux's ip4_datagram_connect). addr NULL or
 * {0, 0} dissolves the association (AF_UNSPEC). -ENETUNREACH without a route,
 * -EACCES to a broadcast address without SO_BROADCAST. */
int us_connect(struct us_stack *s, int fd, const struct us_sockaddr_in *addr);

/* Sends one datagram of len bytes to `to` (NULL: the connected peer). Returns
 * len, or -EDESTADDRREQ (no peer), -EMSGSIZE (len > 65507), -EACCES
 * (broadcast without SO_BROADCAST), -ENETUNREACH, -ENOBUFS (no packet
 * buffer), -EAGAIN (the send buffer is full: the datagrams sent before and
 * not yet taken by the device, each charged its truesize, reach SO_SNDBUF,
 * as Linux's sk_wmem_alloc; UdpSndbufErrors counts it), or a pending error
 * such as -ECONNREFUSED (reported once). An unbound socket is bound to an
 * ephemeral port first. */
int us_sendto(struct us_stack *s, int fd, const void *buf, size_t len, int flags,
              const struct us_sockaddr_in *to, us_time_ns now);
int us_send(struct us_stack *s, int fd, const void *buf, size_t len, int flags, us_time_ns now);

/* Receives the next datagram into buf: copies min(len, its length) bytes and
 * returns the number copied, or with US_MSG_TRUNC the datagram's full length
 * (as Linux's MSG_TRUNC on a datagram socket); the rest of a datagram longer
 * than len is discarded (unless US_MSG_PEEK). from (may be NULL) gets the
 * sender. -EAGAIN when nothing is queued; a pending error (-ECONNREFUSED) is
 * returned once, before any queued datagram. */
int us_recvfrom(struct us_stack *s, int fd, void *buf, size_t len, int flags,
                struct us_sockaddr_in *from);
int us_recv(struct us_stack *s, int fd, void *buf, size_t len, int flags);

int us_getsockname(struct us_stack *s, int fd, struct us_sockaddr_in *addr);
/* -ENOTCONN unless connected. */
int us_getpeername(struct us_stack *s, int fd, struct us_sockaddr_in *addr);

/* level US_SOL_SOCKET or US_IPPROTO_IP; val points to an int and vallen is
 * sizeof(int), or to a struct us_ip_mreq for (ADD|DROP)_MEMBERSHIP.
 * -ENOPROTOOPT for an unknown option, -EINVAL for a short value.
 * IP_ADD_MEMBERSHIP (Linux's ip_mc_join_group): -EINVAL for a group that is
 * not multicast, -ENODEV for an unknown interface, -EADDRINUSE if already
 * joined there, -ENOBUFS beyond US_IGMP_MAX_MEMBERSHIPS; the first socket
 * to join a group on an interface sends an IGMPv2 report at the stack's
 * last `now`. IP_DROP_MEMBERSHIP: -EADDRNOTAVAIL if not joined; the last
 * one sends a Leave Group. A socket's memberships are dropped on close.
 * A multicast datagram is delivered to every socket bound to its port (on
 * INADDR_ANY or the group) that joined the group on the arrival interface
 * or, with IP_MULTICAST_ALL (default 1, as Linux), to any such socket once
 * some socket of the stack joined the group there. */
int us_setsockopt(struct us_stack *s, int fd, int level, int opt, const void *val, size_t vallen);
/* *vallen is in/out; getsockopt(SO_RCVBUF) returns the doubled value. */
int us_getsockopt(struct us_stack *s, int fd, int level, int opt, void *val, size_t *vallen);

/* The socket's readiness: a mask of US_POLLIN, US_POLLOUT, US_POLLERR
 * (and for TCP US_POLLHUP, US_POLLRDHUP, US_POLLPRI), or -EBADF. */
int us_sock_poll_events(struct us_stack *s, int fd);

/* sockatmark(3) (Linux's SIOCATMARK): 1 if the next byte a TCP socket
 * reads is where the urgent byte was (the read position is at the urgent
 * mark), else 0; -ENOTTY for a datagram socket, -EBADF. */
int us_sockatmark(struct us_stack *s, int fd);

/* Called from the bottom half each time a datagram is queued on the socket
 * or an error is set on it (Linux's sk_data_ready / sk_error_report), with
 * the socket's readiness mask. It may receive, send or close any socket.
 * fn NULL removes it. 0 or -EBADF. */
typedef void (*us_sock_ready_fn)(void *ctx, struct us_stack *s, int fd, int events);
int us_sock_set_callback(struct us_stack *s, int fd, us_sock_ready_fn fn, void *ctx);

/* One socket as `ss -uanm` shows it. */
struct us_sock_info {
    int type;
    struct us_sockaddr_in local, peer; /* peer {0,0} unless connected */
    uint32_t rx_queue;                 /* bytes charged to the receive queue (rmem_alloc) */
    uint32_t rx_datagrams;             /* datagrams queued */
    int rcvbuf, sndbuf;
    uint64_t drops; /* datagrams dropped at this socket (receive buffer full) */
    /* Threaded mode: threads asleep on the socket's wait queue now, and how
     * many times the stack woke them for data or an error queued here. */
    uint32_t sleepers;
    uint64_t wakeups;
    /* UDP: bytes charged to the send buffer (sk_wmem_alloc): the truesize of
     * the datagrams sent and not yet taken by the device. */
    uint32_t tx_queue;
};
/* 0 or -EBADF. */
int us_sock_info(struct us_stack *s, int fd, struct us_sock_info *info);
/* Prints every socket of the stack as `ss -uanm` does: state, queues, local
 * and peer address, and the skmem line (r = receive queue bytes, rb =
 * SO_RCVBUF, t = send buffer bytes in use, tb = SO_SNDBUF, d = drops). */
void us_sock_print_table(struct us_stack *s, FILE *out);

/* ==================== TCP (US_SOCK_STREAM) ====================
 * The same calls with stream semantics, as on Linux:
 *  - us_listen(fd, backlog) on a bound (or, as Linux, autobound) socket;
 *    the readiness callback / US_POLLIN says an accept would succeed.
 *  - us_accept(fd, peer) returns the next established connection's new
 *    descriptor (same local address and port as the listener), or -EAGAIN.
 *  - us_connect(fd, peer) starts the handshake and returns -EINPROGRESS;
 *    US_POLLOUT says it completed, US_POLLERR + US_SO_ERROR that it failed
 *    (ECONNREFUSED on a reset, ETIMEDOUT after the SYN retries).
 *  - us_send(fd, buf, len, flags, now) copies what fits into the send buffer
 *    (SO_SNDBUF) and returns that many bytes (> 0), or -EAGAIN when the
 *    buffer is full (and, as Linux's non-blocking send, while the handshake
 *    is still in progress), -EPIPE after us_shutdown(US_SHUT_WR) or the
 *    peer's reset (the reset's -ECONNRESET is reported once first),
 *    -ENOTCONN on a socket that never connected.
 *  - us_recv(fd, buf, len, flags) copies in-order bytes: their count, 0 at
 *    end of stream (the peer's FIN, once the data before it is read),
 *    -EAGAIN when none are ready, -ECONNRESET after a reset.
 *  - us_shutdown(fd, US_SHUT_WR) sends FIN after the queued data.
 *  - Urgent data (RFC 9293 §3.8.5 as Linux and RFC 6093 read it: the
 *    urgent pointer points to the byte after the urgent byte, and only one
 *    byte is urgent). us_send(..., US_MSG_OOB) makes the last byte it
 *    queued urgent: URG and the pointer ride on every segment sent until
 *    the peer has acknowledged that byte, and Nagle does not hold them.
 *    On receipt, without SO_OOBINLINE, the urgent byte is taken out of the
 *    stream: a read stops at the mark (returns what came before it) and
 *    the next skips the byte; us_recv(..., US_MSG_OOB) returns it once
 *    (-EINVAL when there is none, it was read, or a normal read passed the
 *    mark first; -EAGAIN when the pointer has arrived but not the byte;
 *    never blocks). US_POLLPRI is set while it waits. A newer urgent byte
 *    replaces an unread one, which stays in the stream (or is dropped if
 *    the reader stands at its mark). With SO_OOBINLINE the byte stays in
 *    the stream (reads still stop at the mark, and US_MSG_OOB is
 *    -EINVAL). us_sockatmark says whether a read is at the mark.
 *  - us_close(fd) closes gracefully (FIN), or with a reset when unread data
 *    remains (RFC 9293 §3.10.4 via Linux's tcp_close), and the connection
 *    lives on in the stack (FIN_WAIT, TIME_WAIT) after the descriptor is gone.
 *  - SO_RCVBUF / SO_SNDBUF: TCP sockets start at tcp_rmem[1] / tcp_wmem[1]
 *    and grow with autotuning up to tcp_rmem[2] / tcp_wmem[2]; setting
 *    either (doubled and capped as for UDP) fixes it and turns autotuning
 *    off for that socket (SOCK_RCVBUF_LOCK). The advertised window is half
 *    the receive buffer less what is queued (tcp_adv_win_scale = 1).
 *  - us_sock_print_table shows stream sockets as `ss -tanim` does (state,
 *    Recv-Q/Send-Q, and a tcp_info line), then the connections that have
 *    no descriptor any more (orphans, TIME-WAIT).
 * Blocking forms for application threads: ustack/thread.h. Sequence
 * numbers for tests: us_tcp_set_isn_hook in ustack/stack.h.
 */

/* IPPROTO_TCP-level options (level US_IPPROTO_TCP), Linux's numbers. */
#define US_IPPROTO_TCP 6
enum {
    US_TCP_NODELAY = 1,   /* int: disable Nagle's algorithm (RFC 9293 §3.7.4) */
    US_TCP_MAXSEG = 2,    /* int: clamp the MSS */
    US_TCP_CORK = 3,      /* int: hold partial segments until uncorked */
    US_TCP_KEEPIDLE = 4,  /* int seconds before the first keepalive probe */
    US_TCP_KEEPINTVL = 5, /* int seconds between probes */
    US_TCP_KEEPCNT = 6,   /* int probes before the connection is dropped */
    US_TCP_INFO = 11,     /* struct us_tcp_info, read only */
};
#define US_SO_KEEPALIVE 9  /* int, level US_SOL_SOCKET */
#define US_SO_OOBINLINE 10 /* int, level US_SOL_SOCKET: urgent bytes stay in the stream */

/* Connection states, Linux's TCP_* order (tcp_states.h). */
enum us_tcp_state {
    US_TCP_ESTABLISHED = 1,
    US_TCP_SYN_SENT,
    US_TCP_SYN_RECV,
    US_TCP_FIN_WAIT1,
    US_TCP_FIN_WAIT2,
    US_TCP_TIME_WAIT,
    US_TCP_CLOSE,
    US_TCP_CLOSE_WAIT,
    US_TCP_LAST_ACK,
    US_TCP_LISTEN,
    US_TCP_CLOSING,
};
const char *us_tcp_state_name(int state); /* "ESTAB", "SYN-SENT"... as ss prints them */

/* Per-connection figures with the names of Linux's struct tcp_info. Times
 * in microseconds, windows and cwnd in bytes (Linux: cwnd in segments). */
struct us_tcp_info {
    uint8_t state;
    uint8_t snd_wscale, rcv_wscale;
    uint8_t options; /* US_TCPI_OPT_* */
    uint32_t rto, rtt, rttvar;
    uint32_t snd_mss, rcv_mss;
    uint32_t snd_cwnd, snd_ssthresh;
    uint32_t snd_wnd; /* the peer's advertised window, scaled */
    uint32_t rcv_wnd; /* the window we advertise, scaled */
    /* Bytes sent and not ACKed; of them SACKed, deemed lost, and
     * retransmitted and in flight (Linux counts these in segments). */
    uint32_t unacked, sacked, lost, retrans;
    uint32_t total_retrans; /* segments retransmitted, ever */
    uint32_t backoff;
    uint64_t bytes_acked, bytes_received, bytes_sent, bytes_retrans;
    uint32_t segs_out, segs_in;
    uint32_t rcv_space; /* receive autotuning's current target */
    int rcvbuf, sndbuf;
    char ca_name[16]; /* "cubic", "reno" */
};
enum {
    US_TCPI_OPT_TIMESTAMPS = 1,
    US_TCPI_OPT_SACK = 2,
    US_TCPI_OPT_WSCALE = 4,
};

#endif
