/* Flow control: a zero-window stall while the reader stops reading, the
 * persist timer's probes (their back-off, and b's answers advertising a
 * zero window, seen on the wire by a sniffer), and recovery; window
 * scaling off (no option in the SYNs, and every window b advertises
 * clamped at exactly 65,535 while its buffer would allow 200,000 bytes)
 * and on (the scaled window goes far above); and on a 1 Gbit/s wire with
 * 50 ms RTT, throughput that follows a fixed SO_RCVBUF (about rcvbuf/2 per
 * RTT) while receive autotuning (tcp_rcv_space_adjust) reaches at least
 * 80% of the link. */
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
    for (int i = 0; i < 500 && tcp_info_of(n->a, cfd).snd_wnd != 0; i++) {
        int r = us_send(n->a, cfd, buf + sent, sizeof(buf) - sent, 0, n->now);
        if (r > 0)
            sent += (size_t)r;
        run(n, 1 * MS);
    }
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    assert_int_equal(ti.snd_wnd, 0);
    assert_true(sent > 0 && sent < sizeof(buf));
    us_time_ns stalled = n->now;
    size_t seen_before = n->nseen;
    /* 10 s more in 1 ms steps, so the sniffer's times are to the ms. */
    for (int i = 0; i < 10000; i++)
        run(n, 1 * MS);
    /* Linux's probe (tcp_xmit_probe_skb): a bare ACK with an old sequence
     * number, snd_una - 1, and no data; nothing else goes from a to b. It
     * comes with exponential back-off: RTO (200 ms), then 400, 800, 1600,
     * 3200 ms. */
    us_time_ns probe_at[16] = {0};
    uint32_t probe_seq = 0;
    unsigned probes = 0;
    for (size_t i = seen_before; i < n->nseen; i++) {
        const struct seen_seg *g = &n->seen[i];
        if (g->src != A_IP)
            continue;
        assert_int_equal(g->len, 0);
        assert_int_equal(g->flags, US_TCP_ACK);
        if (probes)
            assert_int_equal(g->seq, probe_seq);
        probe_seq = g->seq;
        assert_true(probes < 16);
        probe_at[probes++] = g->at;
    }
    assert_int_equal(probes, 5);
    us_time_ns gap = probe_at[0] - stalled;
    if (gap < 150 * MS || gap > 250 * MS)
        fail_msg("first probe %llu ms after the stall, expected ~200",
                 (unsigned long long)(gap / MS));
    for (unsigned i = 1; i < probes; i++) {
        us_time_ns g2 = probe_at[i] - probe_at[i - 1];
        if (g2 + 2 * MS < 2 * gap || g2 > 2 * gap + 2 * MS)
            fail_msg("probe %u came %llu ms after the one before, expected twice %llu", i + 1,
                     (unsigned long long)(g2 / MS), (unsigned long long)(gap / MS));
        gap = g2;
    }
    assert_int_equal(ctr(n->a, "TcpExtTCPWinProbe"), probes);
    /* b answers a probe with an ACK of snd_una that advertises a zero
     * window, in the same millisecond; as Linux (tcp_oow_rate_limited), it
     * answers a bare out-of-window segment at most once per
     * tcp_invalid_ratelimit (500 ms), so the probe 400 ms after an answered
     * one goes unanswered (TCPACKSkippedSeq). */
    unsigned answers = 0, skipped = 0;
    us_time_ns last_answer = 0;
    size_t j = seen_before;
    for (unsigned k = 0; k < probes; k++) {
        bool limited = last_answer && probe_at[k] - last_answer < 500 * MS;
        while (j < n->nseen && (n->seen[j].src != B_IP || n->seen[j].at < probe_at[k]))
            j++;
        bool answered = j < n->nseen && n->seen[j].at <= probe_at[k] + 1 * MS;
        if (answered) {
            const struct seen_seg *g = &n->seen[j];
            assert_int_equal(g->flags, US_TCP_ACK);
            assert_int_equal(g->len, 0);
            assert_int_equal(g->ack, probe_seq + 1);
            assert_int_equal(g->window, 0);
            last_answer = g->at;
            answers++;
            j++;
        } else {
            skipped++;
        }
        if (answered == limited)
            fail_msg("probe %u at %llu ms: %s", k + 1, (unsigned long long)(probe_at[k] / MS),
                     limited ? "answered within 500 ms of the last answer" : "not answered");
    }
    /* Nothing else came from b: every segment it sent was one of these. */
    unsigned from_b = 0;
    for (size_t i = seen_before; i < n->nseen; i++)
        from_b += n->seen[i].src == B_IP;
    assert_int_equal(from_b, answers);
    assert_int_equal(answers, 4);
    assert_int_equal(ctr(n->b, "TcpExtTCPACKSkippedSeq"), skipped);
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

/* What the sniffer saw of b's windows in a 4 MB transfer from a to b, whose
 * receive buffer (SO_RCVBUF 200,000: 400,000, half of it window) would
 * allow a window of about 200,000 bytes. */
struct wscale_seen {
    unsigned syns_with_opt; /* SYN and SYN-ACK carrying a window-scale option */
    unsigned b_segs;        /* segments b sent, SYN-ACK included */
    unsigned b_at_65535;    /* of them, with 65,535 in the window field */
    uint32_t b_max_scaled;  /* the largest window b advertised after its
                             * SYN-ACK: the field shifted by the scale b's
                             * SYN-ACK gave a */
    uint32_t a_snd_wnd;     /* b's window as a holds it at the end */
    uint32_t b_rcv_wnd;     /* the window b last advertised, as b holds it */
    int b_rcvbuf;
};

static struct wscale_seen window_scaling_run(bool on)
{
    struct tnet_cfg c = {.sniff = true, .latency = 5 * MS};
    struct tnet *n = tnet_new(&c);
    if (!on) {
        set_knob(n->a, "net.ipv4.tcp_window_scaling", "0");
        set_knob(n->b, "net.ipv4.tcp_window_scaling", "0");
    }
    int lfd = tcp_listen_on(n->b, 80, 4);
    set_sock_int(n->b, lfd, US_SOL_SOCKET, US_SO_RCVBUF, 200000);
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 50 * MS);
    int sfd = us_accept(n->b, lfd, NULL);
    assert_true(sfd >= 0);
    transfer(n, cfd, sfd, 4u << 20, 0, 1 * MS, 60 * SEC);
    struct us_tcp_info ai = tcp_info_of(n->a, cfd), bi = tcp_info_of(n->b, sfd);
    assert_int_equal(!!(ai.options & US_TCPI_OPT_WSCALE), on);
    assert_int_equal(!!(bi.options & US_TCPI_OPT_WSCALE), on);
    assert_int_equal(ai.snd_wscale, bi.rcv_wscale);
    struct wscale_seen w = {
        .a_snd_wnd = ai.snd_wnd, .b_rcv_wnd = bi.rcv_wnd, .b_rcvbuf = bi.rcvbuf};
    for (size_t i = 0; i < n->nseen; i++) {
        const struct seen_seg *g = &n->seen[i];
        if (g->flags & US_TCP_SYN)
            w.syns_with_opt += g->has_wscale;
        if (g->src != B_IP)
            continue;
        w.b_segs++;
        w.b_at_65535 += g->window == 65535;
        uint32_t scaled =
            (g->flags & US_TCP_SYN) ? g->window : (uint32_t)g->window << ai.snd_wscale;
        if (scaled > w.b_max_scaled)
            w.b_max_scaled = scaled;
    }
    assert_true(w.b_segs >= 50);
    tnet_free(n);
    return w;
}

static void test_window_scaling_off_and_on(void **state)
{
    (void)state;
    /* Off: no window-scale option in the SYN or the SYN-ACK, and although
     * b's buffer would allow about 200,000 bytes, every window b advertised, from
     * its SYN-ACK on, is clamped at exactly 65,535 (the reader keeps up, so
     * b always has more than that free). */
    struct wscale_seen off = window_scaling_run(false);
    assert_int_equal(off.syns_with_opt, 0);
    assert_int_equal(off.b_rcvbuf, 400000);
    assert_int_equal(off.b_at_65535, off.b_segs);
    assert_int_equal(off.b_max_scaled, 65535);
    assert_int_equal(off.a_snd_wnd, 65535);
    assert_int_equal(off.b_rcv_wnd, 65535);
    /* On, with the same buffer: both SYNs carry the option, and the window
     * b advertises, scaled, goes far above 65,535 (to near 200,000). */
    struct wscale_seen on = window_scaling_run(true);
    assert_int_equal(on.syns_with_opt, 2);
    assert_int_equal(on.b_rcvbuf, 400000);
    if (getenv("TCP_VERBOSE"))
        fprintf(stderr, "scaling on: largest window %u, a's snd_wnd %u\n", on.b_max_scaled,
                on.a_snd_wnd);
    if (on.b_max_scaled < 150000)
        fail_msg("with scaling, b's largest window was %u", on.b_max_scaled);
    assert_true(on.a_snd_wnd > 65535);
    assert_true(on.b_rcv_wnd > 65535);
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
