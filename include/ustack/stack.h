/* A stack instance. No global state: everything hangs off struct us_stack,
 * so any number of stacks can share a process. Time is an argument: every
 * entry point takes `now`, and us_stack_poll returns the next deadline. */
#ifndef USTACK_STACK_H
#define USTACK_STACK_H

#include "ustack/dev.h"
#include "ustack/mib.h"
#include "ustack/sysctl.h"
#include "ustack/wire.h"

struct us_stack;

struct us_stack_config {
    const char *name;         /* for messages ("a", "b", the tap name) */
    uint64_t seed;            /* random key for hashes, ISNs, IP ids; 0 = from getrandom */
    unsigned pkt_count;       /* frame buffers in the pool (0 = 4096) */
    unsigned pkt_buf_size;    /* bytes per frame buffer (0 = 2048 + headroom) */
    unsigned large_pkt_count; /* 64 KiB buffers for whole datagrams (0 = 64) */
    /* The most frame buffers the pool may grow to, pkt_count more at a time
     * when all are in use, giving the growth back when the stack is idle
     * (us_stack_run). 0: pkt_count if that is given (a fixed pool), else
     * 16 times the default 4096. */
    unsigned pkt_max_count;
};

/* cfg may be NULL for the defaults. NULL on allocation failure. */
struct us_stack *us_stack_new(const struct us_stack_config *cfg);
/* Frees the stack, its interfaces and their devices. */
void us_stack_free(struct us_stack *s);
const char *us_stack_name(const struct us_stack *s);
/* The `now` of the round in progress (or of the last call that took one),
 * for code called back from inside the stack, such as readiness callbacks. */
us_time_ns us_stack_now(const struct us_stack *s);

/* Adds an interface on dev (the stack takes ownership of dev) with address
 * addr/prefix_len, and an on-link route for its subnet. Announces the address
 * with a gratuitous ARP. Returns the interface index (>= 0) or -errno. */
int us_iface_add(struct us_stack *s, struct us_dev *dev, us_ip4 addr, int prefix_len,
                 us_time_ns now);
struct us_dev *us_iface_dev(struct us_stack *s, int ifindex);
us_ip4 us_iface_addr(const struct us_stack *s, int ifindex);

/* Adds a route: dst/prefix_len via gw (0 for on-link) out of ifindex.
 * "default via G": us_route_add(s, 0, 0, G, ifindex). Returns 0 or -errno. */
int us_route_add(struct us_stack *s, us_ip4 dst, int prefix_len, us_ip4 gw, int ifindex);

/* Runs one round: the top half drains every device (dev_weight frames each),
 * the bottom half processes up to netdev_budget frames, timers fire, queued
 * frames go out. Returns the next time the stack needs a poll if nothing
 * arrives before (US_TIME_NEVER if none). Call again at once if the return
 * value is <= now. */
us_time_ns us_stack_poll(struct us_stack *s, us_time_ns now);

const struct us_mib *us_stack_mib(const struct us_stack *s);
/* Packet buffers currently taken from the stack's pools: 0 once the stack is
 * idle and every queue (ARP, reassembly, backlog) has drained. */
unsigned us_stack_pkts_in_use(const struct us_stack *s);
struct us_sysctl *us_stack_sysctl(struct us_stack *s);

/* ---- ICMP, the part applications see before there are sockets ---- */

/* Called for every ICMP message delivered to this host that the stack does
 * not answer itself (echo replies, destination unreachable, time exceeded...),
 * with the IPv4 header it came in and the parsed message. */
typedef void (*us_icmp_rx_fn)(void *ctx, const struct us_ipv4_view *ip,
                              const struct us_icmp_view *icmp, us_time_ns now);
void us_icmp_set_rx_handler(struct us_stack *s, us_icmp_rx_fn fn, void *ctx);

struct us_ip_send_opts {
    uint8_t ttl; /* 0 = net.ipv4.ip_default_ttl */
    uint8_t tos;
    bool df; /* don't fragment: -EMSGSIZE (and FragFails) if above the MTU */
    /* To a multicast group this host has joined on the outgoing interface:
     * don't deliver a copy locally (IP_MULTICAST_LOOP 0). */
    bool mc_noloop;
};
/* Sends an ICMP echo request with `len` bytes of payload (up to 65507).
 * 0, or -EMSGSIZE, -ENETUNREACH, -ENOBUFS. opts may be NULL. */
int us_icmp_echo_send(struct us_stack *s, us_ip4 dst, uint16_t id, uint16_t seq,
                      const void *payload, size_t len, const struct us_ip_send_opts *opts,
                      us_time_ns now);

/* ---- For tests: TCP initial sequence numbers ----
 * Normally RFC 6528's ISN = a 4 µs clock + a keyed hash of the 4-tuple.
 * A test that wants sequence numbers to wrap 2^32 early installs a hook
 * that returns the ISN for each new connection (active and passive).
 * fn NULL restores RFC 6528. Not for production use. */
typedef uint32_t (*us_tcp_isn_fn)(void *ctx, us_ip4 laddr, uint16_t lport, us_ip4 faddr,
                                  uint16_t fport);
void us_tcp_set_isn_hook(struct us_stack *s, us_tcp_isn_fn fn, void *ctx);

/* ---- Running on real time ----
 * (For application threads that block while a stack thread runs the
 * stacks, see ustack/thread.h.) */

/* The current CLOCK_MONOTONIC time in ns. Only drivers read the real clock. */
us_time_ns us_clock_now(void);
/* An application's work in the driver loop: called once per round, with the
 * stack between polls; returns when it next wants to run (US_TIME_NEVER:
 * only after the next event). */
typedef us_time_ns (*us_app_tick_fn)(void *ctx, struct us_stack *s, us_time_ns now);
/* Drives the stack on real time until *stop becomes non-zero: blocks in poll()
 * on the devices' descriptors until one is readable, the next deadline of
 * the stack or of tick (may be NULL), or a signal. */
int us_stack_run(struct us_stack *s, volatile int *stop, us_app_tick_fn tick, void *ctx);

/* ---- Running on a virtual clock ---- */

/* Polls every stack at the virtual time *now, then advances *now to the
 * earliest deadline, until no deadline is <= until; leaves *now = until. */
void us_sim_run(struct us_stack **stacks, int n, us_time_ns *now, us_time_ns until);

#endif
