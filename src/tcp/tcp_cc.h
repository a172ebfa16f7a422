/* Pluggable TCP congestion control, in the shape of Linux's struct
 * tcp_congestion_ops: an algorithm is a const table of hooks that the TCP core
 * calls on ACKs, loss and timeouts, and that own cwnd and ssthresh.
 *
 * Units: cwnd and ssthresh are in BYTES (RFC 5681's own unit), not in segments
 * as in Linux; `mss` is the sender maximum segment size (SMSS) they are measured
 * against, so cwnd / mss is Linux's snd_cwnd. Times are us_time_ns on the
 * caller's clock; no hook reads a clock.
 *
 * Division of labour with the TCP core (tcp_input.c / tcp_output.c):
 *  - The core detects loss (RACK with SACK, duplicate and partial ACKs
 *    without, the RTO) and runs the recovery itself: the pipe (RFC 6675 §4)
 *    and, during fast recovery, cwnd set by PRR (RFC 6937) on top of the
 *    ssthresh chosen here (tcp_ack.c). Here lives only the window
 *    arithmetic: how cwnd grows, and what ssthresh and cwnd become on a
 *    congestion event.
 *  - on_ack is called for each ACK that acknowledges new data outside fast
 *    recovery (after a timeout too: slow start rebuilds cwnd, as Linux's
 *    cong_avoid runs in the Loss state).
 *  - No hook allocates; per-connection algorithm state lives in the fixed-size
 *    `priv` union below (as Linux's ICSK_CA_PRIV_SIZE area). No global mutable
 *    state: the ops tables are const. */
#ifndef USTACK_TCP_CC_H
#define USTACK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/types.h"

/* "Arbitrarily high" initial ssthresh (RFC 5681 §3.1); Linux's
 * TCP_INFINITE_SSTHRESH, so tcp_info-style output matches. */
#define US_TCP_INFINITE_SSTHRESH 0x7fffffffu
/* cwnd never grows past this (keeps all byte arithmetic far from overflow). */
#define US_TCP_CC_CWND_MAX 0x40000000u
/* Linux's default net.ipv4.tcp_congestion_control. */
#define US_TCP_CC_DEFAULT "cubic"

/* CUBIC's per-connection state (RFC 9438 §4). Windows are in bytes, kept as
 * doubles so that fractional per-ACK increments accumulate exactly. */
struct us_tcp_cc_cubic {
    double w_max;           /* W_max, bytes; 0 = unknown (§4.8, §4.10: set at CA start) */
    double cwnd_prior;      /* cwnd just before the last reduction (§4.6) */
    double w_est;           /* Reno-friendly estimate W_est, bytes (§4.3) */
    double k;               /* K, seconds (§4.2 eq. 2) */
    double cwnd_frac;       /* fractional bytes of cwnd growth not yet applied */
    uint32_t cwnd_epoch;    /* cwnd at the start of this congestion avoidance stage */
    bool epoch_valid;       /* an epoch is running (t_epoch below is meaningful) */
    us_time_ns epoch_start; /* t_epoch: start of the current congestion avoidance stage */
    us_time_ns srtt;        /* smoothed RTT from on_ack samples (§4.2 uses SRTT), 0 = none */
    us_time_ns last_ack;    /* when on_ack or an idle shift last ran: idle from here */
};

/* Room reserved for algorithm-private state: algorithms other than those listed
 * in the union must fit in `raw`. As large as the largest built-in one (CUBIC,
 * 72 bytes) and no larger: every connection carries it. */
#define US_TCP_CC_PRIV_U64 9

struct us_tcp_cc_state {
    const struct us_tcp_cc_ops *ops; /* the algorithm, set by us_tcp_cc_init */
    uint32_t cwnd;                   /* congestion window, bytes */
    uint32_t ssthresh;               /* slow-start threshold, bytes */
    uint32_t mss;                    /* SMSS, bytes */
    uint32_t ca_acked;               /* bytes acked towards the next +1 SMSS in congestion avoidance
                                      * (RFC 3465 §2.1 byte counting); owned by the algorithm */
    union {
        struct us_tcp_cc_cubic cubic;
        uint64_t raw[US_TCP_CC_PRIV_U64];
    } priv;
};

/* Events for the optional cwnd_event hook (Linux's enum tcp_ca_event). */
enum us_tcp_cc_event {
    /* The first transmission after the connection went idle (nothing in
     * flight), Linux's CA_EVENT_TX_START: CUBIC moves its epoch forward by the
     * idle time so the cubic curve does not jump. */
    US_TCP_CC_EVENT_TX_START,
};

struct us_tcp_cc_ops {
    const char *name; /* as in net.ipv4.tcp_congestion_control: "reno", "cubic" */

    /* Connection start: cwnd = initial window (RFC 6928 IW10, see
     * us_tcp_cc_initial_window), ssthresh = US_TCP_INFINITE_SSTHRESH, private
     * state reset. */
    void (*init)(struct us_tcp_cc_state *st, uint32_t mss, us_time_ns now);

    /* An ACK acknowledged `bytes_acked` new bytes, outside loss recovery.
     * `flight_before_ack` is the bytes in flight just before this ACK was
     * applied: the window only grows when the connection was cwnd-limited
     * (us_tcp_cc_is_cwnd_limited), so an application-limited sender does not
     * inflate cwnd it never used (RFC 5681 §3.1, RFC 7661 §3). `rtt` is an RTT
     * sample carried by this ACK, 0 if none (Karn's rule applies upstream).
     * Slow start follows RFC 5681 §3.1 with appropriate byte counting, L = 2 SMSS
     * (RFC 3465 §2.2); congestion avoidance is the algorithm's own. */
    void (*on_ack)(struct us_tcp_cc_state *st, uint32_t bytes_acked, uint32_t flight_before_ack,
                   us_time_ns rtt, us_time_ns now);

    /* The ssthresh after a congestion event with `flight` bytes outstanding.
     * Reno: max(flight / 2, 2 SMSS) (RFC 5681 §3.1 eq. 4); CUBIC: flight * 0.7
     * and at least 2 SMSS, recording W_max with fast convergence (RFC 9438
     * §4.6, §4.7). May update private state: call it once per congestion
     * event (the hooks below do). */
    uint32_t (*ssthresh)(struct us_tcp_cc_state *st, uint32_t flight);

    /* Fast retransmit starts loss recovery (RFC 5681 §3.2 step 2, RFC 6675
     * §5 step 4): ssthresh = ssthresh(st, flight), cwnd = ssthresh. During
     * recovery the core then sets cwnd by PRR (RFC 6937) towards that
     * ssthresh. */
    void (*on_recovery_enter)(struct us_tcp_cc_state *st, uint32_t flight, us_time_ns now);

    /* A full ACK ended recovery: the window deflates to cwnd = ssthresh
     * (RFC 6582 §3.2 step 3, option 2; Linux's tcp_end_cwnd_reduction). The
     * core limits the burst that may follow. */
    void (*on_recovery_exit)(struct us_tcp_cc_state *st, us_time_ns now);

    /* The retransmission timer expired: cwnd = loss window = 1 SMSS (RFC 5681
     * §3.1) and, unless `repeated` (the segment had already been retransmitted
     * by the timer, when RFC 5681 §3.1 holds ssthresh constant),
     * ssthresh = ssthresh(st, flight). */
    void (*on_rto)(struct us_tcp_cc_state *st, uint32_t flight, bool repeated, us_time_ns now);

    /* Optional (may be NULL): see enum us_tcp_cc_event. */
    void (*cwnd_event)(struct us_tcp_cc_state *st, enum us_tcp_cc_event ev, us_time_ns now);
};

extern const struct us_tcp_cc_ops us_tcp_cc_reno;
extern const struct us_tcp_cc_ops us_tcp_cc_cubic;

/* The algorithm named `name` ("reno", "cubic"), or NULL. */
const struct us_tcp_cc_ops *us_tcp_cc_find(const char *name);
/* "reno cubic", as net.ipv4.tcp_available_congestion_control prints. */
const char *us_tcp_cc_names(void);

/* Binds `ops` to `st` and runs its init. */
void us_tcp_cc_init(struct us_tcp_cc_state *st, const struct us_tcp_cc_ops *ops, uint32_t mss,
                    us_time_ns now);

/* RFC 6928 §2 initial window: min(10 * MSS, max(2 * MSS, 14600)) bytes. */
uint32_t us_tcp_cc_initial_window(uint32_t mss);

/* Whether the sender used its window: flight_before_ack fills cwnd to within
 * one SMSS, or, in slow start, is at least half of cwnd (Linux's
 * tcp_is_cwnd_limited: slow start may double a window the sender half used). */
bool us_tcp_cc_is_cwnd_limited(const struct us_tcp_cc_state *st, uint32_t flight_before_ack);

/* Building blocks shared by algorithms (Linux's tcp_slow_start and
 * tcp_cong_avoid_ai):
 * Slow start, RFC 5681 §3.1 with RFC 3465 §2.2 byte counting: cwnd grows by
 * min(bytes_acked, 2 SMSS) but not past ssthresh; returns the acked bytes
 * left over for congestion avoidance once cwnd reached ssthresh. */
uint32_t us_tcp_cc_slow_start(struct us_tcp_cc_state *st, uint32_t bytes_acked);
/* Additive increase, RFC 5681 §3.1 / RFC 3465 §2.1: cwnd grows by 1 SMSS each
 * time `w` bytes have been acknowledged (w = cwnd: one SMSS per RTT). */
void us_tcp_cc_cong_avoid_ai(struct us_tcp_cc_state *st, uint32_t w, uint32_t bytes_acked);

/* Data goes out with nothing in flight, `idle` ns after data last went out
 * (Linux's lsndtime: ACKs sent meanwhile do not count). Signals
 * US_TCP_CC_EVENT_TX_START and, when `slow_start_after_idle` (Linux's
 * net.ipv4.tcp_slow_start_after_idle) and idle > rto, cuts cwnd to the
 * restart window RW = min(IW, cwnd) (RFC 5681 §4.1). RFC 7661's new-CWV is
 * not implemented. */
void us_tcp_cc_tx_start(struct us_tcp_cc_state *st, us_time_ns idle, us_time_ns rto,
                        bool slow_start_after_idle, us_time_ns now);

/* Dispatchers for the core: st->ops must be set (us_tcp_cc_init). */
static inline void us_tcp_cc_on_ack(struct us_tcp_cc_state *st, uint32_t bytes_acked,
                                    uint32_t flight_before_ack, us_time_ns rtt, us_time_ns now)
{
    st->ops->on_ack(st, bytes_acked, flight_before_ack, rtt, now);
}
static inline void us_tcp_cc_recovery_enter(struct us_tcp_cc_state *st, uint32_t flight,
                                            us_time_ns now)
{
    st->ops->on_recovery_enter(st, flight, now);
}
static inline void us_tcp_cc_recovery_exit(struct us_tcp_cc_state *st, us_time_ns now)
{
    st->ops->on_recovery_exit(st, now);
}
static inline void us_tcp_cc_rto(struct us_tcp_cc_state *st, uint32_t flight, bool repeated,
                                 us_time_ns now)
{
    st->ops->on_rto(st, flight, repeated, now);
}

/* Reno's hooks, reused by algorithms that only change part of the behaviour. */
void us_tcp_cc_reno_init(struct us_tcp_cc_state *st, uint32_t mss, us_time_ns now);
uint32_t us_tcp_cc_reno_ssthresh(struct us_tcp_cc_state *st, uint32_t flight);
/* Reno's congestion events, with the algorithm's own ssthresh hook. */
void us_tcp_cc_reno_recovery_enter(struct us_tcp_cc_state *st, uint32_t flight, us_time_ns now);
void us_tcp_cc_reno_recovery_exit(struct us_tcp_cc_state *st, us_time_ns now);
void us_tcp_cc_reno_rto(struct us_tcp_cc_state *st, uint32_t flight, bool repeated, us_time_ns now);

#endif
