/* Threaded mode: calls that must not wait. A UDP send never blocks: with
 * the send buffer full it returns -EAGAIN at once (counted in
 * UdpSndbufErrors) and works again once the device has taken the frames;
 * MSG_DONTWAIT makes a receive return -EAGAIN without sleeping even with
 * no SO_RCVTIMEO; and an SO_RCVTIMEO wait does end, after its real time.
 *
 * The sender's frames are held by a gate: a device wrapped around A's port
 * of the wire that keeps every frame it is given while closed (the
 * datagrams stay charged to the socket, as in a device that does not
 * drain) and hands them all to the wire when opened. Datagrams go to the
 * subnet's broadcast address, so no ARP resolution (whose timers the
 * virtual clock would run through between two calls) is involved.
 *
 * Every call that could block runs in a helper thread that the main thread
 * waits for at most 10 s of real time, so a call that blocks fails the test
 * with a message instead of hanging it. Meant to run under ThreadSanitizer
 * (scripts/test.sh's `ctest -R threads`); cmocka is not thread-safe, so the
 * helper threads only record what they saw and the main thread asserts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/devwrap.h"
#include "sim/sim_util.h"
#include "sim/thread_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "ustack/dev.h"
#include "ustack/socket.h"
#include "ustack/stack.h"
#include "ustack/thread.h"

#define A_IP     US_IP4(192, 0, 2, 1)
#define B_IP     US_IP4(192, 0, 2, 2)
#define BCAST_IP US_IP4(192, 0, 2, 255)
#define MS       US_NS_PER_MS
#define PORT     7000
#define WAIT_MS  10000 /* the longest any call may take before the test calls it blocked */

/* A sent datagram's charge: a buffer of the default pool (2,048 bytes plus
 * headroom) and its descriptor, as us_pkt_truesize counts it. */
#define TRUESIZE ((uint32_t)(2048 + US_PKT_HEADROOM + sizeof(struct us_pkt)))

/* ---------------- the gate ---------------- */

struct gate {
    struct devwrap w; /* first: a struct us_dev * is a struct gate * */
    bool closed;      /* under the stack lock, like everything the stack thread touches */
    struct us_pkt_queue held;
};

static enum dw_verdict gate_tx(struct devwrap *w, struct us_pkt *f, struct us_pkt *next,
                               us_time_ns now)
{
    struct gate *g = (struct gate *)w;
    if (!g->closed)
        return DW_PASS;
    us_pkt_queue_push(&g->held, f);
    return DW_KEEP;
}

static void gate_fini(struct devwrap *w)
{
    us_pkt_queue_purge(&((struct gate *)w)->held);
}

static const struct devwrap_hooks gate_hooks = {.tx = gate_tx, .fini = gate_fini};

static struct gate *gate_new(struct us_dev *lower)
{
    return devwrap_new(sizeof(struct gate), lower, NULL, &gate_hooks);
}

/* Opens the gate: every held frame goes to the wire, in order. Lock held. */
static void gate_open(struct gate *g, us_time_ns now)
{
    g->closed = false;
    struct us_pkt *p;
    while ((p = us_pkt_queue_pop(&g->held)))
        us_dev_tx_burst(g->w.dev.lower, &p, 1, now);
}

/* ---------------- the network ---------------- */

struct net {
    struct us_wire *wire;
    struct us_stack *a, *b;
    struct us_stack *both[2];
    struct gate *gate; /* A's device */
    struct us_thread *t;
};

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    struct us_wire_config wc = {.latency = 10 * 1000};
    n->wire = us_wire_new(&wc);
    assert_non_null(n->wire);
    n->a = sim_stack_new("a", 0xa11ce);
    n->b = sim_stack_new("b", 0xb0b);
    n->gate = gate_new(us_wire_port_new(n->wire, "a0"));
    assert_int_equal(us_iface_add(n->a, &n->gate->w.dev, A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(n->b, us_wire_port_new(n->wire, "b0"), B_IP, 24, 0), 0);
    n->both[0] = n->a;
    n->both[1] = n->b;
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    if (n->t)
        us_thread_stop(n->t);
    us_stack_free(n->a);
    us_stack_free(n->b);
    us_wire_free(n->wire);
    free(n);
    return 0;
}

static void start(struct net *n)
{
    n->t = us_thread_start(n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(n->t);
}

static int udp_socket(struct us_stack *s)
{
    int fd = us_socket(s, US_SOCK_DGRAM);
    assert_true(fd >= 0);
    return fd;
}

static void set_int(struct us_stack *s, int fd, int opt, int v)
{
    assert_int_equal(us_setsockopt(s, fd, US_SOL_SOCKET, opt, &v, sizeof(v)), 0);
}

static void set_rcvtimeo_ms(struct us_stack *s, int fd, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    assert_int_equal(us_setsockopt(s, fd, US_SOL_SOCKET, US_SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

/* ---------------- calls watched from the main thread ---------------- */

struct watched {
    void (*fn)(void *arg);
    void *arg;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void *watched_main(void *p)
{
    struct watched *w = p;
    w->fn(w->arg);
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void watched_start(struct watched *w, void (*fn)(void *), void *arg)
{
    memset(w, 0, sizeof(*w));
    w->fn = fn;
    w->arg = arg;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    assert_int_equal(pthread_cond_init(&w->cv, &ca), 0);
    pthread_condattr_destroy(&ca);
    assert_int_equal(pthread_mutex_init(&w->mu, NULL), 0);
    assert_int_equal(pthread_create(&w->th, NULL, watched_main, w), 0);
}

/* Waits up to WAIT_MS of real time for the call to return; joins it then.
 * False if it is still running (the thread is left to the stop, which
 * releases whatever sleeps in a us_thread_* call). */
static bool watched_join(struct watched *w)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0)
            break;
    bool done = w->done;
    pthread_mutex_unlock(&w->mu);
    if (!done)
        return false;
    assert_int_equal(pthread_join(w->th, NULL), 0);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return true;
}

/* ---------------- the send buffer ---------------- */

struct sender {
    struct net *n;
    int fd;
    uint32_t seq;       /* the next datagram's number */
    unsigned limit;     /* sends to try at most */
    unsigned sent;      /* how many succeeded before the first failure */
    int err, again;     /* the failure, and one more try after it */
    us_time_ns longest; /* the longest single call, real time */
};

/* Sends numbered 100-byte datagrams to the broadcast address until one
 * fails, then tries once more. */
static void sender_main(void *arg)
{
    struct sender *sd = arg;
    struct us_sockaddr_in to = {BCAST_IP, PORT};
    uint8_t buf[100] = {0};
    sd->sent = 0;
    sd->err = 0;
    sd->again = 0;
    while (sd->sent < sd->limit) {
        memcpy(buf, &sd->seq, sizeof(sd->seq));
        us_time_ns t0 = us_clock_now();
        int r = us_thread_sendto(sd->n->t, sd->n->a, sd->fd, buf, sizeof(buf), 0, &to);
        us_time_ns dt = us_clock_now() - t0;
        if (dt > sd->longest)
            sd->longest = dt;
        if (r != (int)sizeof(buf)) {
            sd->err = r;
            sd->again = us_thread_sendto(sd->n->t, sd->n->a, sd->fd, "x", 1, 0, &to);
            return;
        }
        sd->seq++;
        sd->sent++;
    }
}

/* Reads `count` datagrams on B's socket (SO_RCVTIMEO bounds each wait) and
 * checks they are numbered first, first + 1, ... */
static void expect_datagrams(struct net *n, int fd, uint32_t first, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        uint8_t buf[128];
        struct us_sockaddr_in from;
        int r = us_thread_recvfrom(n->t, n->b, fd, buf, sizeof(buf), 0, &from);
        if (r != 100)
            fail_msg("datagram %u of %u from A: recvfrom returned %d", i + 1, count, r);
        uint32_t seq;
        memcpy(&seq, buf, sizeof(seq));
        assert_int_equal(seq, first + i);
        assert_int_equal(from.addr, A_IP);
    }
}

/* The send buffer fills while the gate holds A's frames: the send that
 * finds it full returns -EAGAIN at once, and so does the next, each
 * counted; B has nothing. The gate opens: B gets every datagram, in order,
 * the charge is gone, and sending works again. */
static void test_sendto_eagain_when_send_buffer_full(void **state)
{
    struct net *n = *state;
    int rx = udp_socket(n->b);
    assert_int_equal(us_bind(n->b, rx, &(struct us_sockaddr_in){US_IP4_ANY, PORT}), 0);
    set_rcvtimeo_ms(n->b, rx, WAIT_MS);
    int fd = udp_socket(n->a);
    set_int(n->a, fd, US_SO_BROADCAST, 1);
    set_int(n->a, fd, US_SO_SNDBUF, 10000);                 /* doubled: 20,000 */
    const unsigned fit = (20000 + TRUESIZE - 1) / TRUESIZE; /* a send goes in while under */
    start(n);

    us_thread_lock(n->t);
    n->gate->closed = true;
    us_thread_unlock(n->t);
    static struct sender sd; /* static: outlives the test if the call never returns */
    sd = (struct sender){.n = n, .fd = fd, .limit = 10 * fit};
    static struct watched w;
    watched_start(&w, sender_main, &sd);
    if (!watched_join(&w))
        fail_msg("us_thread_sendto blocked: no return within %d ms with the send buffer full",
                 WAIT_MS);
    print_message("longest us_thread_sendto: %llu us\n", (unsigned long long)(sd.longest / 1000));
    if (sd.sent != fit)
        fail_msg("%u datagrams sent before %d, expected %u (truesize %u)", sd.sent, sd.err, fit,
                 TRUESIZE);
    assert_int_equal(sd.err, -EAGAIN);
    assert_int_equal(sd.again, -EAGAIN);
    assert_int_equal(ctr_locked(n->t, n->a, "UdpSndbufErrors"), 2);
    struct us_sock_info info = sock_info_locked(n->t, n->a, fd);
    assert_int_equal(info.tx_queue, fit * TRUESIZE);
    assert_int_equal(info.sleepers, 0);
    us_thread_lock(n->t);
    assert_int_equal(n->gate->held.count, fit);
    assert_false(us_sock_poll_events(n->a, fd) & US_POLLOUT);
    us_thread_unlock(n->t);
    char buf[8];
    assert_int_equal(us_thread_recvfrom(n->t, n->b, rx, buf, sizeof(buf), US_MSG_DONTWAIT, NULL),
                     -EAGAIN);

    /* The frames go: the charge with them, every datagram to B in order. */
    us_thread_lock(n->t);
    gate_open(n->gate, us_thread_now(n->t));
    assert_int_equal(us_sock_info(n->a, fd, &info), 0);
    assert_int_equal(info.tx_queue, 0);
    assert_true(us_sock_poll_events(n->a, fd) & US_POLLOUT);
    us_thread_unlock(n->t);
    expect_datagrams(n, rx, 0, fit);

    /* Sending works again, and more than a buffer's worth now that the
     * device drains: the stack thread moves each frame to the wire. */
    sd.limit = 3;
    watched_start(&w, sender_main, &sd);
    if (!watched_join(&w))
        fail_msg("us_thread_sendto blocked with the send buffer empty");
    assert_int_equal(sd.sent, 3);
    assert_int_equal(sd.err, 0);
    expect_datagrams(n, rx, fit, 3);
    assert_int_equal(ctr_locked(n->t, n->a, "UdpSndbufErrors"), 2);
}

/* ---------------- receives that must not wait ---------------- */

struct receiver {
    struct net *n;
    int fd, flags;
    int r;
    us_time_ns took; /* real time */
    uint8_t buf[128];
};

static void receiver_main(void *arg)
{
    struct receiver *rc = arg;
    us_time_ns t0 = us_clock_now();
    rc->r =
        us_thread_recvfrom(rc->n->t, rc->n->b, rc->fd, rc->buf, sizeof(rc->buf), rc->flags, NULL);
    rc->took = us_clock_now() - t0;
}

/* Runs one us_thread_recvfrom on B's fd in a watched thread. */
static struct receiver *recv_watched(struct net *n, int fd, int flags, const char *what)
{
    static struct receiver rc; /* static: outlives the test if the call never returns */
    static struct watched w;
    rc = (struct receiver){.n = n, .fd = fd, .flags = flags};
    watched_start(&w, receiver_main, &rc);
    if (!watched_join(&w))
        fail_msg("%s: us_thread_recvfrom still blocked after %d ms", what, WAIT_MS);
    return &rc;
}

/* MSG_DONTWAIT on a socket whose SO_RCVTIMEO is the default (forever):
 * -EAGAIN without sleeping, and a queued datagram when there is one. */
static void test_dontwait_never_sleeps(void **state)
{
    struct net *n = *state;
    int rx = udp_socket(n->b);
    assert_int_equal(us_bind(n->b, rx, &(struct us_sockaddr_in){US_IP4_ANY, PORT}), 0);
    int fd = udp_socket(n->a);
    set_int(n->a, fd, US_SO_BROADCAST, 1);
    start(n);

    struct receiver *rc = recv_watched(n, rx, US_MSG_DONTWAIT, "MSG_DONTWAIT, nothing queued");
    assert_int_equal(rc->r, -EAGAIN);
    struct us_sock_info info = sock_info_locked(n->t, n->b, rx);
    assert_int_equal(info.wakeups, 0);

    struct us_sockaddr_in to = {BCAST_IP, PORT};
    assert_int_equal(us_thread_sendto(n->t, n->a, fd, "hello", 5, 0, &to), 5);
    /* Wait (bounded) until it is queued on B, without receiving it. */
    for (int i = 0; i < WAIT_MS && sock_info_locked(n->t, n->b, rx).rx_datagrams == 0; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    assert_int_equal(sock_info_locked(n->t, n->b, rx).rx_datagrams, 1);
    rc = recv_watched(n, rx, US_MSG_DONTWAIT, "MSG_DONTWAIT, one queued");
    assert_int_equal(rc->r, 5);
    assert_memory_equal(rc->buf, "hello", 5);
    rc = recv_watched(n, rx, US_MSG_DONTWAIT, "MSG_DONTWAIT, queue emptied");
    assert_int_equal(rc->r, -EAGAIN);
}

/* SO_RCVTIMEO ends the wait: -EAGAIN after at least its real time (the
 * virtual clock, idle, would have passed it at once) and well before the
 * watch gives up; the sleeper is gone. */
static void test_rcvtimeo_ends_the_wait(void **state)
{
    struct net *n = *state;
    int rx = udp_socket(n->b);
    assert_int_equal(us_bind(n->b, rx, &(struct us_sockaddr_in){US_IP4_ANY, PORT}), 0);
    set_rcvtimeo_ms(n->b, rx, 200);
    start(n);
    struct receiver *rc = recv_watched(n, rx, 0, "SO_RCVTIMEO 200 ms");
    assert_int_equal(rc->r, -EAGAIN);
    if (rc->took < 200 * MS)
        fail_msg("SO_RCVTIMEO 200 ms: returned after %llu us", (unsigned long long)rc->took / 1000);
    struct us_sock_info info = sock_info_locked(n->t, n->b, rx);
    assert_int_equal(info.sleepers, 0);
    assert_int_equal(info.wakeups, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sendto_eagain_when_send_buffer_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dontwait_never_sleeps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rcvtimeo_ends_the_wait, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
