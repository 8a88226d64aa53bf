/* SPDX-License-Identifier: MIT */
/*
 * Deploy's volumes: each disk of the chosen VM definition, read from the
 * bundle's verified fd (never its path), converted to qcow2 and streamed
 * into a new storage volume on the host.
 *
 * Why qcow2: the bundle's disks are streamOptimized VMDK, which QEMU reads
 * only slowly and read-only in practice; qcow2 is QEMU's own read-write
 * format, sparse (a 66 MiB disk holding 43 MiB of data is a 43 MiB
 * upload, where raw would be the full size unless the stream is sparse),
 * and works on every pool type that holds files. `qemu-img convert` writes
 * it into an unnamed O_TMPFILE file (nothing to clean up if we die), whose
 * bytes are sent through virStorageVolUpload(). The volume is created as
 * exactly that many bytes (allocation 0: nothing preallocated); libvirt
 * refreshes it after the upload and sees the qcow2 header; the domain
 * names the format explicitly (<driver type='qcow2'/>), never probed.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "hv/deploy-internal.h"

/* An unnamed file for the converted image: $TMPDIR, else /var/tmp. */
static int tmpfile_open(struct xerr *e)
{
        const char *dir = getenv("TMPDIR");
        int fd;

        if (!dir || !*dir)
                dir = "/var/tmp";
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
                /* a filesystem without O_TMPFILE: a named file, unlinked at once */
                _cleanup_free_ char *tmpl = NULL;
                if (asprintf(&tmpl, "%s/xova-volume.XXXXXX", dir) < 0) {
                        tmpl = NULL;
                        return xerr_set(e, -ENOMEM, dir, "out of memory");
                }
                fd = mkostemp(tmpl, O_CLOEXEC);
                if (fd >= 0)
                        unlink(tmpl);
        }
        if (fd < 0)
                return xerr_set_errno(e, -errno, dir, "cannot create a temporary file for the converted disk");
        return fd;
}

/* qemu-img convert from the verified fd's in-place node to qcow2 in out_fd. */
static int convert_qcow2(const struct hv_disk *d, int out_fd, struct xerr *e)
{
        json_object *node = hv_blockdev_source(d, 0);
        _cleanup_free_ char *src = NULL;
        char target[64];
        int keep[2] = { d->fd, out_fd };
        struct xova_run_opts ro = { .keep_fds = keep, .n_keep_fds = 2 };
        int r;

        if (!node || asprintf(&src, "json:%s", hv_json_text(node)) < 0) {
                src = NULL;
                json_object_put(node);
                return xerr_set(e, -ENOMEM, d->id, "out of memory");
        }
        json_object_put(node);
        snprintf(target, sizeof(target), "/proc/self/fd/%d", out_fd);
        /* -n is not used: qemu-img creates the qcow2 in the file we opened */
        const char *argv[] = { "qemu-img", "convert", "-q", "-O", "qcow2", src, target, NULL };
        r = xova_run_with("qemu-utils", (char *const *) argv, &ro, NULL, e);
        if (r < 0)
                return xerr_prefix(e, "disk '%s': cannot convert to qcow2", XOVA_ESC(d->id));
        return 0;
}

static int volume_xml(const char *name, uint64_t bytes, char **ret)
{
        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
        bool bad = !w;

        if (w) {
                bad |= xmlTextWriterStartElement(w, BAD_CAST "volume") < 0;
                bad |= xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name) < 0;
                bad |= xmlTextWriterStartElement(w, BAD_CAST "capacity") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "bytes") < 0;
                bad |= xmlTextWriterWriteFormatString(w, "%" PRIu64, bytes) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
                bad |= xmlTextWriterWriteElement(w, BAD_CAST "allocation", BAD_CAST "0") < 0;
                bad |= xmlTextWriterStartElement(w, BAD_CAST "target") < 0;
                bad |= xmlTextWriterStartElement(w, BAD_CAST "format") < 0;
                bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "raw") < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
                bad |= xmlTextWriterStartElement(w, BAD_CAST "permissions") < 0;
                bad |= xmlTextWriterWriteElement(w, BAD_CAST "mode", BAD_CAST "0600") < 0;
                bad |= xmlTextWriterEndElement(w) < 0;
                bad |= xmlTextWriterEndElement(w) < 0;  /* target */
                bad |= xmlTextWriterEndDocument(w) < 0;
                xmlFreeTextWriter(w);
        }
        if (!bad)
                *ret = strdup((const char *) xmlBufferContent(buf));
        xmlBufferFree(buf);
        return bad || !*ret ? -ENOMEM : 0;
}

struct send_state {
        int fd;
        uint64_t sent, total;
        uint64_t next_note;
        const char *host, *name;
        void (*note)(void *, const char *);
        void *userdata;
};

static int send_chunk(virStreamPtr st, char *buf, size_t n, void *opaque)
{
        struct send_state *s = opaque;
        ssize_t k;

        (void) st;
        if (hv_lv_cancelled()) {
                errno = EINTR;
                return -1;      /* virStreamSendAll aborts the upload */
        }
        do
                k = read(s->fd, buf, n);
        while (k < 0 && errno == EINTR);
        if (k > 0) {
                s->sent += (uint64_t) k;
                /* progress for what takes a moment: volumes of 16 MiB and more */
                if (s->note && s->total >= 16u << 20 && s->sent >= s->next_note && s->sent < s->total) {
                        xova_note(s->note, s->userdata, "%s: volume '%s': %" PRIu64 "%% of %" PRIu64 " MiB",
                                  s->host, s->name, s->sent * 100 / s->total, s->total >> 20);
                        s->next_note += s->total / 4 + 1;
                }
        }
        return (int) k;
}

static int upload(virStoragePoolPtr pool, virStorageVolPtr vol, struct send_state *s, const char *host,
                  struct xerr *e)
{
        virStreamPtr st = virStreamNew(virStoragePoolGetConnect(pool), 0);
        int r = 0;

        if (!st)
                return xerr_set(e, -EIO, host, "cannot create a stream: %s", hv_lv_error());
        if (virStorageVolUpload(vol, st, 0, s->total, 0) < 0) {
                r = xerr_set(e, -EIO, host, "volume '%s': cannot upload: %s", s->name, hv_lv_error());
        } else if (virStreamSendAll(st, send_chunk, s) < 0) {
                r = xerr_set(e, -EIO, host, "volume '%s': upload failed after %" PRIu64 " of %" PRIu64 " bytes: %s",
                             s->name, s->sent, s->total, hv_lv_error());
                virStreamAbort(st);
        } else if (virStreamFinish(st) < 0) {
                r = xerr_set(e, -EIO, host, "volume '%s': upload did not complete: %s", s->name, hv_lv_error());
        }
        virStreamFree(st);
        return r;
}

int hv_lv_volume_upload(virStoragePoolPtr pool, const char *name, const struct hv_disk *d, const char *host,
                        void (*note)(void *, const char *), void *userdata, virStorageVolPtr *ret,
                        uint64_t *ret_bytes, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *xml = NULL;
        virStorageVolPtr vol;
        struct stat st;
        int r;

        fd = tmpfile_open(e);
        if (fd < 0)
                return fd;
        r = convert_qcow2(d, fd, e);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return xerr_set_errno(e, -errno, d->id, "cannot read the converted disk");
        if (volume_xml(name, (uint64_t) st.st_size, &xml) < 0)
                return xerr_set(e, -ENOMEM, host, "out of memory");
        vol = virStorageVolCreateXML(pool, xml, 0);
        if (!vol)
                return xerr_set(e, -EIO, host, "cannot create volume '%s' in pool '%s': %s", name,
                                virStoragePoolGetName(pool), hv_lv_error());
        struct send_state s = { .fd = fd, .total = (uint64_t) st.st_size, .host = host, .name = name,
                                .note = note, .userdata = userdata };
        s.next_note = s.total / 4;
        r = upload(pool, vol, &s, host, e);
        if (r < 0) {
                /* nothing half-written stays in the pool */
                virStorageVolDelete(vol, 0);
                virStorageVolFree(vol);
                return r;
        }
        *ret = vol;
        *ret_bytes = s.total;
        return 0;
}

int hv_lv_volume_delete(virConnectPtr conn, const char *pool_name, const char *name, struct xerr *e)
{
        virStoragePoolPtr pool = virStoragePoolLookupByName(conn, pool_name);
        virStorageVolPtr vol;
        int r = 0;

        if (!pool)
                return 0;
        virStoragePoolRefresh(pool, 0);
        vol = virStorageVolLookupByName(pool, name);
        if (vol) {
                if (virStorageVolDelete(vol, 0) < 0)
                        r = xerr_set(e, -EIO, name, "cannot delete the volume from pool '%s': %s", pool_name,
                                     hv_lv_error());
                virStorageVolFree(vol);
        }
        virStoragePoolFree(pool);
        return r;
}
