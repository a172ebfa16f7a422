/* tap_tcp_ceiling: the TAP's ceiling for TCP data into a real kernel socket,
 * with no stack behind the writer.
 *
 *   tap_tcp_ceiling DEV SECONDS [write|uring]
 *
 * A thread in this process connects a kernel TCP socket (cubic) to
 * 192.0.2.2:19 and reads as fast as it can. The main thread is a bare TCP
 * sender in about a hundred lines: it answers the SYN from the TAP, then
 * writes in-window, full-size data segments (1460 bytes, checksums valid),
 * up to 32 at a time, in one io_uring_enter() (uring, the default, with
 * ustack's own src/dev/uring_tx.c) or one write() each (write), reading the
 * kernel's ACKs from the TAP between bursts to move its window. Nothing is ever retransmitted
 * (nothing is lost on a TAP; a stall of 1 s ends the run with an error). This is the least any
 * sender over this TAP must pay per segment: the kernel's TCP receive and
 * the reader's wake-up inside write(), and reading the ACKs; tap_ceiling's
 * `write` mode pays neither (its frames are dropped at once).
 *
 * DEV must exist with the kernel side at 192.0.2.1/24 and a permanent
 * neighbour entry for 192.0.2.2 at 02:00:00:00:1e:02 (tap_bench.sh adds
 * one). The first 10% of SECONDS is a warm-up. Prints one JSON object:
 * frames_per_s, tcp_payload_bytes_per_s (acknowledged bytes). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dev/uring_tx.h"
#include "tap_frame.h"
#include "tap_open.h"

#define MSS       1460
#define HDRS      (14 + 20 + 20)
#define FRAME_LEN (HDRS + MSS)
#define ISS       1000u
#define PORT      19
#define OUR_PORT  19

static const uint8_t our_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x1e, 0x02};
static const uint8_t our_ip[4] = {192, 0, 2, 2}, kernel_ip[4] = {192, 0, 2, 1};

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The connection as the bare sender sees it. */
struct conn {
    uint8_t kernel_mac[6];
    uint16_t kernel_port;
    uint32_t rcv_nxt;     /* the kernel's next sequence number */
    uint32_t snd_una;     /* oldest byte not yet acknowledged */
    uint32_t snd_wnd;     /* the kernel's window, scaled */
    int wscale;           /* the kernel's window shift */
    uint64_t acked;       /* bytes acknowledged, not wrapping */
    uint32_t payload_sum; /* the constant payload's one's-complement sum */
    uint8_t payload[MSS];
};

/* Fills f with a segment of `len` payload bytes (from c->payload) at seq,
 * flags and options; returns the frame's length. */
static size_t build(struct conn *c, uint8_t *f, uint32_t seq, uint8_t flags, const uint8_t *opt,
                    size_t optlen, size_t len)
{
    memcpy(f, c->kernel_mac, 6);
    memcpy(f + 6, our_mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *tcp = ip + 20;
    size_t tcplen = 20 + optlen + len;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + tcplen));
    ip[6] = 0x40; /* DF */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, our_ip, 4);
    memcpy(ip + 16, kernel_ip, 4);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
    memset(tcp, 0, 20);
    put16(tcp, OUR_PORT);
    put16(tcp + 2, c->kernel_port);
    put32(tcp + 4, seq);
    put32(tcp + 8, c->rcv_nxt);
    tcp[12] = (uint8_t)((20 + optlen) / 4 << 4);
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    memcpy(tcp + 20, opt, optlen);
    uint32_t acc = sum16(our_ip, 4, 0);
    acc = sum16(kernel_ip, 4, acc) + 6 + (uint32_t)tcplen;
    acc = sum16(tcp, 20 + optlen, acc);
    if (len) { /* only ever the whole payload, at an even offset */
        memcpy(tcp + 20 + optlen, c->payload, len);
        acc += c->payload_sum;
    }
    put16(tcp + 16, fold(acc));
    return HDRS + optlen + len;
}

/* A frame from the kernel to our port: its TCP header, or NULL. */
static const uint8_t *tcp_of(const uint8_t *f, ssize_t n)
{
    if (n < HDRS || f[12] != 0x08 || f[13] != 0x00)
        return NULL;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if (ip[9] != 6 || memcmp(ip + 16, our_ip, 4) || n < (ssize_t)(14 + ihl + 20))
        return NULL;
    const uint8_t *tcp = ip + ihl;
    return (tcp[2] << 8 | tcp[3]) == OUR_PORT ? tcp : NULL;
}

/* Reads what waits on the TAP and moves the window. */
static void read_acks(int fd, struct conn *c)
{
    static uint8_t buf[2048];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        const uint8_t *tcp = tcp_of(buf, n);
        if (!tcp || !(tcp[13] & 0x10))
            continue;
        uint32_t ack = get32(tcp + 8);
        int32_t adv = (int32_t)(ack - c->snd_una);
        if (adv >= 0) {
            c->acked += (uint32_t)adv;
            c->snd_una = ack;
            c->snd_wnd = (uint32_t)(tcp[14] << 8 | tcp[15]) << c->wscale;
        }
    }
}

static atomic_int reader_stop;

/* The kernel's side: connects to us and reads everything. */
static void *reader(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    memcpy(&to.sin_addr, our_ip, 4);
    if (connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) {
        perror("tap_tcp_ceiling: connect");
        close(s);
        return NULL;
    }
    static char buf[256 * 1024];
    while (!atomic_load(&reader_stop) && recv(s, buf, sizeof(buf), 0) > 0)
        ;
    close(s);
    return NULL;
}

/* Waits (at most 5 s) for the kernel's SYN and answers it. */
static int handshake(int fd, struct conn *c)
{
    static uint8_t buf[2048], f[FRAME_LEN];
    double give_up = now_s() + 5;
    while (now_s() < give_up) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, 100);
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            const uint8_t *tcp = tcp_of(buf, n);
            if (!tcp || (tcp[13] & 0x12) != 0x02) /* a SYN, not a SYN-ACK */
                continue;
            c->kernel_port = (uint16_t)(tcp[0] << 8 | tcp[1]);
            c->rcv_nxt = get32(tcp + 4) + 1;
            c->snd_wnd = (uint32_t)(tcp[14] << 8 | tcp[15]); /* a SYN's is never scaled */
            const uint8_t *o = tcp + 20, *end = tcp + (tcp[12] >> 4) * 4;
            while (o < end && *o != 0) { /* RFC 7323 2.2: its window shift */
                if (*o == 1) {
                    o++;
                    continue;
                }
                if (o + 1 >= end || o[1] < 2)
                    break;
                if (*o == 3 && o[1] == 3)
                    c->wscale = o[2] > 14 ? 14 : o[2];
                o += o[1];
            }
            /* MSS 1460, NOP, window scale 0: the kernel then scales its own. */
            static const uint8_t opt[8] = {2, 4, MSS >> 8, MSS & 255, 1, 3, 3, 0};
            c->snd_una = ISS + 1;
            size_t len = build(c, f, ISS, 0x12, opt, sizeof(opt), 0);
            return write(fd, f, len) == (ssize_t)len ? 0 : -1;
        }
    }
    fprintf(stderr, "tap_tcp_ceiling: no SYN from the kernel within 5 s\n");
    return -1;
}

#define BURST 32

int main(int argc, char **argv)
{
    if ((argc != 3 && argc != 4) ||
        (argc == 4 && strcmp(argv[3], "write") && strcmp(argv[3], "uring"))) {
        fprintf(stderr, "usage: tap_tcp_ceiling DEV SECONDS [write|uring]\n");
        return 2;
    }
    struct us_uring_tx *ring = NULL;
    if (argc == 3 || strcmp(argv[3], "uring") == 0) {
        ring = us_uring_tx_new(BURST);
        if (!ring) {
            perror("tap_tcp_ceiling: io_uring");
            return 1;
        }
    }
    double secs = atof(argv[2]), warm = secs / 10;
    static struct conn c;
    int fd = tap_open(argv[1], O_NONBLOCK);
    if (fd < 0 || kernel_mac(argv[1], c.kernel_mac) < 0) {
        perror("tap_tcp_ceiling: tap");
        return 1;
    }
    for (int i = 0; i < MSS; i++)
        c.payload[i] = (uint8_t)(' ' + i % 95);
    c.payload_sum = sum16(c.payload, MSS, 0);
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    if (handshake(fd, &c) < 0) {
        atomic_store(&reader_stop, 1);
        pthread_join(th, NULL);
        return 1;
    }
    static uint8_t f[FRAME_LEN], burst[BURST][FRAME_LEN];
    void *buf[BURST];
    uint32_t blen[BURST];
    int res[BURST];
    uint32_t snd_nxt = ISS + 1;
    uint64_t frames = 0, base_frames = 0, base_acked = 0;
    double start = now_s(), t0 = 0, t = start, last_move = start;
    uint64_t last_acked = 0;
    int counting = 0, rc = 0;
    for (;;) {
        /* Write while the window has room for a whole segment. */
        int k = 0;
        while (k < BURST && (uint32_t)(snd_nxt - c.snd_una) + MSS <= c.snd_wnd) {
            blen[k] = (uint32_t)build(&c, burst[k], snd_nxt, 0x10, NULL, 0, MSS);
            buf[k] = burst[k];
            snd_nxt += MSS;
            k++;
        }
        if (ring && k > 0 && us_uring_tx_write(ring, fd, buf, blen, k, res) < 0) {
            perror("tap_tcp_ceiling: io_uring");
            rc = 1;
            goto out;
        }
        for (int i = 0; i < k; i++) {
            ssize_t w = ring ? res[i] : write(fd, buf[i], blen[i]);
            if (w != (ssize_t)blen[i]) {
                fprintf(stderr, "tap_tcp_ceiling: write: %s\n",
                        w < 0 ? strerror(ring ? (int)-w : errno) : "short");
                rc = 1;
                goto out;
            }
            frames++;
        }
        if (k == 0) { /* window full: wait for an ACK */
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            poll(&pf, 1, 10);
        }
        read_acks(fd, &c);
        t = now_s();
        if (c.acked != last_acked) {
            last_acked = c.acked;
            last_move = t;
        } else if (t - last_move > 1) {
            fprintf(stderr, "tap_tcp_ceiling: no ACK for 1 s (una %u nxt %u wnd %u)\n", c.snd_una,
                    snd_nxt, c.snd_wnd);
            rc = 1;
            goto out;
        }
        if (!counting && t - start >= warm) {
            counting = 1;
            t0 = t;
            base_acked = c.acked;
            base_frames = frames;
        } else if (counting && t - t0 >= secs - warm) {
            break;
        }
    }
    double d = t - t0;
    printf("{\"mode\":\"tcp-%s\",\"frames\":%llu,\"seconds\":%.3f,\"frames_per_s\":%.0f,"
           "\"tcp_payload_bytes_per_s\":%.0f}\n",
           ring ? "uring" : "write", (unsigned long long)(frames - base_frames), d,
           (double)(frames - base_frames) / d, (double)(c.acked - base_acked) / d);
out:
    /* A RST ends the kernel's connection, so its reader returns. */
    atomic_store(&reader_stop, 1);
    size_t len = build(&c, f, snd_nxt, 0x14, NULL, 0, 0);
    if (write(fd, f, len) < 0)
        perror("tap_tcp_ceiling: write RST");
    pthread_join(th, NULL);
    us_uring_tx_free(ring);
    close(fd);
    return rc;
}
