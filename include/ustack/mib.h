/* Counters with the names Linux uses in /proc/net/snmp and /proc/net/netstat,
 * so `ustack` output reads like `nstat` / `netstat -s`. Each group is an
 * X-macro list: the struct fields and the printed names come from one place. */
#ifndef USTACK_MIB_H
#define USTACK_MIB_H

#include <stdint.h>
#include <stdio.h>

#define US_IP_MIB(X)                                                                               \
    X(InReceives)                                                                                  \
    X(InHdrErrors)                                                                                 \
    X(InAddrErrors)                                                                                \
    X(ForwDatagrams)                                                                               \
    X(InUnknownProtos) X(InDiscards) X(InDelivers) X(OutRequests) X(OutDiscards) X(OutNoRoutes)    \
        X(ReasmTimeout) X(ReasmReqds) X(ReasmOKs) X(ReasmFails) X(FragOKs) X(FragFails)            \
            X(FragCreates)

#define US_IPEXT_MIB(X)                                                                            \
    X(InNoRoutes)                                                                                  \
    X(InTruncatedPkts)                                                                             \
    X(InMcastPkts)                                                                                 \
    X(OutMcastPkts)                                                                                \
    X(InBcastPkts) X(OutBcastPkts) X(InOctets) X(OutOctets) X(InCsumErrors) X(ReasmOverlaps)

#define US_ICMP_MIB(X)                                                                             \
    X(InMsgs)                                                                                      \
    X(InErrors)                                                                                    \
    X(InCsumErrors)                                                                                \
    X(InDestUnreachs)                                                                              \
    X(InTimeExcds) X(InParmProbs) X(InSrcQuenchs) X(InRedirects) X(InEchos) X(InEchoReps)          \
        X(InTimestamps) X(InTimestampReps) X(OutMsgs) X(OutErrors) X(OutDestUnreachs)              \
            X(OutTimeExcds) X(OutParmProbs) X(OutEchos) X(OutEchoReps) X(OutRateLimited)

#define US_UDP_MIB(X)                                                                              \
    X(InDatagrams)                                                                                 \
    X(NoPorts)                                                                                     \
    X(InErrors) X(OutDatagrams) X(RcvbufErrors) X(SndbufErrors) X(InCsumErrors) X(IgnoredMulti)

#define US_TCP_MIB(X)                                                                              \
    X(ActiveOpens)                                                                                 \
    X(PassiveOpens)                                                                                \
    X(AttemptFails)                                                                                \
    X(EstabResets)                                                                                 \
    X(CurrEstab) X(InSegs) X(OutSegs) X(RetransSegs) X(InErrs) X(OutRsts) X(InCsumErrors)

/* /proc/net/netstat's TcpExt, Linux's names. */
// clang-format off
#define US_TCPEXT_MIB(X)                                                                           \
    X(SyncookiesSent)                                                                              \
    X(SyncookiesRecv)                                                                              \
    X(SyncookiesFailed)                                                                            \
    X(EmbryonicRsts)                                                                               \
    X(TW)                                                                                          \
    X(TWRecycled)                                                                                  \
    X(DelayedACKs)                                                                                 \
    X(ListenOverflows)                                                                             \
    X(ListenDrops)                                                                                 \
    X(TCPTimeouts)                                                                                 \
    X(TCPFastRetrans)                                                                              \
    X(TCPSlowStartRetrans)                                                                         \
    X(TCPSackRecovery)                                                                             \
    X(TCPRenoRecovery)                                                                             \
    X(TCPSynRetrans)                                                                               \
    X(TCPChallengeACK)                                                                             \
    X(TCPOFOQueue)                                                                                 \
    X(TCPOFODrop)                                                                                  \
    X(TCPAbortOnData)                                                                              \
    X(TCPAbortOnClose)                                                                             \
    X(TCPAbortOnTimeout)                                                                           \
    X(TCPTimeWaitOverflow)                                                                         \
    X(TCPKeepAlive)                                                                                \
    X(TCPPureAcks)                                                                                 \
    X(TCPHPAcks)                                                                                   \
    X(TCPWinProbe)                                                                                 \
    X(TCPZeroWindowDrop)                                                                           \
    X(TCPRcvQDrop)                                                                                 \
    X(PAWSEstab)                                                                                   \
    X(TCPDSACKRecv)                                                                                \
    X(TCPSACKReneging)                                                                             \
    X(TCPReqQFullDrop)                                                                             \
    X(TCPSpuriousRTOs)                                                                             \
    X(TCPLossProbes)                                                                               \
    X(TCPLossProbeRecovery)                                                                        \
    X(TCPLostRetransmit)                                                                           \
    X(TCPSACKReorder)                                                                              \
    X(TCPRackSegsExamined)  /* ustack's: records RACK looked at (work, not window) */              \
    X(TCPTimerConnsExamined) /* ustack's: connections the timer poll looked at */                  \
    X(TCPDSACKOldSent)                                                                             \
    X(TCPDSACKOfoSent)                                                                             \
    X(OutOfWindowIcmps)                                                                            \
    X(TCPACKSkippedChallenge)                                                                      \
    X(TCPACKSkippedSeq)                                                                            \
    X(TCPACKSkippedPAWS)                                                                           \
    X(TCPAbortOnMemory)                                                                            \
    X(TCPFullUndo)                                                                                 \
    X(TCPDSACKUndo)                                                                                \
    X(TCPLossUndo)
// clang-format on

/* Not in Linux's snmp file: ARP and neighbour-table figures (Linux shows
 * similar ones in `ip -s ntable`), and the receive path's rounds. */
#define US_ARP_MIB(X)                                                                              \
    X(InRequests)                                                                                  \
    X(InReplies)                                                                                   \
    X(InErrors)                                                                                    \
    X(OutRequests)                                                                                 \
    X(OutReplies) X(OutGratuitous) X(UnresolvedDiscards) X(ResolveFailures) X(CacheFull)

#define US_LINK_MIB(X)                                                                             \
    X(InFrames)                                                                                    \
    X(InErrors)                                                                                    \
    X(InOtherHost)                                                                                 \
    X(InUnknownEthertype)                                                                          \
    X(OutFrames) X(OutDrops) X(RxRounds) X(RxBudgetExhausted) X(PoolExhausted) X(Wakeups)          \
        X(WakeupsSpurious)

#define US_MIB_FIELD(name) uint64_t name;
struct us_ip_mib {
    US_IP_MIB(US_MIB_FIELD)
};
struct us_ipext_mib {
    US_IPEXT_MIB(US_MIB_FIELD)
};
struct us_icmp_mib {
    US_ICMP_MIB(US_MIB_FIELD)
};
struct us_udp_mib {
    US_UDP_MIB(US_MIB_FIELD)
};
struct us_tcp_mib {
    US_TCP_MIB(US_MIB_FIELD)
};
struct us_tcpext_mib {
    US_TCPEXT_MIB(US_MIB_FIELD)
};
struct us_arp_mib {
    US_ARP_MIB(US_MIB_FIELD)
};
struct us_link_mib {
    US_LINK_MIB(US_MIB_FIELD)
};
#undef US_MIB_FIELD

struct us_mib {
    struct us_ip_mib ip;
    struct us_ipext_mib ipext;
    struct us_icmp_mib icmp;
    struct us_udp_mib udp;
    struct us_tcp_mib tcp;
    struct us_tcpext_mib tcpext;
    struct us_arp_mib arp;
    struct us_link_mib link;
};

/* Looks a counter up by its nstat name ("IpReasmOKs", "UdpNoPorts", "IcmpInEchos", "TcpOutRsts",
 * "IpExtInOctets", "TcpExtTCPTimeouts", "ArpInRequests", "LinkRxRounds"); -1 if there is none. */
int64_t us_mib_get(const struct us_mib *m, const char *nstat_name);
/* Prints every counter as `nstat -a` does: "IpInReceives   42". Zero ones
 * are skipped unless all is true. */
void us_mib_print_nstat(const struct us_mib *m, FILE *out, int all);
/* Prints the counters grouped like `netstat -s`: "Ip:\n    42 total packets received". */
void us_mib_print_netstat(const struct us_mib *m, FILE *out);

#endif
