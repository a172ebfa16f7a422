/* The receive path: top half, backlog, bottom half, Ethernet input. */
#include "net/rx.h"

#include "net/ip.h"
#include "tcp/tcp.h"

#define US_RX_BURST 64
/* Frames the bottom half takes from the backlog at a time: their
 * connections are prefetched together (tcp_prefetch.c), then each frame
 * goes up the stack in order as before. */
#define US_RX_BATCH 64

bool us_rx_top_half(struct us_stack *s, us_time_ns now)
{
    bool budget_exhausted = false;
    struct us_pkt *burst[US_RX_BURST];
    s->mib.link.RxRounds++;
    for (int i = 0; i < s->n_ifaces; i++) {
        struct us_iface *ifc = &s->ifaces[i];
        int weight = s->sysctl.dev_weight;
        while (weight > 0) {
            int want = weight < US_RX_BURST ? weight : US_RX_BURST;
            int got = us_dev_rx_burst(ifc->dev, burst, want, now);
            for (int j = 0; j < got; j++) {
                struct us_pkt *p = burst[j];
                if (s->backlog.count >= (uint32_t)s->sysctl.netdev_max_backlog) {
                    /* Linux counts these in softnet_stat "dropped". */
                    ifc->dev->stats.rx_dropped++;
                    us_pkt_free(p);
                    continue;
                }
                p->ifindex = (int16_t)ifc->index;
                p->tstamp = now;
                us_pkt_queue_push(&s->backlog, p);
            }
            weight -= got;
            if (got < want)
                break;
        }
        if (weight <= 0) {
            s->mib.link.RxBudgetExhausted++;
            budget_exhausted = true;
        }
    }
    return budget_exhausted;
}

bool us_rx_bottom_half(struct us_stack *s, us_time_ns now)
{
    int budget = s->sysctl.netdev_budget;
    struct us_pkt *batch[US_RX_BATCH], *p;
    while (budget > 0 && s->backlog.count) {
        int n = 0;
        while (n < US_RX_BATCH && n < budget && (p = us_pkt_queue_pop(&s->backlog)))
            batch[n++] = p;
        budget -= n;
        us_tcp_prefetch_batch(s, batch, n);
        for (int i = 0; i < n; i++)
            us_eth_input(s, &s->ifaces[batch[i]->ifindex], batch[i]);
    }
    return s->backlog.count > 0;
}

static bool frame_is_for_us(const struct us_iface *ifc, const struct us_eth_view *eth)
{
    const uint8_t *a = eth->dst.b, *b = ifc->dev->mac.b;
    if (us_mac_is_multicast(&eth->dst))
        return true; /* broadcast, or a multicast group: IP decides */
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
           a[5] == b[5];
}

void us_eth_input(struct us_stack *s, struct us_iface *ifc, struct us_pkt *frame)
{
    struct us_eth_view eth;
    s->mib.link.InFrames++;
    if (us_eth_parse(frame->data, frame->len, &eth) != US_WIRE_OK) {
        s->mib.link.InErrors++;
        us_pkt_free(frame);
        return;
    }
    if (!frame_is_for_us(ifc, &eth)) {
        /* PACKET_OTHERHOST: a hub or a promiscuous tap showed us someone else's frame. */
        s->mib.link.InOtherHost++;
        us_pkt_free(frame);
        return;
    }
    if (us_mac_is_broadcast(&eth.dst))
        frame->pkt_type = US_PKT_BROADCAST;
    else if (us_mac_is_multicast(&eth.dst))
        frame->pkt_type = US_PKT_MULTICAST;
    switch (eth.ethertype) {
    case US_ETH_TYPE_ARP:
        us_arp_input(s, ifc, &eth);
        us_pkt_free(frame);
        break;
    case US_ETH_TYPE_IPV4:
        us_pkt_pull(frame, US_ETH_HLEN);
        us_ipv4_input(s, ifc, frame);
        break;
    default:
        s->mib.link.InUnknownEthertype++;
        us_pkt_free(frame);
    }
}
