// SPDX-License-Identifier: MIT
/*
 * The discovery controller (nqn.2014-08.org.nvmexpress.discovery): its admin command set,
 * its Identify Controller data and the discovery log page listing, for the connected host,
 * every (port, subsystem) pair that host is allowed to connect to.
 */
#include <string.h>

#include "common/log.h"
#include "discovery/disc_log.h"
#include "target/core_internal.h"

static void dn_disc_identify(struct dn_tgt_req *req)
{
	struct nvme_id_ctrl *id = req->data;
	uint8_t cns = dn_sqe_cdw(req->sqe, 10) & 0xff;

	if (cns != NVME_IDENTIFY_CNS_CTRL) {
		dn_req_complete(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
		return;
	}
	dn_tgt_fill_id_ctrl_common(req, id);
	id->oaes = htole32(NVME_CTRL_OAES_DL);
	id->cntrltype = NVME_CTRL_CNTRLTYPE_DISCOVERY;
	dn_req_complete(req, 0);
}

static void dn_disc_tsas(const struct dn_tgt_queue *q, const struct dn_tgt_port *port,
			 union nvmf_tsas *tsas)
{
	memset(tsas, 0, sizeof(*tsas));
	if (q->ops->disc_tsas && q->ops->trtype == port->trtype) {
		q->ops->disc_tsas(port, tsas);
	} else if (port->trtype == NVMF_TRTYPE_RDMA) {
		tsas->rdma.qptype = NVMF_RDMA_QPTYPE_CONNECTED;
		tsas->rdma.prtype = NVMF_RDMA_PRTYPE_NOT_SPECIFIED;
		tsas->rdma.cms = NVMF_RDMA_CMS_RDMA_CM;
	}
}

void dn_tgt_exec_disc_log(struct dn_tgt_req *req)
{
	struct dn_tgt_queue *q = req->queue;
	struct dn_tgt_ctrl *ctrl = q->ctrl;
	bool rae = dn_sqe_cdw(req->sqe, 10) & (1u << 15);
	uint64_t off = dn_tgt_log_offset(req->sqe);
	struct dn_disc_log_window w;
	uint64_t numrec = 0;
	size_t p, s;

	dn_disc_log_window_init(&w, req->data, req->data_len, off);
	pthread_mutex_lock(&dn_tgt.lock);
	for (p = 0; p < dn_tgt.nr_ports; p++) {
		const struct dn_tgt_port *port = &dn_tgt.ports[p];

		for (s = 0; s < dn_tgt.nr_subsys; s++) {
			const struct dn_tgt_subsys *sub = dn_tgt.subsys[s];
			struct nvmf_disc_log_entry e;
			union nvmf_tsas tsas;

			if (sub->is_discovery || !dn_tgt_subsys_host_allowed(sub, ctrl->hostnqn))
				continue;
			dn_disc_tsas(q, port, &tsas);
			/* lengths were checked when the configuration was loaded */
			dn_disc_log_entry_fill(&e, port->trtype, port->adrfam, NVME_NQN_NVME,
					       NVMF_TREQ_NOT_SPECIFIED, port->portid, port->traddr,
					       port->trsvcid, sub->nqn, &tsas);
			dn_disc_log_put_entry(&w, numrec++, &e);
		}
	}
	dn_disc_log_put_header(&w, dn_tgt.disc_genctr, numrec);
	if (!rae)
		ctrl->aen_masked &= ~(1u << (NVME_LOG_LID_DISCOVER & 31));
	pthread_mutex_unlock(&dn_tgt.lock);
	if (off >= dn_disc_log_size(numrec)) {
		dn_req_complete(req, NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD));
		return;
	}
	dn_req_complete(req, 0);
}

static void dn_disc_get_log(struct dn_tgt_req *req)
{
	uint8_t lid = dn_sqe_cdw(req->sqe, 10) & 0xff;

	if (lid != NVME_LOG_LID_DISCOVER) {
		dn_req_complete(req,
				NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE));
		return;
	}
	dn_tgt_exec_disc_log(req);
}

nvme_status_t dn_tgt_parse_discovery_admin(struct dn_tgt_req *req)
{
	switch (req->sqe->opcode) {
	case nvme_admin_identify:
		req->execute = dn_disc_identify;
		req->dir = DN_XFER_C2H;
		req->data_len = NVME_IDENTIFY_DATA_SIZE;
		return 0;
	case nvme_admin_get_log_page:
		req->execute = dn_disc_get_log;
		return dn_tgt_parse_get_log(req);
	case nvme_admin_set_features:
	case nvme_admin_get_features:
		return dn_tgt_parse_features(req, true);
	case nvme_admin_async_event:
		req->execute = dn_tgt_exec_aer;
		return 0;
	case nvme_admin_keep_alive:
		req->execute = dn_tgt_exec_keep_alive;
		return 0;
	}
	return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
}
