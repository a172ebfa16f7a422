/* The sysctl table: Linux's names, defaults and ranges in one place. Later
 * layers add their knobs here as new rows. A row is one int, one long, a
 * pair of ints (net.ipv4.ip_local_port_range), set as "low high", three
 * ints (net.ipv4.tcp_rmem, "min default max"), or a short string
 * (net.ipv4.tcp_congestion_control, checked by a validator). */
#include "ustack/sysctl.h"

#include "core/stack_impl.h"
#include "tcp/tcp_cc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum sysctl_type { SYSCTL_INT, SYSCTL_LONG, SYSCTL_INT_PAIR, SYSCTL_INT_TRIPLE, SYSCTL_STRING };

struct sysctl_entry {
    const char *name;
    enum sysctl_type type;
    size_t offset;
    long min, max;
    long def, def2, def3; /* def2, def3: the second and third value of a pair or triple */
    const char *sdef;     /* SYSCTL_STRING's default */
};

#define ROW(key, field, ty, lo, hi, d)                                                             \
    {                                                                                              \
        key, ty, offsetof(struct us_sysctl, field), lo, hi, d, 0, 0, NULL                          \
    }
#define PAIR(key, field, lo, hi, d, d2)                                                            \
    {                                                                                              \
        key, SYSCTL_INT_PAIR, offsetof(struct us_sysctl, field), lo, hi, d, d2, 0, NULL            \
    }
#define TRIPLE(key, field, lo, hi, d, d2, d3)                                                      \
    {                                                                                              \
        key, SYSCTL_INT_TRIPLE, offsetof(struct us_sysctl, field), lo, hi, d, d2, d3, NULL         \
    }
#define STRING(key, field, d)                                                                      \
    {                                                                                              \
        key, SYSCTL_STRING, offsetof(struct us_sysctl, field), 0, 0, 0, 0, 0, d                    \
    }

/* Linux's SOCK_MIN_RCVBUF and SOCK_MIN_SNDBUF (include/net/sock.h): the
 * floors of net.core.{r,w}mem_* (net/core/sysctl_net_core.c min_rcvbuf,
 * min_sndbuf) and of SO_RCVBUF/SO_SNDBUF. */
#define MIN_RCVBUF 2304
#define MIN_SNDBUF 4608

static const struct sysctl_entry sysctl_table[] = {
    ROW("net.core.dev_weight", dev_weight, SYSCTL_INT, 1, 65536, 64),
    ROW("net.core.netdev_budget", netdev_budget, SYSCTL_INT, 1, 1000000, 300),
    ROW("net.core.netdev_max_backlog", netdev_max_backlog, SYSCTL_INT, 1, 1000000, 1000),
    ROW("net.core.busy_poll", busy_poll, SYSCTL_INT, 0, INT_MAX, 0),
    ROW("net.core.rmem_default", rmem_default, SYSCTL_INT, MIN_RCVBUF, INT_MAX, 212992),
    ROW("net.core.rmem_max", rmem_max, SYSCTL_INT, MIN_RCVBUF, INT_MAX, 212992),
    ROW("net.core.wmem_default", wmem_default, SYSCTL_INT, MIN_SNDBUF, INT_MAX, 212992),
    ROW("net.core.wmem_max", wmem_max, SYSCTL_INT, MIN_SNDBUF, INT_MAX, 212992),
    ROW("net.ipv4.icmp_echo_ignore_all", icmp_echo_ignore_all, SYSCTL_INT, 0, 1, 0),
    ROW("net.ipv4.icmp_echo_ignore_broadcasts", icmp_echo_ignore_broadcasts, SYSCTL_INT, 0, 1, 1),
    ROW("net.ipv4.icmp_msgs_burst", icmp_msgs_burst, SYSCTL_INT, 0, INT_MAX, 50),
    ROW("net.ipv4.icmp_msgs_per_sec", icmp_msgs_per_sec, SYSCTL_INT, 0, INT_MAX, 1000),
    ROW("net.ipv4.ip_default_ttl", ip_default_ttl, SYSCTL_INT, 1, 255, 64),
    ROW("net.ipv4.ip_forward", ip_forward, SYSCTL_INT, 0, 1, 0),
    /* Linux: both ends in [1, 65535], low <= high (net/ipv4/sysctl_net_ipv4.c). */
    PAIR("net.ipv4.ip_local_port_range", ip_local_port_range, 1, 65535, 32768, 60999),
    /* Linux keeps low <= high; the cross-check is in check_pair() below. */
    ROW("net.ipv4.ipfrag_high_thresh", ipfrag_high_thresh, SYSCTL_LONG, 0, LONG_MAX, 4194304),
    ROW("net.ipv4.ipfrag_low_thresh", ipfrag_low_thresh, SYSCTL_LONG, 0, LONG_MAX, 3145728),
    ROW("net.ipv4.ipfrag_time", ipfrag_time, SYSCTL_INT, 1, 2147483, 30),
    ROW("net.ipv4.neigh.default.base_reachable_time_ms", neigh_base_reachable_time_ms, SYSCTL_INT,
        1, INT_MAX, 30000),
    ROW("net.ipv4.neigh.default.gc_stale_time", neigh_gc_stale_time, SYSCTL_INT, 1, 2147483, 60),
    ROW("net.ipv4.neigh.default.mcast_solicit", neigh_mcast_solicit, SYSCTL_INT, 1, 255, 3),
    ROW("net.ipv4.neigh.default.retrans_time_ms", neigh_retrans_time_ms, SYSCTL_INT, 1, INT_MAX,
        1000),
    ROW("net.ipv4.neigh.default.unres_qlen", neigh_unres_qlen, SYSCTL_INT, 0, INT_MAX, 101),
    ROW("net.core.somaxconn", somaxconn, SYSCTL_INT, 0, 65535, 4096),
    /* Linux 6.x: INT_MAX, the stack-wide limit off (per connection, the
     * tcp_invalid_ratelimit one applies). */
    ROW("net.ipv4.tcp_challenge_ack_limit", tcp_challenge_ack_limit, SYSCTL_INT, 0, INT_MAX,
        INT_MAX),
    STRING("net.ipv4.tcp_congestion_control", tcp_congestion_control, US_TCP_CC_DEFAULT),
    ROW("net.ipv4.tcp_dsack", tcp_dsack, SYSCTL_INT, 0, 1, 1),
    /* 0: no loss probes; 3 (default): RFC 5827 early retransmit for
     * NewReno and RACK's tail loss probes; 4: probes only (Linux's). */
    ROW("net.ipv4.tcp_early_retrans", tcp_early_retrans, SYSCTL_INT, 0, 4, 3),
    ROW("net.ipv4.tcp_fin_timeout", tcp_fin_timeout, SYSCTL_INT, 1, 2147483, 60),
    ROW("net.ipv4.tcp_invalid_ratelimit", tcp_invalid_ratelimit, SYSCTL_INT, 0, INT_MAX, 500),
    ROW("net.ipv4.tcp_keepalive_intvl", tcp_keepalive_intvl, SYSCTL_INT, 1, 32767, 75),
    ROW("net.ipv4.tcp_keepalive_probes", tcp_keepalive_probes, SYSCTL_INT, 1, 127, 9),
    ROW("net.ipv4.tcp_keepalive_time", tcp_keepalive_time, SYSCTL_INT, 1, 32767, 7200),
    ROW("net.ipv4.tcp_max_orphans", tcp_max_orphans, SYSCTL_INT, 0, INT_MAX, 65536),
    ROW("net.ipv4.tcp_max_syn_backlog", tcp_max_syn_backlog, SYSCTL_INT, 1, INT_MAX, 1024),
    ROW("net.ipv4.tcp_max_tw_buckets", tcp_max_tw_buckets, SYSCTL_INT, 0, INT_MAX, 262144),
    ROW("net.ipv4.tcp_moderate_rcvbuf", tcp_moderate_rcvbuf, SYSCTL_INT, 0, 1, 1),
    ROW("net.ipv4.tcp_retries2", tcp_retries2, SYSCTL_INT, 1, 255, 15),
    /* Linux: tcp_rmem default 131072 since 5.x; max 6 MiB. */
    TRIPLE("net.ipv4.tcp_rmem", tcp_rmem, 1, INT_MAX, 4096, 131072, 6291456),
    ROW("net.ipv4.tcp_sack", tcp_sack, SYSCTL_INT, 0, 1, 1),
    ROW("net.ipv4.tcp_slow_start_after_idle", tcp_slow_start_after_idle, SYSCTL_INT, 0, 1, 1),
    ROW("net.ipv4.tcp_syn_retries", tcp_syn_retries, SYSCTL_INT, 1, 127, 6),
    ROW("net.ipv4.tcp_synack_retries", tcp_synack_retries, SYSCTL_INT, 1, 127, 5),
    ROW("net.ipv4.tcp_syncookies", tcp_syncookies, SYSCTL_INT, 0, 2, 1),
    ROW("net.ipv4.tcp_timestamps", tcp_timestamps, SYSCTL_INT, 0, 1, 1),
    ROW("net.ipv4.tcp_window_scaling", tcp_window_scaling, SYSCTL_INT, 0, 1, 1),
    TRIPLE("net.ipv4.tcp_wmem", tcp_wmem, 1, INT_MAX, 4096, 16384, 4194304),
};
#define N_SYSCTL (sizeof(sysctl_table) / sizeof(sysctl_table[0]))

/* Value i (0, or 1 for the second of a pair) of a row. */
static long read_field(const struct us_sysctl *s, const struct sysctl_entry *e, int i)
{
    const char *p = (const char *)s + e->offset;
    return e->type == SYSCTL_LONG ? *(const long *)p : (long)((const int *)p)[i];
}

static void write_field(struct us_sysctl *s, const struct sysctl_entry *e, int i, long v)
{
    char *p = (char *)s + e->offset;
    if (e->type == SYSCTL_LONG)
        *(long *)p = v;
    else
        ((int *)p)[i] = (int)v;
}

/* How many numbers a row holds. */
static int field_count(const struct sysctl_entry *e)
{
    return e->type == SYSCTL_INT_PAIR ? 2 : e->type == SYSCTL_INT_TRIPLE ? 3 : 1;
}

/* As `sysctl -n` prints it; a pair or triple is separated by tabs, as Linux's
 * proc handler writes it. */
static void format_field(const struct us_sysctl *s, const struct sysctl_entry *e, char *buf,
                         size_t len)
{
    if (e->type == SYSCTL_STRING)
        snprintf(buf, len, "%s", (const char *)s + e->offset);
    else if (e->type == SYSCTL_INT_TRIPLE)
        snprintf(buf, len, "%ld\t%ld\t%ld", read_field(s, e, 0), read_field(s, e, 1),
                 read_field(s, e, 2));
    else if (e->type == SYSCTL_INT_PAIR)
        snprintf(buf, len, "%ld\t%ld", read_field(s, e, 0), read_field(s, e, 1));
    else
        snprintf(buf, len, "%ld", read_field(s, e, 0));
}

void us_sysctl_defaults(struct us_sysctl *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < N_SYSCTL; i++) {
        const struct sysctl_entry *e = &sysctl_table[i];
        if (e->type == SYSCTL_STRING) {
            snprintf((char *)s + e->offset, US_SYSCTL_STR_MAX, "%s", e->sdef);
            continue;
        }
        long defs[3] = {e->def, e->def2, e->def3};
        for (int j = 0; j < field_count(e); j++)
            write_field(s, e, j, defs[j]);
    }
}

static const struct sysctl_entry *find(const char *key)
{
    for (size_t i = 0; i < N_SYSCTL; i++)
        if (strcmp(sysctl_table[i].name, key) == 0)
            return &sysctl_table[i];
    return NULL;
}

/* Linux bounds each frag threshold by the other (net/ipv4/ip_fragment.c). */
static const char *check_pair(const struct us_sysctl *s, const struct sysctl_entry *e, long v)
{
    if (strcmp(e->name, "net.ipv4.ipfrag_high_thresh") == 0 && v < s->ipfrag_low_thresh)
        return "must not be below net.ipv4.ipfrag_low_thresh";
    if (strcmp(e->name, "net.ipv4.ipfrag_low_thresh") == 0 && v > s->ipfrag_high_thresh)
        return "must not exceed net.ipv4.ipfrag_high_thresh";
    return NULL;
}

int us_sysctl_apply(struct us_sysctl *s, const char *key, const char *value, char *err,
                    size_t errlen)
{
    const struct sysctl_entry *e = find(key);
    if (!e) {
        if (err)
            snprintf(err, errlen, "unknown sysctl key '%s'", key);
        return -ENOENT;
    }
    if (e->type == SYSCTL_STRING) {
        /* net.ipv4.tcp_congestion_control: a known algorithm (Linux's
         * tcp_set_default_congestion_control says ENOENT otherwise). */
        char name[US_SYSCTL_STR_MAX];
        size_t n = strcspn(value, " \t\n");
        if (n == 0 || n >= sizeof(name) || value[n + strspn(value + n, " \t\n")] != '\0') {
            if (err)
                snprintf(err, errlen, "invalid value '%s' for %s", value, key);
            return -EINVAL;
        }
        memcpy(name, value, n);
        name[n] = '\0';
        if (!us_tcp_cc_find(name)) {
            if (err)
                snprintf(err, errlen, "invalid value '%s' for %s: available are %s", value, key,
                         us_tcp_cc_names());
            return -ENOENT;
        }
        memcpy((char *)s + e->offset, name, n + 1);
        return 0;
    }
    int n = field_count(e);
    long v[3] = {0, 0, 0};
    const char *cur = value;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        char *end;
        errno = 0;
        v[i] = strtol(cur, &end, 10);
        ok = !errno && end != cur && v[i] >= e->min && v[i] <= e->max;
        cur = end;
    }
    while (*cur == ' ' || *cur == '\t' || *cur == '\n')
        cur++;
    if (!ok || *cur != '\0') {
        if (err && n == 3)
            snprintf(err, errlen,
                     "invalid value '%s' for %s: expected three integers in [%ld, %ld], min "
                     "default max",
                     value, key, e->min, e->max);
        else if (err && n == 2)
            snprintf(err, errlen,
                     "invalid value '%s' for %s: expected two integers in [%ld, %ld], low high",
                     value, key, e->min, e->max);
        else if (err)
            snprintf(err, errlen, "invalid value '%s' for %s: expected an integer in [%ld, %ld]",
                     value, key, e->min, e->max);
        return -EINVAL;
    }
    const char *why = n == 3
                          ? (v[0] > v[1] || v[1] > v[2] ? "expected min <= default <= max" : NULL)
                      : n == 2 ? (v[0] > v[1] ? "the low end must not exceed the high end" : NULL)
                               : check_pair(s, e, v[0]);
    if (why) {
        if (err)
            snprintf(err, errlen, "invalid value '%s' for %s: %s", value, key, why);
        return -EINVAL;
    }
    for (int i = 0; i < n; i++)
        write_field(s, e, i, v[i]);
    return 0;
}

int us_sysctl_set(struct us_stack *stack, const char *key, const char *value, char *err,
                  size_t errlen)
{
    return us_sysctl_apply(&stack->sysctl, key, value, err, errlen);
}

int us_sysctl_get(const struct us_stack *stack, const char *key, char *buf, size_t len)
{
    const struct sysctl_entry *e = find(key);
    if (!e)
        return -ENOENT;
    format_field(&stack->sysctl, e, buf, len);
    return 0;
}

void us_sysctl_print_all(const struct us_stack *stack, FILE *out)
{
    char buf[64];
    for (size_t i = 0; i < N_SYSCTL; i++) {
        format_field(&stack->sysctl, &sysctl_table[i], buf, sizeof(buf));
        fprintf(out, "%s = %s\n", sysctl_table[i].name, buf);
    }
}
