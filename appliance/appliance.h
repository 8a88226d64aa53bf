/* SPDX-License-Identifier: MIT */
/*
 * appliance.h - the appliance spec (xova.json(5)) and the build.
 *
 * appliance_load() parses and validates a spec with json-c into a struct
 * appliance; appliance_build() turns it into disks (bootpart/ for the USP
 * and GPT, mke2fs -d for ext4 content) and hands them to ovf/ for the
 * bundle. Uses common/, bootpart/ and ovf/.
 */
#ifndef XOVA_APPLIANCE_H
#define XOVA_APPLIANCE_H

#include "common/common.h"
#include "bootpart/bootpart.h"

#define APPLIANCE_SPEC_MAX (1u << 20)   /* a spec larger than 1 MiB is refused unread */

enum appliance_layout {
        APPLIANCE_LAYOUT_SPLIT,         /* boot disk + a root disk per arch + shared disks */
        APPLIANCE_LAYOUT_SINGLE,        /* one GPT disk: USP + root per arch + shared */
};

enum appliance_disk_role {
        APPLIANCE_DISK_ROOT,            /* one per architecture */
        APPLIANCE_DISK_DATA,            /* shared by all architectures */
};

enum appliance_content {
        APPLIANCE_CONTENT_EMPTY,        /* empty ext4 */
        APPLIANCE_CONTENT_DIRECTORY,    /* ext4 made from a directory tree */
        APPLIANCE_CONTENT_TARBALL,      /* ext4 made from a tarball (libarchive) */
        APPLIANCE_CONTENT_IMAGE,        /* a prebuilt raw filesystem image, copied */
};

struct appliance_disk {
        char *name;                     /* [a-z0-9][a-z0-9_-]*, unique; used in file names */
        enum appliance_disk_role role;
        const struct xova_arch *arch;   /* ROOT: its architecture; DATA: NULL */
        uint64_t size;                  /* bytes, MiB multiple; IMAGE: 0 = image size rounded up */
        enum appliance_content content;
        char *source;                   /* resolved host path (relative to the spec's dir), or NULL */
        char *label;                    /* filesystem label (<= 16 chars), or NULL */
};

struct appliance_arch {
        const struct xova_arch *arch;
        char *kernel;                   /* resolved host path, or a path in the root content */
        char *initrd;                   /* the same, or NULL */
        bool kernel_from_root;          /* {"from-root": PATH}: kernel is PATH inside the */
        bool initrd_from_root;          /*   arch's root directory/tarball, not a host path */
        char *cmdline;                  /* extra kernel args, or NULL (checked: no grub.cfg injection) */
        unsigned vcpus;                 /* default 1 */
        uint64_t memory_mib;            /* default 512 */
        char *machine;                  /* default: the arch table's qemu_machine */
};

/* "secure_boot" (xova.json(5)): how the USP boots with Secure Boot on */
struct appliance_secure_boot {
        enum bootpart_sb_mode mode;     /* BOOTPART_SB_OFF when the key is absent */
        char *ca;                       /* distribution: the CA the shims must chain to, or NULL */
        char *key, *cert;               /* own-key: resolved paths (--sb-key/--sb-cert override) */
        bool sign_kernels;              /* own-key: sign the kernels with the key too */
};

struct appliance {
        char *spec_path;                /* as given */
        char *spec_dir;                 /* relative paths in the spec resolve against it */
        char *name;                     /* [a-z0-9][a-z0-9._-]*, <= 64 */
        char *version;                  /* printable, <= 64, no quotes/backslash/control */
        char *vendor;                   /* optional free text (no control chars), <= 256 */
        char *description;              /* optional free text, <= 4096 */
        enum appliance_layout layout;   /* from "layout", default split */
        uint64_t boot_size;             /* "boot_size": USP size in bytes; 0 = computed */
        struct appliance_arch *archs;   /* in spec order */
        size_t n_archs;
        struct appliance_disk *disks;   /* in spec order */
        size_t n_disks;
        struct appliance_secure_boot secure_boot;
};

/* Reads (at most APPLIANCE_SPEC_MAX bytes), parses and validates. Errors:
 * e->where = "FILE: JSONPATH" (e.g. "xova.json: disks[1].size"), e->msg says
 * what was expected. Unknown and duplicate keys are errors. */
int appliance_load(const char *path, struct appliance **ret, struct xerr *e);
/* Same from a buffer (fuzzing, tests); path names the file in messages and
 * anchors relative paths. Does not check that referenced files exist. */
int appliance_parse(const char *buf, size_t len, const char *path, struct appliance **ret,
                    struct xerr *e);
/* Checks that every referenced file/dir exists and has the right type. */
int appliance_check_sources(const struct appliance *a, struct xerr *e);
struct appliance *appliance_free(struct appliance *a);
static inline void appliance_freep(struct appliance **a) { *a = appliance_free(*a); }

const struct appliance_arch *appliance_arch_get(const struct appliance *a, const char *name);
const struct appliance_disk *appliance_root_disk(const struct appliance *a,
                                                 const struct xova_arch *arch);
const char *appliance_layout_name(enum appliance_layout l);
int appliance_layout_from_name(const char *s, enum appliance_layout *ret);

/* Makes an ext4 filesystem (or copies a raw image) of `size` bytes at byte
 * `offset` of the existing file `image`, from the disk's content.
 * Deterministic: UUID and hash seed from seed+disk name, times from epoch. */
struct appliance_fs_opts {
        const char *seed;
        uint64_t epoch;
        const char *workdir;
};
int appliance_fs_make(const struct appliance_disk *d, const char *image, uint64_t offset,
                      uint64_t size, const struct appliance_fs_opts *o, struct xerr *e);
/* Copies the regular file at `path` inside the disk's content (a directory
 * or tarball) to the new file `dest` (created, mode 0644, at most `max`
 * bytes). Symlinks on the way are followed inside the content only, never
 * on the host: "/vmlinuz -> boot/vmlinuz-6.1.0-NN-cloud-amd64" resolves in
 * the root's own /boot. -ENOENT, -ELOOP, -EISDIR... naming the path. */
int appliance_root_extract(const struct appliance_disk *d, const char *path, const char *dest,
                           uint64_t max, struct xerr *e);
/* The same for n files at once, paths[k] to dests[k]: a tarball is read
 * twice in all, not twice per file. Thread-safe for different dests. */
int appliance_root_extract_n(const struct appliance_disk *d, size_t n, const char *const *paths,
                             const char *const *dests, uint64_t max, struct xerr *e);
/* Bytes the content needs (tree/tarball size + ext4 overhead, MiB-aligned),
 * used when a disk gives no size. */
int appliance_fs_estimate(const struct appliance_disk *d, uint64_t *ret, struct xerr *e);

enum appliance_format {
        APPLIANCE_FORMAT_OVA,           /* one .ova file */
        APPLIANCE_FORMAT_DIR,           /* directory: .ovf + .mf (+ .cert) + disks */
        APPLIANCE_FORMAT_RAW,           /* directory: raw disk images + summary.json */
};

struct appliance_build_opts {
        const char *output;             /* file (ova) or directory (dir, raw) */
        enum appliance_format format;
        enum appliance_layout layout;
        bool force;                     /* replace an existing output */
        const char *const *archs;       /* NULL-terminated subset of the spec's, or NULL = all */
        const char *seed;               /* NULL = the appliance name */
        const char *const *grub_dirs;   /* see struct bootpart_usp */
        const char *sign_key;           /* PEM private key, or NULL */
        const char *sign_cert;          /* PEM certificate, or NULL */
        /* --sb-key/--sb-cert: own-key Secure Boot with this key (overrides
         * the spec's "secure_boot"); NULL = as the spec says */
        const char *sb_key;
        const char *sb_cert;
        struct xova_progress progress;
};

int appliance_build(const struct appliance *a, const struct appliance_build_opts *o,
                    struct xerr *e);
const char *appliance_format_name(enum appliance_format f);
int appliance_format_from_name(const char *s, enum appliance_format *ret);

#endif
