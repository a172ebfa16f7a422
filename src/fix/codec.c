/* Parsing a framed FIX message into fields that point into its buffer, the
 * standard header decoded, typed getters and the FIX value types (int,
 * Boolean, UTCTimestamp). FIX 4.4 Volume 1, "Data Types". */
#include <stddef.h>
#include <string.h>

#include "ustack/fix.h"

#define TAG_MAX 99999999u /* eight digits: beyond any defined or user tag */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int us_fix_parse_uint(const char *p, size_t len, uint64_t *out)
{
    if (len == 0)
        return US_FIX_ENOVALUE;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(p[i]))
            return US_FIX_EFORMAT;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return US_FIX_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return US_FIX_OK;
}

int us_fix_parse_int(const char *p, size_t len, int64_t *out)
{
    if (len == 0)
        return US_FIX_ENOVALUE;
    bool neg = p[0] == '-';
    if (neg && len == 1)
        return US_FIX_EFORMAT;
    uint64_t v;
    int err = us_fix_parse_uint(p + neg, len - neg, &v);
    if (err != US_FIX_OK)
        return err;
    if (v > (uint64_t)INT64_MAX + neg)
        return US_FIX_ERANGE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return US_FIX_OK;
}

int us_fix_parse_bool(const char *p, size_t len, bool *out)
{
    if (len == 0)
        return US_FIX_ENOVALUE;
    if (len != 1)
        return US_FIX_EFORMAT;
    if (p[0] != 'Y' && p[0] != 'N')
        return US_FIX_ERANGE;
    *out = p[0] == 'Y';
    return US_FIX_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

static unsigned days_in_month(int y, unsigned m)
{
    static const unsigned char dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

/* n digits at p as a number, or -1. */
static int digits(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int us_fix_parse_utc_ts(const char *p, size_t len, int64_t *ns)
{
    if (len == 0)
        return US_FIX_ENOVALUE;
    /* YYYYMMDD-HH:MM:SS[.s{3,6,9}] */
    if (len != 17 && len != 21 && len != 24 && len != 27)
        return US_FIX_EFORMAT;
    if (p[8] != '-' || p[11] != ':' || p[14] != ':' || (len > 17 && p[17] != '.'))
        return US_FIX_EFORMAT;
    int y = digits(p, 4), mo = digits(p + 4, 2), d = digits(p + 6, 2);
    int h = digits(p + 9, 2), mi = digits(p + 12, 2), s = digits(p + 15, 2);
    int64_t frac = 0;
    if (len > 17) {
        size_t n = len - 18;
        for (size_t i = 0; i < n; i++) {
            if (!is_digit(p[18 + i]))
                return US_FIX_EFORMAT;
            frac = frac * 10 + (p[18 + i] - '0');
        }
        for (size_t i = n; i < 9; i++)
            frac *= 10;
    }
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0)
        return US_FIX_EFORMAT;
    /* ns in int64 reach 2262; a leap second (60) is allowed. */
    if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 ||
        (unsigned)d > days_in_month(y, (unsigned)mo) || h > 23 || mi > 59 || s > 60)
        return US_FIX_ERANGE;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + s;
    *ns = secs * 1000000000 + frac;
    return US_FIX_OK;
}

static void put_digits(char *dst, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        dst[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int us_fix_format_utc_ts(int64_t ns, int ndigits, char *dst)
{
    if (ns < 0 || (ndigits != 0 && ndigits != 3 && ndigits != 6 && ndigits != 9))
        return -1;
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    /* Messages sent in the same second share their first 17 characters. */
    static _Thread_local int64_t cached_secs = -1;
    static _Thread_local char cached[17];
    if (secs != cached_secs) {
        int64_t days = secs / 86400, rem = secs % 86400;
        int y;
        unsigned m, d;
        civil_from_days(days, &y, &m, &d);
        if (y > 9999)
            return -1;
        char *c = cached;
        put_digits(c, (unsigned)y, 4);
        put_digits(c + 4, m, 2);
        put_digits(c + 6, d, 2);
        c[8] = '-';
        put_digits(c + 9, (unsigned)(rem / 3600), 2);
        c[11] = ':';
        put_digits(c + 12, (unsigned)(rem / 60 % 60), 2);
        c[14] = ':';
        put_digits(c + 15, (unsigned)(rem % 60), 2);
        cached_secs = secs;
    }
    memcpy(dst, cached, 17);
    int n = 17;
    if (ndigits > 0) {
        static const unsigned div[] = {0, 0, 0, 1000000, 0, 0, 1000, 0, 0, 1};
        dst[n++] = '.';
        put_digits(dst + n, (unsigned)(frac / div[ndigits]), ndigits);
        n += ndigits;
    }
    dst[n] = 0;
    return n;
}

/* ---------------- the message ---------------- */

/* The header tag's flag, or 0. */
static uint32_t header_bit(uint32_t tag)
{
    switch (tag) {
    case 8:
        return US_FIX_H_BEGINSTRING;
    case 9:
        return US_FIX_H_BODYLENGTH;
    case 35:
        return US_FIX_H_MSGTYPE;
    case 49:
        return US_FIX_H_SENDERCOMPID;
    case 56:
        return US_FIX_H_TARGETCOMPID;
    case 34:
        return US_FIX_H_MSGSEQNUM;
    case 52:
        return US_FIX_H_SENDINGTIME;
    case 43:
        return US_FIX_H_POSSDUPFLAG;
    case 97:
        return US_FIX_H_POSSRESEND;
    case 122:
        return US_FIX_H_ORIGSENDINGTIME;
    case 115:
        return US_FIX_H_ONBEHALFOFCOMPID;
    case 128:
        return US_FIX_H_DELIVERTOCOMPID;
    case 50:
        return US_FIX_H_SENDERSUBID;
    case 57:
        return US_FIX_H_TARGETSUBID;
    case 10:
        return US_FIX_H_CHECKSUM;
    }
    return 0;
}

/* Records a typed decode's outcome for the header tag's flag. */
static void typed(struct us_fix_msg *m, uint32_t bit, int err)
{
    if (err == US_FIX_EFORMAT)
        m->bad |= bit;
    else if (err == US_FIX_ERANGE)
        m->range |= bit;
}

static void decode_header(struct us_fix_msg *m, uint32_t tag, uint32_t bit, const char *v,
                          size_t len, uint32_t *seen)
{
    if (*seen & bit) {
        if (m->dup_tag == 0)
            m->dup_tag = tag;
        return; /* the first occurrence is the one decoded */
    }
    *seen |= bit;
    if (len == 0)
        return;
    m->has |= bit;
    struct us_fix_str s = {v, len};
    uint64_t u;
    int err;
    switch (tag) {
    case 8:
        m->begin_string = s;
        break;
    case 9:
        err = us_fix_parse_uint(v, len, &u);
        if (err == US_FIX_OK && u > UINT32_MAX)
            err = US_FIX_ERANGE;
        if (err == US_FIX_OK)
            m->body_length = (uint32_t)u;
        typed(m, bit, err);
        break;
    case 35:
        if (len < US_FIX_MSGTYPE_MAX) {
            memcpy(m->msg_type, v, len);
            m->msg_type[len] = 0;
        } else {
            memcpy(m->msg_type, v, US_FIX_MSGTYPE_MAX - 1);
            m->msg_type[US_FIX_MSGTYPE_MAX - 1] = 0;
            m->range |= bit;
        }
        break;
    case 49:
        m->sender_comp_id = s;
        break;
    case 56:
        m->target_comp_id = s;
        break;
    case 115:
        m->on_behalf_of_comp_id = s;
        break;
    case 128:
        m->deliver_to_comp_id = s;
        break;
    case 50:
        m->sender_sub_id = s;
        break;
    case 57:
        m->target_sub_id = s;
        break;
    case 34:
        err = us_fix_parse_uint(v, len, &u);
        if (err == US_FIX_OK && u == 0)
            err = US_FIX_ERANGE; /* sequence numbers start at 1 */
        if (err == US_FIX_OK)
            m->msg_seq_num = u;
        typed(m, bit, err);
        break;
    case 52:
        typed(m, bit, us_fix_parse_utc_ts(v, len, &m->sending_time_ns));
        break;
    case 122:
        typed(m, bit, us_fix_parse_utc_ts(v, len, &m->orig_sending_time_ns));
        break;
    case 43:
        typed(m, bit, us_fix_parse_bool(v, len, &m->poss_dup));
        break;
    case 97:
        typed(m, bit, us_fix_parse_bool(v, len, &m->poss_resend));
        break;
    }
}

/* The first SOH in buf[i..len), or len. Values are short, so no call to
 * memchr: eight bytes at a time, the lowest byte equal to SOH found with
 * the "has zero byte" trick on w ^ 0x01..01 (its lowest flag is exact). */
static size_t find_soh(const char *buf, size_t i, size_t len)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        w ^= ones * US_FIX_SOH;
        uint64_t t = (w - ones) & ~w & highs;
        if (t != 0)
            return i + (size_t)__builtin_ctzll(t) / 8; /* little-endian byte order */
    }
    while (i < len && buf[i] != US_FIX_SOH)
        i++;
    return i;
}

int us_fix_parse(struct us_fix_msg *m, const void *vbuf, size_t len)
{
    const char *buf = vbuf;
    memset(m, 0, offsetof(struct us_fix_msg, fields));
    m->buf = buf;
    m->len = len;
    if (len > UINT32_MAX)
        return US_FIX_ERANGE;
    uint32_t seen = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        uint32_t tag = 0;
        for (; i < len && is_digit(buf[i]); i++) {
            tag = tag * 10 + (uint32_t)(buf[i] - '0');
            if (tag > TAG_MAX)
                return US_FIX_ESYNTAX;
        }
        if (i == start || i == len || buf[i] != '=' || tag == 0)
            return US_FIX_ESYNTAX;
        i++;
        size_t e = find_soh(buf, i, len);
        if (e == len)
            return US_FIX_ESYNTAX;
        size_t vlen = e - i;
        if (m->nfields == US_FIX_MAX_FIELDS)
            return US_FIX_ETOOMANY;
        m->fields[m->nfields++] = (struct us_fix_field){tag, (uint32_t)i, (uint32_t)vlen};
        if (vlen == 0 && m->empty_tag == 0)
            m->empty_tag = tag;
        uint32_t bit = header_bit(tag);
        if (bit != 0)
            decode_header(m, tag, bit, buf + i, vlen, &seen);
        i += vlen + 1;
    }
    return US_FIX_OK;
}

int us_fix_find(const struct us_fix_msg *m, uint32_t tag, unsigned from)
{
    for (unsigned i = from; i < m->nfields; i++)
        if (m->fields[i].tag == tag)
            return (int)i;
    return -1;
}

struct us_fix_str us_fix_value(const struct us_fix_msg *m, unsigned i)
{
    return (struct us_fix_str){m->buf + m->fields[i].off, m->fields[i].len};
}

int us_fix_get_str(const struct us_fix_msg *m, uint32_t tag, struct us_fix_str *out)
{
    int i = us_fix_find(m, tag, 0);
    if (i < 0)
        return US_FIX_ENOTAG;
    struct us_fix_str s = us_fix_value(m, (unsigned)i);
    if (s.len == 0)
        return US_FIX_ENOVALUE;
    *out = s;
    return US_FIX_OK;
}

int us_fix_get_cstr(const struct us_fix_msg *m, uint32_t tag, char *dst, size_t cap)
{
    struct us_fix_str s;
    int err = us_fix_get_str(m, tag, &s);
    if (err != US_FIX_OK)
        return err;
    if (s.len >= cap)
        return US_FIX_ERANGE;
    memcpy(dst, s.p, s.len);
    dst[s.len] = 0;
    return US_FIX_OK;
}

int us_fix_get_int(const struct us_fix_msg *m, uint32_t tag, int64_t *out)
{
    struct us_fix_str s;
    int err = us_fix_get_str(m, tag, &s);
    return err != US_FIX_OK ? err : us_fix_parse_int(s.p, s.len, out);
}

int us_fix_get_uint(const struct us_fix_msg *m, uint32_t tag, uint64_t *out)
{
    struct us_fix_str s;
    int err = us_fix_get_str(m, tag, &s);
    return err != US_FIX_OK ? err : us_fix_parse_uint(s.p, s.len, out);
}

int us_fix_get_char(const struct us_fix_msg *m, uint32_t tag, char *out)
{
    struct us_fix_str s;
    int err = us_fix_get_str(m, tag, &s);
    if (err != US_FIX_OK)
        return err;
    if (s.len != 1)
        return US_FIX_EFORMAT;
    *out = s.p[0];
    return US_FIX_OK;
}

int us_fix_get_bool(const struct us_fix_msg *m, uint32_t tag, bool *out)
{
    struct us_fix_str s;
    int err = us_fix_get_str(m, tag, &s);
    return err != US_FIX_OK ? err : us_fix_parse_bool(s.p, s.len, out);
}

int us_fix_get_utc_ts(const struct us_fix_msg *m, uint32_t tag, int64_t *ns)
{
    struct us_fix_str s;
    int err = us_fix_get_str(m, tag, &s);
    return err != US_FIX_OK ? err : us_fix_parse_utc_ts(s.p, s.len, ns);
}

const char *us_fix_strerror(int err)
{
    switch (err) {
    case US_FIX_OK:
        return "ok";
    case US_FIX_ENOTAG:
        return "tag not present";
    case US_FIX_ENOVALUE:
        return "tag without value";
    case US_FIX_EFORMAT:
        return "incorrect data format";
    case US_FIX_ERANGE:
        return "value out of range";
    case US_FIX_ESYNTAX:
        return "field not tag=value<SOH>";
    case US_FIX_ETOOMANY:
        return "too many fields";
    case US_FIX_EOVERFLOW:
        return "buffer too small";
    case US_FIX_EINVAL:
        return "invalid value";
    }
    return "?";
}
