/* The receive path, structured as the kernel structures it:
 *   top half    — drains each device's receive ring into the backlog fast,
 *                 at most dev_weight frames per device per round (NAPI);
 *   bottom half — protocol processing of up to netdev_budget frames a round.
 * The backlog between them is bounded by netdev_max_backlog. */
#ifndef USTACK_NET_RX_H
#define USTACK_NET_RX_H

#include "core/stack_impl.h"

/* Returns true if some device filled its budget (more frames may wait). */
bool us_rx_top_half(struct us_stack *s, us_time_ns now);
/* Returns true if the backlog still holds frames after the budget ran out. */
bool us_rx_bottom_half(struct us_stack *s, us_time_ns now);
/* Ethernet input of one frame received on ifc (data at the Ethernet header). */
void us_eth_input(struct us_stack *s, struct us_iface *ifc, struct us_pkt *frame);

#endif
