/* SPDX-License-Identifier: MIT */
/*
 * A fake transport and a fake poll group for the target core's unit tests: capsules go
 * through the real dn_req_init/dn_req_execute, "data phases" are memcpy, responses are
 * recorded, backend I/O runs on a real io_uring, poll-group messages run when the test
 * pumps them.
 */
#ifndef DISNVME_TESTS_UNIT_TARGET_HARNESS_H
#define DISNVME_TESTS_UNIT_TARGET_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "target/core_internal.h"

#define H_HOSTNQN   "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"
#define H_HOSTNQN2  "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000002"
#define H_SUBNQN    "nqn.2024-01.io.disnvme:test"
#define H_NS_BYTES  (4u << 20) /* 8192 blocks of 512 bytes */
#define H_INCAPSULE 8192

struct h_queue {
	struct dn_tgt_queue q;
	unsigned int deleted; /* ops->delete_queue calls */
};

struct h_result {
	nvme_status_t status;
	struct nvme_cqe cqe;
	bool done;
	uint32_t data_len; /* C2H bytes the "transport" would send */
};

extern const struct dn_tgt_transport_ops h_ops;
extern uint8_t *h_data; /* the request's data buffer (DN_TGT_MAX_XFER, 4096-aligned) */
extern char h_ns_path[64];
extern const char *h_ns_dir; /* where h_target_up() makes the backing file; /tmp by default */
/* Limits h_target_up() configures (max_io_size, max_queue_depth); 0: the largest */
extern uint32_t h_max_io_size;
extern uint16_t h_max_queue_depth;
/*
 * The fake transport's send_from: it answers h_send_from_ret (h_target_up() sets -EOPNOTSUPP:
 * the backend copies) and, on 0, keeps the memory the read data would be sent from.
 */
extern int h_send_from_ret;
extern void *h_sent_from;
extern unsigned int h_send_from_calls;
/* When set, h_target_up() exports this path as the namespace instead of a fresh file. */
extern const char *h_ns_device;
/* When set, h_target_up() keeps the namespace's reservations in this file (ptpl_file). */
extern const char *h_ns_ptpl_file;
/* When set, h_target_up() returns with h_setup_result instead of asserting dn_tgt_setup() is 0 */
extern bool h_setup_may_fail;
extern int h_setup_result;

/* Target with one subsystem H_SUBNQN, one namespace (a fresh temp file, or h_ns_device), hosts
 * as given. */
void h_target_up(const char *const *hosts, size_t nr_hosts);
void h_target_down(void);

/* A queue that lives until h_target_down() (the core keeps pointers to it). */
struct h_queue *h_q(void);
void h_queue_init(struct h_queue *hq, uint16_t qid, uint16_t size);
/* Send a capsule; data (len bytes, H2C) arrives keyed unless inline; runs it to completion. */
struct h_result h_submit(struct h_queue *hq, const struct nvme_sqe *sqe, const void *data,
			 uint32_t len);
/* Fill a keyed SGL for len bytes into sqe (PSDT SGL). */
void h_sgl_keyed(struct nvme_sqe *sqe, uint32_t len);
void h_sgl_inline(struct nvme_sqe *sqe, uint32_t len);
/* Read/Write/Compare of nlb blocks of 1 << lba_shift bytes at slba, CID 7, keyed data. */
struct nvme_sqe h_rw_sqe(uint8_t opcode, uint32_t nsid, uint64_t slba, uint32_t nlb,
			 unsigned int lba_shift);

/* Dataset Management, deallocate, nr_ranges ranges (NR + 1), CID 7: data_len bytes of ranges
 * in the capsule or keyed. */
struct nvme_sqe h_dsm_sqe(uint32_t nsid, uint32_t nr_ranges, uint32_t data_len, bool inline_data);

/* An admin command (CID 9): nsid, CDW10, CDW11, and len bytes of keyed data, or none. */
struct nvme_sqe h_admin_sqe(uint8_t opcode, uint32_t nsid, uint32_t cdw10, uint32_t cdw11,
			    uint32_t len);

struct nvme_sqe h_connect_sqe(uint16_t qid, uint16_t sqsize, uint32_t kato);
/*
 * The host identifier every Connect carries (h_connect_data, so h_admin_up and h_io_connect):
 * 16 bytes of 0x11 while NULL; tests of several hosts point it at their own 16 bytes.
 * h_target_up() sets it back to NULL.
 */
extern const uint8_t *h_hostid;
void h_connect_data(struct nvmf_connect_data *d, const char *subnqn, const char *hostnqn,
		    uint16_t cntlid);
/* Connect + enable (CC.EN) an admin queue; returns the cntlid. */
uint16_t h_admin_up(struct h_queue *hq, const char *subnqn, const char *hostnqn);
struct h_result h_io_connect(struct h_queue *hq, uint16_t qid, uint16_t cntlid, const char *subnqn,
			     const char *hostnqn);
struct h_result h_prop_set(struct h_queue *hq, uint32_t off, uint64_t val, bool eight);
struct h_result h_prop_get(struct h_queue *hq, uint32_t off, bool eight);
/* Run queued poll-group messages; returns how many ran. */
unsigned int h_pump_msgs(void);
/* Responses sent so far for requests still held (AERs) land here. */
extern struct h_result h_async[8];
extern unsigned int h_nr_async;

#endif
