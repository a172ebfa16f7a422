/* RFC 6675 §4's pipe bounds what a SACK sender has in the network during
 * loss recovery: bytes sent, less what was SACKed or deemed lost, plus
 * retransmissions in flight, never above cwnd. A bulk transfer a -> b over
 * a 10 ms RTT loses every 37th new segment and the first retransmission of
 * the first of them (so RACK must find a lost retransmission); each time
 * a sends data, the pipe computed from a's US_TCP_INFO (unacked − sacked −
 * lost + retrans) is at most cwnd, or one segment more for a tail loss
 * probe (RFC 8985 §7.3 sends it past cwnd). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/seglog.h"
#include "sim/tcp_util.h"

struct pipe_check {
    struct seglog log; /* first: the device wrapper's context */
    struct us_stack *s;
    int fd; /* a's connection, -1 until it is up */
    bool have_isn;
    uint32_t isn, high; /* a's ISN; the highest sequence number sent + 1 */
    unsigned new_segs;  /* new data segments sent */
    bool first_lost;
    uint32_t first_lost_seq;
    bool rexmit_dropped;
    unsigned dropped;
    uint64_t probes; /* TcpExtTCPLossProbes at the last check */
    /* Checks made while the pipe's terms were non-zero. */
    unsigned checks, with_sacked, with_lost, with_retrans;
    uint32_t worst; /* largest pipe − cwnd seen, if positive */
};

/* Called for each segment a sends or receives, before it goes on. */
static bool check_and_drop(struct seglog *l, const struct sl_seg *g, void *ctx)
{
    struct pipe_check *c = ctx;
    (void)l;
    if (!g->tx)
        return false;
    if (g->flags & US_TCP_SYN) {
        c->isn = g->seq;
        c->high = g->seq + 1;
        c->have_isn = true;
        return false;
    }
    if (!g->len || !c->have_isn || c->fd < 0)
        return false;

    /* What a has in the network now that it sent this (the stack hands
     * its device a burst after building it, so the state includes it). */
    struct us_tcp_info ti = tcp_info_of(c->s, c->fd);
    uint64_t probes = ctr(c->s, "TcpExtTCPLossProbes");
    int64_t pipe = (int64_t)ti.unacked - ti.sacked - ti.lost + ti.retrans;
    int64_t allowed = (int64_t)ti.snd_cwnd + (probes != c->probes ? ti.snd_mss : 0);
    c->probes = probes;
    c->checks++;
    c->with_sacked += ti.sacked != 0;
    c->with_lost += ti.lost != 0;
    c->with_retrans += ti.retrans != 0;
    if (pipe > allowed)
        fail_msg("sending %u bytes at %u (%.3f s): pipe %lld = unacked %u - sacked %u - lost %u + "
                 "retrans %u, above cwnd %u",
                 g->len, g->seq - c->isn - 1, (double)g->at / 1e9, (long long)pipe, ti.unacked,
                 ti.sacked, ti.lost, ti.retrans, ti.snd_cwnd);
    if (pipe > (int64_t)ti.snd_cwnd && (uint32_t)(pipe - ti.snd_cwnd) > c->worst)
        c->worst = (uint32_t)(pipe - ti.snd_cwnd);

    bool rexmit = (int32_t)(g->seq - c->high) < 0;
    if ((int32_t)(g->seq + g->len - c->high) > 0)
        c->high = g->seq + g->len;
    if (!rexmit) {
        if (++c->new_segs % 37 != 20)
            return false;
        if (!c->first_lost) {
            c->first_lost = true;
            c->first_lost_seq = g->seq;
        }
        c->dropped++;
        return true;
    }
    if (c->first_lost && g->seq == c->first_lost_seq && !c->rexmit_dropped) {
        c->rexmit_dropped = true; /* the retransmission is lost too */
        c->dropped++;
        return true;
    }
    return false;
}

static void test_pipe_stays_within_cwnd_in_recovery(void **state)
{
    (void)state;
    static struct pipe_check c;
    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.log.drop = check_and_drop;
    c.log.drop_ctx = &c;
    struct tnet_cfg cfg = {.latency = 5 * MS, .wrap_a = seglog_wrap, .wrap_ctx = &c.log};
    struct tnet *n = tnet_new(&cfg);
    c.s = n->a;
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    assert_true(tcp_info_of(n->a, cfd).options & US_TCPI_OPT_SACK);
    c.fd = cfd;
    transfer(n, cfd, sfd, 4u << 20, 0, 1 * MS, 60 * SEC);
    c.fd = -1;
    if (getenv("TCP_VERBOSE"))
        fprintf(stderr,
                "%u checks: %u with sacked, %u with lost, %u with retrans; %u dropped; "
                "recoveries %llu, probes %llu, worst excess %u\n",
                c.checks, c.with_sacked, c.with_lost, c.with_retrans, c.dropped,
                (unsigned long long)ctr(n->a, "TcpExtTCPSackRecovery"),
                (unsigned long long)ctr(n->a, "TcpExtTCPLossProbes"), c.worst);
    assert_true(c.rexmit_dropped);
    /* The rule was checked with each of its terms at work. */
    assert_true(c.with_sacked > 50);
    assert_true(c.with_lost > 50);
    assert_true(c.with_retrans > 50);
    assert_true(ctr(n->a, "TcpExtTCPSackRecovery") >= 10);
    assert_true(ctr(n->a, "TcpExtTCPLostRetransmit") >= 1);
    tnet_free(n);
    seglog_free(&c.log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipe_stays_within_cwnd_in_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
