/* Congestion control window arithmetic on a virtual ACK clock: Reno's slow
 * start, congestion avoidance, ssthresh and loss window (RFC 5681, RFC 3465);
 * CUBIC's reduction, K, concave/convex shape, Reno-friendly region, fast
 * convergence and timeout (RFC 9438). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "tcp/tcp_cc.h"

#define MSS 1000u
#define T0  (1000 * US_NS_PER_SEC)
#define MS  US_NS_PER_MS

/* One round trip of a sender that always fills its window: the cwnd at the
 * start of the round is in flight and comes back as one ACK per MSS (the last
 * one shorter), spread evenly over the RTT; flight before each ACK = cwnd. */
static void ack_round(struct us_tcp_cc_state *st, us_time_ns *now, us_time_ns rtt)
{
    uint32_t window = st->cwnd, left = window;
    uint32_t n = (window + st->mss - 1) / st->mss;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t acked = left < st->mss ? left : st->mss;
        left -= acked;
        us_tcp_cc_on_ack(st, acked, st->cwnd, rtt, *now + rtt * (i + 1) / n);
    }
    *now += rtt;
}

static void test_registry(void **state)
{
    (void)state;
    assert_string_equal(us_tcp_cc_names(), "reno cubic");
    assert_ptr_equal(us_tcp_cc_find("reno"), &us_tcp_cc_reno);
    assert_ptr_equal(us_tcp_cc_find("cubic"), &us_tcp_cc_cubic);
    assert_string_equal(us_tcp_cc_find("cubic")->name, "cubic");
    assert_null(us_tcp_cc_find("bbr"));
    assert_null(us_tcp_cc_find("Reno"));
    assert_null(us_tcp_cc_find(""));
    assert_null(us_tcp_cc_find(NULL));
    /* Every listed name resolves. */
    char names[64];
    strcpy(names, us_tcp_cc_names());
    char *save = NULL;
    for (char *tok = strtok_r(names, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        assert_non_null(us_tcp_cc_find(tok));
}

static void test_initial_window(void **state)
{
    (void)state;
    /* RFC 6928 §2: min(10 * MSS, max(2 * MSS, 14600)). */
    assert_int_equal(us_tcp_cc_initial_window(1460), 14600);
    assert_int_equal(us_tcp_cc_initial_window(536), 5360);
    assert_int_equal(us_tcp_cc_initial_window(9000), 18000);
    struct us_tcp_cc_state st;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, 1460, T0);
    assert_ptr_equal(st.ops, &us_tcp_cc_cubic);
    assert_int_equal(st.mss, 1460);
    assert_int_equal(st.cwnd, 14600);
    assert_int_equal(st.ssthresh, US_TCP_INFINITE_SSTHRESH);
}

static void test_reno_slow_start_doubles(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, now);
    assert_int_equal(st.cwnd, 10 * MSS);
    for (uint32_t expect = 20 * MSS; expect <= 640 * MSS; expect *= 2) {
        ack_round(&st, &now, 50 * MS);
        assert_int_equal(st.cwnd, expect);
    }
}

static void test_reno_abc_limit(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, T0);
    /* RFC 3465 §2.2: a stretch ACK of 4 MSS grows cwnd by at most L = 2 MSS. */
    us_tcp_cc_on_ack(&st, 4 * MSS, st.cwnd, 0, T0);
    assert_int_equal(st.cwnd, 12 * MSS);
    us_tcp_cc_on_ack(&st, MSS / 2, st.cwnd, 0, T0);
    assert_int_equal(st.cwnd, 12 * MSS + MSS / 2);
}

static void test_reno_slow_start_stops_at_ssthresh(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, now);
    st.ssthresh = 15 * MSS;
    ack_round(&st, &now, 50 * MS);
    /* Slow start stops at 15 MSS; the rest of the round is congestion
     * avoidance, which has not yet counted a whole window. */
    assert_int_equal(st.cwnd, 15 * MSS);
    ack_round(&st, &now, 50 * MS);
    assert_int_equal(st.cwnd, 16 * MSS);
}

static void test_reno_congestion_avoidance(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, now);
    st.cwnd = 20 * MSS;
    st.ssthresh = 10 * MSS;
    /* RFC 5681 §3.1: one SMSS per RTT of full ACKs. */
    for (uint32_t k = 1; k <= 50; k++) {
        ack_round(&st, &now, 50 * MS);
        assert_int_equal(st.cwnd, (20 + k) * MSS);
    }
}

static void test_reno_not_cwnd_limited(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, T0);
    /* Slow start with a quarter of the window in use: no growth. */
    for (int i = 0; i < 100; i++)
        us_tcp_cc_on_ack(&st, MSS, st.cwnd / 4, 0, T0);
    assert_int_equal(st.cwnd, 10 * MSS);
    /* Half in use in slow start is enough (the doubled window would be used). */
    us_tcp_cc_on_ack(&st, MSS, st.cwnd / 2 + 1, 0, T0);
    assert_int_equal(st.cwnd, 11 * MSS);
    /* Congestion avoidance needs cwnd filled to within one MSS. */
    st.ssthresh = st.cwnd;
    for (int i = 0; i < 100; i++)
        us_tcp_cc_on_ack(&st, MSS, st.cwnd - 2 * MSS, 0, T0);
    assert_int_equal(st.cwnd, 11 * MSS);
    for (int i = 0; i < 11; i++)
        us_tcp_cc_on_ack(&st, MSS, st.cwnd - MSS / 2, 0, T0);
    assert_int_equal(st.cwnd, 12 * MSS);
}

static void test_reno_ssthresh_on_loss(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, T0);
    /* RFC 5681 §3.1 eq. 4: max(FlightSize / 2, 2 * SMSS). */
    assert_int_equal(us_tcp_cc_reno.ssthresh(&st, 30 * MSS), 15 * MSS);
    assert_int_equal(us_tcp_cc_reno.ssthresh(&st, 3 * MSS), 2 * MSS);
    assert_int_equal(us_tcp_cc_reno.ssthresh(&st, 0), 2 * MSS);

    st.cwnd = 40 * MSS;
    us_tcp_cc_recovery_enter(&st, 30 * MSS, T0);
    assert_int_equal(st.ssthresh, 15 * MSS);
    assert_int_equal(st.cwnd, 15 * MSS);
    /* The core inflates during NewReno recovery; exit deflates to ssthresh. */
    st.cwnd += 3 * MSS;
    us_tcp_cc_recovery_exit(&st, T0);
    assert_int_equal(st.cwnd, 15 * MSS);
    /* And congestion avoidance follows (cwnd == ssthresh). */
    us_time_ns now = T0;
    ack_round(&st, &now, 50 * MS);
    assert_int_equal(st.cwnd, 16 * MSS);
}

static void test_reno_rto(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, now);
    st.cwnd = 40 * MSS;
    us_tcp_cc_rto(&st, 40 * MSS, false, now);
    assert_int_equal(st.cwnd, MSS); /* RFC 5681 §3.1: LW = 1 SMSS */
    assert_int_equal(st.ssthresh, 20 * MSS);
    /* A repeated timeout of the same segment holds ssthresh. */
    us_tcp_cc_rto(&st, MSS, true, now);
    assert_int_equal(st.cwnd, MSS);
    assert_int_equal(st.ssthresh, 20 * MSS);
    /* Slow start again: 1, 2, 4, 8, 16, then 20 = ssthresh. */
    for (uint32_t expect = 2; expect <= 16; expect *= 2) {
        ack_round(&st, &now, 50 * MS);
        assert_int_equal(st.cwnd, expect * MSS);
    }
    ack_round(&st, &now, 50 * MS);
    assert_int_equal(st.cwnd, 20 * MSS);
}

static void test_tx_start_restart_window(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_tcp_cc_init(&st, &us_tcp_cc_reno, MSS, T0);
    st.cwnd = 80 * MSS;
    /* Idle shorter than the RTO, or restart disabled: cwnd kept. */
    us_tcp_cc_tx_start(&st, 100 * MS, 200 * MS, true, T0);
    assert_int_equal(st.cwnd, 80 * MSS);
    us_tcp_cc_tx_start(&st, 10 * US_NS_PER_SEC, 200 * MS, false, T0);
    assert_int_equal(st.cwnd, 80 * MSS);
    /* RFC 5681 §4.1: cwnd = RW = min(IW, cwnd). */
    us_tcp_cc_tx_start(&st, 10 * US_NS_PER_SEC, 200 * MS, true, T0);
    assert_int_equal(st.cwnd, 10 * MSS);
    st.cwnd = 3 * MSS;
    us_tcp_cc_tx_start(&st, 10 * US_NS_PER_SEC, 200 * MS, true, T0);
    assert_int_equal(st.cwnd, 3 * MSS);
}

/* A CUBIC connection that just took a loss (fast retransmit and a full ACK)
 * at cwnd = flight = wmax_segs MSS. */
static void cubic_loss_at(struct us_tcp_cc_state *st, uint32_t wmax_segs, us_time_ns now)
{
    st->cwnd = wmax_segs * MSS;
    us_tcp_cc_recovery_enter(st, st->cwnd, now);
    us_tcp_cc_recovery_exit(st, now);
}

static double expected_k(double wmax_segs)
{
    return cbrt(wmax_segs * (1.0 - 0.7) / 0.4); /* RFC 9438 §4.2 with cwnd_epoch = 0.7 W_max */
}

static void test_cubic_reduction(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, T0);
    cubic_loss_at(&st, 100, T0);
    /* RFC 9438 §4.6: ssthresh = cwnd = 0.7 * W_max. */
    assert_int_equal(st.ssthresh, 70 * MSS);
    assert_int_equal(st.cwnd, 70 * MSS);
    assert_true(st.priv.cubic.w_max == 100.0 * MSS);
    /* At least 2 SMSS. */
    assert_int_equal(us_tcp_cc_cubic.ssthresh(&st, 2 * MSS), 2 * MSS);
}

static void test_cubic_reaches_wmax_at_k(void **state)
{
    (void)state;
    const us_time_ns rtt = 100 * MS;
    const uint32_t wmax = 100;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, now);
    cubic_loss_at(&st, wmax, now);
    double k = expected_k(wmax);
    assert_true(fabs(k - 4.2172) < 1e-3);
    ack_round(&st, &now, rtt);
    assert_true(fabs(st.priv.cubic.k - k) < 1e-9);

    us_time_ns reached = 0;
    double w_est = 70.0 + 3.0 * 0.3 / 1.7; /* Reno-friendly estimate, segments */
    while (now - T0 < 20 * US_NS_PER_SEC) {
        ack_round(&st, &now, rtt);
        w_est += w_est >= wmax ? 1.0 : 3.0 * 0.3 / 1.7;
        if (!reached && st.cwnd >= wmax * MSS)
            reached = now;
        /* Never above the curve one RTT ahead (the target) or the
         * Reno-friendly estimate (which takes over late in the convex
         * region at this RTT), never below 0.7 W_max. */
        double t = (double)(now - T0) / US_NS_PER_SEC;
        double ahead = 0.4 * pow(t + 0.1 - k, 3) * MSS + wmax * MSS;
        double bound = ahead > w_est * MSS ? ahead : w_est * MSS;
        assert_true(st.cwnd <= bound + MSS);
        assert_true(st.cwnd >= 70 * MSS);
    }
    assert_true(reached != 0);
    double t_reach = (double)(reached - T0) / US_NS_PER_SEC;
    print_message("W_max=%u segs: K=%.3f s, cwnd reached W_max at t=%.3f s\n", wmax, k, t_reach);
    assert_true(fabs(t_reach - k) < 0.3);
}

/* cwnd (in segments) at the end of the round that contains time t. */
static double cubic_cwnd_at(const uint32_t *trace, us_time_ns rtt, double t)
{
    return trace[(size_t)(t * US_NS_PER_SEC / rtt)] / (double)MSS;
}

static void test_cubic_concave_then_convex(void **state)
{
    (void)state;
    const us_time_ns rtt = 100 * MS;
    enum { ROUNDS = 100 };
    static uint32_t trace[ROUNDS];
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, now);
    cubic_loss_at(&st, 100, now);
    for (int i = 0; i < ROUNDS; i++) {
        ack_round(&st, &now, rtt);
        trace[i] = st.cwnd;
        if (i > 0)
            assert_true(trace[i] >= trace[i - 1]);
    }
    double k = expected_k(100);
    /* Growth per second: fast right after the loss, slowing towards W_max
     * (concave), nearly flat around K, then accelerating (convex). */
    double g_start = cubic_cwnd_at(trace, rtt, 1.0) - cubic_cwnd_at(trace, rtt, 0.0);
    double g_mid = cubic_cwnd_at(trace, rtt, 3.0) - cubic_cwnd_at(trace, rtt, 2.0);
    double g_before = cubic_cwnd_at(trace, rtt, k) - cubic_cwnd_at(trace, rtt, k - 1.0);
    double g_after = cubic_cwnd_at(trace, rtt, k + 1.0) - cubic_cwnd_at(trace, rtt, k);
    double g_late = cubic_cwnd_at(trace, rtt, k + 4.0) - cubic_cwnd_at(trace, rtt, k + 3.0);
    print_message("growth segs/s: %.2f %.2f | %.2f %.2f | %.2f\n", g_start, g_mid, g_before,
                  g_after, g_late);
    assert_true(g_start > g_mid);
    assert_true(g_mid > g_before);
    assert_true(g_before < 2.0 && g_after < 2.0);
    assert_true(g_late > 4 * g_after);
    assert_true(g_late > 5.0);
    /* Around K the window sits at W_max (the plateau). */
    assert_true(fabs(cubic_cwnd_at(trace, rtt, k) - 100.0) < 1.5);
}

static void test_cubic_reno_friendly(void **state)
{
    (void)state;
    /* 1 ms RTT and a 20-segment W_max: K = cbrt(15) s = 2466 RTTs, so the
     * cubic curve hardly moves and Reno's AIMD(alpha, 0.7) estimate W_est
     * (RFC 9438 §4.3) must carry the window. */
    const us_time_ns rtt = 1 * MS;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, now);
    cubic_loss_at(&st, 20, now);
    const double alpha = 3.0 * (1 - 0.7) / (1 + 0.7);
    double w_est = 14.0; /* segments, the estimate computed on its own */
    double k = expected_k(20);
    for (int i = 1; i <= 60; i++) {
        ack_round(&st, &now, rtt);
        w_est += w_est >= 20.0 ? 1.0 : alpha;
        double t = (double)(now - T0) / US_NS_PER_SEC;
        double w_cubic = 0.4 * pow(t - k, 3) + 20.0;
        double cwnd = st.cwnd / (double)MSS;
        /* Never slower than Reno's estimate (within rounding of one ACK per
         * round), and well ahead of the bare cubic curve. */
        assert_true(cwnd >= w_est - 1.0);
        assert_true(cwnd <= w_est + 1.0);
        if (i >= 20)
            assert_true(cwnd > w_cubic + 5.0);
    }
    /* Alpha became 1 once W_est passed the pre-loss cwnd: about 11 rounds at
     * 0.53, then 1 per round. */
    assert_true(st.cwnd >= 65 * MSS && st.cwnd <= 70 * MSS);
}

static void test_cubic_fast_convergence(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, T0);
    cubic_loss_at(&st, 100, T0);
    assert_true(st.priv.cubic.w_max == 100.0 * MSS);
    /* The next loss comes at 90 segments, before the old W_max: W_max drops
     * to 90 * (1 + 0.7) / 2 = 76.5 segments (RFC 9438 §4.7). */
    cubic_loss_at(&st, 90, T0);
    assert_true(fabs(st.priv.cubic.w_max - 76.5 * MSS) < 1e-6);
    assert_int_equal(st.ssthresh, 63 * MSS);
    /* K follows the lowered W_max: cbrt((76.5 - 63) / 0.4) s. */
    us_time_ns now = T0;
    ack_round(&st, &now, 100 * MS);
    assert_true(fabs(st.priv.cubic.k - cbrt(13.5 / 0.4)) < 1e-9);
    /* A loss above the old W_max just records cwnd. */
    cubic_loss_at(&st, 120, now);
    assert_true(st.priv.cubic.w_max == 120.0 * MSS);

    /* Dynamically: a loss 2 s into the concave region (cwnd < W_max). */
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, T0);
    now = T0;
    cubic_loss_at(&st, 100, now);
    while (now - T0 < 2 * US_NS_PER_SEC)
        ack_round(&st, &now, 100 * MS);
    uint32_t at_loss = st.cwnd;
    assert_true(at_loss < 100 * MSS);
    us_tcp_cc_recovery_enter(&st, at_loss, now);
    assert_true(st.priv.cubic.w_max < at_loss);
    assert_true(fabs(st.priv.cubic.w_max - at_loss * 0.85) < 1.0);
}

static void test_cubic_rto(void **state)
{
    (void)state;
    const us_time_ns rtt = 100 * MS;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, now);
    st.cwnd = 100 * MSS;
    us_tcp_cc_rto(&st, 100 * MSS, false, now);
    /* RFC 9438 §4.8: Reno's loss window, CUBIC's ssthresh. */
    assert_int_equal(st.cwnd, MSS);
    assert_int_equal(st.ssthresh, 70 * MSS);
    us_tcp_cc_rto(&st, MSS, true, now);
    assert_int_equal(st.ssthresh, 70 * MSS);
    /* Slow start back to ssthresh: 2, 4, ..., 64, then 70. */
    for (int i = 0; i < 6; i++)
        ack_round(&st, &now, rtt);
    assert_int_equal(st.cwnd, 64 * MSS);
    ack_round(&st, &now, rtt);
    /* First CA stage after a timeout: K = 0 and W_max = cwnd at its start,
     * so the window only grows (convex) from there. */
    assert_true(st.priv.cubic.epoch_valid);
    assert_true(st.priv.cubic.k == 0.0);
    assert_true(st.priv.cubic.w_max == (double)st.priv.cubic.cwnd_epoch);
    uint32_t start = st.cwnd;
    assert_true(start >= 70 * MSS);
    for (int i = 0; i < 30; i++)
        ack_round(&st, &now, rtt);
    assert_true(st.cwnd > start + 5 * MSS);
}

static void test_cubic_idle_shifts_epoch(void **state)
{
    (void)state;
    const us_time_ns rtt = 100 * MS;
    struct us_tcp_cc_state a, b;
    us_time_ns now = T0;
    us_tcp_cc_init(&a, &us_tcp_cc_cubic, MSS, now);
    cubic_loss_at(&a, 100, now);
    for (int i = 0; i < 10; i++)
        ack_round(&a, &now, rtt);
    b = a;
    uint32_t before = a.cwnd;
    /* Ten idle seconds. With TX_START the curve resumes where it stopped;
     * without it the first round would jump by the 1.5x per-RTT bound. */
    now += 10 * US_NS_PER_SEC;
    us_time_ns idle_end = now;
    us_tcp_cc_tx_start(&a, 10 * US_NS_PER_SEC, 300 * MS, false, now);
    ack_round(&a, &now, rtt);
    now = idle_end;
    ack_round(&b, &now, rtt);
    print_message("after idle: %u -> %u with epoch shift, %u without\n", before, a.cwnd, b.cwnd);
    assert_true(a.cwnd < before + before / 20);
    assert_true(b.cwnd > before + before / 3);
}

static void test_cubic_not_cwnd_limited(void **state)
{
    (void)state;
    struct us_tcp_cc_state st;
    us_time_ns now = T0;
    us_tcp_cc_init(&st, &us_tcp_cc_cubic, MSS, now);
    cubic_loss_at(&st, 100, now);
    uint32_t cwnd = st.cwnd;
    for (int i = 0; i < 1000; i++) {
        now += MS;
        us_tcp_cc_on_ack(&st, MSS, cwnd / 2, 50 * MS, now);
    }
    assert_int_equal(st.cwnd, cwnd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_initial_window),
        cmocka_unit_test(test_reno_slow_start_doubles),
        cmocka_unit_test(test_reno_abc_limit),
        cmocka_unit_test(test_reno_slow_start_stops_at_ssthresh),
        cmocka_unit_test(test_reno_congestion_avoidance),
        cmocka_unit_test(test_reno_not_cwnd_limited),
        cmocka_unit_test(test_reno_ssthresh_on_loss),
        cmocka_unit_test(test_reno_rto),
        cmocka_unit_test(test_tx_start_restart_window),
        cmocka_unit_test(test_cubic_reduction),
        cmocka_unit_test(test_cubic_reaches_wmax_at_k),
        cmocka_unit_test(test_cubic_concave_then_convex),
        cmocka_unit_test(test_cubic_reno_friendly),
        cmocka_unit_test(test_cubic_fast_convergence),
        cmocka_unit_test(test_cubic_rto),
        cmocka_unit_test(test_cubic_idle_shifts_epoch),
        cmocka_unit_test(test_cubic_not_cwnd_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
