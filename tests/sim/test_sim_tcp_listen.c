/* Which listener a SYN finds (Linux's __inet_lookup_listener scoring): a
 * listener bound to the SYN's destination address before one bound to
 * INADDR_ANY on the same port, whatever the order they were bound in; a
 * listener bound to one address never takes a SYN to another (a reset);
 * once the exact listener closes, the wildcard one takes its SYNs. The
 * stack has two addresses on two interfaces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawpeer.h"

static int bound_socket(struct us_stack *s, us_ip4 addr, uint16_t port)
{
    int fd = us_socket(s, US_SOCK_STREAM);
    assert_true(fd >= 0);
    int one = 1;
    assert_int_equal(us_setsockopt(s, fd, US_SOL_SOCKET, US_SO_REUSEADDR, &one, sizeof(one)), 0);
    struct us_sockaddr_in sa = {addr, port};
    assert_int_equal(us_bind(s, fd, &sa), 0);
    return fd;
}

/* Accepts the one connection waiting on lfd; checks it is from RP_RAW:sport
 * and to local:80. */
static void accept_one(struct rpeer *p, int lfd, uint16_t sport, us_ip4 local, const char *who)
{
    struct us_sockaddr_in peer, me;
    int fd = us_accept(p->s, lfd, &peer);
    if (fd < 0)
        fail_msg("%s listener has no connection from port %u (%d)", who, sport, fd);
    assert_int_equal(peer.addr, RP_RAW);
    assert_int_equal(peer.port, sport);
    assert_int_equal(us_getsockname(p->s, fd, &me), 0);
    assert_int_equal(me.addr, local);
    assert_int_equal(me.port, 80);
    us_close(p->s, fd);
}

static void assert_none(struct rpeer *p, int lfd, const char *who)
{
    int fd = us_accept(p->s, lfd, NULL);
    if (fd != -EAGAIN)
        fail_msg("%s listener took a connection meant for the other (%d)", who, fd);
}

static void test_exact_before_wildcard(void **state)
{
    (void)state;
    struct rpeer *p = rp_new(0x115e);
    /* The exact one bound first: the wildcard one is then ahead of it in
     * the port's chain, so a lookup taking the first match would fail. */
    int exact = bound_socket(p->s, RP_IP1, 80);
    int any = bound_socket(p->s, US_IP4_ANY, 80);
    assert_int_equal(us_listen(p->s, exact, 8), 0);
    assert_int_equal(us_listen(p->s, any, 8), 0);

    /* To the exact address: the exact listener, answering from it. */
    struct rp_seg sa = rp_open(p, RP_IP1, 40001, 80, 1000, 1460);
    assert_int_equal(sa.src, RP_IP1);
    accept_one(p, exact, 40001, RP_IP1, "the exact");
    assert_none(p, any, "the wildcard");
    /* To the other address: only the wildcard listener matches. */
    sa = rp_open(p, RP_IP0, 40002, 80, 2000, 1460);
    assert_int_equal(sa.src, RP_IP0);
    accept_one(p, any, 40002, RP_IP0, "the wildcard");
    assert_none(p, exact, "the exact");
    /* Several of each, interleaved: each goes where its address says. */
    for (uint16_t i = 0; i < 6; i++) {
        us_ip4 dst = (i & 1) ? RP_IP0 : RP_IP1;
        rp_open(p, dst, (uint16_t)(40100 + i), 80, 3000u + i, 1460);
        accept_one(p, (i & 1) ? any : exact, (uint16_t)(40100 + i), dst,
                   (i & 1) ? "the wildcard" : "the exact");
    }
    assert_none(p, exact, "the exact");
    assert_none(p, any, "the wildcard");

    /* The exact listener closes: the wildcard one takes its address. */
    us_close(p->s, exact);
    rp_open(p, RP_IP1, 40003, 80, 4000, 1460);
    accept_one(p, any, 40003, RP_IP1, "the wildcard");
    rp_free(p);
}

/* A listener bound to one address is no listener for another: a SYN to
 * the other address is reset, and counted as a reset sent. */
static void test_exact_only(void **state)
{
    (void)state;
    struct rpeer *p = rp_new(0x115f);
    int l = bound_socket(p->s, RP_IP0, 80);
    assert_int_equal(us_listen(p->s, l, 8), 0);
    rp_syn(p, RP_IP1, 40010, 80, 5000, 1460);
    struct rp_seg g = rp_expect(p, 40010, "a reset for a SYN to an address nobody listens on");
    assert_int_equal(g.t.flags, US_TCP_RST | US_TCP_ACK);
    assert_int_equal(g.t.ack, 5001);
    assert_int_equal(g.src, RP_IP1);
    assert_int_equal(us_accept(p->s, l, NULL), -EAGAIN);
    /* The same SYN to its own address is taken. */
    rp_open(p, RP_IP0, 40011, 80, 6000, 1460);
    accept_one(p, l, 40011, RP_IP0, "the exact");
    rp_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_before_wildcard),
        cmocka_unit_test(test_exact_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
