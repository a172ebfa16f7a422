/* pcap writer: wraps any device and records every frame it receives (after
 * the lower device delivers it) and sends (before the lower device takes it),
 * stamped with `now`, so a capture of a simulation shows virtual time.
 *
 * A super-frame is recorded as it is, one record of up to 64 KiB, as
 * tcpdump on a TAP or veth with offloads shows it: its IPv4 total length
 * is the whole datagram's, and a partial checksum is left as the device got
 * it (tcpdump's "cksum incorrect", Wireshark's unverified checksum). */
#include "ustack/dev.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tcpdump's default: a whole 64 KiB super-frame with its Ethernet header. */
#define PCAP_SNAPLEN 262144

struct pcap_dev {
    struct us_dev dev; /* first, so a struct us_dev * is a struct pcap_dev * */
    pcap_t *pd;
    pcap_dumper_t *dumper;
};

static struct pcap_dev *pcap_of(struct us_dev *d)
{
    return (struct pcap_dev *)d;
}

static void record(struct pcap_dev *pc, const struct us_pkt *p, us_time_ns now)
{
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(now / US_NS_PER_SEC);
    h.ts.tv_usec = (suseconds_t)(now % US_NS_PER_SEC / 1000);
    h.len = p->len;
    h.caplen = p->len < PCAP_SNAPLEN ? p->len : PCAP_SNAPLEN;
    pcap_dump((u_char *)pc->dumper, &h, p->data);
}

static int pcap_rx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    int got = us_dev_rx_burst(d->lower, pkts, n, now);
    for (int i = 0; i < got; i++) {
        record(pcap_of(d), pkts[i], now);
        d->stats.rx_packets++;
        d->stats.rx_bytes += pkts[i]->len;
    }
    return got;
}

static int pcap_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    /* Recorded before the lower device owns (and may free) the frames. */
    for (int i = 0; i < n; i++) {
        record(pcap_of(d), pkts[i], now);
        d->stats.tx_packets++;
        d->stats.tx_bytes += pkts[i]->len;
    }
    return us_dev_tx_burst(d->lower, pkts, n, now);
}

static us_time_ns pcap_next_deadline(struct us_dev *d, us_time_ns now)
{
    return us_dev_next_deadline(d->lower, now);
}

static int pcap_pollfd(struct us_dev *d)
{
    return us_dev_pollfd(d->lower);
}

static void pcap_destroy(struct us_dev *d)
{
    struct pcap_dev *pc = pcap_of(d);
    pcap_dump_flush(pc->dumper);
    pcap_dump_close(pc->dumper);
    pcap_close(pc->pd);
    us_dev_destroy(d->lower);
    free(pc);
}

static const struct us_dev_ops pcap_ops = {
    .rx_burst = pcap_rx_burst,
    .tx_burst = pcap_tx_burst,
    .next_deadline = pcap_next_deadline,
    .pollfd = pcap_pollfd,
    .destroy = pcap_destroy,
};

/* Takes ownership of lower only on success. */
struct us_dev *us_pcap_dev_new(struct us_dev *lower, const char *path, char *err, size_t errlen)
{
    if (!err || !errlen) {
        err = NULL;
        errlen = 0;
    }
    if (!lower || !path) {
        if (err)
            snprintf(err, errlen, "pcap %s: no device to wrap", path ? path : "(null)");
        return NULL;
    }
    struct pcap_dev *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        if (err)
            snprintf(err, errlen, "pcap %s: out of memory", path);
        return NULL;
    }
    pc->pd = pcap_open_dead(DLT_EN10MB, PCAP_SNAPLEN);
    if (!pc->pd) {
        if (err)
            snprintf(err, errlen, "pcap %s: pcap_open_dead failed", path);
        free(pc);
        return NULL;
    }
    pc->dumper = pcap_dump_open(pc->pd, path);
    if (!pc->dumper) {
        if (err)
            snprintf(err, errlen, "pcap %s", pcap_geterr(pc->pd));
        pcap_close(pc->pd);
        free(pc);
        return NULL;
    }
    pc->dev.ops = &pcap_ops;
    memcpy(pc->dev.name, lower->name, sizeof(pc->dev.name));
    pc->dev.mtu = lower->mtu;
    pc->dev.mac = lower->mac;
    pc->dev.rx_pool = lower->rx_pool;
    pc->dev.rx_pool_large = lower->rx_pool_large;
    pc->dev.features = lower->features;
    pc->dev.gso_max_size = lower->gso_max_size;
    pc->dev.lower = lower;
    return &pc->dev;
}

void us_pcap_dev_flush(struct us_dev *pcap_dev)
{
    pcap_dump_flush(pcap_of(pcap_dev)->dumper);
}
