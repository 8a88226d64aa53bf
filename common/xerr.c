/* SPDX-License-Identifier: MIT */
/* Error values: fixed-size, caller-owned, never allocating (docs/HACKING.md,
 * "Errors are values"). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"

static void copy_where(struct xerr *e, const char *where)
{
        if (!where)
                where = "";
        snprintf(e->where, sizeof(e->where), "%s", where);
}

static void vset(struct xerr *e, int code, const char *where, const char *fmt, va_list ap)
{
        e->code = code;
        copy_where(e, where);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int xerr_set(struct xerr *e, int code, const char *where, const char *fmt, ...)
{
        va_list ap;

        if (code >= 0)
                code = -EINVAL;
        if (!e)
                return code;
        va_start(ap, fmt);
        vset(e, code, where, fmt, ap);
        va_end(ap);
        return code;
}

int xerr_oom(struct xerr *e, const char *where)
{
        return xerr_set(e, -ENOMEM, where, "out of memory");
}

int xerr_set_errno(struct xerr *e, int code, const char *where, const char *fmt, ...)
{
        va_list ap;
        size_t n;

        if (code >= 0)
                code = -EIO;
        if (!e)
                return code;
        va_start(ap, fmt);
        vset(e, code, where, fmt, ap);
        va_end(ap);
        n = strlen(e->msg);
        if (-code < XOVA_EVERIFY)
                snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(-code));
        return code;
}

int xerr_set_tool(struct xerr *e, const char *tool, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (!e)
                return -EIO;
        e->code = -EIO;
        copy_where(e, tool);
        n = snprintf(e->msg, sizeof(e->msg), "exited 0 but ");
        va_start(ap, fmt);
        vsnprintf(e->msg + n, sizeof(e->msg) - (size_t) n, fmt, ap);
        va_end(ap);
        return -EIO;
}

int xerr_set_tool_finding(struct xerr *e, const char *tool, int r, const struct xerr *sub)
{
        if (r == -EBADMSG || r == -ENOENT || r == -ENOTDIR)
                return xerr_set_tool(e, tool, "%s", sub->msg);
        return xerr_set(e, r, sub->where, "%s", sub->msg);
}

int xerr_prefix(struct xerr *e, const char *fmt, ...)
{
        char pre[256], old[sizeof(e->msg)];
        va_list ap;

        if (!e)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(pre, sizeof(pre), fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof(old));
        /* truncation is fine: the message stays NUL-terminated */
        if (snprintf(e->msg, sizeof(e->msg), "%s: %.*s", pre, (int) (sizeof(e->msg) / 2), old) < 0)
                e->msg[0] = '\0';
        return e->code;
}

const char *xerr_format(const struct xerr *e, char *buf, size_t size)
{
        if (e->where[0])
                snprintf(buf, size, "%s: %s", e->where, e->msg);
        else
                snprintf(buf, size, "%s", e->msg[0] ? e->msg : "unknown error");
        return buf;
}

int xerr_exit_code(int code)
{
        if (code == -XOVA_EVERIFY)
                return XOVA_EXIT_VERIFY;
        if (code == -XOVA_ETIMEOUT)
                return XOVA_EXIT_TIMEOUT;
        return code < 0 ? XOVA_EXIT_FAILURE : XOVA_EXIT_OK;
}

void xova_debug(const char *fmt, ...)
{
        static int enabled = -1;
        struct timespec ts;
        va_list ap;

        if (enabled < 0)
                enabled = getenv("XOVA_DEBUG") != NULL;
        if (!enabled)
                return;
        /* monotonic seconds, as the kernel log: phases can be timed */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        fprintf(stderr, "xova: debug: [%ld.%03ld] ", (long) ts.tv_sec, ts.tv_nsec / 1000000);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void xova_note(void (*fn)(void *userdata, const char *line), void *userdata, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;

        if (!fn)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        fn(userdata, buf);
}
