/* Services that `ustack tap --serve` runs on the stack. */
#ifndef USTACK_TOOLS_SERVE_H
#define USTACK_TOOLS_SERVE_H

#include "ustack/stack.h"

/* Parses "udp-echo[:PORT],udp-discard[:PORT]" and starts each service on s.
 * 0, or -1 after printing what is wrong. */
int serve_start(struct us_stack *s, const char *spec);

/* udp-echo or udp-discard on port; the socket's descriptor or -errno. */
int serve_udp(struct us_stack *s, const char *name, uint16_t port);

#endif
