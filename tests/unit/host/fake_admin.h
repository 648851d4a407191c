/* SPDX-License-Identifier: MIT */
/*
 * Test helper: the part of a fake NVMe-oF controller that every host controller test needs,
 * the fabrics commands (Connect, Property Get/Set with the CC/CSTS enable and shutdown
 * handshakes) and Identify Controller. Each test keeps its own fake admin queue (its
 * dn_hq_exec() wrapper) and hands these commands here. The wire checks are cmocka asserts.
 */
#ifndef DISNVME_TESTS_UNIT_HOST_FAKE_ADMIN_H
#define DISNVME_TESTS_UNIT_HOST_FAKE_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/nvme_wire.h"

struct fake_admin {
	/* Connect */
	nvme_status_t connect_st;
	uint32_t connect_ipo;
	uint16_t cntlid;
	struct nvmf_connect_data connect_data;
	uint16_t connect_qid, connect_sqsize;
	uint32_t connect_kato;
	/* properties */
	uint64_t cap;
	uint32_t cc;
	int cc_sets;
	int rdy_after; /* CSTS reads before RDY is set (-1: never) */
	bool cfs;
	int shst_after; /* CSTS reads after CC.SHN before the shutdown is complete */
	int csts_reads;
	/* Identify */
	struct nvme_id_ctrl id;
};

/*
 * Zeroed, then a controller that works: controller ID 7, CAP with MQES 127 and TO 1 (500 ms),
 * ready on the third CSTS read, Identify with MDTS 5, 8 KiB in-capsule data, DSM and Write
 * Zeroes, a volatile write cache, and subnqn.
 */
void fake_admin_init(struct fake_admin *fa, const char *subnqn);
/*
 * A fabrics command or Identify Controller: answered into *cqe (result) and *st, true. Any
 * other command: false, nothing touched.
 */
bool fake_admin_exec(struct fake_admin *fa, const struct nvme_sqe *sqe, void *data, uint32_t len,
		     bool to_ctrl, struct nvme_cqe *cqe, nvme_status_t *st);

#endif
