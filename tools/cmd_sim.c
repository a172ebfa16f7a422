/* `ustack sim`: the demo. Two stacks in this process on a simulated wire,
 * driven by a virtual clock: the first pings the second with payloads that
 * need no, few and many IP fragments; then two more stacks do the same over
 * a lossy wire, where a lost fragment costs the whole datagram and
 * reassembly queues time out. */
#include "cli.h"

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
                     const struct us_fault_config *fault, const char *pcap, us_time_ns now)
{
    memset(pr, 0, sizeof(*pr));
    struct us_wire_config wc = {.mtu = 1500, .bandwidth_bps = 1000000000ull, .latency = 50 * 1000};
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

int cli_sim(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, 0, 's'},  {"loss", required_argument, 0, 'l'},
        {"count", required_argument, 0, 'n'}, {"pcap", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    uint64_t seed = 42, count = 100;
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
        case 'h':
            printf("usage: ustack sim [--seed N] [--loss P] [--count N] [--pcap FILE]\n"
                   "\n"
                   "The demo: stacks a and b on a simulated 1 Gbit/s wire (50 us one way,\n"
                   "MTU 1500) on a virtual clock; a pings b with 56..65000-byte payloads.\n"
                   "Then c pings d COUNT times (default 100) over a wire that loses frames\n"
                   "with probability P (default 0.2) in both directions.\n"
                   "--pcap records a's frames. Same seed, same run.\n");
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
    if (make_pair(&pr, "a", "b", seed, NULL, pcap, now)) {
        fprintf(stderr, "ustack: cannot build the simulated network\n");
        return 1;
    }
    struct pinger pg = {.id = 0x5eed, .pattern = pattern};
    us_icmp_set_rx_handler(pr.st[0], on_icmp, &pg);
    printf("== a 192.0.2.1 <-> b 192.0.2.2: simulated wire, 1 Gbit/s, 50 us one way, MTU 1500\n");
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
                   frags_for(sizes[i], 1500), frags_for(sizes[i], 1500) > 1 ? "s" : "");
        else
            printf("no reply to icmp_seq=%u (%zu bytes)\n", i, sizes[i]);
    }
    const struct us_mib *mb = us_stack_mib(pr.st[1]);
    printf("b: %llu fragments reassembled into %llu datagrams, %llu fragments created for "
           "%llu replies\n\n",
           (unsigned long long)mb->ip.ReasmReqds, (unsigned long long)mb->ip.ReasmOKs,
           (unsigned long long)mb->ip.FragCreates, (unsigned long long)mb->ip.FragOKs);
    unsigned clean_ok = pg.received;
    free_pair(&pr);

    struct us_fault_config fc = {.loss = loss, .seed = seed};
    now = 0;
    if (make_pair(&pr, "c", "d", seed + 100, &fc, NULL, now)) {
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
    return clean_ok == 5 && lp.corrupt == 0 ? 0 : 1;
}
