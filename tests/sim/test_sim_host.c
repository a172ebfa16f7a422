/* One ustack host (192.0.2.2/24) on a simulated wire with a raw test host
 * (192.0.2.9) whose frames the test writes and reads byte by byte: what a
 * user sees on the wire and in the counters for ARP, ICMP echo, reassembly
 * and the errors a host owes (or must not send). Everything runs on the
 * virtual clock from fixed seeds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_util.h"

#include <stdlib.h>
#include <string.h>

#include "sim/rawhost.h"

#define STACK_IP US_IP4(192, 0, 2, 2)
#define RAW_IP   US_IP4(192, 0, 2, 9)
#define MS       US_NS_PER_MS
#define SEC      US_NS_PER_SEC

static const struct us_mac mac_bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

static int setup(void **state)
{
    struct us_wire_config wc = {.latency = 10 * 1000}; /* 10 us one way */
    struct rh_net *h = rh_net_new(&wc, RAW_IP);
    h->s = sim_stack_new("host", 0x5eed1);
    rh_net_iface(h, us_wire_port_new(h->wire, "host0"), STACK_IP);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    rh_net_free(*state);
    return 0;
}

static void run_until(struct rh_net *h, us_time_ns until)
{
    rh_run(&h->rh, &h->s, 1, &h->now, until);
}

static long knob(struct rh_net *h, const char *key)
{
    char buf[32];
    assert_int_equal(us_sysctl_get(h->s, key, buf, sizeof(buf)), 0);
    return strtol(buf, NULL, 10);
}

static void fill(uint8_t *p, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 13 + salt + (i >> 8));
}

/* The ICMP error at index i quotes the start (header + 8 bytes) of what the
 * raw host sent, in `sent`. */
static void assert_quotes(struct rh_net *h, int i, const uint8_t *sent, size_t sent_len)
{
    assert_true(i >= 0);
    struct us_ipv4_view ip;
    struct us_icmp_view icmp;
    assert_true(rh_icmp(&h->rh, (unsigned)i, &ip, &icmp));
    assert_int_equal(ip.src, STACK_IP);
    assert_int_equal(ip.dst, RAW_IP);
    size_t want = US_IPV4_HLEN + 8;
    assert_true(sent_len >= want);
    assert_true(icmp.payload_len >= want);
    assert_memory_equal(icmp.payload, sent, want);
}

/* ---------------- ARP ---------------- */

static void test_arp_gratuitous_at_iface_add(void **state)
{
    struct rh_net *h = *state;
    rh_net_run(h, MS);
    assert_int_equal(h->rh.narps, 1);
    const struct rh_arp *g = &h->rh.arps[0];
    assert_int_equal(g->arp.op, US_ARP_OP_REQUEST);
    assert_true(rh_mac_eq(&g->eth_dst, &mac_bcast));
    assert_true(rh_mac_eq(&g->eth_src, &h->rh.peer_mac));
    assert_true(rh_mac_eq(&g->arp.sha, &h->rh.peer_mac));
    assert_int_equal(g->arp.spa, STACK_IP);
    assert_int_equal(g->arp.tpa, STACK_IP);
    assert_int_equal(ctr(h->s, "ArpOutGratuitous"), 1);
}

static void test_arp_reply_only_for_own_address(void **state)
{
    struct rh_net *h = *state;
    rh_net_run(h, MS);
    rh_clear(&h->rh);

    rh_arp_request(&h->rh, STACK_IP, h->now);
    rh_net_run(h, 10 * MS);
    assert_int_equal(h->rh.narps, 1);
    const struct rh_arp *r = &h->rh.arps[0];
    assert_int_equal(r->arp.op, US_ARP_OP_REPLY);
    assert_true(rh_mac_eq(&r->eth_dst, &h->rh.mac)); /* unicast back to the asker */
    assert_true(rh_mac_eq(&r->eth_src, &h->rh.peer_mac));
    assert_true(rh_mac_eq(&r->arp.sha, &h->rh.peer_mac));
    assert_int_equal(r->arp.spa, STACK_IP);
    assert_true(rh_mac_eq(&r->arp.tha, &h->rh.mac));
    assert_int_equal(r->arp.tpa, RAW_IP);
    assert_int_equal(ctr(h->s, "ArpInRequests"), 1);
    assert_int_equal(ctr(h->s, "ArpOutReplies"), 1);

    /* Someone else's address: heard, counted, not answered. */
    rh_clear(&h->rh);
    rh_arp_request(&h->rh, US_IP4(192, 0, 2, 3), h->now);
    rh_net_run(h, 2 * SEC);
    assert_int_equal(h->rh.narps, 0);
    assert_int_equal(ctr(h->s, "ArpInRequests"), 2);
    assert_int_equal(ctr(h->s, "ArpOutReplies"), 1);
}

static void test_arp_unanswered_gives_up_after_mcast_solicit(void **state)
{
    struct rh_net *h = *state;
    const us_ip4 ghost = US_IP4(192, 0, 2, 77);
    long solicit = knob(h, "net.ipv4.neigh.default.mcast_solicit");
    long retrans_ms = knob(h, "net.ipv4.neigh.default.retrans_time_ms");
    assert_int_equal(solicit, 3);
    assert_int_equal(retrans_ms, 1000);
    rh_net_run(h, MS);
    rh_clear(&h->rh);

    us_time_ns t0 = h->now;
    uint64_t out_req = ctr(h->s, "ArpOutRequests"); /* the gratuitous one */
    uint8_t data[32];
    fill(data, sizeof(data), 1);
    assert_int_equal(us_icmp_echo_send(h->s, ghost, 7, 1, data, sizeof(data), NULL, h->now), 0);
    us_time_ns retrans = (us_time_ns)retrans_ms * MS;
    /* Just before the last retry runs out, nothing has failed yet. */
    run_until(h, t0 + (us_time_ns)solicit * retrans - MS);
    assert_int_equal(ctr(h->s, "ArpResolveFailures"), 0);
    run_until(h, t0 + 10 * SEC);

    assert_int_equal(h->rh.narps, (unsigned)solicit);
    for (unsigned i = 0; i < h->rh.narps; i++) {
        const struct rh_arp *a = &h->rh.arps[i];
        assert_int_equal(a->arp.op, US_ARP_OP_REQUEST);
        assert_true(rh_mac_eq(&a->eth_dst, &mac_bcast));
        assert_true(rh_mac_eq(&a->arp.sha, &h->rh.peer_mac));
        assert_int_equal(a->arp.spa, STACK_IP);
        assert_int_equal(a->arp.tpa, ghost);
        if (i > 0)
            assert_int_equal(a->at - h->rh.arps[i - 1].at, retrans);
    }
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "ArpOutRequests"), out_req + (uint64_t)solicit);
    assert_int_equal(ctr(h->s, "ArpResolveFailures"), 1);
    assert_int_equal(ctr(h->s, "ArpUnresolvedDiscards"), 1);
}

static void test_arp_pending_queue_bounded_by_unres_qlen(void **state)
{
    struct rh_net *h = *state;
    long qlen = knob(h, "net.ipv4.neigh.default.unres_qlen");
    assert_int_equal(qlen, 101);
    rh_net_run(h, MS);
    rh_clear(&h->rh);

    /* The raw host stays silent at first: every echo waits for its address. */
    h->rh.answer_arp = false;
    const unsigned extra = 5;
    uint8_t data[16];
    fill(data, sizeof(data), 2);
    for (unsigned seq = 0; seq < (unsigned)qlen + extra; seq++)
        assert_int_equal(
            us_icmp_echo_send(h->s, RAW_IP, 9, (uint16_t)seq, data, sizeof(data), NULL, h->now), 0);
    assert_int_equal(ctr(h->s, "ArpUnresolvedDiscards"), extra);
    rh_net_run(h, 500 * MS);
    assert_int_equal(rh_count_arp(&h->rh, US_ARP_OP_REQUEST), 1);
    assert_int_equal(h->rh.ndgrams, 0);

    /* It answers the retry: the queue drains, oldest dropped first. */
    h->rh.answer_arp = true;
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.arp_answered, 1);
    assert_int_equal(rh_count_icmp(&h->rh, US_ICMP_ECHO, 0), (unsigned)qlen);
    for (unsigned i = 0; i < h->rh.ndgrams; i++) {
        struct us_icmp_view icmp;
        assert_true(rh_icmp(&h->rh, i, NULL, &icmp));
        assert_int_equal(us_icmp_echo_seq(&icmp), extra + i);
    }
    assert_int_equal(ctr(h->s, "ArpUnresolvedDiscards"), extra);
    assert_int_equal(ctr(h->s, "ArpResolveFailures"), 0);
}

static void test_arp_stale_entry_sends_unicast_probe(void **state)
{
    struct rh_net *h = *state;
    /* Reachable for a random time in [base/2, 3*base/2), as in Linux. */
    set_knob(h->s, "net.ipv4.neigh.default.base_reachable_time_ms", "10000");
    h->rh.step = 10 * MS;
    rh_net_prime(h, STACK_IP);
    us_time_ns t0 = h->now;
    uint8_t msg[64];
    size_t len = rh_build_echo(msg, US_ICMP_ECHO, 1, 1, "probe?", 6);

    /* Well within base/2: the entry is used as is, no ARP. */
    run_until(h, t0 + 4 * SEC);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, NULL, h->now);
    rh_net_run(h, 10 * MS);
    assert_int_equal(rh_count_icmp(&h->rh, US_ICMP_ECHOREPLY, 0), 1);
    assert_int_equal(h->rh.narps, 0);

    /* Past 3*base/2 it is stale: the next use goes out to the old address
     * and a request is sent to that address alone to confirm it. */
    run_until(h, t0 + 16 * SEC);
    assert_int_equal(h->rh.narps, 0); /* going stale sends nothing by itself */
    uint64_t out_req = ctr(h->s, "ArpOutRequests");
    rh_clear(&h->rh);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, NULL, h->now);
    rh_net_run(h, 10 * MS);
    assert_int_equal(rh_count_icmp(&h->rh, US_ICMP_ECHOREPLY, 0), 1);
    assert_true(rh_mac_eq(&h->rh.dgrams[0].eth_dst, &h->rh.mac));
    assert_int_equal(h->rh.narps, 1);
    const struct rh_arp *p = &h->rh.arps[0];
    assert_int_equal(p->arp.op, US_ARP_OP_REQUEST);
    assert_true(rh_mac_eq(&p->eth_dst, &h->rh.mac)); /* unicast, not broadcast */
    assert_int_equal(p->arp.spa, STACK_IP);
    assert_int_equal(p->arp.tpa, RAW_IP);
    assert_int_equal(ctr(h->s, "ArpOutRequests"), out_req + 1);
    assert_int_equal(h->rh.arp_answered, 1);

    /* Confirmed again: the next use sends no probe. */
    rh_clear(&h->rh);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, NULL, h->now);
    rh_net_run(h, 2 * SEC);
    assert_int_equal(rh_count_icmp(&h->rh, US_ICMP_ECHOREPLY, 0), 1);
    assert_int_equal(h->rh.narps, 0);
}

/* ---------------- ICMP echo and reassembly ---------------- */

static void test_echo_reply_mirrors_request(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t data[100], msg[200];
    fill(data, sizeof(data), 3);
    size_t len = rh_build_echo(msg, US_ICMP_ECHO, 0x1234, 7, data, sizeof(data));
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, NULL, h->now);
    rh_net_run(h, 10 * MS);

    assert_int_equal(h->rh.ndgrams, 1);
    struct us_ipv4_view ip;
    struct us_icmp_view icmp;
    assert_true(rh_icmp(&h->rh, 0, &ip, &icmp));
    assert_int_equal(ip.src, STACK_IP);
    assert_int_equal(ip.dst, RAW_IP);
    assert_int_equal(icmp.type, US_ICMP_ECHOREPLY);
    assert_int_equal(icmp.code, 0);
    assert_int_equal(us_icmp_echo_id(&icmp), 0x1234);
    assert_int_equal(us_icmp_echo_seq(&icmp), 7);
    assert_int_equal(icmp.payload_len, sizeof(data));
    assert_memory_equal(icmp.payload, data, sizeof(data));
    assert_int_equal(ctr(h->s, "IcmpInEchos"), 1);
    assert_int_equal(ctr(h->s, "IcmpOutEchoReps"), 1);
}

#define FRAG_MSG  1024 /* an echo of 1016 bytes, in four 256-byte fragments */
#define FRAG_SIZE 256

static size_t frag_echo(uint8_t *msg, uint16_t seq)
{
    uint8_t data[FRAG_MSG - US_ICMP_HLEN];
    fill(data, sizeof(data), 4);
    return rh_build_echo(msg, US_ICMP_ECHO, 0x4242, seq, data, sizeof(data));
}

static void test_echo_in_reversed_fragments(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t msg[FRAG_MSG];
    size_t len = frag_echo(msg, 1);
    for (int k = FRAG_MSG / FRAG_SIZE - 1; k >= 0; k--)
        rh_send_fragment(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, (size_t)k * FRAG_SIZE,
                         FRAG_SIZE, 0x7777, h->now);
    rh_net_run(h, 10 * MS);

    int i = rh_find_icmp(&h->rh, 0, US_ICMP_ECHOREPLY, 0);
    assert_true(i >= 0);
    struct us_icmp_view icmp;
    assert_true(rh_icmp(&h->rh, (unsigned)i, NULL, &icmp));
    assert_int_equal(us_icmp_echo_id(&icmp), 0x4242);
    assert_int_equal(us_icmp_echo_seq(&icmp), 1);
    assert_int_equal(icmp.payload_len, len - US_ICMP_HLEN);
    assert_memory_equal(icmp.payload, msg + US_ICMP_HLEN, len - US_ICMP_HLEN);
    assert_int_equal(ctr(h->s, "IpReasmReqds"), 4);
    assert_int_equal(ctr(h->s, "IpReasmOKs"), 1);
    assert_int_equal(ctr(h->s, "IpReasmFails"), 0);
}

static void test_first_fragment_alone_times_out_with_icmp(void **state)
{
    struct rh_net *h = *state;
    set_knob(h->s, "net.ipv4.ipfrag_time", "5");
    rh_net_prime(h, STACK_IP);
    uint8_t msg[FRAG_MSG];
    size_t len = frag_echo(msg, 2);
    us_time_ns t0 = h->now;
    rh_send_fragment(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, 0, FRAG_SIZE, 0x7778, h->now);
    uint8_t sent[US_IPV4_HLEN + FRAG_SIZE];
    size_t sent_len = h->rh.last_sent_len;
    memcpy(sent, h->rh.last_sent, sent_len);

    run_until(h, t0 + 5 * SEC - MS);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IpReasmTimeout"), 0);

    run_until(h, t0 + 5 * SEC + 10 * MS);
    assert_int_equal(h->rh.ndgrams, 1);
    int i = rh_find_icmp(&h->rh, 0, US_ICMP_TIME_EXCEEDED, US_ICMP_EXC_FRAGTIME);
    assert_quotes(h, i, sent, sent_len);
    assert_true(h->rh.dgrams[i].at >= t0 + 5 * SEC);
    assert_int_equal(ctr(h->s, "IpReasmTimeout"), 1);
    assert_int_equal(ctr(h->s, "IpReasmFails"), 1);
    assert_int_equal(ctr(h->s, "IcmpOutTimeExcds"), 1);
}

static void test_later_fragment_alone_times_out_silently(void **state)
{
    struct rh_net *h = *state;
    assert_int_equal(knob(h, "net.ipv4.ipfrag_time"), 30);
    h->rh.step = 10 * MS;
    rh_net_prime(h, STACK_IP);
    uint8_t msg[FRAG_MSG];
    size_t len = frag_echo(msg, 3);
    us_time_ns t0 = h->now;
    rh_send_fragment(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, FRAG_SIZE, FRAG_SIZE, 0x7779,
                     h->now);
    run_until(h, t0 + 30 * SEC - 10 * MS);
    assert_int_equal(ctr(h->s, "IpReasmTimeout"), 0);
    run_until(h, t0 + 31 * SEC);
    assert_int_equal(ctr(h->s, "IpReasmTimeout"), 1);
    assert_int_equal(ctr(h->s, "IpReasmFails"), 1);
    assert_int_equal(h->rh.ndgrams, 0); /* RFC 792: no fragment 0, nothing to quote */
    assert_int_equal(ctr(h->s, "IcmpOutMsgs"), 0);
}

static void test_overlapping_fragments_get_no_reply(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t msg[FRAG_MSG];
    size_t len = frag_echo(msg, 4);
    rh_send_fragment(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, 0, FRAG_SIZE, 0x777a, h->now);
    /* [248, 504) overlaps [0, 256) by 8 bytes. */
    rh_send_fragment(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, FRAG_SIZE - 8, FRAG_SIZE, 0x777a,
                     h->now);
    rh_send_fragment(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, 2 * FRAG_SIZE - 8,
                     len - (2 * FRAG_SIZE - 8), 0x777a, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IpReasmFails"), 1);
    assert_int_equal(ctr(h->s, "IpExtReasmOverlaps"), 1);
    assert_int_equal(ctr(h->s, "IpReasmOKs"), 0);
    assert_int_equal(ctr(h->s, "IcmpInEchos"), 0);
}

static void test_echo_ignore_all(void **state)
{
    struct rh_net *h = *state;
    set_knob(h->s, "net.ipv4.icmp_echo_ignore_all", "1");
    rh_net_prime(h, STACK_IP);
    uint8_t msg[64];
    size_t len = rh_build_echo(msg, US_ICMP_ECHO, 5, 5, "hello", 5);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, len, NULL, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IcmpInEchos"), 1);
    assert_int_equal(ctr(h->s, "IcmpOutEchoReps"), 0);
}

/* ---------------- errors ---------------- */

static size_t udp_to(struct rh_net *h, uint8_t *buf, us_ip4 dst, uint16_t dport, size_t n)
{
    uint8_t data[512];
    fill(data, n, 5);
    return rh_build_udp(buf, 40000, dport, RAW_IP, dst, data, n);
}

static void test_udp_closed_port_unreachable(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t seg[200];
    size_t len = udp_to(h, seg, STACK_IP, 9, 100);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, NULL, h->now);
    rh_net_run(h, 10 * MS);
    assert_int_equal(h->rh.ndgrams, 1);
    int i = rh_find_icmp(&h->rh, 0, US_ICMP_DEST_UNREACH, US_ICMP_PORT_UNREACH);
    assert_quotes(h, i, h->rh.last_sent, h->rh.last_sent_len);
    struct us_icmp_view icmp;
    assert_true(rh_icmp(&h->rh, (unsigned)i, NULL, &icmp));
    assert_int_equal(icmp.rest, 0);
    assert_int_equal(ctr(h->s, "UdpNoPorts"), 1);
    assert_int_equal(ctr(h->s, "IcmpOutDestUnreachs"), 1);
}

static void test_unknown_protocol_unreachable(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t body[40];
    fill(body, sizeof(body), 6);
    rh_send_ip(&h->rh, STACK_IP, 253, body, sizeof(body), NULL, h->now);
    rh_net_run(h, 10 * MS);
    assert_int_equal(h->rh.ndgrams, 1);
    int i = rh_find_icmp(&h->rh, 0, US_ICMP_DEST_UNREACH, US_ICMP_PROT_UNREACH);
    assert_quotes(h, i, h->rh.last_sent, h->rh.last_sent_len);
    assert_int_equal(ctr(h->s, "IpInUnknownProtos"), 1);
}

static void test_tcp_syn_to_any_port_is_reset(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    /* SEG.SEQ at the top of the sequence space: the ACK wraps to 0. */
    struct us_tcp_repr syn = {
        .sport = 40001, .dport = 80, .seq = 0xffffffffu, .flags = US_TCP_SYN, .window = 65535};
    syn.opts.mss_present = true;
    syn.opts.mss = 1460;
    uint8_t seg[64];
    size_t len = rh_build_tcp(seg, &syn, RAW_IP, STACK_IP);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_TCP, seg, len, NULL, h->now);
    rh_net_run(h, 10 * MS);

    assert_int_equal(h->rh.ndgrams, 1);
    struct us_ipv4_view ip;
    rh_ip(&h->rh.dgrams[0], &ip);
    assert_int_equal(ip.proto, US_IPPROTO_TCP);
    assert_int_equal(ip.src, STACK_IP);
    struct us_tcp_view tcp;
    assert_int_equal(us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, 0, &tcp), 0);
    assert_int_equal(tcp.flags, US_TCP_RST | US_TCP_ACK);
    assert_int_equal(tcp.sport, 80);
    assert_int_equal(tcp.dport, 40001);
    assert_int_equal(tcp.seq, 0);
    assert_int_equal(tcp.ack, 0); /* SEG.SEQ + 1, modulo 2^32 */
    assert_int_equal(tcp.payload_len, 0);
    assert_int_equal(ctr(h->s, "TcpOutRsts"), 1);
    assert_int_equal(ctr(h->s, "TcpInSegs"), 1);
}

static void test_udp_bad_checksum_dropped_silently(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t seg[200];
    size_t len = udp_to(h, seg, STACK_IP, 9, 60);
    seg[7] ^= 0x01; /* the checksum's low byte: still not 0 ("none") */
    assert_false(seg[6] == 0 && seg[7] == 0);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, NULL, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "UdpInCsumErrors"), 1);
    assert_int_equal(ctr(h->s, "UdpInErrors"), 1);
    assert_int_equal(ctr(h->s, "UdpNoPorts"), 0);
}

static void test_bad_ip_header_checksum(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t seg[200];
    size_t len = udp_to(h, seg, STACK_IP, 9, 60);
    struct rh_ip_opts o = {.bad_csum = true};
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, &o, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IpInReceives"), 1);
    assert_int_equal(ctr(h->s, "IpInHdrErrors"), 1);
    assert_int_equal(ctr(h->s, "IpExtInCsumErrors"), 1);
    assert_int_equal(ctr(h->s, "IpInDelivers"), 0);
}

static void test_truncated_by_link(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t seg[200];
    size_t len = udp_to(h, seg, STACK_IP, 9, 100);
    struct rh_ip_opts o = {.truncate = 20}; /* total length says 128, the frame holds 108 */
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, &o, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IpExtInTruncatedPkts"), 1);
    assert_int_equal(ctr(h->s, "IpInDelivers"), 0);
    assert_int_equal(ctr(h->s, "UdpNoPorts"), 0);
}

static void test_datagram_for_another_ip(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    assert_int_equal(knob(h, "net.ipv4.ip_forward"), 0);
    uint8_t seg[200];
    const us_ip4 other = US_IP4(192, 0, 2, 50);
    size_t len = udp_to(h, seg, other, 9, 20);
    rh_send_ip(&h->rh, other, US_IPPROTO_UDP, seg, len, NULL, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IpInAddrErrors"), 1);
    assert_int_equal(ctr(h->s, "IpForwDatagrams"), 0);
    assert_int_equal(ctr(h->s, "UdpNoPorts"), 0);
}

static void test_frame_for_another_mac(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint64_t in_receives = ctr(h->s, "IpInReceives");
    uint8_t seg[200];
    size_t len = udp_to(h, seg, STACK_IP, 9, 20);
    const struct us_mac someone = {{0x02, 0, 0, 0, 0x99, 0x99}};
    struct rh_ip_opts o = {.eth_dst = &someone};
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, &o, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "LinkInOtherHost"), 1);
    assert_int_equal(ctr(h->s, "IpInReceives"), in_receives);
}

static void test_no_icmp_error_about_broadcasts(void **state)
{
    struct rh_net *h = *state;
    rh_net_prime(h, STACK_IP);
    uint8_t seg[200], body[40];
    fill(body, sizeof(body), 7);
    struct rh_ip_opts bc = {.eth_dst = &mac_bcast};
    const us_ip4 subnet_bcast = US_IP4(192, 0, 2, 255);

    size_t len = udp_to(h, seg, subnet_bcast, 9, 20);
    rh_send_ip(&h->rh, subnet_bcast, US_IPPROTO_UDP, seg, len, &bc, h->now);
    len = udp_to(h, seg, US_IP4_BROADCAST, 9, 20);
    rh_send_ip(&h->rh, US_IP4_BROADCAST, US_IPPROTO_UDP, seg, len, &bc, h->now);
    rh_send_ip(&h->rh, subnet_bcast, 253, body, sizeof(body), &bc, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IpExtInBcastPkts"), 3);
    assert_int_equal(ctr(h->s, "IcmpOutMsgs"), 0);

    /* RFC 1122 §3.2.2: nor about a datagram that came as a link-layer
     * broadcast, whatever its IP destination (Linux: pkt_type != PACKET_HOST). */
    len = udp_to(h, seg, STACK_IP, 9, 20);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, &bc, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IcmpOutMsgs"), 0);
}

static void test_no_icmp_error_about_icmp_error(void **state)
{
    struct rh_net *h = *state;
    set_knob(h->s, "net.ipv4.ipfrag_time", "5");
    rh_net_prime(h, STACK_IP);
    /* Fragment 0 of an ICMP destination unreachable whose other fragments
     * never come: reassembly times out, but the datagram is an ICMP error,
     * so no time exceeded is sent about it (RFC 1122 §3.2.2). */
    uint8_t msg[FRAG_MSG];
    memset(msg, 0, sizeof(msg));
    fill(msg + US_ICMP_HLEN, FRAG_MSG - US_ICMP_HLEN, 8);
    us_icmp_emit(msg, FRAG_MSG, US_ICMP_DEST_UNREACH, US_ICMP_PORT_UNREACH, 0);
    rh_send_fragment(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, FRAG_MSG, 0, FRAG_SIZE, 0x5151,
                     h->now);
    rh_net_run(h, 6 * SEC);
    assert_int_equal(ctr(h->s, "IpReasmTimeout"), 1);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IcmpOutMsgs"), 0);

    /* A whole ICMP error for us is delivered, and answered with nothing. */
    us_icmp_emit(msg, 64, US_ICMP_DEST_UNREACH, US_ICMP_PORT_UNREACH, 0);
    rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_ICMP, msg, 64, NULL, h->now);
    rh_net_run(h, SEC);
    assert_int_equal(ctr(h->s, "IcmpInDestUnreachs"), 1);
    assert_int_equal(h->rh.ndgrams, 0);
    assert_int_equal(ctr(h->s, "IcmpOutMsgs"), 0);
}

static void test_icmp_errors_rate_limited(void **state)
{
    struct rh_net *h = *state;
    long burst = knob(h, "net.ipv4.icmp_msgs_burst");
    assert_int_equal(burst, 50);
    rh_net_prime(h, STACK_IP);
    uint8_t seg[64];
    size_t len = udp_to(h, seg, STACK_IP, 9, 8);
    const unsigned n = 200;
    for (unsigned i = 0; i < n; i++)
        rh_send_ip(&h->rh, STACK_IP, US_IPPROTO_UDP, seg, len, NULL, h->now);
    rh_net_run(h, 10 * MS);
    assert_int_equal(ctr(h->s, "UdpNoPorts"), n);
    assert_int_equal(rh_count_icmp(&h->rh, US_ICMP_DEST_UNREACH, US_ICMP_PORT_UNREACH),
                     (unsigned)burst);
    assert_int_equal(h->rh.ndgrams, (unsigned)burst);
    assert_int_equal(ctr(h->s, "IcmpOutRateLimited"), n - (unsigned)burst);
    assert_int_equal(ctr(h->s, "IcmpOutDestUnreachs"), (uint64_t)burst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arp_gratuitous_at_iface_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_reply_only_for_own_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_unanswered_gives_up_after_mcast_solicit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_arp_pending_queue_bounded_by_unres_qlen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_arp_stale_entry_sends_unicast_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_reply_mirrors_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_in_reversed_fragments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_fragment_alone_times_out_with_icmp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_later_fragment_alone_times_out_silently, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_overlapping_fragments_get_no_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_ignore_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_closed_port_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_protocol_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_syn_to_any_port_is_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_bad_checksum_dropped_silently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ip_header_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_by_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datagram_for_another_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_for_another_mac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_icmp_error_about_broadcasts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_icmp_error_about_icmp_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icmp_errors_rate_limited, setup, teardown),
    };
    return cmocka_run_group_tests_name("sim_host", tests, NULL, NULL);
}
