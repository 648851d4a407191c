// SPDX-License-Identifier: MIT
/*
 * Unit tests of target/rdma_queue.c: an NVMe/RDMA queue's creation (and its unwinding after a
 * failure at each step) and its lifetime: handed to a poll group, reported lost once, deleted
 * once, drained, its completion-channel poll cancelled, destroyed in order. The verbs objects
 * come from a fake made at link time (-Wl,--wrap, see CMakeLists.txt) that counts what it
 * hands out; the poll group and the core are fakes that record what the queue asks of them
 * and run its messages and deferred work when the test says.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <cmocka.h>

#include "common/rdma_util.h"
#include "target/rdma.h"
#include "target/target.h"

#include "fake_pg_defer.h"

/* the __wrap_ functions below are called only by the linker's redirection: no prototypes */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define NR 8

/* ---- the fake verbs: objects handed out and not given back, in the order they went ---- */
static struct ibv_context ctx;
static struct ibv_pd pd;
static struct ibv_qp qp;
static struct ibv_cq cq;
static struct ibv_comp_channel cc;
static struct rdma_cm_id cm_id;
static int live_mr, live_cc, live_cq, live_qp;
static int calls; /* verbs calls so far: which one fails */
static int fail_call;
static int nr_recv_posted, disconnects, ids_destroyed;
static char order[64]; /* Q(P), C(Q), H(annel), M(R) as they were destroyed */
static struct ibv_qp_init_attr qp_attr;

static void destroyed(char c)
{
	size_t n = strlen(order);

	assert_true(n + 1 < sizeof(order));
	order[n] = c;
	order[n + 1] = '\0';
}

static int next_call(void)
{
	return ++calls == fail_call ? -ENOMEM : 0;
}

int __wrap_dn_ibv_reg_mr(struct ibv_pd *p, void *addr, size_t len, int access, struct ibv_mr **out)
{
	struct ibv_mr *mr;

	if (next_call())
		return -ENOMEM;
	mr = calloc(1, sizeof(*mr));
	assert_non_null(mr);
	mr->addr = addr;
	mr->length = len;
	mr->lkey = 0x77;
	live_mr++;
	*out = mr;
	return 0;
}

int __wrap_dn_ibv_dereg_mr(struct ibv_mr *mr)
{
	free(mr);
	live_mr--;
	destroyed('M');
	return 0;
}

int __wrap_dn_ibv_create_comp_channel(struct ibv_context *c, struct ibv_comp_channel **out)
{
	if (next_call())
		return -ENOMEM;
	cc.fd = eventfd(0, 0);
	assert_true(cc.fd >= 0);
	live_cc++;
	*out = &cc;
	return 0;
}

int __wrap_dn_ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	close(ch->fd);
	live_cc--;
	destroyed('H');
	return 0;
}

int __wrap_dn_ibv_create_cq(struct ibv_context *c, int cqe, void *cq_ctx,
			    struct ibv_comp_channel *ch, struct ibv_cq **out)
{
	if (next_call())
		return -ENOMEM;
	/* every receive, and two sends per request (READ, or WRITE + SEND) */
	assert_true(cqe >= NR + 2 * NR);
	cq.context = &ctx;
	live_cq++;
	*out = &cq;
	return 0;
}

int __wrap_dn_ibv_destroy_cq(struct ibv_cq *c)
{
	live_cq--;
	destroyed('C');
	return 0;
}

int __wrap_dn_rdma_create_qp(struct rdma_cm_id *id, struct ibv_pd *p, struct ibv_qp_init_attr *a)
{
	if (next_call())
		return -ENOMEM;
	qp_attr = *a;
	qp.context = &ctx;
	id->qp = &qp;
	live_qp++;
	return 0;
}

void __wrap_rdma_destroy_qp(struct rdma_cm_id *id)
{
	assert_ptr_equal(id->qp, &qp);
	id->qp = NULL;
	live_qp--;
	destroyed('Q');
}

int __wrap_dn_rdma_disconnect(struct rdma_cm_id *id)
{
	disconnects++;
	return 0;
}

int __wrap_dn_rdma_destroy_id(struct rdma_cm_id *id)
{
	assert_ptr_equal(id, &cm_id);
	ids_destroyed++;
	destroyed('I');
	return 0;
}

static int fake_post_recv(struct ibv_qp *q, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	for (; wr; wr = wr->next) {
		if (next_call()) {
			*bad = wr;
			return ENOMEM;
		}
		nr_recv_posted++;
	}
	return 0;
}

static int fake_poll_cq(struct ibv_cq *c, int n, struct ibv_wc *wc)
{
	return 0;
}

static int notify_calls;

static int fake_req_notify_cq(struct ibv_cq *c, int solicited)
{
	notify_calls++;
	return 0;
}

/* ---- the fake poll group: messages and deferred work run when the test pumps ---- */
static struct {
	void (*fn)(void *);
	void *arg;
} msgs[16];
static int nr_msgs, load;
static struct dn_event *polled; /* the completion-channel poll on the ring */
static int poll_fd, poll_adds, poll_cancels;

int dn_pg_send_msg(struct dn_poll_group *pg, void (*fn)(void *arg), void *arg)
{
	assert_true(nr_msgs < 16);
	msgs[nr_msgs].fn = fn;
	msgs[nr_msgs].arg = arg;
	nr_msgs++;
	return 0;
}

int dn_pg_poll_add(struct dn_poll_group *pg, int fd, unsigned int mask, struct dn_event *ev)
{
	assert_null(polled);
	polled = ev;
	poll_fd = fd;
	poll_adds++;
	return 0;
}

int dn_pg_poll_cancel(struct dn_poll_group *pg, struct dn_event *ev)
{
	assert_ptr_equal(ev, polled);
	poll_cancels++;
	return 0;
}

void dn_pg_load_get(struct dn_poll_group *pg)
{
	load++;
}

void dn_pg_load_put(struct dn_poll_group *pg)
{
	load--;
}

/* one loop iteration of the group: its messages, then its deferred work */
static void pump(void)
{
	while (nr_msgs || fake_pg_deferred_pending()) {
		while (nr_msgs) {
			void (*fn)(void *) = msgs[0].fn;
			void *arg = msgs[0].arg;

			memmove(msgs, msgs + 1, sizeof(msgs[0]) * (size_t)--nr_msgs);
			fn(arg);
		}
		fake_pg_run_deferred();
	}
}

/* the ring hands back the poll's completion: -ECANCELED after a cancel */
static void poll_completes(int res)
{
	struct io_uring_cqe cqe = {.res = res};
	struct dn_event *ev = polled;

	assert_non_null(ev);
	polled = NULL;
	ev->cb(ev, &cqe);
}

/* ---- the fake core and the transport's list (rdma_cm.c) ---- */
static int lost_reports, destroyed_reports, unlisted;

void dn_tgt_queue_lost(struct dn_tgt_queue *q)
{
	lost_reports++;
}

void dn_tgt_queue_destroyed(struct dn_tgt_queue *q)
{
	destroyed_reports++;
}

void dn_rdma_queue_unlist(struct dn_rdma_queue *rq)
{
	unlisted++;
}

bool dn_req_init(struct dn_tgt_req *req, struct dn_tgt_queue *q, uint32_t incapsule_len)
{
	fail_msg("no capsule arrives in these tests");
	return false;
}

void dn_req_execute(struct dn_tgt_req *req)
{
	fail_msg("no capsule arrives in these tests");
}

void dn_req_complete(struct dn_tgt_req *req, nvme_status_t status)
{
	fail_msg("no capsule arrives in these tests");
}

/* ---- fixtures ---- */
static struct dn_rdma_dev dev;
static struct dn_rdma_pool pool;
static void *pool_mem;
static struct dn_rdma_queue *rq;

static int setup(void **state)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.ops.post_recv = fake_post_recv;
	ctx.ops.poll_cq = fake_poll_cq;
	ctx.ops.req_notify_cq = fake_req_notify_cq;
	memset(&cm_id, 0, sizeof(cm_id));
	memset(&dev, 0, sizeof(dev));
	dev.verbs = &ctx;
	dev.pd = &pd;
	atomic_init(&dev.nr_queues, 0);
	live_mr = live_cc = live_cq = live_qp = 0;
	calls = fail_call = 0;
	nr_recv_posted = disconnects = ids_destroyed = notify_calls = 0;
	order[0] = '\0';
	nr_msgs = load = poll_adds = poll_cancels = 0;
	fake_pg_deferred_reset();
	polled = NULL;
	lost_reports = destroyed_reports = unlisted = 0;
	assert_int_equal(posix_memalign(&pool_mem, 4096, 4 * DN_TGT_MAX_XFER), 0);
	memset(&pool, 0, sizeof(pool));
	assert_int_equal(dn_rdma_pool_init(&pool, pool_mem, 4, 0x5678), 0);
	rq = NULL;
	return 0;
}

static int teardown(void **state)
{
	/* whatever a test made, it gave back */
	assert_int_equal(live_mr, 0);
	assert_int_equal(live_cc, 0);
	assert_int_equal(live_cq, 0);
	assert_int_equal(live_qp, 0);
	assert_int_equal(atomic_load(&dev.nr_queues), 0);
	dn_rdma_pool_release(&pool);
	free(pool_mem);
	return 0;
}

static void create(void)
{
	assert_int_equal(dn_rdma_queue_create(&cm_id, &dev, &pool, 1, NR, NR, 4, &rq), 0);
}

/* the end every lifetime must reach: destroyed in order, reported once, the load given back */
static void assert_destroyed(void)
{
	/* QP first (the device is done with the buffers), then CQ, channel, memory, the id */
	assert_string_equal(order, "QCHMI");
	assert_int_equal(destroyed_reports, 1);
	assert_int_equal(unlisted, 1);
	assert_int_equal(ids_destroyed, 1);
	assert_int_equal(load, 0);
	assert_null(polled);
}

/* ---- creation ---- */

/* A queue's QP, CQ, channel and memory, with every receive posted */
static void test_create(void **state)
{
	create();
	assert_int_equal(qp_attr.cap.max_send_wr, 2 * NR);
	assert_int_equal(qp_attr.cap.max_recv_wr, NR);
	assert_int_equal(qp_attr.cap.max_recv_sge, 2); /* SQE, in-capsule data */
	assert_int_equal(qp_attr.cap.max_inline_data, sizeof(struct nvme_cqe));
	assert_ptr_equal(qp_attr.send_cq, &cq);
	assert_ptr_equal(qp_attr.recv_cq, &cq);
	assert_int_equal(nr_recv_posted, NR);
	assert_ptr_equal(cm_id.context, rq);
	assert_int_equal(rq->mr->length, rq->mem_len);
	assert_int_equal(atomic_load(&dev.nr_queues), 1);
	dn_rdma_queue_free(rq);
	assert_string_equal(order, "QCHM"); /* the id stays: its owner destroys it */
	assert_null(cm_id.context);
}

/* A failure at each step of creation gives back all that was made before it. */
static void test_create_unwinds(void **state)
{
	int n;

	/* reg_mr, comp channel, CQ, QP, then NR receives */
	for (n = 1; n <= 4 + NR; n++) {
		teardown(state);
		setup(state);
		fail_call = n;
		assert_int_equal(dn_rdma_queue_create(&cm_id, &dev, &pool, 1, NR, NR, 4, &rq),
				 -ENOMEM);
		assert_null(rq);
		assert_int_equal(live_mr + live_cc + live_cq + live_qp, 0);
		assert_int_equal(atomic_load(&dev.nr_queues), 0);
	}
}

/* ---- lifetime ---- */

/*
 * Adopted by its group (CQ armed, channel polled), deleted by the core: disconnected at once,
 * drained on the group thread, its poll cancelled, and destroyed only once the cancelled
 * poll's completion is back (the ring must not hold a pointer into a freed queue).
 */
static void test_delete_lifecycle(void **state)
{
	create();
	assert_int_equal(dn_rdma_queue_adopt(rq), 0);
	assert_int_equal(load, 1);
	pump();
	assert_true(rq->adopted);
	assert_int_equal(notify_calls >= 1, 1);
	assert_int_equal(poll_adds, 1);
	assert_int_equal(poll_fd, cc.fd);
	dn_rdma_delete_queue(&rq->q);
	assert_int_equal(disconnects, 1);
	pump();
	assert_int_equal(poll_cancels, 1);
	/* still there: the poll's completion has not come back */
	assert_int_equal(destroyed_reports, 0);
	assert_string_equal(order, "");
	poll_completes(-ECANCELED);
	pump();
	assert_destroyed();
	assert_int_equal(lost_reports, 0);
}

/* Deleting twice (the controller going while the queue is already going) does it once. */
static void test_delete_twice(void **state)
{
	create();
	dn_rdma_queue_adopt(rq);
	pump();
	dn_rdma_delete_queue(&rq->q);
	dn_rdma_delete_queue(&rq->q);
	assert_int_equal(disconnects, 1);
	assert_int_equal(nr_msgs, 1);
	pump();
	poll_completes(-ECANCELED);
	pump();
	assert_destroyed();
}

/* Lost is reported to the core once, and not at all for a queue already being deleted. */
static void test_lost_once(void **state)
{
	create();
	dn_rdma_queue_adopt(rq);
	pump();
	dn_rdma_queue_lost(rq, "test");
	dn_rdma_queue_lost(rq, "test again");
	assert_int_equal(lost_reports, 1);
	/* the core answers a lost queue by deleting it */
	dn_rdma_delete_queue(&rq->q);
	dn_rdma_queue_lost(rq, "after the delete");
	assert_int_equal(lost_reports, 1);
	pump();
	poll_completes(-ECANCELED);
	pump();
	assert_destroyed();

	teardown(state);
	setup(state);
	create();
	dn_rdma_queue_adopt(rq);
	pump();
	dn_rdma_delete_queue(&rq->q);
	dn_rdma_queue_lost(rq, "while deleting");
	assert_int_equal(lost_reports, 0);
	pump();
	poll_completes(-ECANCELED);
	pump();
	assert_destroyed();
}

/* Deleted before its group adopted it: the adoption finds it dying and it still ends. */
static void test_delete_before_adopt(void **state)
{
	create();
	dn_rdma_queue_adopt(rq);
	dn_rdma_delete_queue(&rq->q); /* both messages queued, neither run */
	assert_int_equal(nr_msgs, 2);
	pump();
	poll_completes(-ECANCELED);
	pump();
	assert_destroyed();
}

/* Requests the core still holds keep the queue: it is destroyed only once they are back. */
static void test_core_holds_queue(void **state)
{
	create();
	dn_rdma_queue_adopt(rq);
	pump();
	rq->nr_in_core = 2; /* two commands executing in a backend */
	dn_rdma_delete_queue(&rq->q);
	pump();
	assert_int_equal(poll_cancels, 0);
	assert_false(rq->finishing);
	rq->nr_in_core = 0; /* their completions came back */
	dn_rdma_queue_try_finish(rq);
	pump();
	assert_int_equal(poll_cancels, 1);
	assert_string_equal(order, "");
	poll_completes(-ECANCELED);
	pump();
	assert_destroyed();
}

/* The channel's poll completing normally while the queue drains: it is not re-armed. */
static void test_poll_fires_while_finishing(void **state)
{
	create();
	dn_rdma_queue_adopt(rq);
	pump();
	dn_rdma_delete_queue(&rq->q);
	pump();
	/* the flushes woke the channel before the cancel took */
	poll_completes(1);
	pump();
	assert_int_equal(poll_adds, 1);
	assert_destroyed();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_unwinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_before_adopt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_core_holds_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_fires_while_finishing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
