/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ovf/: descriptor round trip and hardening, manifest,
 * certificate, OVA/OVF-directory export, terminal-safe messages. The OVA
 * reader against hostile tar archives is in test-ovf-tar.c; the helpers
 * both share are in ovf-fixture.c.
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

/* ---- fixtures ------------------------------------------------------------ */

/* ---- descriptor ---------------------------------------------------------- */

static void test_ovf_descriptor_roundtrip(void **state)
{
        struct fx *f = *state;
        struct ovf_descriptor *d = NULL;
        struct xerr e = { 0 };
        size_t len, len2;
        char *xml = write_xml(f, &len), *xml2 = NULL;

        assert_int_equal(ovf_descriptor_parse(xml, len, "t.ovf", &d, &e), 0);
        assert_string_equal(d->name, "hello");
        assert_string_equal(d->version, f->d.version);
        assert_string_equal(d->vendor, f->d.vendor);
        assert_string_equal(d->description, f->d.description);
        assert_int_equal(d->n_disks, 4);
        for (size_t i = 0; i < 4; i++) {
                assert_string_equal(d->disks[i].id, f->disks[i].id);
                assert_string_equal(d->disks[i].href, f->disks[i].href);
                assert_string_equal(d->disks[i].role, f->disks[i].role);
                assert_ptr_equal(d->disks[i].arch, f->disks[i].arch);
                assert_true(d->disks[i].capacity == f->disks[i].capacity);
                assert_true(d->disks[i].populated == f->disks[i].populated);
                assert_true(d->disks[i].file_size == f->disks[i].file_size);
                assert_int_equal(d->disks[i].format, OVF_DISK_RAW);
        }
        assert_int_equal(d->n_vms, 2);
        for (size_t i = 0; i < 2; i++) {
                const struct ovf_vm *v = ovf_descriptor_vm(d, xova_arch_table[i].name);
                assert_non_null(v);
                assert_ptr_equal(v, &d->vms[i]);
                assert_int_equal(v->vcpus, f->vms[i].vcpus);
                assert_true(v->memory_mib == f->vms[i].memory_mib);
                assert_string_equal(v->machine, f->vms[i].machine);
                assert_string_equal(v->firmware, "efi");
                assert_string_equal(v->disk_bus, "virtio");
                if (i == 0)
                        assert_string_equal(v->nic_model, "virtio");
                else
                        assert_null(v->nic_model);
                assert_string_equal(v->console, "serial");
                assert_int_equal(v->n_disks, 3);
                for (size_t j = 0; j < 3; j++)
                        assert_int_equal(v->disks[j], f->att[i][j]);
        }
        /* writing what was read gives the same bytes */
        assert_int_equal(ovf_descriptor_write(d, &xml2, &len2, &e), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(xml, xml2, len);
        ovf_descriptor_free(d);
        free(xml);
        free(xml2);
}

/* A configuration that needs Secure Boot: xova:SecureBoot per
 * configuration and VMware's efiSecureBootEnabled, read back; absent when off. */
static void test_ovf_descriptor_secure_boot(void **state)
{
        struct fx *f = *state;
        struct ovf_descriptor *d = NULL;
        struct xerr e = { 0 };
        size_t len, len2;
        char *off = write_xml(f, &len), *xml, *xml2 = NULL, *bad;

        assert_null(strstr(off, "SecureBoot"));
        assert_int_equal(ovf_descriptor_parse(off, len, "t.ovf", &d, &e), 0);
        assert_false(d->vms[0].secure_boot);
        ovf_descriptor_free(d);
        free(off);

        f->vms[0].secure_boot = f->vms[1].secure_boot = true;
        xml = write_xml(f, &len);
        assert_non_null(strstr(xml, "<xova:SecureBoot ovf:required=\"false\">true</xova:SecureBoot>"));
        assert_non_null(strstr(xml, "vmw:key=\"bootOptions.efiSecureBootEnabled\" vmw:value=\"true\""));
        assert_int_equal(ovf_descriptor_parse(xml, len, "t.ovf", &d, &e), 0);
        assert_true(d->vms[0].secure_boot);
        assert_true(d->vms[1].secure_boot);
        assert_int_equal(ovf_descriptor_write(d, &xml2, &len2, &e), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(xml, xml2, len);
        ovf_descriptor_free(d);
        d = NULL;
        /* anything but true/false is refused, naming the element */
        bad = strdup(xml);
        assert_non_null(bad);
        memcpy(strstr(bad, ">true</xova:SecureBoot>"), ">yes!", 5);
        assert_int_equal(ovf_descriptor_parse(bad, len, "t.ovf", &d, &e), -EBADMSG);
        assert_null(d);
        assert_non_null(strstr(e.msg, "expected true or false"));
        free(bad);
        free(xml);
        free(xml2);
}

static void test_ovf_descriptor_xmllint(void **state)
{
        struct fx *f = *state;
        size_t len;
        char *xml = write_xml(f, &len), *p = path_in(f, "t.ovf"), *cmd = NULL, *out;

        write_file(p, xml, len);
        assert_true(asprintf(&cmd, "xmllint --noout '%s'", p) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        /* one Configuration per arch */
        assert_true(asprintf(&cmd, "xmllint --xpath \"count(//*[local-name()='Configuration'])\" '%s'", p) > 0);
        out = run_out(cmd);
        assert_string_equal(out, "2");
        free(out);
        free(cmd);
        /* each arch's disk items: boot, its root, data */
        for (size_t i = 0; i < 2; i++) {
                assert_true(asprintf(&cmd, "xmllint --xpath \"count(//*[local-name()='Item']"
                                     "[@*[local-name()='configuration']='%s'][*[local-name()='ResourceType']='17'])\" '%s'",
                                     xova_arch_table[i].name, p) > 0);
                out = run_out(cmd);
                assert_string_equal(out, "3");
                free(out);
                free(cmd);
                assert_true(asprintf(&cmd, "xmllint --xpath \"string(//*[local-name()='Item']"
                                     "[@*[local-name()='configuration']='%s'][*[local-name()='ResourceType']='17']"
                                     "[*[local-name()='AddressOnParent']='1']/*[local-name()='HostResource'])\" '%s'",
                                     xova_arch_table[i].name, p) > 0);
                out = run_out(cmd);
                assert_string_equal(out, i == 0 ? "ovf:/disk/root-x86_64" : "ovf:/disk/root-aarch64");
                free(out);
                free(cmd);
        }
        free(p);
        free(xml);
}

struct bad_xml {
        const char *from, *to, *expect;
};

static void expect_parse_fail(const char *xml, size_t len, const char *expect)
{
        struct ovf_descriptor *d = NULL;
        struct xerr e = { 0 };
        char buf[1024];
        int r = ovf_descriptor_parse(xml, len, "t.ovf", &d, &e);

        if (r >= 0 || !strstr(xerr_format(&e, buf, sizeof(buf)), expect))
                fail_msg("expected failure containing '%s', got r=%d '%s'", expect, r, xerr_format(&e, buf, sizeof(buf)));
        assert_null(d);
}

static void test_ovf_descriptor_hostile(void **state)
{
        static const struct bad_xml cases[] = {
                { "ovf:href=\"hello-boot.img\"", "ovf:href=\"../x\"", "ovf:href '../x'" },
                { "ovf:href=\"hello-boot.img\"", "ovf:href=\"http://evil.example/x\"", "ovf:href 'http://evil.example/x'" },
                { "ovf:href=\"hello-boot.img\"", "ovf:href=\"file:///etc/passwd\"", "ovf:href" },
                { "ovf:href=\"hello-boot.img\"", "ovf:href=\"a/b\"", "contains '/'" },
                { "ovf:fileRef=\"file-boot\"", "ovf:fileRef=\"file-nope\"", "ovf:fileRef 'file-nope' names no File" },
                { "ovf:id=\"file-data\"", "ovf:id=\"file-boot\"", "duplicate ovf:id 'file-boot'" },
                { "ovf:diskId=\"data\"", "ovf:diskId=\"boot\"", "duplicate ovf:diskId 'boot'" },
                { "ovf:capacity=\"524288\"", "ovf:capacity=\"1152921504606846976\"", "exceeds the limit" },
                { "ovf:capacity=\"524288\"", "ovf:capacity=\"-1\"", "not a decimal number" },
                { "<xova:Architecture ovf:required=\"false\">aarch64<", "<xova:Architecture ovf:required=\"false\">riscv64<",
                  "'riscv64' is not a known architecture" },
                { "xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"", "xmlns=\"http://example.com/not-ovf\"", "namespace" },
                { "<rasd:HostResource>ovf:/disk/data<", "<rasd:HostResource>ovf:/disk/nope<", "names no Disk" },
                { "ovf:configuration=\"aarch64\"", "ovf:configuration=\"sparc\"", "'sparc' is not in DeploymentOptionSection" },
                { "<Envelope", "<!DOCTYPE Envelope [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n<Envelope",
                  "DOCTYPE is not allowed" },
                { "<Envelope", "<!DOCTYPE Envelope SYSTEM \"http://evil.example/x.dtd\">\n<Envelope", "DOCTYPE is not allowed" },
                { "</Envelope>", "</Envelop>", "not well-formed" },
        };
        struct fx *f = *state;
        size_t len;
        char *xml = write_xml(f, &len);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *bad = replace(xml, cases[i].from, cases[i].to);
                expect_parse_fail(bad, strlen(bad), cases[i].expect);
                free(bad);
        }
        /* billion laughs: refused before any expansion */
        {
                const char *lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n"
                                  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
                                  "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
                                  "]>\n<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\">&lol3;</Envelope>\n";
                expect_parse_fail(lol, strlen(lol), "line 2: DOCTYPE is not allowed");
        }
        /* size cap */
        {
                size_t big = OVF_MAX_DESCRIPTOR + 1;
                char *b = malloc(big);
                assert_non_null(b);
                memset(b, ' ', big);
                expect_parse_fail(b, big, "more than the limit");
                free(b);
        }
        /* NUL (UTF-16 in disguise) */
        expect_parse_fail("<\0E\0n\0v\0", 8, "NUL byte");
        free(xml);
}

/*
 * Accepted before, refused now (#15 bug 6): a second References or
 * DiskSection (whose hrefs nothing checked), two markers of one kind in a
 * configuration, two processor (memory, controller, NIC, serial) items
 * for one configuration: each reader keeps the first or the last.
 */
static void test_ovf_descriptor_duplicates(void **state)
{
        static const char proc_x86[] = "<pasd:ProcessorArchitecture>DMTF:x86</pasd:ProcessorArchitecture>\n      </Item>";
        static const struct bad_xml cases[] = {
                { "  </References>\n", "  </References>\n  <References>\n    <File ovf:href=\"evil.img\" "
                  "ovf:id=\"file-evil\" ovf:size=\"1\"/>\n  </References>\n", "a second <References>" },
                { "  <DeploymentOptionSection>", "  <DiskSection>\n    <Info>more disks</Info>\n  </DiskSection>\n"
                  "  <DeploymentOptionSection>", "a second <DiskSection>" },
                { "<xova:Architecture ovf:required=\"false\">aarch64</xova:Architecture>",
                  "<xova:Architecture ovf:required=\"false\">aarch64</xova:Architecture>"
                  "<xova:Architecture ovf:required=\"false\">x86_64</xova:Architecture>",
                  "a second <Architecture>" },
                { "<xova:Firmware ovf:required=\"false\">efi</xova:Firmware>",
                  "<xova:Firmware ovf:required=\"false\">efi</xova:Firmware>"
                  "<xova:Firmware ovf:required=\"false\">bios</xova:Firmware>", "a second <Firmware>" },
                { "  <DeploymentOptionSection>", "  <DeploymentOptionSection>\n    <Info>x</Info>\n"
                  "  </DeploymentOptionSection>\n  <DeploymentOptionSection>", "a second <DeploymentOptionSection>" },
                /* a second processor item for x86_64, and one for every configuration */
                { proc_x86, "<pasd:ProcessorArchitecture>DMTF:x86</pasd:ProcessorArchitecture>\n      </Item>\n      <Item "
                  "ovf:configuration=\"x86_64\"><rasd:InstanceID>99</rasd:InstanceID><rasd:ResourceType>3"
                  "</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>",
                  "a second processor item for configuration 'x86_64'" },
                { proc_x86, "<pasd:ProcessorArchitecture>DMTF:x86</pasd:ProcessorArchitecture>\n      </Item>\n      <Item>"
                  "<rasd:InstanceID>99</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>"
                  "<rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>",
                  "a second processor item for configuration 'x86_64'" },
                { proc_x86, "<pasd:ProcessorArchitecture>DMTF:x86</pasd:ProcessorArchitecture>\n      </Item>\n      <Item "
                  "ovf:configuration=\"x86_64\"><rasd:InstanceID>98</rasd:InstanceID><rasd:AllocationUnits>"
                  "byte * 2^20</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType>"
                  "<rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>",
                  "a second memory item for configuration 'x86_64'" },
                { proc_x86, "<pasd:ProcessorArchitecture>DMTF:x86</pasd:ProcessorArchitecture>\n      </Item>\n      <Item "
                  "ovf:configuration=\"x86_64\"><rasd:InstanceID>97</rasd:InstanceID><rasd:ResourceSubType>"
                  "lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>",
                  "a second disk controller item for configuration 'x86_64'" },
                /* one item, two quantities */
                { "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>",
                  "<rasd:VirtualQuantity>2</rasd:VirtualQuantity><rasd:VirtualQuantity>64</rasd:VirtualQuantity>",
                  "a second <VirtualQuantity>" },
        };
        struct fx *f = *state;
        size_t len;
        char *xml = write_xml(f, &len);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *bad = replace(xml, cases[i].from, cases[i].to);
                expect_parse_fail(bad, strlen(bad), cases[i].expect);
                free(bad);
        }
        free(xml);
}

static void test_ovf_descriptor_write_refuses(void **state)
{
        struct fx *f = *state;
        struct xerr e = { 0 };
        char *xml = NULL, *old;
        size_t len;

        fill_hrefs(f);
        old = f->d.vendor;
        f->d.vendor = (char *) "bad\x01control";
        assert_int_equal(ovf_descriptor_write(&f->d, &xml, &len, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "vendor"));
        f->d.vendor = old;
        old = f->d.name;
        f->d.name = (char *) "../evil";
        assert_int_equal(ovf_descriptor_write(&f->d, &xml, &len, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "name"));
        f->d.name = old;
        assert_null(xml);
}

/* ---- manifest ------------------------------------------------------------ */

static void test_ovf_manifest_parse(void **state)
{
        static const char h[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        static const struct {
                const char *text, *expect;
        } bad[] = {
                { "SHA256(a.ovf)= 0123\n", "line 1: digest of 'a.ovf' is not 64 hex digits" },
                { "MD5(a.ovf)= 0123\n", "line 1: digest 'MD5' is not supported" },
                { "SHA1(a.ovf)= 0123\n", "line 1: digest 'SHA1' is not supported" },
                { "SHA256 (a.ovf) = 0123\n", "line 1: digest 'SHA256 ' is not supported" },
                { "SHA256(a.ovf)=0123\n", "line 1: not of the form" },
                { "", "manifest is empty" },
                { "\n", "line 1: empty line" },
        };
        struct ovf_manifest *m = NULL;
        struct xerr e = { 0 };
        char *t = NULL, buf[1024];
        uint8_t want[32];

        (void) state;
        assert_true(asprintf(&t, "SHA256(a.ovf)= %s\nSHA256(b.vmdk)= %.32s%s\n", h, "0123456789ABCDEF0123456789ABCDEF",
                             h + 32) > 0);
        assert_int_equal(ovf_manifest_parse(t, strlen(t), "a.mf", &m, &e), 0);
        assert_int_equal(m->n, 2);
        assert_string_equal(m->entries[1].name, "b.vmdk");
        assert_int_equal(ovf_unhex(h, 64, want, 32), 0);
        assert_memory_equal(m->entries[0].sha256, want, 32);
        assert_memory_equal(m->entries[1].sha256, want, 32);    /* hex case-insensitive */
        m = ovf_manifest_free(m);
        free(t);
        /* no final newline is accepted */
        assert_true(asprintf(&t, "SHA256(a.ovf)= %s", h) > 0);
        assert_int_equal(ovf_manifest_parse(t, strlen(t), "a.mf", &m, &e), 0);
        m = ovf_manifest_free(m);
        free(t);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_true(ovf_manifest_parse(bad[i].text, strlen(bad[i].text), "a.mf", &m, &e) < 0);
                if (!strstr(xerr_format(&e, buf, sizeof(buf)), bad[i].expect))
                        fail_msg("case %zu: want '%s', got '%s'", i, bad[i].expect, buf);
                assert_null(m);
        }
        /* CRLF refused, naming the line */
        assert_true(asprintf(&t, "SHA256(a.ovf)= %s\nSHA256(b.ovf)= %s\r\n", h, h) > 0);
        assert_int_equal(ovf_manifest_parse(t, strlen(t), "a.mf", &m, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "line 2: carriage return"));
        free(t);
        /* duplicate entry */
        assert_true(asprintf(&t, "SHA256(a.ovf)= %s\nSHA256(a.ovf)= %s\n", h, h) > 0);
        assert_int_equal(ovf_manifest_parse(t, strlen(t), "a.mf", &m, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "line 2: second entry for 'a.ovf'"));
        free(t);
        /* a name that is not a bare member name */
        assert_true(asprintf(&t, "SHA256(../x)= %s\n", h) > 0);
        assert_int_equal(ovf_manifest_parse(t, strlen(t), "a.mf", &m, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "line 1: name '../x'"));
        free(t);
        assert_string_equal(e.where, "a.mf");
}

/* ---- export and open ------------------------------------------------------ */

/* Each disk's (file, offset, size) holds exactly the bytes of its source. */
static void check_locations(struct fx *f, const struct ovf_bundle *b)
{
        const struct ovf_descriptor *d = ovf_bundle_descriptor(b);

        for (size_t i = 0; i < d->n_disks; i++) {
                const char *file;
                uint64_t off, size;
                char *src, *got;
                size_t slen;
                int fd;
                struct xerr e = { 0 };

                assert_int_equal(ovf_bundle_disk_location(b, i, &file, &off, &size, &e), 0);
                slurp(f->disks[i].source, &src, &slen);
                assert_int_equal(size, slen);
                got = malloc(size);
                fd = open(file, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(xova_pread_all(fd, got, size, (off_t) off), 0);
                assert_memory_equal(got, src, size);
                close(fd);
                free(got);
                free(src);
        }
}

static void test_ovf_export_ova_reproducible(void **state)
{
        struct fx *f = *state;
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        char *a, *c, *pa = path_in(f, "a.ova"), *pb = path_in(f, "b.ova");
        size_t la, lc;
        struct archive *ar;
        struct archive_entry *en;
        const char *name;

        assert_int_equal(export(f, "a.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, false, &e), 0);
        assert_int_equal(export(f, "b.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, false, &e), 0);
        slurp(pa, &a, &la);
        slurp(pb, &c, &lc);
        assert_int_equal(la, lc);
        assert_memory_equal(a, c, la);
        assert_int_equal(la % 512, 0);
        free(a);
        free(c);

        /* member order and reproducible headers */
        ar = archive_read_new();
        archive_read_support_format_tar(ar);
        assert_int_equal(archive_read_open_filename(ar, pa, 10240), ARCHIVE_OK);
        static const char *order[] = { "hello.ovf", "hello.mf", "hello-boot.img", "hello-root-x86_64.img",
                                       "hello-root-aarch64.img", "hello-data.img" };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                assert_int_equal(archive_read_next_header(ar, &en), ARCHIVE_OK);
                assert_string_equal(archive_entry_pathname(en), order[i]);
                assert_int_equal(archive_entry_uid(en), 0);
                assert_int_equal(archive_entry_gid(en), 0);
                assert_int_equal(archive_entry_perm(en), 0644);
                assert_int_equal(archive_entry_mtime(en), 1700000000);
        }
        assert_int_equal(archive_read_next_header(ar, &en), ARCHIVE_EOF);
        archive_read_free(ar);

        assert_int_equal(open_bundle(f, "a.ova", NULL, &b, &e), 0);
        assert_int_equal(ovf_bundle_n_members(b), 6);
        assert_int_equal(ovf_bundle_member(b, 0, &name, NULL, NULL), 0);
        assert_string_equal(name, "hello.ovf");
        assert_null(ovf_bundle_signer(b));
        assert_string_equal(ovf_bundle_descriptor(b)->vendor, f->d.vendor);
        check_locations(f, b);
        ovf_bundle_free(b);
        free(pa);
        free(pb);
}

static void test_ovf_export_dir(void **state)
{
        struct fx *f = *state;
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        char *p = path_in(f, "d");

        assert_int_equal(export(f, "d", OVF_EXPORT_DIR, OVF_DISK_RAW, NULL, NULL, false, &e), 0);
        assert_int_equal(count_entries(p), 6);
        assert_int_equal(open_bundle(f, "d", NULL, &b, &e), 0);
        check_locations(f, b);
        ovf_bundle_free(b);
        free(p);
}

static void test_ovf_export_vmdk(void **state)
{
        struct fx *f = *state;
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        char *a, *c, *pa = path_in(f, "v.ova"), *pb = path_in(f, "w.ova");
        size_t la, lc;
        int r;

        r = export(f, "v.ova", OVF_EXPORT_OVA, OVF_DISK_VMDK_STREAM, NULL, NULL, false, &e);
        if (r == -ENOSYS) {
                free(pa);
                free(pb);
                skip();
        }
        assert_int_equal(r, 0);
        assert_int_equal(export(f, "w.ova", OVF_EXPORT_OVA, OVF_DISK_VMDK_STREAM, NULL, NULL, false, &e), 0);
        slurp(pa, &a, &la);
        slurp(pb, &c, &lc);
        assert_int_equal(la, lc);
        assert_memory_equal(a, c, la);
        free(a);
        free(c);
        assert_int_equal(open_bundle(f, "v.ova", NULL, &b, &e), 0);
        assert_int_equal(ovf_bundle_descriptor(b)->disks[0].format, OVF_DISK_VMDK_STREAM);
        assert_string_equal(ovf_bundle_descriptor(b)->disks[3].href, "hello-data.vmdk");
        ovf_bundle_free(b);
        free(pa);
        free(pb);
}

static void test_ovf_export_refuses_existing(void **state)
{
        struct fx *f = *state;
        struct xerr e = { 0 };
        char *p = path_in(f, "x.ova"), *buf;
        size_t len;

        write_file(p, "precious", 8);
        assert_int_equal(export(f, "x.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, false, &e), -EEXIST);
        slurp(p, &buf, &len);
        assert_int_equal(len, 8);
        free(buf);
        assert_int_equal(count_entries(f->dir), 5);
        assert_int_equal(export(f, "x.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, true, &e), 0);
        slurp(p, &buf, &len);
        assert_true(len > 8);
        free(buf);
        /* a missing source: nothing appears */
        free(f->disks[3].source);
        f->disks[3].source = path_in(f, "missing.raw");
        assert_int_equal(export(f, "y.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, false, &e), -ENOENT);
        assert_int_equal(count_entries(f->dir), 5);
        free(p);
}

static void make_cert(struct fx *f, const char *cn)
{
        char *cmd = NULL;

        assert_true(asprintf(&cmd, "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=%s -days 1 "
                             "-keyout key-%s.pem -out cert-%s.pem >/dev/null 2>&1", f->dir, cn, cn, cn) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

static void test_ovf_sign_verify(void **state)
{
        struct fx *f = *state;
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        char *ka = path_in(f, "key-A.pem"), *ca = path_in(f, "cert-A.pem"), *cb = path_in(f, "cert-B.pem");
        struct ovf_open_opts oo = { 0 };
        char *s1, *s2, *p1 = path_in(f, "s.ova"), *p2 = path_in(f, "t.ova");
        size_t l1, l2;

        make_cert(f, "A");
        make_cert(f, "B");
        assert_int_equal(export(f, "s.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, ka, ca, false, &e), 0);
        /* PKCS#1 v1.5 is deterministic: a signed export is reproducible too */
        assert_int_equal(export(f, "t.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, ka, ca, false, &e), 0);
        slurp(p1, &s1, &l1);
        slurp(p2, &s2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1);
        free(s1);
        free(s2);

        assert_int_equal(open_bundle(f, "s.ova", &oo, &b, &e), 0);
        assert_int_equal(ovf_bundle_n_members(b), 7);
        assert_string_equal(ovf_bundle_signer(b), "/CN=A");
        assert_false(ovf_bundle_signer_trusted(b));
        b = ovf_bundle_free(b);

        oo.ca_file = ca;
        assert_int_equal(open_bundle(f, "s.ova", &oo, &b, &e), 0);
        assert_true(ovf_bundle_signer_trusted(b));
        b = ovf_bundle_free(b);

        oo.ca_file = cb;
        assert_int_equal(open_bundle(f, "s.ova", &oo, &b, &e), -XOVA_EVERIFY);
        assert_non_null(strstr(e.where, "member 'hello.cert'"));
        assert_non_null(strstr(e.msg, "self-signed certificate not trusted"));
        assert_null(b);

        /* a signed directory whose manifest was rewritten (upper-case hex: the
         * digests still match, the signed bytes do not) */
        oo.ca_file = NULL;
        assert_int_equal(export(f, "sd", OVF_EXPORT_DIR, OVF_DISK_RAW, ka, ca, false, &e), 0);
        {
                char *mp = path_in(f, "sd/hello.mf"), *mb;
                size_t ml;
                slurp(mp, &mb, &ml);
                for (size_t i = 0; i < ml; i++)
                        if (mb[i] >= 'a' && mb[i] <= 'f' && i > 0 && mb[i - 1] != '(' && strchr(mb + i, '\n') &&
                            memchr(mb + i - (i > 70 ? 70 : i), ' ', i > 70 ? 70 : i))
                                mb[i] = (char) (mb[i] - 'a' + 'A');
                write_file(mp, mb, ml);
                free(mb);
                free(mp);
        }
        assert_int_equal(open_bundle(f, "sd", &oo, &b, &e), -XOVA_EVERIFY);
        assert_non_null(strstr(e.where, "member 'hello.cert'"));
        assert_non_null(strstr(e.msg, "signature does not match the manifest 'hello.mf'"));

        /* unsigned bundle with a signature required */
        oo.ca_file = NULL;
        oo.require_signature = true;
        assert_int_equal(export(f, "u.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, NULL, NULL, false, &e), 0);
        assert_int_equal(open_bundle(f, "u.ova", &oo, &b, &e), -XOVA_EVERIFY);
        assert_non_null(strstr(e.msg, "not signed"));

        /* key and certificate that do not belong together */
        {
                char *kb = path_in(f, "key-B.pem");
                assert_int_equal(export(f, "z.ova", OVF_EXPORT_OVA, OVF_DISK_RAW, kb, ca, false, &e), -EINVAL);
                assert_non_null(strstr(e.msg, "does not match"));
                free(kb);
        }
        free(ka);
        free(ca);
        free(cb);
        free(p1);
        free(p2);
}

/* ---- hostile OVAs ----------------------------------------------------------- */

/* ---- hostile tar headers, written byte by byte ------------------------------ */

/* ---- certificate validity ---------------------------------------------------- */

/*
 * Certificates made with OpenSSL's API rather than `openssl req`, which
 * cannot put the validity window in the past or the future. Without a CA
 * file only the signature over the manifest is checked (ovf/cert.c,
 * xova-verify(1)): the dates and the issuer are then not looked at, and the
 * signer is reported as not trusted. With one, each failure has its own
 * message, as vCenter names them.
 */
#define DAY 86400L

/* A certificate for /CN=cn and key, valid from now + from to now + to
 * seconds, issued by issuer (signed with issuer_key), or self-signed when
 * issuer is NULL. */
static X509 *make_x509(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long from, long to,
                       bool ca)
{
        static long serial = 1;
        X509 *x = X509_new();
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        assert_non_null(x);
        assert_int_equal(X509_set_version(x, 2), 1);
        assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
        assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), from));
        assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), to));
        assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                                    (const unsigned char *) cn, -1, -1, 0), 1);
        assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)), 1);
        assert_int_equal(X509_set_pubkey(x, key), 1);
        X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
        if (ca) {
                ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
                assert_non_null(ext);
                assert_int_equal(X509_add_ext(x, ext, -1), 1);
                X509_EXTENSION_free(ext);
        }
        assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
        return x;
}

/* Writes the certificate and/or the key as PEM to a new file in the test dir. */
static char *write_pem(struct fx *f, const char *name, X509 *x, EVP_PKEY *key)
{
        char *p = path_in(f, name);
        FILE *fp = fopen(p, "we");

        assert_non_null(fp);
        if (x)
                assert_int_equal(PEM_write_X509(fp, x), 1);
        if (key)
                assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
        assert_int_equal(fclose(fp), 0);
        return p;
}

struct pki {
        EVP_PKEY *ca_key, *key;
        X509 *ca;
        char *ca_pem;
};

/* A CA valid from yesterday to tomorrow, and a key for the signers. */
static void pki_new(struct fx *f, struct pki *k)
{
        k->ca_key = EVP_RSA_gen(2048);
        k->key = EVP_RSA_gen(2048);
        assert_non_null(k->ca_key);
        assert_non_null(k->key);
        k->ca = make_x509("xova test CA", k->ca_key, NULL, NULL, -DAY, DAY, true);
        k->ca_pem = write_pem(f, "ca.pem", k->ca, NULL);
}

static void pki_free(struct pki *k)
{
        X509_free(k->ca);
        EVP_PKEY_free(k->ca_key);
        EVP_PKEY_free(k->key);
        free(k->ca_pem);
}

/* Exports `name` signed with k->key and the certificate x, then opens it
 * without a CA file (must verify, signer not trusted) and with ca_pem;
 * returns what the second open returned, its error in *e. */
static int open_signed(struct fx *f, const struct pki *k, const char *name, X509 *x, const char *ca_pem,
                       struct xerr *e)
{
        struct ovf_open_opts oo = { 0 };
        struct ovf_bundle *b = NULL;
        char *key = write_pem(f, "signer-key.pem", NULL, k->key), *cert = write_pem(f, "signer.pem", x, NULL);
        char subject[256];
        int r;

        assert_int_equal(export(f, name, OVF_EXPORT_OVA, OVF_DISK_RAW, key, cert, false, e), 0);
        assert_int_equal(open_bundle(f, name, &oo, &b, e), 0);
        assert_non_null(X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject)));
        assert_string_equal(ovf_bundle_signer(b), subject);
        assert_false(ovf_bundle_signer_trusted(b));
        b = ovf_bundle_free(b);

        oo.ca_file = ca_pem;
        memset(e, 0, sizeof(*e));
        r = open_bundle(f, name, &oo, &b, e);
        if (r == 0)
                assert_true(ovf_bundle_signer_trusted(b));
        else
                assert_null(b);
        ovf_bundle_free(b);
        free(key);
        free(cert);
        return r;
}

static void expect_cert_refused(int r, const struct xerr *e, const char *msg)
{
        assert_int_equal(r, -XOVA_EVERIFY);
        assert_non_null(strstr(e->where, "member 'hello.cert'"));
        assert_string_equal(e->msg, msg);
}


/* A manifest line for the manifest itself, or for the .cert made after
 * it: no manifest can hold such a digest, so the line was never checked,
 * and a reader that checks every line sees a mismatch. */
static void test_ovf_manifest_names_itself(void **state)
{
        struct fx *f = *state;
        struct xerr e = { 0 };
        const char *names[] = { "hello.mf", "hello.cert" };

        assert_int_equal(export(f, "d", OVF_EXPORT_DIR, OVF_DISK_RAW, NULL, NULL, false, &e), 0);
        expect_open_ok(f, "d");
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char *p = path_in(f, "d/hello.mf"), *buf, want[160];
                size_t len;
                FILE *fp;
                slurp(p, &buf, &len);
                fp = fopen(p, "ae");
                assert_non_null(fp);
                fprintf(fp, "SHA256(%s)= %064d\n", names[i], 0);
                assert_int_equal(fclose(fp), 0);
                snprintf(want, sizeof(want), "member 'hello.mf': line 6: names the %s itself ('%s')",
                         i == 0 ? "manifest" : "certificate", names[i]);
                expect_open_fail(f, "d", want);
                write_file(p, buf, len);
                free(buf);
                free(p);
        }
        expect_open_ok(f, "d");
}

/* No byte of msg would act on a terminal: no C0 (but none of tab/newline
 * either: messages are one line), no DEL, no C1 as a raw byte or as
 * UTF-8, no bidi override U+202E. */
static void assert_terminal_safe(const char *msg)
{
        for (const unsigned char *p = (const unsigned char *) msg; *p; p++) {
                if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && *p <= 0x9f))
                        fail_msg("raw byte 0x%02x at %zu in '%s'", *p, (size_t) (p - (const unsigned char *) msg),
                                 msg);
                if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                        fail_msg("C1 control as UTF-8 in '%s'", msg);
        }
        if (strstr(msg, "\xe2\x80\xae"))
                fail_msg("U+202E in '%s'", msg);
}

static void expect_safe_failure(int r, const struct xerr *e, const char *expect)
{
        char buf[1024];

        xerr_format(e, buf, sizeof(buf));
        if (r >= 0 || !strstr(buf, expect))
                fail_msg("want a failure with '%s', got %d '%s'", expect, r, buf);
        assert_terminal_safe(buf);
}

/*
 * Terminal-safe messages: names, algorithm names and values from a
 * manifest, a descriptor and tar headers are quoted escaped (common/
 * escape.c) in the error itself, not only when cli/ prints it: ESC, BEL,
 * CR (which could rewrite the line to read "OK"), a raw 0x9B (8-bit CSI),
 * C1 as UTF-8 and U+202E all come out as visible escapes.
 */
static void test_ovf_messages_escaped(void **state)
{
        struct fx *f = *state;
        const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000";
        struct ovf_manifest *m = NULL;
        struct xerr e = { 0 };
        char *mf = NULL;
        int r;

        /* a manifest name */
        assert_true(asprintf(&mf, "SHA256(a\033[2J\r\aOK\xe2\x80\xae\x9b\xc2\x9b.img)= %s\n", zeros) > 0);
        r = ovf_manifest_parse(mf, strlen(mf), "hello.mf", &m, &e);
        expect_safe_failure(r, &e, "line 1: name 'a\\e[2J\\r\\x07OK\\u{202e}\\x9b\\u{009b}.img'");
        free(mf);
        /* an algorithm name */
        assert_true(asprintf(&mf, "SHA1\033]0;owned\a(a.img)= %s\n", zeros) > 0);
        e = (struct xerr){ 0 };
        r = ovf_manifest_parse(mf, strlen(mf), "hello.mf", &m, &e);
        expect_safe_failure(r, &e, "line 1: digest 'SHA1\\e]0;owned\\x07' is not supported");
        free(mf);
        /* a second entry for a name with a backslash: shown doubled, so the
         * escapes above cannot be forged by the text itself */
        assert_true(asprintf(&mf, "SHA256(a.img)= %s\nSHA256(a.img)= %s\n", zeros, zeros) > 0);
        e = (struct xerr){ 0 };
        r = ovf_manifest_parse(mf, strlen(mf), "hello.mf", &m, &e);
        expect_safe_failure(r, &e, "line 2: second entry for 'a.img'");
        free(mf);
        assert_null(m);

        /* descriptor values: XML allows C1 and U+202E in attributes */
        {
                size_t len;
                char *xml = write_xml(f, &len), *bad;
                struct ovf_descriptor *d = NULL;
                bad = replace(xml, "ovf:fileRef=\"file-boot\"", "ovf:fileRef=\"x\xc2\x9b\xe2\x80\xae\"");
                e = (struct xerr){ 0 };
                r = ovf_descriptor_parse(bad, strlen(bad), "hello.ovf", &d, &e);
                expect_safe_failure(r, &e, "ovf:fileRef 'x\\u{009b}\\u{202e}' names no File");
                assert_null(d);
                free(bad);
                free(xml);
        }

        /* a tar member name, and the prefix field of a header */
        {
                struct good g;
                struct rawtar t = { 0 };
                struct ovf_bundle *b = NULL;
                size_t at;
                read_good(f, &g);
                raw_good(&t, &g, 0, 5);
                raw_member(&t, "x\033[1A\rOK.img", "x", 1);
                raw_end(&t);
                raw_write(f, "esc-name.ova", &t);
                e = (struct xerr){ 0 };
                r = open_bundle(f, "esc-name.ova", NULL, &b, &e);
                expect_safe_failure(r, &e, "member 'x\\e[1A\\rOK.img'");
                free(t.buf);
                t = (struct rawtar){ 0 };
                raw_good(&t, &g, 0, 5);
                at = raw_member(&t, g.names[5], g.data[5], g.lens[5]);
                memcpy(t.buf + at + 345, "\x9b" "2J\033]\a", 6);
                raw_checksum(&t, at);
                raw_end(&t);
                raw_write(f, "esc-prefix.ova", &t);
                e = (struct xerr){ 0 };
                r = open_bundle(f, "esc-prefix.ova", NULL, &b, &e);
                /* libarchive joins prefix and name */
                expect_safe_failure(r, &e, "member '\\x9b2J\\e]\\x07/hello-data.img'");
                assert_null(b);
                free(t.buf);
                free_good(&g);
        }
}

/* The message for a certificate outside its validity window: "<what>: '<subject>' <verb> <date>". */
static void want_dated(char *buf, size_t size, const char *what, X509 *x, const char *in_file, const char *verb,
                       const ASN1_TIME *t)
{
        char subject[256], when[64];
        struct tm tm;

        assert_non_null(X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject)));
        assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
        assert_true(strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0);
        if (in_file)
                snprintf(buf, size, "%s: '%s' in '%s' %s %s", what, subject, in_file, verb, when);
        else
                snprintf(buf, size, "%s: '%s' %s %s", what, subject, verb, when);
}

/* x with the extension nid=value added, signed again by key */
static void add_ext(X509 *x, X509 *issuer, EVP_PKEY *key, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
        assert_true(X509_sign(x, key, EVP_sha256()) > 0);
}

/* A .cert over mf made by hand (the exporter refuses such certificates):
 * the signature line, then x as PEM. */
static char *cert_by_hand(EVP_PKEY *key, X509 *x, const char *mf, size_t *ret_len)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char sig[1024];
        size_t sig_len = sizeof(sig);
        char hex[2049], *out = NULL, *pem;
        BIO *bio = BIO_new(BIO_s_mem());
        long n;

        assert_non_null(md);
        assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
        assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (const unsigned char *) mf, strlen(mf)), 1);
        EVP_MD_CTX_free(md);
        ovf_hex(sig, sig_len, hex);
        assert_int_equal(PEM_write_bio_X509(bio, x), 1);
        n = BIO_get_mem_data(bio, &pem);
        assert_true(asprintf(&out, "SHA256(hello.mf)= %s\n%.*s", hex, (int) n, pem) > 0);
        BIO_free(bio);
        *ret_len = strlen(out);
        return out;
}

/*
 * The signer's key usage and extended key usage must allow signing code
 * or documents (ovf/cert.c, docs/SECURITY.md): a TLS server certificate
 * chaining to a trusted CA was accepted as an appliance signer. Refused
 * when signing and when verifying, with or without a CA file.
 */
static void test_ovf_cert_usage(void **state)
{
        struct fx *f = *state;
        const struct {
                int nid;
                const char *value;
                const char *problem;    /* NULL: accepted */
        } cases[] = {
                { NID_ext_key_usage, "codeSigning", NULL },
                { NID_ext_key_usage, "emailProtection", NULL },
                { NID_ext_key_usage, "1.3.6.1.5.5.7.3.36", NULL },      /* RFC 9336 document signing */
                { NID_ext_key_usage, "serverAuth,codeSigning", NULL },
                { NID_key_usage, "critical,digitalSignature", NULL },
                { NID_key_usage, "digitalSignature,nonRepudiation", NULL },
                { NID_ext_key_usage, "serverAuth", "its extended key usage allows neither code nor document signing" },
                { NID_ext_key_usage, "serverAuth,clientAuth",
                  "its extended key usage allows neither code nor document signing" },
                { NID_ext_key_usage, "timeStamping", "its extended key usage allows neither code nor document signing" },
                { NID_key_usage, "critical,keyEncipherment", "its key usage does not allow digitalSignature" },
                { NID_key_usage, "nonRepudiation", "its key usage does not allow digitalSignature" },
        };
        struct pki k;

        pki_new(f, &k);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                X509 *x = make_x509("signer", k.key, k.ca, k.ca_key, -DAY, DAY, false);
                struct xerr e = { 0 };
                char name[32], want[256];
                add_ext(x, k.ca, k.ca_key, cases[i].nid, cases[i].value);
                snprintf(name, sizeof(name), "usage-%zu.ova", i);
                if (!cases[i].problem) {
                        if (open_signed(f, &k, name, x, k.ca_pem, &e) != 0)
                                fail_msg("%s: want it accepted, got '%s'", cases[i].value, e.msg);
                } else {
                        char *key = write_pem(f, "signer-key.pem", NULL, k.key);
                        char *cert = write_pem(f, "signer.pem", x, NULL), *c;
                        const char *mf = "SHA256(hello.ovf)= 00\n";
                        size_t len;
                        snprintf(want, sizeof(want), "not a signing certificate: %s", cases[i].problem);
                        /* the exporter refuses to sign with it */
                        assert_int_equal(export(f, name, OVF_EXPORT_OVA, OVF_DISK_RAW, key, cert, false, &e),
                                         -EINVAL);
                        if (!strstr(e.msg, want))
                                fail_msg("%s: export: want '%s', got '%s'", cases[i].value, want, e.msg);
                        /* and a bundle signed with it anyway is refused */
                        c = cert_by_hand(k.key, x, mf, &len);
                        for (int with_ca = 0; with_ca < 2; with_ca++) {
                                e = (struct xerr){ 0 };
                                assert_int_equal(ovf_cert_verify("hello.cert", c, len, "hello.mf", mf, strlen(mf),
                                                                 with_ca ? k.ca_pem : NULL, NULL, &e),
                                                 -XOVA_EVERIFY);
                                assert_string_equal(e.msg, want);
                        }
                        free(c);
                        free(key);
                        free(cert);
                }
                X509_free(x);
        }
        pki_free(&k);
}

static void test_ovf_cert_expired(void **state)
{
        struct fx *f = *state;
        struct pki k;
        struct xerr e = { 0 };
        char want[512], *old_pem;
        X509 *x, *old_ca;

        pki_new(f, &k);
        /* a day ago the signer's certificate ran out */
        x = make_x509("expired signer", k.key, k.ca, k.ca_key, -2 * DAY, -DAY, false);
        want_dated(want, sizeof(want), "expired certificate", x, NULL, "was valid until", X509_get0_notAfter(x));
        expect_cert_refused(open_signed(f, &k, "expired.ova", x, k.ca_pem, &e), &e, want);
        X509_free(x);

        /* the signer is valid, the CA in the file ran out: say which */
        old_ca = make_x509("expired CA", k.ca_key, NULL, NULL, -3 * DAY, -DAY, true);
        old_pem = write_pem(f, "expired-ca.pem", old_ca, NULL);
        x = make_x509("current signer", k.key, old_ca, k.ca_key, -DAY, DAY, false);
        want_dated(want, sizeof(want), "expired CA certificate", old_ca, old_pem, "was valid until",
                   X509_get0_notAfter(old_ca));
        expect_cert_refused(open_signed(f, &k, "expired-ca.ova", x, old_pem, &e), &e, want);
        X509_free(x);
        X509_free(old_ca);
        free(old_pem);
        pki_free(&k);
}

static void test_ovf_cert_not_yet_valid(void **state)
{
        struct fx *f = *state;
        struct pki k;
        struct xerr e = { 0 };
        char want[512], *new_pem;
        X509 *x, *new_ca;

        pki_new(f, &k);
        /* valid from tomorrow */
        x = make_x509("future signer", k.key, k.ca, k.ca_key, DAY, 2 * DAY, false);
        want_dated(want, sizeof(want), "certificate not yet valid", x, NULL, "is valid from", X509_get0_notBefore(x));
        expect_cert_refused(open_signed(f, &k, "future.ova", x, k.ca_pem, &e), &e, want);
        X509_free(x);

        /* a CA valid from tomorrow */
        new_ca = make_x509("future CA", k.ca_key, NULL, NULL, DAY, 3 * DAY, true);
        new_pem = write_pem(f, "future-ca.pem", new_ca, NULL);
        x = make_x509("current signer", k.key, new_ca, k.ca_key, -DAY, DAY, false);
        want_dated(want, sizeof(want), "CA certificate not yet valid", new_ca, new_pem, "is valid from",
                   X509_get0_notBefore(new_ca));
        expect_cert_refused(open_signed(f, &k, "future-ca.ova", x, new_pem, &e), &e, want);
        X509_free(x);
        X509_free(new_ca);
        free(new_pem);
        pki_free(&k);
}

static void test_ovf_cert_self_signed_untrusted(void **state)
{
        struct fx *f = *state;
        struct pki k;
        struct xerr e = { 0 };
        char want[512];
        X509 *x;

        pki_new(f, &k);
        /* the baseline: a signer the CA issued, valid now, is trusted */
        x = make_x509("good signer", k.key, k.ca, k.ca_key, -DAY, DAY, false);
        assert_int_equal(open_signed(f, &k, "good.ova", x, k.ca_pem, &e), 0);
        X509_free(x);

        /* self-signed, and the CA file holds another certificate */
        x = make_x509("self signer", k.key, NULL, NULL, -DAY, DAY, false);
        snprintf(want, sizeof(want), "self-signed certificate not trusted by '%s'", k.ca_pem);
        expect_cert_refused(open_signed(f, &k, "self.ova", x, k.ca_pem, &e), &e, want);
        X509_free(x);

        /* issued by a CA that is not in the CA file (its key does not
         * matter: the issuer is looked up by name and is not found) */
        {
                X509 *other = make_x509("other CA", k.key, NULL, NULL, -DAY, DAY, true);
                x = make_x509("stranger", k.key, other, k.key, -DAY, DAY, false);
                snprintf(want, sizeof(want), "untrusted certificate: its issuer is not in '%s'", k.ca_pem);
                expect_cert_refused(open_signed(f, &k, "stranger.ova", x, k.ca_pem, &e), &e, want);
                X509_free(x);
                X509_free(other);
        }
        pki_free(&k);
}


/* Issue 12: the universal descriptor holds only hardware every importer
 * takes (no virtio item subtype, no serial type 21), per-configuration CIM
 * processor fields, xova's own hardware in markers; it still reads back
 * as virtio + serial; every consumer's descriptor parses too. */
static void test_ovf_descriptor_universal(void **state)
{
        struct fx *f = *state;
        size_t len;
        char *xml = write_xml(f, &len);

        assert_null(strstr(xml, "<rasd:ResourceSubType>virtio</rasd:ResourceSubType>"));
        assert_null(strstr(xml, "<rasd:ResourceType>21</rasd:ResourceType>"));
        assert_null(strstr(xml, "<rasd:ResourceType>20</rasd:ResourceType>"));
        assert_non_null(strstr(xml, "<rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>"));
        assert_non_null(strstr(xml, "<rasd:ResourceSubType>E1000</rasd:ResourceSubType>"));
        assert_non_null(strstr(xml, "<pasd:InstructionSet>DMTF:x86:64</pasd:InstructionSet>"));
        assert_non_null(strstr(xml, "<pasd:InstructionSet>DMTF:ARM:A64</pasd:InstructionSet>"));
        assert_non_null(strstr(xml, "<xova:DiskBus ovf:required=\"false\">virtio</xova:DiskBus>"));
        assert_non_null(strstr(xml, "vmw:osType=\"other5xLinux64Guest\""));
        free(xml);

        for (enum ovf_consumer c = OVF_FOR_ALL; c <= OVF_FOR_LIBVIRT; c++) {
                struct ovf_descriptor *d = NULL, *sub = NULL;
                struct xerr e = { 0 };
                char *x = NULL;
                size_t n = 0;

                assert_int_equal(ovf_descriptor_subset(&f->d, "aarch64", &sub, &e), 0);
                assert_int_equal(ovf_descriptor_write_for(sub, c, &x, &n, &e), 0);
                assert_int_equal(ovf_descriptor_parse(x, n, "t.ovf", &d, &e), 0);
                assert_int_equal(d->n_vms, 1);
                assert_string_equal(d->vms[0].arch->name, "aarch64");
                assert_string_equal(d->vms[0].disk_bus, "virtio");
                assert_string_equal(d->vms[0].console, "serial");
                assert_int_equal(d->vms[0].n_disks, 3);
                if (c == OVF_FOR_VMWARE) {
                        assert_non_null(strstr(x, "vmw:osType=\"arm-other6xlinux-64\""));
                        assert_non_null(strstr(x, "<vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>"));
                        assert_non_null(strstr(x, "vmware.sata.ahci"));
                }
                if (c == OVF_FOR_VIRTUALBOX)
                        assert_non_null(strstr(x, "<Platform architecture=\"ARM\">"));
                free(x);
                ovf_descriptor_free(d);
                ovf_descriptor_free(sub);
        }
}

/* A descriptor from before the markers (virtio items, a serial item) still
 * reads as it did. */
static void test_ovf_descriptor_old_items(void **state)
{
        struct fx *f = *state;
        struct ovf_descriptor *d = NULL;
        struct xerr e = { 0 };
        size_t len;
        char *xml = write_xml(f, &len), *a, *b;

        a = replace(xml, "      <xova:DiskBus ovf:required=\"false\">virtio</xova:DiskBus>\n", "");
        b = replace(a, "      <xova:Console ovf:required=\"false\">serial</xova:Console>\n", "");
        free(a);
        a = replace(b, "<rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>",
                    "<rasd:ResourceSubType>virtio</rasd:ResourceSubType>");
        free(b);
        assert_int_equal(ovf_descriptor_parse(a, strlen(a), "t.ovf", &d, &e), 0);
        assert_string_equal(d->vms[0].disk_bus, "virtio");
        assert_null(d->vms[0].console);         /* neither an item nor a marker */
        assert_string_equal(d->vms[1].console, "serial");
        ovf_descriptor_free(d);
        free(a);
        free(xml);
}

static void test_ovf_descriptor_subset(void **state)
{
        struct fx *f = *state;
        struct ovf_descriptor *sub = NULL;
        struct xerr e = { 0 };

        fill_hrefs(f);
        assert_int_equal(ovf_descriptor_subset(&f->d, "x86_64", &sub, &e), 0);
        assert_int_equal(sub->n_vms, 1);
        assert_int_equal(sub->n_disks, 3);
        for (size_t j = 0; j < 3; j++)
                assert_string_equal(sub->disks[sub->vms[0].disks[j]].id, f->disks[f->att[0][j]].id);
        for (size_t i = 0; i < sub->n_disks; i++)
                assert_true(!sub->disks[i].arch || sub->disks[i].arch == sub->vms[0].arch);
        ovf_descriptor_free(sub);
        assert_int_equal(ovf_descriptor_subset(&f->d, "riscv64", &sub, &e), -ENOENT);
        /* what inspect says */
        assert_int_equal(ovf_descriptor_suits(&f->d, &f->d.vms[0], OVF_FOR_VMWARE), OVF_SUIT_AS_IS);
        assert_int_equal(ovf_descriptor_suits(&f->d, &f->d.vms[1], OVF_FOR_VMWARE), OVF_SUIT_EXPORT);
        assert_int_equal(ovf_descriptor_suits(&f->d, &f->d.vms[0], OVF_FOR_VIRTV2V), OVF_SUIT_EXPORT);
        assert_int_equal(ovf_descriptor_suits(&f->d, &f->d.vms[0], OVF_FOR_GLANCE), OVF_SUIT_NO);
}

/* ovf_export_for from a verified bundle: one arch's members, byte-equal */
static void test_ovf_export_for(void **state)
{
        struct fx *f = *state;
        struct ovf_bundle *b = NULL, *x = NULL;
        struct ovf_descriptor *d = NULL;
        struct xerr e = { 0 };
        struct ovf_export_for_opts o = { .consumer = OVF_FOR_VMWARE, .arch = "aarch64", .epoch = 1700000000 };
        char *out = path_in(f, "arm.ova"), *cmd = NULL, *got;

        assert_int_equal(export(f, "src.ova", OVF_EXPORT_OVA, OVF_DISK_VMDK_STREAM, NULL, NULL, false, &e), 0);
        assert_int_equal(open_bundle(f, "src.ova", &(struct ovf_open_opts){ 0 }, &b, &e), 0);
        assert_int_equal(ovf_export_for(b, out, &o, &d, &e), 0);
        assert_int_equal(d->n_disks, 3);
        assert_int_equal(open_bundle(f, "arm.ova", &(struct ovf_open_opts){ 0 }, &x, &e), 0);
        assert_int_equal(ovf_bundle_n_members(x), 5);
        assert_int_equal(ovf_bundle_descriptor(x)->n_vms, 1);
        /* an existing target is refused */
        assert_int_equal(ovf_export_for(b, out, &o, NULL, &e), -EEXIST);
        /* Glance: one disk only */
        o.consumer = OVF_FOR_GLANCE;
        o.force = true;
        assert_int_equal(ovf_export_for(b, out, &o, NULL, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "--layout single"));
        assert_true(asprintf(&cmd, "cd '%s' && mkdir s a && tar xf src.ova -C s && tar xf arm.ova -C a && "
                             "cmp s/hello-root-aarch64.vmdk a/hello-root-aarch64.vmdk && echo same", f->dir) > 0);
        got = run_out(cmd);
        assert_string_equal(got, "same");
        free(got);
        free(cmd);
        ovf_descriptor_free(d);
        ovf_bundle_free(x);
        ovf_bundle_free(b);
        free(out);
}

/* the VMDK's embedded descriptor names the file it is in */
static void test_ovf_vmdk_extent_name(void **state)
{
        struct fx *f = *state;
        char *raw = path_in(f, "r.img"), *vmdk = path_in(f, "named.vmdk");
        int in, out;
        struct ovf_vmdk_info info;
        struct xerr e = { 0 };
        char buf[4096];

        write_file(raw, "xova", 4);
        assert_int_equal(truncate(raw, 65536), 0);
        in = open(raw, O_RDONLY | O_CLOEXEC);
        out = open(vmdk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(in >= 0 && out >= 0);
        assert_int_equal(ovf_vmdk_write_named(in, 65536, out, "s", "named.vmdk", 1, NULL, &info, &e), 0);
        assert_int_equal(pread(out, buf, sizeof(buf) - 1, 512), (ssize_t) sizeof(buf) - 1);
        buf[sizeof(buf) - 1] = '\0';
        assert_non_null(strstr(buf, "RW 128 SPARSE \"named.vmdk\"\n"));
        assert_int_equal(ovf_vmdk_write_named(in, 65536, out, "s", "a\"b.vmdk", 1, NULL, &info, &e), -EINVAL);
        close(in);
        close(out);
        free(raw);
        free(vmdk);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_roundtrip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_universal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_old_items, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_subset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_export_for, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_vmdk_extent_name, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_secure_boot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_xmllint, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_hostile, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_duplicates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_write_refuses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_manifest_parse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_export_ova_reproducible, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_export_dir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_manifest_names_itself, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_export_vmdk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_export_refuses_existing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_sign_verify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_messages_escaped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_usage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_expired, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_not_yet_valid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_self_signed_untrusted, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
