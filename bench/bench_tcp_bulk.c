/* TCP bulk on one core: COUNT MiB from one socket to another in one thread,
 * every byte checked, timed on the wall clock.
 *   ustack: two stacks on the in-memory wire (MTU 1500, no latency), one
 *           thread polling both on the real clock. A third argument
 *           "offload" gives the wire veth's offloads (64 KiB TCP
 *           super-frames, checksums left undone), "mtu=N" another MTU.
 *   kernel: both ends of a loopback connection (CUBIC per socket) in one
 *           thread, non-blocking; loopback's MTU is whatever lo has. */
#include "bench_util.h"

#include <fcntl.h>

#define CHUNK (64 * 1024)

static uint8_t pattern[CHUNK + PATTERN_CYCLE];
static uint8_t rxbuf[CHUNK];

/* Checks rxbuf[0..n) against the stream at offset off. */
static void check(size_t off, size_t n)
{
    if (memcmp(rxbuf, pattern + off % PATTERN_CYCLE, n) != 0)
        die("wrong bytes received near stream offset %zu", off);
}

static uint64_t run_ustack(uint64_t total, uint32_t mtu, bool offload)
{
    struct upair p;
    upair_init_offload(&p, mtu, offload);
    int cfd, lfd = upair_listen(&p, 5001);
    int sfd = upair_connect(&p, lfd, 5001, &cfd);
    uint64_t sent = 0, got = 0;
    uint64_t t0 = now_ns();
    while (got < total) {
        while (sent < total) {
            size_t want = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
            int n = us_send(p.a, cfd, pattern + sent % PATTERN_CYCLE, want, 0, us_clock_now());
            if (n == -EAGAIN)
                break;
            if (n <= 0)
                die("us_send: %s", strerror(-n));
            sent += (uint64_t)n;
        }
        upair_poll(&p);
        for (;;) {
            int n = us_recv(p.b, sfd, rxbuf, CHUNK, 0);
            if (n == -EAGAIN)
                break;
            if (n <= 0)
                die("us_recv: %s", n ? strerror(-n) : "end of stream");
            check(got, (size_t)n);
            got += (uint64_t)n;
        }
    }
    uint64_t dt = now_ns() - t0;
    upair_free(&p);
    return dt;
}

static uint64_t run_kernel(uint64_t total)
{
    int cfd, lfd = k_listen(5001);
    int sfd = k_connect(lfd, 5001, &cfd);
    fcntl(cfd, F_SETFL, O_NONBLOCK);
    fcntl(sfd, F_SETFL, O_NONBLOCK);
    uint64_t sent = 0, got = 0;
    uint64_t t0 = now_ns();
    while (got < total) {
        while (sent < total) {
            size_t want = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
            ssize_t n = send(cfd, pattern + sent % PATTERN_CYCLE, want, 0);
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0)
                die("send: %s", strerror(errno));
            sent += (uint64_t)n;
        }
        for (;;) {
            ssize_t n = recv(sfd, rxbuf, CHUNK, 0);
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0)
                die("recv: %s", n ? strerror(errno) : "end of stream");
            check(got, (size_t)n);
            got += (uint64_t)n;
        }
    }
    uint64_t dt = now_ns() - t0;
    close(cfd);
    close(sfd);
    close(lfd);
    return dt;
}

int main(int argc, char **argv)
{
    long mib;
    bool kernel = parse_args(argc, argv, &mib, 1024);
    pattern_fill(pattern, sizeof(pattern));
    uint64_t total = (uint64_t)mib << 20;
    uint32_t mtu = 1500;
    bool offload = false;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "offload") == 0)
            offload = true;
        else if (strncmp(argv[i], "mtu=", 4) == 0 && atol(argv[i] + 4) >= 576 &&
                 atol(argv[i] + 4) <= 65535)
            mtu = (uint32_t)atol(argv[i] + 4);
        else
            die("unknown argument %s (offload, mtu=576..65535)", argv[i]);
    }
    uint64_t dt = kernel ? run_kernel(total) : run_ustack(total, mtu, offload);
    printf("{\"bench\":\"tcp_bulk\",\"impl\":\"%s\",\"bytes\":%llu,\"seconds\":%.6f,"
           "\"gbit_s\":%.3f}\n",
           argv[1], (unsigned long long)total, dt / 1e9, total * 8.0 / dt);
    return 0;
}
