/* The FIX session's durable store: every sent message by MsgSeqNum(34), the
 * two next sequence numbers and the session's creation time, in one
 * append-only file per session directory (QuickFIX's FileStorePath).
 *
 * The store holds opaque message bytes; it does not parse FIX.
 *
 * Durability: us_fix_store_put() returns only once the record is written (and,
 * by the fsync policy, synced), so the session calls it BEFORE the message
 * goes to the transport. One log holds messages and sequence numbers in
 * order, so recovery always sees a prefix of the history, and the next
 * sender number is never behind a stored message (it is recovered as
 * max(last recorded NextSenderMsgSeqNum, last stored MsgSeqNum + 1)).
 *
 * What GROUP costs: a message sent after its put returned but before its
 * fsync is lost from the store by an OS crash or power loss; on recovery
 * NextSenderMsgSeqNum is then below numbers the counterparty has seen, and
 * it answers our next message with "MsgSeqNum too low" and a Logout (manual
 * repair). Group commit without that hole is the caller's to do: put a
 * batch, us_fix_store_sync(), then hand the batch to the transport.
 *
 * Not thread-safe: one store belongs to one session. */
#ifndef USTACK_FIX_STORE_H
#define USTACK_FIX_STORE_H

#include <stddef.h>
#include <stdint.h>

enum us_fix_store_sync {
    /* fsync after every record; put returns with the record on disk (default). */
    US_FIX_STORE_SYNC_ALWAYS = 0,
    /* Group commit: fsync once every_n records are unsynced, or once the
     * oldest unsynced record is every_ms old (checked at each write and at
     * us_fix_store_poll()). Records are write()n before put returns, so a killed
     * process loses nothing; an OS crash or power loss can lose the last
     * unsynced records (< every_n of them, or up to every_ms of them). */
    US_FIX_STORE_SYNC_GROUP = 1,
    /* Never fsync: safe against kill -9 (the kernel has the data), not
     * against an OS crash or power loss. For tests and benchmarks. */
    US_FIX_STORE_SYNC_NEVER = 2,
};

struct us_fix_store_opts {
    enum us_fix_store_sync sync;
    unsigned every_n;  /* US_FIX_STORE_SYNC_GROUP: 0 = no count limit */
    unsigned every_ms; /* US_FIX_STORE_SYNC_GROUP: 0 = no time limit (both 0: only
                          us_fix_store_sync() and close sync) */
    /* Hooks for tests; NULL = fsync(2) and CLOCK_MONOTONIC in ms. */
    int (*fsync_fn)(int fd, void *ctx);
    uint64_t (*clock_ms)(void *ctx);
    void *hook_ctx;
};

struct us_fix_store_stats {
    uint64_t records_written;
    uint64_t fsyncs;
    uint64_t torn_bytes_truncated; /* at open: bytes of a torn last record cut off */
};

struct us_fix_store;

/* Opens (creating if needed) the store in directory dir (created if
 * missing, one level). now: Unix seconds, the creation time if the store is
 * new. opts may be NULL (US_FIX_STORE_SYNC_ALWAYS). On failure returns NULL,
 * sets errno and writes a message naming the path (and offset) to err.
 * A torn last record is truncated (everything before is kept); a bad record
 * followed by more data (corruption, not a torn write) fails the open with
 * EILSEQ and the offset, and nothing is changed on disk. */
struct us_fix_store *us_fix_store_open(const char *dir, const struct us_fix_store_opts *opts,
                                       int64_t now, char *err, size_t errlen);
void us_fix_store_close(struct us_fix_store *st); /* syncs unsynced records first */

/* Stores message `seq` (must be above every stored one since the last
 * reset). Returns 0 when the record is written and synced as the policy
 * says; -1 with errno and us_fix_store_error() on failure. */
int us_fix_store_put(struct us_fix_store *st, uint64_t seq, const void *msg, size_t len);

/* NextSenderMsgSeqNum / NextTargetMsgSeqNum. Setting one writes a record
 * with both (synced as the policy says). */
uint64_t us_fix_store_next_sender(const struct us_fix_store *st);
uint64_t us_fix_store_next_target(const struct us_fix_store *st);
int us_fix_store_set_next_sender(struct us_fix_store *st, uint64_t seq);
int us_fix_store_set_next_target(struct us_fix_store *st, uint64_t seq);
int us_fix_store_incr_next_target(struct us_fix_store *st);
int64_t us_fix_store_creation_time(const struct us_fix_store *st);

/* Calls fn for each stored message with begin <= seq <= end, in order
 * (end 0 = no upper limit, as EndSeqNo(16) = 0). The bytes are valid only
 * during the call. fn returning nonzero stops the walk with that value.
 * Returns 0, fn's value, or -1 with errno on a read error. */
typedef int (*us_fix_store_msg_fn)(uint64_t seq, const void *msg, size_t len, void *ctx);
int us_fix_store_get_range(struct us_fix_store *st, uint64_t begin, uint64_t end,
                           us_fix_store_msg_fn fn, void *ctx);
/* One message into buf: returns its length (which may exceed cap: then
 * nothing is copied), 0 if not stored, -1 with errno on error. */
long us_fix_store_get(struct us_fix_store *st, uint64_t seq, void *buf, size_t cap);
size_t us_fix_store_count(const struct us_fix_store *st);

/* New day / ResetSeqNumFlag(141): both next numbers back to 1, messages
 * dropped, creation time = now. Durable and atomic (a new file fsynced and
 * renamed over the old, then the directory fsynced), whatever the policy. */
int us_fix_store_reset(struct us_fix_store *st, int64_t now);

/* Group commit: syncs if the oldest unsynced record is every_ms old.
 * Call from the session's timer. us_fix_store_sync() syncs now. */
int us_fix_store_poll(struct us_fix_store *st);
int us_fix_store_sync(struct us_fix_store *st);

const char *us_fix_store_error(const struct us_fix_store *st);
void us_fix_store_get_stats(const struct us_fix_store *st, struct us_fix_store_stats *out);

/* The session directory under FileStorePath, as QuickFIX names its files:
 * "<path>/<BeginString>-<SenderCompID>-<TargetCompID>". Returns snprintf's value. */
int us_fix_store_session_dir(char *buf, size_t cap, const char *file_store_path,
                             const char *begin_string, const char *sender, const char *target);

#endif
