/* Threaded mode: one stack thread plays the interrupt/softirq role, and
 * application threads block in receives on their sockets' wait queues.
 *
 * us_thread_start hands one or more stacks (say, two joined by a us_wire)
 * to a new stack thread. It runs their rounds (top half, bottom half,
 * timers, transmit) on the real clock, sleeping in poll() on the devices'
 * descriptors until the next deadline, or on a virtual clock, jumping to
 * the next deadline at once and sleeping only when no deadline is left.
 * Either way an application call that may have made work (a send, an
 * unlock) kicks it. On the virtual clock time runs ahead whenever the
 * stacks are idle: every armed timer fires as soon as nothing is due
 * before it, so an ARP entry may expire between two application calls
 * (tests size net.ipv4.neigh.default.unres_qlen, and the sender's send
 * buffer, net.core.wmem_default or SO_SNDBUF, for that).
 *
 * The rules:
 *   - One mutex, the stack lock, protects every stack of a us_thread. The
 *     stack thread holds it while it runs a round and drops it to sleep.
 *   - From us_thread_start to us_thread_stop, every us_* call on those
 *     stacks (and on their sockets, sysctls, counters) must hold the lock:
 *     us_thread_recvfrom and us_thread_sendto take it themselves; wrap any
 *     other call in us_thread_lock / us_thread_unlock, passing
 *     us_thread_now(t) wherever a call takes `now`.
 *   - Readiness callbacks (us_sock_set_callback) and the ICMP handler run
 *     on the stack thread with the lock held: they may call us_* directly
 *     but never us_thread_* (the lock is not recursive).
 *   - A blocked receive returns when data or an error is queued on its
 *     socket (only that socket's traffic wakes it: LinkWakeups counts those
 *     wakes, LinkWakeupsSpurious the ones that found nothing), when
 *     SO_RCVTIMEO expires (-EAGAIN), when another thread closes the socket
 *     (-EBADF; Linux would leave it blocked, but here the descriptor and
 *     its wait queue would dangle), or when us_thread_stop runs
 *     (-ESHUTDOWN).
 *
 * The wait is generic (try the non-blocking call, sleep on the socket's
 * wait queue on -EAGAIN, retry when woken), so TCP's accept and connect
 * will block the same way on their sockets' queues. */
#ifndef USTACK_THREAD_H
#define USTACK_THREAD_H

#include "ustack/socket.h"
#include "ustack/stack.h"

enum us_clock {
    US_CLOCK_REAL,    /* CLOCK_MONOTONIC, for TAP devices and real-time wires */
    US_CLOCK_VIRTUAL, /* simulated time: jumps to each deadline, stops when none is left */
};

struct us_thread;

/* Starts a stack thread driving stacks[0..n-1] (n <= 16). On the virtual
 * clock, time starts at the latest us_stack_now of the stacks. NULL with
 * errno set (EINVAL, ENOMEM, or from pthread_create / eventfd). */
struct us_thread *us_thread_start(struct us_stack **stacks, int n, enum us_clock clock);
/* Stops the stack thread and releases every thread blocked in a
 * us_thread_* call (-ESHUTDOWN), waits until they have all left, and frees
 * t; the stacks then belong to the caller alone again. Returns the clock's
 * time at the stop, from which a simulation can go on with us_sim_run.
 * No us_thread_* call on t may start once this has been called. */
us_time_ns us_thread_stop(struct us_thread *t);

/* The stack lock, for any us_* call that has no us_thread_ form. Unlock
 * kicks the stack thread, since the call may have queued frames or armed
 * a timer. */
void us_thread_lock(struct us_thread *t);
void us_thread_unlock(struct us_thread *t);
/* The thread's clock now (virtual time, or CLOCK_MONOTONIC). Lock held. */
us_time_ns us_thread_now(struct us_thread *t);

/* Blocking us_recvfrom: takes the lock and, while nothing is queued, sleeps
 * on the socket's wait queue (see the rules above). US_MSG_DONTWAIT makes
 * it return -EAGAIN instead, as on Linux; so does US_MSG_OOB, which never
 * waits for the urgent byte (Linux's tcp_recv_urg). */
int us_thread_recvfrom(struct us_thread *t, struct us_stack *s, int fd, void *buf, size_t len,
                       int flags, struct us_sockaddr_in *from);
/* us_sendto under the lock at the thread's now, then a kick so the stack
 * thread moves the frames (a wire delivers them at a deadline it must
 * learn of). UDP sends never block (-EAGAIN when the send buffer is full).
 * -ESHUTDOWN once the stop has begun. */
int us_thread_sendto(struct us_thread *t, struct us_stack *s, int fd, const void *buf, size_t len,
                     int flags, const struct us_sockaddr_in *to);

/* ---- Streams (TCP): blocking forms of the connection calls ----
 * Each tries the non-blocking call and, while it would block, sleeps on
 * the socket's wait queue, which the stack wakes when the connection is
 * established, a connection waits to be accepted, data or a FIN arrives,
 * send-buffer space is freed, or a reset or timeout ends the connection.
 * All return -ESHUTDOWN once us_thread_stop has begun and -EBADF if
 * another thread closes the socket meanwhile. SO_RCVTIMEO bounds the
 * wait of accept and receive (-EAGAIN), as on Linux. */

/* Blocking us_accept: the new descriptor, or -errno. */
int us_thread_accept(struct us_thread *t, struct us_stack *s, int fd, struct us_sockaddr_in *peer);
/* Blocking us_connect: 0 once established, or -ECONNREFUSED, -ETIMEDOUT
 * (after net.ipv4.tcp_syn_retries), -ENETUNREACH ... */
int us_thread_connect(struct us_thread *t, struct us_stack *s, int fd,
                      const struct us_sockaddr_in *addr);
/* Blocking stream send: queues all len bytes (sleeping while the send
 * buffer is full) and returns len, or the bytes queued before an error if
 * any, else -errno (-EPIPE, -ECONNRESET ...). US_MSG_DONTWAIT: one try. */
int us_thread_send(struct us_thread *t, struct us_stack *s, int fd, const void *buf, size_t len,
                   int flags);

#endif
