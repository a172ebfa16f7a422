/* Ethernet II framing (no 802.1Q tags: a tagged frame shows its TPID as the
 * ethertype and the layer above drops it as unknown). */
#include <string.h>

#include "ustack/wire.h"
#include "wire/be.h"

int us_eth_parse(const uint8_t *buf, size_t len, struct us_eth_view *v)
{
    if (len < US_ETH_HLEN)
        return US_WIRE_TRUNCATED;
    memcpy(v->dst.b, buf, 6);
    memcpy(v->src.b, buf + 6, 6);
    v->ethertype = be16_load(buf + 12);
    /* Minimum-size padding stays in the payload; IPv4's total length
     * trims it (RFC 894). */
    v->payload = buf + US_ETH_HLEN;
    v->payload_len = len - US_ETH_HLEN;
    return US_WIRE_OK;
}

void us_eth_emit(uint8_t *buf, const struct us_mac *dst, const struct us_mac *src,
                 uint16_t ethertype)
{
    memcpy(buf, dst->b, 6);
    memcpy(buf + 6, src->b, 6);
    be16_store(buf + 12, ethertype);
}
