/* SPDX-License-Identifier: MIT */
/*
 * Booting: a verified bundle (or disks given directly) -> run directory with
 * a private firmware vars copy and qcow2 overlays -> QEMU in its own process
 * group -> serial console read from a pipe, marker search, timeout, and a
 * clean stop on SIGINT/SIGTERM/SIGHUP. The bundle is only ever opened
 * read-only (by ovf/ and, through read-only block nodes, by QEMU), and QEMU
 * reads it through the descriptor ovf/ verified, never by path
 * (blockdev.c). (boot.c, not run.c: cli/run.c is the verb.)
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hv/hv-internal.h"

#define STOP_GRACE_MS 5000

/* ---- signals ---------------------------------------------------------------
 * The only global in hv/: a signal handler can reach nothing else. It is set
 * only while hv_run_vm() waits for a guest; the handler writes the signal
 * number to a self-pipe the poll loop watches. */
static volatile int hv_sig_fd = -1;

static void hv_on_signal(int sig)
{
        int saved = errno;
        unsigned char c = (unsigned char) sig;

        hv_tty_restore_async();         /* interactive: the terminal first */
        if (hv_sig_fd >= 0 && write(hv_sig_fd, &c, 1) < 0) {
                /* pipe full: a signal is already pending, nothing to add */
        }
        errno = saved;
}

static const int hv_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

struct sig_guard {
        int pipe[2];
        struct sigaction old[ELEMENTSOF(hv_sigs)];
        bool installed;
};

static int sig_guard_install(struct sig_guard *g, struct xerr *e)
{
        if (pipe2(g->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return xerr_set_errno(e, -errno, "signals", "cannot create a pipe");
        hv_sig_fd = g->pipe[1];
        for (size_t i = 0; i < ELEMENTSOF(hv_sigs); i++) {
                struct sigaction sa = { .sa_handler = hv_on_signal };
                sigemptyset(&sa.sa_mask);
                sigaction(hv_sigs[i], &sa, &g->old[i]);
        }
        g->installed = true;
        return 0;
}

static void sig_guard_remove(struct sig_guard *g)
{
        if (!g->installed)
                return;
        for (size_t i = 0; i < ELEMENTSOF(hv_sigs); i++)
                sigaction(hv_sigs[i], &g->old[i], NULL);
        hv_sig_fd = -1;
        close(g->pipe[0]);
        close(g->pipe[1]);
        g->installed = false;
}

/* ---- console ---------------------------------------------------------------- */

struct tailbuf {
        char buf[8192];
        size_t len;
};

static void tail_add(struct tailbuf *t, const char *p, size_t n)
{
        if (n >= sizeof(t->buf)) {
                p += n - sizeof(t->buf);
                n = sizeof(t->buf);
        }
        if (t->len + n > sizeof(t->buf)) {
                size_t drop = t->len + n - sizeof(t->buf);
                memmove(t->buf, t->buf + drop, t->len - drop);
                t->len -= drop;
        }
        memcpy(t->buf + t->len, p, n);
        t->len += n;
}

/* The last `want` non-empty lines of t, escape sequences and control
 * characters removed, each indented, into out. */
static void tail_lines(const struct tailbuf *t, unsigned want, char *out, size_t size)
{
        char clean[sizeof(t->buf)];
        size_t n = 0, start, o = 0;
        unsigned lines = 0;

        for (size_t i = 0; i < t->len; i++) {
                unsigned char c = (unsigned char) t->buf[i];
                if (c == 0x1b) {        /* CSI ... final byte, or ESC x */
                        if (i + 1 < t->len && t->buf[i + 1] == '[') {
                                i += 2;
                                while (i < t->len && !((t->buf[i] >= '@' && t->buf[i] <= '~')))
                                        i++;
                        } else {
                                i++;
                        }
                        continue;
                }
                if (c == '\n' || (c >= 32 && c < 127))
                        clean[n++] = (char) c;
        }
        start = n;
        while (start > 0) {
                size_t s = start - 1;
                while (s > 0 && clean[s - 1] != '\n')
                        s--;
                if (start - s > 1 || (start - s == 1 && clean[s] != '\n'))
                        if (++lines > want)
                                break;
                start = s;
        }
        out[0] = '\0';
        for (size_t i = start; i < n && o + 8 < size;) {
                size_t e = i;
                while (e < n && clean[e] != '\n')
                        e++;
                if (e > i) {
                        int w = snprintf(out + o, size - o, "\n  %.*s", (int) (e - i), clean + i);
                        if (w < 0)
                                break;
                        o += (size_t) w;
                        if (o >= size) {
                                out[size - 1] = '\0';
                                break;
                        }
                }
                i = e + 1;
        }
}

struct console {
        const char *marker;
        size_t marker_len;
        char *carry;            /* last marker_len - 1 bytes seen */
        size_t carry_len;
        bool seen;
        bool copy;
        bool secure_boot;       /* Secure Boot firmware: look for a refusal */
        const char *refusal;    /* hv_secure_boot_refusal() seen on the console */
        struct tailbuf tail;
        /* interactive (console.c): the guest on guest_fd, keys from in_fd */
        int guest_fd, in_fd;
        int *guest_peer;        /* QEMU's end: closed here once QEMU has it */
};

static void console_feed(struct console *c, char *p, size_t n)
{
        size_t m = 0;

        if (c->guest_fd > STDERR_FILENO) {      /* a raw terminal: bytes as they are */
                (void) xova_write_all(STDOUT_FILENO, p, n);
                tail_add(&c->tail, p, n);
                return;
        }
        for (size_t i = 0; i < n; i++)  /* strip CR: guests write CRLF */
                if (p[i] != '\r')
                        p[m++] = p[i];
        n = m;
        if (n == 0)
                return;
        if (c->copy)
                (void) xova_write_all(STDOUT_FILENO, p, n);
        tail_add(&c->tail, p, n);
        c->refusal = c->refusal ?: c->secure_boot ? hv_secure_boot_refusal(c->tail.buf, c->tail.len) : NULL;
        if (!c->marker || c->seen)
                return;
        /* search carry + p without copying p: check the seam, then p itself */
        if (c->carry_len > 0) {
                char seam[2 * 256];
                size_t k = n < c->marker_len - 1 ? n : c->marker_len - 1;
                memcpy(seam, c->carry, c->carry_len);
                memcpy(seam + c->carry_len, p, k);
                if (memmem(seam, c->carry_len + k, c->marker, c->marker_len))
                        c->seen = true;
        }
        if (memmem(p, n, c->marker, c->marker_len))
                c->seen = true;
        if (c->marker_len > 1) {
                size_t keep = c->marker_len - 1;
                if (n >= keep) {
                        memcpy(c->carry, p + n - keep, keep);
                        c->carry_len = keep;
                } else {
                        size_t total = c->carry_len + n, drop = total > keep ? total - keep : 0;
                        memmove(c->carry, c->carry + drop, c->carry_len - drop);
                        memcpy(c->carry + c->carry_len - drop, p, n);
                        c->carry_len = total - drop;
                }
        }
}

/* ---- one QEMU run ------------------------------------------------------------- */

enum run_result {
        RUN_MARKER,             /* marker seen, QEMU stopped */
        RUN_EXITED,             /* QEMU ended by itself */
        RUN_TIMEOUT,
        RUN_SIGNAL,
        RUN_KVM_ERROR,          /* KVM internal error reported while running */
        RUN_DETACHED,           /* Ctrl-] on the interactive console */
        RUN_SB_REFUSED,         /* Secure Boot refused a loader (console) */
};

struct run_state {
        int status;             /* wait status of QEMU */
        int signal;             /* the signal that stopped us */
        struct tailbuf err;     /* QEMU's stderr */
        uint64_t elapsed_ms;
};

static int run_qemu(const char *qemu, char **argv, const int *keep_fds, size_t n_keep,
                    const struct hv_run_opts *o, struct console *con, struct sig_guard *sg, bool kvm,
                    enum run_result *ret, struct run_state *st, struct xerr *e)
{
        int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, r;
        uint64_t start = hv_now_ms(), deadline = o->timeout ? start + (uint64_t) o->timeout * 1000 : 0;
        bool out_open = true, err_open = true, interactive = con->guest_fd > STDERR_FILENO;
        pid_t pid;

        if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                r = xerr_set_errno(e, -errno, qemu, "cannot create a pipe");
                goto fail;
        }
        /* interactive: the console is the socket; QEMU's stdout goes nowhere */
        r = hv_spawn(qemu, argv, interactive ? -1 : outp[1], errp[1], keep_fds, n_keep, &pid, e);
        close(outp[1]);
        close(errp[1]);
        outp[1] = errp[1] = -1;
        if (con->guest_peer && *con->guest_peer >= 0) {
                /* else QEMU's exit would never show as EOF on our end */
                close(*con->guest_peer);
                *con->guest_peer = -1;
        }
        if (r < 0)
                goto fail;

        for (;;) {
                struct pollfd p[4] = {
                        { .fd = out_open ? (interactive ? con->guest_fd : outp[0]) : -1, .events = POLLIN },
                        { .fd = err_open ? errp[0] : -1, .events = POLLIN },
                        { .fd = sg->pipe[0], .events = POLLIN },
                        { .fd = interactive && out_open ? con->in_fd : -1, .events = POLLIN },
                };
                int timeout = -1;
                uint64_t now = hv_now_ms();

                if (deadline) {
                        if (now >= deadline) {
                                *ret = RUN_TIMEOUT;
                                break;
                        }
                        timeout = (int) (deadline - now);
                }
                if (!out_open && !err_open) {
                        /* both pipes closed: QEMU is exiting; reap it (bounded) */
                        int status;
                        pid_t w = waitpid(pid, &status, WNOHANG);
                        if (w == pid) {
                                st->status = status;
                                pid = -1;
                                *ret = RUN_EXITED;
                                break;
                        }
                        timeout = timeout < 0 || timeout > 50 ? 50 : timeout;
                }
                int pr = poll(p, 4, timeout);
                if (pr < 0 && errno != EINTR) {
                        r = xerr_set_errno(e, -errno, qemu, "poll");
                        hv_child_stop(pid, STOP_GRACE_MS);
                        goto fail;
                }
                if (pr <= 0)
                        continue;
                if (p[2].revents & POLLIN) {
                        unsigned char c = 0;
                        if (read(sg->pipe[0], &c, 1) == 1) {
                                st->signal = c;
                                *ret = RUN_SIGNAL;
                                break;
                        }
                }
                if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char buf[1024];
                        bool esc = false;
                        ssize_t k = read(con->in_fd, buf, sizeof(buf)), fwd;
                        if (k > 0) {
                                fwd = hv_console_input(buf, (size_t) k, &esc);
                                if (fwd > 0)
                                        (void) xova_write_all(con->guest_fd, buf, (size_t) fwd);
                                if (esc) {
                                        *ret = RUN_DETACHED;
                                        break;
                                }
                        } else if (k == 0 || errno != EINTR) {
                                con->in_fd = -1;        /* terminal gone: only the guest's end counts */
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char buf[4096];
                        ssize_t k = read(interactive ? con->guest_fd : outp[0], buf, sizeof(buf));
                        if (k > 0) {
                                console_feed(con, buf, (size_t) k);
                                if (con->seen || con->refusal) {
                                        *ret = con->seen ? RUN_MARKER : RUN_SB_REFUSED;
                                        break;
                                }
                        } else if (k == 0 || errno != EINTR) {
                                out_open = false;
                        }
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char buf[2048];
                        ssize_t k = read(errp[0], buf, sizeof(buf));
                        if (k > 0) {
                                tail_add(&st->err, buf, (size_t) k);
                                /* on a KVM internal error QEMU pauses the guest and
                                 * waits forever: treat it as the end */
                                if (kvm && memmem(st->err.buf, st->err.len, "KVM internal error", 18)) {
                                        *ret = RUN_KVM_ERROR;
                                        break;
                                }
                        } else if (k == 0 || errno != EINTR) {
                                err_open = false;
                        }
                }
        }
        if (pid > 0)
                st->status = hv_child_stop(pid, STOP_GRACE_MS);
        st->elapsed_ms = hv_now_ms() - start;
        r = 0;
fail:
        for (int i = 0; i < 2; i++) {
                if (outp[i] >= 0)
                        close(outp[i]);
                if (errp[i] >= 0)
                        close(errp[i]);
        }
        return r;
}

#define note(o, ...) xova_note((o)->note, (o)->userdata, __VA_ARGS__)

/* The first stderr line that says "error", else the last one. */
static void err_line(const struct tailbuf *t, char *out, size_t size)
{
        char lines[1024];
        const char *best = NULL, *p;

        tail_lines(t, 6, lines, sizeof(lines));
        for (p = lines; (p = strstr(p, "\n  ")); p += 3)
                if (!best && strcasestr(p, "error"))
                        best = p;
        if (!best) {
                best = strrchr(lines, '\n');
                best = best ? best : lines;
        }
        best += strspn(best, "\n ");
        snprintf(out, size, "%.*s", (int) strcspn(best, "\n"), best);
}

static bool kvm_failure(const struct run_state *st)
{
        if (WIFEXITED(st->status) && WEXITSTATUS(st->status) == 0)
                return false;
        return memmem(st->err.buf, st->err.len, "kvm", 3) || memmem(st->err.buf, st->err.len, "KVM", 3);
}

static int make_run_dir(bool keep, char **ret, struct xerr *e)
{
        const char *tmp = getenv("TMPDIR");
        char *p = NULL;

        if (!keep)
                return xova_workdir_new(NULL, ret, e);
        /* kept: not registered for removal at exit */
        if (asprintf(&p, "%s/xova-run.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
                return xerr_set(e, -ENOMEM, "run", "out of memory");
        if (!mkdtemp(p)) {
                int r = xerr_set_errno(e, -errno, p, "cannot create the run directory");
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

/* Fresh vars and overlays: also used again after a failed KVM attempt,
 * which may have written to both. All of them live in the run directory, a
 * fresh 0700 directory only we can write: qemu-img creates the overlays by
 * path there, and nothing in it can be a planted symlink. */
static int prepare_disks(const struct hv_firmware *fw, const struct hv_disk *disks, size_t n,
                         const char *vars, char **overlays, struct xerr *e)
{
        _cleanup_free_ struct hv_overlay *v = calloc(n ? n : 1, sizeof(*v));
        int r;

        if (!v)
                return xerr_set(e, -ENOMEM, "run", "out of memory");
        if (fw->nvram_template) {
                unlink(vars);
                r = hv_vars_copy(fw->nvram_template, vars, e);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                v[i] = (struct hv_overlay) { .id = disks[i].id, .path = overlays[i], .fd = -1 };
                r = hv_disk_capacity(&disks[i], &v[i].capacity, e);
                if (r < 0)
                        return r;
                unlink(overlays[i]);
        }
        /* the backing is given to QEMU in the -blockdev JSON, not recorded */
        return hv_overlays_create(v, n, e);
}

/* What one finished run means for the caller: 0, or the error naming why. */
static int run_outcome(const struct xova_arch *arch, const struct hv_run_opts *o, enum run_result res,
                       const struct run_state *st, const struct console *con, struct xerr *e)
{
        char line[200], sbuf[80];
        int r = 0;

        switch (res) {
        case RUN_MARKER:
                xova_debug("marker seen after %" PRIu64 " ms", st->elapsed_ms);
                r = 0;
                break;
        case RUN_DETACHED:
                r = 0;
                break;
        case RUN_SB_REFUSED:
                tail_lines(&con->tail, 1, line, sizeof(line));
                r = hv_secure_boot_refused(arch, con->refusal, line, e);
                break;
        case RUN_SIGNAL:
                r = xerr_set(e, -EINTR, arch->name, "interrupted by signal %d (%s); guest stopped",
                             st->signal, strsignal(st->signal));
                break;
        case RUN_TIMEOUT: {
                char lines[400];
                tail_lines(&con->tail, 10, lines, sizeof(lines));
                if (o->expect)
                        r = xerr_set(e, -XOVA_ETIMEOUT, arch->name,
                                     "marker '%s' not seen within %u s; last console lines:%s",
                                     o->expect, o->timeout, lines[0] ? lines : " (none)");
                else
                        r = xerr_set(e, -XOVA_ETIMEOUT, arch->name, "guest still running after %u s; stopped",
                                     o->timeout);
                break;
        }
        case RUN_KVM_ERROR:
        case RUN_EXITED: {
                char lines[300];
                bool ok = res == RUN_EXITED && WIFEXITED(st->status) && WEXITSTATUS(st->status) == 0;
                if (ok && !o->expect) {
                        r = 0;
                        break;
                }
                err_line(&st->err, line, sizeof(line));
                tail_lines(&con->tail, 5, lines, sizeof(lines));
                if (ok)
                        r = xerr_set(e, -EIO, arch->name, "guest stopped before printing '%s'; last console lines:%s",
                                     o->expect, lines[0] ? lines : " (none)");
                else
                        r = xerr_set(e, -EIO, arch->name, "%s %s%s%s", arch->qemu_binary,
                                     res == RUN_KVM_ERROR ? "reported a KVM internal error" :
                                     hv_status_str(st->status, sbuf, sizeof(sbuf)),
                                     line[0] ? ": " : "", line);
                break;
        }
        }
        return r;
}

/* Where the guest writes: the kept state of --state DIR (state.c: locked,
 * its files inherited by QEMU), or a fresh run directory. */
static int run_files(const struct hv_run_opts *o, const struct hv_firmware *fw, const struct hv_disk *disks,
                     size_t n_disks, char **ret_dir, char **overlays, char **ret_vars, struct hv_state **ret_state,
                     int *keep_fds, size_t *n_keep, struct xerr *e)
{
        int r;

        if (o->state_dir) {
                size_t n_state;
                const int *state_fds;
                r = hv_state_open(o->state_dir, o->state_id, o->state_reset, fw, disks, n_disks, ret_state,
                                  overlays, ret_vars, e);
                if (r < 0)
                        return r;
                note(o, "state in %s (%s)", o->state_dir, r > 0 ? "new" : "reused");
                state_fds = hv_state_fds(*ret_state, &n_state);
                for (size_t i = 0; i < n_state; i++)
                        keep_fds[(*n_keep)++] = state_fds[i];
                return 0;
        }
        r = make_run_dir(o->keep, ret_dir, e);
        if (r < 0)
                return r;
        if (o->keep)
                note(o, "run directory: %s", *ret_dir);
        *ret_vars = xova_path_join(*ret_dir, "efi-vars.fd");
        if (!*ret_vars)
                return xerr_set(e, -ENOMEM, "run", "out of memory");
        for (size_t i = 0; i < n_disks; i++)
                if (asprintf(&overlays[i], "%s/disk%zu.qcow2", *ret_dir, i) < 0) {
                        overlays[i] = NULL;
                        return xerr_set(e, -ENOMEM, "run", "out of memory");
                }
        return prepare_disks(fw, disks, n_disks, *ret_vars, overlays, e);
}

/* --forward: the definition has a NIC and every host port is free now. */
static int forwards_ready(const struct ovf_vm *vm, const struct hv_run_opts *o, struct xerr *e)
{
        int r;

        if (o->n_forwards && !(vm->nic_model && *vm->nic_model))
                return xerr_set(e, -EINVAL, vm->arch->name, "--forward needs a network adapter, and the VM "
                                "definition has none");
        r = hv_forward_check(o->forwards, o->n_forwards, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->n_forwards; i++)
                note(o, "forwarding host %s:%u to the guest's TCP port %u", o->forwards[i].addr,
                     o->forwards[i].host_port, o->forwards[i].guest_port);
        return 0;
}

int hv_run_vm(const struct ovf_vm *vm, const struct hv_disk *disks, size_t n_disks,
              const struct hv_run_opts *o, struct xerr *e)
{
        const struct xova_arch *arch = vm->arch;
        const char *machine = vm->machine && *vm->machine ? vm->machine : arch->qemu_machine;
        _cleanup_free_ char *dir = NULL, *vars = NULL, *qemu = NULL, *marker_carry = NULL;
        _cleanup_free_ int *keep_fds = NULL;
        size_t n_keep = 0;
        _cleanup_(hv_argv_freep) char **argv = NULL;
        struct hv_firmware *fw = NULL;
        char **overlays = NULL;
        struct hv_host host = { 0 };
        struct sig_guard sg = { .pipe = { -1, -1 } };
        struct console con = { .guest_fd = -1, .in_fd = -1 };
        struct hv_state *state = NULL;
        struct hv_tty tty = { .fd = -1 };
        int con_pair[2] = { -1, -1 };
        struct run_state st;
        enum hv_accel accel;
        enum run_result res = RUN_EXITED;
        char note_buf[320], line[200];
        bool auto_kvm;
        int r;

        if (!arch)
                return xerr_set(e, -EINVAL, "run", "VM definition without an architecture");
        if (!hv_machine_name_valid(machine))
                return xerr_set(e, -EINVAL, arch->name, "invalid machine type '%s'", machine);
        if (n_disks == 0)
                return xerr_set(e, -EINVAL, arch->name, "the VM definition has no disks");
        /* the disks, the state files (overlays, vars), the console socket */
        keep_fds = calloc(2 * n_disks + 2, sizeof(int));
        if (!keep_fds)
                return xerr_set(e, -ENOMEM, arch->name, "out of memory");
        for (size_t i = 0; i < n_disks; i++) {
                if (disks[i].fd >= 0 && disks[i].fd <= STDERR_FILENO)
                        return xerr_set(e, -EBADF, disks[i].id ?: disks[i].file, "disk without a valid fd");
                if (disks[i].fd >= 0)   /* QEMU opens it as /proc/self/fd/N */
                        keep_fds[n_keep++] = disks[i].fd;
        }
        if (o->expect && (strlen(o->expect) == 0 || strlen(o->expect) > 255))
                return xerr_set(e, -EINVAL, "--expect", "the marker must be 1 to 255 bytes");
        r = xova_find_tool(arch->qemu_binary, arch->qemu_package,
                           &qemu, e);
        if (r < 0)
                return r;

        /* probing costs a QEMU start; only worth it when KVM could be picked */
        hv_host_detect(o->accel == HV_ACCEL_AUTO && xova_arch_host() == arch, &host, e);
        r = hv_accel_choose(o->accel, arch, &host, &accel, note_buf, sizeof(note_buf), e);
        if (r < 0)
                return r;
        if (note_buf[0])
                note(o, "%s", note_buf);
        auto_kvm = o->accel == HV_ACCEL_AUTO && accel == HV_ACCEL_KVM;

        r = forwards_ready(vm, o, e);
        if (r < 0)
                return r;

        r = hv_run_firmware(vm, machine, o, &fw, e);
        if (r < 0)
                return r;
        con.secure_boot = fw->secure_boot;
        overlays = calloc(n_disks + 1, sizeof(char *));
        if (!overlays) {
                r = xerr_set(e, -ENOMEM, "run", "out of memory");
                goto out;
        }
        r = run_files(o, fw, disks, n_disks, &dir, overlays, &vars, &state, keep_fds, &n_keep, e);
        if (r < 0)
                goto out;
        xova_debug("firmware vars and %zu overlays ready", n_disks);

        if (o->expect) {
                con.marker = o->expect;
                con.marker_len = strlen(o->expect);
                con.carry = marker_carry = malloc(con.marker_len);
                if (!marker_carry) {
                        r = xerr_set(e, -ENOMEM, "run", "out of memory");
                        goto out;
                }
        }
        con.copy = o->console;
        r = sig_guard_install(&sg, e);
        if (r < 0)
                goto out;

        for (int attempt = 0;; attempt++) {
                struct hv_qemu_config c = {
                        .arch = arch, .accel = accel, .qemu = qemu, .machine = machine,
                        .vcpus = vm->vcpus, .memory_mib = vm->memory_mib ? vm->memory_mib : 512,
                        .fw = fw, .fw_vars = fw->nvram_template ? vars : NULL,
                        .disks = disks, .overlays = (const char *const *) overlays, .n_disks = n_disks,
                        .nic = vm->nic_model && *vm->nic_model,
                        .forwards = o->forwards, .n_forwards = o->n_forwards,
                };
                if (o->interactive) {   /* a fresh socket for each QEMU */
                        r = hv_console_begin(o, arch->name, &tty, con_pair, e);
                        if (r < 0)
                                goto out;
                        c.console_fd = con_pair[1];
                        keep_fds[n_keep] = con_pair[1];
                        con.guest_fd = con_pair[0];
                        con.guest_peer = &con_pair[1];
                        con.in_fd = STDIN_FILENO;
                }
                argv = hv_argv_free(argv);
                r = hv_qemu_argv(&c, &argv, e);
                if (r < 0)
                        goto out;
                if (getenv("XOVA_DEBUG"))
                        for (char **a = argv; *a; a++)
                                xova_debug("qemu argv: %s", *a);
                memset(&st, 0, sizeof(st));
                r = run_qemu(qemu, argv, keep_fds, n_keep + (o->interactive ? 1 : 0), o, &con, &sg,
                             accel == HV_ACCEL_KVM, &res, &st, e);
                hv_console_end(&tty, con_pair);
                con.guest_fd = -1;
                if (r < 0)
                        goto out;
                if (attempt == 0 && auto_kvm && res != RUN_MARKER && res != RUN_SIGNAL &&
                    (res == RUN_KVM_ERROR || (res == RUN_EXITED && kvm_failure(&st)))) {
                        err_line(&st.err, line, sizeof(line));
                        note(o, "KVM failed (%s); retrying once with TCG", line);
                        accel = HV_ACCEL_TCG;
                        con.seen = false;
                        con.carry_len = 0;
                        /* kept state stays: a guest KVM failed early has not changed it */
                        r = state ? 0 : prepare_disks(fw, disks, n_disks, vars, overlays, e);
                        if (r < 0)
                                goto out;
                        continue;
                }
                break;
        }

        r = run_outcome(arch, o, res, &st, &con, e);
out:
        hv_console_end(&tty, con_pair);
        sig_guard_remove(&sg);
        hv_state_free(state);
        if (overlays) {
                for (size_t i = 0; i < n_disks; i++)
                        free(overlays[i]);
                free(overlays);
        }
        if (dir && !o->keep)
                xova_workdir_remove(dir);
        hv_firmware_free(fw);
        return r;
}

/* ---- bundles -------------------------------------------------------------------- */

int hv_bundle_vm(const char *bundle, const char *arch_name, const char *ca_file,
                 struct ovf_bundle **ret_bundle, const struct ovf_vm **ret_vm,
                 struct hv_disk **ret_disks, struct xerr *e)
{
        struct ovf_open_opts oo = { .ca_file = ca_file, .require_signature = ca_file != NULL };
        _cleanup_(hv_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_free_ struct hv_disk *disks = NULL;
        const struct ovf_descriptor *d;
        const struct ovf_vm *vm = NULL;
        const struct xova_arch *arch;
        char have[128] = "";
        int r;

        if (arch_name) {
                arch = xova_arch_by_name(arch_name);
                if (!arch) {
                        char names[128];
                        return xerr_set(e, -EINVAL, arch_name, "unknown architecture (known: %s)",
                                        xova_arch_names(names, sizeof(names), "", ", "));
                }
        } else {
                arch = xova_arch_host();
                if (!arch)
                        return xerr_set(e, -ENOTSUP, "host", "host architecture is not supported; pass --arch");
        }
        /* verify first: nothing of a refused bundle reaches QEMU */
        r = ovf_bundle_open(bundle, &oo, &b, e);
        if (r < 0)
                return r;
        d = ovf_bundle_descriptor(b);
        for (size_t i = 0; i < d->n_vms; i++) {
                if (d->vms[i].arch == arch)
                        vm = &d->vms[i];
                if (d->vms[i].arch && strlen(have) + 16 < sizeof(have))
                        snprintf(have + strlen(have), sizeof(have) - strlen(have), "%s%s",
                                 have[0] ? ", " : "", d->vms[i].arch->name);
        }
        if (!vm)
                return xerr_set(e, -ENOENT, bundle, "no VM definition for %s (the bundle has: %s)%s", arch->name,
                                have[0] ? have : "none",
                                arch_name ? "" : "; pass --arch to emulate one with TCG");
        disks = calloc(vm->n_disks ? vm->n_disks : 1, sizeof(*disks));
        if (!disks)
                return xerr_set(e, -ENOMEM, bundle, "out of memory");
        for (size_t i = 0; i < vm->n_disks; i++) {
                const struct ovf_disk *od;
                const char *file;
                if (vm->disks[i] >= d->n_disks)
                        return xerr_set(e, -EINVAL, bundle, "VM %s: disk index %zu out of range", arch->name,
                                        vm->disks[i]);
                od = &d->disks[vm->disks[i]];
                r = ovf_bundle_disk_location(b, vm->disks[i], &file, &disks[i].offset, &disks[i].size, e);
                if (r < 0)
                        return r;
                disks[i].id = od->id;
                disks[i].file = file;
                /* QEMU reads the verified descriptor, never the path */
                disks[i].fd = ovf_bundle_disk_fd(b, vm->disks[i]);
                if (disks[i].fd <= STDERR_FILENO)
                        return xerr_set(e, -EBADF, od->id, "no verified open file for the disk");
                disks[i].format = od->format;
                disks[i].capacity = od->capacity;
        }
        *ret_vm = vm;
        *ret_disks = TAKE_PTR(disks);
        *ret_bundle = TAKE_PTR(b);
        return 0;
}

int hv_run(const char *bundle, const struct hv_run_opts *o, struct xerr *e)
{
        _cleanup_(hv_bundle_freep) struct ovf_bundle *b = NULL;
        _cleanup_free_ struct hv_disk *disks = NULL;
        const struct ovf_vm *vm;
        int r;

        xova_debug("verifying '%s'", bundle);
        r = hv_bundle_vm(bundle, o->arch, o->ca_file, &b, &vm, &disks, e);
        if (r < 0)
                return r;
        xova_debug("bundle verified, VM definition %s", vm->arch->name);
        if (o->state_dir) {
                _cleanup_free_ char *id = NULL;
                struct hv_run_opts so = *o;
                r = hv_state_identity(bundle, b, vm->arch, &id, e);
                if (r < 0)
                        return r;
                so.state_id = id;
                return hv_run_vm(vm, disks, vm->n_disks, &so, e);
        }
        /* no realpath: QEMU opens each disk's verified fd (blockdev.c), so a
         * file renamed over the bundle's path now is never read */
        return hv_run_vm(vm, disks, vm->n_disks, o, e);
}
