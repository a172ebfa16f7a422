/* The TAP's offloads (virtio-net headers) against the real kernel, inside a
 * private network namespace (skipped without the privilege to make one):
 * what the device says it has and what the kernel's side of the TAP then
 * shows (ethtool's TSO flag), a persistent TAP left plain when the device
 * closes; and a TCP connection made by hand with a kernel socket, over
 * which a super-frame we write reaches the socket intact and the kernel's
 * data comes to us as super-frames with gso_size set; and a burst with
 * frames that have no room for the header in front. Only 192.0.2.0/24
 * (TEST-NET-1) is used. A skip exits 77, which ctest reports as Skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ustack/checksum.h"
#include "ustack/dev.h"
#include "ustack/gso.h"
#include "ustack/wire.h"

#define TAP_NAME    "usoff0"
#define KERNEL_PORT 5000
#define OUR_PORT    40000
#define MSS         1460
#define LARGE_BUF   (65536 + US_PKT_HEADROOM + 64)

enum { EXIT_SKIPPED = 77 }; /* ctest's SKIP_RETURN_CODE */

static int skipped;

static void skip_because(const char *why)
{
    print_message("SKIP: %s\n", why);
    skipped++;
    skip();
}

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

static struct us_dev *open_or_skip(bool no_offload)
{
    char err[256] = "";
    struct us_tap_config cfg = {.no_offload = no_offload};
    struct us_dev *d = us_tap_dev_open_config(TAP_NAME, &cfg, err, sizeof(err));
    if (!d && strstr(err, "cannot open /dev/net/tun"))
        skip_because(err);
    if (!d)
        fail_msg("%s", err);
    return d;
}

static void if_ioctl(int s, unsigned long req, void *arg, const char *what)
{
    if (ioctl(s, req, arg) < 0)
        fail_msg("ioctl %s on " TAP_NAME ": %s", what, strerror(errno));
}

/* TCP segmentation offload as the kernel's side of the TAP has it
 * (ethtool -k's tcp-segmentation-offload). */
static bool kernel_tso_on(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct ethtool_value ev = {.cmd = ETHTOOL_GTSO};
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, TAP_NAME);
    ifr.ifr_data = (char *)&ev;
    if_ioctl(s, SIOCETHTOOL, &ifr, "ETHTOOL_GTSO");
    close(s);
    return ev.data != 0;
}

/* Makes TAP_NAME persistent (or not): it outlives its descriptors. */
static void set_persist(int on)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strcpy(ifr.ifr_name, TAP_NAME);
    if_ioctl(fd, TUNSETIFF, &ifr, "TUNSETIFF");
    if_ioctl(fd, TUNSETPERSIST, (void *)(intptr_t)on, "TUNSETPERSIST");
    close(fd);
}

static void test_features(void **state)
{
    (void)state;
    enter_netns();
    struct us_dev *d = open_or_skip(false);
    assert_int_equal(d->features,
                     US_DEV_F_TX_CSUM | US_DEV_F_TSO | US_DEV_F_RX_CSUM | US_DEV_F_GRO);
    assert_int_equal(d->gso_max_size, 65535);
    assert_string_equal(us_tap_dev_offloads(d), "tx-csum tso rx-csum gro");
    assert_true(kernel_tso_on());
    /* Through a wrapper, the TAP's. */
    struct us_fault_config fc = {.seed = 1};
    struct us_dev *f = us_fault_dev_new(d, &fc);
    assert_int_equal(f->features, d->features);
    assert_string_equal(us_tap_dev_offloads(f), "tx-csum tso rx-csum gro");
    us_dev_destroy(f);

    d = open_or_skip(true);
    assert_int_equal(d->features, 0);
    assert_int_equal(d->gso_max_size, 0);
    assert_string_equal(us_tap_dev_offloads(d), "off");
    assert_false(kernel_tso_on());
    us_dev_destroy(d);

    /* A persistent TAP is left plain when the device closes, so that the
     * next reader without headers does not get super-frames. */
    set_persist(1);
    d = open_or_skip(false);
    assert_true(kernel_tso_on());
    us_dev_destroy(d);
    assert_false(kernel_tso_on());
    set_persist(0);
}

/* ---- a TCP connection by hand ---- */

static const us_ip4 ip_kernel = US_IP4(192, 0, 2, 1), ip_us = US_IP4(192, 0, 2, 2);

struct conn {
    struct us_dev *d;
    struct us_pkt_pool *pool, *large;
    struct us_mac kernel_mac;
    uint32_t snd_nxt, rcv_nxt;
};

/* The kernel's side: 192.0.2.1/24, up, and 192.0.2.2 a permanent
 * neighbour at our MAC, so the kernel sends without asking. Returns the
 * kernel's MAC on the TAP. */
static struct us_mac kernel_side(const struct us_mac *mac)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct ifreq ifr;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const char *addrs[2] = {"192.0.2.1", "255.255.255.0"};
    unsigned long reqs[2] = {SIOCSIFADDR, SIOCSIFNETMASK};
    for (int i = 0; i < 2; i++) {
        memset(&ifr, 0, sizeof(ifr));
        strcpy(ifr.ifr_name, TAP_NAME);
        inet_pton(AF_INET, addrs[i], &sin.sin_addr);
        memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
        if_ioctl(s, reqs[i], &ifr, "SIOCSIFADDR/NETMASK");
    }
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, TAP_NAME);
    if_ioctl(s, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP;
    if_ioctl(s, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
    struct arpreq ar;
    memset(&ar, 0, sizeof(ar));
    struct sockaddr_in pa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(ip_us)};
    memcpy(&ar.arp_pa, &pa, sizeof(pa));
    ar.arp_ha.sa_family = ARPHRD_ETHER;
    memcpy(ar.arp_ha.sa_data, mac->b, 6);
    ar.arp_flags = ATF_PERM | ATF_COM;
    strcpy(ar.arp_dev, TAP_NAME);
    if_ioctl(s, SIOCSARP, &ar, "SIOCSARP");
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, TAP_NAME);
    if_ioctl(s, SIOCGIFHWADDR, &ifr, "SIOCGIFHWADDR");
    close(s);
    struct us_mac km;
    memcpy(km.b, ifr.ifr_hwaddr.sa_data, 6);
    return km;
}

/* Sends one segment from us to the kernel: len payload bytes (a
 * super-frame of MSS-byte segments when len > MSS, its checksum left
 * partial as the stack leaves it), or a header alone with a full checksum. */
static void send_segment(struct conn *c, uint8_t flags, const uint8_t *payload, uint32_t len)
{
    uint32_t optlen = (flags & US_TCP_SYN) ? 4 : 0;
    uint32_t l4 = US_TCP_HLEN + optlen + len, frame = US_ETH_HLEN + US_IPV4_HLEN + l4;
    struct us_pkt *p = us_pkt_alloc(frame + US_PKT_HEADROOM > 2048 ? c->large : c->pool);
    assert_non_null(p);
    uint8_t *f = us_pkt_put(p, frame);
    if (!f)
        abort();
    us_eth_emit(f, &c->kernel_mac, &c->d->mac, US_ETH_TYPE_IPV4);
    struct us_ipv4_repr ip = {.total_len = (uint16_t)(US_IPV4_HLEN + l4),
                              .id = (uint16_t)c->snd_nxt,
                              .df = true,
                              .ttl = 64,
                              .proto = US_IPPROTO_TCP,
                              .src = ip_us,
                              .dst = ip_kernel};
    us_ipv4_emit(f + US_ETH_HLEN, &ip);
    uint8_t *seg = f + US_ETH_HLEN + US_IPV4_HLEN;
    if (len)
        memcpy(seg + US_TCP_HLEN + optlen, payload, len);
    struct us_tcp_repr r = {.sport = OUR_PORT,
                            .dport = KERNEL_PORT,
                            .seq = c->snd_nxt,
                            .ack = c->rcv_nxt,
                            .flags = flags,
                            .window = 65535,
                            .opts = {.mss_present = (flags & US_TCP_SYN) != 0, .mss = MSS},
                            .csum_partial = len > 0};
    us_tcp_emit(seg, l4, &r, ip_us, ip_kernel);
    if (len > 0)
        p->offload = US_PKT_CSUM_PARTIAL;
    if (len > MSS)
        p->gso_size = MSS;
    c->snd_nxt += len + ((flags & US_TCP_SYN) ? 1 : 0);
    uint64_t frames = c->d->stats.tx_gso_frames;
    assert_int_equal(us_dev_tx_burst(c->d, &p, 1, 0), 1);
    if (len > MSS)
        assert_int_equal(c->d->stats.tx_gso_frames, frames + 1);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next TCP segment from the kernel's port to ours (other frames, IPv6
 * chatter, skipped and freed), waiting at most 3 s; its view in v. */
static struct us_pkt *recv_segment(struct conn *c, struct us_tcp_view *v)
{
    int64_t until = mono_ms() + 3000;
    while (mono_ms() < until) {
        struct us_pkt *p;
        if (us_dev_rx_burst(c->d, &p, 1, 0) == 0) {
            struct pollfd pfd = {.fd = us_dev_pollfd(c->d), .events = POLLIN};
            poll(&pfd, 1, 100);
            continue;
        }
        struct us_eth_view e;
        struct us_ipv4_view ip;
        if (us_eth_parse(p->data, p->len, &e) == 0 && e.ethertype == US_ETH_TYPE_IPV4 &&
            us_ipv4_parse(e.payload, e.payload_len, &ip) == 0 && ip.proto == US_IPPROTO_TCP &&
            /* The kernel's checksums come partial: not ours to verify. */
            us_tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, US_WIRE_CSUM_VALID, v) == 0 &&
            v->sport == KERNEL_PORT && v->dport == OUR_PORT)
            return p;
        us_pkt_free(p);
    }
    fail_msg("no segment from the kernel's port %d within 3 s", KERNEL_PORT);
    return NULL;
}

static void recv_all(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    int64_t until = mono_ms() + 3000;
    while (got < len && mono_ms() < until) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        poll(&pfd, 1, 100);
        ssize_t r = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (r == 0)
            break;
        if (r > 0)
            got += (size_t)r;
    }
    if (got != len)
        fail_msg("the kernel socket read %zu of %zu bytes within 3 s", got, len);
}

/* A packet socket on the TAP that sees each frame with the virtio-net
 * header the kernel gives its skb (PACKET_VNET_HDR): how the kernel took
 * what we wrote. */
static int vnet_tap_socket(void)
{
    int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
    assert_true(ps >= 0);
    int one = 1;
    assert_int_equal(setsockopt(ps, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)), 0);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                              .sll_protocol = htons(ETH_P_IP),
                              .sll_ifindex = (int)if_nametoindex(TAP_NAME)};
    assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
    return ps;
}

/* The header of the first frame of frame_len bytes the packet socket sees
 * (the kernel's own segments to us, of other lengths, skipped). */
static struct virtio_net_hdr vnet_of_frame(int ps, size_t frame_len)
{
    static uint8_t buf[sizeof(struct virtio_net_hdr) + 65536];
    int64_t until = mono_ms() + 3000;
    while (mono_ms() < until) {
        struct pollfd pfd = {.fd = ps, .events = POLLIN};
        poll(&pfd, 1, 100);
        ssize_t r = recv(ps, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == (ssize_t)(sizeof(struct virtio_net_hdr) + frame_len)) {
            struct virtio_net_hdr vh;
            memcpy(&vh, buf, sizeof(vh));
            return vh;
        }
    }
    fail_msg("the packet socket saw no frame of %zu bytes within 3 s", frame_len);
    return (struct virtio_net_hdr){0};
}

static void test_super_frames_both_ways(void **state)
{
    (void)state;
    enter_netns();
    struct conn c = {.snd_nxt = 1000};
    c.d = open_or_skip(false);
    c.pool = us_pkt_pool_new(256, 2048);
    c.large = us_pkt_pool_new(64, LARGE_BUF);
    us_dev_set_rx_pool(c.d, c.pool);
    us_dev_set_rx_pool_large(c.d, c.large);
    c.kernel_mac = kernel_side(&c.d->mac);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(ls >= 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(KERNEL_PORT), .sin_addr.s_addr = htonl(ip_kernel)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 1), 0);

    /* Handshake: no window scaling, SACK or timestamps, an MSS of 1460. */
    send_segment(&c, US_TCP_SYN, NULL, 0);
    struct us_tcp_view v;
    struct us_pkt *p = recv_segment(&c, &v);
    assert_int_equal(v.flags & (US_TCP_SYN | US_TCP_ACK), US_TCP_SYN | US_TCP_ACK);
    assert_int_equal(v.ack, c.snd_nxt);
    c.rcv_nxt = v.seq + 1;
    us_pkt_free(p);
    send_segment(&c, US_TCP_ACK, NULL, 0);
    struct pollfd lp = {.fd = ls, .events = POLLIN};
    if (poll(&lp, 1, 3000) != 1)
        fail_msg("the kernel did not accept the connection within 3 s");
    int cs = accept(ls, NULL, NULL);
    assert_true(cs >= 0);

    /* Ours to the kernel: one write() of 20 segments and a short one,
     * read intact from the kernel's socket. */
    enum { OUT = 20 * MSS + 700 };
    static uint8_t out[OUT], in[OUT];
    for (uint32_t i = 0; i < OUT; i++)
        out[i] = (uint8_t)(i * 7 + i / 251);
    int ps = vnet_tap_socket();
    uint64_t tx_segs = c.d->stats.tx_gso_segs;
    send_segment(&c, US_TCP_ACK | US_TCP_PSH, out, OUT);
    assert_int_equal(c.d->stats.tx_gso_segs, tx_segs + 21);
    recv_all(cs, in, OUT);
    assert_memory_equal(in, out, OUT);
    /* The kernel took it as a TCP/IPv4 super-frame of MSS-byte segments
     * whose checksum it is to complete at the TCP header's field (the
     * packet socket's header is in host order, as a legacy one is). */
    struct virtio_net_hdr vh = vnet_of_frame(ps, US_ETH_HLEN + US_IPV4_HLEN + US_TCP_HLEN + OUT);
    close(ps);
    assert_int_equal(vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_int_equal(vh.gso_size, MSS);
    assert_true(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(vh.csum_start, US_ETH_HLEN + US_IPV4_HLEN);
    assert_int_equal(vh.csum_offset, 16);

    /* The kernel's to us: 200 KB, ACKed as it comes, at least one
     * super-frame of MSS-byte segments among what arrives. */
    enum { BACK = 200000 };
    static uint8_t back[BACK], got[BACK];
    for (uint32_t i = 0; i < BACK; i++)
        back[i] = (uint8_t)(i * 13 + i / 509);
    size_t sent = 0, have = 0;
    uint32_t first = c.rcv_nxt, supers = 0, largest = 0;
    uint64_t rx_frames = c.d->stats.rx_gso_frames, rx_segs = c.d->stats.rx_gso_segs;
    while (have < BACK) {
        if (sent < BACK) {
            ssize_t w = send(cs, back + sent, BACK - sent, MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
        }
        p = recv_segment(&c, &v);
        if (v.payload_len > 0) {
            /* In order: nothing is lost here, and we ACK each at once. */
            assert_int_equal(v.seq, c.rcv_nxt);
            assert_true(have + v.payload_len <= BACK);
            memcpy(got + have, v.payload, v.payload_len);
            have += v.payload_len;
            c.rcv_nxt += (uint32_t)v.payload_len;
            if (p->gso_size) {
                assert_int_equal(p->gso_size, MSS);
                assert_true(p->offload & (US_PKT_CSUM_PARTIAL | US_PKT_CSUM_VALID));
                assert_true(v.payload_len > MSS);
                assert_int_equal(us_gso_segs(p, US_ETH_HLEN), (v.payload_len + MSS - 1) / MSS);
                supers++;
            }
            if (v.payload_len > largest)
                largest = (uint32_t)v.payload_len;
            send_segment(&c, US_TCP_ACK, NULL, 0);
        }
        us_pkt_free(p);
    }
    print_message("%u of the kernel's bytes from seq %u: %u super-frames, the largest %u bytes\n",
                  (unsigned)have, (unsigned)first, supers, largest);
    assert_memory_equal(got, back, BACK);
    assert_true(supers > 0);
    assert_int_equal(c.d->stats.rx_gso_frames, rx_frames + supers);
    assert_true(c.d->stats.rx_gso_segs - rx_segs > 2 * (uint64_t)supers - 1);

    close(cs);
    close(ls);
    us_dev_destroy(c.d);
    assert_int_equal(us_pkt_pool_available(c.pool), 256);
    assert_int_equal(us_pkt_pool_available(c.large), 64);
    us_pkt_pool_free(c.pool);
    us_pkt_pool_free(c.large);
}

/* A frame of an ethertype nobody handles (IEEE 802 local experimental),
 * numbered i in its payload; with no headroom when bare (the header then
 * cannot be pushed in front of it). */
#define EXP_ETHERTYPE 0x88b5
static struct us_pkt *numbered_frame(struct us_pkt_pool *pool, const struct us_mac *mac, int i,
                                     bool bare)
{
    struct us_pkt *p = us_pkt_alloc(pool);
    assert_non_null(p);
    if (bare)
        p->data = p->head;
    uint32_t len = 60 + (uint32_t)i * 100;
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

/* A burst where some frames have no room for the virtio-net header in
 * front: those go with writev(), in their turn, and all arrive whole and
 * in order, counted as the frames they are. */
static void test_burst_without_headroom(void **state)
{
    (void)state;
    enter_netns();
    struct us_dev *d = open_or_skip(false);
    struct us_pkt_pool *pool = us_pkt_pool_new(16, 2048);
    us_dev_set_rx_pool(d, pool);
    kernel_side(&d->mac);
    int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(EXP_ETHERTYPE));
    assert_true(ps >= 0);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                              .sll_protocol = htons(EXP_ETHERTYPE),
                              .sll_ifindex = (int)if_nametoindex(TAP_NAME)};
    assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);

    enum { N = 6 };
    struct us_pkt *burst[N];
    uint64_t bytes = 0;
    for (int i = 0; i < N; i++) {
        burst[i] = numbered_frame(pool, &d->mac, i, i == 1 || i == 2 || i == 4);
        bytes += burst[i]->len;
    }
    assert_int_equal(us_pkt_headroom(burst[1]), 0);
    assert_int_equal(us_dev_tx_burst(d, burst, N, 0), N);
    assert_int_equal(d->stats.tx_packets, N);
    assert_int_equal(d->stats.tx_bytes, bytes);
    for (int i = 0; i < N; i++) {
        static uint8_t buf[2048];
        struct pollfd pfd = {.fd = ps, .events = POLLIN};
        if (poll(&pfd, 1, 3000) != 1)
            fail_msg("frame %d of %d never reached the kernel (3 s)", i, N);
        ssize_t got = recv(ps, buf, sizeof(buf), 0);
        struct us_pkt *w = numbered_frame(pool, &d->mac, i, false);
        if (got != (ssize_t)w->len || memcmp(buf, w->data, w->len) != 0)
            fail_msg("frame %d: %zd bytes, not its %u: lost, reordered or damaged", i, got, w->len);
        us_pkt_free(w);
    }
    close(ps);
    us_dev_destroy(d);
    assert_int_equal(us_pkt_pool_available(pool), 16);
    us_pkt_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_super_frames_both_ways),
        cmocka_unit_test(test_burst_without_headroom),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed == 0 && skipped > 0)
        return EXIT_SKIPPED;
    return failed;
}
