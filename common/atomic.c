/* SPDX-License-Identifier: MIT */
/*
 * Atomic outputs (STYLE.md rule 14). A file or directory appears at its
 * target only when complete: it is written to a temp in the target's
 * directory, fsynced, and linked/renamed into place, then the directory is
 * fsynced. Temps are removed on every early return (the _free functions), at
 * exit, and on SIGINT/SIGTERM/SIGHUP by a handler that only makes
 * async-signal-safe calls. O_TMPFILE temps vanish even on SIGKILL.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common.h"

/* ---- registry of temps to remove (fixed size: usable from a signal handler) ---- */

#define MAX_REGISTERED 32

struct registered {
        volatile sig_atomic_t used;
        bool is_dir;
        char path[PATH_MAX];
};

static struct registered registry[MAX_REGISTERED];
static bool handlers_installed;

/* Removes everything below dirfd with raw getdents64: no malloc, no stdio. */
static void rm_tree_at(int dirfd, int depth)
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
                        off += d->reclen;
                        if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0)
                                continue;
                        if (d->type == DT_DIR) {
                                int fd = openat(dirfd, d->name,
                                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                if (fd >= 0) {
                                        rm_tree_at(fd, depth + 1);
                                        close(fd);
                                }
                                if (unlinkat(dirfd, d->name, AT_REMOVEDIR) == 0)
                                        removed++;
                        } else if (unlinkat(dirfd, d->name, 0) == 0) {
                                removed++;
                        }
                }
                /* entries were removed: read again from the start until a pass removes nothing */
                lseek(dirfd, 0, SEEK_SET);
        }
}

static void remove_path(const char *path, bool is_dir)
{
        if (is_dir) {
                int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0) {
                        rm_tree_at(fd, 0);
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
                        remove_path(registry[i].path, registry[i].is_dir);
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

static int register_path(const char *path, bool is_dir)
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
                if (registry[i].used && strcmp(registry[i].path, path) == 0)
                        registry[i].used = 0;
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
        sigset_t mask;
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
        if (!(flags & XOVA_ATOMIC_NAMED))
                a->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (a->fd < 0) {
                /* no O_TMPFILE here (or asked not to): a named temp, registered */
                a->temp = temp_template(target);
                if (!a->temp) {
                        free(a->target);
                        return xerr_set(e, -ENOMEM, target, "out of memory");
                }
                critical_begin(&mask);
                a->fd = mkostemp(a->temp, O_CLOEXEC);
                r = a->fd < 0 ? -errno : register_path(a->temp, false);
                critical_end(&mask);
                if (a->fd < 0) {
                        r = xerr_set_errno(e, r, target, "cannot create a temporary file in '%s'", dir);
                        free(a->temp);
                        free(a->target);
                        return r;
                }
                if (r < 0) {
                        unlink(a->temp);
                        close(a->fd);
                        free(a->temp);
                        free(a->target);
                        return xerr_set(e, r, target, "too many temporary files open");
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
                                        register_path(a->temp, false);
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
        sigset_t mask;
        int r;

        r = check_target(target, flags, true, e);
        if (r < 0)
                return r;
        d = calloc(1, sizeof(*d));
        if (!d || !(d->target = strdup(target)) || !(d->temp = temp_template(target))) {
                if (d) {
                        free(d->target);
                        free(d->temp);
                }
                return xerr_set(e, -ENOMEM, target, "out of memory");
        }
        d->flags = flags;
        critical_begin(&mask);
        if (!mkdtemp(d->temp)) {
                r = -errno;
                critical_end(&mask);
                r = xerr_set_errno(e, r, target, "cannot create a temporary directory beside it");
                free(d->target);
                free(d->temp);
                return r;
        }
        r = register_path(d->temp, true);
        critical_end(&mask);
        if (r < 0) {
                rmdir(d->temp);
                free(d->target);
                free(d->temp);
                return xerr_set(e, r, target, "too many temporary files open");
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
        sigset_t mask;
        int r;

        if (!parent) {
                parent = getenv("TMPDIR");
                if (!parent || !*parent)
                        parent = "/tmp";
        }
        if (asprintf(&p, "%s/xova-work.XXXXXX", parent) < 0)
                return xerr_set(e, -ENOMEM, parent, "out of memory");
        critical_begin(&mask);
        if (!mkdtemp(p)) {
                r = -errno;
                critical_end(&mask);
                r = xerr_set_errno(e, r, parent, "cannot create a work directory");
                free(p);
                return r;
        }
        r = register_path(p, true);
        critical_end(&mask);
        if (r < 0) {
                rmdir(p);
                free(p);
                return xerr_set(e, r, parent, "too many temporary directories");
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
