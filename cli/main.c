/* SPDX-License-Identifier: MIT */
/*
 * xova - build one virtual appliance that boots on x86_64 and aarch64, and
 * boot it. main() dispatches to one verb from the table (STYLE.md rule 11);
 * each verb lives in its own file, parses its options and calls one library
 * entry point.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const struct verb verbs[] = {
        { "build",   verb_build,   "build an appliance from a spec (OVA, OVF dir or raw disks)" },
        { "inspect", verb_inspect, "show what a bundle holds, per architecture" },
        { "verify",  verb_verify,  "check a bundle's structure, digests and signature" },
        { "run",     verb_run,     "boot a bundle under QEMU with the host's VM definition" },
        { "deploy",  verb_deploy,  "emit a libvirt domain for a bundle" },
        { "loaders", verb_loaders, "fetch and list each architecture's boot-loader files" },
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: xova VERB [OPTIONS] ARGS...\n"
                   "\n"
                   "Build one virtual appliance that boots on x86_64 and aarch64, and boot it.\n"
                   "\n"
                   "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\n"
                   "Options:\n"
                   "  -h, --help     show this help and exit\n"
                   "  -V, --version  show the version and exit\n"
                   "\n"
                   "Run 'xova VERB --help' for a verb's options. See xova(1).\n"
                   "Exit status: 0 ok, 1 failure, 2 usage, 3 verification failed, 4 timeout.\n");
}

/* close_stdout (util-linux): a write error on stdout (> /dev/full) is a failure */
static int close_stdout(int rc)
{
        if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
                if (rc == 0) {
                        fprintf(stderr, "xova: error: cannot write to standard output: %m\n");
                        return XOVA_EXIT_FAILURE;
                }
        }
        return rc;
}

int main(int argc, char **argv)
{
        const char *name;

        if (argc < 2) {
                fprintf(stderr, "xova: missing verb\nTry 'xova --help'.\n");
                return XOVA_EXIT_USAGE;
        }
        name = argv[1];
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
                usage(stdout);
                return close_stdout(0);
        }
        if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0)
                return close_stdout(cli_version());
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0) {
                        /* getopt_long prefixes its messages with argv[0]: "xova build: ..." */
                        char prog[64];
                        snprintf(prog, sizeof(prog), "xova %s", verbs[i].name);
                        argv[1] = prog;
                        return close_stdout(verbs[i].fn(argc - 1, argv + 1));
                }
        if (name[0] == '-')
                fprintf(stderr, "xova: unrecognized option '%s'\nTry 'xova --help'.\n", name);
        else
                fprintf(stderr, "xova: unknown verb '%s'\nTry 'xova --help'.\n", name);
        return XOVA_EXIT_USAGE;
}
