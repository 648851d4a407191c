// SPDX-License-Identifier: MIT
/*
 * An NVMe/RDMA queue: its completion channel, CQ and QP, the receive buffers (SQE plus
 * in-capsule data) and the request array with their CQEs, in one allocation registered once
 * at creation (data buffers come from its poll group's shared pool, rdma_pool.c); then its
 * handover to a poll group and its end: reported lost once, deleted once, drained, destroyed.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rdma_util.h"
#include "target/rdma.h"
#include "target/target.h"

static void queue_cc_cb(struct dn_event *ev, const struct io_uring_cqe *cqe);

static int queue_arm_cc(struct dn_rdma_queue *rq)
{
	int ret = dn_pg_poll_add(rq->q.pg, rq->cc->fd, POLLIN, &rq->cc_ev);

	if (!ret)
		rq->cc_armed = true;
	return ret;
}

/*
 * Allocate and register the queue's memory in one area, laid out by dn_rdma_queue_layout():
 * in-capsule areas, SQEs, CQEs.
 */
static int queue_alloc_mem(struct dn_rdma_queue *rq)
{
	int ret;

	rq->recvs = calloc(rq->nr_recv, sizeof(*rq->recvs));
	rq->reqs = calloc(rq->nr_reqs, sizeof(*rq->reqs));
	if (!rq->recvs || !rq->reqs)
		return -ENOMEM;
	rq->mem_len = dn_rdma_queue_mem_len(rq);
	ret = posix_memalign(&rq->mem, 4096, rq->mem_len);
	if (ret)
		return -ret;
	memset(rq->mem, 0, rq->mem_len);
	ret = dn_ibv_reg_mr(rq->dev->pd, rq->mem, rq->mem_len, IBV_ACCESS_LOCAL_WRITE, &rq->mr);
	if (ret)
		return ret;
	dn_rdma_queue_layout(rq, rq->mr->lkey);
	return 0;
}

static void queue_free_mem(struct dn_rdma_queue *rq)
{
	int ret;

	if (rq->mr) {
		ret = dn_ibv_dereg_mr(rq->mr);
		if (ret)
			dn_warn("rdma %s: deregistering queue memory: %s", rq->q.peer_addr,
				strerror(-ret));
		rq->mr = NULL;
	}
	free(rq->mem);
	rq->mem = NULL;
	free(rq->reqs);
	rq->reqs = NULL;
	free(rq->recvs);
	rq->recvs = NULL;
}

int dn_rdma_queue_create(struct rdma_cm_id *id, struct dn_rdma_dev *dev, struct dn_rdma_pool *pool,
			 uint16_t qid, uint16_t nr_recv, uint16_t hrqsize, uint8_t initiator_depth,
			 struct dn_rdma_queue **out)
{
	struct ibv_qp_init_attr qp_attr = {0};
	struct dn_rdma_queue *rq;
	int ret, cqe, i;

	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	rq->kind = DN_RDMA_CTX_QUEUE;
	rq->cm_id = id;
	rq->dev = dev;
	rq->pool = pool;
	rq->q.qid = qid;
	rq->nr_recv = nr_recv;
	rq->nr_reqs = nr_recv;
	rq->hrqsize = hrqsize;
	rq->initiator_depth = initiator_depth ? initiator_depth : 1;
	rq->pending_tail = &rq->pending;
	rq->read_wait_tail = &rq->read_wait;
	rq->recv_tail = &rq->recv_head;
	rq->send_tail = &rq->send_head;
	rq->flush.fn = dn_rdma_flush;
	rq->repoll.fn = dn_rdma_repoll;
	rq->cc_ev.cb = queue_cc_cb;
	atomic_init(&rq->flags, 0);
	dn_sockaddr_str(rdma_get_peer_addr(id), rq->q.peer_addr, sizeof(rq->q.peer_addr));

	ret = queue_alloc_mem(rq);
	if (ret)
		goto out_free_mem;
	ret = dn_ibv_create_comp_channel(dev->verbs, &rq->cc);
	if (ret)
		goto out_free_mem;
	ret = dn_fd_set_nonblock(rq->cc->fd);
	if (ret)
		goto out_destroy_cc;
	/* each request has at most two send WRs outstanding (READ, or WRITE + SEND) */
	cqe = rq->nr_recv + 2 * rq->nr_reqs;
	ret = dn_ibv_create_cq(dev->verbs, cqe, rq, rq->cc, &rq->cq);
	if (ret)
		goto out_destroy_cc;
	qp_attr.qp_context = rq;
	qp_attr.send_cq = rq->cq;
	qp_attr.recv_cq = rq->cq;
	qp_attr.qp_type = IBV_QPT_RC;
	qp_attr.cap.max_send_wr = 2 * rq->nr_reqs;
	qp_attr.cap.max_recv_wr = rq->nr_recv;
	qp_attr.cap.max_send_sge = 1;
	qp_attr.cap.max_recv_sge = 2;
	/* the 16-byte CQE goes inline: no memory key lookup for it on the send path */
	qp_attr.cap.max_inline_data = sizeof(struct nvme_cqe);
	ret = dn_rdma_create_qp(id, dev->pd, &qp_attr);
	if (ret)
		goto out_destroy_cq;
	rq->qp = id->qp;
	id->context = rq;

	for (i = 0; i < rq->nr_recv; i++) {
		struct ibv_recv_wr *bad;

		ret = dn_ibv_post_recv(rq->qp, &rq->recvs[i].wr, &bad);
		if (ret)
			goto out_destroy_qp;
	}
	atomic_fetch_add(&dev->nr_queues, 1);
	*out = rq;
	return 0;

out_destroy_qp:
	rdma_destroy_qp(id);
	rq->qp = NULL;
out_destroy_cq:
	dn_ibv_destroy_cq(rq->cq);
out_destroy_cc:
	dn_ibv_destroy_comp_channel(rq->cc);
out_free_mem:
	queue_free_mem(rq);
	free(rq);
	return ret;
}

/* Verbs objects and memory; the cm_id stays (its owner destroys it). */
static void queue_destroy_verbs(struct dn_rdma_queue *rq)
{
	int ret;

	if (rq->qp) {
		rdma_destroy_qp(rq->cm_id);
		rq->qp = NULL;
	}
	/* the device is done with every buffer now */
	if (rq->reqs)
		dn_rdma_release_held_bufs(rq);
	if (rq->cq_events)
		ibv_ack_cq_events(rq->cq, rq->cq_events);
	rq->cq_events = 0;
	ret = dn_ibv_destroy_cq(rq->cq);
	if (ret)
		dn_warn("rdma %s: destroying CQ: %s", rq->q.peer_addr, strerror(-ret));
	ret = dn_ibv_destroy_comp_channel(rq->cc);
	if (ret)
		dn_warn("rdma %s: destroying completion channel: %s", rq->q.peer_addr,
			strerror(-ret));
	queue_free_mem(rq);
	/* last: a removed device is released on the main thread once no queue is on it */
	atomic_fetch_sub_explicit(&rq->dev->nr_queues, 1, memory_order_release);
}

void dn_rdma_queue_free(struct dn_rdma_queue *rq)
{
	queue_destroy_verbs(rq);
	rq->cm_id->context = NULL;
	free(rq);
}

static void queue_adopt_msg(void *arg)
{
	struct dn_rdma_queue *rq = arg;
	int ret;

	rq->adopted = true;
	if (atomic_load(&rq->flags) & DN_RDMA_Q_DELETING)
		rq->dying = true;
	ret = dn_ibv_req_notify_cq(rq->cq, 0);
	if (!ret)
		ret = queue_arm_cc(rq);
	if (ret) {
		dn_err("rdma %s qid %u: cannot watch the completion queue: %s", rq->q.peer_addr,
		       rq->q.qid, strerror(-ret));
		dn_rdma_queue_lost(rq, "completion queue setup failed");
	}
	/* capsules may have arrived between the accept and now */
	dn_rdma_poll_cq(rq, false);
	dn_pg_defer(rq->q.pg, &rq->flush);
}

int dn_rdma_queue_adopt(struct dn_rdma_queue *rq)
{
	dn_pg_load_get(rq->q.pg);
	return dn_pg_send_msg(rq->q.pg, queue_adopt_msg, rq);
}

void dn_rdma_queue_lost(struct dn_rdma_queue *rq, const char *why)
{
	unsigned int old = atomic_fetch_or(&rq->flags, DN_RDMA_Q_LOST);

	if (old & (DN_RDMA_Q_LOST | DN_RDMA_Q_DELETING))
		return;
	dn_dbg("rdma %s qid %u: connection lost: %s", rq->q.peer_addr, rq->q.qid, why);
	dn_tgt_queue_lost(&rq->q);
}

static void queue_kill_msg(void *arg)
{
	struct dn_rdma_queue *rq = arg;

	rq->dying = true;
	dn_dbg("rdma %s qid %u: deleting, %u requests with the core", rq->q.peer_addr, rq->q.qid,
	       rq->nr_in_core);
	dn_rdma_abort_waiting(rq);
	dn_rdma_queue_try_finish(rq);
}

void dn_rdma_delete_queue(struct dn_tgt_queue *q)
{
	struct dn_rdma_queue *rq = dn_rdma_queue(q);
	unsigned int old = atomic_fetch_or(&rq->flags, DN_RDMA_Q_DELETING);
	int ret;

	if (old & DN_RDMA_Q_DELETING)
		return;
	/* moves the QP to the error state: posted work requests complete as flushed */
	ret = dn_rdma_disconnect(rq->cm_id);
	if (ret && ret != -EINVAL)
		dn_dbg("rdma %s qid %u: rdma_disconnect: %s", q->peer_addr, q->qid, strerror(-ret));
	ret = dn_pg_send_msg(q->pg, queue_kill_msg, rq);
	if (ret)
		dn_err("rdma %s qid %u: cannot reach its poll group: %s", q->peer_addr, q->qid,
		       strerror(-ret));
}

/* Group thread, from the flush step only: nothing else refers to the queue any more. */
void dn_rdma_queue_destroy(struct dn_rdma_queue *rq)
{
	struct rdma_cm_id *id = rq->cm_id;
	struct dn_poll_group *pg = rq->q.pg;
	int ret;

	dn_dbg("rdma %s qid %u: drained, destroying", rq->q.peer_addr, rq->q.qid);
	dn_rdma_queue_unlist(rq);
	queue_destroy_verbs(rq);
	/* waits until the main thread acknowledged every event it took for this id */
	ret = dn_rdma_destroy_id(id);
	if (ret)
		dn_warn("rdma %s qid %u: rdma_destroy_id: %s", rq->q.peer_addr, rq->q.qid,
			strerror(-ret));
	dn_dbg("rdma %s qid %u: queue destroyed", rq->q.peer_addr, rq->q.qid);
	dn_tgt_queue_destroyed(&rq->q);
	dn_pg_load_put(pg);
	free(rq);
}

static void queue_cc_cb(struct dn_event *ev, const struct io_uring_cqe *cqe)
{
	struct dn_rdma_queue *rq = container_of(ev, struct dn_rdma_queue, cc_ev);
	int ret;

	rq->cc_armed = false;
	if (cqe->res < 0 && cqe->res != -ECANCELED)
		dn_err("rdma %s qid %u: completion channel poll: %s", rq->q.peer_addr, rq->q.qid,
		       strerror(-cqe->res));
	if (!rq->finishing)
		dn_rdma_poll_cq(rq, cqe->res > 0);
	if (rq->finishing) {
		/* the flush step destroys the queue, now that no poll refers to it */
		dn_pg_defer(rq->q.pg, &rq->flush);
		return;
	}
	ret = queue_arm_cc(rq);
	if (ret) {
		dn_err("rdma %s qid %u: cannot re-arm the completion channel: %s", rq->q.peer_addr,
		       rq->q.qid, strerror(-ret));
		dn_rdma_queue_lost(rq, "completion channel poll failed");
	}
}

/*
 * Group thread, whenever the queue may have drained. Requests still waiting for the network
 * (a flushed READ, a SEND) need not finish: destroying the QP guarantees the device touches
 * their buffers no more. Only what the core or a backend holds must come back first.
 */
void dn_rdma_queue_try_finish(struct dn_rdma_queue *rq)
{
	int ret;

	if (!rq->adopted || !rq->dying || rq->finishing || rq->nr_in_core)
		return;
	rq->finishing = true;
	if (rq->cc_armed) {
		/* its CQE (-ECANCELED) comes back through queue_cc_cb */
		ret = dn_pg_poll_cancel(rq->q.pg, &rq->cc_ev);
		if (ret)
			dn_err("rdma %s qid %u: cannot cancel the completion channel poll: %s",
			       rq->q.peer_addr, rq->q.qid, strerror(-ret));
		return;
	}
	dn_pg_defer(rq->q.pg, &rq->flush);
}
