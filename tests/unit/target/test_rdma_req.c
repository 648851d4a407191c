// SPDX-License-Identifier: MIT
/*
 * Unit tests of target/rdma_req.c: the NVMe/RDMA request state machine stepped with fake
 * verbs (post_send/post_recv/poll_cq recorded through the context ops the inline verbs calls
 * use), a fake core and a fake poll group. Each test checks the exact work requests posted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "target/rdma.h"
#include "target/target.h"

#include "fake_pg_defer.h"

#define NR 4
/* data buffers in the pool unless a test makes it smaller */
#define NR_BUFS 8

/* ---- recorded work requests ---- */
struct sent {
	enum ibv_wr_opcode opcode;
	unsigned int flags;
	uint64_t remote_addr;
	uint32_t rkey, invalidate_rkey;
	uint64_t sge_addr;
	uint32_t sge_len, sge_lkey;
	uint64_t wr_id;
};
static struct sent sent[64];
static int nr_sent;
static uint64_t recv_posted[64];
static int nr_recv_posted;
static struct ibv_wc wcs[16];
static int nr_wcs;

static int fake_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	for (; wr; wr = wr->next) {
		struct sent *s = &sent[nr_sent++];

		s->opcode = wr->opcode;
		s->flags = wr->send_flags;
		s->remote_addr = wr->wr.rdma.remote_addr;
		s->rkey = wr->wr.rdma.rkey;
		s->invalidate_rkey = wr->opcode == IBV_WR_SEND_WITH_INV ? wr->invalidate_rkey : 0;
		s->sge_addr = wr->sg_list[0].addr;
		s->sge_len = wr->sg_list[0].length;
		s->sge_lkey = wr->sg_list[0].lkey;
		s->wr_id = wr->wr_id;
	}
	return 0;
}

static int fake_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	for (; wr; wr = wr->next)
		recv_posted[nr_recv_posted++] = wr->wr_id;
	return 0;
}

static int fake_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	int i = 0;

	while (i < n && nr_wcs) {
		wc[i++] = wcs[0];
		memmove(wcs, wcs + 1, sizeof(wcs[0]) * (size_t)--nr_wcs);
	}
	return i;
}

static int fake_req_notify_cq(struct ibv_cq *cq, int solicited)
{
	return 0;
}

/* ---- memory registrations (swapped in at link time: -Wl,--wrap) ---- */
/* the __wrap_ functions are called only by the linker's redirection: no prototypes */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
static struct ibv_pd pd;
static struct ibv_mr mrs[NR];
static bool mr_live[NR];
static int reg_calls, dereg_calls, reg_ret;
static void *reg_addr;
static size_t reg_len;
static int reg_access;

int __wrap_dn_ibv_reg_mr(struct ibv_pd *p, void *addr, size_t len, int access, struct ibv_mr **out)
{
	int i;

	reg_calls++;
	assert_ptr_equal(p, &pd);
	reg_addr = addr;
	reg_len = len;
	reg_access = access;
	if (reg_ret)
		return reg_ret;
	for (i = 0; i < NR && mr_live[i]; i++)
		;
	assert_true(i < NR);
	mr_live[i] = true;
	mrs[i].lkey = 0xa000u + (uint32_t)i;
	mrs[i].addr = addr;
	mrs[i].length = len;
	*out = &mrs[i];
	return 0;
}

int __wrap_dn_ibv_dereg_mr(struct ibv_mr *mr)
{
	int i = (int)(mr - mrs);

	assert_true(i >= 0 && i < NR && mr_live[i]);
	mr_live[i] = false;
	dereg_calls++;
	return 0;
}

static int live_mrs(void)
{
	int i, n = 0;

	for (i = 0; i < NR; i++)
		n += mr_live[i];
	return n;
}

/* ---- fake queue lifetime (rdma_queue.c) ---- */
static int lost_calls, finish_calls, destroy_calls;

void dn_rdma_queue_lost(struct dn_rdma_queue *rq, const char *why)
{
	lost_calls++;
}

void dn_rdma_queue_try_finish(struct dn_rdma_queue *rq)
{
	finish_calls++;
}

void dn_rdma_queue_destroy(struct dn_rdma_queue *rq)
{
	destroy_calls++;
}

/* ---- fake core ---- */
static bool exec_async;
static struct dn_tgt_req *held;
static int executed;
static void *exec_data;
static struct dn_tgt_req *exec_log[16]; /* in the order they executed */
static uint8_t *exec_medium;		/* reads offer to be sent from here (a backend's memory) */
static int send_from_ret;		/* what the offer got */

bool dn_req_init(struct dn_tgt_req *req, struct dn_tgt_queue *q, uint32_t incapsule_len)
{
	nvme_status_t st;

	req->queue = q;
	if (req->sqe->opcode == 0xff) {
		dn_req_complete(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
		return false;
	}
	st = nvme_sgl_parse(req->sqe, incapsule_len, req->data_cap, &req->sgl);
	if (st) {
		dn_req_complete(req, st);
		return false;
	}
	req->data_len = req->sgl.length;
	req->dir = req->sqe->opcode == nvme_cmd_write  ? DN_XFER_H2C
		   : req->sqe->opcode == nvme_cmd_read ? DN_XFER_C2H
						       : DN_XFER_NONE;
	return true;
}

void dn_req_execute(struct dn_tgt_req *req)
{
	exec_log[executed++] = req;
	exec_data = req->data;
	if (req->dir == DN_XFER_C2H && exec_medium)
		send_from_ret = req->queue->ops->send_from(req, exec_medium);
	if (req->dir == DN_XFER_C2H && (!exec_medium || send_from_ret))
		memset(req->data, 0xab, req->data_len);
	if (exec_async)
		held = req;
	else
		dn_req_complete(req, 0);
}

void dn_req_complete(struct dn_tgt_req *req, nvme_status_t status)
{
	req->cqe->cid = req->sqe->cid;
	req->cqe->sq_id = htole16(req->queue->qid);
	nvme_cqe_set_status(req->cqe, status);
	req->queue->ops->queue_response(req);
}

/* ---- a queue with NR receives and NR requests, as rdma_queue.c lays it out ---- */
static const struct dn_tgt_transport_ops ops = {
	.queue_response = dn_rdma_queue_response,
	.send_from = dn_rdma_send_from,
};
static struct dn_rdma_dev dev = {.pd = &pd};
static struct ibv_context ctx;
static struct ibv_qp qp;
static struct ibv_cq cq;
static struct dn_rdma_queue *rq, *rq2; /* rq2: another queue of the group, when a test wants it */
static struct dn_rdma_pool pool;
static void *pool_mem;

/* the pool over unregistered memory, as rdma_pool.c lays it out */
static void pool_setup(unsigned int nr_bufs)
{
	if (pool_mem) {
		dn_rdma_pool_release(&pool);
		free(pool_mem);
	}
	assert_int_equal(posix_memalign(&pool_mem, 4096, (size_t)nr_bufs * DN_TGT_MAX_XFER), 0);
	memset(&pool, 0, sizeof(pool));
	assert_int_equal(dn_rdma_pool_init(&pool, pool_mem, nr_bufs, 0x5678), 0);
}

static struct dn_rdma_queue *new_queue(uint16_t qid)
{
	struct dn_rdma_queue *q = calloc(1, sizeof(*q));

	q->q.ops = &ops;
	q->q.qid = qid;
	q->dev = &dev;
	q->qp = &qp;
	q->cq = &cq;
	q->nr_recv = q->nr_reqs = NR;
	q->initiator_depth = 16;
	q->adopted = true;
	q->pending_tail = &q->pending;
	q->read_wait_tail = &q->read_wait;
	q->recv_tail = &q->recv_head;
	q->send_tail = &q->send_head;
	q->flush.fn = dn_rdma_flush;
	q->repoll.fn = dn_rdma_repoll;
	q->pool = &pool;
	q->recvs = calloc(NR, sizeof(*q->recvs));
	q->reqs = calloc(NR, sizeof(*q->reqs));
	/* the queue's real layout and work-request wiring, over unregistered memory */
	q->mem_len = dn_rdma_queue_mem_len(q);
	assert_int_equal(posix_memalign(&q->mem, 4096, q->mem_len), 0);
	memset(q->mem, 0, q->mem_len);
	dn_rdma_queue_layout(q, 0x1234);
	return q;
}

static int setup(void **state)
{
	nr_sent = nr_recv_posted = nr_wcs = 0;
	lost_calls = finish_calls = destroy_calls = executed = 0;
	exec_async = false;
	held = NULL;
	exec_medium = NULL;
	send_from_ret = 1;
	reg_calls = dereg_calls = reg_ret = 0;
	memset(mr_live, 0, sizeof(mr_live));
	fake_pg_deferred_reset();
	ctx.ops.post_send = fake_post_send;
	ctx.ops.post_recv = fake_post_recv;
	ctx.ops.poll_cq = fake_poll_cq;
	ctx.ops.req_notify_cq = fake_req_notify_cq;
	qp.context = &ctx;
	cq.context = &ctx;

	pool_setup(NR_BUFS);
	rq = new_queue(1);
	rq2 = NULL;
	return 0;
}

static void free_queue(struct dn_rdma_queue *q)
{
	int i;

	/* a request gives its buffer back when it ends, or when its READ does */
	for (i = 0; i < NR; i++)
		if (q->reqs[i].state == DN_RDMA_REQ_FREE && !q->reqs[i].read_posted)
			assert_null(q->reqs[i].buf);
	free(q->mem);
	free(q->recvs);
	free(q->reqs);
	free(q);
}

static int teardown(void **state)
{
	unsigned int held_bufs = 0;
	int i;

	/* every buffer is free or held by exactly one request */
	for (i = 0; i < NR; i++) {
		held_bufs += rq->reqs[i].buf != NULL;
		held_bufs += rq2 && rq2->reqs[i].buf != NULL;
	}
	assert_int_equal(pool.nr_free + held_bufs, pool.nr_bufs);
	/* every registration of a read sent in place was let go of */
	assert_int_equal(live_mrs(), 0);
	free_queue(rq);
	if (rq2)
		free_queue(rq2);
	dn_rdma_pool_release(&pool);
	free(pool_mem);
	pool_mem = NULL;
	return 0;
}

/* A capsule lands in receive i of queue q: opcode, cid, DPTR. */
static void arrive_on(struct dn_rdma_queue *q, int i, uint8_t opcode, uint16_t cid,
		      const struct nvme_sgl_desc *sgl, uint32_t incapsule)
{
	struct nvme_sqe *sqe = (struct nvme_sqe *)q->recvs[i].buf;
	struct ibv_wc *wc = &wcs[nr_wcs++];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = opcode;
	sqe->flags = NVME_CMD_PSDT_SGL_MPTR_CONTIG;
	sqe->cid = htole16(cid);
	sqe->common.nsid = htole32(1);
	sqe->common.dptr = *sgl;
	memset(wc, 0, sizeof(*wc));
	wc->wr_id = (uintptr_t)&q->recvs[i];
	wc->status = IBV_WC_SUCCESS;
	wc->opcode = IBV_WC_RECV;
	wc->byte_len = 64 + incapsule;
}

static void arrive(int i, uint8_t opcode, uint16_t cid, const struct nvme_sgl_desc *sgl,
		   uint32_t incapsule)
{
	arrive_on(rq, i, opcode, cid, sgl, incapsule);
}

static void complete_wr(struct ibv_send_wr *wr, enum ibv_wc_status status)
{
	struct ibv_wc *wc = &wcs[nr_wcs++];

	memset(wc, 0, sizeof(*wc));
	wc->wr_id = (uintptr_t)wr;
	wc->status = status;
}

/* The completions queued so far all belong to q (the fake CQ is shared). */
static void step_on(struct dn_rdma_queue *q)
{
	dn_rdma_poll_cq(q, false);
	fake_pg_run_deferred();
}

static void step(void)
{
	step_on(rq);
}

static struct dn_rdma_req *req_of_on(struct dn_rdma_queue *q, uint16_t cid)
{
	int i;

	for (i = 0; i < NR; i++)
		if (q->reqs[i].state != DN_RDMA_REQ_FREE && q->reqs[i].req.sqe &&
		    le16toh(q->reqs[i].req.sqe->cid) == cid)
			return &q->reqs[i];
	return NULL;
}

static struct dn_rdma_req *req_of(uint16_t cid)
{
	return req_of_on(rq, cid);
}

static void test_read_keyed_write_then_send_with_inv(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	nvme_sgl_set_keyed(&sgl, 0x10000, 4096, 0x1234, true);
	arrive(0, nvme_cmd_read, 7, &sgl, 0);
	step();
	r = req_of(7);
	assert_non_null(r);
	assert_int_equal(executed, 1);
	assert_int_equal(r->state, DN_RDMA_REQ_SENDING);
	/* the receive went back before the response */
	assert_int_equal(nr_recv_posted, 1);
	assert_int_equal(recv_posted[0], (uintptr_t)&rq->recvs[0]);
	assert_int_equal(nr_sent, 2);
	assert_int_equal(sent[0].opcode, IBV_WR_RDMA_WRITE);
	assert_int_equal(sent[0].flags, 0);
	assert_int_equal(sent[0].remote_addr, 0x10000);
	assert_int_equal(sent[0].rkey, 0x1234);
	assert_int_equal(sent[0].sge_len, 4096);
	assert_int_equal(sent[0].sge_addr, (uintptr_t)r->buf);
	assert_int_equal(sent[1].opcode, IBV_WR_SEND_WITH_INV);
	assert_int_equal(sent[1].flags, IBV_SEND_SIGNALED | IBV_SEND_INLINE);
	assert_int_equal(sent[1].invalidate_rkey, 0x1234);
	assert_int_equal(sent[1].sge_len, 16);
	assert_int_equal(le16toh(r->req.cqe->cid), 7);
	assert_int_equal(nvme_cqe_status(r->req.cqe), 0);

	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step();
	assert_int_equal(r->state, DN_RDMA_REQ_FREE);
	assert_int_equal(rq->nr_busy, 0);
	assert_int_equal(lost_calls, 0);
}

/*
 * A large read of a backend that offers its memory: the RDMA WRITE goes out from that memory
 * under a registration of its own (read-only access, the read's length), not from a pool
 * buffer; the registration lasts until the response's SEND has completed.
 */
static void test_read_sent_from_backend_memory(void **state)
{
	static uint8_t medium[DN_TGT_MAX_XFER];
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	exec_medium = medium;
	nvme_sgl_set_keyed(&sgl, 0x20000, DN_RDMA_SEND_FROM_MIN, 0x4321, false);
	arrive(0, nvme_cmd_read, 7, &sgl, 0);
	step();
	r = req_of(7);
	assert_int_equal(send_from_ret, 0);
	assert_int_equal(reg_calls, 1);
	assert_ptr_equal(reg_addr, medium);
	assert_int_equal(reg_len, DN_RDMA_SEND_FROM_MIN);
	assert_int_equal(reg_access, 0);
	assert_int_equal(nr_sent, 2);
	assert_int_equal(sent[0].opcode, IBV_WR_RDMA_WRITE);
	assert_int_equal(sent[0].sge_addr, (uintptr_t)medium);
	assert_int_equal(sent[0].sge_lkey, mrs[0].lkey);
	assert_int_equal(sent[0].sge_len, DN_RDMA_SEND_FROM_MIN);
	assert_int_equal(sent[0].remote_addr, 0x20000);
	assert_int_equal(sent[0].rkey, 0x4321);
	assert_int_equal(sent[1].opcode, IBV_WR_SEND);
	/* the device reads it until the SEND behind the WRITE completes */
	assert_int_equal(live_mrs(), 1);
	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step();
	assert_int_equal(r->state, DN_RDMA_REQ_FREE);
	assert_int_equal(dereg_calls, 1);
	assert_null(r->send_mr);

	/* the next read through the same request slot registers afresh */
	arrive(1, nvme_cmd_read, 8, &sgl, 0);
	step();
	assert_int_equal(reg_calls, 2);
	r = req_of(8);
	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step();
	assert_int_equal(dereg_calls, 2);
}

/*
 * Offers the transport turns down, so the backend copies: a read under DN_RDMA_SEND_FROM_MIN
 * (the copy is cheaper), and memory that cannot be registered (pages past a truncated end).
 * Either way the WRITE goes out from the pool buffer with the pool's key.
 */
static void test_read_send_from_refused(void **state)
{
	static uint8_t medium[DN_TGT_MAX_XFER];
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	exec_medium = medium;
	nvme_sgl_set_keyed(&sgl, 0x20000, DN_RDMA_SEND_FROM_MIN - 4096, 0x4321, false);
	arrive(0, nvme_cmd_read, 7, &sgl, 0);
	step();
	assert_int_equal(send_from_ret, -EOPNOTSUPP);
	assert_int_equal(reg_calls, 0);
	r = req_of(7);
	assert_int_equal(sent[0].sge_addr, (uintptr_t)r->buf);
	assert_int_equal(sent[0].sge_lkey, 0x5678);
	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step();

	reg_ret = -EFAULT;
	nvme_sgl_set_keyed(&sgl, 0x20000, DN_TGT_MAX_XFER, 0x4321, false);
	arrive(1, nvme_cmd_read, 8, &sgl, 0);
	step();
	assert_int_equal(send_from_ret, -EFAULT);
	assert_int_equal(reg_calls, 1);
	r = req_of(8);
	assert_null(r->send_mr);
	assert_int_equal(sent[2].sge_addr, (uintptr_t)r->buf);
	assert_int_equal(sent[2].sge_lkey, 0x5678);
	assert_int_equal(sent[2].sge_len, DN_TGT_MAX_XFER);
	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step();
	assert_int_equal(dereg_calls, 0);
}

/*
 * A registration is let go of however the request ends: with an error status (no data sent),
 * dropped by a dying queue, or still sending when the queue's QP is destroyed.
 */
static void test_send_from_released_on_every_end(void **state)
{
	static uint8_t medium[DN_TGT_MAX_XFER];
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	exec_medium = medium;
	exec_async = true;
	nvme_sgl_set_keyed(&sgl, 0x20000, DN_TGT_MAX_XFER, 0x4321, false);

	/* registered, then the command fails: only the response goes out */
	arrive(0, nvme_cmd_read, 1, &sgl, 0);
	step();
	assert_int_equal(live_mrs(), 1);
	dn_req_complete(held, NVME_STATUS_DNR(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
	fake_pg_run_deferred();
	assert_int_equal(nr_sent, 1);
	assert_int_equal(sent[0].opcode, IBV_WR_SEND);
	r = req_of(1);
	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step();
	assert_int_equal(live_mrs(), 0);

	/* registered, and the queue dies before the response: dropped, let go of */
	arrive(1, nvme_cmd_read, 2, &sgl, 0);
	step();
	assert_int_equal(live_mrs(), 1);
	rq->dying = true;
	dn_req_complete(held, 0);
	fake_pg_run_deferred();
	assert_int_equal(nr_sent, 1);
	assert_int_equal(live_mrs(), 0);

	/* sending when the queue dies and is destroyed before the SEND's completion */
	rq->dying = false;
	arrive(2, nvme_cmd_read, 3, &sgl, 0);
	step();
	dn_req_complete(held, 0);
	fake_pg_run_deferred();
	r = req_of(3);
	assert_int_equal(r->state, DN_RDMA_REQ_SENDING);
	rq->dying = true;
	dn_rdma_abort_waiting(rq);
	assert_int_equal(live_mrs(), 1); /* the RDMA WRITE may still read it */
	dn_rdma_release_held_bufs(rq);
	assert_int_equal(live_mrs(), 0);
	assert_int_equal(dereg_calls, 3);
}

static void test_write_keyed_reads_before_execute(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	nvme_sgl_set_keyed(&sgl, 0xabc000, 8192, 0x55, false);
	arrive(1, nvme_cmd_write, 9, &sgl, 0);
	step();
	r = req_of(9);
	assert_non_null(r);
	assert_int_equal(r->state, DN_RDMA_REQ_READING);
	assert_int_equal(executed, 0);
	assert_int_equal(nr_sent, 1);
	assert_int_equal(sent[0].opcode, IBV_WR_RDMA_READ);
	assert_int_equal(sent[0].flags, IBV_SEND_SIGNALED);
	assert_int_equal(sent[0].remote_addr, 0xabc000);
	assert_int_equal(sent[0].rkey, 0x55);
	assert_int_equal(sent[0].sge_len, 8192);
	assert_int_equal(nr_recv_posted, 0);

	complete_wr(&r->rdma_wr, IBV_WC_SUCCESS);
	step();
	assert_int_equal(executed, 1);
	assert_ptr_equal(exec_data, r->buf);
	assert_int_equal(nr_sent, 2);
	assert_int_equal(sent[1].opcode, IBV_WR_SEND); /* no invalidation asked */
	assert_int_equal(nr_recv_posted, 1);
}

static void test_write_incapsule_used_in_place(void **state)
{
	struct nvme_sgl_desc sgl;

	nvme_sgl_set_inline(&sgl, 0, 4096);
	arrive(2, nvme_cmd_write, 3, &sgl, 4096);
	step();
	assert_int_equal(executed, 1);
	assert_ptr_equal(exec_data, rq->recvs[2].icd);
	assert_int_equal(nr_sent, 1); /* no READ: just the response */
	assert_int_equal(sent[0].opcode, IBV_WR_SEND);
}

static void test_refused_command_answered(void **state)
{
	struct nvme_sgl_desc sgl;
	struct nvme_cqe *cqe;

	nvme_sgl_set_null(&sgl);
	arrive(0, 0xff, 11, &sgl, 0);
	step();
	assert_int_equal(executed, 0);
	assert_int_equal(nr_sent, 1);
	assert_int_equal(sent[0].opcode, IBV_WR_SEND);
	cqe = (struct nvme_cqe *)(uintptr_t)sent[0].sge_addr;
	assert_int_equal(le16toh(cqe->cid), 11);
	assert_int_equal(nvme_cqe_status(cqe),
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE));
}

static void test_reads_limited_by_initiator_depth(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *a, *b;

	rq->initiator_depth = 1;
	nvme_sgl_set_keyed(&sgl, 0x1000, 4096, 1, false);
	arrive(0, nvme_cmd_write, 1, &sgl, 0);
	nvme_sgl_set_keyed(&sgl, 0x9000, 4096, 2, false);
	arrive(1, nvme_cmd_write, 2, &sgl, 0);
	step();
	a = req_of(1);
	b = req_of(2);
	assert_int_equal(a->state, DN_RDMA_REQ_READING);
	assert_int_equal(b->state, DN_RDMA_REQ_NEED_READ);
	assert_int_equal(nr_sent, 1);

	complete_wr(&a->rdma_wr, IBV_WC_SUCCESS);
	step();
	/* a answered, b's READ started */
	assert_int_equal(b->state, DN_RDMA_REQ_READING);
	assert_int_equal(nr_sent, 3);
	assert_int_equal(sent[1].opcode, IBV_WR_SEND);
	assert_int_equal(sent[2].opcode, IBV_WR_RDMA_READ);
	assert_int_equal(sent[2].remote_addr, 0x9000);
}

static void test_capsule_waits_for_a_free_request(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_tgt_req *first;
	int i;

	exec_async = true;
	nvme_sgl_set_null(&sgl);
	for (i = 0; i < NR; i++) {
		arrive(i, nvme_cmd_flush, (uint16_t)(100 + i), &sgl, 0);
		step();
	}
	first = held;
	assert_int_equal(executed, NR);
	assert_int_equal(rq->nr_busy, NR);
	/* every request busy: a fifth capsule (receive 0 reused) waits */
	arrive(0, nvme_cmd_flush, 200, &sgl, 0);
	step();
	assert_int_equal(executed, NR);
	assert_non_null(rq->pending);

	dn_req_complete(first, 0);
	fake_pg_run_deferred();
	assert_int_equal(nr_sent, 1);
	complete_wr(&dn_rdma_req(first)->send_wr, IBV_WC_SUCCESS);
	step();
	/* the SEND completion freed a request: the waiting capsule ran */
	assert_int_equal(executed, NR + 1);
	assert_null(rq->pending);
}

static void test_dying_queue_drops_responses(void **state)
{
	struct nvme_sgl_desc sgl;

	exec_async = true;
	nvme_sgl_set_null(&sgl);
	arrive(0, nvme_cmd_flush, 1, &sgl, 0);
	step();
	assert_int_equal(rq->nr_in_core, 1);
	rq->dying = true;
	dn_req_complete(held, 0);
	fake_pg_run_deferred();
	assert_int_equal(nr_sent, 0);
	assert_int_equal(rq->nr_in_core, 0);
	assert_int_equal(rq->nr_busy, 0);
	assert_true(finish_calls >= 1);
}

static void test_dying_queue_aborts_waiting_reads(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	nvme_sgl_set_keyed(&sgl, 0x1000, 4096, 1, false);
	arrive(0, nvme_cmd_write, 1, &sgl, 0);
	step();
	r = req_of(1);
	assert_int_equal(r->state, DN_RDMA_REQ_READING);
	rq->dying = true;
	dn_rdma_abort_waiting(rq);
	assert_int_equal(rq->nr_busy, 0);
	assert_int_equal(rq->reads_in_flight, 0);
	assert_int_equal(executed, 0);
	/* the device may still write into the buffer until the READ's completion is seen */
	assert_non_null(r->buf);
	assert_int_equal(pool.nr_free, NR_BUFS - 1);
	/* the READ's flush completion arriving later frees the buffer, and is not an error */
	complete_wr(&r->rdma_wr, IBV_WC_WR_FLUSH_ERR);
	step();
	assert_int_equal(lost_calls, 0);
	assert_null(r->buf);
	assert_int_equal(pool.nr_free, NR_BUFS);
}

static void test_wc_errors(void **state)
{
	struct ibv_wc *wc;

	/* a flushed receive is the consequence of a disconnect: nothing to report */
	wc = &wcs[nr_wcs++];
	memset(wc, 0, sizeof(*wc));
	wc->wr_id = (uintptr_t)&rq->recvs[0];
	wc->status = IBV_WC_WR_FLUSH_ERR;
	step();
	assert_int_equal(lost_calls, 0);
	/* a real error ends the queue */
	wc = &wcs[nr_wcs++];
	memset(wc, 0, sizeof(*wc));
	wc->wr_id = (uintptr_t)&rq->recvs[1];
	wc->status = IBV_WC_LOC_PROT_ERR;
	step();
	assert_int_equal(lost_calls, 1);
}

/*
 * A write's RDMA READ that fails: a real error (the host's key refused) is a data transfer
 * error and ends the queue; a flushed one (the queue is being disconnected) is aborted, which
 * the core does not log as a failed command.
 */
static void test_read_errors(void **state)
{
	struct nvme_sgl_desc sgl;
	struct nvme_cqe *cqe;
	struct dn_rdma_req *r;

	nvme_sgl_set_keyed(&sgl, 0x1000, 4096, 1, false);
	arrive(0, nvme_cmd_write, 1, &sgl, 0);
	step();
	r = req_of(1);
	complete_wr(&r->rdma_wr, IBV_WC_REM_ACCESS_ERR);
	step();
	assert_int_equal(executed, 0);
	assert_int_equal(lost_calls, 1);
	assert_int_equal(nr_sent, 2);
	assert_int_equal(sent[1].opcode, IBV_WR_SEND);
	cqe = (struct nvme_cqe *)(uintptr_t)sent[1].sge_addr;
	assert_int_equal(le16toh(cqe->cid), 1);
	assert_int_equal(nvme_cqe_status(cqe),
			 NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_DATA_XFER_ERROR));

	nvme_sgl_set_keyed(&sgl, 0x2000, 4096, 2, false);
	arrive(1, nvme_cmd_write, 2, &sgl, 0);
	step();
	r = req_of(2);
	assert_int_equal(r->state, DN_RDMA_REQ_READING);
	complete_wr(&r->rdma_wr, IBV_WC_WR_FLUSH_ERR);
	step();
	assert_int_equal(executed, 0);
	assert_int_equal(lost_calls, 1); /* reported by whatever caused the flush */
	assert_int_equal(nr_sent, 4);
	cqe = (struct nvme_cqe *)(uintptr_t)sent[3].sge_addr;
	assert_int_equal(le16toh(cqe->cid), 2);
	assert_int_equal(nvme_cqe_status(cqe), NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
}

static void test_short_capsule_ends_queue(void **state)
{
	struct nvme_sgl_desc sgl;

	nvme_sgl_set_null(&sgl);
	arrive(0, nvme_cmd_flush, 1, &sgl, 0);
	wcs[0].byte_len = 40;
	step();
	assert_int_equal(executed, 0);
	assert_int_equal(nr_sent, 0);
	assert_int_equal(lost_calls, 1);
}

static bool in_pool(const void *p)
{
	const uint8_t *b = p, *m = pool_mem;

	return b >= m && b < m + (size_t)pool.nr_bufs * DN_TGT_MAX_XFER &&
	       (size_t)(b - m) % DN_TGT_MAX_XFER == 0;
}

static void test_pool_buffer_taken_and_returned(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;
	uint8_t *buf;

	/* no data, and in-capsule data: no buffer from the pool */
	nvme_sgl_set_null(&sgl);
	arrive(0, nvme_cmd_flush, 1, &sgl, 0);
	nvme_sgl_set_inline(&sgl, 0, 4096);
	arrive(1, nvme_cmd_write, 2, &sgl, 4096);
	step();
	assert_int_equal(executed, 2);
	assert_int_equal(pool.nr_free, NR_BUFS);

	/* keyed C2H data: a buffer while the request lives */
	exec_async = true;
	nvme_sgl_set_keyed(&sgl, 0x20000, 65536, 0x77, false);
	arrive(2, nvme_cmd_read, 3, &sgl, 0);
	step();
	r = req_of(3);
	assert_non_null(r);
	buf = r->buf;
	assert_true(in_pool(buf));
	assert_ptr_equal(exec_data, buf);
	assert_int_equal(r->req.data_cap, DN_TGT_MAX_XFER);
	assert_int_equal(pool.nr_free, NR_BUFS - 1);
	dn_req_complete(held, 0);
	fake_pg_run_deferred();
	/* the RDMA WRITE leaves from the pool buffer with the pool's key, the CQE with the queue's
	 */
	assert_int_equal(nr_sent, 4);
	assert_int_equal(sent[2].opcode, IBV_WR_RDMA_WRITE);
	assert_int_equal(sent[2].sge_addr, (uintptr_t)buf);
	assert_int_equal(sent[2].sge_len, 65536);
	assert_int_equal(sent[2].sge_lkey, 0x5678);
	assert_int_equal(sent[3].opcode, IBV_WR_SEND);
	assert_int_equal(sent[3].sge_lkey, 0x1234);
	assert_int_equal(pool.nr_free, NR_BUFS - 1); /* the WRITE may still read it */

	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step();
	assert_int_equal(r->state, DN_RDMA_REQ_FREE);
	assert_null(r->buf);
	assert_int_equal(pool.nr_free, NR_BUFS);

	/* keyed H2C: the READ lands in a pool buffer, the one given back last */
	nvme_sgl_set_keyed(&sgl, 0x40000, 4096, 0x78, false);
	arrive(3, nvme_cmd_write, 4, &sgl, 0);
	step();
	r = req_of(4);
	assert_ptr_equal(r->buf, buf);
	assert_int_equal(sent[4].opcode, IBV_WR_RDMA_READ);
	assert_int_equal(sent[4].sge_addr, (uintptr_t)buf);
	assert_int_equal(sent[4].sge_lkey, 0x5678);
	assert_int_equal(pool.nr_free, NR_BUFS - 1);
}

/* Finish request r (executed, held by the fake core) on queue q: response, SEND completion. */
static void finish(struct dn_rdma_queue *q, struct dn_rdma_req *r)
{
	dn_req_complete(&r->req, 0);
	fake_pg_run_deferred();
	complete_wr(&r->send_wr, IBV_WC_SUCCESS);
	step_on(q);
}

static void test_pool_exhausted_requests_wait_in_order(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *a, *b, *c, *d;

	pool_setup(1);
	rq2 = new_queue(2);
	exec_async = true;
	nvme_sgl_set_keyed(&sgl, 0x1000, 4096, 1, false);
	arrive(0, nvme_cmd_read, 1, &sgl, 0);
	step();
	a = req_of(1);
	assert_non_null(a->buf);
	assert_int_equal(pool.nr_free, 0);
	/* the pool is empty: b (this queue), c (another queue of the group), d wait, in order */
	nvme_sgl_set_keyed(&sgl, 0x2000, 8192, 2, false);
	arrive(1, nvme_cmd_write, 2, &sgl, 0);
	step();
	nvme_sgl_set_keyed(&sgl, 0x3000, 4096, 3, false);
	arrive_on(rq2, 0, nvme_cmd_read, 3, &sgl, 0);
	step_on(rq2);
	nvme_sgl_set_keyed(&sgl, 0x4000, 4096, 4, false);
	arrive(2, nvme_cmd_write, 4, &sgl, 0);
	step();
	b = req_of(2);
	c = req_of_on(rq2, 3);
	d = req_of(4);
	assert_int_equal(b->state, DN_RDMA_REQ_NEED_BUFFER);
	assert_int_equal(c->state, DN_RDMA_REQ_NEED_BUFFER);
	assert_int_equal(d->state, DN_RDMA_REQ_NEED_BUFFER);
	assert_ptr_equal(pool.wait_head, b);
	assert_int_equal(nr_sent, 0);
	assert_int_equal(executed, 1);
	/* a command without data is not held up by the empty pool */
	nvme_sgl_set_null(&sgl);
	arrive(3, nvme_cmd_flush, 5, &sgl, 0);
	step();
	assert_int_equal(executed, 2);
	assert_int_equal(nr_sent, 0);

	/* a ends: its buffer goes to b, whose READ starts */
	finish(rq, a);
	assert_int_equal(b->state, DN_RDMA_REQ_READING);
	assert_int_equal(sent[nr_sent - 1].opcode, IBV_WR_RDMA_READ);
	assert_int_equal(sent[nr_sent - 1].remote_addr, 0x2000);
	assert_int_equal(sent[nr_sent - 1].sge_addr, (uintptr_t)pool_mem);
	assert_int_equal(c->state, DN_RDMA_REQ_NEED_BUFFER);
	assert_ptr_equal(pool.wait_head, c);
	assert_int_equal(pool.nr_free, 0);

	complete_wr(&b->rdma_wr, IBV_WC_SUCCESS);
	step();
	assert_ptr_equal(exec_log[2], &b->req);
	/* b ends: c, on the other queue, is next */
	finish(rq, b);
	assert_int_equal(executed, 4);
	assert_ptr_equal(exec_log[3], &c->req);
	assert_ptr_equal(c->buf, pool_mem);
	assert_int_equal(d->state, DN_RDMA_REQ_NEED_BUFFER);
	finish(rq2, c);
	assert_int_equal(d->state, DN_RDMA_REQ_READING);
	assert_int_equal(sent[nr_sent - 1].remote_addr, 0x4000);
	complete_wr(&d->rdma_wr, IBV_WC_SUCCESS);
	step();
	assert_ptr_equal(exec_log[4], &d->req);
	finish(rq, d);
	assert_null(pool.wait_head);
	assert_int_equal(pool.nr_free, 1);
	assert_int_equal(pool.nr_taken, 4);
	assert_int_equal(pool.nr_waited, 3);
	assert_int_equal(lost_calls, 0);
}

static void test_pool_dying_queue_with_waiters_returns_everything(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *a, *c;

	pool_setup(1);
	rq2 = new_queue(2);
	exec_async = true;
	nvme_sgl_set_keyed(&sgl, 0x1000, 4096, 1, false);
	arrive(0, nvme_cmd_read, 1, &sgl, 0);
	step();
	a = req_of(1);
	nvme_sgl_set_keyed(&sgl, 0x2000, 4096, 2, false);
	arrive(1, nvme_cmd_write, 2, &sgl, 0);
	step();
	nvme_sgl_set_keyed(&sgl, 0x3000, 4096, 3, false);
	arrive_on(rq2, 0, nvme_cmd_read, 3, &sgl, 0);
	step_on(rq2);
	nvme_sgl_set_keyed(&sgl, 0x4000, 4096, 4, false);
	arrive(2, nvme_cmd_read, 4, &sgl, 0);
	step();
	c = req_of_on(rq2, 3);
	assert_int_equal(rq->nr_busy, 3);

	/* rq goes away: its waiters end at once; the other queue's waiter stays in line */
	rq->dying = true;
	dn_rdma_abort_waiting(rq);
	assert_int_equal(rq->nr_busy, 1);
	assert_int_equal(rq->nr_in_core, 1);
	assert_ptr_equal(pool.wait_head, c);
	assert_null(c->buf_wait_next);
	assert_int_equal(executed, 1);

	/* a, with the core, comes back: nothing is sent, its buffer goes on to c */
	dn_req_complete(&a->req, 0);
	fake_pg_run_deferred();
	assert_int_equal(nr_sent, 0);
	assert_int_equal(rq->nr_busy, 0);
	assert_int_equal(rq->nr_in_core, 0);
	assert_true(finish_calls >= 1);
	assert_int_equal(executed, 2);
	assert_ptr_equal(exec_log[1], &c->req);
	assert_null(pool.wait_head);
	finish(rq2, c);
	assert_int_equal(pool.nr_free, 1);
	assert_int_equal(rq2->nr_busy, 0);
}

static void test_destroyed_qp_returns_buffers_of_unfinished_reads(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	pool_setup(1);
	rq2 = new_queue(2);
	nvme_sgl_set_keyed(&sgl, 0x1000, 4096, 1, false);
	arrive(0, nvme_cmd_write, 1, &sgl, 0);
	step();
	r = req_of(1);
	/* a request of another queue waits for the only buffer */
	nvme_sgl_set_keyed(&sgl, 0x2000, 4096, 2, false);
	arrive_on(rq2, 0, nvme_cmd_read, 2, &sgl, 0);
	step_on(rq2);
	assert_int_equal(executed, 0);
	rq->dying = true;
	dn_rdma_abort_waiting(rq);
	assert_int_equal(r->state, DN_RDMA_REQ_FREE);
	assert_int_equal(executed, 0); /* not while the READ may still land in the buffer */
	/* the QP is gone without the flush completion: the buffer moves on to the waiter */
	dn_rdma_release_held_bufs(rq);
	assert_null(r->buf);
	assert_int_equal(executed, 1);
	assert_ptr_equal(exec_data, pool_mem);
	finish(rq2, req_of_on(rq2, 2));
	assert_int_equal(pool.nr_free, 1);
}

static void test_destroyed_qp_returns_buffers_of_unfinished_sends(void **state)
{
	struct nvme_sgl_desc sgl;
	struct dn_rdma_req *r;

	nvme_sgl_set_keyed(&sgl, 0x1000, 65536, 1, false);
	arrive(0, nvme_cmd_read, 1, &sgl, 0);
	step();
	r = req_of(1);
	assert_int_equal(r->state, DN_RDMA_REQ_SENDING);
	assert_int_equal(pool.nr_free, NR_BUFS - 1);
	/* the queue dies and is destroyed before the SEND's completion was polled */
	rq->dying = true;
	dn_rdma_abort_waiting(rq);
	assert_int_equal(pool.nr_free, NR_BUFS - 1); /* the RDMA WRITE may still read it */
	dn_rdma_release_held_bufs(rq);
	assert_null(r->buf);
	assert_int_equal(pool.nr_free, NR_BUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_keyed_write_then_send_with_inv, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_sent_from_backend_memory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_send_from_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_from_released_on_every_end, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_keyed_reads_before_execute, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_incapsule_used_in_place, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refused_command_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_limited_by_initiator_depth, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_capsule_waits_for_a_free_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dying_queue_drops_responses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dying_queue_aborts_waiting_reads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_destroyed_qp_returns_buffers_of_unfinished_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_destroyed_qp_returns_buffers_of_unfinished_sends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wc_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_capsule_ends_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_buffer_taken_and_returned, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pool_exhausted_requests_wait_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_pool_dying_queue_with_waiters_returns_everything, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
