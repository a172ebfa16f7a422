/* Threaded mode (include/ustack/thread.h): the stack thread, which plays
 * the interrupt/softirq role for its stacks, the stack lock, and the
 * blocking calls of application threads.
 *
 * The stack thread holds the stack lock while it runs rounds and drops it
 * only to sleep (in ppoll on the real clock, on a condition variable on the
 * virtual one) or for a moment between two rounds, so that application
 * threads get in. Application threads sleep on their sockets' wait queues
 * (src/sock/waitq.c) with the same lock, so the bottom half, which wakes
 * them, never races with them. Like us_stack_run and us_sim_run, this is a
 * driver: the only other place that reads a clock. */
#include "ustack/thread.h"

#include "core/stack_impl.h"
#include "sock/sock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define US_THREAD_MAX_STACKS 16

/* An application thread asleep in a us_thread_* call, listed so that
 * us_thread_stop can wake it whatever it sleeps on. Lives on the sleeper's
 * own stack, linked only while it sleeps. */
struct sleeper {
    struct us_wait_queue_head *wq;
    struct sleeper *prev, *next;
};

struct us_thread {
    pthread_mutex_t lock; /* the stack lock */
    pthread_t thread;
    struct us_stack *stacks[US_THREAD_MAX_STACKS];
    int n;
    enum us_clock clock;
    us_time_ns now; /* virtual time; on the real clock, the time of the last round */

    bool stopping;       /* us_thread_stop has begun (or the stack thread failed) */
    bool sleeping;       /* the stack thread sleeps with the lock dropped: a kick must reach it */
    bool kicked;         /* an application call may have made work since the round began */
    pthread_cond_t kick; /* virtual clock: where the stack thread sleeps */
    int kick_fd;         /* real clock: an eventfd in the stack thread's poll set */

    unsigned callers;    /* application threads inside us_thread_recvfrom / sendto */
    pthread_cond_t idle; /* signalled when the last caller leaves during a stop */
    struct sleeper *sleepers;
};

/* ---- the stack thread ---- */

/* One round of every stack at t->now; the earliest next deadline. */
static us_time_ns run_round(struct us_thread *t)
{
    return us_stacks_poll(t->stacks, t->n, t->now);
}

static void wake_sleepers(struct us_thread *t)
{
    for (struct sleeper *sl = t->sleepers; sl; sl = sl->next)
        us_wake_up_all(sl->wq);
}

/* Lets waiting application threads take the lock between two rounds. */
static void relax(struct us_thread *t)
{
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_lock(&t->lock);
}

/* Real clock: sleeps with the lock dropped until a device is readable, the
 * deadline passes, or an application kicks the eventfd. ppoll rather than
 * poll: a wire's deadlines are microseconds apart, poll rounds to ms. */
static int sleep_real(struct us_thread *t, us_time_ns next)
{
    struct pollfd fds[1 + US_THREAD_MAX_STACKS * US_MAX_IFACES];
    nfds_t nfds = 0;
    fds[nfds++] = (struct pollfd){.fd = t->kick_fd, .events = POLLIN};
    for (int i = 0; i < t->n; i++) {
        for (int j = 0; j < t->stacks[i]->n_ifaces; j++) {
            int fd = us_dev_pollfd(t->stacks[i]->ifaces[j].dev);
            if (fd >= 0)
                fds[nfds++] = (struct pollfd){.fd = fd, .events = POLLIN};
        }
    }
    struct timespec ts, *tsp = NULL;
    if (next != US_TIME_NEVER) {
        us_time_ns wait = next - t->now;
        ts.tv_sec = (time_t)(wait / US_NS_PER_SEC);
        ts.tv_nsec = (long)(wait % US_NS_PER_SEC);
        tsp = &ts;
    }
    t->sleeping = true;
    pthread_mutex_unlock(&t->lock);
    int r = ppoll(fds, nfds, tsp, NULL);
    int err = r < 0 ? errno : 0;
    pthread_mutex_lock(&t->lock);
    t->sleeping = false;
    if (fds[0].revents & POLLIN) {
        uint64_t v;
        if (read(t->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
            return -errno;
    }
    return err && err != EINTR ? -err : 0;
}

static void *stack_thread_main(void *arg)
{
    struct us_thread *t = arg;
    /* Signals (SIGUSR1 for the counters, SIGINT) are for the application's
     * threads, as interrupts are not for softirq context. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);

    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        t->kicked = false; /* this round sees whatever came before it */
        if (t->clock == US_CLOCK_REAL)
            t->now = us_clock_now();
        us_time_ns next = run_round(t);
        if (next <= t->now) {
            relax(t); /* more to do now: backlog left, a device over budget */
            continue;
        }
        if (t->clock == US_CLOCK_VIRTUAL) {
            if (next != US_TIME_NEVER) {
                t->now = next; /* nothing happens in between: jump */
                relax(t);
                continue;
            }
            /* No deadline at all: only an application call can make work. */
            t->sleeping = true;
            while (!t->kicked && !t->stopping)
                pthread_cond_wait(&t->kick, &t->lock);
            t->sleeping = false;
            continue;
        }
        int err = sleep_real(t, next);
        if (err) {
            /* Without its poll the thread cannot go on; release everyone
             * rather than leave them blocked for ever. */
            fprintf(stderr, "ustack: stack thread: ppoll: %s\n", strerror(-err));
            t->stopping = true;
            wake_sleepers(t);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

struct us_thread *us_thread_start(struct us_stack **stacks, int n, enum us_clock clock)
{
    if (!stacks || n < 1 || n > US_THREAD_MAX_STACKS ||
        (clock != US_CLOCK_REAL && clock != US_CLOCK_VIRTUAL)) {
        errno = EINVAL;
        return NULL;
    }
    struct us_thread *t = calloc(1, sizeof(*t));
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    memcpy(t->stacks, stacks, (size_t)n * sizeof(*stacks));
    t->n = n;
    t->clock = clock;
    t->kick_fd = -1;
    if (clock == US_CLOCK_REAL) {
        t->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (t->kick_fd < 0) {
            int err = errno;
            free(t);
            errno = err;
            return NULL;
        }
        t->now = us_clock_now();
    } else {
        for (int i = 0; i < n; i++) /* never let time run backwards for a stack */
            if (us_stack_now(stacks[i]) > t->now)
                t->now = us_stack_now(stacks[i]);
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->kick, NULL);
    pthread_cond_init(&t->idle, NULL);
    int err = pthread_create(&t->thread, NULL, stack_thread_main, t);
    if (err) {
        pthread_cond_destroy(&t->idle);
        pthread_cond_destroy(&t->kick);
        pthread_mutex_destroy(&t->lock);
        if (t->kick_fd >= 0)
            close(t->kick_fd);
        free(t);
        errno = err;
        return NULL;
    }
    pthread_setname_np(t->thread, "us-softirq"); /* for top -H and gdb; failure is harmless */
    return t;
}

/* Tells the stack thread (lock held) that there may be work, waking it only
 * if it sleeps and only once per round: a burst of sends costs one wake. */
static void kick(struct us_thread *t, bool force)
{
    if (t->kicked && !force)
        return;
    t->kicked = true;
    if (!t->sleeping && !force)
        return;
    if (t->clock == US_CLOCK_VIRTUAL) {
        pthread_cond_signal(&t->kick);
    } else {
        uint64_t one = 1;
        /* A full counter (EAGAIN) already means "wake up". */
        if (write(t->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            fprintf(stderr, "ustack: kick: %s\n", strerror(errno));
    }
}

us_time_ns us_thread_stop(struct us_thread *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    wake_sleepers(t);
    kick(t, true);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);

    pthread_mutex_lock(&t->lock);
    while (t->callers)
        pthread_cond_wait(&t->idle, &t->lock);
    us_time_ns now = t->clock == US_CLOCK_REAL ? us_clock_now() : t->now;
    pthread_mutex_unlock(&t->lock);

    pthread_cond_destroy(&t->idle);
    pthread_cond_destroy(&t->kick);
    pthread_mutex_destroy(&t->lock);
    if (t->kick_fd >= 0)
        close(t->kick_fd);
    free(t);
    return now;
}

/* ---- application threads ---- */

void us_thread_lock(struct us_thread *t)
{
    pthread_mutex_lock(&t->lock);
}

void us_thread_unlock(struct us_thread *t)
{
    kick(t, false);
    pthread_mutex_unlock(&t->lock);
}

us_time_ns us_thread_now(struct us_thread *t)
{
    /* On the real clock the last round's time may be a sleep ago. */
    return t->clock == US_CLOCK_REAL ? us_clock_now() : t->now;
}

/* Takes the lock and counts the caller in, unless the stop has begun. */
static bool enter(struct us_thread *t)
{
    pthread_mutex_lock(&t->lock);
    if (t->stopping) {
        pthread_mutex_unlock(&t->lock);
        return false;
    }
    t->callers++;
    return true;
}

static void leave(struct us_thread *t)
{
    if (--t->callers == 0 && t->stopping)
        pthread_cond_broadcast(&t->idle);
    pthread_mutex_unlock(&t->lock);
}

/* Sleeps on sk's wait queue until woken, listed for us_thread_stop. */
static int sleep_on(struct us_thread *t, struct us_sock *sk, us_time_ns deadline)
{
    struct sleeper me = {.wq = &sk->wq, .next = t->sleepers};
    if (me.next)
        me.next->prev = &me;
    t->sleepers = &me;
    int err = us_sock_wait_data(sk, &t->lock, deadline); /* may free a closed sk */
    if (me.prev)
        me.prev->next = me.next;
    else
        t->sleepers = me.next;
    if (me.next)
        me.next->prev = me.prev;
    return err;
}

int us_thread_recvfrom(struct us_thread *t, struct us_stack *s, int fd, void *buf, size_t len,
                       int flags, struct us_sockaddr_in *from)
{
    if (!enter(t))
        return -ESHUTDOWN;
    us_time_ns deadline = 0; /* computed at the first sleep, from SO_RCVTIMEO */
    bool woken = false;
    int n;
    for (;;) {
        if (t->stopping) {
            n = -ESHUTDOWN;
            break;
        }
        n = us_recvfrom(s, fd, buf, len, flags, from);
        /* MSG_OOB never blocks (tcp_recv_urg). */
        if (n != -EAGAIN || (flags & (US_MSG_DONTWAIT | US_MSG_OOB)))
            break;
        /* Woken for nothing: a pthread spurious wakeup, or another reader
         * of the same socket took the datagram first. */
        if (woken)
            s->mib.link.WakeupsSpurious++;
        struct us_sock *sk = us_sock_get(s, fd); /* exists: us_recvfrom found it */
        if (!deadline) {
            if (sk->rcvtimeo == 0)
                break;                       /* a negative SO_RCVTIMEO: don't wait */
            us_time_ns now = us_clock_now(); /* a timeout is a thread's real wait */
            deadline = sk->rcvtimeo >= US_TIME_NEVER - now ? US_TIME_NEVER : now + sk->rcvtimeo;
        }
        int err = sleep_on(t, sk, deadline);
        if (err == -ETIMEDOUT)
            break; /* n is -EAGAIN, as Linux's SO_RCVTIMEO */
        if (err) {
            n = err; /* -EBADF: closed while we slept */
            break;
        }
        woken = true;
    }
    leave(t);
    return n;
}

int us_thread_sendto(struct us_thread *t, struct us_stack *s, int fd, const void *buf, size_t len,
                     int flags, const struct us_sockaddr_in *to)
{
    if (!enter(t))
        return -ESHUTDOWN;
    int n = us_sendto(s, fd, buf, len, flags, to, us_thread_now(t));
    kick(t, false);
    leave(t);
    return n;
}

/* ---- streams ---- */

/* Sleeps once on fd's wait queue with the caller counted in; 0 when woken
 * (the caller retries), -EAGAIN at the SO_RCVTIMEO deadline (timed: use
 * it), -EBADF, -ESHUTDOWN. *deadline is computed on the first call. */
static int wait_once(struct us_thread *t, struct us_stack *s, int fd, us_time_ns *deadline,
                     bool timed)
{
    if (t->stopping)
        return -ESHUTDOWN;
    struct us_sock *sk = us_sock_get(s, fd);
    if (!sk)
        return -EBADF;
    if (timed && !*deadline) {
        if (sk->rcvtimeo == 0)
            return -EAGAIN;
        us_time_ns now = us_clock_now();
        *deadline = sk->rcvtimeo >= US_TIME_NEVER - now ? US_TIME_NEVER : now + sk->rcvtimeo;
    }
    kick(t, false); /* whatever the try queued must go out while we sleep */
    int err = sleep_on(t, sk, timed ? *deadline : US_TIME_NEVER);
    if (err == -ETIMEDOUT)
        return -EAGAIN;
    return err;
}

int us_thread_accept(struct us_thread *t, struct us_stack *s, int fd, struct us_sockaddr_in *peer)
{
    if (!enter(t))
        return -ESHUTDOWN;
    us_time_ns deadline = 0;
    int n;
    for (;;) {
        n = us_accept(s, fd, peer);
        if (n != -EAGAIN)
            break;
        int err = wait_once(t, s, fd, &deadline, true);
        if (err) {
            n = err;
            break;
        }
    }
    leave(t);
    return n;
}

int us_thread_connect(struct us_thread *t, struct us_stack *s, int fd,
                      const struct us_sockaddr_in *addr)
{
    if (!enter(t))
        return -ESHUTDOWN;
    s->now = us_thread_now(t);
    int n = us_connect(s, fd, addr);
    if (n == -EINPROGRESS) {
        us_time_ns deadline = 0;
        for (;;) {
            int ev = us_sock_poll_events(s, fd);
            if (ev < 0) {
                n = ev;
                break;
            }
            if (ev & US_POLLERR) {
                int e = 0;
                size_t len = sizeof(e);
                us_getsockopt(s, fd, US_SOL_SOCKET, US_SO_ERROR, &e, &len);
                n = e ? -e : -ECONNRESET;
                break;
            }
            if (ev & US_POLLOUT) {
                n = 0;
                break;
            }
            int err = wait_once(t, s, fd, &deadline, false);
            if (err) {
                n = err;
                break;
            }
        }
    }
    kick(t, false);
    leave(t);
    return n;
}

int us_thread_send(struct us_thread *t, struct us_stack *s, int fd, const void *buf, size_t len,
                   int flags)
{
    if (!enter(t))
        return -ESHUTDOWN;
    size_t done = 0;
    int rc = 0;
    us_time_ns deadline = 0;
    while (done < len || len == 0) {
        int n = us_send(s, fd, (const uint8_t *)buf + done, len - done, flags, us_thread_now(t));
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0 && len == 0)
            break;
        if (n != -EAGAIN || (flags & US_MSG_DONTWAIT)) {
            rc = n;
            break;
        }
        int err = wait_once(t, s, fd, &deadline, false);
        if (err) {
            rc = err;
            break;
        }
    }
    kick(t, false);
    leave(t);
    return done ? (int)done : rc;
}
