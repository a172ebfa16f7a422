/* UDP header parse and emit (RFC 768). */
#include "ustack/checksum.h"
#include "ustack/wire.h"
#include "wire/be.h"

int us_udp_parse(const uint8_t *buf, size_t len, us_ip4 src, us_ip4 dst, unsigned flags,
                 struct us_udp_view *v)
{
    if (len < US_UDP_HLEN)
        return US_WIRE_TRUNCATED;
    uint16_t length = be16_load(buf + 4);
    if (length < US_UDP_HLEN)
        return US_WIRE_BAD_LENGTH;
    /* A length shorter than the IP payload is allowed: the rest is ignored,
     * as Linux trims it. A longer one means the datagram was cut. */
    if (length > len)
        return US_WIRE_TRUNCATED;

    uint16_t csum = be16_load(buf + 6);
    /* RFC 768: a zero checksum field means the sender computed none. */
    if (csum != 0 && !(flags & US_WIRE_CSUM_VALID)) {
        uint32_t sum = us_csum_pseudo(src, dst, US_IPPROTO_UDP, length);
        if (us_csum_fold(us_csum_partial(buf, length, sum)) != 0xffff)
            return US_WIRE_BAD_CSUM;
    }

    v->sport = be16_load(buf);
    v->dport = be16_load(buf + 2);
    v->length = length;
    v->checksum = csum;
    v->payload = buf + US_UDP_HLEN;
    v->payload_len = (size_t)length - US_UDP_HLEN;
    return US_WIRE_OK;
}

void us_udp_emit(uint8_t *seg, size_t seg_len, uint16_t sport, uint16_t dport, us_ip4 src,
                 us_ip4 dst)
{
    be16_store(seg, sport);
    be16_store(seg + 2, dport);
    be16_store(seg + 4, (uint16_t)seg_len);
    be16_store(seg + 6, 0);
    uint32_t sum = us_csum_pseudo(src, dst, US_IPPROTO_UDP, (uint16_t)seg_len);
    uint16_t csum = (uint16_t)~us_csum_fold(us_csum_partial(seg, seg_len, sum));
    /* RFC 768: a computed zero is sent as all ones, since zero means "none". */
    be16_store(seg + 6, csum == 0 ? 0xffff : csum);
}
