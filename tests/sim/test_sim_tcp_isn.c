/* Initial sequence numbers per RFC 6528 §3 (RFC 9293 §3.4.1): ISN = M +
 * F(localip, localport, remoteip, remoteport, secretkey), M a clock that
 * ticks every 4 µs. So for one 4-tuple the ISN advances with time at
 * 250,000 a second (a new incarnation starts above the old one's
 * numbers); for different 4-tuples, or the same one on a stack with
 * another secret, the ISNs at the same moment are unrelated. Seen in the
 * SYN-ACKs a listener sends a raw host. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/rawpeer.h"

/* The ISN of the SYN-ACK the listener on p answers a SYN from sport with;
 * the half-open connection is then reset, so the 4-tuple is free again. */
static uint32_t isn_for(struct rpeer *p, uint16_t sport, us_time_ns *sent_at)
{
    if (sent_at)
        *sent_at = p->now;
    rp_syn(p, RP_IP0, sport, 80, 7000, 1460);
    struct rp_seg sa = rp_expect(p, sport, "SYN-ACK");
    assert_int_equal(sa.t.flags, US_TCP_SYN | US_TCP_ACK);
    rp_send(p, RP_IP0, sport, 80, US_TCP_RST, 7001, 0, NULL, NULL, 0);
    rp_run(p, 3 * US_NS_PER_MS);
    return sa.t.seq;
}

static struct rpeer *listening(uint64_t seed)
{
    struct rpeer *p = rp_new(seed);
    int l = us_socket(p->s, US_SOCK_STREAM);
    struct us_sockaddr_in sa = {US_IP4_ANY, 80};
    assert_int_equal(us_bind(p->s, l, &sa), 0);
    assert_int_equal(us_listen(p->s, l, 64), 0);
    return p;
}

/* How far b is from a, either way round (mod 2^32). */
static uint32_t distance(uint32_t a, uint32_t b)
{
    uint32_t d = b - a;
    return d < 0x80000000u ? d : (uint32_t)-d;
}

/* One 4-tuple: the ISN moves on by the time between the SYNs over 4 µs. */
static void test_isn_clock(void **state)
{
    (void)state;
    struct rpeer *p = listening(0x15a);
    const struct {
        us_time_ns gap;
        uint32_t ticks;
    } steps[] = {
        {1 * US_NS_PER_SEC, 250000},        {10 * US_NS_PER_SEC, 2500000},
        {100 * US_NS_PER_MS, 25000},        {1000 * US_NS_PER_SEC, 250000000},
        {4000 * US_NS_PER_SEC, 1000000000},
    };
    us_time_ns prev_at;
    uint32_t prev = isn_for(p, 41000, &prev_at);
    for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        p->rh.step = 10 * US_NS_PER_MS; /* the idle time in larger steps */
        rp_run(p, prev_at + steps[i].gap - p->now);
        p->rh.step = 100 * 1000;
        us_time_ns at;
        uint32_t isn = isn_for(p, 41000, &at);
        assert_int_equal(at, prev_at + steps[i].gap);
        uint32_t moved = isn - prev;
        /* The SYNs were sent gap apart and took the same time to arrive:
         * within 100 µs (25 ticks) of the clock's pace. */
        if (distance(steps[i].ticks, moved) > 25)
            fail_msg("after %.1f s the ISN moved by %u, not about %u (4 µs ticks)",
                     (double)steps[i].gap / 1e9, moved, steps[i].ticks);
        prev = isn;
        prev_at = at;
    }
    rp_free(p);
}

/* Different 4-tuples at the same moment: unrelated ISNs. A clock alone (or
 * a clock plus the port) would give ISNs a few ticks apart. */
static void test_isn_per_tuple(void **state)
{
    (void)state;
    struct rpeer *p = listening(0x15b);
    enum { N = 12 };
    uint32_t isn[N];
    for (unsigned i = 0; i < N; i++)
        isn[i] = isn_for(p, (uint16_t)(42000 + i), NULL); /* 4 ms apart: 1,000 ticks */
    for (unsigned i = 0; i < N; i++)
        for (unsigned j = i + 1; j < N; j++)
            if (distance(isn[i], isn[j]) < (1u << 16))
                fail_msg("ports %u and %u got ISNs %u and %u: related", 42000 + i, 42000 + j,
                         isn[i], isn[j]);
    /* The same 4-tuple on a stack with another secret (another seed) at the
     * same virtual time: unrelated too. */
    struct rpeer *q = listening(0x15c);
    struct rpeer *r = listening(0x15d);
    uint32_t a = isn_for(q, 42000, NULL), b = isn_for(r, 42000, NULL);
    assert_int_equal(q->now, r->now);
    if (distance(a, b) < (1u << 16))
        fail_msg("two stacks' secrets gave ISNs %u and %u for one 4-tuple", a, b);
    rp_free(p);
    rp_free(q);
    rp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isn_clock),
        cmocka_unit_test(test_isn_per_tuple),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
