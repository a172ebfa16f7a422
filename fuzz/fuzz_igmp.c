/* IGMP: a message that parses is re-emitted from its view; the result must
 * parse to the same view, and for an 8-byte message equal the input (the
 * checksum up to its two encodings of zero). Longer messages (an IGMPv3
 * query) parse from their first 8 bytes with the checksum over all. */
#include <stdlib.h>
#include <string.h>

#include "ustack/checksum.h"
#include "ustack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size)
{
    struct us_igmp_view v, w;
    int err = us_igmp_parse(data, size, &v);
    if (err != US_WIRE_OK) {
        if (err != (size < US_IGMP_LEN ? US_WIRE_TRUNCATED : US_WIRE_BAD_CSUM))
            abort();
        return;
    }
    if (size < US_IGMP_LEN || v.type != data[0] || v.max_resp != data[1])
        abort();

    uint8_t out[US_IGMP_LEN];
    us_igmp_emit(out, v.type, v.max_resp, v.group);
    if (us_igmp_parse(out, sizeof(out), &w) != US_WIRE_OK)
        abort();
    if (w.type != v.type || w.max_resp != v.max_resp || w.group != v.group ||
        memcmp(out, data, 2) != 0 || memcmp(out + 4, data + 4, 4) != 0)
        abort();
    if (size == US_IGMP_LEN && w.checksum != v.checksum &&
        !((w.checksum == 0 || w.checksum == 0xffff) && (v.checksum == 0 || v.checksum == 0xffff)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size < US_IGMP_LEN)
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
    struct us_igmp_view v;
    if (us_igmp_parse(copy, size, &v) != US_WIRE_OK)
        abort();
    check(copy, size);
    free(copy);
    return 0;
}
