/* SPDX-License-Identifier: MIT */
/*
 * Atomic outputs (STYLE.md rule 14). A file or directory appears at its
 * target only when complete: it is written to a temp in the target's
 * directory, fsynced, and linked/renamed into place, then the directory is
 * fsynced. Temps are removed on every early return (the _free functions), at
 * exit, and on SIGINT/SIGTERM/SIGHUP by a handler that only makes
 * async-signal-safe calls. O_TMPFILE temps vanish even on SIGKILL.
 *
 * SIGKILL leaves named temps behind (".NAME.xova-XXXXXX" where O_TMPFILE is
 * missing, the ".NAME.xova-XXXXXX" directory of a raw build, the
 * "xova-work.XXXXXX" scratch directory). So every named temp is flock()ed
 * (LOCK_EX, on an O_CLOEXEC fd kept open for the temp's life) by the
 * process that made it, and whoever next creates an output in that
 * directory removes the temps of ours whose lock it can take: the kernel
 * drops a flock when its last holder dies, so a lock we can take means the
 * owner is gone (xova_reclaim_stale_temps).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common.h"

/* ---- registry of temps to remove (fixed size: usable from a signal handler) ---- */

#define MAX_REGISTERED 32

struct registered {
        volatile sig_atomic_t used;
        bool is_dir;
        int lock_fd;            /* a directory's flock fd (closed on unregister), or -1 */
        char path[PATH_MAX];
};

static struct registered registry[MAX_REGISTERED];
static bool handlers_installed;

/* Removes everything below dirfd with raw getdents64: no malloc, no stdio.
 * Never follows a symlink (subdirectories are opened O_NOFOLLOW relative to
 * their parent's fd, links are unlinked as names) and never leaves the
 * filesystem it started on (a mount point inside is left alone). */
static void rm_tree_at(int dirfd, dev_t dev, int depth)
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
                                        rm_tree_at(fd, dev, depth + 1);
                                close(fd);
                        }
                        if (unlinkat(dirfd, d->name, AT_REMOVEDIR) == 0)
                                removed++;
                }
                /* entries were removed: read again from the start until a pass removes nothing */
                lseek(dirfd, 0, SEEK_SET);
        }
}

static void rm_tree(int fd)
{
        struct stat st;

        if (fstat(fd, &st) == 0)
                rm_tree_at(fd, st.st_dev, 0);
}

static void remove_path(const char *path, bool is_dir)
{
        if (is_dir) {
                int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0) {
                        rm_tree(fd);
                        close(fd);
                }
                rmdir(path);
        } else {
                unlink(path);
        }
}

void xova_cleanup_registered(void)
{
        for (size_t i = 0; i < MAX_REGISTERED; i++)
                if (registry[i].used) {
                        /* removed while still locked, so no reclaimer races us */
                        remove_path(registry[i].path, registry[i].is_dir);
                        if (registry[i].lock_fd >= 0)
                                close(registry[i].lock_fd);
                        registry[i].lock_fd = -1;
                        registry[i].used = 0;
                }
}

static void on_signal(int sig)
{
        xova_cleanup_registered();
        signal(sig, SIG_DFL);
        raise(sig);
}

static void on_exit_cleanup(void)
{
        xova_cleanup_registered();
}

static void install_handlers(void)
{
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

        if (handlers_installed)
                return;
        handlers_installed = true;
        atexit(on_exit_cleanup);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                struct sigaction sa, old;
                if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
                        continue;       /* keep ignored signals ignored (nohup) */
                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = on_signal;
                sigemptyset(&sa.sa_mask);
                sigaction(sigs[i], &sa, NULL);
        }
}

/* lock_fd: for a directory, the fd holding its flock; the registry owns it
 * from here on (closed by unregister_path). -1 for files, whose lock is on
 * the data fd the caller keeps. */
static int register_path(const char *path, bool is_dir, int lock_fd)
{
        sigset_t all, old;
        int r = -ENOSPC;

        if (strlen(path) >= PATH_MAX)
                return -ENAMETOOLONG;
        install_handlers();
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        for (size_t i = 0; i < MAX_REGISTERED; i++)
                if (!registry[i].used) {
                        memcpy(registry[i].path, path, strlen(path) + 1);
                        registry[i].is_dir = is_dir;
                        registry[i].lock_fd = lock_fd;
                        registry[i].used = 1;
                        r = 0;
                        break;
                }
        sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}

static void unregister_path(const char *path)
{
        sigset_t all, old;

        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        for (size_t i = 0; i < MAX_REGISTERED; i++)
                if (registry[i].used && strcmp(registry[i].path, path) == 0) {
                        if (registry[i].lock_fd >= 0)
                                close(registry[i].lock_fd);
                        registry[i].lock_fd = -1;
                        registry[i].used = 0;
                }
        sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Creating a temp and registering it happen with every signal blocked (and
 * the handlers installed first), so a signal can never fall between the two
 * and leave an unregistered temp behind. */
static void critical_begin(sigset_t *old)
{
        sigset_t all;

        install_handlers();
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, old);
}

static void critical_end(const sigset_t *old)
{
        sigprocmask(SIG_SETMASK, old, NULL);
}

static mode_t current_umask(void)
{
        mode_t m = umask(0);
        umask(m);
        return m;
}

/* ".NAME.xova-XXXXXX" beside target */
static char *temp_template(const char *target)
{
        _cleanup_free_ char *dir = xova_dirname(target), *base = xova_basename(target);
        char *t = NULL;

        if (!dir || !base)
                return NULL;
        if (asprintf(&t, "%s/.%s.xova-XXXXXX", dir, base) < 0)
                return NULL;
        return t;
}

/* ---- liveness locks and stale temps ---- */

/* After creating a named temp: take the flock that marks it live, then check
 * that `path` still names the locked inode. Until the lock is taken, a
 * reclaimer in another process may have seen the new name, locked it
 * itself, taken it for stale and removed it; then we must make a new one
 * (-EAGAIN). Where the filesystem has no flock (some NFS setups), the temp
 * stays unlocked: no reclaimer can lock it either, so it is never removed
 * by one (the old behaviour, on the safe side). */
static int lock_new_temp(int fd, const char *path)
{
        struct stat a, b;

        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EAGAIN : 0;
        if (fstat(fd, &a) < 0)
                return -errno;
        if (lstat(path, &b) < 0)
                return errno == ENOENT ? -EAGAIN : -errno;
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                return -EAGAIN;
        return 0;
}

/* Creates the named temp tmpl (ending in "XXXXXX", rewritten to the name
 * made): a file (*ret_fd: its O_RDWR fd, which holds the lock) or a
 * directory (*ret_fd: an O_RDONLY fd on it holding the lock, owned by the
 * registry: do not close it). Creating, locking and registering happen with
 * every signal blocked, so a signal never leaves an unregistered temp.
 * *ret_full says the error came from a full registry. */
static int make_temp(char *tmpl, bool is_dir, int *ret_fd, bool *ret_full)
{
        size_t len = strlen(tmpl);
        sigset_t mask;
        int fd, r = -EAGAIN;

        *ret_full = false;
        if (len < 6)
                return -EINVAL;
        for (int tries = 0; tries < 16; tries++) {
                memcpy(tmpl + len - 6, "XXXXXX", 6);
                critical_begin(&mask);
                if (is_dir) {
                        if (!mkdtemp(tmpl)) {
                                r = -errno;
                                critical_end(&mask);
                                return r;
                        }
                        fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = fd < 0 ? (errno == ENOENT ? -EAGAIN : -errno) : lock_new_temp(fd, tmpl);
                } else {
                        fd = mkostemp(tmpl, O_CLOEXEC);
                        if (fd < 0) {
                                r = -errno;
                                critical_end(&mask);
                                return r;
                        }
                        r = lock_new_temp(fd, tmpl);
                }
                if (r == 0) {
                        r = register_path(tmpl, is_dir, is_dir ? fd : -1);
                        *ret_full = r < 0;
                }
                if (r < 0 && r != -EAGAIN) {
                        /* ours, unregistered and about to be unlocked: remove it now */
                        if (is_dir)
                                rmdir(tmpl);
                        else
                                unlink(tmpl);
                }
                critical_end(&mask);
                if (r == 0) {
                        *ret_fd = fd;
                        return 0;
                }
                if (fd >= 0)
                        close(fd);
                if (r == -EAGAIN) {
                        /* a reclaimer has (or had) the name; it removes it, we make another */
                        xova_debug("atomic: %s was taken for stale before we locked it, new name", tmpl);
                        continue;
                }
                return r;
        }
        return r;
}

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
                rm_tree(fd);
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
                return xerr_set(e, -ENOMEM, target, "out of memory");
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
                return xerr_set(e, -ENOMEM, target, "out of memory");
        a->mode = mode & ~current_umask();
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
                a->temp = temp_template(target);
                if (!a->temp) {
                        free(a->target);
                        return xerr_set(e, -ENOMEM, target, "out of memory");
                }
                r = make_temp(a->temp, false, &a->fd, &full);
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
                        a->temp = temp_template(a->target);
                        if (!a->temp)
                                return xerr_set(e, -ENOMEM, a->target, "out of memory");
                        for (int tries = 0;; tries++) {
                                char *x = a->temp + strlen(a->temp) - 6;
                                for (int i = 0; i < 6; i++)
                                        x[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(unsigned) random() % 36];
                                critical_begin(&mask);
                                if (linkat(AT_FDCWD, procpath, AT_FDCWD, a->temp, AT_SYMLINK_FOLLOW) == 0) {
                                        register_path(a->temp, false, -1);
                                        critical_end(&mask);
                                        break;
                                }
                                critical_end(&mask);
                                if (errno != EEXIST || tries > 100) {
                                        r = xerr_set_errno(e, -errno, a->target, "cannot create output");
                                        free(a->temp);
                                        a->temp = NULL;
                                        return r;
                                }
                        }
                        if (rename(a->temp, a->target) < 0)
                                return xerr_set_errno(e, -errno, a->target, "cannot replace output");
                        unregister_path(a->temp);
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
                unregister_path(a->temp);
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
                unregister_path(a->temp);
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
                return xerr_set(e, -ENOMEM, target, "out of memory");
        (void) xova_reclaim_stale_temps(dir, NULL, NULL);
        d = calloc(1, sizeof(*d));
        if (!d || !(d->target = strdup(target)) || !(d->temp = temp_template(target))) {
                if (d) {
                        free(d->target);
                        free(d->temp);
                }
                return xerr_set(e, -ENOMEM, target, "out of memory");
        }
        d->flags = flags;
        r = make_temp(d->temp, true, &lock_fd, &full);
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
        if (fchmod(fd, 0777 & ~current_umask()) < 0)
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
                        remove_path(d->temp, true);
                } else {
                        if (unlink(d->target) < 0 || rename(d->temp, d->target) < 0)
                                return xerr_set_errno(e, -errno, d->target, "cannot replace output");
                }
        }
        unregister_path(d->temp);
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
                remove_path(d->temp, true);
                unregister_path(d->temp);
                free(d->temp);
        }
        free(d->target);
        free(d);
        return NULL;
}

/* ---- work directories ---- */

int xova_workdir_new(const char *parent, char **ret_path, struct xerr *e)
{
        char *p = NULL;
        bool full;
        int r, lock_fd;

        if (parent) {
                /* an output's directory (a build's scratch lives beside its
                 * output): clean up after killed runs there. $TMPDIR is shared
                 * with everyone and has its own cleaner: not scanned. */
                (void) xova_reclaim_stale_temps(parent, NULL, NULL);
        } else {
                parent = getenv("TMPDIR");
                if (!parent || !*parent)
                        parent = "/tmp";
        }
        if (asprintf(&p, "%s/xova-work.XXXXXX", parent) < 0)
                return xerr_set(e, -ENOMEM, parent, "out of memory");
        r = make_temp(p, true, &lock_fd, &full);
        if (r < 0) {
                if (full)
                        r = xerr_set(e, r, parent, "too many temporary directories");
                else
                        r = xerr_set_errno(e, r, parent, "cannot create a work directory");
                free(p);
                return r;
        }
        *ret_path = p;
        return 0;
}

int xova_workdir_remove(const char *path)
{
        if (!path)
                return 0;
        remove_path(path, true);
        unregister_path(path);
        return 0;
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
