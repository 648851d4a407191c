// SPDX-License-Identifier: MIT
/*
 * Poll-group threads: one io_uring each, an eventfd-driven message queue for work from
 * other threads, and the loop that dispatches every completion through its struct dn_event.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "target/poll_group.h"

#define PG_RING_ENTRIES 1024
#define PG_CQ_ENTRIES	8192

struct dn_pg_msg {
	struct dn_pg_msg *next;
	void (*fn)(void *arg);
	void *arg;
};

struct dn_poll_group {
	struct io_uring ring;
	unsigned int idx;
	char name[32];
	int efd;
	uint64_t efd_val;
	struct dn_event efd_ev;
	/* messages from other threads: control path only, so a mutex is fine */
	pthread_mutex_t lock;
	struct dn_pg_msg *head, **tail;
	struct dn_pg_deferred *deferred;
	bool stop;
	bool threaded;
	pthread_t thread;
	atomic_uint load;
};

static __thread struct dn_poll_group *pg_self;

struct io_uring *dn_pg_ring(struct dn_poll_group *pg)
{
	return &pg->ring;
}

struct dn_poll_group *dn_pg_current(void)
{
	return pg_self;
}

const char *dn_pg_name(const struct dn_poll_group *pg)
{
	return pg->name;
}

void dn_pg_load_get(struct dn_poll_group *pg)
{
	atomic_fetch_add(&pg->load, 1);
}

void dn_pg_load_put(struct dn_poll_group *pg)
{
	atomic_fetch_sub(&pg->load, 1);
}

unsigned int dn_pg_load(const struct dn_poll_group *pg)
{
	return atomic_load(&((struct dn_poll_group *)pg)->load);
}

struct io_uring_sqe *dn_pg_get_sqe(struct dn_poll_group *pg)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&pg->ring);

	while (!sqe) {
		/* the SQ is full: hand it to the kernel; completions are reaped by the loop */
		int ret = io_uring_submit(&pg->ring);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return NULL;
		sqe = io_uring_get_sqe(&pg->ring);
	}
	return sqe;
}

int dn_pg_poll_add(struct dn_poll_group *pg, int fd, unsigned int mask, struct dn_event *ev)
{
	struct io_uring_sqe *sqe = dn_pg_get_sqe(pg);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, mask);
	dn_event_set(sqe, ev);
	return 0;
}

int dn_pg_poll_cancel(struct dn_poll_group *pg, struct dn_event *ev)
{
	struct io_uring_sqe *sqe = dn_pg_get_sqe(pg);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)ev);
	/* the removal's own CQE carries no object */
	io_uring_sqe_set_data(sqe, NULL);
	return 0;
}

static int pg_arm_eventfd(struct dn_poll_group *pg)
{
	struct io_uring_sqe *sqe = dn_pg_get_sqe(pg);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, pg->efd, &pg->efd_val, sizeof(pg->efd_val), 0);
	dn_event_set(sqe, &pg->efd_ev);
	return 0;
}

static void pg_run_msgs(struct dn_poll_group *pg)
{
	struct dn_pg_msg *m;

	pthread_mutex_lock(&pg->lock);
	m = pg->head;
	pg->head = NULL;
	pg->tail = &pg->head;
	pthread_mutex_unlock(&pg->lock);
	while (m) {
		struct dn_pg_msg *next = m->next;

		m->fn(m->arg);
		free(m);
		m = next;
	}
}

static void pg_efd_cb(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_poll_group *pg = container_of(ev, struct dn_poll_group, efd_ev);

	if (cqe->res < 0 && cqe->res != -EAGAIN && cqe->res != -EINTR)
		dn_err("%s: eventfd read failed: %s", pg->name, strerror(-cqe->res));
	pg_run_msgs(pg);
	if (!pg->stop && pg_arm_eventfd(pg))
		dn_err("%s: cannot re-arm the message queue", pg->name);
}

int dn_pg_send_msg(struct dn_poll_group *pg, void (*fn)(void *arg), void *arg)
{
	struct dn_pg_msg *m = malloc(sizeof(*m));
	uint64_t one = 1;

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&pg->lock);
	*pg->tail = m;
	pg->tail = &m->next;
	pthread_mutex_unlock(&pg->lock);
	/* an eventfd counter only saturates at 2^64-2: this write cannot fail with EAGAIN */
	if (write(pg->efd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

int dn_pg_create(unsigned int idx, const char *name, struct dn_poll_group **out)
{
	struct dn_poll_group *pg;
	int ret;

	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return -ENOMEM;
	pg->idx = idx;
	snprintf(pg->name, sizeof(pg->name), "%s", name);
	pg->head = NULL;
	pg->tail = &pg->head;
	pg->efd_ev.cb = pg_efd_cb;
	atomic_init(&pg->load, 0);
	pthread_mutex_init(&pg->lock, NULL);

	/*
	 * Optional (6.1+): a completion (a completion channel's poll, backend I/O, a message's
	 * eventfd) is neither an IPI nor a task-work interruption of the thread: it waits in the
	 * ring's own list (DEFER_TASKRUN) until the thread asks for events, in its wait or, while
	 * busy, when the kernel flags work pending (TASKRUN_FLAG). That needs a single submitter,
	 * so the ring starts disabled and the group's thread enables it (dn_pg_run).
	 */
	ret = dn_uring_init(&pg->ring, PG_RING_ENTRIES, PG_CQ_ENTRIES, DN_PG_RING_FLAGS,
			    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
				    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
				    IORING_SETUP_R_DISABLED);
	if (ret) {
		dn_err("%s: io_uring setup (SQE128|CQE32) failed: %s", name, strerror(-ret));
		goto out_free;
	}
	pg->efd = eventfd(0, EFD_CLOEXEC);
	if (pg->efd < 0) {
		ret = -errno;
		goto out_exit_ring;
	}
	ret = pg_arm_eventfd(pg);
	if (ret)
		goto out_close_efd;
	*out = pg;
	return 0;

out_close_efd:
	close(pg->efd);
out_exit_ring:
	dn_uring_exit(&pg->ring);
out_free:
	pthread_mutex_destroy(&pg->lock);
	free(pg);
	return ret;
}

void dn_pg_defer(struct dn_poll_group *pg, struct dn_pg_deferred *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = pg->deferred;
	pg->deferred = d;
}

/*
 * Runs what was deferred up to now; what the items defer again runs in the next iteration,
 * and an iteration with deferred work does not block (a queue polling its CQ while busy).
 */
static void pg_run_deferred(struct dn_poll_group *pg)
{
	struct dn_pg_deferred *d = pg->deferred;

	pg->deferred = NULL;
	while (d) {
		struct dn_pg_deferred *next = d->next;

		d->queued = false;
		d->fn(d);
		d = next;
	}
}

/* The calling thread becomes the ring's only submitter (liburing 2.3 lacks the wrapper). */
static int pg_enable_ring(struct dn_poll_group *pg)
{
	if (!(pg->ring.flags & IORING_SETUP_R_DISABLED))
		return 0;
	if (syscall(__NR_io_uring_register, pg->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL,
		    0) < 0)
		return -errno;
	pg->ring.flags &= ~IORING_SETUP_R_DISABLED;
	return 0;
}

/* While busy (deferred work): completions the kernel holds for us are fetched, not waited for */
static int pg_submit_busy(struct dn_poll_group *pg)
{
	/* DEFER_TASKRUN: completions are posted only when this thread asks for events */
	if ((pg->ring.flags & IORING_SETUP_DEFER_TASKRUN) &&
	    (IO_URING_READ_ONCE(*pg->ring.sq.kflags) & IORING_SQ_TASKRUN))
		return io_uring_submit_and_get_events(&pg->ring);
	if (io_uring_sq_ready(&pg->ring))
		return io_uring_submit(&pg->ring);
	return 0;
}

int dn_pg_run(struct dn_poll_group *pg)
{
	int ret = pg_enable_ring(pg);

	if (ret) {
		dn_err("%s: enabling the io_uring: %s", pg->name, strerror(-ret));
		return ret;
	}
	pg_self = pg;
	while (!pg->stop) {
		ret = pg->deferred ? pg_submit_busy(pg) : io_uring_submit_and_wait(&pg->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME) {
			dn_err("%s: io_uring_submit_and_wait: %s", pg->name, strerror(-ret));
			pg_self = NULL;
			return ret;
		}
		dn_event_dispatch(&pg->ring);
		pg_run_deferred(pg);
	}
	pg_self = NULL;
	return 0;
}

static void *pg_thread(void *arg)
{
	struct dn_poll_group *pg = arg;

	pthread_setname_np(pthread_self(), pg->name);
	dn_pg_run(pg);
	return NULL;
}

int dn_pg_start(struct dn_poll_group *pg)
{
	int ret = pthread_create(&pg->thread, NULL, pg_thread, pg);

	if (ret)
		return -ret;
	pg->threaded = true;
	return 0;
}

static void pg_stop_msg(void *arg)
{
	struct dn_poll_group *pg = arg;

	pg->stop = true;
}

int dn_pg_stop(struct dn_poll_group *pg)
{
	return dn_pg_send_msg(pg, pg_stop_msg, pg);
}

void dn_pg_destroy(struct dn_poll_group *pg)
{
	if (!pg)
		return;
	if (pg->threaded)
		pthread_join(pg->thread, NULL);
	/* messages that arrived after the stop: every queue is gone by now, drop them */
	while (pg->head) {
		struct dn_pg_msg *m = pg->head;

		pg->head = m->next;
		free(m);
	}
	dn_uring_exit(&pg->ring);
	close(pg->efd);
	pthread_mutex_destroy(&pg->lock);
	free(pg);
}
