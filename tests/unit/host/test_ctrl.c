// SPDX-License-Identifier: MIT
/*
 * Unit tests of host/ctrl.c, its synchronous admin protocol: Connect and how each refusal is
 * reported, the enable handshake (CAP, CC, CSTS.RDY, a fatal status, a controller that never
 * becomes ready), the controller's limits from CAP and Identify, the shutdown handshake on
 * disconnect, and reading the discovery log (in chunks, again when it changed meanwhile, a
 * record count past reason refused). The admin queue (host/rdma_queue.c) is replaced at link
 * time (-Wl,--wrap, see CMakeLists.txt) by a fake controller that answers each command (its
 * fabrics and Identify Controller half is fake_admin.c, shared with test_ctrl_thread.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/log.h"
#include "host/ctrl.h"
#include "host/nvmf_cmd.h"

#include "fake_admin.h"

/* the __wrap_ functions below are called only by the linker's redirection: no prototypes */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000aa"
#define SUBNQN	"nqn.2024-01.io.disnvme:ctrl-test"

/* ---- the fake controller behind the admin queue ---- */
static struct {
	struct fake_admin a; /* Connect, properties, Identify */
	/* discovery log */
	uint64_t numrec, genctr;
	int bump_genctr_at; /* the counter moves after this header read (1, 2, ...; 0: never) */
	bool bump_always;   /* ... or after every header read */
	int header_reads;
	int log_reads;
	uint64_t log_off[32];
	uint32_t log_len[32];
	/* the queue */
	int hq_connects, hq_destroys, hq_connect_ret;
	uint16_t hq_depth;
} f;
static struct rdma_cm_id fake_id;

int __wrap_dn_hq_connect(struct dn_hq *q, const struct dn_hq_opts *o, struct dn_err *e)
{
	memset(q, 0, sizeof(*q));
	if (f.hq_connect_ret)
		return dn_err_set(e, f.hq_connect_ret, "%s:%s is unreachable", o->traddr,
				  o->trsvcid);
	q->id = &fake_id;
	q->qid = o->qid;
	q->depth = o->depth;
	q->connected = true;
	snprintf(q->peer, sizeof(q->peer), "%s:%s", o->traddr, o->trsvcid);
	f.hq_depth = o->depth;
	f.hq_connects++;
	return 0;
}

void __wrap_dn_hq_destroy(struct dn_hq *q)
{
	if (!q->id)
		return;
	f.hq_destroys++;
	memset(q, 0, sizeof(*q));
}

/* the discovery log page, records numbered so each byte read can be checked */
static void log_bytes(uint64_t off, uint8_t *buf, uint32_t len)
{
	struct nvmf_discovery_log hdr = {0};
	uint32_t i;

	hdr.genctr = htole64(f.genctr);
	hdr.numrec = htole64(f.numrec);
	hdr.recfmt = 0;
	for (i = 0; i < len; i++) {
		uint64_t o = off + i;

		if (o < sizeof(hdr))
			buf[i] = ((const uint8_t *)&hdr)[o];
		else
			buf[i] = (uint8_t)((o - sizeof(hdr)) / sizeof(struct nvmf_disc_log_entry));
	}
}

/* Get Log Page of the discovery log, the one command fake_admin.c does not answer */
static void get_discovery_log(const struct nvme_sqe *sqe, void *data, uint32_t len)
{
	uint32_t cdw10 = le32toh(sqe->common.cdw10), cdw11 = le32toh(sqe->common.cdw11);
	uint64_t off = le32toh(sqe->common.cdw12) | (uint64_t)le32toh(sqe->common.cdw13) << 32;
	uint32_t numd = (cdw10 >> 16 | (cdw11 & 0xffff) << 16) + 1;

	if (sqe->opcode != nvme_admin_get_log_page)
		fail_msg("unexpected admin command 0x%x", sqe->opcode);
	assert_int_equal(cdw10 & 0xff, NVME_LOG_LID_DISCOVER);
	assert_int_equal(numd * 4, len);
	assert_true(f.log_reads < 32);
	f.log_off[f.log_reads] = off;
	f.log_len[f.log_reads] = len;
	f.log_reads++;
	log_bytes(off, data, len);
	/* a header read: the log may change right after it */
	if (off == 0 && len == sizeof(struct nvmf_discovery_log) &&
	    (++f.header_reads == f.bump_genctr_at || f.bump_always))
		f.genctr++;
}

int __wrap_dn_hq_exec(struct dn_hq *q, struct nvme_sqe *sqe, void *data, uint32_t len, bool to_ctrl,
		      struct nvme_cqe *cqe, nvme_status_t *st, int timeout_ms, struct dn_err *e)
{
	struct nvme_cqe c = {0};

	*st = 0;
	if (!fake_admin_exec(&f.a, sqe, data, len, to_ctrl, &c, st))
		get_discovery_log(sqe, data, len);
	c.cid = sqe->cid;
	if (cqe)
		*cqe = c;
	return 0;
}

/* ---- fixtures ---- */
static struct dn_ctrl *c;
static struct dn_err err;

static int setup(void **state)
{
	memset(&f, 0, sizeof(f));
	fake_admin_init(&f.a, SUBNQN);
	c = calloc(1, sizeof(*c));
	assert_non_null(c);
	strcpy(c->o.traddr, "10.77.0.1");
	strcpy(c->o.trsvcid, "4420");
	strcpy(c->o.subnqn, SUBNQN);
	strcpy(c->o.hostnqn, HOSTNQN);
	memset(c->o.hostid, 0xaa, sizeof(c->o.hostid));
	c->o.nr_io_queues = 2;
	c->o.queue_size = 1024;
	c->o.kato = 5;
	dn_err_clear(&err);
	return 0;
}

static int teardown(void **state)
{
	if (c->id)
		dn_ctrl_disconnect(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
	/* every admin queue made was destroyed */
	assert_int_equal(f.hq_destroys, f.hq_connects);
	return 0;
}

/* ---- connecting ---- */

/* Connect (admin queue: controller ID 0xffff, KATO), CAP, CC, CSTS.RDY, Identify; limits. */
static void test_connect_enable(void **state)
{
	struct dn_ctrl_caps caps;
	uint16_t max_qid;

	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	assert_int_equal(f.a.connect_qid, 0);
	assert_int_equal(f.a.connect_sqsize, f.hq_depth - 1);
	assert_int_equal(f.a.connect_kato, 5000);
	assert_int_equal(le16toh(f.a.connect_data.cntlid), 0xffff);
	assert_string_equal(f.a.connect_data.hostnqn, HOSTNQN);
	assert_string_equal(f.a.connect_data.subsysnqn, SUBNQN);
	assert_memory_equal(f.a.connect_data.hostid, c->o.hostid, 16);
	assert_int_equal(dn_ctrl_cntlid(c), 7);
	/* CC: enabled, 64-byte SQEs, 16-byte CQEs, no shutdown */
	assert_int_equal(f.a.cc_sets, 1);
	assert_int_equal(f.a.cc, 1u | 6u << NVME_CC_IOSQES_SHIFT | 4u << NVME_CC_IOCQES_SHIFT);
	assert_int_equal(f.a.csts_reads, 3); /* not ready twice, then ready */
	assert_int_equal(c->cap, f.a.cap);
	dn_ctrl_caps_get(c, &caps, &max_qid);
	assert_int_equal(caps.max_xfer, 128u << 10); /* 4 KiB pages << MDTS 5 */
	assert_int_equal(caps.incapsule, 8192);
	assert_int_equal(caps.oncs, NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES);
	assert_true(caps.vwc);
	assert_int_equal(caps.queue_size, 128); /* -Q 1024 capped to CAP.MQES + 1 */
	assert_int_equal(caps.nr_queues, 2);
	assert_int_equal(f.hq_connects, 1);
	assert_int_equal(f.hq_destroys, 0);
}

/* Limits a target leaves open (MDTS 0, IOCCSZ of a bare SQE) and CAP.MPSMIN */
static void test_connect_limits(void **state)
{
	struct dn_ctrl_caps caps;
	uint16_t max_qid;

	f.a.id.mdts = 0;
	f.a.id.ioccsz = htole32(4);
	f.a.id.vwc = 0;
	f.a.cap |= 1ull << 48; /* MPSMIN 1: 8 KiB pages */
	c->o.queue_size = 32;
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	dn_ctrl_caps_get(c, &caps, &max_qid);
	assert_int_equal(caps.max_xfer, DN_MAX_IO_BYTES);
	assert_int_equal(caps.incapsule, 0);
	assert_false(caps.vwc);
	assert_int_equal(caps.queue_size, 32);
	teardown(state);
	setup(state);
	f.a.id.mdts = 3;
	f.a.cap |= 1ull << 48;
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	dn_ctrl_caps_get(c, &caps, &max_qid);
	assert_int_equal(caps.max_xfer, 64u << 10); /* 8 KiB << 3 */
}

/* Each Connect refusal: the sentence the CLI prints and the errno it exits with */
static void test_connect_refused(void **state)
{
	static const struct {
		nvme_status_t st;
		uint32_t ipo;
		int ret;
		const char *msg;
	} cases[] = {
		{NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST), 0, -EACCES,
		 "10.77.0.1:4420 refused host " HOSTNQN ": it is not allowed on subsystem " SUBNQN},
		{NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
		 NVMF_IPO_IATTR_DATA(subsysnqn), -ENOENT,
		 "10.77.0.1:4420 has no subsystem " SUBNQN},
		{NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
		 NVMF_IPO_IATTR_DATA(hostnqn), -EACCES,
		 "10.77.0.1:4420 refused host " HOSTNQN " for subsystem " SUBNQN},
		{NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM),
		 NVMF_IPO_IATTR_SQE(sqsize), -EINVAL,
		 "10.77.0.1:4420 refused queue size 32 for queue 0"},
		{NVME_STATUS(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY), 0, -EBUSY,
		 "controller 0 of " SUBNQN " is busy"},
		/* an attribute offset the host does not know: the status and offset, in numbers */
		{NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM), 0x2a, -EIO,
		 "10.77.0.1:4420 refused the connect of queue 0 to " SUBNQN ": "},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		teardown(state);
		setup(state);
		f.a.connect_st = cases[i].st;
		f.a.connect_ipo = cases[i].ipo;
		assert_int_equal(dn_ctrl_connect(c, &err), cases[i].ret);
		assert_int_equal(err.code, cases[i].ret);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: \"%s\" is not \"%s...\"", i, err.msg, cases[i].msg);
		/* nothing enabled, nothing left */
		assert_int_equal(f.a.cc_sets, 0);
		assert_null(c->id);
		assert_int_equal(f.hq_destroys, 1);
	}
	teardown(state);
	setup(state);
	f.a.connect_st = cases[5].st;
	f.a.connect_ipo = 0x2a;
	dn_ctrl_connect(c, &err);
	assert_non_null(strstr(err.msg, "attribute 0x2a)"));
	/* the queue itself could not be made: its sentence, nothing to destroy */
	teardown(state);
	setup(state);
	f.hq_connect_ret = -EHOSTUNREACH;
	assert_int_equal(dn_ctrl_connect(c, &err), -EHOSTUNREACH);
	assert_string_equal(err.msg, "10.77.0.1:4420 is unreachable");
	assert_int_equal(f.hq_destroys, 0);
}

/* CSTS.CFS during enable: refused with a sentence, the queue given back */
static void test_enable_fatal(void **state)
{
	f.a.cfs = true;
	assert_int_equal(dn_ctrl_connect(c, &err), -EIO);
	assert_string_equal(err.msg, "controller of " SUBNQN " reports a fatal status");
	assert_int_equal(f.hq_destroys, 1);
	assert_null(c->id);
}

/* RDY never comes: given up after CAP.TO (500 ms units) plus a second's grace */
static void test_enable_never_ready(void **state)
{
	int64_t t0 = dn_now_ms(), took;

	f.a.rdy_after = -1;
	assert_int_equal(dn_ctrl_connect(c, &err), -ETIMEDOUT);
	took = dn_now_ms() - t0;
	assert_string_equal(err.msg, "controller of " SUBNQN " did not become ready");
	/* not before CAP.TO has passed: the controller had that long by the spec */
	assert_true(took >= 500);
	assert_true(f.a.csts_reads > 2);
	assert_int_equal(f.hq_destroys, 1);
}

/* Disconnect: CC.SHN normal shutdown, CSTS.SHST polled until complete, then the queue goes */
static void test_disconnect_shutdown(void **state)
{
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	f.a.csts_reads = 0;
	f.a.shst_after = 2;
	dn_ctrl_disconnect(c);
	assert_int_equal(f.a.cc_sets, 2);
	assert_int_equal((f.a.cc >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK, NVME_CC_SHN_NORMAL);
	assert_true(f.a.cc & 1);
	assert_int_equal(f.a.csts_reads, 3);
	assert_int_equal(f.hq_destroys, 1);
	assert_null(c->id);
}

/* A failed admin queue is not asked to shut down: it is only destroyed. */
static void test_disconnect_failed_queue(void **state)
{
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	c->admin.failed = true;
	dn_ctrl_disconnect(c);
	assert_int_equal(f.a.cc_sets, 1);
	assert_int_equal(f.hq_destroys, 1);
}

/* ---- the discovery log ---- */

static void check_log(const uint8_t *log, uint32_t len, uint64_t numrec)
{
	const struct nvmf_discovery_log *hdr = (const void *)log;
	uint32_t i;

	assert_int_equal(len, sizeof(*hdr) + numrec * sizeof(struct nvmf_disc_log_entry));
	assert_int_equal(le64toh(hdr->numrec), numrec);
	for (i = sizeof(*hdr); i < len; i++)
		if (log[i] != (uint8_t)((i - sizeof(*hdr)) / sizeof(struct nvmf_disc_log_entry)))
			fail_msg("byte %u of the log is wrong", i);
}

/* The header first, then the whole log in chunks the admin data buffer holds */
static void test_discovery_log_chunks(void **state)
{
	void *log;
	uint32_t len;

	f.numrec = 100; /* 1 KiB + 100 KiB: two chunks of at most 64 KiB */
	f.genctr = 9;
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	assert_int_equal(dn_ctrl_get_discovery_log(c, &log, &len, &err), 0);
	check_log(log, len, 100);
	assert_int_equal(f.log_reads, 3);
	assert_int_equal(f.log_off[0], 0);
	assert_int_equal(f.log_len[0], sizeof(struct nvmf_discovery_log));
	assert_int_equal(f.log_off[1], 0);
	assert_int_equal(f.log_len[1], 64u << 10);
	assert_int_equal(f.log_off[2], 64u << 10);
	assert_int_equal(f.log_off[2] + f.log_len[2], len);
	free(log);
	/* an empty log is just its header */
	f.numrec = 0;
	assert_int_equal(dn_ctrl_get_discovery_log(c, &log, &len, &err), 0);
	check_log(log, len, 0);
	free(log);
}

/* The generation counter moved between the header and the log: read it again */
static void test_discovery_log_changed(void **state)
{
	void *log;
	uint32_t len;

	f.numrec = 3;
	f.bump_genctr_at = 1;
	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	assert_int_equal(dn_ctrl_get_discovery_log(c, &log, &len, &err), 0);
	check_log(log, len, 3);
	assert_int_equal(f.log_reads, 4); /* header, log (stale), header, log */
	assert_int_equal(le64toh(((struct nvmf_discovery_log *)log)->genctr), 1);
	free(log);
}

/* A log that never holds still, or claims more records than any target has: refused */
static void test_discovery_log_refused(void **state)
{
	void *log = NULL;
	uint32_t len;

	assert_int_equal(dn_ctrl_connect(c, &err), 0);
	f.numrec = 1025;
	assert_int_equal(dn_ctrl_get_discovery_log(c, &log, &len, &err), -EPROTO);
	assert_string_equal(err.msg, "10.77.0.1:4420 reports 1025 discovery records");
	assert_int_equal(f.log_reads, 1);
	f.numrec = UINT64_MAX; /* would overflow the length */
	dn_err_clear(&err);
	assert_int_equal(dn_ctrl_get_discovery_log(c, &log, &len, &err), -EPROTO);
	/* bumped after every header read: every attempt sees it move; ten attempts */
	f.numrec = 2;
	f.log_reads = 0;
	f.bump_always = true;
	dn_err_clear(&err);
	assert_int_equal(dn_ctrl_get_discovery_log(c, &log, &len, &err), -EAGAIN);
	assert_string_equal(err.msg, "the discovery log kept changing while being read");
	assert_int_equal(f.log_reads, 20);
	assert_null(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_never_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_failed_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_log_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_log_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_log_refused, setup, teardown),
	};

	dn_log_init("test_ctrl", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
