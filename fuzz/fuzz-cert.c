/* SPDX-License-Identifier: MIT */
/*
 * fuzz-cert - the .cert reader: ovf_cert_verify() (internal to ovf/, from
 * ovf-internal.h) on the input as the certificate member: the signature
 * line, the hex signature, the PEM certificate (OpenSSL), the key type and
 * the RSA/SHA-256 signature over a fixed manifest.
 *
 * The manifest is FUZZ_CERT_MF below; fuzz/seeds.sh signs the same bytes
 * with a throw-away key, so the seeds reach the end of the function. When
 * the signature holds and $XOVA_FUZZ_CA names a PEM file (fuzz/run.sh sets
 * it to the seed's self-signed certificate), the chain check runs too.
 */
#include "config.h"

#include "fuzz/fuzz.h"
#include "ovf/ovf-internal.h"

/* keep in sync with fuzz/seeds.sh */
#define FUZZ_CERT_MF "SHA256(fuzz.ovf)= 0000000000000000000000000000000000000000000000000000000000000000\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char mf[] = FUZZ_CERT_MF;
        const char *ca = getenv("XOVA_FUZZ_CA");
        char *subject = NULL;
        struct xerr e = { 0 };
        int r;

        r = ovf_cert_verify("fuzz.cert", (const char *) data, size, "fuzz.mf", mf, sizeof(mf) - 1, NULL,
                            &subject, &e);
        fuzz_check_err("ovf_cert_verify", r, &e);
        if (r < 0)
                return 0;
        if (!subject)
                fuzz_fail("ovf_cert_verify succeeded without a subject");
        free(subject);
        subject = NULL;
        if (ca && *ca) {
                e = (struct xerr) { 0 };
                r = ovf_cert_verify("fuzz.cert", (const char *) data, size, "fuzz.mf", mf, sizeof(mf) - 1,
                                    ca, &subject, &e);
                fuzz_check_err("ovf_cert_verify (with CA)", r, &e);
                free(subject);
        }
        return 0;
}
