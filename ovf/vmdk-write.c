/* SPDX-License-Identifier: MIT */
/*
 * streamOptimized VMDK writer (see ovf.h; the layout is in vmdk-internal.h).
 *
 * Hand-written because no Debian-packaged library writes streamOptimized
 * VMDK (qemu-img does, but only single-threaded and as a child process, and
 * libguestfs/libvirt go through qemu-img). The layout follows VMware's
 * "Virtual Disk Format 5.0" for hosted sparse extents and was checked
 * against what QEMU's block/vmdk.c reads and writes.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <libdeflate.h>
#include <zlib.h>

#include "ovf/vmdk-internal.h"

/* The header (and, with the real gd_offset, the footer) we write */
static void header_build(uint8_t h[SECTOR], uint64_t capacity_sectors, uint64_t gd_offset)
{
        const struct vmdk_sparse_header hdr = {
                .magic = VMDK_MAGIC,
                .version = 3,
                .flags = FLAG_NL_DETECT | FLAG_COMPRESSED | FLAG_MARKERS,
                .capacity = capacity_sectors,
                .grain_size = GRAIN_SECTORS,
                .desc_offset = DESC_OFFSET,
                .desc_size = DESC_SECTORS,
                .num_gtes_per_gt = GTES_PER_GT,
                .rgd_offset = 0,                /* none */
                .gd_offset = gd_offset,
                .overhead = OVERHEAD,
                .unclean_shutdown = 0,
                .nl_chars = { '\n', ' ', '\r', '\n' },
                .compress_algorithm = COMPRESS_DEFLATE,
        };

        vmdk_header_encode(&hdr, h);
}

static void marker_build(uint8_t m[SECTOR], uint64_t sectors, uint32_t type)
{
        vmdk_marker_encode(&(struct vmdk_marker){ .val = sectors, .size = 0, .type = type }, m);
}

static int descriptor_build(char *buf, size_t size, uint64_t capacity, const char *seed, const char *extent)
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

        /* The extent names the file itself (its OVA member name, given by
         * the caller): libvmdk opens the extent by that name, as qemu-img
         * and open-vmdk write it; "disk.vmdk" only when no name is given. */
        n = snprintf(buf, size,
                     "# Disk DescriptorFile\n"
                     "version=1\n"
                     "encoding=\"UTF-8\"\n"
                     "CID=%08x\n"
                     "parentCID=ffffffff\n"
                     "createType=\"streamOptimized\"\n"
                     "\n"
                     "# Extent description\n"
                     "RW %llu SPARSE \"%s\"\n"
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
                     cid, (unsigned long long) sectors, extent, (unsigned long long) cyl, lcid, uuid);
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
        bool hole;                      /* in a hole of the raw file: zero, never read */
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
        uint64_t wait_first, wait_last; /* the writer sleeps until both are done */
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
        if (s->hole || xova_mem_is_zero(s->in, GRAIN)) {
                s->out_len = 0;
                return;
        }
        clen = libdeflate_zlib_compress(c, s->in, GRAIN, s->out + 12, max - 12);
        if (clen == 0) {                /* the buffer is sized by the bound: cannot happen */
                s->error = -EIO;
                return;
        }
        vmdk_grain_record_encode(s->out, lba, (uint32_t) clen);
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
                /* only the grains the writer waits for wake it */
                if (seq == p->wait_first || seq == p->wait_last)
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
                vmdk_put_le32(b + 4 * i, gt[i]);
        r = out_put(o, b, GT_BYTES);
        if (r < 0)
                return r;
        memset(gt, 0, GT_BYTES);
        *gt_used = false;
        return 0;
}

/* The writer's state between its steps */
struct vmdk_writer {
        struct vmdk_pipe p;
        struct vmdk_out o;
        int raw_fd;
        uint64_t raw_size;
        const struct xova_progress *progress;
        const char *where;
        const char *extent;             /* the extent name in the descriptor */
        struct xerr *e;
        uint8_t *in, *outs;             /* the slots' input grains and output records */
        uint32_t *gd;                   /* GD entries, host order */
        uint32_t gt[GTES_PER_GT];       /* the grain table being filled */
        bool gt_used;
        uint64_t n_gt, gd_sectors;
        uint64_t write_seq;             /* grains written (or skipped as zero) */
        uint64_t populated, next_report;
        uint64_t hole_end;              /* [.., hole_end) known to be a hole of the raw file */
        uint64_t data_end;              /* [.., data_end) known to hold data (or unknown) */
        bool no_seek_data;              /* the filesystem cannot tell holes */
        pthread_t *tids;
        unsigned threads, n_threads;
};

/* chunks read at once: large preads, but small enough to keep workers fed */
#define READ_CHUNK 16

static int writer_setup(struct vmdk_writer *w, unsigned threads)
{
        size_t rmax = record_max();

        w->p.raw_size = w->raw_size;
        w->p.n_grains = (w->raw_size + GRAIN - 1) / GRAIN;
        w->n_gt = (w->p.n_grains + GTES_PER_GT - 1) / GTES_PER_GT;
        w->gd_sectors = (w->n_gt * 4 + SECTOR - 1) / SECTOR;
        if (threads == 0)
                threads = threads_default();
        if (threads > 64)
                threads = 64;
        w->threads = threads;
        /* bounded window: 16 grains (1 MiB) per thread in flight, so the
         * writer never waits on one slow grain while others sit idle */
        w->p.n_slots = (size_t) threads * 16;
        if (w->p.n_slots < 2 * READ_CHUNK)
                w->p.n_slots = 2 * READ_CHUNK;

        w->in = malloc(w->p.n_slots * GRAIN);
        w->outs = malloc(w->p.n_slots * rmax);
        w->p.slots = calloc(w->p.n_slots, sizeof *w->p.slots);
        w->o.buf = malloc(w->o.size);
        w->gd = calloc(w->n_gt ? w->n_gt : 1, sizeof *w->gd);
        w->tids = calloc(threads, sizeof *w->tids);
        w->o.md = EVP_MD_CTX_new();
        if (!w->in || !w->outs || !w->p.slots || !w->o.buf || !w->gd || !w->tids || !w->o.md)
                return xerr_set(w->e, -ENOMEM, w->where, "out of memory");
        for (size_t i = 0; i < w->p.n_slots; i++) {
                w->p.slots[i].in = w->in + i * GRAIN;
                w->p.slots[i].out = w->outs + i * rmax;
        }
        if (EVP_DigestInit_ex(w->o.md, EVP_sha256(), NULL) != 1)
                return xerr_set(w->e, -EIO, w->where, "cannot initialise SHA-256");
        return 0;
}

/* Header, descriptor, zero padding up to the first grain */
static int write_head(struct vmdk_writer *w, const char *seed)
{
        _cleanup_free_ char *desc = calloc(DESC_SECTORS, SECTOR);
        uint8_t sec[SECTOR];
        int r;

        if (!desc)
                return xerr_set(w->e, -ENOMEM, w->where, "out of memory");
        header_build(sec, w->raw_size / SECTOR, GD_AT_END);
        if (descriptor_build(desc, DESC_SECTORS * SECTOR, w->raw_size, seed, w->extent) < 0)
                return xerr_set(w->e, -ENOBUFS, w->where, "descriptor does not fit");
        r = out_put(&w->o, sec, SECTOR);
        if (r >= 0)
                r = out_put(&w->o, desc, DESC_SECTORS * SECTOR);
        memset(sec, 0, SECTOR);
        while (r >= 0 && w->o.pos < OVERHEAD * SECTOR)
                r = out_put(&w->o, sec, SECTOR);
        if (r < 0)
                return xerr_set_errno(w->e, r, w->where, "cannot write");
        return 0;
}

/*
 * Whether the grains from off on lie in a hole of the raw file, from
 * SEEK_DATA / SEEK_HOLE: a hole reads as zeros, so its grains are all-zero
 * grains (no record) without reading them. A raw disk image is mostly
 * holes (the free space of its file systems): reading them costs the
 * kernel a memset and us a zero test per byte. The output is the same
 * either way. Where the filesystem cannot say, everything is read.
 */
static void holes_probe(struct vmdk_writer *w, uint64_t off)
{
        off_t d, h;

        if (w->no_seek_data || off < w->hole_end || off < w->data_end)
                return;
        d = lseek(w->raw_fd, (off_t) off, SEEK_DATA);
        if (d < 0) {
                if (errno == ENXIO)                     /* no data after off */
                        w->hole_end = w->raw_size;
                else
                        w->no_seek_data = true;
                return;
        }
        if ((uint64_t) d > off) {
                w->hole_end = (uint64_t) d;
                return;
        }
        h = lseek(w->raw_fd, (off_t) off, SEEK_HOLE);
        if (h < 0 || (uint64_t) h <= off)
                w->no_seek_data = true;
        else
                w->data_end = (uint64_t) h;
}

/* Reads the next grains into free slots, while there is room in the window */
static int read_ahead(struct vmdk_writer *w)
{
        struct vmdk_pipe *p = &w->p;
        uint64_t first = p->read_seq, n, off, len;
        size_t idx;
        int r;

        if (p->read_seq >= p->n_grains || p->read_seq - w->write_seq >= p->n_slots)
                return 0;
        idx = (size_t) (first % p->n_slots);
        n = p->n_slots - (first - w->write_seq);
        off = first * GRAIN;
        if (n > p->n_slots - idx)
                n = p->n_slots - idx;           /* no wrap inside one pread */
        if (n > p->n_grains - first)
                n = p->n_grains - first;
        holes_probe(w, off);
        if (off + GRAIN <= w->hole_end) {
                /* whole grains of a hole: zero grains, handed on unread */
                if (n > (w->hole_end - off) / GRAIN)
                        n = (w->hole_end - off) / GRAIN;
                pthread_mutex_lock(&p->lock);
                for (uint64_t i = 0; i < n; i++) {
                        p->slots[idx + i].hole = true;
                        p->slots[idx + i].done = false;
                }
                p->read_seq += n;
                pthread_cond_broadcast(&p->work);
                pthread_mutex_unlock(&p->lock);
                return 0;
        }
        if (n > READ_CHUNK)
                n = READ_CHUNK;
        len = n * GRAIN;
        if (len > w->raw_size - off) {
                len = w->raw_size - off;        /* tail: pad with zeros */
                memset(w->in + idx * GRAIN + len, 0, n * GRAIN - len);
        }
        r = xova_pread_all(w->raw_fd, w->in + idx * GRAIN, len, (off_t) off);
        if (r < 0)
                return xerr_set_errno(w->e, r, w->where, "cannot read raw image at %llu", (unsigned long long) off);
        pthread_mutex_lock(&p->lock);
        for (uint64_t i = 0; i < n; i++) {
                p->slots[idx + i].hole = false;
                p->slots[idx + i].done = false;
        }
        p->read_seq += n;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

/* Writes the finished slot s (grain write_seq): its record if not all
 * zero, then the grain table when it is full or the disk ends */
static int write_grain(struct vmdk_writer *w, const struct vmdk_slot *s)
{
        uint64_t seq = w->write_seq, gti = seq / GTES_PER_GT;
        int r;

        if (s->error < 0)
                return xerr_set_errno(w->e, s->error, w->where, "cannot compress grain at %llu",
                                      (unsigned long long) (seq * GRAIN));
        if (s->out_len > 0) {
                uint64_t sector = w->o.pos / SECTOR;
                uint64_t gl = seq == w->p.n_grains - 1 ? w->raw_size - seq * GRAIN : GRAIN;

                if (sector > UINT32_MAX)
                        return xerr_set(w->e, -EFBIG, w->where,
                                        "VMDK would exceed 2 TiB (grain table entries are 32-bit sectors)");
                w->gt[seq % GTES_PER_GT] = (uint32_t) sector;
                w->gt_used = true;
                w->populated += gl;
                r = out_put(&w->o, s->out, s->out_len);
                if (r < 0)
                        return xerr_set_errno(w->e, r, w->where, "cannot write");
        }
        w->write_seq = ++seq;
        if (seq % GTES_PER_GT == 0 || seq == w->p.n_grains) {
                r = gt_flush(&w->o, w->gt, &w->gt_used, &w->gd[gti]);
                if (r < 0)
                        return xerr_set_errno(w->e, r, w->where, "cannot write");
        }
        if (seq * GRAIN >= w->next_report) {
                xova_progress_report(w->progress, "vmdk", seq * GRAIN > w->raw_size ? w->raw_size : seq * GRAIN,
                                     w->raw_size);
                w->next_report = seq * GRAIN + (8u << 20);
        }
        return 0;
}

/* Writes finished grains in LBA order; blocks only when the window is
 * full (or everything is read) */
static int write_ready(struct vmdk_writer *w)
{
        struct vmdk_pipe *p = &w->p;
        struct vmdk_slot *s = &p->slots[w->write_seq % p->n_slots];
        bool done;
        int r;

        pthread_mutex_lock(&p->lock);
        if (p->read_seq == p->n_grains || p->read_seq - w->write_seq >= p->n_slots) {
                /* Full: sleep until the next grain and the one a read's worth
                 * later are done, so that one wake-up writes ~READ_CHUNK
                 * grains and frees room for one large pread. Waking for
                 * every grain cost a futex round trip per 64 KiB. */
                uint64_t last = w->write_seq + READ_CHUNK - 1;
                if (last >= p->read_seq)
                        last = p->read_seq - 1;
                p->wait_first = w->write_seq;
                p->wait_last = last;
                while (!s->done || !p->slots[last % p->n_slots].done)
                        pthread_cond_wait(&p->done, &p->lock);
                p->wait_first = p->wait_last = UINT64_MAX;
        }
        done = s->done;
        pthread_mutex_unlock(&p->lock);
        while (done) {
                r = write_grain(w, s);
                if (r < 0)
                        return r;
                if (w->write_seq >= p->read_seq)
                        break;
                s = &p->slots[w->write_seq % p->n_slots];
                pthread_mutex_lock(&p->lock);
                done = s->done;
                pthread_mutex_unlock(&p->lock);
        }
        return 0;
}

/* Grain directory, footer, end of stream */
static int write_tail(struct vmdk_writer *w)
{
        uint8_t sec[SECTOR];
        uint64_t gd_offset;
        int r;

        marker_build(sec, w->gd_sectors, MARKER_GD);
        r = out_put(&w->o, sec, SECTOR);
        gd_offset = w->o.pos / SECTOR;
        for (uint64_t i = 0; r >= 0 && i < w->gd_sectors * SECTOR / 4; i += SECTOR / 4) {
                uint8_t b[SECTOR] = {};
                for (unsigned j = 0; j < SECTOR / 4 && i + j < w->n_gt; j++)
                        vmdk_put_le32(b + 4 * j, w->gd[i + j]);
                r = out_put(&w->o, b, SECTOR);
        }
        if (r >= 0) {
                marker_build(sec, 1, MARKER_FOOTER);
                r = out_put(&w->o, sec, SECTOR);
        }
        if (r >= 0) {
                header_build(sec, w->raw_size / SECTOR, gd_offset);
                r = out_put(&w->o, sec, SECTOR);
        }
        if (r >= 0) {
                marker_build(sec, 0, MARKER_EOS);
                r = out_put(&w->o, sec, SECTOR);
        }
        if (r >= 0)
                r = out_flush(&w->o);
        if (r < 0)
                return xerr_set_errno(w->e, r, w->where, "cannot write");
        return 0;
}

/* Stops and joins the workers, frees everything (also half set up) */
static void writer_free(struct vmdk_writer *w)
{
        pthread_mutex_lock(&w->p.lock);
        w->p.stop = true;
        pthread_cond_broadcast(&w->p.work);
        pthread_mutex_unlock(&w->p.lock);
        for (unsigned i = 0; i < w->n_threads; i++)
                pthread_join(w->tids[i], NULL);
        free(w->p.slots);
        free(w->in);
        free(w->outs);
        free(w->o.buf);
        free(w->gd);
        free(w->tids);
        EVP_MD_CTX_free(w->o.md);
}

static int vmdk_write(struct vmdk_writer *w, const char *seed, unsigned threads, struct ovf_vmdk_info *ret)
{
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        sigset_t all, old;
        int r;

        r = writer_setup(w, threads);
        if (r >= 0)
                r = write_head(w, seed);
        if (r < 0)
                return r;
        /* workers take no signals: the handlers (common/tempreg.c) run on
         * the thread that blocks them while it registers a temp */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (r = 0; r == 0 && w->n_threads < w->threads; w->n_threads++) {
                r = -pthread_create(&w->tids[w->n_threads], NULL, worker_main, &w->p);
                if (r < 0)
                        break;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return xerr_set_errno(w->e, r, w->where, "cannot start thread");
        while (w->write_seq < w->p.n_grains) {
                r = read_ahead(w);
                if (r >= 0)
                        r = write_ready(w);
                if (r < 0)
                        return r;
        }
        r = write_tail(w);
        if (r < 0)
                return r;
        if (EVP_DigestFinal_ex(w->o.md, digest, &mdlen) != 1 || mdlen != 32)
                return xerr_set(w->e, -EIO, w->where, "cannot finish SHA-256");
        xova_progress_report(w->progress, "vmdk", w->raw_size, w->raw_size);
        if (ret) {
                ret->capacity = w->raw_size;
                ret->populated = w->populated;
                ret->file_size = w->o.pos;
                memcpy(ret->sha256, digest, 32);
        }
        return 0;
}

int ovf_vmdk_write(int raw_fd, uint64_t raw_size, int out_fd, const char *seed, unsigned threads,
                   const struct xova_progress *progress, struct ovf_vmdk_info *ret,
                   struct xerr *e)
{
        return ovf_vmdk_write_named(raw_fd, raw_size, out_fd, seed, NULL, threads, progress, ret, e);
}

int ovf_vmdk_write_named(int raw_fd, uint64_t raw_size, int out_fd, const char *seed, const char *extent,
                         unsigned threads, const struct xova_progress *progress, struct ovf_vmdk_info *ret,
                         struct xerr *e)
{
        struct vmdk_writer w = {
                .p = {
                        .lock = PTHREAD_MUTEX_INITIALIZER,
                        .work = PTHREAD_COND_INITIALIZER,
                        .done = PTHREAD_COND_INITIALIZER,
                        .wait_first = UINT64_MAX,
                        .wait_last = UINT64_MAX,
                },
                .o = { .fd = out_fd, .size = 1u << 20 },
                .raw_fd = raw_fd,
                .raw_size = raw_size,
                .progress = progress,
                .where = "vmdk writer",
                .extent = extent ? extent : "disk.vmdk",
                .e = e,
        };
        int r;

        /* the name goes between double quotes in the descriptor */
        for (const char *c = w.extent; *c; c++)
                if (*c == '"' || *c == '\\' || (unsigned char) *c < 0x20 || *c == 0x7f)
                        return xerr_set(e, -EINVAL, w.where, "extent name '%s' cannot be quoted in a VMDK descriptor",
                                        XOVA_ESC(w.extent));

        if (raw_size % SECTOR != 0)
                return xerr_set(e, -EINVAL, w.where, "raw size %llu is not a multiple of 512",
                                (unsigned long long) raw_size);
        if (raw_size == 0)
                return xerr_set(e, -EINVAL, w.where, "raw image is empty");
        if (raw_size > VMDK_MAX_CAPACITY)
                return xerr_set(e, -EFBIG, w.where, "raw size %llu is more than the limit of %llu",
                                (unsigned long long) raw_size, (unsigned long long) VMDK_MAX_CAPACITY);
        r = vmdk_write(&w, seed ? seed : "", threads, ret);
        writer_free(&w);
        return r < 0 ? r : 0;
}
