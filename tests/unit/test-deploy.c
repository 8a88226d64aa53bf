/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for deploy --connect's decisions, no libvirt host needed: the
 * capabilities parser, the choice of VM definition and accelerator per
 * host (own arch, emulated arch, --arch, --accel, nothing runnable, a
 * missing machine type, a non-efi firmware), the domain XML (firmware
 * autoselection, metadata naming the volumes, hostile names escaped) and
 * how URIs are shown (no password, no query) and whether they are local.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "hv/deploy-internal.h"

static const char CAPS_X86[] =
        "<capabilities><host><cpu><arch>x86_64</arch></cpu></host>"
        "<guest><os_type>hvm</os_type><arch name='x86_64'><emulator>/usr/bin/qemu-system-x86_64</emulator>"
        "<machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine><machine>pc-q35-7.2</machine>"
        "<machine>bad,name</machine><domain type='qemu'/><domain type='kvm'/></arch></guest>"
        "<guest><os_type>hvm</os_type><arch name='aarch64'><emulator>/usr/bin/qemu-system-aarch64</emulator>"
        "<machine canonical='virt-7.2'>virt</machine><domain type='qemu'/></arch></guest>"
        "<guest><os_type>xen</os_type><arch name='riscv64'><emulator>/x</emulator></arch></guest>"
        "</capabilities>";

static const char CAPS_ARM_ONLY[] =
        "<capabilities><host><cpu><arch>aarch64</arch></cpu></host>"
        "<guest><os_type>hvm</os_type><arch name='aarch64'><emulator>/usr/bin/qemu-system-aarch64</emulator>"
        "<machine>virt</machine><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>";

static struct ovf_vm VMS[2];
static struct ovf_descriptor D = { .name = (char *) "hello", .version = (char *) "1.0", .vms = VMS, .n_vms = 2 };

static int setup(void **state)
{
        (void) state;
        VMS[0] = (struct ovf_vm) { .arch = xova_arch_by_name("x86_64"), .machine = (char *) "q35",
                                   .firmware = (char *) "efi", .vcpus = 1, .memory_mib = 512 };
        VMS[1] = (struct ovf_vm) { .arch = xova_arch_by_name("aarch64"), .machine = (char *) "virt",
                                   .firmware = (char *) "efi", .vcpus = 1, .memory_mib = 512 };
        return 0;
}

static void test_caps_parse(void **state)
{
        struct hv_lv_caps c = { 0 };
        struct xerr e = { 0 };
        char buf[256];

        (void) state;
        assert_int_equal(hv_lv_caps_parse(CAPS_X86, "h", &c, &e), 0);
        assert_string_equal(c.host_arch, "x86_64");
        assert_ptr_equal(c.host, xova_arch_by_name("x86_64"));
        assert_int_equal(c.n_guests, 2);        /* the xen riscv64 guest is not for us */
        assert_true(c.guests[0].kvm);
        assert_false(c.guests[1].kvm);
        assert_string_equal(c.guests[1].emulator, "/usr/bin/qemu-system-aarch64");
        /* "bad,name" never becomes a machine we could write */
        for (char **m = c.guests[0].machines; *m; m++)
                assert_null(strchr(*m, ','));
        hv_lv_caps_describe(&c, buf, sizeof(buf));
        assert_string_equal(buf, "x86_64 (kvm, qemu), aarch64 (qemu)");
        hv_lv_caps_clear(&c);
        assert_true(hv_lv_caps_parse("<not xml", "h", &c, &e) < 0);
        assert_string_equal(e.where, "h");
}

static void test_choose(void **state)
{
        struct hv_lv_caps c = { 0 };
        struct hv_lv_choice ch;
        struct xerr e = { 0 };

        (void) state;
        assert_int_equal(hv_lv_caps_parse(CAPS_X86, "h", &c, &e), 0);
        /* own arch; KVM offered and working */
        assert_int_equal(hv_lv_choose(&c, &D, NULL, HV_ACCEL_AUTO, true, NULL, "h", &ch, &e), 0);
        assert_ptr_equal(ch.vm, &VMS[0]);
        assert_int_equal(ch.accel, HV_ACCEL_KVM);
        assert_string_equal(ch.machine, "q35");
        /* offered but the local probe says broken: TCG, with a note */
        assert_int_equal(hv_lv_choose(&c, &D, NULL, HV_ACCEL_AUTO, false, "KVM internal error", "h", &ch, &e), 0);
        assert_int_equal(ch.accel, HV_ACCEL_TCG);
        assert_non_null(strstr(ch.note, "KVM internal error"));
        /* --arch aarch64: emulated */
        assert_int_equal(hv_lv_choose(&c, &D, "aarch64", HV_ACCEL_AUTO, true, NULL, "h", &ch, &e), 0);
        assert_ptr_equal(ch.vm, &VMS[1]);
        assert_int_equal(ch.accel, HV_ACCEL_TCG);
        /* --accel kvm for a foreign arch: refused */
        assert_true(hv_lv_choose(&c, &D, "aarch64", HV_ACCEL_KVM, true, NULL, "h", &ch, &e) < 0);
        /* --accel tcg on the own arch */
        assert_int_equal(hv_lv_choose(&c, &D, NULL, HV_ACCEL_TCG, true, NULL, "h", &ch, &e), 0);
        assert_int_equal(ch.accel, HV_ACCEL_TCG);
        /* a machine type the host does not list */
        VMS[0].machine = (char *) "pc-i440fx-9.9";
        assert_true(hv_lv_choose(&c, &D, NULL, HV_ACCEL_AUTO, true, NULL, "h", &ch, &e) < 0);
        assert_non_null(strstr(e.msg, "no machine type"));
        VMS[0].machine = (char *) "q35";
        /* a bios definition is refused as by run */
        VMS[0].firmware = (char *) "bios";
        assert_true(hv_lv_choose(&c, &D, NULL, HV_ACCEL_AUTO, true, NULL, "h", &ch, &e) < 0);
        assert_non_null(strstr(e.msg, "only efi"));
        VMS[0].firmware = (char *) "efi";
        hv_lv_caps_clear(&c);

        /* an arm host picks the aarch64 definition itself */
        assert_int_equal(hv_lv_caps_parse(CAPS_ARM_ONLY, "arm", &c, &e), 0);
        assert_int_equal(hv_lv_choose(&c, &D, NULL, HV_ACCEL_AUTO, true, NULL, "arm", &ch, &e), 0);
        assert_ptr_equal(ch.vm, &VMS[1]);
        assert_int_equal(ch.accel, HV_ACCEL_KVM);
        /* ... and cannot run --arch x86_64: the error says what it offers */
        assert_true(hv_lv_choose(&c, &D, "x86_64", HV_ACCEL_AUTO, true, NULL, "arm", &ch, &e) < 0);
        assert_string_equal(e.where, "arm");
        assert_non_null(strstr(e.msg, "aarch64 (kvm, qemu)"));
        /* a bundle with only x86_64: nothing runnable, a clear error */
        D.n_vms = 1;
        assert_true(hv_lv_choose(&c, &D, NULL, HV_ACCEL_AUTO, true, NULL, "arm", &ch, &e) < 0);
        assert_non_null(strstr(e.msg, "can run none"));
        D.n_vms = 2;
        hv_lv_caps_clear(&c);
}

static void test_domain_xml(void **state)
{
        struct hv_lv_caps c = { 0 };
        struct hv_lv_choice ch;
        struct xerr e = { 0 };
        struct hv_lv_volume v[2] = { { .disk = (char *) "boot", .name = (char *) "n-boot.qcow2",
                                       .path = (char *) "/p/n-boot.qcow2" },
                                     { .disk = (char *) "x\"<&", .name = (char *) "n-disk1.qcow2",
                                       .path = (char *) "/p/n-disk1.qcow2" } };
        _cleanup_free_ char *xml = NULL;
        char **pools = NULL, **names = NULL;
        size_t n = 0;

        (void) state;
        assert_int_equal(hv_lv_caps_parse(CAPS_X86, "h", &c, &e), 0);
        assert_int_equal(hv_lv_choose(&c, &D, NULL, HV_ACCEL_TCG, true, NULL, "h", &ch, &e), 0);
        D.description = (char *) "a <b> & \"c\"";
        struct hv_lv_domain x = { .name = "n", .d = &D, .ch = &ch, .pool = "p", .vols = v, .n_vols = 2,
                                  .console_log = "/var/log/libvirt/qemu/n-console.log" };
        assert_int_equal(hv_lv_domain_xml(&x, &xml, &e), 0);
        D.description = NULL;
        assert_non_null(strstr(xml, "<domain type=\"qemu\">"));
        assert_non_null(strstr(xml, "<os firmware=\"efi\">"));
        assert_non_null(strstr(xml, "<feature enabled=\"no\" name=\"secure-boot\"/>"));
        assert_non_null(strstr(xml, "<description>a &lt;b&gt; &amp; &quot;c&quot;</description>"));
        assert_non_null(strstr(xml, "disk=\"x&quot;&lt;&amp;\""));
        assert_non_null(strstr(xml, "<log file=\"/var/log/libvirt/qemu/n-console.log\""));
        assert_non_null(strstr(xml, "<driver name=\"qemu\" type=\"qcow2\"/>"));
        /* what undeploy reads back (libvirt returns it without the namespace) */
        assert_int_equal(hv_lv_domain_volumes("<deploy><volume pool='p' name='n-boot.qcow2'/>"
                                              "<volume pool='p' name='n-disk1.qcow2'/><volume name='x'/></deploy>",
                                              &pools, &names, &n, &e), 0);
        assert_int_equal(n, 2);
        assert_string_equal(names[1], "n-disk1.qcow2");
        for (size_t i = 0; i < n; i++) {
                free(pools[i]);
                free(names[i]);
        }
        free(pools);
        free(names);
        hv_lv_caps_clear(&c);
}

static void test_uri(void **state)
{
        char b[256];

        (void) state;
        hv_lv_uri_display("qemu+ssh://root:S3cret@host:22/system?keyfile=/k&no_verify=1", b, sizeof(b));
        assert_string_equal(b, "qemu+ssh://root@host:22/system");
        hv_lv_uri_display("qemu:///system", b, sizeof(b));
        assert_string_equal(b, "qemu:///system");
        hv_lv_uri_display("qemu+tls://u@h/system?pkipath=/x", b, sizeof(b));
        assert_string_equal(b, "qemu+tls://u@h/system");
        /* an '@' in the query is not userinfo */
        hv_lv_uri_display("qemu+ssh://h/system?a=b:c@d", b, sizeof(b));
        assert_string_equal(b, "qemu+ssh://h/system");
        assert_true(hv_lv_uri_local("qemu:///system"));
        assert_true(hv_lv_uri_local("qemu+ssh://root@127.0.0.1:2222/system"));
        assert_true(hv_lv_uri_local("qemu+ssh://localhost/system"));
        assert_false(hv_lv_uri_local("qemu+ssh://root@arm1.example/system"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_caps_parse, setup),
                cmocka_unit_test_setup(test_choose, setup),
                cmocka_unit_test_setup(test_domain_xml, setup),
                cmocka_unit_test_setup(test_uri, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
