// SPDX-License-Identifier: MIT
/* The target core's unit test harness: fake transport, fake poll group, real io_uring. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "harness.h"

struct dn_poll_group {
	struct io_uring ring;
};

static struct dn_poll_group h_pg;
static bool h_ring_up;
static unsigned int h_submitted, h_completed;

struct h_msg {
	void (*fn)(void *arg);
	void *arg;
};
static struct h_msg h_msgs[64];
static unsigned int h_nr_msgs;

struct io_uring *dn_pg_ring(struct dn_poll_group *pg)
{
	return &pg->ring;
}

int dn_pg_send_msg(struct dn_poll_group *pg, void (*fn)(void *arg), void *arg)
{
	(void)pg;
	if (h_nr_msgs == sizeof(h_msgs) / sizeof(h_msgs[0]))
		return -EAGAIN;
	h_msgs[h_nr_msgs].fn = fn;
	h_msgs[h_nr_msgs].arg = arg;
	h_nr_msgs++;
	return 0;
}

unsigned int h_pump_msgs(void)
{
	unsigned int n = 0;

	while (h_nr_msgs) {
		struct h_msg m = h_msgs[0];

		memmove(&h_msgs[0], &h_msgs[1], --h_nr_msgs * sizeof(h_msgs[0]));
		m.fn(m.arg);
		n++;
	}
	return n;
}

/* ---- fake transport ---- */

struct h_req {
	struct dn_tgt_req req;
	struct nvme_sqe sqe;
	struct nvme_cqe cqe;
	struct h_result result;
	bool busy;
	bool held; /* h_submit returned before it completed */
};

static struct h_req h_reqs[16];
uint8_t *h_data;
struct h_result h_async[8];
unsigned int h_nr_async;
char h_ns_path[64];
const char *h_ns_dir = "/tmp";
uint32_t h_max_io_size;
uint16_t h_max_queue_depth;
const char *h_ns_device;
const char *h_ns_ptpl_file;
bool h_setup_may_fail;
int h_setup_result;
const uint8_t *h_hostid;

static void h_queue_response(struct dn_tgt_req *req)
{
	struct h_req *hr = container_of(req, struct h_req, req);

	hr->result.done = true;
	hr->result.cqe = *req->cqe;
	hr->result.status = nvme_cqe_status(req->cqe);
	hr->result.data_len = req->data_len;
	if (hr->held) {
		if (h_nr_async < sizeof(h_async) / sizeof(h_async[0]))
			h_async[h_nr_async++] = hr->result;
		hr->busy = false;
	}
}

static void h_delete_queue(struct dn_tgt_queue *q)
{
	struct h_queue *hq = container_of(q, struct h_queue, q);

	hq->deleted++;
}

int h_send_from_ret = -EOPNOTSUPP;
void *h_sent_from;
unsigned int h_send_from_calls;

static int h_send_from(struct dn_tgt_req *req, void *buf)
{
	h_send_from_calls++;
	if (!h_send_from_ret)
		h_sent_from = buf;
	return h_send_from_ret;
}

const struct dn_tgt_transport_ops h_ops = {
	.name = "test",
	.trtype = NVMF_TRTYPE_RDMA,
	.max_incapsule = H_INCAPSULE,
	.keyed_sgl = true,
	.queue_response = h_queue_response,
	.send_from = h_send_from,
	.delete_queue = h_delete_queue,
};

static struct h_queue h_queues[32];
static unsigned int h_nr_queues;

struct h_queue *h_q(void)
{
	assert_true(h_nr_queues < sizeof(h_queues) / sizeof(h_queues[0]));
	return &h_queues[h_nr_queues++];
}

void h_queue_init(struct h_queue *hq, uint16_t qid, uint16_t size)
{
	memset(hq, 0, sizeof(*hq));
	dn_tgt_queue_init(&hq->q, &h_ops, dn_tgt_port_at(0), &h_pg, qid, size, "10.0.0.2:4420");
}

static void h_drive_ring(struct h_req *hr)
{
	struct io_uring *ring = &h_pg.ring;

	for (;;) {
		int n = io_uring_submit(ring);

		if (n > 0)
			h_submitted += (unsigned int)n;
		if (hr->result.done || h_submitted == h_completed)
			return;
		{
			struct io_uring_cqe *cqe;

			assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
		}
		h_completed += dn_event_dispatch(ring);
	}
}

struct h_result h_submit(struct h_queue *hq, const struct nvme_sqe *sqe, const void *data,
			 uint32_t len)
{
	struct h_req *hr = NULL;
	uint32_t incapsule = 0;
	unsigned int i;

	for (i = 0; i < sizeof(h_reqs) / sizeof(h_reqs[0]); i++)
		if (!h_reqs[i].busy) {
			hr = &h_reqs[i];
			break;
		}
	assert_non_null(hr);
	hr->busy = true;
	hr->held = false;
	memset(&hr->result, 0, sizeof(hr->result));
	hr->sqe = *sqe;
	hr->req.sqe = &hr->sqe;
	hr->req.cqe = &hr->cqe;
	hr->req.data_cap = DN_TGT_MAX_XFER;
	h_data = hr->req.data;
	if (nvme_sgl_type(&sqe->common.dptr) == NVME_SGL_TYPE_DATA_BLOCK && data) {
		/* in-capsule: the bytes follow the SQE */
		incapsule = len;
	}
	if (dn_req_init(&hr->req, &hq->q, incapsule)) {
		if (hr->req.dir == DN_XFER_H2C && data)
			memcpy(hr->req.data, data, len < hr->req.data_len ? len : hr->req.data_len);
		dn_req_execute(&hr->req);
		h_drive_ring(hr);
	}
	if (!hr->result.done) {
		hr->held = true; /* an AER: its response comes later */
		return hr->result;
	}
	hr->busy = false;
	return hr->result;
}

static void h_sgl_common(struct nvme_sqe *sqe)
{
	sqe->flags = (sqe->flags & ~NVME_CMD_PSDT_MASK) | NVME_CMD_PSDT_SGL_MPTR_CONTIG;
}

struct nvme_sqe h_admin_sqe(uint8_t opcode, uint32_t nsid, uint32_t cdw10, uint32_t cdw11,
			    uint32_t len)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = opcode;
	sqe.cid = htole16(9);
	sqe.common.nsid = htole32(nsid);
	sqe.common.cdw10 = htole32(cdw10);
	sqe.common.cdw11 = htole32(cdw11);
	if (len)
		h_sgl_keyed(&sqe, len);
	else
		nvme_sgl_set_null(&sqe.common.dptr);
	return sqe;
}

void h_sgl_keyed(struct nvme_sqe *sqe, uint32_t len)
{
	h_sgl_common(sqe);
	nvme_sgl_set_keyed(&sqe->common.dptr, 0x10000, len, 0x1234, false);
}

void h_sgl_inline(struct nvme_sqe *sqe, uint32_t len)
{
	h_sgl_common(sqe);
	nvme_sgl_set_inline(&sqe->common.dptr, 0, len);
}

struct nvme_sqe h_rw_sqe(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb,
			 unsigned int lba_shift)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = opcode;
	sqe.cid = htole16(7);
	sqe.common.nsid = htole32(nsid);
	sqe.common.cdw10 = htole32((uint32_t)slba);
	sqe.common.cdw11 = htole32((uint32_t)(slba >> 32));
	sqe.common.cdw12 = htole32(nlb - 1);
	h_sgl_keyed(&sqe, nlb << lba_shift);
	return sqe;
}

struct nvme_sqe h_dsm_sqe(uint32_t nsid, uint32_t nr_ranges, uint32_t data_len, bool inline_data)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = nvme_cmd_dsm;
	sqe.cid = htole16(7);
	sqe.common.nsid = htole32(nsid);
	sqe.common.cdw10 = htole32(nr_ranges - 1);
	sqe.common.cdw11 = htole32(NVME_DSMGMT_AD);
	if (inline_data)
		h_sgl_inline(&sqe, data_len);
	else
		h_sgl_keyed(&sqe, data_len);
	return sqe;
}

/* ---- target lifetime ---- */

void h_target_up(const char *const *hosts, size_t nr_hosts)
{
	struct dn_tgt_config cfg;
	const char *paths[1];
	unsigned int i;
	int fd;

	dn_log_init("test", -10); /* quiet: the tests check statuses, not log lines */
	h_send_from_ret = -EOPNOTSUPP;
	h_sent_from = NULL;
	h_send_from_calls = 0;
	h_hostid = NULL;
	if (h_ns_device) {
		snprintf(h_ns_path, sizeof(h_ns_path), "%s", h_ns_device);
	} else {
		snprintf(h_ns_path, sizeof(h_ns_path), "%s/dn-tgt-test-XXXXXX", h_ns_dir);
		fd = mkstemp(h_ns_path);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, H_NS_BYTES), 0);
		close(fd);
	}
	paths[0] = h_ns_path;
	assert_int_equal(dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, H_SUBNQN, paths, 1,
						 hosts, nr_hosts),
			 0);
	cfg.max_io_size = h_max_io_size;
	cfg.max_queue_depth = h_max_queue_depth;
	if (h_ns_ptpl_file)
		cfg.subsys[0].ns[0].ptpl_file = strdup(h_ns_ptpl_file);
	h_setup_result = dn_tgt_setup(&cfg);
	dn_tgt_config_free(&cfg);
	if (h_setup_may_fail && h_setup_result)
		return;
	assert_int_equal(h_setup_result, 0);
	if (!h_ring_up) {
		assert_int_equal(io_uring_queue_init(64, &h_pg.ring, DN_PG_RING_FLAGS), 0);
		h_ring_up = true;
	}
	for (i = 0; i < sizeof(h_reqs) / sizeof(h_reqs[0]); i++) {
		if (!h_reqs[i].req.data) {
			void *p = NULL;

			assert_int_equal(posix_memalign(&p, 4096, DN_TGT_MAX_XFER), 0);
			h_reqs[i].req.data = p;
		}
		h_reqs[i].busy = false;
	}
	h_nr_async = 0;
	h_nr_msgs = 0;
	h_nr_queues = 0;
	memset(h_queues, 0, sizeof(h_queues));
}

void h_target_down(void)
{
	unsigned int i;

	/* controllers left by a test: tear them down the way a transport would */
	dn_tgt_shutdown();
	h_pump_msgs();
	for (i = 0; i < dn_tgt.nr_subsys; i++) {
		while (dn_tgt.subsys[i]->ctrls) {
			struct dn_tgt_ctrl *c = dn_tgt.subsys[i]->ctrls;
			struct dn_tgt_queue *qs[1 + DN_TGT_MAX_IO_QUEUES];
			unsigned int qid, n = 0;

			/* the last one frees the controller */
			for (qid = 0; qid <= DN_TGT_MAX_IO_QUEUES; qid++)
				if (c->queues[qid])
					qs[n++] = c->queues[qid];
			assert_true(n > 0); /* a controller without queues must be gone */
			while (n)
				dn_tgt_queue_destroyed(qs[--n]);
			h_pump_msgs();
		}
	}
	for (i = 0; i < sizeof(h_reqs) / sizeof(h_reqs[0]); i++)
		h_reqs[i].busy = false;
	dn_tgt_cleanup();
	atomic_store(&dn_tgt.live_queues, 0);
	if (!h_ns_device)
		unlink(h_ns_path);
}

/* ---- fabrics helpers ---- */

struct nvme_sqe h_connect_sqe(uint16_t qid, uint16_t sqsize, uint32_t kato)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = NVME_FABRICS_OPCODE;
	sqe.cid = htole16(0x55);
	sqe.connect.fctype = nvme_fabrics_type_connect;
	sqe.connect.qid = htole16(qid);
	sqe.connect.sqsize = htole16(sqsize);
	sqe.connect.kato = htole32(kato);
	h_sgl_keyed(&sqe, NVME_CONNECT_DATA_SIZE);
	return sqe;
}

void h_connect_data(struct nvmf_connect_data *d, const char *subnqn, const char *hostnqn,
		    uint16_t cntlid)
{
	memset(d, 0, sizeof(*d));
	if (h_hostid)
		memcpy(d->hostid, h_hostid, sizeof(d->hostid));
	else
		memset(d->hostid, 0x11, sizeof(d->hostid));
	d->cntlid = htole16(cntlid);
	snprintf(d->subsysnqn, sizeof(d->subsysnqn), "%s", subnqn);
	snprintf(d->hostnqn, sizeof(d->hostnqn), "%s", hostnqn);
}

struct h_result h_prop_set(struct h_queue *hq, uint32_t off, uint64_t val, bool eight)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = NVME_FABRICS_OPCODE;
	sqe.prop.fctype = nvme_fabrics_type_property_set;
	sqe.prop.attrib = eight ? 1 : 0;
	sqe.prop.offset = htole32(off);
	sqe.prop.value = htole64(val);
	return h_submit(hq, &sqe, NULL, 0);
}

struct h_result h_prop_get(struct h_queue *hq, uint32_t off, bool eight)
{
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = NVME_FABRICS_OPCODE;
	sqe.prop.fctype = nvme_fabrics_type_property_get;
	sqe.prop.attrib = eight ? 1 : 0;
	sqe.prop.offset = htole32(off);
	return h_submit(hq, &sqe, NULL, 0);
}

uint16_t h_admin_up(struct h_queue *hq, const char *subnqn, const char *hostnqn)
{
	struct nvmf_connect_data d;
	struct nvme_sqe sqe = h_connect_sqe(0, 31, 5000);
	struct h_result r;

	h_queue_init(hq, 0, 32);
	h_connect_data(&d, subnqn, hostnqn, 0xffff);
	r = h_submit(hq, &sqe, &d, sizeof(d));
	assert_int_equal(r.status, 0);
	/* CC: EN, IOSQES 6, IOCQES 4 */
	r = h_prop_set(hq, NVMF_PROP_CC, 1 | 6 << 16 | 4 << 20, false);
	assert_int_equal(r.status, 0);
	return hq->q.ctrl->cntlid;
}

struct h_result h_io_connect(struct h_queue *hq, uint16_t qid, uint16_t cntlid, const char *subnqn,
			     const char *hostnqn)
{
	struct nvmf_connect_data d;
	struct nvme_sqe sqe = h_connect_sqe(qid, 127, 0);

	h_queue_init(hq, qid, 128);
	h_connect_data(&d, subnqn, hostnqn, cntlid);
	return h_submit(hq, &sqe, &d, sizeof(d));
}
