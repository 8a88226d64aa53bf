/* SPDX-License-Identifier: MIT */
/* Unit tests for common/: numbers, sizes, epoch, arch table, uuids, atomic outputs, tools. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "common/common.h"

static const char *esc(const char *s, size_t len, unsigned flags)
{
        static char buf[128];
        return xova_escape(buf, sizeof(buf), s, len, flags);
}

/* One rule for outside text (issue #15, item 4): C0, DEL, C1, bidi and
 * invisible format characters and malformed UTF-8 never reach a terminal. */
/* the helpers that replaced copies across the tree */
static void test_common_helpers(void **state)
{
        uint8_t buf[200] = { 0 };
        struct xerr e = { 0 };

        (void) state;
        assert_true(xova_mem_is_zero(buf, 0));
        assert_true(xova_mem_is_zero(buf, sizeof(buf)));
        /* a non-zero byte in each position: in the 64-byte steps and the tail */
        for (size_t i = 0; i < sizeof(buf); i++) {
                buf[i] = 0x80;
                assert_false(xova_mem_is_zero(buf, sizeof(buf)));
                assert_true(xova_mem_is_zero(buf, i));
                assert_true(xova_mem_is_zero(buf + i + 1, sizeof(buf) - i - 1));
                buf[i] = 0;
        }
        assert_int_equal(xova_hex_digit('0'), 0);
        assert_int_equal(xova_hex_digit('9'), 9);
        assert_int_equal(xova_hex_digit('a'), 10);
        assert_int_equal(xova_hex_digit('F'), 15);
        assert_int_equal(xova_hex_digit('g'), -1);
        assert_int_equal(xova_hex_digit('/'), -1);
        assert_int_equal(xova_hex_digit(':'), -1);
        assert_int_equal(xova_hex_digit('@'), -1);
        assert_int_equal(xova_hex_digit('\0'), -1);
        assert_int_equal(xerr_oom(&e, "spec.json"), -ENOMEM);
        assert_int_equal(e.code, -ENOMEM);
        assert_string_equal(e.where, "spec.json");
        assert_string_equal(e.msg, "out of memory");
        assert_int_equal(xerr_oom(NULL, "x"), -ENOMEM);
        assert_true(XOVA_MiB == 1048576 && XOVA_SECTOR_SIZE == 512 && XOVA_GiB == 1024 * XOVA_MiB);
}

static void test_common_escape(void **state)
{
        char small[8];
        (void) state;
        assert_string_equal(esc("disk-0.vmdk", 11, XOVA_ESC_BACKSLASH), "disk-0.vmdk");
        assert_string_equal(esc("a\rOK\x1b[2K\a", 9, XOVA_ESC_BACKSLASH), "a\\rOK\\e[2K\\x07");
        assert_string_equal(esc("\n\t\x7f", 3, 0), "\\n\\t\\x7f");
        /* a NUL inside the range is shown, not an end */
        assert_string_equal(esc("a\0b", 3, 0), "a\\x00b");
        /* backslash: quoted for names, kept for whole messages (idempotent) */
        assert_string_equal(esc("a\\b", 3, XOVA_ESC_BACKSLASH), "a\\\\b");
        assert_string_equal(esc("a\\b", 3, 0), "a\\b");
        /* raw 8-bit CSI, C1 as UTF-8, bidi override, zero-width space, BOM */
        assert_string_equal(esc("\x9b" "31m", 4, 0), "\\x9b31m");
        assert_string_equal(esc("\xc2\x9b" "31m", 5, 0), "\\u{009b}31m");
        assert_string_equal(esc("txt.\xe2\x80\xaegpj", 10, 0), "txt.\\u{202e}gpj");
        assert_string_equal(esc("a\xe2\x80\x8b" "b", 5, 0), "a\\u{200b}b");
        assert_string_equal(esc("\xef\xbb\xbf" "x", 4, 0), "\\u{feff}x");
        /* well-formed UTF-8 passes; overlong, surrogate, truncated do not */
        assert_string_equal(esc("caf\xc3\xa9", 5, 0), "caf\xc3\xa9");
        assert_string_equal(esc("\xc0\xaf", 2, 0), "\\xc0\\xaf");
        assert_string_equal(esc("\xed\xa0\x80", 3, 0), "\\xed\\xa0\\x80");
        assert_string_equal(esc("\xe2\x80", 2, 0), "\\xe2\\x80");
        /* escaping the escaped text again changes nothing */
        assert_string_equal(esc("a\\x1b\\u{202e}", 13, 0), "a\\x1b\\u{202e}");
        /* cut with "...", never inside an escape or a UTF-8 sequence */
        assert_string_equal(xova_escape(small, sizeof(small), "abcdefghij", 10, 0), "abcd...");
        assert_string_equal(xova_escape(small, sizeof(small), "abcdefg", 7, 0), "abcdefg");
        assert_string_equal(xova_escape(small, sizeof(small), "ab\x1b\x1b\x1b", 5, 0), "ab\\e...");
        assert_string_equal(xova_escape(small, sizeof(small), "abc\xc3\xa9\xc3\xa9\xc3\xa9", 9, 0), "abc...");
        assert_string_equal(XOVA_ESC(NULL), "");
        assert_string_equal(XOVA_ESC("x\ry"), "x\\ry");
}

static void test_common_parse_u64(void **state)
{
        uint64_t v;
        (void) state;
        assert_int_equal(xova_parse_u64("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(xova_parse_u64("18446744073709551615", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(xova_parse_u64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(xova_parse_u64("", &v), -EINVAL);
        assert_int_equal(xova_parse_u64("-1", &v), -EINVAL);
        assert_int_equal(xova_parse_u64(" 1", &v), -EINVAL);
        assert_int_equal(xova_parse_u64("1 ", &v), -EINVAL);
        assert_int_equal(xova_parse_u64("0x10", &v), -EINVAL);
        assert_int_equal(xova_parse_u64("1e3", &v), -EINVAL);
}

static void test_common_parse_size(void **state)
{
        uint64_t v;
        (void) state;
        assert_int_equal(xova_parse_size("512", &v), 0);
        assert_int_equal(v, 512);
        assert_int_equal(xova_parse_size("512M", &v), 0);
        assert_int_equal(v, 512ull << 20);
        assert_int_equal(xova_parse_size("2G", &v), 0);
        assert_int_equal(v, 2ull << 30);
        assert_int_equal(xova_parse_size("64MiB", &v), 0);
        assert_int_equal(v, 64ull << 20);
        assert_int_equal(xova_parse_size("1k", &v), 0);
        assert_int_equal(v, 1024);
        assert_int_equal(xova_parse_size("16E", &v), -EINVAL);
        assert_int_equal(xova_parse_size("16384P", &v), -ERANGE);
        assert_int_equal(xova_parse_size("M", &v), -EINVAL);
        assert_int_equal(xova_parse_size("1.5G", &v), -EINVAL);
        assert_int_equal(xova_parse_size("-1M", &v), -EINVAL);
        assert_int_equal(xova_parse_size("1MX", &v), -EINVAL);
        assert_int_equal(xova_parse_size("99999999999999999999999", &v), -ERANGE);
}

static void test_common_source_date_epoch(void **state)
{
        struct xerr e = { 0 };
        uint64_t v = 7;
        (void) state;
        unsetenv("SOURCE_DATE_EPOCH");
        assert_int_equal(xova_source_date_epoch(&v, &e), 0);
        assert_int_equal(v, 0);
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
        assert_int_equal(xova_source_date_epoch(&v, &e), 0);
        assert_int_equal(v, 1700000000);
        const char *bad[] = { "abc", "-1", "1e9", "253402300800", "", " 1" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                setenv("SOURCE_DATE_EPOCH", bad[i], 1);
                assert_int_equal(xova_source_date_epoch(&v, &e), -EINVAL);
                assert_string_equal(e.where, "SOURCE_DATE_EPOCH");
        }
        unsetenv("SOURCE_DATE_EPOCH");
}

static void test_common_arch_table(void **state)
{
        (void) state;
        const struct xova_arch *x = xova_arch_by_name("x86_64"), *a = xova_arch_by_name("aarch64");
        assert_non_null(x);
        assert_non_null(a);
        assert_null(xova_arch_by_name("arm64"));   /* aliases are not names */
        assert_null(xova_arch_by_name(NULL));
        assert_string_equal(x->efi_name, "BOOTX64.EFI");
        assert_string_equal(a->efi_name, "BOOTAA64.EFI");
        assert_string_equal(a->grub_cpu, "arm64");
        assert_int_equal(x->pe_machine, 0x8664);
        assert_int_equal(a->pe_machine, 0xaa64);
        /* every row is complete */
        for (size_t i = 0; i < xova_arch_count; i++) {
                const struct xova_arch *r = &xova_arch_table[i];
                assert_non_null(r->name);
                assert_non_null(r->grub_target);
                assert_non_null(r->efi_name);
                assert_true(r->pe_machine != 0);
                assert_non_null(r->console);
                assert_non_null(r->qemu_binary);
                assert_non_null(r->qemu_package);
                assert_int_equal(strlen(r->dps_root_type), 36);
                /* an alias names no other row */
                for (size_t j = 0; r->aliases[j]; j++) {
                        assert_ptr_equal(xova_arch_by_alias(r->aliases[j]), r);
                        assert_null(xova_arch_by_name(r->aliases[j]));
                }
        }
        assert_non_null(xova_arch_host());       /* this test runs on a supported host */
}

static void test_common_arch_alias(void **state)
{
        char buf[128];

        (void) state;
        assert_ptr_equal(xova_arch_by_alias("AMD64"), xova_arch_by_name("x86_64"));
        assert_ptr_equal(xova_arch_by_alias("x64"), xova_arch_by_name("x86_64"));
        assert_ptr_equal(xova_arch_by_alias("x86-64"), xova_arch_by_name("x86_64"));
        assert_ptr_equal(xova_arch_by_alias("Arm64"), xova_arch_by_name("aarch64"));
        assert_ptr_equal(xova_arch_by_alias("AArch64"), xova_arch_by_name("aarch64"));
        assert_null(xova_arch_by_alias("riscv64"));
        assert_null(xova_arch_by_alias(NULL));
        assert_string_equal(xova_arch_by_name("x86_64")->qemu_package, "qemu-system-x86");
        assert_string_equal(xova_arch_by_name("aarch64")->qemu_package, "qemu-system-arm");
        assert_string_equal(xova_arch_names(buf, sizeof(buf), "", ", "), "x86_64, aarch64");
        assert_string_equal(xova_arch_names(buf, sizeof(buf), "'", " or "), "'x86_64' or 'aarch64'");
        /* truncated, still a string */
        assert_string_equal(xova_arch_names(buf, 5, "", ", "), "x86_");
}

static void test_common_derive_uuid(void **state)
{
        uint8_t u1[16], u2[16], u3[16];
        char s[37];
        (void) state;
        xova_derive_uuid("seed", "disk", u1);
        xova_derive_uuid("seed", "disk", u2);
        xova_derive_uuid("seed", "disk2", u3);
        assert_memory_equal(u1, u2, 16);
        assert_memory_not_equal(u1, u3, 16);
        xova_uuid_format(u1, s);
        assert_int_equal(strlen(s), 36);
        assert_int_equal(s[14], '4');   /* version 4 */
        assert_true(strchr("89ab", s[19]) != NULL);
        assert_int_equal(xova_derive_u32("a", "b"), xova_derive_u32("a", "b"));
        assert_int_not_equal(xova_derive_u32("a", "b"), xova_derive_u32("a", "c"));
}

static void write_and_commit(const char *target, unsigned flags, const char *text)
{
        struct xova_atomic *a = NULL;
        struct xerr e = { 0 };
        assert_int_equal(xova_atomic_open(target, 0644, flags, &a, &e), 0);
        assert_int_equal(xova_write_all(xova_atomic_fd(a), text, strlen(text)), 0);
        assert_int_equal(xova_atomic_commit(a, &e), 0);
        xova_atomic_free(a);
}

static void assert_file_text(const char *path, const char *text)
{
        char *buf = NULL;
        size_t len;
        struct xerr e = { 0 };
        assert_int_equal(xova_read_file(path, 1 << 20, &buf, &len, &e), 0);
        assert_string_equal(buf, text);
        free(buf);
}

static void test_common_atomic_commit(void **state)
{
        const char *dir = *state;
        char *t = xova_path_join(dir, "out.ova");
        struct xerr e = { 0 };
        struct xova_atomic *a = NULL;

        for (unsigned named = 0; named <= XOVA_ATOMIC_NAMED; named += XOVA_ATOMIC_NAMED) {
                unlink(t);
                write_and_commit(t, named, "one");
                assert_file_text(t, "one");
                assert_int_equal(count_entries(dir), 1);
                /* no overwrite without consent, and the original stays */
                assert_int_equal(xova_atomic_open(t, 0644, named, &a, &e), -EEXIST);
                assert_file_text(t, "one");
                write_and_commit(t, named | XOVA_ATOMIC_REPLACE, "two");
                assert_file_text(t, "two");
                assert_int_equal(count_entries(dir), 1);
        }
        free(t);
}

static void test_common_atomic_failure_leaves_nothing(void **state)
{
        const char *dir = *state;
        char *t = xova_path_join(dir, "out.ova"), *old = xova_path_join(dir, "old.ova");
        struct xerr e = { 0 };

        for (unsigned named = 0; named <= XOVA_ATOMIC_NAMED; named += XOVA_ATOMIC_NAMED) {
                struct xova_atomic *a = NULL;
                /* a forced failure mid-write: the object is freed without commit */
                assert_int_equal(xova_atomic_open(t, 0644, named, &a, &e), 0);
                assert_int_equal(xova_write_all(xova_atomic_fd(a), "partial", 7), 0);
                a = xova_atomic_free(a);
                assert_int_equal(access(t, F_OK), -1);
                assert_int_equal(count_entries(dir), 0);
                /* the same when replacing: the old file is unchanged */
                write_and_commit(old, 0, "old");
                assert_int_equal(xova_atomic_open(old, 0644, named | XOVA_ATOMIC_REPLACE, &a, &e), 0);
                assert_int_equal(xova_write_all(xova_atomic_fd(a), "new", 3), 0);
                a = xova_atomic_free(a);
                assert_file_text(old, "old");
                assert_int_equal(count_entries(dir), 1);
                unlink(old);
        }
        free(t);
        free(old);
}

/* A child writes half an output and is killed by `sig` before committing. */
static void killed_mid_write(const char *dir, unsigned flags, int sig)
{
        char *t = xova_path_join(dir, "sig.ova");
        int ready[2];
        pid_t pid;
        char c;
        int status;

        assert_int_equal(pipe(ready), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct xova_atomic *a = NULL;
                struct xerr e = { 0 };
                alarm(60);      /* the parent's bound does not reach its children */
                if (xova_atomic_open(t, 0644, flags, &a, &e) < 0)
                        _exit(10);
                if (xova_write_all(xova_atomic_fd(a), "half", 4) < 0)
                        _exit(11);
                if (write(ready[1], "r", 1) != 1)
                        _exit(12);
                for (;;)
                        pause();
        }
        close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        close(ready[0]);
        kill(pid, sig);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), sig);
        assert_int_equal(access(t, F_OK), -1);
        assert_int_equal(count_entries(dir), 0);      /* no temp debris */
        free(t);
}

static void test_common_atomic_signals(void **state)
{
        killed_mid_write(*state, 0, SIGTERM);
        killed_mid_write(*state, XOVA_ATOMIC_NAMED, SIGTERM);
        killed_mid_write(*state, XOVA_ATOMIC_NAMED, SIGINT);
        killed_mid_write(*state, XOVA_ATOMIC_NAMED, SIGHUP);
        /* O_TMPFILE temps vanish even on SIGKILL */
        killed_mid_write(*state, 0, SIGKILL);
}

static void test_common_atomic_dir(void **state)
{
        const char *dir = *state;
        char *t = xova_path_join(dir, "outdir"), *f = NULL;
        struct xova_atomic_dir *d = NULL;
        struct xerr e = { 0 };
        int fd;

        /* failure: nothing */
        assert_int_equal(xova_atomic_dir_open(t, 0, &d, &e), 0);
        f = xova_path_join(xova_atomic_dir_path(d), "disk.raw");
        fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        free(f);
        d = xova_atomic_dir_free(d);
        assert_int_equal(count_entries(dir), 0);
        /* success */
        assert_int_equal(xova_atomic_dir_open(t, 0, &d, &e), 0);
        f = xova_path_join(xova_atomic_dir_path(d), "disk.raw");
        fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        assert_int_equal(xova_write_all(fd, "x", 1), 0);
        close(fd);
        free(f);
        assert_int_equal(xova_atomic_dir_commit(d, &e), 0);
        d = xova_atomic_dir_free(d);
        assert_int_equal(count_entries(dir), 1);
        assert_int_equal(count_entries(t), 1);
        /* exists: refused without replace, replaced with it */
        assert_int_equal(xova_atomic_dir_open(t, 0, &d, &e), -EEXIST);
        assert_int_equal(xova_atomic_dir_open(t, XOVA_ATOMIC_REPLACE, &d, &e), 0);
        assert_int_equal(xova_atomic_dir_commit(d, &e), 0);
        d = xova_atomic_dir_free(d);
        assert_int_equal(count_entries(t), 0);
        assert_int_equal(count_entries(dir), 1);
        free(t);
}

static void test_common_atomic_bad_targets(void **state)
{
        const char *dir = *state;
        struct xova_atomic *a = NULL;
        struct xerr e = { 0 };
        char *missing = xova_path_join(dir, "nope/out.ova"), *link = xova_path_join(dir, "dangling");

        assert_int_equal(xova_atomic_open(missing, 0644, 0, &a, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "output directory"));
        assert_int_equal(xova_atomic_open(dir, 0644, XOVA_ATOMIC_REPLACE, &a, &e), -EISDIR);
        assert_int_equal(symlink("/nonexistent/target", link), 0);
        assert_int_equal(xova_atomic_open(link, 0644, 0, &a, &e), -EEXIST);
        /* replacing a dangling symlink replaces the link, never writes through it */
        write_and_commit(link, XOVA_ATOMIC_REPLACE, "z");
        assert_int_equal(access("/nonexistent/target", F_OK), -1);
        assert_file_text(link, "z");
        unlink(link);
        free(missing);
        free(link);
}

/* ---- stale temps: after SIGKILL one named temp may stay; the next run
 * removes it only when no live process holds its flock ---- */

static bool lexists(const char *dir, const char *name)
{
        char *p = xova_path_join(dir, name);
        struct stat st;
        bool r;

        assert_non_null(p);
        r = lstat(p, &st) == 0;
        free(p);
        return r;
}

static void make_at(const char *dir, const char *name, mode_t type)
{
        char *p = xova_path_join(dir, name);
        int fd;

        assert_non_null(p);
        if (type == S_IFDIR) {
                assert_int_equal(mkdir(p, 0700), 0);
        } else if (type == S_IFIFO) {
                assert_int_equal(mkfifo(p, 0600), 0);
        } else {
                fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
                assert_true(fd >= 0);
                assert_int_equal(xova_write_all(fd, "x", 1), 0);
                close(fd);
        }
        free(p);
}

static void symlink_at(const char *target, const char *dir, const char *name)
{
        char *p = xova_path_join(dir, name);
        assert_non_null(p);
        assert_int_equal(symlink(target, p), 0);
        free(p);
}

/* <tmp>/d is scanned, <tmp>/outside (a file "keep", a dir "sub") is what
 * symlinks named like our temps, or inside them, point to */
static void reclaim_setup(const char *tmp, char **ret_dir, char **ret_outside, char **ret_keep)
{
        *ret_dir = xova_path_join(tmp, "d");
        *ret_outside = xova_path_join(tmp, "outside");
        assert_non_null(*ret_dir);
        assert_non_null(*ret_outside);
        assert_int_equal(mkdir(*ret_dir, 0700), 0);
        assert_int_equal(mkdir(*ret_outside, 0700), 0);
        make_at(*ret_outside, "keep", S_IFREG);
        make_at(*ret_outside, "sub", S_IFDIR);
        *ret_keep = xova_path_join(*ret_outside, "keep");
}

struct reclaimed {
        int n;
        char last[256];
};

static void on_reclaimed(void *userdata, const char *dir, const char *name)
{
        struct reclaimed *r = userdata;
        (void) dir;
        r->n++;
        snprintf(r->last, sizeof(r->last), "%s", name);
}

/* A child makes one temp of each kind (named file, atomic directory with
 * content, work directory) in `dir` and waits; returns its pid once they
 * exist. It holds their locks until it dies. */
static pid_t child_with_temps(const char *dir, const char *outside)
{
        char *t = xova_path_join(dir, "child.ova"), *td = xova_path_join(dir, "child.raw");
        int ready[2];
        pid_t pid;
        char c;

        assert_int_equal(pipe(ready), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct xova_atomic *a = NULL;
                struct xova_atomic_dir *d = NULL;
                struct xerr e = { 0 };
                char *work = NULL, *p = NULL;
                int fd;

                alarm(60);      /* never outlive a failed test for long */
                if (xova_atomic_open(t, 0644, XOVA_ATOMIC_NAMED, &a, &e) < 0 ||
                    xova_write_all(xova_atomic_fd(a), "half", 4) < 0)
                        _exit(10);
                if (xova_atomic_dir_open(td, 0, &d, &e) < 0)
                        _exit(11);
                /* content a careless remover would follow out of the temp */
                if (asprintf(&p, "%s/sub", xova_atomic_dir_path(d)) < 0 || mkdir(p, 0755) < 0)
                        _exit(12);
                free(p);
                if (asprintf(&p, "%s/sub/disk.raw", xova_atomic_dir_path(d)) < 0 ||
                    (fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) < 0)
                        _exit(13);
                close(fd);
                free(p);
                if (asprintf(&p, "%s/sub/out", xova_atomic_dir_path(d)) < 0 || symlink(outside, p) < 0)
                        _exit(14);
                free(p);
                if (xova_workdir_new(dir, &work, &e) < 0)
                        _exit(15);
                if (write(ready[1], "r", 1) != 1)
                        _exit(16);
                for (;;)
                        pause();
        }
        close(ready[1]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        close(ready[0]);
        free(t);
        free(td);
        return pid;
}

static void test_common_reclaim_dead_owner_only(void **state)
{
        char *dir, *outside, *keep, *other;
        struct reclaimed rc = { 0 };
        int status;
        pid_t pid;

        reclaim_setup(*state, &dir, &outside, &keep);
        other = xova_path_join(dir, "other.ova");
        pid = child_with_temps(dir, outside);
        assert_int_equal(count_entries(dir), 3);
        /* the owner lives: its locks are held, nothing is removed */
        assert_int_equal(xova_reclaim_stale_temps(dir, on_reclaimed, &rc), 0);
        assert_int_equal(rc.n, 0);
        assert_int_equal(count_entries(dir), 3);
        /* ... nor by the library's own scan when another output is made there */
        write_and_commit(other, XOVA_ATOMIC_NAMED, "o");
        assert_int_equal(count_entries(dir), 4);

        /* SIGKILL: nothing of the child's runs, its temps stay, unlocked */
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_int_equal(count_entries(dir), 4);
        assert_int_equal(xova_reclaim_stale_temps(dir, on_reclaimed, &rc), 3);
        assert_int_equal(rc.n, 3);
        assert_int_equal(count_entries(dir), 1);
        assert_true(lexists(dir, "other.ova"));
        /* the symlink inside was removed as a name, never followed */
        assert_file_text(keep, "x");
        assert_int_equal(count_entries(outside), 2);
        /* a second scan finds nothing */
        assert_int_equal(xova_reclaim_stale_temps(dir, NULL, NULL), 0);

        /* temps no process ever locked (a pre-flock xova, or a copy) are stale too */
        make_at(dir, ".a.ova.xova-Ab12Cd", S_IFREG);
        make_at(dir, ".a.raw.xova-q1W2e3", S_IFDIR);
        make_at(dir, "xova-work.ZZ09aa", S_IFDIR);
        rc.n = 0;
        assert_int_equal(xova_reclaim_stale_temps(dir, on_reclaimed, &rc), 3);
        assert_int_equal(count_entries(dir), 1);
        free(other);
        free(keep);
        free(outside);
        free(dir);
}

static void test_common_reclaim_keeps_own_live_temps(void **state)
{
        const char *dir = *state;
        char *t = xova_path_join(dir, "mine.ova"), *td = xova_path_join(dir, "mine.raw"), *work = NULL;
        struct xova_atomic *a = NULL;
        struct xova_atomic_dir *d = NULL;
        struct xerr e = { 0 };

        /* another fd of the same process is another lock holder: our own
         * temps are as safe from our own scans as from anyone's */
        assert_int_equal(xova_atomic_open(t, 0644, XOVA_ATOMIC_NAMED, &a, &e), 0);
        assert_int_equal(xova_atomic_dir_open(td, 0, &d, &e), 0);
        assert_int_equal(xova_workdir_new(dir, &work, &e), 0);
        assert_int_equal(count_entries(dir), 3);
        assert_int_equal(xova_reclaim_stale_temps(dir, NULL, NULL), 0);
        assert_int_equal(count_entries(dir), 3);
        assert_int_equal(xova_write_all(xova_atomic_fd(a), "mine", 4), 0);
        assert_int_equal(xova_atomic_commit(a, &e), 0);
        assert_int_equal(xova_atomic_dir_commit(d, &e), 0);
        a = xova_atomic_free(a);
        d = xova_atomic_dir_free(d);
        xova_workdir_remove(work);
        assert_file_text(t, "mine");
        assert_int_equal(count_entries(dir), 2);
        /* committed outputs are not temps */
        assert_int_equal(xova_reclaim_stale_temps(dir, NULL, NULL), 0);
        assert_int_equal(count_entries(dir), 2);
        free(work);
        free(t);
        free(td);
}

static void test_common_reclaim_symlinks_and_specials(void **state)
{
        char *dir, *outside, *keep, *sd, *deeper;

        reclaim_setup(*state, &dir, &outside, &keep);

        /* named like our temps but symlinks: neither followed nor removed
         * (we never make a symlink under these names) */
        symlink_at(outside, dir, ".a.raw.xova-Ab12Cd");
        symlink_at(outside, dir, "xova-work.Ab12Cd");
        symlink_at(keep, dir, ".a.ova.xova-Ab12Cd");
        symlink_at("/nonexistent", dir, ".b.ova.xova-Ab12Cd");
        /* a FIFO: never opened (would block), kept */
        make_at(dir, ".c.ova.xova-Ab12Cd", S_IFIFO);
        assert_int_equal(xova_reclaim_stale_temps(dir, NULL, NULL), 0);
        assert_int_equal(count_entries(dir), 5);
        assert_file_text(keep, "x");
        assert_int_equal(count_entries(outside), 2);

        /* a stale directory of ours with symlinks inside (relative, absolute,
         * to a directory): it goes, what they point to stays */
        make_at(dir, ".d.raw.xova-Zx90Cv", S_IFDIR);
        sd = xova_path_join(dir, ".d.raw.xova-Zx90Cv");
        deeper = xova_path_join(sd, "deeper");
        make_at(sd, "deeper", S_IFDIR);
        symlink_at(outside, sd, "abs");
        symlink_at("../../outside", sd, "rel");
        symlink_at(keep, deeper, "file");
        symlink_at("../../../outside/sub", deeper, "dir");
        make_at(deeper, "data", S_IFREG);
        assert_int_equal(xova_reclaim_stale_temps(dir, NULL, NULL), 1);
        assert_false(lexists(dir, ".d.raw.xova-Zx90Cv"));
        assert_int_equal(count_entries(dir), 5);
        assert_file_text(keep, "x");
        assert_int_equal(count_entries(outside), 2);
        assert_true(lexists(outside, "sub"));
        free(deeper);
        free(sd);
        free(keep);
        free(outside);
        free(dir);
}

static void test_common_reclaim_exact_names(void **state)
{
        const char *dir = *state;
        /* close to our patterns, but not them: always kept */
        static const char *const files[] = {
                "out.ova", "out.ova.xova-Ab12Cd", ".out.ova.xova-Ab12C", ".out.ova.xova-Ab12Cde",
                ".out.ova.xova-Ab_2Cd", ".out.ova.xova-Ab.2Cd", ".out.ova.XOVA-Ab12Cd",
                ".out.ova.xova_Ab12Cd", ".xova-Ab12Cd", "..xova-Ab12Cd", "...xova-Ab12Cd",
                "....xova-Ab12Cd", ".out.ova.xova-Ab12Cd~", "xova-work.Ab12C", "xova-work.Ab12Cde",
                "xova-work-Ab12Cd", "Xova-work.Ab12Cd", "xova-work.Ab12Cd.old", "axova-work.Ab12Cd",
                ".xova-work.Ab12Cd",
                "xova-work.Qq11Ww",     /* our work-dir name, but a regular file: we never make one */
        };
        static const char *const dirs[] = {
                "xova-work.Ab1", "xova-work.Ab1 Cd", ".xova-Zz11Zz", "...xova-Zz11Zz", "xova-workAb12Cd",
        };
        char *out = xova_path_join(dir, "made.ova"), *tmp = xova_path_join(dir, ".made.ova.xova-Hh00Ll");
        char *theirs = xova_path_join(dir, ".theirs.ova.xova-Nb12Cd");
        struct stat st;
        int n = 0;

        for (size_t i = 0; i < ELEMENTSOF(files); i++, n++)
                make_at(dir, files[i], S_IFREG);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++, n++)
                make_at(dir, dirs[i], S_IFDIR);
        /* SIGKILL between link(temp, out) and unlink(temp) leaves the temp as a
         * second name of the finished output: only the name goes */
        write_and_commit(out, 0, "done");
        assert_int_equal(link(out, tmp), 0);
        n++;
        if (geteuid() == 0) {
                /* as root: another user's entry with our exact name is not ours */
                make_at(dir, ".theirs.ova.xova-Nb12Cd", S_IFREG);
                assert_int_equal(chown(theirs, 65534, 65534), 0);
                n++;
        }
        assert_int_equal(count_entries(dir), n + 1);
        assert_int_equal(xova_reclaim_stale_temps(dir, NULL, NULL), 1);
        assert_false(lexists(dir, ".made.ova.xova-Hh00Ll"));
        assert_file_text(out, "done");
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(count_entries(dir), n);
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                assert_true(lexists(dir, files[i]));
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                assert_true(lexists(dir, dirs[i]));
        assert_int_equal(xova_reclaim_stale_temps("/nonexistent-dir", NULL, NULL), -ENOENT);
        free(theirs);
        free(out);
        free(tmp);
}

static void test_common_open_input(void **state)
{
        const char *dir = *state;
        char *fifo = xova_path_join(dir, "fifo");
        struct xerr e = { 0 };
        int fd = -1;
        uint64_t size;

        assert_int_equal(mkfifo(fifo, 0600), 0);
        /* must not hang on a FIFO */
        assert_int_equal(xova_open_input(fifo, 100, &fd, &size, &e), -EINVAL);
        assert_string_equal(e.where, fifo);
        assert_int_equal(xova_open_input(dir, 100, &fd, &size, &e), -EISDIR);
        assert_int_equal(xova_open_input("/dev/zero", 100, &fd, &size, &e), -EINVAL);
        assert_int_equal(xova_open_input("/nonexistent", 100, &fd, &size, &e), -ENOENT);
        free(fifo);
}

static void test_common_run(void **state)
{
        struct xerr e = { 0 };
        char *out = NULL;
        char *const ok[] = { "sh", "-c", "echo hello; echo warn >&2", NULL };
        char *const bad[] = { "sh", "-c", "echo line1 >&2; echo boom >&2; exit 3", NULL };
        char *const missing[] = { "xova-no-such-tool", NULL };
        char *const env[] = { "XOVA_T=42", NULL };
        char *const showenv[] = { "sh", "-c", "printf %s \"$XOVA_T\"", NULL };
        (void) state;

        assert_int_equal(xova_run("dash", ok, NULL, &out, &e), 0);
        assert_string_equal(out, "hello\n");
        free(out);
        assert_int_equal(xova_run("dash", bad, NULL, NULL, &e), -EIO);
        assert_non_null(strstr(e.msg, "exit status 3"));
        assert_non_null(strstr(e.msg, "boom"));
        assert_int_equal(xova_run("xova-pkg", missing, NULL, NULL, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "xova-pkg"));
        assert_int_equal(xova_run("dash", showenv, env, &out, &e), 0);
        assert_string_equal(out, "42");
        free(out);
        /* a tool that exited 0 but left no output: named like a failing one */
        assert_int_equal(xerr_set_tool(&e, "mcopy", "'%s' is not on the ESP", "::/x"), -EIO);
        assert_string_equal(e.where, "mcopy");
        assert_string_equal(e.msg, "exited 0 but '::/x' is not on the ESP");
}

/* common/process.c: the one spawn. A kept fd is seen by the child under
 * its number, any other CLOEXEC fd is not; a disposition the parent ignores
 * (SIGHUP under nohup) is default again in the child; an exec failure is an
 * error with errno, not exit status 127; own_pgrp puts the child in its own
 * process group. xova_run_with passes kept fds the same way. */
static void test_common_spawn(void **state)
{
        int keep = open("/dev/null", O_RDONLY | O_CLOEXEC), other = open("/dev/null", O_RDONLY | O_CLOEXEC);
        char script[256], *out = NULL;
        char *argv[] = { "/bin/sh", "-c", script, NULL };
        char *const missing[] = { "/nonexistent/xova-tool", NULL };
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        struct xova_spawn_opts o = { .stdout_fd = -1, .stderr_fd = -1, .keep_fds = &keep, .n_keep_fds = 1,
                                     .own_pgrp = true, .pdeathsig = true };
        struct xova_run_opts ro = { .keep_fds = &keep, .n_keep_fds = 1 };
        struct xerr e = { 0 };
        pid_t pid;
        int status;
        (void) state;

        assert_true(keep > 2 && other > 2);
        sigemptyset(&ign.sa_mask);
        sigaction(SIGHUP, &ign, &old);
        /* exit 0 only if: keep is open, other is closed, SIGHUP (bit 0 of
         * SigIgn) is not ignored, and the shell leads its own process group */
        snprintf(script, sizeof(script),
                 "[ -e /proc/self/fd/%d ] && [ ! -e /proc/self/fd/%d ] && "
                 "grep -q 'SigIgn:.*[02468ace]$' /proc/$$/status && "
                 "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ]", keep, other);
        assert_int_equal(xova_spawn("/bin/sh", argv, &o, &pid, &e), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        sigaction(SIGHUP, &old, NULL);

        assert_int_equal(xova_spawn(missing[0], missing, NULL, &pid, &e), -ENOENT);
        assert_non_null(strstr(e.where, "xova-tool"));

        snprintf(script, sizeof(script), "[ -e /proc/self/fd/%d ] && echo kept", keep);
        assert_int_equal(xova_run_with("dash", argv, &ro, &out, &e), 0);
        assert_string_equal(out, "kept\n");
        free(out);
        ro.n_keep_fds = 0;
        assert_int_equal(xova_run_with("dash", argv, &ro, NULL, &e), -EIO);
        close(keep);
        close(other);
}

int main(void)
{
        /* test_common_atomic_signals kills children with SIGINT, SIGTERM and
         * SIGHUP and expects the library's handlers to clean up and die by
         * the signal. The library keeps an inherited SIG_IGN ignored (nohup
         * must keep working), so under `nohup make check` SIGHUP would not
         * kill the child and the test would wait forever: reset the
         * dispositions it relies on before the library installs its
         * handlers (they are installed once per process). */
        test_default_signal(SIGINT);
        test_default_signal(SIGTERM);
        test_default_signal(SIGHUP);

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_common_parse_u64),
                cmocka_unit_test(test_common_parse_size),
                cmocka_unit_test(test_common_source_date_epoch),
                cmocka_unit_test(test_common_arch_table),
                cmocka_unit_test(test_common_arch_alias),
                cmocka_unit_test(test_common_derive_uuid),
                cmocka_unit_test_setup_teardown(test_common_atomic_commit, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_failure_leaves_nothing, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_signals, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_dir, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_bad_targets, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_reclaim_dead_owner_only, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_reclaim_keeps_own_live_temps, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_reclaim_symlinks_and_specials, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_reclaim_exact_names, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_open_input, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test(test_common_run),
                cmocka_unit_test(test_common_spawn),
                cmocka_unit_test(test_common_escape),
                cmocka_unit_test(test_common_helpers),
        };
        return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
