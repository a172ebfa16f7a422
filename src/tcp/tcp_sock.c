/* The socket calls for US_SOCK_STREAM (Linux's inet_stream_ops /
 * tcp_prot): listen, accept, connect, send, recv, shutdown, close and the
 * TCP options. src/sock/socket.c dispatches here by socket type. */
#include "tcp/tcp.h"

#include "net/ip.h"
#include "sock/sock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int us_tcp_sock_init(struct us_stack *s, struct us_sock *sk)
{
    /* TCP sockets start from tcp_rmem[1] / tcp_wmem[1], not rmem_default. */
    sk->rcvbuf = s->sysctl.tcp_rmem[1];
    sk->sndbuf = s->sysctl.tcp_wmem[1];
    return 0;
}

/* Options the socket holds that a new connection copies. */
static void copy_sock_opts(struct us_tcpcb *tp, const struct us_sock *sk)
{
    tp->rcvbuf = sk->rcvbuf;
    tp->sndbuf = sk->sndbuf;
    tp->flags &= ~(uint32_t)(TF_RCVBUF_LOCK | TF_SNDBUF_LOCK | TF_NODELAY | TF_CORK | TF_KEEPALIVE |
                             TF_URGINLINE);
    if (sk->rcvbuf_locked)
        tp->flags |= TF_RCVBUF_LOCK;
    if (sk->sndbuf_locked)
        tp->flags |= TF_SNDBUF_LOCK;
    if (sk->nodelay)
        tp->flags |= TF_NODELAY;
    if (sk->cork)
        tp->flags |= TF_CORK;
    if (sk->keepalive)
        tp->flags |= TF_KEEPALIVE;
    if (sk->urginline)
        tp->flags |= TF_URGINLINE;
    tp->keepidle = sk->keepidle;
    tp->keepintvl = sk->keepintvl;
    tp->keepcnt = sk->keepcnt;
    tp->user_mss = (uint16_t)sk->user_mss;
}

int us_tcp_bind(struct us_stack *s, struct us_sock *sk, const struct us_sockaddr_in *addr)
{
    if (sk->hashed || sk->tp)
        return -EINVAL;
    if (addr->addr != US_IP4_ANY && !us_iface_by_addr(s, addr->addr))
        return -EADDRNOTAVAIL;
    return us_tcp_bind_port(s, sk, addr->addr, addr->port);
}

int us_tcp_listen(struct us_stack *s, struct us_sock *sk, int backlog)
{
    if (backlog < 0)
        backlog = 0;
    if (backlog > s->sysctl.somaxconn)
        backlog = s->sysctl.somaxconn;
    if (sk->tp && sk->tp->state == US_TCP_LISTEN) {
        sk->tp->lq->backlog = backlog; /* listen() again changes the backlog */
        return 0;
    }
    if (sk->tp)
        return -EINVAL;
    if (!sk->hashed) {
        int err = us_tcp_bind_port(s, sk, US_IP4_ANY, 0); /* inet_autobind */
        if (err)
            return err;
    }
    /* Another socket may have bound the port with SO_REUSEADDR meanwhile;
     * two listeners on one address and port are refused. */
    struct us_tcpcb *other = us_tcp_lookup_listener(s, sk->rcv_saddr, sk->num);
    if (other && other->sk && other->sk->rcv_saddr == sk->rcv_saddr)
        return -EADDRINUSE;
    struct us_tcp_listen *lq = calloc(1, sizeof(*lq));
    if (!lq)
        return -ENOMEM;
    struct us_tcpcb *tp = us_tcpcb_new(s);
    if (!tp) {
        free(lq);
        return -ENOMEM;
    }
    copy_sock_opts(tp, sk);
    tp->lq = lq;
    tp->state = US_TCP_LISTEN;
    tp->laddr = sk->rcv_saddr;
    tp->lport = sk->num;
    tp->lq->backlog = backlog;
    tp->sk = sk;
    sk->tp = tp;
    return 0;
}

int us_tcp_accept(struct us_stack *s, struct us_sock *sk, struct us_sockaddr_in *peer)
{
    struct us_tcpcb *l = sk->tp;
    if (!l || l->state != US_TCP_LISTEN)
        return -EINVAL;
    struct us_tcpcb *tp = l->lq->acceptq_head;
    if (!tp)
        return -EAGAIN;
    struct us_sock *nsk = us_sock_alloc(s, US_SOCK_STREAM);
    if (!nsk)
        return -ENOMEM;
    l->lq->acceptq_head = tp->lnext;
    if (!l->lq->acceptq_head)
        l->lq->acceptq_tail = NULL;
    l->lq->acceptq_len--;
    tp->lnext = NULL;
    tp->listener = NULL;
    /* The new socket has the listener's local port, and the address the
     * peer connected to (inet_csk_accept). */
    nsk->rcv_saddr = tp->laddr;
    nsk->num = tp->lport;
    nsk->daddr = tp->faddr;
    nsk->dport = tp->fport;
    nsk->rcvbuf = tp->rcvbuf;
    nsk->sndbuf = tp->sndbuf;
    nsk->rcvbuf_locked = sk->rcvbuf_locked;
    nsk->sndbuf_locked = sk->sndbuf_locked;
    nsk->nodelay = sk->nodelay;
    nsk->keepalive = sk->keepalive;
    nsk->urginline = sk->urginline;
    nsk->keepidle = sk->keepidle;
    nsk->keepintvl = sk->keepintvl;
    nsk->keepcnt = sk->keepcnt;
    nsk->user_mss = sk->user_mss;
    nsk->tp = tp;
    tp->sk = nsk;
    if (tp->state != US_TCP_ESTABLISHED && tp->state != US_TCP_SYN_RECV)
        nsk->shutdown |= (tp->state == US_TCP_CLOSE_WAIT) ? US_RCV_SHUTDOWN : 0;
    if (peer) {
        peer->addr = tp->faddr;
        peer->port = tp->fport;
    }
    return nsk->fd;
}

int us_tcp_connect(struct us_stack *s, struct us_sock *sk, const struct us_sockaddr_in *addr)
{
    if (!addr || addr->addr == 0 || addr->port == 0)
        return -EINVAL;
    if (sk->tp) {
        switch (sk->tp->state) {
        case US_TCP_SYN_SENT:
        case US_TCP_SYN_RECV:
            return -EALREADY;
        case US_TCP_LISTEN:
            return -EINVAL;
        case US_TCP_CLOSE:
            us_tcpcb_free(s, sk->tp); /* a failed attempt; try again */
            break;
        default:
            return -EISCONN;
        }
    }
    if (us_ip4_is_multicast(addr->addr) || addr->addr == US_IP4_BROADCAST)
        return -ENETUNREACH;
    const struct us_route *r = us_route_lookup(s, addr->addr);
    if (!r)
        return -ENETUNREACH;
    if (!sk->rcv_saddr) {
        /* The route's source address (inet_hash_connect with an unbound
         * address); the port table keeps the socket's own bind. */
        us_ip4 src = s->ifaces[r->ifindex].addr;
        if (sk->hashed) {
            if (us_tcp_tuple_in_use(s, src, sk->num, addr->addr, addr->port))
                return -EADDRNOTAVAIL;
            sk->rcv_saddr = src;
            sk->addr_from_connect = true;
        } else {
            sk->rcv_saddr = src;
            sk->addr_from_connect = true;
            int err = us_tcp_connect_port(s, sk, addr->addr, addr->port);
            if (err) {
                sk->rcv_saddr = 0;
                return err;
            }
        }
    } else if (!sk->hashed) {
        int err = us_tcp_connect_port(s, sk, addr->addr, addr->port);
        if (err)
            return err;
    } else if (us_tcp_tuple_in_use(s, sk->rcv_saddr, sk->num, addr->addr, addr->port)) {
        return -EADDRNOTAVAIL;
    }
    struct us_tcpcb *tp = us_tcpcb_new(s);
    if (!tp)
        return -ENOMEM;
    copy_sock_opts(tp, sk);
    if (us_tcp_alloc_buffers(s, tp) != 0) {
        us_tcpcb_free(s, tp);
        return -ENOMEM;
    }
    tp->laddr = sk->rcv_saddr;
    tp->lport = sk->num;
    tp->faddr = addr->addr;
    tp->fport = addr->port;
    sk->daddr = addr->addr;
    sk->dport = addr->port;
    tp->sk = sk;
    sk->tp = tp;
    sk->err = 0;
    sk->shutdown = 0;
    tp->advmss = us_tcp_route_mss(s, tp->faddr);
    us_tcp_route_caps(s, tp);
    if (tp->user_mss && tp->advmss > tp->user_mss)
        tp->advmss = tp->user_mss;
    tp->rcv_wscale = us_tcp_choose_wscale(s, tp);
    tp->iss = us_tcp_new_isn(s, tp->laddr, tp->lport, tp->faddr, tp->fport);
    tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
    tp->ts_offset = us_tcp_ts_offset(s, tp->laddr, tp->faddr);
    tp->state = US_TCP_SYN_SENT;
    us_tcp_ehash_add(s, tp);
    s->mib.tcp.ActiveOpens++;
    tp->rtt_time = s->now;
    tp->rtt_timing = true;
    us_tcp_send_syn(s, tp);
    us_iface_flush(s);
    return -EINPROGRESS;
}

int us_tcp_send(struct us_stack *s, struct us_sock *sk, const void *buf, size_t len, int flags)
{
    if (sk->err) {
        int err = sk->err;
        sk->err = 0;
        return -err;
    }
    if (sk->shutdown & US_SEND_SHUTDOWN)
        return -EPIPE;
    struct us_tcpcb *tp = sk->tp;
    if (!tp || tp->state == US_TCP_LISTEN)
        return -ENOTCONN;
    if (tp->state == US_TCP_SYN_SENT || tp->state == US_TCP_SYN_RECV)
        return -EAGAIN; /* sk_stream_wait_connect, non-blocking */
    if (tp->state != US_TCP_ESTABLISHED && tp->state != US_TCP_CLOSE_WAIT)
        return -EPIPE;
    if (us_tcp_sbuf_reserve(tp, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len) != 0 ||
        us_tcp_loss_reserve(s, tp) != 0)
        return -ENOMEM;
    uint32_t room = (uint32_t)tp->sndbuf > tp->snd_len ? (uint32_t)tp->sndbuf - tp->snd_len : 0;
    if (room > tp->sbuf_cap - tp->snd_len)
        room = tp->sbuf_cap - tp->snd_len;
    if (room == 0)
        return len ? -EAGAIN : 0;
    uint32_t n = len < room ? (uint32_t)len : room;
    /* Into the ring after the queued bytes, in up to two pieces. */
    uint32_t pos = (tp->sbuf_head + tp->snd_len) % tp->sbuf_cap;
    uint32_t first = tp->sbuf_cap - pos;
    if (first > n)
        first = n;
    memcpy(tp->sbuf + pos, buf, first);
    memcpy(tp->sbuf, (const uint8_t *)buf + first, n - first);
    tp->snd_len += n;
    if (flags & US_MSG_OOB) {
        /* tcp_mark_urg: the last byte queued is the urgent one; snd_up
         * points after it. */
        tp->snd_up = tp->snd_una + tp->snd_len;
        tp->flags |= TF_URG_MODE;
    }
    us_tcp_output(s, tp);
    us_iface_flush(s);
    return (int)n;
}

int us_tcp_recv(struct us_stack *s, struct us_sock *sk, void *buf, size_t len, int flags)
{
    struct us_tcpcb *tp = sk->tp;
    if (flags & US_MSG_OOB) {
        if (tp && tp->state == US_TCP_LISTEN)
            return -ENOTCONN;
        return tp ? us_tcp_recv_urg(tp, sk, buf, len, (flags & US_MSG_PEEK) != 0) : -EINVAL;
    }
    if (tp && tp->rcv_queued && len) {
        size_t n = us_tcp_read(s, tp, buf, len, (flags & US_MSG_PEEK) != 0);
        us_iface_flush(s);
        if (n)
            return (int)n;
        /* Only the urgent byte was there, and it is not part of the stream. */
    }
    if (sk->err) {
        int err = sk->err;
        sk->err = 0;
        return -err;
    }
    if (sk->shutdown & US_RCV_SHUTDOWN)
        return 0;
    if (!tp || tp->state == US_TCP_LISTEN)
        return -ENOTCONN;
    if (tp->state == US_TCP_CLOSE)
        return 0;
    if (len == 0)
        return 0;
    return -EAGAIN;
}

int us_tcp_shutdown(struct us_stack *s, struct us_sock *sk, int how)
{
    struct us_tcpcb *tp = sk->tp;
    if (!tp || tp->state == US_TCP_CLOSE)
        return -ENOTCONN;
    if (tp->state == US_TCP_LISTEN || tp->state == US_TCP_SYN_SENT) {
        /* Linux: shutdown of a listener or a connecting socket closes it. */
        if (how == US_SHUT_RD)
            return 0;
        us_tcp_done(s, tp);
        return 0;
    }
    if (how == US_SHUT_RD || how == US_SHUT_RDWR)
        sk->shutdown |= US_RCV_SHUTDOWN;
    if (how == US_SHUT_WR || how == US_SHUT_RDWR) {
        sk->shutdown |= US_SEND_SHUTDOWN;
        /* tcp_shutdown → tcp_close_state: FIN after the queued data. */
        if (tp->state == US_TCP_ESTABLISHED || tp->state == US_TCP_SYN_RECV) {
            us_tcp_set_state(s, tp, US_TCP_FIN_WAIT1);
            tp->flags |= TF_FIN_QUEUED;
        } else if (tp->state == US_TCP_CLOSE_WAIT) {
            us_tcp_set_state(s, tp, US_TCP_LAST_ACK);
            tp->flags |= TF_FIN_QUEUED;
        }
        us_tcp_output(s, tp);
        us_iface_flush(s);
    }
    us_sock_state_change(s, sk);
    return 0;
}

/* A close that aborts: RST, CLOSED, gone (tcp_send_active_reset). */
static void close_with_reset(struct us_stack *s, struct us_tcpcb *tp)
{
    us_tcp_send_rst(s, tp);
    us_tcp_set_state(s, tp, US_TCP_CLOSE);
    us_tcpcb_free(s, tp);
    us_iface_flush(s);
}

void us_tcp_sock_close(struct us_stack *s, struct us_sock *sk, bool quiet)
{
    struct us_tcpcb *tp = sk->tp;
    sk->tp = NULL;
    us_tcp_unbind(s, sk);
    if (!tp)
        return;
    tp->sk = NULL;
    if (quiet) /* the stack is going away; us_tcp_table_free frees tp */
        return;
    switch (tp->state) {
    case US_TCP_LISTEN:
    case US_TCP_SYN_SENT:
    case US_TCP_CLOSE:
        us_tcpcb_free(s, tp);
        return;
    case US_TCP_TIME_WAIT:
        us_pkt_queue_purge(&tp->rcvq);
        tp->rcv_queued = 0;
        us_tcp_tw_from_tcpcb(s, tp); /* lives on as a record until 2MSL */
        return;
    default:
        break;
    }
    if (tp->rcv_queued) {
        /* RFC 9293 §3.10.4 / Linux's tcp_close: unread data → RST, not FIN. */
        s->mib.tcpext.TCPAbortOnClose++;
        close_with_reset(s, tp);
        return;
    }
    /* Nobody will read what is held out of order any more. */
    us_tcp_ofo_drop_all(tp);
    /* An orphan now; past net.ipv4.tcp_max_orphans it is reset instead of
     * closed gracefully (tcp_close's tcp_check_oom, "too many orphaned
     * sockets"). */
    tp->flags |= TF_ORPHAN;
    s->tcp->n_orphans++;
    if (s->tcp->n_orphans > (uint32_t)s->sysctl.tcp_max_orphans) {
        s->mib.tcpext.TCPAbortOnMemory++;
        close_with_reset(s, tp);
        return;
    }
    switch (tp->state) {
    case US_TCP_SYN_RECV:
    case US_TCP_ESTABLISHED:
        us_tcp_set_state(s, tp, US_TCP_FIN_WAIT1);
        tp->flags |= TF_FIN_QUEUED;
        break;
    case US_TCP_CLOSE_WAIT:
        us_tcp_set_state(s, tp, US_TCP_LAST_ACK);
        tp->flags |= TF_FIN_QUEUED;
        break;
    case US_TCP_FIN_WAIT2:
        us_tcp_timer_arm(s, tp, &tp->fin2_at,
                         s->now + (us_time_ns)s->sysctl.tcp_fin_timeout * US_NS_PER_SEC);
        break;
    default:
        break;
    }
    us_tcp_output(s, tp);
    us_iface_flush(s);
}

int us_tcp_events(const struct us_sock *sk)
{
    const struct us_tcpcb *tp = sk->tp;
    int ev = 0;
    if (sk->err)
        ev |= US_POLLERR;
    if (tp && tp->state == US_TCP_LISTEN)
        return ev | (tp->lq->acceptq_head ? US_POLLIN : 0);
    /* tcp_poll */
    if (sk->shutdown == (US_RCV_SHUTDOWN | US_SEND_SHUTDOWN) || (!tp && sk->daddr))
        ev |= US_POLLHUP;
    if (sk->shutdown & US_RCV_SHUTDOWN)
        ev |= US_POLLIN | US_POLLRDHUP;
    /* Readable unless all there is is the urgent byte at the read
     * position, which a read skips. */
    uint32_t unreadable = tp && us_tcp_at_mark(tp) && !(tp->flags & TF_URGINLINE) ? 1 : 0;
    if (tp && tp->rcv_queued > unreadable)
        ev |= US_POLLIN;
    if (tp && (tp->urg_data & US_TCP_URG_VALID))
        ev |= US_POLLPRI;
    if (tp && (tp->state == US_TCP_ESTABLISHED || tp->state == US_TCP_CLOSE_WAIT) &&
        !(sk->shutdown & US_SEND_SHUTDOWN)) {
        /* sk_stream_is_writeable: a third of the buffer free. */
        uint32_t room = (uint32_t)tp->sndbuf > tp->snd_len ? (uint32_t)tp->sndbuf - tp->snd_len : 0;
        if (room >= (uint32_t)tp->sndbuf / 3)
            ev |= US_POLLOUT;
    }
    if (sk->shutdown & US_SEND_SHUTDOWN)
        ev |= US_POLLOUT; /* a send fails at once with EPIPE */
    if (!tp && sk->err)
        ev |= US_POLLIN;
    return ev;
}

static int get_int_val(const void *val, size_t vallen, int *v)
{
    if (!val || vallen < sizeof(int))
        return -EINVAL;
    memcpy(v, val, sizeof(*v));
    return 0;
}

int us_tcp_sock_setsockopt(struct us_stack *s, struct us_sock *sk, int level, int opt,
                           const void *val, size_t vallen)
{
    int v;
    int err = get_int_val(val, vallen, &v);
    if (err)
        return err;
    struct us_tcpcb *tp = sk->tp;
    if (level == US_SOL_SOCKET) {
        switch (opt) {
        case US_SO_RCVBUF:
            /* An explicit size switches autotuning off (SOCK_RCVBUF_LOCK). */
            sk->rcvbuf = us_sock_rcvbuf_value(s, v);
            sk->rcvbuf_locked = true;
            if (tp) {
                tp->rcvbuf = sk->rcvbuf;
                tp->flags |= TF_RCVBUF_LOCK;
            }
            return 0;
        case US_SO_SNDBUF:
            sk->sndbuf = us_sock_sndbuf_value(s, v);
            sk->sndbuf_locked = true;
            if (tp) {
                tp->sndbuf = sk->sndbuf;
                tp->flags |= TF_SNDBUF_LOCK;
            }
            return 0;
        case US_SO_OOBINLINE:
            sk->urginline = v != 0;
            if (tp) {
                if (v)
                    tp->flags |= TF_URGINLINE;
                else
                    tp->flags &= ~(uint32_t)TF_URGINLINE;
            }
            return 0;
        case US_SO_KEEPALIVE:
            sk->keepalive = v != 0;
            if (tp) {
                if (v)
                    tp->flags |= TF_KEEPALIVE;
                else
                    tp->flags &= ~(uint32_t)TF_KEEPALIVE;
                us_tcp_reset_keepalive(s, tp);
            }
            return 0;
        default:
            return 1; /* not ours: the generic code handles it */
        }
    }
    switch (opt) {
    case US_TCP_NODELAY:
        sk->nodelay = v != 0;
        if (tp) {
            if (v)
                tp->flags |= TF_NODELAY;
            else
                tp->flags &= ~(uint32_t)TF_NODELAY;
            us_tcp_output(s, tp); /* pending small data may go now */
            us_iface_flush(s);
        }
        return 0;
    case US_TCP_CORK:
        sk->cork = v != 0;
        if (tp) {
            if (v)
                tp->flags |= TF_CORK;
            else
                tp->flags &= ~(uint32_t)TF_CORK;
            us_tcp_output(s, tp);
            us_iface_flush(s);
        }
        return 0;
    case US_TCP_MAXSEG:
        if (v < 0 || (v > 0 && (v < 88 || v > 65495)))
            return -EINVAL; /* Linux's TCP_MIN_MSS .. MAX_TCP_WINDOW */
        sk->user_mss = v;
        if (tp)
            tp->user_mss = (uint16_t)v;
        return 0;
    case US_TCP_KEEPIDLE:
    case US_TCP_KEEPINTVL:
        if (v < 1 || v > 32767)
            return -EINVAL;
        if (opt == US_TCP_KEEPIDLE)
            sk->keepidle = v;
        else
            sk->keepintvl = v;
        if (tp) {
            tp->keepidle = sk->keepidle;
            tp->keepintvl = sk->keepintvl;
            us_tcp_reset_keepalive(s, tp);
        }
        return 0;
    case US_TCP_KEEPCNT:
        if (v < 1 || v > 127)
            return -EINVAL;
        sk->keepcnt = v;
        if (tp)
            tp->keepcnt = v;
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

int us_tcp_sock_getsockopt(struct us_stack *s, struct us_sock *sk, int level, int opt, void *val,
                           size_t *vallen)
{
    if (!val || !vallen)
        return -EINVAL;
    if (level == US_IPPROTO_TCP && opt == US_TCP_INFO) {
        struct us_tcp_info ti;
        memset(&ti, 0, sizeof(ti));
        if (sk->tp) {
            us_tcp_get_info(s, sk->tp, &ti);
        } else {
            ti.state = US_TCP_CLOSE;
            ti.rcvbuf = sk->rcvbuf;
            ti.sndbuf = sk->sndbuf;
        }
        size_t n = *vallen < sizeof(ti) ? *vallen : sizeof(ti);
        memcpy(val, &ti, n);
        *vallen = n;
        return 0;
    }
    if (*vallen < sizeof(int))
        return -EINVAL;
    int v;
    const struct us_tcpcb *tp = sk->tp;
    if (level == US_SOL_SOCKET) {
        switch (opt) {
        case US_SO_KEEPALIVE:
            v = sk->keepalive;
            break;
        case US_SO_RCVBUF:
            v = tp ? tp->rcvbuf : sk->rcvbuf;
            break;
        case US_SO_SNDBUF:
            v = tp ? tp->sndbuf : sk->sndbuf;
            break;
        default:
            return 1;
        }
    } else {
        switch (opt) {
        case US_TCP_NODELAY:
            v = sk->nodelay;
            break;
        case US_TCP_CORK:
            v = sk->cork;
            break;
        case US_TCP_MAXSEG:
            v = tp && tp->state != US_TCP_LISTEN && tp->state != US_TCP_CLOSE
                    ? tp->mss
                    : (sk->user_mss ? sk->user_mss : US_TCP_MSS_DEFAULT);
            break;
        case US_TCP_KEEPIDLE:
            v = sk->keepidle ? sk->keepidle : s->sysctl.tcp_keepalive_time;
            break;
        case US_TCP_KEEPINTVL:
            v = sk->keepintvl ? sk->keepintvl : s->sysctl.tcp_keepalive_intvl;
            break;
        case US_TCP_KEEPCNT:
            v = sk->keepcnt ? sk->keepcnt : s->sysctl.tcp_keepalive_probes;
            break;
        default:
            return -ENOPROTOOPT;
        }
    }
    memcpy(val, &v, sizeof(v));
    *vallen = sizeof(int);
    return 0;
}
