/* SPDX-License-Identifier: MIT */
/*
 * The .cert member (VMware's convention): a line
 *     SHA256(NAME.mf)= <hex RSA signature over the manifest bytes>
 * followed by the signer's PEM certificate. RSA PKCS#1 v1.5 with SHA-256
 * is deterministic, so a signed export is still reproducible.
 *
 * Verification checks the signature with the embedded certificate's key;
 * only with a CA file does it say anything about who signed (chain,
 * validity dates), and then each failure is named the way vCenter names it
 * (self-signed, untrusted, expired, not yet valid), with the subject and the
 * date of the certificate at fault: the signer's, or a CA's from the file.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "ovf/ovf-internal.h"

#define MAX_SIG_BYTES 1024     /* RSA-8192 */

/* cleanup helpers for OpenSSL objects (STYLE.md rule 7: no goto beside them) */
static inline void evp_pkey_freep(EVP_PKEY **p) { EVP_PKEY_free(*p); }
static inline void x509_freep(X509 **p) { X509_free(*p); }
static inline void evp_md_ctx_freep(EVP_MD_CTX **p) { EVP_MD_CTX_free(*p); }
static inline void x509_store_freep(X509_STORE **p) { X509_STORE_free(*p); }
static inline void x509_store_ctx_freep(X509_STORE_CTX **p) { X509_STORE_CTX_free(*p); }

static const char *ssl_error(char *buf, size_t size)
{
        unsigned long err = ERR_get_error();

        if (!err)
                return "unknown error";
        ERR_error_string_n(err, buf, size);
        ERR_clear_error();
        return buf;
}

static int load_pem_file(const char *path, char **ret, size_t *ret_len, struct xerr *e)
{
        return xova_read_file(path, 1024 * 1024, ret, ret_len, e);
}

/*
 * Why the certificate may not sign an OVF manifest, or NULL. A manifest
 * signature is a code or document signature: a keyUsage extension, when
 * present, must allow digitalSignature, and an extendedKeyUsage, when
 * present, must allow code signing, e-mail protection (S/MIME, what
 * document-signing CAs issue), document signing (RFC 9336, or Microsoft's
 * 1.3.6.1.4.1.311.10.3.12) or any usage. A TLS server certificate, say,
 * must not sign appliances. No extension at all is accepted (the usual
 * self-signed test certificate), as vCenter and ovftool accept it.
 */
static const char *signing_usage_problem(X509 *cert)
{
        EXTENDED_KEY_USAGE *eku;
        uint32_t ku, xku;
        bool doc = false;

        if (X509_get_extension_flags(cert) & EXFLAG_INVALID)
                return "its extensions cannot be parsed";
        ku = X509_get_key_usage(cert);
        if (ku != UINT32_MAX && !(ku & KU_DIGITAL_SIGNATURE))
                return "its key usage does not allow digitalSignature";
        xku = X509_get_extended_key_usage(cert);
        if (xku == UINT32_MAX || (xku & (XKU_CODE_SIGN | XKU_SMIME | XKU_ANYEKU)))
                return NULL;
        eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
        for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
                char oid[80];
                if (OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, i), 1) > 0 &&
                    (strcmp(oid, "1.3.6.1.5.5.7.3.36") == 0 || strcmp(oid, "1.3.6.1.4.1.311.10.3.12") == 0))
                        doc = true;
        }
        EXTENDED_KEY_USAGE_free(eku);
        return doc ? NULL : "its extended key usage allows neither code nor document signing";
}

int ovf_cert_sign(const char *mf_name, const void *mf, size_t mf_len, const char *key_path,
                  const char *cert_path, char **ret, size_t *ret_len, struct xerr *e)
{
        _cleanup_free_ char *key_pem = NULL, *cert_pem = NULL, *out = NULL;
        _cleanup_free_ unsigned char *sig = NULL;
        size_t key_len, cert_len, sig_len = 0, out_len = 0;
        _cleanup_(evp_pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_(evp_md_ctx_freep) EVP_MD_CTX *md = NULL;
        BIO *bio = NULL;
        FILE *f = NULL;
        char ebuf[256];
        int r;

        r = load_pem_file(key_path, &key_pem, &key_len, e);
        if (r < 0)
                return r;
        r = load_pem_file(cert_path, &cert_pem, &cert_len, e);
        if (r < 0)
                return r;

        bio = BIO_new_mem_buf(key_pem, (int) key_len);
        key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!key)
                return xerr_set(e, -EINVAL, key_path, "cannot read a PEM private key: %s", ssl_error(ebuf, sizeof(ebuf)));
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
                return xerr_set(e, -EINVAL, key_path, "not an RSA key (OVF signatures are RSA PKCS#1 v1.5)");
        bio = BIO_new_mem_buf(cert_pem, (int) cert_len);
        cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!cert)
                return xerr_set(e, -EINVAL, cert_path, "cannot read a PEM certificate: %s", ssl_error(ebuf, sizeof(ebuf)));
        if (signing_usage_problem(cert))
                return xerr_set(e, -EINVAL, cert_path, "not a signing certificate: %s", signing_usage_problem(cert));
        if (X509_check_private_key(cert, key) != 1) {
                ERR_clear_error();
                return xerr_set(e, -EINVAL, cert_path, "certificate does not match the key '%s'",
                                XOVA_ESC(key_path));
        }

        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
            EVP_DigestSign(md, NULL, &sig_len, mf, mf_len) != 1 || sig_len > MAX_SIG_BYTES ||
            !(sig = malloc(sig_len)) || EVP_DigestSign(md, sig, &sig_len, mf, mf_len) != 1)
                return xerr_set(e, -EIO, key_path, "cannot sign the manifest: %s", ssl_error(ebuf, sizeof(ebuf)));

        f = open_memstream(&out, &out_len);
        if (!f)
                return xerr_set(e, -ENOMEM, cert_path, "out of memory");
        {
                char hex[2 * MAX_SIG_BYTES + 1];
                ovf_hex(sig, sig_len, hex);
                fprintf(f, "SHA256(%s)= %s\n", mf_name, hex);
        }
        /* re-encode the certificate: only the certificate, never whatever else the file held */
        bio = BIO_new(BIO_s_mem());
        if (!bio || PEM_write_bio_X509(bio, cert) != 1) {
                BIO_free(bio);
                fclose(f);
                return xerr_set(e, -ENOMEM, cert_path, "cannot encode the certificate");
        }
        {
                char *p;
                long n = BIO_get_mem_data(bio, &p);
                fwrite(p, 1, (size_t) n, f);
        }
        BIO_free(bio);
        if (fclose(f) != 0)
                return xerr_set(e, -ENOMEM, cert_path, "out of memory");
        *ret = TAKE_PTR(out);
        *ret_len = out_len;
        return 0;
}

/* "2026-11-25 10:00:00 UTC" */
static const char *cert_time(const ASN1_TIME *t, char *buf, size_t size)
{
        struct tm tm;

        if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, size, "an unreadable date");
        return buf;
}

#define OVF_MAX_CA_FILE (16 * 1024 * 1024)     /* a system bundle is ~200 KiB */

static inline void x509_info_stack_freep(STACK_OF(X509_INFO) **p)
{
        sk_X509_INFO_pop_free(*p, X509_INFO_free);
}

static inline void bio_freep(BIO **p)
{
        BIO_free(*p);
}

/*
 * The CA file goes through the one careful open (xova_read_file: non-
 * blocking, regular files only, capped), then is parsed from memory:
 * X509_STORE_load_file() opens the path itself with a blocking fopen(), so
 * "--ca FIFO" hung verify and run with nothing on stderr. Certificates and
 * CRLs are added, as X509_STORE_load_file() would.
 */
static int load_ca_file(X509_STORE *store, const char *ca_file, struct xerr *e)
{
        _cleanup_free_ char *pem = NULL;
        _cleanup_(bio_freep) BIO *bio = NULL;
        _cleanup_(x509_info_stack_freep) STACK_OF(X509_INFO) *infos = NULL;
        char ebuf[256];
        size_t len, n_certs = 0;
        int r;

        r = xova_read_file(ca_file, OVF_MAX_CA_FILE, &pem, &len, e);
        if (r < 0)
                return r;
        if (len > INT_MAX || !(bio = BIO_new_mem_buf(pem, (int) len)))
                return xerr_set(e, -ENOMEM, ca_file, "out of memory");
        infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
        if (!infos)
                return xerr_set(e, -EINVAL, ca_file, "cannot load CA certificates: %s", ssl_error(ebuf, sizeof(ebuf)));
        for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
                X509_INFO *info = sk_X509_INFO_value(infos, i);
                if (info->x509) {
                        if (X509_STORE_add_cert(store, info->x509) != 1)
                                return xerr_set(e, -EINVAL, ca_file, "cannot load CA certificates: %s",
                                                ssl_error(ebuf, sizeof(ebuf)));
                        n_certs++;
                }
                if (info->crl && X509_STORE_add_crl(store, info->crl) != 1)
                        return xerr_set(e, -EINVAL, ca_file, "cannot load a CRL: %s", ssl_error(ebuf, sizeof(ebuf)));
        }
        ERR_clear_error();
        if (n_certs == 0)
                return xerr_set(e, -EINVAL, ca_file, "cannot load CA certificates: no PEM certificate in the file");
        return 0;
}

static int verify_chain(X509 *cert, const char *cert_name, const char *ca_file, struct xerr *e)
{
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        char subject[256], when[64];
        X509 *bad;
        int r = 0, err, depth;

        if (!store || !ctx) {
                r = xerr_set(e, -ENOMEM, cert_name, "out of memory");
                goto out;
        }
        r = load_ca_file(store, ca_file, e);
        if (r < 0)
                goto out;
        if (X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
                r = xerr_set(e, -ENOMEM, cert_name, "cannot check the certificate chain");
                goto out;
        }
        if (X509_verify_cert(ctx) == 1)
                goto out;
        err = X509_STORE_CTX_get_error(ctx);
        /* the certificate the check stopped at: depth 0 is the bundle's
         * signer, anything above it came from the CA file (no other
         * certificates are given to the check) */
        depth = X509_STORE_CTX_get_error_depth(ctx);
        bad = X509_STORE_CTX_get_current_cert(ctx);
        if (!bad || !X509_NAME_oneline(X509_get_subject_name(bad), subject, sizeof(subject)))
                snprintf(subject, sizeof(subject), "(unknown subject)");
        switch (err) {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
                r = xerr_set(e, -XOVA_EVERIFY, cert_name, "self-signed certificate not trusted by '%s'",
                             XOVA_ESC(ca_file));
                break;
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
                r = xerr_set(e, -XOVA_EVERIFY, cert_name, "untrusted certificate: its issuer is not in '%s'",
                             XOVA_ESC(ca_file));
                break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
                cert_time(bad ? X509_get0_notAfter(bad) : NULL, when, sizeof(when));
                if (depth == 0)
                        r = xerr_set(e, -XOVA_EVERIFY, cert_name, "expired certificate: '%s' was valid until %s",
                                     XOVA_ESC(subject), when);
                else
                        r = xerr_set(e, -XOVA_EVERIFY, cert_name, "expired CA certificate: '%s' in '%s' was valid "
                                     "until %s", XOVA_ESC(subject), XOVA_ESC(ca_file), when);
                break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
                cert_time(bad ? X509_get0_notBefore(bad) : NULL, when, sizeof(when));
                if (depth == 0)
                        r = xerr_set(e, -XOVA_EVERIFY, cert_name, "certificate not yet valid: '%s' is valid from %s",
                                     XOVA_ESC(subject), when);
                else
                        r = xerr_set(e, -XOVA_EVERIFY, cert_name, "CA certificate not yet valid: '%s' in '%s' is "
                                     "valid from %s", XOVA_ESC(subject), XOVA_ESC(ca_file), when);
                break;
        default:
                r = xerr_set(e, -XOVA_EVERIFY, cert_name, "certificate not trusted: %s",
                             X509_verify_cert_error_string(err));
                break;
        }
out:
        ERR_clear_error();
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        return r;
}

int ovf_cert_verify(const char *cert_name, const char *buf, size_t len, const char *mf_name,
                    const void *mf, size_t mf_len, const char *ca_file, char **ret_subject,
                    struct xerr *e)
{
        uint8_t sig[MAX_SIG_BYTES];
        const char *nl, *hex;
        _cleanup_free_ char *expect = NULL, *subject = NULL;
        size_t sig_len, hex_len;
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_(evp_pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_(evp_md_ctx_freep) EVP_MD_CTX *md = NULL;
        BIO *bio = NULL;
        int r;

        if (len > OVF_MAX_CERT)
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "%zu bytes, more than the limit of %d", len, OVF_MAX_CERT);
        if (memchr(buf, '\0', len))
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "NUL byte");
        nl = memchr(buf, '\n', len);
        if (!nl)
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "line 1: no signature line");
        if (asprintf(&expect, "SHA256(%s)= ", mf_name) < 0)
                return xerr_set(e, -ENOMEM, cert_name, "out of memory");
        if ((size_t) (nl - buf) < strlen(expect) || memcmp(buf, expect, strlen(expect)) != 0)
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "line 1: not of the form 'SHA256(%s)= hex'",
                                XOVA_ESC(mf_name));
        hex = buf + strlen(expect);
        hex_len = (size_t) (nl - hex);
        if (hex_len > 0 && hex[hex_len - 1] == '\r')
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "line 1: carriage return (CRLF line ends are not accepted)");
        if (hex_len == 0 || hex_len % 2 || hex_len / 2 > MAX_SIG_BYTES ||
            ovf_unhex(hex, hex_len, sig, hex_len / 2) < 0)
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "line 1: signature is not hex (%zu characters)", hex_len);
        sig_len = hex_len / 2;

        bio = BIO_new_mem_buf(nl + 1, (int) (len - (size_t) (nl + 1 - buf)));
        cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!cert) {
                ERR_clear_error();
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "no PEM certificate after the signature line");
        }
        if (signing_usage_problem(cert))
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "not a signing certificate: %s",
                                signing_usage_problem(cert));
        key = X509_get_pubkey(cert);
        if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "certificate key is not RSA");
        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1)
                return xerr_set(e, -ENOMEM, cert_name, "cannot set up signature verification");
        if (EVP_DigestVerify(md, sig, sig_len, mf, mf_len) != 1) {
                ERR_clear_error();
                return xerr_set(e, -XOVA_EVERIFY, cert_name, "signature does not match the manifest '%s'",
                                XOVA_ESC(mf_name));
        }
        if (ca_file) {
                r = verify_chain(cert, cert_name, ca_file, e);
                if (r < 0)
                        return r;
        }
        {
                char line[512];
                if (!X509_NAME_oneline(X509_get_subject_name(cert), line, sizeof(line)))
                        snprintf(line, sizeof(line), "(unknown subject)");
                subject = strdup(line);
        }
        if (!subject)
                return xerr_set(e, -ENOMEM, cert_name, "out of memory");
        if (ret_subject)
                *ret_subject = TAKE_PTR(subject);
        return 0;
}
