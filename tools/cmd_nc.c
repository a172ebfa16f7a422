/* `ustack nc`: netcat on ustack. Connects to HOST PORT (or with -l accepts
 * one connection on PORT), copies standard input to the connection and the
 * connection to standard output. At the end of standard input it sends FIN
 * (shutdown SHUT_WR), after the urgent byte of --oob-byte if given (sent
 * with MSG_OOB once standard input is all sent); it exits once the peer has closed its side and
 * what it sent has been written, and its own FIN has been acknowledged. */
#include "tap_env.h"

#include "ustack/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NC_BUF 65536
/* How long to wait for the last ACK of our FIN before leaving anyway. */
#define NC_LINGER (2 * US_NS_PER_SEC)

static volatile int nc_stop;

static void on_signal(int sig)
{
    (void)sig;
    nc_stop = 1;
}

static void nc_usage(FILE *out)
{
    fprintf(out, "usage: ustack nc --dev NAME --addr A.B.C.D/N [options] HOST PORT\n"
                 "       ustack nc --dev NAME --addr A.B.C.D/N [options] -l PORT\n"
                 "\n"
                 "netcat over ustack on a TAP device: standard input to the connection,\n"
                 "the connection to standard output.\n"
                 "\n" TAP_ENV_HELP "  -l, --listen       accept one connection on PORT instead\n"
                 "  --oob-byte C       after standard input, send the byte C as urgent data\n"
                 "                     (MSG_OOB), then FIN\n"
                 "  --help             this text\n");
}

struct nc {
    struct us_stack *s;
    int lfd, fd; /* listening socket (-l), the connection */
    bool connected, stdin_eof, fin_sent, peer_eof, failed;
    int oob_byte;       /* --oob-byte, -1 without; sent once, before the FIN */
    uint8_t in[NC_BUF]; /* from standard input, not yet sent */
    size_t in_len, in_off;
    uint8_t out[NC_BUF];
};

/* Moves bytes both ways as far as they go without blocking. */
static void nc_pump(struct nc *n, us_time_ns now)
{
    if (!n->connected) {
        if (n->lfd >= 0) {
            struct us_sockaddr_in peer;
            int fd = us_accept(n->s, n->lfd, &peer);
            if (fd < 0)
                return;
            n->fd = fd;
            us_close(n->s, n->lfd); /* netcat takes one connection */
            n->lfd = -1;
        } else {
            int ev = us_sock_poll_events(n->s, n->fd);
            if (ev & US_POLLERR) {
                int err = 0;
                size_t len = sizeof(err);
                us_getsockopt(n->s, n->fd, US_SOL_SOCKET, US_SO_ERROR, &err, &len);
                fprintf(stderr, "ustack nc: connect: %s\n", strerror(err ? err : ECONNREFUSED));
                n->failed = true;
                return;
            }
            if (!(ev & US_POLLOUT))
                return;
        }
        n->connected = true;
    }
    while (n->in_off < n->in_len) {
        int w = us_send(n->s, n->fd, n->in + n->in_off, n->in_len - n->in_off, 0, now);
        if (w == -EAGAIN)
            break;
        if (w < 0) {
            fprintf(stderr, "ustack nc: send: %s\n", strerror(-w));
            n->failed = true;
            return;
        }
        n->in_off += (size_t)w;
    }
    if (n->in_off == n->in_len)
        n->in_off = n->in_len = 0;
    if (n->stdin_eof && n->in_len == 0 && n->oob_byte >= 0) {
        uint8_t c = (uint8_t)n->oob_byte;
        int w = us_send(n->s, n->fd, &c, 1, US_MSG_OOB, now);
        if (w < 0 && w != -EAGAIN) {
            fprintf(stderr, "ustack nc: send: %s\n", strerror(-w));
            n->failed = true;
            return;
        }
        if (w == 1)
            n->oob_byte = -1;
    }
    if (n->stdin_eof && n->in_len == 0 && n->oob_byte < 0 && !n->fin_sent) {
        us_shutdown(n->s, n->fd, US_SHUT_WR);
        n->fin_sent = true;
    }
    while (!n->peer_eof) {
        int r = us_recv(n->s, n->fd, n->out, sizeof(n->out), 0);
        if (r == -EAGAIN)
            break;
        if (r < 0) {
            fprintf(stderr, "ustack nc: recv: %s\n", strerror(-r));
            n->failed = true;
            return;
        }
        if (r == 0) {
            n->peer_eof = true;
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(STDOUT_FILENO, n->out + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fprintf(stderr, "ustack nc: stdout: %s\n", strerror(errno));
                n->failed = true;
                return;
            }
            off += w;
        }
    }
}

/* Our FIN is acknowledged once the connection reached FIN_WAIT2,
 * TIME_WAIT or CLOSE (or CLOSING... LAST_ACK still waits). */
static bool nc_fin_acked(struct nc *n)
{
    struct us_tcp_info ti;
    size_t len = sizeof(ti);
    if (us_getsockopt(n->s, n->fd, US_IPPROTO_TCP, US_TCP_INFO, &ti, &len) != 0)
        return true;
    return ti.state == US_TCP_FIN_WAIT2 || ti.state == US_TCP_TIME_WAIT || ti.state == US_TCP_CLOSE;
}

static int nc_run(struct tap_env *env, bool listen_mode, const char *host, uint16_t port,
                  int oob_byte)
{
    struct nc *n = calloc(1, sizeof(*n));
    n->s = env->s;
    n->oob_byte = oob_byte;
    n->lfd = n->fd = -1;
    int fd = us_socket(n->s, US_SOCK_STREAM), rc = fd;
    if (rc >= 0 && listen_mode) {
        struct us_sockaddr_in any = {US_IP4_ANY, port};
        n->lfd = fd;
        rc = us_bind(n->s, fd, &any);
        if (rc >= 0)
            rc = us_listen(n->s, fd, 1);
        if (rc >= 0) {
            /* Scripts wait for this line before they connect. */
            char ab[16];
            fprintf(stderr, "ustack nc: listening on %s:%u\n", us_ip4_fmt(env->addr, ab), port);
        }
    } else if (rc >= 0) {
        struct us_sockaddr_in peer = {0, port};
        if (us_ip4_parse(host, &peer.addr) != 0) {
            fprintf(stderr, "ustack nc: HOST must be an IPv4 address, got '%s'\n", host);
            us_close(n->s, fd);
            free(n);
            return 2;
        }
        n->fd = fd;
        rc = us_connect(n->s, fd, &peer);
        if (rc == -EINPROGRESS)
            rc = 0;
    }
    if (rc < 0) {
        fprintf(stderr, "ustack nc: %s: %s\n", listen_mode ? "listen" : "connect", strerror(-rc));
        free(n);
        return 1;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int devfd = us_dev_pollfd(env->top);
    us_time_ns linger_until = 0;
    while (!nc_stop && !n->failed) {
        us_time_ns now = us_clock_now();
        us_time_ns next = us_stack_poll(n->s, now);
        nc_pump(n, now);
        /* Again, so what the pump queued leaves now, not at the next event;
         * on a fresh clock reading, since ACKs that arrived meanwhile are
         * read too and timing them on the old one would make RTTs of 0. */
        now = us_clock_now();
        next = us_time_min(next, us_stack_poll(n->s, now));
        if (n->peer_eof && n->fin_sent) {
            if (!linger_until)
                linger_until = now + NC_LINGER;
            if (nc_fin_acked(n) || now >= linger_until)
                break;
        }
        struct pollfd fds[2] = {{.fd = devfd, .events = POLLIN}, {.fd = -1}};
        bool want_stdin = n->connected && !n->stdin_eof && n->in_len == 0;
        if (want_stdin)
            fds[1] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        if (next <= now)
            next = now;
        us_time_ns wait = next == US_TIME_NEVER ? 100 * US_NS_PER_MS : next - now;
        if (wait > 100 * US_NS_PER_MS)
            wait = 100 * US_NS_PER_MS; /* re-check the linger deadline now and then */
        /* To the nanosecond, as us_stack_run: TCP's timers on a fast link
         * are due in microseconds. */
        struct timespec ts = {.tv_sec = (time_t)(wait / US_NS_PER_SEC),
                              .tv_nsec = (long)(wait % US_NS_PER_SEC)};
        int ready = ppoll(fds, 2, &ts, NULL);
        if (ready > 0 && want_stdin && (fds[1].revents & (POLLIN | POLLHUP))) {
            ssize_t r = read(STDIN_FILENO, n->in, sizeof(n->in));
            if (r > 0)
                n->in_len = (size_t)r;
            else if (r == 0 || errno != EINTR)
                n->stdin_eof = true;
        }
    }
    int status = n->failed ? 1 : 0;
    if (n->fd >= 0)
        us_close(n->s, n->fd);
    if (n->lfd >= 0)
        us_close(n->s, n->lfd);
    us_stack_poll(n->s, us_clock_now()); /* send what closing queued */
    free(n);
    return status;
}

int cli_nc(int argc, char **argv)
{
    static const struct option opts[] = {TAP_ENV_LONG_OPTIONS,
                                         {"listen", no_argument, 0, 'l'},
                                         {"oob-byte", required_argument, 0, 'O'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct tap_opts o;
    tap_opts_init(&o);
    bool listen_mode = false;
    int oob_byte = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "lh", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_mode = true;
            break;
        case 'O':
            if (strlen(optarg) != 1) {
                fprintf(stderr, "ustack nc: --oob-byte takes one character\n");
                return 2;
            }
            oob_byte = (uint8_t)optarg[0];
            break;
        case 'h':
            nc_usage(stdout);
            return 0;
        case '?':
            nc_usage(stderr);
            return 2;
        default:
            if (tap_opts_take(&o, c, optarg))
                return 2;
        }
    }
    int want = listen_mode ? 1 : 2;
    if (!o.dev || !o.addr || argc - optind != want) {
        fprintf(stderr, "ustack nc: needs --dev, --addr and %s (see ustack nc --help)\n",
                listen_mode ? "-l PORT" : "HOST PORT");
        return 2;
    }
    uint64_t port;
    if (cli_parse_u64("PORT", argv[argc - 1], &port) || port == 0 || port > 65535) {
        fprintf(stderr, "ustack nc: PORT must be 1..65535\n");
        return 2;
    }
    struct tap_env env;
    int rc = tap_env_open(&o, &env);
    if (rc)
        return rc;
    tap_env_print_offloads(&env, stderr); /* standard output carries the data */
    rc = nc_run(&env, listen_mode, listen_mode ? NULL : argv[optind], (uint16_t)port, oob_byte);
    if (o.nstat)
        tap_env_report(&env, stderr); /* standard output carries the data */
    tap_env_close(&env);
    return rc;
}
