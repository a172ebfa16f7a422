/* How long a D-SACK widens RACK's reordering window (RFC 8985 §6.2 step 4,
 * Linux's reo_wnd_steps and reo_wnd_persist): a D-SACK (a retransmission
 * was needless: the original was late, not lost) takes the window from
 * min_rtt/4 to 2 x min_rtt/4, and it stays that wide for the next 16
 * recoveries, then comes back to min_rtt/4.
 *
 * On a 10 ms RTT (min_rtt/4 = 2.5 ms) a segment held back 4 ms is
 * retransmitted needlessly with the narrow window and waited for with the
 * wide one. The test shows: first such delay retransmitted (and
 * D-SACKed); after 1 and after 15 recoveries from real losses the same
 * delay is waited for; after the 16th it is retransmitted again. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/devwrap.h"
#include "sim/tcp_util.h"

#include "ustack/wire.h"

enum act { ACT_NONE, ACT_DROP, ACT_HOLD };

/* A device wrapper on a: the first data segment at or past stream offset
 * `from` that is not the last of its burst (so a later segment is sent
 * with it, to be SACKed before it) is dropped, or held back hold_for. */
struct reo_dev {
    struct devwrap w;
    bool have_isn;
    uint32_t isn;
    enum act act;
    uint32_t from;
    us_time_ns hold_for;
    struct us_pkt *held;
    us_time_ns held_until;
    unsigned acted;
};

static void release(struct devwrap *w, us_time_ns now)
{
    struct reo_dev *r = (struct reo_dev *)w;
    if (r->held && now >= r->held_until) {
        us_dev_tx_burst(r->w.dev.lower, &r->held, 1, now);
        r->held = NULL;
    }
}

/* The stream offset of a's data segment in f, or -1. */
static int64_t data_offset(struct reo_dev *r, const struct us_pkt *f)
{
    struct us_tcp_view tcp;
    if (!devwrap_tcp(f, &tcp))
        return -1;
    if (tcp.flags & US_TCP_SYN) {
        r->isn = tcp.seq;
        r->have_isn = true;
    }
    if (!r->have_isn || !tcp.payload_len)
        return -1;
    return (int64_t)(uint32_t)(tcp.seq - r->isn - 1);
}

static enum dw_verdict reo_tx(struct devwrap *w, struct us_pkt *f, struct us_pkt *next,
                              us_time_ns now)
{
    struct reo_dev *r = (struct reo_dev *)w;
    int64_t off = data_offset(r, f);
    if (r->act == ACT_NONE || off < (int64_t)r->from || !next || data_offset(r, next) <= off)
        return DW_PASS;
    enum dw_verdict v = DW_DROP;
    if (r->act == ACT_HOLD) {
        r->held = f;
        r->held_until = now + r->hold_for;
        v = DW_KEEP;
    }
    r->act = ACT_NONE;
    r->acted++;
    return v;
}

static us_time_ns reo_deadline(struct devwrap *w)
{
    struct reo_dev *r = (struct reo_dev *)w;
    return r->held ? r->held_until : US_TIME_NEVER;
}

static void reo_fini(struct devwrap *w)
{
    struct reo_dev *r = (struct reo_dev *)w;
    if (r->held)
        us_pkt_free(r->held);
}

static const struct devwrap_hooks reo_hooks = {
    .tx = reo_tx, .release = release, .deadline = reo_deadline, .fini = reo_fini};

static struct us_dev *wrap_reo(struct us_dev *lower, void *ctx)
{
    struct reo_dev *r = ctx;
    return devwrap_init(&r->w, lower, "reo", &reo_hooks);
}

struct conn {
    struct tnet *n;
    struct reo_dev *r;
    int cfd, sfd;
    uint64_t offset; /* bytes a sent so far */
    uint32_t mss;
};

/* a sends `segs` segments' worth; `act` applies from the 20th of them;
 * returns once b has it all and 50 ms more have passed. */
static void phase(struct conn *c, enum act act, unsigned segs)
{
    static uint8_t buf[1 << 20], in[1 << 16];
    uint32_t len = segs * c->mss;
    assert_true(len <= sizeof(buf));
    c->r->act = act;
    c->r->from = (uint32_t)c->offset + 20 * c->mss;
    c->r->hold_for = 4 * MS;
    unsigned acted = c->r->acted;
    uint32_t sent = 0, got = 0;
    us_time_ns end = c->n->now + 10 * SEC;
    while (got < len) {
        if (sent < len) {
            int r = us_send(c->n->a, c->cfd, buf, len - sent, 0, c->n->now);
            if (r > 0)
                sent += (uint32_t)r;
        }
        int r;
        while ((r = us_recv(c->n->b, c->sfd, in, sizeof(in), 0)) > 0)
            got += (uint32_t)r;
        if (c->n->now > end)
            fail_msg("only %u of %u bytes in 10 s", got, len);
        run(c->n, 1 * MS);
    }
    run(c->n, 50 * MS);
    c->offset += len;
    if (act != ACT_NONE && c->r->acted != acted + 1)
        fail_msg("no segment of the phase was %s", act == ACT_DROP ? "dropped" : "held back");
}

static uint64_t rexmits(struct conn *c)
{
    return ctr(c->n->a, "TcpRetransSegs");
}

static uint64_t recoveries(struct conn *c)
{
    return ctr(c->n->a, "TcpExtTCPSackRecovery");
}

/* A segment held back 4 ms: whether a retransmitted it. */
static bool late_segment_retransmitted(struct conn *c)
{
    uint64_t before = rexmits(c), rec = recoveries(c);
    phase(c, ACT_HOLD, 100);
    uint64_t n = rexmits(c) - before;
    assert_true(n <= 1);
    /* Waited for: no recovery either. */
    if (!n)
        assert_int_equal(recoveries(c), rec);
    return n == 1;
}

/* A segment really lost: one recovery, one retransmission. */
static void real_loss(struct conn *c)
{
    uint64_t before = rexmits(c), rec = recoveries(c);
    phase(c, ACT_DROP, 100);
    assert_int_equal(rexmits(c) - before, 1);
    assert_int_equal(recoveries(c) - rec, 1);
}

static void test_dsack_widens_the_window_for_16_recoveries(void **state)
{
    (void)state;
    static struct reo_dev r;
    memset(&r, 0, sizeof(r));
    struct tnet_cfg cfg = {.latency = 5 * MS, .wrap_a = wrap_reo, .wrap_ctx = &r};
    struct conn c = {.r = &r};
    c.n = tnet_new(&cfg);
    c.sfd = tcp_pair(c.n, 80, &c.cfd, NULL);
    c.mss = tcp_info_of(c.n->a, c.cfd).snd_mss;
    phase(&c, ACT_NONE, 200); /* min_rtt: 10 ms */

    /* The narrow window: the late segment is resent, and D-SACKed. */
    if (!late_segment_retransmitted(&c))
        fail_msg("a segment 4 ms late was waited for before any D-SACK");
    assert_int_equal(ctr(c.n->a, "TcpExtTCPDSACKRecv"), 1);
    uint64_t rec0 = recoveries(&c);

    /* Widened: the next late segment is waited for, after one recovery
     * from a real loss and after fifteen. */
    real_loss(&c);
    if (late_segment_retransmitted(&c))
        fail_msg("after the D-SACK and 1 recovery a 4 ms delay was retransmitted");
    for (int i = 2; i <= 15; i++)
        real_loss(&c);
    if (late_segment_retransmitted(&c))
        fail_msg("after the D-SACK and 15 recoveries a 4 ms delay was retransmitted");
    /* The 16th recovery: the window is back to min_rtt/4. */
    real_loss(&c);
    assert_int_equal(recoveries(&c) - rec0, 16);
    if (!late_segment_retransmitted(&c))
        fail_msg("after 16 recoveries the window is still wide");
    /* Only the two needless retransmissions came back as D-SACKs. */
    run(c.n, 50 * MS);
    assert_int_equal(ctr(c.n->a, "TcpExtTCPDSACKRecv"), 2);
    assert_int_equal(ctr(c.n->a, "TcpExtTCPTimeouts"), 0);
    tnet_free(c.n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsack_widens_the_window_for_16_recoveries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
