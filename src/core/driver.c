/* Drivers: the real-time loop for real devices and the virtual-clock loop
 * for simulations. These are the only places that read a clock. */
#include "core/stack_impl.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

us_time_ns us_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (us_time_ns)ts.tv_sec * US_NS_PER_SEC + (us_time_ns)ts.tv_nsec;
}

/* How long the stack must have been quiet (nothing to read, no work due)
 * before it gives memory back. */
#define US_GIVE_BACK_QUIET_NS US_NS_PER_SEC

/* Gives back what a burst needed and the stack no longer holds: the packet
 * pool's growth, and the pages free() keeps (connections' send buffers and
 * blocks, an application's per-connection state) but could return: after
 * thousands of connections close, glibc keeps their memory in its heap,
 * behind whatever was allocated later, until malloc_trim. */
static void give_back_memory(struct us_stack *s)
{
    us_pkt_pool_trim(s->pool);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Frames the stack's devices have moved so far, either way. */
static uint64_t frames_moved(const struct us_stack *s)
{
    uint64_t n = 0;
    for (int i = 0; i < s->n_ifaces; i++)
        n += s->ifaces[i].dev->stats.rx_packets + s->ifaces[i].dev->stats.tx_packets;
    return n;
}

int us_stack_run(struct us_stack *s, volatile int *stop, us_app_tick_fn tick, void *ctx)
{
    struct pollfd fds[US_MAX_IFACES];
    us_time_ns app_next = 0;
    /* Busy since the memory was last given back, and when last busy. */
    bool busy = false;
    us_time_ns busy_at = 0;
    /* net.core.busy_poll: for that many µs after a frame last moved, the
     * loop polls the devices again at once instead of sleeping, as Linux's
     * busy polling spins on a NIC's queue: a frame is read as it arrives,
     * not after a wake-up from ppoll, at the price of a core. */
    uint64_t frames = frames_moved(s);
    us_time_ns moved_at = 0;
    while (!*stop) {
        us_time_ns now = us_clock_now();
        if (tick && app_next <= now)
            app_next = tick(ctx, s, now);
        us_time_ns next = us_stack_poll(s, now);
        us_time_ns spin = (us_time_ns)s->sysctl.busy_poll * 1000;
        if (spin) {
            uint64_t f = frames_moved(s);
            if (f != frames) {
                frames = f;
                moved_at = busy_at = now;
                busy = true;
            }
            if (now - moved_at < spin) {
                if (tick)
                    app_next = 0; /* the application polls with the stack */
                continue;
            }
        }
        if (tick)
            next = us_time_min(next, app_next);
        if (next <= now) {
            busy = true;
            busy_at = now;
            continue;
        }

        if (busy && now - busy_at >= US_GIVE_BACK_QUIET_NS) {
            give_back_memory(s);
            busy = false;
        }
        /* Wake when the quiet time is up, to give back then. */
        if (busy)
            next = us_time_min(next, busy_at + US_GIVE_BACK_QUIET_NS);
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
        if (rc > 0) {
            busy = true;
            busy_at = us_clock_now();
        }
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
