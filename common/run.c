/* SPDX-License-Identifier: MIT */
/* Child processes: tools found on PATH, errors that name the tool, its package and its stderr. */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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

int xova_run(const char *package, char *const argv[], char *const envp_extra[],
             char **ret_stdout, struct xerr *e)
{
        _cleanup_free_ char *tool = NULL, *errbuf = NULL, *outbuf = NULL;
        _cleanup_free_ char **envp = NULL;
        posix_spawn_file_actions_t fa;
        int errpipe[2] = { -1, -1 }, outpipe[2] = { -1, -1 };
        struct tail et = { 0 }, ot = { 0 };
        char msg[300];
        pid_t pid;
        int r, status;
        size_t n_env = 0, n_extra = 0;

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
        while (environ[n_env])
                n_env++;
        while (envp_extra && envp_extra[n_extra])
                n_extra++;
        envp = calloc(n_env + n_extra + 1, sizeof(char *));
        if (!envp)
                return xerr_oom(e, argv[0]);
        for (size_t i = 0; i < n_extra; i++)
                envp[i] = envp_extra[i];
        for (size_t i = 0; i < n_env; i++)
                envp[n_extra + i] = environ[i];   /* getenv finds the first: extras win */

        if (pipe2(errpipe, O_CLOEXEC) < 0 || (ret_stdout && pipe2(outpipe, O_CLOEXEC) < 0)) {
                r = -errno;
                goto fail_pipes;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (ret_stdout)
                posix_spawn_file_actions_adddup2(&fa, outpipe[1], 1);
        else
                posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, errpipe[1], 2);
        xova_debug("run: %s", tool);
        r = posix_spawn(&pid, tool, &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                r = -r;
                goto fail_pipes;
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

fail_pipes:
        for (int i = 0; i < 2; i++) {
                if (errpipe[i] >= 0)
                        close(errpipe[i]);
                if (outpipe[i] >= 0)
                        close(outpipe[i]);
        }
        return xerr_set_errno(e, r, argv[0], "cannot start");
}
