/* bulk_client: the kernel's side of a TCP bulk transfer, timed with
 * clock_gettime.
 *
 *   bulk_client send IP PORT SECONDS   connects (to discard) and writes as
 *       fast as it can; counts bytes the peer acknowledged (written minus
 *       SIOCOUTQ, the bytes still queued or unacknowledged).
 *   bulk_client recv IP PORT SECONDS   connects (to chargen) and reads as
 *       fast as it can; counts bytes read.
 * The first 10% of SECONDS is a warm-up (slow start) and not counted.
 * With a fifth argument, `check`, nothing lost goes unnoticed (for runs
 * through injected loss): recv compares every byte with chargen's RFC 864
 * stream; send, after SECONDS, shuts its side down and waits (at most 10 s)
 * for the peer's FIN (discard closes once it has read everything) and for
 * every byte and its own FIN to be acknowledged (SIOCOUTQ 0), so the peer's
 * reader had exactly the bytes written. A check that fails exits 1.
 * The socket's congestion control is set to cubic (TCP_CONGESTION).
 * Prints one JSON object: bytes, seconds, bytes_per_s (and total_bytes,
 * checked when checking). */
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

/* RFC 864's 95 lines of 72 characters and CR LF: the stream repeats them. */
#define CHARGEN_CYCLE (95 * 74)
static uint8_t chargen[CHARGEN_CYCLE];

static void chargen_build(void)
{
    for (unsigned line = 0; line < 95; line++) {
        for (unsigned i = 0; i < 72; i++)
            chargen[line * 74 + i] = (uint8_t)(' ' + (line + i) % 95);
        chargen[line * 74 + 72] = '\r';
        chargen[line * 74 + 73] = '\n';
    }
}

/* Whether buf[0..n) is chargen's stream from offset at; 0 if so. */
static int chargen_check(const uint8_t *buf, size_t n, uint64_t at)
{
    size_t pos = (size_t)(at % CHARGEN_CYCLE);
    while (n) {
        size_t k = CHARGEN_CYCLE - pos < n ? CHARGEN_CYCLE - pos : n;
        if (memcmp(buf, chargen + pos, k))
            return -1;
        buf += k;
        n -= k;
        pos = 0;
    }
    return 0;
}

/* After the timed part of a checked send: FIN, the peer's FIN, everything
 * acknowledged. 0 when so. */
static int finish_send(int s)
{
    if (shutdown(s, SHUT_WR) < 0) {
        perror("bulk_client: shutdown");
        return -1;
    }
    static char sink[4096];
    double give_up = now_s() + 10;
    ssize_t n;
    while ((n = recv(s, sink, sizeof(sink), 0)) != 0) {
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            perror("bulk_client: waiting for the peer's FIN");
            return -1;
        }
        if (now_s() > give_up) {
            fprintf(stderr, "bulk_client: no FIN from the peer within 10 s\n");
            return -1;
        }
    }
    int outq = -1;
    while (ioctl(s, SIOCOUTQ, &outq) == 0 && outq != 0 && now_s() < give_up)
        usleep(1000);
    if (outq != 0) {
        fprintf(stderr, "bulk_client: %d bytes (or the FIN) never acknowledged\n", outq);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc != 5 && !(argc == 6 && strcmp(argv[5], "check") == 0)) ||
        (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
        fprintf(stderr, "usage: bulk_client send|recv IP PORT SECONDS [check]\n");
        return 2;
    }
    int sending = strcmp(argv[1], "send") == 0, check = argc == 6;
    chargen_build();
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
    setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
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
        if (check && !sending && chargen_check((const uint8_t *)buf, (size_t)n, moved)) {
            fprintf(stderr,
                    "bulk_client: the bytes after %llu are not chargen's: lost or damaged\n",
                    (unsigned long long)moved);
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
            if (check && sending && finish_send(s))
                return 1;
            printf("{\"bytes\":%llu,\"seconds\":%.3f,\"bytes_per_s\":%.0f,\"total_bytes\":%llu,"
                   "\"checked\":%s}\n",
                   (unsigned long long)(done - base), d, (double)(done - base) / d,
                   (unsigned long long)moved, check ? "true" : "false");
            break;
        }
    }
    close(s);
    return 0;
}
