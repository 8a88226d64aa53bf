/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ovf/vmdk-write.c and ovf/vmdk-read.c: streamOptimized VMDK writer and strict reader.
 *
 * Round trips go through our reader and through qemu-img (the reference
 * consumer; tests needing it are skipped when it is missing). Hostile inputs
 * are made here from a good image by patching the bytes named in each test.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"
#include <openssl/evp.h>
#include <zlib.h>

#include "ovf/ovf.h"

#define GRAIN 65536u

static char *path(void **state, const char *name)
{
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", (char *) *state, name) > 0);
        return p;
}

static bool have_qemu_img(void)
{
        return system("qemu-img --version >/dev/null 2>&1") == 0;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
        char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        r = system(cmd);
        free(cmd);
        return r;
}

/* deterministic pseudo-random bytes (xorshift64*) */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
        uint64_t x = seed | 1;
        for (size_t i = 0; i < n; i++) {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                p[i] = (uint8_t) ((x * UINT64_C(2685821657736338717)) >> 56);
        }
}

static void fill_text(uint8_t *p, size_t n, unsigned start)
{
        size_t i = 0;
        while (i < n) {
                char line[80];
                int l = snprintf(line, sizeof line, "line %u: the quick brown fox jumps over %u dogs\n",
                                 start, start * 7 % 13);
                for (int k = 0; k < l && i < n; k++)
                        p[i++] = (uint8_t) line[k];
                start++;
        }
}

enum content { C_ZERO, C_RANDOM, C_MIXED, C_TEXT };

/* Writes a raw image; returns its size. */
static uint64_t make_raw(const char *file, enum content c, uint64_t size)
{
        uint8_t *buf = calloc(1, size ? size : 1);
        int fd;

        assert_non_null(buf);
        switch (c) {
        case C_ZERO:
                break;
        case C_RANDOM:
                fill_random(buf, size, 42);
                break;
        case C_TEXT:
                fill_text(buf, size, 0);
                break;
        case C_MIXED:
                /* [0,1M) text, [1M,2M) zero, [2M,2.5M) random, a lone
                 * sector of text at 3M + 4096, zeros, then text to the end */
                fill_text(buf, size < (1u << 20) ? size : (1u << 20), 0);
                if (size > (2u << 20))
                        fill_random(buf + (2u << 20), size - (2u << 20) < (512u << 10) ? size - (2u << 20) : (512u << 10), 7);
                if (size > (3u << 20) + 4096 + 512)
                        fill_text(buf + (3u << 20) + 4096, 512, 99);
                if (size > (5u << 20))
                        fill_text(buf + (5u << 20), size - (5u << 20), 1000);
                break;
        }
        fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, buf, size), 0);
        assert_int_equal(close(fd), 0);
        free(buf);
        return size;
}

static struct ovf_vmdk_info write_vmdk(const char *raw, const char *vmdk, unsigned threads)
{
        struct ovf_vmdk_info info = {};
        struct xerr e = {};
        struct stat st;
        int in, out;

        in = open(raw, O_RDONLY | O_CLOEXEC);
        assert_true(in >= 0);
        assert_int_equal(fstat(in, &st), 0);
        out = open(vmdk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(out >= 0);
        if (ovf_vmdk_write(in, (uint64_t) st.st_size, out, "test-seed", threads, NULL, &info, &e) < 0)
                fail_msg("write %s: %s: %s", vmdk, e.where, e.msg);
        close(in);
        assert_int_equal(close(out), 0);
        assert_int_equal(stat(vmdk, &st), 0);
        assert_true(info.file_size == (uint64_t) st.st_size);
        return info;
}

static uint8_t *slurp(const char *file, size_t *ret_len)
{
        char *buf = NULL;
        size_t len;
        struct xerr e = {};

        if (xova_read_file(file, UINT64_C(1) << 32, &buf, &len, &e) < 0)
                fail_msg("read %s: %s", file, e.msg);
        *ret_len = len;
        return (uint8_t *) buf;
}

static void assert_same_file(const char *a, const char *b)
{
        size_t la, lb;
        uint8_t *pa = slurp(a, &la), *pb = slurp(b, &lb);

        assert_true(la == lb);
        assert_memory_equal(pa, pb, la);
        free(pa);
        free(pb);
}

/* Runs our reader over [off, off+len) of file; returns its result, error in *e. */
static int check_file(const char *file, uint64_t off, uint64_t len, const char *raw_out,
                      uint64_t *cap, struct xerr *e)
{
        int fd = open(file, O_RDONLY | O_CLOEXEC), out = -1, r;
        struct stat st;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        if (len == UINT64_MAX)
                len = (uint64_t) st.st_size - off;
        if (raw_out) {
                out = open(raw_out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                assert_true(out >= 0);
        }
        *e = (struct xerr) {};
        r = ovf_vmdk_check(fd, off, len, "disk.vmdk", out, cap, e);
        close(fd);
        if (out >= 0)
                assert_int_equal(close(out), 0);
        return r;
}

/* Full round trip of one raw image: our reader, qemu-img convert, check, info. */
static void roundtrip(void **state, enum content c, uint64_t size)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *vmdk = path(state, "disk.vmdk");
        _cleanup_free_ char *back = path(state, "back.raw"), *qback = path(state, "qback.raw");
        _cleanup_free_ char *info_json = path(state, "info.json");
        struct ovf_vmdk_info info;
        struct xerr e;
        uint64_t cap = 0;
        size_t jl;
        char *j;

        make_raw(raw, c, size);
        info = write_vmdk(raw, vmdk, 2);
        assert_true(info.capacity == size);
        if (check_file(vmdk, 0, UINT64_MAX, back, &cap, &e) < 0)
                fail_msg("check: %s: %s", e.where, e.msg);
        assert_true(cap == size);
        assert_same_file(raw, back);

        if (!have_qemu_img())
                return;
        assert_int_equal(run("qemu-img check -q -f vmdk '%s'", vmdk), 0);
        assert_int_equal(run("qemu-img convert -f vmdk -O raw '%s' '%s'", vmdk, qback), 0);
        assert_same_file(raw, qback);
        assert_int_equal(run("qemu-img info -f vmdk --output=json '%s' > '%s'", vmdk, info_json), 0);
        j = (char *) slurp(info_json, &jl);
        assert_non_null(strstr(j, "\"format\": \"vmdk\""));
        assert_non_null(strstr(j, "\"create-type\": \"streamOptimized\""));
        {
                char want[64];
                snprintf(want, sizeof want, "\"virtual-size\": %llu,", (unsigned long long) size);
                assert_non_null(strstr(j, want));
        }
        free(j);
}

static void test_vmdk_roundtrip_zero(void **state)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *vmdk = path(state, "disk.vmdk");
        struct ovf_vmdk_info info;

        roundtrip(state, C_ZERO, 8u << 20);
        info = write_vmdk(raw, vmdk, 2);
        assert_true(info.populated == 0);
        /* header + descriptor area, GD marker + GD, footer marker + footer, EOS */
        assert_true(info.file_size == 65536 + 512 + 512 + 3 * 512);
}

static void test_vmdk_roundtrip_random(void **state)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *vmdk = path(state, "disk.vmdk");
        struct ovf_vmdk_info info;

        roundtrip(state, C_RANDOM, 3u << 20);
        info = write_vmdk(raw, vmdk, 2);
        assert_true(info.populated == 3u << 20);
}

static void test_vmdk_roundtrip_mixed(void **state)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *vmdk = path(state, "disk.vmdk");
        struct ovf_vmdk_info info;

        /* 40 MiB: more than one grain table (32 MiB each) */
        roundtrip(state, C_MIXED, 40u << 20);
        info = write_vmdk(raw, vmdk, 2);
        /* text 1M, random 0.5M, one grain at 3M, text 35M */
        assert_true(info.populated == (1u << 20) + (512u << 10) + GRAIN + (35u << 20));
        assert_true(info.file_size < (12u << 20));
}

static void test_vmdk_roundtrip_tail(void **state)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *vmdk = path(state, "disk.vmdk");
        struct ovf_vmdk_info info;

        roundtrip(state, C_TEXT, (1u << 20) + 512);
        info = write_vmdk(raw, vmdk, 2);
        assert_true(info.populated == (1u << 20) + 512);
}

static void test_vmdk_threads_identical(void **state)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *a = path(state, "a.vmdk"),
                            *b = path(state, "b.vmdk"), *c = path(state, "c.vmdk");
        struct ovf_vmdk_info ia, ib, ic;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        size_t len;
        uint8_t *data;

        make_raw(raw, C_MIXED, (37u << 20) + 1536);
        ia = write_vmdk(raw, a, 1);
        ib = write_vmdk(raw, b, 4);
        ic = write_vmdk(raw, c, 0);
        assert_same_file(a, b);
        assert_same_file(a, c);
        assert_memory_equal(ia.sha256, ib.sha256, 32);
        assert_memory_equal(ia.sha256, ic.sha256, 32);
        /* the hash is of the bytes written */
        data = slurp(a, &len);
        assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
        assert_memory_equal(md, ia.sha256, 32);
        free(data);
}

static void test_vmdk_rejects_unaligned_size(void **state)
{
        _cleanup_free_ char *vmdk = path(state, "disk.vmdk");
        struct ovf_vmdk_info info;
        struct xerr e = {};
        int in = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        int out = open(vmdk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(in >= 0 && out >= 0);
        assert_int_equal(ovf_vmdk_write(in, 1000, out, "s", 1, NULL, &info, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "multiple of 512"));
        close(in);
        close(out);
}

static void test_vmdk_reader_at_offset(void **state)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *vmdk = path(state, "disk.vmdk");
        _cleanup_free_ char *big = path(state, "bundle.bin"), *back = path(state, "back.raw");
        uint8_t junk[3072];
        struct ovf_vmdk_info info;
        struct xerr e;
        uint64_t cap;
        size_t len;
        uint8_t *v;
        int fd;

        make_raw(raw, C_MIXED, 6u << 20);
        info = write_vmdk(raw, vmdk, 2);
        v = slurp(vmdk, &len);
        fill_random(junk, sizeof junk, 3);
        fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, junk, sizeof junk), 0);
        assert_int_equal(xova_write_all(fd, v, len), 0);
        assert_int_equal(xova_write_all(fd, junk, sizeof junk), 0);
        assert_int_equal(close(fd), 0);
        free(v);
        if (check_file(big, sizeof junk, info.file_size, back, &cap, &e) < 0)
                fail_msg("check: %s", e.msg);
        assert_true(cap == 6u << 20);
        assert_same_file(raw, back);
}

static void test_vmdk_accepts_qemu_img_output(void **state)
{
        _cleanup_free_ char *raw = path(state, "in.raw"), *vmdk = path(state, "q.vmdk");
        _cleanup_free_ char *back = path(state, "back.raw");
        struct xerr e;
        uint64_t cap;
        uint64_t sizes[] = { (40u << 20) + 512, 8u << 20 };

        if (!have_qemu_img())
                skip();
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                make_raw(raw, i == 0 ? C_MIXED : C_ZERO, sizes[i]);
                assert_int_equal(run("qemu-img convert -f raw -O vmdk -o subformat=streamOptimized '%s' '%s'",
                                     raw, vmdk), 0);
                if (check_file(vmdk, 0, UINT64_MAX, back, &cap, &e) < 0)
                        fail_msg("check of qemu-img output: %s: %s", e.where, e.msg);
                assert_true(cap == sizes[i]);
                assert_same_file(raw, back);
        }
}

/* ---- hostile inputs --------------------------------------------------- */

/* A good small image (text, 1 MiB + 512: 17 grains, one GT) to patch. */
struct good {
        uint8_t *data;
        size_t len;
        uint64_t gd_offset;             /* bytes */
};

static struct good make_good(void **state, enum content c, uint64_t size)
{
        _cleanup_free_ char *raw = path(state, "good.raw"), *vmdk = path(state, "good.vmdk");
        struct good g;
        uint64_t gd = 0;

        make_raw(raw, c, size);
        write_vmdk(raw, vmdk, 2);
        g.data = slurp(vmdk, &g.len);
        for (int i = 0; i < 8; i++)
                gd |= (uint64_t) g.data[g.len - 1024 + 56 + i] << (8 * i);
        g.gd_offset = gd * 512;
        return g;
}

static void put_le32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* Writes data to bad.vmdk, runs the reader (with raw output), expects
 * -EBADMSG and a message containing `want`, naming the member and an offset. */
static void expect_refused(void **state, const uint8_t *data, size_t len, const char *want)
{
        _cleanup_free_ char *bad = path(state, "bad.vmdk"), *out = path(state, "bad.raw");
        struct xerr e;
        uint64_t cap = 12345;
        int fd, r;

        fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, data, len), 0);
        assert_int_equal(close(fd), 0);
        r = check_file(bad, 0, UINT64_MAX, out, &cap, &e);
        if (r != -EBADMSG || !strstr(e.msg, want))
                fail_msg("want -EBADMSG with '%s', got %d: %s: %s", want, r, e.where, e.msg);
        assert_string_equal(e.where, "disk.vmdk");
        assert_true(strncmp(e.msg, "offset ", 7) == 0);
        assert_true(cap == 12345);      /* ret_* untouched on failure */
}

/* Replaces the descriptor text (sector 1, 20 sectors). */
static void set_descriptor(struct good *g, const char *text)
{
        assert_true(strlen(text) < 20 * 512);
        memset(g->data + 512, 0, 20 * 512);
        memcpy(g->data + 512, text, strlen(text));
}

static const char desc_fmt[] =
        "# Disk DescriptorFile\n"
        "version=1\n"
        "CID=12345678\n"
        "parentCID=%s\n"
        "createType=\"%s\"\n"
        "\n"
        "# Extent description\n"
        "%s\n"
        "\n"
        "#DDB\n"
        "ddb.adapterType = \"lsilogic\"\n";

static void set_descriptor_fmt(struct good *g, const char *parent, const char *type,
                               const char *extents)
{
        char buf[2048];
        snprintf(buf, sizeof buf, desc_fmt, parent, type, extents);
        set_descriptor(g, buf);
}

static void test_vmdk_hostile_truncated_header(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        expect_refused(state, g.data, 100, "too short for a VMDK header");
        free(g.data);
}

static void test_vmdk_hostile_bad_magic(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        memcpy(g.data, "QFI\xfb", 4);
        expect_refused(state, g.data, g.len, "not a sparse VMDK extent");
        free(g.data);
}

/* os-test-images' qcow2 cases, rebuilt here with qemu-img and named like a
 * VMDK member: a qcow2 whose backing file is /etc/hosts, and one with an
 * external data file. Both must be refused by magic, before any reference
 * in them could be followed. */
static void test_vmdk_hostile_qcow2_references(void **state)
{
        _cleanup_free_ char *q1 = path(state, "backing.qcow2"), *q2 = path(state, "datafile.qcow2"),
                            *df = path(state, "data.raw");
        const char *files[] = { q1, q2 };

        if (!have_qemu_img())
                fail_msg("qemu-img not found (install qemu-utils)");
        assert_int_equal(run("qemu-img create -q -f qcow2 -F raw -b /etc/hosts '%s' 1M", q1), 0);
        assert_int_equal(run("qemu-img create -q -f qcow2 -o data_file='%s' '%s' 1M", df, q2), 0);
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                size_t len;
                _cleanup_free_ uint8_t *data = slurp(files[i], &len);
                expect_refused(state, data, len, "not a sparse VMDK extent");
        }
}

static void test_vmdk_hostile_capacity_huge(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        put_le64(g.data + 12, UINT64_C(1) << 60);
        put_le64(g.data + g.len - 1024 + 12, UINT64_C(1) << 60);
        expect_refused(state, g.data, g.len, "capacity 1152921504606846976 sectors is outside");
        free(g.data);
}

static void test_vmdk_hostile_footer_differs(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        /* QEMU would believe the footer's capacity; we refuse the disagreement */
        put_le64(g.data + g.len - 1024 + 12, 4096);
        expect_refused(state, g.data, g.len, "footer differs from the header");
        free(g.data);
}

static void test_vmdk_hostile_grain_lba_beyond_capacity(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        put_le64(g.data + 65536, 999999 * 128);
        expect_refused(state, g.data, g.len, "grain LBA 127999872 beyond capacity");
        free(g.data);
}

static void test_vmdk_hostile_grain_size_past_eof(void **state)
{
        struct good g = make_good(state, C_TEXT, GRAIN);
        put_le32(g.data + 65536 + 8, 100000);
        expect_refused(state, g.data, g.len, "extends past the end of the file");
        free(g.data);
}

static void test_vmdk_hostile_deflate_bomb(void **state)
{
        struct good g = make_good(state, C_TEXT, 4 * GRAIN);
        uint8_t *zeros = calloc(1, 4 * GRAIN), packed[4096];
        uLongf plen = sizeof packed;
        uint32_t old;

        /* 256 KiB of zeros deflate to a few hundred bytes: put them in the
         * first grain record, which had room for a 64 KiB text grain */
        assert_non_null(zeros);
        assert_int_equal(compress2(packed, &plen, zeros, 4 * GRAIN, 9), Z_OK);
        old = (uint32_t) g.data[65536 + 8] | (uint32_t) g.data[65536 + 9] << 8 |
              (uint32_t) g.data[65536 + 10] << 16 | (uint32_t) g.data[65536 + 11] << 24;
        assert_true(plen <= old);
        memcpy(g.data + 65536 + 12, packed, plen);
        /* the rest of the old record stays as padding: the reader refuses
         * at this record, before it looks for the next one */
        put_le32(g.data + 65536 + 8, (uint32_t) plen);
        expect_refused(state, g.data, g.len, "inflates to more than 65536 bytes");
        free(zeros);
        free(g.data);
}

static void test_vmdk_hostile_two_extents(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        set_descriptor_fmt(&g, "ffffffff", "streamOptimized",
                           "RW 2049 SPARSE \"disk.vmdk\"\nRDONLY 2048 SPARSE \"other.vmdk\"");
        expect_refused(state, g.data, g.len, "more than one extent");
        free(g.data);
}

static void test_vmdk_hostile_monolithic_flat(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        set_descriptor_fmt(&g, "ffffffff", "monolithicFlat", "RW 2049 FLAT \"/etc/hosts\" 0");
        expect_refused(state, g.data, g.len, "createType \"monolithicFlat\", only streamOptimized");
        free(g.data);
}

static void test_vmdk_hostile_extent_names_other_file(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        set_descriptor_fmt(&g, "ffffffff", "streamOptimized", "RW 2049 SPARSE \"/etc/hosts\"");
        expect_refused(state, g.data, g.len, "extent names another file");
        free(g.data);
}

static void test_vmdk_hostile_parent(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        set_descriptor_fmt(&g, "12345678", "streamOptimized", "RW 2049 SPARSE \"disk.vmdk\"");
        expect_refused(state, g.data, g.len, "parentCID 12345678");
        set_descriptor_fmt(&g, "ffffffff\nparentFileNameHint=\"http://example.com/base.vmdk\"",
                           "streamOptimized", "RW 2049 SPARSE \"disk.vmdk\"");
        expect_refused(state, g.data, g.len, "parent reference refused");
        free(g.data);
}

static void test_vmdk_hostile_unknown_marker(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        /* the GD marker sits just before the GD */
        assert_int_equal(g.data[g.gd_offset - 512 + 12], 2);
        put_le32(g.data + g.gd_offset - 512 + 12, 7);
        expect_refused(state, g.data, g.len, "unknown marker type 7");
        free(g.data);
}

static void test_vmdk_hostile_gd_past_eof(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        put_le64(g.data + g.len - 1024 + 56, 1u << 30);
        expect_refused(state, g.data, g.len, "grain directory at sector 1073741824");
        free(g.data);
}

static void test_vmdk_hostile_gt_past_eof(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        put_le32(g.data + g.gd_offset, 0x7fffffff);
        expect_refused(state, g.data, g.len, "is past the end of the file");
        free(g.data);
}

static void test_vmdk_hostile_gd_loop(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        /* the grain directory names itself as its grain table */
        put_le32(g.data + g.gd_offset, (uint32_t) (g.gd_offset / 512));
        expect_refused(state, g.data, g.len, "overlaps the grain directory");
        free(g.data);
}

static void test_vmdk_hostile_gt_mismatch(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        uint64_t gt;

        /* QEMU reads through the tables: a table pointing LBA 0 at the
         * second record would show other data than the stream says */
        gt = (uint64_t) g.data[g.gd_offset] | (uint64_t) g.data[g.gd_offset + 1] << 8 |
             (uint64_t) g.data[g.gd_offset + 2] << 16 | (uint64_t) g.data[g.gd_offset + 3] << 24;
        memcpy(g.data + gt * 512, g.data + gt * 512 + 4, 4);
        expect_refused(state, g.data, g.len, "not where the grain table points");
        free(g.data);
}

static void test_vmdk_hostile_truncated_stream(void **state)
{
        struct good g = make_good(state, C_TEXT, (1u << 20) + 512);
        /* cut in the middle of the grains: no footer where QEMU looks */
        expect_refused(state, g.data, 65536 + 40960, "no footer marker");
        free(g.data);
}

/*
 * A sparse raw image (the writer skips its holes unread, SEEK_DATA) gives
 * the very bytes the same content written out densely gives: data that
 * starts and ends inside a grain next to a hole, a hole longer than the
 * writer's window of grains (2 threads: 32 grains = 2 MiB), data in the
 * last, partial grain, and the hole at the end.
 */
static void test_vmdk_sparse_same_as_dense(void **state)
{
        _cleanup_free_ char *sparse = path(state, "sparse.raw"), *dense = path(state, "dense.raw");
        _cleanup_free_ char *vs = path(state, "sparse.vmdk"), *vd = path(state, "dense.vmdk");
        const uint64_t size = (40u << 20) + 4096;       /* not a whole number of grains */
        const struct { uint64_t off, len; } data[] = {
                { 0, 8192 },                            /* the GPT's place */
                { 3 * GRAIN + 4096, 4096 },             /* inside a grain, holes around it */
                { (7u << 20) - 4096, 8192 },            /* across a grain boundary */
                { (30u << 20), 3 * GRAIN },             /* after a hole of ~23 MiB */
                { size - 4096, 4096 },                  /* the partial last grain */
        };
        uint8_t *buf = calloc(1, size), chunk[3 * GRAIN];
        struct ovf_vmdk_info is, id;
        int fd;

        assert_non_null(buf);
        fd = open(sparse, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) size), 0);
        for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
                fill_random(chunk, data[i].len, 100 + i);
                memcpy(buf + data[i].off, chunk, data[i].len);
                assert_int_equal(xova_pwrite_all(fd, chunk, data[i].len, (off_t) data[i].off), 0);
        }
        assert_int_equal(close(fd), 0);
        fd = open(dense, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, buf, size), 0);
        assert_int_equal(close(fd), 0);
        free(buf);

        is = write_vmdk(sparse, vs, 2);
        id = write_vmdk(dense, vd, 2);
        assert_true(is.populated == id.populated);
        assert_memory_equal(is.sha256, id.sha256, 32);
        assert_same_file(vs, vd);
        is = write_vmdk(sparse, vs, 1);
        assert_memory_equal(is.sha256, id.sha256, 32);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmpdir, teardown_tmpdir)
                T(test_vmdk_roundtrip_zero),
                T(test_vmdk_roundtrip_random),
                T(test_vmdk_roundtrip_mixed),
                T(test_vmdk_roundtrip_tail),
                T(test_vmdk_threads_identical),
                T(test_vmdk_sparse_same_as_dense),
                T(test_vmdk_rejects_unaligned_size),
                T(test_vmdk_reader_at_offset),
                T(test_vmdk_accepts_qemu_img_output),
                T(test_vmdk_hostile_truncated_header),
                T(test_vmdk_hostile_bad_magic),
                T(test_vmdk_hostile_qcow2_references),
                T(test_vmdk_hostile_capacity_huge),
                T(test_vmdk_hostile_footer_differs),
                T(test_vmdk_hostile_grain_lba_beyond_capacity),
                T(test_vmdk_hostile_grain_size_past_eof),
                T(test_vmdk_hostile_deflate_bomb),
                T(test_vmdk_hostile_two_extents),
                T(test_vmdk_hostile_monolithic_flat),
                T(test_vmdk_hostile_extent_names_other_file),
                T(test_vmdk_hostile_parent),
                T(test_vmdk_hostile_unknown_marker),
                T(test_vmdk_hostile_gd_past_eof),
                T(test_vmdk_hostile_gt_past_eof),
                T(test_vmdk_hostile_gd_loop),
                T(test_vmdk_hostile_gt_mismatch),
                T(test_vmdk_hostile_truncated_stream),
#undef T
        };
        return cmocka_run_group_tests_name("vmdk", tests, NULL, NULL);
}
