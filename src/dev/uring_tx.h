/* Batched writes through io_uring: a burst of frames, each its own
 * IORING_OP_WRITE on one descriptor, handed to the kernel with a single
 * io_uring_enter() instead of one write() each. Raw system calls and
 * <linux/io_uring.h> only (no liburing). Used by the TAP device's transmit
 * path; every frame still reaches the descriptor as one whole write, in
 * order (see uring_tx.c), so what goes on the wire is what write() sends. */
#ifndef USTACK_DEV_URING_TX_H
#define USTACK_DEV_URING_TX_H

#include <stddef.h>
#include <stdint.h>

struct us_uring_tx;

/* A ring for bursts of up to `entries` writes (a power of two, at most
 * 4096), or NULL where io_uring is missing or refused (ENOSYS, or
 * kernel.io_uring_disabled): the caller then writes one frame at a time. */
struct us_uring_tx *us_uring_tx_new(unsigned entries);
/* The ring's burst size. */
unsigned us_uring_tx_entries(const struct us_uring_tx *r);
/* Writes buf[i] (len[i] bytes) to fd for i < n (n <= the ring's entries),
 * in order, and waits for all of them: res[i] is what write() would have
 * returned, the byte count or -errno. Returns n, or -errno when the ring
 * itself failed before any write was handed over (then nothing was written
 * and the caller can fall back to write()). */
int us_uring_tx_write(struct us_uring_tx *r, int fd, void *const *buf, const uint32_t *len, int n,
                      int *res);
void us_uring_tx_free(struct us_uring_tx *r);

#endif
