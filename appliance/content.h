/* SPDX-License-Identifier: MIT */
/*
 * content.h - the content writer's shared state, internal to content*.c:
 * content.c (entries into the image), content-inode.c (ext4 primitives on
 * libext2fs) and content-source.c (tarball and directory readers).
 */
#ifndef XOVA_APPLIANCE_CONTENT_H
#define XOVA_APPLIANCE_CONTENT_H

#include <sys/types.h>

#include <archive.h>
#include <archive_entry.h>
#include <ext2fs/ext2fs.h>

#include "common/common.h"

#define DATA_WINDOW (1024 * 1024)       /* bytes buffered per write: 256 blocks */

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
        int data_fd;                    /* the image, for file data (content-inode.c) */
        uint64_t data_offset;           /* of the file system in it */
        uint8_t *window;                /* DATA_WINDOW bytes */
        uint8_t *read_buf;              /* DATA_WINDOW bytes, directory sources */
        la_int64_t read_off;
        char where[PATH_MAX + 64];
};

/* content.c */
struct node *cw_node_find(struct writer *w, const char *path);
struct node *cw_node_add(struct writer *w, const char *path, ext2_ino_t ino, bool dir);
/* One entry whose name `rel` (not the root) was checked; data from `in`
 * (a tarball) or, when in is NULL, from `in_fd` (a directory's file). */
int cw_write_entry(struct writer *w, struct archive *in, int in_fd, struct archive_entry *entry,
                   const char *rel);
/* The root itself: its mode, owner, times and xattrs onto inode 2. */
int cw_write_root(struct writer *w, struct archive_entry *entry);

/* content-inode.c: each returns 0 or a negative errno with w->e naming rel */
const char *cw_where(struct writer *w, const char *rel);
int cw_fail(struct writer *w, const char *rel, errcode_t err, const char *what);
uint64_t cw_clamp_time(struct archive_entry *entry, uint64_t epoch);
int cw_set_meta(struct writer *w, const char *rel, ext2_ino_t ino, mode_t mode, uint32_t uid,
                uint32_t gid, uint64_t t);
int cw_make_dir(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                ext2_ino_t *ret);
int cw_make_inode(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                  mode_t mode, dev_t rdev, ext2_ino_t *ret);
int cw_make_symlink(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                    const char *target, ext2_ino_t *ret);
int cw_add_hardlink(struct writer *w, const char *rel, ext2_ino_t parent, const char *leaf,
                    ext2_ino_t ino);
int cw_copy_data(struct writer *w, const char *rel, struct archive *in, int in_fd,
                 ext2_ino_t ino, uint64_t size);
int cw_set_xattrs(struct writer *w, const char *rel, ext2_ino_t ino, struct archive_entry *entry);

/* content-source.c */
int cw_read_directory(struct writer *w, const char *src);
int cw_read_tarball(struct writer *w, const char *src);

#endif
