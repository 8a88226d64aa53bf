/* SPDX-License-Identifier: MIT */
/* xova inspect: not built yet (issue #4). */
#include "config.h"

#include <string.h>

#include "cli/cli.h"

int verb_inspect(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        printf("Usage: xova inspect [OPTIONS] BUNDLE\n\n"
                               "Not built yet in this version (tracked as issue #4).\n\n"
                               "Options:\n"
                               "  -h, --help     show this help and exit\n"
                               "  -V, --version  show the version and exit\n");
                        return 0;
                }
                if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
                        return cli_version();
                if (argv[i][0] == '-') {
                        fprintf(stderr, "xova inspect: unrecognized option '%s'\n", argv[i]);
                        return cli_try_help("inspect");
                }
        }
        return cli_not_built("inspect", 4);
}
