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
        bool enrolled_keys;             /* Secure Boot on, keys in db (descriptor feature) */
        bool requires_smm;              /* x86: -machine smm=on, pflash secure=on */
};
/* Picks from /usr/share/qemu/firmware/ *.json (or $XOVA_FIRMWARE_DIR) by
 * arch, machine, interface uefi; prefers no secure boot unless asked. */
int hv_firmware_find(const struct xova_arch *arch, const char *machine, bool secure_boot,
                     struct hv_firmware **ret, struct xerr *e);
struct hv_firmware *hv_firmware_free(struct hv_firmware *f);

/* One `xova run --forward [ADDR:]HOSTPORT:GUESTPORT`: TCP connections to
 * ADDR:HOSTPORT on the host (IPv4, default 127.0.0.1) reach GUESTPORT of the
 * guest through QEMU's user-mode network (hostfwd). */
struct hv_forward {
        char addr[16];                  /* dotted IPv4, as inet_ntop() writes it */
        uint16_t host_port, guest_port;
};
/* Parses "[ADDR:]HOSTPORT:GUESTPORT" (ports 1-65535, ADDR a dotted IPv4
 * address); the error names what is wrong with s. */
int hv_forward_parse(const char *s, struct hv_forward *ret, struct xerr *e);
/* Fails naming ADDR:HOSTPORT when two forwards share a host port or a host
 * port cannot be bound now (-EADDRINUSE: in use); binds and closes at once. */
int hv_forward_check(const struct hv_forward *f, size_t n, struct xerr *e);

struct hv_run_opts {
        const char *arch;               /* NULL = the host's */
        enum hv_accel accel;
        const char *expect;             /* marker on the serial console, or NULL */
        unsigned timeout;               /* seconds for --expect, 0 = none */
        bool console;                   /* copy the serial console to stdout */
        bool keep;                      /* keep the run directory */
        /* the guest's serial console both ways on the terminal at fd 0/1
         * (raw mode, Ctrl-] stops the guest; hv/console.c) instead of a pipe */
        bool interactive;
        /* keep overlays and firmware vars in this directory across runs
         * (hv/state.c), NULL = a throwaway run directory; state_reset
         * starts it over. state_id is what the directory's stamp must say
         * (hv_run() sets it from the bundle). */
        const char *state_dir;
        bool state_reset;
        const char *state_id;
        const char *ca_file;            /* verify the signer against it */
        /* boot without Secure Boot even when the bundle asks for it (a note
         * says so) */
        bool no_secure_boot;
        /* host port forwards (needs the definition's NIC), checked before QEMU starts */
        const struct hv_forward *forwards;
        size_t n_forwards;
        struct xova_progress progress;
        /* notes for the user ("emulated with TCG", "KVM unusable: ..."): */
        void (*note)(void *userdata, const char *msg);
        void *userdata;
};

/* Verifies and boots a bundle. Returns 0 (marker seen, or guest ended
 * normally), -XOVA_EVERIFY (bundle refused, nothing started),
 * -XOVA_ETIMEOUT (marker not seen; e->msg holds the last console lines). */
int hv_run(const char *bundle, const struct hv_run_opts *o, struct xerr *e);

/* A disk QEMU opens (hv/blockdev.c builds its block node): a byte range
 * of a host file in an explicit format. For a bundle, `fd` is the file
 * ovf_bundle_open() verified and QEMU reads that descriptor, never the
 * path (which may have been replaced since); `file` then only names it in
 * messages. fd -1 means "open `file` by path" (raw test images, no
 * bundle); set it explicitly: 0-2 are refused, never taken for a disk. */
struct hv_disk {
        const char *id;                 /* for messages: "boot", "root-x86_64" */
        const char *file;               /* OVA, or a raw/VMDK image file */
        int fd;                         /* verified open file (borrowed), or -1 */
        uint64_t offset;                /* first byte of the disk in file */
        uint64_t size;                  /* bytes, 0 = to the end of file */
        enum ovf_disk_format format;    /* explicit: QEMU never probes */
        uint64_t capacity;              /* guest-visible bytes (overlay size); 0 = size (raw) */
};

/* Boots one VM definition with its disks given directly, no bundle: what
 * hv_run() does after verification; also the entry point for tests on raw
 * images. disks[i] belongs to vm->disks[i] (boot disk first). Same returns
 * as hv_run(), -EINTR when SIGINT/SIGTERM/SIGHUP stopped the guest. */
int hv_run_vm(const struct ovf_vm *vm, const struct hv_disk *disks, size_t n_disks,
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

/* ---- deploying onto libvirt hosts (deploy.c) ---------------------------- */

/* One --connect: the host and what is asked of it there. */
struct hv_target {
        const char *uri;                /* libvirt URI: qemu:///system, qemu+ssh://... */
        const char *arch;               /* NULL: chosen from the host's capabilities */
        enum hv_accel accel;            /* AUTO: KVM when the host offers it and it works */
        const char *name;               /* domain name; NULL: BUNDLE-ARCH */
        const char *pool;               /* storage pool; NULL: "default" */
};

/* What happened on one host (the summary line). */
struct hv_target_result {
        char host[256];                 /* the URI without a password */
        const char *arch;               /* chosen, or NULL if it failed before */
        enum hv_accel accel;
        char domain[128];
        char volumes[512];              /* the disk ids uploaded, comma-separated */
        uint64_t bytes;                 /* uploaded */
        uint64_t ms;
        bool marker_seen;
        int code;                       /* 0 or -errno / -XOVA_E* */
        struct xerr err;
};

struct hv_remote_opts {
        const char *ca_file;
        bool start;
        const char *expect;             /* marker on the console (implies start), or NULL */
        unsigned timeout;               /* seconds for expect; 0 = 300 */
        bool replace;                   /* replace a domain/volumes of the same name */
        void (*note)(void *userdata, const char *msg);  /* thread-safe: called from host threads */
        void *userdata;
};

/* Verifies the bundle once (-XOVA_EVERIFY: no host was contacted), then
 * deploys onto every target in parallel, one thread and one connection
 * each; res[i] says what happened on targets[i]. A host that fails is
 * rolled back (domain undefined with its NVRAM, the volumes it got
 * deleted); the others are left deployed. Returns 0 if all succeeded,
 * else the first failure's code (e: that host's error). */
int hv_deploy_remote(const char *bundle, const struct hv_remote_opts *o, const struct hv_target *targets, size_t n,
                     struct hv_target_result *res, struct xerr *e);

/* Removes a domain deploy made: stops it, undefines it with its NVRAM and
 * deletes the volumes its xova metadata names. A domain without that
 * metadata is refused (not ours). ret_volumes: how many were deleted. */
int hv_undeploy(const char *uri, const char *name, size_t *ret_volumes, struct xerr *e);

/* ---- looking inside the disks (inspect.c, libguestfs) ------------------- */

/* HAVE_LIBGUESTFS (config.h) says whether this build has it; without it
 * hv_inspect_deep() fails with -ENOTSUP saying so. */

/* Seconds guestfs_launch() may take (TCG, first run builds the supermin
 * appliance) before the appliance is killed and the call fails. */
#define HV_DEEP_LAUNCH_TIMEOUT 300

/* Every string below was read from the image: it is hostile input. The
 * reader caps lengths and replaces control characters and invalid UTF-8
 * with '?', so a string is printable as is; it may still be empty or lie. */
struct hv_deep_partition {
        char *device;                   /* appliance name, "/dev/sda1" */
        int number;
        uint64_t size;                  /* bytes */
        char *gpt_type;                 /* type GUID, or NULL (not GPT) */
        char *name;                     /* GPT partition name, or NULL */
};

struct hv_deep_fs {
        char *device;                   /* "/dev/sda1", or "/dev/sdc" for a whole-disk fs */
        char *type;                     /* blkid type: "ext4", "vfat", "unknown", ... */
        char *label;                    /* or NULL */
        char *uuid;                     /* or NULL */
        /* root disks: libguestfs inspection (NULL when it found no OS), then
         * /etc/os-release and /etc/hostname read from the fs mounted read-only */
        char *os_type, *os_distro, *os_product;
        char *os_pretty_name;           /* PRETTY_NAME, or NULL */
        char *hostname;                 /* first line, or NULL */
        /* boot disk: entries of /EFI/BOOT on a vfat fs */
        bool efi_boot_listed;
        char **efi_boot;
        size_t n_efi_boot;
        char *error;                    /* why a mount or read failed, or NULL */
};

struct hv_deep_disk {
        size_t disk;                    /* index into ovf_descriptor.disks */
        char *device;                   /* "/dev/sda" */
        char *partition_table;          /* "gpt", "msdos", or NULL */
        struct hv_deep_partition *partitions;
        size_t n_partitions;
        struct hv_deep_fs *filesystems;
        size_t n_filesystems;
};

struct hv_deep_report {
        struct hv_deep_disk *disks;    /* one per descriptor disk, same order */
        size_t n_disks;
        char *backend;                  /* "direct (TCG)" */
        uint64_t launch_ms;             /* guestfs_launch() wall time */
        uint64_t total_ms;
};

/* Adds every disk of a verified bundle read-only to one libguestfs
 * appliance (backend direct, TCG forced: KVM is not trusted to work), lists
 * partitions and filesystems, and for root disks the OS, for the boot disk
 * the ESP's /EFI/BOOT. Nothing is mounted on the host. Errors name the disk;
 * a launch slower than HV_DEEP_LAUNCH_TIMEOUT fails with -XOVA_ETIMEOUT. */
int hv_inspect_deep(const struct ovf_bundle *b, struct hv_deep_report **ret, struct xerr *e);
struct hv_deep_report *hv_deep_report_free(struct hv_deep_report *r);
static inline void hv_deep_report_freep(struct hv_deep_report **r) { *r = hv_deep_report_free(*r); }

const char *hv_accel_name(enum hv_accel a);
int hv_accel_from_name(const char *s, enum hv_accel *ret);

#endif
