/* Wait queues and the sockets' use of them: how a thread blocked in a
 * receive sleeps (sk_wait_data), how the bottom half wakes exactly the
 * socket whose receive queue got data or an error (sock_def_readable), and
 * how a socket closed under a sleeper stays alive until the sleeper has
 * left (sock_put). Everything here runs with the stack lock held. */
#include "sock/sock.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* The condition variable is made on first sleep, not at socket creation, so
 * event-loop sockets never pay for it (in time or memory); CLOCK_MONOTONIC
 * because deadlines (SO_RCVTIMEO) must not move with the wall clock. */
static int waitq_ready(struct us_wait_queue_head *wq)
{
    if (wq->c)
        return 0;
    struct us_wait_queue_cond *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (!err) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (!err)
            err = pthread_cond_init(&c->cond, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (err) {
        free(c);
        return -err;
    }
    wq->c = c;
    return 0;
}

int us_wait_woken(struct us_wait_queue_head *wq, pthread_mutex_t *lock, us_time_ns deadline)
{
    int err = waitq_ready(wq);
    if (err)
        return err;
    struct us_wait_queue_cond *c = wq->c;
    uint64_t seq = c->wake_seq;
    wq->sleepers++;
    wq->unwoken++;
    if (deadline == US_TIME_NEVER) {
        err = pthread_cond_wait(&c->cond, lock);
    } else {
        struct timespec ts = {.tv_sec = (time_t)(deadline / US_NS_PER_SEC),
                              .tv_nsec = (long)(deadline % US_NS_PER_SEC)};
        err = pthread_cond_timedwait(&c->cond, lock, &ts);
    }
    wq->sleepers--;
    if (c->wake_seq == seq)
        wq->unwoken--; /* timed out or spurious: no wake-up took us off */
    return err == ETIMEDOUT ? -ETIMEDOUT : -err;
}

void us_wake_up_all(struct us_wait_queue_head *wq)
{
    wq->unwoken = 0;
    if (wq->c) { /* else nobody ever slept here */
        wq->c->wake_seq++;
        pthread_cond_broadcast(&wq->c->cond);
    }
}

void us_waitq_destroy(struct us_wait_queue_head *wq)
{
    if (wq->c) {
        pthread_cond_destroy(&wq->c->cond);
        free(wq->c);
        wq->c = NULL;
    }
}

void us_sock_wake_sleepers(struct us_stack *s, struct us_sock *sk)
{
    if (sk->wq.c) /* always: only a sleeper makes unwoken non-zero */
        sk->wq.c->wakeups++;
    s->mib.link.Wakeups++;
    us_wake_up_all(&sk->wq);
}

static void sock_free(struct us_sock *sk)
{
    us_waitq_destroy(&sk->wq);
    free(sk);
}

int us_sock_wait_data(struct us_sock *sk, pthread_mutex_t *lock, us_time_ns deadline)
{
    int err = us_wait_woken(&sk->wq, lock, deadline);
    if (sk->dead) {
        /* Closed while we slept: the descriptor table has let go of it,
         * and the last sleeper to leave holds the final reference (unless
         * sent datagrams still do). */
        us_sock_release_if_unused(sk);
        return -EBADF;
    }
    return err;
}

void us_sock_release_if_unused(struct us_sock *sk)
{
    if (sk->dead && !sk->wq.sleepers && !sk->wmem_alloc)
        sock_free(sk);
}

void us_sock_put(struct us_sock *sk)
{
    /* Every thread still inside the wait, woken or not, holds a reference;
     * so does every sent datagram still charged to the socket. */
    sk->dead = true;
    if (sk->wq.sleepers)
        us_wake_up_all(&sk->wq);
    us_sock_release_if_unused(sk);
}
