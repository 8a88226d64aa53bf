/* SPDX-License-Identifier: MIT */
/*
 * Secure Boot on the universal system partition.
 *
 * Checking a PE signature (bootpart_pe_verify) is done here with OpenSSL
 * rather than by running `sbverify`: sbverify 0.9.4 says "Signature
 * verification OK" for Debian's shim against ANY certificate given with
 * --cert (its verify callback accepts the chain the PKCS#7 carries), so it
 * cannot prove which CA a loader chains to. The check is Authenticode as
 * the firmware does it (EDK2 DxeImageVerificationLib): the PE image hash
 * (headers without the checksum and the certificate-table entry, the
 * sections in file order, the data after them up to the certificate
 * table) must equal the digest in the signed SpcIndirectDataContent, and
 * the PKCS#7 signature must verify with a chain ending at the CA we were
 * given (a partial chain is enough: the Microsoft UEFI CA 2011 is itself
 * an intermediate; the firmware ignores validity dates, so do we).
 *
 * Signing (own-key mode) runs `osslsigncode` (Debian package osslsigncode)
 * as a tool: both it and `sbsign` write the same Authenticode PE
 * signatures, but sbsign always stamps the current time as a signed
 * attribute, so two builds would differ; osslsigncode takes the signing
 * time (-time, from SOURCE_DATE_EPOCH), and RSA PKCS#1 v1.5 signatures are
 * deterministic, so the same inputs give the same bytes.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/common.h"
#include "bootpart/bootpart.h"
#include "bootpart/bootpart-internal.h"

#define PE_MAX (UINT64_C(512) << 20)
#define SPC_INDIRECT_DATA_OID "1.3.6.1.4.1.311.2.1.4"
#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002
#define VENDOR_LABEL "the shim's vendor certificate (.vendor_cert)"

const char *bootpart_sb_mode_name(enum bootpart_sb_mode m)
{
        switch (m) {
        case BOOTPART_SB_OFF:
                return "off";
        case BOOTPART_SB_DISTRIBUTION:
                return "distribution";
        case BOOTPART_SB_OWN_KEY:
                return "own-key";
        }
        return "?";
}

/* The parts of a PE image Authenticode needs. */
struct pe_layout {
        uint32_t checksum_off;          /* OptionalHeader.CheckSum */
        uint32_t certdir_off;           /* DataDirectory[SECURITY] (8 bytes) */
        uint32_t size_of_headers;
        uint32_t cert_off, cert_size;   /* the attribute certificate table, 0/0 = none */
        uint32_t sect_off;              /* first section header */
        uint16_t n_sect;
};

static int pe_layout(const uint8_t *p, size_t n, const char *name, struct pe_layout *ret_layout, struct xerr *e)
{
        struct pe_layout l = { 0 }, *ret = &l;
        uint32_t pe, opt, dd, nrva;
        uint16_t magic, optsize;

        if (n < 0x40 || p[0] != 'M' || p[1] != 'Z')
                return xerr_set(e, -EINVAL, name, "not a PE image (no MZ header)");
        pe = xova_le32(p + 0x3c);
        if ((uint64_t) pe + 24 > n || memcmp(p + pe, "PE\0\0", 4) != 0)
                return xerr_set(e, -EINVAL, name, "not a PE image (no PE header at byte %" PRIu32 ")", pe);
        optsize = xova_le16(p + pe + 20);
        opt = pe + 24;
        if ((uint64_t) opt + optsize > n || optsize < 96)
                return xerr_set(e, -EINVAL, name, "PE optional header at byte %" PRIu32 " is truncated", opt);
        magic = xova_le16(p + opt);
        if (magic == 0x20b) {
                nrva = xova_le32(p + opt + 108);
                dd = opt + 112;
        } else if (magic == 0x10b) {
                nrva = xova_le32(p + opt + 92);
                dd = opt + 96;
        } else {
                return xerr_set(e, -EINVAL, name, "unknown PE optional header magic 0x%04x", magic);
        }
        ret->checksum_off = opt + 64;
        ret->size_of_headers = xova_le32(p + opt + 60);
        ret->sect_off = opt + optsize;
        ret->n_sect = xova_le16(p + pe + 6);
        ret->cert_off = ret->cert_size = 0;
        ret->certdir_off = dd + 4 * 8;
        if (nrva > 4 && (uint64_t) ret->certdir_off + 8 <= (uint64_t) opt + optsize) {
                ret->cert_off = xova_le32(p + ret->certdir_off);
                ret->cert_size = xova_le32(p + ret->certdir_off + 4);
        }
        if (ret->size_of_headers > n || ret->size_of_headers < ret->certdir_off + 8 ||
            (uint64_t) ret->sect_off + 40 * (uint64_t) ret->n_sect > ret->size_of_headers)
                return xerr_set(e, -EINVAL, name, "PE headers (SizeOfHeaders %" PRIu32 ") are inconsistent",
                                ret->size_of_headers);
        if ((uint64_t) ret->cert_off + ret->cert_size > n)
                return xerr_set(e, -EINVAL, name, "PE certificate table at byte %" PRIu32 " (%" PRIu32
                                " bytes) ends beyond the file (%zu bytes)", ret->cert_off, ret->cert_size, n);
        *ret_layout = l;
        return 0;
}

struct sect_range { uint32_t off, size; };

static int cmp_sect(const void *a, const void *b)
{
        const struct sect_range *x = a, *y = b;
        return x->off < y->off ? -1 : x->off > y->off;
}

/* The Authenticode image digest, as EDK2 computes it. */
static int pe_digest(const uint8_t *p, size_t n, const struct pe_layout *l, const EVP_MD *md,
                     unsigned char *out, unsigned *out_len, const char *name, struct xerr *e)
{
        _cleanup_free_ struct sect_range *s = calloc(l->n_sect ? l->n_sect : 1, sizeof(*s));
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint64_t sum = l->size_of_headers, end = l->cert_size ? l->cert_off : n;
        bool ok;

        if (!s || !ctx) {
                EVP_MD_CTX_free(ctx);
                return xerr_oom(e, name);
        }
        ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
             EVP_DigestUpdate(ctx, p, l->checksum_off) == 1 &&
             EVP_DigestUpdate(ctx, p + l->checksum_off + 4, l->certdir_off - (l->checksum_off + 4)) == 1 &&
             EVP_DigestUpdate(ctx, p + l->certdir_off + 8, l->size_of_headers - (l->certdir_off + 8)) == 1;
        for (uint16_t i = 0; i < l->n_sect; i++) {
                const uint8_t *h = p + l->sect_off + 40 * (size_t) i;
                s[i] = (struct sect_range) { xova_le32(h + 20), xova_le32(h + 16) };
        }
        qsort(s, l->n_sect, sizeof(*s), cmp_sect);
        for (uint16_t i = 0; ok && i < l->n_sect; i++) {
                if (s[i].size == 0)
                        continue;
                if ((uint64_t) s[i].off + s[i].size > n) {
                        EVP_MD_CTX_free(ctx);
                        return xerr_set(e, -EINVAL, name, "PE section at byte %" PRIu32 " ends beyond the file",
                                        s[i].off);
                }
                ok = EVP_DigestUpdate(ctx, p + s[i].off, s[i].size) == 1;
                sum += s[i].size;
        }
        if (ok && end > sum)
                ok = EVP_DigestUpdate(ctx, p + sum, end - sum) == 1;
        ok = ok && EVP_DigestFinal_ex(ctx, out, out_len) == 1;
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return xerr_set(e, -EIO, name, "cannot hash the PE image");
        return 0;
}

/* From SpcIndirectDataContent (DER, outer SEQUENCE included): the inner
 * bytes the PKCS#7 messageDigest covers, and the DigestInfo's algorithm
 * and digest. Walked with ASN1_get_object: OpenSSL has no type for it. */
static int spc_parse(const unsigned char *der, long len, const unsigned char **ret_inner, long *ret_inner_len,
                     const EVP_MD **ret_md, const unsigned char **ret_digest, long *ret_digest_len)
{
        const unsigned char *p = der, *q, *end;
        long l, l2;
        int tag, cls;
        ASN1_OBJECT *oid = NULL;

        if (ASN1_get_object(&p, &l, &tag, &cls, len) & 0x80 || tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        *ret_inner = p;
        *ret_inner_len = l;
        end = p + l;
        /* SpcAttributeTypeAndOptionalValue: skipped */
        q = p;
        if (ASN1_get_object(&q, &l2, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        p = q + l2;
        /* DigestInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING } */
        if (ASN1_get_object(&p, &l2, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        end = p + l2;
        q = p;
        if (ASN1_get_object(&q, &l2, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        p = q + l2;             /* after the AlgorithmIdentifier */
        {
                const unsigned char *o = q;
                if (!d2i_ASN1_OBJECT(&oid, &o, l2))
                        return -EBADMSG;
                *ret_md = EVP_get_digestbyobj(oid);
                ASN1_OBJECT_free(oid);
                if (!*ret_md)
                        return -ENOTSUP;
        }
        if (ASN1_get_object(&p, &l2, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_OCTET_STRING)
                return -EBADMSG;
        *ret_digest = p;
        *ret_digest_len = l2;
        return 0;
}

static void x509_stack_freep(STACK_OF(X509) **s) { if (*s) sk_X509_pop_free(*s, X509_free); }

static int load_certs(const char *path, STACK_OF(X509) **ret, struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *sk = sk_X509_new_null();
        size_t len;
        BIO *b;
        X509 *x;
        int r;

        if (!sk)
                return xerr_oom(e, path);
        r = xova_read_file(path, 1 << 20, &buf, &len, e);
        if (r < 0)
                return r;
        b = BIO_new_mem_buf(buf, (int) len);
        if (!b)
                return xerr_oom(e, path);
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
                sk_X509_push(sk, x);
        BIO_free(b);
        ERR_clear_error();
        if (sk_X509_num(sk) == 0) {     /* one DER certificate */
                const unsigned char *p = (const unsigned char *) buf;
                x = d2i_X509(NULL, &p, (long) len);
                if (!x)
                        return xerr_set(e, -EINVAL, path, "no PEM or DER certificate in the file");
                sk_X509_push(sk, x);
        }
        *ret = TAKE_PTR(sk);
        return 0;
}

/* One WIN_CERTIFICATE's PKCS#7 against the image digest and the CAs.
 * 1 = good, 0 = does not chain / does not match (why in whybuf). */
static int check_one(const unsigned char *der, long len, const uint8_t *img, size_t n,
                     const struct pe_layout *l, STACK_OF(X509) *cas, char *subject, size_t subject_size,
                     char *why, size_t why_size, const char *name, struct xerr *e)
{
        PKCS7 *p7 = d2i_PKCS7(NULL, &der, len);
        const unsigned char *inner, *digest;
        long inner_len, digest_len;
        const EVP_MD *md = NULL;
        unsigned char got[EVP_MAX_MD_SIZE];
        unsigned got_len = 0;
        X509_STORE *store = NULL;
        BIO *bio = NULL;
        ASN1_OBJECT *spc = OBJ_txt2obj(SPC_INDIRECT_DATA_OID, 1);
        int r = 0;

        if (!p7 || !PKCS7_type_is_signed(p7) || !p7->d.sign->contents ||
            !spc || OBJ_cmp(p7->d.sign->contents->type, spc) != 0 ||
            !p7->d.sign->contents->d.other || p7->d.sign->contents->d.other->type != V_ASN1_SEQUENCE) {
                snprintf(why, why_size, "not an Authenticode signature");
                goto out;
        }
        {
                ASN1_STRING *s = p7->d.sign->contents->d.other->value.sequence;
                if (spc_parse(s->data, s->length, &inner, &inner_len, &md, &digest, &digest_len) < 0) {
                        snprintf(why, why_size, "malformed SpcIndirectDataContent");
                        goto out;
                }
        }
        r = pe_digest(img, n, l, md, got, &got_len, name, e);
        if (r < 0)
                goto out;
        if ((long) got_len != digest_len || memcmp(got, digest, got_len) != 0) {
                snprintf(why, why_size, "the image hash does not match the signed hash (the file was "
                         "changed after signing)");
                goto out;
        }
        store = X509_STORE_new();
        bio = BIO_new_mem_buf(inner, (int) inner_len);
        if (!store || !bio) {
                r = xerr_oom(e, name);
                goto out;
        }
        for (int i = 0; i < sk_X509_num(cas); i++)
                X509_STORE_add_cert(store, sk_X509_value(cas, i));
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
        X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
        if (PKCS7_verify(p7, NULL, store, bio, NULL, PKCS7_BINARY) != 1) {
                unsigned long err = ERR_peek_last_error();
                snprintf(why, why_size, "the signature does not chain to the CA (%s)",
                         err ? ERR_reason_error_string(err) ?: "verify failed" : "verify failed");
                ERR_clear_error();
                goto out;
        }
        {
                STACK_OF(X509) *signers = PKCS7_get0_signers(p7, NULL, 0);
                if (signers && sk_X509_num(signers) > 0)
                        X509_NAME_oneline(X509_get_subject_name(sk_X509_value(signers, 0)), subject,
                                          (int) subject_size);
                sk_X509_free(signers);
        }
        r = 1;
out:
        ERR_clear_error();
        ASN1_OBJECT_free(spc);
        BIO_free(bio);
        X509_STORE_free(store);
        PKCS7_free(p7);
        return r;
}

int bootpart_pe_verify(const char *path, const char *name, const char *ca_file, const char *ca_label,
                       char *ret_signer, size_t signer_size, struct xerr *e)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *cas = NULL;
        _cleanup_free_ char *buf = NULL;
        struct pe_layout l;
        char why[200] = "it carries no signature", subject[256] = "";
        size_t len;
        int r;

        r = load_certs(ca_file, &cas, e);
        if (r < 0)
                return r;
        r = xova_read_file(path, PE_MAX, &buf, &len, e);
        if (r < 0)
                return r;
        r = pe_layout((const uint8_t *) buf, len, name, &l, e);
        if (r < 0)
                return r;
        /* every WIN_CERTIFICATE in the table (8-byte aligned); one that
         * chains to the CA and matches the image is enough, as for the firmware */
        for (uint64_t o = l.cert_off; l.cert_size && o + 8 <= (uint64_t) l.cert_off + l.cert_size;) {
                const uint8_t *c = (const uint8_t *) buf + o;
                uint32_t clen = xova_le32(c);
                if (clen < 8 || o + clen > (uint64_t) l.cert_off + l.cert_size) {
                        snprintf(why, sizeof(why), "its certificate table entry at byte %" PRIu64 " is malformed", o);
                        break;
                }
                if (xova_le16(c + 6) == WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
                        r = check_one(c + 8, (long) clen - 8, (const uint8_t *) buf, len, &l, cas,
                                      subject, sizeof(subject), why, sizeof(why), name, e);
                        if (r < 0)
                                return r;
                        if (r == 1) {
                                if (ret_signer)
                                        snprintf(ret_signer, signer_size, "%s", subject);
                                return 0;
                        }
                }
                o += (clen + 7) & ~UINT64_C(7);
        }
        return xerr_set(e, -EKEYREJECTED, name, "Secure Boot: no signature that chains to %s: %s",
                        ca_label ? ca_label : XOVA_ESC(ca_file), why);
}

/* Section header h named `want`? Names longer than 8 bytes are "/N": at
 * offset N of the COFF string table, which follows the symbol table
 * (PointerToSymbolTable + 18 * NumberOfSymbols). */
static bool section_is(const char *buf, size_t len, const uint8_t *h, const char *want)
{
        const uint8_t *p = (const uint8_t *) buf;
        size_t wl = strlen(want);
        uint32_t pe = xova_le32(p + 0x3c);
        uint64_t strtab, off = 0;

        if (h[0] != '/')
                return wl <= 8 && memcmp(h, want, wl) == 0 && (wl == 8 || h[wl] == '\0');
        for (size_t i = 1; i < 8 && h[i] >= '0' && h[i] <= '9'; i++)
                off = off * 10 + (uint64_t) (h[i] - '0');
        strtab = (uint64_t) xova_le32(p + pe + 12) + 18 * (uint64_t) xova_le32(p + pe + 16);
        if (strtab == 0 || strtab + off + wl + 1 > len)
                return false;
        return memcmp(p + strtab + off, want, wl + 1) == 0;
}

/* The bytes of section `name` of PE file `path` (up to its first NUL when
 * text), into out. */
static int pe_section_to_file(const char *path, const char *name, bool text, const char *out, struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct pe_layout l;
        size_t len;
        int r;

        r = xova_read_file(path, PE_MAX, &buf, &len, e);
        if (r < 0)
                return r;
        r = pe_layout((const uint8_t *) buf, len, path, &l, e);
        if (r < 0)
                return r;
        for (uint16_t i = 0; i < l.n_sect; i++) {
                const uint8_t *h = (const uint8_t *) buf + l.sect_off + 40 * (size_t) i;
                uint32_t raw = xova_le32(h + 20), size = xova_le32(h + 16), vsize = xova_le32(h + 8);
                if (!section_is(buf, len, h, name))
                        continue;
                if ((uint64_t) raw + size > len)
                        break;
                if (vsize && vsize < size)
                        size = vsize;
                if (text) {
                        const char *nul = memchr(buf + raw, '\0', size);
                        if (nul)
                                size = (uint32_t) (nul - (buf + raw));
                }
                fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0)
                        return xerr_set_errno(e, -errno, out, "cannot create");
                r = xova_write_all(fd, buf + raw, size);
                if (r < 0)
                        return xerr_set_errno(e, r, out, "cannot write");
                return 0;
        }
        return xerr_set(e, -ENOENT, path, "no section '%s'", name);
}

int bootpart_pe_vendor_cert(const char *shim, const char *out, struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct pe_layout l;
        size_t len;
        int r;

        r = xova_read_file(shim, PE_MAX, &buf, &len, e);
        if (r < 0)
                return r;
        r = pe_layout((const uint8_t *) buf, len, shim, &l, e);
        if (r < 0)
                return r;
        for (uint16_t i = 0; i < l.n_sect; i++) {
                const uint8_t *h = (const uint8_t *) buf + l.sect_off + 40 * (size_t) i;
                uint32_t raw = xova_le32(h + 20), size = xova_le32(h + 16), auth_size, auth_off;
                if (!section_is(buf, len, h, ".vendor_cert"))
                        continue;
                if ((uint64_t) raw + size > len || size < 16)
                        break;
                /* shim's struct cert_table: authorized size, deauthorized size,
                 * authorized offset, deauthorized offset (from the section start) */
                auth_size = xova_le32((const uint8_t *) buf + raw);
                auth_off = xova_le32((const uint8_t *) buf + raw + 8);
                if (auth_size == 0 || (uint64_t) auth_off + auth_size > size)
                        break;
                fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0)
                        return xerr_set_errno(e, -errno, out, "cannot create");
                r = xova_write_all(fd, buf + raw + auth_off, auth_size);
                if (r < 0)
                        return xerr_set_errno(e, r, out, "cannot write");
                return 0;
        }
        return xerr_set(e, -ENOENT, shim, "Secure Boot: the shim has no vendor certificate (.vendor_cert)");
}

int bootpart_pe_sign(const char *in, const char *out, const char *key, const char *cert, uint64_t epoch,
                     struct xerr *e)
{
        char t[32];
        int r;

        snprintf(t, sizeof(t), "%" PRIu64, epoch);
        {
                const char *argv[] = { "osslsigncode", "sign", "-certs", cert, "-key", key, "-h", "sha256",
                                       "-time", t, "-in", in, "-out", out, NULL };
                (void) unlink(out);
                r = xova_run("osslsigncode", (char *const *) argv, NULL, NULL, e);
        }
        if (r < 0)
                return xerr_prefix(e, "Secure Boot: cannot sign '%s'", XOVA_ESC(in));
        /* its exit status is not proof: the result must verify against the cert */
        return bootpart_pe_verify(out, out, cert, NULL, NULL, 0, e);
}

/* ------------------------------------------------------------------ */
/* Staging                                                             */

/* "BOOTX64.EFI" -> "x64": the suffix Debian's shim and signed GRUB use */
static void efi_suffix(const struct xova_arch *arch, char buf[16])
{
        const char *s = arch->efi_name + 4;     /* after "BOOT" */
        size_t i = 0;

        for (; s[i] && s[i] != '.' && i < 15; i++)
                buf[i] = (char) (s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        buf[i] = '\0';
}

static int copy_file(const char *src, const char *dst, struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        size_t len;
        int r;

        r = xova_read_file(src, PE_MAX, &buf, &len, e);
        if (r < 0)
                return r;
        fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return xerr_set_errno(e, -errno, dst, "cannot create");
        r = xova_write_all(fd, buf, len);
        if (r < 0 || close(TAKE_FD(fd)) < 0)
                return xerr_set_errno(e, r < 0 ? r : -errno, dst, "cannot write");
        return 0;
}

/* CACHE/loaders/secure-boot/<arch> of the first root whose set verifies */
static int find_loaders(const struct bootpart_secure_boot *sb, const struct xova_arch *a, char **ret,
                        struct xerr *e)
{
        _cleanup_free_ char *user = NULL;
        const char *defaults[3] = { NULL, BOOTPART_LOADERS_SYSTEM_DIR, NULL };
        const char *const *roots = sb->loader_roots;
        struct xerr why = { 0 };
        int last = -ENOENT;

        if (!roots) {
                if (bootpart_loaders_user_dir(&user, NULL) == 0)
                        defaults[0] = user;
                else
                        defaults[0] = BOOTPART_LOADERS_SYSTEM_DIR, defaults[1] = NULL;
                roots = defaults;
        }
        for (size_t i = 0; roots[i]; i++) {
                char *dir = NULL;
                int r;
                if (asprintf(&dir, "%s/loaders/secure-boot/%s", roots[i], a->name) < 0)
                        return xerr_oom(e, a->name);
                r = bootpart_loaders_verify(dir, &why);
                if (r == 0) {
                        *ret = dir;
                        return 0;
                }
                free(dir);
                if (r != -ENOENT) {     /* a changed set is an error, not skipped */
                        *e = why;
                        return xerr_prefix(e, "Secure Boot loaders for %s", a->name);
                }
                last = r;
        }
        return xerr_set(e, last, a->name, "Secure Boot (distribution): no signed shim and GRUB for %s in the "
                        "loaders cache (run 'xova loaders fetch --secure-boot --arch %s')", a->name, a->name);
}

/* The signed shim and GRUB of the loaders cache for payload i, the shim
 * checked against the Microsoft CA, and the shim's vendor certificate
 * (DER) extracted to s->dir/vendor-<arch>.der. */
struct sb_loaders {
        char *shim, *grub, *vendor;
};

static void sb_loaders_done(struct sb_loaders *l)
{
        free(l->shim);
        free(l->grub);
        free(l->vendor);
}

static int get_loaders(const struct bootpart_usp *u, const struct bootpart_stage *s, size_t i,
                       struct sb_loaders *ret, struct xerr *e)
{
        const struct bootpart_secure_boot *sb = u->secure_boot;
        const struct bootpart_payload *p = &u->payloads[i];
        const char *ca = sb->ca_file ? sb->ca_file : BOOTPART_SB_MICROSOFT_CA;
        _cleanup_free_ char *dir = NULL;
        _cleanup_(sb_loaders_done) struct sb_loaders l = { 0 };
        char sfx[16], rel[64], signer[256] = "";
        int r;

        if (access(ca, R_OK) != 0)
                return xerr_set_errno(e, -errno, ca, "Secure Boot: cannot read the Microsoft UEFI CA "
                                      "certificate the shims must chain to (give one with "
                                      "\"secure_boot\": {\"ca\": FILE})");
        efi_suffix(p->arch, sfx);
        r = find_loaders(sb, p->arch, &dir, e);
        if (r < 0)
                return r;
        snprintf(rel, sizeof(rel), "shim/shim%s.efi.signed", sfx);
        l.shim = xova_path_join(dir, rel);
        snprintf(rel, sizeof(rel), "grub/grub%s.efi.signed", sfx);
        l.grub = xova_path_join(dir, rel);
        snprintf(rel, sizeof(rel), "vendor-%s.der", p->arch->name);
        l.vendor = xova_path_join(s->dir, rel);
        if (!l.shim || !l.grub || !l.vendor)
                return xerr_oom(e, p->arch->name);
        /* the shim chains to the Microsoft UEFI CA */
        r = bootpart_pe_verify(l.shim, l.shim, ca, NULL, signer, sizeof(signer), e);
        if (r < 0)
                return r;
        xova_debug("%s: shim signed by %s", p->arch->name, signer);
        r = bootpart_pe_vendor_cert(l.shim, l.vendor, e);
        if (r < 0)
                return r;
        *ret = l;
        l = (struct sb_loaders) { 0 };
        return 0;
}

static int stage_distribution(const struct bootpart_usp *u, struct bootpart_stage *s, struct xerr *e)
{
        for (size_t i = 0; i < u->n_payloads; i++) {
                const struct bootpart_payload *p = &u->payloads[i];
                _cleanup_(sb_loaders_done) struct sb_loaders l = { 0 };
                char sfx[16], signer[256] = "";
                int r;

                r = get_loaders(u, s, i, &l, e);
                if (r < 0)
                        return r;
                efi_suffix(p->arch, sfx);
                snprintf(s->second_name[i], sizeof(s->second_name[i]), "grub%s.efi", sfx);
                s->shim[i] = xova_path_join(s->dir, p->arch->efi_name);
                s->second[i] = xova_path_join(s->dir, s->second_name[i]);
                if (!s->shim[i] || !s->second[i])
                        return xerr_oom(e, p->arch->name);
                /* GRUB and the kernel to the CA the shim trusts: its vendor certificate */
                r = bootpart_pe_verify(l.grub, l.grub, l.vendor, VENDOR_LABEL, signer, sizeof(signer), e);
                if (r < 0)
                        return xerr_prefix(e, "the signed GRUB does not chain to the shim's vendor certificate");
                r = bootpart_pe_verify(p->kernel, p->kernel, l.vendor, VENDOR_LABEL, signer, sizeof(signer), e);
                if (r < 0)
                        return xerr_prefix(e, "Secure Boot (distribution): the %s kernel '%s' would be refused "
                                           "by the signed GRUB", p->arch->name, XOVA_ESC(p->kernel));
                xova_debug("%s: kernel signed by %s", p->arch->name, signer);
                r = copy_file(l.shim, s->shim[i], e);
                if (r < 0)
                        return r;
                r = copy_file(l.grub, s->second[i], e);
                if (r < 0)
                        return r;
        }
        s->cfg_dir = "EFI/debian";
        return 0;
}

static int cert_to_der(const char *pem, const char *out, struct xerr *e)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *sk = NULL;
        _cleanup_close_ int fd = -1;
        unsigned char *der = NULL;
        int n, r;

        r = load_certs(pem, &sk, e);
        if (r < 0)
                return r;
        n = i2d_X509(sk_X509_value(sk, 0), &der);
        if (n <= 0)
                return xerr_set(e, -EINVAL, pem, "cannot encode the certificate");
        fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
                OPENSSL_free(der);
                return xerr_set_errno(e, -errno, out, "cannot create");
        }
        r = xova_write_all(fd, der, (size_t) n);
        OPENSSL_free(der);
        if (r < 0)
                return xerr_set_errno(e, r, out, "cannot write");
        return 0;
}

/*
 * own-key: the chain is the distribution's, re-rooted in the user's key.
 * Debian's shim (checked against the Microsoft CA first), its signature
 * replaced by one with the key, starts our grub-mkimage image (also signed
 * with the key) as grub<arch>.efi beside it; shim trusts the firmware's db,
 * which holds the key's certificate, and GRUB has the kernel checked by
 * shim's shim_lock protocol: a kernel signed with the key (sign_kernels) or
 * by the shim's vendor CA (Debian's kernels) boots. GRUB cannot do without
 * shim here: under Secure Boot its lockdown defers every kernel to a
 * verifier, and without shim_lock there is none ("verification requested
 * but nobody cares").
 */
static int stage_own_key(const struct bootpart_usp *u, struct bootpart_stage *s, struct xerr *e)
{
        const struct bootpart_secure_boot *sb = u->secure_boot;
        int r;

        if (!sb->key || !sb->cert)
                return xerr_set(e, -EINVAL, "secure boot", "own-key mode needs a key and a certificate "
                                "(--sb-key/--sb-cert or \"secure_boot\": {\"key\", \"cert\"})");
        for (size_t i = 0; i < u->n_payloads; i++) {
                const struct bootpart_payload *p = &u->payloads[i];
                _cleanup_(sb_loaders_done) struct sb_loaders l = { 0 };
                _cleanup_free_ char *image = NULL;
                char sfx[16], name[64];

                r = get_loaders(u, s, i, &l, e);
                if (r < 0)
                        return r;
                efi_suffix(p->arch, sfx);
                snprintf(s->second_name[i], sizeof(s->second_name[i]), "grub%s.efi", sfx);
                s->second[i] = xova_path_join(s->dir, s->second_name[i]);
                if (asprintf(&image, "%s.unsigned", s->shim[i]) < 0 || !s->second[i])
                        return xerr_oom(e, p->arch->name);
                /* the grub-mkimage image, signed, becomes the second stage */
                if (rename(s->shim[i], image) < 0)
                        return xerr_set_errno(e, -errno, s->shim[i], "cannot rename");
                r = bootpart_pe_sign(image, s->second[i], sb->key, sb->cert, u->epoch, e);
                if (r < 0)
                        return r;
                /* the shim, re-signed, is what the firmware starts */
                r = bootpart_pe_sign(l.shim, s->shim[i], sb->key, sb->cert, u->epoch, e);
                if (r < 0)
                        return r;
                if (sb->sign_kernels) {
                        snprintf(name, sizeof(name), "vmlinuz-%s", p->arch->name);
                        s->kernel[i] = xova_path_join(s->dir, name);
                        if (!s->kernel[i])
                                return xerr_oom(e, p->arch->name);
                        r = bootpart_pe_sign(p->kernel, s->kernel[i], sb->key, sb->cert, u->epoch, e);
                        if (r < 0)
                                return xerr_prefix(e, "the %s kernel", p->arch->name);
                        continue;
                }
                /* unsigned by us: shim must trust it through its vendor CA */
                r = bootpart_pe_verify(p->kernel, p->kernel, l.vendor, VENDOR_LABEL, NULL, 0, e);
                if (r < 0)
                        return xerr_prefix(e, "Secure Boot (own-key): the %s kernel '%s' would be refused by shim "
                                           "(sign it with \"sign_kernels\": true)", p->arch->name, XOVA_ESC(p->kernel));
        }
        s->db_cert = xova_path_join(s->dir, "db.der");
        if (!s->db_cert)
                return xerr_oom(e, "secure boot");
        return cert_to_der(sb->cert, s->db_cert, e);
}

int bootpart_sb_sbat(const struct bootpart_usp *u, const struct xova_arch *a, const char *out, struct xerr *e)
{
        _cleanup_free_ char *dir = NULL, *grub = NULL;
        char sfx[16], rel[64];
        int r;

        /* shim refuses a second stage without SBAT metadata (its revocation
         * generations): ours is the GRUB of Debian's signed image from the
         * same loaders set, the same GRUB release our images are made from */
        r = find_loaders(u->secure_boot, a, &dir, e);
        if (r < 0)
                return r;
        efi_suffix(a, sfx);
        snprintf(rel, sizeof(rel), "grub/grub%s.efi.signed", sfx);
        grub = xova_path_join(dir, rel);
        if (!grub)
                return xerr_oom(e, a->name);
        r = pe_section_to_file(grub, ".sbat", true, out, e);
        if (r < 0)
                return xerr_prefix(e, "Secure Boot (own-key): no SBAT data for the GRUB image");
        return 0;
}

int bootpart_sb_stage(const struct bootpart_usp *u, struct bootpart_stage *s, struct xerr *e)
{
        if (!u->secure_boot)
                return 0;
        switch (u->secure_boot->mode) {
        case BOOTPART_SB_OFF:
                return 0;
        case BOOTPART_SB_DISTRIBUTION:
                return stage_distribution(u, s, e);
        case BOOTPART_SB_OWN_KEY:
                return stage_own_key(u, s, e);
        }
        return xerr_set(e, -EINVAL, "secure boot", "unknown mode");
}
