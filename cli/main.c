/* SPDX-License-Identifier: MIT */
/*
 * xova - build one virtual appliance that boots on x86_64 and aarch64, and
 * boot it. main() dispatches to one verb from the table below; each verb
 * lives in its own file, parses its own options and calls one library entry
 * point. What every verb shares is checked here, once (cli/cli.h has the
 * conventions): unknown options, --help, --version, the number of operands,
 * and the bundle options.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* name, function, help, options, short options, min and max operands, operand, flags, summary */
static const struct verb verbs[] = {
        { "build",   verb_build,   verb_build_help,   verb_build_options,   "o:f:l:a:qhV", 1, 1, "SPEC",   0,
          "build an appliance from a spec (OVA, OVF dir or raw disks)" },
        { "inspect", verb_inspect, verb_inspect_help, verb_inspect_options, "hV",          1, 1, "BUNDLE", VERB_BUNDLE,
          "show what a bundle holds, per architecture" },
        { "verify",  verb_verify,  verb_verify_help,  verb_verify_options,  "hV",          1, 1, "BUNDLE", VERB_BUNDLE,
          "check a bundle's structure, digests and signature" },
        { "run",     verb_run,     verb_run_help,     verb_run_options,     "hV",          1, 1, "BUNDLE", VERB_BUNDLE,
          "boot a bundle under QEMU with the host's VM definition" },
        { "deploy",  verb_deploy,  verb_deploy_help,  verb_deploy_options,  "ho:V",        1, 1, "BUNDLE", VERB_BUNDLE,
          "deploy a bundle onto libvirt hosts (or emit a domain XML)" },
        { "undeploy", verb_undeploy, verb_undeploy_help, verb_undeploy_options, "hV",       1, 1, "NAME",   0,
          "remove a deployed domain, its NVRAM and volumes" },
        { "export",  verb_export,  verb_export_help,  verb_export_options,  "ho:V",        1, 1, "BUNDLE", VERB_BUNDLE,
          "write one architecture as an OVA for VMware, VirtualBox, virt-v2v, Glance or libvirt" },
        { "loaders", verb_loaders, verb_loaders_help, verb_loaders_options, "a:qhV",       1, 1, "ACTION", 0,
          "fetch and list each architecture's boot-loader files" },
};

const struct verb *cli_verb;

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

int cli_getopt(int argc, char **argv)
{
        return getopt_long(argc, argv, cli_verb->shortopts, cli_verb->options, NULL);
}

/* What every verb shares, before it runs: a bad option (getopt_long's own
 * message, then the hint: exit 2), --help (exit 0), --version, the bundle
 * options into *bo, and the operand count. Returns -1 to go on to the verb,
 * or the exit code. */
static int check_args(const struct verb *v, int argc, char **argv, struct cli_bundle_opts *bo)
{
        int c, n;

        optind = 0;
        opterr = 1;
        while ((c = getopt_long(argc, argv, v->shortopts, v->options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        v->help();
                        return 0;
                case 'V':
                        return cli_version();
                case CLI_ARG_CA:
                        bo->ca_file = optarg;
                        break;
                case CLI_ARG_REQUIRE_SIGNATURE:
                        bo->require_signature = true;
                        break;
                case '?':
                case ':':
                        return cli_try_help(v->name);
                default:
                        break;          /* the verb's own: it parses them itself */
                }
        }
        n = argc - optind;
        if (n < v->min_args)
                return cli_usage_error(v->name, "missing %s", v->operand);
        if (n > v->max_args)
                return cli_usage_error(v->name, "unexpected argument '%s'", argv[optind + v->max_args]);
        return -1;
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
                        struct cli_bundle_opts bo = { 0 };
                        /* getopt_long prefixes its messages with argv[0]: "xova build: ..." */
                        char prog[64];
                        int r;

                        snprintf(prog, sizeof(prog), "xova %s", verbs[i].name);
                        argv[1] = prog;
                        cli_verb = &verbs[i];
                        r = check_args(cli_verb, argc - 1, argv + 1, &bo);
                        if (r >= 0)
                                return close_stdout(r);
                        /* the verb's own pass over its options: from the start, silent */
                        optind = 0;
                        opterr = 0;
                        return close_stdout(verbs[i].fn(argc - 1, argv + 1, &bo));
                }
        if (name[0] == '-')
                fprintf(stderr, "xova: unrecognized option '%s'\nTry 'xova --help'.\n", name);
        else
                fprintf(stderr, "xova: unknown verb '%s'\nTry 'xova --help'.\n", name);
        return XOVA_EXIT_USAGE;
}
