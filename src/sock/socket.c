/* The socket API (include/ustack/socket.h): the per-stack descriptor table
 * and the calls that do not move data through a protocol. */
#include "sock/sock.h"

#include "net/ip.h"
#include "tcp/tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int us_sock_table_init(struct us_stack *s)
{
    s->socks = calloc(1, sizeof(*s->socks));
    return s->socks ? 0 : -ENOMEM;
}

/* ip_mc_drop_socket: a closing socket leaves every group it joined; quiet
 * when the whole stack is being freed (its devices are already gone). */
static void mc_drop_all(struct us_stack *s, struct us_sock *sk, bool quiet)
{
    struct us_sock_mc *mc = sk->mc;
    for (int i = 0; mc && i < mc->count; i++)
        us_igmp_leave(s, &s->ifaces[mc->list[i].ifindex], mc->list[i].group, quiet);
    free(mc);
    sk->mc = NULL;
    if (!quiet)
        us_iface_flush(s);
}

static void sock_destroy(struct us_stack *s, struct us_sock *sk, bool quiet)
{
    mc_drop_all(s, sk, quiet);
    if (sk->type == US_SOCK_STREAM)
        us_tcp_sock_close(s, sk, quiet); /* the connection may live on */
    else
        us_udp_unhash(s, sk);
    us_sock_purge(sk);
    s->socks->fds[sk->fd] = NULL;
    if (sk->fd < s->socks->free_hint)
        s->socks->free_hint = sk->fd;
    us_sock_put(sk); /* a thread asleep in a receive on sk frees it when it wakes */
}

void us_sock_table_free(struct us_stack *s)
{
    if (!s->socks)
        return;
    for (int i = 0; i < s->socks->nfds; i++)
        if (s->socks->fds[i])
            sock_destroy(s, s->socks->fds[i], true);
    free(s->socks->fds);
    free(s->socks);
    s->socks = NULL;
}

struct us_sock *us_sock_get(struct us_stack *s, int fd)
{
    if (fd < 0 || fd >= s->socks->nfds)
        return NULL;
    return s->socks->fds[fd];
}

struct us_sock *us_sock_alloc(struct us_stack *s, int type)
{
    struct us_sock_table *t = s->socks;
    /* The lowest free descriptor, as POSIX; the search starts at the
     * lowest that may be free, so a million sockets cost no quadratic scan. */
    int fd = t->free_hint;
    while (fd < t->nfds && t->fds[fd])
        fd++;
    if (fd == t->nfds) {
        int n = t->nfds ? 2 * t->nfds : 16;
        struct us_sock **fds = realloc(t->fds, (size_t)n * sizeof(*fds));
        if (!fds)
            return NULL;
        memset(fds + t->nfds, 0, (size_t)(n - t->nfds) * sizeof(*fds));
        t->fds = fds;
        t->nfds = n;
    }
    struct us_sock *sk = calloc(1, sizeof(*sk));
    if (!sk)
        return NULL;
    sk->fd = fd;
    sk->type = type;
    sk->rcvbuf = s->sysctl.rmem_default;
    sk->sndbuf = s->sysctl.wmem_default;
    sk->rcvtimeo = US_TIME_NEVER; /* Linux's MAX_SCHEDULE_TIMEOUT */
    sk->mc_ttl = 1;               /* inet_create: mc_ttl 1, mc_loop 1, mc_all 1 */
    sk->mc_loop = true;
    sk->mc_all = true;
    if (type == US_SOCK_STREAM)
        us_tcp_sock_init(s, sk);
    t->fds[fd] = sk;
    t->free_hint = fd + 1;
    return sk;
}

int us_socket(struct us_stack *s, int type)
{
    if (type != US_SOCK_DGRAM && type != US_SOCK_STREAM)
        return -EINVAL;
    struct us_sock *sk = us_sock_alloc(s, type);
    return sk ? sk->fd : -ENOMEM;
}

int us_close(struct us_stack *s, int fd)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    sock_destroy(s, sk, false);
    return 0;
}

int us_bind(struct us_stack *s, int fd, const struct us_sockaddr_in *addr)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (!addr)
        return -EINVAL;
    if (sk->type == US_SOCK_STREAM)
        return us_tcp_bind(s, sk, addr);
    if (sk->hashed)
        return -EINVAL; /* already bound, as Linux's inet_bind */
    /* Linux's inet_bind accepts our addresses, broadcast and multicast ones
     * (a socket may bind to a group or the broadcast address to receive it). */
    us_ip4 a = addr->addr;
    bool ok = a == US_IP4_ANY || us_iface_by_addr(s, a) || us_ip4_is_multicast(a);
    for (int i = 0; i < s->n_ifaces && !ok; i++)
        ok = us_ipv4_is_broadcast(&s->ifaces[i], a);
    if (!ok)
        return -EADDRNOTAVAIL;
    return us_udp_hash_bind(s, sk, a, addr->port);
}

/* The interface a datagram to dst leaves by, as ipv4_output routes it. */
static struct us_iface *route_iface(struct us_stack *s, us_ip4 dst)
{
    const struct us_route *r = us_route_lookup(s, dst);
    if (r)
        return &s->ifaces[r->ifindex];
    if ((dst == US_IP4_BROADCAST || us_ip4_is_multicast(dst)) && s->n_ifaces > 0)
        return &s->ifaces[0];
    return NULL;
}

static bool is_broadcast(struct us_stack *s, us_ip4 dst)
{
    for (int i = 0; i < s->n_ifaces; i++)
        if (us_ipv4_is_broadcast(&s->ifaces[i], dst))
            return true;
    return dst == US_IP4_BROADCAST;
}

int us_connect(struct us_stack *s, int fd, const struct us_sockaddr_in *addr)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (sk->type == US_SOCK_STREAM) {
        return us_tcp_connect(s, sk, addr);
    }
    if (!addr || (addr->addr == 0 && addr->port == 0)) {
        /* udp_disconnect: forget the peer and an address connect chose. */
        sk->daddr = 0;
        sk->dport = 0;
        if (sk->addr_from_connect) {
            sk->rcv_saddr = 0;
            sk->addr_from_connect = false;
        }
        return 0;
    }
    if (addr->port == 0 || addr->addr == 0)
        return -EINVAL;
    /* ip4_datagram_connect: route, refuse broadcast without SO_BROADCAST,
     * take the route's source address if unbound, autobind a port. */
    struct us_iface *ifc = route_iface(s, addr->addr);
    if (!ifc)
        return -ENETUNREACH;
    if (is_broadcast(s, addr->addr) && !sk->broadcast)
        return -EACCES;
    if (!sk->hashed) {
        int err = us_udp_hash_bind(s, sk, 0, 0);
        if (err)
            return err;
    }
    if (!sk->rcv_saddr && !us_ip4_is_multicast(addr->addr)) {
        sk->rcv_saddr = ifc->addr;
        sk->addr_from_connect = true;
    }
    sk->daddr = addr->addr;
    sk->dport = addr->port;
    return 0;
}

/* Linux's sock_error: the pending error, cleared as it is reported. */
static int take_error(struct us_sock *sk)
{
    int err = sk->err;
    sk->err = 0;
    return -err;
}

int us_sendto(struct us_stack *s, int fd, const void *buf, size_t len, int flags,
              const struct us_sockaddr_in *to, us_time_ns now)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (sk->type == US_SOCK_STREAM) {
        /* Stream sends ignore `to` (Linux: EISCONN only if it differs). */
        if (now > s->now)
            s->now = now;
        return us_tcp_send(s, sk, buf, len, flags);
    }
    if (len > US_UDP_MAX_PAYLOAD)
        return -EMSGSIZE;
    if (flags & US_MSG_OOB)
        return -EOPNOTSUPP; /* udp_sendmsg */
    us_ip4 daddr;
    uint16_t dport;
    if (to) {
        daddr = to->addr;
        dport = to->port;
        if (dport == 0)
            return -EINVAL;
    } else {
        if (!sk->daddr)
            return -EDESTADDRREQ;
        daddr = sk->daddr;
        dport = sk->dport;
    }
    if (sk->err)
        return take_error(sk);
    if (sk->shutdown & US_SEND_SHUTDOWN)
        return -EPIPE; /* sock_alloc_send_pskb */
    if (is_broadcast(s, daddr) && !sk->broadcast)
        return -EACCES; /* udp_sendmsg: RTCF_BROADCAST without SOCK_BROADCAST */
    if (!sk->hashed) {
        int err = us_udp_hash_bind(s, sk, 0, 0);
        if (err)
            return err;
    }
    s->now = now;
    int err = us_udp_sendmsg(s, sk, buf, len, daddr, dport);
    us_iface_flush(s);
    return err ? err : (int)len;
}

int us_send(struct us_stack *s, int fd, const void *buf, size_t len, int flags, us_time_ns now)
{
    return us_sendto(s, fd, buf, len, flags, NULL, now);
}

int us_recvfrom(struct us_stack *s, int fd, void *buf, size_t len, int flags,
                struct us_sockaddr_in *from)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (sk->type == US_SOCK_STREAM) {
        if (from) {
            from->addr = sk->daddr;
            from->port = sk->dport;
        }
        return us_tcp_recv(s, sk, buf, len, flags);
    }
    if (sk->err)
        return take_error(sk);
    struct us_pkt *p = sk->receive_queue.head;
    if (!p)
        return sk->shutdown & US_RCV_SHUTDOWN ? 0 : -EAGAIN;
    /* The packet still starts at its IPv4 header; l4_off is the header
     * length and cb the UDP payload length (see us_udp_input). */
    size_t dlen = p->cb;
    const uint8_t *udp = p->data + p->l4_off;
    size_t n = dlen < len ? dlen : len;
    if (n)
        memcpy(buf, udp + US_UDP_HLEN, n);
    if (from) {
        /* Validated by us_udp_input; this only reads the addresses back. */
        struct us_ipv4_view ip;
        uint16_t dport;
        us_ipv4_parse_quoted(p->data, p->len, &ip);
        us_l4_ports(ip.payload, ip.payload_len, &from->port, &dport);
        from->addr = ip.src;
    }
    if (!(flags & US_MSG_PEEK)) {
        us_pkt_free(us_sock_dequeue(sk));
        /* udp_recvmsg counts InDatagrams when the application takes one. */
        s->mib.udp.InDatagrams++;
    }
    return (int)((flags & US_MSG_TRUNC) ? dlen : n);
}

int us_recv(struct us_stack *s, int fd, void *buf, size_t len, int flags)
{
    return us_recvfrom(s, fd, buf, len, flags, NULL);
}

int us_shutdown(struct us_stack *s, int fd, int how)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (how < US_SHUT_RD || how > US_SHUT_RDWR)
        return -EINVAL;
    if (sk->type == US_SOCK_STREAM)
        return us_tcp_shutdown(s, sk, how);
    /* inet_shutdown: how + 1 maps SHUT_RD/WR/RDWR onto the sk_shutdown
     * bits; an unconnected socket is still marked, and its sleepers woken,
     * but the caller hears -ENOTCONN. */
    int rc = sk->daddr ? 0 : -ENOTCONN;
    sk->shutdown |= (uint8_t)(how + 1);
    us_sock_state_change(s, sk); /* last: its callback may close sk */
    return rc;
}

int us_listen(struct us_stack *s, int fd, int backlog)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    return sk->type == US_SOCK_STREAM ? us_tcp_listen(s, sk, backlog) : -EOPNOTSUPP;
}

int us_accept(struct us_stack *s, int fd, struct us_sockaddr_in *peer)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    return sk->type == US_SOCK_STREAM ? us_tcp_accept(s, sk, peer) : -EOPNOTSUPP;
}

int us_getsockname(struct us_stack *s, int fd, struct us_sockaddr_in *addr)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    addr->addr = sk->rcv_saddr;
    addr->port = sk->num;
    return 0;
}

int us_getpeername(struct us_stack *s, int fd, struct us_sockaddr_in *addr)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (!sk->daddr)
        return -ENOTCONN;
    addr->addr = sk->daddr;
    addr->port = sk->dport;
    return 0;
}

/* ip_mc_find_dev: the interface of the given address, else the one the
 * route to the group leaves by. */
static struct us_iface *mc_find_dev(struct us_stack *s, const struct us_ip_mreq *mreq)
{
    if (mreq->interface)
        return us_iface_by_addr(s, mreq->interface);
    return route_iface(s, mreq->multiaddr);
}

/* ip_mc_join_group */
static int mc_join(struct us_stack *s, struct us_sock *sk, const struct us_ip_mreq *mreq)
{
    if (!us_ip4_is_multicast(mreq->multiaddr))
        return -EINVAL;
    struct us_iface *ifc = mc_find_dev(s, mreq);
    if (!ifc)
        return -ENODEV;
    struct us_sock_mc *mc = sk->mc;
    int n = mc ? mc->count : 0;
    for (int i = 0; i < n; i++)
        if (mc->list[i].group == mreq->multiaddr && mc->list[i].ifindex == ifc->index)
            return -EADDRINUSE;
    if (n >= US_IGMP_MAX_MEMBERSHIPS)
        return -ENOBUFS;
    if (!mc) {
        mc = calloc(1, sizeof(*mc));
        if (!mc)
            return -ENOBUFS; /* as sock_kmalloc failing in ip_mc_join_group */
    }
    int err = us_igmp_join(s, ifc, mreq->multiaddr);
    if (err) {
        if (!sk->mc)
            free(mc);
        return err;
    }
    sk->mc = mc;
    mc->list[n].group = mreq->multiaddr;
    mc->list[n].ifindex = ifc->index;
    mc->count = n + 1;
    us_iface_flush(s);
    return 0;
}

/* ip_mc_leave_group: with no interface given, the first membership of the
 * group, whatever its interface. */
static int mc_leave(struct us_stack *s, struct us_sock *sk, const struct us_ip_mreq *mreq)
{
    int ifindex = -1;
    if (mreq->interface) {
        struct us_iface *ifc = us_iface_by_addr(s, mreq->interface);
        if (!ifc)
            return -ENODEV;
        ifindex = ifc->index;
    }
    struct us_sock_mc *mc = sk->mc;
    for (int i = 0; mc && i < mc->count; i++) {
        if (mc->list[i].group != mreq->multiaddr ||
            (ifindex >= 0 && mc->list[i].ifindex != ifindex))
            continue;
        int idx = mc->list[i].ifindex;
        mc->list[i] = mc->list[--mc->count];
        us_igmp_leave(s, &s->ifaces[idx], mreq->multiaddr, false);
        us_iface_flush(s);
        return 0;
    }
    return -EADDRNOTAVAIL;
}

/* do_ip_setsockopt, the multicast part. */
static int ip_setsockopt(struct us_stack *s, struct us_sock *sk, int opt, const void *val,
                         size_t vallen)
{
    if (opt == US_IP_ADD_MEMBERSHIP || opt == US_IP_DROP_MEMBERSHIP) {
        struct us_ip_mreq mreq;
        if (!val || vallen < sizeof(mreq))
            return -EINVAL;
        memcpy(&mreq, val, sizeof(mreq));
        return opt == US_IP_ADD_MEMBERSHIP ? mc_join(s, sk, &mreq) : mc_leave(s, sk, &mreq);
    }
    if (!val || vallen < sizeof(int))
        return -EINVAL;
    int v;
    memcpy(&v, val, sizeof(v));
    switch (opt) {
    case US_IP_MULTICAST_TTL:
        if (v == -1)
            v = 1;
        /* Linux takes 0 (loopback only); here 0 would mean the default
         * TTL to the IP layer, so it is refused. */
        if (v < 1 || v > 255)
            return -EINVAL;
        sk->mc_ttl = (uint8_t)v;
        return 0;
    case US_IP_MULTICAST_LOOP:
        sk->mc_loop = v != 0;
        return 0;
    case US_IP_MULTICAST_ALL:
        sk->mc_all = v != 0;
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

/* sock_set_timeout (SO_RCVTIMEO_OLD): a zero timeval waits forever, a
 * negative one not at all. */
static int set_rcvtimeo(struct us_sock *sk, const void *val, size_t vallen)
{
    struct timeval tv;
    if (!val || vallen < sizeof(tv))
        return -EINVAL;
    memcpy(&tv, val, sizeof(tv));
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        return -EDOM;
    if (tv.tv_sec < 0) {
        sk->rcvtimeo = 0;
        return 0;
    }
    /* Past ~584 years of nanoseconds it is forever anyway. */
    if ((tv.tv_sec == 0 && tv.tv_usec == 0) ||
        (uint64_t)tv.tv_sec >= US_TIME_NEVER / US_NS_PER_SEC - 1)
        sk->rcvtimeo = US_TIME_NEVER;
    else
        sk->rcvtimeo = (us_time_ns)tv.tv_sec * US_NS_PER_SEC + (us_time_ns)tv.tv_usec * 1000;
    return 0;
}

/* sock_get_timeout: forever and "not at all" both read back as {0, 0}. */
static int get_rcvtimeo(const struct us_sock *sk, void *val, size_t *vallen)
{
    struct timeval tv = {0, 0};
    if (!val || !vallen || *vallen < sizeof(tv))
        return -EINVAL;
    if (sk->rcvtimeo != US_TIME_NEVER) {
        tv.tv_sec = (time_t)(sk->rcvtimeo / US_NS_PER_SEC);
        tv.tv_usec = (suseconds_t)(sk->rcvtimeo % US_NS_PER_SEC / 1000);
    }
    memcpy(val, &tv, sizeof(tv));
    *vallen = sizeof(tv);
    return 0;
}

int us_setsockopt(struct us_stack *s, int fd, int level, int opt, const void *val, size_t vallen)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (sk->type == US_SOCK_STREAM && (level == US_IPPROTO_TCP || level == US_SOL_SOCKET)) {
        int rc = us_tcp_sock_setsockopt(s, sk, level, opt, val, vallen);
        if (rc != 1)
            return rc;
    } else if (level == US_IPPROTO_TCP) {
        return -ENOPROTOOPT;
    }
    if (level == US_IPPROTO_IP)
        return ip_setsockopt(s, sk, opt, val, vallen);
    if (level != US_SOL_SOCKET)
        return -ENOPROTOOPT;
    if (opt == US_SO_RCVTIMEO)
        return set_rcvtimeo(sk, val, vallen);
    if (!val || vallen < sizeof(int))
        return -EINVAL;
    int v;
    memcpy(&v, val, sizeof(v));
    switch (opt) {
    case US_SO_REUSEADDR:
        sk->reuseaddr = v != 0;
        return 0;
    case US_SO_BROADCAST:
        sk->broadcast = v != 0;
        return 0;
    case US_SO_OOBINLINE:
        sk->urginline = v != 0; /* as Linux, accepted on any socket */
        return 0;
    case US_SO_RCVBUF:
        sk->rcvbuf = us_sock_rcvbuf_value(s, v);
        return 0;
    case US_SO_SNDBUF:
        sk->sndbuf = us_sock_sndbuf_value(s, v);
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

int us_getsockopt(struct us_stack *s, int fd, int level, int opt, void *val, size_t *vallen)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (sk->type == US_SOCK_STREAM && (level == US_IPPROTO_TCP || level == US_SOL_SOCKET)) {
        int rc = us_tcp_sock_getsockopt(s, sk, level, opt, val, vallen);
        if (rc != 1)
            return rc;
    }
    if (level != US_SOL_SOCKET && level != US_IPPROTO_IP)
        return -ENOPROTOOPT;
    if (level == US_SOL_SOCKET && opt == US_SO_RCVTIMEO)
        return get_rcvtimeo(sk, val, vallen);
    if (!val || !vallen || *vallen < sizeof(int))
        return -EINVAL;
    int v;
    if (level == US_IPPROTO_IP) {
        switch (opt) {
        case US_IP_MULTICAST_TTL:
            v = sk->mc_ttl;
            break;
        case US_IP_MULTICAST_LOOP:
            v = sk->mc_loop;
            break;
        case US_IP_MULTICAST_ALL:
            v = sk->mc_all;
            break;
        default:
            return -ENOPROTOOPT;
        }
        memcpy(val, &v, sizeof(v));
        *vallen = sizeof(int);
        return 0;
    }
    switch (opt) {
    case US_SO_REUSEADDR:
        v = sk->reuseaddr;
        break;
    case US_SO_BROADCAST:
        v = sk->broadcast;
        break;
    case US_SO_OOBINLINE:
        v = sk->urginline;
        break;
    case US_SO_RCVBUF:
        v = sk->rcvbuf;
        break;
    case US_SO_SNDBUF:
        v = sk->sndbuf;
        break;
    case US_SO_ERROR:
        v = -take_error(sk);
        break;
    default:
        return -ENOPROTOOPT;
    }
    memcpy(val, &v, sizeof(v));
    *vallen = sizeof(int);
    return 0;
}

int us_sock_poll_events(struct us_stack *s, int fd)
{
    struct us_sock *sk = us_sock_get(s, fd);
    return sk ? us_sock_events(sk) : -EBADF;
}

int us_sockatmark(struct us_stack *s, int fd)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (sk->type != US_SOCK_STREAM)
        return -ENOTTY; /* udp_ioctl has no SIOCATMARK */
    if (sk->tp && sk->tp->state == US_TCP_LISTEN)
        return -EINVAL; /* tcp_ioctl */
    return sk->tp && us_tcp_at_mark(sk->tp);
}

int us_sock_set_callback(struct us_stack *s, int fd, us_sock_ready_fn fn, void *ctx)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    sk->ready = fn;
    sk->ready_ctx = ctx;
    return 0;
}

int us_sock_info(struct us_stack *s, int fd, struct us_sock_info *info)
{
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    memset(info, 0, sizeof(*info));
    info->type = sk->type;
    info->local = (struct us_sockaddr_in){sk->rcv_saddr, sk->num};
    info->peer = (struct us_sockaddr_in){sk->daddr, sk->dport};
    info->rx_queue = sk->rmem_alloc;
    info->rx_datagrams = sk->receive_queue.count;

    info->rcvbuf = sk->rcvbuf;
    info->sndbuf = sk->sndbuf;
    info->drops = sk->drops;
    info->sleepers = sk->wq.sleepers;
    info->wakeups = us_wq_wakeups(&sk->wq);
    info->tx_queue = sk->wmem_alloc;
    if (sk->type == US_SOCK_STREAM && sk->tp) {
        info->rx_queue = sk->tp->rcv_queued;
        info->rcvbuf = sk->tp->rcvbuf;
        info->sndbuf = sk->tp->sndbuf;
    }
    return 0;
}
