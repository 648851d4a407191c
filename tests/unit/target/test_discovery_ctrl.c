// SPDX-License-Identifier: MIT
/*
 * Tests for target/discovery_ctrl.c: the discovery controller's Identify data, its log page
 * byte for byte (header, entries, RDMA TSAS), read in pieces at offsets, filtered by the
 * connecting host, the generation counter and the discovery-changed event on reload.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "discovery/disc_log.h"
#include "harness.h"

static struct h_queue *disc;

static const char *const allowed[] = {H_HOSTNQN};

static void disc_up(const char *hostnqn)
{
	disc = h_q();
	h_admin_up(disc, NVME_DISC_SUBSYS_NAME, hostnqn);
}

static int setup(void **state)
{
	h_target_up(allowed, 1);
	return 0;
}

static int teardown(void **state)
{
	h_target_down();
	return 0;
}

static struct h_result disc_log(uint32_t len, uint64_t off)
{
	struct nvme_sqe sqe;
	uint32_t numd = len / 4 - 1;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_get_log_page;
	sqe.common.cdw10 = htole32(NVME_LOG_LID_DISCOVER | (numd & 0xffff) << 16);
	sqe.common.cdw11 = htole32(numd >> 16);
	sqe.common.cdw12 = htole32((uint32_t)off);
	sqe.common.cdw13 = htole32((uint32_t)(off >> 32));
	h_sgl_keyed(&sqe, len);
	return h_submit(disc, &sqe, NULL, 0);
}

static void test_identify(void **state)
{
	struct nvme_sqe sqe;
	const struct nvme_id_ctrl *id;
	struct h_result r;

	disc_up(H_HOSTNQN2); /* anyone may talk to the discovery controller */
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_identify;
	sqe.common.cdw10 = htole32(NVME_IDENTIFY_CNS_CTRL);
	h_sgl_keyed(&sqe, 4096);
	r = h_submit(disc, &sqe, NULL, 0);
	assert_int_equal(r.status, 0);
	id = (const void *)h_data;
	assert_int_equal(id->cntrltype, NVME_CTRL_CNTRLTYPE_DISCOVERY);
	assert_string_equal(id->subnqn, NVME_DISC_SUBSYS_NAME);
	assert_int_equal(le32toh(id->oaes), (uint32_t)NVME_CTRL_OAES_DL);
	assert_int_equal(le16toh(id->cntlid), disc->q.ctrl->cntlid);
	assert_int_equal(le16toh(id->maxcmd), 32);
	assert_int_equal(le16toh(id->kas), 10);
	assert_int_equal(le32toh(id->sgls) & NVME_CTRL_SGLS_KEYED, NVME_CTRL_SGLS_KEYED);
	assert_int_equal(id->lpa, NVME_CTRL_LPA_EXTENDED);
	/* only controller Identify, and no I/O command set here */
	sqe.common.cdw10 = htole32(NVME_IDENTIFY_CNS_NS);
	assert_int_equal(h_submit(disc, &sqe, NULL, 0).status, 0x4002);
	sqe.opcode = nvme_admin_abort_cmd;
	nvme_sgl_set_null(&sqe.common.dptr);
	assert_int_equal(h_submit(disc, &sqe, NULL, 0).status, 0x4001);
}

static void test_kato_zero(void **state)
{
	struct h_queue *hq = h_q();
	struct nvmf_connect_data d;
	struct nvme_sqe sqe = h_connect_sqe(0, 31, 0);

	/* nvme discover connects with KATO 0: the controller still expires, after 120 s */
	h_queue_init(hq, 0, 32);
	h_connect_data(&d, NVME_DISC_SUBSYS_NAME, H_HOSTNQN, 0xffff);
	assert_int_equal(h_submit(hq, &sqe, &d, sizeof(d)).status, 0);
	assert_int_equal(hq->q.ctrl->kato_ms, 120000);
}

static void test_log_page_exact(void **state)
{
	const struct nvmf_discovery_log *hdr;
	const struct nvmf_disc_log_entry *e;
	struct h_result r;

	disc_up(H_HOSTNQN);
	r = disc_log(2048, 0);
	assert_int_equal(r.status, 0);
	hdr = (const void *)h_data;
	e = (const void *)(h_data + 1024);
	assert_int_equal(le64toh(hdr->genctr), 1);
	assert_int_equal(le64toh(hdr->numrec), 1);
	assert_int_equal(le16toh(hdr->recfmt), 0);
	assert_int_equal(e->trtype, NVMF_TRTYPE_RDMA);
	assert_int_equal(e->adrfam, NVMF_ADDR_FAMILY_IP4);
	assert_int_equal(e->subtype, NVME_NQN_NVME);
	assert_int_equal(e->treq, 0);
	assert_int_equal(le16toh(e->portid), 1);
	assert_int_equal(le16toh(e->cntlid), 0xffff);
	assert_int_equal(le16toh(e->asqsz), 32);
	assert_string_equal(e->trsvcid, "4420");
	assert_string_equal(e->traddr, "10.0.0.1");
	assert_string_equal(e->subnqn, H_SUBNQN);
	assert_int_equal(e->tsas.rdma.qptype, NVMF_RDMA_QPTYPE_CONNECTED);
	assert_int_equal(e->tsas.rdma.prtype, NVMF_RDMA_PRTYPE_NOT_SPECIFIED);
	assert_int_equal(e->tsas.rdma.cms, NVMF_RDMA_CMS_RDMA_CM);
	/* fields are NUL padded to their ends */
	assert_int_equal(e->traddr[255], 0);
	assert_int_equal(e->trsvcid[31], 0);
}

static void test_log_page_pieces(void **state)
{
	static uint8_t whole[2048];
	uint32_t off;

	disc_up(H_HOSTNQN);
	assert_int_equal(disc_log(2048, 0).status, 0);
	memcpy(whole, h_data, sizeof(whole));
	/* the way hosts read: header first, then the rest in odd-sized pieces */
	for (off = 0; off < 2048; off += 300) {
		uint32_t len = off + 300 <= 2048 ? 300 : 2048 - off;

		assert_int_equal(disc_log(len, off).status, 0);
		assert_memory_equal(h_data, whole + off, len);
	}
	/* asking for more than the log holds: the rest is zero */
	assert_int_equal(disc_log(4096, 0).status, 0);
	assert_memory_equal(h_data, whole, 2048);
	assert_int_equal(h_data[2048], 0);
	assert_int_equal(h_data[4095], 0);
	/* at or past its end */
	assert_int_equal(disc_log(16, 2048).status, 0x4002);
	/* offsets are dword aligned */
	assert_int_equal(disc_log(16, 2).status, 0x4002);
}

static void test_log_page_filtered_by_host(void **state)
{
	const struct nvmf_discovery_log *hdr;

	disc_up(H_HOSTNQN2);
	assert_int_equal(disc_log(1024, 0).status, 0);
	hdr = (const void *)h_data;
	assert_int_equal(le64toh(hdr->numrec), 0);
}

static void test_other_log_pages_refused(void **state)
{
	struct nvme_sqe sqe;

	disc_up(H_HOSTNQN);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_admin_get_log_page;
	sqe.common.cdw10 = htole32(NVME_LOG_LID_SMART | 127u << 16);
	h_sgl_keyed(&sqe, 512);
	assert_int_equal(h_submit(disc, &sqe, NULL, 0).status, 0x4109);
}

static void test_genctr_and_aen_on_reload(void **state)
{
	struct nvme_sqe aer, feat;
	struct dn_tgt_config cfg;
	const char *paths[1] = {h_ns_path};
	const char *hosts[2] = {H_HOSTNQN, H_HOSTNQN2};
	const struct nvmf_discovery_log *hdr;

	disc_up(H_HOSTNQN2);
	memset(&feat, 0, sizeof(feat));
	feat.opcode = nvme_admin_set_features;
	feat.common.cdw10 = htole32(NVME_FEAT_FID_ASYNC_EVENT);
	feat.common.cdw11 = htole32(NVME_CTRL_OAES_DL);
	assert_int_equal(h_submit(disc, &feat, NULL, 0).status, 0);
	memset(&aer, 0, sizeof(aer));
	aer.opcode = nvme_admin_async_event;
	assert_false(h_submit(disc, &aer, NULL, 0).done);

	/* host 2 is added to the allow list */
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, H_SUBNQN, paths, 1,
						 hosts, 2),
			 0);
	assert_int_equal(dn_tgt_reload(&cfg), 0);
	dn_tgt_config_free(&cfg);
	assert_int_equal(h_pump_msgs(), 1);
	assert_int_equal(h_nr_async, 1);
	/* notice (2), discovery log changed (F0h), log page 70h */
	assert_int_equal(le32toh(h_async[0].cqe.result.u32), 0x0070f002);
	assert_int_equal(disc_log(2048, 0).status, 0);
	hdr = (const void *)h_data;
	assert_int_equal(le64toh(hdr->genctr), 2);
	assert_int_equal(le64toh(hdr->numrec), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kato_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_page_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_page_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_page_filtered_by_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_log_pages_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_genctr_and_aen_on_reload, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
