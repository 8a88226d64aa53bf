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
        /* every row is complete */
        for (size_t i = 0; i < xova_arch_count; i++) {
                const struct xova_arch *r = &xova_arch_table[i];
                assert_non_null(r->name);
                assert_non_null(r->grub_target);
                assert_non_null(r->efi_name);
                assert_non_null(r->console);
                assert_non_null(r->qemu_binary);
                assert_int_equal(strlen(r->dps_root_type), 36);
        }
        assert_non_null(xova_arch_host());       /* this test runs on a supported host */
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
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_common_parse_u64),
                cmocka_unit_test(test_common_parse_size),
                cmocka_unit_test(test_common_source_date_epoch),
                cmocka_unit_test(test_common_arch_table),
                cmocka_unit_test(test_common_derive_uuid),
                cmocka_unit_test_setup_teardown(test_common_atomic_commit, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_failure_leaves_nothing, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_signals, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_dir, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_atomic_bad_targets, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_common_open_input, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test(test_common_run),
        };
        return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
