/* TCP: input is src (4 bytes), dst (4 bytes), then the segment. A segment
 * that parses (checksum trusted) is re-emitted from its view with our
 * option layout; the result must pass the real checksum check and parse to
 * the same header, options and payload. SACK blocks may be dropped only
 * when one more would not fit in 60 bytes. */
#include <stdlib.h>
#include <string.h>

#include "ustack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t load32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void check_same_opts(const struct us_tcp_opts *a, const struct us_tcp_opts *b,
                            size_t b_hdr_len)
{
    if (a->mss_present != b->mss_present || a->mss != b->mss ||
        a->wscale_present != b->wscale_present || a->wscale != b->wscale ||
        a->sack_permitted != b->sack_permitted || a->ts_present != b->ts_present ||
        a->tsval != b->tsval || a->tsecr != b->tsecr)
        abort();
    if (a->sack_count > US_TCP_MAX_SACK || b->sack_count > a->sack_count)
        abort();
    if (b->sack_count < a->sack_count && b_hdr_len + 8 <= US_TCP_MAX_HLEN)
        abort();
    for (unsigned i = 0; i < b->sack_count; i++)
        if (a->sack[i].left != b->sack[i].left || a->sack[i].right != b->sack[i].right)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > 60000)
        return 0;
    us_ip4 src = load32(data), dst = load32(data + 4);
    const uint8_t *seg = data + 8;
    size_t len = size - 8;

    struct us_tcp_view v, t, w;
    int checked = us_tcp_parse(seg, len, src, dst, 0, &t);
    int err = us_tcp_parse(seg, len, src, dst, US_WIRE_CSUM_VALID, &v);
    /* The checksum is checked before the options: a bad one hides them. */
    if (checked != err && checked != US_WIRE_BAD_CSUM)
        abort();
    if (err != US_WIRE_OK)
        return 0;
    if (v.hdr_len < 20 || v.hdr_len > 60 || v.hdr_len % 4 != 0 || v.payload != seg + v.hdr_len ||
        v.payload_len != len - v.hdr_len)
        abort();
    if (checked == US_WIRE_OK)
        check_same_opts(&t.opts, &v.opts, v.hdr_len);

    struct us_tcp_repr r = {.sport = v.sport,
                            .dport = v.dport,
                            .seq = v.seq,
                            .ack = v.ack,
                            .flags = v.flags,
                            .window = v.window,
                            .urg_ptr = v.urg_ptr,
                            .opts = v.opts};
    size_t hl = 20 + us_tcp_opts_len(&r.opts);
    if (hl > US_TCP_MAX_HLEN || hl % 4 != 0)
        abort();
    size_t n = hl + v.payload_len;
    uint8_t *out = malloc(n);
    if (out == NULL)
        return 0;
    memcpy(out + hl, v.payload, v.payload_len);
    if (us_tcp_emit(out, n, &r, src, dst) != hl)
        abort();
    if (us_tcp_parse(out, n, src, dst, 0, &w) != US_WIRE_OK)
        abort();
    if (w.sport != v.sport || w.dport != v.dport || w.seq != v.seq || w.ack != v.ack ||
        w.hdr_len != hl || w.flags != v.flags || w.window != v.window || w.urg_ptr != v.urg_ptr ||
        w.payload_len != v.payload_len || memcmp(w.payload, v.payload, v.payload_len) != 0)
        abort();
    check_same_opts(&v.opts, &w.opts, w.hdr_len);
    free(out);
    return 0;
}
