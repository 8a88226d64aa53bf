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
        xmlNsPtr ovf_default, ovf, rasd, vssd, vmw, xova;
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
        }
}

/* NetworkSection (when a VM has a NIC) and DeploymentOptionSection: one
 * Configuration per architecture, carrying our markers */
static void write_configurations(struct writer *w, xmlNodePtr root, const struct ovf_descriptor *d)
{
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
                write_secure_boot_marker(w, n, v);
        }
}

/* VirtualSystem with its Product, Annotation and OperatingSystem sections */
static xmlNodePtr write_system(struct writer *w, xmlNodePtr root, const struct ovf_descriptor *d)
{
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

        /* The section cannot vary per configuration: the default arch's hint. */
        sec = el(w, vs, w->ovf_default, "OperatingSystemSection", NULL);
        snprintf(buf, sizeof(buf), "%u", d->vms[0].arch->ovf_os_id);
        attr(w, sec, w->ovf, "id", buf);
        attr(w, sec, w->vmw, "osType", d->vms[0].arch->vmw_os_type);
        el(w, sec, w->ovf_default, "Info", "The guest operating system");
        el(w, sec, w->ovf_default, "Description", "Linux (64-bit)");

        return vs;
}

/* The items of one configuration: CPUs, memory, disk controller, disks,
 * NIC, serial console (RASD children in the CIM schema's alphabetical
 * order) */
static void write_vm_items(struct writer *w, xmlNodePtr vhs, const struct ovf_descriptor *d,
                           const struct ovf_vm *v)
{
        xmlNodePtr n;
        char buf[512];
        unsigned ctrl;

        n = item_new(w, vhs, v, true);
        el(w, n, w->rasd, "AllocationUnits", "hertz * 10^6");
        el(w, n, w->rasd, "Description", "Number of virtual CPUs");
        snprintf(buf, sizeof(buf), "%u virtual CPU(s)", v->vcpus);
        el(w, n, w->rasd, "ElementName", buf);
        rasd_u64(w, n, "InstanceID", w->instance++);
        el(w, n, w->rasd, "ResourceType", "3");
        rasd_u64(w, n, "VirtualQuantity", v->vcpus);

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
        el(w, n, w->rasd, "Description", "Disk controller");
        snprintf(buf, sizeof(buf), "%s disk controller", v->disk_bus);
        el(w, n, w->rasd, "ElementName", buf);
        ctrl = w->instance++;
        rasd_u64(w, n, "InstanceID", ctrl);
        el(w, n, w->rasd, "ResourceSubType", v->disk_bus);
        el(w, n, w->rasd, "ResourceType", "20");

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
                snprintf(buf, sizeof(buf), "%s network adapter", v->nic_model);
                el(w, n, w->rasd, "ElementName", buf);
                rasd_u64(w, n, "InstanceID", w->instance++);
                el(w, n, w->rasd, "ResourceSubType", v->nic_model);
                el(w, n, w->rasd, "ResourceType", "10");
        }

        if (v->console) {
                /* optional: a consumer without serial ports may drop it */
                n = item_new(w, vhs, v, false);
                el(w, n, w->rasd, "AutomaticAllocation", "true");
                el(w, n, w->rasd, "Description", "Serial console");
                el(w, n, w->rasd, "ElementName", "serial0");
                rasd_u64(w, n, "InstanceID", w->instance++);
                el(w, n, w->rasd, "ResourceType", "21");
        }
}

/* VMware's Secure Boot switch, beside its firmware switch in the
 * VirtualHardwareSection (vmw:Config is not per configuration; every
 * configuration of one appliance shares its system partition, so they all
 * need Secure Boot or none does). Only written when it is on. */
static void write_secure_boot_hint(struct writer *w, xmlNodePtr vhs, const struct ovf_descriptor *d)
{
        xmlNodePtr n;

        if (d->n_vms == 0 || !d->vms[0].secure_boot)
                return;
        n = el(w, vhs, w->vmw, "Config", NULL);
        attr(w, n, w->ovf, "required", "false");
        attr(w, n, w->vmw, "key", "bootOptions.efiSecureBootEnabled");
        attr(w, n, w->vmw, "value", "true");
}

/* The one VirtualHardwareSection, with every configuration's items */
static void write_hardware(struct writer *w, xmlNodePtr vs, const struct ovf_descriptor *d)
{
        xmlNodePtr vhs, n;

        vhs = el(w, vs, w->ovf_default, "VirtualHardwareSection", NULL);
        el(w, vhs, w->ovf_default, "Info", "Virtual hardware, one set of items per configuration");
        n = el(w, vhs, w->ovf_default, "System", NULL);
        el(w, n, w->vssd, "ElementName", "Virtual Hardware Family");
        el(w, n, w->vssd, "InstanceID", "0");
        el(w, n, w->vssd, "VirtualSystemIdentifier", d->name);
        el(w, n, w->vssd, "VirtualSystemType", "vmx-14");
        w->instance = 1;
        for (size_t i = 0; i < d->n_vms; i++)
                write_vm_items(w, vhs, d, &d->vms[i]);
        /* VMware's firmware switch; not per configuration, and every arch xova
         * builds for boots UEFI, so the default configuration's value. */
        n = el(w, vhs, w->vmw, "Config", NULL);
        attr(w, n, w->ovf, "required", "false");
        attr(w, n, w->vmw, "key", "firmware");
        attr(w, n, w->vmw, "value", d->vms[0].firmware);
        write_secure_boot_hint(w, vhs, d);
}

int ovf_descriptor_write(const struct ovf_descriptor *d, char **ret_xml, size_t *ret_len,
                         struct xerr *e)
{
        struct writer w = { 0 };
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
        if (!w.ovf_default || !w.ovf || !w.rasd || !w.vssd || !w.vmw || !w.xova)
                w.oom = true;
        xmlSetNs(root, w.ovf_default);

        write_disks(&w, root, d);
        write_configurations(&w, root, d);
        vs = write_system(&w, root, d);
        write_hardware(&w, vs, d);

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

