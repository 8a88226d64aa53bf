/* SPDX-License-Identifier: MIT */
/*
 * The universal system partition: a FAT32 filesystem written into a region
 * of an image file, rootless (no mount, no loop device).
 *
 * mkfs.fat (dosfstools) and mtools are run as tools: there is no maintained
 * FAT-writing library in Debian, and both tools can work on a byte range of a
 * regular file (mkfs.fat --offset, mtools IMG@@OFFSET). Everything that
 * would vary between runs is pinned: the volume serial (derived from the
 * seed), mkfs.fat's own timestamps (--invariant) and every file and
 * directory time (mtools honours SOURCE_DATE_EPOCH).
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"
#include "bootpart/bootpart.h"
#include "bootpart/bootpart-internal.h"

/* One sector per cluster: see BOOTPART_USP_MIN_SIZE in bootpart.h. */
#define CLUSTER XOVA_SECTOR_SIZE
/* FAT cannot store times before 1980-01-01 00:00:00 (its year field counts
 * from 1980, and mtools silently wraps an earlier year into 2098). */
#define FAT_EPOCH_MIN UINT64_C(315532800)
/* ... nor after 2107-12-31 23:59:58. */
#define FAT_EPOCH_MAX UINT64_C(4354819198)

static const char *usp_label(const struct bootpart_usp *u)
{
        return u->label ? u->label : "XOVA-USP";
}

/* What mkfs.fat writes without complaint and every FAT reader accepts in a
 * volume label: upper case letters, digits, space, '-' and '_'. */
static int check_label(const char *label, struct xerr *e)
{
        size_t n = strlen(label);

        if (n == 0 || n > 11)
                return xerr_set(e, -EINVAL, label, "FAT volume label must have 1 to 11 characters");
        for (size_t i = 0; i < n; i++) {
                char c = label[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '-' ||
                      c == '_'))
                        return xerr_set(e, -EINVAL, label,
                                        "FAT volume label: character at offset %zu is not one of "
                                        "A-Z 0-9 space - _", i);
        }
        return 0;
}

static int file_size(const char *path, uint64_t *ret, struct xerr *e)
{
        struct stat st;

        if (stat(path, &st) < 0)
                return xerr_set_errno(e, -errno, path, "cannot read");
        if (!S_ISREG(st.st_mode))
                return xerr_set(e, -EINVAL, path, "not a regular file");
        *ret = (uint64_t) st.st_size;
        return 0;
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
        return (v + to - 1) / to * to;
}

/* FAT32 size for the staged files plus the payloads. The estimate is
 * deliberately generous: the cost of slack is a few sparse MiB in the
 * image, the cost of too little is a failed build. */
static int compute_size(const struct bootpart_usp *u, const struct bootpart_stage *s,
                        uint64_t *ret_bytes, uint64_t *ret_payload, struct xerr *e)
{
        uint64_t data = 0, payload = 0, sz, clusters, fat, raw, total;
        int r;

        for (size_t i = 0; i < u->n_payloads; i++) {
                const char *files[] = { s->shim[i], s->second[i],
                                        s->kernel[i] ? s->kernel[i] : u->payloads[i].kernel,
                                        u->payloads[i].initrd };
                if (!u->payloads[i].kernel)
                        return xerr_set(e, -EINVAL, u->payloads[i].arch->name, "no kernel given");
                for (size_t k = 0; k < ELEMENTSOF(files); k++) {
                        if (!files[k])
                                continue;
                        r = file_size(files[k], &sz, e);
                        if (r < 0)
                                return r;
                        if (sz > UINT64_C(1) << 40)
                                return xerr_set(e, -EFBIG, files[k], "larger than 1 TiB");
                        data += round_up(sz, CLUSTER);
                        payload += sz;
                }
        }
        r = file_size(s->grub_cfg, &sz, e);
        if (r < 0)
                return r;
        data += round_up(sz, CLUSTER);
        payload += sz;
        if (s->db_cert) {
                r = file_size(s->db_cert, &sz, e);
                if (r < 0)
                        return r;
                data += round_up(sz, CLUSTER);
                payload += sz;
        }
        /* Directories: /, EFI, EFI/BOOT, EFI/debian or EFI/xova and one per
         * arch; a few clusters each holds their (long-name) entries with
         * room to spare. */
        data += (4 + u->n_payloads) * 8 * CLUSTER;

        clusters = data / CLUSTER;
        fat = round_up((clusters + 2) * 4, XOVA_SECTOR_SIZE) * 2;         /* two FATs, 4 bytes/cluster */
        raw = 32 * XOVA_SECTOR_SIZE + fat + data;                         /* 32 reserved sectors */
        total = round_up(raw + raw / 16 + XOVA_MiB, XOVA_MiB);            /* ~6% + 1 MiB slack */
        if (total < BOOTPART_USP_MIN_SIZE)
                total = BOOTPART_USP_MIN_SIZE;
        *ret_bytes = total;
        if (ret_payload)
                *ret_payload = payload;
        return 0;
}

int bootpart_usp_size(const struct bootpart_usp *u, uint64_t *ret_bytes, struct xerr *e)
{
        _cleanup_(bootpart_stage_done) struct bootpart_stage s = { 0 };
        int r;

        r = bootpart_stage_build(u, &s, e);
        if (r < 0)
                return r;
        return compute_size(u, &s, ret_bytes, NULL, e);
}

/* Environment for mtools: every time stamp is the epoch, in UTC (FAT
 * stores local time; TZ makes "local" the same everywhere), and no
 * complaints about the geometry of a partition inside an image file. */
struct mtools_env {
        char epoch[48];
        char *envp[5];
};

static void mtools_env_init(struct mtools_env *m, uint64_t epoch)
{
        if (epoch < FAT_EPOCH_MIN)
                epoch = FAT_EPOCH_MIN;
        if (epoch > FAT_EPOCH_MAX)
                epoch = FAT_EPOCH_MAX;
        snprintf(m->epoch, sizeof(m->epoch), "SOURCE_DATE_EPOCH=%" PRIu64, epoch);
        m->envp[0] = m->epoch;
        m->envp[1] = (char *) "TZ=UTC";
        m->envp[2] = (char *) "MTOOLS_SKIP_CHECK=1";
        m->envp[3] = (char *) "LC_ALL=C";
        m->envp[4] = NULL;
}

/*
 * After each tool, a check of what it wrote, because its exit status is
 * not proof: a broken tool, a fake one first on PATH, one that ignores a
 * full disk can exit 0 having written nothing (tests/faults/build-faults.sh
 * found an ESP without kernels in a build that "succeeded"). The checks
 * read the image through the FAT reader of fat.c and run nothing: the boot
 * sector after mkfs.fat; each directory after mmd; each file's directory
 * entry, size and cluster chain after its mcopy. For the hello appliance
 * (11 lookups, 44 MB of payloads in 88000 clusters) that is 0.3 ms, against
 * some 300 ms for mkfs.fat, mmd and the seven mcopy runs themselves.
 */

/* mkfs.fat's: the image still holds the region, and at `offset` is a FAT32
 * boot sector of the size, cluster size, hidden sectors and serial asked
 * for. Opens *ret (reading through fd) for the later checks. */
static int check_mkfs(int fd, uint64_t offset, uint64_t size, uint32_t serial,
                      struct bootpart_fat *ret, struct xerr *e)
{
        _cleanup_(bootpart_fat_done) struct bootpart_fat f = { .fd = -1 };
        struct xerr sub = { 0 };
        int r;

        r = xova_image_reaches(fd, "mkfs.fat", "the boot partition", offset + size, e);
        if (r < 0)
                return r;
        r = bootpart_fat_open(fd, offset, &f, &sub);
        if (r < 0)
                return xerr_set_tool_finding(e, "mkfs.fat", r, &sub);
        if ((uint64_t) f.total_sectors * f.bytes_per_sector != size)
                return xerr_set_tool(e, "mkfs.fat", "the FAT at offset %" PRIu64 " has %" PRIu32
                                     " sectors of %" PRIu32 " bytes, want %" PRIu64 " bytes", offset,
                                     f.total_sectors, f.bytes_per_sector, size);
        if (f.cluster_bytes != CLUSTER || f.hidden_sectors != offset / XOVA_SECTOR_SIZE || f.serial != serial)
                return xerr_set_tool(e, "mkfs.fat", "the FAT at offset %" PRIu64 " has clusters of "
                                     "%" PRIu32 " bytes, %" PRIu32 " hidden sectors and serial %08"
                                     PRIX32 ", want %" PRIu64 ", %" PRIu64 " and %08" PRIX32, offset,
                                     f.cluster_bytes, f.hidden_sectors, f.serial, CLUSTER,
                                     offset / XOVA_SECTOR_SIZE, serial);
        *ret = f;
        f = (struct bootpart_fat) { .fd = -1 };
        return 0;
}

/* mmd's: each directory is there */
static int check_dir(struct bootpart_fat *f, const char *path, struct xerr *e)
{
        struct bootpart_fat_entry de;
        struct xerr sub = { 0 };
        int r = bootpart_fat_stat(f, path, &de, &sub);

        if (r < 0)
                return xerr_set_tool_finding(e, "mmd", r, &sub);
        if (!de.is_dir)
                return xerr_set_tool(e, "mmd", "'%s' is not a directory", path);
        return 0;
}

/* mcopy's: the file is there, with the size of its source and the clusters
 * that size needs (bootpart_fat_stat). Contents are not compared: that
 * would read every payload back, and a tool that allocates the clusters and
 * then writes wrong bytes is a fault none of ours has shown. */
static int check_copy(struct bootpart_fat *f, const char *path, uint64_t size, struct xerr *e)
{
        struct bootpart_fat_entry de;
        struct xerr sub = { 0 };
        int r = bootpart_fat_stat(f, path, &de, &sub);

        if (r < 0)
                return xerr_set_tool_finding(e, "mcopy", r, &sub);
        if (de.is_dir)
                return xerr_set_tool(e, "mcopy", "'%s' is a directory", path);
        if (de.size != size)
                return xerr_set_tool(e, "mcopy", "'%s' has %" PRIu64 " bytes on the ESP, its source "
                                     "has %" PRIu64, path, de.size, size);
        return 0;
}

static int mcopy(struct bootpart_fat *f, const char *target, const char *src, const char *dst,
                 char *const envp[], uint64_t *ret_size, struct xerr *e)
{
        /* No -m: it would keep the host mtime; without it mtools stamps
         * SOURCE_DATE_EPOCH. */
        const char *argv[] = { "mcopy", "-i", target, src, dst, NULL };
        uint64_t size;
        int r;

        r = file_size(src, &size, e);
        if (r < 0)
                return r;
        r = xova_run("mtools", (char *const *) argv, envp, NULL, e);
        if (r >= 0)
                r = check_copy(f, dst, size, e);
        if (r < 0)
                return xerr_prefix(e, "cannot copy '%s' to '%s'", src, dst);
        *ret_size = size;
        return 0;
}

/* grub.cfg first: GRUB's early config searches for it (at the prefix the
 * signed GRUB has built in, under distribution Secure Boot); own-key: the
 * certificate a deployer enrolls in db. */
static int copy_config(struct bootpart_fat *f, const char *target, const struct bootpart_stage *s,
                       char *const envp[], uint64_t *done, struct xerr *e)
{
        char dst[64];
        uint64_t sz;
        int r;

        snprintf(dst, sizeof(dst), "::/%s/grub.cfg", s->cfg_dir);
        r = mcopy(f, target, s->grub_cfg, dst, envp, &sz, e);
        if (r < 0)
                return r;
        *done += sz;
        if (s->db_cert) {
                r = mcopy(f, target, s->db_cert, "::/EFI/xova/db.der", envp, &sz, e);
                if (r < 0)
                        return r;
                *done += sz;
        }
        return 0;
}

int bootpart_usp_write(const struct bootpart_usp *u, const char *image, uint64_t offset,
                       uint64_t size, const struct xova_progress *progress, struct xerr *e)
{
        _cleanup_(bootpart_stage_done) struct bootpart_stage s = { 0 };
        _cleanup_(bootpart_fat_done) struct bootpart_fat fat = { .fd = -1 };
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *target = NULL;
        const char *label;
        char serial[16], hidden[32], off_arg[48], kib[32];
        struct mtools_env menv;
        uint64_t need, total, done = 0, sz;
        uint32_t serial_n;
        struct stat st;
        int r;

        if (!u || !image)
                return xerr_set(e, -EINVAL, "boot partition", "no image given");
        label = usp_label(u);
        r = check_label(label, e);
        if (r < 0)
                return r;
        if (offset % XOVA_SECTOR_SIZE || size % XOVA_MiB)
                return xerr_set(e, -EINVAL, image,
                                "boot partition at byte %" PRIu64 " size %" PRIu64 ": offset must "
                                "be a multiple of 512 and size of 1 MiB", offset, size);
        if (size < BOOTPART_USP_MIN_SIZE || size > UINT64_C(1) << 40)
                return xerr_set(e, -EINVAL, image,
                                "boot partition size %" PRIu64 " MiB: FAT32 here needs %" PRIu64
                                " MiB to 1 TiB", size / XOVA_MiB, BOOTPART_USP_MIN_SIZE / XOVA_MiB);

        /* The image must exist and hold the region: mkfs.fat would extend
         * a short file silently, hiding a layout bug. */
        fd = open(image, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return xerr_set_errno(e, -errno, image, "cannot open");
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, image, "cannot stat");
        if (!S_ISREG(st.st_mode))
                return xerr_set(e, -EINVAL, image, "not a regular file");
        if ((uint64_t) st.st_size < offset || (uint64_t) st.st_size - offset < size)
                return xerr_set(e, -EINVAL, image,
                                "boot partition at byte %" PRIu64 " (%" PRIu64 " bytes) ends "
                                "beyond the end of the image (%" PRIu64 " bytes)",
                                offset, size, (uint64_t) st.st_size);
        fd = (close(TAKE_FD(fd)), -1);

        r = bootpart_stage_build(u, &s, e);
        if (r < 0)
                return r;
        r = compute_size(u, &s, &need, &total, e);
        if (r < 0)
                return r;
        if (need > size)
                return xerr_set(e, -ENOSPC, image,
                                "boot partition of %" PRIu64 " MiB is too small for its files, "
                                "needs %" PRIu64 " MiB", size / XOVA_MiB, need / XOVA_MiB);
        total += 1;     /* the end counts as one byte so that done == total means done */
        xova_progress_report(progress, "boot partition", 0, total);

        serial_n = xova_derive_u32(u->seed ? u->seed : "", "usp-fat-serial");
        snprintf(serial, sizeof(serial), "%08" PRIX32, serial_n);
        snprintf(hidden, sizeof(hidden), "%" PRIu64, offset / XOVA_SECTOR_SIZE);
        snprintf(off_arg, sizeof(off_arg), "--offset=%" PRIu64, offset / XOVA_SECTOR_SIZE);
        snprintf(kib, sizeof(kib), "%" PRIu64, size / 1024);
        {
                /* --invariant pins mkfs.fat's times but also forces serial
                 * 1234ABCD, so -i must come after it. -S 512 -s 1: 512-byte
                 * clusters make FAT32 legal from ~33 MiB. -h: hidden sectors
                 * = partition start, as when formatting a real partition
                 * (--offset alone leaves 0). --mbr=n: no fake partition table
                 * in the boot sector. Last argument: size in KiB. mkfs.fat
                 * warns "block count mismatch" because the file is larger
                 * than the filesystem; that is expected. */
                const char *argv[] = { "mkfs.fat", "--invariant", "-i", serial, "-F", "32",
                                       "-S", "512", "-s", "1", "-h", hidden, "--mbr=n", "-n", label,
                                       off_arg, image, kib, NULL };
                r = xova_run("dosfstools", (char *const *) argv, NULL, NULL, e);
                if (r >= 0) {
                        fd = open(image, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
                        if (fd < 0)
                                return xerr_set_errno(e, -errno, image, "cannot open");
                        r = check_mkfs(fd, offset, size, serial_n, &fat, e);
                }
                if (r < 0)
                        return xerr_prefix(e, "cannot make the FAT filesystem of the boot partition");
        }

        if (asprintf(&target, "%s@@%" PRIu64, image, offset) < 0)
                return xerr_oom(e, image);
        mtools_env_init(&menv, u->epoch);
        {
                const char *argv[6 + ELEMENTSOF(s.shim)];
                _cleanup_free_ char *dirs = NULL;
                size_t k = 0, o = 0, dlen = 0;

                for (size_t i = 0; i < u->n_payloads; i++)
                        dlen += strlen(u->payloads[i].arch->name) + 4;
                dirs = malloc(dlen + 1);
                if (!dirs)
                        return xerr_oom(e, image);
                argv[k++] = "mmd";
                argv[k++] = "-i";
                argv[k++] = target;
                argv[k++] = "::/EFI";
                argv[k++] = "::/EFI/BOOT";
                if (strcmp(s.cfg_dir, "EFI/BOOT") != 0)
                        argv[k++] = "::/EFI/debian";
                if (s.db_cert)
                        argv[k++] = "::/EFI/xova";
                for (size_t i = 0; i < u->n_payloads; i++) {
                        argv[k++] = dirs + o;
                        o += (size_t) sprintf(dirs + o, "::/%s", u->payloads[i].arch->name) + 1;
                }
                argv[k] = NULL;
                r = xova_run("mtools", (char *const *) argv, menv.envp, NULL, e);
                for (size_t i = 3; r >= 0 && i < k; i++)
                        r = check_dir(&fat, argv[i], e);
                if (r < 0)
                        return xerr_prefix(e, "cannot make the boot partition directories");
        }

        r = copy_config(&fat, target, &s, menv.envp, &done, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < u->n_payloads; i++) {
                const struct bootpart_payload *p = &u->payloads[i];
                char dst[4][128];
                const char *src[4] = { s.shim[i], p->kernel, p->initrd, s.second[i] };

                if (s.kernel[i])
                        src[1] = s.kernel[i];
                snprintf(dst[0], sizeof(dst[0]), "::/EFI/BOOT/%s", p->arch->efi_name);
                snprintf(dst[1], sizeof(dst[1]), "::/%s/vmlinuz", p->arch->name);
                snprintf(dst[2], sizeof(dst[2]), "::/%s/initrd.img", p->arch->name);
                snprintf(dst[3], sizeof(dst[3]), "::/EFI/BOOT/%s", s.second_name[i]);
                for (size_t k = 0; k < 4; k++) {
                        if (!src[k])
                                continue;
                        r = mcopy(&fat, target, src[k], dst[k], menv.envp, &sz, e);
                        if (r < 0)
                                return r;
                        done += sz;
                        xova_progress_report(progress, "boot partition", done, total);
                }
        }
        xova_progress_report(progress, "boot partition", total, total);
        return 0;
}
