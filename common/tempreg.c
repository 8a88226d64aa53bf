/* SPDX-License-Identifier: MIT */
/*
 * tempreg.c - the registry of our named temps (as git's tempfile.c): every
 * temp file or directory xova makes is created, flock()ed and registered
 * with every signal blocked, and the registry removes what is still in it
 * at exit and on SIGINT/SIGTERM/SIGHUP, from a handler that only makes
 * async-signal-safe calls (rmrf.c). The registry is a fixed array, so the
 * handler never allocates.
 *
 * The flock is what makes a temp provably stale later: it is held (LOCK_EX,
 * on an O_CLOEXEC fd kept open for the temp's life) by the process that made
 * it, and the kernel drops it when the last holder dies, SIGKILL included;
 * reclaim.c removes the temps whose lock it can take. Signals that were
 * ignored when the handlers are installed stay ignored (nohup keeps
 * working), like git's sigchain.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common.h"
#include "common-internal.h"

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

void xova_cleanup_registered(void)
{
        for (size_t i = 0; i < MAX_REGISTERED; i++)
                if (registry[i].used) {
                        /* removed while still locked, so no reclaimer races us */
                        xova_rmrf_path(registry[i].path, registry[i].is_dir);
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
int xova_tempreg_add(const char *path, bool is_dir, int lock_fd)
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

void xova_tempreg_remove(const char *path)
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
void xova_tempreg_block(sigset_t *old)
{
        sigset_t all;

        install_handlers();
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, old);
}

void xova_tempreg_unblock(const sigset_t *old)
{
        sigprocmask(SIG_SETMASK, old, NULL);
}

mode_t xova_current_umask(void)
{
        mode_t m = umask(0);
        umask(m);
        return m;
}

/* ".NAME.xova-XXXXXX" beside target */
char *xova_temp_template(const char *target)
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
int xova_tempreg_make(char *tmpl, bool is_dir, int *ret_fd, bool *ret_full)
{
        size_t len = strlen(tmpl);
        sigset_t mask;
        int fd, r = -EAGAIN;

        *ret_full = false;
        if (len < 6)
                return -EINVAL;
        for (int tries = 0; tries < 16; tries++) {
                memcpy(tmpl + len - 6, "XXXXXX", 6);
                xova_tempreg_block(&mask);
                if (is_dir) {
                        if (!mkdtemp(tmpl)) {
                                r = -errno;
                                xova_tempreg_unblock(&mask);
                                return r;
                        }
                        fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = fd < 0 ? (errno == ENOENT ? -EAGAIN : -errno) : lock_new_temp(fd, tmpl);
                } else {
                        fd = mkostemp(tmpl, O_CLOEXEC);
                        if (fd < 0) {
                                r = -errno;
                                xova_tempreg_unblock(&mask);
                                return r;
                        }
                        r = lock_new_temp(fd, tmpl);
                }
                if (r == 0) {
                        r = xova_tempreg_add(tmpl, is_dir, is_dir ? fd : -1);
                        *ret_full = r < 0;
                }
                if (r < 0 && r != -EAGAIN) {
                        /* ours, unregistered and about to be unlocked: remove it now */
                        if (is_dir)
                                rmdir(tmpl);
                        else
                                unlink(tmpl);
                }
                xova_tempreg_unblock(&mask);
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

