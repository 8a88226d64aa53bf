/* SPDX-License-Identifier: MIT */
/*
 * libvirt domain XML for one arch's VM definition, written with libxml2's
 * writer (every string escaped by it).
 *
 * What the domain boots is what was verified. libvirt starts QEMU long
 * after xova has exited, so it cannot be handed our verified descriptor,
 * and a domain that named the bundle's path would boot whatever file sits
 * there on each start. So deploy copies each disk's bytes out of the
 * verified fd (never re-reading the path) into the disk directory,
 * NAME-ARCH-diskN.vmdk (mode 0444), and the domain's disk is a qcow2
 * overlay NAME-ARCH-diskN.qcow2 on top of that copy. The backing is stated
 * twice on purpose: in the overlay header (file name and format explicit:
 * what libvirt reads) and as <backingStore> (what a reader of the XML
 * sees). Cost: the member's size once (a streamOptimized VMDK, compressed);
 * the bundle stays read-only and may be moved or deleted afterwards.
 *
 * No-follow: the disk directory is opened O_DIRECTORY|O_NOFOLLOW, and every
 * file in it (copies, overlays, the NVRAM vars, which libvirt would
 * otherwise create itself on first start) is created by xova with
 * O_CREAT|O_EXCL|O_NOFOLLOW; qemu-img writes the overlay through
 * /proc/self/fd/N. A planted symlink, dangling or not, makes deploy fail
 * and nothing is written where it points. On failure every file deploy
 * created is removed again.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/xmlwriter.h>

#include "hv/hv-internal.h"

static bool name_ok(const char *s)
{
        return hv_machine_name_valid(s);        /* same alphabet: [A-Za-z0-9._-] */
}

static void strv_freep(char ***p)
{
        if (*p)
                for (char **s = *p; *s; s++)
                        free(*s);
        free(*p);
}

/* The files deploy makes in the disk directory, for removal on failure. */
struct deploy_files {
        int dir_fd;
        char *made_dir;                 /* the disk directory, when deploy created it */
        char **names;
        size_t n;
        int *fds;
        bool done;
};

static void deploy_files_free(struct deploy_files *f)
{
        for (size_t i = 0; i < f->n; i++) {
                if (f->fds[i] >= 0)
                        close(f->fds[i]);
                if (!f->done)
                        unlinkat(f->dir_fd, f->names[i], 0);
                free(f->names[i]);
        }
        free(f->names);
        free(f->fds);
        if (f->dir_fd >= 0)
                close(f->dir_fd);
        if (f->made_dir && !f->done)
                rmdir(f->made_dir);
        free(f->made_dir);
}

/* A new file NAME in the disk directory, or an error: never through a
 * symlink, never over an existing file. Returns its index in f. */
static int deploy_create(struct deploy_files *f, const char *dir, const char *name, mode_t mode, size_t *ret,
                         struct xerr *e)
{
        char **names = realloc(f->names, (f->n + 1) * sizeof(*names));
        int *fds;

        if (!names)
                return xerr_set(e, -ENOMEM, dir, "out of memory");
        f->names = names;
        fds = realloc(f->fds, (f->n + 1) * sizeof(*fds));
        if (!fds)
                return xerr_set(e, -ENOMEM, dir, "out of memory");
        f->fds = fds;
        f->names[f->n] = strdup(name);
        if (!f->names[f->n])
                return xerr_set(e, -ENOMEM, dir, "out of memory");
        f->fds[f->n] = openat(f->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (f->fds[f->n] < 0) {
                int r = -errno;
                free(f->names[f->n]);
                if (r == -EEXIST)
                        return xerr_set(e, r, name, "already exists in '%s' (or is a symlink); refusing to replace a disk",
                                        dir);
                return xerr_set_errno(e, r, name, "cannot create in '%s'", dir);
        }
        *ret = f->n++;
        return 0;
}

/* With create_disks: per disk a verified copy and an overlay over it, and
 * the firmware vars; see the top of this file. */
static int deploy_disks(const char *dir, const char *stem, const struct hv_firmware *fw, const char *vars_name,
                        const struct hv_disk *disks, size_t n, struct deploy_files *f, struct xerr *e)
{
        _cleanup_free_ struct hv_overlay *v = calloc(n ? n : 1, sizeof(*v));
        _cleanup_free_ size_t *copy = calloc(n ? n : 1, sizeof(*copy));
        _cleanup_(strv_freep) char **abs = calloc(n + 1, sizeof(char *));
        size_t k;
        int r;

        if (!v || !copy || !abs)
                return xerr_set(e, -ENOMEM, dir, "out of memory");
        if (mkdir(dir, 0755) == 0) {
                f->made_dir = strdup(dir);
                if (!f->made_dir)
                        return xerr_set(e, -ENOMEM, dir, "out of memory");
        } else if (errno != EEXIST) {
                return xerr_set_errno(e, -errno, dir, "cannot create the disk directory");
        }
        f->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (f->dir_fd < 0)
                return xerr_set_errno(e, -errno, dir, errno == ELOOP || errno == ENOTDIR ?
                                      "not a directory (a symlink is not followed)" : "cannot open the disk directory");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *cname = NULL, *oname = NULL;
                const char *ext = disks[i].format == OVF_DISK_RAW ? "raw" : "vmdk";
                if (asprintf(&cname, "%s-disk%zu.%s", stem, i, ext) < 0 ||
                    asprintf(&oname, "%s-disk%zu.qcow2", stem, i) < 0 ||
                    !(abs[i] = xova_path_join(dir, cname)))
                        return xerr_set(e, -ENOMEM, dir, "out of memory");
                r = deploy_create(f, dir, cname, 0444, &copy[i], e);
                if (r < 0)
                        return r;
                r = deploy_create(f, dir, oname, 0644, &k, e);
                if (r < 0)
                        return r;
                v[i] = (struct hv_overlay) { .id = disks[i].id, .path = f->names[k], .fd = f->fds[k],
                                             .backing_file = abs[i], .backing_format = disks[i].format };
                r = hv_disk_capacity(&disks[i], &v[i].capacity, e);
                if (r < 0)
                        return r;
        }
        if (fw->nvram_template) {
                /* ours, not libvirt's on first start: created no-follow here */
                r = deploy_create(f, dir, vars_name, 0600, &k, e);
                if (r < 0)
                        return r;
                r = hv_vars_fill(fw->nvram_template, f->fds[k], e);
                if (r < 0)
                        return r;
        }
        /* overlays first (qemu-img is the step that can be missing), then
         * the copies: from the verified fd, so a rename over the bundle's
         * path since verification changes nothing */
        r = hv_overlays_create(v, n, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = hv_disk_copy(&disks[i], f->fds[copy[i]], e);
                if (r < 0)
                        return r;
                if (fsync(f->fds[copy[i]]) < 0)
                        return xerr_set_errno(e, -errno, f->names[copy[i]], "cannot sync");
        }
        return 0;
}

/* One virtio <disk> of a domain: a qcow2 file, with its backing file when
 * backing is given (the --libvirt-xml overlays), alone when not (deploy's
 * volumes); the first disk boots. Shared by libvirt.c and deploy-domain.c. */
int hv_xml_disk(xmlTextWriterPtr w, const char *path, const char *backing, const char *backing_format,
                size_t i)
{
        bool bad = false;
        char dev[8];

        snprintf(dev, sizeof(dev), "vd%c", (char) ('a' + (i % 26)));
        bad |= xmlTextWriterStartElement(w, BAD_CAST "disk") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "device", BAD_CAST "disk") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "driver") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "qemu") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "qcow2") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "source") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST path) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        if (backing) {
                bad |= xmlTextWriterStartElement(w, BAD_CAST "backingStore") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file") < 0;
                bad |= xmlTextWriterStartElement(w, BAD_CAST "format") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST backing_format) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
                bad |= xmlTextWriterStartElement(w, BAD_CAST "source") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST backing) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;  /* source */
                bad |= xmlTextWriterWriteElement(w, BAD_CAST "backingStore", NULL) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;  /* backingStore */
        }
        bad |= xmlTextWriterStartElement(w, BAD_CAST "target") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST dev) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "bus", BAD_CAST "virtio") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        if (i == 0) {
                bad |= xmlTextWriterStartElement(w, BAD_CAST "boot") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "order", BAD_CAST "1") < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
        }
        bad |= xmlTextWriterEndElement(w) < 0;  /* disk */
        return bad ? -ENOMEM : 0;
}

/* A virtio NIC on libvirt's network (its "default") or, network NULL,
 * user-mode networking. */
int hv_xml_nic(struct _xmlTextWriter *w, const char *network)
{
        bool bad = false;

        bad |= xmlTextWriterStartElement(w, BAD_CAST "interface") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST (network ? "network" : "user")) < 0;
        if (network) {
                bad |= xmlTextWriterStartElement(w, BAD_CAST "source") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "network", BAD_CAST network) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
        }
        bad |= xmlTextWriterStartElement(w, BAD_CAST "model") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "virtio") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;  /* interface */
        return bad ? -ENOMEM : 0;
}

/* The serial console: a pty on serial port 0 (what virDomainOpenConsole
 * reads), its output also logged to log on the host when log is given. */
int hv_xml_serial_console(struct _xmlTextWriter *w, const char *log)
{
        bool bad = false;

        bad |= xmlTextWriterStartElement(w, BAD_CAST "serial") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "pty") < 0;
        if (log) {
                bad |= xmlTextWriterStartElement(w, BAD_CAST "log") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST log) < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "append", BAD_CAST "off") < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
        }
        bad |= xmlTextWriterStartElement(w, BAD_CAST "target") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST "0") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;  /* serial */
        bad |= xmlTextWriterStartElement(w, BAD_CAST "console") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "pty") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "target") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "serial") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST "0") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;  /* console */
        return bad ? -ENOMEM : 0;
}

/* What the domain XML is made of. */
struct domain_xml {
        const struct ovf_descriptor *d;
        const struct ovf_vm *vm;
        const char *machine;
        const struct hv_firmware *fw;
        const char *vars;               /* absolute */
        const char *dir, *stem;         /* disk directory, "NAME-ARCH" */
        const struct hv_disk *disks;
        bool kvm;
};

/* Every writer call is checked: `bad` collects failures (libxml2 returns
 * -1), so no control flow hides in a macro. */

static int write_domain(xmlTextWriterPtr w, const struct domain_xml *x)
{
        bool bad = false;

        bad |= xmlTextWriterSetIndent(w, 1) < 0;
        bad |= xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "domain") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST (x->kvm ? "kvm" : "qemu")) < 0;
        bad |= xmlTextWriterWriteFormatElement(w, BAD_CAST "name", "%s-%s", x->d->name, x->vm->arch->name) < 0;
        if (x->d->description)
                bad |= xmlTextWriterWriteElement(w, BAD_CAST "description", BAD_CAST x->d->description) < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "memory") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "MiB") < 0;
        bad |= xmlTextWriterWriteFormatString(w, "%" PRIu64, x->vm->memory_mib ? x->vm->memory_mib : 512) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterWriteFormatElement(w, BAD_CAST "vcpu", "%u", x->vm->vcpus ? x->vm->vcpus : 1) < 0;

        bad |= xmlTextWriterStartElement(w, BAD_CAST "os") < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "type") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "arch", BAD_CAST x->vm->arch->libvirt_arch) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "machine", BAD_CAST x->machine) < 0;
        bad |= xmlTextWriterWriteString(w, BAD_CAST "hvm") < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "loader") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "readonly", BAD_CAST "yes") < 0;
        /* firmware that needs SMM (x86 Secure Boot: its variable store is
         * writable only from SMM) is a "secure" loader, as `xova run` gives
         * QEMU smm=on and a secure pflash (hv/qemu.c) */
        if (x->fw->requires_smm)
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "secure", BAD_CAST "yes") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST (x->fw->nvram_template ? "pflash" : "rom")) < 0;
        bad |= xmlTextWriterWriteString(w, BAD_CAST x->fw->executable) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        if (x->fw->nvram_template) {
                /* deploy created this copy (libvirt would copy the template on first start) */
                bad |= xmlTextWriterStartElement(w, BAD_CAST "nvram") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "template", BAD_CAST x->fw->nvram_template) < 0;
                bad |= xmlTextWriterWriteString(w, BAD_CAST x->vars) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
        }
        /* No <firmware> feature list here: libvirt refuses one beside a
         * loader path ("cannot use feature-based firmware autoselection when
         * firmware autoselection is disabled"). The loader named is already
         * the one `xova run` picked: for a Secure Boot bundle the enrolled
         * firmware, its vars template the enrolled keys. */
        bad |= xmlTextWriterEndElement(w) < 0;  /* os */

        bad |= xmlTextWriterStartElement(w, BAD_CAST "features") < 0;
        bad |= xmlTextWriterWriteElement(w, BAD_CAST "acpi", NULL) < 0;
        if (x->fw->requires_smm) {
                bad |= xmlTextWriterStartElement(w, BAD_CAST "smm") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "state", BAD_CAST "on") < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
        }
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterStartElement(w, BAD_CAST "cpu") < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "mode", BAD_CAST (x->kvm ? "host-passthrough" : "maximum")) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;
        bad |= xmlTextWriterWriteElement(w, BAD_CAST "on_reboot", BAD_CAST "destroy") < 0;

        bad |= xmlTextWriterStartElement(w, BAD_CAST "devices") < 0;
        for (size_t i = 0; i < x->vm->n_disks && !bad; i++) {
                _cleanup_free_ char *overlay = NULL, *backing = NULL;
                if (asprintf(&overlay, "%s/%s-disk%zu.qcow2", x->dir, x->stem, i) < 0 ||
                    asprintf(&backing, "%s/%s-disk%zu.%s", x->dir, x->stem, i,
                             x->disks[i].format == OVF_DISK_RAW ? "raw" : "vmdk") < 0) {
                        overlay = backing = NULL;
                        return -ENOMEM;
                }
                bad |= hv_xml_disk(w, overlay, backing, x->disks[i].format == OVF_DISK_RAW ? "raw" : "vmdk", i) < 0;
        }
        if (x->vm->nic_model && *x->vm->nic_model)
                bad |= hv_xml_nic(w, "default") < 0;
        bad |= hv_xml_serial_console(w, NULL) < 0;
        bad |= xmlTextWriterEndElement(w) < 0;  /* devices */
        bad |= xmlTextWriterEndElement(w) < 0;  /* domain */
        bad |= xmlTextWriterEndDocument(w) < 0;
        return bad ? -ENOMEM : 0;
}

static void writer_freep(xmlTextWriterPtr *w) { if (*w) xmlFreeTextWriter(*w); }
static void buffer_freep(xmlBufferPtr *b) { if (*b) xmlBufferFree(*b); }

static int domain_xml_string(const struct domain_xml *x, char **ret)
{
        _cleanup_(buffer_freep) xmlBufferPtr buf = xmlBufferCreate();
        _cleanup_(writer_freep) xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
        char *s;

        if (!w || write_domain(w, x) < 0)
                return -ENOMEM;
        xmlFreeTextWriter(TAKE_PTR(w));         /* flushes into buf */
        s = strdup((const char *) xmlBufferContent(buf));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static void fw_freep(struct hv_firmware **f) { *f = hv_firmware_free(*f); }

int hv_libvirt_deploy(const char *bundle, const struct hv_deploy_opts *o, char **ret_xml, struct xerr *e)
{
        _cleanup_(hv_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_free_ struct hv_disk *disks = NULL;
        _cleanup_free_ char *dir = NULL, *vars = NULL, *vars_name = NULL, *stem = NULL;
        _cleanup_(deploy_files_free) struct deploy_files files = { .dir_fd = -1 };
        _cleanup_(fw_freep) struct hv_firmware *fw = NULL;
        const struct ovf_descriptor *d;
        const struct ovf_vm *vm;
        const struct xova_arch *arch;
        const char *machine;
        struct hv_host host;
        int r;
        r = hv_bundle_vm(bundle, o->arch, o->ca_file, &b, &vm, &disks, e);
        if (r < 0)
                return r;
        d = ovf_bundle_descriptor(b);
        arch = vm->arch;
        machine = vm->machine && *vm->machine ? vm->machine : arch->qemu_machine;
        if (!hv_machine_name_valid(machine))
                return xerr_set(e, -EINVAL, bundle, "invalid machine type '%s'", XOVA_ESC(machine));
        if (!d->name || !name_ok(d->name))
                return xerr_set(e, -EINVAL, bundle, "appliance name '%s' is not usable as a domain name",
                                XOVA_ESC(d->name));

        if (o->disk_dir && o->disk_dir[0] == '/') {
                dir = strdup(o->disk_dir);
        } else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd)
                        return xerr_set_errno(e, -errno, ".", "cannot get the current directory");
                if (o->disk_dir)
                        dir = xova_path_join(cwd, o->disk_dir);
                else if (asprintf(&dir, "%s/%s-%s-disks", cwd, d->name, arch->name) < 0)
                        dir = NULL;
        }
        if (!dir || asprintf(&stem, "%s-%s", d->name, arch->name) < 0 ||
            asprintf(&vars_name, "%s_VARS.fd", stem) < 0 || !(vars = xova_path_join(dir, vars_name)))
                return xerr_set(e, -ENOMEM, bundle, "out of memory");

        hv_host_detect(xova_arch_host() == arch, &host, e);

        /* the same decision as `run`: a bundle run refuses is not deployed */
        r = hv_vm_firmware(vm, machine, &fw, e);
        if (r < 0)
                return r;
        if (o->create_disks) {
                r = deploy_disks(dir, stem, fw, vars_name, disks, vm->n_disks, &files, e);
                if (r < 0)
                        return r;
        }
        struct domain_xml x = { .d = d, .vm = vm, .machine = machine, .fw = fw, .vars = vars, .dir = dir,
                                .stem = stem, .disks = disks, .kvm = host.kvm_usable && host.arch == arch };
        r = domain_xml_string(&x, ret_xml);
        if (r < 0)
                return xerr_set(e, r, bundle, "cannot write the domain XML: out of memory");
        files.done = true;
        return 0;
}

int hv_libvirt_xml(const char *bundle, const char *arch, const char *ca_file, char **ret_xml,
                   struct xerr *e)
{
        struct hv_deploy_opts o = { .arch = arch, .ca_file = ca_file };

        return hv_libvirt_deploy(bundle, &o, ret_xml, e);
}
