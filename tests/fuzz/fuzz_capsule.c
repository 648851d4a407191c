// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for everything the target core reads off the wire: a capsule (SQE with its
 * SGL) plus data, on a connected admin queue, a connected I/O queue, or a fresh queue whose
 * first command is a Connect with fuzzed Connect data. Commands run through the real core and
 * the file backend on a real io_uring, as the transport would drive them.
 *
 * Input: byte 0 picks the queue (0 admin, 1 I/O, 2 fresh queue with qid byte 1), then a
 * 64-byte SQE, then the data (in-capsule when the SGL says so, else what an RDMA READ brings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "target/core_internal.h"
#include "tests/unit/target/fake_pg_defer.h"

struct dn_poll_group {
	struct io_uring ring;
};

static struct dn_poll_group pg;
static struct dn_tgt_queue admin_q, io_q;
static bool done;
static unsigned int submitted, completed;

struct io_uring *dn_pg_ring(struct dn_poll_group *g)
{
	return &g->ring;
}

/* Messages (AER aborts, events) are not needed here: run them at once, outside any lock. */
static struct {
	void (*fn)(void *);
	void *arg;
} msgs[16];
static unsigned int nr_msgs;

int dn_pg_send_msg(struct dn_poll_group *g, void (*fn)(void *arg), void *arg)
{
	(void)g;
	if (nr_msgs == 16)
		return -1;
	msgs[nr_msgs].fn = fn;
	msgs[nr_msgs].arg = arg;
	nr_msgs++;
	return 0;
}

static void fz_queue_response(struct dn_tgt_req *req)
{
	(void)req;
	done = true;
}

static void fz_delete_queue(struct dn_tgt_queue *q)
{
	(void)q;
}

static const struct dn_tgt_transport_ops fz_ops = {
	.name = "fuzz",
	.trtype = NVMF_TRTYPE_RDMA,
	.max_incapsule = 8192,
	.keyed_sgl = true,
	.queue_response = fz_queue_response,
	.delete_queue = fz_delete_queue,
};

static void *data_buf;

static void fz_run(struct dn_tgt_queue *q, const struct nvme_sqe *in, const uint8_t *data,
		   size_t len)
{
	static struct nvme_sqe sqe;
	static struct nvme_cqe cqe;
	static struct dn_tgt_req req;
	uint32_t incapsule = len > 8192 ? 8192 : (uint32_t)len;

	sqe = *in;
	memset(&req, 0, sizeof(req));
	req.sqe = &sqe;
	req.cqe = &cqe;
	req.data = data_buf;
	req.data_cap = DN_TGT_MAX_XFER;
	done = false;
	if (!dn_req_init(&req, q, incapsule))
		return;
	if (req.dir == DN_XFER_H2C) {
		memset(req.data, 0, req.data_len);
		memcpy(req.data, data, len < req.data_len ? len : req.data_len);
	}
	dn_req_execute(&req);
	for (;;) {
		struct io_uring_cqe *c;
		int n;

		fake_pg_run_deferred(); /* a Preempt and Abort waiting for older commands */
		n = io_uring_submit(&pg.ring);
		if (n > 0)
			submitted += (unsigned int)n;
		if (done || submitted == completed)
			break;
		if (io_uring_wait_cqe(&pg.ring, &c))
			abort();
		completed += dn_event_dispatch(&pg.ring);
	}
	if (!done)
		abort(); /* a command neither completed nor held: a hang in the making */
}

static void fz_connect(struct dn_tgt_queue *q, uint16_t qid, uint16_t size, const char *subnqn,
		       uint16_t cntlid)
{
	struct nvmf_connect_data d;
	struct nvme_sqe sqe;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = NVME_FABRICS_OPCODE;
	sqe.connect.fctype = nvme_fabrics_type_connect;
	sqe.connect.qid = htole16(qid);
	sqe.connect.sqsize = htole16(size - 1);
	sqe.flags = NVME_CMD_PSDT_SGL_MPTR_CONTIG;
	nvme_sgl_set_keyed(&sqe.common.dptr, 0x1000, sizeof(d), 1, false);
	memset(&d, 0, sizeof(d));
	d.cntlid = htole16(cntlid);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", subnqn);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "nqn.2014-08.org.nvmexpress:uuid:fuzz");
	dn_tgt_queue_init(q, &fz_ops, dn_tgt_port_at(0), &pg, qid, size, "fuzz");
	fz_run(q, &sqe, (const uint8_t *)&d, sizeof(d));
	if (!q->ctrl)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char path[] = "/tmp/dn-fuzz-capsule-XXXXXX";
	const char *paths[1] = {path};
	struct dn_tgt_config cfg;
	struct nvme_sqe en;
	int fd;

	(void)argc;
	(void)argv;
	dn_log_init("fuzz", -10);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 1 << 20))
		abort();
	close(fd);
	if (dn_tgt_config_from_args(&cfg, "rdma", "10.0.0.1", NULL, "nqn.2024-01.io.disnvme:fuzz",
				    paths, 1, NULL, 0) ||
	    dn_tgt_setup(&cfg))
		abort();
	dn_tgt_config_free(&cfg);
	unlink(path); /* the open descriptors keep it */
	if (io_uring_queue_init(64, &pg.ring, DN_PG_RING_FLAGS) ||
	    posix_memalign(&data_buf, 4096, DN_TGT_MAX_XFER))
		abort();
	fz_connect(&admin_q, 0, 32, "nqn.2024-01.io.disnvme:fuzz", 0xffff);
	memset(&en, 0, sizeof(en));
	en.opcode = NVME_FABRICS_OPCODE;
	en.prop.fctype = nvme_fabrics_type_property_set;
	en.prop.offset = htole32(NVMF_PROP_CC);
	en.prop.value = htole64(1 | 6 << 16 | 4 << 20);
	fz_run(&admin_q, &en, NULL, 0);
	fz_connect(&io_q, 1, 128, "nqn.2024-01.io.disnvme:fuzz", admin_q.ctrl->cntlid);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	struct dn_tgt_ctrl *ctrl = admin_q.ctrl;
	struct nvme_sqe sqe;
	uint8_t which;

	if (len < 2 + sizeof(sqe))
		return 0;
	which = buf[0] % 3;
	memcpy(&sqe, buf + 2, sizeof(sqe));
	/* held AERs would outlive this input's request object; Disconnect ends the fixture */
	if (sqe.opcode == nvme_admin_async_event ||
	    (sqe.opcode == NVME_FABRICS_OPCODE &&
	     sqe.fabrics.fctype == nvme_fabrics_type_disconnect))
		return 0;
	/* every input starts from an enabled, live controller */
	ctrl->cc = 1 | 6 << 16 | 4 << 20;
	ctrl->csts = 1;
	if (which == 2) {
		static struct dn_tgt_queue fresh;
		uint16_t qid = buf[1] % 4;

		dn_tgt_queue_init(&fresh, &fz_ops, dn_tgt_port_at(0), &pg, qid, qid ? 128 : 32,
				  "fuzz");
		fz_run(&fresh, &sqe, buf + 2 + sizeof(sqe), len - 2 - sizeof(sqe));
		if (fresh.ctrl && fresh.ctrl != ctrl) {
			/* a new admin queue got its own controller: take it down again */
			dn_tgt_queue_lost(&fresh);
			nr_msgs = 0;
			dn_tgt_queue_destroyed(&fresh);
		} else if (fresh.ctrl) {
			/* an I/O queue joined the fixture's controller */
			dn_tgt_queue_destroyed(&fresh);
		} else {
			dn_tgt_queue_destroyed(&fresh);
		}
		return 0;
	}
	fz_run(which ? &io_q : &admin_q, &sqe, buf + 2 + sizeof(sqe), len - 2 - sizeof(sqe));
	return 0;
}
