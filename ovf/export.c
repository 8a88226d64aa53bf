/* SPDX-License-Identifier: MIT */
/*
 * ovf_export(): raw images + descriptor model -> OVA (or OVF directory).
 *
 * Order of work: open the atomic target first (an existing output is
 * refused before any minute is spent converting), convert each disk once
 * (hashing as it is written), then the descriptor, the manifest and the
 * signature, then the tar. The tar is reproducible by construction: every
 * header field is set here (uid/gid 0, names "root", mode 0644, mtime =
 * epoch, no atime/ctime), members in a fixed order, pax headers only where
 * ustar cannot say it (pax_restricted).
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
#define POPULATED_BLOCK 4096    /* granularity of ovf:populatedSize for raw disks */

/* Where streamed bytes go: nowhere (hash only), a file (holes kept), or the tar. */
struct sink {
        int fd;
        struct archive *ar;
        const char *name;
};

/* Streams size bytes of in_fd (from offset 0) to the sink, hashing them and
 * counting non-zero blocks. Errors name `where`. */
static int stream(int in_fd, uint64_t size, const struct sink *s, const char *where, const char *phase,
                  const struct xova_progress *p, uint8_t ret_sha[32], uint64_t *ret_populated, struct xerr *e)
{
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint64_t done = 0, populated = 0;
        unsigned int n32 = 32;
        int r = 0;

        if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return xerr_set(e, -ENOMEM, where, "out of memory");
        }
        while (done < size) {
                size_t n = size - done < CHUNK ? (size_t) (size - done) : CHUNK;
                r = xova_pread_all(in_fd, buf, n, (off_t) done);
                if (r < 0) {
                        r = xerr_set_errno(e, r, where, "cannot read at offset %" PRIu64, done);
                        break;
                }
                EVP_DigestUpdate(md, buf, n);
                for (size_t o = 0; o < n; o += POPULATED_BLOCK) {
                        size_t bl = n - o < POPULATED_BLOCK ? n - o : POPULATED_BLOCK;
                        if (!xova_mem_is_zero(buf + o, bl))
                                populated += bl;
                }
                if (s && s->ar) {
                        r = ovf_tar_write_all(s->ar, buf, n);
                        if (r < 0) {
                                char what[300];
                                snprintf(what, sizeof(what), "cannot write member '%s'", where);
                                r = ovf_tar_error(s->ar, e, s->name, what);
                                break;
                        }
                } else if (s && s->fd >= 0) {
                        /* keep holes: an all-zero chunk is skipped, the size set below */
                        if (!xova_mem_is_zero(buf, n)) {
                                r = xova_pwrite_all(s->fd, buf, n, (off_t) done);
                                if (r < 0) {
                                        r = xerr_set_errno(e, r, s->name, "cannot write");
                                        break;
                                }
                        }
                }
                done += n;
                xova_progress_report(p, phase, done, size);
        }
        if (r == 0 && s && !s->ar && s->fd >= 0 && ftruncate(s->fd, (off_t) size) < 0)
                r = xerr_set_errno(e, -errno, s->name, "cannot write");
        if (r == 0 && EVP_DigestFinal_ex(md, ret_sha, &n32) != 1)
                r = xerr_set(e, -EIO, where, "cannot hash");
        EVP_MD_CTX_free(md);
        if (r == 0 && ret_populated)
                *ret_populated = populated;
        return r;
}


static int write_file_at(const char *dir, const char *name, const void *buf, size_t len, struct xerr *e)
{
        _cleanup_free_ char *path = xova_path_join(dir, name);
        _cleanup_close_ int fd = -1;
        int r;

        if (!path)
                return xerr_set(e, -ENOMEM, name, "out of memory");
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return xerr_set_errno(e, -errno, path, "cannot create");
        r = xova_write_all(fd, buf, len);
        if (r < 0)
                return xerr_set_errno(e, r, path, "cannot write");
        return 0;
}

static int create_file_at(const char *dir, const char *name, int *ret_fd, struct xerr *e)
{
        _cleanup_free_ char *path = xova_path_join(dir, name);
        int fd;

        if (!path)
                return xerr_set(e, -ENOMEM, name, "out of memory");
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return xerr_set_errno(e, -errno, path, "cannot create");
        *ret_fd = fd;
        return 0;
}

struct export_state {
        const char *target;
        struct ovf_descriptor *d;
        const struct ovf_export_opts *o;
        char *workdir;                  /* ours to remove, or NULL */
        const char *scratch;            /* where converted disks go (OVA) */
        struct xova_atomic *out;        /* OVA */
        struct xova_atomic_dir *dir;    /* OVF directory */
        int *src_fds;
        int *conv_fds;                  /* converted VMDKs (OVA), or -1 */
        uint8_t (*sha)[32];
        char *xml, *mf, *cert;
        size_t xml_len, mf_len, cert_len;
        char *ovf_name, *mf_name, *cert_name;
};

/* Waits, when the caller asked for it, until disk i's image is whole. */
static int disk_ready(const struct export_state *s, size_t i, struct xerr *e)
{
        if (!s->o->disk_ready)
                return 0;
        return s->o->disk_ready(s->o->disk_ready_ctx, i, e);
}

/* Disk i's source is read for the last time: closed, and the caller told. */
static void disk_done(const struct export_state *s, size_t i)
{
        if (s->src_fds[i] >= 0)
                close(s->src_fds[i]);
        s->src_fds[i] = -1;
        if (s->o->disk_done)
                s->o->disk_done(s->o->disk_ready_ctx, i);
}

/* Opens disk i's source and names its member; converts nothing. */
static int disk_prepare(struct export_state *s, size_t i, struct xerr *e)
{
        struct ovf_disk *k = &s->d->disks[i];
        const struct ovf_export_opts *o = s->o;
        uint64_t size;
        int r;

        if (!k->source)
                return xerr_set(e, -EINVAL, k->id, "disk has no source image");
        r = xova_open_input(k->source, OVF_MAX_CAPACITY, &s->src_fds[i], &size, e);
        if (r < 0)
                return r;
        if (size == 0)
                return xerr_set(e, -EINVAL, k->source, "disk image '%s' is empty", k->id);
        if (k->capacity && k->capacity != size)
                return xerr_set(e, -EINVAL, k->source, "image is %" PRIu64 " bytes, disk '%s' declares %" PRIu64,
                                size, k->id, k->capacity);
        k->capacity = size;
        k->format = o->disk_format;
        free(k->href);
        if (asprintf(&k->href, "%s-%s.%s", s->d->name, k->id, k->format == OVF_DISK_RAW ? "img" : "vmdk") < 0) {
                k->href = NULL;
                return xerr_set(e, -ENOMEM, k->id, "out of memory");
        }
        if (k->format == OVF_DISK_VMDK_STREAM && size % 512)
                return xerr_set(e, -EINVAL, k->source, "image is %" PRIu64 " bytes, not a multiple of 512", size);
        return 0;
}

/* One seed per disk: two disks never share a CID or uuid */
static char *disk_seed(const struct export_state *s, size_t i)
{
        char *seed = NULL;

        if (asprintf(&seed, "%s/%s", s->o->seed ? s->o->seed : "", s->d->disks[i].id) < 0)
                return NULL;
        return seed;
}

static int convert_disk(struct export_state *s, size_t i, struct xerr *e)
{
        struct ovf_disk *k = &s->d->disks[i];
        const struct ovf_export_opts *o = s->o;
        const char *outdir = s->dir ? xova_atomic_dir_path(s->dir) : s->scratch;
        uint64_t size;
        char phase[128];
        int r;

        r = disk_prepare(s, i, e);
        if (r < 0)
                return r;
        size = k->capacity;
        if (k->format == OVF_DISK_VMDK_STREAM) {
                struct ovf_vmdk_info info = { 0 };
                _cleanup_free_ char *seed = NULL;
                int out_fd = -1;

                r = create_file_at(outdir, k->href, &out_fd, e);
                if (r < 0)
                        return r;
                s->conv_fds[i] = out_fd;
                if (!s->dir) {
                        /* scratch copy for the tar: unlinked at once, so it
                         * vanishes with the fd whatever happens next */
                        _cleanup_free_ char *tmp = xova_path_join(outdir, k->href);
                        if (!tmp || unlink(tmp) < 0)
                                return xerr_set_errno(e, tmp ? -errno : -ENOMEM, outdir, "cannot use work directory");
                }
                if (!(seed = disk_seed(s, i)))
                        return xerr_set(e, -ENOMEM, k->id, "out of memory");
                r = ovf_vmdk_write_named(s->src_fds[i], size, out_fd, seed, k->href, o->threads, &o->progress, &info, e);
                if (r < 0)
                        return xerr_prefix(e, "converting disk '%s'", k->id);
                k->file_size = info.file_size;
                k->populated = info.populated;
                memcpy(s->sha[i], info.sha256, 32);
                disk_done(s, i);
                return 0;
        }

        /* raw: an OVF directory gets a sparse copy, hashed as copied; for an
         * OVA this pass only hashes, and the tar pass hashes again to catch a
         * source that changed in between. */
        snprintf(phase, sizeof(phase), "%s disk '%s'", s->dir ? "copying" : "hashing", k->id);
        if (s->dir) {
                struct sink sk = { .fd = -1, .name = k->href };
                r = create_file_at(outdir, k->href, &sk.fd, e);
                if (r < 0)
                        return r;
                s->conv_fds[i] = sk.fd;
                r = stream(s->src_fds[i], size, &sk, k->source, phase, &o->progress, s->sha[i], &k->populated, e);
        } else {
                r = stream(s->src_fds[i], size, NULL, k->source, phase, &o->progress, s->sha[i], &k->populated, e);
        }
        if (r < 0)
                return r;
        k->file_size = size;
        return 0;
}

/* The descriptor, the manifest (the descriptor, then the disks; never
 * itself or the cert) and, when signing, the cert, from d and s->sha. */
static int make_meta(struct export_state *s, struct xerr *e)
{
        struct ovf_manifest mf = { 0 };
        const struct ovf_export_opts *o = s->o;
        int r;

        free(s->xml);
        free(s->mf);
        free(s->cert);
        s->xml = s->mf = s->cert = NULL;
        r = ovf_descriptor_write(s->d, &s->xml, &s->xml_len, e);
        if (r < 0)
                return r;
        mf.entries = calloc(s->d->n_disks + 1, sizeof(*mf.entries));
        if (!mf.entries)
                return xerr_set(e, -ENOMEM, s->target, "out of memory");
        mf.entries[0].name = s->ovf_name;
        r = ovf_sha256(s->xml, s->xml_len, mf.entries[0].sha256);
        for (size_t i = 0; i < s->d->n_disks; i++) {
                mf.entries[i + 1].name = s->d->disks[i].href;
                memcpy(mf.entries[i + 1].sha256, s->sha[i], 32);
        }
        mf.n = s->d->n_disks + 1;
        if (r == 0)
                r = ovf_manifest_format(&mf, &s->mf, &s->mf_len);
        free(mf.entries);
        if (r < 0)
                return xerr_set(e, r, s->target, "cannot make the manifest");
        if (o->sign_key) {
                xova_progress_report(&o->progress, "signing", 0, 0);
                r = ovf_cert_sign(s->mf_name, s->mf, s->mf_len, o->sign_key, o->sign_cert, &s->cert, &s->cert_len, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- OVA with the VMDKs written in place -------------------------------- */

/*
 * The VMDKs are written straight into the OVA's temp file, each after room
 * for its tar header, instead of into scratch files that a second pass
 * copies (and hashes again) into the tar: at real sizes that pass read and
 * wrote every VMDK byte once more. The writer hashes as it writes, so the
 * manifest needs no other pass.
 *
 * What comes first in the OVA (descriptor, manifest, cert) holds the VMDK
 * sizes, known only afterwards. So its room R is reserved from a
 * descriptor made with upper bounds for those numbers; numbers with fewer
 * digits can only make it shorter, which changes the room only when the
 * descriptor ends in one tar block fewer. Then (and if a signature came
 * out longer) the disks are moved by the difference (OVA_MOVE), the rare
 * slow path. The headers are libarchive's own, made in memory (the same
 * calls as the streaming writer), and the end is what archive_write_close
 * writes into a regular file: two zero blocks. The bytes are
 * those of the streaming path (tests: reproducible.sh, tests/cli/golden.sh).
 */
#define PAD512(n) (((n) + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK)

/* Whether every disk fits the in-place layout: a plain 512-byte ustar
 * header (name under 100 bytes, VMDK surely under 8 GiB: no pax header). */
static uint64_t vmdk_bound(uint64_t capacity)
{
        /* a grain record is at most 12 + deflate bound, padded: < 1.01 x;
         * metadata (GT, GD, header, descriptor) < capacity / 64 + 1 MiB */
        return capacity + capacity / 8 + (UINT64_C(1) << 20);
}

static bool inplace_fits(const struct export_state *s)
{
        if (getenv("XOVA_OVA_STREAM"))  /* the old two-pass path, for tests and benches */
                return false;
        for (size_t i = 0; i < s->d->n_disks; i++) {
                const struct ovf_disk *k = &s->d->disks[i];
                if (k->capacity == 0 || vmdk_bound(k->capacity) >= (UINT64_C(1) << 33) ||
                    strlen(s->d->name) + strlen(k->id) + 6 >= 100)
                        return false;
        }
        return true;
}

/* Tar bytes made by libarchive in memory: n members (name, buf, len), each
 * header, data and padding; with buf[i] NULL, only that member's header. */
static int tar_bytes(struct export_state *s, const char *const *names, const void *const *bufs,
                     const size_t *lens, size_t n, uint8_t **ret, size_t *ret_len, struct xerr *e)
{
        _cleanup_free_ uint8_t *buf = NULL;
        struct archive *ar = archive_write_new();
        size_t size = 8 * TAR_BLOCK, used = 0;
        int r = 0;

        for (size_t i = 0; i < n; i++)
                size += 3 * TAR_BLOCK + (bufs[i] ? PAD512(lens[i]) : 0);
        buf = malloc(size);
        if (!ar || !buf) {
                archive_write_free(ar);
                return xerr_set(e, -ENOMEM, s->target, "out of memory");
        }
        if (archive_write_set_format_pax_restricted(ar) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(ar, 0) != ARCHIVE_OK ||
            archive_write_open_memory(ar, buf, size, &used) != ARCHIVE_OK)
                r = ovf_tar_error(ar, e, s->target, "cannot start the archive");
        for (size_t i = 0; r == 0 && i < n; i++) {
                r = ovf_tar_member_header(ar, names[i], lens[i], s->o->epoch, s->target, e);
                if (r == 0 && bufs[i]) {
                        if (ovf_tar_write_all(ar, bufs[i], lens[i]) < 0 || archive_write_finish_entry(ar) != ARCHIVE_OK)
                                r = ovf_tar_error(ar, e, s->target, "cannot make the archive");
                }
        }
        *ret_len = used;
        /* freeing closes: whatever it adds after `used` is not taken */
        archive_write_free(ar);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Descriptor, manifest, cert as tar members */
static int preamble_bytes(struct export_state *s, uint8_t **ret, size_t *ret_len, struct xerr *e)
{
        const char *names[3] = { s->ovf_name, s->mf_name, s->cert_name };
        const void *bufs[3] = { s->xml, s->mf, s->cert };
        size_t lens[3] = { s->xml_len, s->mf_len, s->cert_len };

        return tar_bytes(s, names, bufs, lens, s->cert ? 3 : 2, ret, ret_len, e);
}

/* Moves len bytes of fd from src to dst (the ranges may overlap). */
static int file_move(int fd, uint64_t src, uint64_t dst, uint64_t len)
{
        _cleanup_free_ uint8_t *buf = malloc(CHUNK);
        int r;

        if (!buf)
                return -ENOMEM;
        for (uint64_t done = 0; done < len;) {
                size_t n = len - done < CHUNK ? (size_t) (len - done) : CHUNK;
                /* copy away from the side being overwritten */
                uint64_t at = dst < src ? done : len - done - n;
                r = xova_pread_all(fd, buf, n, (off_t) (src + at));
                if (r == 0)
                        r = xova_pwrite_all(fd, buf, n, (off_t) (dst + at));
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

static int write_ova_inplace(struct export_state *s, struct xerr *e)
{
        struct ovf_descriptor *d = s->d;
        _cleanup_free_ uint64_t *at = calloc(d->n_disks, sizeof(*at));
        _cleanup_free_ uint8_t *pre = NULL;
        int fd = xova_atomic_fd(s->out);
        uint64_t room, end, final;
        size_t pre_len;
        int r;

        if (!at)
                return xerr_set(e, -ENOMEM, s->target, "out of memory");
        for (size_t i = 0; i < d->n_disks; i++) {
                r = disk_prepare(s, i, e);
                if (r < 0)
                        return r;
                /* upper bounds: as many digits as the real numbers, or more */
                d->disks[i].file_size = vmdk_bound(d->disks[i].capacity);
                d->disks[i].populated = d->disks[i].capacity;
        }
        r = make_meta(s, e);
        if (r == 0)
                r = preamble_bytes(s, &pre, &pre_len, e);
        if (r < 0)
                return r;
        room = pre_len;
        free(TAKE_PTR(pre));

        end = room;
        for (size_t i = 0; i < d->n_disks; i++) {
                struct ovf_disk *k = &d->disks[i];
                struct ovf_vmdk_info info = { 0 };
                _cleanup_free_ char *seed = disk_seed(s, i);

                if (!seed)
                        return xerr_set(e, -ENOMEM, k->id, "out of memory");
                at[i] = end;
                r = disk_ready(s, i, e);
                if (r < 0)
                        return r;
                if (lseek(fd, (off_t) (end + TAR_BLOCK), SEEK_SET) < 0)
                        return xerr_set_errno(e, -errno, s->target, "cannot seek");
                r = ovf_vmdk_write_named(s->src_fds[i], k->capacity, fd, seed, k->href, s->o->threads, &s->o->progress, &info, e);
                if (r < 0)
                        return xerr_prefix(e, "converting disk '%s'", k->id);
                k->file_size = info.file_size;
                k->populated = info.populated;
                memcpy(s->sha[i], info.sha256, 32);
                disk_done(s, i);
                end += TAR_BLOCK + PAD512(info.file_size);
        }

        r = make_meta(s, e);
        if (r == 0)
                r = preamble_bytes(s, &pre, &pre_len, e);
        if (r < 0)
                return r;
        if (pre_len != room) {
                /* the descriptor came out a block shorter (or the cert longer) */
                r = file_move(fd, room, pre_len, end - room);
                if (r < 0)
                        return xerr_set_errno(e, r, s->target, "cannot write");
                for (size_t i = 0; i < d->n_disks; i++)
                        at[i] = at[i] - room + pre_len;
                end = end - room + pre_len;
        }
        r = xova_pwrite_all(fd, pre, pre_len, 0);
        for (size_t i = 0; r == 0 && i < d->n_disks; i++) {
                const char *names[1] = { d->disks[i].href };
                const void *bufs[1] = { NULL };
                size_t lens[1] = { (size_t) d->disks[i].file_size }, hl;
                _cleanup_free_ uint8_t *h = NULL;

                r = tar_bytes(s, names, bufs, lens, 1, &h, &hl, e);
                if (r < 0)
                        return r;
                if (hl != TAR_BLOCK)
                        return xerr_set(e, -EIO, s->target, "member '%s': a %zu-byte tar header", d->disks[i].href, hl);
                r = xova_pwrite_all(fd, h, hl, (off_t) at[i]);
                /* the padding after the VMDK: zeros, whatever a move left there */
                if (r == 0 && PAD512(d->disks[i].file_size) != d->disks[i].file_size) {
                        static const uint8_t zero[TAR_BLOCK];
                        r = xova_pwrite_all(fd, zero, PAD512(d->disks[i].file_size) - d->disks[i].file_size,
                                            (off_t) (at[i] + TAR_BLOCK + d->disks[i].file_size));
                }
        }
        if (r < 0)
                return xerr_set_errno(e, r, s->target, "cannot write");
        /* two zero blocks (libarchive does not pad a regular file to its
         * record): a truncate to `end` first drops whatever a move left */
        final = end + 2 * TAR_BLOCK;
        if (ftruncate(fd, (off_t) end) < 0 || ftruncate(fd, (off_t) final) < 0)
                return xerr_set_errno(e, -errno, s->target, "cannot write");
        return 0;
}

static int write_ova(struct export_state *s, struct xerr *e)
{
        const struct ovf_export_opts *o = s->o;
        struct archive *ar = archive_write_new();
        uint64_t epoch = o->epoch;
        int r;

        if (!ar)
                return xerr_set(e, -ENOMEM, s->target, "out of memory");
        /* ustar unless a member needs pax (> 8 GiB); no compression filter */
        if (archive_write_set_format_pax_restricted(ar) != ARCHIVE_OK ||
            archive_write_open_fd(ar, xova_atomic_fd(s->out)) != ARCHIVE_OK) {
                r = ovf_tar_error(ar, e, s->target, "cannot start the archive");
                archive_write_free(ar);
                return r;
        }
        r = ovf_tar_add_buf(ar, s->ovf_name, s->xml, s->xml_len, epoch, s->target, e);
        if (r == 0)
                r = ovf_tar_add_buf(ar, s->mf_name, s->mf, s->mf_len, epoch, s->target, e);
        if (r == 0 && s->cert)
                r = ovf_tar_add_buf(ar, s->cert_name, s->cert, s->cert_len, epoch, s->target, e);
        for (size_t i = 0; r == 0 && i < s->d->n_disks; i++) {
                struct ovf_disk *k = &s->d->disks[i];
                struct sink sk = { .fd = -1, .ar = ar, .name = s->target };
                uint8_t again[32];
                char phase[128];
                int in = s->conv_fds[i] >= 0 ? s->conv_fds[i] : s->src_fds[i];

                r = ovf_tar_member_header(ar, k->href, k->file_size, epoch, s->target, e);
                if (r < 0)
                        break;
                snprintf(phase, sizeof(phase), "writing '%s'", k->href);
                r = stream(in, k->file_size, &sk, k->href, phase, &o->progress, again, NULL, e);
                if (r < 0)
                        break;
                if (memcmp(again, s->sha[i], 32) != 0)
                        r = xerr_set(e, -EIO, k->source ? k->source : k->href,
                                     "disk '%s' changed while it was being exported", k->id);
        }
        if (r == 0 && archive_write_close(ar) != ARCHIVE_OK)
                r = ovf_tar_error(ar, e, s->target, "cannot finish the archive");
        archive_write_free(ar);
        return r;
}

static void export_state_done(struct export_state *s)
{
        for (size_t i = 0; i < s->d->n_disks; i++) {
                if (s->src_fds && s->src_fds[i] >= 0)
                        close(s->src_fds[i]);
                if (s->conv_fds && s->conv_fds[i] >= 0)
                        close(s->conv_fds[i]);
        }
        free(s->src_fds);
        free(s->conv_fds);
        free(s->sha);
        free(s->xml);
        free(s->mf);
        free(s->cert);
        free(s->ovf_name);
        free(s->mf_name);
        free(s->cert_name);
        xova_atomic_free(s->out);
        xova_atomic_dir_free(s->dir);
        if (s->workdir) {
                xova_workdir_remove(s->workdir);
                free(s->workdir);
        }
}

int ovf_export(const char *target, struct ovf_descriptor *d, const struct ovf_export_opts *o,
               struct xerr *e)
{
        struct export_state s = { .target = target, .d = d, .o = o };
        unsigned flags = o->force ? XOVA_ATOMIC_REPLACE : 0;
        const char *why = NULL;
        int r;

        if (!d->name || (why = ovf_id_problem(d->name)))
                return xerr_set(e, -EINVAL, target, "appliance name '%s': %s", d->name ? d->name : "",
                                d->name ? why : "missing");
        if (!o->sign_key != !o->sign_cert)
                return xerr_set(e, -EINVAL, target, "signing needs both a key and a certificate");
        if (d->n_disks == 0 || d->n_disks > OVF_MAX_DISKS)
                return xerr_set(e, -EINVAL, target, "%zu disks (want 1 to %d)", d->n_disks, OVF_MAX_DISKS);
        s.src_fds = malloc(d->n_disks * sizeof(int));
        s.conv_fds = malloc(d->n_disks * sizeof(int));
        s.sha = calloc(d->n_disks, sizeof(*s.sha));
        if (!s.src_fds || !s.conv_fds || !s.sha ||
            asprintf(&s.ovf_name, "%s.ovf", d->name) < 0 || asprintf(&s.mf_name, "%s.mf", d->name) < 0 ||
            asprintf(&s.cert_name, "%s.cert", d->name) < 0) {
                r = xerr_set(e, -ENOMEM, target, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < d->n_disks; i++)
                s.src_fds[i] = s.conv_fds[i] = -1;

        if (o->format == OVF_EXPORT_DIR) {
                r = xova_atomic_dir_open(target, flags, &s.dir, e);
        } else {
                r = xova_atomic_open(target, 0666, flags, &s.out, e);
                if (r == 0 && o->disk_format == OVF_DISK_VMDK_STREAM && inplace_fits(&s)) {
                        r = write_ova_inplace(&s, e);
                        if (r == 0)
                                r = xova_atomic_commit(s.out, e);
                        goto out;
                }
                if (r == 0 && o->disk_format == OVF_DISK_VMDK_STREAM) {
                        if (o->workdir) {
                                s.scratch = o->workdir;
                        } else {
                                r = xova_workdir_new(NULL, &s.workdir, e);
                                s.scratch = s.workdir;
                        }
                }
        }
        if (r < 0)
                goto out;

        for (size_t i = 0; i < d->n_disks; i++) {
                r = disk_ready(&s, i, e);
                if (r == 0)
                        r = convert_disk(&s, i, e);
                if (r < 0)
                        goto out;
        }
        r = make_meta(&s, e);
        if (r < 0)
                goto out;

        if (s.dir) {
                const char *p = xova_atomic_dir_path(s.dir);
                r = write_file_at(p, s.ovf_name, s.xml, s.xml_len, e);
                if (r == 0)
                        r = write_file_at(p, s.mf_name, s.mf, s.mf_len, e);
                if (r == 0 && s.cert)
                        r = write_file_at(p, s.cert_name, s.cert, s.cert_len, e);
                if (r == 0)
                        r = xova_atomic_dir_commit(s.dir, e);
        } else {
                r = write_ova(&s, e);
                if (r == 0)
                        r = xova_atomic_commit(s.out, e);
        }
out:
        export_state_done(&s);
        return r;
}
