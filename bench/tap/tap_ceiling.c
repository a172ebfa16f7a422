/* tap_ceiling: the raw TAP device's own limits, with no stack behind it.
 *
 *   tap_ceiling write DEV SECONDS   writes pre-built full-size TCP frames
 *       (14 + 20 + 20 + 1460 bytes, checksums valid) into the TAP, one
 *       write() each, as fast as it can; the kernel receives them. They
 *       are RST|ACK segments to a closed port, so the kernel checks them
 *       (IP and TCP checksums, socket lookup) and drops them without an
 *       answer (RFC 9293 3.10.7.1: a RST to a closed port is discarded).
 *   tap_ceiling write-uring DEV SECONDS   the same frames, 64 per
 *       io_uring_enter() (src/dev/uring_tx.c, as ustack's TAP sends): the
 *       ceiling for a sender that batches.
 *   tap_ceiling read DEV SECONDS    a thread in this process makes the
 *       kernel send 1472-byte UDP datagrams (1514-byte frames) to
 *       192.0.2.2 through the TAP as fast as it will (UDP GSO, 44
 *       datagrams per send); the main thread reads frames, one read()
 *       each, and counts them.
 *
 * DEV must exist with the kernel side at 192.0.2.1/24 and, for `read`, a
 * permanent neighbour entry for 192.0.2.2 (tap_bench.sh adds one). Prints
 * one JSON object: frames/s and bytes/s (whole frames, and the 1460-byte
 * TCP payload a frame of that size carries). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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

#define FRAME_LEN   1514
#define TCP_PAYLOAD 1460

/* 192.0.2.2:40000 -> 192.0.2.1:9 (no listener), RST|ACK, 1460 bytes. */
static void build_frame(uint8_t *f, const uint8_t dst_mac[6])
{
    static const uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x1e, 0x02};
    memset(f, 0, FRAME_LEN);
    memcpy(f, dst_mac, 6);
    memcpy(f + 6, src_mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *tcp = ip + 20;
    ip[0] = 0x45;
    put16(ip + 2, 20 + 20 + TCP_PAYLOAD);
    ip[8] = 64;
    ip[9] = 6;
    const uint8_t src[4] = {192, 0, 2, 2}, dst[4] = {192, 0, 2, 1};
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
    put16(tcp, 40000);
    put16(tcp + 2, 9);
    tcp[7] = 1;  /* seq */
    tcp[11] = 1; /* ack */
    tcp[12] = 5 << 4;
    tcp[13] = 0x14; /* RST|ACK */
    put16(tcp + 14, 65535);
    for (int i = 0; i < TCP_PAYLOAD; i++)
        tcp[20 + i] = (uint8_t)(' ' + i % 95);
    uint32_t acc = sum16(src, 4, 0);
    acc = sum16(dst, 4, acc);
    acc += 6 + 20 + TCP_PAYLOAD;
    put16(tcp + 16, fold(sum16(tcp, 20 + TCP_PAYLOAD, acc)));
}

static void report(const char *mode, uint64_t frames, uint64_t bytes, double secs)
{
    printf("{\"mode\":\"%s\",\"frames\":%llu,\"seconds\":%.3f,\"frames_per_s\":%.0f,"
           "\"frame_bytes_per_s\":%.0f,\"tcp_payload_bytes_per_s\":%.0f}\n",
           mode, (unsigned long long)frames, secs, frames / secs, bytes / secs,
           frames * (double)TCP_PAYLOAD / secs);
}

static int do_write_uring(const char *dev, double secs)
{
    uint8_t mac[6], frame[FRAME_LEN];
    int fd = tap_open(dev, O_NONBLOCK);
    struct us_uring_tx *r = us_uring_tx_new(64);
    if (fd < 0 || kernel_mac(dev, mac) < 0 || !r) {
        perror("tap_ceiling: tap or io_uring");
        return 1;
    }
    build_frame(frame, mac);
    void *buf[64];
    uint32_t len[64];
    int res[64];
    for (int i = 0; i < 64; i++)
        buf[i] = frame, len[i] = FRAME_LEN;
    uint64_t frames = 0, bytes = 0;
    double t0 = now_s(), t1 = t0;
    while (t1 - t0 < secs) {
        if (us_uring_tx_write(r, fd, buf, len, 64, res) < 0) {
            perror("tap_ceiling: io_uring");
            return 1;
        }
        for (int i = 0; i < 64; i++) {
            if (res[i] != FRAME_LEN)
                continue; /* (never seen: the kernel drops nothing here) */
            frames++;
            bytes += FRAME_LEN;
        }
        t1 = now_s();
    }
    report("write-uring", frames, bytes, t1 - t0);
    us_uring_tx_free(r);
    return 0;
}

static int do_write(const char *dev, double secs)
{
    uint8_t mac[6], frame[FRAME_LEN];
    int fd = tap_open(dev, 0);
    if (fd < 0 || kernel_mac(dev, mac) < 0) {
        perror("tap_ceiling: tap");
        return 1;
    }
    build_frame(frame, mac);
    uint64_t frames = 0, bytes = 0;
    double t0 = now_s(), t1 = t0;
    while (t1 - t0 < secs) {
        for (int i = 0; i < 64; i++) { /* read the clock every 64 frames */
            ssize_t n = write(fd, frame, FRAME_LEN);
            if (n < 0) {
                perror("tap_ceiling: write");
                return 1;
            }
            frames++;
            bytes += (uint64_t)n;
        }
        t1 = now_s();
    }
    report("write", frames, bytes, t1 - t0);
    return 0;
}

static atomic_int blast_stop;

/* The kernel's side of `read`: UDP to 192.0.2.2:9, as fast as it goes. With
 * UDP_SEGMENT (UDP GSO) each send() is 44 datagrams that the kernel cuts
 * into frames at the device, as its TCP does with its 64 KiB segments, so
 * the sender's per-datagram cost does not hide the TAP's own. */
static void *blaster(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "192.0.2.2", &to.sin_addr);
    if (connect(s, (struct sockaddr *)&to, sizeof(to)) < 0) {
        perror("tap_ceiling: connect");
        return NULL;
    }
    int seg = 1472, count = 44;
    if (setsockopt(s, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) < 0)
        count = 1; /* no UDP GSO: one datagram per send */
    static char payload[44 * 1472];
    memset(payload, 'x', sizeof(payload));
    /* Never blocking, so the thread sees blast_stop even when the reader
     * has stopped and the socket's buffer is full (a blocked send() here
     * hung the 3 s runs of the suite). ENOBUFS or EAGAIN: go on. */
    while (!atomic_load(&blast_stop))
        if (send(s, payload, (size_t)(seg * count), MSG_DONTWAIT) < 0 && errno == EAGAIN)
            sched_yield();
    close(s);
    return NULL;
}

static int do_read(const char *dev, double secs)
{
    int fd = tap_open(dev, O_NONBLOCK);
    if (fd < 0) {
        perror("tap_ceiling: tap");
        return 1;
    }
    pthread_t th;
    pthread_create(&th, NULL, blaster, NULL);
    static uint8_t buf[2048];
    /* Let the sender start, then count. */
    double start = now_s();
    while (now_s() - start < 0.2) /* a read at a time: the sender may never let up */
        if (read(fd, buf, sizeof(buf)) < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            poll(&pf, 1, 10);
        }
    uint64_t frames = 0, bytes = 0;
    double t0 = now_s(), t1 = t0;
    while (t1 - t0 < secs) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            frames++;
            bytes += (uint64_t)n;
            if (frames % 64)
                continue;
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            poll(&pf, 1, 10);
        }
        t1 = now_s();
    }
    atomic_store(&blast_stop, 1);
    pthread_join(th, NULL);
    report("read", frames, bytes, t1 - t0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4 ||
        (strcmp(argv[1], "write") && strcmp(argv[1], "write-uring") && strcmp(argv[1], "read"))) {
        fprintf(stderr, "usage: tap_ceiling write|write-uring|read DEV SECONDS\n");
        return 2;
    }
    double secs = atof(argv[3]);
    if (strcmp(argv[1], "write-uring") == 0)
        return do_write_uring(argv[2], secs);
    return strcmp(argv[1], "write") == 0 ? do_write(argv[2], secs) : do_read(argv[2], secs);
}
