/* SPDX-License-Identifier: MIT */
/*
 * GPT disks with libfdisk (util-linux): a sparse image file, a protective
 * MBR and a GPT whose disk and partition GUIDs are given by the caller, so
 * that the same inputs give the same bytes.
 *
 * The layout (where each partition starts) is computed here rather than left
 * to libfdisk's defaults so that it is a plain function of the inputs,
 * testable without writing anything, and shared with whoever sizes the image.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libfdisk/libfdisk.h>

#include "common/common.h"
#include "bootpart/bootpart.h"
#include "bootpart/bootpart-internal.h"

/* GPT names are 36 UTF-16 code units; we accept ASCII only. */
#define GPT_NAME_MAX 36
/* Keeps offsets far from overflow and from what any tool handles (8 EiB). */
#define DISK_MAX (UINT64_C(1) << 50)

static void fdisk_unref_contextp(struct fdisk_context **c)
{
        if (*c)
                fdisk_unref_context(*c);
}

static void fdisk_unref_partitionp(struct fdisk_partition **p)
{
        if (*p)
                fdisk_unref_partition(*p);
}

static void fdisk_unref_parttypep(struct fdisk_parttype **t)
{
        if (*t)
                fdisk_unref_parttype(*t);
}

static int check_part(const struct bootpart_gpt_part *p, size_t i, struct xerr *e)
{
        char where[32];

        snprintf(where, sizeof(where), "partition %zu", i + 1);
        if (!p->name || !p->name[0] || strlen(p->name) > GPT_NAME_MAX)
                return xerr_set(e, -EINVAL, where, "name must have 1 to %d characters", GPT_NAME_MAX);
        for (size_t k = 0; p->name[k]; k++)
                if (p->name[k] < 0x20 || p->name[k] > 0x7e)
                        return xerr_set(e, -EINVAL, where,
                                        "name '%s': character at offset %zu is not printable ASCII",
                                        p->name, k);
        if (!p->type || !bootpart_uuid_string_valid(p->type))
                return xerr_set(e, -EINVAL, where, "type '%s' is not a GUID",
                                p->type ? p->type : "(null)");
        if (p->size == 0 || p->size % XOVA_MiB)
                return xerr_set(e, -EINVAL, where,
                                "'%s': size %" PRIu64 " is not a positive multiple of 1 MiB",
                                p->name, p->size);
        return 0;
}

int bootpart_gpt_layout(struct bootpart_gpt_part *parts, size_t n, uint64_t *ret_disk_size,
                        struct xerr *e)
{
        uint64_t off[BOOTPART_GPT_MAX_PARTS];
        uint64_t pos = XOVA_MiB;     /* the first MiB holds the MBR, GPT header and entries */
        int r;

        if (n == 0 || !parts)
                return xerr_set(e, -EINVAL, "GPT", "no partitions");
        if (n > BOOTPART_GPT_MAX_PARTS)
                return xerr_set(e, -E2BIG, "GPT", "%zu partitions, at most %d", n,
                                BOOTPART_GPT_MAX_PARTS);
        for (size_t i = 0; i < n; i++) {
                r = check_part(&parts[i], i, e);
                if (r < 0)
                        return r;
                if (parts[i].size > DISK_MAX - pos)
                        return xerr_set(e, -EFBIG, parts[i].name, "disk would exceed %" PRIu64
                                        " bytes", DISK_MAX);
                off[i] = pos;
                pos += parts[i].size;   /* sizes are MiB multiples: the next stays aligned */
        }
        if (pos > DISK_MAX - XOVA_MiB)
                return xerr_set(e, -EFBIG, "GPT", "disk would exceed %" PRIu64 " bytes", DISK_MAX);
        for (size_t i = 0; i < n; i++)
                parts[i].offset = off[i];
        /* The backup GPT (header + 16 KiB of entries) sits in the last
         * 33 sectors; one whole MiB keeps the disk size a MiB multiple. */
        *ret_disk_size = pos + XOVA_MiB;
        return 0;
}

static int fdisk_error(struct xerr *e, int r, const char *image, const char *what)
{
        if (r >= 0)
                r = -EIO;
        return xerr_set_errno(e, r, image, "%s", what);
}

static int write_label(struct fdisk_context *cxt, const char *image, const uint8_t disk_guid[16],
                       const struct bootpart_gpt_part *parts, size_t n, struct xerr *e)
{
        struct fdisk_label *lb;
        char guid[37];
        int r;

        r = fdisk_create_disklabel(cxt, "gpt");
        if (r < 0)
                return fdisk_error(e, r, image, "cannot create a GPT");
        /* libfdisk made a random disk GUID; ours makes the output reproducible. */
        r = fdisk_set_disklabel_id_from_string(cxt, xova_uuid_format(disk_guid, guid));
        if (r < 0)
                return fdisk_error(e, r, image, "cannot set the GPT disk GUID");
        lb = fdisk_get_label(cxt, NULL);
        if (!lb)
                return fdisk_error(e, -EINVAL, image, "no GPT label after creating it");

        for (size_t i = 0; i < n; i++) {
                _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = NULL;
                _cleanup_(fdisk_unref_parttypep) struct fdisk_parttype *t = NULL;
                char what[128];
                size_t partno = 0;

                snprintf(what, sizeof(what), "cannot add partition %zu '%s'", i + 1, parts[i].name);
                pa = fdisk_new_partition();
                t = fdisk_label_parse_parttype(lb, parts[i].type);
                if (!pa || !t)
                        return fdisk_error(e, -ENOMEM, image, what);
                if ((r = fdisk_partition_set_partno(pa, i)) < 0 ||
                    (r = fdisk_partition_set_start(pa, parts[i].offset / XOVA_SECTOR_SIZE)) < 0 ||
                    (r = fdisk_partition_set_size(pa, parts[i].size / XOVA_SECTOR_SIZE)) < 0 ||
                    (r = fdisk_partition_set_type(pa, t)) < 0 ||
                    (r = fdisk_partition_set_name(pa, parts[i].name)) < 0 ||
                    (r = fdisk_partition_set_uuid(pa, xova_uuid_format(parts[i].uuid, guid))) < 0)
                        return fdisk_error(e, r, image, what);
                r = fdisk_add_partition(cxt, pa, &partno);
                if (r < 0)
                        return fdisk_error(e, r, image, what);
                if (partno != i)
                        return xerr_set(e, -EIO, image, "partition %zu became number %zu", i + 1,
                                        partno + 1);
        }
        r = fdisk_write_disklabel(cxt);
        if (r < 0)
                return fdisk_error(e, r, image, "cannot write the GPT");
        return 0;
}

/* Sizes the new, empty file and writes the pMBR and GPT through libfdisk. */
static int gpt_fill(int fd, const char *image, const uint8_t disk_guid[16],
                    const struct bootpart_gpt_part *parts, size_t n, uint64_t disk, struct xerr *e)
{
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        int r;

        /* Sparse: only the GPT and what is written later take space. */
        if (ftruncate(fd, (off_t) disk) < 0)
                return xerr_set_errno(e, -errno, image, "cannot size to %" PRIu64 " bytes", disk);
        cxt = fdisk_new_context();
        if (!cxt)
                return xerr_oom(e, image);
        /* No dialogs: libfdisk must never ask (there is nobody to answer). */
        fdisk_disable_dialogs(cxt, 1);
        /* By fd: the file we just created with O_EXCL, not whatever the path
         * names by now. libfdisk does not close an fd it was given. */
        r = fdisk_assign_device_by_fd(cxt, fd, image, 0);
        if (r < 0)
                return fdisk_error(e, r, image, "cannot open as a disk");
        r = write_label(cxt, image, disk_guid, parts, n, e);
        if (r < 0) {
                fdisk_deassign_device(cxt, 1);
                return r;
        }
        /* deassign fsyncs the device */
        r = fdisk_deassign_device(cxt, 0);
        if (r < 0)
                return fdisk_error(e, r, image, "cannot write");
        return 0;
}

int bootpart_gpt_write(const char *image, const uint8_t disk_guid[16],
                       struct bootpart_gpt_part *parts, size_t n, uint64_t *ret_disk_size,
                       struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        struct bootpart_gpt_part laid[BOOTPART_GPT_MAX_PARTS];
        uint64_t disk;
        int r;

        if (!image || !disk_guid)
                return xerr_set(e, -EINVAL, "GPT", "no image or disk GUID given");
        if (n > BOOTPART_GPT_MAX_PARTS)
                return xerr_set(e, -E2BIG, image, "%zu partitions, at most %d", n,
                                BOOTPART_GPT_MAX_PARTS);
        /* parts[].offset is written only on success: out-parameters are set
         * only when the call succeeds (docs/HACKING.md, "Out-parameters"). */
        if (n > 0 && parts)
                memcpy(laid, parts, n * sizeof(*parts));
        r = bootpart_gpt_layout(parts ? laid : NULL, n, &disk, e);
        if (r < 0)
                return r;

        fd = open(image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return xerr_set_errno(e, -errno, image, "cannot create");
        r = gpt_fill(fd, image, disk_guid, laid, n, disk, e);
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = xerr_set_errno(e, -errno, image, "cannot write");
        if (r < 0) {
                /* We created it: a half-written image must not stay behind. */
                unlink(image);
                return r;
        }
        for (size_t i = 0; i < n; i++)
                parts[i].offset = laid[i].offset;
        if (ret_disk_size)
                *ret_disk_size = disk;
        return 0;
}
