// SPDX-License-Identifier: MIT
/*
 * Unit tests of target/rdma_cm.c's check of the NVMe/RDMA CM connect request private data:
 * every malformed field gets its own NVME_RDMA_CM_* reject status; the limits are exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "target/rdma.h"
#include "target/target.h"

/* rdma_cm.c's neighbours, never reached by the parser */
void dn_tgt_queue_init(struct dn_tgt_queue *q, const struct dn_tgt_transport_ops *ops,
		       struct dn_tgt_port *port, struct dn_poll_group *pg, uint16_t qid,
		       uint16_t size, const char *peer)
{
	fail();
}
int dn_rdma_queue_create(struct rdma_cm_id *id, struct dn_rdma_dev *dev, struct dn_rdma_pool *pool,
			 uint16_t qid, uint16_t nr_recv, uint16_t hrqsize, uint8_t initiator_depth,
			 struct dn_rdma_queue **out)
{
	fail();
	return -1;
}
void dn_rdma_queue_free(struct dn_rdma_queue *rq)
{
	fail();
}
int dn_rdma_queue_adopt(struct dn_rdma_queue *rq)
{
	fail();
	return -1;
}
void dn_rdma_queue_lost(struct dn_rdma_queue *rq, const char *why)
{
	fail();
}
void dn_rdma_delete_queue(struct dn_tgt_queue *q)
{
	fail();
}
void dn_rdma_queue_response(struct dn_tgt_req *req)
{
	fail();
}
int dn_rdma_send_from(struct dn_tgt_req *req, void *buf)
{
	fail();
	return -1;
}
unsigned int dn_pg_load(const struct dn_poll_group *pg)
{
	return 0;
}
const char *dn_pg_name(const struct dn_poll_group *pg)
{
	return "pg";
}
int dn_pg_poll_add(struct dn_poll_group *pg, int fd, unsigned int mask, struct dn_event *ev)
{
	fail();
	return -1;
}

static int parse(uint16_t recfmt, uint16_t qid, uint16_t hrqsize, uint16_t hsqsize, size_t len,
		 uint16_t *o_qid, uint16_t *o_nr, uint16_t *o_hrq)
{
	uint8_t buf[64] = {0};
	struct nvme_rdma_cm_req req = {.recfmt = htole16(recfmt),
				       .qid = htole16(qid),
				       .hrqsize = htole16(hrqsize),
				       .hsqsize = htole16(hsqsize)};

	memcpy(buf, &req, sizeof(req));
	return dn_rdma_parse_cm_req(buf, len, o_qid, o_nr, o_hrq);
}

/* the core's queue limit: the largest, or what the test configures */
static uint16_t max_queue_depth;

uint16_t dn_tgt_max_queue_size(void)
{
	return max_queue_depth ? max_queue_depth : DN_TGT_MAX_QUEUE_SIZE;
}

static void test_linux_host_requests_accepted(void **state)
{
	uint16_t qid, nr, hrq;

	/* admin queue as the Linux host asks: hrqsize 32, hsqsize 31; 56 bytes over RoCE */
	assert_int_equal(parse(0, 0, 32, 31, 56, &qid, &nr, &hrq), 0);
	assert_int_equal(qid, 0);
	assert_int_equal(nr, 32);
	assert_int_equal(hrq, 32);
	/* I/O queue 2 with 128 entries */
	assert_int_equal(parse(0, 2, 128, 127, 32, &qid, &nr, &hrq), 0);
	assert_int_equal(qid, 2);
	assert_int_equal(nr, 128);
	/* the largest qid */
	assert_int_equal(parse(0, DN_TGT_MAX_IO_QUEUES, 2, 1, 32, &qid, &nr, &hrq), 0);
	/* more host receive buffers than commands: the host's to spend, we never fill them */
	assert_int_equal(parse(0, 1, 4096, 31, 32, &qid, &nr, &hrq), 0);
	assert_int_equal(nr, 32);
	assert_int_equal(hrq, 4096);
	/* over IB/RoCE the CM pads private data to 56 bytes: a host that sent only RECFMT and QID
	 * reaches us with zero queue sizes, refused for its send queue size */
	assert_int_equal(parse(0, 1, 0, 0, 56, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_HSQSIZE);
}

static void test_bad_requests_rejected_precisely(void **state)
{
	uint16_t qid, nr, hrq;

	assert_int_equal(dn_rdma_parse_cm_req(NULL, 0, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_LEN);
	assert_int_equal(parse(0, 0, 32, 31, 31, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_LEN);
	assert_int_equal(parse(1, 0, 32, 31, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_RECFMT);
	assert_int_equal(parse(0, DN_TGT_MAX_IO_QUEUES + 1, 32, 31, 32, &qid, &nr, &hrq),
			 NVME_RDMA_CM_INVALID_QID);
	assert_int_equal(parse(0, 0xffff, 32, 31, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_QID);
	/* admin queue: 32 entries at most */
	assert_int_equal(parse(0, 0, 33, 32, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_HSQSIZE);
	/* I/O queue: DN_TGT_MAX_QUEUE_SIZE entries at most, 2 at least */
	assert_int_equal(parse(0, 1, 129, 128, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_HSQSIZE);
	assert_int_equal(parse(0, 1, 1, 0, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_HSQSIZE);
	assert_int_equal(parse(0, 1, 0xffff, 0xffff, 32, &qid, &nr, &hrq),
			 NVME_RDMA_CM_INVALID_HSQSIZE);
	/* the host must be able to receive a response for every command it may send */
	assert_int_equal(parse(0, 1, 127, 127, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_HRQSIZE);
	assert_int_equal(parse(0, 0, 0, 31, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_HRQSIZE);
}

/* A configured max_queue_depth of 16 bounds I/O queues, not the admin queue */
static void test_configured_queue_depth(void **state)
{
	uint16_t qid, nr, hrq;

	max_queue_depth = 16;
	assert_int_equal(parse(0, 1, 16, 15, 32, &qid, &nr, &hrq), 0);
	assert_int_equal(nr, 16);
	assert_int_equal(parse(0, 1, 17, 16, 32, &qid, &nr, &hrq), NVME_RDMA_CM_INVALID_HSQSIZE);
	assert_int_equal(parse(0, 0, 32, 31, 32, &qid, &nr, &hrq), 0);
	assert_int_equal(nr, 32);
	max_queue_depth = 0;
}

static void test_rdma_tsas(void **state)
{
	union nvmf_tsas t;

	memset(&t, 0xee, sizeof(t));
	dn_rdma_disc_tsas(NULL, &t);
	assert_int_equal(t.rdma.qptype, NVMF_RDMA_QPTYPE_CONNECTED);
	assert_int_equal(t.rdma.prtype, NVMF_RDMA_PRTYPE_NOT_SPECIFIED);
	assert_int_equal(t.rdma.cms, NVMF_RDMA_CMS_RDMA_CM);
	assert_int_equal(t.rdma.pkey, 0);
	assert_int_equal(t.common[NVMF_TSAS_SIZE - 1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linux_host_requests_accepted),
		cmocka_unit_test(test_bad_requests_rejected_precisely),
		cmocka_unit_test(test_configured_queue_depth),
		cmocka_unit_test(test_rdma_tsas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
