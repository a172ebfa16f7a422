/* A SYN cookie keeps the MSS the SYN offered (RFC 4987 §3.6, Linux's
 * cookie_v4_init_sequence): the cookie ISN carries an index into Linux's
 * msstab {536, 1300, 1440, 1460}, the largest entry at or below the offer,
 * and the connection the final ACK recreates sends segments of that size,
 * not a default. A raw host offers each MSS while the listener's SYN queue
 * is full, completes the cookie handshake without timestamps, and reads
 * the sizes of the segments the server sends it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawpeer.h"

#include "ustack/socket.h"

static void test_cookie_keeps_mss(void **state)
{
    (void)state;
    struct rpeer *p = rp_new(0xc00c1e);
    int l = us_socket(p->s, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, 80};
    assert_int_equal(us_bind(p->s, l, &sa), 0);
    assert_int_equal(us_listen(p->s, l, 1), 0);
    /* One half-open connection that never completes fills the SYN queue
     * (backlog 1): every SYN after it gets a cookie. */
    rp_syn(p, RP_IP0, 50000, 80, 1, 1460);
    rp_expect(p, 50000, "SYN-ACK to the SYN that fills the queue");
    assert_int_equal(ctr(p->s, "TcpExtSyncookiesSent"), 0);

    const struct {
        uint16_t offer; /* 0: no MSS option (RFC 9293's default, 536) */
        uint16_t mss;
    } cases[] = {
        {1220, 536},  {1300, 1300}, {1439, 1300}, {1440, 1440}, {1459, 1440},
        {1460, 1460}, {9000, 1460}, {536, 536},   {0, 536},     {1299, 536},
    };
    static uint8_t data[20000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint16_t sport = (uint16_t)(50100 + i);
        uint64_t sent = ctr(p->s, "TcpExtSyncookiesSent");
        uint64_t recv = ctr(p->s, "TcpExtSyncookiesRecv");
        rp_open(p, RP_IP0, sport, 80, 1000u * i, cases[i].offer);
        assert_int_equal(ctr(p->s, "TcpExtSyncookiesSent"), sent + 1);
        assert_int_equal(ctr(p->s, "TcpExtSyncookiesRecv"), recv + 1);
        int fd = us_accept(p->s, l, NULL);
        if (fd < 0)
            fail_msg("offer %u: the cookie's ACK made no connection (%d)", cases[i].offer, fd);
        struct us_tcp_info ti;
        size_t len = sizeof(ti);
        assert_int_equal(us_getsockopt(p->s, fd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &len), 0);
        if (ti.snd_mss != cases[i].mss)
            fail_msg("offer %u: snd_mss %u after the cookie, expected msstab's %u", cases[i].offer,
                     ti.snd_mss, cases[i].mss);
        /* What it sends: full segments of exactly that size (the raw host
         * does not ACK, so the initial window's worth goes out). */
        assert_true(us_send(p->s, fd, data, sizeof(data), 0, p->now) > 0);
        rp_run(p, 5 * US_NS_PER_MS);
        struct rp_seg g;
        unsigned full = 0;
        uint32_t largest = 0;
        while (rp_next(p, &g)) {
            if (g.t.dport != sport || !g.t.payload_len)
                continue;
            if (g.t.payload_len > largest)
                largest = (uint32_t)g.t.payload_len;
            full += g.t.payload_len == cases[i].mss;
        }
        if (largest != cases[i].mss || full < 2)
            fail_msg("offer %u: largest segment %u bytes (%u of %u), expected %u", cases[i].offer,
                     largest, full, cases[i].mss, cases[i].mss);
        us_close(p->s, fd); /* unacknowledged data: a reset, and the port is free */
        rp_run(p, 2 * US_NS_PER_MS);
        rp_clear(p);
    }
    rp_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_keeps_mss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
