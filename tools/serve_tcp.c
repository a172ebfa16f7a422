/* TCP services for `ustack tap --serve`: echo (RFC 862), discard (RFC 863),
 * chargen (RFC 864) and the HTTP server, as an event-loop application of
 * the socket API: readiness callbacks, non-blocking calls, and a send buffer
 * that may fill (then the next POLLOUT continues). */
#include "serve_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* listen()'s backlog: Linux's SOMAXCONN (us_listen clamps it to
 * net.core.somaxconn, 4096 by default), as servers ask for, so a burst of
 * thousands of connection attempts is neither answered with SYN cookies
 * nor dropped at a queue of 128 while the accept loop keeps up. */
#define SERVE_TCP_BACKLOG 4096

/* Sends from buf until done or the send buffer is full: the bytes sent,
 * or -1 when the connection failed. */
static int send_some(struct tcp_conn *c, const uint8_t *buf, size_t len)
{
    struct us_stack *s = c->svc->s;
    size_t off = 0;
    while (off < len) {
        int n = us_send(s, c->fd, buf + off, len - off, 0, us_stack_now(s));
        if (n == -EAGAIN)
            break;
        if (n < 0)
            return -1;
        off += (size_t)n;
    }
    return (int)off;
}

int tcp_conn_flush(struct tcp_conn *c)
{
    if (c->out_off == c->out_len)
        return 1;
    int n = send_some(c, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0)
        return -1;
    c->out_off += (size_t)n;
    if (c->out_off < c->out_len)
        return 0;
    c->out_off = c->out_len = 0;
    if (c->svc->kind != TCP_HTTP) {
        free(c->out); /* echo's leftover, sent */
        c->out = NULL;
    }
    return 1;
}

static void conn_free(struct tcp_conn *c)
{
    struct tcp_service *svc = c->svc;
    if (svc->kind == TCP_HTTP)
        http_conn_release(c);
    us_sock_set_callback(svc->s, c->fd, NULL, NULL);
    us_close(svc->s, c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        svc->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->out);
    free(c->http);
    free(c);
}

/* Pumps run only inside on_conn_ready, which frees the connection once the
 * pump has returned: a pump never frees the connection it is working on. */
void tcp_conn_close(struct tcp_conn *c)
{
    c->closed = true;
}

/* Reads whatever waits; discard keeps none of it. Returns the bytes read
 * into buf (0 if none), or -1 when the connection ended or failed. */
static int drain(struct tcp_conn *c, uint8_t *buf, size_t cap)
{
    int n = us_recv(c->svc->s, c->fd, buf, cap, 0);
    if (n == -EAGAIN)
        return 0;
    if (n == 0)
        c->peer_eof = true;
    return n <= 0 ? -1 : n;
}

/* Echo reads into a buffer on the stack and sends straight from it; only
 * what the send buffer does not take is copied to the connection (out),
 * and nothing more is read until that is sent. */
static void echo_pump(struct tcp_conn *c)
{
    uint8_t buf[TCP_CONN_BUF];
    for (;;) {
        int f = tcp_conn_flush(c);
        if (f < 0)
            goto close;
        if (f == 0)
            return; /* wait for room: reading more would only pile up */
        if (c->peer_eof)
            goto close; /* everything echoed: close after the peer's FIN */
        int n = drain(c, buf, sizeof(buf));
        if (n == 0)
            return;
        if (n < 0 && !c->peer_eof)
            goto close;
        if (n <= 0)
            continue;
        int sent = send_some(c, buf, (size_t)n);
        if (sent < 0)
            goto close;
        if (sent < n) {
            c->out = malloc((size_t)(n - sent));
            if (!c->out)
                goto close;
            memcpy(c->out, buf + sent, (size_t)(n - sent));
            c->out_len = (size_t)(n - sent);
            c->out_off = 0;
        }
    }
close:
    tcp_conn_close(c);
}

static void discard_pump(struct tcp_conn *c)
{
    uint8_t buf[TCP_CONN_BUF];
    for (;;) {
        int n = drain(c, buf, sizeof(buf));
        if (n == 0)
            return;
        if (n < 0) {
            tcp_conn_close(c);
            return;
        }
    }
}

/* RFC 864: lines of 72 printable characters, each starting one character
 * further along the 95 printable ASCII characters, ended by CR LF. After 95
 * lines the pattern repeats, so the whole 95-line cycle (7,030 bytes) is
 * built once and sent from directly: no per-byte work while serving, which
 * was a quarter of ustack's CPU when chargen fed a bulk transfer. The cycle
 * is laid out CHARGEN_COPIES times so a send of up to CHARGEN_SEND bytes can
 * start at any offset into the first cycle without wrapping. For chargen
 * connections, chargen_pos is the offset into the cycle of the next byte. */
#define CHARGEN_LINE   74
#define CHARGEN_CYCLE  (95 * CHARGEN_LINE)
#define CHARGEN_COPIES 11
#define CHARGEN_SEND   ((CHARGEN_COPIES - 1) * CHARGEN_CYCLE) /* 70,300 bytes */

static const uint8_t *chargen_cycle(void)
{
    static uint8_t cycle[CHARGEN_COPIES * CHARGEN_CYCLE];
    static bool built;
    if (!built) {
        for (unsigned line = 0; line < 95; line++) {
            uint8_t *l = cycle + line * CHARGEN_LINE;
            for (unsigned i = 0; i < 72; i++)
                l[i] = (uint8_t)(' ' + (line + i) % 95);
            l[72] = '\r';
            l[73] = '\n';
        }
        for (unsigned k = 1; k < CHARGEN_COPIES; k++)
            memcpy(cycle + k * CHARGEN_CYCLE, cycle, CHARGEN_CYCLE);
        built = true;
    }
    return cycle;
}

static void chargen_pump(struct tcp_conn *c)
{
    uint8_t sink[4096];
    for (;;) {
        int n = drain(c, sink, sizeof(sink)); /* what the client sends is ignored */
        if (n < 0) {
            tcp_conn_close(c);
            return;
        }
        if (n == 0)
            break;
    }
    struct us_stack *s = c->svc->s;
    const uint8_t *cycle = chargen_cycle();
    for (;;) {
        int n = us_send(s, c->fd, cycle + c->chargen_pos, CHARGEN_SEND, 0, us_stack_now(s));
        if (n == -EAGAIN)
            return; /* the send buffer is full: the next POLLOUT continues */
        if (n < 0) {
            tcp_conn_close(c);
            return;
        }
        c->chargen_pos = (c->chargen_pos + (unsigned)n) % CHARGEN_CYCLE;
    }
}

static void on_conn_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    struct tcp_conn *c = ctx;
    (void)s;
    (void)fd;
    if (c->in_pump) {
        c->again = true;
        return;
    }
    c->in_pump = true;
    if ((events & US_POLLERR) && !(events & US_POLLIN))
        c->closed = true;
    while (!c->closed) {
        c->again = false;
        switch (c->svc->kind) {
        case TCP_ECHO:
            echo_pump(c);
            break;
        case TCP_DISCARD:
            discard_pump(c);
            break;
        case TCP_CHARGEN:
            chargen_pump(c);
            break;
        case TCP_HTTP:
            http_pump(c);
            break;
        }
        if (!c->again)
            break;
    }
    c->in_pump = false;
    if (c->closed)
        conn_free(c);
}

static void on_listen_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    struct tcp_service *svc = ctx;
    (void)events;
    for (;;) {
        struct us_sockaddr_in peer;
        int cfd = us_accept(s, fd, &peer);
        if (cfd < 0)
            return; /* -EAGAIN: no more for now */
        struct tcp_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            us_close(s, cfd);
            continue;
        }
        c->svc = svc;
        c->fd = cfd;
        if (svc->kind == TCP_HTTP && http_conn_init(c) != 0) {
            free(c->out);
            free(c->http);
            free(c);
            us_close(s, cfd);
            continue;
        }
        c->next = svc->conns;
        if (c->next)
            c->next->prev = c;
        svc->conns = c;
        us_sock_set_callback(s, cfd, on_conn_ready, c);
        on_conn_ready(c, s, cfd, us_sock_poll_events(s, cfd)); /* chargen starts at once */
    }
}

struct tcp_service *serve_tcp(struct us_stack *s, enum tcp_service_kind kind, uint16_t port,
                              const char *dir, int *err)
{
    struct tcp_service *svc = calloc(1, sizeof(*svc));
    if (!svc) {
        *err = -ENOMEM;
        return NULL;
    }
    svc->s = s;
    svc->kind = kind;
    svc->dir_fd = -1;
    svc->listen_fd = -1;
    if (kind == TCP_HTTP) {
        svc->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (svc->dir_fd < 0) {
            *err = -errno;
            free(svc);
            return NULL;
        }
    }
    int fd = us_socket(s, US_SOCK_STREAM), rc = fd;
    int one = 1;
    struct us_sockaddr_in any = {.addr = US_IP4_ANY, .port = port};
    if (rc >= 0)
        rc = us_setsockopt(s, fd, US_SOL_SOCKET, US_SO_REUSEADDR, &one, sizeof(one));
    if (rc >= 0)
        rc = us_bind(s, fd, &any);
    if (rc >= 0)
        rc = us_listen(s, fd, SERVE_TCP_BACKLOG);
    if (rc >= 0)
        rc = us_sock_set_callback(s, fd, on_listen_ready, svc);
    if (rc < 0) {
        if (fd >= 0)
            us_close(s, fd);
        if (svc->dir_fd >= 0)
            close(svc->dir_fd);
        free(svc);
        *err = rc;
        return NULL;
    }
    svc->listen_fd = fd;
    return svc;
}

void serve_tcp_free(struct tcp_service *svc)
{
    while (svc->conns)
        conn_free(svc->conns);
    us_close(svc->s, svc->listen_fd);
    if (svc->dir_fd >= 0)
        close(svc->dir_fd);
    free(svc);
}
