/* SPDX-License-Identifier: MIT */
/*
 * process.c - the one way xova starts a child process.
 *
 * xova_spawn() is fork + execve with options (extra environment, fds kept
 * open under their own numbers, PR_SET_PDEATHSIG, its own process group,
 * stdout/stderr to given fds): hv/ starts QEMU with it, xova_run() starts
 * tools (mke2fs, qemu-img, grub-mkimage, ...) with it and captures their
 * output. One implementation, so every child gets the same hygiene: stdin
 * from /dev/null, default signal dispositions and an empty signal mask (a
 * SIGHUP ignored under nohup is not inherited), nothing open but 0-2 and
 * the fds asked for.
 *
 * fork rather than posix_spawn: PR_SET_PDEATHSIG and clearing FD_CLOEXEC on
 * chosen fds must run in the child, which posix_spawn cannot do. After fork
 * (xova has threads: overlays are made concurrently) the child calls only
 * async-signal-safe functions; everything it needs is built before fork.
 * An exec failure comes back through a CLOEXEC pipe as its errno.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common.h"

extern char **environ;

int xova_find_tool(const char *tool, const char *package, char **ret_path, struct xerr *e)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *full = NULL;

        if (strchr(tool, '/')) {
                if (access(tool, X_OK) == 0)
                        return (*ret_path = strdup(tool)) ? 0 : -ENOMEM;
                return xerr_set(e, -ENOENT, tool, "not found or not executable");
        }
        if (asprintf(&full, "%s:/usr/sbin:/sbin", path && *path ? path : "/usr/bin:/bin") < 0)
                return xerr_oom(e, tool);
        for (char *save = NULL, *dir = strtok_r(full, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                char *cand = NULL;
                struct stat st;
                if (!*dir)
                        continue;
                if (asprintf(&cand, "%s/%s", dir, tool) < 0)
                        return xerr_oom(e, tool);
                if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                        *ret_path = cand;
                        return 0;
                }
                free(cand);
        }
        return xerr_set(e, -ENOENT, tool, "tool not found on PATH (install the Debian package '%s')",
                        package ? package : "?");
}

/* Keeps the last `cap` bytes written to it. */
struct tail {
        char *buf;
        size_t len, cap;
        bool grow;              /* stdout capture: keep all up to cap */
        bool overflow;
};

static void tail_add(struct tail *t, const char *p, size_t n)
{
        if (t->grow) {
                if (t->len + n > t->cap) {
                        t->overflow = true;
                        n = t->cap - t->len;
                }
                memcpy(t->buf + t->len, p, n);
                t->len += n;
                return;
        }
        if (n >= t->cap) {
                memcpy(t->buf, p + n - t->cap, t->cap);
                t->len = t->cap;
                return;
        }
        if (t->len + n > t->cap) {
                size_t drop = t->len + n - t->cap;
                memmove(t->buf, t->buf + drop, t->len - drop);
                t->len -= drop;
        }
        memcpy(t->buf + t->len, p, n);
        t->len += n;
}

/* The last lines of a tool's stderr, on one line, for an error message. */
static void tail_lines(const struct tail *t, char *out, size_t size)
{
        size_t start = 0, lines = 0, o = 0;

        for (size_t i = t->len; i > 0; i--)
                if (t->buf[i - 1] == '\n' && i != t->len && ++lines == 3) {
                        start = i;
                        break;
                }
        for (size_t i = start; i < t->len && o + 4 < size; i++) {
                char c = t->buf[i];
                if (c == '\n')
                        c = (i + 1 < t->len) ? '|' : '\0';
                if (c == '\0')
                        break;
                out[o++] = (c >= 32 && c < 127) || c == '|' ? c : '?';
        }
        out[o] = '\0';
}

/* The child side of xova_spawn: only async-signal-safe calls. */
static _Noreturn void child_exec(const char *path, char *const argv[], char *const envp[],
                                 const struct xova_spawn_opts *o, int null_fd, pid_t parent, int err_fd)
{
        int fds[3] = { null_fd, o->stdout_fd >= 0 ? o->stdout_fd : null_fd,
                       o->stderr_fd >= 0 ? o->stderr_fd : null_fd };
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t empty;
        bool ok = true;
        int err;

        if (o->own_pgrp)
                setpgid(0, 0);
        if (o->pdeathsig) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)        /* the parent died before prctl */
                        _exit(127);
        }
        sigemptyset(&dfl.sa_mask);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        sigaction(s, &dfl, NULL);
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        /* move sources in 0-2 above 2 first, so dup2 into 0-2 cannot
         * overwrite one still needed (dup2 clears O_CLOEXEC on the copy) */
        for (int i = 0; i < 3 && ok; i++)
                if (fds[i] <= STDERR_FILENO)
                        ok = (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) >= 0;
        for (int i = 0; i < 3 && ok; i++)
                ok = dup2(fds[i], i) >= 0;
        for (size_t i = 0; i < o->n_keep_fds && ok; i++)
                ok = fcntl(o->keep_fds[i], F_SETFD, 0) >= 0;
        if (ok)
                execve(path, argv, envp);
        err = errno;
        (void) !write(err_fd, &err, sizeof(err));
        _exit(127);
}

int xova_spawn(const char *path, char *const argv[], const struct xova_spawn_opts *o, pid_t *ret_pid,
               struct xerr *e)
{
        static const struct xova_spawn_opts none_opts = { .stdout_fd = -1, .stderr_fd = -1 };
        _cleanup_free_ char **envp = NULL;
        _cleanup_close_ int null_fd = -1;
        int errp[2] = { -1, -1 }, child_errno = 0, r;
        size_t n_env = 0, n_extra = 0;
        pid_t parent = getpid(), pid;
        ssize_t k;

        if (!o)
                o = &none_opts;
        for (size_t i = 0; i < o->n_keep_fds; i++)
                if (o->keep_fds[i] <= STDERR_FILENO)
                        return xerr_set(e, -EINVAL, path, "fd %d cannot be kept for the child", o->keep_fds[i]);
        while (environ[n_env])
                n_env++;
        while (o->env_extra && o->env_extra[n_extra])
                n_extra++;
        envp = calloc(n_env + n_extra + 1, sizeof(char *));
        if (!envp)
                return xerr_oom(e, path);
        for (size_t i = 0; i < n_extra; i++)
                envp[i] = o->env_extra[i];
        for (size_t i = 0; i < n_env; i++)
                envp[n_extra + i] = environ[i];   /* getenv finds the first: extras win */
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                return xerr_set_errno(e, -errno, "/dev/null", "cannot open");
        if (pipe2(errp, O_CLOEXEC) < 0)
                return xerr_set_errno(e, -errno, path, "cannot create a pipe");

        xova_debug("spawn: %s", path);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(errp[0]);
                close(errp[1]);
                return xerr_set_errno(e, r, path, "cannot fork");
        }
        if (pid == 0)
                child_exec(path, argv, envp, o, null_fd, parent, errp[1]);
        close(errp[1]);
        if (o->own_pgrp)
                setpgid(pid, pid);      /* also here: the group exists before we may signal it */
        do
                k = read(errp[0], &child_errno, sizeof(child_errno));
        while (k < 0 && errno == EINTR);
        close(errp[0]);
        if (k == (ssize_t) sizeof(child_errno)) {
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return xerr_set_errno(e, -child_errno, path, "cannot start");
        }
        *ret_pid = pid;
        return 0;
}

static void close_pipes(int a[2], int b[2])
{
        for (int i = 0; i < 2; i++) {
                if (a[i] >= 0)
                        close(a[i]);
                if (b[i] >= 0)
                        close(b[i]);
                a[i] = b[i] = -1;
        }
}

int xova_run(const char *package, char *const argv[], char *const envp_extra[],
             char **ret_stdout, struct xerr *e)
{
        struct xova_run_opts o = { .env_extra = envp_extra };

        return xova_run_with(package, argv, &o, ret_stdout, e);
}

int xova_run_with(const char *package, char *const argv[], const struct xova_run_opts *ro,
                  char **ret_stdout, struct xerr *e)
{
        _cleanup_free_ char *tool = NULL, *errbuf = NULL, *outbuf = NULL;
        int errpipe[2] = { -1, -1 }, outpipe[2] = { -1, -1 };
        struct tail et = { 0 }, ot = { 0 };
        struct xova_spawn_opts so = { .stdout_fd = -1, .stderr_fd = -1 };
        char msg[300];
        pid_t pid;
        int r, status;

        r = xova_find_tool(argv[0], package, &tool, e);
        if (r < 0)
                return r;
        errbuf = malloc(4096);
        if (!errbuf)
                return xerr_oom(e, argv[0]);
        et = (struct tail) { .buf = errbuf, .cap = 4096 };
        if (ret_stdout) {
                outbuf = malloc(16u << 20);
                if (!outbuf)
                        return xerr_oom(e, argv[0]);
                ot = (struct tail) { .buf = outbuf, .cap = (16u << 20) - 1, .grow = true };
        }
        if (pipe2(errpipe, O_CLOEXEC) < 0 || (ret_stdout && pipe2(outpipe, O_CLOEXEC) < 0)) {
                r = xerr_set_errno(e, -errno, argv[0], "cannot create a pipe");
                close_pipes(errpipe, outpipe);
                return r;
        }
        if (ro) {
                so.env_extra = ro->env_extra;
                so.keep_fds = ro->keep_fds;
                so.n_keep_fds = ro->n_keep_fds;
        }
        so.stderr_fd = errpipe[1];
        so.stdout_fd = ret_stdout ? outpipe[1] : -1;
        r = xova_spawn(tool, argv, &so, &pid, e);
        if (r < 0) {
                close_pipes(errpipe, outpipe);
                return xerr_set(e, r, argv[0], "cannot start: %s", strerror(-r));
        }
        close(errpipe[1]);
        errpipe[1] = -1;
        if (ret_stdout) {
                close(outpipe[1]);
                outpipe[1] = -1;
        }
        for (int open_fds = ret_stdout ? 2 : 1; open_fds > 0;) {
                struct pollfd p[2] = { { .fd = errpipe[0], .events = POLLIN },
                                       { .fd = ret_stdout ? outpipe[0] : -1, .events = POLLIN } };
                char buf[65536];
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        ssize_t n;
                        if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        n = read(p[i].fd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(p[i].fd);
                                if (i == 0)
                                        errpipe[0] = -1;
                                else
                                        outpipe[0] = -1;
                                open_fds--;
                                continue;
                        }
                        tail_add(i == 0 ? &et : &ot, buf, (size_t) n);
                }
        }
        close_pipes(errpipe, outpipe);  /* a poll error left them open */
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return xerr_set_errno(e, -errno, argv[0], "cannot wait for the process");
        tail_lines(&et, msg, sizeof(msg));
        if (WIFSIGNALED(status))
                return xerr_set(e, -EINTR, argv[0], "killed by signal %d%s%s", WTERMSIG(status),
                                msg[0] ? ": " : "", msg);
        if (WEXITSTATUS(status) != 0)
                return xerr_set(e, -EIO, argv[0], "failed with exit status %d%s%s",
                                WEXITSTATUS(status), msg[0] ? ": " : "", msg);
        if (ret_stdout) {
                if (ot.overflow)
                        return xerr_set(e, -EFBIG, argv[0], "printed more than 16 MiB");
                outbuf[ot.len] = '\0';
                *ret_stdout = TAKE_PTR(outbuf);
        }
        return 0;

}
