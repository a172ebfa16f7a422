/* Text forms of IPv4 and MAC addresses, and the IPv4 multicast MAC mapping. */
#include <stdio.h>
#include <string.h>

#include "ustack/wire.h"

/* One decimal part 0..255 starting at *s. Strict: digits only, no sign, and
 * no leading zero (inet_aton would read "010" as octal 8; we refuse it
 * rather than guess). Advances *s past the digits. */
static int parse_octet(const char **s, unsigned *out)
{
    const char *p = *s;
    unsigned v = 0;
    int n = 0;

    while (*p >= '0' && *p <= '9') {
        if (n == 3)
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
        p++;
        n++;
    }
    if (n == 0 || v > 255 || (n > 1 && **s == '0'))
        return -1;
    *s = p;
    *out = v;
    return 0;
}

/* Parses the dotted quad at s; *end gets the first character after it. */
static int parse_quad(const char *s, const char **end, us_ip4 *out)
{
    us_ip4 a = 0;

    for (int i = 0; i < 4; i++) {
        unsigned octet;
        if (i > 0) {
            if (*s != '.')
                return -1;
            s++;
        }
        if (parse_octet(&s, &octet) < 0)
            return -1;
        a = (a << 8) | octet;
    }
    *end = s;
    *out = a;
    return 0;
}

int us_ip4_parse(const char *s, us_ip4 *out)
{
    const char *end;
    us_ip4 a;

    if (s == NULL || parse_quad(s, &end, &a) < 0 || *end != '\0')
        return -1;
    *out = a;
    return 0;
}

int us_ip4_parse_prefix(const char *s, us_ip4 *addr, int *prefix_len)
{
    const char *end;
    us_ip4 a;
    unsigned n;

    if (s == NULL || parse_quad(s, &end, &a) < 0 || *end != '/')
        return -1;
    end++;
    /* Same strict decimal rules as an octet, then 0..32. */
    if (parse_octet(&end, &n) < 0 || n > 32 || *end != '\0')
        return -1;
    *addr = a;
    *prefix_len = (int)n;
    return 0;
}

char *us_ip4_fmt(us_ip4 a, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 0xffu,
             (unsigned)(a >> 8) & 0xffu, (unsigned)a & 0xffu);
    return buf;
}

char *us_mac_fmt(const struct us_mac *m, char *buf)
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1], m->b[2], m->b[3], m->b[4],
             m->b[5]);
    return buf;
}

void us_mac_from_ip4_multicast(us_ip4 group, struct us_mac *out)
{
    /* RFC 1112 §6.4: 01-00-5E-00-00-00 plus the low 23 bits of the group. */
    out->b[0] = 0x01;
    out->b[1] = 0x00;
    out->b[2] = 0x5e;
    out->b[3] = (uint8_t)((group >> 16) & 0x7f);
    out->b[4] = (uint8_t)(group >> 8);
    out->b[5] = (uint8_t)group;
}
