/* Reno congestion control: the window arithmetic of RFC 5681 (slow start,
 * congestion avoidance, multiplicative decrease, loss window). NewReno's
 * recovery (RFC 6582: partial ACKs, inflation, deflation) and SACK recovery
 * (RFC 6675) run in the TCP core around these hooks; Linux names the same
 * combination "reno". */
#include "tcp/tcp_cc.h"

void us_tcp_cc_reno_init(struct us_tcp_cc_state *st, uint32_t mss, us_time_ns now)
{
    (void)now;
    st->ops = &us_tcp_cc_reno;
    st->mss = mss ? mss : 536; /* RFC 9293 §3.7.1 default SMSS */
    st->cwnd = us_tcp_cc_initial_window(st->mss);
    st->ssthresh = US_TCP_INFINITE_SSTHRESH; /* RFC 5681 §3.1: arbitrarily high */
    st->ca_acked = 0;
}

uint32_t us_tcp_cc_reno_ssthresh(struct us_tcp_cc_state *st, uint32_t flight)
{
    /* RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2 * SMSS). */
    uint32_t half = flight / 2, floor = 2 * st->mss;
    return half > floor ? half : floor;
}

static void reno_on_ack(struct us_tcp_cc_state *st, uint32_t bytes_acked,
                        uint32_t flight_before_ack, us_time_ns rtt, us_time_ns now)
{
    (void)rtt;
    (void)now;
    if (!us_tcp_cc_is_cwnd_limited(st, flight_before_ack))
        return;
    if (st->cwnd < st->ssthresh) {
        bytes_acked = us_tcp_cc_slow_start(st, bytes_acked);
        if (!bytes_acked)
            return;
    }
    /* Congestion avoidance, RFC 5681 §3.1: about one SMSS per RTT. */
    us_tcp_cc_cong_avoid_ai(st, st->cwnd, bytes_acked);
}

/* The three congestion events, the same for every algorithm up to its
 * ssthresh hook (st->ops->ssthresh), which CUBIC reuses. */
void us_tcp_cc_reno_recovery_enter(struct us_tcp_cc_state *st, uint32_t flight, us_time_ns now)
{
    (void)now;
    /* RFC 5681 §3.2 step 2, RFC 6675 §5 step 4.2. */
    st->ssthresh = st->ops->ssthresh(st, flight);
    st->cwnd = st->ssthresh;
    st->ca_acked = 0;
}

void us_tcp_cc_reno_recovery_exit(struct us_tcp_cc_state *st, us_time_ns now)
{
    (void)now;
    /* RFC 6582 §3.2 step 3: deflate to ssthresh. */
    st->cwnd = st->ssthresh;
    st->ca_acked = 0;
}

void us_tcp_cc_reno_rto(struct us_tcp_cc_state *st, uint32_t flight, bool repeated, us_time_ns now)
{
    (void)now;
    /* RFC 5681 §3.1: ssthresh per eq. 4 on the first timeout of a segment,
     * held constant on later ones; cwnd = LW = 1 SMSS. */
    if (!repeated)
        st->ssthresh = st->ops->ssthresh(st, flight);
    st->cwnd = st->mss;
    st->ca_acked = 0;
}

const struct us_tcp_cc_ops us_tcp_cc_reno = {
    .name = "reno",
    .init = us_tcp_cc_reno_init,
    .on_ack = reno_on_ack,
    .ssthresh = us_tcp_cc_reno_ssthresh,
    .on_recovery_enter = us_tcp_cc_reno_recovery_enter,
    .on_recovery_exit = us_tcp_cc_reno_recovery_exit,
    .on_rto = us_tcp_cc_reno_rto,
    .cwnd_event = NULL,
};
