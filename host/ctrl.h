/* SPDX-License-Identifier: MIT */
/*
 * An NVMe-oF controller as the host sees it: the admin queue (fabrics Connect, Property
 * Get/Set to enable, Identify, Set Features), I/O queue IDs handed to the namespace devices,
 * the namespaces and their ublk devices, the controller thread (keep-alive at KATO/2,
 * Asynchronous Event Requests, resets, namespace rescans) and the scan thread that creates and
 * removes a scan's devices while the controller thread goes on keeping the association alive.
 */
#ifndef DISNVME_HOST_CTRL_H
#define DISNVME_HOST_CTRL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/nvme_wire.h"
#include "host/err.h"
#include "host/ns_dev.h"
#include "host/rdma_queue.h"

#define DN_MAX_NS_DEVS 64
#define DN_MAX_QID     256

struct dn_ctrl_opts {
	char traddr[NVMF_TRADDR_SIZE];
	char trsvcid[NVMF_TRSVCID_SIZE + 1];
	char subnqn[NVME_NQN_LENGTH];
	char hostnqn[NVME_NQN_LENGTH];
	uint8_t hostid[16];
	char hostid_str[40];
	int nr_io_queues; /* per device */
	int queue_size;
	int kato;		/* seconds; 0: no keep-alive */
	int reconnect_delay_ms; /* the first wait between reconnect attempts (backoff.h) */
	int ctrl_loss_tmo;	/* seconds; -1: forever */
	int fast_io_fail_tmo;	/* seconds; -1: off (hold I/O until ctrl_loss_tmo) */
	char host_traddr[NVMF_TRADDR_SIZE]; /* source address; "": any */
};

/*
 * LIVE -> RESETTING (keep-alive timeout, a queue failed or a command timed out, the target
 * disconnected) -> LIVE again once the admin queue reconnects, or DEAD once ctrl_loss_tmo has
 * passed. Reconnect attempts are spaced by backoff.h's policy. While RESETTING the devices
 * stay and hold their I/O, until fast_io_fail_tmo (if set) has passed: from then on I/O
 * fails at once while the attempts go on. DEAD fails it too.
 */
enum dn_ctrl_state { DN_CTRL_NEW, DN_CTRL_LIVE, DN_CTRL_RESETTING, DN_CTRL_DEAD, DN_CTRL_DELETING };

struct dn_ctrl {
	struct dn_ctrl_opts o;
	int instance;
	int table_holds; /* requests using it outside the daemon's table lock (daemon.c) */
	struct dn_hq admin;
	uint16_t cntlid; /* the controller thread writes it, other threads: dn_ctrl_cntlid() */
	uint64_t cap;
	struct nvme_id_ctrl *id;
	struct dn_ctrl_caps caps; /* under lock: a reconnect may change them */
	enum dn_ctrl_state state; /* written by the controller thread, read anywhere */
	uint32_t gen;		  /* association number: bumped by every successful reconnect */
	int reset_fd;		  /* eventfd: a queue thread asks for a controller reset */
	int64_t loss_start_ms;	  /* when the controller left LIVE */
	int64_t backoff_ms;	  /* the wait after the last failed reconnect attempt */
	struct dn_err last_fail;  /* why the last logged attempt failed */
	bool io_failfast; /* fast_io_fail_tmo passed: I/O fails while reconnecting goes on */

	/* ns_devs, qids and caps, read by the daemon's list and the scan and queue threads;
	 * ns_devs is written by the scan thread while one runs, by the controller thread
	 * otherwise */
	pthread_mutex_t lock;
	struct dn_ns_dev *ns_devs[DN_MAX_NS_DEVS];
	int nr_ns_devs;
	/* the device the scan thread is starting: its queues hear about resets too */
	struct dn_ns_dev *starting;
	uint16_t max_qid;
	bool qid_used[DN_MAX_QID + 1];

	pthread_t thread;
	bool thread_running;
	int stop_fd; /* eventfd: the daemon asks the controller thread to stop */
	/* Optional. Controller thread, once the controller is DEAD (ctrl_loss_tmo passed). */
	void (*on_failed)(struct dn_ctrl *c);

	/* the controller thread's own state */
	bool rescan, ka_outstanding, aer_outstanding;
	int64_t ka_ms, next_ka; /* Keep Alive period (KATO/2; -1: none) and when it is next due */
	/* a scan's device work runs on its own thread (one at a time), the Identify part here */
	struct dn_scan_job *scan;
	pthread_t scan_thread;
	int scan_done_fd; /* eventfd: the scan thread has finished its job */
	/*
	 * atomic: the controller is going away (dn_ctrl_cancel): the scan stops between devices,
	 * and no I/O is held for a reconnect any more (dn_ctrl_may_hold_io)
	 */
	bool scan_abort;
	/* the initial scan's outcome, handed back to dn_ctrl_start() */
	pthread_cond_t started_cond;
	bool started;
	int start_result;
	struct dn_err start_err;
};

const char *dn_ctrl_state_str(enum dn_ctrl_state s);

/* Connect the admin queue, enable the controller, identify it. */
int dn_ctrl_connect(struct dn_ctrl *c, struct dn_err *e);
/* Shut the controller down (CC.SHN) and disconnect the admin queue. */
void dn_ctrl_disconnect(struct dn_ctrl *c);

/* Discovery controllers: the whole discovery log, malloc'd, in *log / *len. */
int dn_ctrl_get_discovery_log(struct dn_ctrl *c, void **log, uint32_t *len, struct dn_err *e);

/*
 * Any thread, on a live I/O controller: one command of the I/O command set that is not the
 * data path's (Reservation Register, Acquire, Release, Report) on an I/O queue of its own,
 * connected for it and gone after it, so the ublk queues' threads are not involved. Data of
 * up to DN_CTRL_IO_EXEC_MAX bytes through a keyed SGL. 0 with *st the NVMe status, or -errno
 * with e set (-EBUSY: no I/O queue ID free; -EAGAIN: not live).
 */
#define DN_CTRL_IO_EXEC_MAX 4096u
int dn_ctrl_io_exec(struct dn_ctrl *c, struct nvme_sqe *sqe, void *data, uint32_t len, bool to_ctrl,
		    struct nvme_cqe *cqe, nvme_status_t *st, struct dn_err *e);

/* I/O controllers: create a ublk device per active namespace, then start the thread. */
int dn_ctrl_start(struct dn_ctrl *c, struct dn_err *e);
/* Stop the thread, remove every device, disconnect. The caller frees c. */
void dn_ctrl_delete(struct dn_ctrl *c);
/*
 * Any thread, while dn_ctrl_start() may be running: the connect is no longer wanted. The
 * initial scan stops after the device it is making and dn_ctrl_start() fails (-ECANCELED);
 * the caller still deletes c. I/O held for a reconnect fails from now on, so the device being
 * made does not wait for the target.
 */
void dn_ctrl_cancel(struct dn_ctrl *c);

/* Any thread */
enum dn_ctrl_state dn_ctrl_state(const struct dn_ctrl *c);
/*
 * Scan thread: a device being started (NULL once started or failed). Starting it reads its
 * partition table through its own I/O queues, so a reset meanwhile must reach them, or the
 * start would wait forever for I/O held on a dead association.
 */
void dn_ctrl_set_starting(struct dn_ctrl *c, struct dn_ns_dev *d);
/* Any thread: the controller ID of the current association, and a copy of its limits */
uint16_t dn_ctrl_cntlid(const struct dn_ctrl *c);
void dn_ctrl_caps_get(struct dn_ctrl *c, struct dn_ctrl_caps *caps, uint16_t *max_qid);
uint32_t dn_ctrl_gen(const struct dn_ctrl *c);
/*
 * May I/O wait for this controller? LIVE, or RESETTING before fast_io_fail_tmo has passed and
 * unless the connect was cancelled.
 */
bool dn_ctrl_may_hold_io(const struct dn_ctrl *c);
/* A queue thread saw its queue fail or a command time out: reset the controller. */
void dn_ctrl_request_reset(struct dn_ctrl *c);

/* I/O queue IDs (any thread) */
int dn_ctrl_alloc_qid(struct dn_ctrl *c);
void dn_ctrl_free_qid(struct dn_ctrl *c, int qid);
/* Fabrics Connect on a freshly connected queue (the queue's thread) */
int dn_ctrl_fabrics_connect(struct dn_ctrl *c, struct dn_hq *q, uint32_t kato_ms, struct dn_err *e);

#endif
