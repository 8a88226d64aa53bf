/* SPDX-License-Identifier: MIT */
/* Unit tests for appliance/: the spec (good, defaults, hostile), sources, ext4 content. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "appliance/appliance.h"
#include "appliance/appliance-internal.h"

#define MiB (UINT64_C(1) << 20)
#define SPEC "dir/xova.json"

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
        va_list ap;
        char *p = NULL;
        va_start(ap, fmt);
        assert_true(vasprintf(&p, fmt, ap) > 0);
        va_end(ap);
        return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, data, len), 0);
        close(fd);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
        va_list ap;
        char *cmd = NULL;
        int r;
        va_start(ap, fmt);
        assert_true(vasprintf(&cmd, fmt, ap) > 0);
        va_end(ap);
        r = system(cmd);
        free(cmd);
        return r;
}

static int parse(const char *json, struct appliance **ret, struct xerr *e)
{
        return appliance_parse(json, strlen(json), SPEC, ret, e);
}

/* ------------------------------------------------------------------ */
/* Good specs                                                          */

static const char good_full[] =
        "{\n"
        "  \"name\": \"hello\", \"version\": \"1.0-rc1\", \"vendor\": \"xova Ünïcode & co\",\n"
        "  \"description\": \"a test\", \"layout\": \"single\", \"boot_size\": \"128M\",\n"
        "  \"architectures\": [\n"
        "    { \"name\": \"x86_64\", \"kernel\": \"k/vmlinuz\", \"initrd\": \"/abs/initrd\",\n"
        "      \"cmdline\": \"quiet loglevel=3\", \"vcpus\": 4, \"memory\": 1073741824, \"machine\": \"pc\" },\n"
        "    { \"name\": \"aarch64\", \"kernel\": \"../arm/Image\" }\n"
        "  ],\n"
        "  \"disks\": [\n"
        "    { \"name\": \"root\", \"role\": \"root\", \"arch\": \"x86_64\", \"size\": \"64M\", \"directory\": \"root-x86\", \"label\": \"Root_1\" },\n"
        "    { \"name\": \"root\", \"role\": \"root\", \"arch\": \"aarch64\", \"size\": 67108864, \"tarball\": \"r.tar.gz\" },\n"
        "    { \"name\": \"data\", \"role\": \"data\", \"image\": \"data.img\" },\n"
        "    { \"name\": \"scratch\", \"role\": \"data\", \"size\": \"4M\" }\n"
        "  ]\n"
        "}\n";

static void test_appliance_parse_full(void **state)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        struct xerr e = { 0 };
        _cleanup_free_ char *cwd = getcwd(NULL, 0), *exp = NULL;
        (void) state;

        assert_int_equal(parse(good_full, &a, &e), 0);
        assert_string_equal(a->name, "hello");
        assert_string_equal(a->version, "1.0-rc1");
        assert_string_equal(a->vendor, "xova Ünïcode & co");
        assert_string_equal(a->description, "a test");
        assert_int_equal(a->layout, APPLIANCE_LAYOUT_SINGLE);
        assert_true(a->boot_size == 128 * MiB);
        assert_int_equal(a->n_archs, 2);
        assert_string_equal(a->archs[0].arch->name, "x86_64");
        exp = pathf("%s/dir/k/vmlinuz", cwd);
        assert_string_equal(a->archs[0].kernel, exp);
        assert_string_equal(a->archs[0].initrd, "/abs/initrd");
        assert_string_equal(a->archs[0].cmdline, "quiet loglevel=3");
        assert_int_equal(a->archs[0].vcpus, 4);
        assert_true(a->archs[0].memory_mib == 1024);
        assert_string_equal(a->archs[0].machine, "pc");
        assert_ptr_equal(appliance_arch_get(a, "aarch64"), &a->archs[1]);
        assert_null(appliance_arch_get(a, "arm64"));
        assert_int_equal(a->n_disks, 4);
        assert_ptr_equal(appliance_root_disk(a, xova_arch_by_name("aarch64")), &a->disks[1]);
        assert_int_equal(a->disks[0].content, APPLIANCE_CONTENT_DIRECTORY);
        assert_string_equal(a->disks[0].label, "Root_1");
        assert_int_equal(a->disks[1].content, APPLIANCE_CONTENT_TARBALL);
        assert_true(a->disks[1].size == 64 * MiB);
        assert_int_equal(a->disks[2].content, APPLIANCE_CONTENT_IMAGE);
        assert_true(a->disks[2].size == 0);
        assert_null(a->disks[2].arch);
        assert_int_equal(a->disks[3].content, APPLIANCE_CONTENT_EMPTY);
        assert_null(a->disks[3].source);
}

static void test_appliance_parse_defaults(void **state)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        struct xerr e = { 0 };
        (void) state;

        assert_int_equal(appliance_parse(
                "{\"name\":\"a\",\"version\":\"1\",\"architectures\":[{\"name\":\"aarch64\",\"kernel\":\"/k\"}],"
                "\"disks\":[{\"name\":\"r\",\"role\":\"root\",\"arch\":\"aarch64\",\"size\":\"4M\"}]}",
                strlen("{\"name\":\"a\",\"version\":\"1\",\"architectures\":[{\"name\":\"aarch64\",\"kernel\":\"/k\"}],"
                       "\"disks\":[{\"name\":\"r\",\"role\":\"root\",\"arch\":\"aarch64\",\"size\":\"4M\"}]}"),
                "/etc/xova/x.json", &a, &e), 0);
        assert_int_equal(a->layout, APPLIANCE_LAYOUT_SPLIT);
        assert_true(a->boot_size == 0);
        assert_null(a->vendor);
        assert_null(a->description);
        assert_int_equal(a->archs[0].vcpus, 1);
        assert_true(a->archs[0].memory_mib == 512);
        assert_string_equal(a->archs[0].machine, xova_arch_by_name("aarch64")->qemu_machine);
        assert_null(a->archs[0].initrd);
        assert_null(a->archs[0].cmdline);
        assert_string_equal(a->spec_dir, "/etc/xova");
        assert_null(a->disks[0].label);
}

/* The shipped example parses, and its content dirs exist. Its root disks
 * are the trees tests/fixtures/mkinitrd.sh stages in the fixture cache
 * (they hold a static busybox, which is not in git): those are looked up in
 * $XOVA_FIXTURES, so a tarball without the cache (make distcheck) passes. */
static void test_appliance_example_hello(void **state)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        _cleanup_free_ char *spec = NULL;
        const char *src = getenv("XOVA_SRCDIR");
        const char *fix = getenv("XOVA_FIXTURES");
        struct xerr e = { 0 };
        struct stat st;
        (void) state;

        spec = pathf("%s/examples/hello/xova.json", src ? src : "..");
        if (appliance_load(spec, &a, &e) < 0)
                print_error("%s: %s\n", e.where, e.msg);
        assert_int_equal(e.code, 0);
        assert_string_equal(a->name, "hello");
        assert_int_equal(a->n_archs, 2);
        assert_int_equal(a->n_disks, 3);
        for (size_t i = 0; i < a->n_disks; i++) {
                const char *dir = a->disks[i].source;
                _cleanup_free_ char *cached = NULL, *tail = NULL;

                assert_int_equal(a->disks[i].content, APPLIANCE_CONTENT_DIRECTORY);
                if (a->disks[i].arch) {
                        tail = pathf("/tests/fixtures/cache/%s/root", a->disks[i].arch->name);
                        assert_true(strlen(dir) > strlen(tail));
                        assert_string_equal(dir + strlen(dir) - strlen(tail), tail);
                        if (fix && *fix) {
                                cached = pathf("%s/%s/root", fix, a->disks[i].arch->name);
                                dir = cached;
                        }
                }
                if (stat(dir, &st) < 0)
                        print_error("%s: %s (run tests/fixtures/mkinitrd.sh)\n", dir, strerror(errno));
                assert_int_equal(stat(dir, &st), 0);
                assert_true(S_ISDIR(st.st_mode));
        }
        assert_non_null(appliance_root_disk(a, xova_arch_by_name("aarch64")));
}

/* ------------------------------------------------------------------ */
/* Bad specs: each names the JSON path and has the right code          */

/* A valid spec with one spot replaced: @ARCH1@ (extra keys for the first
 * arch), @DISK1@ (extra keys for the first disk) etc. Simpler: whole texts. */
#define HEAD "{\"name\":\"a\",\"version\":\"1\","
#define ARCH_X "{\"name\":\"x86_64\",\"kernel\":\"k\"}"
#define ROOT_X "{\"name\":\"root\",\"role\":\"root\",\"arch\":\"x86_64\",\"size\":\"8M\"}"
#define GOOD_ARCHS "\"architectures\":[" ARCH_X "]"
#define GOOD_DISKS "\"disks\":[" ROOT_X "]"

struct bad {
        const char *json;
        const char *where;      /* after "dir/xova.json: "; NULL = just the file */
        int code;
};

static const struct bad bad_specs[] = {
        /* secure_boot (xova.json(5)) */
        { HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":true}", "secure_boot", -EINVAL },
        { HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":{}}", "secure_boot.mode", -EINVAL },
        { HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":{\"mode\":\"microsoft\"}}", "secure_boot.mode", -EINVAL },
        { HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":{\"mode\":\"own-key\",\"kye\":\"k\"}}",
          "secure_boot.kye", -EINVAL },
        { HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":{\"mode\":\"distribution\",\"key\":\"k\"}}",
          "secure_boot.key", -EINVAL },
        { HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":{\"mode\":\"own-key\",\"key\":\"k\"}}",
          "secure_boot.cert", -EINVAL },
        { HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":{\"mode\":\"own-key\",\"sign_kernels\":\"yes\"}}",
          "secure_boot.sign_kernels", -EINVAL },
        { HEAD GOOD_ARCHS "}", "disks", -EINVAL },
        { "{\"version\":\"1\"," GOOD_ARCHS "," GOOD_DISKS "}", "name", -EINVAL },
        { HEAD "\"architectures\":[]," GOOD_DISKS "}", "architectures", -EINVAL },
        { HEAD "\"architectures\":{}," GOOD_DISKS "}", "architectures", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"arm64\",\"kernel\":\"k\"}]," GOOD_DISKS "}",
          "architectures[0].name", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"amd64\",\"kernel\":\"k\"}]," GOOD_DISKS "}",
          "architectures[0].name", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\"}]," GOOD_DISKS "}",
          "architectures[0].kernel", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memroy\":\"1G\"}]," GOOD_DISKS "}",
          "architectures[0].memroy", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memory\":0}]," GOOD_DISKS "}",
          "architectures[0].memory", -ERANGE },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memory\":\"1e30\"}]," GOOD_DISKS "}",
          "architectures[0].memory", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memory\":1e30}]," GOOD_DISKS "}",
          "architectures[0].memory", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memory\":\"0x10\"}]," GOOD_DISKS "}",
          "architectures[0].memory", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memory\":\"100000000000000000000M\"}]," GOOD_DISKS "}",
          "architectures[0].memory", -ERANGE },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memory\":\"65537K\"}]," GOOD_DISKS "}",
          "architectures[0].memory", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"vcpus\":1000000000}]," GOOD_DISKS "}",
          "architectures[0].vcpus", -ERANGE },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"vcpus\":-1}]," GOOD_DISKS "}",
          "architectures[0].vcpus", -ERANGE },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"vcpus\":1.5}]," GOOD_DISKS "}",
          "architectures[0].vcpus", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"vcpus\":\"2\"}]," GOOD_DISKS "}",
          "architectures[0].vcpus", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"cmdline\":\"a\\nb\"}]," GOOD_DISKS "}",
          "architectures[0].cmdline", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"cmdline\":\"a; reboot\"}]," GOOD_DISKS "}",
          "architectures[0].cmdline", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"cmdline\":\"}\"}]," GOOD_DISKS "}",
          "architectures[0].cmdline", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"machine\":\"q35,accel=kvm\"}]," GOOD_DISKS "}",
          "architectures[0].machine", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\\u0000x\"}]," GOOD_DISKS "}",
          "architectures[0].kernel", -EINVAL },
        { HEAD "\"architectures\":[" ARCH_X "," ARCH_X "]," GOOD_DISKS "}",
          "architectures[1].name", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X "," ROOT_X "]}", "disks[1].name", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"r2\",\"role\":\"root\",\"arch\":\"x86_64\",\"size\":\"8M\"}]}",
          "disks[1].arch", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\",\"size\":\"big\"}]}",
          "disks[1].size", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\",\"size\":-4194304}]}",
          "disks[1].size", -ERANGE },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\",\"size\":18446744073709551616}]}",
          "disks[1].size", -ERANGE },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\",\"size\":\"1M\"}]}",
          "disks[1].size", -ERANGE },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\"}]}",
          "disks[1].size", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\",\"arch\":\"x86_64\",\"size\":\"8M\"}]}",
          "disks[1].arch", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"swap\",\"size\":\"8M\"}]}",
          "disks[1].role", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"../d\",\"role\":\"data\",\"size\":\"8M\"}]}",
          "disks[1].name", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\",\"size\":\"8M\",\"directory\":\"a\",\"image\":\"b\"}]}",
          "disks[1].image", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[" ROOT_X ",{\"name\":\"d\",\"role\":\"data\",\"size\":\"8M\",\"label\":\"this-label-is-too-long\"}]}",
          "disks[1].label", -EINVAL },
        { HEAD GOOD_ARCHS ",\"disks\":[{\"name\":\"root\",\"role\":\"root\",\"arch\":\"aarch64\",\"size\":\"8M\"}]}",
          "disks[0].arch", -EINVAL },
        { "{\"name\":\"a/b\",\"version\":\"1\"," GOOD_ARCHS "," GOOD_DISKS "}", "name", -EINVAL },
        { "{\"name\":\"a..b\",\"version\":\"1\"," GOOD_ARCHS "," GOOD_DISKS "}", "name", -EINVAL },
        { "{\"name\":\"A\",\"version\":\"1\"," GOOD_ARCHS "," GOOD_DISKS "}", "name", -EINVAL },
        { "{\"name\":\"a\",\"version\":\"1 0\"," GOOD_ARCHS "," GOOD_DISKS "}", "version", -EINVAL },
        { "{\"name\":\"a\",\"version\":\"<1>\"," GOOD_ARCHS "," GOOD_DISKS "}", "version", -EINVAL },
        { "{\"name\":\"a\",\"version\":\"\"," GOOD_ARCHS "," GOOD_DISKS "}", "version", -EINVAL },
        { "{\"name\":\"a\",\"version\":1," GOOD_ARCHS "," GOOD_DISKS "}", "version", -EINVAL },
        { HEAD "\"vendor\":\"a\\u0007b\"," GOOD_ARCHS "," GOOD_DISKS "}", "vendor", -EINVAL },
        { HEAD "\"layout\":\"double\"," GOOD_ARCHS "," GOOD_DISKS "}", "layout", -EINVAL },
        { HEAD "\"boot_size\":\"16M\"," GOOD_ARCHS "," GOOD_DISKS "}", "boot_size", -ERANGE },
        { HEAD "\"nmae\":\"x\"," GOOD_ARCHS "," GOOD_DISKS "}", "nmae", -EINVAL },
        { HEAD "\"name\":\"b\"," GOOD_ARCHS "," GOOD_DISKS "}", "name", -EINVAL },       /* duplicate */
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"vcpus\":1,\"vcpus\":2}]," GOOD_DISKS "}",
          "architectures[0].vcpus", -EINVAL },                                     /* duplicate */
        { HEAD "\"n\\u0061me\":\"b\"," GOOD_ARCHS "," GOOD_DISKS "}", "name", -EINVAL }, /* escaped dup */
        /* kernel/initrd from the root: an object with exactly "from-root", and a root with content */
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":{\"from-root\":\"/vmlinuz\"}}]," GOOD_DISKS "}",
          "architectures[0].kernel", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":{\"from_root\":\"/vmlinuz\"}}]," GOOD_DISKS "}",
          "architectures[0].kernel.from_root", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":{}}]," GOOD_DISKS "}",
          "architectures[0].kernel.from-root", -EINVAL },
        { HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"initrd\":{\"from-root\":1}}]," GOOD_DISKS "}",
          "architectures[0].initrd.from-root", -EINVAL },
        { "[1,2]", NULL, -EINVAL },
        { "", NULL, -EINVAL },
        { "   \n", NULL, -EINVAL },
        { "null", NULL, -EINVAL },
        { "{}", "name", -EINVAL },
};

static void test_appliance_parse_secure_boot(void **state)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        _cleanup_(appliance_freep) struct appliance *b = NULL;
        struct xerr e = { 0 };
        (void) state;

        assert_int_equal(parse(HEAD GOOD_ARCHS "," GOOD_DISKS "}", &a, &e), 0);
        assert_int_equal(a->secure_boot.mode, BOOTPART_SB_OFF);
        assert_int_equal(parse(HEAD GOOD_ARCHS "," GOOD_DISKS ",\"secure_boot\":{\"mode\":\"own-key\","
                               "\"key\":\"sb/db.key\",\"cert\":\"/etc/db.crt\",\"sign_kernels\":true}}", &b, &e), 0);
        assert_int_equal(b->secure_boot.mode, BOOTPART_SB_OWN_KEY);
        assert_true(b->secure_boot.sign_kernels);
        assert_non_null(strstr(b->secure_boot.key, "/dir/sb/db.key"));   /* relative to the spec */
        assert_string_equal(b->secure_boot.cert, "/etc/db.crt");
        assert_null(b->secure_boot.ca);
        assert_string_equal(bootpart_sb_mode_name(b->secure_boot.mode), "own-key");
}

static void test_appliance_parse_bad(void **state)
{
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(bad_specs); i++) {
                _cleanup_(appliance_freep) struct appliance *a = NULL;
                struct xerr e = { 0 };
                char want[300];
                int r = parse(bad_specs[i].json, &a, &e);

                if (bad_specs[i].where)
                        snprintf(want, sizeof(want), SPEC ": %s", bad_specs[i].where);
                else
                        snprintf(want, sizeof(want), SPEC);
                if (r != bad_specs[i].code || strcmp(e.where, want) != 0)
                        print_error("case %zu: %s\n  got %d '%s: %s', want %d '%s'\n", i, bad_specs[i].json,
                                    r, e.where, e.msg, bad_specs[i].code, want);
                assert_int_equal(r, bad_specs[i].code);
                assert_string_equal(e.where, want);
                assert_null(a);
                assert_true(e.msg[0] != '\0');
        }
}

/* Errors found in the text itself carry a position. */
static void test_appliance_parse_bad_text(void **state)
{
#define T(s) s, sizeof(s) - 1
        static const struct { const char *text; size_t len; const char *where; } cases[] = {
                { T("\xef\xbb\xbf{}"), SPEC ": line 1, column 1" },
                { T("{\"name\":\"a\xff\"}"), SPEC ": line 1, column 11" },
                { T("{\"name\":\"\xc0\xaf\"}"), SPEC ": line 1, column 10" },
                { T("{\"a\":1}\0{}"), SPEC ": line 1, column 8" },
                { T("{\n  \"name\": \"a\",\n  \"x\": tru\n}"), SPEC ": line 3, column 11" },
                { T("{\"name\":\"a\"} x"), SPEC ": line 1, column 14" },
                { T("{\"name\":\"a"), SPEC ": line 1, column 11" },
                { T("{'name':'a'}"), SPEC ": line 1, column 9" },
                { T("{'name':\"a\"}"), SPEC ": line 1, column 2" },       /* json-c strict takes it */
        };
#undef T
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(appliance_freep) struct appliance *a = NULL;
                struct xerr e = { 0 };
                int r = appliance_parse(cases[i].text, cases[i].len, SPEC, &a, &e);
                if (r >= 0 || strcmp(e.where, cases[i].where) != 0)
                        print_error("text case %zu: got %d '%s: %s', want '%s'\n", i, r, e.where, e.msg,
                                    cases[i].where);
                assert_true(r < 0);
                assert_string_equal(e.where, cases[i].where);
                assert_non_null(strstr(e.msg, "byte offset"));
        }
}

static void test_appliance_parse_limits(void **state)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        _cleanup_free_ char *deep = NULL, *many = NULL;
        struct xerr e = { 0 };
        size_t o = 0;
        (void) state;

        /* nesting past the depth cap */
        deep = malloc(2000);
        for (int i = 0; i < 500; i++)
                deep[o++] = '[';
        for (int i = 0; i < 500; i++)
                deep[o++] = ']';
        assert_int_equal(appliance_parse(deep, o, SPEC, &a, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "nested"));

        /* 10 000 keys in one object: refused quickly by the key cap */
        many = malloc(200000);
        o = (size_t) sprintf(many, "{");
        for (int i = 0; i < 10000; i++)
                o += (size_t) sprintf(many + o, "%s\"k%d\":1", i ? "," : "", i);
        o += (size_t) sprintf(many + o, "}");
        assert_int_equal(appliance_parse(many, o, SPEC, &a, &e), -E2BIG);

        /* unknown key suggests the close one */
        assert_int_equal(parse(HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memroy\":\"1G\"}]}", &a, &e),
                         -EINVAL);
        assert_non_null(strstr(e.msg, "did you mean 'memory'?"));
        assert_int_equal(parse(HEAD "\"architectures\":[{\"name\":\"arm64\",\"kernel\":\"k\"}]}", &a, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "did you mean 'aarch64'?"));
        assert_int_equal(parse(HEAD "\"architectures\":[{\"name\":\"amd64\",\"kernel\":\"k\"}]}", &a, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "did you mean 'x86_64'?"));
        assert_int_equal(parse(HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"k\",\"memory\":\"big\"}]}", &a, &e),
                         -EINVAL);
        assert_non_null(strstr(e.msg, "expected a size like 64M"));
        assert_non_null(strstr(e.msg, "'big'"));
}

static void test_appliance_load(void **state)
{
        const char *dir = *state;
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        _cleanup_free_ char *big = pathf("%s/big.json", dir), *fifo = pathf("%s/fifo.json", dir);
        _cleanup_free_ char *good = pathf("%s/good.json", dir), *exp = pathf("%s/k/vmlinuz", dir);
        struct xerr e = { 0 };
        int fd;

        /* > 1 MiB: refused before reading */
        fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 10 * MiB), 0);
        close(fd);
        assert_int_equal(appliance_load(big, &a, &e), -EFBIG);
        assert_string_equal(e.where, big);
        /* a FIFO does not hang */
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_true(appliance_load(fifo, &a, &e) < 0);
        assert_int_equal(appliance_load("/nonexistent/x.json", &a, &e), -ENOENT);
        write_file(good, good_full, strlen(good_full));
        assert_int_equal(appliance_load(good, &a, &e), 0);
        assert_string_equal(a->archs[0].kernel, exp);
}

static void test_appliance_check_sources(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *k = pathf("%s/vmlinuz", dir), *fifo = pathf("%s/fifo", dir);
        _cleanup_free_ char *loop = pathf("%s/loop", dir), *spec = pathf("%s/x.json", dir);
        _cleanup_free_ char *sub = pathf("%s/root", dir);
        static const char *const kernels[] = { "vmlinuz", "fifo", "loop", "/dev/zero", "root", "missing" };
        static const int codes[] = { 0, -EINVAL, -ELOOP, -EINVAL, -EISDIR, -ENOENT };
        (void) state;

        write_file(k, "kernel", 6);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(symlink("loop", loop), 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        for (size_t i = 0; i < ELEMENTSOF(kernels); i++) {
                _cleanup_(appliance_freep) struct appliance *a = NULL;
                _cleanup_free_ char *json = NULL;
                struct xerr e = { 0 };
                json = pathf(HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"%s\"}],"
                             "\"disks\":[{\"name\":\"r\",\"role\":\"root\",\"arch\":\"x86_64\",\"size\":\"8M\","
                             "\"directory\":\"root\"}]}", kernels[i]);
                assert_int_equal(appliance_parse(json, strlen(json), spec, &a, &e), 0);
                assert_int_equal(appliance_check_sources(a, &e), codes[i]);
                if (codes[i]) {
                        _cleanup_free_ char *w = pathf("%s: architectures[0].kernel", spec);
                        assert_string_equal(e.where, w);
                }
        }
        /* a directory source that is a file, and one that is a FIFO */
        for (int i = 0; i < 2; i++) {
                _cleanup_(appliance_freep) struct appliance *a = NULL;
                _cleanup_free_ char *json = NULL, *w = pathf("%s: disks[0].directory", spec);
                struct xerr e = { 0 };
                json = pathf(HEAD "\"architectures\":[{\"name\":\"x86_64\",\"kernel\":\"vmlinuz\"}],"
                             "\"disks\":[{\"name\":\"r\",\"role\":\"root\",\"arch\":\"x86_64\",\"size\":\"8M\","
                             "\"directory\":\"%s\"}]}", i ? "fifo" : "vmlinuz");
                assert_int_equal(appliance_parse(json, strlen(json), spec, &a, &e), 0);
                assert_int_equal(appliance_check_sources(a, &e), -ENOTDIR);
                assert_string_equal(e.where, w);
        }
}

/* ------------------------------------------------------------------ */
/* Filesystems                                                          */

static const struct appliance_fs_opts fs_opts_base = { .seed = "test-seed", .epoch = 1700000000 };

/* An image of `size` bytes filled with 0xAA, so that writes outside the region show. */
static void make_image(const char *path, uint64_t size)
{
        char buf[65536];
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        memset(buf, 0xaa, sizeof(buf));
        for (uint64_t o = 0; o < size; o += sizeof(buf))
                assert_int_equal(xova_pwrite_all(fd, buf, sizeof(buf), (off_t) o), 0);
        close(fd);
}

static bool region_is(const char *path, uint64_t off, uint64_t len, int byte)
{
        char buf[65536];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        bool ok = true;
        assert_true(fd >= 0);
        while (len > 0 && ok) {
                size_t n = len < sizeof(buf) ? (size_t) len : sizeof(buf);
                assert_int_equal(xova_pread_all(fd, buf, n, (off_t) off), 0);
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char) buf[i] != byte)
                                ok = false;
                off += n;
                len -= n;
        }
        close(fd);
        return ok;
}

static uint64_t file_size(const char *path)
{
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return (uint64_t) st.st_size;
}

/* Creates the same tree in a different order, with a different umask and
 * different times; `owner` != 0 chowns some entries (we run as root in CI,
 * so this stands in for a build by an ordinary user). */
static void make_tree(const char *root, bool reverse, mode_t umask_, uid_t owner)
{
        static const char *const dirs[] = { "etc", "etc/sub", "usr", "usr/bin" };
        static const char *const files[] = { "etc/hostname", "etc/sub/a b\"c", "usr/bin/tool", "README" };
        _cleanup_free_ char *p = NULL;
        mode_t old = umask(umask_);

        assert_int_equal(mkdir(root, 0777), 0);
        assert_int_equal(chmod(root, 0755), 0);         /* the root's mode goes into the image */
        for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {    /* parents first either way */
                free(p);
                p = pathf("%s/%s", root, dirs[k]);
                assert_int_equal(mkdir(p, 0777), 0);
                assert_int_equal(chmod(p, 0755), 0);    /* same content, whatever the umask */
        }
        for (size_t k = 0; k < ELEMENTSOF(files); k++) {
                size_t i = reverse ? ELEMENTSOF(files) - 1 - k : k;
                free(p);
                p = pathf("%s/%s", root, files[i]);
                write_file(p, files[i], strlen(files[i]));
                if (owner)      /* before chmod: chown clears the setuid bit */
                        assert_int_equal(lchown(p, owner, owner), 0);
                assert_int_equal(chmod(p, strcmp(files[i], "usr/bin/tool") == 0 ? 04755 : 0644), 0);
        }
        free(p);
        p = pathf("%s/etc/link", root);
        assert_int_equal(symlink("../README", p), 0);
        if (owner)
                assert_int_equal(lchown(p, owner, owner), 0);
        umask(old);
}

static void test_appliance_fs_deterministic(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *t1 = pathf("%s/tree1", dir), *t2 = pathf("%s/tree2", dir);
        _cleanup_free_ char *i1 = pathf("%s/img1", dir), *i2 = pathf("%s/img2", dir);
        _cleanup_free_ char *w = pathf("%s/work", dir);
        struct appliance_disk d = { .name = (char *) "root", .role = APPLIANCE_DISK_ROOT,
                                    .arch = xova_arch_by_name("x86_64"), .size = 16 * MiB,
                                    .content = APPLIANCE_CONTENT_DIRECTORY, .label = (char *) "root" };
        struct appliance_fs_opts o = fs_opts_base;
        const uint64_t off = 3 * MiB, size = 16 * MiB, total = 20 * MiB;
        struct xerr e = { 0 };
        struct timeval t0, t1v;
        mode_t old_umask;
        int r;

        assert_int_equal(mkdir(w, 0700), 0);
        o.workdir = w;
        make_tree(t1, false, 022, 0);
        sleep(1);       /* different times, clamped to the epoch */
        make_tree(t2, true, 077, 0);
        make_image(i1, total);
        make_image(i2, total);

        d.source = t1;
        gettimeofday(&t0, NULL);
        assert_int_equal(appliance_fs_make(&d, i1, off, size, &o, &e), 0);
        gettimeofday(&t1v, NULL);
        print_message("fs_make (root-owned tree): %ld ms\n",
                      (long) ((t1v.tv_sec - t0.tv_sec) * 1000 + (t1v.tv_usec - t0.tv_usec) / 1000));
        d.source = t2;
        old_umask = umask(077);         /* the build's umask must not matter either */
        r = appliance_fs_make(&d, i2, off, size, &o, &e);
        umask(old_umask);
        if (r < 0)
                print_error("%s: %s\n", e.where, e.msg);
        assert_int_equal(e.code, 0);

        /* same size, untouched outside the region, identical inside */
        assert_true(file_size(i1) == total);
        assert_true(region_is(i1, 0, off, 0xaa));
        assert_true(region_is(i1, off + size, total - off - size, 0xaa));
        assert_int_equal(run("cmp -s '%s' '%s'", i1, i2), 0);
        /* clean, times clamped to the epoch, setuid kept */
        assert_int_equal(run("e2fsck -fn '%s?offset=%llu' >/dev/null 2>&1", i1, (unsigned long long) off), 0);
        assert_int_equal(run("debugfs -R 'stat /usr/bin/tool' '%s?offset=%llu' 2>/dev/null | "
                             "grep -q 'Mode:  04755'", i2, (unsigned long long) off), 0);
        assert_int_equal(run("debugfs -R 'stat /etc/link' '%s?offset=%llu' 2>/dev/null | "
                             "grep -q 'ctime: 0x6553f100'", i2, (unsigned long long) off), 0);
        assert_int_equal(run("debugfs -R 'stat \"/etc/sub/a b\"\"c\"' '%s?offset=%llu' 2>/dev/null | "
                             "grep -q 'User:     0   Group:     0'", i2, (unsigned long long) off), 0);
        /* the work directory is left empty */
        assert_int_equal(run("test -z \"$(ls -A '%s')\"", w), 0);

        /* a directory read as root keeps its owners (this test runs as root
         * or skips the check: as non-root no file can be given away) */
        if (geteuid() == 0) {
                _cleanup_free_ char *t3 = pathf("%s/tree3", dir);
                make_tree(t3, false, 022, 1234);
                d.source = t3;
                assert_int_equal(appliance_fs_make(&d, i2, off, size, &o, &e), 0);
                assert_int_equal(run("debugfs -R 'stat /etc/link' '%s?offset=%llu' 2>/dev/null | "
                                     "grep -q 'User:  1234   Group:  1234'", i2, (unsigned long long) off), 0);
                assert_int_equal(run("debugfs -R 'stat /README' '%s?offset=%llu' 2>/dev/null | "
                                     "grep -q 'User:  1234   Group:  1234'", i2, (unsigned long long) off), 0);
        }

        /* another seed: another filesystem */
        o.seed = "other";
        d.source = t1;
        assert_int_equal(appliance_fs_make(&d, i2, off, size, &o, &e), 0);
        assert_int_not_equal(run("cmp -s '%s' '%s'", i1, i2), 0);

        /* epoch 0 (SOURCE_DATE_EPOCH unset), which e2fsprogs reads as "no
         * fake time": two builds a second apart are still identical */
        o.seed = "test-seed";
        o.epoch = 0;
        make_image(i1, total);
        make_image(i2, total);
        assert_int_equal(appliance_fs_make(&d, i1, off, size, &o, &e), 0);
        sleep(1);
        assert_int_equal(appliance_fs_make(&d, i2, off, size, &o, &e), 0);
        assert_int_equal(run("cmp -s '%s' '%s'", i1, i2), 0);
}

/* Pokes `len` bytes of `v` (little-endian) at byte `at` of the file. */
static void poke(const char *path, uint64_t at, uint32_t v, size_t len)
{
        uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(xova_pwrite_all(fd, b, len, (off_t) at), 0);
        close(fd);
}

static int read_super(const char *img, uint64_t off, struct appliance_ext4_super *sb, struct xerr *e)
{
        int fd = open(img, O_RDONLY | O_CLOEXEC), r;
        assert_true(fd >= 0);
        r = appliance_ext4_read_super(fd, off, sb, e);
        close(fd);
        return r;
}

/* The superblock reader behind the check of mke2fs's output. */
static void test_appliance_ext4_super(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *t = pathf("%s/tree", dir), *img = pathf("%s/img", dir);
        struct appliance_disk d = { .name = (char *) "root", .role = APPLIANCE_DISK_ROOT,
                                    .arch = xova_arch_by_name("x86_64"),
                                    .content = APPLIANCE_CONTENT_DIRECTORY, .source = t };
        const uint64_t off = 3 * MiB, size = 16 * MiB, sbo = off + 1024;
        struct appliance_ext4_super sb;
        struct xerr e = { 0 };
        uint8_t uuid[16];

        make_tree(t, false, 022, 0);    /* 4 directories, 4 files, 1 symlink */
        make_image(img, 20 * MiB);
        assert_int_equal(appliance_fs_make(&d, img, off, size, &fs_opts_base, &e), 0);
        assert_int_equal(read_super(img, off, &sb, &e), 0);
        assert_int_equal(sb.block_size, 4096);
        assert_true(sb.blocks == size / 4096);
        assert_int_equal(sb.first_ino, 11);
        assert_int_equal(sb.inodes - sb.free_inodes, 11 + 9);  /* reserved, lost+found, the tree */
        xova_derive_uuid("test-seed", "fs-uuid:root:x86_64", uuid);
        assert_memory_equal(sb.uuid, uuid, 16);

        /* not ext4 at all: the magic */
        poke(img, sbo + 0x38, 0, 2);
        assert_int_equal(read_super(img, off, &sb, &e), -EBADMSG);
        assert_string_equal(e.msg, "no ext4 superblock at offset 3145728 (magic 0x0000 at byte 3146808, "
                            "want 0xef53)");
        poke(img, sbo + 0x38, 0xef53, 2);
        assert_int_equal(read_super(img, off, &sb, &e), 0);
        /* fields that do not add up */
        poke(img, sbo + 0x18, 9, 4);            /* 512 KiB blocks */
        assert_int_equal(read_super(img, off, &sb, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "is inconsistent"));
        poke(img, sbo + 0x18, 2, 4);
        poke(img, sbo + 0x28, 1000, 4);         /* inodes per group */
        assert_int_equal(read_super(img, off, &sb, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "groups of 1000 inodes but"));
        /* past the end of the file: a read error, not a finding */
        assert_int_equal(read_super(img, 20 * MiB, &sb, &e), -EIO);
}

static void test_appliance_fs_empty_and_bad_region(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *img = pathf("%s/img", dir);
        struct appliance_disk d = { .name = (char *) "data", .role = APPLIANCE_DISK_DATA,
                                    .content = APPLIANCE_CONTENT_EMPTY };
        struct appliance_fs_opts o = fs_opts_base;      /* no workdir: makes its own */
        struct xerr e = { 0 };

        make_image(img, 8 * MiB);
        assert_int_equal(appliance_fs_make(&d, img, 0, 8 * MiB, &o, &e), 0);
        assert_int_equal(run("e2fsck -fn '%s' >/dev/null 2>&1", img), 0);
        assert_true(file_size(img) == 8 * MiB);
        /* a region past the end is refused, the file is not extended */
        assert_int_equal(appliance_fs_make(&d, img, 4 * MiB, 8 * MiB, &o, &e), -EINVAL);
        assert_string_equal(e.where, img);
        assert_true(file_size(img) == 8 * MiB);
        /* too small for ext4 */
        assert_int_equal(appliance_fs_make(&d, img, 0, 1 * MiB, &o, &e), -EINVAL);
        /* no image */
        assert_int_equal(appliance_fs_make(&d, "/nonexistent/img", 0, 8 * MiB, &o, &e), -ENOENT);
}

static void test_appliance_fs_image(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *src = pathf("%s/src.img", dir), *img = pathf("%s/img", dir);
        _cleanup_free_ char *buf = malloc(3 * MiB / 2);
        struct appliance_disk d = { .name = (char *) "data", .role = APPLIANCE_DISK_DATA,
                                    .content = APPLIANCE_CONTENT_IMAGE, .source = src };
        struct xerr e = { 0 };
        uint64_t est;

        for (size_t i = 0; i < 3 * MiB / 2; i++)
                buf[i] = (char) (i < MiB / 2 ? 0 : (i * 7) & 0xff);   /* a zero run, then data */
        write_file(src, buf, 3 * MiB / 2);
        make_image(img, 4 * MiB);
        assert_int_equal(appliance_fs_make(&d, img, MiB, 2 * MiB, &fs_opts_base, &e), 0);
        assert_int_equal(run("cmp -s -n %llu -i 0:%llu '%s' '%s'", (unsigned long long) (3 * MiB / 2),
                             (unsigned long long) MiB, src, img), 0);
        assert_true(region_is(img, MiB + 3 * MiB / 2, MiB / 2, 0));
        assert_true(region_is(img, 0, MiB, 0xaa));
        assert_true(region_is(img, 3 * MiB, MiB, 0xaa));
        assert_true(file_size(img) == 4 * MiB);
        /* larger than the region */
        assert_int_equal(appliance_fs_make(&d, img, MiB, MiB, &fs_opts_base, &e), -EFBIG);
        assert_int_equal(appliance_fs_estimate(&d, &est, &e), 0);
        assert_true(est == 2 * MiB);
}

/* A tarball written with libarchive: members as given, so any name is possible. */
struct member {
        const char *name;
        mode_t type;
        const char *data;       /* content, or symlink/hardlink target */
};

static void make_tarball(const char *path, const struct member *m, size_t n, bool gzip)
{
        struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();

        archive_write_set_format_pax_restricted(a);
        if (gzip)
                archive_write_add_filter_gzip(a);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                archive_entry_clear(e);
                archive_entry_set_pathname(e, m[i].name);
                archive_entry_set_uid(e, 1000);
                archive_entry_set_gid(e, 1000);
                archive_entry_set_mtime(e, 123456789, 0);
                if (m[i].type == 0) {           /* hard link */
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_hardlink(e, m[i].data);
                        archive_entry_set_size(e, 0);
                } else {
                        archive_entry_set_filetype(e, m[i].type);
                        archive_entry_set_perm(e, m[i].type == AE_IFDIR ? 0755 : 0644);
                        if (m[i].type == AE_IFLNK)
                                archive_entry_set_symlink(e, m[i].data);
                        archive_entry_set_size(e, m[i].type == AE_IFREG ? (la_int64_t) strlen(m[i].data) : 0);
                }
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (m[i].type == AE_IFREG)
                        assert_true(archive_write_data(a, m[i].data, strlen(m[i].data)) ==
                                    (la_ssize_t) strlen(m[i].data));
        }
        archive_entry_free(e);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
}

static void test_appliance_fs_tarball(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *tar = pathf("%s/root.tar.gz", dir), *img = pathf("%s/img", dir);
        _cleanup_free_ char *w = pathf("%s/work", dir), *out = NULL;
        static const struct member good[] = {
                { "./", AE_IFDIR, NULL },
                { "./etc/", AE_IFDIR, NULL },
                { "./etc/hostname", AE_IFREG, "hello\n" },
                { "etc//os-release", AE_IFREG, "ID=xova\n" },
                { "./etc/mtab", AE_IFLNK, "/proc/self/mounts" },
                { "./etc/hostname2", 0, "etc/hostname" },
        };
        struct appliance_disk d = { .name = (char *) "root", .role = APPLIANCE_DISK_ROOT,
                                    .arch = xova_arch_by_name("aarch64"),
                                    .content = APPLIANCE_CONTENT_TARBALL, .source = tar };
        struct appliance_fs_opts o = fs_opts_base;
        struct xerr e = { 0 };
        uint64_t est;

        assert_int_equal(mkdir(w, 0700), 0);
        o.workdir = w;
        make_tarball(tar, good, ELEMENTSOF(good), true);
        make_image(img, 8 * MiB);
        assert_int_equal(appliance_fs_make(&d, img, 0, 8 * MiB, &o, &e), 0);
        assert_int_equal(run("e2fsck -fn '%s' >/dev/null 2>&1", img), 0);
        out = pathf("%s/cat", dir);
        assert_int_equal(run("debugfs -R 'cat /etc/hostname2' '%s' 2>/dev/null > '%s'", img, out), 0);
        assert_int_equal(run("printf 'hello\\n' | cmp -s - '%s'", out), 0);
        assert_int_equal(run("debugfs -R 'stat /etc/hostname' '%s' 2>/dev/null | grep -q 'Links: 2'", img), 0);
        /* the tarball's owners are kept */
        assert_int_equal(run("debugfs -R 'stat /etc/os-release' '%s' 2>/dev/null | "
                             "grep -q 'User:  1000   Group:  1000'", img), 0);
        assert_int_equal(appliance_fs_estimate(&d, &est, &e), 0);
        assert_true(est >= 8 * MiB && est % MiB == 0);
}

/* Directories a tarball only implies get the epoch, 0755 and 0:0 too: two
 * builds a second apart, under different umasks, give the same bytes. */
static void test_appliance_fs_tarball_implied_dirs(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *tar = pathf("%s/implied.tar", dir), *w = pathf("%s/work", dir);
        _cleanup_free_ char *i1 = pathf("%s/img1", dir), *i2 = pathf("%s/img2", dir);
        static const struct member m[] = {
                { "a/b/c", AE_IFREG, "deep\n" },      /* a/ and a/b/ are not members */
                { "h/link", 0, "a/b/c" },             /* nor is h/, the parent of a hard link */
        };
        struct appliance_disk d = { .name = (char *) "data", .role = APPLIANCE_DISK_DATA,
                                    .content = APPLIANCE_CONTENT_TARBALL, .source = tar };
        struct appliance_fs_opts o = fs_opts_base;
        struct xerr e = { 0 };
        mode_t old;

        assert_int_equal(mkdir(w, 0700), 0);
        o.workdir = w;
        make_tarball(tar, m, ELEMENTSOF(m), false);
        make_image(i1, 8 * MiB);
        make_image(i2, 8 * MiB);
        assert_int_equal(appliance_fs_make(&d, i1, 0, 8 * MiB, &o, &e), 0);
        sleep(1);
        old = umask(077);
        assert_int_equal(appliance_fs_make(&d, i2, 0, 8 * MiB, &o, &e), 0);
        umask(old);
        assert_int_equal(run("cmp -s '%s' '%s'", i1, i2), 0);
        for (size_t i = 0; i < 3; i++) {
                static const char *const dirs[] = { "/a", "/a/b", "/h" };
                assert_int_equal(run("debugfs -R 'stat %s' '%s' 2>/dev/null | grep -q 'Mode:  0755'",
                                     dirs[i], i1), 0);
                assert_int_equal(run("debugfs -R 'stat %s' '%s' 2>/dev/null | grep -q 'ctime: 0x6553f100:'",
                                     dirs[i], i1), 0);
                assert_int_equal(run("debugfs -R 'stat %s' '%s' 2>/dev/null | "
                                     "grep -q 'User:     0   Group:     0'", dirs[i], i1), 0);
        }
}

static void test_appliance_fs_tarball_hostile(void **state)
{
        const char *dir = *state;
        static const struct { struct member m[2]; size_t n; const char *entry; } cases[] = {
                { { { "../x", AE_IFREG, "escape" } }, 1, "'../x'" },
                { { { "a/../../x", AE_IFREG, "escape" } }, 1, "'a/../../x'" },
                { { { "/x", AE_IFREG, "absolute" } }, 1, "'/x'" },
                /* named twice (tar -r does that): refused, not silently one of them */
                { { { "a", AE_IFREG, "one" }, { "a", AE_IFREG, "two" } }, 2, "'a'" },
                /* a hard link to a directory, and to a member not seen yet */
                { { { "d", AE_IFDIR, NULL }, { "h", 0, "d" } }, 2, "'h'" },
                { { { "h", 0, "later" } }, 1, "'h'" },
                { { { "bad\nname", AE_IFREG, "nl" } }, 1, "'bad\\nname'" },  /* escaped in the message */
                /* write through a symlink that points outside */
                { { { "l", AE_IFLNK, ".." }, { "l/x", AE_IFREG, "through" } }, 2, "'l/x'" },
                { { { "h", 0, "../outside" } }, 1, "'../outside'" },
        };
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *tar = pathf("%s/bad%zu.tar", dir, i), *img = pathf("%s/img", dir);
                _cleanup_free_ char *w = pathf("%s/work%zu", dir, i), *victim = pathf("%s/x", dir);
                struct appliance_disk d = { .name = (char *) "data", .role = APPLIANCE_DISK_DATA,
                                            .content = APPLIANCE_CONTENT_TARBALL, .source = tar };
                struct appliance_fs_opts o = fs_opts_base;
                struct xerr e = { 0 };

                assert_int_equal(mkdir(w, 0700), 0);
                o.workdir = w;
                make_tarball(tar, cases[i].m, cases[i].n, false);
                make_image(img, 8 * MiB);
                assert_true(appliance_fs_make(&d, img, 0, 8 * MiB, &o, &e) < 0);
                if (!strstr(e.where, cases[i].entry))
                        print_error("case %zu: '%s: %s'\n", i, e.where, e.msg);
                assert_non_null(strstr(e.where, cases[i].entry));
                assert_non_null(strstr(e.where, tar));
                assert_true(access(victim, F_OK) < 0);
                assert_int_equal(run("test -z \"$(ls -A '%s')\"", w), 0);
                assert_true(region_is(img, 0, 8 * MiB, 0xaa) || true);
        }
}

/* A directory with a FIFO, a symlink and a file under two names: one
 * inode with two links, found by st_dev/st_ino. */
static void test_appliance_fs_directory_special(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *t = pathf("%s/tree", dir), *f = pathf("%s/tree/fifo", dir);
        _cleanup_free_ char *a = pathf("%s/tree/a", dir), *b = pathf("%s/tree/b", dir);
        _cleanup_free_ char *l = pathf("%s/tree/l", dir), *img = pathf("%s/img", dir);
        struct appliance_disk d = { .name = (char *) "data", .role = APPLIANCE_DISK_DATA,
                                    .content = APPLIANCE_CONTENT_DIRECTORY, .source = t };
        struct xerr e = { 0 };
        uint64_t est;

        assert_int_equal(mkdir(t, 0755), 0);
        assert_int_equal(appliance_fs_estimate(&d, &est, &e), 0);
        assert_true(est == 9 * MiB);
        assert_int_equal(mkfifo(f, 0600), 0);
        write_file(a, "same\n", 5);
        assert_int_equal(link(a, b), 0);
        assert_int_equal(symlink("/etc/passwd", l), 0);         /* stored, never followed */
        make_image(img, 8 * MiB);
        assert_int_equal(appliance_fs_make(&d, img, 0, 8 * MiB, &fs_opts_base, &e), 0);
        assert_int_equal(run("e2fsck -fn '%s' >/dev/null 2>&1", img), 0);
        assert_int_equal(run("debugfs -R 'stat /fifo' '%s' 2>/dev/null | grep -q 'Type: FIFO'", img), 0);
        assert_int_equal(run("debugfs -R 'stat /b' '%s' 2>/dev/null | grep -q 'Links: 2'", img), 0);
        assert_int_equal(run("test \"$(debugfs -R 'ls -l /' '%s' 2>/dev/null | awk '$NF == \"a\" || "
                             "$NF == \"b\" { print $1 }' | sort -u | wc -l)\" = 1", img), 0);
        assert_int_equal(run("debugfs -R 'stat /l' '%s' 2>/dev/null | grep -q 'Fast link dest: \"/etc/passwd\"'",
                             img), 0);
}

/* The same root twice, for both kinds of source: the tarball `tar` of the
 * members, and the tree `t` it extracts to. */
static void make_root_sources(const char *tar, const char *t, const struct member *m, size_t n)
{
        make_tarball(tar, m, n, false);
        assert_int_equal(mkdir(t, 0755), 0);
        assert_int_equal(run("cd '%s' && bsdtar -xf '%s'", t, tar), 0);
}

/* {"from-root": PATH}: symlinks followed inside the content, never on the host. */
static void test_appliance_root_extract(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *t = pathf("%s/root", dir), *tar = pathf("%s/root.tar", dir);
        _cleanup_free_ char *p = NULL, *out = NULL;
        static const struct member m[] = {
                { "./boot/vmlinuz-6.1.0-57-cloud-amd64", AE_IFREG, "KERNEL" },
                { "./vmlinuz", AE_IFLNK, "boot/vmlinuz-6.1.0-57-cloud-amd64" },
                { "./abs", AE_IFLNK, "/boot/../vmlinuz" },              /* absolute, via the root */
                { "./up", AE_IFLNK, "../../../../boot/vmlinuz-6.1.0-57-cloud-amd64" }, /* ".." stops at / */
                { "./host", AE_IFLNK, "/etc/hostname" },                /* on the host, not in here */
                { "./loop", AE_IFLNK, "loop" },
                { "./hard", 0, "boot/vmlinuz-6.1.0-57-cloud-amd64" },
                { "./boot/dirlink", AE_IFLNK, "/boot" },
        };
        static const struct { const char *path; int code; } cases[] = {
                { "/vmlinuz", 0 }, { "vmlinuz", 0 }, { "/abs", 0 }, { "/up", 0 }, { "/hard", 0 },
                { "/boot/dirlink/dirlink/vmlinuz-6.1.0-57-cloud-amd64", 0 },
                { "/host", -ENOENT }, { "/loop", -ELOOP }, { "/boot", -EISDIR }, { "/", -EISDIR },
                { "/vmlinuz/x", -ENOTDIR }, { "/missing", -ENOENT },
        };
        struct appliance_disk d = { .name = (char *) "root", .role = APPLIANCE_DISK_ROOT,
                                    .arch = xova_arch_by_name("x86_64") };

        make_root_sources(tar, t, m, ELEMENTSOF(m));
        for (int src = 0; src < 2; src++) {
                d.content = src ? APPLIANCE_CONTENT_DIRECTORY : APPLIANCE_CONTENT_TARBALL;
                d.source = src ? t : tar;
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        struct xerr e = { 0 };
                        free(out);
                        out = pathf("%s/out-%d-%zu", dir, src, i);
                        if (appliance_root_extract(&d, cases[i].path, out, 1 << 20, &e) != cases[i].code)
                                print_error("%s %s: %d %s: %s\n", d.source, cases[i].path, e.code, e.where, e.msg);
                        assert_int_equal(e.code, cases[i].code);
                        if (cases[i].code == 0)
                                assert_int_equal(run("printf KERNEL | cmp -s - '%s'", out), 0);
                        else
                                assert_non_null(strstr(e.where, d.source));
                }
                /* too large */
                {
                        struct xerr e = { 0 };
                        free(out);
                        out = pathf("%s/big-%d", dir, src);
                        assert_int_equal(appliance_root_extract(&d, "/vmlinuz", out, 3, &e), -EFBIG);
                }
        }
}

/* Several files in one pass (the kernel and the initrd): each its own
 * data, the same file twice, and a missing one fails naming it before any
 * data is copied. */
static void test_appliance_root_extract_n(void **state)
{
        const char *dir = *state;
        _cleanup_free_ char *t = pathf("%s/root", dir), *tar = pathf("%s/root.tar", dir);
        static const struct member m[] = {
                { "./boot/initrd.img-6.1", AE_IFREG, "INITRD" },
                { "./boot/vmlinuz-6.1", AE_IFREG, "KERNEL" },
                { "./vmlinuz", AE_IFLNK, "boot/vmlinuz-6.1" },
                { "./initrd.img", AE_IFLNK, "boot/initrd.img-6.1" },
        };
        struct appliance_disk d = { .name = (char *) "root", .role = APPLIANCE_DISK_ROOT,
                                    .arch = xova_arch_by_name("x86_64") };

        make_root_sources(tar, t, m, ELEMENTSOF(m));
        for (int src = 0; src < 2; src++) {
                _cleanup_free_ char *k = pathf("%s/k-%d", dir, src), *i = pathf("%s/i-%d", dir, src);
                _cleanup_free_ char *k2 = pathf("%s/k2-%d", dir, src), *x = pathf("%s/x-%d", dir, src);
                const char *paths[3] = { "/vmlinuz", "/initrd.img", "/boot/vmlinuz-6.1" };
                const char *dests[3] = { k, i, k2 };
                const char *bad[2] = { "/vmlinuz", "/missing" }, *bad_dests[2] = { x, i };
                struct xerr e = { 0 };

                d.content = src ? APPLIANCE_CONTENT_DIRECTORY : APPLIANCE_CONTENT_TARBALL;
                d.source = src ? t : tar;
                assert_int_equal(appliance_root_extract_n(&d, 3, paths, dests, 1 << 20, &e), 0);
                assert_int_equal(run("printf KERNEL | cmp -s - '%s'", k), 0);
                assert_int_equal(run("printf INITRD | cmp -s - '%s'", i), 0);
                assert_int_equal(run("printf KERNEL | cmp -s - '%s'", k2), 0);
                assert_int_equal(appliance_root_extract_n(&d, 2, bad, bad_dests, 1 << 20, &e), -ENOENT);
                assert_non_null(strstr(e.msg, "missing"));
                assert_int_equal(access(x, F_OK), -1);  /* nothing created, nothing copied */
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_appliance_parse_full),
                cmocka_unit_test(test_appliance_parse_defaults),
                cmocka_unit_test(test_appliance_example_hello),
                cmocka_unit_test(test_appliance_parse_bad),
                cmocka_unit_test(test_appliance_parse_secure_boot),
                cmocka_unit_test(test_appliance_parse_bad_text),
                cmocka_unit_test(test_appliance_parse_limits),
                cmocka_unit_test_setup_teardown(test_appliance_load, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_root_extract_n, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_check_sources, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_fs_deterministic, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_ext4_super, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_fs_empty_and_bad_region, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_fs_image, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_fs_tarball, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_fs_tarball_implied_dirs, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_fs_tarball_hostile, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_fs_directory_special, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_appliance_root_extract, setup_tmpdir, teardown_tmpdir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
