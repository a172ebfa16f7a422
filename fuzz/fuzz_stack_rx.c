/* Fuzzes a whole stack's receive path: arbitrary frames go in through a
 * device, through the top and bottom half, ARP, IPv4, reassembly, ICMP, UDP
 * and TCP input (with a listener on port 80 whose connections are
 * accepted, read and echoed), and timers run. Property checked besides memory safety:
 * every frame the stack sends is well-formed (Ethernet, then a valid ARP or
 * IPv4 header with a correct checksum), and no packet buffer leaks.
 *
 * Input: a sequence of [len_hi len_lo time_step frame...] records. */
#include "ustack/socket.h"
#include "ustack/stack.h"

#include <stdlib.h>
#include <string.h>

struct fuzz_dev {
    struct us_dev dev;
    const uint8_t *frames;
    size_t left;
    us_time_ns step;
};

static int fuzz_rx(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct fuzz_dev *f = (struct fuzz_dev *)d;
    int got = 0;
    while (got < n && f->left >= 3) {
        size_t len = (size_t)f->frames[0] << 8 | f->frames[1];
        f->step = f->frames[2];
        f->frames += 3;
        f->left -= 3;
        if (len > f->left)
            len = f->left;
        struct us_pkt *p = us_pkt_alloc(d->rx_pool);
        if (!p)
            break;
        if (len > us_pkt_tailroom(p))
            len = us_pkt_tailroom(p);
        memcpy(us_pkt_put(p, (uint32_t)len), f->frames, len);
        f->frames += len;
        f->left -= len;
        pkts[got++] = p;
        break; /* one frame per round, so time can move between them */
    }
    return got;
}

static int fuzz_tx(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    for (int i = 0; i < n; i++) {
        struct us_pkt *p = pkts[i];
        struct us_eth_view eth;
        if (us_eth_parse(p->data, p->len, &eth) != US_WIRE_OK)
            abort();
        if (eth.ethertype == US_ETH_TYPE_IPV4) {
            struct us_ipv4_view ip;
            if (us_ipv4_parse(eth.payload, eth.payload_len, &ip) != US_WIRE_OK)
                abort();
            if (ip.total_len > d->mtu)
                abort(); /* fragmentation must have happened */
        } else if (eth.ethertype == US_ETH_TYPE_ARP) {
            struct us_arp_view a;
            if (us_arp_parse(eth.payload, eth.payload_len, &a) != US_WIRE_OK)
                abort();
        } else {
            abort();
        }
        us_pkt_free(p);
    }
    return n;
}

static void fuzz_destroy(struct us_dev *d)
{
    (void)d;
}

static const struct us_dev_ops fuzz_ops = {
    .rx_burst = fuzz_rx, .tx_burst = fuzz_tx, .destroy = fuzz_destroy};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct us_stack_config cfg = {.seed = 1, .pkt_count = 256, .large_pkt_count = 4};
    struct us_stack *s = us_stack_new(&cfg);
    struct fuzz_dev f = {.frames = data, .left = size};
    f.dev.ops = &fuzz_ops;
    f.dev.mtu = 1500;
    memcpy(f.dev.mac.b, "\x02\x00\x00\x00\x00\x02", 6);
    us_iface_add(s, &f.dev, US_IP4(192, 0, 2, 2), 24, 0);
    us_sysctl_set(s, "net.ipv4.ip_forward", "1", NULL, 0);
    int lfd = us_socket(s, US_SOCK_STREAM);
    struct us_sockaddr_in any80 = {0, 80};
    us_bind(s, lfd, &any80);
    us_listen(s, lfd, 8);
    int conns[16];
    int nconns = 0;
    us_time_ns now = 0;
    for (int rounds = 0; rounds < 10000 && f.left >= 3; rounds++) {
        us_stack_poll(s, now);
        int fd;
        while ((fd = us_accept(s, lfd, NULL)) >= 0) {
            if (nconns == 16)
                us_close(s, fd);
            else
                conns[nconns++] = fd;
        }
        for (int i = 0; i < nconns; i++) {
            uint8_t buf[2048];
            int r = us_recv(s, conns[i], buf, sizeof(buf), 0);
            if (r > 0)
                us_send(s, conns[i], buf, (size_t)r, 0, now);
            else if (r == 0)
                us_shutdown(s, conns[i], US_SHUT_WR);
        }
        now += f.step * 100 * US_NS_PER_MS;
    }
    for (int i = 0; i < nconns; i++)
        us_close(s, conns[i]);
    us_close(s, lfd);
    /* Let every timer run out: reassembly, ARP retries and expiry. */
    for (int i = 0; i < 40; i++) {
        now += 40 * US_NS_PER_SEC;
        us_stack_poll(s, now);
    }
    if (us_stack_pkts_in_use(s) != 0)
        abort(); /* a buffer leaked, or a queue never drains */
    us_stack_free(s);
    return 0;
}
