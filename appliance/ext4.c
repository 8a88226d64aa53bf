/* SPDX-License-Identifier: MIT */
/*
 * ext4.c - reads just enough of an ext4 superblock to check what mke2fs
 * did. Read-only, by hand rather than with libext2fs: the check must not
 * trust the library that would then write to the same bytes, and it needs a
 * few fields at fixed offsets. Layout: the kernel's
 * Documentation/filesystems/ext4/super.rst.
 *
 * Why check at all: a tool's exit status is not proof. mke2fs can exit 0
 * having written nothing (a fake or broken tool).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "appliance/appliance-internal.h"

#define EXT4_MAGIC 0xef53
#define EXT4_INCOMPAT_64BIT 0x80

static bool pow2_between(uint32_t v, uint32_t lo, uint32_t hi)
{
        return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

int appliance_ext4_read_super(int fd, uint64_t offset, struct appliance_ext4_super *ret,
                              struct xerr *e)
{
        struct appliance_ext4_super sb = { 0 };
        uint8_t b[1024];
        uint32_t log_bs, rev, incompat;
        uint64_t groups;
        int r;

        r = xova_pread_all(fd, b, sizeof(b), (off_t) (offset + 1024));
        if (r < 0)
                return xerr_set_errno(e, r, "", "cannot read the superblock at offset %" PRIu64, offset);
        if (xova_le16(b + 0x38) != EXT4_MAGIC)
                return xerr_set(e, -EBADMSG, "", "no ext4 superblock at offset %" PRIu64 " (magic "
                                "0x%04x at byte %" PRIu64 ", want 0xef53)", offset, xova_le16(b + 0x38),
                                offset + 1024 + 0x38);
        incompat = xova_le32(b + 0x60);
        log_bs = xova_le32(b + 0x18);
        rev = xova_le32(b + 0x4c);
        sb.inodes = xova_le32(b + 0x00);
        sb.blocks = xova_le32(b + 0x04);
        if (incompat & EXT4_INCOMPAT_64BIT)
                sb.blocks |= (uint64_t) xova_le32(b + 0x150) << 32;
        sb.free_inodes = xova_le32(b + 0x10);
        sb.first_data_block = xova_le32(b + 0x14);
        sb.blocks_per_group = xova_le32(b + 0x20);
        sb.inodes_per_group = xova_le32(b + 0x28);
        sb.first_ino = rev >= 1 ? xova_le32(b + 0x54) : 11;
        sb.inode_size = rev >= 1 ? xova_le16(b + 0x58) : 128;
        sb.desc_size = incompat & EXT4_INCOMPAT_64BIT ? xova_le16(b + 0xfe) : 32;
        sb.feature_ro_compat = xova_le32(b + 0x64);
        sb.mkfs_time = xova_le32(b + 0x108);
        memcpy(sb.uuid, b + 0x68, 16);
        if (log_bs > 6 || sb.blocks_per_group == 0 || sb.inodes_per_group == 0 ||
            sb.first_data_block >= sb.blocks || sb.free_inodes > sb.inodes || sb.first_ino < 11 ||
            !pow2_between(sb.inode_size, 128, 1024u << log_bs) || !pow2_between(sb.desc_size, 32, 1024))
                return xerr_set(e, -EBADMSG, "", "the ext4 superblock at offset %" PRIu64 " is "
                                "inconsistent (block size 2^%" PRIu32 " KiB, %" PRIu32 " inodes of %"
                                PRIu32 " bytes, descriptors of %" PRIu32 ")", offset, log_bs,
                                sb.inodes, sb.inode_size, sb.desc_size);
        sb.block_size = 1024u << log_bs;
        groups = (sb.blocks - sb.first_data_block + sb.blocks_per_group - 1) / sb.blocks_per_group;
        if (groups * sb.inodes_per_group != sb.inodes)
                return xerr_set(e, -EBADMSG, "", "the ext4 superblock at offset %" PRIu64 " has %"
                                PRIu64 " groups of %" PRIu32 " inodes but %" PRIu32 " inodes", offset,
                                groups, sb.inodes_per_group, sb.inodes);
        sb.groups = (uint32_t) groups;
        *ret = sb;
        return 0;
}
