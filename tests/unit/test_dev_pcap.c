/* The pcap writer: frames sent and received are read back with libpcap,
 * byte for byte, with the virtual-clock timestamps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ustack/dev.h"

#define BUF_SIZE 2048

static struct us_pkt *frame(struct us_pkt_pool *pool, uint32_t len, uint8_t fill)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    uint8_t *d = us_pkt_put(p, len);
    assert_non_null(d);
    for (uint32_t i = 0; i < len; i++)
        d[i] = (uint8_t)(fill + i);
    return p;
}

struct expect {
    us_time_ns at;
    uint32_t len;
    uint8_t fill;
};

static void check_file(const char *path, const struct expect *e, int n)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pd = pcap_open_offline(path, errbuf);
    assert_non_null(pd);
    assert_int_equal(pcap_datalink(pd), DLT_EN10MB);
    struct pcap_pkthdr *h;
    const u_char *data;
    for (int i = 0; i < n; i++) {
        assert_int_equal(pcap_next_ex(pd, &h, &data), 1);
        assert_int_equal(h->len, e[i].len);
        assert_int_equal(h->caplen, e[i].len);
        assert_int_equal(h->ts.tv_sec, e[i].at / US_NS_PER_SEC);
        assert_int_equal(h->ts.tv_usec, e[i].at % US_NS_PER_SEC / 1000); /* µs, truncated */
        for (uint32_t k = 0; k < e[i].len; k++)
            assert_int_equal(data[k], (uint8_t)(e[i].fill + k));
    }
    assert_int_equal(pcap_next_ex(pd, &h, &data), PCAP_ERROR_BREAK); /* nothing more */
    pcap_close(pd);
}

static void test_records_both_directions(void **state)
{
    char path[] = "/tmp/ustack-pcap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    struct us_pkt_pool *pool = us_pkt_pool_new(64, BUF_SIZE);
    struct us_wire *w = us_wire_new(NULL);
    struct us_dev *a_port = us_wire_port_new(w, "a");
    struct us_dev *b = us_wire_port_new(w, "b");
    char err[256] = "";
    struct us_dev *a = us_pcap_dev_new(a_port, path, err, sizeof(err));
    assert_non_null(a);
    us_dev_set_rx_pool(a, pool);
    us_dev_set_rx_pool(b, pool);
    assert_ptr_equal(a_port->rx_pool, pool);
    assert_memory_equal(a->mac.b, a_port->mac.b, 6);

    const us_time_ns t0 = 3 * US_NS_PER_SEC + 250 * 1000 + 999, t1 = 7 * US_NS_PER_SEC + 1000,
                     t2 = 7 * US_NS_PER_SEC + 5000;
    /* a sends two frames at t0 ... */
    struct us_pkt *out[2] = {frame(pool, 60, 1), frame(pool, 1514, 2)};
    assert_int_equal(us_dev_tx_burst(a, out, 2, t0), 2);
    struct us_pkt *got[4];
    assert_int_equal(us_dev_rx_burst(b, got, 4, t0), 2);
    us_pkt_free(got[0]);
    us_pkt_free(got[1]);
    /* ... and receives one from b at t2, sent at t1. */
    struct us_pkt *back = frame(pool, 100, 3);
    assert_int_equal(us_dev_tx_burst(b, &back, 1, t1), 1);
    assert_int_equal(us_dev_rx_burst(a, got, 4, t2), 1);
    us_pkt_free(got[0]);
    assert_int_equal(a->stats.tx_packets, 2);
    assert_int_equal(a->stats.rx_packets, 1);

    us_pcap_dev_flush(a);
    const struct expect e[3] = {{t0, 60, 1}, {t0, 1514, 2}, {t2, 100, 3}};
    check_file(path, e, 3);

    /* Destroy flushes what came after, and frees the wrapped port. */
    struct us_pkt *last = frame(pool, 42, 4);
    assert_int_equal(us_dev_tx_burst(a, &last, 1, t2 + 1000), 1);
    us_dev_destroy(a);
    const struct expect e2[4] = {{t0, 60, 1}, {t0, 1514, 2}, {t2, 100, 3}, {t2 + 1000, 42, 4}};
    check_file(path, e2, 4);

    us_dev_destroy(b);
    us_wire_free(w);
    assert_int_equal(us_pkt_pool_available(pool), 64);
    us_pkt_pool_free(pool);
    unlink(path);
}

static void test_composes_with_fault(void **state)
{
    char path[] = "/tmp/ustack-pcap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct us_pkt_pool *pool = us_pkt_pool_new(64, BUF_SIZE);
    struct us_wire *w = us_wire_new(NULL);
    struct us_dev *peer = us_wire_port_new(w, "peer");
    struct us_fault_config cfg = {.dup = 1.0, .seed = 1};
    char err[256];
    /* The capture sits above the injector, so it sees what the stack sends
     * (one frame) while the wire carries what the injector made of it (two). */
    struct us_dev *d =
        us_pcap_dev_new(us_fault_dev_new(us_wire_port_new(w, "me"), &cfg), path, err, sizeof(err));
    assert_non_null(d);
    us_dev_set_rx_pool(d, pool);
    us_dev_set_rx_pool(peer, pool);
    assert_ptr_equal(d->lower->lower->rx_pool, pool);
    struct us_pkt *p = frame(pool, 80, 9);
    assert_int_equal(us_dev_tx_burst(d, &p, 1, 1000), 1);
    struct us_pkt *got[4];
    assert_int_equal(us_dev_rx_burst(peer, got, 4, 1000), 2);
    us_pkt_free(got[0]);
    us_pkt_free(got[1]);
    us_dev_destroy(d);
    const struct expect e[1] = {{1000, 80, 9}};
    check_file(path, e, 1);
    us_dev_destroy(peer);
    us_wire_free(w);
    assert_int_equal(us_pkt_pool_available(pool), 64);
    us_pkt_pool_free(pool);
    unlink(path);
}

static void test_open_failure(void **state)
{
    struct us_wire *w = us_wire_new(NULL);
    struct us_dev *port = us_wire_port_new(w, "a");
    char err[256] = "";
    assert_null(us_pcap_dev_new(port, "/nonexistent-ustack-dir/x.pcap", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-ustack-dir/x.pcap"));
    assert_non_null(strstr(err, "No such file or directory"));
    us_dev_destroy(port); /* still ours: a failed wrapper does not take it */
    us_wire_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_both_directions),
        cmocka_unit_test(test_composes_with_fault),
        cmocka_unit_test(test_open_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
