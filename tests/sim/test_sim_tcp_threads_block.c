/* Threaded mode's blocking TCP calls really block: each sleeps on its
 * socket's wait queue (us_sock_info's sleepers) until the event it waits
 * for, which the test makes happen, and returns only after it, woken by
 * the stack (wakeups):
 *  - us_thread_accept sleeps on an idle listener until the test connects;
 *  - us_thread_connect is asleep when the SYN-ACK reaches its stack (seen
 *    from a device wrapper on the stack thread, as the segment arrives);
 *  - us_thread_recvfrom sleeps on an idle connection until the test sends;
 *  - us_thread_send sleeps on a full send buffer facing a zero window and
 *    completes only after the test has read at the other end.
 * Every wait is bounded (10 s of real time) and fails with what it waited
 * for. Runs under ThreadSanitizer in scripts/test.sh (name has "threads"). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/devwrap.h"
#include "sim/tcp_util.h"
#include "sim/thread_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ustack/dev.h"
#include "ustack/thread.h"

struct blk {
    struct tnet *n;
    struct us_thread *t;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (real time, up to 10 s) until one thread sleeps on the socket. */
static void wait_asleep(struct blk *b, struct us_stack *s, int fd, const char *what)
{
    for (int i = 0; i < 10000; i++) {
        if (sock_info_locked(b->t, s, fd).sleepers == 1)
            return;
        sleep_ms(1);
    }
    fail_msg("%s never slept on its socket", what);
}

/* Waits (real time, up to 10 s) for a flag a thread sets when it returns. */
static void wait_done(atomic_int *done, const char *what)
{
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(done))
            return;
        sleep_ms(1);
    }
    fail_msg("%s did not return after its event", what);
}

static void blk_start(struct blk *b, struct tnet *n)
{
    b->n = n;
    b->t = us_thread_start(n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(b->t);
}

static void blk_stop(struct blk *b)
{
    b->n->now = us_thread_stop(b->t);
    tnet_free(b->n);
}

/* ---------------- accept ---------------- */

struct acceptor {
    struct blk *b;
    int lfd;
    int fd;
    struct us_sockaddr_in peer;
    atomic_int done;
};

static void *accept_main(void *arg)
{
    struct acceptor *ac = arg;
    ac->fd = us_thread_accept(ac->b->t, ac->b->n->b, ac->lfd, &ac->peer);
    atomic_store(&ac->done, 1);
    return NULL;
}

static void test_accept_blocks(void **state)
{
    (void)state;
    struct tnet_cfg cfg = {0};
    struct blk b;
    struct tnet *n = tnet_new(&cfg);
    int lfd = tcp_listen_on(n->b, 80, 8);
    int cfd = us_socket(n->a, US_SOCK_STREAM);
    blk_start(&b, n);
    struct acceptor ac = {.b = &b, .lfd = lfd, .fd = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, accept_main, &ac), 0);
    wait_asleep(&b, n->b, lfd, "us_thread_accept on an idle listener");
    uint64_t wakeups = sock_info_locked(b.t, n->b, lfd).wakeups;
    if (atomic_load(&ac.done))
        fail_msg("accept returned %d with nobody connecting", ac.fd);
    /* The event: a connects. */
    struct us_sockaddr_in to = {B_IP, 80}, me;
    us_thread_lock(b.t);
    assert_int_equal(us_connect(n->a, cfd, &to), -EINPROGRESS);
    assert_int_equal(us_getsockname(n->a, cfd, &me), 0);
    us_thread_unlock(b.t);
    wait_done(&ac.done, "us_thread_accept");
    pthread_join(th, NULL);
    assert_true(ac.fd >= 0);
    assert_int_equal(ac.peer.addr, A_IP);
    assert_int_equal(ac.peer.port, me.port);
    struct us_sock_info li = sock_info_locked(b.t, n->b, lfd);
    assert_int_equal(li.sleepers, 0);
    if (li.wakeups <= wakeups)
        fail_msg("the listener's sleeper was never woken (wakeups %llu)",
                 (unsigned long long)li.wakeups);
    blk_stop(&b);
}

/* ---------------- connect ---------------- */

/* A wrapper on a's device that, when a SYN-ACK reaches a, notes how many
 * threads sleep on the connecting socket (on the stack thread, stack lock
 * held, as the segment arrives). */
struct watch {
    struct devwrap w;
    struct us_stack *s;
    atomic_int fd;          /* the socket to look at; -1: not yet */
    atomic_int synacks;     /* SYN-ACKs seen */
    atomic_int sleepers_at; /* sleepers when the first arrived */
};

static enum dw_verdict watch_rx(struct devwrap *dw, struct us_pkt *f, us_time_ns now)
{
    struct watch *w = (struct watch *)dw;
    struct us_tcp_view t;
    if (!devwrap_tcp(f, &t))
        return DW_PASS;
    int fd = atomic_load(&w->fd);
    if (t.flags == (US_TCP_SYN | US_TCP_ACK) && fd >= 0 && w->s) {
        struct us_sock_info info;
        if (atomic_fetch_add(&w->synacks, 1) == 0 && us_sock_info(w->s, fd, &info) == 0)
            atomic_store(&w->sleepers_at, (int)info.sleepers);
    }
    return DW_PASS;
}

static const struct devwrap_hooks watch_hooks = {.rx = watch_rx};

static struct us_dev *watch_wrap(struct us_dev *lower, void *ctx)
{
    struct watch *w = ctx;
    return devwrap_init(&w->w, lower, "watch", &watch_hooks);
}

struct connector {
    struct blk *b;
    int fd;
    int rc;
    atomic_int done;
};

static void *connect_main(void *arg)
{
    struct connector *cn = arg;
    struct us_sockaddr_in to = {B_IP, 80};
    cn->rc = us_thread_connect(cn->b->t, cn->b->n->a, cn->fd, &to);
    atomic_store(&cn->done, 1);
    return NULL;
}

static void test_connect_blocks(void **state)
{
    (void)state;
    static struct watch w;
    memset(&w, 0, sizeof(w));
    atomic_store(&w.fd, -1);
    atomic_store(&w.sleepers_at, -1);
    struct tnet_cfg cfg = {.wrap_a = watch_wrap, .wrap_ctx = &w};
    struct blk b;
    struct tnet *n = tnet_new(&cfg);
    tcp_listen_on(n->b, 80, 8);
    int cfd = us_socket(n->a, US_SOCK_STREAM);
    w.s = n->a;
    atomic_store(&w.fd, cfd);
    blk_start(&b, n);
    uint64_t wakeups = sock_info_locked(b.t, n->a, cfd).wakeups;
    struct connector cn = {.b = &b, .fd = cfd};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, connect_main, &cn), 0);
    wait_done(&cn.done, "us_thread_connect");
    pthread_join(th, NULL);
    assert_int_equal(cn.rc, 0);
    if (atomic_load(&w.synacks) < 1)
        fail_msg("connect returned before any SYN-ACK reached its stack");
    if (atomic_load(&w.sleepers_at) != 1)
        fail_msg("the connecting thread was not asleep when the SYN-ACK arrived (%d sleepers)",
                 atomic_load(&w.sleepers_at));
    struct us_sock_info ci = sock_info_locked(b.t, n->a, cfd);
    assert_int_equal(ci.sleepers, 0);
    if (ci.wakeups <= wakeups)
        fail_msg("the connecting thread was never woken (wakeups %llu)",
                 (unsigned long long)ci.wakeups);
    blk_stop(&b);
}

/* ---------------- receive ---------------- */

struct reader {
    struct blk *b;
    int fd;
    int got;
    uint8_t buf[256];
    atomic_int done;
};

static void *read_main(void *arg)
{
    struct reader *rd = arg;
    rd->got = us_thread_recvfrom(rd->b->t, rd->b->n->a, rd->fd, rd->buf, sizeof(rd->buf), 0, NULL);
    atomic_store(&rd->done, 1);
    return NULL;
}

static void test_recv_blocks(void **state)
{
    (void)state;
    struct tnet_cfg cfg = {0};
    struct blk b;
    struct tnet *n = tnet_new(&cfg);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    run(n, 100 * MS); /* the handshake's delayed ACKs done: nothing is due */
    blk_start(&b, n);
    uint64_t wakeups = sock_info_locked(b.t, n->a, cfd).wakeups;
    struct reader rd = {.b = &b, .fd = cfd};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_main, &rd), 0);
    wait_asleep(&b, n->a, cfd, "us_thread_recvfrom on an idle connection");
    if (atomic_load(&rd.done))
        fail_msg("receive returned %d with nothing sent", rd.got);
    /* The event: b sends. */
    static const char msg[] = "sixty-four bytes, sent only after the reader fell asleep....";
    us_thread_lock(b.t);
    assert_int_equal(us_send(n->b, sfd, msg, sizeof(msg), 0, us_thread_now(b.t)), sizeof(msg));
    us_thread_unlock(b.t);
    wait_done(&rd.done, "us_thread_recvfrom");
    pthread_join(th, NULL);
    assert_int_equal(rd.got, sizeof(msg));
    assert_memory_equal(rd.buf, msg, sizeof(msg));
    struct us_sock_info ci = sock_info_locked(b.t, n->a, cfd);
    if (ci.wakeups <= wakeups)
        fail_msg("the reader was never woken (wakeups %llu)", (unsigned long long)ci.wakeups);
    blk_stop(&b);
}

/* ---------------- send ---------------- */

#define SEND_TOTAL (256u << 10)

struct sender {
    struct blk *b;
    int fd;
    int sent;
    atomic_uint *read_so_far; /* what the test had read at b when send returned */
    unsigned read_at_return;
    atomic_int done;
};

static void *send_main(void *arg)
{
    struct sender *sd = arg;
    static uint8_t data[SEND_TOTAL];
    for (size_t i = 0; i < SEND_TOTAL; i++)
        data[i] = pattern(9, i);
    sd->sent = us_thread_send(sd->b->t, sd->b->n->a, sd->fd, data, SEND_TOTAL, 0);
    sd->read_at_return = atomic_load(sd->read_so_far);
    atomic_store(&sd->done, 1);
    return NULL;
}

static void test_send_blocks(void **state)
{
    (void)state;
    struct tnet_cfg cfg = {0};
    struct blk b;
    struct tnet *n = tnet_new(&cfg);
    /* Small buffers both ends: the send fills them long before its end. */
    int lfd = us_socket(n->b, US_SOCK_STREAM);
    set_sock_int(n->b, lfd, US_SOL_SOCKET, US_SO_RCVBUF, 8192);
    struct us_sockaddr_in sa = {US_IP4_ANY, 80};
    assert_int_equal(us_bind(n->b, lfd, &sa), 0);
    assert_int_equal(us_listen(n->b, lfd, 8), 0);
    int cfd = us_socket(n->a, US_SOCK_STREAM);
    set_sock_int(n->a, cfd, US_SOL_SOCKET, US_SO_SNDBUF, 8192);
    struct us_sockaddr_in to = {B_IP, 80};
    assert_int_equal(us_connect(n->a, cfd, &to), -EINPROGRESS);
    run(n, 10 * MS);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    blk_start(&b, n);
    atomic_uint read_so_far = 0;
    struct sender sd = {.b = &b, .fd = cfd, .read_so_far = &read_so_far};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_main, &sd), 0);
    wait_asleep(&b, n->a, cfd, "us_thread_send on a full send buffer");
    uint64_t wakeups = sock_info_locked(b.t, n->a, cfd).wakeups;
    if (atomic_load(&sd.done))
        fail_msg("send returned %d with nothing read at the other end", sd.sent);
    /* The event: the test reads at b, opening the window (each read
     * waits at most 10 s of real time for data). */
    static uint8_t buf[65536];
    unsigned total = 0;
    while (total < SEND_TOTAL) {
        int r = -EAGAIN;
        for (int i = 0; i < 10000 && r == -EAGAIN; i++) {
            us_thread_lock(b.t);
            r = us_recv(n->b, sfd, buf, sizeof(buf), 0);
            us_thread_unlock(b.t);
            if (r == -EAGAIN)
                sleep_ms(1);
        }
        if (r <= 0)
            fail_msg("reading at b: %d after %u of %u bytes", r, total, SEND_TOTAL);
        for (int i = 0; i < r; i++)
            if (buf[i] != pattern(9, total + (unsigned)i))
                fail_msg("byte %u differs", total + (unsigned)i);
        total += (unsigned)r;
        atomic_store(&read_so_far, total);
    }
    wait_done(&sd.done, "us_thread_send");
    pthread_join(th, NULL);
    assert_int_equal(sd.sent, SEND_TOTAL);
    if (sd.read_at_return == 0)
        fail_msg("send returned before anything was read at the other end");
    struct us_sock_info ci = sock_info_locked(b.t, n->a, cfd);
    if (ci.wakeups <= wakeups)
        fail_msg("the sender was never woken (wakeups %llu)", (unsigned long long)ci.wakeups);
    blk_stop(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_blocks),
        cmocka_unit_test(test_connect_blocks),
        cmocka_unit_test(test_recv_blocks),
        cmocka_unit_test(test_send_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
