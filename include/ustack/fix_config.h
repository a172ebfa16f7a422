/* FIX session configuration in QuickFIX's file format, and the session
 * schedule (StartTime/EndTime, StartDay/EndDay, TimeZone) it describes.
 *
 * File format (as QuickFIX's SessionSettings reads it): one setting per
 * line, KEY=VALUE, surrounding whitespace stripped from the line, the key
 * and the value; lines starting with '#' are comments; blank lines are
 * skipped; [DEFAULT] sections hold settings every session inherits, each
 * [SESSION] section one session, its own settings overriding DEFAULT's.
 * Keys are matched without regard to case, section names exactly (QuickFIX
 * 1.15 silently skips a "[session]" section; here it is an error). Stricter than
 * QuickFIX: an unknown key, a key twice in one section, or a line that is
 * not KEY=VALUE is an error naming the file and line. */
#ifndef USTACK_FIX_CONFIG_H
#define USTACK_FIX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/fix_store.h"

/* A session's times, in the wall-clock time of its zone. Boundaries are
 * inclusive at both ends, as QuickFIX's TimeRange: a session 08:00:00 to
 * 17:00:00 includes 17:00:00 and not 17:00:01. StartTime > EndTime wraps
 * midnight; StartTime == EndTime (daily) is a 24-hour session starting
 * then. With StartDay/EndDay the session is weekly: from StartDay StartTime
 * to EndDay EndTime. */
struct us_fix_schedule {
    int start_time; /* seconds after midnight */
    int end_time;
    int start_day; /* 0 = Sunday .. 6 = Saturday; -1 = daily session */
    int end_day;
    bool non_stop;       /* NonStopSession=Y: always in session, never reset */
    bool use_local_time; /* UseLocalTime=Y: the process's local zone */
    char time_zone[64];  /* IANA name (TimeZone=); "" = UTC */
};

/* Times are Unix seconds (UTC); the zone is applied through the C
 * library's TZ handling (so not thread-safe against other TZ changes). */
bool us_fix_schedule_in_session(const struct us_fix_schedule *s, int64_t t);
/* The start (Unix seconds) of the session t belongs to; -1 if t is
 * outside every session. Two times in the same session give the same
 * start: when it changes, sequence numbers reset (a new trading day).
 * A non-stop session returns 0 for every t. */
int us_fix_schedule_session_start(const struct us_fix_schedule *s, int64_t t, int64_t *start);
bool us_fix_schedule_same_session(const struct us_fix_schedule *s, int64_t a, int64_t b);
/* The first session start strictly after t (for "reset at the next
 * start"); -1 for a non-stop session. */
int us_fix_schedule_next_start(const struct us_fix_schedule *s, int64_t t, int64_t *next);

/* "HH:MM:SS" -> seconds after midnight; -1 if malformed. */
int us_fix_parse_time_of_day(const char *v);
/* "Sunday", "sun", "su" ... (any case, at least two letters) -> 0..6; -1 if not a day. */
int us_fix_parse_day(const char *v);

enum us_fix_connection_type { US_FIX_INITIATOR = 1, US_FIX_ACCEPTOR = 2 };

/* One session's settings, DEFAULT overlaid by its SESSION section, typed
 * and validated. Defaults are QuickFIX's where it has one. */
struct us_fix_session_config {
    enum us_fix_connection_type connection_type; /* ConnectionType (required) */
    char begin_string[16];                       /* BeginString(8): FIX.4.2 | FIX.4.4 (required) */
    char sender_comp_id[64];                     /* SenderCompID(49) (required) */
    char target_comp_id[64];                     /* TargetCompID(56) (required) */
    int heart_bt_int;                            /* HeartBtInt(108), s (required: initiator) */
    char file_store_path[256];                   /* FileStorePath (required) */
    char file_log_path[256];                     /* FileLogPath ("" = none) */
    struct us_fix_schedule schedule;    /* StartTime, EndTime (required unless NonStopSession=Y),
                                        StartDay, EndDay, TimeZone, UseLocalTime */
    int socket_accept_port;             /* SocketAcceptPort (required: acceptor) */
    char socket_connect_host[256];      /* SocketConnectHost (required: initiator) */
    int socket_connect_port;            /* SocketConnectPort (required: initiator) */
    int reconnect_interval;             /* ReconnectInterval, s (30) */
    bool reset_on_logon;                /* ResetOnLogon (N) */
    bool reset_on_logout;               /* ResetOnLogout (N) */
    bool reset_on_disconnect;           /* ResetOnDisconnect (N) */
    char data_dictionary[256];          /* DataDictionary */
    bool use_data_dictionary;           /* UseDataDictionary (Y) */
    bool validate_user_defined_fields;  /* ValidateUserDefinedFields (Y) */
    int logon_timeout;                  /* LogonTimeout, s (10) */
    int logout_timeout;                 /* LogoutTimeout, s (2) */
    bool check_latency;                 /* CheckLatency (Y): SendingTime(52) accuracy */
    int max_latency;                    /* MaxLatency, s (120) */
    bool persist_messages;              /* PersistMessages (Y) */
    bool socket_nodelay;                /* SocketNodelay (Y) */
    unsigned resend_request_chunk_size; /* ResendRequestChunkSize (0 = one request) */
    /* ustack's own: UstackStoreSync = always | group | never (always),
     * UstackStoreSyncCount (group: records per fsync), UstackStoreSyncMs
     * (group: ms after the oldest unsynced record). */
    struct us_fix_store_opts store;
};

struct us_fix_config;

/* Parses a file / a string (name is used in messages). Returns 0, or -1
 * with errno (EINVAL for a bad file) and a message "FILE:LINE: ..." in err. */
int us_fix_config_load(struct us_fix_config **out, const char *path, char *err, size_t errlen);
int us_fix_config_parse(struct us_fix_config **out, const char *text, const char *name, char *err,
                        size_t errlen);
void us_fix_config_free(struct us_fix_config *c);

size_t us_fix_config_session_count(const struct us_fix_config *c);
const struct us_fix_session_config *us_fix_config_session(const struct us_fix_config *c, size_t i);
/* The raw value of key for session i after the overlay; NULL if unset. */
const char *us_fix_config_get(const struct us_fix_config *c, size_t i, const char *key);

#endif
