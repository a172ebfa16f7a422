/* kernel_serve: the kernel's own TCP as the far end of the veth peer, with
 * the services `ustack tap --serve echo,discard,chargen` offers the TAP
 * benchmark: echo (RFC 862), discard (RFC 863) and chargen (RFC 864).
 *
 *   kernel_serve IP SECONDS
 * listens on IP ports 7, 9 and 19, serves each connection in its own thread
 * (blocking calls, TCP_NODELAY, congestion control cubic set per socket
 * with TCP_CONGESTION) and exits after SECONDS, so a run is bounded even if
 * nobody stops it. Prints "kernel_serve: up" on stderr when listening.
 * chargen sends from its 95-line cycle precomputed, as ustack's does. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE   74
#define CYCLE  (95 * LINE)
#define COPIES 11
#define CHUNK  ((COPIES - 1) * CYCLE)

static uint8_t cycle[COPIES * CYCLE];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct conn {
    int fd, port;
};

static void set_cubic(int fd)
{
    if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5) < 0)
        perror("kernel_serve: TCP_CONGESTION cubic");
}

static void *serve(void *arg)
{
    struct conn c = *(struct conn *)arg;
    free(arg);
    static char buf[256 * 1024];
    char small[65536];
    size_t pos = 0;
    for (;;) {
        ssize_t n;
        if (c.port == 19) {
            n = send(c.fd, cycle + pos, CHUNK, MSG_NOSIGNAL);
            if (n > 0)
                pos = (pos + (size_t)n) % CYCLE;
        } else if (c.port == 9) {
            n = recv(c.fd, buf, sizeof(buf), 0); /* one discarder at a time in the bench */
        } else {
            n = recv(c.fd, small, sizeof(small), 0);
            if (n > 0 && send(c.fd, small, (size_t)n, MSG_NOSIGNAL) != n)
                n = -1;
        }
        if (n <= 0 && !(n < 0 && errno == EINTR))
            break;
    }
    close(c.fd);
    return NULL;
}

static int listen_on(struct in_addr ip, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = ip};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    set_cubic(fd);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
        perror("kernel_serve: listen");
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    struct in_addr ip;
    if (argc != 3 || inet_pton(AF_INET, argv[1], &ip) != 1) {
        fprintf(stderr, "usage: kernel_serve IP SECONDS\n");
        return 2;
    }
    for (unsigned line = 0; line < 95; line++) {
        for (unsigned i = 0; i < 72; i++)
            cycle[line * LINE + i] = (uint8_t)(' ' + (line + i) % 95);
        cycle[line * LINE + 72] = '\r';
        cycle[line * LINE + 73] = '\n';
    }
    for (unsigned k = 1; k < COPIES; k++)
        memcpy(cycle + k * CYCLE, cycle, CYCLE);
    static const int ports[3] = {7, 9, 19};
    struct pollfd pf[3];
    for (int i = 0; i < 3; i++)
        pf[i] = (struct pollfd){.fd = listen_on(ip, ports[i]), .events = POLLIN};
    fprintf(stderr, "kernel_serve: up\n");
    double end = now_s() + atof(argv[2]);
    while (now_s() < end) {
        if (poll(pf, 3, 100) < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < 3; i++) {
            if (!(pf[i].revents & POLLIN))
                continue;
            int fd = accept(pf[i].fd, NULL, NULL), one = 1;
            if (fd < 0)
                continue;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            set_cubic(fd);
            struct conn *c = malloc(sizeof(*c));
            *c = (struct conn){fd, ports[i]};
            pthread_t th;
            if (pthread_create(&th, NULL, serve, c) == 0)
                pthread_detach(th);
            else
                close(fd), free(c);
        }
    }
    return 0;
}
