/* SPDX-License-Identifier: MIT */
/*
 * fs.c - disk content: ext4 made by mke2fs -d from a staged tree, or a raw
 * image copied in place.
 *
 * The content (a directory, a tarball, or nothing) is first staged with
 * libarchive into a private directory: one code path for both sources, the
 * secure-extraction checks of archive_write_disk, and a tree whose metadata we
 * control. mke2fs then copies that tree into the image. What mke2fs 1.47.0
 * copies from the staged tree, measured:
 *   - names: sorted (it uses scandir), so creation order does not leak;
 *   - mode: as staged, so we set it (not the umask);
 *   - atime/mtime: as staged, so we set them to the epoch after staging;
 *   - ctime: as staged, and no syscall can set a ctime: fixed afterwards
 *     with debugfs (`sif PATH ctime @EPOCH`);
 *   - uid/gid: as staged, i.e. the building user's: fixed with debugfs too
 *     (only lines for entries not already 0:0, so a root build pays nothing);
 *   - the root directory, lost+found, crtime and superblock times: from
 *     E2FSPROGS_FAKE_TIME (appliance_e2fs_time: epoch 0 is passed as 1).
 * UUID and directory hash seed are derived from the build seed and the disk.
 * With the journal kept the result was byte-identical in every trial, so the
 * journal stays. Bytes are identical per e2fsprogs version: a different
 * mke2fs may lay out a different (equally valid) filesystem.
 */
#include "config.h"

#include <fcntl.h>
#include <fts.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "appliance/appliance.h"
#include "appliance/appliance-internal.h"

#define MiB (UINT64_C(1) << 20)
#define FS_BLOCK 4096u
#define FS_SIZE_MIN (4 * MiB)

/* One staged entry: its path relative to the stage root and the mode bits to give it. */
struct staged {
        char *rel;
        mode_t mode;            /* including the type bits */
};

struct stage {
        const struct appliance_disk *d;
        char *root;             /* absolute, symlink-free path of the stage directory */
        struct staged *v;
        size_t n, cap;
        struct xerr *e;
};

static void stage_release(struct stage *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i].rel);
        free(s->v);
        free(s->root);
}

static const char *disk_where(const struct appliance_disk *d, char *buf, size_t size)
{
        snprintf(buf, size, "disk '%s'%s%s%s", d->name, d->arch ? " (" : "",
                 d->arch ? d->arch->name : "", d->arch ? ")" : "");
        return buf;
}

/* "NAME" or "NAME:ARCH": the token the disk's identifiers are derived from. */
static void disk_token(const struct appliance_disk *d, const char *kind, char *buf, size_t size)
{
        snprintf(buf, size, "%s:%s%s%s", kind, d->name, d->arch ? ":" : "",
                 d->arch ? d->arch->name : "");
}

static const char *type_name(mode_t m)
{
        switch (m & S_IFMT) {
        case S_IFCHR: return "a character device";
        case S_IFBLK: return "a block device";
        case S_IFIFO: return "a FIFO";
        case S_IFSOCK: return "a socket";
        default: return "an unsupported file type";
        }
}

/*
 * A member name made relative and canonical: "./a//b/" -> "a/b". Absolute
 * names and ".." components are refused here, before libarchive sees them
 * (its SECURE_NODOTDOT stays on as a second line). Control characters are
 * refused because the debugfs script below is line-based and because such
 * names in a system image are far more likely a mistake than intended.
 * Returns 0 with *ret = "" for the root itself.
 */
static int member_normalize(struct stage *s, const char *src, const char *name, char **ret)
{
        _cleanup_free_ char *out = NULL;
        char where[PATH_MAX + 64];
        size_t o = 0, len = strlen(name);
        const char *p = name;

        snprintf(where, sizeof(where), "%s: '%.200s'", src, name);
        if (name[0] == '/')
                return xerr_set(s->e, -EINVAL, where, "absolute member name refused");
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
                        return xerr_set(s->e, -EINVAL, where, "member name contains a control character");
        out = malloc(len + 1);
        if (!out)
                return xerr_set(s->e, -ENOMEM, where, "out of memory");
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return xerr_set(s->e, -EINVAL, where, "member name with a '..' component refused");
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (o)
                                out[o++] = '/';
                        memcpy(out + o, p, n);
                        o += n;
                }
                p += n;
                while (*p == '/')
                        p++;
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int stage_record(struct stage *s, char *rel, mode_t mode)
{
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                struct staged *v = realloc(s->v, cap * sizeof(*v));
                if (!v) {
                        free(rel);
                        return -ENOMEM;
                }
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n++] = (struct staged) { .rel = rel, .mode = mode };
        return 0;
}

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_free(*a);
}

/* Writes one entry (with `rel` already checked) into the stage, copying its data from `in`. */
static int stage_entry(struct stage *s, const char *src, struct archive *in, struct archive *out,
                       struct archive_entry *entry, char *rel)
{
        _cleanup_free_ char *owned = rel, *full = NULL, *link_full = NULL, *link_rel = NULL;
        char where[PATH_MAX + 64];
        const char *hl = archive_entry_hardlink(entry);
        mode_t mode = archive_entry_mode(entry);
        int r;

        snprintf(where, sizeof(where), "%s: '%.200s'", src, rel);
        if (!hl && !S_ISREG(mode) && !S_ISDIR(mode) && !S_ISLNK(mode))
                return xerr_set(s->e, -EINVAL, where,
                                "is %s: only regular files, directories and symlinks can go into a disk",
                                type_name(mode));
        full = xova_path_join(s->root, rel);
        if (!full)
                return xerr_set(s->e, -ENOMEM, where, "out of memory");
        /* write_disk resolves names against the cwd, which a library must not
         * change: give it the absolute stage path of the checked name */
        archive_entry_copy_pathname(entry, full);
        if (hl) {
                r = member_normalize(s, src, hl, &link_rel);
                if (r < 0)
                        return r;
                if (!*link_rel)
                        return xerr_set(s->e, -EINVAL, where, "hard link to the root directory refused");
                link_full = xova_path_join(s->root, link_rel);
                if (!link_full)
                        return xerr_set(s->e, -ENOMEM, where, "out of memory");
                archive_entry_copy_hardlink(entry, link_full);
        }
        r = archive_write_header(out, entry);
        if (r < ARCHIVE_WARN || (r == ARCHIVE_WARN && archive_errno(out) != 0))
                return xerr_set(s->e, -EINVAL, where, "cannot stage: %s",
                                archive_error_string(out) ? archive_error_string(out) : "unknown error");
        if (S_ISREG(mode) && !hl) {
                for (;;) {
                        const void *buf;
                        size_t size;
                        la_int64_t off;
                        r = archive_read_data_block(in, &buf, &size, &off);
                        if (r == ARCHIVE_EOF)
                                break;
                        if (r < ARCHIVE_OK)
                                return xerr_set(s->e, -EIO, where, "cannot read: %s",
                                                archive_error_string(in) ? archive_error_string(in) : "unknown error");
                        if (archive_write_data_block(out, buf, size, off) < ARCHIVE_OK)
                                return xerr_set(s->e, -EIO, where, "cannot stage: %s",
                                                archive_error_string(out) ? archive_error_string(out) : "unknown error");
                }
        }
        r = archive_write_finish_entry(out);
        if (r < ARCHIVE_OK)
                return xerr_set(s->e, -EIO, where, "cannot stage: %s",
                                archive_error_string(out) ? archive_error_string(out) : "unknown error");
        if (hl)
                return 0;       /* shares the inode of an entry recorded earlier */
        r = stage_record(s, TAKE_PTR(owned), mode);
        if (r < 0)
                return xerr_set(s->e, r, where, "out of memory");
        return 0;
}

static struct archive *stage_writer(void)
{
        struct archive *out = archive_write_disk_new();

        if (!out)
                return NULL;
        /* Names are absolute only because we prefixed them after our own
         * check (member_normalize), so NOABSOLUTEPATHS cannot be used; the
         * stage root is realpath()ed, so SECURE_SYMLINKS sees only entries
         * we created. No owner, times, xattrs, ACLs or flags are restored. */
        archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                            ARCHIVE_EXTRACT_SECURE_SYMLINKS);
        return out;
}

static int stage_from_directory(struct stage *s, const char *src)
{
        _cleanup_(archive_freep) struct archive *in = NULL, *out = NULL;
        struct archive_entry *entry = NULL;
        size_t srclen = strlen(src);
        int r;

        in = archive_read_disk_new();
        out = stage_writer();
        entry = archive_entry_new();
        if (!in || !out || !entry) {
                archive_entry_free(entry);
                return xerr_set(s->e, -ENOMEM, src, "out of memory");
        }
        archive_read_disk_set_symlink_physical(in);     /* never follow symlinks */
        archive_read_disk_set_behavior(in, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                           ARCHIVE_READDISK_NO_FFLAGS);
        if (archive_read_disk_open(in, src) != ARCHIVE_OK) {
                r = xerr_set(s->e, -EIO, src, "cannot read directory: %s", archive_error_string(in));
                goto out;
        }
        for (;;) {
                const char *path;
                char *rel = NULL;

                archive_entry_clear(entry);
                r = archive_read_next_header2(in, entry);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_OK) {
                        r = xerr_set(s->e, -EIO, src, "cannot read directory: %s",
                                     archive_error_string(in) ? archive_error_string(in) : "unknown error");
                        goto out;
                }
                path = archive_entry_pathname(entry);
                if (!path || strncmp(path, src, srclen) != 0) {
                        r = xerr_set(s->e, -EIO, src, "unexpected entry '%.200s'", path ? path : "");
                        goto out;
                }
                path += srclen;
                while (*path == '/')
                        path++;         /* relative to the source, not absolute */
                r = member_normalize(s, src, path, &rel);
                if (r < 0)
                        goto out;
                if (archive_entry_filetype(entry) == AE_IFDIR)
                        archive_read_disk_descend(in);
                if (!*rel) {
                        free(rel);      /* the source root: mke2fs makes its own */
                        continue;
                }
                r = stage_entry(s, src, in, out, entry, rel);
                if (r < 0)
                        goto out;
        }
        if (archive_write_close(out) < ARCHIVE_OK) {
                r = xerr_set(s->e, -EIO, src, "cannot stage: %s", archive_error_string(out));
                goto out;
        }
        r = 0;
out:
        archive_entry_free(entry);
        return r;
}

static int stage_from_tarball(struct stage *s, const char *src)
{
        _cleanup_(archive_freep) struct archive *in = NULL, *out = NULL;
        _cleanup_close_ int fd = -1;
        struct archive_entry *entry;
        struct xerr sub = { 0 };
        int r;

        r = xova_open_input(src, UINT64_MAX, &fd, NULL, &sub);
        if (r < 0)
                return xerr_set(s->e, r, sub.where, "%s", sub.msg);
        in = archive_read_new();
        out = stage_writer();
        if (!in || !out)
                return xerr_set(s->e, -ENOMEM, src, "out of memory");
        /* tar formats only, and the compressions a rootfs tarball comes in */
        archive_read_support_format_tar(in);
        archive_read_support_format_gnutar(in);
        archive_read_support_filter_gzip(in);
        archive_read_support_filter_xz(in);
        archive_read_support_filter_zstd(in);
        if (archive_read_open_fd(in, fd, 64 * 1024) != ARCHIVE_OK)
                return xerr_set(s->e, -EINVAL, src, "not a tarball (tar, optionally gzip, xz or zstd compressed): %s",
                                archive_error_string(in) ? archive_error_string(in) : "unknown format");
        for (;;) {
                char *rel = NULL;

                r = archive_read_next_header(in, &entry);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_OK)
                        return xerr_set(s->e, -EINVAL, src, "cannot read tarball: %s",
                                        archive_error_string(in) ? archive_error_string(in) : "unknown error");
                r = member_normalize(s, src, archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "",
                                     &rel);
                if (r < 0)
                        return r;
                if (!*rel) {
                        free(rel);
                        continue;
                }
                r = stage_entry(s, src, in, out, entry, rel);
                if (r < 0)
                        return r;
        }
        if (archive_write_close(out) < ARCHIVE_OK)
                return xerr_set(s->e, -EIO, src, "cannot stage: %s", archive_error_string(out));
        return 0;
}

/*
 * The directories a tarball implies but does not list ("a/b/c" without
 * "a/" and "a/b/", or the parent of a hard link): archive_write_disk makes
 * them with the time of the build, a mode from the umask and the building
 * user as owner, and mke2fs -d copies all three into the image (measured:
 * two builds a second apart differed in /a's times). Recorded here as 0755
 * directories, they get the epoch, a fixed mode and owner 0:0 like every
 * listed entry. Found by walking the stage (fts, no stat of non-directories),
 * so nothing libarchive made is missed.
 */
static int stage_add_implied(struct stage *s)
{
        _cleanup_free_ const char **have = NULL;
        char *const roots[] = { s->root, NULL };
        size_t n = s->n, rootlen = strlen(s->root);
        FTSENT *ent;
        FTS *fts;
        int r = 0;

        have = malloc((n ? n : 1) * sizeof(*have));
        if (!have)
                return xerr_set(s->e, -ENOMEM, s->root, "out of memory");
        for (size_t i = 0; i < n; i++)
                have[i] = s->v[i].rel;
        qsort(have, n, sizeof(*have), cmp_str);
        fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR | FTS_NOSTAT, NULL);
        if (!fts)
                return xerr_set_errno(s->e, -errno, s->root, "cannot walk the stage directory");
        while (r == 0) {
                const char *rel;
                char *copy;

                errno = 0;
                ent = fts_read(fts);
                if (!ent) {
                        if (errno != 0)
                                r = xerr_set_errno(s->e, -errno, s->root, "cannot walk the stage directory");
                        break;
                }
                rel = ent->fts_path + rootlen;
                if (ent->fts_info == FTS_DNR || ent->fts_info == FTS_ERR) {
                        r = xerr_set_errno(s->e, -ent->fts_errno, ent->fts_path,
                                           "cannot walk the stage directory");
                        break;
                }
                if (ent->fts_info != FTS_D || ent->fts_level == 0)
                        continue;
                while (*rel == '/')
                        rel++;
                if (bsearch(&rel, have, n, sizeof(*have), cmp_str))
                        continue;
                copy = strdup(rel);
                if (!copy || stage_record(s, copy, S_IFDIR | 0755) < 0)
                        r = xerr_set(s->e, -ENOMEM, s->root, "out of memory");
        }
        fts_close(fts);
        return r;
}

/* Gives every staged entry its own mode bits (not the umask's) and the
 * epoch as atime and mtime, after all entries exist (creating a child
 * changes its directory's mtime). */
static int stage_normalize(struct stage *s, uint64_t epoch)
{
        const struct timespec ts[2] = { { .tv_sec = (time_t) epoch }, { .tv_sec = (time_t) epoch } };
        _cleanup_close_ int dfd = -1;

        dfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return xerr_set_errno(s->e, -errno, s->root, "cannot open stage directory");
        for (size_t i = 0; i < s->n; i++) {
                const struct staged *st = &s->v[i];
                if (!S_ISLNK(st->mode) && fchmodat(dfd, st->rel, st->mode & 07777, 0) < 0)
                        return xerr_set_errno(s->e, -errno, st->rel, "cannot set the mode of staged file");
                if (utimensat(dfd, st->rel, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return xerr_set_errno(s->e, -errno, st->rel, "cannot set the time of staged file");
        }
        if (fchmod(dfd, 0755) < 0 || futimens(dfd, ts) < 0)
                return xerr_set_errno(s->e, -errno, s->root, "cannot normalise stage directory");
        return 0;
}

/* debugfs quoting: the argument in double quotes, a quote doubled (ss_parse).
 * Names were checked for control characters, so one line each. */
static int put_quoted(FILE *f, const char *rel)
{
        fputs("\"/", f);
        for (const char *p = rel; *p; p++) {
                if (*p == '"')
                        fputc('"', f);
                fputc(*p, f);
        }
        return fputc('"', f) == EOF ? -EIO : 0;
}

/* Writes the debugfs script that fixes what mke2fs copied from the build
 * host: ctime always, uid/gid where not 0. Returns the number of commands. */
static int write_fixup_script(struct stage *s, const char *script, uint64_t epoch, size_t *ret_n)
{
        _cleanup_close_ int dfd = -1;
        FILE *f;
        size_t n = 0;
        int r = 0;

        dfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return xerr_set_errno(s->e, -errno, s->root, "cannot open stage directory");
        f = fopen(script, "we");
        if (!f)
                return xerr_set_errno(s->e, -errno, script, "cannot create debugfs script");
        for (size_t i = 0; i < s->n && r == 0; i++) {
                struct stat st;
                if (fstatat(dfd, s->v[i].rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                fputs("sif ", f);
                put_quoted(f, s->v[i].rel);
                fprintf(f, " ctime @%llu\n", (unsigned long long) epoch);
                n++;
                if (st.st_uid != 0) {
                        fputs("sif ", f);
                        put_quoted(f, s->v[i].rel);
                        fputs(" uid 0\n", f);
                        n++;
                }
                if (st.st_gid != 0) {
                        fputs("sif ", f);
                        put_quoted(f, s->v[i].rel);
                        fputs(" gid 0\n", f);
                        n++;
                }
        }
        if (ferror(f) && r == 0)
                r = -EIO;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r < 0)
                return xerr_set_errno(s->e, r, script, "cannot write debugfs script");
        *ret_n = n;
        return 0;
}

/* Zeroes [offset, offset+size) of fd without changing its size: a hole where
 * the filesystem can punch one, written zeros otherwise. */
static int zero_region(int fd, uint64_t offset, uint64_t size)
{
        static const char zeros[64 * 1024];

        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) offset, (off_t) size) == 0)
                return 0;
        if (errno != EOPNOTSUPP && errno != ENOSYS)
                return -errno;
        while (size > 0) {
                size_t n = size < sizeof(zeros) ? (size_t) size : sizeof(zeros);
                int r = xova_pwrite_all(fd, zeros, n, (off_t) offset);
                if (r < 0)
                        return r;
                offset += n;
                size -= n;
        }
        return 0;
}

static int copy_image(const struct appliance_disk *d, int out_fd, const char *image,
                      uint64_t offset, uint64_t size, struct xerr *e)
{
        _cleanup_close_ int in_fd = -1;
        struct xerr sub = { 0 };
        uint64_t src_size;
        char dw[128];
        int r;

        r = xova_open_input(d->source, size, &in_fd, &src_size, &sub);
        if (r == -EFBIG)
                return xerr_set(e, r, d->source, "image is larger than %s (%llu bytes)",
                                disk_where(d, dw, sizeof(dw)), (unsigned long long) size);
        if (r < 0)
                return xerr_set(e, r, sub.where, "%s", sub.msg);
        /* xova_copy_range leaves all-zero blocks as they are: make them zero */
        r = zero_region(out_fd, offset, size);
        if (r < 0)
                return xerr_set_errno(e, r, image, "cannot clear the region for %s",
                                      disk_where(d, dw, sizeof(dw)));
        r = xova_copy_range(in_fd, 0, out_fd, (off_t) offset, src_size);
        if (r < 0)
                return xerr_set_errno(e, r, image, "cannot copy '%s' into the image", d->source);
        return 0;
}

/* ------------------------------------------------------------------ */
/* What the tools must have done                                       */

/* A tool's exit status is not proof (see ext4.c), so after mke2fs and
 * debugfs the image is read back, without running anything. */

/* The entries of the staged tree, each once: a tarball may name a path
 * twice (the later member wins, one inode). *ret_lnf: whether the tree has
 * its own top-level lost+found, which mke2fs -d reuses. */
static int stage_unique(const struct stage *s, size_t *ret_n, bool *ret_lnf)
{
        _cleanup_free_ const char **v = NULL;
        size_t n = 0;
        bool lnf = false;

        if (s->n == 0) {
                *ret_n = 0;
                *ret_lnf = false;
                return 0;
        }
        v = malloc(s->n * sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++) {
                v[i] = s->v[i].rel;
                lnf = lnf || strcmp(v[i], "lost+found") == 0;
        }
        qsort(v, s->n, sizeof(*v), cmp_str);
        for (size_t i = 0; i < s->n; i++)
                if (i == 0 || strcmp(v[i - 1], v[i]) != 0)
                        n++;
        *ret_n = n;
        *ret_lnf = lnf;
        return 0;
}

/* mke2fs's: the image still holds the region, and at `offset` is an ext4
 * superblock with our UUID, 4 KiB blocks, exactly the region's blocks, and
 * at least the inodes in use that the staged tree needs: the reserved ones,
 * lost+found and one per entry (so -d copied the tree; a hard link is no
 * entry of its own). One 1 KiB read. */
static int check_mke2fs(const struct stage *s, int fd, uint64_t offset, uint64_t size,
                        const uint8_t uuid[16], struct appliance_ext4_super *ret, struct xerr *e)
{
        struct appliance_ext4_super sb;
        struct xerr sub = { 0 };
        char have[37], want[37];
        uint64_t need;
        struct stat st;
        size_t n;
        bool lnf;
        int r;

        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, "mke2fs", "cannot stat the image");
        if ((uint64_t) st.st_size < offset + size)
                return xerr_set_tool(e, "mke2fs", "the image is now %" PRIu64 " bytes, the filesystem "
                                     "ends at byte %" PRIu64, (uint64_t) st.st_size, offset + size);
        r = appliance_ext4_read_super(fd, offset, &sb, &sub);
        if (r < 0)
                return xerr_set_tool_finding(e, "mke2fs", r, &sub);
        if (sb.block_size != FS_BLOCK || sb.blocks * sb.block_size != size)
                return xerr_set_tool(e, "mke2fs", "the ext4 filesystem at offset %" PRIu64 " has %"
                                     PRIu64 " blocks of %" PRIu32 " bytes, want %" PRIu64 " bytes",
                                     offset, sb.blocks, sb.block_size, size);
        if (memcmp(sb.uuid, uuid, 16) != 0)
                return xerr_set_tool(e, "mke2fs", "the ext4 filesystem at offset %" PRIu64 " has UUID "
                                     "%s, want %s", offset, xova_uuid_format(sb.uuid, have),
                                     xova_uuid_format(uuid, want));
        r = stage_unique(s, &n, &lnf);
        if (r < 0)
                return xerr_set(e, r, "mke2fs", "out of memory");
        need = (uint64_t) sb.first_ino - 1 + n + (lnf ? 0 : 1);
        if (sb.inodes - sb.free_inodes < need)
                return xerr_set_tool(e, "mke2fs", "the ext4 filesystem at offset %" PRIu64 " has %"
                                     PRIu32 " inodes in use, want at least %" PRIu64 " (%zu staged "
                                     "entries)", offset, sb.inodes - sb.free_inodes, need, n);
        *ret = sb;
        return 0;
}

int appliance_fs_make(const struct appliance_disk *d, const char *image, uint64_t offset,
                      uint64_t size, const struct appliance_fs_opts *o, struct xerr *e)
{
        _cleanup_free_ char *own_workdir = NULL, *stage_tmpl = NULL, *script = NULL;
        _cleanup_free_ char *target = NULL;
        _cleanup_close_ int fd = -1;
        struct stage s = { .d = d, .e = e };
        char dw[128], token[160], uuid[37], hash_seed[37], opt_E[160], size_arg[32];
        char env_time[48];
        uint8_t id[16], fs_uuid[16];
        struct appliance_ext4_super sb;
        size_t n_fix = 0;
        struct stat st;
        const char *workdir;
        int r;

        disk_where(d, dw, sizeof(dw));
        if (!o || !o->seed)
                return xerr_set(e, -EINVAL, dw, "no seed given for the filesystem identifiers");
        if (size == 0 || size % FS_BLOCK || offset > UINT64_MAX - size)
                return xerr_set(e, -EINVAL, dw, "size %llu at offset %llu is not a whole number of %u-byte blocks",
                                (unsigned long long) size, (unsigned long long) offset, FS_BLOCK);
        /* never create, truncate or extend the image: the region must exist */
        fd = open(image, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return xerr_set_errno(e, -errno, image, "cannot open image for %s", dw);
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, image, "cannot stat");
        if (!S_ISREG(st.st_mode))
                return xerr_set(e, -EINVAL, image, "not a regular file");
        if (offset + size > (uint64_t) st.st_size)
                return xerr_set(e, -EINVAL, image, "region %llu+%llu of %s ends past the end of the image (%llu bytes)",
                                (unsigned long long) offset, (unsigned long long) size, dw,
                                (unsigned long long) st.st_size);
        if (d->content == APPLIANCE_CONTENT_IMAGE)
                return copy_image(d, fd, image, offset, size, e);
        if (size < FS_SIZE_MIN)
                return xerr_set(e, -EINVAL, dw, "%llu bytes is too small for ext4 (at least 4 MiB)",
                                (unsigned long long) size);
        /* unix_io takes "FILE?offset=N"; a '?' in the name would be misread */
        if (strchr(image, '?'))
                return xerr_set(e, -EINVAL, image, "image path must not contain '?' (e2fsprogs reads it as options)");
        /* mke2fs trusts the region to be zeroed (it discards it); make sure */
        r = zero_region(fd, offset, size);
        if (r < 0)
                return xerr_set_errno(e, r, image, "cannot clear the region for %s", dw);
        close(TAKE_FD(fd));

        workdir = o->workdir;
        if (!workdir) {
                r = xova_workdir_new(NULL, &own_workdir, e);
                if (r < 0)
                        return r;
                workdir = own_workdir;
        }
        if (asprintf(&stage_tmpl, "%s/stage-%s%s%s.XXXXXX", workdir, d->name, d->arch ? "-" : "",
                     d->arch ? d->arch->name : "") < 0) {
                r = xerr_set(e, -ENOMEM, dw, "out of memory");
                goto out;
        }
        if (!mkdtemp(stage_tmpl)) {
                r = xerr_set_errno(e, -errno, stage_tmpl, "cannot create stage directory");
                goto out;
        }
        s.root = realpath(stage_tmpl, NULL);
        if (!s.root) {
                r = xerr_set_errno(e, -errno, stage_tmpl, "cannot resolve stage directory");
                goto out;
        }
        if (asprintf(&script, "%s.debugfs", s.root) < 0) {
                r = xerr_set(e, -ENOMEM, dw, "out of memory");
                goto out;
        }

        if (d->content == APPLIANCE_CONTENT_DIRECTORY)
                r = stage_from_directory(&s, d->source);
        else if (d->content == APPLIANCE_CONTENT_TARBALL) {
                r = stage_from_tarball(&s, d->source);
                if (r >= 0)
                        r = stage_add_implied(&s);
        } else
                r = 0;
        if (r < 0) {
                xerr_prefix(e, "cannot stage the content of %s", dw);
                goto out;
        }
        r = stage_normalize(&s, o->epoch);
        if (r < 0)
                goto out;

        xova_derive_uuid(o->seed, (disk_token(d, "fs-uuid", token, sizeof(token)), token), fs_uuid);
        xova_uuid_format(fs_uuid, uuid);
        xova_derive_uuid(o->seed, (disk_token(d, "fs-hash-seed", token, sizeof(token)), token), id);
        xova_uuid_format(id, hash_seed);
        snprintf(opt_E, sizeof(opt_E), "offset=%llu,hash_seed=%s,root_owner=0:0",
                 (unsigned long long) offset, hash_seed);
        snprintf(size_arg, sizeof(size_arg), "%lluk", (unsigned long long) (size / 1024));
        snprintf(env_time, sizeof(env_time), "E2FSPROGS_FAKE_TIME=%llu",
                 (unsigned long long) appliance_e2fs_time(o->epoch));
        {
                /* features and inode size spelled out so that the host's
                 * mke2fs.conf matters less; LC_ALL=C because mke2fs sorts
                 * names with the locale's collation */
                char *const env[] = { env_time, (char *) "LC_ALL=C", NULL };
                char *argv[32];
                size_t k = 0;
                argv[k++] = (char *) "mke2fs";
                argv[k++] = (char *) "-q";
                argv[k++] = (char *) "-F";
                argv[k++] = (char *) "-t";
                argv[k++] = (char *) "ext4";
                argv[k++] = (char *) "-T";
                argv[k++] = (char *) "default";
                argv[k++] = (char *) "-b";
                argv[k++] = (char *) "4096";
                argv[k++] = (char *) "-I";
                argv[k++] = (char *) "256";
                argv[k++] = (char *) "-O";
                argv[k++] = (char *) "has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize";
                argv[k++] = (char *) "-U";
                argv[k++] = uuid;
                argv[k++] = (char *) "-E";
                argv[k++] = opt_E;
                if (d->label) {
                        argv[k++] = (char *) "-L";
                        argv[k++] = d->label;
                }
                argv[k++] = (char *) "-d";
                argv[k++] = s.root;
                argv[k++] = (char *) image;
                argv[k++] = size_arg;
                argv[k] = NULL;
                r = xova_run("e2fsprogs", argv, env, NULL, e);
                if (r >= 0) {
                        fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                        r = fd < 0 ? xerr_set_errno(e, -errno, image, "cannot open")
                                   : check_mke2fs(&s, fd, offset, size, fs_uuid, &sb, e);
                }
                if (r < 0) {
                        xerr_prefix(e, "cannot make the filesystem of %s", dw);
                        goto out;
                }

                r = write_fixup_script(&s, script, o->epoch, &n_fix);
                if (r < 0)
                        goto out;
                xova_debug("fs: %s: %zu entries staged, %zu debugfs fixups", dw, s.n, n_fix);
                if (n_fix > 0) {
                        char *dargv[] = { (char *) "debugfs", (char *) "-w", (char *) "-f", script,
                                          NULL, NULL };
                        if (asprintf(&target, "%s?offset=%llu", image, (unsigned long long) offset) < 0) {
                                r = xerr_set(e, -ENOMEM, dw, "out of memory");
                                goto out;
                        }
                        dargv[4] = target;
                        r = xova_run("e2fsprogs", dargv, env, NULL, e);
                }
                /* debugfs exits 0 even when a command fails: every inode
                 * in use must now have the epoch as ctime and owner 0:0
                 * (with nothing to fix, that is mke2fs's doing) */
                if (r >= 0) {
                        struct xerr sub = { 0 };
                        r = appliance_ext4_check_inodes(fd, offset, &sb, o->epoch, &sub);
                        if (r < 0)
                                xerr_set_tool_finding(e, n_fix > 0 ? "debugfs" : "mke2fs", r, &sub);
                }
                if (r < 0) {
                        xerr_prefix(e, "cannot normalise owners and times of %s", dw);
                        goto out;
                }
        }
        r = 0;
out:
        if (script)
                unlink(script);
        if (s.root)
                xova_workdir_remove(s.root);
        else if (stage_tmpl && access(stage_tmpl, F_OK) == 0)
                rmdir(stage_tmpl);
        if (own_workdir)
                xova_workdir_remove(own_workdir);
        stage_release(&s);
        return r;
}

/* ------------------------------------------------------------------ */
/* Estimate                                                            */

static uint64_t round_up(uint64_t v, uint64_t to)
{
        return (v + to - 1) / to * to;
}

/* Blocks one entry costs: data rounded to blocks (a short symlink lives in
 * its inode) plus a share of the inode table. */
static uint64_t entry_cost(mode_t mode, uint64_t size)
{
        uint64_t c = 256;               /* inode */
        if (S_ISDIR(mode))
                c += FS_BLOCK;
        else if (S_ISREG(mode) || (S_ISLNK(mode) && size >= 60))
                c += round_up(size, FS_BLOCK);
        return c;
}

int appliance_fs_estimate(const struct appliance_disk *d, uint64_t *ret, struct xerr *e)
{
        _cleanup_(archive_freep) struct archive *a = NULL;
        _cleanup_close_ int fd = -1;
        struct archive_entry *entry;
        struct xerr sub = { 0 };
        uint64_t content = 0, src_size, total;
        int r;

        switch (d->content) {
        case APPLIANCE_CONTENT_EMPTY:
                break;
        case APPLIANCE_CONTENT_IMAGE:
                r = xova_open_input(d->source, UINT64_MAX, &fd, &src_size, &sub);
                if (r < 0)
                        return xerr_set(e, r, sub.where, "%s", sub.msg);
                *ret = round_up(src_size ? src_size : 1, MiB);
                return 0;
        case APPLIANCE_CONTENT_DIRECTORY:
                a = archive_read_disk_new();
                if (!a)
                        return xerr_set(e, -ENOMEM, d->source, "out of memory");
                archive_read_disk_set_symlink_physical(a);
                archive_read_disk_set_behavior(a, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                                  ARCHIVE_READDISK_NO_FFLAGS);
                if (archive_read_disk_open(a, d->source) != ARCHIVE_OK)
                        return xerr_set(e, -EIO, d->source, "cannot read directory: %s",
                                        archive_error_string(a));
                while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
                        content += entry_cost(archive_entry_mode(entry),
                                              (uint64_t) archive_entry_size(entry));
                        archive_read_disk_descend(a);
                }
                if (r != ARCHIVE_EOF)
                        return xerr_set(e, -EIO, d->source, "cannot read directory: %s",
                                        archive_error_string(a) ? archive_error_string(a) : "unknown error");
                break;
        case APPLIANCE_CONTENT_TARBALL:
                r = xova_open_input(d->source, UINT64_MAX, &fd, NULL, &sub);
                if (r < 0)
                        return xerr_set(e, r, sub.where, "%s", sub.msg);
                a = archive_read_new();
                if (!a)
                        return xerr_set(e, -ENOMEM, d->source, "out of memory");
                archive_read_support_format_tar(a);
                archive_read_support_format_gnutar(a);
                archive_read_support_filter_gzip(a);
                archive_read_support_filter_xz(a);
                archive_read_support_filter_zstd(a);
                if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
                        return xerr_set(e, -EINVAL, d->source, "not a tarball: %s",
                                        archive_error_string(a) ? archive_error_string(a) : "unknown format");
                while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
                        content += entry_cost(archive_entry_mode(entry),
                                              archive_entry_size(entry) > 0 ? (uint64_t) archive_entry_size(entry) : 0);
                        if (archive_read_data_skip(a) < ARCHIVE_OK)
                                break;
                }
                if (r != ARCHIVE_EOF)
                        return xerr_set(e, -EINVAL, d->source, "cannot read tarball: %s",
                                        archive_error_string(a) ? archive_error_string(a) : "unknown error");
                break;
        }
        if (content > (UINT64_C(1) << 60))
                return xerr_set(e, -EFBIG, d->source, "content is too large");
        total = content + content / 4 + 8 * MiB;
        *ret = round_up(total, MiB);
        return 0;
}
