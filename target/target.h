/* SPDX-License-Identifier: MIT */
/*
 * The target core as the disnvme-target program sees it: configuration (quick-start arguments
 * or a JSON file), setup and shutdown of ports, subsystems and namespaces, the ports a
 * transport listens on, the once-a-second tick (keep-alive expiry) and reload. Request-level
 * calls between the core and a transport are in target/core.h.
 *
 * Threading: everything here is called from the main thread. The core takes its own control
 * lock where it shares state with poll-group threads (Connect, controller teardown).
 */
#ifndef DISNVME_TARGET_TARGET_H
#define DISNVME_TARGET_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/core.h"

/*
 * Limits the transport must honour when it sizes its queues and buffers.
 * DN_TGT_MAX_XFER: every request's data buffer (req->data_cap) must hold at least this many
 * bytes; it is the MDTS advertised to hosts, and longer transfers are refused by the core.
 * DN_TGT_MAX_QUEUE_SIZE: entries of an I/O queue (CAP.MQES + 1); an RDMA CM request asking for
 * more should be rejected with NVME_RDMA_CM_INVALID_HSQSIZE/HRQSIZE. Admin queues: at most
 * NVME_AQ_DEPTH_MAX entries (common/nvme_wire.h).
 * DN_TGT_MAX_IO_QUEUES: I/O queues per controller (qid 1..DN_TGT_MAX_IO_QUEUES).
 * DN_TGT_INCAPSULE_MIN: the core parses up to this many in-capsule bytes on admin queues
 * (Connect data is 1024); I/O queues accept ops->max_incapsule.
 */
#define DN_TGT_MAX_XFER	      (128u * 1024)
#define DN_TGT_MAX_QUEUE_SIZE 128
#define DN_TGT_MAX_IO_QUEUES  64
#define DN_TGT_INCAPSULE_MIN  8192

/* A port: where a transport listens. The core owns it; the transport may hang its listener
 * on transport_priv. Also the `port` argument of ops->disc_tsas(). */
struct dn_tgt_port {
	uint16_t portid;
	uint8_t trtype;			 /* NVMF_TRTYPE_* */
	uint8_t adrfam;			 /* NVMF_ADDR_FAMILY_IP4 / _IP6 */
	char traddr[NVMF_TRADDR_SIZE];	 /* NUL-terminated */
	char trsvcid[NVMF_TRSVCID_SIZE]; /* NUL-terminated, "4420" by default */
	void *transport_priv;
};

/* ---- configuration (config.c) ---- */

struct dn_tgt_ns_config {
	uint32_t nsid;
	char *path; /* regular file, block device, or /dev/ngXnY (passthrough) */
	bool read_only;
	/*
	 * Optional: where the namespace's reservations are kept so that they persist through a
	 * restart (Persist Through Power Loss), as SPDK's ptpl_file. NULL: they do not.
	 */
	char *ptpl_file;
	/* identifiers: when not configured (has_* false), derived from subsystem NQN + nsid */
	bool has_nguid, has_uuid, has_eui64;
	uint8_t nguid[16];
	uint8_t uuid[16];
	uint8_t eui64[8];
};

struct dn_tgt_subsys_config {
	char nqn[NVME_NQN_LENGTH];
	char serial[21]; /* Identify SN, 20 ASCII characters at most */
	char model[41];	 /* Identify MN, 40 ASCII characters at most */
	bool allow_any_host;
	char (*hosts)[NVME_NQN_LENGTH];
	size_t nr_hosts;
	struct dn_tgt_ns_config *ns;
	size_t nr_ns;
};

/* data_buffers_mib: 1..DN_TGT_DATA_BUFFERS_MIB_MAX (65536 buffers of DN_TGT_MAX_XFER) */
#define DN_TGT_DATA_BUFFERS_MIB_MAX 8192u

struct dn_tgt_config {
	char *source; /* file name, or "command line": for messages */
	/* registered data buffers per RDMA device and poll group, MiB; 0: the transport's
	 * default. Read at startup only (a reload does not resize them). */
	unsigned int data_buffers_mib;
	/*
	 * Smaller limits than the largest ones above (SPDK's transport options of the same
	 * names); 0: the largest. Read at startup only. max_io_size: bytes one command may
	 * move, the MDTS offered: a power of two, 8192..DN_TGT_MAX_XFER (one 4 KiB page would
	 * be MDTS 0, which means no limit). max_queue_depth: I/O queue entries, CAP.MQES + 1:
	 * 2..DN_TGT_MAX_QUEUE_SIZE.
	 */
	uint32_t max_io_size;
	uint16_t max_queue_depth;
	struct dn_tgt_port *ports;
	size_t nr_ports;
	struct dn_tgt_subsys_config *subsys;
	size_t nr_subsys;
};

/*
 * Quick start: one port, one subsystem with namespaces 1..nr_ns, any host when nr_hosts is 0.
 * trtype "rdma"; trsvcid NULL means "4420". Fills *cfg (free with dn_tgt_config_free()).
 * Returns 0 or -errno after logging what is wrong with which argument.
 */
int dn_tgt_config_from_args(struct dn_tgt_config *cfg, const char *trtype, const char *traddr,
			    const char *trsvcid, const char *subnqn, const char *const *ns_paths,
			    size_t nr_ns, const char *const *hosts, size_t nr_hosts);
/*
 * Load a JSON configuration (format: etc/disnvme-target.json, docs/target-core.md). Returns 0,
 * or -errno after logging "FILE: FIELD: PROBLEM"; *cfg is then empty.
 */
int dn_tgt_config_load(struct dn_tgt_config *cfg, const char *path);
void dn_tgt_config_free(struct dn_tgt_config *cfg);

/* ---- lifetime (subsys.c, ctrl.c) ---- */

/*
 * Create the ports, subsystems and namespaces (opening every backend). On error nothing is
 * left behind and -errno is returned after logging why.
 */
int dn_tgt_setup(const struct dn_tgt_config *cfg);
/*
 * Ask every controller to go away (ops->delete_queue on each of their queues). Returns the
 * number of queues still alive: the main loop keeps running the transport until it is 0,
 * (dn_tgt_live_queues()), then calls dn_tgt_cleanup().
 */
unsigned int dn_tgt_shutdown(void);
unsigned int dn_tgt_live_queues(void);
/* Close backends and free ports and subsystems. Only after every queue is destroyed. */
void dn_tgt_cleanup(void);

/*
 * Apply a new configuration while running: namespaces added or removed in existing
 * subsystems (hosts get a Namespace Attribute Changed event), subsystems and hosts added or
 * removed (discovery controllers get a Discovery Log Changed event). Ports must not change.
 * Returns 0 or -errno (nothing changed).
 */
int dn_tgt_reload(const struct dn_tgt_config *cfg);

/* The limits in force (the configuration's, else the largest): bytes per command (MDTS),
 * entries per I/O queue. Any thread. */
uint32_t dn_tgt_max_xfer(void);
uint8_t dn_tgt_mdts(void); /* dn_tgt_max_xfer() as Identify's MDTS: 2^n pages of 4 KiB */
uint16_t dn_tgt_max_queue_size(void);

/* Ports to listen on, in configuration order: for (i = 0; i < n; i++) dn_tgt_port_at(i). */
size_t dn_tgt_nr_ports(void);
struct dn_tgt_port *dn_tgt_port_at(size_t i);

/*
 * Data buffers: req->data must be aligned to 4096 bytes and hold DN_TGT_MAX_XFER bytes so the
 * backends can use O_DIRECT on it (an unaligned buffer, e.g. in-capsule data left in the
 * receive buffer, still works: the backend then uses a buffered descriptor).
 *
 * Queue lifecycle: dn_tgt_queue_init() -> capsules (dn_req_init() ...) -> the core calls
 * ops->delete_queue() exactly once (controller teardown, or dn_tgt_queue_lost() from the
 * transport, which is also how the transport closes a queue that never connected) -> the
 * transport drains and calls dn_tgt_queue_destroyed().
 *
 * Any thread. The transport calls this once for each new queue (after the RDMA CM request
 * was accepted, before the first capsule): qid from the CM private data, size = entries the
 * queue holds (hsqsize + 1), peer for log lines. Every initialised queue must end with
 * dn_tgt_queue_destroyed() (core.h); dn_tgt_live_queues() counts those in between.
 */
void dn_tgt_queue_init(struct dn_tgt_queue *q, const struct dn_tgt_transport_ops *ops,
		       struct dn_tgt_port *port, struct dn_poll_group *pg, uint16_t qid,
		       uint16_t size, const char *peer);

/*
 * Main thread, about once a second: controllers whose keep-alive timer expired are torn down
 * (ops->delete_queue on each queue, one log line).
 */
void dn_tgt_tick(void);

#endif
