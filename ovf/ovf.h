/* SPDX-License-Identifier: MIT */
/*
 * ovf.h - descriptor, manifest, certificate, VMDK and OVA bundle.
 *
 * Writing: ovf_export() takes raw disk images and a descriptor model and
 * produces an OVA (or an unpacked OVF directory): streamOptimized VMDK disks
 * compressed in parallel, the OVF descriptor (libxml2), the SHA-256 manifest
 * and optionally a .cert signature (OpenSSL), tarred with libarchive to a
 * temp file beside the target and renamed into place.
 *
 * Reading: ovf_bundle_open() reads an OVA (tar formats only, no filters)
 * once, refuses hostile members, checks every digest and the signature, and
 * exposes the descriptor and where each disk lies inside the bundle so hv/
 * can boot it in place. Nothing reaches a caller before verification.
 *
 * Uses common/ only.
 */
#ifndef XOVA_OVF_H
#define XOVA_OVF_H

#include "common/common.h"

/* xova's own namespace in the descriptor */
#define OVF_XOVA_NS "https://xova.dev/ovf/1"

/* ---- model ------------------------------------------------------------ */

enum ovf_disk_format {
        OVF_DISK_VMDK_STREAM,           /* streamOptimized VMDK (default) */
        OVF_DISK_RAW,                   /* raw image */
};

struct ovf_disk {
        char *id;                       /* ovf:diskId, e.g. "boot", "root-x86_64", "data" */
        char *href;                     /* member / file name, a bare name: "hello-boot.vmdk" */
        enum ovf_disk_format format;
        uint64_t capacity;              /* bytes the guest sees */
        uint64_t populated;             /* bytes of non-zero data (ovf:populatedSize) */
        uint64_t file_size;             /* bytes of the member (filled by export / read) */
        const struct xova_arch *arch;   /* root disk of one arch, or NULL = shared */
        char *role;                     /* "boot", "root", "data", "disk" (single layout) */
        char *source;                   /* export only: host path of the raw image */
};

/* One VM definition per architecture (a DeploymentOption configuration). */
struct ovf_vm {
        const struct xova_arch *arch;
        unsigned vcpus;
        uint64_t memory_mib;
        char *machine;                  /* "q35", "virt" */
        char *firmware;                 /* "efi" */
        char *disk_bus;                 /* "virtio" */
        char *nic_model;                /* "virtio", or NULL for no NIC */
        char *console;                  /* "serial" */
        bool secure_boot;               /* needs UEFI Secure Boot (xova:SecureBoot, vmw:Config
                                         * bootOptions.efiSecureBootEnabled) */
        size_t *disks;                  /* indices into ovf_descriptor.disks, boot disk first */
        size_t n_disks;
};

struct ovf_descriptor {
        char *name;                     /* VirtualSystem id and file name stem */
        char *version;
        char *vendor;                   /* may be NULL */
        char *description;              /* may be NULL */
        struct ovf_disk *disks;
        size_t n_disks;
        struct ovf_vm *vms;
        size_t n_vms;
};

struct ovf_descriptor *ovf_descriptor_free(struct ovf_descriptor *d);
static inline void ovf_descriptor_freep(struct ovf_descriptor **d) { *d = ovf_descriptor_free(*d); }
/* The definition for an architecture name, or NULL. */
const struct ovf_vm *ovf_descriptor_vm(const struct ovf_descriptor *d, const char *arch);
/* "vmdk-stream-optimized" or "raw" (inspect output). */
const char *ovf_disk_format_to_string(enum ovf_disk_format f);

/* Who reads the descriptor: every importer at once (the universal OVA of a
 * build), or one of them (xova export, one architecture). */
enum ovf_consumer {
        OVF_FOR_ALL,
        OVF_FOR_VMWARE,
        OVF_FOR_VIRTUALBOX,
        OVF_FOR_VIRTV2V,
        OVF_FOR_GLANCE,
        OVF_FOR_LIBVIRT,
};
const char *ovf_consumer_to_string(enum ovf_consumer c);
int ovf_consumer_from_string(const char *s, enum ovf_consumer *ret);

/* Whether a consumer imports a configuration of d as it is, after
 * `xova export` (ovf_export_for), or not at all (Glance: more than one
 * disk). */
enum ovf_suit {
        OVF_SUIT_AS_IS,
        OVF_SUIT_EXPORT,
        OVF_SUIT_NO,
};
enum ovf_suit ovf_descriptor_suits(const struct ovf_descriptor *d, const struct ovf_vm *v, enum ovf_consumer c);
const char *ovf_suit_to_string(enum ovf_suit s);

/* An architecture's names in other people's vocabularies. */
struct ovf_arch_ids {
        const char *instruction_set;            /* CIM PASD: "DMTF:x86:64", "DMTF:ARM:A64" */
        const char *processor_architecture;     /* CIM PASD: "DMTF:x86", "DMTF:ARM" */
        const char *vmw_os_type;                /* VMware guest id */
        const char *vbox_os_type;               /* VirtualBox OS type */
        const char *glance_architecture;        /* Glance/Nova "architecture" property */
};
void ovf_arch_ids(const struct xova_arch *a, struct ovf_arch_ids *ret);

/* Descriptor XML (libxml2). The reader refuses any DOCTYPE and uses
 * XML_PARSE_NONET without entity expansion; `where` names the file in errors. */
int ovf_descriptor_write(const struct ovf_descriptor *d, char **ret_xml, size_t *ret_len,
                         struct xerr *e);
/* The same for one consumer (ovf_descriptor_write() is OVF_FOR_ALL). */
int ovf_descriptor_write_for(const struct ovf_descriptor *d, enum ovf_consumer c, char **ret_xml, size_t *ret_len,
                             struct xerr *e);
/* A copy holding only the configuration of `arch` and the disks it uses
 * (in their order in d); -ENOENT if d has no such configuration. */
int ovf_descriptor_subset(const struct ovf_descriptor *d, const char *arch, struct ovf_descriptor **ret,
                          struct xerr *e);
int ovf_descriptor_parse(const char *xml, size_t len, const char *where,
                         struct ovf_descriptor **ret, struct xerr *e);

/* ---- manifest and certificate ----------------------------------------- */

struct ovf_manifest_entry {
        char *name;
        uint8_t sha256[32];
};
struct ovf_manifest {
        struct ovf_manifest_entry *entries;
        size_t n;
};
/* "SHA256(name)= hex" lines; strict structure, hex case-insensitive. */
int ovf_manifest_parse(const char *buf, size_t len, const char *where, struct ovf_manifest **ret,
                       struct xerr *e);
struct ovf_manifest *ovf_manifest_free(struct ovf_manifest *m);
static inline void ovf_manifest_freep(struct ovf_manifest **m) { *m = ovf_manifest_free(*m); }

/* ---- streamOptimized VMDK --------------------------------------------- */

struct ovf_vmdk_info {
        uint64_t capacity;              /* bytes */
        uint64_t populated;             /* bytes of non-zero grains */
        uint64_t file_size;             /* bytes written */
        uint8_t sha256[32];             /* of the bytes written, hashed while writing */
};

/* Writes raw_fd (raw_size bytes, a multiple of 512) as a streamOptimized
 * VMDK to out_fd from its current position; grains deflated on `threads`
 * threads (0 = all online cores), zero grains skipped, output deterministic
 * for a given zlib (CID and uuids derived from seed). */
int ovf_vmdk_write(int raw_fd, uint64_t raw_size, int out_fd, const char *seed, unsigned threads,
                   const struct xova_progress *progress, struct ovf_vmdk_info *ret,
                   struct xerr *e);
/* The same, naming the extent `extent` in the embedded descriptor (the
 * file's own name, its OVA member name); ovf_vmdk_write() names it
 * "disk.vmdk". */
int ovf_vmdk_write_named(int raw_fd, uint64_t raw_size, int out_fd, const char *seed, const char *extent,
                         unsigned threads, const struct xova_progress *progress, struct ovf_vmdk_info *ret,
                         struct xerr *e);
/* Validates a streamOptimized VMDK of `size` bytes at `offset` in fd (header,
 * descriptor with exactly one extent and no parent, grain markers within the
 * file, capacity cap, inflate bounds). If out_fd >= 0, writes the raw content
 * there (sparse). `where` names the member in errors. */
int ovf_vmdk_check(int fd, uint64_t offset, uint64_t size, const char *where, int out_fd,
                   uint64_t *ret_capacity, struct xerr *e);

/* ---- writing a bundle -------------------------------------------------- */

enum ovf_export_format {
        OVF_EXPORT_OVA,                 /* single tar file */
        OVF_EXPORT_DIR,                 /* directory with .ovf, .mf, .cert, disks */
};

struct ovf_export_opts {
        enum ovf_export_format format;
        enum ovf_disk_format disk_format;
        bool force;                     /* replace an existing target */
        uint64_t epoch;                 /* tar mtimes */
        const char *seed;               /* VMDK ids */
        const char *sign_key;           /* PEM private key (RSA), or NULL */
        const char *sign_cert;          /* PEM certificate, or NULL */
        const char *workdir;            /* scratch space for converted disks */
        unsigned threads;               /* 0 = all cores */
        struct xova_progress progress;
        /* When set, called (on the calling thread) before disk i's source
         * is first read, in disk order: returns once the image is whole
         * (its size already final when ovf_export is called), or an error
         * that ends the export. Lets the caller still be writing disk i+1
         * while disk i is compressed. */
        int (*disk_ready)(void *ctx, size_t i, struct xerr *e);
        /* When set, called (on the calling thread, with disk_ready_ctx)
         * once disk i's source is read for the last time and closed, so the
         * caller may drop the image while the export goes on. VMDK disks
         * only: a raw disk's source is read again for the OVA's tar pass. */
        void (*disk_done)(void *ctx, size_t i);
        void *disk_ready_ctx;
};

/* d->disks[i].source name raw images; fills format, file_size, populated,
 * href. Writes atomically: nothing at target unless everything succeeded. */
int ovf_export(const char *target, struct ovf_descriptor *d, const struct ovf_export_opts *o,
               struct xerr *e);

/* ---- one architecture for one consumer (xova export) ------------------- */

struct ovf_bundle;

struct ovf_export_for_opts {
        enum ovf_consumer consumer;
        const char *arch;               /* the configuration to keep */
        bool force;                     /* replace an existing target */
        uint64_t epoch;                 /* tar mtimes */
        const char *sign_key;           /* PEM private key (RSA), or NULL */
        const char *sign_cert;          /* PEM certificate, or NULL */
        struct xova_progress progress;
};

/* From a bundle opened (so verified) by ovf_bundle_open(): an OVA at
 * target holding that arch's configuration and only the disks it uses,
 * with the descriptor written for the consumer, a new manifest (and .cert
 * when signing). Disk members are copied byte for byte through the
 * verified fd and must hash to the digest seen when the bundle was
 * verified. Glance takes one disk: a configuration with more is refused.
 * Atomic (temp file beside target + rename). ret_d (may be NULL) gets the
 * exported model. */
int ovf_export_for(const struct ovf_bundle *b, const char *target, const struct ovf_export_for_opts *o,
                   struct ovf_descriptor **ret_d, struct xerr *e);

/* ---- reading a bundle --------------------------------------------------- */

struct ovf_open_opts {
        const char *ca_file;            /* PEM CA bundle to check the signer, or NULL */
        bool require_signature;
};

struct ovf_bundle;

/* Opens an OVA file or an OVF directory, verifies it (structure, every
 * digest, signature if present: fails with -XOVA_EVERIFY naming the member),
 * and parses the descriptor. */
int ovf_bundle_open(const char *path, const struct ovf_open_opts *o, struct ovf_bundle **ret,
                    struct xerr *e);
struct ovf_bundle *ovf_bundle_free(struct ovf_bundle *b);
static inline void ovf_bundle_freep(struct ovf_bundle **b) { *b = ovf_bundle_free(*b); }
const struct ovf_descriptor *ovf_bundle_descriptor(const struct ovf_bundle *b);
/* Where disk i's bytes are: a host file plus offset/size (for an OVA, the
 * bundle itself; hv/ has QEMU read it in place through a raw node with
 * offset, opened through ovf_bundle_disk_fd()). */
int ovf_bundle_disk_location(const struct ovf_bundle *b, size_t disk, const char **ret_file,
                             uint64_t *ret_offset, uint64_t *ret_size, struct xerr *e);
/* Signer's subject line, or NULL when unsigned. */
const char *ovf_bundle_signer(const struct ovf_bundle *b);
/* True when the signer's certificate chained to ovf_open_opts.ca_file (without
 * a CA file only the signature over the manifest was checked). */
bool ovf_bundle_signer_trusted(const struct ovf_bundle *b);
/* Members in archive order (directory: descriptor, manifest, cert, disks);
 * offset is the data offset inside the OVA (0 in a directory). */
size_t ovf_bundle_n_members(const struct ovf_bundle *b);
int ovf_bundle_member(const struct ovf_bundle *b, size_t i, const char **ret_name, uint64_t *ret_offset,
                      uint64_t *ret_size);
/* The SHA-256 of member i's bytes, computed while the bundle was verified. */
int ovf_bundle_member_sha256(const struct ovf_bundle *b, size_t i, uint8_t ret[32]);
/* The verified open file holding disk i (the OVA itself, or the disk file of
 * a directory; borrowed, O_RDONLY): hv/ can hand QEMU this fd (fdset) so the
 * bytes it reads are the ones we hashed even if the path is replaced. */
int ovf_bundle_disk_fd(const struct ovf_bundle *b, size_t disk);

#endif
