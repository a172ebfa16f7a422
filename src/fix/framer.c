/* Framing a FIX byte stream: where one message ends, and what to drop when
 * the bytes cannot be one. FIX 4.4 Volume 2, "Message Framing": a message
 * starts 8=BeginString, 9=BodyLength, 35=MsgType in that order; BodyLength
 * counts the bytes from after its SOH up to and including the SOH before
 * "10="; CheckSum(10) is three digits, the byte sum modulo 256 of everything
 * before it. A message breaking these is garbled and ignored. */
#include <string.h>

#include "ustack/fix.h"

#define BEGIN       "8=FIX"
#define BEGIN_LEN   5
#define BEGIN_MAX   16 /* longest BeginString value we accept ("FIXT.1.1" is 8) */
#define BODYLEN_MAX 10 /* digits of BodyLength, leading zeros included */
#define TRAILER_LEN 7  /* "10=ddd" SOH */

/* Eight bytes at a time: the bytes of each word summed in four 16-bit
 * lanes, which cannot overflow within a block of 128 words (128 * 2 * 255). */
unsigned us_fix_checksum(const uint8_t *buf, size_t len)
{
    const uint64_t mask = 0x00ff00ff00ff00ffULL;
    uint64_t total = 0;
    size_t i = 0;
    while (len - i >= 8) {
        uint64_t lanes = 0;
        for (size_t n = 0; n < 128 && len - i >= 8; n++, i += 8) {
            uint64_t w;
            memcpy(&w, buf + i, 8);
            lanes += (w & mask) + ((w >> 8) & mask);
        }
        for (int s = 0; s < 64; s += 16)
            total += (lanes >> s) & 0xffff;
    }
    for (; i < len; i++)
        total += buf[i];
    return (unsigned)(total & 0xff);
}

/* Bytes before the next "8=FIX" after buf[0], or before a tail that could
 * still grow into one: never 0, and never past a possible message start. */
static size_t resync(const uint8_t *buf, size_t len)
{
    for (size_t i = 1; i < len; i++) {
        const uint8_t *p = memchr(buf + i, '8', len - i);
        if (p == NULL)
            return len;
        i = (size_t)(p - buf);
        size_t n = len - i < BEGIN_LEN ? len - i : BEGIN_LEN;
        if (memcmp(p, BEGIN, n) == 0)
            return i;
    }
    return len;
}

static enum us_fix_frame_kind garbled(const uint8_t *buf, size_t len, enum us_fix_garble why,
                                      struct us_fix_frame *f)
{
    f->kind = US_FIX_FRAME_GARBLED;
    f->len = resync(buf, len);
    f->why = why;
    return f->kind;
}

static enum us_fix_frame_kind need_more(struct us_fix_frame *f)
{
    f->kind = US_FIX_FRAME_NEED_MORE;
    f->len = 0;
    f->why = US_FIX_GARBLE_NONE;
    return f->kind;
}

/* 1 when buf[at..] starts with s, 0 when it cannot, -1 when too short to say. */
static int starts(const uint8_t *buf, size_t len, size_t at, const char *s, size_t slen)
{
    size_t have = len - at < slen ? len - at : slen;
    if (memcmp(buf + at, s, have) != 0)
        return 0;
    return have == slen ? 1 : -1;
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

enum us_fix_frame_kind us_fix_frame(const uint8_t *buf, size_t len, size_t max_body,
                                    struct us_fix_frame *f)
{
    if (max_body == 0)
        max_body = US_FIX_DEFAULT_MAX_BODY;
    if (len == 0)
        return need_more(f);
    int s = starts(buf, len, 0, BEGIN, BEGIN_LEN);
    if (s == 0)
        return garbled(buf, len, US_FIX_GARBLE_NO_BEGIN, f);
    if (s < 0)
        return need_more(f);

    /* BeginString(8): a short value ended by SOH. */
    size_t look = len - 2 < BEGIN_MAX + 1 ? len - 2 : BEGIN_MAX + 1;
    const uint8_t *soh = memchr(buf + 2, US_FIX_SOH, look);
    if (soh == NULL)
        return look > BEGIN_MAX ? garbled(buf, len, US_FIX_GARBLE_BAD_BEGINSTRING, f)
                                : need_more(f);
    size_t i = (size_t)(soh - buf) + 1;

    /* BodyLength(9), the second tag: digits ended by SOH, at most max_body. */
    if (i == len)
        return need_more(f);
    s = starts(buf, len, i, "9=", 2);
    if (s == 0)
        return garbled(buf, len, US_FIX_GARBLE_NO_BODYLENGTH, f);
    if (s < 0)
        return need_more(f);
    i += 2;
    size_t digits = 0, body_len = 0;
    for (; i < len && is_digit(buf[i]); i++, digits++) {
        if (digits == BODYLEN_MAX)
            return garbled(buf, len, US_FIX_GARBLE_BAD_BODYLENGTH, f);
        body_len = body_len * 10 + (buf[i] - '0');
        if (body_len > max_body)
            return garbled(buf, len, US_FIX_GARBLE_TOO_LONG, f);
    }
    if (i == len)
        return need_more(f);
    /* The smallest body is "35=0" SOH. */
    if (buf[i] != US_FIX_SOH || digits == 0 || body_len < 5)
        return garbled(buf, len, US_FIX_GARBLE_BAD_BODYLENGTH, f);
    size_t body_start = i + 1;

    /* MsgType(35), the third tag. */
    if (body_start == len)
        return need_more(f);
    s = starts(buf, len, body_start, "35=", 3);
    if (s == 0)
        return garbled(buf, len, US_FIX_GARBLE_NO_MSGTYPE, f);
    if (s < 0)
        return need_more(f);

    /* The trailer exactly where BodyLength says. */
    size_t body_end = body_start + body_len, total = body_end + TRAILER_LEN;
    if (len < total)
        return need_more(f);
    if (buf[body_end - 1] != US_FIX_SOH || memcmp(buf + body_end, "10=", 3) != 0)
        return garbled(buf, len, US_FIX_GARBLE_BAD_BODYLENGTH, f);
    const uint8_t *cs = buf + body_end + 3;
    if (!is_digit(cs[0]) || !is_digit(cs[1]) || !is_digit(cs[2]) || cs[3] != US_FIX_SOH)
        return garbled(buf, len, US_FIX_GARBLE_CHECKSUM_FORMAT, f);
    unsigned want = (unsigned)(cs[0] - '0') * 100 + (unsigned)(cs[1] - '0') * 10 + (cs[2] - '0');
    if (us_fix_checksum(buf, body_end) != want)
        return garbled(buf, len, US_FIX_GARBLE_CHECKSUM, f);

    f->kind = US_FIX_FRAME_MESSAGE;
    f->len = total;
    f->why = US_FIX_GARBLE_NONE;
    return f->kind;
}

const char *us_fix_garble_str(enum us_fix_garble why)
{
    switch (why) {
    case US_FIX_GARBLE_NONE:
        return "not garbled";
    case US_FIX_GARBLE_NO_BEGIN:
        return "bytes before 8=FIX";
    case US_FIX_GARBLE_BAD_BEGINSTRING:
        return "BeginString(8) unterminated or too long";
    case US_FIX_GARBLE_NO_BODYLENGTH:
        return "second tag not BodyLength(9)";
    case US_FIX_GARBLE_BAD_BODYLENGTH:
        return "BodyLength(9) wrong";
    case US_FIX_GARBLE_TOO_LONG:
        return "BodyLength(9) above the maximum";
    case US_FIX_GARBLE_NO_MSGTYPE:
        return "third tag not MsgType(35)";
    case US_FIX_GARBLE_CHECKSUM_FORMAT:
        return "CheckSum(10) not 3 digits";
    case US_FIX_GARBLE_CHECKSUM:
        return "CheckSum(10) wrong";
    }
    return "?";
}
