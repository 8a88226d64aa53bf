/* SPDX-License-Identifier: MIT */
/* xova verify: open a bundle with ovf_bundle_open() (which verifies it) and report. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "ovf/ovf.h"

void verb_verify_help(void)
{
        printf("Usage: xova verify [OPTIONS] BUNDLE\n"
               "\n"
               "Check a bundle (an OVA file or an OVF directory) without unpacking it:\n"
               "its tar structure (bare regular members, descriptor first), the\n"
               "descriptor, every SHA-256 digest in the manifest, the signature in the\n"
               ".cert member if there is one, and each VMDK disk's structure.\n"
               "\n"
               "Options:\n"
               "      --ca PEM              also check the signer's certificate against the\n"
               "                            CA certificates in PEM (implies a signature)\n"
               "      --require-signature   fail when the bundle is not signed\n"
               "      --json                print the result as JSON on stdout\n"
               "  -h, --help                show this help and exit\n"
               "  -V, --version             show the version and exit\n"
               "\n"
               "Exit status: 0 verified, 1 error (e.g. cannot read), 2 usage,\n"
               "3 verification failed. See xova-verify(1).\n");
}

enum {
        ARG_JSON = CLI_ARG_VERB,
};

const struct option verb_verify_options[] = {
        CLI_CA_LONGOPT,
        CLI_REQUIRE_SIGNATURE_LONGOPT,
        { "json", no_argument, NULL, ARG_JSON },
        CLI_COMMON_LONGOPTS,
        {}
};

/* Outside text (a certificate subject, a path, an error quoting a
 * bundle) for a terminal or a JSON value: one escaping rule
 * (common/escape.c). JSON keeps backslashes as they are (json-c escapes
 * them), but C0, C1, bidi and invalid UTF-8 are escaped there too: json-c
 * would write C0 as \u001b, which "jq -r" turns back into a raw ESC. */
static char *escaped(const char *s, unsigned flags)
{
        size_t len = s ? strlen(s) : 0, size = 8 * len + 4;
        char *c = malloc(size);

        return c ? (char *) xova_escape(c, size, s ? s : "", len, flags) : NULL;
}

static json_object *json_escaped(const char *s)
{
        _cleanup_free_ char *c = s ? escaped(s, 0) : NULL;

        return c ? json_object_new_string(c) : NULL;
}

static int print_json(json_object *o)
{
        int r = puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return r < 0 ? -EIO : 0;
}

int verb_verify(int argc, char **argv, const struct cli_bundle_opts *bo)
{
        _cleanup_(ovf_bundle_freep) struct ovf_bundle *b = NULL;
        struct ovf_open_opts oo = { .ca_file = bo->ca_file, .require_signature = bo->require_signature };
        _cleanup_free_ char *signer = NULL, *shown_path = NULL, *shown_ca = NULL;
        bool json = false;
        struct xerr e = { 0 };
        const char *path;
        int r;

        cli_getopt_flags(argc, argv, (const struct cli_flag[]) { { ARG_JSON, &json }, { 0, NULL } });
        path = argv[optind];

        r = ovf_bundle_open(path, &oo, &b, &e);
        if (r < 0) {
                if (json) {
                        char buf[1024];
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "bundle", json_escaped(path));
                        json_object_object_add(o, "verified", json_object_new_boolean(0));
                        json_object_object_add(o, "error", json_escaped(xerr_format(&e, buf, sizeof(buf))));
                        print_json(o);
                }
                return cli_error(&e);
        }
        signer = escaped(ovf_bundle_signer(b), 0);
        shown_path = escaped(path, 0);
        shown_ca = escaped(oo.ca_file, 0);
        if (!signer || !shown_path || !shown_ca)
                return cli_error(&(struct xerr){ .code = -ENOMEM, .msg = "out of memory" });
        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "bundle", json_escaped(path));
                json_object_object_add(o, "verified", json_object_new_boolean(1));
                json_object_object_add(o, "members", json_object_new_int64((int64_t) ovf_bundle_n_members(b)));
                json_object_object_add(o, "signed", json_object_new_boolean(ovf_bundle_signer(b) != NULL));
                json_object_object_add(o, "signer", json_escaped(ovf_bundle_signer(b)));
                json_object_object_add(o, "signer_trusted", json_object_new_boolean(ovf_bundle_signer_trusted(b)));
                print_json(o);
                return 0;
        }
        if (!ovf_bundle_signer(b))
                printf("%s: OK (%zu members, not signed)\n", shown_path, ovf_bundle_n_members(b));
        else if (ovf_bundle_signer_trusted(b))
                printf("%s: OK (%zu members, signed by %s, trusted by %s)\n", shown_path,
                       ovf_bundle_n_members(b), signer, shown_ca);
        else
                printf("%s: OK (%zu members, signed by %s; certificate not checked against a CA, see --ca)\n",
                       shown_path, ovf_bundle_n_members(b), signer);
        return 0;
}
