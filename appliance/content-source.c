/* SPDX-License-Identifier: MIT */
/*
 * content-source.c - the content writer's two sources, each handed to
 * content.c entry by entry: a tarball streamed with libarchive (names
 * checked here first), and a directory walked by hand in sorted order.
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
                return xerr_set(w->e, -ELOOP, cw_where(w, rel), "directories nested deeper than 256");
        r = list_dir(dfd, &names, &n);
        if (r < 0)
                return xerr_set_errno(w->e, r, cw_where(w, *rel ? rel : "."), "cannot read directory");
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
                        r = xerr_set_errno(w->e, -errno, cw_where(w, crel), "cannot stat");
                        break;
                }
                if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
                        struct stat st2;
                        fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                                    O_NONBLOCK | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
                        if (fd < 0 || fstat(fd, &st2) < 0) {
                                r = xerr_set_errno(w->e, -errno, cw_where(w, crel), "cannot open");
                                break;
                        }
                        if (st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
                                r = xerr_set(w->e, -EAGAIN, cw_where(w, crel), "changed while read");
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
                        r = xerr_set(w->e, -EIO, cw_where(w, crel), "cannot read its metadata: %s",
                                     archive_error_string(disk) ? archive_error_string(disk) : "unknown error");
                        archive_entry_free(entry);
                        break;
                }
                r = cw_write_entry(w, NULL, fd, entry, crel);
                archive_entry_free(entry);
                if (r >= 0 && S_ISDIR(st.st_mode))
                        r = walk_dir(w, disk, fd, chost, crel, depth + 1);
        }
        free_names(names, n);
        return r;
}

int cw_read_directory(struct writer *w, const char *src)
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
            : cw_write_root(w, entry);
        archive_entry_free(entry);
        return r < 0 ? r : walk_dir(w, disk, fd, src, "", 0);
}

int cw_read_tarball(struct writer *w, const char *src)
{
        _cleanup_(archive_freep) struct archive *in = NULL;
        _cleanup_close_ int fd = -1;
        struct archive_entry *entry;
        int r;

        r = appliance_tar_open(src, " (tar, optionally gzip, xz or zstd compressed)", &fd, &in, w->e);
        if (r < 0)
                return r;
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
                r = *rel ? cw_write_entry(w, in, -1, entry, rel) : cw_write_root(w, entry);
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


int appliance_tar_open(const char *path, const char *kind, int *ret_fd, struct archive **ret,
                       struct xerr *e)
{
        _cleanup_(archive_freep) struct archive *a = NULL;
        _cleanup_close_ int fd = -1;
        struct xerr sub = { 0 };
        int r;

        r = xova_open_input(path, UINT64_MAX, &fd, NULL, &sub);
        if (r < 0)
                return xerr_set(e, r, sub.where, "%s", sub.msg);
        a = appliance_tar_reader();
        if (!a)
                return xerr_oom(e, path);
        if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
                return xerr_set(e, -EINVAL, path, "not a tarball%s: %s", kind,
                                archive_error_string(a) ? archive_error_string(a) : "unknown format");
        *ret_fd = TAKE_FD(fd);
        *ret = TAKE_PTR(a);
        return 0;
}
