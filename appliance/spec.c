/* SPDX-License-Identifier: MIT */
/*
 * spec.c - the appliance spec, xova.json(5): read, parse (json-c), validate.
 *
 * Every error names the spec file and the JSON path of the offending value
 * ("xova.json: disks[1].size") and says what was expected. The spec is the
 * user's own file, but the strings in it end up in grub.cfg, OVF XML, file
 * names and kernel command lines, so every string is checked against a
 * narrow alphabet here, once, and later layers may rely on that.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "appliance/appliance.h"

/* json-c's nesting cap: a valid spec nests 3 levels deep, so 16 is plenty
 * and keeps hostile input from costing stack. */
#define SPEC_DEPTH_MAX 16
/* No object of a valid spec has more than 10 keys; the cap bounds the
 * quadratic duplicate check below. */
#define SPEC_KEYS_MAX 64
#define SPEC_ARCHS_MAX 8
#define SPEC_DISKS_MAX 16
#define SPEC_PATH_MAX 4096

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)

#define DISK_SIZE_MIN (4 * MiB)        /* mke2fs needs room for its metadata */
#define DISK_SIZE_MAX (2 * TiB)
#define BOOT_SIZE_MIN (32 * MiB)
#define BOOT_SIZE_MAX (4 * GiB)
#define MEMORY_MIN (64 * MiB)
#define MEMORY_MAX (1 * TiB)
#define MEMORY_DEFAULT (512 * MiB)
#define VCPUS_MAX 256

struct ctx {
        const char *file;               /* the spec path as given, for messages */
        const char *buf;                /* NUL-terminated copy of the text */
        size_t len;
        const char *dir;                /* absolute directory relative paths resolve against */
        struct xerr *e;
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static int fail(struct ctx *c, int code, const char *jpath, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int fail(struct ctx *c, int code, const char *jpath, const char *fmt, ...)
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

static int fail_at(struct ctx *c, int code, size_t off, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int fail_at(struct ctx *c, int code, size_t off, const char *fmt, ...)
{
        char pos[64], msg[sizeof(c->e->msg)];
        unsigned line, col;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        line_col(c->buf, off, &line, &col);
        snprintf(pos, sizeof(pos), "line %u, column %u", line, col);
        return fail(c, code, pos, "%s (byte offset %zu)", msg, off);
}

/* A user string made safe to quote in a message: at most 64 bytes, anything
 * but printable ASCII shown as '?'. */
static const char *quote(const char *s, size_t len, char buf[80])
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

static const char *type_desc(struct json_object *o)
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

static void jpath_key(char *out, size_t size, const char *parent, const char *key)
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
 * keys per object by SPEC_KEYS_MAX (which bounds the quadratic compare).
 */
struct scan {
        struct ctx *c;
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
        struct { char *key; size_t len; size_t off; } keys[SPEC_KEYS_MAX];
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
                        r = fail_at(s->c, -EINVAL, s->pos, "invalid JSON: keys must be in double quotes");
                        goto out;
                }
                if (s->c->buf[s->pos] != '"')
                        break;  /* '}' (json-c checked the syntax) */
                koff = s->pos;
                r = scan_string(s, &key, &klen);
                if (r < 0) {
                        r = fail(s->c, r, jpath, "cannot scan the keys of this object");
                        goto out;
                }
                jpath_key(kpath, sizeof(kpath), jpath, quote(key, klen, q));
                for (size_t i = 0; i < n; i++) {
                        unsigned line, col;
                        if (keys[i].len != klen || memcmp(keys[i].key, key, klen) != 0)
                                continue;
                        line_col(s->c->buf, keys[i].off, &line, &col);
                        free(key);
                        r = fail(s->c, -EINVAL, kpath,
                                 "duplicate key '%s' (first at line %u, column %u): each key may appear once",
                                 q, line, col);
                        goto out;
                }
                if (n == SPEC_KEYS_MAX) {
                        free(key);
                        r = fail(s->c, -E2BIG, jpath, "object has more than %d keys", SPEC_KEYS_MAX);
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

static int check_keys(struct ctx *c, struct json_object *o, const char *jpath,
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
                quote(key, strlen(key), q);
                jpath_key(kpath, sizeof(kpath), jpath, q);
                if (best)
                        return fail(c, -EINVAL, kpath, "unknown key '%s', did you mean '%s'?", q, best);
                return fail(c, -EINVAL, kpath, "unknown key '%s'", q);
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Typed getters: absent optional keys leave *ret untouched             */

static int get_member(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                      bool required, struct json_object **ret)
{
        char kpath[256];

        if (json_object_object_get_ex(o, key, ret))
                return 1;
        if (!required)
                return 0;
        jpath_key(kpath, sizeof(kpath), jpath, key);
        return fail(c, -EINVAL, kpath, "missing required key '%s'", key);
}

typedef bool (*char_ok_fn)(unsigned char ch);

static bool ch_name(unsigned char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
               ch == '-';
}

static bool ch_disk_name(unsigned char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

static bool ch_version(unsigned char ch)
{
        return ch > 0x20 && ch < 0x7f && !strchr("\"'\\<>&/", ch);
}

static bool ch_text(unsigned char ch)
{
        return ch >= 0x20 && ch != 0x7f;       /* UTF-8 was validated for the whole file */
}

static bool ch_cmdline(unsigned char ch)
{
        /* the command line is pasted into grub.cfg: nothing GRUB's shell-like
         * parser would interpret */
        return ch >= 0x20 && ch < 0x7f && !strchr("\"'\\$;{}`", ch);
}

static bool ch_label(unsigned char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-';
}

static bool ch_path(unsigned char ch)
{
        return ch >= 0x20 && ch != 0x7f;
}

struct str_rule {
        size_t min, max;                /* bytes */
        char_ok_fn ok;
        const char *expect;             /* "expected ..." */
        bool first_alnum;               /* first character [a-z0-9] */
};

static int get_string(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                      bool required, const struct str_rule *rule, const char **ret)
{
        struct json_object *v;
        char kpath[256], q[80];
        const char *s;
        size_t len;
        int r;

        r = get_member(c, o, jpath, key, required, &v);
        if (r <= 0)
                return r;
        jpath_key(kpath, sizeof(kpath), jpath, key);
        if (!json_object_is_type(v, json_type_string))
                return fail(c, -EINVAL, kpath, "expected a string (%s), got %s", rule->expect,
                            type_desc(v));
        s = json_object_get_string(v);
        len = (size_t) json_object_get_string_len(v);
        if (strlen(s) != len)
                return fail(c, -EINVAL, kpath, "string contains a NUL character (\\u0000)");
        if (utf8_invalid_at((const unsigned char *) s, len) != len)
                return fail(c, -EINVAL, kpath, "string is not valid UTF-8 (after unescaping)");
        if (len < rule->min || len > rule->max) {
                if (len == 0)
                        return fail(c, -EINVAL, kpath, "empty string, expected %s", rule->expect);
                return fail(c, -EINVAL, kpath, "string is %zu bytes long, expected %zu..%zu bytes (%s)",
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
                        return fail(c, -EINVAL, kpath, "%s not allowed at position %zu of '%s': expected %s",
                                    chdesc, i + 1, quote(s, len, q), rule->expect);
                }
        }
        *ret = s;
        return 1;
}

/* A size: a string like "64M" (common/parse.c units) or an integer number of bytes. */
static int get_size(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                    bool required, uint64_t min, uint64_t max, uint64_t *ret)
{
        struct json_object *v;
        char kpath[256], q[80], a[32], b[32];
        uint64_t val;
        int r;

        r = get_member(c, o, jpath, key, required, &v);
        if (r <= 0)
                return r;
        jpath_key(kpath, sizeof(kpath), jpath, key);
        switch (json_object_get_type(v)) {
        case json_type_string: {
                const char *s = json_object_get_string(v);
                size_t len = (size_t) json_object_get_string_len(v);
                if (strlen(s) != len)
                        return fail(c, -EINVAL, kpath, "string contains a NUL character (\\u0000)");
                r = xova_parse_size(s, &val);
                if (r == -ERANGE)
                        return fail(c, -ERANGE, kpath, "size '%s' does not fit in 64 bits",
                                    quote(s, len, q));
                if (r < 0)
                        return fail(c, -EINVAL, kpath,
                                    "expected a size like 64M (a decimal number with an optional K, M, G or T suffix), got '%s'",
                                    quote(s, len, q));
                break;
        }
        case json_type_int:
                if (json_object_get_int64(v) < 0)
                        return fail(c, -ERANGE, kpath, "expected a size like 64M or a byte count, got the negative number %lld",
                                    (long long) json_object_get_int64(v));
                /* json-c saturates integers past UINT64_MAX */
                val = json_object_get_uint64(v);
                if (val == UINT64_MAX)
                        return fail(c, -ERANGE, kpath, "number does not fit in 64 bits");
                break;
        default:
                return fail(c, -EINVAL, kpath, "expected a size like 64M or an integer byte count, got %s%s%s%s",
                            type_desc(v),
                            json_object_is_type(v, json_type_double) ? " '" : "",
                            json_object_is_type(v, json_type_double) ?
                                    quote(json_object_to_json_string(v), strlen(json_object_to_json_string(v)), q) : "",
                            json_object_is_type(v, json_type_double) ? "'" : "");
        }
        if (val < min || val > max)
                return fail(c, -ERANGE, kpath, "size %llu bytes is out of range %s..%s",
                            (unsigned long long) val, xova_format_size(min, a, sizeof(a)),
                            xova_format_size(max, b, sizeof(b)));
        if (val % MiB)
                return fail(c, -EINVAL, kpath, "size %llu bytes is not a multiple of 1 MiB",
                            (unsigned long long) val);
        *ret = val;
        return 1;
}

static int get_uint(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                    bool required, uint64_t min, uint64_t max, uint64_t *ret)
{
        struct json_object *v;
        char kpath[256];
        uint64_t val;
        int r;

        r = get_member(c, o, jpath, key, required, &v);
        if (r <= 0)
                return r;
        jpath_key(kpath, sizeof(kpath), jpath, key);
        if (!json_object_is_type(v, json_type_int))
                return fail(c, -EINVAL, kpath, "expected an integer %llu..%llu, got %s",
                            (unsigned long long) min, (unsigned long long) max, type_desc(v));
        if (json_object_get_int64(v) < 0)
                return fail(c, -ERANGE, kpath, "%lld is out of range %llu..%llu",
                            (long long) json_object_get_int64(v), (unsigned long long) min,
                            (unsigned long long) max);
        val = json_object_get_uint64(v);
        if (val < min || val > max)
                return fail(c, -ERANGE, kpath, "%llu is out of range %llu..%llu",
                            (unsigned long long) val, (unsigned long long) min,
                            (unsigned long long) max);
        *ret = val;
        return 1;
}

static int get_array(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                     bool required, size_t min, size_t max, struct json_object **ret)
{
        struct json_object *v;
        char kpath[256];
        size_t n;
        int r;

        r = get_member(c, o, jpath, key, required, &v);
        if (r <= 0)
                return r;
        jpath_key(kpath, sizeof(kpath), jpath, key);
        if (!json_object_is_type(v, json_type_array))
                return fail(c, -EINVAL, kpath, "expected an array, got %s", type_desc(v));
        n = json_object_array_length(v);
        if (n < min)
                return fail(c, -EINVAL, kpath, "empty array, expected %zu..%zu entries", min, max);
        if (n > max)
                return fail(c, -E2BIG, kpath, "%zu entries, at most %zu allowed", n, max);
        *ret = v;
        return 1;
}

static int resolve_path(struct ctx *c, const char *jpath, const char *p, char **ret)
{
        char *r;

        /* a NUL-free string of printable characters is all a path needs */
        r = p[0] == '/' ? strdup(p) : xova_path_join(c->dir, p);
        if (!r)
                return fail(c, -ENOMEM, jpath, "out of memory");
        *ret = r;
        return 0;
}

static int get_path(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                    bool required, char **ret)
{
        static const struct str_rule rule = { 1, SPEC_PATH_MAX, ch_path, "a file path", false };
        char kpath[256];
        const char *s = NULL;
        int r;

        r = get_string(c, o, jpath, key, required, &rule, &s);
        if (r <= 0)
                return r;
        jpath_key(kpath, sizeof(kpath), jpath, key);
        r = resolve_path(c, kpath, s, ret);
        return r < 0 ? r : 1;
}

/* A payload: a host path (a string, resolved like every path), or
 * {"from-root": "PATH"}: a file inside the architecture's own root content,
 * kept as given and looked up at build time (appliance_root_extract). */
static int get_payload(struct ctx *c, struct json_object *o, const char *jpath, const char *key,
                       bool required, char **ret, bool *ret_from_root)
{
        static const char *const keys[] = { "from-root", NULL };
        static const struct str_rule rule = {
                1, SPEC_PATH_MAX, ch_path, "a path inside the root content, like '/vmlinuz'", false };
        struct json_object *v;
        char kpath[256];
        const char *s = NULL;
        int r;

        r = get_member(c, o, jpath, key, required, &v);
        if (r <= 0 || !json_object_is_type(v, json_type_object)) {
                *ret_from_root = false;
                return r <= 0 ? r : get_path(c, o, jpath, key, required, ret);
        }
        jpath_key(kpath, sizeof(kpath), jpath, key);
        if ((r = check_keys(c, v, kpath, keys)) < 0 ||
            (r = get_string(c, v, kpath, "from-root", true, &rule, &s)) < 0)
                return r;
        *ret = strdup(s);
        if (!*ret)
                return fail(c, -ENOMEM, kpath, "out of memory");
        *ret_from_root = true;
        return 1;
}

static int dup_opt(struct ctx *c, const char *jpath, const char *s, char **ret)
{
        if (!s)
                return 0;
        *ret = strdup(s);
        if (!*ret)
                return fail(c, -ENOMEM, jpath, "out of memory");
        return 0;
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */

static int lookup_arch(struct ctx *c, const char *jpath, const char *name,
                       const struct xova_arch **ret)
{
        const struct xova_arch *a = xova_arch_by_name(name);
        char q[80], known[128] = "";

        if (a) {
                *ret = a;
                return 0;
        }
        /* an alias (Debian's "arm64", uname's, GRUB's, any case) gets the right name */
        for (size_t i = 0; i < xova_arch_count; i++) {
                const struct xova_arch *t = &xova_arch_table[i];
                if (strcasecmp(name, t->name) == 0 || strcasecmp(name, t->deb_arch) == 0 ||
                    strcasecmp(name, t->uname) == 0 || strcasecmp(name, t->grub_cpu) == 0 ||
                    strcasecmp(name, t->libvirt_arch) == 0 ||
                    (strcmp(t->name, "x86_64") == 0 &&
                     (strcasecmp(name, "x86-64") == 0 || strcasecmp(name, "x64") == 0)))
                        return fail(c, -EINVAL, jpath, "unknown architecture '%s', did you mean '%s'?",
                                    quote(name, strlen(name), q), t->name);
        }
        for (size_t i = 0; i < xova_arch_count; i++) {
                size_t n = strlen(known);
                snprintf(known + n, sizeof(known) - n, "%s'%s'", i ? ", " : "", xova_arch_table[i].name);
        }
        return fail(c, -EINVAL, jpath, "unknown architecture '%s', expected one of %s",
                    quote(name, strlen(name), q), known);
}

static int parse_arch(struct ctx *c, struct json_object *o, const char *jpath,
                      struct appliance_arch *ret)
{
        static const char *const keys[] = { "name", "kernel", "initrd", "cmdline", "vcpus",
                                             "memory", "machine", NULL };
        static const struct str_rule name_rule = { 1, 32, ch_name, "an architecture name like 'x86_64'", false };
        static const struct str_rule cmdline_rule = {
                0, 1024, ch_cmdline, "printable ASCII without \" ' \\ $ ; { } `", false };
        static const struct str_rule machine_rule = { 1, 32, ch_name, "a machine type [a-z0-9._-]", false };
        const char *name = NULL, *cmdline = NULL, *machine = NULL;
        char kpath[256];
        uint64_t vcpus = 1, memory = MEMORY_DEFAULT;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return fail(c, -EINVAL, jpath, "expected an object, got %s", type_desc(o));
        r = check_keys(c, o, jpath, keys);
        if (r < 0)
                return r;
        jpath_key(kpath, sizeof(kpath), jpath, "name");
        if ((r = get_string(c, o, jpath, "name", true, &name_rule, &name)) < 0)
                return r;
        if ((r = lookup_arch(c, kpath, name, &ret->arch)) < 0)
                return r;
        if ((r = get_payload(c, o, jpath, "kernel", true, &ret->kernel, &ret->kernel_from_root)) < 0 ||
            (r = get_payload(c, o, jpath, "initrd", false, &ret->initrd, &ret->initrd_from_root)) < 0 ||
            (r = get_string(c, o, jpath, "cmdline", false, &cmdline_rule, &cmdline)) < 0 ||
            (r = get_uint(c, o, jpath, "vcpus", false, 1, VCPUS_MAX, &vcpus)) < 0 ||
            (r = get_size(c, o, jpath, "memory", false, MEMORY_MIN, MEMORY_MAX, &memory)) < 0 ||
            (r = get_string(c, o, jpath, "machine", false, &machine_rule, &machine)) < 0)
                return r;
        ret->vcpus = (unsigned) vcpus;
        ret->memory_mib = memory / MiB;
        if (cmdline && !*cmdline)
                cmdline = NULL;
        if ((r = dup_opt(c, jpath, cmdline, &ret->cmdline)) < 0 ||
            (r = dup_opt(c, jpath, machine ? machine : ret->arch->qemu_machine, &ret->machine)) < 0)
                return r;
        return 0;
}

static const char *const content_keys[] = {
        [APPLIANCE_CONTENT_DIRECTORY] = "directory",
        [APPLIANCE_CONTENT_TARBALL] = "tarball",
        [APPLIANCE_CONTENT_IMAGE] = "image",
};

static int parse_disk(struct ctx *c, struct appliance *a, struct json_object *o,
                      const char *jpath, struct appliance_disk *ret)
{
        static const char *const keys[] = { "name", "role", "arch", "size", "directory", "tarball",
                                            "image", "label", NULL };
        static const struct str_rule name_rule = {
                1, 32, ch_disk_name, "a disk name [a-z0-9][a-z0-9_-]", true };
        static const struct str_rule role_rule = { 1, 16, ch_name, "'root' or 'data'", false };
        static const struct str_rule arch_rule = { 1, 32, ch_name, "an architecture name", false };
        static const struct str_rule label_rule = { 1, 16, ch_label, "a label [A-Za-z0-9_-], at most 16 characters", false };
        const char *name = NULL, *role = NULL, *arch = NULL, *label = NULL;
        const char *content_key = NULL;
        char kpath[256];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return fail(c, -EINVAL, jpath, "expected an object, got %s", type_desc(o));
        r = check_keys(c, o, jpath, keys);
        if (r < 0)
                return r;
        if ((r = get_string(c, o, jpath, "name", true, &name_rule, &name)) < 0 ||
            (r = get_string(c, o, jpath, "role", true, &role_rule, &role)) < 0)
                return r;
        jpath_key(kpath, sizeof(kpath), jpath, "role");
        if (strcmp(role, "root") == 0)
                ret->role = APPLIANCE_DISK_ROOT;
        else if (strcmp(role, "data") == 0)
                ret->role = APPLIANCE_DISK_DATA;
        else
                return fail(c, -EINVAL, kpath, "expected 'root' or 'data', got '%s'", role);

        jpath_key(kpath, sizeof(kpath), jpath, "arch");
        if ((r = get_string(c, o, jpath, "arch", ret->role == APPLIANCE_DISK_ROOT, &arch_rule, &arch)) < 0)
                return r;
        if (arch && ret->role == APPLIANCE_DISK_DATA)
                return fail(c, -EINVAL, kpath, "a data disk is shared by all architectures: remove 'arch'");
        if (arch) {
                if ((r = lookup_arch(c, kpath, arch, &ret->arch)) < 0)
                        return r;
                if (!appliance_arch_get(a, ret->arch->name))
                        return fail(c, -EINVAL, kpath, "architecture '%s' is not listed in 'architectures'",
                                    ret->arch->name);
        }

        ret->content = APPLIANCE_CONTENT_EMPTY;
        for (size_t k = APPLIANCE_CONTENT_DIRECTORY; k < ELEMENTSOF(content_keys); k++) {
                if (!json_object_object_get_ex(o, content_keys[k], NULL))
                        continue;
                if (content_key) {
                        jpath_key(kpath, sizeof(kpath), jpath, content_keys[k]);
                        return fail(c, -EINVAL, kpath, "'%s' and '%s' are exclusive: give at most one content source",
                                    content_key, content_keys[k]);
                }
                content_key = content_keys[k];
                ret->content = (enum appliance_content) k;
                if ((r = get_path(c, o, jpath, content_key, true, &ret->source)) < 0)
                        return r;
        }
        if ((r = get_size(c, o, jpath, "size", ret->content != APPLIANCE_CONTENT_IMAGE,
                          DISK_SIZE_MIN, DISK_SIZE_MAX, &ret->size)) < 0 ||
            (r = get_string(c, o, jpath, "label", false, &label_rule, &label)) < 0)
                return r;
        if ((r = dup_opt(c, jpath, name, &ret->name)) < 0 ||
            (r = dup_opt(c, jpath, label, &ret->label)) < 0)
                return r;
        return 0;
}

static int parse_top(struct ctx *c, struct json_object *root, struct appliance *a)
{
        static const char *const keys[] = { "name", "version", "vendor", "description", "layout",
                                            "boot_size", "architectures", "disks", NULL };
        static const struct str_rule name_rule = {
                1, 64, ch_name, "a name [a-z0-9][a-z0-9._-], at most 64 characters", true };
        static const struct str_rule version_rule = {
                1, 64, ch_version, "printable ASCII without space, quotes, \\, /, <, > or &", false };
        static const struct str_rule vendor_rule = { 0, 256, ch_text, "text without control characters", false };
        static const struct str_rule desc_rule = { 0, 4096, ch_text, "text without control characters", false };
        static const struct str_rule layout_rule = { 1, 16, ch_name, "'split' or 'single'", false };
        const char *name = NULL, *version = NULL, *vendor = NULL, *desc = NULL, *layout = NULL;
        struct json_object *archs = NULL, *disks = NULL;
        size_t n;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return fail(c, -EINVAL, NULL, "expected a JSON object at the top level, got %s",
                            type_desc(root));
        if ((r = check_keys(c, root, "", keys)) < 0)
                return r;
        if ((r = get_string(c, root, "", "name", true, &name_rule, &name)) < 0)
                return r;
        if (strstr(name, ".."))
                return fail(c, -EINVAL, "name", "'..' not allowed in '%s': the name becomes file names", name);
        if ((r = get_string(c, root, "", "version", true, &version_rule, &version)) < 0 ||
            (r = get_string(c, root, "", "vendor", false, &vendor_rule, &vendor)) < 0 ||
            (r = get_string(c, root, "", "description", false, &desc_rule, &desc)) < 0 ||
            (r = get_string(c, root, "", "layout", false, &layout_rule, &layout)) < 0)
                return r;
        if (layout && strcmp(layout, "single") == 0)
                a->layout = APPLIANCE_LAYOUT_SINGLE;
        else if (layout && strcmp(layout, "split") != 0)
                return fail(c, -EINVAL, "layout", "expected 'split' or 'single', got '%s'", layout);
        if ((r = get_size(c, root, "", "boot_size", false, BOOT_SIZE_MIN, BOOT_SIZE_MAX, &a->boot_size)) < 0)
                return r;
        if ((r = dup_opt(c, "name", name, &a->name)) < 0 ||
            (r = dup_opt(c, "version", version, &a->version)) < 0 ||
            (r = dup_opt(c, "vendor", vendor, &a->vendor)) < 0 ||
            (r = dup_opt(c, "description", desc, &a->description)) < 0)
                return r;

        if ((r = get_array(c, root, "", "architectures", true, 1, SPEC_ARCHS_MAX, &archs)) < 0)
                return r;
        n = json_object_array_length(archs);
        a->archs = calloc(n, sizeof(*a->archs));
        if (!a->archs)
                return fail(c, -ENOMEM, "architectures", "out of memory");
        for (size_t i = 0; i < n; i++) {
                char jpath[64], npath[80];
                snprintf(jpath, sizeof(jpath), "architectures[%zu]", i);
                r = parse_arch(c, json_object_array_get_idx(archs, i), jpath, &a->archs[i]);
                a->n_archs = i + 1;     /* so that appliance_free releases what was set */
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++)
                        if (a->archs[k].arch == a->archs[i].arch) {
                                snprintf(npath, sizeof(npath), "%s.name", jpath);
                                return fail(c, -EINVAL, npath, "architecture '%s' is already listed as architectures[%zu]",
                                            a->archs[i].arch->name, k);
                        }
        }

        if ((r = get_array(c, root, "", "disks", false, 0, SPEC_DISKS_MAX, &disks)) < 0)
                return r;
        n = disks ? json_object_array_length(disks) : 0;
        if (n > 0) {
                a->disks = calloc(n, sizeof(*a->disks));
                if (!a->disks)
                        return fail(c, -ENOMEM, "disks", "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
                char jpath[64], npath[80];
                struct appliance_disk *d = &a->disks[i];
                snprintf(jpath, sizeof(jpath), "disks[%zu]", i);
                r = parse_disk(c, a, json_object_array_get_idx(disks, i), jpath, d);
                a->n_disks = i + 1;
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++) {
                        const struct appliance_disk *o = &a->disks[k];
                        if (strcmp(o->name, d->name) == 0 && o->arch == d->arch) {
                                snprintf(npath, sizeof(npath), "%s.name", jpath);
                                return fail(c, -EINVAL, npath, "disk '%s'%s%s is already defined as disks[%zu]",
                                            d->name, d->arch ? " for " : "", d->arch ? d->arch->name : "", k);
                        }
                        if (d->role == APPLIANCE_DISK_ROOT && o->role == APPLIANCE_DISK_ROOT &&
                            o->arch == d->arch) {
                                snprintf(npath, sizeof(npath), "%s.arch", jpath);
                                return fail(c, -EINVAL, npath, "architecture '%s' already has a root disk (disks[%zu]): exactly one per architecture",
                                            d->arch->name, k);
                        }
                }
        }
        for (size_t i = 0; i < a->n_archs; i++)
                if (!appliance_root_disk(a, a->archs[i].arch))
                        return fail(c, -EINVAL, "disks", "no root disk for architecture '%s' (architectures[%zu]): add a disk with \"role\": \"root\", \"arch\": \"%s\"",
                                    a->archs[i].arch->name, i, a->archs[i].arch->name);
        for (size_t i = 0; i < a->n_archs; i++) {
                const struct appliance_arch *aa = &a->archs[i];
                const struct appliance_disk *d = appliance_root_disk(a, aa->arch);
                char kpath[96];
                if (!aa->kernel_from_root && !aa->initrd_from_root)
                        continue;
                snprintf(kpath, sizeof(kpath), "architectures[%zu].%s", i,
                         aa->kernel_from_root ? "kernel" : "initrd");
                if (d->content != APPLIANCE_CONTENT_DIRECTORY && d->content != APPLIANCE_CONTENT_TARBALL)
                        return fail(c, -EINVAL, kpath, "\"from-root\" needs the root disk of '%s' to "
                                    "have a \"directory\" or \"tarball\"", aa->arch->name);
        }
        return 0;
}

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

/* The spec's directory made absolute (lexically: the file need not exist),
 * so resolved paths stay valid if the caller changes directory. */
static char *spec_dir_abs(const char *path)
{
        _cleanup_free_ char *dir = xova_dirname(path), *cwd = NULL;

        if (!dir)
                return NULL;
        if (dir[0] == '/')
                return TAKE_PTR(dir);
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return NULL;
        if (strcmp(dir, ".") == 0)
                return TAKE_PTR(cwd);
        return xova_path_join(cwd, dir);
}

int appliance_parse(const char *buf, size_t len, const char *path, struct appliance **ret,
                    struct xerr *e)
{
        _cleanup_(appliance_freep) struct appliance *a = NULL;
        _cleanup_(tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_putp) struct json_object *root = NULL;
        _cleanup_free_ char *text = NULL;
        struct ctx c = { .file = path ? path : "<spec>", .e = e };
        struct scan s = { .c = &c };
        size_t bad, end;
        int r;

        if (len > APPLIANCE_SPEC_MAX)
                return fail(&c, -EFBIG, NULL, "spec is %zu bytes, more than the limit of %u",
                            len, APPLIANCE_SPEC_MAX);
        /* a private NUL-terminated copy: the caller's buffer need not be */
        text = malloc(len + 2);
        if (!text)
                return fail(&c, -ENOMEM, NULL, "out of memory");
        memcpy(text, buf, len);
        text[len] = '\0';
        c.buf = text;
        c.len = len;

        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                return fail_at(&c, -EINVAL, 0, "byte order mark (BOM) not allowed: save the file as UTF-8 without BOM");
        if (strlen(text) != len)
                return fail_at(&c, -EINVAL, strlen(text), "NUL byte in the file");
        bad = utf8_invalid_at((const unsigned char *) text, len);
        if (bad != len)
                return fail_at(&c, -EILSEQ, bad, "invalid UTF-8 byte 0x%02x", (unsigned char) text[bad]);
        end = len;
        while (end > 0 && strchr(" \t\r\n", text[end - 1]))
                end--;
        if (end == 0)
                return fail(&c, -EINVAL, NULL, "empty file, expected a JSON object");

        /* json-c cannot tell that a top-level literal ("null", "12") has
         * ended without a character after it: give it one past the end */
        text[len] = ' ';
        text[len + 1] = '\0';
        tok = json_tokener_new_ex(SPEC_DEPTH_MAX);
        if (!tok)
                return fail(&c, -ENOMEM, NULL, "out of memory");
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
                        return fail(&c, -EINVAL, NULL, "expected a JSON object at the top level, got null");
                if (je == json_tokener_continue)
                        return fail_at(&c, -EINVAL, len, "invalid JSON: unexpected end of input (truncated?)");
                if (je == json_tokener_error_depth)
                        return fail_at(&c, -EINVAL, at, "invalid JSON: nested deeper than %d levels", SPEC_DEPTH_MAX);
                return fail_at(&c, -EINVAL, at, "invalid JSON: %s",
                               json_tokener_error_desc(je));
        }
        end = json_tokener_get_parse_end(tok);
        if (end > len)
                end = len;
        while (end < len && strchr(" \t\r\n", text[end]))
                end++;
        if (end < len)
                return fail_at(&c, -EINVAL, end, "invalid JSON: trailing characters after the top-level value");
        r = scan_value(&s, "");
        if (r < 0)
                return r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return fail(&c, -ENOMEM, NULL, "out of memory");
        a->spec_path = strdup(c.file);
        a->spec_dir = spec_dir_abs(c.file);
        if (!a->spec_path || !a->spec_dir)
                return fail(&c, -ENOMEM, NULL, "cannot resolve the spec's directory");
        c.dir = a->spec_dir;
        r = parse_top(&c, root, a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int appliance_load(const char *path, struct appliance **ret, struct xerr *e)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        /* refused unread when larger than the cap (xova_read_file checks fstat first) */
        r = xova_read_file(path, APPLIANCE_SPEC_MAX, &buf, &len, e);
        if (r < 0)
                return r;
        return appliance_parse(buf, len, path, ret, e);
}

/* ------------------------------------------------------------------ */
/* Sources                                                             */

static int check_file(const char *spec, const char *jpath, const char *path, uint64_t max,
                      struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        struct xerr sub = { 0 };
        char where[sizeof(e->where)];
        int r;

        r = xova_open_input(path, max, &fd, NULL, &sub);
        if (r < 0) {
                snprintf(where, sizeof(where), "%s: %s", spec, jpath);
                return xerr_set(e, r, where, "'%s': %s", path, sub.msg);
        }
        return 0;
}

static int check_dir(const char *spec, const char *jpath, const char *path, struct xerr *e)
{
        _cleanup_close_ int fd = -1;
        char where[sizeof(e->where)];
        struct stat st;

        snprintf(where, sizeof(where), "%s: %s", spec, jpath);
        /* O_NONBLOCK: a FIFO in place of the directory must not hang us */
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOTDIR)
                return xerr_set(e, -ENOTDIR, where, "'%s' is not a directory", path);
        if (fd < 0)
                return xerr_set_errno(e, -errno, where, "cannot open directory '%s'", path);
        if (fstat(fd, &st) < 0)
                return xerr_set_errno(e, -errno, where, "cannot stat '%s'", path);
        if (!S_ISDIR(st.st_mode))
                return xerr_set(e, -ENOTDIR, where, "'%s' is not a directory", path);
        return 0;
}

int appliance_check_sources(const struct appliance *a, struct xerr *e)
{
        /* payloads go into the FAT USP (<= 4 GiB); images into disks (<= 2 TiB) */
        const uint64_t payload_max = BOOT_SIZE_MAX, image_max = DISK_SIZE_MAX;
        char jpath[128];
        int r;

        for (size_t i = 0; i < a->n_archs; i++) {
                snprintf(jpath, sizeof(jpath), "architectures[%zu].kernel", i);
                if (!a->archs[i].kernel_from_root &&
                    (r = check_file(a->spec_path, jpath, a->archs[i].kernel, payload_max, e)) < 0)
                        return r;
                if (!a->archs[i].initrd || a->archs[i].initrd_from_root)
                        continue;
                snprintf(jpath, sizeof(jpath), "architectures[%zu].initrd", i);
                if ((r = check_file(a->spec_path, jpath, a->archs[i].initrd, payload_max, e)) < 0)
                        return r;
        }
        for (size_t i = 0; i < a->n_disks; i++) {
                const struct appliance_disk *d = &a->disks[i];
                if (d->content == APPLIANCE_CONTENT_EMPTY)
                        continue;
                snprintf(jpath, sizeof(jpath), "disks[%zu].%s", i, content_keys[d->content]);
                if (d->content == APPLIANCE_CONTENT_DIRECTORY)
                        r = check_dir(a->spec_path, jpath, d->source, e);
                else
                        r = check_file(a->spec_path, jpath, d->source,
                                       d->content == APPLIANCE_CONTENT_IMAGE ? image_max : UINT64_MAX, e);
                if (r < 0)
                        return r;
                if (d->content == APPLIANCE_CONTENT_IMAGE && d->size) {
                        struct stat st;
                        if (stat(d->source, &st) == 0 && (uint64_t) st.st_size > d->size) {
                                char where[sizeof(e->where)];
                                snprintf(where, sizeof(where), "%s: disks[%zu].size", a->spec_path, i);
                                return xerr_set(e, -EFBIG, where, "image '%s' is %llu bytes, larger than the disk size %llu",
                                                d->source, (unsigned long long) st.st_size,
                                                (unsigned long long) d->size);
                        }
                }
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* Accessors                                                           */

struct appliance *appliance_free(struct appliance *a)
{
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_archs; i++) {
                free(a->archs[i].kernel);
                free(a->archs[i].initrd);
                free(a->archs[i].cmdline);
                free(a->archs[i].machine);
        }
        free(a->archs);
        for (size_t i = 0; i < a->n_disks; i++) {
                free(a->disks[i].name);
                free(a->disks[i].source);
                free(a->disks[i].label);
        }
        free(a->disks);
        free(a->spec_path);
        free(a->spec_dir);
        free(a->name);
        free(a->version);
        free(a->vendor);
        free(a->description);
        free(a);
        return NULL;
}

const struct appliance_arch *appliance_arch_get(const struct appliance *a, const char *name)
{
        for (size_t i = 0; a && name && i < a->n_archs; i++)
                if (a->archs[i].arch && strcmp(a->archs[i].arch->name, name) == 0)
                        return &a->archs[i];
        return NULL;
}

const struct appliance_disk *appliance_root_disk(const struct appliance *a,
                                                 const struct xova_arch *arch)
{
        for (size_t i = 0; a && arch && i < a->n_disks; i++)
                if (a->disks[i].role == APPLIANCE_DISK_ROOT && a->disks[i].arch == arch)
                        return &a->disks[i];
        return NULL;
}
