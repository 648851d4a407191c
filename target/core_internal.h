/* SPDX-License-Identifier: MIT */
/*
 * Inside the target core: subsystems, namespaces and controllers, the control lock, and the
 * functions the core's files call in each other. Transports and backends see only
 * target/core.h and target/target.h.
 */
#ifndef DISNVME_TARGET_CORE_INTERNAL_H
#define DISNVME_TARGET_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "target/core.h"
#include "target/target.h"

#define DN_TGT_CNTLID_MIN    1 /* dynamic controller IDs */
#define DN_TGT_CNTLID_MAX    0xffef
#define DN_TGT_MAX_NSID	     1024	 /* Identify NN and MNAN */
#define DN_TGT_AERL	     4		 /* AERs held per controller (Identify AERL + 1) */
#define DN_TGT_ERR_LOG_SLOTS 8		 /* error log entries kept per controller (ELPE + 1) */
#define DN_TGT_DISC_KATO_MS  120000	 /* discovery controller connected with KATO 0 */
#define DN_TGT_KAS	     10		 /* keep-alive granularity: 100 ms units, so 1 s */
#define DN_TGT_CAP_TO	     15		 /* CAP.TO: 500 ms units the host waits for RDY */
#define DN_TGT_VS	     0x00010300u /* NVMe 1.3 */
#define DN_TGT_FR	     "0.1"

/* dn_tgt_queue.core_flags */
#define DN_QF_DELETING (1u << 0) /* ops->delete_queue was called */

struct dn_tgt_subsys;

/* Reservations (pr.c): one namespace's registrants and reservation, under lock. */
#define DN_TGT_PR_MAX_REGS 64 /* hosts registered with one namespace */
struct dn_tgt_pr_reg {
	uint8_t hostid[16];
	uint64_t rkey;
};
struct dn_tgt_pr {
	pthread_mutex_t lock;
	/* 0: no reservation; read by the I/O path without the lock, written under it */
	_Atomic uint8_t rtype;
	int holder; /* index in regs of the holder (any registrant for All Registrants types) */
	unsigned int nr_regs;
	struct dn_tgt_pr_reg regs[DN_TGT_PR_MAX_REGS];
	uint32_t gen;	  /* Reservation Report's generation */
	bool draining;	  /* a Preempt and Abort is waiting for an epoch to drain */
	bool handed_over; /* a reload gave these to the namespace's successor */
	/* the namespace object these were handed over from, while it lives (its commands) */
	struct dn_tgt_ns *pred;
	char *ptpl_file;	      /* where they persist (config ptpl_file), or NULL */
	bool ptpl;		      /* Persist Through Power Loss: kept in ptpl_file */
	_Atomic uint32_t notify_mask; /* Set Features Reservation Notification Mask */
};

/* A namespace: one backend object. Counters are updated by poll-group threads. */
struct dn_tgt_ns {
	struct dn_tgt_subsys *subsys;
	uint32_t nsid;
	char *path;
	bool read_only;
	const struct dn_tgt_backend_ops *be;
	/* filled by be->open() */
	uint64_t nlbas;
	uint8_t lba_shift;
	uint8_t dlfeat;	       /* Identify Namespace DLFEAT the backend can honour */
	_Atomic bool wz_punch; /* write zeroes falls back to punching holes */
	int fd;		       /* O_DIRECT when possible, else buffered */
	int fd_buffered;       /* for buffers O_DIRECT cannot take; == fd when buffered */
	uint32_t dio_align;    /* alignment O_DIRECT needs, 0 when fd is buffered */
	bool is_blkdev;
	bool mem_backed;  /* tmpfs: reads and writes are copies, done inline */
	uint8_t *mem_map; /* tmpfs: the file mapped, copied with memcpy (NULL: pread/pwrite) */
	size_t mem_len;
	_Atomic bool mem_fault_logged;
	uint32_t pt_nsid; /* passthrough: the device's namespace id */
	struct dn_tgt_pr pr;
	uint8_t nguid[16];
	uint8_t uuid[16];
	uint8_t eui64[8];
	/*
	 * I/O commands holding req->ns, counted in two slots by epoch: a Reservation Acquire
	 * (Preempt and Abort) moves the epoch on and waits for the old slot to drain (pr.c).
	 */
	_Atomic unsigned int inflight[2];
	_Atomic unsigned int inflight_epoch;
	struct dn_tgt_ns *retired_next; /* removed by reload, freed once idle */
	uint64_t retired_ms;
	/* SMART counters */
	_Atomic uint64_t units_read, units_written; /* 512-byte units */
	_Atomic uint64_t read_cmds, write_cmds;
};

/* What a host may do in a subsystem. */
struct dn_tgt_subsys {
	char nqn[NVME_NQN_LENGTH];
	char serial[21];
	char model[41];
	bool is_discovery;
	bool allow_any_host;
	char (*hosts)[NVME_NQN_LENGTH];
	size_t nr_hosts;
	/* namespaces by nsid; the pointer is read by poll-group threads without the lock */
	struct dn_tgt_ns *_Atomic ns[DN_TGT_MAX_NSID + 1];
	struct dn_tgt_ctrl *ctrls;	    /* under dn_tgt.lock */
	struct dn_tgt_subsys *retired_next; /* removed by reload, freed once no controller */
	uint16_t next_cntlid;
};

/* Reservation notifications waiting for Get Log Page 0x80, oldest first. */
#define DN_TGT_PR_LOG_SLOTS 16
struct dn_tgt_pr_log_entry {
	uint64_t count;
	uint8_t type; /* NVME_RESV_NOTIFY_RNLPT_* */
	uint32_t nsid;
};
struct dn_tgt_pr_log {
	uint64_t count; /* Log Page Count of the last notification made */
	unsigned int head, nr;
	struct dn_tgt_pr_log_entry ent[DN_TGT_PR_LOG_SLOTS];
};

struct dn_tgt_err_entry {
	uint64_t count;
	uint16_t sqid, cid, status;
	uint32_t nsid;
	uint64_t lba;
};

/* A controller: one host's association with one subsystem; all fields under dn_tgt.lock
 * unless said otherwise. */
struct dn_tgt_ctrl {
	struct dn_tgt_subsys *subsys;
	struct dn_tgt_ctrl *next; /* in subsys->ctrls */
	struct dn_tgt_port *port;
	uint16_t cntlid;
	char hostnqn[NVME_NQN_LENGTH];
	uint8_t hostid[16];
	char peer[64];
	_Atomic uint32_t cc, csts; /* read without the lock by dn_req_init() */
	bool dying;
	/* queues by qid; nr_queues counts the non-NULL ones */
	struct dn_tgt_queue *queues[1 + DN_TGT_MAX_IO_QUEUES];
	unsigned int nr_queues;
	unsigned int msgs_in_flight; /* dn_pg_send_msg() calls not yet run */
	uint16_t nr_io_queues;	     /* granted by Set Features Number of Queues */
	/* keep-alive */
	uint32_t kato_ms;
	uint64_t ka_last_ms;	 /* monotonic: last Keep Alive or traffic seen */
	_Atomic bool ka_traffic; /* poll-group threads set it; the tick clears it */
	/* asynchronous events */
	uint32_t aen_cfg; /* Set Features Asynchronous Event Configuration */
	struct dn_tgt_req *aer[DN_TGT_AERL];
	unsigned int nr_aer;
	uint32_t aen_pending[8]; /* CQE DW0 values waiting for an AER */
	unsigned int nr_aen_pending;
	uint32_t aen_masked; /* 1 << log page id: sent, until that log is read */
	uint32_t changed_ns[DN_TGT_MAX_NSID];
	struct dn_tgt_pr_log pr_log;
	unsigned int nr_changed_ns; /* > DN_TGT_MAX_NSID: overflowed */
	/* errors, any thread, under err_lock (errors are rare, the I/O path does not lock) */
	pthread_mutex_t err_lock;
	uint64_t err_count;
	struct dn_tgt_err_entry err_log[DN_TGT_ERR_LOG_SLOTS];
	/* Features the host sets and reads back */
	uint32_t feat_arbitration, feat_power_mgmt, feat_temp_thresh, feat_err_recovery;
};

/* Process-wide state of the core. */
struct dn_tgt_state {
	pthread_mutex_t lock; /* control plane: subsystems, controllers, AEN state */
	struct dn_tgt_port *ports;
	size_t nr_ports;
	struct dn_tgt_subsys **subsys; /* [0] is the discovery subsystem */
	size_t nr_subsys;
	uint64_t disc_genctr;
	_Atomic unsigned int live_queues;
	struct dn_tgt_ns *retired_ns;	      /* main thread only */
	struct dn_tgt_subsys *retired_subsys; /* main thread only */
	uint64_t start_ms;
	/* the configuration's limits (dn_tgt_max_xfer/_queue_size); 0: the largest */
	uint32_t max_xfer;
	uint16_t max_queue_size;
};

extern struct dn_tgt_state dn_tgt;

/* ctrl.c */
struct dn_tgt_ctrl *dn_tgt_ctrl_create(struct dn_tgt_subsys *subsys, struct dn_tgt_queue *q,
				       const struct nvmf_connect_data *d, uint32_t kato_ms);
void dn_tgt_ctrl_kill(struct dn_tgt_ctrl *ctrl, const char *why);
void dn_tgt_ctrl_kill_locked(struct dn_tgt_ctrl *ctrl, const char *why, struct dn_tgt_queue **del,
			     unsigned int *nr_del);
void dn_tgt_ctrl_record_error(struct dn_tgt_req *req, nvme_status_t status);
void dn_tgt_ctrl_add_aen(struct dn_tgt_ctrl *ctrl, uint8_t type, uint8_t info, uint8_t lid);
void dn_tgt_ctrl_ns_changed(struct dn_tgt_ctrl *ctrl, uint32_t nsid);
void dn_tgt_ctrl_kick_aen(struct dn_tgt_ctrl *ctrl);
void dn_tgt_ctrl_aer_abort_all(struct dn_tgt_ctrl *ctrl);

/* subsys.c */
struct dn_tgt_subsys *dn_tgt_subsys_find(const char *nqn);
bool dn_tgt_subsys_host_allowed(const struct dn_tgt_subsys *s, const char *hostnqn);
static inline struct dn_tgt_ns *dn_tgt_ns_lookup(struct dn_tgt_subsys *s, uint32_t nsid)
{
	if (nsid == 0 || nsid > DN_TGT_MAX_NSID)
		return NULL;
	return atomic_load_explicit(&s->ns[nsid], memory_order_acquire);
}
void dn_tgt_derive_ids(const char *subnqn, uint32_t nsid, uint8_t nguid[16], uint8_t uuid[16],
		       uint8_t eui64[8]);
const struct dn_tgt_backend_ops *dn_tgt_backend_for(const char *path);
void dn_tgt_reap_retired(bool all);

/* Command parsers: return 0 with req->execute/dir/data_len set, or the status to fail with. */
nvme_status_t dn_tgt_parse_fabrics(struct dn_tgt_req *req);
nvme_status_t dn_tgt_parse_admin(struct dn_tgt_req *req);
nvme_status_t dn_tgt_parse_io(struct dn_tgt_req *req);
nvme_status_t dn_tgt_parse_discovery_admin(struct dn_tgt_req *req);

/* pr.c */
void dn_tgt_pr_init(struct dn_tgt_pr *pr);
void dn_tgt_pr_destroy(struct dn_tgt_pr *pr);
/* Main thread, opening a namespace: its reservations from ptpl_file (NULL: none kept). */
int dn_tgt_pr_load(struct dn_tgt_ns *ns, const char *ptpl_file);
/* The same from the file's text (untrusted: every field checked; a fuzz target's entry) */
int dn_tgt_pr_load_text(struct dn_tgt_ns *ns, const char *file, const char *text, size_t len);
/*
 * Main thread, reload, before `to` is published in from's place: from's registrations and
 * reservation move to `to`; from refuses Reservation commands from now on (Namespace Not
 * Ready, retryable), so only `to` changes them or writes their ptpl_file.
 */
void dn_tgt_pr_hand_over(struct dn_tgt_ns *from, struct dn_tgt_ns *to);
/* Main thread, before a retired namespace is freed: ns no longer points at gone (if it did). */
void dn_tgt_pr_forget_pred(struct dn_tgt_ns *ns, const struct dn_tgt_ns *gone);
/* Reservation Persistence (Get/Set Features 83h) */
bool dn_tgt_pr_get_ptpl(struct dn_tgt_ns *ns);
nvme_status_t dn_tgt_pr_set_ptpl(struct dn_tgt_ns *ns, bool on);
nvme_status_t dn_tgt_pr_parse(struct dn_tgt_req *req);
nvme_status_t dn_tgt_pr_check(struct dn_tgt_req *req, bool write);
nvme_status_t dn_tgt_pr_set_notify_mask(struct dn_tgt_subsys *s, uint32_t nsid, uint32_t mask);
nvme_status_t dn_tgt_pr_get_notify_mask(struct dn_tgt_subsys *s, uint32_t nsid, uint32_t *mask);
void dn_tgt_pr_log_read(struct dn_tgt_ctrl *ctrl, bool rae, struct nvme_resv_notification_log *log);

/* admin_cmd.c, shared with discovery_ctrl.c */
void dn_tgt_fill_id_ctrl_common(struct dn_tgt_req *req, struct nvme_id_ctrl *id);
void dn_tgt_copy_padded(char *dst, size_t n, const char *src);
uint64_t dn_tgt_log_offset(const struct nvme_sqe *sqe);
void dn_tgt_exec_keep_alive(struct dn_tgt_req *req);
void dn_tgt_exec_aer(struct dn_tgt_req *req);
nvme_status_t dn_tgt_parse_get_log(struct dn_tgt_req *req);
nvme_status_t dn_tgt_parse_features(struct dn_tgt_req *req, bool discovery);
void dn_tgt_exec_features(struct dn_tgt_req *req);

/* discovery_ctrl.c */
void dn_tgt_exec_disc_log(struct dn_tgt_req *req);

/* backends */
extern const struct dn_tgt_backend_ops dn_tgt_backend_file;
extern const struct dn_tgt_backend_ops dn_tgt_backend_passthru;

/* CDW10..CDW15 of a command, in host order. */
static inline uint32_t dn_sqe_cdw(const struct nvme_sqe *sqe, int n)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)sqe + 40 + 4 * (n - 10), sizeof(v));
	return le32toh(v);
}

/*
 * backend_file.c: the SIGBUS handler that turns a fault in a mapped tmpfs namespace (its file
 * truncated under the target) into an I/O error. Installed when a namespace is mapped; a
 * test harness that installs its own handlers per test calls it again.
 */
void dn_file_sigbus_install(void);

#endif
