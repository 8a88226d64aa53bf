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
        const struct hv_disk_source *disks;
        const char *const *overlays;    /* one qcow2 overlay per disk */
        size_t n_disks;
        bool nic;                       /* virtio NIC on user networking */
};

/* Builds the argv (NULL-terminated, every string owned): explicit driver
 * on every -blockdev node, JSON built with json-c so any file name stays one
 * JSON string. */
int hv_qemu_argv(const struct hv_qemu_config *c, char ***ret_argv, struct xerr *e);
char **hv_argv_free(char **argv);
static inline void hv_argv_freep(char ***a) { *a = hv_argv_free(*a); }
#define _cleanup_argv_ _cleanup_(hv_argv_freep)

/* The -blockdev JSON for disk i: a qcow2 overlay whose backing is the disk's
 * byte range, read-only. Caller frees. */
char *hv_disk_blockdev_json(const struct hv_disk_source *d, const char *overlay,
                            const char *node_name);
/* One qcow2 overlay per disk at paths[i], all created at once (ovf/'s
 * ovf_overlays_create), of disks[i].capacity bytes (or .size when 0); with
 * backing, the header names the disk's range as a json: backing file with
 * its format (what libvirt reads). */
int hv_overlays_create(char *const *paths, const struct hv_disk_source *disks, size_t n, bool backing,
                       struct xerr *e);
/* Sparse private copy of a firmware vars template. */
int hv_vars_copy(const char *template_path, const char *target, struct xerr *e);

/* ---- bundles ------------------------------------------------------------- */

/* Opens and verifies a bundle (-XOVA_EVERIFY if refused), picks the VM
 * definition for arch_name (NULL = host) and fills one disk source per disk
 * of that VM (file names as ovf/ gives them). */
int hv_bundle_vm(const char *bundle, const char *arch_name, const char *ca_file,
                 struct ovf_bundle **ret_bundle, const struct ovf_vm **ret_vm,
                 struct hv_disk_source **ret_disks, struct xerr *e);

static inline void hv_bundle_freep(struct ovf_bundle **b)
{
        *b = ovf_bundle_free(*b);
}

/* ---- children ------------------------------------------------------------ */

/* fork+exec with stdin from /dev/null, stdout/stderr to the given fds (-1 =
 * /dev/null), in its own process group (a terminal ^C reaches xova, which
 * then stops the guest cleanly) and with PR_SET_PDEATHSIG(SIGKILL) so it
 * dies if xova is killed. */
int hv_spawn(const char *path, char *const argv[], int out_fd, int err_fd, pid_t *ret_pid,
             struct xerr *e);
/* SIGTERM, then SIGKILL to the process group after grace_ms; always reaps.
 * Returns the wait status. */
int hv_child_stop(pid_t pid, unsigned grace_ms);
/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t hv_now_ms(void);

/* Describes a wait status: "exited with status 1", "killed by signal 6 (Aborted)". */
const char *hv_status_str(int status, char *buf, size_t size);

#endif
