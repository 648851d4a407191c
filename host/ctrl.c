// SPDX-License-Identifier: MIT
/*
 * NVMe-oF controllers on the host: admin queue bring-up (fabrics Connect, CAP/CC/CSTS through
 * Property Get/Set, Identify, Set Features), I/O queue IDs, and the controller thread that
 * keeps the association alive (Keep Alive at KATO/2), listens for Asynchronous Events, resets
 * and reconnects, and rescans namespaces; a scan's devices are created and removed on a scan
 * thread so that none of this waits for them.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rdma_util.h"
#include "host/backoff.h"
#include "host/ctrl.h"
#include "host/nvmf_cmd.h"

#define ADMIN_DEPTH	   32
#define ADMIN_DATA_LEN	   (64u << 10)
#define ADMIN_TIMEOUT_MS   10000
#define CONNECT_TIMEOUT_MS 3000
/* the Namespace Attribute Changed notice in the Asynchronous Event Configuration feature */
#define AEN_CFG_NS_ATTR		 (1u << 8)
#define AER_INFO_NS_ATTR_CHANGED 0x00

const char *dn_ctrl_state_str(enum dn_ctrl_state s)
{
	switch (s) {
	case DN_CTRL_NEW:
		return "connecting";
	case DN_CTRL_LIVE:
		return "live";
	case DN_CTRL_RESETTING:
		return "resetting";
	case DN_CTRL_DEAD:
		return "dead";
	case DN_CTRL_DELETING:
		return "deleting";
	}
	return "unknown";
}

static int admin_exec(struct dn_ctrl *c, struct nvme_sqe *sqe, void *data, uint32_t len,
		      bool to_ctrl, struct nvme_cqe *cqe, const char *what, struct dn_err *e)
{
	nvme_status_t st;
	int ret;

	ret = dn_hq_exec(&c->admin, sqe, data, len, to_ctrl, cqe, &st, ADMIN_TIMEOUT_MS, e);
	if (ret)
		return ret;
	if (st)
		return dn_err_set(e, nvme_status_to_errno(st) ?: -EIO,
				  "%s of %s failed: %s (status 0x%x)", what, c->o.subnqn,
				  nvme_status_str(st), st);
	return 0;
}

int dn_ctrl_fabrics_connect(struct dn_ctrl *c, struct dn_hq *q, uint32_t kato_ms, struct dn_err *e)
{
	struct nvmf_connect_data data;
	struct nvme_sqe sqe;
	struct nvme_cqe cqe;
	nvme_status_t st;
	uint32_t ipo;
	int ret;

	dn_sqe_connect(&sqe, q->qid, q->depth, kato_ms);
	if (dn_connect_data_init(&data, c->o.hostid, q->qid ? dn_ctrl_cntlid(c) : 0xffff,
				 c->o.subnqn, c->o.hostnqn))
		return dn_err_set(e, -EINVAL, "an NQN is longer than 255 bytes");
	ret = dn_hq_exec(q, &sqe, &data, sizeof(data), true, &cqe, &st, ADMIN_TIMEOUT_MS, e);
	if (ret)
		return ret;
	if (!st) {
		if (!q->qid)
			__atomic_store_n(&c->cntlid, le16toh(cqe.result.u16), __ATOMIC_RELEASE);
		return 0;
	}
	ipo = le32toh(cqe.result.u32);
	if (NVME_STATUS_SCT(st) == NVME_SCT_CMD_SPECIFIC) {
		switch (NVME_STATUS_SC(st)) {
		case NVME_SC_CONNECT_INVALID_HOST:
			return dn_err_set(e, -EACCES,
					  "%s refused host %s: it is not allowed on subsystem %s",
					  q->peer, c->o.hostnqn, c->o.subnqn);
		case NVME_SC_CONNECT_INVALID_PARAM:
			if (ipo == NVMF_IPO_IATTR_DATA(subsysnqn))
				return dn_err_set(e, -ENOENT, "%s has no subsystem %s", q->peer,
						  c->o.subnqn);
			if (ipo == NVMF_IPO_IATTR_DATA(hostnqn))
				return dn_err_set(e, -EACCES, "%s refused host %s for subsystem %s",
						  q->peer, c->o.hostnqn, c->o.subnqn);
			if (ipo == NVMF_IPO_IATTR_SQE(sqsize))
				return dn_err_set(e, -EINVAL,
						  "%s refused queue size %u for queue %u", q->peer,
						  q->depth, q->qid);
			break;
		case NVME_SC_CONNECT_CTRL_BUSY:
			return dn_err_set(e, -EBUSY, "controller %u of %s is busy",
					  dn_ctrl_cntlid(c), c->o.subnqn);
		}
	}
	return dn_err_set(e, nvme_status_to_errno(st) ?: -EIO,
			  "%s refused the connect of queue %u to %s: %s (status 0x%x, "
			  "attribute 0x%x)",
			  q->peer, q->qid, c->o.subnqn, nvme_status_str(st), st, ipo);
}

static int prop_get(struct dn_ctrl *c, uint32_t off, bool eight, uint64_t *val, struct dn_err *e)
{
	struct nvme_sqe sqe;
	struct nvme_cqe cqe;
	int ret;

	dn_sqe_prop_get(&sqe, off, eight);
	ret = admin_exec(c, &sqe, NULL, 0, false, &cqe, "Property Get", e);
	if (!ret)
		*val = eight ? le64toh(cqe.result.u64) : le32toh(cqe.result.u32);
	return ret;
}

static int prop_set(struct dn_ctrl *c, uint32_t off, uint32_t val, struct dn_err *e)
{
	struct nvme_sqe sqe;

	dn_sqe_prop_set(&sqe, off, val);
	return admin_exec(c, &sqe, NULL, 0, false, NULL, "Property Set", e);
}

static int enable(struct dn_ctrl *c, struct dn_err *e)
{
	uint32_t cc =
		1u << NVME_CC_EN_SHIFT | 6u << NVME_CC_IOSQES_SHIFT | 4u << NVME_CC_IOCQES_SHIFT;
	uint64_t csts;
	int64_t end;
	int ret;

	ret = prop_get(c, NVMF_PROP_CAP, true, &c->cap, e);
	if (ret)
		return ret;
	ret = prop_set(c, NVMF_PROP_CC, cc, e);
	if (ret)
		return ret;
	/* CAP.TO is in 500 ms units */
	end = dn_now_ms() + (NVME_CAP_TO(c->cap) ? NVME_CAP_TO(c->cap) : 1) * 500 + 1000;
	for (;;) {
		ret = prop_get(c, NVMF_PROP_CSTS, false, &csts, e);
		if (ret)
			return ret;
		if (NVME_CSTS_CFS(csts))
			return dn_err_set(e, -EIO, "controller of %s reports a fatal status",
					  c->o.subnqn);
		if (NVME_CSTS_RDY(csts))
			return 0;
		if (dn_now_ms() > end)
			return dn_err_set(e, -ETIMEDOUT, "controller of %s did not become ready",
					  c->o.subnqn);
		usleep(20000);
	}
}

static void set_caps(struct dn_ctrl *c)
{
	uint32_t ioccsz = le32toh(c->id->ioccsz) * 16;
	int qs = c->o.queue_size, mqes = NVME_CAP_MQES(c->cap) + 1;

	pthread_mutex_lock(&c->lock);
	c->caps.max_xfer = dn_mdts_bytes(c->id->mdts, c->cap);
	c->caps.incapsule = ioccsz > sizeof(struct nvme_sqe) ? ioccsz - sizeof(struct nvme_sqe) : 0;
	c->caps.oncs = le16toh(c->id->oncs);
	c->caps.vwc = c->id->vwc & NVME_CTRL_VWC_PRESENT;
	if (qs > mqes)
		qs = mqes;
	c->caps.queue_size = (uint16_t)qs;
	c->caps.nr_queues = (uint16_t)c->o.nr_io_queues;
	pthread_mutex_unlock(&c->lock);
}

/* Admin queue bring-up: the first connect and every reconnect. */
static int admin_up(struct dn_ctrl *c, struct dn_err *e)
{
	struct dn_hq_opts ho = {
		.traddr = c->o.traddr,
		.trsvcid = c->o.trsvcid,
		.host_traddr = c->o.host_traddr,
		.qid = 0,
		.depth = ADMIN_DEPTH,
		.data_len = ADMIN_DATA_LEN,
		.timeout_ms = CONNECT_TIMEOUT_MS,
	};
	struct nvme_sqe sqe;
	int ret;

	ret = dn_hq_connect(&c->admin, &ho, e);
	if (ret)
		return ret;
	ret = dn_ctrl_fabrics_connect(c, &c->admin, (uint32_t)c->o.kato * 1000, e);
	if (ret)
		goto out_destroy_admin;
	ret = enable(c, e);
	if (ret)
		goto out_destroy_admin;
	dn_sqe_identify(&sqe, NVME_IDENTIFY_CNS_CTRL, 0);
	ret = admin_exec(c, &sqe, c->id, sizeof(*c->id), false, NULL, "Identify Controller", e);
	if (ret)
		goto out_destroy_admin;
	return 0;

out_destroy_admin:
	dn_hq_destroy(&c->admin);
	return ret;
}

int dn_ctrl_connect(struct dn_ctrl *c, struct dn_err *e)
{
	int ret;

	pthread_mutex_init(&c->lock, NULL);
	c->stop_fd = -1;
	c->reset_fd = -1;
	c->scan_done_fd = -1;
	c->id = dn_memalign(4096, sizeof(*c->id));
	if (!c->id)
		return dn_err_set(e, -ENOMEM, "out of memory");
	ret = admin_up(c, e);
	if (ret) {
		free(c->id);
		c->id = NULL;
		return ret;
	}
	set_caps(c);
	dn_info("connected to %s at %s:%s, controller %u", c->o.subnqn, c->o.traddr, c->o.trsvcid,
		c->cntlid);
	return 0;
}

/* Number of queues and the events we want: after every (re)connect of the admin queue. */
static int admin_features(struct dn_ctrl *c, struct dn_err *e)
{
	struct nvme_sqe sqe;
	struct nvme_cqe cqe;
	int ret, n = c->o.nr_io_queues * 8;
	uint16_t granted;

	/* every device gets its own I/O queues: ask for room for several */
	if (n > DN_MAX_QID)
		n = DN_MAX_QID;
	dn_sqe_set_features(&sqe, NVME_FEAT_FID_NUM_QUEUES, dn_num_queues_cdw11((uint16_t)n));
	ret = admin_exec(c, &sqe, NULL, 0, false, &cqe, "Set Features (Number of Queues)", e);
	if (ret)
		return ret;
	granted = dn_num_queues_granted(le32toh(cqe.result.u32));
	if (granted > DN_MAX_QID)
		granted = DN_MAX_QID;
	/* a reconnect runs while scan and queue threads read them */
	pthread_mutex_lock(&c->lock);
	c->max_qid = granted;
	if (c->caps.nr_queues > granted)
		c->caps.nr_queues = granted;
	pthread_mutex_unlock(&c->lock);
	dn_sqe_set_features(&sqe, NVME_FEAT_FID_ASYNC_EVENT, AEN_CFG_NS_ATTR);
	if (admin_exec(c, &sqe, NULL, 0, false, NULL, "Set Features (Async Event Config)", e)) {
		dn_warn("%s", e->msg);
		dn_err_clear(e);
	}
	return 0;
}

void dn_ctrl_disconnect(struct dn_ctrl *c)
{
	uint64_t csts;
	int i;

	if (c->admin.id && !c->admin.failed) {
		struct dn_err e = {0};
		uint32_t cc = 1u << NVME_CC_EN_SHIFT | 6u << NVME_CC_IOSQES_SHIFT |
			      4u << NVME_CC_IOCQES_SHIFT | NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT;

		/* a normal shutdown tells the target this host is done, before the QP goes */
		if (!prop_set(c, NVMF_PROP_CC, cc, &e)) {
			for (i = 0; i < 50; i++) {
				if (prop_get(c, NVMF_PROP_CSTS, false, &csts, &e) ||
				    NVME_CSTS_SHST(csts) == NVME_CSTS_SHST_CMPLT)
					break;
				usleep(20000);
			}
		}
	}
	dn_hq_destroy(&c->admin);
	free(c->id);
	c->id = NULL;
}

int dn_ctrl_io_exec(struct dn_ctrl *c, struct nvme_sqe *sqe, void *data, uint32_t len, bool to_ctrl,
		    struct nvme_cqe *cqe, nvme_status_t *st, struct dn_err *e)
{
	struct dn_hq_opts ho = {
		.traddr = c->o.traddr,
		.trsvcid = c->o.trsvcid,
		.host_traddr = c->o.host_traddr,
		.depth = 2, /* the smallest queue: one command and the slot NVMe/RDMA keeps free */
		.data_len = DN_CTRL_IO_EXEC_MAX,
		.timeout_ms = ADMIN_TIMEOUT_MS,
	};
	struct dn_hq q;
	int ret, qid;

	if (len > DN_CTRL_IO_EXEC_MAX)
		return dn_err_set(e, -EINVAL, "%u bytes of data, at most %u", len,
				  DN_CTRL_IO_EXEC_MAX);
	if (dn_ctrl_state(c) != DN_CTRL_LIVE)
		return dn_err_set(e, -EAGAIN, "%s at %s:%s is %s, not live", c->o.subnqn,
				  c->o.traddr, c->o.trsvcid, dn_ctrl_state_str(dn_ctrl_state(c)));
	qid = dn_ctrl_alloc_qid(c);
	if (qid < 0)
		return dn_err_set(e, -EBUSY, "%s granted no I/O queue beyond those its devices use",
				  c->o.subnqn);
	ho.qid = (uint16_t)qid;
	ret = dn_hq_connect(&q, &ho, e);
	if (ret)
		goto out_free_qid;
	ret = dn_ctrl_fabrics_connect(c, &q, 0, e);
	if (!ret)
		ret = dn_hq_exec(&q, sqe, data, len, to_ctrl, cqe, st, ADMIN_TIMEOUT_MS, e);
	dn_hq_destroy(&q);
out_free_qid:
	dn_ctrl_free_qid(c, qid);
	return ret;
}

int dn_ctrl_get_discovery_log(struct dn_ctrl *c, void **log, uint32_t *len, struct dn_err *e)
{
	struct nvmf_discovery_log hdr;
	uint64_t genctr, numrec;
	uint32_t total, off, chunk;
	uint8_t *buf;
	struct nvme_sqe sqe;
	int ret, tries;

	for (tries = 0; tries < 10; tries++) {
		dn_sqe_get_log(&sqe, NVME_LOG_LID_DISCOVER, 0, 0, sizeof(hdr));
		ret = admin_exec(c, &sqe, &hdr, sizeof(hdr), false, NULL, "Get Log Page", e);
		if (ret)
			return ret;
		genctr = le64toh(hdr.genctr);
		numrec = le64toh(hdr.numrec);
		if (numrec > 1024)
			return dn_err_set(e, -EPROTO, "%s:%s reports %llu discovery records",
					  c->o.traddr, c->o.trsvcid, (unsigned long long)numrec);
		total = sizeof(hdr) + (uint32_t)numrec * sizeof(struct nvmf_disc_log_entry);
		buf = malloc(total);
		if (!buf)
			return dn_err_set(e, -ENOMEM, "out of memory");
		for (off = 0; off < total; off += chunk) {
			chunk = total - off < ADMIN_DATA_LEN ? total - off : ADMIN_DATA_LEN;
			dn_sqe_get_log(&sqe, NVME_LOG_LID_DISCOVER, 0, off, chunk);
			ret = admin_exec(c, &sqe, buf + off, chunk, false, NULL, "Get Log Page", e);
			if (ret) {
				free(buf);
				return ret;
			}
		}
		/* the log changed while we read it when the generation counter moved */
		if (le64toh(((struct nvmf_discovery_log *)buf)->genctr) == genctr) {
			*log = buf;
			*len = total;
			return 0;
		}
		free(buf);
	}
	return dn_err_set(e, -EAGAIN, "the discovery log kept changing while being read");
}

int dn_ctrl_alloc_qid(struct dn_ctrl *c)
{
	int q, ret = -EBUSY;

	pthread_mutex_lock(&c->lock);
	for (q = 1; q <= c->max_qid && q <= DN_MAX_QID; q++) {
		if (!c->qid_used[q]) {
			c->qid_used[q] = true;
			ret = q;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void dn_ctrl_free_qid(struct dn_ctrl *c, int qid)
{
	pthread_mutex_lock(&c->lock);
	if (qid > 0 && qid <= DN_MAX_QID)
		c->qid_used[qid] = false;
	pthread_mutex_unlock(&c->lock);
}

/* ---- namespaces ---- */

static struct dn_ns_dev *find_ns(struct dn_ctrl *c, uint32_t nsid)
{
	int i;

	for (i = 0; i < c->nr_ns_devs; i++)
		if (c->ns_devs[i]->info.nsid == nsid)
			return c->ns_devs[i];
	return NULL;
}

static void remove_ns(struct dn_ctrl *c, struct dn_ns_dev *d)
{
	uint32_t nsid = d->info.nsid;
	int i, dev_id = d->dev_id;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nr_ns_devs; i++) {
		if (c->ns_devs[i] == d) {
			c->ns_devs[i] = c->ns_devs[--c->nr_ns_devs];
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	dn_info("%s namespace %u: %s:%s leaves /dev/ublkb%d", c->o.subnqn, nsid, c->o.traddr,
		c->o.trsvcid, dev_id);
	/* d may be gone after this */
	if (dn_ns_dev_remove_path(d, c))
		dn_info("%s namespace %u: /dev/ublkb%d removed", c->o.subnqn, nsid, dev_id);
}

/* ---- the controller thread ---- */

static void ka_done(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st,
		    const struct nvme_cqe *cqe)
{
	struct dn_ctrl *c = container_of(q, struct dn_ctrl, admin);

	c->ka_outstanding = false;
	if (st && NVME_STATUS_SCT(st) != NVME_SCT_PATH)
		dn_warn("%s: keep alive failed: %s", c->o.subnqn, nvme_status_str(st));
}

static int submit_aer(struct dn_ctrl *c);

static void aer_done(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st,
		     const struct nvme_cqe *cqe)
{
	struct dn_ctrl *c = container_of(q, struct dn_ctrl, admin);
	uint32_t res = le32toh(cqe->result.u32);

	c->aer_outstanding = false;
	if (st)
		return; /* aborted at shutdown, or the queue failed */
	if ((res & 0x7) == NVME_AER_NOTICE && ((res >> 8) & 0xff) == AER_INFO_NS_ATTR_CHANGED) {
		dn_info("%s: namespace attributes changed, rescanning", c->o.subnqn);
		c->rescan = true;
	} else {
		dn_info("%s: asynchronous event 0x%x", c->o.subnqn, res);
	}
	submit_aer(c);
}

static int submit_async(struct dn_ctrl *c, void (*build)(struct nvme_sqe *), dn_hq_done_fn done)
{
	struct dn_hq_req *r = dn_hq_get_req(&c->admin);
	int ret;

	if (!r)
		return -EBUSY;
	build(r->sqe);
	nvme_sgl_set_null(&r->sqe->common.dptr);
	r->done = done;
	ret = dn_hq_submit(&c->admin, r, 0);
	if (ret)
		dn_hq_put_req(&c->admin, r);
	return ret;
}

static int submit_aer(struct dn_ctrl *c)
{
	int ret = submit_async(c, dn_sqe_async_event, aer_done);

	if (!ret)
		c->aer_outstanding = true;
	return ret;
}

static void remove_all_ns(struct dn_ctrl *c)
{
	while (c->nr_ns_devs)
		remove_ns(c, c->ns_devs[c->nr_ns_devs - 1]);
}

/*
 * Controller thread: send Keep Alive when it is due. -ETIMEDOUT when the last one is still
 * unanswered (next_ka stays due: the loop resets the controller), -EIO when it cannot be sent.
 */
static int keep_alive_if_due(struct dn_ctrl *c)
{
	int64_t now = dn_now_ms();

	if (c->ka_ms <= 0 || now < c->next_ka)
		return 0;
	if (c->ka_outstanding)
		return -ETIMEDOUT;
	if (submit_async(c, dn_sqe_keep_alive, ka_done))
		return -EIO;
	c->ka_outstanding = true;
	c->next_ka = now + c->ka_ms;
	return 0;
}

/* ---- namespace scans ---- */

/*
 * A scan in two halves. The controller thread owns the admin queue: it reads the active
 * namespace list and identifies each namespace (short commands, with Keep Alive sent between
 * them when due) into a job. The scan thread then brings the devices in line with the job:
 * creating a device registers buffers, connects its I/O queues and starts ublk, which takes
 * long enough (hundreds of ms per device, far more under emulation) that a controller thread
 * doing it would miss its keep-alive deadline. Meanwhile the controller thread keeps running
 * its loop: Keep Alive, AENs (a rescan waits for the running one), CM events and resets.
 */
struct scan_ns {
	uint32_t nsid;
	bool ok; /* identified; a namespace that failed Identify keeps the device it has */
	struct dn_ns_info info;
};

struct dn_scan_job {
	struct dn_ctrl *c;
	uint32_t gen; /* the association the job was identified on */
	int ret;      /* 0 or the -errno of the last failure, which err describes */
	struct dn_err err;
	int nr;
	struct scan_ns ns[];
};

/* Controller thread: the Identify half. */
static int scan_identify(struct dn_ctrl *c, struct dn_scan_job **out, struct dn_err *e)
{
	struct dn_scan_job *job = NULL;
	uint32_t *list, nsid;
	struct nvme_id_ns *idns;
	struct nvme_sqe sqe;
	int j, nr, ret;

	list = dn_memalign(4096, 4096);
	idns = dn_memalign(4096, sizeof(*idns));
	if (!list || !idns) {
		ret = dn_err_set(e, -ENOMEM, "out of memory");
		goto out_free;
	}
	dn_sqe_identify(&sqe, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0);
	ret = admin_exec(c, &sqe, list, 4096, false, NULL, "Identify Active Namespaces", e);
	if (ret)
		goto out_free;
	for (nr = 0; nr < 1024 && le32toh(list[nr]); nr++)
		;
	job = calloc(1, sizeof(*job) + nr * sizeof(job->ns[0]));
	if (!job) {
		ret = dn_err_set(e, -ENOMEM, "out of memory");
		goto out_free;
	}
	job->c = c;
	job->gen = dn_ctrl_gen(c);
	job->nr = nr;
	for (j = 0; j < nr; j++) {
		struct scan_ns *n = &job->ns[j];
		struct dn_err ne = {0};

		n->nsid = nsid = le32toh(list[j]);
		/* a long list is many round trips: the association must not lapse meanwhile */
		keep_alive_if_due(c);
		dn_sqe_identify(&sqe, NVME_IDENTIFY_CNS_NS, nsid);
		if (admin_exec(c, &sqe, idns, sizeof(*idns), false, NULL, "Identify Namespace",
			       &ne) ||
		    dn_ns_info_parse(idns, nsid, &n->info, &ne)) {
			job->ret = dn_err_set(&job->err, ne.code, "%s", ne.msg);
			continue;
		}
		/* the identifiers multipath keys on; optional for the controller */
		dn_sqe_identify(&sqe, NVME_IDENTIFY_CNS_NS_DESC_LIST, nsid);
		if (!admin_exec(c, &sqe, idns, sizeof(*idns), false, NULL, "Identify Descriptors",
				&ne) &&
		    dn_ns_descs_parse(idns, sizeof(*idns), &n->info))
			dn_warn("%s namespace %u: malformed identification descriptors",
				c->o.subnqn, nsid);
		n->ok = true;
	}
	*out = job;
out_free:
	free(idns);
	free(list);
	return ret;
}

static bool job_has(const struct dn_scan_job *job, uint32_t nsid)
{
	int j;

	for (j = 0; j < job->nr; j++)
		if (job->ns[j].nsid == nsid)
			return true;
	return false;
}

/*
 * Scan threads of different controllers run at once (the daemon connects several at a time):
 * looking for a device the namespace already has and making one must be a single step, or two
 * paths to one namespace would make two devices.
 */
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

/* Scan thread: a device for the namespace, new or as another path to an existing one. */
static int attach_ns(struct dn_ctrl *c, const struct dn_ns_info *info, struct dn_ns_dev **out,
		     struct dn_err *e)
{
	struct dn_ns_dev *d;
	int ret = 0;

	pthread_mutex_lock(&attach_lock);
	d = dn_ns_dev_find_path(c, info);
	if (d) {
		/* the namespace already has a device through another controller */
		ret = dn_ns_dev_add_path(d, c, info, e);
		if (!ret)
			dn_info("%s namespace %u: %s:%s is another path to /dev/ublkb%d",
				c->o.subnqn, info->nsid, c->o.traddr, c->o.trsvcid, d->dev_id);
	} else {
		ret = dn_ns_dev_create(c, info, &d, e);
	}
	pthread_mutex_unlock(&attach_lock);
	if (!ret)
		*out = d;
	return ret;
}

/* a device's blocks: another path's scan may resize it (dn_ns_dev_resize, under attach_lock) */
static uint64_t ns_blocks(const struct dn_ns_dev *d)
{
	return __atomic_load_n(&d->info.nsze, __ATOMIC_ACQUIRE);
}

/*
 * Scan thread: only the capacity changed; true when the device now has it, in place. Under
 * attach_lock: another path's scan may be at the same device (it then finds it done).
 */
static bool resize_ns(struct dn_ctrl *c, struct dn_ns_dev *d, const struct dn_ns_info *info)
{
	struct dn_err e = {0};
	uint64_t old;
	int ret = 0;

	pthread_mutex_lock(&attach_lock);
	old = ns_blocks(d);
	if (old != info->nsze)
		ret = dn_ns_dev_resize(d, info->nsze, &e);
	pthread_mutex_unlock(&attach_lock);
	if (ret) {
		dn_notice("%s namespace %u: %s", c->o.subnqn, info->nsid, e.msg);
		return false;
	}
	if (old != info->nsze)
		dn_notice("%s namespace %u resized from %llu to %llu blocks: /dev/ublkb%d resized "
			  "in place",
			  c->o.subnqn, info->nsid, (unsigned long long)old,
			  (unsigned long long)info->nsze, d->dev_id);
	return true;
}

/*
 * Scan thread: bring the devices in line with the job; the first error is kept in the job.
 * Only this thread writes ns_devs while it runs (under c->lock, for the readers).
 */
static void scan_apply(struct dn_ctrl *c, struct dn_scan_job *job)
{
	struct dn_err *e = &job->err;
	int i, j;

	/* gone: devices whose namespace is no longer in the list */
	for (i = c->nr_ns_devs - 1; i >= 0; i--)
		if (!job_has(job, c->ns_devs[i]->info.nsid))
			remove_ns(c, c->ns_devs[i]);
	for (j = 0; j < job->nr; j++) {
		const struct dn_ns_info *info = &job->ns[j].info;
		uint32_t nsid = job->ns[j].nsid;
		struct dn_ns_dev *d;
		struct dn_err ne = {0};

		if (__atomic_load_n(&c->scan_abort, __ATOMIC_ACQUIRE)) {
			job->ret = dn_err_set(e, -ECANCELED, "%s was disconnected during its scan",
					      c->o.subnqn);
			break;
		}
		if (!job->ns[j].ok)
			continue;
		d = find_ns(c, nsid);
		if (d) {
			if (ns_blocks(d) == info->nsze && d->info.lbs_shift == info->lbs_shift &&
			    d->info.read_only == info->read_only)
				continue;
			if (d->info.lbs_shift == info->lbs_shift &&
			    d->info.read_only == info->read_only && resize_ns(c, d, info))
				continue;
			/* a new block size or write protection, or no live resize: a new device */
			dn_notice("%s namespace %u changed (size %llu -> %llu blocks): recreating "
				  "its device",
				  c->o.subnqn, nsid, (unsigned long long)ns_blocks(d),
				  (unsigned long long)info->nsze);
			remove_ns(c, d);
		}
		if (c->nr_ns_devs >= DN_MAX_NS_DEVS) {
			job->ret =
				dn_err_set(e, -ENOSPC, "more than %d namespaces", DN_MAX_NS_DEVS);
			break;
		}
		if (attach_ns(c, info, &d, &ne)) {
			job->ret = dn_err_set(e, ne.code, "%s", ne.msg);
			continue;
		}
		pthread_mutex_lock(&c->lock);
		c->ns_devs[c->nr_ns_devs++] = d;
		pthread_mutex_unlock(&c->lock);
		/*
		 * The controller may have been reset while the device was made (its queues then
		 * hold a connection to the old association) and notify_queues() did not see it:
		 * once it is listed, have it look at the state again.
		 */
		dn_ns_dev_notify(d);
		dn_info("%s namespace %u: /dev/ublkb%d", c->o.subnqn, nsid, d->dev_id);
	}
}

static void *scan_thread(void *arg)
{
	struct dn_scan_job *job = arg;
	uint64_t one = 1;

	scan_apply(job->c, job);
	if (write(job->c->scan_done_fd, &one, sizeof(one)) < 0)
		dn_err("%s: cannot report the end of a scan: %s", job->c->o.subnqn,
		       strerror(errno));
	return NULL;
}

/* Controller thread: identify, then hand the device work to the scan thread. */
static int scan_start(struct dn_ctrl *c, struct dn_err *e)
{
	struct dn_scan_job *job = NULL;
	int ret;

	ret = scan_identify(c, &job, e);
	if (ret)
		return ret;
	ret = -pthread_create(&c->scan_thread, NULL, scan_thread, job);
	if (ret) {
		free(job);
		return dn_err_set(e, ret, "pthread_create: %s", strerror(-ret));
	}
	c->scan = job;
	return 0;
}

/* Controller thread: join the scan thread; its job's outcome in *e (the job is freed). */
static int scan_finish(struct dn_ctrl *c, struct dn_err *e)
{
	struct dn_scan_job *job = c->scan;
	uint64_t v;
	int ret;

	if (read(c->scan_done_fd, &v, sizeof(v)) < 0)
		dn_dbg("scan eventfd: %s", strerror(errno));
	pthread_join(c->scan_thread, NULL);
	c->scan = NULL;
	ret = job->ret;
	if (ret) {
		*e = job->err;
		/* a reset during the scan failed its devices: try again on the new association */
		if (dn_ctrl_gen(c) != job->gen || dn_ctrl_state(c) != DN_CTRL_LIVE)
			c->rescan = true;
	}
	free(job);
	return ret;
}

/* Controller thread: dn_ctrl_start() gets the initial scan's outcome. */
static void report_started(struct dn_ctrl *c, int ret)
{
	pthread_mutex_lock(&c->lock);
	c->start_result = ret;
	c->started = true;
	pthread_cond_signal(&c->started_cond);
	pthread_mutex_unlock(&c->lock);
}

enum dn_ctrl_state dn_ctrl_state(const struct dn_ctrl *c)
{
	return __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
}

uint16_t dn_ctrl_cntlid(const struct dn_ctrl *c)
{
	return __atomic_load_n(&c->cntlid, __ATOMIC_ACQUIRE);
}

void dn_ctrl_caps_get(struct dn_ctrl *c, struct dn_ctrl_caps *caps, uint16_t *max_qid)
{
	pthread_mutex_lock(&c->lock);
	if (caps)
		*caps = c->caps;
	if (max_qid)
		*max_qid = c->max_qid;
	pthread_mutex_unlock(&c->lock);
}

uint32_t dn_ctrl_gen(const struct dn_ctrl *c)
{
	return __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE);
}

bool dn_ctrl_may_hold_io(const struct dn_ctrl *c)
{
	switch (dn_ctrl_state(c)) {
	case DN_CTRL_NEW:
	case DN_CTRL_LIVE:
		return true;
	case DN_CTRL_RESETTING:
		/* a cancelled connect's device waits for no reconnect: see dn_ctrl_cancel() */
		return !__atomic_load_n(&c->io_failfast, __ATOMIC_ACQUIRE) &&
		       !__atomic_load_n(&c->scan_abort, __ATOMIC_ACQUIRE);
	default:
		return false;
	}
}

static void set_state(struct dn_ctrl *c, enum dn_ctrl_state s)
{
	__atomic_store_n(&c->state, s, __ATOMIC_RELEASE);
}

void dn_ctrl_request_reset(struct dn_ctrl *c)
{
	uint64_t one = 1;

	if (c->reset_fd >= 0 && write(c->reset_fd, &one, sizeof(one)) < 0)
		dn_warn("%s: cannot request a reset: %s", c->o.subnqn, strerror(errno));
}

/* Wake every queue of every device so it follows the controller's new state. */
static void notify_queues(struct dn_ctrl *c)
{
	int i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nr_ns_devs; i++)
		dn_ns_dev_notify(c->ns_devs[i]);
	if (c->starting)
		dn_ns_dev_notify(c->starting);
	pthread_mutex_unlock(&c->lock);
}

void dn_ctrl_set_starting(struct dn_ctrl *c, struct dn_ns_dev *d)
{
	pthread_mutex_lock(&c->lock);
	c->starting = d;
	pthread_mutex_unlock(&c->lock);
}

static void start_reset(struct dn_ctrl *c, const char *why, int64_t *next_try)
{
	if (dn_ctrl_state(c) != DN_CTRL_LIVE)
		return;
	dn_warn("%s at %s:%s: %s: resetting the controller", c->o.subnqn, c->o.traddr, c->o.trsvcid,
		why);
	set_state(c, DN_CTRL_RESETTING);
	c->loss_start_ms = dn_now_ms();
	c->backoff_ms = 0;
	dn_err_clear(&c->last_fail);
	/* the queues drop their connections and hold their I/O until the association is back */
	notify_queues(c);
	dn_hq_destroy(&c->admin);
	c->aer_outstanding = c->ka_outstanding = false;
	*next_try = dn_now_ms();
}

/* One reconnect attempt: 0, or the -errno of the step that failed (and *e says why) */
static int try_reconnect(struct dn_ctrl *c, struct dn_err *ep)
{
	struct dn_err e = {0};

	/*
	 * A device removed since the last attempt is released (its removal waits for that) and
	 * one that came in its place is found. The queues' verbs objects go before their ids.
	 */
	dn_rdma_forget_removed_devices();
	if (admin_up(c, &e))
		goto out_fail;
	if (strncmp(c->id->subnqn, c->o.subnqn, sizeof(c->id->subnqn))) {
		dn_err_set(&e, -ESTALE, "the controller now belongs to subsystem %.*s",
			   (int)sizeof(c->id->subnqn), c->id->subnqn);
		dn_hq_destroy(&c->admin);
		goto out_fail;
	}
	/*
	 * The new association's limits (a target restarted with another configuration): the I/O
	 * queues connect with its in-capsule size. Number of Queues clamps nr_queues after this.
	 */
	set_caps(c);
	if (admin_features(c, &e)) {
		dn_hq_destroy(&c->admin);
		goto out_fail;
	}
	__atomic_add_fetch(&c->gen, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&c->io_failfast, false, __ATOMIC_RELEASE);
	set_state(c, DN_CTRL_LIVE);
	submit_aer(c);
	dn_notice("%s at %s:%s: reconnected as controller %u after %lld ms", c->o.subnqn,
		  c->o.traddr, c->o.trsvcid, c->cntlid,
		  (long long)(dn_now_ms() - c->loss_start_ms));
	notify_queues(c);
	return 0;

out_fail:
	if (!e.code)
		e.code = -EIO;
	*ep = e;
	return e.code;
}

/* RESETTING: fail I/O from now on once fast_io_fail_tmo has passed; reconnecting goes on */
static void check_fast_io_fail(struct dn_ctrl *c)
{
	if (c->o.fast_io_fail_tmo < 0 || __atomic_load_n(&c->io_failfast, __ATOMIC_ACQUIRE) ||
	    dn_now_ms() - c->loss_start_ms < (int64_t)c->o.fast_io_fail_tmo * 1000)
		return;
	dn_warn("%s at %s:%s: not back within fast_io_fail_tmo (%d s): failing I/O while "
		"reconnecting",
		c->o.subnqn, c->o.traddr, c->o.trsvcid, c->o.fast_io_fail_tmo);
	__atomic_store_n(&c->io_failfast, true, __ATOMIC_RELEASE);
	notify_queues(c);
}

/* When the controller thread must wake up while RESETTING */
static int64_t resetting_due(const struct dn_ctrl *c, int64_t next_try)
{
	int64_t due = next_try;

	if (c->o.fast_io_fail_tmo >= 0 && !__atomic_load_n(&c->io_failfast, __ATOMIC_ACQUIRE)) {
		int64_t ff = c->loss_start_ms + (int64_t)c->o.fast_io_fail_tmo * 1000;

		if (ff < due)
			due = ff;
	}
	return due;
}

/* A reconnect attempt failed: give up past ctrl_loss_tmo, else schedule the next one */
static void reconnect_failed(struct dn_ctrl *c, const struct dn_err *e, int64_t *next_try)
{
	int64_t now = dn_now_ms(), loss_end, prev = c->backoff_ms;
	enum dn_backoff_cause cause = dn_backoff_cause(e->code);

	loss_end = c->o.ctrl_loss_tmo >= 0 ? c->loss_start_ms + (int64_t)c->o.ctrl_loss_tmo * 1000
					   : INT64_MAX;
	if (now >= loss_end) {
		dn_err("%s at %s:%s: lost for longer than ctrl_loss_tmo (%d s): giving up",
		       c->o.subnqn, c->o.traddr, c->o.trsvcid, c->o.ctrl_loss_tmo);
		set_state(c, DN_CTRL_DEAD);
		notify_queues(c);
		if (c->on_failed)
			c->on_failed(c);
		return;
	}
	c->backoff_ms = dn_backoff_next(c->backoff_ms, c->o.reconnect_delay_ms, cause);
	*next_try = now + c->backoff_ms;
	/* the last attempt is at ctrl_loss_tmo, not a backoff step after it */
	if (*next_try > loss_end)
		*next_try = loss_end;
	/* one line per change (of cause or of wait): a target restarting is refused many times */
	if (c->backoff_ms != prev || strcmp(e->msg, c->last_fail.msg)) {
		dn_info("%s at %s:%s: reconnect failed: %s; next attempt in %lld ms (%s)",
			c->o.subnqn, c->o.traddr, c->o.trsvcid, e->msg,
			(long long)(*next_try - now), dn_backoff_cause_str(cause));
		c->last_fail = *e;
	} else {
		dn_dbg("%s at %s:%s: reconnect failed the same way; next attempt in %lld ms",
		       c->o.subnqn, c->o.traddr, c->o.trsvcid, (long long)(*next_try - now));
	}
}

/* The admin queue's rdma_cm channel polled readable: the events the I/O queues also heed */
static void handle_cm_event(struct dn_ctrl *c, int64_t *next_try)
{
	int ret = dn_hq_cm_check(&c->admin);

	if (ret)
		start_reset(c,
			    ret == -ENODEV ? "the local RDMA device was removed"
					   : "the target closed the connection",
			    next_try);
}

/* Controller thread: a Namespace Attribute Changed event (or a failed scan) asks for a rescan. */
static void start_rescan(struct dn_ctrl *c)
{
	struct dn_err e = {0};
	uint8_t *chg = malloc(4096);
	struct nvme_sqe sqe;

	c->rescan = false;
	/* reading the Changed Namespace List re-arms the event */
	if (chg) {
		dn_sqe_get_log(&sqe, NVME_LOG_LID_CHANGED_NS, 0xffffffff, 0, 4096);
		admin_exec(c, &sqe, chg, 4096, false, NULL, "Get Log Page", &e);
		free(chg);
	}
	dn_err_clear(&e);
	if (scan_start(c, &e))
		dn_warn("%s: rescan: %s", c->o.subnqn, e.msg);
}

/* Controller thread: the scan thread is done; the initial scan's outcome goes to the starter */
static bool scan_done(struct dn_ctrl *c)
{
	struct dn_err e = {0};
	int ret = scan_finish(c, &e);

	if (c->started) {
		if (ret)
			dn_warn("%s: rescan: %s", c->o.subnqn, e.msg);
		return true;
	}
	if (!ret && !c->nr_ns_devs)
		ret = dn_err_set(&e, -ENODEV, "subsystem %s has no active namespace", c->o.subnqn);
	c->start_err = e;
	report_started(c, ret);
	return !ret;
}

static void *ctrl_thread(void *arg)
{
	struct dn_ctrl *c = arg;
	int64_t next_try = -1;
	int ret;

	c->ka_ms = c->o.kato > 0 ? (int64_t)c->o.kato * 1000 / 2 : -1;
	c->next_ka = dn_now_ms() + c->ka_ms;
	submit_aer(c);
	set_state(c, DN_CTRL_LIVE);
	ret = scan_start(c, &c->start_err);
	if (ret) {
		report_started(c, ret);
		goto out;
	}

	for (;;) {
		enum dn_ctrl_state st = dn_ctrl_state(c);
		struct pollfd pfd[5] = {
			{.fd = c->stop_fd, .events = POLLIN},
			{.fd = c->reset_fd, .events = POLLIN},
			{.fd = c->admin.id ? c->admin.cc->fd : -1, .events = POLLIN},
			{.fd = c->admin.id ? c->admin.ec->fd : -1, .events = POLLIN},
			{.fd = c->scan_done_fd, .events = POLLIN},
		};
		int64_t due = st == DN_CTRL_LIVE	? (c->ka_ms > 0 ? c->next_ka : -1)
			      : st == DN_CTRL_RESETTING ? resetting_due(c, next_try)
							: -1;
		int timeout = -1;

		if (due > 0) {
			int64_t left = due - dn_now_ms();

			timeout = left > 0 ? (int)left : 0;
		}
		ret = poll(pfd, 5, timeout);
		if (ret < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents) {
			uint64_t v;

			if (read(c->reset_fd, &v, sizeof(v)) > 0)
				start_reset(c, "an I/O queue failed", &next_try);
		}
		if (pfd[2].revents && c->admin.id && dn_hq_handle_event(&c->admin) < 0)
			start_reset(c, "the admin queue failed", &next_try);
		if (pfd[3].revents && c->admin.id)
			handle_cm_event(c, &next_try);
		if (pfd[4].revents && !scan_done(c))
			goto out; /* the initial scan failed: dn_ctrl_start() reports it */

		st = dn_ctrl_state(c);
		if (st == DN_CTRL_RESETTING)
			check_fast_io_fail(c);
		if (st == DN_CTRL_RESETTING && dn_now_ms() >= next_try) {
			struct dn_err e = {0};

			if (!try_reconnect(c, &e))
				c->next_ka = dn_now_ms() + c->ka_ms;
			else
				reconnect_failed(c, &e, &next_try);
			continue;
		}
		if (st != DN_CTRL_LIVE)
			continue;
		/* one scan at a time: an event during a scan is looked at once it is over */
		if (c->rescan && !c->scan)
			start_rescan(c);
		ret = keep_alive_if_due(c);
		if (ret == -ETIMEDOUT)
			start_reset(c, "keep alive timed out", &next_try);
		else if (ret)
			start_reset(c, "cannot send keep alive", &next_try);
	}
out:
	set_state(c, DN_CTRL_DELETING);
	if (c->scan) {
		struct dn_err e = {0};

		/* the scan thread stops after the device it is making */
		dn_ctrl_cancel(c);
		scan_finish(c, &e);
		if (!c->started)
			report_started(c, dn_err_set(&c->start_err, -ECANCELED,
						     "%s was disconnected while connecting",
						     c->o.subnqn));
	}
	remove_all_ns(c);
	return NULL;
}

int dn_ctrl_start(struct dn_ctrl *c, struct dn_err *e)
{
	int ret;

	ret = admin_features(c, e);
	if (ret)
		return ret;
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	c->reset_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->scan_done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0 || c->reset_fd < 0 || c->scan_done_fd < 0) {
		ret = dn_err_set(e, -errno, "eventfd: %s", strerror(errno));
		goto out_close;
	}
	pthread_cond_init(&c->started_cond, NULL);
	ret = -pthread_create(&c->thread, NULL, ctrl_thread, c);
	if (ret) {
		dn_err_set(e, ret, "pthread_create: %s", strerror(-ret));
		pthread_cond_destroy(&c->started_cond);
		goto out_close;
	}
	c->thread_running = true;
	pthread_mutex_lock(&c->lock);
	while (!c->started)
		pthread_cond_wait(&c->started_cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	if (c->start_result)
		return dn_err_set(e, c->start_result, "%s", c->start_err.msg);
	/* on failure dn_ctrl_delete() joins the thread, which has removed what the scan made */
	return 0;

out_close:
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	if (c->reset_fd >= 0)
		close(c->reset_fd);
	if (c->scan_done_fd >= 0)
		close(c->scan_done_fd);
	c->stop_fd = c->reset_fd = c->scan_done_fd = -1;
	return ret;
}

void dn_ctrl_cancel(struct dn_ctrl *c)
{
	__atomic_store_n(&c->scan_abort, true, __ATOMIC_RELEASE);
	/*
	 * The device being made may be waiting on I/O held for a reconnect (START_DEV reads its
	 * partition table), which could take until ctrl_loss_tmo: that I/O fails now, so that the
	 * start ends and the cancel with it.
	 */
	notify_queues(c);
}

void dn_ctrl_delete(struct dn_ctrl *c)
{
	uint64_t one = 1;

	if (c->thread_running) {
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			dn_warn("stopping the controller thread: %s", strerror(errno));
		pthread_join(c->thread, NULL);
		c->thread_running = false;
	}
	remove_all_ns(c);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	if (c->reset_fd >= 0)
		close(c->reset_fd);
	if (c->scan_done_fd >= 0)
		close(c->scan_done_fd);
	c->stop_fd = c->reset_fd = c->scan_done_fd = -1;
	dn_ctrl_disconnect(c);
}
