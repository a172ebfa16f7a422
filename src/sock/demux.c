/* UDP demultiplexing: the port table, as Linux's udp_table.
 *
 * Sockets hang in hash chains keyed by local port, the hash keyed with the
 * stack's random hash_key so a peer cannot aim every port at one chain
 * (Linux's udp_hashfn uses net_hash_mix for the same reason). A datagram
 * is given to the best-scoring socket of its port's chain, following
 * compute_score in net/ipv4/udp.c: a socket bound to the destination address
 * beats one bound to INADDR_ANY, and a connected socket matches only its peer
 * and scores above an unconnected one. The TCP issue adds its established
 * 4-tuple table and listener table beside this one. */
#include "sock/sock.h"

#include <errno.h>

static unsigned udp_hashfn(const struct us_stack *s, uint16_t port)
{
    uint64_t h = (s->hash_key ^ port) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> 32) & (US_UDP_HTABLE_SIZE - 1);
}

/* Linux's udp_lib_lport_inuse: sk2 already holds the port. The two conflict
 * unless both set SO_REUSEADDR or they are bound to different specific
 * addresses. */
static bool lport_conflict(const struct us_sock *sk, us_ip4 addr, const struct us_sock *sk2)
{
    if (sk2 == sk)
        return false;
    if (sk->reuseaddr && sk2->reuseaddr)
        return false;
    return !sk2->rcv_saddr || !addr || sk2->rcv_saddr == addr;
}

static bool port_in_use(struct us_stack *s, const struct us_sock *sk, us_ip4 addr, uint16_t port)
{
    for (struct us_sock *sk2 = s->socks->udp_hash[udp_hashfn(s, port)]; sk2; sk2 = sk2->hash_next)
        if (sk2->num == port && lport_conflict(sk, addr, sk2))
            return true;
    return false;
}

int us_udp_hash_bind(struct us_stack *s, struct us_sock *sk, us_ip4 addr, uint16_t port)
{
    if (port == 0) {
        /* udp_lib_get_port: a random start in ip_local_port_range, then
         * every port of the range once. */
        int low = s->sysctl.ip_local_port_range[0], high = s->sysctl.ip_local_port_range[1];
        uint32_t remaining = (uint32_t)(high - low + 1);
        uint32_t off = (uint32_t)us_rng_below(&s->rng, remaining);
        for (uint32_t i = 0; i < remaining; i++) {
            uint16_t p = (uint16_t)(low + (off + i) % remaining);
            if (!port_in_use(s, sk, addr, p)) {
                port = p;
                break;
            }
        }
        if (port == 0)
            return -EAGAIN; /* Linux: the range is exhausted */
    } else if (port_in_use(s, sk, addr, port)) {
        return -EADDRINUSE;
    }
    sk->rcv_saddr = addr;
    sk->num = port;
    struct us_sock **head = &s->socks->udp_hash[udp_hashfn(s, port)];
    sk->hash_next = *head;
    *head = sk;
    sk->hashed = true;
    return 0;
}

void us_udp_unhash(struct us_stack *s, struct us_sock *sk)
{
    if (!sk->hashed)
        return;
    for (struct us_sock **pp = &s->socks->udp_hash[udp_hashfn(s, sk->num)]; *pp;
         pp = &(*pp)->hash_next) {
        if (*pp == sk) {
            *pp = sk->hash_next;
            break;
        }
    }
    sk->hash_next = NULL;
    sk->hashed = false;
}

/* compute_score (net/ipv4/udp.c): -1 if sk cannot take the datagram, else
 * higher for every field it matches exactly. */
static int compute_score(const struct us_sock *sk, us_ip4 saddr, uint16_t sport, us_ip4 daddr,
                         uint16_t dport)
{
    if (sk->num != dport)
        return -1;
    int score = 2; /* PF_INET */
    if (sk->rcv_saddr) {
        if (sk->rcv_saddr != daddr)
            return -1;
        score += 4;
    }
    if (sk->daddr) {
        if (sk->daddr != saddr)
            return -1;
        score += 4;
    }
    if (sk->dport) {
        if (sk->dport != sport)
            return -1;
        score += 4;
    }
    return score;
}

struct us_sock *us_udp_lookup(struct us_stack *s, us_ip4 saddr, uint16_t sport, us_ip4 daddr,
                              uint16_t dport)
{
    struct us_sock *best = NULL;
    int best_score = -1;
    /* Chains are pushed at the head, so among equals (SO_REUSEADDR) the
     * socket bound last wins. */
    for (struct us_sock *sk = s->socks->udp_hash[udp_hashfn(s, dport)]; sk; sk = sk->hash_next) {
        int score = compute_score(sk, saddr, sport, daddr, dport);
        if (score > best_score) {
            best = sk;
            best_score = score;
        }
    }
    return best;
}

bool us_sock_mc_allow(const struct us_sock *sk, us_ip4 group, int ifindex)
{
    if (!us_ip4_is_multicast(group))
        return true;
    const struct us_sock_mc *mc = sk->mc;
    for (int i = 0; mc && i < mc->count; i++)
        if (mc->list[i].group == group && mc->list[i].ifindex == ifindex)
            return true;
    /* Not joined by this socket: inet->mc_all (IP_MULTICAST_ALL) decides. */
    return sk->mc_all;
}

int us_udp_lookup_all(struct us_stack *s, us_ip4 saddr, uint16_t sport, us_ip4 daddr,
                      uint16_t dport, int ifindex, void (*fn)(void *ctx, struct us_sock *sk),
                      void *ctx)
{
    /* __udp_is_mcast_sock: the port, a bound address of 0 or the
     * destination itself, and the peer if connected. fn may free a socket
     * (through the application's callback), so the chain is walked into a
     * small array first. */
    struct us_sock *match[64];
    int n = 0;
    for (struct us_sock *sk = s->socks->udp_hash[udp_hashfn(s, dport)]; sk && n < 64;
         sk = sk->hash_next)
        if (sk->num == dport && (!sk->rcv_saddr || sk->rcv_saddr == daddr) &&
            (!sk->daddr || sk->daddr == saddr) && (!sk->dport || sk->dport == sport) &&
            us_sock_mc_allow(sk, daddr, ifindex))
            match[n++] = sk;
    if (!fn)
        return n;
    int fds[64];
    for (int i = 0; i < n; i++)
        fds[i] = match[i]->fd;
    for (int i = 0; i < n; i++) {
        struct us_sock *sk = us_sock_get(s, fds[i]);
        if (sk == match[i])
            fn(ctx, sk);
    }
    return n;
}
