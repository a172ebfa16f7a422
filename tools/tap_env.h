/* What `ustack tap` and `ustack nc` share: the options that build a stack on
 * a TAP device (address, gateway, MTU, capture, faults, sysctls), and the
 * report of counters, device and sockets. */
#ifndef USTACK_TOOLS_TAP_ENV_H
#define USTACK_TOOLS_TAP_ENV_H

#include "cli.h"

#include <getopt.h>
#include <stdio.h>

/* The long options every TAP command takes; their short codes are below 32
 * so commands can add their own letters freely. */
enum {
    OPT_DEV = 1,
    OPT_ADDR,
    OPT_GW,
    OPT_MTU,
    OPT_PCAP,
    OPT_LOSS,
    OPT_DUP,
    OPT_REORDER,
    OPT_CORRUPT,
    OPT_SEED,
    OPT_SYSCTL,
    OPT_NSTAT,
    OPT_FAULT_DIR,
    OPT_NO_OFFLOAD,
};
#define TAP_ENV_LONG_OPTIONS                                                                       \
    {"dev", required_argument, 0, OPT_DEV}, {"addr", required_argument, 0, OPT_ADDR},              \
        {"gw", required_argument, 0, OPT_GW}, {"mtu", required_argument, 0, OPT_MTU},              \
        {"pcap", required_argument, 0, OPT_PCAP}, {"loss", required_argument, 0, OPT_LOSS},        \
        {"dup", required_argument, 0, OPT_DUP}, {"reorder", required_argument, 0, OPT_REORDER},    \
        {"corrupt", required_argument, 0, OPT_CORRUPT}, {"seed", required_argument, 0, OPT_SEED},  \
        {"sysctl", required_argument, 0, OPT_SYSCTL},                                              \
        {"fault-dir", required_argument, 0, OPT_FAULT_DIR},                                        \
        {"no-offload", no_argument, 0, OPT_NO_OFFLOAD},                                            \
    {                                                                                              \
        "nstat", no_argument, 0, OPT_NSTAT                                                         \
    }

#define TAP_ENV_HELP                                                                               \
    "  --dev NAME         TAP device name (required)\n"                                            \
    "  --addr A.B.C.D/N   address and prefix length of the stack (required)\n"                     \
    "  --gw G             default gateway (on-link)\n"                                             \
    "  --mtu N            IP MTU of the device (default 1500, 68..9000)\n"                         \
    "  --pcap FILE        record every frame sent and received to FILE\n"                          \
    "  --loss P           drop frames with probability P (see --fault-dir)\n"                      \
    "  --dup P            duplicate frames with probability P\n"                                   \
    "  --reorder P        delay frames past later ones with probability P\n"                       \
    "  --corrupt P        flip a byte of frames with probability P\n"                              \
    "  --fault-dir D      apply the faults above to received frames only (rx), sent\n"             \
    "                     frames only (tx) or both (the default)\n"                                \
    "  --seed N           seed for the fault injector and the stack's random key\n"                \
    "  --sysctl KEY=VAL   set a sysctl, e.g. net.ipv4.ipfrag_time=10 (repeatable)\n"               \
    "  --nstat            print the counters at exit as `nstat -a` does instead\n"                 \
    "  --no-offload       plain frames on the TAP, one per read() and write(); by\n"               \
    "                     default checksum offload and 64 KiB TCP super-frames\n"                  \
    "                     (TSO/GRO, virtio-net headers) each way where the kernel\n"               \
    "                     grants them\n"

struct tap_opts {
    const char *dev, *addr, *gw, *pcap;
    uint64_t mtu, seed;
    struct us_fault_config fault;
    bool want_fault, nstat, no_offload;
    char *sysctls[64];
    int n_sysctls;
};

/* A stack on its TAP device, ready to run. */
struct tap_env {
    struct us_stack *s;
    struct us_dev *top;       /* the outermost device (pcap or fault wrapper, or the tap) */
    struct us_dev *fault_dev; /* the fault injector, if any */
    us_ip4 addr;
    int prefix;
    const char *dev_name;
    bool nstat;
};

void tap_opts_init(struct tap_opts *o);
/* Takes option c (one of OPT_*) with its argument: 0, or -1 after printing
 * what is wrong with the value. */
int tap_opts_take(struct tap_opts *o, int c, const char *arg);
/* Builds the stack and its device. 0, or the exit status (1: the system
 * refused, 2: bad input) after printing why; nothing is left to free then. */
int tap_env_open(const struct tap_opts *o, struct tap_env *env);
/* "ustack: DEV offloads: tx-csum tso rx-csum gro" (or "off"): what the
 * kernel granted the TAP. */
void tap_env_print_offloads(const struct tap_env *env, FILE *out);
/* Prints the counters (netstat -s, or nstat -a), the device's statistics
 * (super-frames and the segments they stood for among them), the
 * injector's and the socket table (ss). */
void tap_env_report(const struct tap_env *env, FILE *out);
void tap_env_close(struct tap_env *env);

#endif
