/* A TCP echo server (RFC 862) on a Linux TAP device, as an event-loop
 * program: readiness callbacks tell it when a socket can be read or
 * written, and us_stack_run drives the stack on the real clock until
 * SIGINT or SIGTERM.
 *
 *   tap_echo DEV A.B.C.D/N [PORT]        (root, or CAP_NET_ADMIN)
 *
 * For example, with the kernel as the client on the other side of tap0:
 *   ip tuntap add dev tap0 mode tap
 *   ip addr add 192.0.2.1/24 dev tap0 && ip link set tap0 up
 *   tap_echo tap0 192.0.2.2/24 7 &
 *   echo hello | nc -q1 192.0.2.2 7
 */
#define _POSIX_C_SOURCE 200809L /* sigaction in strict C11 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

/* One connection: bytes received and not yet sent back. */
struct conn {
    int fd;
    char buf[4096];
    size_t off, len; /* buf[off..len) waits to be sent */
};

static volatile int stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Called by the stack whenever the connection's socket becomes readable or
 * writable (or fails): send what waits, then read more, until a call would
 * block (-EAGAIN), in which case the next readiness call continues. */
static void on_conn_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    struct conn *c = ctx;
    (void)events;
    for (;;) {
        while (c->off < c->len) {
            int n = us_send(s, fd, c->buf + c->off, c->len - c->off, 0, us_stack_now(s));
            if (n == -EAGAIN)
                return; /* the send buffer is full: wait for US_POLLOUT */
            if (n < 0)
                goto close;
            c->off += (size_t)n;
        }
        int n = us_recv(s, fd, c->buf, sizeof(c->buf), 0);
        if (n == -EAGAIN)
            return; /* nothing more to read for now */
        if (n <= 0)
            goto close; /* 0: the client closed its side (FIN); < 0: an error */
        c->off = 0;
        c->len = (size_t)n;
    }
close:
    us_close(s, fd); /* sends our FIN; the stack finishes the close alone */
    free(c);
}

/* Called when the listening socket has connections waiting to be accepted. */
static void on_listen_ready(void *ctx, struct us_stack *s, int lfd, int events)
{
    (void)ctx;
    (void)events;
    struct us_sockaddr_in peer;
    int fd;
    while ((fd = us_accept(s, lfd, &peer)) >= 0) {
        char addr[16];
        printf("connection from %s:%u\n", us_ip4_fmt(peer.addr, addr), peer.port);
        fflush(stdout);
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            us_close(s, fd);
            continue;
        }
        c->fd = fd;
        us_sock_set_callback(s, fd, on_conn_ready, c);
        on_conn_ready(c, s, fd, us_sock_poll_events(s, fd)); /* data may already wait */
    }
}

int main(int argc, char **argv)
{
    us_ip4 addr;
    int prefix;
    if (argc < 3 || argc > 4 || us_ip4_parse_prefix(argv[2], &addr, &prefix) != 0) {
        fprintf(stderr, "usage: tap_echo DEV A.B.C.D/N [PORT]\n");
        return 2;
    }
    uint16_t port = argc == 4 ? (uint16_t)atoi(argv[3]) : 7;

    struct us_stack *s = us_stack_new(NULL); /* default configuration */
    char err[256];
    struct us_dev *dev = us_tap_dev_open(argv[1], 0, err, sizeof(err));
    if (!s || !dev) {
        fprintf(stderr, "tap_echo: %s\n", s ? err : "out of memory");
        return 1;
    }
    int rc = us_iface_add(s, dev, addr, prefix, us_clock_now()); /* the stack owns dev now */
    if (rc < 0) {
        fprintf(stderr, "tap_echo: adding the interface: %s\n", strerror(-rc));
        return 1;
    }

    int lfd = us_socket(s, US_SOCK_STREAM);
    struct us_sockaddr_in any = {.addr = US_IP4_ANY, .port = port};
    if (lfd < 0 || (rc = us_bind(s, lfd, &any)) < 0 || (rc = us_listen(s, lfd, 64)) < 0 ||
        (rc = us_sock_set_callback(s, lfd, on_listen_ready, NULL)) < 0) {
        fprintf(stderr, "tap_echo: listening on port %u: %s\n", port,
                strerror(lfd < 0 ? -lfd : -rc));
        return 1;
    }

    /* No SA_RESTART: the signal interrupts the stack's poll() and
     * us_stack_run sees stop. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("tap_echo: listening on %s port %u\n", argv[2], port);
    fflush(stdout);
    rc = us_stack_run(s, &stop, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "tap_echo: %s\n", strerror(-rc));

    us_stack_free(s); /* closes what is left, frees the interface and the TAP */
    return rc < 0 ? 1 : 0;
}
