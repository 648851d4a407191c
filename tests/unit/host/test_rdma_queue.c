// SPDX-License-Identifier: MIT
/*
 * Unit tests of host/rdma_queue.c: an NVMe/RDMA queue of the initiator against a fake RDMA
 * stack. The rdma_cm and verbs calls the file makes through common/rdma_util.h are replaced at
 * link time (-Wl,--wrap, see CMakeLists.txt); the inline verbs (post, poll) go through the fake
 * context's ops. The fake keeps count of every object it hands out, so each test also checks
 * that what a connect made, a failed connect or a destroy gave back. Covered: the NVMe/RDMA
 * private data, how each connection failure is reported (errno, message, backoff cause), the
 * unwinding after a failure at every setup step, sends and batches, responses as untrusted
 * input, work-completion errors, and synchronous commands with their timeout.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <cmocka.h>

#include "common/rdma_util.h"
#include "host/backoff.h"
#include "host/rdma_queue.h"

/* the __wrap_ functions below are called only by the linker's redirection: no prototypes */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define DEPTH	 4
#define INCAP	 256
#define DATA_LEN 4096

/* ---- the fake RDMA stack ---- */
static struct ibv_context ctx;
static struct ibv_pd pd;
static struct ibv_qp qp;
static struct ibv_cq cq;
static struct ibv_comp_channel cc;
static struct rdma_event_channel ec;
static struct rdma_cm_id id;

/* objects handed out and not yet given back */
static int live_ec, live_id, live_pd, live_cc, live_cq, live_qp, live_mr;
static int nr_mr_made;

/* the setup call that fails (with -ENOMEM), counted in the order dn_hq_connect() calls them */
enum step {
	S_NONE,
	S_EC,
	S_ID,
	S_RESOLVE_ADDR,
	S_RESOLVE_ROUTE,
	S_PD,
	S_CC,
	S_CQ,
	S_NOTIFY,
	S_QP,
	S_MR_CAP,
	S_MR_RSP,
	S_MR_DATA,
	S_MR_IO,
	S_RECV,
	S_CONNECT,
	S_LAST,
};
static enum step fail_step;

/* CM events: resolve_addr, resolve_route and connect each queue the answer a test sets */
struct answer {
	enum rdma_cm_event_type event; /* RDMA_CM_EVENT_TIMEWAIT_EXIT here means: no answer */
	int status;
	const void *pdata;
	uint8_t pdata_len;
};
#define NO_ANSWER RDMA_CM_EVENT_TIMEWAIT_EXIT
static struct answer addr_answer, route_answer, connect_answer;
static struct rdma_cm_event events[16];
static int nr_events, events_got, events_acked;
static int resolve_addr_ret; /* a synchronous failure of rdma_resolve_addr */

/* what the connect sent */
static struct nvme_rdma_cm_req sent_req;
static uint8_t sent_responder_resources;
static uint32_t qp_max_send_wr, qp_max_recv_wr;
static int disconnects, qp_errors;

static void push_event(const struct answer *a)
{
	struct rdma_cm_event *ev;
	uint64_t one = 1;

	if (a->event == NO_ANSWER)
		return;
	assert_true(nr_events < 16);
	ev = &events[nr_events++];
	memset(ev, 0, sizeof(*ev));
	ev->id = &id;
	ev->event = a->event;
	ev->status = a->status;
	ev->param.conn.private_data = a->pdata;
	ev->param.conn.private_data_len = a->pdata_len;
	assert_int_equal(write(ec.fd, &one, sizeof(one)), sizeof(one));
}

static int fail_at(enum step s)
{
	return fail_step == s ? -ENOMEM : 0;
}

int __wrap_dn_rdma_create_event_channel(struct rdma_event_channel **out)
{
	if (fail_at(S_EC))
		return -ENOMEM;
	/* blocking, as librdmacm makes it: the queue must make it non-blocking */
	ec.fd = eventfd(0, EFD_SEMAPHORE);
	assert_true(ec.fd >= 0);
	live_ec++;
	*out = &ec;
	return 0;
}

void __wrap_rdma_destroy_event_channel(struct rdma_event_channel *ch)
{
	assert_ptr_equal(ch, &ec);
	close(ec.fd);
	live_ec--;
}

int __wrap_dn_rdma_create_id(struct rdma_event_channel *ch, struct rdma_cm_id **out, void *c)
{
	if (fail_at(S_ID))
		return -ENOMEM;
	memset(&id, 0, sizeof(id));
	id.channel = ch;
	id.context = c;
	live_id++;
	*out = &id;
	return 0;
}

int __wrap_dn_rdma_destroy_id(struct rdma_cm_id *i)
{
	assert_ptr_equal(i, &id);
	assert_null(id.qp); /* the QP goes first */
	live_id--;
	return 0;
}

int __wrap_dn_rdma_resolve_addr(struct rdma_cm_id *i, const struct sockaddr *src,
				const struct sockaddr *dst, int timeout_ms)
{
	if (fail_at(S_RESOLVE_ADDR))
		return -ENOMEM;
	if (resolve_addr_ret)
		return resolve_addr_ret;
	i->verbs = &ctx;
	push_event(&addr_answer);
	return 0;
}

int __wrap_dn_rdma_resolve_route(struct rdma_cm_id *i, int timeout_ms)
{
	if (fail_at(S_RESOLVE_ROUTE))
		return -ENOMEM;
	push_event(&route_answer);
	return 0;
}

int __wrap_dn_rdma_get_cm_event(struct rdma_event_channel *ch, struct rdma_cm_event **out)
{
	uint64_t v;

	/* a read of an empty channel must not block the queue's thread */
	assert_true(fcntl(ch->fd, F_GETFL) & O_NONBLOCK);
	if (read(ch->fd, &v, sizeof(v)) != sizeof(v))
		return -EAGAIN;
	assert_true(events_got < nr_events);
	*out = &events[events_got++];
	return 0;
}

int __wrap_dn_rdma_ack_cm_event(struct rdma_cm_event *ev)
{
	events_acked++;
	return 0;
}

int __wrap_dn_ibv_alloc_pd(struct ibv_context *c, struct ibv_pd **out)
{
	if (fail_at(S_PD))
		return -ENOMEM;
	pd.context = c;
	live_pd++;
	*out = &pd;
	return 0;
}

int __wrap_dn_ibv_dealloc_pd(struct ibv_pd *p)
{
	live_pd--;
	return 0;
}

int __wrap_dn_ibv_create_comp_channel(struct ibv_context *c, struct ibv_comp_channel **out)
{
	if (fail_at(S_CC))
		return -ENOMEM;
	cc.context = c;
	cc.fd = eventfd(0, 0); /* never readable: completions are found by polling the CQ */
	assert_true(cc.fd >= 0);
	live_cc++;
	*out = &cc;
	return 0;
}

int __wrap_dn_ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	assert_int_equal(live_cq, 0); /* the CQ on it goes first */
	close(ch->fd);
	live_cc--;
	return 0;
}

int __wrap_dn_ibv_create_cq(struct ibv_context *c, int cqe, void *cq_ctx,
			    struct ibv_comp_channel *ch, struct ibv_cq **out)
{
	if (fail_at(S_CQ))
		return -ENOMEM;
	assert_true(cqe >= 2 * DEPTH); /* a send and a receive per slot */
	cq.context = c;
	cq.channel = ch;
	live_cq++;
	*out = &cq;
	return 0;
}

int __wrap_dn_ibv_destroy_cq(struct ibv_cq *c)
{
	assert_int_equal(live_qp, 0);
	live_cq--;
	return 0;
}

int __wrap_dn_rdma_create_qp(struct rdma_cm_id *i, struct ibv_pd *p, struct ibv_qp_init_attr *a)
{
	if (fail_at(S_QP))
		return -ENOMEM;
	assert_ptr_equal(a->send_cq, &cq);
	assert_ptr_equal(a->recv_cq, &cq);
	assert_int_equal(a->qp_type, IBV_QPT_RC);
	qp_max_send_wr = a->cap.max_send_wr;
	qp_max_recv_wr = a->cap.max_recv_wr;
	qp.context = &ctx;
	qp.pd = p;
	i->qp = &qp;
	live_qp++;
	return 0;
}

void __wrap_rdma_destroy_qp(struct rdma_cm_id *i)
{
	if (!i->qp)
		return;
	i->qp = NULL;
	live_qp--;
}

int __wrap_dn_ibv_reg_mr(struct ibv_pd *p, void *addr, size_t len, int access, struct ibv_mr **out)
{
	static const enum step order[] = {S_MR_CAP, S_MR_RSP, S_MR_DATA};
	struct ibv_mr *mr;

	/* capsules, responses, data buffer, in that order; then the I/O buffers if any */
	if (fail_at(nr_mr_made < 3 ? order[nr_mr_made] : S_MR_IO))
		return -ENOMEM;
	mr = calloc(1, sizeof(*mr));
	assert_non_null(mr);
	mr->pd = p;
	mr->addr = addr;
	mr->length = len;
	mr->lkey = 0x100u + (uint32_t)nr_mr_made;
	mr->rkey = 0x200u + (uint32_t)nr_mr_made;
	nr_mr_made++;
	live_mr++;
	*out = mr;
	return 0;
}

int __wrap_dn_ibv_dereg_mr(struct ibv_mr *mr)
{
	free(mr);
	live_mr--;
	return 0;
}

int __wrap_dn_ibv_query_device(struct ibv_context *c, struct ibv_device_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->max_qp_rd_atom = 16;
	return 0;
}

int __wrap_dn_rdma_connect(struct rdma_cm_id *i, struct rdma_conn_param *p)
{
	if (fail_at(S_CONNECT))
		return -ENOMEM;
	assert_int_equal(p->private_data_len, sizeof(sent_req));
	memcpy(&sent_req, p->private_data, sizeof(sent_req));
	sent_responder_resources = p->responder_resources;
	push_event(&connect_answer);
	return 0;
}

int __wrap_dn_rdma_disconnect(struct rdma_cm_id *i)
{
	disconnects++;
	return 0;
}

/* ---- the QP and CQ: posted work requests, completions ---- */
struct sent {
	struct ibv_send_wr wr;
	struct ibv_sge sge;
	int post; /* which ibv_post_send call posted it */
};
static struct sent sent[64];
static int nr_sent, nr_post_calls, post_send_ret;
static int post_send_accept; /* with post_send_ret: how many of the chain are posted first */
/* receives posted and not completed: wr_id and the buffer */
struct posted_recv {
	uint64_t wr_id;
	struct nvme_cqe *buf;
	uint32_t len, lkey;
};
static struct posted_recv recvs[64];
static int nr_recvs, nr_recv_posts, recv_fail_after = -1;
static uint64_t sends_out[64]; /* signalled sends not completed */
static int nr_sends_out;
static struct ibv_wc wcs[256];
static int nr_wcs;
/* the fake target answers each send at once (responses for synchronous commands) */
static bool auto_respond;
static uint8_t c2h_pattern = 0x5a;

static void push_wc(uint64_t wr_id, enum ibv_wc_status status, enum ibv_wc_opcode op)
{
	assert_true(nr_wcs < 256);
	memset(&wcs[nr_wcs], 0, sizeof(wcs[0]));
	wcs[nr_wcs].wr_id = wr_id;
	wcs[nr_wcs].status = status;
	wcs[nr_wcs].opcode = op;
	nr_wcs++;
}

static void drop(uint64_t *ids, int *n, uint64_t v)
{
	int i;

	for (i = 0; i < *n; i++)
		if (ids[i] == v) {
			memmove(ids + i, ids + i + 1, sizeof(*ids) * (size_t)(*n - i - 1));
			(*n)--;
			return;
		}
	fail_msg("work request %llx was not outstanding", (unsigned long long)v);
}

/* the send of CID cid completed */
static void send_done(uint16_t cid)
{
	drop(sends_out, &nr_sends_out, cid);
	push_wc(cid, IBV_WC_SUCCESS, IBV_WC_SEND);
}

/* a response capsule arrives in the oldest posted receive */
static void respond_raw(const struct nvme_cqe *cqe)
{
	struct posted_recv r;

	assert_true(nr_recvs > 0);
	r = recvs[0];
	memmove(recvs, recvs + 1, sizeof(recvs[0]) * (size_t)--nr_recvs);
	assert_int_equal(r.len, sizeof(*cqe));
	memcpy(r.buf, cqe, sizeof(*cqe));
	push_wc(r.wr_id, IBV_WC_SUCCESS, IBV_WC_RECV);
}

static void respond(uint16_t cid, nvme_status_t st, uint32_t result)
{
	struct nvme_cqe cqe = {0};

	cqe.cid = htole16(cid);
	cqe.result.u32 = htole32(result);
	nvme_cqe_set_status(&cqe, st);
	respond_raw(&cqe);
}

static void answer(const struct ibv_send_wr *wr)
{
	const struct nvme_sqe *sqe = (const struct nvme_sqe *)(uintptr_t)wr->sg_list[0].addr;
	const struct nvme_sgl_desc *d = &sqe->common.dptr;
	uint32_t len = d->keyed.length[0] | d->keyed.length[1] << 8 | d->keyed.length[2] << 16;

	/* a read-type command: the "target" RDMA-writes into the keyed buffer */
	if (sqe->opcode == 0x06 && len)
		memset((void *)(uintptr_t)le64toh(d->addr), c2h_pattern, len);
	send_done(le16toh(sqe->cid));
	respond(le16toh(sqe->cid), 0, 0x1234);
}

static int fake_post_send(struct ibv_qp *q, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	int n = 0;

	nr_post_calls++;
	for (; wr; wr = wr->next) {
		struct sent *s;

		if (post_send_ret && n++ == post_send_accept) {
			*bad = wr;
			return post_send_ret;
		}
		s = &sent[nr_sent++];

		s->wr = *wr;
		s->sge = wr->sg_list[0];
		s->post = nr_post_calls;
		sends_out[nr_sends_out++] = wr->wr_id;
		if (auto_respond)
			answer(wr);
	}
	return 0;
}

static int fake_post_recv(struct ibv_qp *q, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	for (; wr; wr = wr->next) {
		if (recv_fail_after >= 0 && nr_recv_posts >= recv_fail_after) {
			*bad = wr;
			return ENOMEM;
		}
		recvs[nr_recvs].wr_id = wr->wr_id;
		recvs[nr_recvs].buf = (struct nvme_cqe *)(uintptr_t)wr->sg_list[0].addr;
		recvs[nr_recvs].len = wr->sg_list[0].length;
		recvs[nr_recvs].lkey = wr->sg_list[0].lkey;
		nr_recvs++;
		nr_recv_posts++;
	}
	return 0;
}

/* polls of an empty CQ: the queue looking for completions that are not there */
static int empty_polls, empty_polls_at_qp_error;

static int fake_poll_cq(struct ibv_cq *c, int n, struct ibv_wc *wc)
{
	int i = 0;

	if (!nr_wcs)
		empty_polls++;
	while (i < n && i < nr_wcs) {
		wc[i] = wcs[i];
		i++;
	}
	memmove(wcs, wcs + i, sizeof(wcs[0]) * (size_t)(nr_wcs - i));
	nr_wcs -= i;
	return i;
}

static int fake_req_notify_cq(struct ibv_cq *c, int solicited)
{
	return fail_at(S_NOTIFY) ? ENOMEM : 0;
}

/* A QP moved to the error state flushes every outstanding work request. */
int __wrap_ibv_modify_qp(struct ibv_qp *q, struct ibv_qp_attr *attr, int mask)
{
	assert_int_equal(mask, IBV_QP_STATE);
	assert_int_equal(attr->qp_state, IBV_QPS_ERR);
	qp_errors++;
	empty_polls_at_qp_error = empty_polls;
	while (nr_sends_out)
		push_wc(sends_out[--nr_sends_out], IBV_WC_WR_FLUSH_ERR, IBV_WC_SEND);
	while (nr_recvs)
		push_wc(recvs[--nr_recvs].wr_id, IBV_WC_WR_FLUSH_ERR, IBV_WC_RECV);
	return 0;
}

/* ---- fixtures ---- */
static struct dn_hq q;
static struct dn_err err;
static char io_buf[8192];

static int setup(void **state)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.ops.post_send = fake_post_send;
	ctx.ops.post_recv = fake_post_recv;
	ctx.ops.poll_cq = fake_poll_cq;
	ctx.ops.req_notify_cq = fake_req_notify_cq;
	live_ec = live_id = live_pd = live_cc = live_cq = live_qp = live_mr = 0;
	nr_mr_made = 0;
	fail_step = S_NONE;
	addr_answer = (struct answer){.event = RDMA_CM_EVENT_ADDR_RESOLVED};
	route_answer = (struct answer){.event = RDMA_CM_EVENT_ROUTE_RESOLVED};
	connect_answer = (struct answer){.event = RDMA_CM_EVENT_ESTABLISHED};
	nr_events = events_got = events_acked = 0;
	resolve_addr_ret = 0;
	memset(&sent_req, 0xee, sizeof(sent_req));
	disconnects = qp_errors = 0;
	nr_sent = nr_post_calls = post_send_ret = post_send_accept = 0;
	empty_polls = empty_polls_at_qp_error = 0;
	nr_recvs = nr_recv_posts = 0;
	recv_fail_after = -1;
	nr_sends_out = nr_wcs = 0;
	auto_respond = false;
	memset(&q, 0, sizeof(q));
	dn_err_clear(&err);
	return 0;
}

/* every object made was given back, every CM event acknowledged */
static void assert_all_released(void)
{
	assert_int_equal(live_ec, 0);
	assert_int_equal(live_id, 0);
	assert_int_equal(live_pd, 0);
	assert_int_equal(live_cc, 0);
	assert_int_equal(live_cq, 0);
	assert_int_equal(live_qp, 0);
	assert_int_equal(live_mr, 0);
	assert_int_equal(events_acked, events_got);
}

static const struct dn_hq_opts opts = {
	.traddr = "10.77.0.1",
	.trsvcid = "4420",
	.qid = 1,
	.depth = DEPTH,
	.incapsule = INCAP,
	.data_len = DATA_LEN,
	.timeout_ms = 100,
};

static int try_connect(const struct dn_hq_opts *o)
{
	int ret = dn_hq_connect(&q, o, &err);

	if (ret) {
		assert_int_equal(err.code, ret);
		assert_all_released();
	}
	return ret;
}

/* A connect refused as expected: its errno, a sentence naming the cause, the backoff class */
static void assert_refused(size_t i, int want, const char *msg, enum dn_backoff_cause cause)
{
	assert_int_equal(try_connect(&opts), want);
	if (!strstr(err.msg, msg))
		fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, msg);
	assert_int_equal(dn_backoff_cause(want), cause);
}

static void connect_ok(void)
{
	static struct nvme_rdma_cm_rep rep;

	rep.crqsize = htole16(32);
	connect_answer.pdata = &rep;
	connect_answer.pdata_len = sizeof(rep);
	assert_int_equal(try_connect(&opts), 0);
}

/* ---- connecting ---- */

/* The NVMe/RDMA request carries the queue's ID and sizes; every slot has a receive posted. */
static void test_connect_private_data(void **state)
{
	int i;

	connect_ok();
	assert_int_equal(le16toh(sent_req.recfmt), NVME_RDMA_CM_FMT_1_0);
	assert_int_equal(le16toh(sent_req.qid), 1);
	assert_int_equal(le16toh(sent_req.hrqsize), DEPTH);
	assert_int_equal(le16toh(sent_req.hsqsize), DEPTH - 1); /* 0's based */
	assert_int_equal(le16toh(sent_req.cntlid), 0);
	for (i = 0; i < (int)sizeof(sent_req.rsvd); i++)
		assert_int_equal(sent_req.rsvd[i], 0);
	assert_int_equal(sent_responder_resources, 16); /* the device's max_qp_rd_atom */
	assert_int_equal(q.crqsize, 32);
	assert_int_equal(qp_max_send_wr, DEPTH);
	assert_int_equal(qp_max_recv_wr, DEPTH);
	assert_true(q.connected);
	assert_int_equal(nr_recvs, DEPTH);
	for (i = 0; i < DEPTH; i++) {
		assert_int_equal(recvs[i].wr_id, DN_HQ_WRID_RECV | (uint64_t)i);
		assert_ptr_equal(recvs[i].buf, &q.rsps[i]);
		assert_int_equal(recvs[i].lkey, q.rsp_mr->lkey);
	}
	/* room after each SQE for the in-capsule data */
	assert_int_equal(q.capsule_size, sizeof(struct nvme_sqe) + INCAP);
	dn_hq_destroy(&q);
	assert_int_equal(disconnects, 1);
	assert_all_released();
}

/* An accept without the NVMe/RDMA reply leaves crqsize unknown (0), not garbage. */
static void test_connect_short_accept(void **state)
{
	static const uint8_t two[2] = {0x20, 0};

	connect_answer.pdata = two;
	connect_answer.pdata_len = sizeof(two);
	assert_int_equal(try_connect(&opts), 0);
	assert_int_equal(q.crqsize, 0);
	dn_hq_destroy(&q);
	assert_all_released();
}

/* The I/O buffers are registered for the target's RDMA reads and writes, and released. */
static void test_connect_io_buffers(void **state)
{
	struct dn_hq_opts o = opts;

	o.io_buf = io_buf;
	o.io_buf_len = sizeof(io_buf);
	assert_int_equal(try_connect(&o), 0);
	assert_non_null(q.io_mr);
	assert_ptr_equal(q.io_mr->addr, io_buf);
	assert_int_equal(q.io_mr->length, sizeof(io_buf));
	assert_int_equal(live_mr, 4);
	dn_hq_destroy(&q);
	assert_all_released();
}

/* How each answer to the connect is reported: errno, message, and what the backoff makes of it */
static void test_connect_refusals(void **state)
{
	static struct nvme_rdma_cm_rej rej;
	static const struct {
		struct answer a;
		int ret;
		const char *msg;
		enum dn_backoff_cause cause;
	} cases[] = {
		{{RDMA_CM_EVENT_REJECTED, 28, &rej, sizeof(rej)},
		 -ECONNREFUSED,
		 "10.77.0.1:4420 rejected the NVMe/RDMA connection of queue 1: ",
		 DN_BACKOFF_ANSWERED},
		/* a reject without NVMe/RDMA private data: no listener (the port is closed) */
		{{RDMA_CM_EVENT_REJECTED, 8, NULL, 0},
		 -ECONNREFUSED,
		 "nothing listens there for NVMe/RDMA (reject reason 8)",
		 DN_BACKOFF_ANSWERED},
		/* reason 28 but too little private data to hold a status */
		{{RDMA_CM_EVENT_REJECTED, 28, &rej, 2},
		 -ECONNREFUSED,
		 "nothing listens there",
		 DN_BACKOFF_ANSWERED},
		{{RDMA_CM_EVENT_UNREACHABLE, -ETIMEDOUT, NULL, 0},
		 -EHOSTUNREACH,
		 "10.77.0.1:4420 is unreachable over RDMA (RDMA_CM_EVENT_UNREACHABLE: ",
		 DN_BACKOFF_SILENT},
		{{RDMA_CM_EVENT_CONNECT_ERROR, 0, NULL, 0},
		 -EHOSTUNREACH,
		 "is unreachable over RDMA (RDMA_CM_EVENT_CONNECT_ERROR",
		 DN_BACKOFF_SILENT},
		{{RDMA_CM_EVENT_DISCONNECTED, 0, NULL, 0},
		 -EPROTO,
		 "unexpected rdma_cm event RDMA_CM_EVENT_DISCONNECTED while waiting for "
		 "RDMA_CM_EVENT_ESTABLISHED",
		 DN_BACKOFF_SILENT},
		{{NO_ANSWER, 0, NULL, 0},
		 -ETIMEDOUT,
		 "10.77.0.1:4420 is unreachable: no RDMA answer within 1100 ms",
		 DN_BACKOFF_SILENT},
	};
	size_t i;

	rej.sts = htole16(NVME_RDMA_CM_INVALID_HSQSIZE);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup(state);
		connect_answer = cases[i].a;
		assert_refused(i, cases[i].ret, cases[i].msg, cases[i].cause);
	}
	/* the NVMe/RDMA status is named and given in numbers */
	setup(state);
	connect_answer = cases[0].a;
	try_connect(&opts);
	assert_non_null(strstr(err.msg, nvme_rdma_cm_status_str(NVME_RDMA_CM_INVALID_HSQSIZE)));
	assert_non_null(strstr(err.msg, "(4)"));
}

/* Address and route failures: nothing left this machine unless a peer could have been asked */
static void test_connect_no_route(void **state)
{
	static const struct {
		struct answer addr, route;
		int ret;
		const char *msg;
		enum dn_backoff_cause cause;
	} cases[] = {
		{{RDMA_CM_EVENT_ADDR_ERROR, -ENODEV, NULL, 0},
		 {RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, 0},
		 -ENODEV,
		 "10.77.0.1:4420 is unreachable: no RDMA device here reaches it "
		 "(RDMA_CM_EVENT_ADDR_ERROR)",
		 DN_BACKOFF_LOCAL},
		{{RDMA_CM_EVENT_ADDR_ERROR, -ENETUNREACH, NULL, 0},
		 {RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, 0},
		 -ENETUNREACH,
		 "10.77.0.1:4420 is unreachable: no route to it (RDMA_CM_EVENT_ADDR_ERROR)",
		 DN_BACKOFF_LOCAL},
		{{RDMA_CM_EVENT_ADDR_RESOLVED, 0, NULL, 0},
		 {RDMA_CM_EVENT_ROUTE_ERROR, -ENETUNREACH, NULL, 0},
		 -ENETUNREACH,
		 "no route to it (RDMA_CM_EVENT_ROUTE_ERROR)",
		 DN_BACKOFF_LOCAL},
		/* an address resolution that timed out (ARP unanswered) did ask the network */
		{{RDMA_CM_EVENT_ADDR_ERROR, -ETIMEDOUT, NULL, 0},
		 {RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, 0},
		 -EHOSTUNREACH,
		 "is unreachable over RDMA (RDMA_CM_EVENT_ADDR_ERROR: Connection timed out)",
		 DN_BACKOFF_SILENT},
		{{RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, 0},
		 {RDMA_CM_EVENT_ROUTE_RESOLVED, 0, NULL, 0},
		 -EPROTO,
		 "unexpected rdma_cm event RDMA_CM_EVENT_ROUTE_RESOLVED while waiting for "
		 "RDMA_CM_EVENT_ADDR_RESOLVED",
		 DN_BACKOFF_SILENT},
	};
	struct dn_hq_opts o = opts;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup(state);
		addr_answer = cases[i].addr;
		route_answer = cases[i].route;
		assert_refused(i, cases[i].ret, cases[i].msg, cases[i].cause);
	}
	/* --host-traddr names an address no RDMA device here has */
	setup(state);
	o.host_traddr = "10.77.0.9";
	resolve_addr_ret = -EADDRNOTAVAIL;
	assert_int_equal(try_connect(&o), -EADDRNOTAVAIL);
	assert_non_null(strstr(err.msg, "host address 10.77.0.9 is not an address of an RDMA "
					"device here"));
	assert_int_equal(dn_backoff_cause(-EADDRNOTAVAIL), DN_BACKOFF_LOCAL);
	/* no RDMA device routes to the target at all */
	setup(state);
	resolve_addr_ret = -ENODEV;
	assert_int_equal(try_connect(&opts), -ENODEV);
	assert_non_null(
		strstr(err.msg, "10.77.0.1:4420 is unreachable: no RDMA device routes to it"));
}

/* Addresses that do not parse are refused before anything is made. */
static void test_connect_bad_address(void **state)
{
	struct dn_hq_opts o = opts;

	o.traddr = "10.77.0.x";
	assert_int_equal(try_connect(&o), -EINVAL);
	assert_string_equal(err.msg, "10.77.0.x:4420 is not a valid IP address and port");
	setup(state);
	o = opts;
	o.trsvcid = "port";
	assert_int_equal(try_connect(&o), -EINVAL);
	setup(state);
	o = opts;
	o.host_traddr = "fe80::1"; /* not the target's family */
	assert_int_equal(try_connect(&o), -EINVAL);
	assert_non_null(strstr(err.msg, "host address fe80::1 is not a valid IP address of the "
					"target's family"));
	assert_int_equal(live_ec, 0);
}

/* A failure at any setup step returns its error and gives back everything made before it. */
static void test_connect_unwinds(void **state)
{
	struct dn_hq_opts o = opts;
	int s;

	o.io_buf = io_buf;
	o.io_buf_len = sizeof(io_buf);
	for (s = S_EC; s < S_LAST; s++) {
		setup(state);
		fail_step = (enum step)s;
		if (s == S_RECV)
			recv_fail_after = 2;
		assert_int_equal(try_connect(&o), -ENOMEM);
		if (err.msg[0] == '\0')
			fail_msg("step %d failed without a message", s);
	}
}

/* ---- commands ---- */
static int nr_done;
static struct {
	struct dn_hq_req *r;
	nvme_status_t st;
	uint32_t result;
} done_log[16];

static void on_done(struct dn_hq *hq, struct dn_hq_req *r, nvme_status_t st,
		    const struct nvme_cqe *cqe)
{
	assert_ptr_equal(hq, &q);
	assert_true(nr_done < 16);
	done_log[nr_done].r = r;
	done_log[nr_done].st = st;
	done_log[nr_done].result = le32toh(cqe->result.u32);
	nr_done++;
}

static struct dn_hq_req *submit(uint8_t opcode, uint32_t incap)
{
	struct dn_hq_req *r = dn_hq_get_req(&q);

	assert_non_null(r);
	memset(r->sqe, 0, sizeof(*r->sqe));
	r->sqe->opcode = opcode;
	r->done = on_done;
	assert_int_equal(dn_hq_submit(&q, r, incap), 0);
	return r;
}

static int free_slots(void)
{
	struct dn_hq_req *r;
	int n = 0;

	for (r = q.free_list; r; r = r->next_free)
		n++;
	return n;
}

static int setup_connected(void **state)
{
	setup(state);
	nr_done = 0;
	connect_ok();
	return 0;
}

static int teardown_connected(void **state)
{
	dn_hq_destroy(&q);
	assert_all_released();
	return 0;
}

/* Each send carries its SQE (and in-capsule data) from the registered capsule, CID set. */
static void test_submit_sends_capsule(void **state)
{
	struct dn_hq_req *a = submit(0x01, 0), *b = submit(0x01, INCAP);

	assert_int_equal(nr_post_calls, 2);
	assert_int_equal(nr_sent, 2);
	assert_int_equal(sent[0].wr.opcode, IBV_WR_SEND);
	assert_true(sent[0].wr.send_flags & IBV_SEND_SIGNALED);
	assert_int_equal(sent[0].wr.wr_id, a->cid);
	assert_int_equal(sent[0].sge.addr, (uintptr_t)a->sqe);
	assert_int_equal(sent[0].sge.length, sizeof(struct nvme_sqe));
	assert_int_equal(sent[0].sge.lkey, q.cap_mr->lkey);
	assert_int_equal(sent[1].sge.length, sizeof(struct nvme_sqe) + INCAP);
	assert_int_equal(le16toh(a->sqe->cid), a->cid);
	assert_int_equal(le16toh(b->sqe->cid), b->cid);
	assert_int_not_equal(a->cid, b->cid);
	assert_int_equal(q.nr_inflight, 2);
	assert_int_equal(free_slots(), DEPTH - 2);
}

/* Done once both the send and the response completed, in either order; the receive is reposted */
static void test_completion_needs_both(void **state)
{
	struct dn_hq_req *a = submit(0x02, 0), *b = submit(0x02, 0);
	uint16_t ca = a->cid, cb = b->cid;
	int posts = nr_recv_posts;

	/* a: response first, then its send */
	respond(ca, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE), 7);
	assert_int_equal(dn_hq_process(&q), 1);
	assert_int_equal(nr_done, 0);
	assert_int_equal(nr_recv_posts, posts + 1); /* reposted at once */
	assert_int_equal(recvs[nr_recvs - 1].wr_id, DN_HQ_WRID_RECV | 0);
	send_done(ca);
	/* b: send first, then its response */
	send_done(cb);
	assert_int_equal(dn_hq_process(&q), 2);
	assert_int_equal(nr_done, 1);
	assert_ptr_equal(done_log[0].r, a);
	assert_int_equal(done_log[0].st, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
	assert_int_equal(done_log[0].result, 7);
	respond(cb, 0, 0);
	assert_int_equal(dn_hq_process(&q), 1);
	assert_int_equal(nr_done, 2);
	assert_ptr_equal(done_log[1].r, b);
	assert_int_equal(done_log[1].st, 0);
	assert_int_equal(q.nr_inflight, 0);
	assert_int_equal(free_slots(), DEPTH);
	assert_false(q.failed);
}

/* A batching queue chains its sends and posts them with one call, in submission order. */
static void test_batch_one_post(void **state)
{
	struct dn_hq_req *r[3];
	int i;

	q.batching = true;
	for (i = 0; i < 3; i++)
		r[i] = submit(0x02, 0);
	assert_int_equal(nr_post_calls, 0);
	assert_int_equal(q.nr_inflight, 3); /* counted now: a failed flush leaves them to abort */
	assert_int_equal(dn_hq_flush(&q), 0);
	assert_int_equal(nr_post_calls, 1);
	assert_int_equal(nr_sent, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(sent[i].wr.wr_id, r[i]->cid);
		assert_int_equal(sent[i].post, 1);
	}
	assert_null(sent[2].wr.next);
	/* nothing chained: nothing posted */
	assert_int_equal(dn_hq_flush(&q), 0);
	assert_int_equal(nr_post_calls, 1);
}

/*
 * A batch that cannot be posted fails the queue; its commands end with a path error. The part
 * of the chain posted before the failure is accounted for: its flushes are waited for.
 */
static void test_batch_post_fails(void **state)
{
	q.batching = true;
	submit(0x02, 0);
	submit(0x02, 0);
	submit(0x02, 0);
	post_send_ret = ENOMEM;
	post_send_accept = 1;
	assert_int_equal(dn_hq_flush(&q), -ENOMEM);
	assert_true(q.failed);
	assert_int_equal(qp_errors, 1);
	assert_int_equal(q.sends_posted, 1);
	assert_int_equal(dn_hq_process(&q), -EIO);
	assert_int_equal(q.sends_posted, 0);
	assert_int_equal(q.recvs_posted, 0);
	dn_hq_abort_all(&q);
	assert_int_equal(nr_done, 3);
	assert_int_equal(done_log[0].st, NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
	assert_int_equal(done_log[2].st, NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
	assert_int_equal(q.nr_inflight, 0);
	assert_int_equal(free_slots(), DEPTH);
}

/*
 * Destroying a queue with commands in flight waits for the QP's flushes, not for the commands:
 * a flushed send gets no response, so waiting for them to complete would wait out the whole
 * grace period on every reset. They end with a path error, each once.
 */
static void test_destroy_waits_for_flushes_only(void **state)
{
	submit(0x02, 0);
	submit(0x01, 64);
	q.batching = true;
	submit(0x02, 0);
	assert_int_equal(dn_hq_flush(&q), 0);
	assert_int_equal(q.sends_posted, 3);
	assert_int_equal(q.recvs_posted, DEPTH);
	dn_hq_destroy(&q);
	assert_int_equal(qp_errors, 1);
	/* every flush was there at once: no poll of an empty CQ after it but the last check */
	assert_in_range(empty_polls - empty_polls_at_qp_error, 0, 1);
	assert_int_equal(nr_done, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(done_log[i].st,
				 NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
	assert_all_released();
	setup_connected(state); /* for the teardown */
}

/*
 * Responses are untrusted: a CID never sent, one out of range, or a second response for the
 * same command fails the queue (no command completes twice or with another's status), and the
 * commands in flight end with a path error once the QP has flushed.
 */
static void test_untrusted_responses(void **state)
{
	static const uint16_t bogus[] = {DEPTH - 1, DEPTH, 0xffff, 0 /* twice */};
	size_t i;

	for (i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
		struct dn_hq_req *a;

		teardown_connected(state);
		setup_connected(state);
		a = submit(0x02, 0);
		assert_int_equal(a->cid, 0);
		if (i == 3) {
			respond(0, 0, 0);
			assert_int_equal(dn_hq_process(&q), 1);
		}
		respond(bogus[i], 0, 0);
		assert_int_equal(dn_hq_process(&q), -EIO);
		assert_true(q.failed);
		assert_int_equal(qp_errors, 1);
		assert_int_equal(nr_done, 0);
		/* its send came back flushed: only the abort ends it, with a path error */
		dn_hq_abort_all(&q);
		assert_int_equal(nr_done, 1);
		assert_int_equal(done_log[0].st,
				 NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
		assert_int_equal(q.nr_inflight, 0);
	}
}

/* A work completion in error fails the queue: nothing more is sent, flushes are quiet. */
static void test_wc_error_fails_queue(void **state)
{
	struct dn_hq_req *a = submit(0x02, 0), *r;

	drop(sends_out, &nr_sends_out, a->cid);
	push_wc(a->cid, IBV_WC_RETRY_EXC_ERR, IBV_WC_SEND);
	assert_int_equal(dn_hq_process(&q), -EIO);
	assert_true(q.failed);
	assert_int_equal(qp_errors, 1);
	/* the receives flushed: nothing completes */
	assert_int_equal(dn_hq_process(&q), -EIO);
	assert_int_equal(nr_done, 0);
	r = dn_hq_get_req(&q);
	assert_non_null(r);
	assert_int_equal(dn_hq_submit(&q, r, 0), -EIO);
	dn_hq_put_req(&q, r);
	q.batching = true;
	r = dn_hq_get_req(&q);
	assert_int_equal(dn_hq_submit(&q, r, 0), -EIO);
	dn_hq_put_req(&q, r);
	assert_int_equal(dn_hq_flush(&q), 0);
	assert_int_equal(nr_post_calls, 1);
	dn_hq_abort_all(&q);
	assert_int_equal(nr_done, 1);
	assert_int_equal(free_slots(), DEPTH);
}

/*
 * The connection's end reaches the queue through its CM channel, read without blocking: the
 * target closing it (or the address changing) is -ENOTCONN, the local device going -ENODEV
 * (whichever came first). Other events are only acknowledged; a closed connection is not
 * disconnected again when destroyed.
 */
static void test_cm_check(void **state)
{
	static const struct {
		int n;
		enum rdma_cm_event_type ev[2];
		int want;
	} cases[] = {
		{0, {0}, 0},
		{1, {RDMA_CM_EVENT_MULTICAST_JOIN}, 0},
		{1, {RDMA_CM_EVENT_DISCONNECTED}, -ENOTCONN},
		{1, {RDMA_CM_EVENT_TIMEWAIT_EXIT}, -ENOTCONN},
		{1, {RDMA_CM_EVENT_ADDR_CHANGE}, -ENOTCONN},
		{1, {RDMA_CM_EVENT_DEVICE_REMOVAL}, -ENODEV},
		{2, {RDMA_CM_EVENT_DISCONNECTED, RDMA_CM_EVENT_DEVICE_REMOVAL}, -ENODEV},
		{2, {RDMA_CM_EVENT_DEVICE_REMOVAL, RDMA_CM_EVENT_DISCONNECTED}, -ENODEV},
	};
	size_t i;
	int j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int acked = events_acked;

		for (j = 0; j < cases[i].n; j++) {
			/* any event the fake queues, then made the one wanted (TIMEWAIT_EXIT is the
			 * fake's "no answer") */
			push_event(&(struct answer){.event = RDMA_CM_EVENT_MULTICAST_JOIN});
			events[nr_events - 1].event = cases[i].ev[j];
		}
		assert_int_equal(dn_hq_cm_check(&q), cases[i].want);
		assert_int_equal(events_acked - acked, cases[i].n);
		assert_int_equal(events_got, nr_events);
		assert_int_equal(q.connected, cases[i].want == 0);
		q.connected = true; /* for the next case */
	}
	/* closed by the target: destroying it sends no disconnect of its own */
	push_event(&(struct answer){.event = RDMA_CM_EVENT_DISCONNECTED});
	assert_int_equal(dn_hq_cm_check(&q), -ENOTCONN);
	dn_hq_destroy(&q);
	assert_int_equal(disconnects, 0);
	assert_all_released();
}

/* Slots run out at the queue depth; a slot given back unused is free again. */
static void test_slots(void **state)
{
	struct dn_hq_req *r[DEPTH];
	int i;

	for (i = 0; i < DEPTH; i++) {
		r[i] = dn_hq_get_req(&q);
		assert_non_null(r[i]);
		assert_int_equal(r[i]->state, DN_HQ_REQ_INFLIGHT);
	}
	assert_null(dn_hq_get_req(&q));
	dn_hq_put_req(&q, r[2]);
	assert_ptr_equal(dn_hq_get_req(&q), r[2]);
	for (i = 0; i < DEPTH; i++)
		dn_hq_put_req(&q, r[i]);
	assert_int_equal(free_slots(), DEPTH);
}

/* A synchronous command: its data goes through the registered buffer with a keyed SGL. */
static void test_exec(void **state)
{
	struct nvme_sqe sqe = {.opcode = 0x09 /* set features: host to controller */};
	struct nvme_cqe cqe;
	nvme_status_t st = 0xffff;
	uint8_t out[100], in[512];
	const struct nvme_sgl_desc *d;

	memset(out, 0xc3, sizeof(out));
	auto_respond = true;
	assert_int_equal(dn_hq_exec(&q, &sqe, out, sizeof(out), true, &cqe, &st, 1000, &err), 0);
	assert_int_equal(st, 0);
	assert_int_equal(le32toh(cqe.result.u32), 0x1234);
	assert_memory_equal(q.data, out, sizeof(out));
	d = &((const struct nvme_sqe *)(uintptr_t)sent[0].sge.addr)->common.dptr;
	assert_int_equal(le64toh(d->addr), (uintptr_t)q.data);
	assert_int_equal(d->keyed.length[0], sizeof(out));
	assert_int_equal(le32toh(d->keyed.key), q.data_mr->rkey);
	/* controller to host: the data lands in the registered buffer and is copied out */
	sqe.opcode = 0x06;
	memset(in, 0, sizeof(in));
	assert_int_equal(dn_hq_exec(&q, &sqe, in, sizeof(in), false, NULL, &st, 1000, &err), 0);
	for (size_t i = 0; i < sizeof(in); i++)
		assert_int_equal(in[i], c2h_pattern);
	assert_int_equal(free_slots(), DEPTH);
	/* more than the buffer holds is refused before anything is sent */
	assert_int_equal(dn_hq_exec(&q, &sqe, in, DATA_LEN + 1, false, NULL, &st, 1000, &err),
			 -EINVAL);
	assert_int_equal(nr_sent, 2);
}

/* No answer: -ETIMEDOUT, the queue failed, and the slot (which points at the caller's stack)
 * is not left in flight. */
static void test_exec_timeout(void **state)
{
	struct nvme_sqe sqe = {.opcode = 0x18 /* keep alive */};
	nvme_status_t st;

	assert_int_equal(dn_hq_exec(&q, &sqe, NULL, 0, false, NULL, &st, 50, &err), -ETIMEDOUT);
	assert_string_equal(err.msg,
			    "10.77.0.1:4420 did not answer command opcode 0x18 within 50 ms");
	assert_true(q.failed);
	assert_int_equal(q.nr_inflight, 0);
	assert_int_equal(free_slots(), DEPTH);
	/* no wait for the command itself once the QP has flushed */
	assert_in_range(empty_polls - empty_polls_at_qp_error, 0, 1);
	/* a queue that failed answers at once */
	assert_int_equal(dn_hq_exec(&q, &sqe, NULL, 0, false, NULL, &st, 50, &err), -EIO);
}

/* ---- random interleavings against a model of the target ---- */
#define ROUNDS 300
#define OPS    300

/* what the model target did with each command the host submitted */
struct sub {
	uint16_t cid;
	bool send_done, responded, done;
	nvme_status_t st;
	uint32_t result;
};
static struct sub subs[ROUNDS * OPS];
static int nr_subs, cid_sub[DEPTH], completed; /* completed: with the target's status */
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* exactly once; a real status only for a command whose send and response both came back */
static void model_done(struct dn_hq *hq, struct dn_hq_req *r, nvme_status_t st,
		       const struct nvme_cqe *cqe)
{
	struct sub *s = &subs[r->ctx];

	assert_false(s->done);
	s->done = true;
	assert_int_equal(s->cid, r->cid);
	assert_int_equal(cid_sub[r->cid], (int)r->ctx);
	cid_sub[r->cid] = -1;
	if (st == NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR)) {
		assert_true(hq->failed);
		return;
	}
	assert_true(s->send_done);
	assert_true(s->responded);
	assert_int_equal(st, s->st);
	assert_int_equal(le32toh(cqe->result.u32), s->result);
	completed++;
}

static bool posted(uint16_t cid)
{
	int i;

	for (i = 0; i < nr_sends_out; i++)
		if (sends_out[i] == cid)
			return true;
	return subs[cid_sub[cid]].send_done;
}

/* what the queue counts matches what the model has outstanding */
static void check_counts(void)
{
	int i, inflight = 0;

	for (i = 0; i < DEPTH; i++)
		inflight += cid_sub[i] >= 0;
	assert_int_equal(q.nr_inflight, inflight);
	assert_int_equal(free_slots(), DEPTH - inflight);
	if (!q.failed) {
		assert_int_equal(q.sends_posted, nr_sends_out);
		assert_int_equal(q.recvs_posted, nr_recvs);
	}
}

/*
 * Random interleavings of submits, batches, send completions, responses in any order (with
 * any status), and now and then a response for a CID not in flight, a second response, or a
 * work completion in error. Every command completes exactly once, with the status the target
 * sent for it or, once the queue failed, with a path error; the queue's counts stay true.
 */
static void test_random_interleavings(void **state)
{
	static const nvme_status_t statuses[] = {
		0, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE),
		NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD),
		NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_COMPARE_FAILED)};
	int round, op, i, failures = 0;

	nr_subs = completed = 0;
	for (round = 0; round < ROUNDS; round++) {
		if (round) {
			teardown_connected(state);
			setup_connected(state);
		}
		rng = 0x9e3779b97f4a7c15ull * (uint64_t)(round + 1);
		for (i = 0; i < DEPTH; i++)
			cid_sub[i] = -1;
		q.batching = rnd(2);
		for (op = 0; op < OPS && !q.failed; op++) {
			uint32_t k = rnd(1000);
			int c = (int)rnd(DEPTH);

			if (k < 300) {
				struct dn_hq_req *r = dn_hq_get_req(&q);

				if (!r)
					continue;
				memset(r->sqe, 0, sizeof(*r->sqe));
				r->sqe->opcode = 0x02;
				r->done = model_done;
				r->ctx = (uintptr_t)nr_subs;
				subs[nr_subs] = (struct sub){.cid = r->cid};
				cid_sub[r->cid] = nr_subs++;
				assert_int_equal(dn_hq_submit(&q, r, rnd(2) ? 0 : INCAP), 0);
			} else if (k < 400) {
				assert_int_equal(dn_hq_flush(&q), 0);
			} else if (k < 550) {
				if (!nr_sends_out)
					continue;
				c = (int)sends_out[rnd((uint32_t)nr_sends_out)];
				subs[cid_sub[c]].send_done = true;
				send_done((uint16_t)c);
			} else if (k < 700) {
				struct sub *s;

				if (cid_sub[c] < 0 || !posted((uint16_t)c) ||
				    subs[cid_sub[c]].responded)
					continue;
				s = &subs[cid_sub[c]];
				s->responded = true;
				s->st = statuses[rnd(4)];
				s->result = rnd(1u << 31);
				respond((uint16_t)c, s->st, s->result);
			} else if (k < 970) {
				assert_true(dn_hq_process(&q) >= 0);
				check_counts();
			} else if (k < 990 && !q.batch_head) {
				q.batching = !q.batching;
			} else if (k < 995) {
				/* a CID not in flight, or a second response for one that is */
				uint16_t bad = rnd(2) ? (uint16_t)rnd(0x10000) : (uint16_t)c;

				if (bad < DEPTH && cid_sub[bad] >= 0 &&
				    !subs[cid_sub[bad]].responded)
					continue;
				respond(bad, 0, 0);
				assert_int_equal(dn_hq_process(&q), -EIO);
				failures++;
			} else if (nr_sends_out) {
				uint64_t wr_id = sends_out[rnd((uint32_t)nr_sends_out)];

				drop(sends_out, &nr_sends_out, wr_id);
				push_wc(wr_id, IBV_WC_REM_ACCESS_ERR, IBV_WC_SEND);
				assert_int_equal(dn_hq_process(&q), -EIO);
				failures++;
			}
		}
		dn_hq_flush(&q);
		dn_hq_process(&q);
		check_counts();
	}
	teardown_connected(state);
	setup_connected(state);
	/* the teardowns ended what was still in flight */
	for (i = 0; i < nr_subs; i++)
		if (!subs[i].done)
			fail_msg("command %d (CID %u) never completed", i, subs[i].cid);
	/* the mix exercised both ends */
	print_message("%d commands, %d queue failures, %d completed with a status\n", nr_subs,
		      failures, completed);
	assert_true(failures > ROUNDS / 2);
	assert_true(completed > ROUNDS * 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_connect_private_data, setup),
		cmocka_unit_test_setup(test_connect_short_accept, setup),
		cmocka_unit_test_setup(test_connect_io_buffers, setup),
		cmocka_unit_test_setup(test_connect_refusals, setup),
		cmocka_unit_test_setup(test_connect_no_route, setup),
		cmocka_unit_test_setup(test_connect_bad_address, setup),
		cmocka_unit_test_setup(test_connect_unwinds, setup),
		cmocka_unit_test_setup_teardown(test_submit_sends_capsule, setup_connected,
						teardown_connected),
		cmocka_unit_test_setup_teardown(test_completion_needs_both, setup_connected,
						teardown_connected),
		cmocka_unit_test_setup_teardown(test_batch_one_post, setup_connected,
						teardown_connected),
		cmocka_unit_test_setup_teardown(test_batch_post_fails, setup_connected,
						teardown_connected),
		cmocka_unit_test_setup_teardown(test_destroy_waits_for_flushes_only,
						setup_connected, teardown_connected),
		cmocka_unit_test_setup_teardown(test_untrusted_responses, setup_connected,
						teardown_connected),
		cmocka_unit_test_setup_teardown(test_wc_error_fails_queue, setup_connected,
						teardown_connected),
		cmocka_unit_test_setup(test_cm_check, setup_connected),
		cmocka_unit_test_setup_teardown(test_slots, setup_connected, teardown_connected),
		cmocka_unit_test_setup_teardown(test_exec, setup_connected, teardown_connected),
		cmocka_unit_test_setup_teardown(test_exec_timeout, setup_connected,
						teardown_connected),
		cmocka_unit_test_setup_teardown(test_random_interleavings, setup_connected,
						teardown_connected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
