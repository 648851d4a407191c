// SPDX-License-Identifier: MIT
/*
 * The NVMe/RDMA request state machine, driven by dn_rdma_req_process() alone:
 *   capsule received -> dn_req_init() -> keyed SGL: a data buffer from the group's pool
 *   (waiting in FIFO order when none is free) -> RDMA READ of H2C data (or the in-capsule data
 *   in place) -> dn_req_execute() -> queue_response: RDMA WRITE of C2H data + SEND of the CQE
 *   (SEND_WITH_INV when the host asked for invalidation) -> send completion -> buffer back
 *   to the pool (straight to the oldest waiter, if any) -> free.
 * Also the completion-queue poller and the per-iteration flush that posts every gathered
 * work request of a queue with one call.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/rdma_util.h"
#include "target/rdma.h"
#include "target/target.h"

#define POLL_BATCH 32

static struct dn_rdma_req *req_get(struct dn_rdma_queue *rq)
{
	struct dn_rdma_req *r = rq->free_reqs;

	if (r) {
		rq->free_reqs = r->next_free;
		rq->nr_busy++;
	}
	return r;
}

static void buf_wait_add(struct dn_rdma_pool *p, struct dn_rdma_req *r)
{
	p->nr_waited++;
	r->buf_wait_next = NULL;
	r->buf_wait_pprev = p->wait_tail;
	*p->wait_tail = r;
	p->wait_tail = &r->buf_wait_next;
}

static void buf_wait_del(struct dn_rdma_pool *p, struct dn_rdma_req *r)
{
	if (r->buf_wait_next)
		r->buf_wait_next->buf_wait_pprev = r->buf_wait_pprev;
	else
		p->wait_tail = r->buf_wait_pprev;
	*r->buf_wait_pprev = r->buf_wait_next;
	r->buf_wait_next = NULL;
	r->buf_wait_pprev = NULL;
}

/*
 * The request is done with its data buffer. The oldest request waiting in the group gets it
 * directly (it may be on another queue): taking turns through the free stack would let a
 * newcomer overtake it.
 */
static void buf_release(struct dn_rdma_req *r)
{
	uint8_t *buf = r->buf;
	struct dn_rdma_pool *p;
	struct dn_rdma_req *w;

	/* also for requests never laid out (queue creation failed): r->rq may be NULL */
	if (!buf)
		return;
	p = r->rq->pool;
	w = p->wait_head;
	r->buf = NULL;
	if (!w) {
		dn_rdma_pool_put(p, buf);
		return;
	}
	buf_wait_del(p, w);
	p->nr_taken++;
	w->buf = buf;
	dn_rdma_req_process(w);
}

/* Let go of the backend's memory a C2H transfer was sent from (its pages were pinned). */
static void send_mr_release(struct dn_rdma_req *r)
{
	int ret;

	if (!r->send_mr)
		return;
	ret = dn_ibv_dereg_mr(r->send_mr);
	if (ret)
		dn_warn("rdma %s qid %u: deregistering read data sent in place: %s",
			r->rq->q.peer_addr, r->rq->q.qid, strerror(-ret));
	r->send_mr = NULL;
	r->send_from = NULL;
}

static void req_put(struct dn_rdma_req *r)
{
	struct dn_rdma_queue *rq = r->rq;

	send_mr_release(r);
	r->state = DN_RDMA_REQ_FREE;
	r->recv = NULL;
	r->next_free = rq->free_reqs;
	rq->free_reqs = r;
	rq->nr_busy--;
	/* last: it may run another request's state machine */
	if (!r->read_posted)
		buf_release(r);
}

static void queue_send_wrs(struct dn_rdma_queue *rq, struct ibv_send_wr *first,
			   struct ibv_send_wr *last)
{
	last->next = NULL;
	*rq->send_tail = first;
	rq->send_tail = &last->next;
	dn_pg_defer(rq->q.pg, &rq->flush);
}

int dn_rdma_post_recv(struct dn_rdma_queue *rq, struct dn_rdma_recv *rv)
{
	rv->wr.next = NULL;
	*rq->recv_tail = &rv->wr;
	rq->recv_tail = &rv->wr.next;
	dn_pg_defer(rq->q.pg, &rq->flush);
	return 0;
}

/* Hand a request the transport cannot carry on with back to the core as failed. */
static void req_fail(struct dn_rdma_req *r, nvme_status_t status)
{
	r->state = DN_RDMA_REQ_EXECUTING;
	r->rq->nr_in_core++;
	dn_req_complete(&r->req, status);
}

static void req_setup(struct dn_rdma_req *r)
{
	struct dn_tgt_req *req = &r->req;

	req->sqe = (struct nvme_sqe *)r->recv->buf;
	memset(req->cqe, 0, sizeof(*req->cqe));
	req->queue = &r->rq->q;
	req->ns = NULL;
	/* no buffer until the request turns out to need one; the cap bounds the SGL parse */
	req->data = NULL;
	req->data_cap = DN_TGT_MAX_XFER;
	req->data_len = 0;
	req->dir = DN_XFER_NONE;
	memset(&req->sgl, 0, sizeof(req->sgl));
	req->execute = NULL;
}

/* C2H data must leave from registered memory: the core may have pointed req->data elsewhere */
static void *req_registered_data(struct dn_rdma_req *r)
{
	void *p = r->req.data;

	if (dn_rdma_pool_owns(r->rq->pool, p, r->req.data_len))
		return p;
	memcpy(r->buf, p, r->req.data_len);
	return r->buf;
}

/* NEED_BUFFER: true once r holds a buffer; false when it waits in the pool's list. */
static bool req_get_buf(struct dn_rdma_req *r)
{
	struct dn_rdma_pool *p = r->rq->pool;

	/* a buffer handed over by buf_release() */
	if (r->buf)
		return true;
	/* older requests waiting go first */
	if (!p->wait_head)
		r->buf = dn_rdma_pool_get(p);
	if (!r->buf) {
		buf_wait_add(p, r);
		return false;
	}
	p->nr_taken++;
	return true;
}

static void req_post_read(struct dn_rdma_req *r)
{
	struct dn_rdma_queue *rq = r->rq;
	struct dn_tgt_req *req = &r->req;

	rq->reads_in_flight++;
	r->read_posted = true;
	r->rdma_sge.addr = (uintptr_t)r->buf;
	r->rdma_sge.lkey = rq->pool->lkey;
	r->rdma_sge.length = req->data_len;
	r->rdma_wr.opcode = IBV_WR_RDMA_READ;
	r->rdma_wr.send_flags = IBV_SEND_SIGNALED;
	r->rdma_wr.wr.rdma.remote_addr = req->sgl.addr;
	r->rdma_wr.wr.rdma.rkey = req->sgl.key;
	r->state = DN_RDMA_REQ_READING;
	queue_send_wrs(rq, &r->rdma_wr, &r->rdma_wr);
}

static void req_post_response(struct dn_rdma_req *r)
{
	struct dn_rdma_queue *rq = r->rq;
	struct dn_tgt_req *req = &r->req;
	struct ibv_send_wr *first = &r->send_wr;

	/* the host reuses this slot as soon as it sees the CQE: the receive goes back first */
	dn_rdma_post_recv(rq, r->recv);
	r->recv = NULL;

	if (req->dir == DN_XFER_C2H && req->data_len && req->sgl.kind == NVME_SGL_KIND_KEYED &&
	    !nvme_cqe_status(req->cqe)) {
		if (r->send_mr) {
			r->rdma_sge.addr = (uintptr_t)r->send_from;
			r->rdma_sge.lkey = r->send_mr->lkey;
		} else {
			r->rdma_sge.addr = (uintptr_t)req_registered_data(r);
			r->rdma_sge.lkey = rq->pool->lkey;
		}
		r->rdma_sge.length = req->data_len;
		r->rdma_wr.opcode = IBV_WR_RDMA_WRITE;
		/* unsignaled: the SEND behind it completes only after it */
		r->rdma_wr.send_flags = 0;
		r->rdma_wr.wr.rdma.remote_addr = req->sgl.addr;
		r->rdma_wr.wr.rdma.rkey = req->sgl.key;
		r->rdma_wr.next = &r->send_wr;
		first = &r->rdma_wr;
	}
	if (req->sgl.kind == NVME_SGL_KIND_KEYED && req->sgl.invalidate) {
		r->send_wr.opcode = IBV_WR_SEND_WITH_INV;
		r->send_wr.invalidate_rkey = req->sgl.key;
	} else {
		r->send_wr.opcode = IBV_WR_SEND;
	}
	r->send_wr.send_flags = IBV_SEND_SIGNALED | IBV_SEND_INLINE;
	r->state = DN_RDMA_REQ_SENDING;
	queue_send_wrs(rq, first, &r->send_wr);
}

void dn_rdma_req_process(struct dn_rdma_req *r)
{
	struct dn_rdma_queue *rq = r->rq;
	struct dn_tgt_req *req = &r->req;
	enum dn_rdma_req_state prev;

	r->in_process = true;
	do {
		prev = r->state;
		switch (r->state) {
		case DN_RDMA_REQ_NEW:
			req_setup(r);
			r->state = DN_RDMA_REQ_INIT;
			rq->nr_in_core++;
			if (!dn_req_init(req, &rq->q, r->recv->byte_len - sizeof(struct nvme_sqe)))
				break; /* refused: queue_response moved it to COMPLETED */
			rq->nr_in_core--;
			if (req->dir != DN_XFER_NONE && req->sgl.kind == NVME_SGL_KIND_KEYED) {
				r->state = DN_RDMA_REQ_NEED_BUFFER;
			} else {
				if (req->sgl.kind == NVME_SGL_KIND_INLINE) {
					req->data = r->recv->icd + req->sgl.offset;
					req->data_cap = DN_RDMA_INCAPSULE - req->sgl.offset;
				}
				r->state = DN_RDMA_REQ_READY_TO_EXECUTE;
			}
			break;
		case DN_RDMA_REQ_NEED_BUFFER:
			if (rq->dying) {
				req_fail(r, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
				break;
			}
			if (!req_get_buf(r))
				break; /* stays NEED_BUFFER until buf_release() hands one over */
			req->data = r->buf;
			req->data_cap = DN_TGT_MAX_XFER;
			r->state = req->dir == DN_XFER_H2C ? DN_RDMA_REQ_NEED_READ
							   : DN_RDMA_REQ_READY_TO_EXECUTE;
			break;
		case DN_RDMA_REQ_NEED_READ:
			if (rq->dying) {
				req_fail(r, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
				break;
			}
			if (rq->reads_in_flight >= rq->initiator_depth) {
				/* stays NEED_READ until a READ completes */
				r->next_free = NULL;
				*rq->read_wait_tail = r;
				rq->read_wait_tail = &r->next_free;
				break;
			}
			req_post_read(r);
			break;
		case DN_RDMA_REQ_READY_TO_EXECUTE:
			if (rq->dying) {
				req_fail(r, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
				break;
			}
			r->state = DN_RDMA_REQ_EXECUTING;
			rq->nr_in_core++;
			dn_req_execute(req);
			break;
		case DN_RDMA_REQ_COMPLETED:
			if (rq->dying) {
				/* nobody to answer: the connection is going away */
				req_put(r);
				dn_rdma_queue_try_finish(rq);
				break;
			}
			req_post_response(r);
			break;
		case DN_RDMA_REQ_FREE:
		case DN_RDMA_REQ_INIT:
		case DN_RDMA_REQ_READING:
		case DN_RDMA_REQ_EXECUTING:
		case DN_RDMA_REQ_SENDING:
			break; /* waiting for an event */
		}
	} while (r->state != prev);
	r->in_process = false;
}

int dn_rdma_send_from(struct dn_tgt_req *req, void *buf)
{
	struct dn_rdma_req *r = dn_rdma_req(req);
	int ret;

	if (req->dir != DN_XFER_C2H || req->sgl.kind != NVME_SGL_KIND_KEYED ||
	    req->data_len < DN_RDMA_SEND_FROM_MIN || req->data_len > DN_TGT_MAX_XFER)
		return -EOPNOTSUPP;
	if (r->send_mr)
		return -EBUSY;
	/* read by the device only: no write access asked, so read-only mappings qualify */
	ret = dn_ibv_reg_mr(r->rq->dev->pd, buf, req->data_len, 0, &r->send_mr);
	if (ret) {
		r->send_mr = NULL;
		return ret;
	}
	r->send_from = buf;
	return 0;
}

void dn_rdma_queue_response(struct dn_tgt_req *req)
{
	struct dn_rdma_req *r = dn_rdma_req(req);
	struct dn_rdma_queue *rq = r->rq;

	if (r->state != DN_RDMA_REQ_INIT && r->state != DN_RDMA_REQ_EXECUTING) {
		dn_err("rdma %s qid %u: response for a request in state %d (cid %u): ignored",
		       rq->q.peer_addr, rq->q.qid, r->state, le16toh(req->cqe->cid));
		return;
	}
	rq->nr_in_core--;
	r->state = DN_RDMA_REQ_COMPLETED;
	if (!r->in_process)
		dn_rdma_req_process(r);
}

/* A capsule arrived in rv: give it a request, or let it wait for one. */
static void recv_arrived(struct dn_rdma_queue *rq, struct dn_rdma_recv *rv)
{
	struct dn_rdma_req *r;

	if (rq->dying)
		return;
	if (rv->byte_len < sizeof(struct nvme_sqe)) {
		/* no command identifier to answer to: the host broke the protocol */
		dn_err("rdma %s qid %u: %u-byte capsule is shorter than a command: disconnecting",
		       rq->q.peer_addr, rq->q.qid, rv->byte_len);
		dn_rdma_queue_lost(rq, "short capsule");
		return;
	}
	r = req_get(rq);
	if (!r) {
		rv->next = NULL;
		*rq->pending_tail = rv;
		rq->pending_tail = &rv->next;
		return;
	}
	r->recv = rv;
	r->state = DN_RDMA_REQ_NEW;
	dn_rdma_req_process(r);
}

/* A failed work completion: false when it is only the queue going (a flush, or a dying queue:
 * the consequence of an earlier error or of a disconnect), else reported, and the queue lost. */
static bool queue_wc_error(struct dn_rdma_queue *rq, const struct ibv_wc *wc, const char *what)
{
	if (wc->status == IBV_WC_WR_FLUSH_ERR || rq->dying)
		return false;
	if (!rq->qp_error_logged) {
		rq->qp_error_logged = true;
		dn_err("rdma %s qid %u: %s failed: %s (vendor error %#x): disconnecting",
		       rq->q.peer_addr, rq->q.qid, what, ibv_wc_status_str(wc->status),
		       wc->vendor_err);
	}
	dn_rdma_queue_lost(rq, what);
	return true;
}

static void start_waiting_read(struct dn_rdma_queue *rq)
{
	struct dn_rdma_req *r = rq->read_wait;

	if (!r || rq->reads_in_flight >= rq->initiator_depth)
		return;
	rq->read_wait = r->next_free;
	if (!rq->read_wait)
		rq->read_wait_tail = &rq->read_wait;
	dn_rdma_req_process(r);
}

static void handle_wc(struct dn_rdma_queue *rq, const struct ibv_wc *wc)
{
	uintptr_t id = (uintptr_t)wc->wr_id;
	uintptr_t recvs = (uintptr_t)rq->recvs, reqs = (uintptr_t)rq->reqs;
	struct dn_rdma_req *r;

	if (id >= recvs && id < recvs + rq->nr_recv * sizeof(*rq->recvs)) {
		struct dn_rdma_recv *rv = (struct dn_rdma_recv *)id;

		if (wc->status != IBV_WC_SUCCESS) {
			queue_wc_error(rq, wc, "receive");
			return;
		}
		rv->byte_len = wc->byte_len;
		recv_arrived(rq, rv);
		return;
	}
	if (id < reqs || id >= reqs + rq->nr_reqs * sizeof(*rq->reqs)) {
		dn_err("rdma %s qid %u: completion for unknown work request %#lx", rq->q.peer_addr,
		       rq->q.qid, (unsigned long)id);
		return;
	}
	r = &rq->reqs[(id - reqs) / sizeof(*rq->reqs)];
	if (id == (uintptr_t)&r->rdma_wr) {
		if (r->read_posted && r->state != DN_RDMA_REQ_READING) {
			/* the READ of a request its dying queue ended: now its buffer is free */
			r->read_posted = false;
			if (r->state == DN_RDMA_REQ_FREE)
				buf_release(r);
			return;
		}
		r->read_posted = false;
		if (r->state != DN_RDMA_REQ_READING) {
			/* an unsignaled RDMA WRITE reports only its failure */
			if (wc->status != IBV_WC_SUCCESS)
				queue_wc_error(rq, wc, "RDMA WRITE");
			return;
		}
		rq->reads_in_flight--;
		if (wc->status != IBV_WC_SUCCESS) {
			/* a READ cut short by the queue's going is no data error: no answer will
			 * reach the host, which sends the write again on its next association */
			req_fail(r, queue_wc_error(rq, wc, "RDMA READ")
					    ? NVME_STATUS_DNR(NVME_SCT_GENERIC,
							      NVME_SC_DATA_XFER_ERROR)
					    : NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
		} else {
			r->state = DN_RDMA_REQ_READY_TO_EXECUTE;
			dn_rdma_req_process(r);
		}
		start_waiting_read(rq);
		return;
	}
	/* the response SEND */
	if (wc->status != IBV_WC_SUCCESS)
		queue_wc_error(rq, wc, "SEND");
	if (r->state != DN_RDMA_REQ_SENDING)
		return; /* released already (queue dying) */
	req_put(r);
	if (rq->dying) {
		dn_rdma_queue_try_finish(rq);
		return;
	}
	if (rq->pending) {
		struct dn_rdma_recv *rv = rq->pending;

		rq->pending = rv->next;
		if (!rq->pending)
			rq->pending_tail = &rq->pending;
		recv_arrived(rq, rv);
	}
}

static unsigned int poll_until_empty(struct dn_rdma_queue *rq)
{
	struct ibv_wc wc[POLL_BATCH];
	unsigned int total = 0;
	int n, i;

	do {
		n = dn_ibv_poll_cq(rq->cq, POLL_BATCH, wc);
		if (n < 0) {
			dn_err("rdma %s qid %u: polling the CQ: %s", rq->q.peer_addr, rq->q.qid,
			       strerror(-n));
			dn_rdma_queue_lost(rq, "CQ poll failed");
			return total;
		}
		for (i = 0; i < n; i++)
			handle_wc(rq, &wc[i]);
		total += (unsigned int)n;
	} while (n == POLL_BATCH && !rq->finishing);
	return total;
}

/*
 * Poll until empty. While completions keep coming the CQ stays unarmed and the group polls it
 * again in its next iteration without blocking (no notification, no wake-up, no syscall);
 * once a poll finds nothing, arm the CQ and look once more for what slipped in before that.
 */
void dn_rdma_poll_cq(struct dn_rdma_queue *rq, bool channel_event)
{
	struct ibv_cq *cq;
	unsigned int n;
	int ret;

	/* one notification per arming: a single read, never one that ends in EAGAIN */
	if (channel_event && dn_ibv_get_cq_event(rq->cc, &cq) == 0)
		rq->cq_events++;
	/* acks take a lock in libibverbs: do them in batches */
	if (rq->cq_events >= 128) {
		ibv_ack_cq_events(rq->cq, rq->cq_events);
		rq->cq_events = 0;
	}
	n = poll_until_empty(rq);
	if (rq->finishing)
		return;
	if (n) {
		dn_pg_defer(rq->q.pg, &rq->repoll);
		return;
	}
	ret = dn_ibv_req_notify_cq(rq->cq, 0);
	if (ret) {
		dn_err("rdma %s qid %u: arming the CQ: %s", rq->q.peer_addr, rq->q.qid,
		       strerror(-ret));
		dn_rdma_queue_lost(rq, "CQ arm failed");
	}
	if (poll_until_empty(rq) && !rq->finishing)
		dn_pg_defer(rq->q.pg, &rq->repoll);
}

void dn_rdma_repoll(struct dn_pg_deferred *d)
{
	struct dn_rdma_queue *rq = container_of(d, struct dn_rdma_queue, repoll);

	if (!rq->finishing)
		dn_rdma_poll_cq(rq, false);
}

void dn_rdma_abort_waiting(struct dn_rdma_queue *rq)
{
	unsigned int i;

	rq->pending = NULL;
	rq->pending_tail = &rq->pending;
	rq->read_wait = NULL;
	rq->read_wait_tail = &rq->read_wait;
	for (i = 0; i < rq->nr_reqs; i++) {
		struct dn_rdma_req *r = &rq->reqs[i];

		/* the pool's list is the group's: other queues' requests stay in it */
		if (r->state == DN_RDMA_REQ_NEED_BUFFER && r->buf_wait_pprev) {
			buf_wait_del(rq->pool, r);
			req_fail(r, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
			continue;
		}
		/* their READ may never complete once the QP is gone: end them for the core now */
		if (r->state == DN_RDMA_REQ_NEED_READ || r->state == DN_RDMA_REQ_READING) {
			if (r->state == DN_RDMA_REQ_READING)
				rq->reads_in_flight--;
			req_fail(r, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
		}
	}
}

void dn_rdma_release_held_bufs(struct dn_rdma_queue *rq)
{
	unsigned int i;

	/* a queue is destroyed without waiting for its READ and SEND completions */
	for (i = 0; i < rq->nr_reqs; i++) {
		struct dn_rdma_req *r = &rq->reqs[i];

		r->read_posted = false;
		send_mr_release(r);
		buf_release(r);
	}
}

void dn_rdma_flush(struct dn_pg_deferred *d)
{
	struct dn_rdma_queue *rq = container_of(d, struct dn_rdma_queue, flush);
	int ret;

	if (rq->finishing) {
		/* a repoll still queued refers to rq: destroy in a later iteration */
		if (rq->repoll.queued)
			dn_pg_defer(rq->q.pg, &rq->flush);
		else if (!rq->cc_armed)
			dn_rdma_queue_destroy(rq);
		return;
	}
	if (rq->recv_head) {
		struct ibv_recv_wr *bad;

		ret = dn_ibv_post_recv(rq->qp, rq->recv_head, &bad);
		rq->recv_head = NULL;
		rq->recv_tail = &rq->recv_head;
		if (ret && !rq->dying) {
			dn_err("rdma %s qid %u: posting receives: %s", rq->q.peer_addr, rq->q.qid,
			       strerror(-ret));
			dn_rdma_queue_lost(rq, "post_recv failed");
		}
	}
	if (rq->send_head) {
		struct ibv_send_wr *bad;

		ret = dn_ibv_post_send(rq->qp, rq->send_head, &bad);
		rq->send_head = NULL;
		rq->send_tail = &rq->send_head;
		if (ret && !rq->dying) {
			dn_err("rdma %s qid %u: posting sends: %s", rq->q.peer_addr, rq->q.qid,
			       strerror(-ret));
			dn_rdma_queue_lost(rq, "post_send failed");
		}
	}
}

size_t dn_rdma_queue_mem_len(const struct dn_rdma_queue *rq)
{
	return (size_t)rq->nr_recv * DN_RDMA_INCAPSULE +
	       (size_t)rq->nr_recv * sizeof(struct nvme_sqe) +
	       (size_t)rq->nr_reqs * sizeof(struct nvme_cqe);
}

/*
 * Lay out rq->mem (dn_rdma_queue_mem_len() bytes, registered with lkey): the in-capsule areas
 * (page aligned, so a backend can do O_DIRECT on in-capsule data too), then the SQEs, then the
 * CQEs; wire every receive (two SGEs: the SQE and its in-capsule area) and every request's RDMA
 * and SEND work requests once, and fill the free list. Data buffers come from rq->pool.
 */
void dn_rdma_queue_layout(struct dn_rdma_queue *rq, uint32_t lkey)
{
	uint8_t *mem = rq->mem;
	uint8_t *icd_base = mem;
	uint8_t *sqe_base = icd_base + (size_t)rq->nr_recv * DN_RDMA_INCAPSULE;
	struct nvme_cqe *cqes =
		(struct nvme_cqe *)(sqe_base + (size_t)rq->nr_recv * sizeof(struct nvme_sqe));
	int i;

	for (i = 0; i < rq->nr_recv; i++) {
		struct dn_rdma_recv *rv = &rq->recvs[i];

		rv->buf = sqe_base + (size_t)i * sizeof(struct nvme_sqe);
		rv->icd = icd_base + (size_t)i * DN_RDMA_INCAPSULE;
		rv->sge[0].addr = (uintptr_t)rv->buf;
		rv->sge[0].length = sizeof(struct nvme_sqe);
		rv->sge[0].lkey = lkey;
		rv->sge[1].addr = (uintptr_t)rv->icd;
		rv->sge[1].length = DN_RDMA_INCAPSULE;
		rv->sge[1].lkey = lkey;
		rv->wr.wr_id = (uintptr_t)rv;
		rv->wr.sg_list = rv->sge;
		rv->wr.num_sge = 2;
	}
	rq->free_reqs = NULL;
	for (i = rq->nr_reqs - 1; i >= 0; i--) {
		struct dn_rdma_req *r = &rq->reqs[i];

		r->rq = rq;
		r->state = DN_RDMA_REQ_FREE;
		r->buf = NULL;
		r->req.cqe = &cqes[i];
		r->rdma_wr.wr_id = (uintptr_t)&r->rdma_wr;
		r->rdma_wr.sg_list = &r->rdma_sge;
		r->rdma_wr.num_sge = 1;
		r->send_sge.addr = (uintptr_t)&cqes[i];
		r->send_sge.length = sizeof(struct nvme_cqe);
		r->send_sge.lkey = lkey;
		r->send_wr.wr_id = (uintptr_t)&r->send_wr;
		r->send_wr.sg_list = &r->send_sge;
		r->send_wr.num_sge = 1;
		r->next_free = rq->free_reqs;
		rq->free_reqs = r;
	}
}
