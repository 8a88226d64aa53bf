/* SPDX-License-Identifier: MIT */
/* xova deploy: emit a libvirt domain for a bundle (and create its overlay disks). */
#include "config.h"

#include <string.h>

#include "cli/cli.h"
#include "hv/hv.h"

void verb_deploy_help(void)
{
        char names[128];

        printf("Usage: xova deploy --libvirt-xml [OPTIONS] BUNDLE\n"
               "\n"
               "Verify BUNDLE and write a libvirt domain XML for one of its VM definitions.\n"
               "The disks become qcow2 overlays in DIR whose backing is the disk's bytes\n"
               "inside the (read-only) bundle; the bundle must stay where it is.\n"
               "\n"
               "Options:\n"
               "      --libvirt-xml     emit a libvirt domain XML (required)\n"
               "      --arch ARCH       the %s definition (default: the host's)\n"
               "      --disk-dir DIR    create the overlay disks in DIR\n"
               "                        (default: ./NAME-ARCH-disks)\n"
               "      --no-disks        only print the XML, create no disks\n"
               "  -o, --output FILE     write the XML to FILE (default: standard output)\n"
               "      --ca PEM          require a signature by a certificate from PEM\n"
               "  -h, --help            show this help and exit\n"
               "  -V, --version         show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 3 verification failed.\n"
               "See xova-deploy(1).\n", xova_arch_names(names, sizeof(names), "", " or "));
}

enum { ARG_XML = CLI_ARG_VERB, ARG_ARCH, ARG_DISKDIR, ARG_NODISKS };
const struct option verb_deploy_options[] = {
        { "libvirt-xml", no_argument, NULL, ARG_XML },
        { "arch", required_argument, NULL, ARG_ARCH },
        { "disk-dir", required_argument, NULL, ARG_DISKDIR },
        { "no-disks", no_argument, NULL, ARG_NODISKS },
        { "output", required_argument, NULL, 'o' },
        CLI_CA_LONGOPT,
        CLI_COMMON_LONGOPTS,
        {}
};

int verb_deploy(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        struct hv_deploy_opts o = { .create_disks = true, .ca_file = bo->ca_file };
        _cleanup_free_ char *xml = NULL;
        const char *output = NULL;
        struct xerr e = { 0 };
        bool want_xml = false;
        char names[128];
        int c, r;

        while ((c = cli_getopt(argc, argv)) >= 0) {
                switch (c) {
                case ARG_XML:
                        want_xml = true;
                        break;
                case ARG_ARCH:
                        if (!xova_arch_by_name(optarg))
                                return cli_usage_error("deploy", "unknown architecture '%s' (%s)", optarg,
                                                       xova_arch_names(names, sizeof(names), "", ", "));
                        o.arch = optarg;
                        break;
                case ARG_DISKDIR:
                        o.disk_dir = optarg;
                        break;
                case ARG_NODISKS:
                        o.create_disks = false;
                        break;
                case 'o':
                        output = optarg;
                        break;
                CLI_HANDLED_OPTIONS:
                default:
                        break;
                }
        }
        if (!want_xml)
                return cli_usage_error("deploy", "say what to deploy to: --libvirt-xml");
        r = hv_libvirt_deploy(argv[optind], &o, &xml, &e);
        if (r < 0)
                return cli_error(&e);
        if (output) {
                _cleanup_atomic_ struct xova_atomic *a = NULL;
                r = xova_atomic_open(output, 0644, XOVA_ATOMIC_REPLACE, &a, &e);
                if (r >= 0)
                        r = xova_write_all(xova_atomic_fd(a), xml, strlen(xml));
                if (r < 0 && !e.code)
                        xerr_set_errno(&e, r, output, "cannot write");
                if (r >= 0)
                        r = xova_atomic_commit(a, &e);
                if (r < 0)
                        return cli_error(&e);
                return 0;
        }
        fputs(xml, stdout);
        return 0;
}
