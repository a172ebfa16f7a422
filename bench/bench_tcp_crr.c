/* TCP connect + accept + close per second on one core: COUNT connections
 * opened, accepted and closed from both ends, one after the other.
 *   ustack: a connects to b's listener; a closes, then b (a keeps TIME_WAIT,
 *           which is why COUNT stays below the ephemeral port range).
 *   kernel: the same over loopback in one thread (blocking connect; run it
 *           in a fresh network namespace so no earlier TIME_WAIT lingers). */
#include "bench_util.h"

static void run_ustack(long count)
{
    struct upair p;
    upair_init(&p, 1500);
    int lfd = upair_listen(&p, 5003);
    for (long i = 0; i < count; i++) {
        int cfd;
        int sfd = upair_connect(&p, lfd, 5003, &cfd);
        if (us_close(p.a, cfd) < 0 || us_close(p.b, sfd) < 0)
            die("us_close failed");
        upair_poll(&p);
    }
    /* Let the last FINs and ACKs go: each connection left closed or in TIME_WAIT. */
    for (int i = 0; i < 10; i++)
        upair_poll(&p);
    upair_free(&p);
}

static void run_kernel(long count)
{
    int lfd = k_listen(5003);
    for (long i = 0; i < count; i++) {
        int cfd;
        int sfd = k_connect(lfd, 5003, &cfd);
        close(cfd);
        close(sfd);
    }
    close(lfd);
}

int main(int argc, char **argv)
{
    long count;
    bool kernel = parse_args(argc, argv, &count, 20000);
    uint64_t t0 = now_ns();
    if (kernel)
        run_kernel(count);
    else
        run_ustack(count);
    uint64_t dt = now_ns() - t0;
    printf("{\"bench\":\"tcp_crr\",\"impl\":\"%s\",\"connections\":%ld,\"seconds\":%.3f,"
           "\"conn_per_s\":%.0f}\n",
           argv[1], count, dt / 1e9, count / (dt / 1e9));
    return 0;
}
