/* SPDX-License-Identifier: MIT */
/*
 * The OVF descriptor model (ovf.h): freeing, lookups, and the validation
 * that both the writer (descriptor-write.c) and the reader
 * (descriptor-read.c) apply.
 *
 * Encoding (docs/OVF.md has the why): one VirtualSystem; a
 * DeploymentOptionSection with one Configuration per architecture (the
 * first is the default) carrying our markers (xova:Architecture,
 * xova:Machine, xova:Firmware, all ovf:required="false"); ONE
 * VirtualHardwareSection whose Items each carry ovf:configuration="<arch>",
 * so a stock consumer sees a valid single VM with a choice of
 * configurations, and xova picks the host's.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libxml/xmlstring.h>           /* xmlCheckUTF8 */

#include "ovf/ovf-internal.h"

/* ---- model ------------------------------------------------------------ */

struct ovf_descriptor *ovf_descriptor_free(struct ovf_descriptor *d)
{
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_disks; i++) {
                free(d->disks[i].id);
                free(d->disks[i].href);
                free(d->disks[i].role);
                free(d->disks[i].source);
        }
        for (size_t i = 0; i < d->n_vms; i++) {
                free(d->vms[i].machine);
                free(d->vms[i].firmware);
                free(d->vms[i].disk_bus);
                free(d->vms[i].nic_model);
                free(d->vms[i].console);
                free(d->vms[i].disks);
        }
        free(d->disks);
        free(d->vms);
        free(d->name);
        free(d->version);
        free(d->vendor);
        free(d->description);
        free(d);
        return NULL;
}

static bool dup_or_null(char **dst, const char *src)
{
        *dst = src ? strdup(src) : NULL;
        return !src || *dst;
}

int ovf_descriptor_subset(const struct ovf_descriptor *d, const char *arch, struct ovf_descriptor **ret,
                          struct xerr *e)
{
        _cleanup_(ovf_descriptor_freep) struct ovf_descriptor *s = NULL;
        const struct ovf_vm *v = ovf_descriptor_vm(d, arch);
        struct ovf_vm *sv;
        size_t map[OVF_MAX_DISKS];
        bool ok;

        if (!v)
                return xerr_set(e, -ENOENT, "descriptor", "no configuration for architecture '%s'",
                                XOVA_ESC(arch ? arch : ""));
        if (d->n_disks > OVF_MAX_DISKS)
                return xerr_set(e, -EINVAL, "descriptor", "too many disks");
        s = calloc(1, sizeof(*s));
        if (!s)
                return xerr_set(e, -ENOMEM, "descriptor", "out of memory");
        s->disks = calloc(v->n_disks ? v->n_disks : 1, sizeof(*s->disks));
        s->vms = calloc(1, sizeof(*s->vms));
        ok = s->disks && s->vms && dup_or_null(&s->name, d->name) && dup_or_null(&s->version, d->version) &&
             dup_or_null(&s->vendor, d->vendor) && dup_or_null(&s->description, d->description);
        /* the disks the configuration uses, in the order of d (= member order) */
        for (size_t i = 0; ok && i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                struct ovf_disk *sk;
                bool used = false;

                map[i] = SIZE_MAX;
                for (size_t j = 0; j < v->n_disks; j++)
                        used = used || v->disks[j] == i;
                if (!used)
                        continue;
                map[i] = s->n_disks;
                sk = &s->disks[s->n_disks++];
                *sk = (struct ovf_disk){ .format = k->format, .capacity = k->capacity, .populated = k->populated,
                                         .file_size = k->file_size, .arch = k->arch };
                ok = dup_or_null(&sk->id, k->id) && dup_or_null(&sk->href, k->href) &&
                     dup_or_null(&sk->role, k->role) && dup_or_null(&sk->source, k->source);
        }
        if (ok) {
                sv = &s->vms[0];
                s->n_vms = 1;
                *sv = (struct ovf_vm){ .arch = v->arch, .vcpus = v->vcpus, .memory_mib = v->memory_mib };
                sv->disks = calloc(v->n_disks ? v->n_disks : 1, sizeof(*sv->disks));
                ok = sv->disks && dup_or_null(&sv->machine, v->machine) && dup_or_null(&sv->firmware, v->firmware) &&
                     dup_or_null(&sv->disk_bus, v->disk_bus) && dup_or_null(&sv->nic_model, v->nic_model) &&
                     dup_or_null(&sv->console, v->console);
                for (size_t j = 0; ok && j < v->n_disks; j++)
                        sv->disks[sv->n_disks++] = map[v->disks[j]];
        }
        if (!ok)
                return xerr_set(e, -ENOMEM, "descriptor", "out of memory");
        *ret = TAKE_PTR(s);
        return 0;
}

const struct ovf_vm *ovf_descriptor_vm(const struct ovf_descriptor *d, const char *arch)
{
        if (!d || !arch)
                return NULL;
        for (size_t i = 0; i < d->n_vms; i++)
                if (d->vms[i].arch && strcmp(d->vms[i].arch->name, arch) == 0)
                        return &d->vms[i];
        return NULL;
}

const char *ovf_disk_format_to_string(enum ovf_disk_format f)
{
        return f == OVF_DISK_RAW ? "raw" : "vmdk-stream-optimized";
}

/* Text we put into the descriptor must be representable in XML 1.0 and
 * readable by people: valid UTF-8, no control characters except, in free
 * text, tab and newline. */
static const char *text_problem(const char *s, bool multiline, size_t max)
{
        if (strlen(s) > max)
                return "too long";
        if (xmlCheckUTF8((const xmlChar *) s) == 0)
                return "not valid UTF-8";
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t'))) || *p == 0x7f)
                        return "contains a control character";
        return NULL;
}

int ovf_descriptor_validate(const struct ovf_descriptor *d, const char *where, struct xerr *e)
{
        const char *why = NULL;

        if (!d->name || (why = ovf_id_problem(d->name)))
                return xerr_set(e, -EINVAL, where, "name '%s': %s", XOVA_ESC(d->name),
                                d->name ? why : "missing");
        if (!d->version || !*d->version || (why = text_problem(d->version, false, 256)))
                return xerr_set(e, -EINVAL, where, "version: %s", d->version && *d->version ? why : "missing");
        if (d->vendor && (why = text_problem(d->vendor, false, 256)))
                return xerr_set(e, -EINVAL, where, "vendor: %s", why);
        if (d->description && (why = text_problem(d->description, true, 64 * 1024)))
                return xerr_set(e, -EINVAL, where, "description: %s", why);
        if (d->n_disks == 0 || d->n_disks > OVF_MAX_DISKS)
                return xerr_set(e, -EINVAL, where, "%zu disks (want 1 to %d)", d->n_disks, OVF_MAX_DISKS);
        if (d->n_vms == 0 || d->n_vms > OVF_MAX_VMS)
                return xerr_set(e, -EINVAL, where, "%zu VM definitions (want 1 to %d)", d->n_vms, OVF_MAX_VMS);
        for (size_t i = 0; i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                if (!k->id || (why = ovf_id_problem(k->id)))
                        return xerr_set(e, -EINVAL, where, "disks[%zu].id '%s': %s", i,
                                        XOVA_ESC(k->id), k->id ? why : "missing");
                if (k->href && (why = ovf_member_name_problem(k->href)))
                        return xerr_set(e, -EINVAL, where, "disk '%s': href '%s': %s", XOVA_ESC(k->id),
                                        XOVA_ESC(k->href), why);
                if (!k->role || (why = ovf_id_problem(k->role)))
                        return xerr_set(e, -EINVAL, where, "disk '%s': role: %s", k->id,
                                        k->role ? why : "missing");
                if (k->capacity == 0 || k->capacity > OVF_MAX_CAPACITY)
                        return xerr_set(e, -EINVAL, where, "disk '%s': capacity %" PRIu64
                                        " out of range (1 byte to 64 TiB)", k->id, k->capacity);
                if (k->populated > k->capacity)
                        return xerr_set(e, -EINVAL, where, "disk '%s': populated size %" PRIu64
                                        " exceeds capacity %" PRIu64, k->id, k->populated, k->capacity);
                for (size_t j = 0; j < i; j++) {
                        if (strcmp(d->disks[j].id, k->id) == 0)
                                return xerr_set(e, -EINVAL, where, "duplicate disk id '%s'", XOVA_ESC(k->id));
                        if (k->href && d->disks[j].href && strcmp(d->disks[j].href, k->href) == 0)
                                return xerr_set(e, -EINVAL, where, "disks '%s' and '%s' share the file '%s'",
                                                XOVA_ESC(d->disks[j].id), XOVA_ESC(k->id), XOVA_ESC(k->href));
                }
        }
        for (size_t i = 0; i < d->n_vms; i++) {
                const struct ovf_vm *v = &d->vms[i];
                if (!v->arch)
                        return xerr_set(e, -EINVAL, where, "vms[%zu]: no architecture", i);
                for (size_t j = 0; j < i; j++)
                        if (d->vms[j].arch == v->arch)
                                return xerr_set(e, -EINVAL, where, "two VM definitions for '%s'", v->arch->name);
                if (v->vcpus == 0 || v->vcpus > OVF_MAX_VCPUS)
                        return xerr_set(e, -EINVAL, where, "%s: %u vCPUs (want 1 to %d)", v->arch->name,
                                        v->vcpus, OVF_MAX_VCPUS);
                if (v->memory_mib == 0 || v->memory_mib > OVF_MAX_MEMORY_MIB)
                        return xerr_set(e, -EINVAL, where, "%s: memory %" PRIu64 " MiB out of range",
                                        v->arch->name, v->memory_mib);
                if (!v->machine || (why = ovf_id_problem(v->machine)))
                        return xerr_set(e, -EINVAL, where, "%s: machine: %s", v->arch->name,
                                        v->machine ? why : "missing");
                if (!v->firmware || (why = ovf_id_problem(v->firmware)))
                        return xerr_set(e, -EINVAL, where, "%s: firmware: %s", v->arch->name,
                                        v->firmware ? why : "missing");
                if (!v->disk_bus || (why = ovf_id_problem(v->disk_bus)))
                        return xerr_set(e, -EINVAL, where, "%s: disk bus: %s", v->arch->name,
                                        v->disk_bus ? why : "missing");
                if (v->nic_model && (why = ovf_id_problem(v->nic_model)))
                        return xerr_set(e, -EINVAL, where, "%s: NIC model: %s", v->arch->name, why);
                if (v->console && strcmp(v->console, "serial") != 0)
                        return xerr_set(e, -EINVAL, where, "%s: console '%s' (only 'serial' is supported)",
                                        v->arch->name, XOVA_ESC(v->console));
                if (v->n_disks == 0 || v->n_disks > OVF_MAX_DISKS)
                        return xerr_set(e, -EINVAL, where, "%s: %zu disks attached (want 1 to %d)",
                                        v->arch->name, v->n_disks, OVF_MAX_DISKS);
                for (size_t j = 0; j < v->n_disks; j++) {
                        const struct ovf_disk *k;
                        if (v->disks[j] >= d->n_disks)
                                return xerr_set(e, -EINVAL, where, "%s: disk index %zu out of range",
                                                v->arch->name, v->disks[j]);
                        k = &d->disks[v->disks[j]];
                        if (k->arch && k->arch != v->arch)
                                return xerr_set(e, -EINVAL, where, "%s: attaches disk '%s' of architecture %s",
                                                v->arch->name, k->id, k->arch->name);
                        for (size_t l = 0; l < j; l++)
                                if (v->disks[l] == v->disks[j])
                                        return xerr_set(e, -EINVAL, where, "%s: attaches disk '%s' twice",
                                                        v->arch->name, k->id);
                }
        }
        return 0;
}

