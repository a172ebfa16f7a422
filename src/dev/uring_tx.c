/* Batched writes through io_uring, with the raw system calls (see
 * uring_tx.h). The submission queue holds one burst at a time.
 *
 * Order: where the descriptor can be written without blocking (FMODE_NOWAIT:
 * a TAP on current kernels), io_uring_enter() performs the writes itself,
 * one after another in submission order, and their completions are there
 * when it returns. Where it cannot, the kernel hands the writes to worker
 * threads that may run them side by side. So the first burst whose writes
 * are not all complete when io_uring_enter() returns switches the ring to
 * linked writes (IOSQE_IO_LINK: each waits for the one before, and a failed
 * one cancels the rest with -ECANCELED, which the caller sends again with
 * write()). Linked writes cost more: each after the first runs from task
 * work, not inline (on a loaded 2-core machine stack -> kernel bulk went
 * from 530-750 MB/s unlinked to about 260 MB/s linked). */
#include "dev/uring_tx.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct us_uring_tx {
    int fd;
    unsigned entries;
    bool link; /* the kernel did not complete a burst inline: link them */
    /* Submission ring: head moved by the kernel, tail by us. */
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    struct io_uring_sqe *sqes;
    /* Completion ring: tail moved by the kernel, head by us. */
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map;
    size_t sq_map_len, cq_map_len, sqes_len;
};

/* res[i] before its completion arrives. */
#define NO_RESULT INT_MIN

static int uring_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int uring_enter(int fd, unsigned submit, unsigned wait)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, wait ? IORING_ENTER_GETEVENTS : 0,
                        NULL, 0);
}

void us_uring_tx_free(struct us_uring_tx *r)
{
    if (!r)
        return;
    if (r->sqes)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map)
        munmap(r->sq_map, r->sq_map_len);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static void *map(int fd, size_t len, off_t what)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, what);
    return p == MAP_FAILED ? NULL : p;
}

struct us_uring_tx *us_uring_tx_new(unsigned entries)
{
    if (entries == 0 || entries > 4096 || (entries & (entries - 1)))
        return NULL;
    struct us_uring_tx *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    /* SUBMIT_ALL (Linux 5.18): one bad entry does not stop the others. */
    p.flags = IORING_SETUP_SUBMIT_ALL;
    r->fd = uring_setup(entries, &p);
    if (r->fd < 0 && errno == EINVAL) {
        memset(&p, 0, sizeof(p));
        r->fd = uring_setup(entries, &p);
    }
    if (r->fd < 0 || !(p.features & IORING_FEAT_SINGLE_MMAP)) {
        us_uring_tx_free(r); /* no io_uring, or older than Linux 5.4 */
        return NULL;
    }
    r->entries = p.sq_entries;
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    r->sq_map_len = r->cq_map_len = sq_len > cq_len ? sq_len : cq_len;
    r->sq_map = r->cq_map = map(r->fd, r->sq_map_len, IORING_OFF_SQ_RING);
    r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = r->sq_map ? map(r->fd, r->sqes_len, IORING_OFF_SQES) : NULL;
    if (!r->sqes) {
        us_uring_tx_free(r);
        return NULL;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return r;
}

unsigned us_uring_tx_entries(const struct us_uring_tx *r)
{
    return r->entries;
}

/* Takes the completions waiting into res (by user_data); returns how many. */
static int reap(struct us_uring_tx *r, int *res, int n)
{
    unsigned head = *r->cq_head, tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    int got = 0;
    for (; head != tail; head++, got++) {
        const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
        if (c->user_data < (uint64_t)n)
            res[c->user_data] = c->res;
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    return got;
}

int us_uring_tx_write(struct us_uring_tx *r, int fd, void *const *buf, const uint32_t *len, int n,
                      int *res)
{
    if (n <= 0)
        return 0;
    if ((unsigned)n > r->entries)
        return -EINVAL;
    unsigned tail = *r->sq_tail, mask = *r->sq_mask;
    for (int i = 0; i < n; i++) {
        unsigned idx = (tail + (unsigned)i) & mask;
        struct io_uring_sqe *e = &r->sqes[idx];
        memset(e, 0, sizeof(*e));
        e->opcode = IORING_OP_WRITE;
        e->fd = fd;
        e->addr = (uint64_t)(uintptr_t)buf[i];
        e->len = len[i];
        e->off = (uint64_t)-1; /* the descriptor's position, as write() */
        e->flags = r->link && i + 1 < n ? IOSQE_IO_LINK : 0;
        e->user_data = (uint64_t)i;
        r->sq_array[idx] = idx;
        res[i] = NO_RESULT;
    }
    __atomic_store_n(r->sq_tail, tail + (unsigned)n, __ATOMIC_RELEASE);
    /* Submit without waiting: writes done inline are complete on return. */
    int submitted = 0, rc;
    while (submitted < n) {
        rc = uring_enter(r->fd, (unsigned)(n - submitted), 0);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            int e = rc < 0 ? errno : EIO;
            if (submitted == 0) {
                /* Nothing was taken: withdraw the entries, the ring stays usable. */
                __atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
                return -e;
            }
            /* Not expected with valid entries: withdraw the rest unwritten. */
            __atomic_store_n(r->sq_tail, tail + (unsigned)submitted, __ATOMIC_RELEASE);
            break;
        }
        submitted += rc;
    }
    /* Collect every completion; a signal may end a wait early. Bounded: a
     * wait that fails for another reason leaves the rest -EIO. */
    int done = reap(r, res, n);
    if (done < submitted)
        r->link = true; /* handed to workers: keep later bursts in order */
    while (done < submitted) {
        rc = uring_enter(r->fd, 0, (unsigned)(submitted - done));
        if (rc < 0 && errno != EINTR)
            break;
        done += reap(r, res, n);
    }
    for (int i = 0; i < n; i++)
        if (res[i] == NO_RESULT)
            res[i] = -EIO;
    return n;
}
