// SPDX-License-Identifier: MIT
/* Tests for discovery/disc_log.c: windowed building byte for byte, and the validating parser. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "discovery/disc_log.h"

#define NQN_A "nqn.2024-01.io.disnvme:a"
#define NQN_B "nqn.2024-01.io.disnvme:b"

static uint8_t logbuf[1024 * 3];

static void build(uint8_t *buf, uint32_t len, uint64_t off)
{
	struct nvmf_disc_log_entry e;
	struct dn_disc_log_window w;
	union nvmf_tsas tsas;

	memset(&tsas, 0, sizeof(tsas));
	tsas.rdma.qptype = NVMF_RDMA_QPTYPE_CONNECTED;
	tsas.rdma.prtype = NVMF_RDMA_PRTYPE_NOT_SPECIFIED;
	tsas.rdma.cms = NVMF_RDMA_CMS_RDMA_CM;
	dn_disc_log_window_init(&w, buf, len, off);
	assert_int_equal(dn_disc_log_entry_fill(&e, NVMF_TRTYPE_RDMA, NVMF_ADDR_FAMILY_IP4,
						NVME_NQN_NVME, 0, 1, "10.77.0.1", "4420", NQN_A,
						&tsas),
			 0);
	dn_disc_log_put_entry(&w, 0, &e);
	assert_int_equal(dn_disc_log_entry_fill(&e, NVMF_TRTYPE_RDMA, NVMF_ADDR_FAMILY_IP6,
						NVME_NQN_NVME, 0, 2, "fd00::1", "4421", NQN_B,
						NULL),
			 0);
	dn_disc_log_put_entry(&w, 1, &e);
	dn_disc_log_put_header(&w, 42, 2);
}

static void test_build_exact(void **state)
{
	const uint8_t *e0 = logbuf + 1024;

	build(logbuf, sizeof(logbuf), 0);
	/* header: genctr 42, numrec 2, recfmt 0, then zeroes */
	assert_int_equal(logbuf[0], 42);
	assert_int_equal(logbuf[8], 2);
	assert_int_equal(logbuf[16], 0);
	assert_int_equal(logbuf[1023], 0);
	/* entry 0 at its spec offsets */
	assert_int_equal(e0[0], NVMF_TRTYPE_RDMA);
	assert_int_equal(e0[1], NVMF_ADDR_FAMILY_IP4);
	assert_int_equal(e0[2], NVME_NQN_NVME);
	assert_int_equal(e0[4], 1);    /* PORTID */
	assert_int_equal(e0[6], 0xff); /* CNTLID FFFFh */
	assert_int_equal(e0[7], 0xff);
	assert_int_equal(e0[8], 32); /* ASQSZ */
	assert_memory_equal(e0 + 32, "4420\0", 5);
	assert_memory_equal(e0 + 256, NQN_A, sizeof(NQN_A));
	assert_memory_equal(e0 + 512, "10.77.0.1\0", 10);
	assert_int_equal(e0[768], NVMF_RDMA_QPTYPE_CONNECTED);
	assert_int_equal(e0[769], NVMF_RDMA_PRTYPE_NOT_SPECIFIED);
	assert_int_equal(e0[770], NVMF_RDMA_CMS_RDMA_CM);
	assert_int_equal(dn_disc_log_size(2), sizeof(logbuf));
}

static void test_windows_match_whole(void **state)
{
	static uint8_t piece[1024 * 3];
	uint64_t off;

	build(logbuf, sizeof(logbuf), 0);
	for (off = 0; off < sizeof(logbuf); off += 100) {
		uint32_t len = 700;

		build(piece, len, off);
		if (off + len <= sizeof(logbuf))
			assert_memory_equal(piece, logbuf + off, len);
		else
			assert_memory_equal(piece, logbuf + off, sizeof(logbuf) - off);
	}
}

static void test_entry_fill_limits(void **state)
{
	struct nvmf_disc_log_entry e;
	char long_addr[300];

	memset(long_addr, '1', sizeof(long_addr));
	long_addr[256] = 0; /* 256 characters: no room for the NUL */
	assert_int_equal(dn_disc_log_entry_fill(&e, 1, 1, 2, 0, 1, long_addr, "4420", NQN_A, NULL),
			 -EINVAL);
	assert_int_equal(dn_disc_log_entry_fill(&e, 1, 1, 2, 0, 1, "1.2.3.4",
						"123456789012345678901234567890123", NQN_A, NULL),
			 -EINVAL);
}

static void test_parse(void **state)
{
	struct dn_disc_rec recs[2];
	uint64_t genctr, nr, bad;

	build(logbuf, sizeof(logbuf), 0);
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad), 0);
	assert_int_equal(genctr, 42);
	assert_int_equal(nr, 2);
	assert_int_equal(recs[0].trtype, NVMF_TRTYPE_RDMA);
	assert_int_equal(recs[0].portid, 1);
	assert_int_equal(recs[0].cntlid, 0xffff);
	assert_string_equal(recs[0].traddr, "10.77.0.1");
	assert_string_equal(recs[0].trsvcid, "4420");
	assert_string_equal(recs[0].subnqn, NQN_A);
	assert_int_equal(recs[0].tsas.rdma.cms, NVMF_RDMA_CMS_RDMA_CM);
	assert_int_equal(recs[1].adrfam, NVMF_ADDR_FAMILY_IP6);
	assert_string_equal(recs[1].traddr, "fd00::1");
	/* fewer slots than records: only those stored, the count still told */
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 1, &nr, &bad), 0);
	assert_int_equal(nr, 2);
}

static void test_parse_space_padding(void **state)
{
	struct nvmf_disc_log_entry *e = (struct nvmf_disc_log_entry *)(logbuf + 1024);
	struct dn_disc_rec recs[2];
	uint64_t genctr, nr;

	build(logbuf, sizeof(logbuf), 0);
	/* some targets pad with spaces instead of NULs */
	memset(e->trsvcid, ' ', sizeof(e->trsvcid));
	memcpy(e->trsvcid, "4420", 4);
	memset(e->traddr + 9, ' ', sizeof(e->traddr) - 9);
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, NULL), 0);
	assert_string_equal(recs[0].trsvcid, "4420");
	assert_string_equal(recs[0].traddr, "10.77.0.1");
}

static void test_parse_rejects(void **state)
{
	struct nvmf_disc_log_entry *e1 = (struct nvmf_disc_log_entry *)(logbuf + 2048);
	struct dn_disc_rec recs[2];
	uint64_t genctr, nr, bad = 99;

	/* shorter than the header */
	assert_int_equal(dn_disc_log_parse(logbuf, 1023, &genctr, recs, 2, &nr, &bad), -EMSGSIZE);
	/* numrec says 2, only one entry's bytes */
	build(logbuf, sizeof(logbuf), 0);
	assert_int_equal(dn_disc_log_parse(logbuf, 2048, &genctr, recs, 2, &nr, &bad), -EMSGSIZE);
	/* numrec absurdly large */
	logbuf[15] = 0x80;
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad),
			 -EMSGSIZE);
	/* unknown record format */
	build(logbuf, sizeof(logbuf), 0);
	logbuf[16] = 1;
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad),
			 -EPROTO);
	/* a control character in entry 1's subnqn */
	build(logbuf, sizeof(logbuf), 0);
	e1->subnqn[3] = '\n';
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad),
			 -EPROTO);
	assert_int_equal(bad, 1);
	/* garbage after the string's NUL */
	build(logbuf, sizeof(logbuf), 0);
	e1->traddr[200] = 'x';
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad),
			 -EPROTO);
	/* empty traddr, unknown subtype */
	build(logbuf, sizeof(logbuf), 0);
	memset(e1->traddr, 0, sizeof(e1->traddr));
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad),
			 -EPROTO);
	build(logbuf, sizeof(logbuf), 0);
	e1->subtype = 9;
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad),
			 -EPROTO);
	/* an unterminated 256-byte subnqn is fine: the field is fixed width */
	build(logbuf, sizeof(logbuf), 0);
	memset(e1->subnqn, 'n', sizeof(e1->subnqn));
	assert_int_equal(dn_disc_log_parse(logbuf, sizeof(logbuf), &genctr, recs, 2, &nr, &bad), 0);
	assert_int_equal(strlen(recs[1].subnqn), 256);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_exact),
		cmocka_unit_test(test_windows_match_whole),
		cmocka_unit_test(test_entry_fill_limits),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_space_padding),
		cmocka_unit_test(test_parse_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
