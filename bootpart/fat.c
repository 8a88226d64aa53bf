/* SPDX-License-Identifier: MIT */
/*
 * A small read-only FAT32 reader, only to check what mkfs.fat, mmd and
 * mcopy wrote into the USP: their exit status is not proof (a broken tool,
 * a fake one on PATH, one that ignores a full disk all exit 0), see
 * bootpart_usp_write.
 *
 * Why our own reader and not mtools' listing (`mdir -/`, one spawn for the
 * whole tree, would do too)? mdir is the same multi-call binary as mmd and
 * mcopy, so a broken mtools would vouch for itself; its listing is written
 * for people (columns, thousands separators, 8.3 and long names side by
 * side) and would have to be parsed; and it says nothing about the cluster
 * chains behind the sizes it prints. This reader runs no process: a lookup
 * reads the boot sector once, the directory clusters on the path and the
 * FAT entries of one chain, 64 KiB of FAT at a time (one read covers 8 MiB
 * of file with 512-byte clusters).
 *
 * It knows FAT32 only (what bootpart_usp_write makes), 8.3 names and VFAT
 * long names (ASCII only: ours are), and matches names case-insensitively,
 * as FAT does. It never writes.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"
#include "bootpart/bootpart-internal.h"

#define FAT_ENTRY_MASK UINT32_C(0x0fffffff)
#define FAT_EOC_MIN UINT32_C(0x0ffffff8)        /* end of chain: 0x0ffffff8 .. 0x0fffffff */
#define FAT_WINDOW 16384u                       /* FAT entries read at once (64 KiB) */
#define FAT_DIR_MAX_BYTES (UINT32_C(65536) * 32) /* FAT allows 65536 entries per directory */
#define FAT_LFN_MAX 20                          /* 20 * 13 = 260 characters */

int bootpart_fat_open(int fd, uint64_t offset, struct bootpart_fat *ret, struct xerr *e)
{
        struct bootpart_fat f = { .fd = fd, .offset = offset };
        uint32_t rsvd, nfats, fat_sectors, spc, data_sectors;
        uint8_t b[512];
        int r;

        r = xova_pread_all(fd, b, sizeof(b), (off_t) offset);
        if (r < 0)
                return xerr_set_errno(e, r, "", "cannot read the boot sector at offset %" PRIu64, offset);
        if (b[510] != 0x55 || b[511] != 0xaa)
                return xerr_set(e, -EBADMSG, "", "no FAT boot sector at offset %" PRIu64 " (no 0x55AA "
                                "signature)", offset);
        /* BS_FilSysType of FAT32 (offset 82): informational by the spec,
         * but mkfs.fat always writes it, and FAT12/16 keep other BPB fields
         * where FAT32 keeps this */
        if (memcmp(b + 82, "FAT32   ", 8) != 0) {
                char t[9];
                for (size_t i = 0; i < 8; i++)
                        t[i] = b[82 + i] >= 0x20 && b[82 + i] < 0x7f ? (char) b[82 + i] : '?';
                t[8] = '\0';
                return xerr_set(e, -EBADMSG, "", "the boot sector at offset %" PRIu64 " is not FAT32 "
                                "(type '%s')", offset, t);
        }
        f.bytes_per_sector = xova_le16(b + 11);
        spc = b[13];
        rsvd = xova_le16(b + 14);
        nfats = b[16];
        f.hidden_sectors = xova_le32(b + 28);
        f.total_sectors = xova_le32(b + 32);
        fat_sectors = xova_le32(b + 36);
        f.root_cluster = xova_le32(b + 44);
        f.serial = xova_le32(b + 67);
        if ((f.bytes_per_sector != 512 && f.bytes_per_sector != 1024 && f.bytes_per_sector != 2048 &&
             f.bytes_per_sector != 4096) || spc == 0 || (spc & (spc - 1)) || rsvd == 0 || nfats == 0 ||
            xova_le16(b + 17) != 0 || xova_le16(b + 19) != 0 || xova_le16(b + 22) != 0 ||
            fat_sectors == 0 || b[66] != 0x29)
                return xerr_set(e, -EBADMSG, "", "the FAT32 boot sector at offset %" PRIu64 " has an "
                                "impossible BPB (%" PRIu32 " bytes per sector, %" PRIu32 " per cluster, "
                                "%" PRIu32 " FATs of %" PRIu32 " sectors)", offset, f.bytes_per_sector,
                                spc, nfats, fat_sectors);
        if ((uint64_t) rsvd + (uint64_t) nfats * fat_sectors >= f.total_sectors)
                return xerr_set(e, -EBADMSG, "", "the FAT32 boot sector at offset %" PRIu64 " leaves no "
                                "room for data (%" PRIu32 " sectors in all)", offset, f.total_sectors);
        f.cluster_bytes = f.bytes_per_sector * spc;
        f.fat_off = (uint64_t) rsvd * f.bytes_per_sector;
        f.data_off = f.fat_off + (uint64_t) nfats * fat_sectors * f.bytes_per_sector;
        data_sectors = f.total_sectors - rsvd - nfats * fat_sectors;
        f.n_clusters = data_sectors / spc;
        if ((uint64_t) fat_sectors * f.bytes_per_sector / 4 < (uint64_t) f.n_clusters + 2)
                return xerr_set(e, -EBADMSG, "", "the FAT at offset %" PRIu64 " is too small for its "
                                "%" PRIu32 " clusters", offset, f.n_clusters);
        if (f.root_cluster < 2 || f.root_cluster > f.n_clusters + 1)
                return xerr_set(e, -EBADMSG, "", "the FAT32 root directory at offset %" PRIu64 " starts "
                                "at cluster %" PRIu32 ", outside the volume", offset, f.root_cluster);
        f.win = malloc(FAT_WINDOW * sizeof(uint32_t));
        f.clu = malloc(f.cluster_bytes);
        if (!f.win || !f.clu) {
                bootpart_fat_done(&f);
                return xerr_oom(e, "");
        }
        *ret = f;
        return 0;
}

void bootpart_fat_done(struct bootpart_fat *f)
{
        if (!f)
                return;
        f->win = (free(f->win), NULL);
        f->clu = (free(f->clu), NULL);
        f->win_n = 0;
}

static bool cluster_valid(const struct bootpart_fat *f, uint32_t c)
{
        return c >= 2 && c <= f->n_clusters + 1;
}

/* The next cluster of a chain after c (valid), 0 at its end; -EBADMSG for a
 * free, reserved, bad or out-of-range entry. */
static int fat_next(struct bootpart_fat *f, uint32_t c, const char *what, uint32_t *ret,
                    struct xerr *e)
{
        uint32_t v;
        int r;

        if (c < f->win_first || c - f->win_first >= f->win_n) {
                uint32_t first = c / FAT_WINDOW * FAT_WINDOW, n = FAT_WINDOW;
                if (n > f->n_clusters + 2 - first)
                        n = f->n_clusters + 2 - first;
                f->win_n = 0;
                r = xova_pread_all(f->fd, f->win, n * sizeof(uint32_t),
                                   (off_t) (f->offset + f->fat_off + (uint64_t) first * 4));
                if (r < 0)
                        return xerr_set_errno(e, r, "", "cannot read the FAT at offset %" PRIu64,
                                              f->offset);
                for (uint32_t i = 0; i < n; i++)
                        f->win[i] = xova_le32((const uint8_t *) &f->win[i]);
                f->win_first = first;
                f->win_n = n;
        }
        v = f->win[c - f->win_first] & FAT_ENTRY_MASK;
        if (v >= FAT_EOC_MIN) {
                *ret = 0;
                return 0;
        }
        if (!cluster_valid(f, v))
                return xerr_set(e, -EBADMSG, "", "the cluster chain of '%s' is broken after cluster "
                                "%" PRIu32 " (FAT entry 0x%08" PRIx32 ")", what, c, v);
        *ret = v;
        return 0;
}

static uint8_t short_name_sum(const uint8_t *d)
{
        uint8_t sum = 0;

        for (size_t i = 0; i < 11; i++)
                sum = (uint8_t) (((sum & 1) << 7) + (sum >> 1) + d[i]);
        return sum;
}

/* "NAME.EXT" of an 8.3 entry. */
static void short_name(const uint8_t *d, char out[13])
{
        size_t k = 0;

        for (size_t i = 0; i < 8 && d[i] != ' '; i++)
                out[k++] = (char) (i == 0 && d[0] == 0x05 ? 0xe5 : d[i]);
        if (d[8] != ' ') {
                out[k++] = '.';
                for (size_t i = 8; i < 11 && d[i] != ' '; i++)
                        out[k++] = (char) d[i];
        }
        out[k] = '\0';
}

/* The entry `name` in the directory starting at cluster `dir`; -ENOENT if
 * it is not there. `what` names the directory in messages. */
static int dir_find(struct bootpart_fat *f, uint32_t dir, const char *what, const char *name,
                    struct bootpart_fat_entry *ret, struct xerr *e)
{
        /* UCS-2 positions of the 13 characters in a long-name entry */
        static const uint8_t lfn_pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
        char lfn[FAT_LFN_MAX * 13 + 1], sn[13];
        int expect = -1;                /* sequence number of the next long-name entry, 0: complete */
        uint8_t lfn_sum = 0;
        uint32_t max = FAT_DIR_MAX_BYTES / f->cluster_bytes, n = 0;
        int r;

        if (!cluster_valid(f, dir))
                return xerr_set(e, -EBADMSG, "", "the directory '%s' starts at cluster %" PRIu32
                                ", outside the volume", what, dir);
        for (uint32_t c = dir; c != 0;) {
                if (++n > max || n > f->n_clusters)
                        return xerr_set(e, -EBADMSG, "", "the directory '%s' has a looping or overlong "
                                        "cluster chain", what);
                r = xova_pread_all(f->fd, f->clu, f->cluster_bytes,
                                   (off_t) (f->offset + f->data_off + (uint64_t) (c - 2) * f->cluster_bytes));
                if (r < 0)
                        return xerr_set_errno(e, r, "", "cannot read the directory '%s'", what);
                for (uint32_t o = 0; o < f->cluster_bytes; o += 32) {
                        const uint8_t *d = f->clu + o;
                        if (d[0] == 0x00)
                                return -ENOENT;         /* no entry after this one */
                        if (d[0] == 0xe5) {             /* deleted */
                                expect = -1;
                                continue;
                        }
                        if ((d[11] & 0x3f) == 0x0f) {   /* a long-name part, last part first */
                                int seq = d[0] & 0x1f;
                                if (d[0] & 0x40) {
                                        if (seq == 0 || seq > FAT_LFN_MAX) {
                                                expect = -1;
                                                continue;
                                        }
                                        memset(lfn, 0, sizeof(lfn));
                                        expect = seq;
                                        lfn_sum = d[13];
                                }
                                if (seq != expect || d[13] != lfn_sum) {
                                        expect = -1;
                                        continue;
                                }
                                for (size_t i = 0; i < 13; i++) {
                                        uint16_t ch = xova_le16(d + lfn_pos[i]);
                                        /* 0 ends the name, 0xffff pads it; non-ASCII
                                         * never matches one of our names */
                                        lfn[(seq - 1) * 13 + i] = ch == 0xffff ? '\0' :
                                                                  ch < 0x80 ? (char) ch : '\x7f';
                                }
                                expect = seq - 1;
                                continue;
                        }
                        if (d[11] & 0x08) {             /* the volume label */
                                expect = -1;
                                continue;
                        }
                        short_name(d, sn);
                        if (strcasecmp(sn, name) == 0 ||
                            (expect == 0 && lfn_sum == short_name_sum(d) && strcasecmp(lfn, name) == 0)) {
                                *ret = (struct bootpart_fat_entry) {
                                        .is_dir = (d[11] & 0x10) != 0,
                                        .first_cluster = (uint32_t) xova_le16(d + 20) << 16 |
                                                         xova_le16(d + 26),
                                        .size = xova_le32(d + 28),
                                };
                                return 0;
                        }
                        expect = -1;
                }
                r = fat_next(f, c, what, &c, e);
                if (r < 0)
                        return r;
        }
        return -ENOENT;
}

int bootpart_fat_stat(struct bootpart_fat *f, const char *path, struct bootpart_fat_entry *ret,
                      struct xerr *e)
{
        struct bootpart_fat_entry cur = { .is_dir = true, .first_cluster = f->root_cluster };
        const char *p = path;
        char name[256];
        uint32_t want, n = 0;
        int r;

        f->win_n = 0;           /* the FAT may have changed since the last lookup */
        if (strncmp(p, "::", 2) == 0)
                p += 2;
        while (*p == '/')
                p++;
        while (*p) {
                size_t len = strcspn(p, "/"), upto = (size_t) (p - path);
                char here[300];         /* the directory searched, for messages */

                while (upto > 0 && path[upto - 1] == '/')
                        upto--;
                snprintf(here, sizeof(here), "%.*s%s", (int) upto, path,
                         upto == 0 || (upto == 2 && path[0] == ':') ? "/" : "");
                if (!cur.is_dir)
                        return xerr_set(e, -ENOTDIR, "", "'%s' is not a directory", here);
                if (len >= sizeof(name))
                        return xerr_set(e, -ENAMETOOLONG, "", "'%s': name too long", path);
                memcpy(name, p, len);
                name[len] = '\0';
                r = dir_find(f, cur.first_cluster, here, name, &cur, e);
                if (r == -ENOENT)
                        return xerr_set(e, -ENOENT, "", "'%s' is not on the ESP", path);
                if (r < 0)
                        return r;
                p += len;
                while (*p == '/')
                        p++;
        }
        if (!cur.is_dir && cur.size > 0) {
                /* a file's chain holds exactly the clusters its size needs */
                want = (uint32_t) ((cur.size + f->cluster_bytes - 1) / f->cluster_bytes);
                for (uint32_t c = cur.first_cluster; c != 0;) {
                        if (!cluster_valid(f, c))
                                return xerr_set(e, -EBADMSG, "", "'%s' (%" PRIu64 " bytes) starts at "
                                                "cluster %" PRIu32 ", outside the volume", path,
                                                cur.size, c);
                        if (++n > want)
                                return xerr_set(e, -EBADMSG, "", "'%s' has %" PRIu64 " bytes but more "
                                                "than the %" PRIu32 " clusters they need", path,
                                                cur.size, want);
                        r = fat_next(f, c, path, &c, e);
                        if (r < 0)
                                return r;
                }
                if (n < want)
                        return xerr_set(e, -EBADMSG, "", "'%s' has %" PRIu64 " bytes but only %" PRIu32
                                        " of the %" PRIu32 " clusters they need", path, cur.size, n,
                                        want);
        }
        *ret = cur;
        return 0;
}
