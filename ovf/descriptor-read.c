/* SPDX-License-Identifier: MIT */
/*
 * The hardened OVF descriptor reader (libxml2). The document is hostile:
 * no DOCTYPE at all (so no entities, external or expanding), no network,
 * no entity substitution, a size cap, strict namespaces, bare member names,
 * bounded numbers, and one of each element the model holds one of.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "ovf/ovf-internal.h"

/* ---- reader ------------------------------------------------------------ */

struct reader {
        const char *where;
        struct xerr *e;
        struct ovf_descriptor *d;
        /* References */
        struct file {
                char *id, *href;
                uint64_t size;
                bool used;
        } files[OVF_MAX_DISKS];
        size_t n_files;
        /* address of each attached disk, parallel to d->vms[].disks */
        uint64_t *addr[OVF_MAX_VMS];
        /* optional markers of each configuration: xova's own hardware,
         * which overrides what the items say for other importers */
        char *disk_bus[OVF_MAX_VMS], *nic_model[OVF_MAX_VMS], *console[OVF_MAX_VMS];
};

static bool is(xmlNodePtr n, const char *ns, const char *name)
{
        return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
               strcmp((const char *) n->ns->href, ns) == 0 && strcmp((const char *) n->name, name) == 0;
}

static xmlNodePtr first_child(xmlNodePtr parent, const char *ns, const char *name)
{
        for (xmlNodePtr c = parent->children; c; c = c->next)
                if (is(c, ns, name))
                        return c;
        return NULL;
}

static int bad(struct reader *rd, xmlNodePtr n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct reader *rd, xmlNodePtr n, const char *fmt, ...)
{
        char msg[400];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* element names and values come from the bundle: callers quote
         * values with XOVA_ESC, the element name is escaped here */
        return xerr_set(rd->e, -EBADMSG, rd->where, "line %ld: <%s>: %s", n ? xmlGetLineNo(n) : 0L,
                        n ? XOVA_ESC((const char *) n->name) : "?", msg);
}

/*
 * The one child ns:name of parent in *ret (NULL if none; an error if
 * required). A second one is refused: each reader keeps the first or the
 * last, and a second References or DiskSection, whose hrefs nothing would
 * check, or a second xova:Architecture marker, would mean one thing to us
 * and another to the next consumer.
 */
static int only_child(struct reader *rd, xmlNodePtr parent, const char *ns, const char *name, bool required,
                      xmlNodePtr *ret)
{
        xmlNodePtr c = first_child(parent, ns, name);

        *ret = c;
        if (!c)
                return required ? bad(rd, parent, "element <%s> missing", name) : 0;
        for (xmlNodePtr n = c->next; n; n = n->next)
                if (is(n, ns, name))
                        return bad(rd, n, "a second <%s> (the first is on line %ld; readers differ on which "
                                   "one counts)", name, xmlGetLineNo(c));
        return 0;
}

/* Attribute in the OVF (or another) namespace, borrowed-free copy in *ret. */
static int get_attr(struct reader *rd, xmlNodePtr n, const char *ns, const char *name, bool required,
                    char **ret)
{
        xmlChar *v = xmlGetNsProp(n, (const xmlChar *) name, (const xmlChar *) ns);

        if (!v) {
                *ret = NULL;
                if (required)
                        return bad(rd, n, "attribute %s:%s missing", strcmp(ns, OVF_NS) == 0 ? "ovf" : "xova",
                                   name);
                return 0;
        }
        *ret = strdup((const char *) v);
        xmlFree(v);
        if (!*ret)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        return 0;
}

static int parse_u64(struct reader *rd, xmlNodePtr n, const char *what, const char *s, uint64_t max,
                     uint64_t *ret)
{
        uint64_t v;

        if (!s || xova_parse_u64(s, &v) < 0)
                return bad(rd, n, "%s '%s' is not a decimal number", what, XOVA_ESC(s));
        if (v > max)
                return bad(rd, n, "%s %" PRIu64 " exceeds the limit of %" PRIu64, what, v, max);
        *ret = v;
        return 0;
}

static int get_attr_u64(struct reader *rd, xmlNodePtr n, const char *name, bool required, uint64_t max,
                        uint64_t *ret)
{
        _cleanup_free_ char *s = NULL;
        char what[64];
        int r;

        r = get_attr(rd, n, OVF_NS, name, required, &s);
        if (r < 0 || !s)
                return r;
        snprintf(what, sizeof(what), "ovf:%s", name);
        return parse_u64(rd, n, what, s, max, ret);
}

static char *text_of(xmlNodePtr n)
{
        xmlChar *c = xmlNodeGetContent(n);
        char *s;

        if (!c)
                return strdup("");
        s = strdup((const char *) c);
        xmlFree(c);
        return s;
}

/* Element text, trimmed of surrounding white space (pretty printing). */
static int child_text(struct reader *rd, xmlNodePtr parent, const char *ns, const char *name, bool required,
                      char **ret)
{
        xmlNodePtr c;
        char *s, *p;
        size_t len;
        int r;

        *ret = NULL;
        r = only_child(rd, parent, ns, name, required, &c);
        if (r < 0 || !c)
                return r;
        s = text_of(c);
        if (!s)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        for (p = s; *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'; p++)
                ;
        memmove(s, p, strlen(p) + 1);
        len = strlen(s);
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
                s[--len] = '\0';
        *ret = s;
        return 0;
}

static int read_references(struct reader *rd, xmlNodePtr refs)
{
        for (xmlNodePtr f = refs->children; f; f = f->next) {
                struct file *fi;
                const char *why;
                int r;

                if (f->type != XML_ELEMENT_NODE)
                        continue;
                if (!is(f, OVF_NS, "File"))
                        return bad(rd, f, "unexpected element in References");
                if (rd->n_files >= OVF_MAX_DISKS)
                        return bad(rd, f, "more than %d files", OVF_MAX_DISKS);
                fi = &rd->files[rd->n_files++];
                r = get_attr(rd, f, OVF_NS, "id", true, &fi->id);
                if (r < 0)
                        return r;
                r = get_attr(rd, f, OVF_NS, "href", true, &fi->href);
                if (r < 0)
                        return r;
                if ((why = ovf_id_problem(fi->id)))
                        return bad(rd, f, "ovf:id '%s': %s", XOVA_ESC(fi->id), why);
                if ((why = ovf_member_name_problem(fi->href)))
                        return bad(rd, f, "ovf:href '%s': %s", XOVA_ESC(fi->href), why);
                r = get_attr_u64(rd, f, "size", true, OVF_MAX_MEMBER, &fi->size);
                if (r < 0)
                        return r;
                if (xmlHasNsProp(f, (const xmlChar *) "compression", (const xmlChar *) OVF_NS) ||
                    xmlHasNsProp(f, (const xmlChar *) "chunkSize", (const xmlChar *) OVF_NS))
                        return bad(rd, f, "ovf:compression and ovf:chunkSize are not supported");
                for (size_t i = 0; i + 1 < rd->n_files; i++) {
                        if (strcmp(rd->files[i].id, fi->id) == 0)
                                return bad(rd, f, "duplicate ovf:id '%s'", XOVA_ESC(fi->id));
                        if (strcmp(rd->files[i].href, fi->href) == 0)
                                return bad(rd, f, "duplicate ovf:href '%s'", XOVA_ESC(fi->href));
                }
        }
        return 0;
}

static int read_disks(struct reader *rd, xmlNodePtr sec)
{
        struct ovf_descriptor *d = rd->d;
        size_t n = 0;

        for (xmlNodePtr c = sec->children; c; c = c->next)
                if (is(c, OVF_NS, "Disk"))
                        n++;
        if (n == 0)
                return bad(rd, sec, "no Disk");
        if (n > OVF_MAX_DISKS)
                return bad(rd, sec, "%zu disks, more than %d", n, OVF_MAX_DISKS);
        d->disks = calloc(n, sizeof(*d->disks));
        if (!d->disks)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        for (xmlNodePtr c = sec->children; c; c = c->next) {
                _cleanup_free_ char *fileref = NULL, *format = NULL, *units = NULL, *arch = NULL;
                struct ovf_disk *k;
                struct file *fi = NULL;
                const char *why;
                int r;

                if (!is(c, OVF_NS, "Disk"))
                        continue;
                k = &d->disks[d->n_disks++];
                r = get_attr(rd, c, OVF_NS, "diskId", true, &k->id);
                if (r < 0)
                        return r;
                if ((why = ovf_id_problem(k->id)))
                        return bad(rd, c, "ovf:diskId '%s': %s", XOVA_ESC(k->id), why);
                for (size_t i = 0; i + 1 < d->n_disks; i++)
                        if (strcmp(d->disks[i].id, k->id) == 0)
                                return bad(rd, c, "duplicate ovf:diskId '%s'", XOVA_ESC(k->id));
                r = get_attr(rd, c, OVF_NS, "fileRef", true, &fileref);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < rd->n_files; i++)
                        if (strcmp(rd->files[i].id, fileref) == 0)
                                fi = &rd->files[i];
                if (!fi)
                        return bad(rd, c, "ovf:fileRef '%s' names no File in References", XOVA_ESC(fileref));
                if (fi->used)
                        return bad(rd, c, "ovf:fileRef '%s' is used by another disk", XOVA_ESC(fileref));
                fi->used = true;
                k->href = strdup(fi->href);
                if (!k->href)
                        return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
                k->file_size = fi->size;
                r = get_attr(rd, c, OVF_NS, "capacityAllocationUnits", false, &units);
                if (r < 0)
                        return r;
                if (units && strcmp(units, "byte") != 0)
                        return bad(rd, c, "ovf:capacityAllocationUnits '%s' (only 'byte' is supported)", XOVA_ESC(units));
                r = get_attr_u64(rd, c, "capacity", true, OVF_MAX_CAPACITY, &k->capacity);
                if (r < 0)
                        return r;
                r = get_attr_u64(rd, c, "populatedSize", false, OVF_MAX_CAPACITY, &k->populated);
                if (r < 0)
                        return r;
                r = get_attr(rd, c, OVF_NS, "format", true, &format);
                if (r < 0)
                        return r;
                if (strcmp(format, OVF_FORMAT_VMDK_STREAM) == 0)
                        k->format = OVF_DISK_VMDK_STREAM;
                else if (strcmp(format, OVF_FORMAT_RAW) == 0)
                        k->format = OVF_DISK_RAW;
                else
                        return bad(rd, c, "ovf:format '%s' is not supported (want streamOptimized VMDK)", XOVA_ESC(format));
                r = get_attr(rd, c, OVF_XOVA_NS, "role", false, &k->role);
                if (r < 0)
                        return r;
                if (!k->role && !(k->role = strdup("disk")))
                        return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
                if ((why = ovf_id_problem(k->role)))
                        return bad(rd, c, "xova:role '%s': %s", XOVA_ESC(k->role), why);
                r = get_attr(rd, c, OVF_XOVA_NS, "architecture", false, &arch);
                if (r < 0)
                        return r;
                if (arch && !(k->arch = xova_arch_by_name(arch)))
                        return bad(rd, c, "xova:architecture '%s' is not a known architecture", XOVA_ESC(arch));
        }
        for (size_t i = 0; i < rd->n_files; i++)
                if (!rd->files[i].used)
                        return bad(rd, sec, "File '%s' ('%s') is used by no Disk", XOVA_ESC(rd->files[i].id),
                                   XOVA_ESC(rd->files[i].href));
        return 0;
}

/* A marker's value: xova:NAME inside a Configuration. */
static int marker_text_opt(struct reader *rd, xmlNodePtr conf, const char *name, bool required, char **ret)
{
        const char *why = NULL;
        int r;

        r = child_text(rd, conf, OVF_XOVA_NS, name, required, ret);
        if (r < 0 || !*ret)
                return r;
        if ((why = ovf_id_problem(*ret)))
                return bad(rd, first_child(conf, OVF_XOVA_NS, name), "'%s': %s", XOVA_ESC(*ret), why);
        return 0;
}

static int marker_text(struct reader *rd, xmlNodePtr conf, const char *name, char **ret)
{
        return marker_text_opt(rd, conf, name, true, ret);
}

/* xova:SecureBoot (optional): "true" = the configuration needs UEFI
 * Secure Boot; absent = it does not */
static int read_secure_boot_marker(struct reader *rd, xmlNodePtr conf, struct ovf_vm *v)
{
        _cleanup_free_ char *sb = NULL;
        int r;

        r = child_text(rd, conf, OVF_XOVA_NS, "SecureBoot", false, &sb);
        if (r < 0)
                return r;
        if (sb && strcmp(sb, "true") != 0 && strcmp(sb, "false") != 0)
                return bad(rd, first_child(conf, OVF_XOVA_NS, "SecureBoot"), "'%s': expected true or false",
                           XOVA_ESC(sb));
        v->secure_boot = sb && strcmp(sb, "true") == 0;
        return 0;
}

static int read_configurations(struct reader *rd, xmlNodePtr sec)
{
        struct ovf_descriptor *d = rd->d;
        size_t n = 0;

        for (xmlNodePtr c = sec->children; c; c = c->next)
                if (is(c, OVF_NS, "Configuration"))
                        n++;
        if (n == 0 || n > OVF_MAX_VMS)
                return bad(rd, sec, "%zu configurations (want 1 to %d)", n, OVF_MAX_VMS);
        d->vms = calloc(n, sizeof(*d->vms));
        if (!d->vms)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        for (xmlNodePtr c = sec->children; c; c = c->next) {
                _cleanup_free_ char *id = NULL, *arch = NULL;
                struct ovf_vm *v;
                int r;

                if (!is(c, OVF_NS, "Configuration"))
                        continue;
                v = &d->vms[d->n_vms++];
                r = get_attr(rd, c, OVF_NS, "id", true, &id);
                if (r < 0)
                        return r;
                r = child_text(rd, c, OVF_XOVA_NS, "Architecture", true, &arch);
                if (r < 0)
                        return r;
                v->arch = xova_arch_by_name(arch);
                if (!v->arch)
                        return bad(rd, first_child(c, OVF_XOVA_NS, "Architecture"),
                                   "'%s' is not a known architecture", XOVA_ESC(arch));
                /* configuration ids are what Items refer to; we name them by arch */
                if (strcmp(id, arch) != 0)
                        return bad(rd, c, "ovf:id '%s' differs from its xova:Architecture '%s'", XOVA_ESC(id),
                                   XOVA_ESC(arch));
                for (size_t i = 0; i + 1 < d->n_vms; i++)
                        if (d->vms[i].arch == v->arch)
                                return bad(rd, c, "duplicate configuration '%s'", XOVA_ESC(id));
                r = marker_text(rd, c, "Machine", &v->machine);
                if (r < 0)
                        return r;
                r = marker_text(rd, c, "Firmware", &v->firmware);
                if (r < 0)
                        return r;
                r = marker_text_opt(rd, c, "DiskBus", false, &rd->disk_bus[d->n_vms - 1]);
                if (r == 0)
                        r = marker_text_opt(rd, c, "NicModel", false, &rd->nic_model[d->n_vms - 1]);
                if (r == 0)
                        r = marker_text_opt(rd, c, "Console", false, &rd->console[d->n_vms - 1]);
                if (r == 0)
                        r = read_secure_boot_marker(rd, c, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int rasd_text(struct reader *rd, xmlNodePtr item, const char *name, char **ret)
{
        return child_text(rd, item, OVF_RASD_NS, name, false, ret);
}

static int attach_disk(struct reader *rd, xmlNodePtr item, size_t vm, size_t disk, uint64_t addr)
{
        struct ovf_vm *v = &rd->d->vms[vm];
        size_t *nd;
        uint64_t *na;
        size_t pos;

        if (v->n_disks >= OVF_MAX_DISKS)
                return bad(rd, item, "more than %d disks", OVF_MAX_DISKS);
        nd = realloc(v->disks, (v->n_disks + 1) * sizeof(*nd));
        if (!nd)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        v->disks = nd;
        na = realloc(rd->addr[vm], (v->n_disks + 1) * sizeof(*na));
        if (!na)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        rd->addr[vm] = na;
        /* keep the list in AddressOnParent order: the boot disk is address 0 */
        for (pos = v->n_disks; pos > 0 && na[pos - 1] > addr; pos--) {
                na[pos] = na[pos - 1];
                nd[pos] = nd[pos - 1];
        }
        if (pos > 0 && na[pos - 1] == addr)
                return bad(rd, item, "two disks at AddressOnParent %" PRIu64 " in configuration '%s'", addr,
                           v->arch->name);
        na[pos] = addr;
        nd[pos] = disk;
        v->n_disks++;
        return 0;
}

/* The model holds one of each per configuration: with two, the first or
 * the last would win, and readers differ on which. */
static int second_item(struct reader *rd, xmlNodePtr item, const char *what, const struct ovf_vm *vm)
{
        return bad(rd, item, "a second %s item for configuration '%s'", what, vm->arch->name);
}

static int read_item(struct reader *rd, xmlNodePtr item)
{
        struct ovf_descriptor *d = rd->d;
        _cleanup_free_ char *confs = NULL, *type = NULL, *qty = NULL, *units = NULL, *host = NULL,
                            *subtype = NULL, *addr = NULL;
        bool applies[OVF_MAX_VMS] = { false };
        uint64_t rt, v = 0, a = 0;
        int r;

        r = get_attr(rd, item, OVF_NS, "configuration", false, &confs);
        if (r < 0)
                return r;
        if (confs) {
                /* a space-separated list of configuration ids */
                char *save = NULL;
                for (char *tok = strtok_r(confs, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
                        size_t i;
                        for (i = 0; i < d->n_vms; i++)
                                if (strcmp(d->vms[i].arch->name, tok) == 0)
                                        break;
                        if (i == d->n_vms)
                                return bad(rd, item, "ovf:configuration '%s' is not in DeploymentOptionSection",
                                           XOVA_ESC(tok));
                        applies[i] = true;
                }
        } else {
                for (size_t i = 0; i < d->n_vms; i++)
                        applies[i] = true;
        }
        if ((r = rasd_text(rd, item, "ResourceType", &type)) < 0 ||
            (r = rasd_text(rd, item, "VirtualQuantity", &qty)) < 0 ||
            (r = rasd_text(rd, item, "AllocationUnits", &units)) < 0 ||
            (r = rasd_text(rd, item, "HostResource", &host)) < 0 ||
            (r = rasd_text(rd, item, "ResourceSubType", &subtype)) < 0 ||
            (r = rasd_text(rd, item, "AddressOnParent", &addr)) < 0)
                return r;
        if (!type)
                return bad(rd, item, "rasd:ResourceType missing");
        r = parse_u64(rd, item, "rasd:ResourceType", type, 0xffff, &rt);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->n_vms; i++) {
                struct ovf_vm *vm = &d->vms[i];
                if (!applies[i])
                        continue;
                switch (rt) {
                case 3: /* processor */
                        if (vm->vcpus)
                                return second_item(rd, item, "processor", vm);
                        r = parse_u64(rd, item, "rasd:VirtualQuantity", qty, OVF_MAX_VCPUS, &v);
                        if (r < 0)
                                return r;
                        vm->vcpus = (unsigned) v;
                        break;
                case 4: /* memory */
                        if (vm->memory_mib)
                                return second_item(rd, item, "memory", vm);
                        if (!units || (strcmp(units, "byte * 2^20") != 0 && strcmp(units, "MegaBytes") != 0))
                                return bad(rd, item, "memory rasd:AllocationUnits '%s' (want 'byte * 2^20')",
                                           XOVA_ESC(units));
                        r = parse_u64(rd, item, "rasd:VirtualQuantity", qty, OVF_MAX_MEMORY_MIB, &vm->memory_mib);
                        if (r < 0)
                                return r;
                        break;
                case 5: case 6: case 20: /* IDE, SCSI, other storage controller */
                        if (vm->disk_bus)
                                return second_item(rd, item, "disk controller", vm);
                        vm->disk_bus = strdup(subtype ? subtype : "virtio");
                        if (!vm->disk_bus)
                                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
                        break;
                case 10: /* ethernet */
                        if (vm->nic_model)
                                return second_item(rd, item, "network adapter", vm);
                        vm->nic_model = strdup(subtype ? subtype : "virtio");
                        if (!vm->nic_model)
                                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
                        break;
                case 21: /* serial port */
                        if (vm->console)
                                return second_item(rd, item, "serial port", vm);
                        vm->console = strdup("serial");
                        if (!vm->console)
                                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
                        break;
                case 17: { /* disk drive */
                        size_t k;
                        if (!host || strncmp(host, "ovf:/disk/", 10) != 0)
                                return bad(rd, item, "rasd:HostResource '%s' (want 'ovf:/disk/ID')",
                                           XOVA_ESC(host));
                        for (k = 0; k < d->n_disks; k++)
                                if (strcmp(d->disks[k].id, host + 10) == 0)
                                        break;
                        if (k == d->n_disks)
                                return bad(rd, item, "rasd:HostResource '%s' names no Disk", XOVA_ESC(host));
                        a = 0;
                        if (addr) {
                                r = parse_u64(rd, item, "rasd:AddressOnParent", addr, 1024, &a);
                                if (r < 0)
                                        return r;
                        } else {
                                a = 1024 + vm->n_disks; /* unaddressed: after the rest, in order */
                        }
                        r = attach_disk(rd, item, i, k, a);
                        if (r < 0)
                                return r;
                        break;
                }
                default:
                        /* other hardware: not part of our model, ignored like any consumer would */
                        break;
                }
        }
        return 0;
}

/* Cheap byte scan before libxml2 sees anything: no DOCTYPE means no
 * entity declarations, so neither external entities nor expansion bombs. */
static int prescan(const char *xml, size_t len, const char *where, struct xerr *e)
{
        unsigned line = 1;

        if (len > OVF_MAX_DESCRIPTOR)
                return xerr_set(e, -EFBIG, where, "descriptor is %zu bytes, more than the limit of %d",
                                len, OVF_MAX_DESCRIPTOR);
        for (size_t i = 0; i < len; i++) {
                if (xml[i] == '\n')
                        line++;
                else if (xml[i] == '\0')
                        /* also what UTF-16/32 look like: we read UTF-8 only */
                        return xerr_set(e, -EBADMSG, where, "line %u: NUL byte (the descriptor must be UTF-8)", line);
                else if (xml[i] == '<' && len - i >= 9 && memcmp(xml + i, "<!DOCTYPE", 9) == 0)
                        return xerr_set(e, -EBADMSG, where, "line %u: DOCTYPE is not allowed in a descriptor", line);
                else if (xml[i] == '<' && len - i >= 8 && memcmp(xml + i, "<!ENTITY", 8) == 0)
                        return xerr_set(e, -EBADMSG, where, "line %u: ENTITY is not allowed in a descriptor", line);
        }
        return 0;
}

/* References, DiskSection, DeploymentOptionSection: one each */
static int read_sections(struct reader *rd, xmlNodePtr root)
{
        xmlNodePtr sec;
        int r;

        r = only_child(rd, root, OVF_NS, "References", false, &sec);
        if (r < 0)
                return r;
        if (!sec)
                return bad(rd, root, "no References");
        r = read_references(rd, sec);
        if (r < 0)
                return r;
        r = only_child(rd, root, OVF_NS, "DiskSection", false, &sec);
        if (r < 0)
                return r;
        if (!sec)
                return bad(rd, root, "no DiskSection");
        r = read_disks(rd, sec);
        if (r < 0)
                return r;
        r = only_child(rd, root, OVF_NS, "DeploymentOptionSection", false, &sec);
        if (r < 0)
                return r;
        if (!sec)
                return bad(rd, root, "no DeploymentOptionSection (xova descriptors have one configuration per architecture)");
        r = read_configurations(rd, sec);
        if (r < 0)
                return r;
        return 0;
}

/* The one VirtualSystem: its id (the name), product, annotation and the
 * one VirtualHardwareSection, whose items complete every configuration */
static int read_virtual_system(struct reader *rd, xmlNodePtr root)
{
        xmlNodePtr sec, vs = NULL, vhs = NULL;
        int r;

        if (first_child(root, OVF_NS, "VirtualSystemCollection"))
                return bad(rd, root, "VirtualSystemCollection is not supported (one VirtualSystem expected)");
        for (xmlNodePtr c = root->children; c; c = c->next)
                if (is(c, OVF_NS, "VirtualSystem")) {
                        if (vs)
                                return bad(rd, c, "more than one VirtualSystem");
                        vs = c;
                }
        if (!vs)
                return bad(rd, root, "no VirtualSystem");
        r = get_attr(rd, vs, OVF_NS, "id", true, &rd->d->name);
        if (r < 0)
                return r;
        r = only_child(rd, vs, OVF_NS, "ProductSection", false, &sec);
        if (r < 0)
                return r;
        if (!sec)
                return bad(rd, vs, "no ProductSection");
        if ((r = child_text(rd, sec, OVF_NS, "Version", true, &rd->d->version)) < 0 ||
            (r = child_text(rd, sec, OVF_NS, "Vendor", false, &rd->d->vendor)) < 0)
                return r;
        r = only_child(rd, vs, OVF_NS, "AnnotationSection", false, &sec);
        if (r < 0)
                return r;
        if (sec) {
                xmlNodePtr a;
                r = only_child(rd, sec, OVF_NS, "Annotation", false, &a);
                if (r < 0)
                        return r;
                /* free text: kept as written, only what the writer put in */
                if (a && !(rd->d->description = text_of(a)))
                        return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        }
        for (xmlNodePtr c = vs->children; c; c = c->next)
                if (is(c, OVF_NS, "VirtualHardwareSection")) {
                        if (vhs)
                                return bad(rd, c, "more than one VirtualHardwareSection (xova uses one, with "
                                           "per-configuration items)");
                        vhs = c;
                }
        if (!vhs)
                return bad(rd, vs, "no VirtualHardwareSection");
        for (xmlNodePtr c = vhs->children; c; c = c->next)
                if (is(c, OVF_NS, "Item")) {
                        r = read_item(rd, c);
                        if (r < 0)
                                return r;
                }
        /* xova's markers name the hardware xova gives the VM (virtio, a
         * serial console) where the items name what every importer
         * accepts (SCSI, E1000, no serial item: see consumer.c) */
        for (size_t i = 0; i < rd->d->n_vms; i++) {
                struct ovf_vm *v = &rd->d->vms[i];
                if (rd->disk_bus[i] && v->disk_bus) {
                        free(v->disk_bus);
                        v->disk_bus = TAKE_PTR(rd->disk_bus[i]);
                }
                if (rd->nic_model[i] && v->nic_model) {
                        free(v->nic_model);
                        v->nic_model = TAKE_PTR(rd->nic_model[i]);
                }
                if (rd->console[i] && !v->console)
                        v->console = TAKE_PTR(rd->console[i]);
        }
        for (size_t i = 0; i < rd->d->n_vms; i++) {
                struct ovf_vm *v = &rd->d->vms[i];
                if (!v->vcpus || !v->memory_mib || !v->n_disks || !v->disk_bus)
                        return bad(rd, vhs, "configuration '%s' lacks %s", v->arch->name,
                                   !v->vcpus ? "a processor item" : !v->memory_mib ? "a memory item" :
                                   !v->n_disks ? "disk items" : "a disk controller item");
        }
        return 0;
}

int ovf_descriptor_parse(const char *xml, size_t len, const char *where, struct ovf_descriptor **ret,
                         struct xerr *e)
{
        struct ovf_descriptor *d = NULL;
        struct reader rd = { .where = where, .e = e };
        xmlParserCtxtPtr ctxt = NULL;
        xmlDocPtr doc = NULL;
        xmlNodePtr root;
        int r;

        if (!where)
                rd.where = where = "descriptor";
        r = prescan(xml, len, where, e);
        if (r < 0)
                return r;
        if (len > INT32_MAX)
                return xerr_set(e, -EFBIG, where, "descriptor too large");
        d = calloc(1, sizeof(*d));
        ctxt = xmlNewParserCtxt();
        if (!d || !ctxt) {
                xmlFreeParserCtxt(ctxt);
                free(d);
                return xerr_set(e, -ENOMEM, where, "out of memory");
        }
        rd.d = d;
        /* NONET: never fetch; no NOENT/DTDLOAD/DTDATTR/HUGE: no entity
         * substitution, no external subset, default depth and size limits.
         * The encoding is forced to UTF-8 so the byte scan above saw what
         * the parser sees. */
        doc = xmlCtxtReadMemory(ctxt, xml, (int) len, NULL, "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
        if (!doc) {
                const xmlError *xe = xmlCtxtGetLastError(ctxt);
                char msg[256];
                snprintf(msg, sizeof(msg), "%s", xe && xe->message ? xe->message : "not well-formed");
                msg[strcspn(msg, "\n")] = '\0';
                r = xerr_set(e, -EBADMSG, where, "line %d: not well-formed XML: %s", xe ? xe->line : 0,
                             XOVA_ESC(msg));
                xmlFreeParserCtxt(ctxt);
                free(d);
                return r;
        }
        xmlFreeParserCtxt(ctxt);
        if (doc->intSubset || doc->extSubset) {
                r = xerr_set(e, -EBADMSG, where, "DOCTYPE is not allowed in a descriptor");
                goto out;
        }
        root = xmlDocGetRootElement(doc);
        if (!root || strcmp((const char *) root->name, "Envelope") != 0) {
                r = bad(&rd, root, "root element is not Envelope");
                goto out;
        }
        if (!root->ns || strcmp((const char *) root->ns->href, OVF_NS) != 0) {
                r = bad(&rd, root, "namespace '%s' is not the OVF envelope namespace '%s'",
                        XOVA_ESC(root->ns ? (const char *) root->ns->href : ""), OVF_NS);
                goto out;
        }

        r = read_sections(&rd, root);
        if (r < 0)
                goto out;
        r = read_virtual_system(&rd, root);
        if (r < 0)
                goto out;
        r = ovf_descriptor_validate(d, where, e);
        if (r < 0) {
                /* a descriptor that parses but is inconsistent is malformed input */
                r = -EBADMSG;
                if (e)
                        e->code = r;
                goto out;
        }
        *ret = TAKE_PTR(d);
        r = 0;
out:
        ovf_descriptor_free(d);
        for (size_t i = 0; i < rd.n_files; i++) {
                free(rd.files[i].id);
                free(rd.files[i].href);
        }
        for (size_t i = 0; i < OVF_MAX_VMS; i++) {
                free(rd.addr[i]);
                free(rd.disk_bus[i]);
                free(rd.nic_model[i]);
                free(rd.console[i]);
        }
        xmlFreeDoc(doc);
        return r;
}
