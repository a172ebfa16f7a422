/* Connections that cost little (tcp_minisocks.c) and the established hash
 * at scale:
 *
 *  - a listener's half-open child (kept as a small request record, not a
 *    tcpcb) retransmits its SYN-ACK as the tcpcb did (same sequence number
 *    and options, 1 s then 2 s later), and the ACK that completes the
 *    handshake after the retransmissions makes the connection the tcpcb
 *    would have been (options, MSS, window scales, retransmission count,
 *    no RTT sample from a retransmitted SYN-ACK), carrying data both ways;
 *  - past tcp_synack_retries the request goes and its place in the SYN
 *    queue comes back; a listener closed takes its requests with it;
 *  - an orphaned connection in TIME_WAIT (kept as a small record, not a
 *    tcpcb: tcp_minisocks.c) still answers a retransmitted FIN with the
 *    ACK the connection would send (RFC 9293 §3.10.7.4: same sequence and
 *    acknowledgment numbers, window, timestamps echoing ts_recent), and the
 *    FIN restarts its 2MSL wait; after the wait the pair is gone and a
 *    segment of it meets a reset;
 *  - TIME_WAIT entries that end give their place in tcp_max_tw_buckets
 *    back (a connection whose socket was still open in TIME_WAIT too);
 *  - every connection stays findable while the established hash doubles
 *    and moves its buckets, and after closes in the middle of a move. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawpeer.h"
#include "sim/tcp_util.h"

#include "ustack/socket.h"

#include <stdio.h>
#include <string.h>

/* ---------------- a TIME_WAIT record answers as the connection did ---------------- */

static struct us_tcp_opts ts_opts(uint32_t tsval, uint32_t tsecr)
{
    struct us_tcp_opts o = {.ts_present = true, .tsval = tsval, .tsecr = tsecr};
    return o;
}

/* How many lines of the socket table name state `what`. */
static int table_count(struct us_stack *s, const char *what)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    us_sock_print_table(s, f);
    fclose(f);
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    free(text);
    return n;
}

static void test_time_wait_record_acks_fin(void **state)
{
    (void)state;
    struct rpeer *p = rp_new(0x7177);
    int l = us_socket(p->s, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, 80};
    assert_int_equal(us_bind(p->s, l, &sa), 0);
    assert_int_equal(us_listen(p->s, l, 8), 0);

    /* A handshake with timestamps and window scaling. */
    const uint32_t x = 7000;
    struct us_tcp_opts so = {.mss_present = true,
                             .mss = 1460,
                             .ts_present = true,
                             .tsval = 1000,
                             .wscale_present = true,
                             .wscale = 7,
                             .sack_permitted = true};
    rp_send(p, RP_IP0, 40000, 80, US_TCP_SYN, x, 0, &so, NULL, 0);
    struct rp_seg syn_ack = rp_expect(p, 40000, "SYN-ACK");
    assert_int_equal(syn_ack.t.flags, US_TCP_SYN | US_TCP_ACK);
    assert_true(syn_ack.t.opts.ts_present);
    uint32_t iss = syn_ack.t.seq;
    struct us_tcp_opts o = ts_opts(1001, syn_ack.t.opts.tsval);
    rp_send(p, RP_IP0, 40000, 80, US_TCP_ACK, x + 1, iss + 1, &o, NULL, 0);
    rp_run(p, 3 * MS);
    int fd = us_accept(p->s, l, NULL);
    assert_true(fd >= 0);

    /* The server closes first: its FIN, our ACK and FIN in one segment,
     * and the server, an orphan, is in TIME_WAIT. */
    assert_int_equal(us_close(p->s, fd), 0);
    struct rp_seg fin = rp_expect(p, 40000, "the server's FIN");
    assert_int_equal(fin.t.flags, US_TCP_FIN | US_TCP_ACK);
    assert_int_equal(fin.t.seq, iss + 1);
    o = ts_opts(1002, fin.t.opts.tsval);
    rp_send(p, RP_IP0, 40000, 80, US_TCP_FIN | US_TCP_ACK, x + 1, iss + 2, &o, NULL, 0);
    struct rp_seg ack1 = rp_expect(p, 40000, "the ACK of our FIN");
    assert_int_equal(ack1.t.flags, US_TCP_ACK);
    assert_int_equal(ack1.t.seq, iss + 2);
    assert_int_equal(ack1.t.ack, x + 2);
    assert_true(ack1.t.opts.ts_present);
    assert_int_equal(ack1.t.opts.tsecr, 1002);
    assert_int_equal(ctr(p->s, "TcpExtTW"), 1);
    assert_int_equal(table_count(p->s, "TIME-WAIT"), 1);
    assert_int_equal(table_count(p->s, "timer:(timewait)"), 1);
    us_time_ns t_fin = p->now;

    /* 30 s later our FIN again, as if the ACK had been lost: the same ACK,
     * its timestamp 30 s on, the 2MSL wait restarted. */
    p->rh.step = 10 * MS;
    rp_run(p, 30 * SEC);
    rp_clear(p);
    o = ts_opts(1003, ack1.t.opts.tsval);
    rp_send(p, RP_IP0, 40000, 80, US_TCP_FIN | US_TCP_ACK, x + 1, iss + 2, &o, NULL, 0);
    p->rh.step = 100 * 1000;
    struct rp_seg ack2 = rp_expect(p, 40000, "the ACK of the retransmitted FIN");
    if (ack2.t.flags != US_TCP_ACK || ack2.t.seq != iss + 2 || ack2.t.ack != x + 2 ||
        ack2.t.window != ack1.t.window)
        fail_msg("TIME_WAIT answered a retransmitted FIN with flags %02x seq %u ack %u win %u; "
                 "expected the first ACK's %02x seq %u ack %u win %u",
                 ack2.t.flags, ack2.t.seq, ack2.t.ack, ack2.t.window, ack1.t.flags, ack1.t.seq,
                 ack1.t.ack, ack1.t.window);
    assert_true(ack2.t.opts.ts_present);
    assert_int_equal(ack2.t.opts.tsecr, 1002); /* ts_recent: TIME_WAIT does not move it */
    uint32_t dt = ack2.t.opts.tsval - ack1.t.opts.tsval;
    if (dt < 30000 || dt > 30010)
        fail_msg("the timestamp clock moved %u ms in 30 s", dt);
    us_time_ns t_refin = p->now;

    /* Past the first wait's end (60 s after the first FIN) the pair still
     * answers: the retransmitted FIN restarted it. */
    p->rh.step = 10 * MS;
    rp_run(p, t_fin + 60 * SEC + 500 * MS - p->now);
    rp_clear(p);
    rp_send(p, RP_IP0, 40000, 80, US_TCP_ACK, x + 2, iss + 2, NULL, NULL, 0);
    p->rh.step = 100 * 1000;
    struct rp_seg ack3 = rp_expect(p, 40000, "an answer 60.5 s after the first FIN");
    if (ack3.t.flags != US_TCP_ACK || ack3.t.seq != iss + 2 || ack3.t.ack != x + 2)
        fail_msg("60.5 s after the first FIN, 30.5 s after the second: flags %02x seq %u ack %u, "
                 "expected TIME_WAIT's ACK",
                 ack3.t.flags, ack3.t.seq, ack3.t.ack);

    /* 60 s after the retransmitted FIN the pair is gone: the listener
     * answers its ACK with a reset, and the table no longer shows it. */
    p->rh.step = 10 * MS;
    rp_run(p, t_refin + 60 * SEC + 500 * MS - p->now);
    rp_clear(p);
    assert_int_equal(table_count(p->s, "TIME-WAIT"), 0);
    rp_send(p, RP_IP0, 40000, 80, US_TCP_ACK, x + 2, iss + 2, NULL, NULL, 0);
    p->rh.step = 100 * 1000;
    struct rp_seg rst = rp_expect(p, 40000, "a reset once TIME_WAIT ended");
    assert_true(rst.t.flags & US_TCP_RST);
    assert_int_equal(rst.t.seq, iss + 2);
    us_close(p->s, l);
    rp_free(p);
}

/* ---------------- a request record stands for its half-open child ---------------- */

static int listen_raw(struct rpeer *p, uint16_t port, int backlog)
{
    int l = us_socket(p->s, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, port};
    assert_int_equal(us_bind(p->s, l, &sa), 0);
    assert_int_equal(us_listen(p->s, l, backlog), 0);
    return l;
}

static const struct us_tcp_opts syn_opts = {.mss_present = true,
                                            .mss = 1400,
                                            .ts_present = true,
                                            .tsval = 500,
                                            .wscale_present = true,
                                            .wscale = 7,
                                            .sack_permitted = true};

/* The next segment to sport; fails unless it is a SYN-ACK of seq with
 * the options of first (when given). */
static struct rp_seg expect_synack(struct rpeer *p, uint16_t sport, uint32_t seq,
                                   const struct rp_seg *first, const char *what)
{
    struct rp_seg g = rp_expect(p, sport, what);
    if (g.t.flags != (US_TCP_SYN | US_TCP_ACK) || g.t.ack != seq + 1)
        fail_msg("%s: flags %02x ack %u, not a SYN-ACK of %u", what, g.t.flags, g.t.ack, seq + 1);
    if (first && (g.t.seq != first->t.seq || g.t.window != first->t.window ||
                  g.t.opts.mss != first->t.opts.mss || g.t.opts.wscale != first->t.opts.wscale ||
                  g.t.opts.sack_permitted != first->t.opts.sack_permitted ||
                  g.t.opts.tsecr != first->t.opts.tsecr))
        fail_msg("%s: seq %u win %u mss %u ws %u tsecr %u, the first SYN-ACK had seq %u win %u "
                 "mss %u ws %u tsecr %u",
                 what, g.t.seq, g.t.window, g.t.opts.mss, g.t.opts.wscale, g.t.opts.tsecr,
                 first->t.seq, first->t.window, first->t.opts.mss, first->t.opts.wscale,
                 first->t.opts.tsecr);
    return g;
}

static void test_request_retransmits_then_completes(void **state)
{
    (void)state;
    struct rpeer *p = rp_new(0x5e9);
    int l = listen_raw(p, 80, 8);
    const uint32_t x = 90000;
    rp_send(p, RP_IP0, 41000, 80, US_TCP_SYN, x, 0, &syn_opts, NULL, 0);
    us_time_ns t0 = p->now;
    struct rp_seg sa = expect_synack(p, 41000, x, NULL, "SYN-ACK");
    assert_true(sa.t.opts.ts_present && sa.t.opts.wscale_present && sa.t.opts.sack_permitted);
    assert_int_equal(sa.t.opts.tsecr, 500);
    /* Unanswered: again 1 s later, then 2 s after that (RFC 6298 §5.5). */
    rp_run(p, 1100 * MS);
    struct rp_seg r1 = expect_synack(p, 41000, x, &sa, "first retransmission");
    if (r1.at < t0 + 1000 * MS || r1.at > t0 + 1010 * MS)
        fail_msg("first retransmission %.3f s after the SYN, expected 1 s",
                 (double)(r1.at - t0) / 1e9);
    rp_run(p, 2 * SEC);
    struct rp_seg r2 = expect_synack(p, 41000, x, &sa, "second retransmission");
    if (r2.at < t0 + 3000 * MS || r2.at > t0 + 3010 * MS)
        fail_msg("second retransmission %.3f s after the SYN, expected 3 s",
                 (double)(r2.at - t0) / 1e9);
    assert_int_equal(ctr(p->s, "TcpExtTCPSynRetrans"), 2);
    assert_int_equal(us_accept(p->s, l, NULL), -EAGAIN);

    /* The ACK, with 5 bytes: the connection is what the child would have
     * been. */
    struct us_tcp_opts o = ts_opts(600, r2.t.opts.tsval);
    rp_send(p, RP_IP0, 41000, 80, US_TCP_ACK | US_TCP_PSH, x + 1, sa.t.seq + 1, &o, "hello", 5);
    rp_run(p, 3 * MS);
    int fd = us_accept(p->s, l, NULL);
    assert_true(fd >= 0);
    char buf[16];
    assert_int_equal(us_recv(p->s, fd, buf, sizeof(buf), 0), 5);
    assert_memory_equal(buf, "hello", 5);
    struct us_tcp_info ti = tcp_info_of(p->s, fd);
    assert_int_equal(ti.state, US_TCP_ESTABLISHED);
    assert_int_equal(ti.options & (US_TCPI_OPT_TIMESTAMPS | US_TCPI_OPT_SACK | US_TCPI_OPT_WSCALE),
                     US_TCPI_OPT_TIMESTAMPS | US_TCPI_OPT_SACK | US_TCPI_OPT_WSCALE);
    assert_int_equal(ti.snd_wscale, 7);
    assert_int_equal(ti.rcv_wscale, sa.t.opts.wscale);
    assert_int_equal(ti.snd_mss, 1400 - 12);
    assert_int_equal(ti.total_retrans, 2);
    assert_int_equal(ti.rtt, 0); /* Karn: a retransmitted SYN-ACK gives no sample */
    /* Data back: at iss + 1, acknowledging ours, timestamps echoing 600,
     * the window in the scale the SYN-ACK announced. */
    rp_clear(p);
    assert_int_equal(us_send(p->s, fd, "world", 5, 0, p->now), 5);
    struct rp_seg d = rp_expect(p, 41000, "data from the server");
    assert_int_equal(d.t.seq, sa.t.seq + 1);
    assert_int_equal(d.t.ack, x + 6);
    assert_int_equal(d.t.payload_len, 5);
    assert_int_equal(d.t.opts.tsecr, 600);
    uint32_t wnd = (uint32_t)d.t.window << sa.t.opts.wscale;
    if (wnd < sa.t.window / 2 || wnd > 64u * sa.t.window)
        fail_msg("window %u << %u = %u after a SYN-ACK window of %u", d.t.window, sa.t.opts.wscale,
                 wnd, sa.t.window);
    us_close(p->s, fd);
    us_close(p->s, l);
    rp_free(p);
}

static void test_request_expires_and_listener_close(void **state)
{
    (void)state;
    struct rpeer *p = rp_new(0x5ea);
    set_knob(p->s, "net.ipv4.tcp_synack_retries", "2");
    /* Backlog 1: one request fills the SYN queue; the next SYN gets a
     * cookie while it is there. */
    int l = listen_raw(p, 80, 1);
    rp_send(p, RP_IP0, 42000, 80, US_TCP_SYN, 100, 0, &syn_opts, NULL, 0);
    us_time_ns t0 = p->now;
    struct rp_seg sa = expect_synack(p, 42000, 100, NULL, "SYN-ACK");
    rp_send(p, RP_IP0, 42001, 80, US_TCP_SYN, 200, 0, &syn_opts, NULL, 0);
    expect_synack(p, 42001, 200, NULL, "SYN-ACK with a cookie");
    assert_int_equal(ctr(p->s, "TcpExtSyncookiesSent"), 1);
    /* SYN-ACKs at 1 s and 3 s; at 7 s the third timeout ends it. */
    rp_run(p, t0 + 7 * SEC + 10 * MS - p->now);
    assert_int_equal(ctr(p->s, "TcpExtTCPSynRetrans"), 2);
    rp_clear(p);
    struct us_tcp_opts o = ts_opts(700, sa.t.opts.tsval);
    rp_send(p, RP_IP0, 42000, 80, US_TCP_ACK, 101, sa.t.seq + 1, &o, NULL, 0);
    struct rp_seg rst = rp_expect(p, 42000, "a reset: the request is gone");
    assert_true(rst.t.flags & US_TCP_RST);
    assert_int_equal(us_accept(p->s, l, NULL), -EAGAIN);
    /* Its place in the queue is free: a new SYN gets a plain SYN-ACK. */
    rp_send(p, RP_IP0, 42002, 80, US_TCP_SYN, 300, 0, &syn_opts, NULL, 0);
    expect_synack(p, 42002, 300, NULL, "SYN-ACK after the request expired");
    assert_int_equal(ctr(p->s, "TcpExtSyncookiesSent"), 1);
    /* The listener closes: its request goes too (no listener, no pair:
     * the ACK meets a reset). */
    assert_int_equal(us_close(p->s, l), 0);
    rp_clear(p);
    rp_send(p, RP_IP0, 42002, 80, US_TCP_ACK, 301, 1, NULL, NULL, 0);
    rst = rp_expect(p, 42002, "a reset after the listener closed");
    assert_true(rst.t.flags & US_TCP_RST);
    rp_free(p);
}

/* ---------------- tcp_max_tw_buckets counts only live entries ---------------- */

/* With room for one TIME_WAIT entry, connections that enter TIME_WAIT one
 * after another each get it once the previous one has ended, whether the
 * entry ended with its socket still open (the connection block) or closed
 * (the record). */
static void test_time_wait_slots_come_back(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    set_knob(n->a, "net.ipv4.tcp_max_tw_buckets", "1");
    for (int round = 0; round < 4; round++) {
        bool keep_open = round % 2 == 0;
        int cfd;
        int sfd = tcp_pair(n, (uint16_t)(80 + round), &cfd, NULL);
        /* a's FIN first, then b's: a ends in TIME_WAIT. */
        if (keep_open)
            assert_int_equal(us_shutdown(n->a, cfd, US_SHUT_WR), 0);
        else
            assert_int_equal(us_close(n->a, cfd), 0);
        run(n, 10 * MS);
        assert_int_equal(us_close(n->b, sfd), 0);
        run(n, 10 * MS);
        if (keep_open && tcp_info_of(n->a, cfd).state != US_TCP_TIME_WAIT)
            fail_msg("round %d: state %d, not TIME_WAIT (tcp_max_tw_buckets 1, the earlier "
                     "entries ended)",
                     round, tcp_info_of(n->a, cfd).state);
        if (!keep_open && table_count(n->a, "TIME-WAIT") != 1)
            fail_msg("round %d: the table shows %d TIME-WAIT entries, expected 1", round,
                     table_count(n->a, "TIME-WAIT"));
        run(n, 61 * SEC);
        assert_int_equal(table_count(n->a, "TIME-WAIT"), 0);
        if (keep_open)
            assert_int_equal(us_close(n->a, cfd), 0);
    }
    assert_int_equal(ctr(n->a, "TcpExtTW"), 4);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeWaitOverflow"), 0);
    tnet_free(n);
}

/* ---------------- the established hash grows ---------------- */

#define GROW_CONNS 3000

struct conn {
    int cfd, sfd;
    bool closed;
};

/* Every open connection carries one byte each way (the byte its index
 * names) and the other side reads exactly it. */
static void check_all(struct tnet *n, struct conn *cs, int count, const char *when)
{
    for (int i = 0; i < count; i++) {
        if (cs[i].closed)
            continue;
        uint8_t b = (uint8_t)(i * 7 + 1);
        if (us_send(n->a, cs[i].cfd, &b, 1, 0, n->now) != 1)
            fail_msg("%s: connection %d: send failed", when, i);
    }
    run(n, 20 * MS);
    for (int i = 0; i < count; i++) {
        if (cs[i].closed)
            continue;
        uint8_t b = 0;
        int r = us_recv(n->b, cs[i].sfd, &b, 1, 0);
        if (r != 1 || b != (uint8_t)(i * 7 + 1))
            fail_msg("%s: connection %d of %d: recv %d byte %u, expected %u", when, i, count, r, b,
                     (uint8_t)(i * 7 + 1));
        if (us_send(n->b, cs[i].sfd, &b, 1, 0, n->now) != 1)
            fail_msg("%s: connection %d: the answer's send failed", when, i);
    }
    run(n, 20 * MS);
    for (int i = 0; i < count; i++) {
        if (cs[i].closed)
            continue;
        uint8_t b = 0;
        int r = us_recv(n->a, cs[i].cfd, &b, 1, 0);
        if (r != 1 || b != (uint8_t)(i * 7 + 1))
            fail_msg("%s: connection %d: the answer: recv %d byte %u", when, i, r, b);
    }
}

/* Opens connections [from, to): a connects, b accepts, matched by port. */
static void open_conns(struct tnet *n, int lfd, struct conn *cs, int from, int to)
{
    for (int i = from; i < to; i++)
        cs[i].cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 20 * MS);
    for (int i = from; i < to; i++) {
        struct us_sockaddr_in peer;
        int sfd = us_accept(n->b, lfd, &peer);
        if (sfd < 0)
            fail_msg("connection %d of [%d, %d) not accepted (%d)", i, from, to, sfd);
        int j = from;
        for (; j < to; j++) {
            struct us_sockaddr_in me;
            assert_int_equal(us_getsockname(n->a, cs[j].cfd, &me), 0);
            if (me.port == peer.port)
                break;
        }
        assert_true(j < to);
        cs[j].sfd = sfd;
    }
}

static void test_ehash_growth_keeps_connections(void **state)
{
    (void)state;
    struct tnet_cfg c = {.pkt_count = 16384, .queue_limit = 16384};
    struct tnet *n = tnet_new(&c);
    set_knob(n->b, "net.core.somaxconn", "4096");
    int lfd = tcp_listen_on(n->b, 80, 4096);
    static struct conn cs[GROW_CONNS];
    memset(cs, 0, sizeof(cs));
    /* The hash starts with 256 buckets: 300 connections are in the middle
     * of the first doubling's move (each addition moves two old buckets). */
    int count = 0;
    for (; count < 300; count += 50)
        open_conns(n, lfd, cs, count, count + 50);
    check_all(n, cs, count, "300 connections, mid-move");
    /* Closes in the middle of the move: every third connection goes. */
    for (int i = 0; i < count; i += 3) {
        assert_int_equal(us_close(n->a, cs[i].cfd), 0);
        assert_int_equal(us_close(n->b, cs[i].sfd), 0);
        cs[i].closed = true;
    }
    run(n, 100 * MS);
    check_all(n, cs, count, "after closing every third");
    for (; count < GROW_CONNS; count += 100)
        open_conns(n, lfd, cs, count, count + 100);
    check_all(n, cs, count, "3000 connections (four doublings)");
    us_close(n->b, lfd);
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_wait_record_acks_fin),
        cmocka_unit_test(test_time_wait_slots_come_back),
        cmocka_unit_test(test_request_retransmits_then_completes),
        cmocka_unit_test(test_request_expires_and_listener_close),
        cmocka_unit_test(test_ehash_growth_keeps_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
