/* SPDX-License-Identifier: MIT */
/* cli.h - what the verb files of cli/ share: the verb table, printing errors,
 * progress, usage. */
#ifndef XOVA_CLI_H
#define XOVA_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/common.h"

/*
 * Verbs come from one table (main.c), as systemd's `Verb` and git's
 * `cmd_struct`: a row says how many operands the verb takes and whether it
 * reads a bundle. main.c checks all of that once, before the verb runs:
 * unknown options, --help, --version, the operand count, and the bundle
 * options (--ca, --require-signature), which it parses into one
 * struct cli_bundle_opts. The verb then parses only its own options.
 *
 * Conventions, one for every verb (cli/NAME.c):
 *   int  verb_NAME(int argc, char **argv, const struct cli_bundle_opts *bo)
 *   void verb_NAME_help(void)                --help text on stdout
 *   const struct option verb_NAME_options[]  its long options, ending in
 *                                            CLI_COMMON_LONGOPTS and {}
 *   enum { ARG_X = CLI_ARG_VERB, ... }       its option values
 * and in the verb's getopt switch `CLI_HANDLED_OPTIONS: break;` skips what
 * main.c handled. Adding a verb: one file, one row in main.c.
 */

/* The bundle options, parsed once by main.c for every VERB_BUNDLE verb
 * (only those its option table lists are accepted). */
struct cli_bundle_opts {
        const char *ca_file;            /* --ca PEM: check the signer against these CAs */
        bool require_signature;         /* --require-signature */
};

enum {
        VERB_BUNDLE = 1 << 0,           /* its operand is a bundle, verified before any use */
};

struct verb {
        const char *name;
        int (*fn)(int argc, char **argv, const struct cli_bundle_opts *bo);
        void (*help)(void);
        const struct option *options;   /* long options, CLI_COMMON_LONGOPTS included */
        const char *shortopts;          /* "hV" and the verb's own */
        int min_args, max_args;         /* operands after the options */
        const char *operand;            /* its name in "missing BUNDLE" */
        unsigned flags;                 /* VERB_* */
        const char *summary;            /* one line for 'xova --help' */
};

/* Option values: main.c's own, then each verb's from CLI_ARG_VERB. */
enum {
        CLI_ARG_CA = 0x100,
        CLI_ARG_REQUIRE_SIGNATURE,
        CLI_ARG_VERB = 0x180,
};

int verb_build(int argc, char **argv, const struct cli_bundle_opts *bo);
int verb_inspect(int argc, char **argv, const struct cli_bundle_opts *bo);
int verb_verify(int argc, char **argv, const struct cli_bundle_opts *bo);
int verb_run(int argc, char **argv, const struct cli_bundle_opts *bo);
int verb_deploy(int argc, char **argv, const struct cli_bundle_opts *bo);
int verb_export(int argc, char **argv, const struct cli_bundle_opts *bo);
int verb_undeploy(int argc, char **argv, const struct cli_bundle_opts *bo);
int verb_loaders(int argc, char **argv, const struct cli_bundle_opts *bo);
void verb_build_help(void);
void verb_inspect_help(void);
void verb_verify_help(void);
void verb_run_help(void);
void verb_deploy_help(void);
void verb_export_help(void);
void verb_undeploy_help(void);
void verb_loaders_help(void);
extern const struct option verb_build_options[];
extern const struct option verb_inspect_options[];
extern const struct option verb_verify_options[];
extern const struct option verb_run_options[];
extern const struct option verb_deploy_options[];
extern const struct option verb_export_options[];
extern const struct option verb_undeploy_options[];
extern const struct option verb_loaders_options[];

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
/* The bundle options, for the option tables of VERB_BUNDLE verbs. */
#define CLI_CA_LONGOPT { "ca", required_argument, NULL, CLI_ARG_CA }
#define CLI_REQUIRE_SIGNATURE_LONGOPT { "require-signature", no_argument, NULL, CLI_ARG_REQUIRE_SIGNATURE }
/* What main.c handled before the verb runs: case labels a verb's switch skips. */
#define CLI_HANDLED_OPTIONS case 'h': case 'V': case CLI_ARG_CA: case CLI_ARG_REQUIRE_SIGNATURE

/* The verb main.c dispatched to. */
extern const struct verb *cli_verb;
/* The verb's own option loop: getopt_long over its argv with its table's
 * options, from the start (main.c resets optind), silent (main.c reported
 * bad options already). */
int cli_getopt(int argc, char **argv);
/* A verb whose own options are all flags: runs cli_getopt() to the end and
 * sets *flags[i].set for each option flags[i].arg seen ({ 0 }-terminated);
 * anything else was handled (or reported) by main.c. */
struct cli_flag {
        int arg;
        bool *set;
};
void cli_getopt_flags(int argc, char **argv, const struct cli_flag *flags);

#endif
