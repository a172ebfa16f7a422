/* QuickFIX-format session configuration: [DEFAULT]/[SESSION] sections of
 * KEY=VALUE, each session DEFAULT overlaid by its own section, typed and
 * validated. Loading is not a hot path: it allocates freely. */
#include "ustack/fix_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Every key we accept; anything else is an error. */
static const char *const known_keys[] = {
    "ConnectionType", "BeginString", "SenderCompID", "TargetCompID", "HeartBtInt", "FileStorePath",
    "FileLogPath", "StartTime", "EndTime", "StartDay", "EndDay", "TimeZone", "UseLocalTime",
    "NonStopSession", "SocketAcceptPort", "SocketConnectHost", "SocketConnectPort",
    "ReconnectInterval", "ResetOnLogon", "ResetOnLogout", "ResetOnDisconnect", "DataDictionary",
    "UseDataDictionary", "ValidateUserDefinedFields", "LogonTimeout", "LogoutTimeout",
    "CheckLatency", "MaxLatency", "PersistMessages", "SocketNodelay", "ResendRequestChunkSize",
    /* ustack's own */
    "UstackStoreSync", "UstackStoreSyncCount", "UstackStoreSyncMs"};

struct kv {
    char *key, *value;
    int line;
};

struct section {
    struct kv *kv;
    size_t n, cap;
    int line; /* of the [SESSION] header */
};

struct us_fix_config {
    char name[256];
    struct section defaults;
    struct section *sessions;
    size_t n, cap;
    struct us_fix_session_config *typed;
};

struct ctx {
    struct us_fix_config *c;
    char *err;
    size_t errlen;
};

static int fail(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *x, const char *fmt, ...)
{
    if (x->err && x->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);
    }
    errno = EINVAL;
    return -1;
}

static char *strip(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = 0;
    return s;
}

static const char *canonical_key(const char *k)
{
    for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
        if (strcasecmp(k, known_keys[i]) == 0)
            return known_keys[i];
    return NULL;
}

static const struct kv *find(const struct section *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->kv[i].key, key) == 0)
            return &s->kv[i];
    return NULL;
}

static int add_kv(struct ctx *x, struct section *s, const char *key, const char *value, int line)
{
    const struct kv *old = find(s, key);
    if (old)
        return fail(x, "%s:%d: %s set twice in one section (first at line %d)", x->c->name, line,
                    key, old->line);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct kv *p = realloc(s->kv, cap * sizeof(*p));
        if (!p)
            return fail(x, "%s: out of memory", x->c->name);
        s->kv = p;
        s->cap = cap;
    }
    struct kv *k = &s->kv[s->n];
    k->key = strdup(key);
    k->value = strdup(value);
    k->line = line;
    if (!k->key || !k->value) {
        free(k->key);
        free(k->value);
        return fail(x, "%s: out of memory", x->c->name);
    }
    s->n++;
    return 0;
}

static struct section *new_session(struct ctx *x, int line)
{
    struct us_fix_config *c = x->c;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        struct section *p = realloc(c->sessions, cap * sizeof(*p));
        if (!p) {
            fail(x, "%s: out of memory", c->name);
            return NULL;
        }
        c->sessions = p;
        c->cap = cap;
    }
    struct section *s = &c->sessions[c->n++];
    memset(s, 0, sizeof(*s));
    s->line = line;
    return s;
}

/* Reads the text into sections (QuickFIX's line rules). */
static int read_sections(struct ctx *x, const char *text)
{
    struct section *cur = NULL;
    int lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        char *buf = malloc(len + 1);
        if (!buf)
            return fail(x, "%s: out of memory", x->c->name);
        memcpy(buf, p, len);
        buf[len] = 0;
        p += len + (nl ? 1 : 0);
        char *line = strip(buf);
        int rc = 0;
        size_t n = strlen(line);
        if (n == 0 || line[0] == '#') {
            /* blank or comment */
        } else if (line[0] == '[' && line[n - 1] == ']') {
            line[n - 1] = 0;
            char *name = strip(line + 1);
            if (strcmp(name, "DEFAULT") == 0)
                cur = &x->c->defaults;
            else if (strcmp(name, "SESSION") == 0)
                rc = (cur = new_session(x, lineno)) ? 0 : -1;
            else
                rc = fail(
                    x,
                    "%s:%d: unknown section [%s] (expected [DEFAULT] or [SESSION], in capitals as "
                    "QuickFIX reads them)",
                    x->c->name, lineno, name);
        } else {
            char *eq = strchr(line, '=');
            if (!eq) {
                rc = fail(x, "%s:%d: expected KEY=VALUE, got '%s'", x->c->name, lineno, line);
            } else {
                *eq = 0;
                char *key = strip(line), *value = strip(eq + 1);
                const char *k = canonical_key(key);
                if (!*key)
                    rc = fail(x, "%s:%d: empty key", x->c->name, lineno);
                else if (!k)
                    rc = fail(x, "%s:%d: unknown key '%s'", x->c->name, lineno, key);
                else if (!cur)
                    rc = fail(x, "%s:%d: %s before any [DEFAULT] or [SESSION] section", x->c->name,
                              lineno, k);
                else
                    rc = add_kv(x, cur, k, value, lineno);
            }
        }
        free(buf);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Typed access for one session: its section, then DEFAULT. */
struct sess {
    struct ctx *x;
    const struct section *s;
    size_t index;
};

static const struct kv *lookup(const struct sess *ss, const char *key)
{
    const struct kv *kv = find(ss->s, key);
    return kv ? kv : find(&ss->x->c->defaults, key);
}

static int bad_value(const struct sess *ss, const struct kv *kv, const char *want)
{
    return fail(ss->x, "%s:%d: %s: '%s' is not %s", ss->x->c->name, kv->line, kv->key, kv->value,
                want);
}

static int get_str(const struct sess *ss, const char *key, char *out, size_t cap)
{
    const struct kv *kv = lookup(ss, key);
    if (!kv)
        return 0;
    if (strlen(kv->value) >= cap)
        return bad_value(ss, kv, "short enough");
    strcpy(out, kv->value);
    return 0;
}

static int get_bool(const struct sess *ss, const char *key, bool *out)
{
    const struct kv *kv = lookup(ss, key);
    if (!kv)
        return 0;
    if (strcmp(kv->value, "Y") == 0)
        *out = true;
    else if (strcmp(kv->value, "N") == 0)
        *out = false;
    else
        return bad_value(ss, kv, "Y or N");
    return 0;
}

static int get_int(const struct sess *ss, const char *key, long lo, long hi, int *out)
{
    const struct kv *kv = lookup(ss, key);
    if (!kv)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(kv->value, &end, 10);
    if (!kv->value[0] || *end || errno || v < lo || v > hi) {
        char want[64];
        snprintf(want, sizeof(want), "an integer from %ld to %ld", lo, hi);
        return bad_value(ss, kv, want);
    }
    *out = (int)v;
    return 0;
}

static int require(const struct sess *ss, const char *key, const char *why)
{
    if (lookup(ss, key))
        return 0;
    const struct us_fix_session_config *t = &ss->x->c->typed[ss->index];
    return fail(ss->x, "%s:%d: [SESSION] %s:%s->%s: missing required key %s%s", ss->x->c->name,
                ss->s->line, t->begin_string, t->sender_comp_id, t->target_comp_id, key, why);
}

static bool zone_exists(const char *name)
{
    if (strcmp(name, "UTC") == 0)
        return true;
    if (name[0] == '/' || strstr(name, ".."))
        return false;
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int typed_session(struct ctx *x, size_t i)
{
    struct sess ss = {x, &x->c->sessions[i], i};
    struct us_fix_session_config *t = &x->c->typed[i];
    *t = (struct us_fix_session_config){
        .reconnect_interval = 30,
        .use_data_dictionary = true,
        .validate_user_defined_fields = true,
        .logon_timeout = 10,
        .logout_timeout = 2,
        .check_latency = true,
        .max_latency = 120,
        .persist_messages = true,
        .socket_nodelay = true,
        .schedule = {.start_day = -1, .end_day = -1},
    };
    const struct kv *kv;
    /* The session's identity first: the other messages name it. */
    if (get_str(&ss, "BeginString", t->begin_string, sizeof(t->begin_string)) < 0 ||
        get_str(&ss, "SenderCompID", t->sender_comp_id, sizeof(t->sender_comp_id)) < 0 ||
        get_str(&ss, "TargetCompID", t->target_comp_id, sizeof(t->target_comp_id)) < 0)
        return -1;
    if (require(&ss, "BeginString", "") < 0 || require(&ss, "SenderCompID", "") < 0 ||
        require(&ss, "TargetCompID", "") < 0 || require(&ss, "ConnectionType", "") < 0 ||
        require(&ss, "FileStorePath", "") < 0)
        return -1;
    kv = lookup(&ss, "BeginString");
    if (strcmp(t->begin_string, "FIX.4.2") && strcmp(t->begin_string, "FIX.4.4"))
        return bad_value(&ss, kv, "FIX.4.2 or FIX.4.4");
    kv = lookup(&ss, "ConnectionType");
    if (strcmp(kv->value, "initiator") == 0)
        t->connection_type = US_FIX_INITIATOR;
    else if (strcmp(kv->value, "acceptor") == 0)
        t->connection_type = US_FIX_ACCEPTOR;
    else
        return bad_value(&ss, kv, "initiator or acceptor");

    if (get_str(&ss, "FileStorePath", t->file_store_path, sizeof(t->file_store_path)) < 0 ||
        get_str(&ss, "FileLogPath", t->file_log_path, sizeof(t->file_log_path)) < 0 ||
        get_str(&ss, "DataDictionary", t->data_dictionary, sizeof(t->data_dictionary)) < 0 ||
        get_str(&ss, "SocketConnectHost", t->socket_connect_host, sizeof(t->socket_connect_host)) <
            0 ||
        get_int(&ss, "HeartBtInt", 1, 3600, &t->heart_bt_int) < 0 ||
        get_int(&ss, "SocketAcceptPort", 1, 65535, &t->socket_accept_port) < 0 ||
        get_int(&ss, "SocketConnectPort", 1, 65535, &t->socket_connect_port) < 0 ||
        get_int(&ss, "ReconnectInterval", 1, 86400, &t->reconnect_interval) < 0 ||
        get_int(&ss, "LogonTimeout", 1, 3600, &t->logon_timeout) < 0 ||
        get_int(&ss, "LogoutTimeout", 1, 3600, &t->logout_timeout) < 0 ||
        get_int(&ss, "MaxLatency", 1, 86400, &t->max_latency) < 0 ||
        get_bool(&ss, "ResetOnLogon", &t->reset_on_logon) < 0 ||
        get_bool(&ss, "ResetOnLogout", &t->reset_on_logout) < 0 ||
        get_bool(&ss, "ResetOnDisconnect", &t->reset_on_disconnect) < 0 ||
        get_bool(&ss, "UseDataDictionary", &t->use_data_dictionary) < 0 ||
        get_bool(&ss, "ValidateUserDefinedFields", &t->validate_user_defined_fields) < 0 ||
        get_bool(&ss, "CheckLatency", &t->check_latency) < 0 ||
        get_bool(&ss, "PersistMessages", &t->persist_messages) < 0 ||
        get_bool(&ss, "SocketNodelay", &t->socket_nodelay) < 0)
        return -1;
    int chunk = 0;
    if (get_int(&ss, "ResendRequestChunkSize", 0, INT_MAX, &chunk) < 0)
        return -1;
    t->resend_request_chunk_size = (unsigned)chunk;

    if (t->connection_type == US_FIX_INITIATOR) {
        if (require(&ss, "HeartBtInt", " (ConnectionType=initiator)") < 0 ||
            require(&ss, "SocketConnectHost", " (ConnectionType=initiator)") < 0 ||
            require(&ss, "SocketConnectPort", " (ConnectionType=initiator)") < 0)
            return -1;
    } else if (require(&ss, "SocketAcceptPort", " (ConnectionType=acceptor)") < 0) {
        return -1;
    }

    /* The schedule. */
    struct us_fix_schedule *sc = &t->schedule;
    if (get_bool(&ss, "NonStopSession", &sc->non_stop) < 0 ||
        get_bool(&ss, "UseLocalTime", &sc->use_local_time) < 0)
        return -1;
    if (!sc->non_stop && (require(&ss, "StartTime", " (or NonStopSession=Y)") < 0 ||
                          require(&ss, "EndTime", " (or NonStopSession=Y)") < 0))
        return -1;
    if ((kv = lookup(&ss, "StartTime")) &&
        (sc->start_time = us_fix_parse_time_of_day(kv->value)) < 0)
        return bad_value(&ss, kv, "a time HH:MM:SS");
    if ((kv = lookup(&ss, "EndTime")) && (sc->end_time = us_fix_parse_time_of_day(kv->value)) < 0)
        return bad_value(&ss, kv, "a time HH:MM:SS");
    const struct kv *sd = lookup(&ss, "StartDay"), *ed = lookup(&ss, "EndDay");
    if (sd && (sc->start_day = us_fix_parse_day(sd->value)) < 0)
        return bad_value(&ss, sd, "a day of the week");
    if (ed && (sc->end_day = us_fix_parse_day(ed->value)) < 0)
        return bad_value(&ss, ed, "a day of the week");
    if (!sd != !ed)
        return fail(x, "%s:%d: %s without %s (a weekly session needs both)", x->c->name,
                    (sd ? sd : ed)->line, sd ? "StartDay" : "EndDay", sd ? "EndDay" : "StartDay");
    if ((kv = lookup(&ss, "TimeZone"))) {
        if (sc->use_local_time)
            return fail(x, "%s:%d: TimeZone and UseLocalTime=Y together", x->c->name, kv->line);
        if (strlen(kv->value) >= sizeof(sc->time_zone) || !zone_exists(kv->value))
            return bad_value(&ss, kv, "a time zone in the tz database");
        if (strcmp(kv->value, "UTC") != 0)
            strcpy(sc->time_zone, kv->value);
    }

    /* ustack's store policy. */
    t->store.sync = US_FIX_STORE_SYNC_ALWAYS;
    if ((kv = lookup(&ss, "UstackStoreSync"))) {
        if (strcmp(kv->value, "always") == 0)
            t->store.sync = US_FIX_STORE_SYNC_ALWAYS;
        else if (strcmp(kv->value, "group") == 0)
            t->store.sync = US_FIX_STORE_SYNC_GROUP;
        else if (strcmp(kv->value, "never") == 0)
            t->store.sync = US_FIX_STORE_SYNC_NEVER;
        else
            return bad_value(&ss, kv, "always, group or never");
    }
    int n = 0, ms = 0;
    if (get_int(&ss, "UstackStoreSyncCount", 1, INT_MAX, &n) < 0 ||
        get_int(&ss, "UstackStoreSyncMs", 1, 3600000, &ms) < 0)
        return -1;
    t->store.every_n = (unsigned)n;
    t->store.every_ms = (unsigned)ms;
    if (t->store.sync == US_FIX_STORE_SYNC_GROUP && !n && !ms)
        return fail(x,
                    "%s:%d: UstackStoreSync=group needs UstackStoreSyncCount or UstackStoreSyncMs",
                    x->c->name, lookup(&ss, "UstackStoreSync")->line);
    return 0;
}

static int build(struct ctx *x)
{
    struct us_fix_config *c = x->c;
    if (c->n == 0)
        return fail(x, "%s: no [SESSION] section", c->name);
    c->typed = calloc(c->n, sizeof(*c->typed));
    if (!c->typed)
        return fail(x, "%s: out of memory", c->name);
    for (size_t i = 0; i < c->n; i++) {
        if (typed_session(x, i) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            const struct us_fix_session_config *a = &c->typed[j], *b = &c->typed[i];
            if (!strcmp(a->begin_string, b->begin_string) &&
                !strcmp(a->sender_comp_id, b->sender_comp_id) &&
                !strcmp(a->target_comp_id, b->target_comp_id))
                return fail(x, "%s:%d: session %s:%s->%s defined twice (first at line %d)", c->name,
                            c->sessions[i].line, b->begin_string, b->sender_comp_id,
                            b->target_comp_id, c->sessions[j].line);
        }
    }
    return 0;
}

int us_fix_config_parse(struct us_fix_config **out, const char *text, const char *name, char *err,
                        size_t errlen)
{
    *out = NULL;
    struct us_fix_config *c = calloc(1, sizeof(*c));
    if (!c) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(c->name, sizeof(c->name), "%s", name);
    struct ctx x = {c, err, errlen};
    if (read_sections(&x, text) < 0 || build(&x) < 0) {
        int e = errno;
        us_fix_config_free(c);
        errno = e;
        return -1;
    }
    *out = c;
    return 0;
}

int us_fix_config_load(struct us_fix_config **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *text = malloc(cap);
    size_t r;
    while (text && (r = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *p = realloc(text, cap * 2);
            if (!p) {
                free(text);
                text = NULL;
                break;
            }
            text = p;
            cap *= 2;
        }
    }
    int rerr = ferror(f);
    fclose(f);
    if (!text || rerr) {
        snprintf(err, errlen, "%s: %s", path, text ? "read error" : "out of memory");
        free(text);
        errno = text ? EIO : ENOMEM;
        return -1;
    }
    text[n] = 0;
    int rc = us_fix_config_parse(out, text, path, err, errlen);
    free(text);
    return rc;
}

static void free_section(struct section *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->kv[i].key);
        free(s->kv[i].value);
    }
    free(s->kv);
}

void us_fix_config_free(struct us_fix_config *c)
{
    if (!c)
        return;
    free_section(&c->defaults);
    for (size_t i = 0; i < c->n; i++)
        free_section(&c->sessions[i]);
    free(c->sessions);
    free(c->typed);
    free(c);
}

size_t us_fix_config_session_count(const struct us_fix_config *c)
{
    return c->n;
}

const struct us_fix_session_config *us_fix_config_session(const struct us_fix_config *c, size_t i)
{
    return i < c->n ? &c->typed[i] : NULL;
}

const char *us_fix_config_get(const struct us_fix_config *c, size_t i, const char *key)
{
    if (i >= c->n)
        return NULL;
    const struct kv *kv = find(&c->sessions[i], key);
    if (!kv)
        kv = find(&c->defaults, key);
    return kv ? kv->value : NULL;
}
