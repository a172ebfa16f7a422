/* The TAP's receive ring (the kernel's transmit queue towards the stack),
 * against the real kernel in a private network namespace (skipped without
 * the privilege to make one): a burst of 3,000 frames that the kernel sends
 * while the stack is not reading (as when its process waits to be
 * scheduled) is all there when it reads; with Linux's default queue of
 * 1,000 frames the kernel dropped the other 2,000. Only 192.0.2.0/24 (TEST-NET-1) is used. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ustack/dev.h"

#define TAP_NAME "usring0"
#define BURST    3000

enum { EXIT_SKIPPED = 77 }; /* ctest's SKIP_RETURN_CODE */

static int skipped;

static void skip_because(const char *why)
{
    print_message("SKIP: %s\n", why);
    skipped++;
    skip();
}

static void if_ioctl(int s, unsigned long req, void *arg, const char *what)
{
    if (ioctl(s, req, arg) < 0)
        fail_msg("ioctl %s: %s", what, strerror(errno));
}

static void set_addr(int s, unsigned long req, const char *ip, const char *what)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, TAP_NAME);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &sin.sin_addr);
    memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
    if_ioctl(s, req, &ifr, what);
}

/* The kernel's side: 192.0.2.1/24, up, and 192.0.2.2 a permanent
 * neighbour at the stack's MAC, so the kernel sends without asking. */
static void kernel_side(int s, const struct us_mac *mac)
{
    set_addr(s, SIOCSIFADDR, "192.0.2.1", "SIOCSIFADDR");
    set_addr(s, SIOCSIFNETMASK, "255.255.255.0", "SIOCSIFNETMASK");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, TAP_NAME);
    if_ioctl(s, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP;
    if_ioctl(s, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
    struct arpreq ar;
    memset(&ar, 0, sizeof(ar));
    struct sockaddr_in pa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.0.2.2", &pa.sin_addr);
    memcpy(&ar.arp_pa, &pa, sizeof(pa));
    ar.arp_ha.sa_family = ARPHRD_ETHER;
    memcpy(ar.arp_ha.sa_data, mac->b, 6);
    ar.arp_flags = ATF_PERM | ATF_COM;
    strcpy(ar.arp_dev, TAP_NAME);
    if_ioctl(s, SIOCSARP, &ar, "SIOCSARP");
}

/* The TAP's "TX dropped" from /proc/net/dev (this namespace's, unlike
 * /sys, which shows the namespace it was mounted in): the frames the
 * kernel could not queue towards the stack. */
static unsigned long tx_dropped(void)
{
    FILE *f = fopen("/proc/net/dev", "r");
    if (!f)
        fail_msg("cannot open /proc/net/dev: %s", strerror(errno));
    char line[512];
    unsigned long v[12];
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon || !strstr(line, TAP_NAME ":"))
            continue;
        found =
            sscanf(colon + 1, "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]) == 12;
    }
    fclose(f);
    if (!found)
        fail_msg("no " TAP_NAME " in /proc/net/dev");
    return v[11]; /* receive: 8 fields; transmit: bytes, packets, errs, drop */
}

static void test_burst_waits_in_the_ring(void **state)
{
    (void)state;
    if (unshare(CLONE_NEWNET) != 0) {
        char why[128];
        snprintf(why, sizeof(why), "unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
        skip_because(why);
    }
    char err[256] = "";
    struct us_dev *d = us_tap_dev_open(TAP_NAME, 0, err, sizeof(err));
    if (!d && strstr(err, "cannot open /dev/net/tun"))
        skip_because(err);
    if (!d)
        fail_msg("%s", err);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    kernel_side(s, &d->mac);

    /* The kernel sends the whole burst before the stack reads anything. */
    int sndbuf = 16 << 20;
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, "192.0.2.2", &to.sin_addr);
    char msg[64];
    for (unsigned i = 0; i < BURST; i++) {
        int n = snprintf(msg, sizeof(msg), "frame %u", i);
        if (sendto(s, msg, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)) != n)
            fail_msg("sendto %u: %s", i, strerror(errno));
    }

    /* Now the stack reads: every datagram, in order. */
    struct us_pkt_pool *pool = us_pkt_pool_new(BURST + 512, 2048);
    us_dev_set_rx_pool(d, pool);
    struct us_pkt *got[64];
    unsigned udp = 0;
    for (;;) {
        int n = us_dev_rx_burst(d, got, 64, 0);
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            const uint8_t *f = got[i]->data;
            /* IPv4 (ethertype 0x0800), UDP: the kernel may add IPv6 chatter. */
            if (got[i]->len > 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17) {
                char want[64];
                int wl = snprintf(want, sizeof(want), "frame %u", udp);
                assert_int_equal(got[i]->len, 42 + (uint32_t)wl);
                assert_memory_equal(f + 42, want, (size_t)wl);
                udp++;
            }
            us_pkt_free(got[i]);
        }
    }
    print_message("%u of %u datagrams read, %lu dropped by the kernel\n", udp, BURST, tx_dropped());
    assert_int_equal(udp, BURST);
    assert_int_equal(tx_dropped(), 0);

    close(s);
    us_dev_destroy(d);
    us_pkt_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_waits_in_the_ring),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed == 0 && skipped > 0)
        return EXIT_SKIPPED;
    return failed;
}
