// SPDX-License-Identifier: MIT
/* Tests for common/status.c: errno <-> NVMe status, CQE status encoding. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/nvme_wire.h"

static void test_errno_to_status(void **state)
{
	assert_int_equal(errno_to_nvme_status(0), 0);
	assert_int_equal(errno_to_nvme_status(-ENOSPC), 0x4181);
	assert_int_equal(errno_to_nvme_status(ENOSPC), 0x4181);
	assert_int_equal(errno_to_nvme_status(-EIO), 0x0280);
	assert_int_equal(errno_to_nvme_status(-EROFS), 0x4020);
	assert_int_equal(errno_to_nvme_status(-EOPNOTSUPP), 0x4001);
	assert_int_equal(errno_to_nvme_status(-ENOMEM), 0x0006);
}

static void test_status_to_errno(void **state)
{
	assert_int_equal(nvme_status_to_errno(0), 0);
	assert_int_equal(nvme_status_to_errno(0x4080), -ERANGE);
	assert_int_equal(nvme_status_to_errno(0x0022), -EAGAIN);
	assert_int_equal(nvme_status_to_errno(0x4184), -EACCES);
	assert_int_equal(nvme_status_to_errno(0x0281), -EIO);
	assert_int_equal(nvme_status_to_errno(0x0285), -EILSEQ);
	/* a fenced host's I/O: what the block layer calls a reservation conflict */
	assert_int_equal(nvme_status_to_errno(0x4083), -EBADE);
	assert_string_equal(nvme_status_str(0x4083), "reservation conflict");
	/* round trip for the codes a backend produces */
	assert_int_equal(nvme_status_to_errno(errno_to_nvme_status(-ENOSPC)), -ENOSPC);
	assert_int_equal(nvme_status_to_errno(errno_to_nvme_status(-EROFS)), -EROFS);
}

static void test_cqe_status(void **state)
{
	struct nvme_cqe c;
	static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x83};

	memset(&c, 0, sizeof(c));
	nvme_cqe_set_status(&c,
			    NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM));
	assert_memory_equal(&c, want, 16);
	assert_int_equal(nvme_cqe_status(&c), 0x4182);
	assert_string_equal(nvme_status_str(0x4182), "connect: invalid parameters");
	assert_string_equal(nvme_status_str(0x4080), "LBA out of range");
}

static void test_rdma_cm_status_str(void **state)
{
	assert_string_equal(nvme_rdma_cm_status_str(NVME_RDMA_CM_INVALID_QID), "invalid queue ID");
	assert_string_equal(nvme_rdma_cm_status_str(NVME_RDMA_CM_INVALID_HSQSIZE),
			    "invalid host send queue size");
	assert_string_equal(nvme_rdma_cm_status_str(0x99), "unknown reason");
}

static void test_connect_offsets(void **state)
{
	/* Connect Invalid Parameters points at the field: as the Linux host decodes it */
	assert_int_equal(NVMF_IPO_IATTR_SQE(qid), 42);
	assert_int_equal(NVMF_IPO_IATTR_SQE(sqsize), 44);
	assert_int_equal(NVMF_IPO_IATTR_DATA(cntlid), 0x10010);
	assert_int_equal(NVMF_IPO_IATTR_DATA(subsysnqn), 0x10100);
	assert_int_equal(NVMF_IPO_IATTR_DATA(hostnqn), 0x10200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_to_status), cmocka_unit_test(test_status_to_errno),
		cmocka_unit_test(test_cqe_status),	cmocka_unit_test(test_rdma_cm_status_str),
		cmocka_unit_test(test_connect_offsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
