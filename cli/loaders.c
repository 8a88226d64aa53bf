/* SPDX-License-Identifier: MIT */
/* xova loaders: fetch and list each architecture's boot-loader files (bootpart/loaders.c). */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "bootpart/bootpart.h"
#include "cli/cli.h"

#ifndef XOVA_PKGLIBEXECDIR
#define XOVA_PKGLIBEXECDIR "/usr/libexec/xova"
#endif

void verb_loaders_help(void)
{
        printf("Usage: xova loaders fetch [OPTIONS]\n"
               "       xova loaders list [OPTIONS]\n"
               "       xova loaders arches\n"
               "\n"
               "fetch downloads each architecture's boot-loader files from the Debian\n"
               "archive named in the host's apt sources (apt checks the Release signatures\n"
               "with the host's keyring) without installing anything or adding a foreign\n"
               "architecture to dpkg, and keeps them in a cache with the package versions\n"
               "and a SHA-256 of every file. A set already cached and unchanged is not\n"
               "downloaded again; a changed one is. xova build finds the GRUB modules there.\n"
               "list shows what the cache holds and whether it is unchanged.\n"
               "arches prints the architectures xova knows, one per line.\n"
               "\n"
               "Options:\n"
               "  -a, --arch LIST         only these architectures (comma-separated;\n"
               "                          default: all of them)\n"
               "      --secure-boot       also the signed shim and the signed GRUB\n"
               "      --system            the system cache " BOOTPART_LOADERS_SYSTEM_DIR "\n"
               "                          (default: $XDG_CACHE_HOME/xova or ~/.cache/xova)\n"
               "      --refresh           fetch again even what is cached and unchanged\n"
               "  -q, --quiet             print only errors\n"
               "  -h, --help              show this help and exit\n"
               "  -V, --version           show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 3 a cached set changed (list).\n"
               "See xova-loaders(1).\n");
}

static void print_note(void *userdata, const char *line)
{
        (void) userdata;
        /* lines from the helper carry package names and versions from the archive */
        printf("%s\n", xova_escape((char[512]){ 0 }, 512, line, strlen(line), 0));
}

static void print_info(void *userdata, const struct bootpart_loaders_info *i)
{
        int *changed = userdata;
        char buf[800];
        const char *status = i->status == 0 ? "ok" : i->status == -ENOENT ? "not fetched" : "CHANGED";

        if (i->status < 0 && i->status != -ENOENT)
                (*changed)++;
        printf("%s %s: %s\n", i->set, i->arch->name, status);
        printf("  dir      %s\n", i->dir);
        for (const char *l = i->packages; l && *l; ) {
                const char *end = strchr(l, '\n');
                int n = end ? (int) (end - l) : (int) strlen(l);
                printf("  package  %s\n", xova_escape((char[256]){ 0 }, 256, l, (size_t) n, 0));
                l = end ? end + 1 : NULL;
        }
        if (i->sha256[0])
                printf("  sha256   %s\n", i->sha256);
        if (i->status < 0 && i->status != -ENOENT)
                printf("  why      %s\n", xerr_format(&i->why, buf, sizeof(buf)));
}

enum { OPT_SECURE_BOOT = CLI_ARG_VERB, OPT_SYSTEM, OPT_REFRESH };
const struct option verb_loaders_options[] = {
        { "arch", required_argument, NULL, 'a' },
        { "secure-boot", no_argument, NULL, OPT_SECURE_BOOT },
        { "system", no_argument, NULL, OPT_SYSTEM },
        { "refresh", no_argument, NULL, OPT_REFRESH },
        { "quiet", no_argument, NULL, 'q' },
        CLI_COMMON_LONGOPTS,
        {}
};

int verb_loaders(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        _cleanup_free_ char *cache = NULL, *arch_copy = NULL, *helper = NULL;
        struct bootpart_loaders_fetch_opts fo = { .note = print_note };
        const struct xova_arch *archs[16];
        bool system = false, quiet = false;
        const char *action, *libexec;
        struct xerr e = { 0 };
        int c, r;

        (void) bo;
        while ((c = cli_getopt(argc, argv)) >= 0) {
                switch (c) {
                case 'a': {
                        size_t n = 0;
                        free(arch_copy);
                        arch_copy = strdup(optarg);
                        if (!arch_copy)
                                return cli_error(&(struct xerr) { .code = -ENOMEM, .msg = "out of memory" });
                        for (char *save = NULL, *t = strtok_r(arch_copy, ",", &save); t;
                             t = strtok_r(NULL, ",", &save)) {
                                const struct xova_arch *a = xova_arch_by_name(t);
                                if (!a)
                                        return cli_usage_error("loaders", "unknown architecture '%s' in --arch",
                                                               XOVA_ESC(t));
                                if (n + 1 >= ELEMENTSOF(archs))
                                        return cli_usage_error("loaders", "too many architectures in --arch");
                                archs[n++] = a;
                        }
                        if (n == 0)
                                return cli_usage_error("loaders", "invalid --arch '%s'", XOVA_ESC(optarg));
                        archs[n] = NULL;
                        fo.archs = archs;
                        break;
                }
                case OPT_SECURE_BOOT:
                        fo.secure_boot = true;
                        break;
                case OPT_SYSTEM:
                        system = true;
                        break;
                case OPT_REFRESH:
                        fo.refresh = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                CLI_HANDLED_OPTIONS:
                default:
                        break;
                }
        }
        action = argv[optind];        /* main.c checked there is exactly one */
        if (strcmp(action, "arches") == 0) {
                /* for shell completion and scripts: the one arch table, not a copy */
                for (size_t i = 0; i < xova_arch_count; i++)
                        printf("%s\n", xova_arch_table[i].name);
                return 0;
        }
        if (strcmp(action, "fetch") != 0 && strcmp(action, "list") != 0)
                return cli_usage_error("loaders", "unknown action '%s' (expected fetch, list or arches)",
                                       XOVA_ESC(action));

        /* Policy: the per-user cache unless --system, root included, so that
         * nothing outside the user's home changes unless asked. */
        if (system) {
                cache = strdup(BOOTPART_LOADERS_SYSTEM_DIR);
                if (!cache)
                        return cli_error(&(struct xerr) { .code = -ENOMEM, .msg = "out of memory" });
        } else {
                r = bootpart_loaders_user_dir(&cache, &e);
                if (r < 0)
                        return cli_error(&e);
        }

        if (strcmp(action, "list") == 0) {
                int changed = 0;
                r = bootpart_loaders_list(cache, fo.secure_boot, print_info, &changed, &e);
                if (r < 0)
                        return cli_error(&e);
                return changed ? XOVA_EXIT_VERIFY : 0;
        }

        /* the helper is installed beside xova; XOVA_LIBEXEC_DIR points at
         * another copy (the source tree's scripts/, in tests) */
        libexec = getenv("XOVA_LIBEXEC_DIR");
        if (!libexec || !*libexec)
                libexec = XOVA_PKGLIBEXECDIR;
        helper = xova_path_join(libexec, "xova-fetch-debs");
        if (!helper)
                return cli_error(&(struct xerr) { .code = -ENOMEM, .msg = "out of memory" });
        if (access(helper, X_OK) < 0) {
                xerr_set(&e, -ENOENT, helper,
                         "the fetch helper is missing (install xova with 'make install' or its .deb, "
                         "or set XOVA_LIBEXEC_DIR)");
                return cli_error(&e);
        }
        fo.cache_dir = cache;
        fo.helper = helper;
        if (quiet)
                fo.note = NULL;
        r = bootpart_loaders_fetch(&fo, &e);
        if (r < 0)
                return cli_error(&e);
        return 0;
}
