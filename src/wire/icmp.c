/* ICMP message header parse and emit (RFC 792). */
#include "ustack/checksum.h"
#include "ustack/wire.h"
#include "wire/be.h"

int us_icmp_parse(const uint8_t *buf, size_t len, struct us_icmp_view *v)
{
    if (len < US_ICMP_HLEN)
        return US_WIRE_TRUNCATED;
    /* RFC 792: the checksum covers the whole message, header and data. */
    if (us_inet_csum(buf, len) != 0)
        return US_WIRE_BAD_CSUM;
    v->type = buf[0];
    v->code = buf[1];
    v->checksum = be16_load(buf + 2);
    v->rest = be32_load(buf + 4);
    v->payload = buf + US_ICMP_HLEN;
    v->payload_len = len - US_ICMP_HLEN;
    return US_WIRE_OK;
}

void us_icmp_emit(uint8_t *msg, size_t msg_len, uint8_t type, uint8_t code, uint32_t rest)
{
    msg[0] = type;
    msg[1] = code;
    be16_store(msg + 2, 0);
    be32_store(msg + 4, rest);
    be16_store(msg + 2, us_inet_csum(msg, msg_len));
}
