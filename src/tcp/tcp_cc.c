/* Congestion control registry and the window arithmetic every algorithm shares:
 * the initial window, slow start with appropriate byte counting, additive
 * increase, the cwnd-limited test and the restart after idle. */
#include "tcp/tcp_cc.h"

#include <string.h>

/* The algorithms, in the order net.ipv4.tcp_available_congestion_control lists. */
static const struct us_tcp_cc_ops *const cc_algorithms[] = {&us_tcp_cc_reno, &us_tcp_cc_cubic};

const struct us_tcp_cc_ops *us_tcp_cc_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(cc_algorithms) / sizeof(cc_algorithms[0]); i++)
        if (strcmp(cc_algorithms[i]->name, name) == 0)
            return cc_algorithms[i];
    return NULL;
}

const char *us_tcp_cc_names(void)
{
    return "reno cubic";
}

void us_tcp_cc_init(struct us_tcp_cc_state *st, const struct us_tcp_cc_ops *ops, uint32_t mss,
                    us_time_ns now)
{
    memset(st, 0, sizeof(*st));
    st->ops = ops;
    ops->init(st, mss, now);
}

uint32_t us_tcp_cc_initial_window(uint32_t mss)
{
    /* RFC 6928 §2: IW = min(10 * MSS, max(2 * MSS, 14600)). */
    uint64_t ten = 10ull * mss, floor = 2ull * mss > 14600 ? 2ull * mss : 14600;
    uint64_t iw = ten < floor ? ten : floor;
    return iw > US_TCP_CC_CWND_MAX ? US_TCP_CC_CWND_MAX : (uint32_t)iw;
}

bool us_tcp_cc_is_cwnd_limited(const struct us_tcp_cc_state *st, uint32_t flight_before_ack)
{
    /* No room left for another full-sized segment: cwnd was the limit. */
    if ((uint64_t)flight_before_ack + st->mss > st->cwnd)
        return true;
    /* Slow start: a sender that filled at least half of cwnd would fill the
     * doubled window next round (Linux's tcp_is_cwnd_limited). */
    return st->cwnd < st->ssthresh && st->cwnd < 2ull * flight_before_ack;
}

uint32_t us_tcp_cc_slow_start(struct us_tcp_cc_state *st, uint32_t bytes_acked)
{
    /* RFC 5681 §3.1 with RFC 3465 §2.2: cwnd += min(N, L), L = 2 * SMSS. */
    uint64_t limit = 2ull * st->mss;
    uint64_t inc = bytes_acked < limit ? bytes_acked : limit;
    uint32_t left = 0;
    if (st->cwnd + inc > st->ssthresh) {
        /* Reached ssthresh: the rest of this ACK counts towards congestion
         * avoidance (RFC 5681 §3.1 allows either at cwnd == ssthresh). */
        uint32_t used = st->ssthresh > st->cwnd ? st->ssthresh - st->cwnd : 0;
        left = bytes_acked - used;
        inc = used;
    }
    uint64_t cwnd = st->cwnd + inc;
    st->cwnd = cwnd > US_TCP_CC_CWND_MAX ? US_TCP_CC_CWND_MAX : (uint32_t)cwnd;
    return left;
}

void us_tcp_cc_cong_avoid_ai(struct us_tcp_cc_state *st, uint32_t w, uint32_t bytes_acked)
{
    /* RFC 3465 §2.1 (RFC 5681 §3.1's byte-counting variant): count acked bytes
     * and add one SMSS per w of them. */
    if (w < st->mss)
        w = st->mss;
    uint64_t acked = (uint64_t)st->ca_acked + bytes_acked;
    uint64_t cwnd = st->cwnd;
    if (acked >= w) {
        uint64_t n = acked / w;
        acked -= n * w;
        cwnd += n * st->mss;
    }
    st->ca_acked = (uint32_t)acked;
    st->cwnd = cwnd > US_TCP_CC_CWND_MAX ? US_TCP_CC_CWND_MAX : (uint32_t)cwnd;
}

void us_tcp_cc_tx_start(struct us_tcp_cc_state *st, us_time_ns idle, us_time_ns rto,
                        bool slow_start_after_idle, us_time_ns now)
{
    if (st->ops->cwnd_event)
        st->ops->cwnd_event(st, US_TCP_CC_EVENT_TX_START, now);
    if (slow_start_after_idle && idle > rto) {
        /* RFC 5681 §4.1: RW = min(IW, cwnd); cwnd = RW. */
        uint32_t iw = us_tcp_cc_initial_window(st->mss);
        if (st->cwnd > iw)
            st->cwnd = iw;
        st->ca_acked = 0;
    }
}
