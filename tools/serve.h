/* Services that `ustack tap --serve` runs on the stack. */
#ifndef USTACK_TOOLS_SERVE_H
#define USTACK_TOOLS_SERVE_H

#include "ustack/stack.h"

#define SERVE_MAX 8

struct udp_service;

/* The services one stack runs. */
struct serve_set {
    struct udp_service *udp[SERVE_MAX];
    int n_udp;
};

/* Parses "udp-echo[:PORT],udp-discard[:PORT]" and starts each service on s,
 * recording it in set. 0, or -1 after printing what is wrong (what started
 * stays in set, for serve_stop). */
int serve_start(struct us_stack *s, const char *spec, struct serve_set *set);
/* Closes every service's socket and frees it. */
void serve_stop(struct us_stack *s, struct serve_set *set);

/* udp-echo or udp-discard on port: the service, or NULL with *err = -errno. */
struct udp_service *serve_udp(struct us_stack *s, const char *name, uint16_t port, int *err);
void serve_udp_free(struct us_stack *s, struct udp_service *svc);

#endif
