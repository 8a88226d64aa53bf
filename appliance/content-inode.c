/* SPDX-License-Identifier: MIT */
/*
 * content-inode.c - the content writer's ext4 primitives, on libext2fs: a
 * directory, a special file, a symlink, one more link; an inode's mode,
 * owner and clamped times; a file's data with its zero blocks left as
 * holes; xattrs and POSIX ACLs. What goes where is content.c's.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "appliance/appliance-internal.h"
#include "appliance/content.h"

const char *cw_where(struct writer *w, const char *rel)
{
        snprintf(w->where, sizeof(w->where), "%s: '%s'", w->src, XOVA_ESC(rel));
        return w->where;
}

/* A libext2fs error as a negative errno and a message: the disk being full
 * is said so, in terms of the disk, not of ext2 internals. */
int cw_fail(struct writer *w, const char *rel, errcode_t err, const char *what)
{
        const char *where = cw_where(w, rel);
        uint64_t mib = ext2fs_blocks_count(w->fs->super) * w->fs->blocksize >> 20;

        /* An errno ENOSPC comes from the unix I/O manager writing the image:
         * the HOST's disk is full, not this filesystem (libext2fs says that
         * with its EXT2_ET_*_ALLOC_FAIL codes; the few allocation paths that
         * return a bare ENOSPC leave no free block, which tells them apart). */
        if (err == ENOSPC && ext2fs_free_blocks_count(w->fs->super) > 0)
                return xerr_set_errno(w->e, -ENOSPC, where, "cannot %s: cannot write the image",
                                      what);
        if (err == EXT2_ET_BLOCK_ALLOC_FAIL || err == ENOSPC)
                return xerr_set(w->e, -ENOSPC, where, "the content does not fit: the %" PRIu64
                                " MiB filesystem is full (give the disk a larger \"size\")", mib);
        if (err == EXT2_ET_INODE_ALLOC_FAIL)
                return xerr_set(w->e, -ENOSPC, where, "the content does not fit: the %" PRIu64
                                " MiB filesystem has no free inode left", mib);
        return xerr_set(w->e, err > 0 && err < 4096 ? -(int) err : -EIO, where, "cannot %s: %s",
                        what, error_message(err));
}

/* tar --clamp-mtime: the mtime, unless later than the epoch (or negative). */
uint64_t cw_clamp_time(struct archive_entry *entry, uint64_t epoch)
{
        int64_t t = archive_entry_mtime_is_set(entry) ? archive_entry_mtime(entry) : (int64_t) epoch;

        if (t < 0)
                return 0;
        return (uint64_t) t > epoch ? epoch : (uint64_t) t;
}

/* ext4 stores seconds as 32 low bits plus 2 epoch bits in *_extra
 * (Documentation/filesystems/ext4/inodes.rst); no nanoseconds. */
static void put_time(uint64_t t, __u32 *lo, __u32 *extra)
{
        *lo = (__u32) t;
        if (extra)
                *extra = (__u32) (((int64_t) t - (int32_t) (uint32_t) t) >> 32) & 3u;
}

static void set_times(struct ext2_inode_large *in, uint64_t t)
{
        put_time(t, &in->i_atime, &in->i_atime_extra);
        put_time(t, &in->i_mtime, &in->i_mtime_extra);
        put_time(t, &in->i_ctime, &in->i_ctime_extra);
        put_time(t, &in->i_crtime, &in->i_crtime_extra);
}

static int file_type(__u16 mode)
{
        switch (mode & LINUX_S_IFMT) {
        case LINUX_S_IFREG: return EXT2_FT_REG_FILE;
        case LINUX_S_IFDIR: return EXT2_FT_DIR;
        case LINUX_S_IFCHR: return EXT2_FT_CHRDEV;
        case LINUX_S_IFBLK: return EXT2_FT_BLKDEV;
        case LINUX_S_IFLNK: return EXT2_FT_SYMLINK;
        case LINUX_S_IFIFO: return EXT2_FT_FIFO;
        case LINUX_S_IFSOCK: return EXT2_FT_SOCK;
        }
        return EXT2_FT_UNKNOWN;
}

static int link_name(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                     ext2_ino_t ino, int type)
{
        errcode_t err = ext2fs_link(w->fs, parent, leaf, ino, type);

        if (err == EXT2_ET_DIR_NO_SPACE) {
                err = ext2fs_expand_dir(w->fs, parent);
                if (!err)
                        err = ext2fs_link(w->fs, parent, leaf, ino, type);
        }
        return err ? cw_fail(w, rel, err, "add the name to its directory") : 0;
}

/* The inode's mode, owner and times from the entry (the type bits stay). */
int cw_set_meta(struct writer *w, const char *rel, ext2_ino_t ino, mode_t mode,
                    uint32_t uid, uint32_t gid, uint64_t t)
{
        struct ext2_inode_large in;
        errcode_t err;

        err = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        if (err)
                return cw_fail(w, rel, err, "read its inode");
        in.i_mode = (__u16) ((in.i_mode & LINUX_S_IFMT) | (mode & 07777));
        in.i_uid = (__u16) uid;
        ext2fs_set_i_uid_high(in, uid >> 16);
        in.i_gid = (__u16) gid;
        ext2fs_set_i_gid_high(in, gid >> 16);
        set_times(&in, t);
        err = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        return err ? cw_fail(w, rel, err, "write its inode") : 0;
}

/* A directory under `parent`, made with mode 0755, 0:0 and the epoch. */
int cw_make_dir(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                    ext2_ino_t *ret)
{
        ext2_ino_t ino;
        errcode_t err;
        int r;

        err = ext2fs_new_inode(w->fs, parent, LINUX_S_IFDIR | 0755, NULL, &ino);
        if (err)
                return cw_fail(w, rel, err, "allocate an inode");
        err = ext2fs_mkdir(w->fs, parent, ino, leaf);
        if (err == EXT2_ET_DIR_NO_SPACE) {
                err = ext2fs_expand_dir(w->fs, parent);
                if (!err)
                        err = ext2fs_mkdir(w->fs, parent, ino, leaf);
        }
        if (err)
                return cw_fail(w, rel, err, "make the directory");
        r = cw_set_meta(w, rel, ino, 0755, 0, 0, w->epoch);
        if (r < 0)
                return r;
        *ret = ino;
        return 0;
}

/* A new inode of a non-directory type, linked as `leaf` in `parent`. */
int cw_make_inode(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                      mode_t mode, dev_t rdev, ext2_ino_t *ret)
{
        struct ext2_inode inode = { 0 };
        ext2_ino_t ino;
        errcode_t err;
        int type, r;
        __u16 fmt;

        switch (mode & S_IFMT) {
        case S_IFREG: fmt = LINUX_S_IFREG; type = EXT2_FT_REG_FILE; break;
        case S_IFCHR: fmt = LINUX_S_IFCHR; type = EXT2_FT_CHRDEV; break;
        case S_IFBLK: fmt = LINUX_S_IFBLK; type = EXT2_FT_BLKDEV; break;
        case S_IFIFO: fmt = LINUX_S_IFIFO; type = EXT2_FT_FIFO; break;
        case S_IFSOCK: fmt = LINUX_S_IFSOCK; type = EXT2_FT_SOCK; break;
        default:
                return xerr_set(w->e, -EINVAL, cw_where(w, rel), "has an unknown file type (mode 0%o)",
                                (unsigned) mode);
        }
        err = ext2fs_new_inode(w->fs, parent, fmt | 0600, NULL, &ino);
        if (err)
                return cw_fail(w, rel, err, "allocate an inode");
        r = link_name(w, rel, parent, leaf, ino, type);
        if (r < 0)
                return r;
        ext2fs_inode_alloc_stats2(w->fs, ino, +1, 0);
        inode.i_mode = fmt;
        inode.i_links_count = 1;
        if (S_ISCHR(mode) || S_ISBLK(mode)) {
                /* the kernel's old (8:8) and new (12:20) encodings */
                unsigned maj = major(rdev), min = minor(rdev);
                if (maj < 256 && min < 256)
                        inode.i_block[0] = maj * 256 + min;
                else
                        inode.i_block[1] = (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
        } else if (S_ISREG(mode) && ext2fs_has_feature_extents(w->fs->super)) {
                ext2_extent_handle_t h;
                inode.i_flags |= EXT4_EXTENTS_FL;
                err = ext2fs_extent_open2(w->fs, ino, &inode, &h);
                if (err)
                        return cw_fail(w, rel, err, "start its extent tree");
                ext2fs_extent_free(h);
        }
        err = ext2fs_write_new_inode(w->fs, ino, &inode);
        if (err)
                return cw_fail(w, rel, err, "write its inode");
        *ret = ino;
        return 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/*
 * A regular file's data, written by hand on libext2fs's lower layers.
 *
 * Why not ext2fs_file_write, which mke2fs -d uses: for every 4 KiB block it
 * opens an extent handle twice (looking the block up, then allocating it),
 * writes the new block as zeros and then its data through unix_io's
 * 8-block cache (so one pwrite per block when the cache evicts it) and
 * writes the inode: most of the CPU of writing a root's files went there
 * (docs/PERFORMANCE.md). Here one extent handle serves the
 * whole file, and each block is allocated and mapped exactly as
 * ext2fs_bmap2(BMAP_ALLOC) does (libext2fs 1.47, lib/ext2fs/bmap.c
 * extent_bmap): the goal is the previous logical block's physical block,
 * or none (the first data block) when that one is a hole; ext2fs_new_block3
 * from the goal, ext2fs_block_alloc_stats2, ext2fs_extent_set_bmap, in
 * the file's block order. So the allocation and the extent tree are the
 * ones ext2fs_file_write made, and the image is byte-identical to it
 * (checked with cmp on the Debian example's roots when this was written;
 * the ext4 features are mkfs.c's own: extents, no bigalloc, no inline
 * data). Only the writes differ:
 * each physically contiguous run is one pwrite, and no block is written
 * twice.
 */
struct data_out {
        ext2_extent_handle_t h;
        struct ext2_inode inode;        /* the handle's: it writes it when the root changes */
        blk64_t last_l, last_p;         /* the last block mapped, logical and physical */
        bool any;                       /* one was */
        blk64_t allocated;              /* data blocks, for i_blocks */
        blk64_t run_p;                  /* the pending write: run_n blocks at run_p ... */
        size_t run_n;
        const uint8_t *run_buf;         /* ... from run_buf */
};

static errcode_t data_flush(struct writer *w, struct data_out *d)
{
        size_t bs = w->fs->blocksize;
        int r = 0;

        /* our own fd on the image, not fs->io: unix_io would first flush
         * and drop its whole cache for every write of more than 4 blocks,
         * and say only "short write" when the host's disk fills. Data
         * blocks never pass through that cache, so the two cannot disagree
         * (the one read-back, zeroing past EOF in ext2fs_file_set_size2,
         * reads the file, and so sees these bytes). */
        if (d->run_n)
                r = xova_pwrite_all(w->data_fd, d->run_buf, d->run_n * bs,
                                    (off_t) (w->data_offset + d->run_p * bs));
        d->run_n = 0;
        return r < 0 ? (errcode_t) -r : 0;
}

/* Logical block l, whose bytes are at buf: allocated, mapped, queued. */
static errcode_t data_block(struct writer *w, struct data_out *d, blk64_t l, const uint8_t *buf)
{
        ext2_filsys fs = w->fs;
        blk64_t goal = d->any && d->last_l + 1 == l ? d->last_p : 0, p;
        errcode_t err;

        err = ext2fs_new_block3(fs, goal, NULL, &p, NULL);
        if (err)
                return err;
        ext2fs_block_alloc_stats2(fs, p, +1);
        err = ext2fs_extent_set_bmap(d->h, l, p, 0);
        if (err) {
                ext2fs_block_alloc_stats2(fs, p, -1);
                return err;
        }
        d->any = true;
        d->last_l = l;
        d->last_p = p;
        d->allocated++;
        if (d->run_n && p == d->run_p + d->run_n && buf == d->run_buf + d->run_n * fs->blocksize) {
                d->run_n++;
                return 0;
        }
        err = data_flush(w, d);
        d->run_p = p;
        d->run_n = 1;
        d->run_buf = buf;
        return err;
}

/* Writes [off, off+len) of the file, skipping every all-zero block; off is
 * block-aligned, and the window past len is zero up to the block's end. */
static int write_window(struct writer *w, const char *rel, struct data_out *d, uint64_t off,
                        const uint8_t *buf, size_t len)
{
        size_t bs = w->fs->blocksize;
        errcode_t err = 0;

        for (size_t i = 0; !err && i < len; i += bs)
                if (!is_zero(buf + i, len - i < bs ? len - i : bs))
                        err = data_block(w, d, (off + i) / bs, buf + i);
        if (!err)
                err = data_flush(w, d);
        return err ? cw_fail(w, rel, err, "write its data") : 0;
}

/* Copies a regular file's data from the stream: block by block through a
 * window aligned to the file's blocks (libarchive's chunks are not), so
 * zero blocks and the holes of a sparse member are never allocated. */
static int next_chunk(struct writer *w, const char *rel, struct archive *in, int fd,
                      const void **buf, size_t *len, la_int64_t *off)
{
        if (in) {
                int ar = archive_read_data_block(in, buf, len, off);
                if (ar == ARCHIVE_EOF)
                        return 0;
                if (ar < ARCHIVE_OK)
                        return xerr_set(w->e, -EIO, cw_where(w, rel), "cannot read: %s",
                                        archive_error_string(in) ? archive_error_string(in) : "unknown error");
                return 1;
        }
        /* a file of a directory source: read in order, through our buffer */
        ssize_t n = read(fd, w->read_buf, DATA_WINDOW);
        if (n < 0)
                return xerr_set_errno(w->e, -errno, cw_where(w, rel), "cannot read");
        *buf = w->read_buf;
        *len = (size_t) n;
        *off = w->read_off;
        w->read_off += n;
        return n > 0;
}

int cw_copy_data(struct writer *w, const char *rel, struct archive *in, int in_fd,
                     ext2_ino_t ino, uint64_t size)
{
        struct data_out d = { 0 };
        ext2_file_t f;
        errcode_t err;
        uint64_t wstart = 0;            /* file offset of window[0] */
        size_t wlen = 0;                /* bytes of the window in use */
        int r = 0;

        err = ext2fs_read_inode(w->fs, ino, &d.inode);
        if (!err)
                err = ext2fs_extent_open2(w->fs, ino, &d.inode, &d.h);
        if (err)
                return cw_fail(w, rel, err, "open its inode");
        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;
                r = next_chunk(w, rel, in, in_fd, &buf, &len, &off);
                if (r < 0)
                        goto out;
                if (r == 0)
                        break;
                if (off < 0 || (uint64_t) off < wstart + wlen || (uint64_t) off + len > size) {
                        r = xerr_set(w->e, -EINVAL, cw_where(w, rel), "data at offset %lld "
                                     "outside the member's size %" PRIu64, (long long) off, size);
                        goto out;
                }
                while (len > 0) {
                        uint64_t o = (uint64_t) off;
                        size_t at, n;
                        if (o >= wstart + DATA_WINDOW) {
                                /* flush, and start the window at o's block */
                                r = write_window(w, rel, &d, wstart, w->window, wlen);
                                if (r < 0)
                                        goto out;
                                memset(w->window, 0, wlen);
                                wstart = o / w->fs->blocksize * w->fs->blocksize;
                                wlen = 0;
                        }
                        at = (size_t) (o - wstart);
                        n = DATA_WINDOW - at < len ? DATA_WINDOW - at : len;
                        memcpy(w->window + at, buf, n);
                        wlen = at + n;
                        buf = (const uint8_t *) buf + n;
                        off += (la_int64_t) n;
                        len -= n;
                }
        }
        r = write_window(w, rel, &d, wstart, w->window, wlen);
        if (r < 0)
                goto out;
        /* i_blocks: the data blocks (the handle counted its own tree blocks) */
        if (d.allocated) {
                err = ext2fs_iblk_add_blocks(w->fs, &d.inode, d.allocated);
                if (!err)
                        err = ext2fs_write_inode(w->fs, ino, &d.inode);
                if (err) {
                        r = cw_fail(w, rel, err, "write its inode");
                        goto out;
                }
        }
        ext2fs_extent_free(d.h);
        d.h = NULL;
        err = ext2fs_file_open(w->fs, ino, EXT2_FILE_WRITE, &f);
        if (err) {
                r = cw_fail(w, rel, err, "open its inode");
                goto out;
        }
        err = ext2fs_file_set_size2(f, size);
        if (err)
                r = cw_fail(w, rel, err, "set its size");
        err = ext2fs_file_close(f);
        if (err && r == 0)
                r = cw_fail(w, rel, err, "close its inode");
out:
        if (d.h)
                ext2fs_extent_free(d.h);
        memset(w->window, 0, wlen);     /* the window is zero past wlen */
        return r;
}

/* The ACL of one type in the kernel's xattr format (posix_acl_xattr.h:
 * version 2, then {tag, perm, id} little-endian, sorted by tag then id).
 * ext2fs_xattr_set converts it to ext4's on-disk format (version 1, short
 * entries without id) itself, as the kernel does. Returns the size, 0 for
 * no ACL, or -ENOMEM. */
static ssize_t acl_blob(struct archive_entry *entry, int type, uint8_t **ret)
{
        enum { USER_OBJ = 1, USER = 2, GROUP_OBJ = 4, GROUP = 8, MASK = 0x10, OTHER = 0x20 };
        int n = archive_entry_acl_reset(entry, type), k = 0, etype, perm, tag, id;
        const char *name;
        uint8_t *b;

        if (n <= 0)
                return 0;
        b = calloc(1, 4 + (size_t) n * 8);
        if (!b)
                return -ENOMEM;
        b[0] = 2;                       /* POSIX_ACL_XATTR_VERSION, le32 */
        while (k < n && archive_entry_acl_next(entry, type, &etype, &perm, &tag, &id, &name) == ARCHIVE_OK) {
                uint8_t *p = b + 4 + (size_t) k * 8;
                uint16_t t;
                switch (tag) {
                case ARCHIVE_ENTRY_ACL_USER_OBJ: t = USER_OBJ; id = -1; break;
                case ARCHIVE_ENTRY_ACL_USER: t = USER; break;
                case ARCHIVE_ENTRY_ACL_GROUP_OBJ: t = GROUP_OBJ; id = -1; break;
                case ARCHIVE_ENTRY_ACL_GROUP: t = GROUP; break;
                case ARCHIVE_ENTRY_ACL_MASK: t = MASK; id = -1; break;
                case ARCHIVE_ENTRY_ACL_OTHER: t = OTHER; id = -1; break;
                default: continue;      /* NFSv4 entries have no place in ext4 */
                }
                p[0] = (uint8_t) t;
                p[1] = (uint8_t) (t >> 8);
                p[2] = (uint8_t) ((perm & ARCHIVE_ENTRY_ACL_READ ? 4 : 0) |
                                  (perm & ARCHIVE_ENTRY_ACL_WRITE ? 2 : 0) |
                                  (perm & ARCHIVE_ENTRY_ACL_EXECUTE ? 1 : 0));
                for (int i = 0; i < 4; i++)
                        p[4 + i] = (uint8_t) ((uint32_t) id >> (8 * i));
                k++;
        }
        /* sort: tag, then id (insertion sort, an ACL is short) */
        for (int i = 1; i < k; i++)
                for (int j = i; j > 0; j--) {
                        uint8_t *x = b + 4 + (size_t) (j - 1) * 8, *y = x + 8, tmp[8];
                        uint32_t tx = x[0] | (uint32_t) x[1] << 8, ty = y[0] | (uint32_t) y[1] << 8;
                        if (tx < ty || (tx == ty && xova_le32(x + 4) <= xova_le32(y + 4)))
                                break;
                        memcpy(tmp, x, 8);
                        memcpy(x, y, 8);
                        memcpy(y, tmp, 8);
                }
        *ret = b;
        return 4 + (ssize_t) k * 8;
}

/* The entry's xattrs and POSIX ACLs onto the inode. */
int cw_set_xattrs(struct writer *w, const char *rel, ext2_ino_t ino, struct archive_entry *entry)
{
        static const struct { int type; const char *name; } acls[] = {
                { ARCHIVE_ENTRY_ACL_TYPE_ACCESS, "system.posix_acl_access" },
                { ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, "system.posix_acl_default" },
        };
        struct ext2_xattr_handle *h = NULL;
        const char *name;
        const void *value;
        size_t size;
        errcode_t err;
        int r = 0;

        if (archive_entry_xattr_reset(entry) == 0 &&
            archive_entry_acl_count(entry, ARCHIVE_ENTRY_ACL_TYPE_POSIX1E) == 0)
                return 0;
        err = ext2fs_xattrs_open(w->fs, ino, &h);
        if (!err)
                err = ext2fs_xattrs_read(h);
        if (err) {
                r = cw_fail(w, rel, err, "read its xattrs");
                goto out;
        }
        while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
                if (!name || !*name)
                        continue;
                err = ext2fs_xattr_set(h, name, value, size);
                if (err) {
                        r = cw_fail(w, rel, err, "set an xattr");
                        xerr_prefix(w->e, "xattr '%s'", XOVA_ESC(name));
                        goto out;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(acls); i++) {
                _cleanup_free_ uint8_t *blob = NULL;
                ssize_t n = acl_blob(entry, acls[i].type, &blob);
                if (n < 0) {
                        r = xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
                        goto out;
                }
                if (n == 0 || (acls[i].type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && n <= 4 + 3 * 8))
                        continue;       /* no ACL, or one the mode bits say entirely */
                err = ext2fs_xattr_set(h, acls[i].name, blob, (size_t) n);
                if (err) {
                        r = cw_fail(w, rel, err, "set its ACL");
                        goto out;
                }
        }
out:
        if (h) {
                err = ext2fs_xattrs_close(&h);
                if (err && r == 0)
                        r = cw_fail(w, rel, err, "write its xattrs");
        }
        return r;
}

int cw_make_symlink(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                        const char *target, ext2_ino_t *ret)
{
        ext2_ino_t ino;
        errcode_t err;

        if (!target || !*target)
                return xerr_set(w->e, -EINVAL, cw_where(w, rel), "symlink without a target");
        if (strlen(target) >= w->fs->blocksize)
                return xerr_set(w->e, -ENAMETOOLONG, cw_where(w, rel), "symlink target of %zu "
                                "bytes, at most %u", strlen(target), w->fs->blocksize - 1);
        err = ext2fs_new_inode(w->fs, parent, LINUX_S_IFLNK | 0777, NULL, &ino);
        if (err)
                return cw_fail(w, rel, err, "allocate an inode");
        err = ext2fs_symlink(w->fs, parent, ino, leaf, target);
        if (err == EXT2_ET_DIR_NO_SPACE) {
                err = ext2fs_expand_dir(w->fs, parent);
                if (!err)
                        err = ext2fs_symlink(w->fs, parent, ino, leaf, target);
        }
        if (err)
                return cw_fail(w, rel, err, "make the symlink");
        *ret = ino;
        return 0;
}

/* One more name for an inode already written (a tar hard link, or a file a
 * directory source holds under two names). */
int cw_add_hardlink(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                        ext2_ino_t ino)
{
        struct ext2_inode_large in;
        errcode_t err;
        int r;

        err = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        if (err)
                return cw_fail(w, rel, err, "read the linked inode");
        if (in.i_links_count >= 65000)
                return xerr_set(w->e, -EMLINK, cw_where(w, rel), "too many hard links");
        r = link_name(w, rel, parent, leaf,  ino, file_type(in.i_mode));
        if (r < 0)
                return r;
        in.i_links_count++;
        err = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        return err ? cw_fail(w, rel, err, "write the linked inode") : 0;
}
