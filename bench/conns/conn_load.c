/* conn_load: many concurrent TCP connections from the kernel side, each
 * echoing a block of bytes through the server under test.
 *
 *   conn_load ADDR PORT [CONNS [BYTES [TIMEOUT_S]]]
 *
 * Opens CONNS (default 10,000) non-blocking connections to ADDR:PORT at
 * once, and on each one, driven by one epoll loop, writes BYTES (default
 * 16 KiB) of a pattern that depends on the connection's number and reads
 * the echo back, checking every byte, then closes. Gives up after TIMEOUT_S
 * seconds (default 120). Prints one JSON line:
 *   {"conns","completed","failed","bytes_verified","seconds","timed_out"}
 * where seconds runs from the first connect() to the last connection's
 * close. Exits 0 when every connection completed with every byte right, 1
 * otherwise (a mismatch also says which connection and offset on stderr).
 * Needs a descriptor limit above CONNS (the caller raises ulimit -n) and
 * enough local ports (net.ipv4.ip_local_port_range). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    uint32_t sent, rcvd;
};

static uint32_t block_bytes;
static uint64_t bytes_verified;
static unsigned completed, failed;

/* The byte at offset off of connection i: differs between neighbouring
 * connections and along the block, so a crossed or shifted echo shows. */
static uint8_t pattern(uint32_t i, uint32_t off)
{
    return (uint8_t)(off * 7u + (off >> 8) + i * 131u + (i >> 8));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void conn_end(struct conn *c, bool ok)
{
    close(c->fd);
    c->fd = -1;
    if (ok)
        completed++;
    else
        failed++;
}

/* Writes what the socket takes; false when the connection failed. */
static bool conn_write(struct conn *c, uint32_t i)
{
    uint8_t buf[16384];
    while (c->sent < block_bytes) {
        uint32_t n = block_bytes - c->sent;
        if (n > sizeof(buf))
            n = sizeof(buf);
        for (uint32_t k = 0; k < n; k++)
            buf[k] = pattern(i, c->sent + k);
        ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        if (w < 0) {
            fprintf(stderr, "conn_load: connection %u: send: %s after %u bytes\n", i,
                    strerror(errno), c->sent);
            return false;
        }
        c->sent += (uint32_t)w;
    }
    return true;
}

/* Reads and checks what waits; false when the connection failed or the
 * bytes were wrong. */
static bool conn_read(struct conn *c, uint32_t i)
{
    uint8_t buf[16384];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return true;
        if (r < 0) {
            fprintf(stderr, "conn_load: connection %u: recv: %s after %u bytes back\n", i,
                    strerror(errno), c->rcvd);
            return false;
        }
        if (r == 0) {
            fprintf(stderr, "conn_load: connection %u: end of stream after %u of %u bytes\n", i,
                    c->rcvd, block_bytes);
            return false;
        }
        if (c->rcvd + (uint32_t)r > block_bytes) {
            fprintf(stderr, "conn_load: connection %u: %u bytes more than were sent\n", i,
                    c->rcvd + (uint32_t)r - block_bytes);
            return false;
        }
        for (ssize_t k = 0; k < r; k++) {
            if (buf[k] != pattern(i, c->rcvd + (uint32_t)k)) {
                fprintf(stderr, "conn_load: connection %u: wrong byte at offset %u\n", i,
                        c->rcvd + (uint32_t)k);
                return false;
            }
        }
        c->rcvd += (uint32_t)r;
        bytes_verified += (uint64_t)r;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: conn_load ADDR PORT [CONNS [BYTES [TIMEOUT_S]]]\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "conn_load: bad address %s\n", argv[1]);
        return 2;
    }
    unsigned n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 10000;
    block_bytes = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 16384;
    double limit = argc > 5 ? strtod(argv[5], NULL) : 120;
    if (n == 0 || block_bytes == 0) {
        fprintf(stderr, "conn_load: CONNS and BYTES must be positive\n");
        return 2;
    }
    struct conn *conns = calloc(n, sizeof(*conns));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0) {
        perror("conn_load: setup");
        return 1;
    }

    double t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        struct conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            fprintf(stderr, "conn_load: socket %u: %s\n", i, strerror(errno));
            failed++;
            continue;
        }
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
            fprintf(stderr, "conn_load: connect %u: %s\n", i, strerror(errno));
            conn_end(c, false);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.u32 = i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            perror("conn_load: epoll_ctl");
            conn_end(c, false);
            continue;
        }
    }

    struct epoll_event evs[1024];
    bool timed_out = false;
    while (completed + failed < n) {
        double left = limit - (now_s() - t0);
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int k = epoll_wait(ep, evs, 1024, left > 1 ? 1000 : (int)(left * 1000) + 1);
        if (k < 0 && errno != EINTR) {
            perror("conn_load: epoll_wait");
            break;
        }
        for (int j = 0; j < k; j++) {
            uint32_t i = evs[j].data.u32;
            struct conn *c = &conns[i];
            if (c->fd < 0)
                continue;
            bool ok = conn_write(c, i) && conn_read(c, i);
            if (ok && (evs[j].events & (EPOLLERR | EPOLLHUP)) && c->rcvd < block_bytes) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                fprintf(stderr, "conn_load: connection %u: %s after %u bytes back\n", i,
                        strerror(err ? err : ECONNRESET), c->rcvd);
                ok = false;
            }
            if (!ok)
                conn_end(c, false);
            else if (c->rcvd == block_bytes)
                conn_end(c, true);
        }
    }
    double secs = now_s() - t0;
    unsigned left_open = 0;
    for (unsigned i = 0; i < n; i++)
        if (conns[i].fd >= 0) {
            close(conns[i].fd);
            left_open++;
        }
    if (timed_out)
        fprintf(stderr, "conn_load: gave up after %.0f s with %u connections unfinished\n", limit,
                left_open);
    printf("{\"conns\":%u,\"completed\":%u,\"failed\":%u,\"bytes_verified\":%llu,"
           "\"seconds\":%.3f,\"timed_out\":%s}\n",
           n, completed, failed + left_open, (unsigned long long)bytes_verified, secs,
           timed_out ? "true" : "false");
    free(conns);
    close(ep);
    return completed == n ? 0 : 1;
}
