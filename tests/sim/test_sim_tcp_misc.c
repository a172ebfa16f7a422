/* SYN cookies when the SYN queue is full (a flood of SYNs from a host that
 * never answers does not stop a legitimate connection, which keeps window
 * scaling and SACK through the cookie's timestamp; an ACK with a bad
 * cookie is reset), the half-open children's SYN-ACK retransmissions
 * (tcp_synack_retries, doubling from 1 s) and their drop, keepalive probes
 * and the drop after TCP_KEEPCNT of them, tcp_max_orphans, the sysctls and
 * counters TCP adds, and the accept queue's bound (ListenOverflows). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include "sim/rawhost.h"

#define FAKE_IP US_IP4(192, 0, 2, 9)

/* Runs both stacks for dt in 1 ms steps; after each the raw host (FAKE_IP:
 * answers ARP, never TCP) takes what reached it. */
static void run_rh(struct tnet *n, struct rawhost *rh, us_time_ns dt)
{
    us_time_ns end = n->now + dt;
    while (n->now < end) {
        run(n, end - n->now < MS ? end - n->now : MS);
        rh_drain(rh, n->now);
    }
}

/* A raw segment from FAKE_IP:sport to b:80; a SYN offers MSS 1460 and
 * nothing else. */
static void send_from_fake(struct tnet *n, struct rawhost *rh, uint16_t sport, uint8_t flags,
                           uint32_t seq, uint32_t ack)
{
    struct us_tcp_repr r = {
        .sport = sport, .dport = 80, .seq = seq, .ack = ack, .flags = flags, .window = 65535};
    if (flags & US_TCP_SYN) {
        r.opts.mss_present = true;
        r.opts.mss = 1460;
    }
    uint8_t seg[64];
    size_t len = rh_build_tcp(seg, &r, FAKE_IP, B_IP);
    rh_send_ip(rh, B_IP, US_IPPROTO_TCP, seg, len, NULL, n->now);
}

/* A segment b sent the raw host, with its arrival time. */
struct fake_seg {
    us_time_ns at;
    uint16_t dport;
    uint8_t flags;
    uint32_t seq, ack;
};

/* The segments b sent the raw host for port dport (0: any), from its
 * datagram `from` on, up to max. */
static unsigned segs_to_fake(const struct rawhost *rh, unsigned from, uint16_t dport,
                             struct fake_seg *out, unsigned max)
{
    unsigned k = 0;
    for (unsigned i = from; i < rh->ndgrams; i++) {
        struct us_ipv4_view ip;
        struct us_tcp_view t;
        rh_ip(&rh->dgrams[i], &ip);
        if (ip.proto != US_IPPROTO_TCP || ip.src != B_IP ||
            us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &t) != 0)
            fail_msg("b sent the raw host something other than TCP");
        if (dport && t.dport != dport)
            continue;
        assert_true(k < max);
        out[k++] = (struct fake_seg){rh->dgrams[i].at, t.dport, t.flags, t.seq, t.ack};
    }
    return k;
}

static void test_syn_flood_then_cookies(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    static struct rawhost rh;
    rh_init(&rh, n->wire, FAKE_IP);
    rh.peer_mac = us_iface_dev(n->b, 0)->mac;
    /* b learns the flooding host's address first, so that its SYN-ACKs go
     * out when sent, not after an ARP round. */
    rh_arp_request(&rh, B_IP, n->now);
    run_rh(n, &rh, 5 * MS);
    rh_clear(&rh);
    /* A SYN-RECEIVED child sends its SYN-ACK tcp_synack_retries more times
     * (not the default 5, so that a stack ignoring the knob fails). */
    set_knob(n->b, "net.ipv4.tcp_synack_retries", "3");
    int lfd = tcp_listen_on(n->b, 80, 4);
    us_time_ns t_flood = n->now;
    for (uint16_t i = 0; i < 50; i++)
        send_from_fake(n, &rh, (uint16_t)(10000 + i), US_TCP_SYN, 1000u * i, 0);
    run_rh(n, &rh, 5 * MS);
    /* Four half-open children fill the SYN queue; the rest got cookies:
     * one SYN-ACK each, acknowledging its SYN. */
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesSent"), 46);
    struct fake_seg sa[64];
    assert_int_equal(segs_to_fake(&rh, 0, 0, sa, 64), 50);
    for (unsigned i = 0; i < 50; i++) {
        assert_int_equal(sa[i].flags, US_TCP_SYN | US_TCP_ACK);
        assert_int_equal(sa[i].ack, 1000u * (sa[i].dport - 10000) + 1);
    }

    /* While the SYN queue overflows (cookies in use), an ACK whose ack
     * number is not a valid cookie is refused: no connection, a reset
     * whose sequence number is that ack number (RFC 9293 §3.10.7.2), and
     * SyncookiesFailed, as Linux's cookie_v4_check failing. The forger
     * takes the cookie b sent port 10010 and is off by one. */
    uint32_t cookie = 0;
    for (unsigned i = 0; i < 50; i++)
        if (sa[i].dport == 10010)
            cookie = sa[i].seq;
    unsigned mark = rh.ndgrams;
    send_from_fake(n, &rh, 10010, US_TCP_ACK, 1000u * 10 + 1, cookie + 2);
    run_rh(n, &rh, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesFailed"), 1);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesRecv"), 0);
    assert_int_equal(us_accept(n->b, lfd, NULL), -EAGAIN);
    assert_int_equal(ctr(n->b, "TcpPassiveOpens"), 0);
    struct fake_seg rst[4];
    assert_int_equal(segs_to_fake(&rh, mark, 0, rst, 4), 1);
    assert_int_equal(rst[0].dport, 10010);
    assert_int_equal(rst[0].flags, US_TCP_RST);
    assert_int_equal(rst[0].seq, cookie + 2);
    /* The right ack number, cookie + 1, gets in: it was the cookie that
     * was refused. */
    mark = rh.ndgrams;
    send_from_fake(n, &rh, 10010, US_TCP_ACK, 1000u * 10 + 1, cookie + 1);
    run_rh(n, &rh, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesRecv"), 1);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesFailed"), 1);
    struct us_sockaddr_in peer;
    int ffd = us_accept(n->b, lfd, &peer);
    assert_true(ffd >= 0);
    assert_int_equal(peer.addr, FAKE_IP);
    assert_int_equal(peer.port, 10010);
    assert_int_equal(rh.ndgrams, mark); /* and nothing said back */

    /* A legitimate client still gets in, through a cookie. */
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    run_rh(n, &rh, 5 * MS);
    assert_true(us_sock_poll_events(n->a, cfd) & US_POLLOUT);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesRecv"), 2);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    /* The cookie's timestamp kept the SYN's options: both sides agree on
     * window scaling, SACK and timestamps. */
    struct us_tcp_info si = tcp_info_of(n->b, sfd), ci = tcp_info_of(n->a, cfd);
    assert_int_equal(si.options, US_TCPI_OPT_TIMESTAMPS | US_TCPI_OPT_SACK | US_TCPI_OPT_WSCALE);
    assert_int_equal(ci.options, si.options);
    assert_int_equal(si.snd_wscale, ci.rcv_wscale);
    assert_int_equal(si.rcv_wscale, ci.snd_wscale);
    assert_true(si.rcv_wscale > 0);
    transfer(n, cfd, sfd, 300000, 200000, 1 * MS, 20 * SEC);
    rh_drain(&rh, n->now);
    /* A client without timestamps gets in through a cookie too, without
     * window scaling or SACK (nowhere to keep them), as with Linux. */
    set_knob(n->a, "net.ipv4.tcp_timestamps", "0");
    int cfd2 = tcp_connect_to(n->a, B_IP, 80);
    run_rh(n, &rh, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesRecv"), 3);
    int sfd2 = us_accept(n->b, lfd, NULL);
    assert_true(sfd2 >= 0);
    si = tcp_info_of(n->b, sfd2);
    ci = tcp_info_of(n->a, cfd2);
    assert_int_equal(si.options, 0);
    assert_int_equal(ci.options, 0);
    transfer(n, cfd2, sfd2, 100000, 100000, 1 * MS, 20 * SEC);
    rh_drain(&rh, n->now);

    /* With cookies off, the flood's SYNs beyond the queue are dropped:
     * no SYN-ACK. */
    set_knob(n->b, "net.ipv4.tcp_syncookies", "0");
    uint64_t drops = ctr(n->b, "TcpExtListenDrops");
    for (uint16_t i = 0; i < 10; i++)
        send_from_fake(n, &rh, (uint16_t)(20000 + i), US_TCP_SYN, 7u * i, 0);
    run_rh(n, &rh, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtListenDrops"), drops + 10);
    /* The half-open children resend their SYN-ACKs 1, 2 and 4 s apart
     * (RFC 6298 §5.5's doubling from Linux's 1 s), tcp_synack_retries = 3
     * times in all, and are dropped after another 8 s: at 15 s a SYN is
     * still refused for want of room; just after it, one is taken. */
    if (n->now > t_flood + 14 * SEC)
        fail_msg("the cookie part took %.3f s, past the children's lifetime",
                 (double)(n->now - t_flood) / 1e9);
    run_rh(n, &rh, t_flood + 15 * SEC - 10 * MS - n->now);
    send_from_fake(n, &rh, 30000, US_TCP_SYN, 5, 0);
    run_rh(n, &rh, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtListenDrops"), drops + 11);
    run_rh(n, &rh, t_flood + 15 * SEC + 10 * MS - n->now);
    send_from_fake(n, &rh, 30001, US_TCP_SYN, 5, 0);
    run_rh(n, &rh, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtListenDrops"), drops + 11);
    run_rh(n, &rh, 20 * SEC);
    for (uint16_t port = 10000; port < 10004; port++) {
        struct fake_seg g[16];
        unsigned k = segs_to_fake(&rh, 0, port, g, 16);
        if (k != 4)
            fail_msg("port %u: %u SYN-ACKs, expected 1 + tcp_synack_retries = 4", port, k);
        us_time_ns expect = t_flood, gap = 1 * SEC;
        for (unsigned i = 0; i < k; i++) {
            assert_int_equal(g[i].flags, US_TCP_SYN | US_TCP_ACK);
            assert_int_equal(g[i].seq, g[0].seq);
            assert_int_equal(g[i].ack, 1000u * (port - 10000) + 1);
            if (g[i].at + 2 * MS < expect || g[i].at > expect + 2 * MS)
                fail_msg("port %u: SYN-ACK %u at %.3f s, expected %.3f s", port, i + 1,
                         (double)(g[i].at - t_flood) / 1e9, (double)(expect - t_flood) / 1e9);
            expect += gap;
            gap *= 2;
        }
    }
    /* Nothing for the dropped SYNs; the one taken after the drop has its
     * SYN-ACK. */
    struct fake_seg g[16];
    for (uint16_t port = 20000; port < 20010; port++)
        assert_int_equal(segs_to_fake(&rh, 0, port, g, 16), 0);
    assert_int_equal(segs_to_fake(&rh, 0, 30000, g, 16), 0);
    assert_true(segs_to_fake(&rh, 0, 30001, g, 16) >= 1);
    assert_int_equal(g[0].flags, US_TCP_SYN | US_TCP_ACK);
    rh_fini(&rh);
    tnet_free(n);
}

/* net.ipv4.tcp_max_orphans = 1: of three connections a closes while b
 * keeps its ends open, the first lingers as an orphan in FIN_WAIT2 and the
 * other two are reset (TCPAbortOnMemory), as Linux's tcp_close does. */
static void test_max_orphans(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    set_knob(n->a, "net.ipv4.tcp_max_orphans", "1");
    int lfd = tcp_listen_on(n->b, 80, 8);
    int cfd[3], sfd[3];
    for (int i = 0; i < 3; i++) {
        cfd[i] = tcp_connect_to(n->a, B_IP, 80);
        run(n, 5 * MS);
        sfd[i] = us_accept(n->b, lfd, NULL);
        assert_true(sfd[i] >= 0);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(us_close(n->a, cfd[i]), 0);
    run(n, 5 * MS);
    assert_int_equal(ctr(n->a, "TcpExtTCPAbortOnMemory"), 2);
    /* b: the first peer said FIN, the other two reset. */
    char ch;
    assert_int_equal(us_recv(n->b, sfd[0], &ch, 1, 0), 0);
    assert_int_equal(us_recv(n->b, sfd[1], &ch, 1, 0), -ECONNRESET);
    assert_int_equal(us_recv(n->b, sfd[2], &ch, 1, 0), -ECONNRESET);
    /* Once the orphan is gone, the next close is graceful again. */
    us_close(n->b, sfd[0]);
    run(n, 5 * MS);
    int c4 = tcp_connect_to(n->a, B_IP, 80);
    run(n, 5 * MS);
    int s4 = us_accept(n->b, lfd, NULL);
    assert_true(s4 >= 0);
    assert_int_equal(us_close(n->a, c4), 0);
    run(n, 5 * MS);
    assert_int_equal(ctr(n->a, "TcpExtTCPAbortOnMemory"), 2);
    assert_int_equal(us_recv(n->b, s4, &ch, 1, 0), 0);
    tnet_free(n);
}

static void test_accept_queue_bound(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    tcp_listen_on(n->b, 80, 2);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = tcp_connect_to(n->a, B_IP, 80);
    run(n, 20 * MS);
    assert_true(ctr(n->b, "TcpExtListenOverflows") >= 3);
    assert_int_equal(ctr(n->b, "TcpPassiveOpens"), 2);
    (void)fds;
    tnet_free(n);
}

/* a's probes in n->seen[from..]: bare ACKs, no data, all with the same
 * sequence number (*seq). Fails on anything else from a but a final
 * reset; *rst_at gets the reset's time (0: none). */
static unsigned keepalive_probes(struct tnet *n, size_t from, us_time_ns *at, unsigned max,
                                 uint32_t *seq, us_time_ns *rst_at)
{
    unsigned k = 0;
    *rst_at = 0;
    for (size_t i = from; i < n->nseen; i++) {
        const struct seen_seg *g = &n->seen[i];
        if (g->src != A_IP)
            continue;
        if (*rst_at)
            fail_msg("a sent something after its reset");
        if (g->flags & US_TCP_RST) {
            *rst_at = g->at;
            continue;
        }
        assert_int_equal(g->flags, US_TCP_ACK);
        assert_int_equal(g->len, 0);
        if (k)
            assert_int_equal(g->seq, *seq);
        *seq = g->seq;
        assert_true(k < max);
        at[k++] = g->at;
    }
    return k;
}

static void assert_near(us_time_ns got, us_time_ns want, const char *what, unsigned i)
{
    if (got + 2 * MS < want || got > want + 2 * MS)
        fail_msg("%s %u at %.3f s, expected %.3f s", what, i, (double)got / 1e9,
                 (double)want / 1e9);
}

/* a's end of an idle connection with SO_KEEPALIVE, TCP_KEEPIDLE 10 s and
 * the given TCP_KEEPINTVL and TCP_KEEPCNT (Linux's tcp_keepalive_timer):
 * while the peer answers, one probe per 10 s of idleness and no drop; once
 * it is gone, cnt probes intvl apart from 10 s after the last thing heard,
 * then at 10 + cnt * intvl s a reset and ETIMEDOUT. */
static void keepalive_run(int cnt, int intvl)
{
    struct tnet_cfg c = {.sniff = true};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    (void)sfd;
    set_sock_int(n->a, cfd, US_SOL_SOCKET, US_SO_KEEPALIVE, 1);
    set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPIDLE, 10);
    set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPINTVL, intvl);
    set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPCNT, cnt);
    assert_int_equal(sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPIDLE), 10);
    assert_int_equal(sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPINTVL), intvl);
    assert_int_equal(sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPCNT), cnt);
    /* The stack's clock when the options were set (the end of its last
     * round, which may be before n->now). */
    us_time_ns t0 = us_stack_now(n->a);
    size_t from = n->nseen;
    /* The peer answers: a probe at 10, 20 and 30 s, each answered at once. */
    for (int i = 0; i < 35000; i++)
        run(n, 1 * MS);
    us_time_ns at[16], rst_at;
    uint32_t seq = 0;
    assert_int_equal(keepalive_probes(n, from, at, 16, &seq, &rst_at), 3);
    assert_int_equal(rst_at, 0);
    for (unsigned i = 0; i < 3; i++)
        assert_near(at[i] - t0, (i + 1) * 10 * SEC, "answered probe", i + 1);
    /* Each answer: an ACK of snd_una, one above the probe's sequence
     * number (Linux's probe is an old one, snd_una - 1). */
    us_time_ns heard = 0;
    unsigned answers = 0;
    for (size_t i = from; i < n->nseen; i++)
        if (n->seen[i].src == B_IP) {
            assert_true(answers < 3);
            assert_int_equal(n->seen[i].flags, US_TCP_ACK);
            assert_int_equal(n->seen[i].len, 0);
            assert_int_equal(n->seen[i].ack, seq + 1);
            assert_near(n->seen[i].at, at[answers], "answer", answers + 1);
            heard = n->seen[i].at;
            answers++;
        }
    assert_int_equal(answers, 3);
    assert_near(heard - t0, 30 * SEC, "answer", 3);
    assert_int_equal(ctr(n->a, "TcpExtTCPKeepAlive"), 3);
    assert_int_equal(tcp_info_of(n->a, cfd).state, US_TCP_ESTABLISHED);

    /* The peer vanishes (b no longer runs): the connection ends when a
     * socket error shows, at most 100 s on. */
    struct us_stack *only_a[1] = {n->a};
    from = n->nseen;
    us_time_ns gone = n->now;
    while (!(us_sock_poll_events(n->a, cfd) & US_POLLERR)) {
        if (n->now - gone > 100 * SEC)
            fail_msg("TCP_KEEPCNT %d: still no error 100 s after the peer went", cnt);
        us_sim_run(only_a, 1, &n->now, n->now + 1 * MS);
        sniff_drain(n);
    }
    us_time_ns end = n->now;
    uint32_t seq2 = 0;
    unsigned k = keepalive_probes(n, from, at, 16, &seq2, &rst_at);
    if (k != (unsigned)cnt)
        fail_msg("%u unanswered probes, expected TCP_KEEPCNT = %d", k, cnt);
    assert_int_equal(seq2, seq);
    for (unsigned i = 0; i < k; i++)
        assert_near(at[i] - heard, 10 * SEC + i * (us_time_ns)intvl * SEC, "unanswered probe",
                    i + 1);
    us_time_ns want = 10 * SEC + (us_time_ns)cnt * intvl * SEC;
    assert_near(end - heard, want, "error", 0);
    /* As Linux's tcp_keepalive_timer: a reset to the peer, then the error. */
    if (!rst_at)
        fail_msg("no reset when keepalive gave up");
    assert_near(rst_at - heard, want, "reset", 0);
    assert_int_equal(ctr(n->a, "TcpExtTCPKeepAlive"), 3 + (uint64_t)cnt);
    char b[4];
    assert_int_equal(us_recv(n->a, cfd, b, sizeof(b), 0), -ETIMEDOUT);
    tnet_free(n);
}

/* Two TCP_KEEPCNT values (and intervals), so that a stack ignoring either
 * fails: 3 probes 2 s apart (gone at 16 s), 5 probes 3 s apart (25 s). */
static void test_keepalive(void **state)
{
    (void)state;
    keepalive_run(3, 2);
    keepalive_run(5, 3);
}

static void test_sysctls_and_counters(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    char buf[64];
    assert_int_equal(us_sysctl_get(n->a, "net.ipv4.tcp_rmem", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "4096\t131072\t6291456");
    assert_int_equal(us_sysctl_get(n->a, "net.ipv4.tcp_wmem", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "4096\t16384\t4194304");
    assert_int_equal(us_sysctl_get(n->a, "net.ipv4.tcp_congestion_control", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "cubic");
    char err[160];
    assert_int_equal(
        us_sysctl_set(n->a, "net.ipv4.tcp_congestion_control", "vegas", err, sizeof(err)), -ENOENT);
    assert_int_equal(us_sysctl_set(n->a, "net.ipv4.tcp_rmem", "1 2", err, sizeof(err)), -EINVAL);
    assert_int_equal(us_sysctl_set(n->a, "net.ipv4.tcp_rmem", "3 2 1", err, sizeof(err)), -EINVAL);
    set_knob(n->a, "net.ipv4.tcp_congestion_control", "reno");
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    (void)sfd;
    assert_string_equal(tcp_info_of(n->a, cfd).ca_name, "reno");
    assert_true(ctr(n->a, "TcpOutSegs") > 0);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 0);
    /* Explicit SO_RCVBUF locks the buffer: no autotuning. */
    set_sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF, 50000);
    assert_int_equal(sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF), 100000);
    transfer(n, cfd, sfd, 1u << 20, 0, 1 * MS, 10 * SEC);
    assert_int_equal(sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF), 100000);
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syn_flood_then_cookies), cmocka_unit_test(test_max_orphans),
        cmocka_unit_test(test_accept_queue_bound),     cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_sysctls_and_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
