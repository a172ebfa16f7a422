/* "Replays bit for bit from a seed": the same scenario run twice in one
 * process, each time from fresh stacks, wire and fault injectors made with
 * the same seed, gives the same pcap capture byte for byte and the same
 * counters; another seed gives another capture. The scenario has what
 * could hide nondeterminism: TCP both ways (ISNs, timestamps, ephemeral
 * ports, RACK and the timers) over a wire that loses, reorders, duplicates
 * and corrupts frames, with ICMP pings and UDP beside it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/tcp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct us_dev *wrap_pcap(struct us_dev *lower, void *ctx)
{
    char err[160];
    struct us_dev *p = us_pcap_dev_new(lower, ctx, err, sizeof(err));
    if (!p)
        fail_msg("pcap: %s", err);
    return p;
}

/* The whole file, into *len bytes (caller frees). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* b's counters as nstat prints them, into a string (caller frees). */
static char *nstat_of(struct us_stack *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    us_mib_print_nstat(us_stack_mib(s), f, 0);
    fclose(f);
    return buf;
}

struct outcome {
    uint8_t *pcap;
    size_t pcap_len;
    char *nstat_a, *nstat_b;
    uint64_t faults;
};

static void scenario(uint64_t seed, const char *pcap_path, struct outcome *out)
{
    struct us_fault_config fa = {.loss = 0.03,
                                 .dup = 0.02,
                                 .reorder = 0.03,
                                 .corrupt = 0.01,
                                 .reorder_delay = 2 * MS,
                                 .seed = seed};
    struct us_fault_config fb = fa;
    fb.seed = seed + 7;
    struct tnet_cfg c = {.latency = 2 * MS,
                         .bandwidth_bps = 200000000,
                         .fault_a = &fa,
                         .fault_b = &fb,
                         .wrap_a = wrap_pcap,
                         .wrap_ctx = (void *)pcap_path,
                         .seed = seed};
    struct tnet *n = tnet_new(&c);
    /* Pings and a UDP datagram each way beside the TCP connection. */
    for (uint16_t i = 0; i < 5; i++)
        assert_int_equal(us_icmp_echo_send(n->a, B_IP, 0x77, i, "ping", 4, NULL, n->now), 0);
    int ua = us_socket(n->a, US_SOCK_DGRAM), ub = us_socket(n->b, US_SOCK_DGRAM);
    struct us_sockaddr_in sb = {US_IP4_ANY, 9000}, to_b = {B_IP, 9000};
    assert_int_equal(us_bind(n->b, ub, &sb), 0);
    run(n, 20 * MS);
    assert_true(us_sendto(n->a, ua, "datagram", 8, 0, &to_b, n->now) == 8);
    int cfd;
    int sfd = tcp_pair(n, 80, &cfd, NULL);
    transfer(n, cfd, sfd, 300000, 200000, 1 * MS, 120 * SEC);
    us_close(n->a, cfd);
    us_close(n->b, sfd);
    run(n, 2 * SEC);
    out->nstat_a = nstat_of(n->a);
    out->nstat_b = nstat_of(n->b);
    out->faults = ctr(n->b, "TcpRetransSegs") + ctr(n->a, "TcpRetransSegs");
    tnet_free(n); /* closes the capture */
    out->pcap = slurp(pcap_path, &out->pcap_len);
}

static void outcome_free(struct outcome *o)
{
    free(o->pcap);
    free(o->nstat_a);
    free(o->nstat_b);
}

static void test_same_seed_same_capture(void **state)
{
    (void)state;
    char dir[] = "/tmp/ustack-replay-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[64], p2[64], p3[64];
    snprintf(p1, sizeof(p1), "%s/1.pcap", dir);
    snprintf(p2, sizeof(p2), "%s/2.pcap", dir);
    snprintf(p3, sizeof(p3), "%s/3.pcap", dir);
    struct outcome r1, r2, r3;
    scenario(1234, p1, &r1);
    scenario(1234, p2, &r2);
    scenario(4321, p3, &r3);
    /* The faults were there: retransmissions, and a capture of size. */
    assert_true(r1.faults > 10);
    assert_true(r1.pcap_len > 500000);
    /* Same seed: the same bytes, frame for frame and timestamp for
     * timestamp, and the same counters. */
    assert_int_equal(r1.pcap_len, r2.pcap_len);
    if (memcmp(r1.pcap, r2.pcap, r1.pcap_len) != 0) {
        size_t i = 0;
        while (r1.pcap[i] == r2.pcap[i])
            i++;
        fail_msg("the captures differ from byte %zu of %zu", i, r1.pcap_len);
    }
    assert_string_equal(r1.nstat_a, r2.nstat_a);
    assert_string_equal(r1.nstat_b, r2.nstat_b);
    /* Another seed: another run. */
    assert_true(r3.pcap_len != r1.pcap_len || memcmp(r1.pcap, r3.pcap, r1.pcap_len) != 0);
    assert_true(strcmp(r1.nstat_b, r3.nstat_b) != 0);
    outcome_free(&r1);
    outcome_free(&r2);
    outcome_free(&r3);
    unlink(p1);
    unlink(p2);
    unlink(p3);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
