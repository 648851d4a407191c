// SPDX-License-Identifier: MIT
/*
 * Tests for target/poll_group.c: the ring a group is made with, messages run on the group's
 * own thread in the order sent, deferred work runs at the end of the iteration that queued it,
 * and a group kept busy by deferred work still gets the completions the kernel holds for it.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <cmocka.h>

#include "target/poll_group.h"

/*
 * Big SQEs/CQEs for passthrough, and completions that neither interrupt the thread by IPI nor
 * run as task work before it asks for them; the ring waits for its thread to enable it.
 */
static void test_ring_flags(void **state)
{
	struct dn_poll_group *pg;
	unsigned int flags;

	assert_int_equal(dn_pg_create(0, "pg-test", &pg), 0);
	flags = dn_pg_ring(pg)->flags;
	assert_true(flags & IORING_SETUP_SQE128);
	assert_true(flags & IORING_SETUP_CQE32);
	/* every kernel this runs on (6.1 and later) takes them */
	assert_true(flags & IORING_SETUP_COOP_TASKRUN);
	assert_true(flags & IORING_SETUP_TASKRUN_FLAG);
	assert_true(flags & IORING_SETUP_SINGLE_ISSUER);
	assert_true(flags & IORING_SETUP_DEFER_TASKRUN);
	assert_true(flags & IORING_SETUP_R_DISABLED);
	/* not enabled: nothing can be submitted from here */
	assert_non_null(io_uring_get_sqe(dn_pg_ring(pg)));
	assert_int_equal(io_uring_submit(dn_pg_ring(pg)), -EBADFD);
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
	/* an item queued twice and linked to itself would run forever: fail, do not hang */
	assert_in_range(r->runs, 1, 3);
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

struct busy {
	struct dn_pg_deferred spin;
	struct dn_event read_ev;
	struct dn_poll_group *pg;
	int pipe[2];
	char byte;
	bool read_done, gave_up;
	int spins;
	struct timespec start;
};

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Busy work, as a queue polling its CQ: defers itself until the read is in (or 5 s pass). */
static void busy_spin(struct dn_pg_deferred *d)
{
	struct busy *b = container_of(d, struct busy, spin);

	b->spins++;
	if (b->spins == 100) {
		/* the read is armed and the loop busy: now the data comes */
		assert_int_equal(write(b->pipe[1], "x", 1), 1);
	}
	if (b->read_done) {
		assert_int_equal(dn_pg_stop(b->pg), 0);
	} else if (elapsed_s(&b->start) > 5.0) {
		/* the loop's next wait would deliver it: too late, that is what is tested */
		b->gave_up = true;
		assert_int_equal(dn_pg_stop(b->pg), 0);
	} else {
		dn_pg_defer(b->pg, &b->spin);
	}
}

static void busy_read_done(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct busy *b = container_of(ev, struct busy, read_ev);

	assert_int_equal(cqe->res, 1);
	b->read_done = true;
}

static void busy_msg(void *arg)
{
	struct busy *b = arg;
	struct io_uring_sqe *sqe = dn_pg_get_sqe(b->pg);

	assert_non_null(sqe);
	io_uring_prep_read(sqe, b->pipe[0], &b->byte, 1, 0);
	dn_event_set(sqe, &b->read_ev);
	clock_gettime(CLOCK_MONOTONIC, &b->start);
	dn_pg_defer(b->pg, &b->spin);
}

/*
 * A read on an empty pipe completes later through the kernel's task work, which a
 * DEFER_TASKRUN ring holds until its thread asks for events. The group never blocks here
 * (there is always deferred work), so it must fetch them while busy, or the read never lands.
 */
static void test_busy_gets_completions(void **state)
{
	struct busy b = {.spin = {.fn = busy_spin}, .read_ev = {.cb = busy_read_done}};

	assert_int_equal(pipe(b.pipe), 0);
	assert_int_equal(dn_pg_create(3, "pg-test", &b.pg), 0);
	assert_int_equal(dn_pg_send_msg(b.pg, busy_msg, &b), 0);
	assert_int_equal(dn_pg_run(b.pg), 0);
	assert_false(b.gave_up);
	assert_true(b.read_done);
	assert_int_equal(b.byte, 'x');
	dn_pg_destroy(b.pg);
	close(b.pipe[0]);
	close(b.pipe[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_flags),
		cmocka_unit_test(test_messages_on_group_thread),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_busy_gets_completions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
