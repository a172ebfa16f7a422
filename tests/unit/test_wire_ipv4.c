/* IPv4 and ICMP parse/emit: real packets, round trips and every kind of
 * malformed header. */
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

/* Sent by Linux out a TUN device: UDP to 10.0.0.2:9999, and a ping with 11
 * data bytes (a 19-byte ICMP message). */
static const char *const captured_udp =
    "45000028e4fb4000401141c70a0000010a00000299ea270f0014999768656c6c6f2075737461636b";
static const char *const captured_icmp_echo =
    "45000027503340004001d6a00a0000010a0000020800c5a9143c0001000102030405060708090a";

static void fix_ip_csum(uint8_t *h)
{
    size_t hl = (size_t)(h[0] & 0x0f) * 4;
    h[10] = h[11] = 0;
    uint16_t c = us_inet_csum(h, hl);
    h[10] = (uint8_t)(c >> 8);
    h[11] = (uint8_t)c;
}

static void test_ipv4_parse_captured(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_udp, p);
    struct us_ipv4_view v;
    assert_int_equal(us_ipv4_parse(p, n, &v), US_WIRE_OK);
    assert_int_equal(v.hdr_len, 20);
    assert_int_equal(v.tos, 0);
    assert_int_equal(v.total_len, 40);
    assert_int_equal(v.id, 0xe4fb);
    assert_true(v.df);
    assert_false(v.mf);
    assert_int_equal(v.frag_off, 0);
    assert_int_equal(v.ttl, 64);
    assert_int_equal(v.proto, US_IPPROTO_UDP);
    assert_int_equal(v.checksum, 0x41c7);
    assert_int_equal(v.src, US_IP4(10, 0, 0, 1));
    assert_int_equal(v.dst, US_IP4(10, 0, 0, 2));
    assert_int_equal(v.options_len, 0);
    assert_ptr_equal(v.payload, p + 20);
    assert_int_equal(v.payload_len, 20);

    /* Ethernet pads short frames: bytes past total_len are not payload. */
    memset(p + n, 0, sizeof p - n);
    assert_int_equal(us_ipv4_parse(p, 46, &v), US_WIRE_OK);
    assert_int_equal(v.payload_len, 20);

    /* A widely published header, with its 95 payload bytes. */
    uint8_t w[115] = {0};
    hex_to_bytes("45000073000040004011b861c0a80001c0a800c7", w);
    assert_int_equal(us_ipv4_parse(w, sizeof w, &v), US_WIRE_OK);
    assert_int_equal(v.src, US_IP4(192, 168, 0, 1));
    assert_int_equal(v.dst, US_IP4(192, 168, 0, 199));
    assert_int_equal(v.payload_len, 95);
}

static void test_ipv4_emit_round_trip(void **state)
{
    uint64_t x = 791;
    for (int i = 0; i < 5000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r32 = (uint32_t)(x >> 32);
        struct us_ipv4_repr r = {
            .tos = (uint8_t)r32,
            .id = (uint16_t)(r32 >> 8),
            .df = (r32 >> 24) & 1,
            .mf = (r32 >> 25) & 1,
            .ttl = (uint8_t)(x >> 8),
            .proto = (uint8_t)(x >> 16),
            .src = (uint32_t)x ^ 0xa5a5a5a5u,
            .dst = r32 * 2654435761u,
        };
        size_t payload = (x >> 20) % 200;
        r.frag_off = (uint16_t)(((x >> 28) % 200) * 8);
        r.total_len = (uint16_t)(20 + payload);
        static uint8_t buf[300];
        us_ipv4_emit(buf, &r);
        assert_int_equal(buf[0], 0x45);
        assert_int_equal(us_inet_csum(buf, 20), 0);
        struct us_ipv4_view v;
        assert_int_equal(us_ipv4_parse(buf, r.total_len, &v), US_WIRE_OK);
        assert_int_equal(v.hdr_len, 20);
        assert_int_equal(v.tos, r.tos);
        assert_int_equal(v.total_len, r.total_len);
        assert_int_equal(v.id, r.id);
        assert_int_equal(v.df, r.df);
        assert_int_equal(v.mf, r.mf);
        assert_int_equal(v.frag_off, r.frag_off);
        assert_int_equal(v.ttl, r.ttl);
        assert_int_equal(v.proto, r.proto);
        assert_int_equal(v.src, r.src);
        assert_int_equal(v.dst, r.dst);
        assert_int_equal(v.payload_len, payload);
    }
}

static void test_ipv4_fragment_fields(void **state)
{
    uint8_t b[28 + 1] = {0};
    struct us_ipv4_repr r = {
        .total_len = 28, .mf = true, .frag_off = 1480, .ttl = 1, .proto = US_IPPROTO_UDP};
    us_ipv4_emit(b, &r);
    assert_int_equal(b[6], 0x20);
    assert_int_equal(b[7], 185); /* 1480 / 8 */
    struct us_ipv4_view v;
    assert_int_equal(us_ipv4_parse(b, 28, &v), US_WIRE_OK);
    assert_true(v.mf);
    assert_false(v.df);
    assert_int_equal(v.frag_off, 1480);

    /* The last possible fragment ends at byte 65535; one more byte would
     * overflow the datagram. */
    r.mf = false;
    r.frag_off = 0x1fff * 8; /* 65528 */
    r.total_len = 20 + 7;
    us_ipv4_emit(b, &r);
    assert_int_equal(us_ipv4_parse(b, sizeof b, &v), US_WIRE_OK);
    assert_int_equal(v.frag_off, 65528);
    r.total_len = 20 + 8;
    us_ipv4_emit(b, &r);
    assert_int_equal(us_ipv4_parse(b, sizeof b, &v), US_WIRE_BAD_LENGTH);
}

static void test_ipv4_truncated(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_udp, p);
    struct us_ipv4_view v;
    /* Shorter than the header, then shorter than total_len. */
    for (size_t len = 0; len < n; len++)
        assert_int_equal(us_ipv4_parse(p, len, &v), US_WIRE_TRUNCATED);
    /* IHL says 60 bytes but only 40 are there. */
    p[0] = 0x4f;
    assert_int_equal(us_ipv4_parse(p, n, &v), US_WIRE_TRUNCATED);
}

/* What an ICMP error quotes: the header and the first 8 bytes of a datagram
 * that was longer; its checksum is not ours to judge. */
static void test_ipv4_quoted(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_udp, p);
    struct us_ipv4_view v;
    size_t cut = US_IPV4_HLEN + 8;
    assert_int_equal(us_ipv4_parse(p, cut, &v), US_WIRE_TRUNCATED);
    assert_int_equal(us_ipv4_parse_quoted(p, cut, &v), US_WIRE_OK);
    assert_int_equal(v.total_len, n);
    assert_int_equal(v.payload_len, 8);
    assert_int_equal(v.proto, US_IPPROTO_UDP);
    uint16_t sport, dport;
    assert_int_equal(us_l4_ports(v.payload, v.payload_len, &sport, &dport), US_WIRE_OK);
    assert_int_equal(sport, 0x99ea);
    assert_int_equal(dport, 0x270f);
    assert_int_equal(us_l4_ports(v.payload, 3, &sport, &dport), US_WIRE_TRUNCATED);
    /* A whole quote reports its real payload length. */
    assert_int_equal(us_ipv4_parse_quoted(p, n, &v), US_WIRE_OK);
    assert_int_equal(v.payload_len, n - US_IPV4_HLEN);
    /* A bad checksum is tolerated; a header that is not IPv4 or is cut
     * inside the header is not. */
    p[10] ^= 0xff;
    assert_int_equal(us_ipv4_parse_quoted(p, cut, &v), US_WIRE_OK);
    assert_int_equal(us_ipv4_parse_quoted(p, US_IPV4_HLEN - 1, &v), US_WIRE_TRUNCATED);
    p[0] = 0x65;
    assert_int_equal(us_ipv4_parse_quoted(p, cut, &v), US_WIRE_BAD_VERSION);
}

static void test_ipv4_bad_version_and_hdrlen(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_udp, p);
    struct us_ipv4_view v;
    for (unsigned ver = 0; ver < 16; ver++) {
        if (ver == 4)
            continue;
        p[0] = (uint8_t)(ver << 4 | 5);
        fix_ip_csum(p);
        assert_int_equal(us_ipv4_parse(p, n, &v), US_WIRE_BAD_VERSION);
    }
    for (unsigned ihl = 0; ihl < 5; ihl++) {
        hex_to_bytes(captured_udp, p);
        p[0] = (uint8_t)(0x40 | ihl);
        assert_int_equal(us_ipv4_parse(p, n, &v), US_WIRE_BAD_HDRLEN);
    }
    /* total_len smaller than the header it belongs to. */
    for (unsigned tl = 0; tl < 20; tl++) {
        hex_to_bytes(captured_udp, p);
        p[2] = 0;
        p[3] = (uint8_t)tl;
        fix_ip_csum(p);
        assert_int_equal(us_ipv4_parse(p, n, &v), US_WIRE_BAD_LENGTH);
    }
}

static void test_ipv4_bad_checksum(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_udp, p);
    struct us_ipv4_view v;
    /* Every single-bit error outside version/IHL/length must be caught by
     * the checksum (one's-complement sums catch all of them). */
    for (size_t byte = 1; byte < 20; byte++) {
        if (byte == 2 || byte == 3)
            continue;
        for (int bit = 0; bit < 8; bit++) {
            p[byte] ^= (uint8_t)(1u << bit);
            assert_int_equal(us_ipv4_parse(p, n, &v), US_WIRE_BAD_CSUM);
            p[byte] ^= (uint8_t)(1u << bit);
        }
    }
    /* The payload is not covered. */
    p[30] ^= 0xff;
    assert_int_equal(us_ipv4_parse(p, n, &v), US_WIRE_OK);
}

/* Builds a header with the given options (padded with zeros to 4 bytes). */
static size_t ip_with_options(uint8_t *b, const uint8_t *opt, size_t opt_len)
{
    size_t hl = 20 + ((opt_len + 3) & ~(size_t)3);
    struct us_ipv4_repr r = {.total_len = (uint16_t)(hl + 4), .ttl = 64, .proto = 253};
    memset(b, 0, hl + 4);
    us_ipv4_emit(b, &r);
    memcpy(b + 20, opt, opt_len);
    b[0] = (uint8_t)(0x40 | hl / 4);
    fix_ip_csum(b);
    return hl + 4;
}

static void test_ipv4_options(void **state)
{
    static const struct {
        uint8_t opt[40];
        size_t len;
        int want;
    } cases[] = {
        {{1, 1, 1, 1}, 4, US_WIRE_OK},
        {{0, 0xff, 0xff, 0xff}, 4, US_WIRE_OK},            /* junk after EOL */
        {{7, 7, 4, 0, 0, 0, 0, 1}, 8, US_WIRE_OK},         /* record route */
        {{0x94, 4, 0, 0}, 4, US_WIRE_OK},                  /* router alert */
        {{1, 1, 7, 6, 4, 0, 0, 0}, 8, US_WIRE_OK},         /* then padding EOLs */
        {{0x44, 0}, 2, US_WIRE_BAD_OPTION},                /* length 0 */
        {{0x44, 1, 0, 0}, 4, US_WIRE_BAD_OPTION},          /* length 1 */
        {{7, 9, 4, 0, 0, 0, 0, 0}, 8, US_WIRE_BAD_OPTION}, /* past the area */
        {{1, 1, 1, 7}, 4, US_WIRE_BAD_OPTION},             /* no room for length */
        {{7, 40}, 40, US_WIRE_OK},                         /* exactly the area */
        {{7, 41}, 40, US_WIRE_BAD_OPTION},
        {{0x83, 3, 4, 0x83, 3, 4, 1, 1}, 8, US_WIRE_OK},         /* two options */
        {{0x83, 3, 4, 0x83, 6, 4, 1, 1}, 8, US_WIRE_BAD_OPTION}, /* second overruns */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[100];
        size_t n = ip_with_options(b, cases[i].opt, cases[i].len);
        struct us_ipv4_view v;
        int got = us_ipv4_parse(b, n, &v);
        if (got != cases[i].want)
            fail_msg("case %zu: want %d got %d", i, cases[i].want, got);
        if (got == US_WIRE_OK) {
            assert_int_equal(v.hdr_len, 20 + ((cases[i].len + 3) & ~(size_t)3));
            assert_ptr_equal(v.options, b + 20);
            assert_int_equal(v.options_len, v.hdr_len - 20);
            assert_int_equal(v.payload_len, 4);
        }
    }
}

static void test_icmp_captured_and_reply(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_icmp_echo, p);
    struct us_ipv4_view ip;
    assert_int_equal(us_ipv4_parse(p, n, &ip), US_WIRE_OK);
    assert_int_equal(ip.proto, US_IPPROTO_ICMP);
    struct us_icmp_view v;
    assert_int_equal(us_icmp_parse(ip.payload, ip.payload_len, &v), US_WIRE_OK);
    assert_int_equal(v.type, US_ICMP_ECHO);
    assert_int_equal(v.code, 0);
    assert_int_equal(v.checksum, 0xc5a9);
    assert_int_equal(us_icmp_echo_id(&v), 0x143c);
    assert_int_equal(us_icmp_echo_seq(&v), 1);
    assert_int_equal(v.payload_len, 11);

    /* Re-emitting the request reproduces ping's bytes exactly. */
    uint8_t msg[19];
    memcpy(msg, ip.payload, sizeof msg);
    us_icmp_emit(msg, sizeof msg, v.type, v.code, v.rest);
    assert_memory_equal(msg, ip.payload, sizeof msg);

    /* The echo reply: same data, type 0. */
    us_icmp_emit(msg, sizeof msg, US_ICMP_ECHOREPLY, 0, v.rest);
    struct us_icmp_view r;
    assert_int_equal(us_icmp_parse(msg, sizeof msg, &r), US_WIRE_OK);
    assert_int_equal(r.type, US_ICMP_ECHOREPLY);
    assert_int_equal(r.rest, v.rest);
    assert_memory_equal(r.payload, v.payload, 11);
}

static void test_icmp_malformed(void **state)
{
    uint8_t msg[37];
    for (size_t i = 8; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37);
    us_icmp_emit(msg, sizeof msg, US_ICMP_DEST_UNREACH, US_ICMP_FRAG_NEEDED, 1400);
    struct us_icmp_view v;
    assert_int_equal(us_icmp_parse(msg, sizeof msg, &v), US_WIRE_OK);
    assert_int_equal(v.rest, 1400);
    for (size_t len = 0; len < US_ICMP_HLEN; len++)
        assert_int_equal(us_icmp_parse(msg, len, &v), US_WIRE_TRUNCATED);
    /* The checksum covers the data too, odd last byte included. */
    for (size_t byte = 0; byte < sizeof msg; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            msg[byte] ^= (uint8_t)(1u << bit);
            assert_int_equal(us_icmp_parse(msg, sizeof msg, &v), US_WIRE_BAD_CSUM);
            msg[byte] ^= (uint8_t)(1u << bit);
        }
    }
    /* Cutting the message breaks the checksum. */
    assert_int_equal(us_icmp_parse(msg, sizeof msg - 1, &v), US_WIRE_BAD_CSUM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_parse_captured),
        cmocka_unit_test(test_ipv4_emit_round_trip),
        cmocka_unit_test(test_ipv4_fragment_fields),
        cmocka_unit_test(test_ipv4_truncated),
        cmocka_unit_test(test_ipv4_quoted),
        cmocka_unit_test(test_ipv4_bad_version_and_hdrlen),
        cmocka_unit_test(test_ipv4_bad_checksum),
        cmocka_unit_test(test_ipv4_options),
        cmocka_unit_test(test_icmp_captured_and_reply),
        cmocka_unit_test(test_icmp_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
