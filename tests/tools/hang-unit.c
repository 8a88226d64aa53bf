/* SPDX-License-Identifier: MIT */
/* hang-unit.c - a cmocka binary with one test that never returns, for
 * tests/tools/selftest-timeout.sh: under XOVA_TEST_UNIT_TIMEOUT=N the
 * per-test bound of tests/unit/testutil.h must stop it after N s, name it,
 * and exit non-zero. Not a test itself (check_PROGRAMS only). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

static void test_tools_passes(void **state)
{
        (void) state;
        assert_int_equal(1 + 1, 2);
}

static void test_tools_hang_forever(void **state)
{
        (void) state;
        for (;;)
                pause();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tools_passes),
                cmocka_unit_test(test_tools_hang_forever),
        };

        return cmocka_run_group_tests_name("hang", tests, NULL, NULL);
}
