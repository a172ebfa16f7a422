/* UDP parse/emit: a real datagram, round trips, the zero-checksum rules of
 * RFC 768 and malformed lengths. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/checksum.h"
#include "ustack/wire.h"

static size_t hex_to_bytes(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        char tmp[3] = {hex[0], hex[1], 0};
        out[n++] = (uint8_t)strtoul(tmp, NULL, 16);
    }
    return n;
}

/* The UDP part of a datagram Linux sent 10.0.0.1 -> 10.0.0.2 out a TUN
 * device, checksum computed by the kernel. */
static const char *const captured_udp = "99ea270f0014999768656c6c6f2075737461636b";
static const us_ip4 cap_src = US_IP4(10, 0, 0, 1), cap_dst = US_IP4(10, 0, 0, 2);

static void test_udp_parse_captured(void **state)
{
    uint8_t p[32];
    size_t n = hex_to_bytes(captured_udp, p);
    struct us_udp_view v;
    assert_int_equal(us_udp_parse(p, n, cap_src, cap_dst, 0, &v), US_WIRE_OK);
    assert_int_equal(v.sport, 0x99ea);
    assert_int_equal(v.dport, 9999);
    assert_int_equal(v.length, 20);
    assert_int_equal(v.checksum, 0x9997);
    assert_int_equal(v.payload_len, 12);
    assert_memory_equal(v.payload, "hello ustack", 12);

    /* Emitting the same header reproduces the kernel's bytes. */
    uint8_t out[32];
    memcpy(out, p, n);
    memset(out, 0, 8);
    us_udp_emit(out, n, 0x99ea, 9999, cap_src, cap_dst);
    assert_memory_equal(out, p, n);

    /* The pseudo header counts: other addresses fail, unless the device
     * already verified the checksum. */
    assert_int_equal(us_udp_parse(p, n, cap_src, cap_dst + 1, 0, &v), US_WIRE_BAD_CSUM);
    assert_int_equal(us_udp_parse(p, n, cap_dst, cap_src, 0, &v), US_WIRE_OK); /* swap: same sum */
    assert_int_equal(us_udp_parse(p, n, 0, 0, US_WIRE_CSUM_VALID, &v), US_WIRE_OK);
    p[8] ^= 1;
    assert_int_equal(us_udp_parse(p, n, cap_src, cap_dst, 0, &v), US_WIRE_BAD_CSUM);
    assert_int_equal(us_udp_parse(p, n, cap_src, cap_dst, US_WIRE_CSUM_VALID, &v), US_WIRE_OK);
}

static void test_udp_zero_checksum_means_none(void **state)
{
    uint8_t p[32];
    size_t n = hex_to_bytes(captured_udp, p);
    p[6] = p[7] = 0;
    p[10] ^= 0x55; /* contents no longer match any checksum */
    struct us_udp_view v;
    assert_int_equal(us_udp_parse(p, n, 1, 2, 0, &v), US_WIRE_OK);
    assert_int_equal(v.checksum, 0);
}

static void test_udp_computed_zero_sent_as_ffff(void **state)
{
    /* Choose a payload word that makes the sum all ones, so the computed
     * checksum is 0: RFC 768 sends it as ffff. */
    uint8_t seg[10] = {0};
    us_ip4 src = US_IP4(192, 0, 2, 1), dst = US_IP4(198, 51, 100, 7);
    us_udp_emit(seg, sizeof seg, 5000, 53, src, dst);
    uint16_t c = (uint16_t)(seg[6] << 8 | seg[7]);
    seg[8] = (uint8_t)(c >> 8);
    seg[9] = (uint8_t)c;
    us_udp_emit(seg, sizeof seg, 5000, 53, src, dst);
    assert_int_equal(seg[6], 0xff);
    assert_int_equal(seg[7], 0xff);
    struct us_udp_view v;
    assert_int_equal(us_udp_parse(seg, sizeof seg, src, dst, 0, &v), US_WIRE_OK);
    assert_int_equal(v.checksum, 0xffff);
}

static void test_udp_round_trip(void **state)
{
    static uint8_t mem[1500 + 8];
    uint64_t x = 768;
    for (int i = 0; i < 3000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t off = (x >> 60) & 7; /* misaligned segments too */
        size_t plen = (x >> 33) % 1473;
        uint8_t *seg = mem + off;
        for (size_t j = 0; j < plen; j++)
            seg[8 + j] = (uint8_t)(x >> (j % 56));
        us_ip4 src = (us_ip4)x, dst = (us_ip4)(x >> 32);
        uint16_t sport = (uint16_t)(x >> 7), dport = (uint16_t)(x >> 21);
        us_udp_emit(seg, 8 + plen, sport, dport, src, dst);
        struct us_udp_view v;
        assert_int_equal(us_udp_parse(seg, 8 + plen, src, dst, 0, &v), US_WIRE_OK);
        assert_int_equal(v.sport, sport);
        assert_int_equal(v.dport, dport);
        assert_int_equal(v.length, 8 + plen);
        assert_int_not_equal(v.checksum, 0);
        assert_ptr_equal(v.payload, seg + 8);
        assert_int_equal(v.payload_len, plen);
    }
}

static void test_udp_bad_lengths(void **state)
{
    uint8_t p[32];
    size_t n = hex_to_bytes(captured_udp, p);
    struct us_udp_view v;
    for (size_t len = 0; len < n; len++)
        assert_int_equal(us_udp_parse(p, len, cap_src, cap_dst, 0, &v), US_WIRE_TRUNCATED);
    for (unsigned l = 0; l < 8; l++) {
        p[4] = 0;
        p[5] = (uint8_t)l;
        assert_int_equal(us_udp_parse(p, n, cap_src, cap_dst, US_WIRE_CSUM_VALID, &v),
                         US_WIRE_BAD_LENGTH);
    }
    /* A length past the data: the datagram was cut. */
    p[5] = (uint8_t)(n + 1);
    assert_int_equal(us_udp_parse(p, n, cap_src, cap_dst, US_WIRE_CSUM_VALID, &v),
                     US_WIRE_TRUNCATED);

    /* Bytes past the UDP length are ignored, checksum included. */
    n = hex_to_bytes(captured_udp, p);
    p[n] = 0xab;
    p[n + 1] = 0xcd;
    assert_int_equal(us_udp_parse(p, n + 2, cap_src, cap_dst, 0, &v), US_WIRE_OK);
    assert_int_equal(v.payload_len, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_parse_captured),
        cmocka_unit_test(test_udp_zero_checksum_means_none),
        cmocka_unit_test(test_udp_computed_zero_sent_as_ffff),
        cmocka_unit_test(test_udp_round_trip),
        cmocka_unit_test(test_udp_bad_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
