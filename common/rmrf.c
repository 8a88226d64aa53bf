/* SPDX-License-Identifier: MIT */
/*
 * rmrf.c - remove a tree we made, from a signal handler if need be (as
 * systemd's rm-rf.c, but with no allocation at all). Used by the temp
 * registry (tempreg.c) on signals and at exit, by stale-temp reclaim
 * (reclaim.c), by atomic directories (atomic.c) and by work directories
 * (workdir.c). Written by hand rather than with nftw(3) or fts(3): those
 * allocate and follow the tree by path, and this must be
 * async-signal-safe and never leave the tree through a symlink or a mount.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common.h"
#include "common-internal.h"

/* Removes everything below dirfd with raw getdents64: no malloc, no stdio.
 * Never follows a symlink (subdirectories are opened O_NOFOLLOW relative to
 * their parent's fd, links are unlinked as names) and never leaves the
 * filesystem it started on (a mount point inside is left alone). */
static void rmrf_at(int dirfd, dev_t dev, int depth)
{
        char buf[4096];
        long n;

        if (depth > 64)
                return;
        for (int removed = 1; removed > 0;) {
                removed = 0;
                n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (long off = 0; off < n;) {
                        struct {
                                uint64_t ino;
                                int64_t off;
                                unsigned short reclen;
                                unsigned char type;
                                char name[];
                        } *d = (void *) (buf + off);
                        struct stat st;
                        int fd;

                        off += d->reclen;
                        if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0)
                                continue;
                        if (d->type != DT_DIR) {
                                if (unlinkat(dirfd, d->name, 0) == 0) {
                                        removed++;
                                        continue;
                                }
                                /* no d_type on this filesystem: unlink says if it is a directory */
                                if (d->type != DT_UNKNOWN || (errno != EISDIR && errno != EPERM))
                                        continue;
                        }
                        fd = openat(dirfd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd >= 0) {
                                if (fstat(fd, &st) == 0 && st.st_dev == dev)
                                        rmrf_at(fd, dev, depth + 1);
                                close(fd);
                        }
                        if (unlinkat(dirfd, d->name, AT_REMOVEDIR) == 0)
                                removed++;
                }
                /* entries were removed: read again from the start until a pass removes nothing */
                lseek(dirfd, 0, SEEK_SET);
        }
}

void xova_rmrf_fd(int fd)
{
        struct stat st;

        if (fstat(fd, &st) == 0)
                rmrf_at(fd, st.st_dev, 0);
}

void xova_rmrf_path(const char *path, bool is_dir)
{
        if (is_dir) {
                int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0) {
                        xova_rmrf_fd(fd);
                        close(fd);
                }
                rmdir(path);
        } else {
                unlink(path);
        }
}
