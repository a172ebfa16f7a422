/* Loss recovery on the virtual clock, with chosen segments dropped on a's
 * way out: a retransmission that is lost again is found by RACK (RFC 8985)
 * and sent a third time without a timeout; a lost tail is repaired by a
 * loss probe well before the minimum RTO, and so is a lost retransmission
 * with nothing sent after it; after a timeout only the hole is
 * resent, never data the peer SACKed (RFC 6675 §5.1); the echoed timestamp
 * times an ACK of a retransmission (RFC 7323 §4); a needless retransmission
 * comes back as a D-SACK (RFC 2883); a cut for reordering or for a spurious
 * timeout is undone (D-SACK, Eifel) and one for a real loss is not; and a
 * 10% random loss
 * each way is repaired mostly by fast recovery, byte-exact. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/devwrap.h"
#include "sim/tcp_util.h"

#include "ustack/wire.h"

/* A device wrapper that drops a's data segments that start in [offset,
 * offset_end) (just offset if offset_end is 0): the first `times`
 * transmissions of them, or every one before `until`. It also counts
 * retransmissions of data at other offsets. */
struct dropper {
    struct devwrap w;
    bool have_isn;
    uint32_t isn;    /* a's initial sequence number, from its SYN */
    bool armed;      /* the rule applies */
    uint32_t offset; /* stream offset of the (first) segment to drop */
    uint32_t offset_end;
    int times;        /* transmissions to drop (with until == 0) */
    us_time_ns until; /* drop every transmission before this time */
    int dropped;
    uint32_t high;              /* highest stream offset sent + 1 */
    int other_rexmits;          /* retransmissions of data at other offsets */
    int offset_xmits;           /* transmissions of the segment at offset */
    us_time_ns last_xmit;       /* when the segment at offset last went */
    us_time_ns acks_lost_until; /* a receives no TCP segment before this */
    int acks_dropped;
    /* Instead of dropping: a matching segment is held back hold_for (it
     * arrives late, reordered), and with hold_acks what a would receive
     * before acks_lost_until arrives then (delayed, not lost). */
    us_time_ns hold_for;
    struct us_pkt *held_tx;
    us_time_ns held_tx_at;
    bool hold_acks;
    struct us_pkt *held_rx[64];
    int n_held_rx;
};

/* Whether a received frame is TCP (the ACKs a gets from b). */
static bool is_tcp(const struct us_pkt *f)
{
    struct us_eth_view eth;
    struct us_ipv4_view ip;
    return us_eth_parse(f->data, f->len, &eth) == 0 && eth.ethertype == US_ETH_TYPE_IPV4 &&
           us_ipv4_parse(eth.payload, eth.payload_len, &ip) == 0 && ip.proto == US_IPPROTO_TCP;
}

/* Sends the held segment once its time has come. */
static void release_tx(struct devwrap *w, us_time_ns now)
{
    struct dropper *dr = (struct dropper *)w;
    if (dr->held_tx && now >= dr->held_tx_at) {
        us_dev_tx_burst(dr->w.dev.lower, &dr->held_tx, 1, now);
        dr->held_tx = NULL;
    }
}

/* A TCP segment reaching a before acks_lost_until is lost, or held. */
static enum dw_verdict dropper_rx(struct devwrap *w, struct us_pkt *f, us_time_ns now)
{
    struct dropper *dr = (struct dropper *)w;
    if (now >= dr->acks_lost_until || !is_tcp(f))
        return DW_PASS;
    dr->acks_dropped++;
    if (!dr->hold_acks || dr->n_held_rx == 64)
        return DW_DROP;
    /* Held, to come in the order they arrived: a stack, so kept reversed. */
    memmove(dr->held_rx + 1, dr->held_rx, (size_t)dr->n_held_rx * sizeof(f));
    dr->held_rx[0] = f;
    dr->n_held_rx++;
    return DW_KEEP;
}

/* The held segments come first once acks_lost_until has passed. */
static int dropper_rx_burst(struct us_dev *d, struct us_pkt **p, int n, us_time_ns now)
{
    struct dropper *dr = (struct dropper *)d;
    release_tx(&dr->w, now);
    int k = 0;
    if (now >= dr->acks_lost_until) {
        while (dr->n_held_rx && k < n)
            p[k++] = dr->held_rx[--dr->n_held_rx];
        if (k)
            return k;
    }
    return devwrap_rx_burst(d, p, n, now);
}

/* Whether a's segment f should vanish (or, with hold_for, come late). */
static enum dw_verdict dropper_tx(struct devwrap *w, struct us_pkt *f, struct us_pkt *next,
                                  us_time_ns now)
{
    struct dropper *dr = (struct dropper *)w;
    struct us_tcp_view tcp;
    if (!devwrap_tcp(f, &tcp))
        return DW_PASS;
    if (tcp.flags & US_TCP_SYN) {
        dr->isn = tcp.seq;
        dr->have_isn = true;
        return DW_PASS;
    }
    if (!dr->have_isn || tcp.payload_len == 0)
        return DW_PASS;
    uint32_t off = tcp.seq - dr->isn - 1, end = off + (uint32_t)tcp.payload_len;
    bool at = off == dr->offset;
    bool in = dr->offset_end ? off >= dr->offset && off < dr->offset_end : at;
    if (at) {
        dr->offset_xmits++;
        dr->last_xmit = now;
    } else if (off < dr->high && !in) {
        dr->other_rexmits++;
    }
    if (end > dr->high)
        dr->high = end;
    if (!dr->armed || !in)
        return DW_PASS;
    bool drop = dr->until ? now < dr->until : dr->dropped < dr->times;
    if (!drop)
        return DW_PASS;
    dr->dropped++;
    if (dr->hold_for && !dr->held_tx) {
        dr->held_tx = f;
        dr->held_tx_at = now + dr->hold_for;
        return DW_KEEP;
    }
    return DW_DROP;
}

static us_time_ns dropper_deadline(struct devwrap *w)
{
    struct dropper *dr = (struct dropper *)w;
    us_time_ns t = US_TIME_NEVER;
    if (dr->held_tx)
        t = dr->held_tx_at;
    if (dr->n_held_rx && dr->acks_lost_until < t)
        t = dr->acks_lost_until;
    return t;
}

static void dropper_fini(struct devwrap *w)
{
    struct dropper *dr = (struct dropper *)w;
    if (dr->held_tx)
        us_pkt_free(dr->held_tx);
    while (dr->n_held_rx)
        us_pkt_free(dr->held_rx[--dr->n_held_rx]);
}

static const struct devwrap_hooks dropper_hooks = {
    .tx = dropper_tx,
    .rx = dropper_rx,
    .release = release_tx,
    .deadline = dropper_deadline,
    .fini = dropper_fini,
};

static const struct us_dev_ops dropper_ops = {
    .rx_burst = dropper_rx_burst,
    .tx_burst = devwrap_tx_burst,
    .next_deadline = devwrap_next_deadline,
    .pollfd = devwrap_pollfd,
    .destroy = devwrap_destroy,
};

static struct us_dev *wrap_dropper(struct us_dev *lower, void *ctx)
{
    struct dropper *dr = ctx;
    devwrap_init(&dr->w, lower, "dropper", &dropper_hooks);
    dr->w.dev.ops = &dropper_ops;
    return &dr->w.dev;
}

/* A connection a -> b over a 10 ms RTT with the dropper on a's side. */
static struct tnet *net_with(struct dropper *dr, int *cfd, int *sfd)
{
    memset(dr, 0, sizeof(*dr));
    struct tnet_cfg c = {.latency = 5 * MS,
                         .wrap_a = wrap_dropper,
                         .wrap_ctx = dr,
                         .sniff = getenv("TCP_DUMP_SEGS") != NULL};
    struct tnet *n = tnet_new(&c);
    *sfd = tcp_pair(n, 80, cfd, NULL);
    return n;
}

/* Sends len bytes of stream 0x1234 from a without closing; returns how
 * long b took to have them all (fails past limit). */
static us_time_ns send_and_wait(struct tnet *n, int cfd, int sfd, uint32_t len, us_time_ns limit)
{
    static uint8_t out[1 << 20], in[1 << 16];
    assert_true(len <= sizeof(out));
    for (uint32_t i = 0; i < len; i++)
        out[i] = pattern(0x1234, i);
    us_time_ns t0 = n->now;
    uint32_t sent = 0, got = 0;
    while (got < len) {
        if (sent < len) {
            int r = us_send(n->a, cfd, out + sent, len - sent, 0, n->now);
            if (r > 0)
                sent += (uint32_t)r;
        }
        int r;
        while ((r = us_recv(n->b, sfd, in, sizeof(in), 0)) > 0) {
            for (int i = 0; i < r; i++)
                assert_int_equal(in[i], out[got + (uint32_t)i]);
            got += (uint32_t)r;
        }
        if (n->now - t0 > limit)
            fail_msg("only %u of %u bytes after %.3f s", got, len, (double)(n->now - t0) / 1e9);
        run(n, 1 * MS);
    }
    return n->now - t0;
}

/* The segment 100 MSS into the stream is lost, and so is its fast
 * retransmission: RACK sees later segments delivered and sends it again. */
static void test_lost_retransmission_without_rto(void **state)
{
    (void)state;
    static struct dropper dr;
    int cfd, sfd;
    struct tnet *n = net_with(&dr, &cfd, &sfd);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    dr.offset = 100 * mss;
    dr.times = 2;
    dr.armed = true;
    transfer(n, cfd, sfd, 2u << 20, 0, 1 * MS, 60 * SEC);
    assert_int_equal(dr.dropped, 2);
    assert_int_equal(dr.offset_xmits, 3);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 0);
    assert_true(ctr(n->a, "TcpExtTCPLostRetransmit") >= 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPSackRecovery"), 1);
    assert_int_equal(dr.other_rexmits, 0);
    /* A real loss: nothing to undo. */
    assert_int_equal(ctr(n->a, "TcpExtTCPFullUndo") + ctr(n->a, "TcpExtTCPDSACKUndo"), 0);
    tnet_free(n);
}

/* The last two of 20 segments are lost and nothing follows them: the loss
 * probe (the last segment again after about 2 SRTT) draws a SACK, RACK
 * finds the other one lost, and both are repaired long before the RTO's
 * 200 ms minimum. */
static void test_tail_loss_probe(void **state)
{
    (void)state;
    static struct dropper dr;
    int cfd, sfd;
    struct tnet *n = net_with(&dr, &cfd, &sfd);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    dr.offset = 18 * mss;
    dr.offset_end = 20 * mss;
    dr.times = 2;
    dr.armed = true;
    us_time_ns took = send_and_wait(n, cfd, sfd, 20 * mss, 5 * SEC);
    if (getenv("TCP_DUMP_SEGS"))
        dump_tables(n);
    if (getenv("TCP_SEED_VERBOSE"))
        fprintf(stderr, "tail: %.3f s, probes %llu, timeouts %llu, retrans %llu\n",
                (double)took / 1e9, (unsigned long long)ctr(n->a, "TcpExtTCPLossProbes"),
                (unsigned long long)ctr(n->a, "TcpExtTCPTimeouts"),
                (unsigned long long)ctr(n->a, "TcpRetransSegs"));
    assert_int_equal(dr.dropped, 2);
    assert_int_equal(ctr(n->a, "TcpExtTCPLossProbes"), 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(ctr(n->a, "TcpRetransSegs"), 2);
    assert_int_equal(dr.other_rexmits, 0);
    /* Two round trips of 10 ms for the data, the probe after ~2 SRTT,
     * then one more round trip. */
    assert_true(took < 100 * MS);
    tnet_free(n);
}

/* Segment 5 of 20 is lost, and so is its fast retransmission; everything
 * else was sent before and is SACKed, so nothing can reveal the second
 * loss. A probe in fast recovery (ustack's; RFC 8985 has none there)
 * resends the hole after about 2 SRTT instead of waiting 200 ms. */
static void test_probe_in_recovery(void **state)
{
    (void)state;
    static struct dropper dr;
    int cfd, sfd;
    struct tnet *n = net_with(&dr, &cfd, &sfd);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    dr.offset = 5 * mss;
    dr.times = 2;
    dr.armed = true;
    us_time_ns took = send_and_wait(n, cfd, sfd, 20 * mss, 5 * SEC);
    assert_int_equal(dr.dropped, 2);
    assert_int_equal(dr.offset_xmits, 3);
    assert_int_equal(dr.other_rexmits, 0);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(ctr(n->a, "TcpExtTCPSackRecovery"), 1);
    assert_true(ctr(n->a, "TcpExtTCPLossProbes") >= 1);
    assert_true(took < 150 * MS);
    tnet_free(n);
}

/* The first data segment is dropped every time for 300 ms, so recovery
 * ends in retransmission timeouts. Everything after it was SACKed, and
 * stays so: only the first segment is ever sent again. */
static void test_rto_keeps_sacked_data(void **state)
{
    (void)state;
    static struct dropper dr;
    int cfd, sfd;
    struct tnet *n = net_with(&dr, &cfd, &sfd);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    dr.offset = 0;
    dr.until = n->now + 300 * MS;
    dr.armed = true;
    send_and_wait(n, cfd, sfd, 30 * mss, 10 * SEC);
    assert_true(ctr(n->a, "TcpExtTCPTimeouts") >= 1);
    assert_true(dr.dropped >= 2);
    assert_int_equal(dr.other_rexmits, 0);
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    assert_int_equal(ti.bytes_retrans, (uint64_t)(dr.offset_xmits - 1) * mss);
    assert_int_equal(ctr(n->a, "TcpExtTCPLossUndo"), 0);
    assert_true(dr.last_xmit >= dr.until);
    tnet_free(n);
}

/* The only data segment is lost once, so the one ACK that covers data
 * covers a retransmission: Karn's rule forbids timing it, and only the
 * echoed timestamp (RFC 7323 §4) gives an RTT sample — rttvar moves with
 * timestamps on and stays as the handshake left it with them off. */
static us_time_ns rttvar_after_retransmission(bool timestamps, us_time_ns *before)
{
    static struct dropper dr;
    memset(&dr, 0, sizeof(dr));
    struct tnet_cfg c = {.latency = 5 * MS, .wrap_a = wrap_dropper, .wrap_ctx = &dr};
    struct tnet *n = tnet_new(&c);
    if (!timestamps)
        set_knob(n->a, "net.ipv4.tcp_timestamps", "0");
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    *before = tcp_info_of(n->a, cfd).rttvar;
    dr.offset = 0;
    dr.times = 1;
    dr.armed = true;
    send_and_wait(n, cfd, sfd, 100, 5 * SEC);
    run(n, 50 * MS); /* the ACK's way back */
    assert_int_equal(dr.dropped, 1);
    assert_int_equal(dr.offset_xmits, 2);
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    assert_int_equal(ti.unacked, 0);
    tnet_free(n);
    return ti.rttvar;
}

static void test_rtt_from_timestamps_under_karn(void **state)
{
    (void)state;
    us_time_ns before;
    us_time_ns with = rttvar_after_retransmission(true, &before);
    assert_true(with < before);
    us_time_ns without = rttvar_after_retransmission(false, &before);
    assert_int_equal(without, before);
}

/* b's ACKs of ten segments are lost for 300 ms, so a retransmits data b
 * already holds: b reports it with a D-SACK (RFC 2883), which a counts;
 * with net.ipv4.tcp_dsack=0 on b, no D-SACK. */
static void dsack_case(bool dsack, uint64_t *sent, uint64_t *recv)
{
    static struct dropper dr;
    memset(&dr, 0, sizeof(dr));
    struct tnet_cfg c = {.latency = 5 * MS, .wrap_a = wrap_dropper, .wrap_ctx = &dr};
    struct tnet *n = tnet_new(&c);
    if (!dsack)
        set_knob(n->b, "net.ipv4.tcp_dsack", "0");
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    dr.acks_lost_until = n->now + 300 * MS;
    send_and_wait(n, cfd, sfd, 10 * mss, 5 * SEC);
    run(n, 2 * SEC); /* until a hears of it all */
    assert_true(dr.acks_dropped > 0);
    assert_int_equal(tcp_info_of(n->a, cfd).unacked, 0);
    assert_true(ctr(n->a, "TcpRetransSegs") >= 1);
    *sent = ctr(n->b, "TcpExtTCPDSACKOldSent");
    *recv = ctr(n->a, "TcpExtTCPDSACKRecv");
    tnet_free(n);
}

static void test_dsack(void **state)
{
    (void)state;
    uint64_t sent, recv;
    dsack_case(true, &sent, &recv);
    assert_true(sent >= 1);
    assert_true(recv >= 1);
    dsack_case(false, &sent, &recv);
    assert_int_equal(sent, 0);
    assert_int_equal(recv, 0);
}

/* Segment 30 of 200 is held back 15 ms (reordered, not lost): RACK sees
 * later ones delivered and retransmits it, then the original arrives as a
 * duplicate, the receiver D-SACKs it, and the sender undoes the window cut
 * (Linux's tcp_try_undo_dsack / tcp_try_undo_recovery). */
static void test_reordering_undone(void **state)
{
    (void)state;
    static struct dropper dr;
    int cfd, sfd;
    struct tnet *n = net_with(&dr, &cfd, &sfd);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    dr.offset = 30 * mss;
    dr.times = 1;
    dr.hold_for = 15 * MS;
    dr.armed = true;
    transfer(n, cfd, sfd, 200 * mss, 0, 1 * MS, 10 * SEC);
    assert_int_equal(dr.dropped, 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPSackRecovery"), 1);
    assert_true(ctr(n->b, "TcpExtTCPDSACKOfoSent") + ctr(n->b, "TcpExtTCPDSACKOldSent") >= 1);
    assert_true(ctr(n->a, "TcpExtTCPDSACKUndo") + ctr(n->a, "TcpExtTCPFullUndo") == 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 0);
    tnet_free(n);
}

/* Segments 30 and 130 of 200 are each held back 4 ms. The first is
 * retransmitted needlessly; its D-SACK widens RACK's reordering window
 * (RFC 8985 §6.2, Linux's reo_wnd_steps) to 2 x min_rtt/4 = 5 ms, so the
 * second is waited for and not retransmitted. */
static void test_reordering_window_grows(void **state)
{
    (void)state;
    static struct dropper dr;
    int cfd, sfd;
    struct tnet *n = net_with(&dr, &cfd, &sfd);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    dr.offset = 30 * mss;
    dr.times = 1;
    dr.hold_for = 4 * MS;
    dr.armed = true;
    send_and_wait(n, cfd, sfd, 100 * mss, 5 * SEC);
    run(n, 50 * MS);
    assert_int_equal(dr.dropped, 1);
    assert_int_equal(ctr(n->a, "TcpRetransSegs"), 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPDSACKRecv"), 1);
    /* The same delay again, 100 segments on. */
    dr.offset = 130 * mss;
    dr.dropped = 0;
    send_and_wait(n, cfd, sfd, 100 * mss, 5 * SEC);
    run(n, 50 * MS);
    assert_int_equal(dr.dropped, 1);
    assert_int_equal(ctr(n->a, "TcpRetransSegs"), 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPSackRecovery"), 1);
    tnet_free(n);
}

/* All of b's ACKs for ten segments are delayed 300 ms (not lost): a's RTO
 * fires at 200 ms for nothing. The late ACKs echo the originals'
 * timestamps, older than the retransmission (Eifel, RFC 3522): the timeout
 * is undone and cwnd is what it was, not one segment. */
static void test_spurious_rto_undone(void **state)
{
    (void)state;
    static struct dropper dr;
    int cfd, sfd;
    struct tnet *n = net_with(&dr, &cfd, &sfd);
    uint32_t mss = tcp_info_of(n->a, cfd).snd_mss;
    uint32_t cwnd0 = tcp_info_of(n->a, cfd).snd_cwnd;
    dr.hold_acks = true;
    dr.acks_lost_until = n->now + 300 * MS;
    send_and_wait(n, cfd, sfd, 10 * mss, 5 * SEC);
    run(n, 400 * MS);
    assert_true(dr.acks_dropped > 0);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPSpuriousRTOs"), 1);
    assert_int_equal(ctr(n->a, "TcpExtTCPLossUndo"), 1);
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    assert_int_equal(ti.unacked, 0);
    assert_true(ti.snd_cwnd >= cwnd0);
    tnet_free(n);
}

/* 10% loss each way on a 10 ms RTT path, 4 MB with SACK: byte-exact, and
 * the repairs are fast retransmissions, with at most a few timeouts; lost
 * retransmissions are found without one. */
static void test_heavy_loss_mostly_fast_recovery(void **state)
{
    (void)state;
    struct us_fault_config fa = {.loss = 0.10, .seed = 7, .tx = true};
    struct us_fault_config fb = {.loss = 0.10, .seed = 8, .tx = true};
    struct tnet_cfg c = {.fault_a = &fa, .fault_b = &fb, .latency = 5 * MS};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    us_time_ns t0 = n->now;
    transfer(n, cfd, sfd, 4u << 20, 0, 1 * MS, 600 * SEC);
    us_time_ns took = n->now - t0;
    uint64_t fast = ctr(n->a, "TcpExtTCPFastRetrans"), rto = ctr(n->a, "TcpExtTCPTimeouts");
    uint64_t lost_rexmit = ctr(n->a, "TcpExtTCPLostRetransmit");
    if (getenv("TCP_SEED_VERBOSE"))
        fprintf(stderr,
                "10%% loss: %.3f s, %llu fast retransmits, %llu timeouts, %llu lost "
                "retransmissions, %llu probes\n",
                (double)took / 1e9, (unsigned long long)fast, (unsigned long long)rto,
                (unsigned long long)lost_rexmit,
                (unsigned long long)ctr(n->a, "TcpExtTCPLossProbes"));
    assert_true(lost_rexmit > 0);
    assert_true(fast > 10 * rto);
    tnet_free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_retransmission_without_rto),
        cmocka_unit_test(test_tail_loss_probe),
        cmocka_unit_test(test_probe_in_recovery),
        cmocka_unit_test(test_rto_keeps_sacked_data),
        cmocka_unit_test(test_rtt_from_timestamps_under_karn),
        cmocka_unit_test(test_dsack),
        cmocka_unit_test(test_reordering_undone),
        cmocka_unit_test(test_spurious_rto_undone),
        cmocka_unit_test(test_reordering_window_grows),
        cmocka_unit_test(test_heavy_loss_mostly_fast_recovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
