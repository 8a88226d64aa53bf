/* SPDX-License-Identifier: MIT */
/*
 * mkusp - test helper for tests/integration/usp-boot.sh: builds one raw GPT
 * image holding a USP for every arch in the table (kernel and initrd from
 * the fixtures, GRUB modules from the fixtures) and an empty 1 MiB root
 * partition per arch (DPS type), whose PARTUUID goes on that arch's kernel
 * cmdline. Prints "<arch> <root partuuid>" per arch on stdout.
 *
 * Usage: mkusp OUT.img [SEED]   (XOVA_FIXTURES names the fixture cache)
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "bootpart/bootpart.h"

static int fail(const struct xerr *e)
{
        char buf[1024];
        fprintf(stderr, "mkusp: error: %s\n", xerr_format(e, buf, sizeof(buf)));
        return 1;
}

int main(int argc, char **argv)
{
        const char *fix = getenv("XOVA_FIXTURES");
        const char *seed = argc > 2 ? argv[2] : "xova-usp-boot-test";
        struct bootpart_payload pl[8] = { 0 };
        struct bootpart_gpt_part parts[1 + 8] = { 0 };
        char kern[8][512], initrd[8][512], names[8][40], grubroot[512];
        const char *grub_dirs[2] = { grubroot, NULL };
        struct xerr e = { 0 };
        char *work = NULL;
        uint8_t disk_guid[16];
        uint64_t usp, disk;
        size_t n = xova_arch_count;
        int r;

        if (argc < 2 || argc > 3 || n > 8) {
                fprintf(stderr, "usage: mkusp OUT.img [SEED]\n");
                return 2;
        }
        if (!fix || !*fix)
                fix = "tests/fixtures/cache";
        snprintf(grubroot, sizeof(grubroot), "%s/grub", fix);
        for (size_t i = 0; i < n; i++) {
                const struct xova_arch *a = &xova_arch_table[i];
                char token[64];

                snprintf(kern[i], sizeof(kern[i]), "%s/%s/vmlinuz", fix, a->name);
                snprintf(initrd[i], sizeof(initrd[i]), "%s/%s/initrd.img", fix, a->name);
                if (access(kern[i], R_OK) < 0 || access(initrd[i], R_OK) < 0) {
                        fprintf(stderr, "mkusp: error: fixtures missing in %s (run "
                                "tests/fixtures/fetch.sh && tests/fixtures/mkinitrd.sh)\n", fix);
                        return 1;
                }
                snprintf(names[i], sizeof(names[i]), "root-%s", a->name);
                snprintf(token, sizeof(token), "part-root-%s", a->name);
                parts[1 + i] = (struct bootpart_gpt_part) { .name = names[i],
                                                            .type = a->dps_root_type,
                                                            .size = UINT64_C(1) << 20 };
                xova_derive_uuid(seed, token, parts[1 + i].uuid);
                pl[i] = (struct bootpart_payload) { .arch = a, .kernel = kern[i],
                                                    .initrd = initrd[i], .cmdline = "quiet" };
                xova_uuid_format(parts[1 + i].uuid, pl[i].root_partuuid);
        }

        r = xova_workdir_new(NULL, &work, &e);
        if (r < 0)
                return fail(&e);
        {
                struct bootpart_usp u = { .payloads = pl, .n_payloads = n, .grub_dirs = grub_dirs,
                                          .seed = seed, .epoch = 1700000000, .workdir = work };

                r = bootpart_usp_size(&u, &usp, &e);
                if (r >= 0) {
                        parts[0] = (struct bootpart_gpt_part) { .name = "USP",
                                                                .type = BOOTPART_TYPE_ESP,
                                                                .size = usp };
                        xova_derive_uuid(seed, "part-usp", parts[0].uuid);
                        xova_derive_uuid(seed, "disk", disk_guid);
                        r = bootpart_gpt_write(argv[1], disk_guid, parts, n + 1, &disk, &e);
                }
                if (r >= 0)
                        r = bootpart_usp_write(&u, argv[1], parts[0].offset, parts[0].size, NULL, &e);
        }
        xova_workdir_remove(work);
        free(work);
        if (r < 0)
                return fail(&e);
        for (size_t i = 0; i < n; i++)
                printf("%s %s\n", pl[i].arch->name, pl[i].root_partuuid);
        return fclose(stdout) == 0 ? 0 : 1;
}
