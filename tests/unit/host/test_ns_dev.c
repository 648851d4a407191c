// SPDX-License-Identifier: MIT
/* Tests for host/ns_dev.c: Identify Namespace to ublk parameters, MDTS to bytes. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "host/ns_dev.h"

static struct nvme_id_ns *idns(uint64_t nsze, uint8_t flbas, uint8_t ds)
{
	static struct nvme_id_ns id;

	memset(&id, 0, sizeof(id));
	id.nsze = htole64(nsze);
	id.nlbaf = 1;
	id.flbas = flbas;
	id.lbaf[0].ds = 9;
	id.lbaf[1].ds = ds;
	return &id;
}

static void test_info_parse(void **state)
{
	struct dn_ns_info ns;
	struct dn_err e = {0};
	struct nvme_id_ns *id;

	id = idns(65536, 1, 12);
	id->nguid[0] = 0xaa;
	assert_int_equal(dn_ns_info_parse(id, 7, &ns, &e), 0);
	assert_int_equal(ns.nsid, 7);
	assert_int_equal(ns.nsze, 65536);
	assert_int_equal(ns.lbs_shift, 12);
	assert_false(ns.read_only);
	assert_int_equal(ns.nguid[0], 0xaa);

	id = idns(100, 0, 12);
	id->nsattr = 1; /* write protected */
	assert_int_equal(dn_ns_info_parse(id, 1, &ns, &e), 0);
	assert_int_equal(ns.lbs_shift, 9);
	assert_true(ns.read_only);
}

static void test_info_rejects(void **state)
{
	struct dn_ns_info ns;
	struct dn_err e = {0};
	struct nvme_id_ns *id;

	/* format index beyond NLBAF */
	assert_int_equal(dn_ns_info_parse(idns(100, 2, 12), 1, &ns, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "LBA format 2"));
	dn_err_clear(&e);
	/* 256-byte blocks */
	assert_int_equal(dn_ns_info_parse(idns(100, 1, 8), 1, &ns, &e), -EINVAL);
	dn_err_clear(&e);
	/* extended-LBA metadata */
	id = idns(100, 1 | NVME_NS_FLBAS_META_EXT, 12);
	id->lbaf[1].ms = htole16(8);
	assert_int_equal(dn_ns_info_parse(id, 1, &ns, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "metadata"));
	dn_err_clear(&e);
	/* separate metadata is fine: the host just does not transfer it */
	id->flbas = 1;
	assert_int_equal(dn_ns_info_parse(id, 1, &ns, &e), 0);
	/* empty namespace */
	assert_int_equal(dn_ns_info_parse(idns(0, 0, 12), 1, &ns, &e), -EINVAL);
}

static void test_info_size_limit(void **state)
{
	struct dn_ctrl_caps caps = {.max_xfer = 128u << 10, .nr_queues = 1, .queue_size = 32};
	struct dn_ublk_params p;
	struct dn_ns_info ns;
	struct dn_err e = {0};

	/* 2^55 + 1 blocks of 512 bytes: the size in bytes would wrap to 512 */
	assert_int_equal(dn_ns_info_parse(idns((1ull << 55) + 1, 0, 12), 1, &ns, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "too large"));
	dn_err_clear(&e);
	assert_int_equal(dn_ns_info_parse(idns(UINT64_MAX, 1, 12), 1, &ns, &e), -EINVAL);
	dn_err_clear(&e);
	/* the kernel's loff_t is signed: 2^63 bytes is one byte too many */
	assert_int_equal(dn_ns_info_parse(idns(1ull << 51, 1, 12), 1, &ns, &e), -EINVAL);
	dn_err_clear(&e);
	/* the largest namespace whose bytes fit a loff_t */
	assert_int_equal(dn_ns_info_parse(idns((uint64_t)INT64_MAX >> 12, 1, 12), 1, &ns, &e), 0);
	dn_ns_ublk_params(&ns, &caps, &p);
	assert_true(p.size == ((uint64_t)INT64_MAX >> 12) << 12);
}

/* ublk takes 512 B..4 KiB logical blocks: larger ones are refused at parse time, clearly */
static void test_info_block_size(void **state)
{
	struct dn_ns_info ns;
	struct dn_err e = {0};

	assert_int_equal(dn_ns_info_parse(idns(1024, 1, 13), 1, &ns, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "512 B to 4 KiB"));
	dn_err_clear(&e);
	assert_int_equal(dn_ns_info_parse(idns(1024, 1, 8), 1, &ns, &e), -EINVAL);
	dn_err_clear(&e);
	assert_int_equal(dn_ns_info_parse(idns(1024, 1, 9), 1, &ns, &e), 0);
	assert_int_equal(ns.lbs_shift, 9);
}

static void test_mdts(void **state)
{
	/* CAP.MPSMIN 0: 4 KiB pages */
	assert_int_equal(dn_mdts_bytes(0, 0), DN_MAX_IO_BYTES);
	assert_int_equal(dn_mdts_bytes(5, 0), 128u << 10);
	assert_int_equal(dn_mdts_bytes(8, 0), DN_MAX_IO_BYTES);
	/* MPSMIN 1 (8 KiB pages), MDTS 3: 64 KiB */
	assert_int_equal(dn_mdts_bytes(3, 1ull << 48), 64u << 10);
	assert_int_equal(dn_mdts_bytes(255, 0), DN_MAX_IO_BYTES);
}

static void test_ublk_params(void **state)
{
	struct dn_ns_info ns = {.nsid = 1, .nsze = 1000, .lbs_shift = 12};
	struct dn_ctrl_caps caps = {
		.max_xfer = 128u << 10,
		.oncs = NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES,
		.vwc = true,
		.nr_queues = 2,
		.queue_size = 64,
	};
	struct dn_ublk_params p;

	dn_ns_ublk_params(&ns, &caps, &p);
	assert_int_equal(p.size, 1000ull << 12);
	assert_int_equal(p.lbs_shift, 12);
	assert_int_equal(p.max_io_bytes, 128u << 10);
	assert_int_equal(p.nr_queues, 2);
	assert_int_equal(p.queue_depth, 64);
	assert_true(p.flush && p.discard && p.write_zeroes);
	assert_false(p.read_only);
	assert_int_equal(p.max_write_zeroes_sectors, 65536u * 8);
	assert_int_equal(p.dev_id, -1);

	/* write protected: no discard, no write zeroes; no VWC: no flush */
	ns.read_only = true;
	caps.vwc = false;
	dn_ns_ublk_params(&ns, &caps, &p);
	assert_true(p.read_only);
	assert_false(p.flush || p.discard || p.write_zeroes);

	/* a controller without DSM / Write Zeroes */
	ns.read_only = false;
	caps.oncs = 0;
	dn_ns_ublk_params(&ns, &caps, &p);
	assert_false(p.discard || p.write_zeroes);
}

static void test_descs(void **state)
{
	uint8_t buf[4096] = {0};
	struct dn_ns_info ns;
	static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t eui[8] = {0xee, 1, 2, 3, 4, 5, 6, 7};

	/* EUI-64 then UUID then CSI, then the terminating zero type */
	buf[0] = NVME_NIDT_EUI64;
	buf[1] = 8;
	memcpy(buf + 4, eui, 8);
	buf[12] = NVME_NIDT_UUID;
	buf[13] = 16;
	memcpy(buf + 16, uuid, 16);
	buf[32] = NVME_NIDT_CSI;
	buf[33] = 1;
	memset(&ns, 0, sizeof(ns));
	ns.nguid[0] = 0x77; /* Identify Namespace's NGUID is kept */
	assert_int_equal(dn_ns_descs_parse(buf, sizeof(buf), &ns), 0);
	assert_memory_equal(ns.uuid, uuid, 16);
	assert_memory_equal(ns.eui64, eui, 8);
	assert_int_equal(ns.nguid[0], 0x77);

	/* a UUID descriptor with the wrong length */
	buf[13] = 15;
	assert_int_equal(dn_ns_descs_parse(buf, sizeof(buf), &ns), -EPROTO);
	/* a descriptor running past the buffer */
	buf[13] = 16;
	assert_int_equal(dn_ns_descs_parse(buf, 20, &ns), -EPROTO);
	/* an empty list */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(dn_ns_descs_parse(buf, sizeof(buf), &ns), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_parse),
		cmocka_unit_test(test_info_rejects),
		cmocka_unit_test(test_info_size_limit),
		cmocka_unit_test(test_info_block_size),
		cmocka_unit_test(test_mdts),
		cmocka_unit_test(test_ublk_params),
		cmocka_unit_test(test_descs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
