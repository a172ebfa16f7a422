/* The sysctl table: Linux's names and defaults, clear errors, and values
 * that really reach the stack. Also the counter names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
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

static void test_print_all_lists_every_key(void **state)
{
    (void)state;
    struct us_stack *s = new_stack();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    us_sysctl_print_all(s, f);
    fclose(f);
    assert_non_null(strstr(text, "net.ipv4.ipfrag_time = 30\n"));
    assert_non_null(strstr(text, "net.core.netdev_max_backlog = 1000\n"));
    free(text);
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
        cmocka_unit_test(test_counters_by_nstat_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
