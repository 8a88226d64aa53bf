/* SPDX-License-Identifier: MIT */
/*
 * reclaim.c - remove the temps a killed xova left behind. SIGKILL leaves
 * named temps (".NAME.xova-XXXXXX" where O_TMPFILE is missing, the
 * ".NAME.xova-XXXXXX" directory of a raw build, the "xova-work.XXXXXX"
 * scratch directory). Each is flock()ed by its live owner (tempreg.c), so
 * whoever next creates an output in that directory removes the temps of
 * ours whose lock it can take: a lock we can take means the owner is gone.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common.h"
#include "common-internal.h"

enum { TEMP_NONE, TEMP_OUTPUT, TEMP_WORK };

/* six characters of mkstemp's alphabet, then the end */
static bool is_random6(const char *s)
{
        for (int i = 0; i < 6; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return s[6] == '\0';
}

/* Which of our temp names `name` is, exactly: ".NAME.xova-XXXXXX" (an atomic
 * output's temp, NAME non-empty and not "." or "..": a file or a directory)
 * or "xova-work.XXXXXX" (a work directory). */
static int temp_kind(const char *name)
{
        size_t len = strlen(name);

        if (len == 16 && memcmp(name, "xova-work.", 10) == 0 && is_random6(name + 10))
                return TEMP_WORK;
        if (len >= 14 && name[0] == '.' && memcmp(name + len - 12, ".xova-", 6) == 0 &&
            is_random6(name + len - 6) &&
            !(len == 14 && name[1] == '.') && !(len == 15 && name[1] == '.' && name[2] == '.'))
                return TEMP_OUTPUT;
        return TEMP_NONE;
}

/* 1: `name` in dfd was a temp of ours whose owner is dead, and is removed;
 * 0: kept (its lock is held, or it is not provably ours). */
static int reclaim_one(int dfd, dev_t dev, const char *dir, const char *name, int kind)
{
        _cleanup_close_ int fd = -1;
        struct stat st, fst;
        int r;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        /* we only ever make regular files and directories under these names:
         * a symlink, FIFO, socket or device is not ours and is neither
         * followed, opened nor removed */
        if (!S_ISDIR(st.st_mode) && !(S_ISREG(st.st_mode) && kind == TEMP_OUTPUT)) {
                xova_debug("atomic: kept '%s/%s': named like our temp but not a %s", dir, name,
                           kind == TEMP_WORK ? "directory" : "regular file or directory");
                return 0;
        }
        if (st.st_uid != geteuid()) {
                xova_debug("atomic: kept '%s/%s': owned by uid %u, not by us", dir, name,
                           (unsigned) st.st_uid);
                return 0;
        }
        if (st.st_dev != dev) {
                xova_debug("atomic: kept '%s/%s': a mount point", dir, name);
                return 0;
        }
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                               (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        if (fd < 0) {
                xova_debug("atomic: kept '%s/%s': cannot open it: %s", dir, name, strerror(errno));
                return 0;
        }
        if (fstat(fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
                return 0;       /* replaced under us */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        xova_debug("atomic: kept '%s/%s': its lock is held, the xova that made it is alive",
                                   dir, name);
                else
                        xova_debug("atomic: kept '%s/%s': cannot lock it: %s", dir, name, strerror(errno));
                return 0;
        }
        /* the lock is ours, so no process holds it: the owner is dead. The
         * name must still be the inode we locked (a live xova never renames
         * or reuses a temp name while holding its lock). */
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != fst.st_dev ||
            st.st_ino != fst.st_ino)
                return 0;
        if (S_ISDIR(fst.st_mode)) {
                xova_rmrf_fd(fd);
                r = unlinkat(dfd, name, AT_REMOVEDIR);
        } else {
                r = unlinkat(dfd, name, 0);
        }
        if (r < 0) {
                xova_debug("atomic: cannot remove stale temp '%s/%s': %s", dir, name, strerror(errno));
                return 0;
        }
        xova_debug("atomic: removed stale temp '%s/%s' (no live process held its lock)", dir, name);
        return 1;
}

int xova_reclaim_stale_temps(const char *dir, xova_reclaim_fn fn, void *userdata)
{
        _cleanup_close_ int dfd = -1;
        struct stat st;
        struct dirent *de;
        DIR *d;
        int fd, n = 0;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fstat(dfd, &st) < 0)
                return -errno;
        fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                int kind = temp_kind(de->d_name);
                if (kind == TEMP_NONE)
                        continue;
                if (reclaim_one(dfd, st.st_dev, dir, de->d_name, kind) > 0) {
                        n++;
                        if (fn)
                                fn(userdata, dir, de->d_name);
                }
        }
        closedir(d);
        return n;
}
