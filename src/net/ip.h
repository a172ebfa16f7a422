/* The IPv4 layer's internal entry points, between the receive path, the
 * transport protocols and the neighbour layer. */
#ifndef USTACK_NET_IP_H
#define USTACK_NET_IP_H

#include "core/stack_impl.h"

/* Receive: pkt->data at the IPv4 header of a frame received on ifc. */
void us_ipv4_input(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt);

/* Send a transport payload: pkt->data at the transport header, with at least
 * US_IPV4_HLEN + US_ETH_HLEN of headroom. src 0 = the outgoing interface's
 * address. Routes, builds the header, fragments (or fails with -EMSGSIZE
 * under DF) and hands the result to ARP. Consumes pkt. 0 or -errno. */
int us_ipv4_output(struct us_stack *s, struct us_pkt *pkt, us_ip4 src, us_ip4 dst, uint8_t proto,
                   const struct us_ip_send_opts *opts);

/* Send a complete datagram (data at its IPv4 header, whose destination and
 * DF flag the caller passes rather than have them parsed again) out of ifc
 * towards nexthop, fragmenting it to the interface MTU when DF is clear.
 * Consumes pkt. */
int us_ipv4_send_on(struct us_stack *s, struct us_iface *ifc, struct us_pkt *pkt, us_ip4 dst,
                    bool df, us_ip4 nexthop);

/* Forward a datagram not addressed to us (net.ipv4.ip_forward=1). */
void us_ipv4_forward(struct us_stack *s, struct us_iface *in, struct us_pkt *pkt,
                     const struct us_ipv4_view *ip);

/* Longest-prefix match; NULL if no route. */
const struct us_route *us_route_lookup(const struct us_stack *s, us_ip4 dst);
/* Whether dst is a broadcast address for ifc (limited or subnet-directed). */
bool us_ipv4_is_broadcast(const struct us_iface *ifc, us_ip4 dst);

/* ICMP */
void us_icmp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip);
/* Sends an ICMP error about orig (data at its IPv4 header), following RFC 1122
 * §3.2.2: never about an ICMP error, a non-first fragment, a broadcast or
 * multicast datagram, or from an invalid source; rate limited. Does not
 * consume orig. */
void us_icmp_send_error(struct us_stack *s, const struct us_pkt *orig, uint8_t type, uint8_t code,
                        uint32_t rest);

/* IGMPv2 (net/igmp.c) */
/* Whether the interface has joined group (224.0.0.1 always): Linux's
 * ip_check_mc_rcu. */
bool us_igmp_is_member(const struct us_iface *ifc, us_ip4 group);
/* A socket joins group on ifc: the first one makes the interface a member
 * and sends an unsolicited report. 0 or -ENOBUFS (no free group slot). */
int us_igmp_join(struct us_stack *s, struct us_iface *ifc, us_ip4 group);
/* A socket leaves: the last one sends a Leave Group if we were the last
 * reporter, unless quiet (the stack is going away). */
void us_igmp_leave(struct us_stack *s, struct us_iface *ifc, us_ip4 group, bool quiet);
/* An IGMP message (consumes pkt). */
void us_igmp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip);
/* Sends the reports whose timers expired; the next timer. */
us_time_ns us_igmp_timers(struct us_stack *s, us_time_ns now);

/* Transports */
void us_udp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip,
                  bool to_broadcast);
/* An ICMP error (destination unreachable...) that quotes a UDP datagram we
 * sent, with the quoted header parsed (us_ipv4_parse_quoted), as Linux's
 * __udp4_lib_err. */
void us_udp_err(struct us_stack *s, const struct us_icmp_view *icmp,
                const struct us_ipv4_view *quoted);
void us_tcp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip);
/* The same for TCP (tcp_v4_err): path MTU discovery from "fragmentation
 * needed", connection errors from the others. */
void us_tcp_err(struct us_stack *s, const struct us_icmp_view *icmp,
                const struct us_ipv4_view *quoted);
/* The errno of a destination unreachable code, 0 for an unknown code, and
 * whether it is fatal (Linux's icmp_err_convert). */
int us_icmp_unreach_errno(uint8_t code, bool *fatal);

#endif
