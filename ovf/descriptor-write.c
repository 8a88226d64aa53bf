/* SPDX-License-Identifier: MIT */
/*
 * The OVF descriptor writer (libxml2): the model (descriptor.c) as XML,
 * in the encoding described there.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "ovf/ovf-internal.h"

/* ---- writer ------------------------------------------------------------ */

struct writer {
        xmlDocPtr doc;
        xmlNsPtr ovf_default, ovf, rasd, vssd, vmw, xova, pasd, vbox;
        enum ovf_consumer consumer;
        unsigned instance;
        bool oom;
};

static xmlNodePtr el(struct writer *w, xmlNodePtr parent, xmlNsPtr ns, const char *name,
                     const char *text)
{
        xmlNodePtr n;

        if (w->oom || !parent)
                return NULL;
        /* xmlNewTextChild escapes the text (xmlNewChild would parse '&' as an entity) */
        n = xmlNewTextChild(parent, ns, (const xmlChar *) name, (const xmlChar *) text);
        if (!n)
                w->oom = true;
        return n;
}

static void attr(struct writer *w, xmlNodePtr node, xmlNsPtr ns, const char *name, const char *value)
{
        if (w->oom || !node)
                return;
        if (!xmlNewNsProp(node, ns, (const xmlChar *) name, (const xmlChar *) value))
                w->oom = true;
}

static void attr_u64(struct writer *w, xmlNodePtr node, xmlNsPtr ns, const char *name, uint64_t v)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        attr(w, node, ns, name, buf);
}

static xmlNodePtr rasd_u64(struct writer *w, xmlNodePtr item, const char *name, uint64_t v)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return el(w, item, w->rasd, name, buf);
}

/* A marker in our namespace that stock consumers may ignore. */
static void marker(struct writer *w, xmlNodePtr parent, const char *name, const char *value)
{
        xmlNodePtr n = el(w, parent, w->xova, name, value);
        attr(w, n, w->ovf, "required", "false");
}

/* The configuration needs UEFI Secure Boot: xova:SecureBoot (what hv/
 * reads, ovf_vm.secure_boot); written only when on, so bundles without
 * Secure Boot keep their bytes. */
static void write_secure_boot_marker(struct writer *w, xmlNodePtr conf, const struct ovf_vm *v)
{
        if (v->secure_boot)
                marker(w, conf, "SecureBoot", "true");
}

static xmlNodePtr item_new(struct writer *w, xmlNodePtr vhs, const struct ovf_vm *v, bool required)
{
        xmlNodePtr it = el(w, vhs, w->ovf_default, "Item", NULL);

        attr(w, it, w->ovf, "configuration", v->arch->name);
        if (!required)
                attr(w, it, w->ovf, "required", "false");
        return it;
}

static const char *file_id(const struct ovf_disk *k, char *buf, size_t size)
{
        snprintf(buf, size, "file-%s", k->id);
        return buf;
}

/* A VirtualBox uuid "{...}" derived from the name and what it identifies,
 * so the export stays reproducible. */
static void vbox_uuid(const char *name, const char *what, char *buf, size_t size)
{
        uint8_t u[16];
        char label[300];

        snprintf(label, sizeof(label), "vbox-%s", what);
        xova_derive_uuid(name, label, u);
        snprintf(buf, size, "{%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x}", u[0], u[1],
                 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* References (one File per disk, in disk order = tar member order) and
 * DiskSection */
static void write_disks(struct writer *w, xmlNodePtr root, const struct ovf_descriptor *d)
{
        xmlNodePtr sec, n;
        char buf[512];

        sec = el(w, root, w->ovf_default, "References", NULL);
        for (size_t i = 0; i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                n = el(w, sec, w->ovf_default, "File", NULL);
                attr(w, n, w->ovf, "href", k->href);
                attr(w, n, w->ovf, "id", file_id(k, buf, sizeof(buf)));
                attr_u64(w, n, w->ovf, "size", k->file_size);
        }

        sec = el(w, root, w->ovf_default, "DiskSection", NULL);
        el(w, sec, w->ovf_default, "Info", "Virtual disks");
        for (size_t i = 0; i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                n = el(w, sec, w->ovf_default, "Disk", NULL);
                attr_u64(w, n, w->ovf, "capacity", k->capacity);
                attr(w, n, w->ovf, "capacityAllocationUnits", "byte");
                attr(w, n, w->ovf, "diskId", k->id);
                attr(w, n, w->ovf, "fileRef", file_id(k, buf, sizeof(buf)));
                attr(w, n, w->ovf, "format", k->format == OVF_DISK_RAW ? OVF_FORMAT_RAW
                                                                       : OVF_FORMAT_VMDK_STREAM);
                attr_u64(w, n, w->ovf, "populatedSize", k->populated);
                /* foreign attributes: every OVF consumer ignores them */
                attr(w, n, w->xova, "role", k->role);
                if (k->arch)
                        attr(w, n, w->xova, "architecture", k->arch->name);
                if (w->consumer == OVF_FOR_VIRTUALBOX && d->n_vms == 1) {
                        vbox_uuid(d->name, k->id, buf, sizeof(buf));
                        buf[strlen(buf) - 1] = '\0';
                        attr(w, n, w->vbox, "uuid", buf + 1);   /* without the braces */
                }
        }
}

/* NetworkSection (when a VM has a NIC) and DeploymentOptionSection: one
 * Configuration per architecture, carrying our markers */
static void write_configurations(struct writer *w, xmlNodePtr root, const struct ovf_descriptor *d)
{
        struct ovf_arch_ids ids;
        xmlNodePtr sec, n;
        char buf[512];
        bool any_nic = false;

        for (size_t i = 0; i < d->n_vms; i++)
                any_nic = any_nic || d->vms[i].nic_model;
        if (any_nic) {
                sec = el(w, root, w->ovf_default, "NetworkSection", NULL);
                el(w, sec, w->ovf_default, "Info", "The network the appliance connects to");
                n = el(w, sec, w->ovf_default, "Network", NULL);
                attr(w, n, w->ovf, "name", "VM Network");
                el(w, n, w->ovf_default, "Description", "The appliance's network");
        }

        sec = el(w, root, w->ovf_default, "DeploymentOptionSection", NULL);
        el(w, sec, w->ovf_default, "Info", "One configuration per CPU architecture; "
           "pick the one matching the host");
        for (size_t i = 0; i < d->n_vms; i++) {
                const struct ovf_vm *v = &d->vms[i];
                n = el(w, sec, w->ovf_default, "Configuration", NULL);
                if (i == 0)
                        attr(w, n, w->ovf, "default", "true");
                attr(w, n, w->ovf, "id", v->arch->name);
                el(w, n, w->ovf_default, "Label", v->arch->name);
                snprintf(buf, sizeof(buf), "%s guest (machine %s, firmware %s)", v->arch->name,
                         v->machine, v->firmware);
                el(w, n, w->ovf_default, "Description", buf);
                marker(w, n, "Architecture", v->arch->name);
                marker(w, n, "Machine", v->machine);
                marker(w, n, "Firmware", v->firmware);
                /* what xova run and deploy give the VM, whatever the items
                 * say for other importers (see consumer.c) */
                marker(w, n, "DiskBus", v->disk_bus);
                if (v->nic_model)
                        marker(w, n, "NicModel", v->nic_model);
                if (v->console)
                        marker(w, n, "Console", v->console);
                /* the guest id VMware wants for this arch: the format has
                 * one OperatingSystemSection, so only the default's is in
                 * vmw:osType; `xova export --for vmware` writes this one */
                ovf_arch_ids(v->arch, &ids);
                marker(w, n, "VmwareOsType", ids.vmw_os_type);
                write_secure_boot_marker(w, n, v);
        }
}

/* VirtualSystem with its Product, Annotation and OperatingSystem sections */
static xmlNodePtr write_system(struct writer *w, xmlNodePtr root, const struct ovf_descriptor *d)
{
        struct ovf_arch_ids ids;
        xmlNodePtr sec, vs;
        char buf[512];

        vs = el(w, root, w->ovf_default, "VirtualSystem", NULL);
        attr(w, vs, w->ovf, "id", d->name);
        el(w, vs, w->ovf_default, "Info", "A virtual appliance built by xova");
        el(w, vs, w->ovf_default, "Name", d->name);

        sec = el(w, vs, w->ovf_default, "ProductSection", NULL);
        el(w, sec, w->ovf_default, "Info", "Product information");
        el(w, sec, w->ovf_default, "Product", d->name);
        if (d->vendor)
                el(w, sec, w->ovf_default, "Vendor", d->vendor);
        el(w, sec, w->ovf_default, "Version", d->version);
        el(w, sec, w->ovf_default, "FullVersion", d->version);

        if (d->description) {
                sec = el(w, vs, w->ovf_default, "AnnotationSection", NULL);
                el(w, sec, w->ovf_default, "Info", "Description");
                el(w, sec, w->ovf_default, "Annotation", d->description);
        }

        /* The section cannot vary per configuration: the default arch's
         * ids (an export holds one configuration, so its own). */
        ovf_arch_ids(d->vms[0].arch, &ids);
        sec = el(w, vs, w->ovf_default, "OperatingSystemSection", NULL);
        snprintf(buf, sizeof(buf), "%u", d->vms[0].arch->ovf_os_id);
        attr(w, sec, w->ovf, "id", buf);
        attr(w, sec, w->vmw, "osType", ids.vmw_os_type);
        el(w, sec, w->ovf_default, "Info", "The guest operating system");
        el(w, sec, w->ovf_default, "Description", "Linux (64-bit)");
        if (w->consumer == OVF_FOR_VIRTUALBOX)
                /* ovfreader.cpp reads <vbox:OSType> here */
                attr(w, el(w, sec, w->vbox, "OSType", ids.vbox_os_type), w->ovf, "required", "false");

        return vs;
}

/* The items of one configuration: CPUs (with the CIM processor
 * architecture), memory, disk controller, disks, NIC (RASD children in the
 * CIM schema's alphabetical order). The hardware is the consumer's profile
 * (consumer.c); no serial item, which govmomi refuses (xova:Console says
 * it). */
static void write_vm_items(struct writer *w, xmlNodePtr vhs, const struct ovf_descriptor *d,
                           const struct ovf_vm *v)
{
        struct ovf_hw_profile hw;
        struct ovf_arch_ids ids;
        xmlNodePtr n;
        char buf[512];
        unsigned ctrl;

        ovf_hw_profile(w->consumer, v->arch, &hw);
        ovf_arch_ids(v->arch, &ids);

        n = item_new(w, vhs, v, true);
        el(w, n, w->rasd, "AllocationUnits", "hertz * 10^6");
        el(w, n, w->rasd, "Description", "Number of virtual CPUs");
        snprintf(buf, sizeof(buf), "%u virtual CPU(s)", v->vcpus);
        el(w, n, w->rasd, "ElementName", buf);
        rasd_u64(w, n, "InstanceID", w->instance++);
        el(w, n, w->rasd, "ResourceType", "3");
        rasd_u64(w, n, "VirtualQuantity", v->vcpus);
        /* CIM_ProcessorAllocationSettingData properties, which the RASD
         * item's xs:any allows: Glance's ovf_process.py copies every
         * element of this namespace into image properties; VirtualBox,
         * govmomi and virt-v2v do not know them and skip them. */
        el(w, n, w->pasd, "InstructionSet", ids.instruction_set);
        el(w, n, w->pasd, "ProcessorArchitecture", ids.processor_architecture);

        n = item_new(w, vhs, v, true);
        el(w, n, w->rasd, "AllocationUnits", "byte * 2^20");
        el(w, n, w->rasd, "Description", "Memory Size");
        snprintf(buf, sizeof(buf), "%" PRIu64 " MB of memory", v->memory_mib);
        el(w, n, w->rasd, "ElementName", buf);
        rasd_u64(w, n, "InstanceID", w->instance++);
        el(w, n, w->rasd, "ResourceType", "4");
        rasd_u64(w, n, "VirtualQuantity", v->memory_mib);

        n = item_new(w, vhs, v, true);
        el(w, n, w->rasd, "Address", "0");
        el(w, n, w->rasd, "Description", hw.ctrl_type == 6 ? "SCSI controller" : "SATA/NVMe/virtio-scsi controller");
        snprintf(buf, sizeof(buf), "%s disk controller", hw.ctrl_subtype);
        el(w, n, w->rasd, "ElementName", buf);
        ctrl = w->instance++;
        rasd_u64(w, n, "InstanceID", ctrl);
        el(w, n, w->rasd, "ResourceSubType", hw.ctrl_subtype);
        rasd_u64(w, n, "ResourceType", hw.ctrl_type);

        for (size_t j = 0; j < v->n_disks; j++) {
                const struct ovf_disk *k = &d->disks[v->disks[j]];
                n = item_new(w, vhs, v, true);
                rasd_u64(w, n, "AddressOnParent", j);
                snprintf(buf, sizeof(buf), "disk %s", k->id);
                el(w, n, w->rasd, "ElementName", buf);
                snprintf(buf, sizeof(buf), "ovf:/disk/%s", k->id);
                el(w, n, w->rasd, "HostResource", buf);
                rasd_u64(w, n, "InstanceID", w->instance++);
                rasd_u64(w, n, "Parent", ctrl);
                el(w, n, w->rasd, "ResourceType", "17");
        }

        if (v->nic_model) {
                n = item_new(w, vhs, v, true);
                el(w, n, w->rasd, "AddressOnParent", "0");
                el(w, n, w->rasd, "AutomaticAllocation", "true");
                el(w, n, w->rasd, "Connection", "VM Network");
                snprintf(buf, sizeof(buf), "%s network adapter", hw.nic_subtype);
                el(w, n, w->rasd, "ElementName", buf);
                rasd_u64(w, n, "InstanceID", w->instance++);
                el(w, n, w->rasd, "ResourceSubType", hw.nic_subtype);
                el(w, n, w->rasd, "ResourceType", "10");
        }
}

/* VMware's per-VirtualHardwareSection switches (vmw:Config), which cannot
 * vary per configuration: the default configuration's values (an export
 * holds one configuration, so its own). Every vendor hint that belongs to
 * a VM goes here. */
static void write_vendor_config(struct writer *w, xmlNodePtr vhs, const struct ovf_vm *v)
{
        xmlNodePtr n = el(w, vhs, w->vmw, "Config", NULL);

        attr(w, n, w->ovf, "required", "false");
        attr(w, n, w->vmw, "key", "firmware");
        attr(w, n, w->vmw, "value", v->firmware);
        /* Secure Boot: all configurations of one appliance share its system
         * partition, so they all need it or none does; written only when on */
        if (v->secure_boot) {
                n = el(w, vhs, w->vmw, "Config", NULL);
                attr(w, n, w->ovf, "required", "false");
                attr(w, n, w->vmw, "key", "bootOptions.efiSecureBootEnabled");
                attr(w, n, w->vmw, "value", "true");
        }
}

/* The one VirtualHardwareSection, with every configuration's items */
static void write_hardware(struct writer *w, xmlNodePtr vs, const struct ovf_descriptor *d)
{
        struct ovf_hw_profile hw;
        xmlNodePtr vhs, n;

        ovf_hw_profile(w->consumer, d->vms[0].arch, &hw);
        vhs = el(w, vs, w->ovf_default, "VirtualHardwareSection", NULL);
        el(w, vhs, w->ovf_default, "Info", "Virtual hardware, one set of items per configuration");
        n = el(w, vhs, w->ovf_default, "System", NULL);
        el(w, n, w->vssd, "ElementName", "Virtual Hardware Family");
        el(w, n, w->vssd, "InstanceID", "0");
        el(w, n, w->vssd, "VirtualSystemIdentifier", d->name);
        el(w, n, w->vssd, "VirtualSystemType", hw.system_type);
        w->instance = 1;
        for (size_t i = 0; i < d->n_vms; i++)
                write_vm_items(w, vhs, d, &d->vms[i]);
        write_vendor_config(w, vhs, &d->vms[0]);
}

/* VirtualBox's own machine description, which its importer prefers to the
 * OVF items: needed for an Arm VM (<Platform architecture="ARM">), which
 * the OVF items cannot express. Written for an export (one configuration)
 * only; the disks are matched by the vbox:uuid on each ovf:Disk. */
static void write_vbox_machine(struct writer *w, xmlNodePtr vs, const struct ovf_descriptor *d)
{
        const struct ovf_vm *v = &d->vms[0];
        struct ovf_arch_ids ids;
        xmlNodePtr m, hw, n, sc, reg;
        char buf[512], uuid[64];

        ovf_arch_ids(v->arch, &ids);
        m = el(w, vs, w->vbox, "Machine", NULL);
        attr(w, m, w->ovf, "required", "false");
        attr(w, m, NULL, "version", "1.20-linux");
        vbox_uuid(d->name, "machine", uuid, sizeof(uuid));
        attr(w, m, NULL, "uuid", uuid);
        attr(w, m, NULL, "name", d->name);
        attr(w, m, NULL, "OSType", ids.vbox_os_type);
        el(w, m, w->ovf, "Info", "VirtualBox machine configuration in VirtualBox format");
        reg = el(w, m, w->ovf_default, "MediaRegistry", NULL);
        reg = el(w, reg, w->ovf_default, "HardDisks", NULL);
        for (size_t j = 0; j < v->n_disks; j++) {
                const struct ovf_disk *k = &d->disks[v->disks[j]];
                n = el(w, reg, w->ovf_default, "HardDisk", NULL);
                vbox_uuid(d->name, k->id, uuid, sizeof(uuid));
                attr(w, n, NULL, "uuid", uuid);
                attr(w, n, NULL, "location", k->href);
                attr(w, n, NULL, "format", "VMDK");
                attr(w, n, NULL, "type", "Normal");
        }
        hw = el(w, m, w->ovf_default, "Hardware", NULL);
        snprintf(buf, sizeof(buf), "%" PRIu64, v->memory_mib);
        attr(w, el(w, hw, w->ovf_default, "Memory", NULL), NULL, "RAMSize", buf);
        attr(w, el(w, hw, w->ovf_default, "Firmware", NULL), NULL, "type", "EFI");
        sc = el(w, el(w, hw, w->ovf_default, "StorageControllers", NULL), NULL, "StorageController", NULL);
        attr(w, sc, NULL, "name", "VirtioSCSI");
        attr(w, sc, NULL, "type", "VirtioSCSI");
        snprintf(buf, sizeof(buf), "%zu", v->n_disks);
        attr(w, sc, NULL, "PortCount", buf);
        attr(w, sc, NULL, "Bootable", "true");
        for (size_t j = 0; j < v->n_disks; j++) {
                const struct ovf_disk *k = &d->disks[v->disks[j]];
                n = el(w, sc, w->ovf_default, "AttachedDevice", NULL);
                attr(w, n, NULL, "type", "HardDisk");
                snprintf(buf, sizeof(buf), "%zu", j);
                attr(w, n, NULL, "port", buf);
                attr(w, n, NULL, "device", "0");
                vbox_uuid(d->name, k->id, uuid, sizeof(uuid));
                attr(w, el(w, n, w->ovf_default, "Image", NULL), NULL, "uuid", uuid);
        }
        n = el(w, m, w->ovf_default, "Platform", NULL);
        attr(w, n, NULL, "architecture", "ARM");
        attr(w, el(w, n, w->ovf_default, "Chipset", NULL), NULL, "type", "ARMv8Virtual");
        snprintf(buf, sizeof(buf), "%u", v->vcpus);
        attr(w, el(w, n, w->ovf_default, "CPU", NULL), NULL, "count", buf);
}

int ovf_descriptor_write(const struct ovf_descriptor *d, char **ret_xml, size_t *ret_len,
                         struct xerr *e)
{
        return ovf_descriptor_write_for(d, OVF_FOR_ALL, ret_xml, ret_len, e);
}

int ovf_descriptor_write_for(const struct ovf_descriptor *d, enum ovf_consumer c, char **ret_xml, size_t *ret_len,
                             struct xerr *e)
{
        struct writer w = { .consumer = c };
        xmlNodePtr root, vs;
        xmlChar *out = NULL;
        int out_len = 0, r;

        r = ovf_descriptor_validate(d, "descriptor", e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->n_disks; i++)
                if (!d->disks[i].href)
                        return xerr_set(e, -EINVAL, "descriptor", "disk '%s': no file name", d->disks[i].id);

        w.doc = xmlNewDoc((const xmlChar *) "1.0");
        if (!w.doc)
                return xerr_set(e, -ENOMEM, "descriptor", "out of memory");
        root = xmlNewNode(NULL, (const xmlChar *) "Envelope");
        if (!root) {
                xmlFreeDoc(w.doc);
                return xerr_set(e, -ENOMEM, "descriptor", "out of memory");
        }
        xmlDocSetRootElement(w.doc, root);
        w.ovf_default = xmlNewNs(root, (const xmlChar *) OVF_NS, NULL);
        w.ovf = xmlNewNs(root, (const xmlChar *) OVF_NS, (const xmlChar *) "ovf");
        w.rasd = xmlNewNs(root, (const xmlChar *) OVF_RASD_NS, (const xmlChar *) "rasd");
        w.vssd = xmlNewNs(root, (const xmlChar *) OVF_VSSD_NS, (const xmlChar *) "vssd");
        w.vmw = xmlNewNs(root, (const xmlChar *) OVF_VMW_NS, (const xmlChar *) "vmw");
        w.xova = xmlNewNs(root, (const xmlChar *) OVF_XOVA_NS, (const xmlChar *) "xova");
        w.pasd = xmlNewNs(root, (const xmlChar *) OVF_PASD_NS, (const xmlChar *) "pasd");
        /* ovfreader.cpp looks vbox elements up by the prefix "vbox" */
        w.vbox = c == OVF_FOR_VIRTUALBOX ? xmlNewNs(root, (const xmlChar *) OVF_VBOX_NS, (const xmlChar *) "vbox")
                                         : NULL;
        if (!w.ovf_default || !w.ovf || !w.rasd || !w.vssd || !w.vmw || !w.xova || !w.pasd ||
            (c == OVF_FOR_VIRTUALBOX && !w.vbox))
                w.oom = true;
        xmlSetNs(root, w.ovf_default);

        write_disks(&w, root, d);
        write_configurations(&w, root, d);
        vs = write_system(&w, root, d);
        write_hardware(&w, vs, d);
        if (c == OVF_FOR_VIRTUALBOX && d->n_vms == 1) {
                struct ovf_hw_profile hw;
                ovf_hw_profile(c, d->vms[0].arch, &hw);
                if (hw.vbox_machine)
                        write_vbox_machine(&w, vs, d);
        }

        if (!w.oom) {
                xmlDocDumpFormatMemoryEnc(w.doc, &out, &out_len, "UTF-8", 1);
                if (!out)
                        w.oom = true;
        }
        xmlFreeDoc(w.doc);
        if (w.oom)
                return xerr_set(e, -ENOMEM, "descriptor", "out of memory");
        *ret_xml = strndup((const char *) out, (size_t) out_len);
        xmlFree(out);
        if (!*ret_xml)
                return xerr_set(e, -ENOMEM, "descriptor", "out of memory");
        *ret_len = (size_t) out_len;
        return 0;
}

