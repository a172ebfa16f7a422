/* FIX session layer (FIX 4.2 / 4.4 session rules, as QuickFIX 1.15 applies
 * them): Logon, Heartbeat, TestRequest, ResendRequest, SequenceReset
 * (gap fill and reset), Reject, Logout; sequence numbers per session per
 * day kept in the durable store (ustack/fix_store.h); gap detection with the
 * messages above a gap queued and delivered in order once it is filled;
 * PossDupFlag(43)/OrigSendingTime(122) on resent messages; the session
 * schedule's daily reset.
 *
 * The session is a state machine with no thread, socket or clock of its
 * own. A driver (the event loop of a transport: kernel sockets, ustack's
 * event loop or ustack's threaded API) gives it:
 *   - us_fix_session_connected() when the TCP connection is up,
 *   - us_fix_session_input() with the bytes received,
 *   - us_fix_session_disconnected() when the connection is gone,
 *   - us_fix_session_timer() at the time it last returned (or earlier),
 * and every call takes the current time, so tests run on a virtual clock.
 * The session writes through struct us_fix_transport and closes the
 * connection through it.
 *
 * Sending: a message is built into the session's buffer (the header with
 * the next MsgSeqNum(34) filled in), stored, then written. Messages sent
 * while the session handles input are held and written together when
 * us_fix_session_input() returns (one store sync, one write for a batch).
 *
 * Not thread-safe: one session is driven by one thread at a time. */
#ifndef USTACK_FIX_SESSION_H
#define USTACK_FIX_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/fix.h"
#include "ustack/fix_config.h"
#include "ustack/fix_store.h"

struct us_fix_session;

/* The connection under the session, provided by the driver. */
struct us_fix_transport {
    /* Writes up to len bytes; returns the number accepted (0..len: the
     * session keeps the rest and writes it on us_fix_session_flush()), or -1
     * when the connection is broken. */
    long (*write)(void *ctx, const void *buf, size_t len);
    /* Closes the connection. The driver then calls
     * us_fix_session_disconnected() (it may do so from inside this call). */
    void (*disconnect)(void *ctx);
    void *ctx;
};

enum us_fix_session_state {
    US_FIX_DISCONNECTED = 0, /* no connection */
    US_FIX_LOGON_SENT,       /* initiator: Logon(A) sent, waiting for the answer */
    US_FIX_LOGON_WAIT,       /* acceptor: connected, waiting for a Logon(A) */
    US_FIX_ACTIVE,           /* logged on */
    US_FIX_LOGOUT_SENT,      /* Logout(5) sent, waiting for the answer or the timeout */
};
const char *us_fix_session_state_name(enum us_fix_session_state st);

/* Session events, in the order they happen. */
enum us_fix_event_type {
    US_FIX_EV_CONNECTED,       /* transport up */
    US_FIX_EV_LOGON,           /* logon handshake done (both sides' Logon seen) */
    US_FIX_EV_LOGOUT,          /* logout handshake done or Logout(5) received; text */
    US_FIX_EV_DISCONNECTED,    /* transport gone; text says why */
    US_FIX_EV_GAP_DETECTED,    /* begin..end expected but a higher number came (end = the
                                  number received - 1); a ResendRequest(2) is sent */
    US_FIX_EV_RESEND_REQUEST,  /* ResendRequest sent for begin..end (end 0 = infinity):
                                  one per chunk */
    US_FIX_EV_GAP_FILLED,      /* the gap begin..end is filled, queued messages delivered */
    US_FIX_EV_RESEND,          /* counterparty asked for begin..end; we resent it (count =
                                  application messages resent, gapfilled = admin ones) */
    US_FIX_EV_SEQUENCE_RESET,  /* SequenceReset(4) received: seq = NewSeqNo(36), gap_fill */
    US_FIX_EV_REJECT_SENT,     /* Reject(3) sent: seq = RefSeqNum(45), reason, ref_tag, text */
    US_FIX_EV_REJECT_RECEIVED, /* Reject(3) received: seq = RefSeqNum(45), reason, ref_tag */
    US_FIX_EV_GARBLED,         /* bytes dropped by the framer (count = bytes), text = why */
    US_FIX_EV_TEST_REQUEST,    /* TestRequest(1) sent after silence */
    US_FIX_EV_TIMEOUT,         /* TestRequest unanswered, logon or logout timeout: text */
    US_FIX_EV_RESET,           /* sequence numbers reset to 1 (schedule, ResetSeqNumFlag) */
    US_FIX_EV_ERROR,           /* the session cannot go on (store failure, MsgSeqNum too
                                  low, wrong BeginString): text; the connection is closed */
};
const char *us_fix_event_name(enum us_fix_event_type t);

struct us_fix_event {
    enum us_fix_event_type type;
    uint64_t begin, end; /* sequence ranges (GAP_*, RESEND*) */
    uint64_t seq;        /* SEQUENCE_RESET: NewSeqNo; REJECT_*: RefSeqNum */
    uint64_t count;      /* RESEND: application messages resent; GARBLED: bytes */
    uint64_t gapfilled;  /* RESEND: messages replaced by SequenceReset-GapFill */
    bool gap_fill;       /* SEQUENCE_RESET: GapFillFlag(123)=Y */
    int reason;          /* REJECT_*: SessionRejectReason(373), -1 if absent */
    uint32_t ref_tag;    /* REJECT_*: RefTagID(371) */
    const char *text;    /* valid during the callback only; "" when none */
};

struct us_fix_session_callbacks {
    /* An application message (not one of 0 1 2 3 4 5 A), delivered once, in
     * MsgSeqNum order. m->poss_dup tells a resent one. The message is valid
     * during the call only. The callback may send (us_fix_session_msg_begin
     * ... us_fix_session_msg_send). */
    void (*on_app_msg)(void *ctx, struct us_fix_session *s, const struct us_fix_msg *m);
    /* Session events (may be NULL). */
    void (*on_event)(void *ctx, struct us_fix_session *s, const struct us_fix_event *ev);
    /* An administrative message received, before the session acts on it
     * (may be NULL; for logging and tests). */
    void (*on_admin_msg)(void *ctx, struct us_fix_session *s, const struct us_fix_msg *m);
    void *ctx;
};

/* Test hooks and tuning beyond the config file. Zero-initialised = defaults. */
struct us_fix_session_opts {
    /* Sequence numbers above an open gap kept for in-order delivery (bytes
     * of queued messages); 0 = 16 MiB. When full, the newest is dropped and
     * asked for again later (it stays in the gap). */
    size_t max_queued_bytes;
    /* The largest message accepted (BodyLength); 0 = US_FIX_DEFAULT_MAX_BODY. */
    size_t max_body;
    /* Test hook: after this many application messages sent, jump our
     * outgoing MsgSeqNum forward by skip_seq_gap (the numbers skipped are
     * never stored: the counterparty's ResendRequest for them is answered
     * with SequenceReset-GapFill). 0 = off. */
    uint64_t skip_seq_after;
    uint64_t skip_seq_gap;
    /* Test hook: do not answer TestRequest(1) with Heartbeat(0). */
    bool no_heartbeat;
    /* Initiator reconnection back-off: first delay, doubling up to
     * ReconnectInterval (config). 0 = 1 s. */
    int64_t reconnect_min_ns;
    /* SendingTime(52) fraction digits: 3 (default, FIX 4.2 allows 0 or 3),
     * 6 or 9 (FIX 4.4 and later only). */
    int ts_digits;
};

/* Opens the session: its store (FileStorePath/<BeginString>-<Sender>-<Target>,
 * synced as cfg->store says), sequence numbers recovered. now_ns: wall-clock
 * time (ns since 1970 UTC); if the store was created in an earlier session
 * of the schedule, it is reset (a new day). opts may be NULL. Returns NULL
 * with a message in err on failure (the store cannot be opened). */
struct us_fix_session *us_fix_session_new(const struct us_fix_session_config *cfg,
                                          const struct us_fix_session_opts *opts,
                                          const struct us_fix_session_callbacks *cb,
                                          int64_t now_ns, char *err, size_t errlen);
/* Closes the store. Does not send Logout: call us_fix_session_logout() and
 * drive the session until it is DISCONNECTED first. */
void us_fix_session_free(struct us_fix_session *s);

/* ---- Driver side ---- */

/* The connection is up. An initiator sends Logon(A) (ResetSeqNumFlag=Y if
 * ResetOnLogon); an acceptor waits for one (LogonTimeout). */
void us_fix_session_connected(struct us_fix_session *s, const struct us_fix_transport *t,
                              int64_t now_ns);
/* Bytes received: frames and handles every whole message at buf's start,
 * returns how many bytes it consumed (the driver keeps the rest in front of
 * the next bytes it receives). Garbled bytes are consumed and counted.
 * Messages sent while handling them are flushed before it returns. */
size_t us_fix_session_input(struct us_fix_session *s, const void *buf, size_t len,
                            int64_t now_ns);
/* The connection is gone (closed by either side or broken). Unsent output
 * is dropped (it is in the store and will be resent on request). */
void us_fix_session_disconnected(struct us_fix_session *s, int64_t now_ns);
/* Heartbeat, TestRequest, logon/logout timeouts, the schedule (Logout at
 * EndTime, reset at the next StartTime), group-commit store syncs. Returns
 * the time (ns) by which it wants to be called again. */
int64_t us_fix_session_timer(struct us_fix_session *s, int64_t now_ns);
/* Writes held output (after the transport said it can take more). Returns
 * the bytes still held, or -1 if the transport broke. */
long us_fix_session_flush(struct us_fix_session *s);
/* Bytes held for the transport. */
size_t us_fix_session_pending(const struct us_fix_session *s);

/* Initiator: whether to connect now (in session, not connected, back-off
 * passed); the driver then connects and calls us_fix_session_connected(),
 * or us_fix_session_connect_failed() (which doubles the back-off). */
bool us_fix_session_should_connect(const struct us_fix_session *s, int64_t now_ns);
void us_fix_session_connect_failed(struct us_fix_session *s, int64_t now_ns);

/* ---- Application side ---- */

/* Starts an application message of msg_type with the standard header and
 * the next MsgSeqNum; add body fields to the builder returned, then
 * us_fix_session_msg_send(). NULL if the session is not ACTIVE. */
struct us_fix_builder *us_fix_session_msg_begin(struct us_fix_session *s, const char *msg_type,
                                                int64_t now_ns);
/* Finishes (BodyLength, CheckSum), stores, sends (or holds it while input
 * is being handled, or the transport is full). Returns the MsgSeqNum used,
 * or 0 on error (builder overflow, store failure: an ERROR event). */
uint64_t us_fix_session_msg_send(struct us_fix_session *s);

/* Logout(5) with text (may be NULL); the session waits LogoutTimeout for
 * the answering Logout, then disconnects. */
void us_fix_session_logout(struct us_fix_session *s, const char *text, int64_t now_ns);

/* ---- State and counters ---- */

enum us_fix_session_state us_fix_session_state(const struct us_fix_session *s);
bool us_fix_session_logged_on(const struct us_fix_session *s);
uint64_t us_fix_session_next_sender(const struct us_fix_session *s);
uint64_t us_fix_session_next_target(const struct us_fix_session *s);
const struct us_fix_session_config *us_fix_session_config(const struct us_fix_session *s);
/* The store (read-only use by the application: what it sent before a restart). */
struct us_fix_store *us_fix_session_store(struct us_fix_session *s);

struct us_fix_session_stats {
    uint64_t msgs_sent, msgs_received;         /* all messages */
    uint64_t app_sent, app_received;           /* application messages (received = delivered) */
    uint64_t bytes_sent, bytes_received;
    uint64_t resend_requests_sent, resend_requests_received;
    uint64_t resent_app, resent_gapfill;       /* messages resent on request / gap-filled */
    uint64_t gaps_detected, gaps_filled;
    uint64_t poss_dup_received, duplicates_ignored; /* PossDupFlag=Y below expected: ignored */
    uint64_t rejects_sent, rejects_received;
    uint64_t garbled_msgs, garbled_bytes;
    uint64_t heartbeats_sent, test_requests_sent;
    uint64_t logons, disconnects, resets;
    uint64_t store_syncs;
};
void us_fix_session_get_stats(const struct us_fix_session *s, struct us_fix_session_stats *out);

#endif
