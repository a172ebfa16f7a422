/* The `ustack` command line: `ustack tap ...` runs the stack on a Linux TAP
 * device; `ustack sim ...` runs the demo on the simulated wire. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: ustack <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  sim    the demo: two stacks in this process over a simulated wire\n"
                 "  tap    run the stack on a Linux TAP device until SIGINT/SIGTERM\n"
                 "  nc     netcat over ustack on a TAP device (TCP client or -l listener)\n"
                 "\n"
                 "`ustack <command> --help` describes each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "tap") == 0)
        return cli_tap(argc - 1, argv + 1);
    if (strcmp(argv[1], "nc") == 0)
        return cli_nc(argc - 1, argv + 1);
    if (strcmp(argv[1], "sim") == 0)
        return cli_sim(argc - 1, argv + 1);
    fprintf(stderr, "ustack: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
