// SPDX-License-Identifier: MIT
/* Tests for host/cli_discover.c: the discovery log printed as nvme-cli does, normal and JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "discovery/disc_log.h"
#include "host/cli.h"

static uint8_t *make_log(uint64_t numrec, uint32_t *len)
{
	uint8_t *buf;
	struct nvmf_discovery_log *log;
	union nvmf_tsas tsas;

	*len = (uint32_t)dn_disc_log_size(numrec);
	buf = calloc(1, *len);
	log = (struct nvmf_discovery_log *)buf;
	log->genctr = htole64(5);
	log->numrec = htole64(numrec);
	memset(&tsas, 0, sizeof(tsas));
	tsas.rdma.qptype = NVMF_RDMA_QPTYPE_CONNECTED;
	tsas.rdma.prtype = NVMF_RDMA_PRTYPE_NOT_SPECIFIED;
	tsas.rdma.cms = NVMF_RDMA_CMS_RDMA_CM;
	assert_int_equal(dn_disc_log_entry_fill(&log->entries[0], NVMF_TRTYPE_RDMA,
						NVMF_ADDR_FAMILY_IP4, NVME_NQN_CURR,
						NVMF_TREQ_NOT_SPECIFIED, 1, "10.77.0.1", "4420",
						NVME_DISC_SUBSYS_NAME, &tsas),
			 0);
	if (numrec > 1)
		assert_int_equal(dn_disc_log_entry_fill(&log->entries[1], NVMF_TRTYPE_RDMA,
							NVMF_ADDR_FAMILY_IP4, NVME_NQN_NVME,
							NVMF_TREQ_NOT_SPECIFIED, 1, "10.77.0.1",
							"4420", "nqn.2014-08.org.disnvme:a", &tsas),
				 0);
	return buf;
}

static char *print(const void *log, uint32_t len, enum dn_out_fmt fmt, int *ret)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	*ret = dn_disc_log_print(f, log, len, fmt);
	fclose(f);
	return out;
}

static void test_normal(void **state)
{
	static const char want[] = "\nDiscovery Log Number of Records 2, Generation counter 5\n"
				   "=====Discovery Log Entry 0======\n"
				   "trtype:  rdma\n"
				   "adrfam:  ipv4\n"
				   "subtype: current discovery subsystem\n"
				   "treq:    not specified\n"
				   "portid:  1\n"
				   "trsvcid: 4420\n"
				   "subnqn:  nqn.2014-08.org.nvmexpress.discovery\n"
				   "traddr:  10.77.0.1\n"
				   "eflags:  none\n"
				   "rdma_prtype: not specified\n"
				   "rdma_qptype: connected\n"
				   "rdma_cms:    rdma-cm\n"
				   "rdma_pkey: 0x0000\n"
				   "=====Discovery Log Entry 1======\n"
				   "trtype:  rdma\n"
				   "adrfam:  ipv4\n"
				   "subtype: nvme subsystem\n"
				   "treq:    not specified\n"
				   "portid:  1\n"
				   "trsvcid: 4420\n"
				   "subnqn:  nqn.2014-08.org.disnvme:a\n"
				   "traddr:  10.77.0.1\n"
				   "eflags:  none\n"
				   "rdma_prtype: not specified\n"
				   "rdma_qptype: connected\n"
				   "rdma_cms:    rdma-cm\n"
				   "rdma_pkey: 0x0000\n";
	uint32_t len;
	uint8_t *log = make_log(2, &len);
	int ret;
	char *out = print(log, len, DN_OUT_NORMAL, &ret);

	assert_int_equal(ret, 0);
	assert_string_equal(out, want);
	free(out);
	free(log);
}

static void test_json(void **state)
{
	uint32_t len;
	uint8_t *log = make_log(2, &len);
	struct json_object *j, *recs, *r, *v;
	int ret;
	char *out = print(log, len, DN_OUT_JSON, &ret);

	assert_int_equal(ret, 0);
	j = json_tokener_parse(out);
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "genctr", &v));
	assert_int_equal(json_object_get_int(v), 5);
	assert_true(json_object_object_get_ex(j, "records", &recs));
	assert_int_equal(json_object_array_length(recs), 2);
	r = json_object_array_get_idx(recs, 1);
#define FIELD(k, want)                                                \
	do {                                                          \
		assert_true(json_object_object_get_ex(r, k, &v));     \
		assert_string_equal(json_object_get_string(v), want); \
	} while (0)
	FIELD("trtype", "rdma");
	FIELD("adrfam", "ipv4");
	FIELD("subtype", "nvme subsystem");
	FIELD("subnqn", "nqn.2014-08.org.disnvme:a");
	FIELD("traddr", "10.77.0.1");
	FIELD("trsvcid", "4420");
	FIELD("rdma_cms", "rdma-cm");
	FIELD("portid", "1");
	json_object_put(j);
	free(out);
	free(log);
}

static void test_malformed(void **state)
{
	uint32_t len;
	uint8_t *log = make_log(2, &len);
	struct nvmf_discovery_log *l = (struct nvmf_discovery_log *)log;
	int ret;
	char *out;

	/* more records claimed than the buffer holds */
	l->numrec = htole64(3);
	out = print(log, len, DN_OUT_NORMAL, &ret);
	assert_true(ret < 0);
	assert_string_equal(out, "");
	free(out);
	/* an entry with an unprintable NQN */
	l->numrec = htole64(2);
	l->entries[1].subnqn[3] = 0x01;
	out = print(log, len, DN_OUT_JSON, &ret);
	assert_int_equal(ret, -EPROTO);
	assert_string_equal(out, "");
	free(out);
	/* shorter than a header */
	out = print(log, 100, DN_OUT_NORMAL, &ret);
	assert_true(ret < 0);
	free(out);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
