/* Software offloads (ustack/gso.h) on hand-built frames: a TCP/IPv4
 * super-frame cut into segments as a TSO device would (headers, flags,
 * checksums, payload), its refusals (not TCP, not a super-frame, out of
 * buffers) leaving the frame as it was; IP options repeated in every
 * segment of a bare datagram; a partial checksum completed for
 * TCP and UDP as a full software checksum would be; the segment count and
 * largest segment of a super-frame. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "ustack/checksum.h"
#include "ustack/gso.h"
#include "ustack/wire.h"
#include "wire/be.h"

#define SRC     US_IP4(192, 0, 2, 1)
#define DST     US_IP4(192, 0, 2, 2)
#define SEQ0    0xfffff000u /* wraps inside the super-frame */
#define IP_ID0  0xfffe      /* and so does the identification */
#define GSO     1000u
#define PAYLOAD 3400u /* three full segments and a 400-byte tail */
#define BIG     (65536 + 2 * US_PKT_HEADROOM)

static uint8_t payload_byte(uint32_t i)
{
    return (uint8_t)(i * 31 + (i >> 7));
}

/* An Ethernet frame holding TCP/IPv4 with timestamp and SACK options,
 * flags, and payload_len bytes of payload, its checksum left partial as
 * TCP leaves it for a device with TX_CSUM; a super-frame of gso-byte
 * segments if gso is not 0. */
static struct us_pkt *tcp_frame(struct us_pkt_pool *pool, uint8_t flags, uint32_t payload_len,
                                uint16_t gso)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    struct us_tcp_repr r = {.sport = 40000,
                            .dport = 80,
                            .seq = SEQ0,
                            .ack = 12345,
                            .flags = flags,
                            .window = 5000,
                            .csum_partial = true};
    r.opts.ts_present = true;
    r.opts.tsval = 111;
    r.opts.tsecr = 222;
    r.opts.sack_count = 1;
    r.opts.sack[0] = (struct us_tcp_sack_block){12345 + 5000, 12345 + 6000};
    uint32_t thl = US_TCP_HLEN + (uint32_t)us_tcp_opts_len(&r.opts);
    uint32_t ip_len = US_IPV4_HLEN + thl + payload_len;
    uint8_t *d = us_pkt_put(p, US_ETH_HLEN + ip_len);
    assert_non_null(d);
    struct us_mac a = {{2, 0, 0, 0, 0, 1}}, b = {{2, 0, 0, 0, 0, 2}};
    us_eth_emit(d, &b, &a, US_ETH_TYPE_IPV4);
    struct us_ipv4_repr ip = {.total_len = (uint16_t)ip_len,
                              .id = IP_ID0,
                              .df = true,
                              .ttl = 64,
                              .proto = US_IPPROTO_TCP,
                              .src = SRC,
                              .dst = DST};
    us_ipv4_emit(d + US_ETH_HLEN, &ip);
    uint8_t *th = d + US_ETH_HLEN + US_IPV4_HLEN;
    for (uint32_t i = 0; i < payload_len; i++)
        th[thl + i] = payload_byte(i);
    assert_int_equal(us_tcp_emit(th, thl + payload_len, &r, SRC, DST), thl);
    p->offload = US_PKT_CSUM_PARTIAL;
    p->gso_size = gso;
    return p;
}

/* The frame's TCP header length. */
static uint32_t thl_of(const struct us_pkt *p)
{
    return (uint32_t)(p->data[US_ETH_HLEN + US_IPV4_HLEN + 12] >> 4) * 4u;
}

static void test_segment_super_frame(void **state)
{
    (void)state;
    struct us_pkt_pool *large = us_pkt_pool_new(2, BIG);
    struct us_pkt_pool *pool = us_pkt_pool_new(16, 2048);
    uint8_t flags = US_TCP_ACK | US_TCP_PSH | US_TCP_FIN | US_TCP_CWR;
    struct us_pkt *p = tcp_frame(large, flags, PAYLOAD, GSO);
    uint32_t thl = thl_of(p);
    assert_true(thl > US_TCP_HLEN); /* the options are there */
    assert_int_equal(us_gso_segs(p, US_ETH_HLEN), 4);
    assert_int_equal(us_gso_network_seglen(p, US_ETH_HLEN), US_IPV4_HLEN + thl + GSO);

    struct us_pkt_queue out = {0};
    assert_int_equal(us_gso_segment(p, US_ETH_HLEN, pool, large, &out), 4);
    assert_int_equal(out.count, 4);
    assert_int_equal(us_pkt_pool_available(large), 2); /* the super-frame was freed */

    static uint8_t joined[PAYLOAD];
    uint32_t at = 0, i = 0;
    for (struct us_pkt *s = out.head; s; s = s->next, i++) {
        bool first = i == 0, last = s->next == NULL;
        uint32_t want = last ? PAYLOAD - 3 * GSO : GSO;
        assert_int_equal(s->gso_size, 0);
        assert_false(s->offload & US_PKT_CSUM_PARTIAL);
        assert_int_equal(s->len, US_ETH_HLEN + US_IPV4_HLEN + thl + want);
        /* The Ethernet header is repeated. */
        assert_int_equal(be16_load(s->data + 12), US_ETH_TYPE_IPV4);

        const uint8_t *iph = s->data + US_ETH_HLEN;
        assert_int_equal(be16_load(iph + 2), US_IPV4_HLEN + thl + want);
        assert_int_equal(be16_load(iph + 4), (uint16_t)(IP_ID0 + i));
        assert_int_equal(us_inet_csum(iph, US_IPV4_HLEN), 0);
        struct us_ipv4_view ip;
        assert_int_equal(us_ipv4_parse(iph, s->len - US_ETH_HLEN, &ip), 0);
        assert_true(ip.df);

        struct us_tcp_view tcp;
        /* flags 0: the checksum is checked, in full. */
        assert_int_equal(us_tcp_parse(ip.payload, ip.payload_len, SRC, DST, 0, &tcp), 0);
        assert_int_equal(tcp.seq, SEQ0 + i * GSO);
        assert_int_equal(tcp.ack, 12345);
        assert_int_equal(tcp.window, 5000);
        assert_int_equal(tcp.hdr_len, thl);
        assert_true(tcp.opts.ts_present);
        assert_int_equal(tcp.opts.tsval, 111);
        assert_int_equal(tcp.opts.tsecr, 222);
        assert_int_equal(tcp.opts.sack_count, 1);
        assert_int_equal(!!(tcp.flags & US_TCP_CWR), first);
        assert_int_equal(!!(tcp.flags & US_TCP_FIN), last);
        assert_int_equal(!!(tcp.flags & US_TCP_PSH), last);
        assert_true(tcp.flags & US_TCP_ACK);
        assert_int_equal(tcp.payload_len, want);
        memcpy(joined + at, tcp.payload, want);
        at += want;
    }
    assert_int_equal(at, PAYLOAD);
    for (uint32_t k = 0; k < PAYLOAD; k++)
        if (joined[k] != payload_byte(k))
            fail_msg("payload byte %u differs", k);
    us_pkt_queue_purge(&out);
    assert_int_equal(us_pkt_pool_available(pool), 16);
    us_pkt_pool_free(pool);
    us_pkt_pool_free(large);
}

/* A payload that is a whole number of segments: no short tail. */
static void test_segment_exact_multiple(void **state)
{
    (void)state;
    struct us_pkt_pool *large = us_pkt_pool_new(1, BIG);
    struct us_pkt_pool *pool = us_pkt_pool_new(8, 2048);
    struct us_pkt *p = tcp_frame(large, US_TCP_ACK, 3 * GSO, GSO);
    assert_int_equal(us_gso_segs(p, US_ETH_HLEN), 3);
    struct us_pkt_queue out = {0};
    assert_int_equal(us_gso_segment(p, US_ETH_HLEN, pool, large, &out), 3);
    for (struct us_pkt *s = out.head; s; s = s->next)
        assert_int_equal(s->len, US_ETH_HLEN + US_IPV4_HLEN + thl_of(s) + GSO);
    us_pkt_queue_purge(&out);
    us_pkt_pool_free(pool);
    us_pkt_pool_free(large);
}

/* Segments too large for the small pool come from the large one (a
 * super-frame of jumbo segments). */
static void test_segment_large_pieces(void **state)
{
    (void)state;
    struct us_pkt_pool *large = us_pkt_pool_new(4, BIG);
    struct us_pkt_pool *pool = us_pkt_pool_new(8, 2048);
    struct us_pkt *p = tcp_frame(large, US_TCP_ACK, 20000, 8948);
    struct us_pkt_queue out = {0};
    assert_int_equal(us_gso_segment(p, US_ETH_HLEN, pool, large, &out), 3);
    assert_int_equal(us_pkt_pool_available(pool), 8);
    assert_int_equal(us_pkt_pool_available(large), 1);
    /* Without a large pool, they do not fit: -ENOMEM. */
    us_pkt_queue_purge(&out);
    p = tcp_frame(large, US_TCP_ACK, 20000, 8948);
    assert_int_equal(us_gso_segment(p, US_ETH_HLEN, pool, NULL, &out), -ENOMEM);
    us_pkt_free(p);
    us_pkt_pool_free(pool);
    us_pkt_pool_free(large);
}

/* A bare datagram (l3_off 0) with IP options: every segment repeats them,
 * its header checksum covering them. */
static void test_segment_ip_options_bare(void **state)
{
    (void)state;
    struct us_pkt_pool *large = us_pkt_pool_new(1, BIG);
    struct us_pkt_pool *pool = us_pkt_pool_new(8, 2048);
    struct us_pkt *p = us_pkt_alloc(large);
    const uint8_t ra[US_IPOPT_RA_LEN] = {148, 4, 0, 0}; /* Router Alert (RFC 2113) */
    uint32_t ihl = US_IPV4_HLEN + sizeof(ra), plen = 2500;
    uint8_t *d = us_pkt_put(p, ihl + US_TCP_HLEN + plen);
    struct us_ipv4_repr ip = {.total_len = (uint16_t)(ihl + US_TCP_HLEN + plen),
                              .id = 9,
                              .df = true,
                              .ttl = 64,
                              .proto = US_IPPROTO_TCP,
                              .src = SRC,
                              .dst = DST};
    us_ipv4_emit_opts(d, &ip, ra, sizeof(ra));
    for (uint32_t i = 0; i < plen; i++)
        d[ihl + US_TCP_HLEN + i] = payload_byte(i);
    struct us_tcp_repr r = {.sport = 1, .dport = 2, .seq = 100, .flags = US_TCP_ACK};
    us_tcp_emit(d + ihl, US_TCP_HLEN + plen, &r, SRC, DST);
    p->gso_size = 1000;
    p->offload = US_PKT_CSUM_VALID;
    assert_int_equal(us_gso_segs(p, 0), 3);
    assert_int_equal(us_gso_network_seglen(p, 0), ihl + US_TCP_HLEN + 1000);
    struct us_pkt_queue out = {0};
    assert_int_equal(us_gso_segment(p, 0, pool, large, &out), 3);
    uint32_t i = 0, at = 0;
    for (struct us_pkt *s = out.head; s; s = s->next, i++) {
        uint32_t want = i < 2 ? 1000 : 500;
        assert_int_equal(s->len, ihl + US_TCP_HLEN + want);
        assert_int_equal(s->data[0] & 15, ihl / 4);
        assert_memory_equal(s->data + US_IPV4_HLEN, ra, sizeof(ra));
        assert_int_equal(be16_load(s->data + 4), 9 + i);
        assert_int_equal(us_inet_csum(s->data, ihl), 0);
        struct us_ipv4_view v;
        struct us_tcp_view t;
        assert_int_equal(us_ipv4_parse(s->data, s->len, &v), 0);
        assert_int_equal(us_tcp_parse(v.payload, v.payload_len, SRC, DST, 0, &t), 0);
        assert_int_equal(t.seq, 100 + at);
        for (uint32_t k = 0; k < want; k++)
            assert_int_equal(t.payload[k], payload_byte(at + k));
        at += want;
    }
    us_pkt_queue_purge(&out);
    us_pkt_pool_free(pool);
    us_pkt_pool_free(large);
}

static void test_segment_refusals_leave_frame(void **state)
{
    (void)state;
    struct us_pkt_pool *large = us_pkt_pool_new(2, BIG);
    struct us_pkt_pool *tiny = us_pkt_pool_new(2, 2048);
    struct us_pkt_queue out = {0};

    /* Not a super-frame. */
    struct us_pkt *p = tcp_frame(large, US_TCP_ACK, PAYLOAD, 0);
    assert_int_equal(us_gso_segment(p, US_ETH_HLEN, tiny, large, &out), -EINVAL);
    assert_int_equal(out.count, 0);
    us_pkt_free(p);

    /* Not TCP: the same frame calling itself UDP. */
    p = tcp_frame(large, US_TCP_ACK, PAYLOAD, GSO);
    uint8_t *iph = p->data + US_ETH_HLEN;
    iph[9] = US_IPPROTO_UDP;
    be16_store(iph + 10, 0);
    be16_store(iph + 10, us_inet_csum(iph, US_IPV4_HLEN));
    assert_int_equal(us_gso_segment(p, US_ETH_HLEN, tiny, large, &out), -EINVAL);
    assert_int_equal(out.count, 0);
    us_pkt_free(p);

    /* Out of buffers: four segments, two buffers. The frame is as it was,
     * nothing was appended, and the buffers taken are given back. */
    p = tcp_frame(large, US_TCP_ACK | US_TCP_FIN, PAYLOAD, GSO);
    static uint8_t before[US_ETH_HLEN + 200 + PAYLOAD];
    uint32_t len = p->len;
    memcpy(before, p->data, len);
    struct us_pkt *keep = us_pkt_alloc(tiny); /* something already queued in out */
    assert_non_null(keep);
    us_pkt_queue_push(&out, keep);
    assert_int_equal(us_gso_segment(p, US_ETH_HLEN, tiny, NULL, &out), -ENOMEM);
    assert_int_equal(out.count, 1);
    assert_ptr_equal(out.head, keep);
    assert_int_equal(p->len, len);
    assert_memory_equal(p->data, before, len);
    assert_int_equal(p->gso_size, GSO);
    assert_int_equal(p->offload, US_PKT_CSUM_PARTIAL);
    assert_int_equal(us_pkt_pool_available(tiny), 1);
    assert_int_equal(us_pkt_pool_available(large), 1); /* p is still held */
    us_pkt_queue_purge(&out);
    us_pkt_free(p);
    assert_int_equal(us_pkt_pool_available(tiny), 2);
    assert_int_equal(us_pkt_pool_available(large), 2);
    us_pkt_pool_free(tiny);
    us_pkt_pool_free(large);
}

/* A TCP packet with a partial checksum completed: the same field as the
 * full software checksum, which us_tcp_parse then accepts. */
static void test_csum_finish_tcp(void **state)
{
    (void)state;
    struct us_pkt_pool *pool = us_pkt_pool_new(4, 4096);
    for (uint32_t plen = 0; plen < 1461; plen += 487) { /* even and odd lengths */
        struct us_pkt *p = tcp_frame(pool, US_TCP_ACK | US_TCP_PSH, plen, 0);
        uint8_t *th = p->data + US_ETH_HLEN + US_IPV4_HLEN;
        uint32_t l4_len = p->len - US_ETH_HLEN - US_IPV4_HLEN;
        /* The full checksum, computed over a copy from scratch. */
        static uint8_t copy[4096];
        memcpy(copy, th, l4_len);
        be16_store(copy + 16, 0);
        uint32_t sum = us_csum_pseudo(SRC, DST, US_IPPROTO_TCP, (uint16_t)l4_len);
        uint16_t want = (uint16_t)~us_csum_fold(us_csum_partial(copy, l4_len, sum));

        struct us_tcp_view tcp;
        assert_int_equal(us_tcp_parse(th, l4_len, SRC, DST, 0, &tcp), US_WIRE_BAD_CSUM);
        assert_int_equal(us_pkt_csum_finish(p, US_ETH_HLEN), 0);
        assert_int_equal(be16_load(th + 16), want);
        assert_int_equal(p->offload & US_PKT_CSUM_PARTIAL, 0);
        assert_int_equal(us_tcp_parse(th, l4_len, SRC, DST, 0, &tcp), 0);
        assert_int_equal(tcp.payload_len, plen);
        /* Done once: a second call has nothing to complete. */
        assert_int_equal(us_pkt_csum_finish(p, US_ETH_HLEN), -EINVAL);
        us_pkt_free(p);
    }
    /* A super-frame must be cut first. */
    struct us_pkt_pool *large = us_pkt_pool_new(1, BIG);
    struct us_pkt *p = tcp_frame(large, US_TCP_ACK, PAYLOAD, GSO);
    assert_int_equal(us_pkt_csum_finish(p, US_ETH_HLEN), -EINVAL);
    assert_int_equal(p->offload, US_PKT_CSUM_PARTIAL);
    us_pkt_free(p);
    us_pkt_pool_free(large);
    us_pkt_pool_free(pool);
}

/* A bare UDP datagram (l3_off 0) with a partial checksum: completed as
 * us_udp_emit computes it, and a sum of 0 sent as 0xFFFF (RFC 768). */
static void udp_datagram(struct us_pkt *p, const uint8_t *payload, uint32_t plen)
{
    uint32_t udp_len = US_UDP_HLEN + plen;
    uint8_t *d = us_pkt_put(p, US_IPV4_HLEN + udp_len);
    assert_non_null(d);
    struct us_ipv4_repr ip = {.total_len = (uint16_t)(US_IPV4_HLEN + udp_len),
                              .id = 7,
                              .ttl = 64,
                              .proto = US_IPPROTO_UDP,
                              .src = SRC,
                              .dst = DST};
    us_ipv4_emit(d, &ip);
    uint8_t *u = d + US_IPV4_HLEN;
    be16_store(u, 5353);
    be16_store(u + 2, 53);
    be16_store(u + 4, (uint16_t)udp_len);
    memcpy(u + US_UDP_HLEN, payload, plen);
    be16_store(u + 6, us_csum_fold(us_csum_pseudo(SRC, DST, US_IPPROTO_UDP, (uint16_t)udp_len)));
    p->offload = US_PKT_CSUM_PARTIAL;
}

static void test_csum_finish_udp(void **state)
{
    (void)state;
    struct us_pkt_pool *pool = us_pkt_pool_new(2, 4096);
    uint8_t payload[101];
    for (uint32_t i = 0; i < sizeof(payload); i++)
        payload[i] = payload_byte(i + 5);
    /* The software checksum of the same datagram. */
    uint8_t soft[US_UDP_HLEN + sizeof(payload)];
    memcpy(soft + US_UDP_HLEN, payload, sizeof(payload));
    us_udp_emit(soft, sizeof(soft), 5353, 53, SRC, DST);

    struct us_pkt *p = us_pkt_alloc(pool);
    udp_datagram(p, payload, sizeof(payload));
    assert_int_equal(us_pkt_csum_finish(p, 0), 0);
    uint8_t *u = p->data + US_IPV4_HLEN;
    assert_int_equal(be16_load(u + 6), be16_load(soft + 6));
    struct us_udp_view v;
    assert_int_equal(us_udp_parse(u, sizeof(soft), SRC, DST, 0, &v), 0);
    us_pkt_free(p);

    /* Two payload bytes chosen so the sum is 0xFFFF: the checksum
     * computes to 0, which must go out as 0xFFFF. */
    uint8_t zero[8] = {1, 2, 3, 4, 0, 0, 0, 0};
    uint32_t udp_len = US_UDP_HLEN + sizeof(zero);
    uint8_t seg[US_UDP_HLEN + sizeof(zero)] = {0};
    be16_store(seg, 5353);
    be16_store(seg + 2, 53);
    be16_store(seg + 4, (uint16_t)udp_len);
    memcpy(seg + US_UDP_HLEN, zero, sizeof(zero));
    uint32_t sum = us_csum_pseudo(SRC, DST, US_IPPROTO_UDP, (uint16_t)udp_len);
    uint16_t c = (uint16_t)~us_csum_fold(us_csum_partial(seg, udp_len, sum));
    be16_store(zero + 6, c);
    memcpy(seg + US_UDP_HLEN, zero, sizeof(zero));
    assert_int_equal(us_csum_fold(us_csum_partial(seg, udp_len, sum)), 0xFFFF);
    p = us_pkt_alloc(pool);
    udp_datagram(p, zero, sizeof(zero));
    assert_int_equal(us_pkt_csum_finish(p, 0), 0);
    u = p->data + US_IPV4_HLEN;
    assert_int_equal(be16_load(u + 6), 0xFFFF);
    assert_int_equal(us_udp_parse(u, udp_len, SRC, DST, 0, &v), 0);
    us_udp_emit(seg, udp_len, 5353, 53, SRC, DST);
    assert_int_equal(be16_load(seg + 6), 0xFFFF); /* as the software path sends it */
    us_pkt_free(p);

    /* Not marked partial, or not TCP/UDP: nothing to do. */
    p = us_pkt_alloc(pool);
    udp_datagram(p, payload, sizeof(payload));
    p->offload = 0;
    assert_int_equal(us_pkt_csum_finish(p, 0), -EINVAL);
    p->offload = US_PKT_CSUM_PARTIAL;
    p->data[9] = US_IPPROTO_ICMP;
    assert_int_equal(us_pkt_csum_finish(p, 0), -EINVAL);
    us_pkt_free(p);
    us_pkt_pool_free(pool);
}

/* us_gso_segs and us_gso_network_seglen, with the IPv4 header at 0 and
 * at the Ethernet offset. */
static void test_segs_and_seglen(void **state)
{
    (void)state;
    struct us_pkt_pool *large = us_pkt_pool_new(1, BIG);
    struct us_pkt *p = tcp_frame(large, US_TCP_ACK, 60000, 1448);
    uint32_t thl = thl_of(p);
    assert_int_equal(us_gso_segs(p, US_ETH_HLEN), (60000 + 1447) / 1448);
    assert_int_equal(us_gso_network_seglen(p, US_ETH_HLEN), US_IPV4_HLEN + thl + 1448);
    us_pkt_pull(p, US_ETH_HLEN); /* a bare datagram */
    assert_int_equal(us_gso_segs(p, 0), 42);
    assert_int_equal(us_gso_network_seglen(p, 0), US_IPV4_HLEN + thl + 1448);
    /* A super-frame whose payload is less than one segment. */
    p->gso_size = 65000;
    assert_int_equal(us_gso_segs(p, 0), 1);
    assert_int_equal(us_gso_network_seglen(p, 0), p->len);
    /* An ordinary packet: one segment, its own length. */
    p->gso_size = 0;
    assert_int_equal(us_gso_segs(p, 0), 1);
    assert_int_equal(us_gso_network_seglen(p, 0), p->len);
    us_pkt_free(p);
    /* A super-frame with no payload (a pure ACK marked by mistake). */
    p = tcp_frame(large, US_TCP_ACK, 0, 1448);
    assert_int_equal(us_gso_segs(p, US_ETH_HLEN), 1);
    us_pkt_free(p);
    us_pkt_pool_free(large);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_super_frame),
        cmocka_unit_test(test_segment_exact_multiple),
        cmocka_unit_test(test_segment_large_pieces),
        cmocka_unit_test(test_segment_ip_options_bare),
        cmocka_unit_test(test_segment_refusals_leave_frame),
        cmocka_unit_test(test_csum_finish_tcp),
        cmocka_unit_test(test_csum_finish_udp),
        cmocka_unit_test(test_segs_and_seglen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
