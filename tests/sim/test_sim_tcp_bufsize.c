/* The TCP buffer sysctls bound what they name. tcp_wmem: a connection that
 * gets no ACKs takes exactly its send buffer from the application, then
 * -EAGAIN, and that buffer is tcp_wmem[1], or room for twice the initial
 * window's ten segments if that is more (tcp_sndbuf_expand at the
 * handshake), never above tcp_wmem[2]; as ACKs come the buffer grows with cwnd up to tcp_wmem[2]
 * and no further. tcp_rmem: receive autotuning (Linux's tcp_rcv_space_adjust) grows the buffer on a
 * path whose bandwidth-delay product wants more than tcp_rmem[2], to exactly tcp_rmem[2] and never
 * past it; with a larger tcp_rmem[2] the same path takes it further. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"
#include "sim/tcp_util.h"

/* With tcp_wmem as given, the stack connects to a raw peer (MSS 1000,
 * a 64 KB window) that never ACKs: how many bytes us_send takes before
 * -EAGAIN. */
static uint32_t stalled_send_takes(const char *tcp_wmem)
{
    struct rtcp *t = rt_new(0x3b0f);
    set_knob(t->s, "net.ipv4.tcp_wmem", tcp_wmem);
    struct rt_syn_opts o = {.mss = 1000, .window = 65535, .wscale = -1};
    rt_connect(t, &o);
    static uint8_t buf[4096];
    uint32_t took = 0;
    int r;
    for (int i = 0; i < 1000; i++) {
        r = us_send(t->s, t->fd, buf, sizeof(buf), 0, t->now);
        if (r < 0)
            break;
        took += (uint32_t)r;
        rt_run(t, 1 * MS); /* segments go, no ACK comes back */
    }
    assert_int_equal(r, -EAGAIN);
    assert_int_equal(rt_info(t).sndbuf, (int)took);
    rt_free(t);
    return took;
}

static void test_tcp_wmem_bounds_a_stalled_send(void **state)
{
    (void)state;
    uint32_t small = stalled_send_takes("4096 8192 8192");
    uint32_t large = stalled_send_takes("4096 65536 4194304");
    uint32_t initial = stalled_send_takes("4096 8192 4194304");
    if (getenv("TCP_VERBOSE"))
        fprintf(stderr, "send buffer: %u, %u, %u bytes\n", small, large, initial);
    assert_int_equal(small, 8192);
    assert_int_equal(large, 65536);
    assert_int_equal(initial, 2 * 10 * 1000); /* 2 x 10 segments of 1000 */
}

/* Largest receive buffer b's socket had, and largest send buffer a's,
 * in 3 s of a bulk transfer a -> b over 200 Mbit/s and a 50 ms RTT (a
 * bandwidth-delay product of 1.25 MB, which autotuning answers with
 * about four times that), with the given maxima. Each is also checked
 * against its cap every millisecond. */
static void bulk_buffers(const char *tcp_rmem, int rmem_cap, const char *tcp_wmem, int wmem_cap,
                         int *max_rcvbuf, int *max_sndbuf)
{
    struct tnet_cfg c = {
        .latency = 25 * MS, .bandwidth_bps = 200000000ull, .queue_limit = 8192, .pkt_count = 24000};
    struct tnet *n = tnet_new(&c);
    set_knob(n->b, "net.ipv4.tcp_rmem", tcp_rmem);
    set_knob(n->a, "net.ipv4.tcp_wmem", tcp_wmem);
    int lfd = tcp_listen_on(n->b, 80, 4);
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 300 * MS); /* ARP, then the handshake, at 50 ms a round trip */
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    static uint8_t buf[1 << 20];
    memset(buf, 'x', sizeof(buf));
    us_time_ns end = n->now + 3 * SEC;
    uint64_t received = 0;
    *max_rcvbuf = *max_sndbuf = 0;
    while (n->now < end) {
        while (us_send(n->a, cfd, buf, sizeof(buf), 0, n->now) > 0)
            ;
        int r;
        while ((r = us_recv(n->b, sfd, buf, sizeof(buf), 0)) > 0)
            received += (uint64_t)r;
        int rb = tcp_info_of(n->b, sfd).rcvbuf, sb = tcp_info_of(n->a, cfd).sndbuf;
        if (rb > rmem_cap)
            fail_msg("rcvbuf %d above tcp_rmem[2] %d at %.3f s", rb, rmem_cap,
                     (double)n->now / 1e9);
        if (sb > wmem_cap)
            fail_msg("sndbuf %d above tcp_wmem[2] %d at %.3f s", sb, wmem_cap,
                     (double)n->now / 1e9);
        if (rb > *max_rcvbuf)
            *max_rcvbuf = rb;
        if (sb > *max_sndbuf)
            *max_sndbuf = sb;
        run(n, 1 * MS);
    }
    if (getenv("TCP_VERBOSE"))
        fprintf(stderr, "rmem %s, wmem %s: rcvbuf up to %d, sndbuf up to %d, %.1f MB\n", tcp_rmem,
                tcp_wmem, *max_rcvbuf, *max_sndbuf, (double)received / 1e6);
    assert_true(received > 0);
    assert_int_equal(sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF), *max_rcvbuf);
    tnet_free(n);
}

static void test_buffers_grow_up_to_the_sysctl_maxima(void **state)
{
    (void)state;
    int rb, sb;
    /* Caps the path would pass: the buffers grow to them exactly. */
    bulk_buffers("4096 131072 1048576", 1048576, "4096 16384 524288", 524288, &rb, &sb);
    assert_int_equal(rb, 1048576);
    assert_int_equal(sb, 524288);
    /* Linux's defaults (6 MiB, 4 MiB): the same path takes both further. */
    bulk_buffers("4096 131072 6291456", 6291456, "4096 16384 4194304", 4194304, &rb, &sb);
    if (rb <= 2 * 1048576)
        fail_msg("with tcp_rmem[2] 6 MiB the receive buffer grew only to %d", rb);
    if (sb <= 2 * 524288)
        fail_msg("with tcp_wmem[2] 4 MiB the send buffer grew only to %d", sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_wmem_bounds_a_stalled_send),
        cmocka_unit_test(test_buffers_grow_up_to_the_sysctl_maxima),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
