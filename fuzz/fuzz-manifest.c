/* SPDX-License-Identifier: MIT */
/*
 * fuzz-manifest - the .mf reader: ovf_manifest_parse() on the input (not
 * NUL-terminated, as the API allows). A manifest that parses must survive
 * ovf_manifest_format() -> ovf_manifest_parse() unchanged, and every entry
 * must be found again by ovf_manifest_find().
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "ovf/ovf-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct ovf_manifest *m = NULL, *m2 = NULL;
        struct xerr e = { 0 };
        char *text = NULL;
        size_t text_len = 0;
        int r;

        r = ovf_manifest_parse((const char *) data, size, "fuzz.mf", &m, &e);
        fuzz_check_err("ovf_manifest_parse", r, &e);
        if (r < 0)
                return 0;
        if (!m)
                fuzz_fail("ovf_manifest_parse succeeded without a result");
        for (size_t i = 0; i < m->n; i++) {
                size_t line = 0;
                const struct ovf_manifest_entry *me = ovf_manifest_find(m, m->entries[i].name, &line);
                if (!me || line == 0 || line > m->n)
                        fuzz_fail("ovf_manifest_find misses a parsed entry");
        }
        /* round trip: what we write we read back the same */
        if (ovf_manifest_format(m, &text, &text_len) < 0)
                fuzz_fail("ovf_manifest_format failed on a parsed manifest");
        e = (struct xerr) { 0 };
        r = ovf_manifest_parse(text, text_len, "fuzz.mf (formatted)", &m2, &e);
        fuzz_check_err("ovf_manifest_parse", r, &e);
        if (r < 0) {
                fprintf(stderr, "fuzz: re-parse: %s: %s\n", e.where, e.msg);
                fuzz_fail("a formatted manifest does not parse again");
        }
        if (m2->n != m->n)
                fuzz_fail("manifest round trip changed the number of entries");
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->entries[i].name, m2->entries[i].name) != 0 ||
                    memcmp(m->entries[i].sha256, m2->entries[i].sha256, 32) != 0)
                        fuzz_fail("manifest round trip changed an entry");
        free(text);
        ovf_manifest_free(m2);
        ovf_manifest_free(m);
        return 0;
}
