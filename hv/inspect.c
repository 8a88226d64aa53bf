/* SPDX-License-Identifier: MIT */
/*
 * inspect.c - look inside the disks of a verified bundle with libguestfs.
 *
 * guestfs-security(1): an untrusted filesystem is never mounted on the host
 * kernel. Every disk goes, read-only and with its format always given, into
 * one libguestfs appliance (its own kernel, inside QEMU); everything read back
 * is treated as hostile: sizes are capped, strings sanitized (see hv.h).
 *
 * How a disk reaches libguestfs. The VMDK lies inside the OVA at an offset,
 * and guestfs_add_drive_opts() can only name a whole file (a "json:" block
 * spec as the drive name is neither portable nor allowed by its filename
 * checks). Two ways out were weighed:
 *   - extract each disk with ovf_vmdk_check(..., out_fd) into a sparse raw
 *     temp file: simple, but inflates every grain and costs up to the
 *     populated size in scratch space and time on big disks;
 *   - a qcow2 overlay per disk (in a private work directory) whose backing
 *     file is the member in place, json:{"driver":"vmdk","file":{"driver":
 *     "raw","offset":O,"size":S,"file":{...}}} with the backing format given
 *     (-F vmdk), added to libguestfs as format "qcow2". Zero copy, constant
 *     scratch space, and the same block graph hv/ boots (QEMU's vmdk
 *     driver reads a streamOptimized member in place through the raw
 *     offset/size node: the boot tests read their disks that way).
 * We use the overlay. QEMU's VMDK driver then parses the member, but only
 * after ovf_bundle_open() ran ovf_vmdk_check() over it (one extent, no
 * parent, markers in bounds), the same trust hv/ extends when it boots it.
 * The backing "filename" is /proc/<our pid>/fd/<verified fd>, not the path:
 * libguestfs' QEMU (same user) then opens the very inode whose digest was
 * checked, even if the bundle's path is replaced meanwhile.
 *
 * Launch: backend "direct" (no libvirt) and TCG forced: KVM is present but
 * broken on our build hosts, and libguestfs preferring it hung for minutes
 * in the launch (seen on those hosts). libguestfs' own launch limit is 20 minutes, so a
 * watchdog thread kills the launching thread's children (supermin, QEMU and
 * its recovery process) after HV_DEEP_LAUNCH_TIMEOUT seconds, which makes
 * guestfs_launch() return promptly with an error we turn into a timeout.
 */
#include "config.h"

#include "hv/hv-internal.h"

#if HAVE_LIBGUESTFS

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <guestfs.h>


#define DEEP_MEMSIZE_MIB 512
#define DEEP_FILE_CAP (64 * 1024)       /* bytes read of /etc/os-release */
#define DEEP_LINE_CAP 255               /* a hostname, a label, a PRETTY_NAME */
#define DEEP_LS_CAP 256                 /* entries of /EFI/BOOT reported */
#define DEEP_MAX_FS 256                 /* filesystems per disk reported */

/* ---- hostile strings ---------------------------------------------------- */

/* In place: control characters (C0, DEL, C1) and invalid or overlong UTF-8
 * become '?'. */
static void sanitize(char *s)
{
        unsigned char *p = (unsigned char *) s;

        while (*p) {
                unsigned char c = *p;
                size_t n = 0;

                if (c < 0x20 || c == 0x7f) {
                        *p++ = '?';
                        continue;
                }
                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 2;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 3;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 4;
                bool ok = n > 0;
                for (size_t i = 1; ok && i < n; i++)
                        ok = (p[i] & 0xc0) == 0x80;
                if (ok && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
                           (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90) ||
                           (c == 0xc2 && p[1] < 0xa0)))   /* overlong, surrogate, > U+10FFFF, C1 */
                        ok = false;
                if (!ok) {
                        *p++ = '?';
                        continue;
                }
                p += n;
        }
}

/* A sanitized copy of at most cap bytes of s (NULL stays NULL). */
static char *dup_safe(const char *s, size_t cap)
{
        char *d;

        if (!s)
                return NULL;
        d = strndup(s, cap);
        if (d)
                sanitize(d);
        return d;
}

/* Takes a string returned by libguestfs: sanitized and capped, or NULL. */
static char *take_safe(char *s, size_t cap)
{
        char *d = dup_safe(s, cap);

        free(s);
        return d;
}

static void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}
static inline void strv_freep(char ***v) { strv_free(*v); *v = NULL; }
#define _cleanup_strv_ _cleanup_(strv_freep)

/* libguestfs' last error, sanitized (it can quote appliance output). */
static const char *gerr(guestfs_h *g, char *buf, size_t size)
{
        const char *m = guestfs_last_error(g);

        snprintf(buf, size, "%s", m ? m : "unknown libguestfs error");
        sanitize(buf);
        return buf;
}

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* ---- report ------------------------------------------------------------- */

static void fs_done(struct hv_deep_fs *f)
{
        free(f->device);
        free(f->type);
        free(f->label);
        free(f->uuid);
        free(f->os_type);
        free(f->os_distro);
        free(f->os_product);
        free(f->os_pretty_name);
        free(f->hostname);
        for (size_t i = 0; i < f->n_efi_boot; i++)
                free(f->efi_boot[i]);
        free(f->efi_boot);
        free(f->error);
}

struct hv_deep_report *hv_deep_report_free(struct hv_deep_report *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_disks; i++) {
                struct hv_deep_disk *d = &r->disks[i];
                free(d->device);
                free(d->partition_table);
                for (size_t j = 0; j < d->n_partitions; j++) {
                        free(d->partitions[j].device);
                        free(d->partitions[j].gpt_type);
                        free(d->partitions[j].name);
                }
                free(d->partitions);
                for (size_t j = 0; j < d->n_filesystems; j++)
                        fs_done(&d->filesystems[j]);
                free(d->filesystems);
        }
        free(r->disks);
        free(r->backend);
        free(r);
        return NULL;
}

/* ---- launch watchdog ---------------------------------------------------- */

struct watchdog {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool done, fired;
        pid_t tid;                      /* the thread calling guestfs_launch() */
        unsigned seconds;
};

/* SIGKILLs the children the launching thread forked (Linux
 * /proc/PID/task/TID/children, CONFIG_PROC_CHILDREN): only processes
 * libguestfs started for this launch, since the CLI starts nothing else
 * meanwhile. Without that file nothing is killed and libguestfs' own
 * 20-minute limit applies. */
static void kill_launch_children(pid_t tid)
{
        char path[64], buf[4096];
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) tid);
        f = fopen(path, "re");
        if (!f)
                return;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        for (char *p = buf, *end; *p; p = end) {
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (pid > 1) {
                        xova_debug("deep: launch timeout, killing %ld", pid);
                        kill((pid_t) pid, SIGKILL);
                }
        }
}

static void *watchdog_main(void *arg)
{
        struct watchdog *w = arg;
        struct timespec deadline;

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += w->seconds;
        pthread_mutex_lock(&w->lock);
        while (!w->done)
                if (pthread_cond_timedwait(&w->cond, &w->lock, &deadline) == ETIMEDOUT)
                        break;
        if (!w->done) {
                w->fired = true;
                kill_launch_children(w->tid);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* guestfs_launch() under the watchdog: 0, -XOVA_ETIMEOUT or -EIO. */
static int launch_guarded(guestfs_h *g, unsigned seconds, struct xerr *e)
{
        struct watchdog w = { .tid = (pid_t) syscall(SYS_gettid), .seconds = seconds };
        pthread_condattr_t ca;
        pthread_t th;
        char msg[400];
        int r, rl;

        pthread_mutex_init(&w.lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w.cond, &ca);
        pthread_condattr_destroy(&ca);
        r = pthread_create(&th, NULL, watchdog_main, &w);
        if (r != 0) {
                pthread_cond_destroy(&w.cond);
                pthread_mutex_destroy(&w.lock);
                return xerr_set_errno(e, -r, "libguestfs", "cannot start the launch watchdog");
        }
        rl = guestfs_launch(g);
        if (rl < 0)
                gerr(g, msg, sizeof(msg));
        pthread_mutex_lock(&w.lock);
        w.done = true;
        pthread_cond_signal(&w.cond);
        pthread_mutex_unlock(&w.lock);
        pthread_join(th, NULL);
        pthread_cond_destroy(&w.cond);
        pthread_mutex_destroy(&w.lock);
        if (w.fired)
                return xerr_set(e, -XOVA_ETIMEOUT, "libguestfs",
                                "appliance did not start within %u s (backend direct, TCG); killed it",
                                seconds);
        if (rl < 0)
                return xerr_set(e, -EIO, "libguestfs", "cannot launch the appliance (backend direct, "
                                "TCG): %s", msg);
        return 0;
}

/* ---- adding the disks --------------------------------------------------- */

/* The overlays described at the top of this file, workdir/disk-N.qcow2,
 * one per disk of the descriptor, made at once. */
static int make_overlays(const struct ovf_bundle *b, const char *workdir, char ***ret_paths, struct xerr *e)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);
        size_t n = d->n_disks;
        _cleanup_strv_ char **paths = calloc(n + 1, sizeof(char *));
        _cleanup_free_ struct hv_disk *disks = calloc(n ? n : 1, sizeof(*disks));
        _cleanup_free_ struct hv_overlay *v = calloc(n ? n : 1, sizeof(*v));
        int r;

        if (!paths || !disks || !v)
                return xerr_set(e, -ENOMEM, "libguestfs", "out of memory");
        for (size_t i = 0; i < n; i++) {
                const struct ovf_disk *k = &d->disks[i];

                disks[i] = (struct hv_disk) { .id = k->id, .fd = ovf_bundle_disk_fd(b, i), .format = k->format,
                                              .capacity = k->capacity };
                r = ovf_bundle_disk_location(b, i, &disks[i].file, &disks[i].offset, &disks[i].size, e);
                if (r < 0)
                        return r;
                if (disks[i].fd <= STDERR_FILENO)
                        return xerr_set(e, -EBADF, k->id, "no open file for the disk");
                if (asprintf(&paths[i], "%s/disk-%zu.qcow2", workdir, i) < 0) {
                        paths[i] = NULL;
                        return xerr_set(e, -ENOMEM, k->id, "out of memory");
                }
                /* libguestfs' QEMU is not our child and inherits nothing
                 * (libguestfs closes every fd): it opens our fd through
                 * /proc/<xova>/fd/N, the verified inode, while we wait */
                v[i] = (struct hv_overlay) { .id = k->id, .path = paths[i], .fd = -1, .capacity = k->capacity,
                                             .backing = &disks[i], .backing_holder = getpid() };
        }
        r = hv_overlays_create(v, n, e);
        if (r < 0)
                return r;
        *ret_paths = TAKE_PTR(paths);
        return 0;
}

/* ---- probing ------------------------------------------------------------ */

/* The descriptor disk a partition or whole device belongs to, or -1. */
static ssize_t disk_of_device(guestfs_h *g, const char *dev)
{
        _cleanup_free_ char *whole = guestfs_part_to_dev(g, dev);
        int idx = guestfs_device_index(g, whole ? whole : dev);

        return idx < 0 ? -1 : idx;
}

/* At most cap bytes of a regular file in the mounted guest fs: 0, or
 * -ENOENT when absent / not a regular file, -EIO on a read error. */
static int read_guest_file(guestfs_h *g, const char *path, size_t cap, char **ret, size_t *ret_len)
{
        char *buf;
        size_t n = 0;

        if (guestfs_is_file(g, path) != 1)
                return -ENOENT;
        buf = guestfs_pread(g, path, (int) cap, 0, &n);
        if (!buf)
                return -EIO;
        /* NUL-terminate into a copy: pread's buffer is not a string */
        char *s = malloc(n + 1);
        if (!s) {
                free(buf);
                return -ENOMEM;
        }
        memcpy(s, buf, n);
        s[n] = '\0';
        free(buf);
        *ret = s;
        *ret_len = n;
        return 0;
}

/* PRETTY_NAME from os-release text (os-release(5): shell-like quoting). */
static char *os_release_pretty_name(const char *text, size_t len)
{
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                if ((size_t) (le - p) > 12 && memcmp(p, "PRETTY_NAME=", 12) == 0) {
                        const char *v = p + 12;
                        char q = 0, out[DEEP_LINE_CAP + 1];
                        size_t o = 0;
                        if (v < le && (*v == '"' || *v == '\''))
                                q = *v++;
                        for (; v < le && o < DEEP_LINE_CAP; v++) {
                                if (q && *v == q)
                                        break;
                                if (*v == '\\' && q != '\'' && v + 1 < le)
                                        v++;
                                if (*v == '\0')
                                        break;
                                out[o++] = *v;
                        }
                        out[o] = '\0';
                        return dup_safe(out, DEEP_LINE_CAP);
                }
                p = le + 1;
        }
        return NULL;
}

static void set_fs_error(struct hv_deep_fs *f, guestfs_h *g, const char *what)
{
        char m[300], *s = NULL;

        if (f->error)
                return;
        if (asprintf(&s, "%s: %s", what, gerr(g, m, sizeof(m))) >= 0)
                f->error = s;
}

/* A root disk's fs: mounted read-only in the appliance with its type forced
 * (only the Linux root types xova builds); os-release and hostname. */
static void probe_root_fs(guestfs_h *g, struct hv_deep_fs *f)
{
        _cleanup_free_ char *text = NULL;
        size_t len;

        if (!f->type || (strcmp(f->type, "ext4") != 0 && strcmp(f->type, "ext3") != 0 &&
                         strcmp(f->type, "ext2") != 0))
                return;
        if (guestfs_mount_vfs(g, "ro", f->type, f->device, "/") < 0) {
                set_fs_error(f, g, "cannot mount read-only in the appliance");
                return;
        }
        if (read_guest_file(g, "/etc/os-release", DEEP_FILE_CAP, &text, &len) == 0)
                f->os_pretty_name = os_release_pretty_name(text, len);
        else if (read_guest_file(g, "/usr/lib/os-release", DEEP_FILE_CAP, &text, &len) == 0)
                f->os_pretty_name = os_release_pretty_name(text, len);
        free(TAKE_PTR(text));
        if (read_guest_file(g, "/etc/hostname", DEEP_LINE_CAP, &text, &len) == 0) {
                text[strcspn(text, "\r\n")] = '\0';
                f->hostname = dup_safe(text, DEEP_LINE_CAP);
        }
        guestfs_umount_all(g);
}

/* The boot disk's vfat fs: the entries of /EFI/BOOT. */
static int probe_esp(guestfs_h *g, struct hv_deep_fs *f)
{
        _cleanup_strv_ char **ls = NULL;
        size_t n = 0;

        if (!f->type || strcmp(f->type, "vfat") != 0)
                return 0;
        if (guestfs_mount_vfs(g, "ro", "vfat", f->device, "/") < 0) {
                set_fs_error(f, g, "cannot mount read-only in the appliance");
                return 0;
        }
        if (guestfs_is_dir(g, "/EFI/BOOT") == 1) {
                ls = guestfs_ls(g, "/EFI/BOOT");
                if (!ls)
                        set_fs_error(f, g, "cannot list /EFI/BOOT");
        }
        guestfs_umount_all(g);
        f->efi_boot_listed = ls != NULL;
        if (!ls)
                return 0;
        while (ls[n] && n < DEEP_LS_CAP)
                n++;
        f->efi_boot = calloc(n ? n : 1, sizeof(char *));
        if (!f->efi_boot)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                f->efi_boot[i] = dup_safe(ls[i], DEEP_LINE_CAP);
                if (!f->efi_boot[i])
                        return -ENOMEM;
                f->n_efi_boot++;
        }
        return 0;
}

static int list_partitions(guestfs_h *g, const struct ovf_descriptor *d, struct hv_deep_report *rep,
                           struct xerr *e)
{
        _cleanup_strv_ char **parts = guestfs_list_partitions(g);
        char m[300];

        if (!parts)
                return xerr_set(e, -EIO, "libguestfs", "cannot list partitions: %s", gerr(g, m, sizeof(m)));
        for (size_t i = 0; i < rep->n_disks; i++) {
                struct hv_deep_disk *dd = &rep->disks[i];
                char *pt = guestfs_part_get_parttype(g, dd->device);
                dd->partition_table = take_safe(pt, 32);
        }
        for (char **p = parts; *p; p++) {
                ssize_t di = disk_of_device(g, *p);
                struct hv_deep_disk *dd;
                struct hv_deep_partition *np, *pp;

                if (di < 0 || (size_t) di >= rep->n_disks)
                        continue;
                dd = &rep->disks[di];
                if (dd->n_partitions >= DEEP_MAX_FS)
                        continue;
                np = realloc(dd->partitions, (dd->n_partitions + 1) * sizeof(*np));
                if (!np)
                        return xerr_set(e, -ENOMEM, d->disks[dd->disk].id, "out of memory");
                dd->partitions = np;
                pp = &np[dd->n_partitions++];
                *pp = (struct hv_deep_partition) { .device = dup_safe(*p, 64) };
                pp->number = guestfs_part_to_partnum(g, *p);
                int64_t sz = guestfs_blockdev_getsize64(g, *p);
                pp->size = sz > 0 ? (uint64_t) sz : 0;
                if (dd->partition_table && strcmp(dd->partition_table, "gpt") == 0 && pp->number > 0) {
                        pp->gpt_type = take_safe(guestfs_part_get_gpt_type(g, dd->device, pp->number), 64);
                        pp->name = take_safe(guestfs_part_get_name(g, dd->device, pp->number), DEEP_LINE_CAP);
                }
        }
        return 0;
}

static int list_filesystems(guestfs_h *g, const struct ovf_descriptor *d, struct hv_deep_report *rep,
                            struct xerr *e)
{
        _cleanup_strv_ char **fs = guestfs_list_filesystems(g);
        char m[300];

        if (!fs)
                return xerr_set(e, -EIO, "libguestfs", "cannot list filesystems: %s", gerr(g, m, sizeof(m)));
        /* pairs: device, type */
        for (char **p = fs; p[0] && p[1]; p += 2) {
                ssize_t di = disk_of_device(g, p[0]);
                struct hv_deep_disk *dd;
                struct hv_deep_fs *nf, *f;

                if (di < 0 || (size_t) di >= rep->n_disks)
                        continue;       /* LVM and the like: not something xova builds */
                dd = &rep->disks[di];
                if (dd->n_filesystems >= DEEP_MAX_FS)
                        continue;
                nf = realloc(dd->filesystems, (dd->n_filesystems + 1) * sizeof(*nf));
                if (!nf)
                        return xerr_set(e, -ENOMEM, d->disks[dd->disk].id, "out of memory");
                dd->filesystems = nf;
                f = &nf[dd->n_filesystems++];
                *f = (struct hv_deep_fs) { .device = dup_safe(p[0], 64), .type = dup_safe(p[1], 32) };
                if (!f->device || !f->type)
                        return xerr_set(e, -ENOMEM, d->disks[dd->disk].id, "out of memory");
                if (strcmp(f->type, "unknown") == 0 || strcmp(f->type, "swap") == 0)
                        continue;
                f->label = take_safe(guestfs_vfs_label(g, p[0]), DEEP_LINE_CAP);
                f->uuid = take_safe(guestfs_vfs_uuid(g, p[0]), 64);
                if (f->label && !*f->label)
                        free(TAKE_PTR(f->label));
                if (f->uuid && !*f->uuid)
                        free(TAKE_PTR(f->uuid));
        }
        return 0;
}

static struct hv_deep_fs *fs_by_device(struct hv_deep_report *rep, const char *dev)
{
        for (size_t i = 0; i < rep->n_disks; i++)
                for (size_t j = 0; j < rep->disks[i].n_filesystems; j++)
                        if (strcmp(rep->disks[i].filesystems[j].device, dev) == 0)
                                return &rep->disks[i].filesystems[j];
        return NULL;
}

/* libguestfs' own inspection: finds nothing on a minimal root (hello has
 * only /etc/os-release and /etc/hostname), which is not an error. */
static void inspect_os(guestfs_h *g, struct hv_deep_report *rep)
{
        _cleanup_strv_ char **roots = guestfs_inspect_os(g);

        if (!roots)
                return;
        for (char **p = roots; *p; p++) {
                struct hv_deep_fs *f = fs_by_device(rep, *p);
                if (!f)
                        continue;
                f->os_type = take_safe(guestfs_inspect_get_type(g, *p), 64);
                f->os_distro = take_safe(guestfs_inspect_get_distro(g, *p), 64);
                f->os_product = take_safe(guestfs_inspect_get_product_name(g, *p), DEEP_LINE_CAP);
        }
        guestfs_umount_all(g);
}

/* ---- entry point -------------------------------------------------------- */

static void guestfs_closep(guestfs_h **g)
{
        if (*g) {
                guestfs_shutdown(*g);
                guestfs_close(*g);
                *g = NULL;
        }
}

static void workdir_removep(char **p)
{
        if (*p) {
                xova_workdir_remove(*p);
                free(*p);
                *p = NULL;
        }
}

int hv_inspect_deep(const struct ovf_bundle *b, struct hv_deep_report **ret, struct xerr *e)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);
        _cleanup_(hv_deep_report_freep) struct hv_deep_report *rep = NULL;
        _cleanup_(workdir_removep) char *workdir = NULL;
        _cleanup_(guestfs_closep) guestfs_h *g = NULL;
        _cleanup_strv_ char **devices = NULL, **overlays = NULL;
        char *settings[] = { "force_tcg", NULL };
        uint64_t t0 = now_ms(), t1;
        char m[300];
        int r;

        rep = calloc(1, sizeof(*rep));
        if (!rep || !(rep->disks = calloc(d->n_disks ? d->n_disks : 1, sizeof(*rep->disks))) ||
            !(rep->backend = strdup("direct (TCG)")))
                return xerr_set(e, -ENOMEM, "libguestfs", "out of memory");
        r = xova_workdir_new(NULL, &workdir, e);
        if (r < 0)
                return r;

        /* no environment: LIBGUESTFS_BACKEND & co. cannot bring KVM or
         * libvirt back; XOVA_DEBUG turns on libguestfs' own debug output */
        g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT | GUESTFS_CREATE_NO_CLOSE_ON_EXIT);
        if (!g)
                return xerr_set_errno(e, errno ? -errno : -ENOMEM, "libguestfs", "cannot create a handle");
        guestfs_set_error_handler(g, NULL, NULL);
        if (getenv("XOVA_DEBUG")) {
                guestfs_set_verbose(g, 1);
                guestfs_set_trace(g, 1);
        }
        if (guestfs_set_backend(g, "direct") < 0 || guestfs_set_backend_settings(g, settings) < 0 ||
            guestfs_set_memsize(g, DEEP_MEMSIZE_MIB) < 0 || guestfs_set_network(g, 0) < 0 ||
            guestfs_set_autosync(g, 0) < 0 || guestfs_set_tmpdir(g, workdir) < 0)
                return xerr_set(e, -EIO, "libguestfs", "cannot configure the handle: %s", gerr(g, m, sizeof(m)));

        r = make_overlays(b, workdir, &overlays, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d->n_disks; i++) {
                if (guestfs_add_drive_opts(g, overlays[i], GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2",
                                           GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0)
                        return xerr_set(e, -EIO, d->disks[i].id, "cannot add the disk to libguestfs: %s",
                                        gerr(g, m, sizeof(m)));
                rep->disks[i].disk = i;
                rep->n_disks++;
        }

        t1 = now_ms();
        r = launch_guarded(g, HV_DEEP_LAUNCH_TIMEOUT, e);
        if (r < 0)
                return r;
        rep->launch_ms = now_ms() - t1;

        devices = guestfs_list_devices(g);
        if (!devices)
                return xerr_set(e, -EIO, "libguestfs", "cannot list devices: %s", gerr(g, m, sizeof(m)));
        for (size_t i = 0; i < rep->n_disks; i++) {
                if (!devices[i])
                        return xerr_set(e, -EIO, d->disks[i].id, "the appliance does not show the disk");
                rep->disks[i].device = dup_safe(devices[i], 64);
                if (!rep->disks[i].device)
                        return xerr_set(e, -ENOMEM, d->disks[i].id, "out of memory");
        }

        r = list_partitions(g, d, rep, e);
        if (r < 0)
                return r;
        r = list_filesystems(g, d, rep, e);
        if (r < 0)
                return r;
        inspect_os(g, rep);

        for (size_t i = 0; i < rep->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                struct hv_deep_disk *dd = &rep->disks[i];
                bool root = k->role && strcmp(k->role, "root") == 0;
                bool boot = k->role && strcmp(k->role, "boot") == 0;

                for (size_t j = 0; j < dd->n_filesystems; j++) {
                        if (root)
                                probe_root_fs(g, &dd->filesystems[j]);
                        else if (boot && probe_esp(g, &dd->filesystems[j]) < 0)
                                return xerr_set(e, -ENOMEM, k->id, "out of memory");
                }
        }
        rep->total_ms = now_ms() - t0;
        *ret = TAKE_PTR(rep);
        return 0;
}

#else /* !HAVE_LIBGUESTFS */

int hv_inspect_deep(const struct ovf_bundle *b, struct hv_deep_report **ret, struct xerr *e)
{
        (void) b;
        (void) ret;
        return xerr_set(e, -ENOTSUP, "--deep", "this build of xova has no libguestfs (configure --with-libguestfs)");
}

struct hv_deep_report *hv_deep_report_free(struct hv_deep_report *r)
{
        (void) r;
        return NULL;
}

#endif
