/* SPDX-License-Identifier: MIT */
/*
 * xova inspect: what a bundle holds, per architecture. The bundle is opened
 * with ovf_bundle_open(), so it is verified first: nothing from an
 * unverified bundle is shown as if it were true.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "hv/hv.h"

void verb_inspect_help(void)
{
        printf("Usage: xova inspect [OPTIONS] BUNDLE\n"
               "\n"
               "Verify a bundle (OVA file or OVF directory) like 'xova verify', then show\n"
               "what it holds: for each architecture the VM definition (vCPUs, memory,\n"
               "machine, firmware, disks), every disk, the members and the signer.\n"
               "\n"
               "Options:\n"
               "      --json                print JSON on stdout instead of text\n"
               "      --ca PEM              check the signer against these CA certificates\n"
               "      --require-signature   fail when the bundle is not signed\n"
               "      --deep                also look inside the disks (libguestfs appliance\n"
               "                            under TCG: partitions, filesystems, OS, ESP)\n"
               "  -h, --help                show this help and exit\n"
               "  -V, --version             show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 error, 2 usage, 3 verification failed,\n"
               "4 the --deep appliance did not start in time.\n"
               "See xova-inspect(1).\n");
}

enum {
        ARG_JSON = CLI_ARG_VERB,
        ARG_DEEP,
};

const struct option verb_inspect_options[] = {
        { "json", no_argument, NULL, ARG_JSON },
        CLI_CA_LONGOPT,
        CLI_REQUIRE_SIGNATURE_LONGOPT,
        { "deep", no_argument, NULL, ARG_DEEP },
        CLI_COMMON_LONGOPTS,
        {}
};

/*
 * Strings come from the bundle: they pass the one escaping rule
 * (common/escape.c) on their way to the terminal or into JSON. Text output
 * escapes C0, DEL, C1, bidi controls and invalid UTF-8; JSON output the
 * same (backslashes left to json-c): json-c itself escapes only C0, as
 * \u001b, which a consumer such as "jq -r" turns back into a raw ESC.
 */
static char *escaped(const char *s)
{
        size_t len = s ? strlen(s) : 0, size = 8 * len + 4;
        char *c = malloc(size);

        return c ? (char *) xova_escape(c, size, s ? s : "", len, 0) : NULL;
}

static void put_safe(const char *s)
{
        _cleanup_free_ char *c = escaped(s);

        fputs(c ? c : "?", stdout);
}

static json_object *str_or_null(const char *s)
{
        _cleanup_free_ char *c = s ? escaped(s) : NULL;

        return c ? json_object_new_string(c) : NULL;
}

static json_object *deep_json(const struct ovf_descriptor *d, const struct hv_deep_report *rep)
{
        json_object *o = json_object_new_object(), *disks = json_object_new_array();

        json_object_object_add(o, "backend", json_object_new_string(rep->backend));
        json_object_object_add(o, "launch_ms", json_object_new_int64((int64_t) rep->launch_ms));
        json_object_object_add(o, "total_ms", json_object_new_int64((int64_t) rep->total_ms));
        for (size_t i = 0; i < rep->n_disks; i++) {
                const struct hv_deep_disk *dd = &rep->disks[i];
                const struct ovf_disk *k = &d->disks[dd->disk];
                json_object *j = json_object_new_object(), *parts = json_object_new_array(),
                            *fss = json_object_new_array();
                json_object_object_add(j, "id", str_or_null(k->id));
                json_object_object_add(j, "role", str_or_null(k->role));
                json_object_object_add(j, "arch", k->arch ? json_object_new_string(k->arch->name) : NULL);
                json_object_object_add(j, "device", str_or_null(dd->device));
                json_object_object_add(j, "partition_table", str_or_null(dd->partition_table));
                for (size_t p = 0; p < dd->n_partitions; p++) {
                        const struct hv_deep_partition *pp = &dd->partitions[p];
                        json_object *x = json_object_new_object();
                        json_object_object_add(x, "device", str_or_null(pp->device));
                        json_object_object_add(x, "number", json_object_new_int(pp->number));
                        json_object_object_add(x, "size", json_object_new_int64((int64_t) pp->size));
                        json_object_object_add(x, "gpt_type", str_or_null(pp->gpt_type));
                        json_object_object_add(x, "name", str_or_null(pp->name));
                        json_object_array_add(parts, x);
                }
                json_object_object_add(j, "partitions", parts);
                for (size_t f = 0; f < dd->n_filesystems; f++) {
                        const struct hv_deep_fs *fs = &dd->filesystems[f];
                        json_object *x = json_object_new_object();
                        json_object_object_add(x, "device", str_or_null(fs->device));
                        json_object_object_add(x, "type", str_or_null(fs->type));
                        json_object_object_add(x, "label", str_or_null(fs->label));
                        json_object_object_add(x, "uuid", str_or_null(fs->uuid));
                        if (k->role && strcmp(k->role, "root") == 0) {
                                json_object *os = json_object_new_object();
                                json_object_object_add(os, "pretty_name", str_or_null(fs->os_pretty_name));
                                json_object_object_add(os, "hostname", str_or_null(fs->hostname));
                                json_object_object_add(os, "inspect_type", str_or_null(fs->os_type));
                                json_object_object_add(os, "inspect_distro", str_or_null(fs->os_distro));
                                json_object_object_add(os, "inspect_product", str_or_null(fs->os_product));
                                json_object_object_add(x, "os", os);
                        }
                        if (fs->efi_boot_listed) {
                                json_object *ls = json_object_new_array();
                                for (size_t n = 0; n < fs->n_efi_boot; n++)
                                        json_object_array_add(ls, json_object_new_string(fs->efi_boot[n]));
                                json_object_object_add(x, "efi_boot", ls);
                        }
                        json_object_object_add(x, "error", str_or_null(fs->error));
                        json_object_array_add(fss, x);
                }
                json_object_object_add(j, "filesystems", fss);
                json_object_array_add(disks, j);
        }
        json_object_object_add(o, "disks", disks);
        return o;
}

static const enum ovf_consumer importers[] = {
        OVF_FOR_VMWARE, OVF_FOR_VIRTUALBOX, OVF_FOR_VIRTV2V, OVF_FOR_GLANCE, OVF_FOR_LIBVIRT,
};
#define N_IMPORTERS (sizeof(importers) / sizeof(importers[0]))

/* { "vmware": { "x86_64": "as-is", "aarch64": "export" }, ... } */
static json_object *importers_json(const struct ovf_descriptor *d)
{
        json_object *o = json_object_new_object();

        for (size_t c = 0; c < N_IMPORTERS; c++) {
                json_object *a = json_object_new_object();
                for (size_t i = 0; i < d->n_vms; i++)
                        json_object_object_add(a, d->vms[i].arch->name, json_object_new_string(
                                ovf_suit_to_string(ovf_descriptor_suits(d, &d->vms[i], importers[c]))));
                json_object_object_add(o, ovf_consumer_to_string(importers[c]), a);
        }
        return o;
}

static void importers_text(const struct ovf_descriptor *d)
{
        printf("\nimporters (as-is, export: after `xova export --for IMPORTER --arch ARCH`, no):\n");
        for (size_t c = 0; c < N_IMPORTERS; c++) {
                printf("  %-11s", ovf_consumer_to_string(importers[c]));
                for (size_t i = 0; i < d->n_vms; i++) {
                        enum ovf_suit s = ovf_descriptor_suits(d, &d->vms[i], importers[c]);
                        printf("%s %s %s", i ? "," : "", d->vms[i].arch->name, ovf_suit_to_string(s));
                }
                if (importers[c] == OVF_FOR_GLANCE && d->n_vms && ovf_descriptor_suits(d, &d->vms[0], importers[c]) ==
                                                                      OVF_SUIT_NO)
                        printf(" (one disk only: build with --layout single)");
                putchar('\n');
        }
}

static int inspect_json(const char *path, const struct ovf_bundle *b, const struct hv_deep_report *deep)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);
        json_object *o = json_object_new_object(), *archs = json_object_new_array(),
                    *disks = json_object_new_array(), *members = json_object_new_array();
        int r;

        json_object_object_add(o, "bundle", str_or_null(path));
        json_object_object_add(o, "verified", json_object_new_boolean(1));
        json_object_object_add(o, "name", str_or_null(d->name));
        json_object_object_add(o, "version", str_or_null(d->version));
        json_object_object_add(o, "vendor", str_or_null(d->vendor));
        json_object_object_add(o, "description", str_or_null(d->description));
        json_object_object_add(o, "signer", str_or_null(ovf_bundle_signer(b)));
        json_object_object_add(o, "signer_trusted", json_object_new_boolean(ovf_bundle_signer_trusted(b)));
        for (size_t i = 0; i < d->n_vms; i++) {
                const struct ovf_vm *v = &d->vms[i];
                json_object *a = json_object_new_object(), *ad = json_object_new_array();
                json_object_object_add(a, "arch", json_object_new_string(v->arch->name));
                json_object_object_add(a, "default", json_object_new_boolean(i == 0));
                json_object_object_add(a, "vcpus", json_object_new_int64(v->vcpus));
                json_object_object_add(a, "memory_mib", json_object_new_int64((int64_t) v->memory_mib));
                json_object_object_add(a, "machine", str_or_null(v->machine));
                json_object_object_add(a, "firmware", str_or_null(v->firmware));
                json_object_object_add(a, "disk_bus", str_or_null(v->disk_bus));
                json_object_object_add(a, "nic_model", str_or_null(v->nic_model));
                json_object_object_add(a, "console", str_or_null(v->console));
                for (size_t j = 0; j < v->n_disks; j++)
                        json_object_array_add(ad, str_or_null(d->disks[v->disks[j]].id));
                json_object_object_add(a, "disks", ad);
                json_object_array_add(archs, a);
        }
        json_object_object_add(o, "architectures", archs);
        json_object_object_add(o, "importers", importers_json(d));
        for (size_t i = 0; i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                json_object *j = json_object_new_object();
                const char *file;
                uint64_t off = 0, size = 0;
                ovf_bundle_disk_location(b, i, &file, &off, &size, NULL);
                json_object_object_add(j, "id", str_or_null(k->id));
                json_object_object_add(j, "role", str_or_null(k->role));
                json_object_object_add(j, "arch", k->arch ? json_object_new_string(k->arch->name) : NULL);
                json_object_object_add(j, "capacity", json_object_new_int64((int64_t) k->capacity));
                json_object_object_add(j, "populated", json_object_new_int64((int64_t) k->populated));
                json_object_object_add(j, "file_size", json_object_new_int64((int64_t) k->file_size));
                json_object_object_add(j, "format", json_object_new_string(ovf_disk_format_to_string(k->format)));
                json_object_object_add(j, "file", str_or_null(k->href));
                json_object_object_add(j, "offset", json_object_new_int64((int64_t) off));
                json_object_array_add(disks, j);
        }
        json_object_object_add(o, "disks", disks);
        for (size_t i = 0; i < ovf_bundle_n_members(b); i++) {
                const char *name;
                uint64_t off, size;
                json_object *m = json_object_new_object();
                ovf_bundle_member(b, i, &name, &off, &size);
                json_object_object_add(m, "name", str_or_null(name));
                json_object_object_add(m, "offset", json_object_new_int64((int64_t) off));
                json_object_object_add(m, "size", json_object_new_int64((int64_t) size));
                json_object_array_add(members, m);
        }
        json_object_object_add(o, "members", members);
        if (deep)
                json_object_object_add(o, "deep", deep_json(d, deep));
        r = puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return r < 0 ? XOVA_EXIT_FAILURE : 0;
}

static void deep_text(const struct ovf_descriptor *d, const struct hv_deep_report *rep)
{
        char s1[32];

        printf("\ninside the disks (libguestfs, %s, launch %" PRIu64 ".%01" PRIu64 " s, total %" PRIu64
               ".%01" PRIu64 " s):\n", rep->backend, rep->launch_ms / 1000, rep->launch_ms % 1000 / 100,
               rep->total_ms / 1000, rep->total_ms % 1000 / 100);
        for (size_t i = 0; i < rep->n_disks; i++) {
                const struct hv_deep_disk *dd = &rep->disks[i];
                printf("  %s (", d->disks[dd->disk].id);
                put_safe(dd->device);
                printf("), partition table %s\n", dd->partition_table ? dd->partition_table : "none");
                for (size_t p = 0; p < dd->n_partitions; p++) {
                        const struct hv_deep_partition *pp = &dd->partitions[p];
                        printf("    partition %d ", pp->number);
                        put_safe(pp->device);
                        printf(" %s", xova_format_size(pp->size, s1, sizeof(s1)));
                        if (pp->gpt_type) {
                                printf(" type ");
                                put_safe(pp->gpt_type);
                        }
                        if (pp->name) {
                                printf(" name '");
                                put_safe(pp->name);
                                putchar('\'');
                        }
                        putchar('\n');
                }
                for (size_t f = 0; f < dd->n_filesystems; f++) {
                        const struct hv_deep_fs *fs = &dd->filesystems[f];
                        printf("    filesystem ");
                        put_safe(fs->device);
                        putchar(' ');
                        put_safe(fs->type);
                        if (fs->label) {
                                printf(" label '");
                                put_safe(fs->label);
                                putchar('\'');
                        }
                        if (fs->uuid) {
                                printf(" uuid ");
                                put_safe(fs->uuid);
                        }
                        putchar('\n');
                        if (fs->os_product) {
                                printf("      inspection: ");
                                put_safe(fs->os_product);
                                putchar('\n');
                        }
                        if (fs->os_pretty_name) {
                                printf("      os-release: ");
                                put_safe(fs->os_pretty_name);
                                putchar('\n');
                        }
                        if (fs->hostname) {
                                printf("      hostname:   ");
                                put_safe(fs->hostname);
                                putchar('\n');
                        }
                        if (fs->efi_boot_listed) {
                                printf("      /EFI/BOOT:");
                                for (size_t n = 0; n < fs->n_efi_boot; n++) {
                                        putchar(' ');
                                        put_safe(fs->efi_boot[n]);
                                }
                                putchar('\n');
                        }
                        if (fs->error) {
                                printf("      error: ");
                                put_safe(fs->error);
                                putchar('\n');
                        }
                }
        }
}

static void inspect_text(const char *path, const struct ovf_bundle *b)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);
        char s1[32], s2[32], s3[32];

        printf("bundle:   ");
        put_safe(path);
        printf(" (verified, %zu members)\nname:     ", ovf_bundle_n_members(b));
        put_safe(d->name);
        printf("\nversion:  ");
        put_safe(d->version);
        if (d->vendor) {
                printf("\nvendor:   ");
                put_safe(d->vendor);
        }
        printf("\nsigner:   ");
        if (ovf_bundle_signer(b)) {
                put_safe(ovf_bundle_signer(b));
                printf(ovf_bundle_signer_trusted(b) ? " (trusted)" : " (not checked against a CA)");
        } else {
                printf("none (not signed)");
        }
        printf("\n\narchitectures:\n");
        for (size_t i = 0; i < d->n_vms; i++) {
                const struct ovf_vm *v = &d->vms[i];
                printf("  %s%s: %u vCPUs, %s, machine ", v->arch->name, i == 0 ? " (default)" : "", v->vcpus,
                       xova_format_size(v->memory_mib << 20, s1, sizeof(s1)));
                put_safe(v->machine);
                printf(", firmware ");
                put_safe(v->firmware);
                printf(", disk bus ");
                put_safe(v->disk_bus);
                printf(", NIC ");
                put_safe(v->nic_model ? v->nic_model : "none");
                printf(", console ");
                put_safe(v->console ? v->console : "none");
                printf("\n    disks:");
                for (size_t j = 0; j < v->n_disks; j++)
                        printf(" %s", XOVA_ESC(d->disks[v->disks[j]].id));
                putchar('\n');
        }
        printf("\ndisks:\n");
        for (size_t i = 0; i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                printf("  %-16s role %-5s arch %-8s capacity %s, populated %s, file %s (%s, %s)\n", XOVA_ESC(k->id),
                       XOVA_ESC(k->role),
                       k->arch ? k->arch->name : "shared", xova_format_size(k->capacity, s1, sizeof(s1)),
                       xova_format_size(k->populated, s2, sizeof(s2)), xova_format_size(k->file_size, s3, sizeof(s3)),
                       ovf_disk_format_to_string(k->format), XOVA_ESC(k->href));
        }
        importers_text(d);
}

int verb_inspect(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        _cleanup_(ovf_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_(hv_deep_report_freep) struct hv_deep_report *rep = NULL;
        struct ovf_open_opts oo = { .ca_file = bo->ca_file, .require_signature = bo->require_signature };
        bool json = false, deep = false;
        struct xerr e = { 0 };
        int r;

        cli_getopt_flags(argc, argv, (const struct cli_flag[]) {
                { ARG_JSON, &json }, { ARG_DEEP, &deep }, { 0, NULL } });
        r = ovf_bundle_open(argv[optind], &oo, &b, &e);
        if (r < 0)
                return cli_error(&e);
        /* only a verified bundle is looked into */
        if (deep) {
                r = hv_inspect_deep(b, &rep, &e);
                if (r < 0)
                        return cli_error(&e);
        }
        if (json)
                return inspect_json(argv[optind], b, rep);
        inspect_text(argv[optind], b);
        if (rep)
                deep_text(ovf_bundle_descriptor(b), rep);
        return 0;
}
