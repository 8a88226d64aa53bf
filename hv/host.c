/* SPDX-License-Identifier: MIT */
/*
 * Host detection and the accelerator decision.
 *
 * "/dev/kvm exists" is not "KVM works": on this project's CI host QEMU
 * aborts at once with -cpu host ("failed to set MSR 0x10a") and OVMF dies
 * with "KVM internal error". So KVM counts as usable only when a real QEMU,
 * with the accelerator and CPU model a real run would use, boots a tiny
 * guest that powers itself off, bounded in time. The probe costs ~0.1 s.
 */
#include "config.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

#include "hv/hv-internal.h"

const char *hv_accel_name(enum hv_accel a)
{
        switch (a) {
        case HV_ACCEL_AUTO: return "auto";
        case HV_ACCEL_KVM: return "kvm";
        case HV_ACCEL_TCG: return "tcg";
        }
        return "?";
}

int hv_accel_from_name(const char *s, enum hv_accel *ret)
{
        static const enum hv_accel all[] = { HV_ACCEL_AUTO, HV_ACCEL_KVM, HV_ACCEL_TCG };

        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                if (s && strcmp(s, hv_accel_name(all[i])) == 0) {
                        *ret = all[i];
                        return 0;
                }
        return -EINVAL;
}

uint64_t hv_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

const char *hv_status_str(int status, char *buf, size_t size)
{
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else
                snprintf(buf, size, "ended with wait status 0x%x", (unsigned) status);
        return buf;
}

int hv_spawn(const char *path, char *const argv[], int out_fd, int err_fd, const int *keep_fds,
             size_t n_keep_fds, pid_t *ret_pid, struct xerr *e)
{
        struct xova_spawn_opts o = { .stdout_fd = out_fd, .stderr_fd = err_fd, .keep_fds = keep_fds,
                                     .n_keep_fds = n_keep_fds, .pdeathsig = true, .own_pgrp = true };

        return xova_spawn(path, argv, &o, ret_pid, e);
}

static int wait_ms(pid_t pid, int *status, uint64_t deadline)
{
        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);
                if (r == pid)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (hv_now_ms() >= deadline)
                        return -ETIMEDOUT;
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
}

int hv_child_stop(pid_t pid, unsigned grace_ms)
{
        int status = 0;

        if (pid <= 0)
                return 0;
        if (waitpid(pid, &status, WNOHANG) == pid)
                goto group;
        kill(pid, SIGTERM);             /* QEMU exits cleanly on SIGTERM */
        if (wait_ms(pid, &status, hv_now_ms() + grace_ms) == 0)
                goto group;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
group:
        /* anything QEMU itself started (helpers) goes with it */
        kill(-pid, SIGKILL);
        return status;
}

/* Tiny guests. x86_64: at the reset vector (last 16 bytes of a 64 KiB
 * -bios image) "finit; mov al,0x31; out 0xf4,al" hits isa-debug-exit, QEMU
 * exits with (0x31 << 1) | 1 = 99. The x87 "finit" (fwait + fninit) is there
 * because some nested hosts run real mode through KVM's instruction emulator
 * (no unrestricted guest), which cannot emulate it: there a guest of plain
 * mov/out passes while every firmware dies with "KVM internal error.
 * Suberror: 1" at its first fwait. aarch64 virt: the image is mapped at 0
 * and run from there; "movz/movk w0,0x84000008; hvc #0" is PSCI SYSTEM_OFF,
 * QEMU exits 0. Anything else (abort, KVM internal error, a hang) is a
 * failure. */
static const uint8_t probe_x86[] = { 0x9b, 0xdb, 0xe3, 0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd };
static const uint8_t probe_arm64[] = {
        0x00, 0x01, 0x80, 0x52,         /* movz w0, #0x0008 */
        0x00, 0x80, 0xb0, 0x72,         /* movk w0, #0x8400, lsl #16 */
        0x02, 0x00, 0x00, 0xd4,         /* hvc #0 */
        0x00, 0x00, 0x00, 0x14,         /* b . */
};

static void last_line(const char *buf, size_t len, char *out, size_t size)
{
        size_t end = len, start;

        while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
                end--;
        start = end;
        while (start > 0 && buf[start - 1] != '\n')
                start--;
        snprintf(out, size, "%.*s", (int) (end - start), buf + start);
}

/* The first line of QEMU's stderr that says "error" is the cause (assertion
 * lines follow it); else its last line. */
static void cause_line(const char *buf, size_t len, char *out, size_t size)
{
        out[0] = '\0';
        for (const char *l = buf, *end = buf + len; l < end;) {
                const char *nl = memchr(l, '\n', (size_t) (end - l));
                size_t ll = nl ? (size_t) (nl - l) : (size_t) (end - l);
                if (memmem(l, ll, "rror", 4)) {
                        snprintf(out, size, "%.*s", (int) ll, l);
                        return;
                }
                l += ll + 1;
        }
        last_line(buf, len, out, size);
}


int hv_probe_qemu(const struct xova_arch *arch, enum hv_accel accel, unsigned timeout_ms,
                  char *reason, size_t reason_size)
{
        _cleanup_free_ char *qemu = NULL, *dir = NULL, *fw = NULL;
        _cleanup_close_ int fd = -1, err_r = -1;
        int err_pipe[2], status = 0, r, want_exit;
        bool is_x86 = strcmp(arch->name, "x86_64") == 0;
        char errbuf[2048], line[200], st[80];
        size_t errlen = 0;
        struct xerr e = { 0 };
        pid_t pid;
        uint64_t deadline;

        r = xova_find_tool(arch->qemu_binary, NULL, &qemu, &e);
        if (r < 0) {
                snprintf(reason, reason_size, "%s not found", arch->qemu_binary);
                return r;
        }
        r = xova_workdir_new(NULL, &dir, &e);
        if (r < 0) {
                snprintf(reason, reason_size, "%s", e.msg);
                return r;
        }
        fw = xova_path_join(dir, "probe.bin");
        if (!fw) {
                r = -ENOMEM;
                goto out;
        }
        fd = open(fw, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
                snprintf(reason, reason_size, "cannot write the probe firmware: %s", strerror(-r));
                goto out;
        }
        if (is_x86)
                r = xova_pwrite_all(fd, probe_x86, sizeof(probe_x86), 0xfff0);
        else
                r = xova_pwrite_all(fd, probe_arm64, sizeof(probe_arm64), 0);
        if (r >= 0 && ftruncate(fd, 65536) < 0)
                r = -errno;
        if (r < 0) {
                snprintf(reason, reason_size, "cannot write the probe firmware: %s", strerror(-r));
                goto out;
        }

        const char *argv[32];
        size_t n = 0;
        char machine[64];
        snprintf(machine, sizeof(machine), "%s,accel=%s", arch->qemu_machine, hv_accel_name(accel));
        argv[n++] = arch->qemu_binary;
        argv[n++] = "-machine";
        argv[n++] = machine;
        argv[n++] = "-cpu";
        argv[n++] = accel == HV_ACCEL_KVM ? "host" : "max";
        argv[n++] = "-m";
        argv[n++] = "16";
        argv[n++] = "-nodefaults";
        argv[n++] = "-no-user-config";
        argv[n++] = "-display";
        argv[n++] = "none";
        argv[n++] = "-no-reboot";
        argv[n++] = "-bios";
        argv[n++] = fw;
        if (is_x86) {
                argv[n++] = "-device";
                argv[n++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
        }
        argv[n] = NULL;
        want_exit = is_x86 ? 99 : 0;

        if (pipe2(err_pipe, O_CLOEXEC) < 0) {
                r = -errno;
                snprintf(reason, reason_size, "pipe: %s", strerror(-r));
                goto out;
        }
        r = hv_spawn(qemu, (char *const *) argv, -1, err_pipe[1], NULL, 0, &pid, &e);
        close(err_pipe[1]);
        err_r = err_pipe[0];
        if (r < 0) {
                snprintf(reason, reason_size, "%s", e.msg);
                goto out;
        }
        deadline = hv_now_ms() + timeout_ms;
        for (;;) {
                uint64_t now = hv_now_ms();
                struct pollfd p = { .fd = err_r, .events = POLLIN };
                if (now >= deadline) {
                        hv_child_stop(pid, 500);
                        snprintf(reason, reason_size, "%s -accel %s did not finish a trivial guest in %u ms",
                                 arch->qemu_binary, hv_accel_name(accel), timeout_ms);
                        r = -ETIMEDOUT;
                        goto out;
                }
                int pr = poll(&p, 1, (int) (deadline - now));
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr <= 0)
                        continue;
                char tmp[512];
                ssize_t k = read(err_r, tmp, sizeof(tmp));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;          /* EOF: QEMU is exiting */
                for (ssize_t i = 0; i < k; i++) {
                        if (errlen == sizeof(errbuf)) {
                                memmove(errbuf, errbuf + 1024, sizeof(errbuf) - 1024);
                                errlen -= 1024;
                        }
                        errbuf[errlen++] = tmp[i];
                }
                /* QEMU pauses the guest on a KVM internal error and waits
                 * forever: that is the answer, no need to wait for the bound */
                if (memmem(errbuf, errlen, "KVM internal error", 18)) {
                        status = hv_child_stop(pid, 500);
                        snprintf(reason, reason_size, "probe guest under %s -accel %s: KVM internal error",
                                 arch->qemu_binary, hv_accel_name(accel));
                        r = -EIO;
                        goto out;
                }
        }
        r = wait_ms(pid, &status, deadline + 1000);
        if (r < 0) {
                status = hv_child_stop(pid, 500);
                snprintf(reason, reason_size, "%s -accel %s hung after closing stderr",
                         arch->qemu_binary, hv_accel_name(accel));
                r = -ETIMEDOUT;
                goto out;
        }
        kill(-pid, SIGKILL);
        if (WIFEXITED(status) && WEXITSTATUS(status) == want_exit) {
                r = 0;
                goto out;
        }
        cause_line(errbuf, errlen, line, sizeof(line));
        snprintf(reason, reason_size, "probe guest under %s -accel %s %s%s%s", arch->qemu_binary,
                 hv_accel_name(accel), hv_status_str(status, st, sizeof(st)), line[0] ? ": " : "",
                 line);
        r = -EIO;
out:
        xova_workdir_remove(dir);
        return r;
}

int hv_host_detect(bool probe_kvm, struct hv_host *ret, struct xerr *e)
{
        struct hv_host h = { .arch = xova_arch_host() };
        _cleanup_close_ int fd = -1;
        int v;

        (void) e;
        if (!h.arch) {
                snprintf(h.kvm_reason, sizeof(h.kvm_reason), "host architecture is not supported by xova");
                goto done;
        }
        if (!probe_kvm) {
                snprintf(h.kvm_reason, sizeof(h.kvm_reason), "not probed");
                goto done;
        }
        fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                snprintf(h.kvm_reason, sizeof(h.kvm_reason), "cannot open /dev/kvm: %s", strerror(errno));
                goto done;
        }
        v = ioctl(fd, KVM_GET_API_VERSION, 0);
        if (v != KVM_API_VERSION) {
                snprintf(h.kvm_reason, sizeof(h.kvm_reason), "/dev/kvm: API version %d, want %d", v,
                         KVM_API_VERSION);
                goto done;
        }
        if (hv_probe_qemu(h.arch, HV_ACCEL_KVM, 10000, h.kvm_reason, sizeof(h.kvm_reason)) < 0)
                goto done;
        h.kvm_usable = true;
        h.kvm_reason[0] = '\0';
done:
        *ret = h;
        return 0;
}

int hv_accel_choose(enum hv_accel want, const struct xova_arch *guest, const struct hv_host *host,
                    enum hv_accel *ret, char *note, size_t note_size, struct xerr *e)
{
        bool native = host->arch && host->arch == guest;

        note[0] = '\0';
        switch (want) {
        case HV_ACCEL_TCG:
                *ret = HV_ACCEL_TCG;
                return 0;
        case HV_ACCEL_KVM:
                if (!native)
                        return xerr_set(e, -ENOTSUP, guest->name,
                                        "cannot use KVM for a %s guest on a %s host (try --accel tcg)",
                                        guest->name, host->arch ? host->arch->name : "unsupported");
                *ret = HV_ACCEL_KVM;
                return 0;
        case HV_ACCEL_AUTO:
                break;
        }
        if (!native)
                snprintf(note, note_size, "emulating %s with TCG (host is %s)", guest->name,
                         host->arch ? host->arch->name : "unsupported");
        else if (!host->kvm_usable)
                snprintf(note, note_size, "KVM unusable: %s; using TCG", host->kvm_reason);
        *ret = native && host->kvm_usable ? HV_ACCEL_KVM : HV_ACCEL_TCG;
        return 0;
}
