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

struct dn_ioq {
	struct dn_hq hq;
	struct dn_ns_dev *ns;
	struct dn_ublk_queue *uq;
	struct ibv_mr *buf_mr;
	int qid;
	bool up;
	struct dn_event cc_ev;
	struct dn_event tick_ev;
	struct __kernel_timespec tick_ts;
	unsigned int ticks_since_fail;
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
	io_uring_prep_poll_add(sqe, ioq->hq.cc->fd, POLLIN);
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

static void cc_event(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(ev, struct dn_ioq, cc_ev);

	if (!ioq->up)
		return;
	if (dn_hq_handle_event(&ioq->hq) < 0 && !ioq->ticks_since_fail)
		dn_err("%s: I/O queue %d failed", ioq->ns->ctrl->o.subnqn, ioq->qid);
	arm_cc_poll(ioq);
}

static void tick_event(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(ev, struct dn_ioq, tick_ev);
	struct dn_hq *q = &ioq->hq;
	uint16_t i;

	if (!ioq->up)
		return;
	q->tick++;
	if (q->failed) {
		/* the QP is in error; after a tick its flushes are in: nothing may stay pending */
		if (++ioq->ticks_since_fail >= 2)
			dn_hq_abort_all(q);
	} else {
		for (i = 0; i < q->depth; i++) {
			struct dn_hq_req *r = &q->reqs[i];

			if (r->state == DN_HQ_REQ_INFLIGHT &&
			    q->tick - r->deadline > IO_TIMEOUT_TICKS) {
				dn_err("%s: I/O queue %d: command %u (opcode 0x%02x) timed out, "
				       "failing the queue", ioq->ns->ctrl->o.subnqn, ioq->qid,
				       r->cid, r->sqe->opcode);
				dn_hq_fail(q);
				break;
			}
		}
	}
	arm_tick(ioq);
}

static void io_done(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st,
		    const struct nvme_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(q, struct dn_ioq, hq);
	int res;

	if (!st)
		res = (r->op == UBLK_IO_OP_READ || r->op == UBLK_IO_OP_WRITE) ? (int)r->len : 0;
	else if (NVME_STATUS_SCT(st) == NVME_SCT_PATH)
		res = -EIO;
	else
		res = nvme_status_to_errno(st);
	if (st)
		dn_dbg("nsid %u tag %lu: %s", ioq->ns->info.nsid, (unsigned long)r->ctx,
		       nvme_status_str(st));
	dn_ublk_complete(ioq->uq, (uint16_t)r->ctx, res);
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
					   ioq->buf_mr->rkey, false);
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

static void ioq_queue_io(struct dn_ublk_queue *uq, uint16_t tag,
			 const struct ublksrv_io_desc *iod, void *buf)
{
	struct dn_ioq *ioq = dn_ublk_queue_priv(uq);
	struct dn_hq_req *r;
	uint32_t incapsule;
	int ret;

	if (!ioq || ioq->hq.failed) {
		dn_ublk_complete(uq, tag, -EIO);
		return;
	}
	/* ublk never has more tags in flight than the queue has slots */
	r = dn_hq_get_req(&ioq->hq);
	if (!r) {
		dn_ublk_complete(uq, tag, -EBUSY);
		return;
	}
	r->ctx = tag;
	r->done = io_done;
	ret = build_io(ioq, r, iod, buf, &incapsule);
	if (!ret)
		ret = dn_hq_submit(&ioq->hq, r, incapsule);
	if (ret) {
		dn_hq_put_req(&ioq->hq, r);
		dn_ublk_complete(uq, tag, ret);
	}
}

static int ioq_init(struct dn_ublk_queue *uq, void *bufs, size_t len)
{
	struct ns_dev_priv *p = dn_ublk_priv(dn_ublk_queue_dev(uq));
	struct dn_ctrl *c = p->dev.ctrl;
	uint16_t idx = dn_ublk_queue_id(uq);
	struct dn_ioq *ioq = &p->ioqs[idx];
	struct dn_hq_opts ho = {
		.traddr = c->o.traddr,
		.trsvcid = c->o.trsvcid,
		.depth = c->caps.queue_size,
		.incapsule = c->caps.incapsule,
		.data_len = IOQ_DATA_LEN,
		.timeout_ms = IOQ_CONNECT_TIMEOUT_MS,
	};
	struct dn_err e = { 0 };
	int ret;

	ioq->ns = &p->dev;
	ioq->uq = uq;
	ioq->qid = dn_ctrl_alloc_qid(c);
	if (ioq->qid < 0) {
		ret = dn_err_set(&e, ioq->qid, "%s granted no more I/O queues (%u in use)",
				 c->o.subnqn, c->max_qid);
		goto out_report;
	}
	ho.qid = (uint16_t)ioq->qid;
	ret = dn_hq_connect(&ioq->hq, &ho, &e);
	if (ret)
		goto out_free_qid;
	ret = dn_ctrl_fabrics_connect(c, &ioq->hq, 0, &e);
	if (ret)
		goto out_destroy_hq;
	ret = dn_ibv_reg_mr(ioq->hq.pd, bufs, len, IBV_ACCESS_LOCAL_WRITE |
			    IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE, &ioq->buf_mr);
	if (ret) {
		dn_err_set(&e, ret, "registering %zu bytes of ublk buffers: %s", len,
			   strerror(-ret));
		goto out_destroy_hq;
	}
	ioq->cc_ev.cb = cc_event;
	ioq->tick_ev.cb = tick_event;
	ioq->tick_ts.tv_sec = 1;
	ioq->up = true;
	arm_cc_poll(ioq);
	arm_tick(ioq);
	io_uring_submit(dn_ublk_queue_ring(uq));
	dn_ublk_queue_set_priv(uq, ioq);
	return 0;

out_destroy_hq:
	dn_hq_destroy(&ioq->hq);
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
	ioq->up = false;
	dn_hq_destroy(&ioq->hq);
	if (ioq->buf_mr)
		dn_ibv_dereg_mr(ioq->buf_mr);
	ioq->buf_mr = NULL;
	dn_ctrl_free_qid(ioq->ns->ctrl, ioq->qid);
	ioq->qid = -1;
	dn_ublk_queue_set_priv(uq, NULL);
}

static const struct dn_ublk_ops ns_ublk_ops = {
	.init_queue = ioq_init,
	.exit_queue = ioq_exit,
	.queue_io = ioq_queue_io,
};

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
	free(p->ioqs);
	free(p);
	return ret;
}

void dn_ns_dev_destroy(struct dn_ns_dev *d)
{
	struct ns_dev_priv *p = container_of(d, struct ns_dev_priv, dev);

	dn_ublk_stop_and_delete(d->ublk);
	free(p->ioqs);
	free(p);
}
