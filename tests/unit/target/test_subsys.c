// SPDX-License-Identifier: MIT
/*
 * Tests for target/subsys.c: setup, reload (namespaces and subsystems added and removed,
 * allowed hosts changed, failures leaving everything as it was) and the retirement of
 * namespaces that still have commands in flight.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

#define NQN_B "nqn.2024-01.io.disnvme:b"

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

static struct dn_tgt_config two_subsys(const char *const *paths, size_t nr_a, bool with_b)
{
	struct dn_tgt_config cfg, b;

	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, H_SUBNQN, paths,
						 nr_a, NULL, 0),
			 0);
	if (with_b) {
		struct dn_tgt_subsys_config *s;

		assert_int_equal(dn_tgt_config_from_args(&b, "rdma", "10.0.0.1", NULL, NQN_B, paths,
							 1, NULL, 0),
				 0);
		s = realloc(cfg.subsys, 2 * sizeof(*s));
		assert_non_null(s);
		cfg.subsys = s;
		cfg.subsys[1] = b.subsys[0];
		cfg.nr_subsys = 2;
		b.nr_subsys = 0; /* moved */
		dn_tgt_config_free(&b);
	}
	return cfg;
}

static void test_setup_state(void **state)
{
	struct dn_tgt_subsys *s = dn_tgt_subsys_find(H_SUBNQN);

	assert_int_equal(dn_tgt.nr_subsys, 2);
	assert_true(dn_tgt.subsys[0]->is_discovery);
	assert_string_equal(dn_tgt.subsys[0]->nqn, NVME_DISC_SUBSYS_NAME);
	assert_non_null(s);
	assert_non_null(dn_tgt_ns_lookup(s, 1));
	assert_null(dn_tgt_ns_lookup(s, 2));
	assert_null(dn_tgt_ns_lookup(s, 0));
	assert_null(dn_tgt_ns_lookup(s, 1025));
	assert_true(dn_tgt_subsys_host_allowed(s, H_HOSTNQN));
	assert_int_equal(dn_tgt_nr_ports(), 1);
	assert_string_equal(dn_tgt_port_at(0)->traddr, "10.0.0.1");
	assert_null(dn_tgt_port_at(1));
}

/* The configuration's limits are in force from setup on, and the largest again after cleanup */
static void test_setup_limits(void **state)
{
	assert_int_equal(dn_tgt_max_xfer(), DN_TGT_MAX_XFER);
	assert_int_equal(dn_tgt_max_queue_size(), DN_TGT_MAX_QUEUE_SIZE);
	h_target_down();
	h_max_io_size = 16384;
	h_max_queue_depth = 8;
	h_target_up(NULL, 0);
	assert_int_equal(dn_tgt_max_xfer(), 16384);
	assert_int_equal(dn_tgt_mdts(), 2);
	assert_int_equal(dn_tgt_max_queue_size(), 8);
	h_target_down();
	assert_int_equal(dn_tgt_max_xfer(), DN_TGT_MAX_XFER);
	assert_int_equal(dn_tgt_max_queue_size(), DN_TGT_MAX_QUEUE_SIZE);
	h_max_io_size = 0;
	h_max_queue_depth = 0;
	h_target_up(NULL, 0);
}

static void test_reload_namespaces(void **state)
{
	const char *paths[2] = {h_ns_path, h_ns_path};
	struct dn_tgt_subsys *s = dn_tgt_subsys_find(H_SUBNQN);
	struct dn_tgt_ns *ns1 = dn_tgt_ns_lookup(s, 1);
	struct dn_tgt_config cfg = two_subsys(paths, 2, false);

	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	assert_ptr_equal(dn_tgt_ns_lookup(s, 1), ns1); /* unchanged: not reopened */
	assert_non_null(dn_tgt_ns_lookup(s, 2));

	/* back to one namespace: 2 is retired, not freed while a command holds it */
	cfg = two_subsys(paths, 1, false);
	{
		struct dn_tgt_ns *ns2 = dn_tgt_ns_lookup(s, 2);

		atomic_fetch_add(&ns2->inflight[0], 1);
		assert_int_equal(dn_tgt_reload(&cfg), 0);
		assert_null(dn_tgt_ns_lookup(s, 2));
		assert_ptr_equal(dn_tgt.retired_ns, ns2);
		ns2->retired_ms -= 10000;
		dn_tgt_reap_retired(false);
		assert_ptr_equal(dn_tgt.retired_ns, ns2); /* still in flight */
		atomic_fetch_sub(&ns2->inflight[0], 1);
		dn_tgt_reap_retired(false);
		assert_null(dn_tgt.retired_ns);
	}
	dn_tgt_config_free(&cfg);
}

static void test_reload_subsystems_and_hosts(void **state)
{
	const char *paths[1] = {h_ns_path};
	const char *hosts[1] = {H_HOSTNQN2};
	struct h_queue *a = h_q();
	struct dn_tgt_config cfg = two_subsys(paths, 1, true);
	uint64_t gen = dn_tgt.disc_genctr;

	h_admin_up(a, H_SUBNQN, H_HOSTNQN);
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	assert_non_null(dn_tgt_subsys_find(NQN_B));
	assert_int_equal(dn_tgt.disc_genctr, gen + 1);

	/* only host 2 may use subsystem A now: host 1's controller goes away */
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, H_SUBNQN, paths, 1,
						 hosts, 1),
			 0);
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	assert_null(dn_tgt_subsys_find(NQN_B)); /* B is gone from this configuration */
	assert_int_equal(dn_tgt.disc_genctr, gen + 2);
	assert_int_equal(a->deleted, 1);
	assert_true(a->q.ctrl->dying);
	assert_false(dn_tgt_subsys_host_allowed(dn_tgt_subsys_find(H_SUBNQN), H_HOSTNQN));
}

static void test_reload_failure_changes_nothing(void **state)
{
	const char *paths[2] = {h_ns_path, "/nonexistent/dn-reload"};
	struct dn_tgt_subsys *s = dn_tgt_subsys_find(H_SUBNQN);
	struct dn_tgt_config cfg = two_subsys(paths, 2, false);
	uint64_t gen = dn_tgt.disc_genctr;

	assert_int_equal(dn_tgt_reload(&cfg), -ENOENT);
	dn_tgt_config_free(&cfg);
	assert_null(dn_tgt_ns_lookup(s, 2));
	assert_int_equal(dn_tgt.disc_genctr, gen);
	/* ports cannot change */
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.9", NULL, H_SUBNQN, paths, 1,
						 NULL, 0),
			 0);
	assert_int_equal(dn_tgt_reload(&cfg), -EINVAL);
	dn_tgt_config_free(&cfg);
}

static void test_io_to_removed_namespace(void **state)
{
	const char *paths[1] = {h_ns_path};
	struct h_queue *a = h_q(), *io = h_q();
	uint16_t cntlid = h_admin_up(a, H_SUBNQN, H_HOSTNQN);
	struct dn_tgt_config cfg = two_subsys(paths, 1, false);
	struct nvme_sqe sqe;

	assert_int_equal(h_io_connect(io, 1, cntlid, H_SUBNQN, H_HOSTNQN).status, 0);
	/* nsid 1 moves to nsid 3 */
	cfg.subsys[0].ns[0].nsid = 3;
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_read;
	sqe.common.nsid = htole32(1);
	h_sgl_keyed(&sqe, 512);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0x400b);
	sqe.common.nsid = htole32(3);
	assert_int_equal(h_submit(io, &sqe, NULL, 0).status, 0);
	/* one change event for each NSID, in the controller's changed list */
	assert_int_equal(a->q.ctrl->nr_changed_ns, 2);
}

/*
 * A subsystem removed while a namespace it had retired is still held: the subsystem is freed
 * after that namespace, which points at it (before, it was freed first and reaping the
 * namespace read freed memory).
 */
static void test_removed_subsys_outlives_retired_ns(void **state)
{
	const char *paths[2] = {h_ns_path, h_ns_path};
	struct dn_tgt_config cfg = two_subsys(paths, 2, true);
	struct dn_tgt_subsys *s = dn_tgt_subsys_find(H_SUBNQN);
	struct dn_tgt_ns *ns2;

	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	ns2 = dn_tgt_ns_lookup(s, 2);
	assert_non_null(ns2);
	atomic_fetch_add(&ns2->inflight[0], 1); /* a command holds it */
	cfg = two_subsys(paths, 1, true);
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	assert_ptr_equal(dn_tgt.retired_ns, ns2);
	/* now the whole subsystem goes: only B stays */
	assert_int_equal(
		dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, NQN_B, paths, 1, NULL, 0),
		0);
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	assert_null(dn_tgt_subsys_find(H_SUBNQN));
	dn_tgt_reap_retired(false);
	assert_ptr_equal(dn_tgt.retired_subsys, s); /* no controller, but ns2 is not freed yet */
	atomic_fetch_sub(&ns2->inflight[0], 1);
	ns2->retired_ms -= 10000;
	dn_tgt_reap_retired(false);
	assert_null(dn_tgt.retired_ns);
	assert_null(dn_tgt.retired_subsys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_setup_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_namespaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_subsystems_and_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_failure_changes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_io_to_removed_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_subsys_outlives_retired_ns, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
