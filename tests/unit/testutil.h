/* SPDX-License-Identifier: MIT */
/* testutil.h - what the cmocka unit tests share: a private temp directory
 * per test (docs/HACKING.md, "Tests"), small directory helpers, and a time
 * bound for every test. Include after <cmocka.h>.
 *
 * Time bound: cmocka 1.1 has no per-test timeout, so this header replaces
 * cmocka_run_group_tests{,_name} with a runner that wraps every test's
 * setup and teardown: setup arms alarm(bound), teardown disarms it. A test
 * still running when the alarm fires is reported on stderr as
 * "TIMEOUT: <group>: <test> exceeded N s" and the binary exits 1, so the
 * suite fails and names the test instead of waiting. The bound is
 * $XOVA_TEST_UNIT_TIMEOUT seconds (default 300; 0 disables it). Children a
 * test forks do not inherit the alarm; they bound themselves. */
#ifndef XOVA_TESTUTIL_H
#define XOVA_TESTUTIL_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- per-test time bound ---- */

#define TEST_UNIT_TIMEOUT_DEFAULT 300

static const char *test_bound_group = "";
static const struct CMUnitTest *test_bound_current;
static unsigned test_bound_seconds;

static inline void test_bound_write(const char *s)
{
        if (s && write(STDERR_FILENO, s, strlen(s)) < 0)
                return;
}

/* async-signal-safe: write(2) and _exit(2) only */
static inline void test_bound_on_alarm(int sig)
{
        char num[16];
        unsigned n = test_bound_seconds;
        int i = (int) sizeof(num) - 1;

        (void) sig;
        num[i] = '\0';
        do {
                num[--i] = (char) ('0' + n % 10);
                n /= 10;
        } while (n && i > 0);
        test_bound_write("\nTIMEOUT: ");
        test_bound_write(test_bound_group);
        test_bound_write(": ");
        test_bound_write(test_bound_current ? test_bound_current->name : "(between tests)");
        test_bound_write(" exceeded ");
        test_bound_write(num + i);
        test_bound_write(" s\n");
        _exit(1);
}

/* Resets `sig` to its default action and unblocks it. A test that relies
 * on a signal's default action (a child killed by SIGHUP, say) calls this
 * first: the suite may run under nohup (SIGHUP ignored) or with signals
 * blocked by whoever started it, and both are inherited. */
static inline void test_default_signal(int sig)
{
        struct sigaction sa;
        sigset_t set;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* The wrapped test travels in initial_state; the test's own initial_state
 * is restored before its own setup runs. */
static inline int test_bound_setup(void **state)
{
        const struct CMUnitTest *t = *state;
        struct sigaction sa;

        test_bound_current = t;
        *state = t->initial_state;
        test_default_signal(SIGALRM);   /* unblocked: it must be delivered */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = test_bound_on_alarm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
        alarm(test_bound_seconds);
        return t->setup_func ? t->setup_func(state) : 0;
}

static inline int test_bound_teardown(void **state)
{
        const struct CMUnitTest *t = test_bound_current;
        int r = t && t->teardown_func ? t->teardown_func(state) : 0;

        alarm(0);
        test_bound_current = NULL;
        return r;
}

static inline int test_bound_run(const char *group, const struct CMUnitTest *tests, size_t n,
                                 CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
        struct CMUnitTest *wrapped = calloc(n, sizeof(*wrapped));
        const char *env = getenv("XOVA_TEST_UNIT_TIMEOUT");
        int r;

        if (!wrapped)
                return 1;
        test_bound_seconds = env && *env ? (unsigned) strtoul(env, NULL, 10) : TEST_UNIT_TIMEOUT_DEFAULT;
        test_bound_group = group;
        for (size_t i = 0; i < n; i++) {
                wrapped[i] = tests[i];
                wrapped[i].setup_func = test_bound_setup;
                wrapped[i].teardown_func = test_bound_teardown;
                wrapped[i].initial_state = (void *) &tests[i];
        }
        r = _cmocka_run_group_tests(group, wrapped, n, group_setup, group_teardown);
        free(wrapped);
        return r;
}

#undef cmocka_run_group_tests
#undef cmocka_run_group_tests_name
#define cmocka_run_group_tests(tests, gs, gt) \
        test_bound_run(#tests, tests, sizeof(tests) / sizeof((tests)[0]), gs, gt)
#define cmocka_run_group_tests_name(name, tests, gs, gt) \
        test_bound_run(name, tests, sizeof(tests) / sizeof((tests)[0]), gs, gt)

/* ---- private temp directories ---- */

/* setup: *state = a new empty directory under $TMPDIR (or /tmp) */
static inline int setup_tmpdir(void **state)
{
        const char *tmp = getenv("TMPDIR");
        char *d = NULL;

        assert_true(asprintf(&d, "%s/xova-test.XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
        assert_non_null(mkdtemp(d));
        *state = d;
        return 0;
}

/* teardown: removes the directory and everything in it */
static inline int teardown_tmpdir(void **state)
{
        char *cmd = NULL;

        assert_true(asprintf(&cmd, "rm -rf '%s'", (char *) *state) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        free(*state);
        return 0;
}

/* number of directory entries other than . and .. */
static inline int count_entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

#endif
