/* IGMPv2, the host side (RFC 2236 §3), as Linux's net/ipv4/igmp.c runs it in
 * IGMPv2 mode: per-interface group membership counted in joined sockets,
 * unsolicited reports on a join, a Leave Group when the last socket leaves,
 * and reports in answer to queries after a random delay, suppressed when
 * another member reports first. Timers run on the stack's virtual clock and
 * feed us_stack_poll's deadline. */
#include "net/ip.h"

#include <errno.h>

bool us_igmp_is_member(const struct us_iface *ifc, us_ip4 group)
{
    if (group == US_IGMP_ALL_HOSTS)
        return true; /* every host is a member of all-hosts (RFC 1112 §4) */
    for (int i = 0; i < US_IFACE_MAX_GROUPS; i++)
        if (ifc->mc[i].group == group)
            return true;
    return false;
}

static struct us_mc_group *find_group(struct us_iface *ifc, us_ip4 group)
{
    for (int i = 0; i < US_IFACE_MAX_GROUPS; i++)
        if (ifc->mc[i].group == group)
            return &ifc->mc[i];
    return NULL;
}

/* igmp_send_report: an IGMPv2 message from the interface's address with
 * TTL 1 and the Router Alert option (RFC 2236 §2), as Linux sends it. Reports
 * go to the group itself, a Leave Group to all-routers (§3). */
static void send_igmp(struct us_stack *s, struct us_iface *ifc, uint8_t type, us_ip4 group)
{
    us_ip4 dst = type == US_IGMP_LEAVE ? US_IGMP_ALL_ROUTERS : group;
    size_t hlen = US_IPV4_HLEN + US_IPOPT_RA_LEN;
    struct us_pkt *pkt = us_stack_pkt_alloc(s, hlen + US_IGMP_LEN + US_ETH_HLEN);
    s->mib.ip.OutRequests++;
    if (!pkt) {
        s->mib.ip.OutDiscards++;
        return;
    }
    uint8_t *h = us_pkt_put(pkt, (uint32_t)(hlen + US_IGMP_LEN));
    struct us_ipv4_repr r = {
        .tos = 0xc0, /* Linux: IPTOS_PREC_INTERNETCONTROL */
        .total_len = (uint16_t)(hlen + US_IGMP_LEN),
        .id = s->ip_id_next++,
        .df = true,
        .ttl = 1,
        .proto = US_IPPROTO_IGMP,
        .src = ifc->addr,
        .dst = dst,
    };
    us_ipv4_emit_opts(h, &r, us_ipopt_router_alert, US_IPOPT_RA_LEN);
    us_igmp_emit(h + hlen, type, 0, group);
    us_ipv4_send_on(s, ifc, pkt, r.dst, r.df, dst);
}

/* igmp_start_timer: a report after a random delay in [0, max_delay). */
static void start_timer(struct us_stack *s, struct us_mc_group *g, us_time_ns max_delay)
{
    us_time_ns delay = max_delay ? (us_time_ns)us_rng_below(&s->rng, max_delay) : 0;
    g->report_at = s->now + delay;
    s->igmp_next_timer = us_time_min(s->igmp_next_timer, g->report_at);
}

/* igmp_stop_timer: another member answered, or the group is going away. */
static void stop_timer(struct us_mc_group *g)
{
    g->report_at = US_TIME_NEVER;
    g->reporter = false;
    g->unsolicit_count = 0;
}

int us_igmp_join(struct us_stack *s, struct us_iface *ifc, us_ip4 group)
{
    struct us_mc_group *g = find_group(ifc, group);
    if (g) {
        g->users++;
        return 0;
    }
    g = find_group(ifc, 0);
    if (!g)
        return -ENOBUFS;
    *g = (struct us_mc_group){.group = group, .users = 1, .report_at = US_TIME_NEVER};
    if (group == US_IGMP_ALL_HOSTS)
        return 0; /* igmp_group_added: never reported */
    /* RFC 2236 §3: "When a host joins a multicast group, it should
     * immediately transmit an unsolicited Version 2 Membership Report ...
     * repeat once or twice after short delays". Linux repeats it until
     * igmp_qrv reports are sent, each after a random delay of up to the
     * Unsolicited Report Interval. */
    send_igmp(s, ifc, US_IGMPV2_REPORT, group);
    g->reporter = true;
    g->unsolicit_count = US_IGMP_ROBUSTNESS - 1;
    if (g->unsolicit_count)
        start_timer(s, g, US_IGMP_UNSOLICITED_INTERVAL);
    return 0;
}

void us_igmp_leave(struct us_stack *s, struct us_iface *ifc, us_ip4 group, bool quiet)
{
    struct us_mc_group *g = find_group(ifc, group);
    if (!g || --g->users > 0)
        return;
    /* igmp_group_dropped (IGMPv2): a Leave Group only if we were the last
     * host to report (RFC 2236 §3, "the flag"). */
    if (!quiet && g->reporter && group != US_IGMP_ALL_HOSTS)
        send_igmp(s, ifc, US_IGMP_LEAVE, group);
    *g = (struct us_mc_group){0};
}

/* igmp_heard_query (IGMPv2): a general query (group 0) arms a timer for
 * every group of the interface, a group-specific one for its group; a timer
 * already running is kept if it expires sooner (RFC 2236 §3). */
static void heard_query(struct us_stack *s, struct us_iface *ifc, const struct us_igmp_view *q)
{
    /* Max Resp Time is in units of 1/10 s; 0 is an IGMPv1 query, answered
     * within IGMP_QUERY_RESPONSE_INTERVAL (10 s). */
    us_time_ns max_delay =
        q->max_resp ? (us_time_ns)q->max_resp * (US_NS_PER_SEC / 10) : 10 * US_NS_PER_SEC;
    for (int i = 0; i < US_IFACE_MAX_GROUPS; i++) {
        struct us_mc_group *g = &ifc->mc[i];
        if (!g->group || g->group == US_IGMP_ALL_HOSTS)
            continue;
        if (q->group && q->group != g->group)
            continue;
        if (g->report_at != US_TIME_NEVER && g->report_at <= s->now + max_delay)
            continue; /* igmp_mod_timer: keep the earlier one */
        start_timer(s, g, max_delay);
    }
}

void us_igmp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip)
{
    struct us_igmp_view v;
    struct us_iface *ifc = &s->ifaces[pkt->ifindex];
    if (us_igmp_parse(ip->payload, ip->payload_len, &v) == US_WIRE_OK) {
        switch (v.type) {
        case US_IGMP_QUERY:
            heard_query(s, ifc, &v);
            break;
        case US_IGMPV1_REPORT:
        case US_IGMPV2_REPORT: {
            /* igmp_heard_report: another member reported the group; ours
             * is suppressed (RFC 2236 §3). A report of our own looped back
             * never arrives here: IGMP is sent without loopback. */
            struct us_mc_group *g = find_group(ifc, v.group);
            if (g && g->group != US_IGMP_ALL_HOSTS && ip->src != ifc->addr)
                stop_timer(g);
            break;
        }
        default:
            break; /* leaves and IGMPv3 reports are for routers */
        }
    }
    us_pkt_free(pkt);
}

us_time_ns us_igmp_timers(struct us_stack *s, us_time_ns now)
{
    /* Every timer is at or after igmp_next_timer (start_timer lowers it;
     * a stopped timer leaves it early, which costs one walk). */
    if (now < s->igmp_next_timer)
        return s->igmp_next_timer;
    s->igmp_next_timer = US_TIME_NEVER;
    us_time_ns next = US_TIME_NEVER;
    for (int i = 0; i < s->n_ifaces; i++) {
        struct us_iface *ifc = &s->ifaces[i];
        for (int j = 0; j < US_IFACE_MAX_GROUPS; j++) {
            struct us_mc_group *g = &ifc->mc[j];
            if (!g->group || g->report_at == US_TIME_NEVER)
                continue;
            if (g->report_at > now) {
                next = us_time_min(next, g->report_at);
                continue;
            }
            /* igmp_timer_expire: report, and repeat while unsolicited
             * reports remain. */
            g->report_at = US_TIME_NEVER;
            send_igmp(s, ifc, US_IGMPV2_REPORT, g->group);
            g->reporter = true;
            if (g->unsolicit_count && --g->unsolicit_count) {
                start_timer(s, g, US_IGMP_UNSOLICITED_INTERVAL);
                next = us_time_min(next, g->report_at);
            }
        }
    }
    /* What the walk sent may have started timers (start_timer) too. */
    s->igmp_next_timer = us_time_min(s->igmp_next_timer, next);
    return s->igmp_next_timer;
}
