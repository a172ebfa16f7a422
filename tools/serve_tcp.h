/* The inside of the TCP services: a listener, its connections, and the
 * pump each kind of service runs when a connection becomes ready. */
#ifndef USTACK_TOOLS_SERVE_TCP_H
#define USTACK_TOOLS_SERVE_TCP_H

#include "serve.h"

#include <sys/types.h>

#define TCP_CONN_BUF 65536
#define HTTP_REQ_MAX 8192

struct http_state {
    char req[HTTP_REQ_MAX]; /* bytes of requests received, not yet handled */
    size_t req_len;
    int file_fd; /* the body being sent, -1 if none */
    off_t file_off, file_end;
    bool keep_alive; /* after this response */
    bool responding; /* a response is in out or being streamed */
};

struct tcp_conn {
    struct tcp_service *svc;
    struct tcp_conn *prev, *next;
    int fd;
    bool peer_eof; /* the peer's FIN has been read */
    /* A socket call inside a pump may call the readiness callback again;
     * the pump then runs once more instead of recursing. A close asked for
     * by a pump (tcp_conn_close) happens when the outer call returns. */
    bool in_pump, again, closed;
    /* Bytes still to send: out[out_off..out_len). HTTP keeps a buffer of
     * TCP_CONN_BUF bytes for its life; echo has one only while a send came
     * up short (allocated then, freed once sent), so with thousands of
     * connections open an echo connection costs the size of this struct. */
    uint8_t *out;
    size_t out_len, out_off;
    unsigned chargen_pos;
    struct http_state *http; /* HTTP only */
};

struct tcp_service {
    struct us_stack *s;
    enum tcp_service_kind kind;
    int listen_fd;
    int dir_fd; /* http: the document root */
    struct tcp_conn *conns;
};

/* Sends what out holds: 1 when it is all sent, 0 when the send buffer is
 * full (the next POLLOUT continues), -1 when the connection failed. */
int tcp_conn_flush(struct tcp_conn *c);
/* Asks for the connection to be closed and freed once its pump returns. */
void tcp_conn_close(struct tcp_conn *c);

/* HTTP/1.1: reads requests, answers them, streams files. */
void http_pump(struct tcp_conn *c);
/* Gives the connection its request state and output buffer: -1 if out of memory. */
int http_conn_init(struct tcp_conn *c);
void http_conn_release(struct tcp_conn *c);

#endif
