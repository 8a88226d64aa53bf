/* SPDX-License-Identifier: MIT */
/* Printing for cli/: errors, usage hints, notes, progress. */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* Every message may quote outside text (a member name, a manifest value, a
 * name in a user's tarball): the whole line goes through the one escaping
 * rule on its way out, so no library can forget it. */
int cli_error(const struct xerr *e)
{
        char buf[1024], shown[2048];

        xerr_format(e, buf, sizeof(buf));
        fprintf(stderr, "xova: error: %s\n", xova_escape(shown, sizeof(shown), buf, strlen(buf), 0));
        return xerr_exit_code(e->code);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "xova %s: ", verb);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'xova %s --help'.\n", verb);
        return XOVA_EXIT_USAGE;
}

int cli_try_help(const char *verb)
{
        fprintf(stderr, "Try 'xova %s --help'.\n", verb);
        return XOVA_EXIT_USAGE;
}

int cli_not_built(const char *verb, int issue)
{
        fprintf(stderr, "xova %s: not built yet in this version (tracked as issue #%d)\n", verb, issue);
        return XOVA_EXIT_USAGE;
}

void cli_note(const char *fmt, ...)
{
        char buf[1024], shown[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        fprintf(stderr, "xova: %s\n", xova_escape(shown, sizeof(shown), buf, strlen(buf), 0));
}

struct progress_state {
        char phase[64];
        time_t last;
        bool line_open;
};
static struct progress_state progress_state;

void cli_progress(void *userdata, const char *phase, uint64_t done, uint64_t total)
{
        struct progress_state *s = userdata;
        time_t now = time(NULL);
        bool same = strncmp(s->phase, phase, sizeof(s->phase) - 1) == 0;

        /* at most one update a second within a phase, but always the last one */
        if (same && now == s->last && done != total)
                return;
        s->last = now;
        if (!same) {
                if (s->line_open)
                        fputc('\n', stderr);
                snprintf(s->phase, sizeof(s->phase), "%s", phase);
        }
        if (total > 0)
                fprintf(stderr, "\r\033[K%s: %3u%%", phase, (unsigned) (done * 100 / total));
        else
                fprintf(stderr, "\r\033[K%s", phase);
        s->line_open = true;
        if (total > 0 && done >= total) {
                fputc('\n', stderr);
                s->line_open = false;
                s->phase[0] = '\0';
        }
        fflush(stderr);
}

void cli_progress_init(struct xova_progress *p, int mode)
{
        bool on = mode > 0 || (mode < 0 && isatty(STDERR_FILENO));

        p->fn = on ? cli_progress : NULL;
        p->userdata = on ? &progress_state : NULL;
}

int cli_version(void)
{
        printf("xova %s\n", PACKAGE_VERSION);
        /* the optional parts this binary was built with (configure decides) */
#ifdef HAVE_LIBGUESTFS
        printf("libguestfs: yes\n");
#else
        printf("libguestfs: no\n");
#endif
#ifdef HAVE_LIBVIRT
        printf("libvirt: yes\n");
#else
        printf("libvirt: no\n");
#endif
        return 0;
}

void cli_getopt_flags(int argc, char **argv, const struct cli_flag *flags)
{
        int c;

        while ((c = cli_getopt(argc, argv)) != -1)
                for (const struct cli_flag *f = flags; f->arg; f++)
                        if (f->arg == c)
                                *f->set = true;
}
