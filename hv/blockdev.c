/* SPDX-License-Identifier: MIT */
/*
 * blockdev.c - how QEMU reads a disk: the read-only block node over a byte
 * range of a verified file, and the qcow2 overlays that take the writes.
 * `xova run` boots through it, deep inspection (inspect.c) hands it to
 * libguestfs, `deploy` copies the verified bytes out through it; all three
 * get the same block graph from here.
 *
 * What QEMU opens is the verified open file, never the path: the file node's
 * "filename" is /proc/self/fd/N with N inherited by QEMU (hv_spawn keeps
 * it), or /proc/<xova>/fd/N when QEMU is not our direct child (libguestfs
 * closes every fd when it starts its appliance). Opening such a magic link
 * re-opens the very inode ovf_bundle_open() hashed, even after a rename
 * over the bundle's path, and QEMU may reopen it (other flags, locking) as
 * often as it likes: the link stays valid while the fd is open. QEMU's
 * -add-fd/"/dev/fdset/S" would do too, but its reopen needs an fd of
 * matching access mode per flag set; the magic link has no such limit, and
 * it is the one spelling that also works for qemu-img and libguestfs.
 *
 * Nodes are json_object trees built with json-c, so a file name with ','
 * or '"' stays one JSON string (QEMU's keyval syntax would need ",,"
 * escaping, and a name like "x,file.driver=..." would inject an option), and
 * every level names its driver, so QEMU never probes a format
 * (CVE-2010-3851 class).
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hv/hv-internal.h"

int hv_disk_filename(const struct hv_disk *d, pid_t holder, char *buf, size_t size)
{
        int n;

        if (d->fd >= 0 && d->fd <= STDERR_FILENO)
                return -EBADF;          /* a zero-initialised fd, not a disk */
        if (d->fd < 0)
                n = snprintf(buf, size, "%s", d->file);
        else if (holder > 0)
                n = snprintf(buf, size, "/proc/%d/fd/%d", (int) holder, d->fd);
        else
                n = snprintf(buf, size, "/proc/self/fd/%d", d->fd);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

json_object *hv_blockdev_file(const char *filename, bool read_only)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "driver", json_object_new_string("file"));
        json_object_object_add(o, "filename", json_object_new_string(filename));
        if (read_only)
                json_object_object_add(o, "read-only", json_object_new_boolean(1));
        return o;
}

json_object *hv_blockdev_source(const struct hv_disk *d, pid_t holder)
{
        char filename[PATH_MAX];
        json_object *range, *top;

        if (hv_disk_filename(d, holder, filename, sizeof(filename)) < 0)
                return NULL;
        range = top = json_object_new_object();
        json_object_object_add(range, "driver", json_object_new_string("raw"));
        json_object_object_add(range, "read-only", json_object_new_boolean(1));
        if (d->offset > 0 || d->size > 0) {
                json_object_object_add(range, "offset", json_object_new_int64((int64_t) d->offset));
                if (d->size > 0)
                        json_object_object_add(range, "size", json_object_new_int64((int64_t) d->size));
        }
        json_object_object_add(range, "file", hv_blockdev_file(filename, true));
        if (d->format != OVF_DISK_RAW) {
                top = json_object_new_object();
                json_object_object_add(top, "driver", json_object_new_string("vmdk"));
                json_object_object_add(top, "read-only", json_object_new_boolean(1));
                json_object_object_add(top, "file", range);
        }
        return top;
}

json_object *hv_blockdev_overlay(const struct hv_disk *d, const char *overlay, const char *node_name)
{
        json_object *o, *backing = hv_blockdev_source(d, 0);

        if (!backing)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "driver", json_object_new_string("qcow2"));
        json_object_object_add(o, "node-name", json_object_new_string(node_name));
        json_object_object_add(o, "discard", json_object_new_string("unmap"));
        json_object_object_add(o, "file", hv_blockdev_file(overlay, false));
        json_object_object_add(o, "backing", backing);
        return o;
}

const char *hv_json_text(json_object *o)
{
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

int hv_disk_capacity(const struct hv_disk *d, uint64_t *ret, struct xerr *e)
{
        struct stat s;

        if (d->capacity || d->size) {
                *ret = d->capacity ?: d->size;
                return 0;
        }
        if ((d->fd >= 0 ? fstat(d->fd, &s) : stat(d->file, &s)) < 0)
                return xerr_set_errno(e, -errno, d->file, "cannot stat");
        if ((uint64_t) s.st_size < d->offset)
                return xerr_set(e, -EINVAL, d->file, "disk offset %" PRIu64 " is past the end of the file",
                                d->offset);
        *ret = (uint64_t) s.st_size - d->offset;
        return 0;
}

/* ---- overlays ------------------------------------------------------------ */

struct overlay_job {
        const struct hv_overlay *o;
        struct xerr e;
        int r;
        pthread_t thread;
        bool started;
};

static int overlay_create(const struct hv_overlay *o, struct xerr *e)
{
        _cleanup_free_ char *backing = NULL;
        char size[32], target[PATH_MAX];
        const char *argv[16];
        int keep[2];
        size_t n = 0, n_keep = 0;
        struct xova_run_opts ro = { .keep_fds = keep };

        if (o->fd >= 0) {
                /* an output xova created O_EXCL|O_NOFOLLOW: qemu-img writes
                 * that inode and cannot be sent elsewhere by a symlink */
                snprintf(target, sizeof(target), "/proc/self/fd/%d", o->fd);
                keep[n_keep++] = o->fd;
        } else {
                snprintf(target, sizeof(target), "%s", o->path);
        }
        snprintf(size, sizeof(size), "%" PRIu64, o->capacity);
        argv[n++] = "qemu-img";
        argv[n++] = "create";
        argv[n++] = "-q";
        argv[n++] = "-f";
        argv[n++] = "qcow2";
        if (o->backing || o->backing_file) {
                enum ovf_disk_format f = o->backing ? o->backing->format : o->backing_format;
                if (o->backing) {
                        json_object *node = hv_blockdev_source(o->backing, o->backing_holder);
                        int k = node ? asprintf(&backing, "json:%s", hv_json_text(node)) : -1;
                        json_object_put(node);
                        if (k < 0) {
                                backing = NULL;
                                return xerr_set(e, -ENOMEM, o->path, "out of memory");
                        }
                }
                /* -F: the backing format, explicit; -u: do not open the
                 * backing now (the size is given), so nothing is probed */
                argv[n++] = "-u";
                argv[n++] = "-F";
                argv[n++] = f == OVF_DISK_RAW ? "raw" : "vmdk";
                argv[n++] = "-b";
                argv[n++] = backing ?: o->backing_file;
        }
        argv[n++] = target;
        argv[n++] = size;
        argv[n] = NULL;
        ro.n_keep_fds = n_keep;
        return xova_run_with("qemu-utils", (char *const *) argv, &ro, NULL, e);
}

static void *overlay_thread(void *p)
{
        struct overlay_job *j = p;

        j->r = overlay_create(j->o, &j->e);
        if (j->r < 0)
                xerr_prefix(&j->e, "disk '%s': cannot create its overlay", j->o->id ?: j->o->path);
        return NULL;
}

int hv_overlays_create(const struct hv_overlay *v, size_t n, struct xerr *e)
{
        _cleanup_free_ struct overlay_job *jobs = NULL;
        int r = 0;

        jobs = calloc(n ? n : 1, sizeof(*jobs));
        if (!jobs)
                return xerr_set(e, -ENOMEM, "overlays", "out of memory");
        /* One qemu-img per overlay, all at once: each is ~25 ms of process
         * start and nearly no I/O, and `xova run` waits for them before the
         * guest can start. A job that cannot get a thread runs here. */
        for (size_t i = 0; i < n; i++) {
                jobs[i].o = &v[i];
                jobs[i].started = pthread_create(&jobs[i].thread, NULL, overlay_thread, &jobs[i]) == 0;
                if (!jobs[i].started)
                        overlay_thread(&jobs[i]);
        }
        for (size_t i = 0; i < n; i++) {
                if (jobs[i].started)
                        pthread_join(jobs[i].thread, NULL);
                if (jobs[i].r < 0 && r == 0) {
                        r = jobs[i].r;
                        if (e)
                                *e = jobs[i].e;
                }
        }
        return r;
}

int hv_disk_copy(const struct hv_disk *d, int out_fd, struct xerr *e)
{
        uint64_t size = d->size;
        int r;

        if (d->fd < 0)
                return xerr_set(e, -EBADF, d->id ?: d->file, "no verified open file for the disk");
        if (size == 0) {
                struct stat s;
                if (fstat(d->fd, &s) < 0)
                        return xerr_set_errno(e, -errno, d->file, "cannot stat");
                size = (uint64_t) s.st_size - d->offset;
        }
        r = xova_copy_range(d->fd, (off_t) d->offset, out_fd, 0, size);
        if (r < 0)
                return xerr_set_errno(e, r, d->id ?: d->file, "cannot copy the verified disk");
        return 0;
}
