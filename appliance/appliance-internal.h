/* SPDX-License-Identifier: MIT */
/* appliance-internal.h - helpers shared by the appliance/ sources, not API. */
#ifndef XOVA_APPLIANCE_INTERNAL_H
#define XOVA_APPLIANCE_INTERNAL_H

#include "appliance/appliance.h"

/* What ext4.c reads from an ext4 superblock to check mke2fs. */
struct appliance_ext4_super {
        uint64_t blocks;                /* s_blocks_count (lo, and hi with 64bit) */
        uint32_t block_size;
        uint32_t inodes, free_inodes;
        uint32_t first_data_block, blocks_per_group, inodes_per_group;
        uint32_t groups;
        uint32_t first_ino;             /* first non-reserved inode */
        uint32_t inode_size, desc_size;
        uint32_t feature_ro_compat;
        uint8_t uuid[16];
};

/* Reads and checks the ext4 superblock of the filesystem at byte `offset`
 * of fd (so at offset + 1024). -EBADMSG, e saying what is wrong, when the
 * magic 0xEF53 is missing or the fields do not add up. */
int appliance_ext4_read_super(int fd, uint64_t offset, struct appliance_ext4_super *ret,
                              struct xerr *e);

#endif
