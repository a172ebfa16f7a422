/* TCP sequence number arithmetic, modulo 2^32 (RFC 9293 §3.4): every
 * comparison of sequence numbers in ustack goes through these, as FreeBSD's
 * tcp_seq.h macros. a < b means "a comes before b" within half the space. */
#ifndef USTACK_TCP_SEQ_H
#define USTACK_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool us_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool us_seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline bool us_seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}
static inline bool us_seq_geq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}
/* a <= x < b, all modulo 2^32. */
static inline bool us_seq_in_window(uint32_t x, uint32_t a, uint32_t b)
{
    return x - a < b - a;
}
static inline uint32_t us_seq_max(uint32_t a, uint32_t b)
{
    return us_seq_gt(a, b) ? a : b;
}
static inline uint32_t us_seq_min(uint32_t a, uint32_t b)
{
    return us_seq_lt(a, b) ? a : b;
}

#endif
