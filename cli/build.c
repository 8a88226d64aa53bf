/* SPDX-License-Identifier: MIT */
/* xova build: parse options, load the spec, call appliance_build(), report. */
#include "config.h"

#include <string.h>

#include "appliance/appliance.h"
#include "bootpart/bootpart.h"
#include "cli/cli.h"

void verb_build_help(void)
{
        printf("Usage: xova build [OPTIONS] SPEC\n"
               "\n"
               "Build one appliance for every architecture in SPEC (xova.json(5)): a\n"
               "universal EFI system partition, a root per architecture and the shared\n"
               "disks, written as an OVA (default), an unpacked OVF directory, or raw\n"
               "disk images. Nothing appears at the output path unless the build succeeds.\n"
               "\n"
               "Options:\n"
               "  -o, --output PATH       output file (ova) or directory (dir, raw);\n"
               "                          default NAME.ova or NAME/ in the current directory\n"
               "  -f, --format FORMAT     ova (default), dir or raw\n"
               "  -l, --layout LAYOUT     split (boot, root-per-arch and shared disks) or\n"
               "                          single (one GPT disk); default from SPEC, else split\n"
               "  -a, --arch LIST         build only these architectures (comma-separated)\n"
               "      --seed STRING       seed for GUIDs and serials (default: the name)\n"
               "      --grub-dir DIR      where GRUB module dirs (DIR/x86_64-efi, DIR/arm64-efi)\n"
               "                          are found; repeatable; default $XOVA_GRUB_PATH; then\n"
               "                          the loaders cache (xova loaders fetch), /usr/lib/grub\n"
               "      --sign-key PEM      sign the manifest with this RSA private key\n"
               "      --sign-cert PEM     ... and ship this certificate in the .cert member\n"
               "      --sb-key PEM        Secure Boot, own key: sign the boot loaders with this\n"
               "                          RSA private key (see \"secure_boot\" in xova.json(5))\n"
               "      --sb-cert PEM       ... whose certificate is shipped as EFI/xova/db.der\n"
               "      --force             replace an existing output (still atomically)\n"
               "      --progress          show progress even when stderr is not a terminal\n"
               "      --no-progress       never show progress\n"
               "  -q, --quiet             print nothing on success\n"
               "  -h, --help              show this help and exit\n"
               "  -V, --version           show the version and exit\n"
               "\n"
               "Environment: SOURCE_DATE_EPOCH fixes every timestamp; the same inputs and\n"
               "epoch give byte-identical outputs. See xova-build(1).\n");
}

enum {
        ARG_SEED = CLI_ARG_VERB,
        ARG_GRUB_DIR,
        ARG_SIGN_KEY,
        ARG_SIGN_CERT,
        ARG_SB_KEY,
        ARG_SB_CERT,
        ARG_FORCE,
        ARG_PROGRESS,
        ARG_NO_PROGRESS,
};

const struct option verb_build_options[] = {
        { "output", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, 'f' },
        { "layout", required_argument, NULL, 'l' },
        { "arch", required_argument, NULL, 'a' },
        { "seed", required_argument, NULL, ARG_SEED },
        { "grub-dir", required_argument, NULL, ARG_GRUB_DIR },
        { "sign-key", required_argument, NULL, ARG_SIGN_KEY },
        { "sign-cert", required_argument, NULL, ARG_SIGN_CERT },
        { "sb-key", required_argument, NULL, ARG_SB_KEY },
        { "sb-cert", required_argument, NULL, ARG_SB_CERT },
        { "force", no_argument, NULL, ARG_FORCE },
        { "progress", no_argument, NULL, ARG_PROGRESS },
        { "no-progress", no_argument, NULL, ARG_NO_PROGRESS },
        { "quiet", no_argument, NULL, 'q' },
        CLI_COMMON_LONGOPTS,
        {}
};

static void strv_freep(char ***v)
{
        bootpart_strv_free(*v);
}

static void note_reclaimed(void *userdata, const char *dir, const char *name)
{
        (void) userdata;
        cli_note("removed stale temp '%s/%s' left by a killed xova", dir, name);
}

/* "x86_64,aarch64" -> NULL-terminated array of pointers into the copy */
static int split_list(char *s, const char **out, size_t max)
{
        size_t n = 0;

        for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (n + 1 >= max)
                        return -E2BIG;
                out[n++] = t;
        }
        out[n] = NULL;
        return n > 0 ? 0 : -EINVAL;
}

int verb_build(int argc, char **argv, const struct cli_bundle_opts *unused)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        _cleanup_free_ char *output = NULL, *arch_copy = NULL;
        _cleanup_(strv_freep) char **grub_path = NULL;
        struct appliance_build_opts bo = { .format = APPLIANCE_FORMAT_OVA };
        const char *archs[16], *grub_dirs[17];
        size_t n_grub = 0;
        bool layout_set = false, quiet = false;
        int progress = -1, c, r;
        struct xerr e = { 0 };

        (void) unused;
        while ((c = cli_getopt(argc, argv)) != -1) {
                switch (c) {
                case 'o':
                        free(output);
                        output = strdup(optarg);
                        break;
                case 'f':
                        if (appliance_format_from_name(optarg, &bo.format) < 0)
                                return cli_usage_error("build", "invalid --format '%s' (expected ova, dir or raw)", optarg);
                        break;
                case 'l':
                        if (appliance_layout_from_name(optarg, &bo.layout) < 0)
                                return cli_usage_error("build", "invalid --layout '%s' (expected split or single)", optarg);
                        layout_set = true;
                        break;
                case 'a':
                        free(arch_copy);
                        arch_copy = strdup(optarg);
                        if (!arch_copy || split_list(arch_copy, archs, ELEMENTSOF(archs)) < 0)
                                return cli_usage_error("build", "invalid --arch '%s'", optarg);
                        bo.archs = archs;
                        break;
                case ARG_SEED:
                        bo.seed = optarg;
                        break;
                case ARG_GRUB_DIR:
                        if (n_grub + 1 >= ELEMENTSOF(grub_dirs))
                                return cli_usage_error("build", "too many --grub-dir options");
                        grub_dirs[n_grub++] = optarg;
                        break;
                case ARG_SIGN_KEY:
                        bo.sign_key = optarg;
                        break;
                case ARG_SIGN_CERT:
                        bo.sign_cert = optarg;
                        break;
                case ARG_SB_KEY:
                        bo.sb_key = optarg;
                        break;
                case ARG_SB_CERT:
                        bo.sb_cert = optarg;
                        break;
                case ARG_FORCE:
                        bo.force = true;
                        break;
                case ARG_PROGRESS:
                        progress = 1;
                        break;
                case ARG_NO_PROGRESS:
                        progress = 0;
                        break;
                case 'q':
                        quiet = true;
                        break;
                CLI_HANDLED_OPTIONS:
                default:
                        break;
                }
        }
        if (!bo.sign_key != !bo.sign_cert)
                return cli_usage_error("build", "--sign-key and --sign-cert go together");
        if (!bo.sb_key != !bo.sb_cert)
                return cli_usage_error("build", "--sb-key and --sb-cert go together");
        if (bo.sign_key && bo.format == APPLIANCE_FORMAT_RAW)
                return cli_usage_error("build", "--sign-key needs --format ova or dir");

        /* --grub-dir, else $XOVA_GRUB_PATH, then the loaders caches, then /usr/lib/grub */
        grub_dirs[n_grub] = NULL;
        r = bootpart_grub_search_path(grub_dirs, &grub_path, &e);
        if (r < 0)
                return cli_error(&e);
        bo.grub_dirs = (const char *const *) grub_path;

        r = appliance_load(argv[optind], &a, &e);
        if (r < 0)
                return cli_error(&e);
        if (!layout_set)
                bo.layout = a->layout;
        if (!output) {
                if (asprintf(&output, "%s%s", a->name, bo.format == APPLIANCE_FORMAT_OVA ? ".ova" : "") < 0)
                        output = NULL;
        }
        if (!output) {
                xerr_oom(&e, NULL);
                return cli_error(&e);
        }
        bo.output = output;
        cli_progress_init(&bo.progress, progress);

        /* the build reclaims dead builds' temps beside the output by itself;
         * done here first only to say so */
        if (!quiet) {
                _cleanup_free_ char *outdir = xova_dirname(output);
                if (outdir)
                        (void) xova_reclaim_stale_temps(outdir, note_reclaimed, NULL);
        }

        r = appliance_build(a, &bo, &e);
        if (r < 0)
                return cli_error(&e);
        if (!quiet)
                printf("wrote %s (%s, %s layout)\n", output, appliance_format_name(bo.format),
                       appliance_layout_name(bo.layout));
        return 0;
}
