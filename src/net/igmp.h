/* IGMPv2 host side (RFC 2236): the groups joined on an interface. */
#ifndef USTACK_NET_IGMP_H
#define USTACK_NET_IGMP_H

#include "ustack/wire.h"

/* Groups one interface can hold (Linux has no per-device limit; sockets are
 * limited by igmp_max_memberships). */
#define US_IFACE_MAX_GROUPS 64
/* Linux's net.ipv4.igmp_qrv (IGMP_QUERY_ROBUSTNESS_VARIABLE): unsolicited
 * reports sent on a join. */
#define US_IGMP_ROBUSTNESS 2
/* Linux's net.ipv4.conf.*.igmpv2_unsolicited_report_interval: 10 s (RFC 2236
 * §8.10 Unsolicited Report Interval). */
#define US_IGMP_UNSOLICITED_INTERVAL (10 * US_NS_PER_SEC)

/* Linux's struct ip_mc_list, trimmed to IGMPv2. */
struct us_mc_group {
    us_ip4 group;         /* 0: free slot */
    uint32_t users;       /* joined sockets (ip_mc_list.users) */
    us_time_ns report_at; /* the report timer; US_TIME_NEVER when stopped */
    uint8_t unsolicit_count;
    bool reporter; /* we sent the last report: leave sends a Leave Group */
};

#endif
