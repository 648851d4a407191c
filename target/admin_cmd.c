// SPDX-License-Identifier: MIT
/*
 * Admin commands of NVM subsystem controllers: Identify (controller, namespace, active
 * namespace list, namespace identification descriptors, NVM command set controller), Get Log
 * Page (error, SMART/health, firmware slot, changed namespace list, command effects),
 * Get/Set Features, Asynchronous Event Request, Keep Alive, Abort. Dispatched by opcode.
 */
#include <string.h>

#include "common/log.h"
#include "target/core_internal.h"

#define DN_STATUS_INVALID_FIELD NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD)
#define DN_STATUS_INVALID_NS	NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS)

/* ASCII fields of Identify are space padded, not NUL terminated. */
void dn_tgt_copy_padded(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n);

	memcpy(dst, src, len);
	memset(dst + len, ' ', n - len);
}

uint64_t dn_tgt_log_offset(const struct nvme_sqe *sqe)
{
	return (uint64_t)dn_sqe_cdw(sqe, 13) << 32 | dn_sqe_cdw(sqe, 12);
}

/* Fields shared by the discovery and the NVM subsystem controllers. */
void dn_tgt_fill_id_ctrl_common(struct dn_tgt_req *req, struct nvme_id_ctrl *id)
{
	const struct dn_tgt_queue *q = req->queue;
	const struct dn_tgt_ctrl *ctrl = q->ctrl;
	const struct dn_tgt_subsys *s = ctrl->subsys;
	uint32_t sgls = 1; /* SGLs supported, no alignment requirement */

	memset(id, 0, sizeof(*id));
	dn_tgt_copy_padded(id->sn, sizeof(id->sn), s->serial);
	dn_tgt_copy_padded(id->mn, sizeof(id->mn), s->model);
	dn_tgt_copy_padded(id->fr, sizeof(id->fr), DN_TGT_FR);
	id->mdts = dn_tgt_mdts();
	id->cntlid = htole16(ctrl->cntlid);
	id->ver = htole32(DN_TGT_VS);
	id->ctratt = htole32(NVME_CTRL_CTRATT_128_ID | NVME_CTRL_CTRATT_TBKAS);
	id->lpa = NVME_CTRL_LPA_EXTENDED;
	id->elpe = DN_TGT_ERR_LOG_SLOTS - 1;
	id->aerl = DN_TGT_AERL - 1;
	id->kas = htole16(DN_TGT_KAS);
	id->maxcmd = htole16(s->is_discovery ? NVME_AQ_DEPTH_MAX : dn_tgt_max_queue_size());
	if (q->ops->keyed_sgl)
		sgls |= NVME_CTRL_SGLS_KEYED;
	if (q->ops->max_incapsule)
		sgls |= NVME_CTRL_SGLS_OFFSET;
	id->sgls = htole32(sgls);
	memcpy(id->subnqn, s->nqn, strnlen(s->nqn, sizeof(id->subnqn) - 1));
	/* fabrics: in-capsule data after the 64-byte SQE, 16-byte responses, one descriptor */
	id->ioccsz = htole32((uint32_t)(sizeof(struct nvme_sqe) + q->ops->max_incapsule) / 16);
	id->iorcsz = htole32(sizeof(struct nvme_cqe) / 16);
	id->icdoff = 0;
	id->msdbd = 1;
}

/* ---- Identify ---- */

static void dn_identify_ctrl(struct dn_tgt_req *req, struct nvme_id_ctrl *id)
{
	dn_tgt_fill_id_ctrl_common(req, id);
	id->rab = 6;
	id->cmic = NVME_CTRL_CMIC_MULTI_CTRL;
	id->oaes = htole32(NVME_CTRL_OAES_NA);
	id->cntrltype = NVME_CTRL_CNTRLTYPE_IO;
	id->acl = 3;
	id->frmw = 1 << 1 | 1; /* one slot, read only */
	id->sqes = 6 << 4 | 6;
	id->cqes = 4 << 4 | 4;
	id->nn = htole32(DN_TGT_MAX_NSID);
	id->mnan = htole32(DN_TGT_MAX_NSID);
	id->oncs = htole16(NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM |
			   NVME_CTRL_ONCS_WRITE_ZEROES | NVME_CTRL_ONCS_RESERVATIONS);
	id->vwc = NVME_CTRL_VWC_PRESENT;
}

static void dn_identify_ns(const struct dn_tgt_ns *ns, struct nvme_id_ns *id)
{
	memset(id, 0, sizeof(*id));
	id->nsze = htole64(ns->nlbas);
	id->ncap = htole64(ns->nlbas);
	id->nuse = htole64(ns->nlbas);
	id->nlbaf = 0;
	id->flbas = 0;
	id->nmic = NVME_NS_NMIC_SHARED;
	/* every type; IEKEY as NVMe 1.3 defines it; PTPL with a ptpl_file */
	id->rescap = NVME_NS_RESCAP_WE | NVME_NS_RESCAP_EA | NVME_NS_RESCAP_WERO |
		     NVME_NS_RESCAP_EARO | NVME_NS_RESCAP_WEAR | NVME_NS_RESCAP_EAAR |
		     NVME_NS_RESCAP_IEK_13 | (ns->pr.ptpl_file ? NVME_NS_RESCAP_PTPL : 0);
	id->dlfeat = ns->dlfeat;
	id->nsattr = ns->read_only ? 1 : 0;
	memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
	memcpy(id->eui64, ns->eui64, sizeof(id->eui64));
	id->lbaf[0].ds = ns->lba_shift;
	id->lbaf[0].rp = 0;
}

static size_t dn_ns_desc_put(uint8_t *p, uint8_t type, const void *val, uint8_t len)
{
	struct nvme_ns_id_desc *d = (struct nvme_ns_id_desc *)p;

	d->nidt = type;
	d->nidl = len;
	memcpy(d->nid, val, len);
	return sizeof(*d) + len;
}

static void dn_exec_identify(struct dn_tgt_req *req)
{
	struct dn_tgt_subsys *s = req->queue->ctrl->subsys;
	uint32_t cdw10 = dn_sqe_cdw(req->sqe, 10);
	uint8_t cns = cdw10 & 0xff;
	uint8_t csi = dn_sqe_cdw(req->sqe, 11) >> 24;
	uint32_t nsid = le32toh(req->sqe->common.nsid);
	struct dn_tgt_ns *ns;
	uint8_t *buf = req->data;

	memset(buf, 0, NVME_IDENTIFY_DATA_SIZE);
	switch (cns) {
	case NVME_IDENTIFY_CNS_CTRL:
		dn_identify_ctrl(req, req->data);
		break;
	case NVME_IDENTIFY_CNS_NS:
		if (nsid == 0 || nsid > DN_TGT_MAX_NSID) {
			dn_req_complete(req, DN_STATUS_INVALID_NS);
			return;
		}
		ns = dn_tgt_ns_lookup(s, nsid);
		if (ns)
			dn_identify_ns(ns, req->data);
		/* an inactive NSID in range: a zero-filled structure */
		break;
	case NVME_IDENTIFY_CNS_NS_ACTIVE_LIST: {
		uint32_t *list = req->data;
		unsigned int n = 0, i;

		if (nsid >= 0xfffffffe) {
			dn_req_complete(req, DN_STATUS_INVALID_NS);
			return;
		}
		for (i = nsid + 1; i <= DN_TGT_MAX_NSID && n < NVME_ID_NS_LIST_MAX; i++)
			if (dn_tgt_ns_lookup(s, i))
				list[n++] = htole32(i);
		break;
	}
	case NVME_IDENTIFY_CNS_NS_DESC_LIST: {
		uint8_t csi_nvm = NVME_CSI_NVM;
		size_t off = 0;

		ns = dn_tgt_ns_lookup(s, nsid);
		if (!ns) {
			dn_req_complete(req, DN_STATUS_INVALID_NS);
			return;
		}
		off += dn_ns_desc_put(buf + off, NVME_NIDT_EUI64, ns->eui64, NVME_NIDT_EUI64_LEN);
		off += dn_ns_desc_put(buf + off, NVME_NIDT_NGUID, ns->nguid, NVME_NIDT_NGUID_LEN);
		off += dn_ns_desc_put(buf + off, NVME_NIDT_UUID, ns->uuid, NVME_NIDT_UUID_LEN);
		dn_ns_desc_put(buf + off, NVME_NIDT_CSI, &csi_nvm, NVME_NIDT_CSI_LEN);
		break;
	}
	case NVME_IDENTIFY_CNS_CSI_CTRL:
		/* NVM command set: no Write Zeroes, DSM or Verify limits beyond MDTS */
		if (csi != NVME_CSI_NVM) {
			dn_req_complete(req, DN_STATUS_INVALID_FIELD);
			return;
		}
		break;
	default:
		dn_req_complete(req, DN_STATUS_INVALID_FIELD);
		return;
	}
	dn_req_complete(req, 0);
}

static nvme_status_t dn_parse_identify(struct dn_tgt_req *req)
{
	req->execute = dn_exec_identify;
	req->dir = DN_XFER_C2H;
	req->data_len = NVME_IDENTIFY_DATA_SIZE;
	return 0;
}

/* ---- Get Log Page ---- */

nvme_status_t dn_tgt_parse_get_log(struct dn_tgt_req *req)
{
	uint32_t cdw10 = dn_sqe_cdw(req->sqe, 10), cdw11 = dn_sqe_cdw(req->sqe, 11);
	uint64_t numd = ((uint64_t)(cdw11 & 0xffff) << 16 | cdw10 >> 16) + 1;
	uint64_t len = numd * 4;

	if (len > dn_tgt_max_xfer() || (dn_tgt_log_offset(req->sqe) & 3))
		return DN_STATUS_INVALID_FIELD;
	req->dir = DN_XFER_C2H;
	req->data_len = (uint32_t)len;
	return 0;
}

/* Copy the [LPO, LPO + data_len) window of a log page of size bytes into the response. */
static nvme_status_t dn_log_copy(struct dn_tgt_req *req, const void *log, size_t size)
{
	uint64_t off = dn_tgt_log_offset(req->sqe);
	size_t n;

	if (off >= size)
		return DN_STATUS_INVALID_FIELD;
	n = size - off < req->data_len ? size - off : req->data_len;
	memcpy(req->data, (const uint8_t *)log + off, n);
	memset((uint8_t *)req->data + n, 0, req->data_len - n);
	return 0;
}

static void dn_put_le128(uint8_t dst[16], uint64_t v)
{
	uint64_t le = htole64(v);

	memset(dst, 0, 16);
	memcpy(dst, &le, sizeof(le));
}

static nvme_status_t dn_log_error(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	struct nvme_error_log_page log[DN_TGT_ERR_LOG_SLOTS];
	unsigned int i, n;

	memset(log, 0, sizeof(log));
	pthread_mutex_lock(&ctrl->err_lock);
	n = ctrl->err_count < DN_TGT_ERR_LOG_SLOTS ? (unsigned int)ctrl->err_count
						   : DN_TGT_ERR_LOG_SLOTS;
	/* newest first */
	for (i = 0; i < n; i++) {
		const struct dn_tgt_err_entry *e =
			&ctrl->err_log[(ctrl->err_count - 1 - i) % DN_TGT_ERR_LOG_SLOTS];

		log[i].error_count = htole64(e->count);
		log[i].sqid = htole16(e->sqid);
		log[i].cmdid = htole16(e->cid);
		log[i].status_field = htole16((uint16_t)(e->status << 1));
		log[i].parm_error_location = htole16(0xffff);
		log[i].lba = htole64(e->lba);
		log[i].nsid = htole32(e->nsid);
		log[i].trtype = req->queue->ops->trtype;
	}
	pthread_mutex_unlock(&ctrl->err_lock);
	return dn_log_copy(req, log, sizeof(log));
}

static nvme_status_t dn_log_smart(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	struct dn_tgt_subsys *s = ctrl->subsys;
	uint32_t nsid = le32toh(req->sqe->common.nsid);
	uint64_t ur = 0, uw = 0, rc = 0, wc = 0, errs;
	struct nvme_smart_log log;
	uint32_t i;

	/* no per-namespace SMART (LPA bit 0 clear): the log is the controller's, NSID 0 or all */
	if (nsid != 0 && nsid != NVME_NSID_ALL)
		return DN_STATUS_INVALID_FIELD;
	for (i = 1; i <= DN_TGT_MAX_NSID; i++) {
		struct dn_tgt_ns *ns = dn_tgt_ns_lookup(s, i);

		if (!ns)
			continue;
		ur += atomic_load_explicit(&ns->units_read, memory_order_relaxed);
		uw += atomic_load_explicit(&ns->units_written, memory_order_relaxed);
		rc += atomic_load_explicit(&ns->read_cmds, memory_order_relaxed);
		wc += atomic_load_explicit(&ns->write_cmds, memory_order_relaxed);
	}
	pthread_mutex_lock(&ctrl->err_lock);
	errs = ctrl->err_count;
	pthread_mutex_unlock(&ctrl->err_lock);
	memset(&log, 0, sizeof(log));
	log.avail_spare = 100;
	log.spare_thresh = 10;
	/* data units are thousands of 512-byte units, rounded up */
	dn_put_le128(log.data_units_read, (ur + 999) / 1000);
	dn_put_le128(log.data_units_written, (uw + 999) / 1000);
	dn_put_le128(log.host_reads, rc);
	dn_put_le128(log.host_writes, wc);
	dn_put_le128(log.power_cycles, 1);
	dn_put_le128(log.power_on_hours, (dn_now_ms() - dn_tgt.start_ms) / 3600000);
	dn_put_le128(log.num_err_log_entries, errs);
	return dn_log_copy(req, &log, sizeof(log));
}

static nvme_status_t dn_log_fw_slot(struct dn_tgt_req *req)
{
	struct nvme_firmware_slot log;

	memset(&log, 0, sizeof(log));
	log.afi = 1;
	dn_tgt_copy_padded(log.frs[0], sizeof(log.frs[0]), DN_TGT_FR);
	return dn_log_copy(req, &log, sizeof(log));
}

static nvme_status_t dn_log_changed_ns(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	bool rae = dn_sqe_cdw(req->sqe, 10) & (1u << 15);
	uint32_t list[NVME_ID_NS_LIST_MAX];
	unsigned int i;

	memset(list, 0, sizeof(list));
	pthread_mutex_lock(&dn_tgt.lock);
	if (ctrl->nr_changed_ns > DN_TGT_MAX_NSID) {
		list[0] = htole32(0xffffffff);
	} else {
		for (i = 0; i < ctrl->nr_changed_ns; i++)
			list[i] = htole32(ctrl->changed_ns[i]);
	}
	if (!rae) {
		ctrl->nr_changed_ns = 0;
		ctrl->aen_masked &= ~(1u << NVME_LOG_LID_CHANGED_NS);
	}
	pthread_mutex_unlock(&dn_tgt.lock);
	return dn_log_copy(req, list, sizeof(list));
}

static nvme_status_t dn_log_cmd_effects(struct dn_tgt_req *req)
{
	static const uint8_t admin_ops[] = {
		nvme_admin_get_log_page, nvme_admin_identify,	  nvme_admin_abort_cmd,
		nvme_admin_set_features, nvme_admin_get_features, nvme_admin_async_event,
		nvme_admin_keep_alive,
	};
	struct nvme_cmd_effects_log log;
	unsigned int i;

	memset(&log, 0, sizeof(log));
	for (i = 0; i < sizeof(admin_ops); i++)
		log.acs[admin_ops[i]] = htole32(NVME_CMD_EFFECTS_CSUPP);
	log.iocs[nvme_cmd_flush] = htole32(NVME_CMD_EFFECTS_CSUPP);
	log.iocs[nvme_cmd_read] = htole32(NVME_CMD_EFFECTS_CSUPP);
	log.iocs[nvme_cmd_compare] = htole32(NVME_CMD_EFFECTS_CSUPP);
	log.iocs[nvme_cmd_write] = htole32(NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC);
	log.iocs[nvme_cmd_write_zeroes] = htole32(NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC);
	log.iocs[nvme_cmd_dsm] = htole32(NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC);
	log.iocs[nvme_cmd_resv_register] = htole32(NVME_CMD_EFFECTS_CSUPP);
	log.iocs[nvme_cmd_resv_report] = htole32(NVME_CMD_EFFECTS_CSUPP);
	log.iocs[nvme_cmd_resv_acquire] = htole32(NVME_CMD_EFFECTS_CSUPP);
	log.iocs[nvme_cmd_resv_release] = htole32(NVME_CMD_EFFECTS_CSUPP);
	return dn_log_copy(req, &log, sizeof(log));
}

static nvme_status_t dn_log_reservation(struct dn_tgt_req *req)
{
	struct nvme_resv_notification_log log;

	pthread_mutex_lock(&dn_tgt.lock);
	dn_tgt_pr_log_read(req->queue->ctrl, dn_sqe_cdw(req->sqe, 10) & (1u << 15), &log);
	pthread_mutex_unlock(&dn_tgt.lock);
	return dn_log_copy(req, &log, sizeof(log));
}

static void dn_exec_get_log(struct dn_tgt_req *req)
{
	uint8_t lid = dn_sqe_cdw(req->sqe, 10) & 0xff;
	nvme_status_t st;

	switch (lid) {
	case NVME_LOG_LID_ERROR:
		st = dn_log_error(req);
		break;
	case NVME_LOG_LID_SMART:
		st = dn_log_smart(req);
		break;
	case NVME_LOG_LID_FW_SLOT:
		st = dn_log_fw_slot(req);
		break;
	case NVME_LOG_LID_CHANGED_NS:
		st = dn_log_changed_ns(req);
		break;
	case NVME_LOG_LID_CMD_EFFECTS:
		st = dn_log_cmd_effects(req);
		break;
	case NVME_LOG_LID_RESERVATION:
		st = dn_log_reservation(req);
		break;
	default:
		st = NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE);
		break;
	}
	dn_req_complete(req, st);
}

static nvme_status_t dn_parse_get_log(struct dn_tgt_req *req)
{
	req->execute = dn_exec_get_log;
	return dn_tgt_parse_get_log(req);
}

/* ---- Features ---- */

#define DN_FEAT_HOST_ID 0x81

/* The namespace-scoped reservation features (pr.c keeps them). */
static void dn_exec_pr_features(struct dn_tgt_req *req)
{
	struct dn_tgt_subsys *s = req->queue->ctrl->subsys;
	uint32_t nsid = le32toh(req->sqe->common.nsid), cdw11 = dn_sqe_cdw(req->sqe, 11);
	bool set = req->sqe->opcode == nvme_admin_set_features;
	uint32_t result = 0;
	nvme_status_t st;

	if ((dn_sqe_cdw(req->sqe, 10) & 0xff) == NVME_FEAT_FID_RESV_MASK) {
		st = set ? dn_tgt_pr_set_notify_mask(s, nsid, cdw11)
			 : dn_tgt_pr_get_notify_mask(s, nsid, &result);
		if (set && !st)
			result = cdw11;
	} else if (!dn_tgt_ns_lookup(s, nsid)) {
		st = NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_NS);
	} else if (set) {
		/* Reservation Persistence: on only for a namespace with a ptpl_file */
		st = dn_tgt_pr_set_ptpl(dn_tgt_ns_lookup(s, nsid), cdw11 & 1);
		result = cdw11 & 1;
	} else {
		st = 0;
		result = dn_tgt_pr_get_ptpl(dn_tgt_ns_lookup(s, nsid));
	}
	req->cqe->result.u32 = htole32(result);
	dn_req_complete(req, st);
}

nvme_status_t dn_tgt_parse_features(struct dn_tgt_req *req, bool discovery)
{
	uint32_t cdw10 = dn_sqe_cdw(req->sqe, 10);
	uint8_t fid = cdw10 & 0xff;
	bool set = req->sqe->opcode == nvme_admin_set_features;

	if (set && (cdw10 & (1u << 31)))
		return NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_SAVEABLE);
	switch (fid) {
	case NVME_FEAT_FID_ASYNC_EVENT:
	case NVME_FEAT_FID_KATO:
		break;
	case NVME_FEAT_FID_ARBITRATION:
	case NVME_FEAT_FID_POWER_MGMT:
	case NVME_FEAT_FID_TEMP_THRESH:
	case NVME_FEAT_FID_ERR_RECOVERY:
	case NVME_FEAT_FID_VOLATILE_WC:
	case NVME_FEAT_FID_NUM_QUEUES:
	case NVME_FEAT_FID_WRITE_ATOMIC:
		if (discovery)
			return DN_STATUS_INVALID_FIELD;
		break;
	case NVME_FEAT_FID_RESV_MASK:
	case NVME_FEAT_FID_RESV_PERSIST:
		if (discovery)
			return DN_STATUS_INVALID_FIELD;
		req->execute = dn_exec_pr_features;
		return 0;
	case DN_FEAT_HOST_ID:
		if (discovery)
			return DN_STATUS_INVALID_FIELD;
		if (set)
			return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
		/* EXHID: only the 128-bit host identifier exists on fabrics */
		if (!(dn_sqe_cdw(req->sqe, 11) & 1))
			return DN_STATUS_INVALID_FIELD;
		req->dir = DN_XFER_C2H;
		req->data_len = 16;
		break;
	default:
		return DN_STATUS_INVALID_FIELD;
	}
	req->execute = dn_tgt_exec_features;
	return 0;
}

static nvme_status_t dn_set_feature(struct dn_tgt_ctrl *ctrl, uint8_t fid, uint32_t cdw11,
				    uint32_t *result)
{
	uint32_t nsqr, ncqr, n;

	switch (fid) {
	case NVME_FEAT_FID_ASYNC_EVENT:
		ctrl->aen_cfg = cdw11 & (ctrl->subsys->is_discovery ? NVME_CTRL_OAES_DL
								    : NVME_CTRL_OAES_NA);
		dn_tgt_ctrl_kick_aen(ctrl);
		return 0;
	case NVME_FEAT_FID_KATO:
		ctrl->kato_ms = cdw11;
		ctrl->ka_last_ms = dn_now_ms();
		return 0;
	case NVME_FEAT_FID_ARBITRATION:
		ctrl->feat_arbitration = cdw11;
		return 0;
	case NVME_FEAT_FID_POWER_MGMT:
		if (cdw11 & 0x1f) /* PS: only power state 0 exists */
			return DN_STATUS_INVALID_FIELD;
		ctrl->feat_power_mgmt = cdw11;
		return 0;
	case NVME_FEAT_FID_TEMP_THRESH:
		ctrl->feat_temp_thresh = cdw11;
		return 0;
	case NVME_FEAT_FID_ERR_RECOVERY:
		if (cdw11 & (1u << 16)) /* DULBE: not supported by any namespace */
			return DN_STATUS_INVALID_FIELD;
		ctrl->feat_err_recovery = cdw11;
		return 0;
	case NVME_FEAT_FID_VOLATILE_WC:
		/* the backends always cache (page cache, device cache): it cannot be disabled */
		if (!(cdw11 & 1))
			return NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC,
					       NVME_SC_FEATURE_NOT_CHANGEABLE);
		return 0;
	case NVME_FEAT_FID_NUM_QUEUES:
		nsqr = cdw11 & 0xffff;
		ncqr = cdw11 >> 16;
		if (nsqr == 0xffff || ncqr == 0xffff)
			return DN_STATUS_INVALID_FIELD;
		n = nsqr > ncqr ? nsqr : ncqr;
		if (n > DN_TGT_MAX_IO_QUEUES - 1)
			n = DN_TGT_MAX_IO_QUEUES - 1;
		ctrl->nr_io_queues = (uint16_t)(n + 1);
		*result = n << 16 | n;
		return 0;
	case NVME_FEAT_FID_WRITE_ATOMIC:
		return 0;
	}
	return DN_STATUS_INVALID_FIELD;
}

static nvme_status_t dn_get_feature(struct dn_tgt_req *req, struct dn_tgt_ctrl *ctrl, uint8_t fid,
				    uint32_t *result)
{
	uint32_t n;

	switch (fid) {
	case NVME_FEAT_FID_ASYNC_EVENT:
		*result = ctrl->aen_cfg;
		return 0;
	case NVME_FEAT_FID_KATO:
		*result = ctrl->kato_ms;
		return 0;
	case NVME_FEAT_FID_ARBITRATION:
		*result = ctrl->feat_arbitration;
		return 0;
	case NVME_FEAT_FID_POWER_MGMT:
		*result = ctrl->feat_power_mgmt;
		return 0;
	case NVME_FEAT_FID_TEMP_THRESH:
		*result = ctrl->feat_temp_thresh ? ctrl->feat_temp_thresh : 0x157;
		return 0;
	case NVME_FEAT_FID_ERR_RECOVERY:
		*result = ctrl->feat_err_recovery;
		return 0;
	case NVME_FEAT_FID_VOLATILE_WC:
		*result = 1;
		return 0;
	case NVME_FEAT_FID_NUM_QUEUES:
		n = (ctrl->nr_io_queues ? ctrl->nr_io_queues : DN_TGT_MAX_IO_QUEUES) - 1;
		*result = n << 16 | n;
		return 0;
	case NVME_FEAT_FID_WRITE_ATOMIC:
		*result = 0;
		return 0;
	case DN_FEAT_HOST_ID:
		memcpy(req->data, ctrl->hostid, 16);
		return 0;
	}
	return DN_STATUS_INVALID_FIELD;
}

void dn_tgt_exec_features(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	uint8_t fid = dn_sqe_cdw(req->sqe, 10) & 0xff;
	uint32_t cdw11 = dn_sqe_cdw(req->sqe, 11), result = 0;
	nvme_status_t st;

	pthread_mutex_lock(&dn_tgt.lock);
	if (req->sqe->opcode == nvme_admin_set_features)
		st = dn_set_feature(ctrl, fid, cdw11, &result);
	else
		st = dn_get_feature(req, ctrl, fid, &result);
	pthread_mutex_unlock(&dn_tgt.lock);
	req->cqe->result.u32 = htole32(result);
	dn_req_complete(req, st);
}

static nvme_status_t dn_parse_features(struct dn_tgt_req *req)
{
	return dn_tgt_parse_features(req, false);
}

/* ---- small ones ---- */

void dn_tgt_exec_keep_alive(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;

	pthread_mutex_lock(&dn_tgt.lock);
	ctrl->ka_last_ms = dn_now_ms();
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_req_complete(req, 0);
}

static nvme_status_t dn_parse_keep_alive(struct dn_tgt_req *req)
{
	req->execute = dn_tgt_exec_keep_alive;
	return 0;
}

static nvme_status_t dn_parse_aer(struct dn_tgt_req *req)
{
	req->execute = dn_tgt_exec_aer;
	return 0;
}

/* Commands complete quickly here: nothing is ever found to abort (DW0 bit 0 set). */
static void dn_exec_abort(struct dn_tgt_req *req)
{
	req->cqe->result.u32 = htole32(1);
	dn_req_complete(req, 0);
}

static nvme_status_t dn_parse_abort(struct dn_tgt_req *req)
{
	req->execute = dn_exec_abort;
	return 0;
}

static nvme_status_t (*const dn_admin_parsers[256])(struct dn_tgt_req *req) = {
	[nvme_admin_get_log_page] = dn_parse_get_log,
	[nvme_admin_identify] = dn_parse_identify,
	[nvme_admin_abort_cmd] = dn_parse_abort,
	[nvme_admin_set_features] = dn_parse_features,
	[nvme_admin_get_features] = dn_parse_features,
	[nvme_admin_async_event] = dn_parse_aer,
	[nvme_admin_keep_alive] = dn_parse_keep_alive,
};

nvme_status_t dn_tgt_parse_admin(struct dn_tgt_req *req)
{
	nvme_status_t (*parse)(struct dn_tgt_req * req) = dn_admin_parsers[req->sqe->opcode];

	if (!parse)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE);
	return parse(req);
}
