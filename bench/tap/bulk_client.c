/* bulk_client: the kernel's side of a TCP bulk transfer, timed with
 * clock_gettime.
 *
 *   bulk_client send IP PORT SECONDS   connects (to discard) and writes as
 *       fast as it can; counts bytes the peer acknowledged (written minus
 *       SIOCOUTQ, the bytes still queued or unacknowledged).
 *   bulk_client recv IP PORT SECONDS   connects (to chargen) and reads as
 *       fast as it can; counts bytes read.
 * The first 10% of SECONDS is a warm-up (slow start) and not counted.
 * Prints one JSON object: bytes, seconds, bytes_per_s. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
        fprintf(stderr, "usage: bulk_client send|recv IP PORT SECONDS\n");
        return 2;
    }
    int sending = strcmp(argv[1], "send") == 0;
    double secs = atof(argv[4]), warm = secs / 10;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
        fprintf(stderr, "bulk_client: bad address %s\n", argv[2]);
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    /* Every blocking call ends within 5 s even if the peer goes silent. */
    struct timeval tv = {.tv_sec = 5};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) {
        perror("bulk_client: connect");
        return 1;
    }
    static char buf[256 * 1024];
    memset(buf, 'k', sizeof(buf));
    uint64_t moved = 0, base = 0;
    double start = now_s(), t0 = 0, t = start;
    int counting = 0;
    for (;;) {
        ssize_t n = sending ? send(s, buf, 64 * 1024, 0) : recv(s, buf, sizeof(buf), 0);
        if (n <= 0) {
            fprintf(stderr, "bulk_client: %s: %s\n", sending ? "send" : "recv",
                    n == 0 ? "peer closed" : strerror(errno));
            return 1;
        }
        moved += (uint64_t)n;
        t = now_s();
        uint64_t done = moved;
        if (sending) {
            int outq = 0;
            ioctl(s, SIOCOUTQ, &outq);
            done -= (uint64_t)outq;
        }
        if (!counting && t - start >= warm) {
            counting = 1;
            t0 = t;
            base = done;
        } else if (counting && t - t0 >= secs - warm) {
            double d = t - t0;
            printf("{\"bytes\":%llu,\"seconds\":%.3f,\"bytes_per_s\":%.0f}\n",
                   (unsigned long long)(done - base), d, (double)(done - base) / d);
            break;
        }
    }
    close(s);
    return 0;
}
