/* The socket table as `ss -uanm` prints it, and stream sockets as
 * `ss -tanim` does (state, queues, and the tcp_info line). */
#include "sock/sock.h"
#include "tcp/tcp.h"

const char *us_sock_fmt_endpoint(us_ip4 addr, uint16_t port, char *buf, size_t len)
{
    char a[16];
    if (port)
        snprintf(buf, len, "%s:%u", us_ip4_fmt(addr, a), port);
    else
        snprintf(buf, len, "%s:*", us_ip4_fmt(addr, a));
    return buf;
}

void us_sock_print_table(struct us_stack *s, FILE *out)
{
    fprintf(out, "%-6s %-6s %-6s %-21s %-21s\n", "State", "Recv-Q", "Send-Q", "Local Address:Port",
            "Peer Address:Port");
    for (int fd = 0; fd < s->socks->nfds; fd++) {
        const struct us_sock *sk = s->socks->fds[fd];
        if (!sk)
            continue;
        char local[32], peer[32];
        if (sk->type == US_SOCK_STREAM) {
            if (sk->tp) {
                us_tcp_print_sock(s, sk->tp, fd, out);
            } else {
                fprintf(out, "%-10s %-6u %-6u %-21s %-21s fd=%d\n", "UNCONN", 0u, 0u,
                        us_sock_fmt_endpoint(sk->rcv_saddr, sk->num, local, sizeof(local)),
                        us_sock_fmt_endpoint(sk->daddr, sk->dport, peer, sizeof(peer)), fd);
            }
            continue;
        }
        /* ss shows a UDP socket with a peer as ESTAB, any other as UNCONN. */
        fprintf(out, "%-6s %-6u %-6u %-21s %-21s fd=%d\n", sk->daddr ? "ESTAB" : "UNCONN",
                sk->rmem_alloc, 0u,
                us_sock_fmt_endpoint(sk->rcv_saddr, sk->num, local, sizeof(local)),
                us_sock_fmt_endpoint(sk->daddr, sk->dport, peer, sizeof(peer)), fd);
        /* skmem: r = rmem_alloc, rb = rcvbuf, t = wmem_alloc, tb = sndbuf,
         * d = drops (sk_drops), as in `ss -m`. */
        fprintf(out, "\t skmem:(r%u,rb%d,t%u,tb%d,f0,w0,o0,bl0,d%llu) queued %u datagrams\n",
                sk->rmem_alloc, sk->rcvbuf, sk->wmem_alloc, sk->sndbuf,
                (unsigned long long)sk->drops, sk->receive_queue.count);
    }
    /* Connections without a descriptor: closed but finishing (FIN_WAIT,
     * LAST_ACK, TIME_WAIT). */
    us_tcp_print_orphans(s, out);
}
