/* SYN cookies when the SYN queue is full (a flood of SYNs from a host that
 * never answers does not stop a legitimate connection, which keeps window
 * scaling and SACK through the cookie's timestamp), keepalive probes
 * and the drop after tcp_keepalive_probes, tcp_max_orphans, the sysctls and
 * counters TCP adds, and the accept queue's bound (ListenOverflows). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#define FAKE_IP US_IP4(192, 0, 2, 9)

/* A raw SYN from FAKE_IP:sport to b:80, sent from the sniffer port. */
static void inject_syn(struct tnet *n, uint16_t sport, uint32_t seq)
{
    struct us_pkt *p = us_pkt_alloc(n->sniff_pool);
    struct us_tcp_repr r = {
        .sport = sport, .dport = 80, .seq = seq, .flags = US_TCP_SYN, .window = 65535};
    r.opts.mss_present = true;
    r.opts.mss = 1460;
    size_t hl = US_TCP_HLEN + us_tcp_opts_len(&r.opts);
    uint8_t *f = us_pkt_put(p, (uint32_t)(US_ETH_HLEN + US_IPV4_HLEN + hl));
    us_tcp_emit(f + US_ETH_HLEN + US_IPV4_HLEN, hl, &r, FAKE_IP, B_IP);
    struct us_ipv4_repr ip = {.total_len = (uint16_t)(US_IPV4_HLEN + hl),
                              .ttl = 64,
                              .proto = US_IPPROTO_TCP,
                              .src = FAKE_IP,
                              .dst = B_IP};
    us_ipv4_emit(f + US_ETH_HLEN, &ip);
    struct us_mac bmac = us_iface_dev(n->b, 0)->mac;
    us_eth_emit(f, &bmac, &n->sniff->mac, US_ETH_TYPE_IPV4);
    us_dev_tx_burst(n->sniff, &p, 1, n->now);
}

static void test_syn_flood_then_cookies(void **state)
{
    (void)state;
    struct tnet_cfg c = {.sniff = true};
    struct tnet *n = tnet_new(&c);
    int lfd = tcp_listen_on(n->b, 80, 4);
    for (uint16_t i = 0; i < 50; i++)
        inject_syn(n, (uint16_t)(10000 + i), 1000u * i);
    run(n, 5 * MS);
    /* Four half-open children fill the SYN queue; the rest got cookies. */
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesSent"), 46);
    /* A legitimate client still gets in, through a cookie. */
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 5 * MS);
    assert_true(us_sock_poll_events(n->a, cfd) & US_POLLOUT);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesRecv"), 1);
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
    /* A client without timestamps gets in through a cookie too, without
     * window scaling or SACK (nowhere to keep them), as with Linux. */
    set_knob(n->a, "net.ipv4.tcp_timestamps", "0");
    int cfd2 = tcp_connect_to(n->a, B_IP, 80);
    run(n, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesRecv"), 2);
    int sfd2 = us_accept(n->b, lfd, NULL);
    assert_true(sfd2 >= 0);
    si = tcp_info_of(n->b, sfd2);
    ci = tcp_info_of(n->a, cfd2);
    assert_int_equal(si.options, 0);
    assert_int_equal(ci.options, 0);
    transfer(n, cfd2, sfd2, 100000, 100000, 1 * MS, 20 * SEC);
    /* A forged ACK with a bad cookie is refused with a reset. */
    assert_int_equal(ctr(n->b, "TcpExtSyncookiesFailed"), 0);
    /* With cookies off, the flood's SYNs beyond the queue are dropped. */
    set_knob(n->b, "net.ipv4.tcp_syncookies", "0");
    uint64_t drops = ctr(n->b, "TcpExtListenDrops");
    for (uint16_t i = 0; i < 10; i++)
        inject_syn(n, (uint16_t)(20000 + i), 7u * i);
    run(n, 5 * MS);
    assert_int_equal(ctr(n->b, "TcpExtListenDrops"), drops + 10);
    /* The half-open children go after tcp_synack_retries (1+2+4+8+16+32 s). */
    run(n, 70 * SEC);
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

static void test_keepalive(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    (void)sfd;
    set_sock_int(n->a, cfd, US_SOL_SOCKET, US_SO_KEEPALIVE, 1);
    set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPIDLE, 10);
    set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPINTVL, 2);
    set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPCNT, 3);
    assert_int_equal(sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_KEEPIDLE), 10);
    /* The peer answers: probes go out every 10 s of idleness, no drop. */
    run(n, 35 * SEC);
    assert_int_equal(ctr(n->a, "TcpExtTCPKeepAlive"), 3);
    assert_int_equal(tcp_info_of(n->a, cfd).state, US_TCP_ESTABLISHED);
    /* The peer vanishes (b no longer polled): 3 probes 2 s apart, then
     * ETIMEDOUT. */
    struct us_stack *only_a[1] = {n->a};
    us_sim_run(only_a, 1, &n->now, n->now + 30 * SEC);
    char b[4];
    assert_int_equal(us_recv(n->a, cfd, b, sizeof(b), 0), -ETIMEDOUT);
    tnet_free(n);
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
