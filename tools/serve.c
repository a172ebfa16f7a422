/* Parsing `--serve` and starting the services it names. */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    uint16_t default_port;
} services[] = {
    {"udp-echo", 7},
    {"udp-discard", 9},
};

int serve_start(struct us_stack *s, const char *spec, struct serve_set *set)
{
    char *copy = strdup(spec), *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (colon)
            *colon = '\0';
        size_t i;
        for (i = 0; i < sizeof(services) / sizeof(services[0]); i++)
            if (strcmp(item, services[i].name) == 0)
                break;
        if (i == sizeof(services) / sizeof(services[0])) {
            fprintf(stderr, "ustack: unknown service '%s' (known: udp-echo, udp-discard)\n", item);
            rc = -1;
            break;
        }
        long port = services[i].default_port;
        if (colon) {
            char *end;
            port = strtol(colon + 1, &end, 10);
            if (*end || end == colon + 1 || port < 1 || port > 65535) {
                fprintf(stderr, "ustack: bad port '%s' for %s\n", colon + 1, item);
                rc = -1;
                break;
            }
        }
        if (set->n_udp == SERVE_MAX) {
            fprintf(stderr, "ustack: at most %d services\n", SERVE_MAX);
            rc = -1;
            break;
        }
        int err = 0;
        struct udp_service *svc = serve_udp(s, item, (uint16_t)port, &err);
        if (!svc) {
            fprintf(stderr, "ustack: cannot start %s on port %ld: %s\n", item, port,
                    strerror(-err));
            rc = -1;
        } else {
            set->udp[set->n_udp++] = svc;
            printf("ustack: serving %s on port %ld\n", item, port);
        }
    }
    free(copy);
    return rc;
}

void serve_stop(struct us_stack *s, struct serve_set *set)
{
    for (int i = 0; i < set->n_udp; i++)
        serve_udp_free(s, set->udp[i]);
    set->n_udp = 0;
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
