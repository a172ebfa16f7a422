/* Fuzzes a whole stack's receive path: arbitrary frames go in through a
 * device, through the top and bottom half, ARP, IPv4, reassembly,
 * forwarding, ICMP, IGMP, UDP and TCP input, and timers run. Behind them:
 * a TCP listener on port 80 whose connections are accepted, read and
 * echoed, and a UDP socket on port 7, joined to 239.1.2.3, that echoes each
 * datagram to its sender. Properties checked besides memory safety: every
 * frame the stack sends is well-formed down to the transport checksum
 * (stack_tx_check.h), and no packet buffer leaks.
 *
 * The stack's initial sequence number is fixed (FUZZ_ISN) through the ISN
 * hook, so an input can complete a handshake by acknowledging FUZZ_ISN + 1:
 * the seeds made by scripts/make_stack_corpus.py do, and the fuzzer keeps
 * that number when it mutates them. (Rewriting ACK numbers from the SYN-ACK
 * seen would reach ESTABLISHED as well, but then the stack would no longer
 * see the input's bytes, and a wrong ACK could never be fuzzed.)
 *
 * FUZZ_SUMMARY=1 prints what each input reached: connections
 * accepted (ESTABLISHED), bytes echoed, datagrams echoed, frames checked;
 * scripts/fuzz.sh holds the seeds to it (fuzz/corpus/fuzz_stack_rx.expect).
 *
 * Input: a sequence of [len_hi len_lo time_step frame...] records. */
#include "ustack/socket.h"
#include "ustack/stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack_tx_check.h"

/* 1 KiB below 2^32: a connection that echoes more wraps its sequence space. */
#define FUZZ_ISN   0xfffffc00u
#define FUZZ_GROUP US_IP4(239, 1, 2, 3)

struct fuzz_dev {
    struct us_dev dev;
    const uint8_t *frames;
    size_t left;
    us_time_ns step;
    struct tx_check *check;
};

static int fuzz_rx(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct fuzz_dev *f = (struct fuzz_dev *)d;
    int got = 0;
    (void)now;
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
        tx_check_note_input(f->check, f->frames, len);
        f->frames += len;
        f->left -= len;
        pkts[got++] = p;
        break; /* one frame per round, so time can move between them */
    }
    return got;
}

static int fuzz_tx(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct fuzz_dev *f = (struct fuzz_dev *)d;
    (void)now;
    for (int i = 0; i < n; i++) {
        tx_check_frame(f->check, pkts[i]->data, pkts[i]->len);
        us_pkt_free(pkts[i]);
    }
    return n;
}

static void fuzz_destroy(struct us_dev *d)
{
    (void)d;
}

static const struct us_dev_ops fuzz_ops = {
    .rx_burst = fuzz_rx, .tx_burst = fuzz_tx, .destroy = fuzz_destroy};

static uint32_t fixed_isn(void *ctx, us_ip4 laddr, uint16_t lport, us_ip4 faddr, uint16_t fport)
{
    (void)ctx, (void)laddr, (void)lport, (void)faddr, (void)fport;
    return FUZZ_ISN;
}

struct reached {
    unsigned long accepted, tcp_bytes, udp_datagrams;
};

static void echo_udp(struct us_stack *s, int fd, us_time_ns now, struct reached *r)
{
    static uint8_t buf[65536];
    struct us_sockaddr_in from;
    int n;
    while ((n = us_recvfrom(s, fd, buf, sizeof(buf), 0, &from)) >= 0) {
        r->udp_datagrams++;
        us_sendto(s, fd, buf, (size_t)n, 0, &from, now);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tx_check check; /* 400 KB: not on the stack */
    struct us_stack_config cfg = {.seed = 1, .pkt_count = 256, .large_pkt_count = 4};
    struct us_stack *s = us_stack_new(&cfg);
    struct fuzz_dev f = {.frames = data, .left = size, .check = &check};
    f.dev.ops = &fuzz_ops;
    f.dev.mtu = 1500;
    memcpy(f.dev.mac.b, "\x02\x00\x00\x00\x00\x02", 6);
    tx_check_init(&check, &f.dev.mac, US_IP4(192, 0, 2, 2), f.dev.mtu);
    us_iface_add(s, &f.dev, US_IP4(192, 0, 2, 2), 24, 0);
    us_sysctl_set(s, "net.ipv4.ip_forward", "1", NULL, 0);
    us_tcp_set_isn_hook(s, fixed_isn, NULL);
    int lfd = us_socket(s, US_SOCK_STREAM);
    struct us_sockaddr_in any80 = {0, 80};
    us_bind(s, lfd, &any80);
    us_listen(s, lfd, 8);
    int ufd = us_socket(s, US_SOCK_DGRAM);
    struct us_sockaddr_in any7 = {0, 7};
    us_bind(s, ufd, &any7);
    struct us_ip_mreq mreq = {FUZZ_GROUP, 0};
    us_setsockopt(s, ufd, US_IPPROTO_IP, US_IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq));
    int conns[16];
    int nconns = 0;
    struct reached r = {0};
    us_time_ns now = 0;
    for (int rounds = 0; rounds < 10000; rounds++) {
        /* The round after the last frame runs too, at the time its step set. */
        bool input_left = f.left >= 3;
        us_stack_poll(s, now);
        int fd;
        while ((fd = us_accept(s, lfd, NULL)) >= 0) {
            r.accepted++;
            if (nconns == 16)
                us_close(s, fd);
            else
                conns[nconns++] = fd;
        }
        for (int i = 0; i < nconns; i++) {
            uint8_t buf[2048];
            int n = us_recv(s, conns[i], buf, sizeof(buf), 0);
            if (n > 0) {
                r.tcp_bytes += (unsigned long)n;
                us_send(s, conns[i], buf, (size_t)n, 0, now);
            } else if (n == 0) {
                us_shutdown(s, conns[i], US_SHUT_WR);
            }
        }
        echo_udp(s, ufd, now, &r);
        if (!input_left)
            break;
        now += f.step * 100 * US_NS_PER_MS;
    }
    for (int i = 0; i < nconns; i++)
        us_close(s, conns[i]);
    us_close(s, lfd);
    us_close(s, ufd); /* leaves the group */
    /* Let every timer run out: reassembly, ARP retries and expiry, TCP's
     * retransmissions (up to tcp_retries2 = 15 of them, 120 s apart at
     * most, so a connection gives up within an hour). Poll at each deadline
     * the stack asks for, for at most two hours of virtual time. */
    us_time_ns end = now + 2 * 3600 * US_NS_PER_SEC;
    int drain_polls = 0;
    while (now < end && drain_polls < 20000) {
        us_time_ns next = us_stack_poll(s, now);
        drain_polls++;
        if (next == US_TIME_NEVER)
            break;
        now = next > now ? next : now + US_NS_PER_MS;
    }
    if (us_stack_pkts_in_use(s) != 0)
        abort(); /* a buffer leaked, or a queue never drains */
    us_stack_free(s);
    if (getenv("FUZZ_SUMMARY"))
        fprintf(stderr,
                "fuzz_stack_rx: accepted %lu, tcp echoed %lu bytes, udp echoed %lu datagrams; "
                "sent arp %lu tcp %lu udp %lu icmp %lu igmp %lu, %lu fragments "
                "(%lu datagrams reassembled), %lu forwarded; drained in %d polls to %llds\n",
                r.accepted, r.tcp_bytes, r.udp_datagrams, check.n.arp, check.n.tcp, check.n.udp,
                check.n.icmp, check.n.igmp, check.n.fragments, check.n.reassembled,
                check.n.forwarded, drain_polls, (long long)(now / US_NS_PER_SEC));
    return 0;
}
