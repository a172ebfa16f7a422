/* Drivers: the real-time loop for real devices and the virtual-clock loop
 * for simulations. These are the only places that read a clock. */
#include "core/stack_impl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

us_time_ns us_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (us_time_ns)ts.tv_sec * US_NS_PER_SEC + (us_time_ns)ts.tv_nsec;
}

int us_stack_run(struct us_stack *s, volatile int *stop, us_app_tick_fn tick, void *ctx)
{
    struct pollfd fds[US_MAX_IFACES];
    us_time_ns app_next = 0;
    while (!*stop) {
        us_time_ns now = us_clock_now();
        if (tick && app_next <= now)
            app_next = tick(ctx, s, now);
        us_time_ns next = us_stack_poll(s, now);
        if (tick)
            next = us_time_min(next, app_next);
        if (next <= now)
            continue;
        int nfds = 0;
        for (int i = 0; i < s->n_ifaces; i++) {
            int fd = us_dev_pollfd(s->ifaces[i].dev);
            if (fd >= 0)
                fds[nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
        }
        /* Sleep until a device is readable or the next deadline, to the
         * nanosecond: on a path with a 20 µs RTT, RACK's reordering timer
         * is due in microseconds, and poll()'s milliseconds would stall a
         * connection for 50 round trips each time. */
        struct timespec ts, *tsp = NULL;
        if (next != US_TIME_NEVER) {
            us_time_ns wait = next - now;
            ts.tv_sec = (time_t)(wait / US_NS_PER_SEC);
            ts.tv_nsec = (long)(wait % US_NS_PER_SEC);
            tsp = &ts;
        }
        int rc = ppoll(fds, (nfds_t)nfds, tsp, NULL);
        if (rc < 0 && errno != EINTR)
            return -errno;
        /* A signal or a readable device: let the application look too. */
        if (tick && rc != 0)
            app_next = 0;
    }
    return 0;
}

us_time_ns us_stacks_poll(struct us_stack **stacks, int n, us_time_ns now)
{
    us_time_ns next = US_TIME_NEVER;
    for (int i = 0; i < n; i++)
        next = us_time_min(next, us_stack_poll(stacks[i], now));
    /* Frames sent in this round may be due now at a peer polled earlier. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < stacks[i]->n_ifaces; j++)
            next = us_time_min(next, us_dev_next_deadline(stacks[i]->ifaces[j].dev, now));
    return next;
}

/* Rounds at one virtual instant before the simulation is declared stuck:
 * far more than any burst needs, few enough to fail fast on a livelock. */
#define US_SIM_MAX_ROUNDS_PER_INSTANT 1000000

void us_sim_run(struct us_stack **stacks, int n, us_time_ns *now, us_time_ns until)
{
    us_time_ns last = *now;
    unsigned rounds = 0;
    while (*now <= until) {
        if (*now == last && ++rounds > US_SIM_MAX_ROUNDS_PER_INSTANT) {
            fprintf(stderr,
                    "us_sim_run: no progress at t=%llu ns after %u rounds; "
                    "a stack or device keeps asking to be polled now\n",
                    (unsigned long long)*now, rounds - 1);
            abort();
        }
        if (*now != last) {
            last = *now;
            rounds = 0;
        }
        us_time_ns next = us_stacks_poll(stacks, n, *now);
        if (next > until)
            break;
        if (next > *now)
            *now = next;
    }
    *now = until;
}
