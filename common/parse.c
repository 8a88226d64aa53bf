/* SPDX-License-Identifier: MIT */
/* Checked number and size parsing: the only place strings become numbers. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

int xova_parse_u64(const char *s, uint64_t *ret)
{
        uint64_t v = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = v;
        return 0;
}

int xova_parse_size(const char *s, uint64_t *ret)
{
        static const struct { char c; unsigned shift; } units[] = {
                { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 }, { 'P', 50 },
        };
        char num[32];
        size_t n = 0;
        unsigned shift = 0;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        while (s[n] >= '0' && s[n] <= '9')
                n++;
        if (n == 0 || n >= sizeof(num))
                return n == 0 ? -EINVAL : -ERANGE;
        memcpy(num, s, n);
        num[n] = '\0';
        r = xova_parse_u64(num, &v);
        if (r < 0)
                return r;
        s += n;
        if (*s) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (*s == units[i].c || *s == units[i].c + ('a' - 'A'))
                                break;
                if (i == ELEMENTSOF(units)) {
                        if (strcmp(s, "B") != 0)
                                return -EINVAL;
                } else {
                        shift = units[i].shift;
                        s++;
                        if (*s && strcmp(s, "iB") != 0 && strcmp(s, "B") != 0)
                                return -EINVAL;
                }
        }
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

const char *xova_format_size(uint64_t bytes, char *buf, size_t size)
{
        static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        double v = (double) bytes;
        size_t i = 0;

        while (v >= 1024.0 && i + 1 < ELEMENTSOF(u)) {
                v /= 1024.0;
                i++;
        }
        if (i == 0)
                snprintf(buf, size, "%llu B", (unsigned long long) bytes);
        else
                snprintf(buf, size, "%.1f %s", v, u[i]);
        return buf;
}

int xova_source_date_epoch(uint64_t *ret, struct xerr *e)
{
        const char *s = getenv("SOURCE_DATE_EPOCH");
        uint64_t v;

        if (!s) {
                *ret = 0;
                return 0;
        }
        if (xova_parse_u64(s, &v) < 0 || v > 253402300799ULL)
                return xerr_set(e, -EINVAL, "SOURCE_DATE_EPOCH",
                                "'%.64s' is not a non-negative decimal integer <= 253402300799", s);
        *ret = v;
        return 0;
}
