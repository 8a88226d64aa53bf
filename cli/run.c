/* SPDX-License-Identifier: MIT */
/* xova run: verify a bundle and boot this host's (or --arch's) VM definition under QEMU. */
#include "config.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hv/hv.h"

void verb_run_help(void)
{
        char names[128];

        printf("Usage: xova run [OPTIONS] BUNDLE\n"
               "\n"
               "Verify BUNDLE and boot its VM definition for this host's architecture (or\n"
               "--arch) under QEMU: firmware from QEMU's descriptors, disks read in place\n"
               "through copy-on-write overlays. On a terminal (stdin and stdout) without\n"
               "--expect the serial console is interactive: type into the guest, Ctrl-] stops\n"
               "it; otherwise it is on a pipe.\n"
               "\n"
               "Options:\n"
               "      --arch ARCH       boot the %s definition (default: the host's)\n"
               "      --accel MODE      auto, kvm or tcg (default: auto = KVM only if it works)\n"
               "      --expect MARKER   stop the guest and succeed when MARKER is on the console\n"
               "      --timeout SECONDS give up after SECONDS (exit 4); 0 = no limit (default)\n"
               "      --console         copy the guest's serial console to standard output\n"
               "      --forward [ADDR:]HOSTPORT:GUESTPORT\n"
               "                        forward host TCP port (on ADDR, default 127.0.0.1) to\n"
               "                        the guest's GUESTPORT; repeatable\n"
               "      --keep            keep the run directory (overlays, firmware vars)\n"
               "      --state DIR       keep the overlays and firmware vars in DIR between runs\n"
               "      --reset           with --state: start DIR over from the bundle\n"
               "      --no-interactive  never read the terminal (console output only with --console)\n"
               "      --ca PEM          require a signature by a certificate from PEM\n"
               "      --no-secure-boot  boot without Secure Boot even if the bundle needs it\n"
               "  -h, --help            show this help and exit\n"
               "  -V, --version         show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 3 verification failed, 4 timeout,\n"
               "130 interrupted. See xova-run(1).\n", xova_arch_names(names, sizeof(names), "", " or "));
}

#define CLI_MAX_FORWARDS 32

enum {
        ARG_ARCH = CLI_ARG_VERB, ARG_ACCEL, ARG_EXPECT, ARG_TIMEOUT, ARG_CONSOLE, ARG_KEEP, ARG_STATE, ARG_RESET,
        ARG_NO_INTERACTIVE, ARG_NO_SECURE_BOOT, ARG_FORWARD,
};
const struct option verb_run_options[] = {
        { "arch", required_argument, NULL, ARG_ARCH },
        { "accel", required_argument, NULL, ARG_ACCEL },
        { "expect", required_argument, NULL, ARG_EXPECT },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "console", no_argument, NULL, ARG_CONSOLE },
        { "keep", no_argument, NULL, ARG_KEEP },
        { "state", required_argument, NULL, ARG_STATE },
        { "reset", no_argument, NULL, ARG_RESET },
        { "no-interactive", no_argument, NULL, ARG_NO_INTERACTIVE },
        { "no-secure-boot", no_argument, NULL, ARG_NO_SECURE_BOOT },
        { "forward", required_argument, NULL, ARG_FORWARD },
        CLI_CA_LONGOPT,
        CLI_COMMON_LONGOPTS,
        {}
};

static void run_note(void *userdata, const char *msg)
{
        (void) userdata;
        cli_note("%s", msg);
}

int verb_run(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        struct timespec t0, t1;
        struct hv_run_opts o = { .accel = HV_ACCEL_AUTO, .note = run_note, .ca_file = bo->ca_file };
        struct xerr e = { 0 };
        struct hv_forward forwards[CLI_MAX_FORWARDS];
        bool no_interactive = false;
        uint64_t t;
        int c, r;

        while ((c = cli_getopt(argc, argv)) >= 0) {
                switch (c) {
                case ARG_ARCH:
                        if (!xova_arch_by_name(optarg)) {
                                char names[128];
                                return cli_usage_error("run", "unknown architecture '%s' (%s)", optarg,
                                                       xova_arch_names(names, sizeof(names), "", ", "));
                        }
                        o.arch = optarg;
                        break;
                case ARG_ACCEL:
                        if (hv_accel_from_name(optarg, &o.accel) < 0)
                                return cli_usage_error("run", "invalid --accel '%s' (auto, kvm, tcg)", optarg);
                        break;
                case ARG_EXPECT:
                        if (!*optarg)
                                return cli_usage_error("run", "--expect needs a non-empty marker");
                        o.expect = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (xova_parse_u64(optarg, &t) < 0 || t > 86400 * 7)
                                return cli_usage_error("run", "invalid --timeout '%s' (seconds)", optarg);
                        o.timeout = (unsigned) t;
                        break;
                case ARG_CONSOLE:
                        o.console = true;
                        break;
                case ARG_KEEP:
                        o.keep = true;
                        break;
                case ARG_STATE:
                        if (!*optarg)
                                return cli_usage_error("run", "--state needs a directory");
                        o.state_dir = optarg;
                        break;
                case ARG_RESET:
                        o.state_reset = true;
                        break;
                case ARG_NO_INTERACTIVE:
                        no_interactive = true;
                        break;
                case ARG_NO_SECURE_BOOT:
                        o.no_secure_boot = true;
                        break;
                case ARG_FORWARD:
                        if (o.n_forwards == CLI_MAX_FORWARDS)
                                return cli_usage_error("run", "at most %d --forward options", CLI_MAX_FORWARDS);
                        if (hv_forward_parse(optarg, &forwards[o.n_forwards], &e) < 0)
                                return cli_usage_error("run", "invalid --forward %s", e.msg);
                        o.n_forwards++;
                        o.forwards = forwards;
                        break;
                CLI_HANDLED_OPTIONS:
                default:
                        break;
                }
        }
        if (o.state_reset && !o.state_dir)
                return cli_usage_error("run", "--reset needs --state DIR");
        if (o.state_dir && o.keep)
                return cli_usage_error("run", "--keep and --state exclude each other (--state keeps everything)");
        /* --expect is scripted use: the terminal is never read then */
        o.interactive = !no_interactive && !o.expect && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        cli_progress_init(&o.progress, -1);
        fflush(stdout);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = hv_run(argv[optind], &o, &e);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r == -EINTR) {
                cli_error(&e);
                return 130;
        }
        if (r < 0)
                return cli_error(&e);
        if (o.expect)
                cli_note("'%s' seen on the %s console after %.1f s", o.expect,
                         o.arch ? o.arch : "guest",
                         (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
}
