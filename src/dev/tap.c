/* Linux TAP device: Ethernet frames to and from the kernel through
 * /dev/net/tun, non-blocking: one read() per frame received; frames sent in
 * bursts through io_uring (one io_uring_enter() per burst, each frame still
 * its own write, in order), or one write() each where io_uring is missing
 * or refused, or when USTACK_TAP_IO_URING=0 is in the environment. */
#include "ustack/dev.h"

#include "dev/uring_tx.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
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

struct tap_dev {
    struct us_dev dev; /* first, so a struct us_dev * is a struct tap_dev * */
    int fd;
    struct us_uring_tx *tx_ring; /* NULL: one write() per frame */
};

static struct tap_dev *tap_of(struct us_dev *d)
{
    return (struct tap_dev *)d;
}

static int tap_rx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct tap_dev *t = tap_of(d);
    int got = 0;
    struct us_pkt *p = NULL;
    while (got < n) {
        if (!p)
            p = d->rx_pool ? us_pkt_alloc(d->rx_pool) : NULL;
        if (!p) {
            /* No buffer: leave frames queued in the kernel (it drops them
             * itself when txqueuelen overflows), but count that one waited. */
            struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
            if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
                d->stats.rx_dropped++;
            break;
        }
        uint32_t room = us_pkt_tailroom(p);
        ssize_t r = read(t->fd, p->data, room);
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
        if ((size_t)r > room || r == 0) {
            /* The kernel truncates silently and reports the full length. */
            d->stats.rx_errors++;
            continue;
        }
        p->len = (uint32_t)r;
        p->tstamp = now;
        d->stats.rx_packets++;
        d->stats.rx_bytes += (uint64_t)r;
        pkts[got++] = p;
        p = NULL;
    }
    us_pkt_free(p);
    return got;
}

static ssize_t tap_write(int fd, const struct us_pkt *p)
{
    ssize_t w;
    do
        w = write(fd, p->data, p->len);
    while (w < 0 && errno == EINTR);
    return w < 0 ? -errno : w;
}

/* Counts one frame's fate from write()'s result w (bytes, or -errno). */
static bool tap_tx_done(struct us_dev *d, const struct us_pkt *p, ssize_t w)
{
    if (w == (ssize_t)p->len) {
        d->stats.tx_packets++;
        d->stats.tx_bytes += p->len;
        return true;
    }
    if (w == -EAGAIN || w == -EWOULDBLOCK || w == -ENOBUFS)
        d->stats.tx_dropped++; /* the kernel's queue is full: drop rather than block the stack */
    else
        d->stats.tx_errors++; /* EIO: interface down; or a short write */
    return false;
}

/* Up to TAP_TX_RING frames from pkts in one io_uring burst; returns how
 * many were handed to the kernel (their fates counted), 0 if the ring
 * failed and none was. A write that fails cancels the ones linked after
 * it; those go out with write(), in order, as they would have. */
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
        *sent += tap_tx_done(&t->dev, pkts[i], w);
    }
    return n;
}

static int tap_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    (void)now;
    struct tap_dev *t = tap_of(d);
    int sent = 0, i = 0;
    /* One frame (a round trip's answer) costs one write() either way. */
    while (t->tx_ring && n - i > 1) {
        int k = tap_tx_ring(t, pkts + i, n - i, &sent);
        if (k == 0)
            break; /* the ring failed: the rest one write() each */
        i += k;
    }
    for (; i < n; i++)
        sent += tap_tx_done(d, pkts[i], tap_write(t->fd, pkts[i]));
    for (i = 0; i < n; i++)
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

struct us_dev *us_tap_dev_open(const char *name, uint32_t mtu, char *err, size_t errlen)
{
    if (!name)
        name = "";
    if (strlen(name) >= IFNAMSIZ) {
        set_err(err, errlen, "TAP name '%s' too long (at most %d characters)", name, IFNAMSIZ - 1);
        return NULL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "cannot open /dev/net/tun: %s", strerror(errno));
        return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        set_err(err, errlen, "TUNSETIFF %s: %s%s", name, strerror(e), tunsetiff_hint(e));
        close(fd);
        return NULL;
    }
    struct tap_dev *t = calloc(1, sizeof(*t));
    if (!t) {
        set_err(err, errlen, "TAP %s: %s", name, strerror(ENOMEM));
        close(fd);
        return NULL;
    }
    t->fd = fd;
    const char *use_ring = getenv("USTACK_TAP_IO_URING");
    if (!use_ring || strcmp(use_ring, "0") != 0)
        t->tx_ring = us_uring_tx_new(TAP_TX_RING); /* NULL: write() it is */
    t->dev.ops = &tap_ops;
    /* The kernel may have picked the name (empty or "tap%d"). */
    snprintf(t->dev.name, sizeof(t->dev.name), "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
    tap_deepen_rx_ring(t->dev.name);
    t->dev.mtu = mtu ? mtu : 1500;
    if (getrandom(t->dev.mac.b, sizeof(t->dev.mac.b), 0) != (ssize_t)sizeof(t->dev.mac.b)) {
        set_err(err, errlen, "TAP %s: getrandom: %s", t->dev.name, strerror(errno));
        tap_destroy(&t->dev);
        return NULL;
    }
    /* Locally administered (bit 1), unicast (bit 0 clear). */
    t->dev.mac.b[0] = (uint8_t)((t->dev.mac.b[0] | 0x02) & ~0x01);
    return &t->dev;
}

const char *us_tap_dev_tx_method(const struct us_dev *tap)
{
    return tap->ops == &tap_ops && ((const struct tap_dev *)tap)->tx_ring ? "io_uring" : "write";
}
