/* SPDX-License-Identifier: MIT */
/*
 * fuzz-ovf - the OVF descriptor reader: ovf_descriptor_parse() on the input
 * (libxml2 with NONET and no entities, the DOCTYPE/ENTITY/NUL prescan,
 * References, DiskSection, DeploymentOptionSection, VirtualSystem, the
 * per-configuration Items, then ovf_descriptor_validate()).
 *
 * A descriptor that parses must survive ovf_descriptor_write() ->
 * ovf_descriptor_parse() with the same model (the reader and the writer
 * agree), so writer bugs reachable from hostile input show up too.
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "ovf/ovf-internal.h"

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void compare(const struct ovf_descriptor *a, const struct ovf_descriptor *b)
{
        if (!str_eq(a->name, b->name) || !str_eq(a->version, b->version) || !str_eq(a->vendor, b->vendor))
                fuzz_fail("descriptor round trip changed name, version or vendor");
        if (a->n_disks != b->n_disks || a->n_vms != b->n_vms)
                fuzz_fail("descriptor round trip changed the number of disks or configurations");
        for (size_t i = 0; i < a->n_disks; i++) {
                const struct ovf_disk *x = &a->disks[i], *y = &b->disks[i];
                if (!str_eq(x->id, y->id) || !str_eq(x->href, y->href) || !str_eq(x->role, y->role) ||
                    x->format != y->format || x->capacity != y->capacity || x->file_size != y->file_size ||
                    x->arch != y->arch)
                        fuzz_fail("descriptor round trip changed a disk");
        }
        for (size_t i = 0; i < a->n_vms; i++) {
                const struct ovf_vm *x = &a->vms[i], *y = &b->vms[i];
                if (x->arch != y->arch || x->vcpus != y->vcpus || x->memory_mib != y->memory_mib ||
                    !str_eq(x->machine, y->machine) || !str_eq(x->firmware, y->firmware) ||
                    !str_eq(x->disk_bus, y->disk_bus) || !str_eq(x->nic_model, y->nic_model) ||
                    x->n_disks != y->n_disks)
                        fuzz_fail("descriptor round trip changed a configuration");
                for (size_t k = 0; k < x->n_disks; k++)
                        if (x->disks[k] != y->disks[k])
                                fuzz_fail("descriptor round trip changed a configuration's disks");
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ovf_descriptor *d = NULL, *d2 = NULL;
        struct xerr e = { 0 };
        char *xml = NULL;
        size_t xml_len = 0;
        int r;

        r = ovf_descriptor_parse((const char *) data, size, "fuzz.ovf", &d, &e);
        fuzz_check_err("ovf_descriptor_parse", r, &e);
        if (r < 0)
                return 0;
        if (!d)
                fuzz_fail("ovf_descriptor_parse succeeded without a result");
        for (size_t i = 0; i < d->n_disks; i++)
                if (d->disks[i].href == NULL || d->disks[i].id == NULL ||
                    ovf_disk_format_to_string(d->disks[i].format) == NULL)
                        fuzz_fail("a parsed disk lacks id, href or a known format");
        for (size_t i = 0; i < d->n_vms; i++) {
                if (!d->vms[i].arch || ovf_descriptor_vm(d, d->vms[i].arch->name) == NULL)
                        fuzz_fail("ovf_descriptor_vm does not find a parsed configuration");
                for (size_t k = 0; k < d->vms[i].n_disks; k++)
                        if (d->vms[i].disks[k] >= d->n_disks)
                                fuzz_fail("a configuration names a disk index out of range");
        }

        e = (struct xerr) { 0 };
        r = ovf_descriptor_write(d, &xml, &xml_len, &e);
        fuzz_check_err("ovf_descriptor_write", r, &e);
        if (r < 0) {
                fprintf(stderr, "fuzz: write: %s: %s\n", e.where, e.msg);
                fuzz_fail("a parsed descriptor cannot be written");
        }
        e = (struct xerr) { 0 };
        r = ovf_descriptor_parse(xml, xml_len, "fuzz.ovf (written)", &d2, &e);
        fuzz_check_err("ovf_descriptor_parse", r, &e);
        if (r < 0) {
                fprintf(stderr, "fuzz: re-parse: %s: %s\n", e.where, e.msg);
                fuzz_fail("a written descriptor does not parse again");
        }
        compare(d, d2);
        free(xml);
        ovf_descriptor_free(d2);
        ovf_descriptor_free(d);
        return 0;
}
