/* SPDX-License-Identifier: MIT */
/*
 * libvirt domain XML for one arch's VM definition, written with libxml2's
 * writer (every string escaped by it). The disks are qcow2 overlays in a
 * disk directory whose backing is the disk's byte range inside the bundle,
 * stated twice on purpose: in the overlay header (json: backing, format
 * explicit: what libvirt reads) and as <backingStore> with <slices> (what a
 * reader of the XML sees). The bundle stays read-only.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/xmlwriter.h>

#include "hv/hv-internal.h"

#define W(call) do { if ((call) < 0) goto xml_fail; } while (0)

static bool name_ok(const char *s)
{
        return hv_machine_name_valid(s);        /* same alphabet: [A-Za-z0-9._-] */
}

int hv_libvirt_deploy(const char *bundle, const struct hv_deploy_opts *o, char **ret_xml, struct xerr *e)
{
        _cleanup_(hv_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_free_ struct hv_disk_source *disks = NULL;
        _cleanup_free_ char *dir = NULL, *vars = NULL, *bundle_abs = NULL;
        const struct ovf_descriptor *d;
        const struct ovf_vm *vm;
        const struct xova_arch *arch;
        const char *machine;
        struct hv_firmware *fw = NULL;
        struct hv_host host;
        xmlBufferPtr buf = NULL;
        xmlTextWriterPtr w = NULL;
        bool kvm;
        int r;

        r = hv_bundle_vm(bundle, o->arch, o->ca_file, &b, &vm, &disks, e);
        if (r < 0)
                return r;
        d = ovf_bundle_descriptor(b);
        arch = vm->arch;
        machine = vm->machine && *vm->machine ? vm->machine : arch->qemu_machine;
        if (!hv_machine_name_valid(machine))
                return xerr_set(e, -EINVAL, bundle, "invalid machine type '%s'", machine);
        if (!d->name || !name_ok(d->name))
                return xerr_set(e, -EINVAL, bundle, "appliance name '%s' is not usable as a domain name",
                                d->name ? d->name : "");

        if (o->disk_dir) {
                dir = o->disk_dir[0] == '/' ? strdup(o->disk_dir) : NULL;
                if (!dir) {
                        _cleanup_free_ char *cwd = getcwd(NULL, 0);
                        if (!cwd)
                                return xerr_set_errno(e, -errno, ".", "cannot get the current directory");
                        dir = xova_path_join(cwd, o->disk_dir);
                }
        } else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd)
                        return xerr_set_errno(e, -errno, ".", "cannot get the current directory");
                if (asprintf(&dir, "%s/%s-%s-disks", cwd, d->name, arch->name) < 0)
                        dir = NULL;
        }
        if (!dir || asprintf(&vars, "%s/%s-%s_VARS.fd", dir, d->name, arch->name) < 0)
                return xerr_set(e, -ENOMEM, bundle, "out of memory");
        bundle_abs = realpath(disks[0].file, NULL);
        if (!bundle_abs)
                return xerr_set_errno(e, -errno, disks[0].file, "cannot resolve");

        hv_host_detect(xova_arch_host() == arch, &host, e);
        kvm = host.kvm_usable && host.arch == arch;

        r = hv_firmware_find(arch, machine, false, &fw, e);
        if (r < 0)
                return r;
        if (o->create_disks && mkdir(dir, 0755) < 0 && errno != EEXIST) {
                r = xerr_set_errno(e, -errno, dir, "cannot create the disk directory");
                goto out;
        }

        buf = xmlBufferCreate();
        w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
        if (!w) {
                r = xerr_set(e, -ENOMEM, bundle, "out of memory");
                goto out;
        }
        W(xmlTextWriterSetIndent(w, 1));
        W(xmlTextWriterSetIndentString(w, BAD_CAST "  "));
        W(xmlTextWriterStartElement(w, BAD_CAST "domain"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST (kvm ? "kvm" : "qemu")));
        W(xmlTextWriterWriteFormatElement(w, BAD_CAST "name", "%s-%s", d->name, arch->name));
        if (d->description)
                W(xmlTextWriterWriteElement(w, BAD_CAST "description", BAD_CAST d->description));
        W(xmlTextWriterStartElement(w, BAD_CAST "memory"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "MiB"));
        W(xmlTextWriterWriteFormatString(w, "%" PRIu64, vm->memory_mib ? vm->memory_mib : 512));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterWriteFormatElement(w, BAD_CAST "vcpu", "%u", vm->vcpus ? vm->vcpus : 1));

        W(xmlTextWriterStartElement(w, BAD_CAST "os"));
        W(xmlTextWriterStartElement(w, BAD_CAST "type"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "arch", BAD_CAST arch->libvirt_arch));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "machine", BAD_CAST machine));
        W(xmlTextWriterWriteString(w, BAD_CAST "hvm"));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterStartElement(w, BAD_CAST "loader"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "readonly", BAD_CAST "yes"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST (fw->nvram_template ? "pflash" : "rom")));
        W(xmlTextWriterWriteString(w, BAD_CAST fw->executable));
        W(xmlTextWriterEndElement(w));
        if (fw->nvram_template) {
                /* libvirt copies the template to this path on first start */
                W(xmlTextWriterStartElement(w, BAD_CAST "nvram"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "template", BAD_CAST fw->nvram_template));
                W(xmlTextWriterWriteString(w, BAD_CAST vars));
                W(xmlTextWriterEndElement(w));
        }
        W(xmlTextWriterEndElement(w));  /* os */

        W(xmlTextWriterStartElement(w, BAD_CAST "features"));
        W(xmlTextWriterWriteElement(w, BAD_CAST "acpi", NULL));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterStartElement(w, BAD_CAST "cpu"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "mode", BAD_CAST (kvm ? "host-passthrough" : "maximum")));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterWriteElement(w, BAD_CAST "on_reboot", BAD_CAST "destroy"));

        W(xmlTextWriterStartElement(w, BAD_CAST "devices"));
        for (size_t i = 0; i < vm->n_disks; i++) {
                _cleanup_free_ char *overlay = NULL;
                struct hv_disk_source src = disks[i];
                char dev[8];

                src.file = bundle_abs;  /* an OVA: every disk lies in the bundle */
                if (strcmp(disks[i].file, disks[0].file) != 0) {
                        r = xerr_set(e, -ENOTSUP, bundle, "disk '%s' is not inside the bundle file",
                                     disks[i].id ?: "?");
                        goto out;
                }
                if (asprintf(&overlay, "%s/%s-%s-disk%zu.qcow2", dir, d->name, arch->name, i) < 0) {
                        r = xerr_set(e, -ENOMEM, bundle, "out of memory");
                        goto out;
                }
                if (o->create_disks) {
                        if (access(overlay, F_OK) == 0) {
                                r = xerr_set(e, -EEXIST, overlay, "already exists; refusing to replace a disk");
                                goto out;
                        }
                        r = hv_overlays_create(&overlay, &src, 1, true, e);
                        if (r < 0)
                                goto out;
                }
                snprintf(dev, sizeof(dev), "vd%c", (char) ('a' + (i % 26)));
                W(xmlTextWriterStartElement(w, BAD_CAST "disk"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "device", BAD_CAST "disk"));
                W(xmlTextWriterStartElement(w, BAD_CAST "driver"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "qemu"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "qcow2"));
                W(xmlTextWriterEndElement(w));
                W(xmlTextWriterStartElement(w, BAD_CAST "source"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST overlay));
                W(xmlTextWriterEndElement(w));
                W(xmlTextWriterStartElement(w, BAD_CAST "backingStore"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file"));
                W(xmlTextWriterStartElement(w, BAD_CAST "format"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type",
                                              BAD_CAST (src.format == OVF_DISK_RAW ? "raw" : "vmdk")));
                W(xmlTextWriterEndElement(w));
                W(xmlTextWriterStartElement(w, BAD_CAST "source"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST bundle_abs));
                W(xmlTextWriterStartElement(w, BAD_CAST "slices"));
                W(xmlTextWriterStartElement(w, BAD_CAST "slice"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "storage"));
                W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "offset", "%" PRIu64, src.offset));
                W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "size", "%" PRIu64, src.size));
                W(xmlTextWriterEndElement(w));
                W(xmlTextWriterEndElement(w));  /* slices */
                W(xmlTextWriterEndElement(w));  /* source */
                W(xmlTextWriterWriteElement(w, BAD_CAST "backingStore", NULL));
                W(xmlTextWriterEndElement(w));  /* backingStore */
                W(xmlTextWriterStartElement(w, BAD_CAST "target"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST dev));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "bus", BAD_CAST "virtio"));
                W(xmlTextWriterEndElement(w));
                if (i == 0) {
                        W(xmlTextWriterStartElement(w, BAD_CAST "boot"));
                        W(xmlTextWriterWriteAttribute(w, BAD_CAST "order", BAD_CAST "1"));
                        W(xmlTextWriterEndElement(w));
                }
                W(xmlTextWriterEndElement(w));  /* disk */
        }
        if (vm->nic_model && *vm->nic_model) {
                W(xmlTextWriterStartElement(w, BAD_CAST "interface"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "network"));
                W(xmlTextWriterStartElement(w, BAD_CAST "source"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "network", BAD_CAST "default"));
                W(xmlTextWriterEndElement(w));
                W(xmlTextWriterStartElement(w, BAD_CAST "model"));
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "virtio"));
                W(xmlTextWriterEndElement(w));
                W(xmlTextWriterEndElement(w));
        }
        W(xmlTextWriterStartElement(w, BAD_CAST "serial"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "pty"));
        W(xmlTextWriterStartElement(w, BAD_CAST "target"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST "0"));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterStartElement(w, BAD_CAST "console"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "pty"));
        W(xmlTextWriterStartElement(w, BAD_CAST "target"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "serial"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST "0"));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterEndElement(w));  /* devices */
        W(xmlTextWriterEndElement(w));  /* domain */
        W(xmlTextWriterEndDocument(w));
        xmlFreeTextWriter(w);
        w = NULL;
        *ret_xml = strdup((const char *) xmlBufferContent(buf));
        r = *ret_xml ? 0 : xerr_set(e, -ENOMEM, bundle, "out of memory");
        goto out;
xml_fail:
        r = xerr_set(e, -ENOMEM, bundle, "cannot write the domain XML");
out:
        if (w)
                xmlFreeTextWriter(w);
        if (buf)
                xmlBufferFree(buf);
        hv_firmware_free(fw);
        return r;
}

int hv_libvirt_xml(const char *bundle, const char *arch, const char *ca_file, char **ret_xml,
                   struct xerr *e)
{
        struct hv_deploy_opts o = { .arch = arch, .ca_file = ca_file };

        return hv_libvirt_deploy(bundle, &o, ret_xml, e);
}
