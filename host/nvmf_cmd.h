/* SPDX-License-Identifier: MIT */
/*
 * The host's NVMe command encoders: every submission queue entry the initiator sends (fabrics
 * Connect/Property Get/Set, the admin commands it needs, the I/O commands a ublk request maps
 * to), built byte for byte into a zeroed SQE. The transport fills in CID and the data pointer.
 */
#ifndef DISNVME_HOST_NVMF_CMD_H
#define DISNVME_HOST_NVMF_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/nvme_wire.h"

void dn_sqe_connect(struct nvme_sqe *c, uint16_t qid, uint16_t qsize, uint32_t kato_ms);
/* -EINVAL when an NQN does not fit its 256-byte field */
int dn_connect_data_init(struct nvmf_connect_data *d, const uint8_t hostid[16], uint16_t cntlid,
			 const char *subnqn, const char *hostnqn);
void dn_sqe_prop_get(struct nvme_sqe *c, uint32_t offset, bool eight_bytes);
void dn_sqe_prop_set(struct nvme_sqe *c, uint32_t offset, uint32_t value);

void dn_sqe_identify(struct nvme_sqe *c, uint8_t cns, uint32_t nsid);
/* len: bytes, a multiple of 4 */
void dn_sqe_get_log(struct nvme_sqe *c, uint8_t lid, uint32_t nsid, uint64_t offset, uint32_t len);
void dn_sqe_set_features(struct nvme_sqe *c, uint8_t fid, uint32_t cdw11);
void dn_sqe_keep_alive(struct nvme_sqe *c);
void dn_sqe_async_event(struct nvme_sqe *c);

/* nlb: number of logical blocks (1-based here, encoded 0's based) */
void dn_sqe_rw(struct nvme_sqe *c, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb);
void dn_sqe_flush(struct nvme_sqe *c, uint32_t nsid);
void dn_sqe_write_zeroes(struct nvme_sqe *c, uint32_t nsid, uint64_t slba, uint32_t nlb);
/* Dataset Management, deallocate, nr ranges (1-based) */
void dn_sqe_dsm_deallocate(struct nvme_sqe *c, uint32_t nsid, uint32_t nr);
void dn_dsm_range_set(struct nvme_dsm_range *r, uint64_t slba, uint32_t nlb);
/* Reservation Register, Acquire, Release or Report with its two command dwords */
void dn_sqe_resv(struct nvme_sqe *c, uint8_t opcode, uint32_t nsid, uint32_t cdw10, uint32_t cdw11);

/* Number of Queues feature: cdw11 for n I/O queues, and the count granted in a result */
uint32_t dn_num_queues_cdw11(uint16_t n);
uint16_t dn_num_queues_granted(uint32_t result);

#endif
