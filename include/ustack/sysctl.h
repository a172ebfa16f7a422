/* Per-stack configuration with Linux's sysctl names and defaults:
 *   us_sysctl_set(stack, "net.ipv4.ipfrag_time", "30");
 * Unknown keys and bad values are errors that say what is wrong. */
#ifndef USTACK_SYSCTL_H
#define USTACK_SYSCTL_H

#include <stddef.h>
#include <stdio.h>

struct us_stack;

#define US_SYSCTL_STR_MAX 16

/* The values, in Linux's units (seconds, milliseconds, bytes as named). */
struct us_sysctl {
    /* net.ipv4.* */
    int ip_default_ttl;
    int ip_forward;
    int ipfrag_time;         /* seconds */
    long ipfrag_high_thresh; /* bytes */
    long ipfrag_low_thresh;  /* bytes */
    int icmp_echo_ignore_all;
    int icmp_echo_ignore_broadcasts;
    int icmp_msgs_per_sec; /* global ICMP error rate limit (token bucket) */
    int icmp_msgs_burst;
    /* net.ipv4.neigh.default.* */
    int neigh_base_reachable_time_ms;
    int neigh_retrans_time_ms;
    int neigh_mcast_solicit; /* ARP requests before giving up */
    int neigh_unres_qlen;    /* packets queued per unresolved neighbour */
    int neigh_gc_stale_time; /* seconds an unused stale entry is kept */
    /* net.core.* (the receive path) */
    int netdev_budget;      /* packets per bottom-half round */
    int dev_weight;         /* frames per device per top-half round (NAPI weight) */
    int netdev_max_backlog; /* frames waiting between top and bottom half */
    int busy_poll;          /* µs us_stack_run polls the devices before it sleeps */
    /* net.core.* (socket buffers, bytes; SO_RCVBUF/SO_SNDBUF are capped by the _max) */
    int rmem_default;
    int rmem_max;
    int wmem_default;
    int wmem_max;
    /* net.ipv4.ip_local_port_range: the ephemeral ports, low and high inclusive.
     * Set and printed as Linux does, two numbers: "32768 60999". */
    int ip_local_port_range[2];
    /* net.ipv4.tcp_* (Linux's defaults, include/net/tcp.h and
     * net/ipv4/sysctl_net_ipv4.c). tcp_rmem / tcp_wmem: min, default, max
     * bytes, set and printed as three numbers. */
    int tcp_rmem[3];
    int tcp_wmem[3];
    int tcp_moderate_rcvbuf;     /* receive autotuning */
    int tcp_window_scaling;      /* RFC 7323 §2 */
    int tcp_timestamps;          /* RFC 7323 §3 */
    int tcp_sack;                /* RFC 2018 */
    int tcp_dsack;               /* RFC 2883: report duplicates */
    int tcp_invalid_ratelimit;   /* ms between ACKs to unacceptable segments, per connection */
    int tcp_challenge_ack_limit; /* RFC 5961 challenge ACKs per second, stack-wide */
    int tcp_early_retrans;       /* >= 3: tail loss probes (RFC 8985 §7); 1-3: early retransmit */
    int tcp_syn_retries;         /* SYN retransmissions before ETIMEDOUT */
    int tcp_synack_retries;      /* SYN-ACK retransmissions before a half-open child goes */
    int tcp_retries2;            /* data retransmissions before ETIMEDOUT */
    int tcp_fin_timeout;         /* seconds an orphan stays in FIN_WAIT2 */
    int tcp_max_tw_buckets;      /* connections in TIME_WAIT at most */
    int tcp_max_syn_backlog;     /* half-open connections per listener */
    int tcp_syncookies;          /* 1: cookies when the SYN queue is full */
    int tcp_keepalive_time;      /* seconds idle before the first probe */
    int tcp_keepalive_intvl;     /* seconds between probes */
    int tcp_keepalive_probes;    /* unanswered probes before the connection is dropped */
    int tcp_slow_start_after_idle;
    int tcp_max_orphans;
    int somaxconn; /* net.core.somaxconn: the listen backlog's cap */
    /* net.ipv4.tcp_congestion_control: "cubic" (default) or "reno". */
    char tcp_congestion_control[US_SYSCTL_STR_MAX];
};

/* Fills s with Linux's defaults. */
void us_sysctl_defaults(struct us_sysctl *s);

/* Sets key to value. Returns 0, -ENOENT for an unknown key or -EINVAL for a
 * value that is not a number in range; err (if not NULL) gets a sentence. */
int us_sysctl_set(struct us_stack *stack, const char *key, const char *value, char *err,
                  size_t errlen);
/* Writes the current value of key into buf as `sysctl -n` prints it; 0 or -ENOENT. */
int us_sysctl_get(const struct us_stack *stack, const char *key, char *buf, size_t len);
/* Prints every key as `sysctl -a` does: "net.ipv4.ipfrag_time = 30". */
void us_sysctl_print_all(const struct us_stack *stack, FILE *out);

/* The same on a bare struct, for code that holds one before a stack exists. */
int us_sysctl_apply(struct us_sysctl *s, const char *key, const char *value, char *err,
                    size_t errlen);

#endif
