/* The sysctl table: Linux's names, defaults and ranges in one place. Later
 * layers add their knobs here as new rows. */
#include "ustack/sysctl.h"

#include "core/stack_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum sysctl_type { SYSCTL_INT, SYSCTL_LONG };

struct sysctl_entry {
    const char *name;
    enum sysctl_type type;
    size_t offset;
    long min, max;
    long def;
};

#define ROW(key, field, ty, lo, hi, d)                                                             \
    {                                                                                              \
        key, ty, offsetof(struct us_sysctl, field), lo, hi, d                                      \
    }

static const struct sysctl_entry sysctl_table[] = {
    ROW("net.core.dev_weight", dev_weight, SYSCTL_INT, 1, 65536, 64),
    ROW("net.core.netdev_budget", netdev_budget, SYSCTL_INT, 1, 1000000, 300),
    ROW("net.core.netdev_max_backlog", netdev_max_backlog, SYSCTL_INT, 1, 1000000, 1000),
    ROW("net.ipv4.icmp_echo_ignore_all", icmp_echo_ignore_all, SYSCTL_INT, 0, 1, 0),
    ROW("net.ipv4.icmp_echo_ignore_broadcasts", icmp_echo_ignore_broadcasts, SYSCTL_INT, 0, 1, 1),
    ROW("net.ipv4.icmp_msgs_burst", icmp_msgs_burst, SYSCTL_INT, 0, INT_MAX, 50),
    ROW("net.ipv4.icmp_msgs_per_sec", icmp_msgs_per_sec, SYSCTL_INT, 0, INT_MAX, 1000),
    ROW("net.ipv4.ip_default_ttl", ip_default_ttl, SYSCTL_INT, 1, 255, 64),
    ROW("net.ipv4.ip_forward", ip_forward, SYSCTL_INT, 0, 1, 0),
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
};
#define N_SYSCTL (sizeof(sysctl_table) / sizeof(sysctl_table[0]))

static long read_field(const struct us_sysctl *s, const struct sysctl_entry *e)
{
    const char *p = (const char *)s + e->offset;
    return e->type == SYSCTL_INT ? (long)*(const int *)p : *(const long *)p;
}

static void write_field(struct us_sysctl *s, const struct sysctl_entry *e, long v)
{
    char *p = (char *)s + e->offset;
    if (e->type == SYSCTL_INT)
        *(int *)p = (int)v;
    else
        *(long *)p = v;
}

void us_sysctl_defaults(struct us_sysctl *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < N_SYSCTL; i++)
        write_field(s, &sysctl_table[i], sysctl_table[i].def);
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
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (errno || end == value || *end != '\0' || v < e->min || v > e->max) {
        if (err)
            snprintf(err, errlen, "invalid value '%s' for %s: expected an integer in [%ld, %ld]",
                     value, key, e->min, e->max);
        return -EINVAL;
    }
    const char *why = check_pair(s, e, v);
    if (why) {
        if (err)
            snprintf(err, errlen, "invalid value '%s' for %s: %s", value, key, why);
        return -EINVAL;
    }
    write_field(s, e, v);
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
    snprintf(buf, len, "%ld", read_field(&stack->sysctl, e));
    return 0;
}

void us_sysctl_print_all(const struct us_stack *stack, FILE *out)
{
    for (size_t i = 0; i < N_SYSCTL; i++)
        fprintf(out, "%s = %ld\n", sysctl_table[i].name,
                read_field(&stack->sysctl, &sysctl_table[i]));
}
