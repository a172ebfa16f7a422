/* Threaded mode: two stacks on a simulated wire driven by a stack thread
 * (us_thread), application threads blocked in us_thread_recvfrom on their
 * sockets' wait queues. Sixteen readers on sixteen sockets each get exactly
 * their own 1,000 datagrams, once each, woken only by their own traffic; a
 * reader on a socket that gets nothing is never woken and is released by a
 * close or by us_thread_stop; an ICMP error wakes its sleeper; SO_RCVTIMEO
 * and MSG_DONTWAIT; and the real clock. Meant to run under ThreadSanitizer
 * (scripts/test.sh, build-tsan). cmocka is not thread-safe, so threads only
 * record what they saw and the main thread asserts. Every real-time wait is
 * bounded: a lost wakeup fails with the name of the reader that got stuck,
 * not with ctest's timeout (the teardown's us_thread_stop then releases it). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"
#include "sim/thread_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "ustack/socket.h"
#include "ustack/stack.h"
#include "ustack/thread.h"

#define A_IP US_IP4(192, 0, 2, 1)
#define B_IP US_IP4(192, 0, 2, 2)
#define MS   US_NS_PER_MS

enum {
    NSOCK = 16,
    PER_SOCK = 1000,
    TOTAL = NSOCK * PER_SOCK,
    BASE_PORT = 7000,
    /* Every datagram may be in flight or queued at once (the sender can
     * outrun the readers), so each pool holds all of them: B's in its
     * receive queues, A's in the ARP queue if its entry expired meanwhile. */
    POOL = TOTAL + 4096,
};

struct net {
    struct us_wire *wire;
    struct us_stack *a, *b;
    struct us_stack *both[2];
    us_time_ns now;
    struct us_thread *t;
};

static struct net *net_new(us_time_ns now)
{
    struct net *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->now = now;
    /* Small frames keep the big pools small; infinite bandwidth means the
     * wire never tail-drops. */
    struct us_wire_config wc = {.mtu = 512, .latency = 10 * 1000};
    n->wire = us_wire_new(&wc);
    struct us_stack_config ca = {
        .name = "a", .seed = 0xa11ce, .pkt_count = POOL, .pkt_buf_size = 1024};
    struct us_stack_config cb = {
        .name = "b", .seed = 0xb0b, .pkt_count = POOL, .pkt_buf_size = 1024};
    n->a = us_stack_new(&ca);
    n->b = us_stack_new(&cb);
    assert_non_null(n->a);
    assert_non_null(n->b);
    assert_int_equal(us_iface_add(n->a, us_wire_port_new(n->wire, "a0"), A_IP, 24, now), 0);
    assert_int_equal(us_iface_add(n->b, us_wire_port_new(n->wire, "b0"), B_IP, 24, now), 0);
    n->both[0] = n->a;
    n->both[1] = n->b;
    /* On the virtual clock time jumps to the next timer whenever the stacks
     * are idle, so A's ARP entry for B may expire between two sends; its
     * queue of packets awaiting resolution must then hold a whole burst. */
    set_knob(n->a, "net.ipv4.neigh.default.unres_qlen", "1000000");
    /* ... and the sender's send buffer, which they are charged to until
     * they leave (64 MiB: 16,000 datagrams of 1,024-byte buffers). */
    set_knob(n->a, "net.core.wmem_default", "67108864");
    set_knob(n->b, "net.core.rmem_max", "8388608");
    return n;
}

static int setup(void **state)
{
    *state = net_new(0);
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

static int udp_bound(struct us_stack *s, uint16_t port)
{
    int fd = us_socket(s, US_SOCK_DGRAM);
    assert_true(fd >= 0);
    struct us_sockaddr_in sa = {US_IP4_ANY, port};
    assert_int_equal(us_bind(s, fd, &sa), 0);
    return fd;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (real time, up to 10 s) until `count` threads sleep on the socket. */
static void wait_sleepers(struct net *n, struct us_stack *s, int fd, uint32_t count)
{
    for (int i = 0; i < 10000; i++) {
        if (sock_info_locked(n->t, s, fd).sleepers == count)
            return;
        sleep_ms(1);
    }
    fail_msg("fd %d: never saw %u sleepers in 10 s", fd, count);
}

/* Real-time bound on a thread's whole run (generous: ThreadSanitizer slows
 * the 16,000 datagrams down many times over). */
enum { JOIN_SECONDS = 60 };

static struct timespec deadline_in(int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* pthread_timedjoin_np's clock */
    ts.tv_sec += seconds;
    return ts;
}

/* Joins th by the deadline or fails naming who is stuck. */
static void join_by(pthread_t th, const struct timespec *deadline, const char *who)
{
    int err = pthread_timedjoin_np(th, NULL, deadline);
    if (err == ETIMEDOUT)
        fail_msg("%s still blocked after %d s: a lost wakeup?", who, JOIN_SECONDS);
    assert_int_equal(err, 0);
}

/* ---------------- readers ---------------- */

struct payload {
    uint32_t port, seq;
};

struct reader {
    struct net *n;
    struct us_stack *s;
    int fd;
    uint16_t port;
    unsigned want; /* datagrams to read before returning */
    pthread_t th;
    /* What the thread saw, asserted by the main thread after the join. */
    uint8_t seen[PER_SOCK];
    unsigned got, wrong_port, bad_len, bad_seq, dups;
    int last; /* the last return value of us_thread_recvfrom */
    atomic_bool done;
    atomic_uint progress; /* got, readable while the thread runs */
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (r->got < r->want) {
        uint8_t buf[64];
        struct us_sockaddr_in from;
        r->last = us_thread_recvfrom(r->n->t, r->s, r->fd, buf, sizeof(buf), 0, &from);
        if (r->last < 0)
            break;
        r->got++;
        atomic_store(&r->progress, r->got);
        struct payload p;
        if (r->last != (int)sizeof(p) || from.addr != A_IP) {
            r->bad_len++;
            continue;
        }
        memcpy(&p, buf, sizeof(p));
        if (p.port != r->port)
            r->wrong_port++;
        else if (p.seq >= PER_SOCK)
            r->bad_seq++;
        else if (r->seen[p.seq]++)
            r->dups++;
    }
    atomic_store(&r->done, true);
    return NULL;
}

static void reader_start(struct reader *r, struct net *n, struct us_stack *s, int fd, uint16_t port,
                         unsigned want)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    r->s = s;
    r->fd = fd;
    r->port = port;
    r->want = want;
    atomic_init(&r->done, false);
    atomic_init(&r->progress, 0);
    assert_int_equal(pthread_create(&r->th, NULL, reader_main, r), 0);
}

/* Joins the reader by the deadline or fails naming it and its progress. */
static void reader_join(struct reader *r, const struct timespec *deadline)
{
    int err = pthread_timedjoin_np(r->th, NULL, deadline);
    if (err == ETIMEDOUT)
        fail_msg("the reader on fd %d (port %u) still blocked after %d s with %u of %u "
                 "datagrams read: a lost wakeup?",
                 r->fd, r->port, JOIN_SECONDS, atomic_load(&r->progress), r->want);
    assert_int_equal(err, 0);
}

/* A fixed shuffle of every (port, seq) pair: the readers' datagrams arrive
 * interleaved, never grouped by socket. */
static void shuffled(uint32_t *order, unsigned count, uint64_t seed)
{
    for (unsigned i = 0; i < count; i++)
        order[i] = i;
    uint64_t x = seed;
    for (unsigned i = count - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned j = (unsigned)(x % (i + 1));
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

static void test_sixteen_readers_each_woken_by_its_own_datagrams(void **state)
{
    struct net *n = *state;
    int fds[NSOCK];
    for (int i = 0; i < NSOCK; i++) {
        fds[i] = udp_bound(n->b, (uint16_t)(BASE_PORT + i));
        int big = 4 << 20; /* doubled to 8 MiB: room for all 1,000 datagrams */
        assert_int_equal(
            us_setsockopt(n->b, fds[i], US_SOL_SOCKET, US_SO_RCVBUF, &big, sizeof(big)), 0);
    }
    int quiet_fd = udp_bound(n->b, 9000);  /* gets nothing; released by a close */
    int quiet2_fd = udp_bound(n->b, 9001); /* gets nothing; released by the stop */
    int tx = us_socket(n->a, US_SOCK_DGRAM);

    n->t = us_thread_start(n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(n->t);

    static struct reader readers[NSOCK], quiet, quiet2;
    for (int i = 0; i < NSOCK; i++)
        reader_start(&readers[i], n, n->b, fds[i], (uint16_t)(BASE_PORT + i), PER_SOCK);
    reader_start(&quiet, n, n->b, quiet_fd, 9000, 1);
    reader_start(&quiet2, n, n->b, quiet2_fd, 9001, 1);
    /* Every reader is blocked in its receive before the first datagram. */
    for (int i = 0; i < NSOCK; i++)
        wait_sleepers(n, n->b, fds[i], 1);
    wait_sleepers(n, n->b, quiet_fd, 1);
    wait_sleepers(n, n->b, quiet2_fd, 1);

    static uint32_t order[TOTAL];
    shuffled(order, TOTAL, 0x5eed);
    for (unsigned k = 0; k < TOTAL; k++) {
        struct payload p = {BASE_PORT + order[k] / PER_SOCK, order[k] % PER_SOCK};
        struct us_sockaddr_in to = {B_IP, (uint16_t)p.port};
        assert_int_equal(us_thread_sendto(n->t, n->a, tx, &p, sizeof(p), 0, &to), sizeof(p));
    }

    uint64_t wakeups_by_sock = 0;
    struct timespec deadline = deadline_in(JOIN_SECONDS);
    for (int i = 0; i < NSOCK; i++) {
        struct reader *r = &readers[i];
        reader_join(r, &deadline);
        assert_int_equal(r->last, sizeof(struct payload));
        assert_int_equal(r->got, PER_SOCK);
        assert_int_equal(r->bad_len, 0);
        assert_int_equal(r->wrong_port, 0);
        assert_int_equal(r->bad_seq, 0);
        assert_int_equal(r->dups, 0);
        for (int seq = 0; seq < PER_SOCK; seq++)
            assert_int_equal(r->seen[seq], 1);
        /* Woken at most once per datagram of its own, and at least once. */
        struct us_sock_info info = sock_info_locked(n->t, n->b, fds[i]);
        assert_true(info.wakeups >= 1 && info.wakeups <= PER_SOCK);
        assert_int_equal(info.rx_datagrams, 0);
        wakeups_by_sock += info.wakeups;
    }

    /* Every datagram read exactly once, none lost anywhere on the way. */
    assert_int_equal(ctr_locked(n->t, n->b, "UdpInDatagrams"), TOTAL);
    assert_int_equal(ctr_locked(n->t, n->a, "UdpOutDatagrams"), TOTAL);
    assert_int_equal(ctr_locked(n->t, n->b, "UdpRcvbufErrors"), 0);
    assert_int_equal(ctr_locked(n->t, n->b, "UdpNoPorts"), 0);
    assert_int_equal(ctr_locked(n->t, n->a, "ArpUnresolvedDiscards"), 0);
    assert_int_equal(ctr_locked(n->t, n->a, "LinkPoolExhausted"), 0);
    assert_int_equal(ctr_locked(n->t, n->b, "LinkPoolExhausted"), 0);
    /* The bottom half woke only sockets that got data: the per-socket
     * counts add up to the stack's, which is at most one per datagram. */
    uint64_t wakeups = ctr_locked(n->t, n->b, "LinkWakeups");
    print_message("%u datagrams, %llu wakeups\n", TOTAL, (unsigned long long)wakeups);
    assert_true(wakeups > 0 && wakeups <= TOTAL);
    assert_int_equal(wakeups, wakeups_by_sock);
    /* One reader per socket: nobody woke to find nothing. */
    assert_int_equal(ctr_locked(n->t, n->b, "LinkWakeupsSpurious"), 0);

    /* The quiet sockets' readers slept through 16,000 datagrams to others. */
    assert_false(atomic_load(&quiet.done));
    assert_false(atomic_load(&quiet2.done));
    struct us_sock_info qi = sock_info_locked(n->t, n->b, quiet_fd);
    assert_int_equal(qi.sleepers, 1);
    assert_int_equal(qi.wakeups, 0);
    assert_int_equal(sock_info_locked(n->t, n->b, quiet2_fd).wakeups, 0);

    /* Closing a socket releases its sleeper with -EBADF ... */
    us_thread_lock(n->t);
    assert_int_equal(us_close(n->b, quiet_fd), 0);
    us_thread_unlock(n->t);
    deadline = deadline_in(JOIN_SECONDS);
    reader_join(&quiet, &deadline);
    assert_int_equal(quiet.last, -EBADF);
    assert_int_equal(quiet.got, 0);
    /* ... and the stop releases the rest with -ESHUTDOWN. */
    us_thread_stop(n->t);
    n->t = NULL;
    reader_join(&quiet2, &deadline);
    assert_int_equal(quiet2.last, -ESHUTDOWN);
    assert_int_equal(ctr(n->b, "LinkWakeups"), wakeups); /* close and stop are not counted */
    assert_int_equal(us_stack_pkts_in_use(n->b), 0);
}

/* An error queued on a socket (ECONNREFUSED from an ICMP port unreachable)
 * wakes the thread sleeping on it, as Linux's sk_error_report. */
static void test_error_wakes_the_sleeper(void **state)
{
    struct net *n = *state;
    int fd = us_socket(n->a, US_SOCK_DGRAM);
    struct us_sockaddr_in peer = {B_IP, 7777}; /* nobody listens there */
    assert_int_equal(us_connect(n->a, fd, &peer), 0);
    n->t = us_thread_start(n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(n->t);

    static struct reader r;
    reader_start(&r, n, n->a, fd, 0, 1);
    wait_sleepers(n, n->a, fd, 1);
    assert_int_equal(us_thread_sendto(n->t, n->a, fd, "x", 1, 0, NULL), 1);
    struct timespec deadline = deadline_in(JOIN_SECONDS);
    reader_join(&r, &deadline);
    assert_int_equal(r.last, -ECONNREFUSED);
    assert_int_equal(sock_info_locked(n->t, n->a, fd).wakeups, 1);
    assert_int_equal(ctr_locked(n->t, n->a, "LinkWakeups"), 1);
    assert_int_equal(ctr_locked(n->t, n->b, "UdpNoPorts"), 1);
}

/* shutdown(SHUT_RD) releases a thread blocked in recv with end of file (0),
 * even on an unconnected socket (Linux's inet_shutdown wakes it and the
 * caller hears -ENOTCONN). */
static void test_shutdown_releases_the_sleeper(void **state)
{
    struct net *n = *state;
    int fd = udp_bound(n->b, 7300);
    n->t = us_thread_start(n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(n->t);
    static struct reader r;
    reader_start(&r, n, n->b, fd, 7300, 1);
    wait_sleepers(n, n->b, fd, 1);
    us_thread_lock(n->t);
    assert_int_equal(us_shutdown(n->b, fd, US_SHUT_RD), -ENOTCONN);
    us_thread_unlock(n->t);
    struct timespec deadline = deadline_in(JOIN_SECONDS);
    reader_join(&r, &deadline);
    assert_int_equal(r.last, 0); /* end of file, not a datagram from A */
    assert_int_equal(ctr_locked(n->t, n->b, "UdpInDatagrams"), 0);
}

/* SO_RCVTIMEO bounds the wait in real time, whatever the stack's clock;
 * MSG_DONTWAIT and a negative timeout do not wait at all. */
static void test_rcvtimeo_and_dontwait(void **state)
{
    struct net *n = *state;
    int fd = udp_bound(n->b, 7000);
    struct timeval tv = {0, 50 * 1000}, got_tv;
    size_t len = sizeof(got_tv);
    assert_int_equal(us_getsockopt(n->b, fd, US_SOL_SOCKET, US_SO_RCVTIMEO, &got_tv, &len), 0);
    assert_int_equal(got_tv.tv_sec, 0); /* forever reads back as {0, 0} */
    assert_int_equal(got_tv.tv_usec, 0);
    struct timeval bad = {0, 1000000};
    assert_int_equal(us_setsockopt(n->b, fd, US_SOL_SOCKET, US_SO_RCVTIMEO, &bad, sizeof(bad)),
                     -EDOM);
    assert_int_equal(us_setsockopt(n->b, fd, US_SOL_SOCKET, US_SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    assert_int_equal(us_getsockopt(n->b, fd, US_SOL_SOCKET, US_SO_RCVTIMEO, &got_tv, &len), 0);
    assert_int_equal(got_tv.tv_usec, 50 * 1000);

    n->t = us_thread_start(n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(n->t);
    char buf[16];
    assert_int_equal(us_thread_recvfrom(n->t, n->b, fd, buf, sizeof(buf), US_MSG_DONTWAIT, NULL),
                     -EAGAIN);
    us_time_ns t0 = us_clock_now();
    assert_int_equal(us_thread_recvfrom(n->t, n->b, fd, buf, sizeof(buf), 0, NULL), -EAGAIN);
    assert_true(us_clock_now() - t0 >= 50 * MS);
    assert_int_equal(sock_info_locked(n->t, n->b, fd).sleepers, 0);

    struct timeval neg = {-1, 0};
    us_thread_lock(n->t);
    assert_int_equal(us_setsockopt(n->b, fd, US_SOL_SOCKET, US_SO_RCVTIMEO, &neg, sizeof(neg)), 0);
    us_thread_unlock(n->t);
    assert_int_equal(us_thread_recvfrom(n->t, n->b, fd, buf, sizeof(buf), 0, NULL), -EAGAIN);
    assert_int_equal(ctr_locked(n->t, n->b, "LinkWakeups"), 0);
}

/* The real clock: the stack thread sleeps in ppoll until the wire's next
 * arrival or a kick. A reader on B echoes every datagram; the main thread
 * sends and reads the echoes, so both directions need the kicks. */
struct echo {
    struct net *n;
    int fd;
    unsigned count;
    int last;
};

static void *echo_main(void *arg)
{
    struct echo *e = arg;
    for (unsigned i = 0; i < e->count; i++) {
        char buf[64];
        struct us_sockaddr_in from;
        e->last = us_thread_recvfrom(e->n->t, e->n->b, e->fd, buf, sizeof(buf), 0, &from);
        if (e->last < 0)
            break;
        e->last = us_thread_sendto(e->n->t, e->n->b, e->fd, buf, (size_t)e->last, 0, &from);
        if (e->last < 0)
            break;
    }
    return NULL;
}

static int setup_real(void **state)
{
    *state = net_new(us_clock_now());
    return 0;
}

static void test_real_clock_echo(void **state)
{
    struct net *n = *state;
    enum { COUNT = 200, ECHO_WAIT_SECONDS = 10 };
    int srv = udp_bound(n->b, 7000);
    int cli = us_socket(n->a, US_SOCK_DGRAM);
    /* A lost echo fails here, not at ctest's timeout. */
    struct timeval tv = {ECHO_WAIT_SECONDS, 0};
    assert_int_equal(us_setsockopt(n->a, cli, US_SOL_SOCKET, US_SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    n->t = us_thread_start(n->both, 2, US_CLOCK_REAL);
    assert_non_null(n->t);
    static struct echo e;
    e = (struct echo){.n = n, .fd = srv, .count = COUNT};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, echo_main, &e), 0);
    struct us_sockaddr_in to = {B_IP, 7000};
    for (unsigned i = 0; i < COUNT; i++) {
        uint32_t v = i, back = ~0u;
        assert_int_equal(us_thread_sendto(n->t, n->a, cli, &v, sizeof(v), 0, &to), sizeof(v));
        int got = us_thread_recvfrom(n->t, n->a, cli, &back, sizeof(back), 0, NULL);
        if (got == -EAGAIN)
            fail_msg("echo %u: the main thread's read on A got no echo in %d s", i,
                     ECHO_WAIT_SECONDS);
        assert_int_equal(got, sizeof(back));
        assert_int_equal(back, i);
    }
    struct timespec deadline = deadline_in(JOIN_SECONDS);
    join_by(th, &deadline, "the echo thread on B");
    assert_int_equal(e.last, sizeof(uint32_t));
    assert_int_equal(ctr_locked(n->t, n->b, "UdpInDatagrams"), COUNT);
    assert_int_equal(ctr_locked(n->t, n->a, "UdpInDatagrams"), COUNT);
    assert_true(ctr_locked(n->t, n->a, "LinkWakeups") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sixteen_readers_each_woken_by_its_own_datagrams, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_error_wakes_the_sleeper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_releases_the_sleeper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rcvtimeo_and_dontwait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_clock_echo, setup_real, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
