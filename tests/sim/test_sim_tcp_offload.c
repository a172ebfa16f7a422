/* TCP over the in-memory wire with a veth's offloads (us_wire_config.offload):
 * super-frames of up to 64 KiB cross the wire whole, and everything a user
 * sees stays as without them. Bulk transfers are byte-exact (a pattern
 * checked byte by byte) with super-frames really crossing and TCP's
 * counters in segments; under the fault injector (loss 1%, 5%, 10%;
 * duplication, reordering, corruption) too, with every retransmission a
 * single segment of at most the MSS; a corrupted super-frame costs one
 * segment, not all of them; a router forwarding super-frames from an
 * offload wire to a plain one cuts them in software (us_iface_xmit), and
 * the far host gets MTU-sized segments with valid checksums; and without
 * offloads, MTUs of 9000 and 65535 carry the bulk with the MSS following
 * the MTU (and 9000 with them, in super-frames of jumbo segments). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/devwrap.h"
#include "sim/tcp_util.h"

#define MIB_ (1024u * 1024u)

/* ---- a watcher on a's device: what the stack hands its device ---- */

struct watch {
    struct devwrap w; /* first: a struct us_dev * is a struct watch * */
    us_ip4 from;      /* frames from this address are watched */
    uint32_t mss;     /* the connection's MSS, once known */
    bool started;
    uint32_t max_end; /* highest sequence number sent so far, +1 */
    uint64_t data_frames, super_frames, segs_in_super;
    uint64_t rtx_frames;     /* frames re-sending sequence space */
    uint64_t rtx_not_single; /* of them, super-frames or longer than the MSS */
    /* Super-frames whose segment size is not the MSS (less the SACK
     * blocks that may ride along: at most 40 bytes less). */
    uint64_t gso_not_mss;
    uint64_t longer_than_mss; /* ordinary frames with more payload than the MSS */
    uint32_t flight_segs[16]; /* segments in each of the first 16 data frames */
};

/* The TCP segment in frame f, its checksum taken as valid if the frame
 * says so (a partial checksum is only completed by the device). */
static bool frame_tcp(const struct us_pkt *f, struct us_ipv4_view *ip, struct us_tcp_view *t)
{
    struct us_eth_view eth;
    unsigned fl = f->offload & (US_PKT_CSUM_PARTIAL | US_PKT_CSUM_VALID) ? US_WIRE_CSUM_VALID : 0;
    return us_eth_parse(f->data, f->len, &eth) == 0 && eth.ethertype == US_ETH_TYPE_IPV4 &&
           us_ipv4_parse(eth.payload, eth.payload_len, ip) == 0 && ip->proto == US_IPPROTO_TCP &&
           us_tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst, fl, t) == 0;
}

static enum dw_verdict watch_tx(struct devwrap *dw, struct us_pkt *f, struct us_pkt *next,
                                us_time_ns now)
{
    struct watch *w = (struct watch *)dw;
    struct us_ipv4_view ip;
    struct us_tcp_view t;
    if (!frame_tcp(f, &ip, &t) || ip.src != w->from || t.payload_len == 0 || !w->mss)
        return DW_PASS;
    uint32_t len = (uint32_t)t.payload_len, end = t.seq + len;
    if (w->data_frames < 16)
        w->flight_segs[w->data_frames] = f->gso_size ? (len + f->gso_size - 1) / f->gso_size : 1;
    w->data_frames++;
    if (f->gso_size) {
        w->super_frames++;
        w->segs_in_super += (len + f->gso_size - 1) / f->gso_size;
        if (f->gso_size > w->mss || f->gso_size + 40u < w->mss)
            w->gso_not_mss++;
    } else if (len > w->mss) {
        w->longer_than_mss++;
    }
    if (w->started && (int32_t)(t.seq - w->max_end) < 0) {
        w->rtx_frames++;
        if (f->gso_size || len > w->mss) {
            w->rtx_not_single++;
            if (getenv("TCP_OFFLOAD_VERBOSE"))
                fprintf(stderr, "  resent %u..%u (%u bytes, gso_size %u) below %u at %.3f s\n",
                        t.seq, end, len, f->gso_size, w->max_end, (double)now / 1e9);
        }
    }
    if (!w->started || (int32_t)(end - w->max_end) > 0)
        w->max_end = end;
    w->started = true;
    return DW_PASS;
}

static const struct devwrap_hooks watch_hooks = {.tx = watch_tx};

static struct us_dev *wrap_watch(struct us_dev *lower, void *ctx)
{
    struct watch *w = ctx;
    return devwrap_init(&w->w, lower, NULL, &watch_hooks);
}

/* The wire port under s's first interface (below any wrapper). */
static const struct us_dev_stats *port_stats(struct us_stack *s)
{
    struct us_dev *d = us_iface_dev(s, 0);
    assert_non_null(d);
    while (d->lower)
        d = d->lower;
    return &d->stats;
}

/* The fault injector under s's first interface, or NULL. */
static struct us_dev *fault_dev(struct us_stack *s, struct us_dev *watcher)
{
    struct us_dev *d = us_iface_dev(s, 0);
    return d == watcher ? d->lower : d;
}

static void print_stats(const char *what, struct tnet *n, const struct watch *w)
{
    const struct us_dev_stats *pa = port_stats(n->a), *pb = port_stats(n->b);
    fprintf(
        stderr,
        "%s: a port tx %llu frames (%llu super-frames, %llu segments in them); b port rx %llu "
        "(%llu, %llu); a OutSegs %llu RetransSegs %llu; b InSegs %llu InCsumErrors %llu; "
        "watched: %llu data frames, %llu super, %llu retransmissions\n",
        what, (unsigned long long)pa->tx_packets, (unsigned long long)pa->tx_gso_frames,
        (unsigned long long)pa->tx_gso_segs, (unsigned long long)pb->rx_packets,
        (unsigned long long)pb->rx_gso_frames, (unsigned long long)pb->rx_gso_segs,
        (unsigned long long)ctr(n->a, "TcpOutSegs"),
        (unsigned long long)ctr(n->a, "TcpRetransSegs"), (unsigned long long)ctr(n->b, "TcpInSegs"),
        (unsigned long long)ctr(n->b, "TcpInCsumErrors"),
        (unsigned long long)(w ? w->data_frames : 0), (unsigned long long)(w ? w->super_frames : 0),
        (unsigned long long)(w ? w->rtx_frames : 0));
}

/* A connection a -> b on n, the watcher told its MSS. */
static int connect_watched(struct tnet *n, struct watch *w, int *cfd)
{
    int sfd = tcp_pair(n, 5001, cfd, NULL);
    w->mss = tcp_info_of(n->a, *cfd).snd_mss;
    assert_true(w->mss > 0);
    return sfd;
}

/* Every frame a handed its device: data in super-frames of MSS-sized
 * segments, no ordinary frame above the MSS, and every retransmission one
 * segment of at most the MSS (the retransmission queue per segment). */
static void assert_per_segment(const struct watch *w)
{
    assert_true(w->data_frames > 0);
    assert_int_equal(w->gso_not_mss, 0);
    assert_int_equal(w->longer_than_mss, 0);
    if (w->rtx_not_single)
        fail_msg("%llu of %llu retransmissions were super-frames or longer than the MSS %u",
                 (unsigned long long)w->rtx_not_single, (unsigned long long)w->rtx_frames, w->mss);
}

/* tcp_info and the MIB agree that each retransmission was one segment:
 * bytes retransmitted <= segments retransmitted * MSS. */
static void assert_retrans_per_segment(struct tnet *n, int fd, uint32_t mss)
{
    struct us_tcp_info ti = tcp_info_of(n->a, fd);
    assert_int_equal(ti.total_retrans, ctr(n->a, "TcpRetransSegs"));
    if (ti.bytes_retrans > (uint64_t)ti.total_retrans * mss)
        fail_msg("%llu bytes retransmitted in %u segments of at most %u",
                 (unsigned long long)ti.bytes_retrans, ti.total_retrans, mss);
}

/* 8 MiB a -> b and 1 MiB back over the offload wire. */
static void test_bulk_offload(void **state)
{
    (void)state;
    static struct watch w;
    w = (struct watch){.from = A_IP};
    struct tnet_cfg c = {.offload = true, .wrap_a = wrap_watch, .wrap_ctx = &w};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = connect_watched(n, &w, &cfd);
    uint64_t out0 = ctr(n->a, "TcpOutSegs");
    transfer(n, cfd, sfd, 8 * MIB_, 1 * MIB_, 1 * MS, 60 * SEC);
    if (getenv("TCP_OFFLOAD_VERBOSE"))
        print_stats("bulk", n, &w);

    /* Super-frames crossed, standing for several segments each. */
    const struct us_dev_stats *pa = port_stats(n->a), *pb = port_stats(n->b);
    assert_true(pa->tx_gso_frames > 0);
    if (pa->tx_gso_segs <= 2 * pa->tx_gso_frames)
        fail_msg("%llu super-frames stood for only %llu segments",
                 (unsigned long long)pa->tx_gso_frames, (unsigned long long)pa->tx_gso_segs);
    assert_int_equal(pb->rx_gso_frames, pa->tx_gso_frames);
    assert_int_equal(pb->rx_gso_segs, pa->tx_gso_segs);
    assert_int_equal(w.super_frames, pa->tx_gso_frames);
    assert_int_equal(w.segs_in_super, pa->tx_gso_segs);
    /* Most of the data went in them. */
    assert_true(pa->tx_gso_segs * w.mss > 6 * MIB_);
    assert_per_segment(&w);
    assert_int_equal(w.rtx_frames, 0);

    /* TCP counts segments, not frames (Linux's tcp_skb_pcount): every
     * frame a's port sent is a TCP segment or ARP, each super-frame
     * counted as its segments. */
    uint64_t out = ctr(n->a, "TcpOutSegs") - out0;
    assert_true(out >= 8 * MIB_ / w.mss);
    /* (A gratuitous ARP counts in ArpOutRequests too.) */
    uint64_t arp = ctr(n->a, "ArpOutRequests") + ctr(n->a, "ArpOutReplies");
    assert_int_equal(ctr(n->a, "TcpOutSegs") + arp,
                     pa->tx_packets - pa->tx_gso_frames + pa->tx_gso_segs);
    struct us_tcp_info ta = tcp_info_of(n->a, cfd), tb = tcp_info_of(n->b, sfd);
    assert_true(ta.segs_out >= out);
    /* The receiver counts the segments a super-frame stands for (Linux's
     * tcp_segs_in: tcpi_segs_in counts gso_segs). */
    if (tb.segs_in < 8 * MIB_ / w.mss)
        fail_msg("b counted %u segments in for %u bytes of %u-byte segments", tb.segs_in, 8 * MIB_,
                 w.mss);
    assert_int_equal(ctr(n->b, "TcpInCsumErrors"), 0);
    assert_int_equal(ctr(n->a, "TcpRetransSegs"), 0);
    us_close(n->a, cfd);
    us_close(n->b, sfd);
    tnet_free(n);
}

/* The first flight (cwnd = 10 segments) goes as super-frames of 2
 * segments, not one of 10: a super-frame is lost whole, and a flight of
 * one or two of them lost whole leaves nothing to draw the SACKs of fast
 * recovery, only the loss probe and the retransmission timer (over a TAP
 * at 10% loss, 66 timeouts and 26 s for 100 MiB, against 1 and 1.9 s with
 * the quarter-of-cwnd cap in tso_segs). */
static void test_first_flight_in_small_super_frames(void **state)
{
    (void)state;
    static struct watch w;
    w = (struct watch){.from = A_IP};
    struct tnet_cfg c = {.offload = true, .wrap_a = wrap_watch, .wrap_ctx = &w};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = connect_watched(n, &w, &cfd);
    static uint8_t buf[20000]; /* more than the first flight, within the send buffer */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(us_send(n->a, cfd, buf, sizeof(buf), 0, n->now), (int)sizeof(buf));
    us_stack_poll(n->a, n->now); /* the first flight, before any ACK */
    assert_true(w.data_frames >= 5);
    uint32_t segs = 0;
    for (int i = 0; i < 5; i++) {
        if (w.flight_segs[i] > 2)
            fail_msg("frame %d of the first flight holds %u segments", i, w.flight_segs[i]);
        segs += w.flight_segs[i];
    }
    assert_int_equal(segs, 10);
    us_close(n->a, cfd);
    us_close(n->b, sfd);
    tnet_free(n);
}

/* Loss on a's port (both ways) at rate loss: a super-frame lost is every
 * segment in it lost, repaired one segment at a time. */
static void lossy_offload(double loss, uint64_t seed)
{
    static struct watch w;
    w = (struct watch){.from = A_IP};
    struct us_fault_config f = {.loss = loss, .seed = seed};
    struct tnet_cfg c = {
        .offload = true, .fault_a = &f, .wrap_a = wrap_watch, .wrap_ctx = &w, .seed = seed};
    struct tnet *n = tnet_new(&c);
    for (int i = 0; i < 2; i++) {
        set_knob(n->both[i], "net.ipv4.tcp_syn_retries", "10");
        set_knob(n->both[i], "net.ipv4.tcp_synack_retries", "10");
    }
    int cfd;
    int sfd = connect_watched(n, &w, &cfd);
    transfer(n, cfd, sfd, 16 * MIB_, 512 * 1024, 1 * MS, 3000 * SEC);
    if (getenv("TCP_OFFLOAD_VERBOSE")) {
        char what[32];
        snprintf(what, sizeof(what), "loss %.0f%%", loss * 100);
        print_stats(what, n, &w);
    }
    const struct us_fault_stats *fs = us_fault_dev_stats(fault_dev(n->a, &w.w.dev));
    assert_true(fs->dropped > 0);
    assert_true(port_stats(n->a)->tx_gso_frames > 0);
    assert_true(w.rtx_frames > 0);
    assert_true(ctr(n->a, "TcpRetransSegs") > 0);
    assert_per_segment(&w);
    assert_retrans_per_segment(n, cfd, w.mss);
    us_close(n->a, cfd);
    us_close(n->b, sfd);
    tnet_free(n);
}

static void test_loss_1(void **state)
{
    (void)state;
    lossy_offload(0.01, 11);
}

static void test_loss_5(void **state)
{
    (void)state;
    lossy_offload(0.05, 55);
}

static void test_loss_10(void **state)
{
    (void)state;
    lossy_offload(0.10, 101);
}

/* Duplication, reordering, corruption and some loss together, at a. */
static void test_dup_reorder_corrupt(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        static struct watch w;
        w = (struct watch){.from = A_IP};
        struct us_fault_config f = {.loss = 0.01,
                                    .dup = 0.03,
                                    .reorder = 0.03,
                                    .corrupt = 0.02,
                                    .reorder_delay = 300 * 1000,
                                    .seed = seed};
        struct tnet_cfg c = {
            .offload = true, .fault_a = &f, .wrap_a = wrap_watch, .wrap_ctx = &w, .seed = seed};
        struct tnet *n = tnet_new(&c);
        for (int i = 0; i < 2; i++) {
            set_knob(n->both[i], "net.ipv4.tcp_syn_retries", "10");
            set_knob(n->both[i], "net.ipv4.tcp_synack_retries", "10");
        }
        int cfd;
        int sfd = connect_watched(n, &w, &cfd);
        transfer(n, cfd, sfd, 3 * MIB_, 1 * MIB_, 1 * MS, 3000 * SEC);
        if (getenv("TCP_OFFLOAD_VERBOSE"))
            print_stats("dup/reorder/corrupt", n, &w);
        const struct us_fault_stats *fs = us_fault_dev_stats(fault_dev(n->a, &w.w.dev));
        assert_true(fs->duplicated > 0 && fs->reordered > 0 && fs->corrupted > 0);
        assert_true(port_stats(n->a)->tx_gso_frames > 0);
        assert_per_segment(&w);
        assert_retrans_per_segment(n, cfd, w.mss);
        us_close(n->a, cfd);
        us_close(n->b, sfd);
        tnet_free(n);
    }
}

/* Corruption alone, on what a sends: the injector cuts a super-frame and
 * damages one of its segments, so the receiver discards one segment per
 * corruption (a bad TCP checksum, or, for a byte in the headers, a bad IP
 * header or a frame not for it) and a resends about one segment per
 * corruption, not the whole super-frame's worth. */
static void test_corrupt_costs_one_segment(void **state)
{
    (void)state;
    static struct watch w;
    w = (struct watch){.from = A_IP};
    struct us_fault_config f = {.corrupt = 0.05, .seed = 7, .tx = true};
    struct tnet_cfg c = {.offload = true, .fault_a = &f, .wrap_a = wrap_watch, .wrap_ctx = &w};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = connect_watched(n, &w, &cfd);
    transfer(n, cfd, sfd, 16 * MIB_, 0, 1 * MS, 3000 * SEC);
    if (getenv("TCP_OFFLOAD_VERBOSE"))
        print_stats("corrupt", n, &w);
    const struct us_fault_stats *fs = us_fault_dev_stats(fault_dev(n->a, &w.w.dev));
    uint64_t corrupted = fs->corrupted;
    uint64_t csum = ctr(n->b, "TcpInCsumErrors");
    /* TcpInErrs counts the checksum errors too. */
    uint64_t discarded = ctr(n->b, "TcpInErrs") + ctr(n->b, "IpInHdrErrors") +
                         ctr(n->b, "IpInAddrErrors") + ctr(n->b, "LinkInOtherHost") +
                         ctr(n->b, "LinkInUnknownEthertype") + ctr(n->b, "LinkInErrors");
    fprintf(stderr, "corrupted %llu, b discarded %llu (%llu TCP checksums), a resent %llu\n",
            (unsigned long long)corrupted, (unsigned long long)discarded, (unsigned long long)csum,
            (unsigned long long)ctr(n->a, "TcpRetransSegs"));
    assert_true(corrupted >= 10);
    assert_true(port_stats(n->a)->tx_gso_frames > 0);
    /* One discard per corruption at most (a flipped source MAC goes unseen),
     * and nearly all of them TCP checksums: the damage lands in one
     * segment's ~1500 bytes, 54 of them headers. */
    assert_true(discarded <= corrupted);
    assert_true(csum * 10 >= corrupted * 8);
    /* About one segment resent per corruption (and a loss probe or two),
     * where a lost super-frame would cost ~40. */
    uint64_t resent = ctr(n->a, "TcpRetransSegs");
    if (resent > 2 * corrupted + 10)
        fail_msg("%llu corruptions cost %llu retransmitted segments", (unsigned long long)corrupted,
                 (unsigned long long)resent);
    assert_per_segment(&w);
    assert_retrans_per_segment(n, cfd, w.mss);
    us_close(n->a, cfd);
    us_close(n->b, sfd);
    tnet_free(n);
}

/* ---- a router from an offload wire to a plain one ---- */

#define R1_IP US_IP4(192, 0, 2, 254)
#define R2_IP US_IP4(198, 51, 100, 254)
#define C_IP  US_IP4(198, 51, 100, 2)

/* A checker on c's device: every TCP frame it receives is an ordinary
 * frame within the MTU whose checksums verify in full. */
struct plain_check {
    struct devwrap w;
    uint32_t mtu;
    uint64_t frames, data_frames, too_long, marked, bad_csum;
    uint32_t max_len;
};

static enum dw_verdict plain_rx(struct devwrap *dw, struct us_pkt *f, us_time_ns now)
{
    struct plain_check *pc = (struct plain_check *)dw;
    struct us_eth_view eth;
    struct us_ipv4_view ip;
    struct us_tcp_view t;
    if (us_eth_parse(f->data, f->len, &eth) != 0 || eth.ethertype != US_ETH_TYPE_IPV4 ||
        us_ipv4_parse(eth.payload, eth.payload_len, &ip) != 0 || ip.proto != US_IPPROTO_TCP)
        return DW_PASS;
    pc->frames++;
    if (f->len > pc->max_len)
        pc->max_len = f->len;
    if (f->len > pc->mtu + US_ETH_HLEN || ip.total_len > pc->mtu)
        pc->too_long++;
    if (f->gso_size || f->offload)
        pc->marked++;
    if (us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &t) != 0)
        pc->bad_csum++;
    else if (t.payload_len)
        pc->data_frames++;
    return DW_PASS;
}

static const struct devwrap_hooks plain_hooks = {.rx = plain_rx};

/* a on an offload wire, c on a plain one, r between them; with narrow, r's
 * interface towards c has that MTU (a link narrower than both ends', which
 * c's MSS does not show): the super-frames' segments do not fit it, r says
 * "fragmentation needed" and a's path MTU discovery (RFC 1191) shrinks the
 * segments inside its super-frames. */
static void router_offload_to_plain(uint32_t narrow)
{
    struct us_wire_config w1c = {.latency = 10 * 1000, .queue_limit = 4096, .offload = true};
    struct us_wire_config w2c = {.latency = 10 * 1000, .queue_limit = 4096};
    struct us_wire *w1 = us_wire_new(&w1c), *w2 = us_wire_new(&w2c);
    struct us_stack_config ca = {.name = "a", .seed = 1, .pkt_count = 8192};
    struct us_stack_config cr = {.name = "r", .seed = 2, .pkt_count = 8192};
    struct us_stack_config cc = {.name = "c", .seed = 3, .pkt_count = 8192};
    struct us_stack *a = us_stack_new(&ca), *r = us_stack_new(&cr), *cs = us_stack_new(&cc);
    assert_non_null(a);
    assert_non_null(r);
    assert_non_null(cs);
    static struct plain_check pc;
    pc = (struct plain_check){.mtu = narrow ? narrow : 1500};
    struct us_dev *cdev = devwrap_init(&pc.w, us_wire_port_new(w2, "c0"), NULL, &plain_hooks);
    assert_int_equal(us_iface_add(a, us_wire_port_new(w1, "a0"), A_IP, 24, 0), 0);
    assert_int_equal(us_iface_add(r, us_wire_port_new(w1, "r0"), R1_IP, 24, 0), 0);
    struct us_dev *r1dev = us_wire_port_new(w2, "r1");
    if (narrow)
        r1dev->mtu = narrow;
    assert_int_equal(us_iface_add(r, r1dev, R2_IP, 24, 0), 1);
    assert_int_equal(us_iface_add(cs, cdev, C_IP, 24, 0), 0);
    assert_int_equal(us_route_add(a, 0, 0, R1_IP, 0), 0);
    assert_int_equal(us_route_add(cs, 0, 0, R2_IP, 0), 0);
    set_knob(r, "net.ipv4.ip_forward", "1");

    /* tcp_util's transfer driver over three stacks: n->a and n->b are the
     * ends, the router is stepped with them. */
    struct tnet *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    n->a = a;
    n->b = cs;
    struct us_stack *all[3] = {a, r, cs};
    int lfd = tcp_listen_on(cs, 5001, 8);
    int cfd = tcp_connect_to(a, C_IP, 5001);
    for (int i = 0; i < 100 && !(us_sock_poll_events(a, cfd) & US_POLLOUT); i++)
        us_sim_run(all, 3, &n->now, n->now + 10 * MS);
    int sfd = us_accept(cs, lfd, NULL);
    assert_true(sfd >= 0);
    /* The MSS is the plain wire's: a's route MTU is 1500 either way. */
    uint32_t mss = tcp_info_of(a, cfd).snd_mss;
    assert_int_equal(mss, 1448);

    static struct flow f1, f2;
    f1 = (struct flow){a, cs, cfd, sfd, 6 * MIB_, 0, 0, 0x1234, false, false, 0, 0, {0}};
    f2 = (struct flow){cs, a, sfd, cfd, 256 * 1024, 0, 0, 0x5678, false, false, 0, 0, {0}};
    us_time_ns end = n->now + 120 * SEC;
    while (!(f1.eof && f2.eof)) {
        flow_step(n, &f1);
        flow_step(n, &f2);
        if (f1.eof && f2.eof)
            break;
        if (n->now >= end)
            fail_msg("transfer stuck: a->c %llu, c->a %llu", (unsigned long long)f1.received,
                     (unsigned long long)f2.received);
        us_sim_run(all, 3, &n->now, n->now + 1 * MS);
    }
    assert_int_equal(f1.received, 6 * MIB_);
    assert_int_equal(f2.received, 256 * 1024);
    if (getenv("TCP_OFFLOAD_VERBOSE"))
        fprintf(stderr,
                "router (narrow %u): a sent %llu super-frames (%llu segments); r forwarded %llu; "
                "c got %llu TCP frames (%llu with data), largest %u bytes; a's MSS %u, %u resent\n",
                narrow, (unsigned long long)port_stats(a)->tx_gso_frames,
                (unsigned long long)port_stats(a)->tx_gso_segs,
                (unsigned long long)ctr(r, "IpForwDatagrams"), (unsigned long long)pc.frames,
                (unsigned long long)pc.data_frames, pc.max_len, tcp_info_of(a, cfd).snd_mss,
                tcp_info_of(a, cfd).total_retrans);

    /* Super-frames went to the router, and came out cut. */
    const struct us_dev_stats *pa = port_stats(a);
    assert_true(pa->tx_gso_frames > 0);
    assert_true(pa->tx_gso_segs > 2 * pa->tx_gso_frames);
    struct us_dev *r0 = us_iface_dev(r, 0), *r1 = us_iface_dev(r, 1);
    assert_int_equal(r0->stats.rx_gso_frames, pa->tx_gso_frames);
    assert_int_equal(r1->stats.tx_gso_frames, 0);
    /* Nothing r sent was refused for its size (tx_errors), nor dropped. */
    assert_int_equal(r1->stats.tx_errors, 0);
    assert_int_equal(r1->stats.tx_dropped, 0);
    /* Every frame c got: ordinary, within the MTU, checksums valid. */
    assert_true(pc.data_frames >= 6 * MIB_ / mss);
    assert_true(pc.max_len + 100 > pc.mtu + US_ETH_HLEN);
    assert_int_equal(pc.too_long, 0);
    assert_int_equal(pc.marked, 0);
    assert_int_equal(pc.bad_csum, 0);
    assert_int_equal(ctr(cs, "TcpInCsumErrors"), 0);
    assert_int_equal(ctr(r, "LinkPoolExhausted"), 0);
    if (narrow) {
        /* Path MTU discovery: refused, told, and the MSS follows. */
        assert_true(ctr(r, "IpFragFails") > 0);
        assert_int_equal(tcp_info_of(a, cfd).snd_mss, narrow - 40 - 12);
    } else {
        assert_int_equal(ctr(r, "IpFragFails"), 0);
    }

    us_stack_free(a);
    us_stack_free(r);
    us_stack_free(cs);
    us_wire_free(w1);
    us_wire_free(w2);
    free(n);
}

static void test_router_offload_to_plain(void **state)
{
    (void)state;
    router_offload_to_plain(0);
}

static void test_router_offload_pmtu(void **state)
{
    (void)state;
    router_offload_to_plain(1280);
}

/* ---- larger MTUs, without offloads ---- */

static void large_mtu(uint32_t mtu, bool offload)
{
    struct tnet_cfg c = {.mtu = mtu, .offload = offload};
    struct tnet *n = tnet_new(&c);
    int cfd;
    int sfd = tcp_pair(n, 5001, &cfd, NULL);
    struct us_tcp_info ta = tcp_info_of(n->a, cfd), tb = tcp_info_of(n->b, sfd);
    /* MTU - 40, less the 12 bytes of timestamps each segment carries. */
    assert_int_equal(ta.snd_mss, mtu - 40 - 12);
    assert_int_equal(tb.snd_mss, mtu - 40 - 12);
    /* The window a knows is the SYN-ACK's, unscaled (RFC 7323 §2.2): its
     * first flight (10 segments of these sizes) must not pass it. */
    assert_true(ta.snd_wnd > 0 && ta.snd_wnd <= 65535);
    transfer(n, cfd, sfd, 8 * MIB_, 1 * MIB_, 1 * MS, 120 * SEC);
    const struct us_dev_stats *pa = port_stats(n->a);
    if (offload) /* super-frames of jumbo segments: 7 fit 64 KiB */
        assert_true(pa->tx_gso_frames > 0 && pa->tx_gso_segs >= 5 * pa->tx_gso_frames);
    else
        assert_int_equal(pa->tx_gso_frames, 0);
    assert_int_equal(pa->tx_errors, 0);
    /* The frames were that large: on average well past 1514 bytes. */
    if (pa->tx_bytes < pa->tx_packets * (mtu / 2))
        fail_msg("MTU %u: %llu bytes in %llu frames", mtu, (unsigned long long)pa->tx_bytes,
                 (unsigned long long)pa->tx_packets);
    assert_true(ctr(n->a, "TcpOutSegs") < 2 * (8 * MIB_ / ta.snd_mss) + 1000);
    assert_int_equal(ctr(n->b, "TcpInCsumErrors"), 0);
    /* Nothing lost, so nothing resent (a segment past the window was). */
    assert_int_equal(ctr(n->a, "TcpRetransSegs"), 0);
    assert_int_equal(ctr(n->b, "TcpRetransSegs"), 0);
    us_close(n->a, cfd);
    us_close(n->b, sfd);
    tnet_free(n);
}

static void test_mtu_9000(void **state)
{
    (void)state;
    large_mtu(9000, false);
}

/* Jumbo frames and offloads: super-frames of 8948-byte segments. */
static void test_mtu_9000_offload(void **state)
{
    (void)state;
    large_mtu(9000, true);
}

static void test_mtu_65535(void **state)
{
    (void)state;
    large_mtu(65535, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_offload),
        cmocka_unit_test(test_first_flight_in_small_super_frames),
        cmocka_unit_test(test_loss_1),
        cmocka_unit_test(test_loss_5),
        cmocka_unit_test(test_loss_10),
        cmocka_unit_test(test_dup_reorder_corrupt),
        cmocka_unit_test(test_corrupt_costs_one_segment),
        cmocka_unit_test(test_router_offload_to_plain),
        cmocka_unit_test(test_router_offload_pmtu),
        cmocka_unit_test(test_mtu_9000),
        cmocka_unit_test(test_mtu_9000_offload),
        cmocka_unit_test(test_mtu_65535),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
