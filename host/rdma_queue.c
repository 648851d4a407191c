// SPDX-License-Identifier: MIT
/*
 * NVMe/RDMA queue pairs of the initiator: rdma_cm connection setup with the NVMe/RDMA private
 * data, registered capsules and responses, request slots, completion processing, synchronous
 * execution for setup commands. RDMA calls go through common/rdma_util.h (0 / -errno).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rdma_util.h"
#include "host/rdma_queue.h"

/* InfiniBand CM reject reason: the consumer (the NVMe/RDMA target) attached private data */
#define IB_CM_REJ_CONSUMER_DEFINED 28

/* Wait for the next CM event and insist it is `want`; explain anything else. */
static int cm_wait(struct dn_hq *q, enum rdma_cm_event_type want, int timeout_ms, struct dn_err *e)
{
	struct pollfd pfd = {.fd = q->ec->fd, .events = POLLIN};
	struct rdma_cm_event *ev;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret == 0)
		return dn_err_set(e, -ETIMEDOUT, "%s is unreachable: no RDMA answer within %d ms",
				  q->peer, timeout_ms);
	if (ret < 0)
		return dn_err_set(e, -errno, "waiting for an rdma_cm event: %s", strerror(errno));
	ret = dn_rdma_get_cm_event(q->ec, &ev);
	if (ret)
		return dn_err_set(e, ret, "rdma_get_cm_event: %s", strerror(-ret));
	if (ev->event == want) {
		if (want == RDMA_CM_EVENT_ESTABLISHED && ev->param.conn.private_data &&
		    ev->param.conn.private_data_len >= sizeof(struct nvme_rdma_cm_rep)) {
			const struct nvme_rdma_cm_rep *rep = ev->param.conn.private_data;

			q->crqsize = le16toh(rep->crqsize);
		}
		dn_rdma_ack_cm_event(ev);
		return 0;
	}
	switch (ev->event) {
	case RDMA_CM_EVENT_REJECTED:
		if (ev->status == IB_CM_REJ_CONSUMER_DEFINED && ev->param.conn.private_data &&
		    ev->param.conn.private_data_len >= sizeof(struct nvme_rdma_cm_rej)) {
			const struct nvme_rdma_cm_rej *rej = ev->param.conn.private_data;
			uint16_t sts = le16toh(rej->sts);

			ret = dn_err_set(
				e, -ECONNREFUSED,
				"%s rejected the NVMe/RDMA connection of queue %u: %s (%u)",
				q->peer, q->qid, nvme_rdma_cm_status_str(sts), sts);
		} else {
			ret = dn_err_set(e, -ECONNREFUSED,
					 "%s refused the RDMA connection: nothing listens there "
					 "for NVMe/RDMA (reject reason %d)",
					 q->peer, ev->status);
		}
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
		/*
		 * nothing left this machine: no RDMA device (yet, or any more) for the route, or
		 * no route to the address; backoff.c tells these from a silent peer by the errno
		 */
		if (ev->status == -ENODEV || ev->status == -ENETUNREACH) {
			ret = dn_err_set(e, ev->status, "%s is unreachable: %s (%s)", q->peer,
					 ev->status == -ENODEV ? "no RDMA device here reaches it"
							       : "no route to it",
					 rdma_event_str(ev->event));
			break;
		}
		/* fall through */
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_CONNECT_ERROR:
		ret = dn_err_set(e, -EHOSTUNREACH, "%s is unreachable over RDMA (%s: %s)", q->peer,
				 rdma_event_str(ev->event),
				 strerror(-ev->status > 0 ? -ev->status : EHOSTUNREACH));
		break;
	default:
		ret = dn_err_set(e, -EPROTO, "%s: unexpected rdma_cm event %s while waiting for %s",
				 q->peer, rdma_event_str(ev->event), rdma_event_str(want));
	}
	dn_rdma_ack_cm_event(ev);
	return ret;
}

static int post_recv(struct dn_hq *q, uint16_t i)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)&q->rsps[i],
		.length = sizeof(struct nvme_cqe),
		.lkey = q->rsp_mr->lkey,
	};
	struct ibv_recv_wr wr = {.wr_id = DN_HQ_WRID_RECV | i, .sg_list = &sge, .num_sge = 1}, *bad;
	int ret = dn_ibv_post_recv(q->id->qp, &wr, &bad);

	if (!ret)
		q->recvs_posted++;
	return ret;
}

static int alloc_buffers(struct dn_hq *q, struct dn_err *e)
{
	int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;
	uint16_t i;
	int ret;

	q->reqs = calloc(q->depth, sizeof(*q->reqs));
	q->capsules = dn_memalign(64, (size_t)q->depth * q->capsule_size);
	q->rsps = calloc(q->depth, sizeof(*q->rsps));
	if (q->data_len)
		q->data = dn_memalign(4096, q->data_len);
	if (!q->reqs || !q->capsules || !q->rsps || (q->data_len && !q->data))
		return dn_err_set(e, -ENOMEM, "out of memory for queue %u", q->qid);
	memset(q->capsules, 0, (size_t)q->depth * q->capsule_size);
	/* capsules are remotely readable: a DSM range list may sit after the SQE */
	ret = dn_ibv_reg_mr(q->pd, q->capsules, (size_t)q->depth * q->capsule_size,
			    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ, &q->cap_mr);
	if (!ret)
		ret = dn_ibv_reg_mr(q->pd, q->rsps, q->depth * sizeof(*q->rsps),
				    IBV_ACCESS_LOCAL_WRITE, &q->rsp_mr);
	if (!ret && q->data_len)
		ret = dn_ibv_reg_mr(q->pd, q->data, q->data_len, access, &q->data_mr);
	if (ret)
		return dn_err_set(e, ret, "registering queue %u memory: %s", q->qid,
				  strerror(-ret));
	q->free_list = NULL;
	for (i = q->depth; i-- > 0;) {
		struct dn_hq_req *r = &q->reqs[i];

		r->cid = i;
		r->sqe = (struct nvme_sqe *)(q->capsules + (size_t)i * q->capsule_size);
		r->next_free = q->free_list;
		q->free_list = r;
	}
	return 0;
}

static void free_buffers(struct dn_hq *q)
{
	if (q->io_mr)
		dn_ibv_dereg_mr(q->io_mr);
	q->io_mr = NULL;
	if (q->data_mr)
		dn_ibv_dereg_mr(q->data_mr);
	if (q->rsp_mr)
		dn_ibv_dereg_mr(q->rsp_mr);
	if (q->cap_mr)
		dn_ibv_dereg_mr(q->cap_mr);
	q->data_mr = q->rsp_mr = q->cap_mr = NULL;
	free(q->data);
	free(q->rsps);
	free(q->capsules);
	free(q->reqs);
	q->data = NULL;
	q->rsps = NULL;
	q->capsules = NULL;
	q->reqs = NULL;
}

int dn_hq_connect(struct dn_hq *q, const struct dn_hq_opts *o, struct dn_err *e)
{
	struct ibv_qp_init_attr qpa = {0};
	struct rdma_conn_param cp = {0};
	struct nvme_rdma_cm_req req = {0};
	struct ibv_device_attr dattr;
	struct sockaddr_storage dst, src = {0};
	int64_t t_start = dn_now_ms(), t_route, t_res, t_reg;
	uint16_t i;
	int ret;

	memset(q, 0, sizeof(*q));
	q->qid = o->qid;
	q->depth = o->depth;
	q->incapsule = o->incapsule;
	/* room after the SQE for in-capsule data, and at least for one DSM range */
	q->capsule_size = sizeof(struct nvme_sqe) + (o->incapsule > sizeof(struct nvme_dsm_range)
							     ? o->incapsule
							     : sizeof(struct nvme_dsm_range));
	q->data_len = o->data_len;
	snprintf(q->peer, sizeof(q->peer), "%s:%s", o->traddr, o->trsvcid);

	ret = dn_sockaddr_parse(o->traddr, o->trsvcid, AF_UNSPEC, &dst);
	if (ret)
		return dn_err_set(e, -EINVAL, "%s is not a valid IP address and port", q->peer);
	if (o->host_traddr && o->host_traddr[0]) {
		ret = dn_sockaddr_parse(o->host_traddr, NULL, dst.ss_family, &src);
		if (ret)
			return dn_err_set(e, -EINVAL,
					  "host address %s is not a valid IP address of the "
					  "target's family",
					  o->host_traddr);
	}
	ret = dn_rdma_create_event_channel(&q->ec);
	if (ret)
		return dn_err_set(e, ret,
				  "cannot open the RDMA CM (%s): is an RDMA device "
				  "configured?",
				  strerror(-ret));
	/* cm_wait() polls before it reads; dn_hq_cm_check() must never block */
	dn_fd_set_nonblock(q->ec->fd);
	ret = dn_rdma_create_id(q->ec, &q->id, q);
	if (ret) {
		dn_err_set(e, ret, "rdma_create_id: %s", strerror(-ret));
		goto out_destroy_ec;
	}
	ret = dn_rdma_resolve_addr(q->id, src.ss_family ? (struct sockaddr *)&src : NULL,
				   (struct sockaddr *)&dst, o->timeout_ms);
	if (ret && src.ss_family && (ret == -EADDRNOTAVAIL || ret == -ENODEV)) {
		dn_err_set(e, ret, "host address %s is not an address of an RDMA device here (%s)",
			   o->host_traddr, strerror(-ret));
		goto out_destroy_id;
	}
	if (ret) {
		dn_err_set(e, ret, "%s is unreachable: no RDMA device routes to it (%s)", q->peer,
			   strerror(-ret));
		goto out_destroy_id;
	}
	ret = cm_wait(q, RDMA_CM_EVENT_ADDR_RESOLVED, o->timeout_ms + 1000, e);
	if (ret)
		goto out_destroy_id;
	ret = dn_rdma_resolve_route(q->id, o->timeout_ms);
	if (ret) {
		dn_err_set(e, ret, "%s is unreachable: %s", q->peer, strerror(-ret));
		goto out_destroy_id;
	}
	ret = cm_wait(q, RDMA_CM_EVENT_ROUTE_RESOLVED, o->timeout_ms + 1000, e);
	if (ret)
		goto out_destroy_id;
	t_route = dn_now_ms();

	ret = dn_ibv_alloc_pd(q->id->verbs, &q->pd);
	if (ret) {
		dn_err_set(e, ret, "ibv_alloc_pd: %s", strerror(-ret));
		goto out_destroy_id;
	}
	ret = dn_ibv_create_comp_channel(q->id->verbs, &q->cc);
	if (ret) {
		dn_err_set(e, ret, "ibv_create_comp_channel: %s", strerror(-ret));
		goto out_dealloc_pd;
	}
	/* woken by poll() or io_uring: reading the event must never block */
	dn_fd_set_nonblock(q->cc->fd);
	/* sends and receives of every slot, plus slack for flush completions */
	ret = dn_ibv_create_cq(q->id->verbs, 2 * q->depth + 1, q, q->cc, &q->cq);
	if (ret) {
		dn_err_set(e, ret, "ibv_create_cq: %s", strerror(-ret));
		goto out_destroy_cc;
	}
	ret = dn_ibv_req_notify_cq(q->cq, 0);
	if (ret) {
		dn_err_set(e, ret, "ibv_req_notify_cq: %s", strerror(-ret));
		goto out_destroy_cq;
	}
	qpa.send_cq = q->cq;
	qpa.recv_cq = q->cq;
	qpa.qp_type = IBV_QPT_RC;
	qpa.sq_sig_all = 1;
	qpa.cap.max_send_wr = q->depth;
	qpa.cap.max_recv_wr = q->depth;
	qpa.cap.max_send_sge = 1;
	qpa.cap.max_recv_sge = 1;
	ret = dn_rdma_create_qp(q->id, q->pd, &qpa);
	if (ret) {
		dn_err_set(e, ret, "rdma_create_qp: %s", strerror(-ret));
		goto out_destroy_cq;
	}
	t_res = dn_now_ms();
	ret = alloc_buffers(q, e);
	if (ret)
		goto out_free_buffers;
	if (o->io_buf) {
		ret = dn_ibv_reg_mr(q->pd, o->io_buf, o->io_buf_len,
				    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
					    IBV_ACCESS_REMOTE_WRITE,
				    &q->io_mr);
		if (ret) {
			dn_err_set(e, ret, "registering %zu bytes of I/O buffers: %s",
				   o->io_buf_len, strerror(-ret));
			goto out_free_buffers;
		}
	}
	for (i = 0; i < q->depth; i++) {
		ret = post_recv(q, i);
		if (ret) {
			dn_err_set(e, ret, "ibv_post_recv: %s", strerror(-ret));
			goto out_free_buffers;
		}
	}

	t_reg = dn_now_ms();
	req.recfmt = htole16(NVME_RDMA_CM_FMT_1_0);
	req.qid = htole16(q->qid);
	req.hrqsize = htole16(q->depth);
	req.hsqsize = htole16((uint16_t)(q->depth - 1));
	cp.private_data = &req;
	cp.private_data_len = sizeof(req);
	cp.flow_control = 1;
	cp.retry_count = 7;
	cp.rnr_retry_count = 7;
	/* the target RDMA-reads write data from us: allow as many reads as the device can */
	if (!dn_ibv_query_device(q->id->verbs, &dattr))
		cp.responder_resources =
			(uint8_t)(dattr.max_qp_rd_atom > 255 ? 255 : dattr.max_qp_rd_atom);
	ret = dn_rdma_connect(q->id, &cp);
	if (ret) {
		dn_err_set(e, ret, "rdma_connect to %s: %s", q->peer, strerror(-ret));
		goto out_free_buffers;
	}
	ret = cm_wait(q, RDMA_CM_EVENT_ESTABLISHED, o->timeout_ms + 1000, e);
	if (ret)
		goto out_free_buffers;
	q->connected = true;
	dn_dbg("queue %u to %s: RDMA connection in %lld ms (address and route %lld, QP and CQ "
	       "%lld, buffers and registration %lld, CM connect %lld)",
	       q->qid, q->peer, (long long)(dn_now_ms() - t_start), (long long)(t_route - t_start),
	       (long long)(t_res - t_route), (long long)(t_reg - t_res),
	       (long long)(dn_now_ms() - t_reg));
	return 0;

out_free_buffers:
	free_buffers(q);
	rdma_destroy_qp(q->id);
out_destroy_cq:
	dn_ibv_destroy_cq(q->cq);
out_destroy_cc:
	dn_ibv_destroy_comp_channel(q->cc);
out_dealloc_pd:
	dn_ibv_dealloc_pd(q->pd);
out_destroy_id:
	dn_rdma_destroy_id(q->id);
out_destroy_ec:
	rdma_destroy_event_channel(q->ec);
	memset(q, 0, sizeof(*q));
	return ret;
}

struct dn_hq_req *dn_hq_get_req(struct dn_hq *q)
{
	struct dn_hq_req *r = q->free_list;

	if (!r)
		return NULL;
	q->free_list = r->next_free;
	r->state = DN_HQ_REQ_INFLIGHT;
	r->send_done = r->rsp_done = false;
	r->done = NULL;
	r->ctx = 0;
	r->len = 0;
	r->op = 0;
	return r;
}

void dn_hq_put_req(struct dn_hq *q, struct dn_hq_req *r)
{
	r->state = DN_HQ_REQ_FREE;
	r->next_free = q->free_list;
	q->free_list = r;
}

int dn_hq_submit(struct dn_hq *q, struct dn_hq_req *r, uint32_t incapsule_len)
{
	struct ibv_send_wr *bad;
	int ret;

	if (q->failed)
		return -EIO;
	r->sqe->cid = htole16(r->cid);
	r->deadline = q->tick;
	r->sge.addr = (uintptr_t)r->sqe;
	r->sge.length = (uint32_t)sizeof(struct nvme_sqe) + incapsule_len;
	r->sge.lkey = q->cap_mr->lkey;
	memset(&r->wr, 0, sizeof(r->wr));
	r->wr.wr_id = r->cid;
	r->wr.sg_list = &r->sge;
	r->wr.num_sge = 1;
	r->wr.opcode = IBV_WR_SEND;
	r->wr.send_flags = IBV_SEND_SIGNALED;
	if (q->batching) {
		/* counted in flight now: a failed flush leaves it to dn_hq_abort_all() */
		if (q->batch_tail)
			q->batch_tail->next = &r->wr;
		else
			q->batch_head = &r->wr;
		q->batch_tail = &r->wr;
		q->batch_len++;
		q->nr_inflight++;
		return 0;
	}
	ret = dn_ibv_post_send(q->id->qp, &r->wr, &bad);
	if (ret)
		return ret;
	q->sends_posted++;
	q->nr_inflight++;
	return 0;
}

int dn_hq_flush(struct dn_hq *q)
{
	struct ibv_send_wr *head = q->batch_head, *bad = NULL, *wr;
	unsigned int len = q->batch_len;
	int ret;

	if (!head)
		return 0;
	q->batch_head = q->batch_tail = NULL;
	q->batch_len = 0;
	if (q->failed)
		return -EIO;
	ret = dn_ibv_post_send(q->id->qp, head, &bad);
	if (ret) {
		/* the work requests before the bad one were posted: their flushes will come */
		for (len = 0, wr = head; wr && wr != bad; wr = wr->next)
			len++;
		dn_hq_fail(q);
	}
	q->sends_posted += len;
	return ret;
}

static void complete(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st)
{
	q->nr_inflight--;
	if (r->done)
		r->done(q, r, st, &r->cqe);
	dn_hq_put_req(q, r);
}

void dn_hq_fail(struct dn_hq *q)
{
	struct ibv_qp_attr attr = {.qp_state = IBV_QPS_ERR};

	if (q->failed)
		return;
	q->failed = true;
	if (q->id && q->id->qp)
		ibv_modify_qp(q->id->qp, &attr, IBV_QP_STATE);
}

int dn_hq_process(struct dn_hq *q)
{
	struct ibv_wc wc[32];
	int n, i, total = 0;

	while ((n = dn_ibv_poll_cq(q->cq, 32, wc)) > 0) {
		for (i = 0; i < n; i++) {
			struct dn_hq_req *r;

			if (wc[i].wr_id & DN_HQ_WRID_RECV)
				q->recvs_posted--;
			else
				q->sends_posted--;
			if (wc[i].status != IBV_WC_SUCCESS) {
				if (wc[i].status != IBV_WC_WR_FLUSH_ERR)
					dn_warn("queue %u to %s: work completion error: %s", q->qid,
						q->peer, ibv_wc_status_str(wc[i].status));
				dn_hq_fail(q);
				continue;
			}
			if (wc[i].wr_id & DN_HQ_WRID_RECV) {
				uint16_t ri = (uint16_t)(wc[i].wr_id & 0xffff), cid;

				if (ri >= q->depth)
					continue;
				cid = le16toh(q->rsps[ri].cid);
				/* untrusted: a CID we did not send is a protocol error */
				if (cid >= q->depth || q->reqs[cid].state != DN_HQ_REQ_INFLIGHT ||
				    q->reqs[cid].rsp_done) {
					dn_warn("queue %u: response for unknown CID %u", q->qid,
						cid);
					dn_hq_fail(q);
					continue;
				}
				r = &q->reqs[cid];
				r->cqe = q->rsps[ri];
				r->rsp_done = true;
				if (post_recv(q, ri))
					dn_hq_fail(q);
			} else {
				if (wc[i].wr_id >= q->depth)
					continue;
				r = &q->reqs[wc[i].wr_id];
				r->send_done = true;
			}
			if (r->send_done && r->rsp_done)
				complete(q, r, nvme_cqe_status(&r->cqe));
			total++;
		}
	}
	if (n < 0)
		dn_hq_fail(q);
	return q->failed ? -EIO : total;
}

int dn_hq_handle_event(struct dn_hq *q)
{
	struct ibv_cq *cq;

	if (!dn_ibv_get_cq_event(q->cc, &cq)) {
		ibv_ack_cq_events(cq, 1);
		dn_ibv_req_notify_cq(cq, 0);
	}
	return dn_hq_process(q);
}

int dn_hq_cm_check(struct dn_hq *q)
{
	struct rdma_cm_event *ev;
	int ret = 0;

	if (!q->ec)
		return 0;
	while (!dn_rdma_get_cm_event(q->ec, &ev)) {
		switch (ev->event) {
		case RDMA_CM_EVENT_DEVICE_REMOVAL:
			ret = -ENODEV;
			q->connected = false;
			break;
		case RDMA_CM_EVENT_DISCONNECTED:
		case RDMA_CM_EVENT_TIMEWAIT_EXIT:
		case RDMA_CM_EVENT_ADDR_CHANGE:
			if (!ret)
				ret = -ENOTCONN;
			q->connected = false;
			break;
		default:
			dn_dbg("queue %u to %s: rdma_cm event %s ignored", q->qid, q->peer,
			       rdma_event_str(ev->event));
		}
		dn_rdma_ack_cm_event(ev);
	}
	return ret;
}

/*
 * After dn_hq_fail(): reap until every posted work request has completed (the flushes of a QP
 * in error), so that no capsule or response buffer is still the device's, or until timeout_ms.
 * The commands in flight do not complete this way (a flushed send has no response): they are
 * left to dn_hq_abort_all().
 */
static void wait_flushed(struct dn_hq *q, int timeout_ms)
{
	int64_t end = dn_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = q->cc->fd, .events = POLLIN};

		dn_hq_process(q);
		if (!q->sends_posted && !q->recvs_posted)
			return;
		if (dn_now_ms() >= end) {
			dn_dbg("queue %u to %s: %u sends and %u receives not flushed after %d ms",
			       q->qid, q->peer, q->sends_posted, q->recvs_posted, timeout_ms);
			return;
		}
		if (poll(&pfd, 1, 50) > 0)
			dn_hq_handle_event(q);
	}
}

void dn_hq_abort_all(struct dn_hq *q)
{
	uint16_t i;

	if (!q->reqs)
		return;
	for (i = 0; i < q->depth; i++) {
		struct dn_hq_req *r = &q->reqs[i];

		if (r->state != DN_HQ_REQ_INFLIGHT)
			continue;
		memset(&r->cqe, 0, sizeof(r->cqe));
		complete(q, r, NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
	}
}

void dn_hq_destroy(struct dn_hq *q)
{
	int ret;

	if (!q->id)
		return;
	if (q->connected)
		dn_rdma_disconnect(q->id);
	dn_hq_fail(q);
	/* chained but never posted: no completion will come for these, abort_all takes them */
	q->batch_head = q->batch_tail = NULL;
	q->batch_len = 0;
	/* the QP is in error: wait (briefly) for the flushes so no buffer is still in use */
	wait_flushed(q, 1000);
	dn_hq_abort_all(q);
	rdma_destroy_qp(q->id);
	free_buffers(q);
	/* what fails here stays open, and keeps a removed RDMA device from going: say so */
	ret = dn_ibv_destroy_cq(q->cq);
	if (ret)
		dn_warn("queue %u to %s: destroying its CQ: %s", q->qid, q->peer, strerror(-ret));
	ret = dn_ibv_destroy_comp_channel(q->cc);
	if (ret)
		dn_warn("queue %u to %s: destroying its completion channel: %s", q->qid, q->peer,
			strerror(-ret));
	ret = dn_ibv_dealloc_pd(q->pd);
	if (ret)
		dn_warn("queue %u to %s: freeing its protection domain: %s", q->qid, q->peer,
			strerror(-ret));
	dn_rdma_destroy_id(q->id);
	rdma_destroy_event_channel(q->ec);
	memset(q, 0, sizeof(*q));
}

struct sync_wait {
	bool done;
	nvme_status_t st;
	struct nvme_cqe cqe;
};

static void sync_done(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st,
		      const struct nvme_cqe *cqe)
{
	struct sync_wait *w = (struct sync_wait *)r->ctx;

	w->done = true;
	w->st = st;
	w->cqe = *cqe;
}

int dn_hq_exec(struct dn_hq *q, struct nvme_sqe *sqe, void *data, uint32_t len, bool to_ctrl,
	       struct nvme_cqe *cqe, nvme_status_t *st, int timeout_ms, struct dn_err *e)
{
	struct sync_wait w = {0};
	struct dn_hq_req *r;
	int64_t end = dn_now_ms() + timeout_ms;
	int ret;

	if (len > q->data_len)
		return dn_err_set(e, -EINVAL, "internal: %u bytes exceed the queue data buffer",
				  len);
	r = dn_hq_get_req(q);
	if (!r)
		return dn_err_set(e, -EBUSY, "queue %u to %s has no free command slot", q->qid,
				  q->peer);
	memcpy(r->sqe, sqe, sizeof(*sqe));
	if (len) {
		if (to_ctrl)
			memcpy(q->data, data, len);
		nvme_sgl_set_keyed(&r->sqe->common.dptr, (uintptr_t)q->data, len, q->data_mr->rkey,
				   false);
	} else {
		nvme_sgl_set_null(&r->sqe->common.dptr);
	}
	r->done = sync_done;
	r->ctx = (uintptr_t)&w;
	ret = dn_hq_submit(q, r, 0);
	if (ret) {
		dn_hq_put_req(q, r);
		return dn_err_set(e, ret, "sending a command to %s: %s", q->peer, strerror(-ret));
	}
	for (;;) {
		struct pollfd pfd = {.fd = q->cc->fd, .events = POLLIN};
		int64_t left;

		ret = dn_hq_process(q);
		if (w.done)
			break;
		if (ret < 0)
			goto out_fail;
		left = end - dn_now_ms();
		if (left <= 0) {
			ret = dn_err_set(e, -ETIMEDOUT,
					 "%s did not answer command opcode 0x%02x within %d ms",
					 q->peer, sqe->opcode, timeout_ms);
			goto out_fail;
		}
		if (poll(&pfd, 1, (int)left) > 0)
			dn_hq_handle_event(q);
	}
	if (len && !to_ctrl && !w.st)
		memcpy(data, q->data, len);
	if (cqe)
		*cqe = w.cqe;
	*st = w.st;
	return 0;

out_fail:
	/* the slot (and w, on our stack) must not outlive this call: fail the queue and flush */
	dn_hq_fail(q);
	wait_flushed(q, 1000);
	if (!w.done)
		dn_hq_abort_all(q);
	if (ret != -ETIMEDOUT)
		ret = dn_err_set(e, -EIO, "the RDMA connection to %s failed", q->peer);
	return ret;
}
