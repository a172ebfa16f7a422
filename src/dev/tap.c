/* Linux TAP device: Ethernet frames to and from the kernel through
 * /dev/net/tun, one read() or write() per frame, non-blocking. */
#include "ustack/dev.h"

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
#include <unistd.h>

struct tap_dev {
    struct us_dev dev; /* first, so a struct us_dev * is a struct tap_dev * */
    int fd;
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

static int tap_tx_burst(struct us_dev *d, struct us_pkt **pkts, int n, us_time_ns now)
{
    struct tap_dev *t = tap_of(d);
    int sent = 0;
    for (int i = 0; i < n; i++) {
        struct us_pkt *p = pkts[i];
        ssize_t w;
        do
            w = write(t->fd, p->data, p->len);
        while (w < 0 && errno == EINTR);
        if (w == (ssize_t)p->len) {
            d->stats.tx_packets++;
            d->stats.tx_bytes += p->len;
            sent++;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            /* The kernel's queue is full: drop rather than block the stack. */
            d->stats.tx_dropped++;
        } else {
            d->stats.tx_errors++; /* EIO: interface down; or a short write */
        }
        us_pkt_free(p);
    }
    return sent;
}

static int tap_pollfd(struct us_dev *d)
{
    return tap_of(d)->fd;
}

static void tap_destroy(struct us_dev *d)
{
    struct tap_dev *t = tap_of(d);
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
    t->dev.ops = &tap_ops;
    /* The kernel may have picked the name (empty or "tap%d"). */
    snprintf(t->dev.name, sizeof(t->dev.name), "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
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
