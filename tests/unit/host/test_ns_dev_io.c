// SPDX-License-Identifier: MIT
/*
 * Tests for host/ns_dev.c's I/O path: what a ublk queue thread does with the block layer's
 * requests. ns_dev.c is linked alone with fakes of the layers it sits on, defined here:
 *   - the ublk library (host/ublk.h): the test is the queue thread; it calls the ops table
 *     ns_dev.c registers (init_queue, queue_io, flush, notify, stop_queue, exit_queue) and
 *     records every dn_ublk_complete();
 *   - the NVMe/RDMA queue (host/rdma_queue.h): each connection records the commands
 *     submitted on it; the test answers them, and tearing a connection down aborts what it
 *     had in flight with a path error, as the real one does;
 *   - the controller (host/ctrl.h): state, association number and limits are fields the test
 *     sets; resets asked for are counted.
 * Covered: ublk operations to NVMe commands (LBA and length, keyed SGL with the I/O buffer's
 * key, in-capsule writes and DSM ranges, Flush, Write Zeroes), results back to ublk, I/O held
 * across a lost connection or a command timeout (30 ticks) and sent again after the reconnect,
 * failed once fast_io_fail_tmo has passed, round robin over two paths and failover to the path
 * that is left, requests larger than a path's MDTS sent in pieces, requests beyond a smaller
 * queue's slots waiting for one, and everything held failed when the device stops.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "host/ctrl.h"
#include "host/ns_dev.h"
#include "host/rdma_queue.h"
#include "host/ublk.h"

#define DEPTH  8
#define NSID   3
#define SHIFT  12 /* 4 KiB blocks */
#define NLBAS  1024
#define MAXIO  (128u << 10)
#define NCTRLS 2

/* ---- the fake ublk library ---- */
struct dn_ublk_dev {
	const struct dn_ublk_ops *ops;
	void *priv;
	struct dn_ublk_params params;
};

struct dn_ublk_queue {
	struct io_uring ring;
	void *priv;
	bool inited;
};

static struct dn_ublk_dev udev;
static struct dn_ublk_queue uq;
static uint8_t *bufs; /* the queue's I/O buffers: tag t at bufs + t * MAXIO */
static int create_ret;
static int done_res[DEPTH];
static unsigned int nr_done;
static bool done_seen[DEPTH];

int dn_ublk_create(const struct dn_ublk_params *p, const struct dn_ublk_ops *ops, void *priv,
		   struct dn_ublk_dev **out)
{
	if (create_ret)
		return create_ret;
	udev.ops = ops;
	udev.priv = priv;
	udev.params = *p;
	*out = &udev;
	return 0;
}

int dn_ublk_start(struct dn_ublk_dev *dev)
{
	int ret = dev->ops->init_queue(&uq, bufs, (size_t)DEPTH * MAXIO);

	uq.inited = !ret;
	return ret;
}

/* what had completed when stop_queue returned (the kernel waits for all of it then) */
static unsigned int done_at_stop;
static void (*after_stop)(void);

void dn_ublk_stop_and_delete(struct dn_ublk_dev *dev)
{
	if (uq.inited) {
		dev->ops->stop_queue(&uq);
		done_at_stop = nr_done;
		if (after_stop)
			after_stop();
		dev->ops->exit_queue(&uq);
	}
	uq.inited = false;
}

int dn_ublk_dev_id(const struct dn_ublk_dev *dev)
{
	return 5;
}

void *dn_ublk_priv(const struct dn_ublk_dev *dev)
{
	return dev->priv;
}

uint16_t dn_ublk_nr_queues(const struct dn_ublk_dev *dev)
{
	return 1;
}

uint16_t dn_ublk_queue_depth(const struct dn_ublk_dev *dev)
{
	return dev->params.queue_depth;
}

struct dn_ublk_queue *dn_ublk_queue(struct dn_ublk_dev *dev, uint16_t q_id)
{
	assert_int_equal(q_id, 0);
	return &uq;
}

/* the queue thread runs the notification at once (the test is that thread) */
void dn_ublk_queue_notify(struct dn_ublk_queue *q)
{
	if (q->inited)
		udev.ops->notify(q);
}

struct io_uring *dn_ublk_queue_ring(struct dn_ublk_queue *q)
{
	return &q->ring;
}

uint16_t dn_ublk_queue_id(const struct dn_ublk_queue *q)
{
	return 0;
}

struct dn_ublk_dev *dn_ublk_queue_dev(struct dn_ublk_queue *q)
{
	return &udev;
}

void *dn_ublk_queue_priv(struct dn_ublk_queue *q)
{
	return q->priv;
}

void dn_ublk_queue_set_priv(struct dn_ublk_queue *q, void *priv)
{
	q->priv = priv;
}

void dn_ublk_complete(struct dn_ublk_queue *q, uint16_t tag, int res)
{
	assert_true(tag < DEPTH);
	assert_false(done_seen[tag]); /* once per request */
	done_seen[tag] = true;
	done_res[tag] = res;
	nr_done++;
}

/* the kernel's answer to a live resize (-EOPNOTSUPP before Linux 6.16), and what it got */
static int update_size_ret;
static uint64_t update_size_bytes;

int dn_ublk_update_size(struct dn_ublk_dev *dev, uint64_t bytes)
{
	update_size_bytes = bytes;
	if (update_size_ret)
		return update_size_ret;
	dev->params.size = bytes;
	return 0;
}

/* ---- the fake NVMe/RDMA queue ---- */
struct sent {
	struct nvme_sqe sqe;
	uint8_t icd[DN_INCAPSULE_WRITE_MAX];
	uint32_t incapsule;
	struct dn_hq *hq;
	struct dn_hq_req *r;
};

static struct sent sent[64];
static unsigned int nr_sent, nr_connects, nr_destroys, nr_flushes;
static int connect_ret, submit_ret;
static struct dn_hq *flush_fails; /* this connection's next flush fails */
static struct ibv_mr io_mr = {.rkey = 0x10c0}, cap_mr = {.rkey = 0xca9};
static struct dn_hq_opts last_opts;
static struct dn_hq *last_hq; /* the last connection made */

int dn_hq_connect(struct dn_hq *q, const struct dn_hq_opts *o, struct dn_err *e)
{
	struct ibv_comp_channel *cc;
	uint16_t i;

	if (connect_ret)
		return dn_err_set(e, connect_ret, "fake: no connection");
	memset(q, 0, sizeof(*q));
	last_opts = *o;
	q->depth = o->depth;
	q->qid = o->qid;
	q->incapsule = o->incapsule;
	q->io_mr = &io_mr;
	q->cap_mr = &cap_mr;
	q->reqs = calloc(q->depth, sizeof(*q->reqs));
	q->capsules = calloc(q->depth, sizeof(struct nvme_sqe) + DN_INCAPSULE_WRITE_MAX);
	cc = calloc(1, sizeof(*cc));
	assert_non_null(q->reqs);
	assert_non_null(q->capsules);
	assert_non_null(cc);
	cc->fd = eventfd(0, EFD_CLOEXEC);
	assert_true(cc->fd >= 0);
	q->cc = cc;
	for (i = 0; i < q->depth; i++) {
		q->reqs[i].cid = i;
		q->reqs[i].sqe =
			(struct nvme_sqe *)((uint8_t *)q->capsules +
					    i * (sizeof(struct nvme_sqe) + DN_INCAPSULE_WRITE_MAX));
	}
	q->connected = true;
	nr_connects++;
	last_hq = q;
	return 0;
}

static void fake_complete(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st)
{
	r->cqe.status = htole16((uint16_t)(st << 1));
	q->nr_inflight--;
	r->done(q, r, st, &r->cqe);
	dn_hq_put_req(q, r);
}

void dn_hq_destroy(struct dn_hq *q)
{
	uint16_t i;

	if (!q->connected)
		return;
	q->connected = false;
	for (i = 0; i < q->depth; i++)
		if (q->reqs[i].state == DN_HQ_REQ_INFLIGHT)
			fake_complete(q, &q->reqs[i],
				      NVME_STATUS(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));
	close(q->cc->fd);
	free(q->cc);
	free(q->reqs);
	free(q->capsules);
	q->cc = NULL;
	q->reqs = NULL;
	q->capsules = NULL;
	nr_destroys++;
}

struct dn_hq_req *dn_hq_get_req(struct dn_hq *q)
{
	uint16_t i;

	for (i = 0; i < q->depth; i++)
		if (q->reqs[i].state == DN_HQ_REQ_FREE) {
			q->reqs[i].state = DN_HQ_REQ_INFLIGHT;
			return &q->reqs[i];
		}
	return NULL;
}

void dn_hq_put_req(struct dn_hq *q, struct dn_hq_req *r)
{
	r->state = DN_HQ_REQ_FREE;
}

int dn_hq_submit(struct dn_hq *q, struct dn_hq_req *r, uint32_t incapsule_len)
{
	struct sent *s = &sent[nr_sent];

	assert_true(q->connected);
	if (submit_ret)
		return submit_ret;
	assert_true(nr_sent < 64);
	s->sqe = *r->sqe;
	s->incapsule = incapsule_len;
	assert_true(incapsule_len <= sizeof(s->icd));
	memcpy(s->icd, r->sqe + 1, incapsule_len);
	s->hq = q;
	s->r = r;
	r->deadline = q->tick; /* as the real queue stamps it */
	nr_sent++;
	q->nr_inflight++;
	return 0;
}

int dn_hq_flush(struct dn_hq *q)
{
	nr_flushes++;
	if (flush_fails == q) {
		flush_fails = NULL;
		return -EIO;
	}
	return 0;
}

/* reaping finds every command in flight answered (success) when set */
static bool answer_on_reap;

int dn_hq_process(struct dn_hq *q)
{
	uint16_t i;

	for (i = 0; answer_on_reap && i < q->depth; i++)
		if (q->reqs[i].state == DN_HQ_REQ_INFLIGHT)
			fake_complete(q, &q->reqs[i], 0);
	return 0;
}

int dn_hq_handle_event(struct dn_hq *q)
{
	return 0;
}

/* this connection's CM channel reports its end (cm_end: -ENOTCONN, -ENODEV) once */
static struct dn_hq *cm_ended;
static int cm_end;
static unsigned int nr_cm_checks;

int dn_hq_cm_check(struct dn_hq *q)
{
	assert_true(q->connected);
	nr_cm_checks++;
	if (q != cm_ended)
		return 0;
	cm_ended = NULL;
	return cm_end;
}

/* ---- the fake controllers ---- */
static struct dn_ctrl ctrls[NCTRLS];
static unsigned int resets[NCTRLS], qids_out[NCTRLS];

static int ctrl_idx(const struct dn_ctrl *c)
{
	assert_true(c >= ctrls && c < ctrls + NCTRLS);
	return (int)(c - ctrls);
}

enum dn_ctrl_state dn_ctrl_state(const struct dn_ctrl *c)
{
	return c->state;
}

uint32_t dn_ctrl_gen(const struct dn_ctrl *c)
{
	return c->gen;
}

bool dn_ctrl_may_hold_io(const struct dn_ctrl *c)
{
	return c->state == DN_CTRL_LIVE || (c->state == DN_CTRL_RESETTING && !c->io_failfast);
}

void dn_ctrl_request_reset(struct dn_ctrl *c)
{
	resets[ctrl_idx(c)]++;
}

void dn_ctrl_caps_get(struct dn_ctrl *c, struct dn_ctrl_caps *caps, uint16_t *max_qid)
{
	*caps = c->caps;
	if (max_qid)
		*max_qid = 4;
}

int dn_ctrl_alloc_qid(struct dn_ctrl *c)
{
	qids_out[ctrl_idx(c)]++;
	return 1;
}

void dn_ctrl_free_qid(struct dn_ctrl *c, int qid)
{
	assert_int_equal(qid, 1);
	assert_true(qids_out[ctrl_idx(c)] > 0);
	qids_out[ctrl_idx(c)]--;
}

int dn_ctrl_fabrics_connect(struct dn_ctrl *c, struct dn_hq *q, uint32_t kato_ms, struct dn_err *e)
{
	assert_int_equal(kato_ms, 0);
	return 0;
}

void dn_ctrl_set_starting(struct dn_ctrl *c, struct dn_ns_dev *d) {}

/* ---- helpers ---- */
static const struct dn_ns_info ns = {.nsid = NSID, .nsze = NLBAS, .lbs_shift = SHIFT};
static struct dn_ns_dev *dev;

static void ctrl_init(struct dn_ctrl *c, const char *traddr, uint32_t incapsule)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->o.subnqn, sizeof(c->o.subnqn), "nqn.2024-01.io.disnvme:t");
	snprintf(c->o.traddr, sizeof(c->o.traddr), "%s", traddr);
	snprintf(c->o.trsvcid, sizeof(c->o.trsvcid), "4420");
	c->state = DN_CTRL_LIVE;
	c->gen = 1;
	c->caps.max_xfer = MAXIO;
	c->caps.incapsule = incapsule;
	c->caps.oncs = 0xffff;
	c->caps.nr_queues = 1;
	c->caps.queue_size = DEPTH;
}

static int setup_with(uint32_t incapsule)
{
	struct dn_err e = {0};

	dn_log_init("test", -10);
	memset(&uq, 0, sizeof(uq));
	assert_int_equal(io_uring_queue_init(16, &uq.ring, 0), 0);
	bufs = aligned_alloc(4096, (size_t)DEPTH * MAXIO);
	assert_non_null(bufs);
	memset(sent, 0, sizeof(sent));
	nr_sent = nr_connects = nr_destroys = nr_flushes = nr_done = 0;
	memset(done_seen, 0, sizeof(done_seen));
	memset(resets, 0, sizeof(resets));
	memset(qids_out, 0, sizeof(qids_out));
	connect_ret = submit_ret = create_ret = update_size_ret = 0;
	update_size_bytes = 0;
	cm_ended = NULL;
	nr_cm_checks = 0;
	flush_fails = NULL;
	answer_on_reap = false;
	ctrl_init(&ctrls[0], "10.0.0.1", incapsule);
	ctrl_init(&ctrls[1], "10.0.1.1", incapsule);
	assert_int_equal(dn_ns_dev_create(&ctrls[0], &ns, &dev, &e), 0);
	assert_int_equal(nr_connects, 1);
	return 0;
}

static int setup(void **state)
{
	return setup_with(8192);
}

static int setup_no_incapsule(void **state)
{
	return setup_with(0);
}

static int teardown(void **state)
{
	if (dev)
		dn_ns_dev_destroy(dev);
	dev = NULL;
	assert_int_equal(nr_destroys, nr_connects);
	assert_int_equal(qids_out[0] + qids_out[1], 0);
	io_uring_queue_exit(&uq.ring);
	free(bufs);
	return 0;
}

/* The block layer hands the queue a request; the pass ends with the flush op. */
static void queue_io(uint16_t tag, uint8_t op, uint64_t sector, uint32_t sectors)
{
	struct ublksrv_io_desc iod = {
		.op_flags = op,
		.nr_sectors = sectors,
		.start_sector = sector,
	};

	udev.ops->queue_io(&uq, tag, &iod, bufs + (size_t)tag * MAXIO);
}

static void end_pass(void)
{
	udev.ops->flush(&uq);
}

static struct sent *last_sent(void)
{
	assert_true(nr_sent > 0);
	return &sent[nr_sent - 1];
}

static void answer(struct sent *s, nvme_status_t st)
{
	fake_complete(s->hq, s->r, st);
}

static struct dn_hq *path_hq(int slot_of_sent)
{
	return sent[slot_of_sent].hq;
}

/* The command's data pointer as a target decodes it. */
static struct nvme_sgl_info sgl_of(const struct sent *s)
{
	struct nvme_sgl_info info;

	assert_int_equal(nvme_sgl_parse(&s->sqe, s->incapsule, MAXIO, &info), 0);
	return info;
}

static uint64_t sqe_slba(const struct nvme_sqe *sqe)
{
	return (uint64_t)le32toh(sqe->common.cdw11) << 32 | le32toh(sqe->common.cdw10);
}

/* ---- tests ---- */

/* The queue's connection: qid from the controller, depth and buffers of the ublk queue. */
static void test_queue_connected(void **state)
{
	assert_int_equal(last_opts.qid, 1);
	assert_int_equal(last_opts.depth, DEPTH);
	assert_int_equal(last_opts.incapsule, 8192);
	assert_ptr_equal(last_opts.io_buf, bufs);
	assert_int_equal(last_opts.io_buf_len, (size_t)DEPTH * MAXIO);
	assert_string_equal(last_opts.traddr, "10.0.0.1");
	assert_int_equal(qids_out[0], 1);
}

static void test_read_write_commands(void **state)
{
	static uint8_t small[4096];
	struct sent *s;

	/* READ of 8 KiB at sector 16: LBA 2, two blocks, keyed to the tag's buffer */
	queue_io(0, UBLK_IO_OP_READ, 16, 16);
	assert_int_equal(nr_sent, 1);
	assert_int_equal(nr_flushes, 0); /* posted at the end of the pass, not per command */
	end_pass();
	assert_int_equal(nr_flushes, 1);
	s = last_sent();
	assert_int_equal(s->sqe.opcode, nvme_cmd_read);
	assert_int_equal(le32toh(s->sqe.common.nsid), NSID);
	assert_int_equal(sqe_slba(&s->sqe), 2);
	assert_int_equal(le32toh(s->sqe.common.cdw12) & 0xffff, 1);
	assert_int_equal(sgl_of(s).kind, NVME_SGL_KIND_KEYED);
	assert_int_equal(sgl_of(s).addr, (uintptr_t)bufs);
	assert_int_equal(sgl_of(s).length, 8192);
	assert_int_equal(sgl_of(s).key, io_mr.rkey);
	assert_int_equal(s->incapsule, 0);
	answer(s, 0);
	assert_int_equal(nr_done, 1);
	assert_int_equal(done_res[0], 8192);

	/* a 4 KiB write travels in the capsule */
	memset(small, 0xab, sizeof(small));
	memcpy(bufs + 1 * MAXIO, small, sizeof(small));
	queue_io(1, UBLK_IO_OP_WRITE, 8, 8);
	s = last_sent();
	assert_int_equal(s->sqe.opcode, nvme_cmd_write);
	assert_int_equal(sqe_slba(&s->sqe), 1);
	assert_int_equal(le32toh(s->sqe.common.cdw12) & 0xffff, 0);
	assert_int_equal(s->incapsule, 4096);
	assert_int_equal(sgl_of(s).kind, NVME_SGL_KIND_INLINE);
	assert_int_equal(sgl_of(s).length, 4096);
	assert_memory_equal(s->icd, small, sizeof(small));
	answer(s, 0);
	assert_int_equal(done_res[1], 4096);

	/* a 64 KiB write is above the in-capsule limit: keyed, with the I/O buffers' key */
	queue_io(2, UBLK_IO_OP_WRITE, (NLBAS - 16) * 8, 128);
	s = last_sent();
	assert_int_equal(sqe_slba(&s->sqe), NLBAS - 16);
	assert_int_equal(le32toh(s->sqe.common.cdw12) & 0xffff, 15);
	assert_int_equal(sgl_of(s).kind, NVME_SGL_KIND_KEYED);
	assert_int_equal(sgl_of(s).addr, (uintptr_t)(bufs + 2 * MAXIO));
	assert_int_equal(sgl_of(s).length, 65536);
	assert_int_equal(sgl_of(s).key, io_mr.rkey);
	assert_int_equal(s->incapsule, 0);
	answer(s, 0);
	assert_int_equal(done_res[2], 65536);
	assert_int_equal(nr_done, 3);
}

static void test_other_commands(void **state)
{
	const struct nvme_dsm_range *range;
	struct sent *s;

	queue_io(0, UBLK_IO_OP_FLUSH, 0, 0);
	s = last_sent();
	assert_int_equal(s->sqe.opcode, nvme_cmd_flush);
	assert_int_equal(le32toh(s->sqe.common.nsid), NSID);
	answer(s, 0);
	assert_int_equal(done_res[0], 0);

	queue_io(1, UBLK_IO_OP_WRITE_ZEROES, 64, 32);
	s = last_sent();
	assert_int_equal(s->sqe.opcode, nvme_cmd_write_zeroes);
	assert_int_equal(sqe_slba(&s->sqe), 8);
	assert_int_equal(le32toh(s->sqe.common.cdw12) & 0xffff, 3);
	answer(s, 0);
	assert_int_equal(done_res[1], 0);

	/* discard: one deallocate range, in the capsule */
	queue_io(2, UBLK_IO_OP_DISCARD, 80, 24);
	s = last_sent();
	assert_int_equal(s->sqe.opcode, nvme_cmd_dsm);
	assert_int_equal(le32toh(s->sqe.common.cdw10), 0); /* one range, 0's based */
	assert_true(le32toh(s->sqe.common.cdw11) & NVME_DSMGMT_AD);
	assert_int_equal(s->incapsule, sizeof(*range));
	range = (const struct nvme_dsm_range *)s->icd;
	assert_int_equal(le64toh(range->slba), 10);
	assert_int_equal(le32toh(range->nlb), 3);
	answer(s, 0);
	assert_int_equal(done_res[2], 0);

	/* fewer sectors than a block, or an unknown op: refused here, nothing sent */
	queue_io(3, UBLK_IO_OP_READ, 0, 4);
	assert_int_equal(done_res[3], -EINVAL);
	queue_io(4, 0x7e, 0, 8);
	assert_int_equal(done_res[4], -EOPNOTSUPP);
	assert_int_equal(nr_sent, 3);
}

/* A target without in-capsule data: the DSM range is read from the capsule area by key. */
static void test_discard_keyed(void **state)
{
	struct sent *s;

	queue_io(5, UBLK_IO_OP_DISCARD, 0, 8);
	s = last_sent();
	assert_int_equal(s->incapsule, 0);
	assert_int_equal(sgl_of(s).kind, NVME_SGL_KIND_KEYED);
	assert_int_equal(sgl_of(s).key, cap_mr.rkey);
	assert_int_equal(sgl_of(s).length, sizeof(struct nvme_dsm_range));
	/* the range, where the key lets the target read it */
	assert_int_equal(le64toh(((const struct nvme_dsm_range *)(uintptr_t)sgl_of(s).addr)->slba),
			 0);
	assert_int_equal(le32toh(((const struct nvme_dsm_range *)(uintptr_t)sgl_of(s).addr)->nlb),
			 1);
	/* small writes go keyed too */
	queue_io(6, UBLK_IO_OP_WRITE, 0, 8);
	s = last_sent();
	assert_int_equal(s->incapsule, 0);
	assert_int_equal(sgl_of(s).kind, NVME_SGL_KIND_KEYED);
	assert_int_equal(sgl_of(s).key, io_mr.rkey);
}

/* The target's status reaches the block layer as an errno. */
static void test_status_to_errno(void **state)
{
	static const struct {
		nvme_status_t st;
		int res;
	} cases[] = {
		{NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE), -ERANGE},
		{NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED), -EROFS},
		{NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE), -EOPNOTSUPP},
		{NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CAP_EXCEEDED), -ENOSPC},
	};
	uint16_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		queue_io(i, UBLK_IO_OP_WRITE, 0, 8);
		answer(last_sent(), cases[i].st);
		assert_int_equal(done_res[i], cases[i].res);
	}
	assert_int_equal(resets[0], 0);
}

/*
 * The connection fails with I/O in flight: the controller is asked to reset, the I/O (and
 * what comes meanwhile) is held, and sent again, same LBAs and buffers, once the controller
 * is back with a new association.
 */
static void test_held_across_reconnect(void **state)
{
	unsigned int i, first;
	struct dn_hq *old;

	for (i = 0; i < 3; i++)
		queue_io((uint16_t)i, UBLK_IO_OP_READ, i * 8ull, 8);
	old = path_hq(0);
	flush_fails = old;
	end_pass();
	assert_int_equal(resets[0], 1);
	assert_int_equal(nr_destroys, 1);
	assert_int_equal(nr_done, 0); /* held, not failed */

	ctrls[0].state = DN_CTRL_RESETTING;
	memset(bufs + 3 * MAXIO, 0x3c, 8192);
	queue_io(3, UBLK_IO_OP_WRITE, 800, 16);
	assert_int_equal(nr_sent, 3); /* no path: held */
	assert_int_equal(nr_done, 0);

	/* back, with a new association: the queue reconnects and sends all four again */
	ctrls[0].state = DN_CTRL_LIVE;
	ctrls[0].gen++;
	first = nr_sent;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_connects, 2);
	assert_int_equal(nr_sent - first, 4);
	for (i = first; i < nr_sent; i++) {
		uint16_t tag = (uint16_t)sent[i].r->ctx;

		assert_int_equal(sqe_slba(&sent[i].sqe), tag < 3 ? tag * 1ull : 100);
		if (tag < 3) {
			assert_int_equal(sgl_of(&sent[i]).addr,
					 (uintptr_t)(bufs + (size_t)tag * MAXIO));
		} else { /* the write, in the capsule again, from its buffer */
			assert_int_equal(sent[i].incapsule, 8192);
			assert_memory_equal(sent[i].icd, bufs + 3 * MAXIO, 8192);
		}
		answer(&sent[i], 0);
	}
	assert_int_equal(nr_done, 4);
	for (i = 0; i < 3; i++)
		assert_int_equal(done_res[i], 4096);
	assert_int_equal(done_res[3], 8192);
}

/*
 * The queue's one-second tick, as the ring would deliver it: the timeout the queue armed is
 * found in the ring's submission entries and its completion handed to its handler.
 */
static void tick(void)
{
	struct io_uring *ring = &uq.ring;
	unsigned int i, n = *ring->sq.kring_entries;
	struct dn_event *ev = NULL;
	struct io_uring_cqe cqe = {.res = -ETIME};

	for (i = 0; i < n && !ev; i++)
		if (ring->sq.sqes[i].opcode == IORING_OP_TIMEOUT)
			ev = (struct dn_event *)(uintptr_t)ring->sq.sqes[i].user_data;
	assert_non_null(ev);
	cqe.user_data = (uint64_t)(uintptr_t)ev;
	/* the handler arms the next tick: let the ring take it, as the queue thread would */
	ev->cb(ev, &cqe);
	io_uring_submit(ring);
}

/* A command without an answer for 30 ticks: the controller is reset, the I/O held. */
static void test_command_timeout(void **state)
{
	unsigned int i;

	queue_io(0, UBLK_IO_OP_READ, 0, 8);
	end_pass();
	for (i = 0; i < 30; i++)
		tick();
	assert_int_equal(resets[0], 0);	    /* 30 s is not yet too long */
	queue_io(1, UBLK_IO_OP_READ, 8, 8); /* a younger command does not hide the old one */
	end_pass();
	tick();
	assert_int_equal(resets[0], 1);
	assert_int_equal(nr_destroys, 1);
	assert_int_equal(nr_done, 0); /* both held for the reconnect */
	ctrls[0].gen++;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_sent, 4);
	answer(&sent[2], 0);
	answer(&sent[3], 0);
	assert_int_equal(nr_done, 2);
}

/*
 * The target closes one I/O queue alone, the admin queue staying up: the queue finds out
 * from its CM channel at its next tick, even idle, and asks for a reset; what it had in
 * flight is held and sent again after it.
 */
static void test_target_closes_queue(void **state)
{
	tick();
	assert_int_equal(nr_cm_checks, 1); /* every tick looks */
	assert_int_equal(resets[0], 0);

	/* idle: nothing in flight would fail to tell it */
	cm_ended = last_hq;
	cm_end = -ENOTCONN;
	tick();
	assert_int_equal(resets[0], 1);
	assert_int_equal(nr_destroys, 1);
	assert_null(cm_ended);
	ctrls[0].gen++;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_connects, 2);

	/* busy, and the local device is going: the same, the read held and resent */
	queue_io(0, UBLK_IO_OP_READ, 16, 8);
	end_pass();
	cm_ended = path_hq(0);
	assert_ptr_equal(cm_ended, last_hq);
	cm_end = -ENODEV;
	tick();
	assert_int_equal(resets[0], 2);
	assert_int_equal(nr_destroys, 2);
	assert_int_equal(nr_done, 0);
	ctrls[0].gen++;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_sent, 2);
	assert_int_equal(sqe_slba(&sent[1].sqe), 2);
	answer(&sent[1], 0);
	assert_int_equal(nr_done, 1);
	assert_int_equal(done_res[0], 4096);
}

/* Once fast_io_fail_tmo has passed, I/O on a lost connection fails, held I/O with it. */
static void test_failfast(void **state)
{
	queue_io(0, UBLK_IO_OP_READ, 0, 8);
	flush_fails = path_hq(0);
	end_pass();
	assert_int_equal(nr_done, 0);
	ctrls[0].state = DN_CTRL_RESETTING;
	ctrls[0].io_failfast = true;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_done, 1);
	assert_int_equal(done_res[0], -EIO);
	queue_io(1, UBLK_IO_OP_READ, 0, 8);
	assert_int_equal(done_res[1], -EIO);
}

/* Two paths: commands alternate between them; one fails, its I/O moves to the other. */
static void test_multipath(void **state)
{
	struct dn_err e = {0};
	struct dn_ns_info other = ns;
	struct dn_hq *a, *b;
	unsigned int i, on_a = 0, on_b = 0, before;

	/* a namespace of another shape is not a second path */
	other.nsze = NLBAS * 2;
	assert_int_equal(dn_ns_dev_add_path(dev, &ctrls[1], &other, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "another shape"));
	dn_err_clear(&e);
	assert_int_equal(dn_ns_dev_add_path(dev, &ctrls[1], &ns, &e), 0);
	assert_int_equal(nr_connects, 2);
	assert_string_equal(last_opts.traddr, "10.0.1.1");

	for (i = 0; i < 4; i++)
		queue_io((uint16_t)i, UBLK_IO_OP_READ, i * 8ull, 8);
	end_pass();
	a = sent[0].hq;
	for (i = 0; i < 4; i++) {
		on_a += sent[i].hq == a;
		on_b += sent[i].hq != a;
		assert_true(sent[i].hq != sent[(i + 1) % 4].hq); /* round robin */
	}
	assert_int_equal(on_a, 2);
	assert_int_equal(on_b, 2);
	b = sent[1].hq;
	answer(&sent[0], 0);
	answer(&sent[1], 0);

	/* path a's connection fails at the end of a pass that sent it one more command (round
	 * robin): a's two commands go to b at once, nothing reaches ublk as failed */
	before = nr_sent;
	flush_fails = a;
	queue_io(4, UBLK_IO_OP_READ, 64, 8);
	assert_ptr_equal(sent[before].hq, a);
	end_pass();
	assert_int_equal(resets[0], 1);
	assert_int_equal(resets[1], 0);
	assert_int_equal(nr_sent - before, 3);
	assert_ptr_equal(sent[before + 1].hq, b);
	assert_ptr_equal(sent[before + 2].hq, b);
	assert_int_equal(nr_done, 2);
	for (i = 0; i < nr_sent; i++)
		if (sent[i].hq == b && sent[i].r->state == DN_HQ_REQ_INFLIGHT &&
		    !done_seen[sent[i].r->ctx])
			answer(&sent[i], 0);
	assert_int_equal(nr_done, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(done_res[i], 4096);

	/* the path that failed leaves the device: the queue lets go of it */
	assert_false(dn_ns_dev_remove_path(dev, &ctrls[0]));
	assert_int_equal(dev->nr_paths, 1);
	assert_ptr_equal(dev->ctrl, &ctrls[1]);
	assert_int_equal(qids_out[0], 0);
}

/* A piece's command: LBA, block count, keyed address and length */
static void assert_piece(const struct sent *s, uint64_t slba, uint32_t len, const uint8_t *addr)
{
	assert_int_equal(sqe_slba(&s->sqe), slba);
	assert_int_equal((le32toh(s->sqe.common.cdw12) & 0xffff) + 1, len >> SHIFT);
	assert_int_equal(sgl_of(s).kind, NVME_SGL_KIND_KEYED);
	assert_int_equal(sgl_of(s).addr, (uintptr_t)addr);
	assert_int_equal(sgl_of(s).length, len);
}

/*
 * The association comes back with a smaller MDTS than the device was made with (32 KiB
 * against 128 KiB): larger reads and writes go as several commands, one after the other,
 * each sent once the previous one's completion is reaped; the request completes with its
 * whole length after the last. A piece that fails ends the request; a lost connection holds
 * it, and it is sent again whole.
 */
static void test_split_over_mdts(void **state)
{
	const uint32_t mdts = 32u << 10;
	uint8_t *b0 = bufs, *b1 = bufs + MAXIO, *b3 = bufs + 3 * MAXIO;
	unsigned int i, before;

	ctrls[0].caps.max_xfer = mdts;
	ctrls[0].gen++;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_connects, 2);

	/* 128 KiB read at LBA 2: four pieces of 32 KiB */
	queue_io(0, UBLK_IO_OP_READ, 16, 256);
	end_pass();
	for (i = 0; i < 4; i++) {
		assert_int_equal(nr_sent, i + 1); /* one at a time */
		assert_piece(last_sent(), 2 + i * 8, mdts, b0 + i * mdts);
		answer(last_sent(), 0);
		assert_int_equal(nr_done, 0 + (i == 3));
		end_pass();
	}
	assert_int_equal(nr_sent, 4);
	assert_int_equal(done_res[0], 128 << 10);
	/* the tag's next request starts at its own beginning */
	done_seen[0] = false;
	queue_io(0, UBLK_IO_OP_READ, 8, 8);
	end_pass();
	assert_piece(last_sent(), 1, 4096, b0);
	answer(last_sent(), 0);
	assert_int_equal(done_res[0], 4096);
	nr_done--;

	/* 40 KiB write at LBA 0: 32 KiB keyed, then the 8 KiB rest in the capsule, from its
	 * place in the buffer */
	for (i = 0; i < 40u << 10; i++)
		b1[i] = (uint8_t)(i * 7 + (i >> 12));
	queue_io(1, UBLK_IO_OP_WRITE, 0, 80);
	end_pass();
	assert_int_equal(last_sent()->sqe.opcode, nvme_cmd_write);
	assert_piece(last_sent(), 0, mdts, b1);
	answer(last_sent(), 0);
	end_pass();
	assert_int_equal(nr_sent, 7);
	assert_int_equal(sqe_slba(&last_sent()->sqe), 8);
	assert_int_equal(le32toh(last_sent()->sqe.common.cdw12) & 0xffff, 1);
	assert_int_equal(last_sent()->incapsule, 8192);
	assert_memory_equal(last_sent()->icd, b1 + mdts, 8192);
	answer(last_sent(), 0);
	assert_int_equal(done_res[1], 40 << 10);

	/* the first piece fails: the request ends with its error, no second piece */
	queue_io(2, UBLK_IO_OP_READ, 0, 128);
	end_pass();
	answer(last_sent(), NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE));
	end_pass();
	assert_int_equal(nr_sent, 8);
	assert_int_equal(done_res[2], -ERANGE);

	/* the connection is lost under the second piece: held, then sent again whole */
	queue_io(3, UBLK_IO_OP_READ, 64, 128);
	end_pass();
	assert_piece(last_sent(), 8, mdts, b3);
	answer(last_sent(), 0);
	flush_fails = last_sent()->hq;
	ctrls[0].state = DN_CTRL_RESETTING;
	end_pass(); /* sends the second piece; the doorbell fails */
	assert_int_equal(nr_sent, 10);
	assert_piece(last_sent(), 16, mdts, b3 + mdts);
	assert_int_equal(resets[0], 1);
	assert_false(done_seen[3]);
	ctrls[0].state = DN_CTRL_LIVE;
	ctrls[0].gen++;
	before = nr_sent;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_sent, before + 1);
	assert_piece(last_sent(), 8, mdts, b3);
	answer(last_sent(), 0);
	end_pass();
	assert_piece(last_sent(), 16, mdts, b3 + mdts);
	answer(last_sent(), 0);
	end_pass();
	assert_int_equal(done_res[3], 64 << 10);

	/* the pass's own reaping finds each piece answered: the next goes in the same pass */
	answer_on_reap = true;
	before = nr_sent;
	queue_io(5, UBLK_IO_OP_WRITE, 0, 256);
	end_pass();
	assert_int_equal(nr_sent, before + 4);
	assert_int_equal(done_res[5], 128 << 10);
	answer_on_reap = false;

	/* a request between pieces when the device stops fails */
	queue_io(4, UBLK_IO_OP_READ, 0, 128);
	end_pass();
	answer(last_sent(), 0);
	dn_ns_dev_destroy(dev);
	dev = NULL;
	assert_int_equal(done_res[4], -EIO);
	assert_int_equal(nr_done, 6);
}

/*
 * A path, or the association a reconnect made, with a smaller queue than the device's depth
 * (2 and 1 slots against 8 tags): the requests beyond its slots wait, in order, and go as
 * completions free slots; what waits when the device stops fails.
 */
static void test_small_queue(void **state)
{
	struct dn_err e = {0};
	unsigned int i;

	ctrls[0].caps.queue_size = 2;
	ctrls[0].gen++;
	dn_ns_dev_notify(dev);
	assert_int_equal(nr_connects, 2);
	assert_int_equal(last_opts.depth, 2);

	for (i = 0; i < 5; i++)
		queue_io((uint16_t)i, UBLK_IO_OP_READ, i * 8ull, 8);
	end_pass();
	assert_int_equal(nr_sent, 2);
	for (i = 0; i < 5; i++) {
		/* the oldest waiting request takes the slot freed */
		assert_int_equal(sent[i].r->ctx, i);
		assert_int_equal(sqe_slba(&sent[i].sqe), i);
		answer(&sent[i], 0);
		end_pass();
		assert_int_equal(nr_sent, i + 3 > 5 ? 5 : i + 3);
	}
	assert_int_equal(nr_done, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(done_res[i], 4096);

	/* the pass's own reaping frees the slots: all eight go in one pass */
	memset(done_seen, 0, sizeof(done_seen));
	answer_on_reap = true;
	for (i = 0; i < DEPTH; i++)
		queue_io((uint16_t)i, UBLK_IO_OP_READ, i * 8ull, 8);
	end_pass();
	assert_int_equal(nr_sent, 5 + DEPTH);
	assert_int_equal(nr_done, 5 + DEPTH);
	answer_on_reap = false;

	/* a second path with a queue of one is a path like any other */
	ctrls[1].caps.queue_size = 1;
	assert_int_equal(dn_ns_dev_add_path(dev, &ctrls[1], &ns, &e), 0);
	assert_int_equal(last_opts.depth, 1);

	/* three slots over both paths, four requests: the fourth waits, and fails at the stop */
	memset(done_seen, 0, sizeof(done_seen));
	nr_done = 0;
	for (i = 0; i < 4; i++)
		queue_io((uint16_t)i, UBLK_IO_OP_READ, i * 8ull, 8);
	end_pass();
	assert_int_equal(nr_sent, 5 + DEPTH + 3);
	dn_ns_dev_destroy(dev);
	dev = NULL;
	assert_int_equal(nr_done, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(done_res[i], -EIO);
}

static void queue_while_stopping(void)
{
	queue_io(2, UBLK_IO_OP_READ, 0, 8);
	assert_int_equal(done_res[2], -EIO);
}

/* A device being removed fails what it holds, and whatever comes after. */
static void test_stop_fails_held(void **state)
{
	queue_io(0, UBLK_IO_OP_READ, 0, 8);
	queue_io(1, UBLK_IO_OP_WRITE, 0, 8);
	flush_fails = path_hq(0);
	ctrls[0].state = DN_CTRL_RESETTING;
	end_pass();
	assert_int_equal(nr_done, 0);
	after_stop = queue_while_stopping;
	dn_ns_dev_destroy(dev);
	after_stop = NULL;
	dev = NULL;
	assert_int_equal(done_at_stop, 2);
	assert_int_equal(nr_done, 3);
	assert_int_equal(done_res[0], -EIO);
	assert_int_equal(done_res[1], -EIO);
}

/* Setting up the device fails: the cause is the connect's answer, nothing is left behind. */
static void test_create_failures(void **state)
{
	struct dn_ns_dev *d = NULL;
	struct dn_err e = {0};

	/* the fake ublk library has room for one device: the setup's goes first */
	dn_ns_dev_destroy(dev);
	dev = NULL;
	uq.priv = NULL;
	create_ret = -ENOENT;
	assert_int_equal(dn_ns_dev_create(&ctrls[1], &ns, &d, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "no ublk support"));
	assert_null(d);
	create_ret = 0;

	dn_err_clear(&e);
	connect_ret = -ECONNREFUSED;
	assert_int_equal(dn_ns_dev_create(&ctrls[1], &ns, &d, &e), -ECONNREFUSED);
	assert_non_null(strstr(e.msg, "fake: no connection"));
	assert_null(d);
	assert_int_equal(qids_out[1], 0);
	connect_ret = 0;
}

/*
 * The namespace grew or shrank: the device follows in place, and what `list` shows (the
 * namespace's blocks, the device's bytes) with it; a kernel without live resize leaves both
 * as they were, and the error says why.
 */
static void test_resize(void **state)
{
	struct dn_err e = {0};

	assert_int_equal(dn_ns_dev_resize(dev, 2 * NLBAS, &e), 0);
	assert_int_equal(update_size_bytes, (uint64_t)2 * NLBAS << SHIFT);
	assert_int_equal(dev->info.nsze, 2 * NLBAS);
	assert_int_equal(dn_ns_dev_bytes(dev), (uint64_t)2 * NLBAS << SHIFT);

	assert_int_equal(dn_ns_dev_resize(dev, NLBAS / 2, &e), 0);
	assert_int_equal(update_size_bytes, (uint64_t)NLBAS / 2 << SHIFT);
	assert_int_equal(dev->info.nsze, NLBAS / 2);
	assert_int_equal(dn_ns_dev_bytes(dev), (uint64_t)NLBAS / 2 << SHIFT);

	update_size_ret = -EOPNOTSUPP;
	assert_int_equal(dn_ns_dev_resize(dev, 4 * NLBAS, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "/dev/ublkb5 cannot be resized in place"));
	assert_non_null(strstr(e.msg, "Linux 6.16"));
	assert_int_equal(dev->info.nsze, NLBAS / 2);
	assert_int_equal(dn_ns_dev_bytes(dev), (uint64_t)NLBAS / 2 << SHIFT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_keyed, setup_no_incapsule, teardown),
		cmocka_unit_test_setup_teardown(test_status_to_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_across_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_closes_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failfast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multipath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_over_mdts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_fails_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
