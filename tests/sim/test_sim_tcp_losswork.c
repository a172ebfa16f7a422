/* Loss recovery and timers cost what there is to do, not the window or the
 * number of connections (issue 10):
 *
 * - RACK (RFC 8985) looks only at records sent before the most recently
 *   delivered one and still unaccounted for (the time-ordered list, Linux's
 *   tsorted_sent_queue): with a window of over a thousand segments and a
 *   path that reorders, the records it examines per ACK stay a handful,
 *   where a walk of the retransmission queue would be the window.
 * - The timer poll looks only at connections with something due: the same
 *   transfer beside a few hundred idle connections examines no more
 *   connections than beside none (the old poll walked every connection
 *   twice whenever the stack's earliest deadline passed, and the loss
 *   probe re-armed on every ACK made that every couple of RTTs).
 *
 * The figures come from ustack's own counters TcpExtTCPRackSegsExamined and
 * TcpExtTCPTimerConnsExamined. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

/* a connects to b's port; the accepted descriptor (*cfd a's). The wire's
 * 5 ms each way needs more than tcp_pair's first 10 ms step for b to see
 * the handshake's last ACK. */
static int pair(struct tnet *n, uint16_t port, int *cfd)
{
    int lfd = tcp_listen_on(n->b, port, 4);
    *cfd = tcp_connect_to(n->a, B_IP, port);
    run(n, 100 * MS);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    us_close(n->b, lfd);
    return sfd;
}

/* Sends total bytes a -> b (byte-checked by the flow helper), stepping
 * 1 ms at a time; the most bytes in flight in *max_unacked. */
static void bulk(struct tnet *n, int cfd, int sfd, uint64_t total, uint32_t *max_unacked)
{
    static struct flow f;
    f = (struct flow){n->a, n->b, cfd, sfd, total, 0, 0, 0x77, false, false, 0, 0, {0}};
    us_time_ns end = n->now + 120 * SEC;
    *max_unacked = 0;
    while (!f.eof) {
        flow_step(n, &f);
        struct us_tcp_info ti = tcp_info_of(n->a, cfd);
        if (ti.unacked > *max_unacked)
            *max_unacked = ti.unacked;
        if (f.eof)
            break;
        if (n->now >= end)
            fail_msg("transfer stuck at %llu of %llu bytes", (unsigned long long)f.received,
                     (unsigned long long)total);
        run(n, 1 * MS);
    }
    assert_int_equal(f.received, total);
}

static void test_rack_work_per_ack_not_window(void **state)
{
    (void)state;
    /* 1 Gbit/s, 10 ms RTT: a 3 MiB window is ~2,000 segments; 1% of a's
     * frames held back 1 ms, so SACKs and RACK's reordering window are
     * busy throughout. */
    struct us_fault_config fa = {.reorder = 0.01, .seed = 11, .tx = true};
    struct tnet_cfg c = {
        .fault_a = &fa, .latency = 5 * MS, .bandwidth_bps = 1000000000ull, .pkt_count = 16384};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = pair(n, 80, &cfd);
    uint64_t ex0 = ctr(n->a, "TcpExtTCPRackSegsExamined"), in0 = ctr(n->a, "TcpInSegs");
    uint32_t max_unacked;
    bulk(n, cfd, sfd, 24u << 20, &max_unacked);
    uint64_t examined = ctr(n->a, "TcpExtTCPRackSegsExamined") - ex0;
    uint64_t acks = ctr(n->a, "TcpInSegs") - in0;
    if (getenv("TCP_SEED_VERBOSE"))
        fprintf(stderr, "max unacked %u bytes, %llu ACKs, %llu records examined (%.2f/ACK)\n",
                max_unacked, (unsigned long long)acks, (unsigned long long)examined,
                (double)examined / (double)acks);
    assert_true(ctr(n->b, "TcpExtTCPOFOQueue") > 100); /* SACKs were in play */
    assert_true(max_unacked >= 1500000);               /* bytes: over 1,000 segments */
    assert_true(examined > 0);
    /* A walk of the queue would be hundreds per ACK. */
    assert_true(examined < 8 * acks);
    tnet_free(n);
}

/* The connections the timer poll examined during a 4 MiB transfer beside
 * idle established connections. */
static uint64_t timer_work_beside(unsigned idle)
{
    struct tnet_cfg c = {.latency = 5 * MS, .bandwidth_bps = 100000000ull, .pkt_count = 16384};
    struct tnet *n = tnet_new(&c);
    int lfd = tcp_listen_on(n->b, 90, 64);
    for (unsigned done = 0; done < idle; done += 50) {
        for (unsigned i = done; i < idle && i < done + 50; i++)
            tcp_connect_to(n->a, B_IP, 90);
        run(n, 100 * MS);
        for (unsigned i = done; i < idle && i < done + 50; i++)
            assert_true(us_accept(n->b, lfd, NULL) >= 0);
    }
    run(n, 2 * SEC); /* the handshakes' timers are done with */
    int cfd;
    int sfd = pair(n, 80, &cfd);
    uint64_t a0 = ctr(n->a, "TcpExtTCPTimerConnsExamined");
    uint64_t b0 = ctr(n->b, "TcpExtTCPTimerConnsExamined");
    uint32_t max_unacked;
    bulk(n, cfd, sfd, 4u << 20, &max_unacked);
    uint64_t work = ctr(n->a, "TcpExtTCPTimerConnsExamined") - a0 +
                    ctr(n->b, "TcpExtTCPTimerConnsExamined") - b0;
    assert_int_equal(ctr(n->a, "TcpCurrEstab"), idle); /* the bulk one is closing */
    tnet_free(n);
    return work;
}

static void test_timer_work_not_connections(void **state)
{
    (void)state;
    uint64_t alone = timer_work_beside(0), crowd = timer_work_beside(300);
    if (getenv("TCP_SEED_VERBOSE"))
        fprintf(stderr, "connections examined by the timer poll: %llu alone, %llu beside 300\n",
                (unsigned long long)alone, (unsigned long long)crowd);
    assert_true(alone > 0); /* the transfer's own timers were polled */
    /* Beside 300 idle connections, at most a couple of extra looks at
     * each (a deadline armed without its tcpcb files every connection
     * once), where the old poll looked at all 301 at every expiry. */
    assert_true(crowd <= alone + 2 * 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rack_work_per_ack_not_window),
        cmocka_unit_test(test_timer_work_not_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
