/* ICMP errors about an established connection's segments (RFC 1122
 * §4.2.3.9, RFC 5927, Linux's tcp_v4_err), against a raw peer that stops
 * answering and sends the errors itself:
 *  - a host unreachable quoting a segment in flight does not abort the
 *    connection (still ESTABLISHED, no error to read, sends still taken);
 *    when the connection then times out, the error reported is that soft
 *    error (EHOSTUNREACH), not ETIMEDOUT, as Linux's sk_err_soft;
 *  - an ACK after the error shows the path works: a later timeout is
 *    ETIMEDOUT again (Linux clears sk_err_soft in tcp_ack);
 *  - errors quoting a sequence number not in flight are counted in
 *    OutOfWindowIcmps and change nothing (RFC 5927 §4.1): neither a soft
 *    error for the timeout, nor a smaller MSS from "fragmentation needed";
 *    the same "fragmentation needed" quoting a segment in flight does
 *    lower it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawtcp.h"

#define MS  US_NS_PER_MS
#define SEC US_NS_PER_SEC

/* The datagram of the next data segment the stack sent. */
static const struct rh_dgram *next_data(struct rtcp *t, struct us_tcp_view *v)
{
    while (rt_next(t, v, NULL))
        if (v->payload_len)
            return &t->rh.dgrams[t->scan - 1];
    fail_msg("the stack sent no data segment");
    return NULL;
}

/* A destination unreachable from the raw host quoting d (its IP header
 * and the first 8 bytes of TCP), the quoted sequence number moved by
 * seq_delta. */
static void send_unreach(struct rtcp *t, const struct rh_dgram *d, uint8_t code, uint16_t mtu,
                         int64_t seq_delta)
{
    uint8_t msg[US_ICMP_HLEN + US_IPV4_HLEN + 8];
    memcpy(msg + US_ICMP_HLEN, d->data, US_IPV4_HLEN + 8);
    uint8_t *seqp = msg + US_ICMP_HLEN + US_IPV4_HLEN + 4;
    uint32_t seq =
        (uint32_t)seqp[0] << 24 | (uint32_t)seqp[1] << 16 | (uint32_t)seqp[2] << 8 | seqp[3];
    seq += (uint32_t)seq_delta;
    seqp[0] = (uint8_t)(seq >> 24);
    seqp[1] = (uint8_t)(seq >> 16);
    seqp[2] = (uint8_t)(seq >> 8);
    seqp[3] = (uint8_t)seq;
    us_icmp_emit(msg, sizeof(msg), US_ICMP_DEST_UNREACH, code, mtu);
    rh_send_ip(&t->rh, RT_STACK_IP, US_IPPROTO_ICMP, msg, sizeof(msg), NULL, t->now);
}

static struct rtcp *connected(uint64_t seed)
{
    struct rtcp *t = rt_new(seed);
    set_knob(t->s, "net.ipv4.tcp_retries2", "3");
    struct rt_syn_opts o = {.mss = 1000, .window = 65535, .wscale = -1};
    rt_connect(t, &o);
    return t;
}

/* The connection is alive: established, no error pending, sends taken. */
static void assert_unaffected(struct rtcp *t)
{
    assert_int_equal(rt_info(t).state, US_TCP_ESTABLISHED);
    assert_int_equal(us_sock_poll_events(t->s, t->fd) & (US_POLLERR | US_POLLHUP), 0);
    uint8_t b[16];
    assert_int_equal(us_recv(t->s, t->fd, b, sizeof(b), 0), -EAGAIN);
    assert_int_equal(us_send(t->s, t->fd, "more", 4, 0, t->now), 4);
}

/* Waits (bounded) for the retransmissions to give up; the error read. */
static int wait_for_timeout(struct rtcp *t)
{
    us_time_ns start = t->now;
    while (!(us_sock_poll_events(t->s, t->fd) & US_POLLERR)) {
        if (t->now - start > 120 * SEC)
            fail_msg("no timeout after 120 s with tcp_retries2=3");
        rt_run(t, 10 * MS);
        rt_clear(t); /* the retransmissions, not needed */
    }
    /* Three retransmissions first: at least 200+400+800 ms. */
    assert_true(t->now - start > 1400 * MS);
    uint8_t b[16];
    return us_recv(t->s, t->fd, b, sizeof(b), 0);
}

static void test_unreachable_is_a_soft_error(void **state)
{
    (void)state;
    struct rtcp *t = connected(0x1c3);
    assert_int_equal(us_send(t->s, t->fd, "hello", 5, 0, t->now), 5);
    rt_run(t, 5 * MS);
    struct us_tcp_view v;
    const struct rh_dgram *d = next_data(t, &v);
    send_unreach(t, d, US_ICMP_HOST_UNREACH, 0, 0);
    rt_run(t, 5 * MS);
    assert_int_equal(ctr(t->s, "IcmpInDestUnreachs"), 1);
    assert_int_equal(ctr(t->s, "TcpExtOutOfWindowIcmps"), 0);
    assert_unaffected(t);
    /* The peer stays silent: the timeout reports the soft error. */
    assert_int_equal(wait_for_timeout(t), -EHOSTUNREACH);
    rt_free(t);
}

static void test_soft_error_forgotten_after_an_ack(void **state)
{
    (void)state;
    struct rtcp *t = connected(0x1c4);
    assert_int_equal(us_send(t->s, t->fd, "hello", 5, 0, t->now), 5);
    rt_run(t, 5 * MS);
    struct us_tcp_view v;
    const struct rh_dgram *d = next_data(t, &v);
    send_unreach(t, d, US_ICMP_HOST_UNREACH, 0, 0);
    rt_run(t, 5 * MS);
    assert_unaffected(t);
    /* The peer answers after all (the data and "more"), then goes silent
     * for what follows. */
    t->rcv_nxt = v.seq + 5;
    for (int i = 0; i < 5 && rt_info(t).unacked; i++) {
        rt_run(t, 5 * MS);
        struct us_tcp_view w;
        while (rt_next(t, &w, NULL))
            if ((int32_t)(w.seq + (uint32_t)w.payload_len - t->rcv_nxt) > 0)
                t->rcv_nxt = w.seq + (uint32_t)w.payload_len;
        rt_ack(t, 65535);
        rt_run(t, 5 * MS);
    }
    assert_int_equal(rt_info(t).unacked, 0);
    assert_int_equal(us_send(t->s, t->fd, "again", 5, 0, t->now), 5);
    assert_int_equal(wait_for_timeout(t), -ETIMEDOUT);
    rt_free(t);
}

static void test_errors_quoting_what_is_not_in_flight_are_ignored(void **state)
{
    (void)state;
    struct rtcp *t = connected(0x1c5);
    assert_int_equal(us_send(t->s, t->fd, "hello", 5, 0, t->now), 5);
    rt_run(t, 5 * MS);
    struct us_tcp_view v;
    const struct rh_dgram *d = next_data(t, &v);
    /* Beyond what was sent, and below what was acknowledged. */
    send_unreach(t, d, US_ICMP_HOST_UNREACH, 0, 100000);
    send_unreach(t, d, US_ICMP_HOST_UNREACH, 0, -1);
    rt_run(t, 5 * MS);
    assert_int_equal(ctr(t->s, "TcpExtOutOfWindowIcmps"), 2);
    assert_unaffected(t);
    /* "Fragmentation needed" (MTU 576) quoting a sequence number not in
     * flight: the MSS stays. */
    assert_int_equal(rt_info(t).snd_mss, 1000);
    send_unreach(t, d, US_ICMP_FRAG_NEEDED, 576, 70000);
    rt_run(t, 5 * MS);
    assert_int_equal(ctr(t->s, "TcpExtOutOfWindowIcmps"), 3);
    assert_int_equal(rt_info(t).snd_mss, 1000);
    /* The same quoting the segment in flight: believed (576 - 40). */
    send_unreach(t, d, US_ICMP_FRAG_NEEDED, 576, 0);
    rt_run(t, 5 * MS);
    assert_int_equal(ctr(t->s, "TcpExtOutOfWindowIcmps"), 3);
    assert_int_equal(rt_info(t).snd_mss, 536);
    /* No soft error was kept: the timeout is ETIMEDOUT. */
    assert_int_equal(wait_for_timeout(t), -ETIMEDOUT);
    rt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable_is_a_soft_error),
        cmocka_unit_test(test_soft_error_forgotten_after_an_ack),
        cmocka_unit_test(test_errors_quoting_what_is_not_in_flight_are_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
