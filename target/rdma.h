/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/RDMA transport of disnvme-target, shared by its three parts: rdma_cm.c (listeners,
 * the CM private data, accept/reject, CM events), rdma_queue.c (a queue's QP, CQ, buffers and
 * their lifetime) and rdma_req.c (the request state machine and the completion handling).
 */
#ifndef DISNVME_TARGET_RDMA_H
#define DISNVME_TARGET_RDMA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "target/core.h"
#include "target/poll_group.h"

/* In-capsule data bytes a receive holds after the SQE (admin and I/O queues alike); a
 * multiple of the page size. */
#define DN_RDMA_INCAPSULE 8192u
/*
 * Reads of at least this many bytes from a mapped namespace are sent from its page cache with a
 * memory registration of their own (dn_rdma_send_from) instead of a copy into a pool buffer.
 * Registering and deregistering costs about as much as copying 24 KiB in the test VM (TCG),
 * and as copying some tens of KiB on hardware; below this size the copy is cheaper.
 */
#define DN_RDMA_SEND_FROM_MIN (64u * 1024)
/* Outstanding RDMA READs the target issues per queue at most (our initiator depth) */
#define DN_RDMA_MAX_INITIATOR_DEPTH 16
/*
 * Data buffers of DN_TGT_MAX_XFER bytes shared by the queues of one poll group on one device
 * (rdma_pool.c), in MiB: 16 MiB = 128 buffers, one full-depth I/O queue's worth of maximum
 * transfers at once. What is in flight is bounded by the link's bandwidth-delay product plus
 * the backend's latency (12.5 GB/s x 1 ms is 12.5 MiB), not by the number of queues, so a fixed
 * pool serves many queues; beyond it requests wait for a buffer instead of failing. Not more
 * by default: the pools are registered before the target listens, and registration time
 * (pinning, page faults) grows with the size, which a restarted target's hosts wait out.
 */
#define DN_RDMA_POOL_DEFAULT_MIB 16u
#define DN_RDMA_POOL_MAX_BUFS	 65536u

extern const struct dn_tgt_transport_ops dn_rdma_ops;

/* What an rdma_cm_id's context points at: a listener or a queue. */
enum dn_rdma_ctx_kind { DN_RDMA_CTX_LISTENER = 1, DN_RDMA_CTX_QUEUE, DN_RDMA_CTX_DEV };

struct dn_rdma_req;

/* Registered data buffers of one poll group on one device; used on that group's thread only. */
struct dn_rdma_pool {
	uint8_t *mem; /* nr_bufs buffers of DN_TGT_MAX_XFER bytes, page aligned */
	size_t len;
	struct ibv_mr *mr; /* NULL when laid over unregistered memory (unit tests) */
	uint32_t lkey;
	unsigned int nr_bufs;
	unsigned int nr_free;
	uint8_t **free; /* stack of free buffers */
	/* requests waiting for a buffer, oldest first, from any queue of the group */
	struct dn_rdma_req *wait_head, **wait_tail;
	/* for sizing data_buffers_mib: logged when the pool goes away */
	uint64_t nr_taken, nr_waited;
};

/*
 * A device (ibv_context) and its protection domain, shared by every queue on it. When the
 * device is removed (rxe deleted, a NIC reset), it is released once its last queue is gone;
 * the kernel's removal waits for that.
 */
struct dn_rdma_dev {
	enum dn_rdma_ctx_kind kind;
	struct dn_rdma_dev *next;
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct ibv_device_attr attr;
	struct dn_rdma_pool **pools; /* one per poll group, indexed like the group array */
	/*
	 * An id bound to the device's address: librdmacm keeps the device's context open while
	 * an id is on it, so the protection domain and pools never outlive it; and its
	 * RDMA_CM_EVENT_DEVICE_REMOVAL says the device went, whatever listens on it.
	 */
	struct rdma_cm_id *hold_id;
	atomic_uint nr_queues; /* queues with verbs objects on the device */
	bool removed;
};

struct dn_rdma_listener {
	enum dn_rdma_ctx_kind kind;
	struct dn_tgt_port *port;
	struct rdma_cm_id *cm_id; /* NULL while its device is gone: dn_rdma_tick() listens again */
	struct sockaddr_storage ss;
	bool destroy_id; /* its device is gone: destroy cm_id once the event is acknowledged */
	char addr[64];
};

enum dn_rdma_req_state {
	DN_RDMA_REQ_FREE,
	DN_RDMA_REQ_NEW,	 /* a capsule arrived: parse it */
	DN_RDMA_REQ_INIT,	 /* inside dn_req_init() */
	DN_RDMA_REQ_NEED_BUFFER, /* keyed SGL data: a buffer from the pool to take (or wait for) */
	DN_RDMA_REQ_NEED_READ,	 /* H2C keyed SGL: RDMA READ to post */
	DN_RDMA_REQ_READING,	 /* RDMA READ posted */
	DN_RDMA_REQ_READY_TO_EXECUTE,
	DN_RDMA_REQ_EXECUTING, /* with the core or a backend */
	DN_RDMA_REQ_COMPLETED, /* queue_response() called: CQE (and data) to send */
	DN_RDMA_REQ_SENDING,   /* (RDMA WRITE +) SEND posted */
};

/* A receive: the SQE, then up to DN_RDMA_INCAPSULE bytes of capsule data in its own
 * page-aligned area. */
struct dn_rdma_recv {
	struct dn_rdma_recv *next; /* waiting for a free request */
	struct ibv_recv_wr wr;
	struct ibv_sge sge[2];
	uint8_t *buf; /* the SQE */
	uint8_t *icd; /* in-capsule data */
	uint32_t byte_len;
};

struct dn_rdma_queue;

struct dn_rdma_req {
	struct dn_tgt_req req;
	struct dn_rdma_queue *rq;
	enum dn_rdma_req_state state;
	bool in_process; /* rdma_req_process() is on the stack for it */
	struct dn_rdma_req *next_free;
	struct dn_rdma_recv *recv;
	uint8_t *buf; /* from rq->pool while the request moves keyed data, else NULL */
	/*
	 * Its RDMA READ was posted and has not completed. A dying queue ends such a request at
	 * once, but the device may still write into buf until the READ's completion (flushed) is
	 * seen or the QP is destroyed: the buffer stays with the freed request until then.
	 */
	bool read_posted;
	/*
	 * C2H data sent straight from the backend's memory (dn_rdma_send_from): send_from is
	 * registered as send_mr from then until the request is released.
	 */
	void *send_from;
	struct ibv_mr *send_mr;
	/* in rq->pool's wait list while NEED_BUFFER and no buffer was free */
	struct dn_rdma_req *buf_wait_next, **buf_wait_pprev;
	/* WR ids are the address of these: the completion handler recovers the request */
	struct ibv_send_wr rdma_wr; /* RDMA READ (H2C) or RDMA WRITE (C2H) */
	struct ibv_sge rdma_sge;
	struct ibv_send_wr send_wr; /* the response capsule */
	struct ibv_sge send_sge;
};

struct dn_rdma_queue {
	enum dn_rdma_ctx_kind kind;
	struct dn_tgt_queue q;
	struct dn_rdma_queue *all_next, **all_prev; /* in the transport's list */
	struct dn_rdma_listener *listener;
	struct rdma_cm_id *cm_id;
	struct dn_rdma_dev *dev;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;	   /* covers mem: receive buffers and CQEs */
	struct dn_rdma_pool *pool; /* data buffers, shared with the group's other queues */
	void *mem;
	size_t mem_len;
	uint16_t nr_recv; /* receive buffers = host SQ entries (hsqsize + 1) */
	uint16_t nr_reqs;
	uint16_t hrqsize; /* host receive queue: responses in flight at most */
	uint8_t initiator_depth;
	struct dn_rdma_recv *recvs;
	struct dn_rdma_req *reqs;
	struct dn_rdma_req *free_reqs;
	struct dn_rdma_recv *pending, **pending_tail; /* capsules waiting for a request */
	unsigned int nr_in_core;		      /* requests in INIT or EXECUTING */
	unsigned int nr_busy;			      /* requests not FREE */
	unsigned int reads_in_flight;
	struct dn_rdma_req *read_wait, **read_wait_tail; /* NEED_READ beyond the initiator depth */
	/* work requests gathered during one loop iteration, posted by flush */
	struct ibv_recv_wr *recv_head, **recv_tail;
	struct ibv_send_wr *send_head, **send_tail;
	struct dn_pg_deferred flush;
	struct dn_pg_deferred repoll; /* busy: poll the CQ again next iteration, unarmed */
	/* completion channel poll on the group's ring */
	struct dn_event cc_ev;
	bool cc_armed;
	unsigned int cq_events; /* to ack before destroying the CQ */
	/* lifetime: flags set from any thread, the rest on the group thread */
	atomic_uint flags;
	bool adopted;	/* the group thread owns it */
	bool dying;	/* no new work: drain, then destroy */
	bool finishing; /* waiting for the poll cancellation, then destroy */
	bool qp_error_logged;
};

#define DN_RDMA_Q_DELETING    (1u << 0) /* ops->delete_queue ran */
#define DN_RDMA_Q_LOST	      (1u << 1) /* dn_tgt_queue_lost() reported */
#define DN_RDMA_Q_ESTABLISHED (1u << 2)

/* rdma_cm.c: listeners on the main thread's group */
/* data_buffers_mib: per device and poll group (0: DN_RDMA_POOL_DEFAULT_MIB) */
int dn_rdma_init(struct dn_poll_group *main_pg, struct dn_poll_group **pgs, unsigned int nr_pgs,
		 unsigned int data_buffers_mib);
int dn_rdma_listen_port(struct dn_tgt_port *port);
void dn_rdma_stop_listening(void);
/*
 * Main thread, every second: releases devices that were removed once their queues are gone,
 * listens again on addresses whose device came back, and closes librdmacm's contexts of
 * devices that went away.
 */
void dn_rdma_tick(void);
void dn_rdma_end_all_queues(void);
void dn_rdma_queue_unlist(struct dn_rdma_queue *rq);
void dn_rdma_fini(void);
/* Parse a CM connect request's private data; 0 or an NVME_RDMA_CM_* status. */
int dn_rdma_parse_cm_req(const void *priv, size_t len, uint16_t *qid, uint16_t *nr_recv,
			 uint16_t *hrqsize);
void dn_rdma_disc_tsas(const struct dn_tgt_port *port, union nvmf_tsas *tsas);

/* rdma_pool.c */
/* Buffers a pool of mib MiB holds (at least 1, at most DN_RDMA_POOL_MAX_BUFS). */
unsigned int dn_rdma_pool_bufs_for_mib(unsigned int mib);
/* Main thread: allocate nr_bufs buffers and register them with pd. 0 or -errno. */
int dn_rdma_pool_create(struct ibv_pd *pd, unsigned int nr_bufs, struct dn_rdma_pool **out);
/* Main thread, no queue left using it. */
void dn_rdma_pool_destroy(struct dn_rdma_pool *p);
/* The verbs-free part of create: lay the free stack over mem (nr_bufs buffers) with lkey. */
int dn_rdma_pool_init(struct dn_rdma_pool *p, void *mem, unsigned int nr_bufs, uint32_t lkey);
void dn_rdma_pool_release(struct dn_rdma_pool *p);
/* Group thread. A free buffer or NULL; put gives one back. */
uint8_t *dn_rdma_pool_get(struct dn_rdma_pool *p);
void dn_rdma_pool_put(struct dn_rdma_pool *p, uint8_t *buf);
/* Whether [ptr, ptr + len) lies in the pool's registered memory. */
bool dn_rdma_pool_owns(const struct dn_rdma_pool *p, const void *ptr, size_t len);

/* rdma_queue.c */
int dn_rdma_queue_create(struct rdma_cm_id *id, struct dn_rdma_dev *dev, struct dn_rdma_pool *pool,
			 uint16_t qid, uint16_t nr_recv, uint16_t hrqsize, uint8_t initiator_depth,
			 struct dn_rdma_queue **out);
/* Before the queue was handed to the core and its group (accept failed). */
void dn_rdma_queue_free(struct dn_rdma_queue *rq);
/* Main thread, after dn_tgt_queue_init(): the group takes the queue over. */
int dn_rdma_queue_adopt(struct dn_rdma_queue *rq);
/* Any thread: the connection is gone; tell the core once (it then deletes the queue). */
void dn_rdma_queue_lost(struct dn_rdma_queue *rq, const char *why);
void dn_rdma_delete_queue(struct dn_tgt_queue *q);
/* Group thread: destroy now if dying and nothing is left with the core. */
void dn_rdma_queue_try_finish(struct dn_rdma_queue *rq);
/* Group thread, flush step: finishing and no poll armed. Frees rq. */
void dn_rdma_queue_destroy(struct dn_rdma_queue *rq);

/* rdma_req.c */
void dn_rdma_queue_response(struct dn_tgt_req *req);
int dn_rdma_send_from(struct dn_tgt_req *req, void *buf);
void dn_rdma_poll_cq(struct dn_rdma_queue *rq, bool channel_event);
void dn_rdma_repoll(struct dn_pg_deferred *d);
void dn_rdma_flush(struct dn_pg_deferred *d);
void dn_rdma_req_process(struct dn_rdma_req *r);
/* Queue memory: its size, and its layout and work-request wiring (no verbs calls) */
size_t dn_rdma_queue_mem_len(const struct dn_rdma_queue *rq);
void dn_rdma_queue_layout(struct dn_rdma_queue *rq, uint32_t lkey);
int dn_rdma_post_recv(struct dn_rdma_queue *rq, struct dn_rdma_recv *rv);
/* Group thread, queue dying: complete what waits in the transport so the core sees it end. */
void dn_rdma_abort_waiting(struct dn_rdma_queue *rq);
/* Group thread, the QP destroyed: give back the buffers of READs and SENDs never completed. */
void dn_rdma_release_held_bufs(struct dn_rdma_queue *rq);

static inline struct dn_rdma_queue *dn_rdma_queue(struct dn_tgt_queue *q)
{
	return container_of(q, struct dn_rdma_queue, q);
}

static inline struct dn_rdma_req *dn_rdma_req(struct dn_tgt_req *req)
{
	return container_of(req, struct dn_rdma_req, req);
}

#endif
