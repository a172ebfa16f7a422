/* Basic types shared by every layer: time, addresses. */
#ifndef USTACK_TYPES_H
#define USTACK_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Time is an argument: every entry point takes `now` in nanoseconds on the
 * caller's clock (virtual in simulations, CLOCK_MONOTONIC in the driver). */
typedef uint64_t us_time_ns;
#define US_TIME_NEVER UINT64_MAX
#define US_NS_PER_MS  1000000ull
#define US_NS_PER_SEC 1000000000ull

static inline us_time_ns us_time_min(us_time_ns a, us_time_ns b)
{
    return a < b ? a : b;
}

/* IPv4 addresses are kept in host byte order everywhere above the wire layer. */
typedef uint32_t us_ip4;
#define US_IP4(a, b, c, d)                                                                         \
    ((us_ip4)(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d)))
#define US_IP4_ANY       0u
#define US_IP4_BROADCAST 0xffffffffu

struct us_mac {
    uint8_t b[6];
};

/* "a.b.c.d" into *out; 0 on success, -1 on a malformed address. */
int us_ip4_parse(const char *s, us_ip4 *out);
/* "a.b.c.d/n" into address and prefix length; 0 or -1. */
int us_ip4_parse_prefix(const char *s, us_ip4 *addr, int *prefix_len);
/* Formats into buf (at least 16 bytes); returns buf. */
char *us_ip4_fmt(us_ip4 a, char *buf);
/* Formats "aa:bb:cc:dd:ee:ff" into buf (at least 18 bytes); returns buf. */
char *us_mac_fmt(const struct us_mac *m, char *buf);

static inline us_ip4 us_ip4_mask(int prefix_len)
{
    return prefix_len <= 0 ? 0
                           : (prefix_len >= 32 ? 0xffffffffu : ~((1u << (32 - prefix_len)) - 1));
}

static inline bool us_ip4_is_multicast(us_ip4 a)
{
    return (a >> 28) == 0xe;
}

#endif
