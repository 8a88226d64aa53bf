/* SPDX-License-Identifier: MIT */
/*
 * hv.h - the hypervisor layer: host detection, firmware from QEMU's
 * firmware descriptors, VM definition -> QEMU argv, booting a verified
 * bundle under QEMU with overlays, and libvirt domain XML.
 *
 * Uses common/ and ovf/ only: hv/ never knows how a bundle was built.
 */
#ifndef XOVA_HV_H
#define XOVA_HV_H

#include "common/common.h"
#include "ovf/ovf.h"

enum hv_accel {
        HV_ACCEL_AUTO,                  /* KVM if guest arch == host arch and KVM really works */
        HV_ACCEL_KVM,
        HV_ACCEL_TCG,
};

struct hv_host {
        const struct xova_arch *arch;   /* NULL if the host arch is not in the table */
        bool kvm_usable;                /* /dev/kvm opens and a probe guest ran */
        char kvm_reason[256];           /* why not, for messages */
};

/* Detects the host; probes KVM only when probe_kvm (bounded in time). */
int hv_host_detect(bool probe_kvm, struct hv_host *ret, struct xerr *e);

struct hv_firmware {
        char *descriptor;               /* the JSON file it came from */
        char *executable;               /* code image */
        char *executable_format;        /* "raw", "qcow2" */
        char *nvram_template;           /* vars template, or NULL (memory-mapped -bios) */
        char *nvram_format;
        bool secure_boot;
};
/* Picks from /usr/share/qemu/firmware/ *.json (or $XOVA_FIRMWARE_DIR) by
 * arch, machine, interface uefi; prefers no secure boot unless asked. */
int hv_firmware_find(const struct xova_arch *arch, const char *machine, bool secure_boot,
                     struct hv_firmware **ret, struct xerr *e);
struct hv_firmware *hv_firmware_free(struct hv_firmware *f);

struct hv_run_opts {
        const char *arch;               /* NULL = the host's */
        enum hv_accel accel;
        const char *expect;             /* marker on the serial console, or NULL */
        unsigned timeout;               /* seconds for --expect, 0 = none */
        bool console;                   /* copy the serial console to stdout */
        bool keep;                      /* keep the run directory */
        const char *ca_file;            /* verify the signer against it */
        struct xova_progress progress;
        /* notes for the user ("emulated with TCG", "KVM unusable: ..."): */
        void (*note)(void *userdata, const char *msg);
        void *userdata;
};

/* Verifies and boots a bundle. Returns 0 (marker seen, or guest ended
 * normally), -XOVA_EVERIFY (bundle refused, nothing started),
 * -XOVA_ETIMEOUT (marker not seen; e->msg holds the last console lines). */
int hv_run(const char *bundle, const struct hv_run_opts *o, struct xerr *e);

/* Where one disk's bytes are, for hv_run_vm(): a host file (made absolute
 * by the caller), a byte range in it and the format of those bytes. QEMU
 * reads the range read-only; guest writes go to an overlay in the run dir. */
struct hv_disk_source {
        const char *id;                 /* for messages: "boot", "root-x86_64" */
        const char *file;               /* OVA, or a raw/VMDK image file */
        uint64_t offset;                /* first byte of the disk in file */
        uint64_t size;                  /* bytes, 0 = to the end of file */
        enum ovf_disk_format format;    /* explicit: QEMU never probes */
        uint64_t capacity;              /* guest-visible bytes (overlay size); 0 = size (raw) */
};

/* Boots one VM definition with its disks given directly, no bundle: what
 * hv_run() does after verification; also the entry point for tests on raw
 * images. disks[i] belongs to vm->disks[i] (boot disk first). Same returns
 * as hv_run(), -EINTR when SIGINT/SIGTERM/SIGHUP stopped the guest. */
int hv_run_vm(const struct ovf_vm *vm, const struct hv_disk_source *disks, size_t n_disks,
              const struct hv_run_opts *o, struct xerr *e);

/* libvirt domain XML for an arch's definition (NULL = the host's). Disks
 * are qcow2 overlays named under "./NAME-ARCH-disks" (not created). */
int hv_libvirt_xml(const char *bundle, const char *arch, const char *ca_file, char **ret_xml,
                   struct xerr *e);

struct hv_deploy_opts {
        const char *arch;               /* NULL = the host's */
        const char *ca_file;
        const char *disk_dir;           /* NULL = "./NAME-ARCH-disks" */
        bool create_disks;              /* create disk_dir and the overlays in it */
};
/* As hv_libvirt_xml; with create_disks, also creates one qcow2 overlay per
 * disk whose header names its backing as a json: range of the bundle (format
 * explicit), so libvirt (which reads the header) and the XML's backingStore
 * agree. The bundle itself is never written. */
int hv_libvirt_deploy(const char *bundle, const struct hv_deploy_opts *o, char **ret_xml,
                      struct xerr *e);

const char *hv_accel_name(enum hv_accel a);
int hv_accel_from_name(const char *s, enum hv_accel *ret);

#endif
