/* SPDX-License-Identifier: MIT */
/*
 * xova deploy: onto libvirt hosts (--connect URI..., hv/deploy.c), or emit
 * a libvirt domain XML and its overlay disks (--libvirt-xml, hv/libvirt.c).
 */
#include "config.h"

#include <string.h>

#include "cli/cli.h"
#include "hv/hv.h"

void verb_deploy_help(void)
{
        char names[128];

        printf("Usage: xova deploy BUNDLE --connect URI [HOST OPTIONS] [--connect URI ...] [OPTIONS]\n"
               "       xova deploy --libvirt-xml [OPTIONS] BUNDLE\n"
               "\n"
               "Verify BUNDLE once, then onto each libvirt host in parallel: pick the VM\n"
               "definition the host can run, upload its disks as qcow2 volumes, define\n"
               "the domain (UEFI chosen by the host) and optionally start it.\n"
               "With --libvirt-xml, write a domain XML and overlay disks instead.\n"
               "\n"
               "Options:\n"
               "      --connect URI     a libvirt host (qemu:///system, qemu+ssh://user@host/system,\n"
               "                        qemu+tls://host/system, qemu:///session); repeatable\n"
               "  host options (after a --connect: that host only; before: every host):\n"
               "      --arch ARCH       the %s definition (default: from the host's capabilities)\n"
               "      --accel ACCEL     auto, kvm or tcg (default: auto)\n"
               "      --name NAME       the domain name (default: BUNDLE-NAME-ARCH)\n"
               "      --pool POOL       the storage pool for the volumes (default: default)\n"
               "      --start           start the domain\n"
               "      --expect MARKER   start it and succeed when MARKER appears on its console\n"
               "      --timeout S       seconds for --expect (default: 300)\n"
               "      --replace         replace a domain and volumes of the same name\n"
               "      --libvirt-xml     emit a libvirt domain XML (no --connect)\n"
               "      --disk-dir DIR    --libvirt-xml: create the overlay disks in DIR\n"
               "                        (default: ./NAME-ARCH-disks)\n"
               "      --no-disks        --libvirt-xml: only print the XML, create no disks\n"
               "  -o, --output FILE     --libvirt-xml: write the XML to FILE (default: stdout)\n"
               "      --ca PEM          require a signature by a certificate from PEM\n"
               "  -h, --help            show this help and exit\n"
               "  -V, --version         show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 3 verification failed, 4 timeout.\n"
               "See xova-deploy(1).\n", xova_arch_names(names, sizeof(names), "", " or "));
}

enum { ARG_XML = CLI_ARG_VERB, ARG_ARCH, ARG_DISKDIR, ARG_NODISKS, ARG_CONNECT, ARG_ACCEL, ARG_NAME, ARG_POOL,
       ARG_START, ARG_EXPECT, ARG_TIMEOUT, ARG_REPLACE };
const struct option verb_deploy_options[] = {
        { "libvirt-xml", no_argument, NULL, ARG_XML },
        { "arch", required_argument, NULL, ARG_ARCH },
        { "disk-dir", required_argument, NULL, ARG_DISKDIR },
        { "no-disks", no_argument, NULL, ARG_NODISKS },
        { "output", required_argument, NULL, 'o' },
        { "connect", required_argument, NULL, ARG_CONNECT },
        { "accel", required_argument, NULL, ARG_ACCEL },
        { "name", required_argument, NULL, ARG_NAME },
        { "pool", required_argument, NULL, ARG_POOL },
        { "start", no_argument, NULL, ARG_START },
        { "expect", required_argument, NULL, ARG_EXPECT },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "replace", no_argument, NULL, ARG_REPLACE },
        CLI_CA_LONGOPT,
        CLI_COMMON_LONGOPTS,
        {}
};

static int deploy_xml(const char *bundle, const struct hv_deploy_opts *o, const char *output)
{
        _cleanup_free_ char *xml = NULL;
        struct xerr e = { 0 };
        int r;

        r = hv_libvirt_deploy(bundle, o, &xml, &e);
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

static void deploy_note(void *userdata, const char *msg)
{
        (void) userdata;
        cli_note("%s", msg);
}

/* One line per host on stdout: host, domain, arch, accel, volumes, time, result. */
static void print_summary(const struct hv_target_result *r)
{
        char line[1536], shown[3072];

        snprintf(line, sizeof(line), "host=%s domain=%s arch=%s accel=%s volumes=%s uploaded=%.1fMiB time=%.1fs "
                 "result=%s", r->host, r->domain[0] ? r->domain : "-", r->arch ? r->arch : "-",
                 r->arch ? hv_accel_name(r->accel) : "-", r->volumes[0] ? r->volumes : "-",
                 (double) r->bytes / 1048576.0, (double) r->ms / 1000.0,
                 r->code == 0 ? (r->marker_seen ? "ok,marker-seen" : "ok") : "failed");
        printf("%s\n", xova_escape(shown, sizeof(shown), line, strlen(line), 0));
        fflush(stdout);         /* before the host's error on stderr */
}

/* The host options: given before any --connect they are the defaults. */
static void target_defaults(struct hv_target *t, size_t n, const struct hv_target *def)
{
        for (size_t i = 0; i < n; i++) {
                t[i].arch = t[i].arch ?: def->arch;
                t[i].name = t[i].name ?: def->name;
                t[i].pool = t[i].pool ?: def->pool;
                if (t[i].accel == HV_ACCEL_AUTO)
                        t[i].accel = def->accel;
        }
}

/* Two targets deploying the same domain name onto the same URI collide:
 * refused here when the options say so; when only the hosts' choice of
 * arch shows it, hv_deploy_remote() refuses the second (before it touches
 * anything). */
static int check_distinct(const struct hv_target *t, size_t n)
{
        for (size_t i = 0; i < n; i++)
                for (size_t k = i + 1; k < n; k++) {
                        bool same_name = (t[i].name && t[k].name) ? strcmp(t[i].name, t[k].name) == 0 :
                                         (!t[i].name && !t[k].name &&
                                          (t[i].arch && t[k].arch ? strcmp(t[i].arch, t[k].arch) == 0 :
                                           !t[i].arch && !t[k].arch));
                        if (strcmp(t[i].uri, t[k].uri) == 0 && same_name)
                                return cli_usage_error("deploy", "--connect %zu and %zu would deploy the same domain "
                                                       "onto one host: give each its own --name or --arch", i + 1,
                                                       k + 1);
                }
        return 0;
}

static int deploy_connect(const char *bundle, struct hv_target *t, size_t n, const struct hv_remote_opts *ro)
{
        _cleanup_free_ struct hv_target_result *res = calloc(n, sizeof(*res));
        struct xerr e = { 0 };
        int r, rc = 0;

        if (!res)
                return cli_error(&(struct xerr) { .code = -ENOMEM, .msg = "out of memory" });
        r = hv_deploy_remote(bundle, ro, t, n, res, &e);
        if (r < 0 && !res[0].host[0])
                return cli_error(&e);   /* before any host: verification, out of memory */
        for (size_t i = 0; i < n; i++) {
                print_summary(&res[i]);
                if (res[i].code < 0) {
                        int c = cli_error(&res[i].err);
                        rc = rc ? rc : c;
                }
        }
        return rc;
}

int verb_deploy(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        struct hv_deploy_opts o = { .create_disks = true, .ca_file = bo->ca_file };
        struct hv_remote_opts ro = { .ca_file = bo->ca_file, .note = deploy_note };
        _cleanup_free_ struct hv_target *t = calloc((size_t) argc, sizeof(*t));
        struct hv_target def = { 0 }, *cur = &def;
        const char *output = NULL;
        bool want_xml = false;
        size_t n = 0;
        uint64_t secs;
        char names[128];
        int c, r;

        if (!t)
                return cli_error(&(struct xerr) { .code = -ENOMEM, .msg = "out of memory" });
        while ((c = cli_getopt(argc, argv)) >= 0) {
                switch (c) {
                case ARG_XML:
                        want_xml = true;
                        break;
                case ARG_CONNECT:
                        cur = &t[n++];
                        cur->uri = optarg;
                        break;
                case ARG_ARCH:
                        if (!xova_arch_by_name(optarg))
                                return cli_usage_error("deploy", "unknown architecture '%s' (%s)", optarg,
                                                       xova_arch_names(names, sizeof(names), "", ", "));
                        cur->arch = optarg;
                        o.arch = cur == &def ? optarg : o.arch;
                        break;
                case ARG_ACCEL:
                        if (hv_accel_from_name(optarg, &cur->accel) < 0)
                                return cli_usage_error("deploy", "--accel: want auto, kvm or tcg, got '%s'", optarg);
                        break;
                case ARG_NAME:
                        cur->name = optarg;
                        break;
                case ARG_POOL:
                        cur->pool = optarg;
                        break;
                case ARG_START:
                        ro.start = true;
                        break;
                case ARG_EXPECT:
                        ro.expect = optarg;
                        ro.start = true;
                        break;
                case ARG_TIMEOUT:
                        if (xova_parse_u64(optarg, &secs) < 0 || secs == 0 || secs > 86400)
                                return cli_usage_error("deploy", "--timeout: want seconds (1-86400), got '%s'",
                                                       optarg);
                        ro.timeout = (unsigned) secs;
                        break;
                case ARG_REPLACE:
                        ro.replace = true;
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
        if (want_xml && n)
                return cli_usage_error("deploy", "--libvirt-xml and --connect exclude each other");
        if (want_xml)
                return deploy_xml(argv[optind], &o, output);
        if (!n)
                return cli_usage_error("deploy", "say where to deploy: --connect URI (or --libvirt-xml)");
        target_defaults(t, n, &def);
        r = check_distinct(t, n);
        if (r)
                return r;
        return deploy_connect(argv[optind], t, n, &ro);
}
