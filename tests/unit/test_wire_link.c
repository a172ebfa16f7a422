/* Address text forms, Ethernet, ARP and the wire error strings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "ustack/wire.h"

static void test_ip4_parse_valid(void **state)
{
    static const struct {
        const char *s;
        us_ip4 want;
    } cases[] = {
        {"0.0.0.0", 0},
        {"255.255.255.255", 0xffffffffu},
        {"10.0.0.1", US_IP4(10, 0, 0, 1)},
        {"192.168.1.254", US_IP4(192, 168, 1, 254)},
        {"1.20.199.0", US_IP4(1, 20, 199, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        us_ip4 a = 1;
        assert_int_equal(us_ip4_parse(cases[i].s, &a), 0);
        assert_int_equal(a, cases[i].want);
    }
}

static void test_ip4_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",          "1.2.3",    "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",   " 1.2.3.4", "1..2.3",
        "01.2.3.4",  "1.2.3.-4", "1.2.3.4/",  "a.b.c.d",   "1.2.3.1000", "1.2.3.4x", "+1.2.3.4",
        "0x1.2.3.4", "1.2.3.",   ".1.2.3",    "1.2.3.4.",  "1,2,3,4",    "1.2.3.00", "999.0.0.0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        us_ip4 a = 0x12345678;
        if (us_ip4_parse(bad[i], &a) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(a, 0x12345678); /* untouched on failure */
    }
    us_ip4 a;
    assert_int_equal(us_ip4_parse(NULL, &a), -1);
}

static void test_ip4_parse_prefix(void **state)
{
    us_ip4 a;
    int n;
    assert_int_equal(us_ip4_parse_prefix("10.0.0.0/8", &a, &n), 0);
    assert_int_equal(a, US_IP4(10, 0, 0, 0));
    assert_int_equal(n, 8);
    assert_int_equal(us_ip4_parse_prefix("0.0.0.0/0", &a, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(us_ip4_parse_prefix("192.168.7.9/32", &a, &n), 0);
    assert_int_equal(a, US_IP4(192, 168, 7, 9));
    assert_int_equal(n, 32);

    static const char *const bad[] = {"1.2.3.4/33", "1.2.3.4",    "1.2.3.4/",    "1.2.3.4/08",
                                      "1.2.3.4/-1", "1.2.3.4/8x", "1.2.3/8",     "1.2.3.4/1 ",
                                      "1.2.3.4//8", "/8",         "1.2.3.4/100", "1.2.3.256/8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = 7;
        n = 7;
        if (us_ip4_parse_prefix(bad[i], &a, &n) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(a, 7);
        assert_int_equal(n, 7);
    }
}

static void test_ip4_fmt_round_trip(void **state)
{
    char buf[16];
    assert_string_equal(us_ip4_fmt(0xffffffffu, buf), "255.255.255.255");
    assert_string_equal(us_ip4_fmt(US_IP4(10, 0, 0, 1), buf), "10.0.0.1");
    assert_string_equal(us_ip4_fmt(0, buf), "0.0.0.0");
    uint32_t x = 2463534242u; /* xorshift32 */
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        us_ip4 back;
        assert_int_equal(us_ip4_parse(us_ip4_fmt(x, buf), &back), 0);
        assert_int_equal(back, x);
    }
}

static void test_mac_fmt_and_multicast(void **state)
{
    char buf[18];
    struct us_mac m = {{0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e}};
    assert_string_equal(us_mac_fmt(&m, buf), "00:1a:2b:3c:4d:5e");
    struct us_mac bc = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    assert_string_equal(us_mac_fmt(&bc, buf), "ff:ff:ff:ff:ff:ff");
    assert_true(us_mac_is_broadcast(&bc));
    assert_false(us_mac_is_broadcast(&m));

    /* RFC 1112 §6.4: the low 23 bits go into 01:00:5e:00:00:00. */
    us_mac_from_ip4_multicast(US_IP4(224, 0, 0, 1), &m);
    assert_string_equal(us_mac_fmt(&m, buf), "01:00:5e:00:00:01");
    us_mac_from_ip4_multicast(US_IP4(239, 255, 255, 250), &m);
    assert_string_equal(us_mac_fmt(&m, buf), "01:00:5e:7f:ff:fa");
    assert_true(us_mac_is_multicast(&m));
    /* 224.128.0.1 and 224.0.0.1 share a MAC: bit 23 is dropped. */
    us_mac_from_ip4_multicast(US_IP4(224, 128, 0, 1), &m);
    assert_string_equal(us_mac_fmt(&m, buf), "01:00:5e:00:00:01");
}

static void test_strerror(void **state)
{
    const char *seen[9] = {0};
    for (int e = 0; e >= US_WIRE_UNSUPPORTED; e--) {
        const char *s = us_wire_strerror(e);
        assert_non_null(s);
        for (int j = 0; j < -e; j++)
            assert_string_not_equal(s, seen[j]);
        seen[-e] = s;
    }
    assert_string_equal(us_wire_strerror(US_WIRE_BAD_CSUM), "bad checksum");
    assert_string_equal(us_wire_strerror(-99), "unknown wire error");
    assert_string_equal(us_wire_strerror(5), "unknown wire error");
}

static void test_eth(void **state)
{
    uint8_t f[60] = {0};
    struct us_mac dst = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    struct us_mac src = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
    us_eth_emit(f, &dst, &src, US_ETH_TYPE_ARP);
    static const uint8_t want[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                                     0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06};
    assert_memory_equal(f, want, 14);

    struct us_eth_view v;
    assert_int_equal(us_eth_parse(f, sizeof f, &v), US_WIRE_OK);
    assert_memory_equal(v.dst.b, dst.b, 6);
    assert_memory_equal(v.src.b, src.b, 6);
    assert_int_equal(v.ethertype, US_ETH_TYPE_ARP);
    assert_ptr_equal(v.payload, f + 14);
    assert_int_equal(v.payload_len, 46);

    for (size_t len = 0; len < US_ETH_HLEN; len++)
        assert_int_equal(us_eth_parse(f, len, &v), US_WIRE_TRUNCATED);
    assert_int_equal(us_eth_parse(f, US_ETH_HLEN, &v), US_WIRE_OK);
    assert_int_equal(v.payload_len, 0);
}

/* A who-has 10.0.0.2 tell 10.0.0.1, as RFC 826 lays it out. */
static const uint8_t arp_request[28] = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
};

static void test_arp_parse_and_emit(void **state)
{
    struct us_arp_view v;
    assert_int_equal(us_arp_parse(arp_request, sizeof arp_request, &v), US_WIRE_OK);
    assert_int_equal(v.op, US_ARP_OP_REQUEST);
    static const uint8_t sha[6] = {0x02, 0, 0, 0, 0, 0x01}, zero[6] = {0};
    assert_memory_equal(v.sha.b, sha, 6);
    assert_memory_equal(v.tha.b, zero, 6);
    assert_int_equal(v.spa, US_IP4(10, 0, 0, 1));
    assert_int_equal(v.tpa, US_IP4(10, 0, 0, 2));

    uint8_t out[28];
    us_arp_emit(out, &v);
    assert_memory_equal(out, arp_request, 28);

    /* A reply, emitted then parsed. */
    struct us_arp_view r = {.op = US_ARP_OP_REPLY,
                            .sha = {{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}},
                            .tha = v.sha,
                            .spa = v.tpa,
                            .tpa = v.spa};
    us_arp_emit(out, &r);
    struct us_arp_view back;
    assert_int_equal(us_arp_parse(out, sizeof out, &back), US_WIRE_OK);
    assert_int_equal(back.op, r.op);
    assert_memory_equal(back.sha.b, r.sha.b, 6);
    assert_memory_equal(back.tha.b, r.tha.b, 6);
    assert_int_equal(back.spa, r.spa);
    assert_int_equal(back.tpa, r.tpa);

    /* Trailing Ethernet padding is fine. */
    uint8_t padded[46] = {0};
    memcpy(padded, arp_request, 28);
    assert_int_equal(us_arp_parse(padded, sizeof padded, &back), US_WIRE_OK);
}

static void test_arp_malformed(void **state)
{
    struct us_arp_view v;
    for (size_t len = 0; len < US_ARP_LEN; len++)
        assert_int_equal(us_arp_parse(arp_request, len, &v), US_WIRE_TRUNCATED);

    uint8_t p[28];
    static const struct {
        size_t at;
        uint8_t val;
    } unsupported[] = {
        {1, 6},    /* htype IEEE 802 */
        {0, 1},    /* htype 257 */
        {2, 0x86}, /* ptype 0x86dd */
        {3, 0x06}, /* ptype 0x0806 */
        {4, 8},    /* hlen 8 */
        {5, 16},   /* plen 16 */
    };
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        memcpy(p, arp_request, sizeof p);
        p[unsupported[i].at] = unsupported[i].val;
        assert_int_equal(us_arp_parse(p, sizeof p, &v), US_WIRE_UNSUPPORTED);
        /* Known to be foreign before the length matters. */
        assert_int_equal(us_arp_parse(p, 8, &v), US_WIRE_UNSUPPORTED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip4_parse_valid),
        cmocka_unit_test(test_ip4_parse_invalid),
        cmocka_unit_test(test_ip4_parse_prefix),
        cmocka_unit_test(test_ip4_fmt_round_trip),
        cmocka_unit_test(test_mac_fmt_and_multicast),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_eth),
        cmocka_unit_test(test_arp_parse_and_emit),
        cmocka_unit_test(test_arp_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
