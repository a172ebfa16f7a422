/* The packet pool: a fixed pool runs out at its count; a growable one
 * grows by its count when it runs out, up to its maximum, hands out
 * buffers that work like the first ones, and gives its growth back once
 * every buffer is home (what lets ustack's memory fall again after a burst
 * across thousands of connections). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "ustack/pkt.h"

#define BUF 2048

static void test_fixed_pool_runs_out_at_its_count(void **state)
{
    (void)state;
    struct us_pkt_pool *pool = us_pkt_pool_new(4, BUF);
    struct us_pkt *p[5];
    for (int i = 0; i < 4; i++)
        assert_non_null(p[i] = us_pkt_alloc(pool));
    assert_null(p[4] = us_pkt_alloc(pool));
    assert_int_equal(us_pkt_pool_alloc_failures(pool), 1);
    assert_int_equal(us_pkt_pool_count(pool), 4);
    for (int i = 0; i < 4; i++)
        us_pkt_free(p[i]);
    assert_int_equal(us_pkt_pool_trim(pool), 0);
    assert_int_equal(us_pkt_pool_available(pool), 4);
    us_pkt_pool_free(pool);
}

static void test_growable_pool_grows_to_its_max_and_gives_back(void **state)
{
    (void)state;
    struct us_pkt_pool *pool = us_pkt_pool_new_growable(4, 12, BUF);
    struct us_pkt *p[13];
    for (int i = 0; i < 12; i++) {
        p[i] = us_pkt_alloc(pool);
        assert_non_null(p[i]);
        /* Every buffer, first chunk or grown, holds a whole frame of its own. */
        uint8_t *d = us_pkt_put(p[i], BUF - US_PKT_HEADROOM);
        memset(d, i, BUF - US_PKT_HEADROOM);
    }
    assert_int_equal(us_pkt_pool_count(pool), 12);
    assert_int_equal(us_pkt_pool_available(pool), 0);
    assert_null(p[12] = us_pkt_alloc(pool)); /* the maximum */
    assert_int_equal(us_pkt_pool_alloc_failures(pool), 1);
    for (int i = 0; i < 12; i++)
        for (uint32_t k = 0; k < p[i]->len; k++)
            assert_int_equal(p[i]->data[k], i);

    /* Not while one is out: its memory is still in use. */
    for (int i = 1; i < 12; i++)
        us_pkt_free(p[i]);
    assert_int_equal(us_pkt_pool_trim(pool), 0);
    assert_int_equal(us_pkt_pool_count(pool), 12);
    us_pkt_free(p[0]);
    assert_int_equal(us_pkt_pool_trim(pool), 8);
    assert_int_equal(us_pkt_pool_count(pool), 4);
    assert_int_equal(us_pkt_pool_available(pool), 4);

    /* And it grows again the next time. */
    for (int i = 0; i < 6; i++)
        assert_non_null(p[i] = us_pkt_alloc(pool));
    assert_int_equal(us_pkt_pool_count(pool), 8);
    for (int i = 0; i < 6; i++)
        us_pkt_free(p[i]);
    us_pkt_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_pool_runs_out_at_its_count),
        cmocka_unit_test(test_growable_pool_grows_to_its_max_and_gives_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
