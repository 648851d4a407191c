// SPDX-License-Identifier: MIT
/*
 * Namespaces as ublk devices: Identify Namespace to ublk parameters, and the ublk backend
 * (dn_ublk_ops) that turns each ublk request into one NVMe command on the NVMe/RDMA I/O queue
 * owned by that ublk queue's thread. The queue's whole ublk buffer area is one memory region,
 * so Read and Write carry a keyed SGL pointing straight at the ublk buffer (zero copy); small
 * writes travel in the capsule when the controller has room for them.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rdma_util.h"
#include "host/ctrl.h"
#include "host/nvmf_cmd.h"
#include "host/ns_dev.h"

#define IOQ_CONNECT_TIMEOUT_MS 3000
/* A command with no answer after this many one-second ticks has timed out */
#define IO_TIMEOUT_TICKS 30
#define IOQ_DATA_LEN NVME_CONNECT_DATA_SIZE

/*
 * One ublk queue's NVMe I/O queue. Its connection (hq) comes and goes with the controller's
 * association; the completion channel, the io_uring poll on it, the tick and the per-tag
 * bookkeeping stay. While the connection is down, I/O is held (tags in `held`) and sent
 * again once the queue has reconnected: nothing acknowledged is lost, nothing is failed
 * unless the controller is dead or the device is being removed.
 */
struct dn_ioq {
	struct dn_hq hq;
	struct dn_ns_dev *ns;
	struct dn_ublk_queue *uq;
	struct ibv_comp_channel *cc;
	void *bufs;
	size_t bufs_len;
	int qid;
	bool up;		/* hq is connected and usable */
	bool stopping;		/* the device is going away: fail instead of holding */
	uint32_t gen;		/* the controller association hq belongs to */
	struct dn_event cc_ev;
	struct dn_event tick_ev;
	struct dn_event flush_ev;	/* a NOP: runs once the current batch of ublk CQEs is done */
	bool flush_armed;
	struct __kernel_timespec tick_ts;
	/* per tag: a copy of what queue_io got (iod may not outlive the call), to send again */
	struct ublksrv_io_desc *iods;
	void **tag_bufs;
	uint16_t *held;
	uint16_t nr_held, depth;
};

/* the device-wide state behind the public dn_ns_dev */
struct ns_dev_priv {
	struct dn_ns_dev dev;
	struct dn_ioq *ioqs;
	uint16_t nr_ioqs;
	struct dn_err err;	/* the first queue setup failure, for the connect reply */
};

int dn_ns_info_parse(const struct nvme_id_ns *id, uint32_t nsid, struct dn_ns_info *out,
		     struct dn_err *e)
{
	uint8_t fmt = id->flbas & NVME_NS_FLBAS_LOWER_MASK;
	uint8_t ds;

	memset(out, 0, sizeof(*out));
	/* FLBAS bits 6:5 extend the index beyond 16 formats */
	fmt |= (uint8_t)(((id->flbas & NVME_NS_FLBAS_HIGHER_MASK) >> 5) << 4);
	if (fmt > id->nlbaf || fmt > 63)
		return dn_err_set(e, -EINVAL, "namespace %u: LBA format %u out of range", nsid,
				  fmt);
	ds = id->lbaf[fmt].ds;
	if (ds < 9 || ds > 16)
		return dn_err_set(e, -EINVAL, "namespace %u: logical block size 2^%u is not "
				  "usable for a block device", nsid, ds);
	if (le16toh(id->lbaf[fmt].ms) && (id->flbas & NVME_NS_FLBAS_META_EXT))
		return dn_err_set(e, -EINVAL, "namespace %u: extended-LBA metadata is not "
				  "supported", nsid);
	out->nsid = nsid;
	out->nsze = le64toh(id->nsze);
	out->lbs_shift = ds;
	out->read_only = id->nsattr & 1;
	memcpy(out->nguid, id->nguid, sizeof(out->nguid));
	memcpy(out->eui64, id->eui64, sizeof(out->eui64));
	if (!out->nsze)
		return dn_err_set(e, -EINVAL, "namespace %u has no capacity", nsid);
	return 0;
}

uint32_t dn_mdts_bytes(uint8_t mdts, uint64_t cap)
{
	uint64_t page = 4096ull << NVME_CAP_MPSMIN(cap);
	uint64_t bytes;

	if (!mdts || mdts > 20)
		return DN_MAX_IO_BYTES;
	bytes = page << mdts;
	return bytes > DN_MAX_IO_BYTES ? DN_MAX_IO_BYTES : (uint32_t)bytes;
}

void dn_ns_ublk_params(const struct dn_ns_info *ns, const struct dn_ctrl_caps *caps,
		       struct dn_ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = ns->nsze << ns->lbs_shift;
	p->lbs_shift = ns->lbs_shift;
	p->max_io_bytes = caps->max_xfer;
	p->nr_queues = caps->nr_queues ? caps->nr_queues : 1;
	p->queue_depth = caps->queue_size;
	p->read_only = ns->read_only;
	p->flush = caps->vwc;
	p->discard = !ns->read_only && (caps->oncs & NVME_CTRL_ONCS_DSM);
	p->write_zeroes = !ns->read_only && (caps->oncs & NVME_CTRL_ONCS_WRITE_ZEROES);
	/* Write Zeroes counts blocks in 16 bits: let the block layer split larger requests */
	if (p->write_zeroes)
		p->max_write_zeroes_sectors = 65536u << (ns->lbs_shift - 9);
	p->dev_id = -1;
}

/* ---- the I/O path (ublk queue thread) ---- */

static void arm_cc_poll(struct dn_ioq *ioq)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(dn_ublk_queue_ring(ioq->uq));

	if (!sqe) {
		dn_err("queue %d: io_uring full, cannot poll the completion channel", ioq->qid);
		return;
	}
	/* multishot: one poll for the queue's lifetime, whatever connection is behind it */
	io_uring_prep_poll_multishot(sqe, ioq->cc->fd, POLLIN);
	dn_event_set(sqe, &ioq->cc_ev);
}

static void arm_tick(struct dn_ioq *ioq)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(dn_ublk_queue_ring(ioq->uq));

	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &ioq->tick_ts, 0, 0);
	dn_event_set(sqe, &ioq->tick_ev);
}

static void ioq_failed(struct dn_ioq *ioq, const char *why);

/*
 * Sends are chained while the queue thread works through a batch of ublk requests and posted
 * with one doorbell (one system call with rxe) afterwards: a NOP queued behind the batch
 * completes on the next pass of the queue's loop and flushes. The CQ is reaped there too,
 * so answers that are already in do not wait for the completion channel.
 */
static void flush_event(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(ev, struct dn_ioq, flush_ev);

	ioq->flush_armed = false;
	if (!ioq->up)
		return;
	if (dn_hq_flush(&ioq->hq) || dn_hq_process(&ioq->hq) < 0)
		ioq_failed(ioq, "the connection failed");
}

static void arm_flush(struct dn_ioq *ioq)
{
	struct io_uring_sqe *sqe;

	if (ioq->flush_armed)
		return;
	sqe = io_uring_get_sqe(dn_ublk_queue_ring(ioq->uq));
	if (!sqe) {
		/* no room for the NOP: post now */
		if (dn_hq_flush(&ioq->hq))
			ioq_failed(ioq, "the connection failed");
		return;
	}
	io_uring_prep_nop(sqe);
	dn_event_set(sqe, &ioq->flush_ev);
	ioq->flush_armed = true;
}

static void hold(struct dn_ioq *ioq, uint16_t tag)
{
	ioq->held[ioq->nr_held++] = tag;
}

static void fail_held(struct dn_ioq *ioq)
{
	while (ioq->nr_held)
		dn_ublk_complete(ioq->uq, ioq->held[--ioq->nr_held], -EIO);
}

/* Drop the connection; in-flight commands come back through io_done as path errors. */
static void ioq_down(struct dn_ioq *ioq)
{
	if (!ioq->up)
		return;
	ioq->up = false;
	dn_hq_destroy(&ioq->hq);
}

static void ioq_failed(struct dn_ioq *ioq, const char *why)
{
	struct dn_ctrl *c = ioq->ns->ctrl;

	dn_err("%s: I/O queue %d: %s", c->o.subnqn, ioq->qid, why);
	ioq_down(ioq);
	dn_ctrl_request_reset(c);
}

static void cc_event(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(ev, struct dn_ioq, cc_ev);

	if (!(cqe->flags & IORING_CQE_F_MORE) && !ioq->stopping)
		arm_cc_poll(ioq);
	if (cqe->res < 0 || !ioq->up)
		return;
	if (dn_hq_handle_event(&ioq->hq) < 0)
		ioq_failed(ioq, "the connection failed");
}

static void tick_event(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(ev, struct dn_ioq, tick_ev);
	struct dn_hq *q = &ioq->hq;
	uint16_t i;

	if (ioq->stopping)
		return;
	arm_tick(ioq);
	if (!ioq->up)
		return;
	q->tick++;
	for (i = 0; i < q->depth; i++) {
		struct dn_hq_req *r = &q->reqs[i];

		if (r->state == DN_HQ_REQ_INFLIGHT && q->tick - r->deadline > IO_TIMEOUT_TICKS) {
			dn_err("%s: I/O queue %d: command %u (opcode 0x%02x) timed out",
			       ioq->ns->ctrl->o.subnqn, ioq->qid, r->cid, r->sqe->opcode);
			ioq_failed(ioq, "command timeout");
			return;
		}
	}
}

static void io_done(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st,
		    const struct nvme_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(q, struct dn_ioq, hq);
	uint16_t tag = (uint16_t)r->ctx;
	int res;

	if (NVME_STATUS_SCT(st) == NVME_SCT_PATH && !ioq->stopping &&
	    dn_ctrl_state(ioq->ns->ctrl) != DN_CTRL_DEAD) {
		/* the connection went away under it: send it again on the next one */
		hold(ioq, tag);
		return;
	}
	if (!st)
		res = (r->op == UBLK_IO_OP_READ || r->op == UBLK_IO_OP_WRITE) ? (int)r->len : 0;
	else if (NVME_STATUS_SCT(st) == NVME_SCT_PATH)
		res = -EIO;
	else
		res = nvme_status_to_errno(st);
	if (st)
		dn_dbg("nsid %u tag %u: %s", ioq->ns->info.nsid, tag, nvme_status_str(st));
	dn_ublk_complete(ioq->uq, tag, res);
}

static int build_io(struct dn_ioq *ioq, struct dn_hq_req *r, const struct ublksrv_io_desc *iod,
		    void *buf, uint32_t *incapsule)
{
	const struct dn_ns_info *ns = &ioq->ns->info;
	unsigned int shift = ns->lbs_shift - 9;
	uint64_t slba = iod->start_sector >> shift;
	uint32_t nlb = iod->nr_sectors >> shift;
	uint32_t len = iod->nr_sectors << 9;
	uint8_t op = ublksrv_get_op(iod);
	struct nvme_sqe *sqe = r->sqe;

	*incapsule = 0;
	r->op = op;
	r->len = len;
	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (!nlb || nlb > 65536)
			return -EINVAL;
		dn_sqe_rw(sqe, op == UBLK_IO_OP_WRITE, ns->nsid, slba, nlb);
		if (op == UBLK_IO_OP_WRITE && len <= ioq->hq.incapsule &&
		    len <= DN_INCAPSULE_WRITE_MAX) {
			memcpy(sqe + 1, buf, len);
			nvme_sgl_set_inline(&sqe->common.dptr, 0, len);
			*incapsule = len;
		} else {
			nvme_sgl_set_keyed(&sqe->common.dptr, (uintptr_t)buf, len,
					   ioq->hq.io_mr->rkey, false);
		}
		return 0;
	case UBLK_IO_OP_FLUSH:
		dn_sqe_flush(sqe, ns->nsid);
		nvme_sgl_set_null(&sqe->common.dptr);
		return 0;
	case UBLK_IO_OP_WRITE_ZEROES:
		if (!nlb || nlb > 65536)
			return -EINVAL;
		dn_sqe_write_zeroes(sqe, ns->nsid, slba, nlb);
		nvme_sgl_set_null(&sqe->common.dptr);
		return 0;
	case UBLK_IO_OP_DISCARD: {
		struct nvme_dsm_range *range = (struct nvme_dsm_range *)(sqe + 1);

		if (!nlb)
			return -EINVAL;
		dn_sqe_dsm_deallocate(sqe, ns->nsid, 1);
		dn_dsm_range_set(range, slba, nlb);
		if (ioq->hq.incapsule >= sizeof(*range)) {
			nvme_sgl_set_inline(&sqe->common.dptr, 0, sizeof(*range));
			*incapsule = sizeof(*range);
		} else {
			/* the capsule area is registered remotely readable for this */
			nvme_sgl_set_keyed(&sqe->common.dptr, (uintptr_t)range, sizeof(*range),
					   ioq->hq.cap_mr->rkey, false);
		}
		return 0;
	}
	}
	return -EOPNOTSUPP;
}

/* Send one I/O on the live connection; 0, or -errno to complete it with. */
static int submit_io(struct dn_ioq *ioq, uint16_t tag)
{
	const struct ublksrv_io_desc *iod = &ioq->iods[tag];
	struct dn_hq_req *r;
	uint32_t incapsule;
	int ret;

	/* ublk never has more tags in flight than the queue has slots */
	r = dn_hq_get_req(&ioq->hq);
	if (!r)
		return -EBUSY;
	r->ctx = tag;
	r->done = io_done;
	ret = build_io(ioq, r, iod, ioq->tag_bufs[tag], &incapsule);
	if (!ret)
		ret = dn_hq_submit(&ioq->hq, r, incapsule);
	if (ret) {
		dn_hq_put_req(&ioq->hq, r);
		return ret;
	}
	arm_flush(ioq);
	return 0;
}

static void ioq_queue_io(struct dn_ublk_queue *uq, uint16_t tag,
			 const struct ublksrv_io_desc *iod, void *buf)
{
	struct dn_ioq *ioq = dn_ublk_queue_priv(uq);
	int ret;

	if (!ioq || tag >= ioq->depth) {
		dn_ublk_complete(uq, tag, -EIO);
		return;
	}
	ioq->iods[tag] = *iod;
	ioq->tag_bufs[tag] = buf;
	if (!ioq->up) {
		if (ioq->stopping || dn_ctrl_state(ioq->ns->ctrl) == DN_CTRL_DEAD)
			dn_ublk_complete(uq, tag, -EIO);
		else
			hold(ioq, tag);
		return;
	}
	ret = submit_io(ioq, tag);
	if (ret == -EINVAL || ret == -EOPNOTSUPP) {
		dn_ublk_complete(uq, tag, ret);
	} else if (ret) {
		/* the connection broke under the post: keep the I/O for the next one */
		hold(ioq, tag);
		ioq_failed(ioq, "cannot post a command");
	}
}

/* Connect (or reconnect) this queue's NVMe I/O queue for the controller's current association */
static int ioq_connect(struct dn_ioq *ioq, struct dn_err *e)
{
	struct dn_ctrl *c = ioq->ns->ctrl;
	struct dn_hq_opts ho = {
		.traddr = c->o.traddr,
		.trsvcid = c->o.trsvcid,
		.qid = (uint16_t)ioq->qid,
		.depth = c->caps.queue_size,
		.incapsule = c->caps.incapsule,
		.data_len = IOQ_DATA_LEN,
		.timeout_ms = IOQ_CONNECT_TIMEOUT_MS,
		.cc = ioq->cc,
		.io_buf = ioq->bufs,
		.io_buf_len = ioq->bufs_len,
	};
	uint32_t gen = dn_ctrl_gen(c);
	int ret;

	ret = dn_hq_connect(&ioq->hq, &ho, e);
	if (ret)
		return ret;
	if (!ioq->cc) {
		/* the first connection's channel becomes the queue's, for every later one */
		ioq->cc = ioq->hq.cc;
		ioq->hq.own_cc = false;
	}
	ret = dn_ctrl_fabrics_connect(c, &ioq->hq, 0, e);
	if (ret) {
		dn_hq_destroy(&ioq->hq);
		return ret;
	}
	ioq->hq.batching = true;
	ioq->gen = gen;
	ioq->up = true;
	return 0;
}

static void resubmit_held(struct dn_ioq *ioq)
{
	uint16_t n = ioq->nr_held, i, tags[n ? n : 1];

	memcpy(tags, ioq->held, n * sizeof(*tags));
	ioq->nr_held = 0;
	for (i = 0; i < n; i++) {
		int ret = ioq->up ? submit_io(ioq, tags[i]) : -ENOTCONN;

		if (ret == -EINVAL || ret == -EOPNOTSUPP)
			dn_ublk_complete(ioq->uq, tags[i], ret);
		else if (ret)
			hold(ioq, tags[i]);
	}
}

/* Queue thread, after dn_ns_dev_notify(): follow the controller's state. */
static void ioq_notify(struct dn_ublk_queue *uq)
{
	struct dn_ioq *ioq = dn_ublk_queue_priv(uq);
	struct dn_ctrl *c;
	struct dn_err e = { 0 };

	if (!ioq || ioq->stopping)
		return;
	c = ioq->ns->ctrl;
	switch (dn_ctrl_state(c)) {
	case DN_CTRL_LIVE:
		if (ioq->up && ioq->gen == dn_ctrl_gen(c))
			return;
		ioq_down(ioq);
		if (ioq_connect(ioq, &e)) {
			dn_warn("%s: I/O queue %d: reconnect failed: %s", c->o.subnqn, ioq->qid,
				e.msg);
			dn_ctrl_request_reset(c);
			return;
		}
		dn_info("%s: I/O queue %d reconnected, resending %u commands", c->o.subnqn,
			ioq->qid, ioq->nr_held);
		resubmit_held(ioq);
		return;
	case DN_CTRL_RESETTING:
		ioq_down(ioq);
		return;
	case DN_CTRL_DEAD:
	case DN_CTRL_DELETING:
		ioq_down(ioq);
		fail_held(ioq);
		return;
	case DN_CTRL_NEW:
		return;
	}
}

/* Queue thread, when the device is being removed: nothing may stay held. */
static void ioq_stop(struct dn_ublk_queue *uq)
{
	struct dn_ioq *ioq = dn_ublk_queue_priv(uq);

	if (!ioq)
		return;
	ioq->stopping = true;
	fail_held(ioq);
}

static int ioq_init(struct dn_ublk_queue *uq, void *bufs, size_t len)
{
	struct ns_dev_priv *p = dn_ublk_priv(dn_ublk_queue_dev(uq));
	struct dn_ctrl *c = p->dev.ctrl;
	uint16_t idx = dn_ublk_queue_id(uq);
	struct dn_ioq *ioq = &p->ioqs[idx];
	uint16_t depth = dn_ublk_queue_depth(dn_ublk_queue_dev(uq));
	struct dn_err e = { 0 };
	int ret;

	ioq->ns = &p->dev;
	ioq->uq = uq;
	ioq->bufs = bufs;
	ioq->bufs_len = len;
	ioq->depth = depth;
	ioq->iods = calloc(depth, sizeof(*ioq->iods));
	ioq->tag_bufs = calloc(depth, sizeof(*ioq->tag_bufs));
	ioq->held = calloc(depth, sizeof(*ioq->held));
	if (!ioq->iods || !ioq->tag_bufs || !ioq->held) {
		ret = dn_err_set(&e, -ENOMEM, "out of memory");
		goto out_report;
	}
	ioq->qid = dn_ctrl_alloc_qid(c);
	if (ioq->qid < 0) {
		ret = dn_err_set(&e, ioq->qid, "%s granted no more I/O queues (%u in use)",
				 c->o.subnqn, c->max_qid);
		goto out_report;
	}
	ret = ioq_connect(ioq, &e);
	if (ret)
		goto out_free_qid;
	ioq->cc_ev.cb = cc_event;
	ioq->tick_ev.cb = tick_event;
	ioq->flush_ev.cb = flush_event;
	ioq->tick_ts.tv_sec = 1;
	arm_cc_poll(ioq);
	arm_tick(ioq);
	io_uring_submit(dn_ublk_queue_ring(uq));
	dn_ublk_queue_set_priv(uq, ioq);
	return 0;

out_free_qid:
	dn_ctrl_free_qid(c, ioq->qid);
	ioq->qid = -1;
out_report:
	pthread_mutex_lock(&c->lock);
	dn_err_set(&p->err, ret, "%s", e.msg);
	pthread_mutex_unlock(&c->lock);
	dn_err("queue %u of %s: %s", idx, c->o.subnqn, e.msg);
	return ret;
}

static void ioq_exit(struct dn_ublk_queue *uq)
{
	struct dn_ioq *ioq = dn_ublk_queue_priv(uq);

	if (!ioq)
		return;
	ioq->stopping = true;
	ioq_down(ioq);
	fail_held(ioq);
	dn_ctrl_free_qid(ioq->ns->ctrl, ioq->qid);
	ioq->qid = -1;
	dn_ublk_queue_set_priv(uq, NULL);
}

static const struct dn_ublk_ops ns_ublk_ops = {
	.init_queue = ioq_init,
	.exit_queue = ioq_exit,
	.queue_io = ioq_queue_io,
	.notify = ioq_notify,
	.stop_queue = ioq_stop,
};

static void free_ioqs(struct ns_dev_priv *p)
{
	uint16_t i;

	for (i = 0; i < p->nr_ioqs; i++) {
		struct dn_ioq *ioq = &p->ioqs[i];

		/* after the queue threads and their rings are gone: nothing polls the channel */
		if (ioq->cc)
			dn_ibv_destroy_comp_channel(ioq->cc);
		free(ioq->iods);
		free(ioq->tag_bufs);
		free(ioq->held);
	}
	free(p->ioqs);
}

int dn_ns_dev_create(struct dn_ctrl *c, const struct dn_ns_info *ns, struct dn_ns_dev **out,
		     struct dn_err *e)
{
	struct ns_dev_priv *p;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return dn_err_set(e, -ENOMEM, "out of memory");
	p->dev.ctrl = c;
	p->dev.info = *ns;
	dn_ns_ublk_params(ns, &c->caps, &p->dev.params);
	p->nr_ioqs = p->dev.params.nr_queues;
	p->ioqs = calloc(p->nr_ioqs, sizeof(*p->ioqs));
	if (!p->ioqs) {
		ret = dn_err_set(e, -ENOMEM, "out of memory");
		goto out_free;
	}
	ret = dn_ublk_create(&p->dev.params, &ns_ublk_ops, p, &p->dev.ublk);
	if (ret) {
		if (ret == -ENOENT || ret == -ENODEV)
			dn_err_set(e, ret, "the kernel has no ublk support (/dev/ublk-control is "
				   "missing: modprobe ublk_drv)");
		else
			dn_err_set(e, ret, "creating a ublk device for namespace %u failed: %s",
				   ns->nsid, strerror(-ret));
		goto out_free;
	}
	ret = dn_ublk_start(p->dev.ublk);
	if (ret) {
		pthread_mutex_lock(&c->lock);
		if (p->err.msg[0])
			dn_err_set(e, ret, "%s", p->err.msg);
		pthread_mutex_unlock(&c->lock);
		dn_err_set(e, ret, "starting the ublk device for namespace %u failed: %s",
			   ns->nsid, strerror(-ret));
		goto out_delete;
	}
	p->dev.dev_id = dn_ublk_dev_id(p->dev.ublk);
	*out = &p->dev;
	return 0;

out_delete:
	dn_ublk_stop_and_delete(p->dev.ublk);
out_free:
	free_ioqs(p);
	free(p);
	return ret;
}

void dn_ns_dev_destroy(struct dn_ns_dev *d)
{
	struct ns_dev_priv *p = container_of(d, struct ns_dev_priv, dev);

	dn_ublk_stop_and_delete(d->ublk);
	free_ioqs(p);
	free(p);
}

void dn_ns_dev_notify(struct dn_ns_dev *d)
{
	uint16_t i, n = dn_ublk_nr_queues(d->ublk);

	for (i = 0; i < n; i++)
		dn_ublk_queue_notify(dn_ublk_queue(d->ublk, i));
}
