/* SPDX-License-Identifier: MIT */
/*
 * hv-internal.h - what the files of hv/ share, and what the unit tests call
 * directly: firmware selection from a given directory, the QEMU argv
 * builder, the accelerator decision and the child-process helpers.
 */
#ifndef XOVA_HV_INTERNAL_H
#define XOVA_HV_INTERNAL_H

#include <signal.h>

#include "hv/hv.h"

/* ---- firmware ---------------------------------------------------------- */

/* hv_firmware_find() on an explicit descriptor directory. */
int hv_firmware_find_in(const char *dir, const struct xova_arch *arch, const char *machine,
                        bool secure_boot, struct hv_firmware **ret, struct xerr *e);
/* The firmware for a VM definition, the one decision `run` and `deploy`
 * share: vm->firmware must be "efi" (or empty), anything else is -ENOTSUP;
 * then hv_firmware_find() for the arch and machine. */
int hv_vm_firmware(const struct ovf_vm *vm, const char *machine, struct hv_firmware **ret, struct xerr *e);
/* xova run's firmware: hv_vm_firmware(), without Secure Boot when
 * o->no_secure_boot though the VM asks for it; notes through o->note what
 * it chose about Secure Boot. */
int hv_run_firmware(const struct ovf_vm *vm, const char *machine, const struct hv_run_opts *o,
                    struct hv_firmware **ret, struct xerr *e);
/* run's error for a loader Secure Boot refused (refusal: the console's words) */
int hv_secure_boot_refused(const struct xova_arch *arch, const char *refusal, const char *lines, struct xerr *e);
/* The refusal text of the firmware, shim or GRUB in console output, or NULL. */
const char *hv_secure_boot_refusal(const char *buf, size_t len);
/* Does a firmware descriptor's machine glob (e.g. "pc-q35-*") cover the
 * machine we run ("q35", "pc-q35-7.2", "virt")? Aliases are expanded. */
bool hv_machine_matches(const char *pattern, const char *machine);
/* Machine names come from an untrusted descriptor and end up in a keyval
 * option (-machine NAME,accel=...): only [A-Za-z0-9._-] is accepted. */
bool hv_machine_name_valid(const char *machine);

/* ---- accelerator ------------------------------------------------------- */

/* Resolves `want` for a guest on this host to KVM or TCG. AUTO: KVM only if
 * guest arch == host arch and host->kvm_usable; else TCG and a note saying
 * why (note[0] = 0 when there is nothing to say). Explicit KVM for a foreign
 * arch is an error. */
int hv_accel_choose(enum hv_accel want, const struct xova_arch *guest, const struct hv_host *host,
                    enum hv_accel *ret, char *note, size_t note_size, struct xerr *e);

/* Boots a tiny firmware-less guest (a few instructions that power the VM
 * off) with qemu-system-<arch> under `accel` and the CPU model a real run
 * would use, bounded by timeout_ms. Returns 0 if it ran and exited as
 * expected, else -errno with the reason in reason[]. */
int hv_probe_qemu(const struct xova_arch *arch, enum hv_accel accel, unsigned timeout_ms,
                  char *reason, size_t reason_size);

/* ---- QEMU command line --------------------------------------------------- */

struct hv_qemu_config {
        const struct xova_arch *arch;
        enum hv_accel accel;            /* HV_ACCEL_KVM or HV_ACCEL_TCG */
        const char *qemu;               /* binary path (NULL: arch->qemu_binary) */
        const char *machine;            /* validated with hv_machine_name_valid */
        unsigned vcpus;
        uint64_t memory_mib;
        const struct hv_firmware *fw;
        const char *fw_vars;            /* private copy of fw->nvram_template, or NULL */
        const struct hv_disk *disks;
        const char *const *overlays;    /* one qcow2 overlay per disk */
        size_t n_disks;
        bool nic;                       /* virtio NIC on user networking */
        const struct hv_forward *forwards;      /* its hostfwd= rules (with nic) */
        size_t n_forwards;
        int console_fd;                 /* > 2: serial on this socket (interactive), else stdio */
};

/* Builds the argv (NULL-terminated, every string owned): explicit driver
 * on every -blockdev node, JSON built with json-c so any file name stays one
 * JSON string. */
int hv_qemu_argv(const struct hv_qemu_config *c, char ***ret_argv, struct xerr *e);
char **hv_argv_free(char **argv);
static inline void hv_argv_freep(char ***a) { *a = hv_argv_free(*a); }
#define _cleanup_argv_ _cleanup_(hv_argv_freep)

/* ---- block graph (blockdev.c) ------------------------------------------ */

#include <json-c/json.h>

/* What QEMU's file node opens for d: /proc/self/fd/N (holder 0: QEMU
 * inherits N) or /proc/HOLDER/fd/N (QEMU is a grandchild that does not
 * inherit, as under libguestfs), or d->file when d->fd is -1. */
int hv_disk_filename(const struct hv_disk *d, pid_t holder, char *buf, size_t size);
/* The read-only in-place node of d: {"driver":"vmdk","read-only":true,
 * "file":{"driver":"raw","read-only":true,"offset":O,"size":S,"file":
 * {"driver":"file","filename":F,"read-only":true}}} (a raw disk has no vmdk
 * level). NULL when out of memory or d->fd is 0-2. Caller puts it. */
json_object *hv_blockdev_source(const struct hv_disk *d, pid_t holder);
/* A "file" protocol node: {"driver":"file","filename":...[,"read-only":true]}.
 * The one builder of it (hv/qemu.c still has a copy, see docs/HACKING.md). */
json_object *hv_blockdev_file(const char *filename, bool read_only);
/* The -blockdev node for a disk booted by xova: a qcow2 overlay (file by
 * path, in the private run directory) backed by hv_blockdev_source(d, 0). */
json_object *hv_blockdev_overlay(const struct hv_disk *d, const char *overlay, const char *node_name);
/* Plain JSON text of a node, valid until the node is put. */
const char *hv_json_text(json_object *o);
/* d's guest-visible size: capacity, else size, else the file's size past offset. */
int hv_disk_capacity(const struct hv_disk *d, uint64_t *ret, struct xerr *e);
/* Copies d's byte range from its verified fd to out_fd (from 0). */
int hv_disk_copy(const struct hv_disk *d, int out_fd, struct xerr *e);

/* A qcow2 overlay for qemu-img to create: at `path` in a private directory
 * xova made, or into `fd` (a file xova created O_CREAT|O_EXCL|O_NOFOLLOW,
 * handed over as /proc/self/fd/N; path then only names it). The header
 * records no backing, the in-place node of `backing` as "json:" (read
 * through /proc/BACKING_HOLDER/fd/N), or `backing_file` (an absolute
 * path); the backing format is always explicit and never probed. */
struct hv_overlay {
        const char *id;                 /* the disk, for messages, or NULL */
        const char *path;
        int fd;                         /* -1: create `path` */
        uint64_t capacity;              /* guest-visible bytes */
        const struct hv_disk *backing;
        pid_t backing_holder;
        const char *backing_file;
        enum ovf_disk_format backing_format;
};
/* Creates each overlay with `qemu-img create -f qcow2`, all concurrently. On
 * failure e holds the first failed overlay's error, naming its disk; the
 * others may exist. */
int hv_overlays_create(const struct hv_overlay *v, size_t n, struct xerr *e);

/* Sparse private copy of a firmware vars template: into out (sized and
 * written from 0), or a new file `target` (O_CREAT|O_EXCL|O_NOFOLLOW). */
int hv_vars_fill(const char *template_path, int out, struct xerr *e);
int hv_vars_copy(const char *template_path, const char *target, struct xerr *e);

/* ---- interactive console (console.c) ------------------------------------ */

#include <termios.h>

#define HV_CONSOLE_ESCAPE 0x1d          /* Ctrl-] */

struct hv_tty {
        int fd;                         /* -1: not in raw mode */
        struct termios saved;
};
/* Saves fd's modes and switches it to raw (no ISIG, no echo, no CR/NL
 * mapping); hv_tty_restore() puts them back (idempotent). */
int hv_tty_raw(struct hv_tty *t, int fd, struct xerr *e);
void hv_tty_restore(struct hv_tty *t);
/* From a signal handler: restores the modes hv_tty_raw() saved, if any. */
void hv_tty_restore_async(void);
/* Interactive console start: a connected AF_UNIX stream pair, both
 * CLOEXEC ([0] ours, [1] for QEMU's -chardev socket,fd=N), the note naming
 * Ctrl-] and the window size, then the terminal on fd 0 raw. Needs fd 0 and
 * 1 to be terminals. hv_console_end() restores the terminal and closes
 * what of the pair is still open (both idempotent). */
int hv_console_begin(const struct hv_run_opts *o, const char *arch, struct hv_tty *tty, int pair[2],
                     struct xerr *e);
void hv_console_end(struct hv_tty *tty, int pair[2]);
/* How many bytes of terminal input go to the guest: all, or those before
 * the escape key (then *ret_escape). */
ssize_t hv_console_input(const char *buf, size_t n, bool *ret_escape);

/* ---- persistent state (state.c) ------------------------------------------- */

struct hv_state;
/* The stamp text of a bundle's state directory: bundle name, version, arch
 * and the SHA-256 of the manifest (which names every member's digest). */
int hv_state_identity(const char *bundle, const struct ovf_bundle *b, const struct xova_arch *arch, char **ret,
                      struct xerr *e);
/* Opens (creates) dir, takes its lock, checks its stamp against identity
 * (another bundle, version or arch: refused, unless reset) and opens, or
 * when fresh creates, one overlay per disk and the firmware vars. Sets
 * overlays[i] and *ret_vars (if fw has NVRAM) to "/proc/self/fd/N" paths
 * for QEMU (keep hv_state_fds() open in QEMU). Returns 1 when the state
 * was created now, 0 when reused. */
int hv_state_open(const char *dir, const char *identity, bool reset, const struct hv_firmware *fw,
                  const struct hv_disk *disks, size_t n, struct hv_state **ret, char **overlays, char **ret_vars,
                  struct xerr *e);
const int *hv_state_fds(const struct hv_state *s, size_t *ret_n);
struct hv_state *hv_state_free(struct hv_state *s);

/* ---- bundles ------------------------------------------------------------- */

/* Opens and verifies a bundle (-XOVA_EVERIFY if refused), picks the VM
 * definition for arch_name (NULL = host) and fills one disk source per disk
 * of that VM (file names as ovf/ gives them). */
int hv_bundle_vm(const char *bundle, const char *arch_name, const char *ca_file,
                 struct ovf_bundle **ret_bundle, const struct ovf_vm **ret_vm,
                 struct hv_disk **ret_disks, struct xerr *e);

static inline void hv_bundle_freep(struct ovf_bundle **b)
{
        *b = ovf_bundle_free(*b);
}

/* ---- children ------------------------------------------------------------ */

/* xova_spawn() (common/process.c) as QEMU needs it: stdout/stderr to the
 * given fds (-1 = /dev/null), keep_fds inherited (the verified disks QEMU
 * opens as /proc/self/fd/N), in its own process group (a terminal ^C
 * reaches xova, which then stops the guest cleanly) and with
 * PR_SET_PDEATHSIG(SIGKILL) so it dies if xova is killed. */
int hv_spawn(const char *path, char *const argv[], int out_fd, int err_fd, const int *keep_fds,
             size_t n_keep_fds, pid_t *ret_pid, struct xerr *e);
/* SIGTERM, then SIGKILL to the process group after grace_ms; always reaps.
 * Returns the wait status. */
int hv_child_stop(pid_t pid, unsigned grace_ms);
/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t hv_now_ms(void);

/* Describes a wait status: "exited with status 1", "killed by signal 6 (Aborted)". */
const char *hv_status_str(int status, char *buf, size_t size);

/* ---- libvirt domain XML (libvirt.c) -------------------------------------- */

struct _xmlTextWriter;  /* libxml2's xmlTextWriter: no libxml2 header needed here */
/* One virtio <disk>: a qcow2 at path, over backing (of backing_format) when
 * backing is not NULL; disk i == 0 boots. 0, or -ENOMEM. */
int hv_xml_disk(struct _xmlTextWriter *w, const char *path, const char *backing, const char *backing_format,
                size_t i);
/* A virtio NIC on the libvirt network named network, or user-mode when NULL. */
int hv_xml_nic(struct _xmlTextWriter *w, const char *network);
/* Serial port 0 as a pty and the console on it; logged to log when not NULL. */
int hv_xml_serial_console(struct _xmlTextWriter *w, const char *log);

#endif
