/* TCP parse/emit: a real Linux SYN, round trips of every option mix, and
 * malformed headers and options. */
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

/* A SYN Linux sent 10.0.0.1:52138 -> 10.0.0.2:80 out a TUN device:
 * MSS 1460, SACK-permitted, timestamps, NOP, window scale 10. */
static const char *const captured_syn = "cbaa0050594d8ed600000000a002faf0b2410000"
                                        "020405b40402080ac2971012000000000103030a";
static const us_ip4 cap_src = US_IP4(10, 0, 0, 1), cap_dst = US_IP4(10, 0, 0, 2);

static void set_csum(uint8_t *seg, size_t len, us_ip4 src, us_ip4 dst)
{
    seg[16] = seg[17] = 0;
    uint32_t s = us_csum_pseudo(src, dst, US_IPPROTO_TCP, (uint16_t)len);
    uint16_t c = (uint16_t)~us_csum_fold(us_csum_partial(seg, len, s));
    seg[16] = (uint8_t)(c >> 8);
    seg[17] = (uint8_t)c;
}

static void test_tcp_parse_captured_syn(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_syn, p);
    struct us_tcp_view v;
    assert_int_equal(us_tcp_parse(p, n, cap_src, cap_dst, 0, &v), US_WIRE_OK);
    assert_int_equal(v.sport, 52138);
    assert_int_equal(v.dport, 80);
    assert_int_equal(v.seq, 0x594d8ed6);
    assert_int_equal(v.ack, 0);
    assert_int_equal(v.hdr_len, 40);
    assert_int_equal(v.flags, US_TCP_SYN);
    assert_int_equal(v.window, 64240);
    assert_int_equal(v.checksum, 0xb241);
    assert_int_equal(v.urg_ptr, 0);
    assert_true(v.opts.mss_present);
    assert_int_equal(v.opts.mss, 1460);
    assert_true(v.opts.sack_permitted);
    assert_true(v.opts.ts_present);
    assert_int_equal(v.opts.tsval, 0xc2971012);
    assert_int_equal(v.opts.tsecr, 0);
    assert_true(v.opts.wscale_present);
    assert_int_equal(v.opts.wscale, 10);
    assert_int_equal(v.opts.sack_count, 0);
    assert_int_equal(v.payload_len, 0);

    /* Our emitter uses Linux's option layout, so it rebuilds the kernel's
     * SYN byte for byte, checksum included. */
    struct us_tcp_repr r = {.sport = v.sport,
                            .dport = v.dport,
                            .seq = v.seq,
                            .ack = v.ack,
                            .flags = v.flags,
                            .window = v.window,
                            .urg_ptr = v.urg_ptr,
                            .opts = v.opts};
    assert_int_equal(us_tcp_opts_len(&r.opts), 20);
    uint8_t out[64];
    memset(out, 0xee, sizeof out);
    assert_int_equal(us_tcp_emit(out, n, &r, cap_src, cap_dst), 40);
    assert_memory_equal(out, p, n);

    assert_int_equal(us_tcp_parse(p, n, cap_src + 1, cap_dst, 0, &v), US_WIRE_BAD_CSUM);
    assert_int_equal(us_tcp_parse(p, n, 0, 0, US_WIRE_CSUM_VALID, &v), US_WIRE_OK);
}

static void test_tcp_opts_len(void **state)
{
    struct us_tcp_opts o = {0};
    assert_int_equal(us_tcp_opts_len(&o), 0);
    o.mss_present = true;
    assert_int_equal(us_tcp_opts_len(&o), 4);
    o.sack_permitted = true;
    assert_int_equal(us_tcp_opts_len(&o), 8);
    o.ts_present = true;
    assert_int_equal(us_tcp_opts_len(&o), 16); /* SACKPERM shares the TS word */
    o.wscale_present = true;
    assert_int_equal(us_tcp_opts_len(&o), 20);

    struct us_tcp_opts a = {.ts_present = true, .sack_count = 4};
    assert_int_equal(us_tcp_opts_len(&a), 12 + 4 + 3 * 8); /* only 3 blocks fit */
    a.ts_present = false;
    assert_int_equal(us_tcp_opts_len(&a), 4 + 4 * 8);
}

/* Every mix of MSS / WS / SACK-permitted / TS, with 0..4 SACK blocks,
 * emitted and parsed back, over payloads of odd and even lengths. */
static void test_tcp_round_trip_all_options(void **state)
{
    static uint8_t mem[60 + 200 + 8];
    uint64_t x = 9293;
    for (int iter = 0; iter < 20; iter++) {
        for (unsigned mix = 0; mix < 16; mix++) {
            for (unsigned nsack = 0; nsack <= US_TCP_MAX_SACK; nsack++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                struct us_tcp_repr r = {
                    .sport = (uint16_t)(x >> 16),
                    .dport = (uint16_t)(x >> 32),
                    .seq = (uint32_t)(x >> 8),
                    .ack = (uint32_t)(x >> 29),
                    .flags = (uint8_t)(x >> 40),
                    .window = (uint16_t)(x >> 44),
                    .urg_ptr = (uint16_t)(x >> 3),
                };
                struct us_tcp_opts *o = &r.opts;
                o->mss_present = mix & 1;
                o->mss = (uint16_t)(x >> 11);
                o->wscale_present = mix & 2;
                o->wscale = (uint8_t)(x >> 50) % 15;
                o->sack_permitted = mix & 4;
                o->ts_present = mix & 8;
                o->tsval = (uint32_t)(x >> 17);
                o->tsecr = (uint32_t)(x >> 23);
                o->sack_count = (uint8_t)nsack;
                for (unsigned b = 0; b < nsack; b++) {
                    o->sack[b].left = (uint32_t)(x >> b) * 7u;
                    o->sack[b].right = o->sack[b].left + 1448u * (b + 1);
                }

                size_t fixed = (o->mss_present ? 4 : 0) +
                               (o->ts_present       ? 12
                                : o->sack_permitted ? 4
                                                    : 0) +
                               (o->wscale_present ? 4 : 0);
                unsigned want_sack = nsack;
                while (want_sack > 0 && fixed + 4 + 8 * want_sack > 40)
                    want_sack--;

                size_t off = (x >> 56) & 7;
                size_t plen = (x >> 37) % 200;
                size_t hl = 20 + us_tcp_opts_len(o);
                assert_true(hl <= 60 && hl % 4 == 0);
                uint8_t *seg = mem + off;
                for (size_t j = 0; j < plen; j++)
                    seg[hl + j] = (uint8_t)(j * 13 + iter);
                us_ip4 src = (us_ip4)(x >> 5), dst = (us_ip4)(x >> 27);
                assert_int_equal(us_tcp_emit(seg, hl + plen, &r, src, dst), hl);

                struct us_tcp_view v;
                assert_int_equal(us_tcp_parse(seg, hl + plen, src, dst, 0, &v), US_WIRE_OK);
                assert_int_equal(v.sport, r.sport);
                assert_int_equal(v.dport, r.dport);
                assert_int_equal(v.seq, r.seq);
                assert_int_equal(v.ack, r.ack);
                assert_int_equal(v.hdr_len, hl);
                assert_int_equal(v.flags, r.flags);
                assert_int_equal(v.window, r.window);
                assert_int_equal(v.urg_ptr, r.urg_ptr);
                assert_ptr_equal(v.payload, seg + hl);
                assert_int_equal(v.payload_len, plen);
                assert_int_equal(v.opts.mss_present, o->mss_present);
                if (o->mss_present)
                    assert_int_equal(v.opts.mss, o->mss);
                assert_int_equal(v.opts.wscale_present, o->wscale_present);
                if (o->wscale_present)
                    assert_int_equal(v.opts.wscale, o->wscale);
                assert_int_equal(v.opts.sack_permitted, o->sack_permitted);
                assert_int_equal(v.opts.ts_present, o->ts_present);
                if (o->ts_present) {
                    assert_int_equal(v.opts.tsval, o->tsval);
                    assert_int_equal(v.opts.tsecr, o->tsecr);
                }
                assert_int_equal(v.opts.sack_count, want_sack);
                for (unsigned b = 0; b < want_sack; b++) {
                    assert_int_equal(v.opts.sack[b].left, o->sack[b].left);
                    assert_int_equal(v.opts.sack[b].right, o->sack[b].right);
                }
            }
        }
    }
}

static void test_tcp_malformed_header(void **state)
{
    uint8_t p[64];
    size_t n = hex_to_bytes(captured_syn, p);
    struct us_tcp_view v;
    /* Shorter than 20, then shorter than the data offset. */
    for (size_t len = 0; len < n; len++)
        assert_int_equal(us_tcp_parse(p, len, cap_src, cap_dst, 0, &v), US_WIRE_TRUNCATED);
    for (unsigned doff = 0; doff < 5; doff++) {
        p[12] = (uint8_t)(doff << 4);
        set_csum(p, n, cap_src, cap_dst);
        assert_int_equal(us_tcp_parse(p, n, cap_src, cap_dst, 0, &v), US_WIRE_BAD_HDRLEN);
    }
    p[12] = 0xf0; /* 60 bytes, but only 40 there */
    assert_int_equal(us_tcp_parse(p, n, cap_src, cap_dst, US_WIRE_CSUM_VALID, &v),
                     US_WIRE_TRUNCATED);

    /* Every single-bit error is caught by the checksum or the length checks. */
    n = hex_to_bytes(captured_syn, p);
    for (size_t byte = 0; byte < n; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            p[byte] ^= (uint8_t)(1u << bit);
            int err = us_tcp_parse(p, n, cap_src, cap_dst, 0, &v);
            if (byte == 12 && bit >= 4) /* data offset: any error will do */
                assert_int_not_equal(err, US_WIRE_OK);
            else
                assert_int_equal(err, US_WIRE_BAD_CSUM);
            p[byte] ^= (uint8_t)(1u << bit);
        }
    }
}

/* A 20-byte header followed by raw option bytes, padded with EOL. */
static size_t tcp_with_options(uint8_t *seg, const uint8_t *opt, size_t opt_len)
{
    size_t hl = 20 + ((opt_len + 3) & ~(size_t)3);
    memset(seg, 0, hl + 3);
    seg[12] = (uint8_t)(hl / 4 << 4);
    seg[13] = US_TCP_ACK;
    memcpy(seg + 20, opt, opt_len);
    memcpy(seg + hl, "abc", 3);
    set_csum(seg, hl + 3, cap_src, cap_dst);
    return hl + 3;
}

static void test_tcp_options_malformed_and_skipped(void **state)
{
    static const struct {
        uint8_t opt[40];
        size_t len;
        int want;
    } cases[] = {
        {{2, 4, 0x05, 0xb4}, 4, US_WIRE_OK},
        {{2, 3, 0x05}, 3, US_WIRE_BAD_OPTION},                           /* MSS too short */
        {{2, 5, 0x05, 0xb4, 0}, 5, US_WIRE_BAD_OPTION},                  /* MSS too long */
        {{3, 2, 1, 1}, 4, US_WIRE_BAD_OPTION},                           /* WS too short */
        {{3, 4, 7, 0}, 4, US_WIRE_BAD_OPTION},                           /* WS too long */
        {{4, 3, 0, 1}, 4, US_WIRE_BAD_OPTION},                           /* SACK-perm too long */
        {{5, 2, 1, 1}, 4, US_WIRE_BAD_OPTION},                           /* SACK, no blocks */
        {{5, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, 12, US_WIRE_BAD_OPTION},  /* 7-byte block */
        {{8, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, 12, US_WIRE_BAD_OPTION},  /* TS too short */
        {{8, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 12, US_WIRE_BAD_OPTION}, /* TS too long */
        {{30, 0, 0, 0}, 4, US_WIRE_BAD_OPTION},                          /* unknown, length 0 */
        {{30, 1, 0, 0}, 4, US_WIRE_BAD_OPTION},                          /* unknown, length 1 */
        {{1, 1, 30, 3}, 4, US_WIRE_BAD_OPTION},                          /* runs past the header */
        {{1, 1, 1, 2}, 4, US_WIRE_BAD_OPTION}, /* MSS with no room for length */
        {{1, 1, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0},
         12,
         US_WIRE_BAD_OPTION},           /* TS cut by the header end */
        {{30, 4, 9, 9}, 4, US_WIRE_OK}, /* unknown, skipped */
        {{0, 2, 3, 4}, 4, US_WIRE_OK},  /* junk after EOL */
        {{1, 1, 1, 1}, 4, US_WIRE_OK},
        {{254, 2, 1, 1}, 4, US_WIRE_OK}, /* experimental (RFC 6994) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t seg[100];
        size_t n = tcp_with_options(seg, cases[i].opt, cases[i].len);
        struct us_tcp_view v;
        int got = us_tcp_parse(seg, n, cap_src, cap_dst, 0, &v);
        if (got != cases[i].want)
            fail_msg("case %zu: want %d got %d", i, cases[i].want, got);
        if (got == US_WIRE_OK) {
            assert_int_equal(v.payload_len, 3);
            assert_memory_equal(v.payload, "abc", 3);
        }
    }

    /* The options of a SYN the other way round, unknown ones between. */
    static const uint8_t mixed[] = {3,    3,    14, 30, 6,  1, 2, 3, 4, 4, 2, 2, 4,
                                    0x23, 0x28, 1,  8,  10, 0, 0, 0, 9, 0, 0, 0, 7};
    uint8_t seg[100];
    size_t n = tcp_with_options(seg, mixed, sizeof mixed);
    struct us_tcp_view v;
    assert_int_equal(us_tcp_parse(seg, n, cap_src, cap_dst, 0, &v), US_WIRE_OK);
    assert_true(v.opts.wscale_present);
    assert_int_equal(v.opts.wscale, 14);
    assert_true(v.opts.sack_permitted);
    assert_true(v.opts.mss_present);
    assert_int_equal(v.opts.mss, 9000);
    assert_true(v.opts.ts_present);
    assert_int_equal(v.opts.tsval, 9);
    assert_int_equal(v.opts.tsecr, 7);

    /* Four SACK blocks fill 34 of the 40 option bytes. */
    uint8_t sack[36] = {1, 1, 5, 34};
    for (int b = 0; b < 32; b++)
        sack[4 + b] = (uint8_t)b;
    n = tcp_with_options(seg, sack, sizeof sack);
    assert_int_equal(us_tcp_parse(seg, n, cap_src, cap_dst, 0, &v), US_WIRE_OK);
    assert_int_equal(v.opts.sack_count, 4);
    assert_int_equal(v.opts.sack[0].left, 0x00010203);
    assert_int_equal(v.opts.sack[3].right, 0x1c1d1e1f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_parse_captured_syn),
        cmocka_unit_test(test_tcp_opts_len),
        cmocka_unit_test(test_tcp_round_trip_all_options),
        cmocka_unit_test(test_tcp_malformed_header),
        cmocka_unit_test(test_tcp_options_malformed_and_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
