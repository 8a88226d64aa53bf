/* SPDX-License-Identifier: MIT */
/* cli.h - what the verb files of cli/ share: printing errors, progress, usage. */
#ifndef XOVA_CLI_H
#define XOVA_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "common/common.h"

struct verb {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *summary;
};

int verb_build(int argc, char **argv);
int verb_inspect(int argc, char **argv);
int verb_verify(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_deploy(int argc, char **argv);
int verb_loaders(int argc, char **argv);

/* "xova: error: WHERE: MSG" on stderr; returns the exit code for e->code. */
int cli_error(const struct xerr *e);
/* "xova VERB: MSG" + "Try 'xova VERB --help'." on stderr; returns 2. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* getopt_long's own message was printed already: adds the hint; returns 2. */
int cli_try_help(const char *verb);
/* Prints "xova VERB: 'VERB' is not built yet ..." and returns 2. */
int cli_not_built(const char *verb, int issue);
/* A note for the user on stderr: "xova: MSG". */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress renderer for struct xova_progress: a line on stderr, only on a tty
 * unless forced. */
void cli_progress(void *userdata, const char *phase, uint64_t done, uint64_t total);
void cli_progress_init(struct xova_progress *p, int mode); /* mode: -1 auto, 0 off, 1 on */
/* Standard --version text. */
int cli_version(void);

#define CLI_COMMON_LONGOPTS \
        { "help", no_argument, NULL, 'h' }, \
        { "version", no_argument, NULL, 'V' }

#endif
