/* QuickFIX-format configuration: [DEFAULT] overlaid by [SESSION], typed
 * values, and clear errors (file:line) for unknown keys, bad values and
 * missing required keys. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ustack/fix_config.h"

/* Written as QuickFIX's own documentation example is (config.html). */
static const char quickfix_example[] =
    "# default settings for sessions\n"
    "[DEFAULT]\n"
    "ConnectionType=initiator\n"
    "ReconnectInterval=60\n"
    "SenderCompID=TW\n"
    "FileStorePath=store\n"
    "FileLogPath=log\n"
    "StartTime=00:00:00\n"
    "EndTime=00:00:00\n"
    "UseDataDictionary=Y\n"
    "DataDictionary=tests/fix/FIX42.xml\n"
    "  HeartBtInt = 30  \n"
    "SocketConnectHost =\t127.0.0.1\r\n"
    "\n"
    "# session definition\n"
    "[SESSION]\n"
    "# inherit ConnectionType, ReconnectInterval and SenderCompID from default\n"
    "BeginString=FIX.4.2\n"
    "TargetCompID=ARCA\n"
    "SocketConnectPort=6867\n"
    "\n"
    "[SESSION]\n"
    "BeginString=FIX.4.4\n"
    "TargetCompID=ISLD\n"
    "StartTime=12:30:00\n"
    "EndTime=23:30:00\n"
    "heartbtint=20\n"
    "SocketConnectPort=8228\n"
    "TimeZone=America/New_York\n"
    "ResendRequestChunkSize=2500\n"
    "\n"
    "[SESSION]\n"
    "BeginString=FIX.4.4\n"
    "ConnectionType=acceptor\n"
    "SenderCompID=US\n"
    "TargetCompID=QF\n"
    "SocketAcceptPort=9823\n"
    "StartDay=Sunday\n"
    "EndDay=Friday\n"
    "StartTime=17:00:00\n"
    "EndTime=17:00:00\n"
    "ResetOnLogon=Y\n"
    "PersistMessages=Y\n"
    "UstackStoreSync=group\n"
    "UstackStoreSyncCount=64\n"
    "UstackStoreSyncMs=2\n";

static void test_quickfix_example(void **state)
{
    (void)state;
    struct us_fix_config *c;
    char err[256] = "";
    if (us_fix_config_parse(&c, quickfix_example, "example.cfg", err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(us_fix_config_session_count(c), 3);

    const struct us_fix_session_config *a = us_fix_config_session(c, 0);
    assert_int_equal(a->connection_type, US_FIX_INITIATOR);
    assert_string_equal(a->begin_string, "FIX.4.2");
    assert_string_equal(a->sender_comp_id, "TW"); /* from DEFAULT */
    assert_string_equal(a->target_comp_id, "ARCA");
    assert_int_equal(a->heart_bt_int, 30); /* whitespace stripped */
    assert_int_equal(a->reconnect_interval, 60);
    assert_string_equal(a->socket_connect_host, "127.0.0.1"); /* CR stripped */
    assert_int_equal(a->socket_connect_port, 6867);
    assert_string_equal(a->file_store_path, "store");
    assert_string_equal(a->data_dictionary, "tests/fix/FIX42.xml");
    assert_int_equal(a->schedule.start_time, 0);
    assert_int_equal(a->schedule.start_day, -1);
    assert_string_equal(a->schedule.time_zone, "");
    /* QuickFIX's defaults where the file says nothing. */
    assert_int_equal(a->logon_timeout, 10);
    assert_int_equal(a->logout_timeout, 2);
    assert_int_equal(a->max_latency, 120);
    assert_true(a->check_latency);
    assert_false(a->reset_on_logon);
    assert_int_equal(a->store.sync, US_FIX_STORE_SYNC_ALWAYS);

    const struct us_fix_session_config *b = us_fix_config_session(c, 1);
    assert_string_equal(b->begin_string, "FIX.4.4");
    assert_int_equal(b->heart_bt_int, 20); /* SESSION overrides DEFAULT, key case ignored */
    assert_int_equal(b->schedule.start_time, 12 * 3600 + 30 * 60);
    assert_int_equal(b->schedule.end_time, 23 * 3600 + 30 * 60);
    assert_string_equal(b->schedule.time_zone, "America/New_York");
    assert_int_equal(b->resend_request_chunk_size, 2500);
    assert_string_equal(us_fix_config_get(c, 1, "starttime"), "12:30:00");
    assert_string_equal(us_fix_config_get(c, 1, "ReconnectInterval"), "60");
    assert_null(us_fix_config_get(c, 1, "SocketAcceptPort"));

    const struct us_fix_session_config *d = us_fix_config_session(c, 2);
    assert_int_equal(d->connection_type, US_FIX_ACCEPTOR);
    assert_int_equal(d->socket_accept_port, 9823);
    assert_int_equal(d->schedule.start_day, 0);
    assert_int_equal(d->schedule.end_day, 5);
    assert_true(d->reset_on_logon);
    assert_int_equal(d->store.sync, US_FIX_STORE_SYNC_GROUP);
    assert_int_equal(d->store.every_n, 64);
    assert_int_equal(d->store.every_ms, 2);
    assert_null(us_fix_config_session(c, 3));
    us_fix_config_free(c);
}

/* Parses text that must fail; checks the message contains want. */
static void expect_error(const char *text, const char *want)
{
    struct us_fix_config *c = (struct us_fix_config *)1;
    char err[256] = "";
    errno = 0;
    if (us_fix_config_parse(&c, text, "t.cfg", err, sizeof(err)) == 0)
        fail_msg("parsed, expected an error containing \"%s\"", want);
    assert_int_equal(errno, EINVAL);
    assert_null(c);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

#define ACCEPTOR                                                                                   \
    "[DEFAULT]\n"                                                                                  \
    "ConnectionType=acceptor\n"                                                                    \
    "FileStorePath=store\n"                                                                        \
    "StartTime=00:00:00\n"                                                                         \
    "EndTime=00:00:00\n"                                                                           \
    "[SESSION]\n"                                                                                  \
    "BeginString=FIX.4.4\n"                                                                        \
    "SenderCompID=US\n"                                                                            \
    "TargetCompID=QF\n"                                                                            \
    "SocketAcceptPort=9823\n"

static void test_unknown_key_names_file_and_line(void **state)
{
    (void)state;
    struct us_fix_config *c;
    char err[256];
    assert_int_equal(us_fix_config_parse(&c, ACCEPTOR, "t.cfg", err, sizeof(err)), 0);
    us_fix_config_free(c);
    expect_error(ACCEPTOR "HeartBeatInt=30\n", "t.cfg:11: unknown key 'HeartBeatInt'");
    expect_error("[DEFAULT]\n# comment\n  Colour = blue\n" ACCEPTOR,
                 "t.cfg:3: unknown key 'Colour'");
    expect_error(ACCEPTOR "[SESSIONS]\n", "t.cfg:11: unknown section [SESSIONS]");
    /* QuickFIX would skip a lower-case section silently; we say so. */
    expect_error(ACCEPTOR "[session]\n", "t.cfg:11: unknown section [session]");
    expect_error(ACCEPTOR "just words\n", "t.cfg:11: expected KEY=VALUE");
    expect_error("HeartBtInt=30\n" ACCEPTOR, "t.cfg:1: HeartBtInt before any");
    expect_error(ACCEPTOR "SocketAcceptPort=9824\n", "t.cfg:11: SocketAcceptPort set twice");
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error(ACCEPTOR "HeartBtInt=abc\n", "t.cfg:11: HeartBtInt: 'abc' is not an integer");
    expect_error(ACCEPTOR "HeartBtInt=0\n", "t.cfg:11: HeartBtInt: '0'");
    expect_error(ACCEPTOR "StartTime=25:00:00\n",
                 "t.cfg:11: StartTime: '25:00:00' is not a time HH:MM:SS");
    expect_error(ACCEPTOR "ResetOnLogon=yes\n", "t.cfg:11: ResetOnLogon: 'yes' is not Y or N");
    expect_error(ACCEPTOR "TimeZone=Mars/Olympus_Mons\n",
                 "t.cfg:11: TimeZone: 'Mars/Olympus_Mons' is not a time zone");
    expect_error(ACCEPTOR "TimeZone=../../etc/passwd\n", "t.cfg:11: TimeZone");
    expect_error(ACCEPTOR "StartDay=Funday\nEndDay=Friday\n", "t.cfg:11: StartDay: 'Funday'");
#define SESSION(ct, bs, port)                                                                      \
    "[SESSION]\nConnectionType=" ct "\nBeginString=" bs "\nSenderCompID=US\nTargetCompID=QF\n"     \
    "FileStorePath=s\nStartTime=00:00:00\nEndTime=00:00:00\nSocketAcceptPort=" port "\n"
    expect_error(SESSION("acceptor", "FIX.4.4", "70000"),
                 "t.cfg:9: SocketAcceptPort: '70000' is not an integer from 1 to 65535");
    expect_error(SESSION("acceptor", "FIX.5.0", "1"),
                 "t.cfg:3: BeginString: 'FIX.5.0' is not FIX.4.2 or FIX.4.4");
    expect_error(SESSION("server", "FIX.4.4", "1"),
                 "t.cfg:2: ConnectionType: 'server' is not initiator or acceptor");
    /* A bad DEFAULT value a session overrides is not used, so not an error
     * (as QuickFIX); one it inherits is, at the DEFAULT's line. */
    struct us_fix_config *c;
    char err[256];
    assert_int_equal(
        us_fix_config_parse(&c, "[DEFAULT]\nSocketAcceptPort=70000\n" ACCEPTOR, "t.cfg", err, 256),
        0);
    us_fix_config_free(c);
    expect_error("[DEFAULT]\nLogonTimeout=-1\n" ACCEPTOR, "t.cfg:2: LogonTimeout: '-1'");
    expect_error(ACCEPTOR "UstackStoreSync=sometimes\n",
                 "t.cfg:11: UstackStoreSync: 'sometimes' is not always, group or never");
    expect_error(ACCEPTOR "UstackStoreSync=group\n", "t.cfg:11: UstackStoreSync=group needs");
    expect_error(ACCEPTOR "UseLocalTime=Y\nTimeZone=UTC\n", "TimeZone and UseLocalTime=Y together");
}

static void test_missing_required_keys(void **state)
{
    (void)state;
    expect_error("[DEFAULT]\nConnectionType=acceptor\n", "t.cfg: no [SESSION] section");
    /* An acceptor needs SocketAcceptPort; the message names the session. */
    expect_error("[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=US\n"
                 "TargetCompID=QF\nFileStorePath=s\nStartTime=00:00:00\nEndTime=00:00:00\n",
                 "t.cfg:1: [SESSION] FIX.4.4:US->QF: missing required key SocketAcceptPort "
                 "(ConnectionType=acceptor)");
    /* An initiator needs HeartBtInt, SocketConnectHost, SocketConnectPort. */
    const char *ini = "[SESSION]\nConnectionType=initiator\nBeginString=FIX.4.2\nSenderCompID=US\n"
                      "TargetCompID=QF\nFileStorePath=s\nStartTime=00:00:00\nEndTime=00:00:00\n"
                      "SocketConnectHost=127.0.0.1\nSocketConnectPort=1\n";
    expect_error(ini, "missing required key HeartBtInt (ConnectionType=initiator)");
    expect_error("[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=US\n"
                 "TargetCompID=QF\nFileStorePath=s\nSocketAcceptPort=1\n",
                 "missing required key StartTime (or NonStopSession=Y)");
    expect_error(ACCEPTOR "StartDay=Monday\n", "t.cfg:11: StartDay without EndDay");
    expect_error("[SESSION]\nConnectionType=acceptor\nSenderCompID=US\nTargetCompID=QF\n",
                 "missing required key BeginString");
    expect_error(ACCEPTOR "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=US\nTargetCompID=QF\n"
                          "SocketAcceptPort=9824\n",
                 "t.cfg:11: session FIX.4.4:US->QF defined twice (first at line 6)");
    /* NonStopSession=Y needs no StartTime/EndTime. */
    struct us_fix_config *c;
    char err[256];
    assert_int_equal(us_fix_config_parse(&c,
                                         "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\n"
                                         "SenderCompID=US\nTargetCompID=QF\nFileStorePath=s\n"
                                         "SocketAcceptPort=1\nNonStopSession=Y\n",
                                         "t.cfg", err, sizeof(err)),
                     0);
    assert_true(us_fix_config_session(c, 0)->schedule.non_stop);
    us_fix_config_free(c);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_fix_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, quickfix_example, strlen(quickfix_example)),
                     (ssize_t)strlen(quickfix_example));
    close(fd);
    struct us_fix_config *c;
    char err[256];
    if (us_fix_config_load(&c, path, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(us_fix_config_session_count(c), 3);
    us_fix_config_free(c);
    unlink(path);
    assert_int_equal(us_fix_config_load(&c, path, err, sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOENT)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quickfix_example),
        cmocka_unit_test(test_unknown_key_names_file_and_line),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_missing_required_keys),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
