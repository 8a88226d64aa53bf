/* SPDX-License-Identifier: MIT */
/*
 * console.c - the interactive console of `xova run`: the host terminal in
 * raw mode, the guest's first serial port on a socketpair both ways (QEMU
 * `-chardev socket,fd=N`, N inherited), Ctrl-] to stop, and the terminal
 * restored on every way out.
 *
 * Why a socketpair and not QEMU's `-chardev stdio` on our tty: QEMU runs in
 * its own process group (a keyboard ^C must reach xova, not QEMU), and a
 * background process reading the terminal gets SIGTTIN; with stdio QEMU
 * would also change the terminal modes itself and restore them only when it
 * exits normally. On a socket QEMU never touches the terminal: xova alone
 * owns it, sets it raw once and restores it once.
 *
 * Restoring: hv_tty_restore() on the normal paths (Ctrl-], guest power
 * off, QEMU gone, errors), and hv_tty_restore_async() from the signal
 * handler of boot.c (SIGINT, SIGTERM, SIGHUP, SIGQUIT), before the guest is
 * even stopped: tcsetattr() is async-signal-safe. SIGKILL cannot be caught;
 * `stty sane` (or `reset`) then repairs the terminal.
 *
 * Window size: a serial port has no way to carry it (no TIOCSWINSZ reaches
 * the guest's ttyS0/ttyAMA0), so the banner tells the user the `stty rows
 * R cols C` to type in the guest; SIGWINCH is not followed.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "hv/hv-internal.h"

/* What the signal handler restores: a copy, set before raw mode is entered
 * and cleared (fd -1) once restored. */
static struct termios hv_tty_saved;
static volatile sig_atomic_t hv_tty_saved_fd = -1;

int hv_tty_raw(struct hv_tty *t, int fd, struct xerr *e)
{
        struct termios raw;

        t->fd = -1;
        if (tcgetattr(fd, &t->saved) < 0)
                return xerr_set_errno(e, -errno, "terminal", "cannot read the terminal modes");
        raw = t->saved;
        cfmakeraw(&raw);
        /* ISIG is off: ^C, ^Z and ^\ go to the guest; only Ctrl-] is ours */
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        hv_tty_saved = t->saved;
        hv_tty_saved_fd = fd;
        if (tcsetattr(fd, TCSAFLUSH, &raw) < 0) {
                hv_tty_saved_fd = -1;
                return xerr_set_errno(e, -errno, "terminal", "cannot switch the terminal to raw mode");
        }
        t->fd = fd;
        return 0;
}

void hv_tty_restore(struct hv_tty *t)
{
        if (t->fd < 0)
                return;
        hv_tty_saved_fd = -1;
        while (tcsetattr(t->fd, TCSAFLUSH, &t->saved) < 0 && errno == EINTR)
                ;
        t->fd = -1;
}

void hv_tty_restore_async(void)
{
        int fd = hv_tty_saved_fd;

        if (fd >= 0) {
                /* TCSANOW: a signal handler must not wait for output to drain */
                tcsetattr(fd, TCSANOW, &hv_tty_saved);
                hv_tty_saved_fd = -1;
        }
}

static void tty_size(int fd, unsigned *rows, unsigned *cols)
{
        struct winsize w = { 0 };

        *rows = *cols = 0;
        if (ioctl(fd, TIOCGWINSZ, &w) == 0) {
                *rows = w.ws_row;
                *cols = w.ws_col;
        }
}

static int console_pair(int ret_fds[2], struct xerr *e)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return xerr_set_errno(e, -errno, "console", "cannot create a socket pair");
        ret_fds[0] = sv[0];
        ret_fds[1] = sv[1];
        return 0;
}

ssize_t hv_console_input(const char *buf, size_t n, bool *ret_escape)
{
        const char *esc = memchr(buf, HV_CONSOLE_ESCAPE, n);

        *ret_escape = esc != NULL;
        return esc ? esc - buf : (ssize_t) n;
}

#define note(o, ...) xova_note((o)->note, (o)->userdata, __VA_ARGS__)

int hv_console_begin(const struct hv_run_opts *o, const char *arch, struct hv_tty *tty, int pair[2],
                     struct xerr *e)
{
        unsigned rows, cols;
        int r;

        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
                return xerr_set(e, -ENOTTY, "console", "an interactive console needs a terminal on stdin and stdout");
        r = console_pair(pair, e);
        if (r < 0)
                return r;
        tty_size(STDIN_FILENO, &rows, &cols);
        if (rows && cols)
                note(o, "connected to the %s console; Ctrl-] to stop (the guest does not learn the window "
                     "size: type 'stty rows %u cols %u' in it)", arch, rows, cols);
        else
                note(o, "connected to the %s console; Ctrl-] to stop", arch);
        return hv_tty_raw(tty, STDIN_FILENO, e);
}

void hv_console_end(struct hv_tty *tty, int pair[2])
{
        bool was_raw = tty->fd >= 0;

        hv_tty_restore(tty);
        if (was_raw)    /* the guest's last line may have no newline */
                (void) xova_write_all(STDOUT_FILENO, "\n", 1);
        for (int i = 0; i < 2; i++)
                if (pair[i] >= 0) {
                        close(pair[i]);
                        pair[i] = -1;
                }
}
