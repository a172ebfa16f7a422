/* The in-memory wire: exact timing on the virtual clock, tail drops, hub
 * delivery, FIFO order, MTU and pool limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ustack/dev.h"

#define BUF_SIZE 2048
#define US       1000ull /* ns per microsecond */

/* A broadcast frame of len bytes whose payload carries seq. */
static struct us_pkt *frame(struct us_pkt_pool *pool, uint32_t len, uint32_t seq)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    uint8_t *d = us_pkt_put(p, len);
    if (!d)
        abort(); /* (not assert_non_null: gcc must see this path end) */
    memset(d, 0xff, 6);
    memset(d + 6, 0x02, 6);
    d[12] = 0x88; /* local experimental ethertype 0x88b5 */
    d[13] = 0xb5;
    for (uint32_t i = 14; i < len; i++)
        d[i] = (uint8_t)(i * 7 + seq);
    if (len >= 18)
        memcpy(d + 14, &seq, 4);
    return p;
}

static uint32_t seq_of(const struct us_pkt *p)
{
    uint32_t seq;
    memcpy(&seq, p->data + 14, 4);
    return seq;
}

static int send1(struct us_dev *d, struct us_pkt_pool *pool, uint32_t len, uint32_t seq,
                 us_time_ns now)
{
    struct us_pkt *p = frame(pool, len, seq);
    return us_dev_tx_burst(d, &p, 1, now);
}

struct rig {
    struct us_pkt_pool *pool;
    struct us_wire *wire;
    struct us_dev *port[4];
    int nports;
};

static void rig_up(struct rig *r, const struct us_wire_config *cfg, int nports)
{
    memset(r, 0, sizeof(*r));
    r->pool = us_pkt_pool_new(4096, BUF_SIZE);
    assert_non_null(r->pool);
    r->wire = us_wire_new(cfg);
    assert_non_null(r->wire);
    r->nports = nports;
    for (int i = 0; i < nports; i++) {
        r->port[i] = us_wire_port_new(r->wire, NULL);
        assert_non_null(r->port[i]);
        us_dev_set_rx_pool(r->port[i], r->pool);
    }
}

/* Tears down and checks that no buffer leaked. */
static void rig_down(struct rig *r)
{
    for (int i = 0; i < r->nports; i++)
        us_dev_destroy(r->port[i]);
    us_wire_free(r->wire);
    assert_int_equal(us_pkt_pool_available(r->pool), us_pkt_pool_count(r->pool));
    us_pkt_pool_free(r->pool);
}

static void test_latency_and_serialisation(void **state)
{
    struct rig r;
    struct us_wire_config cfg = {.bandwidth_bps = 1000000000ull, .latency = 10 * US};
    rig_up(&r, &cfg, 2);
    struct us_dev *a = r.port[0], *b = r.port[1];
    struct us_pkt *got[8];

    /* 1500 bytes at 1 Gbit/s = 12 us on the link, then 10 us of flight. */
    assert_int_equal(send1(a, r.pool, 1500, 1, 0), 1);
    assert_int_equal(send1(a, r.pool, 1500, 2, 0), 1); /* waits for the first */
    assert_int_equal(us_dev_next_deadline(b, 0), 22 * US);
    assert_int_equal(us_dev_rx_burst(b, got, 8, 22 * US - 1), 0);
    assert_int_equal(us_dev_rx_burst(b, got, 8, 22 * US), 1);
    assert_int_equal(seq_of(got[0]), 1);
    assert_int_equal(got[0]->tstamp, 22 * US);
    us_pkt_free(got[0]);
    assert_int_equal(us_dev_next_deadline(b, 22 * US), 34 * US);
    assert_int_equal(us_dev_rx_burst(b, got, 8, 34 * US - 1), 0);
    assert_int_equal(us_dev_rx_burst(b, got, 8, 34 * US), 1);
    assert_int_equal(seq_of(got[0]), 2);
    us_pkt_free(got[0]);
    assert_int_equal(us_dev_next_deadline(b, 34 * US), US_TIME_NEVER);

    /* An idle link starts serialising at once; 64 bytes take 512 ns. */
    assert_int_equal(send1(a, r.pool, 64, 3, 100 * US), 1);
    assert_int_equal(us_dev_next_deadline(b, 100 * US), 100 * US + 512 + 10 * US);

    /* 1 byte at 3 bit/s rounds up: 8/3 s. */
    rig_down(&r);
    cfg = (struct us_wire_config){.bandwidth_bps = 3};
    rig_up(&r, &cfg, 2);
    assert_int_equal(send1(r.port[0], r.pool, 1, 0, 0), 1);
    assert_int_equal(us_dev_next_deadline(r.port[1], 0), 2666666667ull);
    assert_int_equal(r.port[0]->stats.tx_packets, 1);
    rig_down(&r);
}

static void test_infinite_bandwidth_zero_latency(void **state)
{
    struct rig r;
    rig_up(&r, NULL, 2);
    struct us_pkt *got[4];
    assert_int_equal(r.port[0]->mtu, 1500);
    assert_int_equal(send1(r.port[0], r.pool, 100, 9, 5), 1);
    assert_int_equal(us_dev_next_deadline(r.port[1], 5), 5);
    assert_int_equal(us_dev_rx_burst(r.port[1], got, 4, 5), 1);
    us_pkt_free(got[0]);
    rig_down(&r);
}

static void test_queue_limit_tail_drop(void **state)
{
    struct rig r;
    struct us_wire_config cfg = {.bandwidth_bps = 1000000000ull, .queue_limit = 4};
    rig_up(&r, &cfg, 2);
    struct us_dev *a = r.port[0], *b = r.port[1];
    struct us_pkt *burst[6];
    for (int i = 0; i < 6; i++)
        burst[i] = frame(r.pool, 1500, (uint32_t)i);
    assert_int_equal(us_dev_tx_burst(a, burst, 6, 0), 4);
    assert_int_equal(a->stats.tx_packets, 4);
    assert_int_equal(a->stats.tx_dropped, 2);

    /* The first frame leaves at 12 us: until then the queue is still full. */
    assert_int_equal(send1(a, r.pool, 1500, 6, 12 * US - 1), 0);
    assert_int_equal(a->stats.tx_dropped, 3);
    assert_int_equal(send1(a, r.pool, 1500, 7, 12 * US), 1);

    /* The receiver sees the four accepted frames and the late one, in order,
     * the last departing after the link drained the others at 48 us. */
    struct us_pkt *got[8];
    assert_int_equal(us_dev_rx_burst(b, got, 8, US_TIME_NEVER - 1), 5);
    uint32_t want[5] = {0, 1, 2, 3, 7};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(seq_of(got[i]), want[i]);
        assert_int_equal(got[i]->tstamp, (uint64_t)(i + 1) * 12 * US);
        us_pkt_free(got[i]);
    }
    assert_int_equal(b->stats.rx_packets, 5);
    assert_int_equal(b->stats.rx_bytes, 5 * 1500);
    rig_down(&r);
}

static void test_hub_every_other_port(void **state)
{
    struct rig r;
    struct us_wire_config cfg = {.latency = 1 * US};
    rig_up(&r, &cfg, 4);
    struct us_pkt *sent = frame(r.pool, 300, 42);
    uint8_t copy[300];
    memcpy(copy, sent->data, 300);
    assert_int_equal(us_dev_tx_burst(r.port[0], &sent, 1, 0), 1);

    struct us_pkt *got[4];
    assert_int_equal(us_dev_next_deadline(r.port[0], 0), US_TIME_NEVER);
    assert_int_equal(us_dev_rx_burst(r.port[0], got, 4, 10 * US), 0);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(us_dev_rx_burst(r.port[i], got, 4, 10 * US), 1);
        assert_int_equal(got[0]->len, 300);
        assert_memory_equal(got[0]->data, copy, 300);
        us_pkt_free(got[0]);
        assert_int_equal(r.port[i]->stats.rx_packets, 1);
    }
    rig_down(&r);
}

static void test_fifo_order(void **state)
{
    struct rig r;
    struct us_wire_config cfg = {.bandwidth_bps = 100000000ull, .latency = 50 * US};
    rig_up(&r, &cfg, 2);
    struct us_pkt *burst[200];
    for (uint32_t i = 0; i < 200; i++)
        burst[i] = frame(r.pool, 60 + (i * 97) % 1400, i); /* mixed sizes */
    assert_int_equal(us_dev_tx_burst(r.port[0], burst, 200, 0), 200);
    uint32_t next = 0;
    us_time_ns last = 0;
    struct us_pkt *got[32];
    for (us_time_ns now = 0; next < 200; now += 7 * US) {
        int n = us_dev_rx_burst(r.port[1], got, 32, now);
        for (int i = 0; i < n; i++) {
            assert_int_equal(seq_of(got[i]), next++);
            assert_true(got[i]->tstamp >= last && got[i]->tstamp <= now);
            last = got[i]->tstamp;
            us_pkt_free(got[i]);
        }
    }
    rig_down(&r);
}

static void test_order_between_senders(void **state)
{
    struct rig r;
    struct us_wire_config cfg = {.bandwidth_bps = 1000000000ull, .latency = 10 * US};
    rig_up(&r, &cfg, 3);
    /* A's big frame arrives at 22 us; B's small one, sent later, at 11.512 us. */
    assert_int_equal(send1(r.port[0], r.pool, 1500, 1, 0), 1);
    assert_int_equal(send1(r.port[1], r.pool, 64, 2, 1 * US), 1);
    assert_int_equal(us_dev_next_deadline(r.port[2], 0), 11 * US + 512);
    struct us_pkt *got[4];
    assert_int_equal(us_dev_rx_burst(r.port[2], got, 4, 30 * US), 2);
    assert_int_equal(seq_of(got[0]), 2);
    assert_int_equal(seq_of(got[1]), 1);
    us_pkt_free(got[0]);
    us_pkt_free(got[1]);
    rig_down(&r);

    /* Equal arrival times keep the order they were sent in. */
    rig_up(&r, NULL, 3);
    assert_int_equal(send1(r.port[1], r.pool, 64, 10, 0), 1);
    assert_int_equal(send1(r.port[0], r.pool, 64, 11, 0), 1);
    assert_int_equal(send1(r.port[1], r.pool, 64, 12, 0), 1);
    assert_int_equal(us_dev_rx_burst(r.port[2], got, 4, 0), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(seq_of(got[i]), 10 + i);
        us_pkt_free(got[i]);
    }
    rig_down(&r);
}

static void test_mtu(void **state)
{
    struct rig r;
    rig_up(&r, NULL, 2);
    struct us_pkt *got[4];
    assert_int_equal(send1(r.port[0], r.pool, 1514, 1, 0), 1);
    assert_int_equal(send1(r.port[0], r.pool, 1515, 2, 0), 0);
    assert_int_equal(r.port[0]->stats.tx_errors, 1);
    assert_int_equal(r.port[0]->stats.tx_packets, 1);
    assert_int_equal(us_dev_rx_burst(r.port[1], got, 4, 0), 1);
    assert_int_equal(got[0]->len, 1514);
    us_pkt_free(got[0]);
    rig_down(&r);

    struct us_wire_config cfg = {.mtu = 576};
    rig_up(&r, &cfg, 2);
    assert_int_equal(r.port[1]->mtu, 576);
    assert_int_equal(send1(r.port[0], r.pool, 591, 1, 0), 0);
    assert_int_equal(send1(r.port[0], r.pool, 590, 1, 0), 1);
    rig_down(&r);
}

static void test_receiver_pool_empty(void **state)
{
    struct rig r;
    rig_up(&r, NULL, 2);
    struct us_pkt_pool *small = us_pkt_pool_new(2, BUF_SIZE);
    us_dev_set_rx_pool(r.port[1], small);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(send1(r.port[0], r.pool, 100, i, 0), 1);
    assert_int_equal(r.port[1]->stats.rx_dropped, 1);
    struct us_pkt *got[4];
    assert_int_equal(us_dev_rx_burst(r.port[1], got, 4, 0), 2);
    assert_int_equal(seq_of(got[0]), 0);
    assert_int_equal(seq_of(got[1]), 1);
    assert_ptr_equal(got[0]->pool, small);
    us_pkt_free(got[0]);
    us_pkt_free(got[1]);

    /* Undelivered frames go back to the pool when the port is destroyed. */
    assert_int_equal(send1(r.port[0], r.pool, 100, 5, 0), 1);
    assert_int_equal(us_pkt_pool_available(small), 1);
    rig_down(&r);
    assert_int_equal(us_pkt_pool_available(small), 2);
    us_pkt_pool_free(small);
}

static void test_deterministic_macs_and_teardown_order(void **state)
{
    struct us_pkt_pool *pool = us_pkt_pool_new(8, BUF_SIZE);
    struct us_wire *w = us_wire_new(NULL);
    struct us_dev *a = us_wire_port_new(w, "left");
    struct us_dev *b = us_wire_port_new(w, NULL);
    const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 1}, mac_b[6] = {0x02, 0, 0, 0, 0, 2};
    assert_memory_equal(a->mac.b, mac_a, 6);
    assert_memory_equal(b->mac.b, mac_b, 6);
    assert_string_equal(a->name, "left");
    assert_int_equal(us_dev_pollfd(a), -1);
    us_dev_set_rx_pool(a, pool);
    us_dev_destroy(b);

    /* A port that outlives its wire has no carrier but stays safe. */
    us_wire_free(w);
    assert_int_equal(send1(a, pool, 64, 0, 0), 0);
    assert_int_equal(a->stats.tx_errors, 1);
    us_dev_destroy(a);
    assert_int_equal(us_pkt_pool_available(pool), 8);
    us_pkt_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_and_serialisation),
        cmocka_unit_test(test_infinite_bandwidth_zero_latency),
        cmocka_unit_test(test_queue_limit_tail_drop),
        cmocka_unit_test(test_hub_every_other_port),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_order_between_senders),
        cmocka_unit_test(test_mtu),
        cmocka_unit_test(test_receiver_pool_empty),
        cmocka_unit_test(test_deterministic_macs_and_teardown_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
