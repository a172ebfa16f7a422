/* rr_client: 1-byte request/response against a TCP echo service, the
 * kernel as the client.
 *
 *   rr_client IP PORT SECONDS block|busy
 * block: blocking recv(), the thread sleeps until the answer comes.
 * busy:  recv(MSG_DONTWAIT) in a loop, the thread never sleeps.
 * TCP_NODELAY is set, and congestion control cubic (TCP_CONGESTION). Each
 * round trip is timed with clock_gettime; prints one JSON object with the
 * count and the p50/p99 and mean in µs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

#define MAX_SAMPLES (4u << 20)

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[4], "block") && strcmp(argv[4], "busy"))) {
        fprintf(stderr, "usage: rr_client IP PORT SECONDS block|busy\n");
        return 2;
    }
    int busy = strcmp(argv[4], "busy") == 0;
    uint64_t dur = (uint64_t)(atof(argv[3]) * 1e9);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
        fprintf(stderr, "rr_client: bad address %s\n", argv[1]);
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
    struct timeval tv = {.tv_sec = 5}; /* a lost answer ends the run, bounded */
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) {
        perror("rr_client: connect");
        return 1;
    }
    uint32_t *rtt = malloc(MAX_SAMPLES * sizeof(*rtt));
    size_t n = 0;
    uint64_t start = now_ns(), sum = 0;
    char c = 'x';
    while (n < MAX_SAMPLES) {
        uint64_t t0 = now_ns();
        if (t0 - start >= dur)
            break;
        if (send(s, &c, 1, 0) != 1) {
            perror("rr_client: send");
            return 1;
        }
        ssize_t r;
        if (busy) {
            uint64_t give_up = t0 + 5000000000u;
            while ((r = recv(s, &c, 1, MSG_DONTWAIT)) < 0 && errno == EAGAIN)
                if (now_ns() > give_up)
                    break;
        } else {
            r = recv(s, &c, 1, 0);
        }
        if (r != 1) {
            fprintf(stderr, "rr_client: no answer (%s)\n", r == 0 ? "closed" : strerror(errno));
            return 1;
        }
        uint64_t d = now_ns() - t0;
        rtt[n++] = (uint32_t)d;
        sum += d;
    }
    if (n == 0)
        return 1;
    qsort(rtt, n, sizeof(*rtt), cmp_u32);
    printf("{\"mode\":\"%s\",\"count\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"mean_us\":%.2f}\n",
           argv[4], n, rtt[n / 2] / 1e3, rtt[n * 99 / 100] / 1e3, (double)sum / (double)n / 1e3);
    close(s);
    return 0;
}
