/* Thousands of accepted connections share one port: 5,000 connections
 * from a to one listener on b:80 are open at once, each found by its
 * 4-tuple alone (they all have b's address and port 80). Every connection
 * carries its own bytes each way: what b reads on the socket accepted from
 * a's port p is exactly what a's socket on port p sent, and back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#define N      5000
#define UP_LEN 200 /* bytes a sends on each connection */
#define DN_LEN 300 /* bytes b sends back */
#define BATCH  100 /* connects started together (within the SYN queue) */

struct conn {
    int cfd, sfd;
    uint16_t port; /* a's */
};

/* Reads exactly len bytes of stream salt from fd, or fails naming conn i. */
static void read_exact(struct us_stack *s, int fd, uint64_t salt, size_t len, unsigned i,
                       const char *dir)
{
    uint8_t buf[512];
    int r = us_recv(s, fd, buf, sizeof(buf), 0);
    if (r != (int)len)
        fail_msg("connection %u %s: read %d bytes, expected %zu", i, dir, r, len);
    for (size_t k = 0; k < len; k++)
        if (buf[k] != pattern(salt, k))
            fail_msg("connection %u %s: byte %zu is another connection's", i, dir, k);
}

static void test_thousands_on_one_port(void **state)
{
    (void)state;
    struct tnet_cfg cfg = {.pkt_count = 16384};
    struct tnet *n = tnet_new(&cfg);
    int lfd = tcp_listen_on(n->b, 80, 4096);
    static struct conn c[N];
    /* a's port -> connection, to match what b accepts. */
    static int by_port[65536];
    for (unsigned i = 0; i < 65536; i++)
        by_port[i] = -1;
    for (unsigned i = 0; i < N; i++) {
        c[i].cfd = tcp_connect_to(n->a, B_IP, 80);
        c[i].sfd = -1;
        struct us_sockaddr_in me;
        assert_int_equal(us_getsockname(n->a, c[i].cfd, &me), 0);
        assert_int_equal(by_port[me.port], -1);
        c[i].port = me.port;
        by_port[me.port] = (int)i;
        if ((i + 1) % BATCH)
            continue;
        run(n, 5 * MS);
        for (;;) {
            struct us_sockaddr_in peer;
            int fd = us_accept(n->b, lfd, &peer);
            if (fd == -EAGAIN)
                break;
            assert_true(fd >= 0);
            assert_int_equal(peer.addr, A_IP);
            int k = by_port[peer.port];
            if (k < 0 || c[k].sfd >= 0)
                fail_msg("accepted a connection from unknown or repeated port %u", peer.port);
            struct us_sockaddr_in local;
            assert_int_equal(us_getsockname(n->b, fd, &local), 0);
            assert_int_equal(local.addr, B_IP);
            assert_int_equal(local.port, 80);
            c[k].sfd = fd;
        }
    }
    for (unsigned i = 0; i < N; i++)
        if (c[i].sfd < 0 || !(us_sock_poll_events(n->a, c[i].cfd) & US_POLLOUT))
            fail_msg("connection %u (port %u) was not established", i, c[i].port);
    assert_int_equal(ctr(n->b, "TcpCurrEstab"), N);
    assert_int_equal(ctr(n->b, "TcpPassiveOpens"), N);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesSent"), 0);

    /* Each way, every connection its own bytes. */
    uint8_t buf[512];
    for (unsigned i = 0; i < N; i++) {
        for (size_t k = 0; k < UP_LEN; k++)
            buf[k] = pattern(10000 + i, k);
        assert_int_equal(us_send(n->a, c[i].cfd, buf, UP_LEN, 0, n->now), UP_LEN);
    }
    run(n, 100 * MS);
    for (unsigned i = 0; i < N; i++) {
        read_exact(n->b, c[i].sfd, 10000 + i, UP_LEN, i, "a to b");
        for (size_t k = 0; k < DN_LEN; k++)
            buf[k] = pattern(50000 + i, k);
        assert_int_equal(us_send(n->b, c[i].sfd, buf, DN_LEN, 0, n->now), DN_LEN);
    }
    run(n, 100 * MS);
    for (unsigned i = 0; i < N; i++)
        read_exact(n->a, c[i].cfd, 50000 + i, DN_LEN, i, "b to a");

    /* All close; every one reaches the end (b's sides see EOF). */
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(us_close(n->a, c[i].cfd), 0);
    run(n, 100 * MS);
    for (unsigned i = 0; i < N; i++) {
        int r = us_recv(n->b, c[i].sfd, buf, sizeof(buf), 0);
        if (r != 0)
            fail_msg("connection %u: %d at the peer's close, expected EOF", i, r);
        assert_int_equal(us_close(n->b, c[i].sfd), 0);
    }
    run(n, 100 * MS);
    assert_int_equal(ctr(n->b, "TcpCurrEstab"), 0);
    assert_int_equal(ctr(n->a, "TcpCurrEstab"), 0);
    us_close(n->b, lfd);
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thousands_on_one_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
