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

/* libvirt domain XML for an arch's definition (NULL = the host's). */
int hv_libvirt_xml(const char *bundle, const char *arch, const char *ca_file, char **ret_xml,
                   struct xerr *e);

const char *hv_accel_name(enum hv_accel a);
int hv_accel_from_name(const char *s, enum hv_accel *ret);

#endif
