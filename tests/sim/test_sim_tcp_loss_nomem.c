/* The loss-recovery block (src/tcp/tcp_loss.c) comes with a connection's
 * first send: a connection that only receives never has one, and a send
 * that cannot have it fails with ENOMEM and sends nothing, as when the send
 * ring cannot be had; the next send, with memory back, goes through. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include "core/stack_impl.h"
#include "sock/sock.h"
#include "tcp/tcp.h"

static struct us_tcpcb *tcpcb_of(struct us_stack *s, int fd)
{
    struct us_sock *sk = us_sock_get(s, fd);
    assert_non_null(sk);
    assert_non_null(sk->tp);
    return sk->tp;
}

static void test_send_without_memory_for_the_loss_block(void **state)
{
    (void)state;
    struct tnet_cfg c = {.latency = 1 * MS};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    assert_null(tcpcb_of(n->a, cfd)->loss); /* established, nothing sent */

    uint8_t msg[1000], got[2000];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7);
    uint64_t out0 = ctr(n->a, "TcpOutSegs");
    n->a->tcp->loss_nomem = 1;
    assert_int_equal(us_send(n->a, cfd, msg, sizeof(msg), 0, n->now), -ENOMEM);
    run(n, 100 * MS);
    assert_int_equal(us_recv(n->b, sfd, got, sizeof(got), 0), -EAGAIN);
    assert_int_equal(ctr(n->a, "TcpOutSegs"), out0); /* not even an ACK was owed */

    /* Memory back: the same send goes through and arrives intact. */
    assert_int_equal(us_send(n->a, cfd, msg, sizeof(msg), 0, n->now), (int)sizeof(msg));
    run(n, 100 * MS);
    assert_int_equal(us_recv(n->b, sfd, got, sizeof(got), 0), (int)sizeof(msg));
    assert_memory_equal(got, msg, sizeof(msg));
    assert_non_null(tcpcb_of(n->a, cfd)->loss);
    /* b only received (and ACKed): it never needed the block. */
    assert_null(tcpcb_of(n->b, sfd)->loss);
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_without_memory_for_the_loss_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
