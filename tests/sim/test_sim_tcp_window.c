/* Flow control: a zero-window stall while the reader stops reading, the
 * persist timer's probes, and recovery; window scaling off (every
 * advertised window <= 65,535, seen on the wire by a sniffer) and on (it
 * goes above); and on a 1 Gbit/s wire with 50 ms RTT, throughput that
 * follows a fixed SO_RCVBUF (about rcvbuf/2 per RTT) while receive
 * autotuning (tcp_rcv_space_adjust) reaches at least 80% of the link. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include <stdio.h>

static void test_zero_window_stall_and_recovery(void **state)
{
    (void)state;
    struct tnet_cfg c = {.sniff = true};
    struct tnet *n = tnet_new(&c);
    int cfd, lfd = tcp_listen_on(n->b, 80, 4);
    /* A small fixed receive buffer on the listener (accepted sockets
     * inherit it): 8 KB → 16 KB rcvbuf → an 8 KB window. */
    set_sock_int(n->b, lfd, US_SOL_SOCKET, US_SO_RCVBUF, 8192);
    cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 5 * MS);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    static uint8_t buf[200000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = pattern(9, i);
    /* The reader does not read: the sender fills the window and stalls. */
    size_t sent = 0;
    for (int i = 0; i < 50; i++) {
        int r = us_send(n->a, cfd, buf + sent, sizeof(buf) - sent, 0, n->now);
        if (r > 0)
            sent += (size_t)r;
        run(n, 10 * MS);
    }
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    assert_int_equal(ti.snd_wnd, 0);
    size_t seen_before = n->nseen;
    /* Probes come with exponential back-off: 200 ms, 400 ms, 800 ms ... */
    run(n, 10 * SEC);
    unsigned probes = 0;
    us_time_ns last = 0, gap_prev = 0;
    bool growing = true;
    for (size_t i = seen_before; i < n->nseen; i++) {
        if (n->seen[i].src != A_IP)
            continue;
        probes++;
        if (last) {
            us_time_ns gap = n->seen[i].at - last;
            if (gap_prev && gap + 20 * MS < gap_prev)
                growing = false;
            gap_prev = gap;
        }
        last = n->seen[i].at;
        assert_int_equal(n->seen[i].len, 0); /* Linux's probe: an old seq, no data */
    }
    assert_true(probes >= 4 && probes <= 8);
    assert_true(growing);
    assert_true(ctr(n->a, "TcpExtTCPWinProbe") >= 4);
    /* Every answer advertised a zero window. */
    for (size_t i = seen_before; i < n->nseen; i++)
        if (n->seen[i].src == B_IP)
            assert_int_equal(n->seen[i].window, 0);
    /* The reader reads again: a window update reopens the flow, and every
     * byte arrives in order. */
    static uint8_t got[200000];
    size_t rcvd = 0;
    for (int i = 0; i < 2000 && rcvd < sizeof(buf); i++) {
        int r = us_recv(n->b, sfd, got + rcvd, sizeof(got) - rcvd, 0);
        if (r > 0)
            rcvd += (size_t)r;
        if (sent < sizeof(buf)) {
            int w = us_send(n->a, cfd, buf + sent, sizeof(buf) - sent, 0, n->now);
            if (w > 0)
                sent += (size_t)w;
        }
        run(n, 5 * MS);
    }
    assert_int_equal(rcvd, sizeof(buf));
    assert_memory_equal(got, buf, sizeof(buf));
    tnet_free(n);
}

/* The largest window b advertised after its SYN, in bytes as sent. */
static uint32_t max_window_from(struct tnet *n, us_ip4 src)
{
    uint32_t max = 0;
    for (size_t i = 0; i < n->nseen; i++)
        if (n->seen[i].src == src && !(n->seen[i].flags & US_TCP_SYN) && n->seen[i].window > max)
            max = n->seen[i].window;
    return max;
}

static void window_scaling_run(bool on, uint32_t *max_raw, uint32_t *snd_wnd, bool *opt_seen)
{
    struct tnet_cfg c = {.sniff = true, .latency = 5 * MS};
    struct tnet *n = tnet_new(&c);
    if (!on) {
        set_knob(n->a, "net.ipv4.tcp_window_scaling", "0");
        set_knob(n->b, "net.ipv4.tcp_window_scaling", "0");
    }
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    transfer(n, cfd, sfd, 4u << 20, 0, 1 * MS, 60 * SEC);
    *max_raw = max_window_from(n, B_IP);
    *snd_wnd = 0;
    *opt_seen = false;
    for (size_t i = 0; i < n->nseen; i++)
        if (n->seen[i].flags & US_TCP_SYN)
            *opt_seen |= n->seen[i].has_wscale;
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    *snd_wnd = ti.snd_wnd;
    assert_int_equal(!!(ti.options & US_TCPI_OPT_WSCALE), on);
    tnet_free(n);
}

static void test_window_scaling_off_and_on(void **state)
{
    (void)state;
    uint32_t raw, wnd;
    bool opt;
    window_scaling_run(false, &raw, &wnd, &opt);
    assert_false(opt); /* no option in either SYN */
    assert_true(raw <= 65535);
    assert_true(wnd <= 65535);
    window_scaling_run(true, &raw, &wnd, &opt);
    assert_true(opt);
    /* Raw values are scaled by 2^7; the window itself grew past 64 KiB
     * as autotuning raised the receive buffer. */
    assert_true(wnd > 65535);
}

/* Bytes a moves to b in `secs` of virtual time on a 1 Gbit/s, 50 ms RTT
 * wire; rcvbuf > 0 fixes b's SO_RCVBUF. Returns bytes/s over the last
 * `measure` seconds. */
static double bulk_rate(int rcvbuf, us_time_ns total, us_time_ns measure, int *final_rcvbuf)
{
    struct tnet_cfg c = {.latency = 25 * MS,
                         .bandwidth_bps = 1000000000ull,
                         .queue_limit = 8192,
                         .pkt_count = 24000};
    struct tnet *n = tnet_new(&c);
    /* Large enough a ceiling that the window can cover the path's BDP
     * (6.25 MB) with room, as one raises tcp_rmem[2] on Linux for a long
     * fat pipe; wmem likewise for the sender. */
    set_knob(n->b, "net.ipv4.tcp_rmem", "4096 131072 16777216");
    set_knob(n->a, "net.ipv4.tcp_wmem", "4096 16384 16777216");
    set_knob(n->b, "net.core.rmem_max", "16777216");
    int lfd = tcp_listen_on(n->b, 80, 4);
    if (rcvbuf)
        set_sock_int(n->b, lfd, US_SOL_SOCKET, US_SO_RCVBUF, rcvbuf);
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 300 * MS); /* ARP, then the handshake, at 50 ms a round trip */
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    static uint8_t buf[1 << 20];
    memset(buf, 'x', sizeof(buf));
    us_time_ns start = n->now, mark = start + total - measure;
    uint64_t received = 0, at_mark = 0;
    bool marked = false;
    while (n->now < start + total) {
        while (us_send(n->a, cfd, buf, sizeof(buf), 0, n->now) > 0)
            ;
        int r;
        while ((r = us_recv(n->b, sfd, buf, sizeof(buf), 0)) > 0)
            received += (uint64_t)r;
        if (!marked && n->now >= mark) {
            at_mark = received;
            marked = true;
        }
        run(n, 1 * MS);
    }
    *final_rcvbuf = sock_int(n->b, sfd, US_SOL_SOCKET, US_SO_RCVBUF);
    tnet_free(n);
    return (double)(received - at_mark) / ((double)measure / 1e9);
}

static void test_throughput_follows_rcvbuf_and_autotuning(void **state)
{
    (void)state;
    int rb;
    /* SO_RCVBUF 1 MB → rcvbuf 2 MB → a 1 MB window: ~1 MB per 50 ms RTT
     * = 20 MB/s, far below the link's 125 MB/s. */
    double fixed = bulk_rate(1 << 20, 2 * SEC, 1 * SEC, &rb);
    assert_int_equal(rb, 2 << 20); /* locked: no autotuning */
    double expect = (double)(1 << 20) / 0.050;
    if (fixed < 0.75 * expect || fixed > 1.1 * expect)
        fail_msg("fixed rcvbuf: %.1f MB/s, expected ~%.1f", fixed / 1e6, expect / 1e6);
    /* Autotuning: the buffer grows toward the BDP and the link fills. */
    double tuned = bulk_rate(0, 4 * SEC, 1 * SEC, &rb);
    if (getenv("TCP_VERBOSE"))
        fprintf(stderr, "fixed %.1f MB/s, autotuned %.1f MB/s (rcvbuf %d)\n", fixed / 1e6,
                tuned / 1e6, rb);
    if (tuned < 0.8 * 125e6)
        fail_msg("autotuned: %.1f MB/s (rcvbuf %d), want >= 100", tuned / 1e6, rb);
    assert_true(rb > 131072);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_window_stall_and_recovery),
        cmocka_unit_test(test_window_scaling_off_and_on),
        cmocka_unit_test(test_throughput_follows_rcvbuf_and_autotuning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
