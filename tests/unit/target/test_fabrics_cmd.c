// SPDX-License-Identifier: MIT
/*
 * Tests for target/fabrics_cmd.c: Connect acceptance and every refusal with its exact status
 * and DW0 (IPO/IATTR), Property Get/Set offsets and sizes, the enable and shutdown handshake,
 * Disconnect, and commands before Connect.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static const char *const allowed[] = {H_HOSTNQN};

static int setup_any(void **state)
{
	h_target_up(NULL, 0);
	return 0;
}

static int setup_allow_list(void **state)
{
	h_target_up(allowed, 1);
	return 0;
}

static int teardown(void **state)
{
	h_target_down();
	return 0;
}

static struct h_result connect_with(struct h_queue *hq, uint16_t qid, uint16_t qsize,
				    struct nvme_sqe sqe, const struct nvmf_connect_data *d)
{
	h_queue_init(hq, qid, qsize);
	return h_submit(hq, &sqe, d, sizeof(*d));
}

static void test_connect_admin_ok(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 31, 5000), &d);
	assert_int_equal(r.status, 0);
	assert_non_null(hq->q.ctrl);
	/* DW0: the dynamic controller ID, nothing in the authentication bits */
	assert_int_equal(le32toh(r.cqe.result.u32), hq->q.ctrl->cntlid);
	assert_true(hq->q.ctrl->cntlid >= 1 && hq->q.ctrl->cntlid <= 0xffef);
	assert_int_equal(le16toh(r.cqe.cid), 0x55);
	assert_int_equal(le16toh(r.cqe.sq_id), 0);
	assert_int_equal(le16toh(r.cqe.sq_head), 1);
	assert_int_equal(hq->q.ctrl->kato_ms, 5000);
	/* a second Connect on the same queue is out of sequence */
	r = h_submit(hq, &(struct nvme_sqe){0}, NULL, 0);
	assert_int_equal(r.status, 0x4000 | 0x0c); /* not enabled yet: command sequence error */
	{
		struct nvme_sqe again = h_connect_sqe(0, 31, 0);

		r = h_submit(hq, &again, &d, sizeof(d));
		assert_int_equal(r.status, 0x400c);
	}
}

static void test_connect_distinct_cntlids(void **state)
{
	struct h_queue *a = h_q(), *b = h_q();
	uint16_t ca = h_admin_up(a, H_SUBNQN, H_HOSTNQN);
	uint16_t cb = h_admin_up(b, H_SUBNQN, H_HOSTNQN2);

	assert_int_not_equal(ca, cb);
}

static void test_connect_subnqn_not_terminated(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	memset(d.subsysnqn, 'a', sizeof(d.subsysnqn));
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 31, 0), &d);
	assert_int_equal(r.status, 0x4182); /* Connect Invalid Parameters, DNR */
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10000 | 256); /* data, SUBNQN at 256 */
	assert_null(hq->q.ctrl);
}

static void test_connect_hostnqn_not_terminated(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	memset(d.hostnqn, 'h', sizeof(d.hostnqn));
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 31, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10000 | 512); /* HOSTNQN at 512 */
}

static void test_connect_unknown_subsystem(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	h_connect_data(&d, "nqn.2024-01.io->disnvme:nope", H_HOSTNQN, 0xffff);
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 31, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10000 | 256);
}

static void test_connect_host_not_allowed(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	h_connect_data(&d, H_SUBNQN, H_HOSTNQN2, 0xffff);
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 31, 0), &d);
	assert_int_equal(r.status, 0x4184); /* Connect Invalid Host, DNR */
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10000 | 512);
	assert_null(hq->q.ctrl);
	/* the listed host gets in; the discovery controller takes anyone */
	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 31, 0), &d);
	assert_int_equal(r.status, 0);
	h_connect_data(&d, NVME_DISC_SUBSYS_NAME, H_HOSTNQN2, 0xffff);
	r = connect_with(h_q(), 0, 32, h_connect_sqe(0, 31, 0), &d);
	assert_int_equal(r.status, 0);
}

static void test_connect_bad_qid(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	/* the SQE says qid 3, the transport's queue is qid 0 */
	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	r = connect_with(hq, 0, 32, h_connect_sqe(3, 31, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 42); /* SQE byte 42: QID */
}

static void test_connect_sqsize(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	/* admin queue of 33 entries: over the 32 the target takes */
	r = connect_with(hq, 0, 64, h_connect_sqe(0, 32, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 44); /* SQE byte 44: SQSIZE */
	/* more entries than the transport's queue holds */
	r = connect_with(hq, 0, 16, h_connect_sqe(0, 16, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 44);
	/* SQSIZE 0 (one entry) is invalid */
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 0, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 44);
}

static void test_connect_recfmt(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct nvme_sqe sqe = h_connect_sqe(0, 31, 0);
	struct h_result r;

	sqe.connect.recfmt = htole16(1);
	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	r = connect_with(hq, 0, 32, sqe, &d);
	assert_int_equal(r.status, 0x4180); /* Connect Incompatible Format, DNR */
}

static void test_connect_admin_static_cntlid(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct h_result r;

	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 7);
	r = connect_with(hq, 0, 32, h_connect_sqe(0, 31, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10000 | 16); /* CNTLID at data byte 16 */
}

static void test_connect_data_length(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct nvme_sqe sqe = h_connect_sqe(0, 31, 0);
	struct h_result r;

	/* an SGL shorter than the 1024-byte Connect data */
	h_sgl_keyed(&sqe, 512);
	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	r = connect_with(hq, 0, 32, sqe, &d);
	assert_int_equal(r.status, 0x400f); /* SGL data block length invalid */
	/* PRPs on fabrics */
	sqe = h_connect_sqe(0, 31, 0);
	sqe.flags = 0;
	r = connect_with(hq, 0, 32, sqe, &d);
	assert_int_equal(r.status, 0x4002);
	/* a bit bucket descriptor */
	sqe = h_connect_sqe(0, 31, 0);
	sqe.common.dptr.id = NVME_SGL_ID(NVME_SGL_TYPE_BIT_BUCKET, 0);
	r = connect_with(hq, 0, 32, sqe, &d);
	assert_int_equal(r.status, 0x4011); /* SGL descriptor type invalid */
}

static void test_connect_io_queue(void **state)
{
	struct h_queue *admin = h_q(), *io = h_q(), *io2 = h_q(), *bad = h_q();
	uint16_t cntlid = h_admin_up(admin, H_SUBNQN, H_HOSTNQN);
	struct h_result r;

	r = h_io_connect(io, 1, cntlid, H_SUBNQN, H_HOSTNQN);
	assert_int_equal(r.status, 0);
	assert_ptr_equal(io->q.ctrl, admin->q.ctrl);
	assert_int_equal(admin->q.ctrl->nr_queues, 2);
	/* the same qid twice */
	r = h_io_connect(io2, 1, cntlid, H_SUBNQN, H_HOSTNQN);
	assert_int_equal(r.status, 0x400c);
	/* a cntlid that does not exist */
	r = h_io_connect(bad, 2, (uint16_t)(cntlid + 100), H_SUBNQN, H_HOSTNQN);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10000 | 16);
	/* the right cntlid, another host's NQN */
	r = h_io_connect(bad, 2, cntlid, H_SUBNQN, H_HOSTNQN2);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10000 | 16);
	/* I/O queue deeper than MQES + 1 */
	{
		struct nvmf_connect_data d;
		struct nvme_sqe sqe = h_connect_sqe(2, 128, 0);

		h_connect_data(&d, H_SUBNQN, H_HOSTNQN, cntlid);
		r = connect_with(bad, 2, 256, sqe, &d);
		assert_int_equal(r.status, 0x4182);
		assert_int_equal(le32toh(r.cqe.result.u32), 44);
	}
}

/* A configured max_queue_depth of 16: CAP.MQES 15, and I/O queues of 16 entries at most */
static void test_configured_queue_depth(void **state)
{
	struct h_queue *admin = h_q(), *io = h_q(), *bad = h_q();
	uint16_t cntlid = h_admin_up(admin, H_SUBNQN, H_HOSTNQN);
	struct nvmf_connect_data d;
	struct h_result r;

	dn_tgt.max_queue_size = 16;
	r = h_prop_get(admin, NVMF_PROP_CAP, true);
	assert_int_equal(le64toh(r.cqe.result.u64), 15ull | 1ull << 16 | 15ull << 24 | 1ull << 37);
	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, cntlid);
	r = connect_with(bad, 1, 32, h_connect_sqe(1, 16, 0), &d);
	assert_int_equal(r.status, 0x4182);
	assert_int_equal(le32toh(r.cqe.result.u32), 44);
	r = connect_with(io, 1, 32, h_connect_sqe(1, 15, 0), &d);
	assert_int_equal(r.status, 0);
	dn_tgt.max_queue_size = 0;
}

static void test_io_connect_before_enable(void **state)
{
	struct h_queue *admin = h_q(), *io = h_q();
	struct nvmf_connect_data d;
	struct nvme_sqe sqe = h_connect_sqe(0, 31, 0);
	struct h_result r;

	h_queue_init(admin, 0, 32);
	h_connect_data(&d, H_SUBNQN, H_HOSTNQN, 0xffff);
	r = h_submit(admin, &sqe, &d, sizeof(d));
	assert_int_equal(r.status, 0);
	r = h_io_connect(io, 1, admin->q.ctrl->cntlid, H_SUBNQN, H_HOSTNQN);
	assert_int_equal(r.status, 0x400c);
}

static void test_property_get(void **state)
{
	struct h_queue *hq = h_q();
	struct h_result r;

	h_admin_up(hq, H_SUBNQN, H_HOSTNQN);
	r = h_prop_get(hq, NVMF_PROP_CAP, true);
	assert_int_equal(r.status, 0);
	/* MQES 127, CQR, TO 15 (7.5 s), CSS NVM */
	assert_int_equal(le64toh(r.cqe.result.u64), 127ull | 1ull << 16 | 15ull << 24 | 1ull << 37);
	r = h_prop_get(hq, NVMF_PROP_VS, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 0x10300);
	r = h_prop_get(hq, NVMF_PROP_CC, false);
	assert_int_equal(le32toh(r.cqe.result.u32), 1 | 6 << 16 | 4 << 20);
	r = h_prop_get(hq, NVMF_PROP_CSTS, false);
	assert_int_equal(le32toh(r.cqe.result.u32), 1); /* RDY */
	/* wrong sizes and offsets */
	r = h_prop_get(hq, NVMF_PROP_CAP, false);
	assert_int_equal(r.status, 0x4002);
	r = h_prop_get(hq, NVMF_PROP_VS, true);
	assert_int_equal(r.status, 0x4002);
	r = h_prop_get(hq, 0x0c, false); /* INTMS: not on fabrics */
	assert_int_equal(r.status, 0x4002);
	r = h_prop_get(hq, 0x1000, false);
	assert_int_equal(r.status, 0x4002);
}

static void test_property_set(void **state)
{
	struct h_queue *hq = h_q();
	struct h_result r;

	h_admin_up(hq, H_SUBNQN, H_HOSTNQN);
	r = h_prop_set(hq, NVMF_PROP_CSTS, 0, false);
	assert_int_equal(r.status, 0x4002);
	r = h_prop_set(hq, NVMF_PROP_CC, 1 | 6 << 16 | 4 << 20, true);
	assert_int_equal(r.status, 0x4002);
	/* normal shutdown: SHST complete */
	r = h_prop_set(hq, NVMF_PROP_CC, 1 | 6 << 16 | 4 << 20 | 1 << 14, false);
	assert_int_equal(r.status, 0);
	r = h_prop_get(hq, NVMF_PROP_CSTS, false);
	assert_int_equal(le32toh(r.cqe.result.u32), 1 | 2 << 2);
	/* disable: RDY drops, SHST clears once SHN does */
	r = h_prop_set(hq, NVMF_PROP_CC, 6 << 16 | 4 << 20, false);
	assert_int_equal(r.status, 0);
	r = h_prop_get(hq, NVMF_PROP_CSTS, false);
	assert_int_equal(le32toh(r.cqe.result.u32), 0);
	/* enabling with the wrong queue entry sizes: controller fatal status */
	r = h_prop_set(hq, NVMF_PROP_CC, 1 | 7 << 16 | 4 << 20, false);
	assert_int_equal(r.status, 0);
	r = h_prop_get(hq, NVMF_PROP_CSTS, false);
	assert_int_equal(le32toh(r.cqe.result.u32), 2); /* CFS */
}

static void test_commands_before_connect(void **state)
{
	struct h_queue *hq = h_q();
	struct nvme_sqe sqe;
	struct h_result r;

	h_queue_init(hq, 0, 32);
	r = h_prop_get(hq, NVMF_PROP_CAP, true);
	assert_int_equal(r.status, 0x400c);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_identify;
	h_sgl_keyed(&sqe, 4096);
	r = h_submit(hq, &sqe, NULL, 0);
	assert_int_equal(r.status, 0x400c);
	/* an unknown fabrics command type */
	h_admin_up(hq, H_SUBNQN, H_HOSTNQN);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = NVME_FABRICS_OPCODE;
	sqe.fabrics.fctype = 0x05; /* authentication send: not supported */
	r = h_submit(hq, &sqe, NULL, 0);
	assert_int_equal(r.status, 0x4001);
}

static void test_disconnect_io_queue(void **state)
{
	struct h_queue *admin = h_q(), *io = h_q();
	uint16_t cntlid = h_admin_up(admin, H_SUBNQN, H_HOSTNQN);
	struct nvme_sqe sqe;
	struct h_result r;

	assert_int_equal(h_io_connect(io, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = NVME_FABRICS_OPCODE;
	sqe.fabrics.fctype = nvme_fabrics_type_disconnect;
	r = h_submit(io, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	/* only that queue goes: the host still shuts the controller down over the admin queue */
	assert_int_equal(io->deleted, 1);
	assert_int_equal(admin->deleted, 0);
	assert_false(admin->q.ctrl->dying);
	dn_tgt_queue_destroyed(&io->q);
	assert_int_equal(admin->q.ctrl->nr_queues, 1);
	assert_null(admin->q.ctrl->queues[1]);
	/* Disconnect on the admin queue ends the association */
	r = h_submit(admin, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(admin->deleted, 1);
	assert_true(admin->q.ctrl->dying);
}

static void test_queue_lost_before_connect(void **state)
{
	struct h_queue *hq = h_q();

	h_queue_init(hq, 0, 32);
	dn_tgt_queue_lost(&hq->q);
	dn_tgt_queue_lost(&hq->q);
	assert_int_equal(hq->deleted, 1); /* exactly once */
	dn_tgt_queue_destroyed(&hq->q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connect_admin_ok, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_connect_distinct_cntlids, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_connect_subnqn_not_terminated, setup_any,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect_hostnqn_not_terminated, setup_any,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect_unknown_subsystem, setup_any,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect_host_not_allowed, setup_allow_list,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect_bad_qid, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_connect_sqsize, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_connect_recfmt, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_connect_admin_static_cntlid, setup_any,
						teardown),
		cmocka_unit_test_setup_teardown(test_connect_data_length, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_connect_io_queue, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_configured_queue_depth, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_io_connect_before_enable, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_property_get, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_property_set, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_commands_before_connect, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_io_queue, setup_any, teardown),
		cmocka_unit_test_setup_teardown(test_queue_lost_before_connect, setup_any,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
