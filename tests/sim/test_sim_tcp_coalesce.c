/* The receive queue coalesces (Linux's tcp_try_coalesce): bytes of a new
 * in-order segment that fit behind the last queued buffer's are copied
 * there and the new buffer freed, so a receiver that does not read holds
 * a few full buffers, not one nearly empty buffer per small segment. With
 * a veth-like wire the small super-frames of TCP_NODELAY writes would each
 * hold a 64 KiB buffer and run the pool dry; they must not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

/* a sends `writes` writes of `size` bytes with TCP_NODELAY, each given a
 * round of the network, while b does not read; then b reads everything
 * and checks it. Returns b's packet buffers in use before the read. */
static unsigned unread_writes(struct tnet *n, int writes, size_t size, uint64_t *rtx)
{
    /* Room for every byte unread: net.core.rmem_max and wmem_max raised. */
    us_stack_sysctl(n->a)->wmem_max = 32 << 20;
    us_stack_sysctl(n->b)->rmem_max = 32 << 20;
    int cfd, sfd = tcp_pair(n, 80, &cfd, NULL);
    set_sock_int(n->a, cfd, US_IPPROTO_TCP, US_TCP_NODELAY, 1);
    set_sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF, 16 << 20);
    set_sock_int(n->a, cfd, US_SOL_SOCKET, US_SO_SNDBUF, 16 << 20);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    uint64_t off = 0;
    for (int w = 0; w < writes; w++) {
        for (size_t i = 0; i < size; i++)
            buf[i] = pattern(7, off + i);
        int r = us_send(n->a, cfd, buf, size, 0, n->now);
        assert_int_equal(r, (int)size);
        off += size;
        run(n, 100 * 1000); /* each write its own segment, ACKed */
    }
    run(n, 200 * MS);
    unsigned held = us_stack_pkts_in_use(n->b);
    if (getenv("COALESCE_VERBOSE"))
        fprintf(stderr, "%d writes of %zu: b holds %u buffers\n", writes, size, held);
    uint64_t got = 0;
    uint8_t rb[4096];
    for (;;) {
        int r = us_recv(n->b, sfd, rb, sizeof(rb), 0);
        if (r == -EAGAIN)
            break;
        assert_true(r > 0);
        for (int i = 0; i < r; i++)
            if (rb[i] != pattern(7, got + (uint64_t)i))
                fail_msg("byte %llu differs", (unsigned long long)(got + (uint64_t)i));
        got += (uint64_t)r;
    }
    assert_int_equal(got, off);
    *rtx = tcp_info_of(n->a, cfd).total_retrans;
    free(buf);
    return held;
}

/* 2,000 writes of 100 bytes: without coalescing each holds a 2 KiB frame
 * buffer (2,000 buffers); coalesced, ~19 share one. */
static void test_small_segments_share_buffers(void **state)
{
    (void)state;
    struct tnet_cfg c = {0};
    struct tnet *n = tnet_new(&c);
    uint64_t rtx;
    unsigned held = unread_writes(n, 2000, 100, &rtx);
    if (held > 400)
        fail_msg("b holds %u buffers for 2,000 unread 100-byte segments", held);
    assert_int_equal(rtx, 0);
    tnet_free(n);
}

/* 4,000 writes of 3,000 bytes over the offload wire: each goes as a
 * super-frame of 2 segments in a 64 KiB buffer of the wire's pool, or
 * when that is empty of a's large pool, copied into one of b's (1,024
 * buffers each at most). Unread and uncoalesced they would exhaust both:
 * frames dropped and resent. */
static void test_small_super_frames_share_buffers(void **state)
{
    (void)state;
    struct tnet_cfg c = {.offload = true};
    struct tnet *n = tnet_new(&c);
    uint64_t rtx;
    (void)unread_writes(n, 4000, 3000, &rtx);
    if (rtx)
        fail_msg("%llu segments resent: buffers ran out", (unsigned long long)rtx);
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_segments_share_buffers),
        cmocka_unit_test(test_small_super_frames_share_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
