/* UDP services for `ustack tap --serve`: echo (RFC 862) and discard
 * (RFC 863), written as an application of the socket API would be: a
 * readiness callback drains the socket without blocking. */
#include "serve.h"

#include "ustack/socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct udp_service {
    int fd;
    bool echo;
    uint8_t buf[US_UDP_MAX_PAYLOAD];
};

static void on_readable(void *ctx, struct us_stack *s, int fd, int events)
{
    struct udp_service *svc = ctx;
    (void)events;
    for (;;) {
        struct us_sockaddr_in from;
        int n = us_recvfrom(s, fd, svc->buf, sizeof(svc->buf), 0, &from);
        if (n == -EAGAIN)
            return;
        if (n < 0)
            continue; /* a pending error (an ICMP about an earlier reply): go on */
        if (svc->echo)
            us_sendto(s, fd, svc->buf, (size_t)n, 0, &from, us_stack_now(s));
    }
}

struct udp_service *serve_udp(struct us_stack *s, const char *name, uint16_t port, int *err)
{
    struct udp_service *svc = calloc(1, sizeof(*svc));
    if (!svc) {
        *err = -ENOMEM;
        return NULL;
    }
    svc->echo = strcmp(name, "udp-echo") == 0;
    int fd = us_socket(s, US_SOCK_DGRAM);
    struct us_sockaddr_in any = {.addr = US_IP4_ANY, .port = port};
    int rc = fd < 0 ? fd : us_bind(s, fd, &any);
    if (rc >= 0)
        rc = us_sock_set_callback(s, fd, on_readable, svc);
    if (rc < 0) {
        if (fd >= 0)
            us_close(s, fd);
        free(svc);
        *err = rc;
        return NULL;
    }
    svc->fd = fd;
    return svc;
}

void serve_udp_free(struct us_stack *s, struct udp_service *svc)
{
    us_close(s, svc->fd);
    free(svc);
}

int serve_udp_join(struct us_stack *s, struct udp_service *svc, us_ip4 group)
{
    struct us_ip_mreq mreq = {.multiaddr = group, .interface = US_IP4_ANY};
    return us_setsockopt(s, svc->fd, US_IPPROTO_IP, US_IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq));
}
