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

#define W(call) do { if ((call) < 0) goto xml_fail; } while (0)

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
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return xerr_set_errno(e, -errno, dir, "cannot create the disk directory");
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

static int write_disk_xml(xmlTextWriterPtr w, const char *overlay, const char *backing,
                          enum ovf_disk_format format, size_t i)
{
        char dev[8];

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
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST (format == OVF_DISK_RAW ? "raw" : "vmdk")));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterStartElement(w, BAD_CAST "source"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST backing));
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
        return 0;
xml_fail:
        return -ENOMEM;
}

int hv_libvirt_deploy(const char *bundle, const struct hv_deploy_opts *o, char **ret_xml, struct xerr *e)
{
        _cleanup_(hv_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_free_ struct hv_disk *disks = NULL;
        _cleanup_free_ char *dir = NULL, *vars = NULL, *vars_name = NULL, *stem = NULL;
        struct deploy_files files = { .dir_fd = -1 };
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
        kvm = host.kvm_usable && host.arch == arch;

        /* the same decision as `run`: a bundle run refuses is not deployed */
        r = hv_vm_firmware(vm, machine, &fw, e);
        if (r < 0)
                return r;
        if (o->create_disks) {
                r = deploy_disks(dir, stem, fw, vars_name, disks, vm->n_disks, &files, e);
                if (r < 0)
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
                _cleanup_free_ char *overlay = NULL, *backing = NULL;
                if (asprintf(&overlay, "%s/%s-disk%zu.qcow2", dir, stem, i) < 0 ||
                    asprintf(&backing, "%s/%s-disk%zu.%s", dir, stem, i,
                             disks[i].format == OVF_DISK_RAW ? "raw" : "vmdk") < 0) {
                        overlay = backing = NULL;
                        r = xerr_set(e, -ENOMEM, bundle, "out of memory");
                        goto out;
                }
                if (write_disk_xml(w, overlay, backing, disks[i].format, i) < 0)
                        goto xml_fail;
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
        files.done = r == 0;
        goto out;
xml_fail:
        r = xerr_set(e, -ENOMEM, bundle, "cannot write the domain XML");
out:
        if (w)
                xmlFreeTextWriter(w);
        if (buf)
                xmlBufferFree(buf);
        deploy_files_free(&files);
        hv_firmware_free(fw);
        return r;
}

int hv_libvirt_xml(const char *bundle, const char *arch, const char *ca_file, char **ret_xml,
                   struct xerr *e)
{
        struct hv_deploy_opts o = { .arch = arch, .ca_file = ca_file };

        return hv_libvirt_deploy(bundle, &o, ret_xml, e);
}
