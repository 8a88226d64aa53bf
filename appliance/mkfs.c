/* SPDX-License-Identifier: MIT */
/*
 * mkfs.c - a disk's filesystem, the tool runner: Runs mke2fs to make the
 * empty ext4 in the disk's region (or copies a raw image there), checks
 * what mke2fs made, then hands the region to the content writer
 * (content.c, libext2fs, in-process) to fill it.
 *
 * Why mke2fs and not ext2fs_initialize(): mke2fs lays out the journal,
 * the resize inode, flex_bg groups and lazy-init flags as every ext4 on
 * Debian has them, from one argument list; redoing that in-process would
 * copy several hundred lines of mke2fs for no gain. It is reproducible
 * here: features and inode size are spelled out, the UUID and directory
 * hash seed come from the build seed and the disk, and its times from
 * E2FSPROGS_FAKE_TIME (appliance_e2fs_time: epoch 0 is passed as 1). Bytes
 * are identical per e2fsprogs version: a different mke2fs may lay out a
 * different (equally valid) filesystem.
 */
#include "config.h"

#include <fcntl.h>
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

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_free(*a);
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

/* A tool's exit status is not proof (mke2fs can exit 0 having written
 * nothing: a fake or broken tool), so the image is read back: it still
 * holds the region, and at `offset` is an ext4 superblock with our UUID,
 * 4 KiB blocks, exactly the region's blocks and the time it was given. One 1 KiB read. */
static int check_mke2fs(int fd, uint64_t offset, uint64_t size, const uint8_t uuid[16],
                        uint64_t epoch, struct xerr *e)
{
        struct appliance_ext4_super sb;
        struct xerr sub = { 0 };
        char have[37], want[37];
        int r;

        r = xova_image_reaches(fd, "mke2fs", "the filesystem", offset + size, e);
        if (r < 0)
                return r;
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
        if (sb.mkfs_time != (uint32_t) appliance_e2fs_time(epoch))
                return xerr_set_tool(e, "mke2fs", "the ext4 superblock at offset %" PRIu64 " says it "
                                     "was made at %" PRIu32 ", want %" PRIu32 " (E2FSPROGS_FAKE_TIME "
                                     "ignored?)", offset, sb.mkfs_time,
                                     (uint32_t) appliance_e2fs_time(epoch));
        return 0;
}

/* Runs mke2fs on the region: an empty ext4 (root and lost+found only). */
static int run_mke2fs(const struct appliance_disk *d, const char *image, uint64_t offset,
                      uint64_t size, const struct appliance_fs_opts *o, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        char token[160], uuid[37], hash_seed[37], opt_E[160], size_arg[32], env_time[48];
        uint8_t id[16], fs_uuid[16];
        char *argv[32];
        size_t k = 0;
        int r;

        xova_derive_uuid(o->seed, (disk_token(d, "fs-uuid", token, sizeof(token)), token), fs_uuid);
        xova_uuid_format(fs_uuid, uuid);
        xova_derive_uuid(o->seed, (disk_token(d, "fs-hash-seed", token, sizeof(token)), token), id);
        xova_uuid_format(id, hash_seed);
        snprintf(opt_E, sizeof(opt_E), "offset=%llu,hash_seed=%s,root_owner=0:0",
                 (unsigned long long) offset, hash_seed);
        snprintf(size_arg, sizeof(size_arg), "%lluk", (unsigned long long) (size / 1024));
        snprintf(env_time, sizeof(env_time), "E2FSPROGS_FAKE_TIME=%llu",
                 (unsigned long long) appliance_e2fs_time(o->epoch));
        /* features and inode size spelled out so that the host's mke2fs.conf
         * matters less */
        char *const env[] = { env_time, (char *) "LC_ALL=C", NULL };
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
        argv[k++] = (char *) image;
        argv[k++] = size_arg;
        argv[k] = NULL;
        r = xova_run("e2fsprogs", argv, env, NULL, e);
        if (r < 0)
                return r;
        fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return xerr_set_errno(e, -errno, image, "cannot open");
        return check_mke2fs(fd, offset, size, fs_uuid, o->epoch, e);
}

int appliance_fs_make(const struct appliance_disk *d, const char *image, uint64_t offset,
                      uint64_t size, const struct appliance_fs_opts *o, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        char dw[128];
        struct stat st;
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

        r = run_mke2fs(d, image, offset, size, o, e);
        if (r < 0)
                return xerr_prefix(e, "cannot make the filesystem of %s", dw);
        r = appliance_content_write(d, image, offset, o->epoch, e);
        if (r < 0)
                return xerr_prefix(e, "cannot write the content of %s", dw);
        return 0;
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
                r = appliance_tar_open(d->source, "", &fd, &a, e);
                if (r < 0)
                        return r;
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
