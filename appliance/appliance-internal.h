/* SPDX-License-Identifier: MIT */
/* appliance-internal.h - helpers shared by the appliance/ sources, not API. */
#ifndef XOVA_APPLIANCE_INTERNAL_H
#define XOVA_APPLIANCE_INTERNAL_H

#include "appliance/appliance.h"

/* What ext4.c reads from an ext4 superblock to check mke2fs. */
struct appliance_ext4_super {
        uint64_t blocks;                /* s_blocks_count (lo, and hi with 64bit) */
        uint32_t block_size;
        uint32_t inodes, free_inodes;
        uint32_t first_data_block, blocks_per_group, inodes_per_group;
        uint32_t groups;
        uint32_t first_ino;             /* first non-reserved inode */
        uint32_t inode_size, desc_size;
        uint32_t feature_ro_compat;
        uint32_t mkfs_time;             /* s_mkfs_time: the time mke2fs used (low 32 bits) */
        uint8_t uuid[16];
};

/* Reads and checks the ext4 superblock of the filesystem at byte `offset`
 * of fd (so at offset + 1024). -EBADMSG, e saying what is wrong, when the
 * magic 0xEF53 is missing or the fields do not add up. */
int appliance_ext4_read_super(int fd, uint64_t offset, struct appliance_ext4_super *ret,
                              struct xerr *e);

struct archive;

/* The time mke2fs and libext2fs are given (E2FSPROGS_FAKE_TIME) for a build
 * at `epoch`: e2fsprogs reads 0 as "not set" and stamps the wall clock, so
 * epoch 0 is passed as 1 (1970-01-01T00:00:01Z): reproducible, and one
 * second off only in the superblock and in the inodes mke2fs makes itself. */
static inline uint64_t appliance_e2fs_time(uint64_t epoch)
{
        return epoch ? epoch : 1;
}

/* The content writer (content.c): fills the empty ext4 mke2fs made at
 * byte `offset` of `image` with the disk's directory or tarball, in-process
 * with libext2fs. Times are clamped to `epoch`. Errors name the member. */
int appliance_content_write(const struct appliance_disk *d, const char *image, uint64_t offset,
                            uint64_t epoch, struct xerr *e);
/* A member name made relative and canonical ("./a//b/" -> "a/b", "" for
 * the root); absolute names, ".." and control characters are refused. */
int appliance_member_normalize(const char *src, const char *name, char **ret, struct xerr *e);
/* A libarchive reader for the tarballs a disk may hold: tar, pax, GNU;
 * none, gzip, xz or zstd. NULL when out of memory. */
struct archive *appliance_tar_reader(void);
/* The user tarball at path opened (xova_open_input) and read through
 * appliance_tar_reader(); *ret_fd stays open while *ret reads it. `kind`
 * follows "not a tarball" in the error ("" or " (tar, ...)"). */
int appliance_tar_open(const char *path, const char *kind, int *ret_fd, struct archive **ret,
                       struct xerr *e);

/* The disk pipeline (pipeline.c): a thread calls make(ctx, i, progress, e)
 * for i = 0 .. n-1, in order, stopping at the first error; the caller's
 * thread waits for disk i with appliance_pipe_wait (before ovf_export
 * reads it: its disk_ready callback) and reports progress through
 * appliance_pipe_progress(), which serializes both threads' reports.
 * appliance_pipe_release(i) says disk i is converted and never read again:
 * once every disk is written, the thread calls drop(ctx, i) for it (NULL:
 * nothing dropped). appliance_pipe_stop lets the disk being written
 * finish, starts no other, joins and frees; call it on every path. */
struct appliance_pipe;
typedef int (*appliance_pipe_make_fn)(void *ctx, size_t i, const struct xova_progress *progress,
                                      struct xerr *e);
typedef void (*appliance_pipe_drop_fn)(void *ctx, size_t i);
int appliance_pipe_start(size_t n, appliance_pipe_make_fn make, appliance_pipe_drop_fn drop, void *ctx,
                         const struct xova_progress *progress, struct appliance_pipe **ret, struct xerr *e);
int appliance_pipe_wait(struct appliance_pipe *p, size_t i, struct xerr *e);
void appliance_pipe_release(struct appliance_pipe *p, size_t i);
const struct xova_progress *appliance_pipe_progress(const struct appliance_pipe *p);
void appliance_pipe_stop(struct appliance_pipe *p);

#endif
