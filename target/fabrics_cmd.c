// SPDX-License-Identifier: MIT
/*
 * Fabrics commands (opcode 0x7f): Connect on admin and I/O queues with every check the
 * Connect data and SQE deserve, Property Get/Set (CAP, VS, CC, CSTS and the enable and
 * shutdown handshake), Disconnect.
 */
#include <string.h>

#include "common/log.h"
#include "target/core_internal.h"

#define DN_STATUS_CONNECT_INVALID_PARAM \
	NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM)

static uint64_t dn_tgt_cap(const struct dn_tgt_ctrl *ctrl)
{
	uint64_t mqes =
		ctrl->subsys->is_discovery ? NVME_AQ_DEPTH_MAX - 1 : dn_tgt_max_queue_size() - 1u;

	return mqes << NVME_CAP_MQES_SHIFT | 1ull << NVME_CAP_CQR_SHIFT |
	       (uint64_t)DN_TGT_CAP_TO << NVME_CAP_TO_SHIFT |
	       (uint64_t)NVME_CAP_CSS_NVM << NVME_CAP_CSS_SHIFT;
}

/* Refuse a Connect: status, and in DW0 where the offending field is. */
static void dn_connect_refuse(struct dn_tgt_req *req, nvme_status_t st, uint32_t ipo,
			      const char *why)
{
	const struct nvmf_connect_data *d = req->data;
	bool nqns_ok = req->data_len == sizeof(*d) &&
		       nvme_wire_str_ok(d->hostnqn, sizeof(d->hostnqn)) &&
		       nvme_wire_str_ok(d->subsysnqn, sizeof(d->subsysnqn));

	dn_warn("%s: Connect refused (qid %u, host %s, subsystem %s): %s", req->queue->peer_addr,
		le16toh(req->sqe->connect.qid), nqns_ok ? d->hostnqn : "?",
		nqns_ok ? d->subsysnqn : "?", why);
	if (NVME_STATUS_SC(st) == NVME_SC_CONNECT_INVALID_PARAM ||
	    NVME_STATUS_SC(st) == NVME_SC_CONNECT_INVALID_HOST)
		req->cqe->result.u32 = htole32(ipo);
	dn_req_complete(req, st);
}

static void dn_exec_connect(struct dn_tgt_req *req)
{
	const struct nvmf_connect_data *d = req->data;
	const struct nvme_sqe *sqe = req->sqe;
	struct dn_tgt_queue *q = req->queue;
	uint16_t qid = le16toh(sqe->connect.qid);
	uint16_t sqsize = le16toh(sqe->connect.sqsize);
	uint16_t cntlid = le16toh(d->cntlid);
	struct dn_tgt_subsys *subsys;
	struct dn_tgt_ctrl *ctrl;

	if (le16toh(sqe->connect.recfmt) != 0) {
		dn_connect_refuse(req,
				  NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_FORMAT), 0,
				  "unknown record format");
		return;
	}
	if (!nvme_wire_str_ok(d->subsysnqn, sizeof(d->subsysnqn))) {
		dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM,
				  NVMF_IPO_IATTR_DATA(subsysnqn), "SUBNQN not NUL-terminated");
		return;
	}
	if (!nvme_wire_str_ok(d->hostnqn, sizeof(d->hostnqn))) {
		dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM,
				  NVMF_IPO_IATTR_DATA(hostnqn), "HOSTNQN not NUL-terminated");
		return;
	}
	if (qid != q->qid || qid > DN_TGT_MAX_IO_QUEUES) {
		dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM, NVMF_IPO_IATTR_SQE(qid),
				  "QID does not match the transport's queue");
		return;
	}
	if (sqsize == 0 || sqsize >= q->size ||
	    sqsize >= (qid ? dn_tgt_max_queue_size() : NVME_AQ_DEPTH_MAX)) {
		dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM, NVMF_IPO_IATTR_SQE(sqsize),
				  "SQSIZE out of bounds");
		return;
	}

	pthread_mutex_lock(&dn_tgt.lock);
	subsys = dn_tgt_subsys_find(d->subsysnqn);
	if (!subsys) {
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM,
				  NVMF_IPO_IATTR_DATA(subsysnqn), "no such subsystem");
		return;
	}
	if (!dn_tgt_subsys_host_allowed(subsys, d->hostnqn)) {
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_connect_refuse(
			req, NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST),
			NVMF_IPO_IATTR_DATA(hostnqn), "host not allowed");
		return;
	}

	if (qid == 0) {
		if (cntlid != 0xffff) {
			pthread_mutex_unlock(&dn_tgt.lock);
			dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM,
					  NVMF_IPO_IATTR_DATA(cntlid),
					  "CNTLID must be FFFFh (dynamic controllers)");
			return;
		}
		ctrl = dn_tgt_ctrl_create(subsys, q, d, le32toh(sqe->connect.kato));
		pthread_mutex_unlock(&dn_tgt.lock);
		if (!ctrl) {
			dn_connect_refuse(
				req,
				NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY),
				0, "no controller ID or memory left");
			return;
		}
		req->cqe->result.u32 = htole32(ctrl->cntlid);
		dn_req_complete(req, 0);
		return;
	}

	for (ctrl = subsys->ctrls; ctrl; ctrl = ctrl->next)
		if (ctrl->cntlid == cntlid)
			break;
	if (!ctrl || ctrl->dying || strcmp(ctrl->hostnqn, d->hostnqn) ||
	    memcmp(ctrl->hostid, d->hostid, sizeof(d->hostid))) {
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM, NVMF_IPO_IATTR_DATA(cntlid),
				  "no live controller with this CNTLID for this host");
		return;
	}
	if (ctrl->nr_io_queues && qid > ctrl->nr_io_queues) {
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_connect_refuse(req, DN_STATUS_CONNECT_INVALID_PARAM, NVMF_IPO_IATTR_SQE(qid),
				  "QID above the number of queues granted");
		return;
	}
	if (!(ctrl->csts & NVME_CSTS_RDY_MASK) || ctrl->queues[qid]) {
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_connect_refuse(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR), 0,
				  ctrl->queues[qid] ? "queue already connected"
						    : "controller not enabled");
		return;
	}
	ctrl->queues[qid] = q;
	ctrl->nr_queues++;
	q->ctrl = ctrl;
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_info("controller %u: I/O queue %u connected (%u entries)", ctrl->cntlid, qid,
		sqsize + 1);
	req->cqe->result.u32 = htole32(ctrl->cntlid);
	dn_req_complete(req, 0);
}

static void dn_exec_prop_get(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	bool eight = req->sqe->prop.attrib & 1;
	uint32_t off = le32toh(req->sqe->prop.offset);
	uint64_t val;

	pthread_mutex_lock(&dn_tgt.lock);
	switch (off) {
	case NVMF_PROP_CAP:
		val = dn_tgt_cap(ctrl);
		break;
	case NVMF_PROP_VS:
		val = DN_TGT_VS;
		break;
	case NVMF_PROP_CC:
		val = ctrl->cc;
		break;
	case NVMF_PROP_CSTS:
		val = ctrl->csts;
		break;
	default:
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_req_complete(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
		return;
	}
	pthread_mutex_unlock(&dn_tgt.lock);
	/* CAP is the one 8-byte property; the rest are 4 bytes wide */
	if (eight != (off == NVMF_PROP_CAP)) {
		dn_req_complete(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
		return;
	}
	req->cqe->result.u64 = htole64(val);
	dn_req_complete(req, 0);
}

/* Caller holds the lock. */
static void dn_ctrl_update_cc(struct dn_tgt_ctrl *ctrl, uint32_t cc)
{
	uint32_t old = ctrl->cc;

	ctrl->cc = cc;
	if (NVME_CC_EN(cc) && !NVME_CC_EN(old)) {
		if (NVME_CC_IOSQES(cc) != 6 || NVME_CC_IOCQES(cc) != 4 || NVME_CC_MPS(cc) != 0 ||
		    NVME_CC_AMS(cc) != NVME_CC_AMS_RR || NVME_CC_CSS(cc) != NVME_CC_CSS_NVM) {
			ctrl->csts = NVME_CSTS_CFS_MASK << NVME_CSTS_CFS_SHIFT;
			dn_warn("controller %u: invalid CC 0x%08x at enable", ctrl->cntlid, cc);
		} else {
			ctrl->csts = NVME_CSTS_RDY_MASK << NVME_CSTS_RDY_SHIFT;
		}
	} else if (!NVME_CC_EN(cc) && NVME_CC_EN(old)) {
		ctrl->csts &= ~(NVME_CSTS_RDY_MASK << NVME_CSTS_RDY_SHIFT);
	}
	if (NVME_CC_SHN(cc) && !NVME_CC_SHN(old))
		ctrl->csts |= NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT;
	else if (!NVME_CC_SHN(cc) && NVME_CC_SHN(old))
		ctrl->csts &= ~(NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT);
}

static void dn_exec_prop_set(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	uint32_t off = le32toh(req->sqe->prop.offset);

	if (off != NVMF_PROP_CC || (req->sqe->prop.attrib & 1)) {
		dn_req_complete(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
		return;
	}
	pthread_mutex_lock(&dn_tgt.lock);
	dn_ctrl_update_cc(ctrl, (uint32_t)le64toh(req->sqe->prop.value));
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_req_complete(req, 0);
}

static void dn_exec_disconnect(struct dn_tgt_req *req)
{
	struct dn_tgt_queue *q = req->queue;
	struct dn_tgt_ctrl *ctrl = q->ctrl;

	dn_req_complete(req, 0);
	/* the response is queued ahead of the teardown, which drains it */
	if (q->qid == 0)
		dn_tgt_ctrl_kill(ctrl, "Disconnect on the admin queue");
	else
		dn_tgt_queue_lost(q);
}

nvme_status_t dn_tgt_parse_fabrics(struct dn_tgt_req *req)
{
	struct dn_tgt_queue *q = req->queue;
	uint8_t fctype = req->sqe->fabrics.fctype;

	if (fctype == nvme_fabrics_type_connect) {
		if (q->ctrl)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
		req->execute = dn_exec_connect;
		req->dir = DN_XFER_H2C;
		req->data_len = NVME_CONNECT_DATA_SIZE;
		return 0;
	}
	if (!q->ctrl)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	switch (fctype) {
	case nvme_fabrics_type_property_get:
		if (q->qid)
			break;
		req->execute = dn_exec_prop_get;
		return 0;
	case nvme_fabrics_type_property_set:
		if (q->qid)
			break;
		req->execute = dn_exec_prop_set;
		return 0;
	case nvme_fabrics_type_disconnect:
		req->execute = dn_exec_disconnect;
		return 0;
	}
	return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
}
