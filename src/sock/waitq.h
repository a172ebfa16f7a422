/* Wait queues, Linux's wait_queue_head_t (include/linux/wait.h): where an
 * application thread sleeps until a socket has something for it.
 *
 * A wait queue is a condition variable and a count of its sleepers. There is
 * no lock of its own: sleepers sleep with the lock that protects the stack
 * (the stack lock of the us_thread driving it, src/core/thread.c), and the
 * bottom half, which runs with that lock held, wakes a queue only when
 * its count says someone sleeps there. In event-loop mode nobody ever
 * sleeps, so a socket pays one branch per wake and never allocates the
 * condition variable. */
#ifndef USTACK_SOCK_WAITQ_H
#define USTACK_SOCK_WAITQ_H

#include "ustack/types.h"

#include <pthread.h>

/* What only a queue that has had a sleeper needs: allocated by the first
 * sleeper, freed with the socket. */
struct us_wait_queue_cond {
    pthread_cond_t cond;
    uint64_t wake_seq; /* wake-ups so far: tells a sleeper it was woken, not timed out */
    uint64_t wakeups;  /* times the stack woke sleepers here (data or error queued) */
};

/* Kept small (16 bytes) because every socket has one and most never sleep. */
struct us_wait_queue_head {
    struct us_wait_queue_cond *c; /* NULL until the first sleeper */
    uint32_t sleepers;            /* threads inside us_wait_woken on this queue */
    /* Of those, the ones no wake-up has reached yet. A woken thread stays a
     * sleeper until it has the lock back; waking it again meanwhile would
     * cost a futex call and wake nobody, so such wake-ups are skipped. */
    uint32_t unwoken;
};

/* waitqueue_active / skwq_has_sleeper: the one test event-loop mode pays. */
static inline bool us_wq_has_sleeper(const struct us_wait_queue_head *wq)
{
    return wq->unwoken != 0;
}

/* wait_woken: with *lock held, sleeps on wq until a wake_up or until
 * deadline, an absolute CLOCK_MONOTONIC time (US_TIME_NEVER: no deadline);
 * *lock is dropped while asleep and held again on return. 0 when woken,
 * which may be spurious (the caller re-checks its condition), or
 * -ETIMEDOUT. Counts the sleeper in wq->sleepers meanwhile. */
int us_wait_woken(struct us_wait_queue_head *wq, pthread_mutex_t *lock, us_time_ns deadline);

/* wake_up_interruptible_all: wakes every sleeper not woken yet (they re-check under the
 * lock; a socket's readers are not exclusive waiters, as in Linux). */
void us_wake_up_all(struct us_wait_queue_head *wq);

/* Times the stack woke sleepers on wq (0 if nobody ever slept there). */
static inline uint64_t us_wq_wakeups(const struct us_wait_queue_head *wq)
{
    return wq->c ? wq->c->wakeups : 0;
}

/* Frees the condition variable if a sleeper ever created it. No sleeper may remain. */
void us_waitq_destroy(struct us_wait_queue_head *wq);

#endif
