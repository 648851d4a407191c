// SPDX-License-Identifier: MIT
/*
 * Tests for target/poll_group.c: the ring a group is made with, messages run on the group's
 * own thread in the order sent, and deferred work runs at the end of the iteration that
 * queued it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <cmocka.h>

#include "target/poll_group.h"

/* Big SQEs/CQEs for passthrough, and completions that do not interrupt the thread by IPI. */
static void test_ring_flags(void **state)
{
	struct dn_poll_group *pg;
	unsigned int flags;

	assert_int_equal(dn_pg_create(0, "pg-test", &pg), 0);
	flags = dn_pg_ring(pg)->flags;
	assert_true(flags & IORING_SETUP_SQE128);
	assert_true(flags & IORING_SETUP_CQE32);
	/* every kernel this runs on (5.19 and later) takes it */
	assert_true(flags & IORING_SETUP_COOP_TASKRUN);
	dn_pg_destroy(pg);
}

struct msg_seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int order[3];
	int n;
	struct dn_poll_group *current[3];
	pthread_t thread[3];
};

static struct msg_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void msg_fn(void *arg)
{
	int id = (int)(intptr_t)arg;

	pthread_mutex_lock(&seen.lock);
	seen.current[seen.n] = dn_pg_current();
	seen.thread[seen.n] = pthread_self();
	seen.order[seen.n++] = id;
	pthread_cond_broadcast(&seen.cond);
	pthread_mutex_unlock(&seen.lock);
}

static void test_messages_on_group_thread(void **state)
{
	struct dn_poll_group *pg;
	int i;

	assert_int_equal(dn_pg_create(1, "pg-test", &pg), 0);
	assert_int_equal(dn_pg_start(pg), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(dn_pg_send_msg(pg, msg_fn, (void *)(intptr_t)i), 0);
	pthread_mutex_lock(&seen.lock);
	while (seen.n < 3)
		pthread_cond_wait(&seen.cond, &seen.lock);
	pthread_mutex_unlock(&seen.lock);
	for (i = 0; i < 3; i++) {
		assert_int_equal(seen.order[i], i);
		assert_ptr_equal(seen.current[i], pg);
		assert_false(pthread_equal(seen.thread[i], pthread_self()));
	}
	assert_null(dn_pg_current());
	assert_int_equal(dn_pg_stop(pg), 0);
	dn_pg_destroy(pg);
}

struct redefer {
	struct dn_pg_deferred d;
	struct dn_poll_group *pg;
	int runs;
};

/* Defers itself twice more, then stops the loop: three iterations, one run each. */
static void redefer_fn(struct dn_pg_deferred *d)
{
	struct redefer *r = (struct redefer *)d;

	r->runs++;
	if (r->runs < 3)
		dn_pg_defer(r->pg, &r->d);
	else
		assert_int_equal(dn_pg_stop(r->pg), 0);
}

static void defer_msg(void *arg)
{
	struct redefer *r = arg;

	/* queued twice in one iteration: runs once */
	dn_pg_defer(r->pg, &r->d);
	dn_pg_defer(r->pg, &r->d);
}

static void test_deferred(void **state)
{
	struct redefer r = {.d = {.fn = redefer_fn}, .runs = 0};

	assert_int_equal(dn_pg_create(2, "pg-test", &r.pg), 0);
	assert_int_equal(dn_pg_send_msg(r.pg, defer_msg, &r), 0);
	/* on the calling thread, as the target's main loop runs */
	assert_int_equal(dn_pg_run(r.pg), 0);
	assert_int_equal(r.runs, 3);
	dn_pg_destroy(r.pg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_flags),
		cmocka_unit_test(test_messages_on_group_thread),
		cmocka_unit_test(test_deferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
