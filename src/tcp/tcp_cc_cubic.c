/* CUBIC congestion control (RFC 9438), Linux's default. After a congestion
 * event the window follows W_cubic(t) = C * (t - K)^3 + W_max (§4.2): concave
 * up to the previous maximum W_max, a plateau around it, then convex probing
 * beyond. A Reno-friendly estimate W_est (§4.3) keeps CUBIC at least as fast as
 * standard TCP where Reno does well (short RTTs, small windows).
 *
 * RFC 9438 counts windows in segments; here they are bytes, so W_cubic's cubic
 * term is scaled by SMSS. Floating point (cbrt from libm) keeps the formulas
 * legible; every value is bounded by US_TCP_CC_CWND_MAX. */
#include "tcp/tcp_cc.h"

#include <math.h>

#define CUBIC_C    0.4 /* §4.1: C, segments / s^3 */
#define CUBIC_BETA 0.7 /* §4.1: beta_cubic */
/* §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta), the AIMD step with the same
 * average window as Reno's AIMD(1, 0.5). */
#define CUBIC_ALPHA (3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA))
/* §4.7: fast convergence, on as in Linux (tcp_cubic's fast_convergence=1). */
#define CUBIC_FAST_CONVERGENCE 1

_Static_assert(sizeof(struct us_tcp_cc_cubic) <= sizeof(uint64_t) * US_TCP_CC_PRIV_U64,
               "CUBIC state must fit the reserved private area");

static struct us_tcp_cc_cubic *cubic_of(struct us_tcp_cc_state *st)
{
    return &st->priv.cubic;
}

static double ns_to_s(us_time_ns t)
{
    return (double)t / (double)US_NS_PER_SEC;
}

/* §4.2 eq. 1, in bytes: W_cubic(t) = C * (t - K)^3 * SMSS + W_max. */
static double cubic_w(const struct us_tcp_cc_cubic *c, double t, uint32_t mss)
{
    double d = t - c->k;
    return CUBIC_C * d * d * d * (double)mss + c->w_max;
}

static void cubic_init(struct us_tcp_cc_state *st, uint32_t mss, us_time_ns now)
{
    us_tcp_cc_reno_init(st, mss, now);
    st->ops = &us_tcp_cc_cubic;
    struct us_tcp_cc_cubic *c = cubic_of(st);
    *c = (struct us_tcp_cc_cubic){.last_ack = now};
}

/* The start of a congestion avoidance stage (§4.2): t_epoch, cwnd_epoch, K and
 * W_est (§4.3) are taken here, at the first ACK of the stage. */
static void cubic_epoch_start(struct us_tcp_cc_state *st, struct us_tcp_cc_cubic *c, us_time_ns now)
{
    double cwnd = (double)st->cwnd;
    c->epoch_valid = true;
    c->epoch_start = now;
    c->cwnd_epoch = st->cwnd;
    c->w_est = cwnd;
    c->cwnd_frac = 0;
    if (c->w_max <= cwnd) {
        /* §4.2: K = 0 when cwnd_epoch > W_max; §4.8/§4.10: after a timeout or
         * without a previous loss, W_max is the cwnd at the start of CA. */
        c->k = 0;
        c->w_max = cwnd;
    } else {
        /* §4.2 eq. 2: K = cbrt((W_max - cwnd_epoch) / C), in segments. */
        c->k = cbrt((c->w_max - cwnd) / (CUBIC_C * (double)st->mss));
    }
}

static void cubic_cong_avoid(struct us_tcp_cc_state *st, uint32_t bytes_acked, us_time_ns now)
{
    struct us_tcp_cc_cubic *c = cubic_of(st);
    if (!c->epoch_valid)
        cubic_epoch_start(st, c, now);

    double cwnd = (double)st->cwnd, mss = (double)st->mss, acked = (double)bytes_acked;
    double t = now > c->epoch_start ? ns_to_s(now - c->epoch_start) : 0.0;

    /* §4.3: W_est grows by alpha_cubic segments per window acked; alpha
     * becomes 1 once W_est reached the cwnd before the last reduction. */
    double alpha = c->w_est >= c->cwnd_prior ? 1.0 : CUBIC_ALPHA;
    c->w_est += alpha * acked * mss / cwnd;

    double next;
    if (cubic_w(c, t, st->mss) < c->w_est) {
        /* §4.3: the Reno-friendly region, cwnd = W_est. */
        next = c->w_est;
        c->cwnd_frac = 0;
    } else {
        /* §4.4 concave (cwnd < W_max) and §4.5 convex (cwnd >= W_max) regions
         * alike: grow towards target = W_cubic(t + RTT), bounded to
         * [cwnd, 1.5 * cwnd] (§4.2), by (target - cwnd) / cwnd per segment
         * acked. */
        double target = cubic_w(c, t + ns_to_s(c->srtt), st->mss);
        if (target < cwnd)
            target = cwnd;
        else if (target > 1.5 * cwnd)
            target = 1.5 * cwnd;
        double inc = (target - cwnd) * acked / cwnd + c->cwnd_frac;
        double whole = floor(inc);
        c->cwnd_frac = inc - whole;
        next = cwnd + whole;
    }
    if (next > (double)US_TCP_CC_CWND_MAX)
        next = (double)US_TCP_CC_CWND_MAX;
    if (next > cwnd)
        st->cwnd = (uint32_t)next;
}

static void cubic_on_ack(struct us_tcp_cc_state *st, uint32_t bytes_acked,
                         uint32_t flight_before_ack, us_time_ns rtt, us_time_ns now)
{
    struct us_tcp_cc_cubic *c = cubic_of(st);
    /* §4.2 wants the smoothed RTT: RFC 6298 §2.3's alpha = 1/8. */
    if (rtt)
        c->srtt = c->srtt ? c->srtt - c->srtt / 8 + rtt / 8 : rtt;
    c->last_ack = now;
    if (!us_tcp_cc_is_cwnd_limited(st, flight_before_ack))
        return;
    if (st->cwnd < st->ssthresh) {
        /* §4.10: standard slow start (RFC 5681). */
        bytes_acked = us_tcp_cc_slow_start(st, bytes_acked);
        if (!bytes_acked)
            return;
    }
    cubic_cong_avoid(st, bytes_acked, now);
}

static uint32_t cubic_ssthresh(struct us_tcp_cc_state *st, uint32_t flight)
{
    struct us_tcp_cc_cubic *c = cubic_of(st);
    double cwnd = (double)st->cwnd;
    /* §4.7 fast convergence: a loss below the previous W_max means the share
     * shrank; release more by lowering W_max further. */
    if (CUBIC_FAST_CONVERGENCE && cwnd < c->w_max)
        c->w_max = cwnd * (1.0 + CUBIC_BETA) / 2.0;
    else
        c->w_max = cwnd;
    /* §4.6: cwnd_prior for the Reno-friendly region, and
     * ssthresh = max(flight_size * beta_cubic, 2 SMSS). */
    c->cwnd_prior = cwnd;
    c->epoch_valid = false;
    uint64_t ss = (uint64_t)flight * 7 / 10; /* beta_cubic = 0.7, exactly */
    uint64_t floor2 = 2ull * st->mss;
    return (uint32_t)(ss > floor2 ? ss : floor2);
}

/* §4.6: on fast retransmit, cwnd = max(ssthresh, 2 SMSS) (ssthresh
 * already is): Reno's us_tcp_cc_reno_recovery_enter through cubic_ssthresh. */

static void cubic_on_recovery_exit(struct us_tcp_cc_state *st, us_time_ns now)
{
    /* RFC 6582 §3.2 step 3; the next ACK starts the congestion avoidance
     * stage, and with it the epoch (§4.2). */
    us_tcp_cc_reno_recovery_exit(st, now);
    cubic_of(st)->epoch_valid = false;
}

static void cubic_on_rto(struct us_tcp_cc_state *st, uint32_t flight, bool repeated, us_time_ns now)
{
    /* §4.8: cwnd as Reno (RFC 5681 §3.1: loss window, ssthresh held on a
     * repeated timeout) but ssthresh via beta_cubic. */
    us_tcp_cc_reno_rto(st, flight, repeated, now);
    /* §4.8: the first CA stage after a timeout uses K = 0 and W_max = the cwnd
     * at its start (cubic_epoch_start does both when W_max is 0). */
    struct us_tcp_cc_cubic *c = cubic_of(st);
    c->w_max = 0;
    c->epoch_valid = false;
}

static void cubic_cwnd_event(struct us_tcp_cc_state *st, enum us_tcp_cc_event ev, us_time_ns now)
{
    struct us_tcp_cc_cubic *c = cubic_of(st);
    if (ev != US_TCP_CC_EVENT_TX_START || !c->epoch_valid || now <= c->last_ack)
        return;
    /* The curve is a function of time, not of ACKs: an idle period must not
     * count, or the first ACK after it would jump towards W_cubic far in the
     * future. Data goes out with nothing in flight (sent ACKs or not):
     * shift the epoch by the time since the last ACK, or since the last
     * such shift, never counting a stretch twice (Linux's
     * bictcp_cwnd_event does the same from the last data sent). */
    c->epoch_start += now - c->last_ack;
    if (c->epoch_start > now)
        c->epoch_start = now;
    c->last_ack = now;
}

const struct us_tcp_cc_ops us_tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .ssthresh = cubic_ssthresh,
    .on_recovery_enter = us_tcp_cc_reno_recovery_enter,
    .on_recovery_exit = cubic_on_recovery_exit,
    .on_rto = cubic_on_rto,
    .cwnd_event = cubic_cwnd_event,
};
