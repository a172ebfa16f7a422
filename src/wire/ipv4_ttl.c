/* The one header rewrite a router does on every datagram. */
#include "ustack/checksum.h"
#include "ustack/wire.h"

void us_ipv4_decrement_ttl(uint8_t *buf)
{
    /* Bytes 8-9 are TTL and protocol; bytes 10-11 the header checksum. */
    uint16_t old_word = (uint16_t)(buf[8] << 8 | buf[9]);
    buf[8]--;
    uint16_t new_word = (uint16_t)(buf[8] << 8 | buf[9]);
    uint16_t csum = (uint16_t)(buf[10] << 8 | buf[11]);
    csum = us_csum_update16(csum, old_word, new_word);
    buf[10] = (uint8_t)(csum >> 8);
    buf[11] = (uint8_t)csum;
}
