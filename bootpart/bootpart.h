/* SPDX-License-Identifier: MIT */
/*
 * bootpart.h - the universal system partition (USP) and GPT disks.
 *
 * For each architecture a GRUB EFI image made with grub-mkimage (an early
 * config embedded), one shared grub.cfg branching on $grub_cpu, the
 * per-arch kernel and initrd under /<arch>/, all in a FAT filesystem written
 * rootless into a region of an image file (mkfs.fat --offset + mtools: no
 * mounts, no loop devices). GPT written with libfdisk. Everything
 * deterministic: FAT serial from the seed, timestamps from the epoch.
 *
 * Uses common/ only.
 */
#ifndef XOVA_BOOTPART_H
#define XOVA_BOOTPART_H

#include "common/common.h"

/* GPT partition type GUIDs */
#define BOOTPART_TYPE_ESP "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define BOOTPART_TYPE_LINUX_DATA "0fc63daf-8483-4772-8e79-3d69d8477de4"

/* Smallest USP bootpart_usp_size() returns and bootpart_usp_write()
 * accepts. The FAT uses 512-byte clusters (one sector): FAT32 needs at least
 * 65525 clusters, i.e. ~33 MiB with them; 64 MiB keeps us far from that
 * boundary, where FAT readers disagree on FAT16 vs FAT32, and costs nothing
 * in a sparse image. Small clusters also waste little on many small files. */
#define BOOTPART_USP_MIN_SIZE (UINT64_C(64) << 20)

/* At most this many partitions (the GPT entry array we write has 128). */
#define BOOTPART_GPT_MAX_PARTS 128

/* What one architecture boots. */
struct bootpart_payload {
        const struct xova_arch *arch;
        const char *kernel;             /* host path of the kernel image */
        const char *initrd;             /* host path, or NULL */
        const char *cmdline;            /* extra kernel arguments (already validated), or NULL */
        char root_partuuid[37];         /* PARTUUID of this arch's root, "" for none */
};

/* Secure Boot of the USP (bootpart/secureboot.c). */
enum bootpart_sb_mode {
        BOOTPART_SB_OFF,
        /* Debian's Microsoft-signed shim as EFI/BOOT/BOOT<ARCH>.EFI, Debian's
         * signed GRUB beside it (grub<arch>.efi), the one grub.cfg at its
         * built-in prefix EFI/debian; every kernel must be signed by the CA of
         * the shim's vendor certificate (Debian Secure Boot CA) */
        BOOTPART_SB_DISTRIBUTION,
        /* Debian's shim re-signed with the user's key as BOOT<ARCH>.EFI,
         * our grub-mkimage image signed with it beside it (grub<arch>.efi),
         * grub.cfg in EFI/BOOT; the kernels signed too when sign_kernels
         * (else they must chain to the shim's vendor CA); the certificate
         * is shipped as EFI/xova/db.der for enrolment */
        BOOTPART_SB_OWN_KEY,
};
const char *bootpart_sb_mode_name(enum bootpart_sb_mode m);

/* Where the Microsoft UEFI CA 2011 certificate is looked for when the spec
 * names none (installed from data/secureboot/ by make install). */
#ifndef BOOTPART_SB_MICROSOFT_CA
#define BOOTPART_SB_MICROSOFT_CA "/usr/share/xova/secureboot/microsoft-uefi-ca-2011.pem"
#endif

struct bootpart_secure_boot {
        enum bootpart_sb_mode mode;
        /* distribution: the loaders set CACHE/loaders/secure-boot/<arch>
         * (shim/, grub/) is looked up under these roots (each a CACHE, e.g.
         * ~/.cache/xova), NULL-terminated; NULL = the user then the system cache */
        const char *const *loader_roots;
        const char *ca_file;            /* distribution: the CA the shims must chain to
                                         * (PEM or DER); NULL = BOOTPART_SB_MICROSOFT_CA */
        const char *key, *cert;         /* own-key: PEM private key and certificate */
        bool sign_kernels;              /* own-key: sign the kernels too */
};

struct bootpart_usp {
        const struct bootpart_payload *payloads;
        size_t n_payloads;
        /* Roots searched for GRUB module dirs: ROOT/<grub_target>/moddep.lst,
         * NULL-terminated; NULL means bootpart_grub_search_path(NULL). */
        const char *const *grub_dirs;
        const char *seed;               /* FAT serial derives from it */
        uint64_t epoch;                 /* every FAT timestamp (SOURCE_DATE_EPOCH); FAT
                                         * cannot store times before 1980 or after 2107,
                                         * so it is clamped to that range (0 -> 1980-01-01) */
        const char *label;              /* FAT volume label (<= 11 chars), NULL = "XOVA-USP" */
        const char *workdir;            /* private scratch directory */
        const struct bootpart_secure_boot *secure_boot;     /* NULL = off */
};

/* 0 when one of the PE image's Authenticode signatures chains to a CA in
 * ca_file (PEM, one or more, or one DER) and its signed hash is the image's
 * hash; -EKEYREJECTED naming `name`, the CA (ca_label, NULL = ca_file) and
 * why not. ret_signer (may be NULL)
 * gets the signing certificate's subject. */
int bootpart_pe_verify(const char *path, const char *name, const char *ca_file, const char *ca_label,
                       char *ret_signer, size_t signer_size, struct xerr *e);
/* Writes the first authorized certificate of shim's .vendor_cert section
 * (DER) to out. */
int bootpart_pe_vendor_cert(const char *shim, const char *out, struct xerr *e);
/* Signs PE image `in` into `out` with key and cert (osslsigncode; signing
 * time = epoch, so the same inputs give the same bytes) and checks the
 * result verifies against cert. */
int bootpart_pe_sign(const char *in, const char *out, const char *key, const char *cert, uint64_t epoch,
                     struct xerr *e);

/* The roots `xova build` searches for GRUB module dirs, in order: `dirs`
 * (--grub-dir; NULL or empty: the colon-separated $XOVA_GRUB_PATH), then the
 * loaders caches (per user, then BOOTPART_LOADERS_SYSTEM_DIR: their
 * loaders/grub), then /usr/lib/grub. A NULL-terminated list, freed with
 * bootpart_strv_free. */
int bootpart_grub_search_path(const char *const *dirs, char ***ret, struct xerr *e);
void bootpart_strv_free(char **v);
/* The GRUB module dir for arch: the first root holding <target>/moddep.lst.
 * A module dir with a loaders manifest (<dir>.manifest, see below) must
 * match it (else -EBADMSG naming the changed file and `xova loaders fetch`);
 * inside a loaders cache (a root whose parent holds CACHEDIR.TAG) a dir
 * without one is an unfinished fetch and is skipped. */
int bootpart_grub_dir(const struct bootpart_usp *u, const struct xova_arch *arch, char **ret,
                      struct xerr *e);
/* ------------------------------------------------------------------ */
/* The boot-loader cache (`xova loaders`, bootpart/loaders.c)          */

#define BOOTPART_LOADERS_SYSTEM_DIR "/var/cache/xova"

/* The per-user cache: $XDG_CACHE_HOME/xova, else $HOME/.cache/xova. */
int bootpart_loaders_user_dir(char **ret, struct xerr *e);
/* CACHE/loaders/grub of the user cache (NULL when there is no HOME) and of
 * the system cache. Returns 0 or -ENOMEM. */
int bootpart_loaders_grub_roots(char **ret_user, char **ret_system);
/* A cached set `dir` against `dir`.manifest: 0 same, -ENOENT not fetched,
 * -EBADMSG changed (e names the first changed file). */
int bootpart_loaders_verify(const char *dir, struct xerr *e);

struct bootpart_loaders_fetch_opts {
        const char *cache_dir;          /* CACHE: holds loaders/ and apt/ */
        const char *helper;             /* path of xova-fetch-debs */
        const struct xova_arch *const *archs;   /* NULL-terminated; NULL = every arch */
        bool secure_boot;               /* also shim-signed, shim-helpers, grub-efi-*-signed */
        bool refresh;                   /* fetch even sets that verify */
        void (*note)(void *userdata, const char *line);    /* one line per event, or NULL */
        void *userdata;
};
/* Fetches every wanted set that is missing or changed (one fetch per cache at
 * a time: CACHE/loaders/.lock). Sets that verify are not downloaded again. */
int bootpart_loaders_fetch(const struct bootpart_loaders_fetch_opts *o, struct xerr *e);

struct bootpart_loaders_info {
        const char *set;                /* "grub", "secure-boot" */
        const struct xova_arch *arch;
        const char *dir;
        int status;                     /* 0 ok, -ENOENT not fetched, -EBADMSG changed, ... */
        struct xerr why;                /* when status < 0 */
        const char *packages;           /* "PKG:ARCH VERSION\n" lines ("" if unknown) */
        char sha256[65];                /* the set's content hash ("" if unknown) */
};
typedef void (*bootpart_loaders_list_fn)(void *userdata, const struct bootpart_loaders_info *info);
/* Calls fn for every set of every arch in cache_dir (secure-boot sets that
 * were never fetched only when secure_boot). */
int bootpart_loaders_list(const char *cache_dir, bool secure_boot, bootpart_loaders_list_fn fn,
                          void *userdata, struct xerr *e);

/* The shared grub.cfg text (exposed for tests and for the summary). */
int bootpart_grub_cfg(const struct bootpart_payload *p, size_t n, char **ret, struct xerr *e);
/* Smallest FAT size in bytes (MiB-aligned) that holds the payloads, the
 * shims and slack, at least BOOTPART_USP_MIN_SIZE. Builds the shims (in
 * u->workdir/usp/) to measure them, so it needs the GRUB modules. */
int bootpart_usp_size(const struct bootpart_usp *u, uint64_t *ret_bytes, struct xerr *e);
/* Writes the USP as FAT32 of `size` bytes at byte `offset` of the existing
 * file `image`: EFI/BOOT/<efi_name> per arch, EFI/BOOT/grub.cfg,
 * /<arch>/vmlinuz and /<arch>/initrd.img. offset: multiple of 512; size:
 * multiple of 1 MiB, >= BOOTPART_USP_MIN_SIZE and >= bootpart_usp_size()
 * (else -ENOSPC); the region must lie inside the file. Runs grub-mkimage
 * (grub-common), mkfs.fat (dosfstools) and mtools; no mounts, no root.
 * Progress phase: "boot partition", in bytes copied. Same inputs, same bytes. */
int bootpart_usp_write(const struct bootpart_usp *u, const char *image, uint64_t offset,
                       uint64_t size, const struct xova_progress *progress, struct xerr *e);

struct bootpart_gpt_part {
        const char *name;               /* partition name (UTF-16 in GPT, ASCII here) */
        const char *type;               /* type GUID, lowercase string */
        uint8_t uuid[16];               /* partition GUID (derived by the caller) */
        uint64_t size;                  /* bytes, multiple of 1 MiB */
        uint64_t offset;                /* out: byte offset where the partition starts */
};

/* Computes offsets (1 MiB aligned, first at 1 MiB) and the disk size
 * (partitions + 1 MiB for the backup GPT) without writing. */
int bootpart_gpt_layout(struct bootpart_gpt_part *parts, size_t n, uint64_t *ret_disk_size,
                        struct xerr *e);
/* Creates `image` (must not exist; sparse, sized by bootpart_gpt_layout) and
 * writes a protective MBR and GPT with libfdisk. Fills parts[].offset (only
 * on success; on failure the image is removed). Same inputs, same bytes.
 * Names: 1..36 printable ASCII characters; type: a GUID string. */
int bootpart_gpt_write(const char *image, const uint8_t disk_guid[16],
                       struct bootpart_gpt_part *parts, size_t n, uint64_t *ret_disk_size,
                       struct xerr *e);

#endif
