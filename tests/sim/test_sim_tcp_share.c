/* Flows that share a bottleneck share it fairly: 8 bulk connections with
 * the same 20 ms round trip through a 20 Mbit/s link with a 16 KiB
 * tail-drop queue each get close to an eighth of it over 30 s (Jain's
 * index (sum x)^2 / (n sum x^2) of their goodputs at least 0.98), and
 * together they keep the link busy, with NewReno and with CUBIC. A flow that
 * misjudged its path (such as RACK taking a FIFO path for one that
 * reorders, which delays its loss detection and softens its window cuts)
 * takes a larger share and shows here. bench_flows measures the same at
 * the scale (64 flows, 200 Mbit/s, 100 ms, 64 KiB). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#define NFLOWS 8
#define BPS    20000000ull

static void share(const char *cc)
{
    struct tnet_cfg cfg = {.latency = 10 * MS,
                           .bandwidth_bps = BPS,
                           .queue_limit_bytes = 16384,
                           .pkt_count = 4096,
                           .seed = 0x5eed};
    struct tnet *n = tnet_new(&cfg);
    set_knob(n->a, "net.ipv4.tcp_congestion_control", cc);
    int lfd = tcp_listen_on(n->b, 5001, NFLOWS);
    static struct flow f[NFLOWS];
    for (unsigned i = 0; i < NFLOWS; i++) {
        f[i] = (struct flow){
            .tx_s = n->a, .rx_s = n->b, .rx_fd = -1, .total = UINT64_MAX / 2, .salt = i + 1};
        f[i].tx_fd = tcp_connect_to(n->a, B_IP, 5001);
        run(n, 37 * MS); /* staggered starts */
    }
    run(n, 100 * MS);
    /* Accepted in connection order: one SYN at a time reached b. */
    for (unsigned i = 0; i < NFLOWS; i++) {
        f[i].rx_fd = us_accept(n->b, lfd, NULL);
        assert_true(f[i].rx_fd >= 0);
    }
    uint64_t at_start[NFLOWS];
    us_time_ns warm = n->now + 10 * SEC, end = warm + 30 * SEC;
    bool measuring = false;
    while (n->now < end) {
        if (!measuring && n->now >= warm) {
            measuring = true;
            for (unsigned i = 0; i < NFLOWS; i++)
                at_start[i] = f[i].received;
        }
        for (unsigned i = 0; i < NFLOWS; i++)
            flow_step(n, &f[i]);
        run(n, 1 * MS);
    }
    double sum = 0, sum2 = 0;
    for (unsigned i = 0; i < NFLOWS; i++) {
        double x = (double)(f[i].received - at_start[i]);
        sum += x;
        sum2 += x * x;
    }
    double jain = sum * sum / (NFLOWS * sum2);
    /* Payload capacity: 1448 bytes in each 1514-byte frame. */
    double util = sum * 8 / 30.0 / (BPS * 1448.0 / 1514.0);
    print_message("%s: Jain's index %.4f, utilisation %.4f, %llu queue drops\n", cc, jain, util,
                  (unsigned long long)us_iface_dev(n->a, 0)->stats.tx_dropped);
    for (unsigned i = 0; i < NFLOWS; i++)
        if (jain < 0.98)
            print_message("  flow %u: %.3f Mbit/s\n", i,
                          (double)(f[i].received - at_start[i]) * 8 / 30e6);
    if (jain < 0.98)
        fail_msg("%s: Jain's index %.4f over 30 s, below 0.98", cc, jain);
    if (util < 0.85)
        fail_msg("%s: the flows used %.1f%% of the link", cc, util * 100);
    tnet_free(n);
}

static void test_reno_shares(void **state)
{
    (void)state;
    share("reno");
}

static void test_cubic_shares(void **state)
{
    (void)state;
    share("cubic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reno_shares),
        cmocka_unit_test(test_cubic_shares),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
