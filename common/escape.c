/* SPDX-License-Identifier: MIT */
/*
 * escape.c - the one rule for showing outside text (names and values from a
 * bundle, a manifest, a VMDK descriptor, a user's tarball or tree) on a
 * terminal or in a log.
 *
 * Hand-written because no library we use does this: json-c escapes only C0,
 * libxml2 escapes for XML, and vis(3) (libbsd) knows nothing of UTF-8 format
 * characters. The rule:
 *   - printable ASCII passes; with XOVA_ESC_BACKSLASH a backslash becomes "\\"
 *     so the escaped text reads back unambiguously;
 *   - C0 controls and DEL become "\n", "\r", "\t", "\e" or "\xNN";
 *   - well-formed UTF-8 passes, except C1 controls (U+0080..U+009F) and the
 *     invisible format characters that reorder or hide text (U+061C,
 *     U+200B..U+200F, U+2028..U+202E, U+2060..U+2069, U+FEFF): "\u{XXXX}";
 *   - any byte that is not part of well-formed UTF-8 (a raw 0x9B, the 8-bit
 *     CSI, among them; overlong forms; surrogates) becomes "\xNN".
 * The output is thus printable ASCII plus harmless UTF-8, and escaping it
 * again (without XOVA_ESC_BACKSLASH) changes nothing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/common.h"

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, <= U+10FFFF), its code point in *cp; 0 if not well-formed. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
        size_t n;
        uint32_t c, min;

        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, c = s[0] & 0x1f, min = 0x80;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, c = s[0] & 0x0f, min = 0x800;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, c = s[0] & 0x07, min = 0x10000;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *cp = c;
        return n;
}

static bool hidden_format_char(uint32_t c)
{
        return (c >= 0x80 && c <= 0x9f) || c == 0x061c || (c >= 0x200b && c <= 0x200f) ||
               (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2069) || c == 0xfeff;
}

/* The escaped form of the character at s[0], into piece; returns its length
 * and the input bytes it took in *take. */
static size_t escape_one(const unsigned char *s, size_t len, unsigned flags, char piece[16], size_t *take)
{
        unsigned char c = s[0];
        uint32_t cp;

        *take = 1;
        if (c == '\\' && (flags & XOVA_ESC_BACKSLASH))
                return (size_t) snprintf(piece, 16, "\\\\");
        if (c >= 0x20 && c < 0x7f) {
                piece[0] = (char) c;
                return 1;
        }
        switch (c) {
        case '\n': return (size_t) snprintf(piece, 16, "\\n");
        case '\r': return (size_t) snprintf(piece, 16, "\\r");
        case '\t': return (size_t) snprintf(piece, 16, "\\t");
        case 0x1b: return (size_t) snprintf(piece, 16, "\\e");
        }
        if (c < 0x80 || (*take = utf8_seq(s, len, &cp)) == 0) {
                *take = 1;
                return (size_t) snprintf(piece, 16, "\\x%02x", c);
        }
        if (hidden_format_char(cp))
                return (size_t) snprintf(piece, 16, "\\u{%04x}", (unsigned) cp);
        memcpy(piece, s, *take);
        return *take;
}

const char *xova_escape(char *dst, size_t size, const void *src, size_t len, unsigned flags)
{
        const unsigned char *s = src;
        char piece[16];
        size_t total = 0, o = 0, take, plen, reserve;

        if (size == 0)
                return dst;
        /* first pass: does it all fit? if not, keep room for "..." */
        for (size_t i = 0; i < len && total < size; i += take)
                total += escape_one(s + i, len - i, flags, piece, &take);
        reserve = total >= size ? 3 : 0;
        for (size_t i = 0; i < len; i += take) {
                plen = escape_one(s + i, len - i, flags, piece, &take);
                if (o + plen + reserve >= size)
                        break;
                memcpy(dst + o, piece, plen);
                o += plen;
        }
        if (reserve && o + 3 < size) {
                memcpy(dst + o, "...", 3);
                o += 3;
        }
        dst[o] = '\0';
        return dst;
}

const char *xova_escape_str(char *dst, size_t size, const char *s)
{
        return xova_escape(dst, size, s ? s : "", s ? strlen(s) : 0, XOVA_ESC_BACKSLASH);
}
