/* The subcommands of the `ustack` tool and what they share. */
#ifndef USTACK_TOOLS_CLI_H
#define USTACK_TOOLS_CLI_H

#include "ustack/dev.h"
#include "ustack/stack.h"

int cli_tap(int argc, char **argv);
int cli_sim(int argc, char **argv);
int cli_nc(int argc, char **argv);

/* Options shared by commands that wrap a device in the fault injector. */
struct cli_fault_opts {
    struct us_fault_config cfg;
    bool any;
};
/* Parses a probability in [0, 1]; 0 or -1 with a message on stderr. */
int cli_parse_prob(const char *opt, const char *arg, double *out);
/* Parses an unsigned integer; 0 or -1 with a message on stderr. */
int cli_parse_u64(const char *opt, const char *arg, uint64_t *out);

#endif
