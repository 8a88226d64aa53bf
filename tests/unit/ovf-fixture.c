/* SPDX-License-Identifier: MIT */
/* ovf-fixture.c - the helpers the ovf/ unit tests share (ovf-fixture.h). */
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

char *path_in(const struct fx *f, const char *name)
{
        char *p = xova_path_join(f->dir, name);
        assert_non_null(p);
        return p;
}

static void make_image(const char *path, uint64_t size, unsigned pattern)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        char buf[4096];

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) size), 0);
        for (uint64_t off = 0; off < size; off += 128 * 1024) {
                memset(buf, 0, sizeof(buf));
                snprintf(buf, sizeof(buf), "block %llu pattern %u", (unsigned long long) off, pattern);
                assert_int_equal(xova_pwrite_all(fd, buf, sizeof(buf), (off_t) off), 0);
        }
        close(fd);
}

int setup(void **state)
{
        static const char *ids[] = { "boot", "root-x86_64", "root-aarch64", "data" };
        static const char *roles[] = { "boot", "root", "root", "data" };
        struct fx *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->dir = strdup("/tmp/xova-test-ovf.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        for (size_t i = 0; i < 4; i++) {
                char name[64];
                snprintf(name, sizeof(name), "src-%s.raw", ids[i]);
                f->disks[i].id = strdup(ids[i]);
                f->disks[i].role = strdup(roles[i]);
                f->disks[i].arch = i == 1 ? xova_arch_by_name("x86_64") : i == 2 ? xova_arch_by_name("aarch64") : NULL;
                f->disks[i].source = path_in(f, name);
                make_image(f->disks[i].source, (uint64_t) (i + 1) << 19, (unsigned) i);
        }
        for (size_t i = 0; i < 2; i++) {
                f->att[i][0] = 0;
                f->att[i][1] = i + 1;
                f->att[i][2] = 3;
                f->vms[i].arch = &xova_arch_table[i];
                f->vms[i].vcpus = (unsigned) (i + 1);
                f->vms[i].memory_mib = 256 * (i + 1);
                f->vms[i].machine = strdup(xova_arch_table[i].qemu_machine);
                f->vms[i].firmware = strdup("efi");
                f->vms[i].disk_bus = strdup("virtio");
                f->vms[i].nic_model = i == 0 ? strdup("virtio") : NULL;
                f->vms[i].console = strdup("serial");
                f->vms[i].disks = f->att[i];
                f->vms[i].n_disks = 3;
        }
        f->d.name = strdup("hello");
        f->d.version = strdup("1.0 \"beta\" <b>");
        f->d.vendor = strdup("A & B <c> 'd' \xc3\xa9");
        f->d.description = strdup("line 1 ]]> & <x/>\nline 2");
        f->d.disks = f->disks;
        f->d.n_disks = 4;
        f->d.vms = f->vms;
        f->d.n_vms = 2;
        *state = f;
        return 0;
}

int teardown(void **state)
{
        struct fx *f = *state;
        char *cmd = NULL;

        assert_true(asprintf(&cmd, "rm -rf '%s'", f->dir) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        for (size_t i = 0; i < 4; i++) {
                free(f->disks[i].id);
                free(f->disks[i].role);
                free(f->disks[i].source);
                free(f->disks[i].href);
        }
        for (size_t i = 0; i < 2; i++) {
                free(f->vms[i].machine);
                free(f->vms[i].firmware);
                free(f->vms[i].disk_bus);
                free(f->vms[i].nic_model);
                free(f->vms[i].console);
        }
        free(f->d.name);
        free(f->d.version);
        free(f->d.vendor);
        free(f->d.description);
        free(f->dir);
        free(f);
        return 0;
}

/* A descriptor model with hrefs and sizes as export would fill them. */
void fill_hrefs(struct fx *f)
{
        for (size_t i = 0; i < 4; i++) {
                free(f->disks[i].href);
                assert_true(asprintf(&f->disks[i].href, "hello-%s.img", f->disks[i].id) > 0);
                f->disks[i].capacity = (uint64_t) (i + 1) << 19;
                f->disks[i].file_size = f->disks[i].capacity;
                f->disks[i].populated = 4096 * (i + 1);
                f->disks[i].format = OVF_DISK_RAW;
        }
}

char *write_xml(struct fx *f, size_t *len)
{
        struct xerr e = { 0 };
        char *xml = NULL;

        fill_hrefs(f);
        assert_int_equal(ovf_descriptor_write(&f->d, &xml, len, &e), 0);
        return xml;
}

/* Returns a copy of s with the first occurrence of from replaced by to. */
char *replace(const char *s, const char *from, const char *to)
{
        const char *p = strstr(s, from);
        char *out = NULL;

        assert_non_null(p);
        assert_true(asprintf(&out, "%.*s%s%s", (int) (p - s), s, to, p + strlen(from)) > 0);
        return out;
}

void write_file(const char *path, const void *buf, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, buf, len), 0);
        close(fd);
}

char *run_out(const char *cmd)
{
        FILE *p = popen(cmd, "r");
        char *buf = calloc(1, 4096);
        size_t n;

        assert_non_null(p);
        n = fread(buf, 1, 4095, p);
        while (n > 0 && buf[n - 1] == '\n')   /* newer xmllint ends --xpath output with one */
                n--;
        buf[n] = '\0';
        assert_int_equal(pclose(p), 0);
        return buf;
}

int export(struct fx *f, const char *name, enum ovf_export_format fmt, enum ovf_disk_format df,
           const char *key, const char *cert, bool force, struct xerr *e)
{
        struct ovf_export_opts o = { .format = fmt, .disk_format = df, .epoch = 1700000000, .seed = "t",
                                     .sign_key = key, .sign_cert = cert, .force = force };
        char *p = path_in(f, name);
        int r;

        for (size_t i = 0; i < 4; i++)
                f->disks[i].capacity = 0;
        r = ovf_export(p, &f->d, &o, e);
        free(p);
        return r;
}

int open_bundle(struct fx *f, const char *name, const struct ovf_open_opts *o, struct ovf_bundle **b,
                struct xerr *e)
{
        char *p = path_in(f, name);
        int r = ovf_bundle_open(p, o, b, e);
        free(p);
        return r;
}

void slurp(const char *path, char **buf, size_t *len)
{
        struct xerr e = { 0 };
        assert_int_equal(xova_read_file(path, 1 << 30, buf, len, &e), 0);
}

void read_good(struct fx *f, struct good *g)
{
        char *p = path_in(f, "good.ova");
        struct archive *ar = archive_read_new();
        struct archive_entry *en;
        struct xerr e = { 0 };

        assert_int_equal(export(f, "good.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, false, &e), 0);
        archive_read_support_format_tar(ar);
        assert_int_equal(archive_read_open_filename(ar, p, 10240), ARCHIVE_OK);
        memset(g, 0, sizeof(*g));
        while (archive_read_next_header(ar, &en) == ARCHIVE_OK) {
                size_t len = (size_t) archive_entry_size(en);
                g->names[g->n] = strdup(archive_entry_pathname(en));
                g->data[g->n] = malloc(len + 1);
                g->lens[g->n] = len;
                assert_int_equal(archive_read_data(ar, g->data[g->n], len), (la_ssize_t) len);
                g->n++;
        }
        archive_read_free(ar);
        free(p);
}

void free_good(struct good *g)
{
        for (size_t i = 0; i < g->n; i++) {
                free(g->names[i]);
                free(g->data[i]);
        }
}

void expect_open_fail(struct fx *f, const char *name, const char *expect)
{
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        char buf[1024];
        int before = count_entries(f->dir), r;

        r = open_bundle(f, name, NULL, &b, &e);
        xerr_format(&e, buf, sizeof(buf));
        if (r != -XOVA_EVERIFY || !strstr(buf, expect))
                fail_msg("%s: want -XOVA_EVERIFY with '%s', got %d '%s'", name, expect, r, buf);
        if (getenv("XOVA_TEST_VERBOSE"))
                print_message("%s: %s\n", name, buf);
        assert_null(b);
        /* nothing written by a refusal */
        assert_int_equal(count_entries(f->dir), before);
}

/* appends n bytes of p, or n zero bytes if p is NULL */
void raw_append(struct rawtar *t, const void *p, size_t n)
{
        t->buf = realloc(t->buf, t->len + n);
        assert_non_null(t->buf);
        if (p)
                memcpy(t->buf + t->len, p, n);
        else
                memset(t->buf + t->len, 0, n);
        t->len += n;
}

void raw_pad(struct rawtar *t)
{
        raw_append(t, NULL, (TAR_BLOCK - t->len % TAR_BLOCK) % TAR_BLOCK);
}

/* octal digits, right-aligned, NUL-terminated, in a field of `size` bytes */
void raw_octal(char *field, size_t size, uint64_t v)
{
        memset(field, '0', size - 1);
        field[size - 1] = '\0';
        for (size_t i = size - 1; i-- > 0 && v; v >>= 3)
                field[i] = (char) ('0' + (v & 7));
}

/* The checksum: the sum of the header's bytes with the chksum field read as
 * eight spaces, stored as six octal digits, NUL, space. Call after every
 * edit of the header at `off`, unless the test wants it wrong. */
void raw_checksum(struct rawtar *t, size_t off)
{
        unsigned char *h = (unsigned char *) t->buf + off;
        unsigned sum = 0;

        memset(h + TAR_CHKSUM_OFF, ' ', 8);
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += h[i];
        raw_octal((char *) h + TAR_CHKSUM_OFF, 7, sum);
}

/* Appends a ustar header (name cut at 100 bytes, as the field is); returns
 * its offset for later byte edits. */
size_t raw_header(struct rawtar *t, const char *name, char type, uint64_t size)
{
        size_t off = t->len, n = strlen(name);
        char *h;

        raw_append(t, NULL, TAR_BLOCK);
        h = t->buf + off;
        memcpy(h, name, n < 100 ? n : 100);
        raw_octal(h + 100, 8, 0644);
        raw_octal(h + 108, 8, 0);
        raw_octal(h + 116, 8, 0);
        raw_octal(h + TAR_SIZE_OFF, 12, size);
        raw_octal(h + 136, 12, 1700000000);
        h[156] = type;
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memcpy(h + 265, "root", 4);
        memcpy(h + 297, "root", 4);
        raw_checksum(t, off);
        return off;
}

/* an entry of any type: header, data, zero padding to the block; returns
 * the header's offset */
size_t raw_entry(struct rawtar *t, const char *name, char type, const void *data, size_t len)
{
        size_t off = raw_header(t, name, type, len);

        raw_append(t, data, len);
        raw_pad(t);
        return off;
}

size_t raw_member(struct rawtar *t, const char *name, const void *data, size_t len)
{
        return raw_entry(t, name, '0', data, len);
}

/* one pax record "LEN key=value\n", LEN counting the whole record, its own
 * digits included */
char *pax_record(const char *key, const char *value)
{
        size_t n = strlen(key) + strlen(value) + 3, len = n + 1;
        char *rec = NULL;

        while ((size_t) snprintf(NULL, 0, "%zu", len) + n != len)
                len++;
        assert_true(asprintf(&rec, "%zu %s=%s\n", len, key, value) > 0);
        assert_int_equal(strlen(rec), len);
        return rec;
}

/* members [from, to) of the good bundle, byte for byte as a ustar writer would */
void raw_good(struct rawtar *t, const struct good *g, size_t from, size_t to)
{
        for (size_t i = from; i < to; i++)
                raw_member(t, g->names[i], g->data[i], g->lens[i]);
}

void raw_end(struct rawtar *t)
{
        raw_append(t, NULL, 2 * TAR_BLOCK);
}

void raw_write(struct fx *f, const char *name, const struct rawtar *t)
{
        char *p = path_in(f, name);

        write_file(p, t->buf, t->len);
        free(p);
}

void expect_open_ok(struct fx *f, const char *name)
{
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        char buf[1024];
        int r = open_bundle(f, name, NULL, &b, &e);

        if (r != 0)
                fail_msg("%s: want success, got %d '%s'", name, r, xerr_format(&e, buf, sizeof(buf)));
        ovf_bundle_free(b);
}

/* The good bundle rewritten by the raw writer must open, so each refusal
 * below comes from the one hostile piece its case adds. */
void raw_read_good(struct fx *f, struct good *g)
{
        struct rawtar t = { 0 };

        read_good(f, g);
        assert_int_equal(g->n, 6);
        raw_good(&t, g, 0, g->n);
        raw_end(&t);
        raw_write(f, "raw-good.ova", &t);
        expect_open_ok(f, "raw-good.ova");
        free(t.buf);
}
