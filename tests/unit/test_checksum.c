/* The Internet checksum: known answers, the fast sum against a plain
 * reference over random buffers, and RFC 1624 incremental updates against
 * full recomputes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/checksum.h"

/* splitmix64: a seeded PRNG local to the test so failures replay. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* RFC 1071 §4.1 done the slow, obvious way: big-endian 16-bit words, odd
 * byte padded with zero. */
static uint16_t ref_fold_sum(const uint8_t *p, size_t len, uint32_t init)
{
    uint64_t s = init;
    size_t i;
    for (i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (i < len)
        s += (uint32_t)p[i] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static size_t hex_to_bytes(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        char tmp[3] = {hex[0], hex[1], 0};
        v = (unsigned)strtoul(tmp, NULL, 16);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void test_rfc1071_example(void **state)
{
    /* RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2. */
    static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(us_csum_fold(us_csum_partial(b, sizeof b, 0)), 0xddf2);
    assert_int_equal(us_inet_csum(b, sizeof b), 0x220d);
    /* Same answer from every misalignment. */
    uint8_t buf[sizeof b + 8];
    for (size_t off = 0; off < 8; off++) {
        memcpy(buf + off, b, sizeof b);
        assert_int_equal(us_inet_csum(buf + off, sizeof b), 0x220d);
    }
}

static void test_known_ipv4_header(void **state)
{
    /* A widely published real header: 192.168.0.1 -> 192.168.0.199, UDP,
     * checksum b861. */
    uint8_t h[20];
    hex_to_bytes("45000073000040004011b861c0a80001c0a800c7", h);
    assert_int_equal(us_inet_csum(h, 20), 0);
    h[10] = h[11] = 0;
    assert_int_equal(us_inet_csum(h, 20), 0xb861);
}

/* Packets Linux 6.x sent out a TUN device (no checksum offload), so every
 * checksum in them was computed by the kernel (or by ping for ICMP). */
static const char *const captured_udp =
    "45000028e4fb4000401141c70a0000010a00000299ea270f0014999768656c6c6f2075737461636b";
static const char *const captured_tcp_syn =
    "4500003c1824400040060e960a0000010a000002cbaa0050594d8ed600000000a002faf0b2410000"
    "020405b40402080ac2971012000000000103030a";
static const char *const captured_icmp_echo =
    "45000027503340004001d6a00a0000010a0000020800c5a9143c0001000102030405060708090a";

static void check_captured_l4(const char *hex, uint8_t proto, uint16_t want_csum, size_t csum_at)
{
    uint8_t p[128];
    size_t n = hex_to_bytes(hex, p);
    assert_int_equal(us_inet_csum(p, 20), 0);
    us_ip4 src = (us_ip4)p[12] << 24 | (us_ip4)p[13] << 16 | (us_ip4)p[14] << 8 | p[15];
    us_ip4 dst = (us_ip4)p[16] << 24 | (us_ip4)p[17] << 16 | (us_ip4)p[18] << 8 | p[19];
    uint8_t *l4 = p + 20;
    size_t l4_len = n - 20;
    uint32_t pseudo = proto == 1 ? 0 : us_csum_pseudo(src, dst, proto, (uint16_t)l4_len);
    assert_int_equal(us_csum_fold(us_csum_partial(l4, l4_len, pseudo)), 0xffff);
    l4[csum_at] = l4[csum_at + 1] = 0;
    assert_int_equal((uint16_t)~us_csum_fold(us_csum_partial(l4, l4_len, pseudo)), want_csum);
}

static void test_captured_packets(void **state)
{
    check_captured_l4(captured_udp, 17, 0x9997, 6);
    check_captured_l4(captured_tcp_syn, 6, 0xb241, 16);
    /* 19-byte ICMP message: exercises the odd trailing byte. */
    check_captured_l4(captured_icmp_echo, 1, 0xc5a9, 2);
}

static void test_fold_and_pseudo(void **state)
{
    assert_int_equal(us_csum_fold(0), 0);
    assert_int_equal(us_csum_fold(0xffff), 0xffff);
    assert_int_equal(us_csum_fold(0x10000), 1);
    assert_int_equal(us_csum_fold(0x1fffe), 0xffff);
    assert_int_equal(us_csum_fold(0xffffffffu), 0xffff);
    assert_int_equal(us_csum_fold(0x12345678u), (0x1234 + 0x5678) & 0xffff);
    assert_int_equal(us_inet_csum(NULL, 0), 0xffff);

    /* The pseudo header as 12 real bytes summed the slow way. */
    us_ip4 src = 0xc0a80001, dst = 0xfffefdfc;
    uint8_t ph[12] = {0xc0, 0xa8, 0x00, 0x01, 0xff, 0xfe, 0xfd, 0xfc, 0, 6, 0xff, 0xf1};
    assert_int_equal(us_csum_fold(us_csum_pseudo(src, dst, 6, 0xfff1)),
                     ref_fold_sum(ph, sizeof ph, 0));
}

/* The fast sum equals the reference for every length 0..300, every
 * alignment, random contents and random running sums. */
static void test_partial_matches_reference(void **state)
{
    static uint8_t buf[320];
    rng_state = 1071;
    for (int iter = 0; iter < 20; iter++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)rng_next();
        for (size_t off = 0; off < 8; off++) {
            for (size_t len = 0; len <= 300; len++) {
                uint32_t init = (uint32_t)rng_next();
                uint16_t want = ref_fold_sum(buf + off, len, init);
                uint16_t got = us_csum_fold(us_csum_partial(buf + off, len, init));
                /* Exact: neither side folds a nonzero sum to 0. */
                if (want != got)
                    fail_msg("len %zu off %zu init %08x: want %04x got %04x", len, off, init, want,
                             got);
            }
        }
    }
}

/* All-ones data maximises carries out of every 64-bit add. */
static void test_partial_carry_stress(void **state)
{
    static uint8_t buf[65536 + 7];
    memset(buf, 0xff, sizeof buf);
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 65536 - 9; len <= 65536; len++)
            assert_int_equal(us_csum_fold(us_csum_partial(buf + off, len, 0xffffffffu)),
                             ref_fold_sum(buf + off, len, 0xffffffffu));
    }
    memset(buf, 0x80, sizeof buf);
    assert_int_equal(us_csum_fold(us_csum_partial(buf + 3, 65535, 0)),
                     ref_fold_sum(buf + 3, 65535, 0));
}

/* Chaining partial sums over even-length pieces equals one sum. */
static void test_partial_chaining(void **state)
{
    static uint8_t buf[2000];
    rng_state = 42;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rng_next();
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = 1 + rng_next() % (sizeof buf - 1);
        size_t cut = (rng_next() % (len + 1)) & ~(size_t)1;
        uint32_t s = us_csum_partial(buf, cut, 0);
        s = us_csum_partial(buf + cut, len - cut, s);
        assert_int_equal(us_csum_fold(s), ref_fold_sum(buf, len, 0));
    }
}

static void test_rfc1624_example(void **state)
{
    /* RFC 1624 §3: sum of the rest cd7a, m 5555 -> 3285. The header
     * checksum dd2f becomes 0000 (RFC 1141's formula gives ffff). */
    assert_int_equal(us_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    uint8_t h[4] = {0xcd, 0x7a, 0x55, 0x55};
    assert_int_equal(us_inet_csum(h, 4), 0xdd2f);
    h[2] = 0x32;
    h[3] = 0x85;
    assert_int_equal(us_inet_csum(h, 4), 0x0000);
}

static void test_update_ttl_decrement(void **state)
{
    /* The router's classic use: TTL 64 -> 63 in the captured UDP header. */
    uint8_t p[64];
    hex_to_bytes(captured_udp, p);
    uint16_t old_word = (uint16_t)(p[8] << 8 | p[9]);
    uint16_t csum = (uint16_t)(p[10] << 8 | p[11]);
    p[8]--;
    uint16_t new_word = (uint16_t)(p[8] << 8 | p[9]);
    csum = us_csum_update16(csum, old_word, new_word);
    p[10] = (uint8_t)(csum >> 8);
    p[11] = (uint8_t)csum;
    assert_int_equal(us_inet_csum(p, 20), 0);
}

/* A buffer whose 16-bit field at csum_at holds its checksum: random 16- and
 * 32-bit mutations updated incrementally must equal a full recompute. */
static void test_update_random_mutations(void **state)
{
    static uint8_t mem[1600 + 8];
    rng_state = 1624;
    for (int round = 0; round < 300; round++) {
        size_t off = rng_next() % 8;
        /* Odd lengths too. At least a header's worth, so the data never
         * becomes all zero, the one case where +0 and -0 differ. */
        size_t len = 20 + rng_next() % 1480;
        uint8_t *buf = mem + off;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next();
        size_t csum_at = (rng_next() % (len / 2)) * 2; /* word-aligned field */
        if (csum_at + 2 > len)
            csum_at -= 2;
        buf[csum_at] = buf[csum_at + 1] = 0;
        uint16_t csum = us_inet_csum(buf, len);
        for (int m = 0; m < 200; m++) {
            bool wide = rng_next() & 1;
            size_t nwords = wide ? 2 : 1;
            /* A word-aligned spot (relative to the sum) away from the field. */
            size_t at = (rng_next() % ((len & ~(size_t)1) / 2 - nwords + 1)) * 2;
            if (at < csum_at + 2 && csum_at < at + 2 * nwords)
                continue;
            if (wide) {
                uint32_t old_v = (uint32_t)buf[at] << 24 | (uint32_t)buf[at + 1] << 16 |
                                 (uint32_t)buf[at + 2] << 8 | buf[at + 3];
                uint32_t new_v = (uint32_t)rng_next();
                if (m % 17 == 0)
                    new_v = 0; /* zeroing is the edge RFC 1624 is about */
                buf[at] = (uint8_t)(new_v >> 24);
                buf[at + 1] = (uint8_t)(new_v >> 16);
                buf[at + 2] = (uint8_t)(new_v >> 8);
                buf[at + 3] = (uint8_t)new_v;
                csum = us_csum_update32(csum, old_v, new_v);
            } else {
                uint16_t old_w = (uint16_t)(buf[at] << 8 | buf[at + 1]);
                uint16_t new_w = m % 13 == 0 ? 0 : (uint16_t)rng_next();
                buf[at] = (uint8_t)(new_w >> 8);
                buf[at + 1] = (uint8_t)new_w;
                csum = us_csum_update16(csum, old_w, new_w);
            }
            buf[csum_at] = buf[csum_at + 1] = 0;
            uint16_t full = us_inet_csum(buf, len);
            if (full != csum)
                fail_msg("round %d mutation %d len %zu: incremental %04x full %04x", round, m, len,
                         csum, full);
            buf[csum_at] = (uint8_t)(csum >> 8);
            buf[csum_at + 1] = (uint8_t)csum;
            assert_int_equal(us_inet_csum(buf, len), 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1071_example),
        cmocka_unit_test(test_known_ipv4_header),
        cmocka_unit_test(test_captured_packets),
        cmocka_unit_test(test_fold_and_pseudo),
        cmocka_unit_test(test_partial_matches_reference),
        cmocka_unit_test(test_partial_carry_stress),
        cmocka_unit_test(test_partial_chaining),
        cmocka_unit_test(test_rfc1624_example),
        cmocka_unit_test(test_update_ttl_decrement),
        cmocka_unit_test(test_update_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
