/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ovf/: descriptor round trip and hardening, manifest,
 * certificate, OVA/OVF-directory export, and the bundle reader against
 * hostile OVAs generated here with libarchive's writer, or block by block
 * where a header must say what that writer never would (each byte explained
 * by the code that makes it).
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

#include "ovf/ovf-internal.h"

/* ---- fixtures ------------------------------------------------------------ */

struct fx {
        char *dir;
        struct ovf_descriptor d;
        struct ovf_disk disks[4];
        struct ovf_vm vms[2];
        size_t att[2][3];
};

static char *path_in(const struct fx *f, const char *name)
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

static int setup(void **state)
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

static int teardown(void **state)
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
static void fill_hrefs(struct fx *f)
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

static char *write_xml(struct fx *f, size_t *len)
{
        struct xerr e = { 0 };
        char *xml = NULL;

        fill_hrefs(f);
        assert_int_equal(ovf_descriptor_write(&f->d, &xml, len, &e), 0);
        return xml;
}

/* Returns a copy of s with the first occurrence of from replaced by to. */
static char *replace(const char *s, const char *from, const char *to)
{
        const char *p = strstr(s, from);
        char *out = NULL;

        assert_non_null(p);
        assert_true(asprintf(&out, "%.*s%s%s", (int) (p - s), s, to, p + strlen(from)) > 0);
        return out;
}

static void write_file(const char *path, const void *buf, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(xova_write_all(fd, buf, len), 0);
        close(fd);
}

static char *run_out(const char *cmd)
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
        static const char proc_x86[] = "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>\n      </Item>";
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
                { proc_x86, "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>\n      </Item>\n      <Item "
                  "ovf:configuration=\"x86_64\"><rasd:InstanceID>99</rasd:InstanceID><rasd:ResourceType>3"
                  "</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>",
                  "a second processor item for configuration 'x86_64'" },
                { proc_x86, "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>\n      </Item>\n      <Item>"
                  "<rasd:InstanceID>99</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>"
                  "<rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>",
                  "a second processor item for configuration 'x86_64'" },
                { proc_x86, "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>\n      </Item>\n      <Item "
                  "ovf:configuration=\"x86_64\"><rasd:InstanceID>98</rasd:InstanceID><rasd:AllocationUnits>"
                  "byte * 2^20</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType>"
                  "<rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>",
                  "a second memory item for configuration 'x86_64'" },
                { proc_x86, "<rasd:VirtualQuantity>2</rasd:VirtualQuantity>\n      </Item>\n      <Item "
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

static int export(struct fx *f, const char *name, enum ovf_export_format fmt, enum ovf_disk_format df,
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

static int open_bundle(struct fx *f, const char *name, const struct ovf_open_opts *o, struct ovf_bundle **b,
                       struct xerr *e)
{
        char *p = path_in(f, name);
        int r = ovf_bundle_open(p, o, b, e);
        free(p);
        return r;
}

static void slurp(const char *path, char **buf, size_t *len)
{
        struct xerr e = { 0 };
        assert_int_equal(xova_read_file(path, 1 << 30, buf, len, &e), 0);
}

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

struct member_spec {
        const char *name;
        unsigned type;                  /* AE_IFREG, AE_IFLNK, AE_IFDIR, AE_IFIFO; 1 = hard link */
        const char *data;
        size_t len;
        const char *link;
};

struct good {
        char *names[8];
        char *data[8];
        size_t lens[8];
        size_t n;
};

static void read_good(struct fx *f, struct good *g)
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

static void free_good(struct good *g)
{
        for (size_t i = 0; i < g->n; i++) {
                free(g->names[i]);
                free(g->data[i]);
        }
}

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

static void expect_open_fail(struct fx *f, const char *name, const char *expect)
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

/* ---- hostile tar headers, written byte by byte ------------------------------ */

/*
 * libarchive's writer never writes a pax path that contradicts the ustar
 * name, a negative size or a bad checksum, so these archives are built here
 * one 512-byte block at a time. A ustar header (POSIX.1-1988) is
 *   name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1]
 *   linkname[100] magic[6] version[2] uname[32] gname[32] devmajor[8]
 *   devminor[8] prefix[155], then 12 bytes of padding;
 * numbers are octal text, or (GNU base-256) binary when the first byte has
 * its top bit set. The archive ends with two zero blocks.
 */
#define TAR_BLOCK 512
#define TAR_SIZE_OFF 124
#define TAR_CHKSUM_OFF 148

struct rawtar {
        char *buf;
        size_t len;
};

/* appends n bytes of p, or n zero bytes if p is NULL */
static void raw_append(struct rawtar *t, const void *p, size_t n)
{
        t->buf = realloc(t->buf, t->len + n);
        assert_non_null(t->buf);
        if (p)
                memcpy(t->buf + t->len, p, n);
        else
                memset(t->buf + t->len, 0, n);
        t->len += n;
}

static void raw_pad(struct rawtar *t)
{
        raw_append(t, NULL, (TAR_BLOCK - t->len % TAR_BLOCK) % TAR_BLOCK);
}

/* octal digits, right-aligned, NUL-terminated, in a field of `size` bytes */
static void raw_octal(char *field, size_t size, uint64_t v)
{
        memset(field, '0', size - 1);
        field[size - 1] = '\0';
        for (size_t i = size - 1; i-- > 0 && v; v >>= 3)
                field[i] = (char) ('0' + (v & 7));
}

/* The checksum: the sum of the header's bytes with the chksum field read as
 * eight spaces, stored as six octal digits, NUL, space. Call after every
 * edit of the header at `off`, unless the test wants it wrong. */
static void raw_checksum(struct rawtar *t, size_t off)
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
static size_t raw_header(struct rawtar *t, const char *name, char type, uint64_t size)
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
static size_t raw_entry(struct rawtar *t, const char *name, char type, const void *data, size_t len)
{
        size_t off = raw_header(t, name, type, len);

        raw_append(t, data, len);
        raw_pad(t);
        return off;
}

static size_t raw_member(struct rawtar *t, const char *name, const void *data, size_t len)
{
        return raw_entry(t, name, '0', data, len);
}

/* one pax record "LEN key=value\n", LEN counting the whole record, its own
 * digits included */
static char *pax_record(const char *key, const char *value)
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
static void raw_good(struct rawtar *t, const struct good *g, size_t from, size_t to)
{
        for (size_t i = from; i < to; i++)
                raw_member(t, g->names[i], g->data[i], g->lens[i]);
}

static void raw_end(struct rawtar *t)
{
        raw_append(t, NULL, 2 * TAR_BLOCK);
}

static void raw_write(struct fx *f, const char *name, const struct rawtar *t)
{
        char *p = path_in(f, name);

        write_file(p, t->buf, t->len);
        free(p);
}

static void expect_open_ok(struct fx *f, const char *name)
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
static void raw_read_good(struct fx *f, struct good *g)
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
                /* the issue's case: GNU tar and Python apply path= and size=
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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ovf_descriptor_roundtrip, setup, teardown),
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
                cmocka_unit_test_setup_teardown(test_ovf_messages_escaped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_usage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_expired, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_not_yet_valid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ovf_cert_self_signed_untrusted, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
