/* FIX codec: framing of a byte stream (split at every byte, several
 * messages per buffer, each garbling rule and the BodyLength bound),
 * parsing and typed getters, the session-level checks with their
 * SessionRejectReason(373)/RefTagID(371), and the builder's round trip.
 * Messages are written with '|' for SOH; their BodyLength and CheckSum are
 * computed here by make_msg(), independently of the codec, or taken from
 * published examples whose values are given in the text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/fix.h"

#define NS 1000000000LL

/* '|' -> SOH, into out; returns the length. */
static size_t soh(const char *s, char *out)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] == '|' ? US_FIX_SOH : s[i];
    return n;
}

/* "8=begin|9=<len>|" body "10=<sum>|", body given from 35= on with '|'. */
static size_t make_msg(const char *begin, const char *body, char *out)
{
    char b[2048];
    size_t blen = soh(body, b);
    int n = sprintf(out, "8=%s%c9=%zu%c", begin, US_FIX_SOH, blen, US_FIX_SOH);
    memcpy(out + n, b, blen);
    size_t len = (size_t)n + blen;
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += (unsigned char)out[i];
    len += (size_t)sprintf(out + len, "10=%03u%c", sum % 256, US_FIX_SOH);
    return len;
}

/* Published examples (Wikipedia, "Financial Information eXchange"), with
 * their own BodyLength and CheckSum. */
static const char logon_example[] =
    "8=FIX.4.2|9=65|35=A|49=SERVER|56=CLIENT|34=177|52=20090107-18:15:16|98=0|108=30|10=062|";
static const char execrpt_example[] =
    "8=FIX.4.2|9=178|35=8|49=PHLX|56=PERS|52=20071123-05:30:00.000|11=ATOMNOCCC9990900|20=3|"
    "150=E|39=E|55=MSFT|167=CS|54=1|38=15|40=2|44=15|58=PHLX EQUITY TESTING|59=0|47=C|32=0|"
    "31=0|151=15|14=0|6=0|10=128|";

/* Bodies of the session's and application's usual messages. */
static const struct {
    const char *begin, *body;
} samples[] = {
    /* NewOrderSingle(D), FIX 4.2 */
    {"FIX.4.2", "35=D|49=BANZAI|56=EXEC|34=2|52=20261203-20:01:02.123|11=ORD0000001|21=1|"
                "55=IBM|54=1|60=20261203-20:01:02|38=100|40=2|44=135.25|59=0|"},
    /* ExecutionReport(8), FIX 4.4, with a Parties group (453: 448/447/452 twice) */
    {"FIX.4.4", "35=8|49=EXEC|56=BANZAI|34=3|52=20261203-20:01:02.456789|37=1|11=ORD0000001|"
                "17=1|150=0|39=0|55=IBM|54=1|38=100|151=100|14=0|6=0|453=2|448=AAA|447=D|452=1|"
                "448=BBB|447=D|452=3|"},
    /* Logon(A) */
    {"FIX.4.4", "35=A|49=BANZAI|56=EXEC|34=1|52=20261203-20:01:02|98=0|108=30|141=Y|"},
    /* Heartbeat(0) */
    {"FIX.4.4", "35=0|49=EXEC|56=BANZAI|34=4|52=20261203-20:01:32.000|"},
    /* ResendRequest(2), EndSeqNo 0 = infinity */
    {"FIX.4.2", "35=2|49=BANZAI|56=EXEC|34=5|52=20261203-20:01:33|7=2|16=0|"},
    /* SequenceReset(4) gap fill, a resend */
    {"FIX.4.2", "35=4|49=EXEC|56=BANZAI|34=2|43=Y|122=20261203-20:01:02|"
                "52=20261203-20:01:34|123=Y|36=5|"},
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static char stream[8192];
static size_t stream_msg_off[NSAMPLES + 1];

/* All samples, back to back. */
static size_t make_stream(void)
{
    size_t n = 0;
    for (size_t i = 0; i < NSAMPLES; i++) {
        stream_msg_off[i] = n;
        n += make_msg(samples[i].begin, samples[i].body, stream + n);
    }
    stream_msg_off[NSAMPLES] = n;
    return n;
}

/* A receive buffer as a session keeps it: bytes appended, whole messages
 * taken from the front. */
struct rx {
    uint8_t buf[8192];
    size_t len;
    size_t msgs, garbled;
    size_t msg_len[32];
    char msg_type[32][US_FIX_MSGTYPE_MAX];
};

static void rx_drain(struct rx *r, size_t max_body)
{
    static struct us_fix_msg m;
    struct us_fix_frame f;
    while (us_fix_frame(r->buf, r->len, max_body, &f) != US_FIX_FRAME_NEED_MORE) {
        assert_true(f.len > 0 && f.len <= r->len);
        if (f.kind == US_FIX_FRAME_MESSAGE) {
            assert_int_equal(us_fix_parse(&m, r->buf, f.len), US_FIX_OK);
            assert_true(r->msgs < 32);
            r->msg_len[r->msgs] = f.len;
            strcpy(r->msg_type[r->msgs], m.msg_type);
            r->msgs++;
        } else {
            r->garbled++;
        }
        memmove(r->buf, r->buf + f.len, r->len - f.len);
        r->len -= f.len;
    }
}

static void rx_feed(struct rx *r, const void *p, size_t n, size_t max_body)
{
    assert_true(r->len + n <= sizeof(r->buf));
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    rx_drain(r, max_body);
}

static void assert_all_samples(const struct rx *r)
{
    assert_int_equal(r->garbled, 0);
    assert_int_equal(r->msgs, NSAMPLES);
    assert_int_equal(r->len, 0);
    for (size_t i = 0; i < NSAMPLES; i++) {
        assert_int_equal(r->msg_len[i], stream_msg_off[i + 1] - stream_msg_off[i]);
        char want[4];
        sscanf(samples[i].body, "35=%3[^|]", want);
        assert_string_equal(r->msg_type[i], want);
    }
}

/* ---------------- framing ---------------- */

static void test_frame_published_examples(void **state)
{
    char buf[512];
    size_t n = soh(logon_example, buf);
    struct us_fix_frame f;
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 0, &f), US_FIX_FRAME_MESSAGE);
    assert_int_equal(f.len, n);
    static struct us_fix_msg m;
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_OK);
    assert_string_equal(m.msg_type, "A");
    assert_int_equal(m.msg_seq_num, 177);
    assert_int_equal(m.body_length, 65);
    assert_int_equal(m.sending_time_ns, 1231352116LL * NS);
    assert_true(m.sender_comp_id.len == 6 && memcmp(m.sender_comp_id.p, "SERVER", 6) == 0);
    assert_true(m.target_comp_id.len == 6 && memcmp(m.target_comp_id.p, "CLIENT", 6) == 0);
    assert_true(m.begin_string.len == 7 && memcmp(m.begin_string.p, "FIX.4.2", 7) == 0);
    int64_t hb;
    assert_int_equal(us_fix_get_int(&m, 108, &hb), US_FIX_OK); /* HeartBtInt */
    assert_int_equal(hb, 30);
    assert_int_equal(m.nfields, 10);

    n = soh(execrpt_example, buf);
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 0, &f), US_FIX_FRAME_MESSAGE);
    assert_int_equal(f.len, n);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_OK);
    assert_string_equal(m.msg_type, "8");
    assert_int_equal(m.sending_time_ns, 1195795800LL * NS);
    char text[32];
    assert_int_equal(us_fix_get_cstr(&m, 58, text, sizeof(text)), US_FIX_OK);
    assert_string_equal(text, "PHLX EQUITY TESTING");
}

/* The stream of all samples cut in two at every byte: every message framed
 * once, in order, nothing garbled, nothing left. Then byte by byte. */
static void test_frame_split_every_byte(void **state)
{
    size_t n = make_stream();
    static struct rx r;
    for (size_t cut = 0; cut <= n; cut++) {
        memset(&r, 0, sizeof(r));
        rx_feed(&r, stream, cut, 0);
        rx_feed(&r, stream + cut, n - cut, 0);
        assert_all_samples(&r);
    }
    memset(&r, 0, sizeof(r));
    for (size_t i = 0; i < n; i++) {
        rx_feed(&r, stream + i, 1, 0);
        /* Each message is taken as soon as its last byte arrives. */
        for (size_t k = 1; k <= NSAMPLES; k++)
            if (i + 1 == stream_msg_off[k])
                assert_int_equal(r.msgs, k);
    }
    assert_all_samples(&r);
}

/* Frames a buffer holding one garbled message followed by a valid one: the
 * garbled one is dropped for the given reason and no byte of the valid one
 * is, which then frames whole. */
static void expect_garbled_then_valid(const char *bad, size_t bad_len, enum us_fix_garble why)
{
    static uint8_t buf[4096];
    memcpy(buf, bad, bad_len);
    size_t good = make_msg(samples[3].begin, samples[3].body, (char *)buf + bad_len);
    size_t len = bad_len + good;
    struct us_fix_frame f;
    size_t off = 0, garbled = 0;
    while (off < bad_len) {
        assert_int_equal(us_fix_frame(buf + off, len - off, 0, &f), US_FIX_FRAME_GARBLED);
        if (garbled++ == 0)
            assert_int_equal(f.why, why);
        assert_true(f.len > 0);
        off += f.len;
    }
    assert_int_equal(off, bad_len); /* the valid message untouched */
    assert_int_equal(us_fix_frame(buf + off, len - off, 0, &f), US_FIX_FRAME_MESSAGE);
    assert_int_equal(f.len, good);
}

static void garble(const char *body, size_t at, char to, enum us_fix_garble why)
{
    char m[1024];
    size_t n = make_msg("FIX.4.4", body, m);
    if (at != (size_t)-1)
        m[at] = to;
    expect_garbled_then_valid(m, n, why);
}

static const char hb_body[] = "35=0|49=A|56=B|34=9|52=20261203-20:01:02|";

static void test_frame_garbled_checksum(void **state)
{
    char m[256];
    size_t n = make_msg("FIX.4.4", hb_body, m);
    /* "10=ddd|": a wrong digit, two digits, a letter. */
    m[n - 2] = m[n - 2] == '9' ? '0' : (char)(m[n - 2] + 1);
    expect_garbled_then_valid(m, n, US_FIX_GARBLE_CHECKSUM);
    garble(hb_body, strlen("8=FIX.4.4|9=41|35=0|49="), 'Z', US_FIX_GARBLE_CHECKSUM);
    n = make_msg("FIX.4.4", hb_body, m);
    m[n - 2] = 'x';
    expect_garbled_then_valid(m, n, US_FIX_GARBLE_CHECKSUM_FORMAT);
    n = make_msg("FIX.4.4", hb_body, m);
    m[n - 2] = US_FIX_SOH; /* "10=dd|" then a stray byte */
    m[n - 1] = 'x';
    expect_garbled_then_valid(m, n, US_FIX_GARBLE_CHECKSUM_FORMAT);
}

static void test_frame_garbled_bodylength(void **state)
{
    char m[256];
    size_t n = make_msg("FIX.4.4", hb_body, m);
    /* BodyLength 41 ("9=41"): one less and one more than the truth. */
    assert_int_equal(m[12], '4');
    assert_int_equal(m[13], '1');
    m[13] = '0';
    expect_garbled_then_valid(m, n, US_FIX_GARBLE_BAD_BODYLENGTH);
    m[13] = '2';
    /* One more: the trailer is not where it says; with the valid message
     * behind, enough bytes are there to see it. */
    expect_garbled_then_valid(m, n, US_FIX_GARBLE_BAD_BODYLENGTH);
    m[13] = 'x';
    expect_garbled_then_valid(m, n, US_FIX_GARBLE_BAD_BODYLENGTH);
    const char nodigits[] = "8=FIX.4.4\0019=\00135=0\001";
    expect_garbled_then_valid(nodigits, sizeof(nodigits) - 1, US_FIX_GARBLE_BAD_BODYLENGTH);
}

static void test_frame_garbled_tag_order(void **state)
{
    char buf[256];
    /* MsgType(35) before BodyLength(9). */
    size_t n = soh("8=FIX.4.4|35=0|9=5|49=A|10=000|", buf);
    expect_garbled_then_valid(buf, n, US_FIX_GARBLE_NO_BODYLENGTH);
    /* SenderCompID(49) third, MsgType later (checksum right for what it is). */
    n = make_msg("FIX.4.4", "49=A|35=0|56=B|34=9|52=20261203-20:01:02|", buf);
    expect_garbled_then_valid(buf, n, US_FIX_GARBLE_NO_MSGTYPE);
    /* BeginString not first: bytes before "8=FIX". */
    memcpy(buf, "9=1", 3);
    expect_garbled_then_valid(buf, 3, US_FIX_GARBLE_NO_BEGIN);
    /* BeginString never ends. */
    n = soh("8=FIX.4.4.4.4.4.4.4.4.4", buf);
    expect_garbled_then_valid(buf, n, US_FIX_GARBLE_BAD_BEGINSTRING);
}

/* Garbage whose tail could be the start of a message is kept, and the
 * framer waits for more instead of dropping it. */
static void test_frame_resync_keeps_partial_begin(void **state)
{
    const uint8_t b[] = "xy8=FI";
    struct us_fix_frame f;
    assert_int_equal(us_fix_frame(b, 6, 0, &f), US_FIX_FRAME_GARBLED);
    assert_int_equal(f.len, 2);
    assert_int_equal(us_fix_frame(b + 2, 4, 0, &f), US_FIX_FRAME_NEED_MORE);
    assert_int_equal(us_fix_frame(b, 0, 0, &f), US_FIX_FRAME_NEED_MORE);
    /* "8=FIX" inside a garbled message is where the next attempt starts. */
    static struct rx r;
    memset(&r, 0, sizeof(r));
    char junk[] = "garbage 8=FIX 58=FIX.4.2 more garbage";
    rx_feed(&r, junk, strlen(junk), 0);
    make_stream();
    rx_feed(&r, stream, stream_msg_off[NSAMPLES], 0);
    assert_true(r.garbled >= 2);
    r.garbled = 0;
    assert_all_samples(&r);
}

/* BodyLength is bounded: above the maximum the frame is garbled as soon as
 * the digits are read, not after waiting for the bytes. */
static void test_frame_bodylength_bound(void **state)
{
    char buf[4096];
    size_t n = soh("8=FIX.4.4|9=65537|35=", buf);
    struct us_fix_frame f;
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 0, &f), US_FIX_FRAME_GARBLED);
    assert_int_equal(f.why, US_FIX_GARBLE_TOO_LONG);
    /* The default bound itself is accepted (waits). */
    n = soh("8=FIX.4.4|9=65536|35=", buf);
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 0, &f), US_FIX_FRAME_NEED_MORE);
    /* Very many digits: garbled without waiting. */
    n = soh("8=FIX.4.4|9=99999999999999999999", buf);
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 0, &f), US_FIX_FRAME_GARBLED);
    /* A configured bound: the 178-byte example is too long for 177. */
    n = soh(execrpt_example, buf);
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 177, &f), US_FIX_FRAME_GARBLED);
    assert_int_equal(f.why, US_FIX_GARBLE_TOO_LONG);
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 178, &f), US_FIX_FRAME_MESSAGE);
    /* Whatever the bytes, the framer decides by max_body + 40 bytes. */
    memset(buf, '7', sizeof(buf));
    n = soh("8=FIX.4.4|9=1000|35=", buf);
    buf[n] = '7';
    assert_int_equal(us_fix_frame((uint8_t *)buf, 1000 + 40, 1000, &f), US_FIX_FRAME_GARBLED);
}

/* ---------------- parsing ---------------- */

static void test_parse_fields_and_getters(void **state)
{
    char buf[1024];
    size_t n = make_msg(samples[1].begin, samples[1].body, buf);
    static struct us_fix_msg m;
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_OK);
    assert_string_equal(m.msg_type, "8");
    assert_int_equal(m.msg_seq_num, 3);
    assert_int_equal(m.sending_time_ns, 1796328062LL * NS + 456789000);
    assert_int_equal(m.fields[0].tag, 8);
    assert_int_equal(m.fields[1].tag, 9);
    assert_int_equal(m.fields[2].tag, 35);
    assert_int_equal(m.fields[m.nfields - 1].tag, 10);
    /* The Parties group in order: 448=AAA ... 448=BBB. */
    int i = us_fix_find(&m, 448, 0);
    assert_true(i > 0);
    struct us_fix_str v = us_fix_value(&m, (unsigned)i);
    assert_true(v.len == 3 && memcmp(v.p, "AAA", 3) == 0);
    assert_int_equal(m.fields[i + 1].tag, 447);
    assert_int_equal(m.fields[i + 2].tag, 452);
    int j = us_fix_find(&m, 448, (unsigned)i + 1);
    assert_int_equal(j, i + 3);
    v = us_fix_value(&m, (unsigned)j);
    assert_true(v.len == 3 && memcmp(v.p, "BBB", 3) == 0);
    assert_int_equal(us_fix_find(&m, 448, (unsigned)j + 1), -1);
    assert_int_equal(
        us_fix_check_unique(&m, (const uint32_t[]){55, 448}, 2, &(struct us_fix_reject){0}),
        US_FIX_REJ_TAG_MORE_THAN_ONCE);

    int64_t iv;
    uint64_t uv;
    char c;
    bool bv;
    struct us_fix_str s;
    assert_int_equal(us_fix_get_int(&m, 38, &iv), US_FIX_OK); /* OrderQty */
    assert_int_equal(iv, 100);
    assert_int_equal(us_fix_get_uint(&m, 151, &uv), US_FIX_OK); /* LeavesQty */
    assert_int_equal(uv, 100);
    assert_int_equal(us_fix_get_char(&m, 39, &c), US_FIX_OK); /* OrdStatus */
    assert_int_equal(c, '0');
    assert_int_equal(us_fix_get_int(&m, 55, &iv), US_FIX_EFORMAT); /* Symbol "IBM" */
    assert_int_equal(us_fix_get_int(&m, 44, &iv), US_FIX_ENOTAG);
    assert_int_equal(us_fix_get_char(&m, 55, &c), US_FIX_EFORMAT);
    assert_int_equal(us_fix_get_bool(&m, 55, &bv), US_FIX_EFORMAT);
    assert_int_equal(us_fix_get_bool(&m, 447, &bv), US_FIX_ERANGE); /* 'D' is not Y/N */
    assert_int_equal(us_fix_get_str(&m, 55, &s), US_FIX_OK);
    assert_true(s.len == 3 && memcmp(s.p, "IBM", 3) == 0);
    char small[3];
    assert_int_equal(us_fix_get_cstr(&m, 55, small, sizeof(small)), US_FIX_ERANGE);

    /* Empty value, negative and overflowing ints. */
    n = make_msg("FIX.4.4",
                 "35=0|49=A|56=B|34=1|52=20261203-20:01:02|58=|44=-12|45=9223372036854775808|",
                 buf);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_OK);
    assert_int_equal(us_fix_get_str(&m, 58, &s), US_FIX_ENOVALUE);
    assert_int_equal(us_fix_get_int(&m, 58, &iv), US_FIX_ENOVALUE);
    assert_int_equal(us_fix_get_int(&m, 44, &iv), US_FIX_OK);
    assert_int_equal(iv, -12);
    assert_int_equal(us_fix_get_int(&m, 45, &iv), US_FIX_ERANGE);
    assert_int_equal(us_fix_get_uint(&m, 45, &uv), US_FIX_OK);
    assert_true(uv == 9223372036854775808ULL);
    assert_int_equal(us_fix_get_uint(&m, 44, &uv), US_FIX_EFORMAT);
    assert_int_equal(us_fix_get_bool(&m, 43, &bv), US_FIX_ENOTAG);
}

static void test_parse_utc_timestamps(void **state)
{
    int64_t ns;
    const int64_t t = 1709251199LL * NS; /* 2024-02-29 23:59:59 */
    assert_int_equal(us_fix_parse_utc_ts("20240229-23:59:59", 17, &ns), US_FIX_OK);
    assert_true(ns == t);
    assert_int_equal(us_fix_parse_utc_ts("20240229-23:59:59.123", 21, &ns), US_FIX_OK);
    assert_true(ns == t + 123000000);
    assert_int_equal(us_fix_parse_utc_ts("20240229-23:59:59.123456", 24, &ns), US_FIX_OK);
    assert_true(ns == t + 123456000);
    assert_int_equal(us_fix_parse_utc_ts("20240229-23:59:59.123456789", 27, &ns), US_FIX_OK);
    assert_true(ns == t + 123456789);
    assert_int_equal(us_fix_parse_utc_ts("20230229-23:59:59", 17, &ns), US_FIX_ERANGE);
    assert_int_equal(us_fix_parse_utc_ts("20241301-00:00:00", 17, &ns), US_FIX_ERANGE);
    assert_int_equal(us_fix_parse_utc_ts("20240101-24:00:00", 17, &ns), US_FIX_ERANGE);
    assert_int_equal(us_fix_parse_utc_ts("20240101 00:00:00", 17, &ns), US_FIX_EFORMAT);
    assert_int_equal(us_fix_parse_utc_ts("20240101-00:00:00.12", 20, &ns), US_FIX_EFORMAT);
    assert_int_equal(us_fix_parse_utc_ts("20240101-00:00:0x", 17, &ns), US_FIX_EFORMAT);
    assert_int_equal(us_fix_parse_utc_ts("", 0, &ns), US_FIX_ENOVALUE);
    char out[32];
    assert_int_equal(us_fix_format_utc_ts(t + 123456789, 0, out), 17);
    assert_string_equal(out, "20240229-23:59:59");
    assert_int_equal(us_fix_format_utc_ts(t + 123456789, 3, out), 21);
    assert_string_equal(out, "20240229-23:59:59.123");
    assert_int_equal(us_fix_format_utc_ts(t + 123456789, 6, out), 24);
    assert_string_equal(out, "20240229-23:59:59.123456");
    assert_int_equal(us_fix_format_utc_ts(t + 123456789, 9, out), 27);
    assert_string_equal(out, "20240229-23:59:59.123456789");
    assert_int_equal(us_fix_format_utc_ts(t, 2, out), -1);
}

static void test_parse_bad_syntax(void **state)
{
    char buf[4096];
    static struct us_fix_msg m;
    size_t n = soh("8=FIX.4.4|9=5|35=0|x=1|10=000|", buf);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_ESYNTAX);
    n = soh("8=FIX.4.4|9=5|35=0|58", buf);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_ESYNTAX);
    n = soh("8=FIX.4.4|9=5|35=0|58=no soh", buf);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_ESYNTAX);
    n = soh("8=FIX.4.4|0=1|", buf);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_ESYNTAX);
    /* One field more than the array holds. */
    n = 0;
    for (int i = 0; i <= US_FIX_MAX_FIELDS; i++)
        n += (size_t)sprintf(buf + n, "58=x%c", US_FIX_SOH);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_ETOOMANY);
    n -= 5;
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_OK);
    assert_int_equal(m.nfields, US_FIX_MAX_FIELDS);
}

/* ---------------- session-level checks ---------------- */

static const int64_t now = 1796328062LL * NS; /* 20261203-20:01:02 */

/* Parses body (made into a FIX.4.4 message) and validates it as BANZAI
 * receiving from EXEC with 120 s SendingTime tolerance. */
static int validate(const char *body, struct us_fix_reject *rej)
{
    static char buf[1024];
    static struct us_fix_msg m;
    size_t n = make_msg("FIX.4.4", body, buf);
    struct us_fix_frame f;
    assert_int_equal(us_fix_frame((uint8_t *)buf, n, 0, &f), US_FIX_FRAME_MESSAGE);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_OK);
    struct us_fix_expect e = {"BANZAI", "EXEC", now, 120 * NS};
    return us_fix_validate(&m, &e, rej);
}

#define EXPECT_REJECT(body, want_reason, want_tag)                                                 \
    do {                                                                                           \
        struct us_fix_reject rej_;                                                                 \
        assert_int_equal(validate(body, &rej_), want_reason);                                      \
        assert_int_equal(rej_.reason, want_reason);                                                \
        assert_int_equal(rej_.ref_tag, want_tag);                                                  \
        assert_non_null(rej_.text);                                                                \
    } while (0)

static void test_validate_reasons(void **state)
{
    struct us_fix_reject rej;
    assert_int_equal(validate("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02.123|11=X|", &rej),
                     0);
    assert_int_equal(rej.reason, US_FIX_REJ_NONE);
    /* 1: required header tag missing */
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|52=20261203-20:01:02|", 1, 34);
    EXPECT_REJECT("35=D|56=BANZAI|34=2|52=20261203-20:01:02|", 1, 49);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|", 1, 52);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|43=Y|52=20261203-20:01:02|", 1, 122);
    /* ... but a gap-fill SequenceReset may come without OrigSendingTime. */
    assert_int_equal(
        validate("35=4|49=EXEC|56=BANZAI|34=2|43=Y|52=20261203-20:01:02|123=Y|36=5|", &rej), 0);
    /* 4: tag without value */
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|58=|", 4, 58);
    EXPECT_REJECT("35=D|49=|56=BANZAI|34=2|52=20261203-20:01:02|", 4, 49);
    /* 6: incorrect data format */
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2x|52=20261203-20:01:02|", 6, 34);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=2026-12-03 20:01:02|", 6, 52);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|43=YES|"
                  "122=20261203-20:01:02|",
                  6, 43);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|43=Y|122=yesterday|", 6, 122);
    /* 5: value out of range */
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=0|52=20261203-20:01:02|", 5, 34);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|97=X|", 5, 97);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261303-20:01:02|", 5, 52);
    /* 13: tag more than once (header) */
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|49=EXEC|", 13, 49);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|34=3|52=20261203-20:01:02|", 13, 34);
    /* 11: invalid MsgType */
    EXPECT_REJECT("35=ZZ|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|", 11, 35);
    EXPECT_REJECT("35=I|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|", 11, 35);
    EXPECT_REJECT("35=ABCDEFGHIJ|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|", 11, 35);
    assert_int_equal(validate("35=AE|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|", &rej), 0);
    assert_int_equal(validate("35=U42|49=EXEC|56=BANZAI|34=2|52=20261203-20:01:02|", &rej), 0);
    /* 9: CompID problem */
    EXPECT_REJECT("35=D|49=EXECX|56=BANZAI|34=2|52=20261203-20:01:02|", 9, 49);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZA|34=2|52=20261203-20:01:02|", 9, 56);
    /* 10: SendingTime accuracy (tolerance 120 s either way) */
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:03:02.001|", 10, 52);
    EXPECT_REJECT("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-19:59:01|", 10, 52);
    assert_int_equal(validate("35=D|49=EXEC|56=BANZAI|34=2|52=20261203-20:03:02|", &rej), 0);

    /* The Wikipedia ExecutionReport has no MsgSeqNum(34). */
    char buf[512];
    static struct us_fix_msg m;
    size_t n = soh(execrpt_example, buf);
    assert_int_equal(us_fix_parse(&m, buf, n), US_FIX_OK);
    assert_int_equal(us_fix_check_header(&m, &rej), US_FIX_REJ_REQUIRED_TAG_MISSING);
    assert_int_equal(rej.ref_tag, 34);
}

/* ---------------- building ---------------- */

static void test_build_round_trip(void **state)
{
    static char buf[1024];
    struct us_fix_builder b;
    const int64_t t = now + 123000000;
    us_fix_build_begin(&b, buf, sizeof(buf), "FIX.4.2", "D");
    us_fix_build_header(&b, "BANZAI", "EXEC", 2, t, 3);
    us_fix_add_str(&b, 11, "ORD0000001"); /* ClOrdID */
    us_fix_add_char(&b, 21, '1');         /* HandlInst */
    us_fix_add_str(&b, 55, "IBM");        /* Symbol */
    us_fix_add_char(&b, 54, '1');         /* Side */
    us_fix_add_utc_ts(&b, 60, now, 0);    /* TransactTime */
    us_fix_add_int(&b, 38, 100);          /* OrderQty */
    us_fix_add_char(&b, 40, '2');         /* OrdType */
    us_fix_add_str(&b, 44, "135.25");     /* Price */
    us_fix_add_char(&b, 59, '0');         /* TimeInForce */
    const char *msg;
    size_t len;
    assert_int_equal(us_fix_build_end(&b, &msg, &len), US_FIX_OK);
    assert_true(msg >= buf && msg + len <= buf + sizeof(buf));
    /* Byte for byte the NewOrderSingle sample, made independently. */
    char want[1024];
    size_t wlen = make_msg(samples[0].begin, samples[0].body, want);
    assert_int_equal(len, wlen);
    assert_memory_equal(msg, want, wlen);

    /* Frame and parse give the fields back. */
    struct us_fix_frame f;
    assert_int_equal(us_fix_frame((const uint8_t *)msg, len, 0, &f), US_FIX_FRAME_MESSAGE);
    assert_int_equal(f.len, len);
    static struct us_fix_msg m;
    assert_int_equal(us_fix_parse(&m, msg, len), US_FIX_OK);
    assert_int_equal(m.msg_seq_num, 2);
    assert_true(m.sending_time_ns == t);
    int64_t q;
    assert_int_equal(us_fix_get_int(&m, 38, &q), US_FIX_OK);
    assert_int_equal(q, 100);

    /* A resend with PossDupFlag/OrigSendingTime, a negative int, microseconds. */
    us_fix_build_begin(&b, buf, sizeof(buf), "FIX.4.4", "8");
    us_fix_build_header(&b, "EXEC", "BANZAI", 123456789012ULL, t + 456, 6);
    us_fix_add_bool(&b, 43, true);
    us_fix_add_utc_ts(&b, 122, now, 9);
    us_fix_add_int(&b, 58, -42);
    us_fix_add_uint(&b, 14, UINT64_MAX);
    assert_int_equal(us_fix_build_end(&b, &msg, &len), US_FIX_OK);
    assert_int_equal(us_fix_frame((const uint8_t *)msg, len, 0, &f), US_FIX_FRAME_MESSAGE);
    assert_int_equal(f.len, len);
    assert_int_equal(us_fix_parse(&m, msg, len), US_FIX_OK);
    struct us_fix_reject rej;
    struct us_fix_expect e = {"BANZAI", "EXEC", now, NS};
    assert_int_equal(us_fix_validate(&m, &e, &rej), 0);
    assert_true(m.msg_seq_num == 123456789012ULL);
    assert_true(m.poss_dup);
    assert_true(m.orig_sending_time_ns == now);
    assert_true(m.sending_time_ns == t); /* 456 ns lost at 6 digits */
    assert_int_equal(us_fix_get_int(&m, 58, &q), US_FIX_OK);
    assert_int_equal(q, -42);
    uint64_t u;
    assert_int_equal(us_fix_get_uint(&m, 14, &u), US_FIX_OK);
    assert_true(u == UINT64_MAX);
}

/* Every buffer too small by any amount is reported, never overrun. */
static void test_build_overflow(void **state)
{
    static char buf[256], guard[512];
    struct us_fix_builder b;
    const char *msg;
    size_t full = 0;
    for (size_t cap = 0; cap <= sizeof(buf); cap++) {
        memset(guard, 0x5a, sizeof(guard));
        us_fix_build_begin(&b, guard, cap, "FIX.4.4", "0");
        us_fix_build_header(&b, "BANZAI", "EXEC", 7, now, 3);
        us_fix_add_str(&b, 112, "TEST"); /* TestReqID */
        size_t len;
        int err = us_fix_build_end(&b, &msg, &len);
        for (size_t i = cap; i < sizeof(guard); i++)
            assert_int_equal((unsigned char)guard[i], 0x5a);
        if (err == US_FIX_OK) {
            full = cap;
            break;
        }
        assert_int_equal(err, US_FIX_EOVERFLOW);
    }
    assert_true(full > 0);
    /* A value holding SOH is refused. */
    us_fix_build_begin(&b, buf, sizeof(buf), "FIX.4.4", "0");
    us_fix_add_str(&b, 58, "a\001b");
    size_t len;
    assert_int_equal(us_fix_build_end(&b, &msg, &len), US_FIX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_published_examples),
        cmocka_unit_test(test_frame_split_every_byte),
        cmocka_unit_test(test_frame_garbled_checksum),
        cmocka_unit_test(test_frame_garbled_bodylength),
        cmocka_unit_test(test_frame_garbled_tag_order),
        cmocka_unit_test(test_frame_resync_keeps_partial_begin),
        cmocka_unit_test(test_frame_bodylength_bound),
        cmocka_unit_test(test_parse_fields_and_getters),
        cmocka_unit_test(test_parse_utc_timestamps),
        cmocka_unit_test(test_parse_bad_syntax),
        cmocka_unit_test(test_validate_reasons),
        cmocka_unit_test(test_build_round_trip),
        cmocka_unit_test(test_build_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
