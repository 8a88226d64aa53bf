/* SPDX-License-Identifier: MIT */
/*
 * json.c - strict JSON for the spec, on top of json-c: the text checks json-c
 * does not make (strict UTF-8, no BOM or NUL, duplicate keys, trailing
 * characters), messages that name the file and a JSON path or a line and
 * column, unknown keys with a "did you mean", and typed getters. Knows
 * nothing of the xova.json schema, which is spec.c's.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "appliance/json.h"
#include "common/common.h"

#define MiB (UINT64_C(1) << 20)

static void tokener_freep(struct json_tokener **t)
{
        if (*t)
                json_tokener_free(*t);
}

static void json_putp(struct json_object **o)
{
        if (*o)
                json_object_put(*o);
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

int sj_fail(struct sj_ctx *c, int code, const char *jpath, const char *fmt, ...)
{
        char where[sizeof(c->e->where)], msg[sizeof(c->e->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (jpath && *jpath)
                snprintf(where, sizeof(where), "%s: %s", c->file, jpath);
        else
                snprintf(where, sizeof(where), "%s", c->file);
        return xerr_set(c->e, code, where, "%s", msg);
}

static void line_col(const char *buf, size_t off, unsigned *line, unsigned *col)
{
        *line = 1;
        *col = 1;
        for (size_t i = 0; i < off; i++) {
                if (buf[i] == '\n') {
                        (*line)++;
                        *col = 1;
                } else {
                        (*col)++;
                }
        }
}

int sj_fail_at(struct sj_ctx *c, int code, size_t off, const char *fmt, ...)
{
        char pos[64], msg[sizeof(c->e->msg)];
        unsigned line, col;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        line_col(c->buf, off, &line, &col);
        snprintf(pos, sizeof(pos), "line %u, column %u", line, col);
        return sj_fail(c, code, pos, "%s (byte offset %zu)", msg, off);
}

/* A user string made safe to quote in a message: at most 64 bytes, anything
 * but printable ASCII shown as '?'. */
const char *sj_quote(const char *s, size_t len, char buf[80])
{
        size_t o = 0;

        for (size_t i = 0; i < len && o < 64; i++)
                buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        if (len > 64) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
        return buf;
}

const char *sj_type_desc(struct json_object *o)
{
        switch (json_object_get_type(o)) {
        case json_type_null: return "null";
        case json_type_boolean: return "a boolean";
        case json_type_double: return "a fractional number";
        case json_type_int: return "an integer";
        case json_type_object: return "an object";
        case json_type_array: return "an array";
        case json_type_string: return "a string";
        }
        return "an unknown type";
}

void sj_jpath_key(char *out, size_t size, const char *parent, const char *key)
{
        if (parent && *parent)
                snprintf(out, size, "%s.%s", parent, key);
        else
                snprintf(out, size, "%s", key);
}

/* ------------------------------------------------------------------ */
/* Text-level checks, before and after json-c                          */

/* Strict UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
 * Returns the offset of the first bad byte, or len. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
        size_t i = 0;

        while (i < len) {
                unsigned char b = s[i];
                size_t n;
                uint32_t cp, min;

                if (b < 0x80) {
                        i++;
                        continue;
                } else if ((b & 0xe0) == 0xc0) {
                        n = 1, cp = b & 0x1f, min = 0x80;
                } else if ((b & 0xf0) == 0xe0) {
                        n = 2, cp = b & 0x0f, min = 0x800;
                } else if ((b & 0xf8) == 0xf0) {
                        n = 3, cp = b & 0x07, min = 0x10000;
                } else {
                        return i;
                }
                if (len - i <= n)
                        return i;
                for (size_t k = 1; k <= n; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return i;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return i;
                i += n + 1;
        }
        return len;
}

/*
 * Duplicate keys. json-c keeps the last of two equal keys without a word and
 * (as of 0.16) has no hook to report them, so this hand-written scanner walks
 * the text once more after json-c has accepted it as strict JSON, only to
 * compare the keys of each object. Because the syntax is already known to be
 * valid it can stay small; it still never reads past the NUL terminator. Keys
 * are decoded (escapes included) so that "a" and "\u0061" count as the same
 * key, as json-c would treat them. Nesting is bounded by json-c's depth cap,
 * keys per object by SJ_KEYS_MAX (which bounds the quadratic compare).
 */
struct scan {
        struct sj_ctx *c;
        size_t pos;
};

static void scan_ws(struct scan *s)
{
        while (strchr(" \t\r\n", s->c->buf[s->pos]) && s->c->buf[s->pos])
                s->pos++;
}

static unsigned hexval(char ch)
{
        if (ch >= '0' && ch <= '9')
                return (unsigned) (ch - '0');
        if (ch >= 'a' && ch <= 'f')
                return (unsigned) (ch - 'a' + 10);
        if (ch >= 'A' && ch <= 'F')
                return (unsigned) (ch - 'A' + 10);
        return 0;
}

static void put_utf8(char *out, size_t *o, uint32_t cp)
{
        if (cp < 0x80) {
                out[(*o)++] = (char) cp;
        } else if (cp < 0x800) {
                out[(*o)++] = (char) (0xc0 | (cp >> 6));
                out[(*o)++] = (char) (0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
                out[(*o)++] = (char) (0xe0 | (cp >> 12));
                out[(*o)++] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[(*o)++] = (char) (0x80 | (cp & 0x3f));
        } else {
                out[(*o)++] = (char) (0xf0 | (cp >> 18));
                out[(*o)++] = (char) (0x80 | ((cp >> 12) & 0x3f));
                out[(*o)++] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[(*o)++] = (char) (0x80 | (cp & 0x3f));
        }
}

/* At a '"': decodes the string into a new buffer (decoded text is never
 * longer than its escaped form). */
static int scan_string(struct scan *s, char **ret, size_t *ret_len)
{
        const char *b = s->c->buf;
        size_t start = ++s->pos, o = 0;
        _cleanup_free_ char *out = NULL;

        while (b[s->pos] && b[s->pos] != '"')
                s->pos += (b[s->pos] == '\\' && b[s->pos + 1]) ? 2 : 1;
        out = malloc(s->pos - start + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = start; i < s->pos; i++) {
                uint32_t cp;
                if (b[i] != '\\') {
                        out[o++] = b[i];
                        continue;
                }
                i++;
                switch (b[i]) {
                case 'b': out[o++] = '\b'; break;
                case 'f': out[o++] = '\f'; break;
                case 'n': out[o++] = '\n'; break;
                case 'r': out[o++] = '\r'; break;
                case 't': out[o++] = '\t'; break;
                case 'u':
                        if (i + 4 >= s->pos)
                                return -EINVAL;
                        cp = hexval(b[i + 1]) << 12 | hexval(b[i + 2]) << 8 |
                             hexval(b[i + 3]) << 4 | hexval(b[i + 4]);
                        i += 4;
                        if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < s->pos &&
                            b[i + 1] == '\\' && b[i + 2] == 'u') {
                                uint32_t lo = hexval(b[i + 3]) << 12 | hexval(b[i + 4]) << 8 |
                                              hexval(b[i + 5]) << 4 | hexval(b[i + 6]);
                                if (lo >= 0xdc00 && lo < 0xe000) {
                                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                        i += 6;
                                }
                        }
                        /* 6 escaped bytes always hold the <= 4 encoded ones */
                        put_utf8(out, &o, cp);
                        break;
                default: out[o++] = b[i]; break;       /* \" \\ \/ */
                }
        }
        out[o] = '\0';
        if (b[s->pos] == '"')
                s->pos++;
        *ret_len = o;
        *ret = TAKE_PTR(out);
        return 0;
}

static int scan_value(struct scan *s, const char *jpath);

static int scan_object(struct scan *s, const char *jpath)
{
        struct { char *key; size_t len; size_t off; } keys[SJ_KEYS_MAX];
        size_t n = 0;
        int r = 0;

        s->pos++;       /* '{' */
        for (;;) {
                char kpath[256], q[80];
                size_t koff;
                char *key;
                size_t klen;

                scan_ws(s);
                /* json-c 0.16 accepts 'single-quoted' keys even when strict */
                if (s->c->buf[s->pos] == '\'') {
                        r = sj_fail_at(s->c, -EINVAL, s->pos, "invalid JSON: keys must be in double quotes");
                        goto out;
                }
                if (s->c->buf[s->pos] != '"')
                        break;  /* '}' (json-c checked the syntax) */
                koff = s->pos;
                r = scan_string(s, &key, &klen);
                if (r < 0) {
                        r = sj_fail(s->c, r, jpath, "cannot scan the keys of this object");
                        goto out;
                }
                sj_jpath_key(kpath, sizeof(kpath), jpath, sj_quote(key, klen, q));
                for (size_t i = 0; i < n; i++) {
                        unsigned line, col;
                        if (keys[i].len != klen || memcmp(keys[i].key, key, klen) != 0)
                                continue;
                        line_col(s->c->buf, keys[i].off, &line, &col);
                        free(key);
                        r = sj_fail(s->c, -EINVAL, kpath,
                                 "duplicate key '%s' (first at line %u, column %u): each key may appear once",
                                 q, line, col);
                        goto out;
                }
                if (n == SJ_KEYS_MAX) {
                        free(key);
                        r = sj_fail(s->c, -E2BIG, jpath, "object has more than %d keys", SJ_KEYS_MAX);
                        goto out;
                }
                keys[n].key = key;
                keys[n].len = klen;
                keys[n].off = koff;
                n++;
                scan_ws(s);
                if (s->c->buf[s->pos] == ':')
                        s->pos++;
                r = scan_value(s, kpath);
                if (r < 0)
                        goto out;
                scan_ws(s);
                if (s->c->buf[s->pos] == ',')
                        s->pos++;
        }
        if (s->c->buf[s->pos] == '}')
                s->pos++;
out:
        for (size_t i = 0; i < n; i++)
                free(keys[i].key);
        return r;
}

static int scan_value(struct scan *s, const char *jpath)
{
        const char *b = s->c->buf;
        size_t idx = 0;
        int r;

        scan_ws(s);
        switch (b[s->pos]) {
        case '{':
                return scan_object(s, jpath);
        case '[':
                s->pos++;
                for (;;) {
                        char ipath[256];
                        scan_ws(s);
                        if (b[s->pos] == ']' || !b[s->pos])
                                break;
                        snprintf(ipath, sizeof(ipath), "%s[%zu]", jpath, idx++);
                        r = scan_value(s, ipath);
                        if (r < 0)
                                return r;
                        scan_ws(s);
                        if (b[s->pos] == ',')
                                s->pos++;
                        else
                                break;
                }
                if (b[s->pos] == ']')
                        s->pos++;
                return 0;
        case '"':
                while (b[++s->pos] && b[s->pos] != '"')
                        if (b[s->pos] == '\\' && b[s->pos + 1])
                                s->pos++;
                if (b[s->pos])
                        s->pos++;
                return 0;
        default:        /* number, true, false, null */
                while (b[s->pos] && !strchr(",]} \t\r\n", b[s->pos]))
                        s->pos++;
                return 0;
        }
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

        if (la > 32 || lb > 32)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
                        size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
                        cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
                }
                memcpy(prev, cur, sizeof(prev));
        }
        return prev[lb];
}

int sj_check_keys(struct sj_ctx *c, struct json_object *o, const char *jpath,
                      const char *const *known)
{
        json_object_object_foreach(o, key, val) {
                const char *best = NULL;
                size_t best_d = 3;      /* suggest only close matches */
                char kpath[256], q[80];
                bool ok = false;

                (void) val;
                for (size_t i = 0; known[i]; i++) {
                        size_t d;
                        if (strcmp(key, known[i]) == 0) {
                                ok = true;
                                break;
                        }
                        d = edit_distance(key, known[i]);
                        if (d < best_d) {
                                best_d = d;
                                best = known[i];
                        }
                }
                if (ok)
                        continue;
                sj_quote(key, strlen(key), q);
                sj_jpath_key(kpath, sizeof(kpath), jpath, q);
                if (best)
                        return sj_fail(c, -EINVAL, kpath, "unknown key '%s', did you mean '%s'?", q, best);
                return sj_fail(c, -EINVAL, kpath, "unknown key '%s'", q);
        }
        return 0;
}

int sj_check_object(struct sj_ctx *c, struct json_object *o, const char *jpath,
                    const char *const *known)
{
        if (!json_object_is_type(o, json_type_object))
                return sj_fail(c, -EINVAL, jpath, "expected an object, got %s", sj_type_desc(o));
        return sj_check_keys(c, o, jpath, known);
}

/* ------------------------------------------------------------------ */
/* Typed getters: absent optional keys leave *ret untouched             */

int sj_get_member(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                      bool required, struct json_object **ret)
{
        char kpath[256];

        if (json_object_object_get_ex(o, key, ret))
                return 1;
        if (!required)
                return 0;
        sj_jpath_key(kpath, sizeof(kpath), jpath, key);
        return sj_fail(c, -EINVAL, kpath, "missing required key '%s'", key);
}

/* sj_get_member(), and on a hit the key's JSON path for the getter's messages */
static int member_at(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                     bool required, struct json_object **ret, char kpath[static SJ_KPATH_MAX])
{
        int r = sj_get_member(c, o, jpath, key, required, ret);

        if (r > 0)
                sj_jpath_key(kpath, SJ_KPATH_MAX, jpath, key);
        return r;
}


int sj_get_string(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                      bool required, const struct sj_str_rule *rule, const char **ret)
{
        struct json_object *v;
        char kpath[SJ_KPATH_MAX], q[80];
        const char *s;
        size_t len;
        int r;

        r = member_at(c, o, jpath, key, required, &v, kpath);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_string))
                return sj_fail(c, -EINVAL, kpath, "expected a string (%s), got %s", rule->expect,
                            sj_type_desc(v));
        s = json_object_get_string(v);
        len = (size_t) json_object_get_string_len(v);
        if (strlen(s) != len)
                return sj_fail(c, -EINVAL, kpath, "string contains a NUL character (\\u0000)");
        if (utf8_invalid_at((const unsigned char *) s, len) != len)
                return sj_fail(c, -EINVAL, kpath, "string is not valid UTF-8 (after unescaping)");
        if (len < rule->min || len > rule->max) {
                if (len == 0)
                        return sj_fail(c, -EINVAL, kpath, "empty string, expected %s", rule->expect);
                return sj_fail(c, -EINVAL, kpath, "string is %zu bytes long, expected %zu..%zu bytes (%s)",
                            len, rule->min, rule->max, rule->expect);
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char) s[i];
                if (!rule->ok(ch) ||
                    (i == 0 && rule->first_alnum && !((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))) {
                        char chdesc[16];
                        if (ch >= 0x21 && ch < 0x7f)
                                snprintf(chdesc, sizeof(chdesc), "'%c'", ch);
                        else
                                snprintf(chdesc, sizeof(chdesc), "byte 0x%02x", ch);
                        return sj_fail(c, -EINVAL, kpath, "%s not allowed at position %zu of '%s': expected %s",
                                    chdesc, i + 1, sj_quote(s, len, q), rule->expect);
                }
        }
        *ret = s;
        return 1;
}

/* A size: a string like "64M" (common/parse.c units) or an integer number of bytes. */
int sj_get_size(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                    bool required, uint64_t min, uint64_t max, uint64_t *ret)
{
        struct json_object *v;
        char kpath[SJ_KPATH_MAX], q[80], a[32], b[32];
        uint64_t val;
        int r;

        r = member_at(c, o, jpath, key, required, &v, kpath);
        if (r <= 0)
                return r;
        switch (json_object_get_type(v)) {
        case json_type_string: {
                const char *s = json_object_get_string(v);
                size_t len = (size_t) json_object_get_string_len(v);
                if (strlen(s) != len)
                        return sj_fail(c, -EINVAL, kpath, "string contains a NUL character (\\u0000)");
                r = xova_parse_size(s, &val);
                if (r == -ERANGE)
                        return sj_fail(c, -ERANGE, kpath, "size '%s' does not fit in 64 bits",
                                    sj_quote(s, len, q));
                if (r < 0)
                        return sj_fail(c, -EINVAL, kpath,
                                    "expected a size like 64M (a decimal number with an optional K, M, G or T suffix), got '%s'",
                                    sj_quote(s, len, q));
                break;
        }
        case json_type_int:
                if (json_object_get_int64(v) < 0)
                        return sj_fail(c, -ERANGE, kpath, "expected a size like 64M or a byte count, got the negative number %lld",
                                    (long long) json_object_get_int64(v));
                /* json-c saturates integers past UINT64_MAX */
                val = json_object_get_uint64(v);
                if (val == UINT64_MAX)
                        return sj_fail(c, -ERANGE, kpath, "number does not fit in 64 bits");
                break;
        default:
                return sj_fail(c, -EINVAL, kpath, "expected a size like 64M or an integer byte count, got %s%s%s%s",
                            sj_type_desc(v),
                            json_object_is_type(v, json_type_double) ? " '" : "",
                            json_object_is_type(v, json_type_double) ?
                                    sj_quote(json_object_to_json_string(v), strlen(json_object_to_json_string(v)), q) : "",
                            json_object_is_type(v, json_type_double) ? "'" : "");
        }
        if (val < min || val > max)
                return sj_fail(c, -ERANGE, kpath, "size %llu bytes is out of range %s..%s",
                            (unsigned long long) val, xova_format_size(min, a, sizeof(a)),
                            xova_format_size(max, b, sizeof(b)));
        if (val % MiB)
                return sj_fail(c, -EINVAL, kpath, "size %llu bytes is not a multiple of 1 MiB",
                            (unsigned long long) val);
        *ret = val;
        return 1;
}

int sj_get_uint(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                    bool required, uint64_t min, uint64_t max, uint64_t *ret)
{
        struct json_object *v;
        char kpath[SJ_KPATH_MAX];
        uint64_t val;
        int r;

        r = member_at(c, o, jpath, key, required, &v, kpath);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_int))
                return sj_fail(c, -EINVAL, kpath, "expected an integer %llu..%llu, got %s",
                            (unsigned long long) min, (unsigned long long) max, sj_type_desc(v));
        if (json_object_get_int64(v) < 0)
                return sj_fail(c, -ERANGE, kpath, "%lld is out of range %llu..%llu",
                            (long long) json_object_get_int64(v), (unsigned long long) min,
                            (unsigned long long) max);
        val = json_object_get_uint64(v);
        if (val < min || val > max)
                return sj_fail(c, -ERANGE, kpath, "%llu is out of range %llu..%llu",
                            (unsigned long long) val, (unsigned long long) min,
                            (unsigned long long) max);
        *ret = val;
        return 1;
}

int sj_get_array(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                     bool required, size_t min, size_t max, struct json_object **ret)
{
        struct json_object *v;
        char kpath[SJ_KPATH_MAX];
        size_t n;
        int r;

        r = member_at(c, o, jpath, key, required, &v, kpath);
        if (r <= 0)
                return r;
        if (!json_object_is_type(v, json_type_array))
                return sj_fail(c, -EINVAL, kpath, "expected an array, got %s", sj_type_desc(v));
        n = json_object_array_length(v);
        if (n < min)
                return sj_fail(c, -EINVAL, kpath, "empty array, expected %zu..%zu entries", min, max);
        if (n > max)
                return sj_fail(c, -E2BIG, kpath, "%zu entries, at most %zu allowed", n, max);
        *ret = v;
        return 1;
}

int sj_parse(struct sj_ctx *c, const char *buf, size_t len, struct json_object **ret)
{
        _cleanup_(tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_putp) struct json_object *root = NULL;
        char *text;
        struct scan s = { .c = c };
        size_t bad, end;
        int r;

        /* a private NUL-terminated copy: the caller's buffer need not be */
        text = malloc(len + 2);
        if (!text)
                return sj_fail(c, -ENOMEM, NULL, "out of memory");
        memcpy(text, buf, len);
        text[len] = '\0';
        free(c->text);
        c->text = text;
        c->buf = text;
        c->len = len;
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                return sj_fail_at(c, -EINVAL, 0, "byte order mark (BOM) not allowed: save the file as UTF-8 without BOM");
        if (strlen(text) != len)
                return sj_fail_at(c, -EINVAL, strlen(text), "NUL byte in the file");
        bad = utf8_invalid_at((const unsigned char *) text, len);
        if (bad != len)
                return sj_fail_at(c, -EILSEQ, bad, "invalid UTF-8 byte 0x%02x", (unsigned char) text[bad]);
        end = len;
        while (end > 0 && strchr(" \t\r\n", text[end - 1]))
                end--;
        if (end == 0)
                return sj_fail(c, -EINVAL, NULL, "empty file, expected a JSON object");

        /* json-c cannot tell that a top-level literal ("null", "12") has
         * ended without a character after it: give it one past the end */
        text[len] = ' ';
        text[len + 1] = '\0';
        tok = json_tokener_new_ex(SJ_DEPTH_MAX);
        if (!tok)
                return sj_fail(c, -ENOMEM, NULL, "out of memory");
        /* trailing characters are reported below, with a clearer message */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, text, (int) len + 1);
        text[len] = '\0';
        if (!root) {
                enum json_tokener_error je = json_tokener_get_error(tok);
                size_t at = json_tokener_get_parse_end(tok);
                if (at > len)
                        at = len;
                if (je == json_tokener_success)         /* json-c's null is a NULL object */
                        return sj_fail(c, -EINVAL, NULL, "expected a JSON object at the top level, got null");
                if (je == json_tokener_continue)
                        return sj_fail_at(c, -EINVAL, len, "invalid JSON: unexpected end of input (truncated?)");
                if (je == json_tokener_error_depth)
                        return sj_fail_at(c, -EINVAL, at, "invalid JSON: nested deeper than %d levels", SJ_DEPTH_MAX);
                return sj_fail_at(c, -EINVAL, at, "invalid JSON: %s",
                               json_tokener_error_desc(je));
        }
        end = json_tokener_get_parse_end(tok);
        if (end > len)
                end = len;
        while (end < len && strchr(" \t\r\n", text[end]))
                end++;
        if (end < len)
                return sj_fail_at(c, -EINVAL, end, "invalid JSON: trailing characters after the top-level value");
        r = scan_value(&s, "");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(root);
        return 0;
}


void sj_ctx_release(struct sj_ctx *c)
{
        free(c->text);
        c->text = NULL;
        c->buf = NULL;
}
