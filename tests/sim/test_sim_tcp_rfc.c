/* Where TCP follows RFC 9293 and Linux to the letter, seen on the wire of
 * the virtual clock: the retransmission timeout's variance term of at least
 * 200 ms (Linux's tcp_rtt_estimator and __tcp_set_rto), the restart after
 * idle and CUBIC's idle shift counting data segments only (RFC 5681 §4.1,
 * Linux's lsndtime), the SYN-RECEIVED RTT sample timed from the SYN-ACK,
 * RFC 5961 §5.2's ACK acceptability limit exactly, a FIN that waits for the
 * peer's window (Linux's tcp_snd_wnd_test), and one NewReno recovery per
 * loss (RFC 6582 §3.2). Most tests talk to one ustack host from a raw TCP
 * peer (tests/sim/rawhost.h) that writes every segment itself, so the
 * peer's ACKs, windows and timing are exactly what the test says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include "sim/rawhost.h"

#define RAW_IP US_IP4(192, 0, 2, 9)

/* ---------------- a raw TCP peer ---------------- */

/* One ustack host (B_IP, listening on port 80) and a raw TCP peer (RAW_IP)
 * on a wire with the given one-way latency. */
struct rt {
    struct us_wire *wire;
    struct rawhost rh;
    struct us_stack *s;
    us_time_ns now;
    unsigned next;    /* the first collected datagram not yet looked at */
    uint16_t rport;   /* the raw peer's port */
    uint32_t snd_nxt; /* the raw peer's next sequence number */
    uint32_t rcv_nxt; /* the next sequence number expected from the stack */
    uint32_t iss;     /* the stack's ISN */
    uint16_t wnd;     /* the window the raw peer advertises */
    int lfd, fd;      /* the stack's listener and accepted connection */
};

static void rt_run(struct rt *t, us_time_ns dt)
{
    rh_run(&t->rh, &t->s, 1, &t->now, t->now + dt);
}

static struct rt *rt_new(us_time_ns latency)
{
    struct rt *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    struct us_wire_config wc = {.latency = latency};
    t->wire = us_wire_new(&wc);
    assert_non_null(t->wire);
    rh_init(&t->rh, t->wire, RAW_IP);
    t->rh.step = 100 * 1000; /* answers within 0.1 ms of an arrival */
    t->s = sim_stack_new("host", 0x5eed2);
    struct us_dev *port = us_wire_port_new(t->wire, "host0");
    assert_non_null(port);
    assert_int_equal(us_iface_add(t->s, port, B_IP, 24, t->now), 0);
    t->rh.peer_mac = us_iface_dev(t->s, 0)->mac;
    t->rport = 40000;
    t->snd_nxt = 1000000;
    t->wnd = 65535;
    t->lfd = tcp_listen_on(t->s, 80, 16);
    t->fd = -1;
    /* The stack learns the raw peer's address from its ARP request, so no
     * resolution delays the first segments (and their RTT samples). */
    rh_arp_request(&t->rh, B_IP, t->now);
    rt_run(t, 2 * latency + MS);
    t->rh.ndgrams = 0;
    return t;
}

static void rt_free(struct rt *t)
{
    us_stack_free(t->s);
    rh_fini(&t->rh);
    us_wire_free(t->wire);
    free(t);
}

/* Sends a segment from the raw peer: flags, seq, ack, the raw peer's
 * window, len bytes of payload. */
static void rt_send(struct rt *t, uint8_t flags, uint32_t seq, uint32_t ack, const void *payload,
                    size_t len)
{
    struct us_tcp_repr r = {
        .sport = t->rport, .dport = 80, .seq = seq, .ack = ack, .flags = flags, .window = t->wnd};
    if (flags & US_TCP_SYN) {
        r.opts.mss_present = true; /* and nothing else: no scaling, SACK or timestamps */
        r.opts.mss = 1460;
    }
    uint8_t seg[RH_DGRAM_MAX];
    size_t hlen = US_TCP_HLEN + us_tcp_opts_len(&r.opts);
    assert_true(hlen + len <= sizeof(seg) - US_IPV4_HLEN);
    if (len)
        memcpy(seg + hlen, payload, len);
    us_tcp_emit(seg, hlen + len, &r, RAW_IP, B_IP);
    rh_send_ip(&t->rh, B_IP, US_IPPROTO_TCP, seg, hlen + len, NULL, t->now);
}

/* An ACK of everything received so far, at the raw peer's snd_nxt. */
static void rt_ack(struct rt *t)
{
    rt_send(t, US_TCP_ACK, t->snd_nxt, t->rcv_nxt, NULL, 0);
}

/* The next TCP segment from the stack, within limit of virtual time:
 * true with it in *v (its payload points into the raw host's store, valid
 * until the next call) and its arrival time in *at. */
static bool rt_next(struct rt *t, us_time_ns limit, struct us_tcp_view *v, us_time_ns *at)
{
    us_time_ns end = t->now + limit;
    for (;;) {
        while (t->next < t->rh.ndgrams) {
            const struct rh_dgram *d = &t->rh.dgrams[t->next++];
            struct us_ipv4_view ip;
            rh_ip(d, &ip);
            if (ip.proto != US_IPPROTO_TCP || ip.src != B_IP)
                continue;
            assert_int_equal(us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, v), 0);
            if (at)
                *at = d->at;
            return true;
        }
        /* All looked at: the store starts over (it holds RH_MAX_DGRAMS). */
        t->rh.ndgrams = 0;
        t->next = 0;
        if (t->now >= end)
            return false;
        rt_run(t, t->rh.step);
    }
}

/* Like rt_next, but the test fails with `what` if nothing comes. */
static void rt_expect(struct rt *t, us_time_ns limit, struct us_tcp_view *v, us_time_ns *at,
                      const char *what)
{
    if (!rt_next(t, limit, v, at))
        fail_msg("no segment from the stack within %.3f s: %s (at %.3f s)", (double)limit / 1e9,
                 what, (double)t->now / 1e9);
}

/* The raw peer sends a SYN to the stack's listener and takes its SYN-ACK;
 * the SYN-ACK's arrival in *at. */
static void rt_syn(struct rt *t, us_time_ns *at)
{
    rt_send(t, US_TCP_SYN, t->snd_nxt, 0, NULL, 0);
    t->snd_nxt++;
    struct us_tcp_view v;
    rt_expect(t, SEC, &v, at, "SYN-ACK");
    assert_int_equal(v.flags, US_TCP_SYN | US_TCP_ACK);
    assert_int_equal(v.ack, t->snd_nxt);
    t->iss = v.seq;
    t->rcv_nxt = v.seq + 1;
}

/* The handshake's last ACK; the stack's side is accepted. */
static void rt_establish(struct rt *t)
{
    rt_ack(t);
    rt_run(t, t->rh.step);
    for (int i = 0; i < 1000 && t->fd < 0; i++) {
        struct us_sockaddr_in peer;
        t->fd = us_accept(t->s, t->lfd, &peer);
        if (t->fd < 0)
            rt_run(t, t->rh.step);
    }
    if (t->fd < 0)
        fail_msg("the stack accepted no connection: %d", t->fd);
}

/* The raw peer opens a connection to the stack's listener; the final ACK
 * goes ack_delay after the SYN-ACK arrived. */
static void rt_connect(struct rt *t, us_time_ns ack_delay)
{
    rt_syn(t, NULL);
    rt_run(t, ack_delay);
    rt_establish(t);
}

static int tcp_state_of(struct rt *t)
{
    return tcp_info_of(t->s, t->fd).state;
}

static void app_send(struct rt *t, size_t len)
{
    static uint8_t buf[65536];
    assert_true(len <= sizeof(buf));
    memset(buf, 'd', len);
    assert_int_equal(us_send(t->s, t->fd, buf, len, 0, t->now), (int)len);
}

/* ---------------- 1. the retransmission timeout ---------------- */

/* On a steady 150 ms path the timeout is SRTT plus a variance term of at
 * least 200 ms (Linux's rttvar_us, floored at tcp_rto_min): about 350 ms,
 * not RFC 6298's SRTT + 4 RTTVAR, which shrinks to the 200 ms floor, close
 * behind the RTT, once the path is steady. */
static void test_rto_is_srtt_plus_200ms_on_a_150ms_path(void **state)
{
    (void)state;
    struct rt *t = rt_new(75 * MS);
    rt_connect(t, 0);
    /* Twenty request-sized writes, each ACKed as soon as it arrives: a
     * steady 150 ms RTT, and no timeout may fire. */
    for (int i = 0; i < 20; i++) {
        app_send(t, 100);
        struct us_tcp_view v;
        rt_expect(t, SEC, &v, NULL, "a data segment");
        assert_int_equal(v.seq, t->rcv_nxt); /* new data, never a retransmission */
        assert_int_equal(v.payload_len, 100);
        t->rcv_nxt += 100;
        rt_ack(t);
        rt_run(t, 100 * MS); /* the ACK reaches the stack */
    }
    assert_int_equal(ctr(t->s, "TcpExtTCPTimeouts"), 0);
    struct us_tcp_info ti = tcp_info_of(t->s, t->fd);
    assert_int_equal(ti.total_retrans, 0);

    /* The tail is lost (never ACKed): the retransmission comes an RTO
     * after the original, about 350 ms. */
    app_send(t, 100);
    struct us_tcp_view v;
    us_time_ns first, again;
    rt_expect(t, SEC, &v, &first, "the tail segment");
    assert_int_equal(v.seq, t->rcv_nxt);
    rt_expect(t, 2 * SEC, &v, &again, "its retransmission");
    assert_int_equal(v.seq, t->rcv_nxt);
    assert_int_equal(v.payload_len, 100);
    us_time_ns gap = again - first;
    if (gap < 345 * MS || gap > 356 * MS)
        fail_msg("the first retransmission came %.1f ms after the original, not ~350 ms",
                 (double)gap / 1e6);
    assert_int_equal(ctr(t->s, "TcpExtTCPTimeouts"), 1);
    /* What tcp_info said before the loss: SRTT 150 ms, RTO SRTT + 200 ms. */
    assert_in_range(ti.rtt, 150000, 150100);
    assert_in_range(ti.rto, 345000, 356000);
    t->rcv_nxt += 100;
    rt_ack(t);
    rt_run(t, 100 * MS);
    assert_int_equal(tcp_info_of(t->s, t->fd).unacked, 0);
    rt_free(t);
}

/* A bulk transfer on a 150 ms path behind a 20 Mbit/s bottleneck, whose
 * queue grows the RTT as the window opens: no timeout fires, nothing is
 * sent twice. */
static void test_no_timeout_in_bulk_on_a_150ms_path(void **state)
{
    (void)state;
    struct tnet_cfg c = {
        .latency = 75 * MS, .bandwidth_bps = 20 * 1000 * 1000, .queue_limit = 100000};
    struct tnet *n = tnet_new(&c);
    int lfd = tcp_listen_on(n->b, 80, 8);
    int cfd = tcp_connect_to(n->a, B_IP, 80);
    run(n, 400 * MS);
    struct us_sockaddr_in peer;
    int sfd = us_accept(n->b, lfd, &peer);
    assert_true(sfd >= 0);
    transfer(n, cfd, sfd, 4u << 20, 0, MS, 60 * SEC);
    assert_int_equal(ctr(n->a, "TcpExtTCPTimeouts"), 0);
    assert_int_equal(tcp_info_of(n->a, cfd).total_retrans, 0);
    tnet_free(n);
}

/* ---------------- 3. RFC 5961 §5.2's ACK limit ---------------- */

/* An ACK is acceptable from SND.UNA - MAX.SND.WND up to SND.NXT (RFC 5961
 * §5.2, Linux's tcp_ack): one below, the segment is dropped, data and all,
 * with a challenge ACK; exactly at the limit it is an old duplicate ACK
 * and its data is taken. */
static void test_ack_below_snd_una_minus_max_window(void **state)
{
    (void)state;
    struct rt *t = rt_new(MS);
    t->wnd = 2000; /* MAX.SND.WND: the only window the peer ever offers */
    rt_connect(t, 0);
    uint32_t snd_una = t->rcv_nxt; /* the stack sent nothing yet */
    uint32_t limit = snd_una - 2000;
    uint64_t challenges = ctr(t->s, "TcpExtTCPChallengeACK");
    static const char data[10] = "0123456789";
    char buf[32];

    rt_send(t, US_TCP_ACK | US_TCP_PSH, t->snd_nxt, limit - 1, data, sizeof(data));
    struct us_tcp_view v;
    rt_expect(t, 100 * MS, &v, NULL, "the challenge ACK");
    assert_int_equal(v.flags, US_TCP_ACK);
    assert_int_equal(v.seq, snd_una);
    assert_int_equal(v.payload_len, 0);
    if (v.ack != t->snd_nxt)
        fail_msg("an ACK at SND.UNA - MAX.SND.WND - 1 was accepted: its data was ACKed");
    assert_int_equal(ctr(t->s, "TcpExtTCPChallengeACK"), challenges + 1);
    assert_int_equal(us_recv(t->s, t->fd, buf, sizeof(buf), 0), -EAGAIN);

    rt_send(t, US_TCP_ACK | US_TCP_PSH, t->snd_nxt, limit, data, sizeof(data));
    t->snd_nxt += sizeof(data);
    rt_expect(t, 500 * MS, &v, NULL, "the ACK of the data");
    assert_int_equal(v.flags, US_TCP_ACK);
    assert_int_equal(v.ack, t->snd_nxt);
    assert_int_equal(us_recv(t->s, t->fd, buf, sizeof(buf), 0), (int)sizeof(data));
    assert_memory_equal(buf, data, sizeof(data));
    assert_int_equal(ctr(t->s, "TcpExtTCPChallengeACK"), challenges + 1);
    rt_free(t);
}

/* ---------------- 4. the FIN and the peer's window ---------------- */

/* The FIN takes a sequence number, and so a byte of the peer's window
 * (Linux's tcp_snd_wnd_test on the FIN's end_seq): with all data ACKed and
 * a zero window, shutdown() sends no FIN; zero-window probes go until the
 * window opens, then the FIN, and the connection closes cleanly. */
static void test_fin_waits_for_the_peers_window(void **state)
{
    (void)state;
    struct rt *t = rt_new(MS);
    rt_connect(t, 0);
    app_send(t, 1000);
    struct us_tcp_view v;
    rt_expect(t, 100 * MS, &v, NULL, "the data");
    assert_int_equal(v.seq, t->rcv_nxt);
    assert_int_equal(v.payload_len, 1000);
    assert_int_equal(v.flags & US_TCP_FIN, 0);
    t->rcv_nxt += 1000;
    t->wnd = 0;
    rt_ack(t); /* everything ACKed, and no room for more */
    rt_run(t, 10 * MS);
    assert_int_equal(tcp_info_of(t->s, t->fd).unacked, 0);

    assert_int_equal(us_shutdown(t->s, t->fd, US_SHUT_WR), 0);
    assert_int_equal(tcp_state_of(t), US_TCP_FIN_WAIT1);
    /* Three seconds of zero window: probes (an old sequence number, no
     * data), each answered with the zero window, and never the FIN. */
    unsigned probes = 0;
    us_time_ns end = t->now + 3 * SEC;
    while (rt_next(t, end > t->now ? end - t->now : 0, &v, NULL)) {
        if (v.flags & US_TCP_FIN)
            fail_msg("the FIN went into a zero window at %.3f s", (double)t->now / 1e9);
        assert_int_equal(v.payload_len, 0);
        assert_int_equal(v.seq, t->rcv_nxt - 1);
        probes++;
        rt_ack(t);
    }
    assert_in_range(probes, 2, 6);
    assert_int_equal(tcp_state_of(t), US_TCP_FIN_WAIT1);

    /* The window opens: the FIN goes, at the sequence number after the data. */
    t->wnd = 1000;
    rt_ack(t);
    rt_expect(t, 50 * MS, &v, NULL, "the FIN once the window opened");
    assert_int_equal(v.flags, US_TCP_FIN | US_TCP_ACK);
    assert_int_equal(v.seq, t->rcv_nxt);
    assert_int_equal(v.payload_len, 0);
    t->rcv_nxt++;
    rt_ack(t);
    rt_run(t, 10 * MS);
    assert_int_equal(tcp_state_of(t), US_TCP_FIN_WAIT2);
    rt_send(t, US_TCP_FIN | US_TCP_ACK, t->snd_nxt, t->rcv_nxt, NULL, 0);
    t->snd_nxt++;
    rt_expect(t, 50 * MS, &v, NULL, "the ACK of the peer's FIN");
    assert_int_equal(v.flags, US_TCP_ACK);
    assert_int_equal(v.ack, t->snd_nxt);
    assert_int_equal(tcp_state_of(t), US_TCP_TIME_WAIT);
    char buf[8];
    assert_int_equal(us_recv(t->s, t->fd, buf, sizeof(buf), 0), 0);
    rt_free(t);
}

/* ---------------- 2. restart after idle, and the SYN-ACK's RTT ---------------- */

/* Moves len bytes from (fs, ffd) to (ts, tfd) over n, bounded. */
static void pump(struct tnet *n, struct us_stack *fs, int ffd, struct us_stack *ts, int tfd,
                 size_t len)
{
    static uint8_t buf[65536];
    memset(buf, 'p', sizeof(buf));
    size_t sent = 0, got = 0;
    us_time_ns end = n->now + 30 * SEC;
    while (got < len) {
        if (sent < len) {
            size_t want = len - sent < sizeof(buf) ? len - sent : sizeof(buf);
            int r = us_send(fs, ffd, buf, want, 0, n->now);
            if (r > 0)
                sent += (size_t)r;
            else if (r != -EAGAIN)
                fail_msg("send: %d", r);
        }
        int r;
        while ((r = us_recv(ts, tfd, buf, sizeof(buf), 0)) > 0)
            got += (size_t)r;
        if (r != -EAGAIN)
            fail_msg("recv: %d", r);
        if (n->now >= end)
            fail_msg("pump stuck: %zu of %zu bytes", got, len);
        run(n, MS);
    }
}

/* a's data segments the sniffer saw from index `from` on. */
static unsigned data_segs_from_a(const struct tnet *n, size_t from)
{
    unsigned k = 0;
    for (size_t i = from; i < n->nseen; i++)
        k += n->seen[i].src == A_IP && n->seen[i].len > 0;
    return k;
}

/* a's cwnd after: a bulk send that opens it, then `idle` in which a only
 * receives (its pure ACKs go out all along), then a new send; and the
 * number of data segments a sent before the first ACK could come back. */
static void restart_run(bool slow_start_after_idle, uint32_t *cwnd_before, uint32_t *cwnd_after,
                        unsigned *first_flight, uint32_t *iw)
{
    struct tnet_cfg c = {.latency = 5 * MS, .sniff = true};
    struct tnet *n = tnet_new(&c);
    set_knob(n->a, "net.ipv4.tcp_slow_start_after_idle", slow_start_after_idle ? "1" : "0");
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    pump(n, n->a, cfd, n->b, sfd, 1 << 20);
    run(n, 50 * MS);
    struct us_tcp_info ti = tcp_info_of(n->a, cfd);
    *cwnd_before = ti.snd_cwnd;
    uint32_t mss = ti.snd_mss;
    uint32_t floor = 2 * mss > 14600 ? 2 * mss : 14600; /* RFC 6928 §2 */
    *iw = 10 * mss < floor ? 10 * mss : floor;
    /* One second (several RTOs of a 10 ms path) in which b sends 8 KB
     * every 20 ms and a sends nothing but ACKs. */
    size_t mark = n->nseen;
    uint64_t acks = ctr(n->a, "TcpOutSegs");
    for (int i = 0; i < 50; i++) {
        pump(n, n->b, sfd, n->a, cfd, 8192);
        run(n, 20 * MS);
    }
    assert_int_equal(data_segs_from_a(n, mark), 0);
    assert_true(ctr(n->a, "TcpOutSegs") - acks >= 50);            /* it did send, ACKs */
    assert_true(tcp_info_of(n->a, cfd).rto < 1 * SEC / 1000 / 2); /* idle > 2 RTOs, in us */
    /* a writes again. */
    mark = n->nseen;
    static uint8_t big[256 * 1024];
    memset(big, 'b', sizeof(big));
    assert_true(us_send(n->a, cfd, big, sizeof(big), 0, n->now) > 0);
    /* The sniffer sees a's segments 5 ms after they left; an ACK is back
     * at a 10 ms after: 8 ms shows the first flight alone. */
    run(n, 8 * MS);
    *first_flight = data_segs_from_a(n, mark);
    *cwnd_after = tcp_info_of(n->a, cfd).snd_cwnd;
    tnet_free(n);
}

/* RFC 5681 §4.1, Linux's tcp_slow_start_after_idle: a sender that sent no
 * data for longer than an RTO restarts from the initial window, even if it
 * sent ACKs all the while (Linux's lsndtime counts data segments only);
 * with the knob at 0 its cwnd stays. */
static void test_restart_after_idle_counts_data_only(void **state)
{
    (void)state;
    uint32_t before, after, iw;
    unsigned flight;
    restart_run(true, &before, &after, &flight, &iw);
    assert_true(before >= 4 * iw);
    if (after != iw)
        fail_msg("after 1 s with only ACKs sent, cwnd is %u, not the initial window %u", after, iw);
    assert_in_range(flight, 1, 10);

    restart_run(false, &before, &after, &flight, &iw);
    assert_true(before >= 4 * iw);
    assert_int_equal(after, before);
    assert_true(flight > 10);
}

/* The RTT sample of a passive open runs from the SYN-ACK to the ACK that
 * completes the handshake (Linux's snt_synack), not from the last segment
 * sent: here an ACK to an unacceptable segment goes in between. */
static void test_synrecv_rtt_is_timed_from_the_synack(void **state)
{
    (void)state;
    struct rt *t = rt_new(MS);
    us_time_ns synack_at;
    rt_syn(t, &synack_at);
    rt_run(t, 100 * MS);
    /* A sequence number far beyond the window: RFC 9293 §3.10.7.4's first
     * step answers it with an ACK, and drops it. */
    rt_send(t, US_TCP_ACK, t->snd_nxt + 1000000, t->rcv_nxt, NULL, 0);
    struct us_tcp_view v;
    rt_expect(t, 50 * MS, &v, NULL, "the ACK to an unacceptable segment");
    assert_int_equal(v.flags, US_TCP_ACK);
    assert_int_equal(v.ack, t->snd_nxt);
    rt_run(t, synack_at + 150 * MS - t->now);
    rt_establish(t); /* the ACK reaches the stack 152 ms after its SYN-ACK left */
    struct us_tcp_info ti = tcp_info_of(t->s, t->fd);
    if (ti.rtt < 151000 || ti.rtt > 153500)
        fail_msg("the handshake's RTT sample is %.1f ms, not 152 ms", ti.rtt / 1000.0);
    rt_free(t);
}

/* The raw peer as a receiver: every data segment is ACKed as it arrives.
 * With lose set, the first copy of the segment at lose_seq vanishes; the
 * segments after it are answered with duplicate ACKs until its
 * retransmission fills the hole (one hole, segments after it in order). */
struct rt_rx {
    bool lose;
    uint32_t lose_seq;
    bool hole;
    uint32_t hole_end; /* the end of what arrived after the hole */
};

static void rt_serve(struct rt *t, struct rt_rx *x, us_time_ns dur)
{
    us_time_ns end = t->now + dur;
    struct us_tcp_view v;
    while (rt_next(t, end > t->now ? end - t->now : 0, &v, NULL)) {
        uint32_t len = (uint32_t)v.payload_len;
        if (!len)
            continue;
        if (x && x->lose && v.seq == x->lose_seq) {
            x->lose = false;
            x->hole = true;
            x->hole_end = v.seq + len;
            continue;
        }
        if (x && x->hole) {
            if (v.seq == t->rcv_nxt) {
                t->rcv_nxt = x->hole_end;
                x->hole = false;
            } else if (v.seq == x->hole_end) {
                x->hole_end += len;
            }
        } else if (v.seq == t->rcv_nxt) {
            t->rcv_nxt += len;
        }
        rt_ack(t);
    }
}

/* Queues as much as the stack's send buffer takes. */
static void app_fill(struct rt *t)
{
    static uint8_t buf[65536];
    int r;
    do
        r = us_send(t->s, t->fd, buf, sizeof(buf), 0, t->now);
    while (r > 0);
    assert_int_equal(r, -EAGAIN);
}

/* A bulk send from the stack to the raw peer over a 10 ms RTT (no SACK:
 * NewReno): slow start, the 31st segment lost, fast recovery, then 300 ms
 * of congestion avoidance until all is ACKed. tcp_info at the end. */
static struct us_tcp_info bulk_with_one_loss(struct rt *t)
{
    struct rt_rx x = {.lose = true, .lose_seq = t->rcv_nxt + 30 * 1460};
    for (int i = 0; i < 40; i++) {
        app_fill(t);
        rt_serve(t, &x, 10 * MS);
    }
    assert_false(x.lose || x.hole);
    us_time_ns end = t->now + SEC;
    while (tcp_info_of(t->s, t->fd).unacked && t->now < end)
        rt_serve(t, NULL, 10 * MS);
    struct us_tcp_info ti = tcp_info_of(t->s, t->fd);
    assert_int_equal(ti.unacked, 0);
    assert_int_equal(ti.total_retrans, 1);
    return ti;
}

/* RFC 6582 §3.2 (NewReno, no SACK): one loss, one congestion response.
 * The ACK that reaches the RecoveryPoint ends fast recovery, new data in
 * flight behind it or not; it is not a partial ACK that starts another. */
static void test_newreno_one_loss_one_reduction(void **state)
{
    (void)state;
    struct rt *t = rt_new(5 * MS);
    rt_connect(t, 0);
    struct us_tcp_info ti = bulk_with_one_loss(t);
    assert_int_equal(ti.options & US_TCPI_OPT_SACK, 0);
    assert_int_equal(ctr(t->s, "TcpRetransSegs"), 1);
    uint64_t recoveries = ctr(t->s, "TcpExtTCPRenoRecovery");
    if (recoveries != 1)
        fail_msg("one lost segment started %llu fast recoveries", (unsigned long long)recoveries);
    rt_free(t);
}

/* CUBIC's curve counts time spent sending, not idle time (RFC 9438 §4.2;
 * Linux's bictcp_cwnd_event shifts the epoch on CA_EVENT_TX_START), also
 * when the idle sender was ACKing data it received all along: after 10 s
 * of that, cwnd resumes the slow climb it was on, it does not leap
 * towards a W_cubic 10 s further along the curve. */
static void test_cubic_epoch_skips_an_idle_spent_receiving(void **state)
{
    (void)state;
    struct rt *t = rt_new(5 * MS);
    set_knob(t->s, "net.ipv4.tcp_slow_start_after_idle", "0");
    rt_connect(t, 0);
    struct us_tcp_info ti = bulk_with_one_loss(t);
    assert_true(ti.snd_cwnd >= ti.snd_ssthresh); /* congestion avoidance */
    assert_true(ti.snd_cwnd < 40 * ti.snd_mss);  /* the peer's 64 KB window is not the limit */
    uint32_t before = ti.snd_cwnd;

    /* Ten seconds in which the stack only receives (the peer sends 1000
     * bytes every 100 ms) and ACKs. */
    static const uint8_t data[1000];
    uint8_t buf[2048];
    for (int i = 0; i < 100; i++) {
        rt_send(t, US_TCP_ACK | US_TCP_PSH, t->snd_nxt, t->rcv_nxt, data, sizeof(data));
        t->snd_nxt += sizeof(data);
        rt_serve(t, NULL, 100 * MS);
        assert_int_equal(us_recv(t->s, t->fd, buf, sizeof(buf), 0), (int)sizeof(data));
    }
    assert_int_equal(tcp_info_of(t->s, t->fd).snd_cwnd, before);

    /* Ten round trips of sending again: 100 ms further along the curve,
     * cwnd grows by a segment or so. */
    for (int i = 0; i < 10; i++) {
        app_fill(t);
        rt_serve(t, NULL, 10 * MS);
    }
    uint32_t after = tcp_info_of(t->s, t->fd).snd_cwnd;
    if (after > before + 3 * ti.snd_mss)
        fail_msg("cwnd leapt from %u to %u in 10 RTTs after 10 s of receiving", before, after);
    rt_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rto_is_srtt_plus_200ms_on_a_150ms_path),
        cmocka_unit_test(test_no_timeout_in_bulk_on_a_150ms_path),
        cmocka_unit_test(test_ack_below_snd_una_minus_max_window),
        cmocka_unit_test(test_fin_waits_for_the_peers_window),
        cmocka_unit_test(test_restart_after_idle_counts_data_only),
        cmocka_unit_test(test_synrecv_rtt_is_timed_from_the_synack),
        cmocka_unit_test(test_newreno_one_loss_one_reduction),
        cmocka_unit_test(test_cubic_epoch_skips_an_idle_spent_receiving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
