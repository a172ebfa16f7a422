/* IPv4 reassembly: datagrams per second reassembled and delivered, each a
 * 4,000-byte UDP datagram (3,992 bytes of payload) cut into 3 fragments of
 * 1,480, 1,480 and 1,040 bytes, arriving in order or shuffled (each
 * datagram's fragments in one of the 5 other orders, in turn). COUNT
 * datagrams, BATCH at a time, each checked byte for byte at the socket.
 *   ustack: b's device is an injector handing the prebuilt fragment frames
 *           to the stack (one copy each into the stack's buffers, as a NIC
 *           would), a UDP socket on b receives.
 *   kernel: the same fragments (127.0.0.1 to itself) sent one by one with
 *           sendto on a raw socket (IPPROTO_RAW), reassembled by the kernel
 *           and received on a UDP socket: one system call per fragment is in
 *           its figure, where ustack's injector costs a memcpy. */
#include "bench_util.h"
#include "ustack/wire.h"

#include <fcntl.h>

#define NDGRAM    64 /* distinct datagrams (IP ids) cycled through */
#define BATCH     32
#define UDP_DATA  3992
#define IP_DATA   (8 + UDP_DATA)
#define FRAG_DATA 1480
#define ETH_HLEN  14
#define PORT      5005

struct frame {
    uint16_t len; /* bytes from the IP header on */
    uint8_t ip[20 + FRAG_DATA];
};

static struct frame frames[NDGRAM][3];
static uint8_t payload[NDGRAM][UDP_DATA];
static const uint8_t perms[6][3] = {{0, 1, 2}, {2, 1, 0}, {1, 0, 2},
                                    {0, 2, 1}, {2, 0, 1}, {1, 2, 0}};

/* The NDGRAM datagrams from src to dst, cut into fragments (RFC 791). */
static void build(uint32_t src, uint32_t dst)
{
    for (int d = 0; d < NDGRAM; d++) {
        uint8_t dgram[IP_DATA];
        for (int i = 0; i < UDP_DATA; i++)
            payload[d][i] = (uint8_t)(d * 31 + i * 7 + i / 251);
        memcpy(dgram + US_UDP_HLEN, payload[d], UDP_DATA);
        us_udp_emit(dgram, IP_DATA, 40000, PORT, src, dst);
        for (int f = 0; f < 3; f++) {
            struct frame *fr = &frames[d][f];
            int off = f * FRAG_DATA;
            int len = IP_DATA - off < FRAG_DATA ? IP_DATA - off : FRAG_DATA;
            uint8_t *ip = fr->ip;
            struct us_ipv4_repr r = {.total_len = (uint16_t)(20 + len),
                                     .id = (uint16_t)(d + 1),
                                     .mf = f < 2,
                                     .frag_off = (uint16_t)off,
                                     .ttl = 64,
                                     .proto = 17,
                                     .src = src,
                                     .dst = dst};
            us_ipv4_emit(ip, &r);
            memcpy(ip + 20, dgram + off, (size_t)len);
            fr->len = (uint16_t)(20 + len);
        }
    }
}

/* The order in which the fragments of the n-th datagram go. */
static const uint8_t *order(uint64_t n, bool shuffled)
{
    return perms[shuffled ? 1 + n % 5 : 0];
}

static void check(const uint8_t *buf, long n, uint64_t seq)
{
    /* A datagram lost (say, to a full receive buffer) shows here too. */
    if (n != UDP_DATA || memcmp(buf, payload[seq % NDGRAM], UDP_DATA) != 0)
        die("datagram %llu reassembled wrong or lost (%ld bytes)", (unsigned long long)seq, n);
}

/* ---- ustack: an injector device ---- */

struct injector {
    struct us_dev dev;
    const struct frame *queue[BATCH * 3];
    int head, count;
};

static int inj_rx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct injector *inj = (struct injector *)d;
    int got = 0;
    while (got < n && inj->head < inj->count) {
        const struct frame *fr = inj->queue[inj->head];
        struct us_pkt *p = us_pkt_alloc(d->rx_pool);
        if (!p)
            break;
        uint8_t *eth = us_pkt_put(p, ETH_HLEN + fr->len);
        if (!eth)
            die("frame buffers too small for a %u-byte frame", ETH_HLEN + fr->len);
        memcpy(eth, d->mac.b, 6);
        memset(eth + 6, 0x02, 6);
        eth[12] = 0x08; /* EtherType IPv4 */
        eth[13] = 0x00;
        memcpy(eth + ETH_HLEN, fr->ip, fr->len);
        pkts[got++] = p;
        inj->head++;
    }
    return got;
}

static int inj_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    for (int i = 0; i < n; i++)
        us_pkt_free(pkts[i]);
    return n;
}

static us_time_ns inj_next_deadline(struct us_dev *d, us_time_ns now)
{
    struct injector *inj = (struct injector *)d;
    return inj->head < inj->count ? now : US_TIME_NEVER;
}

static void inj_destroy(struct us_dev *d)
{
    free(d);
}

static const struct us_dev_ops inj_ops = {
    .rx_burst = inj_rx_burst,
    .tx_burst = inj_tx_burst,
    .next_deadline = inj_next_deadline,
    .destroy = inj_destroy,
};

static void run_ustack(uint64_t count, bool shuffled)
{
    build(BENCH_A_IP, BENCH_B_IP);
    struct us_stack_config cfg = {.name = "b", .seed = 2, .pkt_count = 16384};
    struct us_stack *s = us_stack_new(&cfg);
    struct injector *inj = calloc(1, sizeof(*inj));
    if (!s || !inj)
        die("out of memory");
    inj->dev.ops = &inj_ops;
    inj->dev.mtu = 1500;
    inj->dev.mac = (struct us_mac){{0x02, 0, 0, 0, 0, 0x0b}};
    snprintf(inj->dev.name, sizeof(inj->dev.name), "inj0");
    if (us_iface_add(s, &inj->dev, BENCH_B_IP, 24, us_clock_now()) < 0)
        die("us_iface_add");
    int rx = us_socket(s, US_SOCK_DGRAM);
    struct us_sockaddr_in any = {US_IP4_ANY, PORT};
    if (rx < 0 || us_bind(s, rx, &any) < 0)
        die("ustack UDP socket");
    /* Each reassembled datagram sits in a 64 KiB buffer and is charged so:
     * room for a whole batch of them. */
    char err[128];
    if (us_sysctl_set(s, "net.core.rmem_max", "8388608", err, sizeof(err)) < 0)
        die("net.core.rmem_max: %s", err);
    us_set_int(s, rx, US_SOL_SOCKET, US_SO_RCVBUF, 4 << 20);
    static uint8_t buf[UDP_DATA + 1];
    uint64_t sent = 0, got = 0;
    while (got < count) {
        inj->head = inj->count = 0;
        for (int i = 0; i < BATCH && sent < count; i++, sent++) {
            const uint8_t *o = order(sent, shuffled);
            for (int f = 0; f < 3; f++)
                inj->queue[inj->count++] = &frames[sent % NDGRAM][o[f]];
        }
        int spins = 0;
        while (inj->head < inj->count || got < sent) {
            us_stack_poll(s, us_clock_now());
            int n;
            while ((n = us_recv(s, rx, buf, sizeof(buf), 0)) != -EAGAIN) {
                if (n < 0)
                    die("us_recv: %s", strerror(-n));
                check(buf, n, got++);
            }
            if (++spins > 100000)
                die("datagram %llu never reassembled", (unsigned long long)got);
        }
    }
    us_stack_free(s);
}

static void run_kernel(uint64_t count, bool shuffled)
{
    build(0x7f000001, 0x7f000001);
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW), rx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = k_loopback(PORT);
    if (raw < 0 || rx < 0 || bind(rx, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("kernel sockets (a raw socket needs root): %s", strerror(errno));
    k_set_int(rx, SOL_SOCKET, SO_RCVBUF, 4 << 20);
    fcntl(rx, F_SETFL, O_NONBLOCK);
    static uint8_t buf[UDP_DATA + 1];
    uint64_t sent = 0, got = 0;
    while (got < count) {
        for (int i = 0; i < BATCH && sent < count; i++, sent++) {
            const uint8_t *o = order(sent, shuffled);
            for (int f = 0; f < 3; f++) {
                const struct frame *fr = &frames[sent % NDGRAM][o[f]];
                if (sendto(raw, fr->ip, fr->len, 0, (struct sockaddr *)&sa, sizeof(sa)) != fr->len)
                    die("sendto: %s", strerror(errno));
            }
        }
        ssize_t n;
        while ((n = recv(rx, buf, sizeof(buf), 0)) >= 0)
            check(buf, n, got++);
        if (errno != EAGAIN)
            die("recv: %s", strerror(errno));
        if (got != sent)
            die("kernel: %llu datagrams sent, %llu reassembled", (unsigned long long)sent,
                (unsigned long long)got);
    }
    close(raw);
    close(rx);
}

int main(int argc, char **argv)
{
    long count;
    bool kernel = parse_args(argc, argv, &count, 500000);
    const char *mode = argc > 3 ? argv[3] : "inorder";
    bool shuffled = strcmp(mode, "shuffled") == 0;
    if (!shuffled && strcmp(mode, "inorder") != 0)
        die("order: inorder or shuffled, not %s", mode);
    uint64_t t0 = now_ns();
    if (kernel)
        run_kernel((uint64_t)count, shuffled);
    else
        run_ustack((uint64_t)count, shuffled);
    uint64_t dt = now_ns() - t0;
    printf("{\"bench\":\"frag_%s\",\"impl\":\"%s\",\"datagrams\":%ld,\"seconds\":%.3f,"
           "\"datagrams_per_s\":%.0f}\n",
           mode, argv[1], count, dt / 1e9, count / (dt / 1e9));
    return 0;
}
