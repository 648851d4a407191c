/* SPDX-License-Identifier: MIT */
/*
 * One NVMe/RDMA queue pair of the initiator: the rdma_cm connection (with the NVMe/RDMA
 * private data), its QP/CQ/completion channel, the pre-registered command capsules and
 * response buffers, and a fixed array of request slots indexed by CID. Nothing here allocates
 * after dn_hq_connect(). A queue is used by exactly one thread: the controller thread for the
 * admin queue, a ublk queue thread for an I/O queue.
 */
#ifndef DISNVME_HOST_RDMA_QUEUE_H
#define DISNVME_HOST_RDMA_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <rdma/rdma_cma.h>

#include "common/nvme_wire.h"
#include "host/err.h"

struct dn_hq;
struct dn_hq_req;

/* Work request ids: a receive's is this bit plus its response buffer's index; a send's is its
 * request slot's CID. */
#define DN_HQ_WRID_RECV (1ULL << 32)

/* Called once per command, on the queue's thread, when both its send and its response are done
 * (or when the queue failed: st is then a path error and cqe is zeroed). */
typedef void (*dn_hq_done_fn)(struct dn_hq *q, struct dn_hq_req *r, nvme_status_t st,
			      const struct nvme_cqe *cqe);

enum dn_hq_req_state { DN_HQ_REQ_FREE, DN_HQ_REQ_INFLIGHT };

struct dn_hq_req {
	uint16_t cid;
	uint8_t state;
	bool send_done, rsp_done;
	struct nvme_sqe *sqe; /* in the registered capsule; in-capsule data follows it */
	struct nvme_cqe cqe;
	dn_hq_done_fn done;
	uintptr_t ctx;	   /* the owner's: a ublk tag, a waiter */
	uint32_t len;	   /* the owner's: bytes the request moves */
	uint8_t op;	   /* the owner's: what the request was */
	uint32_t deadline; /* queue tick after which the command has timed out */
	struct dn_hq_req *next_free;
	struct ibv_send_wr wr; /* posted from the slot: a batch is a chain of these */
	struct ibv_sge sge;
};

struct dn_hq_opts {
	const char *traddr, *trsvcid;
	const char *host_traddr; /* optional source address (NULL or "": any) */
	uint16_t qid;
	uint16_t depth;	    /* queue size in entries */
	uint32_t incapsule; /* in-capsule data bytes per command the controller accepts */
	uint32_t data_len;  /* bytes of registered buffer for synchronous commands */
	int timeout_ms;	    /* for each connection step */
	/* Optional: memory the target reads and writes (the ublk buffers), registered here */
	void *io_buf;
	size_t io_buf_len;
};

struct dn_hq {
	struct rdma_event_channel *ec;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cc; /* the connection's own: it dies with it, before the id */
	struct ibv_cq *cq;
	struct ibv_mr *cap_mr, *rsp_mr, *data_mr, *io_mr;
	uint8_t *capsules;
	struct nvme_cqe *rsps;
	void *data;
	struct dn_hq_req *reqs;
	struct dn_hq_req *free_list;
	char peer[300]; /* "ADDR:PORT", for messages */
	uint32_t capsule_size, incapsule, data_len;
	uint16_t qid, depth, crqsize;
	unsigned int nr_inflight;
	/* work requests on the QP whose completion has not been reaped yet (any status) */
	unsigned int sends_posted, recvs_posted;
	uint32_t tick;
	bool connected, failed;
	/* batching: dn_hq_submit() chains sends, dn_hq_flush() posts them with one doorbell */
	bool batching;
	struct ibv_send_wr *batch_head, *batch_tail;
	unsigned int batch_len;
};

/* posix_memalign with malloc's contract: NULL on failure, any size */
static inline void *dn_memalign(size_t align, size_t size)
{
	void *p;

	return posix_memalign(&p, align, size) ? NULL : p;
}

int dn_hq_connect(struct dn_hq *q, const struct dn_hq_opts *o, struct dn_err *e);
/* Disconnects, waits briefly for the flushes, fails what is still in flight, frees. */
void dn_hq_destroy(struct dn_hq *q);

/* Request slots: get one, fill r->sqe (and in-capsule data after it), submit. */
struct dn_hq_req *dn_hq_get_req(struct dn_hq *q);
/* Give back a slot that was never submitted */
void dn_hq_put_req(struct dn_hq *q, struct dn_hq_req *r);
int dn_hq_submit(struct dn_hq *q, struct dn_hq_req *r, uint32_t incapsule_len);
/* Post the sends chained since the last flush (batching queues); -errno fails the queue. */
int dn_hq_flush(struct dn_hq *q);
/* Reap the CQ and complete requests; -EIO once the queue has failed. */
int dn_hq_process(struct dn_hq *q);
/* After the completion channel fd polled readable: consume the event, re-arm, reap. */
int dn_hq_handle_event(struct dn_hq *q);
/*
 * Without blocking, read the CM events queued on the queue's own channel: 0 while the
 * connection stands; -ENOTCONN once the target closed it (or the local address changed under
 * it), -ENODEV once the local RDMA device is being removed. The queue's thread calls it when
 * the channel's fd polls readable, or now and then: a connection can end with no work
 * request outstanding to fail.
 */
int dn_hq_cm_check(struct dn_hq *q);
/* Mark failed (QP to error) so no more commands go out and in-flight ones flush. */
void dn_hq_fail(struct dn_hq *q);
/* Complete every in-flight request with a path error; only once the QP is flushed. */
void dn_hq_abort_all(struct dn_hq *q);

/*
 * Execute one command synchronously on the caller's thread (admin setup, fabrics Connect).
 * Data (to_ctrl: host to controller) goes through the queue's registered data buffer with a
 * keyed SGL. Returns 0 with *st the NVMe status, or -errno (-ETIMEDOUT, -EIO) with e set.
 */
int dn_hq_exec(struct dn_hq *q, struct nvme_sqe *sqe, void *data, uint32_t len, bool to_ctrl,
	       struct nvme_cqe *cqe, nvme_status_t *st, int timeout_ms, struct dn_err *e);

#endif
