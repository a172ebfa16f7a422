/* A bottleneck whose queue is counted in bytes (us_wire_config's
 * queue_limit_bytes), as a router's output buffer: a burst larger than the
 * buffer loses exactly the frames that would take the queue past it (tail
 * drop, counted as tx_dropped on the port where the queue overflows), a
 * smaller frame that still fits gets in behind a dropped one, room comes
 * back frame by frame as the link drains, and a ping beside a TCP bulk
 * transfer through the bottleneck never waits longer than the buffer
 * takes to drain. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#define US       1000ull
#define BPS      10000000ull /* 10 Mbit/s */
#define QBYTES   65536u
#define UDP_HDRS (14 + 20 + 8) /* Ethernet, IPv4, UDP */
#define BIG      1000u         /* payload: a 1042-byte frame */
#define SMALL    500u          /* payload: a 542-byte frame */
#define PORT     7000

static struct tnet *bottleneck(us_time_ns latency, uint32_t qbytes)
{
    struct tnet_cfg cfg = {
        .latency = latency, .bandwidth_bps = BPS, .queue_limit_bytes = qbytes, .pkt_count = 4096};
    return tnet_new(&cfg);
}

static int udp_socket(struct us_stack *s, uint16_t port)
{
    int fd = us_socket(s, US_SOCK_DGRAM);
    assert_true(fd >= 0);
    if (port) {
        struct us_sockaddr_in sa = {US_IP4_ANY, port};
        assert_int_equal(us_bind(s, fd, &sa), 0);
    }
    int big = 4 << 20;
    assert_int_equal(us_setsockopt(s, fd, US_SOL_SOCKET, US_SO_SNDBUF, &big, sizeof(big)), 0);
    assert_int_equal(us_setsockopt(s, fd, US_SOL_SOCKET, US_SO_RCVBUF, &big, sizeof(big)), 0);
    return fd;
}

/* Sends one datagram of len bytes whose first byte is tag. */
static void send_tagged(struct tnet *n, int fd, size_t len, uint8_t tag)
{
    static uint8_t buf[2000];
    memset(buf, 0, len);
    buf[0] = tag;
    struct us_sockaddr_in to = {B_IP, PORT};
    assert_int_equal(us_sendto(n->a, fd, buf, len, 0, &to, n->now), (int)len);
}

/* Reads every datagram waiting on fd: their tags and lengths, in order. */
static unsigned drain(struct tnet *n, int fd, uint8_t *tags, size_t *lens, unsigned cap)
{
    uint8_t buf[2000];
    unsigned got = 0;
    for (;;) {
        int r = us_recv(n->b, fd, buf, sizeof(buf), 0);
        if (r == -EAGAIN)
            return got;
        assert_true(r > 0);
        assert_true(got < cap);
        tags[got] = buf[0];
        lens[got++] = (size_t)r;
    }
}

static uint64_t tx_dropped(struct tnet *n)
{
    return us_iface_dev(n->a, 0)->stats.tx_dropped;
}

static void test_burst_loses_what_does_not_fit(void **state)
{
    (void)state;
    struct tnet *n = bottleneck(1 * MS, QBYTES);
    int rx = udp_socket(n->b, PORT);
    int tx = udp_socket(n->a, 0);
    uint8_t tags[128];
    size_t lens[128];
    /* ARP first, so the burst below goes straight to the wire. */
    send_tagged(n, tx, 1, 0xff);
    run(n, 20 * MS);
    assert_int_equal(drain(n, rx, tags, lens, 128), 1);
    assert_int_equal(tx_dropped(n), 0);
    /* (b's port missed a's gratuitous ARP, sent before b had buffers.) */
    uint64_t rx_dropped = us_iface_dev(n->b, 0)->stats.rx_dropped;

    /* 80 frames of 1042 bytes at one instant: 62 fit in 64 KiB (64,604
     * bytes), the 63rd would make 65,646. A 542-byte frame still fits
     * (65,146), one more 1042-byte frame does not. */
    run(n, 0);
    for (unsigned i = 0; i < 80; i++)
        send_tagged(n, tx, BIG, (uint8_t)i);
    send_tagged(n, tx, SMALL, 200);
    send_tagged(n, tx, BIG, 201);
    run(n, 0);
    assert_int_equal(tx_dropped(n), 80 - 62 + 1);
    /* The receiver's port saw no drop: the queue overflowed at the sender. */
    assert_int_equal(us_iface_dev(n->b, 0)->stats.rx_dropped, rx_dropped);

    /* One frame's serialisation time (1042 * 8 bits at 10 Mbit/s, 833.6 us)
     * later the first frame has left: one more big frame fits, the next
     * does not. */
    run(n, 834 * US);
    send_tagged(n, tx, BIG, 202);
    send_tagged(n, tx, BIG, 203);
    run(n, 0);
    assert_int_equal(tx_dropped(n), 80 - 62 + 1 + 1);

    run(n, 200 * MS);
    unsigned got = drain(n, rx, tags, lens, 128);
    assert_int_equal(got, 62 + 1 + 1);
    for (unsigned i = 0; i < 62; i++) {
        assert_int_equal(tags[i], i);
        assert_int_equal(lens[i], BIG);
    }
    assert_int_equal(tags[62], 200);
    assert_int_equal(lens[62], SMALL);
    assert_int_equal(tags[63], 202);
    tnet_free(n);
}

/* The frame limit still applies with a byte limit: whichever is reached
 * first drops. */
static void test_frame_limit_still_applies(void **state)
{
    (void)state;
    struct tnet_cfg cfg = {.latency = 1 * MS,
                           .bandwidth_bps = BPS,
                           .queue_limit = 10,
                           .queue_limit_bytes = QBYTES,
                           .pkt_count = 4096};
    struct tnet *n = tnet_new(&cfg);
    int rx = udp_socket(n->b, PORT);
    int tx = udp_socket(n->a, 0);
    uint8_t tags[64];
    size_t lens[64];
    send_tagged(n, tx, 1, 0xff);
    run(n, 20 * MS);
    assert_int_equal(drain(n, rx, tags, lens, 64), 1);
    run(n, 0);
    for (unsigned i = 0; i < 20; i++)
        send_tagged(n, tx, 100, (uint8_t)i);
    run(n, 200 * MS);
    assert_int_equal(tx_dropped(n), 10);
    assert_int_equal(drain(n, rx, tags, lens, 64), 10);
    tnet_free(n);
}

/* Echo replies a's pinger got: the largest round trip. */
struct pinger {
    us_time_ns sent[1024];
    us_time_ns max_rtt;
    unsigned replies;
};

static void on_echo_reply(void *ctx, const struct us_ipv4_view *ip, const struct us_icmp_view *icmp,
                          us_time_ns now)
{
    (void)ip;
    struct pinger *pg = ctx;
    if (icmp->type != US_ICMP_ECHOREPLY)
        return;
    us_time_ns rtt = now - pg->sent[us_icmp_echo_seq(icmp) % 1024];
    if (rtt > pg->max_rtt)
        pg->max_rtt = rtt;
    pg->replies++;
}

/* A bulk TCP transfer from a to b through a 10 Mbit/s link with 20 ms each
 * way and a queue of qbytes bytes (0: frames only, 4096 of them), with a
 * ping from a every 10 ms on the same link: the largest ping round trip. */
static us_time_ns ping_under_load(uint32_t qbytes, uint64_t *drops, uint32_t *retrans)
{
    struct tnet *n = bottleneck(20 * MS, qbytes);
    static struct pinger pg;
    memset(&pg, 0, sizeof(pg));
    us_icmp_set_rx_handler(n->a, on_echo_reply, &pg);
    int lfd = tcp_listen_on(n->b, 5001, 4);
    int cfd = tcp_connect_to(n->a, B_IP, 5001);
    run(n, 200 * MS); /* a round trip is 40 ms */
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    static struct flow f;
    f = (struct flow){
        .tx_s = n->a, .rx_s = n->b, .tx_fd = cfd, .rx_fd = sfd, .total = 8u << 20, .salt = 0x51};
    uint16_t seq = 0;
    us_time_ns end = n->now + 60 * SEC, next_ping = n->now;
    while (!f.eof) {
        flow_step(n, &f);
        if (n->now >= next_ping) {
            run(n, 0); /* the stack's clock at now: the ping leaves now */
            pg.sent[seq % 1024] = n->now;
            uint8_t payload[56] = {0};
            assert_int_equal(
                us_icmp_echo_send(n->a, B_IP, 0x77, seq++, payload, sizeof(payload), NULL, n->now),
                0);
            next_ping = n->now + 10 * MS;
        }
        if (n->now >= end)
            fail_msg("8 MiB did not arrive in 60 s: %llu bytes", (unsigned long long)f.received);
        run(n, 1 * MS);
    }
    assert_int_equal(f.received, f.total);
    /* Most pings came back (some may meet a full queue). */
    assert_true(pg.replies > seq / 2);
    *drops = tx_dropped(n);
    *retrans = tcp_info_of(n->a, cfd).total_retrans;
    tnet_free(n);
    return pg.max_rtt;
}

/* 16 KiB of buffer at 10 Mbit/s is 13.1 ms of queueing: with 40 ms of
 * propagation no ping takes longer than 40 + 13.1 ms plus the two echo
 * frames' own serialisation (0.1 ms each); the overflow shows as drops at
 * the bottleneck and TCP recovers every byte. The same transfer with only
 * the frame limit fills the queue up to the receive window, far beyond. */
static void test_queueing_delay_bounded_by_bytes(void **state)
{
    (void)state;
    uint64_t drops;
    uint32_t retrans;
    us_time_ns rtt = ping_under_load(16384, &drops, &retrans);
    if (rtt > 40 * MS + 13108 * US + 200 * US)
        fail_msg("a ping took %.3f ms through a 16 KiB queue", (double)rtt / 1e6);
    if (rtt < 40 * MS + 10 * MS)
        fail_msg("pings took at most %.3f ms: the queue never filled", (double)rtt / 1e6);
    assert_true(drops > 0);
    assert_true(retrans > 0);
    print_message("16 KiB queue: longest ping %.3f ms, %llu drops, %u retransmitted\n",
                  (double)rtt / 1e6, (unsigned long long)drops, retrans);

    us_time_ns bloated = ping_under_load(0, &drops, &retrans);
    if (bloated < 100 * MS)
        fail_msg("without a byte limit pings took at most %.3f ms: the test shows nothing",
                 (double)bloated / 1e6);
    print_message("frame limit only: longest ping %.3f ms\n", (double)bloated / 1e6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_loses_what_does_not_fit),
        cmocka_unit_test(test_frame_limit_still_applies),
        cmocka_unit_test(test_queueing_delay_bounded_by_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
