// SPDX-License-Identifier: MIT
/*
 * NVMe/RDMA connection management on the main thread: one rdma_cm listener per port, the
 * CM private data of a connect request checked and answered (accept with crqsize, or reject
 * with the NVME_RDMA_CM_* reason), new queues placed on the least busy poll group, and the
 * CM events that end a connection turned into dn_tgt_queue_lost().
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rdma_util.h"
#include "target/rdma.h"
#include "target/target.h"

#define LISTEN_BACKLOG 128
/* dn_rdma_tick() calls between looks for removed devices */
#define RDMA_DEVICES_CHECK_TICKS 2

static struct {
	struct dn_poll_group *main_pg;
	struct dn_poll_group **pgs;
	unsigned int nr_pgs;
	unsigned int pool_bufs; /* data buffers per (device, poll group) */
	struct rdma_event_channel *ch;
	struct dn_event ch_ev;
	struct dn_rdma_dev *devs;
	struct dn_rdma_listener **listeners;
	size_t nr_listeners;
	unsigned int ticks; /* dn_rdma_tick() calls */
	/* every queue from accept to destroy, for shutdown; control path only */
	pthread_mutex_t queues_lock;
	struct dn_rdma_queue *queues;
} cm = {.queues_lock = PTHREAD_MUTEX_INITIALIZER};

const struct dn_tgt_transport_ops dn_rdma_ops = {
	.name = "rdma",
	.trtype = NVMF_TRTYPE_RDMA,
	.max_incapsule = DN_RDMA_INCAPSULE,
	.keyed_sgl = true,
	.queue_response = dn_rdma_queue_response,
	.send_from = dn_rdma_send_from,
	.delete_queue = dn_rdma_delete_queue,
	.disc_tsas = dn_rdma_disc_tsas,
};

int dn_rdma_parse_cm_req(const void *priv, size_t len, uint16_t *qid, uint16_t *nr_recv,
			 uint16_t *hrqsize)
{
	struct nvme_rdma_cm_req req;
	unsigned int entries, max;

	/* the CM may pad the private data; less than the request is malformed */
	if (!priv || len < sizeof(req))
		return NVME_RDMA_CM_INVALID_LEN;
	memcpy(&req, priv, sizeof(req));
	if (le16toh(req.recfmt) != NVME_RDMA_CM_FMT_1_0)
		return NVME_RDMA_CM_INVALID_RECFMT;
	*qid = le16toh(req.qid);
	if (*qid > DN_TGT_MAX_IO_QUEUES)
		return NVME_RDMA_CM_INVALID_QID;
	/* hsqsize is 0's based: the host sends at most hsqsize + 1 commands at once */
	entries = le16toh(req.hsqsize) + 1u;
	max = *qid ? dn_tgt_max_queue_size() : NVME_AQ_DEPTH_MAX;
	if (entries < 2 || entries > max)
		return NVME_RDMA_CM_INVALID_HSQSIZE;
	/* every command outstanding needs a host receive buffer for its response */
	*hrqsize = le16toh(req.hrqsize);
	if (*hrqsize < entries)
		return NVME_RDMA_CM_INVALID_HRQSIZE;
	*nr_recv = (uint16_t)entries;
	return 0;
}

void dn_rdma_disc_tsas(const struct dn_tgt_port *port, union nvmf_tsas *tsas)
{
	memset(tsas, 0, sizeof(*tsas));
	tsas->rdma.qptype = NVMF_RDMA_QPTYPE_CONNECTED;
	tsas->rdma.prtype = NVMF_RDMA_PRTYPE_NOT_SPECIFIED;
	tsas->rdma.cms = NVMF_RDMA_CMS_RDMA_CM;
}

/* Main thread; the poll groups may be destroyed already (dn_rdma_fini). */
static void cm_free_dev(struct dn_rdma_dev *dev)
{
	unsigned int i;
	int ret;

	for (i = 0; dev->pools && i < cm.nr_pgs; i++) {
		struct dn_rdma_pool *p = dev->pools[i];

		if (p && p->nr_waited)
			dn_info("rdma: %s, poll group %u: %llu of %llu transfers waited for "
				"one of the %u data buffers (data_buffers_mib)",
				ibv_get_device_name(dev->verbs->device), i,
				(unsigned long long)p->nr_waited, (unsigned long long)p->nr_taken,
				p->nr_bufs);
		dn_rdma_pool_destroy(p);
	}
	free(dev->pools);
	if (dev->pd) {
		ret = dn_ibv_dealloc_pd(dev->pd);
		if (ret)
			dn_warn("rdma: freeing the protection domain: %s", strerror(-ret));
	}
	/* last: with it may go librdmacm's context of the device */
	if (dev->hold_id)
		dn_rdma_destroy_id(dev->hold_id);
	free(dev);
}

/*
 * Main thread: an id bound to the device, on an ephemeral port of the address the device
 * was seen on (see struct dn_rdma_dev). Without one the device is still used, but its
 * removal is only noticed through its listeners and queues.
 */
static void cm_hold_dev(struct dn_rdma_dev *dev, const struct sockaddr *local)
{
	struct sockaddr_storage ss;
	char addr[64];
	int ret;

	if (!local || (local->sa_family != AF_INET && local->sa_family != AF_INET6))
		return;
	memcpy(&ss, local,
	       local->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					   : sizeof(struct sockaddr_in6));
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	ret = dn_rdma_create_id(cm.ch, &dev->hold_id, dev);
	if (!ret) {
		ret = dn_rdma_bind_addr(dev->hold_id, (struct sockaddr *)&ss);
		if (!ret && dev->hold_id->verbs != dev->verbs)
			ret = -EXDEV;
		if (ret) {
			dn_rdma_destroy_id(dev->hold_id);
			dev->hold_id = NULL;
		}
	}
	if (ret) {
		dn_sockaddr_str((struct sockaddr *)&ss, addr, sizeof(addr));
		dn_warn("rdma: device %s: cannot bind an id to %s (%s): its removal will be "
			"noticed only through its connections",
			ibv_get_device_name(dev->verbs->device), addr, strerror(-ret));
	}
}

/*
 * The device's protection domain and the data buffer pools of every poll group on it, made
 * the first time the device is seen: when a listener binds to it, or at the first connection
 * through a wildcard listener. Registering them here, once, keeps it off queue connects.
 */
static int cm_get_dev(struct ibv_context *verbs, const struct sockaddr *local,
		      struct dn_rdma_dev **out)
{
	struct dn_rdma_dev *dev;
	uint64_t t0 = dn_now_ms();
	unsigned int i;
	int ret;

	for (dev = cm.devs; dev; dev = dev->next) {
		if (dev->verbs == verbs && !dev->removed) {
			*out = dev;
			return 0;
		}
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->kind = DN_RDMA_CTX_DEV;
	dev->verbs = verbs;
	atomic_init(&dev->nr_queues, 0);
	ret = dn_ibv_query_device(verbs, &dev->attr);
	if (ret)
		goto out_free;
	ret = dn_ibv_alloc_pd(verbs, &dev->pd);
	if (ret)
		goto out_free;
	ret = -ENOMEM;
	dev->pools = calloc(cm.nr_pgs, sizeof(*dev->pools));
	if (!dev->pools)
		goto out_free;
	for (i = 0; i < cm.nr_pgs; i++) {
		ret = dn_rdma_pool_create(dev->pd, cm.pool_bufs, &dev->pools[i]);
		if (ret)
			goto out_free;
	}
	cm_hold_dev(dev, local);
	dev->next = cm.devs;
	cm.devs = dev;
	dn_dbg("rdma: device %s: max_qp_wr %d, max_qp_init_rd_atom %d",
	       ibv_get_device_name(verbs->device), dev->attr.max_qp_wr,
	       dev->attr.max_qp_init_rd_atom);
	dn_info("rdma: device %s: %u data buffers of %u KiB for each of %u poll groups, "
		"registered in %llu ms",
		ibv_get_device_name(verbs->device), cm.pool_bufs, DN_TGT_MAX_XFER / 1024, cm.nr_pgs,
		(unsigned long long)(dn_now_ms() - t0));
	*out = dev;
	return 0;

out_free:
	dn_err("rdma: device %s: %s", ibv_get_device_name(verbs->device), strerror(-ret));
	cm_free_dev(dev);
	return ret;
}

static unsigned int cm_pick_group(void)
{
	unsigned int i, best = 0;

	for (i = 1; i < cm.nr_pgs; i++)
		if (dn_pg_load(cm.pgs[i]) < dn_pg_load(cm.pgs[best]))
			best = i;
	return best;
}

static void cm_reject(struct rdma_cm_id *id, const char *peer, int status, const char *detail)
{
	struct nvme_rdma_cm_rej rej = {.recfmt = htole16(NVME_RDMA_CM_FMT_1_0),
				       .sts = htole16((uint16_t)status)};
	int ret;

	dn_warn("rdma: refusing connection from %s: %s%s%s", peer, nvme_rdma_cm_status_str(status),
		detail ? ": " : "", detail ? detail : "");
	ret = dn_rdma_reject(id, &rej, sizeof(rej));
	if (ret)
		dn_warn("rdma: rdma_reject to %s: %s", peer, strerror(-ret));
	ret = dn_rdma_destroy_id(id);
	if (ret)
		dn_warn("rdma: rdma_destroy_id: %s", strerror(-ret));
}

/* The event was acknowledged already: only ids and the copied fields are used here. */
static void cm_connect_request(struct rdma_cm_id *id, struct dn_rdma_listener *l,
			       const uint8_t *priv, size_t priv_len, uint8_t initiator_depth)
{
	struct rdma_conn_param param = {0};
	struct nvme_rdma_cm_rep rep = {0};
	uint16_t qid = 0, nr_recv = 0, hrqsize = 0;
	struct dn_poll_group *pg;
	struct dn_rdma_queue *rq;
	struct dn_rdma_dev *dev;
	char peer[64], detail[96];
	uint64_t t0 = dn_now_ms();
	unsigned int pgi;
	uint8_t ird;
	int st, ret;

	dn_sockaddr_str(rdma_get_peer_addr(id), peer, sizeof(peer));
	st = dn_rdma_parse_cm_req(priv, priv_len, &qid, &nr_recv, &hrqsize);
	if (st) {
		const struct nvme_rdma_cm_req *r = (const void *)priv;

		if (priv && priv_len >= sizeof(*r))
			snprintf(detail, sizeof(detail), "recfmt %u qid %u hsqsize %u hrqsize %u",
				 le16toh(r->recfmt), le16toh(r->qid), le16toh(r->hsqsize),
				 le16toh(r->hrqsize));
		else
			snprintf(detail, sizeof(detail), "%zu bytes of private data", priv_len);
		cm_reject(id, peer, st, detail);
		return;
	}
	if (cm_get_dev(id->verbs, rdma_get_local_addr(id), &dev)) {
		cm_reject(id, peer, NVME_RDMA_CM_NO_RSC, "no protection domain or data buffers");
		return;
	}
	ird = initiator_depth;
	if (ird > dev->attr.max_qp_init_rd_atom)
		ird = (uint8_t)dev->attr.max_qp_init_rd_atom;
	if (ird > DN_RDMA_MAX_INITIATOR_DEPTH)
		ird = DN_RDMA_MAX_INITIATOR_DEPTH;
	if (!ird) {
		/* the host offers no responder resources: RDMA READ of its data is impossible */
		cm_reject(id, peer, NVME_RDMA_CM_INVALID_ORD, "host responder resources 0");
		return;
	}
	/* the group first: the queue's data buffers are that group's */
	pgi = cm_pick_group();
	pg = cm.pgs[pgi];
	ret = dn_rdma_queue_create(id, dev, dev->pools[pgi], qid, nr_recv, hrqsize, ird, &rq);
	if (ret) {
		snprintf(detail, sizeof(detail), "qid %u, %u entries: %s", qid, nr_recv,
			 strerror(-ret));
		cm_reject(id, peer, NVME_RDMA_CM_NO_RSC, detail);
		return;
	}
	rq->listener = l;

	rep.recfmt = htole16(NVME_RDMA_CM_FMT_1_0);
	rep.crqsize = htole16(nr_recv);
	param.private_data = &rep;
	param.private_data_len = sizeof(rep);
	param.initiator_depth = ird;
	param.responder_resources = 0; /* the host never reads from us */
	param.flow_control = 1;
	param.rnr_retry_count = 7;
	param.retry_count = 7;
	ret = dn_rdma_accept(id, &param);
	if (ret) {
		dn_warn("rdma: accepting %s qid %u: %s", peer, qid, strerror(-ret));
		dn_rdma_queue_free(rq);
		dn_rdma_destroy_id(id);
		return;
	}
	pthread_mutex_lock(&cm.queues_lock);
	rq->all_next = cm.queues;
	if (cm.queues)
		cm.queues->all_prev = &rq->all_next;
	rq->all_prev = &cm.queues;
	cm.queues = rq;
	pthread_mutex_unlock(&cm.queues_lock);
	dn_tgt_queue_init(&rq->q, &dn_rdma_ops, l->port, pg, qid, nr_recv, peer);
	dn_dbg("rdma: %s qid %u: accepted in %llu ms, %u entries, initiator depth %u, on %s", peer,
	       qid, (unsigned long long)(dn_now_ms() - t0), nr_recv, ird, dn_pg_name(pg));
	ret = dn_rdma_queue_adopt(rq);
	if (ret) {
		/* unreachable group: the queue cannot run; the core deletes it via lost */
		dn_err("rdma: %s qid %u: handing the queue to %s: %s", peer, qid, dn_pg_name(pg),
		       strerror(-ret));
		dn_rdma_queue_lost(rq, "poll group unreachable");
	}
}

/* Main thread: the device went; it is released by dn_rdma_tick() once its queues are gone. */
static void cm_dev_removed(struct dn_rdma_dev *dev)
{
	if (dev->removed)
		return;
	dev->removed = true;
	dn_err("rdma: device %s was removed: ending its %u queues",
	       ibv_get_device_name(dev->verbs->device), atomic_load(&dev->nr_queues));
}

static struct dn_rdma_dev *cm_find_dev(struct ibv_context *verbs)
{
	struct dn_rdma_dev *dev;

	for (dev = cm.devs; dev; dev = dev->next)
		if (dev->verbs == verbs)
			return dev;
	return NULL;
}

static void cm_listener_event(struct dn_rdma_listener *l, const struct rdma_cm_event *ev)
{
	struct dn_rdma_dev *dev;

	if (ev->event != RDMA_CM_EVENT_DEVICE_REMOVAL) {
		dn_dbg("rdma: listener %s: %s", l->addr, rdma_event_str(ev->event));
		return;
	}
	dn_err("rdma: listener %s: its RDMA device was removed; listening again when the "
	       "address has one",
	       l->addr);
	dev = cm_find_dev(ev->id->verbs);
	if (dev)
		cm_dev_removed(dev);
	l->destroy_id = true;
}

static void cm_queue_event(struct dn_rdma_queue *rq, const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_ESTABLISHED:
		atomic_fetch_or(&rq->flags, DN_RDMA_Q_ESTABLISHED);
		dn_dbg("rdma: %s qid %u: established", rq->q.peer_addr, rq->q.qid);
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
		dn_rdma_queue_lost(rq, "disconnected");
		break;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		cm_dev_removed(rq->dev);
		/* fall through */
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_REJECTED:
		if (!(atomic_load(&rq->flags) & DN_RDMA_Q_DELETING))
			dn_warn("rdma: %s qid %u: %s (status %d)", rq->q.peer_addr, rq->q.qid,
				rdma_event_str(ev->event), ev->status);
		dn_rdma_queue_lost(rq, rdma_event_str(ev->event));
		break;
	default:
		dn_dbg("rdma: %s qid %u: %s", rq->q.peer_addr, rq->q.qid,
		       rdma_event_str(ev->event));
		break;
	}
}

static void cm_handle_event(struct rdma_cm_event *ev)
{
	void *ctx = ev->id->context;
	int kind, ret;

	if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
		uint8_t priv[256];
		size_t len = ev->param.conn.private_data_len;
		struct rdma_cm_id *id = ev->id;
		struct dn_rdma_listener *l = ev->listen_id->context;
		/* as seen from our side: what the host's responder resources allow us */
		uint8_t initiator_depth = ev->param.conn.initiator_depth;
		bool has_priv = ev->param.conn.private_data != NULL;

		if (len > sizeof(priv))
			len = sizeof(priv);
		if (has_priv)
			memcpy(priv, ev->param.conn.private_data, len);
		/* ack before acting: rejecting destroys the id, which waits for this ack */
		ret = dn_rdma_ack_cm_event(ev);
		if (ret)
			dn_warn("rdma: rdma_ack_cm_event: %s", strerror(-ret));
		cm_connect_request(id, l, has_priv ? priv : NULL, has_priv ? len : 0,
				   initiator_depth);
		return;
	}
	/*
	 * Handle, then ack: a group thread destroying this queue waits in rdma_destroy_id()
	 * for the ack, so the queue is alive while we look at it.
	 */
	kind = ctx ? (int)*(enum dn_rdma_ctx_kind *)ctx : 0;
	if (kind == DN_RDMA_CTX_QUEUE)
		cm_queue_event(ctx, ev);
	else if (kind == DN_RDMA_CTX_LISTENER)
		cm_listener_event(ctx, ev);
	else if (kind == DN_RDMA_CTX_DEV && ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL)
		cm_dev_removed(ctx);
	ret = dn_rdma_ack_cm_event(ev);
	if (ret)
		dn_warn("rdma: rdma_ack_cm_event: %s", strerror(-ret));
	/* an id is destroyed only once its events are acknowledged */
	if (kind == DN_RDMA_CTX_LISTENER && ((struct dn_rdma_listener *)ctx)->destroy_id) {
		struct dn_rdma_listener *l = ctx;

		l->destroy_id = false;
		dn_rdma_destroy_id(l->cm_id);
		l->cm_id = NULL;
	}
}

static void cm_channel_cb(struct dn_event *dev, const struct io_uring_cqe *cqe)
{
	struct rdma_cm_event *ev;
	int ret;

	if (cqe->res < 0 && cqe->res != -ECANCELED)
		dn_err("rdma: rdma_cm channel poll: %s", strerror(-cqe->res));
	while ((ret = dn_rdma_get_cm_event(cm.ch, &ev)) == 0)
		cm_handle_event(ev);
	if (ret != -EAGAIN)
		dn_err("rdma: rdma_get_cm_event: %s", strerror(-ret));
	if (cqe->res == -ECANCELED)
		return;
	ret = dn_pg_poll_add(cm.main_pg, cm.ch->fd, POLLIN, &cm.ch_ev);
	if (ret)
		dn_err("rdma: cannot watch the rdma_cm channel: %s", strerror(-ret));
}

int dn_rdma_init(struct dn_poll_group *main_pg, struct dn_poll_group **pgs, unsigned int nr_pgs,
		 unsigned int data_buffers_mib)
{
	int ret;

	cm.main_pg = main_pg;
	cm.pgs = pgs;
	cm.nr_pgs = nr_pgs;
	cm.pool_bufs = dn_rdma_pool_bufs_for_mib(data_buffers_mib ? data_buffers_mib
								  : DN_RDMA_POOL_DEFAULT_MIB);
	cm.ch_ev.cb = cm_channel_cb;
	ret = dn_rdma_create_event_channel(&cm.ch);
	if (ret) {
		dn_err("rdma: cannot create an rdma_cm event channel: %s", strerror(-ret));
		return ret;
	}
	ret = dn_fd_set_nonblock(cm.ch->fd);
	if (!ret)
		ret = dn_pg_poll_add(main_pg, cm.ch->fd, POLLIN, &cm.ch_ev);
	if (ret) {
		rdma_destroy_event_channel(cm.ch);
		cm.ch = NULL;
		return ret;
	}
	return 0;
}

/*
 * Main thread: bind and listen on l->ss. quiet: a retry after the device went, which fails
 * until it is back (no message each second).
 */
static int cm_listener_open(struct dn_rdma_listener *l, bool quiet)
{
	int ret;

	ret = dn_rdma_create_id(cm.ch, &l->cm_id, l);
	if (ret) {
		l->cm_id = NULL;
		return ret;
	}
	ret = dn_rdma_bind_addr(l->cm_id, (struct sockaddr *)&l->ss);
	if (ret) {
		if (!quiet)
			dn_err("rdma: cannot bind %s: %s (is an RDMA device on that address?)",
			       l->addr, strerror(-ret));
		goto out_destroy_id;
	}
	/* bound to a device's address: its buffers now, before the first host comes */
	if (l->cm_id->verbs) {
		struct dn_rdma_dev *dev;

		ret = cm_get_dev(l->cm_id->verbs, (struct sockaddr *)&l->ss, &dev);
		if (ret)
			goto out_destroy_id;
	}
	ret = dn_rdma_listen(l->cm_id, LISTEN_BACKLOG);
	if (ret) {
		dn_err("rdma: cannot listen on %s: %s", l->addr, strerror(-ret));
		goto out_destroy_id;
	}
	return 0;

out_destroy_id:
	dn_rdma_destroy_id(l->cm_id);
	l->cm_id = NULL;
	return ret;
}

int dn_rdma_listen_port(struct dn_tgt_port *port)
{
	struct dn_rdma_listener *l, **arr;
	int ret;

	if (port->trtype != NVMF_TRTYPE_RDMA) {
		dn_err("port %u: transport type %u is not rdma", port->portid, port->trtype);
		return -EPROTONOSUPPORT;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	ret = dn_sockaddr_parse(port->traddr, port->trsvcid,
				port->adrfam == NVMF_ADDR_FAMILY_IP6 ? AF_INET6 : AF_INET, &l->ss);
	if (ret) {
		dn_err("port %u: bad address %s:%s", port->portid, port->traddr, port->trsvcid);
		goto out_free;
	}
	ret = -ENOMEM;
	arr = realloc(cm.listeners, (cm.nr_listeners + 1) * sizeof(*arr));
	if (!arr)
		goto out_free;
	cm.listeners = arr;
	l->kind = DN_RDMA_CTX_LISTENER;
	l->port = port;
	dn_sockaddr_str((struct sockaddr *)&l->ss, l->addr, sizeof(l->addr));
	ret = cm_listener_open(l, false);
	if (ret)
		goto out_free;
	port->transport_priv = l;
	cm.listeners[cm.nr_listeners++] = l;
	dn_info("listening on rdma %s (port %u)", l->addr, port->portid);
	return 0;

out_free:
	free(l);
	return ret;
}

/* Main thread: release removed devices whose queues are all gone; true if one was. */
static bool cm_reap_devs(void)
{
	struct dn_rdma_dev **pp = &cm.devs, *dev;
	bool reaped = false;

	while ((dev = *pp)) {
		if (!dev->removed || atomic_load_explicit(&dev->nr_queues, memory_order_acquire)) {
			pp = &dev->next;
			continue;
		}
		*pp = dev->next;
		dn_info("rdma: device %s released", ibv_get_device_name(dev->verbs->device));
		cm_free_dev(dev);
		reaped = true;
	}
	return reaped;
}

void dn_rdma_tick(void)
{
	size_t i;

	if (!cm.ch)
		return;
	/* a released device's context goes now; others' (never used by us) every few ticks */
	if (cm_reap_devs() || ++cm.ticks % RDMA_DEVICES_CHECK_TICKS == 0)
		dn_rdma_forget_removed_devices();
	for (i = 0; i < cm.nr_listeners; i++) {
		struct dn_rdma_listener *l = cm.listeners[i];

		if (l->cm_id || cm_listener_open(l, true))
			continue;
		dn_notice("listening on rdma %s (port %u) again", l->addr, l->port->portid);
	}
}

/* Group thread, the queue is being destroyed. */
void dn_rdma_queue_unlist(struct dn_rdma_queue *rq)
{
	pthread_mutex_lock(&cm.queues_lock);
	*rq->all_prev = rq->all_next;
	if (rq->all_next)
		rq->all_next->all_prev = rq->all_prev;
	pthread_mutex_unlock(&cm.queues_lock);
}

/*
 * Main thread, shutdown: dn_tgt_shutdown() ends every controller; queues that never got one
 * (no Connect yet) are ended here. Reporting them lost is idempotent for the others.
 */
void dn_rdma_end_all_queues(void)
{
	struct dn_rdma_queue *rq;

	pthread_mutex_lock(&cm.queues_lock);
	for (rq = cm.queues; rq; rq = rq->all_next)
		dn_rdma_queue_lost(rq, "target shutting down");
	pthread_mutex_unlock(&cm.queues_lock);
}

/* Main thread: no new connections (shutdown begins). */
void dn_rdma_stop_listening(void)
{
	size_t i;

	for (i = 0; i < cm.nr_listeners; i++) {
		struct dn_rdma_listener *l = cm.listeners[i];

		if (l->cm_id)
			dn_rdma_destroy_id(l->cm_id);
		l->port->transport_priv = NULL;
		free(l);
	}
	free(cm.listeners);
	cm.listeners = NULL;
	cm.nr_listeners = 0;
}

/* Main thread, after every queue was destroyed. */
void dn_rdma_fini(void)
{
	dn_rdma_stop_listening();
	while (cm.devs) {
		struct dn_rdma_dev *dev = cm.devs;

		cm.devs = dev->next;
		cm_free_dev(dev);
	}
	if (cm.ch) {
		rdma_destroy_event_channel(cm.ch);
		cm.ch = NULL;
	}
}
