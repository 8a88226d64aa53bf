/* SPDX-License-Identifier: MIT */
/*
 * The manifest (.mf) and the helpers ovf/ shares: member names, hex, SHA-256.
 *
 * We write `SHA256(name)= <lowercase hex>` (no space before '=': ESXi
 * refuses the spaced form) and read case-insensitively but structure
 * strictly: exactly that form, 64 hex digits, LF line ends. CRLF is refused
 * (decided in docs/OVF.md: a manifest that differs by line ends from what
 * was signed is a different manifest, and nothing we write has them).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "ovf/ovf-internal.h"

const char *ovf_member_name_problem(const char *name)
{
        size_t len = strlen(name);

        if (len == 0)
                return "empty name";
        if (len > OVF_MAX_NAME)
                return "longer than 255 bytes";
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return "not a file name";
        if (strstr(name, ".."))
                return "contains '..'";
        if (strchr(name, '/'))
                return "contains '/' (members must be bare file names)";
        if (strchr(name, '\\'))
                return "contains a backslash";
        if (strchr(name, ':'))
                return "contains ':' (a URL scheme or drive letter)";
        if (name[0] == '.')
                return "starts with '.'";
        if (name[0] == '-')
                return "starts with '-'";
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                if (*p < 0x20 || *p >= 0x7f)
                        return "contains a control or non-ASCII character";
        return NULL;
}

const char *ovf_id_problem(const char *id)
{
        size_t len = strlen(id);

        if (len == 0)
                return "empty";
        if (len > 64)
                return "longer than 64 characters";
        if (!((id[0] >= 'A' && id[0] <= 'Z') || (id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9')))
                return "must start with a letter or digit";
        for (const char *p = id; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '.' || *p == '-'))
                        return "may hold only letters, digits, '_', '.' and '-'";
        if (strstr(id, ".."))
                return "contains '..'";
        return NULL;
}

void ovf_hex(const uint8_t *in, size_t n, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * n] = '\0';
}

int ovf_unhex(const char *in, size_t in_len, uint8_t *out, size_t n)
{
        if (in_len != 2 * n)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                int hi = xova_hex_digit(in[2 * i]), lo = xova_hex_digit(in[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

int ovf_sha256(const void *buf, size_t len, uint8_t ret[32])
{
        unsigned int n = 32;

        if (EVP_Digest(buf, len, ret, &n, EVP_sha256(), NULL) != 1 || n != 32)
                return -EIO;
        return 0;
}

struct ovf_manifest *ovf_manifest_free(struct ovf_manifest *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                free(m->entries[i].name);
        free(m->entries);
        free(m);
        return NULL;
}

int ovf_manifest_format(const struct ovf_manifest *m, char **ret, size_t *ret_len)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        char hex[65];

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++) {
                ovf_hex(m->entries[i].sha256, 32, hex);
                fprintf(f, "SHA256(%s)= %s\n", m->entries[i].name, hex);
        }
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

const struct ovf_manifest_entry *ovf_manifest_find(const struct ovf_manifest *m, const char *name,
                                                   size_t *ret_line)
{
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->entries[i].name, name) == 0) {
                        if (ret_line)
                                *ret_line = i + 1;
                        return &m->entries[i];
                }
        return NULL;
}

int ovf_manifest_parse(const char *buf, size_t len, const char *where, struct ovf_manifest **ret,
                       struct xerr *e)
{
        _cleanup_(ovf_manifest_freep) struct ovf_manifest *m = NULL;
        size_t pos = 0, cap = 0;
        unsigned line = 0;

        if (!where)
                where = "manifest";
        if (len > OVF_MAX_MANIFEST)
                return xerr_set(e, -EFBIG, where, "manifest is %zu bytes, more than the limit of %d", len,
                                OVF_MAX_MANIFEST);
        m = calloc(1, sizeof(*m));
        if (!m)
                return xerr_set(e, -ENOMEM, where, "out of memory");
        while (pos < len) {
                const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
                size_t ll = nl ? (size_t) (nl - l) : len - pos;
                const char *open, *close, *hex;
                _cleanup_free_ char *name = NULL;
                const char *why;
                uint8_t digest[32];

                line++;
                pos += ll + (nl ? 1 : 0);
                if (memchr(l, '\0', ll))
                        return xerr_set(e, -EBADMSG, where, "line %u: NUL byte", line);
                if (ll > 0 && l[ll - 1] == '\r')
                        return xerr_set(e, -EBADMSG, where, "line %u: carriage return (CRLF line ends are not accepted)",
                                        line);
                if (ll == 0)
                        return xerr_set(e, -EBADMSG, where, "line %u: empty line", line);
                open = memchr(l, '(', ll);
                if (!open)
                        return xerr_set(e, -EBADMSG, where, "line %u: not of the form 'SHA256(name)= hex'", line);
                if ((size_t) (open - l) != 6 || memcmp(l, "SHA256", 6) != 0)
                        return xerr_set(e, -EBADMSG, where, "line %u: digest '%s' is not supported (want SHA256)",
                                        line, xova_escape((char[XOVA_ESC_MAX]){ 0 }, XOVA_ESC_MAX, l,
                                                          (size_t) ((open - l) > 16 ? 16 : (open - l)),
                                                          XOVA_ESC_BACKSLASH));
                /* the name ends at the last ")= " so names may hold ')' */
                close = NULL;
                for (const char *p = l + ll - 1; p > open; p--)
                        if (p[0] == ')' && p + 2 < l + ll && p[1] == '=' && p[2] == ' ') {
                                close = p;
                                break;
                        }
                if (!close)
                        return xerr_set(e, -EBADMSG, where, "line %u: not of the form 'SHA256(name)= hex' "
                                        "(no space after '=' or spaces before it)", line);
                name = strndup(open + 1, (size_t) (close - open - 1));
                if (!name)
                        return xerr_set(e, -ENOMEM, where, "out of memory");
                /* names and values from the manifest are escaped in every
                 * message (common/escape.c): ESC, CR, C1 and bidi controls
                 * must not reach a terminal */
                if ((why = ovf_member_name_problem(name)))
                        return xerr_set(e, -EBADMSG, where, "line %u: name '%s': %s", line, XOVA_ESC(name), why);
                hex = close + 3;
                if (ovf_unhex(hex, (size_t) (l + ll - hex), digest, 32) < 0)
                        return xerr_set(e, -EBADMSG, where, "line %u: digest of '%s' is not 64 hex digits (%zu characters)",
                                        line, XOVA_ESC(name), (size_t) (l + ll - hex));
                if (ovf_manifest_find(m, name, NULL))
                        return xerr_set(e, -EBADMSG, where, "line %u: second entry for '%s'", line, XOVA_ESC(name));
                if (m->n == cap) {
                        struct ovf_manifest_entry *n;
                        if (cap >= 1024)
                                return xerr_set(e, -EBADMSG, where, "line %u: more than 1024 entries", line);
                        cap = cap ? 2 * cap : 8;
                        n = realloc(m->entries, cap * sizeof(*n));
                        if (!n)
                                return xerr_set(e, -ENOMEM, where, "out of memory");
                        m->entries = n;
                }
                m->entries[m->n].name = TAKE_PTR(name);
                memcpy(m->entries[m->n].sha256, digest, 32);
                m->n++;
        }
        if (m->n == 0)
                return xerr_set(e, -EBADMSG, where, "manifest is empty");
        *ret = TAKE_PTR(m);
        return 0;
}
