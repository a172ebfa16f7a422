/* UDP sockets between two stacks on a simulated wire, on the virtual clock:
 * datagram boundaries, demultiplexing as Linux's __udp4_lib_lookup (source
 * ports, specific address over INADDR_ANY, connected sockets), port
 * unreachable and ECONNREFUSED, fragmented 60,000-byte datagrams, ephemeral
 * ports, SO_RCVBUF as Linux sizes it, and a 100,000-datagram burst whose
 * every datagram is accounted for. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

#define A_IP US_IP4(192, 0, 2, 1)
#define B_IP US_IP4(192, 0, 2, 2)
#define MS   US_NS_PER_MS

struct net {
    struct us_wire *wire;
    struct us_stack *a, *b;
    struct us_stack *both[2];
    us_time_ns now;
};

static struct net *net_new(unsigned b_pkts)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    struct us_wire_config wc = {.latency = 10 * 1000, .queue_limit = 4096};
    n->wire = us_wire_new(&wc);
    struct us_stack_config ca = {.name = "a", .seed = 0xa11ce};
    struct us_stack_config cb = {.name = "b", .seed = 0xb0b, .pkt_count = b_pkts};
    n->a = us_stack_new(&ca);
    n->b = us_stack_new(&cb);
    assert_non_null(n->a);
    assert_non_null(n->b);
    assert_int_equal(us_iface_add(n->a, us_wire_port_new(n->wire, "a0"), A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->b, us_wire_port_new(n->wire, "b0"), B_IP, 24, 0), 0);
    n->both[0] = n->a;
    n->both[1] = n->b;
    return n;
}

static int setup(void **state)
{
    *state = net_new(0);
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    us_stack_free(n->a);
    us_stack_free(n->b);
    us_wire_free(n->wire);
    free(n);
    return 0;
}

static void run(struct net *n, us_time_ns dt)
{
    us_sim_run(n->both, 2, &n->now, n->now + dt);
}

static int set_int(struct us_stack *s, int fd, int opt, int v)
{
    return us_setsockopt(s, fd, US_SOL_SOCKET, opt, &v, sizeof(v));
}

static int get_int(struct us_stack *s, int fd, int opt)
{
    int v = -1;
    size_t len = sizeof(v);
    assert_int_equal(us_getsockopt(s, fd, US_SOL_SOCKET, opt, &v, &len), 0);
    return v;
}

static int udp_bound(struct us_stack *s, us_ip4 addr, uint16_t port)
{
    int fd = us_socket(s, US_SOCK_DGRAM);
    assert_true(fd >= 0);
    struct us_sockaddr_in sa = {addr, port};
    assert_int_equal(us_bind(s, fd, &sa), 0);
    return fd;
}

static void fill(uint8_t *p, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + salt + (i >> 8));
}

static void send_to(struct net *n, struct us_stack *s, int fd, const void *buf, size_t len,
                    us_ip4 addr, uint16_t port)
{
    struct us_sockaddr_in to = {addr, port};
    assert_int_equal(us_sendto(s, fd, buf, len, 0, &to, n->now), (int)len);
}

/* ---------------- round trip ---------------- */

static void test_round_trip_keeps_datagram_boundaries(void **state)
{
    struct net *n = *state;
    int srv = udp_bound(n->b, US_IP4_ANY, 7000);
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    uint8_t buf[1500], got[2000];
    static const size_t sizes[] = {1, 0, 100, 1472};
    for (unsigned i = 0; i < 4; i++) {
        fill(buf, sizes[i], i);
        send_to(n, n->a, cli, buf, sizes[i], B_IP, 7000);
    }
    struct us_sockaddr_in me;
    assert_int_equal(us_getsockname(n->a, cli, &me), 0);
    assert_true(me.port >= 32768 && me.port <= 60999); /* autobound */
    run(n, 5 * MS);
    assert_int_equal(us_sock_poll_events(n->b, srv), US_POLLIN | US_POLLOUT);
    for (unsigned i = 0; i < 4; i++) {
        struct us_sockaddr_in from;
        assert_int_equal(us_recvfrom(n->b, srv, got, sizeof(got), 0, &from), (int)sizes[i]);
        fill(buf, sizes[i], i);
        assert_memory_equal(got, buf, sizes[i]);
        assert_int_equal(from.addr, A_IP);
        assert_int_equal(from.port, me.port);
        /* The echo goes back to where it came from. */
        assert_int_equal(us_sendto(n->b, srv, got, sizes[i], 0, &from, n->now), (int)sizes[i]);
    }
    assert_int_equal(us_recv(n->b, srv, got, sizeof(got), 0), -EAGAIN);
    assert_int_equal(us_sock_poll_events(n->b, srv), US_POLLOUT);
    run(n, 5 * MS);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(us_recv(n->a, cli, got, sizeof(got), 0), (int)sizes[i]);
        fill(buf, sizes[i], i);
        assert_memory_equal(got, buf, sizes[i]);
    }
    assert_int_equal(ctr(n->b, "UdpInDatagrams"), 4);
    assert_int_equal(ctr(n->b, "UdpOutDatagrams"), 4);
    assert_int_equal(ctr(n->a, "UdpOutDatagrams"), 4);
    assert_int_equal(ctr(n->a, "UdpInDatagrams"), 4);
    assert_int_equal(ctr(n->b, "UdpNoPorts"), 0);
    assert_int_equal(us_close(n->b, srv), 0);
    assert_int_equal(us_close(n->b, srv), -EBADF);
}

static void test_short_buffer_truncates_and_msg_trunc_tells(void **state)
{
    struct net *n = *state;
    int srv = udp_bound(n->b, US_IP4_ANY, 7000);
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    uint8_t buf[300], got[300];
    fill(buf, sizeof(buf), 9);
    for (int i = 0; i < 3; i++)
        send_to(n, n->a, cli, buf, sizeof(buf), B_IP, 7000);
    run(n, 5 * MS);
    /* PEEK leaves it; TRUNC reports the real length; the rest is discarded. */
    assert_int_equal(us_recv(n->b, srv, got, 10, US_MSG_PEEK), 10);
    assert_int_equal(us_recv(n->b, srv, got, 10, US_MSG_TRUNC), 300);
    assert_memory_equal(got, buf, 10);
    assert_int_equal(us_recv(n->b, srv, got, 20, 0), 20);
    assert_int_equal(us_recv(n->b, srv, got, sizeof(got), 0), 300);
    assert_int_equal(us_recv(n->b, srv, got, sizeof(got), 0), -EAGAIN);
}

/* ---------------- demultiplexing ---------------- */

static void test_two_source_ports_one_socket_replies_to_each(void **state)
{
    struct net *n = *state;
    int srv = udp_bound(n->b, US_IP4_ANY, 7000);
    int c1 = udp_bound(n->a, US_IP4_ANY, 5001);
    int c2 = udp_bound(n->a, A_IP, 5002);
    send_to(n, n->a, c1, "one", 3, B_IP, 7000);
    send_to(n, n->a, c2, "two", 3, B_IP, 7000);
    run(n, 5 * MS);
    for (int i = 0; i < 2; i++) {
        char got[16];
        struct us_sockaddr_in from;
        assert_int_equal(us_recvfrom(n->b, srv, got, sizeof(got), 0, &from), 3);
        assert_int_equal(from.port, i == 0 ? 5001 : 5002);
        char reply[16];
        snprintf(reply, sizeof(reply), "re:%.3s", got);
        assert_int_equal(us_sendto(n->b, srv, reply, 6, 0, &from, n->now), 6);
    }
    run(n, 5 * MS);
    char got[16];
    assert_int_equal(us_recv(n->a, c1, got, sizeof(got), 0), 6);
    assert_memory_equal(got, "re:one", 6);
    assert_int_equal(us_recv(n->a, c2, got, sizeof(got), 0), 6);
    assert_memory_equal(got, "re:two", 6);
    assert_int_equal(us_recv(n->a, c1, got, sizeof(got), 0), -EAGAIN);
    assert_int_equal(us_recv(n->a, c2, got, sizeof(got), 0), -EAGAIN);
}

static void test_specific_address_beats_any(void **state)
{
    struct net *n = *state;
    /* Bound in either order, the specific socket takes the datagram. */
    int specific = us_socket(n->b, US_SOCK_DGRAM);
    int any = us_socket(n->b, US_SOCK_DGRAM);
    assert_int_equal(set_int(n->b, specific, US_SO_REUSEADDR, 1), 0);
    assert_int_equal(set_int(n->b, any, US_SO_REUSEADDR, 1), 0);
    struct us_sockaddr_in sa = {B_IP, 7000}, sany = {US_IP4_ANY, 7000};
    assert_int_equal(us_bind(n->b, specific, &sa), 0);
    assert_int_equal(us_bind(n->b, any, &sany), 0);
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    send_to(n, n->a, cli, "x", 1, B_IP, 7000);
    run(n, 5 * MS);
    char got[4];
    assert_int_equal(us_recv(n->b, specific, got, sizeof(got), 0), 1);
    assert_int_equal(us_recv(n->b, any, got, sizeof(got), 0), -EAGAIN);
    /* Without it, INADDR_ANY takes it. */
    assert_int_equal(us_close(n->b, specific), 0);
    send_to(n, n->a, cli, "y", 1, B_IP, 7000);
    run(n, 5 * MS);
    assert_int_equal(us_recv(n->b, any, got, sizeof(got), 0), 1);
    assert_int_equal(got[0], 'y');
}

static void test_connected_socket_hears_only_its_peer(void **state)
{
    struct net *n = *state;
    int c1 = udp_bound(n->a, US_IP4_ANY, 5001);
    int c2 = udp_bound(n->a, US_IP4_ANY, 5002);
    int srv = udp_bound(n->b, US_IP4_ANY, 7000);
    struct us_sockaddr_in peer = {A_IP, 5001};
    assert_int_equal(us_connect(n->b, srv, &peer), 0);
    struct us_sockaddr_in name, pn;
    assert_int_equal(us_getsockname(n->b, srv, &name), 0);
    assert_int_equal(name.addr, B_IP); /* the route's source, as ip4_datagram_connect */
    assert_int_equal(name.port, 7000);
    assert_int_equal(us_getpeername(n->b, srv, &pn), 0);
    assert_int_equal(pn.port, 5001);

    send_to(n, n->a, c2, "stranger", 8, B_IP, 7000);
    send_to(n, n->a, c1, "peer", 4, B_IP, 7000);
    run(n, 5 * MS);
    char got[16];
    struct us_sockaddr_in from;
    assert_int_equal(us_recvfrom(n->b, srv, got, sizeof(got), 0, &from), 4);
    assert_int_equal(from.port, 5001);
    assert_int_equal(us_recv(n->b, srv, got, sizeof(got), 0), -EAGAIN);
    /* The stranger found no socket: port unreachable, as Linux. */
    assert_int_equal(ctr(n->b, "UdpNoPorts"), 1);
    assert_int_equal(ctr(n->a, "IcmpInDestUnreachs"), 1);
    /* c2 is not connected: no error is reported to it. */
    assert_int_equal(us_sock_poll_events(n->a, c2), US_POLLOUT);

    /* A connected socket sends to its peer without an address. */
    assert_int_equal(us_send(n->b, srv, "hi", 2, 0, n->now), 2);
    run(n, 5 * MS);
    assert_int_equal(us_recv(n->a, c1, got, sizeof(got), 0), 2);

    /* Disconnect: hears everyone again. */
    assert_int_equal(us_connect(n->b, srv, NULL), 0);
    assert_int_equal(us_getpeername(n->b, srv, &pn), -ENOTCONN);
    assert_int_equal(us_send(n->b, srv, "hi", 2, 0, n->now), -EDESTADDRREQ);
    send_to(n, n->a, c2, "stranger", 8, B_IP, 7000);
    run(n, 5 * MS);
    assert_int_equal(us_recv(n->b, srv, got, sizeof(got), 0), 8);
}

static void test_connected_socket_scores_above_unconnected(void **state)
{
    struct net *n = *state;
    int c1 = udp_bound(n->a, US_IP4_ANY, 5001);
    int c2 = udp_bound(n->a, US_IP4_ANY, 5002);
    int conn = us_socket(n->b, US_SOCK_DGRAM);
    int open = us_socket(n->b, US_SOCK_DGRAM);
    assert_int_equal(set_int(n->b, conn, US_SO_REUSEADDR, 1), 0);
    assert_int_equal(set_int(n->b, open, US_SO_REUSEADDR, 1), 0);
    struct us_sockaddr_in sa = {US_IP4_ANY, 7100}, peer = {A_IP, 5001};
    assert_int_equal(us_bind(n->b, conn, &sa), 0);
    assert_int_equal(us_connect(n->b, conn, &peer), 0);
    assert_int_equal(us_bind(n->b, open, &sa), 0); /* bound last: first in its chain */
    send_to(n, n->a, c1, "1", 1, B_IP, 7100);
    send_to(n, n->a, c2, "2", 1, B_IP, 7100);
    run(n, 5 * MS);
    char got[4];
    assert_int_equal(us_recv(n->b, conn, got, sizeof(got), 0), 1);
    assert_int_equal(got[0], '1');
    assert_int_equal(us_recv(n->b, open, got, sizeof(got), 0), 1);
    assert_int_equal(got[0], '2');
    assert_int_equal(us_recv(n->b, conn, got, sizeof(got), 0), -EAGAIN);
    assert_int_equal(us_recv(n->b, open, got, sizeof(got), 0), -EAGAIN);
}

static void test_addrinuse_unless_reuseaddr_on_both(void **state)
{
    struct net *n = *state;
    int s1 = udp_bound(n->b, US_IP4_ANY, 7000);
    int s2 = us_socket(n->b, US_SOCK_DGRAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, 7000}, sb = {B_IP, 7000};
    assert_int_equal(us_bind(n->b, s2, &sa), -EADDRINUSE);
    assert_int_equal(us_bind(n->b, s2, &sb), -EADDRINUSE); /* ANY overlaps every address */
    assert_int_equal(set_int(n->b, s2, US_SO_REUSEADDR, 1), 0);
    assert_int_equal(us_bind(n->b, s2, &sa), -EADDRINUSE); /* s1 has not set it */
    assert_int_equal(set_int(n->b, s1, US_SO_REUSEADDR, 1), 0);
    assert_int_equal(get_int(n->b, s1, US_SO_REUSEADDR), 1);
    assert_int_equal(us_bind(n->b, s2, &sa), 0);
    assert_int_equal(us_bind(n->b, s2, &sa), -EINVAL); /* already bound */
    struct us_sockaddr_in notours = {US_IP4(192, 0, 2, 77), 7001};
    int s3 = us_socket(n->b, US_SOCK_DGRAM);
    assert_int_equal(us_bind(n->b, s3, &notours), -EADDRNOTAVAIL);
    /* Closing frees the port. */
    assert_int_equal(us_close(n->b, s1), 0);
    assert_int_equal(us_close(n->b, s2), 0);
    assert_int_equal(us_bind(n->b, s3, &sa), 0);
    assert_int_equal(s3, 2);
    assert_int_equal(us_socket(n->b, US_SOCK_DGRAM), 0); /* lowest free descriptor */
    assert_int_equal(us_socket(n->b, 99), -EINVAL);
    assert_int_equal(us_bind(n->b, 42, &sa), -EBADF);
}

/* ---------------- errors ---------------- */

struct wakeups {
    int calls, last_events;
};

static void on_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    struct wakeups *w = ctx;
    w->calls++;
    w->last_events = events;
}

static void test_closed_port_refuses_connected_sender(void **state)
{
    struct net *n = *state;
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    struct us_sockaddr_in dst = {B_IP, 9999};
    assert_int_equal(us_connect(n->a, cli, &dst), 0);
    struct wakeups w = {0};
    assert_int_equal(us_sock_set_callback(n->a, cli, on_ready, &w), 0);
    assert_int_equal(us_send(n->a, cli, "knock", 5, 0, n->now), 5);
    run(n, 5 * MS);
    assert_int_equal(ctr(n->b, "UdpNoPorts"), 1);
    assert_int_equal(ctr(n->b, "IcmpOutDestUnreachs"), 1);
    assert_int_equal(ctr(n->a, "IcmpInDestUnreachs"), 1);
    assert_int_equal(w.calls, 1);
    assert_true(w.last_events & US_POLLERR);
    assert_true(us_sock_poll_events(n->a, cli) & US_POLLERR);
    /* Reported once, on the next send, as Linux does. */
    assert_int_equal(us_send(n->a, cli, "knock", 5, 0, n->now), -ECONNREFUSED);
    assert_int_equal(us_sock_poll_events(n->a, cli), US_POLLOUT);
    assert_int_equal(us_send(n->a, cli, "knock", 5, 0, n->now), 5);
    run(n, 5 * MS);
    /* ... or on the next receive. */
    char got[8];
    assert_int_equal(us_recv(n->a, cli, got, sizeof(got), 0), -ECONNREFUSED);
    assert_int_equal(us_recv(n->a, cli, got, sizeof(got), 0), -EAGAIN);
    /* An unconnected sender hears nothing (no IP_RECVERR). */
    int other = us_socket(n->a, US_SOCK_DGRAM);
    send_to(n, n->a, other, "knock", 5, B_IP, 9999);
    run(n, 5 * MS);
    assert_int_equal(ctr(n->a, "IcmpInDestUnreachs"), 3);
    assert_int_equal(us_recv(n->a, other, got, sizeof(got), 0), -EAGAIN);
}

/* inet_shutdown on datagram sockets: the bits, -ENOTCONN for an unconnected
 * socket that is marked all the same, EOF and EPIPE, and no connections. */
static void test_shutdown_listen_accept(void **state)
{
    struct net *n = *state;
    int fd = us_socket(n->b, US_SOCK_DGRAM);
    struct us_sockaddr_in any = {US_IP4_ANY, 7100};
    assert_int_equal(us_bind(n->b, fd, &any), 0);
    assert_int_equal(us_listen(n->b, fd, 5), -EOPNOTSUPP);
    assert_int_equal(us_accept(n->b, fd, NULL), -EOPNOTSUPP);
    assert_int_equal(us_listen(n->b, 999, 5), -EBADF);
    assert_int_equal(us_shutdown(n->b, fd, 3), -EINVAL);
    assert_int_equal(us_shutdown(n->b, 999, US_SHUT_RD), -EBADF);

    uint8_t buf[16];
    assert_int_equal(us_recv(n->b, fd, buf, sizeof(buf), 0), -EAGAIN);
    assert_false(us_sock_poll_events(n->b, fd) & US_POLLIN);
    assert_int_equal(us_shutdown(n->b, fd, US_SHUT_RD), -ENOTCONN);
    /* Queued data is still read; after it, end of file. */
    assert_int_equal(us_recv(n->b, fd, buf, sizeof(buf), 0), 0);
    int ev = us_sock_poll_events(n->b, fd);
    assert_true(ev & US_POLLIN);
    assert_true(ev & US_POLLRDHUP);
    assert_false(ev & US_POLLHUP);

    int c = us_socket(n->a, US_SOCK_DGRAM);
    struct us_sockaddr_in to = {B_IP, 7100};
    assert_int_equal(us_connect(n->a, c, &to), 0);
    assert_int_equal(us_send(n->a, c, "x", 1, 0, n->now), 1);
    assert_int_equal(us_shutdown(n->a, c, US_SHUT_WR), 0);
    assert_int_equal(us_send(n->a, c, "x", 1, 0, n->now), -EPIPE);
    assert_int_equal(us_sendto(n->a, c, "x", 1, 0, &to, n->now), -EPIPE);
    assert_int_equal(us_shutdown(n->a, c, US_SHUT_RD), 0);
    assert_true(us_sock_poll_events(n->a, c) & US_POLLHUP);
}

static void test_send_errors(void **state)
{
    struct net *n = *state;
    int fd = us_socket(n->a, US_SOCK_DGRAM);
    static uint8_t big[US_UDP_MAX_PAYLOAD + 1];
    struct us_sockaddr_in to = {B_IP, 7000};
    assert_int_equal(us_sendto(n->a, fd, big, sizeof(big), 0, &to, n->now), -EMSGSIZE);
    assert_int_equal(us_send(n->a, fd, "x", 1, 0, n->now), -EDESTADDRREQ);
    struct us_sockaddr_in far = {US_IP4(198, 51, 100, 1), 7000};
    assert_int_equal(us_sendto(n->a, fd, "x", 1, 0, &far, n->now), -ENETUNREACH);
    assert_int_equal(us_connect(n->a, fd, &far), -ENETUNREACH);
    struct us_sockaddr_in bcast = {US_IP4(192, 0, 2, 255), 7000}, lbcast = {US_IP4_BROADCAST, 7000};
    assert_int_equal(us_sendto(n->a, fd, "x", 1, 0, &bcast, n->now), -EACCES);
    assert_int_equal(us_sendto(n->a, fd, "x", 1, 0, &lbcast, n->now), -EACCES);
    assert_int_equal(us_connect(n->a, fd, &bcast), -EACCES);
    assert_int_equal(us_sendto(n->a, 77, "x", 1, 0, &to, n->now), -EBADF);

    /* With SO_BROADCAST, a subnet broadcast reaches every socket on the port
     * bound to INADDR_ANY (not one bound to the unicast address). */
    int r1 = udp_bound(n->b, US_IP4_ANY, 7000);
    assert_int_equal(set_int(n->a, fd, US_SO_BROADCAST, 1), 0);
    assert_int_equal(get_int(n->a, fd, US_SO_BROADCAST), 1);
    assert_int_equal(us_sendto(n->a, fd, "b", 1, 0, &bcast, n->now), 1);
    run(n, 5 * MS);
    char got[4];
    assert_int_equal(us_recv(n->b, r1, got, sizeof(got), 0), 1);
    assert_int_equal(ctr(n->b, "UdpNoPorts"), 0);
}

/* ---------------- fragmentation ---------------- */

static void test_60000_byte_datagram_both_ways(void **state)
{
    struct net *n = *state;
    enum { LEN = 60000 };
    static uint8_t buf[LEN], got[LEN + 10];
    int srv = udp_bound(n->b, US_IP4_ANY, 7000);
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    fill(buf, LEN, 3);
    send_to(n, n->a, cli, buf, LEN, B_IP, 7000);
    run(n, 20 * MS);
    assert_int_equal(ctr(n->a, "IpFragCreates"), 41); /* 60008 bytes in 1480-byte pieces */
    assert_int_equal(ctr(n->b, "IpReasmOKs"), 1);
    struct us_sockaddr_in from;
    assert_int_equal(us_recvfrom(n->b, srv, got, sizeof(got), 0, &from), LEN);
    assert_memory_equal(got, buf, LEN);
    assert_int_equal(us_sendto(n->b, srv, got, LEN, 0, &from, n->now), LEN);
    run(n, 20 * MS);
    assert_int_equal(ctr(n->a, "IpReasmOKs"), 1);
    memset(got, 0, sizeof(got));
    assert_int_equal(us_recv(n->a, cli, got, sizeof(got), 0), LEN);
    assert_memory_equal(got, buf, LEN);
    assert_int_equal(us_stack_pkts_in_use(n->a), 0);
    assert_int_equal(us_stack_pkts_in_use(n->b), 0);
}

/* ---------------- ports and buffers ---------------- */

static void test_ephemeral_ports_from_local_port_range(void **state)
{
    struct net *n = *state;
    char buf[32];
    assert_int_equal(us_sysctl_get(n->a, "net.ipv4.ip_local_port_range", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "32768\t60999");
    char err[160];
    assert_int_equal(
        us_sysctl_set(n->a, "net.ipv4.ip_local_port_range", "500 400", err, sizeof(err)), -EINVAL);
    assert_int_equal(us_sysctl_set(n->a, "net.ipv4.ip_local_port_range", "40000", err, sizeof(err)),
                     -EINVAL);
    set_knob(n->a, "net.ipv4.ip_local_port_range", "40000 40009");
    bool seen[10] = {false};
    for (int i = 0; i < 10; i++) {
        int fd = us_socket(n->a, US_SOCK_DGRAM);
        struct us_sockaddr_in any = {0, 0}, name;
        assert_int_equal(us_bind(n->a, fd, &any), 0);
        assert_int_equal(us_getsockname(n->a, fd, &name), 0);
        assert_true(name.port >= 40000 && name.port <= 40009);
        assert_false(seen[name.port - 40000]);
        seen[name.port - 40000] = true;
    }
    int fd = us_socket(n->a, US_SOCK_DGRAM);
    struct us_sockaddr_in any = {0, 0};
    assert_int_equal(us_bind(n->a, fd, &any), -EAGAIN); /* the range is used up */
}

static void test_so_rcvbuf_doubled_and_capped_like_linux(void **state)
{
    struct net *n = *state;
    int fd = us_socket(n->b, US_SOCK_DGRAM);
    assert_int_equal(get_int(n->b, fd, US_SO_RCVBUF), 212992); /* rmem_default */
    assert_int_equal(get_int(n->b, fd, US_SO_SNDBUF), 212992); /* wmem_default */
    assert_int_equal(set_int(n->b, fd, US_SO_RCVBUF, 1 << 20), 0);
    assert_int_equal(get_int(n->b, fd, US_SO_RCVBUF), 425984); /* min(1 MiB, rmem_max) * 2 */
    assert_int_equal(set_int(n->b, fd, US_SO_RCVBUF, 1000), 0);
    assert_int_equal(get_int(n->b, fd, US_SO_RCVBUF), 2304); /* SOCK_MIN_RCVBUF */
    assert_int_equal(set_int(n->b, fd, US_SO_SNDBUF, 1000), 0);
    assert_int_equal(get_int(n->b, fd, US_SO_SNDBUF), 4608); /* SOCK_MIN_SNDBUF */
    set_knob(n->b, "net.core.rmem_max", "4194304");
    assert_int_equal(set_int(n->b, fd, US_SO_RCVBUF, 1 << 20), 0);
    assert_int_equal(get_int(n->b, fd, US_SO_RCVBUF), 2097152);
    assert_int_equal(set_int(n->b, fd, US_SO_SNDBUF, 1 << 20), 0);
    assert_int_equal(get_int(n->b, fd, US_SO_SNDBUF), 425984); /* wmem_max still 212992 */
    set_knob(n->b, "net.core.rmem_default", "65536");
    int fd2 = us_socket(n->b, US_SOCK_DGRAM);
    assert_int_equal(get_int(n->b, fd2, US_SO_RCVBUF), 65536);
    int v = 0;
    assert_int_equal(us_setsockopt(n->b, fd, US_SOL_SOCKET, 999, &v, sizeof(v)), -ENOPROTOOPT);
    assert_int_equal(us_setsockopt(n->b, fd, US_SOL_SOCKET, US_SO_RCVBUF, &v, 1), -EINVAL);
}

/* 100,000 datagrams from a to b, sent in bursts of 500 while the application
 * reads only `reads_per_burst` of them after each; then b drains. Every
 * datagram is either read or counted as a receive buffer error: the wire,
 * the devices, the backlog and the pool drop none. */
static void burst(struct net *n, int rcvbuf, int reads_per_burst, uint64_t *read_out)
{
    enum { TOTAL = 100000, PER_BURST = 500 };
    int srv = udp_bound(n->b, US_IP4_ANY, 7000);
    if (rcvbuf)
        assert_int_equal(set_int(n->b, srv, US_SO_RCVBUF, rcvbuf), 0);
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    /* Resolve ARP first so no datagram waits in the neighbour queue. */
    struct us_sockaddr_in to = {B_IP, 7000};
    int prime = us_socket(n->a, US_SOCK_DGRAM);
    struct us_sockaddr_in closed = {B_IP, 7001};
    assert_int_equal(us_sendto(n->a, prime, "p", 1, 0, &closed, n->now), 1);
    run(n, 5 * MS);
    uint64_t out0 = ctr(n->a, "UdpOutDatagrams");

    uint8_t payload[64];
    char got[64];
    uint64_t read = 0;
    for (int sent = 0; sent < TOTAL;) {
        for (int i = 0; i < PER_BURST; i++, sent++) {
            fill(payload, sizeof(payload), (unsigned)sent);
            assert_int_equal(us_sendto(n->a, cli, payload, sizeof(payload), 0, &to, n->now),
                             (int)sizeof(payload));
        }
        run(n, MS);
        for (int i = 0; i < reads_per_burst; i++)
            if (us_recv(n->b, srv, got, sizeof(got), 0) == (int)sizeof(got))
                read++;
    }
    run(n, 5 * MS);
    while (us_recv(n->b, srv, got, sizeof(got), 0) == (int)sizeof(got))
        read++;
    uint64_t sent = ctr(n->a, "UdpOutDatagrams") - out0;
    assert_int_equal(sent, TOTAL);
    assert_int_equal(us_iface_dev(n->a, 0)->stats.tx_dropped, 0);
    assert_int_equal(us_iface_dev(n->b, 0)->stats.rx_dropped, 0);
    assert_int_equal(ctr(n->b, "LinkPoolExhausted"), 0);
    assert_int_equal(ctr(n->b, "UdpInDatagrams"), read);
    assert_int_equal(sent, read + ctr(n->b, "UdpRcvbufErrors"));
    assert_int_equal(ctr(n->b, "UdpInErrors"), ctr(n->b, "UdpRcvbufErrors"));
    struct us_sock_info info;
    assert_int_equal(us_sock_info(n->b, srv, &info), 0);
    assert_int_equal(info.drops, ctr(n->b, "UdpRcvbufErrors"));
    assert_int_equal(info.rx_queue, 0);
    assert_int_equal(us_stack_pkts_in_use(n->b), 0);
    *read_out = read;
}

static void test_burst_small_rcvbuf_drops_counted_exactly(void **state)
{
    struct net *n = *state;
    uint64_t read;
    /* 4096 -> 8192 bytes: four 2 KiB buffers (0, 1, 2, 3 charged <= 8192). */
    burst(n, 4096, 2, &read);
    print_message("small rcvbuf: read %llu, RcvbufErrors %llu\n", (unsigned long long)read,
                  (unsigned long long)ctr(n->b, "UdpRcvbufErrors"));
    assert_true(ctr(n->b, "UdpRcvbufErrors") > 90000);
    assert_true(read >= 400);
}

static int setup_big_pool(void **state)
{
    *state = net_new(16384);
    return 0;
}

static void test_burst_raised_rcvbuf_loses_none(void **state)
{
    struct net *n = *state;
    set_knob(n->b, "net.core.rmem_max", "67108864");
    uint64_t read;
    /* Reads 450 of every 500: the queue grows to 10,000 datagrams (~23 MB of
     * truesize), which a 64 MiB receive buffer and a 16,384-buffer pool hold. */
    burst(n, 1 << 25, 450, &read);
    assert_int_equal(read, 100000);
    assert_int_equal(ctr(n->b, "UdpRcvbufErrors"), 0);
}

/* ---------------- the receive buffer's charge ---------------- */

/* A queued datagram is charged the memory it pins, whatever its payload:
 * the buffer it arrived in and its descriptor (us_pkt_truesize). One frame
 * lands in a buffer of the default pool (2,048 bytes plus headroom); a
 * reassembled datagram in one of the 64 KiB buffers for whole datagrams
 * (US_LARGE_BUF_SIZE in src/core/stack.c). */
#define SMALL_TRUESIZE ((uint32_t)(2048 + US_PKT_HEADROOM + sizeof(struct us_pkt)))
#define LARGE_TRUESIZE ((uint32_t)(65536 + US_PKT_HEADROOM + 64 + sizeof(struct us_pkt)))

/* __udp_enqueue_schedule_skb: a datagram is taken while the queue's charge
 * is at most rcvbuf (the check comes before the charge), so a queue of
 * datagrams of truesize T takes rcvbuf / T + 1 of them before it drops. */
static unsigned expected_queued(int rcvbuf, uint32_t truesize)
{
    return (unsigned)rcvbuf / truesize + 1;
}

/* Has A learn B's MAC, so that a burst leaves A at once. */
static void resolve_b(struct net *n)
{
    int prime = us_socket(n->a, US_SOCK_DGRAM);
    send_to(n, n->a, prime, "p", 1, B_IP, 9); /* nobody: port unreachable */
    run(n, 5 * MS);
    assert_int_equal(us_close(n->a, prime), 0);
}

/* Sends count datagrams of len bytes to srv (bound to port) in one burst,
 * then reads what srv queued. Returns how many were queued, having checked
 * that the charge is that many truesizes, that every other one is counted
 * as a drop, and that the queued ones are the first ones, intact. */
static unsigned fill_rcvbuf(struct net *n, int srv, uint16_t port, size_t len, unsigned count,
                            uint32_t truesize)
{
    uint64_t errors0 = ctr(n->b, "UdpRcvbufErrors");
    struct us_sock_info info;
    assert_int_equal(us_sock_info(n->b, srv, &info), 0);
    uint64_t drops0 = info.drops;
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    uint8_t *buf = malloc(len), *got = malloc(len + 1);
    assert_non_null(buf);
    assert_non_null(got);
    for (unsigned i = 0; i < count; i++) {
        fill(buf, len, i);
        send_to(n, n->a, cli, buf, len, B_IP, port);
    }
    run(n, 20 * MS);
    assert_int_equal(us_sock_info(n->b, srv, &info), 0);
    unsigned queued = info.rx_datagrams;
    assert_int_equal(info.rx_queue, queued * truesize);
    assert_int_equal(ctr(n->b, "UdpRcvbufErrors") - errors0, count - queued);
    assert_int_equal(info.drops - drops0, count - queued);
    for (unsigned i = 0; i < queued; i++) {
        fill(buf, len, i);
        assert_int_equal(us_recv(n->b, srv, got, len + 1, 0), (int)len);
        assert_memory_equal(got, buf, len);
    }
    assert_int_equal(us_recv(n->b, srv, got, len + 1, 0), -EAGAIN);
    assert_int_equal(us_sock_info(n->b, srv, &info), 0);
    assert_int_equal(info.rx_queue, 0);
    assert_int_equal(us_close(n->a, cli), 0);
    free(buf);
    free(got);
    return queued;
}

/* A 1-byte and a 1,472-byte datagram (one frame each) cost the same: a
 * buffer of the default pool. SO_RCVBUF 2T (doubled: 4T, on the boundary)
 * takes exactly five of either, where charging payloads would take
 * thousands of the first and six of the second. */
static void test_rcvbuf_charges_small_datagrams_their_buffer(void **state)
{
    struct net *n = *state;
    resolve_b(n);
    int srv = udp_bound(n->b, US_IP4_ANY, 7200);
    assert_int_equal(set_int(n->b, srv, US_SO_RCVBUF, (int)(2 * SMALL_TRUESIZE)), 0);
    int rcvbuf = get_int(n->b, srv, US_SO_RCVBUF);
    assert_int_equal(rcvbuf, 4 * SMALL_TRUESIZE);
    assert_int_equal(expected_queued(rcvbuf, SMALL_TRUESIZE), 5);
    assert_int_equal(fill_rcvbuf(n, srv, 7200, 1, 20, SMALL_TRUESIZE), 5);
    assert_int_equal(fill_rcvbuf(n, srv, 7200, 1472, 20, SMALL_TRUESIZE), 5);
    /* rmem_max caps the value before it is doubled: 2T, three datagrams. */
    char max[16];
    snprintf(max, sizeof(max), "%u", SMALL_TRUESIZE);
    set_knob(n->b, "net.core.rmem_max", max);
    assert_int_equal(set_int(n->b, srv, US_SO_RCVBUF, 1 << 20), 0);
    assert_int_equal(get_int(n->b, srv, US_SO_RCVBUF), 2 * SMALL_TRUESIZE);
    assert_int_equal(fill_rcvbuf(n, srv, 7200, 1, 20, SMALL_TRUESIZE), 3);
    assert_int_equal(fill_rcvbuf(n, srv, 7200, 1472, 20, SMALL_TRUESIZE), 3);
}

/* A 10,000-byte datagram, reassembled from seven fragments, is charged its
 * 64 KiB buffer: SO_RCVBUF T (doubled: 2T) takes exactly three, where its
 * payload would let twenty in. */
static void test_rcvbuf_charges_reassembled_datagrams_their_buffer(void **state)
{
    struct net *n = *state;
    resolve_b(n);
    int srv = udp_bound(n->b, US_IP4_ANY, 7200);
    assert_int_equal(set_int(n->b, srv, US_SO_RCVBUF, (int)LARGE_TRUESIZE), 0);
    int rcvbuf = get_int(n->b, srv, US_SO_RCVBUF);
    assert_int_equal(rcvbuf, 2 * LARGE_TRUESIZE);
    assert_int_equal(expected_queued(rcvbuf, LARGE_TRUESIZE), 3);
    assert_int_equal(fill_rcvbuf(n, srv, 7200, 10000, 8, LARGE_TRUESIZE), 3);
    assert_int_equal(ctr(n->b, "IpReasmOKs"), 8);
    /* A bigger buffer, more of them: 5T takes six. */
    assert_int_equal(set_int(n->b, srv, US_SO_RCVBUF, (int)(5 * LARGE_TRUESIZE / 2)), 0);
    assert_int_equal(fill_rcvbuf(n, srv, 7200, 10000, 8, LARGE_TRUESIZE), 6);
}

/* ---------------- the readiness callback ---------------- */

struct ready_log {
    struct us_stack *s;
    int fd;
    int calls, wrong_fd;
    int events[8];
    uint32_t queued[8]; /* datagrams on the socket's queue at each call */
};

static void log_ready(void *ctx, struct us_stack *s, int fd, int events)
{
    struct ready_log *l = ctx;
    if (s != l->s || fd != l->fd) {
        l->wrong_fd++;
        return;
    }
    if (l->calls < 8) {
        struct us_sock_info info;
        l->events[l->calls] = events;
        l->queued[l->calls] = us_sock_info(s, fd, &info) == 0 ? info.rx_datagrams : 0;
    }
    l->calls++;
}

/* sk_data_ready: the callback runs from the bottom half (inside the poll,
 * never inside a send) once for each datagram queued on its socket, after
 * the datagram is queued, with US_POLLIN; never for datagrams to another
 * socket or port, nor for one dropped at a full receive buffer; reading
 * does not call it, and NULL removes it. */
static void test_callback_once_per_queued_datagram(void **state)
{
    struct net *n = *state;
    int x = udp_bound(n->b, US_IP4_ANY, 7100), y = udp_bound(n->b, US_IP4_ANY, 7101);
    int quiet = udp_bound(n->b, US_IP4_ANY, 7102);
    struct ready_log lx = {.s = n->b, .fd = x}, ly = {.s = n->b, .fd = y};
    struct ready_log lq = {.s = n->b, .fd = quiet};
    assert_int_equal(us_sock_set_callback(n->b, x, log_ready, &lx), 0);
    assert_int_equal(us_sock_set_callback(n->b, y, log_ready, &ly), 0);
    assert_int_equal(us_sock_set_callback(n->b, quiet, log_ready, &lq), 0);
    assert_int_equal(us_sock_set_callback(n->b, 99, log_ready, &lq), -EBADF);

    int cli = us_socket(n->a, US_SOCK_DGRAM);
    const uint16_t order[] = {7100, 7101, 7100, 7103, 7101, 7100}; /* 7103: nobody */
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        send_to(n, n->a, cli, "d", 1, B_IP, order[i]);
    assert_int_equal(lx.calls + ly.calls + lq.calls, 0); /* nothing has arrived yet */
    run(n, 5 * MS);
    assert_int_equal(ctr(n->b, "UdpNoPorts"), 1);
    assert_int_equal(lx.calls, 3);
    assert_int_equal(ly.calls, 2);
    assert_int_equal(lq.calls, 0);
    assert_int_equal(lx.wrong_fd + ly.wrong_fd + lq.wrong_fd, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lx.events[i], US_POLLIN | US_POLLOUT);
        assert_int_equal(lx.queued[i], i + 1);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ly.events[i], US_POLLIN | US_POLLOUT);
        assert_int_equal(ly.queued[i], i + 1);
    }

    /* Reading calls nothing. */
    char got[8];
    for (int i = 0; i < 3; i++)
        assert_int_equal(us_recv(n->b, x, got, sizeof(got), 0), 1);
    assert_int_equal(us_recv(n->b, x, got, sizeof(got), 0), -EAGAIN);
    assert_int_equal(lx.calls, 3);

    /* A datagram dropped at a full buffer is not queued: no call. The
     * smallest buffer (2,304 bytes) takes one datagram, since the queue is
     * empty, and drops the next two. */
    assert_int_equal(expected_queued(2304, SMALL_TRUESIZE), 1);
    int v = 1;
    assert_int_equal(us_setsockopt(n->b, x, US_SOL_SOCKET, US_SO_RCVBUF, &v, sizeof(v)), 0);
    for (int i = 0; i < 3; i++)
        send_to(n, n->a, cli, "e", 1, B_IP, 7100);
    run(n, 5 * MS);
    assert_int_equal(ctr(n->b, "UdpRcvbufErrors"), 2);
    assert_int_equal(lx.calls, 4);
    assert_int_equal(lx.queued[3], 1);

    /* Removed: the datagram is queued, nobody is called. */
    assert_int_equal(us_sock_set_callback(n->b, y, NULL, NULL), 0);
    send_to(n, n->a, cli, "f", 1, B_IP, 7101);
    run(n, 5 * MS);
    assert_int_equal(ly.calls, 2);
    assert_int_equal(us_sock_poll_events(n->b, y), US_POLLIN | US_POLLOUT);
    assert_int_equal(lq.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_keeps_datagram_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_buffer_truncates_and_msg_trunc_tells, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_two_source_ports_one_socket_replies_to_each, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_specific_address_beats_any, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connected_socket_hears_only_its_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connected_socket_scores_above_unconnected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_addrinuse_unless_reuseaddr_on_both, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_port_refuses_connected_sender, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_listen_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_60000_byte_datagram_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ephemeral_ports_from_local_port_range, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_so_rcvbuf_doubled_and_capped_like_linux, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_burst_small_rcvbuf_drops_counted_exactly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_callback_once_per_queued_datagram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rcvbuf_charges_small_datagrams_their_buffer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rcvbuf_charges_reassembled_datagrams_their_buffer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_raised_rcvbuf_loses_none, setup_big_pool,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
