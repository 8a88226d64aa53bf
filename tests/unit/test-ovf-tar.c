/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ovf/tar.c and the OVA side of ovf/bundle.c: hostile OVAs
 * generated with libarchive's writer, and archives written block by block
 * where a header must say what that writer never would (each byte
 * explained by the code that makes it).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/unit/ovf-fixture.h"

struct member_spec {
        const char *name;
        unsigned type;                  /* AE_IFREG, AE_IFLNK, AE_IFDIR, AE_IFIFO; 1 = hard link */
        const char *data;
        size_t len;
        const char *link;
};

static void write_ova(const char *path, const struct member_spec *m, size_t n)
{
        struct archive *ar = archive_write_new();

        archive_write_set_format_pax_restricted(ar);
        assert_int_equal(archive_write_open_filename(ar, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *en = archive_entry_new();
                archive_entry_set_pathname(en, m[i].name);
                archive_entry_set_perm(en, 0644);
                archive_entry_set_mtime(en, 0, 0);
                if (m[i].type == 1) {
                        archive_entry_set_filetype(en, AE_IFREG);
                        archive_entry_set_hardlink(en, m[i].link);
                        archive_entry_set_size(en, 0);
                } else {
                        archive_entry_set_filetype(en, m[i].type);
                        if (m[i].type == AE_IFLNK)
                                archive_entry_set_symlink(en, m[i].link);
                        archive_entry_set_size(en, m[i].type == AE_IFREG ? (la_int64_t) m[i].len : 0);
                }
                assert_int_equal(archive_write_header(ar, en), ARCHIVE_OK);
                if (m[i].type == AE_IFREG && m[i].len)
                        assert_int_equal(archive_write_data(ar, m[i].data, m[i].len), (la_ssize_t) m[i].len);
                archive_entry_free(en);
        }
        assert_int_equal(archive_write_close(ar), ARCHIVE_OK);
        archive_write_free(ar);
}

/* The good members, with member `at` replaced by (or, if insert, preceded by) x. */
static size_t variant(const struct good *g, struct member_spec *out, size_t at, const struct member_spec *x,
                      bool insert, bool drop)
{
        size_t n = 0;

        for (size_t i = 0; i <= g->n; i++) {
                if (i == at && x) {
                        out[n++] = *x;
                        if (!insert)
                                continue;
                }
                if (i == at && drop)
                        continue;
                if (i < g->n)
                        out[n++] = (struct member_spec) { g->names[i], AE_IFREG, g->data[i], g->lens[i], NULL };
        }
        return n;
}

static void test_ovf_hostile_ova(void **state)
{
        struct fx *f = *state;
        struct good g;
        struct member_spec m[16];
        const struct {
                const char *file;
                struct member_spec x;
                size_t at;
                bool insert, drop;
                const char *expect;
        } cases[] = {
                { "dotdot.ova", { "../x", AE_IFREG, "x", 1, NULL }, 2, true, false, "member '../x': '..' component" },
                { "abs.ova", { "/etc/x", AE_IFREG, "x", 1, NULL }, 2, true, false, "member '/etc/x': absolute name" },
                { "deep.ova", { "a/../../x", AE_IFREG, "x", 1, NULL }, 2, true, false, "'..' component" },
                { "dotslash.ova", { "./hello.ovf", AE_IFREG, "x", 1, NULL }, 0, false, false, "'./' prefix" },
                { "backslash.ova", { "x\\..\\y", AE_IFREG, "x", 1, NULL }, 2, true, false, "backslash" },
                { "subdir.ova", { "sub/x", AE_IFREG, "x", 1, NULL }, 2, true, false, "not a bare file name" },
                { "symlink.ova", { "hello-data.img", AE_IFLNK, NULL, 0, "/etc/passwd" }, 5, false, false,
                  "member 'hello-data.img': is a symbolic link" },
                { "hardlink.ova", { "hello-data.img", 1, NULL, 0, "hello-boot.img" }, 5, false, false,
                  "member 'hello-data.img': is a hard link" },
                { "hardlink-abs.ova", { "extra", 1, NULL, 0, "/etc/passwd" }, 2, true, false, "is a hard link" },
                { "dir.ova", { "somedir", AE_IFDIR, NULL, 0, NULL }, 2, true, false, "member 'somedir/': is a directory" },
                { "ctl.ova", { "a\x1b[31mb", AE_IFREG, "x", 1, NULL }, 2, true, false, "member 'a\\e[31mb': contains a control" },
                { "fifo.ova", { "fifo", AE_IFIFO, NULL, 0, NULL }, 2, true, false, "member 'fifo': is a FIFO" },
                { "chr.ova", { "chr", AE_IFCHR, NULL, 0, NULL }, 2, true, false, "member 'chr': is a character device" },
                { "dup.ova", { "hello-boot.img", AE_IFREG, "different", 9, NULL }, 3, true, false,
                  "member 'hello-boot.img': appears twice" },
                { "notfirst.ova", { "README", AE_IFREG, "hi", 2, NULL }, 0, true, false,
                  "member 'README': the descriptor (.ovf) must be the first member" },
                { "twoovf.ova", { "other.ovf", AE_IFREG, "<x/>", 4, NULL }, 2, true, false,
                  "member 'other.ovf': a second descriptor" },
                { "extra.ova", { "extra.txt", AE_IFREG, "x", 1, NULL }, 6, true, false,
                  "member 'extra.txt': not in the descriptor's References" },
                { "missing.ova", { 0 }, 5, false, true,
                  "member 'hello-data.img': in References (disk 'data') but not in the archive" },
                { "nomf.ova", { 0 }, 1, false, true, "no manifest 'hello.mf'" },
        };
        struct member_spec desc_first;
        char *p;
        size_t n;

        read_good(f, &g);
        assert_int_equal(g.n, 6);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                n = variant(&g, m, cases[i].at, cases[i].x.name ? &cases[i].x : NULL, cases[i].insert, cases[i].drop);
                p = path_in(f, cases[i].file);
                write_ova(p, m, n);
                expect_open_fail(f, cases[i].file, cases[i].expect);
                free(p);
        }

        /* the descriptor swapped for a hostile one: refused as a member */
        desc_first = (struct member_spec) { "hello.ovf", AE_IFREG,
                "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>", 0, NULL };
        desc_first.len = strlen(desc_first.data);
        n = variant(&g, m, 0, &desc_first, false, false);
        p = path_in(f, "doctype.ova");
        write_ova(p, m, n);
        expect_open_fail(f, "doctype.ova", "member 'hello.ovf': line 1: DOCTYPE is not allowed");
        free(p);

        /* one flipped byte in the last disk member */
        {
                char *copy = malloc(g.lens[5]);
                memcpy(copy, g.data[5], g.lens[5]);
                copy[g.lens[5] - 100] ^= 0x01;
                struct member_spec flip = { g.names[5], AE_IFREG, copy, g.lens[5], NULL };
                n = variant(&g, m, 5, &flip, false, false);
                p = path_in(f, "flip.ova");
                write_ova(p, m, n);
                expect_open_fail(f, "flip.ova", "member 'hello-data.img': SHA256 mismatch (manifest line 5)");
                free(p);
                free(copy);
        }

        /* truncated tar, and garbage after the end */
        {
                char *buf, *pg = path_in(f, "good.ova");
                size_t len;
                slurp(pg, &buf, &len);
                p = path_in(f, "trunc.ova");
                write_file(p, buf, len / 2);
                expect_open_fail(f, "trunc.ova", "trunc.ova");
                free(p);
                p = path_in(f, "garbage.ova");
                buf = realloc(buf, len + 7);
                memcpy(buf + len, "garbage", 7);
                write_file(p, buf, len + 7);
                expect_open_fail(f, "garbage.ova", "data after the end of the archive");
                free(p);
                /* not a tar at all */
                p = path_in(f, "zip.ova");
                write_file(p, "PK\x03\x04 this is not a tar", sizeof("PK\x03\x04 this is not a tar") - 1);
                expect_open_fail(f, "zip.ova", "zip.ova");
                free(p);
                free(buf);
                free(pg);
        }
        free_good(&g);
}

/* The offsets the reader reports are where the data is. */
static void test_ovf_member_offsets(void **state)
{
        struct fx *f = *state;
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        struct good g;
        char *p = path_in(f, "good.ova");
        int fd;

        read_good(f, &g);
        assert_int_equal(open_bundle(f, "good.ova", NULL, &b, &e), 0);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (size_t i = 0; i < g.n; i++) {
                const char *name;
                uint64_t off, size;
                char *buf;
                assert_int_equal(ovf_bundle_member(b, i, &name, &off, &size), 0);
                assert_string_equal(name, g.names[i]);
                assert_int_equal(size, g.lens[i]);
                assert_int_equal(off % 512, 0);
                buf = malloc(size + 1);
                assert_int_equal(xova_pread_all(fd, buf, size, (off_t) off), 0);
                assert_memory_equal(buf, g.data[i], size);
                free(buf);
        }
        close(fd);
        ovf_bundle_free(b);
        free_good(&g);
        free(p);
}

/* A pax 'path' record or a GNU long name ('L') that contradicts the ustar
 * name field of the header after it: libarchive reports the pax/GNU name, a
 * reader that ignores those sees the ustar one. Whichever of the two is
 * hostile, the bundle is refused. */
static void test_ovf_hostile_tar_pax_path(void **state)
{
        struct fx *f = *state;
        struct good g;
        const struct {
                const char *file, *ustar, *ext;
                bool gnu;
                const char *expect;
        } cases[] = {
                /* libarchive sees '../x' */
                { "pax-dotdot.ova", "hello-data.img", "../x", false, "member '../x': '..' component" },
                { "gnu-dotdot.ova", "hello-data.img", "../x", true, "member '../x': '..' component" },
                /* libarchive sees the disk, a ustar-only reader '../x' */
                { "pax-hides-dotdot.ova", "../x", "hello-data.img", false,
                  "member 'hello-data.img': the tar header's name field says '../x'" },
                { "gnu-hides-dotdot.ova", "../x", "hello-data.img", true,
                  "member 'hello-data.img': the tar header's name field says '../x'" },
                /* ... or another member: two readers, two different disks */
                { "pax-hides-other.ova", "hello-boot.img", "hello-data.img", false,
                  "member 'hello-data.img': the tar header's name field says 'hello-boot.img'" },
                /* a ustar name that is the pax name with more after it */
                { "pax-longer.ova", "hello-data.img.x", "hello-data.img", false,
                  "the tar header's name field says 'hello-data.img.x'" },
                /* a long name cut much shorter than a writer would: an old
                 * reader would see a second descriptor */
                { "pax-cut-short.ova", "hello.ovf",
                  "hello.ovf-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.img",
                  false, "the tar header's name field says 'hello.ovf'" },
        };

        raw_read_good(f, &g);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct rawtar t = { 0 };
                raw_good(&t, &g, 0, 5);
                if (cases[i].gnu) {
                        raw_entry(&t, "././@LongLink", 'L', cases[i].ext, strlen(cases[i].ext) + 1);
                } else {
                        char *rec = pax_record("path", cases[i].ext);
                        raw_entry(&t, "PaxHeader/x", 'x', rec, strlen(rec));
                        free(rec);
                }
                raw_member(&t, cases[i].ustar, g.data[5], g.lens[5]);
                raw_end(&t);
                raw_write(f, cases[i].file, &t);
                expect_open_fail(f, cases[i].file, cases[i].expect);
                free(t.buf);
        }

        /* a pax record whose length field is wrong: libarchive only warns */
        {
                struct rawtar t = { 0 };
                size_t at;
                char want[64];
                raw_good(&t, &g, 0, 5);
                at = t.len;
                raw_entry(&t, "PaxHeader/x", 'x', "99 path=hello-data.img\n", 23);
                raw_member(&t, g.names[5], g.data[5], g.lens[5]);
                raw_end(&t);
                raw_write(f, "pax-badlen.ova", &t);
                snprintf(want, sizeof(want), "tar header at offset %zu", at);
                expect_open_fail(f, "pax-badlen.ova", want);
                free(t.buf);
        }
        free_good(&g);

        /* a name too long for the 100-byte field is legal: our writer puts it
         * in a pax path and its first 99 bytes in the ustar name */
        {
                struct ovf_bundle *b = NULL;
                struct xerr e = { 0 };
                const char *name;
                char *p, *buf;
                size_t len;
                free(f->d.name);
                f->d.name = strdup("an-appliance-with-a-name-of-forty-bytes");
                free(f->disks[3].id);
                f->disks[3].id = strdup("data-disk-with-an-id-of-sixty-bytes-so-the-href-is-long-xx");
                assert_int_equal(export(f, "long.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, false, &e), 0);
                expect_open_ok(f, "long.ova");
                assert_int_equal(open_bundle(f, "long.ova", NULL, &b, &e), 0);
                assert_int_equal(ovf_bundle_member(b, 5, &name, NULL, NULL), 0);
                assert_true(strlen(name) >= 100);
                p = path_in(f, "long.ova");
                slurp(p, &buf, &len);
                assert_non_null(memmem(buf, len, " path=", 6));
                free(buf);
                free(p);
                ovf_bundle_free(b);
        }
}

/* GNU base-256 sizes: a leading 0x80 byte is a positive binary number, 0xff
 * a negative one (two's complement). */
static void test_ovf_hostile_tar_base256_size(void **state)
{
        struct fx *f = *state;
        struct good g;
        const struct {
                const char *file;
                unsigned char field[12];
                const char *expect;     /* NULL: a header error at the member's header */
        } cases[] = {
                /* -1 */
                { "b256-minus1.ova", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, NULL },
                /* INT64_MIN, the most negative size libarchive can hold */
                { "b256-min.ova", { 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0 }, NULL },
                /* 2^64 - 1: does not fit in an int64 */
                { "b256-huge.ova", { 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, NULL },
                /* 2^40: a size libarchive takes, and we compare with the descriptor */
                { "b256-big.ova", { 0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0 },
                  "member 'hello-data.img': 1099511627776 bytes, the descriptor's ovf:size says 2097152" },
        };

        raw_read_good(f, &g);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct rawtar t = { 0 };
                size_t at;
                char want[128];
                raw_good(&t, &g, 0, 5);
                at = raw_member(&t, g.names[5], g.data[5], g.lens[5]);
                memcpy(t.buf + at + TAR_SIZE_OFF, cases[i].field, 12);
                raw_checksum(&t, at);
                raw_end(&t);
                raw_write(f, cases[i].file, &t);
                if (cases[i].expect)
                        snprintf(want, sizeof(want), "%s", cases[i].expect);
                else
                        snprintf(want, sizeof(want), "member 6 (after 'hello-root-aarch64.img'): tar header at "
                                 "offset %zu", at);
                expect_open_fail(f, cases[i].file, want);
                free(t.buf);
        }

        /* base-256 holding the right size is a legal encoding, and accepted */
        {
                struct rawtar t = { 0 };
                size_t at;
                uint64_t v = g.lens[5];
                raw_good(&t, &g, 0, 5);
                at = raw_member(&t, g.names[5], g.data[5], g.lens[5]);
                memset(t.buf + at + TAR_SIZE_OFF, 0, 12);
                t.buf[at + TAR_SIZE_OFF] = (char) 0x80;
                for (int k = 11; k > 0 && v; k--, v >>= 8)
                        t.buf[at + TAR_SIZE_OFF + k] = (char) (v & 0xff);
                raw_checksum(&t, at);
                raw_end(&t);
                raw_write(f, "b256-ok.ova", &t);
                expect_open_ok(f, "b256-ok.ova");
                free(t.buf);
        }
        free_good(&g);
}

/* A pax entry holding one record, for the member after it (the entry's
 * own name is not read) */
static void raw_pax(struct rawtar *t, const char *key, const char *value)
{
        char *rec = pax_record(key, value);

        raw_entry(t, "PaxHeader/member", 'x', rec, strlen(rec));
        free(rec);
}

/* The descriptor with the File entry of `href` saying ovf:size="size" */
static char *desc_with_size(const struct good *g, const char *href, uint64_t size, size_t *ret_len)
{
        char *key = NULL, *out = NULL;
        const char *at, *end, *val;
        size_t vlen;

        assert_true(asprintf(&key, "ovf:href=\"%s\"", href) > 0);
        g->data[0][g->lens[0]] = '\0';
        at = strstr(g->data[0], key);
        assert_non_null(at);
        end = strchr(at, '>');
        val = strstr(at, "ovf:size=\"");
        assert_true(val && val < end);
        val += strlen("ovf:size=\"");
        vlen = strcspn(val, "\"");
        assert_true(asprintf(&out, "%.*s%" PRIu64 "%s", (int) (val - g->data[0]), g->data[0], size, val + vlen) > 0);
        *ret_len = strlen(out);
        free(key);
        return out;
}

/* Collects what libarchive writes, and refuses everything once told to:
 * the headers of a huge member are kept, its data is never written. */
struct header_sink {
        char buf[8 * TAR_BLOCK];
        size_t used;
        bool refuse;
};

static la_ssize_t header_sink_write(struct archive *ar, void *ud, const void *p, size_t n)
{
        struct header_sink *k = ud;

        if (k->refuse || n > sizeof(k->buf) - k->used) {
                archive_set_error(ar, ENOSPC, "header sink: no data wanted");
                return -1;
        }
        memcpy(k->buf + k->used, p, n);
        k->used += n;
        return (la_ssize_t) n;
}

/* The headers ovf/export.c's writer (libarchive pax_restricted,
 * ovf_tar_member_header()) emits for one member of `size` bytes: only the
 * headers; the data is refused by the sink, so closing fails at once.
 * (Not archive_write_fail(): libarchive 3.6 then never frees the client
 * state of archive_write_open*, which LeakSanitizer reports.) */
static void libarchive_headers(struct rawtar *t, const char *name, uint64_t size)
{
        static struct header_sink k;
        struct archive *ar = archive_write_new();
        struct xerr e = { 0 };

        k.used = 0;
        k.refuse = false;
        assert_int_equal(archive_write_set_format_pax_restricted(ar), ARCHIVE_OK);
        /* no blocking: each header reaches the sink as it is written */
        assert_int_equal(archive_write_set_bytes_per_block(ar, 0), ARCHIVE_OK);
        assert_int_equal(archive_write_open(ar, &k, NULL, header_sink_write, NULL), ARCHIVE_OK);
        assert_int_equal(ovf_tar_member_header(ar, name, size, 0, "test", &e), 0);
        assert_int_equal(k.used % TAR_BLOCK, 0);
        raw_append(t, k.buf, k.used);
        k.refuse = true;
        assert_int_not_equal(archive_write_close(ar), ARCHIVE_OK);
        archive_write_free(ar);
}

/* A pax 'size' record (or another record libarchive takes the size from)
 * that differs from the size field of the ustar header after it:
 * libarchive reads that many bytes, a reader that ignores pax the field's,
 * and the two see different member boundaries. Also size fields that tar
 * readers read differently, and the header forms of members of 8 GiB or
 * more (headers only: the bundles stop long before 8 GiB of data). */
static void test_ovf_hostile_tar_pax_size(void **state)
{
        struct fx *f = *state;
        struct good g;

        raw_read_good(f, &g);

        /*
         * A pax record and a size field that disagree. In the first three
         * the record says the size the descriptor and manifest expect, so
         * without the check they verified: the field decides only what a
         * reader that ignores pax sees.
         */
        {
                const struct {
                        const char *file, *key;
                        size_t member;
                        uint64_t pax, field;
                        bool ok;
                } cases[] = {
                        /* pax larger: that reader takes 512 bytes of the disk,
                         * then the rest of it (raw, ours to forge) for headers */
                        { "pax-size-larger.ova", "size", 5, g.lens[5], TAR_BLOCK, false },
                        /* ... or all of it */
                        { "pax-size-zero.ova", "size", 5, g.lens[5], 0, false },
                        /* pax smaller: that reader takes the next member, headers
                         * and data, for the end of this one */
                        { "pax-size-smaller.ova", "size", 4, g.lens[4], g.lens[4] + TAR_BLOCK + g.lens[5], false },
                        /* libarchive 3.6 also takes the size from this record */
                        { "pax-schily-realsize.ova", "SCHILY.realsize", 5, TAR_BLOCK, g.lens[5], false },
                        /* the same size twice is legal: pax may repeat any field */
                        { "pax-size-equal.ova", "size", 5, g.lens[5], g.lens[5], true },
                };

                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        struct rawtar t = { 0 };
                        size_t k = cases[i].member, at;
                        char value[32], want[256];
                        raw_good(&t, &g, 0, k);
                        snprintf(value, sizeof(value), "%" PRIu64, cases[i].pax);
                        raw_pax(&t, cases[i].key, value);
                        at = raw_member(&t, g.names[k], g.data[k], g.lens[k]);
                        raw_octal(t.buf + at + TAR_SIZE_OFF, 12, cases[i].field);
                        raw_checksum(&t, at);
                        raw_good(&t, &g, k + 1, g.n);
                        raw_end(&t);
                        raw_write(f, cases[i].file, &t);
                        if (cases[i].ok) {
                                expect_open_ok(f, cases[i].file);
                        } else {
                                snprintf(want, sizeof(want), "member '%s': the tar header's size field says %"
                                         PRIu64 ", the pax size record %" PRIu64 " (at offset %zu)", g.names[k],
                                         cases[i].field, cases[i].pax, at);
                                expect_open_fail(f, cases[i].file, want);
                        }
                        free(t.buf);
                }
        }

        /* size fields as writers put them, and ones tar readers disagree on
         * (no pax record: libarchive reads the field its lenient way) */
        {
                char digits[16];
                const struct {
                        const char *file;
                        char field[13];         /* 12 bytes, as written */
                        bool ok;
                } cases[] = {
                        /* 11 digits and NUL: libarchive, GNU tar, Python, Go */
                        { "size-octal.ova", "00010000000\0", true },
                        /* leading spaces, a space and a NUL: old writers */
                        { "size-spaces.ova", "  10000000 \0", true },
                        /* 12 digits, no terminator: libarchive from 8 GiB on */
                        { "size-octal-12.ova", "000010000000", true },
                        /* libarchive stops at the 'x' (2 MiB), Python, Go, GNU tar refuse */
                        { "size-trailing-x.ova", "00010000000x", false },
                        /* libarchive and Python read 0, GNU tar and Go skip the NUL (2 MiB) */
                        { "size-leading-nul.ova", "\0" "0010000000\0", false },
                        /* libarchive and GNU tar read "1", Python and Go refuse */
                        { "size-inner-space.ova", "1 0000000000", false },
                        /* a tab: libarchive, GNU tar and Python skip it, Go refuses */
                        { "size-tab.ova", "\t0010000000\0", false },
                };

                snprintf(digits, sizeof(digits), "%llo", (unsigned long long) g.lens[5]);
                assert_string_equal(digits, "10000000");
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        struct rawtar t = { 0 };
                        char want[256];
                        size_t at;
                        raw_good(&t, &g, 0, 5);
                        at = raw_member(&t, g.names[5], g.data[5], g.lens[5]);
                        memcpy(t.buf + at + TAR_SIZE_OFF, cases[i].field, 12);
                        raw_checksum(&t, at);
                        raw_end(&t);
                        raw_write(f, cases[i].file, &t);
                        if (cases[i].ok) {
                                expect_open_ok(f, cases[i].file);
                        } else {
                                snprintf(want, sizeof(want), "member 'hello-data.img': the tar header's size "
                                         "field '");
                                expect_open_fail(f, cases[i].file, want);
                                snprintf(want, sizeof(want), "' is not a plain number (at offset %zu", at);
                                expect_open_fail(f, cases[i].file, want);
                        }
                        free(t.buf);
                }
        }

        /*
         * Members of 8 GiB or more (the rule is in ovf/tar.c,
         * ovf_tar_check_size()): the field must hold the true size, in 12
         * octal digits or base-256. The descriptor says the big size, so a
         * header that passes every check is refused only for claiming more
         * bytes than the file holds, right before its data would be read.
         */
        {
                const uint64_t big = UINT64_C(9) << 30;         /* 9 GiB: 12 octal digits */
                const uint64_t huge = UINT64_C(100) << 30;      /* 100 GiB: base-256 */
                enum { LIBARCHIVE, PAX_FIELD, GNU_BASE256 };
                const struct {
                        const char *file;
                        int how;
                        uint64_t size, field;   /* field: for PAX_FIELD, in octal */
                        bool ok;
                } cases[] = {
                        /* what ovf/export.c writes: pax size and 12 octal digits */
                        { "big-libarchive.ova", LIBARCHIVE, big, 0, true },
                        /* ... and from 64 GiB: pax size and base-256 */
                        { "huge-libarchive.ova", LIBARCHIVE, huge, 0, true },
                        /* GNU tar --format=gnu: base-256, no pax */
                        { "big-gnu-base256.ova", GNU_BASE256, big, 0, true },
                        /* GNU tar --format=posix, Python, Go: pax size and 0 */
                        { "big-pax-field-0.ova", PAX_FIELD, big, 0, false },
                        /* the octal maximum, 8 GiB - 1 */
                        { "big-pax-field-max.ova", PAX_FIELD, big, 077777777777, false },
                };

                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        struct rawtar t = { 0 };
                        char *desc, want[300];
                        size_t desc_len, at, data_at;
                        desc = desc_with_size(&g, g.names[5], cases[i].size, &desc_len);
                        raw_member(&t, g.names[0], desc, desc_len);
                        free(desc);
                        raw_good(&t, &g, 1, 5);
                        at = t.len;
                        if (cases[i].how == LIBARCHIVE) {
                                libarchive_headers(&t, g.names[5], cases[i].size);
                                at = t.len - TAR_BLOCK;
                                /* what the exporter emits (libarchive 3.6): a pax size
                                 * record, and the size in the ustar field too, as
                                 * 12 octal digits without a terminator below 64 GiB,
                                 * base-256 from there */
                                assert_non_null(memmem(t.buf + at - TAR_BLOCK, TAR_BLOCK, " size=", 6));
                                if (cases[i].size == big)
                                        assert_memory_equal(t.buf + at + TAR_SIZE_OFF, "110000000000", 12);
                                else
                                        assert_int_equal((unsigned char) t.buf[at + TAR_SIZE_OFF], 0x80);
                        } else if (cases[i].how == PAX_FIELD) {
                                char value[32];
                                snprintf(value, sizeof(value), "%" PRIu64, cases[i].size);
                                raw_pax(&t, "size", value);
                                at = raw_header(&t, g.names[5], '0', cases[i].field);
                        } else {
                                uint64_t v = cases[i].size;
                                at = raw_header(&t, g.names[5], '0', 0);
                                memset(t.buf + at + TAR_SIZE_OFF, 0, 12);
                                t.buf[at + TAR_SIZE_OFF] = (char) 0x80;
                                for (int k = 11; k > 0 && v; k--, v >>= 8)
                                        t.buf[at + TAR_SIZE_OFF + k] = (char) (v & 0xff);
                                raw_checksum(&t, at);
                        }
                        data_at = at + TAR_BLOCK;
                        /* a little of the data, then the file ends */
                        raw_append(&t, g.data[5], g.lens[5]);
                        raw_end(&t);
                        raw_write(f, cases[i].file, &t);
                        if (cases[i].ok)
                                snprintf(want, sizeof(want), "member 'hello-data.img': claims %" PRIu64 " bytes "
                                         "at offset %zu, beyond the end of the bundle", cases[i].size, data_at);
                        else
                                snprintf(want, sizeof(want), "member 'hello-data.img': the tar header's size "
                                         "field says %" PRIu64 ", the pax size record %" PRIu64 " (at offset %zu; "
                                         "from 8 GiB on the field must still hold the size", cases[i].field,
                                         cases[i].size, at);
                        expect_open_fail(f, cases[i].file, want);
                        free(t.buf);
                }
        }
        free_good(&g);
}

/* A header whose checksum does not add up: the first one (libarchive then
 * does not recognise a tar at all) and one in the middle. */
static void test_ovf_hostile_tar_bad_checksum(void **state)
{
        struct fx *f = *state;
        struct good g;
        struct rawtar t = { 0 };
        size_t at[6];
        char want[128];

        raw_read_good(f, &g);
        for (size_t i = 0; i < g.n; i++)
                at[i] = raw_member(&t, g.names[i], g.data[i], g.lens[i]);
        raw_end(&t);

        /* one bit of the disk's mode flipped after the checksum was computed */
        t.buf[at[5] + 100 + 3] ^= 0x01;
        raw_write(f, "sum-data.ova", &t);
        snprintf(want, sizeof(want), "member 6 (after 'hello-root-aarch64.img'): tar header at offset %zu", at[5]);
        expect_open_fail(f, "sum-data.ova", want);
        t.buf[at[5] + 100 + 3] ^= 0x01;

        /* the checksum field itself off by one */
        t.buf[at[2] + TAR_CHKSUM_OFF + 5]++;
        raw_write(f, "sum-field.ova", &t);
        snprintf(want, sizeof(want), "member 3 (after 'hello.mf'): tar header at offset %zu", at[2]);
        expect_open_fail(f, "sum-field.ova", want);
        t.buf[at[2] + TAR_CHKSUM_OFF + 5]--;
        raw_write(f, "sum-ok.ova", &t);
        expect_open_ok(f, "sum-ok.ova");

        /* the descriptor's header */
        t.buf[at[0] + 10] = 'X';
        raw_write(f, "sum-first.ova", &t);
        expect_open_fail(f, "sum-first.ova", "not a tar archive (no valid tar header at offset 0)");
        free(t.buf);
        free_good(&g);
}

/* GNU long names ('L'): 1 MiB is the most libarchive reads (a name that
 * long is then ours to refuse), more it refuses itself. */
static void test_ovf_hostile_tar_gnu_longname(void **state)
{
        struct fx *f = *state;
        struct good g;
        const size_t sizes[] = { 1024 * 1024, 1024 * 1024 + 1 };
        char *name = malloc(1024 * 1024 + 1);

        assert_non_null(name);
        memset(name, 'a', 1024 * 1024);
        raw_read_good(f, &g);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                struct rawtar t = { 0 };
                char file[64], want[128];
                size_t at;
                raw_good(&t, &g, 0, 5);
                at = t.len;
                /* the name and its NUL fill the entry */
                name[sizes[i] - 1] = '\0';
                raw_entry(&t, "././@LongLink", 'L', name, sizes[i]);
                name[sizes[i] - 1] = 'a';
                raw_member(&t, "hello-data.img", g.data[5], g.lens[5]);
                raw_end(&t);
                snprintf(file, sizeof(file), "longname-%zu.ova", sizes[i]);
                raw_write(f, file, &t);
                if (i == 0)
                        snprintf(want, sizeof(want), "member 6: longer than 255 bytes");
                else
                        snprintf(want, sizeof(want), "member 6 (after 'hello-root-aarch64.img'): tar header at "
                                 "offset %zu", at);
                expect_open_fail(f, file, want);
                free(t.buf);
        }
        free(name);
        free_good(&g);
}

/* The file ends early: inside a header, inside a member's data, and where
 * the end-of-archive marker (two zero blocks) should be. libarchive takes
 * a clean end at a block boundary, or a single zero block, as the end of
 * the archive; a bundle cut there (a download stopped at a block boundary
 * drops the members after it, e.g. a trailing .cert) is refused. */
static void test_ovf_hostile_tar_eof(void **state)
{
        struct fx *f = *state;
        struct good g;
        struct rawtar t = { 0 };
        size_t at[6], end;
        char *p, want[160];

        raw_read_good(f, &g);
        for (size_t i = 0; i < g.n; i++)
                at[i] = raw_member(&t, g.names[i], g.data[i], g.lens[i]);
        end = t.len;
        raw_end(&t);
        p = path_in(f, "eof.ova");

        /* inside the fourth header */
        write_file(p, t.buf, at[3] + 100);
        snprintf(want, sizeof(want), "member 4 (after 'hello-boot.img'): tar header at offset %zu", at[3]);
        expect_open_fail(f, "eof.ova", want);

        /* inside the data of the disk and of the manifest */
        write_file(p, t.buf, at[5] + TAR_BLOCK + 1000);
        snprintf(want, sizeof(want), "member 'hello-data.img': claims %zu bytes at offset %zu, beyond the end",
                 g.lens[5], at[5] + TAR_BLOCK);
        expect_open_fail(f, "eof.ova", want);
        write_file(p, t.buf, at[1] + TAR_BLOCK + 10);
        expect_open_fail(f, "eof.ova", "member 'hello.mf': claims");

        /* no end-of-archive marker, half of it, one block and a bit */
        for (size_t cut = 0; cut < 3; cut++) {
                static const size_t keep[] = { 0, TAR_BLOCK, TAR_BLOCK + 200 };
                write_file(p, t.buf, end + keep[cut]);
                snprintf(want, sizeof(want), "no end-of-archive marker (two zero blocks at offset %zu, after the last "
                         "member 'hello-data.img')", end);
                expect_open_fail(f, "eof.ova", want);
        }
        /* the whole marker: accepted */
        write_file(p, t.buf, end + 2 * TAR_BLOCK);
        expect_open_ok(f, "eof.ova");
        free(p);
        free(t.buf);
        free_good(&g);
}

/* After the end-of-archive marker only zero padding may follow: not a
 * second archive (a reader that skips zero blocks, like tar -i, would list
 * its members), not a stray header, not a non-zero byte in the marker. */
static void test_ovf_hostile_tar_trailing(void **state)
{
        struct fx *f = *state;
        struct good g;
        struct rawtar t = { 0 };
        size_t end;
        char want[128];

        raw_read_good(f, &g);
        raw_good(&t, &g, 0, g.n);
        end = t.len;
        raw_end(&t);

        /* a whole second archive */
        {
                struct rawtar u = { 0 };
                raw_append(&u, t.buf, t.len);
                raw_member(&u, "evil.img", "x", 1);
                raw_end(&u);
                raw_write(f, "concat.ova", &u);
                snprintf(want, sizeof(want), "data after the end of the archive (offset %zu)", end + 2 * TAR_BLOCK);
                expect_open_fail(f, "concat.ova", want);
                free(u.buf);
        }
        /* the second block of the marker not zero */
        {
                struct rawtar u = { 0 };
                raw_append(&u, t.buf, t.len);
                u.buf[end + TAR_BLOCK + 17] = 'x';
                raw_write(f, "marker.ova", &u);
                snprintf(want, sizeof(want), "damaged end-of-archive marker: non-zero byte at offset %zu",
                         end + TAR_BLOCK + 17);
                expect_open_fail(f, "marker.ova", want);
                free(u.buf);
        }
        /* a pax header with no member after it */
        {
                struct rawtar u = { 0 };
                char *rec = pax_record("path", "evil.img");
                raw_good(&u, &g, 0, g.n);
                raw_entry(&u, "PaxHeader/x", 'x', rec, strlen(rec));
                raw_end(&u);
                raw_write(f, "pax-last.ova", &u);
                snprintf(want, sizeof(want), "member 7 (after 'hello-data.img'): tar header at offset %zu", end);
                expect_open_fail(f, "pax-last.ova", want);
                free(u.buf);
                free(rec);
        }
        /* zero padding: up to 1 MiB is fine (tar writers pad to their record size) */
        {
                struct rawtar u = { 0 };
                raw_append(&u, t.buf, t.len);
                raw_append(&u, NULL, 1024 * 1024);
                raw_write(f, "pad.ova", &u);
                expect_open_ok(f, "pad.ova");
                raw_append(&u, NULL, 1);
                raw_write(f, "pad.ova", &u);
                expect_open_fail(f, "pad.ova", "1048577 bytes after the end of the archive");
                free(u.buf);
        }
        free(t.buf);
        free_good(&g);
}

/*
 * How Python's tarfile lists the bundle at `path`: one "name offset size"
 * line per member (offset of the data), into buf. false if python3 is not
 * on the machine. Python is the reader the issue caught honouring a pax
 * global header that libarchive ignores.
 */
static bool python_view(const char *path, char *buf, size_t size)
{
        char cmd[1024];
        FILE *p;
        size_t n;

        if (system("python3 -c 'import tarfile' >/dev/null 2>&1") != 0)
                return false;
        snprintf(cmd, sizeof(cmd), "python3 -c 'import sys, tarfile\n"
                 "for m in tarfile.open(sys.argv[1], \"r:\"):\n"
                 "    print(m.name, m.offset_data, m.size)' '%s' 2>&1", path);
        p = popen(cmd, "r");
        assert_non_null(p);
        n = fread(buf, 1, size - 1, p);
        buf[n] = '\0';
        pclose(p);
        return true;
}

/* The same lines as we see the bundle; the bundle must open. */
static void our_view(struct fx *f, const char *name, char *buf, size_t size)
{
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        size_t n = 0;

        assert_int_equal(open_bundle(f, name, NULL, &b, &e), 0);
        buf[0] = '\0';
        for (size_t i = 0; i < ovf_bundle_n_members(b); i++) {
                const char *m;
                uint64_t off, len;
                assert_int_equal(ovf_bundle_member(b, i, &m, &off, &len), 0);
                n += (size_t) snprintf(buf + n, size - n, "%s %" PRIu64 " %" PRIu64 "\n", m, off, len);
                assert_true(n < size);
        }
        ovf_bundle_free(b);
}

/* What we accept, Python's tarfile lists alike (when python3 is here) */
static void expect_python_agrees(struct fx *f, const char *name)
{
        char ours[4096], theirs[4096], *p = path_in(f, name);

        our_view(f, name, ours, sizeof(ours));
        if (python_view(p, theirs, sizeof(theirs)))
                assert_string_equal(ours, theirs);
        else
                print_message("python3 not found: %s not compared with tarfile\n", name);
        free(p);
}

/* One entry of type `type` holding `data`, then the good members from
 * `from`; a bundle of the good members around it (or with the disk's own
 * header of type `own`). */
static void raw_with_entry(struct rawtar *t, const struct good *g, size_t before, char type, const char *data,
                           size_t len)
{
        raw_good(t, g, 0, before);
        /* a name that passes as a member's, for the types libarchive lists as members */
        raw_entry(t, type == 'g' ? "pax_global_header" : type == 'L' || type == 'K' ? "././@LongLink" :
                  type == 'x' ? "PaxHeader/member" : "extra.img", type, data, len);
        raw_good(t, g, before, g->n);
        raw_end(t);
}

/*
 * One bundle for every tar reader: headers that libarchive skips or reads
 * its own way while other readers (GNU tar, Python's tarfile, Go) honour
 * them, and header types with no meaning in an OVA, are refused with the
 * offset of the header. Before this, each of these verified.
 */
static void test_ovf_hostile_tar_ext_headers(void **state)
{
        struct fx *f = *state;
        struct good g;
        char *rec_path_boot = pax_record("path", "hello-boot.img");
        char *rec_size = pax_record("size", "512");
        const struct {
                const char *file;
                size_t before;          /* good members before the entry */
                char type;
                const char *data;       /* NULL: one record key=value */
                const char *key, *value;
                const char *expect;     /* after "at offset N" */
        } cases[] = {
                /* the case: GNU tar and Python apply path= and size=
                 * of a global header to the members after it */
                { "g-path-first.ova", 0, 'g', NULL, "path", "hello-boot.img", "has type 'g', a pax global header" },
                { "g-size.ova", 5, 'g', NULL, "size", "512", "has type 'g', a pax global header" },
                { "g-mtime.ova", 2, 'g', NULL, "mtime", "1", "has type 'g', a pax global header" },
                /* GNU headers libarchive skips or folds in */
                { "gnu-volume.ova", 0, 'V', "", NULL, NULL, "has type 'V', a GNU volume header" },
                { "gnu-longlink.ova", 5, 'K', "hello-boot.img", NULL, NULL, "has type 'K', a GNU long link name" },
                { "gnu-multivol.ova", 5, 'M', "", NULL, NULL, "has type 'M'" },
                { "gnu-oldnames.ova", 5, 'N', "", NULL, NULL, "has type 'N'" },
                { "solaris-x.ova", 5, 'X', NULL, "path", "hello-data.img", "has type 'X'" },
                /* pax keywords readers treat differently, or that mean nothing here */
                { "pax-linkpath.ova", 5, 'x', NULL, "linkpath", "hello-boot.img", "pax record 'linkpath'" },
                { "pax-hdrcharset.ova", 5, 'x', NULL, "hdrcharset", "BINARY", "pax record 'hdrcharset'" },
                { "pax-charset.ova", 5, 'x', NULL, "charset", "ISO-IR 8859 1 1987", "pax record 'charset'" },
                { "pax-xattr.ova", 5, 'x', NULL, "SCHILY.xattr.user.x", "1", "pax record 'SCHILY.xattr.user.x'" },
                { "pax-libarchive.ova", 5, 'x', NULL, "LIBARCHIVE.creationtime", "1", "pax record 'LIBARCHIVE." },
                { "pax-comment.ova", 5, 'x', NULL, "comment", "hi", "pax record 'comment'" },
                { "pax-gnu-sparse-name.ova", 5, 'x', NULL, "GNU.sparse.name", "hello-data.img",
                  "pax record 'GNU.sparse.name'" },
                /* allowed keywords with values readers read differently */
                { "pax-size-zeros.ova", 5, 'x', NULL, "size", "02097152", "differs from the member's size" },
                { "pax-mtime-junk.ova", 5, 'x', NULL, "mtime", "12abc", "'mtime=12abc'" },
                { "pax-uid-neg.ova", 5, 'x', NULL, "uid", "-1", "'uid=-1'" },
                { "pax-uname-esc.ova", 5, 'x', NULL, "uname", "a\033[2Jb", "'uname=a\\e[2Jb'" },
                /* two records for one key: libarchive takes the last, others may not */
                { "pax-two-paths.ova", 5, 'x', "23 path=hello-data.img\n23 path=hello-data.img\n", NULL, NULL,
                  "a second 'path' for one member" },
                { "pax-leading-zero.ova", 5, 'x', "024 path=hello-data.img\n", NULL, NULL, "malformed pax record" },
                /* a GNU long name with something after its NUL */
                { "gnu-longname-junk.ova", 5, 'L', "hello-data.img\0junk", NULL, NULL,
                  "GNU long name at offset" },
        };

        raw_read_good(f, &g);
        expect_python_agrees(f, "raw-good.ova");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct rawtar t = { 0 };
                char *rec = NULL, want[256];
                const char *data = cases[i].data;
                size_t len, at = 0;

                if (!data)
                        data = rec = pax_record(cases[i].key, cases[i].value);
                len = strcmp(cases[i].file, "gnu-longname-junk.ova") == 0 ? 19 : strlen(data);
                raw_good(&t, &g, 0, cases[i].before);
                at = t.len;
                t.len = 0;
                free(t.buf);
                t.buf = NULL;
                raw_with_entry(&t, &g, cases[i].before, cases[i].type, data, len);
                raw_write(f, cases[i].file, &t);
                /* the header itself, or (for a bad record) its data block */
                if (cases[i].type == 'x')
                        /* the record's offset: the second one for the duplicate */
                        snprintf(want, sizeof(want), "at offset %zu",
                                 at + TAR_BLOCK + (strstr(cases[i].expect, "a second") ? 23 : 0));
                else
                        snprintf(want, sizeof(want), "at offset %zu", at);
                expect_open_fail(f, cases[i].file, want);
                expect_open_fail(f, cases[i].file, cases[i].expect);
                free(rec);
                free(t.buf);
        }

        /* a pax header and a GNU long name before one member */
        {
                struct rawtar t = { 0 };
                char *rec = pax_record("path", "hello-data.img"), want[128];
                size_t at;
                raw_good(&t, &g, 0, 5);
                at = t.len;
                raw_entry(&t, "PaxHeader/member", 'x', rec, strlen(rec));
                raw_entry(&t, "././@LongLink", 'L', "hello-data.img", 15);
                raw_good(&t, &g, 5, g.n);
                raw_end(&t);
                raw_write(f, "pax-and-gnu.ova", &t);
                snprintf(want, sizeof(want), "more than one extension header before the member (at offset %zu", at);
                expect_open_fail(f, "pax-and-gnu.ova", want);
                free(rec);
                free(t.buf);
        }

        /* the member's own header of a type readers may take for a file */
        {
                const char types[] = { '7', 'S', 'I' };
                for (size_t i = 0; i < sizeof(types); i++) {
                        struct rawtar t = { 0 };
                        char file[32], want[128];
                        size_t at;
                        raw_good(&t, &g, 0, 5);
                        at = raw_member(&t, g.names[5], g.data[5], g.lens[5]);
                        t.buf[at + 156] = types[i];
                        raw_checksum(&t, at);
                        raw_end(&t);
                        snprintf(file, sizeof(file), "own-type-%c.ova", types[i]);
                        raw_write(f, file, &t);
                        expect_open_fail(f, file, "member 'hello-data.img'");
                        snprintf(want, sizeof(want), "at offset %zu", at);
                        if (types[i] != 'S' && types[i] != 'I')
                                expect_open_fail(f, file, want);
                        free(t.buf);
                }
        }

        /* what GNU tar --format=posix, Python and Go write is accepted, and
         * Python lists it as we do */
        {
                struct rawtar t = { 0 };
                char *recs[] = { pax_record("path", "hello-data.img"), pax_record("mtime", "1700000000.5"),
                                 pax_record("atime", "1700000000"), pax_record("ctime", "-1.25"),
                                 pax_record("uid", "0"), pax_record("gid", "0"), pax_record("uname", "root"),
                                 pax_record("gname", "root"), pax_record("size", "2097152") };
                char all[1024] = "";
                for (size_t i = 0; i < ELEMENTSOF(recs); i++) {
                        strcat(all, recs[i]);
                        free(recs[i]);
                }
                raw_with_entry(&t, &g, 5, 'x', all, strlen(all));
                raw_write(f, "pax-posix.ova", &t);
                expect_open_ok(f, "pax-posix.ova");
                expect_python_agrees(f, "pax-posix.ova");
                free(t.buf);
        }
        /* ... and a GNU long name holding the name and its NUL */
        {
                struct rawtar t = { 0 };
                raw_with_entry(&t, &g, 5, 'L', "hello-data.img", 15);
                raw_write(f, "gnu-longname-ok.ova", &t);
                expect_open_ok(f, "gnu-longname-ok.ova");
                expect_python_agrees(f, "gnu-longname-ok.ova");
                free(t.buf);
        }
        /* what we refused is a real differential: Python lists the global
         * header's bundle with another name at the descriptor's place
         * (data at 1536: after the global header and its data block) */
        {
                char theirs[4096], *p = path_in(f, "g-path-first.ova");
                if (python_view(p, theirs, sizeof(theirs)))
                        assert_true(strncmp(theirs, "hello-boot.img 1536 ", 20) == 0);
                free(p);
        }
        free(rec_path_boot);
        free(rec_size);
        free_good(&g);
}


int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ovf_hostile_ova, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_member_offsets, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_pax_path, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_base256_size, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_pax_size, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_bad_checksum, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_gnu_longname, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_eof, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_trailing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_hostile_tar_ext_headers, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
