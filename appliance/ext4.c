/* SPDX-License-Identifier: MIT */
/*
 * ext4.c - reads just enough of an ext4 filesystem to check what mke2fs
 * and debugfs did: the superblock, the group descriptors and the used part
 * of the inode tables. Read-only, no process, no library: e2fsprogs'
 * libext2fs would be the obvious reader, but linking it only for these
 * checks would add a dependency (and a second writer's view of the same
 * bytes) for a few fields at fixed offsets. Layout: the kernel's
 * Documentation/filesystems/ext4/ (super.rst, group_descr.rst, inodes.rst).
 *
 * Why check at all: the tools' exit status is not proof. mke2fs can exit 0
 * having written nothing (a fake or broken tool), and debugfs exits 0 even
 * when a `sif` command of its script fails (measured with 1.47.0: "File not
 * found by ext2_lookup" on stderr, status 0).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "appliance/appliance-internal.h"

#define EXT4_MAGIC 0xef53
#define EXT4_INCOMPAT_64BIT 0x80
#define EXT4_RO_COMPAT_GDT_CSUM 0x10
#define EXT4_RO_COMPAT_METADATA_CSUM 0x400
#define EXT4_BG_INODE_UNINIT 0x1
#define EXT4_GDT_MAX (UINT64_C(32) << 20)       /* 512 Ki groups of 64 bytes: 64 TiB at 4 KiB blocks */
#define EXT4_READ_CHUNK (64 * 1024)

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

int appliance_ext4_check_inodes(int fd, uint64_t offset, const struct appliance_ext4_super *sb,
                                uint64_t epoch, struct xerr *e)
{
        _cleanup_free_ uint8_t *gdt = NULL, *buf = NULL;
        uint64_t gdt_len = (uint64_t) sb->groups * sb->desc_size, fs_bytes = sb->blocks * sb->block_size;
        bool csum = sb->feature_ro_compat & (EXT4_RO_COMPAT_GDT_CSUM | EXT4_RO_COMPAT_METADATA_CSUM);
        size_t per_chunk = EXT4_READ_CHUNK / sb->inode_size;
        uint32_t made = (uint32_t) appliance_e2fs_time(epoch);
        int r;

        if (sb->mkfs_time != made)
                return xerr_set(e, -EBADMSG, "", "the ext4 superblock at offset %" PRIu64 " says it was made "
                                "at %" PRIu32 ", want %" PRIu32 " (E2FSPROGS_FAKE_TIME ignored?)", offset,
                                sb->mkfs_time, made);
        if (gdt_len > EXT4_GDT_MAX)
                return xerr_set(e, -EFBIG, "", "the ext4 filesystem at offset %" PRIu64 " has %" PRIu32
                                " groups, more than checked here", offset, sb->groups);
        gdt = malloc(gdt_len);
        buf = malloc(EXT4_READ_CHUNK);
        if (!gdt || !buf)
                return xerr_set(e, -ENOMEM, "", "out of memory");
        /* the descriptors start in the block after the superblock's */
        r = xova_pread_all(fd, gdt, gdt_len,
                           (off_t) (offset + (uint64_t) (sb->first_data_block + 1) * sb->block_size));
        if (r < 0)
                return xerr_set_errno(e, r, "", "cannot read the group descriptors at offset %" PRIu64,
                                      offset);
        for (uint32_t g = 0; g < sb->groups; g++) {
                const uint8_t *d = gdt + (uint64_t) g * sb->desc_size;
                uint64_t table = xova_le32(d + 0x08);
                uint32_t used = sb->inodes_per_group;

                if (sb->desc_size >= 64)
                        table |= (uint64_t) xova_le32(d + 0x28) << 32;
                if (csum) {
                        uint32_t unused = xova_le16(d + 0x1c);
                        if (sb->desc_size >= 64)
                                unused |= (uint32_t) xova_le16(d + 0x32) << 16;
                        if (xova_le16(d + 0x12) & EXT4_BG_INODE_UNINIT)
                                continue;       /* no inode of this group was ever used */
                        if (unused > used)
                                return xerr_set(e, -EBADMSG, "", "ext4 group %" PRIu32 " at offset %"
                                                PRIu64 " has %" PRIu32 " unused inodes of %" PRIu32,
                                                g, offset, unused, used);
                        used -= unused;
                }
                if (table >= sb->blocks ||
                    table * sb->block_size + (uint64_t) used * sb->inode_size > fs_bytes)
                        return xerr_set(e, -EBADMSG, "", "the inode table of ext4 group %" PRIu32
                                        " at offset %" PRIu64 " lies outside the filesystem", g,
                                        offset);
                for (uint32_t i = 0; i < used;) {
                        size_t n = used - i < per_chunk ? used - i : per_chunk;
                        r = xova_pread_all(fd, buf, n * sb->inode_size,
                                           (off_t) (offset + table * sb->block_size +
                                                    (uint64_t) i * sb->inode_size));
                        if (r < 0)
                                return xerr_set_errno(e, r, "", "cannot read the inode table at "
                                                      "offset %" PRIu64, offset);
                        for (size_t k = 0; k < n; k++, i++) {
                                const uint8_t *ino = buf + k * sb->inode_size;
                                uint32_t num = g * sb->inodes_per_group + i + 1, uid, gid, ctime;

                                if ((num != 2 && num < sb->first_ino) || xova_le16(ino + 0x1a) == 0)
                                        continue;       /* reserved, or not in use */
                                uid = xova_le16(ino + 0x02) | (uint32_t) xova_le16(ino + 0x78) << 16;
                                gid = xova_le16(ino + 0x18) | (uint32_t) xova_le16(ino + 0x7a) << 16;
                                ctime = xova_le32(ino + 0x0c);
                                /* the low 32 bits only: above 2038 the rest is in
                                 * i_ctime_extra, which this check leaves alone */
                                if ((ctime != (uint32_t) epoch && ctime != made) ||
                                    uid != 0 || gid != 0)
                                        return xerr_set(e, -EBADMSG, "", "ext4 inode %" PRIu32 " at "
                                                        "offset %" PRIu64 " has ctime %" PRIu32
                                                        " and owner %" PRIu32 ":%" PRIu32 ", want "
                                                        "ctime %" PRIu32 " and owner 0:0", num,
                                                        offset, ctime, uid, gid, (uint32_t) epoch);
                        }
                }
        }
        return 0;
}
