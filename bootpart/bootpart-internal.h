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

#endif
