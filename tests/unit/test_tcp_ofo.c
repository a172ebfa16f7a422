/* The TCP out-of-order queue: random segmentations with duplicates and
 * overlaps delivered in random order across the 2^32 wrap and reassembled
 * byte-exact; hand-checked SACK blocks (RFC 2018 §4); the memory limit; no
 * leaked packets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/random.h"
#include "tcp/tcp_ofo.h"
#include "tcp/tcp_seq.h"

#define BUF_SIZE   2048
#define POOL_COUNT 4096
#define MSS        1460
#define NO_LIMIT   UINT32_MAX
#define STREAM_MAX 32768

struct fixture {
    struct us_pkt_pool *pool;
    struct us_tcp_ofo ofo;
};

static int setup(void **state)
{
    static struct fixture f;
    f.pool = us_pkt_pool_new(POOL_COUNT, BUF_SIZE);
    if (!f.pool)
        return -1;
    us_tcp_ofo_init(&f.ofo);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    us_tcp_ofo_purge(&f->ofo);
    assert_int_equal(us_pkt_pool_available(f->pool), POOL_COUNT);
    us_pkt_pool_free(f->pool);
    return 0;
}

/* A segment carrying bytes [off, off + len) of stream. */
static struct us_pkt *segment(struct fixture *f, const uint8_t *stream, uint32_t off, uint32_t len)
{
    struct us_pkt *p = us_pkt_alloc(f->pool);
    assert_non_null(p);
    memcpy(us_pkt_put(p, len), stream + off, len);
    return p;
}

/* A segment of len bytes, each the low byte of its own sequence number. */
static struct us_pkt *seq_segment(struct fixture *f, uint32_t seq, uint32_t len)
{
    struct us_pkt *p = us_pkt_alloc(f->pool);
    assert_non_null(p);
    uint8_t *d = us_pkt_put(p, len);
    for (uint32_t i = 0; i < len; i++)
        d[i] = (uint8_t)(seq + i);
    return p;
}

static enum us_tcp_ofo_result ins(struct fixture *f, uint32_t seq, uint32_t len, uint32_t rcv_nxt)
{
    return us_tcp_ofo_insert(&f->ofo, seq_segment(f, seq, len), seq, rcv_nxt, NO_LIMIT);
}

static void check_seq_content(const struct us_pkt *p)
{
    for (uint32_t i = 0; i < p->len; i++)
        assert_int_equal(p->data[i], (uint8_t)(us_tcp_ofo_seq(p) + i));
}

/* The queue's invariants: sorted, no overlap, nothing before rcv_nxt,
 * counters exact; every SACK block is a whole run of held data above
 * rcv_nxt, all disjoint. */
static void check_invariants(const struct us_tcp_ofo *ofo, uint32_t rcv_nxt)
{
    uint32_t bytes = 0, truesize = 0, count = 0;
    const struct us_pkt *prev = NULL;
    for (const struct us_pkt *p = ofo->head; p; p = p->next) {
        assert_true(p->len > 0);
        assert_true(us_seq_geq(us_tcp_ofo_seq(p), rcv_nxt));
        if (prev)
            assert_true(us_seq_geq(us_tcp_ofo_seq(p), us_tcp_ofo_seq(prev) + prev->len));
        bytes += p->len;
        truesize += us_pkt_truesize(p);
        count++;
        if (!p->next)
            assert_ptr_equal(p, ofo->tail);
        prev = p;
    }
    assert_int_equal(bytes, ofo->bytes);
    assert_int_equal(truesize, ofo->truesize);
    assert_int_equal(count, ofo->count);

    struct us_tcp_sack_block b[US_TCP_MAX_SACK];
    unsigned n = us_tcp_ofo_sack(ofo, b, US_TCP_MAX_SACK);
    assert_true(n <= US_TCP_MAX_SACK);
    if (ofo->head)
        assert_true(n > 0);
    /* The runs of held data, to compare each block with. */
    static struct us_tcp_sack_block runs[POOL_COUNT];
    unsigned nruns = 0;
    for (const struct us_pkt *p = ofo->head; p; p = p->next) {
        uint32_t s = us_tcp_ofo_seq(p);
        if (nruns && runs[nruns - 1].right == s)
            runs[nruns - 1].right = s + p->len;
        else
            runs[nruns++] = (struct us_tcp_sack_block){s, s + p->len};
    }
    for (unsigned i = 0; i < n; i++) {
        bool is_run = false;
        for (unsigned k = 0; k < nruns; k++)
            if (runs[k].left == b[i].left && runs[k].right == b[i].right)
                is_run = true;
        assert_true(is_run);
        for (unsigned j = 0; j < i; j++)
            assert_true(us_seq_leq(b[i].right, b[j].left) || us_seq_geq(b[i].left, b[j].right));
    }
}

/* ---- random reassembly ---- */

struct seg {
    uint32_t off, len;
};

/* Random segmentations of a random stream, plus duplicates and segments that
 * straddle others, shuffled; the receiver takes in-order data directly (as
 * tcp_data_queue() does) or through the queue, and must rebuild the stream
 * byte-exact, its sequence numbers starting just below 2^32. */
static void reassemble_random(void **state)
{
    struct fixture *f = *state;
    static uint8_t stream[STREAM_MAX + 8], out[STREAM_MAX];
    static struct seg segs[4096];
    struct us_rng rng;
    us_rng_seed(&rng, 0x0f0);

    for (int iter = 0; iter < 3000; iter++) {
        /* Segment sizes from 1 byte to an MSS; about 600 segments at most. */
        uint32_t max_len = 1 + (uint32_t)us_rng_below(&rng, MSS);
        uint32_t span = max_len * 300 < STREAM_MAX ? max_len * 300 : STREAM_MAX;
        uint32_t total = 1 + (uint32_t)us_rng_below(&rng, span);
        for (uint32_t i = 0; i < total; i += 8) {
            uint64_t r = us_rng_next(&rng);
            memcpy(stream + i, &r, sizeof(r));
        }
        uint32_t isn = (uint32_t)(0u - 1 - us_rng_below(&rng, 2 * STREAM_MAX));

        /* One partition of the stream, then extra segments at random
         * places: duplicates and overlaps of the partition. */
        unsigned n = 0;
        for (uint32_t off = 0; off < total;) {
            uint32_t len = 1 + (uint32_t)us_rng_below(&rng, max_len);
            if (len > total - off)
                len = total - off;
            assert_true(n < 2048);
            segs[n++] = (struct seg){off, len};
            off += len;
        }
        unsigned extra = (unsigned)us_rng_below(&rng, n + 1);
        for (unsigned i = 0; i < extra; i++) {
            uint32_t off = (uint32_t)us_rng_below(&rng, total);
            uint32_t len = 1 + (uint32_t)us_rng_below(&rng, MSS);
            if (len > total - off)
                len = total - off;
            segs[n++] = (struct seg){off, len};
        }
        for (unsigned i = n; i > 1; i--) {
            unsigned j = (unsigned)us_rng_below(&rng, i);
            struct seg t = segs[i - 1];
            segs[i - 1] = segs[j];
            segs[j] = t;
        }

        uint32_t rcv_nxt = isn, got = 0;
        for (unsigned i = 0; i < n; i++) {
            uint32_t seq = isn + segs[i].off;
            struct us_pkt *p = segment(f, stream, segs[i].off, segs[i].len);
            bool direct = us_rng_below(&rng, 2) == 0;
            if (direct && us_seq_leq(seq, rcv_nxt)) {
                /* In-order or old: the receiver's own fast path. */
                uint32_t skip = rcv_nxt - seq;
                if (skip < p->len) {
                    memcpy(out + got, p->data + skip, p->len - skip);
                    got += p->len - skip;
                    rcv_nxt += p->len - skip;
                }
                us_pkt_free(p);
            } else {
                enum us_tcp_ofo_result r = us_tcp_ofo_insert(&f->ofo, p, seq, rcv_nxt, NO_LIMIT);
                assert_true(r == US_TCP_OFO_QUEUED || r == US_TCP_OFO_DUPLICATE);
                if (r == US_TCP_OFO_QUEUED && us_seq_gt(seq + segs[i].len, rcv_nxt)) {
                    /* RFC 2018 §4: the first block holds the newest segment. */
                    struct us_tcp_sack_block b[US_TCP_MAX_SACK];
                    assert_true(us_tcp_ofo_sack(&f->ofo, b, 1) == 1);
                    assert_true(us_seq_leq(b[0].left, us_seq_max(seq, rcv_nxt)));
                    assert_true(us_seq_geq(b[0].right, seq + segs[i].len));
                }
            }
            struct us_pkt *q;
            while ((q = us_tcp_ofo_pop(&f->ofo, rcv_nxt))) {
                assert_int_equal(us_tcp_ofo_seq(q), rcv_nxt);
                memcpy(out + got, q->data, q->len);
                got += q->len;
                rcv_nxt += q->len;
                us_pkt_free(q);
            }
            check_invariants(&f->ofo, rcv_nxt);
            /* Every held byte is the stream's byte at that sequence number. */
            for (const struct us_pkt *h = f->ofo.head; h; h = h->next)
                assert_true(memcmp(h->data, stream + (us_tcp_ofo_seq(h) - isn), h->len) == 0);
            if (!us_tcp_ofo_empty(&f->ofo)) {
                struct us_tcp_sack_block b[US_TCP_MAX_SACK];
                unsigned nb = us_tcp_ofo_sack(&f->ofo, b, 3);
                assert_true(nb >= 1 && nb <= 3);
                for (unsigned k = 0; k < nb; k++)
                    assert_true(us_seq_gt(b[k].left, rcv_nxt));
            }
        }
        assert_int_equal(got, total);
        assert_int_equal(rcv_nxt, isn + total);
        assert_memory_equal(out, stream, total);
        assert_true(us_tcp_ofo_empty(&f->ofo));
        assert_int_equal(f->ofo.bytes, 0);
        assert_int_equal(f->ofo.truesize, 0);
        assert_int_equal(us_tcp_ofo_sack(&f->ofo, (struct us_tcp_sack_block[4]){{0}}, 4), 0);
        assert_int_equal(us_pkt_pool_available(f->pool), POOL_COUNT);
    }
}

/* ---- hand-checked cases ---- */

#define X 0xffffff00u /* rcv_nxt; X + 256 wraps to 0 */

static void expect_blocks(const struct us_tcp_ofo *ofo, unsigned max, unsigned n,
                          const uint32_t (*want)[2])
{
    struct us_tcp_sack_block b[US_TCP_MAX_SACK];
    assert_int_equal(us_tcp_ofo_sack(ofo, b, max), n);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(b[i].left, want[i][0]);
        assert_int_equal(b[i].right, want[i][1]);
    }
}

static void sack_blocks(void **state)
{
    struct fixture *f = *state;
    struct us_tcp_ofo *ofo = &f->ofo;
    uint32_t rcv_nxt = X;

    assert_int_equal(ins(f, X + 100, 100, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(ofo, 4, 1, (const uint32_t[][2]){{X + 100, X + 200}});
    assert_int_equal(ins(f, X + 300, 100, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(ofo, 4, 2, (const uint32_t[][2]){{X + 300, X + 400}, {X + 100, X + 200}});
    assert_int_equal(ins(f, X + 500, 100, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(
        ofo, 4, 3,
        (const uint32_t[][2]){{X + 500, X + 600}, {X + 300, X + 400}, {X + 100, X + 200}});
    /* Filling the hole between two blocks merges them into the first block. */
    assert_int_equal(ins(f, X + 200, 100, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(ofo, 4, 2, (const uint32_t[][2]){{X + 100, X + 400}, {X + 500, X + 600}});
    /* A segment extending a block at its right edge makes it the first again. */
    assert_int_equal(ins(f, X + 600, 50, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(ofo, 4, 2, (const uint32_t[][2]){{X + 500, X + 650}, {X + 100, X + 400}});
    /* Extending at the left edge too. */
    assert_int_equal(ins(f, X + 450, 50, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(ofo, 4, 2, (const uint32_t[][2]){{X + 450, X + 650}, {X + 100, X + 400}});
    /* Three more islands: at most four blocks, the oldest reported falls out. */
    assert_int_equal(ins(f, X + 700, 100, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ins(f, X + 900, 100, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ins(f, X + 1100, 100, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(
        ofo, 4, 4,
        (const uint32_t[][2]){
            {X + 1100, X + 1200}, {X + 900, X + 1000}, {X + 700, X + 800}, {X + 450, X + 650}});
    /* With timestamps only three fit (RFC 2018 §3). */
    expect_blocks(
        ofo, 3, 3,
        (const uint32_t[][2]){{X + 1100, X + 1200}, {X + 900, X + 1000}, {X + 700, X + 800}});
    expect_blocks(ofo, 1, 1, (const uint32_t[][2]){{X + 1100, X + 1200}});
    /* A duplicate changes nothing. */
    assert_int_equal(ins(f, X + 150, 200, rcv_nxt), US_TCP_OFO_DUPLICATE);
    expect_blocks(
        ofo, 4, 4,
        (const uint32_t[][2]){
            {X + 1100, X + 1200}, {X + 900, X + 1000}, {X + 700, X + 800}, {X + 450, X + 650}});
    /* Re-reporting an older island makes it first, the rest keep their order. */
    assert_int_equal(ins(f, X + 800, 50, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(
        ofo, 4, 4,
        (const uint32_t[][2]){
            {X + 700, X + 850}, {X + 1100, X + 1200}, {X + 900, X + 1000}, {X + 450, X + 650}});
    check_invariants(ofo, rcv_nxt);

    /* In-order data [X, X + 150) arrives: the queue hands back from X + 150. */
    rcv_nxt = X + 150;
    struct us_pkt *p = us_tcp_ofo_pop(ofo, rcv_nxt);
    assert_non_null(p);
    assert_int_equal(us_tcp_ofo_seq(p), X + 150);
    assert_int_equal(p->len, 50);
    check_seq_content(p);
    rcv_nxt += p->len;
    us_pkt_free(p);
    /* Mid-way through a run the block shrinks, never reaching rcv_nxt. */
    check_invariants(ofo, rcv_nxt);
    for (unsigned i = 0; i < 2; i++) {
        p = us_tcp_ofo_pop(ofo, rcv_nxt);
        assert_non_null(p);
        assert_int_equal(us_tcp_ofo_seq(p), rcv_nxt);
        check_seq_content(p);
        rcv_nxt += p->len;
        us_pkt_free(p);
        check_invariants(ofo, rcv_nxt);
    }
    assert_int_equal(rcv_nxt, X + 400);
    assert_null(us_tcp_ofo_pop(ofo, rcv_nxt));
    expect_blocks(
        ofo, 4, 4,
        (const uint32_t[][2]){
            {X + 700, X + 850}, {X + 1100, X + 1200}, {X + 900, X + 1000}, {X + 450, X + 650}});

    /* A segment overlapping the front of a held one: it is kept whole, the
     * held one trimmed to meet it. */
    assert_int_equal(ins(f, X + 420, 60, rcv_nxt), US_TCP_OFO_QUEUED);
    expect_blocks(
        ofo, 4, 4,
        (const uint32_t[][2]){
            {X + 420, X + 650}, {X + 700, X + 850}, {X + 1100, X + 1200}, {X + 900, X + 1000}});
    assert_int_equal(ofo->head->cb, X + 420);
    assert_int_equal(ofo->head->len, 60);
    assert_int_equal(ofo->head->next->cb, X + 480);
    assert_int_equal(ofo->head->next->len, 20);
    check_invariants(ofo, rcv_nxt);

    /* rcv_nxt jumps past several segments (a big in-order retransmission):
     * they are freed, the straddling one trimmed, blocks below go. */
    rcv_nxt = X + 750;
    p = us_tcp_ofo_pop(ofo, rcv_nxt);
    assert_non_null(p);
    assert_int_equal(us_tcp_ofo_seq(p), X + 750);
    assert_int_equal(p->len, 50);
    check_seq_content(p);
    rcv_nxt += p->len;
    us_pkt_free(p);
    p = us_tcp_ofo_pop(ofo, rcv_nxt);
    assert_non_null(p);
    rcv_nxt += p->len;
    us_pkt_free(p);
    assert_null(us_tcp_ofo_pop(ofo, rcv_nxt));
    expect_blocks(ofo, 4, 2, (const uint32_t[][2]){{X + 1100, X + 1200}, {X + 900, X + 1000}});
    check_invariants(ofo, rcv_nxt);
    for (p = ofo->head; p; p = p->next)
        check_seq_content(p);
}

/* When the most recent blocks are delivered, islands that were pushed out of
 * the list are reported again, lowest first. */
static void sack_refill(void **state)
{
    struct fixture *f = *state;
    struct us_tcp_ofo *ofo = &f->ofo;
    for (uint32_t i = 5; i > 0; i--)
        assert_int_equal(ins(f, X + 100 * i, 50, X), US_TCP_OFO_QUEUED);
    expect_blocks(
        ofo, 4, 4,
        (const uint32_t[][2]){
            {X + 100, X + 150}, {X + 200, X + 250}, {X + 300, X + 350}, {X + 400, X + 450}});
    struct us_pkt *p = us_tcp_ofo_pop(ofo, X + 100);
    assert_non_null(p);
    us_pkt_free(p);
    expect_blocks(
        ofo, 4, 4,
        (const uint32_t[][2]){
            {X + 200, X + 250}, {X + 300, X + 350}, {X + 400, X + 450}, {X + 500, X + 550}});
    check_invariants(ofo, X + 150);
}

/* Overlap rules on insert: covered held segments are freed, partial ones
 * trimmed, data before rcv_nxt dropped; content survives every trim. */
static void overlaps(void **state)
{
    struct fixture *f = *state;
    struct us_tcp_ofo *ofo = &f->ofo;
    uint32_t rcv_nxt = X + 200; /* wrap between rcv_nxt and the data */
    unsigned avail = us_pkt_pool_available(f->pool);

    assert_int_equal(ins(f, X + 300, 10, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ins(f, X + 320, 10, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ins(f, X + 340, 10, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->count, 3);
    /* Covers all three wholly: they are freed, the new one held. */
    assert_int_equal(ins(f, X + 295, 60, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->count, 1);
    assert_int_equal(ofo->bytes, 60);
    assert_int_equal(us_pkt_pool_available(f->pool), avail - 1);
    /* Same start, shorter; inside; same end: all duplicates. */
    assert_int_equal(ins(f, X + 295, 10, rcv_nxt), US_TCP_OFO_DUPLICATE);
    assert_int_equal(ins(f, X + 300, 10, rcv_nxt), US_TCP_OFO_DUPLICATE);
    assert_int_equal(ins(f, X + 345, 10, rcv_nxt), US_TCP_OFO_DUPLICATE);
    assert_int_equal(ins(f, X + 295, 60, rcv_nxt), US_TCP_OFO_DUPLICATE);
    /* Same start, longer: replaces the held one. */
    assert_int_equal(ins(f, X + 295, 70, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->count, 1);
    assert_int_equal(ofo->bytes, 70);
    /* Overlapping the tail end: the new one's front is trimmed. */
    assert_int_equal(ins(f, X + 360, 20, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->count, 2);
    assert_int_equal(ofo->tail->cb, X + 365);
    assert_int_equal(ofo->tail->len, 15);
    /* Partly before rcv_nxt, overlapping the head's front. */
    assert_int_equal(ins(f, X + 150, 200, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->head->cb, rcv_nxt);
    assert_int_equal(ofo->head->len, 150);
    assert_int_equal(ofo->head->next->cb, X + 350);
    assert_int_equal(ofo->head->next->len, 15);
    /* Wholly before rcv_nxt; empty. */
    assert_int_equal(ins(f, X + 100, 100, rcv_nxt), US_TCP_OFO_DUPLICATE);
    assert_int_equal(ins(f, X + 400, 0, rcv_nxt), US_TCP_OFO_DUPLICATE);
    /* Bridging a gap while overlapping both neighbours. */
    assert_int_equal(ins(f, X + 400, 10, rcv_nxt), US_TCP_OFO_QUEUED);
    assert_int_equal(ins(f, X + 375, 30, rcv_nxt), US_TCP_OFO_QUEUED);
    check_invariants(ofo, rcv_nxt);
    expect_blocks(ofo, 4, 1, (const uint32_t[][2]){{X + 200, X + 410}});
    assert_int_equal(ofo->bytes, 210);
    for (const struct us_pkt *p = ofo->head; p; p = p->next)
        check_seq_content(p);

    uint32_t got = 0;
    struct us_pkt *p;
    while ((p = us_tcp_ofo_pop(ofo, rcv_nxt))) {
        check_seq_content(p);
        rcv_nxt += p->len;
        got += p->len;
        us_pkt_free(p);
    }
    assert_int_equal(got, 210);
    assert_true(us_tcp_ofo_empty(ofo));
    assert_int_equal(us_tcp_ofo_sack(ofo, (struct us_tcp_sack_block[4]){{0}}, 4), 0);
    assert_int_equal(us_pkt_pool_available(f->pool), avail);
}

/* The memory limit refuses what would exceed it, and counts the queue as it
 * would be after the insert. */
static void memory_limit(void **state)
{
    struct fixture *f = *state;
    struct us_tcp_ofo *ofo = &f->ofo;
    uint32_t ts = (uint32_t)BUF_SIZE + (uint32_t)sizeof(struct us_pkt);
    uint32_t limit = 3 * ts, rcv_nxt = X;
    unsigned avail = us_pkt_pool_available(f->pool);

    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(us_tcp_ofo_insert(ofo, seq_segment(f, X + 100 + 200 * i, 100),
                                           X + 100 + 200 * i, rcv_nxt, limit),
                         US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->truesize, limit);
    assert_int_equal(
        us_tcp_ofo_insert(ofo, seq_segment(f, X + 1000, 100), X + 1000, rcv_nxt, limit),
        US_TCP_OFO_DROPPED_LIMIT);
    assert_int_equal(us_pkt_pool_available(f->pool), avail - 3);
    /* A duplicate is a duplicate even at the limit. */
    assert_int_equal(us_tcp_ofo_insert(ofo, seq_segment(f, X + 100, 50), X + 100, rcv_nxt, limit),
                     US_TCP_OFO_DUPLICATE);
    /* Replacing a held segment costs nothing net. */
    assert_int_equal(us_tcp_ofo_insert(ofo, seq_segment(f, X + 100, 150), X + 100, rcv_nxt, limit),
                     US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->count, 3);
    assert_int_equal(ofo->truesize, limit);
    /* Replacing two with one frees room. */
    assert_int_equal(us_tcp_ofo_insert(ofo, seq_segment(f, X + 300, 300), X + 300, rcv_nxt, limit),
                     US_TCP_OFO_QUEUED);
    assert_int_equal(ofo->count, 2);
    assert_int_equal(
        us_tcp_ofo_insert(ofo, seq_segment(f, X + 1000, 100), X + 1000, rcv_nxt, limit),
        US_TCP_OFO_QUEUED);
    check_invariants(ofo, rcv_nxt);
    us_tcp_ofo_purge(ofo);
    assert_true(us_tcp_ofo_empty(ofo));
    assert_int_equal(ofo->bytes, 0);
    assert_int_equal(ofo->truesize, 0);
    assert_int_equal(us_pkt_pool_available(f->pool), avail);
}

/* A purge of a large, fragmented queue returns every buffer. */
static void purge_no_leak(void **state)
{
    struct fixture *f = *state;
    struct us_rng rng;
    us_rng_seed(&rng, 7);
    for (int i = 0; i < 2000; i++) {
        uint32_t seq = X + 1 + (uint32_t)us_rng_below(&rng, 200000);
        ins(f, seq, 1 + (uint32_t)us_rng_below(&rng, MSS), X);
    }
    check_invariants(&f->ofo, X);
    assert_true(f->ofo.count > 0);
    us_tcp_ofo_purge(&f->ofo);
    assert_true(us_tcp_ofo_empty(&f->ofo));
    assert_int_equal(us_pkt_pool_available(f->pool), POOL_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reassemble_random, setup, teardown),
        cmocka_unit_test_setup_teardown(sack_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(sack_refill, setup, teardown),
        cmocka_unit_test_setup_teardown(overlaps, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(purge_no_leak, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
