// SPDX-License-Identifier: MIT
/*
 * host/ublk.c's control commands against a fake /dev/ublk-control: how a device is deleted,
 * and how a started one is resized.
 *
 * open() and io_uring_submit() are swapped at link time. Opening /dev/ublk-control gives a
 * descriptor of /dev/null; each control command submitted on it is recorded, sent to the
 * kernel as a NOP, and its completion's result is then set to what this file's "kernel" answers
 * for that opcode. So the ring, the submission and the wait are real, and the answers are the
 * ones a kernel before 6.9 (no DEL_DEV_ASYNC) or after it, or before 6.16 (no UPDATE_SIZE) or
 * after it gives.
 *
 * To start a device, /dev/ublkcN is /dev/null too (stat(), open() and mmap() are swapped: its
 * descriptor area is anonymous memory), and each queue's FETCH_REQ becomes a read of a pipe
 * that stays empty until STOP_DEV, which fills it: every tag then ends, and the queue threads
 * with them, as when the kernel aborts the FETCHes (a read's result is not the kernel's
 * -ENODEV, so the library logs each as a failed io command).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
	uint64_t data0;
	uint64_t size_then; /* UPDATE_SIZE: the size the library checked I/O against meanwhile */
	pthread_t thread;
	bool end; /* a DEL_DEV's completion, recorded when its wait in the "kernel" is over */
};

static struct {
	pthread_mutex_t lock;
	bool is_ctrl[MAX_FDS];
	bool is_cdev[MAX_FDS]; /* /dev/ublkcN */
	struct rec recs[MAX_CMDS];
	unsigned int nr;
	int res_async;	  /* DEL_DEV_ASYNC's answer: 0, or -EOPNOTSUPP before Linux 6.9 */
	bool race_in_del; /* during the first DEL_DEV, a second create runs on another thread */
	pthread_t racer;
	bool racer_started;
	int racer_ret;	/* its dn_ublk_create()'s result (asserted on the test's own thread) */
	bool params_ok; /* SET_PARAMS succeeds (a device to start) */
	int res_update; /* UPDATE_SIZE's answer: 0, or -EOPNOTSUPP before Linux 6.16 */
	struct dn_ublk_dev *dev; /* the started device */
	int fetch_pipe[2];	 /* the FETCHes read its end; STOP_DEV writes to it */
	unsigned int nr_fetch_tags;
	char scratch[64];
} k = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void record(uint32_t op, uint32_t dev_id, uint64_t data0, bool end)
{
	bool full;

	pthread_mutex_lock(&k.lock);
	full = k.nr == MAX_CMDS;
	if (!full)
		k.recs[k.nr++] = (struct rec){.op = op,
					      .dev_id = dev_id,
					      .data0 = data0,
					      .size_then = k.dev ? dn_ublk_size(k.dev) : 0,
					      .thread = pthread_self(),
					      .end = end};
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
	if (strcmp(path, "/dev/ublk-control") && strncmp(path, "/dev/ublkc", 10))
		return __real_open(path, flags, mode);
	fd = __real_open("/dev/null", flags);
	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&k.lock);
		if (!strcmp(path, "/dev/ublk-control"))
			k.is_ctrl[fd] = true;
		else
			k.is_cdev[fd] = true;
		pthread_mutex_unlock(&k.lock);
	}
	return fd;
}

static bool fd_is(const bool *table, int fd)
{
	bool ret;

	pthread_mutex_lock(&k.lock);
	ret = fd >= 0 && fd < MAX_FDS && table[fd];
	pthread_mutex_unlock(&k.lock);
	return ret;
}

/* ---- /dev/ublkcN and /dev/ublkbN: the nodes are there; the descriptors are zeroes ---- */

int __real_stat(const char *restrict path, struct stat *restrict st);
int __wrap_stat(const char *restrict path, struct stat *restrict st);

int __wrap_stat(const char *restrict path, struct stat *restrict st)
{
	if (strncmp(path, "/dev/ublkc", 10) && strncmp(path, "/dev/ublkb", 10))
		return __real_stat(path, st);
	memset(st, 0, sizeof(*st));
	st->st_mode = path[9] == 'c' ? S_IFCHR | 0600 : S_IFBLK | 0600;
	return 0;
}

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (!fd_is(k.is_cdev, fd))
		return __real_mmap(addr, len, prot, flags, fd, off);
	return __real_mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
	char fill[64] = {0};
	bool start;

	switch (op) {
	case UBLK_U_CMD_ADD_DEV:
		return 0; /* the payload keeps the dev_id asked for */
	case UBLK_U_CMD_SET_PARAMS:
		/* failing: dn_ublk_create() deletes what it added */
		return k.params_ok ? 0 : -EINVAL;
	case UBLK_U_CMD_START_DEV:
		return 0;
	case UBLK_U_CMD_STOP_DEV:
		/* every outstanding FETCH ends: one byte for each */
		assert_true(k.nr_fetch_tags <= sizeof(fill));
		assert_int_equal(write(k.fetch_pipe[1], fill, k.nr_fetch_tags), k.nr_fetch_tags);
		return 0;
	case UBLK_U_CMD_UPDATE_SIZE:
		return k.res_update;
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
		record(op, dev_id, 0, true);
		return 0;
	default:
		fail_msg("unexpected control command 0x%x", op);
		return -EINVAL;
	}
}

/*
 * The commands queued on ring: control commands are answered (res[], in order) and become
 * NOPs; a queue's FETCH_REQ becomes a read of the pipe. Returns how many control commands.
 */
static int fake_kernel(struct io_uring *ring, int res[8])
{
	unsigned int mask = *ring->sq.kring_mask, i;
	unsigned int shift = ring->flags & IORING_SETUP_SQE128 ? 1 : 0;
	int nr = 0;

	for (i = ring->sq.sqe_head; i != ring->sq.sqe_tail; i++) {
		struct io_uring_sqe *sqe = &ring->sq.sqes[(i & mask) << shift];
		const struct ublksrv_ctrl_cmd *c = (const void *)sqe->cmd;
		uint64_t user_data = sqe->user_data;

		if (sqe->opcode != IORING_OP_URING_CMD)
			continue;
		if (fd_is(k.is_cdev, sqe->fd)) {
			/* no I/O is ever sent: only the FETCHes, which wait until STOP_DEV */
			assert_int_equal(sqe->cmd_op, UBLK_U_IO_FETCH_REQ);
			io_uring_prep_read(sqe, k.fetch_pipe[0], k.scratch, 1, 0);
			sqe->user_data = user_data;
			pthread_mutex_lock(&k.lock);
			k.nr_fetch_tags++;
			pthread_mutex_unlock(&k.lock);
			continue;
		}
		if (!fd_is(k.is_ctrl, sqe->fd))
			continue;
		assert_true(ring->flags & IORING_SETUP_SQE128);
		assert_true(nr < 8);
		record(sqe->cmd_op, c->dev_id, c->data[0], false);
		res[nr++] = answer(sqe->cmd_op, c->dev_id);
		memset(sqe, 0, DN_UBLK_CTRL_SQE_SIZE);
		sqe->opcode = IORING_OP_NOP;
		sqe->user_data = user_data;
	}
	return nr;
}

int __real_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr);
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr);

/* the queue threads' loop: nothing for the control device comes this way */
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr)
{
	int res[8];

	assert_int_equal(fake_kernel(ring, res), 0);
	return __real_io_uring_submit_and_wait(ring, wait_nr);
}

int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);

int __wrap_io_uring_submit(struct io_uring *ring)
{
	unsigned int i, head, tail;
	int res[8], nr, ret, j = 0;

	nr = fake_kernel(ring, res);
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
	k.params_ok = false;
	k.res_update = 0;
	k.dev = NULL;
	k.nr_fetch_tags = 0;
	memset(k.is_ctrl, 0, sizeof(k.is_ctrl));
	memset(k.is_cdev, 0, sizeof(k.is_cdev));
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

/* Create and start a device of 1 GiB in 4 KiB blocks (the fake's SET_PARAMS succeeds). */
static struct dn_ublk_dev *started_dev(void)
{
	struct dn_ublk_params p = good(FAKE_DEV_ID);
	struct dn_ublk_dev *dev = NULL;

	k.params_ok = true;
	assert_int_equal(pipe2(k.fetch_pipe, O_CLOEXEC), 0);
	assert_int_equal(dn_ublk_create(&p, &ops, NULL, &dev), 0);
	/* not started yet: no disk to resize (an unpatched 6.16 would dereference it) */
	assert_int_equal(dn_ublk_update_size(dev, 2ull << 30), -ENODEV);
	assert_int_equal(dn_ublk_start(dev), 0);
	pthread_mutex_lock(&k.lock);
	k.dev = dev;
	k.nr = 0;
	pthread_mutex_unlock(&k.lock);
	return dev;
}

static void stop_dev(struct dn_ublk_dev *dev)
{
	pthread_mutex_lock(&k.lock);
	k.dev = NULL;
	pthread_mutex_unlock(&k.lock);
	dn_ublk_stop_and_delete(dev);
	assert_int_equal(k.nr_fetch_tags, 4); /* one FETCH per tag, all ended by STOP_DEV */
	close(k.fetch_pipe[0]);
	close(k.fetch_pipe[1]);
}

/*
 * Resize dev to bytes: the i-th command is UPDATE_SIZE in sectors, sent while the library's own
 * bound was size_then.
 */
static void resize_ok(struct dn_ublk_dev *dev, unsigned int i, uint64_t bytes, uint64_t size_then)
{
	assert_int_equal(dn_ublk_update_size(dev, bytes), 0);
	assert_int_equal(k.nr, i + 1);
	assert_rec(i, UBLK_U_CMD_UPDATE_SIZE, FAKE_DEV_ID);
	assert_int_equal(k.recs[i].data0, bytes >> 9);
	assert_int_equal(k.recs[i].size_then, size_then);
	assert_int_equal(dn_ublk_size(dev), bytes);
}

/*
 * Linux 6.16+: UPDATE_SIZE with the new size in sectors. The size the queue threads check
 * requests against is the new one before the kernel's disk grows, and the old one until the
 * kernel's disk has shrunk.
 */
static void test_update_size(void **state)
{
	struct dn_ublk_dev *dev = started_dev();

	assert_int_equal(dn_ublk_size(dev), 1ull << 30);
	resize_ok(dev, 0, 2ull << 30, 2ull << 30);   /* grows: the new bound first */
	resize_ok(dev, 1, 512ull << 20, 2ull << 30); /* shrinks: the old bound meanwhile */

	/* the same size: nothing to ask; not a whole block, or none: refused here */
	assert_int_equal(dn_ublk_update_size(dev, 512ull << 20), 0);
	assert_int_equal(dn_ublk_update_size(dev, (1ull << 30) + 512), -EINVAL);
	assert_int_equal(dn_ublk_update_size(dev, 0), -EINVAL);
	assert_int_equal(k.nr, 2);
	assert_int_equal(dn_ublk_size(dev), 512ull << 20);
	stop_dev(dev);
}

/* Before Linux 6.16 the opcode is unknown: nothing changes, the caller makes a new device. */
static void test_update_size_old_kernel(void **state)
{
	struct dn_ublk_dev *dev = started_dev();

	k.res_update = -EOPNOTSUPP;
	assert_int_equal(dn_ublk_update_size(dev, 2ull << 30), -EOPNOTSUPP);
	assert_int_equal(k.nr, 1);
	assert_rec(0, UBLK_U_CMD_UPDATE_SIZE, FAKE_DEV_ID);
	assert_int_equal(dn_ublk_size(dev), 1ull << 30);
	assert_int_equal(dn_ublk_update_size(dev, 256ull << 20), -EOPNOTSUPP);
	assert_int_equal(k.recs[1].size_then, 1ull << 30);
	assert_int_equal(dn_ublk_size(dev), 1ull << 30);
	stop_dev(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_delete_async, reset),
		cmocka_unit_test_setup(test_delete_async_gone, reset),
		cmocka_unit_test_setup(test_delete_fallback, reset),
		cmocka_unit_test_setup(test_fallback_holds_off_add, reset),
		cmocka_unit_test_setup(test_update_size, reset),
		cmocka_unit_test_setup(test_update_size_old_kernel, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
