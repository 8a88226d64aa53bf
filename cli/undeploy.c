/* SPDX-License-Identifier: MIT */
/* xova undeploy: remove a domain `xova deploy --connect` made, with its NVRAM and volumes. */
#include "config.h"

#include <string.h>

#include "cli/cli.h"
#include "hv/hv.h"

void verb_undeploy_help(void)
{
        printf("Usage: xova undeploy NAME --connect URI [--connect URI ...]\n"
               "\n"
               "Stop and undefine the domain NAME that xova deploy made on each host,\n"
               "with its NVRAM, and delete the volumes its xova metadata names.\n"
               "A domain without that metadata is not touched.\n"
               "\n"
               "Options:\n"
               "      --connect URI     the libvirt host; repeatable\n"
               "  -h, --help            show this help and exit\n"
               "  -V, --version         show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 failure, 2 usage.\n"
               "See xova-undeploy(1).\n");
}

enum { ARG_CONNECT = CLI_ARG_VERB };
const struct option verb_undeploy_options[] = {
        { "connect", required_argument, NULL, ARG_CONNECT },
        CLI_COMMON_LONGOPTS,
        {}
};

int verb_undeploy(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        _cleanup_free_ const char **uris = calloc((size_t) argc, sizeof(*uris));
        size_t n = 0;
        int c, rc = 0;

        (void) bo;
        if (!uris)
                return cli_error(&(struct xerr) { .code = -ENOMEM, .msg = "out of memory" });
        while ((c = cli_getopt(argc, argv)) >= 0) {
                switch (c) {
                case ARG_CONNECT:
                        uris[n++] = optarg;
                        break;
                CLI_HANDLED_OPTIONS:
                default:
                        break;
                }
        }
        if (!n)
                return cli_usage_error("undeploy", "say where: --connect URI");
        for (size_t i = 0; i < n; i++) {
                struct xerr e = { 0 };
                size_t vols = 0;
                if (hv_undeploy(uris[i], argv[optind], &vols, &e) < 0) {
                        int r = cli_error(&e);
                        rc = rc ? rc : r;
                        continue;
                }
                cli_note("removed domain '%s' (with its NVRAM) and %zu volume(s)", argv[optind], vols);
        }
        return rc;
}
