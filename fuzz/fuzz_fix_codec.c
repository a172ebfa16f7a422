/* FIX codec: input is one byte choosing the BodyLength bound, then a byte
 * stream. The stream is framed to the end; every decision must stay inside
 * the bytes given, a garbled frame must skip at least one byte and never
 * past an "8=FIX", and a framed message must frame alone to the same length,
 * parse with 8, 9, 35 first and 10 last, validate without crashing, and
 * rebuilt from its fields with the builder come out byte for byte the same
 * (when its BodyLength has no leading zero and no value is empty). */
#include <stdlib.h>
#include <string.h>

#include "ustack/fix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct us_fix_msg m, m2;
static char rebuilt[1 << 17];

static void check_message(const uint8_t *msg, size_t len, size_t max_body)
{
    /* Alone, in a buffer of exactly its size: the same frame. */
    uint8_t *copy = malloc(len);
    if (copy == NULL)
        return;
    memcpy(copy, msg, len);
    struct us_fix_frame f;
    if (us_fix_frame(copy, len, max_body, &f) != US_FIX_FRAME_MESSAGE || f.len != len)
        abort();
    int err = us_fix_parse(&m, copy, len);
    if (err != US_FIX_OK) {
        if (err != US_FIX_ESYNTAX && err != US_FIX_ETOOMANY)
            abort();
        free(copy);
        return;
    }
    if (m.nfields < 4 || m.fields[0].tag != 8 || m.fields[1].tag != 9 || m.fields[2].tag != 35 ||
        m.fields[m.nfields - 1].tag != 10)
        abort();
    bool empty = false;
    for (unsigned i = 0; i < m.nfields; i++) {
        const struct us_fix_field *fl = &m.fields[i];
        if ((size_t)fl->off + fl->len >= len || copy[fl->off + fl->len] != US_FIX_SOH ||
            memchr(copy + fl->off, US_FIX_SOH, fl->len) != NULL)
            abort();
        empty |= fl->len == 0;
    }
    struct us_fix_reject rej;
    struct us_fix_expect e = {"A", "B", 0, 1000000000};
    int r = us_fix_validate(&m, &e, &rej);
    if ((r == 0) != (rej.reason == US_FIX_REJ_NONE) || (r != 0 && rej.text == NULL))
        abort();

    /* Rebuilt from its fields: the same bytes. */
    struct us_fix_str bl = us_fix_value(&m, 1);
    if (!empty && bl.len <= US_FIX_BODYLENGTH_DIGITS && bl.p[0] != '0' && m.fields[2].len < 64) {
        char begin[32], type[64];
        struct us_fix_str b = us_fix_value(&m, 0), t = us_fix_value(&m, 2);
        /* The builder takes BeginString and MsgType as C strings. */
        if (b.len < sizeof(begin) && memchr(b.p, 0, b.len) == NULL &&
            memchr(t.p, 0, t.len) == NULL) {
            memcpy(begin, b.p, b.len);
            begin[b.len] = 0;
            memcpy(type, t.p, t.len);
            type[t.len] = 0;
            struct us_fix_builder bd;
            us_fix_build_begin(&bd, rebuilt, sizeof(rebuilt), begin, type);
            for (unsigned i = 3; i + 1 < m.nfields; i++) {
                struct us_fix_str v = us_fix_value(&m, i);
                us_fix_add_strn(&bd, m.fields[i].tag, v.p, v.len);
            }
            const char *out;
            size_t out_len;
            if (us_fix_build_end(&bd, &out, &out_len) != US_FIX_OK)
                abort();
            /* A tag written with leading zeros ("035=") comes back without. */
            bool zeros = false;
            for (unsigned i = 0; i < m.nfields; i++) {
                unsigned tag_start = i == 0 ? 0 : m.fields[i - 1].off + m.fields[i - 1].len + 1;
                zeros |= copy[tag_start] == '0';
            }
            if (!zeros && (out_len != len || memcmp(out, copy, len) != 0))
                abort();
            /* And it reparses to the same fields. */
            if (us_fix_parse(&m2, out, out_len) != US_FIX_OK || m2.nfields != m.nfields)
                abort();
            for (unsigned i = 0; i < m.nfields; i++)
                if (m2.fields[i].tag != m.fields[i].tag || m2.fields[i].len != m.fields[i].len)
                    abort();
            if (m2.has != m.has || m2.msg_seq_num != m.msg_seq_num ||
                m2.sending_time_ns != m.sending_time_ns || strcmp(m2.msg_type, m.msg_type) != 0)
                abort();
        }
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_body = data[0] < 128 ? 0 : (size_t)data[0] * 4;
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1); /* exact size: ASan sees any overread */
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, len);
    size_t off = 0;
    struct us_fix_frame f;
    while (us_fix_frame(buf + off, len - off, max_body, &f) != US_FIX_FRAME_NEED_MORE) {
        if (f.len == 0 || f.len > len - off)
            abort();
        if (f.kind == US_FIX_FRAME_GARBLED) {
            /* Never past the start of a possible message. */
            for (size_t i = off + 1; i + 5 <= off + f.len; i++)
                if (memcmp(buf + i, "8=FIX", 5) == 0)
                    abort();
            if (f.why == US_FIX_GARBLE_NONE)
                abort();
        } else {
            check_message(buf + off, f.len, max_body);
        }
        off += f.len;
    }
    if (f.len != 0)
        abort();
    free(buf);
    return 0;
}
