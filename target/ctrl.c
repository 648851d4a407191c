// SPDX-License-Identifier: MIT
/*
 * Controllers and the request entry points: capsule validation and dispatch (dn_req_init,
 * dn_req_execute, dn_req_complete), the queue lifecycle the transport drives, controller
 * creation and teardown, keep-alive expiry and asynchronous event delivery.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "target/core_internal.h"

struct dn_tgt_state dn_tgt = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- requests ---- */

static bool dn_req_is_admin_queue(const struct dn_tgt_req *req)
{
	return req->queue->qid == 0;
}

/* Size and direction are known: check the data pointer against them. */
static nvme_status_t dn_req_map_data(struct dn_tgt_req *req, uint32_t incapsule_len)
{
	const struct dn_tgt_transport_ops *ops = req->queue->ops;
	nvme_status_t st;

	if (req->dir == DN_XFER_NONE || req->data_len == 0) {
		req->dir = DN_XFER_NONE;
		req->data_len = 0;
		return 0;
	}
	st = nvme_sgl_parse(req->sqe, incapsule_len, req->data_cap, &req->sgl);
	if (st)
		return st;
	if (req->sgl.kind == NVME_SGL_KIND_KEYED && !ops->keyed_sgl)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE);
	if (req->sgl.kind == NVME_SGL_KIND_INLINE && req->dir != DN_XFER_H2C)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_TYPE);
	/* a command that takes more than it uses (data_max, set by its parser) gets it all */
	if (req->sgl.length > req->data_len && req->sgl.length <= req->data_max)
		req->data_len = req->sgl.length;
	if (req->sgl.length != req->data_len)
		return NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_SGL_INVALID_DATA);
	return 0;
}

bool dn_req_init(struct dn_tgt_req *req, struct dn_tgt_queue *q, uint32_t incapsule_len)
{
	struct dn_tgt_ctrl *ctrl = q->ctrl;
	nvme_status_t st;

	req->queue = q;
	req->ns = NULL;
	req->data_len = 0;
	req->data_max = 0;
	req->dir = DN_XFER_NONE;
	req->execute = NULL;
	memset(&req->sgl, 0, sizeof(req->sgl));
	memset(req->cqe, 0, sizeof(*req->cqe));
	q->sqhd = (uint16_t)((q->sqhd + 1) % (q->size ? q->size : 1));

	if (req->sqe->flags & NVME_CMD_FUSE_MASK) {
		st = NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_INVALID_FIELD);
		goto fail;
	}
	if (req->sqe->opcode == NVME_FABRICS_OPCODE) {
		st = dn_tgt_parse_fabrics(req);
	} else if (!ctrl) {
		/* nothing but Connect before Connect */
		st = NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	} else if (!(ctrl->cc & NVME_CC_EN_MASK) || !(ctrl->csts & NVME_CSTS_RDY_MASK)) {
		st = NVME_STATUS_DNR(NVME_SCT_GENERIC, NVME_SC_CMD_SEQ_ERROR);
	} else if (dn_req_is_admin_queue(req)) {
		st = ctrl->subsys->is_discovery ? dn_tgt_parse_discovery_admin(req)
						: dn_tgt_parse_admin(req);
	} else {
		st = dn_tgt_parse_io(req);
	}
	if (st)
		goto fail;
	st = dn_req_map_data(req, incapsule_len);
	if (st)
		goto fail;
	if (ctrl && !atomic_load_explicit(&ctrl->ka_traffic, memory_order_relaxed))
		atomic_store_explicit(&ctrl->ka_traffic, true, memory_order_relaxed);
	return true;
fail:
	req->dir = DN_XFER_NONE;
	req->data_len = 0;
	req->execute = NULL; /* refused before it ran: dn_req_complete logs it */
	dn_req_complete(req, st);
	return false;
}

void dn_req_execute(struct dn_tgt_req *req)
{
	req->execute(req);
}

void dn_tgt_ctrl_record_error(struct dn_tgt_req *req, nvme_status_t status)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	struct dn_tgt_err_entry *e;

	if (!ctrl)
		return;
	pthread_mutex_lock(&ctrl->err_lock);
	e = &ctrl->err_log[ctrl->err_count % DN_TGT_ERR_LOG_SLOTS];
	e->count = ++ctrl->err_count;
	e->sqid = req->queue->qid;
	e->cid = le16toh(req->sqe->cid);
	e->status = status;
	e->nsid = req->sqe->opcode == NVME_FABRICS_OPCODE ? 0 : le32toh(req->sqe->common.nsid);
	e->lba = req->queue->qid && req->ns
			 ? ((uint64_t)dn_sqe_cdw(req->sqe, 11) << 32 | dn_sqe_cdw(req->sqe, 10))
			 : 0;
	pthread_mutex_unlock(&ctrl->err_lock);
}

void dn_req_complete(struct dn_tgt_req *req, nvme_status_t status)
{
	struct dn_tgt_queue *q = req->queue;
	struct nvme_cqe *cqe = req->cqe;

	cqe->cid = req->sqe->cid;
	cqe->sq_head = htole16(q->sqhd);
	cqe->sq_id = htole16(q->qid);
	nvme_cqe_set_status(cqe, status);
	if (status) {
		req->data_len = 0;
		bool connect = req->sqe->opcode == NVME_FABRICS_OPCODE &&
			       req->sqe->fabrics.fctype == nvme_fabrics_type_connect;

		/* aborted AERs at teardown are not errors of the host's making; a refused
		 * Connect that got as far as executing was logged with its reason already */
		if (NVME_STATUS_SC(status) != NVME_SC_ABORT_REQ ||
		    NVME_STATUS_SCT(status) != NVME_SCT_GENERIC) {
			/* a fenced host's refused I/O is the reservation working, not an error */
			bool conflict = NVME_STATUS_SCT(status) == NVME_SCT_GENERIC &&
					NVME_STATUS_SC(status) == NVME_SC_RESERVATION_CONFLICT;

			if (conflict)
				dn_dbg("%s qid %u cid %u opcode 0x%02x: reservation conflict",
				       q->peer_addr, q->qid, le16toh(req->sqe->cid),
				       req->sqe->opcode);
			else if (!connect || !req->execute)
				dn_warn("%s qid %u cid %u opcode 0x%02x%s: %s (status 0x%04x)",
					q->peer_addr, q->qid, le16toh(req->sqe->cid),
					req->sqe->opcode,
					req->sqe->opcode == NVME_FABRICS_OPCODE ? " (fabrics)" : "",
					nvme_status_str(status), status);
			dn_tgt_ctrl_record_error(req, status);
		}
	}
	if (req->ns)
		atomic_fetch_sub_explicit(&req->ns->inflight[req->ns_slot], 1,
					  memory_order_release);
	q->ops->queue_response(req);
}

/* ---- queues ---- */

void dn_tgt_queue_init(struct dn_tgt_queue *q, const struct dn_tgt_transport_ops *ops,
		       struct dn_tgt_port *port, struct dn_poll_group *pg, uint16_t qid,
		       uint16_t size, const char *peer)
{
	q->ops = ops;
	q->port = port;
	q->pg = pg;
	q->ctrl = NULL;
	q->qid = qid;
	q->size = size;
	q->sqhd = 0;
	q->core_flags = 0;
	snprintf(q->peer_addr, sizeof(q->peer_addr), "%s", peer ? peer : "?");
	atomic_fetch_add(&dn_tgt.live_queues, 1);
}

unsigned int dn_tgt_live_queues(void)
{
	return atomic_load(&dn_tgt.live_queues);
}

/* Caller holds the lock; the queues collected in del[] get ops->delete_queue() after unlock. */
static void dn_tgt_queue_mark_delete(struct dn_tgt_queue *q, struct dn_tgt_queue **del,
				     unsigned int *nr_del)
{
	if (q->core_flags & DN_QF_DELETING)
		return;
	q->core_flags |= DN_QF_DELETING;
	del[(*nr_del)++] = q;
}

static void dn_tgt_delete_queues(struct dn_tgt_queue **del, unsigned int nr_del)
{
	unsigned int i;

	for (i = 0; i < nr_del; i++)
		del[i]->ops->delete_queue(del[i]);
}

static void dn_tgt_ctrl_free(struct dn_tgt_ctrl *ctrl)
{
	struct dn_tgt_ctrl **pp;

	for (pp = &ctrl->subsys->ctrls; *pp; pp = &(*pp)->next) {
		if (*pp == ctrl) {
			*pp = ctrl->next;
			break;
		}
	}
	dn_notice("controller %u destroyed: host %s (%s), subsystem %s", ctrl->cntlid,
		  ctrl->hostnqn, ctrl->peer, ctrl->subsys->nqn);
	pthread_mutex_destroy(&ctrl->err_lock);
	free(ctrl);
}

/* Caller holds the lock. */
static void dn_tgt_ctrl_put_locked(struct dn_tgt_ctrl *ctrl)
{
	if (ctrl->dying && ctrl->nr_queues == 0 && ctrl->msgs_in_flight == 0)
		dn_tgt_ctrl_free(ctrl);
}

void dn_tgt_queue_destroyed(struct dn_tgt_queue *q)
{
	struct dn_tgt_ctrl *ctrl;

	pthread_mutex_lock(&dn_tgt.lock);
	ctrl = q->ctrl;
	if (ctrl) {
		if (ctrl->queues[q->qid] == q) {
			ctrl->queues[q->qid] = NULL;
			ctrl->nr_queues--;
		}
		q->ctrl = NULL;
		/*
		 * The admin queue takes its controller with it. An I/O queue does not: the Linux
		 * host disconnects its I/O queues first and then shuts the controller down over
		 * the admin queue (CC.SHN), which must still be there (as nvmet).
		 */
		if (!ctrl->dying && q->qid == 0) {
			struct dn_tgt_queue *del[1 + DN_TGT_MAX_IO_QUEUES];
			unsigned int nr_del = 0;

			dn_tgt_ctrl_kill_locked(ctrl, "a queue was destroyed", del, &nr_del);
			pthread_mutex_unlock(&dn_tgt.lock);
			dn_tgt_delete_queues(del, nr_del);
			pthread_mutex_lock(&dn_tgt.lock);
		}
		dn_tgt_ctrl_put_locked(ctrl);
	}
	pthread_mutex_unlock(&dn_tgt.lock);
	atomic_fetch_sub(&dn_tgt.live_queues, 1);
}

void dn_tgt_queue_lost(struct dn_tgt_queue *q)
{
	struct dn_tgt_queue *del[1 + DN_TGT_MAX_IO_QUEUES];
	unsigned int nr_del = 0;

	pthread_mutex_lock(&dn_tgt.lock);
	/* only the admin queue's loss ends the controller (see dn_tgt_queue_destroyed) */
	if (q->ctrl && q->qid == 0)
		dn_tgt_ctrl_kill_locked(q->ctrl, "connection lost", del, &nr_del);
	/* also covers a queue that never connected, or whose controller is already dying */
	dn_tgt_queue_mark_delete(q, del, &nr_del);
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_tgt_delete_queues(del, nr_del);
}

/* ---- controllers ---- */

static uint16_t dn_tgt_alloc_cntlid(struct dn_tgt_subsys *s)
{
	unsigned int tries;

	for (tries = 0; tries < DN_TGT_CNTLID_MAX; tries++) {
		uint16_t id = s->next_cntlid;
		struct dn_tgt_ctrl *c;

		s->next_cntlid = id >= DN_TGT_CNTLID_MAX ? DN_TGT_CNTLID_MIN : id + 1;
		if (id < DN_TGT_CNTLID_MIN || id > DN_TGT_CNTLID_MAX)
			continue;
		for (c = s->ctrls; c; c = c->next)
			if (c->cntlid == id)
				break;
		if (!c)
			return id;
	}
	return 0;
}

/* Called with the lock held, from Connect on the admin queue q. */
struct dn_tgt_ctrl *dn_tgt_ctrl_create(struct dn_tgt_subsys *subsys, struct dn_tgt_queue *q,
				       const struct nvmf_connect_data *d, uint32_t kato_ms)
{
	struct dn_tgt_ctrl *ctrl;
	uint16_t cntlid = dn_tgt_alloc_cntlid(subsys);

	if (!cntlid)
		return NULL;
	ctrl = calloc(1, sizeof(*ctrl));
	if (!ctrl)
		return NULL;
	ctrl->subsys = subsys;
	ctrl->port = q->port;
	ctrl->cntlid = cntlid;
	memcpy(ctrl->hostnqn, d->hostnqn, sizeof(ctrl->hostnqn));
	memcpy(ctrl->hostid, d->hostid, sizeof(ctrl->hostid));
	snprintf(ctrl->peer, sizeof(ctrl->peer), "%s", q->peer_addr);
	if (!kato_ms && subsys->is_discovery)
		kato_ms = DN_TGT_DISC_KATO_MS;
	ctrl->kato_ms = kato_ms;
	ctrl->ka_last_ms = dn_now_ms();
	ctrl->queues[0] = q;
	ctrl->nr_queues = 1;
	pthread_mutex_init(&ctrl->err_lock, NULL);
	q->ctrl = ctrl;
	ctrl->next = subsys->ctrls;
	subsys->ctrls = ctrl;
	dn_notice("controller %u created: host %s (%s), subsystem %s, keep-alive %u ms", cntlid,
		  ctrl->hostnqn, ctrl->peer, subsys->nqn, kato_ms);
	return ctrl;
}

/* Held AERs complete with Abort Requested, on the admin queue's thread. */
static void dn_tgt_ctrl_aer_abort_msg(void *arg)
{
	struct dn_tgt_ctrl *ctrl = arg;
	struct dn_tgt_req *aer[DN_TGT_AERL];
	unsigned int i, n;

	pthread_mutex_lock(&dn_tgt.lock);
	n = ctrl->nr_aer;
	memcpy(aer, ctrl->aer, n * sizeof(aer[0]));
	ctrl->nr_aer = 0;
	ctrl->msgs_in_flight--;
	pthread_mutex_unlock(&dn_tgt.lock);
	for (i = 0; i < n; i++)
		dn_req_complete(aer[i], NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
	pthread_mutex_lock(&dn_tgt.lock);
	dn_tgt_ctrl_put_locked(ctrl);
	pthread_mutex_unlock(&dn_tgt.lock);
}

void dn_tgt_ctrl_kill_locked(struct dn_tgt_ctrl *ctrl, const char *why, struct dn_tgt_queue **del,
			     unsigned int *nr_del)
{
	unsigned int qid;

	if (ctrl->dying)
		return;
	ctrl->dying = true;
	dn_notice("controller %u of host %s (%s) going away: %s", ctrl->cntlid, ctrl->hostnqn,
		  ctrl->peer, why);
	/* the admin queue's thread must hand back the AERs it holds before the queue drains */
	if (ctrl->nr_aer && ctrl->queues[0]) {
		ctrl->msgs_in_flight++;
		if (dn_pg_send_msg(ctrl->queues[0]->pg, dn_tgt_ctrl_aer_abort_msg, ctrl))
			ctrl->msgs_in_flight--;
	}
	for (qid = 0; qid <= DN_TGT_MAX_IO_QUEUES; qid++)
		if (ctrl->queues[qid])
			dn_tgt_queue_mark_delete(ctrl->queues[qid], del, nr_del);
}

void dn_tgt_ctrl_kill(struct dn_tgt_ctrl *ctrl, const char *why)
{
	struct dn_tgt_queue *del[1 + DN_TGT_MAX_IO_QUEUES];
	unsigned int nr_del = 0;

	pthread_mutex_lock(&dn_tgt.lock);
	dn_tgt_ctrl_kill_locked(ctrl, why, del, &nr_del);
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_tgt_delete_queues(del, nr_del);
}

unsigned int dn_tgt_shutdown(void)
{
	size_t i;

	for (i = 0; i < dn_tgt.nr_subsys; i++) {
		for (;;) {
			struct dn_tgt_queue *del[1 + DN_TGT_MAX_IO_QUEUES];
			unsigned int nr_del = 0;
			struct dn_tgt_ctrl *c;

			pthread_mutex_lock(&dn_tgt.lock);
			for (c = dn_tgt.subsys[i]->ctrls; c && c->dying; c = c->next)
				;
			if (c)
				dn_tgt_ctrl_kill_locked(c, "target shutting down", del, &nr_del);
			pthread_mutex_unlock(&dn_tgt.lock);
			if (!c)
				break;
			dn_tgt_delete_queues(del, nr_del);
		}
	}
	return dn_tgt_live_queues();
}

void dn_tgt_tick(void)
{
	uint64_t now = dn_now_ms();
	size_t i;

	dn_tgt_reap_retired(false);
	for (i = 0; i < dn_tgt.nr_subsys; i++) {
		struct dn_tgt_queue *del[1 + DN_TGT_MAX_IO_QUEUES];
		unsigned int nr_del = 0;
		struct dn_tgt_ctrl *c;

		pthread_mutex_lock(&dn_tgt.lock);
		for (c = dn_tgt.subsys[i]->ctrls; c; c = c->next) {
			char why[96];

			if (c->dying || !c->kato_ms)
				continue;
			/* traffic counts as keep-alive (CTRATT.TBKAS) */
			if (atomic_exchange_explicit(&c->ka_traffic, false, memory_order_relaxed))
				c->ka_last_ms = now;
			/* a controller created or kept alive after `now` was read is not late */
			if (c->ka_last_ms >= now || now - c->ka_last_ms <= c->kato_ms)
				continue;
			snprintf(why, sizeof(why), "keep-alive timeout (%u ms without traffic)",
				 c->kato_ms);
			dn_tgt_ctrl_kill_locked(c, why, del, &nr_del);
			break; /* del[] holds one controller's queues */
		}
		pthread_mutex_unlock(&dn_tgt.lock);
		if (nr_del) {
			dn_tgt_delete_queues(del, nr_del);
			i--; /* look at this subsystem again for more expired controllers */
		}
	}
}

/* ---- asynchronous events ---- */

/* Caller holds the lock. Pairs held AERs with pending events into the arrays given. */
static unsigned int dn_tgt_aen_match_locked(struct dn_tgt_ctrl *ctrl, struct dn_tgt_req **reqs,
					    uint32_t *results)
{
	unsigned int n = 0;

	while (ctrl->nr_aer && ctrl->nr_aen_pending) {
		reqs[n] = ctrl->aer[--ctrl->nr_aer];
		results[n] = ctrl->aen_pending[0];
		memmove(&ctrl->aen_pending[0], &ctrl->aen_pending[1],
			--ctrl->nr_aen_pending * sizeof(ctrl->aen_pending[0]));
		n++;
	}
	return n;
}

static void dn_tgt_aen_complete(struct dn_tgt_req **reqs, const uint32_t *results, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		reqs[i]->cqe->result.u32 = htole32(results[i]);
		dn_req_complete(reqs[i], 0);
	}
}

static void dn_tgt_aen_msg(void *arg)
{
	struct dn_tgt_ctrl *ctrl = arg;
	struct dn_tgt_req *reqs[DN_TGT_AERL];
	uint32_t results[DN_TGT_AERL];
	unsigned int n = 0;

	pthread_mutex_lock(&dn_tgt.lock);
	ctrl->msgs_in_flight--;
	if (!ctrl->dying)
		n = dn_tgt_aen_match_locked(ctrl, reqs, results);
	dn_tgt_ctrl_put_locked(ctrl);
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_tgt_aen_complete(reqs, results, n);
}

/* Caller holds the lock: deliver pending events on the admin queue's thread. */
void dn_tgt_ctrl_kick_aen(struct dn_tgt_ctrl *ctrl)
{
	if (ctrl->dying || !ctrl->queues[0] || !ctrl->nr_aer || !ctrl->nr_aen_pending)
		return;
	ctrl->msgs_in_flight++;
	if (dn_pg_send_msg(ctrl->queues[0]->pg, dn_tgt_aen_msg, ctrl)) {
		ctrl->msgs_in_flight--;
		dn_warn("controller %u: cannot post an asynchronous event", ctrl->cntlid);
	}
}

/* Caller holds the lock. */
void dn_tgt_ctrl_add_aen(struct dn_tgt_ctrl *ctrl, uint8_t type, uint8_t info, uint8_t lid)
{
	uint32_t enable_bit =
		info == NVME_AER_NOTICE_DISC_CHANGED ? NVME_CTRL_OAES_DL : NVME_CTRL_OAES_NA;

	if (type == NVME_AER_NOTICE && !(ctrl->aen_cfg & enable_bit))
		return;
	if (ctrl->aen_masked & (1u << (lid & 31)))
		return; /* the host has not read the log page since the last one */
	if (ctrl->nr_aen_pending == sizeof(ctrl->aen_pending) / sizeof(ctrl->aen_pending[0]))
		return;
	ctrl->aen_masked |= 1u << (lid & 31);
	ctrl->aen_pending[ctrl->nr_aen_pending++] =
		type | (uint32_t)info << 8 | (uint32_t)lid << 16;
	dn_tgt_ctrl_kick_aen(ctrl);
}

/* Caller holds the lock. */
void dn_tgt_ctrl_ns_changed(struct dn_tgt_ctrl *ctrl, uint32_t nsid)
{
	unsigned int i;

	for (i = 0; i < ctrl->nr_changed_ns && i < DN_TGT_MAX_NSID; i++)
		if (ctrl->changed_ns[i] == nsid)
			goto notify;
	if (ctrl->nr_changed_ns < DN_TGT_MAX_NSID)
		ctrl->changed_ns[ctrl->nr_changed_ns] = nsid;
	if (ctrl->nr_changed_ns <= DN_TGT_MAX_NSID)
		ctrl->nr_changed_ns++;
notify:
	dn_tgt_ctrl_add_aen(ctrl, NVME_AER_NOTICE, NVME_AER_NOTICE_NS_CHANGED,
			    NVME_LOG_LID_CHANGED_NS);
}

/* Asynchronous Event Request: held until an event happens (admin queue thread). */
void dn_tgt_exec_aer(struct dn_tgt_req *req)
{
	struct dn_tgt_ctrl *ctrl = req->queue->ctrl;
	struct dn_tgt_req *reqs[DN_TGT_AERL];
	uint32_t results[DN_TGT_AERL];
	unsigned int n;

	pthread_mutex_lock(&dn_tgt.lock);
	if (ctrl->dying) {
		/* the AERs held so far were handed back already: this one must not stay behind */
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_req_complete(req, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_ABORT_REQ));
		return;
	}
	if (ctrl->nr_aer >= DN_TGT_AERL) {
		pthread_mutex_unlock(&dn_tgt.lock);
		dn_req_complete(req, NVME_STATUS_DNR(NVME_SCT_CMD_SPECIFIC, NVME_SC_ASYNC_LIMIT));
		return;
	}
	ctrl->aer[ctrl->nr_aer++] = req;
	n = dn_tgt_aen_match_locked(ctrl, reqs, results);
	pthread_mutex_unlock(&dn_tgt.lock);
	dn_tgt_aen_complete(reqs, results, n);
}
