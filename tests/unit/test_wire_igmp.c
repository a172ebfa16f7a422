/* IGMPv2 parse/emit (RFC 2236 §2) and IPv4 headers with the Router Alert
 * option (RFC 2113), as Linux's igmp_send_report builds them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "ustack/checksum.h"
#include "ustack/wire.h"

/* A Membership Report for 239.1.2.3: 0x1600 + 0xef01 + 0x0203 folds to
 * 0x0705, so the checksum is 0xf8fa. */
static const uint8_t report[8] = {0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01, 0x02, 0x03};

static void test_report_round_trip(void **state)
{
    struct us_igmp_view v;
    assert_int_equal(us_igmp_parse(report, sizeof(report), &v), US_WIRE_OK);
    assert_int_equal(v.type, US_IGMPV2_REPORT);
    assert_int_equal(v.max_resp, 0);
    assert_int_equal(v.checksum, 0xf8fa);
    assert_int_equal(v.group, US_IP4(239, 1, 2, 3));
    uint8_t out[8];
    us_igmp_emit(out, US_IGMPV2_REPORT, 0, US_IP4(239, 1, 2, 3));
    assert_memory_equal(out, report, 8);
}

static void test_malformed(void **state)
{
    struct us_igmp_view v;
    assert_int_equal(us_igmp_parse(report, 7, &v), US_WIRE_TRUNCATED);
    uint8_t bad[8];
    memcpy(bad, report, 8);
    bad[7] ^= 1;
    assert_int_equal(us_igmp_parse(bad, 8, &v), US_WIRE_BAD_CSUM);
}

static void test_longer_query_is_checksummed_whole(void **state)
{
    /* An IGMPv3 general query (12 bytes): the checksum covers all of it;
     * an IGMPv2 host reads the first 8 (RFC 2236 §2.5, RFC 3376 §7.1). */
    uint8_t q[12] = {0x11, 100, 0, 0, 0, 0, 0, 0, 0x02, 0x7d, 0, 0};
    uint16_t c = us_inet_csum(q, sizeof(q));
    q[2] = (uint8_t)(c >> 8);
    q[3] = (uint8_t)c;
    struct us_igmp_view v;
    assert_int_equal(us_igmp_parse(q, sizeof(q), &v), US_WIRE_OK);
    assert_int_equal(v.type, US_IGMP_QUERY);
    assert_int_equal(v.max_resp, 100);
    assert_int_equal(v.group, 0);
    q[9] ^= 0x10;
    assert_int_equal(us_igmp_parse(q, sizeof(q), &v), US_WIRE_BAD_CSUM);
}

static void test_ipv4_header_with_router_alert(void **state)
{
    uint8_t d[24 + 8];
    struct us_ipv4_repr r = {.tos = 0xc0,
                             .total_len = sizeof(d),
                             .id = 7,
                             .df = true,
                             .ttl = 1,
                             .proto = US_IPPROTO_IGMP,
                             .src = US_IP4(192, 0, 2, 2),
                             .dst = US_IP4(239, 1, 2, 3)};
    us_ipv4_emit_opts(d, &r, us_ipopt_router_alert, US_IPOPT_RA_LEN);
    memcpy(d + 24, report, 8);
    struct us_ipv4_view v;
    assert_int_equal(us_ipv4_parse(d, sizeof(d), &v), US_WIRE_OK);
    assert_int_equal(d[0], 0x46);
    assert_int_equal(v.hdr_len, 24);
    assert_int_equal(v.options_len, 4);
    assert_memory_equal(v.options, us_ipopt_router_alert, 4);
    assert_int_equal(v.ttl, 1);
    assert_true(v.df);
    assert_int_equal(v.payload_len, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_longer_query_is_checksummed_whole),
        cmocka_unit_test(test_ipv4_header_with_router_alert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
