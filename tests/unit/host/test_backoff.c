// SPDX-License-Identifier: MIT
/* Tests for host/backoff.c: the reconnect waits. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "host/backoff.h"

/* silence: doubles from reconnect_delay to the cap and stays there */
static void test_doubles_to_cap(void **state)
{
	static const int64_t want[] = {250,  500,   1000,  2000,  4000,
				       8000, 16000, 32000, 60000, 60000};
	int64_t w = 0;
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		w = dn_backoff_next(w, 250, false);
		assert_int_equal(w, want[i]);
	}
}

/* a refusal (the target's machine answered) goes back to reconnect_delay */
static void test_answer_resets(void **state)
{
	int64_t w = dn_backoff_next(0, 1000, false);

	w = dn_backoff_next(w, 1000, false);
	w = dn_backoff_next(w, 1000, false);
	assert_int_equal(w, 4000);
	w = dn_backoff_next(w, 1000, true);
	assert_int_equal(w, 1000);
	assert_int_equal(dn_backoff_next(w, 1000, false), 2000);
}

/* a reconnect_delay above the cap is the cap; nonsense inputs stay sane */
static void test_edges(void **state)
{
	assert_int_equal(dn_backoff_next(0, 120000, false), 120000);
	assert_int_equal(dn_backoff_next(120000, 120000, false), 120000);
	assert_int_equal(dn_backoff_next(0, 0, false), 1);
	assert_int_equal(dn_backoff_next(-5, 100, false), 100);
	assert_int_equal(dn_backoff_next(INT64_MAX, 100, false), DN_BACKOFF_CAP_MS);
	assert_int_equal(dn_backoff_next(59000, 100, false), DN_BACKOFF_CAP_MS);
}

static void test_answered(void **state)
{
	assert_true(dn_backoff_answered(-ECONNREFUSED));
	assert_true(dn_backoff_answered(-EACCES));
	assert_true(dn_backoff_answered(-ENOENT));
	assert_true(dn_backoff_answered(-EBUSY));
	assert_false(dn_backoff_answered(-ETIMEDOUT));
	assert_false(dn_backoff_answered(-EHOSTUNREACH));
	assert_false(dn_backoff_answered(-EIO));
	assert_false(dn_backoff_answered(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubles_to_cap),
		cmocka_unit_test(test_answer_resets),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_answered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
