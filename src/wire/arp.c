/* ARP for IPv4 over Ethernet (RFC 826). */
#include <string.h>

#include "ustack/wire.h"
#include "wire/be.h"

#define ARP_HTYPE_ETHER 1

int us_arp_parse(const uint8_t *buf, size_t len, struct us_arp_view *v)
{
    /* The fixed part says which hardware and protocol this is; only then
     * do we know the packet's length. */
    if (len < 8)
        return US_WIRE_TRUNCATED;
    if (be16_load(buf) != ARP_HTYPE_ETHER || be16_load(buf + 2) != US_ETH_TYPE_IPV4 ||
        buf[4] != 6 || buf[5] != 4)
        return US_WIRE_UNSUPPORTED;
    if (len < US_ARP_LEN)
        return US_WIRE_TRUNCATED;
    /* Any opcode is returned: the ARP module answers requests, learns from
     * replies and counts the rest. */
    v->op = be16_load(buf + 6);
    memcpy(v->sha.b, buf + 8, 6);
    v->spa = be32_load(buf + 14);
    memcpy(v->tha.b, buf + 18, 6);
    v->tpa = be32_load(buf + 24);
    return US_WIRE_OK;
}

void us_arp_emit(uint8_t *buf, const struct us_arp_view *v)
{
    be16_store(buf, ARP_HTYPE_ETHER);
    be16_store(buf + 2, US_ETH_TYPE_IPV4);
    buf[4] = 6;
    buf[5] = 4;
    be16_store(buf + 6, v->op);
    memcpy(buf + 8, v->sha.b, 6);
    be32_store(buf + 14, v->spa);
    memcpy(buf + 18, v->tha.b, 6);
    be32_store(buf + 24, v->tpa);
}
