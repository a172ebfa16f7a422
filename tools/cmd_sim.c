/* `ustack sim`: the demo. Two stacks in this process on a simulated wire,
 * driven by a virtual clock: the first pings the second with payloads that
 * need no, few and many IP fragments, then sends it a TCP stream checked
 * byte by byte (in super-frames if the wire has a veth's offloads); then
 * two more stacks ping over a lossy wire, where a lost fragment costs the
 * whole datagram and reassembly queues time out. */
#include "cli.h"

#include "ustack/socket.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEQ 1024

struct pinger {
    uint16_t id;
    bool got[MAX_SEQ];
    us_time_ns sent_at[MAX_SEQ], rtt[MAX_SEQ];
    size_t len[MAX_SEQ];
    uint8_t ttl[MAX_SEQ];
    unsigned received, corrupt;
    const uint8_t *pattern;
};

static void on_icmp(void *ctx, const struct us_ipv4_view *ip, const struct us_icmp_view *icmp,
                    us_time_ns now)
{
    struct pinger *p = ctx;
    if (icmp->type != US_ICMP_ECHOREPLY || us_icmp_echo_id(icmp) != p->id)
        return;
    uint16_t seq = us_icmp_echo_seq(icmp);
    if (seq >= MAX_SEQ || p->got[seq])
        return;
    if (icmp->payload_len != p->len[seq] || memcmp(icmp->payload, p->pattern, p->len[seq]) != 0) {
        p->corrupt++;
        return;
    }
    p->got[seq] = true;
    p->rtt[seq] = now - p->sent_at[seq];
    p->ttl[seq] = ip->ttl;
    p->received++;
}

struct sim_pair {
    struct us_wire *wire;
    struct us_stack *st[2];
    struct us_dev *fault;
};

static int make_pair(struct sim_pair *pr, const char *na, const char *nb, uint64_t seed,
                     const struct us_fault_config *fault, const char *pcap, uint32_t mtu,
                     bool offload, us_time_ns now)
{
    memset(pr, 0, sizeof(*pr));
    struct us_wire_config wc = {
        .mtu = mtu, .offload = offload, .bandwidth_bps = 1000000000ull, .latency = 50 * 1000};
    pr->wire = us_wire_new(&wc);
    const char *names[2] = {na, nb};
    for (int i = 0; i < 2; i++) {
        struct us_stack_config sc = {.name = names[i], .seed = seed + (uint64_t)i};
        pr->st[i] = us_stack_new(&sc);
        struct us_dev *dev = us_wire_port_new(pr->wire, names[i]);
        if (!pr->st[i] || !dev)
            return -1;
        if (i == 0 && fault)
            dev = pr->fault = us_fault_dev_new(dev, fault);
        if (i == 0 && pcap) {
            char err[256];
            struct us_dev *p = us_pcap_dev_new(dev, pcap, err, sizeof(err));
            if (!p) {
                fprintf(stderr, "ustack: %s\n", err);
                return -1;
            }
            dev = p;
        }
        if (us_iface_add(pr->st[i], dev, US_IP4(192, 0, 2, 1 + i), 24, now) < 0)
            return -1;
    }
    return 0;
}

static void free_pair(struct sim_pair *pr)
{
    for (int i = 0; i < 2; i++)
        us_stack_free(pr->st[i]);
    us_wire_free(pr->wire);
}

static unsigned frags_for(size_t payload, unsigned mtu)
{
    size_t ip_payload = payload + US_ICMP_HLEN;
    size_t per = (mtu - US_IPV4_HLEN) & ~(size_t)7;
    return ip_payload + US_IPV4_HLEN <= mtu ? 1 : (unsigned)((ip_payload + per - 1) / per);
}

/* The byte at offset i of the TCP stream: not periodic at any buffer size. */
static uint8_t stream_byte(uint64_t i)
{
    uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ull;
    return (uint8_t)((x >> 32) + i);
}

/* The wire port under s's interface, below the pcap and fault wrappers. */
static const struct us_dev_stats *port_stats(struct us_stack *s)
{
    struct us_dev *d = us_iface_dev(s, 0);
    while (d->lower)
        d = d->lower;
    return &d->stats;
}

/* What one port sent during the TCP stream: frames, of them super-frames,
 * the segments all of them stand for, and the frames its full queue
 * dropped (1,000 frames: slow start overshoots it at 1 Gbit/s). */
struct tx_count {
    uint64_t frames, super, segs, dropped;
};

static struct tx_count tx_since(const struct us_dev_stats *st, const struct us_dev_stats *before)
{
    struct tx_count c;
    c.frames = st->tx_packets - before->tx_packets;
    c.super = st->tx_gso_frames - before->tx_gso_frames;
    c.segs = c.frames - c.super + (st->tx_gso_segs - before->tx_gso_segs);
    c.dropped = st->tx_dropped - before->tx_dropped;
    return c;
}

/* a sends bytes to b over TCP, b checks every byte. 0 when all arrived
 * intact, 1 otherwise (said on stdout). */
static int tcp_stream(struct sim_pair *pr, uint64_t bytes, us_time_ns *now)
{
    struct us_stack *a = pr->st[0], *b = pr->st[1];
    const struct us_dev_stats before_a = *port_stats(a), before_b = *port_stats(b);
    int lfd = us_socket(b, US_SOCK_STREAM), cfd = us_socket(a, US_SOCK_STREAM), sfd = -1;
    struct us_sockaddr_in any = {US_IP4_ANY, 5001}, to = {US_IP4(192, 0, 2, 2), 5001};
    if (lfd < 0 || cfd < 0 || us_bind(b, lfd, &any) || us_listen(b, lfd, 1) ||
        us_connect(a, cfd, &to) != -EINPROGRESS) {
        printf("TCP: cannot open the connection\n");
        return 1;
    }
    us_time_ns t0 = *now, limit = *now + 120 * US_NS_PER_SEC;
    while (sfd < 0 && *now < limit) {
        us_sim_run(pr->st, 2, now, *now + US_NS_PER_MS);
        sfd = us_accept(b, lfd, NULL);
    }
    static uint8_t buf[65536];
    uint64_t sent = 0, got = 0, bad_at = UINT64_MAX;
    bool shut = false, eof = false;
    us_time_ns t_data = *now;
    while (sfd >= 0 && !eof && *now < limit) {
        while (sent < bytes) {
            size_t n = bytes - sent < sizeof(buf) ? (size_t)(bytes - sent) : sizeof(buf);
            for (size_t i = 0; i < n; i++)
                buf[i] = stream_byte(sent + i);
            int r = us_send(a, cfd, buf, n, 0, *now);
            if (r <= 0)
                break;
            sent += (uint64_t)r;
        }
        if (sent == bytes && !shut)
            shut = us_shutdown(a, cfd, US_SHUT_WR) == 0;
        int r;
        while ((r = us_recv(b, sfd, buf, sizeof(buf), 0)) > 0) {
            for (int i = 0; i < r && bad_at == UINT64_MAX; i++)
                if (buf[i] != stream_byte(got + (uint64_t)i))
                    bad_at = got + (uint64_t)i;
            got += (uint64_t)r;
        }
        if (r == 0)
            eof = true;
        else if (r != -EAGAIN)
            break;
        if (!eof)
            us_sim_run(pr->st, 2, now, *now + US_NS_PER_MS);
    }
    struct us_tcp_info ti;
    size_t tlen = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    (void)us_getsockopt(a, cfd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &tlen);
    double secs = (double)(*now - t_data) / 1e9;
    bool ok = sfd >= 0 && eof && got == bytes && bad_at == UINT64_MAX;
    if (ok)
        printf("%llu bytes received intact in %.1f ms of virtual time (%.0f Mbit/s), MSS %u, "
               "%u segments retransmitted\n",
               (unsigned long long)got, secs * 1e3, secs > 0 ? (double)got * 8 / secs / 1e6 : 0.0,
               ti.snd_mss, ti.total_retrans);
    else if (bad_at != UINT64_MAX)
        printf("TCP: byte %llu differs (%llu of %llu bytes received)\n", (unsigned long long)bad_at,
               (unsigned long long)got, (unsigned long long)bytes);
    else
        printf("TCP: %llu of %llu bytes received after %.1f s\n", (unsigned long long)got,
               (unsigned long long)bytes, (double)(*now - t0) / 1e9);
    struct tx_count ab = tx_since(port_stats(a), &before_a),
                    ba = tx_since(port_stats(b), &before_b);
    const struct tx_count *dirs[2] = {&ab, &ba};
    for (int i = 0; i < 2; i++)
        printf("%s: %llu frames, %llu of them super-frames, standing for %llu segments; %llu "
               "dropped by the full queue\n",
               i == 0 ? "a -> b" : "b -> a", (unsigned long long)dirs[i]->frames,
               (unsigned long long)dirs[i]->super, (unsigned long long)dirs[i]->segs,
               (unsigned long long)dirs[i]->dropped);
    us_close(a, cfd);
    if (sfd >= 0)
        us_close(b, sfd);
    us_close(b, lfd);
    us_sim_run(pr->st, 2, now, *now + US_NS_PER_SEC); /* the FINs */
    return ok ? 0 : 1;
}

int cli_sim(int argc, char **argv)
{
    static const struct option opts[] = {{"seed", required_argument, 0, 's'},
                                         {"loss", required_argument, 0, 'l'},
                                         {"count", required_argument, 0, 'n'},
                                         {"pcap", required_argument, 0, 'p'},
                                         {"mtu", required_argument, 0, 'm'},
                                         {"offload", no_argument, 0, 'o'},
                                         {"bytes", required_argument, 0, 'b'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    uint64_t seed = 42, count = 100, mtu = 1500, bytes = 4u << 20;
    bool offload = false;
    double loss = 0.2;
    const char *pcap = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cli_parse_u64("--seed", optarg, &seed))
                return 2;
            break;
        case 'l':
            if (cli_parse_prob("--loss", optarg, &loss))
                return 2;
            break;
        case 'n':
            if (cli_parse_u64("--count", optarg, &count) || count < 1 || count > MAX_SEQ) {
                fprintf(stderr, "ustack: --count must be between 1 and %d\n", MAX_SEQ);
                return 2;
            }
            break;
        case 'p':
            pcap = optarg;
            break;
        case 'm':
            if (cli_parse_u64("--mtu", optarg, &mtu) || mtu < 68 || mtu > 65535) {
                fprintf(stderr, "ustack: --mtu must be between 68 and 65535\n");
                return 2;
            }
            break;
        case 'o':
            offload = true;
            break;
        case 'b':
            if (cli_parse_u64("--bytes", optarg, &bytes) || bytes > (1ull << 32)) {
                fprintf(stderr, "ustack: --bytes must be at most 4294967296\n");
                return 2;
            }
            break;
        case 'h':
            printf("usage: ustack sim [--seed N] [--loss P] [--count N] [--pcap FILE]\n"
                   "                  [--mtu N] [--offload] [--bytes N]\n"
                   "\n"
                   "The demo: stacks a and b on a simulated 1 Gbit/s wire (50 us one way,\n"
                   "MTU 1500) on a virtual clock; a pings b with 56..65000-byte payloads,\n"
                   "then sends b N bytes over TCP (default 4 MiB), checked byte by byte.\n"
                   "Then c pings d COUNT times (default 100) over a wire that loses frames\n"
                   "with probability P (default 0.2) in both directions.\n"
                   "--mtu sets a and b's wire's MTU (68..65535); --offload gives its ports\n"
                   "a veth's offloads (checksum, TSO, GRO): TCP crosses it in super-frames\n"
                   "of up to 64 KiB, and the frames, super-frames and segments each way\n"
                   "are counted. --pcap records a's frames (super-frames whole, as\n"
                   "tcpdump on a veth shows them). Same seed, same run.\n");
            return 0;
        default:
            return 2;
        }
    }
    static uint8_t pattern[65507];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 7 + (i >> 8));

    us_time_ns now = 0;
    struct sim_pair pr;
    if (make_pair(&pr, "a", "b", seed, NULL, pcap, (uint32_t)mtu, offload, now)) {
        fprintf(stderr, "ustack: cannot build the simulated network\n");
        return 1;
    }
    struct pinger pg = {.id = 0x5eed, .pattern = pattern};
    us_icmp_set_rx_handler(pr.st[0], on_icmp, &pg);
    printf("== a 192.0.2.1 <-> b 192.0.2.2: simulated wire, 1 Gbit/s, 50 us one way, MTU %llu%s\n",
           (unsigned long long)mtu, offload ? ", offloads (checksum, TSO, GRO)" : "");
    static const size_t sizes[] = {56, 1472, 1473, 8000, 65000};
    for (uint16_t i = 0; i < 5; i++) {
        pg.len[i] = sizes[i];
        pg.sent_at[i] = now;
        us_icmp_echo_send(pr.st[0], US_IP4(192, 0, 2, 2), pg.id, i, pattern, sizes[i], NULL, now);
        us_sim_run(pr.st, 2, &now, now + US_NS_PER_SEC);
        if (pg.got[i])
            printf("%zu bytes from 192.0.2.2: icmp_seq=%u ttl=%u time=%.3f ms  "
                   "(%u fragment%s each way)\n",
                   sizes[i] + US_ICMP_HLEN, i, pg.ttl[i], (double)pg.rtt[i] / 1e6,
                   frags_for(sizes[i], (unsigned)mtu),
                   frags_for(sizes[i], (unsigned)mtu) > 1 ? "s" : "");
        else
            printf("no reply to icmp_seq=%u (%zu bytes)\n", i, sizes[i]);
    }
    const struct us_mib *mb = us_stack_mib(pr.st[1]);
    printf("b: %llu fragments reassembled into %llu datagrams, %llu fragments created for "
           "%llu replies\n\n",
           (unsigned long long)mb->ip.ReasmReqds, (unsigned long long)mb->ip.ReasmOKs,
           (unsigned long long)mb->ip.FragCreates, (unsigned long long)mb->ip.FragOKs);
    unsigned clean_ok = pg.received;
    printf("== a -> b: %llu bytes over TCP\n", (unsigned long long)bytes);
    int tcp_bad = tcp_stream(&pr, bytes, &now);
    printf("\n");
    free_pair(&pr);

    struct us_fault_config fc = {.loss = loss, .seed = seed};
    now = 0;
    if (make_pair(&pr, "c", "d", seed + 100, &fc, NULL, 1500, false, now)) {
        fprintf(stderr, "ustack: cannot build the simulated network\n");
        return 1;
    }
    struct pinger lp = {.id = 0x1055, .pattern = pattern};
    us_icmp_set_rx_handler(pr.st[0], on_icmp, &lp);
    printf("== c 192.0.2.1 <-> d 192.0.2.2: the same wire, %.0f%% of frames lost each way "
           "at c\n",
           loss * 100);
    for (uint16_t i = 0; i < count; i++) {
        size_t len = i % 2 ? 3000 : 1000; /* every other ping needs 3 fragments */
        lp.len[i] = len;
        lp.sent_at[i] = now;
        us_icmp_echo_send(pr.st[0], US_IP4(192, 0, 2, 2), lp.id, i, pattern, len, NULL, now);
        us_sim_run(pr.st, 2, &now, now + 10 * US_NS_PER_MS);
    }
    us_sim_run(pr.st, 2, &now, now + 40 * US_NS_PER_SEC); /* past ipfrag_time */
    unsigned ok1 = 0, ok3 = 0;
    for (unsigned i = 0; i < count; i++)
        if (lp.got[i] && i % 2)
            ok3++;
        else if (lp.got[i])
            ok1++;
    printf("%llu pings: %u of %llu 1008-byte replies, %u of %llu 3008-byte (fragmented) "
           "replies, %u corrupt\n",
           (unsigned long long)count, ok1, (unsigned long long)((count + 1) / 2), ok3,
           (unsigned long long)(count / 2), lp.corrupt);
    const struct us_fault_stats *fs = us_fault_dev_stats(pr.fault);
    printf("fault injector at c: %llu of the frames dropped\n", (unsigned long long)fs->dropped);
    printf("\nd's counters (nstat):\n");
    us_mib_print_nstat(us_stack_mib(pr.st[1]), stdout, 0);
    free_pair(&pr);
    return clean_ok == 5 && !tcp_bad && lp.corrupt == 0 ? 0 : 1;
}
