/* SPDX-License-Identifier: MIT */
/* testutil.h - what the cmocka unit tests share: a private temp directory
 * per test (STYLE.md rule 16) and small directory helpers. Include after
 * <cmocka.h>. */
#ifndef XOVA_TESTUTIL_H
#define XOVA_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
