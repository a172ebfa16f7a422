/* ICMP: a message that parses is re-emitted from its view over the same
 * data; the bytes must match (the checksum up to its two zeros) and parse
 * to the same view. */
#include <stdlib.h>
#include <string.h>

#include "ustack/checksum.h"
#include "ustack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size)
{
    struct us_icmp_view v, w;
    int err = us_icmp_parse(data, size, &v);
    if (err != US_WIRE_OK) {
        if (err != US_WIRE_TRUNCATED && err != US_WIRE_BAD_CSUM)
            abort();
        return;
    }
    if (size < US_ICMP_HLEN || v.payload != data + US_ICMP_HLEN ||
        v.payload_len != size - US_ICMP_HLEN)
        abort();

    uint8_t *out = malloc(size);
    if (out == NULL)
        return;
    memcpy(out + US_ICMP_HLEN, v.payload, v.payload_len);
    us_icmp_emit(out, size, v.type, v.code, v.rest);
    if (us_icmp_parse(out, size, &w) != US_WIRE_OK)
        abort();
    if (w.type != v.type || w.code != v.code || w.rest != v.rest ||
        w.payload_len != v.payload_len || memcmp(out + 4, data + 4, size - 4) != 0)
        abort();
    if (w.checksum != v.checksum &&
        !((w.checksum == 0 || w.checksum == 0xffff) && (v.checksum == 0 || v.checksum == 0xffff)))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size < US_ICMP_HLEN)
        return 0;
    /* The same message with its checksum made right must always parse. */
    uint8_t *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[2] = copy[3] = 0;
    uint16_t c = us_inet_csum(copy, size);
    copy[2] = (uint8_t)(c >> 8);
    copy[3] = (uint8_t)c;
    struct us_icmp_view v;
    if (us_icmp_parse(copy, size, &v) != US_WIRE_OK)
        abort();
    check(copy, size);
    free(copy);
    return 0;
}
