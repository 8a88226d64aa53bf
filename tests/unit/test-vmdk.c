/* SPDX-License-Identifier: MIT */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "ovf/ovf.h"

static void test_vmdk_placeholder(void **state) { (void) state; }

int main(void)
{
        const struct CMUnitTest tests[] = { cmocka_unit_test(test_vmdk_placeholder) };
        return cmocka_run_group_tests_name("vmdk", tests, NULL, NULL);
}
