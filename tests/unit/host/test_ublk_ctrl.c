// SPDX-License-Identifier: MIT
/*
 * host/ublk.c's control commands against a fake /dev/ublk-control: how a device is deleted.
 *
 * open() and io_uring_submit() are swapped at link time. Opening /dev/ublk-control gives a
 * descriptor of /dev/null; each control command submitted on it is recorded, sent to the
 * kernel as a NOP, and its completion's result is then set to what this file's "kernel" answers
 * for that opcode. So the ring, the submission and the wait are real, and the answers are the
 * ones a kernel before 6.9 (no DEL_DEV_ASYNC) or after it gives.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/ublk.h"
#include "host/ublk_wire.h"

#define FAKE_DEV_ID 5
#define MAX_CMDS    32
#define MAX_FDS	    1024 /* descriptors tracked as the control node's */

struct rec {
	uint32_t op;
	uint32_t dev_id;
	pthread_t thread;
	bool end; /* a DEL_DEV's completion, recorded when its wait in the "kernel" is over */
};

static struct {
	pthread_mutex_t lock;
	bool is_ctrl[MAX_FDS];
	struct rec recs[MAX_CMDS];
	unsigned int nr;
	int res_async;	  /* DEL_DEV_ASYNC's answer: 0, or -EOPNOTSUPP before Linux 6.9 */
	bool race_in_del; /* during the first DEL_DEV, a second create runs on another thread */
	pthread_t racer;
	bool racer_started;
	int racer_ret; /* its dn_ublk_create()'s result (asserted on the test's own thread) */
} k = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void record(uint32_t op, uint32_t dev_id, bool end)
{
	bool full;

	pthread_mutex_lock(&k.lock);
	full = k.nr == MAX_CMDS;
	if (!full)
		k.recs[k.nr++] = (struct rec){
			.op = op, .dev_id = dev_id, .thread = pthread_self(), .end = end};
	pthread_mutex_unlock(&k.lock);
	assert_false(full);
}

/* ---- open(): /dev/ublk-control is /dev/null here ---- */

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (strcmp(path, "/dev/ublk-control"))
		return __real_open(path, flags, mode);
	fd = __real_open("/dev/null", flags);
	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&k.lock);
		k.is_ctrl[fd] = true;
		pthread_mutex_unlock(&k.lock);
	}
	return fd;
}

/* ---- the "kernel": answers per opcode ---- */

static struct dn_ublk_params good(int dev_id)
{
	return (struct dn_ublk_params){
		.size = 1 << 30,
		.lbs_shift = 12,
		.max_io_bytes = 128 << 10,
		.nr_queues = 1,
		.queue_depth = 4,
		.dev_id = dev_id,
	};
}

static void queue_io(struct dn_ublk_queue *q, uint16_t tag, const struct ublksrv_io_desc *iod,
		     void *buf)
{
	dn_ublk_complete(q, tag, 0);
}

static const struct dn_ublk_ops ops = {.queue_io = queue_io};

/* A second connect's create, started while the first one's DEL_DEV waits in the kernel. */
static void *racer(void *arg)
{
	struct dn_ublk_params p = good(FAKE_DEV_ID + 1);
	struct dn_ublk_dev *dev = NULL;

	(void)arg;
	/* its SET_PARAMS fails as the first one's did, so it ends deleting its own device */
	k.racer_ret = dn_ublk_create(&p, &ops, NULL, &dev);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int answer(uint32_t op, uint32_t dev_id)
{
	bool start;

	switch (op) {
	case UBLK_U_CMD_ADD_DEV:
		return 0; /* the payload keeps the dev_id asked for */
	case UBLK_U_CMD_SET_PARAMS:
		return -EINVAL; /* so that dn_ublk_create() deletes what it added */
	case UBLK_U_CMD_DEL_DEV_ASYNC:
		return k.res_async;
	case UBLK_U_CMD_DEL_DEV:
		pthread_mutex_lock(&k.lock);
		start = k.race_in_del && !k.racer_started;
		k.racer_started |= start;
		pthread_mutex_unlock(&k.lock);
		if (start)
			assert_int_equal(pthread_create(&k.racer, NULL, racer, NULL), 0);
		/* the wait for the number's last reference; a racing ADD_DEV would come in here */
		sleep_ms(200);
		record(op, dev_id, true);
		return 0;
	default:
		fail_msg("unexpected control command 0x%x", op);
		return -EINVAL;
	}
}

int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);

int __wrap_io_uring_submit(struct io_uring *ring)
{
	unsigned int mask = *ring->sq.kring_mask, i, head, tail;
	int res[8], nr = 0, ret, j = 0;

	for (i = ring->sq.sqe_head; i != ring->sq.sqe_tail; i++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[(i & mask) << 1];
		const struct ublksrv_ctrl_cmd *c = (const void *)sqe->cmd;
		bool ctrl;

		pthread_mutex_lock(&k.lock);
		ctrl = sqe->fd >= 0 && sqe->fd < MAX_FDS && k.is_ctrl[sqe->fd];
		pthread_mutex_unlock(&k.lock);
		if (sqe->opcode != IORING_OP_URING_CMD || !ctrl)
			continue;
		assert_true(ring->flags & IORING_SETUP_SQE128);
		assert_true(nr < 8);
		record(sqe->cmd_op, c->dev_id, false);
		res[nr++] = answer(sqe->cmd_op, c->dev_id);
		memset(sqe, 0, DN_UBLK_CTRL_SQE_SIZE);
		sqe->opcode = IORING_OP_NOP;
	}
	ret = __real_io_uring_submit(ring);
	if (ret < 0 || !nr)
		return ret;
	/* a NOP completes during the submission: its CQE is there, with the answer to set */
	head = *ring->cq.khead;
	tail = __atomic_load_n(ring->cq.ktail, __ATOMIC_ACQUIRE);
	assert_int_equal(tail - head, nr);
	for (i = head; i != tail; i++)
		ring->cq.cqes[i & *ring->cq.kring_mask].res = res[j++];
	return ret;
}

/* ---- tests ---- */

static int reset(void **state)
{
	(void)state;
	pthread_mutex_lock(&k.lock);
	k.nr = 0;
	k.race_in_del = false;
	k.racer_started = false;
	memset(k.is_ctrl, 0, sizeof(k.is_ctrl));
	pthread_mutex_unlock(&k.lock);
	return 0;
}

static void create_and_fail(void)
{
	struct dn_ublk_params p = good(FAKE_DEV_ID);
	struct dn_ublk_dev *dev = NULL;

	assert_int_equal(dn_ublk_create(&p, &ops, NULL, &dev), -EINVAL);
	assert_null(dev);
}

static void assert_rec(unsigned int i, uint32_t op, uint32_t dev_id)
{
	assert_true(i < k.nr);
	assert_int_equal(k.recs[i].op, op);
	assert_int_equal(k.recs[i].dev_id, dev_id);
}

/* Linux 6.9+: one DEL_DEV_ASYNC, which does not wait for holders; no DEL_DEV. */
static void test_delete_async(void **state)
{
	k.res_async = 0;
	create_and_fail();
	assert_int_equal(k.nr, 3);
	assert_rec(0, UBLK_U_CMD_ADD_DEV, FAKE_DEV_ID);
	assert_rec(1, UBLK_U_CMD_SET_PARAMS, FAKE_DEV_ID);
	assert_rec(2, UBLK_U_CMD_DEL_DEV_ASYNC, FAKE_DEV_ID);
}

/* A device already gone (ENODEV) is not deleted again. */
static void test_delete_async_gone(void **state)
{
	k.res_async = -ENODEV;
	create_and_fail();
	assert_int_equal(k.nr, 3);
	assert_rec(2, UBLK_U_CMD_DEL_DEV_ASYNC, FAKE_DEV_ID);
}

/* Before Linux 6.9 the opcode is unknown (EOPNOTSUPP): the device goes with DEL_DEV. */
static void test_delete_fallback(void **state)
{
	k.res_async = -EOPNOTSUPP;
	create_and_fail();
	assert_int_equal(k.nr, 5);
	assert_rec(2, UBLK_U_CMD_DEL_DEV_ASYNC, FAKE_DEV_ID);
	assert_rec(3, UBLK_U_CMD_DEL_DEV, FAKE_DEV_ID);
	assert_false(k.recs[3].end);
	assert_rec(4, UBLK_U_CMD_DEL_DEV, FAKE_DEV_ID);
	assert_true(k.recs[4].end);
}

/*
 * The fallback's DEL_DEV waits until its number is free and looks it up again after each
 * wakeup: an ADD_DEV that took the number meanwhile would make it wait for good. So while one
 * DEL_DEV waits, this process's other creates must not send ADD_DEV.
 */
static void test_fallback_holds_off_add(void **state)
{
	unsigned int i, del_end = MAX_CMDS, racer_add = MAX_CMDS;
	pthread_t self = pthread_self();

	k.res_async = -EOPNOTSUPP;
	k.race_in_del = true;
	create_and_fail();
	assert_true(k.racer_started);
	assert_int_equal(pthread_join(k.racer, NULL), 0);
	assert_int_equal(k.racer_ret, -EINVAL);
	for (i = 0; i < k.nr; i++) {
		if (pthread_equal(k.recs[i].thread, self) && k.recs[i].op == UBLK_U_CMD_DEL_DEV &&
		    k.recs[i].end)
			del_end = i;
		if (!pthread_equal(k.recs[i].thread, self) && k.recs[i].op == UBLK_U_CMD_ADD_DEV &&
		    racer_add == MAX_CMDS)
			racer_add = i;
	}
	assert_true(del_end < k.nr);
	assert_true(racer_add < k.nr);
	assert_int_equal(k.recs[racer_add].dev_id, FAKE_DEV_ID + 1);
	/* the second create's ADD_DEV came only after the first DEL_DEV's wait was over */
	assert_true(racer_add > del_end);
	/* and the second create deleted its own device the same way: 10 commands in all */
	assert_int_equal(k.nr, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_delete_async, reset),
		cmocka_unit_test_setup(test_delete_async_gone, reset),
		cmocka_unit_test_setup(test_delete_fallback, reset),
		cmocka_unit_test_setup(test_fallback_holds_off_add, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
