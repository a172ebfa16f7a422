/* A small static-file HTTP/1.1 server (RFC 9110 semantics, RFC 9112
 * messages): GET and HEAD of regular files under the document root, with
 * Content-Length, persistent connections (HTTP/1.1's default, "Connection:
 * close" to end one; HTTP/1.0 only with "Connection: keep-alive"), 404 for
 * what is not there, 405 for other methods, 400 for requests it cannot
 * parse. Enough for curl, wrk and ab. */
#include "serve_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int http_conn_init(struct tcp_conn *c)
{
    c->http = calloc(1, sizeof(*c->http));
    c->out = malloc(TCP_CONN_BUF);
    if (!c->http || !c->out)
        return -1;
    c->http->file_fd = -1;
    return 0;
}

void http_conn_release(struct tcp_conn *c)
{
    if (!c->http)
        return;
    if (c->http->file_fd >= 0)
        close(c->http->file_fd);
    c->http->file_fd = -1;
}

static void respond(struct tcp_conn *c, int status, const char *reason, off_t length,
                    bool keep_alive, const char *extra)
{
    c->out_len = (size_t)snprintf((char *)c->out, TCP_CONN_BUF,
                                  "HTTP/1.1 %d %s\r\n"
                                  "Server: ustack\r\n"
                                  "Content-Length: %lld\r\n"
                                  "Content-Type: %s\r\n"
                                  "%s"
                                  "Connection: %s\r\n"
                                  "\r\n",
                                  status, reason, (long long)length,
                                  status == 200 ? "application/octet-stream" : "text/plain",
                                  extra ? extra : "", keep_alive ? "keep-alive" : "close");
    c->out_off = 0;
    c->http->keep_alive = keep_alive;
}

/* An error answer whose short body says what went wrong. */
static void respond_error(struct tcp_conn *c, int status, const char *reason, bool keep_alive,
                          const char *extra)
{
    respond(c, status, reason, (off_t)strlen(reason) + 1, keep_alive, extra);
    size_t n = strlen(reason);
    memcpy(c->out + c->out_len, reason, n);
    c->out[c->out_len + n] = '\n';
    c->out_len += n + 1;
}

/* A path we serve: absolute, no "..", no NUL, no backslash games. The
 * query string is ignored; "/" means index.html. */
static bool path_ok(const char *target, char *rel, size_t cap)
{
    if (target[0] != '/')
        return false;
    size_t len = strcspn(target, "?#");
    const char *p = target + 1;
    len--;
    if (len == 0) {
        snprintf(rel, cap, "index.html");
        return true;
    }
    if (len >= cap)
        return false;
    memcpy(rel, p, len);
    rel[len] = '\0';
    for (char *seg = rel; seg;) {
        char *slash = strchr(seg, '/');
        size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((sl == 2 && seg[0] == '.' && seg[1] == '.') || (sl == 0 && slash))
            return false;
        seg = slash ? slash + 1 : NULL;
    }
    return true;
}

/* Whether the header block (after the request line) has "Name: value"
 * for this name, case-insensitively, with a value containing token. */
static bool header_has(const char *headers, const char *name, const char *token)
{
    size_t nl = strlen(name);
    for (const char *line = headers; line && *line;) {
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *end = strstr(line, "\r\n");
            size_t vl = end ? (size_t)(end - line) : strlen(line);
            char value[256];
            snprintf(value, sizeof(value), "%.*s", (int)vl, line);
            for (char *v = value; *v; v++)
                if (*v >= 'A' && *v <= 'Z')
                    *v = (char)(*v - 'A' + 'a');
            return strstr(value + nl + 1, token) != NULL;
        }
        line = strstr(line, "\r\n");
        if (line)
            line += 2;
    }
    return false;
}

/* Handles the request in req[0..hdr_end) and leaves its response in out. */
static void handle_request(struct tcp_conn *c, char *req)
{
    char method[16], target[2048], version[16];
    char *line_end = strstr(req, "\r\n");
    *line_end = '\0';
    const char *headers = line_end + 2;
    if (sscanf(req, "%15s %2047s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0 || (version[7] != '0' && version[7] != '1') ||
        version[8] != '\0') {
        respond_error(c, 400, "Bad Request", false, NULL);
        return;
    }
    bool http11 = version[7] == '1';
    bool keep_alive = http11 ? !header_has(headers, "Connection", "close")
                             : header_has(headers, "Connection", "keep-alive");
    if (http11 && !header_has(headers, "Host", "")) {
        /* RFC 9112 §3.2: a 1.1 request without Host gets 400. */
        respond_error(c, 400, "Bad Request", false, NULL);
        return;
    }
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        respond_error(c, 405, "Method Not Allowed", keep_alive, "Allow: GET, HEAD\r\n");
        return;
    }
    char rel[2048];
    if (!path_ok(target, rel, sizeof(rel))) {
        respond_error(c, 400, "Bad Request", false, NULL);
        return;
    }
    int fd = openat(c->svc->dir_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        respond_error(c, 404, "Not Found", keep_alive, NULL);
        return;
    }
    respond(c, 200, "OK", st.st_size, keep_alive, NULL);
    if (head || st.st_size == 0) {
        close(fd);
        return;
    }
    /* A body that fits goes out with the header in one send: two small
     * writes would meet Nagle's algorithm and the client's delayed ACK
     * (RFC 9293 §3.7.4), costing a delayed-ACK timeout per response. */
    if ((size_t)st.st_size <= TCP_CONN_BUF - c->out_len) {
        ssize_t n = pread(fd, c->out + c->out_len, (size_t)st.st_size, 0);
        close(fd);
        if (n != st.st_size) {
            c->out_len = 0;
            respond_error(c, 500, "Internal Server Error", false, NULL);
            return;
        }
        c->out_len += (size_t)n;
        return;
    }
    c->http->file_fd = fd;
    c->http->file_off = 0;
    c->http->file_end = st.st_size;
}

/* Refills out from the file being sent; false at its end. */
static bool body_refill(struct tcp_conn *c)
{
    struct http_state *h = c->http;
    if (h->file_fd < 0)
        return false;
    if (h->file_off >= h->file_end) {
        http_conn_release(c);
        return false;
    }
    ssize_t n = pread(h->file_fd, c->out, TCP_CONN_BUF, h->file_off);
    if (n <= 0) {
        http_conn_release(c); /* the file shrank under us: the client sees a short body */
        return false;
    }
    h->file_off += n;
    c->out_len = (size_t)n;
    c->out_off = 0;
    return true;
}

void http_pump(struct tcp_conn *c)
{
    struct http_state *h = c->http;
    for (;;) {
        int f = tcp_conn_flush(c);
        if (f < 0)
            goto close;
        if (f == 0)
            return; /* the send buffer is full: POLLOUT brings us back */
        if (body_refill(c))
            continue;
        if (h->responding) {
            /* A response is complete. */
            h->responding = false;
            if (!h->keep_alive)
                goto close;
        }
        char *end = h->req_len ? memmem(h->req, h->req_len, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t used = (size_t)(end - h->req) + 4;
            h->req[used - 1] = '\0'; /* the request as a string, ending "\r\n\r" */
            handle_request(c, h->req);
            h->responding = true;
            memmove(h->req, h->req + used, h->req_len - used);
            h->req_len -= used;
            continue;
        }
        if (h->req_len == sizeof(h->req)) {
            respond_error(c, 400, "Bad Request", false, NULL); /* header block too large */
            h->responding = true;
            h->req_len = 0;
            continue;
        }
        int n = us_recv(c->svc->s, c->fd, h->req + h->req_len, sizeof(h->req) - h->req_len, 0);
        if (n == -EAGAIN)
            return;
        if (n <= 0)
            goto close; /* end of stream (or a reset) between requests */
        h->req_len += (size_t)n;
    }
close:
    tcp_conn_close(c);
}
