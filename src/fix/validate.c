/* Session-level checks of a parsed message: each names the
 * SessionRejectReason(373) and RefTagID(371) a Reject(3) carries (FIX 4.4
 * Volume 2, "Reject"). Whether the session answers with Reject or Logout is
 * the session layer's choice. */
#include <string.h>

#include "ustack/fix.h"

static int reject(struct us_fix_reject *rej, int reason, uint32_t ref_tag, const char *text)
{
    rej->reason = reason;
    rej->ref_tag = ref_tag;
    rej->text = text;
    return reason;
}

static int pass(struct us_fix_reject *rej)
{
    rej->reason = US_FIX_REJ_NONE;
    rej->ref_tag = 0;
    rej->text = NULL;
    return 0;
}

/* Header tags with a type to check, in the order they are reported (a too
 * long MsgType is us_fix_check_msg_type's InvalidMsgType). */
static const struct {
    uint32_t tag, bit;
} typed_tags[] = {
    {9, US_FIX_H_BODYLENGTH},   {34, US_FIX_H_MSGSEQNUM},  {52, US_FIX_H_SENDINGTIME},
    {43, US_FIX_H_POSSDUPFLAG}, {97, US_FIX_H_POSSRESEND}, {122, US_FIX_H_ORIGSENDINGTIME},
};

int us_fix_check_header(const struct us_fix_msg *m, struct us_fix_reject *rej)
{
    if (m->empty_tag != 0)
        return reject(rej, US_FIX_REJ_TAG_WITHOUT_VALUE, m->empty_tag,
                      "Tag specified without a value");
    if (m->dup_tag != 0)
        return reject(rej, US_FIX_REJ_TAG_MORE_THAN_ONCE, m->dup_tag, "Tag appears more than once");
    static const struct {
        uint32_t tag, bit;
    } required[] = {
        {8, US_FIX_H_BEGINSTRING},   {9, US_FIX_H_BODYLENGTH},    {35, US_FIX_H_MSGTYPE},
        {49, US_FIX_H_SENDERCOMPID}, {56, US_FIX_H_TARGETCOMPID}, {34, US_FIX_H_MSGSEQNUM},
        {52, US_FIX_H_SENDINGTIME},
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!(m->has & required[i].bit))
            return reject(rej, US_FIX_REJ_REQUIRED_TAG_MISSING, required[i].tag,
                          "Required tag missing");
    for (size_t i = 0; i < sizeof(typed_tags) / sizeof(typed_tags[0]); i++)
        if (m->bad & typed_tags[i].bit)
            return reject(rej, US_FIX_REJ_INCORRECT_DATA_FORMAT, typed_tags[i].tag,
                          "Incorrect data format for value");
    for (size_t i = 0; i < sizeof(typed_tags) / sizeof(typed_tags[0]); i++)
        if (m->range & typed_tags[i].bit)
            return reject(rej, US_FIX_REJ_VALUE_OUT_OF_RANGE, typed_tags[i].tag,
                          "Value is incorrect (out of range) for this tag");
    /* OrigSendingTime(122) is required on a PossDupFlag=Y resend, except on
     * SequenceReset(4), which is sent anew in gap-fill mode (as QuickFIX). */
    if (m->poss_dup && !(m->has & US_FIX_H_ORIGSENDINGTIME) && strcmp(m->msg_type, "4") != 0)
        return reject(rej, US_FIX_REJ_REQUIRED_TAG_MISSING, 122, "Required tag missing");
    return pass(rej);
}

/* FIX 4.4's MsgTypes: one of 0-9, A-Z but I and O, a-z; AA-AZ, BA-BH; and
 * any user-defined type, which starts with U. */
static bool msg_type_valid(const char *t)
{
    char a = t[0], b = t[1];
    if (a == 'U')
        return true;
    if (b == 0)
        return (a >= '0' && a <= '9') || (a >= 'A' && a <= 'Z' && a != 'I' && a != 'O') ||
               (a >= 'a' && a <= 'z');
    if (t[2] != 0)
        return false;
    return (a == 'A' && b >= 'A' && b <= 'Z') || (a == 'B' && b >= 'A' && b <= 'H');
}

int us_fix_check_msg_type(const struct us_fix_msg *m, struct us_fix_reject *rej)
{
    if (!(m->has & US_FIX_H_MSGTYPE) || (m->range & US_FIX_H_MSGTYPE) ||
        !msg_type_valid(m->msg_type))
        return reject(rej, US_FIX_REJ_INVALID_MSGTYPE, 35, "Invalid MsgType");
    return pass(rej);
}

static bool str_is(struct us_fix_str s, const char *c)
{
    return s.p != NULL && strlen(c) == s.len && memcmp(s.p, c, s.len) == 0;
}

int us_fix_check_comp_ids(const struct us_fix_msg *m, const char *our_comp_id,
                          const char *their_comp_id, struct us_fix_reject *rej)
{
    if (!str_is(m->sender_comp_id, their_comp_id))
        return reject(rej, US_FIX_REJ_COMPID_PROBLEM, 49, "CompID problem");
    if (!str_is(m->target_comp_id, our_comp_id))
        return reject(rej, US_FIX_REJ_COMPID_PROBLEM, 56, "CompID problem");
    return pass(rej);
}

int us_fix_check_sending_time(const struct us_fix_msg *m, int64_t now_ns, int64_t tolerance_ns,
                              struct us_fix_reject *rej)
{
    if (!(m->has & US_FIX_H_SENDINGTIME) || (m->bad & US_FIX_H_SENDINGTIME) ||
        (m->range & US_FIX_H_SENDINGTIME))
        return reject(rej, US_FIX_REJ_SENDINGTIME_ACCURACY, 52, "SendingTime accuracy problem");
    int64_t d = m->sending_time_ns - now_ns;
    if (d > tolerance_ns || d < -tolerance_ns)
        return reject(rej, US_FIX_REJ_SENDINGTIME_ACCURACY, 52, "SendingTime accuracy problem");
    return pass(rej);
}

int us_fix_check_unique(const struct us_fix_msg *m, const uint32_t *tags, size_t ntags,
                        struct us_fix_reject *rej)
{
    for (size_t t = 0; t < ntags; t++) {
        int i = us_fix_find(m, tags[t], 0);
        if (i >= 0 && us_fix_find(m, tags[t], (unsigned)i + 1) >= 0)
            return reject(rej, US_FIX_REJ_TAG_MORE_THAN_ONCE, tags[t],
                          "Tag appears more than once");
    }
    return pass(rej);
}

int us_fix_validate(const struct us_fix_msg *m, const struct us_fix_expect *e,
                    struct us_fix_reject *rej)
{
    int r;
    if ((r = us_fix_check_header(m, rej)) != 0 || (r = us_fix_check_msg_type(m, rej)) != 0)
        return r;
    if (e->our_comp_id != NULL && e->their_comp_id != NULL &&
        (r = us_fix_check_comp_ids(m, e->our_comp_id, e->their_comp_id, rej)) != 0)
        return r;
    if (e->sending_time_tolerance_ns > 0 &&
        (r = us_fix_check_sending_time(m, e->now_ns, e->sending_time_tolerance_ns, rej)) != 0)
        return r;
    return pass(rej);
}
