// SPDX-License-Identifier: MIT
/* Tests for host/nvmf_cmd.c: every command the host sends, byte for byte. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "host/nvmf_cmd.h"

/* an SQE as 64 bytes: only the listed bytes set, the rest zero */
struct byte {
	int off;
	uint8_t val;
};

static void assert_sqe(const struct nvme_sqe *c, const struct byte *want, size_t n)
{
	uint8_t exp[64] = {0};
	size_t i;

	for (i = 0; i < n; i++)
		exp[want[i].off] = want[i].val;
	assert_memory_equal(c, exp, 64);
}

#define ASSERT_SQE(c, ...)                                    \
	do {                                                  \
		static const struct byte w[] = {__VA_ARGS__}; \
		assert_sqe(c, w, sizeof(w) / sizeof(w[0]));   \
	} while (0)

static void test_connect(void **state)
{
	struct nvme_sqe c;

	memset(&c, 0xff, sizeof(c));
	/* I/O queue 3, 128 entries (SQSIZE 127), KATO 0 */
	dn_sqe_connect(&c, 3, 128, 0);
	ASSERT_SQE(&c, {0, 0x7f}, {1, 0x40}, {4, 0x01}, {42, 3}, {44, 127});
	/* admin queue: 32 entries, KATO 5000 ms = 0x1388 at byte 48 */
	dn_sqe_connect(&c, 0, 32, 5000);
	ASSERT_SQE(&c, {0, 0x7f}, {1, 0x40}, {4, 0x01}, {44, 31}, {48, 0x88}, {49, 0x13});
}

static void test_connect_data(void **state)
{
	struct nvmf_connect_data d;
	uint8_t id[16];
	char big[300];
	int i;

	for (i = 0; i < 16; i++)
		id[i] = (uint8_t)i;
	assert_int_equal(dn_connect_data_init(&d, id, 0xffff, "nqn.sub", "nqn.host"), 0);
	assert_memory_equal(d.hostid, id, 16);
	assert_int_equal(((uint8_t *)&d)[16], 0xff);
	assert_int_equal(((uint8_t *)&d)[17], 0xff);
	assert_string_equal((char *)&d + 256, "nqn.sub");
	assert_string_equal((char *)&d + 512, "nqn.host");
	assert_int_equal(((uint8_t *)&d)[256 + 7], 0);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(dn_connect_data_init(&d, id, 1, big, "h"), -EINVAL);
	big[255] = '\0'; /* 255 characters + NUL fit */
	assert_int_equal(dn_connect_data_init(&d, id, 1, big, "h"), 0);
}

static void test_property(void **state)
{
	struct nvme_sqe c;

	dn_sqe_prop_get(&c, NVMF_PROP_CAP, true);
	ASSERT_SQE(&c, {0, 0x7f}, {1, 0x40}, {4, 0x04}, {40, 1});
	dn_sqe_prop_get(&c, NVMF_PROP_CSTS, false);
	ASSERT_SQE(&c, {0, 0x7f}, {1, 0x40}, {4, 0x04}, {44, 0x1c});
	dn_sqe_prop_set(&c, NVMF_PROP_CC, 0x00460001);
	ASSERT_SQE(&c, {0, 0x7f}, {1, 0x40}, {4, 0x00}, {44, 0x14}, {48, 0x01}, {50, 0x46});
}

static void test_admin(void **state)
{
	struct nvme_sqe c;

	dn_sqe_identify(&c, NVME_IDENTIFY_CNS_NS, 0x01020304);
	ASSERT_SQE(&c, {0, 0x06}, {1, 0x40}, {4, 4}, {5, 3}, {6, 2}, {7, 1});
	dn_sqe_identify(&c, NVME_IDENTIFY_CNS_CTRL, 0);
	ASSERT_SQE(&c, {0, 0x06}, {1, 0x40}, {40, 1});
	/* discovery log, 4096 bytes at offset 0x1_0000_0400: NUMD 1023, LPOL/LPOU */
	dn_sqe_get_log(&c, NVME_LOG_LID_DISCOVER, 0, 0x100000400ull, 4096);
	ASSERT_SQE(&c, {0, 0x02}, {1, 0x40}, {40, 0x70}, {42, 0xff}, {43, 0x03}, {49, 0x04},
		   {52, 1});
	/* NUMD above 16 bits spills into NUMDU (cdw11) */
	dn_sqe_get_log(&c, 0x04, 0xffffffff, 0, 0x40000 * 4 + 4);
	ASSERT_SQE(&c, {0, 0x02}, {1, 0x40}, {4, 0xff}, {5, 0xff}, {6, 0xff}, {7, 0xff}, {40, 0x04},
		   {44, 0x04});
	dn_sqe_set_features(&c, NVME_FEAT_FID_NUM_QUEUES, dn_num_queues_cdw11(4));
	ASSERT_SQE(&c, {0, 0x09}, {1, 0x40}, {40, 0x07}, {44, 3}, {46, 3});
	dn_sqe_keep_alive(&c);
	ASSERT_SQE(&c, {0, 0x18}, {1, 0x40});
	dn_sqe_async_event(&c);
	ASSERT_SQE(&c, {0, 0x0c}, {1, 0x40});
}

static void test_io(void **state)
{
	struct nvme_sqe c;
	struct nvme_dsm_range r;
	static const uint8_t want_range[16] = {0,    0,	   0,	 0,    0x10, 0,	   0,	 0,
					       0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};

	dn_sqe_rw(&c, false, 1, 0x0000000500000010ull, 8);
	ASSERT_SQE(&c, {0, 0x02}, {1, 0x40}, {4, 1}, {40, 0x10}, {44, 0x05}, {48, 7});
	dn_sqe_rw(&c, true, 2, 0, 65536);
	ASSERT_SQE(&c, {0, 0x01}, {1, 0x40}, {4, 2}, {48, 0xff}, {49, 0xff});
	dn_sqe_flush(&c, 1);
	ASSERT_SQE(&c, {0, 0x00}, {1, 0x40}, {4, 1});
	dn_sqe_write_zeroes(&c, 1, 0x20, 2);
	ASSERT_SQE(&c, {0, 0x08}, {1, 0x40}, {4, 1}, {40, 0x20}, {48, 1});
	dn_sqe_dsm_deallocate(&c, 1, 1);
	ASSERT_SQE(&c, {0, 0x09}, {1, 0x40}, {4, 1}, {44, 0x04});
	dn_dsm_range_set(&r, 0x0102030405060708ull, 16);
	assert_memory_equal(&r, want_range, 16);
	/* Reservation Acquire, preempt, Write Exclusive; Report, EDS */
	dn_sqe_resv(&c, nvme_cmd_resv_acquire, 1, 1 | 1 << 8, 0);
	ASSERT_SQE(&c, {0, 0x11}, {1, 0x40}, {4, 1}, {40, 1}, {41, 1});
	dn_sqe_resv(&c, nvme_cmd_resv_report, 3, 1023, 1);
	ASSERT_SQE(&c, {0, 0x0e}, {1, 0x40}, {4, 3}, {40, 0xff}, {41, 0x03}, {44, 1});
}

static void test_num_queues(void **state)
{
	assert_int_equal(dn_num_queues_cdw11(1), 0);
	assert_int_equal(dn_num_queues_cdw11(16), 0x000f000f);
	assert_int_equal(dn_num_queues_granted(0x0007000f), 8);
	assert_int_equal(dn_num_queues_granted(0x003f0003), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),	 cmocka_unit_test(test_connect_data),
		cmocka_unit_test(test_property), cmocka_unit_test(test_admin),
		cmocka_unit_test(test_io),	 cmocka_unit_test(test_num_queues),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
