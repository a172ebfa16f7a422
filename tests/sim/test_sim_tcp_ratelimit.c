/* net.ipv4.tcp_invalid_ratelimit for unacceptable segments other than
 * those that draw a challenge ACK (Linux's __tcp_oow_rate_limited): a
 * segment without data whose sequence number is outside the receive
 * window is answered with a duplicate ACK (RFC 9293 §3.10.7.4), at most
 * one per connection per tcp_invalid_ratelimit ms; the rest are counted in
 * TCPACKSkippedSeq. Segments carrying data are answered every time, as in
 * Linux (they cannot be one side of an ACK loop). With the knob at 0 every
 * segment is answered. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawpeer.h"

struct conn {
    struct rpeer *p;
    uint16_t sport;
    uint32_t rcv_nxt; /* the stack's: the raw host's next sequence number */
    uint32_t snd_nxt; /* the stack's next sequence number */
};

static struct conn open_conn(uint64_t seed)
{
    struct conn c = {.p = rp_new(seed), .sport = 43000, .rcv_nxt = 100001};
    int l = us_socket(c.p->s, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, 80};
    assert_int_equal(us_bind(c.p->s, l, &sa), 0);
    assert_int_equal(us_listen(c.p->s, l, 8), 0);
    struct rp_seg syn_ack = rp_open(c.p, RP_IP0, c.sport, 80, 100000, 1460);
    c.snd_nxt = syn_ack.t.seq + 1;
    assert_true(us_accept(c.p->s, l, NULL) >= 0);
    rp_clear(c.p);
    return c;
}

/* Sends a segment at seq (len bytes of data) and runs 2 ms; returns how
 * many duplicate ACKs (ACK of rcv_nxt, nothing else) came back. */
static unsigned poke(struct conn *c, uint32_t seq, size_t len)
{
    static const uint8_t data[100];
    assert_true(len <= sizeof(data));
    rp_send(c->p, RP_IP0, c->sport, 80, len ? US_TCP_ACK | US_TCP_PSH : US_TCP_ACK, seq, c->snd_nxt,
            NULL, data, len);
    rp_run(c->p, 2 * US_NS_PER_MS);
    unsigned acks = 0;
    struct rp_seg g;
    while (rp_next(c->p, &g)) {
        if (g.t.dport != c->sport)
            continue;
        if (g.t.flags != US_TCP_ACK || g.t.payload_len || g.t.ack != c->rcv_nxt ||
            g.t.seq != c->snd_nxt)
            fail_msg("unexpected answer: flags %02x seq %u ack %u len %zu", g.t.flags, g.t.seq,
                     g.t.ack, (size_t)g.t.payload_len);
        acks++;
    }
    return acks;
}

/* Out-of-window segments alternate between far beyond the window and
 * just below rcv_nxt (an old duplicate). */
static uint32_t bad_seq(const struct conn *c, unsigned i)
{
    return (i & 1) ? c->rcv_nxt - 1000 : c->rcv_nxt + 1000000;
}

static void test_oow_acks_limited(void **state)
{
    (void)state;
    struct conn c = open_conn(0x0a7e);
    struct rpeer *p = c.p;
    /* Five segments without data within 500 ms (Linux's default): one
     * duplicate ACK, four skipped. */
    uint64_t skipped = ctr(p->s, "TcpExtTCPACKSkippedSeq");
    us_time_ns t0 = p->now;
    unsigned acks = 0;
    for (unsigned i = 0; i < 5; i++) {
        rp_run(p, t0 + i * 100 * US_NS_PER_MS - p->now);
        unsigned a = poke(&c, bad_seq(&c, i), 0);
        if (i > 0 && a)
            fail_msg("segment %u, %u ms after the answered one, was answered too", i, i * 100);
        acks += a;
    }
    assert_int_equal(acks, 1);
    assert_int_equal(ctr(p->s, "TcpExtTCPACKSkippedSeq"), skipped + 4);
    /* Past 500 ms since the answer: the next one is answered again. */
    rp_run(p, t0 + 510 * US_NS_PER_MS - p->now);
    assert_int_equal(poke(&c, bad_seq(&c, 0), 0), 1);
    assert_int_equal(ctr(p->s, "TcpExtTCPACKSkippedSeq"), skipped + 4);
    /* Out-of-window segments with data: each answered, none skipped. */
    for (unsigned i = 0; i < 5; i++)
        if (poke(&c, bad_seq(&c, i), 100) != 1)
            fail_msg("out-of-window data segment %u was not answered", i);
    assert_int_equal(ctr(p->s, "TcpExtTCPACKSkippedSeq"), skipped + 4);
    /* The connection is unharmed: in-window data is taken. */
    rp_send(p, RP_IP0, c.sport, 80, US_TCP_ACK | US_TCP_PSH, c.rcv_nxt, c.snd_nxt, NULL, "ok", 2);
    rp_run(p, 50 * US_NS_PER_MS);
    struct rp_seg g;
    bool acked = false;
    while (rp_next(p, &g))
        acked |= g.t.dport == c.sport && g.t.ack == c.rcv_nxt + 2;
    if (!acked)
        fail_msg("in-window data after the out-of-window segments was not acknowledged");
    rp_free(p);
}

static void test_oow_limit_off(void **state)
{
    (void)state;
    struct conn c = open_conn(0x0a7f);
    struct rpeer *p = c.p;
    set_knob(p->s, "net.ipv4.tcp_invalid_ratelimit", "0");
    uint64_t skipped = ctr(p->s, "TcpExtTCPACKSkippedSeq");
    for (unsigned i = 0; i < 5; i++)
        if (poke(&c, bad_seq(&c, i), 0) != 1)
            fail_msg("with tcp_invalid_ratelimit=0, segment %u (%u ms after the first) was not "
                     "answered",
                     i, i * 2);
    assert_int_equal(ctr(p->s, "TcpExtTCPACKSkippedSeq"), skipped);
    /* A 100 ms limit: two segments 50 ms apart, one answer; 110 ms after
     * the answer, another. */
    set_knob(p->s, "net.ipv4.tcp_invalid_ratelimit", "100");
    us_time_ns t0 = p->now + 200 * US_NS_PER_MS;
    rp_run(p, t0 - p->now);
    assert_int_equal(poke(&c, bad_seq(&c, 0), 0), 1);
    rp_run(p, t0 + 50 * US_NS_PER_MS - p->now);
    assert_int_equal(poke(&c, bad_seq(&c, 1), 0), 0);
    rp_run(p, t0 + 110 * US_NS_PER_MS - p->now);
    assert_int_equal(poke(&c, bad_seq(&c, 0), 0), 1);
    assert_int_equal(ctr(p->s, "TcpExtTCPACKSkippedSeq"), skipped + 1);
    rp_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oow_acks_limited),
        cmocka_unit_test(test_oow_limit_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
