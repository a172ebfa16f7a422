/* The sysctl table: Linux's names and defaults, clear errors, and values
 * that really reach the stack. Also the counter names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/stack.h"

static struct us_stack *new_stack(void)
{
    struct us_stack_config c = {.seed = 1, .pkt_count = 64, .large_pkt_count = 2};
    struct us_stack *s = us_stack_new(&c);
    assert_non_null(s);
    return s;
}

static void test_linux_defaults(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char buf[64];
    static const struct {
        const char *key, *value;
    } defaults[] = {
        {"net.ipv4.ipfrag_time", "30"},
        {"net.ipv4.ipfrag_high_thresh", "4194304"},
        {"net.ipv4.ipfrag_low_thresh", "3145728"},
        {"net.ipv4.ip_default_ttl", "64"},
        {"net.ipv4.ip_forward", "0"},
        {"net.ipv4.neigh.default.mcast_solicit", "3"},
        {"net.core.netdev_budget", "300"},
        {"net.core.dev_weight", "64"},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        assert_int_equal(us_sysctl_get(s, defaults[i].key, buf, sizeof(buf)), 0);
        assert_string_equal(buf, defaults[i].value);
    }
    us_stack_free(s);
}

static void test_set_reaches_the_stack(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char err[128], buf[32];
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ipfrag_time", "10", err, sizeof(err)), 0);
    assert_int_equal(us_stack_sysctl(s)->ipfrag_time, 10);
    assert_int_equal(us_sysctl_get(s, "net.ipv4.ipfrag_time", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "10");
    /* Trailing newline as `echo 5 > /proc/sys/...` would write it. */
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ip_default_ttl", "5\n", err, sizeof(err)), 0);
    assert_int_equal(us_stack_sysctl(s)->ip_default_ttl, 5);
    us_stack_free(s);
}

static void test_unknown_key_is_enoent(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char err[128] = "";
    assert_int_equal(us_sysctl_set(s, "net.ipv4.no_such_knob", "1", err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "unknown sysctl key 'net.ipv4.no_such_knob'"));
    char buf[8];
    assert_int_equal(us_sysctl_get(s, "net.ipv4.no_such_knob", buf, sizeof(buf)), -ENOENT);
    us_stack_free(s);
}

static void test_bad_values_are_einval_and_change_nothing(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char err[160];
    static const char *bad[] = {"", "abc", "12x", "1.5", "99999999999999999999999", "-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(us_sysctl_set(s, "net.ipv4.ip_default_ttl", bad[i], err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "net.ipv4.ip_default_ttl"));
        assert_non_null(strstr(err, "[1, 255]"));
    }
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ip_default_ttl", "256", err, sizeof(err)), -EINVAL);
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ip_forward", "2", err, sizeof(err)), -EINVAL);
    assert_int_equal(us_stack_sysctl(s)->ip_default_ttl, 64);
    assert_int_equal(us_stack_sysctl(s)->ip_forward, 0);
    us_stack_free(s);
}

static void test_frag_thresholds_bound_each_other(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char err[160];
    /* As in Linux: low may not exceed high, high may not go below low. */
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ipfrag_low_thresh", "5000000", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "ipfrag_high_thresh"));
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ipfrag_high_thresh", "1000", err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ipfrag_high_thresh", "8000000", err, sizeof(err)),
                     0);
    assert_int_equal(us_sysctl_set(s, "net.ipv4.ipfrag_low_thresh", "5000000", err, sizeof(err)),
                     0);
    us_stack_free(s);
}

/* Every key the stack has, by Linux's name, with its default: Linux's where
 * Linux has a fixed one; where Linux computes it from the machine's memory
 * (tcp_max_orphans, tcp_max_syn_backlog, tcp_max_tw_buckets) the value a
 * machine with a few GiB gets. A key dropped, renamed or added, or a
 * default changed, fails the test. */
static const struct {
    const char *key, *value;
} every_key[] = {
    {"net.core.busy_poll", "0"},
    {"net.core.dev_weight", "64"},
    {"net.core.netdev_budget", "300"},
    {"net.core.netdev_max_backlog", "1000"},
    {"net.core.rmem_default", "212992"},
    {"net.core.rmem_max", "212992"},
    {"net.core.somaxconn", "4096"},
    {"net.core.wmem_default", "212992"},
    {"net.core.wmem_max", "212992"},
    {"net.ipv4.icmp_echo_ignore_all", "0"},
    {"net.ipv4.icmp_echo_ignore_broadcasts", "1"},
    {"net.ipv4.icmp_msgs_burst", "50"},
    {"net.ipv4.icmp_msgs_per_sec", "1000"},
    {"net.ipv4.ip_default_ttl", "64"},
    {"net.ipv4.ip_forward", "0"},
    {"net.ipv4.ip_local_port_range", "32768\t60999"},
    {"net.ipv4.ipfrag_high_thresh", "4194304"},
    {"net.ipv4.ipfrag_low_thresh", "3145728"},
    {"net.ipv4.ipfrag_time", "30"},
    {"net.ipv4.neigh.default.base_reachable_time_ms", "30000"},
    {"net.ipv4.neigh.default.gc_stale_time", "60"},
    {"net.ipv4.neigh.default.mcast_solicit", "3"},
    {"net.ipv4.neigh.default.retrans_time_ms", "1000"},
    {"net.ipv4.neigh.default.unres_qlen", "101"},
    {"net.ipv4.tcp_challenge_ack_limit", "2147483647"},
    {"net.ipv4.tcp_congestion_control", "cubic"},
    {"net.ipv4.tcp_dsack", "1"},
    {"net.ipv4.tcp_early_retrans", "3"},
    {"net.ipv4.tcp_fin_timeout", "60"},
    {"net.ipv4.tcp_invalid_ratelimit", "500"},
    {"net.ipv4.tcp_keepalive_intvl", "75"},
    {"net.ipv4.tcp_keepalive_probes", "9"},
    {"net.ipv4.tcp_keepalive_time", "7200"},
    {"net.ipv4.tcp_max_orphans", "65536"},
    {"net.ipv4.tcp_max_syn_backlog", "1024"},
    {"net.ipv4.tcp_max_tw_buckets", "262144"},
    {"net.ipv4.tcp_moderate_rcvbuf", "1"},
    {"net.ipv4.tcp_retries2", "15"},
    {"net.ipv4.tcp_rmem", "4096\t131072\t6291456"},
    {"net.ipv4.tcp_sack", "1"},
    {"net.ipv4.tcp_slow_start_after_idle", "1"},
    {"net.ipv4.tcp_syn_retries", "6"},
    {"net.ipv4.tcp_synack_retries", "5"},
    {"net.ipv4.tcp_syncookies", "1"},
    {"net.ipv4.tcp_timestamps", "1"},
    {"net.ipv4.tcp_window_scaling", "1"},
    {"net.ipv4.tcp_wmem", "4096\t16384\t4194304"},
};
#define N_EVERY_KEY (sizeof(every_key) / sizeof(every_key[0]))

static void test_print_all_lists_every_key(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    us_sysctl_print_all(s, f);
    fclose(f);
    /* Each listed line is one expected "key = default", each expected key
     * is listed once, and there are no other lines: the listing is exactly
     * the expected set, in whatever order. */
    bool seen[N_EVERY_KEY] = {false};
    size_t lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        size_t i = 0;
        char want[128];
        for (; i < N_EVERY_KEY; i++) {
            snprintf(want, sizeof(want), "%s = %s", every_key[i].key, every_key[i].value);
            if (strcmp(line, want) == 0)
                break;
        }
        if (i == N_EVERY_KEY)
            fail_msg("unexpected line in the listing: '%s'", line);
        if (seen[i])
            fail_msg("%s listed twice", every_key[i].key);
        seen[i] = true;
    }
    for (size_t i = 0; i < N_EVERY_KEY; i++)
        if (!seen[i])
            fail_msg("%s = %s not listed", every_key[i].key, every_key[i].value);
    assert_int_equal(lines, N_EVERY_KEY);
    free(text);
    us_stack_free(s);
}

/* us_sysctl_get knows every listed key and gives the same value. */
static void test_get_knows_every_key(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char buf[64];
    for (size_t i = 0; i < N_EVERY_KEY; i++) {
        if (us_sysctl_get(s, every_key[i].key, buf, sizeof(buf)) != 0)
            fail_msg("us_sysctl_get(%s) failed", every_key[i].key);
        if (strcmp(buf, every_key[i].value) != 0)
            fail_msg("%s = '%s', expected '%s'", every_key[i].key, buf, every_key[i].value);
    }
    us_stack_free(s);
}

static void test_counters_by_nstat_name(void **state)
{
    (void)state;
    struct us_mib m;
    memset(&m, 0, sizeof(m));
    m.ip.ReasmOKs = 3;
    m.ipext.InOctets = 1234;
    m.icmp.InEchos = 7;
    m.udp.NoPorts = 2;
    assert_int_equal(us_mib_get(&m, "IpReasmOKs"), 3);
    assert_int_equal(us_mib_get(&m, "IpExtInOctets"), 1234);
    assert_int_equal(us_mib_get(&m, "IcmpInEchos"), 7);
    assert_int_equal(us_mib_get(&m, "UdpNoPorts"), 2);
    assert_int_equal(us_mib_get(&m, "IpNoSuchCounter"), -1);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    us_mib_print_nstat(&m, f, 0);
    fclose(f);
    assert_non_null(strstr(text, "IpReasmOKs"));
    assert_null(strstr(text, "IpReasmFails")); /* zero: skipped unless all */
    free(text);

    f = open_memstream(&text, &len);
    us_mib_print_netstat(&m, f);
    fclose(f);
    assert_non_null(strstr(text, "Ip:\n"));
    assert_non_null(strstr(text, "    3 packets reassembled ok\n"));
    assert_non_null(strstr(text, "    2 packets to unknown port received\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linux_defaults),
        cmocka_unit_test(test_set_reaches_the_stack),
        cmocka_unit_test(test_unknown_key_is_enoent),
        cmocka_unit_test(test_bad_values_are_einval_and_change_nothing),
        cmocka_unit_test(test_frag_thresholds_bound_each_other),
        cmocka_unit_test(test_print_all_lists_every_key),
        cmocka_unit_test(test_get_knows_every_key),
        cmocka_unit_test(test_counters_by_nstat_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
