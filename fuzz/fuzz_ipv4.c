/* IPv4: a header that parses is re-emitted (without options) in front of
 * its payload; the result must parse to the same view. Without options the
 * emitted header must equal the original, except for the reserved flag bit
 * and the checksum's two encodings of zero. */
#include <stdlib.h>
#include <string.h>

#include "ustack/checksum.h"
#include "ustack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size)
{
    struct us_ipv4_view v, w;
    if (us_ipv4_parse(data, size, &v) != US_WIRE_OK)
        return;
    if (v.hdr_len < 20 || v.hdr_len > 60 || v.hdr_len % 4 != 0 || v.total_len > size ||
        v.payload != data + v.hdr_len || v.payload_len != (size_t)v.total_len - v.hdr_len ||
        v.options_len != (size_t)v.hdr_len - 20 || (size_t)v.frag_off + v.payload_len > 65535)
        abort();

    struct us_ipv4_repr r = {.tos = v.tos,
                             .total_len = (uint16_t)(20 + v.payload_len),
                             .id = v.id,
                             .df = v.df,
                             .mf = v.mf,
                             .frag_off = v.frag_off,
                             .ttl = v.ttl,
                             .proto = v.proto,
                             .src = v.src,
                             .dst = v.dst};
    size_t n = 20 + v.payload_len;
    uint8_t *out = malloc(n);
    if (out == NULL)
        return;
    us_ipv4_emit(out, &r);
    memcpy(out + 20, v.payload, v.payload_len);
    if (us_ipv4_parse(out, n, &w) != US_WIRE_OK)
        abort();
    if (w.hdr_len != 20 || w.tos != v.tos || w.total_len != n || w.id != v.id || w.df != v.df ||
        w.mf != v.mf || w.frag_off != v.frag_off || w.ttl != v.ttl || w.proto != v.proto ||
        w.src != v.src || w.dst != v.dst || w.payload_len != v.payload_len ||
        memcmp(w.payload, v.payload, v.payload_len) != 0)
        abort();

    if (v.hdr_len == 20 && !(data[6] & 0x80)) {
        if (memcmp(out, data, 10) != 0 || memcmp(out + 12, data + 12, 8) != 0)
            abort();
        /* The header is never all zero, so emit computes 0x0000, never
         * 0xffff; the sender may have written either form of zero. */
        if (w.checksum != v.checksum && !(w.checksum == 0 && v.checksum == 0xffff))
            abort();
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    /* Random bytes rarely carry a valid checksum: fix it in a copy so the
     * option walker and length checks see arbitrary headers too. */
    size_t hl = size > 0 ? (size_t)(data[0] & 0x0f) * 4 : 0;
    if (hl < US_IPV4_HLEN || hl > size)
        return 0;
    uint8_t *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[10] = copy[11] = 0;
    uint16_t c = us_inet_csum(copy, hl);
    copy[10] = (uint8_t)(c >> 8);
    copy[11] = (uint8_t)c;
    check(copy, size);
    free(copy);
    return 0;
}
