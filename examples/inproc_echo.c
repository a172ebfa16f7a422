/* Two stacks in one process, joined by the in-memory wire, on a virtual
 * clock: a TCP client sends a message to an echo server and checks that the
 * same bytes come back. No TAP, no root, no real time: it runs the same way
 * every time. Exits 0 when the echo matched, 1 otherwise.
 *
 *   client 192.0.2.1 ---- us_wire ---- 192.0.2.2 server, port 7
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ustack/socket.h"
#include "ustack/stack.h"

#define CLIENT_IP US_IP4(192, 0, 2, 1)
#define SERVER_IP US_IP4(192, 0, 2, 2)
#define ECHO_PORT 7

static int fail(const char *what, int err)
{
    fprintf(stderr, "inproc_echo: %s: %s\n", what, strerror(-err));
    return 1;
}

int main(void)
{
    /* The wire: 1500-byte MTU, 50 µs one way. Each stack gets a port on it. */
    struct us_wire_config wc = {.mtu = 1500, .latency = 50 * 1000};
    struct us_wire *wire = us_wire_new(&wc);
    struct us_stack *client = us_stack_new(&(struct us_stack_config){.name = "client"});
    struct us_stack *server = us_stack_new(&(struct us_stack_config){.name = "server"});
    if (!wire || !client || !server)
        return fail("setting up", -ENOMEM);
    us_time_ns now = 0; /* virtual time, advanced by us_sim_run */
    int rc = us_iface_add(client, us_wire_port_new(wire, "c0"), CLIENT_IP, 24, now);
    if (rc < 0)
        return fail("client interface", rc);
    rc = us_iface_add(server, us_wire_port_new(wire, "s0"), SERVER_IP, 24, now);
    if (rc < 0)
        return fail("server interface", rc);
    struct us_stack *stacks[] = {client, server};

    /* The server: socket, bind, listen, as with BSD sockets (addresses and
     * ports in host byte order, errors as negative errno). */
    int lfd = us_socket(server, US_SOCK_STREAM);
    struct us_sockaddr_in any = {.addr = US_IP4_ANY, .port = ECHO_PORT};
    if ((rc = us_bind(server, lfd, &any)) < 0 || (rc = us_listen(server, lfd, 8)) < 0)
        return fail("server listen", rc);

    /* The client connects; the handshake completes as the stacks run. */
    int cfd = us_socket(client, US_SOCK_STREAM);
    struct us_sockaddr_in to = {.addr = SERVER_IP, .port = ECHO_PORT};
    rc = us_connect(client, cfd, &to);
    if (rc != -EINPROGRESS)
        return fail("connect", rc);

    const char msg[] = "hello from one ustack to another";
    char echoed[sizeof(msg)] = {0};
    size_t sent = 0, got = 0;
    int sfd = -1; /* the server's side of the connection, once accepted */

    /* The event loop: run both stacks for 1 ms of virtual time, then let each
     * side do what its sockets are ready for. Calls never block. */
    for (int round = 0; round < 5000 && got < sizeof(msg); round++) {
        us_sim_run(stacks, 2, &now, now + US_NS_PER_MS);

        if (sfd < 0) {
            struct us_sockaddr_in peer;
            sfd = us_accept(server, lfd, &peer); /* -EAGAIN until a connection is ready */
        }
        if (sfd >= 0) { /* echo: send back whatever arrived */
            char buf[256];
            int n = us_recv(server, sfd, buf, sizeof(buf), 0);
            if (n > 0 && us_send(server, sfd, buf, (size_t)n, 0, now) != n)
                return fail("server send", -EIO);
        }
        int ev = us_sock_poll_events(client, cfd);
        if ((ev & US_POLLOUT) && sent < sizeof(msg)) {
            int n = us_send(client, cfd, msg + sent, sizeof(msg) - sent, 0, now);
            if (n < 0 && n != -EAGAIN)
                return fail("client send", n);
            if (n > 0)
                sent += (size_t)n;
        }
        if (ev & US_POLLERR) {
            int err = 0;
            size_t len = sizeof(err);
            us_getsockopt(client, cfd, US_SOL_SOCKET, US_SO_ERROR, &err, &len);
            return fail("connection", -err);
        }
        int n = us_recv(client, cfd, echoed + got, sizeof(echoed) - got, 0);
        if (n > 0)
            got += (size_t)n;
    }

    int ok = got == sizeof(msg) && memcmp(msg, echoed, sizeof(msg)) == 0;
    printf("sent %zu bytes, echoed %zu bytes: %s (%.3f ms of virtual time)\n", sent, got,
           ok ? "match" : "MISMATCH", (double)now / 1e6);

    /* Close both ends, let the FINs go out, and free everything. */
    us_close(client, cfd);
    if (sfd >= 0)
        us_close(server, sfd);
    us_close(server, lfd);
    us_sim_run(stacks, 2, &now, now + US_NS_PER_SEC);
    us_stack_free(client);
    us_stack_free(server);
    us_wire_free(wire);
    return ok ? 0 : 1;
}
