/* The close states as they happen (RFC 9293 §3.6, figures 12 and 13),
 * read from tcp_info and the socket table at each moment of a 10 ms RTT
 * path, and tied to the segments on the wire:
 *  - simultaneous close: both sides send FIN before either hears the
 *    other's; each is in CLOSING from the moment the peer's FIN arrives
 *    until its own FIN is acknowledged, then in TIME_WAIT, never FIN_WAIT2;
 *  - passive close: the side that heard the FIN is in CLOSE_WAIT, then
 *    after its own FIN in LAST_ACK for as long as that FIN is not
 *    acknowledged (its first ACK lost: the FIN is sent again from
 *    LAST_ACK), and closed the moment the ACK arrives; the same for a
 *    socket closed in CLOSE_WAIT, seen as an orphan in the socket table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/seglog.h"
#include "sim/tcp_util.h"

#include <stdio.h>

#define LAT  (5 * MS) /* one way */
#define STEP (100 * 1000)

/* a connects to b; the accepted socket on b once the handshake is done. */
static int pair(struct tnet *n, int *cfd)
{
    int lfd = tcp_listen_on(n->b, 80, 4);
    *cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 50 * MS);
    assert_true(us_sock_poll_events(n->a, *cfd) & US_POLLOUT);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    us_close(n->b, lfd);
    return sfd;
}

static int state_of(struct us_stack *s, int fd)
{
    return tcp_info_of(s, fd).state;
}

/* The last time the log shows a segment with FIN (sent or received). */
static us_time_ns fin_time(const struct seglog *l, bool tx)
{
    us_time_ns t = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->segs[i].tx == tx && (l->segs[i].flags & US_TCP_FIN))
            t = l->segs[i].at;
    return t;
}

/* Runs until the state of fd on s leaves `state` (bounded); returns when. */
static us_time_ns run_while_state(struct tnet *n, struct us_stack *s, int fd, int state,
                                  us_time_ns limit)
{
    us_time_ns end = n->now + limit;
    while (state_of(s, fd) == state) {
        if (n->now >= end)
            fail_msg("still in %s after %.1f ms", us_tcp_state_name(state), (double)limit / 1e6);
        run(n, STEP);
    }
    return n->now;
}

static void test_simultaneous_close_passes_through_closing(void **state)
{
    (void)state;
    static struct seglog log;
    memset(&log, 0, sizeof(log));
    struct tnet_cfg c = {.latency = LAT, .wrap_a = seglog_wrap, .wrap_ctx = &log};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = pair(n, &cfd);
    /* Both close at the same moment: the FINs cross on the wire. */
    run(n, 0); /* both stacks' clocks at now */
    us_time_ns t0 = n->now;
    assert_int_equal(us_shutdown(n->a, cfd, US_SHUT_WR), 0);
    assert_int_equal(us_shutdown(n->b, sfd, US_SHUT_WR), 0);
    assert_int_equal(state_of(n->a, cfd), US_TCP_FIN_WAIT1);
    assert_int_equal(state_of(n->b, sfd), US_TCP_FIN_WAIT1);

    /* a stays in FIN_WAIT1 until b's FIN arrives, one way later; its own
     * FIN is not acknowledged then (b had not seen it). */
    us_time_ns closing_at = run_while_state(n, n->a, cfd, US_TCP_FIN_WAIT1, 100 * MS);
    assert_int_equal(state_of(n->a, cfd), US_TCP_CLOSING);
    assert_int_equal(state_of(n->b, sfd), US_TCP_CLOSING);
    /* a's FIN left before b's arrived, and b's left before a's arrived. */
    assert_true(fin_time(&log, true) == t0);
    assert_true(fin_time(&log, false) == fin_time(&log, true) + LAT);
    assert_true(closing_at >= t0 + LAT && closing_at <= t0 + LAT + STEP);
    assert_true(us_recv(n->a, cfd, (char[8]){0}, 8, 0) == 0); /* b's FIN read as EOF */

    /* CLOSING until the ACK of a's FIN comes back: a round trip after a
     * sent it. */
    us_time_ns tw_at = run_while_state(n, n->a, cfd, US_TCP_CLOSING, 100 * MS);
    assert_int_equal(state_of(n->a, cfd), US_TCP_TIME_WAIT);
    assert_true(tw_at >= t0 + 2 * LAT && tw_at <= t0 + 2 * LAT + STEP);
    assert_int_equal(state_of(n->b, sfd), US_TCP_TIME_WAIT);
    /* The ACK that ended CLOSING acknowledged a's FIN and carried no FIN. */
    const struct sl_seg *last = &log.segs[log.n - 1];
    assert_false(last->tx);
    assert_false(last->flags & US_TCP_FIN);
    assert_int_equal(last->at, t0 + 2 * LAT);
    us_close(n->a, cfd);
    us_close(n->b, sfd);
    tnet_free(n);
    seglog_free(&log);
}

/* Drops the first ACK a sends for b's FIN. */
static bool drop_first_fin_ack(struct seglog *l, const struct sl_seg *g, void *ctx)
{
    int *left = ctx;
    if (!g->tx || !*left || (g->flags & (US_TCP_FIN | US_TCP_SYN)) || g->len)
        return false;
    /* An ACK from a after it received a FIN. */
    bool fin_seen = false;
    for (size_t i = 0; i < l->n; i++)
        fin_seen |= !l->segs[i].tx && (l->segs[i].flags & US_TCP_FIN);
    if (!fin_seen)
        return false;
    (*left)--;
    return true;
}

/* Whether the socket table of s has a line with this state name. */
static bool table_has(struct us_stack *s, const char *state_name)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    us_sock_print_table(s, f);
    fclose(f);
    bool has = false;
    for (char *line = buf; line && *line;) {
        if (strncmp(line, state_name, strlen(state_name)) == 0)
            has = true;
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return has;
}

static void passive_close(bool use_close)
{
    static struct seglog log;
    memset(&log, 0, sizeof(log));
    int drops = 1;
    log.drop = drop_first_fin_ack;
    log.drop_ctx = &drops;
    /* 10 Mbit/s: b's last data segments and its FIN arrive one by one,
     * each ACKed apart. */
    struct tnet_cfg c = {
        .latency = LAT, .bandwidth_bps = 10000000, .wrap_a = seglog_wrap, .wrap_ctx = &log};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = pair(n, &cfd);
    /* a closes first (active close); b hears the FIN: CLOSE_WAIT. */
    assert_int_equal(us_shutdown(n->a, cfd, US_SHUT_WR), 0);
    run_while_state(n, n->b, sfd, US_TCP_ESTABLISHED, 100 * MS);
    assert_int_equal(state_of(n->b, sfd), US_TCP_CLOSE_WAIT);
    assert_true(table_has(n->b, "CLOSE-WAIT"));
    char b1[8];
    assert_int_equal(us_recv(n->b, sfd, b1, sizeof(b1), 0), 0);
    run(n, 50 * MS);
    assert_int_equal(state_of(n->b, sfd), US_TCP_CLOSE_WAIT);
    assert_int_equal(state_of(n->a, cfd), US_TCP_FIN_WAIT2);

    /* b sends its last 4 KB and closes: the data goes, then the FIN, and
     * b waits in LAST_ACK for the ACK of the FIN; the ACKs of the data
     * that arrive meanwhile do not end it. */
    run(n, 0);
    us_time_ns t0 = n->now;
    static uint8_t last_words[4000];
    assert_int_equal(us_send(n->b, sfd, last_words, sizeof(last_words), 0, n->now),
                     (int)sizeof(last_words));
    size_t fins_before = 0;
    for (size_t i = 0; i < log.n; i++)
        fins_before += !log.segs[i].tx && (log.segs[i].flags & US_TCP_FIN);
    if (use_close) {
        assert_int_equal(us_close(n->b, sfd), 0);
        assert_true(table_has(n->b, "LAST-ACK"));
    } else {
        assert_int_equal(us_shutdown(n->b, sfd, US_SHUT_WR), 0);
        assert_int_equal(state_of(n->b, sfd), US_TCP_LAST_ACK);
    }
    /* The first ACK is lost: b stays in LAST_ACK past the round trip and
     * sends its FIN again when the retransmission timer fires. */
    us_time_ns end = t0 + 5 * SEC;
    size_t fins = 0;
    us_time_ns closed_at = 0;
    while (!closed_at) {
        if (n->now >= end)
            fail_msg("b never left LAST_ACK");
        run(n, STEP);
        fins = 0;
        for (size_t i = 0; i < log.n; i++)
            fins += !log.segs[i].tx && (log.segs[i].flags & US_TCP_FIN);
        fins -= fins_before;
        bool last_ack =
            use_close ? table_has(n->b, "LAST-ACK") : state_of(n->b, sfd) == US_TCP_LAST_ACK;
        if (!last_ack)
            closed_at = n->now;
    }
    assert_int_equal(drops, 0);
    assert_int_equal(fins, 2);              /* the FIN and its retransmission */
    assert_true(closed_at > t0 + 200 * MS); /* not before the RTO resent it */
    /* Closed exactly when the (second) ACK reached b, one way after a
     * sent it. */
    us_time_ns ack_sent = 0, fin2_at = 0;
    for (size_t i = 0; i < log.n; i++) {
        if (log.segs[i].tx && !log.dropped[i])
            ack_sent = log.segs[i].at;
        if (!log.segs[i].tx && (log.segs[i].flags & US_TCP_FIN))
            fin2_at = log.segs[i].at;
    }
    assert_true(ack_sent >= fin2_at);
    /* ACKs of the data alone reached b while it was in LAST_ACK. */
    uint32_t fin_seq = 0;
    for (size_t i = 0; i < log.n; i++)
        if (!log.segs[i].tx && (log.segs[i].flags & US_TCP_FIN))
            fin_seq = log.segs[i].seq + log.segs[i].len;
    unsigned data_acks = 0;
    for (size_t i = 0; i < log.n; i++)
        data_acks += log.segs[i].tx && !log.dropped[i] && log.segs[i].at > t0 &&
                     (int32_t)(log.segs[i].ack - (fin_seq + 1)) < 0;
    assert_true(data_acks >= 2);
    assert_true(closed_at >= ack_sent + LAT && closed_at <= ack_sent + LAT + STEP);
    if (use_close) {
        assert_false(table_has(n->b, "LAST-ACK"));
    } else {
        assert_int_equal(state_of(n->b, sfd), US_TCP_CLOSE);
        us_close(n->b, sfd);
    }
    assert_int_equal(state_of(n->a, cfd), US_TCP_TIME_WAIT);
    us_close(n->a, cfd);
    tnet_free(n);
    seglog_free(&log);
}

static void test_passive_close_waits_in_last_ack(void **state)
{
    (void)state;
    passive_close(false);
}

static void test_closed_in_close_wait_is_an_orphan_in_last_ack(void **state)
{
    (void)state;
    passive_close(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simultaneous_close_passes_through_closing),
        cmocka_unit_test(test_passive_close_waits_in_last_ack),
        cmocka_unit_test(test_closed_in_close_wait_is_an_orphan_in_last_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
