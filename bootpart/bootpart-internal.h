/* SPDX-License-Identifier: MIT */
/* bootpart-internal.h - helpers shared by the bootpart/ sources, not API. */
#ifndef XOVA_BOOTPART_INTERNAL_H
#define XOVA_BOOTPART_INTERNAL_H

#include "bootpart/bootpart.h"

/* Files made in the work directory for one USP, all owned by the caller. */
struct bootpart_stage {
        char *dir;                      /* <workdir>/usp */
        char *shim[8];                  /* per payload: <dir>/<efi_name> */
        char *grub_cfg;                 /* <dir>/grub.cfg */
};

/* Validates u, creates <workdir>/usp, runs grub-mkimage once per payload and
 * writes grub.cfg there. */
int bootpart_stage_build(const struct bootpart_usp *u, struct bootpart_stage *ret,
                         struct xerr *e);
void bootpart_stage_done(struct bootpart_stage *s);

/* 8-4-4-4-12 hex digits (either case). */
bool bootpart_uuid_string_valid(const char *s);

/* Checks what grub-mkimage must have written at `path`: a PE32+ EFI
 * application for `machine` (a xova_arch pe_machine) whose sections all lie
 * inside the file. Reads the headers only (one read of at most 4 KiB). On
 * failure e is a xerr_set_tool(e, tool, ...) naming the file as `name`. */
int bootpart_pe_check(const char *path, const char *name, uint16_t machine, const char *tool,
                      struct xerr *e);

static inline uint16_t bootpart_le16(const uint8_t *p)
{
        return (uint16_t) (p[0] | p[1] << 8);
}

static inline uint32_t bootpart_le32(const uint8_t *p)
{
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

#endif
