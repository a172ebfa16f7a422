/* IGMPv2 message parse and emit (RFC 2236 §2). */
#include "ustack/checksum.h"
#include "ustack/wire.h"
#include "wire/be.h"

int us_igmp_parse(const uint8_t *buf, size_t len, struct us_igmp_view *v)
{
    if (len < US_IGMP_LEN)
        return US_WIRE_TRUNCATED;
    /* RFC 2236 §2.3: the 16-bit one's complement of the one's complement sum
     * of the whole IGMP message (the entire IP payload). */
    if (us_inet_csum(buf, len) != 0)
        return US_WIRE_BAD_CSUM;
    v->type = buf[0];
    v->max_resp = buf[1];
    v->checksum = be16_load(buf + 2);
    v->group = be32_load(buf + 4);
    return US_WIRE_OK;
}

void us_igmp_emit(uint8_t *buf, uint8_t type, uint8_t max_resp, us_ip4 group)
{
    buf[0] = type;
    buf[1] = max_resp;
    be16_store(buf + 2, 0);
    be32_store(buf + 4, group);
    be16_store(buf + 2, us_inet_csum(buf, US_IGMP_LEN));
}
