/* Devices behind one burst interface: receive up to N frames, send N frames.
 * A device knows Ethernet frames and nothing of IP. Wrappers (fault injector,
 * pcap writer) take any device and are devices themselves, so they compose:
 *   us_pcap_dev_new(us_fault_dev_new(us_tap_dev_open(...), ...), "out.pcap")
 */
#ifndef USTACK_DEV_H
#define USTACK_DEV_H

#include "ustack/pkt.h"

struct us_dev;

struct us_dev_ops {
    /* Receive up to n frames into pkts (each a whole Ethernet frame, data at
     * the frame start) allocated from dev->rx_pool; returns how many (0 if none). */
    int (*rx_burst)(struct us_dev *dev, struct us_pkt **pkts, int n, us_time_ns now);
    /* Send n frames. The device takes ownership of all n, sent or dropped;
     * returns how many were accepted for sending. */
    int (*tx_burst)(struct us_dev *dev, struct us_pkt **pkts, int n, us_time_ns now);
    /* Earliest time at which the device will have something to deliver
     * (a simulated wire's next arrival), or US_TIME_NEVER. Optional. */
    us_time_ns (*next_deadline)(struct us_dev *dev, us_time_ns now);
    /* A file descriptor that polls readable when frames wait, or -1. Optional. */
    int (*pollfd)(struct us_dev *dev);
    /* Frees the device's resources, and of a wrapper, the wrapped device. */
    void (*destroy)(struct us_dev *dev);
};

/* Linux's /sys/class/net/<dev>/statistics names; a super-frame counts as
 * one packet there, and the gso counters say how many of the packets were
 * super-frames and how many segments those stood for. */
struct us_dev_stats {
    uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
    uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
    uint64_t rx_gso_frames, rx_gso_segs, tx_gso_frames, tx_gso_segs;
};

/* What a device does beyond plain frames (Linux's netdev features, as
 * `ethtool -k` names them). A wrapper has its lower device's features. */
enum {
    /* Takes frames marked US_PKT_CSUM_PARTIAL and completes their L4
     * checksum (tx-checksumming). */
    US_DEV_F_TX_CSUM = 1 << 0,
    /* Takes TCP/IPv4 super-frames (gso_size set, up to gso_max_size) and
     * delivers them as the segments they stand for (tcp-segmentation-offload). */
    US_DEV_F_TSO = 1 << 1,
    /* May deliver frames marked US_PKT_CSUM_VALID or _PARTIAL (rx-checksumming). */
    US_DEV_F_RX_CSUM = 1 << 2,
    /* May deliver TCP/IPv4 super-frames, allocated from rx_pool_large
     * (generic-receive-offload / large-receive-offload). */
    US_DEV_F_GRO = 1 << 3,
};

struct us_dev {
    const struct us_dev_ops *ops;
    char name[32];
    uint32_t mtu;                /* largest IP datagram the device carries */
    struct us_mac mac;           /* the address the stack uses on this device */
    struct us_pkt_pool *rx_pool; /* where received frames are allocated; set before rx */
    /* Where frames too long for rx_pool's buffers are allocated (super-frames,
     * jumbo frames); NULL: such frames are dropped as rx_errors. */
    struct us_pkt_pool *rx_pool_large;
    /* Buffers the device takes without a copy (a wire's own pool, as veth
     * moves an skb): a stack builds super-frames for it there (the lowest
     * device's, under wrappers: us_dev_tx_pool). NULL: none. */
    struct us_pkt_pool *tx_pool;
    uint32_t features;     /* US_DEV_F_* */
    uint32_t gso_max_size; /* largest IP datagram of a super-frame it takes (with US_DEV_F_TSO) */
    struct us_dev *lower;  /* the wrapped device, for wrappers; NULL otherwise */
    struct us_dev_stats stats;
};

static inline int us_dev_rx_burst(struct us_dev *d, struct us_pkt **p, int n, us_time_ns now)
{
    return d->ops->rx_burst(d, p, n, now);
}
static inline int us_dev_tx_burst(struct us_dev *d, struct us_pkt **p, int n, us_time_ns now)
{
    return d->ops->tx_burst(d, p, n, now);
}
static inline us_time_ns us_dev_next_deadline(struct us_dev *d, us_time_ns now)
{
    return d->ops->next_deadline ? d->ops->next_deadline(d, now) : US_TIME_NEVER;
}
static inline int us_dev_pollfd(struct us_dev *d)
{
    return d->ops->pollfd ? d->ops->pollfd(d) : -1;
}
void us_dev_destroy(struct us_dev *d);
/* Sets rx_pool on d and every device it wraps. */
void us_dev_set_rx_pool(struct us_dev *d, struct us_pkt_pool *pool);
/* The tx_pool of the device at the bottom of d's wrappers, or NULL. */
static inline struct us_pkt_pool *us_dev_tx_pool(const struct us_dev *d)
{
    while (d->lower)
        d = d->lower;
    return d->tx_pool;
}
/* Sets rx_pool_large on d and every device it wraps. */
void us_dev_set_rx_pool_large(struct us_dev *d, struct us_pkt_pool *pool);
/* The pool a received frame of len bytes goes to: rx_pool if it fits there
 * (headroom kept), else rx_pool_large if it fits there, else NULL. */
struct us_pkt_pool *us_dev_rx_pool_for(const struct us_dev *d, uint32_t len);
/* A buffer for a received frame of len bytes from that pool; NULL if none
 * fits or it is empty. */
struct us_pkt *us_dev_rx_alloc(struct us_dev *d, uint32_t len);

/* ---- Linux TAP (/dev/net/tun, IFF_TAP | IFF_NO_PI) ---- */

/* Opens the TAP named `name` (attaching to an existing persistent tap, or
 * creating one if none exists). mtu is the IP MTU to use (0 = 1500); the MAC
 * is a random locally administered address. On failure returns NULL and
 * writes a human-readable reason (naming the device and errno) into err.
 * Offloads are on where the kernel grants them (us_tap_config). */
struct us_dev *us_tap_dev_open(const char *name, uint32_t mtu, char *err, size_t errlen);

struct us_tap_config {
    uint32_t mtu; /* IP MTU (0 = 1500) */
    /* Plain frames: no virtio-net header, features 0, one frame of at
     * most mtu + 14 bytes per read() and write(). Otherwise (the default)
     * the TAP is opened with IFF_VNET_HDR and TUNSETOFFLOAD: with what the
     * kernel grants, the device has US_DEV_F_TX_CSUM and _RX_CSUM
     * (TUN_F_CSUM), and _TSO and _GRO (TUN_F_TSO4, gso_max_size 65535):
     * TCP/IPv4 super-frames of up to 64 KiB each way, read into
     * rx_pool_large's buffers. If it grants nothing, plain frames. */
    bool no_offload;
};
/* us_tap_dev_open with a configuration (NULL: the defaults). */
struct us_dev *us_tap_dev_open_config(const char *name, const struct us_tap_config *cfg, char *err,
                                      size_t errlen);
/* The offloads the TAP under `tap` (it, or the device a wrapper chain
 * wraps) has, in ethtool -k's words: "tx-csum tso rx-csum gro", fewer, or
 * "off". */
const char *us_tap_dev_offloads(const struct us_dev *tap);
/* How the TAP sends: "io_uring" (a burst per io_uring_enter) or "write" (one
 * write() per frame: io_uring missing or refused, or USTACK_TAP_IO_URING=0
 * in the environment when it was opened). */
const char *us_tap_dev_tx_method(const struct us_dev *tap);

/* ---- In-memory wire joining stacks on the virtual clock ---- */

struct us_wire_config {
    uint32_t mtu; /* IP MTU of every port (0 = 1500; up to 65535) */
    /* Ports with the offloads of a veth pair (US_DEV_F_TX_CSUM, _TSO,
     * _RX_CSUM, _GRO): TCP super-frames of up to 64 KiB cross the wire
     * whole with their metadata (gso_size, partial checksum), and are
     * serialised, queued and dropped whole. */
    bool offload;
    uint64_t bandwidth_bps; /* serialisation rate per port; 0 = infinite */
    us_time_ns latency;     /* propagation delay */
    uint32_t queue_limit;   /* frames queued per sending port before tail drop (0 = 1000) */
    /* Bytes (whole frames, Ethernet header included) queued per sending port
     * before tail drop, 0 = no byte limit: a frame that would take the queue
     * past it is dropped (tx_dropped). A frame is queued from when the port
     * accepts it until its last bit has left, as is the frame limit. */
    uint32_t queue_limit_bytes;
};
struct us_wire;
struct us_wire *us_wire_new(const struct us_wire_config *cfg);
/* A new port on the wire: a device whose transmitted frames reach every other
 * port of the wire (a hub; unicast frames are filtered by the receiver's MAC
 * address by the stack, as on a shared segment). Ports are destroyed with
 * us_dev_destroy before the wire is freed. */
struct us_dev *us_wire_port_new(struct us_wire *w, const char *name);
void us_wire_free(struct us_wire *w);

/* ---- Fault injector: wraps any device ---- */

struct us_fault_config {
    double loss;              /* probability a frame is dropped */
    double dup;               /* probability a frame is duplicated */
    double reorder;           /* probability a frame is held back and sent after later ones */
    double corrupt;           /* probability one random byte of a frame is flipped */
    us_time_ns delay;         /* extra delay added to every frame */
    us_time_ns reorder_delay; /* how long a reordered frame is held (0 = 1 ms) */
    uint64_t seed;            /* same seed, same faults */
    bool rx, tx;              /* which directions to affect (both false = both) */
};
/* Counters of what the injector did. */
struct us_fault_stats {
    uint64_t dropped, duplicated, reordered, corrupted, delayed;
};
struct us_dev *us_fault_dev_new(struct us_dev *lower, const struct us_fault_config *cfg);
const struct us_fault_stats *us_fault_dev_stats(const struct us_dev *fault_dev);

/* ---- pcap writer (libpcap): wraps any device, records frames both ways ---- */

/* Writes every received and sent frame to path (LINKTYPE_ETHERNET), timestamped
 * with `now`. NULL and a reason in err if the file cannot be opened. */
struct us_dev *us_pcap_dev_new(struct us_dev *lower, const char *path, char *err, size_t errlen);
/* Flushes buffered records to the file. */
void us_pcap_dev_flush(struct us_dev *pcap_dev);

#endif
