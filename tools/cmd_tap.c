/* `ustack tap`: the stack on a Linux TAP device, with the real kernel (or
 * anything else on the tap) as its peer, running services until stopped. */
#include "serve.h"
#include "tap_env.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int stop_requested;
static volatile sig_atomic_t report_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_report(int sig)
{
    (void)sig;
    report_requested = 1;
}

struct tap_run {
    struct tap_env env;
    struct udp_sender sender;
};

static us_time_ns tap_tick(void *ctx, struct us_stack *s, us_time_ns now)
{
    struct tap_run *run = ctx;
    if (report_requested) {
        report_requested = 0;
        tap_env_report(&run->env, stdout);
    }
    return udp_sender_tick(s, &run->sender, now);
}

static void tap_usage(FILE *out)
{
    fprintf(out,
            "usage: ustack tap --dev NAME --addr A.B.C.D/N [options]\n"
            "\n"
            "Runs the stack on the TAP device NAME (opened if it exists, created if not)\n"
            "until SIGINT or SIGTERM, then prints its counters as `netstat -s` does.\n"
            "\n" TAP_ENV_HELP "  --serve LIST       run services, a comma-separated list of:\n"
            "                       echo[:PORT]         TCP echo, RFC 862 (port 7)\n"
            "                       discard[:PORT]      TCP discard, RFC 863 (port 9)\n"
            "                       chargen[:PORT]      TCP chargen, RFC 864 (port 19)\n"
            "                       http=DIR[:PORT]     HTTP/1.1, the files under DIR (port 80)\n"
            "                       udp-echo[:PORT]     UDP echo (port 7)\n"
            "                       udp-discard[:PORT]  UDP discard (port 9)\n"
            "                     e.g. --serve echo,discard,http=/tmp/www:8080\n"
            "  --join GROUP       the UDP services' sockets join multicast GROUP (repeatable)\n"
            "  --send-udp A.B.C.D:PORT:COUNT[:INTERVAL_MS]\n"
            "                     send COUNT datagrams \"ustack SEQ\", every 10 ms by default\n"
            "  --help             this text\n"
            "\n"
            "SIGUSR1 prints the counters and the socket table, TCP and UDP (as ss -tuanm),\n"
            "and goes on.\n");
}

int cli_tap(int argc, char **argv)
{
    enum { OPT_SERVE = 'S', OPT_JOIN = 'J', OPT_SEND_UDP = 'U' };
    static const struct option opts[] = {TAP_ENV_LONG_OPTIONS,
                                         {"serve", required_argument, 0, OPT_SERVE},
                                         {"join", required_argument, 0, OPT_JOIN},
                                         {"send-udp", required_argument, 0, OPT_SEND_UDP},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct tap_opts o;
    tap_opts_init(&o);
    const char *serve = NULL, *send_udp = NULL;
    us_ip4 groups[8];
    int n_groups = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_SERVE:
            serve = optarg;
            break;
        case OPT_JOIN:
            if (n_groups == 8 || us_ip4_parse(optarg, &groups[n_groups]) != 0 ||
                !us_ip4_is_multicast(groups[n_groups])) {
                fprintf(stderr, "ustack: --join expects a multicast group (at most 8), got '%s'\n",
                        optarg);
                return 2;
            }
            n_groups++;
            break;
        case OPT_SEND_UDP:
            send_udp = optarg;
            break;
        case 'h':
            tap_usage(stdout);
            return 0;
        case '?':
            tap_usage(stderr);
            return 2;
        default:
            if (tap_opts_take(&o, c, optarg))
                return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ustack: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o.dev || !o.addr) {
        fprintf(stderr, "ustack: tap needs --dev and --addr (see ustack tap --help)\n");
        return 2;
    }

    struct tap_run run = {.sender.fd = -1};
    int rc = tap_env_open(&o, &run.env);
    if (rc)
        return rc;
    struct us_stack *s = run.env.s;
    struct serve_set services = {0};
    if (serve && serve_start(s, serve, &services) != 0)
        rc = 2;
    for (int i = 0; i < n_groups && rc == 0; i++) {
        int jerr = serve_join(s, &services, groups[i]);
        if (jerr < 0) {
            char gb[16];
            fprintf(stderr, "ustack: --join %s: %s\n", us_ip4_fmt(groups[i], gb), strerror(-jerr));
            rc = 2;
        }
    }
    if (rc == 0 && send_udp && udp_sender_start(s, send_udp, &run.sender) != 0)
        rc = 2;
    if (rc) {
        udp_sender_stop(s, &run.sender);
        serve_stop(s, &services);
        tap_env_close(&run.env);
        return rc;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_report;
    sigaction(SIGUSR1, &sa, NULL);

    char ab[16], mb[18];
    const struct us_dev *tap = run.env.top;
    while (tap->lower)
        tap = tap->lower;
    tap_env_print_offloads(&run.env, stdout);
    printf("ustack: %s up, %s/%d mac %s mtu %u, sending with %s\n", o.dev,
           us_ip4_fmt(run.env.addr, ab), run.env.prefix, us_mac_fmt(&run.env.top->mac, mb),
           (unsigned)o.mtu, us_tap_dev_tx_method(tap));
    fflush(stdout);
    rc = us_stack_run(s, &stop_requested, tap_tick, &run);
    if (rc)
        fprintf(stderr, "ustack: driver loop failed: %s\n", strerror(-rc));
    udp_sender_stop(s, &run.sender);
    serve_stop(s, &services);
    /* Closing sockets may send (an IGMP leave): one last round sends it. */
    us_stack_poll(s, us_clock_now());
    tap_env_report(&run.env, stdout);
    tap_env_close(&run.env);
    return rc ? 1 : 0;
}
