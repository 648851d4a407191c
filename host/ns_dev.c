// SPDX-License-Identifier: MIT
/*
 * Namespaces as ublk devices: Identify Namespace to ublk parameters, and the ublk backend
 * (dn_ublk_ops) that turns each ublk request into one NVMe command on an NVMe/RDMA I/O queue
 * owned by that ublk queue's thread. The queue's whole ublk buffer area is registered with
 * each connection, so Read and Write carry a keyed SGL pointing straight at the ublk buffer
 * (zero copy); small writes travel in the capsule when the controller has room for them.
 *
 * Multipath: a namespace that two controllers of one subsystem show (same NGUID, else UUID,
 * else EUI-64) is one device with one path per controller; every ublk queue has an I/O queue on
 * each path and spreads I/O over the live ones. A path that goes down hands what it had in
 * flight to the others; with no live path, I/O is held until one comes back.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/rdma_util.h"
#include "host/ctrl.h"
#include "host/nvmf_cmd.h"
#include "host/ns_dev.h"

#define IOQ_CONNECT_TIMEOUT_MS 3000
/* A command with no answer after this many one-second ticks has timed out */
#define IO_TIMEOUT_TICKS 30
#define IOQ_DATA_LEN	 NVME_CONNECT_DATA_SIZE

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
	/* ublk (as the block layer on 4 KiB pages) takes 512 B..4 KiB logical blocks */
	if (ds < 9 || ds > 12)
		return dn_err_set(e, -EINVAL,
				  "namespace %u: logical block size 2^%u is not usable for a ublk "
				  "block device (512 B to 4 KiB)",
				  nsid, ds);
	if (le16toh(id->lbaf[fmt].ms) && (id->flbas & NVME_NS_FLBAS_META_EXT))
		return dn_err_set(e, -EINVAL,
				  "namespace %u: extended-LBA metadata is not "
				  "supported",
				  nsid);
	out->nsid = nsid;
	out->nsze = le64toh(id->nsze);
	out->lbs_shift = ds;
	out->read_only = id->nsattr & 1;
	memcpy(out->nguid, id->nguid, sizeof(out->nguid));
	memcpy(out->eui64, id->eui64, sizeof(out->eui64));
	if (!out->nsze)
		return dn_err_set(e, -EINVAL, "namespace %u has no capacity", nsid);
	/* the kernel keeps a device's size in bytes in a signed 64-bit loff_t */
	if (out->nsze > (uint64_t)INT64_MAX >> ds)
		return dn_err_set(e, -EINVAL,
				  "namespace %u: %llu blocks of 2^%u bytes are too large for a "
				  "block device",
				  nsid, (unsigned long long)out->nsze, ds);
	return 0;
}

static bool id_nonzero(const uint8_t *id, size_t n)
{
	while (n--)
		if (id[n])
			return true;
	return false;
}

int dn_ns_descs_parse(const void *buf, size_t len, struct dn_ns_info *info)
{
	const uint8_t *b = buf;
	size_t off = 0;

	while (off + 4 <= len) {
		uint8_t type = b[off], nidl = b[off + 1];
		const uint8_t *nid = b + off + 4;

		if (!type)
			return 0; /* the list ends at the first zero type */
		if (off + 4 + nidl > len)
			return -EPROTO;
		switch (type) {
		case NVME_NIDT_EUI64:
			if (nidl != NVME_NIDT_EUI64_LEN)
				return -EPROTO;
			if (!id_nonzero(info->eui64, sizeof(info->eui64)))
				memcpy(info->eui64, nid, nidl);
			break;
		case NVME_NIDT_NGUID:
			if (nidl != NVME_NIDT_NGUID_LEN)
				return -EPROTO;
			if (!id_nonzero(info->nguid, sizeof(info->nguid)))
				memcpy(info->nguid, nid, nidl);
			break;
		case NVME_NIDT_UUID:
			if (nidl != NVME_NIDT_UUID_LEN)
				return -EPROTO;
			memcpy(info->uuid, nid, nidl);
			break;
		default:
			break; /* CSI and future types: skip */
		}
		off += 4 + nidl;
	}
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

#define DN_MAX_PATHS 4

struct dn_uq;

/*
 * One path's NVMe I/O queue on one ublk queue. Its connection comes and goes with the
 * controller's association, and its completion channel with it: a channel belongs to the
 * device its connection went through, which may be gone (removed, reset) at the next one.
 */
struct dn_ioq {
	struct dn_hq hq;
	struct dn_uq *q;
	struct dn_ctrl *ctrl;	     /* the path this slot serves; NULL: unused */
	struct ibv_comp_channel *cc; /* hq's, while up: what the multishot poll watches */
	int qid;
	bool up;	   /* hq is connected and usable */
	uint32_t max_xfer; /* bytes one command may move on this association (MDTS) */
	bool polling;	   /* a multishot poll is armed (on cc, or on a channel gone with its hq) */
	bool cancelling;   /* the poll is being removed: the slot is not free yet */
	uint32_t gen;	   /* the controller association hq belongs to */
	struct dn_event cc_ev;
};

/* One ublk hardware queue: its paths, held I/O and per-tag bookkeeping (queue thread only) */
struct dn_uq {
	struct ns_dev_priv *p;
	struct dn_ublk_queue *uq;
	struct dn_ioq paths[DN_MAX_PATHS];
	void *bufs;
	size_t bufs_len;
	bool stopping;	 /* the device is going away: fail instead of holding */
	unsigned int rr; /* round robin over live paths */
	uint32_t seen_paths_gen;
	struct dn_event tick_ev;
	struct __kernel_timespec tick_ts;
	bool need_flush; /* commands were chained this pass: ioq_flush posts them */
	/* per tag: a copy of what queue_io got (iod may not outlive the call), to send again */
	struct ublksrv_io_desc *iods;
	void **tag_bufs;
	/*
	 * A read or write larger than the path's MDTS (a path, or a reconnect, with a smaller
	 * one than the device was made with) goes as several commands, one after the other:
	 * tag_off is where the one in flight starts; a tag whose next piece is due waits in
	 * cont until the pass's completions are reaped (its slot is free by then).
	 */
	uint32_t *tag_off;
	uint16_t *cont;
	uint16_t nr_cont;
	/*
	 * Tags waiting for a command slot: a path (or a reconnect) whose queue is smaller than
	 * the device's depth has fewer slots than ublk has tags. Tried again, in order, once a
	 * pass's completions are reaped.
	 */
	uint16_t *waiting;
	uint16_t nr_waiting;
	uint16_t *held;
	uint16_t nr_held, depth;
};

/* the device-wide state behind the public dn_ns_dev */
struct ns_dev_priv {
	struct dn_ns_dev dev;
	char subnqn[NVME_NQN_LENGTH];
	struct dn_uq *uqs;
	uint16_t nr_uqs;
	pthread_mutex_t lock; /* paths, paths_gen, the queues' seen_paths_gen, err */
	pthread_cond_t cond;
	struct dn_ctrl *paths[DN_MAX_PATHS];
	uint32_t paths_gen;
	struct dn_err err;	  /* the first queue setup failure, for the connect reply */
	struct ns_dev_priv *next; /* in the registry of devices */
};

/* every device of this process, to find the one a second path belongs to */
static struct ns_dev_priv *registry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the I/O path (ublk queue thread) ---- */

static bool path_live(struct dn_ioq *ioq)
{
	return ioq->ctrl && ioq->up;
}

static bool any_path_up(struct dn_uq *q)
{
	int i;

	for (i = 0; i < DN_MAX_PATHS; i++)
		if (path_live(&q->paths[i]))
			return true;
	return false;
}

/* true while I/O may wait for some path to come back (controller.h: dn_ctrl_may_hold_io) */
static bool any_path_hope(struct dn_uq *q)
{
	int i;

	for (i = 0; i < DN_MAX_PATHS; i++) {
		struct dn_ctrl *c = q->paths[i].ctrl;

		if (c && dn_ctrl_may_hold_io(c))
			return true;
	}
	return false;
}

static struct dn_ioq *pick_path(struct dn_uq *q)
{
	int i;

	for (i = 0; i < DN_MAX_PATHS; i++) {
		struct dn_ioq *ioq = &q->paths[(q->rr + i) % DN_MAX_PATHS];

		if (path_live(ioq)) {
			q->rr = (q->rr + i + 1) % DN_MAX_PATHS;
			return ioq;
		}
	}
	return NULL;
}

static void arm_cc_poll(struct dn_ioq *ioq)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(dn_ublk_queue_ring(ioq->q->uq));

	if (!sqe) {
		dn_err("queue %d: io_uring full, cannot poll the completion channel", ioq->qid);
		return;
	}
	/* multishot: one poll for the connection's life */
	io_uring_prep_poll_multishot(sqe, ioq->cc->fd, POLLIN);
	dn_event_set(sqe, &ioq->cc_ev);
	ioq->polling = true;
}

static void arm_tick(struct dn_uq *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(dn_ublk_queue_ring(q->uq));

	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &q->tick_ts, 0, 0);
	dn_event_set(sqe, &q->tick_ev);
}

static void ioq_failed(struct dn_ioq *ioq, const char *why);
static void start_io(struct dn_uq *q, uint16_t tag);

/* Start again the tags of a list (held, waiting or cont): each may land on a list again. */
static void restart_list(struct dn_uq *q, uint16_t *list, uint16_t *nr)
{
	uint16_t n = *nr, i, tags[n ? n : 1];

	memcpy(tags, list, n * sizeof(*tags));
	*nr = 0;
	for (i = 0; i < n; i++)
		start_io(q, tags[i]);
}

/*
 * Sends are chained while the queue thread works through a pass of ublk requests and posted
 * with one doorbell per path (one system call with rxe) at the end of the pass, before the
 * thread waits again. The CQs are reaped there too, so answers that are already in do not
 * wait for the completion channel.
 */
static void ioq_flush(struct dn_ublk_queue *uq)
{
	struct dn_uq *q = dn_ublk_queue_priv(uq);
	int i;

	if (!q)
		return;
	/* reaping frees slots and may finish a piece whose request has more to go: use them */
	while (q->need_flush) {
		q->need_flush = false;
		restart_list(q, q->waiting, &q->nr_waiting);
		restart_list(q, q->cont, &q->nr_cont);
		for (i = 0; i < DN_MAX_PATHS; i++) {
			struct dn_ioq *ioq = &q->paths[i];

			if (path_live(ioq) &&
			    (dn_hq_flush(&ioq->hq) || dn_hq_process(&ioq->hq) < 0))
				ioq_failed(ioq, "the connection failed");
		}
	}
}

/* a held I/O is sent again whole: the pieces already done may not be where it goes next */
static void hold(struct dn_uq *q, uint16_t tag)
{
	q->tag_off[tag] = 0;
	q->held[q->nr_held++] = tag;
}

static void fail_held(struct dn_uq *q)
{
	while (q->nr_held)
		dn_ublk_complete(q->uq, q->held[--q->nr_held], -EIO);
	while (q->nr_cont)
		dn_ublk_complete(q->uq, q->cont[--q->nr_cont], -EIO);
	while (q->nr_waiting)
		dn_ublk_complete(q->uq, q->waiting[--q->nr_waiting], -EIO);
}

/*
 * Remove the slot's poll. Its CQE (without IORING_CQE_F_MORE) comes back through cc_event,
 * which frees the slot. Until the ring has taken this, the ring holds the channel's file, and
 * with it the RDMA device: a device being removed waits for that.
 */
static void ioq_cancel_poll(struct dn_ioq *ioq)
{
	struct io_uring *ring = dn_ublk_queue_ring(ioq->q->uq);
	struct io_uring_sqe *sqe;

	if (!ioq->polling || ioq->cancelling)
		return;
	sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	if (!sqe) {
		dn_err("queue %d: io_uring full, cannot remove the completion channel's poll",
		       ioq->qid);
		return;
	}
	/*
	 * Not IORING_OP_POLL_REMOVE: while the poll has a wakeup pending (the flushes of the
	 * dying QP just signalled the channel) it answers -EALREADY and the multishot poll goes
	 * on. A cancel marks it, and the pending wakeup ends it.
	 */
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&ioq->cc_ev, 0);
	io_uring_sqe_set_data(sqe, NULL);
	ioq->cancelling = true;
}

/*
 * Drop a path's connection and its completion channel (the poll on it first); what it had in
 * flight comes back through io_done and is held.
 */
static void ioq_down(struct dn_ioq *ioq)
{
	if (!ioq->up)
		return;
	ioq->up = false;
	ioq_cancel_poll(ioq);
	ioq->cc = NULL;
	dn_hq_destroy(&ioq->hq);
}

static void ioq_failed(struct dn_ioq *ioq, const char *why)
{
	struct dn_ctrl *c = ioq->ctrl;

	dn_err("%s: I/O queue %d: %s", c->o.subnqn, ioq->qid, why);
	ioq_down(ioq);
	dn_ctrl_request_reset(c);
	/* another path may take over what this one held */
	if (any_path_up(ioq->q))
		restart_list(ioq->q, ioq->q->held, &ioq->q->nr_held);
}

static void uq_sync(struct dn_uq *q);

static void cc_event(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(ev, struct dn_ioq, cc_ev);

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		ioq->polling = false;
		if (ioq->cancelling) {
			/* the old connection's poll is gone: free the slot, or poll the new one */
			ioq->cancelling = false;
			if (ioq->cc && !ioq->q->stopping)
				arm_cc_poll(ioq);
			uq_sync(ioq->q);
			return;
		}
		if (!ioq->q->stopping && ioq->cc)
			arm_cc_poll(ioq);
	}
	/* a poll being removed may still report its old connection's channel */
	if (cqe->res < 0 || ioq->cancelling || !path_live(ioq))
		return;
	if (dn_hq_handle_event(&ioq->hq) < 0)
		ioq_failed(ioq, "the connection failed");
}

static void tick_event(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_uq *q = container_of(ev, struct dn_uq, tick_ev);
	int i, ret;
	uint16_t t;

	if (q->stopping)
		return;
	arm_tick(q);
	for (i = 0; i < DN_MAX_PATHS; i++) {
		struct dn_ioq *ioq = &q->paths[i];
		struct dn_hq *hq = &ioq->hq;

		if (!path_live(ioq))
			continue;
		/*
		 * The target may close one queue alone (nvmet-rdma does on a work-request error):
		 * an idle queue would not notice until its next command failed its retries.
		 */
		ret = dn_hq_cm_check(hq);
		if (ret) {
			ioq_failed(ioq, ret == -ENODEV ? "the local RDMA device is being removed"
						       : "the target closed the connection");
			continue;
		}
		hq->tick++;
		for (t = 0; t < hq->depth; t++) {
			struct dn_hq_req *r = &hq->reqs[t];

			if (r->state == DN_HQ_REQ_INFLIGHT &&
			    hq->tick - r->deadline > IO_TIMEOUT_TICKS) {
				dn_err("%s: I/O queue %d: command %u (opcode 0x%02x) timed out",
				       ioq->ctrl->o.subnqn, ioq->qid, r->cid, r->sqe->opcode);
				ioq_failed(ioq, "command timeout");
				break;
			}
		}
	}
}

static void io_done(struct dn_hq *hq, struct dn_hq_req *r, nvme_status_t st,
		    const struct nvme_cqe *cqe)
{
	struct dn_ioq *ioq = container_of(hq, struct dn_ioq, hq);
	struct dn_uq *q = ioq->q;
	uint16_t tag = (uint16_t)r->ctx;
	int res;

	/* this slot is free once this returns: a tag waiting for one goes in the flush */
	if (q->nr_waiting)
		q->need_flush = true;
	if (NVME_STATUS_SCT(st) == NVME_SCT_PATH && !q->stopping && any_path_hope(q)) {
		/* the connection went away under it: send it again on the next one */
		hold(q, tag);
		return;
	}
	if (!st && (r->op == UBLK_IO_OP_READ || r->op == UBLK_IO_OP_WRITE)) {
		uint32_t len = q->iods[tag].nr_sectors << 9;

		q->tag_off[tag] += r->len;
		if (q->tag_off[tag] < len) {
			/* the next piece goes once this pass's completions are reaped */
			q->cont[q->nr_cont++] = tag;
			q->need_flush = true;
			return;
		}
		res = (int)len;
	} else if (!st)
		res = 0;
	else if (NVME_STATUS_SCT(st) == NVME_SCT_PATH)
		res = -EIO;
	else
		res = nvme_status_to_errno(st);
	if (st)
		dn_dbg("nsid %u tag %u: %s", q->p->dev.info.nsid, tag, nvme_status_str(st));
	dn_ublk_complete(q->uq, tag, res);
}

/* The command for a tag's request; a read or write from byte off, at most the path's MDTS. */
static int build_io(struct dn_ioq *ioq, struct dn_hq_req *r, const struct ublksrv_io_desc *iod,
		    void *buf, uint32_t off, uint32_t *incapsule)
{
	const struct dn_ns_info *ns = &ioq->q->p->dev.info;
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
		if (off || len > ioq->max_xfer) {
			uint32_t piece;

			if (off >= len)
				return -EINVAL;
			piece = len - off;
			if (piece > ioq->max_xfer)
				piece = ioq->max_xfer >> ns->lbs_shift << ns->lbs_shift;
			/* an MDTS below one block (never: MDTS counts in pages of 4 KiB or more) */
			if (!piece)
				return -EINVAL;
			slba += off >> ns->lbs_shift;
			nlb = piece >> ns->lbs_shift;
			buf = (char *)buf + off;
			len = r->len = piece;
		}
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

/* Send one I/O (or its next piece) on a live path: 0; -EINVAL/-EOPNOTSUPP to complete it
 * with; -EAGAIN: no free slot, wait for one; else hold it. */
static int submit_io(struct dn_uq *q, uint16_t tag)
{
	struct dn_ioq *ioq = pick_path(q);
	struct dn_hq_req *r;
	uint32_t incapsule;
	int ret;

	if (!ioq)
		return -ENOTCONN;
	r = dn_hq_get_req(&ioq->hq);
	if (!r)
		return -EAGAIN;
	r->ctx = tag;
	r->done = io_done;
	ret = build_io(ioq, r, &q->iods[tag], q->tag_bufs[tag], q->tag_off[tag], &incapsule);
	if (!ret)
		ret = dn_hq_submit(&ioq->hq, r, incapsule);
	if (ret) {
		dn_hq_put_req(&ioq->hq, r);
		if (ret != -EINVAL && ret != -EOPNOTSUPP)
			ioq_failed(ioq, "cannot post a command");
		return ret;
	}
	q->need_flush = true;
	return 0;
}

static void start_io(struct dn_uq *q, uint16_t tag)
{
	int ret = submit_io(q, tag);

	if (ret == -EINVAL || ret == -EOPNOTSUPP)
		dn_ublk_complete(q->uq, tag, ret);
	else if (ret == -EAGAIN && !q->stopping)
		q->waiting[q->nr_waiting++] = tag;
	else if (ret && (q->stopping || !any_path_hope(q)))
		dn_ublk_complete(q->uq, tag, -EIO);
	else if (ret)
		hold(q, tag);
}

static void ioq_queue_io(struct dn_ublk_queue *uq, uint16_t tag, const struct ublksrv_io_desc *iod,
			 void *buf)
{
	struct dn_uq *q = dn_ublk_queue_priv(uq);

	if (!q || tag >= q->depth) {
		dn_ublk_complete(uq, tag, -EIO);
		return;
	}
	q->iods[tag] = *iod;
	q->tag_bufs[tag] = buf;
	q->tag_off[tag] = 0;
	start_io(q, tag);
}

/* Connect (or reconnect) a path's NVMe I/O queue for its controller's current association */
static int ioq_connect(struct dn_ioq *ioq, struct dn_err *e)
{
	struct dn_ctrl *c = ioq->ctrl;
	struct dn_hq_opts ho = {
		.traddr = c->o.traddr,
		.trsvcid = c->o.trsvcid,
		.host_traddr = c->o.host_traddr,
		.depth = ioq->q->depth,
		.data_len = IOQ_DATA_LEN,
		.timeout_ms = IOQ_CONNECT_TIMEOUT_MS,
		.io_buf = ioq->q->bufs,
		.io_buf_len = ioq->q->bufs_len,
	};
	uint32_t gen = dn_ctrl_gen(c);
	struct dn_ctrl_caps caps;
	uint16_t max_qid;
	int ret;

	/* the association's own limits: a reconnect may be changing them right now */
	dn_ctrl_caps_get(c, &caps, &max_qid);
	ho.incapsule = caps.incapsule;
	/* a smaller queue than the device's depth: tags wait for its slots (dn_uq.waiting) */
	if (caps.queue_size < ho.depth)
		ho.depth = caps.queue_size;
	ioq->max_xfer = caps.max_xfer;
	if (ioq->qid < 0) {
		ioq->qid = dn_ctrl_alloc_qid(c);
		if (ioq->qid < 0)
			return dn_err_set(e, ioq->qid, "%s granted no more I/O queues (%u in use)",
					  c->o.subnqn, max_qid);
	}
	ho.qid = (uint16_t)ioq->qid;
	ret = dn_hq_connect(&ioq->hq, &ho, e);
	if (ret)
		return ret;
	ret = dn_ctrl_fabrics_connect(c, &ioq->hq, 0, e);
	if (ret) {
		dn_hq_destroy(&ioq->hq);
		return ret;
	}
	ioq->cc = ioq->hq.cc;
	/* while the last connection's poll is being removed, its end arms this one's */
	if (!ioq->polling)
		arm_cc_poll(ioq);
	ioq->hq.batching = true;
	ioq->gen = gen;
	ioq->up = true;
	if (ioq->max_xfer < ioq->q->p->dev.params.max_io_bytes)
		dn_notice("%s: I/O queue %d (path %s:%s) moves at most %u bytes per command, "
			  "/dev/ublkb%d takes %u: larger requests go in pieces",
			  c->o.subnqn, ioq->qid, c->o.traddr, c->o.trsvcid, ioq->max_xfer,
			  ioq->q->p->dev.dev_id, ioq->q->p->dev.params.max_io_bytes);
	if (ho.depth < ioq->q->depth)
		dn_notice("%s: I/O queue %d (path %s:%s) has %u slots for the %u requests "
			  "/dev/ublkb%d may have in flight: the others wait",
			  c->o.subnqn, ioq->qid, c->o.traddr, c->o.trsvcid, ho.depth, ioq->q->depth,
			  ioq->q->p->dev.dev_id);
	return 0;
}

/* A path leaves the device: drop its connection (and channel), give its qid back. */
static void ioq_detach(struct dn_ioq *ioq)
{
	ioq_down(ioq);
	if (ioq->qid >= 0)
		dn_ctrl_free_qid(ioq->ctrl, ioq->qid);
	ioq->qid = -1;
	ioq->ctrl = NULL;
}

/* Make one path follow its controller's state. */
static void ioq_follow(struct dn_ioq *ioq)
{
	struct dn_ctrl *c = ioq->ctrl;
	struct dn_err e = {0};

	switch (dn_ctrl_state(c)) {
	case DN_CTRL_LIVE:
		if (ioq->up && ioq->gen == dn_ctrl_gen(c))
			return;
		ioq_down(ioq);
		if (ioq_connect(ioq, &e)) {
			dn_warn("%s: I/O queue %d: connect failed: %s", c->o.subnqn, ioq->qid,
				e.msg);
			dn_ctrl_request_reset(c);
			return;
		}
		dn_info("%s: I/O queue %d connected (path %s:%s), %u commands waiting", c->o.subnqn,
			ioq->qid, c->o.traddr, c->o.trsvcid, ioq->q->nr_held);
		return;
	case DN_CTRL_RESETTING:
	case DN_CTRL_DEAD:
	case DN_CTRL_DELETING:
		ioq_down(ioq);
		return;
	case DN_CTRL_NEW:
		return;
	}
}

/* Queue thread: apply the device's path list and every path's controller state. */
static void uq_sync(struct dn_uq *q)
{
	struct ns_dev_priv *p = q->p;
	struct dn_ctrl *want[DN_MAX_PATHS];
	uint32_t gen;
	int i;

	if (q->stopping)
		return;
	pthread_mutex_lock(&p->lock);
	memcpy(want, p->paths, sizeof(want));
	gen = p->paths_gen;
	pthread_mutex_unlock(&p->lock);

	for (i = 0; i < DN_MAX_PATHS; i++) {
		struct dn_ioq *ioq = &q->paths[i];

		if (ioq->ctrl && ioq->ctrl != want[i])
			ioq_detach(ioq);
		if (!ioq->ctrl && want[i] && !ioq->cancelling) {
			ioq->ctrl = want[i];
			ioq->qid = -1;
		}
		if (ioq->ctrl)
			ioq_follow(ioq);
	}
	if (any_path_up(q))
		restart_list(q, q->held, &q->nr_held);
	else if (!any_path_hope(q))
		fail_held(q);

	pthread_mutex_lock(&p->lock);
	q->seen_paths_gen = gen;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void ioq_notify(struct dn_ublk_queue *uq)
{
	struct dn_uq *q = dn_ublk_queue_priv(uq);

	if (q)
		uq_sync(q);
}

/* Queue thread, when the device is being removed: nothing may stay held. */
static void ioq_stop(struct dn_ublk_queue *uq)
{
	struct dn_uq *q = dn_ublk_queue_priv(uq);

	if (!q)
		return;
	q->stopping = true;
	fail_held(q);
}

static int ioq_init(struct dn_ublk_queue *uq, void *bufs, size_t len)
{
	struct ns_dev_priv *p = dn_ublk_priv(dn_ublk_queue_dev(uq));
	uint16_t idx = dn_ublk_queue_id(uq);
	struct dn_uq *q = &p->uqs[idx];
	uint16_t depth = dn_ublk_queue_depth(dn_ublk_queue_dev(uq));
	struct dn_err e = {0};
	int i, ret = 0, up = 0;

	q->p = p;
	q->uq = uq;
	q->bufs = bufs;
	q->bufs_len = len;
	q->depth = depth;
	q->iods = calloc(depth, sizeof(*q->iods));
	q->tag_bufs = calloc(depth, sizeof(*q->tag_bufs));
	q->held = calloc(depth, sizeof(*q->held));
	q->tag_off = calloc(depth, sizeof(*q->tag_off));
	q->cont = calloc(depth, sizeof(*q->cont));
	q->waiting = calloc(depth, sizeof(*q->waiting));
	if (!q->iods || !q->tag_bufs || !q->held || !q->tag_off || !q->cont || !q->waiting) {
		ret = dn_err_set(&e, -ENOMEM, "out of memory");
		goto out_report;
	}
	q->tick_ev.cb = tick_event;
	q->tick_ts.tv_sec = 1;
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < DN_MAX_PATHS; i++) {
		q->paths[i].q = q;
		q->paths[i].qid = -1;
		q->paths[i].cc_ev.cb = cc_event;
		q->paths[i].ctrl = p->paths[i];
	}
	q->seen_paths_gen = p->paths_gen;
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < DN_MAX_PATHS; i++) {
		struct dn_ioq *ioq = &q->paths[i];

		if (!ioq->ctrl)
			continue;
		ret = ioq_connect(ioq, &e);
		if (!ret)
			up++;
	}
	if (!up)
		goto out_report;
	arm_tick(q);
	io_uring_submit(dn_ublk_queue_ring(uq));
	dn_ublk_queue_set_priv(uq, q);
	return 0;

out_report:
	for (i = 0; i < DN_MAX_PATHS; i++)
		if (q->paths[i].ctrl && q->paths[i].qid >= 0)
			dn_ctrl_free_qid(q->paths[i].ctrl, q->paths[i].qid);
	pthread_mutex_lock(&p->lock);
	dn_err_set(&p->err, ret ? ret : -EIO, "%s", e.msg);
	pthread_mutex_unlock(&p->lock);
	dn_err("queue %u of namespace %u: %s", idx, p->dev.info.nsid, e.msg);
	return ret ? ret : -EIO;
}

static void ioq_exit(struct dn_ublk_queue *uq)
{
	struct dn_uq *q = dn_ublk_queue_priv(uq);
	int i;

	if (!q)
		return;
	q->stopping = true;
	for (i = 0; i < DN_MAX_PATHS; i++) {
		struct dn_ioq *ioq = &q->paths[i];

		ioq_down(ioq);
		if (ioq->ctrl && ioq->qid >= 0)
			dn_ctrl_free_qid(ioq->ctrl, ioq->qid);
		ioq->qid = -1;
	}
	fail_held(q);
	dn_ublk_queue_set_priv(uq, NULL);
}

static const struct dn_ublk_ops ns_ublk_ops = {
	.init_queue = ioq_init,
	.exit_queue = ioq_exit,
	.queue_io = ioq_queue_io,
	.notify = ioq_notify,
	.stop_queue = ioq_stop,
	.flush = ioq_flush,
};

static void free_uqs(struct ns_dev_priv *p)
{
	uint16_t i;
	int j;

	for (i = 0; i < p->nr_uqs; i++) {
		struct dn_uq *q = &p->uqs[i];

		/* after the queue threads and their rings are gone: a connection left up goes */
		for (j = 0; j < DN_MAX_PATHS; j++)
			dn_hq_destroy(&q->paths[j].hq);
		free(q->iods);
		free(q->tag_bufs);
		free(q->held);
		free(q->tag_off);
		free(q->cont);
		free(q->waiting);
	}
	free(p->uqs);
}

int dn_ns_dev_create(struct dn_ctrl *c, const struct dn_ns_info *ns, struct dn_ns_dev **out,
		     struct dn_err *e)
{
	struct ns_dev_priv *p;
	struct dn_ctrl_caps caps;
	int ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return dn_err_set(e, -ENOMEM, "out of memory");
	p->dev.ctrl = c;
	p->dev.info = *ns;
	p->dev.nr_paths = 1;
	snprintf(p->subnqn, sizeof(p->subnqn), "%s", c->o.subnqn);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->paths[0] = c;
	dn_ctrl_caps_get(c, &caps, NULL);
	dn_ns_ublk_params(ns, &caps, &p->dev.params);
	p->nr_uqs = p->dev.params.nr_queues;
	p->uqs = calloc(p->nr_uqs, sizeof(*p->uqs));
	if (!p->uqs) {
		ret = dn_err_set(e, -ENOMEM, "out of memory");
		goto out_free;
	}
	ret = dn_ublk_create(&p->dev.params, &ns_ublk_ops, p, &p->dev.ublk);
	if (ret) {
		if (ret == -ENOENT || ret == -ENODEV)
			dn_err_set(e, ret,
				   "the kernel has no ublk support (/dev/ublk-control is "
				   "missing: modprobe ublk_drv)");
		else
			dn_err_set(e, ret, "creating a ublk device for namespace %u failed: %s",
				   ns->nsid, strerror(-ret));
		goto out_free;
	}
	dn_ctrl_set_starting(c, &p->dev);
	ret = dn_ublk_start(p->dev.ublk);
	dn_ctrl_set_starting(c, NULL);
	if (ret) {
		pthread_mutex_lock(&p->lock);
		if (p->err.msg[0])
			dn_err_set(e, ret, "%s", p->err.msg);
		pthread_mutex_unlock(&p->lock);
		dn_err_set(e, ret, "starting the ublk device for namespace %u failed: %s", ns->nsid,
			   strerror(-ret));
		goto out_delete;
	}
	p->dev.dev_id = dn_ublk_dev_id(p->dev.ublk);
	pthread_mutex_lock(&registry_lock);
	p->next = registry;
	registry = p;
	pthread_mutex_unlock(&registry_lock);
	*out = &p->dev;
	return 0;

out_delete:
	dn_ublk_stop_and_delete(p->dev.ublk);
out_free:
	free_uqs(p);
	free(p);
	return ret;
}

/* The multipath key: same subsystem and the same NGUID, else UUID, else EUI-64. */
static bool same_namespace(const struct ns_dev_priv *p, const char *subnqn,
			   const struct dn_ns_info *ns)
{
	const struct dn_ns_info *o = &p->dev.info;

	if (strcmp(p->subnqn, subnqn))
		return false;
	if (id_nonzero(ns->nguid, sizeof(ns->nguid)))
		return !memcmp(o->nguid, ns->nguid, sizeof(ns->nguid));
	if (id_nonzero(ns->uuid, sizeof(ns->uuid)))
		return !memcmp(o->uuid, ns->uuid, sizeof(ns->uuid));
	if (id_nonzero(ns->eui64, sizeof(ns->eui64)))
		return !memcmp(o->eui64, ns->eui64, sizeof(ns->eui64));
	return false; /* no identifier: no way to know it is the same namespace */
}

struct dn_ns_dev *dn_ns_dev_find_path(struct dn_ctrl *c, const struct dn_ns_info *ns)
{
	struct ns_dev_priv *p;
	int i;

	pthread_mutex_lock(&registry_lock);
	for (p = registry; p; p = p->next) {
		bool mine = false;

		if (!same_namespace(p, c->o.subnqn, ns))
			continue;
		pthread_mutex_lock(&p->lock);
		for (i = 0; i < DN_MAX_PATHS; i++)
			mine |= p->paths[i] == c;
		pthread_mutex_unlock(&p->lock);
		if (!mine)
			break;
	}
	pthread_mutex_unlock(&registry_lock);
	return p ? &p->dev : NULL;
}

int dn_ns_dev_add_path(struct dn_ns_dev *d, struct dn_ctrl *c, const struct dn_ns_info *ns,
		       struct dn_err *e)
{
	struct ns_dev_priv *p = container_of(d, struct ns_dev_priv, dev);
	int i, slot = -1;

	/* a smaller MDTS or queue is fine: requests go in pieces, or wait for a slot */
	if (ns->nsze != d->info.nsze || ns->lbs_shift != d->info.lbs_shift)
		return dn_err_set(e, -EINVAL,
				  "namespace %u through %s:%s has another shape than "
				  "/dev/ublkb%d: not a second path",
				  ns->nsid, c->o.traddr, c->o.trsvcid, d->dev_id);
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < DN_MAX_PATHS && slot < 0; i++)
		if (!p->paths[i])
			slot = i;
	if (slot >= 0) {
		p->paths[slot] = c;
		p->paths_gen++;
		d->nr_paths++;
	}
	pthread_mutex_unlock(&p->lock);
	if (slot < 0)
		return dn_err_set(e, -ENOSPC, "/dev/ublkb%d already has %d paths", d->dev_id,
				  DN_MAX_PATHS);
	dn_ns_dev_notify(d);
	return 0;
}

/* Wait until every queue has applied paths_gen (or the wait is pointless). */
static void wait_queues(struct ns_dev_priv *p, uint32_t gen)
{
	uint16_t i, n = dn_ublk_nr_queues(p->dev.ublk);
	struct timespec until;
	bool done = false;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&p->lock);
	while (!done) {
		done = true;
		for (i = 0; i < n && i < p->nr_uqs; i++)
			if (p->uqs[i].uq && (int32_t)(p->uqs[i].seen_paths_gen - gen) < 0)
				done = false;
		if (!done && pthread_cond_timedwait(&p->cond, &p->lock, &until)) {
			dn_err("/dev/ublkb%d: queues did not let go of a path", p->dev.dev_id);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
}

static void unlink_locked(struct ns_dev_priv *p)
{
	struct ns_dev_priv **pp;

	for (pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
}

static void unregister(struct ns_dev_priv *p)
{
	pthread_mutex_lock(&registry_lock);
	unlink_locked(p);
	pthread_mutex_unlock(&registry_lock);
}

bool dn_ns_dev_remove_path(struct dn_ns_dev *d, struct dn_ctrl *c)
{
	struct ns_dev_priv *p = container_of(d, struct ns_dev_priv, dev);
	uint32_t gen = 0;
	int i, left = 0;

	pthread_mutex_lock(&registry_lock);
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < DN_MAX_PATHS; i++) {
		if (p->paths[i] == c) {
			p->paths[i] = NULL;
			gen = ++p->paths_gen;
			d->nr_paths--;
		}
		left += !!p->paths[i];
	}
	if (d->ctrl == c)
		for (i = 0; i < DN_MAX_PATHS; i++)
			if (p->paths[i])
				d->ctrl = p->paths[i];
	pthread_mutex_unlock(&p->lock);
	if (!left)
		unlink_locked(p);
	pthread_mutex_unlock(&registry_lock);
	if (!left) {
		dn_ns_dev_destroy(d);
		return true;
	}
	/* the queues must drop their I/O queues on c before c goes away */
	dn_ns_dev_notify(d);
	wait_queues(p, gen);
	return false;
}

void dn_ns_dev_destroy(struct dn_ns_dev *d)
{
	struct ns_dev_priv *p = container_of(d, struct ns_dev_priv, dev);

	unregister(p);
	dn_ublk_stop_and_delete(d->ublk);
	free_uqs(p);
	free(p);
}

void dn_ns_dev_notify(struct dn_ns_dev *d)
{
	uint16_t i, n = dn_ublk_nr_queues(d->ublk);

	for (i = 0; i < n; i++)
		dn_ublk_queue_notify(dn_ublk_queue(d->ublk, i));
}

int dn_ns_dev_resize(struct dn_ns_dev *d, uint64_t nsze, struct dn_err *e)
{
	int ret;

	/* nsze was checked when identified: nsze << lbs_shift fits */
	ret = dn_ublk_update_size(d->ublk, nsze << d->info.lbs_shift);
	if (ret)
		return dn_err_set(e, ret, "/dev/ublkb%d cannot be resized in place: %s%s",
				  d->dev_id, strerror(-ret),
				  ret == -EOPNOTSUPP ? " (ublk resizes from Linux 6.16)" : "");
	/* read by `list` without the scan's lock */
	__atomic_store_n(&d->info.nsze, nsze, __ATOMIC_RELEASE);
	return 0;
}

uint64_t dn_ns_dev_bytes(const struct dn_ns_dev *d)
{
	return __atomic_load_n(&d->info.nsze, __ATOMIC_ACQUIRE) << d->info.lbs_shift;
}
