/* 1-byte TCP request/response on one core: COUNT round trips, each timed on
 * the wall clock, reported as p50/p99/p99.9 in microseconds.
 *   ustack: a sends one byte, the stacks are polled until b can read it,
 *           b answers with one byte, polled until a reads it. The clock is
 *           read once per round trip, and that reading is the `now` of
 *           every call in it, as a busy-polling loop would do (a vDSO
 *           clock_gettime per poll cost ~15% of the round trip here).
 *   kernel: the same over loopback with blocking sockets in one thread (the
 *           byte is queued at the receiver when send returns). */
#include "bench_util.h"

#define WARMUP 1000

static void run_ustack(uint64_t *rtt, long count)
{
    struct upair p;
    upair_init(&p, 1500);
    int cfd, lfd = upair_listen(&p, 5002);
    int sfd = upair_connect(&p, lfd, 5002, &cfd);
    us_set_int(p.a, cfd, US_IPPROTO_TCP, US_TCP_NODELAY, 1);
    us_set_int(p.b, sfd, US_IPPROTO_TCP, US_TCP_NODELAY, 1);
    char c = 'q';
    uint64_t t0 = now_ns();
    for (long i = -WARMUP; i < count; i++) {
        if (us_send(p.a, cfd, &c, 1, 0, t0) != 1)
            die("us_send of the request failed");
        int n, spins = 0;
        while ((n = us_recv(p.b, sfd, &c, 1, 0)) == -EAGAIN) {
            upair_poll_at(&p, t0);
            if (++spins > 1000000)
                die("request %ld never arrived", i);
        }
        if (n != 1 || c != 'q')
            die("wrong request byte");
        c = 'r';
        if (us_send(p.b, sfd, &c, 1, 0, t0) != 1)
            die("us_send of the response failed");
        spins = 0;
        while ((n = us_recv(p.a, cfd, &c, 1, 0)) == -EAGAIN) {
            upair_poll_at(&p, t0);
            if (++spins > 1000000)
                die("response %ld never arrived", i);
        }
        if (n != 1 || c != 'r')
            die("wrong response byte");
        c = 'q';
        uint64_t t1 = now_ns();
        if (i >= 0)
            rtt[i] = t1 - t0;
        t0 = t1;
    }
    upair_free(&p);
}

static void run_kernel(uint64_t *rtt, long count)
{
    int cfd, lfd = k_listen(5002);
    int sfd = k_connect(lfd, 5002, &cfd);
    k_set_int(cfd, IPPROTO_TCP, TCP_NODELAY, 1);
    k_set_int(sfd, IPPROTO_TCP, TCP_NODELAY, 1);
    char c = 'q';
    uint64_t t0 = now_ns();
    for (long i = -WARMUP; i < count; i++) {
        if (send(cfd, &c, 1, 0) != 1 || recv(sfd, &c, 1, 0) != 1 || c != 'q')
            die("request: %s", strerror(errno));
        c = 'r';
        if (send(sfd, &c, 1, 0) != 1 || recv(cfd, &c, 1, 0) != 1 || c != 'r')
            die("response: %s", strerror(errno));
        c = 'q';
        uint64_t t1 = now_ns();
        if (i >= 0)
            rtt[i] = t1 - t0;
        t0 = t1;
    }
    close(cfd);
    close(sfd);
    close(lfd);
}

int main(int argc, char **argv)
{
    long count;
    bool kernel = parse_args(argc, argv, &count, 200000);
    uint64_t *rtt = malloc((size_t)count * sizeof(*rtt));
    if (!rtt)
        die("out of memory");
    /* Touch every page before timing: a first write to a fresh page is a
     * page fault (~10 us in these VMs), which every 512th sample would
     * otherwise carry into p99.9. Not 0: malloc + memset 0 becomes a
     * calloc, which leaves fresh pages untouched. */
    memset(rtt, 0xff, (size_t)count * sizeof(*rtt));
    uint64_t t0 = now_ns();
    if (kernel)
        run_kernel(rtt, count);
    else
        run_ustack(rtt, count);
    double secs = (now_ns() - t0) / 1e9;
    double p50 = quantile(rtt, (size_t)count, 0.50) / 1e3;
    double p99 = quantile(rtt, (size_t)count, 0.99) / 1e3;
    double p999 = quantile(rtt, (size_t)count, 0.999) / 1e3;
    printf("{\"bench\":\"tcp_rr\",\"impl\":\"%s\",\"round_trips\":%ld,\"seconds\":%.3f,"
           "\"p50_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f}\n",
           argv[1], count, secs, p50, p99, p999);
    free(rtt);
    return 0;
}
