/* SPDX-License-Identifier: MIT */
/*
 * vmdk-internal.h - the on-disk structures of a streamOptimized VMDK
 * (VMware "Virtual Disk Format 5.0", hosted sparse extents), shared by the
 * writer (vmdk-write.c) and the strict reader (vmdk-read.c) only.
 *
 * Like QEMU's VMDK4Header (block/vmdk.c) and libfdisk's struct gpt_header,
 * the header is a named struct; unlike them it is never overlaid on the
 * bytes (no packed struct, no host-endian casts): vmdk_header_decode() and
 * vmdk_header_encode() convert field by field, little-endian, and the
 * VMDK_HDR_* offsets name each field's place for error messages.
 *
 * The layout the writer produces:
 *
 *   sector 0            header, gdOffset = GD_AT_END (the footer has the real one)
 *   sector 1..20        embedded descriptor (text, NUL padded)
 *   sector 128..        for each non-zero grain, in LBA order:
 *                         { u64 lba; u32 size; deflate(zlib) data } padded to a sector
 *                       after the grains of each grain table (512 grains = 32 MiB):
 *                         GT marker { u64 4; u32 0; u32 1 } + 4 sectors of GT
 *                       GD marker { u64 n; u32 0; u32 2 } + GD
 *                       footer marker { u64 1; u32 0; u32 3 } + footer (header copy)
 *                       end-of-stream marker (a zero sector)
 *
 * QEMU finds the footer at file size - 1536, so nothing may follow the EOS
 * marker, and every grain table an empty region needs is simply not written
 * (GD entry 0), as VMware does.
 */
#ifndef XOVA_OVF_VMDK_INTERNAL_H
#define XOVA_OVF_VMDK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ovf/ovf.h"

#define SECTOR 512u
#define GRAIN_SECTORS 128u                      /* 64 KiB grains, as VMware and QEMU */
#define GRAIN (GRAIN_SECTORS * SECTOR)
#define GTES_PER_GT 512u
#define GT_BYTES (GTES_PER_GT * 4u)
#define GT_SECTORS (GT_BYTES / SECTOR)
#define GT_SPAN ((uint64_t) GTES_PER_GT * GRAIN)       /* bytes covered by one grain table */
#define DESC_OFFSET 1u
#define DESC_SECTORS 20u                        /* as qemu-img: room to edit the descriptor */
#define OVERHEAD 128u                           /* grains start grain-aligned, as qemu-img */
#define GD_AT_END UINT64_MAX

#define VMDK_MAGIC 0x564d444bu                  /* "KDMV" read as little-endian u32 */
#define FLAG_NL_DETECT (1u << 0)
#define FLAG_RGD (1u << 1)
#define FLAG_ZERO_GTE (1u << 2)
#define FLAG_COMPRESSED (1u << 16)
#define FLAG_MARKERS (1u << 17)
#define COMPRESS_DEFLATE 1u

enum {
        MARKER_EOS = 0,
        MARKER_GT = 1,
        MARKER_GD = 2,
        MARKER_FOOTER = 3,
};

/* Capacity cap for untrusted input: 64 TiB. VMware's own limit is 62 TiB,
 * and a larger claim only serves to make us allocate or loop. */
#define VMDK_MAX_CAPACITY (UINT64_C(64) << 40)
/* The embedded descriptor is a few hundred bytes; 1 MiB is generous. */
#define VMDK_MAX_DESC_SECTORS 2048u
/* A compressed grain record may not exceed two grains (QEMU reads at most
 * two grains for one record, so anything larger is unreadable there). */
#define VMDK_MAX_CGRAIN (2 * GRAIN - 12)

/*
 * Compression: libdeflate, level 5, zlib format (RFC 1950 header, what
 * QEMU's uncompress() and VMware expect). A grain is one 64 KiB buffer, the
 * whole-buffer case libdeflate is built for, and it needs no per-stream
 * state. Measured on 120 MB of real files (/usr/lib/gcc + /usr/share/perl)
 * in 64 KiB grains, one core: zlib level 6 (what qemu-img uses) 9.0 s,
 * zlib 5 7.7 s, libdeflate 5 2.2 s with output 0.1% SMALLER than zlib 6;
 * libdeflate 6 costs 1.8x level 5 for 0.7% less. The reader decompresses
 * with libdeflate too (grain_inflate).
 */
#ifndef VMDK_DEFLATE_LEVEL              /* overridable only for bench/vmdk.sh level sweeps */
#define VMDK_DEFLATE_LEVEL 5
#endif

/* SparseExtentHeader: 512 bytes, little-endian; the footer is a copy with
 * the real gd_offset. */
struct vmdk_sparse_header {
        uint32_t magic;                 /* VMDK_MAGIC */
        uint32_t version;               /* 3 for streamOptimized */
        uint32_t flags;                 /* FLAG_* */
        uint64_t capacity;              /* sectors */
        uint64_t grain_size;            /* sectors */
        uint64_t desc_offset;           /* sectors */
        uint64_t desc_size;             /* sectors */
        uint32_t num_gtes_per_gt;
        uint64_t rgd_offset;            /* sectors, 0: none */
        uint64_t gd_offset;             /* sectors, GD_AT_END: see the footer */
        uint64_t overhead;              /* sectors before the first grain */
        uint8_t unclean_shutdown;
        uint8_t nl_chars[4];            /* "\n \r\n": newline detection */
        uint16_t compress_algorithm;    /* COMPRESS_DEFLATE */
        /* bytes 79..511: zero */
};

/* Byte offsets of the fields in the 512-byte header */
enum {
        VMDK_HDR_MAGIC = 0,
        VMDK_HDR_VERSION = 4,
        VMDK_HDR_FLAGS = 8,
        VMDK_HDR_CAPACITY = 12,
        VMDK_HDR_GRAIN_SIZE = 20,
        VMDK_HDR_DESC_OFFSET = 28,
        VMDK_HDR_DESC_SIZE = 36,
        VMDK_HDR_NUM_GTES = 44,
        VMDK_HDR_RGD_OFFSET = 48,
        VMDK_HDR_GD_OFFSET = 56,
        VMDK_HDR_OVERHEAD = 64,
        VMDK_HDR_UNCLEAN = 72,
        VMDK_HDR_NL_CHARS = 73,
        VMDK_HDR_COMPRESS = 77,
};

/* A marker (and the start of a grain record): { u64 val; u32 size; u32 type }.
 * size != 0: a grain record of size compressed bytes for LBA val (the
 * data starts at byte 12, where type would be); size == 0: a marker of
 * type MARKER_*, val sectors of metadata following it. */
struct vmdk_marker {
        uint64_t val;
        uint32_t size;
        uint32_t type;
};

static inline void vmdk_put_le16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static inline void vmdk_put_le32(uint8_t *p, uint32_t v)
{
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static inline void vmdk_put_le64(uint8_t *p, uint64_t v)
{
        for (unsigned i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static inline void vmdk_header_encode(const struct vmdk_sparse_header *h, uint8_t out[SECTOR])
{
        memset(out, 0, SECTOR);
        vmdk_put_le32(out + VMDK_HDR_MAGIC, h->magic);
        vmdk_put_le32(out + VMDK_HDR_VERSION, h->version);
        vmdk_put_le32(out + VMDK_HDR_FLAGS, h->flags);
        vmdk_put_le64(out + VMDK_HDR_CAPACITY, h->capacity);
        vmdk_put_le64(out + VMDK_HDR_GRAIN_SIZE, h->grain_size);
        vmdk_put_le64(out + VMDK_HDR_DESC_OFFSET, h->desc_offset);
        vmdk_put_le64(out + VMDK_HDR_DESC_SIZE, h->desc_size);
        vmdk_put_le32(out + VMDK_HDR_NUM_GTES, h->num_gtes_per_gt);
        vmdk_put_le64(out + VMDK_HDR_RGD_OFFSET, h->rgd_offset);
        vmdk_put_le64(out + VMDK_HDR_GD_OFFSET, h->gd_offset);
        vmdk_put_le64(out + VMDK_HDR_OVERHEAD, h->overhead);
        out[VMDK_HDR_UNCLEAN] = h->unclean_shutdown;
        memcpy(out + VMDK_HDR_NL_CHARS, h->nl_chars, 4);
        vmdk_put_le16(out + VMDK_HDR_COMPRESS, h->compress_algorithm);
}

static inline void vmdk_header_decode(const uint8_t in[SECTOR], struct vmdk_sparse_header *h)
{
        h->magic = xova_le32(in + VMDK_HDR_MAGIC);
        h->version = xova_le32(in + VMDK_HDR_VERSION);
        h->flags = xova_le32(in + VMDK_HDR_FLAGS);
        h->capacity = xova_le64(in + VMDK_HDR_CAPACITY);
        h->grain_size = xova_le64(in + VMDK_HDR_GRAIN_SIZE);
        h->desc_offset = xova_le64(in + VMDK_HDR_DESC_OFFSET);
        h->desc_size = xova_le64(in + VMDK_HDR_DESC_SIZE);
        h->num_gtes_per_gt = xova_le32(in + VMDK_HDR_NUM_GTES);
        h->rgd_offset = xova_le64(in + VMDK_HDR_RGD_OFFSET);
        h->gd_offset = xova_le64(in + VMDK_HDR_GD_OFFSET);
        h->overhead = xova_le64(in + VMDK_HDR_OVERHEAD);
        h->unclean_shutdown = in[VMDK_HDR_UNCLEAN];
        memcpy(h->nl_chars, in + VMDK_HDR_NL_CHARS, 4);
        h->compress_algorithm = xova_le16(in + VMDK_HDR_COMPRESS);
}

/* A whole marker sector (the rest of it zero) */
static inline void vmdk_marker_encode(const struct vmdk_marker *m, uint8_t out[SECTOR])
{
        memset(out, 0, SECTOR);
        vmdk_put_le64(out, m->val);
        vmdk_put_le32(out + 8, m->size);
        vmdk_put_le32(out + 12, m->type);
}

static inline void vmdk_marker_decode(const uint8_t in[SECTOR], struct vmdk_marker *m)
{
        m->val = xova_le64(in);
        m->size = xova_le32(in + 8);
        m->type = xova_le32(in + 12);
}

/* The 12 bytes before a grain record's data: { u64 lba; u32 size } */
static inline void vmdk_grain_record_encode(uint8_t *out, uint64_t lba, uint32_t csize)
{
        vmdk_put_le64(out, lba);
        vmdk_put_le32(out + 8, csize);
}

#endif
