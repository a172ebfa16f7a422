/* IPv4 reassembly and fragmentation: orders, duplicates, overlaps, timeouts,
 * the memory bound, the 65535-byte limit, and fragment/reassemble round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "core/random.h"
#include "net/frag.h"
#include "ustack/checksum.h"

/* Linux's defaults: net.ipv4.ipfrag_time, ipfrag_high_thresh, ipfrag_low_thresh. */
static const struct us_frag_params params = {
    .timeout = 30 * US_NS_PER_SEC,
    .high_thresh = 4194304,
    .low_thresh = 3145728,
};

#define FRAME_BUF 2048                      /* a frame pool's buffer */
#define LARGE_BUF (65536 + US_PKT_HEADROOM) /* a whole-datagram buffer */
#define SRC       US_IP4(192, 0, 2, 1)
#define DST       US_IP4(198, 51, 100, 7)
#define T0        (1000 * US_NS_PER_SEC)

struct fixture {
    struct us_pkt_pool *frames, *large;
    struct us_frag_table *t;
    struct us_mib mib;
    uint8_t data[65536];
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f.mib, 0, sizeof(f.mib));
    f.frames = us_pkt_pool_new(4096, FRAME_BUF);
    f.large = us_pkt_pool_new(4, LARGE_BUF);
    f.t = us_frag_table_new(0x0123456789abcdefull, 4096);
    struct us_rng rng;
    us_rng_seed(&rng, 42);
    for (size_t i = 0; i < sizeof(f.data); i++)
        f.data[i] = (uint8_t)us_rng_next(&rng);
    *state = &f;
    return f.frames && f.large && f.t ? 0 : -1;
}

/* Every test leaves nothing behind: no queue, no charge, every buffer back. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    int leaked = us_frag_queue_count(f->t) != 0 || us_frag_mem(f->t) != 0 ||
                 us_pkt_pool_available(f->frames) != us_pkt_pool_count(f->frames) ||
                 us_pkt_pool_available(f->large) != us_pkt_pool_count(f->large);
    us_frag_table_free(f->t);
    us_pkt_pool_free(f->frames);
    us_pkt_pool_free(f->large);
    return leaked ? -1 : 0;
}

struct frag_spec {
    us_ip4 src;
    us_ip4 dst;    /* 0: DST */
    uint8_t proto; /* 0: UDP */
    uint16_t id;
    uint32_t off, len; /* payload bytes [off, off+len) of the datagram */
    bool mf, df;
};

/* A fragment as the wire would bring it: 20-byte header, payload from data. */
static struct us_pkt *make_frag(struct us_pkt_pool *pool, const uint8_t *data,
                                const struct frag_spec *s)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    uint8_t *h = us_pkt_put(p, US_IPV4_HLEN + s->len);
    assert_non_null(h);
    struct us_ipv4_repr r = {
        .tos = 0x28,
        .total_len = (uint16_t)(US_IPV4_HLEN + s->len),
        .id = s->id,
        .df = s->df,
        .mf = s->mf,
        .frag_off = (uint16_t)s->off,
        .ttl = 61,
        .proto = s->proto ? s->proto : US_IPPROTO_UDP,
        .src = s->src,
        .dst = s->dst ? s->dst : DST,
    };
    us_ipv4_emit(h, &r);
    memcpy(h + US_IPV4_HLEN, data + s->off, s->len);
    return p;
}

static enum us_frag_result feed_at(struct fixture *f, struct us_pkt *p, us_time_ns now,
                                   struct us_pkt **out)
{
    struct us_ipv4_view v;
    assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
    return us_frag_input(f->t, &params, p, &v, f->large, now, out, &f->mib);
}

static enum us_frag_result feed(struct fixture *f, const struct frag_spec *s, us_time_ns now,
                                struct us_pkt **out)
{
    return feed_at(f, make_frag(f->frames, f->data, s), now, out);
}

/* d is the rebuilt datagram of payload data[0, len) from src to dst: check
 * header and bytes, free it. */
static void check_whole_key(struct us_pkt *d, const uint8_t *data, uint32_t len, us_ip4 src,
                            us_ip4 dst, uint8_t proto, uint16_t id, bool df)
{
    assert_non_null(d);
    assert_true(us_pkt_headroom(d) >= US_PKT_HEADROOM);
    struct us_ipv4_view v;
    assert_int_equal(us_ipv4_parse(d->data, d->len, &v), US_WIRE_OK);
    assert_int_equal(d->len, US_IPV4_HLEN + len);
    assert_int_equal(v.hdr_len, US_IPV4_HLEN);
    assert_int_equal(v.total_len, US_IPV4_HLEN + len);
    assert_int_equal(v.id, id);
    assert_int_equal(v.src, src);
    assert_int_equal(v.dst, dst);
    assert_int_equal(v.proto, proto);
    assert_int_equal(v.tos, 0x28);
    assert_int_equal(v.ttl, 61);
    assert_int_equal(v.df, df);
    assert_false(v.mf);
    assert_int_equal(v.frag_off, 0);
    assert_int_equal(v.payload_len, len);
    assert_memory_equal(v.payload, data, len);
    us_pkt_free(d);
}

static void check_whole(struct us_pkt *d, const uint8_t *data, uint32_t len, us_ip4 src,
                        uint16_t id, bool df)
{
    check_whole_key(d, data, len, src, DST, US_IPPROTO_UDP, id, df);
}

static bool next_permutation(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return false;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int tmp = a[i];
    a[i] = a[j];
    a[j] = tmp;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        tmp = a[l];
        a[l] = a[r];
        a[r] = tmp;
    }
    return true;
}

static void shuffle(struct us_rng *rng, struct us_pkt **a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = us_rng_below(rng, i);
        struct us_pkt *tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}

/* Four fragments of a 229-byte payload: 64 + 64 + 64 + 37. */
#define N4   4
#define LEN4 229
static void spec4(struct frag_spec s[N4], uint16_t id, bool df)
{
    for (int i = 0; i < N4; i++) {
        s[i] = (struct frag_spec){.src = SRC,
                                  .id = id,
                                  .off = (uint32_t)i * 64,
                                  .len = 64,
                                  .mf = true,
                                  .df = df && i == 0};
    }
    s[3].len = LEN4 - 192;
    s[3].mf = false;
}

/* RFC 791 §3.2: a datagram is (source, destination, protocol, id). Four
 * datagrams with one id, each differing from the first in one of src, dst
 * or protocol, interleaved fragment by fragment: none is merged with
 * another, each comes back whole with its own header and bytes. */
static void test_key_is_src_dst_proto_id(void **state)
{
    struct fixture *f = *state;
    const uint16_t id = 0x4242;
    const struct {
        us_ip4 src, dst;
        uint8_t proto;
    } key[] = {
        {SRC, DST, US_IPPROTO_UDP},
        {US_IP4(192, 0, 2, 3), DST, US_IPPROTO_UDP},
        {SRC, US_IP4(198, 51, 100, 8), US_IPPROTO_UDP},
        {SRC, DST, US_IPPROTO_ICMP},
    };
    const unsigned n = sizeof(key) / sizeof(key[0]);
    struct us_pkt *out = NULL;
    /* Each datagram's payload is its own stretch of data, so a fragment put
     * in another's queue would be an overlap or the wrong bytes. */
    for (int piece = 0; piece < N4; piece++) {
        for (unsigned k = 0; k < n; k++) {
            struct frag_spec s[N4];
            spec4(s, id, false);
            const uint8_t *data = f->data + 1024 * k;
            s[piece].src = key[k].src;
            s[piece].dst = key[k].dst;
            s[piece].proto = key[k].proto;
            enum us_frag_result r = feed_at(f, make_frag(f->frames, data, &s[piece]), T0, &out);
            if (piece < N4 - 1) {
                assert_int_equal(r, US_FRAG_QUEUED);
                assert_int_equal(us_frag_queue_count(f->t), piece == 0 ? k + 1 : n);
            } else {
                if (r != US_FRAG_COMPLETE)
                    fail_msg("datagram %u (differing in %s) not rebuilt: result %d", k,
                             k == 1   ? "src"
                             : k == 2 ? "dst"
                             : k == 3 ? "protocol"
                                      : "nothing",
                             (int)r);
                check_whole_key(out, data, LEN4, key[k].src, key[k].dst, key[k].proto, id, false);
                assert_int_equal(us_frag_queue_count(f->t), n - k - 1);
            }
        }
    }
    assert_int_equal(f->mib.ip.ReasmOKs, n);
    assert_int_equal(f->mib.ip.ReasmFails, 0);
    assert_int_equal(f->mib.ipext.ReasmOverlaps, 0);
}

static void test_all_orders(void **state)
{
    struct fixture *f = *state;
    int perm[N4] = {0, 1, 2, 3};
    uint16_t id = 100;
    int n = 0;
    do {
        struct frag_spec s[N4];
        bool df = (n % 3) == 0; /* the rebuilt header keeps fragment 0's DF */
        spec4(s, id, df);
        struct us_pkt *out = NULL;
        for (int i = 0; i < N4; i++) {
            enum us_frag_result r = feed(f, &s[perm[i]], T0, &out);
            assert_int_equal(r, i == N4 - 1 ? US_FRAG_COMPLETE : US_FRAG_QUEUED);
        }
        check_whole(out, f->data, LEN4, SRC, id, df);
        assert_int_equal(us_frag_queue_count(f->t), 0);
        assert_int_equal(us_frag_mem(f->t), 0);
        id++;
        n++;
    } while (next_permutation(perm, N4));
    assert_int_equal(n, 24);
    assert_int_equal(f->mib.ip.ReasmOKs, 24);
    assert_int_equal(f->mib.ip.ReasmReqds, 24 * N4);
    assert_int_equal(f->mib.ip.ReasmFails, 0);
}

static void test_duplicates_tolerated(void **state)
{
    struct fixture *f = *state;
    int perm[N4] = {0, 1, 2, 3};
    uint16_t id = 200;
    do {
        struct frag_spec s[N4];
        spec4(s, id, false);
        /* Every fragment but the completing one repeated, some more than once,
         * before and after others. */
        const int seq[] = {perm[0], perm[0], perm[1], perm[0], perm[2], perm[1], perm[2], perm[3]};
        struct us_pkt *out = NULL;
        for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
            enum us_frag_result r = feed(f, &s[seq[i]], T0, &out);
            bool last = i == sizeof(seq) / sizeof(seq[0]) - 1;
            assert_int_equal(r, last ? US_FRAG_COMPLETE : US_FRAG_QUEUED);
        }
        check_whole(out, f->data, LEN4, SRC, id, false);
        id++;
    } while (next_permutation(perm, N4));
    assert_int_equal(f->mib.ip.ReasmOKs, 24);
    assert_int_equal(f->mib.ip.ReasmFails, 0);
    assert_int_equal(f->mib.ipext.ReasmOverlaps, 0);
    /* Duplicates are dropped as they come, not held. */
    assert_int_equal(us_pkt_pool_available(f->frames), us_pkt_pool_count(f->frames));
}

/* After `bad` kills a queue (one ReasmFails), a fresh id still reassembles. */
static void expect_dropped_then_recovery(struct fixture *f, const struct frag_spec *first,
                                         size_t n_first, const struct frag_spec *bad, bool overlap,
                                         uint16_t fresh_id)
{
    struct us_pkt *out = NULL;
    uint64_t fails = f->mib.ip.ReasmFails, overlaps = f->mib.ipext.ReasmOverlaps;
    for (size_t i = 0; i < n_first; i++)
        assert_int_equal(feed(f, &first[i], T0, &out), US_FRAG_QUEUED);
    assert_int_equal(feed(f, bad, T0, &out), US_FRAG_DROPPED);
    assert_null(out);
    assert_int_equal(f->mib.ip.ReasmFails, fails + 1);
    assert_int_equal(f->mib.ipext.ReasmOverlaps, overlaps + (overlap ? 1 : 0));
    assert_int_equal(us_frag_queue_count(f->t), 0);
    assert_int_equal(us_frag_mem(f->t), 0);
    assert_int_equal(us_pkt_pool_available(f->frames), us_pkt_pool_count(f->frames));

    struct frag_spec s[N4];
    spec4(s, fresh_id, false);
    for (int i = N4; i-- > 0;)
        assert_int_equal(feed(f, &s[i], T0, &out), i ? US_FRAG_QUEUED : US_FRAG_COMPLETE);
    check_whole(out, f->data, LEN4, SRC, fresh_id, false);
}

static void test_overlap_drops_datagram(void **state)
{
    struct fixture *f = *state;
    struct frag_spec s[N4];
    spec4(s, 300, false);

    /* Partial overlap: [32, 96) against [0, 64). */
    struct frag_spec partial = {.src = SRC, .id = 300, .off = 32, .len = 64, .mf = true};
    expect_dropped_then_recovery(f, s, 1, &partial, true, 301);

    /* Same offset, different length: [64, 72) against [64, 128). */
    struct frag_spec shorter = {.src = SRC, .id = 302, .off = 64, .len = 8, .mf = true};
    spec4(s, 302, false);
    expect_dropped_then_recovery(f, s, 2, &shorter, true, 303);

    /* Overlap reaching into the next fragment: [120, 200) against [128, 192). */
    spec4(s, 304, false);
    struct frag_spec across = {.src = SRC, .id = 304, .off = 120, .len = 80, .mf = true};
    expect_dropped_then_recovery(f, &s[2], 1, &across, true, 305);

    /* Last fragment overlapping the one before it. */
    spec4(s, 306, false);
    struct frag_spec last = {.src = SRC, .id = 306, .off = 184, .len = 45, .mf = false};
    expect_dropped_then_recovery(f, &s[2], 1, &last, true, 307);

    assert_int_equal(f->mib.ipext.ReasmOverlaps, 4);
    assert_int_equal(f->mib.ip.ReasmFails, 4);
}

static void test_inconsistent_fragments(void **state)
{
    struct fixture *f = *state;
    struct frag_spec s[N4];

    /* A second last fragment with a different end. */
    spec4(s, 400, false);
    struct frag_spec other_end = {.src = SRC, .id = 400, .off = 192, .len = 40, .mf = false};
    expect_dropped_then_recovery(f, &s[3], 1, &other_end, false, 401);

    /* Data beyond the known end. */
    spec4(s, 402, false);
    struct frag_spec beyond = {.src = SRC, .id = 402, .off = 256, .len = 8, .mf = true};
    expect_dropped_then_recovery(f, &s[3], 1, &beyond, false, 403);

    /* A last fragment ending before data already held. */
    spec4(s, 404, false);
    struct frag_spec short_last = {.src = SRC, .id = 404, .off = 64, .len = 16, .mf = false};
    expect_dropped_then_recovery(f, &s[2], 1, &short_last, false, 405);

    /* A zero-length non-last fragment. */
    spec4(s, 406, false);
    struct frag_spec empty = {.src = SRC, .id = 406, .off = 64, .len = 0, .mf = true};
    expect_dropped_then_recovery(f, s, 1, &empty, false, 407);

    /* A datagram past 65535 bytes (20 + 65512 + 8). */
    spec4(s, 408, false);
    struct frag_spec huge = {.src = SRC, .id = 408, .off = 65512, .len = 8, .mf = false};
    expect_dropped_then_recovery(f, s, 1, &huge, false, 409);

    /* A non-last payload that is not a multiple of 8 is dropped alone. */
    struct us_pkt *out = NULL;
    spec4(s, 410, false);
    assert_int_equal(feed(f, &s[0], T0, &out), US_FRAG_QUEUED);
    struct frag_spec odd = {.src = SRC, .id = 410, .off = 64, .len = 60, .mf = true};
    assert_int_equal(feed(f, &odd, T0, &out), US_FRAG_DROPPED);
    for (int i = 1; i < N4; i++)
        assert_int_equal(feed(f, &s[i], T0, &out), i < N4 - 1 ? US_FRAG_QUEUED : US_FRAG_COMPLETE);
    check_whole(out, f->data, LEN4, SRC, 410, false);
    assert_int_equal(f->mib.ip.ReasmFails, 6);
    assert_int_equal(f->mib.ipext.ReasmOverlaps, 0);
}

struct timeout_log {
    int calls;
    uint16_t id;
    uint16_t frag_off;
    bool mf;
};

static void on_timeout(void *ctx, const struct us_pkt *first)
{
    struct timeout_log *log = ctx;
    struct us_ipv4_view v;
    assert_int_equal(us_ipv4_parse(first->data, first->len, &v), US_WIRE_OK);
    log->calls++;
    log->id = v.id;
    log->frag_off = v.frag_off;
    log->mf = v.mf;
}

static void timeout_case(struct fixture *f, bool with_first)
{
    struct frag_spec s[N4];
    uint16_t id = with_first ? 500 : 501;
    spec4(s, id, false);
    struct us_pkt *out = NULL;
    struct timeout_log log = {0};
    uint64_t fails = f->mib.ip.ReasmFails, timeouts = f->mib.ip.ReasmTimeout;

    /* Fragment 2 (or 0) is missing; later fragments do not extend the timer. */
    const int first = with_first ? 0 : 2, missing = with_first ? 2 : 0;
    assert_int_equal(feed(f, &s[1], T0, &out), US_FRAG_QUEUED);
    assert_int_equal(us_frag_next_expiry(f->t), T0 + params.timeout);
    assert_int_equal(feed(f, &s[3], T0 + 10 * US_NS_PER_SEC, &out), US_FRAG_QUEUED);
    assert_int_equal(us_frag_expire(f->t, T0 + 20 * US_NS_PER_SEC, on_timeout, &log, &f->mib),
                     T0 + params.timeout);
    assert_int_equal(feed(f, &s[first], T0 + 20 * US_NS_PER_SEC, &out), US_FRAG_QUEUED);

    /* Not one nanosecond before ipfrag_time. */
    assert_int_equal(us_frag_expire(f->t, T0 + params.timeout - 1, on_timeout, &log, &f->mib),
                     T0 + params.timeout);
    assert_int_equal(log.calls, 0);
    assert_int_equal(us_frag_queue_count(f->t), 1);
    assert_int_equal(f->mib.ip.ReasmTimeout, timeouts);

    assert_int_equal(us_frag_expire(f->t, T0 + params.timeout, on_timeout, &log, &f->mib),
                     US_TIME_NEVER);
    assert_int_equal(us_frag_queue_count(f->t), 0);
    assert_int_equal(f->mib.ip.ReasmTimeout, timeouts + 1);
    assert_int_equal(f->mib.ip.ReasmFails, fails + 1);
    if (with_first) {
        assert_int_equal(log.calls, 1);
        assert_int_equal(log.id, id);
        assert_int_equal(log.frag_off, 0);
        assert_true(log.mf);
    } else {
        assert_int_equal(log.calls, 0);
    }

    /* The missing fragment arriving late starts a new queue, it does not complete. */
    assert_int_equal(feed(f, &s[missing], T0 + params.timeout + 1, &out), US_FRAG_QUEUED);
    assert_null(out);
    us_frag_expire(f->t, T0 + 2 * params.timeout + 1, NULL, NULL, &f->mib);
    assert_int_equal(f->mib.ip.ReasmOKs, 0);
}

static void test_timeout_with_first(void **state)
{
    timeout_case(*state, true);
}

static void test_timeout_without_first(void **state)
{
    timeout_case(*state, false);
}

static void test_expire_in_creation_order(void **state)
{
    struct fixture *f = *state;
    struct us_pkt *out = NULL;
    for (uint16_t i = 0; i < 10; i++) {
        struct frag_spec s = {.src = SRC, .id = i, .off = 0, .len = 64, .mf = true};
        assert_int_equal(feed(f, &s, T0 + i * US_NS_PER_SEC, &out), US_FRAG_QUEUED);
    }
    for (unsigned i = 0; i < 10; i++) {
        us_time_ns next =
            us_frag_expire(f->t, T0 + params.timeout + i * US_NS_PER_SEC, NULL, NULL, &f->mib);
        assert_int_equal(us_frag_queue_count(f->t), 9 - i);
        assert_int_equal(next,
                         i < 9 ? T0 + params.timeout + (i + 1) * US_NS_PER_SEC : US_TIME_NEVER);
    }
    assert_int_equal(f->mib.ip.ReasmTimeout, 10);
}

static void test_memory_bound(void **state)
{
    struct fixture *f = *state;
    /* A pool large enough for everything the table may hold, plus slack. */
    unsigned bound = (unsigned)(params.high_thresh / (FRAME_BUF + sizeof(struct us_pkt)));
    us_pkt_pool_free(f->frames);
    f->frames = us_pkt_pool_new(bound + 8, FRAME_BUF);
    assert_non_null(f->frames);

    const unsigned n = 100000;
    struct us_pkt *out = NULL;
    unsigned max_held = 0;
    for (unsigned i = 0; i < n; i++) {
        struct frag_spec s = {
            .src = US_IP4(10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
            .id = (uint16_t)(i * 40503u),
            .off = (i % 3) * 512,
            .len = 512,
            .mf = true,
        };
        uint64_t fails = f->mib.ip.ReasmFails;
        assert_int_equal(feed(f, &s, T0 + i, &out), US_FRAG_QUEUED);
        assert_true(us_frag_mem(f->t) <= params.high_thresh);
        /* An eviction brings usage back under low_thresh before the new fragment. */
        if (f->mib.ip.ReasmFails != fails)
            assert_true(us_frag_mem(f->t) <= params.low_thresh + 4096);
        assert_true(us_pkt_pool_available(f->frames) > 0);
        if (us_frag_queue_count(f->t) > max_held)
            max_held = us_frag_queue_count(f->t);
    }
    assert_int_equal(us_pkt_pool_alloc_failures(f->frames), 0);
    assert_true(max_held <= bound);
    assert_true(max_held > bound * 9 / 10); /* the bound is memory, not the queue pool */
    assert_int_equal(f->mib.ip.ReasmFails, n - us_frag_queue_count(f->t));
    assert_int_equal(f->mib.ip.ReasmReqds, n);
    assert_int_equal(f->mib.ip.ReasmTimeout, 0);
    us_frag_expire(f->t, US_TIME_NEVER - 1, NULL, NULL, &f->mib);
}

/* Past ipfrag_high_thresh the queues evicted are the oldest, in creation
 * order, until usage is under ipfrag_low_thresh: with room for ten queues
 * and a low mark at six, an eleventh evicts exactly the first four; the
 * seven newest still complete, the four oldest start over. */
static void test_memory_evicts_oldest(void **state)
{
    struct fixture *f = *state;
    struct us_pkt *out = NULL;
    struct frag_spec s[N4];
    /* What one queue holding one 64-byte fragment costs. */
    spec4(s, 600, false);
    assert_int_equal(feed(f, &s[0], T0, &out), US_FRAG_QUEUED);
    size_t one = us_frag_mem(f->t);
    us_frag_expire(f->t, US_TIME_NEVER - 1, NULL, NULL, &f->mib);
    assert_int_equal(us_frag_mem(f->t), 0);
    uint64_t fails0 = f->mib.ip.ReasmFails;

    const struct us_frag_params small = {
        .timeout = params.timeout,
        .high_thresh = 10 * one + one / 2,
        .low_thresh = 6 * one + one / 2,
    };
    const unsigned nq = 11;
    for (unsigned i = 0; i < nq; i++) {
        spec4(s, (uint16_t)(700 + i), false);
        struct us_pkt *p = make_frag(f->frames, f->data, &s[0]);
        struct us_ipv4_view v;
        assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
        assert_int_equal(us_frag_input(f->t, &small, p, &v, f->large, T0 + i, &out, &f->mib),
                         US_FRAG_QUEUED);
        assert_true(us_frag_mem(f->t) <= small.high_thresh);
    }
    assert_int_equal(f->mib.ip.ReasmFails - fails0, 4);
    assert_int_equal(us_frag_queue_count(f->t), 7);
    assert_true(us_frag_mem(f->t) <= small.low_thresh + one);

    /* The survivors, 704..710, complete one by one (fed the other three
     * pieces). The evicted 700..703 are checked after, as new queues. */
    for (unsigned i = 4; i < nq; i++) {
        uint16_t id = (uint16_t)(700 + i);
        spec4(s, id, false);
        for (int k = 1; k < N4; k++) {
            struct us_pkt *p = make_frag(f->frames, f->data, &s[k]);
            struct us_ipv4_view v;
            assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
            enum us_frag_result r =
                us_frag_input(f->t, &small, p, &v, f->large, T0 + 100, &out, &f->mib);
            if (k < N4 - 1)
                assert_int_equal(r, US_FRAG_QUEUED);
            else if (r != US_FRAG_COMPLETE)
                fail_msg("queue %u (created %u of %u) was evicted; the oldest should go first", id,
                         i + 1, nq);
        }
        check_whole(out, f->data, LEN4, SRC, id, false);
    }
    for (unsigned i = 0; i < 4; i++) {
        spec4(s, (uint16_t)(700 + i), false);
        for (int k = 1; k < N4; k++) {
            struct us_pkt *p = make_frag(f->frames, f->data, &s[k]);
            struct us_ipv4_view v;
            assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
            if (us_frag_input(f->t, &small, p, &v, f->large, T0 + 200, &out, &f->mib) !=
                US_FRAG_QUEUED)
                fail_msg("queue %u (created %u of %u) survived; it was among the oldest", 700 + i,
                         i + 1, nq);
        }
    }
    assert_int_equal(f->mib.ip.ReasmOKs, nq - 4);
    us_frag_expire(f->t, US_TIME_NEVER - 1, NULL, NULL, &f->mib);
}

static void test_queue_pool_bound(void **state)
{
    struct fixture *f = *state;
    us_frag_table_free(f->t);
    f->t = us_frag_table_new(7, 16);
    struct us_pkt *out = NULL;
    for (uint16_t i = 0; i < 100; i++) {
        struct frag_spec s = {.src = SRC, .id = i, .off = 64, .len = 37, .mf = false};
        assert_int_equal(feed(f, &s, T0, &out), US_FRAG_QUEUED);
        assert_true(us_frag_queue_count(f->t) <= 16);
    }
    assert_int_equal(f->mib.ip.ReasmFails, 100 - 16);
    /* The newest survived: completing id 99 works, id 0 starts over. */
    struct frag_spec s[N4];
    spec4(s, 99, false);
    assert_int_equal(feed(f, &s[0], T0, &out), US_FRAG_COMPLETE);
    check_whole(out, f->data, 101, SRC, 99, false);
    us_frag_expire(f->t, US_TIME_NEVER - 1, NULL, NULL, &f->mib);
}

/* The 65535-byte datagram in 1480-byte fragments (as over Ethernet). */
static void test_max_datagram(void **state)
{
    struct fixture *f = *state;
    const uint32_t len = 65535 - US_IPV4_HLEN, step = 1480;
    struct us_rng rng;
    us_rng_seed(&rng, 7);
    for (int round = 0; round < 4; round++) {
        uint16_t id = (uint16_t)(600 + round);
        struct us_pkt *frags[64];
        size_t n = 0;
        for (uint32_t off = 0; off < len; off += step) {
            uint32_t l = len - off < step ? len - off : step;
            struct frag_spec s = {.src = SRC, .id = id, .off = off, .len = l, .mf = off + l < len};
            frags[n++] = make_frag(f->frames, f->data, &s);
        }
        assert_int_equal(n, 45);
        if (round > 0)
            shuffle(&rng, frags, n);
        struct us_pkt *out = NULL;
        for (size_t i = 0; i < n; i++)
            assert_int_equal(feed_at(f, frags[i], T0, &out),
                             i == n - 1 ? US_FRAG_COMPLETE : US_FRAG_QUEUED);
        check_whole(out, f->data, len, SRC, id, false);
    }
    assert_int_equal(f->mib.ip.ReasmOKs, 4);
}

/* The rebuilt datagram must fit reasm_pool: too small a buffer, or none left,
 * fails the datagram cleanly. */
static void test_reasm_pool_limits(void **state)
{
    struct fixture *f = *state;
    struct us_pkt_pool *small = us_pkt_pool_new(2, US_PKT_HEADROOM + US_IPV4_HLEN + 200);
    struct frag_spec s[N4];
    struct us_pkt *out = NULL;
    struct us_ipv4_view v;

    spec4(s, 700, false);
    for (int i = 0; i < N4; i++) {
        struct us_pkt *p = make_frag(f->frames, f->data, &s[i]);
        assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
        assert_int_equal(us_frag_input(f->t, &params, p, &v, small, T0, &out, &f->mib),
                         i < N4 - 1 ? US_FRAG_QUEUED : US_FRAG_DROPPED);
    }
    assert_null(out);
    assert_int_equal(f->mib.ip.ReasmFails, 1);

    struct us_pkt *a = us_pkt_alloc(f->large), *b = us_pkt_alloc(f->large);
    struct us_pkt *c = us_pkt_alloc(f->large), *d = us_pkt_alloc(f->large);
    spec4(s, 701, false);
    for (int i = 0; i < N4; i++)
        assert_int_equal(feed(f, &s[i], T0, &out), i < N4 - 1 ? US_FRAG_QUEUED : US_FRAG_DROPPED);
    assert_int_equal(f->mib.ip.ReasmFails, 2);
    assert_int_equal(f->mib.ip.ReasmOKs, 0);
    us_pkt_free(a);
    us_pkt_free(b);
    us_pkt_free(c);
    us_pkt_free(d);
    us_pkt_pool_free(small);
}

/* A datagram of `len` payload bytes from data, in pool, with optional options. */
static struct us_pkt *make_dgram(struct us_pkt_pool *pool, const uint8_t *data, uint32_t len,
                                 uint16_t id, const uint8_t *opt, size_t optlen)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    size_t hlen = US_IPV4_HLEN + optlen;
    uint8_t *h = us_pkt_put(p, (uint32_t)(hlen + len));
    assert_non_null(h);
    struct us_ipv4_repr r = {.tos = 0x28,
                             .total_len = (uint16_t)(hlen + len),
                             .id = id,
                             .ttl = 61,
                             .proto = US_IPPROTO_UDP,
                             .src = SRC,
                             .dst = DST};
    us_ipv4_emit(h, &r);
    if (optlen) {
        memcpy(h + US_IPV4_HLEN, opt, optlen);
        h[0] = (uint8_t)(0x40 | hlen / 4);
        h[10] = h[11] = 0;
        uint16_t c = us_inet_csum(h, hlen);
        h[10] = (uint8_t)(c >> 8);
        h[11] = (uint8_t)c;
    }
    memcpy(h + hlen, data, len);
    return p;
}

/* Checks the fragments in q against RFC 791 §3.2, then reassembles them in a
 * shuffled order and compares with data. */
static void check_and_reassemble(struct fixture *f, struct us_pkt_queue *q, uint32_t mtu,
                                 uint32_t len, uint16_t id, struct us_rng *rng)
{
    static struct us_pkt *frags[4096];
    size_t n = 0;
    uint32_t next_off = 0;
    struct us_pkt *p;
    while ((p = us_pkt_queue_pop(q))) {
        struct us_ipv4_view v;
        assert_true(n < 4096);
        assert_true(p->len <= mtu);
        assert_true(us_pkt_headroom(p) >= US_PKT_HEADROOM);
        assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
        assert_int_equal(v.total_len, p->len);
        assert_int_equal(v.id, id);
        assert_false(v.df);
        assert_int_equal(v.frag_off, next_off);
        assert_int_equal(v.mf, q->head != NULL);
        if (v.mf)
            assert_int_equal(v.payload_len % 8, 0);
        assert_memory_equal(v.payload, f->data + v.frag_off, v.payload_len);
        next_off += (uint32_t)v.payload_len;
        frags[n++] = p;
    }
    assert_int_equal(next_off, len);
    shuffle(rng, frags, n);
    struct us_pkt *out = NULL;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(feed_at(f, frags[i], T0, &out),
                         i == n - 1 ? US_FRAG_COMPLETE : US_FRAG_QUEUED);
    check_whole(out, f->data, len, SRC, id, false);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    static const uint32_t mtus[] = {68, 576, 1500, 9000};
    static const uint32_t sizes[] = {
        1,    7,    8,    9,    47,   48,   49,   100,  548,   549,   556,   557,   1472,  1473,
        1480, 1481, 2960, 4000, 8952, 8980, 8981, 9001, 20000, 32768, 44444, 65000, 65514, 65515};
    struct us_rng rng;
    us_rng_seed(&rng, 1);
    uint16_t id = 1000;
    uint64_t oks = 0, creates = 0;
    for (size_t m = 0; m < sizeof(mtus) / sizeof(mtus[0]); m++) {
        /* Frame buffers sized for the link, as a real interface's pool. */
        us_pkt_pool_free(f->frames);
        uint32_t buf = mtus[m] + US_PKT_HEADROOM < FRAME_BUF ? FRAME_BUF : mtus[m] + 256;
        f->frames = us_pkt_pool_new(mtus[m] < 1500 ? 2048 : 64, buf);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, id++) {
            uint32_t len = sizes[i];
            struct us_pkt *d = make_dgram(f->large, f->data, len, id, NULL, 0);
            struct us_pkt_queue q = {0};
            assert_int_equal(us_ip_fragment(d, mtus[m], f->frames, &q, &f->mib), 0);
            if (US_IPV4_HLEN + len <= mtus[m]) {
                /* Fits: handed back whole, nothing counted. */
                assert_int_equal(q.count, 1);
                assert_ptr_equal(q.head, d);
                us_pkt_free(us_pkt_queue_pop(&q));
                continue;
            }
            uint32_t per = (mtus[m] - US_IPV4_HLEN) & ~7u;
            assert_int_equal(q.count, (len + per - 1) / per);
            oks++;
            creates += q.count;
            check_and_reassemble(f, &q, mtus[m], len, id, &rng);
        }
    }
    assert_int_equal(f->mib.ip.FragOKs, oks);
    assert_int_equal(f->mib.ip.FragCreates, creates);
    assert_int_equal(f->mib.ip.FragFails, 0);
    assert_int_equal(f->mib.ip.ReasmOKs, oks);
    assert_int_equal(f->mib.ip.ReasmFails, 0);
}

/* RFC 791 §3.1: options with the copied flag go in every fragment, the rest
 * only in the first. */
static void test_fragment_options(void **state)
{
    struct fixture *f = *state;
    const uint8_t opt[] = {
        0x83, 7, 4, 10, 0, 0, 1, /* loose source route: copied */
        0x07, 7, 4, 0,  0, 0, 0, /* record route: not copied */
        0x01,                    /* NOP */
        0x00,                    /* EOL */
    };
    const uint8_t copied[] = {0x83, 7, 4, 10, 0, 0, 1, 0x00};
    const uint32_t len = 3000, mtu = 576;
    struct us_pkt *d = make_dgram(f->large, f->data, len, 800, opt, sizeof(opt));
    struct us_pkt_queue q = {0};
    assert_int_equal(us_ip_fragment(d, mtu, f->frames, &q, &f->mib), 0);
    bool first = true;
    for (struct us_pkt *p = q.head; p; p = p->next) {
        struct us_ipv4_view v;
        assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
        assert_true(p->len <= mtu);
        if (first) {
            assert_int_equal(v.hdr_len, US_IPV4_HLEN + sizeof(opt));
            assert_memory_equal(v.options, opt, sizeof(opt));
            assert_int_equal(v.payload_len, (mtu - v.hdr_len) & ~7u);
        } else {
            assert_int_equal(v.hdr_len, US_IPV4_HLEN + sizeof(copied));
            assert_memory_equal(v.options, copied, sizeof(copied));
        }
        first = false;
    }
    struct us_rng rng;
    us_rng_seed(&rng, 3);
    check_and_reassemble(f, &q, mtu, len, 800, &rng);
}

static void test_fragment_edges(void **state)
{
    struct fixture *f = *state;
    struct us_pkt_queue q = {0};

    /* Exactly mtu: not the function's concern, handed back as it is. */
    struct us_pkt *d = make_dgram(f->large, f->data, 1480, 900, NULL, 0);
    assert_int_equal(us_ip_fragment(d, 1500, f->frames, &q, &f->mib), 0);
    assert_int_equal(q.count, 1);
    assert_ptr_equal(us_pkt_queue_pop(&q), d);
    us_pkt_free(d);
    assert_int_equal(f->mib.ip.FragOKs + f->mib.ip.FragCreates + f->mib.ip.FragFails, 0);

    /* One byte more: 1480 + 1. */
    d = make_dgram(f->large, f->data, 1481, 901, NULL, 0);
    assert_int_equal(us_ip_fragment(d, 1500, f->frames, &q, &f->mib), 0);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.head->len, 1500);
    assert_int_equal(q.tail->len, US_IPV4_HLEN + 1);
    us_pkt_queue_purge(&q);
    assert_int_equal(f->mib.ip.FragCreates, 2);

    /* DF set: the caller's business; dgram stays with it, nothing counted. */
    d = make_dgram(f->large, f->data, 2000, 902, NULL, 0);
    d->data[6] |= 0x40;
    d->data[10] = d->data[11] = 0;
    uint16_t c = us_inet_csum(d->data, US_IPV4_HLEN);
    d->data[10] = (uint8_t)(c >> 8);
    d->data[11] = (uint8_t)c;
    assert_int_equal(us_ip_fragment(d, 1500, f->frames, &q, &f->mib), -EMSGSIZE);
    assert_int_equal(q.count, 0);
    assert_int_equal(f->mib.ip.FragFails, 0);
    us_pkt_free(d);

    /* Pool runs dry halfway: everything freed, FragFails counted. */
    struct us_pkt_pool *tiny = us_pkt_pool_new(3, FRAME_BUF);
    d = make_dgram(f->large, f->data, 8000, 903, NULL, 0);
    assert_int_equal(us_ip_fragment(d, 1500, tiny, &q, &f->mib), -ENOBUFS);
    assert_int_equal(q.count, 0);
    assert_int_equal(us_pkt_pool_available(tiny), 3);
    assert_int_equal(f->mib.ip.FragFails, 1);
    assert_int_equal(f->mib.ip.FragOKs, 1);
    us_pkt_pool_free(tiny);

    /* An MTU below 68 cannot carry a 60-byte header and 8 bytes. */
    const uint8_t opt[40] = {0x01, 0x01};
    d = make_dgram(f->large, f->data, 100, 904, opt, sizeof(opt));
    assert_int_equal(us_ip_fragment(d, 67, f->frames, &q, &f->mib), -EINVAL);
    assert_int_equal(f->mib.ip.FragFails, 2);
    d = make_dgram(f->large, f->data, 100, 905, opt, sizeof(opt));
    assert_int_equal(us_ip_fragment(d, 68, f->frames, &q, &f->mib), 0);
    assert_int_equal(q.head->len, 68);
    us_pkt_queue_purge(&q);
}

/* Forwarding a fragment onto a smaller MTU: offsets add to its own and every
 * piece keeps MF, so the receiver still reassembles the original. */
static void test_refragment_fragment(void **state)
{
    struct fixture *f = *state;
    struct frag_spec mid = {.src = SRC, .id = 950, .off = 1480, .len = 2960, .mf = true};
    struct frag_spec head = {.src = SRC, .id = 950, .off = 0, .len = 1480, .mf = true};
    struct frag_spec tail = {.src = SRC, .id = 950, .off = 4440, .len = 100, .mf = false};
    struct us_pkt_queue q = {0};
    assert_int_equal(
        us_ip_fragment(make_frag(f->large, f->data, &mid), 576, f->frames, &q, &f->mib), 0);
    assert_int_equal(q.count, 6); /* 5 x 552 + 200 */
    uint32_t off = 1480;
    for (struct us_pkt *p = q.head; p; p = p->next) {
        struct us_ipv4_view v;
        assert_int_equal(us_ipv4_parse(p->data, p->len, &v), US_WIRE_OK);
        assert_int_equal(v.frag_off, off);
        assert_true(v.mf);
        off += (uint32_t)v.payload_len;
    }
    assert_int_equal(off, 4440);
    struct us_pkt *out = NULL, *p;
    assert_int_equal(feed(f, &tail, T0, &out), US_FRAG_QUEUED);
    while ((p = us_pkt_queue_pop(&q)))
        assert_int_equal(feed_at(f, p, T0, &out), US_FRAG_QUEUED);
    assert_int_equal(feed(f, &head, T0, &out), US_FRAG_COMPLETE);
    check_whole(out, f->data, 4540, SRC, 950, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_is_src_dst_proto_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_tolerated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_drops_datagram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inconsistent_fragments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_with_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_without_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_in_creation_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_evicts_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_pool_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_datagram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reasm_pool_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragment_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragment_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refragment_fragment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
