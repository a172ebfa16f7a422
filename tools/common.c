#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int cli_parse_prob(const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0.0 && v <= 1.0)) {
        fprintf(stderr, "ustack: %s expects a probability between 0 and 1, got '%s'\n", opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *arg, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 0);
    if (errno || end == arg || *end || arg[0] == '-') {
        fprintf(stderr, "ustack: %s expects a non-negative integer, got '%s'\n", opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}
