/* UDP datagrams per second on one core: COUNT datagrams of 64 bytes from one
 * socket to another in one thread, sent in batches of BATCH and received
 * after each batch, each checked for its sequence number (none may be lost
 * or reordered on these lossless paths).
 *   ustack: a to b over the in-memory wire, the stacks polled between.
 *   kernel: sendto/recv over loopback, one system call per datagram. */
#include "bench_util.h"

#include <fcntl.h>

#define PAYLOAD 64
#define BATCH   32

/* Checks the datagram of n bytes in buf is number seq. */
static void check(const uint8_t *buf, long n, uint64_t seq)
{
    uint64_t got;
    if (n != PAYLOAD)
        die("datagram %llu: %ld bytes, not %d", (unsigned long long)seq, n, PAYLOAD);
    memcpy(&got, buf, sizeof(got));
    if (got != seq)
        die("datagram %llu arrived as %llu", (unsigned long long)seq, (unsigned long long)got);
}

static void run_ustack(uint64_t count)
{
    struct upair p;
    upair_init(&p, 1500);
    int tx = us_socket(p.a, US_SOCK_DGRAM), rx = us_socket(p.b, US_SOCK_DGRAM);
    struct us_sockaddr_in any = {US_IP4_ANY, 5004}, dst = {BENCH_B_IP, 5004};
    if (tx < 0 || rx < 0 || us_bind(p.b, rx, &any) < 0 || us_connect(p.a, tx, &dst) < 0)
        die("ustack UDP sockets");
    us_set_int(p.b, rx, US_SOL_SOCKET, US_SO_RCVBUF, 1 << 20);
    /* ARP first: the first datagram waits for the reply. */
    uint8_t buf[PAYLOAD] = {0};
    uint64_t sent = 0, got = 0;
    while (got < count) {
        for (int i = 0; i < BATCH && sent < count; i++) {
            memcpy(buf, &sent, sizeof(sent));
            int n = us_send(p.a, tx, buf, PAYLOAD, 0, us_clock_now());
            if (n == -EAGAIN || n == -ENOBUFS)
                break;
            if (n != PAYLOAD)
                die("us_send: %s", strerror(-n));
            sent++;
        }
        upair_poll(&p);
        int n;
        while ((n = us_recv(p.b, rx, buf, sizeof(buf), 0)) != -EAGAIN) {
            if (n < 0)
                die("us_recv: %s", strerror(-n));
            check(buf, n, got++);
        }
    }
    upair_free(&p);
}

static void run_kernel(uint64_t count)
{
    int tx = socket(AF_INET, SOCK_DGRAM, 0), rx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = k_loopback(5004);
    k_set_int(rx, SOL_SOCKET, SO_RCVBUF, 1 << 20);
    if (tx < 0 || rx < 0 || bind(rx, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        connect(tx, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("kernel UDP sockets: %s", strerror(errno));
    fcntl(rx, F_SETFL, O_NONBLOCK);
    uint8_t buf[PAYLOAD] = {0};
    uint64_t sent = 0, got = 0;
    while (got < count) {
        for (int i = 0; i < BATCH && sent < count; i++) {
            memcpy(buf, &sent, sizeof(sent));
            if (send(tx, buf, PAYLOAD, 0) != PAYLOAD)
                die("send: %s", strerror(errno));
            sent++;
        }
        ssize_t n;
        while ((n = recv(rx, buf, sizeof(buf), 0)) >= 0)
            check(buf, n, got++);
        if (errno != EAGAIN)
            die("recv: %s", strerror(errno));
    }
    close(tx);
    close(rx);
}

int main(int argc, char **argv)
{
    long count;
    bool kernel = parse_args(argc, argv, &count, 2000000);
    uint64_t t0 = now_ns();
    if (kernel)
        run_kernel((uint64_t)count);
    else
        run_ustack((uint64_t)count);
    uint64_t dt = now_ns() - t0;
    printf("{\"bench\":\"udp\",\"impl\":\"%s\",\"datagrams\":%ld,\"payload\":%d,\"seconds\":%.3f,"
           "\"datagrams_per_s\":%.0f}\n",
           argv[1], count, PAYLOAD, dt / 1e9, count / (dt / 1e9));
    return 0;
}
