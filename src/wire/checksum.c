/* The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Byte-order convention (see checksum.h): every value that goes in or comes
 * out of these functions is the one's-complement sum of the data read as
 * big-endian 16-bit words, held in host order. So us_csum_partial over the
 * bytes 00 01 f2 03 f4 f5 f6 f7 folds to 0xddf2 on any host, and a checksum
 * field is stored as two bytes, high byte first (htons-equivalent).
 *
 * Speed: the bulk of a buffer is summed as native 64-bit words with
 * end-around carry. RFC 1071 §2(B): the one's-complement sum is independent
 * of byte order, except that a little-endian host gets the folded 16-bit
 * result byte-swapped; we swap it once at the end, not per word. */
#include <string.h>

#include "ustack/checksum.h"

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w); /* any alignment; compiles to one load */
    return w;
}

/* Folds a 64-bit one's-complement accumulator to 16 bits. */
static inline uint16_t fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)s;
}

static inline bool host_is_little_endian(void)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
    return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
#endif
}

/* Sum of buf as native-order 16-bit words, folded; an odd trailing byte is
 * padded with a zero byte after it, as RFC 1071 §4.1 does. */
static uint16_t sum_native(const uint8_t *p, size_t len)
{
    uint64_t s = 0, carry = 0;

    /* 32 bytes per round; carries are counted apart so the four adds do not
     * wait on each other's end-around carry. */
    while (len >= 32) {
        uint64_t w0 = load64(p), w1 = load64(p + 8), w2 = load64(p + 16), w3 = load64(p + 24);
        s += w0;
        carry += s < w0;
        s += w1;
        carry += s < w1;
        s += w2;
        carry += s < w2;
        s += w3;
        carry += s < w3;
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t w = load64(p);
        s += w;
        carry += s < w;
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        /* Tail of 1..7 bytes, zero-padded: keeps every byte at its offset
         * within its 16-bit word, so the sum is unchanged. */
        uint64_t w = 0;
        memcpy(&w, p, len);
        s += w;
        carry += s < w;
    }
    s += carry;
    s += s < carry; /* carry <= len/8, so this cannot wrap twice */
    return fold64(s);
}

uint32_t us_csum_partial(const void *buf, size_t len, uint32_t sum)
{
    uint16_t native = sum_native(buf, len);
    uint16_t be = host_is_little_endian() ? (uint16_t)((native >> 8) | (native << 8)) : native;
    /* Add with end-around carry so a large running sum never wraps. */
    uint64_t s = (uint64_t)sum + be;
    s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

uint16_t us_csum_fold(uint32_t sum)
{
    return fold64(sum);
}

uint16_t us_inet_csum(const void *buf, size_t len)
{
    return (uint16_t)~us_csum_fold(us_csum_partial(buf, len, 0));
}

uint32_t us_csum_pseudo(us_ip4 src, us_ip4 dst, uint8_t proto, uint16_t l4_len)
{
    /* RFC 768 / RFC 9293 §3.1: src, dst, zero, protocol, length. At most
     * six 16-bit terms, so no overflow in 32 bits. */
    return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto + l4_len;
}

uint16_t us_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
    /* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). It matches a full recompute
     * where RFC 1141's HC + m + ~m' gives -0 (0xffff) for 0x0000 (§3). */
    uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~old_word + new_word;
    return (uint16_t)~us_csum_fold(s);
}

uint16_t us_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
    uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t) ~(old_val >> 16) +
                 (uint16_t) ~(old_val & 0xffffu) + (new_val >> 16) + (new_val & 0xffffu);
    return (uint16_t)~us_csum_fold(s);
}
