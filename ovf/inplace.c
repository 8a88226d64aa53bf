/* SPDX-License-Identifier: MIT */
/*
 * inplace.c - how QEMU reads a disk of a verified bundle without unpacking
 * it: the read-only block node over a byte range of the bundle file, and
 * qcow2 overlays that take the writes. hv/ boots through it, deep.c hands
 * it to libguestfs; both get the same block graph from here.
 *
 * The node is JSON built with json-c, so a file name with ',' or '"' stays
 * one JSON string (QEMU's keyval syntax would need ",," escaping, and a
 * name like "x,file.driver=..." would inject an option), and every level
 * names its driver, so QEMU never probes a format (CVE-2010-3851 class).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ovf/ovf.h"

static json_object *file_node(const char *filename)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "driver", json_object_new_string("file"));
        json_object_object_add(o, "filename", json_object_new_string(filename));
        json_object_object_add(o, "read-only", json_object_new_boolean(1));
        return o;
}

char *ovf_disk_range_node(const struct ovf_disk_range *d)
{
        json_object *range = json_object_new_object(), *top = range;
        char *s;

        json_object_object_add(range, "driver", json_object_new_string("raw"));
        json_object_object_add(range, "read-only", json_object_new_boolean(1));
        if (d->offset > 0 || d->size > 0) {
                json_object_object_add(range, "offset", json_object_new_int64((int64_t) d->offset));
                if (d->size > 0)
                        json_object_object_add(range, "size", json_object_new_int64((int64_t) d->size));
        }
        json_object_object_add(range, "file", file_node(d->file));
        if (d->format != OVF_DISK_RAW) {
                top = json_object_new_object();
                json_object_object_add(top, "driver", json_object_new_string("vmdk"));
                json_object_object_add(top, "read-only", json_object_new_boolean(1));
                json_object_object_add(top, "file", range);
        }
        s = strdup(json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(top);
        return s;
}

/* ---- overlays ------------------------------------------------------------ */

struct overlay_job {
        const struct ovf_overlay *o;
        struct xerr e;
        int r;
        pthread_t thread;
        bool started;
};

static int overlay_create(const struct ovf_overlay *o, struct xerr *e)
{
        _cleanup_free_ char *node = NULL, *backing = NULL;
        char size[32];
        const char *argv[16];
        size_t n = 0;

        snprintf(size, sizeof(size), "%" PRIu64, o->capacity);
        argv[n++] = "qemu-img";
        argv[n++] = "create";
        argv[n++] = "-q";
        argv[n++] = "-f";
        argv[n++] = "qcow2";
        if (o->backing) {
                node = ovf_disk_range_node(o->backing);
                if (!node || asprintf(&backing, "json:%s", node) < 0) {
                        backing = NULL;
                        return xerr_set(e, -ENOMEM, o->path, "out of memory");
                }
                /* -F: the backing format, explicit; -u: do not open the
                 * backing now (the size is given), so nothing is probed */
                argv[n++] = "-u";
                argv[n++] = "-F";
                argv[n++] = o->backing->format == OVF_DISK_RAW ? "raw" : "vmdk";
                argv[n++] = "-b";
                argv[n++] = backing;
        }
        argv[n++] = o->path;
        argv[n++] = size;
        argv[n] = NULL;
        return xova_run("qemu-utils", (char *const *) argv, NULL, NULL, e);
}

static void *overlay_thread(void *p)
{
        struct overlay_job *j = p;

        j->r = overlay_create(j->o, &j->e);
        if (j->r < 0)
                xerr_prefix(&j->e, "disk '%s': cannot create its overlay", j->o->id ?: j->o->path);
        return NULL;
}

int ovf_overlays_create(const struct ovf_overlay *v, size_t n, struct xerr *e)
{
        _cleanup_free_ struct overlay_job *jobs = NULL;
        int r = 0;

        jobs = calloc(n, sizeof(*jobs));
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
