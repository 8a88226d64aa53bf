/* SPDX-License-Identifier: MIT */
/*
 * mkbundle - test helper: makes small raw images (boot, root per arch, data)
 * and a two-arch descriptor model, then calls ovf_export(). Used by
 * tests/cli/verify.sh so the CLI tests need no real appliance build.
 *
 * mkbundle [--dir] [--vmdk] [--key KEY.pem --cert CERT.pem] [--force] [--firmware FW] OUT
 * (--firmware: the descriptor's firmware for every VM, default "efi"; the
 * hv/ tests make a "bios" bundle with it)
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ovf/ovf.h"

static int make_image(const char *path, uint64_t size, unsigned pattern)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        char buf[4096];

        if (fd < 0 || ftruncate(fd, (off_t) size) < 0)
                return -errno;
        /* a few non-zero blocks spread over the image, the rest holes */
        for (uint64_t off = 0; off < size; off += 256 * 1024) {
                memset(buf, 0, sizeof(buf));
                snprintf(buf, sizeof(buf), "xova test image block at %llu pattern %u\n",
                         (unsigned long long) off, pattern);
                if (xova_pwrite_all(fd, buf, sizeof(buf), (off_t) off) < 0)
                        return -errno;
        }
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "dir", no_argument, NULL, 'd' },
                { "vmdk", no_argument, NULL, 'v' },
                { "firmware", required_argument, NULL, 'F' },
                { "key", required_argument, NULL, 'k' },
                { "cert", required_argument, NULL, 'c' },
                { "force", no_argument, NULL, 'f' },
                {}
        };
        struct ovf_export_opts o = { .format = OVF_EXPORT_OVA, .disk_format = OVF_DISK_RAW, .seed = "test" };
        struct ovf_disk disks[4] = { 0 };
        struct ovf_vm vms[2] = { 0 };
        size_t att[2][3] = { { 0, 1, 3 }, { 0, 2, 3 } };
        struct ovf_descriptor d = { 0 };
        static const char *ids[] = { "boot", "root-x86_64", "root-aarch64", "data" };
        static const char *roles[] = { "boot", "root", "root", "data" };
        const char *firmware = "efi";
        char *work = NULL;
        struct xerr e = { 0 };
        char buf[1024];
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'd': o.format = OVF_EXPORT_DIR; break;
                case 'v': o.disk_format = OVF_DISK_VMDK_STREAM; break;
                case 'k': o.sign_key = optarg; break;
                case 'c': o.sign_cert = optarg; break;
                case 'f': o.force = true; break;
                case 'F': firmware = optarg; break;
                default: return 2;
                }
        if (optind + 1 != argc) {
                fprintf(stderr, "usage: mkbundle [--dir] [--vmdk] [--key K --cert C] [--force] OUT\n");
                return 2;
        }
        if (xova_source_date_epoch(&o.epoch, &e) < 0 || xova_workdir_new(NULL, &work, &e) < 0) {
                fprintf(stderr, "mkbundle: %s\n", xerr_format(&e, buf, sizeof(buf)));
                return 1;
        }
        for (size_t i = 0; i < 4; i++) {
                disks[i].id = (char *) ids[i];
                disks[i].role = (char *) roles[i];
                disks[i].arch = i == 1 ? xova_arch_by_name("x86_64") : i == 2 ? xova_arch_by_name("aarch64") : NULL;
                disks[i].source = xova_path_join(work, ids[i]);
                if (!disks[i].source || make_image(disks[i].source, (i == 0 ? 1 : 2) << 20, (unsigned) i) < 0) {
                        fprintf(stderr, "mkbundle: cannot make %s\n", ids[i]);
                        return 1;
                }
        }
        for (size_t i = 0; i < 2; i++) {
                vms[i].arch = &xova_arch_table[i];
                vms[i].vcpus = 2;
                vms[i].memory_mib = 512;
                vms[i].machine = (char *) xova_arch_table[i].qemu_machine;
                vms[i].firmware = (char *) firmware;
                vms[i].disk_bus = (char *) "virtio";
                vms[i].nic_model = (char *) "virtio";
                vms[i].console = (char *) "serial";
                vms[i].disks = att[i];
                vms[i].n_disks = 3;
        }
        d.name = (char *) "hello";
        d.version = (char *) "1.0";
        d.vendor = (char *) "xova tests <&>";
        d.description = (char *) "a test appliance";
        d.disks = disks;
        d.n_disks = 4;
        d.vms = vms;
        d.n_vms = 2;
        r = ovf_export(argv[optind], &d, &o, &e);
        for (size_t i = 0; i < 4; i++) {
                free(disks[i].source);
                free(disks[i].href);
        }
        xova_workdir_remove(work);
        free(work);
        if (r < 0) {
                fprintf(stderr, "mkbundle: %s\n", xerr_format(&e, buf, sizeof(buf)));
                return 1;
        }
        return 0;
}
