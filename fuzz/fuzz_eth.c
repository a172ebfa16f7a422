/* Ethernet: a frame that parses is rebuilt byte for byte by emit, and the
 * rebuilt frame parses to the same view. Only frames shorter than the
 * header may fail. */
#include <stdlib.h>
#include <string.h>

#include "ustack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct us_eth_view v, w;
    int err = us_eth_parse(data, size, &v);
    if (err != US_WIRE_OK) {
        if (err != US_WIRE_TRUNCATED || size >= US_ETH_HLEN)
            abort();
        return 0;
    }
    if (v.payload != data + US_ETH_HLEN || v.payload_len != size - US_ETH_HLEN)
        abort();

    uint8_t *out = malloc(size);
    if (out == NULL)
        return 0;
    us_eth_emit(out, &v.dst, &v.src, v.ethertype);
    memcpy(out + US_ETH_HLEN, v.payload, v.payload_len);
    if (memcmp(out, data, size) != 0)
        abort();
    if (us_eth_parse(out, size, &w) != US_WIRE_OK)
        abort();
    if (memcmp(w.dst.b, v.dst.b, 6) != 0 || memcmp(w.src.b, v.src.b, 6) != 0 ||
        w.ethertype != v.ethertype || w.payload_len != v.payload_len)
        abort();
    free(out);
    return 0;
}
