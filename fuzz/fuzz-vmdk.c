/* SPDX-License-Identifier: MIT */
/*
 * fuzz-vmdk - the streamOptimized VMDK reader: ovf_vmdk_check() on the
 * input as a whole file (header, footer, embedded descriptor, grain
 * directory and tables, the marker stream, inflate bounds), twice:
 *   1. out_fd = -1, as ovf_bundle_open() validates a disk member;
 *   2. only if 1. accepted it, decoding to a memfd (tmpfs, sparse), as a
 *      conversion to raw does; the result must agree with 1.
 * and once more at a non-zero offset inside a larger file (as a member of
 * an OVA is read), which must give the same answer as 1.
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "ovf/ovf.h"

#define MEMBER_OFFSET 1536              /* 3 tar blocks in front, as in an OVA */

static int in_fd = -1, in2_fd = -1, out_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t junk[MEMBER_OFFSET] = { 0xff };
        uint64_t cap = 0, cap2 = 0, cap3 = 0;
        struct xerr e = { 0 };
        struct stat st;
        int r, r2;

        if (in_fd < 0) {
                in_fd = fuzz_memfd("fuzz.vmdk");
                in2_fd = fuzz_memfd("fuzz.ova");
                out_fd = fuzz_memfd("fuzz.raw");
        }
        fuzz_memfd_set(in_fd, data, size);

        r = ovf_vmdk_check(in_fd, 0, size, "fuzz.vmdk", -1, &cap, &e);
        fuzz_check_err("ovf_vmdk_check", r, &e);

        /* the same bytes as a member at an offset, with non-zero bytes around */
        fuzz_memfd_set(in2_fd, junk, sizeof(junk));
        if ((size > 0 && xova_pwrite_all(in2_fd, data, size, MEMBER_OFFSET) < 0) ||
            xova_pwrite_all(in2_fd, junk, sizeof(junk), (off_t) (MEMBER_OFFSET + size)) < 0)
                fuzz_fail("cannot write the member copy");
        e = (struct xerr) { 0 };
        r2 = ovf_vmdk_check(in2_fd, MEMBER_OFFSET, size, "fuzz.ova: member 'fuzz.vmdk'", -1, &cap2, &e);
        fuzz_check_err("ovf_vmdk_check (at an offset)", r2, &e);
        if ((r < 0) != (r2 < 0) || cap != cap2)
                fuzz_fail("ovf_vmdk_check answers differently at an offset");
        if (r < 0)
                return 0;

        /* decode: must succeed too and give a raw image of the capacity */
        e = (struct xerr) { 0 };
        r = ovf_vmdk_check(in_fd, 0, size, "fuzz.vmdk", out_fd, &cap3, &e);
        fuzz_check_err("ovf_vmdk_check (decoding)", r, &e);
        if (r < 0) {
                fprintf(stderr, "fuzz: decode: %s: %s\n", e.where, e.msg);
                fuzz_fail("a VMDK that checks does not decode");
        }
        if (cap3 != cap || fstat(out_fd, &st) < 0 || (uint64_t) st.st_size != cap)
                fuzz_fail("decoded raw image size differs from the capacity");
        /* give the tmpfs pages back */
        if (ftruncate(out_fd, 0) < 0)
                fuzz_fail("cannot truncate the raw output");
        return 0;
}
