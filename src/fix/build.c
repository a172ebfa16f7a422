/* Building a FIX message into the caller's buffer. BodyLength(9) is known
 * only at the end, so room for its longest value is kept after "9=" and the
 * short prefix "8=...<SOH>9=" is moved up to meet the digits when it is
 * written: the message then starts a few bytes into the buffer, and no byte
 * of the body is moved. */
#include <string.h>

#include "ustack/fix.h"

static void fail(struct us_fix_builder *b, int err)
{
    if (b->err == US_FIX_OK)
        b->err = err;
}

static char *room(struct us_fix_builder *b, size_t n)
{
    if (b->err != US_FIX_OK)
        return NULL;
    if (b->cap - b->len < n) {
        fail(b, US_FIX_EOVERFLOW);
        return NULL;
    }
    char *p = b->buf + b->len;
    b->len += n;
    return p;
}

/* Writes v in decimal at the end of tmp, returns the digit count. */
static int u64_digits(uint64_t v, char tmp[20])
{
    int n = 0;
    do {
        tmp[19 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return n;
}

/* "tag=", the digits written in place (a memcpy call cost more than them). */
static void put_tag(struct us_fix_builder *b, uint32_t tag)
{
    size_t n = 1;
    for (uint32_t t = tag; t >= 10; t /= 10)
        n++;
    char *p = room(b, n + 1);
    if (p == NULL)
        return;
    p[n] = '=';
    do {
        p[--n] = (char)('0' + tag % 10);
        tag /= 10;
    } while (n > 0);
}

static void put_raw(struct us_fix_builder *b, const char *v, size_t len)
{
    char *p = room(b, len);
    if (p != NULL)
        memcpy(p, v, len);
}

void us_fix_add_strn(struct us_fix_builder *b, uint32_t tag, const char *v, size_t len)
{
    if (tag == 0 || len == 0) {
        fail(b, US_FIX_EINVAL);
        return;
    }
    put_tag(b, tag);
    char *p = room(b, len + 1);
    if (p == NULL)
        return;
    /* Copied and checked in one pass: values are short. */
    for (size_t i = 0; i < len; i++) {
        if (v[i] == US_FIX_SOH) {
            fail(b, US_FIX_EINVAL); /* it would end the field early */
            return;
        }
        p[i] = v[i];
    }
    p[len] = US_FIX_SOH;
}

void us_fix_add_str(struct us_fix_builder *b, uint32_t tag, const char *v)
{
    us_fix_add_strn(b, tag, v, strlen(v));
}

void us_fix_add_uint(struct us_fix_builder *b, uint32_t tag, uint64_t v)
{
    char tmp[20];
    int n = u64_digits(v, tmp);
    us_fix_add_strn(b, tag, tmp + 20 - n, (size_t)n);
}

void us_fix_add_int(struct us_fix_builder *b, uint32_t tag, int64_t v)
{
    char tmp[21];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int n = u64_digits(u, tmp + 1);
    char *p = tmp + 21 - n;
    if (v < 0) {
        *--p = '-';
        n++;
    }
    us_fix_add_strn(b, tag, p, (size_t)n);
}

void us_fix_add_char(struct us_fix_builder *b, uint32_t tag, char v)
{
    us_fix_add_strn(b, tag, &v, 1);
}

void us_fix_add_bool(struct us_fix_builder *b, uint32_t tag, bool v)
{
    us_fix_add_char(b, tag, v ? 'Y' : 'N');
}

void us_fix_add_utc_ts(struct us_fix_builder *b, uint32_t tag, int64_t ns, int digits)
{
    char tmp[32];
    int n = us_fix_format_utc_ts(ns, digits, tmp);
    if (n < 0) {
        fail(b, US_FIX_EINVAL);
        return;
    }
    us_fix_add_strn(b, tag, tmp, (size_t)n);
}

void us_fix_build_begin(struct us_fix_builder *b, void *buf, size_t cap, const char *begin_string,
                        const char *msg_type)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->err = US_FIX_OK;
    us_fix_add_str(b, 8, begin_string);
    put_raw(b, "9=", 2);
    b->prefix_len = b->len;
    room(b, US_FIX_BODYLENGTH_DIGITS + 1); /* BodyLength's digits and SOH, written at the end */
    b->body_start = b->len;
    us_fix_add_str(b, 35, msg_type);
}

void us_fix_build_header(struct us_fix_builder *b, const char *sender_comp_id,
                         const char *target_comp_id, uint64_t msg_seq_num, int64_t sending_time_ns,
                         int ts_digits)
{
    us_fix_add_str(b, 49, sender_comp_id);                /* SenderCompID */
    us_fix_add_str(b, 56, target_comp_id);                /* TargetCompID */
    us_fix_add_uint(b, 34, msg_seq_num);                  /* MsgSeqNum */
    us_fix_add_utc_ts(b, 52, sending_time_ns, ts_digits); /* SendingTime */
}

int us_fix_build_end(struct us_fix_builder *b, const char **msg, size_t *len)
{
    if (b->err != US_FIX_OK)
        return b->err;
    size_t body_len = b->len - b->body_start;
    char tmp[20];
    int n = u64_digits(body_len, tmp);
    if (n > US_FIX_BODYLENGTH_DIGITS)
        return b->err = US_FIX_EINVAL;
    /* BodyLength's digits and SOH end where the body starts; the prefix
     * moves up to meet them. */
    size_t shift = (size_t)(US_FIX_BODYLENGTH_DIGITS - n);
    memcpy(b->buf + b->body_start - 1 - n, tmp + 20 - n, (size_t)n);
    b->buf[b->body_start - 1] = US_FIX_SOH;
    memmove(b->buf + shift, b->buf, b->prefix_len);
    const char *start = b->buf + shift;
    unsigned sum = us_fix_checksum((const uint8_t *)start, b->len - shift);
    char *p = room(b, 7);
    if (p == NULL)
        return b->err;
    memcpy(p, "10=", 3);
    p[3] = (char)('0' + sum / 100);
    p[4] = (char)('0' + sum / 10 % 10);
    p[5] = (char)('0' + sum % 10);
    p[6] = US_FIX_SOH;
    *msg = start;
    *len = b->len - shift;
    return US_FIX_OK;
}
