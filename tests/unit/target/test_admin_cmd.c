// SPDX-License-Identifier: MIT
/*
 * Tests for target/admin_cmd.c: Identify structures field by field as the Linux host reads
 * them, log pages (error, SMART, firmware, changed namespaces, effects) with offsets, features,
 * asynchronous events end to end through a reload, keep-alive expiry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct h_queue *admin;

static int setup(void **state)
{
	h_target_up(NULL, 0);
	admin = h_q();
	h_admin_up(admin, H_SUBNQN, H_HOSTNQN);
	return 0;
}

static int teardown(void **state)
{
	h_target_down();
	return 0;
}

static struct h_result identify(uint8_t cns, uint32_t nsid, uint8_t csi)
{
	struct nvme_sqe sqe =
		h_admin_sqe(nvme_admin_identify, nsid, cns, (uint32_t)csi << 24, 4096);

	return h_submit(admin, &sqe, NULL, 0);
}

static struct h_result get_log(uint8_t lid, uint32_t nsid, uint32_t len, uint64_t off, bool rae)
{
	uint32_t numd = len / 4 - 1;
	struct nvme_sqe sqe =
		h_admin_sqe(nvme_admin_get_log_page, nsid,
			    lid | (rae ? 1u << 15 : 0) | (numd & 0xffff) << 16, numd >> 16, len);

	sqe.common.cdw12 = htole32((uint32_t)off);
	sqe.common.cdw13 = htole32((uint32_t)(off >> 32));
	return h_submit(admin, &sqe, NULL, 0);
}

static void test_identify_ctrl(void **state)
{
	struct h_result r = identify(NVME_IDENTIFY_CNS_CTRL, 0, 0);
	const struct nvme_id_ctrl *id = (const void *)h_data;
	char sn[21], mn[41];

	assert_int_equal(r.status, 0);
	assert_int_equal(r.data_len, 4096);
	/* serial derived from the NQN, model default, both space padded */
	memcpy(sn, id->sn, 20);
	sn[20] = 0;
	memcpy(mn, id->mn, 40);
	mn[40] = 0;
	assert_int_equal(strlen(sn), 20);
	assert_string_equal(mn, "disnvme                                 ");
	assert_memory_equal(id->fr, "0.1     ", 8);
	assert_int_equal(id->mdts, 5);
	assert_int_equal(le16toh(id->cntlid), admin->q.ctrl->cntlid);
	assert_int_equal(le32toh(id->ver), 0x10300);
	assert_int_equal(id->cmic, NVME_CTRL_CMIC_MULTI_CTRL);
	assert_int_equal(le32toh(id->oaes), NVME_CTRL_OAES_NA);
	assert_int_equal(le32toh(id->ctratt), NVME_CTRL_CTRATT_128_ID | NVME_CTRL_CTRATT_TBKAS);
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_IO);
	assert_int_equal(id->aerl, 3);
	assert_int_equal(id->lpa, NVME_CTRL_LPA_EXTENDED);
	assert_int_equal(id->elpe, 7);
	assert_int_equal(le16toh(id->kas), 10);
	assert_int_equal(id->sqes, 0x66);
	assert_int_equal(id->cqes, 0x44);
	assert_int_equal(le16toh(id->maxcmd), 128);
	assert_int_equal(le32toh(id->nn), 1024);
	assert_int_equal(le16toh(id->oncs), 0x2d); /* compare, DSM, write zeroes, reservations */
	assert_int_equal(id->vwc, 1);
	/* SGLs: supported, keyed data blocks, offsets (in-capsule data) */
	assert_int_equal(le32toh(id->sgls), 1 | 1 << 2 | 1 << 20);
	assert_string_equal(id->subnqn, H_SUBNQN);
	/* fabrics: (64 + 8192) / 16 command capsule units, 16-byte responses, no offset */
	assert_int_equal(le32toh(id->ioccsz), (64 + H_INCAPSULE) / 16);
	assert_int_equal(le32toh(id->iorcsz), 1);
	assert_int_equal(le16toh(id->icdoff), 0);
	assert_int_equal(id->msdbd, 1);
	assert_int_equal(id->fcatt, 0);
}

/* Configured max_io_size and max_queue_depth: the MDTS and MAXCMD offered, the log page
 * length allowed */
static void test_identify_configured_limits(void **state)
{
	const struct nvme_id_ctrl *id = (const void *)h_data;

	dn_tgt.max_xfer = 16384;
	dn_tgt.max_queue_size = 16;
	assert_int_equal(identify(NVME_IDENTIFY_CNS_CTRL, 0, 0).status, 0);
	assert_int_equal(id->mdts, 2); /* 2^2 * 4 KiB */
	assert_int_equal(le16toh(id->maxcmd), 16);
	assert_int_equal(get_log(NVME_LOG_LID_CMD_EFFECTS, 0, 16384, 0, false).status, 0);
	assert_int_equal(get_log(NVME_LOG_LID_CMD_EFFECTS, 0, 16388, 0, false).status, 0x4002);
	dn_tgt.max_xfer = 8192;
	assert_int_equal(identify(NVME_IDENTIFY_CNS_CTRL, 0, 0).status, 0);
	assert_int_equal(id->mdts, 1);
	dn_tgt.max_xfer = 0;
	dn_tgt.max_queue_size = 0;
}

static void test_identify_ns(void **state)
{
	struct h_result r = identify(NVME_IDENTIFY_CNS_NS, 1, 0);
	const struct nvme_id_ns *id = (const void *)h_data;
	uint8_t nguid[16], uuid[16], eui64[8];

	assert_int_equal(r.status, 0);
	assert_int_equal(le64toh(id->nsze), H_NS_BYTES / 512);
	assert_int_equal(le64toh(id->ncap), H_NS_BYTES / 512);
	assert_int_equal(id->nlbaf, 0);
	assert_int_equal(id->flbas, 0);
	assert_int_equal(id->lbaf[0].ds, 9);
	assert_int_equal(le16toh(id->lbaf[0].ms), 0);
	assert_int_equal(id->nmic, NVME_NS_NMIC_SHARED);
	assert_int_equal(id->dlfeat, 0x9);
	assert_int_equal(id->nsattr, 0);
	dn_tgt_derive_ids(H_SUBNQN, 1, nguid, uuid, eui64);
	assert_memory_equal(id->nguid, nguid, 16);
	assert_memory_equal(id->eui64, eui64, 8);
	/* an inactive NSID in range: zeroes; out of range: Invalid Namespace */
	r = identify(NVME_IDENTIFY_CNS_NS, 7, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(le64toh(id->nsze), 0);
	assert_int_equal(identify(NVME_IDENTIFY_CNS_NS, 0, 0).status, 0x400b);
	assert_int_equal(identify(NVME_IDENTIFY_CNS_NS, 1025, 0).status, 0x400b);
	assert_int_equal(identify(NVME_IDENTIFY_CNS_NS, 0xffffffff, 0).status, 0x400b);
}

static void test_derived_ids_stable(void **state)
{
	static const uint8_t want_nguid[16] = {0};
	uint8_t a[16], b[16], u[16], e[8], e2[8];

	dn_tgt_derive_ids(H_SUBNQN, 1, a, u, e);
	dn_tgt_derive_ids(H_SUBNQN, 1, b, NULL, e2);
	assert_memory_equal(a, b, 16);
	assert_memory_equal(e, e2, 8);
	assert_memory_not_equal(a, want_nguid, 16);
	assert_int_equal(u[6] >> 4, 8); /* UUID version 8 */
	assert_int_equal(u[8] >> 6, 2); /* variant 10 */
	assert_int_equal(e[0] & 3, 2);	/* locally administered, unicast */
	dn_tgt_derive_ids(H_SUBNQN, 2, b, NULL, NULL);
	assert_memory_not_equal(a, b, 16);
	dn_tgt_derive_ids("nqn.2024-01.io.disnvme:other", 1, b, NULL, NULL);
	assert_memory_not_equal(a, b, 16);
}

static void test_identify_lists(void **state)
{
	struct h_result r = identify(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0);
	const uint32_t *list = (const void *)h_data;
	const uint8_t *d = h_data;
	uint8_t nguid[16], uuid[16], eui64[8];

	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(list[0]), 1);
	assert_int_equal(list[1], 0);
	r = identify(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 1, 0); /* NSIDs above 1 */
	assert_int_equal(r.status, 0);
	assert_int_equal(list[0], 0);
	assert_int_equal(identify(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0xfffffffe, 0).status, 0x400b);

	r = identify(NVME_IDENTIFY_CNS_NS_DESC_LIST, 1, 0);
	assert_int_equal(r.status, 0);
	dn_tgt_derive_ids(H_SUBNQN, 1, nguid, uuid, eui64);
	/* EUI-64 (type 1, 8), NGUID (2, 16), UUID (3, 16), CSI (4, 1): byte exact */
	assert_int_equal(d[0], 1);
	assert_int_equal(d[1], 8);
	assert_memory_equal(d + 4, eui64, 8);
	assert_int_equal(d[12], 2);
	assert_int_equal(d[13], 16);
	assert_memory_equal(d + 16, nguid, 16);
	assert_int_equal(d[32], 3);
	assert_int_equal(d[33], 16);
	assert_memory_equal(d + 36, uuid, 16);
	assert_int_equal(d[52], 4);
	assert_int_equal(d[53], 1);
	assert_int_equal(d[56], 0);
	assert_int_equal(d[57], 0); /* the end */
	assert_int_equal(identify(NVME_IDENTIFY_CNS_NS_DESC_LIST, 2, 0).status, 0x400b);

	assert_int_equal(identify(NVME_IDENTIFY_CNS_CSI_CTRL, 0, NVME_CSI_NVM).status, 0);
	assert_int_equal(identify(NVME_IDENTIFY_CNS_CSI_CTRL, 0, 2).status, 0x4002);
	assert_int_equal(identify(0x15, 0, 0).status, 0x4002);
}

static void test_identify_transfer_length(void **state)
{
	struct nvme_sqe sqe = h_admin_sqe(nvme_admin_identify, 0, 1, 0, 2048);

	assert_int_equal(h_submit(admin, &sqe, NULL, 0).status, 0x400f);
}

static void test_log_pages(void **state)
{
	const struct nvme_smart_log *smart = (const void *)h_data;
	const struct nvme_firmware_slot *fw = (const void *)h_data;
	const struct nvme_cmd_effects_log *eff = (const void *)h_data;
	struct h_result r;

	r = get_log(NVME_LOG_LID_SMART, 0xffffffff, 512, 0, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(smart->avail_spare, 100);
	assert_int_equal(smart->spare_thresh, 10);
	assert_int_equal(smart->power_cycles[0], 1);
	/* per-namespace SMART is not offered (LPA bit 0) */
	assert_int_equal(get_log(NVME_LOG_LID_SMART, 1, 512, 0, false).status, 0x4002);
	assert_int_equal(get_log(NVME_LOG_LID_SMART, 0, 512, 0, false).status, 0);
	r = get_log(NVME_LOG_LID_FW_SLOT, 0, 512, 0, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(fw->afi, 1);
	assert_memory_equal(fw->frs[0], "0.1     ", 8);
	r = get_log(NVME_LOG_LID_CMD_EFFECTS, 0, 4096, 0, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(eff->acs[nvme_admin_identify]), 1);
	assert_int_equal(le32toh(eff->iocs[nvme_cmd_write]), 3);
	assert_int_equal(eff->acs[nvme_admin_format_nvm], 0);
	/* offsets: the firmware slot log from byte 8 is FRS1 */
	r = get_log(NVME_LOG_LID_FW_SLOT, 0, 8, 8, false);
	assert_int_equal(r.status, 0);
	assert_memory_equal(h_data, "0.1     ", 8);
	/* past the end, or not dword aligned */
	assert_int_equal(get_log(NVME_LOG_LID_FW_SLOT, 0, 8, 512, false).status, 0x4002);
	assert_int_equal(get_log(NVME_LOG_LID_FW_SLOT, 0, 8, 2, false).status, 0x4002);
	/* unknown log page */
	assert_int_equal(get_log(0x0d, 0, 512, 0, false).status, 0x4109);
	/* more than MDTS */
	{
		struct nvme_sqe sqe = h_admin_sqe(nvme_admin_get_log_page, 0,
						  NVME_LOG_LID_SMART | 0xffffu << 16, 0xffff, 4096);

		assert_int_equal(h_submit(admin, &sqe, NULL, 0).status, 0x4002);
	}
}

static void test_error_log(void **state)
{
	const struct nvme_error_log_page *e = (const void *)h_data;
	struct h_result r;

	/* a bad command leaves an entry */
	assert_int_equal(identify(0x15, 0, 0).status, 0x4002);
	r = get_log(NVME_LOG_LID_ERROR, 0, 128, 0, false);
	assert_int_equal(r.status, 0);
	assert_int_equal(le64toh(e[0].error_count), 1);
	assert_int_equal(le16toh(e[0].sqid), 0);
	assert_int_equal(le16toh(e[0].cmdid), 9);
	assert_int_equal(le16toh(e[0].status_field), 0x4002 << 1);
	assert_int_equal(le64toh(e[1].error_count), 0);
}

static struct h_result feature(bool set, uint8_t fid, uint32_t cdw11, uint32_t len)
{
	struct nvme_sqe sqe = h_admin_sqe(set ? nvme_admin_set_features : nvme_admin_get_features,
					  0, fid, cdw11, len);

	return h_submit(admin, &sqe, NULL, 0);
}

static void test_features(void **state)
{
	struct h_result r;

	/* number of queues: 8 asked, 8 granted; 200 asked, capped at 64 */
	r = feature(true, NVME_FEAT_FID_NUM_QUEUES, 7 | 7 << 16, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 7 | 7 << 16);
	r = feature(true, NVME_FEAT_FID_NUM_QUEUES, 199 | 199 << 16, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 63 | 63 << 16);
	assert_int_equal(feature(true, NVME_FEAT_FID_NUM_QUEUES, 0xffff, 0).status, 0x4002);
	r = feature(false, NVME_FEAT_FID_NUM_QUEUES, 0, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 63 | 63 << 16);
	/* asynchronous event configuration keeps only what the controller reports */
	r = feature(true, NVME_FEAT_FID_ASYNC_EVENT, 0xffffffff, 0);
	assert_int_equal(r.status, 0);
	r = feature(false, NVME_FEAT_FID_ASYNC_EVENT, 0, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), NVME_CTRL_OAES_NA);
	/* keep-alive timer */
	assert_int_equal(feature(true, NVME_FEAT_FID_KATO, 15000, 0).status, 0);
	r = feature(false, NVME_FEAT_FID_KATO, 0, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 15000);
	/* volatile write cache: on, cannot be turned off */
	r = feature(false, NVME_FEAT_FID_VOLATILE_WC, 0, 0);
	assert_int_equal(le32toh(r.cqe.result.u32), 1);
	assert_int_equal(feature(true, NVME_FEAT_FID_VOLATILE_WC, 0, 0).status, 0x410e);
	/* host identifier: 128 bits only, read only */
	r = feature(false, 0x81, 1, 16);
	assert_int_equal(r.status, 0);
	assert_int_equal(h_data[0], 0x11);
	assert_int_equal(feature(false, 0x81, 0, 16).status, 0x4002);
	assert_int_equal(feature(true, 0x81, 1, 16).status, 0x400c);
	/* saving is not supported; unknown features are invalid */
	{
		struct nvme_sqe sqe = h_admin_sqe(nvme_admin_set_features, 0,
						  NVME_FEAT_FID_KATO | 1u << 31, 1000, 0);

		assert_int_equal(h_submit(admin, &sqe, NULL, 0).status, 0x410d);
	}
	assert_int_equal(feature(false, NVME_FEAT_FID_HOST_BEHAVIOR, 0, 0).status, 0x4002);
	assert_int_equal(feature(false, NVME_FEAT_FID_IRQ_COALESCE, 0, 0).status, 0x4002);
}

static void test_unsupported_admin(void **state)
{
	struct nvme_sqe sqe = h_admin_sqe(nvme_admin_format_nvm, 1, 0, 0, 0);

	assert_int_equal(h_submit(admin, &sqe, NULL, 0).status, 0x4001);
	sqe = h_admin_sqe(nvme_admin_create_sq, 0, 0, 0, 0);
	assert_int_equal(h_submit(admin, &sqe, NULL, 0).status, 0x4001);
	/* Abort: nothing to abort, DW0 bit 0 says so */
	sqe = h_admin_sqe(nvme_admin_abort_cmd, 0, 5, 0, 0);
	{
		struct h_result r = h_submit(admin, &sqe, NULL, 0);

		assert_int_equal(r.status, 0);
		assert_int_equal(le32toh(r.cqe.result.u32), 1);
	}
}

static void test_aer_limit_and_abort(void **state)
{
	struct nvme_sqe sqe = h_admin_sqe(nvme_admin_async_event, 0, 0, 0, 0);
	struct h_result r;
	int i;

	for (i = 0; i < 4; i++) {
		r = h_submit(admin, &sqe, NULL, 0);
		assert_false(r.done); /* held */
	}
	r = h_submit(admin, &sqe, NULL, 0);
	assert_true(r.done);
	assert_int_equal(r.status, 0x4105); /* Asynchronous Event Request Limit Exceeded */
	/* the controller going away hands them back with Abort Requested */
	dn_tgt_ctrl_kill(admin->q.ctrl, "test");
	assert_int_equal(h_pump_msgs(), 1);
	assert_int_equal(h_nr_async, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(h_async[i].status, NVME_SC_ABORT_REQ);
	/* regression: an AER that arrives after that is answered at once, not held forever */
	r = h_submit(admin, &sqe, NULL, 0);
	assert_true(r.done);
	assert_int_equal(r.status, NVME_SC_ABORT_REQ);
}

static void test_aen_namespace_added(void **state)
{
	struct nvme_sqe sqe = h_admin_sqe(nvme_admin_async_event, 0, 0, 0, 0);
	struct dn_tgt_config cfg;
	const char *paths[2] = {h_ns_path, h_ns_path};
	const uint32_t *list = (const void *)h_data;

	assert_int_equal(feature(true, NVME_FEAT_FID_ASYNC_EVENT, NVME_CTRL_OAES_NA, 0).status, 0);
	assert_false(h_submit(admin, &sqe, NULL, 0).done);
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, H_SUBNQN, paths, 2,
						 NULL, 0),
			 0);
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	assert_int_equal(h_pump_msgs(), 1);
	assert_int_equal(h_nr_async, 1);
	assert_int_equal(h_async[0].status, 0);
	/* notice (2), namespace attribute changed (0), log page 04h */
	assert_int_equal(le32toh(h_async[0].cqe.result.u32), 0x00040002);
	assert_int_equal(get_log(NVME_LOG_LID_CHANGED_NS, 0, 4096, 0, false).status, 0);
	assert_int_equal(le32toh(list[0]), 2);
	assert_int_equal(list[1], 0);
	/* read without RAE: cleared */
	assert_int_equal(get_log(NVME_LOG_LID_CHANGED_NS, 0, 4096, 0, false).status, 0);
	assert_int_equal(list[0], 0);
	assert_int_equal(identify(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0).status, 0);
	assert_int_equal(le32toh(list[1]), 2);
}

static void test_keep_alive_expiry(void **state)
{
	struct nvme_sqe ka = h_admin_sqe(nvme_admin_keep_alive, 0, 0, 0, 0);
	struct dn_tgt_ctrl *ctrl = admin->q.ctrl;

	assert_int_equal(h_submit(admin, &ka, NULL, 0).status, 0);
	dn_tgt_tick();
	assert_false(ctrl->dying);
	/* silent for longer than KATO (5 s): no traffic since, last keep-alive long ago */
	atomic_store(&ctrl->ka_traffic, false);
	ctrl->ka_last_ms -= 6000;
	dn_tgt_tick();
	assert_true(ctrl->dying);
	assert_int_equal(admin->deleted, 1);
}

static void test_keep_alive_traffic_counts(void **state)
{
	struct dn_tgt_ctrl *ctrl = admin->q.ctrl;

	ctrl->ka_last_ms -= 6000;
	/* a command since the last tick is as good as a Keep Alive (TBKAS) */
	assert_int_equal(identify(NVME_IDENTIFY_CNS_CTRL, 0, 0).status, 0);
	dn_tgt_tick();
	assert_false(ctrl->dying);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identify_ctrl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_configured_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_ns, setup, teardown),
		cmocka_unit_test(test_derived_ids_stable),
		cmocka_unit_test_setup_teardown(test_identify_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_transfer_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aer_limit_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aen_namespace_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_alive_traffic_counts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
