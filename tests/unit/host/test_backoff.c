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
		w = dn_backoff_next(w, 250, DN_BACKOFF_SILENT);
		assert_int_equal(w, want[i]);
	}
}

/* a refusal (the target's machine answered) goes back to reconnect_delay */
static void test_answer_resets(void **state)
{
	int64_t w = dn_backoff_next(0, 1000, DN_BACKOFF_SILENT);

	w = dn_backoff_next(w, 1000, DN_BACKOFF_SILENT);
	w = dn_backoff_next(w, 1000, DN_BACKOFF_SILENT);
	assert_int_equal(w, 4000);
	w = dn_backoff_next(w, 1000, DN_BACKOFF_ANSWERED);
	assert_int_equal(w, 1000);
	assert_int_equal(dn_backoff_next(w, 1000, DN_BACKOFF_SILENT), 2000);
}

/* a reconnect_delay above the cap is the cap; nonsense inputs stay sane */
static void test_edges(void **state)
{
	assert_int_equal(dn_backoff_next(0, 120000, DN_BACKOFF_SILENT), 120000);
	assert_int_equal(dn_backoff_next(120000, 120000, DN_BACKOFF_SILENT), 120000);
	assert_int_equal(dn_backoff_next(0, 0, DN_BACKOFF_SILENT), 1);
	assert_int_equal(dn_backoff_next(-5, 100, DN_BACKOFF_SILENT), 100);
	assert_int_equal(dn_backoff_next(INT64_MAX, 100, DN_BACKOFF_SILENT), DN_BACKOFF_CAP_MS);
	assert_int_equal(dn_backoff_next(59000, 100, DN_BACKOFF_SILENT), DN_BACKOFF_CAP_MS);
}

/* no route or RDMA device here: nothing was sent, so the next attempt is at reconnect_delay */
static void test_no_device_resets(void **state)
{
	int64_t w = dn_backoff_next(0, 500, DN_BACKOFF_SILENT);

	w = dn_backoff_next(w, 500, DN_BACKOFF_SILENT);
	assert_int_equal(w, 1000);
	w = dn_backoff_next(w, 500, DN_BACKOFF_LOCAL);
	assert_int_equal(w, 500);
	assert_int_equal(dn_backoff_next(w, 500, DN_BACKOFF_LOCAL), 500);
}

static void test_causes(void **state)
{
	assert_int_equal(dn_backoff_cause(-ECONNREFUSED), DN_BACKOFF_ANSWERED);
	assert_int_equal(dn_backoff_cause(-EACCES), DN_BACKOFF_ANSWERED);
	assert_int_equal(dn_backoff_cause(-ENOENT), DN_BACKOFF_ANSWERED);
	assert_int_equal(dn_backoff_cause(-EBUSY), DN_BACKOFF_ANSWERED);
	assert_int_equal(dn_backoff_cause(-ENODEV), DN_BACKOFF_LOCAL);
	assert_int_equal(dn_backoff_cause(-ENETUNREACH), DN_BACKOFF_LOCAL);
	assert_int_equal(dn_backoff_cause(-EADDRNOTAVAIL), DN_BACKOFF_LOCAL);
	assert_int_equal(dn_backoff_cause(-ETIMEDOUT), DN_BACKOFF_SILENT);
	assert_int_equal(dn_backoff_cause(-EHOSTUNREACH), DN_BACKOFF_SILENT);
	assert_int_equal(dn_backoff_cause(-EIO), DN_BACKOFF_SILENT);
	assert_int_equal(dn_backoff_cause(0), DN_BACKOFF_SILENT);
	assert_string_equal(dn_backoff_cause_str(DN_BACKOFF_SILENT), "no answer: backing off");
	assert_string_equal(dn_backoff_cause_str(DN_BACKOFF_ANSWERED), "the target answered");
	assert_string_equal(dn_backoff_cause_str(DN_BACKOFF_LOCAL),
			    "not sent: no route or RDMA device here yet");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubles_to_cap), cmocka_unit_test(test_answer_resets),
		cmocka_unit_test(test_edges),	       cmocka_unit_test(test_no_device_resets),
		cmocka_unit_test(test_causes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
