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

/* Certificate subjects come from the bundle: never print their control characters. */
static char *printable(const char *s)
{
        char *c = strdup(s ? s : "");

        for (char *p = c; p && *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return c;
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
        _cleanup_free_ char *signer = NULL;
        bool json = false;
        struct xerr e = { 0 };
        const char *path;
        int c, r;

        while ((c = cli_getopt(argc, argv)) != -1) {
                switch (c) {
                case ARG_JSON:
                        json = true;
                        break;
                CLI_HANDLED_OPTIONS:
                default:
                        break;
                }
        }
        path = argv[optind];

        r = ovf_bundle_open(path, &oo, &b, &e);
        if (r < 0) {
                if (json) {
                        char buf[1024];
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "bundle", json_object_new_string(path));
                        json_object_object_add(o, "verified", json_object_new_boolean(0));
                        json_object_object_add(o, "error", json_object_new_string(xerr_format(&e, buf, sizeof(buf))));
                        print_json(o);
                }
                return cli_error(&e);
        }
        signer = printable(ovf_bundle_signer(b));
        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "bundle", json_object_new_string(path));
                json_object_object_add(o, "verified", json_object_new_boolean(1));
                json_object_object_add(o, "members", json_object_new_int64((int64_t) ovf_bundle_n_members(b)));
                json_object_object_add(o, "signed", json_object_new_boolean(ovf_bundle_signer(b) != NULL));
                json_object_object_add(o, "signer", ovf_bundle_signer(b) ? json_object_new_string(ovf_bundle_signer(b))
                                                                         : NULL);
                json_object_object_add(o, "signer_trusted", json_object_new_boolean(ovf_bundle_signer_trusted(b)));
                print_json(o);
                return 0;
        }
        if (!ovf_bundle_signer(b))
                printf("%s: OK (%zu members, not signed)\n", path, ovf_bundle_n_members(b));
        else if (ovf_bundle_signer_trusted(b))
                printf("%s: OK (%zu members, signed by %s, trusted by %s)\n", path, ovf_bundle_n_members(b), signer,
                       oo.ca_file);
        else
                printf("%s: OK (%zu members, signed by %s; certificate not checked against a CA, see --ca)\n",
                       path, ovf_bundle_n_members(b), signer);
        return 0;
}
