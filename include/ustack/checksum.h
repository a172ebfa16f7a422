/* The Internet checksum (RFC 1071) and its incremental update (RFC 1624). */
#ifndef USTACK_CHECKSUM_H
#define USTACK_CHECKSUM_H

#include "ustack/types.h"

/* One's-complement sum of buf added to sum, not yet folded. Byte order: the
 * sum is of big-endian 16-bit words, returned in host order once folded.
 * Works for any alignment and length; fast for long buffers. Chained calls
 * must pass even lengths for all but the last. */
uint32_t us_csum_partial(const void *buf, size_t len, uint32_t sum);
/* Folds a partial sum to 16 bits (not complemented). */
uint16_t us_csum_fold(uint32_t sum);
/* The checksum field value for buf: ~fold(sum). 0 over a buffer whose
 * checksum field is correct means "valid". */
uint16_t us_inet_csum(const void *buf, size_t len);
/* Partial sum of the IPv4 pseudo header (RFC 768, RFC 9293 §3.1). */
uint32_t us_csum_pseudo(us_ip4 src, us_ip4 dst, uint8_t proto, uint16_t l4_len);
/* RFC 1624 eqn. 3: the new checksum field after a 16-bit word changes from
 * old_word to new_word, without summing the packet again. */
uint16_t us_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word);
uint16_t us_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val);

#endif
