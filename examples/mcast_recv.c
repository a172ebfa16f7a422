/* A UDP multicast receiver on a Linux TAP device: joins GROUP (the stack
 * sends an IGMPv2 report, so a switch or router forwards the group to us)
 * and prints every datagram sent to GROUP:PORT, until COUNT have arrived or
 * SIGINT/SIGTERM.
 *
 *   mcast_recv DEV A.B.C.D/N GROUP PORT [COUNT]     (root, or CAP_NET_ADMIN)
 *
 * For example, with the kernel sending on the other side of tap0:
 *   ip tuntap add dev tap0 mode tap
 *   ip addr add 192.0.2.1/24 dev tap0 && ip link set tap0 up
 *   ip route add 239.0.0.0/8 dev tap0
 *   mcast_recv tap0 192.0.2.2/24 239.1.2.3 5000 &
 *   echo hello | socat - UDP4-DATAGRAM:239.1.2.3:5000
 */
#define _POSIX_C_SOURCE 200809L /* sigaction in strict C11 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

static volatile int stop;
static long received, wanted; /* wanted 0: until a signal */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Called by the stack each time a datagram is queued on the socket. */
static void on_readable(void *ctx, struct us_stack *s, int fd, int events)
{
    (void)ctx;
    (void)events;
    char buf[2048];
    struct us_sockaddr_in from;
    int n;
    while ((n = us_recvfrom(s, fd, buf, sizeof(buf) - 1, 0, &from)) >= 0) {
        char addr[16];
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0'; /* one line per datagram */
        printf("%s:%u: %s\n", us_ip4_fmt(from.addr, addr), from.port, buf);
        if (wanted && ++received == wanted)
            stop = 1;
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    us_ip4 addr, group;
    int prefix;
    if (argc < 5 || argc > 6 || us_ip4_parse_prefix(argv[2], &addr, &prefix) != 0 ||
        us_ip4_parse(argv[3], &group) != 0 || !us_ip4_is_multicast(group)) {
        fprintf(stderr, "usage: mcast_recv DEV A.B.C.D/N GROUP PORT [COUNT]\n");
        return 2;
    }
    uint16_t port = (uint16_t)atoi(argv[4]);
    wanted = argc == 6 ? atol(argv[5]) : 0;

    struct us_stack *s = us_stack_new(NULL);
    char err[256];
    struct us_dev *dev = us_tap_dev_open(argv[1], 0, err, sizeof(err));
    if (!s || !dev) {
        fprintf(stderr, "mcast_recv: %s\n", s ? err : "out of memory");
        return 1;
    }
    int rc = us_iface_add(s, dev, addr, prefix, us_clock_now());
    if (rc < 0) {
        fprintf(stderr, "mcast_recv: adding the interface: %s\n", strerror(-rc));
        return 1;
    }

    /* Bind to the port on any address, then join the group on our interface
     * (IP_ADD_MEMBERSHIP, as with the kernel's sockets). */
    int fd = us_socket(s, US_SOCK_DGRAM);
    struct us_sockaddr_in any = {.addr = US_IP4_ANY, .port = port};
    struct us_ip_mreq mreq = {.multiaddr = group, .interface = addr};
    if (fd < 0 || (rc = us_bind(s, fd, &any)) < 0 ||
        (rc = us_setsockopt(s, fd, US_IPPROTO_IP, US_IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq))) < 0 ||
        (rc = us_sock_set_callback(s, fd, on_readable, NULL)) < 0) {
        fprintf(stderr, "mcast_recv: joining %s port %u: %s\n", argv[3], port,
                strerror(fd < 0 ? -fd : -rc));
        return 1;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("mcast_recv: joined %s, listening on port %u\n", argv[3], port);
    fflush(stdout);
    rc = us_stack_run(s, &stop, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "mcast_recv: %s\n", strerror(-rc));

    /* Closing the socket leaves the group: one more round sends the IGMP
     * Leave Group before the stack goes. */
    us_close(s, fd);
    us_stack_poll(s, us_clock_now());
    printf("mcast_recv: %ld datagrams\n", received);
    us_stack_free(s);
    return rc < 0 ? 1 : 0;
}
