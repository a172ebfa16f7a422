/* The TAP device against the real kernel, inside a private network namespace
 * (skipped without the privilege to make one): error texts, and an ARP
 * request the kernel answers. Only 192.0.2.0/24 (TEST-NET-1) is used.
 * A skip exits 77, which ctest reports as Skipped (SKIP_RETURN_CODE), not
 * as Passed: cmocka's skip() alone leaves the exit status 0. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ustack/dev.h"

#define TAP_NAME "ustest0"

enum { EXIT_SKIPPED = 77 }; /* ctest's SKIP_RETURN_CODE */

static int skipped; /* tests skipped for want of privilege or a TUN driver */

static void skip_because(const char *why)
{
    print_message("SKIP: %s\n", why);
    skipped++;
    skip();
}

/* Enters a private network namespace once; skips the test if we may not. */
static void enter_netns(void)
{
    static int state; /* 0 untried, 1 inside, -1 not permitted */
    static char why[128];
    if (state == 0) {
        state = unshare(CLONE_NEWNET) == 0 ? 1 : -1;
        snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
    }
    if (state < 0)
        skip_because(why);
}

static struct us_dev *open_or_skip(const char *name)
{
    char err[256] = "";
    struct us_dev *d = us_tap_dev_open(name, 0, err, sizeof(err));
    if (!d && strstr(err, "cannot open /dev/net/tun"))
        skip_because(err); /* no TUN driver in this environment */
    if (!d)
        fail_msg("%s", err);
    return d;
}

static void test_open_and_errors(void **state)
{
    char err[256] = "";
    /* Too long for IFNAMSIZ: refused before touching the kernel. */
    assert_null(us_tap_dev_open("ustest0123456789", 0, err, sizeof(err)));
    assert_non_null(strstr(err, "ustest0123456789"));
    assert_non_null(strstr(err, "too long"));

    enter_netns();
    struct us_dev *d = open_or_skip(TAP_NAME);
    assert_string_equal(d->name, TAP_NAME);
    assert_int_equal(d->mtu, 1500);
    assert_true(us_dev_pollfd(d) >= 0);
    assert_int_equal(d->mac.b[0] & 0x03, 0x02); /* locally administered unicast */

    /* A second descriptor on the same single-queue tap is refused. */
    err[0] = 0;
    assert_null(us_tap_dev_open(TAP_NAME, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "TUNSETIFF " TAP_NAME ": Device or resource busy"));

    /* A name taken by an interface that is not a TAP. */
    err[0] = 0;
    assert_null(us_tap_dev_open("lo", 0, err, sizeof(err)));
    assert_non_null(strstr(err, "TUNSETIFF lo: Invalid argument"));

    /* Nothing waiting: an empty burst, no error. */
    struct us_pkt_pool *pool = us_pkt_pool_new(4, 2048);
    us_dev_set_rx_pool(d, pool);
    struct us_pkt *got[4];
    assert_int_equal(us_dev_rx_burst(d, got, 4, 0), 0);
    assert_int_equal(d->stats.rx_errors, 0);

    /* Closing removes the non-persistent tap, so the name is free again. */
    us_dev_destroy(d);
    d = us_tap_dev_open(TAP_NAME, 9000, err, sizeof(err));
    assert_non_null(d);
    assert_int_equal(d->mtu, 9000);
    us_dev_destroy(d);
    assert_int_equal(us_pkt_pool_available(pool), 4);
    us_pkt_pool_free(pool);
}

static void if_ioctl(int s, unsigned long req, struct ifreq *ifr)
{
    if (ioctl(s, req, ifr) < 0)
        fail_msg("ioctl %lx on %s: %s", req, ifr->ifr_name, strerror(errno));
}

static void set_addr(int s, unsigned long req, const char *ip)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, TAP_NAME);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &sin.sin_addr);
    memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
    if_ioctl(s, req, &ifr);
}

/* 192.0.2.1/24 on the kernel side of the tap, and up. */
static void bring_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    set_addr(s, SIOCSIFADDR, "192.0.2.1");
    set_addr(s, SIOCSIFNETMASK, "255.255.255.0");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, TAP_NAME);
    if_ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    if_ioctl(s, SIOCSIFFLAGS, &ifr);
    close(s);
}

static const uint8_t ip_kernel[4] = {192, 0, 2, 1}, ip_us[4] = {192, 0, 2, 2};

/* Who has 192.0.2.1? Tell 192.0.2.2 (at our MAC). 60 bytes, padded. */
static struct us_pkt *arp_request(struct us_pkt_pool *pool, const struct us_mac *mac)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    uint8_t *f = us_pkt_put(p, 60);
    if (!f)
        abort(); /* (not assert_non_null: gcc must see this path end) */
    memset(f, 0, 60);
    memset(f, 0xff, 6);
    memcpy(f + 6, mac->b, 6);
    f[12] = 0x08, f[13] = 0x06;                       /* ARP */
    f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0x00; /* Ethernet, IPv4 */
    f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;       /* request */
    memcpy(f + 22, mac->b, 6);
    memcpy(f + 28, ip_us, 4);
    memcpy(f + 38, ip_kernel, 4);
    return p;
}

static bool is_arp_reply_to_us(const struct us_pkt *p, const struct us_mac *mac)
{
    const uint8_t *f = p->data;
    return p->len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2 &&
           memcmp(f, mac->b, 6) == 0 && memcmp(f + 28, ip_kernel, 4) == 0 &&
           memcmp(f + 32, mac->b, 6) == 0 && memcmp(f + 38, ip_us, 4) == 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls and drains for up to 3 s until the kernel's ARP reply arrives
 * (IPv6 chatter from the new interface may come first). */
static void await_arp_reply(struct us_dev *d)
{
    int64_t until = mono_ms() + 3000;
    while (mono_ms() < until) {
        struct pollfd pfd = {.fd = us_dev_pollfd(d), .events = POLLIN};
        poll(&pfd, 1, 100);
        struct us_pkt *got[8];
        int n = us_dev_rx_burst(d, got, 8, 0);
        bool found = false;
        for (int i = 0; i < n; i++) {
            found |= is_arp_reply_to_us(got[i], &d->mac);
            us_pkt_free(got[i]);
        }
        if (found)
            return;
    }
    fail_msg("no ARP reply from the kernel within 3 s");
}

static void test_kernel_answers_arp(void **state)
{
    enter_netns();
    struct us_dev *d = open_or_skip(TAP_NAME);
    struct us_pkt_pool *pool = us_pkt_pool_new(16, 2048);
    us_dev_set_rx_pool(d, pool);

    /* While the interface is down the kernel refuses the frame. */
    struct us_pkt *p = arp_request(pool, &d->mac);
    assert_int_equal(us_dev_tx_burst(d, &p, 1, 0), 0);
    assert_int_equal(d->stats.tx_errors, 1);

    bring_up();
    p = arp_request(pool, &d->mac);
    assert_int_equal(us_dev_tx_burst(d, &p, 1, 0), 1);
    assert_int_equal(d->stats.tx_packets, 1);
    assert_int_equal(d->stats.tx_bytes, 60);
    await_arp_reply(d);
    assert_true(d->stats.rx_packets >= 1);
    assert_true(d->stats.rx_bytes >= 42);

    /* With no buffer to read into, the frame waits in the kernel and the
     * miss is counted; once a buffer is back, it is read. */
    struct us_pkt *req = arp_request(pool, &d->mac);
    struct us_pkt *hold[16];
    int held = 0;
    while (held < 16 && (hold[held] = us_pkt_alloc(pool)))
        held++;
    assert_int_equal(us_dev_tx_burst(d, &req, 1, 0), 1); /* frees req's buffer ... */
    hold[held++] = us_pkt_alloc(pool);                   /* ... which we take too */
    assert_non_null(hold[held - 1]);
    assert_int_equal(us_pkt_pool_available(pool), 0);
    struct pollfd pfd = {.fd = us_dev_pollfd(d), .events = POLLIN};
    if (poll(&pfd, 1, 3000) != 1)
        fail_msg("no frame from the kernel within 3 s while the pool was empty");
    uint64_t dropped = d->stats.rx_dropped;
    struct us_pkt *got[4];
    assert_int_equal(us_dev_rx_burst(d, got, 4, 0), 0);
    assert_int_equal(d->stats.rx_dropped, dropped + 1);
    for (int i = 0; i < held; i++)
        us_pkt_free(hold[i]);
    await_arp_reply(d);

    us_dev_destroy(d);
    assert_int_equal(us_pkt_pool_available(pool), 16);
    us_pkt_pool_free(pool);
}

/* A frame of an ethertype nobody handles (IEEE 802 local experimental), so
 * the kernel drops it after a packet socket has seen it: the burst's index
 * in the first payload bytes, a length that differs from frame to frame. */
#define EXP_ETHERTYPE 0x88b5
static struct us_pkt *numbered_frame(struct us_pkt_pool *pool, const struct us_mac *mac, int i)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    uint32_t len = 60 + (uint32_t)(i * 97) % 1455; /* 60..1514 */
    uint8_t *f = us_pkt_put(p, len);
    if (!f)
        abort();
    memset(f, 0xff, 6);
    memcpy(f + 6, mac->b, 6);
    f[12] = EXP_ETHERTYPE >> 8, f[13] = EXP_ETHERTYPE & 0xff;
    for (uint32_t k = 14; k < len; k++)
        f[k] = (uint8_t)(i + k);
    return p;
}

/* Sends `n` numbered frames in one burst and checks, with a packet socket
 * on the kernel's side, that every one arrived whole and in order. */
static void burst_arrives_in_order(struct us_dev *d, struct us_pkt_pool *pool, int n)
{
    int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(EXP_ETHERTYPE));
    assert_true(ps >= 0);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                              .sll_protocol = htons(EXP_ETHERTYPE),
                              .sll_ifindex = (int)if_nametoindex(TAP_NAME)};
    assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
    int rcvbuf = 8 << 20;
    setsockopt(ps, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));

    struct us_pkt *burst[200];
    uint64_t bytes = 0, packets = d->stats.tx_packets, tx_bytes = d->stats.tx_bytes;
    assert_true(n <= 200);
    for (int i = 0; i < n; i++) {
        burst[i] = numbered_frame(pool, &d->mac, i);
        bytes += burst[i]->len;
    }
    assert_int_equal(us_dev_tx_burst(d, burst, n, 0), n);
    assert_int_equal(d->stats.tx_packets, packets + (uint64_t)n);
    assert_int_equal(d->stats.tx_bytes, tx_bytes + bytes);

    static uint8_t buf[2048], want[2048];
    for (int i = 0; i < n; i++) {
        struct pollfd pfd = {.fd = ps, .events = POLLIN};
        if (poll(&pfd, 1, 3000) != 1)
            fail_msg("frame %d of %d never reached the kernel (3 s)", i, n);
        ssize_t got = recv(ps, buf, sizeof(buf), 0);
        struct us_pkt *w = numbered_frame(pool, &d->mac, i);
        memcpy(want, w->data, w->len);
        ssize_t wlen = (ssize_t)w->len;
        us_pkt_free(w);
        if (got != wlen || memcmp(buf, want, (size_t)wlen) != 0)
            fail_msg("frame %d of %d: %zd bytes, not frame %d's %zd (index byte %u): lost, "
                     "reordered or damaged",
                     i, n, got, i, wlen, got > 14 ? (unsigned)(uint8_t)(buf[14] - 14) : 0u);
    }
    close(ps);
}

/* io_uring_disabled 0: io_uring is there for everyone. */
static bool io_uring_enabled(void)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
    int v = -1;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v == 0;
}

/* A burst goes out whole and in order, through io_uring (more frames than
 * one ring burst) and through write() (USTACK_TAP_IO_URING=0). */
static void test_burst_in_order(void **state)
{
    enter_netns();
    struct us_pkt_pool *pool = us_pkt_pool_new(256, 2048);
    struct us_dev *d = open_or_skip(TAP_NAME);
    bring_up();
    if (io_uring_enabled())
        assert_string_equal(us_tap_dev_tx_method(d), "io_uring");
    print_message("sending with %s\n", us_tap_dev_tx_method(d));
    burst_arrives_in_order(d, pool, 150);
    burst_arrives_in_order(d, pool, 1);
    us_dev_destroy(d);

    setenv("USTACK_TAP_IO_URING", "0", 1);
    d = open_or_skip(TAP_NAME);
    unsetenv("USTACK_TAP_IO_URING");
    assert_string_equal(us_tap_dev_tx_method(d), "write");
    bring_up();
    burst_arrives_in_order(d, pool, 150);
    us_dev_destroy(d);
    assert_int_equal(us_pkt_pool_available(pool), 256);
    us_pkt_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_errors),
        cmocka_unit_test(test_kernel_answers_arp),
        cmocka_unit_test(test_burst_in_order),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed == 0 && skipped > 0)
        return EXIT_SKIPPED;
    return failed;
}
