/* SPDX-License-Identifier: MIT */
/*
 * The domain `xova deploy --connect` defines, written with libxml2's writer
 * (every string escaped by it): the VM definition's CPU count, memory and
 * machine, <os firmware='efi'> so the host picks its own firmware file and
 * NVRAM, one virtio disk per uploaded volume (format explicit), a serial
 * console logged to a file on the host, and in <metadata> the volumes
 * deploy made, which is how undeploy knows what is ours.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "hv/deploy-internal.h"

/* <os>: firmware autoselection by the host. The one writer of <os>; a
 * firmware feature (secure boot) goes in the <firmware> element here. */
static bool write_os_efi(xmlTextWriterPtr w, const struct hv_lv_domain *x)
{
        bool bad = false;

        bad |= xmlTextWriterStartElement(w, BAD_CAST "os") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "firmware", BAD_CAST "efi") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "type") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "arch", BAD_CAST x->ch->vm->arch->libvirt_arch) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "machine", BAD_CAST x->ch->machine) < 0;
        bad |= xmlTextWriterWriteString(w, BAD_CAST "hvm") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        /* A bundle that needs Secure Boot (xova:SecureBoot) asks for firmware
         * with it and the distribution's keys enrolled, as `xova run` picks
         * (libvirt turns SMM on where that firmware needs it). Any other
         * boot chain is not signed by the keys a host's "secure-enrolled"
         * firmware carries: ask for one without them. */
        const char *sb = x->ch->vm->secure_boot ? "yes" : "no";
        bad |= xmlTextWriterStartElement(w, BAD_CAST "firmware") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "feature") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "enabled", BAD_CAST sb) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "enrolled-keys") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "feature") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "enabled", BAD_CAST sb) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "secure-boot") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;  /* firmware */
        bad |= xmlTextWriterEndElement(w) < 0;  /* os */
        return bad;
}

static bool write_metadata(xmlTextWriterPtr w, const struct hv_lv_domain *x)
{
        bool bad = false;

        bad |= xmlTextWriterStartElement(w, BAD_CAST "metadata") < 0;
        bad |= xmlTextWriterStartElementNS(w, BAD_CAST HV_DEPLOY_NS_PREFIX, BAD_CAST "deploy",
                                           BAD_CAST HV_DEPLOY_NS_URI) < 0;
        bad |= xmlTextWriterStartElementNS(w, BAD_CAST HV_DEPLOY_NS_PREFIX, BAD_CAST "bundle", NULL) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST x->d->name) < 0;
        if (x->d->version)
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "version", BAD_CAST x->d->version) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "arch", BAD_CAST x->ch->vm->arch->name) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        for (size_t i = 0; i < x->n_vols; i++) {
                bad |= xmlTextWriterStartElementNS(w, BAD_CAST HV_DEPLOY_NS_PREFIX, BAD_CAST "volume", NULL) < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "pool", BAD_CAST x->pool) < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST x->vols[i].name) < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "disk", BAD_CAST x->vols[i].disk) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
        }
        bad |= xmlTextWriterEndElement(w) < 0;  /* xova:deploy */
        bad |= xmlTextWriterEndElement(w) < 0;  /* metadata */
        return bad;
}

/* NIC, and the serial console: a pty (what virDomainOpenConsole reads)
 * whose output is also logged to a file on the host. */
static bool write_devices(xmlTextWriterPtr w, const struct hv_lv_domain *x)
{
        bool bad = false;

        bad |= xmlTextWriterStartElement(w, BAD_CAST "devices") < 0;
        for (size_t i = 0; i < x->n_vols; i++)
                bad |= hv_xml_disk(w, x->vols[i].path, NULL, NULL, i) < 0;
        if (x->ch->vm->nic_model && *x->ch->vm->nic_model)
                bad |= hv_xml_nic(w, x->network ? "default" : NULL) < 0;
        bad |= hv_xml_serial_console(w, x->console_log) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;  /* devices */
        return bad;
}

static bool write_domain(xmlTextWriterPtr w, const struct hv_lv_domain *x)
{
        const struct ovf_vm *vm = x->ch->vm;
        bool kvm = x->ch->accel == HV_ACCEL_KVM;
        bool bad = false;

        bad |= xmlTextWriterSetIndent(w, 1) < 0;
        bad |= xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "domain") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST (kvm ? "kvm" : "qemu")) < 0;
        bad |= xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST x->name) < 0;
        if (x->d->description)
                bad |= xmlTextWriterWriteElement(w, BAD_CAST "description", BAD_CAST x->d->description) < 0;
        bad |= write_metadata(w, x);
        bad |= xmlTextWriterStartElement(w, BAD_CAST "memory") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "MiB") < 0;
        bad |= xmlTextWriterWriteFormatString(w, "%" PRIu64, vm->memory_mib ? vm->memory_mib : 512) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterWriteFormatElement(w, BAD_CAST "vcpu", "%u", vm->vcpus ? vm->vcpus : 1) < 0;
        bad |= write_os_efi(w, x);
        bad |= xmlTextWriterStartElement(w, BAD_CAST "features") < 0;
        bad |= xmlTextWriterWriteElement(w, BAD_CAST "acpi", NULL) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "cpu") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "mode", BAD_CAST (kvm ? "host-passthrough" : "maximum")) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= write_devices(w, x);
        bad |= xmlTextWriterEndElement(w) < 0;  /* domain */
        bad |= xmlTextWriterEndDocument(w) < 0;
        return bad;
}

int hv_lv_domain_xml(const struct hv_lv_domain *x, char **ret_xml, struct xerr *e)
{
        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
        bool bad = !w;
        char *s = NULL;

        if (w) {
                bad |= write_domain(w, x);
                xmlFreeTextWriter(w);
        }
        if (!bad)
                s = strdup((const char *) xmlBufferContent(buf));
        xmlBufferFree(buf);
        if (!s)
                return xerr_set(e, -ENOMEM, x->name, "cannot write the domain XML: out of memory");
        *ret_xml = s;
        return 0;
}

int hv_lv_domain_volumes(const char *metadata_xml, char ***ret_pools, char ***ret_names, size_t *ret_n,
                         struct xerr *e)
{
        xmlDocPtr doc = xmlReadMemory(metadata_xml, (int) strlen(metadata_xml), "metadata.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
        xmlXPathObjectPtr o = NULL;
        char **pools = NULL, **names = NULL;
        size_t n = 0;
        int r = 0;

        if (!ctx || xmlXPathRegisterNs(ctx, BAD_CAST "x", BAD_CAST HV_DEPLOY_NS_URI) < 0) {
                r = xerr_set(e, -EPROTO, "metadata", "cannot parse the domain's xova metadata");
                goto out;
        }
        /* libvirt hands the element back without its namespace */
        o = xmlXPathEvalExpression(BAD_CAST "/deploy/volume | /x:deploy/x:volume", ctx);
        int total = o && o->nodesetval ? o->nodesetval->nodeNr : 0;
        pools = calloc((size_t) total + 1, sizeof(*pools));
        names = calloc((size_t) total + 1, sizeof(*names));
        if (!pools || !names) {
                r = xerr_set(e, -ENOMEM, "metadata", "out of memory");
                goto out;
        }
        for (int i = 0; i < total; i++) {
                xmlChar *p = xmlGetProp(o->nodesetval->nodeTab[i], BAD_CAST "pool");
                xmlChar *v = xmlGetProp(o->nodesetval->nodeTab[i], BAD_CAST "name");
                if (p && v) {
                        pools[n] = strdup((const char *) p);
                        names[n] = strdup((const char *) v);
                        if (!pools[n] || !names[n]) {
                                free(pools[n]);
                                free(names[n]);
                                pools[n] = names[n] = NULL;
                                r = xerr_set(e, -ENOMEM, "metadata", "out of memory");
                        } else {
                                n++;
                        }
                }
                xmlFree(p);
                xmlFree(v);
        }
        if (r == 0) {
                *ret_pools = pools;
                *ret_names = names;
                *ret_n = n;
                pools = names = NULL;
        }
out:
        for (size_t i = 0; pools && pools[i]; i++)
                free(pools[i]);
        for (size_t i = 0; names && names[i]; i++)
                free(names[i]);
        free(pools);
        free(names);
        xmlXPathFreeObject(o);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return r;
}
