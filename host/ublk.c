// SPDX-License-Identifier: MIT
/*
 * The ublk server: device lifetime through /dev/ublk-control (ADD_DEV, SET_PARAMS, START_DEV,
 * STOP_DEV, DEL_DEV as uring_cmds on a small SQE128 ring) and one thread per hardware queue
 * that keeps a FETCH/COMMIT_AND_FETCH uring_cmd outstanding for every tag of its queue and
 * hands each request to the backend (dn_ublk_ops).
 *
 * A tag's command is either with the kernel (waiting for a request), with the backend (a
 * request being served), or dead (aborted by STOP_DEV or failed). A queue thread ends when
 * all its tags are dead; the kernel aborts them only after every request completed, so a
 * backend may hold requests for as long as it needs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "host/ublk.h"
#include "host/ublk_wire.h"

#define UBLK_CTRL_PATH	  "/dev/ublk-control"
#define UBLK_NODE_WAIT_MS 5000 /* devtmpfs makes nodes synchronously; udev may rename */

enum tag_state {
	TAG_KERNEL,  /* FETCH or COMMIT_AND_FETCH outstanding */
	TAG_BACKEND, /* request handed to ops->queue_io, not completed yet */
	TAG_DEAD,    /* aborted by the kernel (stop) or failed */
};

struct dn_ublk_tag {
	struct dn_event ev;
	struct dn_ublk_queue *q;
	uint16_t tag;
	uint8_t state;
};

struct dn_ublk_queue {
	struct dn_ublk_dev *dev;
	uint16_t id;
	pthread_t thread;
	pthread_t self; /* as the queue thread sees itself, for the caller check */
	bool thread_started;
	bool has_cpus;
	cpu_set_t cpus; /* the CPUs whose I/O blk-mq maps to this queue */
	bool ring_ready;
	struct io_uring ring;
	const struct ublksrv_io_desc *descs; /* shared with the kernel, read-only */
	size_t descs_len;
	char *bufs;
	size_t bufs_len;
	struct dn_ublk_tag *tags;
	uint16_t nr_dead;
	/* cross-thread wakeup: an eventfd read kept outstanding on the ring */
	int efd;
	uint64_t efd_val;
	struct dn_event efd_ev;
	atomic_bool stopping;
	bool stop_called;
	void *priv;
};

/* /dev/ublk-control and the small SQE128 ring its commands go through */
struct ublk_ctrl {
	int fd;
	struct io_uring ring;
};

struct dn_ublk_dev {
	struct dn_ublk_params p; /* as granted: nr_queues, queue_depth, max_io_bytes, dev_id */
	const struct dn_ublk_ops *ops;
	void *priv;
	struct ublk_ctrl ctrl;
	int cdev_fd;
	long page_size;
	struct dn_ublk_queue *queues;
	bool started;
	/* queue threads report their setup here before dn_ublk_start() sends START_DEV */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint16_t nr_reported;
	int setup_err;
};

/* ---- control commands ---- */

static int ctrl_open(struct ublk_ctrl *c)
{
	int ret;

	c->fd = open(UBLK_CTRL_PATH, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret) {
		close(c->fd);
		c->fd = -1;
		return ret;
	}
	dn_uring_created(&c->ring);
	return 0;
}

static void ctrl_close(struct ublk_ctrl *c)
{
	dn_uring_exit(&c->ring);
	close(c->fd);
	c->fd = -1;
}

static int ctrl_cmd(struct ublk_ctrl *ctrl, uint32_t op, uint32_t dev_id, void *buf, uint16_t len,
		    uint64_t data0)
{
	struct ublksrv_ctrl_cmd c = {
		.dev_id = dev_id,
		.queue_id = (uint16_t)-1,
		.len = len,
		.addr = (uint64_t)(uintptr_t)buf,
		.data = {data0},
	};
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(&ctrl->ring);
	if (!sqe)
		return -EBUSY;
	dn_ublk_prep_ctrl_cmd(sqe, ctrl->fd, op, &c);
	ret = io_uring_submit(&ctrl->ring);
	if (ret < 0)
		return ret;
	/* START_DEV and STOP_DEV block in the kernel until the queues are ready / drained */
	do
		ret = io_uring_wait_cqe(&ctrl->ring, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&ctrl->ring, cqe);
	return ret;
}

static int dev_ctrl_cmd(struct dn_ublk_dev *dev, uint32_t op, void *buf, uint16_t len,
			uint64_t data0)
{
	return ctrl_cmd(&dev->ctrl, op, (uint32_t)dev->p.dev_id, buf, len, data0);
}

/*
 * Device numbers. DEL_DEV waits until the number is freed, i.e. until the device's last
 * reference is gone: for as long as anyone holds /dev/ublkbN open (a mounted file system, a
 * process reading it), and, since the wait looks the number up again after each wakeup, for
 * good when an ADD_DEV took the freed number first (it then waits for that new device's
 * deletion: seen as a disconnect hanging while another connect created devices).
 * DEL_DEV_ASYNC (Linux 6.9) does not wait: the disk is gone when it returns, and the number
 * is freed with the last reference. Kernels without it get DEL_DEV, with this process's own
 * ADD_DEVs held off meanwhile so that none of them can take the number under the wait.
 */
static pthread_mutex_t dev_number_lock = PTHREAD_MUTEX_INITIALIZER;

static int add_dev(struct ublk_ctrl *ctrl, struct ublksrv_ctrl_dev_info *info)
{
	int ret;

	pthread_mutex_lock(&dev_number_lock);
	ret = ctrl_cmd(ctrl, UBLK_U_CMD_ADD_DEV, info->dev_id, info, sizeof(*info), 0);
	pthread_mutex_unlock(&dev_number_lock);
	return ret;
}

static int del_dev(struct ublk_ctrl *ctrl, uint32_t dev_id)
{
	int ret;

	/* a kernel before 6.9 does not know the opcode: -EOPNOTSUPP */
	ret = ctrl_cmd(ctrl, UBLK_U_CMD_DEL_DEV_ASYNC, dev_id, NULL, 0, 0);
	if (!ret || ret == -ENODEV)
		return ret;
	pthread_mutex_lock(&dev_number_lock);
	ret = ctrl_cmd(ctrl, UBLK_U_CMD_DEL_DEV, dev_id, NULL, 0, 0);
	pthread_mutex_unlock(&dev_number_lock);
	return ret;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait for a device node: devtmpfs creates it, but a udev rule may still be renaming it. */
static int wait_node(const char *path, bool chr)
{
	struct stat st;
	int waited;

	for (waited = 0; waited < UBLK_NODE_WAIT_MS; waited += 10) {
		if (!stat(path, &st) && (chr ? S_ISCHR(st.st_mode) : S_ISBLK(st.st_mode)))
			return 0;
		sleep_ms(10);
	}
	return -ENODEV;
}

/* ---- queue thread ---- */

static inline struct io_uring_sqe *queue_sqe(struct dn_ublk_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		/* SQ full: push what is queued to the kernel, then there is room */
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

static void tag_done(struct dn_event *ev, const struct io_uring_cqe *cqe);

static int tag_queue_cmd(struct dn_ublk_queue *q, uint16_t tag, uint32_t op, int32_t res)
{
	struct dn_ublk_tag *t = &q->tags[tag];
	struct io_uring_sqe *sqe = queue_sqe(q);

	if (!sqe)
		return -EBUSY;
	dn_ublk_prep_io_cmd(sqe, q->dev->cdev_fd, op, q->id, tag, res,
			    (uint64_t)(uintptr_t)(q->bufs + (size_t)tag * q->dev->p.max_io_bytes));
	dn_event_set(sqe, &t->ev);
	t->state = TAG_KERNEL;
	return 0;
}

static void tag_kill(struct dn_ublk_queue *q, struct dn_ublk_tag *t)
{
	t->state = TAG_DEAD;
	q->nr_dead++;
}

void dn_ublk_complete(struct dn_ublk_queue *q, uint16_t tag, int res)
{
	struct dn_ublk_tag *t = &q->tags[tag];

	if (!pthread_equal(q->self, pthread_self())) {
		/* the ring has a single submitter; another thread would corrupt it */
		dn_err("ublk%d q%u: tag %u completed from another thread", q->dev->p.dev_id, q->id,
		       tag);
		return;
	}
	if (t->state != TAG_BACKEND) {
		dn_err("ublk%d q%u: tag %u completed twice or never started", q->dev->p.dev_id,
		       q->id, tag);
		return;
	}
	if (res > 0 && (uint64_t)res > (uint64_t)q->descs[tag].nr_sectors << 9) {
		/* more bytes than asked for: the driver would warn and copy past the request */
		dn_err("ublk%d q%u: tag %u completed with %d bytes for %u sectors",
		       q->dev->p.dev_id, q->id, tag, res, q->descs[tag].nr_sectors);
		res = -EIO;
	}
	if (tag_queue_cmd(q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ, res)) {
		/* cannot happen with a ring sized for the queue; the request would hang */
		dn_err("ublk%d q%u: no SQE to commit tag %u", q->dev->p.dev_id, q->id, tag);
		tag_kill(q, t);
	}
}

/* A FETCH or COMMIT_AND_FETCH finished: a new request for this tag, or the end. */
static void tag_done(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ublk_tag *t = container_of(ev, struct dn_ublk_tag, ev);
	struct dn_ublk_queue *q = t->q;
	struct dn_ublk_dev *dev = q->dev;
	struct ublksrv_io_desc iod;
	struct dn_ublk_io io;
	int ret;

	if (cqe->res != UBLK_IO_RES_OK) {
		if (cqe->res != UBLK_IO_RES_ABORT)
			dn_err("ublk%d q%u tag %u: io command failed: %s", dev->p.dev_id, q->id,
			       t->tag, strerror(-cqe->res));
		tag_kill(q, t);
		return;
	}
	t->state = TAG_BACKEND;
	/* one copy, so what we check is what the backend sees */
	iod = q->descs[t->tag];
	/* the size moves under a live resize (dn_ublk_update_size) */
	ret = dn_ublk_io_decode(&iod, __atomic_load_n(&dev->p.size, __ATOMIC_ACQUIRE),
				dev->p.max_io_bytes, &io);
	if (ret) {
		dn_warn("ublk%d q%u tag %u: bad descriptor op_flags %#x sector %llu nr %u",
			dev->p.dev_id, q->id, t->tag, iod.op_flags,
			(unsigned long long)iod.start_sector, iod.nr_sectors);
		dn_ublk_complete(q, t->tag, ret == -EOPNOTSUPP ? -EOPNOTSUPP : -EIO);
		return;
	}
	dev->ops->queue_io(q, t->tag, &iod, q->bufs + (size_t)t->tag * dev->p.max_io_bytes);
}

static void efd_arm(struct dn_ublk_queue *q)
{
	struct io_uring_sqe *sqe = queue_sqe(q);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, q->efd, &q->efd_val, sizeof(q->efd_val), 0);
	dn_event_set(sqe, &q->efd_ev);
}

static void efd_done(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ublk_queue *q = container_of(ev, struct dn_ublk_queue, efd_ev);
	const struct dn_ublk_ops *ops = q->dev->ops;

	if (cqe->res == -ECANCELED)
		return; /* the ring is going away */
	if (cqe->res < 0 && cqe->res != -EINTR && cqe->res != -EAGAIN)
		dn_err("ublk%d q%u: eventfd read: %s", q->dev->p.dev_id, q->id,
		       strerror(-cqe->res));
	/* run the hooks anyway: a lost wakeup could leave held I/O blocking STOP_DEV */
	if (atomic_load(&q->stopping) && !q->stop_called) {
		q->stop_called = true;
		if (ops->stop_queue)
			ops->stop_queue(q);
	}
	if (ops->notify)
		ops->notify(q);
	efd_arm(q);
}

static int queue_ring_init(struct dn_ublk_queue *q)
{
	unsigned int depth = q->dev->p.queue_depth;

	/*
	 * Room for a command per tag plus the backend's own requests. Created on the queue
	 * thread, which is the only submitter, so the kernel can run completions as deferred
	 * task work when we wait (what ublk's own selftest server does).
	 */
	return dn_uring_init(&q->ring, 2 * depth, 4 * depth, 0,
			     IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
				     IORING_SETUP_DEFER_TASKRUN);
}

static int queue_setup(struct dn_ublk_queue *q)
{
	struct dn_ublk_dev *dev = q->dev;
	void *descs;
	uint16_t t;
	int ret;

	ret = queue_ring_init(q);
	if (ret)
		return ret;
	q->ring_ready = true;

	q->descs_len = dn_ublk_desc_len(dev->p.queue_depth, dev->page_size);
	descs = mmap(NULL, q->descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE, dev->cdev_fd,
		     dn_ublk_desc_offset(q->id, dev->page_size));
	if (descs == MAP_FAILED)
		return -errno;
	q->descs = descs;

	q->efd_ev.cb = efd_done;
	efd_arm(q);

	if (dev->ops->init_queue) {
		ret = dev->ops->init_queue(q, q->bufs, q->bufs_len);
		if (ret)
			return ret;
	}
	for (t = 0; t < dev->p.queue_depth; t++) {
		q->tags[t].ev.cb = tag_done;
		q->tags[t].q = q;
		q->tags[t].tag = t;
		ret = tag_queue_cmd(q, t, UBLK_U_IO_FETCH_REQ, 0);
		if (ret)
			return ret;
	}
	ret = io_uring_submit(&q->ring);
	if (ret < 0)
		return ret;
	/* uring_cmd is issued inline: a rejected FETCH has its CQE already */
	dn_event_dispatch(&q->ring);
	return q->nr_dead ? -EIO : 0;
}

static void queue_teardown(struct dn_ublk_queue *q)
{
	if (q->ring_ready) {
		dn_uring_exit(&q->ring); /* cancels whatever is still outstanding */
		q->ring_ready = false;
	}
	if (q->descs) {
		/* the mapping pins /dev/ublkcN, which DEL_DEV waits for */
		munmap((void *)q->descs, q->descs_len);
		q->descs = NULL;
	}
}

static void queue_report(struct dn_ublk_queue *q, int err)
{
	struct dn_ublk_dev *dev = q->dev;

	pthread_mutex_lock(&dev->lock);
	if (err && !dev->setup_err)
		dev->setup_err = err;
	dev->nr_reported++;
	pthread_cond_broadcast(&dev->cond);
	pthread_mutex_unlock(&dev->lock);
}

static void *queue_thread(void *arg)
{
	struct dn_ublk_queue *q = arg;
	struct dn_ublk_dev *dev = q->dev;
	char name[16];
	int ret;

	q->self = pthread_self();
	snprintf(name, sizeof(name), "ublk%d-q%u", dev->p.dev_id, q->id);
	pthread_setname_np(pthread_self(), name);

	ret = queue_setup(q);
	if (ret)
		dn_err("ublk%d q%u: setup: %s", dev->p.dev_id, q->id, strerror(-ret));
	queue_report(q, ret);
	if (ret)
		goto out_teardown;

	while (q->nr_dead < dev->p.queue_depth) {
		ret = io_uring_submit_and_wait(&q->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			/* closing the ring cancels our commands, so the kernel stops the device */
			dn_err("ublk%d q%u: io_uring: %s", dev->p.dev_id, q->id, strerror(-ret));
			break;
		}
		dn_event_dispatch(&q->ring);
		if (dev->ops->flush)
			dev->ops->flush(q);
	}
	if (dev->ops->exit_queue)
		dev->ops->exit_queue(q);
out_teardown:
	queue_teardown(q);
	return NULL;
}

/* ---- device ---- */

static void queues_free(struct dn_ublk_dev *dev)
{
	uint16_t i;

	for (i = 0; i < dev->p.nr_queues; i++) {
		struct dn_ublk_queue *q = &dev->queues[i];

		if (!q->dev)
			continue; /* allocation stopped before this one */
		if (q->bufs)
			munmap(q->bufs, q->bufs_len);
		if (q->efd >= 0)
			close(q->efd);
		free(q->tags);
	}
	free(dev->queues);
	dev->queues = NULL;
}

static int queues_alloc(struct dn_ublk_dev *dev)
{
	uint16_t i;

	dev->queues = calloc(dev->p.nr_queues, sizeof(*dev->queues));
	if (!dev->queues)
		return -ENOMEM;
	for (i = 0; i < dev->p.nr_queues; i++) {
		struct dn_ublk_queue *q = &dev->queues[i];
		void *bufs;

		q->dev = dev;
		q->id = i;
		q->efd = -1;
		atomic_init(&q->stopping, false);
		q->tags = calloc(dev->p.queue_depth, sizeof(*q->tags));
		if (!q->tags)
			goto out_free;
		/* lives as long as the queue struct, so notify never races a close */
		q->efd = eventfd(0, EFD_CLOEXEC);
		if (q->efd < 0)
			goto out_free;
		/* one page-aligned area per queue, so a backend registers it once */
		q->bufs_len = (size_t)dev->p.queue_depth * dev->p.max_io_bytes;
		bufs = mmap(NULL, q->bufs_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (bufs == MAP_FAILED)
			goto out_free;
		q->bufs = bufs;
	}
	return 0;

out_free:
	queues_free(dev);
	return -ENOMEM;
}

int dn_ublk_create(const struct dn_ublk_params *p, const struct dn_ublk_ops *ops, void *priv,
		   struct dn_ublk_dev **out)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	struct dn_ublk_dev *dev;
	char path[32];
	int ret;

	if (!ops || !ops->queue_io || !out)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->page_size = sysconf(_SC_PAGESIZE);
	ret = dn_ublk_params_check(p, dev->page_size);
	if (ret)
		goto out_free_dev;
	dev->p = *p;
	dev->p.max_io_bytes = dn_ublk_effective_max_io(p->max_io_bytes, dev->page_size);
	dev->ops = ops;
	dev->priv = priv;
	dev->cdev_fd = -1;
	pthread_mutex_init(&dev->lock, NULL);
	pthread_cond_init(&dev->cond, NULL);

	ret = ctrl_open(&dev->ctrl);
	if (ret)
		goto out_destroy_sync;

	dn_ublk_build_dev_info(&dev->p, dev->p.max_io_bytes, getpid(), &info);
	ret = add_dev(&dev->ctrl, &info);
	if (ret)
		goto out_close_ctrl;
	/* what the driver granted: an id, and at most one queue per CPU */
	dev->p.dev_id = (int)info.dev_id;
	dev->p.nr_queues = info.nr_hw_queues;
	dev->p.queue_depth = info.queue_depth;
	dev->p.max_io_bytes = info.max_io_buf_bytes;
	if (dev->p.nr_queues != p->nr_queues)
		dn_notice("ublk%d: kernel granted %u of %u queues", dev->p.dev_id, dev->p.nr_queues,
			  p->nr_queues);

	dn_ublk_build_params(&dev->p, dev->p.max_io_bytes, &params);
	ret = dev_ctrl_cmd(dev, UBLK_U_CMD_SET_PARAMS, &params, sizeof(params), 0);
	if (ret)
		goto out_del_dev;

	ret = queues_alloc(dev);
	if (ret)
		goto out_del_dev;

	snprintf(path, sizeof(path), "/dev/ublkc%d", dev->p.dev_id);
	ret = wait_node(path, true);
	if (ret)
		goto out_free_queues;
	dev->cdev_fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev->cdev_fd < 0) {
		ret = -errno;
		goto out_free_queues;
	}
	*out = dev;
	return 0;

out_free_queues:
	queues_free(dev);
out_del_dev:
	del_dev(&dev->ctrl, (uint32_t)dev->p.dev_id);
out_close_ctrl:
	ctrl_close(&dev->ctrl);
out_destroy_sync:
	pthread_cond_destroy(&dev->cond);
	pthread_mutex_destroy(&dev->lock);
out_free_dev:
	free(dev);
	return ret;
}

/* Wake every queue for stop_queue, have the kernel drain and abort, and join the threads. */
static void queues_stop(struct dn_ublk_dev *dev)
{
	uint16_t i;
	int ret;

	for (i = 0; i < dev->p.nr_queues; i++) {
		atomic_store(&dev->queues[i].stopping, true);
		dn_ublk_queue_notify(&dev->queues[i]);
	}
	ret = dev_ctrl_cmd(dev, UBLK_U_CMD_STOP_DEV, NULL, 0, 0);
	if (ret)
		dn_err("ublk%d: STOP_DEV: %s", dev->p.dev_id, strerror(-ret));
	for (i = 0; i < dev->p.nr_queues; i++) {
		if (dev->queues[i].thread_started) {
			pthread_join(dev->queues[i].thread, NULL);
			dev->queues[i].thread_started = false;
		}
	}
}

/*
 * pin_queues: run each queue thread on the CPUs that submit to its queue, as ublksrv does:
 * the driver hands requests over as task work to the queue thread, so a thread elsewhere
 * means a cross-CPU wakeup per batch. Best effort: without it the queue still works.
 */
static void queue_get_cpus(struct dn_ublk_dev *dev, struct dn_ublk_queue *q)
{
	int ret;

	CPU_ZERO(&q->cpus);
	ret = dev_ctrl_cmd(dev, UBLK_U_CMD_GET_QUEUE_AFFINITY, &q->cpus, sizeof(q->cpus), q->id);
	q->has_cpus = !ret && CPU_COUNT(&q->cpus) > 0;
	if (ret)
		dn_dbg("ublk%d q%u: no CPU affinity: %s", dev->p.dev_id, q->id, strerror(-ret));
}

static int queue_thread_create(struct dn_ublk_queue *q)
{
	pthread_attr_t attr;
	int ret;

	ret = -pthread_attr_init(&attr);
	if (ret)
		return ret;
	if (q->has_cpus)
		pthread_attr_setaffinity_np(&attr, sizeof(q->cpus), &q->cpus);
	ret = -pthread_create(&q->thread, &attr, queue_thread, q);
	pthread_attr_destroy(&attr);
	if (!ret)
		q->thread_started = true;
	return ret;
}

int dn_ublk_start(struct dn_ublk_dev *dev)
{
	sigset_t all, old;
	char path[32];
	uint16_t i;
	int ret = 0;

	if (dev->started)
		return -EALREADY;
	for (i = 0; dev->p.pin_queues && i < dev->p.nr_queues; i++)
		queue_get_cpus(dev, &dev->queues[i]);
	/* signals are for the application's own threads, never a queue's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < dev->p.nr_queues; i++) {
		ret = queue_thread_create(&dev->queues[i]);
		if (ret)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	pthread_mutex_lock(&dev->lock);
	while (dev->nr_reported < i)
		pthread_cond_wait(&dev->cond, &dev->lock);
	if (!ret)
		ret = dev->setup_err;
	pthread_mutex_unlock(&dev->lock);
	if (ret)
		goto out_stop;

	ret = dev_ctrl_cmd(dev, UBLK_U_CMD_START_DEV, NULL, 0, (uint64_t)getpid());
	if (ret)
		goto out_stop;
	dev->started = true;
	snprintf(path, sizeof(path), "/dev/ublkb%d", dev->p.dev_id);
	ret = wait_node(path, false);
	if (ret)
		dn_warn("ublk%d: %s did not appear", dev->p.dev_id, path);
	return 0;

out_stop:
	dn_err("ublk%d: start: %s", dev->p.dev_id, strerror(-ret));
	/* STOP_DEV on a device that never went live only aborts the queued FETCHes */
	queues_stop(dev);
	return ret;
}

void dn_ublk_stop_and_delete(struct dn_ublk_dev *dev)
{
	int ret;

	if (!dev)
		return;
	if (dev->started) {
		queues_stop(dev);
		dev->started = false;
	}
	close(dev->cdev_fd);
	queues_free(dev);
	ret = del_dev(&dev->ctrl, (uint32_t)dev->p.dev_id);
	if (ret)
		dn_err("ublk%d: DEL_DEV: %s", dev->p.dev_id, strerror(-ret));
	ctrl_close(&dev->ctrl);
	pthread_cond_destroy(&dev->cond);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

/*
 * Live resize (Linux 6.16, UPDATE_SIZE): the disk's capacity changes in place, and whoever
 * holds /dev/ublkbN (a mounted file system) keeps it. Earlier kernels answer -EOPNOTSUPP and
 * nothing changes. The size the queue threads check descriptors against moves before the
 * kernel's when the device grows and after it when it shrinks, so at no moment does the
 * library refuse what the disk allows or pass what it no longer does.
 */
int dn_ublk_update_size(struct dn_ublk_dev *dev, uint64_t bytes)
{
	uint64_t old = __atomic_load_n(&dev->p.size, __ATOMIC_ACQUIRE);
	bool grow = bytes > old;
	int ret;

	if (!bytes || bytes % (1u << dev->p.lbs_shift) || bytes > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (!dev->started)
		return -ENODEV; /* and an unpatched 6.16 would use the disk it has not made */
	if (bytes == old)
		return 0;
	if (grow)
		__atomic_store_n(&dev->p.size, bytes, __ATOMIC_RELEASE);
	ret = dev_ctrl_cmd(dev, UBLK_U_CMD_UPDATE_SIZE, NULL, 0, bytes >> 9);
	if (ret) {
		if (grow)
			__atomic_store_n(&dev->p.size, old, __ATOMIC_RELEASE);
		return ret;
	}
	if (!grow)
		__atomic_store_n(&dev->p.size, bytes, __ATOMIC_RELEASE);
	return 0;
}

uint64_t dn_ublk_size(const struct dn_ublk_dev *dev)
{
	return __atomic_load_n(&dev->p.size, __ATOMIC_ACQUIRE);
}

static bool pid_alive(int32_t pid)
{
	return !kill(pid, 0) || errno != ESRCH;
}

int dn_ublk_reap_dead(void)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl ctrl;
	struct dirent *de;
	int ret, n = 0;
	DIR *dir;

	ret = ctrl_open(&ctrl);
	if (ret)
		return ret;
	dir = opendir("/sys/class/ublk-char");
	if (!dir) {
		ret = errno == ENOENT ? 0 : -errno;
		goto out_close_ctrl;
	}
	while ((de = readdir(dir))) {
		unsigned int id;
		char end;

		if (sscanf(de->d_name, "ublkc%u%c", &id, &end) != 1)
			continue;
		memset(&info, 0, sizeof(info));
		if (ctrl_cmd(&ctrl, UBLK_U_CMD_GET_DEV_INFO, id, &info, sizeof(info), 0) ||
		    !dn_ublk_is_reapable(&info, pid_alive))
			continue;
		ret = del_dev(&ctrl, id);
		if (ret && ret != -ENODEV) {
			dn_warn("ublk%u: left by pid %d, cannot delete: %s", id, info.ublksrv_pid,
				strerror(-ret));
			continue;
		}
		dn_notice("ublk%u: deleted, its server (pid %d) is gone", id, info.ublksrv_pid);
		n++;
	}
	closedir(dir);
	ret = n;
out_close_ctrl:
	ctrl_close(&ctrl);
	return ret;
}

void dn_ublk_queue_notify(struct dn_ublk_queue *q)
{
	uint64_t one = 1;
	ssize_t n;

	/* EAGAIN (counter full) still leaves the reader woken */
	n = write(q->efd, &one, sizeof(one));
	(void)n;
}

int dn_ublk_dev_id(const struct dn_ublk_dev *dev)
{
	return dev->p.dev_id;
}

void *dn_ublk_priv(const struct dn_ublk_dev *dev)
{
	return dev->priv;
}

uint16_t dn_ublk_nr_queues(const struct dn_ublk_dev *dev)
{
	return dev->p.nr_queues;
}

uint16_t dn_ublk_queue_depth(const struct dn_ublk_dev *dev)
{
	return dev->p.queue_depth;
}

uint32_t dn_ublk_max_io_bytes(const struct dn_ublk_dev *dev)
{
	return dev->p.max_io_bytes;
}

struct dn_ublk_queue *dn_ublk_queue(struct dn_ublk_dev *dev, uint16_t q_id)
{
	return q_id < dev->p.nr_queues ? &dev->queues[q_id] : NULL;
}

struct io_uring *dn_ublk_queue_ring(struct dn_ublk_queue *q)
{
	return &q->ring;
}

uint16_t dn_ublk_queue_id(const struct dn_ublk_queue *q)
{
	return q->id;
}

struct dn_ublk_dev *dn_ublk_queue_dev(struct dn_ublk_queue *q)
{
	return q->dev;
}

void *dn_ublk_queue_priv(struct dn_ublk_queue *q)
{
	return q->priv;
}

void dn_ublk_queue_set_priv(struct dn_ublk_queue *q, void *priv)
{
	q->priv = priv;
}

void *dn_ublk_queue_buf(struct dn_ublk_queue *q, uint16_t tag)
{
	return q->bufs + (size_t)tag * q->dev->p.max_io_bytes;
}
