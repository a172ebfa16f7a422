/* lwip_tap: lwIP on a Linux TAP device, serving TCP echo (7), discard (9)
 * and chargen (19), the benchmark peer of `ustack tap --serve
 * echo,discard,chargen`.
 *
 * Built against Debian's liblwip-dev (2.1.3) exactly as shipped: its
 * /usr/include/lwip/lwipopts.h is the configuration the shared library was
 * compiled with, so this program uses the same one. Those settings are:
 *   TCP_MSS 1460, TCP_WND 0xFFFF (65535) with LWIP_WND_SCALE 1 and
 *   TCP_RCV_SCALE 1, TCP_SND_BUF = TCP_WND (65535), TCP_SND_QUEUELEN the
 *   default 4 * TCP_SND_BUF / TCP_MSS segments; MEM_LIBC_MALLOC and
 *   MEMP_MEM_MALLOC are 1, so the heap and the pools (MEM_SIZE,
 *   PBUF_POOL_SIZE) are malloc() and those two sizes bound nothing;
 *   LWIP_CHECKSUM_ON_COPY 1, LWIP_NETIF_TX_SINGLE_PBUF 1.
 * The program prints them as JSON on stdout at start.
 *
 * Shape: one thread, the raw (callback) API, like ustack's own event loop.
 * The library is built with NO_SYS 0, but we never start its tcpip thread:
 * lwip_init() and sys_check_timeouts() are driven from a poll() loop on the
 * TAP descriptor, so each frame goes from read() straight into
 * ethernet_input() with no thread hop. The TAP is opened with
 * IFF_TAP | IFF_NO_PI; one read() per frame, one write() per frame out. */
#define _GNU_SOURCE
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "../tap/tap_open.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int tap_fd = -1;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- the TAP netif ---- */

static err_t tap_linkoutput(struct netif *nif, struct pbuf *p)
{
    (void)nif;
    static uint8_t frame[2048];
    const void *data = p->payload;
    if (p->next) { /* LWIP_NETIF_TX_SINGLE_PBUF makes this rare */
        if (p->tot_len > sizeof(frame))
            return ERR_BUF;
        pbuf_copy_partial(p, frame, p->tot_len, 0);
        data = frame;
    }
    for (;;) {
        ssize_t n = write(tap_fd, data, p->tot_len);
        if (n >= 0)
            return ERR_OK;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) { /* tap queue full: wait, as a driver would */
            struct pollfd pf = {.fd = tap_fd, .events = POLLOUT};
            poll(&pf, 1, 10);
            continue;
        }
        return ERR_IF;
    }
}

static err_t tap_netif_init(struct netif *nif)
{
    nif->name[0] = 't';
    nif->name[1] = 'p';
    nif->output = etharp_output;
    nif->linkoutput = tap_linkoutput;
    nif->mtu = 1500;
    nif->hwaddr_len = 6;
    static const uint8_t mac[6] = {0x02, 0x00, 0x00, 0x00, 0x1e, 0x02};
    memcpy(nif->hwaddr, mac, 6);
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

/* ---- services ---- */

enum svc { SVC_ECHO, SVC_DISCARD, SVC_CHARGEN };

/* RFC 864's 95 lines of 72 characters + CRLF, laid out twice so that a
 * write of up to one cycle can start at any offset without wrapping. */
#define CHARGEN_LINE  74
#define CHARGEN_CYCLE (95 * CHARGEN_LINE)
static char chargen_buf[2 * CHARGEN_CYCLE];

static void chargen_init(void)
{
    for (int l = 0; l < 95; l++) {
        for (int i = 0; i < 72; i++)
            chargen_buf[l * CHARGEN_LINE + i] = (char)(' ' + (l + i) % 95);
        chargen_buf[l * CHARGEN_LINE + 72] = '\r';
        chargen_buf[l * CHARGEN_LINE + 73] = '\n';
    }
    memcpy(chargen_buf + CHARGEN_CYCLE, chargen_buf, CHARGEN_CYCLE);
}

struct conn {
    enum svc kind;
    size_t chargen_off; /* offset in the cycle of the next byte to send */
};

static void conn_close(struct tcp_pcb *pcb, struct conn *c)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    free(c);
    if (tcp_close(pcb) != ERR_OK)
        tcp_abort(pcb);
}

/* Fills the send buffer from the precomputed cycle; TCP_WRITE_FLAG_COPY
 * because lwIP keeps the data until it is acknowledged. */
static void chargen_push(struct tcp_pcb *pcb, struct conn *c)
{
    for (;;) {
        u16_t room = tcp_sndbuf(pcb);
        if (room < TCP_MSS && room < CHARGEN_CYCLE)
            break;
        u16_t len = room > CHARGEN_CYCLE ? CHARGEN_CYCLE : room;
        if (tcp_write(pcb, chargen_buf + c->chargen_off, len, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break; /* out of queue entries: the sent callback continues */
        c->chargen_off = (c->chargen_off + len) % CHARGEN_CYCLE;
    }
    tcp_output(pcb);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)len;
    struct conn *c = arg;
    if (c && c->kind == SVC_CHARGEN)
        chargen_push(pcb, c);
    return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct conn *c = arg;
    (void)err;
    if (!p) { /* FIN from the peer */
        conn_close(pcb, c);
        return ERR_OK;
    }
    if (c->kind == SVC_ECHO) {
        /* Echo what fits; lwIP re-delivers the pbuf later if we refuse it. */
        if (tcp_sndbuf(pcb) < p->tot_len)
            return ERR_MEM;
        for (struct pbuf *q = p; q; q = q->next)
            if (tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY) != ERR_OK)
                return ERR_MEM; /* rare: queue-length limit; nothing partial in practice */
        tcp_output(pcb);
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    (void)err;
    free(arg); /* the pcb is already gone */
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return ERR_MEM;
    c->kind = (enum svc)(intptr_t)arg;
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_nagle_disable(pcb); /* echo answers at once, as ustack's does */
    if (c->kind == SVC_CHARGEN)
        chargen_push(pcb, c);
    return ERR_OK;
}

static int listen_on(u16_t port, enum svc kind)
{
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb || tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK)
        return -1;
    pcb = tcp_listen(pcb);
    if (!pcb)
        return -1;
    tcp_arg(pcb, (void *)(intptr_t)kind);
    tcp_accept(pcb, on_accept);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lwip_tap DEV A.B.C.D\n"
                        "  serves TCP echo (7), discard (9), chargen (19) on TAP device DEV\n"
                        "  (which must exist), address A.B.C.D/24, until SIGTERM or SIGINT\n");
        return 2;
    }
    ip4_addr_t addr, mask, gw;
    if (!ip4addr_aton(argv[2], &addr)) {
        fprintf(stderr, "lwip_tap: bad address %s\n", argv[2]);
        return 2;
    }
    IP4_ADDR(&mask, 255, 255, 255, 0);
    ip4_addr_set_zero(&gw);
    tap_fd = tap_open(argv[1], O_NONBLOCK);
    if (tap_fd < 0) {
        perror("lwip_tap: open tap");
        return 1;
    }
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    chargen_init();

    lwip_init();
    static struct netif nif;
    if (!netif_add(&nif, &addr, &mask, &gw, NULL, tap_netif_init, ethernet_input)) {
        fprintf(stderr, "lwip_tap: netif_add failed\n");
        return 1;
    }
    netif_set_default(&nif);
    netif_set_link_up(&nif);
    netif_set_up(&nif);
    if (listen_on(7, SVC_ECHO) || listen_on(9, SVC_DISCARD) || listen_on(19, SVC_CHARGEN)) {
        fprintf(stderr, "lwip_tap: listen failed\n");
        return 1;
    }
    printf("{\"peer\":\"lwip\",\"version\":\"%s\",\"TCP_MSS\":%d,\"TCP_WND\":%d,"
           "\"LWIP_WND_SCALE\":%d,\"TCP_RCV_SCALE\":%d,\"TCP_SND_BUF\":%d,"
           "\"TCP_SND_QUEUELEN\":%d,\"MEM_LIBC_MALLOC\":%d,\"MEMP_MEM_MALLOC\":%d,"
           "\"MEM_SIZE\":%d,\"PBUF_POOL_SIZE\":%d,\"heap_and_pools\":\"malloc\","
           "\"api\":\"raw, one thread\"}\n",
           LWIP_VERSION_STRING, TCP_MSS, TCP_WND, LWIP_WND_SCALE, TCP_RCV_SCALE, TCP_SND_BUF,
           TCP_SND_QUEUELEN, MEM_LIBC_MALLOC, MEMP_MEM_MALLOC, MEM_SIZE, PBUF_POOL_SIZE);
    fprintf(stderr, "lwip_tap: up, %s on %s\n", argv[2], argv[1]);
    fflush(stdout);

    struct pbuf *p = NULL; /* the next frame is read straight into it */
    while (!stop) {
        u32_t sleep_ms = sys_timeouts_sleeptime();
        struct pollfd pf = {.fd = tap_fd, .events = POLLIN};
        int r = poll(&pf, 1, sleep_ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? 1000 : (int)sleep_ms);
        if (r < 0 && errno != EINTR) {
            perror("lwip_tap: poll");
            return 1;
        }
        /* Drain what the kernel has queued, one frame per read() (all TAP
         * offers), then run the timers once. The frame is read straight
         * into a PBUF_RAM pbuf (one malloc). Not PBUF_POOL: Debian's
         * liblwip0 2.1.3 hands out pool pbufs claiming len 1514 in a
         * 616-byte malloc (its pool size disagrees with its pbuf code), so
         * reading a full frame into one overruns the heap. */
        for (int budget = 256; budget > 0; budget--) {
            if (!p && !(p = pbuf_alloc(PBUF_RAW, 1514, PBUF_RAM)))
                break;
            ssize_t n = read(tap_fd, p->payload, p->len);
            if (n <= 0)
                break;
            pbuf_realloc(p, (u16_t)n);
            if (nif.input(p, &nif) != ERR_OK)
                pbuf_free(p);
            p = NULL;
        }
        sys_check_timeouts();
    }
    fprintf(stderr, "lwip_tap: stopped\n");
    return 0;
}
