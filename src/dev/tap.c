/* Linux TAP device: Ethernet frames to and from the kernel through
 * /dev/net/tun, non-blocking: one read() per frame received; frames sent in
 * bursts through io_uring (one io_uring_enter() per burst, each frame still
 * its own write, in order), or one write() each where io_uring is missing
 * or refused, or when USTACK_TAP_IO_URING=0 is in the environment.
 *
 * Offloads (the default): the TAP is opened with IFF_VNET_HDR, so every
 * frame each way has a struct virtio_net_hdr in front of it (Linux's
 * include/uapi/linux/virtio_net.h), and TUNSETOFFLOAD tells the kernel it
 * may hand us TCP/IPv4 super-frames of up to 64 KiB and partial checksums
 * (TUN_F_TSO4, TUN_F_CSUM); the kernel takes the same from us. One read()
 * or write() then moves up to 64 KiB instead of 1,514 bytes. */
#include "ustack/dev.h"

#include "dev/uring_tx.h"
#include "ustack/gso.h"
#include "ustack/checksum.h"
#include "ustack/wire.h"
#include "wire/be.h"

#include <errno.h>
#include <fcntl.h>
#include <endian.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Frames per io_uring burst: a burst from the stack (US_TX_BATCH, 64) in one. */
#define TAP_TX_RING 64

/* The kernel's transmit queue on the TAP is the stack's receive ring:
 * frames wait there until the stack reads them, and past its length the
 * kernel drops them (counted as the TAP's TX dropped). Linux gives a TAP
 * 1,000, about 10 ms of frames at 100k frames/s; a process that is not
 * scheduled for longer (a busy machine) loses the rest of a burst, and a
 * kernel client opening 10,000 connections at once lost a third of its
 * SYNs that way and waited 1, 3, 7 s... to resend them. A ring like a
 * NIC's, 4,096 frames, covers ~40 ms; much deeper would keep ACKs queued
 * past the 200 ms minimum RTO when the stack falls behind. An existing
 * longer queue is left as it is. */
#define TAP_RX_RING_FRAMES 4096

/* The largest frame a super-frame makes: a 64 KiB IP datagram and its
 * Ethernet header. */
#define TAP_MAX_FRAME (65535 + US_ETH_HLEN)

/* The header is struct virtio_net_hdr, 10 bytes, the TAP's own default:
 * the 12-byte virtio_net_hdr_mrg_rxbuf adds num_buffers, which means
 * something only to a virtio ring's mergeable buffers; the TAP skips those
 * 2 bytes both ways (tun_put_user, tun_get_user), so they would only be 2
 * more bytes a frame to move. */
#define TAP_VNET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr))

struct tap_dev {
    struct us_dev dev; /* first, so a struct us_dev * is a struct tap_dev * */
    int fd;
    struct us_uring_tx *tx_ring; /* NULL: one write() per frame */
    uint32_t vnet_hdr_len;       /* 0: plain frames (no IFF_VNET_HDR) */
    bool vnet_le;                /* the header's fields are little-endian (else host order) */
    unsigned tun_offload;        /* the TUN_F_* the kernel granted */
    char offloads[48];           /* us_tap_dev_offloads() */
};

static struct tap_dev *tap_of(struct us_dev *d)
{
    return (struct tap_dev *)d;
}

static uint16_t vnet16_get(const struct tap_dev *t, uint16_t v)
{
    return t->vnet_le ? le16toh(v) : v;
}

static uint16_t vnet16_put(const struct tap_dev *t, uint16_t v)
{
    return t->vnet_le ? htole16(v) : v;
}

/* ---- receive ---- */

/* Takes the header's metadata into p (Linux's virtio_net_hdr_to_skb, the
 * part that concerns us): false if p is a super-frame of a kind the stack
 * does not take (TCP over IPv6, UDP), or one without checksum metadata. */
static bool vnet_rx(const struct tap_dev *t, struct us_pkt *p, const struct virtio_net_hdr *vh)
{
    if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
        p->offload = US_PKT_CSUM_PARTIAL;
    else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
        p->offload = US_PKT_CSUM_VALID;
    uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    if (type == VIRTIO_NET_HDR_GSO_NONE)
        return true;
    uint16_t gso_size = vnet16_get(t, vh->gso_size);
    if (type != VIRTIO_NET_HDR_GSO_TCPV4 || gso_size == 0 || !p->offload)
        return false;
    /* The ECN bit (CWR on the first segment only) needs nothing here: the
     * stack takes the super-frame's headers as its first segment's. */
    p->gso_size = gso_size;
    return true;
}

/* Frames are read into a buffer from rx_pool (p), with a 64 KiB buffer
 * (big) behind it for what does not fit: one readv() fills p, then big.
 * A frame that fits p leaves big for the next read; a longer one moves
 * p's part to big's start (copybreak the other way round: an ACK or a
 * datagram never holds 64 KiB, and a super-frame costs one copy of p's
 * 2 KiB). Without offloads, p alone, one read() a frame as always. */
static int tap_rx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct tap_dev *t = tap_of(d);
    const uint32_t hl = t->vnet_hdr_len;
    /* Without rx_pool_large a super-frame does not fit: rx_errors. */
    bool want_big = (d->features & US_DEV_F_GRO) && d->rx_pool_large;
    int got = 0;
    struct us_pkt *p = NULL, *big = NULL;
    while (got < n) {
        if (!p)
            p = d->rx_pool ? us_pkt_alloc(d->rx_pool) : NULL;
        if (p && want_big && !big && us_pkt_tailroom(p) < TAP_MAX_FRAME)
            big = us_dev_rx_alloc(d, TAP_MAX_FRAME);
        if (!p || (want_big && !big && us_pkt_tailroom(p) < TAP_MAX_FRAME)) {
            /* No buffer: leave frames queued in the kernel (it drops them
             * itself when txqueuelen overflows), but count that one waited. */
            struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
            if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
                d->stats.rx_dropped++;
            break;
        }
        struct virtio_net_hdr vh;
        uint32_t room = us_pkt_tailroom(p), big_room = 0;
        ssize_t r;
        if (hl == 0) {
            r = read(t->fd, p->data, room);
        } else {
            struct iovec iov[3] = {{&vh, hl}, {p->data, room}};
            int k = 2;
            if (big && us_pkt_tailroom(big) > room) {
                big_room = us_pkt_tailroom(big) - room;
                iov[k++] = (struct iovec){big->data + room, big_room};
            }
            r = readv(t->fd, iov, k);
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* EFAULT: the kernel could not fit the frame and dropped it. */
            d->stats.rx_errors++;
            if (errno == EFAULT)
                continue;
            break;
        }
        if ((size_t)r <= hl || (size_t)r - hl > room + big_room) {
            /* The kernel truncates silently and reports the full length. */
            d->stats.rx_errors++;
            continue;
        }
        uint32_t len = (uint32_t)r - hl;
        struct us_pkt *f = p;
        if (len > room) {
            memcpy(big->data, p->data, room);
            f = big;
            big = NULL;
        } else {
            p = NULL;
        }
        f->len = len;
        if (hl && !vnet_rx(t, f, &vh)) {
            d->stats.rx_errors++;
            us_pkt_free(f);
            continue;
        }
        f->tstamp = now;
        d->stats.rx_packets++;
        d->stats.rx_bytes += len;
        us_gso_count(f, US_ETH_HLEN, &d->stats.rx_gso_frames, &d->stats.rx_gso_segs);
        pkts[got++] = f;
    }
    us_pkt_free(p);
    us_pkt_free(big);
    return got;
}

/* ---- transmit ---- */

/* The header for p (Linux's virtio_net_hdr_from_skb): a partial checksum
 * as csum_start/csum_offset, a super-frame as GSO_TCPV4 of gso_size. false
 * if p asks for an offload that is not a TCP or UDP over IPv4 one. */
static bool vnet_tx(const struct tap_dev *t, struct us_pkt *p, struct virtio_net_hdr *vh)
{
    memset(vh, 0, sizeof(*vh));
    if (!(p->offload & US_PKT_CSUM_PARTIAL) && !p->gso_size)
        return true;
    uint8_t *f = p->data;
    if (p->len < US_ETH_HLEN + 20 || be16_load(f + 12) != US_ETH_TYPE_IPV4 || f[14] >> 4 != 4)
        return false;
    uint32_t ihl = (f[14] & 15u) * 4u, l4 = US_ETH_HLEN + ihl;
    uint8_t proto = f[23];
    if (ihl < 20 || p->len < l4 + (proto == US_IPPROTO_TCP ? US_TCP_HLEN : 8))
        return false;
    if (p->gso_size) {
        if (proto != US_IPPROTO_TCP)
            return false;
        uint8_t *th = f + l4;
        uint32_t thl = (uint32_t)(th[12] >> 4) * 4u;
        if (!(p->offload & US_PKT_CSUM_PARTIAL)) {
            /* A super-frame marked valid (forwarded as received): TSO
             * needs its checksum partial, the pseudo-header sum. */
            uint16_t l4_len = (uint16_t)(be16_load(f + 16) - ihl);
            be16_store(th + 16, us_csum_fold(us_csum_pseudo(be32_load(f + 26), be32_load(f + 30),
                                                            US_IPPROTO_TCP, l4_len)));
            p->offload = US_PKT_CSUM_PARTIAL;
        }
        vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        if (th[13] & US_TCP_CWR)
            vh->gso_type |= VIRTIO_NET_HDR_GSO_ECN; /* CWR on the first segment only */
        vh->hdr_len = vnet16_put(t, (uint16_t)(l4 + thl));
        vh->gso_size = vnet16_put(t, p->gso_size);
    } else if (proto != US_IPPROTO_TCP && proto != US_IPPROTO_UDP) {
        return false;
    }
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = vnet16_put(t, (uint16_t)l4);
    vh->csum_offset = vnet16_put(t, proto == US_IPPROTO_TCP ? 16 : 6);
    return true;
}

static ssize_t tap_write(int fd, const struct us_pkt *p)
{
    ssize_t w;
    do
        w = write(fd, p->data, p->len);
    while (w < 0 && errno == EINTR);
    return w < 0 ? -errno : w;
}

/* A frame without headroom for its header: the two from separate places. */
static ssize_t tap_writev(int fd, struct virtio_net_hdr *vh, uint32_t hl, const struct us_pkt *p)
{
    struct iovec iov[2] = {{vh, hl}, {p->data, p->len}};
    ssize_t w;
    do
        w = writev(fd, iov, 2);
    while (w < 0 && errno == EINTR);
    return w < 0 ? -errno : w < (ssize_t)hl ? 0 : w - (ssize_t)hl;
}

/* Counts one frame's fate from write()'s result w (bytes of the frame, or
 * -errno). */
static bool tap_tx_done(struct us_dev *d, const struct us_pkt *p, ssize_t w)
{
    if (w == (ssize_t)p->len) {
        d->stats.tx_packets++;
        d->stats.tx_bytes += p->len;
        us_gso_count(p, US_ETH_HLEN, &d->stats.tx_gso_frames, &d->stats.tx_gso_segs);
        return true;
    }
    if (w == -EAGAIN || w == -EWOULDBLOCK || w == -ENOBUFS)
        d->stats.tx_dropped++; /* the kernel's queue is full: drop rather than block the stack */
    else
        d->stats.tx_errors++; /* EIO: interface down; EINVAL: a header refused; or a short write */
    return false;
}

/* Takes the header pushed in front of p off again, and from w (what
 * writing both returned) its bytes. */
static ssize_t tap_unpush(struct us_pkt *p, uint32_t hl, ssize_t w)
{
    us_pkt_pull(p, hl);
    if (w < 0)
        return w;
    return w < (ssize_t)hl ? 0 : w - (ssize_t)hl;
}

/* Up to TAP_TX_RING frames from pkts (their headers pushed in front) in
 * one io_uring burst; returns how many were handed to the kernel (their
 * fates counted), 0 if the ring failed and none was. A write that fails
 * cancels the ones linked after it; those go out with write(), in order,
 * as they would have. */
static int tap_tx_ring(struct tap_dev *t, struct us_pkt **pkts, int n, int *sent)
{
    void *buf[TAP_TX_RING];
    uint32_t len[TAP_TX_RING];
    int res[TAP_TX_RING];
    if (n <= 0)
        return 0;
    if (n > TAP_TX_RING)
        n = TAP_TX_RING;
    for (int i = 0; i < n; i++) {
        buf[i] = pkts[i]->data;
        len[i] = pkts[i]->len;
    }
    if (us_uring_tx_write(t->tx_ring, t->fd, buf, len, n, res) < 0)
        return 0;
    for (int i = 0; i < n; i++) {
        ssize_t w = res[i];
        if (w == -ECANCELED || w == -EINTR)
            w = tap_write(t->fd, pkts[i]);
        w = tap_unpush(pkts[i], t->vnet_hdr_len, w);
        *sent += tap_tx_done(&t->dev, pkts[i], w);
    }
    return n;
}

/* How each frame of a chunk goes. */
enum { TX_PUSHED, TX_SEPARATE, TX_REFUSED };

/* Up to TAP_TX_RING frames: each one's header pushed into its headroom,
 * so that a frame and its header are one buffer for write() or the ring;
 * a frame without the headroom goes with writev() in its turn. */
static int tap_tx_chunk(struct tap_dev *t, struct us_pkt **pkts, int n)
{
    struct us_dev *d = &t->dev;
    const uint32_t hl = t->vnet_hdr_len;
    struct virtio_net_hdr vh[TAP_TX_RING];
    uint8_t how[TAP_TX_RING];
    for (int i = 0; i < n; i++) {
        how[i] = TX_PUSHED;
        if (hl == 0)
            continue;
        if (!vnet_tx(t, pkts[i], &vh[i]))
            how[i] = TX_REFUSED;
        else if (us_pkt_headroom(pkts[i]) < hl)
            how[i] = TX_SEPARATE;
        else
            memcpy(us_pkt_push(pkts[i], hl), &vh[i], hl);
    }
    int sent = 0, i = 0;
    while (i < n) {
        if (how[i] == TX_REFUSED) {
            d->stats.tx_errors++;
            i++;
            continue;
        }
        if (how[i] == TX_SEPARATE) {
            sent += tap_tx_done(d, pkts[i], tap_writev(t->fd, &vh[i], hl, pkts[i]));
            i++;
            continue;
        }
        int end = i;
        while (end < n && how[end] == TX_PUSHED)
            end++;
        /* One frame (a round trip's answer) costs one write() either way. */
        if (t->tx_ring && end - i > 1) {
            int k = tap_tx_ring(t, pkts + i, end - i, &sent);
            if (k > 0) {
                i += k;
                continue;
            }
            /* the ring failed: these one write() each */
        }
        for (; i < end; i++)
            sent += tap_tx_done(d, pkts[i], tap_unpush(pkts[i], hl, tap_write(t->fd, pkts[i])));
    }
    return sent;
}

static int tap_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    (void)now;
    struct tap_dev *t = tap_of(d);
    int sent = 0;
    for (int i = 0; i < n; i += TAP_TX_RING)
        sent += tap_tx_chunk(t, pkts + i, n - i < TAP_TX_RING ? n - i : TAP_TX_RING);
    for (int i = 0; i < n; i++)
        us_pkt_free(pkts[i]);
    return sent;
}

static int tap_pollfd(struct us_dev *d)
{
    return tap_of(d)->fd;
}

static void tap_destroy(struct us_dev *d)
{
    struct tap_dev *t = tap_of(d);
    /* A persistent TAP keeps its offloads past us, and the next process
     * to read it without virtio-net headers would get super-frames and
     * checksums it cannot use: leave it as a plain TAP. */
    if (t->tun_offload)
        (void)ioctl(t->fd, TUNSETOFFLOAD, 0UL);
    us_uring_tx_free(t->tx_ring);
    close(t->fd);
    free(t);
}

static const struct us_dev_ops tap_ops = {
    .rx_burst = tap_rx_burst,
    .tx_burst = tap_tx_burst,
    .pollfd = tap_pollfd,
    .destroy = tap_destroy,
};

/* A short hint for the errors people actually hit. */
static const char *tunsetiff_hint(int err)
{
    switch (err) {
    case EPERM:
        return " (run as root or give CAP_NET_ADMIN)";
    case EBUSY:
        return " (already in use by another process or descriptor)";
    case EINVAL:
        return " (an interface of that name exists and is not a TAP?)";
    default:
        return "";
    }
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Lengthens the kernel's queue towards us to TAP_RX_RING_FRAMES; without
 * the privilege (a user's persistent TAP) it stays as it is. */
static void tap_deepen_rx_ring(const char *name)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%.*s", IFNAMSIZ - 1, name);
    if (ioctl(s, SIOCGIFTXQLEN, &ifr) == 0 && ifr.ifr_qlen < TAP_RX_RING_FRAMES) {
        ifr.ifr_qlen = TAP_RX_RING_FRAMES;
        (void)ioctl(s, SIOCSIFTXQLEN, &ifr);
    }
    close(s);
}

/* Opens /dev/net/tun and attaches it to the TAP `name` with `flags` added
 * to IFF_TAP | IFF_NO_PI; the descriptor, or -1 with the reason in err.
 * ifr gets the name the kernel gave. */
static int tap_attach(const char *name, short flags, struct ifreq *ifr, char *err, size_t errlen)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open /dev/net/tun: %s", strerror(errno));
        return -1;
    }
    memset(ifr, 0, sizeof(*ifr));
    ifr->ifr_flags = (short)(IFF_TAP | IFF_NO_PI | flags);
    memcpy(ifr->ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, ifr) < 0) {
        int e = errno;
        set_err(err, errlen, "TUNSETIFF %s: %s%s", name, strerror(e), tunsetiff_hint(e));
        close(fd);
        return -1;
    }
    return fd;
}

/* The offloads to ask for, most first: a kernel that refuses a flag
 * (EINVAL) may take fewer. No UFO or USO: the stack sends no UDP
 * super-frames and would have to cut the kernel's. TSO6 is asked for as a
 * virtio NIC does; IPv6 super-frames are dropped like all IPv6. */
static const unsigned tap_offload_tries[] = {
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
    TUN_F_CSUM | TUN_F_TSO4,
    TUN_F_CSUM,
};

/* Turns on virtio-net headers and the offloads on t->fd; false if the
 * kernel grants none (then the descriptor is to be opened again plain). */
static bool tap_enable_offloads(struct tap_dev *t)
{
    int sz = (int)TAP_VNET_HDR_LEN;
    if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0)
        return false;
    /* Legacy virtio headers are in the host's order; little-endian is
     * what a modern virtio device uses, and the same on x86 and arm64. */
    int le = 1;
    t->vnet_le = ioctl(t->fd, TUNSETVNETLE, &le) == 0 || BYTE_ORDER == LITTLE_ENDIAN;
    for (size_t i = 0; i < sizeof(tap_offload_tries) / sizeof(tap_offload_tries[0]); i++) {
        if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tap_offload_tries[i]) == 0) {
            t->tun_offload = tap_offload_tries[i];
            break;
        }
    }
    if (!(t->tun_offload & TUN_F_CSUM))
        return false;
    t->vnet_hdr_len = TAP_VNET_HDR_LEN;
    t->dev.features = US_DEV_F_TX_CSUM | US_DEV_F_RX_CSUM;
    if (t->tun_offload & TUN_F_TSO4) {
        t->dev.features |= US_DEV_F_TSO | US_DEV_F_GRO;
        t->dev.gso_max_size = 65535;
    }
    return true;
}

/* "tx-csum tso rx-csum gro" (ethtool -k's words) or "off". */
static void tap_name_offloads(struct tap_dev *t)
{
    static const struct {
        uint32_t f;
        const char *name;
    } names[] = {{US_DEV_F_TX_CSUM, "tx-csum"},
                 {US_DEV_F_TSO, "tso"},
                 {US_DEV_F_RX_CSUM, "rx-csum"},
                 {US_DEV_F_GRO, "gro"}};
    size_t at = 0;
    t->offloads[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (t->dev.features & names[i].f)
            at += (size_t)snprintf(t->offloads + at, sizeof(t->offloads) - at, "%s%s",
                                   at ? " " : "", names[i].name);
    if (at == 0)
        snprintf(t->offloads, sizeof(t->offloads), "off");
}

struct us_dev *us_tap_dev_open_config(const char *name, const struct us_tap_config *cfg, char *err,
                                      size_t errlen)
{
    struct us_tap_config c = {0};
    if (cfg)
        c = *cfg;
    if (!name)
        name = "";
    if (strlen(name) >= IFNAMSIZ) {
        set_err(err, errlen, "TAP name '%s' too long (at most %d characters)", name, IFNAMSIZ - 1);
        return NULL;
    }
    struct ifreq ifr;
    int fd = tap_attach(name, c.no_offload ? 0 : IFF_VNET_HDR, &ifr, err, errlen);
    if (fd < 0)
        return NULL;
    struct tap_dev *t = calloc(1, sizeof(*t));
    if (!t) {
        set_err(err, errlen, "TAP %s: %s", name, strerror(ENOMEM));
        close(fd);
        return NULL;
    }
    t->fd = fd;
    if (!c.no_offload && !tap_enable_offloads(t)) {
        /* No offload granted: plain frames, as the header would only cost. */
        close(t->fd);
        memset(t, 0, sizeof(*t));
        t->fd = tap_attach(name, 0, &ifr, err, errlen);
        if (t->fd < 0) {
            free(t);
            return NULL;
        }
    }
    if (!t->vnet_hdr_len) {
        /* Plain frames: a persistent TAP may still have the offloads a
         * process that ended without closing it (killed) turned on; the
         * kernel would send us super-frames and partial checksums with
         * no header to say so. */
        (void)ioctl(t->fd, TUNSETOFFLOAD, 0UL);
    }
    tap_name_offloads(t);
    const char *use_ring = getenv("USTACK_TAP_IO_URING");
    if (!use_ring || strcmp(use_ring, "0") != 0)
        t->tx_ring = us_uring_tx_new(TAP_TX_RING); /* NULL: write() it is */
    t->dev.ops = &tap_ops;
    /* The kernel may have picked the name (empty or "tap%d"). */
    snprintf(t->dev.name, sizeof(t->dev.name), "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
    tap_deepen_rx_ring(t->dev.name);
    t->dev.mtu = c.mtu ? c.mtu : 1500;
    if (getrandom(t->dev.mac.b, sizeof(t->dev.mac.b), 0) != (ssize_t)sizeof(t->dev.mac.b)) {
        set_err(err, errlen, "TAP %s: getrandom: %s", t->dev.name, strerror(errno));
        tap_destroy(&t->dev);
        return NULL;
    }
    /* Locally administered (bit 1), unicast (bit 0 clear). */
    t->dev.mac.b[0] = (uint8_t)((t->dev.mac.b[0] | 0x02) & ~0x01);
    return &t->dev;
}

struct us_dev *us_tap_dev_open(const char *name, uint32_t mtu, char *err, size_t errlen)
{
    struct us_tap_config c = {.mtu = mtu};
    return us_tap_dev_open_config(name, &c, err, errlen);
}

const char *us_tap_dev_tx_method(const struct us_dev *tap)
{
    return tap->ops == &tap_ops && ((const struct tap_dev *)tap)->tx_ring ? "io_uring" : "write";
}

const char *us_tap_dev_offloads(const struct us_dev *tap)
{
    while (tap && tap->ops != &tap_ops)
        tap = tap->lower;
    return tap ? ((const struct tap_dev *)tap)->offloads : "off";
}
