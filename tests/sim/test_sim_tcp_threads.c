/* Threaded mode with TCP: application threads block in us_thread_accept,
 * us_thread_connect, us_thread_send and us_thread_recvfrom while a stack
 * thread drives two stacks on the virtual clock; an echo server thread and
 * a client thread move 2 MB each way byte-exact, and a connect to a closed
 * port fails with ECONNREFUSED. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include <pthread.h>

#include "ustack/thread.h"

#define TOTAL (2u << 20)

struct ctx {
    struct tnet *n;
    struct us_thread *t;
    int lfd;
    uint64_t echoed;
    int server_rc;
};

static void *server_main(void *arg)
{
    struct ctx *c = arg;
    struct us_sockaddr_in peer;
    int fd = us_thread_accept(c->t, c->n->b, c->lfd, &peer);
    if (fd < 0) {
        c->server_rc = fd;
        return NULL;
    }
    static uint8_t buf[32768];
    for (;;) {
        int r = us_thread_recvfrom(c->t, c->n->b, fd, buf, sizeof(buf), 0, NULL);
        if (r <= 0) {
            c->server_rc = r;
            break;
        }
        int w = us_thread_send(c->t, c->n->b, fd, buf, (size_t)r, 0);
        if (w != r) {
            c->server_rc = w;
            break;
        }
        c->echoed += (uint64_t)r;
    }
    us_thread_lock(c->t);
    us_close(c->n->b, fd);
    us_thread_unlock(c->t);
    return NULL;
}

struct reader {
    struct ctx *c;
    int fd;
    uint64_t got;
    bool bad;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    static uint8_t buf[32768];
    while (rd->got < TOTAL) {
        int r = us_thread_recvfrom(rd->c->t, rd->c->n->a, rd->fd, buf, sizeof(buf), 0, NULL);
        if (r <= 0)
            break;
        for (int i = 0; i < r; i++)
            if (buf[i] != pattern(3, rd->got + (uint64_t)i))
                rd->bad = true;
        rd->got += (uint64_t)r;
    }
    return NULL;
}

static void test_blocking_echo(void **state)
{
    (void)state;
    struct tnet_cfg cfg = {0};
    struct ctx c = {.n = tnet_new(&cfg)};
    c.lfd = tcp_listen_on(c.n->b, 7, 16);
    int cfd = us_socket(c.n->a, US_SOCK_STREAM);
    c.t = us_thread_start(c.n->both, 2, US_CLOCK_VIRTUAL);
    assert_non_null(c.t);
    pthread_t srv, rdr;
    assert_int_equal(pthread_create(&srv, NULL, server_main, &c), 0);
    struct us_sockaddr_in to = {B_IP, 7};
    assert_int_equal(us_thread_connect(c.t, c.n->a, cfd, &to), 0);
    struct reader rd = {.c = &c, .fd = cfd};
    assert_int_equal(pthread_create(&rdr, NULL, reader_main, &rd), 0);
    static uint8_t data[TOTAL];
    for (size_t i = 0; i < TOTAL; i++)
        data[i] = pattern(3, i);
    assert_int_equal(us_thread_send(c.t, c.n->a, cfd, data, TOTAL, 0), (int)TOTAL);
    pthread_join(rdr, NULL);
    assert_int_equal(rd.got, TOTAL);
    assert_false(rd.bad);
    us_thread_lock(c.t);
    assert_int_equal(us_shutdown(c.n->a, cfd, US_SHUT_WR), 0);
    us_thread_unlock(c.t);
    pthread_join(srv, NULL);
    assert_int_equal(c.server_rc, 0); /* EOF after the client's FIN */
    assert_int_equal(c.echoed, TOTAL);
    /* A refused connection. */
    int fd2 = us_socket(c.n->a, US_SOCK_STREAM);
    struct us_sockaddr_in closed = {B_IP, 9};
    assert_int_equal(us_thread_connect(c.t, c.n->a, fd2, &closed), -ECONNREFUSED);
    us_time_ns now = us_thread_stop(c.t);
    c.n->now = now;
    tnet_free(c.n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
