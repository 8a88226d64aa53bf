/* SPDX-License-Identifier: MIT */
/*
 * streamOptimized VMDK: writer and strict reader (see ovf.h).
 *
 * Hand-written because no Debian-packaged library writes streamOptimized
 * VMDK (qemu-img does, but only single-threaded and as a child process, and
 * libguestfs/libvirt go through qemu-img). The layout follows VMware's
 * "Virtual Disk Format 5.0" for hosted sparse extents and was checked
 * against what QEMU's block/vmdk.c reads and writes:
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
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <libdeflate.h>
#include <zlib.h>

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

static inline void put_le16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
        for (unsigned i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static bool all_zero(const uint8_t *p, size_t n)
{
        /* 64 bytes at a time (memcpy compiles to plain loads): most zero
         * grains sit in long zero runs, and this runs on every grain */
        size_t i;

        for (i = 0; i + 64 <= n; i += 64) {
                uint64_t w[8];
                memcpy(w, p + i, sizeof w);
                if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
                        return false;
        }
        for (; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* SparseExtentHeader (VMware "Virtual Disk Format 5.0", 512 bytes, LE). */
static void header_build(uint8_t h[SECTOR], uint64_t capacity_sectors, uint64_t gd_offset)
{
        memset(h, 0, SECTOR);
        put_le32(h + 0, VMDK_MAGIC);
        put_le32(h + 4, 3);                                     /* version */
        put_le32(h + 8, FLAG_NL_DETECT | FLAG_COMPRESSED | FLAG_MARKERS);
        put_le64(h + 12, capacity_sectors);
        put_le64(h + 20, GRAIN_SECTORS);
        put_le64(h + 28, DESC_OFFSET);
        put_le64(h + 36, DESC_SECTORS);
        put_le32(h + 44, GTES_PER_GT);
        put_le64(h + 48, 0);                                    /* rgdOffset: none */
        put_le64(h + 56, gd_offset);
        put_le64(h + 64, OVERHEAD);
        h[72] = 0;                                              /* uncleanShutdown */
        h[73] = '\n';                                           /* newline detection */
        h[74] = ' ';
        h[75] = '\r';
        h[76] = '\n';
        put_le16(h + 77, COMPRESS_DEFLATE);
}

static void marker_build(uint8_t m[SECTOR], uint64_t sectors, uint32_t type)
{
        memset(m, 0, SECTOR);
        put_le64(m, sectors);
        put_le32(m + 12, type);
}

static int descriptor_build(char *buf, size_t size, uint64_t capacity, const char *seed)
{
        uint64_t sectors = capacity / SECTOR;
        uint64_t cyl = sectors / (255 * 63);
        uint8_t u[16], lc[16];
        char uuid[16 * 3], lcid[33];
        uint32_t cid;
        int n;

        /* The CID changes whenever the content changes in VMware's model;
         * here it is a function of the seed only, so rebuilds are identical. */
        cid = xova_derive_u32(seed, "vmdk-cid");
        if (cid == UINT32_MAX)          /* ffffffff means "no parent", never a CID */
                cid = 0xfffffffe;
        xova_derive_uuid(seed, "vmdk-uuid", u);
        xova_derive_uuid(seed, "vmdk-long-content-id", lc);
        for (unsigned i = 0; i < 16; i++) {
                snprintf(uuid + 3 * i, 4, "%02x%s", u[i], i < 15 ? " " : "");
                snprintf(lcid + 2 * i, 3, "%02x", lc[i]);
        }
        if (cyl > 65535)
                cyl = 65535;
        if (cyl == 0)
                cyl = 1;

        /* The extent name is nominal: in a monolithic sparse file the extent
         * is the file itself and readers ignore the name (the OVA member name
         * is decided by ovf/, not known here). */
        n = snprintf(buf, size,
                     "# Disk DescriptorFile\n"
                     "version=1\n"
                     "encoding=\"UTF-8\"\n"
                     "CID=%08x\n"
                     "parentCID=ffffffff\n"
                     "createType=\"streamOptimized\"\n"
                     "\n"
                     "# Extent description\n"
                     "RW %llu SPARSE \"disk.vmdk\"\n"
                     "\n"
                     "# The Disk Data Base\n"
                     "#DDB\n"
                     "\n"
                     "ddb.adapterType = \"lsilogic\"\n"
                     "ddb.geometry.cylinders = \"%llu\"\n"
                     "ddb.geometry.heads = \"255\"\n"
                     "ddb.geometry.sectors = \"63\"\n"
                     "ddb.longContentID = \"%s\"\n"
                     "ddb.uuid = \"%s\"\n"
                     "ddb.virtualHWVersion = \"4\"\n",
                     cid, (unsigned long long) sectors, (unsigned long long) cyl, lcid, uuid);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */

/* Output: buffered sequential writes, every byte hashed as written. */
struct vmdk_out {
        int fd;
        uint64_t pos;                   /* bytes from the start of the VMDK */
        uint8_t *buf;
        size_t len, size;
        EVP_MD_CTX *md;
};

static int out_flush(struct vmdk_out *o)
{
        int r;

        if (o->len == 0)
                return 0;
        r = xova_write_all(o->fd, o->buf, o->len);
        if (r < 0)
                return r;
        o->len = 0;
        return 0;
}

static int out_put(struct vmdk_out *o, const void *data, size_t len)
{
        const uint8_t *p = data;
        int r;

        if (EVP_DigestUpdate(o->md, data, len) != 1)
                return -EIO;
        o->pos += len;
        while (len > 0) {
                size_t n = o->size - o->len;
                if (n > len)
                        n = len;
                memcpy(o->buf + o->len, p, n);
                o->len += n;
                p += n;
                len -= n;
                if (o->len == o->size) {
                        r = out_flush(o);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* One grain in flight. */
struct vmdk_slot {
        uint8_t *in;                    /* GRAIN bytes, inside the ring's input buffer */
        uint8_t *out;                   /* record: lba, size, data, padding */
        size_t out_len;                 /* 0: all-zero grain, not written */
        int error;                      /* compression failure (cannot happen short of a bug) */
        bool done;
};

struct vmdk_pipe {
        pthread_mutex_t lock;
        pthread_cond_t work;            /* read_seq advanced, or stop */
        pthread_cond_t done;            /* a slot finished */
        struct vmdk_slot *slots;
        size_t n_slots;
        uint64_t read_seq;              /* grains read (available to workers) */
        uint64_t job_seq;               /* grains taken by workers */
        uint64_t n_grains;
        uint64_t raw_size;
        bool stop;
};

static size_t record_max(void)
{
        size_t bound = libdeflate_zlib_compress_bound(NULL, GRAIN);

        if (bound < compressBound(GRAIN))
                bound = compressBound(GRAIN);
        /* 12 byte record header, worst-case deflate, padding to a sector */
        return (12 + bound + SECTOR - 1) / SECTOR * SECTOR;
}

static void grain_compress(struct vmdk_pipe *p, struct libdeflate_compressor *c, uint64_t seq)
{
        struct vmdk_slot *s = &p->slots[seq % p->n_slots];
        size_t max = record_max();
        uint64_t lba = seq * GRAIN_SECTORS;
        size_t clen, len;

        s->error = 0;
        if (all_zero(s->in, GRAIN)) {
                s->out_len = 0;
                return;
        }
        clen = libdeflate_zlib_compress(c, s->in, GRAIN, s->out + 12, max - 12);
        if (clen == 0) {                /* the buffer is sized by the bound: cannot happen */
                s->error = -EIO;
                return;
        }
        put_le64(s->out, lba);
        put_le32(s->out + 8, (uint32_t) clen);
        len = (12 + clen + SECTOR - 1) / SECTOR * SECTOR;
        memset(s->out + 12 + clen, 0, len - 12 - clen);
        s->out_len = len;
}

static void *worker_main(void *arg)
{
        struct vmdk_pipe *p = arg;
        /* one compressor per thread (it holds ~1 MiB of match-finder state) */
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(VMDK_DEFLATE_LEVEL);

        pthread_mutex_lock(&p->lock);
        for (;;) {
                uint64_t seq;

                while (!p->stop && p->job_seq >= p->read_seq)
                        pthread_cond_wait(&p->work, &p->lock);
                if (p->stop)
                        break;
                seq = p->job_seq++;
                pthread_mutex_unlock(&p->lock);

                if (c)
                        grain_compress(p, c, seq);
                else
                        p->slots[seq % p->n_slots].error = -ENOMEM;

                pthread_mutex_lock(&p->lock);
                p->slots[seq % p->n_slots].done = true;
                pthread_cond_signal(&p->done);
        }
        pthread_mutex_unlock(&p->lock);
        libdeflate_free_compressor(c);
        return NULL;
}

static unsigned threads_default(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        return n < 1 ? 1 : n > 64 ? 64 : (unsigned) n;
}

static int gt_flush(struct vmdk_out *o, uint32_t *gt, bool *gt_used, uint32_t *gd_entry)
{
        uint8_t m[SECTOR];
        uint8_t b[GT_BYTES];
        int r;

        if (!*gt_used)
                return 0;       /* no grain in this 32 MiB: no table, GD entry 0 */
        marker_build(m, GT_SECTORS, MARKER_GT);
        r = out_put(o, m, SECTOR);
        if (r < 0)
                return r;
        *gd_entry = (uint32_t) (o->pos / SECTOR);
        for (unsigned i = 0; i < GTES_PER_GT; i++)
                put_le32(b + 4 * i, gt[i]);
        r = out_put(o, b, GT_BYTES);
        if (r < 0)
                return r;
        memset(gt, 0, GT_BYTES);
        *gt_used = false;
        return 0;
}

int ovf_vmdk_write(int raw_fd, uint64_t raw_size, int out_fd, const char *seed, unsigned threads,
                   const struct xova_progress *progress, struct ovf_vmdk_info *ret,
                   struct xerr *e)
{
        /* chunks read at once: large preads, but small enough to keep workers fed */
        const size_t read_chunk = 16;
        struct vmdk_pipe p = {
                .lock = PTHREAD_MUTEX_INITIALIZER,
                .work = PTHREAD_COND_INITIALIZER,
                .done = PTHREAD_COND_INITIALIZER,
        };
        struct vmdk_out o = { .fd = out_fd, .size = 1u << 20 };
        uint8_t *in = NULL, *outs = NULL, *obuf = NULL;
        uint32_t *gd = NULL;
        pthread_t *tids = NULL;
        char *desc = NULL;
        uint8_t sec[SECTOR];
        uint32_t gt[GTES_PER_GT] = {};
        bool gt_used = false;
        uint64_t n_gt, gd_bytes, gd_sectors, gd_offset, write_seq = 0, populated = 0;
        uint64_t next_report = 0;
        unsigned n_threads = 0;
        unsigned mdlen = 0;
        uint8_t digest[EVP_MAX_MD_SIZE];
        size_t rmax = record_max();
        int r = 0, desc_len;
        char where[64];

        snprintf(where, sizeof where, "vmdk writer");
        if (!seed)
                seed = "";
        if (raw_size % SECTOR != 0)
                return xerr_set(e, -EINVAL, where, "raw size %llu is not a multiple of 512",
                                (unsigned long long) raw_size);
        if (raw_size == 0)
                return xerr_set(e, -EINVAL, where, "raw image is empty");
        if (raw_size > VMDK_MAX_CAPACITY)
                return xerr_set(e, -EFBIG, where, "raw size %llu is more than the limit of %llu",
                                (unsigned long long) raw_size,
                                (unsigned long long) VMDK_MAX_CAPACITY);

        p.raw_size = raw_size;
        p.n_grains = (raw_size + GRAIN - 1) / GRAIN;
        n_gt = (p.n_grains + GTES_PER_GT - 1) / GTES_PER_GT;
        gd_bytes = n_gt * 4;
        gd_sectors = (gd_bytes + SECTOR - 1) / SECTOR;
        if (threads == 0)
                threads = threads_default();
        if (threads > 64)
                threads = 64;
        /* bounded window: 16 grains (1 MiB) per thread in flight, so the
         * writer never waits on one slow grain while others sit idle */
        p.n_slots = (size_t) threads * 16;
        if (p.n_slots < 2 * read_chunk)
                p.n_slots = 2 * read_chunk;

        in = malloc(p.n_slots * GRAIN);
        outs = malloc(p.n_slots * rmax);
        p.slots = calloc(p.n_slots, sizeof *p.slots);
        obuf = malloc(o.size);
        gd = calloc(n_gt ? n_gt : 1, sizeof *gd);
        tids = calloc(threads, sizeof *tids);
        desc = calloc(DESC_SECTORS, SECTOR);
        o.md = EVP_MD_CTX_new();
        if (!in || !outs || !p.slots || !obuf || !gd || !tids || !desc || !o.md) {
                r = xerr_set(e, -ENOMEM, where, "out of memory");
                goto out;
        }
        o.buf = obuf;
        for (size_t i = 0; i < p.n_slots; i++) {
                p.slots[i].in = in + i * GRAIN;
                p.slots[i].out = outs + i * rmax;
        }
        if (EVP_DigestInit_ex(o.md, EVP_sha256(), NULL) != 1) {
                r = xerr_set(e, -EIO, where, "cannot initialise SHA-256");
                goto out;
        }

        /* header and descriptor */
        header_build(sec, raw_size / SECTOR, GD_AT_END);
        desc_len = descriptor_build(desc, DESC_SECTORS * SECTOR, raw_size, seed);
        if (desc_len < 0) {
                r = xerr_set(e, -ENOBUFS, where, "descriptor does not fit");
                goto out;
        }
        r = out_put(&o, sec, SECTOR);
        if (r >= 0)
                r = out_put(&o, desc, DESC_SECTORS * SECTOR);
        memset(sec, 0, SECTOR);
        while (r >= 0 && o.pos < OVERHEAD * SECTOR)
                r = out_put(&o, sec, SECTOR);
        if (r < 0) {
                r = xerr_set_errno(e, r, where, "cannot write");
                goto out;
        }

        for (; n_threads < threads; n_threads++) {
                r = -pthread_create(&tids[n_threads], NULL, worker_main, &p);
                if (r < 0) {
                        r = xerr_set_errno(e, r, where, "cannot start thread");
                        goto out;
                }
        }

        while (write_seq < p.n_grains) {
                struct vmdk_slot *s;
                bool done;

                /* read ahead while there is room in the window */
                if (p.read_seq < p.n_grains && p.read_seq - write_seq < p.n_slots) {
                        uint64_t first = p.read_seq;
                        size_t idx = (size_t) (first % p.n_slots);
                        uint64_t n = p.n_slots - (first - write_seq);
                        uint64_t off = first * GRAIN, len;

                        if (n > read_chunk)
                                n = read_chunk;
                        if (n > p.n_slots - idx)
                                n = p.n_slots - idx;            /* no wrap inside one pread */
                        if (n > p.n_grains - first)
                                n = p.n_grains - first;
                        len = n * GRAIN;
                        if (len > raw_size - off) {
                                len = raw_size - off;           /* tail: pad with zeros */
                                memset(in + idx * GRAIN + len, 0, n * GRAIN - len);
                        }
                        r = xova_pread_all(raw_fd, in + idx * GRAIN, len, (off_t) off);
                        if (r < 0) {
                                r = xerr_set_errno(e, r, where, "cannot read raw image at %llu",
                                                   (unsigned long long) off);
                                goto out;
                        }
                        pthread_mutex_lock(&p.lock);
                        for (uint64_t i = 0; i < n; i++)
                                p.slots[idx + i].done = false;
                        p.read_seq += n;
                        pthread_cond_broadcast(&p.work);
                        pthread_mutex_unlock(&p.lock);
                }

                /* write finished grains in LBA order; block only when the
                 * window is full (or everything is read) */
                s = &p.slots[write_seq % p.n_slots];
                pthread_mutex_lock(&p.lock);
                if (p.read_seq == p.n_grains || p.read_seq - write_seq >= p.n_slots)
                        while (!s->done)
                                pthread_cond_wait(&p.done, &p.lock);
                done = s->done;
                pthread_mutex_unlock(&p.lock);
                if (!done)
                        continue;
                for (;;) {
                        uint64_t gti = write_seq / GTES_PER_GT;

                        if (s->error < 0) {
                                r = xerr_set_errno(e, s->error, where,
                                                   "cannot compress grain at %llu",
                                                   (unsigned long long) (write_seq * GRAIN));
                                goto out;
                        }
                        if (s->out_len > 0) {
                                uint64_t sector = o.pos / SECTOR;
                                uint64_t gl = write_seq == p.n_grains - 1 ? raw_size - write_seq * GRAIN : GRAIN;

                                if (sector > UINT32_MAX) {
                                        r = xerr_set(e, -EFBIG, where,
                                                     "VMDK would exceed 2 TiB (grain table entries are 32-bit sectors)");
                                        goto out;
                                }
                                gt[write_seq % GTES_PER_GT] = (uint32_t) sector;
                                gt_used = true;
                                populated += gl;
                                r = out_put(&o, s->out, s->out_len);
                                if (r < 0) {
                                        r = xerr_set_errno(e, r, where, "cannot write");
                                        goto out;
                                }
                        }
                        write_seq++;
                        if (write_seq % GTES_PER_GT == 0 || write_seq == p.n_grains) {
                                r = gt_flush(&o, gt, &gt_used, &gd[gti]);
                                if (r < 0) {
                                        r = xerr_set_errno(e, r, where, "cannot write");
                                        goto out;
                                }
                        }
                        if (write_seq * GRAIN >= next_report) {
                                xova_progress_report(progress, "vmdk",
                                                     write_seq * GRAIN > raw_size ? raw_size : write_seq * GRAIN,
                                                     raw_size);
                                next_report = write_seq * GRAIN + (8u << 20);
                        }
                        if (write_seq >= p.read_seq)
                                break;
                        s = &p.slots[write_seq % p.n_slots];
                        pthread_mutex_lock(&p.lock);
                        done = s->done;
                        pthread_mutex_unlock(&p.lock);
                        if (!done)
                                break;
                }
        }

        /* grain directory, footer, end of stream */
        marker_build(sec, gd_sectors, MARKER_GD);
        r = out_put(&o, sec, SECTOR);
        gd_offset = o.pos / SECTOR;
        for (uint64_t i = 0; r >= 0 && i < gd_sectors * SECTOR / 4; i += SECTOR / 4) {
                uint8_t b[SECTOR] = {};
                for (unsigned j = 0; j < SECTOR / 4 && i + j < n_gt; j++)
                        put_le32(b + 4 * j, gd[i + j]);
                r = out_put(&o, b, SECTOR);
        }
        if (r >= 0) {
                marker_build(sec, 1, MARKER_FOOTER);
                r = out_put(&o, sec, SECTOR);
        }
        if (r >= 0) {
                header_build(sec, raw_size / SECTOR, gd_offset);
                r = out_put(&o, sec, SECTOR);
        }
        if (r >= 0) {
                marker_build(sec, 0, MARKER_EOS);
                r = out_put(&o, sec, SECTOR);
        }
        if (r >= 0)
                r = out_flush(&o);
        if (r < 0) {
                r = xerr_set_errno(e, r, where, "cannot write");
                goto out;
        }
        if (EVP_DigestFinal_ex(o.md, digest, &mdlen) != 1 || mdlen != 32) {
                r = xerr_set(e, -EIO, where, "cannot finish SHA-256");
                goto out;
        }
        xova_progress_report(progress, "vmdk", raw_size, raw_size);
        if (ret) {
                ret->capacity = raw_size;
                ret->populated = populated;
                ret->file_size = o.pos;
                memcpy(ret->sha256, digest, 32);
        }
        r = 0;
out:
        pthread_mutex_lock(&p.lock);
        p.stop = true;
        pthread_cond_broadcast(&p.work);
        pthread_mutex_unlock(&p.lock);
        for (unsigned i = 0; i < n_threads; i++)
                pthread_join(tids[i], NULL);
        free(p.slots);
        free(in);
        free(outs);
        free(obuf);
        free(gd);
        free(tids);
        free(desc);
        EVP_MD_CTX_free(o.md);
        return r;
}

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
        uint8_t hdr[SECTOR];
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
static int header_check(struct vmdk_reader *rd, const uint8_t *h, uint64_t off)
{
        uint32_t flags = xova_le32(h + 8);
        uint64_t cap = xova_le64(h + 12), grain = xova_le64(h + 20);
        uint64_t doff = xova_le64(h + 28), dsize = xova_le64(h + 36);
        uint64_t over = xova_le64(h + 64);
        const uint32_t known = FLAG_NL_DETECT | FLAG_RGD | FLAG_ZERO_GTE | FLAG_COMPRESSED |
                               FLAG_MARKERS;

        if (xova_le32(h) != VMDK_MAGIC)
                return rd_err(rd, off, "not a sparse VMDK extent (magic %08x, want 564d444b \"KDMV\")",
                              xova_le32(h));
        if (xova_le32(h + 4) != 3)
                return rd_err(rd, off + 4, "VMDK version %u, streamOptimized needs version 3",
                              xova_le32(h + 4));
        if ((flags & ~known) != 0)
                return rd_err(rd, off + 8, "unknown flags %#x", flags & ~known);
        if ((flags & (FLAG_COMPRESSED | FLAG_MARKERS)) != (FLAG_COMPRESSED | FLAG_MARKERS))
                return rd_err(rd, off + 8,
                              "flags %#x: not streamOptimized (needs compressed grains and markers)",
                              flags);
        if ((flags & FLAG_NL_DETECT) &&
            (h[73] != '\n' || h[74] != ' ' || h[75] != '\r' || h[76] != '\n'))
                return rd_err(rd, off + 73, "newline detection bytes damaged (file transferred in text mode?)");
        if (xova_le16(h + 77) != COMPRESS_DEFLATE)
                return rd_err(rd, off + 77, "compression algorithm %u, want 1 (deflate)",
                              xova_le16(h + 77));
        if (grain != GRAIN_SECTORS)
                return rd_err(rd, off + 20, "grain size %llu sectors, want %u",
                              (unsigned long long) grain, GRAIN_SECTORS);
        if (xova_le32(h + 44) != GTES_PER_GT)
                return rd_err(rd, off + 44, "%u entries per grain table, want %u",
                              xova_le32(h + 44), GTES_PER_GT);
        if (cap == 0 || cap > VMDK_MAX_CAPACITY / SECTOR)
                return rd_err(rd, off + 12, "capacity %llu sectors is outside 1..%llu (64 TiB)",
                              (unsigned long long) cap,
                              (unsigned long long) (VMDK_MAX_CAPACITY / SECTOR));
        /* the descriptor is required (an extent without one would take its
         * description, and its extents, from elsewhere) and lies between the
         * header and the first grain */
        if (doff == 0 || dsize == 0)
                return rd_err(rd, off + 28, "no embedded descriptor");
        if (dsize > VMDK_MAX_DESC_SECTORS)
                return rd_err(rd, off + 36, "descriptor of %llu sectors is more than the limit of %u",
                              (unsigned long long) dsize, VMDK_MAX_DESC_SECTORS);
        if (doff > VMDK_MAX_DESC_SECTORS || over < doff + dsize)
                return rd_err(rd, off + 28,
                              "descriptor at sector %llu (%llu sectors) is not inside the overhead of %llu sectors",
                              (unsigned long long) doff, (unsigned long long) dsize,
                              (unsigned long long) over);
        if (over > rd->size / SECTOR)
                return rd_err(rd, off + 64, "overhead of %llu sectors is past the end of the file",
                              (unsigned long long) over);
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
        uint64_t doff = xova_le64(rd->hdr + 28) * SECTOR, dsize = xova_le64(rd->hdr + 36) * SECTOR;
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
        uint64_t desc_end = xova_le64(rd->hdr + 28) + xova_le64(rd->hdr + 36);
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

static int stream_walk(struct vmdk_reader *rd, int out_fd)
{
        _cleanup_free_ uint8_t *rec = malloc(2 * GRAIN), *grain = malloc(GRAIN);
        uint64_t pos = rd->overhead * SECTOR, last_lba = 0, n_gt_markers = 0;
        uint64_t n_gt_tables = 0, gt_cursor = 0;
        bool have_lba = false, gd_seen = false, footer_seen = false, eos = false;
        _cleanup_(decompressor_freep) struct libdeflate_decompressor *zd = libdeflate_alloc_decompressor();
        int r = 0;

        if (!rec || !grain || !zd)
                return xerr_set(rd->e, -ENOMEM, rd->where, "out of memory");
        for (uint64_t i = 0; i < rd->n_gd; i++)
                n_gt_tables += rd->gt[i] != NULL;

        while (pos < rd->size) {
                uint64_t val;
                uint32_t csize, type;

                r = rd_read(rd, rec, SECTOR, pos, "marker");
                if (r < 0)
                        return r;
                val = xova_le64(rec);
                csize = xova_le32(rec + 8);
                type = xova_le32(rec + 12);

                if (csize != 0) {
                        uint64_t lba = val, gi, gti, gtj, tail;
                        size_t ilen = 0, want_min;

                        if (footer_seen || gd_seen)
                                r = rd_err(rd, pos, "grain after the grain directory");
                        else if (lba % GRAIN_SECTORS != 0)
                                r = rd_err(rd, pos, "grain LBA %llu not aligned to a grain",
                                           (unsigned long long) lba);
                        else if (lba >= rd->capacity)
                                r = rd_err(rd, pos, "grain LBA %llu beyond capacity",
                                           (unsigned long long) lba);
                        else if (csize > VMDK_MAX_CGRAIN)
                                r = rd_err(rd, pos + 8, "grain LBA %llu: compressed size %u is more than %u",
                                           (unsigned long long) lba, csize, VMDK_MAX_CGRAIN);
                        else if (12 + (uint64_t) csize > rd->size - pos)
                                r = rd_err(rd, pos + 8, "grain LBA %llu: compressed size %u extends past the end of the file",
                                           (unsigned long long) lba, csize);
                        if (r < 0)
                                return r;
                        /* VMware writes grains in LBA order; we rely on it
                         * only to refuse duplicates cheaply */
                        if (have_lba && lba <= last_lba) {
                                r = rd_err(rd, pos, "grain LBA %llu not after the previous grain (LBA %llu)",
                                           (unsigned long long) lba, (unsigned long long) last_lba);
                                return r;
                        }
                        gi = lba / GRAIN_SECTORS;
                        gti = gi / GTES_PER_GT;
                        gtj = gi % GTES_PER_GT;
                        /* what QEMU reads is what the grain tables say; the
                         * stream must say exactly the same */
                        if (!rd->gt[gti] || rd->gt[gti][gtj] != pos / SECTOR) {
                                r = rd_err(rd, pos, "grain LBA %llu is not where the grain table points",
                                           (unsigned long long) lba);
                                return r;
                        }
                        rd->seen[gti][gtj / 64] |= UINT64_C(1) << (gtj % 64);
                        rd->n_matched++;
                        if (12 + csize > SECTOR) {
                                r = rd_read(rd, rec + SECTOR, 12 + csize - SECTOR, pos + SECTOR, "grain");
                                if (r < 0)
                                        return r;
                        }
                        r = grain_inflate(rd, zd, rec + 12, csize, grain, &ilen, pos, lba);
                        if (r < 0)
                                return r;
                        /* a full grain, or for the last one at least the part
                         * inside the capacity (qemu-img writes it sector-rounded) */
                        tail = (rd->capacity - lba) * SECTOR;
                        want_min = tail < GRAIN ? (size_t) tail : GRAIN;
                        if (ilen < want_min || ilen % SECTOR != 0 || (tail >= GRAIN && ilen != GRAIN)) {
                                r = rd_err(rd, pos, "grain LBA %llu: inflates to %zu bytes, want %zu",
                                           (unsigned long long) lba, ilen, want_min);
                                return r;
                        }
                        if (out_fd >= 0) {
                                r = xova_pwrite_all(out_fd, grain, want_min, (off_t) (lba * SECTOR));
                                if (r < 0) {
                                        r = xerr_set_errno(rd->e, r, rd->where, "cannot write raw output");
                                        return r;
                                }
                        }
                        last_lba = lba;
                        have_lba = true;
                        pos += (12 + (uint64_t) csize + SECTOR - 1) / SECTOR * SECTOR;
                        continue;
                }

                switch (type) {
                case MARKER_EOS:
                        if (!all_zero(rec, SECTOR))
                                return rd_err(rd, pos, "malformed end-of-stream marker");
                        eos = true;
                        break;
                case MARKER_GT:
                        if (val != GT_SECTORS || gd_seen) {
                                r = rd_err(rd, pos, "misplaced grain table marker (%llu sectors)",
                                           (unsigned long long) val);
                                return r;
                        }
                        /* tables are in increasing order in the directory
                         * and in the stream: the next marker must introduce
                         * the next table the directory names */
                        while (gt_cursor < rd->n_gd && !rd->gt[gt_cursor])
                                gt_cursor++;
                        if (gt_cursor >= rd->n_gd ||
                            xova_le32((const uint8_t *) &rd->gd[gt_cursor]) != pos / SECTOR + 1) {
                                r = rd_err(rd, pos, "grain table not in the grain directory");
                                return r;
                        }
                        gt_cursor++;
                        n_gt_markers++;
                        break;
                case MARKER_GD:
                        if (gd_seen || pos / SECTOR + 1 != rd->gd_offset ||
                            val != (rd->n_gd * 4 + SECTOR - 1) / SECTOR) {
                                r = rd_err(rd, pos, "grain directory marker does not match the footer");
                                return r;
                        }
                        gd_seen = true;
                        break;
                case MARKER_FOOTER:
                        if (!rd->footer_mode || val != 1 || pos != rd->size - 3 * SECTOR) {
                                r = rd_err(rd, pos, "misplaced footer marker");
                                return r;
                        }
                        footer_seen = true;
                        break;
                default:
                        r = rd_err(rd, pos + 12, "unknown marker type %u", type);
                        return r;
                }
                if (eos)
                        break;
                if (val > (rd->size - pos) / SECTOR - 1) {
                        r = rd_err(rd, pos, "marker of %llu sectors extends past the end of the file",
                                   (unsigned long long) val);
                        return r;
                }
                pos += SECTOR + val * SECTOR;
        }

        if (rd->footer_mode) {
                if (!eos || pos != rd->size - SECTOR || !footer_seen || !gd_seen) {
                        r = rd_err(rd, pos, "stream does not end with grain directory, footer and end-of-stream marker");
                        return r;
                }
                if (n_gt_markers != n_gt_tables) {
                        r = rd_err(rd, pos, "%llu grain tables outside the stream",
                                   (unsigned long long) (n_gt_tables - n_gt_markers));
                        return r;
                }
        } else if (eos) {
                /* qemu-img leaves zero padding after its last grain; nothing
                 * else may follow the end of the stream */
                for (pos += SECTOR; pos < rd->size; ) {
                        uint64_t n = rd->size - pos < 2 * GRAIN ? rd->size - pos : 2 * GRAIN;
                        r = rd_read(rd, rec, n, pos, "padding");
                        if (r < 0)
                                return r;
                        if (!all_zero(rec, n))
                                return rd_err(rd, pos, "data after the end-of-stream marker");
                        pos += n;
                }
        } else if (pos != rd->size) {
                r = rd_err(rd, pos, "file ends inside a grain");
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
        flags = xova_le32(rd.hdr + 8);
        rd.capacity = xova_le64(rd.hdr + 12);
        rd.overhead = xova_le64(rd.hdr + 64);
        rd.zero_gte = flags & FLAG_ZERO_GTE;
        rd.gd_offset = xova_le64(rd.hdr + 56);
        rd.footer_mode = rd.gd_offset == GD_AT_END;
        if (rd.footer_mode) {
                uint8_t f[3 * SECTOR];

                /* QEMU reads the footer at the last 1536 bytes and then
                 * believes it over the header; so do we, after requiring
                 * that it says the same apart from the GD offset */
                if (size % SECTOR != 0 || size < rd.overhead * SECTOR + 3 * SECTOR)
                        return rd_err(&rd, size, "file too short or not sector-aligned for a footer");
                r = rd_read(&rd, f, sizeof f, size - sizeof f, "footer");
                if (r < 0)
                        return r;
                if (xova_le64(f) != 1 || xova_le32(f + 8) != 0 || xova_le32(f + 12) != MARKER_FOOTER)
                        return rd_err(&rd, size - 3 * SECTOR, "no footer marker");
                if (!all_zero(f + 2 * SECTOR, SECTOR))
                        return rd_err(&rd, size - SECTOR, "no end-of-stream marker");
                r = header_check(&rd, f + SECTOR, size - 2 * SECTOR);
                if (r < 0)
                        return r;
                if (memcmp(f + SECTOR, rd.hdr, 56) != 0 ||
                    memcmp(f + SECTOR + 64, rd.hdr + 64, SECTOR - 64) != 0)
                        return rd_err(&rd, size - 2 * SECTOR, "footer differs from the header");
                rd.gd_offset = xova_le64(f + SECTOR + 56);
                if (rd.gd_offset == GD_AT_END)
                        return rd_err(&rd, size - 2 * SECTOR + 56, "footer has no grain directory offset");
        }
        if (flags & FLAG_RGD) {
                /* not used for reading, but QEMU loads it: keep it inside */
                uint64_t rgd = xova_le64(rd.hdr + 48);
                uint64_t n_gd = ((rd.capacity + GRAIN_SECTORS - 1) / GRAIN_SECTORS + GTES_PER_GT - 1) /
                                GTES_PER_GT;
                if (rgd > size / SECTOR || n_gd * 4 > size - rgd * SECTOR)
                        return rd_err(&rd, 48, "redundant grain directory at sector %llu is outside the file",
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
