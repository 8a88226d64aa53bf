/* SPDX-License-Identifier: MIT */
/*
 * streamOptimized VMDK strict reader (see ovf.h; the layout is in
 * vmdk-internal.h): everything QEMU would read is checked before QEMU sees
 * the disk, and a VMDK that QEMU and we could read differently is refused.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libdeflate.h>

#include "ovf/vmdk-internal.h"

/* ------------------------------------------------------------------ */
/* Reader                                                              */

struct vmdk_reader {
        int fd;
        uint64_t base, size;            /* the VMDK is [base, base + size) of fd */
        const char *where;
        struct xerr *e;
        uint64_t capacity;              /* sectors */
        uint64_t overhead;              /* sectors */
        uint64_t gd_offset;             /* sectors */
        uint64_t n_gd;
        uint32_t *gd;
        uint32_t **gt;                  /* per GD entry: loaded table, or NULL */
        uint64_t **seen;                /* per GD entry: bitmap of GTEs matched by a record */
        uint64_t n_allocated;           /* GTEs naming a grain */
        uint64_t n_matched;
        bool footer_mode;               /* header says GD_AT_END: footer is authoritative */
        bool zero_gte;                  /* GTE 1 means "zeroed grain" */
        uint8_t hdr[SECTOR];            /* the header as read */
        struct vmdk_sparse_header h;    /* ... and decoded, once header_check() passed */
};

static int rd_err(struct vmdk_reader *rd, uint64_t off, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int rd_err(struct vmdk_reader *rd, uint64_t off, const char *fmt, ...)
{
        char msg[400];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return xerr_set(rd->e, -EBADMSG, rd->where, "offset %llu: %s", (unsigned long long) off,
                        msg);
}

/* Reads [off, off+len) of the VMDK; past its end is a format error. */
static int rd_read(struct vmdk_reader *rd, void *buf, uint64_t len, uint64_t off, const char *what)
{
        int r;

        if (off > rd->size || len > rd->size - off)
                return rd_err(rd, off, "%s (%llu bytes) extends past the end of the file (%llu bytes)",
                              what, (unsigned long long) len, (unsigned long long) rd->size);
        r = xova_pread_all(rd->fd, buf, len, (off_t) (rd->base + off));
        if (r < 0)
                return xerr_set_errno(rd->e, r, rd->where, "offset %llu: cannot read %s",
                                      (unsigned long long) off, what);
        return 0;
}

/* The fields of a header or footer that must hold for a streamOptimized extent. */
static int header_check(struct vmdk_reader *rd, const uint8_t *raw, uint64_t off)
{
        struct vmdk_sparse_header h;
        const uint32_t known = FLAG_NL_DETECT | FLAG_RGD | FLAG_ZERO_GTE | FLAG_COMPRESSED |
                               FLAG_MARKERS;

        vmdk_header_decode(raw, &h);
        if (h.magic != VMDK_MAGIC)
                return rd_err(rd, off, "not a sparse VMDK extent (magic %08x, want 564d444b \"KDMV\")", h.magic);
        if (h.version != 3)
                return rd_err(rd, off + VMDK_HDR_VERSION, "VMDK version %u, streamOptimized needs version 3",
                              h.version);
        if ((h.flags & ~known) != 0)
                return rd_err(rd, off + VMDK_HDR_FLAGS, "unknown flags %#x", h.flags & ~known);
        if ((h.flags & (FLAG_COMPRESSED | FLAG_MARKERS)) != (FLAG_COMPRESSED | FLAG_MARKERS))
                return rd_err(rd, off + VMDK_HDR_FLAGS,
                              "flags %#x: not streamOptimized (needs compressed grains and markers)",
                              h.flags);
        if ((h.flags & FLAG_NL_DETECT) && memcmp(h.nl_chars, "\n \r\n", 4) != 0)
                return rd_err(rd, off + VMDK_HDR_NL_CHARS,
                              "newline detection bytes damaged (file transferred in text mode?)");
        if (h.compress_algorithm != COMPRESS_DEFLATE)
                return rd_err(rd, off + VMDK_HDR_COMPRESS, "compression algorithm %u, want 1 (deflate)",
                              h.compress_algorithm);
        if (h.grain_size != GRAIN_SECTORS)
                return rd_err(rd, off + VMDK_HDR_GRAIN_SIZE, "grain size %llu sectors, want %u",
                              (unsigned long long) h.grain_size, GRAIN_SECTORS);
        if (h.num_gtes_per_gt != GTES_PER_GT)
                return rd_err(rd, off + VMDK_HDR_NUM_GTES, "%u entries per grain table, want %u",
                              h.num_gtes_per_gt, GTES_PER_GT);
        if (h.capacity == 0 || h.capacity > VMDK_MAX_CAPACITY / SECTOR)
                return rd_err(rd, off + VMDK_HDR_CAPACITY, "capacity %llu sectors is outside 1..%llu (64 TiB)",
                              (unsigned long long) h.capacity,
                              (unsigned long long) (VMDK_MAX_CAPACITY / SECTOR));
        /* the descriptor is required (an extent without one would take its
         * description, and its extents, from elsewhere) and lies between the
         * header and the first grain */
        if (h.desc_offset == 0 || h.desc_size == 0)
                return rd_err(rd, off + VMDK_HDR_DESC_OFFSET, "no embedded descriptor");
        if (h.desc_size > VMDK_MAX_DESC_SECTORS)
                return rd_err(rd, off + VMDK_HDR_DESC_SIZE, "descriptor of %llu sectors is more than the limit of %u",
                              (unsigned long long) h.desc_size, VMDK_MAX_DESC_SECTORS);
        if (h.desc_offset > VMDK_MAX_DESC_SECTORS || h.overhead < h.desc_offset + h.desc_size)
                return rd_err(rd, off + VMDK_HDR_DESC_OFFSET,
                              "descriptor at sector %llu (%llu sectors) is not inside the overhead of %llu sectors",
                              (unsigned long long) h.desc_offset, (unsigned long long) h.desc_size,
                              (unsigned long long) h.overhead);
        if (h.overhead > rd->size / SECTOR)
                return rd_err(rd, off + VMDK_HDR_OVERHEAD, "overhead of %llu sectors is past the end of the file",
                              (unsigned long long) h.overhead);
        return 0;
}

static bool desc_key(const char *line, size_t len, const char *key, const char **ret_val,
                     size_t *ret_vlen)
{
        size_t kl = strlen(key), i;

        if (len < kl || strncmp(line, key, kl) != 0)
                return false;
        for (i = kl; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
                ;
        if (i >= len || line[i] != '=')
                return false;
        for (i++; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
                ;
        *ret_val = line + i;
        *ret_vlen = len - i;
        return true;
}

static bool val_is(const char *v, size_t vl, const char *want)
{
        size_t wl = strlen(want);

        if (vl == wl && strncmp(v, want, wl) == 0)
                return true;
        return vl == wl + 2 && v[0] == '"' && v[vl - 1] == '"' && strncmp(v + 1, want, wl) == 0;
}

static bool val_is_ci(const char *v, size_t vl, const char *want)
{
        size_t wl = strlen(want);

        if (vl == wl + 2 && v[0] == '"' && v[vl - 1] == '"') {
                v++;
                vl -= 2;
        }
        return vl == wl && strncasecmp(v, want, wl) == 0;
}

/* Parses `RW <sectors> SPARSE "<name>"`, nothing else. */
static int extent_check(struct vmdk_reader *rd, const char *line, size_t len, uint64_t off,
                        unsigned lineno)
{
        _cleanup_free_ char *l = strndup(line, len);
        char *p, *end, *name;
        unsigned long long sectors;

        if (!l)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        if (strncmp(l, "RW ", 3) != 0)
                return rd_err(rd, off, "descriptor line %u: extent access is not RW", lineno);
        p = l + 3;
        if (*p < '0' || *p > '9')
                return rd_err(rd, off, "descriptor line %u: extent size is not a number", lineno);
        errno = 0;
        sectors = strtoull(p, &end, 10);
        if (errno != 0 || end == p || *end != ' ')
                return rd_err(rd, off, "descriptor line %u: extent size is not a number", lineno);
        if (sectors != rd->capacity)
                return rd_err(rd, off, "descriptor line %u: extent of %llu sectors, header says %llu",
                              lineno, sectors, (unsigned long long) rd->capacity);
        p = end + 1;
        if (strncmp(p, "SPARSE \"", 8) != 0)
                return rd_err(rd, off, "descriptor line %u: extent type is not SPARSE", lineno);
        name = p + 8;
        end = strchr(name, '"');
        if (!end || end[1] != '\0')
                return rd_err(rd, off, "descriptor line %u: malformed extent file name (or extra fields)",
                              lineno);
        *end = '\0';
        /* the extent of a monolithic sparse file is the file itself: a name
         * with a directory, a drive or a URL points somewhere else */
        if (name[0] == '\0' || strpbrk(name, "/\\:") || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0)
                return rd_err(rd, off, "descriptor line %u: extent names another file", lineno);
        return 0;
}

static int descriptor_check(struct vmdk_reader *rd)
{
        uint64_t doff = rd->h.desc_offset * SECTOR, dsize = rd->h.desc_size * SECTOR;
        _cleanup_free_ char *d = malloc(dsize + 1);
        size_t len, i, start;
        unsigned lineno = 0, n_extents = 0, n_create = 0, n_parent_cid = 0;
        int r;

        if (!d)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        r = rd_read(rd, d, dsize, doff, "descriptor");
        if (r < 0)
                return r;
        d[dsize] = '\0';
        len = strlen(d);
        /* after the text only NUL padding: no second text for another reader */
        for (i = len; i < dsize; i++)
                if (d[i] != '\0')
                        return rd_err(rd, doff + i, "descriptor: data after the terminating NUL");
        for (i = 0; i < len; i++) {
                unsigned char c = (unsigned char) d[i];
                if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f)
                        return rd_err(rd, doff + i, "descriptor: control character %#x", c);
        }

        for (start = 0; start < len; ) {
                const char *line = d + start, *v;
                size_t ll = strcspn(line, "\n"), vl;
                uint64_t loff = doff + start;
                size_t next = start + ll + (start + ll < len);

                lineno++;
                while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ' || line[ll - 1] == '\t'))
                        ll--;
                while (ll > 0 && (*line == ' ' || *line == '\t')) {
                        line++;
                        ll--;
                }
                start = next;
                if (ll == 0 || line[0] == '#')
                        continue;

                /* QEMU takes only RW lines as extents; we count every access
                 * mode so that a RDONLY second extent cannot hide */
                if ((ll > 3 && strncmp(line, "RW ", 3) == 0) ||
                    (ll > 7 && strncmp(line, "RDONLY ", 7) == 0) ||
                    (ll > 9 && strncmp(line, "NOACCESS ", 9) == 0)) {
                        if (++n_extents > 1)
                                return rd_err(rd, loff, "descriptor line %u: more than one extent",
                                              lineno);
                        r = extent_check(rd, line, ll, loff, lineno);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (desc_key(line, ll, "createType", &v, &vl)) {
                        if (n_create++ > 0)
                                return rd_err(rd, loff, "descriptor line %u: createType given twice",
                                              lineno);
                        if (!val_is(v, vl, "streamOptimized"))
                                return rd_err(rd, loff,
                                              "descriptor line %u: createType %s, only streamOptimized is "
                                              "accepted", lineno, xova_escape((char[XOVA_ESC_MAX]){ 0 },
                                              XOVA_ESC_MAX, v, vl > 64 ? 64 : vl, XOVA_ESC_BACKSLASH));
                        continue;
                }
                if (desc_key(line, ll, "parentCID", &v, &vl)) {
                        if (n_parent_cid++ > 0)
                                return rd_err(rd, loff, "descriptor line %u: parentCID given twice",
                                              lineno);
                        if (!val_is_ci(v, vl, "ffffffff"))
                                return rd_err(rd, loff,
                                              "descriptor line %u: parentCID %s: disks with a parent are "
                                              "refused", lineno, xova_escape((char[XOVA_ESC_MAX]){ 0 },
                                              XOVA_ESC_MAX, v, vl > 16 ? 16 : vl, XOVA_ESC_BACKSLASH));
                        continue;
                }
                /* parentFileNameHint and anything else naming a parent is a
                 * reference to another file (QEMU opens it as backing) */
                if (ll >= 6 && strncasecmp(line, "parent", 6) == 0)
                        return rd_err(rd, loff, "descriptor line %u: parent reference refused", lineno);
                /* everything else must at least look like key = value */
                {
                        size_t k = 0;
                        while (k < ll && (line[k] == '.' || line[k] == '_' ||
                                          (line[k] >= '0' && line[k] <= '9') ||
                                          (line[k] >= 'a' && line[k] <= 'z') ||
                                          (line[k] >= 'A' && line[k] <= 'Z')))
                                k++;
                        while (k < ll && (line[k] == ' ' || line[k] == '\t'))
                                k++;
                        if (k == 0 || k >= ll || line[k] != '=')
                                return rd_err(rd, loff, "descriptor line %u: not a key = value line",
                                              lineno);
                }
        }
        if (n_extents != 1)
                return rd_err(rd, doff, "descriptor: no extent line");
        if (n_create != 1)
                return rd_err(rd, doff, "descriptor: no createType");
        return 0;
}

/* Loads the GD and every grain table it names. */
static int tables_load(struct vmdk_reader *rd)
{
        uint64_t n_grains = (rd->capacity + GRAIN_SECTORS - 1) / GRAIN_SECTORS;
        uint64_t gd_off = rd->gd_offset * SECTOR, prev_end = 0;
        uint64_t desc_end = rd->h.desc_offset + rd->h.desc_size;
        int r;

        rd->n_gd = (n_grains + GTES_PER_GT - 1) / GTES_PER_GT;
        if (rd->gd_offset == 0 || rd->gd_offset > rd->size / SECTOR ||
            rd->n_gd * 4 > rd->size - gd_off)
                return rd_err(rd, rd->footer_mode ? rd->size - 1024 + 56 : 56,
                              "grain directory at sector %llu (%llu entries) is outside the file",
                              (unsigned long long) rd->gd_offset, (unsigned long long) rd->n_gd);
        rd->gd = malloc(rd->n_gd * 4);
        rd->gt = calloc(rd->n_gd, sizeof *rd->gt);
        rd->seen = calloc(rd->n_gd, sizeof *rd->seen);
        if (!rd->gd || !rd->gt || !rd->seen)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        r = rd_read(rd, rd->gd, rd->n_gd * 4, gd_off, "grain directory");
        if (r < 0)
                return r;
        for (uint64_t i = 0; i < rd->n_gd; i++) {
                uint64_t gt = xova_le32((const uint8_t *) &rd->gd[i]);
                uint8_t raw[GT_BYTES];

                if (gt == 0)
                        continue;
                /* tables in increasing, non-overlapping order (as VMware and
                 * QEMU lay them out): a table shared by two entries, or a
                 * directory pointing into itself, cannot make us load or
                 * decode the same bytes twice */
                if (gt < prev_end)
                        return rd_err(rd, gd_off + 4 * i,
                                      "grain directory entry %llu: grain table at sector %llu overlaps an earlier table",
                                      (unsigned long long) i, (unsigned long long) gt);
                if (gt < desc_end)
                        return rd_err(rd, gd_off + 4 * i,
                                      "grain directory entry %llu: grain table at sector %llu overlaps header or descriptor",
                                      (unsigned long long) i, (unsigned long long) gt);
                if (gt > rd->size / SECTOR || GT_BYTES > rd->size - gt * SECTOR)
                        return rd_err(rd, gd_off + 4 * i,
                                      "grain directory entry %llu: grain table at sector %llu is past the end of the file",
                                      (unsigned long long) i, (unsigned long long) gt);
                if (gt < rd->gd_offset + (rd->n_gd * 4 + SECTOR - 1) / SECTOR && gt + GT_SECTORS > rd->gd_offset)
                        return rd_err(rd, gd_off + 4 * i,
                                      "grain directory entry %llu: grain table at sector %llu overlaps the grain directory",
                                      (unsigned long long) i, (unsigned long long) gt);
                prev_end = gt + GT_SECTORS;
                r = rd_read(rd, raw, GT_BYTES, gt * SECTOR, "grain table");
                if (r < 0)
                        return r;
                rd->gt[i] = malloc(GT_BYTES);
                rd->seen[i] = calloc(GTES_PER_GT / 64, sizeof(uint64_t));
                if (!rd->gt[i] || !rd->seen[i])
                        return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
                for (unsigned j = 0; j < GTES_PER_GT; j++) {
                        uint32_t v = xova_le32(raw + 4 * j);
                        uint64_t g = i * GTES_PER_GT + j;

                        rd->gt[i][j] = v;
                        if (v == 0 || (v == 1 && rd->zero_gte))
                                continue;
                        if (g >= n_grains)
                                return rd_err(rd, gt * SECTOR + 4 * j,
                                              "grain table entry for LBA %llu beyond capacity",
                                              (unsigned long long) (g * GRAIN_SECTORS));
                        if (v < rd->overhead || v >= rd->size / SECTOR)
                                return rd_err(rd, gt * SECTOR + 4 * j,
                                              "grain table entry for LBA %llu points to sector %u, outside the grain area",
                                              (unsigned long long) (g * GRAIN_SECTORS), v);
                        rd->n_allocated++;
                }
        }
        return 0;
}

static void tables_free(struct vmdk_reader *rd)
{
        for (uint64_t i = 0; rd->gt && i < rd->n_gd; i++) {
                free(rd->gt[i]);
                free(rd->seen[i]);
        }
        free(rd->gt);
        free(rd->seen);
        free(rd->gd);
}

/* Inflates one grain record's data into buf (GRAIN bytes) with the output
 * capped at one grain: a record inflating to more is a deflate bomb. */
/* libdeflate's whole-buffer decompressor: ~3x zlib's inflate on 64 KiB
 * grains (the reader runs before every `xova run`, so it is on the path to
 * the guest's first instruction), and its bounded output buffer is the
 * deflate-bomb guard. It checks the zlib header and the Adler-32 trailer
 * as QEMU's uncompress() does. */
static int grain_inflate(struct vmdk_reader *rd, struct libdeflate_decompressor *d, const uint8_t *data,
                         uint32_t clen, uint8_t *buf, size_t *ret_len, uint64_t off, uint64_t lba)
{
        size_t in_used = 0, out_len = 0;

        switch (libdeflate_zlib_decompress_ex(d, data, clen, buf, GRAIN, &in_used, &out_len)) {
        case LIBDEFLATE_SUCCESS:
                if (in_used != clen)
                        return rd_err(rd, off, "grain LBA %llu: %zu bytes after the end of the deflate stream",
                                      (unsigned long long) lba, clen - in_used);
                *ret_len = out_len;
                return 0;
        case LIBDEFLATE_INSUFFICIENT_SPACE:
                return rd_err(rd, off, "grain LBA %llu: inflates to more than %u bytes",
                              (unsigned long long) lba, GRAIN);
        default:
                return rd_err(rd, off, "grain LBA %llu: corrupt or truncated deflate data",
                              (unsigned long long) lba);
        }
}

static void decompressor_freep(struct libdeflate_decompressor **d)
{
        if (*d)
                libdeflate_free_decompressor(*d);
}

/* What stream_walk() has seen so far */
struct walk {
        uint8_t *rec, *grain;           /* a record (up to two grains), a grain inflated */
        struct libdeflate_decompressor *zd;
        int out_fd;                     /* raw output, or -1 */
        uint64_t pos;                   /* offset of the next record or marker */
        uint64_t last_lba, n_gt_markers, n_gt_tables, gt_cursor;
        bool have_lba, gd_seen, footer_seen, eos;
};

/* The grain record at w->pos (header in mk): where the grain tables say,
 * in LBA order, inflating to one grain; written to the raw output if any. */
static int walk_grain(struct vmdk_reader *rd, struct walk *w, const struct vmdk_marker *mk)
{
        uint64_t lba = mk->val, gi, gti, gtj, tail;
        size_t ilen = 0, want_min;
        int r = 0;

        if (w->footer_seen || w->gd_seen)
                r = rd_err(rd, w->pos, "grain after the grain directory");
        else if (lba % GRAIN_SECTORS != 0)
                r = rd_err(rd, w->pos, "grain LBA %llu not aligned to a grain",
                           (unsigned long long) lba);
        else if (lba >= rd->capacity)
                r = rd_err(rd, w->pos, "grain LBA %llu beyond capacity",
                           (unsigned long long) lba);
        else if (mk->size > VMDK_MAX_CGRAIN)
                r = rd_err(rd, w->pos + 8, "grain LBA %llu: compressed size %u is more than %u",
                           (unsigned long long) lba, mk->size, VMDK_MAX_CGRAIN);
        else if (12 + (uint64_t) mk->size > rd->size - w->pos)
                r = rd_err(rd, w->pos + 8, "grain LBA %llu: compressed size %u extends past the end of the file",
                           (unsigned long long) lba, mk->size);
        if (r < 0)
                return r;
        /* VMware writes grains in LBA order; we rely on it
         * only to refuse duplicates cheaply */
        if (w->have_lba && lba <= w->last_lba) {
                r = rd_err(rd, w->pos, "grain LBA %llu not after the previous grain (LBA %llu)",
                           (unsigned long long) lba, (unsigned long long) w->last_lba);
                return r;
        }
        gi = lba / GRAIN_SECTORS;
        gti = gi / GTES_PER_GT;
        gtj = gi % GTES_PER_GT;
        /* what QEMU reads is what the grain tables say; the
         * stream must say exactly the same */
        if (!rd->gt[gti] || rd->gt[gti][gtj] != w->pos / SECTOR) {
                r = rd_err(rd, w->pos, "grain LBA %llu is not where the grain table points",
                           (unsigned long long) lba);
                return r;
        }
        rd->seen[gti][gtj / 64] |= UINT64_C(1) << (gtj % 64);
        rd->n_matched++;
        if (12 + mk->size > SECTOR) {
                r = rd_read(rd, w->rec + SECTOR, 12 + mk->size - SECTOR, w->pos + SECTOR, "grain");
                if (r < 0)
                        return r;
        }
        r = grain_inflate(rd, w->zd, w->rec + 12, mk->size, w->grain, &ilen, w->pos, lba);
        if (r < 0)
                return r;
        /* a full grain, or for the last one at least the part
         * inside the capacity (qemu-img writes it sector-rounded) */
        tail = (rd->capacity - lba) * SECTOR;
        want_min = tail < GRAIN ? (size_t) tail : GRAIN;
        if (ilen < want_min || ilen % SECTOR != 0 || (tail >= GRAIN && ilen != GRAIN)) {
                r = rd_err(rd, w->pos, "grain LBA %llu: inflates to %zu bytes, want %zu",
                           (unsigned long long) lba, ilen, want_min);
                return r;
        }
        if (w->out_fd >= 0) {
                r = xova_pwrite_all(w->out_fd, w->grain, want_min, (off_t) (lba * SECTOR));
                if (r < 0) {
                        r = xerr_set_errno(rd->e, r, rd->where, "cannot write raw output");
                        return r;
                }
        }
        w->last_lba = lba;
        w->have_lba = true;
        w->pos += (12 + (uint64_t) mk->size + SECTOR - 1) / SECTOR * SECTOR;
        return 0;
}

/* The marker at w->pos: in its place, naming what the footer and the grain
 * directory say; w->pos moves past it and its sectors (not past EOS). */
static int walk_marker(struct vmdk_reader *rd, struct walk *w, const struct vmdk_marker *mk)
{
        int r;

        switch (mk->type) {
        case MARKER_EOS:
                if (!xova_mem_is_zero(w->rec, SECTOR))
                        return rd_err(rd, w->pos, "malformed end-of-stream marker");
                w->eos = true;
                break;
        case MARKER_GT:
                if (mk->val != GT_SECTORS || w->gd_seen) {
                        r = rd_err(rd, w->pos, "misplaced grain table marker (%llu sectors)",
                                   (unsigned long long) mk->val);
                        return r;
                }
                /* tables are in increasing order in the directory
                 * and in the stream: the next marker must introduce
                 * the next table the directory names */
                while (w->gt_cursor < rd->n_gd && !rd->gt[w->gt_cursor])
                        w->gt_cursor++;
                if (w->gt_cursor >= rd->n_gd ||
                    xova_le32((const uint8_t *) &rd->gd[w->gt_cursor]) != w->pos / SECTOR + 1) {
                        r = rd_err(rd, w->pos, "grain table not in the grain directory");
                        return r;
                }
                w->gt_cursor++;
                w->n_gt_markers++;
                break;
        case MARKER_GD:
                if (w->gd_seen || w->pos / SECTOR + 1 != rd->gd_offset ||
                    mk->val != (rd->n_gd * 4 + SECTOR - 1) / SECTOR) {
                        r = rd_err(rd, w->pos, "grain directory marker does not match the footer");
                        return r;
                }
                w->gd_seen = true;
                break;
        case MARKER_FOOTER:
                if (!rd->footer_mode || mk->val != 1 || w->pos != rd->size - 3 * SECTOR) {
                        r = rd_err(rd, w->pos, "misplaced footer marker");
                        return r;
                }
                w->footer_seen = true;
                break;
        default:
                r = rd_err(rd, w->pos + 12, "unknown marker type %u", mk->type);
                return r;
        }
        if (w->eos)
                return 0;
        if (mk->val > (rd->size - w->pos) / SECTOR - 1) {
                r = rd_err(rd, w->pos, "marker of %llu sectors extends past the end of the file",
                           (unsigned long long) mk->val);
                return r;
        }
        w->pos += SECTOR + mk->val * SECTOR;
        return 0;
}

/* After the last record: the stream ended as the header or footer says,
 * and every grain table entry met its grain. */
static int walk_end(struct vmdk_reader *rd, struct walk *w)
{
        int r;

        if (rd->footer_mode) {
                if (!w->eos || w->pos != rd->size - SECTOR || !w->footer_seen || !w->gd_seen) {
                        r = rd_err(rd, w->pos, "stream does not end with grain directory, footer and end-of-stream marker");
                        return r;
                }
                if (w->n_gt_markers != w->n_gt_tables) {
                        r = rd_err(rd, w->pos, "%llu grain tables outside the stream",
                                   (unsigned long long) (w->n_gt_tables - w->n_gt_markers));
                        return r;
                }
        } else if (w->eos) {
                /* qemu-img leaves zero padding after its last grain; nothing
                 * else may follow the end of the stream */
                for (w->pos += SECTOR; w->pos < rd->size; ) {
                        uint64_t n = rd->size - w->pos < 2 * GRAIN ? rd->size - w->pos : 2 * GRAIN;
                        r = rd_read(rd, w->rec, n, w->pos, "padding");
                        if (r < 0)
                                return r;
                        if (!xova_mem_is_zero(w->rec, n))
                                return rd_err(rd, w->pos, "data after the end-of-stream marker");
                        w->pos += n;
                }
        } else if (w->pos != rd->size) {
                r = rd_err(rd, w->pos, "file ends inside a grain");
                return r;
        }
        if (rd->n_matched != rd->n_allocated) {
                r = rd_err(rd, rd->gd_offset * SECTOR,
                           "%llu grain table entries point to no grain in the stream",
                           (unsigned long long) (rd->n_allocated - rd->n_matched));
                return r;
        }
        return 0;
}

static int stream_walk(struct vmdk_reader *rd, int out_fd)
{
        _cleanup_free_ uint8_t *rec = malloc(2 * GRAIN), *grain = malloc(GRAIN);
        _cleanup_(decompressor_freep) struct libdeflate_decompressor *zd = libdeflate_alloc_decompressor();
        struct walk w = { .rec = rec, .grain = grain, .zd = zd, .out_fd = out_fd, .pos = rd->overhead * SECTOR };
        int r;

        if (!rec || !grain || !zd)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        for (uint64_t i = 0; i < rd->n_gd; i++)
                w.n_gt_tables += rd->gt[i] != NULL;

        while (w.pos < rd->size) {
                struct vmdk_marker mk;

                r = rd_read(rd, rec, SECTOR, w.pos, "marker");
                if (r < 0)
                        return r;
                vmdk_marker_decode(rec, &mk);
                r = mk.size != 0 ? walk_grain(rd, &w, &mk) : walk_marker(rd, &w, &mk);
                if (r < 0)
                        return r;
                if (w.eos)
                        break;
        }
        return walk_end(rd, &w);
}

int ovf_vmdk_check(int fd, uint64_t offset, uint64_t size, const char *where, int out_fd,
                   uint64_t *ret_capacity, struct xerr *e)
{
        struct vmdk_reader rd = { .fd = fd, .base = offset, .size = size, .where = where, .e = e };
        uint32_t flags;
        int r;

        if (size < SECTOR)
                return rd_err(&rd, 0, "file of %llu bytes is too short for a VMDK header",
                              (unsigned long long) size);
        if (offset > UINT64_MAX - size || offset + size > (uint64_t) INT64_MAX)
                return xerr_set(e, -EINVAL, where, "offset %llu + size %llu out of range",
                                (unsigned long long) offset, (unsigned long long) size);
        r = rd_read(&rd, rd.hdr, SECTOR, 0, "header");
        if (r < 0)
                return r;
        r = header_check(&rd, rd.hdr, 0);
        if (r < 0)
                return r;
        vmdk_header_decode(rd.hdr, &rd.h);
        flags = rd.h.flags;
        rd.capacity = rd.h.capacity;
        rd.overhead = rd.h.overhead;
        rd.zero_gte = flags & FLAG_ZERO_GTE;
        rd.gd_offset = rd.h.gd_offset;
        rd.footer_mode = rd.gd_offset == GD_AT_END;
        if (rd.footer_mode) {
                uint8_t f[3 * SECTOR];
                struct vmdk_marker fm;
                struct vmdk_sparse_header footer;

                /* QEMU reads the footer at the last 1536 bytes and then
                 * believes it over the header; so do we, after requiring
                 * that it says the same apart from the GD offset */
                if (size % SECTOR != 0 || size < rd.overhead * SECTOR + 3 * SECTOR)
                        return rd_err(&rd, size, "file too short or not sector-aligned for a footer");
                r = rd_read(&rd, f, sizeof f, size - sizeof f, "footer");
                if (r < 0)
                        return r;
                vmdk_marker_decode(f, &fm);
                if (fm.val != 1 || fm.size != 0 || fm.type != MARKER_FOOTER)
                        return rd_err(&rd, size - 3 * SECTOR, "no footer marker");
                if (!xova_mem_is_zero(f + 2 * SECTOR, SECTOR))
                        return rd_err(&rd, size - SECTOR, "no end-of-stream marker");
                r = header_check(&rd, f + SECTOR, size - 2 * SECTOR);
                if (r < 0)
                        return r;
                /* byte for byte, but the GD offset */
                if (memcmp(f + SECTOR, rd.hdr, VMDK_HDR_GD_OFFSET) != 0 ||
                    memcmp(f + SECTOR + VMDK_HDR_OVERHEAD, rd.hdr + VMDK_HDR_OVERHEAD, SECTOR - VMDK_HDR_OVERHEAD) != 0)
                        return rd_err(&rd, size - 2 * SECTOR, "footer differs from the header");
                vmdk_header_decode(f + SECTOR, &footer);
                rd.gd_offset = footer.gd_offset;
                if (rd.gd_offset == GD_AT_END)
                        return rd_err(&rd, size - 2 * SECTOR + VMDK_HDR_GD_OFFSET,
                                      "footer has no grain directory offset");
        }
        if (flags & FLAG_RGD) {
                /* not used for reading, but QEMU loads it: keep it inside */
                uint64_t rgd = rd.h.rgd_offset;
                uint64_t n_gd = ((rd.capacity + GRAIN_SECTORS - 1) / GRAIN_SECTORS + GTES_PER_GT - 1) /
                                GTES_PER_GT;
                if (rgd > size / SECTOR || n_gd * 4 > size - rgd * SECTOR)
                        return rd_err(&rd, VMDK_HDR_RGD_OFFSET, "redundant grain directory at sector %llu is outside the file",
                                      (unsigned long long) rgd);
        }
        r = descriptor_check(&rd);
        if (r < 0)
                return r;
        r = tables_load(&rd);
        if (r >= 0 && out_fd >= 0 && ftruncate(out_fd, 0) < 0)
                r = xerr_set_errno(e, -errno, where, "cannot truncate raw output");
        if (r >= 0)
                r = stream_walk(&rd, out_fd);
        if (r >= 0 && out_fd >= 0 && ftruncate(out_fd, (off_t) (rd.capacity * SECTOR)) < 0)
                r = xerr_set_errno(e, -errno, where, "cannot size raw output");
        tables_free(&rd);
        if (r < 0)
                return r;
        if (ret_capacity)
                *ret_capacity = rd.capacity * SECTOR;
        return 0;
}
