/* SPDX-License-Identifier: MIT */
/*
 * fuzz-tar - the OVA reader as a whole: ovf_bundle_open() on the input as
 * an OVA file. This is the tar member filter (libarchive limited to tar,
 * names, types, sizes, order, duplicates, caps, the pread() cross-check,
 * trailing data), then everything a bundle drives: descriptor, manifest,
 * digests, .cert and the VMDK check of each disk. The filter's helpers are
 * static in ovf/bundle.c, so this is the only way in.
 *
 * The input is written to a memfd and opened through /proc/self/fd/N, so a
 * crash input is a plain .ova that `xova verify` reproduces.
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "ovf/ovf.h"

static int ova_fd = -1;
static char ova_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const struct ovf_open_opts o = { 0 };
        struct ovf_bundle *b = NULL;
        struct xerr e = { 0 };
        int r, free_fd;

        if (ova_fd < 0) {
                ova_fd = fuzz_memfd("fuzz.ova");
                snprintf(ova_path, sizeof(ova_path), "/proc/self/fd/%d", ova_fd);
        }
        fuzz_memfd_set(ova_fd, data, size);
        free_fd = fuzz_lowest_free_fd();

        r = ovf_bundle_open(ova_path, &o, &b, &e);
        fuzz_check_err("ovf_bundle_open", r, &e);
        if (r < 0) {
                if (fuzz_lowest_free_fd() != free_fd)
                        fuzz_fail("ovf_bundle_open failed and left a file descriptor open");
                return 0;
        }
        if (!b || !ovf_bundle_descriptor(b))
                fuzz_fail("ovf_bundle_open succeeded without a bundle or descriptor");
        for (size_t i = 0; i < ovf_bundle_n_members(b); i++) {
                const char *name;
                uint64_t off, sz;
                if (ovf_bundle_member(b, i, &name, &off, &sz) < 0 || !name || off > size || sz > size - off)
                        fuzz_fail("a verified member lies outside the bundle");
        }
        for (size_t i = 0; i < ovf_bundle_descriptor(b)->n_disks; i++) {
                const char *file;
                uint64_t off, sz;
                e = (struct xerr) { 0 };
                r = ovf_bundle_disk_location(b, i, &file, &off, &sz, &e);
                fuzz_check_err("ovf_bundle_disk_location", r, &e);
                if (r < 0 || off > size || sz > size - off)
                        fuzz_fail("a verified disk lies outside the bundle");
                if (ovf_bundle_disk_fd(b, i) < 0)
                        fuzz_fail("a verified disk has no fd");
        }
        (void) ovf_bundle_signer(b);
        ovf_bundle_free(b);
        if (fuzz_lowest_free_fd() != free_fd)
                fuzz_fail("ovf_bundle_free left a file descriptor open");
        return 0;
}
