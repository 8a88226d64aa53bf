/* SPDX-License-Identifier: MIT */
/* bootpart-internal.h - helpers shared by the bootpart/ sources, not API. */
#ifndef XOVA_BOOTPART_INTERNAL_H
#define XOVA_BOOTPART_INTERNAL_H

#include "bootpart/bootpart.h"

/* Files made in the work directory for one USP, all owned by the caller. */
struct bootpart_stage {
        char *dir;                      /* <workdir>/usp */
        char *shim[8];                  /* per payload: <dir>/<efi_name> */
        /* Secure Boot, distribution: per payload the signed GRUB the shim
         * starts, copied to EFI/BOOT/<second_name>; NULL otherwise */
        char *second[8];
        char second_name[8][32];
        /* own-key with sign_kernels: the signed copy of the payload's
         * kernel; NULL = the payload's own kernel */
        char *kernel[8];
        char *grub_cfg;                 /* <dir>/grub.cfg */
        const char *cfg_dir;            /* where grub.cfg goes: "EFI/BOOT" or "EFI/debian" */
        char *db_cert;                  /* own-key: the certificate (DER) for EFI/xova/db.der */
};

/* Validates u, creates <workdir>/usp, runs grub-mkimage once per payload and
 * writes grub.cfg there. */
int bootpart_stage_build(const struct bootpart_usp *u, struct bootpart_stage *ret,
                         struct xerr *e);
void bootpart_stage_done(struct bootpart_stage *s);
/* Secure Boot part of bootpart_stage_build (secureboot.c): after the
 * grub-mkimage images are made (own-key) or instead of them (distribution). */
int bootpart_sb_stage(const struct bootpart_usp *u, struct bootpart_stage *s, struct xerr *e);
/* own-key: the SBAT metadata (CSV) our GRUB image carries, into out. */
int bootpart_sb_sbat(const struct bootpart_usp *u, const struct xova_arch *a, const char *out, struct xerr *e);

/* 8-4-4-4-12 hex digits (either case). */
bool bootpart_uuid_string_valid(const char *s);

/* Checks what grub-mkimage must have written at `path`: a PE32+ EFI
 * application for `machine` (a xova_arch pe_machine) whose sections all lie
 * inside the file. Reads the headers only (one read of at most 4 KiB). On
 * failure e is a xerr_set_tool(e, tool, ...) naming the file as `name`. */
int bootpart_pe_check(const char *path, const char *name, uint16_t machine, const char *tool,
                      struct xerr *e);

/* A read-only view of a FAT32 volume at `offset` of an image (fat.c): just
 * enough to check what mkfs.fat, mmd and mcopy wrote. */
struct bootpart_fat {
        int fd;                         /* borrowed; read with pread only */
        uint64_t offset;                /* of the volume in the file */
        uint32_t bytes_per_sector;      /* from the boot sector ... */
        uint32_t cluster_bytes;
        uint32_t total_sectors;
        uint32_t hidden_sectors;
        uint32_t serial;
        uint32_t root_cluster;
        uint64_t fat_off, data_off;     /* first FAT, cluster 2: bytes from the volume start */
        uint32_t n_clusters;            /* data clusters are 2 .. n_clusters + 1 */
        uint32_t *win, win_first, win_n; /* FAT entries win_first .. + win_n - 1 */
        uint8_t *clu;                   /* one cluster */
};

struct bootpart_fat_entry {
        bool is_dir;
        uint32_t first_cluster;
        uint64_t size;                  /* bytes (files) */
};

/* Reads and checks the FAT32 boot sector at `offset` of fd. -EBADMSG (with
 * e saying what is wrong) when there is none or it is inconsistent. Writes
 * *ret only on success; release it with bootpart_fat_done. */
int bootpart_fat_open(int fd, uint64_t offset, struct bootpart_fat *ret, struct xerr *e);
void bootpart_fat_done(struct bootpart_fat *f);
/* Looks up an absolute path ("/EFI/BOOT/grub.cfg"; mtools' "::" drive prefix
 * is allowed), names matched case-insensitively. For a file, also checks
 * that its cluster chain has exactly the clusters its size needs. -ENOENT
 * when it is not there, -ENOTDIR when a parent is a file, -EBADMSG for a
 * broken directory or chain; e says which, naming the path as given. */
int bootpart_fat_stat(struct bootpart_fat *f, const char *path, struct bootpart_fat_entry *ret,
                      struct xerr *e);

#endif
