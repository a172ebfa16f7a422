/* The FIX durable store: messages by MsgSeqNum and both next numbers
 * survive a reopen; a torn last record (cut at every byte) is truncated
 * and the rest kept; corruption in the middle refuses the open; the fsync
 * policies sync when they say; reset starts at 1 durably. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ustack/fix_store.h"

static char root[64];
static char dir[128];
static char logpath[160];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/test_fix_store.XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(dir, sizeof(dir), "%s/FIX.4.4-US-QF", root);
    snprintf(logpath, sizeof(logpath), "%s/store.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct us_fix_store *open_or_fail(const struct us_fix_store_opts *o, int64_t now)
{
    char err[256];
    struct us_fix_store *st = us_fix_store_open(dir, o, now, err, sizeof(err));
    if (!st)
        fail_msg("us_fix_store_open: %s", err);
    return st;
}

/* A message whose bytes say which one it is. */
static size_t msg_for(uint64_t seq, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, "8=FIX.4.4\0019=5\00135=D\00134=%llu\00111=order-%llu\001",
                            (unsigned long long)seq, (unsigned long long)seq);
}

static void put_msg(struct us_fix_store *st, uint64_t seq)
{
    char m[128];
    size_t n = msg_for(seq, m, sizeof(m));
    if (us_fix_store_put(st, seq, m, n) != 0)
        fail_msg("put %llu: %s", (unsigned long long)seq, us_fix_store_error(st));
}

static void assert_msg(struct us_fix_store *st, uint64_t seq)
{
    char want[128], got[128];
    size_t n = msg_for(seq, want, sizeof(want));
    long r = us_fix_store_get(st, seq, got, sizeof(got));
    assert_int_equal(r, (long)n);
    assert_memory_equal(got, want, n);
}

struct walk {
    uint64_t seqs[64];
    size_t n;
    int bad;
};

static int collect(uint64_t seq, const void *msg, size_t len, void *ctx)
{
    struct walk *w = ctx;
    char want[128];
    size_t n = msg_for(seq, want, sizeof(want));
    if (n != len || memcmp(want, msg, n))
        w->bad++;
    w->seqs[w->n++] = seq;
    return 0;
}

static long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

static void test_put_get_range(void **state)
{
    (void)state;
    struct us_fix_store *st = open_or_fail(NULL, 1000);
    assert_int_equal(us_fix_store_next_sender(st), 1);
    assert_int_equal(us_fix_store_next_target(st), 1);
    for (uint64_t s = 1; s <= 10; s++)
        put_msg(st, s);
    put_msg(st, 12); /* 11 skipped (e.g. a test hook making a gap) */
    assert_int_equal(us_fix_store_next_sender(st), 13);
    assert_int_equal(us_fix_store_count(st), 11);
    assert_msg(st, 5);
    char b[4];
    assert_int_equal(us_fix_store_get(st, 11, b, sizeof(b)), 0); /* not stored */
    assert_true(us_fix_store_get(st, 5, b, sizeof(b)) > 4);      /* too small: length only */

    struct walk w = {0};
    assert_int_equal(us_fix_store_get_range(st, 3, 7, collect, &w), 0);
    assert_int_equal(w.n, 5);
    assert_int_equal(w.seqs[0], 3);
    assert_int_equal(w.seqs[4], 7);
    memset(&w, 0, sizeof(w));
    /* EndSeqNo(16) = 0: to the end; a hole is simply not there. */
    assert_int_equal(us_fix_store_get_range(st, 9, 0, collect, &w), 0);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.seqs[0], 9);
    assert_int_equal(w.seqs[1], 10);
    assert_int_equal(w.seqs[2], 12);
    assert_int_equal(w.bad, 0);

    /* A MsgSeqNum not above the last stored one is refused. */
    assert_int_equal(us_fix_store_put(st, 12, "x", 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(us_fix_store_error(st), "MsgSeqNum 12"));
    us_fix_store_close(st);
}

static void test_reopen_recovers(void **state)
{
    (void)state;
    struct us_fix_store *st = open_or_fail(NULL, 1700000000);
    for (uint64_t s = 1; s <= 5; s++)
        put_msg(st, s);
    assert_int_equal(us_fix_store_set_next_target(st, 7), 0);
    assert_int_equal(us_fix_store_incr_next_target(st), 0);
    put_msg(st, 6); /* after the last SEQ record: the next sender follows it */
    us_fix_store_close(st);

    st = open_or_fail(NULL, 1800000000);
    assert_int_equal(us_fix_store_next_sender(st), 7);
    assert_int_equal(us_fix_store_next_target(st), 8);
    assert_int_equal(us_fix_store_creation_time(st), 1700000000);
    assert_int_equal(us_fix_store_count(st), 6);
    for (uint64_t s = 1; s <= 6; s++)
        assert_msg(st, s);
    /* The next sender cannot go behind a stored message. */
    assert_int_equal(us_fix_store_set_next_sender(st, 4), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(us_fix_store_set_next_sender(st, 20), 0);
    us_fix_store_close(st);
    st = open_or_fail(NULL, 0);
    assert_int_equal(us_fix_store_next_sender(st), 20);
    us_fix_store_close(st);
}

static void *read_all(const char *p, long *len)
{
    *len = file_size(p);
    assert_true(*len > 0);
    char *b = malloc((size_t)*len);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

static void write_all(const char *p, const void *b, long len)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
}

static void test_torn_last_record_every_offset(void **state)
{
    (void)state;
    struct us_fix_store *st = open_or_fail(NULL, 5);
    put_msg(st, 1);
    put_msg(st, 2);
    assert_int_equal(us_fix_store_set_next_target(st, 4), 0);
    us_fix_store_close(st);
    long before = file_size(logpath);
    st = open_or_fail(NULL, 5);
    put_msg(st, 3);
    us_fix_store_close(st);
    long full;
    char *img = read_all(logpath, &full);
    assert_true(full > before + 16);

    /* kill -9 (or power loss) in the middle of the last append. */
    for (long cut = before; cut < full; cut++) {
        write_all(logpath, img, cut);
        st = open_or_fail(NULL, 99);
        struct us_fix_store_stats ss;
        us_fix_store_get_stats(st, &ss);
        if (ss.torn_bytes_truncated != (uint64_t)(cut - before))
            fail_msg("cut at %ld: truncated %llu, want %ld", cut,
                     (unsigned long long)ss.torn_bytes_truncated, cut - before);
        assert_int_equal(file_size(logpath), before);
        assert_int_equal(us_fix_store_count(st), 2);
        assert_int_equal(us_fix_store_next_sender(st), 3);
        assert_int_equal(us_fix_store_next_target(st), 4);
        assert_int_equal(us_fix_store_creation_time(st), 5);
        assert_msg(st, 1);
        assert_msg(st, 2);
        put_msg(st, 3); /* and the log goes on cleanly */
        us_fix_store_close(st);
        st = open_or_fail(NULL, 99);
        assert_int_equal(us_fix_store_count(st), 3);
        assert_msg(st, 3);
        us_fix_store_close(st);
    }

    /* The last record complete in length but its bytes not all written
     * (CRC fails, ends at the end of the file): torn too. */
    img[full - 2] ^= 0x20;
    write_all(logpath, img, full);
    st = open_or_fail(NULL, 99);
    assert_int_equal(us_fix_store_count(st), 2);
    assert_int_equal(file_size(logpath), before);
    us_fix_store_close(st);
    img[full - 2] ^= 0x20;

    /* A zero-filled tail (a file extended but its data never written). */
    char *z = calloc(1, (size_t)full + 40);
    memcpy(z, img, (size_t)full);
    write_all(logpath, z, full + 40);
    st = open_or_fail(NULL, 99);
    assert_int_equal(us_fix_store_count(st), 3);
    assert_int_equal(file_size(logpath), full);
    us_fix_store_close(st);
    free(z);
    free(img);
}

static void test_corruption_in_the_middle_refuses_open(void **state)
{
    (void)state;
    struct us_fix_store *st = open_or_fail(NULL, 5);
    for (uint64_t s = 1; s <= 3; s++)
        put_msg(st, s);
    us_fix_store_close(st);
    long len;
    char *img = read_all(logpath, &len);
    char m1[128];
    size_t n1 = msg_for(1, m1, sizeof(m1));
    /* Header record 16+32, then message 1's record 16+8+n1; flip a byte of
     * message 2's payload. */
    long rec2 = 48 + 16 + 8 + (long)n1;
    img[rec2 + 16 + 8 + 3] ^= 0x40;
    write_all(logpath, img, len);
    char err[256];
    assert_null(us_fix_store_open(dir, NULL, 5, err, sizeof(err)));
    assert_int_equal(errno, EILSEQ);
    assert_non_null(strstr(err, "CRC mismatch"));
    char at[64];
    snprintf(at, sizeof(at), "offset %ld", rec2);
    assert_non_null(strstr(err, at));
    assert_non_null(strstr(err, logpath));
    assert_int_equal(file_size(logpath), len); /* nothing truncated */

    /* A broken record header in the middle: the same. */
    img[rec2 + 16 + 8 + 3] ^= 0x40;
    img[rec2 + 5] ^= 0x01; /* its length */
    write_all(logpath, img, len);
    assert_null(us_fix_store_open(dir, NULL, 5, err, sizeof(err)));
    assert_int_equal(errno, EILSEQ);
    assert_non_null(strstr(err, "corrupt record header"));
    free(img);
}

struct hook {
    unsigned fsyncs;
    uint64_t now;
    int fail;
};

static int count_fsync(int fd, void *ctx)
{
    (void)fd;
    struct hook *h = ctx;
    h->fsyncs++;
    if (h->fail) {
        errno = EIO;
        return -1;
    }
    return 0;
}

static uint64_t fake_clock(void *ctx)
{
    return ((struct hook *)ctx)->now;
}

static void test_fsync_policies(void **state)
{
    (void)state;
    struct hook h = {0};
    struct us_fix_store_opts o = {.sync = US_FIX_STORE_SYNC_ALWAYS,
                                  .fsync_fn = count_fsync,
                                  .clock_ms = fake_clock,
                                  .hook_ctx = &h};
    /* Default: one fsync per put and per sequence-number update. */
    struct us_fix_store *st = open_or_fail(&o, 1);
    unsigned base = h.fsyncs; /* the new file's header and its directory */
    assert_int_equal(base, 2);
    for (uint64_t s = 1; s <= 10; s++)
        put_msg(st, s);
    assert_int_equal(h.fsyncs - base, 10);
    assert_int_equal(us_fix_store_incr_next_target(st), 0);
    assert_int_equal(h.fsyncs - base, 11);
    us_fix_store_close(st);

    /* Group commit by count: every 4th record. */
    h.fsyncs = 0;
    o.sync = US_FIX_STORE_SYNC_GROUP;
    o.every_n = 4;
    st = open_or_fail(&o, 1);
    assert_int_equal(h.fsyncs, 0); /* an existing, clean log: nothing to sync */
    for (uint64_t s = 11; s <= 20; s++)
        put_msg(st, s);
    assert_int_equal(h.fsyncs, 2);
    us_fix_store_close(st); /* the last 2 synced at close */
    assert_int_equal(h.fsyncs, 3);

    /* Group commit by time: 100 ms after the oldest unsynced record. */
    h.fsyncs = 0;
    o.every_n = 0;
    o.every_ms = 100;
    st = open_or_fail(&o, 1);
    h.now = 1000;
    put_msg(st, 21);
    h.now = 1050;
    put_msg(st, 22);
    assert_int_equal(us_fix_store_poll(st), 0);
    assert_int_equal(h.fsyncs, 0);
    h.now = 1099;
    assert_int_equal(us_fix_store_poll(st), 0);
    assert_int_equal(h.fsyncs, 0);
    h.now = 1100; /* exactly 100 ms after record 21 */
    assert_int_equal(us_fix_store_poll(st), 0);
    assert_int_equal(h.fsyncs, 1);
    h.now = 1150;
    put_msg(st, 23);
    h.now = 1250;
    put_msg(st, 24); /* the write itself notices the age */
    assert_int_equal(h.fsyncs, 2);
    us_fix_store_close(st);

    /* Never: no fsync for records; still readable after reopen. */
    h.fsyncs = 0;
    o.sync = US_FIX_STORE_SYNC_NEVER;
    st = open_or_fail(&o, 1);
    for (uint64_t s = 25; s <= 40; s++)
        put_msg(st, s);
    assert_int_equal(us_fix_store_set_next_target(st, 9), 0);
    assert_int_equal(h.fsyncs, 0);
    us_fix_store_close(st);
    st = open_or_fail(&o, 1);
    assert_int_equal(us_fix_store_count(st), 40);
    assert_int_equal(us_fix_store_next_target(st), 9);
    us_fix_store_close(st);

    /* A failing fsync fails the put, with the path and errno text. */
    o.sync = US_FIX_STORE_SYNC_ALWAYS;
    st = open_or_fail(&o, 1);
    h.fail = 1;
    char m[16] = "8=FIX.4.4";
    assert_int_equal(us_fix_store_put(st, 41, m, strlen(m)), -1);
    assert_int_equal(errno, EIO);
    assert_non_null(strstr(us_fix_store_error(st), logpath));
    assert_non_null(strstr(us_fix_store_error(st), strerror(EIO)));
    h.fail = 0;
    us_fix_store_close(st);
}

static void test_reset(void **state)
{
    (void)state;
    struct hook h = {0};
    struct us_fix_store_opts o = {
        .sync = US_FIX_STORE_SYNC_NEVER, .fsync_fn = count_fsync, .hook_ctx = &h};
    struct us_fix_store *st = open_or_fail(&o, 100);
    for (uint64_t s = 1; s <= 5; s++)
        put_msg(st, s);
    assert_int_equal(us_fix_store_set_next_target(st, 9), 0);
    h.fsyncs = 0;
    assert_int_equal(us_fix_store_reset(st, 86500), 0);
    /* Durable whatever the policy: the new file and the directory. */
    assert_int_equal(h.fsyncs, 2);
    assert_int_equal(us_fix_store_next_sender(st), 1);
    assert_int_equal(us_fix_store_next_target(st), 1);
    assert_int_equal(us_fix_store_count(st), 0);
    assert_int_equal(us_fix_store_creation_time(st), 86500);
    put_msg(st, 1);
    us_fix_store_close(st);
    st = open_or_fail(&o, 0);
    assert_int_equal(us_fix_store_creation_time(st), 86500);
    assert_int_equal(us_fix_store_count(st), 1);
    assert_int_equal(us_fix_store_next_sender(st), 2);
    assert_int_equal(us_fix_store_next_target(st), 1);
    assert_msg(st, 1);
    us_fix_store_close(st);
}

/* A real kill -9 in the middle of a stream of puts: every message whose
 * put returned is there after the reopen, and the next sender follows the
 * last one. (NEVER: the kernel has the data once write() returned.) */
static void test_kill_9_mid_stream(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        struct us_fix_store_opts o = {.sync = US_FIX_STORE_SYNC_NEVER};
        char err[256];
        struct us_fix_store *st = us_fix_store_open(dir, &o, 7, err, sizeof(err));
        if (!st)
            _exit(2);
        for (uint64_t s = 1;; s++) {
            char m[128];
            size_t n = msg_for(s, m, sizeof(m));
            if (us_fix_store_put(st, s, m, n) != 0 || write(p[1], &s, sizeof(s)) != sizeof(s))
                _exit(3);
        }
    }
    close(p[1]);
    uint64_t last = 0, s;
    /* Kill it once 2000 puts have returned (bounded: the child never stops). */
    while (last < 2000 && read(p[0], &s, sizeof(s)) == sizeof(s))
        last = s;
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    while (read(p[0], &s, sizeof(s)) == sizeof(s)) /* puts that returned before the kill */
        last = s;
    close(p[0]);
    assert_true(last >= 2000);

    struct us_fix_store *st = open_or_fail(NULL, 0);
    assert_true(us_fix_store_count(st) >= last);
    for (uint64_t q = 1; q <= last; q++)
        assert_msg(st, q);
    assert_int_equal(us_fix_store_next_sender(st), us_fix_store_count(st) + 1);
    assert_int_equal(us_fix_store_creation_time(st), 7);
    us_fix_store_close(st);
}

static void test_open_errors_name_the_path(void **state)
{
    (void)state;
    char err[256], bad[200];
    snprintf(bad, sizeof(bad), "%s/no/such/dir", root);
    errno = 0;
    assert_null(us_fix_store_open(bad, NULL, 0, err, sizeof(err)));
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, bad));
    assert_non_null(strstr(err, strerror(ENOENT)));

    /* Not a store at all. */
    mkdir(dir, 0755);
    write_all(logpath, "hello world, this is not a store", 32);
    assert_null(us_fix_store_open(dir, NULL, 0, err, sizeof(err)));
    assert_int_equal(errno, EILSEQ);
    assert_non_null(strstr(err, logpath));

    char name[200];
    assert_true(us_fix_store_session_dir(name, sizeof(name), "store", "FIX.4.2", "US", "QF") > 0);
    assert_string_equal(name, "store/FIX.4.2-US-QF");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_record_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_in_the_middle_refuses_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fsync_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_mid_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors_name_the_path, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
