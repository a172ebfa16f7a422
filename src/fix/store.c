/* The FIX durable store: one append-only log per session directory.
 *
 * Record (little endian):
 *   0  u8  magic 0xF1        4  u32 payload length
 *   1  u8  type              8  u32 CRC32 of bytes 0..7 (the header)
 *   2  u16 0                12  u32 CRC32 of the payload
 *   16 payload
 * Types: HEADER (first record: "USFIXST1", creation time, next sender,
 * next target), MSG (u64 MsgSeqNum + message bytes), SEQ (u64 next sender,
 * u64 next target).
 *
 * A record cut short, or one whose CRC fails and which ends exactly at the
 * end of the file, or an all-zero tail, is a torn last write and is
 * truncated. A bad record with good-looking data after it is corruption:
 * the open fails and nothing is changed. */
#include "ustack/fix_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define REC_MAGIC  0xF1u
#define REC_HDR    16u
#define REC_MAX    (64u << 20)
#define FILE_MAGIC "USFIXST1"
#define LOG_NAME   "store.log"
#define HEADER_LEN 32u
#define SEQ_LEN    16u

enum { REC_HEADER = 1, REC_MSG = 2, REC_SEQ = 3 };

struct idx {
    uint64_t seq;
    uint64_t off; /* of the message bytes */
    uint32_t len;
};

struct us_fix_store {
    int fd;
    char dir[512];
    char path[600];
    struct us_fix_store_opts opts;
    uint64_t end; /* file length = where the next record goes */
    uint64_t next_sender, next_target;
    int64_t created;
    struct idx *idx;
    size_t n, cap;
    unsigned char *rbuf;
    size_t rcap;
    unsigned unsynced;
    uint64_t first_unsynced_ms;
    struct us_fix_store_stats stats;
    char err[768];
};

/* CRC32 (IEEE 802.3, reflected 0xEDB88320), as zlib's crc32(). */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void set_err(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *buf, size_t cap, const char *fmt, ...)
{
    if (!buf || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

static uint64_t now_ms(const struct us_fix_store *st)
{
    if (st->opts.clock_ms)
        return st->opts.clock_ms(st->opts.hook_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int do_fsync(struct us_fix_store *st, int fd)
{
    st->stats.fsyncs++;
    int rc = st->opts.fsync_fn ? st->opts.fsync_fn(fd, st->opts.hook_ctx) : fsync(fd);
    return rc;
}

int us_fix_store_sync(struct us_fix_store *st)
{
    if (do_fsync(st, st->fd) < 0) {
        int e = errno;
        set_err(st->err, sizeof(st->err), "fsync %s: %s", st->path, strerror(e));
        errno = e;
        return -1;
    }
    st->unsynced = 0;
    return 0;
}

static int sync_dir(struct us_fix_store *st)
{
    int dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || do_fsync(st, dfd) < 0) {
        int e = errno;
        set_err(st->err, sizeof(st->err), "fsync directory %s: %s", st->dir, strerror(e));
        if (dfd >= 0)
            close(dfd);
        errno = e;
        return -1;
    }
    close(dfd);
    return 0;
}

/* Writes one record (header + up to two payload pieces) at st->end. On a
 * failed or short write the file is cut back, so no half record is left
 * in front of later ones. */
static int write_record_fd(struct us_fix_store *st, int fd, uint64_t *end, int type, const void *a,
                           size_t alen, const void *b, size_t blen)
{
    unsigned char h[REC_HDR];
    size_t len = alen + blen;
    if (len > REC_MAX) {
        set_err(st->err, sizeof(st->err), "%s: record of %zu bytes is above the limit %u", st->path,
                len, REC_MAX);
        errno = EMSGSIZE;
        return -1;
    }
    h[0] = REC_MAGIC;
    h[1] = (unsigned char)type;
    h[2] = h[3] = 0;
    put32(h + 4, (uint32_t)len);
    put32(h + 8, crc32_update(0, h, 8));
    put32(h + 12, crc32_update(crc32_update(0, a, alen), b, blen));
    struct iovec iov[3] = {{h, REC_HDR}, {(void *)a, alen}, {(void *)b, blen}};
    size_t total = REC_HDR + len, done = 0;
    int iovcnt = blen ? 3 : 2;
    while (done < total) {
        ssize_t w = pwritev(fd, iov, iovcnt, (off_t)(*end + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            set_err(st->err, sizeof(st->err), "write %s: %s", st->path, strerror(e));
            if (ftruncate(fd, (off_t)*end) < 0) {
                /* nothing more to do: the next open truncates the torn tail */
            }
            errno = e;
            return -1;
        }
        done += (size_t)w;
        /* Advance the iovecs past what was written (short writes are rare). */
        size_t skip = (size_t)w;
        for (int i = 0; i < iovcnt && skip; i++) {
            size_t s = skip < iov[i].iov_len ? skip : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + s;
            iov[i].iov_len -= s;
            skip -= s;
        }
    }
    *end += total;
    st->stats.records_written++;
    return 0;
}

/* After a record: sync as the policy says. */
static int after_write(struct us_fix_store *st)
{
    switch (st->opts.sync) {
    case US_FIX_STORE_SYNC_ALWAYS:
        return us_fix_store_sync(st);
    case US_FIX_STORE_SYNC_GROUP: {
        uint64_t t = 0;
        if (st->opts.every_ms)
            t = now_ms(st);
        if (st->unsynced++ == 0)
            st->first_unsynced_ms = t;
        if ((st->opts.every_n && st->unsynced >= st->opts.every_n) ||
            (st->opts.every_ms && t - st->first_unsynced_ms >= st->opts.every_ms))
            return us_fix_store_sync(st);
        return 0;
    }
    case US_FIX_STORE_SYNC_NEVER:
        return 0;
    }
    return 0;
}

int us_fix_store_poll(struct us_fix_store *st)
{
    if (st->opts.sync == US_FIX_STORE_SYNC_GROUP && st->unsynced && st->opts.every_ms &&
        now_ms(st) - st->first_unsynced_ms >= st->opts.every_ms)
        return us_fix_store_sync(st);
    return 0;
}

static void header_payload(unsigned char *p, int64_t created, uint64_t sender, uint64_t target)
{
    memcpy(p, FILE_MAGIC, 8);
    put64(p + 8, (uint64_t)created);
    put64(p + 16, sender);
    put64(p + 24, target);
}

static int index_add(struct us_fix_store *st, uint64_t seq, uint64_t off, uint32_t len)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 1024;
        struct idx *p = realloc(st->idx, cap * sizeof(*p));
        if (!p) {
            set_err(st->err, sizeof(st->err), "%s: index: out of memory", st->path);
            errno = ENOMEM;
            return -1;
        }
        st->idx = p;
        st->cap = cap;
    }
    st->idx[st->n++] = (struct idx){seq, off, len};
    return 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Reads the log; returns the offset where good records end (a torn tail
 * starts there), or -1 on corruption (err set, errno EILSEQ). */
static long long scan(struct us_fix_store *st, const unsigned char *m, uint64_t size)
{
    uint64_t off = 0;
    while (off < size) {
        uint64_t rem = size - off;
        const unsigned char *r = m + off;
        if (rem < REC_HDR)
            return (long long)off; /* torn header */
        if (r[0] != REC_MAGIC || get32(r + 8) != crc32_update(0, r, 8)) {
            if (all_zero(r, rem))
                return (long long)off; /* zero-filled tail of an unfinished append */
            set_err(st->err, sizeof(st->err),
                    "%s: corrupt record header at offset %llu (%llu bytes follow); "
                    "the store is not opened",
                    st->path, (unsigned long long)off, (unsigned long long)rem);
            errno = EILSEQ;
            return -1;
        }
        uint32_t len = get32(r + 4);
        if (len > REC_MAX || REC_HDR + (uint64_t)len > rem)
            return (long long)off; /* cut short: torn */
        const unsigned char *p = r + REC_HDR;
        if (get32(r + 12) != crc32_update(0, p, len)) {
            if (REC_HDR + (uint64_t)len == rem)
                return (long long)off; /* the last record, half written */
            set_err(st->err, sizeof(st->err),
                    "%s: CRC mismatch in record at offset %llu (%llu bytes follow); "
                    "the store is not opened",
                    st->path, (unsigned long long)off, (unsigned long long)(rem - REC_HDR - len));
            errno = EILSEQ;
            return -1;
        }
        int type = r[1];
        const char *bad = NULL;
        if (off == 0 && (type != REC_HEADER || len != HEADER_LEN || memcmp(p, FILE_MAGIC, 8)))
            bad = "not a ustack FIX store (no header record)";
        else if (type == REC_HEADER && off == 0) {
            st->created = (int64_t)get64(p + 8);
            st->next_sender = get64(p + 16);
            st->next_target = get64(p + 24);
        } else if (type == REC_SEQ && len == SEQ_LEN) {
            st->next_sender = get64(p);
            st->next_target = get64(p + 8);
        } else if (type == REC_MSG && len >= 8) {
            uint64_t seq = get64(p);
            if (st->n && seq <= st->idx[st->n - 1].seq)
                bad = "MsgSeqNum not increasing";
            else if (index_add(st, seq, off + REC_HDR + 8, len - 8) < 0)
                return -1;
            else if (st->next_sender <= seq)
                st->next_sender = seq + 1;
        } else
            bad = "unknown record type";
        if (bad) {
            set_err(st->err, sizeof(st->err), "%s: record at offset %llu: %s", st->path,
                    (unsigned long long)off, bad);
            errno = EILSEQ;
            return -1;
        }
        off += REC_HDR + len;
    }
    return (long long)off;
}

/* A new log with just its header record, synced. */
static int write_header(struct us_fix_store *st, int fd, int64_t now)
{
    unsigned char hp[HEADER_LEN];
    uint64_t end = 0;
    header_payload(hp, now, 1, 1);
    if (write_record_fd(st, fd, &end, REC_HEADER, hp, sizeof(hp), NULL, 0) < 0)
        return -1;
    if (do_fsync(st, fd) < 0) {
        set_err(st->err, sizeof(st->err), "fsync %s: %s", st->path, strerror(errno));
        return -1;
    }
    st->end = end;
    st->created = now;
    st->next_sender = st->next_target = 1;
    st->n = 0;
    st->unsynced = 0;
    return 0;
}

static int load(struct us_fix_store *st, int64_t now)
{
    struct stat sb;
    if (fstat(st->fd, &sb) < 0) {
        set_err(st->err, sizeof(st->err), "stat %s: %s", st->path, strerror(errno));
        return -1;
    }
    uint64_t size = (uint64_t)sb.st_size;
    long long good = 0;
    if (size) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, st->fd, 0);
        if (m == MAP_FAILED) {
            set_err(st->err, sizeof(st->err), "mmap %s: %s", st->path, strerror(errno));
            return -1;
        }
        good = scan(st, m, size);
        int e = errno;
        munmap(m, size);
        if (good < 0) {
            errno = e;
            return -1;
        }
    }
    if ((uint64_t)good < size) {
        if (ftruncate(st->fd, good) < 0 || do_fsync(st, st->fd) < 0) {
            set_err(st->err, sizeof(st->err), "truncating the torn tail of %s: %s", st->path,
                    strerror(errno));
            return -1;
        }
        st->stats.torn_bytes_truncated = size - (uint64_t)good;
    }
    if (good == 0) /* new, or even the header was torn */
        return write_header(st, st->fd, now) < 0 || sync_dir(st) < 0 ? -1 : 0;
    st->end = (uint64_t)good;
    return 0;
}

struct us_fix_store *us_fix_store_open(const char *dir, const struct us_fix_store_opts *opts,
                                       int64_t now, char *err, size_t errlen)
{
    pthread_once(&crc_once, crc_init);
    struct us_fix_store *st = calloc(1, sizeof(*st));
    if (!st) {
        set_err(err, errlen, "fix store %s: out of memory", dir);
        errno = ENOMEM;
        return NULL;
    }
    st->fd = -1;
    if (opts)
        st->opts = *opts;
    if (snprintf(st->dir, sizeof(st->dir), "%s", dir) >= (int)sizeof(st->dir)) {
        set_err(err, errlen, "fix store directory name too long: %s", dir);
        free(st);
        errno = ENAMETOOLONG;
        return NULL;
    }
    snprintf(st->path, sizeof(st->path), "%s/%s", st->dir, LOG_NAME);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        set_err(err, errlen, "mkdir %s: %s", dir, strerror(errno));
        int e = errno;
        free(st);
        errno = e;
        return NULL;
    }
    st->fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->fd < 0)
        set_err(st->err, sizeof(st->err), "open %s: %s", st->path, strerror(errno));
    if (st->fd < 0 || load(st, now) < 0) {
        int e = errno;
        set_err(err, errlen, "%s", st->err);
        if (st->fd >= 0)
            close(st->fd);
        free(st->idx);
        free(st);
        errno = e;
        return NULL;
    }
    return st;
}

void us_fix_store_close(struct us_fix_store *st)
{
    if (!st)
        return;
    if (st->unsynced)
        us_fix_store_sync(st);
    close(st->fd);
    free(st->idx);
    free(st->rbuf);
    free(st);
}

int us_fix_store_put(struct us_fix_store *st, uint64_t seq, const void *msg, size_t len)
{
    if (seq == 0 || (st->n && seq <= st->idx[st->n - 1].seq)) {
        set_err(st->err, sizeof(st->err), "%s: MsgSeqNum %llu is not above the last stored (%llu)",
                st->path, (unsigned long long)seq,
                (unsigned long long)(st->n ? st->idx[st->n - 1].seq : 0));
        errno = EINVAL;
        return -1;
    }
    unsigned char s[8];
    put64(s, seq);
    uint64_t off = st->end;
    /* The index entry first (it may allocate), so a failure leaves no record. */
    if (index_add(st, seq, off + REC_HDR + 8, (uint32_t)len) < 0)
        return -1;
    if (write_record_fd(st, st->fd, &st->end, REC_MSG, s, 8, msg, len) < 0) {
        st->n--;
        return -1;
    }
    if (st->next_sender <= seq)
        st->next_sender = seq + 1;
    return after_write(st);
}

static int write_seq(struct us_fix_store *st, uint64_t sender, uint64_t target)
{
    unsigned char p[SEQ_LEN];
    put64(p, sender);
    put64(p + 8, target);
    if (write_record_fd(st, st->fd, &st->end, REC_SEQ, p, sizeof(p), NULL, 0) < 0)
        return -1;
    st->next_sender = sender;
    st->next_target = target;
    return after_write(st);
}

uint64_t us_fix_store_next_sender(const struct us_fix_store *st)
{
    return st->next_sender;
}

uint64_t us_fix_store_next_target(const struct us_fix_store *st)
{
    return st->next_target;
}

int64_t us_fix_store_creation_time(const struct us_fix_store *st)
{
    return st->created;
}

int us_fix_store_set_next_sender(struct us_fix_store *st, uint64_t seq)
{
    /* Going below a stored message would let a recovery undo it (the log
     * says max(record, last stored + 1)); only a reset may do that. */
    if (seq == 0 || (st->n && seq <= st->idx[st->n - 1].seq)) {
        set_err(st->err, sizeof(st->err),
                "%s: NextSenderMsgSeqNum %llu is not above the last stored message (%llu)",
                st->path, (unsigned long long)seq,
                (unsigned long long)(st->n ? st->idx[st->n - 1].seq : 0));
        errno = EINVAL;
        return -1;
    }
    return write_seq(st, seq, st->next_target);
}

int us_fix_store_set_next_target(struct us_fix_store *st, uint64_t seq)
{
    if (seq == 0) {
        set_err(st->err, sizeof(st->err), "%s: NextTargetMsgSeqNum 0", st->path);
        errno = EINVAL;
        return -1;
    }
    return write_seq(st, st->next_sender, seq);
}

int us_fix_store_incr_next_target(struct us_fix_store *st)
{
    return write_seq(st, st->next_sender, st->next_target + 1);
}

size_t us_fix_store_count(const struct us_fix_store *st)
{
    return st->n;
}

static size_t lower_bound(const struct us_fix_store *st, uint64_t seq)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->idx[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int read_at(struct us_fix_store *st, const struct idx *e, void *buf)
{
    size_t done = 0;
    while (done < e->len) {
        ssize_t r = pread(st->fd, (char *)buf + done, e->len - done, (off_t)(e->off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int er = r < 0 ? errno : EIO;
            set_err(st->err, sizeof(st->err), "read %s at %llu: %s", st->path,
                    (unsigned long long)e->off, r < 0 ? strerror(er) : "short file");
            errno = er;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

int us_fix_store_get_range(struct us_fix_store *st, uint64_t begin, uint64_t end,
                           us_fix_store_msg_fn fn, void *ctx)
{
    for (size_t i = lower_bound(st, begin); i < st->n && (end == 0 || st->idx[i].seq <= end); i++) {
        const struct idx *e = &st->idx[i];
        if (e->len > st->rcap) {
            unsigned char *p = realloc(st->rbuf, e->len);
            if (!p) {
                errno = ENOMEM;
                return -1;
            }
            st->rbuf = p;
            st->rcap = e->len;
        }
        if (read_at(st, e, st->rbuf) < 0)
            return -1;
        int rc = fn(e->seq, st->rbuf, e->len, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

long us_fix_store_get(struct us_fix_store *st, uint64_t seq, void *buf, size_t cap)
{
    size_t i = lower_bound(st, seq);
    if (i == st->n || st->idx[i].seq != seq)
        return 0;
    if (st->idx[i].len <= cap && read_at(st, &st->idx[i], buf) < 0)
        return -1;
    return (long)st->idx[i].len;
}

int us_fix_store_reset(struct us_fix_store *st, int64_t now)
{
    char tmp[640];
    snprintf(tmp, sizeof(tmp), "%s.new", st->path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        set_err(st->err, sizeof(st->err), "open %s: %s", tmp, strerror(errno));
        return -1;
    }
    uint64_t old_end = st->end, old_s = st->next_sender, old_t = st->next_target;
    int64_t old_c = st->created;
    size_t old_n = st->n;
    if (write_header(st, fd, now) < 0 || rename(tmp, st->path) < 0) {
        int e = errno;
        set_err(st->err, sizeof(st->err), "reset %s: %s", st->path, strerror(e));
        close(fd);
        unlink(tmp);
        st->end = old_end, st->next_sender = old_s, st->next_target = old_t;
        st->created = old_c, st->n = old_n;
        errno = e;
        return -1;
    }
    close(st->fd);
    st->fd = fd;
    return sync_dir(st); /* the rename itself durable */
}

const char *us_fix_store_error(const struct us_fix_store *st)
{
    return st->err;
}

void us_fix_store_get_stats(const struct us_fix_store *st, struct us_fix_store_stats *out)
{
    *out = st->stats;
}

int us_fix_store_session_dir(char *buf, size_t cap, const char *file_store_path,
                             const char *begin_string, const char *sender, const char *target)
{
    return snprintf(buf, cap, "%s/%s-%s-%s", file_store_path, begin_string, sender, target);
}
