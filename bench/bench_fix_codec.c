/* FIX codec cost per message on one core: a NewOrderSingle(D) of about 180
 * bytes framed, parsed and validated (header, MsgType, CompIDs, SendingTime)
 * COUNT times, and the same message built COUNT times (header, body,
 * BodyLength, CheckSum). Only "ustack": the QuickFIX figures for the same
 * message come from the QuickFIX peer program (tests/fix). */
#include "bench_util.h"

#include "ustack/fix.h"

#define SENDING_TIME 1796328062123000000LL /* 20261203-20:01:02.123 */

static size_t build_nos(char *buf, size_t cap, uint64_t seq, const char **msg)
{
    struct us_fix_builder b;
    us_fix_build_begin(&b, buf, cap, "FIX.4.4", "D");
    us_fix_build_header(&b, "BANZAI", "EXEC", seq, SENDING_TIME, 3);
    us_fix_add_str(&b, 1, "ACCT-0042");         /* Account */
    us_fix_add_str(&b, 11, "ORD-0000001");      /* ClOrdID */
    us_fix_add_char(&b, 21, '1');               /* HandlInst */
    us_fix_add_str(&b, 55, "IBM");              /* Symbol */
    us_fix_add_char(&b, 54, '1');               /* Side */
    us_fix_add_utc_ts(&b, 60, SENDING_TIME, 3); /* TransactTime */
    us_fix_add_int(&b, 38, 100);                /* OrderQty */
    us_fix_add_char(&b, 40, '2');               /* OrdType */
    us_fix_add_str(&b, 44, "135.25");           /* Price */
    us_fix_add_char(&b, 59, '0');               /* TimeInForce */
    size_t len;
    if (us_fix_build_end(&b, msg, &len) != US_FIX_OK)
        die("build failed");
    return len;
}

int main(int argc, char **argv)
{
    long count;
    if (parse_args(argc, argv, &count, 2000000))
        die("no kernel form: the QuickFIX peer measures the same message");
    static char buf[512];
    const char *msg;
    size_t len = build_nos(buf, sizeof(buf), 1234567, &msg);

    static struct us_fix_msg m;
    struct us_fix_expect e = {"EXEC", "BANZAI", SENDING_TIME, 120000000000LL};
    uint64_t sink = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < count; i++) {
        struct us_fix_frame f;
        struct us_fix_reject rej;
        if (us_fix_frame((const uint8_t *)msg, len, 0, &f) != US_FIX_FRAME_MESSAGE ||
            us_fix_parse(&m, msg, f.len) != US_FIX_OK || us_fix_validate(&m, &e, &rej) != 0)
            die("NewOrderSingle did not parse and validate");
        sink += m.msg_seq_num;
    }
    uint64_t t_parse = now_ns() - t0;

    static char out[512];
    t0 = now_ns();
    for (long i = 0; i < count; i++) {
        const char *o;
        sink += build_nos(out, sizeof(out), (uint64_t)i + 1, &o);
    }
    uint64_t t_build = now_ns() - t0;
    if (sink == 0)
        die("nothing measured");
    printf("{\"bench\":\"fix_codec\",\"impl\":\"%s\",\"messages\":%ld,\"msg_bytes\":%zu,"
           "\"parse_validate_ns\":%.1f,\"build_ns\":%.1f}\n",
           argv[1], count, len, (double)t_parse / count, (double)t_build / count);
    return 0;
}
