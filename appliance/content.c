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
#include "appliance/content.h"

static uint32_t path_hash(const char *s)
{
        uint32_t h = 2166136261u;       /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619u;
        return h;
}

struct node *cw_node_find(struct writer *w, const char *path)
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

struct node *cw_node_add(struct writer *w, const char *path, ext2_ino_t ino, bool dir)
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
        if (w->data_fd >= 0)
                close(w->data_fd);
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
        n = cw_node_find(w, dir);
        if (n) {
                if (!n->dir)
                        return xerr_set(w->e, -ENOTDIR, cw_where(w, rel), "'%s' on its path is "
                                        "not a directory", XOVA_ESC(dir));
                *ret = n->ino;
                return 0;
        }
        slash = strrchr(dir, '/');
        parent = strndup(dir, slash ? (size_t) (slash - dir) : 0);
        if (!parent)
                return xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
        leaf = slash ? slash + 1 : dir;
        r = lookup_dir(w, rel, parent, &pino);
        if (r < 0)
                return r;
        r = cw_make_dir(w, dir, pino, leaf, &ino);
        if (r < 0)
                return r;
        n = cw_node_add(w, dir, ino, true);
        if (!n)
                return xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
        n->implied = true;
        *ret = ino;
        return 0;
}

static int tar_hardlink_target(struct writer *w, const char *rel, const char *hl, ext2_ino_t *ret)
{
        _cleanup_free_ char *target = NULL;
        struct node *n;
        int r;

        r = appliance_member_normalize(w->src, hl, &target, w->e);
        if (r < 0)
                return r;
        n = cw_node_find(w, target);
        if (!n)
                return xerr_set(w->e, -ENOENT, cw_where(w, rel), "hard link to '%s', which "
                                "comes later or not at all", XOVA_ESC(target));
        if (n->dir)
                return xerr_set(w->e, -EPERM, cw_where(w, rel), "hard link to the directory "
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
int cw_write_entry(struct writer *w, struct archive *in, int in_fd,
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
                return xerr_set(w->e, -ENAMETOOLONG, cw_where(w, rel), "a name longer than %d bytes",
                                EXT2_NAME_LEN);
        dir = strndup(rel, slash ? (size_t) (slash - rel) : 0);
        if (!dir)
                return xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
        r = lookup_dir(w, rel, dir, &parent);
        if (r < 0)
                return r;
        n = cw_node_find(w, rel);
        if (n) {
                /* a directory implied earlier, now listed: it gets its own metadata */
                if (n->dir && n->implied && !hl && S_ISDIR(mode)) {
                        n->implied = false;
                        r = cw_set_meta(w, rel, n->ino, mode, uid, gid, cw_clamp_time(entry, w->epoch));
                        return r < 0 ? r : cw_set_xattrs(w, rel, n->ino, entry);
                }
                return xerr_set(w->e, -EEXIST, cw_where(w, rel), "appears twice in the content");
        }
        if (hl) {
                r = tar_hardlink_target(w, rel, hl, &ino);
                if (r < 0)
                        return r;
                r = cw_add_hardlink(w, rel, parent, leaf, ino);
                if (r < 0)
                        return r;
                return cw_node_add(w, rel, ino, false) ? 0 :
                       xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
        }
        if (from_dir && !S_ISDIR(mode) && archive_entry_nlink(entry) > 1) {
                seen = devino_find(w, archive_entry_dev(entry), archive_entry_ino64(entry));
                if (seen) {
                        r = cw_add_hardlink(w, rel, parent, leaf, seen->img);
                        if (r < 0)
                                return r;
                        return cw_node_add(w, rel, seen->img, false) ? 0 :
                               xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
                }
        }
        if (S_ISDIR(mode))
                r = cw_make_dir(w, rel, parent, leaf, &ino);
        else if (S_ISLNK(mode))
                r = cw_make_symlink(w, rel, parent, leaf, archive_entry_symlink(entry), &ino);
        else
                r = cw_make_inode(w, rel, parent, leaf, mode, archive_entry_rdev(entry), &ino);
        if (r < 0)
                return r;
        if (!cw_node_add(w, rel, ino, S_ISDIR(mode)))
                return xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
        if (from_dir && !S_ISDIR(mode) && archive_entry_nlink(entry) > 1 &&
            devino_add(w, archive_entry_dev(entry), archive_entry_ino64(entry), ino) < 0)
                return xerr_set(w->e, -ENOMEM, cw_where(w, rel), "out of memory");
        if (S_ISREG(mode) && archive_entry_size(entry) > 0) {
                w->read_off = 0;
                r = cw_copy_data(w, rel, in, in_fd, ino, (uint64_t) archive_entry_size(entry));
                if (r < 0)
                        return r;
        }
        r = cw_set_meta(w, rel, ino, S_ISLNK(mode) ? 0777 : mode, uid, gid, cw_clamp_time(entry, w->epoch));
        if (r < 0)
                return r;
        return cw_set_xattrs(w, rel, ino, entry);
}

/* The root itself ("./" in a tarball, the directory itself): its mode,
 * owner, times and xattrs go onto the image's root. */
int cw_write_root(struct writer *w, struct archive_entry *entry)
{
        uint32_t uid = w->keep_owner ? (uint32_t) archive_entry_uid(entry) : 0;
        uint32_t gid = w->keep_owner ? (uint32_t) archive_entry_gid(entry) : 0;
        int r;

        if (archive_entry_filetype(entry) != AE_IFDIR)
                return xerr_set(w->e, -EINVAL, cw_where(w, "."), "the root is not a directory");
        r = cw_set_meta(w, ".", EXT2_ROOT_INO, archive_entry_mode(entry), uid, gid,
                     cw_clamp_time(entry, w->epoch));
        return r < 0 ? r : cw_set_xattrs(w, ".", EXT2_ROOT_INO, entry);
}

int appliance_content_write(const struct appliance_disk *d, const char *image, uint64_t offset,
                            uint64_t epoch, struct xerr *e)
{
        struct writer w = { .src = d->source, .epoch = epoch, .e = e, .data_fd = -1,
                            .data_offset = offset };
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
        w.data_fd = open(image, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (w.data_fd < 0) {
                r = xerr_set_errno(e, -errno, image, "cannot open");
                goto out;
        }
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
        /* No checksum is verified on the way back in: every block read here
         * was written by this writer moments before, and verifying them was
         * the larger part of libext2fs's crc32c in perf (ext2fs_link re-reads
         * and checks each block of the directory for every name it adds; an
         * x86_64 root alone: 0.55 -> 0.51 s CPU). Checksums are still
         * written; e2fsck -fn of the images checks them (tests). */
        w.fs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
        err = ext2fs_read_bitmaps(w.fs);
        if (err) {
                r = xerr_set(e, -EIO, image, "cannot read the bitmaps of the new ext4: %s",
                             error_message(err));
                goto out;
        }
        if (!cw_node_add(&w, "lost+found", 0, true)) {
                r = xerr_set(e, -ENOMEM, image, "out of memory");
                goto out;
        }
        err = ext2fs_lookup(w.fs, EXT2_ROOT_INO, "lost+found", 10, NULL, &cw_node_find(&w, "lost+found")->ino);
        if (err) {
                r = xerr_set(e, -EIO, image, "the new ext4 has no lost+found: %s", error_message(err));
                goto out;
        }
        cw_node_find(&w, "lost+found")->implied = true;    /* a listed one gets its metadata */
        r = d->content == APPLIANCE_CONTENT_DIRECTORY ? cw_read_directory(&w, d->source)
                                                      : cw_read_tarball(&w, d->source);
        if (r < 0)
                goto out;
        w.fs->super->s_wtime = (__u32) w.fs->now;
        /* "Lifetime writes" would count the bytes this writer happened to
         * write (libext2fs adds its I/O statistics at close, unless the
         * field is 0): the image would change with how it was written, not
         * with what it holds. The kernel counts from 0 on first mount. */
        w.fs->super->s_kbytes_written = 0;
        /* No fsync: the image is scratch that ovf/ reads next (a raw output
         * is fsynced when its directory is committed); syncing 400 MB of
         * it held the disk pipeline 0.2 s per root. Turning the cache off
         * first writes its dirty blocks now, with their errors, and makes
         * every later write direct: ext2fs_close2 would otherwise leave the
         * last of them to io_channel_close, which drops its errors. */
        err = io_channel_set_options(w.fs->io, "cache=off");
        if (!err)
                err = ext2fs_close2(w.fs, EXT2_FLAG_FLUSH_NO_SYNC);
        if (!err)
                w.fs = NULL;            /* closed and freed */
        if (err)
                r = xerr_set(e, err == EXT2_ET_BLOCK_ALLOC_FAIL ? -ENOSPC
                                : err > 0 && err < 4096 ? -(int) err : -EIO, image,
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
