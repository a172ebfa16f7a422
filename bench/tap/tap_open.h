/* tap_open: opens the existing TAP device NAME as IFF_TAP | IFF_NO_PI (plain
 * Ethernet frames, no packet-information header, no offloads), with FLAGS (O_NONBLOCK,
 * say) added to open's. Returns the descriptor, or -1 with errno set.
 * Shared by the lwIP peer and the TAP ceiling programs. */
#ifndef USTACK_BENCH_TAP_OPEN_H
#define USTACK_BENCH_TAP_OPEN_H

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static inline int tap_open(const char *name, int flags)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | flags);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    /* Plain frames: offloads ustack turned on for a persistent TAP (a
     * ustack killed before it closed it) off again. */
    (void)ioctl(fd, TUNSETOFFLOAD, 0UL);
    return fd;
}

#endif
