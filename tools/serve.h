/* Services that `ustack tap --serve` runs on the stack. */
#ifndef USTACK_TOOLS_SERVE_H
#define USTACK_TOOLS_SERVE_H

#include "ustack/socket.h"
#include "ustack/stack.h"

#define SERVE_MAX 8

struct udp_service;
struct tcp_service;

/* The services one stack runs. */
struct serve_set {
    struct udp_service *udp[SERVE_MAX];
    int n_udp;
    struct tcp_service *tcp[SERVE_MAX];
    int n_tcp;
};

/* Parses "echo[:PORT],discard[:PORT],chargen[:PORT],http=DIR[:PORT],
 * udp-echo[:PORT],udp-discard[:PORT]" and starts each service on s,
 * recording it in set. 0, or -1 after printing what is wrong (what started
 * stays in set, for serve_stop). */
int serve_start(struct us_stack *s, const char *spec, struct serve_set *set);
/* Joins every UDP service's socket to group (IP_ADD_MEMBERSHIP on the
 * stack's interface), so datagrams to group:PORT reach it. 0 or -errno. */
int serve_join(struct us_stack *s, struct serve_set *set, us_ip4 group);
/* Closes every service's socket and frees it. */
void serve_stop(struct us_stack *s, struct serve_set *set);

/* udp-echo or udp-discard on port: the service, or NULL with *err = -errno. */
struct udp_service *serve_udp(struct us_stack *s, const char *name, uint16_t port, int *err);
void serve_udp_free(struct us_stack *s, struct udp_service *svc);
int serve_udp_join(struct us_stack *s, struct udp_service *svc, us_ip4 group);

enum tcp_service_kind {
    TCP_ECHO,    /* RFC 862 */
    TCP_DISCARD, /* RFC 863 */
    TCP_CHARGEN, /* RFC 864 */
    TCP_HTTP,    /* a static-file HTTP/1.1 server (RFC 9110, RFC 9112): GET and HEAD */
};
/* A TCP service listening on port (dir: the http document root). The
 * service, or NULL with *err = -errno (or -ENOENT for a missing dir). */
struct tcp_service *serve_tcp(struct us_stack *s, enum tcp_service_kind kind, uint16_t port,
                              const char *dir, int *err);
/* Closes the listener and every connection. */
void serve_tcp_free(struct tcp_service *svc);

/* --send-udp: COUNT datagrams "ustack SEQ" to DST:PORT, one every interval. */
struct udp_sender {
    int fd;
    struct us_sockaddr_in dst;
    unsigned count, sent;
    us_time_ns interval, next;
};
/* Parses "A.B.C.D:PORT:COUNT[:INTERVAL_MS]" (interval default 10 ms) and
 * opens the socket. 0, or -1 after printing what is wrong. */
int udp_sender_start(struct us_stack *s, const char *spec, struct udp_sender *snd);
/* Sends what is due; returns when the next datagram is due. */
us_time_ns udp_sender_tick(struct us_stack *s, struct udp_sender *snd, us_time_ns now);
void udp_sender_stop(struct us_stack *s, struct udp_sender *snd);

#endif
