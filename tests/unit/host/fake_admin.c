// SPDX-License-Identifier: MIT
/* Test helper: a fake controller's fabrics commands and Identify Controller (fake_admin.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "fake_admin.h"

void fake_admin_init(struct fake_admin *fa, const char *subnqn)
{
	memset(fa, 0, sizeof(*fa));
	fa->cntlid = 7;
	/* MQES 127 (0's based), CQR, TO 1 (500 ms), MPSMIN 0 */
	fa->cap = 127 | 1ull << 16 | 1ull << 24;
	fa->rdy_after = 2;
	fa->id.mdts = 5;
	fa->id.ioccsz = htole32((64 + 8192) / 16);
	fa->id.oncs = htole16(NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES);
	fa->id.vwc = NVME_CTRL_VWC_PRESENT;
	strncpy(fa->id.subnqn, subnqn, sizeof(fa->id.subnqn) - 1);
}

static uint64_t fake_csts(struct fake_admin *fa)
{
	uint64_t csts = 0;

	fa->csts_reads++;
	if (fa->cfs)
		csts |= NVME_CSTS_CFS_MASK << NVME_CSTS_CFS_SHIFT;
	if (fa->cc & (NVME_CC_SHN_MASK << NVME_CC_SHN_SHIFT)) {
		if (fa->shst_after-- <= 0)
			csts |= (uint64_t)NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT;
		return csts | 1; /* still ready */
	}
	if (fa->rdy_after > 0)
		fa->rdy_after--;
	else if (fa->rdy_after == 0 && (fa->cc & 1))
		csts |= 1;
	return csts;
}

bool fake_admin_exec(struct fake_admin *fa, const struct nvme_sqe *sqe, void *data, uint32_t len,
		     bool to_ctrl, struct nvme_cqe *cqe, nvme_status_t *st)
{
	if (sqe->opcode == nvme_admin_identify &&
	    (le32toh(sqe->common.cdw10) & 0xff) == NVME_IDENTIFY_CNS_CTRL) {
		assert_int_equal(len, sizeof(fa->id));
		memcpy(data, &fa->id, sizeof(fa->id));
		*st = 0;
		return true;
	}
	if (sqe->opcode != NVME_FABRICS_OPCODE)
		return false;
	*st = 0;
	switch (sqe->fabrics.fctype) {
	case nvme_fabrics_type_connect:
		assert_true(to_ctrl);
		assert_int_equal(len, sizeof(fa->connect_data));
		memcpy(&fa->connect_data, data, sizeof(fa->connect_data));
		fa->connect_qid = le16toh(sqe->connect.qid);
		fa->connect_sqsize = le16toh(sqe->connect.sqsize);
		fa->connect_kato = le32toh(sqe->connect.kato);
		*st = fa->connect_st;
		cqe->result.u32 = htole32(fa->connect_st ? fa->connect_ipo : fa->cntlid);
		break;
	case nvme_fabrics_type_property_get:
		if (le32toh(sqe->prop.offset) == NVMF_PROP_CAP) {
			assert_int_equal(sqe->prop.attrib & 7, 1);
			cqe->result.u64 = htole64(fa->cap);
		} else {
			assert_int_equal(le32toh(sqe->prop.offset), NVMF_PROP_CSTS);
			cqe->result.u64 = htole64(fake_csts(fa));
		}
		break;
	case nvme_fabrics_type_property_set:
		assert_int_equal(le32toh(sqe->prop.offset), NVMF_PROP_CC);
		fa->cc = (uint32_t)le64toh(sqe->prop.value);
		fa->cc_sets++;
		break;
	default:
		fail_msg("unexpected fabrics command 0x%x", sqe->fabrics.fctype);
	}
	return true;
}
