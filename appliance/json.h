/* SPDX-License-Identifier: MIT */
/*
 * json.h - strict JSON reading for the spec (json.c), internal to appliance/.
 *
 * Every error goes to c->e with where = "FILE: JSONPATH" (or "FILE: line L,
 * column C") and a message saying what was expected. The getters return 1
 * when the key was there and is valid, 0 when an optional key is absent
 * (*ret untouched), or a negative errno with c->e set.
 */
#ifndef XOVA_APPLIANCE_JSON_H
#define XOVA_APPLIANCE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct json_object;

/* json-c's nesting cap: a valid spec nests 3 levels deep, so 16 is plenty
 * and keeps hostile input from costing stack. */
#define SJ_DEPTH_MAX 16
/* No object of a valid spec has more than 10 keys; the cap bounds the
 * quadratic duplicate-key check. */
#define SJ_KEYS_MAX 64
/* A JSON path as messages show it ("architectures[1].memory") */
#define SJ_KPATH_MAX 256

struct sj_ctx {
        const char *file;               /* the file as given, for messages */
        const char *buf;                /* NUL-terminated copy of the text (sj_parse) */
        size_t len;
        char *text;                     /* owns buf; sj_ctx_release() frees it */
        struct xerr *e;
};

/* Parses buf[0..len) as one strict JSON object tree: UTF-8 only, no BOM, no
 * NUL, no duplicate keys (escapes decoded), nothing after the value. */
int sj_parse(struct sj_ctx *c, const char *buf, size_t len, struct json_object **ret);
void sj_ctx_release(struct sj_ctx *c);

int sj_fail(struct sj_ctx *c, int code, const char *jpath, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* As sj_fail, at a byte offset of the text: "line L, column C". */
int sj_fail_at(struct sj_ctx *c, int code, size_t off, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* A user string made safe to quote in a message: at most 64 bytes, anything
 * but printable ASCII shown as '?'. */
const char *sj_quote(const char *s, size_t len, char buf[80]);
/* "an integer", "a string", ... */
const char *sj_type_desc(struct json_object *o);
/* out = "parent.key" (or "key" at the top) */
void sj_jpath_key(char *out, size_t size, const char *parent, const char *key);

/* Every key of o must be in the NULL-terminated `known`; an unknown one is
 * an error suggesting the closest known key (edit distance < 3). */
int sj_check_keys(struct sj_ctx *c, struct json_object *o, const char *jpath,
                  const char *const *known);
/* o must be an object ("expected an object, got ..."), then sj_check_keys(). */
int sj_check_object(struct sj_ctx *c, struct json_object *o, const char *jpath,
                    const char *const *known);

/* A string's alphabet and length. */
typedef bool (*sj_char_ok_fn)(unsigned char ch);
struct sj_str_rule {
        size_t min, max;                /* bytes */
        sj_char_ok_fn ok;
        const char *expect;             /* "expected ..." */
        bool first_alnum;               /* first character [a-z0-9] */
};

int sj_get_member(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                  bool required, struct json_object **ret);
int sj_get_string(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                  bool required, const struct sj_str_rule *rule, const char **ret);
/* A size: a string like "64M" or an integer byte count, a MiB multiple in [min, max]. */
int sj_get_size(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                bool required, uint64_t min, uint64_t max, uint64_t *ret);
int sj_get_uint(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                bool required, uint64_t min, uint64_t max, uint64_t *ret);
int sj_get_array(struct sj_ctx *c, struct json_object *o, const char *jpath, const char *key,
                 bool required, size_t min, size_t max, struct json_object **ret);

#endif
