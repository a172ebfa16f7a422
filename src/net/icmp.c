/* ICMP (RFC 792, RFC 1122 §3.2.2): echo replies, the errors this host
 * sends, and delivery of everything else to the application's handler. */
#include "net/ip.h"

#include <errno.h>
#include <string.h>

/* Linux caps an ICMP error at 576 bytes of IP datagram (RFC 1812 §4.3.2.3). */
#define US_ICMP_ERROR_MAX 576

static void count_in_type(struct us_stack *s, uint8_t type)
{
    struct us_icmp_mib *m = &s->mib.icmp;
    switch (type) {
    case US_ICMP_DEST_UNREACH:
        m->InDestUnreachs++;
        break;
    case US_ICMP_TIME_EXCEEDED:
        m->InTimeExcds++;
        break;
    case US_ICMP_PARAMETERPROB:
        m->InParmProbs++;
        break;
    case US_ICMP_SOURCE_QUENCH:
        m->InSrcQuenchs++;
        break;
    case US_ICMP_REDIRECT:
        m->InRedirects++;
        break;
    case US_ICMP_ECHO:
        m->InEchos++;
        break;
    case US_ICMP_ECHOREPLY:
        m->InEchoReps++;
        break;
    case US_ICMP_TIMESTAMP:
        m->InTimestamps++;
        break;
    case US_ICMP_TIMESTAMPREPLY:
        m->InTimestampReps++;
        break;
    default:
        break;
    }
}

static void count_out_type(struct us_stack *s, uint8_t type)
{
    struct us_icmp_mib *m = &s->mib.icmp;
    m->OutMsgs++;
    switch (type) {
    case US_ICMP_DEST_UNREACH:
        m->OutDestUnreachs++;
        break;
    case US_ICMP_TIME_EXCEEDED:
        m->OutTimeExcds++;
        break;
    case US_ICMP_PARAMETERPROB:
        m->OutParmProbs++;
        break;
    case US_ICMP_ECHO:
        m->OutEchos++;
        break;
    case US_ICMP_ECHOREPLY:
        m->OutEchoReps++;
        break;
    default:
        break;
    }
}

static bool is_error_type(uint8_t type)
{
    return type == US_ICMP_DEST_UNREACH || type == US_ICMP_SOURCE_QUENCH ||
           type == US_ICMP_REDIRECT || type == US_ICMP_TIME_EXCEEDED ||
           type == US_ICMP_PARAMETERPROB;
}

static int icmp_send(struct us_stack *s, struct us_pkt *msg, us_ip4 src, us_ip4 dst, uint8_t type,
                     uint8_t code, uint32_t rest, const struct us_ip_send_opts *opts)
{
    us_icmp_emit(msg->data, msg->len, type, code, rest);
    count_out_type(s, type);
    int err = us_ipv4_output(s, msg, src, dst, US_IPPROTO_ICMP, opts);
    if (err)
        s->mib.icmp.OutErrors++;
    return err;
}

static void echo_reply(struct us_stack *s, struct us_pkt *req, const struct us_ipv4_view *ip,
                       const struct us_icmp_view *icmp, bool to_broadcast)
{
    if (s->sysctl.icmp_echo_ignore_all || (to_broadcast && s->sysctl.icmp_echo_ignore_broadcasts))
        return;
    size_t len = US_ICMP_HLEN + icmp->payload_len;
    struct us_pkt *reply = us_stack_pkt_alloc(s, len + US_IPV4_HLEN + US_ETH_HLEN);
    if (!reply) {
        s->mib.icmp.OutErrors++;
        return;
    }
    memcpy(us_pkt_put(reply, (uint32_t)len) + US_ICMP_HLEN, icmp->payload, icmp->payload_len);
    /* Reply from the address the request was sent to, unless that was a
     * broadcast (RFC 1122 §3.2.2.6); keep its TOS. */
    struct us_ip_send_opts o = {.tos = ip->tos};
    us_ip4 src = to_broadcast ? 0 : ip->dst;
    icmp_send(s, reply, src, ip->src, US_ICMP_ECHOREPLY, 0, icmp->rest, &o);
    (void)req;
}

/* Linux's icmp_err_convert (net/ipv4/icmp.c): the errno of each destination
 * unreachable code and whether it is fatal ("hard"). */
static const struct {
    int err;
    bool fatal;
} icmp_err_convert[] = {
    {ENETUNREACH, false},  /* NET_UNREACH */
    {EHOSTUNREACH, false}, /* HOST_UNREACH */
    {ENOPROTOOPT, true},   /* PROT_UNREACH */
    {ECONNREFUSED, true},  /* PORT_UNREACH */
    {EMSGSIZE, false},     /* FRAG_NEEDED */
    {EOPNOTSUPP, false},   /* SR_FAILED */
    {ENETUNREACH, true},   /* NET_UNKNOWN */
    {EHOSTDOWN, true},     /* HOST_UNKNOWN */
    {ENONET, true},        /* HOST_ISOLATED */
    {ENETUNREACH, true},   /* NET_ANO */
    {EHOSTUNREACH, true},  /* HOST_ANO */
    {ENETUNREACH, false},  /* NET_UNR_TOS */
    {EHOSTUNREACH, false}, /* HOST_UNR_TOS */
    {EHOSTUNREACH, true},  /* PKT_FILTERED */
    {EHOSTUNREACH, true},  /* PREC_VIOLATION */
    {EHOSTUNREACH, true},  /* PREC_CUTOFF */
};

int us_icmp_unreach_errno(uint8_t code, bool *fatal)
{
    if (code >= sizeof(icmp_err_convert) / sizeof(icmp_err_convert[0])) {
        *fatal = false;
        return 0;
    }
    *fatal = icmp_err_convert[code].fatal;
    return icmp_err_convert[code].err;
}

void us_icmp_input(struct us_stack *s, struct us_pkt *pkt, const struct us_ipv4_view *ip)
{
    struct us_icmp_view icmp;
    s->mib.icmp.InMsgs++;
    int err = us_icmp_parse(ip->payload, ip->payload_len, &icmp);
    if (err) {
        if (err == US_WIRE_BAD_CSUM)
            s->mib.icmp.InCsumErrors++;
        s->mib.icmp.InErrors++;
        us_pkt_free(pkt);
        return;
    }
    count_in_type(s, icmp.type);
    struct us_iface *ifc = &s->ifaces[pkt->ifindex];
    bool to_broadcast = us_ipv4_is_broadcast(ifc, ip->dst) || us_ip4_is_multicast(ip->dst);
    /* icmp_unreach: hand the error to the transport of the quoted datagram
     * (its err_handler), which tells the socket it concerns. */
    struct us_ipv4_view quoted;
    if (icmp.type == US_ICMP_DEST_UNREACH &&
        us_ipv4_parse_quoted(icmp.payload, icmp.payload_len, &quoted) == US_WIRE_OK &&
        quoted.proto == US_IPPROTO_UDP)
        us_udp_err(s, &icmp, &quoted);
    if (icmp.type == US_ICMP_DEST_UNREACH &&
        us_ipv4_parse_quoted(icmp.payload, icmp.payload_len, &quoted) == US_WIRE_OK &&
        quoted.proto == US_IPPROTO_TCP)
        us_tcp_err(s, &icmp, &quoted);
    if (icmp.type == US_ICMP_ECHO && icmp.code == 0)
        echo_reply(s, pkt, ip, &icmp, to_broadcast);
    else if (s->icmp_rx)
        s->icmp_rx(s->icmp_rx_ctx, ip, &icmp, s->now);
    us_pkt_free(pkt);
}

/* Linux's icmp_global_allow: a token bucket of icmp_msgs_per_sec, at most
 * icmp_msgs_burst deep. */
static bool icmp_rate_allow(struct us_stack *s)
{
    uint64_t rate = (uint64_t)s->sysctl.icmp_msgs_per_sec;
    if (rate == 0)
        return true;
    us_time_ns now = s->now;
    uint64_t earned = (now - s->icmp_tokens_at) * rate / US_NS_PER_SEC;
    if (earned) {
        uint64_t t = s->icmp_tokens + earned;
        s->icmp_tokens =
            (uint32_t)(t > (uint64_t)s->sysctl.icmp_msgs_burst ? (uint64_t)s->sysctl.icmp_msgs_burst
                                                               : t);
        s->icmp_tokens_at = now;
    }
    if (s->icmp_tokens == 0)
        return false;
    s->icmp_tokens--;
    return true;
}

void us_icmp_send_error(struct us_stack *s, const struct us_pkt *orig, uint8_t type, uint8_t code,
                        uint32_t rest)
{
    struct us_ipv4_view ip;
    if (us_ipv4_parse(orig->data, orig->len, &ip) != US_WIRE_OK)
        return;
    /* RFC 1122 §3.2.2: no error about a non-first fragment, a datagram to a
     * broadcast or multicast address (IP or link layer), or from a source
     * that names no single host; and never an error about an ICMP error. */
    if (orig->pkt_type != US_PKT_HOST || ip.frag_off != 0 || us_ip4_is_multicast(ip.dst) ||
        ip.src == 0 || us_ip4_is_multicast(ip.src) || ip.src == US_IP4_BROADCAST)
        return;
    for (int i = 0; i < s->n_ifaces; i++)
        if (us_ipv4_is_broadcast(&s->ifaces[i], ip.dst) ||
            us_ipv4_is_broadcast(&s->ifaces[i], ip.src))
            return;
    if (ip.proto == US_IPPROTO_ICMP) {
        if (ip.payload_len < 1 || is_error_type(ip.payload[0]))
            return;
    }
    if (!icmp_rate_allow(s)) {
        s->mib.icmp.OutRateLimited++;
        return;
    }
    size_t quote = ip.total_len;
    if (quote > US_ICMP_ERROR_MAX - US_IPV4_HLEN - US_ICMP_HLEN)
        quote = US_ICMP_ERROR_MAX - US_IPV4_HLEN - US_ICMP_HLEN;
    struct us_pkt *msg = us_stack_pkt_alloc(s, US_ICMP_ERROR_MAX);
    if (!msg) {
        s->mib.icmp.OutErrors++;
        return;
    }
    memcpy(us_pkt_put(msg, (uint32_t)(US_ICMP_HLEN + quote)) + US_ICMP_HLEN, orig->data, quote);
    /* Answer from the address the datagram was for when it is ours; the
     * routing of the reply picks one otherwise. Precedence "internetwork
     * control" as Linux sets it. */
    us_ip4 src = us_iface_by_addr(s, ip.dst) ? ip.dst : 0;
    struct us_ip_send_opts o = {.tos = (uint8_t)((ip.tos & 0x1e) | 0xc0)};
    icmp_send(s, msg, src, ip.src, type, code, rest, &o);
}

void us_icmp_set_rx_handler(struct us_stack *s, us_icmp_rx_fn fn, void *ctx)
{
    s->icmp_rx = fn;
    s->icmp_rx_ctx = ctx;
}

int us_icmp_echo_send(struct us_stack *s, us_ip4 dst, uint16_t id, uint16_t seq,
                      const void *payload, size_t len, const struct us_ip_send_opts *opts,
                      us_time_ns now)
{
    if (len > 65535 - US_IPV4_HLEN - US_ICMP_HLEN)
        return -EMSGSIZE;
    s->now = now;
    struct us_pkt *msg = us_stack_pkt_alloc(s, US_ICMP_HLEN + len + US_IPV4_HLEN + US_ETH_HLEN);
    if (!msg)
        return -ENOBUFS;
    uint8_t *m = us_pkt_put(msg, (uint32_t)(US_ICMP_HLEN + len));
    if (len)
        memcpy(m + US_ICMP_HLEN, payload, len);
    int err = icmp_send(s, msg, 0, dst, US_ICMP_ECHO, 0, (uint32_t)id << 16 | seq, opts);
    us_iface_flush(s);
    return err;
}
