/* SPDX-License-Identifier: MIT */
/* xova run: not built yet (issue #5). */
#include "config.h"

#include <string.h>

#include "cli/cli.h"

int verb_run(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        printf("Usage: xova run [OPTIONS] BUNDLE\n\n"
                               "Not built yet in this version (tracked as issue #5).\n\n"
                               "Options:\n"
                               "  -h, --help     show this help and exit\n"
                               "  -V, --version  show the version and exit\n");
                        return 0;
                }
                if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
                        return cli_version();
                if (argv[i][0] == '-') {
                        fprintf(stderr, "xova run: unrecognized option '%s'\n", argv[i]);
                        return cli_try_help("run");
                }
        }
        return cli_not_built("run", 5);
}
