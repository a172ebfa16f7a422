/* SO_SNDBUF on a UDP socket, as Linux has it: each datagram sent is charged
 * its truesize (the whole packet buffer and its descriptor) to the socket
 * until the device takes it; a send that finds the charge at or above
 * SO_SNDBUF fails with EAGAIN (sock_alloc_send_pskb, non-blocking) and is
 * counted in UdpSndbufErrors. The datagrams are held here in the neighbour
 * layer's queue while the raw test host (192.0.2.9) does not answer ARP,
 * then all go out when it does, and sending works again; or in a slow
 * device (a fault injector's delay) until it passes them on. Poll shows
 * US_POLLOUT exactly while less than half the buffer is charged.
 *
 *   net.core.wmem_default  a new socket's SO_SNDBUF
 *   net.core.wmem_max      the cap on setsockopt(SO_SNDBUF), which doubles it */
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

#include "sim/rawhost.h"
#include "ustack/socket.h"

#define STACK_IP US_IP4(192, 0, 2, 2)
#define RAW_IP   US_IP4(192, 0, 2, 9)
#define MS       US_NS_PER_MS
#define PORT     5000

/* A datagram's charge: a buffer of the stack's default pool (2,048 bytes
 * plus headroom) and its descriptor, as us_pkt_truesize counts it. */
#define TRUESIZE ((uint32_t)(2048 + US_PKT_HEADROOM + sizeof(struct us_pkt)))

/* delay > 0: the stack's device holds every frame it is given that long
 * before the wire gets it (a fault injector's delay: a slow device). */
static struct rh_net *host_new(us_time_ns delay)
{
    struct us_wire_config wc = {.latency = 10 * 1000, .queue_limit = 4096};
    struct rh_net *h = rh_net_new(&wc, RAW_IP);
    h->rh.answer_arp = false; /* until the test says so */
    h->s = sim_stack_new("host", 0x5eed4);
    struct us_dev *dev = us_wire_port_new(h->wire, "host0");
    if (delay) {
        struct us_fault_config fc = {.delay = delay, .tx = true, .seed = 1};
        dev = us_fault_dev_new(dev, &fc);
    }
    rh_net_iface(h, dev, STACK_IP);
    /* Time for ARP to wait: no retries give up within the tests. */
    set_knob(h->s, "net.ipv4.neigh.default.retrans_time_ms", "60000");
    rh_run(&h->rh, &h->s, 1, &h->now, delay + MS);
    rh_clear(&h->rh);
    return h;
}

static int setup(void **state)
{
    *state = host_new(0);
    return 0;
}

static int setup_slow(void **state)
{
    *state = host_new(50 * MS);
    return 0;
}

static int teardown(void **state)
{
    rh_net_free(*state);
    return 0;
}

static int sndbuf_of(struct rh_net *h, int fd)
{
    int v = -1;
    size_t len = sizeof(v);
    assert_int_equal(us_getsockopt(h->s, fd, US_SOL_SOCKET, US_SO_SNDBUF, &v, &len), 0);
    return v;
}

static uint32_t tx_queue_of(struct rh_net *h, int fd)
{
    struct us_sock_info info;
    assert_int_equal(us_sock_info(h->s, fd, &info), 0);
    return info.tx_queue;
}

/* How many 100-byte datagrams fit before EAGAIN: Linux lets a send through
 * while the charge is below sndbuf, so the last one may overshoot it. */
static unsigned expected_fit(int sndbuf)
{
    return ((uint32_t)sndbuf + TRUESIZE - 1) / TRUESIZE;
}

/* Sends 100-byte datagrams numbered from *seq to the raw host until one
 * fails (or limit were sent); returns how many were sent and the error. */
static unsigned send_until_full(struct rh_net *h, int fd, unsigned *seq, unsigned limit, int *err)
{
    struct us_sockaddr_in to = {RAW_IP, PORT};
    uint8_t buf[100];
    unsigned sent = 0;
    *err = 0;
    while (sent < limit) {
        memset(buf, 0, sizeof(buf));
        memcpy(buf, seq, sizeof(*seq));
        int r = us_sendto(h->s, fd, buf, sizeof(buf), 0, &to, h->now);
        if (r < 0) {
            *err = r;
            break;
        }
        assert_int_equal(r, sizeof(buf));
        (*seq)++;
        sent++;
    }
    return sent;
}

/* The raw host answers the stack's request; returns the UDP datagrams
 * (from the stack to PORT) it then received, checking they are numbered
 * from first on, in order. */
static unsigned resolve_and_collect(struct rh_net *h, unsigned first)
{
    h->rh.answer_arp = true;
    rh_clear(&h->rh);
    rh_arp_request(&h->rh, STACK_IP, h->now); /* the stack learns the raw host's MAC */
    rh_net_run(h, 10 * MS);
    unsigned n = 0;
    for (unsigned i = 0; i < h->rh.ndgrams; i++) {
        struct us_ipv4_view ip;
        rh_ip(&h->rh.dgrams[i], &ip);
        struct us_udp_view udp;
        if (ip.proto != US_IPPROTO_UDP ||
            us_udp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &udp) != US_WIRE_OK ||
            udp.dport != PORT)
            continue;
        unsigned seq;
        assert_int_equal(udp.payload_len, 100);
        memcpy(&seq, udp.payload, sizeof(seq));
        assert_int_equal(seq, first + n);
        n++;
    }
    return n;
}

/* The whole cycle on one socket: fill to EAGAIN (exactly `fit` datagrams),
 * see the charge and the counters, let ARP resolve, see every datagram on
 * the wire and the charge gone, and send again. */
static void fill_drain_refill(struct rh_net *h, int fd, unsigned fit)
{
    unsigned seq = 0;
    int err;
    uint64_t sndbuf_errors = ctr(h->s, "UdpSndbufErrors");
    unsigned sent = send_until_full(h, fd, &seq, 10 * fit + 10, &err);
    if (sent != fit)
        fail_msg("SO_SNDBUF %d: %u datagrams sent before %d, expected %u (truesize %u)",
                 sndbuf_of(h, fd), sent, err, fit, TRUESIZE);
    assert_int_equal(err, -EAGAIN);
    assert_int_equal(ctr(h->s, "UdpSndbufErrors"), sndbuf_errors + 1);
    assert_int_equal(tx_queue_of(h, fd), fit * TRUESIZE);
    /* Not writable (datagram_poll: POLLOUT while under half the buffer). */
    assert_false(us_sock_poll_events(h->s, fd) & US_POLLOUT);
    /* Still full a while later: nothing has left. */
    rh_net_run(h, 100 * MS);
    assert_int_equal(us_sendto(h->s, fd, "x", 1, 0, &(struct us_sockaddr_in){RAW_IP, PORT}, h->now),
                     -EAGAIN);
    assert_int_equal(h->rh.ndgrams, 0);
    /* The address resolves: every datagram goes, in order, and the charge
     * with them. */
    assert_int_equal(resolve_and_collect(h, 0), fit);
    assert_int_equal(tx_queue_of(h, fd), 0);
    assert_true(us_sock_poll_events(h->s, fd) & US_POLLOUT);
    /* Sending works again; with the neighbour known each datagram leaves
     * in the send itself, so the buffer never fills. */
    rh_clear(&h->rh);
    unsigned more = send_until_full(h, fd, &seq, 3 * fit, &err);
    assert_int_equal(more, 3 * fit);
    assert_int_equal(err, 0);
    assert_int_equal(tx_queue_of(h, fd), 0);
    rh_net_run(h, 10 * MS);
    assert_int_equal(h->rh.ndgrams, 3 * fit);
}

static int udp_socket(struct rh_net *h)
{
    int fd = us_socket(h->s, US_SOCK_DGRAM);
    assert_true(fd >= 0);
    return fd;
}

static void set_sndbuf(struct rh_net *h, int fd, int v)
{
    assert_int_equal(us_setsockopt(h->s, fd, US_SOL_SOCKET, US_SO_SNDBUF, &v, sizeof(v)), 0);
}

/* A small SO_SNDBUF: 10,000 is doubled to 20,000, and fills after
 * ceil(20,000 / truesize) datagrams. */
static void test_small_sndbuf_fills_and_drains(void **state)
{
    struct rh_net *h = *state;
    int fd = udp_socket(h);
    set_sndbuf(h, fd, 10000);
    assert_int_equal(sndbuf_of(h, fd), 20000);
    fill_drain_refill(h, fd, expected_fit(20000));
}

/* Linux's default wmem_default, 212,992 bytes: ceil(212,992 / truesize)
 * datagrams (92 of 2,320 bytes on x86-64). */
static void test_default_wmem_default(void **state)
{
    struct rh_net *h = *state;
    int fd = udp_socket(h);
    assert_int_equal(sndbuf_of(h, fd), 212992);
    fill_drain_refill(h, fd, expected_fit(212992));
}

/* net.core.wmem_default sets a new socket's buffer, not doubled; sockets
 * made before keep theirs. */
static void test_wmem_default_sets_new_sockets(void **state)
{
    struct rh_net *h = *state;
    int before = udp_socket(h);
    set_knob(h->s, "net.core.wmem_default", "30000");
    int fd = udp_socket(h);
    assert_int_equal(sndbuf_of(h, fd), 30000);
    assert_int_equal(sndbuf_of(h, before), 212992);
    fill_drain_refill(h, fd, expected_fit(30000));
}

/* SO_SNDBUF is capped by wmem_max before it is doubled, and never below
 * SOCK_MIN_SNDBUF (4,608). */
static void test_sndbuf_capped_by_wmem_max(void **state)
{
    struct rh_net *h = *state;
    set_knob(h->s, "net.core.wmem_max", "50000");
    int fd = udp_socket(h);
    set_sndbuf(h, fd, 1000000);
    assert_int_equal(sndbuf_of(h, fd), 100000);
    fill_drain_refill(h, fd, expected_fit(100000));
}

static void test_sndbuf_floor(void **state)
{
    struct rh_net *h = *state;
    int fd = udp_socket(h);
    set_sndbuf(h, fd, 1);
    assert_int_equal(sndbuf_of(h, fd), 4608);
    fill_drain_refill(h, fd, expected_fit(4608)); /* 2 */
}

/* A datagram dropped on the way gives its charge back too: with room for
 * only 3 in the ARP queue (unres_qlen), each new one pushes the oldest
 * out, and the socket never fills. */
static void test_dropped_datagrams_are_uncharged(void **state)
{
    struct rh_net *h = *state;
    set_knob(h->s, "net.ipv4.neigh.default.unres_qlen", "3");
    int fd = udp_socket(h);
    set_sndbuf(h, fd, 10000); /* room for 9 */
    unsigned seq = 0;
    int err;
    assert_int_equal(send_until_full(h, fd, &seq, 50, &err), 50);
    assert_int_equal(err, 0);
    assert_int_equal(tx_queue_of(h, fd), 3 * TRUESIZE);
    assert_int_equal(ctr(h->s, "ArpUnresolvedDiscards"), 47);
    assert_int_equal(resolve_and_collect(h, 47), 3);
    assert_int_equal(tx_queue_of(h, fd), 0);
}

/* A socket closed with datagrams still held: they go out when the address
 * resolves (as Linux's do), and the socket's memory goes with the last
 * (AddressSanitizer checks that nothing touches it after). */
static void test_close_with_datagrams_held(void **state)
{
    struct rh_net *h = *state;
    int fd = udp_socket(h);
    set_sndbuf(h, fd, 10000);
    unsigned seq = 0;
    int err;
    unsigned sent = send_until_full(h, fd, &seq, 100, &err);
    assert_int_equal(sent, expected_fit(20000));
    assert_int_equal(us_close(h->s, fd), 0);
    /* The descriptor is free again, with a fresh, empty buffer. */
    int fd2 = udp_socket(h);
    assert_int_equal(fd2, fd);
    assert_int_equal(tx_queue_of(h, fd2), 0);
    assert_int_equal(resolve_and_collect(h, 0), sent);
    assert_int_equal(tx_queue_of(h, fd2), 0);
}

/* A device that holds frames (50 ms here) before the wire takes them: the
 * neighbour is known, and still the buffer fills, because the datagrams
 * stay charged until the device lets them go; then there is room again. */
static void test_slow_device_holds_the_charge(void **state)
{
    struct rh_net *h = *state;
    h->rh.answer_arp = true;
    rh_arp_request(&h->rh, STACK_IP, h->now); /* the stack learns the raw host */
    rh_net_run(h, MS);
    rh_clear(&h->rh);
    int fd = udp_socket(h);
    set_sndbuf(h, fd, 10000);
    unsigned seq = 0, fit = expected_fit(20000);
    int err;
    assert_int_equal(send_until_full(h, fd, &seq, 100, &err), fit);
    assert_int_equal(err, -EAGAIN);
    assert_int_equal(tx_queue_of(h, fd), fit * TRUESIZE);
    rh_net_run(h, 40 * MS); /* still held */
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(us_sendto(h->s, fd, "x", 1, 0, &(struct us_sockaddr_in){RAW_IP, PORT}, h->now),
                     -EAGAIN);
    rh_net_run(h, 20 * MS); /* 60 ms: gone, and on the wire */
    assert_int_equal(tx_queue_of(h, fd), 0);
    assert_int_equal(h->rh.ndgrams, fit);
    assert_int_equal(send_until_full(h, fd, &seq, fit, &err), fit);
    assert_int_equal(err, 0);
}

/* datagram_poll's sock_writeable: US_POLLOUT while less than half the send
 * buffer is in use, whether the charge is rising or falling. Through the
 * slow device (50 ms), one 100-byte datagram every 5 ms until the buffer is
 * full, then 1 ms steps while they leave one by one: at every step the
 * socket is writable exactly when the charge is under half of 20,000, and
 * every count of datagrams held, 0 to fit, is seen on the way down. */
static void test_pollout_while_under_half(void **state)
{
    struct rh_net *h = *state;
    h->rh.answer_arp = true;
    rh_arp_request(&h->rh, STACK_IP, h->now);
    rh_net_run(h, MS);
    rh_clear(&h->rh);
    int fd = udp_socket(h);
    set_sndbuf(h, fd, 10000);
    const uint32_t half = (uint32_t)sndbuf_of(h, fd) / 2;
    const unsigned fit = expected_fit(20000);
    /* 4 datagrams (9,280 bytes) leave it writable, the 5th (11,600) not. */
    assert_true(4 * TRUESIZE < half && 5 * TRUESIZE >= half);
    assert_int_equal(us_sock_poll_events(h->s, fd), US_POLLOUT);
    struct us_sockaddr_in to = {RAW_IP, PORT};
    uint8_t buf[100] = {0};
    for (unsigned k = 1; k <= fit; k++) {
        assert_int_equal(us_sendto(h->s, fd, buf, sizeof(buf), 0, &to, h->now), sizeof(buf));
        assert_int_equal(tx_queue_of(h, fd), k * TRUESIZE);
        bool writable = us_sock_poll_events(h->s, fd) & US_POLLOUT;
        if (writable != (k <= 4))
            fail_msg("%u datagrams held (%u of %d bytes): POLLOUT %s", k, k * TRUESIZE,
                     sndbuf_of(h, fd), writable ? "set" : "clear");
        rh_net_run(h, 5 * MS);
    }
    assert_int_equal(us_sendto(h->s, fd, buf, sizeof(buf), 0, &to, h->now), -EAGAIN);
    assert_false(us_sock_poll_events(h->s, fd) & US_POLLOUT);
    unsigned seen = 0; /* bit k: k datagrams held at some step */
    for (int step = 0; step < 200 && tx_queue_of(h, fd) > 0; step++) {
        rh_net_run(h, MS);
        uint32_t held = tx_queue_of(h, fd);
        assert_int_equal(held % TRUESIZE, 0);
        seen |= 1u << (held / TRUESIZE);
        bool writable = us_sock_poll_events(h->s, fd) & US_POLLOUT;
        if (writable != (held < half))
            fail_msg("%u bytes held of %d: POLLOUT %s", held, sndbuf_of(h, fd),
                     writable ? "set" : "clear");
    }
    assert_int_equal(tx_queue_of(h, fd), 0);
    assert_int_equal(seen, (1u << (fit + 1)) - 1); /* 0 .. fit */
    rh_net_run(h, MS);                             /* the last one crosses the wire */
    assert_int_equal(h->rh.ndgrams, fit);
}

/* The stack freed while datagrams are still held, of an open socket and
 * of a closed one (AddressSanitizer checks the order of the frees). */
static void test_stack_freed_with_datagrams_held(void **state)
{
    struct rh_net *h = *state;
    int closed = udp_socket(h), open = udp_socket(h);
    set_sndbuf(h, closed, 10000);
    unsigned seq = 0;
    int err;
    assert_int_equal(send_until_full(h, closed, &seq, 100, &err), expected_fit(20000));
    assert_int_equal(send_until_full(h, open, &seq, 5, &err), 5);
    assert_int_equal(us_close(h->s, closed), 0);
    assert_int_equal(tx_queue_of(h, open), 5 * TRUESIZE);
    /* teardown frees the stack now */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_small_sndbuf_fills_and_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_wmem_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wmem_default_sets_new_sockets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sndbuf_capped_by_wmem_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sndbuf_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_datagrams_are_uncharged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_datagrams_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_device_holds_the_charge, setup_slow, teardown),
        cmocka_unit_test_setup_teardown(test_pollout_while_under_half, setup_slow, teardown),
        cmocka_unit_test_setup_teardown(test_stack_freed_with_datagrams_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_freed_with_datagrams_held, setup_slow, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
