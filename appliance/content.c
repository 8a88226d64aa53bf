/* SPDX-License-Identifier: MIT */
/*
 * content.c - the content writer: fills an empty ext4 (made by mkfs.c)
 * in-process with libext2fs, straight from a libarchive stream of a
 * tarball or a directory. One pass: no staging copy on the host, no tool,
 * no mount, no privilege.
 *
 * What each entry keeps: its type (regular, directory, symlink of any
 * length, character and block device, FIFO, socket; a hard link is one
 * more name of the same inode), numeric uid/gid (a directory read as
 * non-root: 0:0, since the building user's ids mean nothing in the guest),
 * all 12 mode bits, its xattrs (pax SCHILY.xattr.* / LIBARCHIVE.xattr.*,
 * or the directory's own), its POSIX ACLs, and its holes: all-zero blocks
 * are never written, so sparse files stay sparse. Times follow one rule,
 * that of `tar --clamp-mtime`: atime, mtime, ctime and crtime are the
 * entry's mtime, or the build epoch when the mtime is later (or before
 * 1970). Directories the tarball implies but does not list are 0755 0:0
 * at the epoch.
 *
 * Reproducible: names are looked up in our own table, inodes and blocks
 * come from libext2fs' first-fit allocators in stream order, and every
 * stamp libext2fs would take from time() comes from fs->now (set to the
 * time mke2fs was given) or is overwritten. Bounded: the writer only ever
 * writes inside the filesystem's region of the image, so content that
 * does not fit fails with ENOSPC when the region is full.
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

#define DATA_WINDOW (64 * 1024)         /* bytes buffered per write: 16 blocks */

/* One name in the image: its path relative to the root, and its inode. */
struct node {
        char *path;                     /* NULL: free slot */
        uint32_t hash;
        ext2_ino_t ino;
        bool dir;
        bool implied;                   /* a directory made for a child, not listed yet */
};

/* A source inode (directory sources) already written: for hard links. */
struct devino {
        dev_t dev;
        ino_t ino;
        ext2_ino_t img;
};

struct writer {
        ext2_filsys fs;
        const char *src;                /* the source, for messages */
        uint64_t epoch;
        bool keep_owner;
        struct xerr *e;
        struct node *nodes;             /* open addressing, power-of-two size */
        size_t n_nodes, cap_nodes;
        struct devino *links;
        size_t n_links, cap_links;
        uint8_t *window;                /* DATA_WINDOW bytes */
        uint8_t *read_buf;              /* DATA_WINDOW bytes, directory sources */
        la_int64_t read_off;
        char where[PATH_MAX + 64];
};

static uint32_t path_hash(const char *s)
{
        uint32_t h = 2166136261u;       /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619u;
        return h;
}

static struct node *node_find(struct writer *w, const char *path)
{
        uint32_t h = path_hash(path);

        if (!w->cap_nodes)
                return NULL;
        for (size_t i = h & (w->cap_nodes - 1);; i = (i + 1) & (w->cap_nodes - 1)) {
                struct node *n = &w->nodes[i];
                if (!n->path)
                        return NULL;
                if (n->hash == h && strcmp(n->path, path) == 0)
                        return n;
        }
}

static struct node *node_add(struct writer *w, const char *path, ext2_ino_t ino, bool dir)
{
        struct node *n;
        uint32_t h;

        if ((w->n_nodes + 1) * 2 > w->cap_nodes) {
                size_t cap = w->cap_nodes ? w->cap_nodes * 2 : 1024;
                struct node *v = calloc(cap, sizeof(*v));
                if (!v)
                        return NULL;
                for (size_t i = 0; i < w->cap_nodes; i++) {
                        struct node *o = &w->nodes[i];
                        size_t k;
                        if (!o->path)
                                continue;
                        for (k = o->hash & (cap - 1); v[k].path; k = (k + 1) & (cap - 1))
                                ;
                        v[k] = *o;
                }
                free(w->nodes);
                w->nodes = v;
                w->cap_nodes = cap;
        }
        h = path_hash(path);
        for (size_t i = h & (w->cap_nodes - 1);; i = (i + 1) & (w->cap_nodes - 1)) {
                n = &w->nodes[i];
                if (!n->path)
                        break;
        }
        n->path = strdup(path);
        if (!n->path)
                return NULL;
        n->hash = h;
        n->ino = ino;
        n->dir = dir;
        n->implied = false;
        w->n_nodes++;
        return n;
}

static void writer_release(struct writer *w)
{
        for (size_t i = 0; i < w->cap_nodes; i++)
                free(w->nodes[i].path);
        free(w->nodes);
        free(w->links);
        free(w->window);
        free(w->read_buf);
}

static const char *entry_where(struct writer *w, const char *rel)
{
        snprintf(w->where, sizeof(w->where), "%s: '%s'", w->src, XOVA_ESC(rel));
        return w->where;
}

/* A libext2fs error as a negative errno and a message: the disk being full
 * is said so, in terms of the disk, not of ext2 internals. */
static int fs_fail(struct writer *w, const char *rel, errcode_t err, const char *what)
{
        const char *where = entry_where(w, rel);
        uint64_t mib = ext2fs_blocks_count(w->fs->super) * w->fs->blocksize >> 20;

        if (err == EXT2_ET_BLOCK_ALLOC_FAIL || err == ENOSPC)
                return xerr_set(w->e, -ENOSPC, where, "the content does not fit: the %" PRIu64
                                " MiB filesystem is full (give the disk a larger \"size\")", mib);
        if (err == EXT2_ET_INODE_ALLOC_FAIL)
                return xerr_set(w->e, -ENOSPC, where, "the content does not fit: the %" PRIu64
                                " MiB filesystem has no free inode left", mib);
        return xerr_set(w->e, err > 0 && err < 4096 ? -(int) err : -EIO, where, "cannot %s: %s",
                        what, error_message(err));
}

/*
 * A member name made relative and canonical: "./a//b/" -> "a/b". Absolute
 * names and ".." components are refused, so nothing lands outside the
 * filesystem's root; control characters are refused because such names in
 * a system image are far more likely a mistake than intended. Returns 0
 * with *ret = "" for the root itself.
 */
int appliance_member_normalize(const char *src, const char *name, char **ret, struct xerr *e)
{
        _cleanup_free_ char *out = NULL;
        char where[PATH_MAX + 64];
        size_t o = 0, len = strlen(name);
        const char *p = name;

        snprintf(where, sizeof(where), "%s: '%s'", src, XOVA_ESC(name));
        if (name[0] == '/')
                return xerr_set(e, -EINVAL, where, "absolute member name refused");
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
                        return xerr_set(e, -EINVAL, where, "member name contains a control character");
        out = malloc(len + 1);
        if (!out)
                return xerr_set(e, -ENOMEM, where, "out of memory");
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return xerr_set(e, -EINVAL, where, "member name with a '..' component refused");
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

/* tar --clamp-mtime: the mtime, unless later than the epoch (or negative). */
static uint64_t clamp_time(struct archive_entry *entry, uint64_t epoch)
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
        return err ? fs_fail(w, rel, err, "add the name to its directory") : 0;
}

/* The inode's mode, owner and times from the entry (the type bits stay). */
static int set_meta(struct writer *w, const char *rel, ext2_ino_t ino, mode_t mode,
                    uint32_t uid, uint32_t gid, uint64_t t)
{
        struct ext2_inode_large in;
        errcode_t err;

        err = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        if (err)
                return fs_fail(w, rel, err, "read its inode");
        in.i_mode = (__u16) ((in.i_mode & LINUX_S_IFMT) | (mode & 07777));
        in.i_uid = (__u16) uid;
        ext2fs_set_i_uid_high(in, uid >> 16);
        in.i_gid = (__u16) gid;
        ext2fs_set_i_gid_high(in, gid >> 16);
        set_times(&in, t);
        err = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        return err ? fs_fail(w, rel, err, "write its inode") : 0;
}

/* A directory under `parent`, made with mode 0755, 0:0 and the epoch. */
static int make_dir(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                    ext2_ino_t *ret)
{
        ext2_ino_t ino;
        errcode_t err;
        int r;

        err = ext2fs_new_inode(w->fs, parent, LINUX_S_IFDIR | 0755, NULL, &ino);
        if (err)
                return fs_fail(w, rel, err, "allocate an inode");
        err = ext2fs_mkdir(w->fs, parent, ino, leaf);
        if (err == EXT2_ET_DIR_NO_SPACE) {
                err = ext2fs_expand_dir(w->fs, parent);
                if (!err)
                        err = ext2fs_mkdir(w->fs, parent, ino, leaf);
        }
        if (err)
                return fs_fail(w, rel, err, "make the directory");
        r = set_meta(w, rel, ino, 0755, 0, 0, w->epoch);
        if (r < 0)
                return r;
        *ret = ino;
        return 0;
}

/* The inode of directory `dir` (a relative path, "" = root), made with its
 * parents when the tarball did not list them. Never follows a symlink:
 * a non-directory on the way is an error. */
static int lookup_dir(struct writer *w, const char *rel, const char *dir, ext2_ino_t *ret)
{
        _cleanup_free_ char *parent = NULL;
        const char *slash, *leaf;
        struct node *n;
        ext2_ino_t pino, ino;
        int r;

        if (!*dir) {
                *ret = EXT2_ROOT_INO;
                return 0;
        }
        n = node_find(w, dir);
        if (n) {
                if (!n->dir)
                        return xerr_set(w->e, -ENOTDIR, entry_where(w, rel), "'%s' on its path is "
                                        "not a directory", XOVA_ESC(dir));
                *ret = n->ino;
                return 0;
        }
        slash = strrchr(dir, '/');
        parent = strndup(dir, slash ? (size_t) (slash - dir) : 0);
        if (!parent)
                return xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
        leaf = slash ? slash + 1 : dir;
        r = lookup_dir(w, rel, parent, &pino);
        if (r < 0)
                return r;
        r = make_dir(w, dir, pino, leaf, &ino);
        if (r < 0)
                return r;
        n = node_add(w, dir, ino, true);
        if (!n)
                return xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
        n->implied = true;
        *ret = ino;
        return 0;
}

/* A new inode of a non-directory type, linked as `leaf` in `parent`. */
static int make_inode(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
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
                return xerr_set(w->e, -EINVAL, entry_where(w, rel), "has an unknown file type (mode 0%o)",
                                (unsigned) mode);
        }
        err = ext2fs_new_inode(w->fs, parent, fmt | 0600, NULL, &ino);
        if (err)
                return fs_fail(w, rel, err, "allocate an inode");
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
                        return fs_fail(w, rel, err, "start its extent tree");
                ext2fs_extent_free(h);
        }
        err = ext2fs_write_new_inode(w->fs, ino, &inode);
        if (err)
                return fs_fail(w, rel, err, "write its inode");
        *ret = ino;
        return 0;
}

static bool is_zero(const uint8_t *p, size_t n)
{
        return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Writes [off, off+len) of the file, skipping every all-zero block. */
static int write_window(struct writer *w, const char *rel, ext2_file_t f, uint64_t off,
                        const uint8_t *buf, size_t len)
{
        size_t bs = w->fs->blocksize;

        for (size_t i = 0; i < len;) {
                size_t run = 0;
                while (i < len && is_zero(buf + i, len - i < bs ? len - i : bs))
                        i += bs;
                while (i + run < len && !is_zero(buf + i + run, len - i - run < bs ? len - i - run : bs))
                        run += bs;
                if (i + run > len)
                        run = len - i;
                if (run) {
                        errcode_t err = ext2fs_file_llseek(f, off + i, EXT2_SEEK_SET, NULL);
                        for (size_t done = 0; !err && done < run;) {
                                unsigned int n = 0;
                                err = ext2fs_file_write(f, buf + i + done, (unsigned) (run - done), &n);
                                if (!err && n == 0)
                                        err = EIO;
                                done += n;
                        }
                        if (err)
                                return fs_fail(w, rel, err, "write its data");
                }
                i += run;
        }
        return 0;
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
                        return xerr_set(w->e, -EIO, entry_where(w, rel), "cannot read: %s",
                                        archive_error_string(in) ? archive_error_string(in) : "unknown error");
                return 1;
        }
        /* a file of a directory source: read in order, through our buffer */
        ssize_t n = read(fd, w->read_buf, DATA_WINDOW);
        if (n < 0)
                return xerr_set_errno(w->e, -errno, entry_where(w, rel), "cannot read");
        *buf = w->read_buf;
        *len = (size_t) n;
        *off = w->read_off;
        w->read_off += n;
        return n > 0;
}

static int copy_data(struct writer *w, const char *rel, struct archive *in, int in_fd,
                     ext2_ino_t ino, uint64_t size)
{
        ext2_file_t f;
        errcode_t err;
        uint64_t wstart = 0;            /* file offset of window[0] */
        size_t wlen = 0;                /* bytes of the window in use */
        int r = 0;

        err = ext2fs_file_open(w->fs, ino, EXT2_FILE_WRITE, &f);
        if (err)
                return fs_fail(w, rel, err, "open its inode");
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
                        r = xerr_set(w->e, -EINVAL, entry_where(w, rel), "data at offset %lld "
                                     "outside the member's size %" PRIu64, (long long) off, size);
                        goto out;
                }
                while (len > 0) {
                        uint64_t o = (uint64_t) off;
                        size_t at, n;
                        if (o >= wstart + DATA_WINDOW) {
                                /* flush, and start the window at o's block */
                                r = write_window(w, rel, f, wstart, w->window, wlen);
                                if (r < 0)
                                        goto out;
                                memset(w->window, 0, DATA_WINDOW);
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
        r = write_window(w, rel, f, wstart, w->window, wlen);
        memset(w->window, 0, DATA_WINDOW);
        if (r < 0)
                goto out;
        err = ext2fs_file_set_size2(f, size);
        if (err)
                r = fs_fail(w, rel, err, "set its size");
out:
        err = ext2fs_file_close(f);
        if (err && r == 0)
                r = fs_fail(w, rel, err, "close its inode");
        memset(w->window, 0, DATA_WINDOW);
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
static int set_xattrs(struct writer *w, const char *rel, ext2_ino_t ino, struct archive_entry *entry)
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
                r = fs_fail(w, rel, err, "read its xattrs");
                goto out;
        }
        while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
                if (!name || !*name)
                        continue;
                err = ext2fs_xattr_set(h, name, value, size);
                if (err) {
                        r = fs_fail(w, rel, err, "set an xattr");
                        xerr_prefix(w->e, "xattr '%s'", XOVA_ESC(name));
                        goto out;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(acls); i++) {
                _cleanup_free_ uint8_t *blob = NULL;
                ssize_t n = acl_blob(entry, acls[i].type, &blob);
                if (n < 0) {
                        r = xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
                        goto out;
                }
                if (n == 0 || (acls[i].type == ARCHIVE_ENTRY_ACL_TYPE_ACCESS && n <= 4 + 3 * 8))
                        continue;       /* no ACL, or one the mode bits say entirely */
                err = ext2fs_xattr_set(h, acls[i].name, blob, (size_t) n);
                if (err) {
                        r = fs_fail(w, rel, err, "set its ACL");
                        goto out;
                }
        }
out:
        if (h) {
                err = ext2fs_xattrs_close(&h);
                if (err && r == 0)
                        r = fs_fail(w, rel, err, "write its xattrs");
        }
        return r;
}

static int make_symlink(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                        const char *target, ext2_ino_t *ret)
{
        ext2_ino_t ino;
        errcode_t err;

        if (!target || !*target)
                return xerr_set(w->e, -EINVAL, entry_where(w, rel), "symlink without a target");
        if (strlen(target) >= w->fs->blocksize)
                return xerr_set(w->e, -ENAMETOOLONG, entry_where(w, rel), "symlink target of %zu "
                                "bytes, at most %u", strlen(target), w->fs->blocksize - 1);
        err = ext2fs_new_inode(w->fs, parent, LINUX_S_IFLNK | 0777, NULL, &ino);
        if (err)
                return fs_fail(w, rel, err, "allocate an inode");
        err = ext2fs_symlink(w->fs, parent, ino, leaf, target);
        if (err == EXT2_ET_DIR_NO_SPACE) {
                err = ext2fs_expand_dir(w->fs, parent);
                if (!err)
                        err = ext2fs_symlink(w->fs, parent, ino, leaf, target);
        }
        if (err)
                return fs_fail(w, rel, err, "make the symlink");
        *ret = ino;
        return 0;
}

/* One more name for an inode already written (a tar hard link, or a file a
 * directory source holds under two names). */
static int add_hardlink(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                        ext2_ino_t ino)
{
        struct ext2_inode_large in;
        errcode_t err;
        int r;

        err = ext2fs_read_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        if (err)
                return fs_fail(w, rel, err, "read the linked inode");
        if (in.i_links_count >= 65000)
                return xerr_set(w->e, -EMLINK, entry_where(w, rel), "too many hard links");
        r = link_name(w, rel, parent, leaf,  ino, file_type(in.i_mode));
        if (r < 0)
                return r;
        in.i_links_count++;
        err = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *) &in, sizeof(in));
        return err ? fs_fail(w, rel, err, "write the linked inode") : 0;
}

static int tar_hardlink_target(struct writer *w, const char *rel, const char *hl, ext2_ino_t *ret)
{
        _cleanup_free_ char *target = NULL;
        struct node *n;
        int r;

        r = appliance_member_normalize(w->src, hl, &target, w->e);
        if (r < 0)
                return r;
        n = node_find(w, target);
        if (!n)
                return xerr_set(w->e, -ENOENT, entry_where(w, rel), "hard link to '%s', which "
                                "comes later or not at all", XOVA_ESC(target));
        if (n->dir)
                return xerr_set(w->e, -EPERM, entry_where(w, rel), "hard link to the directory "
                                "'%s' refused", XOVA_ESC(target));
        *ret = n->ino;
        return 0;
}

/* A source inode seen before under another name (directory sources). */
static struct devino *devino_find(struct writer *w, dev_t dev, ino_t ino)
{
        for (size_t i = w->n_links; i-- > 0;)
                if (w->links[i].dev == dev && w->links[i].ino == ino)
                        return &w->links[i];
        return NULL;
}

static int devino_add(struct writer *w, dev_t dev, ino_t ino, ext2_ino_t img)
{
        if (w->n_links == w->cap_links) {
                size_t cap = w->cap_links ? w->cap_links * 2 : 64;
                struct devino *v = realloc(w->links, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                w->links = v;
                w->cap_links = cap;
        }
        w->links[w->n_links++] = (struct devino) { .dev = dev, .ino = ino, .img = img };
        return 0;
}

/* Writes one entry whose name `rel` (not the root) was already checked. */
static int write_entry(struct writer *w, struct archive *in, int in_fd,
                       struct archive_entry *entry, const char *rel)
{
        bool from_dir = !in;
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(rel, '/'), *leaf = slash ? slash + 1 : rel;
        const char *hl = from_dir ? NULL : archive_entry_hardlink(entry);
        mode_t mode = archive_entry_mode(entry);
        uint32_t uid = w->keep_owner ? (uint32_t) archive_entry_uid(entry) : 0;
        uint32_t gid = w->keep_owner ? (uint32_t) archive_entry_gid(entry) : 0;
        struct devino *seen = NULL;
        ext2_ino_t parent, ino = 0;
        struct node *n;
        int r;

        if (strlen(leaf) > EXT2_NAME_LEN)
                return xerr_set(w->e, -ENAMETOOLONG, entry_where(w, rel), "a name longer than %d bytes",
                                EXT2_NAME_LEN);
        dir = strndup(rel, slash ? (size_t) (slash - rel) : 0);
        if (!dir)
                return xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
        r = lookup_dir(w, rel, dir, &parent);
        if (r < 0)
                return r;
        n = node_find(w, rel);
        if (n) {
                /* a directory implied earlier, now listed: it gets its own metadata */
                if (n->dir && n->implied && !hl && S_ISDIR(mode)) {
                        n->implied = false;
                        r = set_meta(w, rel, n->ino, mode, uid, gid, clamp_time(entry, w->epoch));
                        return r < 0 ? r : set_xattrs(w, rel, n->ino, entry);
                }
                return xerr_set(w->e, -EEXIST, entry_where(w, rel), "appears twice in the content");
        }
        if (hl) {
                r = tar_hardlink_target(w, rel, hl, &ino);
                if (r < 0)
                        return r;
                r = add_hardlink(w, rel, parent, leaf, ino);
                if (r < 0)
                        return r;
                return node_add(w, rel, ino, false) ? 0 :
                       xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
        }
        if (from_dir && !S_ISDIR(mode) && archive_entry_nlink(entry) > 1) {
                seen = devino_find(w, archive_entry_dev(entry), archive_entry_ino64(entry));
                if (seen) {
                        r = add_hardlink(w, rel, parent, leaf, seen->img);
                        if (r < 0)
                                return r;
                        return node_add(w, rel, seen->img, false) ? 0 :
                               xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
                }
        }
        if (S_ISDIR(mode))
                r = make_dir(w, rel, parent, leaf, &ino);
        else if (S_ISLNK(mode))
                r = make_symlink(w, rel, parent, leaf, archive_entry_symlink(entry), &ino);
        else
                r = make_inode(w, rel, parent, leaf, mode, archive_entry_rdev(entry), &ino);
        if (r < 0)
                return r;
        if (!node_add(w, rel, ino, S_ISDIR(mode)))
                return xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
        if (from_dir && !S_ISDIR(mode) && archive_entry_nlink(entry) > 1 &&
            devino_add(w, archive_entry_dev(entry), archive_entry_ino64(entry), ino) < 0)
                return xerr_set(w->e, -ENOMEM, entry_where(w, rel), "out of memory");
        if (S_ISREG(mode) && archive_entry_size(entry) > 0) {
                w->read_off = 0;
                r = copy_data(w, rel, in, in_fd, ino, (uint64_t) archive_entry_size(entry));
                if (r < 0)
                        return r;
        }
        r = set_meta(w, rel, ino, S_ISLNK(mode) ? 0777 : mode, uid, gid, clamp_time(entry, w->epoch));
        if (r < 0)
                return r;
        return set_xattrs(w, rel, ino, entry);
}

/* The root itself ("./" in a tarball, the directory itself): its mode,
 * owner, times and xattrs go onto the image's root. */
static int write_root(struct writer *w, struct archive_entry *entry)
{
        uint32_t uid = w->keep_owner ? (uint32_t) archive_entry_uid(entry) : 0;
        uint32_t gid = w->keep_owner ? (uint32_t) archive_entry_gid(entry) : 0;
        int r;

        if (archive_entry_filetype(entry) != AE_IFDIR)
                return xerr_set(w->e, -EINVAL, entry_where(w, "."), "the root is not a directory");
        r = set_meta(w, ".", EXT2_ROOT_INO, archive_entry_mode(entry), uid, gid,
                     clamp_time(entry, w->epoch));
        return r < 0 ? r : set_xattrs(w, ".", EXT2_ROOT_INO, entry);
}

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_free(*a);
}

static char *pathf2(const char *a, const char *b)
{
        char *p;
        return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static int cmp_name(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void free_names(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* The names in a directory, sorted (bytewise), so that the image does not
 * depend on the host filesystem's readdir order. */
static int list_dir(int dfd, char ***ret, size_t *ret_n)
{
        char **v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        rewinddir(d);
        for (errno = 0; (de = readdir(d)); errno = 0) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n == cap) {
                        char **nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));
                        if (!nv)
                                goto oom;
                        v = nv;
                }
                v[n] = strdup(de->d_name);
                if (!v[n])
                        goto oom;
                n++;
        }
        if (errno) {
                int r = -errno;
                closedir(d);
                free_names(v, n);
                return r;
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_name);
        *ret = v;
        *ret_n = n;
        return 0;
oom:
        closedir(d);
        free_names(v, n);
        return -ENOMEM;
}

/*
 * A directory source, walked by hand rather than with archive_read_disk:
 * names sorted in every directory (reproducible whatever the host
 * filesystem's order), every entry opened relative to its parent with
 * O_NOFOLLOW (a symlink is stored, never followed). libarchive still reads
 * each entry's metadata, xattrs and ACLs (archive_read_disk_entry_from_file).
 */
static int walk_dir(struct writer *w, struct archive *disk, int dfd, const char *host,
                    const char *rel, unsigned depth)
{
        char **names = NULL;
        size_t n = 0;
        int r;

        if (depth > 256)
                return xerr_set(w->e, -ELOOP, entry_where(w, rel), "directories nested deeper than 256");
        r = list_dir(dfd, &names, &n);
        if (r < 0)
                return xerr_set_errno(w->e, r, entry_where(w, *rel ? rel : "."), "cannot read directory");
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *crel = NULL, *chost = NULL;
                _cleanup_close_ int fd = -1;
                struct archive_entry *entry;
                struct stat st;

                crel = *rel ? pathf2(rel, names[i]) : strdup(names[i]);
                chost = pathf2(host, names[i]);
                if (!crel || !chost) {
                        r = xerr_set(w->e, -ENOMEM, w->src, "out of memory");
                        break;
                }
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = xerr_set_errno(w->e, -errno, entry_where(w, crel), "cannot stat");
                        break;
                }
                if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
                        struct stat st2;
                        fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                                    O_NONBLOCK | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
                        if (fd < 0 || fstat(fd, &st2) < 0) {
                                r = xerr_set_errno(w->e, -errno, entry_where(w, crel), "cannot open");
                                break;
                        }
                        if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
                                r = xerr_set(w->e, -EAGAIN, entry_where(w, crel), "changed while read");
                                break;
                        }
                        st = st2;
                }
                entry = archive_entry_new();
                if (!entry) {
                        r = xerr_set(w->e, -ENOMEM, w->src, "out of memory");
                        break;
                }
                archive_entry_copy_pathname(entry, chost);
                if (archive_read_disk_entry_from_file(disk, entry, fd, &st) < ARCHIVE_WARN) {
                        r = xerr_set(w->e, -EIO, entry_where(w, crel), "cannot read its metadata: %s",
                                     archive_error_string(disk) ? archive_error_string(disk) : "unknown error");
                        archive_entry_free(entry);
                        break;
                }
                r = write_entry(w, NULL, fd, entry, crel);
                archive_entry_free(entry);
                if (r >= 0 && S_ISDIR(st.st_mode))
                        r = walk_dir(w, disk, fd, chost, crel, depth + 1);
        }
        free_names(names, n);
        return r;
}

static int read_directory(struct writer *w, const char *src)
{
        _cleanup_(archive_freep) struct archive *disk = NULL;
        _cleanup_close_ int fd = -1;
        struct archive_entry *entry;
        struct stat st;
        int r;

        disk = archive_read_disk_new();
        w->read_buf = malloc(DATA_WINDOW);
        if (!disk || !w->read_buf)
                return xerr_set(w->e, -ENOMEM, src, "out of memory");
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_FFLAGS);
        fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                return xerr_set_errno(w->e, -errno, src, "cannot open directory");
        entry = archive_entry_new();
        if (!entry)
                return xerr_set(w->e, -ENOMEM, src, "out of memory");
        archive_entry_copy_pathname(entry, src);
        r = archive_read_disk_entry_from_file(disk, entry, fd, &st) < ARCHIVE_WARN
            ? xerr_set(w->e, -EIO, src, "cannot read its metadata: %s", archive_error_string(disk))
            : write_root(w, entry);
        archive_entry_free(entry);
        return r < 0 ? r : walk_dir(w, disk, fd, src, "", 0);
}

static int read_tarball(struct writer *w, const char *src)
{
        _cleanup_(archive_freep) struct archive *in = NULL;
        _cleanup_close_ int fd = -1;
        struct archive_entry *entry;
        struct xerr sub = { 0 };
        int r;

        r = xova_open_input(src, UINT64_MAX, &fd, NULL, &sub);
        if (r < 0)
                return xerr_set(w->e, r, sub.where, "%s", sub.msg);
        in = appliance_tar_reader();
        if (!in)
                return xerr_set(w->e, -ENOMEM, src, "out of memory");
        if (archive_read_open_fd(in, fd, 64 * 1024) != ARCHIVE_OK)
                return xerr_set(w->e, -EINVAL, src, "not a tarball (tar, optionally gzip, xz or zstd "
                                "compressed): %s", archive_error_string(in) ? archive_error_string(in)
                                                                             : "unknown format");
        for (;;) {
                _cleanup_free_ char *rel = NULL;

                r = archive_read_next_header(in, &entry);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return xerr_set(w->e, -EINVAL, src, "cannot read tarball: %s",
                                        archive_error_string(in) ? archive_error_string(in) : "unknown error");
                r = appliance_member_normalize(src, archive_entry_pathname(entry) ?
                                               archive_entry_pathname(entry) : "", &rel, w->e);
                if (r < 0)
                        return r;
                r = *rel ? write_entry(w, in, -1, entry, rel) : write_root(w, entry);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct archive *appliance_tar_reader(void)
{
        struct archive *a = archive_read_new();

        if (!a)
                return NULL;
        /* tar formats only, and the compressions a rootfs tarball comes in */
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_zstd(a);
        return a;
}

int appliance_content_write(const struct appliance_disk *d, const char *image, uint64_t offset,
                            uint64_t epoch, struct xerr *e)
{
        struct writer w = { .src = d->source, .epoch = epoch, .e = e };
        char opts[48];
        errcode_t err;
        int r;

        if (d->content != APPLIANCE_CONTENT_DIRECTORY && d->content != APPLIANCE_CONTENT_TARBALL)
                return 0;
        /* a tarball carries owners; a directory's are the reader's only as root */
        w.keep_owner = d->content == APPLIANCE_CONTENT_TARBALL || geteuid() == 0;
        w.window = calloc(1, DATA_WINDOW);
        if (!w.window)
                return xerr_set(e, -ENOMEM, d->source, "out of memory");
        snprintf(opts, sizeof(opts), "offset=%" PRIu64, offset);
        err = ext2fs_open2(image, opts, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &w.fs);
        if (err) {
                r = xerr_set(e, -EIO, image, "cannot open the new ext4 at offset %" PRIu64 ": %s",
                             offset, error_message(err));
                goto out;
        }
        /* every stamp libext2fs takes (new inodes, the superblock's write
         * time) is the time mke2fs was given */
        w.fs->now = (time_t) appliance_e2fs_time(epoch);
        err = ext2fs_read_bitmaps(w.fs);
        if (err) {
                r = xerr_set(e, -EIO, image, "cannot read the bitmaps of the new ext4: %s",
                             error_message(err));
                goto out;
        }
        if (!node_add(&w, "lost+found", 0, true)) {
                r = xerr_set(e, -ENOMEM, image, "out of memory");
                goto out;
        }
        err = ext2fs_lookup(w.fs, EXT2_ROOT_INO, "lost+found", 10, NULL, &node_find(&w, "lost+found")->ino);
        if (err) {
                r = xerr_set(e, -EIO, image, "the new ext4 has no lost+found: %s", error_message(err));
                goto out;
        }
        node_find(&w, "lost+found")->implied = true;    /* a listed one gets its metadata */
        r = d->content == APPLIANCE_CONTENT_DIRECTORY ? read_directory(&w, d->source)
                                                      : read_tarball(&w, d->source);
        if (r < 0)
                goto out;
        w.fs->super->s_wtime = (__u32) w.fs->now;
        err = ext2fs_close_free(&w.fs);
        if (err)
                r = xerr_set(e, err == EXT2_ET_BLOCK_ALLOC_FAIL ? -ENOSPC : -EIO, image,
                             "cannot write the ext4 metadata: %s", error_message(err));
out:
        if (w.fs) {
                /* a failed build: the image is thrown away, nothing to flush */
                w.fs->flags &= ~EXT2_FLAG_DIRTY;
                ext2fs_free(w.fs);
        }
        writer_release(&w);
        return r;
}
