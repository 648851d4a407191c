// SPDX-License-Identifier: MIT
/*
 * NVM I/O commands: validation of Read, Write, Compare, Flush, Write Zeroes and Dataset
 * Management (namespace, reservations, write protection, LBA range, MDTS, data length) before
 * the namespace's backend runs them; the Reservation commands themselves are in pr.c. This is
 * the I/O path: no allocation, and no lock unless a reservation is held (pr.c's check).
 */
#include <string.h>

#include "target/core_internal.h"

#define DN_RW_FUA (1u << 30)

static void dn_io_execute(struct dn_tgt_req *req)
{
	req->ns->be->submit(req);
}

static nvme_status_t dn_io_check_lba(const struct dn_tgt_ns *ns, uint64_t slba, uint64_t nlb)
{
	if (slba >= ns->nlbas || nlb > ns->nlbas - slba)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_LBA_RANGE);
	return 0;
}

static uint64_t dn_io_slba(const struct nvme_sqe *sqe)
{
	return (uint64_t)dn_sqe_cdw(sqe, 11) << 32 | dn_sqe_cdw(sqe, 10);
}

static nvme_status_t dn_io_parse_rw(struct dn_tgt_req *req, bool write, enum dn_xfer_dir dir)
{
	struct dn_tgt_ns *ns = req->ns;
	uint64_t nlb = (dn_sqe_cdw(req->sqe, 12) & 0xffff) + 1;
	uint64_t len = nlb << ns->lba_shift;
	nvme_status_t st;

	if (write && ns->read_only)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED);
	st = dn_io_check_lba(ns, dn_io_slba(req->sqe), nlb);
	if (st)
		return st;
	if (len > dn_tgt_max_xfer())
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD); /* over MDTS */
	req->dir = dir;
	req->data_len = (uint32_t)len;
	return 0;
}

static nvme_status_t dn_io_parse_read(struct dn_tgt_req *req)
{
	struct dn_tgt_ns *ns = req->ns;
	nvme_status_t st = dn_io_parse_rw(req, false, DN_XFER_C2H);

	if (!st) {
		atomic_fetch_add_explicit(&ns->read_cmds, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&ns->units_read, req->data_len >> 9,
					  memory_order_relaxed);
	}
	return st;
}

static nvme_status_t dn_io_parse_write(struct dn_tgt_req *req)
{
	struct dn_tgt_ns *ns = req->ns;
	nvme_status_t st = dn_io_parse_rw(req, true, DN_XFER_H2C);

	if (!st) {
		atomic_fetch_add_explicit(&ns->write_cmds, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&ns->units_written, req->data_len >> 9,
					  memory_order_relaxed);
	}
	return st;
}

static nvme_status_t dn_io_parse_compare(struct dn_tgt_req *req)
{
	return dn_io_parse_rw(req, false, DN_XFER_H2C);
}

static nvme_status_t dn_io_parse_flush(struct dn_tgt_req *req)
{
	return 0;
}

static nvme_status_t dn_io_parse_write_zeroes(struct dn_tgt_req *req)
{
	uint64_t nlb = (dn_sqe_cdw(req->sqe, 12) & 0xffff) + 1;

	if (req->ns->read_only)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED);
	return dn_io_check_lba(req->ns, dn_io_slba(req->sqe), nlb);
}

static nvme_status_t dn_io_parse_dsm(struct dn_tgt_req *req)
{
	/* deallocate writes; attribute-only hints are harmless on read-only data */
	if (req->ns->read_only && (dn_sqe_cdw(req->sqe, 11) & NVME_DSMGMT_AD))
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_NS_WRITE_PROTECTED);
	req->dir = DN_XFER_H2C;
	req->data_len =
		((dn_sqe_cdw(req->sqe, 10) & 0xff) + 1) * (uint32_t)sizeof(struct nvme_dsm_range);
	/* NR names the ranges, but the Linux host always sends room for all 256: take it */
	req->data_max = 256 * (uint32_t)sizeof(struct nvme_dsm_range);
	return 0;
}

static nvme_status_t (*const dn_io_parsers[256])(struct dn_tgt_req *req) = {
	[nvme_cmd_flush] = dn_io_parse_flush,
	[nvme_cmd_write] = dn_io_parse_write,
	[nvme_cmd_read] = dn_io_parse_read,
	[nvme_cmd_compare] = dn_io_parse_compare,
	[nvme_cmd_write_zeroes] = dn_io_parse_write_zeroes,
	[nvme_cmd_dsm] = dn_io_parse_dsm,
	[nvme_cmd_resv_register] = dn_tgt_pr_parse,
	[nvme_cmd_resv_report] = dn_tgt_pr_parse,
	[nvme_cmd_resv_acquire] = dn_tgt_pr_parse,
	[nvme_cmd_resv_release] = dn_tgt_pr_parse,
};

/* The reservation command groups: 1 Read, 2 Write (the Reservation commands check themselves). */
static const uint8_t dn_io_pr_group[256] = {
	[nvme_cmd_read] = 1,  [nvme_cmd_compare] = 1,	   [nvme_cmd_write] = 2,
	[nvme_cmd_flush] = 2, [nvme_cmd_write_zeroes] = 2, [nvme_cmd_dsm] = 2,
};

/*
 * Count the command in the namespace's current epoch. Sequentially consistent, and in this
 * order, against pr.c's Preempt and Abort (reservation changed, epoch moved on, old slot
 * drained): a command either counts in the slot that is drained or sees the new reservation
 * in its check. If the epoch moved between the load and the count, count again.
 */
static void dn_io_ns_get(struct dn_tgt_req *req, struct dn_tgt_ns *ns)
{
	unsigned int e = atomic_load(&ns->inflight_epoch), now;

	for (;;) {
		atomic_fetch_add(&ns->inflight[e & 1], 1);
		now = atomic_load(&ns->inflight_epoch);
		if (now == e)
			break;
		atomic_fetch_sub(&ns->inflight[e & 1], 1);
		e = now;
	}
	req->ns_slot = e & 1;
}

nvme_status_t dn_tgt_parse_io(struct dn_tgt_req *req)
{
	nvme_status_t (*parse)(struct dn_tgt_req * req) = dn_io_parsers[req->sqe->opcode];
	struct dn_tgt_ns *ns;
	nvme_status_t st;

	if (!parse)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	ns = dn_tgt_ns_lookup(req->queue->ctrl->subsys, le32toh(req->sqe->common.nsid));
	if (!ns)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS);
	/* a reload may retire the namespace: it stays open while commands hold it */
	dn_io_ns_get(req, ns);
	req->ns = ns;
	req->execute = dn_io_execute;
	/* as nvmet: a reservation conflict comes before the command's own checks */
	if (dn_io_pr_group[req->sqe->opcode]) {
		st = dn_tgt_pr_check(req, dn_io_pr_group[req->sqe->opcode] == 2);
		if (st)
			return st;
	}
	return parse(req);
}
