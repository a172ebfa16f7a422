/* FIX tag=value codec (FIX 4.2 / 4.4 / FIXT.1.1 framing): framing of a
 * byte stream, parsing into fields that point into the caller's buffer,
 * the standard header decoded into typed members, session-level validation
 * that names the SessionRejectReason(373) and RefTagID(371), and a builder
 * that computes BodyLength(9) and CheckSum(10).
 *
 * Nothing here allocates: the parsed message and the builder are structs
 * the caller owns, the message bytes stay in the caller's buffer. The codec
 * knows nothing of transports, sequence numbers or session state; the
 * session layer sits on top of it.
 *
 * Typical receive loop:
 *
 *     struct us_fix_frame f;
 *     while (us_fix_frame(rx, rx_len, max_msg, &f) != US_FIX_FRAME_NEED_MORE) {
 *         if (f.kind == US_FIX_FRAME_MESSAGE && us_fix_parse(&msg, rx, f.len) == US_FIX_OK) {
 *             struct us_fix_reject rej;
 *             if (us_fix_validate(&msg, &expect, now_ns, &rej) != 0) ...Reject(3)/Logout(5)
 *             else ...sequence checks and delivery
 *         }   // US_FIX_FRAME_GARBLED: ignored, no sequence number consumed
 *         consume(f.len);
 *     }
 */
#ifndef USTACK_FIX_H
#define USTACK_FIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define US_FIX_SOH 0x01

/* Errors returned by the parser and the getters (negative), 0 = US_FIX_OK. */
enum us_fix_err {
    US_FIX_OK = 0,
    US_FIX_ENOTAG = -1,    /* the tag is not in the message */
    US_FIX_ENOVALUE = -2,  /* the tag is present with an empty value ("58=\x01") */
    US_FIX_EFORMAT = -3,   /* the value is not of the asked type (IncorrectDataFormat) */
    US_FIX_ERANGE = -4,    /* well-formed but out of range, or too long for the destination */
    US_FIX_ESYNTAX = -5,   /* parse: a field is not "digits=value<SOH>" */
    US_FIX_ETOOMANY = -6,  /* parse: more than US_FIX_MAX_FIELDS fields */
    US_FIX_EOVERFLOW = -7, /* builder: the caller's buffer is too small */
    US_FIX_EINVAL = -8,    /* builder: a value holding SOH, a bad tag, a message too long */
};
const char *us_fix_strerror(int err);

/* ---------------- Framing ---------------- */

enum us_fix_frame_kind {
    US_FIX_FRAME_NEED_MORE = 0, /* no decision yet: append more bytes and call again */
    US_FIX_FRAME_MESSAGE = 1,   /* a whole, checksummed message of len bytes at buf[0] */
    US_FIX_FRAME_GARBLED = 2,   /* drop len bytes (len > 0): they cannot start a valid message */
};

/* Why bytes were dropped (US_FIX_FRAME_GARBLED). */
enum us_fix_garble {
    US_FIX_GARBLE_NONE = 0,
    US_FIX_GARBLE_NO_BEGIN,        /* bytes before the next "8=FIX" */
    US_FIX_GARBLE_BAD_BEGINSTRING, /* BeginString(8) unterminated or too long */
    US_FIX_GARBLE_NO_BODYLENGTH,   /* second tag is not BodyLength(9) */
    US_FIX_GARBLE_BAD_BODYLENGTH,  /* BodyLength not digits, or the trailer not where it says */
    US_FIX_GARBLE_TOO_LONG,        /* BodyLength above the configured maximum */
    US_FIX_GARBLE_NO_MSGTYPE,      /* third tag is not MsgType(35) */
    US_FIX_GARBLE_CHECKSUM_FORMAT, /* CheckSum(10) not exactly 3 digits */
    US_FIX_GARBLE_CHECKSUM,        /* CheckSum(10) wrong */
};
const char *us_fix_garble_str(enum us_fix_garble why);

struct us_fix_frame {
    enum us_fix_frame_kind kind;
    size_t len;             /* MESSAGE: message length; GARBLED: bytes to skip (> 0) */
    enum us_fix_garble why; /* GARBLED only */
};

/* The largest BodyLength accepted when max_body is 0. */
#define US_FIX_DEFAULT_MAX_BODY 65536

/* Looks at buf[0..len) and says what is at its start (the FIX session rules:
 * a message whose first three tags are not 8, 9, 35 in that order, whose
 * BodyLength does not lead to "10=" or whose CheckSum is wrong or not three
 * digits is ignored). On garbage it skips to the next "8=FIX" (or keeps the
 * tail that could still become one), so it never consumes a valid message
 * behind the garbage. A BodyLength above max_body (0: the default) is garbled
 * at once, so garbage cannot make it wait for more than
 * max_body + ~40 bytes. Reads only buf[0..len). Returns f->kind. */
enum us_fix_frame_kind us_fix_frame(const uint8_t *buf, size_t len, size_t max_body,
                                    struct us_fix_frame *f);

/* CheckSum(10): the sum of the bytes modulo 256. */
unsigned us_fix_checksum(const uint8_t *buf, size_t len);

/* ---------------- Parsing ---------------- */

#ifndef US_FIX_MAX_FIELDS
#define US_FIX_MAX_FIELDS 256
#endif

/* One tag=value field: the value is buf[off .. off+len) of the parsed buffer. */
struct us_fix_field {
    uint32_t tag;
    uint32_t off;
    uint32_t len;
};

/* A value: pointer into the parsed buffer and length (not NUL-terminated). */
struct us_fix_str {
    const char *p;
    size_t len;
};

/* Header tags the parser decodes (the flags in us_fix_msg.has). */
enum {
    US_FIX_H_BEGINSTRING = 1u << 0,       /* BeginString(8) */
    US_FIX_H_BODYLENGTH = 1u << 1,        /* BodyLength(9) */
    US_FIX_H_MSGTYPE = 1u << 2,           /* MsgType(35) */
    US_FIX_H_SENDERCOMPID = 1u << 3,      /* SenderCompID(49) */
    US_FIX_H_TARGETCOMPID = 1u << 4,      /* TargetCompID(56) */
    US_FIX_H_MSGSEQNUM = 1u << 5,         /* MsgSeqNum(34) */
    US_FIX_H_SENDINGTIME = 1u << 6,       /* SendingTime(52) */
    US_FIX_H_POSSDUPFLAG = 1u << 7,       /* PossDupFlag(43) */
    US_FIX_H_POSSRESEND = 1u << 8,        /* PossResend(97) */
    US_FIX_H_ORIGSENDINGTIME = 1u << 9,   /* OrigSendingTime(122) */
    US_FIX_H_ONBEHALFOFCOMPID = 1u << 10, /* OnBehalfOfCompID(115) */
    US_FIX_H_DELIVERTOCOMPID = 1u << 11,  /* DeliverToCompID(128) */
    US_FIX_H_SENDERSUBID = 1u << 12,      /* SenderSubID(50) */
    US_FIX_H_TARGETSUBID = 1u << 13,      /* TargetSubID(57) */
    US_FIX_H_CHECKSUM = 1u << 14,         /* CheckSum(10) */
};

#define US_FIX_MSGTYPE_MAX 8 /* MsgType(35) longer than this is kept truncated and invalid */

/* A parsed message. The caller owns it (it is ~3 KiB with 256 fields: keep
 * one per session, not on a small stack); it points into the parsed buffer,
 * which must outlive it. Repeating groups are kept as fields in order. */
struct us_fix_msg {
    const char *buf; /* the message, as framed */
    size_t len;
    unsigned nfields; /* including 8, 9, 35 and 10 */
    uint32_t has;     /* US_FIX_H_* present (and non-empty) */
    uint32_t bad;     /* US_FIX_H_* present but not of their type (IncorrectDataFormat) */
    uint32_t range;   /* US_FIX_H_* well-formed but out of range (MsgSeqNum 0, flag not Y/N) */

    /* The standard header, decoded where present and well-formed. */
    char msg_type[US_FIX_MSGTYPE_MAX];      /* MsgType(35), NUL-terminated ("D", "AE") */
    struct us_fix_str begin_string;         /* BeginString(8) */
    struct us_fix_str sender_comp_id;       /* SenderCompID(49) */
    struct us_fix_str target_comp_id;       /* TargetCompID(56) */
    struct us_fix_str on_behalf_of_comp_id; /* OnBehalfOfCompID(115) */
    struct us_fix_str deliver_to_comp_id;   /* DeliverToCompID(128) */
    struct us_fix_str sender_sub_id;        /* SenderSubID(50) */
    struct us_fix_str target_sub_id;        /* TargetSubID(57) */
    uint64_t msg_seq_num;                   /* MsgSeqNum(34) */
    int64_t sending_time_ns;                /* SendingTime(52), ns since 1970 UTC */
    int64_t orig_sending_time_ns;           /* OrigSendingTime(122) */
    uint32_t body_length;                   /* BodyLength(9) */
    bool poss_dup;                          /* PossDupFlag(43)=Y */
    bool poss_resend;                       /* PossResend(97)=Y */

    /* Found while parsing, reported by us_fix_validate*(): the first field
     * with an empty value and the first header/trailer tag seen twice. */
    uint32_t empty_tag;
    uint32_t dup_tag;

    struct us_fix_field fields[US_FIX_MAX_FIELDS];
};

/* Splits buf[0..len) (a message as framed by us_fix_frame) into fields and
 * decodes the header into m. Returns US_FIX_OK, US_FIX_ESYNTAX (a field
 * that is not digits '=' value SOH: the session layer treats the message as
 * garbled) or US_FIX_ETOOMANY. Session-level problems (a required tag
 * missing, a bad value, a duplicate) do not fail the parse: they are left for
 * us_fix_validate(). Never reads outside buf[0..len). */
int us_fix_parse(struct us_fix_msg *m, const void *buf, size_t len);

/* Index in m->fields of the first field with tag at index >= from, or -1. */
int us_fix_find(const struct us_fix_msg *m, uint32_t tag, unsigned from);
/* The value of field i (0 <= i < nfields). */
struct us_fix_str us_fix_value(const struct us_fix_msg *m, unsigned i);

/* Getters for the first occurrence of tag. Each returns US_FIX_OK,
 * US_FIX_ENOTAG, US_FIX_ENOVALUE, US_FIX_EFORMAT or US_FIX_ERANGE and writes
 * *out only on success. */
int us_fix_get_str(const struct us_fix_msg *m, uint32_t tag, struct us_fix_str *out);
/* Copies the value NUL-terminated; ERANGE when it does not fit in cap. */
int us_fix_get_cstr(const struct us_fix_msg *m, uint32_t tag, char *dst, size_t cap);
int us_fix_get_int(const struct us_fix_msg *m, uint32_t tag, int64_t *out);
int us_fix_get_uint(const struct us_fix_msg *m, uint32_t tag, uint64_t *out);
int us_fix_get_char(const struct us_fix_msg *m, uint32_t tag, char *out);
/* Boolean: "Y" or "N"; another single character is ERANGE, more is EFORMAT. */
int us_fix_get_bool(const struct us_fix_msg *m, uint32_t tag, bool *out);
/* UTCTimestamp: YYYYMMDD-HH:MM:SS with optional .sss, .ssssss or .sssssssss. */
int us_fix_get_utc_ts(const struct us_fix_msg *m, uint32_t tag, int64_t *ns);

/* The same conversions on a bare value (for fields found by index, e.g. in
 * repeating groups). */
int us_fix_parse_int(const char *p, size_t len, int64_t *out);
int us_fix_parse_uint(const char *p, size_t len, uint64_t *out);
int us_fix_parse_bool(const char *p, size_t len, bool *out);
int us_fix_parse_utc_ts(const char *p, size_t len, int64_t *ns);
/* Writes ns as a UTCTimestamp with 0, 3, 6 or 9 fractional digits into dst
 * (at least 31 bytes), NUL-terminated; returns its length, or -1 if the
 * time is before 1970 or after 9999 or digits is not 0/3/6/9. */
int us_fix_format_utc_ts(int64_t ns, int digits, char *dst);

/* ---------------- Session-level validation ---------------- */

/* SessionRejectReason(373) values (FIX 4.4 Volume 2). */
enum us_fix_reject_reason {
    US_FIX_REJ_NONE = -1,
    US_FIX_REJ_INVALID_TAG = 0,
    US_FIX_REJ_REQUIRED_TAG_MISSING = 1,
    US_FIX_REJ_TAG_NOT_DEFINED = 2,
    US_FIX_REJ_UNDEFINED_TAG = 3,
    US_FIX_REJ_TAG_WITHOUT_VALUE = 4,
    US_FIX_REJ_VALUE_OUT_OF_RANGE = 5,
    US_FIX_REJ_INCORRECT_DATA_FORMAT = 6,
    US_FIX_REJ_DECRYPTION_PROBLEM = 7,
    US_FIX_REJ_SIGNATURE_PROBLEM = 8,
    US_FIX_REJ_COMPID_PROBLEM = 9,
    US_FIX_REJ_SENDINGTIME_ACCURACY = 10,
    US_FIX_REJ_INVALID_MSGTYPE = 11,
    US_FIX_REJ_XML_VALIDATION = 12,
    US_FIX_REJ_TAG_MORE_THAN_ONCE = 13,
    US_FIX_REJ_TAG_OUT_OF_ORDER = 14,
    US_FIX_REJ_GROUP_ORDER = 15,
    US_FIX_REJ_INCORRECT_NUMINGROUP = 16,
};

/* What a Reject(3) must carry: SessionRejectReason(373), RefTagID(371)
 * (0 when none applies), and a short Text(58). */
struct us_fix_reject {
    int reason; /* enum us_fix_reject_reason */
    uint32_t ref_tag;
    const char *text; /* static string */
};

/* Each check returns 0 when it passes (rej->reason = US_FIX_REJ_NONE), else
 * the reason, also put in *rej with RefTagID and Text (reason 0, InvalidTagNumber,
 * is never returned by these checks, so 0 always means "passed"). The session
 * layer answers with Reject(3), or Logout(5) where the rules say so (a
 * CompID problem, SendingTime accuracy on Logon). BeginString(8) mismatch is
 * not checked here: it is a Logout, compared by the session layer. */

/* Tag without value (4), a header/trailer tag more than once (13), a
 * required header tag missing (1: 8, 9, 35, 49, 56, 34, 52; 122 when
 * PossDupFlag=Y), a header value of the wrong type (6), MsgSeqNum(34) 0 or a
 * flag other than Y/N (5). */
int us_fix_check_header(const struct us_fix_msg *m, struct us_fix_reject *rej);
/* MsgType(35) not one of FIX 4.4's (11). User-defined types (starting with
 * 'U') pass. */
int us_fix_check_msg_type(const struct us_fix_msg *m, struct us_fix_reject *rej);
/* SenderCompID(49) must be their_comp_id and TargetCompID(56) our_comp_id (9). */
int us_fix_check_comp_ids(const struct us_fix_msg *m, const char *our_comp_id,
                          const char *their_comp_id, struct us_fix_reject *rej);
/* SendingTime(52) within tolerance_ns of now_ns (10). */
int us_fix_check_sending_time(const struct us_fix_msg *m, int64_t now_ns, int64_t tolerance_ns,
                              struct us_fix_reject *rej);
/* Tags the caller says may appear only once (body tags outside groups) (13). */
int us_fix_check_unique(const struct us_fix_msg *m, const uint32_t *tags, size_t ntags,
                        struct us_fix_reject *rej);

/* What us_fix_validate() compares against. */
struct us_fix_expect {
    const char *our_comp_id;   /* their TargetCompID(56) */
    const char *their_comp_id; /* their SenderCompID(49) */
    int64_t now_ns;
    int64_t sending_time_tolerance_ns; /* 0: SendingTime not checked */
};                                     /* our_comp_id or their_comp_id NULL: CompIDs not checked */

/* The checks above in the order the session layer needs them: header, then
 * MsgType, CompIDs, SendingTime. Returns 0 or the first reason. */
int us_fix_validate(const struct us_fix_msg *m, const struct us_fix_expect *e,
                    struct us_fix_reject *rej);

/* ---------------- Building ---------------- */

/* BodyLength(9) is written in at most this many digits. */
#define US_FIX_BODYLENGTH_DIGITS 6

/* Builds one message into the caller's buffer. The first error (overflow,
 * SOH in a value) sticks and is returned by us_fix_build_end(). */
struct us_fix_builder {
    char *buf;
    size_t cap;
    size_t len;
    size_t prefix_len; /* "8=...<SOH>9=" */
    size_t body_start; /* after the room kept for BodyLength's digits and SOH */
    int err;
};

/* Starts "8=<begin_string>|9=?|35=<msg_type>|". */
void us_fix_build_begin(struct us_fix_builder *b, void *buf, size_t cap, const char *begin_string,
                        const char *msg_type);
/* The standard header after MsgType: SenderCompID(49), TargetCompID(56),
 * MsgSeqNum(34), SendingTime(52) with ts_digits (0/3/6/9) fraction digits.
 * PossDupFlag(43)/OrigSendingTime(122) and the rest are added as fields. */
void us_fix_build_header(struct us_fix_builder *b, const char *sender_comp_id,
                         const char *target_comp_id, uint64_t msg_seq_num, int64_t sending_time_ns,
                         int ts_digits);
void us_fix_add_str(struct us_fix_builder *b, uint32_t tag, const char *v);
void us_fix_add_strn(struct us_fix_builder *b, uint32_t tag, const char *v, size_t len);
void us_fix_add_int(struct us_fix_builder *b, uint32_t tag, int64_t v);
void us_fix_add_uint(struct us_fix_builder *b, uint32_t tag, uint64_t v);
void us_fix_add_char(struct us_fix_builder *b, uint32_t tag, char v);
void us_fix_add_bool(struct us_fix_builder *b, uint32_t tag, bool v);
void us_fix_add_utc_ts(struct us_fix_builder *b, uint32_t tag, int64_t ns, int digits);
/* Writes BodyLength(9) and CheckSum(10). On success returns US_FIX_OK and
 * the message in *msg, *len (inside the caller's buffer: it starts at most
 * US_FIX_BODYLENGTH_DIGITS - 1 bytes after buf); else the first error. */
int us_fix_build_end(struct us_fix_builder *b, const char **msg, size_t *len);

#endif
