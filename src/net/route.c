/* The routing table: on-link subnets and gateways, longest prefix first. */
#include "net/ip.h"

#include <errno.h>

int us_route_add(struct us_stack *s, us_ip4 dst, int prefix_len, us_ip4 gw, int ifindex)
{
    if (prefix_len < 0 || prefix_len > 32 || ifindex < 0 || ifindex >= s->n_ifaces)
        return -EINVAL;
    if (s->n_routes >= US_MAX_ROUTES)
        return -ENOSPC;
    us_ip4 mask = us_ip4_mask(prefix_len);
    if (gw) {
        /* The gateway itself must be on-link, as `ip route add` insists. */
        const struct us_iface *ifc = &s->ifaces[ifindex];
        if ((gw & ifc->mask) != (ifc->addr & ifc->mask))
            return -ENETUNREACH;
    }
    for (int i = 0; i < s->n_routes; i++)
        if (s->routes[i].dst == (dst & mask) && s->routes[i].prefix_len == prefix_len)
            return -EEXIST;
    s->routes[s->n_routes++] = (struct us_route){
        .dst = dst & mask, .mask = mask, .prefix_len = prefix_len, .gw = gw, .ifindex = ifindex};
    return 0;
}

const struct us_route *us_route_lookup(const struct us_stack *s, us_ip4 dst)
{
    const struct us_route *best = NULL;
    for (int i = 0; i < s->n_routes; i++) {
        const struct us_route *r = &s->routes[i];
        if ((dst & r->mask) == r->dst && (!best || r->prefix_len > best->prefix_len))
            best = r;
    }
    return best;
}
