/* SPDX-License-Identifier: MIT */
/*
 * Reading a bundle: an OVA (tar) or an OVF directory.
 *
 * The OVA is read once, with libarchive limited to the tar formats and no
 * filters. Nothing is extracted: each member's header is checked (a bare
 * name, a regular file, within the caps and within the file, in its place),
 * its bytes are hashed as they stream past, and its data offset inside the
 * OVA is remembered, so hv/ can later give QEMU (ova, offset, size) and
 * read the very bytes we hashed. As a guard against a parser differential,
 * the first and last bytes libarchive returned for each member are compared
 * with what a plain pread() finds at that offset. The checks of the tar
 * headers themselves (that every tar reader sees the same members) are in
 * ovf/tar.c, beside the writer of the headers we emit.
 *
 * Every structural or digest failure is -XOVA_EVERIFY naming the member.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "ovf/ovf-internal.h"

#define MAX_MEMBERS (OVF_MAX_DISKS + 3)
#define PROBE 512                       /* bytes compared at each end of a member */

struct member {
        char *name;
        uint64_t offset, size;
        uint8_t sha256[32];
};

struct ovf_bundle {
        char *path;
        bool is_dir;
        int fd;                         /* the OVA, or the directory */
        struct ovf_descriptor *d;
        struct member members[MAX_MEMBERS];
        size_t n_members;
        /* per disk: member index (OVA) or own file (directory) */
        size_t *disk_member;
        char **disk_paths;
        int *disk_fds;
        char *signer;
        bool signer_trusted;
};

struct ovf_bundle *ovf_bundle_free(struct ovf_bundle *b)
{
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_members; i++)
                free(b->members[i].name);
        if (b->d) {
                for (size_t i = 0; i < b->d->n_disks; i++) {
                        if (b->disk_paths)
                                free(b->disk_paths[i]);
                        if (b->disk_fds && b->disk_fds[i] >= 0)
                                close(b->disk_fds[i]);
                }
        }
        free(b->disk_member);
        free(b->disk_paths);
        free(b->disk_fds);
        ovf_descriptor_free(b->d);
        if (b->fd >= 0)
                close(b->fd);
        free(b->signer);
        free(b->path);
        free(b);
        return NULL;
}

const struct ovf_descriptor *ovf_bundle_descriptor(const struct ovf_bundle *b)
{
        return b->d;
}

const char *ovf_bundle_signer(const struct ovf_bundle *b)
{
        return b->signer;
}

bool ovf_bundle_signer_trusted(const struct ovf_bundle *b)
{
        return b->signer && b->signer_trusted;
}

size_t ovf_bundle_n_members(const struct ovf_bundle *b)
{
        return b->n_members;
}

int ovf_bundle_member(const struct ovf_bundle *b, size_t i, const char **ret_name, uint64_t *ret_offset,
                      uint64_t *ret_size)
{
        if (i >= b->n_members)
                return -ENOENT;
        if (ret_name)
                *ret_name = b->members[i].name;
        if (ret_offset)
                *ret_offset = b->members[i].offset;
        if (ret_size)
                *ret_size = b->members[i].size;
        return 0;
}

int ovf_bundle_member_sha256(const struct ovf_bundle *b, size_t i, uint8_t ret[32])
{
        if (i >= b->n_members)
                return -ENOENT;
        memcpy(ret, b->members[i].sha256, 32);
        return 0;
}

int ovf_bundle_disk_location(const struct ovf_bundle *b, size_t disk, const char **ret_file,
                             uint64_t *ret_offset, uint64_t *ret_size, struct xerr *e)
{
        if (disk >= b->d->n_disks)
                return xerr_set(e, -ENOENT, b->path, "no disk %zu (the bundle has %zu)", disk, b->d->n_disks);
        if (b->is_dir) {
                *ret_file = b->disk_paths[disk];
                *ret_offset = 0;
        } else {
                *ret_file = b->path;
                *ret_offset = b->members[b->disk_member[disk]].offset;
        }
        *ret_size = b->d->disks[disk].file_size;
        return 0;
}

int ovf_bundle_disk_fd(const struct ovf_bundle *b, size_t disk)
{
        if (!b->d || disk >= b->d->n_disks)
                return -ENOENT;
        return b->is_dir ? b->disk_fds[disk] : b->fd;
}

/* ---- shared checks ------------------------------------------------------ */

/* "<bundle>: member '<name>'" for error locations; names come from the
 * bundle, so they are escaped (common/escape.c) */
static const char *member_where(const struct ovf_bundle *b, const char *name, char *buf, size_t size)
{
        char shown[XOVA_ESC_MAX];

        snprintf(buf, size, "%s: member '%s'", b->path, xova_escape_str(shown, sizeof(shown), name));
        return buf;
}

/* The parse functions return -EBADMSG/-EFBIG for bad content; in a bundle
 * that is a failed verification. */
static int as_verify(struct xerr *e, int r)
{
        if (r < 0 && r != -ENOMEM && r != -XOVA_EVERIFY) {
                r = -XOVA_EVERIFY;
                if (e)
                        e->code = r;
        }
        return r;
}

static int setup_disks(struct ovf_bundle *b, struct xerr *e)
{
        size_t n = b->d->n_disks;

        b->disk_member = calloc(n, sizeof(*b->disk_member));
        b->disk_paths = calloc(n, sizeof(*b->disk_paths));
        b->disk_fds = malloc(n * sizeof(*b->disk_fds));
        if (!b->disk_member || !b->disk_paths || !b->disk_fds)
                return xerr_set(e, -ENOMEM, b->path, "out of memory");
        for (size_t i = 0; i < n; i++)
                b->disk_fds[i] = -1;
        return 0;
}

/* After all members are known: manifest, digests, signature, disk contents. */
static int check_contents(struct ovf_bundle *b, const char *ovf_name, const char *mf_buf, size_t mf_len,
                          const char *cert_buf, size_t cert_len, const struct ovf_open_opts *o, struct xerr *e)
{
        _cleanup_(ovf_manifest_freep) struct ovf_manifest *mf = NULL;
        _cleanup_free_ char *stem = strndup(ovf_name, strlen(ovf_name) - 4), *mf_name = NULL, *cert_name = NULL;
        char where[300];
        int r;

        if (!stem || asprintf(&mf_name, "%s.mf", stem) < 0 || asprintf(&cert_name, "%s.cert", stem) < 0)
                return xerr_set(e, -ENOMEM, b->path, "out of memory");
        if (!mf_buf) {
                if (cert_buf)
                        return xerr_set(e, -XOVA_EVERIFY, member_where(b, cert_name, where, sizeof(where)),
                                        "a certificate without a manifest '%s'", mf_name);
                return xerr_set(e, -XOVA_EVERIFY, b->path, "no manifest '%s': nothing to verify the disks against",
                                mf_name);
        }
        r = ovf_manifest_parse(mf_buf, mf_len, member_where(b, mf_name, where, sizeof(where)), &mf, e);
        if (r < 0)
                return as_verify(e, r);
        /* every manifest entry names a member, and every member (but the
         * manifest and the cert) is in the manifest with the same digest */
        for (size_t i = 0; i < mf->n; i++) {
                bool found = false;
                /* a manifest cannot hold its own digest, and the .cert is
                 * made after it: such a line is never checked, and a
                 * reader that checks it sees a mismatch */
                if (strcmp(mf->entries[i].name, mf_name) == 0 || strcmp(mf->entries[i].name, cert_name) == 0)
                        return xerr_set(e, -XOVA_EVERIFY, member_where(b, mf_name, where, sizeof(where)),
                                        "line %zu: names the %s itself ('%s'), which no manifest can hold",
                                        i + 1, strcmp(mf->entries[i].name, mf_name) == 0 ? "manifest" :
                                        "certificate", XOVA_ESC(mf->entries[i].name));
                for (size_t j = 0; j < b->n_members; j++)
                        found = found || strcmp(b->members[j].name, mf->entries[i].name) == 0;
                if (!found)
                        return xerr_set(e, -XOVA_EVERIFY, member_where(b, mf_name, where, sizeof(where)),
                                        "line %zu: names '%s', which is not in the bundle", i + 1,
                                        XOVA_ESC(mf->entries[i].name));
        }
        for (size_t j = 0; j < b->n_members; j++) {
                const struct member *m = &b->members[j];
                const struct ovf_manifest_entry *me;
                size_t line;
                if (strcmp(m->name, mf_name) == 0 || strcmp(m->name, cert_name) == 0)
                        continue;
                me = ovf_manifest_find(mf, m->name, &line);
                if (!me)
                        return xerr_set(e, -XOVA_EVERIFY, member_where(b, m->name, where, sizeof(where)),
                                        "not in the manifest");
                if (memcmp(me->sha256, m->sha256, 32) != 0)
                        return xerr_set(e, -XOVA_EVERIFY, member_where(b, m->name, where, sizeof(where)),
                                        "SHA256 mismatch (manifest line %zu)", line);
        }
        if (cert_buf) {
                r = ovf_cert_verify(member_where(b, cert_name, where, sizeof(where)), cert_buf, cert_len, mf_name,
                                    mf_buf, mf_len, o ? o->ca_file : NULL, &b->signer, e);
                if (r < 0)
                        return r;
                b->signer_trusted = o && o->ca_file;
        } else if (o && (o->require_signature || o->ca_file)) {
                /* asking for a CA check is asking for a signature */
                return xerr_set(e, -XOVA_EVERIFY, b->path, "not signed (no '%s'), and a signature is required",
                                cert_name);
        }
        /* the disks themselves: sizes agree, and a VMDK is checked before
         * anything hands it to QEMU */
        for (size_t i = 0; i < b->d->n_disks; i++) {
                struct ovf_disk *k = &b->d->disks[i];
                uint64_t off = 0, size = k->file_size, cap = 0;
                int fd = ovf_bundle_disk_fd(b, i);

                if (!b->is_dir)
                        off = b->members[b->disk_member[i]].offset;
                member_where(b, k->href, where, sizeof(where));
                if (k->format == OVF_DISK_RAW) {
                        if (size != k->capacity)
                                return xerr_set(e, -XOVA_EVERIFY, where, "raw disk '%s' is %" PRIu64
                                                " bytes, its capacity says %" PRIu64, k->id, size, k->capacity);
                        continue;
                }
                r = ovf_vmdk_check(fd, off, size, where, -1, &cap, e);
                if (r < 0)
                        return r == -ENOMEM || r == -ENOSYS ? r : as_verify(e, r);
                if (cap != k->capacity)
                        return xerr_set(e, -XOVA_EVERIFY, where, "VMDK capacity %" PRIu64 " differs from the "
                                        "descriptor's ovf:capacity %" PRIu64, cap, k->capacity);
        }
        return 0;
}

/* ---- OVA ---------------------------------------------------------------- */

struct ova_reader {
        struct ovf_bundle *b;
        struct archive *ar;
        uint64_t file_size;
        char *bufs[3];                  /* descriptor, manifest, cert */
        size_t lens[3];
        char *ovf_name;
};

/* Streams the current member's data: hashes it, keeps it in memory when
 * keep (small members), and compares both ends against pread(). */
static int read_member(struct ova_reader *rd, struct member *m, bool keep, char **ret_buf, struct xerr *e)
{
        struct ovf_bundle *b = rd->b;
        _cleanup_free_ char *buf = NULL;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t head[PROBE], tail[PROBE], probe[PROBE];
        size_t head_len = 0, tail_len = 0;
        uint64_t done = 0;
        unsigned int n32 = 32;
        char where[300];
        int r = 0;

        member_where(b, m->name, where, sizeof(where));
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return xerr_set(e, -ENOMEM, where, "out of memory");
        }
        if (keep && !(buf = malloc(m->size + 1))) {
                EVP_MD_CTX_free(md);
                return xerr_set(e, -ENOMEM, where, "out of memory");
        }
        for (;;) {
                const void *p;
                size_t n;
                la_int64_t off;
                int ar = archive_read_data_block(rd->ar, &p, &n, &off);

                if (ar == ARCHIVE_EOF)
                        break;
                if (ar != ARCHIVE_OK) {
                        r = xerr_set(e, -XOVA_EVERIFY, where, "cannot read: %s",
                                     archive_error_string(rd->ar) ? archive_error_string(rd->ar) : "damaged archive");
                        break;
                }
                /* we refused sparse members: data must be contiguous */
                if ((uint64_t) off != done || n > m->size - done) {
                        r = xerr_set(e, -XOVA_EVERIFY, where, "data block at %" PRId64 " out of sequence", (int64_t) off);
                        break;
                }
                EVP_DigestUpdate(md, p, n);
                if (keep)
                        memcpy(buf + done, p, n);
                if (head_len < PROBE) {
                        size_t c = n < PROBE - head_len ? n : PROBE - head_len;
                        memcpy(head + head_len, p, c);
                        head_len += c;
                }
                /* the last PROBE bytes seen so far */
                if (n >= PROBE) {
                        memcpy(tail, (const char *) p + n - PROBE, PROBE);
                        tail_len = PROBE;
                } else {
                        size_t keep_old = tail_len + n > PROBE ? PROBE - n : tail_len;
                        memmove(tail, tail + tail_len - keep_old, keep_old);
                        memcpy(tail + keep_old, p, n);
                        tail_len = keep_old + n;
                }
                done += n;
        }
        if (r == 0 && done != m->size)
                r = xerr_set(e, -XOVA_EVERIFY, where, "truncated: %" PRIu64 " of %" PRIu64 " bytes", done, m->size);
        if (r == 0 && EVP_DigestFinal_ex(md, m->sha256, &n32) != 1)
                r = xerr_set(e, -EIO, where, "cannot hash");
        EVP_MD_CTX_free(md);
        if (r < 0)
                return r;
        /* what QEMU will read at (offset, size) is what we hashed */
        if (head_len > 0) {
                r = xova_pread_all(b->fd, probe, head_len, (off_t) m->offset);
                if (r < 0 || memcmp(probe, head, head_len) != 0)
                        return xerr_set(e, -XOVA_EVERIFY, where, "data at offset %" PRIu64
                                        " differs from what the tar reader returned", m->offset);
                r = xova_pread_all(b->fd, probe, tail_len, (off_t) (m->offset + m->size - tail_len));
                if (r < 0 || memcmp(probe, tail, tail_len) != 0)
                        return xerr_set(e, -XOVA_EVERIFY, where, "data at offset %" PRIu64
                                        " differs from what the tar reader returned", m->offset + m->size - tail_len);
        }
        if (keep) {
                buf[m->size] = '\0';
                *ret_buf = TAKE_PTR(buf);
        }
        return 0;
}

/* Where the headers of the next member start: right after the last
 * member's data, padded to a whole block (0 before the first member). */
static uint64_t next_header_offset(const struct ovf_bundle *b)
{
        const struct member *m;

        if (b->n_members == 0)
                return 0;
        m = &b->members[b->n_members - 1];
        return m->offset + (m->size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

/* The member's own tar header: the block right before its data (sparse
 * members, whose headers continue, are refused before this). */
static int read_own_header(const struct ova_reader *rd, uint64_t data_off, const char *where,
                           struct tar_ustar_header *h, struct xerr *e)
{
        if (data_off < TAR_BLOCK)
                return xerr_set(e, -XOVA_EVERIFY, where, "data at offset %" PRIu64 ", before any header", data_off);
        if (xova_pread_all(rd->b->fd, h, TAR_BLOCK, (off_t) (data_off - TAR_BLOCK)) < 0)
                return xerr_set(e, -EIO, where, "cannot read its tar header at offset %" PRIu64,
                                data_off - TAR_BLOCK);
        return 0;
}

static int ova_member(struct ova_reader *rd, struct archive_entry *en, struct xerr *e)
{
        struct ovf_bundle *b = rd->b;
        const char *name = archive_entry_pathname(en), *why;
        size_t idx = b->n_members;
        struct member *m;
        char where[300];
        struct tar_ustar_header h;
        uint64_t data_off = (uint64_t) archive_filter_bytes(rd->ar, -1);
        int64_t size;
        int slot = -1;
        int r;

        /* a directory's name ends in '/': say what it is rather than how it is named */
        if (name && archive_entry_filetype(en) == AE_IFDIR && strlen(name) < 200)
                return xerr_set(e, -XOVA_EVERIFY, member_where(b, name, where, sizeof(where)),
                                "is a directory (only regular files are allowed)");
        if ((why = ovf_tar_name_problem(name))) {
                if (name && strlen(name) < 200)
                        member_where(b, name, where, sizeof(where));
                else
                        snprintf(where, sizeof(where), "%s: member %zu", b->path, idx + 1);
                return xerr_set(e, -XOVA_EVERIFY, where, "%s", why);
        }
        member_where(b, name, where, sizeof(where));
        why = ovf_tar_type_problem(en);
        /* a type libarchive knows is named as such; the others (and the
         * ones it takes for regular files) by their typeflag and offset */
        if (!why || strcmp(why, OVF_TAR_NOT_REGULAR) == 0) {
                r = read_own_header(rd, data_off, where, &h, e);
                if (r < 0)
                        return r;
                r = ovf_tar_check_own_type(&h, data_off - TAR_BLOCK, where, e);
                if (r < 0)
                        return r;
        }
        if (why)
                return xerr_set(e, -XOVA_EVERIFY, where, "%s (only regular files are allowed)", why);
        r = ovf_tar_check_name(&h, data_off - TAR_BLOCK, name, where, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->n_members; i++)
                if (strcmp(b->members[i].name, name) == 0)
                        return xerr_set(e, -XOVA_EVERIFY, where, "appears twice");
        if (idx >= MAX_MEMBERS)
                return xerr_set(e, -XOVA_EVERIFY, where, "more than %d members", MAX_MEMBERS);
        size = archive_entry_size(en);
        if (size < 0 || (uint64_t) size > OVF_MAX_MEMBER)
                return xerr_set(e, -XOVA_EVERIFY, where, "size %" PRId64 " out of range", size);
        r = ovf_tar_check_size(&h, data_off - TAR_BLOCK, size, where, e);
        if (r < 0)
                return r;
        r = ovf_tar_check_ext_headers(b->fd, next_header_offset(b), data_off - TAR_BLOCK, name, size, where, e);
        if (r < 0)
                return r;

        if (idx == 0) {
                if (!ovf_has_suffix(name, ".ovf"))
                        return xerr_set(e, -XOVA_EVERIFY, where, "the descriptor (.ovf) must be the first member");
                if (!(rd->ovf_name = strdup(name)))
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                if (size > OVF_MAX_DESCRIPTOR)
                        return xerr_set(e, -XOVA_EVERIFY, where, "descriptor is %" PRId64 " bytes, more than "
                                        "the limit of %d", size, OVF_MAX_DESCRIPTOR);
                slot = 0;
        } else if (ovf_has_suffix(name, ".ovf")) {
                return xerr_set(e, -XOVA_EVERIFY, where, "a second descriptor (the first is '%s')",
                                XOVA_ESC(rd->ovf_name));
        } else {
                size_t stem = strlen(rd->ovf_name) - 4;
                if (strncmp(name, rd->ovf_name, stem) == 0 && strcmp(name + stem, ".mf") == 0)
                        slot = 1;
                else if (strncmp(name, rd->ovf_name, stem) == 0 && strcmp(name + stem, ".cert") == 0)
                        slot = 2;
                if (slot > 0 && (uint64_t) size > (slot == 1 ? OVF_MAX_MANIFEST : OVF_MAX_CERT))
                        return xerr_set(e, -XOVA_EVERIFY, where, "%" PRId64 " bytes, more than the limit", size);
                if (slot < 0) {
                        size_t k;
                        for (k = 0; k < b->d->n_disks; k++)
                                if (strcmp(b->d->disks[k].href, name) == 0)
                                        break;
                        if (k == b->d->n_disks)
                                return xerr_set(e, -XOVA_EVERIFY, where, "not in the descriptor's References");
                        if ((uint64_t) size != b->d->disks[k].file_size)
                                return xerr_set(e, -XOVA_EVERIFY, where, "%" PRId64 " bytes, the descriptor's "
                                                "ovf:size says %" PRIu64, size, b->d->disks[k].file_size);
                        b->disk_member[k] = idx;
                }
        }

        m = &b->members[idx];
        m->offset = data_off;
        m->size = (uint64_t) size;
        if (m->offset > rd->file_size || m->size > rd->file_size - m->offset)
                return xerr_set(e, -XOVA_EVERIFY, where, "claims %" PRIu64 " bytes at offset %" PRIu64
                                ", beyond the end of the bundle (%" PRIu64 " bytes)", m->size, m->offset,
                                rd->file_size);
        if (!(m->name = strdup(name)))
                return xerr_set(e, -ENOMEM, where, "out of memory");
        b->n_members++;
        r = read_member(rd, m, slot >= 0, slot >= 0 ? &rd->bufs[slot] : NULL, e);
        if (r < 0)
                return r;
        if (slot >= 0)
                rd->lens[slot] = m->size;
        if (slot == 0) {
                r = ovf_descriptor_parse(rd->bufs[0], rd->lens[0], where, &b->d, e);
                if (r < 0)
                        return as_verify(e, r);
                r = setup_disks(b, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int open_ova(struct ovf_bundle *b, uint64_t file_size, const struct ovf_open_opts *o, struct xerr *e)
{
        struct ova_reader rd = { .b = b, .file_size = file_size };
        bool *seen = NULL;
        int r = 0, ar;

        rd.ar = archive_read_new();
        if (!rd.ar)
                return xerr_set(e, -ENOMEM, b->path, "out of memory");
        /* tar only, no decompression filters: an OVA is a plain tar */
        if (archive_read_support_format_tar(rd.ar) != ARCHIVE_OK ||
            archive_read_open_fd(rd.ar, b->fd, 64 * 1024) != ARCHIVE_OK) {
                r = xerr_set(e, -XOVA_EVERIFY, b->path, "not a tar archive (no valid tar header at offset 0): %s",
                             archive_error_string(rd.ar) ? archive_error_string(rd.ar) : "unknown format");
                goto out;
        }
        for (;;) {
                struct archive_entry *en;

                ar = archive_read_next_header(rd.ar, &en);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar != ARCHIVE_OK) {
                        /* ARCHIVE_WARN too: a header libarchive had to guess at is refused */
                        const char *why = archive_error_string(rd.ar) ? archive_error_string(rd.ar)
                                                                      : "damaged tar header";
                        if (b->n_members == 0)
                                r = xerr_set(e, -XOVA_EVERIFY, b->path, "member 1: tar header at offset 0: %s", why);
                        else
                                r = xerr_set(e, -XOVA_EVERIFY, b->path, "member %zu (after '%s'): tar header at "
                                             "offset %" PRIu64 ": %s", b->n_members + 1,
                                             XOVA_ESC(b->members[b->n_members - 1].name), next_header_offset(b), why);
                        goto out;
                }
                r = ova_member(&rd, en, e);
                if (r < 0)
                        goto out;
        }
        if (b->n_members == 0) {
                r = xerr_set(e, -XOVA_EVERIFY, b->path, "empty archive");
                goto out;
        }
        /*
         * The end: the end-of-archive marker (two zero blocks) right after the
         * last member, then nothing but zero padding (writers pad to their
         * record size). libarchive also ends quietly at a clean EOF or after
         * one zero block, so a bundle cut at a block boundary (losing, say, a
         * trailing .cert) would pass as complete: refused. Anything after the
         * marker is refused too: a second archive there is what a reader that
         * skips zero blocks (tar -i) would list.
         */
        r = ovf_tar_check_end(b->fd, b->path, next_header_offset(b), file_size,
                              b->members[b->n_members - 1].name, e);
        if (r < 0)
                goto out;
        /* every References entry is present */
        seen = calloc(b->d->n_disks, sizeof(*seen));
        if (!seen) {
                r = xerr_set(e, -ENOMEM, b->path, "out of memory");
                goto out;
        }
        for (size_t k = 0; k < b->d->n_disks; k++)
                for (size_t j = 0; j < b->n_members; j++)
                        if (strcmp(b->members[j].name, b->d->disks[k].href) == 0)
                                seen[k] = true;
        for (size_t k = 0; k < b->d->n_disks; k++)
                if (!seen[k]) {
                        char where[300];
                        r = xerr_set(e, -XOVA_EVERIFY, member_where(b, b->d->disks[k].href, where, sizeof(where)),
                                     "in References (disk '%s') but not in the archive", b->d->disks[k].id);
                        goto out;
                }
        r = check_contents(b, rd.ovf_name, rd.bufs[1], rd.lens[1], rd.bufs[2], rd.lens[2], o, e);
out:
        free(seen);
        for (size_t i = 0; i < 3; i++)
                free(rd.bufs[i]);
        free(rd.ovf_name);
        archive_read_free(rd.ar);
        return r;
}

/* ---- OVF directory ----------------------------------------------------- */

/* Opens name in the bundle directory: no symlinks, regular file, capped. */
static int dir_open_member(struct ovf_bundle *b, const char *name, uint64_t max, bool optional, int *ret_fd,
                           uint64_t *ret_size, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        char where[300];
        struct stat st;

        member_where(b, name, where, sizeof(where));
        fd = openat(b->fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && optional) {
                        *ret_fd = -1;
                        return 0;
                }
                if (errno == ELOOP)
                        return xerr_set(e, -XOVA_EVERIFY, where, "is a symbolic link");
                return xerr_set_errno(e, errno == ENOENT ? -XOVA_EVERIFY : -errno, where, "cannot open");
        }
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, where, "cannot stat");
        if (!S_ISREG(st.st_mode))
                return xerr_set(e, -XOVA_EVERIFY, where, "not a regular file");
        if ((uint64_t) st.st_size > max)
                return xerr_set(e, -XOVA_EVERIFY, where, "%" PRIu64 " bytes, more than the limit", (uint64_t) st.st_size);
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
                return xerr_set_errno(e, -errno, where, "cannot open");
        *ret_size = (uint64_t) st.st_size;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int dir_member(struct ovf_bundle *b, const char *name, uint64_t max, bool optional, bool keep,
                      int *ret_fd, char **ret_buf, size_t *ret_len, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct member *m;
        char where[300];
        EVP_MD_CTX *md;
        uint64_t size, done = 0;
        unsigned int n32 = 32;
        int r;

        r = dir_open_member(b, name, max, optional, &fd, &size, e);
        if (r < 0 || fd < 0)
                return r;
        member_where(b, name, where, sizeof(where));
        if (b->n_members >= MAX_MEMBERS)
                return xerr_set(e, -XOVA_EVERIFY, where, "too many members");
        buf = malloc(keep ? size + 1 : 1024 * 1024);
        md = EVP_MD_CTX_new();
        if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return xerr_set(e, -ENOMEM, where, "out of memory");
        }
        m = &b->members[b->n_members];
        while (done < size) {
                size_t n = keep ? (size_t) size : (size - done < 1024 * 1024 ? (size_t) (size - done) : 1024 * 1024);
                r = xova_pread_all(fd, buf, n, (off_t) done);
                if (r < 0) {
                        EVP_MD_CTX_free(md);
                        return xerr_set_errno(e, r, where, "cannot read");
                }
                EVP_DigestUpdate(md, buf, n);
                done += n;
        }
        r = EVP_DigestFinal_ex(md, m->sha256, &n32);
        EVP_MD_CTX_free(md);
        if (r != 1)
                return xerr_set(e, -EIO, where, "cannot hash");
        if (!(m->name = strdup(name)))
                return xerr_set(e, -ENOMEM, where, "out of memory");
        m->offset = 0;
        m->size = size;
        b->n_members++;
        if (keep) {
                buf[size] = '\0';
                *ret_buf = TAKE_PTR(buf);
                *ret_len = (size_t) size;
        }
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

static int open_dir(struct ovf_bundle *b, const struct ovf_open_opts *o, struct xerr *e)
{
        _cleanup_free_ char *ovf_name = NULL, *xml = NULL, *mf = NULL, *cert = NULL, *mf_name = NULL,
                            *cert_name = NULL;
        size_t xml_len = 0, mf_len = 0, cert_len = 0;
        char where[300];
        DIR *dir;
        struct dirent *de;
        int dfd, r;

        dfd = dup(b->fd);
        if (dfd < 0 || !(dir = fdopendir(dfd))) {
                if (dfd >= 0)
                        close(dfd);
                return xerr_set_errno(e, -errno, b->path, "cannot read directory");
        }
        while ((de = readdir(dir))) {
                if (!ovf_has_suffix(de->d_name, ".ovf"))
                        continue;
                if (ovf_name) {
                        r = xerr_set(e, -XOVA_EVERIFY, b->path, "more than one descriptor ('%s' and '%s')",
                                     XOVA_ESC(ovf_name), XOVA_ESC(de->d_name));
                        closedir(dir);
                        return r;
                }
                if (!(ovf_name = strdup(de->d_name))) {
                        closedir(dir);
                        return xerr_set(e, -ENOMEM, b->path, "out of memory");
                }
        }
        closedir(dir);
        if (!ovf_name)
                return xerr_set(e, -XOVA_EVERIFY, b->path, "no descriptor (*.ovf) in the directory");
        if (ovf_member_name_problem(ovf_name))
                return xerr_set(e, -XOVA_EVERIFY, b->path, "descriptor name '%s': %s", XOVA_ESC(ovf_name),
                                ovf_member_name_problem(ovf_name));
        r = dir_member(b, ovf_name, OVF_MAX_DESCRIPTOR, false, true, NULL, &xml, &xml_len, e);
        if (r < 0)
                return r;
        r = ovf_descriptor_parse(xml, xml_len, member_where(b, ovf_name, where, sizeof(where)), &b->d, e);
        if (r < 0)
                return as_verify(e, r);
        r = setup_disks(b, e);
        if (r < 0)
                return r;
        if (asprintf(&mf_name, "%.*s.mf", (int) strlen(ovf_name) - 4, ovf_name) < 0 ||
            asprintf(&cert_name, "%.*s.cert", (int) strlen(ovf_name) - 4, ovf_name) < 0)
                return xerr_set(e, -ENOMEM, b->path, "out of memory");
        r = dir_member(b, mf_name, OVF_MAX_MANIFEST, true, true, NULL, &mf, &mf_len, e);
        if (r < 0)
                return r;
        r = dir_member(b, cert_name, OVF_MAX_CERT, true, true, NULL, &cert, &cert_len, e);
        if (r < 0)
                return r;
        for (size_t k = 0; k < b->d->n_disks; k++) {
                struct ovf_disk *d = &b->d->disks[k];
                r = dir_member(b, d->href, OVF_MAX_MEMBER, false, false, &b->disk_fds[k], NULL, NULL, e);
                if (r < 0)
                        return r;
                if (b->members[b->n_members - 1].size != d->file_size)
                        return xerr_set(e, -XOVA_EVERIFY, member_where(b, d->href, where, sizeof(where)),
                                        "%" PRIu64 " bytes, the descriptor's ovf:size says %" PRIu64,
                                        b->members[b->n_members - 1].size, d->file_size);
                if (!(b->disk_paths[k] = xova_path_join(b->path, d->href)))
                        return xerr_set(e, -ENOMEM, b->path, "out of memory");
                b->disk_member[k] = b->n_members - 1;
        }
        return check_contents(b, ovf_name, mf, mf_len, cert, cert_len, o, e);
}

int ovf_bundle_open(const char *path, const struct ovf_open_opts *o, struct ovf_bundle **ret, struct xerr *e)
{
        _cleanup_(ovf_bundle_freep) struct ovf_bundle *b = NULL;
        struct stat st;
        int r;

        b = calloc(1, sizeof(*b));
        if (!b || !(b->path = strdup(path))) {
                free(b);
                b = NULL;
                return xerr_set(e, -ENOMEM, path, "out of memory");
        }
        /* O_NONBLOCK: a FIFO named as the bundle must not hang us */
        b->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (b->fd < 0)
                return xerr_set_errno(e, -errno, path, "cannot open");
        if (fstat(b->fd, &st) < 0)
                return xerr_set_errno(e, -errno, path, "cannot stat");
        if (S_ISDIR(st.st_mode)) {
                b->is_dir = true;
                r = open_dir(b, o, e);
        } else if (S_ISREG(st.st_mode)) {
                if (fcntl(b->fd, F_SETFL, fcntl(b->fd, F_GETFL) & ~O_NONBLOCK) < 0)
                        return xerr_set_errno(e, -errno, path, "cannot open");
                r = open_ova(b, (uint64_t) st.st_size, o, e);
        } else {
                return xerr_set(e, -EINVAL, path, "neither an OVA file nor an OVF directory");
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}
