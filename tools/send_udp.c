/* `ustack tap --send-udp`: a paced UDP source, so scripts can watch what
 * ustack sends (to a unicast peer or a multicast group). */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int udp_sender_start(struct us_stack *s, const char *spec, struct udp_sender *snd)
{
    char addr[32];
    unsigned port, count, interval_ms = 10;
    int n = 0;
    memset(snd, 0, sizeof(*snd));
    snd->fd = -1;
    if (sscanf(spec, "%31[0-9.]:%u:%u%n", addr, &port, &count, &n) != 3 ||
        (spec[n] != '\0' && sscanf(spec + n, ":%u", &interval_ms) != 1) ||
        us_ip4_parse(addr, &snd->dst.addr) != 0 || port == 0 || port > 65535 || count == 0) {
        fprintf(stderr, "ustack: --send-udp expects A.B.C.D:PORT:COUNT[:INTERVAL_MS], got '%s'\n",
                spec);
        return -1;
    }
    snd->dst.port = (uint16_t)port;
    snd->count = count;
    snd->interval = (us_time_ns)interval_ms * US_NS_PER_MS;
    snd->fd = us_socket(s, US_SOCK_DGRAM);
    if (snd->fd < 0) {
        fprintf(stderr, "ustack: --send-udp: %s\n", strerror(-snd->fd));
        return -1;
    }
    return 0;
}

us_time_ns udp_sender_tick(struct us_stack *s, struct udp_sender *snd, us_time_ns now)
{
    if (snd->fd < 0 || snd->sent == snd->count)
        return US_TIME_NEVER;
    if (snd->next == 0)
        snd->next = now;
    while (snd->sent < snd->count && snd->next <= now) {
        char msg[32];
        int len = snprintf(msg, sizeof(msg), "ustack %u", snd->sent);
        int rc = us_sendto(s, snd->fd, msg, (size_t)len, 0, &snd->dst, now);
        if (rc < 0 && rc != -ENOBUFS)
            fprintf(stderr, "ustack: --send-udp: datagram %u: %s\n", snd->sent, strerror(-rc));
        snd->sent++;
        snd->next += snd->interval;
    }
    return snd->sent < snd->count ? snd->next : US_TIME_NEVER;
}

void udp_sender_stop(struct us_stack *s, struct udp_sender *snd)
{
    if (snd->fd >= 0)
        us_close(s, snd->fd);
    snd->fd = -1;
}
