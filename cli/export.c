/* SPDX-License-Identifier: MIT */
/* xova export: one architecture of a verified bundle as an OVA for one importer. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "ovf/ovf.h"

void verb_export_help(void)
{
        char names[128];

        printf("Usage: xova export --arch ARCH --for CONSUMER -o OUT [OPTIONS] BUNDLE\n"
               "\n"
               "Verify BUNDLE, then write OUT: an OVA holding only the %s\n"
               "configuration and the disks it uses, with a descriptor written for one\n"
               "importer. Disk members are copied byte for byte from the verified bundle.\n"
               "\n"
               "Options:\n"
               "      --arch ARCH       the configuration to export (required)\n"
               "      --for CONSUMER    vmware, virtualbox, virt-v2v, glance or libvirt (required)\n"
               "  -o, --output OUT      the OVA to write (required); for glance also\n"
               "                        OUT.glance.json, the image properties\n"
               "      --sign-key PEM    sign the new manifest with this RSA key\n"
               "      --sign-cert PEM   ... and this certificate (both or neither)\n"
               "      --force           replace OUT if it exists\n"
               "      --ca PEM          require BUNDLE to be signed by a certificate from PEM\n"
               "      --require-signature  refuse an unsigned BUNDLE\n"
               "  -h, --help            show this help and exit\n"
               "  -V, --version         show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 failure, 2 usage, 3 verification failed.\n"
               "See xova-export(1).\n", xova_arch_names(names, sizeof(names), "", " or "));
}

enum { ARG_ARCH = CLI_ARG_VERB, ARG_FOR, ARG_SIGN_KEY, ARG_SIGN_CERT, ARG_FORCE };
const struct option verb_export_options[] = {
        { "arch", required_argument, NULL, ARG_ARCH },
        { "for", required_argument, NULL, ARG_FOR },
        { "output", required_argument, NULL, 'o' },
        { "sign-key", required_argument, NULL, ARG_SIGN_KEY },
        { "sign-cert", required_argument, NULL, ARG_SIGN_CERT },
        { "force", no_argument, NULL, ARG_FORCE },
        CLI_CA_LONGOPT,
        CLI_REQUIRE_SIGNATURE_LONGOPT,
        CLI_COMMON_LONGOPTS,
        {}
};

/* The image properties Glance gives the image (what its OVA import copies
 * from the CIM processor fields, plus the standard properties Nova's
 * libvirt driver reads for this VM). */
static char *glance_properties(const struct ovf_descriptor *d)
{
        const struct ovf_vm *v = &d->vms[0];
        const struct ovf_disk *k = &d->disks[0];
        struct ovf_arch_ids ids;
        json_object *o = json_object_new_object();
        char *s;

        if (!o)
                return NULL;
        ovf_arch_ids(v->arch, &ids);
        json_object_object_add(o, "architecture", json_object_new_string(ids.glance_architecture));
        json_object_object_add(o, "cim_pasd_InstructionSet", json_object_new_string(ids.instruction_set));
        json_object_object_add(o, "cim_pasd_ProcessorArchitecture",
                               json_object_new_string(ids.processor_architecture));
        json_object_object_add(o, "container_format", json_object_new_string("ova"));
        json_object_object_add(o, "disk_format",
                               json_object_new_string(k->format == OVF_DISK_RAW ? "raw" : "vmdk"));
        if (strcmp(v->firmware, "efi") == 0)
                json_object_object_add(o, "hw_firmware_type", json_object_new_string("uefi"));
        json_object_object_add(o, "hw_machine_type", json_object_new_string(v->machine));
        json_object_object_add(o, "hw_disk_bus", json_object_new_string("virtio"));
        if (v->nic_model)
                json_object_object_add(o, "hw_vif_model", json_object_new_string("virtio"));
        json_object_object_add(o, "min_ram", json_object_new_int64((int64_t) v->memory_mib));
        json_object_object_add(o, "os_type", json_object_new_string("linux"));
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

static int write_text(const char *path, const char *text, bool force, struct xerr *e)
{
        _cleanup_atomic_ struct xova_atomic *a = NULL;
        int r;

        r = xova_atomic_open(path, 0644, force ? XOVA_ATOMIC_REPLACE : 0, &a, e);
        if (r < 0)
                return r;
        r = xova_write_all(xova_atomic_fd(a), text, strlen(text));
        if (r == 0)
                r = xova_write_all(xova_atomic_fd(a), "\n", 1);
        if (r < 0)
                return xerr_set_errno(e, r, path, "cannot write");
        return xova_atomic_commit(a, e);
}

int verb_export(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        _cleanup_(ovf_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_(ovf_descriptor_freep) struct ovf_descriptor *d = NULL;
        _cleanup_free_ char *json = NULL, *json_path = NULL;
        struct ovf_open_opts oo = { .ca_file = bo->ca_file, .require_signature = bo->require_signature };
        struct ovf_export_for_opts o = { 0 };
        const char *output = NULL, *consumer = NULL;
        struct xerr e = { 0 };
        char names[128];
        int c, r;

        while ((c = cli_getopt(argc, argv)) >= 0) {
                switch (c) {
                case ARG_ARCH:
                        if (!xova_arch_by_name(optarg))
                                return cli_usage_error("export", "unknown architecture '%s' (%s)", optarg,
                                                       xova_arch_names(names, sizeof(names), "", ", "));
                        o.arch = optarg;
                        break;
                case ARG_FOR:
                        if (ovf_consumer_from_string(optarg, &o.consumer) < 0 || o.consumer == OVF_FOR_ALL)
                                return cli_usage_error("export", "unknown consumer '%s' (vmware, virtualbox, "
                                                       "virt-v2v, glance, libvirt)", optarg);
                        consumer = optarg;
                        break;
                case 'o':
                        output = optarg;
                        break;
                case ARG_SIGN_KEY:
                        o.sign_key = optarg;
                        break;
                case ARG_SIGN_CERT:
                        o.sign_cert = optarg;
                        break;
                case ARG_FORCE:
                        o.force = true;
                        break;
                CLI_HANDLED_OPTIONS:
                default:
                        break;
                }
        }
        if (!o.arch)
                return cli_usage_error("export", "say which architecture to export: --arch");
        if (!consumer)
                return cli_usage_error("export", "say who imports it: --for");
        if (!output)
                return cli_usage_error("export", "say where to write the OVA: -o OUT");
        if (!o.sign_key != !o.sign_cert)
                return cli_usage_error("export", "--sign-key and --sign-cert go together");
        r = xova_source_date_epoch(&o.epoch, &e);
        if (r < 0)
                return cli_error(&e);
        cli_progress_init(&o.progress, -1);

        /* verification first: a bundle that fails it is refused (exit 3) */
        r = ovf_bundle_open(argv[optind], &oo, &b, &e);
        if (r < 0)
                return cli_error(&e);
        if (o.consumer == OVF_FOR_GLANCE && asprintf(&json_path, "%s.glance.json", output) < 0)
                return cli_error(&(struct xerr){ .code = -ENOMEM, .msg = "out of memory" });
        r = ovf_export_for(b, output, &o, &d, &e);
        if (r < 0)
                return cli_error(&e);
        if (json_path) {
                json = glance_properties(d);
                if (!json)
                        return cli_error(&(struct xerr){ .code = -ENOMEM, .msg = "out of memory" });
                r = write_text(json_path, json, true, &e);
                if (r < 0)
                        return cli_error(&e);
        }
        return 0;
}
