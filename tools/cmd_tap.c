/* `ustack tap`: the stack on a Linux TAP device, with the real kernel (or
 * anything else on the tap) as its peer. */
#include "cli.h"
#include "serve.h"

#include <errno.h>
#include <getopt.h>
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

/* What the report at exit and on SIGUSR1 shows. */
struct tap_run {
    struct us_dev *top, *fault_dev;
    const char *dev_name;
    bool nstat;
    struct udp_sender sender;
};

/* Counters as netstat -s (or nstat -a), the device, the injector, and the
 * socket table as ss -uanm. */
static void print_report(struct us_stack *s, const struct tap_run *run)
{
    if (run->nstat)
        us_mib_print_nstat(us_stack_mib(s), stdout, 1);
    else
        us_mib_print_netstat(us_stack_mib(s), stdout);
    const struct us_dev *tap = run->top;
    while (tap->lower)
        tap = tap->lower;
    printf("Device %s: rx %llu packets %llu bytes, %llu dropped; tx %llu packets %llu bytes, "
           "%llu dropped\n",
           run->dev_name, (unsigned long long)tap->stats.rx_packets,
           (unsigned long long)tap->stats.rx_bytes, (unsigned long long)tap->stats.rx_dropped,
           (unsigned long long)tap->stats.tx_packets, (unsigned long long)tap->stats.tx_bytes,
           (unsigned long long)tap->stats.tx_dropped);
    if (run->fault_dev) {
        const struct us_fault_stats *fs = us_fault_dev_stats(run->fault_dev);
        printf("Faults injected: %llu dropped, %llu duplicated, %llu reordered, %llu corrupted\n",
               (unsigned long long)fs->dropped, (unsigned long long)fs->duplicated,
               (unsigned long long)fs->reordered, (unsigned long long)fs->corrupted);
    }
    us_sock_print_table(s, stdout);
    fflush(stdout);
}

static us_time_ns tap_tick(void *ctx, struct us_stack *s, us_time_ns now)
{
    struct tap_run *run = ctx;
    if (report_requested) {
        report_requested = 0;
        print_report(s, run);
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
            "\n"
            "  --dev NAME         TAP device name (required)\n"
            "  --addr A.B.C.D/N   address and prefix length of the stack (required)\n"
            "  --gw G             default gateway (on-link)\n"
            "  --mtu N            IP MTU of the device (default 1500, 68..9000)\n"
            "  --pcap FILE        record every frame sent and received to FILE\n"
            "  --loss P           drop frames with probability P (both directions)\n"
            "  --dup P            duplicate frames with probability P\n"
            "  --reorder P        delay frames past later ones with probability P\n"
            "  --corrupt P        flip a byte of frames with probability P\n"
            "  --seed N           seed for the fault injector and the stack's random key\n"
            "  --sysctl KEY=VAL   set a sysctl, e.g. net.ipv4.ipfrag_time=10 (repeatable)\n"
            "  --nstat            print the counters at exit as `nstat -a` does instead\n"
            "  --serve LIST       run services: udp-echo[:PORT],udp-discard[:PORT]\n"
            "                     (default ports 7 and 9)\n"
            "  --join GROUP       the services' sockets join multicast GROUP (repeatable)\n"
            "  --send-udp A.B.C.D:PORT:COUNT[:INTERVAL_MS]\n"
            "                     send COUNT datagrams \"ustack SEQ\", every 10 ms by default\n"
            "  --help             this text\n"
            "\n"
            "SIGUSR1 prints the counters and the socket table (as ss -uanm) and goes on.\n");
}

static int apply_sysctls(struct us_stack *s, char **kv, int n)
{
    for (int i = 0; i < n; i++) {
        char *eq = strchr(kv[i], '=');
        if (!eq) {
            fprintf(stderr, "ustack: --sysctl expects KEY=VALUE, got '%s'\n", kv[i]);
            return -1;
        }
        *eq = '\0';
        char err[256];
        if (us_sysctl_set(s, kv[i], eq + 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "ustack: %s\n", err);
            return -1;
        }
    }
    return 0;
}

int cli_tap(int argc, char **argv)
{
    static const struct option opts[] = {{"dev", required_argument, 0, 'd'},
                                         {"addr", required_argument, 0, 'a'},
                                         {"gw", required_argument, 0, 'g'},
                                         {"mtu", required_argument, 0, 'm'},
                                         {"pcap", required_argument, 0, 'p'},
                                         {"loss", required_argument, 0, 'l'},
                                         {"dup", required_argument, 0, 'u'},
                                         {"reorder", required_argument, 0, 'r'},
                                         {"corrupt", required_argument, 0, 'c'},
                                         {"seed", required_argument, 0, 's'},
                                         {"sysctl", required_argument, 0, 'y'},
                                         {"help", no_argument, 0, 'h'},
                                         {"nstat", no_argument, 0, 'N'},
                                         {"serve", required_argument, 0, 'S'},
                                         {"join", required_argument, 0, 'J'},
                                         {"send-udp", required_argument, 0, 'U'},
                                         {0, 0, 0, 0}};
    const char *serve = NULL, *send_udp = NULL;
    us_ip4 groups[8];
    int n_groups = 0;
    const char *dev_name = NULL, *addr_arg = NULL, *gw_arg = NULL, *pcap_path = NULL;
    uint64_t mtu = 1500, seed = 0;
    struct us_fault_config fault = {0};
    bool want_fault = false, nstat = false;
    char *sysctls[64];
    int n_sysctls = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dev_name = optarg;
            break;
        case 'a':
            addr_arg = optarg;
            break;
        case 'g':
            gw_arg = optarg;
            break;
        case 'p':
            pcap_path = optarg;
            break;
        case 'm':
            if (cli_parse_u64("--mtu", optarg, &mtu) || mtu < 68 || mtu > 9000) {
                fprintf(stderr, "ustack: --mtu must be between 68 and 9000\n");
                return 2;
            }
            break;
        case 'l':
            if (cli_parse_prob("--loss", optarg, &fault.loss))
                return 2;
            want_fault = true;
            break;
        case 'u':
            if (cli_parse_prob("--dup", optarg, &fault.dup))
                return 2;
            want_fault = true;
            break;
        case 'r':
            if (cli_parse_prob("--reorder", optarg, &fault.reorder))
                return 2;
            want_fault = true;
            break;
        case 'c':
            if (cli_parse_prob("--corrupt", optarg, &fault.corrupt))
                return 2;
            want_fault = true;
            break;
        case 's':
            if (cli_parse_u64("--seed", optarg, &seed))
                return 2;
            break;
        case 'y':
            if (n_sysctls == 64) {
                fprintf(stderr, "ustack: too many --sysctl options\n");
                return 2;
            }
            sysctls[n_sysctls++] = optarg;
            break;
        case 'N':
            nstat = true;
            break;
        case 'S':
            serve = optarg;
            break;
        case 'J':
            if (n_groups == 8 || us_ip4_parse(optarg, &groups[n_groups]) != 0 ||
                !us_ip4_is_multicast(groups[n_groups])) {
                fprintf(stderr, "ustack: --join expects a multicast group (at most 8), got '%s'\n",
                        optarg);
                return 2;
            }
            n_groups++;
            break;
        case 'U':
            send_udp = optarg;
            break;
        case 'h':
            tap_usage(stdout);
            return 0;
        default:
            tap_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ustack: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!dev_name || !addr_arg) {
        fprintf(stderr, "ustack: tap needs --dev and --addr (see ustack tap --help)\n");
        return 2;
    }
    us_ip4 addr, gw = 0;
    int prefix;
    if (us_ip4_parse_prefix(addr_arg, &addr, &prefix) != 0 || addr == 0) {
        fprintf(stderr, "ustack: --addr expects A.B.C.D/N, got '%s'\n", addr_arg);
        return 2;
    }
    if (gw_arg && us_ip4_parse(gw_arg, &gw) != 0) {
        fprintf(stderr, "ustack: --gw expects A.B.C.D, got '%s'\n", gw_arg);
        return 2;
    }

    struct us_stack_config cfg = {.name = dev_name, .seed = seed};
    if (mtu > 1500)
        cfg.pkt_buf_size = (unsigned)mtu + US_ETH_HLEN + US_PKT_HEADROOM + 64;
    struct us_stack *s = us_stack_new(&cfg);
    if (!s) {
        fprintf(stderr, "ustack: out of memory creating the stack\n");
        return 1;
    }
    if (apply_sysctls(s, sysctls, n_sysctls)) {
        us_stack_free(s);
        return 2;
    }
    char err[256];
    struct us_dev *dev = us_tap_dev_open(dev_name, (uint32_t)mtu, err, sizeof(err));
    if (!dev) {
        fprintf(stderr, "ustack: %s\n", err);
        us_stack_free(s);
        return 1;
    }
    struct us_dev *fault_dev = NULL;
    if (want_fault) {
        fault.seed = seed ? seed : 1;
        dev = fault_dev = us_fault_dev_new(dev, &fault);
    }
    if (pcap_path) {
        struct us_dev *p = us_pcap_dev_new(dev, pcap_path, err, sizeof(err));
        if (!p) {
            fprintf(stderr, "ustack: %s\n", err);
            us_dev_destroy(dev);
            us_stack_free(s);
            return 1;
        }
        dev = p;
    }
    struct us_dev *top = dev;
    int ifindex = us_iface_add(s, dev, addr, prefix, us_clock_now());
    if (ifindex < 0) {
        fprintf(stderr, "ustack: cannot add interface: %s\n", strerror(-ifindex));
        us_dev_destroy(dev);
        us_stack_free(s);
        return 1;
    }
    if (gw) {
        int rc = us_route_add(s, 0, 0, gw, ifindex);
        if (rc) {
            fprintf(stderr, "ustack: --gw %s: %s\n", gw_arg,
                    rc == -ENETUNREACH ? "gateway is not on the interface's subnet"
                                       : strerror(-rc));
            us_stack_free(s);
            return 2;
        }
    }

    struct serve_set services = {0};
    struct tap_run run = {
        .top = top, .fault_dev = fault_dev, .dev_name = dev_name, .nstat = nstat, .sender.fd = -1};
    int rc = 0;
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
        us_stack_free(s);
        return rc;
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_report;
    sigaction(SIGUSR1, &sa, NULL);

    char ab[16], mb[18];
    printf("ustack: %s up, %s/%d mac %s mtu %u\n", dev_name, us_ip4_fmt(addr, ab), prefix,
           us_mac_fmt(&top->mac, mb), (unsigned)mtu);
    fflush(stdout);
    rc = us_stack_run(s, &stop_requested, tap_tick, &run);
    if (rc)
        fprintf(stderr, "ustack: driver loop failed: %s\n", strerror(-rc));
    udp_sender_stop(s, &run.sender);
    serve_stop(s, &services);
    /* Closing sockets may send (an IGMP leave): one last round sends it. */
    us_stack_poll(s, us_clock_now());
    print_report(s, &run);
    us_stack_free(s);
    return rc ? 1 : 0;
}
