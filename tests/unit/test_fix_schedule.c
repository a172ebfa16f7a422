/* The FIX session schedule: daily, overnight and weekly sessions, the
 * exact second at each boundary, and DST in America/New_York (the
 * wall-clock times stay, the UTC instants move). Times are arguments. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ustack/fix_config.h"

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm);
}

static struct us_fix_schedule daily(const char *start, const char *end, const char *tz)
{
    struct us_fix_schedule s = {.start_day = -1, .end_day = -1};
    s.start_time = us_fix_parse_time_of_day(start);
    s.end_time = us_fix_parse_time_of_day(end);
    assert_true(s.start_time >= 0 && s.end_time >= 0);
    if (tz)
        strcpy(s.time_zone, tz);
    return s;
}

static int64_t start_of(const struct us_fix_schedule *s, int64_t t)
{
    int64_t st = 0;
    assert_int_equal(us_fix_schedule_session_start(s, t, &st), 0);
    return st;
}

static void test_daily_boundaries(void **state)
{
    (void)state;
    struct us_fix_schedule s = daily("08:00:00", "17:00:00", NULL);
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 7, 59, 59)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 8, 0, 0)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 17, 0, 0)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 17, 0, 1)));
    int64_t st;
    assert_int_equal(us_fix_schedule_session_start(&s, utc(2026, 12, 3, 17, 0, 1), &st), -1);
    assert_int_equal(start_of(&s, utc(2026, 12, 3, 12, 0, 0)), utc(2026, 12, 3, 8, 0, 0));
    assert_true(
        us_fix_schedule_same_session(&s, utc(2026, 12, 3, 9, 0, 0), utc(2026, 12, 3, 16, 0, 0)));
    assert_false(
        us_fix_schedule_same_session(&s, utc(2026, 12, 3, 9, 0, 0), utc(2026, 12, 4, 9, 0, 0)));
    int64_t next;
    assert_int_equal(us_fix_schedule_next_start(&s, utc(2026, 12, 3, 17, 0, 1), &next), 0);
    assert_int_equal(next, utc(2026, 12, 4, 8, 0, 0));
    assert_int_equal(us_fix_schedule_next_start(&s, utc(2026, 12, 3, 7, 59, 59), &next), 0);
    assert_int_equal(next, utc(2026, 12, 3, 8, 0, 0));
    /* Start == end: a 24-hour session that starts anew at that time. */
    struct us_fix_schedule all = daily("00:00:00", "00:00:00", NULL);
    assert_true(us_fix_schedule_in_session(&all, utc(2026, 12, 3, 23, 59, 59)));
    assert_int_equal(start_of(&all, utc(2026, 12, 3, 23, 59, 59)), utc(2026, 12, 3, 0, 0, 0));
    assert_int_equal(start_of(&all, utc(2026, 12, 4, 0, 0, 0)), utc(2026, 12, 4, 0, 0, 0));
    /* Non-stop: always in, never a new session. */
    struct us_fix_schedule ns = {.non_stop = true, .start_day = -1, .end_day = -1};
    assert_true(us_fix_schedule_same_session(&ns, 0, utc(2030, 1, 1, 0, 0, 0)));
}

static void test_overnight_wrap(void **state)
{
    (void)state;
    struct us_fix_schedule s = daily("22:00:00", "06:00:00", NULL);
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 21, 59, 59)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 22, 0, 0)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 4, 6, 0, 0)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 4, 6, 0, 1)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 4, 12, 0, 0)));
    /* After midnight the session is the one that started the evening before. */
    assert_int_equal(start_of(&s, utc(2026, 12, 4, 5, 0, 0)), utc(2026, 12, 3, 22, 0, 0));
    assert_int_equal(start_of(&s, utc(2026, 12, 3, 23, 0, 0)), utc(2026, 12, 3, 22, 0, 0));
    assert_true(
        us_fix_schedule_same_session(&s, utc(2026, 12, 3, 23, 0, 0), utc(2026, 12, 4, 5, 0, 0)));
    assert_false(
        us_fix_schedule_same_session(&s, utc(2026, 12, 4, 5, 0, 0), utc(2026, 12, 4, 23, 0, 0)));
}

static void test_weekly(void **state)
{
    (void)state;
    /* 2026-12-03 is a Thursday. The FX week: Sunday 17:00 to Friday 17:00. */
    struct us_fix_schedule s = daily("17:00:00", "17:00:00", NULL);
    s.start_day = us_fix_parse_day("Sunday");
    s.end_day = us_fix_parse_day("fr");
    assert_int_equal(s.start_day, 0);
    assert_int_equal(s.end_day, 5);
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 4, 17, 0, 0)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 4, 17, 0, 1)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 5, 12, 0, 0)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 6, 16, 59, 59)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 6, 17, 0, 0)));
    /* Wednesday 03:00 belongs to the week that started on Sunday; a daily
     * 17:00 boundary inside the week is no new session. */
    assert_int_equal(start_of(&s, utc(2026, 12, 9, 3, 0, 0)), utc(2026, 12, 6, 17, 0, 0));
    assert_int_equal(start_of(&s, utc(2026, 12, 3, 18, 0, 0)), utc(2026, 11, 29, 17, 0, 0));
    assert_int_equal(start_of(&s, utc(2026, 12, 6, 17, 0, 0)), utc(2026, 12, 6, 17, 0, 0));
    int64_t next;
    assert_int_equal(us_fix_schedule_next_start(&s, utc(2026, 12, 3, 18, 0, 0), &next), 0);
    assert_int_equal(next, utc(2026, 12, 6, 17, 0, 0));

    /* A weekend session wraps the end of the week: Friday 22:00 to Monday 06:00. */
    struct us_fix_schedule w = daily("22:00:00", "06:00:00", NULL);
    w.start_day = 5, w.end_day = 1;
    assert_true(us_fix_schedule_in_session(&w, utc(2026, 12, 5, 12, 0, 0)));
    assert_true(us_fix_schedule_in_session(&w, utc(2026, 12, 7, 6, 0, 0)));
    assert_false(us_fix_schedule_in_session(&w, utc(2026, 12, 7, 6, 0, 1)));
    assert_false(us_fix_schedule_in_session(&w, utc(2026, 12, 9, 12, 0, 0)));
    assert_int_equal(start_of(&w, utc(2026, 12, 7, 1, 0, 0)), utc(2026, 12, 4, 22, 0, 0));

    /* A week that ends on the day it starts: Sunday 17:00 to Sunday 16:59:59.
     * Sunday noon still belongs to the week that began the Sunday before. */
    struct us_fix_schedule sun = daily("17:00:00", "16:59:59", NULL);
    sun.start_day = sun.end_day = 0;
    assert_true(us_fix_schedule_in_session(&sun, utc(2026, 12, 6, 12, 0, 0)));
    assert_int_equal(start_of(&sun, utc(2026, 12, 6, 12, 0, 0)), utc(2026, 11, 29, 17, 0, 0));
    assert_int_equal(start_of(&sun, utc(2026, 12, 6, 17, 0, 0)), utc(2026, 12, 6, 17, 0, 0));

    /* The whole week: Sunday 00:00:00 to Sunday 00:00:00. */
    struct us_fix_schedule all = daily("00:00:00", "00:00:00", NULL);
    all.start_day = all.end_day = 0;
    assert_true(us_fix_schedule_in_session(&all, utc(2026, 12, 5, 23, 59, 59)));
    assert_int_equal(start_of(&all, utc(2026, 12, 5, 23, 59, 59)), utc(2026, 11, 29, 0, 0, 0));
    assert_int_equal(start_of(&all, utc(2026, 12, 6, 0, 0, 0)), utc(2026, 12, 6, 0, 0, 0));
}

static void test_dst_new_york(void **state)
{
    (void)state;
    const char *tz_before = getenv("TZ");
    /* 09:30-16:00 New York: 14:30Z in winter (EST, UTC-5), 13:30Z in summer (EDT, UTC-4). */
    struct us_fix_schedule s = daily("09:30:00", "16:00:00", "America/New_York");
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 14, 29, 59)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 14, 30, 0)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 21, 0, 0)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 12, 3, 21, 0, 1)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 7, 1, 13, 29, 59)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 7, 1, 13, 30, 0)));
    assert_true(us_fix_schedule_in_session(&s, utc(2026, 7, 1, 20, 0, 0)));
    assert_false(us_fix_schedule_in_session(&s, utc(2026, 7, 1, 20, 0, 1)));
    assert_int_equal(start_of(&s, utc(2026, 7, 1, 15, 0, 0)), utc(2026, 7, 1, 13, 30, 0));

    /* 17:00-16:59:59 New York across the spring change (2026-03-08 02:00
     * EST -> 03:00 EDT): the session that started Saturday 17:00 EST
     * (22:00Z) runs 23 hours, to Sunday 16:59:59 EDT (20:59:59Z). */
    struct us_fix_schedule fx = daily("17:00:00", "16:59:59", "America/New_York");
    assert_int_equal(start_of(&fx, utc(2026, 3, 8, 16, 0, 0)), utc(2026, 3, 7, 22, 0, 0));
    assert_int_equal(start_of(&fx, utc(2026, 3, 8, 20, 59, 59)), utc(2026, 3, 7, 22, 0, 0));
    assert_int_equal(start_of(&fx, utc(2026, 3, 8, 21, 0, 0)), utc(2026, 3, 8, 21, 0, 0));
    /* And across the autumn change (2026-11-01 02:00 EDT -> 01:00 EST): 25 hours. */
    assert_int_equal(start_of(&fx, utc(2026, 11, 1, 21, 59, 59)), utc(2026, 10, 31, 21, 0, 0));
    assert_int_equal(start_of(&fx, utc(2026, 11, 1, 22, 0, 0)), utc(2026, 11, 1, 22, 0, 0));
    int64_t next;
    assert_int_equal(us_fix_schedule_next_start(&fx, utc(2026, 3, 8, 12, 0, 0), &next), 0);
    assert_int_equal(next, utc(2026, 3, 8, 21, 0, 0));

    /* The caller's TZ is left as it was. */
    const char *tz_after = getenv("TZ");
    assert_true((tz_before == NULL) == (tz_after == NULL));

    /* UseLocalTime: the process's zone. */
    setenv("TZ", "America/New_York", 1);
    tzset();
    struct us_fix_schedule loc = daily("09:30:00", "16:00:00", NULL);
    loc.use_local_time = true;
    assert_true(us_fix_schedule_in_session(&loc, utc(2026, 7, 1, 13, 30, 0)));
    assert_false(us_fix_schedule_in_session(&loc, utc(2026, 7, 1, 13, 29, 59)));
    unsetenv("TZ");
    tzset();
}

static void test_parse_times_and_days(void **state)
{
    (void)state;
    assert_int_equal(us_fix_parse_time_of_day("00:00:00"), 0);
    assert_int_equal(us_fix_parse_time_of_day("23:59:59"), 86399);
    assert_int_equal(us_fix_parse_time_of_day("24:00:00"), -1);
    assert_int_equal(us_fix_parse_time_of_day("8:00:00"), -1);
    assert_int_equal(us_fix_parse_time_of_day("08:00"), -1);
    assert_int_equal(us_fix_parse_time_of_day("08:00:00x"), -1);
    assert_int_equal(us_fix_parse_time_of_day("08:60:00"), -1);
    assert_int_equal(us_fix_parse_day("saturday"), 6);
    assert_int_equal(us_fix_parse_day("TU"), 2);
    assert_int_equal(us_fix_parse_day("Thu"), 4);
    assert_int_equal(us_fix_parse_day("T"), -1);
    assert_int_equal(us_fix_parse_day("Sundays"), -1);
    assert_int_equal(us_fix_parse_day("xx"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daily_boundaries),
        cmocka_unit_test(test_overnight_wrap),
        cmocka_unit_test(test_weekly),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_parse_times_and_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
