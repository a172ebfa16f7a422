/* ARP: a packet that parses is Ethernet/IPv4, so emit must rebuild its 28
 * bytes exactly, and they must parse to the same view. */
#include <stdlib.h>
#include <string.h>

#include "ustack/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct us_arp_view v, w;
    int err = us_arp_parse(data, size, &v);
    if (err != US_WIRE_OK) {
        if (err != US_WIRE_TRUNCATED && err != US_WIRE_UNSUPPORTED)
            abort();
        return 0;
    }
    if (size < US_ARP_LEN)
        abort();

    uint8_t out[US_ARP_LEN];
    us_arp_emit(out, &v);
    if (memcmp(out, data, US_ARP_LEN) != 0)
        abort();
    if (us_arp_parse(out, sizeof out, &w) != US_WIRE_OK)
        abort();
    if (w.op != v.op || memcmp(w.sha.b, v.sha.b, 6) != 0 || memcmp(w.tha.b, v.tha.b, 6) != 0 ||
        w.spa != v.spa || w.tpa != v.tpa)
        abort();
    return 0;
}
