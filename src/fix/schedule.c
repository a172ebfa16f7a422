/* The FIX session schedule, as QuickFIX's TimeRange: in-session tests and
 * the start of the session a time belongs to, in the zone's wall-clock
 * time (so DST moves the UTC instants, not the wall-clock times). */
#include "ustack/fix_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DAY  86400
#define WEEK (7 * DAY)

/* The zone for the duration of one conversion: TZ set, then put back. */
struct zone_guard {
    bool active;
    bool had;
    char saved[128];
};

static void zone_enter(const struct us_fix_schedule *s, struct zone_guard *g)
{
    g->active = false;
    if (s->use_local_time || !s->time_zone[0])
        return;
    const char *old = getenv("TZ");
    g->had = old != NULL;
    if (old)
        snprintf(g->saved, sizeof(g->saved), "%s", old);
    setenv("TZ", s->time_zone, 1);
    tzset();
    g->active = true;
}

static void zone_leave(struct zone_guard *g)
{
    if (!g->active)
        return;
    if (g->had)
        setenv("TZ", g->saved, 1);
    else
        unsetenv("TZ");
    tzset();
}

static bool utc(const struct us_fix_schedule *s)
{
    return !s->use_local_time && !s->time_zone[0];
}

static void to_wall(const struct us_fix_schedule *s, int64_t t, struct tm *tm)
{
    time_t tt = (time_t)t;
    if (utc(s))
        gmtime_r(&tt, tm);
    else
        localtime_r(&tt, tm);
}

/* The instant of a wall-clock date and time; in a DST gap the C library
 * moves it forward, in a repeated hour it picks one of the two. */
static int64_t from_wall(const struct us_fix_schedule *s, struct tm tm)
{
    tm.tm_isdst = -1;
    return utc(s) ? (int64_t)timegm(&tm) : (int64_t)mktime(&tm);
}

static int sec_of_day(const struct tm *tm)
{
    return tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
}

static bool weekly(const struct us_fix_schedule *s)
{
    return s->start_day >= 0 && s->end_day >= 0;
}

/* Inclusive range test on a circle (a day or a week), as QuickFIX:
 * start < end: [start, end]; otherwise it wraps (start == end: all). */
static bool in_range(int64_t x, int64_t start, int64_t end)
{
    return start < end ? x >= start && x <= end : x >= start || x <= end;
}

/* Days back from tm's date to the date the session containing it
 * started; -1 if tm is outside every session. */
static int days_back(const struct us_fix_schedule *s, const struct tm *tm)
{
    int sec = sec_of_day(tm);
    if (!weekly(s)) {
        if (!in_range(sec, s->start_time, s->end_time))
            return -1;
        return s->start_time < s->end_time || sec >= s->start_time ? 0 : 1;
    }
    int64_t x = (int64_t)tm->tm_wday * DAY + sec;
    int64_t S = (int64_t)s->start_day * DAY + s->start_time;
    int64_t E = (int64_t)s->end_day * DAY + s->end_time;
    if (!in_range(x, S, E))
        return -1;
    int k = (tm->tm_wday - s->start_day + 7) % 7;
    if (k == 0 && sec < s->start_time)
        k = 7;
    return k;
}

bool us_fix_schedule_in_session(const struct us_fix_schedule *s, int64_t t)
{
    if (s->non_stop)
        return true;
    struct zone_guard g;
    struct tm tm;
    zone_enter(s, &g);
    to_wall(s, t, &tm);
    zone_leave(&g);
    return days_back(s, &tm) >= 0;
}

int us_fix_schedule_session_start(const struct us_fix_schedule *s, int64_t t, int64_t *start)
{
    if (s->non_stop) {
        *start = 0;
        return 0;
    }
    struct zone_guard g;
    struct tm tm;
    zone_enter(s, &g);
    to_wall(s, t, &tm);
    int k = days_back(s, &tm);
    if (k >= 0) {
        tm.tm_mday -= k;
        tm.tm_hour = s->start_time / 3600;
        tm.tm_min = s->start_time / 60 % 60;
        tm.tm_sec = s->start_time % 60;
        *start = from_wall(s, tm);
    }
    zone_leave(&g);
    return k >= 0 ? 0 : -1;
}

bool us_fix_schedule_same_session(const struct us_fix_schedule *s, int64_t a, int64_t b)
{
    int64_t sa = 0, sb = 0; /* set when each call returns 0; gcc -O3 cannot tell */
    return us_fix_schedule_session_start(s, a, &sa) == 0 &&
           us_fix_schedule_session_start(s, b, &sb) == 0 && sa == sb;
}

int us_fix_schedule_next_start(const struct us_fix_schedule *s, int64_t t, int64_t *next)
{
    if (s->non_stop)
        return -1;
    struct zone_guard g;
    struct tm now;
    int rc = -1;
    zone_enter(s, &g);
    to_wall(s, t, &now);
    for (int k = 0; k <= 8 && rc < 0; k++) {
        struct tm tm = now;
        tm.tm_mday += k;
        tm.tm_hour = s->start_time / 3600;
        tm.tm_min = s->start_time / 60 % 60;
        tm.tm_sec = s->start_time % 60;
        int64_t c = from_wall(s, tm);
        struct tm cw;
        to_wall(s, c, &cw);
        if (c > t && (!weekly(s) || cw.tm_wday == s->start_day)) {
            *next = c;
            rc = 0;
        }
    }
    zone_leave(&g);
    return rc;
}

int us_fix_parse_time_of_day(const char *v)
{
    int h, m, sec, n = 0;
    if (strlen(v) != 8 || sscanf(v, "%2d:%2d:%2d%n", &h, &m, &sec, &n) != 3 || n != 8)
        return -1;
    for (int i = 0; i < 8; i++)
        if (i == 2 || i == 5 ? v[i] != ':' : !isdigit((unsigned char)v[i]))
            return -1;
    if (h > 23 || m > 59 || sec > 59)
        return -1;
    return h * 3600 + m * 60 + sec;
}

int us_fix_parse_day(const char *v)
{
    static const char *const days[] = {"sunday",   "monday", "tuesday", "wednesday",
                                       "thursday", "friday", "saturday"};
    size_t n = strlen(v);
    if (n < 2)
        return -1;
    for (int d = 0; d < 7; d++)
        if (n <= strlen(days[d]) && strncasecmp(v, days[d], n) == 0)
            return d;
    return -1;
}
