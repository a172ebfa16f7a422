/* Building a stack on a TAP device from command-line options. */
#include "tap_env.h"

#include "ustack/socket.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void tap_opts_init(struct tap_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mtu = 1500;
}

int tap_opts_take(struct tap_opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_DEV:
        o->dev = arg;
        return 0;
    case OPT_ADDR:
        o->addr = arg;
        return 0;
    case OPT_GW:
        o->gw = arg;
        return 0;
    case OPT_PCAP:
        o->pcap = arg;
        return 0;
    case OPT_NSTAT:
        o->nstat = true;
        return 0;
    case OPT_NO_OFFLOAD:
        o->no_offload = true;
        return 0;
    case OPT_MTU:
        if (cli_parse_u64("--mtu", arg, &o->mtu) || o->mtu < 68 || o->mtu > 9000) {
            fprintf(stderr, "ustack: --mtu must be between 68 and 9000\n");
            return -1;
        }
        return 0;
    case OPT_SEED:
        return cli_parse_u64("--seed", arg, &o->seed);
    case OPT_LOSS:
        o->want_fault = true;
        return cli_parse_prob("--loss", arg, &o->fault.loss);
    case OPT_DUP:
        o->want_fault = true;
        return cli_parse_prob("--dup", arg, &o->fault.dup);
    case OPT_REORDER:
        o->want_fault = true;
        return cli_parse_prob("--reorder", arg, &o->fault.reorder);
    case OPT_CORRUPT:
        o->want_fault = true;
        return cli_parse_prob("--corrupt", arg, &o->fault.corrupt);
    case OPT_FAULT_DIR:
        /* struct us_fault_config: both flags false means both directions. */
        o->fault.rx = strcmp(arg, "rx") == 0;
        o->fault.tx = strcmp(arg, "tx") == 0;
        if (!o->fault.rx && !o->fault.tx && strcmp(arg, "both") != 0) {
            fprintf(stderr, "ustack: --fault-dir expects rx, tx or both, got '%s'\n", arg);
            return -1;
        }
        return 0;
    case OPT_SYSCTL:
        if (o->n_sysctls == 64) {
            fprintf(stderr, "ustack: too many --sysctl options\n");
            return -1;
        }
        o->sysctls[o->n_sysctls++] = (char *)arg;
        return 0;
    default:
        return -1;
    }
}

static int apply_sysctls(struct us_stack *s, char *const *kv, int n)
{
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq) {
            fprintf(stderr, "ustack: --sysctl expects KEY=VALUE, got '%s'\n", kv[i]);
            return -1;
        }
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - kv[i]), kv[i]);
        char err[256];
        if (us_sysctl_set(s, key, eq + 1, err, sizeof(err)) != 0) {
            fprintf(stderr, "ustack: %s\n", err);
            return -1;
        }
    }
    return 0;
}

int tap_env_open(const struct tap_opts *o, struct tap_env *env)
{
    memset(env, 0, sizeof(*env));
    us_ip4 gw = 0;
    if (us_ip4_parse_prefix(o->addr, &env->addr, &env->prefix) != 0 || env->addr == 0) {
        fprintf(stderr, "ustack: --addr expects A.B.C.D/N, got '%s'\n", o->addr);
        return 2;
    }
    if (o->gw && us_ip4_parse(o->gw, &gw) != 0) {
        fprintf(stderr, "ustack: --gw expects A.B.C.D, got '%s'\n", o->gw);
        return 2;
    }
    struct us_stack_config cfg = {.name = o->dev, .seed = o->seed};
    if (o->mtu > 1500)
        cfg.pkt_buf_size = (unsigned)o->mtu + US_ETH_HLEN + US_PKT_HEADROOM + 64;
    struct us_stack *s = us_stack_new(&cfg);
    if (!s) {
        fprintf(stderr, "ustack: out of memory creating the stack\n");
        return 1;
    }
    if (apply_sysctls(s, o->sysctls, o->n_sysctls)) {
        us_stack_free(s);
        return 2;
    }
    char err[256];
    struct us_tap_config tc = {.mtu = (uint32_t)o->mtu, .no_offload = o->no_offload};
    struct us_dev *dev = us_tap_dev_open_config(o->dev, &tc, err, sizeof(err));
    if (!dev) {
        fprintf(stderr, "ustack: %s\n", err);
        us_stack_free(s);
        return 1;
    }
    if (o->want_fault) {
        struct us_fault_config fc = o->fault;
        fc.seed = o->seed ? o->seed : 1;
        dev = env->fault_dev = us_fault_dev_new(dev, &fc);
    }
    if (o->pcap) {
        struct us_dev *p = us_pcap_dev_new(dev, o->pcap, err, sizeof(err));
        if (!p) {
            fprintf(stderr, "ustack: %s\n", err);
            us_dev_destroy(dev);
            us_stack_free(s);
            return 1;
        }
        dev = p;
    }
    int ifindex = us_iface_add(s, dev, env->addr, env->prefix, us_clock_now());
    if (ifindex < 0) {
        fprintf(stderr, "ustack: cannot add interface: %s\n", strerror(-ifindex));
        us_dev_destroy(dev);
        us_stack_free(s);
        return 1;
    }
    if (gw) {
        int rc = us_route_add(s, 0, 0, gw, ifindex);
        if (rc) {
            fprintf(stderr, "ustack: --gw %s: %s\n", o->gw,
                    rc == -ENETUNREACH ? "gateway is not on the interface's subnet"
                                       : strerror(-rc));
            us_stack_free(s);
            return 2;
        }
    }
    env->s = s;
    env->top = dev;
    env->dev_name = o->dev;
    env->nstat = o->nstat;
    return 0;
}

void tap_env_print_offloads(const struct tap_env *env, FILE *out)
{
    fprintf(out, "ustack: %s offloads: %s\n", env->dev_name, us_tap_dev_offloads(env->top));
    fflush(out);
}

void tap_env_report(const struct tap_env *env, FILE *out)
{
    struct us_stack *s = env->s;
    if (env->nstat)
        us_mib_print_nstat(us_stack_mib(s), out, 1);
    else
        us_mib_print_netstat(us_stack_mib(s), out);
    const struct us_dev *tap = env->top;
    while (tap->lower)
        tap = tap->lower;
    const struct us_dev_stats *st = &tap->stats;
    fprintf(out,
            "Device %s: rx %llu packets %llu bytes, %llu dropped; tx %llu packets %llu bytes, "
            "%llu dropped; super-frames rx %llu (%llu segments), tx %llu (%llu segments)\n",
            env->dev_name, (unsigned long long)st->rx_packets, (unsigned long long)st->rx_bytes,
            (unsigned long long)st->rx_dropped, (unsigned long long)st->tx_packets,
            (unsigned long long)st->tx_bytes, (unsigned long long)st->tx_dropped,
            (unsigned long long)st->rx_gso_frames, (unsigned long long)st->rx_gso_segs,
            (unsigned long long)st->tx_gso_frames, (unsigned long long)st->tx_gso_segs);
    if (env->fault_dev) {
        const struct us_fault_stats *fs = us_fault_dev_stats(env->fault_dev);
        fprintf(out,
                "Faults injected: %llu dropped, %llu duplicated, %llu reordered, %llu corrupted\n",
                (unsigned long long)fs->dropped, (unsigned long long)fs->duplicated,
                (unsigned long long)fs->reordered, (unsigned long long)fs->corrupted);
    }
    us_sock_print_table(s, out);
    fflush(out);
}

void tap_env_close(struct tap_env *env)
{
    us_stack_free(env->s);
    env->s = NULL;
}
