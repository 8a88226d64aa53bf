/* SPDX-License-Identifier: MIT */
/*
 * ovf_export_for(): one architecture of a verified bundle, for one consumer
 * (VMware, VirtualBox, virt-v2v, Glance, libvirt), as a new OVA whose disk
 * members are copied byte for byte from the bundle. Split from export.c,
 * which writes a build's OVA from raw images: the two share only the tar
 * helpers of tar.c.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "ovf/ovf-internal.h"

#define CHUNK (1024 * 1024)


/* ---- one architecture for one consumer -------------------------------- */

/* Copies size bytes of fd from offset to the archive (the member header
 * is written by the caller), hashing them: no decompression, no
 * recompression, one read and one write per chunk. */
static int copy_member(int fd, uint64_t offset, uint64_t size, struct archive *ar, const char *name,
                       const char *target, const struct xova_progress *p, uint8_t ret_sha[32], struct xerr *e)
{
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned int n32 = 32;
        uint64_t done = 0;
        char phase[300];
        int r = 0;

        if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return xerr_set(e, -ENOMEM, name, "out of memory");
        }
        snprintf(phase, sizeof(phase), "copying '%s'", name);
        while (done < size) {
                size_t n = size - done < CHUNK ? (size_t) (size - done) : CHUNK;
                r = xova_pread_all(fd, buf, n, (off_t) (offset + done));
                if (r < 0) {
                        r = xerr_set_errno(e, r, name, "cannot read at offset %" PRIu64, offset + done);
                        break;
                }
                EVP_DigestUpdate(md, buf, n);
                if (ovf_tar_write_all(ar, buf, n) < 0) {
                        char what[300];
                        snprintf(what, sizeof(what), "cannot write member '%s'", name);
                        r = ovf_tar_error(ar, e, target, what);
                        break;
                }
                done += n;
                xova_progress_report(p, phase, done, size);
        }
        if (r == 0 && EVP_DigestFinal_ex(md, ret_sha, &n32) != 1)
                r = xerr_set(e, -EIO, name, "cannot hash");
        EVP_MD_CTX_free(md);
        return r;
}

/* The member index of name in b, or -ENOENT. */
static int bundle_member_index(const struct ovf_bundle *b, const char *name, size_t *ret)
{
        for (size_t i = 0; i < ovf_bundle_n_members(b); i++) {
                const char *n = NULL;
                if (ovf_bundle_member(b, i, &n, NULL, NULL) == 0 && n && strcmp(n, name) == 0) {
                        *ret = i;
                        return 0;
                }
        }
        return -ENOENT;
}

static void archive_writep(struct archive **ar)
{
        if (*ar)
                archive_write_free(*ar);
}

static void manifest_entriesp(struct ovf_manifest *m)
{
        free(m->entries);
}

/* The tar of an export: descriptor, manifest, cert, then each disk member
 * copied from the bundle and checked against its verified digest. */
static int write_export_tar(const struct ovf_bundle *b, const struct ovf_descriptor *d, const size_t *src_index,
                            const struct ovf_manifest *m, int fd, const char *target, const struct ovf_export_for_opts *o,
                            const char *const names[3], char *const bufs[3], const size_t lens[3], struct xerr *e)
{
        _cleanup_(archive_writep) struct archive *ar = archive_write_new();
        int r = 0;

        if (!ar)
                return xerr_set(e, -ENOMEM, target, "out of memory");
        /* the same tar as ovf_export(): ustar unless a member needs pax */
        if (archive_write_set_format_pax_restricted(ar) != ARCHIVE_OK ||
            archive_write_open_fd(ar, fd) != ARCHIVE_OK)
                return ovf_tar_error(ar, e, target, "cannot start the archive");
        for (size_t i = 0; r == 0 && i < 3; i++)
                if (bufs[i])
                        r = ovf_tar_add_buf(ar, names[i], bufs[i], lens[i], o->epoch, target, e);
        for (size_t i = 0; r == 0 && i < d->n_disks; i++) {
                const struct ovf_disk *k = &d->disks[i];
                const char *file = NULL;
                uint64_t off = 0, size = 0;
                uint8_t sha[32];
                int in;

                r = ovf_bundle_disk_location(b, src_index[i], &file, &off, &size, e);
                if (r < 0)
                        break;
                in = ovf_bundle_disk_fd(b, src_index[i]);
                if (in < 0 || size != k->file_size)
                        return xerr_set(e, -XOVA_EVERIFY, k->href, "disk '%s' has no verified bytes", k->id);
                r = ovf_tar_member_header(ar, k->href, size, o->epoch, target, e);
                if (r == 0)
                        r = copy_member(in, off, size, ar, k->href, target, &o->progress, sha, e);
                if (r == 0 && memcmp(sha, m->entries[i + 1].sha256, 32) != 0)
                        return xerr_set(e, -XOVA_EVERIFY, file, "disk '%s' changed after the bundle was verified",
                                        k->id);
        }
        if (r == 0 && archive_write_close(ar) != ARCHIVE_OK)
                r = ovf_tar_error(ar, e, target, "cannot finish the archive");
        return r;
}

int ovf_export_for(const struct ovf_bundle *b, const char *target, const struct ovf_export_for_opts *o,
                   struct ovf_descriptor **ret_d, struct xerr *e)
{
        const struct ovf_descriptor *src = ovf_bundle_descriptor(b);
        _cleanup_(ovf_descriptor_freep) struct ovf_descriptor *d = NULL;
        _cleanup_free_ char *xml = NULL, *mf = NULL, *cert = NULL, *ovf_name = NULL, *mf_name = NULL,
                            *cert_name = NULL;
        _cleanup_free_ size_t *src_index = NULL;
        _cleanup_(manifest_entriesp) struct ovf_manifest m = { 0 };
        _cleanup_atomic_ struct xova_atomic *out = NULL;
        size_t xml_len = 0, mf_len = 0, cert_len = 0;
        int r;

        if (!o->sign_key != !o->sign_cert)
                return xerr_set(e, -EINVAL, target, "signing needs both a key and a certificate");
        r = ovf_descriptor_subset(src, o->arch, &d, e);
        if (r < 0)
                return r;
        if (o->consumer == OVF_FOR_GLANCE && d->n_disks != 1)
                /* ovf_process.py _parse_OVF: "Currently, OVA packages
                 * containing multiple disk are not supported." */
                return xerr_set(e, -EINVAL, target,
                                "Glance imports an OVA with exactly one disk; the %s configuration of this bundle has "
                                "%zu (the split layout): build the appliance with --layout single", o->arch,
                                d->n_disks);
        src_index = calloc(d->n_disks, sizeof(*src_index));
        m.entries = calloc(d->n_disks + 1, sizeof(*m.entries));
        if (!src_index || !m.entries || asprintf(&ovf_name, "%s.ovf", d->name) < 0 ||
            asprintf(&mf_name, "%s.mf", d->name) < 0 || asprintf(&cert_name, "%s.cert", d->name) < 0)
                return xerr_set(e, -ENOMEM, target, "out of memory");
        /* the manifest's disk digests are the verified ones; the copy is
         * checked against them while it is written */
        for (size_t i = 0; i < d->n_disks; i++) {
                size_t mi = 0;
                if (bundle_member_index(b, d->disks[i].href, &mi) < 0)
                        return xerr_set(e, -XOVA_EVERIFY, d->disks[i].href, "disk '%s' is not a member of the bundle",
                                        d->disks[i].id);
                for (size_t k = 0; k < src->n_disks; k++)
                        if (strcmp(src->disks[k].id, d->disks[i].id) == 0)
                                src_index[i] = k;
                m.entries[i + 1].name = d->disks[i].href;
                ovf_bundle_member_sha256(b, mi, m.entries[i + 1].sha256);
        }
        r = ovf_descriptor_write_for(d, o->consumer, &xml, &xml_len, e);
        if (r < 0)
                return r;
        m.entries[0].name = ovf_name;
        m.n = d->n_disks + 1;
        r = ovf_sha256(xml, xml_len, m.entries[0].sha256);
        if (r == 0)
                r = ovf_manifest_format(&m, &mf, &mf_len);
        if (r < 0)
                return xerr_set(e, r, target, "cannot make the manifest");
        if (o->sign_key) {
                r = ovf_cert_sign(mf_name, mf, mf_len, o->sign_key, o->sign_cert, &cert, &cert_len, e);
                if (r < 0)
                        return r;
        }
        r = xova_atomic_open(target, 0666, o->force ? XOVA_ATOMIC_REPLACE : 0, &out, e);
        if (r < 0)
                return r;
        r = write_export_tar(b, d, src_index, &m, xova_atomic_fd(out), target, o,
                             (const char *const[3]){ ovf_name, mf_name, cert_name },
                             (char *const[3]){ xml, mf, cert }, (const size_t[3]){ xml_len, mf_len, cert_len }, e);
        if (r < 0)
                return r;
        r = xova_atomic_commit(out, e);
        if (r < 0)
                return r;
        if (ret_d)
                *ret_d = TAKE_PTR(d);
        return 0;
}
