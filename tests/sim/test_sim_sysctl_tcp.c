/* TCP's knobs changed and seen as a user sees them: in the counters with
 * Linux's names, in segments on the wire, on the virtual clock and in
 * what accept() returns.
 *
 *   net.ipv4.tcp_max_tw_buckets        TIME_WAIT entries kept; the rest closed at once
 *   net.ipv4.tcp_fin_timeout           how long an orphan waits in FIN_WAIT2
 *   net.ipv4.tcp_slow_start_after_idle cwnd back to the initial window after idle
 *   net.ipv4.tcp_moderate_rcvbuf       receive buffer autotuning on or off
 *   net.core.somaxconn                 the cap on listen()'s backlog
 *   net.ipv4.tcp_max_syn_backlog       without SYN cookies, the cap on half-open connections
 *
 * Each is run at two values, so a stack that ignored the knob fails. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include "sim/rawhost.h"

/* a connects to a listener on b (backlog 16); returns the accepted
 * descriptor on b after the handshake, whatever the path's delay. */
static int pair(struct tnet *n, int *cfd)
{
    int lfd = tcp_listen_on(n->b, 80, 16);
    *cfd = tcp_connect_to(n->a, B_IP, 80);
    for (int i = 0; i < 100 && !(us_sock_poll_events(n->b, lfd) & US_POLLIN); i++)
        run(n, 10 * MS);
    int sfd = us_accept(n->b, lfd, NULL);
    if (sfd < 0)
        fail_msg("no connection after 1 s: %d", sfd);
    us_close(n->b, lfd);
    return sfd;
}

static void knob_int(struct us_stack *s, const char *key, int v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%d", v);
    set_knob(s, key, buf);
}

/* ---------------- tcp_max_tw_buckets ---------------- */

/* a opens `conns` connections to b and closes each first, so a is the
 * side that enters TIME_WAIT; b closes when it reads the end of file.
 * Checks the counters and the TIME-WAIT entries the socket table shows. */
static void tw_run(int max_tw, int conns)
{
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    if (max_tw >= 0)
        knob_int(n->a, "net.ipv4.tcp_max_tw_buckets", max_tw);
    int lfd = tcp_listen_on(n->b, 80, 64);
    int cfd[16], sfd[16];
    for (int i = 0; i < conns; i++)
        cfd[i] = tcp_connect_to(n->a, B_IP, 80);
    run(n, 100 * MS);
    for (int i = 0; i < conns; i++) {
        sfd[i] = us_accept(n->b, lfd, NULL);
        assert_true(sfd[i] >= 0);
    }
    for (int i = 0; i < conns; i++)
        assert_int_equal(us_close(n->a, cfd[i]), 0);
    run(n, 100 * MS);
    for (int i = 0; i < conns; i++) {
        char buf[8];
        assert_int_equal(us_recv(n->b, sfd[i], buf, sizeof(buf), 0), 0); /* EOF */
        assert_int_equal(us_close(n->b, sfd[i]), 0);
    }
    run(n, 100 * MS);
    int kept = max_tw < 0 || max_tw > conns ? conns : max_tw;
    if (ctr(n->a, "TcpExtTW") != (uint64_t)kept)
        fail_msg("tcp_max_tw_buckets %d: %llu connections entered TIME_WAIT, expected %d", max_tw,
                 (unsigned long long)ctr(n->a, "TcpExtTW"), kept);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeWaitOverflow"), (uint64_t)(conns - kept));
    /* The socket table (as ss) shows exactly the kept ones. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    us_sock_print_table(n->a, f);
    fclose(f);
    int shown = 0;
    for (const char *p = text; (p = strstr(p, "TIME-WAIT")) != NULL; p++)
        shown++;
    if (shown != kept)
        fail_msg("tcp_max_tw_buckets %d: the table shows %d in TIME-WAIT, expected %d:\n%s", max_tw,
                 shown, kept, text);
    free(text);
    /* None of them lingered or was reset: b saw orderly closes. */
    assert_int_equal(ctr(n->a, "TcpOutRsts"), 0);
    us_close(n->b, lfd);
    tnet_free(n);
}

static void test_tcp_max_tw_buckets(void **state)
{
    (void)state;
    tw_run(-1, 6); /* the default (262144): all 6 */
    tw_run(2, 6);  /* 2 kept, 4 closed at once (TCPTimeWaitOverflow) */
    tw_run(0, 6);  /* none */
}

/* ---------------- tcp_fin_timeout ---------------- */

/* a closes (its FIN is acknowledged: an orphan in FIN_WAIT2); b closes
 * `after` later. Within tcp_fin_timeout a still has the connection and
 * answers b's FIN with an ACK (TIME_WAIT); past it the connection is gone
 * and b's FIN gets a reset. Returns whether a reset. */
static bool fin_timeout_run(int fin_timeout, us_time_ns after, bool shutdown_first)
{
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    if (fin_timeout > 0)
        knob_int(n->a, "net.ipv4.tcp_fin_timeout", fin_timeout);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    if (shutdown_first) {
        /* FIN_WAIT2 with the socket still open; the close makes the orphan. */
        assert_int_equal(us_shutdown(n->a, cfd, US_SHUT_WR), 0);
        run(n, 10 * MS);
    }
    assert_int_equal(us_close(n->a, cfd), 0);
    run(n, 10 * MS); /* FIN, ACK: a is in FIN_WAIT2 */
    uint64_t rsts = ctr(n->a, "TcpOutRsts"), tw = ctr(n->a, "TcpExtTW");
    run(n, after - 10 * MS);
    char buf[8];
    assert_int_equal(us_recv(n->b, sfd, buf, sizeof(buf), 0), 0);
    assert_int_equal(us_close(n->b, sfd), 0);
    run(n, 100 * MS);
    bool reset = ctr(n->a, "TcpOutRsts") > rsts;
    /* Exactly one of the two ends. */
    assert_int_equal(ctr(n->a, "TcpExtTW") - tw, reset ? 0 : 1);
    tnet_free(n);
    return reset;
}

static void test_tcp_fin_timeout(void **state)
{
    (void)state;
    /* Linux's default, 60 s: still there after 50 s. */
    assert_false(fin_timeout_run(0, 50 * SEC, false));
    /* 5 s: there after 4.9 s, gone after 5.1 s. */
    assert_false(fin_timeout_run(5, 4900 * MS, false));
    assert_true(fin_timeout_run(5, 5100 * MS, false));
    /* 20 s: there after 19 s, gone after 21 s. */
    assert_false(fin_timeout_run(20, 19 * SEC, false));
    assert_true(fin_timeout_run(20, 21 * SEC, false));
    /* The same when a was already in FIN_WAIT2 (shutdown) when it closed. */
    assert_false(fin_timeout_run(0, 50 * SEC, true));
    assert_false(fin_timeout_run(5, 4900 * MS, true));
    assert_true(fin_timeout_run(5, 5100 * MS, true));
}

/* ---------------- tcp_slow_start_after_idle ---------------- */

/* a sends 4 MB to b (cwnd grows well past the initial window), then both
 * ends stay silent for 2 s, far past the RTO: no data and no ACKs either
 * way. Then a has 1 MB to send at once; returns the payload bytes a puts
 * on the wire in the first round trip (before any ACK can come back). */
static uint64_t after_idle_run(int slow_start_after_idle, uint32_t *cwnd_before)
{
    struct tnet_cfg c = {.latency = 10 * MS, .bandwidth_bps = 1000000000ull, .sniff = true};
    struct tnet *n = tnet_new(&c);
    knob_int(n->a, "net.ipv4.tcp_slow_start_after_idle", slow_start_after_idle);
    set_knob(n->a, "net.ipv4.tcp_wmem", "4096 4194304 4194304");
    int cfd;
    int sfd = pair(n, &cfd);
    static uint8_t buf[1 << 20];
    memset(buf, 'i', sizeof(buf));
    uint64_t sent = 0, received = 0;
    us_time_ns end = n->now + 20 * SEC;
    while (received < (4u << 20)) {
        if (n->now >= end)
            fail_msg("the 4 MB transfer did not finish: %llu bytes", (unsigned long long)received);
        if (sent < (4u << 20)) {
            int r = us_send(n->a, cfd, buf, sizeof(buf), 0, n->now);
            if (r > 0)
                sent += (uint64_t)r;
        }
        int r;
        while ((r = us_recv(n->b, sfd, buf, sizeof(buf), 0)) > 0)
            received += (uint64_t)r;
        run(n, MS);
    }
    run(n, 200 * MS); /* the last ACKs */
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    *cwnd_before = ti.snd_cwnd;
    assert_true(ti.rto < 2 * SEC);
    /* Idle: nothing at all on the wire for 2 s. */
    size_t seen = n->nseen;
    run(n, 2 * SEC);
    assert_int_equal(n->nseen, seen);
    /* Now 1 MB at once; count what leaves in the first 15 ms (the round
     * trip is 20 ms). */
    int r = us_send(n->a, cfd, buf, sizeof(buf), 0, n->now);
    assert_true(r > 0);
    run(n, 15 * MS);
    uint64_t bytes = 0;
    for (size_t i = seen; i < n->nseen; i++) {
        assert_int_equal(n->seen[i].src, A_IP); /* no ACK yet */
        bytes += n->seen[i].len;
    }
    tnet_free(n);
    return bytes;
}

static void test_tcp_slow_start_after_idle(void **state)
{
    (void)state;
    uint32_t cwnd_on, cwnd_off;
    uint64_t on = after_idle_run(1, &cwnd_on);
    uint64_t off = after_idle_run(0, &cwnd_off);
    if (getenv("TCP_VERBOSE"))
        fprintf(stderr, "after idle: %llu bytes (cwnd was %u), %llu bytes (cwnd was %u)\n",
                (unsigned long long)on, cwnd_on, (unsigned long long)off, cwnd_off);
    /* Both connections had grown cwnd (US_TCP_INFO gives it in bytes) far
     * past the initial window. */
    assert_true(cwnd_on > 40 * 14600 && cwnd_off > 40 * 14600);
    /* 1 (Linux's default): restart from the initial window, RFC 5681
     * §4.1: 10 segments (RFC 6928's 14,600 bytes) in the first round trip. */
    if (on > 14600 || on < 10 * 1400)
        fail_msg("slow_start_after_idle=1: %llu bytes in the first RTT after idle, expected the "
                 "initial window (10 segments, at most 14600 bytes)",
                 (unsigned long long)on);
    /* 0: cwnd kept: far more than the initial window goes at once. */
    if (off < 20 * 14600)
        fail_msg("slow_start_after_idle=0: %llu bytes in the first RTT after idle, expected far "
                 "more than the initial window (cwnd was %u bytes)",
                 (unsigned long long)off, cwnd_off);
}

/* ---------------- tcp_moderate_rcvbuf ---------------- */

/* a sends 8 MB to b over a 20 ms round trip at 1 Gbit/s; b reads as it
 * comes. Returns the virtual time it took; *rcvbuf gets b's SO_RCVBUF at
 * the end. */
static us_time_ns moderate_run(int moderate, int *rcvbuf)
{
    struct tnet_cfg c = {.latency = 10 * MS, .bandwidth_bps = 1000000000ull};
    struct tnet *n = tnet_new(&c);
    knob_int(n->b, "net.ipv4.tcp_moderate_rcvbuf", moderate);
    set_knob(n->a, "net.ipv4.tcp_wmem", "4096 4194304 4194304");
    int cfd;
    int sfd = pair(n, &cfd);
    /* Both start from tcp_rmem[1]. */
    assert_int_equal(sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF), 131072);
    static uint8_t buf[1 << 20];
    memset(buf, 'm', sizeof(buf));
    const uint64_t total = 8u << 20;
    uint64_t sent = 0, received = 0;
    us_time_ns start = n->now, end = n->now + 60 * SEC;
    while (received < total) {
        if (n->now >= end)
            fail_msg("the transfer did not finish: %llu bytes", (unsigned long long)received);
        if (sent < total) {
            int r = us_send(n->a, cfd, buf, sizeof(buf), 0, n->now);
            if (r > 0)
                sent += (uint64_t)r;
        }
        int r;
        while ((r = us_recv(n->b, sfd, buf, sizeof(buf), 0)) > 0)
            received += (uint64_t)r;
        run(n, MS);
    }
    *rcvbuf = sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF);
    us_time_ns took = n->now - start;
    tnet_free(n);
    return took;
}

static void test_tcp_moderate_rcvbuf_off(void **state)
{
    (void)state;
    int rb_on, rb_off;
    us_time_ns on = moderate_run(1, &rb_on);
    us_time_ns off = moderate_run(0, &rb_off);
    if (getenv("TCP_VERBOSE"))
        fprintf(stderr, "moderate 1: %.3f s rcvbuf %d; 0: %.3f s rcvbuf %d\n", (double)on / 1e9,
                rb_on, (double)off / 1e9, rb_off);
    /* 1: the buffer grew; 0: it stays at tcp_rmem[1]. */
    assert_true(rb_on > 131072);
    assert_int_equal(rb_off, 131072);
    /* Without autotuning the window (half the buffer, 64 KiB) bounds the
     * rate to 64 KiB per 20 ms round trip, ~3.3 MB/s: 8 MB takes over 2 s;
     * with it the transfer is far faster. */
    double bound = (double)(8u << 20) / (65536.0 / 0.020);
    if ((double)off / 1e9 < 0.9 * bound)
        fail_msg("moderate_rcvbuf=0: 8 MB in %.2f s, faster than a 64 KiB window allows (%.2f s)",
                 (double)off / 1e9, bound);
    assert_true(off > 2 * on);
}

/* ---------------- somaxconn ---------------- */

/* listen(fd, 8) with somaxconn capping it; 5 clients connect and nobody
 * accepts for 500 ms. Returns how many accept() then finds; *later gets
 * how many more it finds once the clients send a byte each. */
static int somaxconn_run(int somaxconn, int *later, uint64_t *overflows)
{
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    if (somaxconn >= 0)
        knob_int(n->b, "net.core.somaxconn", somaxconn);
    int lfd = tcp_listen_on(n->b, 80, 8);
    int cfd[5];
    for (int i = 0; i < 5; i++)
        cfd[i] = tcp_connect_to(n->a, B_IP, 80);
    run(n, 500 * MS);
    int got = 0, sfd;
    while ((sfd = us_accept(n->b, lfd, NULL)) >= 0)
        got++;
    assert_int_equal(sfd, -EAGAIN);
    *overflows = ctr(n->b, "TcpExtListenOverflows");
    /* Every client completed its handshake (the ones past the SYN queue
     * with a SYN cookie); the server dropped the final ACKs it had no room
     * for. A client's first data carries the ACK again, and the connection
     * is made then (as Linux's cookie check does). */
    for (int i = 0; i < 5; i++) {
        assert_true(us_sock_poll_events(n->a, cfd[i]) & US_POLLOUT);
        assert_int_equal(us_send(n->a, cfd[i], "x", 1, 0, n->now), 1);
    }
    /* (ustack drops the data that comes with the ACK that makes the
     * connection, unlike Linux; the client's retransmission brings it.) */
    int late[5], nlate = 0, readable = 0;
    for (int t = 0; t < 50 && (nlate + got < 5 || readable < nlate); t++) {
        run(n, 100 * MS);
        while (nlate < 5 && (sfd = us_accept(n->b, lfd, NULL)) >= 0)
            late[nlate++] = sfd;
        readable = 0;
        for (int i = 0; i < nlate; i++)
            readable += (us_sock_poll_events(n->b, late[i]) & US_POLLIN) != 0;
    }
    for (int i = 0; i < nlate; i++) {
        char b;
        assert_int_equal(us_recv(n->b, late[i], &b, 1, 0), 1);
        assert_int_equal(b, 'x');
    }
    *later = nlate;
    tnet_free(n);
    return got;
}

static void test_somaxconn_caps_the_backlog(void **state)
{
    (void)state;
    int later;
    uint64_t overflows;
    /* Linux's default 4096: listen(8) queues all 5. */
    assert_int_equal(somaxconn_run(-1, &later, &overflows), 5);
    assert_int_equal(overflows, 0);
    assert_int_equal(later, 0);
    /* 2: the accept queue holds 2; the other 3 handshakes' final ACKs are
     * dropped (ListenOverflows), and those clients get in with their data. */
    assert_int_equal(somaxconn_run(2, &later, &overflows), 2);
    assert_int_equal(overflows, 3);
    assert_int_equal(later, 3);
}

/* ---------------- tcp_max_syn_backlog ---------------- */

#define RAW_IP    US_IP4(192, 0, 2, 9)
#define SYNS      10
#define SYN_PORT0 40000

/* A raw host sends SYNS SYNs from different ports to a listener with
 * backlog 16 and never completes a handshake. Returns the SYN-ACKs it got
 * back in 100 ms. */
static unsigned syn_backlog_run(int max_syn_backlog, bool syncookies, uint64_t *listen_drops,
                                uint64_t *cookies)
{
    struct us_wire_config wc = {.latency = 10 * 1000, .queue_limit = 4096};
    struct us_wire *w = us_wire_new(&wc);
    struct rawhost rh;
    rh_init(&rh, w, RAW_IP);
    struct us_stack *s = sim_stack_new("b", 0xb0b5);
    assert_int_equal(us_iface_add(s, us_wire_port_new(w, "b0"), B_IP, 24, 0), 0);
    rh.peer_mac = us_iface_dev(s, 0)->mac;
    if (max_syn_backlog > 0)
        knob_int(s, "net.ipv4.tcp_max_syn_backlog", max_syn_backlog);
    knob_int(s, "net.ipv4.tcp_syncookies", syncookies);
    int lfd = tcp_listen_on(s, 80, 16);
    us_time_ns now = 0;
    rh_run(&rh, &s, 1, &now, 10 * MS);
    rh_arp_request(&rh, B_IP, now); /* the stack learns the raw host */
    rh_run(&rh, &s, 1, &now, now + 10 * MS);
    rh_clear(&rh);
    for (int i = 0; i < SYNS; i++) {
        uint8_t seg[64];
        struct us_tcp_repr r = {.sport = (uint16_t)(SYN_PORT0 + i),
                                .dport = 80,
                                .seq = 1000u * (unsigned)i,
                                .flags = US_TCP_SYN,
                                .window = 65535,
                                .opts = {.mss_present = true, .mss = 1460}};
        size_t len = rh_build_tcp(seg, &r, RAW_IP, B_IP);
        rh_send_ip(&rh, B_IP, US_IPPROTO_TCP, seg, len, NULL, now);
    }
    rh_run(&rh, &s, 1, &now, now + 100 * MS);
    unsigned synacks = 0;
    for (unsigned i = 0; i < rh.ndgrams; i++) {
        struct us_ipv4_view ip;
        struct us_tcp_view th;
        rh_ip(&rh.dgrams[i], &ip);
        if (ip.proto == US_IPPROTO_TCP &&
            us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &th) == US_WIRE_OK &&
            th.flags == (US_TCP_SYN | US_TCP_ACK))
            synacks++;
    }
    *listen_drops = ctr(s, "TcpExtListenDrops");
    *cookies = ctr(s, "TcpExtSyncookiesSent");
    us_close(s, lfd);
    us_stack_free(s);
    rh_fini(&rh);
    us_wire_free(w);
    return synacks;
}

static void test_tcp_max_syn_backlog_caps_half_open(void **state)
{
    (void)state;
    uint64_t drops, cookies;
    /* The default (1024): the backlog (16) bounds the SYN queue; all 10
     * answered. */
    assert_int_equal(syn_backlog_run(0, false, &drops, &cookies), SYNS);
    assert_int_equal(drops, 0);
    /* 8, without SYN cookies: as Linux, a SYN is dropped once fewer than
     * 8/4 = 2 slots are free: 7 half-open, the other 3 SYNs dropped
     * (ListenDrops; the backlog itself is not full, so no ReqQFullDrop). */
    assert_int_equal(syn_backlog_run(8, false, &drops, &cookies), 7);
    assert_int_equal(drops, SYNS - 7);
    assert_int_equal(cookies, 0);
    /* 4, with SYN cookies: tcp_max_syn_backlog does not apply, the
     * backlog (16) bounds the queue: all 10 half-open, no cookie. */
    assert_int_equal(syn_backlog_run(4, true, &drops, &cookies), SYNS);
    assert_int_equal(drops, 0);
    assert_int_equal(cookies, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_max_tw_buckets),
        cmocka_unit_test(test_tcp_fin_timeout),
        cmocka_unit_test(test_tcp_slow_start_after_idle),
        cmocka_unit_test(test_tcp_moderate_rcvbuf_off),
        cmocka_unit_test(test_somaxconn_caps_the_backlog),
        cmocka_unit_test(test_tcp_max_syn_backlog_caps_half_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
