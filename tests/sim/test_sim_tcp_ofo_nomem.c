/* The out-of-order queue is allocated only while it holds segments
 * (src/tcp/tcp_ofo_lazy.c). A receiver that cannot allocate it drops the
 * segment beyond the hole and counts it (TCPOFODrop, as Linux under memory
 * pressure), and the transfer still completes byte for byte from the
 * sender's retransmissions; once memory is back, segments are held again. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include "core/stack_impl.h"
#include "tcp/tcp.h"

static void test_ofo_queue_without_memory(void **state)
{
    (void)state;
    struct us_fault_config fa = {.loss = 0.03, .seed = 7, .tx = true};
    struct tnet_cfg c = {.fault_a = &fa, .latency = 1 * MS};
    struct tnet *n = tnet_new(&c);

    /* Every allocation of b's out-of-order queue fails. */
    n->b->tcp->ofo_nomem = UINT32_MAX;
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    transfer(n, cfd, sfd, 1u << 20, 0, 1 * MS, 600 * SEC);
    uint64_t dropped = ctr(n->b, "TcpExtTCPOFODrop");
    print_message("without memory: %llu out-of-order segments dropped\n",
                  (unsigned long long)dropped);
    assert_true(dropped > 0);
    assert_int_equal(ctr(n->b, "TcpExtTCPOFOQueue"), 0);

    /* Memory back: the next connection's out-of-order segments are held. */
    n->b->tcp->ofo_nomem = 0;
    int cfd2;
    int sfd2 = tcp_pair(n, 81, &cfd2, NULL);
    transfer(n, cfd2, sfd2, 1u << 20, 0, 1 * MS, 600 * SEC);
    assert_true(ctr(n->b, "TcpExtTCPOFOQueue") > 0);
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ofo_queue_without_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
