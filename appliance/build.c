/* SPDX-License-Identifier: MIT */
/*
 * The build: spec -> plan -> raw disks (bootpart/ for the USP and GPT,
 * appliance_fs_make for ext4) -> either a directory of raw images with a
 * summary, or ovf/ for an OVA / OVF directory.
 *
 * Every identifier (GPT disk and partition GUIDs, filesystem UUIDs, FAT
 * serial, VMDK ids) derives from seed + a token naming the object, and every
 * timestamp from SOURCE_DATE_EPOCH, so a rebuild is byte-identical.
 * Scratch files live in a private work directory beside the output (same
 * filesystem, removed on every exit path and on signals); raw outputs are
 * built directly inside the atomic output directory.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "appliance/appliance-internal.h"
#include "bootpart/bootpart.h"
#include "ovf/ovf.h"

#define MIB (1024ull * 1024ull)
#define PAYLOAD_MAX (UINT64_C(1) << 32)      /* a kernel or initrd: the file limit of the FAT USP */

/* One partition of a planned disk. */
struct plan_part {
        char name[64];                  /* GPT partition name */
        const char *type;               /* type GUID */
        uint8_t uuid[16];
        uint64_t size;
        enum { PART_USP, PART_FS } kind;
        const struct appliance_disk *disk;      /* PART_FS: content */
};

/* One disk image. */
struct plan_disk {
        char id[64];                    /* "boot", "root-x86_64", data disk name, "disk" */
        char file[160];                 /* "<name>-<id>.raw" */
        const char *role;               /* "boot", "root", "data", "disk" */
        const struct xova_arch *arch;   /* root disks only */
        uint8_t guid[16];
        struct plan_part parts[24];
        size_t n_parts;
        char *path;                     /* where the raw image is written */
        uint64_t size;
        struct bootpart_gpt_part gp[24];        /* as written: offsets */
};

struct plan {
        const struct appliance *a;
        enum appliance_layout layout;
        const char *seed;
        uint64_t epoch;
        const struct appliance_arch *archs[8];
        size_t n_archs;
        struct bootpart_payload payloads[8];
        char root_files[8][2][PATH_MAX];        /* kernel, initrd copied out of a root */
        struct plan_disk disks[24];
        size_t n_disks;
        enum bootpart_sb_mode sb_mode;  /* how the USP boots with Secure Boot (off = not) */
};

const char *appliance_layout_name(enum appliance_layout l)
{
        return l == APPLIANCE_LAYOUT_SINGLE ? "single" : "split";
}

int appliance_layout_from_name(const char *s, enum appliance_layout *ret)
{
        if (strcmp(s, "split") == 0)
                *ret = APPLIANCE_LAYOUT_SPLIT;
        else if (strcmp(s, "single") == 0)
                *ret = APPLIANCE_LAYOUT_SINGLE;
        else
                return -EINVAL;
        return 0;
}

const char *appliance_format_name(enum appliance_format f)
{
        switch (f) {
        case APPLIANCE_FORMAT_OVA:
                return "ova";
        case APPLIANCE_FORMAT_DIR:
                return "dir";
        case APPLIANCE_FORMAT_RAW:
                return "raw";
        }
        return "?";
}

int appliance_format_from_name(const char *s, enum appliance_format *ret)
{
        if (strcmp(s, "ova") == 0)
                *ret = APPLIANCE_FORMAT_OVA;
        else if (strcmp(s, "dir") == 0)
                *ret = APPLIANCE_FORMAT_DIR;
        else if (strcmp(s, "raw") == 0)
                *ret = APPLIANCE_FORMAT_RAW;
        else
                return -EINVAL;
        return 0;
}

/* out = xova_derive_uuid(seed, "<kind>:<name>") */
static void derive(const struct plan *p, uint8_t out[16], const char *kind, const char *name)
{
        char token[160];

        snprintf(token, sizeof(token), "%s:%s", kind, name);
        xova_derive_uuid(p->seed, token, out);
}

static uint64_t mib_up(uint64_t v)
{
        return (v + MIB - 1) / MIB * MIB;
}

static int disk_size(const struct appliance_disk *d, uint64_t *ret, struct xerr *e)
{
        uint64_t s = d->size;
        int r;

        if (s == 0) {
                r = appliance_fs_estimate(d, &s, e);
                if (r < 0)
                        return r;
        }
        *ret = mib_up(s);
        return 0;
}

static struct plan_disk *plan_add_disk(struct plan *p, const char *id, const char *role,
                                       const struct xova_arch *arch, struct xerr *e)
{
        struct plan_disk *pd;

        if (p->n_disks >= ELEMENTSOF(p->disks)) {
                xerr_set(e, -E2BIG, p->a->spec_path, "too many disks");
                return NULL;
        }
        for (size_t i = 0; i < p->n_disks; i++)
                if (strcmp(p->disks[i].id, id) == 0) {
                        xerr_set(e, -EINVAL, p->a->spec_path,
                                 "disk name '%s' clashes with a disk xova makes itself", id);
                        return NULL;
                }
        pd = &p->disks[p->n_disks++];
        snprintf(pd->id, sizeof(pd->id), "%s", id);
        snprintf(pd->file, sizeof(pd->file), "%s-%s.raw", p->a->name, id);
        pd->role = role;
        pd->arch = arch;
        derive(p, pd->guid, "disk-guid", id);
        return pd;
}

static struct plan_part *plan_add_part(struct plan_disk *pd, const char *name, struct xerr *e)
{
        struct plan_part *pp;

        if (pd->n_parts >= ELEMENTSOF(pd->parts)) {
                xerr_set(e, -E2BIG, pd->file, "too many partitions");
                return NULL;
        }
        pp = &pd->parts[pd->n_parts++];
        snprintf(pp->name, sizeof(pp->name), "%s", name);
        return pp;
}

static bool arch_selected(const struct plan *p, const struct xova_arch *arch)
{
        for (size_t i = 0; i < p->n_archs; i++)
                if (p->archs[i]->arch == arch)
                        return true;
        return false;
}

/* Decides disks, partitions, sizes and ids; writes nothing. */
static int plan_make(struct plan *p, const struct appliance_build_opts *o,
                     const struct bootpart_usp *usp_proto, struct xerr *e)
{
        const struct appliance *a = p->a;
        uint64_t usp_size = a->boot_size;
        struct plan_disk *single = NULL, *pd;
        struct plan_part *pp;
        char name[64];
        int r;

        if (usp_size == 0) {
                r = bootpart_usp_size(usp_proto, &usp_size, e);
                if (r < 0)
                        return r;
        }
        pd = plan_add_disk(p, p->layout == APPLIANCE_LAYOUT_SINGLE ? "disk" : "boot",
                           p->layout == APPLIANCE_LAYOUT_SINGLE ? "disk" : "boot", NULL, e);
        if (!pd)
                return e->code;
        if (p->layout == APPLIANCE_LAYOUT_SINGLE)
                single = pd;
        pp = plan_add_part(pd, "esp", e);
        if (!pp)
                return e->code;
        pp->kind = PART_USP;
        pp->type = BOOTPART_TYPE_ESP;
        pp->size = mib_up(usp_size);
        derive(p, pp->uuid, "part-uuid", "esp");

        /* root per selected arch, then shared disks, in spec order */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < a->n_disks; i++) {
                        const struct appliance_disk *d = &a->disks[i];
                        bool root = d->role == APPLIANCE_DISK_ROOT;

                        if ((pass == 0) != root)
                                continue;
                        if (root && !arch_selected(p, d->arch))
                                continue;
                        if (root)
                                snprintf(name, sizeof(name), "root-%s", d->arch->name);
                        else
                                snprintf(name, sizeof(name), "%s", d->name);
                        if (!single) {
                                pd = plan_add_disk(p, name, root ? "root" : "data",
                                                   root ? d->arch : NULL, e);
                                if (!pd)
                                        return e->code;
                        } else {
                                pd = single;
                                for (size_t k = 0; k < pd->n_parts; k++)
                                        if (strcmp(pd->parts[k].name, name) == 0)
                                                return xerr_set(e, -EINVAL, a->spec_path,
                                                                "disk name '%s' is used twice", name);
                        }
                        pp = plan_add_part(pd, name, e);
                        if (!pp)
                                return e->code;
                        pp->kind = PART_FS;
                        pp->disk = d;
                        pp->type = root ? d->arch->dps_root_type : BOOTPART_TYPE_LINUX_DATA;
                        r = disk_size(d, &pp->size, e);
                        if (r < 0)
                                return r;
                        derive(p, pp->uuid, "part-uuid", name);
                }

        /* each selected arch boots its own root: root=PARTUUID=... */
        for (size_t i = 0; i < p->n_archs; i++) {
                struct bootpart_payload *pl = &p->payloads[i];
                uint8_t u[16];

                snprintf(name, sizeof(name), "root-%s", p->archs[i]->arch->name);
                derive(p, u, "part-uuid", name);
                xova_uuid_format(u, pl->root_partuuid);
        }
        (void) o;
        return 0;
}

/* The disk's file at its full size with its GPT; no partition content yet. */
static int write_gpt(struct plan_disk *pd, struct bootpart_gpt_part *gp, struct xerr *e)
{
        for (size_t i = 0; i < pd->n_parts; i++) {
                gp[i] = (struct bootpart_gpt_part) {
                        .name = pd->parts[i].name,
                        .type = pd->parts[i].type,
                        .size = pd->parts[i].size,
                };
                memcpy(gp[i].uuid, pd->parts[i].uuid, 16);
        }
        return bootpart_gpt_write(pd->path, pd->guid, gp, pd->n_parts, &pd->size, e);
}

/* The partitions' content: the USP (bootpart/), file systems (ext4). */
static int write_parts(struct plan *p, struct plan_disk *pd, const struct bootpart_gpt_part *gp,
                       const struct bootpart_usp *usp, const char *workdir,
                       const struct xova_progress *progress, struct xerr *e)
{
        struct appliance_fs_opts fo = { .seed = p->seed, .epoch = p->epoch, .workdir = workdir };
        int r;

        for (size_t i = 0; i < pd->n_parts; i++) {
                struct plan_part *pp = &pd->parts[i];
                if (pp->kind == PART_USP) {
                        r = bootpart_usp_write(usp, pd->path, gp[i].offset, pp->size, progress, e);
                } else {
                        char phase[96];
                        snprintf(phase, sizeof(phase), "filesystem %s", pp->name);
                        xova_progress_report(progress, phase, 0, 1);
                        r = appliance_fs_make(pp->disk, pd->path, gp[i].offset, pp->size, &fo, e);
                        if (r >= 0)
                                xova_progress_report(progress, phase, 1, 1);
                }
                if (r < 0)
                        return xerr_prefix(e, "%s, partition '%s'", pd->file, pp->name);
        }
        return 0;
}

/* summary.json for --format raw: what each disk holds, per arch. */
static int write_summary(const struct plan *p, const char *dir, struct xerr *e)
{
        _cleanup_free_ char *path = xova_path_join(dir, "summary.json");
        json_object *root = json_object_new_object(), *disks = json_object_new_array(),
                    *archs = json_object_new_object();
        const char *text;
        char u[37];
        int fd, r;

        if (!path || !root || !disks || !archs) {
                json_object_put(root);
                json_object_put(disks);
                json_object_put(archs);
                return xerr_set(e, -ENOMEM, dir, "out of memory");
        }
        json_object_object_add(root, "name", json_object_new_string(p->a->name));
        json_object_object_add(root, "version", json_object_new_string(p->a->version));
        json_object_object_add(root, "layout", json_object_new_string(appliance_layout_name(p->layout)));
        json_object_object_add(root, "source_date_epoch", json_object_new_int64((int64_t) p->epoch));
        if (p->sb_mode != BOOTPART_SB_OFF)
                json_object_object_add(root, "secure_boot",
                                       json_object_new_string(bootpart_sb_mode_name(p->sb_mode)));
        for (size_t i = 0; i < p->n_disks; i++) {
                const struct plan_disk *pd = &p->disks[i];
                json_object *jd = json_object_new_object(), *parts = json_object_new_array();
                uint64_t off = MIB;

                json_object_object_add(jd, "file", json_object_new_string(pd->file));
                json_object_object_add(jd, "role", json_object_new_string(pd->role));
                if (pd->arch)
                        json_object_object_add(jd, "arch", json_object_new_string(pd->arch->name));
                json_object_object_add(jd, "size", json_object_new_int64((int64_t) pd->size));
                json_object_object_add(jd, "guid", json_object_new_string(xova_uuid_format(pd->guid, u)));
                for (size_t k = 0; k < pd->n_parts; k++) {
                        const struct plan_part *pp = &pd->parts[k];
                        json_object *jp = json_object_new_object();
                        json_object_object_add(jp, "name", json_object_new_string(pp->name));
                        json_object_object_add(jp, "type", json_object_new_string(pp->type));
                        json_object_object_add(jp, "uuid", json_object_new_string(xova_uuid_format(pp->uuid, u)));
                        json_object_object_add(jp, "offset", json_object_new_int64((int64_t) off));
                        json_object_object_add(jp, "size", json_object_new_int64((int64_t) pp->size));
                        json_object_object_add(jp, "content", json_object_new_string(
                                pp->kind == PART_USP ? "usp" : pp->disk->content == APPLIANCE_CONTENT_IMAGE ? "image" : "ext4"));
                        json_object_array_add(parts, jp);
                        off += pp->size;
                }
                json_object_object_add(jd, "partitions", parts);
                json_object_array_add(disks, jd);
        }
        json_object_object_add(root, "disks", disks);
        for (size_t i = 0; i < p->n_archs; i++) {
                const struct appliance_arch *aa = p->archs[i];
                json_object *ja = json_object_new_object(), *files = json_object_new_array();
                for (size_t k = 0; k < p->n_disks; k++)
                        if (!p->disks[k].arch || p->disks[k].arch == aa->arch)
                                json_object_array_add(files, json_object_new_string(p->disks[k].file));
                json_object_object_add(ja, "disks", files);
                json_object_object_add(ja, "root_partuuid", json_object_new_string(p->payloads[i].root_partuuid));
                json_object_object_add(ja, "vcpus", json_object_new_int((int) aa->vcpus));
                json_object_object_add(ja, "memory_mib", json_object_new_int64((int64_t) aa->memory_mib));
                json_object_object_add(ja, "machine", json_object_new_string(aa->machine));
                json_object_object_add(ja, "efi", json_object_new_string(aa->arch->efi_name));
                json_object_object_add(archs, aa->arch->name, ja);
        }
        json_object_object_add(root, "architectures", archs);
        text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
                r = xerr_set_errno(e, -errno, path, "cannot create");
        } else {
                r = xova_write_all(fd, text, strlen(text));
                if (r == 0)
                        r = xova_write_all(fd, "\n", 1);
                if (r < 0)
                        xerr_set_errno(e, r, path, "cannot write");
                close(fd);
        }
        json_object_put(root);
        return r;
}

static int fill_descriptor(const struct plan *p, struct ovf_descriptor *d, struct xerr *e)
{
        const struct appliance *a = p->a;

        d->name = strdup(a->name);
        d->version = strdup(a->version);
        d->vendor = a->vendor ? strdup(a->vendor) : NULL;
        d->description = a->description ? strdup(a->description) : NULL;
        d->disks = calloc(p->n_disks, sizeof(*d->disks));
        d->vms = calloc(p->n_archs, sizeof(*d->vms));
        if (!d->name || !d->version || !d->disks || !d->vms)
                return xerr_set(e, -ENOMEM, NULL, "out of memory");
        for (size_t i = 0; i < p->n_disks; i++) {
                struct ovf_disk *od = &d->disks[d->n_disks++];
                od->id = strdup(p->disks[i].id);
                od->role = strdup(p->disks[i].role);
                od->source = strdup(p->disks[i].path);
                od->arch = p->disks[i].arch;
                od->capacity = p->disks[i].size;
                if (!od->id || !od->role || !od->source)
                        return xerr_set(e, -ENOMEM, NULL, "out of memory");
        }
        for (size_t i = 0; i < p->n_archs; i++) {
                const struct appliance_arch *aa = p->archs[i];
                struct ovf_vm *vm = &d->vms[d->n_vms++];
                vm->arch = aa->arch;
                vm->vcpus = aa->vcpus;
                vm->memory_mib = aa->memory_mib;
                vm->machine = strdup(aa->machine);
                vm->firmware = strdup("efi");
                vm->disk_bus = strdup("virtio");
                vm->nic_model = strdup("virtio");
                vm->console = strdup("serial");
                vm->secure_boot = p->sb_mode != BOOTPART_SB_OFF;
                vm->disks = calloc(p->n_disks, sizeof(size_t));
                if (!vm->machine || !vm->firmware || !vm->disk_bus || !vm->nic_model ||
                    !vm->console || !vm->disks)
                        return xerr_set(e, -ENOMEM, NULL, "out of memory");
                /* boot disk first, then this arch's root, then shared disks */
                for (size_t k = 0; k < p->n_disks; k++)
                        if (!p->disks[k].arch || p->disks[k].arch == aa->arch)
                                vm->disks[vm->n_disks++] = k;
        }
        return 0;
}

/* Kernel and initrd given as {"from-root": PATH}: copied out of the arch's
 * root content into the work directory, and the payload points there. */
static int payloads_from_root(const struct appliance *a, const struct appliance_arch *aa,
                              struct bootpart_payload *pl, const char *workdir,
                              char paths[2][PATH_MAX], struct xerr *e)
{
        const struct appliance_disk *d = appliance_root_disk(a, aa->arch);
        const char *src[2], *dst[2];
        size_t n = 0;
        int r;

        if (aa->kernel_from_root) {
                snprintf(paths[0], PATH_MAX, "%s/kernel-%s", workdir, aa->arch->name);
                src[n] = aa->kernel;
                dst[n++] = paths[0];
        }
        if (aa->initrd_from_root) {
                snprintf(paths[1], PATH_MAX, "%s/initrd-%s", workdir, aa->arch->name);
                src[n] = aa->initrd;
                dst[n++] = paths[1];
        }
        if (n == 0)
                return 0;
        r = appliance_root_extract_n(d, n, src, dst, PAYLOAD_MAX, e);
        if (r < 0)
                return xerr_prefix(e, "architecture %s, %s from the root", aa->arch->name,
                                   n == 2 ? "kernel and initrd" : aa->kernel_from_root ? "kernel" : "initrd");
        if (aa->kernel_from_root)
                pl->kernel = paths[0];
        if (aa->initrd_from_root)
                pl->initrd = paths[1];
        return 0;
}

/* Every architecture's payloads_from_root at once, a thread each: reading
 * the root tarballs' names was the build's serial start, one core idle. */
struct payload_job {
        const struct appliance *a;
        const struct appliance_arch *aa;
        struct bootpart_payload *pl;
        const char *workdir;
        char (*paths)[PATH_MAX];
        struct xerr e;
        int r;
};

static void *payload_thread(void *arg)
{
        struct payload_job *j = arg;

        j->r = payloads_from_root(j->a, j->aa, j->pl, j->workdir, j->paths, &j->e);
        return NULL;
}

static int payloads_all(const struct appliance *a, struct plan *p, const char *workdir, struct xerr *e)
{
        struct payload_job jobs[ELEMENTSOF(p->archs)];
        pthread_t tids[ELEMENTSOF(p->archs)];
        bool started[ELEMENTSOF(p->archs)] = { false };
        sigset_t all, old;
        int r = 0;

        /* the threads take no signals: common/tempreg.c's handlers run on this one */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (size_t i = 0; i < p->n_archs; i++) {
                jobs[i] = (struct payload_job) { .a = a, .aa = p->archs[i], .pl = &p->payloads[i],
                                                 .workdir = workdir, .paths = p->root_files[i] };
                /* the last one (or any a thread cannot be had for) on this thread */
                if (i + 1 < p->n_archs && pthread_create(&tids[i], NULL, payload_thread, &jobs[i]) == 0)
                        started[i] = true;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        for (size_t i = 0; i < p->n_archs; i++)
                if (!started[i])
                        payload_thread(&jobs[i]);
        for (size_t i = 0; i < p->n_archs; i++) {
                if (started[i])
                        pthread_join(tids[i], NULL);
                if (jobs[i].r < 0 && r == 0) {  /* the first architecture's error */
                        *e = jobs[i].e;
                        r = jobs[i].r;
                }
        }
        return r;
}

/* The disk pipeline's producer (pipeline.c): disk i's partitions. */
struct make_ctx {
        struct plan *p;
        const struct bootpart_usp *usp;
        const char *workdir;
        struct appliance_pipe *pipe;
};

static int make_disk(void *ctx, size_t i, const struct xova_progress *progress, struct xerr *e)
{
        struct make_ctx *m = ctx;

        return write_parts(m->p, &m->p->disks[i], m->p->disks[i].gp, m->usp, m->workdir, progress, e);
}

/* ovf_export's disk_ready: the pipeline's wait, and the fault tests'
 * pause point once every disk is whole and nothing is committed. */
static int disk_ready(void *ctx, size_t i, struct xerr *e)
{
        struct make_ctx *m = ctx;
        int r = appliance_pipe_wait(m->pipe, i, e);

        if (r == 0 && i + 1 == m->p->n_disks)
                xova_pause_point("disks");
        return r;
}

/* ovf_export's disk_done: disk i is converted; the pipeline's thread
 * deletes its scratch image (drop_disk) once it has written every disk. */
static void disk_done(void *ctx, size_t i)
{
        struct make_ctx *m = ctx;

        appliance_pipe_release(m->pipe, i);
}

static void drop_disk(void *ctx, size_t i)
{
        struct make_ctx *m = ctx;

        /* best effort: the work directory's removal takes what is left */
        if (unlink(m->p->disks[i].path) == 0)
                xova_debug("pipeline: dropped %s", m->p->disks[i].file);
}

/* The OVA or OVF directory: ovf_export converting disk i while the
 * pipeline's thread writes disk i+1. */
static int export_bundle(struct plan *p, const struct appliance_build_opts *o, struct ovf_descriptor *desc,
                         const struct bootpart_usp *usp, const char *workdir, struct xerr *e)
{
        struct make_ctx m = { .p = p, .usp = usp, .workdir = workdir };
        struct ovf_export_opts eo = {
                .format = o->format == APPLIANCE_FORMAT_DIR ? OVF_EXPORT_DIR : OVF_EXPORT_OVA,
                .disk_format = OVF_DISK_VMDK_STREAM,
                .force = o->force,
                .epoch = p->epoch,
                .seed = p->seed,
                .sign_key = o->sign_key,
                .sign_cert = o->sign_cert,
                .workdir = workdir,
                .disk_ready = disk_ready,
                .disk_done = disk_done,
        };
        int r;

        r = appliance_pipe_start(p->n_disks, make_disk, drop_disk, &m, &o->progress, &m.pipe, e);
        if (r < 0)
                return r;
        eo.progress = *appliance_pipe_progress(m.pipe);
        eo.disk_ready_ctx = &m;
        r = ovf_export(o->output, desc, &eo, e);
        appliance_pipe_stop(m.pipe);
        return r;
}

int appliance_build(const struct appliance *a, const struct appliance_build_opts *o,
                    struct xerr *e)
{
        _cleanup_(ovf_descriptor_freep) struct ovf_descriptor *desc = NULL;
        _cleanup_atomic_dir_ struct xova_atomic_dir *outdir = NULL;
        _cleanup_free_ char *parent = NULL, *workdir = NULL;
        _cleanup_free_ struct plan *p = NULL;
        struct bootpart_usp usp;
        struct bootpart_secure_boot sb;
        const char *diskdir;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return xerr_set(e, -ENOMEM, NULL, "out of memory");
        p->a = a;
        p->layout = o->layout;
        p->seed = o->seed ? o->seed : a->name;
        r = xova_source_date_epoch(&p->epoch, e);
        if (r < 0)
                return r;

        /* which architectures: the spec's, or the subset asked for */
        for (size_t i = 0; i < a->n_archs; i++) {
                bool want = !o->archs;
                for (size_t k = 0; o->archs && o->archs[k]; k++)
                        if (strcmp(o->archs[k], a->archs[i].arch->name) == 0)
                                want = true;
                if (want && p->n_archs < ELEMENTSOF(p->archs))
                        p->archs[p->n_archs++] = &a->archs[i];
        }
        for (size_t k = 0; o->archs && o->archs[k]; k++)
                if (!appliance_arch_get(a, o->archs[k]))
                        return xerr_set(e, -EINVAL, "--arch",
                                        "'%s' is not an architecture of %s", o->archs[k], a->spec_path);
        if (p->n_archs == 0)
                return xerr_set(e, -EINVAL, "--arch", "no architecture selected");

        /* refuse a bad output path now, not after minutes of work */
        r = xova_output_check(o->output, o->force ? XOVA_ATOMIC_REPLACE : 0,
                              o->format != APPLIANCE_FORMAT_OVA, e);
        if (r < 0)
                return r;
        r = appliance_check_sources(a, e);
        if (r < 0)
                return r;

        /* scratch space beside the output: same filesystem, removed on any exit */
        parent = xova_dirname(o->output);
        if (!parent)
                return xerr_set(e, -ENOMEM, NULL, "out of memory");
        r = xova_workdir_new(parent, &workdir, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_archs; i++)
                p->payloads[i] = (struct bootpart_payload) {
                        .arch = p->archs[i]->arch,
                        .kernel = p->archs[i]->kernel,
                        .initrd = p->archs[i]->initrd,
                        .cmdline = p->archs[i]->cmdline,
                };
        r = payloads_all(a, p, workdir, e);
        if (r < 0)
                goto out;
        /* Secure Boot: the spec's "secure_boot", or own-key from --sb-key/--sb-cert */
        sb = (struct bootpart_secure_boot) {
                .mode = a->secure_boot.mode,
                .ca_file = a->secure_boot.ca,
                .key = o->sb_key ? o->sb_key : a->secure_boot.key,
                .cert = o->sb_cert ? o->sb_cert : a->secure_boot.cert,
                .sign_kernels = a->secure_boot.sign_kernels,
        };
        if (o->sb_key || o->sb_cert) {
                if (sb.mode == BOOTPART_SB_DISTRIBUTION) {
                        r = xerr_set(e, -EINVAL, "--sb-key", "the spec asks for Secure Boot mode "
                                     "'distribution', which signs nothing");
                        goto out;
                }
                sb.mode = BOOTPART_SB_OWN_KEY;
        }
        p->sb_mode = sb.mode;
        usp = (struct bootpart_usp) {
                .payloads = p->payloads,
                .n_payloads = p->n_archs,
                .grub_dirs = o->grub_dirs,
                .seed = p->seed,
                .epoch = p->epoch,
                .workdir = workdir,
                .secure_boot = sb.mode != BOOTPART_SB_OFF ? &sb : NULL,
        };
        r = plan_make(p, o, &usp, e);
        if (r < 0)
                goto out;

        if (o->format == APPLIANCE_FORMAT_RAW) {
                r = xova_atomic_dir_open(o->output, o->force ? XOVA_ATOMIC_REPLACE : 0, &outdir, e);
                if (r < 0)
                        goto out;
                diskdir = xova_atomic_dir_path(outdir);
        } else {
                diskdir = workdir;
        }
        for (size_t i = 0; i < p->n_disks; i++) {
                p->disks[i].path = xova_path_join(diskdir, p->disks[i].file);
                if (!p->disks[i].path) {
                        r = xerr_set(e, -ENOMEM, NULL, "out of memory");
                        goto out;
                }
        }
        /* every disk at its final size first: the descriptor needs them */
        for (size_t i = 0; i < p->n_disks; i++) {
                r = write_gpt(&p->disks[i], p->disks[i].gp, e);
                if (r < 0)
                        goto out;
        }
        if (o->format == APPLIANCE_FORMAT_RAW) {
                for (size_t i = 0; i < p->n_disks; i++) {
                        r = write_parts(p, &p->disks[i], p->disks[i].gp, &usp, workdir, &o->progress, e);
                        if (r < 0)
                                goto out;
                }
                xova_pause_point("disks");
                r = write_summary(p, diskdir, e);
                if (r < 0)
                        goto out;
                r = xova_atomic_dir_commit(outdir, e);
        } else {
                desc = calloc(1, sizeof(*desc));
                if (!desc) {
                        r = xerr_set(e, -ENOMEM, NULL, "out of memory");
                        goto out;
                }
                r = fill_descriptor(p, desc, e);
                if (r < 0)
                        goto out;
                r = export_bundle(p, o, desc, &usp, workdir, e);
        }
out:
        for (size_t i = 0; i < p->n_disks; i++)
                free(p->disks[i].path);
        xova_workdir_remove(workdir);
        return r;
}
