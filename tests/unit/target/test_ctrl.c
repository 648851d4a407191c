// SPDX-License-Identifier: MIT
/*
 * Tests for target/ctrl.c: the queue lifecycle the transport drives (every queue deleted
 * exactly once, controllers freed after their last queue), shutdown, live queue counting,
 * the CQE fields dn_req_complete fills, and the SQ head wrapping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static int setup(void **state)
{
	h_target_up(NULL, 0);
	return 0;
}

static int teardown(void **state)
{
	h_target_down();
	return 0;
}

static unsigned int nr_ctrls(void)
{
	struct dn_tgt_ctrl *c;
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < dn_tgt.nr_subsys; i++)
		for (c = dn_tgt.subsys[i]->ctrls; c; c = c->next)
			n++;
	return n;
}

static void test_shutdown_deletes_each_queue_once(void **state)
{
	struct h_queue *a = h_q(), *io1 = h_q(), *io2 = h_q(), *b = h_q();
	uint16_t cntlid = h_admin_up(a, H_SUBNQN, H_HOSTNQN);

	h_admin_up(b, NVME_DISC_SUBSYS_NAME, H_HOSTNQN);
	assert_int_equal(h_io_connect(io1, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	assert_int_equal(h_io_connect(io2, 2, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	assert_int_equal(dn_tgt_live_queues(), 4);
	assert_int_equal(dn_tgt_shutdown(), 4);
	assert_int_equal(dn_tgt_shutdown(), 4); /* again: nothing more to do */
	assert_int_equal(a->deleted, 1);
	assert_int_equal(io1->deleted, 1);
	assert_int_equal(io2->deleted, 1);
	assert_int_equal(b->deleted, 1);
	/* the transport drains them: the controllers go with their last queue */
	dn_tgt_queue_destroyed(&io1->q);
	dn_tgt_queue_destroyed(&a->q);
	assert_int_equal(nr_ctrls(), 2);
	dn_tgt_queue_destroyed(&io2->q);
	assert_int_equal(nr_ctrls(), 1);
	dn_tgt_queue_destroyed(&b->q);
	assert_int_equal(nr_ctrls(), 0);
	assert_int_equal(dn_tgt_live_queues(), 0);
}

static void test_admin_queue_destroyed_ends_controller(void **state)
{
	struct h_queue *a = h_q(), *io = h_q();
	uint16_t cntlid = h_admin_up(a, H_SUBNQN, H_HOSTNQN);
	struct dn_tgt_ctrl *ctrl;

	assert_int_equal(h_io_connect(io, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	ctrl = a->q.ctrl;
	/* e.g. the QP died under the transport without a disconnect event */
	dn_tgt_queue_destroyed(&a->q);
	assert_true(ctrl->dying);
	assert_int_equal(io->deleted, 1);
	assert_int_equal(a->deleted, 0); /* it is already gone */
	dn_tgt_queue_destroyed(&io->q);
	assert_int_equal(nr_ctrls(), 0);
}

static void test_queue_lost_io_only(void **state)
{
	struct h_queue *a = h_q(), *io = h_q(), *io2 = h_q();
	uint16_t cntlid = h_admin_up(a, H_SUBNQN, H_HOSTNQN);

	assert_int_equal(h_io_connect(io, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	dn_tgt_queue_lost(&io->q);
	assert_int_equal(io->deleted, 1);
	assert_int_equal(a->deleted, 0);
	dn_tgt_queue_destroyed(&io->q);
	/* the host may connect that queue again */
	assert_int_equal(h_io_connect(io2, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	/* losing the admin queue ends everything */
	dn_tgt_queue_lost(&a->q);
	assert_int_equal(a->deleted, 1);
	assert_int_equal(io2->deleted, 1);
}

static void test_cqe_fields_and_sqhd_wrap(void **state)
{
	struct h_queue *a = h_q();
	struct nvme_sqe sqe;
	struct h_result r;
	int i;

	h_admin_up(a, H_SUBNQN, H_HOSTNQN); /* 2 commands so far */
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_keep_alive;
	sqe.cid = htole16(0xbeef);
	for (i = 0; i < 29; i++)
		r = h_submit(a, &sqe, NULL, 0);
	assert_int_equal(le16toh(r.cqe.sq_head), 31);
	r = h_submit(a, &sqe, NULL, 0);
	assert_int_equal(le16toh(r.cqe.sq_head), 0); /* 32 entries: wraps */
	assert_int_equal(le16toh(r.cqe.cid), 0xbeef);
	assert_int_equal(le16toh(r.cqe.sq_id), 0);
	assert_int_equal(r.cqe.status, 0);
	assert_int_equal(r.cqe.result.u64, 0);
	/* status on the wire is shifted past the phase bit */
	sqe.opcode = 0xff;
	r = h_submit(a, &sqe, NULL, 0);
	assert_int_equal(le16toh(r.cqe.status), 0x4001 << 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shutdown_deletes_each_queue_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_admin_queue_destroyed_ends_controller, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_lost_io_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cqe_fields_and_sqhd_wrap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
