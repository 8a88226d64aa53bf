/* SPDX-License-Identifier: MIT */
/*
 * fuzz-spec - the appliance spec reader (xova.json(5)): appliance_parse()
 * on the input as a whole file (json-c, UTF-8 and NUL checks, unknown and
 * duplicate keys, sizes, names, paths, cmdline checks). Referenced files
 * are not opened. On success the accessors are walked.
 */
#include "config.h"

#include "appliance/appliance.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct appliance *a = NULL;
        struct xerr e = { 0 };
        int r;

        r = appliance_parse((const char *) data, size, "/fuzz/spec/xova.json", &a, &e);
        fuzz_check_err("appliance_parse", r, &e);
        if (r < 0)
                return 0;
        if (!a)
                fuzz_fail("appliance_parse succeeded without a result");
        (void) appliance_layout_name(a->layout);
        for (size_t i = 0; i < a->n_archs; i++) {
                if (!a->archs[i].arch || !a->archs[i].kernel)
                        fuzz_fail("architecture without arch or kernel after a successful parse");
                if (appliance_arch_get(a, a->archs[i].arch->name) == NULL)
                        fuzz_fail("appliance_arch_get does not find a parsed architecture");
                (void) appliance_root_disk(a, a->archs[i].arch);
        }
        for (size_t i = 0; i < a->n_disks; i++)
                if (!a->disks[i].name)
                        fuzz_fail("disk without a name after a successful parse");
        appliance_free(a);
        return 0;
}
