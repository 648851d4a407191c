/* SPDX-License-Identifier: MIT */
/*
 * The contract between the target core (capsule parsing and command execution: fabrics,
 * admin, I/O, discovery) and what plugs into it: transports (RDMA) that move capsules and
 * data, and backends (file/block device, NVMe passthrough) that store data.
 *
 * Request flow (as Linux nvmet):
 *   transport receives a capsule -> dn_req_init() parses and validates it, picks the handler
 *   and says how much data moves in which direction -> the transport brings host data in
 *   (in-capsule, or RDMA READ of a keyed SGL) -> dn_req_execute() -> the handler completes
 *   synchronously or later from the backend's io_uring completion -> dn_req_complete() ->
 *   ops->queue_response(): the transport sends controller data (RDMA WRITE) and the CQE.
 * Every step of one request runs on the thread of the poll group that owns its queue.
 */
#ifndef DISNVME_TARGET_CORE_H
#define DISNVME_TARGET_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/nvme_wire.h"
#include "common/uring_event.h"

struct dn_tgt_req;
struct dn_tgt_queue;
struct dn_tgt_ctrl;
struct dn_tgt_ns;
struct dn_tgt_port;
struct dn_poll_group;

enum dn_xfer_dir {
	DN_XFER_NONE,
	DN_XFER_H2C, /* host to controller: write-type, data arrives before execute */
	DN_XFER_C2H, /* controller to host: read-type, data leaves after completion */
};

struct dn_tgt_transport_ops {
	const char *name;
	uint8_t trtype; /* NVMF_TRTYPE_* */
	/* capabilities, as data */
	uint32_t max_incapsule; /* in-capsule data bytes accepted on I/O queues (IOCCSZ) */
	bool keyed_sgl;		/* supports keyed SGL data blocks */
	/*
	 * Required. Poll-group thread. Send req->data (C2H, req->data_len bytes) if any, then
	 * req->cqe; release the request when the send completes.
	 */
	void (*queue_response)(struct dn_tgt_req *req);
	/*
	 * Optional. Poll-group thread, from a backend's Read. Send the read data (C2H,
	 * req->data_len bytes) straight from buf, the backend's memory (a mapped namespace),
	 * instead of req->data: 0 when the transport will, -errno when it will not (too small to
	 * be worth it, or buf cannot be used), and the backend copies into req->data instead.
	 * The transport takes the data as it is when it sends it and lets go of buf when it
	 * releases the request; buf must stay mapped until then.
	 */
	int (*send_from)(struct dn_tgt_req *req, void *buf);
	/*
	 * Required. Any thread. The controller this queue belongs to is going away (disconnect,
	 * keep-alive timeout, shutdown): disconnect the queue; once its in-flight requests
	 * drained, call dn_tgt_queue_destroyed(). Called once per queue.
	 */
	void (*delete_queue)(struct dn_tgt_queue *q);
	/* Optional. Main thread. Transport specific address subtype for a discovery log entry. */
	void (*disc_tsas)(const struct dn_tgt_port *port, union nvmf_tsas *tsas);
};

/*
 * Work to run once at the end of the loop iteration that queued it, after every completion of
 * that round was dispatched: a queue posts all the work requests it gathered in one call
 * (one doorbell). Queuing an already queued item does nothing. Group thread.
 */
struct dn_pg_deferred {
	struct dn_pg_deferred *next;
	void (*fn)(struct dn_pg_deferred *d);
	bool queued;
};

/* Embedded in the transport's queue object. */
struct dn_tgt_queue {
	const struct dn_tgt_transport_ops *ops;
	struct dn_tgt_port *port;
	struct dn_poll_group *pg;
	struct dn_tgt_ctrl *ctrl; /* set by a successful Connect */
	uint16_t qid;
	uint16_t size; /* entries (sqsize + 1) */
	uint16_t sqhd;
	char peer_addr[64];  /* for log lines */
	uint32_t core_flags; /* owned by the core (dn_tgt_queue_init() clears it) */
};

/* Embedded in the transport's request object; buffers preallocated and registered. */
struct dn_tgt_req {
	struct nvme_sqe *sqe; /* the received command (transport's receive buffer) */
	struct nvme_cqe *cqe; /* the response the transport sends */
	struct dn_tgt_queue *queue;
	struct dn_tgt_ns *ns;
	void *data; /* transport-owned data buffer, data_cap bytes */
	uint32_t data_cap;
	uint32_t data_len;	  /* set by dn_req_init(): bytes to move */
	uint32_t data_max;	  /* a parser's: a longer SGL up to this is taken whole */
	enum dn_xfer_dir dir;	  /* set by dn_req_init() */
	struct nvme_sgl_info sgl; /* decoded DPTR, set by dn_req_init() */
	void (*execute)(struct dn_tgt_req *req);
	/* owned by the core: the namespace's in-flight slot this command counts in, and a
	 * Reservation Acquire (Preempt and Abort) waiting for older commands (pr.c) */
	uint8_t ns_slot;
	int8_t pr_drain_slot;
	struct dn_pg_deferred pr_wait;
	/* backend I/O state, owned by the backend while the request is with it */
	struct dn_event be_ev;
	struct iovec iov;
	uint64_t be_priv[4];
};

/*
 * Parse and validate a capsule. incapsule_len is the number of data bytes that arrived after
 * the SQE. Returns true when the request is ready for its data phase; false when it was
 * already completed with an error status (ops->queue_response has been called).
 */
bool dn_req_init(struct dn_tgt_req *req, struct dn_tgt_queue *q, uint32_t incapsule_len);
/* Run the command once H2C data is in req->data. */
void dn_req_execute(struct dn_tgt_req *req);
/* Finish a command with a status: fills the CQE (cid, sq head, sq id) and hands it back. */
void dn_req_complete(struct dn_tgt_req *req, nvme_status_t status);

/* Transport -> core: the queue finished tearing down; drop it from its controller. */
void dn_tgt_queue_destroyed(struct dn_tgt_queue *q);
/* Transport -> core: a queue's connection is gone (disconnect, QP error, host death). */
void dn_tgt_queue_lost(struct dn_tgt_queue *q);

/*
 * Backends plug in per namespace. submit() runs on the request's poll-group thread and queues
 * the I/O on that group's io_uring (dn_pg_ring), with req->be_ev as the SQE's user data;
 * its callback calls dn_req_complete().
 */
struct dn_tgt_backend_ops {
	const char *name;
	/* Required. Main thread. Open path, fill size/block size/identifiers. */
	int (*open)(struct dn_tgt_ns *ns, const char *path, bool read_only);
	/* Required. Main thread. */
	void (*close)(struct dn_tgt_ns *ns);
	/* Required. Poll-group thread. Read/Write/Flush/Write Zeroes/DSM/Compare. */
	void (*submit)(struct dn_tgt_req *req);
};

/* Poll groups (poll_group.c): one thread, one io_uring, many queues. */
/*
 * The ring is created with IORING_SETUP_SQE128 | IORING_SETUP_CQE32 (DN_PG_RING_FLAGS): the
 * passthrough backend queues NVMe commands as IORING_OP_URING_CMD, which needs big SQEs/CQEs.
 */
#define DN_PG_RING_FLAGS (IORING_SETUP_SQE128 | IORING_SETUP_CQE32)
struct io_uring *dn_pg_ring(struct dn_poll_group *pg);
/* Run fn(arg) on the poll group's thread (an eventfd-driven message queue). */
int dn_pg_send_msg(struct dn_poll_group *pg, void (*fn)(void *arg), void *arg);
void dn_pg_defer(struct dn_poll_group *pg, struct dn_pg_deferred *d);

#endif
