/* TCP and ICMP errors across two ustack routers, with a narrow link in the
 * middle that neither end can see:
 *
 *   A 192.0.2.1 ─ w1 (1500) ─ R1 ─ w2 (576) ─ R2 ─ w3 (1500) ─ B 203.0.113.2
 *
 * Both ends announce an MSS for 1500 bytes, TCP sets DF, and the routers
 * answer the too-large segments with "fragmentation needed": path MTU
 * discovery (RFC 1191) brings each side's MSS down and the transfer
 * completes byte-exact both ways, without a timeout. A connect() to a host
 * R2 cannot resolve fails with EHOSTUNREACH from R2's ICMP error, long
 * before the SYN retries would have given up. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

#define A_IP     US_IP4(192, 0, 2, 1)
#define R1A_IP   US_IP4(192, 0, 2, 254)
#define R1B_IP   US_IP4(198, 51, 100, 1)
#define R2A_IP   US_IP4(198, 51, 100, 2)
#define R2B_IP   US_IP4(203, 0, 113, 254)
#define B_IP     US_IP4(203, 0, 113, 2)
#define GHOST_IP US_IP4(203, 0, 113, 77) /* on w3, but nobody has it */
#define NARROW   576
#define MS       US_NS_PER_MS
#define SEC      US_NS_PER_SEC

struct net {
    struct us_wire *w[3];
    struct us_stack *a, *r1, *r2, *b;
    struct us_stack *all[4];
    us_time_ns now;
};

static void run_for(struct net *n, us_time_ns dt)
{
    us_sim_run(n->all, 4, &n->now, n->now + dt);
}

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    uint32_t mtus[3] = {1500, NARROW, 1500};
    for (int i = 0; i < 3; i++) {
        struct us_wire_config c = {.mtu = mtus[i], .latency = 2 * MS};
        n->w[i] = us_wire_new(&c);
        assert_non_null(n->w[i]);
    }
    n->a = n->all[0] = sim_stack_new("a", 11);
    n->r1 = n->all[1] = sim_stack_new("r1", 22);
    n->r2 = n->all[2] = sim_stack_new("r2", 33);
    n->b = n->all[3] = sim_stack_new("b", 44);
    assert_int_equal(us_iface_add(n->a, us_wire_port_new(n->w[0], "a0"), A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->r1, us_wire_port_new(n->w[0], "r1a"), R1A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->r1, us_wire_port_new(n->w[1], "r1b"), R1B_IP, 24, 0), 1);
    assert_int_equal(us_iface_add(n->r2, us_wire_port_new(n->w[1], "r2a"), R2A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->r2, us_wire_port_new(n->w[2], "r2b"), R2B_IP, 24, 0), 1);
    assert_int_equal(us_iface_add(n->b, us_wire_port_new(n->w[2], "b0"), B_IP, 24, 0), 0);
    assert_int_equal(us_route_add(n->a, 0, 0, R1A_IP, 0), 0);
    assert_int_equal(us_route_add(n->r1, US_IP4(203, 0, 113, 0), 24, R2A_IP, 1), 0);
    assert_int_equal(us_route_add(n->r2, US_IP4(192, 0, 2, 0), 24, R1B_IP, 0), 0);
    assert_int_equal(us_route_add(n->b, 0, 0, R2B_IP, 0), 0);
    set_knob(n->r1, "net.ipv4.ip_forward", "1");
    set_knob(n->r2, "net.ipv4.ip_forward", "1");
    run_for(n, 10 * MS);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    for (int i = 0; i < 4; i++)
        us_stack_free(n->all[i]);
    for (int i = 0; i < 3; i++)
        us_wire_free(n->w[i]);
    free(n);
    return 0;
}

static uint8_t byte_at(uint32_t salt, uint32_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13 ^ salt);
}

/* Moves len bytes from (tx, tfd) to (rx, rfd) while the other direction
 * does the same, each checked byte by byte. */
struct flow {
    struct us_stack *tx, *rx;
    int tfd, rfd;
    uint32_t len, sent, got, salt;
};

static void flow_step(struct net *n, struct flow *f)
{
    uint8_t buf[4096];
    while (f->sent < f->len) {
        uint32_t k = f->len - f->sent < sizeof(buf) ? f->len - f->sent : (uint32_t)sizeof(buf);
        for (uint32_t i = 0; i < k; i++)
            buf[i] = byte_at(f->salt, f->sent + i);
        int w = us_send(f->tx, f->tfd, buf, k, 0, n->now);
        if (w <= 0)
            break;
        f->sent += (uint32_t)w;
    }
    int r;
    while ((r = us_recv(f->rx, f->rfd, buf, sizeof(buf), 0)) > 0) {
        for (int i = 0; i < r; i++)
            if (buf[i] != byte_at(f->salt, f->got + (uint32_t)i))
                fail_msg("byte %u differs", f->got + (uint32_t)i);
        f->got += (uint32_t)r;
    }
}

static void test_pmtud_both_ways(void **state)
{
    struct net *n = *state;
    int lfd = us_socket(n->b, US_SOCK_STREAM);
    struct us_sockaddr_in any = {US_IP4_ANY, 80};
    assert_int_equal(us_bind(n->b, lfd, &any), 0);
    assert_int_equal(us_listen(n->b, lfd, 4), 0);
    int cfd = us_socket(n->a, US_SOCK_STREAM);
    struct us_sockaddr_in to = {B_IP, 80};
    assert_int_equal(us_connect(n->a, cfd, &to), -EINPROGRESS);
    int sfd = -1;
    for (int i = 0; i < 100 && sfd < 0; i++) {
        run_for(n, 10 * MS);
        sfd = us_accept(n->b, lfd, NULL);
    }
    assert_true(sfd >= 0);
    /* The SYNs fit through; each end still believes in 1500 bytes. */
    struct us_tcp_info ai, bi;
    size_t sz = sizeof(ai);
    assert_int_equal(us_getsockopt(n->a, cfd, US_IPPROTO_TCP, US_TCP_INFO, &ai, &sz), 0);
    assert_int_equal(ai.snd_mss, 1500 - 40 - 12);

    struct flow ab = {n->a, n->b, cfd, sfd, 300000, 0, 0, 0x5a};
    struct flow ba = {n->b, n->a, sfd, cfd, 200000, 0, 0, 0xa5};
    for (int i = 0; i < 20000 && (ab.got < ab.len || ba.got < ba.len); i++) {
        flow_step(n, &ab);
        flow_step(n, &ba);
        run_for(n, 1 * MS);
    }
    assert_int_equal(ab.got, ab.len);
    assert_int_equal(ba.got, ba.len);
    /* Each side learnt the narrow link's size from "fragmentation needed"
     * (R1 told A, R2 told B) and sent on at it, without a timeout. */
    uint32_t narrow_mss = NARROW - 40 - 12;
    sz = sizeof(ai);
    assert_int_equal(us_getsockopt(n->a, cfd, US_IPPROTO_TCP, US_TCP_INFO, &ai, &sz), 0);
    sz = sizeof(bi);
    assert_int_equal(us_getsockopt(n->b, sfd, US_IPPROTO_TCP, US_TCP_INFO, &bi, &sz), 0);
    assert_int_equal(ai.snd_mss, narrow_mss);
    assert_int_equal(bi.snd_mss, narrow_mss);
    assert_true(ctr(n->r1, "IcmpOutDestUnreachs") >= 1);
    assert_true(ctr(n->r2, "IcmpOutDestUnreachs") >= 1);
    assert_true(ctr(n->a, "IcmpInDestUnreachs") >= 1);
    assert_true(ctr(n->b, "IcmpInDestUnreachs") >= 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(ctr(n->b, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(ctr(n->a, "TcpExtOutOfWindowIcmps"), 0);
}

static void test_connect_host_unreachable(void **state)
{
    struct net *n = *state;
    int fd = us_socket(n->a, US_SOCK_STREAM);
    struct us_sockaddr_in to = {GHOST_IP, 80};
    assert_int_equal(us_connect(n->a, fd, &to), -EINPROGRESS);
    us_time_ns t0 = n->now;
    while (!(us_sock_poll_events(n->a, fd) & US_POLLERR) && n->now - t0 < 60 * SEC)
        run_for(n, 100 * MS);
    /* R2 gave up resolving the ghost (a few seconds of ARP) and said so;
     * the SYN retries alone would take over two minutes. */
    assert_true(n->now - t0 < 10 * SEC);
    char c;
    assert_int_equal(us_recv(n->a, fd, &c, 1, 0), -EHOSTUNREACH);
    assert_true(ctr(n->r2, "IcmpOutDestUnreachs") >= 1);
    assert_int_equal(ctr(n->a, "TcpAttemptFails"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pmtud_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_host_unreachable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
