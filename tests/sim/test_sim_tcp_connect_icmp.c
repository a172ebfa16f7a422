/* A destination unreachable quoting a connection's SYN fails its connect()
 * at once, with Linux's errno for the code (tcp_v4_err in SYN_SENT with
 * icmp_err_convert): net unreachable ENETUNREACH, host unreachable
 * EHOSTUNREACH, protocol unreachable ENOPROTOOPT, port unreachable
 * ECONNREFUSED, host administratively prohibited EHOSTUNREACH,
 * communication administratively filtered EHOSTUNREACH. "At once": the
 * error is there as soon as the ICMP message has arrived, before the SYN's
 * first retransmission (1 s), and no SYN follows. An error quoting a
 * sequence number that is not the SYN's changes nothing (RFC 5927 §4.1).
 * The peer is a raw host that answers the SYN with the ICMP error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"

#define MS US_NS_PER_MS

/* The stack starts a connect to the raw host; returns the datagram of its
 * SYN once the raw host has it. */
static const struct rh_dgram *start_connect(struct rtcp *t)
{
    t->fd = us_socket(t->s, US_SOCK_STREAM);
    assert_true(t->fd >= 0);
    struct us_sockaddr_in sa = {RT_RAW_IP, RT_PORT};
    assert_int_equal(us_connect(t->s, t->fd, &sa), -EINPROGRESS);
    struct us_tcp_view v;
    for (int i = 0; i < 100; i++) {
        rt_run(t, 1 * MS);
        while (rt_next(t, &v, NULL))
            if (v.flags == US_TCP_SYN)
                return &t->rh.dgrams[t->scan - 1];
    }
    fail_msg("the stack sent no SYN");
    return NULL;
}

/* A destination unreachable with code `code` quoting d (its IP header and
 * the first 8 bytes of TCP), the quoted sequence number moved by delta. */
static void send_unreach(struct rtcp *t, const struct rh_dgram *d, uint8_t code, uint32_t delta)
{
    uint8_t msg[US_ICMP_HLEN + US_IPV4_HLEN + 8];
    memcpy(msg + US_ICMP_HLEN, d->data, US_IPV4_HLEN + 8);
    uint8_t *q = msg + US_ICMP_HLEN + US_IPV4_HLEN + 4;
    uint32_t seq =
        ((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]) + delta;
    q[0] = (uint8_t)(seq >> 24);
    q[1] = (uint8_t)(seq >> 16);
    q[2] = (uint8_t)(seq >> 8);
    q[3] = (uint8_t)seq;
    us_icmp_emit(msg, sizeof(msg), US_ICMP_DEST_UNREACH, code, 0);
    rh_send_ip(&t->rh, RT_STACK_IP, US_IPPROTO_ICMP, msg, sizeof(msg), NULL, t->now);
}

static int so_error(struct rtcp *t)
{
    int v = -1;
    size_t len = sizeof(v);
    assert_int_equal(us_getsockopt(t->s, t->fd, US_SOL_SOCKET, US_SO_ERROR, &v, &len), 0);
    return v;
}

/* SYNs the stack sent from the collected datagrams on. */
static unsigned more_syns(struct rtcp *t)
{
    unsigned n = 0;
    struct us_tcp_view v;
    while (rt_next(t, &v, NULL))
        n += (v.flags & US_TCP_SYN) != 0;
    return n;
}

static void test_unreach_fails_connect(void **state)
{
    (void)state;
    const struct {
        uint8_t code;
        int err;
        const char *name;
    } cases[] = {
        {US_ICMP_NET_UNREACH, ENETUNREACH, "net unreachable"},
        {US_ICMP_HOST_UNREACH, EHOSTUNREACH, "host unreachable"},
        {US_ICMP_PROT_UNREACH, ENOPROTOOPT, "protocol unreachable"},
        {US_ICMP_PORT_UNREACH, ECONNREFUSED, "port unreachable"},
        {10, EHOSTUNREACH, "host administratively prohibited"},
        {13, EHOSTUNREACH, "communication administratively filtered"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rtcp *t = rt_new(0x1c0 + i);
        const struct rh_dgram *syn = start_connect(t);
        us_time_ns syn_at = syn->at;
        uint64_t fails = ctr(t->s, "TcpAttemptFails");
        send_unreach(t, syn, cases[i].code, 0);
        /* The message takes 1 ms to arrive; by 2 ms the connect has failed. */
        rt_run(t, 2 * MS);
        int ev = us_sock_poll_events(t->s, t->fd);
        if (!(ev & US_POLLERR))
            fail_msg("%s: no error 2 ms after the ICMP message (events %#x)", cases[i].name, ev);
        assert_false(ev & US_POLLOUT && !(ev & US_POLLERR));
        int err = so_error(t);
        if (err != cases[i].err)
            fail_msg("%s: connect failed with %d, expected %d", cases[i].name, err, cases[i].err);
        assert_true(t->now - syn_at < 10 * MS);
        assert_int_equal(ctr(t->s, "TcpAttemptFails"), fails + 1);
        /* No SYN retransmission follows: the attempt is over. */
        rt_run(t, 4000 * MS);
        unsigned n = more_syns(t);
        if (n)
            fail_msg("%s: %u more SYNs after the connect failed", cases[i].name, n);
        assert_int_equal(us_close(t->s, t->fd), 0);
        rt_free(t);
    }
}

/* A port unreachable quoting a sequence number other than the SYN's is not
 * believed: the connect goes on, and completes when the peer answers. */
static void test_unreach_wrong_seq_ignored(void **state)
{
    (void)state;
    struct rtcp *t = rt_new(0x1cf);
    const struct rh_dgram *syn = start_connect(t);
    struct us_ipv4_view ip;
    struct us_tcp_view v;
    rh_ip(syn, &ip);
    assert_int_equal(us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &v), 0);
    uint64_t oow = ctr(t->s, "TcpExtOutOfWindowIcmps");
    send_unreach(t, syn, US_ICMP_PORT_UNREACH, 5000);
    rt_run(t, 2 * MS);
    assert_int_equal(ctr(t->s, "TcpExtOutOfWindowIcmps"), oow + 1);
    assert_false(us_sock_poll_events(t->s, t->fd) & US_POLLERR);
    assert_int_equal(so_error(t), 0);
    /* The raw host answers the SYN: the connection is established. */
    t->sport = v.sport;
    t->rcv_nxt = v.seq + 1;
    struct us_tcp_opts so = {.mss_present = true, .mss = 1000};
    rt_send_at(t, t->iss, US_TCP_SYN | US_TCP_ACK, 65535, NULL, 0, &so);
    rt_run(t, 3 * MS);
    assert_true(us_sock_poll_events(t->s, t->fd) & US_POLLOUT);
    assert_int_equal(so_error(t), 0);
    rt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreach_fails_connect),
        cmocka_unit_test(test_unreach_wrong_seq_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
