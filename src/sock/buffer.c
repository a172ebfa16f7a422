/* Socket buffers: SO_RCVBUF/SO_SNDBUF sizing and the receive queue's
 * memory accounting, with Linux's rules (net/core/sock.c, net/ipv4/udp.c).
 *
 * The receive queue holds the received packets themselves, no copy until
 * the application reads; each is charged its truesize (the whole buffer
 * plus its descriptor), the memory it really pins, as Linux charges
 * skb->truesize to sk_rmem_alloc. */
#include "sock/sock.h"
#include "tcp/tcp.h"

#include <errno.h>
#include <limits.h>

/* __sock_set_rcvbuf: min(val, rmem_max) doubled "to allow for struct
 * sk_buff overhead", never below SOCK_MIN_RCVBUF. */
int us_sock_rcvbuf_value(const struct us_stack *s, int val)
{
    long v = val < 0 ? 0 : val;
    if (v > s->sysctl.rmem_max)
        v = s->sysctl.rmem_max;
    if (v > INT_MAX / 2)
        v = INT_MAX / 2;
    v *= 2;
    return v < US_SOCK_MIN_RCVBUF ? US_SOCK_MIN_RCVBUF : (int)v;
}

/* sock_setsockopt SO_SNDBUF: the same with wmem_max and SOCK_MIN_SNDBUF. */
int us_sock_sndbuf_value(const struct us_stack *s, int val)
{
    long v = val < 0 ? 0 : val;
    if (v > s->sysctl.wmem_max)
        v = s->sysctl.wmem_max;
    if (v > INT_MAX / 2)
        v = INT_MAX / 2;
    v *= 2;
    return v < US_SOCK_MIN_SNDBUF ? US_SOCK_MIN_SNDBUF : (int)v;
}

/* sock_writeable: writable while less than half the send buffer is in use. */
static bool sock_writeable(const struct us_sock *sk)
{
    return sk->wmem_alloc < (uint32_t)sk->sndbuf / 2;
}

int us_sock_events(const struct us_sock *sk)
{
    if (sk->type == US_SOCK_STREAM)
        return us_tcp_events(sk);
    /* datagram_poll: POLLOUT while sock_writeable. */
    int ev = sock_writeable(sk) ? US_POLLOUT : 0;
    if (sk->receive_queue.count)
        ev |= US_POLLIN;
    if (sk->err)
        ev |= US_POLLERR | US_POLLIN;
    /* datagram_poll: a receive side shut down reads as end of file. */
    if (sk->shutdown & US_RCV_SHUTDOWN)
        ev |= US_POLLIN | US_POLLRDHUP;
    if (sk->shutdown == (US_RCV_SHUTDOWN | US_SEND_SHUTDOWN))
        ev |= US_POLLHUP;
    return ev;
}

/* sk_data_ready / sk_error_report: wake the threads sleeping on this socket
 * (threaded mode; only this socket's, and only if there are some), then
 * tell the event loop. Sleepers first: the callback may close the socket. */
static void wake(struct us_stack *s, struct us_sock *sk)
{
    if (us_wq_has_sleeper(&sk->wq))
        us_sock_wake_sleepers(s, sk);
    if (sk->ready)
        sk->ready(sk->ready_ctx, s, sk->fd, us_sock_events(sk));
}

bool us_sock_queue_rcv(struct us_stack *s, struct us_sock *sk, struct us_pkt *pkt)
{
    /* __udp_enqueue_schedule_skb (net/ipv4/udp.c, Linux 4.13 .. 6.14):
     *     rmem = atomic_read(&sk->sk_rmem_alloc);
     *     if (rmem > sk->sk_rcvbuf) goto drop;
     * The test is made before the datagram is charged, so a datagram is
     * accepted while the queue holds no more than rcvbuf, and the queue may
     * overshoot rcvbuf by one datagram (an empty queue always takes one,
     * whatever its size). The caller, __udp_queue_rcv_skb, counts the drop
     * in UDP_MIB_RCVBUFERRORS and UDP_MIB_INERRORS. */
    if (sk->rmem_alloc > (uint32_t)sk->rcvbuf) {
        sk->drops++;
        s->mib.udp.RcvbufErrors++;
        s->mib.udp.InErrors++;
        us_pkt_free(pkt);
        return false;
    }
    sk->rmem_alloc += us_pkt_truesize(pkt);
    us_pkt_queue_push(&sk->receive_queue, pkt);
    wake(s, sk); /* sk_data_ready */
    return true;
}

struct us_pkt *us_sock_dequeue(struct us_sock *sk)
{
    struct us_pkt *p = us_pkt_queue_pop(&sk->receive_queue);
    if (p)
        sk->rmem_alloc -= us_pkt_truesize(p);
    return p;
}

/* sock_wfree: the device took the datagram (or it was dropped somewhere
 * on the way). A closed socket goes with its last datagram. Unlike Linux's
 * sock_def_write_space, no callback: this runs inside a device burst,
 * where an application sending again would reenter it; us_sock_poll_events
 * shows US_POLLOUT again once half the buffer is free. */
static void sock_wfree(struct us_pkt *pkt)
{
    struct us_sock *sk = pkt->owner;
    sk->wmem_alloc -= us_pkt_truesize(pkt);
    if (sk->dead)
        us_sock_release_if_unused(sk);
}

void us_sock_set_owner_w(struct us_sock *sk, struct us_pkt *pkt)
{
    pkt->destructor = sock_wfree;
    pkt->owner = sk;
    sk->wmem_alloc += us_pkt_truesize(pkt);
}

bool us_sock_wmem_room(const struct us_sock *sk)
{
    return sk->wmem_alloc < (uint32_t)sk->sndbuf;
}

void us_sock_purge(struct us_sock *sk)
{
    us_pkt_queue_purge(&sk->receive_queue);
    sk->rmem_alloc = 0;
}

void us_sock_state_change(struct us_stack *s, struct us_sock *sk)
{
    wake(s, sk);
}

void us_sock_set_error(struct us_stack *s, struct us_sock *sk, int err)
{
    sk->err = err;
    wake(s, sk); /* sk_error_report */
}
