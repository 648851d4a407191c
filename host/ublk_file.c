// SPDX-License-Identifier: MIT
/*
 * File backend for the ublk library: read/write/fdatasync/fallocate on the queue's io_uring,
 * one preallocated request per tag, and holding of I/O while paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "host/ublk_file.h"
#include "host/ublk_wire.h"

/* Steps of a write-zeroes on a file system without FALLOC_FL_ZERO_RANGE (tmpfs). */
enum wz_step { WZ_ZERO_RANGE, WZ_PUNCH, WZ_ALLOC };

struct file_req {
	struct dn_event ev;
	struct file_queue *fq;
	uint16_t tag;
	bool finished; /* held with its result in res */
	int res;
	uint8_t step;
	struct dn_ublk_io io;
	uint64_t done;
	char *buf;
};

struct file_queue {
	struct dn_ublk_queue *q;
	struct dn_ublk_file *f;
	bool paused;	    /* this thread's view of f->paused */
	bool stopping;	    /* never hold again */
	bool no_zero_range; /* learned from EOPNOTSUPP */
	bool no_nowait;	    /* the file system refuses RWF_NOWAIT */
	uint16_t nr_held;
	uint16_t *held; /* tags in arrival order */
	struct file_req reqs[];
};

static void req_cqe(struct dn_event *ev, const struct io_uring_cqe *cqe);

static void req_finish(struct file_req *r, int res)
{
	struct file_queue *fq = r->fq;

	if (fq->paused) {
		/* the completion waits too: the application must not see it yet */
		r->finished = true;
		r->res = res;
		fq->held[fq->nr_held++] = r->tag;
		return;
	}
	dn_ublk_complete(fq->q, r->tag, res);
}

static struct io_uring_sqe *req_sqe(struct file_req *r)
{
	struct io_uring *ring = dn_ublk_queue_ring(r->fq->q);
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	if (sqe)
		dn_event_set(sqe, &r->ev);
	return sqe;
}

/*
 * Data already in the page cache is copied at once, without a trip through the ring. A file
 * in memory (tmpfs) has nothing to wait for but refuses RWF_NOWAIT, which would send every
 * request through an io-wq worker: there the copy is simply done here. Returns true when r
 * is finished.
 */
static bool req_try_inline(struct file_req *r)
{
	struct file_queue *fq = r->fq;
	struct iovec iov = {.iov_base = r->buf + r->done, .iov_len = r->io.len - r->done};
	int flags = fq->f->in_memory ? 0 : RWF_NOWAIT;
	ssize_t n;

	if (r->io.op == UBLK_IO_OP_READ) {
		n = preadv2(fq->f->fd, &iov, 1, (off_t)(r->io.offset + r->done), flags);
	} else {
		if (r->io.flags & UBLK_IO_F_FUA)
			flags |= RWF_DSYNC;
		n = pwritev2(fq->f->fd, &iov, 1, (off_t)(r->io.offset + r->done), flags);
	}
	if (n < 0) {
		if (errno == EOPNOTSUPP)
			fq->no_nowait = true; /* tmpfs before 6.6, for example */
		return false;		      /* EAGAIN and real errors: the ring does it */
	}
	r->done += (uint64_t)n;
	if (n == 0 || r->done < r->io.len)
		return false;
	req_finish(r, (int)r->io.len);
	return true;
}

static void req_start(struct file_req *r)
{
	int fd = r->fq->f->fd, mode;
	struct io_uring_sqe *sqe;

	if ((r->io.op == UBLK_IO_OP_READ || r->io.op == UBLK_IO_OP_WRITE) &&
	    !r->fq->f->uring_only && (r->fq->f->in_memory || !r->fq->no_nowait) &&
	    req_try_inline(r))
		return;
	sqe = req_sqe(r);

	if (!sqe) {
		req_finish(r, -EBUSY);
		return;
	}
	switch (r->io.op) {
	case UBLK_IO_OP_READ:
		io_uring_prep_read(sqe, fd, r->buf + r->done, (unsigned int)(r->io.len - r->done),
				   r->io.offset + r->done);
		break;
	case UBLK_IO_OP_WRITE:
		io_uring_prep_write(sqe, fd, r->buf + r->done, (unsigned int)(r->io.len - r->done),
				    r->io.offset + r->done);
		if (r->io.flags & UBLK_IO_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case UBLK_IO_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case UBLK_IO_OP_DISCARD:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					r->io.offset, r->io.len);
		break;
	case UBLK_IO_OP_WRITE_ZEROES:
		if (r->step == WZ_ZERO_RANGE && r->fq->no_zero_range)
			r->step = WZ_PUNCH;
		mode = r->step == WZ_ZERO_RANGE ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
		       : r->step == WZ_PUNCH	? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
						: FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(sqe, fd, mode, r->io.offset, r->io.len);
		break;
	default:
		/* the library only passes the ops above; keep the SQE harmless */
		io_uring_prep_nop(sqe);
		r->res = -EOPNOTSUPP;
		break;
	}
}

static void req_cqe(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct file_req *r = container_of(ev, struct file_req, ev);
	int res = cqe->res;

	switch (r->io.op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (res < 0) {
			req_finish(r, res);
			return;
		}
		if (res == 0) {
			req_finish(r, -EIO); /* the file shrank under us */
			return;
		}
		r->done += (uint64_t)res;
		if (r->done < r->io.len) {
			req_start(r); /* short transfer: go on with the rest */
			return;
		}
		req_finish(r, (int)r->io.len);
		return;
	case UBLK_IO_OP_WRITE_ZEROES:
		if (res == -EOPNOTSUPP && r->step == WZ_ZERO_RANGE) {
			r->fq->no_zero_range = true;
			r->step = WZ_PUNCH;
			req_start(r);
			return;
		}
		/* punched holes read as zeroes; NOUNMAP asks for the space to stay allocated */
		if (res == 0 && r->step == WZ_PUNCH && (r->io.flags & UBLK_IO_F_NOUNMAP)) {
			r->step = WZ_ALLOC;
			req_start(r);
			return;
		}
		req_finish(r, res < 0 ? res : 0);
		return;
	default:
		req_finish(r, r->res ? r->res : (res < 0 ? res : 0));
		return;
	}
}

static void file_queue_io(struct dn_ublk_queue *q, uint16_t tag, const struct ublksrv_io_desc *iod,
			  void *buf)
{
	struct file_queue *fq = dn_ublk_queue_priv(q);
	struct file_req *r = &fq->reqs[tag];
	int ret;

	ret = dn_ublk_io_decode(iod, fq->f->size, dn_ublk_max_io_bytes(dn_ublk_queue_dev(q)),
				&r->io);
	if (ret) {
		dn_ublk_complete(q, tag, ret);
		return;
	}
	r->buf = buf;
	r->done = 0;
	r->res = 0;
	r->step = WZ_ZERO_RANGE;
	r->finished = false;
	if (fq->paused) {
		fq->held[fq->nr_held++] = tag;
		return;
	}
	req_start(r);
}

/* Release what was held, in arrival order: finished ones complete, unstarted ones start. */
static void release_held(struct file_queue *fq)
{
	uint16_t i, n = fq->nr_held;

	fq->nr_held = 0;
	for (i = 0; i < n; i++) {
		struct file_req *r = &fq->reqs[fq->held[i]];

		if (r->finished)
			dn_ublk_complete(fq->q, r->tag, r->res);
		else
			req_start(r);
	}
}

static void file_notify(struct dn_ublk_queue *q)
{
	struct file_queue *fq = dn_ublk_queue_priv(q);
	bool paused = atomic_load(&fq->f->paused) && !fq->stopping;

	if (paused == fq->paused)
		return;
	fq->paused = paused;
	dn_info("ublk%d q%u: I/O %s", dn_ublk_dev_id(dn_ublk_queue_dev(q)), dn_ublk_queue_id(q),
		paused ? "held" : "released");
	if (!paused)
		release_held(fq);
}

static void file_stop_queue(struct dn_ublk_queue *q)
{
	struct file_queue *fq = dn_ublk_queue_priv(q);

	fq->stopping = true;
	file_notify(q);
}

static int file_init_queue(struct dn_ublk_queue *q, void *bufs, size_t len)
{
	struct dn_ublk_dev *dev = dn_ublk_queue_dev(q);
	uint16_t depth = dn_ublk_queue_depth(dev), t;
	struct file_queue *fq;

	fq = calloc(1, sizeof(*fq) + depth * sizeof(fq->reqs[0]));
	if (!fq)
		return -ENOMEM;
	fq->held = calloc(depth, sizeof(*fq->held));
	if (!fq->held) {
		free(fq);
		return -ENOMEM;
	}
	fq->q = q;
	fq->f = dn_ublk_priv(dev);
	fq->paused = atomic_load(&fq->f->paused);
	for (t = 0; t < depth; t++) {
		fq->reqs[t].ev.cb = req_cqe;
		fq->reqs[t].fq = fq;
		fq->reqs[t].tag = t;
	}
	dn_ublk_queue_set_priv(q, fq);
	return 0;
}

static void file_exit_queue(struct dn_ublk_queue *q)
{
	struct file_queue *fq = dn_ublk_queue_priv(q);

	free(fq->held);
	free(fq);
	dn_ublk_queue_set_priv(q, NULL);
}

const struct dn_ublk_ops dn_ublk_file_ops = {
	.init_queue = file_init_queue,
	.exit_queue = file_exit_queue,
	.queue_io = file_queue_io,
	.notify = file_notify,
	.stop_queue = file_stop_queue,
};

int dn_ublk_file_open(struct dn_ublk_file *f, const char *path, bool read_only, uint8_t lbs_shift)
{
	struct statfs sfs;
	struct stat st;
	int ret;

	memset(f, 0, sizeof(*f));
	f->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	if (fstat(f->fd, &st)) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out_close;
	}
	f->size = (uint64_t)st.st_size & ~((1ull << lbs_shift) - 1);
	f->in_memory =
		!fstatfs(f->fd, &sfs) && (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
	f->read_only = read_only;
	atomic_init(&f->paused, false);
	return 0;

out_close:
	close(f->fd);
	f->fd = -1;
	return ret;
}

void dn_ublk_file_close(struct dn_ublk_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

void dn_ublk_file_set_paused(struct dn_ublk_file *f, bool paused)
{
	uint16_t i, n = dn_ublk_nr_queues(f->dev);

	atomic_store(&f->paused, paused);
	for (i = 0; i < n; i++)
		dn_ublk_queue_notify(dn_ublk_queue(f->dev, i));
}
