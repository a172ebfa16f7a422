/* The TCP sender's retransmission queue: records pushed across the 2^32 wrap
 * stay contiguous and in order while the ring wraps and grows; the binary
 * search finds the record holding a byte and nothing outside the queue; the
 * sacked, lost and retrans byte counts follow every mark, split, pop, trim
 * and SACK reneging exactly; the FIN stays on the last half of a split
 * record; no leaked rings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tcp/tcp_rtx.h"
#include "tcp/tcp_seq.h"

#define BASE  0xfffff000u /* the first sequence number; 4096 bytes below the wrap */
#define SEG   1448u
#define STATE (US_TCP_SEG_SACKED | US_TCP_SEG_LOST | US_TCP_SEG_RETRANS)

/* A distinct transmission time for the k-th record pushed. */
static us_time_ns tx_time(uint32_t k)
{
    return (us_time_ns)k * 1000 + 7;
}

/* What the queue must hold always: a power-of-two ring with room for its
 * records, each non-empty and meeting the next, and byte counts that are
 * the sums of the lengths of the records carrying each flag. */
static void check_queue(const struct us_tcp_rtx *q)
{
    uint32_t sacked = 0, lost = 0, retrans = 0;
    assert_true(q->n <= q->cap);
    assert_int_equal(q->cap & (q->cap - 1), 0);
    for (uint32_t i = 0; i < q->n; i++) {
        const struct us_tcp_seg *g = us_tcp_rtx_at(q, i);
        assert_true(us_seq_lt(g->seq, g->end));
        if (i + 1 < q->n)
            assert_int_equal(g->end, us_tcp_rtx_at(q, i + 1)->seq);
        if (g->flags & US_TCP_SEG_SACKED)
            sacked += us_tcp_seg_len(g);
        if (g->flags & US_TCP_SEG_LOST)
            lost += us_tcp_seg_len(g);
        if (g->flags & US_TCP_SEG_RETRANS)
            retrans += us_tcp_seg_len(g);
    }
    assert_int_equal(q->sacked, sacked);
    assert_int_equal(q->lost, lost);
    assert_int_equal(q->retrans, retrans);
}

static void expect_counts(const struct us_tcp_rtx *q, uint32_t sacked, uint32_t lost,
                          uint32_t retrans)
{
    assert_int_equal(q->sacked, sacked);
    assert_int_equal(q->lost, lost);
    assert_int_equal(q->retrans, retrans);
    check_queue(q);
}

/* ---- wrap, growth and search ---- */

static uint32_t seq_of(uint32_t k)
{
    return BASE + k * SEG;
}

static void push_k(struct us_tcp_rtx *q, uint32_t k)
{
    assert_int_equal(us_tcp_rtx_push(q, seq_of(k), seq_of(k + 1), false, tx_time(k)), 0);
}

/* The queue holds exactly the records first .. next - 1 of SEG bytes each,
 * in order; find() lands on the right one from its first, a middle and its
 * last byte, and reports q->n for bytes before the head or from the end on. */
static void check_records(const struct us_tcp_rtx *q, uint32_t first, uint32_t next)
{
    check_queue(q);
    assert_int_equal(q->n, next - first);
    for (uint32_t i = 0; i < q->n; i++) {
        const struct us_tcp_seg *g = us_tcp_rtx_at(q, i);
        assert_int_equal(g->seq, seq_of(first + i));
        assert_int_equal(g->end, seq_of(first + i + 1));
        assert_int_equal(g->xmit_time, tx_time(first + i));
        assert_int_equal(g->flags, 0);
        assert_int_equal(us_tcp_rtx_find(q, g->seq), i);
        assert_int_equal(us_tcp_rtx_find(q, g->seq + SEG / 2), i);
        assert_int_equal(us_tcp_rtx_find(q, g->end - 1), i);
    }
    uint32_t una = seq_of(first), max = seq_of(next);
    assert_int_equal(us_tcp_rtx_find(q, una - 1), q->n);
    assert_int_equal(us_tcp_rtx_find(q, una - 100000), q->n);
    assert_int_equal(us_tcp_rtx_find(q, max), q->n);
    assert_int_equal(us_tcp_rtx_find(q, max + 1), q->n);
    assert_int_equal(us_tcp_rtx_find(q, max + 100000), q->n);
}

/* Records from just below 2^32 on; pops in between make the ring wrap
 * (head + n > cap) before each growth, 64 -> 128 -> 256. */
static void wrap_and_grow(void **state)
{
    struct us_tcp_rtx q = {0};
    assert_int_equal(us_tcp_rtx_find(&q, BASE), 0);

    uint32_t first = 0, next = 0;
    while (next < 40)
        push_k(&q, next++);
    assert_int_equal(q.cap, 64);
    check_records(&q, first, next);

    /* One record holds the wrap of sequence space: found from both sides. */
    uint32_t straddle = q.n;
    for (uint32_t i = 0; i < q.n; i++)
        if (us_tcp_rtx_at(&q, i)->end < us_tcp_rtx_at(&q, i)->seq)
            straddle = i;
    assert_true(straddle < q.n);
    assert_int_equal(us_tcp_rtx_find(&q, UINT32_MAX), straddle);
    assert_int_equal(us_tcp_rtx_find(&q, 0), straddle);

    for (int i = 0; i < 20; i++) {
        us_tcp_rtx_pop(&q);
        first++;
    }
    check_records(&q, first, next);
    /* Fill the ring: it wraps around its end, and has not grown. */
    while (q.n < q.cap)
        push_k(&q, next++);
    assert_int_equal(q.cap, 64);
    assert_true(q.head + q.n > q.cap);
    check_records(&q, first, next);

    /* One more grows it, the wrapped records unrolled in order. */
    push_k(&q, next++);
    assert_int_equal(q.cap, 128);
    check_records(&q, first, next);

    for (int i = 0; i < 50; i++) {
        us_tcp_rtx_pop(&q);
        first++;
    }
    check_records(&q, first, next);
    while (q.n < q.cap)
        push_k(&q, next++);
    assert_int_equal(q.cap, 128);
    assert_true(q.head + q.n > q.cap);
    check_records(&q, first, next);
    push_k(&q, next++);
    assert_int_equal(q.cap, 256);
    check_records(&q, first, next);

    /* Emptied from the head, it finds nothing; refilled, it goes on. */
    while (q.n > 0) {
        us_tcp_rtx_pop(&q);
        first++;
    }
    check_records(&q, first, next);
    for (int i = 0; i < 10; i++)
        push_k(&q, next++);
    assert_int_equal(q.cap, 256);
    check_records(&q, first, next);

    us_tcp_rtx_free(&q);
    assert_null(q.seg);
    assert_int_equal(q.n, 0);
}

/* ---- byte counts ---- */

#define NREC 12

/* Records of different lengths from just below the wrap. */
static void push_varied(struct us_tcp_rtx *q, uint32_t *len, uint32_t n, uint32_t seq)
{
    for (uint32_t i = 0; i < n; i++) {
        len[i] = 500 + 37 * i;
        assert_int_equal(us_tcp_rtx_push(q, seq, seq + len[i], i == n - 1, tx_time(i)), 0);
        seq += len[i];
    }
}

static uint8_t flags_of(const struct us_tcp_rtx *q, uint32_t i)
{
    return us_tcp_rtx_at(q, i)->flags & (uint8_t)~US_TCP_SEG_FIN;
}

static void byte_counts(void **state)
{
    struct us_tcp_rtx q = {0};
    uint32_t len[NREC];
    push_varied(&q, len, NREC, BASE + 2000);
    expect_counts(&q, 0, 0, 0);
    assert_int_equal(us_tcp_rtx_at(&q, NREC - 1)->flags, US_TCP_SEG_FIN);

    /* Lost: 1, 3, 5, 7. */
    uint32_t lost = 0;
    for (uint32_t i = 1; i <= 7; i += 2) {
        us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, i));
        lost += len[i];
        assert_int_equal(flags_of(&q, i), US_TCP_SEG_LOST);
    }
    expect_counts(&q, 0, lost, 0);
    /* Twice counts once. */
    us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, 3));
    us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, 7));
    expect_counts(&q, 0, lost, 0);

    /* Retransmitted: 3 (lost) and 9 (not); the time is the retransmission's. */
    us_tcp_rtx_mark_retrans(&q, us_tcp_rtx_at(&q, 3), 5000);
    us_tcp_rtx_mark_retrans(&q, us_tcp_rtx_at(&q, 9), 6000);
    uint32_t retrans = len[3] + len[9];
    expect_counts(&q, 0, lost, retrans);
    assert_int_equal(us_tcp_rtx_at(&q, 3)->xmit_time, 5000);
    assert_int_equal(us_tcp_rtx_at(&q, 9)->xmit_time, 6000);
    assert_int_equal(us_tcp_rtx_at(&q, 8)->xmit_time, tx_time(8));
    assert_int_equal(flags_of(&q, 3),
                     US_TCP_SEG_LOST | US_TCP_SEG_RETRANS | US_TCP_SEG_EVER_RETRANS);
    assert_int_equal(flags_of(&q, 9), US_TCP_SEG_RETRANS | US_TCP_SEG_EVER_RETRANS);
    /* Again: counted once, the time moves on. */
    us_tcp_rtx_mark_retrans(&q, us_tcp_rtx_at(&q, 9), 7000);
    expect_counts(&q, 0, lost, retrans);
    assert_int_equal(us_tcp_rtx_at(&q, 9)->xmit_time, 7000);

    /* SACKed: 2 and 4, the second twice. */
    us_tcp_rtx_mark_sacked(&q, us_tcp_rtx_at(&q, 2));
    us_tcp_rtx_mark_sacked(&q, us_tcp_rtx_at(&q, 4));
    us_tcp_rtx_mark_sacked(&q, us_tcp_rtx_at(&q, 4));
    uint32_t sacked = len[2] + len[4];
    expect_counts(&q, sacked, lost, retrans);
    assert_int_equal(flags_of(&q, 4), US_TCP_SEG_SACKED);

    /* A SACK for 3, lost and retransmitted: it leaves lost and retrans,
     * keeps its history (Karn). */
    us_tcp_rtx_mark_sacked(&q, us_tcp_rtx_at(&q, 3));
    sacked += len[3];
    lost -= len[3];
    retrans -= len[3];
    expect_counts(&q, sacked, lost, retrans);
    assert_int_equal(flags_of(&q, 3), US_TCP_SEG_SACKED | US_TCP_SEG_EVER_RETRANS);

    /* 9's retransmission is lost too: from retrans to lost, still "ever
     * retransmitted". */
    us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, 9));
    retrans -= len[9];
    lost += len[9];
    expect_counts(&q, sacked, lost, retrans);
    assert_int_equal(retrans, 0);
    assert_int_equal(flags_of(&q, 9), US_TCP_SEG_LOST | US_TCP_SEG_EVER_RETRANS);
    assert_int_equal(us_tcp_rtx_at(&q, 9)->xmit_time, 7000);

    /* 5: lost, retransmitted, lost again; lost counted once throughout. */
    us_tcp_rtx_mark_retrans(&q, us_tcp_rtx_at(&q, 5), 8000);
    expect_counts(&q, sacked, lost, len[5]);
    us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, 5));
    expect_counts(&q, sacked, lost, 0);
    assert_int_equal(flags_of(&q, 5), US_TCP_SEG_LOST | US_TCP_SEG_EVER_RETRANS);

    /* What the peer SACKed is not lost. */
    us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, 2));
    us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, 3));
    expect_counts(&q, sacked, lost, 0);
    assert_int_equal(flags_of(&q, 2), US_TCP_SEG_SACKED);
    assert_int_equal(flags_of(&q, 3), US_TCP_SEG_SACKED | US_TCP_SEG_EVER_RETRANS);

    /* The FIN bit is not state: the last record, lost, keeps it. */
    us_tcp_rtx_mark_lost(&q, us_tcp_rtx_at(&q, NREC - 1));
    lost += len[NREC - 1];
    expect_counts(&q, sacked, lost, 0);
    assert_int_equal(us_tcp_rtx_at(&q, NREC - 1)->flags, US_TCP_SEG_FIN | US_TCP_SEG_LOST);
    /* Untouched records stay clean. */
    assert_int_equal(us_tcp_rtx_at(&q, 0)->flags, 0);
    assert_int_equal(us_tcp_rtx_at(&q, 6)->flags, 0);

    us_tcp_rtx_free(&q);
}

/* ---- split ---- */

#define MODEL_MAX 512

/* What the queue should hold, kept by hand beside it. */
struct model {
    struct us_tcp_seg seg[MODEL_MAX];
    uint32_t n;
    uint32_t nxt;    /* the next sequence number to send */
    uint32_t pushed; /* records pushed, for their transmission times */
};

static void model_push(struct us_tcp_rtx *q, struct model *m, uint32_t len, bool fin)
{
    uint32_t seq = m->nxt;
    us_time_ns now = tx_time(m->pushed++);
    assert_true(m->n < MODEL_MAX);
    assert_int_equal(us_tcp_rtx_push(q, seq, seq + len, fin, now), 0);
    m->seg[m->n++] = (struct us_tcp_seg){
        .seq = seq, .end = seq + len, .xmit_time = now, .flags = fin ? US_TCP_SEG_FIN : 0};
    m->nxt = seq + len;
}

static void model_pop(struct us_tcp_rtx *q, struct model *m)
{
    us_tcp_rtx_pop(q);
    for (uint32_t i = 1; i < m->n; i++)
        m->seg[i - 1] = m->seg[i];
    m->n--;
}

static void model_lost(struct us_tcp_rtx *q, struct model *m, uint32_t i)
{
    us_tcp_rtx_mark_lost(q, us_tcp_rtx_at(q, i));
    m->seg[i].flags |= US_TCP_SEG_LOST;
}

static void check_model(const struct us_tcp_rtx *q, const struct model *m)
{
    check_queue(q);
    assert_int_equal(q->n, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        const struct us_tcp_seg *g = us_tcp_rtx_at(q, i);
        assert_int_equal(g->seq, m->seg[i].seq);
        assert_int_equal(g->end, m->seg[i].end);
        assert_int_equal(g->xmit_time, m->seg[i].xmit_time);
        assert_int_equal(g->flags, m->seg[i].flags);
    }
}

/* Splits record i at its middle and checks the halves against the original:
 * same state and time, the FIN on the tail only, the byte counts as before,
 * the rest of the queue the same. */
static void split_middle(struct us_tcp_rtx *q, struct model *m, uint32_t i)
{
    struct us_tcp_seg orig = m->seg[i];
    uint32_t at = orig.seq + us_tcp_seg_len(&orig) / 2;
    uint32_t sacked = q->sacked, lost = q->lost, retrans = q->retrans;

    assert_int_equal(us_tcp_rtx_split(q, i, at), 0);

    const struct us_tcp_seg *g = us_tcp_rtx_at(q, i), *h = us_tcp_rtx_at(q, i + 1);
    assert_int_equal(g->seq, orig.seq);
    assert_int_equal(g->end, at);
    assert_int_equal(h->seq, at);
    assert_int_equal(h->end, orig.end);
    assert_int_equal(g->flags & STATE, orig.flags & STATE);
    assert_int_equal(h->flags & STATE, orig.flags & STATE);
    assert_int_equal(g->flags & US_TCP_SEG_EVER_RETRANS, orig.flags & US_TCP_SEG_EVER_RETRANS);
    assert_int_equal(h->flags & US_TCP_SEG_EVER_RETRANS, orig.flags & US_TCP_SEG_EVER_RETRANS);
    assert_int_equal(g->flags & US_TCP_SEG_FIN, 0);
    assert_int_equal(h->flags & US_TCP_SEG_FIN, orig.flags & US_TCP_SEG_FIN);
    assert_int_equal(g->xmit_time, orig.xmit_time);
    assert_int_equal(h->xmit_time, orig.xmit_time);
    expect_counts(q, sacked, lost, retrans);
    assert_int_equal(us_tcp_rtx_find(q, at - 1), i);
    assert_int_equal(us_tcp_rtx_find(q, at), i + 1);

    /* The model, by hand. */
    assert_true(m->n < MODEL_MAX);
    for (uint32_t j = m->n; j > i + 1; j--)
        m->seg[j] = m->seg[j - 1];
    m->n++;
    m->seg[i].end = at;
    m->seg[i].flags &= (uint8_t)~US_TCP_SEG_FIN;
    m->seg[i + 1] = orig;
    m->seg[i + 1].seq = at;
    check_model(q, m);
}

static void split(void **state)
{
    static struct model m;
    struct us_tcp_rtx q = {0};
    m.n = 0;
    m.nxt = BASE;
    m.pushed = 0;

    /* A small queue ending with a FIN; 2 straddles the wrap. */
    for (uint32_t i = 0; i < 6; i++)
        model_push(&q, &m, SEG, i == 5);
    check_model(&q, &m);
    model_lost(&q, &m, 5);
    model_lost(&q, &m, 2);
    us_tcp_rtx_mark_retrans(&q, us_tcp_rtx_at(&q, 2), 900);
    m.seg[2].flags |= US_TCP_SEG_RETRANS | US_TCP_SEG_EVER_RETRANS;
    m.seg[2].xmit_time = 900;
    us_tcp_rtx_mark_sacked(&q, us_tcp_rtx_at(&q, 4));
    m.seg[4].flags |= US_TCP_SEG_SACKED;
    check_model(&q, &m);
    uint32_t lost = 2 * SEG, retrans = SEG, sacked = SEG;
    expect_counts(&q, sacked, lost, retrans);

    /* The last record, lost and with the FIN: the FIN goes to the tail. */
    split_middle(&q, &m, 5);
    assert_int_equal(us_tcp_rtx_at(&q, 5)->flags, US_TCP_SEG_LOST);
    assert_int_equal(us_tcp_rtx_at(&q, 6)->flags, US_TCP_SEG_LOST | US_TCP_SEG_FIN);
    expect_counts(&q, sacked, lost, retrans);
    /* Lost, retransmitted, across the wrap: the records after it move up. */
    split_middle(&q, &m, 2);
    expect_counts(&q, sacked, lost, retrans);
    /* A SACKed one, a clean one, the first one. */
    split_middle(&q, &m, 5);
    split_middle(&q, &m, 1);
    split_middle(&q, &m, 0);
    expect_counts(&q, sacked, lost, retrans);
    /* Marks on a half count only its bytes. */
    uint32_t half = us_tcp_seg_len(us_tcp_rtx_at(&q, 0));
    model_lost(&q, &m, 0);
    lost += half;
    expect_counts(&q, sacked, lost, retrans);
    check_model(&q, &m);

    /* Empty it, then make the ring wrap around its end without filling it:
     * a split moves records across the end of the array. */
    while (m.n > 0)
        model_pop(&q, &m);
    expect_counts(&q, 0, 0, 0);
    while (q.head + q.n <= q.cap || q.n < q.cap / 2)
        model_push(&q, &m, SEG, false);
    uint32_t cap0 = q.cap; /* whatever the ring grew to above */
    assert_true(cap0 >= 16);
    assert_true(q.n < q.cap);
    uint32_t i = q.cap - q.head - 2; /* two records before the array's end */
    assert_true(i + 2 < q.n);
    model_lost(&q, &m, i);
    split_middle(&q, &m, i);
    assert_int_equal(q.cap, cap0);

    /* A full ring, wrapped: the split must grow it. */
    while (q.n < q.cap)
        model_push(&q, &m, SEG, false);
    assert_true(q.head != 0);
    model_lost(&q, &m, q.n / 2);
    split_middle(&q, &m, q.n / 2);
    assert_int_equal(q.cap, 2 * cap0);
    assert_int_equal(q.n, cap0 + 1);

    /* Full again, the last record the FIN, split at the end. */
    model_pop(&q, &m);
    while (q.n < q.cap - 1)
        model_push(&q, &m, SEG, false);
    model_push(&q, &m, SEG, true);
    assert_int_equal(q.n, q.cap);
    model_lost(&q, &m, q.n - 1);
    split_middle(&q, &m, q.n - 1);
    assert_int_equal(q.cap, 4 * cap0);
    assert_int_equal(us_tcp_rtx_at(&q, q.n - 1)->flags, US_TCP_SEG_LOST | US_TCP_SEG_FIN);
    assert_int_equal(us_tcp_rtx_at(&q, q.n - 2)->flags, US_TCP_SEG_LOST);
    check_model(&q, &m);

    us_tcp_rtx_free(&q);
}

/* ---- pop and trim_head ---- */

static void pop_and_trim(void **state)
{
    struct us_tcp_rtx q = {0};
    uint32_t len[NREC];
    /* Record 0 is [-600, -100), record 1 holds the wrap. */
    push_varied(&q, len, NREC, 0u - 600);

    /* A SACKed head leaves; the count drops by its length. */
    us_tcp_rtx_mark_sacked(&q, us_tcp_rtx_at(&q, 0));
    us_tcp_rtx_mark_sacked(&q, us_tcp_rtx_at(&q, 5));
    expect_counts(&q, len[0] + len[5], 0, 0);
    uint32_t next = us_tcp_rtx_at(&q, 1)->seq;
    us_tcp_rtx_pop(&q);
    assert_int_equal(q.n, NREC - 1);
    assert_int_equal(us_tcp_rtx_at(&q, 0)->seq, next);
    expect_counts(&q, len[5], 0, 0);

    /* A lost, retransmitted head acknowledged in part, across the wrap: lost
     * and retrans drop by the bytes acknowledged, no more. */
    struct us_tcp_seg *g = us_tcp_rtx_at(&q, 0);
    assert_true(g->end < g->seq);
    us_tcp_rtx_mark_lost(&q, g);
    us_tcp_rtx_mark_retrans(&q, g, 9000);
    uint32_t head_len = len[1];
    expect_counts(&q, len[5], head_len, head_len);
    uint32_t seq = g->seq, end = g->end, ack = 10;
    uint32_t trimmed = ack - seq;
    assert_true(trimmed > 0 && trimmed < head_len);
    us_tcp_rtx_trim_head(&q, ack);
    g = us_tcp_rtx_at(&q, 0);
    assert_int_equal(g->seq, ack);
    assert_int_equal(g->end, end);
    assert_int_equal(g->flags, US_TCP_SEG_LOST | US_TCP_SEG_RETRANS | US_TCP_SEG_EVER_RETRANS);
    expect_counts(&q, len[5], head_len - trimmed, head_len - trimmed);
    assert_int_equal(us_tcp_rtx_find(&q, ack - 1), q.n);
    assert_int_equal(us_tcp_rtx_find(&q, ack), 0);

    /* A second partial ACK of the same head, one byte. */
    us_tcp_rtx_trim_head(&q, ack + 1);
    expect_counts(&q, len[5], head_len - trimmed - 1, head_len - trimmed - 1);

    /* The rest of it acknowledged: lost and retrans empty. */
    us_tcp_rtx_pop(&q);
    expect_counts(&q, len[5], 0, 0);

    /* A lost head, not retransmitted, trimmed. */
    g = us_tcp_rtx_at(&q, 0);
    us_tcp_rtx_mark_lost(&q, g);
    expect_counts(&q, len[5], len[2], 0);
    us_tcp_rtx_trim_head(&q, g->seq + 100);
    expect_counts(&q, len[5], len[2] - 100, 0);
    us_tcp_rtx_pop(&q);
    expect_counts(&q, len[5], 0, 0);

    /* Pop up to the SACKed one; trimming it lowers sacked the same way. */
    while (us_tcp_rtx_at(&q, 0)->flags == 0)
        us_tcp_rtx_pop(&q);
    assert_int_equal(us_tcp_rtx_at(&q, 0)->flags, US_TCP_SEG_SACKED);
    us_tcp_rtx_trim_head(&q, us_tcp_rtx_at(&q, 0)->seq + 7);
    expect_counts(&q, len[5] - 7, 0, 0);
    us_tcp_rtx_pop(&q);
    expect_counts(&q, 0, 0, 0);

    /* Everything acknowledged. */
    while (q.n > 0)
        us_tcp_rtx_pop(&q);
    expect_counts(&q, 0, 0, 0);
    us_tcp_rtx_free(&q);
}

/* ---- SACK reneging ---- */

static void clear_sacks(void **state)
{
    struct us_tcp_rtx q = {0};
    uint32_t first = 0, next = 0;
    /* A wrapped ring of 60. */
    while (next < 50)
        push_k(&q, next++);
    while (first < 30) {
        us_tcp_rtx_pop(&q);
        first++;
    }
    while (next < 90)
        push_k(&q, next++);
    assert_true(q.head + q.n > q.cap);

    /* Every seventh retransmitted and then SACKed, every third SACKed (once
     * only), every fifth lost (the SACKed ones stay not lost). */
    uint32_t sacked = 0, lost = 0;
    for (uint32_t i = 0; i < q.n; i++) {
        struct us_tcp_seg *g = us_tcp_rtx_at(&q, i);
        if (i % 7 == 0) {
            us_tcp_rtx_mark_retrans(&q, g, 1);
            us_tcp_rtx_mark_sacked(&q, g);
        }
        if (i % 3 == 0)
            us_tcp_rtx_mark_sacked(&q, g);
        if (i % 3 == 0 || i % 7 == 0)
            sacked += us_tcp_seg_len(g);
        if (i % 5 == 0) {
            us_tcp_rtx_mark_lost(&q, g);
            if (i % 3 != 0 && i % 7 != 0)
                lost += us_tcp_seg_len(g);
        }
    }
    assert_true(sacked > 0 && lost > 0);
    expect_counts(&q, sacked, lost, 0);

    us_tcp_rtx_clear_sacks(&q);
    expect_counts(&q, 0, lost, 0);
    for (uint32_t i = 0; i < q.n; i++) {
        const struct us_tcp_seg *g = us_tcp_rtx_at(&q, i);
        assert_int_equal(g->flags & US_TCP_SEG_SACKED, 0);
        /* The rest of each record's state stays. */
        if (i % 7 == 0)
            assert_int_equal(g->flags, US_TCP_SEG_EVER_RETRANS);
        else if (i % 5 == 0 && i % 3 != 0)
            assert_int_equal(g->flags, US_TCP_SEG_LOST);
        else
            assert_int_equal(g->flags, 0);
    }

    /* What was SACKed may now be deemed lost. */
    struct us_tcp_seg *g = us_tcp_rtx_at(&q, 3);
    us_tcp_rtx_mark_lost(&q, g);
    lost += us_tcp_seg_len(g);
    expect_counts(&q, 0, lost, 0);

    /* And SACKed again. */
    us_tcp_rtx_mark_sacked(&q, g);
    lost -= us_tcp_seg_len(g);
    expect_counts(&q, us_tcp_seg_len(g), lost, 0);

    us_tcp_rtx_free(&q);
    assert_int_equal(q.sacked, 0);
    assert_int_equal(q.lost, 0);
    assert_int_equal(q.retrans, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrap_and_grow), cmocka_unit_test(byte_counts), cmocka_unit_test(split),
        cmocka_unit_test(pop_and_trim),  cmocka_unit_test(clear_sacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
