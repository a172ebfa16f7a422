/* Printing and looking up the counters by their Linux names. */
#include "ustack/mib.h"

#include <stddef.h>
#include <string.h>

struct mib_group {
    const char *prefix; /* nstat prefix: "Ip", "IpExt", ... */
    const char *const *names;
    size_t count;
    size_t offset; /* of the group inside struct us_mib */
};

#define US_MIB_NAME(name) #name,
static const char *const ip_names[] = {US_IP_MIB(US_MIB_NAME)};
static const char *const ipext_names[] = {US_IPEXT_MIB(US_MIB_NAME)};
static const char *const icmp_names[] = {US_ICMP_MIB(US_MIB_NAME)};
static const char *const udp_names[] = {US_UDP_MIB(US_MIB_NAME)};
static const char *const tcp_names[] = {US_TCP_MIB(US_MIB_NAME)};
static const char *const tcpext_names[] = {US_TCPEXT_MIB(US_MIB_NAME)};
static const char *const arp_names[] = {US_ARP_MIB(US_MIB_NAME)};
static const char *const link_names[] = {US_LINK_MIB(US_MIB_NAME)};
#undef US_MIB_NAME

#define GROUP(prefix, names, field)                                                                \
    {                                                                                              \
        prefix, names, sizeof(names) / sizeof(names[0]), offsetof(struct us_mib, field)            \
    }
static const struct mib_group groups[] = {
    GROUP("Ip", ip_names, ip),       GROUP("IpExt", ipext_names, ipext),
    GROUP("Icmp", icmp_names, icmp), GROUP("Udp", udp_names, udp),
    GROUP("Tcp", tcp_names, tcp),    GROUP("TcpExt", tcpext_names, tcpext),
    GROUP("Arp", arp_names, arp),    GROUP("Link", link_names, link),
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static uint64_t value(const struct us_mib *m, const struct mib_group *g, size_t i)
{
    const uint64_t *base = (const uint64_t *)((const char *)m + g->offset);
    return base[i];
}

int64_t us_mib_get(const struct us_mib *m, const char *nstat_name)
{
    /* Longest prefix first so "IpExt..." / "TcpExt..." are not read as
     * "Ip" / "Tcp" + "Ext...". */
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t gi = 0; gi < N_GROUPS; gi++) {
            const struct mib_group *g = &groups[gi];
            size_t pl = strlen(g->prefix);
            if ((pass == 0) != (strstr(g->prefix, "Ext") != NULL))
                continue;
            if (strncmp(nstat_name, g->prefix, pl) != 0)
                continue;
            for (size_t i = 0; i < g->count; i++)
                if (strcmp(nstat_name + pl, g->names[i]) == 0)
                    return (int64_t)value(m, g, i);
        }
    }
    return -1;
}

void us_mib_print_nstat(const struct us_mib *m, FILE *out, int all)
{
    for (size_t gi = 0; gi < N_GROUPS; gi++) {
        const struct mib_group *g = &groups[gi];
        for (size_t i = 0; i < g->count; i++) {
            uint64_t v = value(m, g, i);
            if (v || all) {
                char name[64];
                snprintf(name, sizeof(name), "%s%s", g->prefix, g->names[i]);
                fprintf(out, "%-32s %llu\n", name, (unsigned long long)v);
            }
        }
    }
}

/* netstat -s wording for the counters people look for first; the others
 * print as "Name: N", as netstat itself does for counters it has no text for. */
static const struct {
    const char *name, *text;
} netstat_text[] = {
    {"IpInReceives", "total packets received"},
    {"IpInHdrErrors", "with invalid headers"},
    {"IpInAddrErrors", "with invalid addresses"},
    {"IpForwDatagrams", "forwarded"},
    {"IpInUnknownProtos", "with unknown protocol"},
    {"IpInDiscards", "incoming packets discarded"},
    {"IpInDelivers", "incoming packets delivered"},
    {"IpOutRequests", "requests sent out"},
    {"IpOutDiscards", "outgoing packets dropped"},
    {"IpOutNoRoutes", "dropped because of missing route"},
    {"IpReasmTimeout", "fragments dropped after timeout"},
    {"IpReasmReqds", "reassemblies required"},
    {"IpReasmOKs", "packets reassembled ok"},
    {"IpReasmFails", "packet reassemblies failed"},
    {"IpFragOKs", "fragments received ok"},
    {"IpFragFails", "fragments failed"},
    {"IpFragCreates", "fragments created"},
    {"IcmpInMsgs", "ICMP messages received"},
    {"IcmpInErrors", "input ICMP message failed"},
    {"IcmpOutMsgs", "ICMP messages sent"},
    {"IcmpOutErrors", "ICMP messages failed"},
    {"UdpInDatagrams", "packets received"},
    {"UdpNoPorts", "packets to unknown port received"},
    {"UdpInErrors", "packet receive errors"},
    {"UdpOutDatagrams", "packets sent"},
    {"UdpRcvbufErrors", "receive buffer errors"},
    {"UdpSndbufErrors", "send buffer errors"},
    {"TcpActiveOpens", "active connection openings"},
    {"TcpPassiveOpens", "passive connection openings"},
    {"TcpInSegs", "segments received"},
    {"TcpOutSegs", "segments sent out"},
    {"TcpRetransSegs", "segments retransmitted"},
    {"TcpInErrs", "bad segments received"},
    {"TcpOutRsts", "resets sent"},
};

void us_mib_print_netstat(const struct us_mib *m, FILE *out)
{
    for (size_t gi = 0; gi < N_GROUPS; gi++) {
        const struct mib_group *g = &groups[gi];
        fprintf(out, "%s:\n", g->prefix);
        for (size_t i = 0; i < g->count; i++) {
            char name[64];
            snprintf(name, sizeof(name), "%s%s", g->prefix, g->names[i]);
            const char *text = NULL;
            for (size_t t = 0; t < sizeof(netstat_text) / sizeof(netstat_text[0]); t++)
                if (strcmp(netstat_text[t].name, name) == 0)
                    text = netstat_text[t].text;
            unsigned long long v = (unsigned long long)value(m, g, i);
            if (text)
                fprintf(out, "    %llu %s\n", v, text);
            else if (v)
                fprintf(out, "    %s: %llu\n", g->names[i], v);
        }
    }
}
