/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for bootpart/: grub.cfg, GRUB dirs, GPT layout and writing,
 * the USP (FAT) size and contents, determinism. Every image is checked
 * with tools that are not our writer: sfdisk --json and sgdisk -v for the
 * GPT, mtools for the FAT, grub-script-check for grub.cfg.
 *
 * Tests that need kernels, initrds or GRUB modules read them from
 * $XOVA_FIXTURES and FAIL (never skip) when they are missing.
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

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tests/unit/testutil.h"

#include "common/common.h"
#include "bootpart/bootpart.h"
#include "bootpart/bootpart-internal.h"

#define MIB (UINT64_C(1) << 20)

static char *path_in(const char *dir, const char *name)
{
        char *p = xova_path_join(dir, name);
        assert_non_null(p);
        return p;
}

/* Runs a shell command, returns its stdout (NUL-terminated) and exit status. */
static char *run_capture(int *ret_status, const char *fmt, ...)
{
        char *cmd = NULL, *out = NULL;
        size_t len = 0, n;
        char buf[4096];
        va_list ap;
        FILE *p, *m;

        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        p = popen(cmd, "r");
        assert_non_null(p);
        m = open_memstream(&out, &len);
        assert_non_null(m);
        while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
                fwrite(buf, 1, n, m);
        *ret_status = pclose(p);
        fclose(m);
        free(cmd);
        return out;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static bool files_equal(const char *a, const char *b)
{
        char *cmd = NULL;
        int st;
        assert_true(asprintf(&cmd, "cmp -s '%s' '%s'", a, b) > 0);
        st = system(cmd);
        free(cmd);
        return st == 0;
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */

static const char *fixtures(void)
{
        const char *f = getenv("XOVA_FIXTURES");
        return f && *f ? f : TEST_FIXTURES_DEFAULT;
}

/* The fixture path, or a test failure naming the script that makes it. */
static char *fixture(const char *rel)
{
        char *p = NULL;
        struct stat st;

        assert_true(asprintf(&p, "%s/%s", fixtures(), rel) > 0);
        if (stat(p, &st) < 0)
                fail_msg("fixture '%s' is missing: run tests/fixtures/fetch.sh && "
                         "tests/fixtures/mkinitrd.sh (or set XOVA_FIXTURES)", p);
        return p;
}

struct usp_fixture {
        struct bootpart_payload pl[2];
        char *kernel[2], *initrd[2], *grubroot;
        const char *grub_dirs[2];
        struct bootpart_usp u;
};

static void usp_fixture_init(struct usp_fixture *f, const char *workdir)
{
        const char *names[2] = { "x86_64", "aarch64" };

        memset(f, 0, sizeof(*f));
        assert_true(xova_arch_count >= 2);
        for (size_t i = 0; i < 2; i++) {
                char rel[64];
                snprintf(rel, sizeof(rel), "%s/vmlinuz", names[i]);
                f->kernel[i] = fixture(rel);
                snprintf(rel, sizeof(rel), "%s/initrd.img", names[i]);
                f->initrd[i] = fixture(rel);
                f->pl[i] = (struct bootpart_payload) { .arch = xova_arch_by_name(names[i]),
                                                       .kernel = f->kernel[i],
                                                       .initrd = f->initrd[i],
                                                       .cmdline = "quiet" };
                assert_non_null(f->pl[i].arch);
        }
        free(fixture("grub/x86_64-efi/moddep.lst"));
        free(fixture("grub/arm64-efi/moddep.lst"));
        f->grubroot = fixture("grub");
        f->grub_dirs[0] = f->grubroot;
        f->u = (struct bootpart_usp) { .payloads = f->pl, .n_payloads = 2,
                                       .grub_dirs = f->grub_dirs, .seed = "test-seed",
                                       .epoch = 1700000000, .workdir = workdir };
}

static void usp_fixture_done(struct usp_fixture *f)
{
        for (size_t i = 0; i < 2; i++) {
                free(f->kernel[i]);
                free(f->initrd[i]);
        }
        free(f->grubroot);
}

/* ------------------------------------------------------------------ */
/* PE check of what grub-mkimage wrote                                 */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t) v; p[1] = (uint8_t) (v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t) v); put16(p + 2, (uint16_t) (v >> 16)); }

/* A minimal PE32+ EFI application of 4 KiB, every byte explained: DOS
 * header with e_lfanew = 0x80, "PE\0\0", COFF header (machine, 1 section,
 * 240-byte optional header), optional header magic 0x20b and subsystem 10,
 * one section of 2 KiB at file offset 2 KiB (so it ends at the end). */
static void make_pe(uint8_t pe[4096], uint16_t machine)
{
        memset(pe, 0, 4096);
        pe[0] = 'M';
        pe[1] = 'Z';
        put32(pe + 0x3c, 0x80);
        memcpy(pe + 0x80, "PE\0\0", 4);
        put16(pe + 0x84, machine);
        put16(pe + 0x86, 1);
        put16(pe + 0x94, 240);
        put16(pe + 0x98, 0x20b);
        put16(pe + 0x98 + 68, 10);
        memcpy(pe + 0x188, ".text", 5);
        put32(pe + 0x188 + 16, 0x800);
        put32(pe + 0x188 + 20, 0x800);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, p, n), 0);
        assert_int_equal(close(fd), 0);
}

/* expects bootpart_pe_check to refuse path with a message containing want */
static void pe_refused(const char *path, uint16_t machine, const char *want)
{
        struct xerr e = { 0 };

        assert_int_equal(bootpart_pe_check(path, "BOOTX64.EFI", machine, "grub-mkimage", &e), -EIO);
        assert_string_equal(e.where, "grub-mkimage");
        if (strncmp(e.msg, "exited 0 but 'BOOTX64.EFI' ", 27) != 0 || !strstr(e.msg, want))
                fail_msg("message '%s' lacks '%s'", e.msg, want);
}

static void test_bootpart_pe_check(void **state)
{
        char *f = path_in(*state, "BOOTX64.EFI");
        struct xerr e = { 0 };
        uint8_t pe[4096], bad[4096];

        make_pe(pe, 0x8664);
        write_bytes(f, pe, sizeof(pe));
        assert_int_equal(bootpart_pe_check(f, "BOOTX64.EFI", 0x8664, "grub-mkimage", &e), 0);

        pe_refused(f, 0xaa64, "for machine 0x8664, want 0xaa64");
        unlink(f);
        pe_refused(f, 0x8664, "was not written");
        write_bytes(f, pe, 0);
        pe_refused(f, 0x8664, "is empty");
        write_bytes(f, pe, 3072);
        pe_refused(f, 0x8664, "is truncated: section 1 ends at byte 4096, the file has 3072");
        write_bytes(f, pe, 256);
        pe_refused(f, 0x8664, "is truncated: 256 bytes, its PE headers end at byte 432");
        write_bytes(f, pe, 100);
        pe_refused(f, 0x8664, "is truncated: 100 bytes, its PE header is at offset 128");
        memcpy(bad, pe, sizeof(bad));
        bad[1] = 'X';
        write_bytes(f, bad, sizeof(bad));
        pe_refused(f, 0x8664, "is not a PE image (no 'MZ' header)");
        memcpy(bad, pe, sizeof(bad));
        put32(bad + 0x3c, 0xfff0);
        write_bytes(f, bad, sizeof(bad));
        pe_refused(f, 0x8664, "no PE signature at offset 65520");
        memcpy(bad, pe, sizeof(bad));
        bad[0x82] = 'X';
        write_bytes(f, bad, sizeof(bad));
        pe_refused(f, 0x8664, "no PE signature at offset 128");
        memcpy(bad, pe, sizeof(bad));
        put16(bad + 0x98, 0x10b);
        write_bytes(f, bad, sizeof(bad));
        pe_refused(f, 0x8664, "is not a PE32+ EFI application (magic 0x010b, subsystem 10)");
        memcpy(bad, pe, sizeof(bad));
        put16(bad + 0x98 + 68, 3);
        write_bytes(f, bad, sizeof(bad));
        pe_refused(f, 0x8664, "subsystem 3)");
        memcpy(bad, pe, sizeof(bad));
        put16(bad + 0x86, 0);
        write_bytes(f, bad, sizeof(bad));
        pe_refused(f, 0x8664, "no sections");
        memcpy(bad, pe, sizeof(bad));
        put16(bad + 0x86, 200);         /* 200 section headers: past the first 4 KiB ... */
        write_bytes(f, bad, sizeof(bad));
        pe_refused(f, 0x8664, "is truncated: 4096 bytes, its PE headers end at byte 8392");
        assert_int_equal(truncate(f, 8192), 0);     /* ... of a longer file */
        pe_refused(f, 0x8664, "PE headers beyond its first 4096 bytes");
        assert_int_equal(unlink(f), 0);
        assert_int_equal(mkdir(f, 0755), 0);
        pe_refused(f, 0x8664, "is not a regular file");
        free(f);
}

/* ------------------------------------------------------------------ */
/* FAT reader (what checks mkfs.fat, mmd and mcopy)                    */

static void fat_refused(struct bootpart_fat *f, const char *path, int code, const char *want)
{
        struct bootpart_fat_entry de;
        struct xerr e = { 0 };

        assert_int_equal(bootpart_fat_stat(f, path, &de, &e), code);
        if (!strstr(e.msg, want))
                fail_msg("'%s': message '%s' lacks '%s'", path, e.msg, want);
}

static void put_fat_entry(int fd, const struct bootpart_fat *f, uint32_t c, uint32_t v)
{
        uint8_t b[4];
        put32(b, v);
        assert_int_equal(xova_pwrite_all(fd, b, 4, (off_t) (f->offset + f->fat_off + 4 * (uint64_t) c)), 0);
}

static uint32_t get_fat_entry(int fd, const struct bootpart_fat *f, uint32_t c)
{
        uint8_t b[4];
        assert_int_equal(xova_pread_all(fd, b, 4, (off_t) (f->offset + f->fat_off + 4 * (uint64_t) c)), 0);
        return xova_le32(b);
}

static void test_bootpart_fat_reader(void **state)
{
        const char *dir = *state;
        char *img = path_in(dir, "fat.img"), *src = path_in(dir, "src"), *out;
        struct bootpart_fat f = { 0 };
        struct bootpart_fat_entry de;
        struct xerr e = { 0 };
        uint8_t sector[512], saved[512];
        uint32_t next;
        int fd, status;

        /* 40 MiB FAT32 at 1 MiB in a 42 MiB file, 512-byte clusters as in the
         * USP; /dir holds 40 files with long names (4 KiB of entries, so 8
         * clusters), one deleted; an empty file; a 3000-byte file */
        out = run_capture(&status,
                          "set -e; cd '%s'; truncate -s 42M '%s'; mkdir src; "
                          "for i in $(seq 10 49); do echo $i >src/file-number-$i; done; "
                          "head -c 3000 /dev/urandom >src/small.bin; : >src/empty; "
                          "mkfs.fat --invariant -i 1234ABCD -F 32 -S 512 -s 1 -h 2048 --mbr=n -n TEST "
                          "--offset=2048 '%s' 40960 >/dev/null 2>&1; "
                          "export MTOOLS_SKIP_CHECK=1; I='%s@@1048576'; "
                          "mmd -i \"$I\" ::/dir; mcopy -i \"$I\" src/file-number-* ::/dir/; "
                          "mcopy -i \"$I\" src/small.bin src/empty ::/; mdel -i \"$I\" ::/dir/file-number-17",
                          dir, img, img, img);
        assert_int_equal(status, 0);
        free(out);
        fd = open(img, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(bootpart_fat_open(fd, MIB, &f, &e), 0);
        assert_int_equal(f.total_sectors, 40960 * 2);
        assert_int_equal(f.bytes_per_sector, 512);
        assert_int_equal(f.cluster_bytes, 512);
        assert_int_equal(f.hidden_sectors, 2048);
        assert_int_equal(f.serial, 0x1234abcd);

        assert_int_equal(bootpart_fat_stat(&f, "/small.bin", &de, &e), 0);
        assert_false(de.is_dir);
        assert_int_equal(de.size, 3000);
        assert_int_equal(bootpart_fat_stat(&f, "::/SMALL.BIN", &de, &e), 0);     /* mtools' spelling, any case */
        assert_int_equal(de.size, 3000);
        assert_int_equal(bootpart_fat_stat(&f, "/empty", &de, &e), 0);
        assert_int_equal(de.size, 0);
        assert_int_equal(bootpart_fat_stat(&f, "::/dir", &de, &e), 0);
        assert_true(de.is_dir);
        assert_int_equal(bootpart_fat_stat(&f, "/", &de, &e), 0);
        assert_true(de.is_dir);
        for (int i = 10; i < 50; i++) {
                char p[64];
                snprintf(p, sizeof(p), "/dir/File-Number-%d", i);
                if (i == 17) {
                        fat_refused(&f, p, -ENOENT, "is not on the ESP");       /* deleted */
                        continue;
                }
                assert_int_equal(bootpart_fat_stat(&f, p, &de, &e), 0);
                assert_int_equal(de.size, 3);
        }
        fat_refused(&f, "::/dir/nope", -ENOENT, "'::/dir/nope' is not on the ESP");
        fat_refused(&f, "/nodir/x", -ENOENT, "'/nodir/x' is not on the ESP");
        fat_refused(&f, "::/small.bin/x", -ENOTDIR, "'::/small.bin' is not a directory");

        /* a file's chain must hold exactly the clusters its size needs */
        assert_int_equal(bootpart_fat_stat(&f, "/small.bin", &de, &e), 0);
        next = get_fat_entry(fd, &f, de.first_cluster);
        put_fat_entry(fd, &f, de.first_cluster, 0x0fffffff);
        fat_refused(&f, "/small.bin", -EBADMSG, "'/small.bin' has 3000 bytes but only 1 of the 6 clusters");
        put_fat_entry(fd, &f, de.first_cluster, 0);
        fat_refused(&f, "/small.bin", -EBADMSG, "the cluster chain of '/small.bin' is broken after cluster");
        put_fat_entry(fd, &f, de.first_cluster, de.first_cluster);    /* a loop */
        fat_refused(&f, "/small.bin", -EBADMSG, "has 3000 bytes but more than the 6 clusters");
        put_fat_entry(fd, &f, de.first_cluster, next);
        assert_int_equal(bootpart_fat_stat(&f, "/small.bin", &de, &e), 0);

        /* a directory that loops onto itself is refused, not walked forever */
        assert_int_equal(bootpart_fat_stat(&f, "/dir", &de, &e), 0);
        next = get_fat_entry(fd, &f, de.first_cluster);
        put_fat_entry(fd, &f, de.first_cluster, de.first_cluster);
        fat_refused(&f, "/dir/file-number-49", -EBADMSG, "the directory '/dir' has a looping");
        put_fat_entry(fd, &f, de.first_cluster, next);
        assert_int_equal(bootpart_fat_stat(&f, "/dir/file-number-49", &de, &e), 0);
        bootpart_fat_done(&f);

        /* boot sectors that are not ours */
        assert_int_equal(xova_pread_all(fd, saved, 512, MIB), 0);
        memcpy(sector, saved, 512);
        sector[511] = 0;
        assert_int_equal(xova_pwrite_all(fd, sector, 512, MIB), 0);
        assert_int_equal(bootpart_fat_open(fd, MIB, &f, &e), -EBADMSG);
        assert_string_equal(e.msg, "no FAT boot sector at offset 1048576 (no 0x55AA signature)");
        memcpy(sector, saved, 512);
        memcpy(sector + 82, "FAT16   ", 8);
        assert_int_equal(xova_pwrite_all(fd, sector, 512, MIB), 0);
        assert_int_equal(bootpart_fat_open(fd, MIB, &f, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "is not FAT32 (type 'FAT16   ')"));
        memcpy(sector, saved, 512);
        sector[13] = 3;         /* sectors per cluster: not a power of two */
        assert_int_equal(xova_pwrite_all(fd, sector, 512, MIB), 0);
        assert_int_equal(bootpart_fat_open(fd, MIB, &f, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "impossible BPB"));
        memcpy(sector, saved, 512);
        put32(sector + 44, 0x0ffffff0);         /* root cluster */
        assert_int_equal(xova_pwrite_all(fd, sector, 512, MIB), 0);
        assert_int_equal(bootpart_fat_open(fd, MIB, &f, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "root directory"));
        /* the image ends before the boot sector */
        assert_int_equal(bootpart_fat_open(fd, 42 * MIB, &f, &e), -EIO);
        close(fd);
        free(img);
        free(src);
}

/* ------------------------------------------------------------------ */
/* grub.cfg                                                            */

static void two_payloads(struct bootpart_payload pl[2])
{
        pl[0] = (struct bootpart_payload) { .arch = xova_arch_by_name("x86_64"),
                                            .kernel = "/k1", .initrd = "/i1",
                                            .cmdline = "quiet loglevel=3",
                                            .root_partuuid = "11111111-2222-4333-8444-555555555555" };
        pl[1] = (struct bootpart_payload) { .arch = xova_arch_by_name("aarch64"),
                                            .kernel = "/k2", .initrd = "/i2" };
        assert_non_null(pl[0].arch);
        assert_non_null(pl[1].arch);
}

static void test_bootpart_grub_cfg_per_arch(void **state)
{
        struct bootpart_payload pl[2];
        struct xerr e = { 0 };
        char *cfg = NULL, *path = path_in(*state, "grub.cfg"), *out;
        int st;

        two_payloads(pl);
        assert_int_equal(bootpart_grub_cfg(pl, 2, &cfg, &e), 0);
        assert_non_null(strstr(cfg, "set timeout=0\n"));
        assert_non_null(strstr(cfg, "if [ \"$grub_cpu\" = \"x86_64\" ]; then\n"));
        assert_non_null(strstr(cfg, "elif [ \"$grub_cpu\" = \"arm64\" ]; then\n"));
        assert_non_null(strstr(cfg, "set xova_dir=\"/x86_64\"\n"));
        assert_non_null(strstr(cfg, "set xova_dir=\"/aarch64\"\n"));
        assert_non_null(strstr(cfg, "set xova_args=\"console=ttyS0 root=PARTUUID="
                                    "11111111-2222-4333-8444-555555555555 panic=-1 quiet loglevel=3\"\n"));
        /* no root partition given for aarch64: no root= at all */
        assert_non_null(strstr(cfg, "set xova_args=\"console=ttyAMA0 panic=-1\"\n"));
        assert_non_null(strstr(cfg, "export xova_arch xova_dir xova_initrd xova_args\n"));
        assert_non_null(strstr(cfg, "linux $xova_dir/vmlinuz $xova_args\n"));
        assert_non_null(strstr(cfg, "\n        initrd $xova_dir/initrd.img\n"));
        /* an unknown cpu says so and halts */
        assert_non_null(strstr(cfg, "else\n        echo \"xova: this appliance has no boot payload"));
        assert_non_null(strstr(cfg, "halt\nfi\n"));

        /* GRUB's own parser accepts it */
        write_file(path, cfg);
        out = run_capture(&st, "grub-script-check '%s' 2>&1", path);
        if (st != 0)
                fail_msg("grub-script-check rejects grub.cfg: %s", out);
        free(out);
        free(path);
        free(cfg);
}

static void test_bootpart_grub_cfg_initrd_only_when_present(void **state)
{
        struct bootpart_payload pl[2];
        struct xerr e = { 0 };
        char *cfg = NULL;
        (void) state;

        two_payloads(pl);
        pl[1].initrd = NULL;
        assert_int_equal(bootpart_grub_cfg(pl, 2, &cfg, &e), 0);
        assert_non_null(strstr(cfg, "if [ \"$xova_initrd\" = \"1\" ]; then\n"));
        assert_non_null(strstr(cfg, "set xova_initrd=\"\"\n"));
        free(cfg);

        pl[0].initrd = NULL;
        assert_int_equal(bootpart_grub_cfg(pl, 2, &cfg, &e), 0);
        assert_null(strstr(cfg, "initrd $"));
        free(cfg);

        /* a single arch is fine too */
        assert_int_equal(bootpart_grub_cfg(pl + 1, 1, &cfg, &e), 0);
        assert_null(strstr(cfg, "x86_64"));
        free(cfg);
}

static void test_bootpart_grub_cfg_refuses_injection(void **state)
{
        static const char *const bad[] = {
                "quiet\nset x=1", "a\"b", "a'b", "a\\b", "$root", "a;reboot", "{", "}", "`x`",
                "a\tb", "a\rb", "a\x1b[0m", "a\x7f",
        };
        struct bootpart_payload pl[2];
        struct xerr e = { 0 };
        char *cfg = NULL;
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                two_payloads(pl);
                pl[1].cmdline = bad[i];
                e = (struct xerr) { 0 };
                cfg = NULL;
                assert_int_equal(bootpart_grub_cfg(pl, 2, &cfg, &e), -EINVAL);
                assert_null(cfg);
                assert_int_equal(e.code, -EINVAL);
                assert_string_equal(e.where, "aarch64");
                assert_non_null(strstr(e.msg, "not allowed in grub.cfg"));
        }
        /* allowed: the usual kernel argument characters */
        two_payloads(pl);
        pl[1].cmdline = "quiet a=b,c.d/e:f+g-h_i@j%k systemd.unit=x.target";
        assert_int_equal(bootpart_grub_cfg(pl, 2, &cfg, &e), 0);
        free(cfg);

        /* a root PARTUUID that is not a UUID */
        two_payloads(pl);
        strcpy(pl[0].root_partuuid, "x\"; reboot; \"");
        assert_int_equal(bootpart_grub_cfg(pl, 2, &cfg, &e), -EINVAL);
        /* the same arch twice */
        two_payloads(pl);
        pl[1].arch = pl[0].arch;
        assert_int_equal(bootpart_grub_cfg(pl, 2, &cfg, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "twice"));
        /* nothing at all */
        assert_int_equal(bootpart_grub_cfg(pl, 0, &cfg, &e), -EINVAL);
}

static void test_bootpart_grub_dir(void **state)
{
        const char *roots_bad[] = { "/nonexistent/a", "/nonexistent/b", NULL };
        struct bootpart_usp u = { .grub_dirs = roots_bad };
        const struct xova_arch *aa = xova_arch_by_name("aarch64");
        struct xerr e = { 0 };
        char *dir = NULL, *root = fixture("grub"), *want = NULL;
        const char *roots[] = { "/nonexistent/a", root, NULL };
        (void) state;

        assert_int_equal(bootpart_grub_dir(&u, aa, &dir, &e), -ENOENT);
        assert_null(dir);
        assert_non_null(strstr(e.msg, "'/nonexistent/b/arm64-efi'"));
        assert_non_null(strstr(e.msg, "grub-efi-arm64-bin"));

        u.grub_dirs = roots;
        assert_int_equal(bootpart_grub_dir(&u, aa, &dir, &e), 0);
        assert_true(asprintf(&want, "%s/arm64-efi", root) > 0);
        assert_string_equal(dir, want);
        free(dir);
        free(want);
        free(root);
}

/* ------------------------------------------------------------------ */
/* GPT                                                                 */

static void test_bootpart_gpt_layout(void **state)
{
        struct bootpart_gpt_part p[3] = {
                { .name = "USP", .type = BOOTPART_TYPE_ESP, .size = 64 * MIB },
                { .name = "root", .type = BOOTPART_TYPE_LINUX_DATA, .size = 1 * MIB },
                { .name = "data", .type = BOOTPART_TYPE_LINUX_DATA, .size = 1024 * MIB },
        };
        struct bootpart_gpt_part many[BOOTPART_GPT_MAX_PARTS + 1];
        struct xerr e = { 0 };
        uint64_t disk = 0;
        (void) state;

        assert_int_equal(bootpart_gpt_layout(p, 3, &disk, &e), 0);
        assert_true(p[0].offset == 1 * MIB);
        assert_true(p[1].offset == 65 * MIB);
        assert_true(p[2].offset == 66 * MIB);
        assert_true(disk == (66 + 1024 + 1) * MIB);

        /* errors leave the offsets alone */
        p[1].size = MIB + 512;
        p[0].offset = 7;
        assert_int_equal(bootpart_gpt_layout(p, 3, &disk, &e), -EINVAL);
        assert_string_equal(e.where, "partition 2");
        assert_true(p[0].offset == 7);
        p[1].size = 0;
        assert_int_equal(bootpart_gpt_layout(p, 3, &disk, &e), -EINVAL);
        p[1].size = MIB;
        p[1].type = "not-a-guid";
        assert_int_equal(bootpart_gpt_layout(p, 3, &disk, &e), -EINVAL);
        p[1].type = BOOTPART_TYPE_LINUX_DATA;
        p[1].name = "a name that is longer than thirty-six characters";
        assert_int_equal(bootpart_gpt_layout(p, 3, &disk, &e), -EINVAL);
        p[1].name = "";
        assert_int_equal(bootpart_gpt_layout(p, 3, &disk, &e), -EINVAL);
        p[1].name = "root";
        p[2].size = UINT64_MAX - MIB + 1;      /* MiB multiple, but overflows */
        assert_int_equal(bootpart_gpt_layout(p, 3, &disk, &e), -EFBIG);
        assert_int_equal(bootpart_gpt_layout(p, 0, &disk, &e), -EINVAL);

        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (struct bootpart_gpt_part) { .name = "p", .type = BOOTPART_TYPE_LINUX_DATA,
                                                       .size = MIB };
        assert_int_equal(bootpart_gpt_layout(many, BOOTPART_GPT_MAX_PARTS + 1, &disk, &e), -E2BIG);
        assert_int_equal(bootpart_gpt_layout(many, BOOTPART_GPT_MAX_PARTS, &disk, &e), 0);
        assert_true(disk == (BOOTPART_GPT_MAX_PARTS + 2) * MIB);
}

static void gpt_parts(struct bootpart_gpt_part p[3])
{
        p[0] = (struct bootpart_gpt_part) { .name = "USP", .type = BOOTPART_TYPE_ESP, .size = 64 * MIB };
        p[1] = (struct bootpart_gpt_part) { .name = "root-x86-64",
                                            .type = xova_arch_by_name("x86_64")->dps_root_type,
                                            .size = 2 * MIB };
        p[2] = (struct bootpart_gpt_part) { .name = "data", .type = BOOTPART_TYPE_LINUX_DATA,
                                            .size = 3 * MIB };
        xova_derive_uuid("s", "usp", p[0].uuid);
        xova_derive_uuid("s", "root", p[1].uuid);
        xova_derive_uuid("s", "data", p[2].uuid);
}

static void upcase(char *s)
{
        for (; *s; s++)
                if (*s >= 'a' && *s <= 'z')
                        *s -= 32;
}

static void test_bootpart_gpt_write_readback(void **state)
{
        struct bootpart_gpt_part p[3];
        struct xerr e = { 0 };
        uint8_t disk_guid[16];
        uint64_t disk = 0;
        char *img = path_in(*state, "disk.img"), *out, want[256], u[37];
        struct stat st;
        int status;

        gpt_parts(p);
        xova_derive_uuid("s", "disk", disk_guid);
        assert_int_equal(bootpart_gpt_write(img, disk_guid, p, 3, &disk, &e), 0);
        assert_true(disk == (1 + 64 + 2 + 3 + 1) * MIB);
        assert_int_equal(stat(img, &st), 0);
        assert_true((uint64_t) st.st_size == disk);
        assert_true((uint64_t) st.st_blocks * 512 < MIB);      /* sparse */
        assert_true(p[1].offset == 65 * MIB);

        out = run_capture(&status, "sfdisk --json '%s'", img);
        assert_int_equal(status, 0);
        xova_uuid_format(disk_guid, u);
        upcase(u);
        snprintf(want, sizeof(want), "\"id\": \"%s\"", u);
        assert_non_null(strstr(out, "\"label\": \"gpt\""));
        assert_non_null(strstr(out, want));
        for (size_t i = 0; i < 3; i++) {
                char type[37];
                snprintf(type, sizeof(type), "%s", p[i].type);
                upcase(type);
                xova_uuid_format(p[i].uuid, u);
                upcase(u);
                snprintf(want, sizeof(want),
                         "\"start\": %llu,\n            \"size\": %llu,\n            \"type\": \"%s\",\n"
                         "            \"uuid\": \"%s\",\n            \"name\": \"%s\"",
                         (unsigned long long) (p[i].offset / 512), (unsigned long long) (p[i].size / 512),
                         type, u, p[i].name);
                if (!strstr(out, want))
                        fail_msg("sfdisk --json lacks partition %zu:\n%s\nin:\n%s", i + 1, want, out);
        }
        free(out);

        out = run_capture(&status, "sgdisk -v '%s' 2>&1", img);
        assert_int_equal(status, 0);
        if (!strstr(out, "No problems found"))
                fail_msg("sgdisk -v: %s", out);
        free(out);

        /* never overwrites: O_EXCL, and the existing file is left alone */
        assert_int_equal(bootpart_gpt_write(img, disk_guid, p, 3, &disk, &e), -EEXIST);
        assert_int_equal(stat(img, &st), 0);
        assert_true((uint64_t) st.st_size == disk);
        free(img);
}

static void test_bootpart_gpt_write_deterministic(void **state)
{
        struct bootpart_gpt_part p[3];
        struct xerr e = { 0 };
        uint8_t g[16];
        uint64_t disk;
        char *a = path_in(*state, "a.img"), *b = path_in(*state, "b.img"), *c = path_in(*state, "c.img");

        xova_derive_uuid("s", "disk", g);
        gpt_parts(p);
        assert_int_equal(bootpart_gpt_write(a, g, p, 3, &disk, &e), 0);
        gpt_parts(p);
        assert_int_equal(bootpart_gpt_write(b, g, p, 3, &disk, &e), 0);
        assert_true(files_equal(a, b));
        /* and the GUIDs do matter */
        gpt_parts(p);
        p[2].uuid[15] ^= 1;
        assert_int_equal(bootpart_gpt_write(c, g, p, 3, &disk, &e), 0);
        assert_false(files_equal(a, c));

        /* a failed write leaves no file behind */
        free(c);
        c = path_in(*state, "bad.img");
        p[0].size = 3;
        assert_int_equal(bootpart_gpt_write(c, g, p, 3, &disk, &e), -EINVAL);
        assert_int_equal(access(c, F_OK), -1);
        free(a);
        free(b);
        free(c);
}

/* ------------------------------------------------------------------ */
/* USP                                                                 */

static void test_bootpart_usp_size(void **state)
{
        struct usp_fixture f;
        struct xerr e = { 0 };
        uint64_t sz = 0, sz2 = 0, files = 0;
        char *big = path_in(*state, "big-kernel"), *work = path_in(*state, "work");
        struct stat st;
        int fd;

        assert_int_equal(mkdir(work, 0700), 0);
        usp_fixture_init(&f, work);
        assert_int_equal(bootpart_usp_size(&f.u, &sz, &e), 0);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(stat(f.kernel[i], &st), 0);
                files += (uint64_t) st.st_size;
                assert_int_equal(stat(f.initrd[i], &st), 0);
                files += (uint64_t) st.st_size;
        }
        assert_true(sz % MIB == 0);
        assert_true(sz >= BOOTPART_USP_MIN_SIZE);
        assert_true(sz > files + 2 * 600 * 1024);       /* the shims are ~700 KiB each */

        /* a 100 MiB kernel pushes it up (sparse file: costs nothing) */
        fd = open(big, O_WRONLY | O_CREAT | O_EXCL, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 100 * MIB), 0);
        close(fd);
        f.pl[0].kernel = big;
        assert_int_equal(bootpart_usp_size(&f.u, &sz2, &e), 0);
        assert_int_equal(stat(f.kernel[0], &st), 0);
        files = files - (uint64_t) st.st_size + 100 * MIB;
        assert_true(sz2 % MIB == 0);
        assert_true(sz2 > files + 2 * 600 * 1024);
        assert_true(sz2 < files + files / 8 + 8 * MIB);        /* slack stays modest */

        /* a missing kernel is named */
        f.pl[0].kernel = "/nonexistent/vmlinuz";
        assert_int_equal(bootpart_usp_size(&f.u, &sz2, &e), -ENOENT);
        assert_string_equal(e.where, "/nonexistent/vmlinuz");
        usp_fixture_done(&f);
        free(big);
        free(work);
}

/* Builds a GPT image with one ESP and the USP in it; returns the offset. */
static uint64_t build_usp_image(struct usp_fixture *f, const char *img)
{
        struct bootpart_gpt_part p[1] = { { .name = "USP", .type = BOOTPART_TYPE_ESP } };
        struct xerr e = { 0 };
        uint8_t g[16];
        uint64_t disk;
        char buf[1024];
        int r;

        xova_derive_uuid("s", "disk", g);
        xova_derive_uuid("s", "usp", p[0].uuid);
        r = bootpart_usp_size(&f->u, &p[0].size, &e);
        if (r >= 0)
                r = bootpart_gpt_write(img, g, p, 1, &disk, &e);
        if (r >= 0)
                r = bootpart_usp_write(&f->u, img, p[0].offset, p[0].size, NULL, &e);
        if (r < 0)
                fail_msg("building the USP image: %s", xerr_format(&e, buf, sizeof(buf)));
        return p[0].offset;
}

struct progress_log {
        unsigned calls;
        uint64_t last_done, last_total;
        bool monotonic;
};

static void progress_cb(void *ud, const char *phase, uint64_t done, uint64_t total)
{
        struct progress_log *l = ud;
        assert_string_equal(phase, "boot partition");
        if (l->calls && done < l->last_done)
                l->monotonic = false;
        l->calls++;
        l->last_done = done;
        l->last_total = total;
}

static void test_bootpart_usp_write_contents(void **state)
{
        struct usp_fixture f;
        struct xerr e = { 0 };
        struct progress_log pl = { .monotonic = true };
        struct xova_progress prog = { .fn = progress_cb, .userdata = &pl };
        char *work = path_in(*state, "work"), *img = path_in(*state, "usp.img");
        char *cfg = NULL, *out;
        uint64_t off;
        int status;

        assert_int_equal(mkdir(work, 0700), 0);
        usp_fixture_init(&f, work);
        off = build_usp_image(&f, img);
        assert_true(off == MIB);

        out = run_capture(&status, "mdir -b -i '%s@@%llu' ::/EFI/BOOT", img, (unsigned long long) off);
        assert_int_equal(status, 0);
        assert_non_null(strstr(out, "::/EFI/BOOT/BOOTX64.EFI\n"));
        assert_non_null(strstr(out, "::/EFI/BOOT/BOOTAA64.EFI\n"));
        assert_non_null(strstr(out, "::/EFI/BOOT/grub.cfg\n"));
        free(out);
        out = run_capture(&status, "mdir -b -/ -i '%s@@%llu' ::/", img, (unsigned long long) off);
        assert_int_equal(status, 0);
        assert_non_null(strstr(out, "::/x86_64/vmlinuz\n"));
        assert_non_null(strstr(out, "::/x86_64/initrd.img\n"));
        assert_non_null(strstr(out, "::/aarch64/vmlinuz\n"));
        assert_non_null(strstr(out, "::/aarch64/initrd.img\n"));
        free(out);

        /* grub.cfg in the FAT is what bootpart_grub_cfg() says */
        assert_int_equal(bootpart_grub_cfg(f.pl, 2, &cfg, &e), 0);
        out = run_capture(&status, "mtype -i '%s@@%llu' ::/EFI/BOOT/grub.cfg", img, (unsigned long long) off);
        assert_int_equal(status, 0);
        assert_string_equal(out, cfg);
        free(out);
        free(cfg);

        /* the kernel in the FAT is the fixture, byte for byte */
        out = run_capture(&status, "mtype -i '%s@@%llu' ::/aarch64/vmlinuz | cmp -s - '%s'", img,
                          (unsigned long long) off, f.kernel[1]);
        assert_int_equal(status, 0);
        free(out);

        /* every time stamp is the epoch (2023-11-14 22:13:20 UTC, FAT keeps 2 s) */
        out = run_capture(&status, "mdir -/ -i '%s@@%llu' ::/ | grep -cE '[0-9]{4}-[0-9]{2}-[0-9]{2}'",
                          img, (unsigned long long) off);
        assert_true(atoi(out) >= 10);
        free(out);
        out = run_capture(&status, "mdir -/ -i '%s@@%llu' ::/ | grep -E '[0-9]{4}-[0-9]{2}-[0-9]{2}' | "
                          "grep -vc '2023-11-14  22:13'", img, (unsigned long long) off);
        assert_string_equal(out, "0\n");
        free(out);

        /* FAT32 with the serial derived from the seed */
        out = run_capture(&status, "minfo -i '%s@@%llu'", img, (unsigned long long) off);
        assert_int_equal(status, 0);
        assert_non_null(strstr(out, "disk type=\"FAT32   \""));
        {
                char want[64];
                uint32_t s = xova_derive_u32("test-seed", "usp-fat-serial");
                snprintf(want, sizeof(want), "serial number: %08X", s);
                if (!strstr(out, want))
                        fail_msg("minfo lacks '%s':\n%s", want, out);
        }
        free(out);

        /* progress reaches done == total, never goes back */
        free(img);
        img = path_in(*state, "usp2.img");
        {
                struct bootpart_gpt_part p[1] = { { .name = "USP", .type = BOOTPART_TYPE_ESP,
                                                    .size = 128 * MIB } };
                uint8_t g[16] = { 0 };
                uint64_t disk;
                assert_int_equal(bootpart_gpt_write(img, g, p, 1, &disk, &e), 0);
                assert_int_equal(bootpart_usp_write(&f.u, img, p[0].offset, p[0].size, &prog, &e), 0);
        }
        assert_true(pl.calls >= 2);
        assert_true(pl.monotonic);
        assert_true(pl.last_total > 0 && pl.last_done == pl.last_total);

        usp_fixture_done(&f);
        free(work);
        free(img);
}

static void test_bootpart_usp_write_deterministic(void **state)
{
        struct usp_fixture f;
        char *w1 = path_in(*state, "w1"), *w2 = path_in(*state, "w2");
        char *a = path_in(*state, "a.img"), *b = path_in(*state, "b.img");

        assert_int_equal(mkdir(w1, 0700), 0);
        assert_int_equal(mkdir(w2, 0700), 0);
        usp_fixture_init(&f, w1);
        build_usp_image(&f, a);
        /* a second later, from another work dir: the clock must not leak in */
        sleep(1);
        f.u.workdir = w2;
        build_usp_image(&f, b);
        if (!files_equal(a, b))
                fail_msg("two USP builds from the same inputs differ: %s %s", a, b);
        /* the GRUB images themselves too */
        {
                char *x1 = path_in(w1, "usp/BOOTAA64.EFI"), *x2 = path_in(w2, "usp/BOOTAA64.EFI");
                assert_true(files_equal(x1, x2));
                free(x1);
                free(x2);
        }
        usp_fixture_done(&f);
        free(w1);
        free(w2);
        free(a);
        free(b);
}

static void test_bootpart_usp_write_refuses(void **state)
{
        struct usp_fixture f;
        struct xerr e = { 0 };
        struct bootpart_gpt_part p[1] = { { .name = "USP", .type = BOOTPART_TYPE_ESP, .size = 64 * MIB } };
        uint8_t g[16] = { 0 };
        uint64_t disk;
        char *work = path_in(*state, "work"), *img = path_in(*state, "d.img");

        assert_int_equal(mkdir(work, 0700), 0);
        usp_fixture_init(&f, work);
        assert_int_equal(bootpart_gpt_write(img, g, p, 1, &disk, &e), 0);

        /* past the end of the image */
        assert_int_equal(bootpart_usp_write(&f.u, img, 3 * MIB, 64 * MIB, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "beyond the end"));
        /* too small for FAT32 */
        assert_int_equal(bootpart_usp_write(&f.u, img, MIB, 32 * MIB, NULL, &e), -EINVAL);
        /* not aligned */
        assert_int_equal(bootpart_usp_write(&f.u, img, MIB + 1, 64 * MIB, NULL, &e), -EINVAL);
        /* bad label */
        f.u.label = "lower";
        assert_int_equal(bootpart_usp_write(&f.u, img, MIB, 64 * MIB, NULL, &e), -EINVAL);
        f.u.label = "TWELVE-CHARS";
        assert_int_equal(bootpart_usp_write(&f.u, img, MIB, 64 * MIB, NULL, &e), -EINVAL);
        f.u.label = NULL;
        /* missing image */
        assert_int_equal(bootpart_usp_write(&f.u, "/nonexistent.img", MIB, 64 * MIB, NULL, &e), -ENOENT);
        assert_string_equal(e.where, "/nonexistent.img");
        /* GRUB modules not found: the package is named */
        {
                const char *none[] = { "/nonexistent", NULL };
                f.u.grub_dirs = none;
                assert_int_equal(bootpart_usp_write(&f.u, img, MIB, 64 * MIB, NULL, &e), -ENOENT);
                assert_non_null(strstr(e.msg, "grub-efi-amd64-bin"));
                f.u.grub_dirs = f.grub_dirs;
        }
        /* files larger than the partition */
        {
                char *big = path_in(*state, "big");
                int fd = open(big, O_WRONLY | O_CREAT | O_EXCL, 0644);
                assert_true(fd >= 0);
                assert_int_equal(ftruncate(fd, 80 * MIB), 0);
                close(fd);
                f.pl[1].initrd = big;
                assert_int_equal(bootpart_usp_write(&f.u, img, MIB, 64 * MIB, NULL, &e), -ENOSPC);
                assert_non_null(strstr(e.msg, "too small"));
                free(big);
        }
        usp_fixture_done(&f);
        free(work);
        free(img);
}

/* ------------------------------------------------------------------ */
/* Secure Boot: PE signatures (secureboot.c)                           */

/* A self-signed RSA key and certificate made here, as PEM files. */
static void make_key(const char *key_path, const char *cert_path, const char *cn)
{
        EVP_PKEY *k = EVP_RSA_gen(2048);
        X509 *x = X509_new();
        FILE *f;

        assert_non_null(k);
        assert_non_null(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
        X509_set_pubkey(x, k);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(x));
        assert_true(X509_sign(x, k, EVP_sha256()) > 0);
        f = fopen(key_path, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
        fclose(f);
        f = fopen(cert_path, "w");
        assert_non_null(f);
        assert_int_equal(PEM_write_X509(f, x), 1);
        fclose(f);
        X509_free(x);
        EVP_PKEY_free(k);
}

static void test_bootpart_pe_verify_and_sign(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *kernel = fixture("x86_64/vmlinuz");
        char key[512], cert[512], other_key[512], other[512], s1[512], s2[512], bad[512], signer[256] = "";
        struct xerr e = { 0 };
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t la, lb;
        FILE *f;
        (void) state;

        snprintf(key, sizeof(key), "%s/db.key", dir);
        snprintf(cert, sizeof(cert), "%s/db.crt", dir);
        snprintf(other_key, sizeof(other_key), "%s/other.key", dir);
        snprintf(other, sizeof(other), "%s/other.crt", dir);
        snprintf(s1, sizeof(s1), "%s/signed1", dir);
        snprintf(s2, sizeof(s2), "%s/signed2", dir);
        snprintf(bad, sizeof(bad), "%s/notpe", dir);
        make_key(key, cert, "xova unit db");
        make_key(other_key, other, "xova unit other");

        /* Debian's kernel does not chain to a key made here */
        assert_int_equal(bootpart_pe_verify(kernel, "vmlinuz", cert, NULL, NULL, 0, &e), -EKEYREJECTED);
        assert_non_null(strstr(e.msg, "does not chain"));
        /* signed with it (the Debian signature replaced), it does; twice the same bytes */
        assert_int_equal(bootpart_pe_sign(kernel, s1, key, cert, 1700000000, &e), 0);
        assert_int_equal(bootpart_pe_verify(s1, "signed1", cert, NULL, signer, sizeof(signer), &e), 0);
        assert_non_null(strstr(signer, "xova unit db"));
        assert_int_equal(bootpart_pe_verify(s1, "signed1", other, "the other CA", NULL, 0, &e), -EKEYREJECTED);
        assert_non_null(strstr(e.msg, "the other CA"));
        assert_int_equal(bootpart_pe_sign(kernel, s2, key, cert, 1700000000, &e), 0);
        assert_int_equal(xova_read_file(s1, 1 << 30, &a, &la, &e), 0);
        assert_int_equal(xova_read_file(s2, 1 << 30, &b, &lb, &e), 0);
        assert_true(la == lb && memcmp(a, b, la) == 0);
        /* one byte of the image changed after signing: the hash no longer matches */
        a[la / 2] ^= 0x40;
        f = fopen(s2, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(a, 1, la, f), la);
        fclose(f);
        assert_int_equal(bootpart_pe_verify(s2, "signed2", cert, NULL, NULL, 0, &e), -EKEYREJECTED);
        assert_non_null(strstr(e.msg, "image hash does not match"));
        /* not a PE; a PE without .vendor_cert */
        f = fopen(bad, "w");
        assert_non_null(f);
        fputs("#!/bin/sh\necho not a PE image, not at all\n", f);
        fclose(f);
        assert_int_equal(bootpart_pe_verify(bad, "notpe", cert, NULL, NULL, 0, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "not a PE image"));
        assert_int_equal(bootpart_pe_vendor_cert(s1, bad, &e), -ENOENT);
        assert_non_null(strstr(e.msg, ".vendor_cert"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_bootpart_pe_check, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_fat_reader, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_grub_cfg_per_arch, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_grub_cfg_initrd_only_when_present, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_grub_cfg_refuses_injection, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_grub_dir, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_gpt_layout, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_gpt_write_readback, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_gpt_write_deterministic, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_usp_size, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_usp_write_contents, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_usp_write_deterministic, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_usp_write_refuses, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_bootpart_pe_verify_and_sign, setup_tmpdir, teardown_tmpdir),
        };

        /* mtools, used to read the FAT back, checks disk geometry otherwise */
        setenv("MTOOLS_SKIP_CHECK", "1", 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
