/* Looking at a stack that a us_thread runs, from the test's own thread:
 * each look takes the stack lock, as the calls the stack thread makes do.
 *
 * Header-only (each test program is built alone). Include after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_THREAD_UTIL_H
#define USTACK_TESTS_SIM_THREAD_UTIL_H

#include "sim/sim_util.h"

#include "ustack/socket.h"
#include "ustack/thread.h"

/* us_sock_info of fd on s, under t's lock; fails the test if there is none. */
static inline struct us_sock_info sock_info_locked(struct us_thread *t, struct us_stack *s, int fd)
{
    struct us_sock_info info;
    us_thread_lock(t);
    int err = us_sock_info(s, fd, &info);
    us_thread_unlock(t);
    assert_int_equal(err, 0);
    return info;
}

/* A counter by name (ctr), under t's lock. */
static inline uint64_t ctr_locked(struct us_thread *t, struct us_stack *s, const char *name)
{
    us_thread_lock(t);
    uint64_t v = ctr(s, name);
    us_thread_unlock(t);
    return v;
}

#endif
