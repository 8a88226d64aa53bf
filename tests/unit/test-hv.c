/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for hv/: firmware selection (the host's real descriptors and
 * generated ones), QEMU argv construction, the accelerator decision and
 * host detection.
 *
 * Also a small driver for integration tests on raw images (no bundle):
 *   test-hv boot ARCH MARKER TIMEOUT IMG...
 * boots the images with hv_run_vm() (env XOVA_ACCEL=auto|kvm|tcg,
 * XOVA_CONSOLE=1) and exits like `xova run`: 0, 4 timeout, 1 other, 130 signal.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"
#include <json-c/json.h>

#include "hv/hv-internal.h"

static void write_file(const char *dir, const char *name, const char *content)
{
        _cleanup_free_ char *p = xova_path_join(dir, name);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

static const struct xova_arch *X86(void) { return xova_arch_by_name("x86_64"); }
static const struct xova_arch *ARM(void) { return xova_arch_by_name("aarch64"); }

/* ---- firmware ------------------------------------------------------------ */

static void test_hv_firmware_real_descriptors(void **state)
{
        struct hv_firmware *fw = NULL;
        struct xerr e = { 0 };
        (void) state;

        if (access("/usr/share/qemu/firmware/60-edk2-x86_64.json", R_OK) != 0)
                skip();
        assert_int_equal(hv_firmware_find_in("/usr/share/qemu/firmware", X86(), "q35", false, &fw, &e), 0);
        assert_string_equal(fw->descriptor, "/usr/share/qemu/firmware/60-edk2-x86_64.json");
        assert_string_equal(fw->executable, "/usr/share/OVMF/OVMF_CODE_4M.fd");
        assert_string_equal(fw->nvram_template, "/usr/share/OVMF/OVMF_VARS_4M.fd");
        assert_string_equal(fw->executable_format, "raw");
        assert_false(fw->secure_boot);
        fw = hv_firmware_free(fw);

        assert_int_equal(hv_firmware_find_in("/usr/share/qemu/firmware", ARM(), "virt", false, &fw, &e), 0);
        assert_string_equal(fw->executable, "/usr/share/AAVMF/AAVMF_CODE.fd");
        assert_string_equal(fw->nvram_template, "/usr/share/AAVMF/AAVMF_VARS.fd");
        fw = hv_firmware_free(fw);

        /* secure boot asked: the lowest-numbered secure descriptor wins */
        assert_int_equal(hv_firmware_find_in("/usr/share/qemu/firmware", X86(), "pc-q35-7.2", true, &fw, &e), 0);
        assert_true(fw->secure_boot);
        assert_string_equal(fw->descriptor, "/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json");
        fw = hv_firmware_free(fw);

        /* public entry point reads the same dir unless XOVA_FIRMWARE_DIR says otherwise */
        unsetenv("XOVA_FIRMWARE_DIR");
        assert_int_equal(hv_firmware_find(X86(), "q35", false, &fw, &e), 0);
        hv_firmware_free(fw);
}

#define FW_FLASH(arch, machines, features) \
        "{ \"interface-types\": [\"uefi\"],\n" \
        "  \"mapping\": { \"device\": \"flash\",\n" \
        "    \"executable\": { \"filename\": \"/usr/share/OVMF/OVMF_CODE_4M.fd\", \"format\": \"raw\" },\n" \
        "    \"nvram-template\": { \"filename\": \"/usr/share/OVMF/OVMF_VARS_4M.fd\", \"format\": \"raw\" } },\n" \
        "  \"targets\": [ { \"architecture\": \"" arch "\", \"machines\": [" machines "] } ],\n" \
        "  \"features\": [" features "] }\n"

static void test_hv_firmware_secure_only(void **state)
{
        const char *dir = *state;
        struct hv_firmware *fw = NULL;
        struct xerr e = { 0 };

        write_file(dir, "10-secure.json", FW_FLASH("x86_64", "\"pc-q35-*\"", "\"secure-boot\", \"requires-smm\""));
        assert_int_equal(hv_firmware_find_in(dir, X86(), "q35", false, &fw, &e), -ENOENT);
        assert_null(fw);
        assert_non_null(strstr(e.msg, "10-secure.json: secure boot"));
        /* a bundle that needs Secure Boot needs keys in db too: an empty-db
         * "secure" descriptor is not enough */
        assert_int_equal(hv_firmware_find_in(dir, X86(), "q35", true, &fw, &e), -ENOENT);
        assert_null(fw);
        assert_non_null(strstr(e.msg, "10-secure.json: no enrolled keys"));
        write_file(dir, "20-enrolled.json", FW_FLASH("x86_64", "\"pc-q35-*\"",
                                                     "\"secure-boot\", \"enrolled-keys\", \"requires-smm\""));
        assert_int_equal(hv_firmware_find_in(dir, X86(), "q35", true, &fw, &e), 0);
        assert_true(fw->secure_boot);
        assert_true(fw->enrolled_keys);
        assert_true(fw->requires_smm);
        assert_non_null(strstr(fw->descriptor, "20-enrolled.json"));
        hv_firmware_free(fw);
}

static void test_hv_firmware_wrong_arch_and_order(void **state)
{
        const char *dir = *state;
        struct hv_firmware *fw = NULL;
        struct xerr e = { 0 };

        write_file(dir, "20-arm.json", FW_FLASH("aarch64", "\"virt-*\"", ""));
        assert_int_equal(hv_firmware_find_in(dir, X86(), "q35", false, &fw, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "no target x86_64/q35"));
        /* i440fx-only descriptor does not serve q35 */
        write_file(dir, "30-i440fx.json", FW_FLASH("x86_64", "\"pc-i440fx-*\"", ""));
        assert_int_equal(hv_firmware_find_in(dir, X86(), "q35", false, &fw, &e), -ENOENT);
        /* two that fit: the lower file name wins */
        write_file(dir, "50-b.json", FW_FLASH("x86_64", "\"pc-q35-*\"", ""));
        write_file(dir, "40-a.json", FW_FLASH("x86_64", "\"pc-i440fx-*\", \"pc-q35-*\"", ""));
        assert_int_equal(hv_firmware_find_in(dir, X86(), "q35", false, &fw, &e), 0);
        assert_non_null(strstr(fw->descriptor, "/40-a.json"));
        hv_firmware_free(fw);
}

static void test_hv_firmware_memory_mapping(void **state)
{
        const char *dir = *state;
        struct hv_firmware *fw = NULL;
        struct xerr e = { 0 };

        write_file(dir, "60-mem.json",
                   "{ \"interface-types\": [\"uefi\"],\n"
                   "  \"mapping\": { \"device\": \"memory\", \"filename\": \"/usr/share/qemu-efi-aarch64/QEMU_EFI.fd\" },\n"
                   "  \"targets\": [ { \"architecture\": \"aarch64\", \"machines\": [\"virt-*\"] } ],\n"
                   "  \"features\": [] }\n");
        if (access("/usr/share/qemu-efi-aarch64/QEMU_EFI.fd", R_OK) != 0)
                skip();
        assert_int_equal(hv_firmware_find_in(dir, ARM(), "virt", false, &fw, &e), 0);
        assert_string_equal(fw->executable, "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd");
        assert_null(fw->nvram_template);
        hv_firmware_free(fw);
}

static void test_hv_firmware_garbage_json(void **state)
{
        const char *dir = *state;
        struct hv_firmware *fw = NULL;
        struct xerr e = { 0 };

        write_file(dir, "05-broken.json", "{ \"interface-types\": [\"uefi\", ");
        write_file(dir, "60-ok.json", FW_FLASH("x86_64", "\"pc-q35-*\"", ""));
        assert_int_equal(hv_firmware_find_in(dir, X86(), "q35", false, &fw, &e), -EINVAL);
        assert_null(fw);
        assert_non_null(strstr(e.where, "05-broken.json"));
        assert_non_null(strstr(e.msg, "not a valid firmware descriptor"));
        assert_int_equal(hv_firmware_find_in("/nonexistent/fw", X86(), "q35", false, &fw, &e), -ENOENT);
}

static void test_hv_machine_matches(void **state)
{
        (void) state;
        assert_true(hv_machine_matches("pc-q35-*", "q35"));
        assert_true(hv_machine_matches("pc-q35-*", "pc-q35-7.2"));
        assert_false(hv_machine_matches("pc-i440fx-*", "q35"));
        assert_true(hv_machine_matches("virt-*", "virt"));
        assert_true(hv_machine_matches("virt-*", "virt-7.2"));
        assert_false(hv_machine_matches("virt-*", "q35"));
        assert_true(hv_machine_name_valid("pc-q35-7.2"));
        assert_false(hv_machine_name_valid("q35,kernel=/etc/passwd"));
        assert_false(hv_machine_name_valid(""));
}

/* ---- argv ------------------------------------------------------------------- */

/* every object with a "file" or "backing" child names its driver, recursively */
static void assert_all_drivers(json_object *o)
{
        json_object *v;
        assert_true(json_object_object_get_ex(o, "driver", &v));
        assert_true(json_object_is_type(v, json_type_string));
        if (json_object_object_get_ex(o, "file", &v))
                assert_all_drivers(v);
        if (json_object_object_get_ex(o, "backing", &v))
                assert_all_drivers(v);
}

static const char *find_filename(json_object *o)
{
        json_object *v;
        while (json_object_object_get_ex(o, "backing", &v) || json_object_object_get_ex(o, "file", &v))
                o = v;
        return json_object_object_get_ex(o, "filename", &v) ? json_object_get_string(v) : NULL;
}

static void test_hv_argv_blockdev(void **state)
{
        static const char bundle[] = "/tmp/we,ird\"name ,file.driver=ssh.ova";
        struct hv_firmware fw = {
                .descriptor = (char *) "x.json", .executable = (char *) "/fw/CODE,1.fd",
                .executable_format = (char *) "raw", .nvram_template = (char *) "/fw/VARS.fd",
                .nvram_format = (char *) "raw",
        };
        struct hv_disk disks[2] = {
                { .id = "boot", .file = bundle, .fd = -1, .offset = 1536, .size = 4096,
                  .format = OVF_DISK_VMDK_STREAM, .capacity = 1 << 20 },
                { .id = "data", .file = bundle, .fd = -1, .offset = 8192, .size = 512, .format = OVF_DISK_RAW },
        };
        const char *overlays[] = { "/run/d0.qcow2", "/run/d1.qcow2" };
        struct hv_qemu_config c = {
                .arch = X86(), .accel = HV_ACCEL_TCG, .machine = "q35", .vcpus = 2, .memory_mib = 512,
                .fw = &fw, .fw_vars = "/run/vars.fd", .disks = disks, .overlays = overlays, .n_disks = 2,
                .nic = true,
        };
        char **argv = NULL;
        struct xerr e = { 0 };
        int n_blockdev = 0, n_bundle = 0;
        bool cpu_max = false, machine_ok = false, bootindex = false;
        (void) state;

        assert_int_equal(hv_qemu_argv(&c, &argv, &e), 0);
        assert_string_equal(argv[0], "qemu-system-x86_64");
        for (char **a = argv; *a; a++) {
                if (strcmp(*a, "-cpu") == 0 && a[1] && strcmp(a[1], "max") == 0)
                        cpu_max = true;
                if (strcmp(*a, "-machine") == 0 && a[1] &&
                    strcmp(a[1], "q35,accel=tcg,pflash0=fw-code,pflash1=fw-vars") == 0)
                        machine_ok = true;
                if (strstr(*a, "drive=disk0,bootindex=0"))
                        bootindex = true;
                /* never the -drive/format-probing way, never a format= guess */
                assert_string_not_equal(*a, "-drive");
                assert_null(strstr(*a, "if=pflash"));
                if (strstr(*a, "we,ird"))
                        n_bundle++;
                if (strcmp(*a, "-blockdev") == 0) {
                        json_object *o;
                        assert_non_null(a[1]);
                        assert_int_equal(a[1][0], '{');
                        o = json_tokener_parse(a[1]);
                        assert_non_null(o);
                        assert_all_drivers(o);
                        if (strstr(a[1], "we,ird"))
                                assert_string_equal(find_filename(o), bundle);
                        json_object_put(o);
                        n_blockdev++;
                }
        }
        assert_true(cpu_max);
        assert_true(machine_ok);
        assert_true(bootindex);
        assert_int_equal(n_blockdev, 4);        /* code, vars, two disks */
        assert_int_equal(n_bundle, 2);          /* the name is inside one JSON element per disk */
        argv = hv_argv_free(argv);

        c.accel = HV_ACCEL_KVM;
        assert_int_equal(hv_qemu_argv(&c, &argv, &e), 0);
        for (char **a = argv; *a; a++)
                if (strcmp(*a, "-cpu") == 0)
                        assert_string_equal(a[1], "host");
        argv = hv_argv_free(argv);

        c.machine = "q35,kernel=/etc/passwd";
        assert_int_equal(hv_qemu_argv(&c, &argv, &e), -EINVAL);
        assert_null(argv);
}

/* Secure Boot firmware that requires SMM (x86 *.ms.fd): q35 with smm=on and
 * the vars flash writable from SMM only; without the feature neither. */
static void test_hv_argv_secure_boot_smm(void **state)
{
        struct hv_firmware fw = {
                .descriptor = (char *) "40-secure-enrolled.json", .executable = (char *) "/fw/CODE.ms.fd",
                .executable_format = (char *) "raw", .nvram_template = (char *) "/fw/VARS.ms.fd",
                .nvram_format = (char *) "raw", .secure_boot = true, .enrolled_keys = true,
                .requires_smm = true,
        };
        struct hv_disk disk = { .id = "boot", .file = "/b.ova", .fd = -1, .offset = 512, .size = 4096,
                                .format = OVF_DISK_RAW };
        const char *overlays[] = { "/run/d0.qcow2" };
        struct hv_qemu_config c = {
                .arch = X86(), .accel = HV_ACCEL_TCG, .machine = "q35", .vcpus = 1, .memory_mib = 512,
                .fw = &fw, .fw_vars = "/run/vars.fd", .disks = &disk, .overlays = overlays, .n_disks = 1,
        };
        char **argv = NULL;
        struct xerr e = { 0 };
        bool machine_smm = false, pflash_secure = false;
        (void) state;

        assert_int_equal(hv_qemu_argv(&c, &argv, &e), 0);
        for (char **a = argv; *a; a++) {
                if (strcmp(*a, "-machine") == 0 && a[1] &&
                    strcmp(a[1], "q35,accel=tcg,pflash0=fw-code,pflash1=fw-vars,smm=on") == 0)
                        machine_smm = true;
                if (strcmp(*a, "-global") == 0 && a[1] &&
                    strcmp(a[1], "driver=cfi.pflash01,property=secure,value=on") == 0)
                        pflash_secure = true;
        }
        assert_true(machine_smm);
        assert_true(pflash_secure);
        argv = hv_argv_free(argv);

        fw.requires_smm = false;
        assert_int_equal(hv_qemu_argv(&c, &argv, &e), 0);
        for (char **a = argv; *a; a++) {
                assert_null(strstr(*a, "smm=on"));
                assert_string_not_equal(*a, "-global");
        }
        argv = hv_argv_free(argv);
}

/* --forward: the parser takes [ADDR:]HOSTPORT:GUESTPORT and names what is
 * wrong; the argv has one hostfwd= per forward on the NIC's netdev; a host
 * port somebody listens on fails before QEMU starts. */
static void test_hv_forward(void **state)
{
        static const char *const bad[] = {
                "", "80", "8080:", ":80", "0:80", "8080:0", "65536:80", "8080:80x", "-1:80", "+80:80",
                "localhost:8080:80", "1.2.3:8080:80", "::1:8080:80", "1.2.3.4:5:6:7", "8080 :80",
        };
        struct hv_disk disk = { .id = "boot", .file = "/b.ova", .fd = -1, .format = OVF_DISK_RAW };
        const char *overlays[] = { "/run/d0.qcow2" };
        struct hv_forward f[3];
        struct hv_qemu_config c = {
                .arch = X86(), .accel = HV_ACCEL_TCG, .machine = "q35", .memory_mib = 512,
                .disks = &disk, .overlays = overlays, .n_disks = 1, .nic = true,
                .forwards = f, .n_forwards = 2,
        };
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        char **argv = NULL;
        struct xerr e = { 0 };
        int n_netdev = 0, fd;
        (void) state;

        assert_int_equal(hv_forward_parse("8080:80", &f[0], &e), 0);
        assert_string_equal(f[0].addr, "127.0.0.1");
        assert_int_equal(f[0].host_port, 8080);
        assert_int_equal(f[0].guest_port, 80);
        assert_int_equal(hv_forward_parse("0.0.0.0:65535:1", &f[1], &e), 0);
        assert_string_equal(f[1].addr, "0.0.0.0");
        assert_int_equal(f[1].host_port, 65535);
        assert_int_equal(f[1].guest_port, 1);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&e, 0, sizeof(e));
                f[2].host_port = 7;
                assert_int_equal(hv_forward_parse(bad[i], &f[2], &e), -EINVAL);
                assert_int_equal(f[2].host_port, 7);    /* untouched on failure */
                assert_string_equal(e.where, "--forward");
                assert_non_null(strstr(e.msg, bad[i]));  /* the message names the value */
        }

        assert_int_equal(hv_qemu_argv(&c, &argv, &e), 0);
        for (char **a = argv; *a; a++)
                if (strcmp(*a, "-netdev") == 0) {
                        assert_string_equal(a[1], "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,"
                                            "hostfwd=tcp:0.0.0.0:65535-:1");
                        n_netdev++;
                }
        assert_int_equal(n_netdev, 1);
        argv = hv_argv_free(argv);
        c.nic = false;                  /* a forward without a NIC is refused */
        assert_int_equal(hv_qemu_argv(&c, &argv, &e), -EINVAL);
        assert_null(argv);

        /* a port in use (a listener of ours on an ephemeral port) */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        f[0] = (struct hv_forward) { .addr = "127.0.0.1", .host_port = ntohs(sa.sin_port), .guest_port = 80 };
        memset(&e, 0, sizeof(e));
        assert_int_equal(hv_forward_check(f, 1, &e), -EADDRINUSE);
        assert_non_null(strstr(e.msg, "127.0.0.1:"));
        close(fd);
        /* free now: bound and released again, so QEMU can take it */
        assert_int_equal(hv_forward_check(f, 1, &e), 0);
        assert_int_equal(hv_forward_check(f, 1, &e), 0);
        /* the same host port twice, also through 0.0.0.0 */
        f[1] = f[0];
        f[1].guest_port = 22;
        assert_int_equal(hv_forward_check(f, 2, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "twice"));
        snprintf(f[1].addr, sizeof(f[1].addr), "0.0.0.0");
        assert_int_equal(hv_forward_check(f, 2, &e), -EINVAL);
        assert_int_equal(hv_forward_check(f, 0, &e), 0);
}

static void test_hv_disk_json_read_only(void **state)
{
        struct hv_disk d = { .file = "/b.ova", .fd = -1, .offset = 512, .size = 1024, .format = OVF_DISK_VMDK_STREAM };
        json_object *o = hv_blockdev_overlay(&d, "/run/o.qcow2", "disk0");
        (void) state;

        assert_non_null(o);
        assert_string_equal(hv_json_text(o),
                "{\"driver\":\"qcow2\",\"node-name\":\"disk0\",\"discard\":\"unmap\","
                "\"file\":{\"driver\":\"file\",\"filename\":\"/run/o.qcow2\"},"
                "\"backing\":{\"driver\":\"vmdk\",\"read-only\":true,\"file\":{\"driver\":\"raw\",\"read-only\":true,"
                "\"offset\":512,\"size\":1024,\"file\":{\"driver\":\"file\",\"filename\":\"/b.ova\",\"read-only\":true}}}}");
        json_object_put(o);
}

/* What boots is what was verified: with a verified fd the file node opens
 * /proc/self/fd/N (QEMU inherits N) or /proc/HOLDER/fd/N, never the path;
 * a zero-initialised fd (stdin) is refused, not taken for a disk. */
static void test_hv_blockdev_verified_fd(void **state)
{
        struct hv_disk d = { .file = "/b.ova", .fd = 7, .offset = 512, .size = 1024, .format = OVF_DISK_RAW };
        json_object *o;
        char buf[64];
        (void) state;

        o = hv_blockdev_source(&d, 0);
        assert_non_null(o);
        assert_string_equal(hv_json_text(o), "{\"driver\":\"raw\",\"read-only\":true,\"offset\":512,\"size\":1024,"
                            "\"file\":{\"driver\":\"file\",\"filename\":\"/proc/self/fd/7\",\"read-only\":true}}");
        json_object_put(o);
        assert_int_equal(hv_disk_filename(&d, 4242, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/proc/4242/fd/7");
        d.fd = 0;
        assert_null(hv_blockdev_source(&d, 0));
        assert_null(hv_blockdev_overlay(&d, "/run/o.qcow2", "disk0"));
}

/* The in-place node: explicit drivers at every level, read-only, and a
 * hostile file name stays one JSON string (no keyval injection). */
static void test_hv_blockdev_source_node(void **state)
{
        static const char evil[] = "/x\",b,file.driver=ssh\\y";
        struct hv_disk raw = { .file = "/d.raw", .fd = -1, .format = OVF_DISK_RAW };
        struct hv_disk vmdk = { .file = evil, .fd = -1, .offset = 1024, .size = 4096, .format = OVF_DISK_VMDK_STREAM };
        json_object *o;
        (void) state;

        o = hv_blockdev_source(&raw, 0);
        assert_non_null(o);
        assert_string_equal(hv_json_text(o), "{\"driver\":\"raw\",\"read-only\":true,"
                            "\"file\":{\"driver\":\"file\",\"filename\":\"/d.raw\",\"read-only\":true}}");
        json_object_put(o);
        o = hv_blockdev_source(&vmdk, 0);
        assert_non_null(o);
        assert_string_equal(hv_json_text(o), "{\"driver\":\"vmdk\",\"read-only\":true,\"file\":{\"driver\":\"raw\","
                            "\"read-only\":true,\"offset\":1024,\"size\":4096,\"file\":{\"driver\":\"file\","
                            "\"filename\":\"/x\\\",b,file.driver=ssh\\\\y\",\"read-only\":true}}}");
        json_object_put(o);
}

static uint64_t be64_at(const uint8_t *p)
{
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

/* Overlays made at once: each is a qcow2 of its own capacity, the backed
 * ones name their backing (json: node or a file name, format given); one
 * is written into an fd we created (qemu-img gets /proc/self/fd/N); a
 * failure names the disk. */
static void test_hv_overlays_create(void **state)
{
        const char *dir = *state;
        struct hv_disk range = { .file = "/b.ova", .fd = -1, .offset = 512, .size = 8192, .format = OVF_DISK_VMDK_STREAM };
        _cleanup_free_ char *p0 = xova_path_join(dir, "o0.qcow2"), *p1 = xova_path_join(dir, "o1.qcow2"),
                            *p2 = xova_path_join(dir, "o2.qcow2"), *p3 = xova_path_join(dir, "o3.qcow2"),
                            *missing = xova_path_join(dir, "no/such/dir/o.qcow2");
        char *p[4] = { p0, p1, p2, p3 };
        int fd3 = open(p3, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        struct hv_overlay v[4] = {
                { .id = "boot", .path = p[0], .fd = -1, .capacity = 1 << 20 },
                { .id = "root", .path = p[1], .fd = -1, .capacity = 3 << 20 },
                { .id = "data", .path = p[2], .fd = -1, .capacity = 64 << 20, .backing = &range },
                { .id = "copy", .path = p[3], .fd = fd3, .capacity = 2 << 20, .backing_file = "/disks/copy.vmdk",
                  .backing_format = OVF_DISK_VMDK_STREAM },
        };
        const uint64_t want[4] = { 1 << 20, 3 << 20, 64 << 20, 2 << 20 };
        struct xerr e = { 0 };

        assert_true(fd3 >= 0);
        assert_int_equal(hv_overlays_create(v, 4, &e), 0);
        for (int i = 0; i < 4; i++) {
                uint8_t h[4096];
                int fd = open(p[i], O_RDONLY | O_CLOEXEC);
                uint64_t boff;

                assert_true(fd >= 0);
                assert_int_equal(xova_pread_all(fd, h, sizeof(h), 0), 0);
                close(fd);
                assert_memory_equal(h, "QFI\xfb", 4);
                assert_int_equal(be64_at(h + 24), want[i]);
                boff = be64_at(h + 8);
                if (i < 2) {
                        assert_int_equal(boff, 0);
                        continue;
                }
                /* backing file name: offset (u64) and length (u32) in the header */
                assert_true(boff > 0 && boff < sizeof(h));
                if (i == 3) {
                        assert_memory_equal(h + boff, "/disks/copy.vmdk", 16);
                        continue;
                }
                assert_true(strncmp((const char *) h + boff, "json:{\"driver\":\"vmdk\"", 21) == 0);
                assert_non_null(memmem(h + boff, sizeof(h) - boff, "\"offset\":512,\"size\":8192",
                                       strlen("\"offset\":512,\"size\":8192")));
        }
        close(fd3);
        v[3].fd = -1;
        v[1].path = missing;
        assert_true(hv_overlays_create(v, 3, &e) < 0);
        assert_non_null(strstr(e.msg, "disk 'root'"));
}

/* The one firmware decision of run and deploy: efi (or unset) passes to
 * the firmware search, anything else is refused by name. */
static void test_hv_vm_firmware_decision(void **state)
{
        struct ovf_vm vm = { .arch = X86(), .firmware = (char *) "bios" };
        struct hv_firmware *fw = NULL;
        struct xerr e = { 0 };
        (void) state;

        assert_int_equal(hv_vm_firmware(&vm, "q35", &fw, &e), -ENOTSUP);
        assert_null(fw);
        assert_non_null(strstr(e.msg, "firmware 'bios' is not supported"));
        vm.firmware = (char *) "efi";
        if (access("/usr/share/qemu/firmware/60-edk2-x86_64.json", R_OK) != 0)
                return;
        assert_int_equal(hv_vm_firmware(&vm, "q35", &fw, &e), 0);
        assert_non_null(fw);
        assert_false(fw->secure_boot);
        fw = hv_firmware_free(fw);
        /* the descriptor says the VM needs Secure Boot: keys-enrolled firmware, SMM on x86 */
        vm.secure_boot = true;
        if (access("/usr/share/qemu/firmware/40-edk2-x86_64-secure-enrolled.json", R_OK) != 0)
                return;
        assert_int_equal(hv_vm_firmware(&vm, "q35", &fw, &e), 0);
        assert_true(fw->secure_boot);
        assert_true(fw->enrolled_keys);
        assert_true(fw->requires_smm);
        hv_firmware_free(fw);
}

/* ---- accelerator and host ---------------------------------------------------- */

static void test_hv_accel_choice(void **state)
{
        struct hv_host broken = { .arch = X86(), .kvm_usable = false, .kvm_reason = "probe failed" };
        struct hv_host good = { .arch = X86(), .kvm_usable = true };
        enum hv_accel a;
        char note[256];
        struct xerr e = { 0 };
        (void) state;

        assert_int_equal(hv_accel_choose(HV_ACCEL_AUTO, ARM(), &broken, &a, note, sizeof(note), &e), 0);
        assert_int_equal(a, HV_ACCEL_TCG);
        assert_string_equal(note, "emulating aarch64 with TCG (host is x86_64)");
        assert_int_equal(hv_accel_choose(HV_ACCEL_AUTO, X86(), &broken, &a, note, sizeof(note), &e), 0);
        assert_int_equal(a, HV_ACCEL_TCG);
        assert_string_equal(note, "KVM unusable: probe failed; using TCG");
        assert_int_equal(hv_accel_choose(HV_ACCEL_AUTO, X86(), &good, &a, note, sizeof(note), &e), 0);
        assert_int_equal(a, HV_ACCEL_KVM);
        assert_string_equal(note, "");
        assert_int_equal(hv_accel_choose(HV_ACCEL_AUTO, ARM(), &good, &a, note, sizeof(note), &e), 0);
        assert_int_equal(a, HV_ACCEL_TCG);
        assert_int_equal(hv_accel_choose(HV_ACCEL_KVM, ARM(), &good, &a, note, sizeof(note), &e), -ENOTSUP);
        assert_int_equal(hv_accel_choose(HV_ACCEL_TCG, X86(), &good, &a, note, sizeof(note), &e), 0);
        assert_int_equal(a, HV_ACCEL_TCG);

        assert_int_equal(hv_accel_from_name("auto", &a), 0);
        assert_int_equal(a, HV_ACCEL_AUTO);
        assert_int_equal(hv_accel_from_name("kvm", &a), 0);
        assert_int_equal(a, HV_ACCEL_KVM);
        assert_int_equal(hv_accel_from_name("xen", &a), -EINVAL);
        assert_string_equal(hv_accel_name(HV_ACCEL_TCG), "tcg");
}

static void test_hv_host_detect_bounded(void **state)
{
        struct hv_host h;
        struct xerr e = { 0 };
        uint64_t t0 = hv_now_ms();
        (void) state;

        assert_int_equal(hv_host_detect(true, &h, &e), 0);
        assert_true(hv_now_ms() - t0 < 12000);
        assert_non_null(h.arch);
        if (getenv("XOVA_TEST_KVM_BROKEN")) {
                /* this project's CI host: /dev/kvm exists but QEMU cannot use it */
                assert_false(h.kvm_usable);
                assert_true(h.kvm_reason[0] != '\0');
        }
        if (!h.kvm_usable)
                print_message("kvm unusable: %s\n", h.kvm_reason);

        assert_int_equal(hv_host_detect(false, &h, &e), 0);
        assert_false(h.kvm_usable);
        assert_string_equal(h.kvm_reason, "not probed");
}

/* the probe guests themselves work: under TCG both power off as expected */
static void test_hv_probe_guests_tcg(void **state)
{
        char reason[256] = "";
        (void) state;

        if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0 || access("/usr/bin/qemu-system-aarch64", X_OK) != 0)
                skip();
        assert_int_equal(hv_probe_qemu(X86(), HV_ACCEL_TCG, 10000, reason, sizeof(reason)), 0);
        assert_int_equal(hv_probe_qemu(ARM(), HV_ACCEL_TCG, 10000, reason, sizeof(reason)), 0);
}

/* ---- raw boot driver for integration tests ---------------------------------------- */

static void boot_note(void *ud, const char *msg)
{
        (void) ud;
        fprintf(stderr, "test-hv: %s\n", msg);
}

static int boot_main(int argc, char **argv)
{
        struct hv_run_opts o = { .note = boot_note };
        struct ovf_vm vm = { .vcpus = 1, .memory_mib = 512, .nic_model = (char *) "virtio" };
        struct hv_disk *disks;
        struct xerr e = { 0 };
        uint64_t t;
        char buf[1024];
        int r;

        if (argc < 6) {
                fprintf(stderr, "usage: test-hv boot ARCH MARKER TIMEOUT IMG...\n");
                return 2;
        }
        vm.arch = xova_arch_by_name(argv[2]);
        if (!vm.arch || xova_parse_u64(argv[4], &t) < 0)
                return 2;
        o.expect = argv[3];
        o.timeout = (unsigned) t;
        o.console = getenv("XOVA_CONSOLE") != NULL;
        o.keep = getenv("XOVA_KEEP") != NULL;
        if (getenv("XOVA_ACCEL") && hv_accel_from_name(getenv("XOVA_ACCEL"), &o.accel) < 0)
                return 2;
        disks = calloc((size_t) argc, sizeof(*disks));
        for (int i = 5; i < argc; i++) {
                disks[i - 5] = (struct hv_disk) { .id = argv[i], .file = argv[i], .fd = -1, .format = OVF_DISK_RAW };
                vm.n_disks++;
        }
        r = hv_run_vm(&vm, disks, vm.n_disks, &o, &e);
        free(disks);
        if (r < 0) {
                fprintf(stderr, "test-hv: error: %s\n", xerr_format(&e, buf, sizeof(buf)));
                return r == -EINTR ? 130 : xerr_exit_code(r);
        }
        return 0;
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hv_firmware_real_descriptors),
                cmocka_unit_test_setup_teardown(test_hv_firmware_secure_only, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_hv_firmware_wrong_arch_and_order, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_hv_firmware_memory_mapping, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test_setup_teardown(test_hv_firmware_garbage_json, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test(test_hv_machine_matches),
                cmocka_unit_test(test_hv_argv_blockdev),
                cmocka_unit_test(test_hv_argv_secure_boot_smm),
                cmocka_unit_test(test_hv_forward),
                cmocka_unit_test(test_hv_disk_json_read_only),
                cmocka_unit_test(test_hv_blockdev_verified_fd),
                cmocka_unit_test(test_hv_blockdev_source_node),
                cmocka_unit_test_setup_teardown(test_hv_overlays_create, setup_tmpdir, teardown_tmpdir),
                cmocka_unit_test(test_hv_vm_firmware_decision),
                cmocka_unit_test(test_hv_accel_choice),
                cmocka_unit_test(test_hv_host_detect_bounded),
                cmocka_unit_test(test_hv_probe_guests_tcg),
        };

        if (argc > 1 && strcmp(argv[1], "boot") == 0)
                return boot_main(argc, argv);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
