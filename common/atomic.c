/* SPDX-License-Identifier: MIT */
/*
 * atomic.c - atomic outputs (docs/HACKING.md, "Atomic outputs"). A file or
 * directory appears at its target only when complete: it is written to a
 * temp in the target's directory, fsynced, and linked/renamed into place,
 * then the directory is fsynced. Temps are removed on every early return
 * (the _free functions), at exit and on SIGINT/SIGTERM/SIGHUP (tempreg.c),
 * and after SIGKILL by the next output made in that directory (reclaim.c).
 * O_TMPFILE temps vanish even on SIGKILL.
 *
 * The mechanisms live one per file, as git splits tempfile.c/lockfile.c and
 * systemd tmpfile-util.c/rm-rf.c: tempreg.c (registry, signal handlers,
 * locked named temps), rmrf.c (async-signal-safe rm -rf), reclaim.c (stale
 * temps), workdir.c (scratch directories), and this file (atomic files and
 * directories).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common.h"
#include "common-internal.h"

static int fsync_dir_of(const char *path)
{
        _cleanup_free_ char *dir = xova_dirname(path);
        _cleanup_close_ int fd = -1;

        if (!dir)
                return -ENOMEM;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0 && errno != EINVAL)
                return -errno;
        return 0;
}

static int check_target(const char *target, unsigned flags, bool want_dir, struct xerr *e)
{
        _cleanup_free_ char *dir = xova_dirname(target), *base = xova_basename(target);
        struct stat st;

        if (!dir || !base)
                return xerr_oom(e, target);
        if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0)
                return xerr_set(e, -EINVAL, target, "not a valid output file name");
        if (stat(dir, &st) < 0)
                return xerr_set_errno(e, -errno, target, "cannot use output directory '%s'", dir);
        if (!S_ISDIR(st.st_mode))
                return xerr_set(e, -ENOTDIR, target, "'%s' is not a directory", dir);
        if (lstat(target, &st) == 0) {
                if (!(flags & XOVA_ATOMIC_REPLACE))
                        return xerr_set(e, -EEXIST, target, "output exists (use --force to replace it)");
                if (!want_dir && S_ISDIR(st.st_mode))
                        return xerr_set(e, -EISDIR, target, "output is a directory");
                if (want_dir && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISREG(st.st_mode))
                        return xerr_set(e, -EEXIST, target, "output exists and is not a directory");
        } else if (errno != ENOENT) {
                return xerr_set_errno(e, -errno, target, "cannot stat output");
        }
        return 0;
}

int xova_output_check(const char *target, unsigned flags, bool is_dir, struct xerr *e)
{
        return check_target(target, flags, is_dir, e);
}

/* ---- files ---- */

struct xova_atomic {
        int fd;
        mode_t mode;
        unsigned flags;
        bool committed;
        char *target;
        char *temp;             /* NULL for O_TMPFILE */
};

int xova_atomic_open(const char *target, mode_t mode, unsigned flags, struct xova_atomic **ret,
                     struct xerr *e)
{
        _cleanup_free_ struct xova_atomic *a = NULL;
        _cleanup_free_ char *dir = NULL;
        bool full;
        int r;

        r = check_target(target, flags, false, e);
        if (r < 0)
                return r;
        a = calloc(1, sizeof(*a));
        dir = xova_dirname(target);
        if (!a || !dir || !(a->target = strdup(target)))
                return xerr_oom(e, target);
        a->mode = mode & ~xova_current_umask();
        a->flags = flags;
        a->fd = -1;
        (void) xova_reclaim_stale_temps(dir, NULL, NULL);
        if (!(flags & XOVA_ATOMIC_NAMED))
                a->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (a->fd >= 0) {
                /* locked before it has a name: the temp name a --force
                 * commit links it under is live from its first moment */
                (void) flock(a->fd, LOCK_EX | LOCK_NB);
        } else {
                /* no O_TMPFILE here (or asked not to): a named temp, locked and registered */
                a->temp = xova_temp_template(target);
                if (!a->temp) {
                        free(a->target);
                        return xerr_oom(e, target);
                }
                r = xova_tempreg_make(a->temp, false, &a->fd, &full);
                if (r < 0) {
                        if (full)
                                r = xerr_set(e, r, target, "too many temporary files open");
                        else
                                r = xerr_set_errno(e, r, target, "cannot create a temporary file in '%s'", dir);
                        free(a->temp);
                        free(a->target);
                        return r;
                }
        }
        xova_debug("atomic: %s via %s", target, a->temp ? a->temp : "O_TMPFILE");
        *ret = TAKE_PTR(a);
        return 0;
}

int xova_atomic_fd(const struct xova_atomic *a)
{
        return a->fd;
}

int xova_atomic_commit(struct xova_atomic *a, struct xerr *e)
{
        char procpath[64];
        sigset_t mask;
        int r;

        if (fchmod(a->fd, a->mode) < 0)
                return xerr_set_errno(e, -errno, a->target, "cannot set mode");
        if (fsync(a->fd) < 0)
                return xerr_set_errno(e, -errno, a->target, "cannot write");
        xova_pause_point("commit");
        if (!a->temp) {
                snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d", a->fd);
                if (!(a->flags & XOVA_ATOMIC_REPLACE)) {
                        if (linkat(AT_FDCWD, procpath, AT_FDCWD, a->target, AT_SYMLINK_FOLLOW) < 0)
                                return xerr_set_errno(e, -errno, a->target, "cannot create output");
                } else {
                        /* link under a temp name, then rename over the target */
                        a->temp = xova_temp_template(a->target);
                        if (!a->temp)
                                return xerr_oom(e, a->target);
                        for (int tries = 0;; tries++) {
                                char *x = a->temp + strlen(a->temp) - 6;
                                for (int i = 0; i < 6; i++)
                                        x[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(unsigned) random() % 36];
                                xova_tempreg_block(&mask);
                                if (linkat(AT_FDCWD, procpath, AT_FDCWD, a->temp, AT_SYMLINK_FOLLOW) == 0) {
                                        xova_tempreg_add(a->temp, false, -1);
                                        xova_tempreg_unblock(&mask);
                                        break;
                                }
                                xova_tempreg_unblock(&mask);
                                if (errno != EEXIST || tries > 100) {
                                        r = xerr_set_errno(e, -errno, a->target, "cannot create output");
                                        free(a->temp);
                                        a->temp = NULL;
                                        return r;
                                }
                        }
                        if (rename(a->temp, a->target) < 0)
                                return xerr_set_errno(e, -errno, a->target, "cannot replace output");
                        xova_tempreg_remove(a->temp);
                }
        } else {
                if (a->flags & XOVA_ATOMIC_REPLACE) {
                        if (rename(a->temp, a->target) < 0)
                                return xerr_set_errno(e, -errno, a->target, "cannot replace output");
                } else {
                        if (link(a->temp, a->target) < 0)
                                return xerr_set_errno(e, -errno, a->target, "cannot create output");
                        unlink(a->temp);
                }
                xova_tempreg_remove(a->temp);
        }
        free(a->temp);
        a->temp = NULL;
        a->committed = true;
        r = fsync_dir_of(a->target);
        if (r < 0)
                return xerr_set_errno(e, r, a->target, "cannot sync directory");
        return 0;
}

struct xova_atomic *xova_atomic_free(struct xova_atomic *a)
{
        if (!a)
                return NULL;
        if (a->temp) {
                unlink(a->temp);
                xova_tempreg_remove(a->temp);
                free(a->temp);
        }
        if (a->fd >= 0)
                close(a->fd);
        free(a->target);
        free(a);
        return NULL;
}

/* ---- directories ---- */

struct xova_atomic_dir {
        unsigned flags;
        bool committed;
        char *target;
        char *temp;
};

int xova_atomic_dir_open(const char *target, unsigned flags, struct xova_atomic_dir **ret,
                         struct xerr *e)
{
        _cleanup_free_ struct xova_atomic_dir *d = NULL;
        _cleanup_free_ char *dir = NULL;
        bool full;
        int r, lock_fd;

        r = check_target(target, flags, true, e);
        if (r < 0)
                return r;
        dir = xova_dirname(target);
        if (!dir)
                return xerr_oom(e, target);
        (void) xova_reclaim_stale_temps(dir, NULL, NULL);
        d = calloc(1, sizeof(*d));
        if (!d || !(d->target = strdup(target)) || !(d->temp = xova_temp_template(target))) {
                if (d) {
                        free(d->target);
                        free(d->temp);
                }
                return xerr_oom(e, target);
        }
        d->flags = flags;
        r = xova_tempreg_make(d->temp, true, &lock_fd, &full);
        if (r < 0) {
                if (full)
                        r = xerr_set(e, r, target, "too many temporary files open");
                else
                        r = xerr_set_errno(e, r, target, "cannot create a temporary directory beside it");
                free(d->target);
                free(d->temp);
                return r;
        }
        *ret = TAKE_PTR(d);
        return 0;
}

const char *xova_atomic_dir_path(const struct xova_atomic_dir *d)
{
        return d->temp;
}

static int fsync_tree_at(int dirfd, int depth)
{
        _cleanup_close_ int fd = -1;
        DIR *dir;
        struct dirent *de;
        int r = 0;

        if (depth > 16)
                return -ELOOP;
        fd = dup(dirfd);
        if (fd < 0)
                return -errno;
        dir = fdopendir(fd);
        if (!dir)
                return -errno;
        fd = -1;
        while ((de = readdir(dir))) {
                int cfd;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                cfd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (cfd < 0)
                        continue;       /* symlinks and the like: nothing to sync */
                if (de->d_type == DT_DIR)
                        r = fsync_tree_at(cfd, depth + 1);
                if (r == 0 && fsync(cfd) < 0)
                        r = -errno;
                close(cfd);
                if (r < 0)
                        break;
        }
        closedir(dir);
        return r;
}

int xova_atomic_dir_commit(struct xova_atomic_dir *d, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        fd = open(d->temp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return xerr_set_errno(e, -errno, d->target, "cannot open temporary directory");
        r = fsync_tree_at(fd, 0);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0)
                return xerr_set_errno(e, r, d->target, "cannot write");
        if (fchmod(fd, 0777 & ~xova_current_umask()) < 0)
                return xerr_set_errno(e, -errno, d->target, "cannot set mode");
        xova_pause_point("commit");
        if (renameat2(AT_FDCWD, d->temp, AT_FDCWD, d->target, RENAME_NOREPLACE) < 0) {
                if (errno != EEXIST || !(d->flags & XOVA_ATOMIC_REPLACE))
                        return xerr_set_errno(e, -errno, d->target, "cannot create output");
                if (lstat(d->target, &st) < 0)
                        return xerr_set_errno(e, -errno, d->target, "cannot stat output");
                if (S_ISDIR(st.st_mode)) {
                        /* swap atomically, then remove the old tree (now at temp) */
                        if (renameat2(AT_FDCWD, d->temp, AT_FDCWD, d->target, RENAME_EXCHANGE) < 0)
                                return xerr_set_errno(e, -errno, d->target, "cannot replace output");
                        xova_rmrf_path(d->temp, true);
                } else {
                        if (unlink(d->target) < 0 || rename(d->temp, d->target) < 0)
                                return xerr_set_errno(e, -errno, d->target, "cannot replace output");
                }
        }
        xova_tempreg_remove(d->temp);
        free(d->temp);
        d->temp = NULL;
        d->committed = true;
        r = fsync_dir_of(d->target);
        if (r < 0)
                return xerr_set_errno(e, r, d->target, "cannot sync directory");
        return 0;
}

struct xova_atomic_dir *xova_atomic_dir_free(struct xova_atomic_dir *d)
{
        if (!d)
                return NULL;
        if (d->temp) {
                xova_rmrf_path(d->temp, true);
                xova_tempreg_remove(d->temp);
                free(d->temp);
        }
        free(d->target);
        free(d);
        return NULL;
}


void xova_pause_point(const char *phase)
{
        const char *want = getenv("XOVA_DEBUG_PAUSE");

        if (!want || strcmp(want, phase) != 0)
                return;
        fprintf(stderr, "xova: paused at %s\n", phase);
        fflush(stderr);
        for (;;)
                pause();
}