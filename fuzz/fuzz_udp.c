/* UDP: input is src (4 bytes), dst (4 bytes), then the segment. A segment
 * that parses (checksum trusted) is re-emitted; the result must pass the
 * real checksum check with the same view, and when the original checksum
 * was present and correct, emit must reproduce it exactly. */
#include <stdlib.h>
#include <string.h>

#include "ustack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t load32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    us_ip4 src = load32(data), dst = load32(data + 4);
    const uint8_t *seg = data + 8;
    size_t len = size - 8;

    struct us_udp_view v, t, w;
    int checked = us_udp_parse(seg, len, src, dst, 0, &t);
    int err = us_udp_parse(seg, len, src, dst, US_WIRE_CSUM_VALID, &v);
    /* Trusting the checksum can only turn BAD_CSUM into success. */
    if (checked != err && !(checked == US_WIRE_BAD_CSUM && err == US_WIRE_OK))
        abort();
    if (err != US_WIRE_OK)
        return 0;
    if (v.length < 8 || v.length > len || v.payload != seg + 8 || v.payload_len != v.length - 8u)
        abort();

    uint8_t *out = malloc(v.length);
    if (out == NULL)
        return 0;
    memcpy(out + 8, v.payload, v.payload_len);
    us_udp_emit(out, v.length, v.sport, v.dport, src, dst);
    if (us_udp_parse(out, v.length, src, dst, 0, &w) != US_WIRE_OK)
        abort();
    if (w.sport != v.sport || w.dport != v.dport || w.length != v.length || w.checksum == 0 ||
        w.payload_len != v.payload_len || memcmp(w.payload, v.payload, v.payload_len) != 0)
        abort();
    if (checked == US_WIRE_OK && v.checksum != 0 && memcmp(out, seg, v.length) != 0)
        abort();
    free(out);
    return 0;
}
