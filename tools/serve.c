/* Parsing `--serve` and starting the services it names. */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum proto { P_UDP, P_TCP };

static const struct {
    const char *name;
    enum proto proto;
    int kind; /* enum tcp_service_kind for TCP */
    uint16_t default_port;
} services[] = {
    {"echo", P_TCP, TCP_ECHO, 7},        {"discard", P_TCP, TCP_DISCARD, 9},
    {"chargen", P_TCP, TCP_CHARGEN, 19}, {"http", P_TCP, TCP_HTTP, 80},
    {"udp-echo", P_UDP, 0, 7},           {"udp-discard", P_UDP, 0, 9},
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

/* Splits "name[=DIR][:PORT]": the port is what follows the last colon when
 * it is all digits (a directory may hold colons). */
static int parse_item(char *item, char **dir, long *port)
{
    *dir = NULL;
    char *colon = strrchr(item, ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
        *port = strtol(colon + 1, NULL, 10);
        *colon = '\0';
        if (*port < 1 || *port > 65535)
            return -1;
    } else if (colon && colon[1] == '\0') {
        return -1;
    } else if (colon && !strchr(item, '=')) {
        return -1; /* "echo:x" */
    }
    char *eq = strchr(item, '=');
    if (eq) {
        *eq = '\0';
        *dir = eq + 1;
    }
    return 0;
}

int serve_start(struct us_stack *s, const char *spec, struct serve_set *set)
{
    char *copy = strdup(spec), *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *dir;
        long port = -1;
        char *orig = strdup(item);
        if (parse_item(item, &dir, &port) != 0) {
            fprintf(stderr, "ustack: bad port in '%s'\n", orig);
            free(orig);
            rc = -1;
            break;
        }
        free(orig);
        size_t i;
        for (i = 0; i < N_SERVICES; i++)
            if (strcmp(item, services[i].name) == 0)
                break;
        if (i == N_SERVICES) {
            fprintf(stderr,
                    "ustack: unknown service '%s' (known: echo, discard, chargen, http=DIR, "
                    "udp-echo, udp-discard)\n",
                    item);
            rc = -1;
            break;
        }
        if ((services[i].kind == TCP_HTTP && services[i].proto == P_TCP) != (dir != NULL)) {
            fprintf(stderr,
                    dir ? "ustack: %s takes no directory\n"
                        : "ustack: %s needs a directory: http=DIR[:PORT]\n",
                    item);
            rc = -1;
            break;
        }
        if (port < 0)
            port = services[i].default_port;
        if ((services[i].proto == P_UDP ? set->n_udp : set->n_tcp) == SERVE_MAX) {
            fprintf(stderr, "ustack: at most %d services of a kind\n", SERVE_MAX);
            rc = -1;
            break;
        }
        int err = 0;
        bool ok;
        if (services[i].proto == P_UDP) {
            struct udp_service *u = serve_udp(s, item, (uint16_t)port, &err);
            if ((ok = u != NULL))
                set->udp[set->n_udp++] = u;
        } else {
            struct tcp_service *t =
                serve_tcp(s, (enum tcp_service_kind)services[i].kind, (uint16_t)port, dir, &err);
            if ((ok = t != NULL))
                set->tcp[set->n_tcp++] = t;
        }
        if (!ok) {
            fprintf(stderr, "ustack: cannot start %s on port %ld: %s%s%s\n", item, port,
                    strerror(-err), dir ? " " : "", dir ? dir : "");
            rc = -1;
        } else {
            printf("ustack: serving %s on %s port %ld%s%s\n", item,
                   services[i].proto == P_UDP ? "UDP" : "TCP", port, dir ? " from " : "",
                   dir ? dir : "");
        }
    }
    free(copy);
    return rc;
}

void serve_stop(struct us_stack *s, struct serve_set *set)
{
    for (int i = 0; i < set->n_udp; i++)
        serve_udp_free(s, set->udp[i]);
    for (int i = 0; i < set->n_tcp; i++)
        serve_tcp_free(set->tcp[i]);
    set->n_udp = set->n_tcp = 0;
}

int serve_join(struct us_stack *s, struct serve_set *set, us_ip4 group)
{
    for (int i = 0; i < set->n_udp; i++) {
        int rc = serve_udp_join(s, set->udp[i], group);
        if (rc < 0)
            return rc;
    }
    return 0;
}
