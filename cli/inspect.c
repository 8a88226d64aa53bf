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
#include "ovf/ovf.h"

static void help(void)
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
               "      --deep                look inside the disks (not built yet)\n"
               "  -h, --help                show this help and exit\n"
               "  -V, --version             show the version and exit\n"
               "\n"
               "Exit status: 0 ok, 1 error, 2 usage, 3 verification failed.\n"
               "See xova-inspect(1).\n");
}

enum {
        OPT_JSON = 0x100,
        OPT_CA,
        OPT_REQUIRE_SIGNATURE,
        OPT_DEEP,
};

/* Strings come from the bundle: no control characters reach the terminal. */
static void put_safe(const char *s)
{
        for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++)
                putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
}

static json_object *str_or_null(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static int inspect_json(const char *path, const struct ovf_bundle *b)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);
        json_object *o = json_object_new_object(), *archs = json_object_new_array(),
                    *disks = json_object_new_array(), *members = json_object_new_array();
        int r;

        json_object_object_add(o, "bundle", json_object_new_string(path));
        json_object_object_add(o, "verified", json_object_new_boolean(1));
        json_object_object_add(o, "name", json_object_new_string(d->name));
        json_object_object_add(o, "version", json_object_new_string(d->version));
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
                        json_object_array_add(ad, json_object_new_string(d->disks[v->disks[j]].id));
                json_object_object_add(a, "disks", ad);
                json_object_array_add(archs, a);
        }
        json_object_object_add(o, "architectures", archs);
        for (size_t i = 0; i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                json_object *j = json_object_new_object();
                const char *file;
                uint64_t off = 0, size = 0;
                ovf_bundle_disk_location(b, i, &file, &off, &size, NULL);
                json_object_object_add(j, "id", json_object_new_string(k->id));
                json_object_object_add(j, "role", str_or_null(k->role));
                json_object_object_add(j, "arch", k->arch ? json_object_new_string(k->arch->name) : NULL);
                json_object_object_add(j, "capacity", json_object_new_int64((int64_t) k->capacity));
                json_object_object_add(j, "populated", json_object_new_int64((int64_t) k->populated));
                json_object_object_add(j, "file_size", json_object_new_int64((int64_t) k->file_size));
                json_object_object_add(j, "format", json_object_new_string(ovf_disk_format_to_string(k->format)));
                json_object_object_add(j, "file", json_object_new_string(k->href));
                json_object_object_add(j, "offset", json_object_new_int64((int64_t) off));
                json_object_array_add(disks, j);
        }
        json_object_object_add(o, "disks", disks);
        for (size_t i = 0; i < ovf_bundle_n_members(b); i++) {
                const char *name;
                uint64_t off, size;
                json_object *m = json_object_new_object();
                ovf_bundle_member(b, i, &name, &off, &size);
                json_object_object_add(m, "name", json_object_new_string(name));
                json_object_object_add(m, "offset", json_object_new_int64((int64_t) off));
                json_object_object_add(m, "size", json_object_new_int64((int64_t) size));
                json_object_array_add(members, m);
        }
        json_object_object_add(o, "members", members);
        r = puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return r < 0 ? XOVA_EXIT_FAILURE : 0;
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
                        printf(" %s", d->disks[v->disks[j]].id);
                putchar('\n');
        }
        printf("\ndisks:\n");
        for (size_t i = 0; i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                printf("  %-16s role %-5s arch %-8s capacity %s, populated %s, file %s (%s, %s)\n", k->id, k->role,
                       k->arch ? k->arch->name : "shared", xova_format_size(k->capacity, s1, sizeof(s1)),
                       xova_format_size(k->populated, s2, sizeof(s2)), xova_format_size(k->file_size, s3, sizeof(s3)),
                       ovf_disk_format_to_string(k->format), k->href);
        }
}

int verb_inspect(int argc, char **argv)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, OPT_JSON },
                { "ca", required_argument, NULL, OPT_CA },
                { "require-signature", no_argument, NULL, OPT_REQUIRE_SIGNATURE },
                { "deep", no_argument, NULL, OPT_DEEP },
                CLI_COMMON_LONGOPTS,
                {}
        };
        _cleanup_(ovf_bundle_freep) struct ovf_bundle *b = NULL;
        struct ovf_open_opts oo = { 0 };
        bool json = false, deep = false;
        struct xerr e = { 0 };
        int c, r;

        optind = 0;
        opterr = 1;
        while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
                switch (c) {
                case OPT_JSON:
                        json = true;
                        break;
                case OPT_CA:
                        oo.ca_file = optarg;
                        break;
                case OPT_REQUIRE_SIGNATURE:
                        oo.require_signature = true;
                        break;
                case OPT_DEEP:
                        deep = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        return cli_version();
                default:
                        return cli_try_help("inspect");
                }
        }
        if (optind >= argc)
                return cli_usage_error("inspect", "missing BUNDLE");
        if (argc - optind > 1)
                return cli_usage_error("inspect", "unexpected argument '%s'", argv[optind + 1]);
        if (deep) {
                fprintf(stderr, "xova inspect: --deep is not built yet in this version\n");
                return XOVA_EXIT_USAGE;
        }
        r = ovf_bundle_open(argv[optind], &oo, &b, &e);
        if (r < 0)
                return cli_error(&e);
        if (json)
                return inspect_json(argv[optind], b);
        inspect_text(argv[optind], b);
        return 0;
}
